/*
 * test_trace.c - trace-id extraction (src/traceid.c) in every mode: ids of hand-written lines,
 * the same id however a line is cut (every split point, byte by byte, three pieces), through
 * a snapshot or a copy taken mid-line, and for a whole line at once (record mode); memory
 * back to where it was at each line end; damaged snapshots refused or harmless.
 */
#include "test.h"
#include "traceid.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* A string literal that may hold NUL bytes, as (data, length). */
#define LINE(s) s, sizeof(s) - 1

static weir__trace_cfg_t *mk(uint32_t mode, const char *arg, uint32_t max_line)
{
    weir__trace_cfg_t *cfg = NULL;
    char err[256];
    if (weir__trace_cfg_new(mode, arg, max_line, &cfg, err, sizeof err) != 0)
        fprintf(stderr, "  cannot make trace cfg %u %s: %s\n", (unsigned)mode, arg ? arg : "", err);
    return cfg;
}

/* An id kept past the next call: have = 0 for none. */
typedef struct got {
    int have;
    char id[WEIR__TRACE_MAX + 1];
} got_t;

static got_t keep(const char *id)
{
    got_t g = {id != NULL, ""};
    if (id)
        strcpy(g.id, id);
    return g;
}

static int same(got_t g, const char *want)
{
    return want ? g.have && strcmp(g.id, want) == 0 : !g.have;
}

static const char *show(const got_t *g)
{
    return g->have ? g->id : "(none)";
}

/* Feeds line[0..len) cut before each cuts[k], ends it, checks that the memory charged to the
   stream is back to 0 and returns the id. */
static got_t run_cuts_with(const weir__trace_cfg_t *cfg, weir__trace_pool_t *feed_pool,
                           weir__trace_pool_t *pool, const uint8_t *line, size_t len,
                           const size_t *cuts, size_t ncuts, int *mem_ok)
{
    weir__trace_t t = {0};
    weir__mem_t mem = {0};
    size_t from = 0;
    int ok = 1;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t to = k < ncuts ? cuts[k] : len;
        if (weir__trace_feed(&t, cfg, feed_pool, &mem, line + from, to - from) != 0)
            ok = 0;
        from = to;
    }
    got_t g = keep(weir__trace_end_line(&t, cfg, pool, &mem));
    *mem_ok = ok && mem.bytes == 0 && weir__trace_idle(&t);
    return g;
}

static got_t run_cuts(const weir__trace_cfg_t *cfg, weir__trace_pool_t *pool, const uint8_t *line,
                      size_t len, const size_t *cuts, size_t ncuts, int *mem_ok)
{
    return run_cuts_with(cfg, pool, pool, line, len, cuts, ncuts, mem_ok);
}

/*
 * Checks every way of feeding line: of_line (from an exact-size copy, so that ASan sees any
 * over-read), whole, byte by byte, each split point with and without the pool, a snapshot and
 * a copy at each split point, and (short lines) every three-piece cut.  Returns 1 on failure.
 */
static int check_line(const weir__trace_cfg_t *cfg, const void *data, size_t len, const char *want)
{
    weir__trace_pool_t pool = {0};
    uint8_t *line = malloc(len ? len : 1);
    memcpy(line, data, len);
    int fails = 0, mem_ok;
    got_t g = keep(weir__trace_of_line(cfg, &pool, line, len));
    if (!same(g, want)) {
        T__FAIL("of_line(\"%.*s\"): got %s, want %s", (int)len, (const char *)data, show(&g),
                want ? want : "(none)");
        fails++;
    }
    g = run_cuts(cfg, &pool, line, len, NULL, 0, &mem_ok);
    if (!same(g, want) || !mem_ok) {
        T__FAIL("whole \"%.*s\": got %s, want %s, memory %s", (int)len, (const char *)data,
                show(&g), want ? want : "(none)", mem_ok ? "ok" : "left over");
        fails++;
    }
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    g = run_cuts(cfg, &pool, line, len, cuts, len ? len - 1 : 0, &mem_ok);
    if (!same(g, want) || !mem_ok) {
        T__FAIL("byte by byte \"%.*s\": got %s", (int)len, (const char *)data, show(&g));
        fails++;
    }
    for (size_t i = 0; i <= len && !fails; i++) {
        /* Feeding may do without the pool (end_line needs one). */
        g = run_cuts_with(cfg, i % 2 ? &pool : NULL, &pool, line, len, &i, 1, &mem_ok);
        if (!same(g, want) || !mem_ok) {
            T__FAIL("cut at %zu of \"%.*s\": got %s", i, (int)len, (const char *)data, show(&g));
            fails++;
        }
        /* A snapshot mid-line, loaded from an exact-size buffer, then the rest. */
        weir__trace_t t = {0}, u = {0}, c = {0};
        weir__mem_t mem = {0}, mem2 = {0}, mem3 = {0};
        weir__wbuf_t w = {0};
        int ok = weir__trace_feed(&t, cfg, &pool, &mem, line, i) == 0;
        weir__trace_save(&t, &w);
        ok = ok && !w.oom && weir__trace_copy(&c, &t, &mem3) == 0 && mem3.bytes == mem.bytes;
        weir__trace_free(&t, &pool, &mem);
        ok = ok && mem.bytes == 0;
        uint8_t *snap = malloc(w.n ? w.n : 1);
        memcpy(snap, w.p, w.n);
        weir__rbuf_t r = {snap, w.n, 0, 0};
        ok = ok && weir__trace_load(&u, &r, cfg, &mem2) == WEIR_OK && r.pos == w.n;
        ok = ok && weir__trace_feed(&u, cfg, &pool, &mem2, line + i, len - i) == 0;
        g = keep(weir__trace_end_line(&u, cfg, &pool, &mem2));
        ok = ok && mem2.bytes == 0;
        if (!same(g, want) || !ok) {
            T__FAIL("snapshot at %zu of \"%.*s\": got %s, %s", i, (int)len, (const char *)data,
                    show(&g), ok ? "ok" : "error or memory left over");
            fails++;
        }
        ok = weir__trace_feed(&c, cfg, &pool, &mem3, line + i, len - i) == 0;
        g = keep(weir__trace_end_line(&c, cfg, &pool, &mem3));
        if (!same(g, want) || !ok || mem3.bytes != 0) {
            T__FAIL("copy at %zu of \"%.*s\": got %s", i, (int)len, (const char *)data, show(&g));
            fails++;
        }
        free(snap);
        free(w.p);
    }
    for (size_t i = 1; len <= 40 && i < len && !fails; i++) {
        for (size_t j = i + 1; j < len && !fails; j++) {
            size_t two[2] = {i, j};
            g = run_cuts(cfg, &pool, line, len, two, 2, &mem_ok);
            if (!same(g, want) || !mem_ok) {
                T__FAIL("cuts at %zu, %zu of \"%.*s\": got %s", i, j, (int)len, (const char *)data,
                        show(&g));
                fails++;
            }
        }
    }
    free(cuts);
    free(line);
    weir__trace_pool_free(&pool);
    if (pool.mem.bytes != 0) {
        T__FAIL("pool memory %zu after pool_free", pool.mem.bytes);
        fails++;
    }
    return fails;
}

struct want {
    const char *line;
    const char *id; /* NULL: none */
};

static void check_table(const weir__trace_cfg_t *cfg, const struct want *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_line(cfg, w[i].line, strlen(w[i].line), w[i].id);
}

/* ---- configuration ------------------------------------------------------------------------ */

TEST(state_is_small)
{
    ASSERT(sizeof(weir__trace_t) <= 16);
    weir__trace_t t = {0};
    ASSERT(weir__trace_idle(&t));
}

static int cfg_error(uint32_t mode, const char *arg, const char *want_part)
{
    weir__trace_cfg_t *cfg = (weir__trace_cfg_t *)1;
    char err[256] = "";
    int rc = weir__trace_cfg_new(mode, arg, 0, &cfg, err, sizeof err);
    if (rc != -1 || cfg != NULL || !strstr(err, want_part) || strchr(err, '\n')) {
        T__FAIL("mode %u arg %s: rc %d, err \"%s\", want \"%s\"", (unsigned)mode,
                arg ? arg : "(null)", rc, err, want_part);
        return 1;
    }
    return 0;
}

TEST(cfg_errors)
{
    cfg_error(7, NULL, "unknown trace mode 7");
    cfg_error(WEIR_TRACE_REGEX, "trace=(", "trace regex: unmatched ( or \\(");
    cfg_error(WEIR_TRACE_REGEX, "trace=[a-z]+", "trace regex: no capture group");
    cfg_error(WEIR_TRACE_REGEX, NULL, "trace regex: no regular expression given");
    cfg_error(WEIR_TRACE_JSON, NULL, "trace JSON field: no field name given");
    cfg_error(WEIR_TRACE_JSON, "", "trace JSON field: no field name given");
    cfg_error(WEIR_TRACE_JSON, ".a", "trace JSON field: a field name is empty in '.a'");
    cfg_error(WEIR_TRACE_JSON, "a.", "a field name is empty");
    cfg_error(WEIR_TRACE_JSON, "a..b", "a field name is empty");
    cfg_error(WEIR_TRACE_JSON, ".", "a field name is empty");
    const char *ok[][2] = {{"0", NULL}, {"0", "ignored ("}, {"3", NULL},
                           {"1", "a"},  {"1", "a.b.c"},     {"2", "id=([0-9]+)"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        weir__trace_cfg_t *cfg = NULL;
        char err[256] = "";
        uint32_t mode = (uint32_t)atoi(ok[i][0]);
        ASSERT_INT_EQ(weir__trace_cfg_new(mode, ok[i][1], 0, &cfg, err, sizeof err), 0);
        ASSERT(cfg != NULL);
        ASSERT_UINT_EQ(weir__trace_cfg_mode(cfg), mode);
        weir__trace_cfg_free(cfg);
    }
    weir__trace_cfg_free(NULL);
    /* A NULL or empty message buffer is fine. */
    weir__trace_cfg_t *cfg = NULL;
    ASSERT_INT_EQ(weir__trace_cfg_new(9, NULL, 0, &cfg, NULL, 0), -1);
    ASSERT(cfg == NULL);
}

TEST(public_check)
{
    char msg[128];
    ASSERT_INT_EQ(weir_trace_check(WEIR_TRACE_REGEX, "trace=(", msg, sizeof msg), WEIR_EINVAL);
    ASSERT_STR_EQ(msg, "unmatched ( or \\(");
    ASSERT_INT_EQ(weir_trace_check(WEIR_TRACE_REGEX, "x+", msg, sizeof msg), WEIR_EINVAL);
    ASSERT_STR_EQ(msg, "no capture group: put the trace id in ( )");
    ASSERT_INT_EQ(weir_trace_check(WEIR_TRACE_JSON, "a..b", msg, sizeof msg), WEIR_EINVAL);
    ASSERT_STR_EQ(msg, "a field name is empty in 'a..b'");
    ASSERT_INT_EQ(weir_trace_check(12, NULL, msg, sizeof msg), WEIR_EINVAL);
    ASSERT_STR_EQ(msg, "unknown trace mode 12");
    ASSERT_INT_EQ(weir_trace_check(WEIR_TRACE_REGEX, "id=([0-9]+)", msg, sizeof msg), WEIR_OK);
    ASSERT_STR_EQ(msg, "");
    ASSERT_INT_EQ(weir_trace_check(WEIR_TRACE_JSON, "req.id", msg, sizeof msg), WEIR_OK);
    ASSERT_INT_EQ(weir_trace_check(WEIR_TRACE_QUOTED, NULL, msg, sizeof msg), WEIR_OK);
    ASSERT_INT_EQ(weir_trace_check(WEIR_TRACE_NONE, NULL, NULL, 0), WEIR_OK);
    ASSERT_INT_EQ(weir_trace_check(WEIR_TRACE_JSON, "", NULL, 0), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_trace_check(WEIR_TRACE_QUOTED, NULL, NULL, 5), WEIR_EINVAL);
    /* A short buffer gets a cut, terminated message. */
    char tiny[6] = "xxxxx";
    ASSERT_INT_EQ(weir_trace_check(WEIR_TRACE_REGEX, "(", tiny, sizeof tiny), WEIR_EINVAL);
    ASSERT_STR_EQ(tiny, "unmat");
}

/* ---- QUOTED --------------------------------------------------------------------------------- */

TEST(quoted_ids)
{
    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_QUOTED, NULL, 0);
    ASSERT(cfg);
    static const struct want w[] = {
        {"a \"x\" b \"yy\" c", "yy"},
        {"no quotes at all", NULL},
        {"", NULL},
        {"\"unterminated", NULL},
        {"\"a\" then \"unterminated", "a"},
        {"say \\\"hi\\\" \"id-1\" end", "id-1"}, /* escaped quotes outside a string */
        {"\"a\\\"b\" x", "a\\\"b"},              /* kept as written, backslash included */
        {"\"\"", ""},                            /* an empty string is an id */
        {"\"x\" \\", "x"},                       /* a backslash ending the line */
        {"\"x\\\\\" \"y\"", "y"},                /* an escaped backslash closes nothing */
        {"\\\"x\" \"y\"", " "},                  /* the first quote is escaped */
        {"msg=\"Failed password\" trace=\"t-51b3\"", "t-51b3"},
    };
    check_table(cfg, w, sizeof w / sizeof w[0]);
    /* Bytes other than '"' and '\\', NUL included, are data. */
    check_line(cfg, LINE("x\0y \"id\" z\0"), "id");
    check_line(cfg, LINE("\"a\xff\x01\" \x80"), "a\xff\x01");
    weir__trace_cfg_free(cfg);
}

/* Memory is held only from the first quote of a line to its end, and only through mem. */
TEST(quoted_memory)
{
    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_QUOTED, NULL, 0);
    ASSERT(cfg);
    weir__trace_pool_t pool = {0};
    weir__trace_t t = {0};
    weir__mem_t mem = {0};
    ASSERT_INT_EQ(weir__trace_feed(&t, cfg, &pool, &mem, (const uint8_t *)"no quote yet", 12), 0);
    ASSERT(t.buf == NULL);
    ASSERT_UINT_EQ(mem.bytes, 0);
    ASSERT(!weir__trace_idle(&t));
    ASSERT_INT_EQ(weir__trace_feed(&t, cfg, &pool, &mem, (const uint8_t *)" \"q", 3), 0);
    ASSERT(t.buf != NULL);
    ASSERT(mem.bytes > 0);
    ASSERT_UINT_EQ(pool.mem.bytes, 0);
    ASSERT_INT_EQ(weir__trace_feed(&t, cfg, &pool, &mem, (const uint8_t *)"\" z", 3), 0);
    ASSERT_STR_EQ(weir__trace_end_line(&t, cfg, &pool, &mem), "q");
    ASSERT_UINT_EQ(mem.bytes, 0);
    ASSERT(weir__trace_idle(&t));
    ASSERT(pool.mem.bytes > 0); /* the buffer waits in the pool for the next line */
    /* An open quote at the line end: no id, and nothing held either. */
    ASSERT_INT_EQ(weir__trace_feed(&t, cfg, &pool, &mem, (const uint8_t *)"\"open", 5), 0);
    ASSERT(weir__trace_end_line(&t, cfg, &pool, &mem) == NULL);
    ASSERT_UINT_EQ(mem.bytes, 0);
    weir__trace_pool_free(&pool);
    weir__trace_cfg_free(cfg);
}

/* A naive reading of the quoted rule, byte by byte, to compare random lines against. */
static got_t quoted_reference(const uint8_t *p, size_t n, size_t max_line)
{
    got_t last = {0, ""};
    char cur[WEIR__TRACE_MAX + 1];
    size_t cur_len = 0;
    int in = 0, esc = 0;
    for (size_t i = 0; i < n && i < max_line; i++) {
        uint8_t b = p[i];
        int add = in;
        if (esc) {
            esc = 0;
        } else if (b == '\\') {
            esc = 1;
        } else if (b == '"') {
            add = 0;
            if (in) {
                memcpy(last.id, cur, cur_len);
                last.id[cur_len] = '\0';
                last.have = 1;
            }
            in = !in;
            cur_len = 0;
        }
        if (add && cur_len < WEIR__TRACE_MAX)
            cur[cur_len++] = (char)b;
    }
    return last;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Random lines of quotes, backslashes and JSON-ish bytes: the streamed id, with random cuts,
   equals of_line's in every mode, and for QUOTED also the naive reference's. */
TEST(random_lines)
{
    static const char alphabet[] = "\"\"\"\\\\ab {}[]:,tr=0-9e.\x01";
    const char *args[4] = {NULL, "tr", "tr=([a-z0-9]*)", NULL};
    uint64_t seed = 42;
    for (uint32_t mode = 0; mode < 4; mode++) {
        for (uint32_t max_line = 8; max_line <= 1024; max_line *= 8) {
            weir__trace_cfg_t *cfg = mk(mode, args[mode], max_line);
            ASSERT(cfg);
            weir__trace_pool_t pool = {0};
            for (int iter = 0; iter < 3000; iter++) {
                uint8_t line[700];
                size_t len = rng_next(&seed) % (iter % 10 == 0 ? sizeof line : 40);
                for (size_t i = 0; i < len; i++)
                    line[i] = (uint8_t)alphabet[rng_next(&seed) % (sizeof alphabet - 1)];
                if (mode == WEIR_TRACE_JSON && len > 1 && iter % 2) {
                    line[0] = '{';
                    memcpy(line + 1, "\"tr\":", len - 1 < 5 ? len - 1 : 5);
                }
                size_t cuts[8], ncuts = rng_next(&seed) % 8;
                for (size_t k = 0; k < ncuts; k++)
                    cuts[k] = len ? rng_next(&seed) % (len + 1) : 0;
                for (size_t k = 1; k < ncuts; k++) /* insertion sort */
                    for (size_t j = k; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                        size_t x = cuts[j];
                        cuts[j] = cuts[j - 1];
                        cuts[j - 1] = x;
                    }
                int mem_ok;
                got_t s = run_cuts(cfg, &pool, line, len, cuts, ncuts, &mem_ok);
                got_t o = keep(weir__trace_of_line(cfg, &pool, line, len));
                int agree = s.have == o.have && strcmp(s.id, o.id) == 0 && mem_ok;
                if (agree && mode == WEIR_TRACE_QUOTED) {
                    got_t r = quoted_reference(line, len, max_line);
                    agree = r.have == s.have && strcmp(r.id, s.id) == 0;
                }
                if (!agree) {
                    T__FAIL("mode %u max_line %u line \"%.*s\": streamed %s, of_line %s",
                            (unsigned)mode, (unsigned)max_line, (int)len, (const char *)line,
                            show(&s), show(&o));
                    break;
                }
            }
            weir__trace_pool_free(&pool);
            weir__trace_cfg_free(cfg);
        }
    }
}

/* ---- JSON ------------------------------------------------------------------------------------ */

TEST(json_ids)
{
    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_JSON, "trace", 0);
    ASSERT(cfg);
    static const struct want w[] = {
        {"{\"trace\":\"t-1\"}", "t-1"},
        {" { \"a\" : 1 , \"trace\" : \"t-2\" } ", "t-2"},
        {"{\"a\":{\"trace\":\"inner\"},\"trace\":\"outer\"}", "outer"},
        {"{\"a\":[1,{\"trace\":\"x\"},\"]}\",[[]]],\"trace\":\"t-3\"}", "t-3"},
        {"{\"msg\":\"say \\\"trace\\\": \\\"no\\\"\",\"trace\":\"t-4\"}", "t-4"},
        {"{\"trace\":\"a\\\"b\\\\c\\/d\\n\\t\"}", "a\"b\\c/d\n\t"},
        {"{\"trace\":\"\\u00e9\\u20AC\\ud83d\\ude00!\"}", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80!"},
        {"{\"trace\":\"\\ud800x\"}", "\xef\xbf\xbdx"}, /* a lone surrogate */
        {"{\"trace\":\"\\udc00\\ud800\\u0041\"}", "\xef\xbf\xbd\xef\xbf\xbd"
                                                  "A"},
        {"{\"trace\":\"\\q\"}", NULL}, /* not an escape */
        {"{\"trace\":\"\\u12g4\"}", NULL},
        {"{\"trace\":123}", "123"},
        {"{\"trace\": -1.5e+3 ,\"b\":2}", "-1.5e+3"},
        {"{\"trace\":0}", "0"},
        {"{\"trace\":true}", "true"},
        {"{\"trace\":false }", "false"},
        {"{\"trace\":null}", "null"},
        {"{\"trace\":01}", NULL},
        {"{\"trace\":1.}", NULL},
        {"{\"trace\":nope}", NULL},
        {"{\"trace\":12", NULL},         /* the number may go on */
        {"{\"trace\":{\"a\":1}}", NULL}, /* an object is not an id */
        {"{\"trace\":[\"x\"]}", NULL},
        {"{\"trace\":\"\"}", ""},
        {"{\"other\":\"x\"}", NULL},
        {"{}", NULL},
        {"{ }", NULL},
        {"", NULL},
        {"not json \"trace\":\"x\"", NULL},
        {"[\"trace\",\"x\"]", NULL},
        {"\"trace\"", NULL},
        {"{\"tr\\u0061ce\":\"escaped-key\"}", "escaped-key"},
        {"{\"trace\":\"x\"", "x"}, /* parsed only as far as the field */
        {"{\"trace\":\"x\" garbage", "x"},
        {"{\"trace\":\"x", NULL},                /* a string the line cuts */
        {"{\"first\":1 \"trace\":\"x\"}", NULL}, /* no comma */
        {"{\"trace\":\"first\",\"trace\":\"second\"}", "first"},
        {"{\"traces\":\"x\",\"trac\":\"y\",\"Trace\":\"w\",\"trace\":\"z\"}", "z"},
        {"{\"a\":[1},\"trace\":\"x\"}", NULL}, /* brackets that do not pair */
        {"{\"a\":{]},\"trace\":\"x\"}", NULL},
        {"{\"a\":,\"trace\":\"x\"}", NULL},
        {"{\"trace\":\"x\"}\r", "x"},
        {"\t{\r\"trace\"\t:\"x\"}", "x"},
        {"{\"a\":\"\\\\\",\"trace\":\"after-backslash\"}", "after-backslash"},
        {"{\"a\":\"{[\",\"b\":[{\"c\":[\"}\"]}],\"trace\":\"y\"}", "y"},
    };
    check_table(cfg, w, sizeof w / sizeof w[0]);
    /* NUL bytes inside a string are data (the id stops at one, being a C string). */
    check_line(cfg, LINE("{\"a\":\"\0\",\"trace\":\"n\0ul\"}"), "n");
    weir__trace_cfg_free(cfg);
}

TEST(json_path)
{
    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_JSON, "req.id", 0);
    ASSERT(cfg);
    static const struct want w[] = {
        {"{\"req\":{\"id\":\"deep\"}}", "deep"},
        {"{\"id\":\"top\",\"req\":{\"x\":[1,2],\"id\":42}}", "42"},
        {"{\"other\":{\"id\":\"no\"},\"req\":{\"id\":\"yes\"}}", "yes"},
        {"{\"req\":{\"id\":{\"x\":1}},\"id\":\"no\"}", NULL},
        {"{\"req\":\"a string\",\"id\":\"no\"}", NULL},
        {"{\"req\":[{\"id\":\"in an array\"}]}", NULL},
        {"{\"req\":{\"other\":1}}", NULL},
        {"{\"req.id\":\"a dotted name is a path\"}", NULL},
    };
    check_table(cfg, w, sizeof w / sizeof w[0]);
    weir__trace_cfg_free(cfg);
    cfg = mk(WEIR_TRACE_JSON, "a.b.c", 0);
    ASSERT(cfg);
    check_line(cfg, LINE("{\"a\":{\"b\":{\"c\":\"three\"}}}"), "three");
    weir__trace_cfg_free(cfg);
}

/* Objects nested deeper than the reader follows make the line "not JSON"; shallower ones are
   skipped whatever their depth. */
TEST(json_depth)
{
    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_JSON, "trace", 0);
    ASSERT(cfg);
    char line[4000];
    for (int depth = 500; depth <= 520; depth += 20) {
        size_t n = 0;
        n += (size_t)sprintf(line + n, "{\"a\":");
        for (int i = 0; i < depth; i++)
            n += (size_t)sprintf(line + n, i % 2 ? "{\"k\":" : "[");
        line[n++] = '1';
        for (int i = depth; i-- > 0;)
            line[n++] = i % 2 ? '}' : ']';
        n += (size_t)sprintf(line + n, ",\"trace\":\"deep\"}");
        weir__trace_pool_t pool = {0};
        const char *id = weir__trace_of_line(cfg, &pool, (const uint8_t *)line, n);
        if (depth <= 512)
            ASSERT_STR_EQ(id, "deep");
        else
            ASSERT(id == NULL);
    }
    weir__trace_cfg_free(cfg);
}

/* ---- REGEX ----------------------------------------------------------------------------------- */

TEST(regex_ids)
{
    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_REGEX, "trace=([a-z0-9-]+)", 0);
    ASSERT(cfg);
    static const struct want w[] = {
        {"a trace=t-1 b trace=t-2", "t-1"}, /* the first match */
        {"nothing here", NULL},
        {"", NULL},
        {"trace=", NULL},
        {"x trace=ABC trace=abc", "abc"},
    };
    check_table(cfg, w, sizeof w / sizeof w[0]);
    check_line(cfg, LINE("x\0y trace=n\0ul"), "n"); /* NUL bytes are searched past */
    weir__trace_cfg_free(cfg);

    cfg = mk(WEIR_TRACE_REGEX, "id=([0-9]*)", 0);
    ASSERT(cfg);
    check_line(cfg, LINE("id=x"), ""); /* a match, with an empty group */
    check_line(cfg, LINE("id=123 id=4"), "123");
    weir__trace_cfg_free(cfg);

    cfg = mk(WEIR_TRACE_REGEX, "(a)|b", 0);
    ASSERT(cfg);
    check_line(cfg, LINE("xb"), NULL); /* the group takes no part in the match */
    check_line(cfg, LINE("xa"), "a");
    weir__trace_cfg_free(cfg);

    cfg = mk(WEIR_TRACE_REGEX, "^([^ ]*)", 0);
    ASSERT(cfg);
    check_line(cfg, LINE(""), ""); /* an empty line matches too */
    check_line(cfg, LINE("first word"), "first");
    weir__trace_cfg_free(cfg);

    cfg = mk(WEIR_TRACE_REGEX, "\"trace_id\": ?\"([^\"]+)\"$", 0);
    ASSERT(cfg);
    check_line(cfg, LINE("{\"x\":1,\"trace_id\": \"abc-123\""), "abc-123");
    weir__trace_cfg_free(cfg);
}

/* ---- NONE ------------------------------------------------------------------------------------ */

TEST(none_mode)
{
    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_NONE, NULL, 0);
    ASSERT(cfg);
    check_line(cfg, LINE("a \"x\" {\"trace\":\"y\"}"), NULL);
    weir__trace_pool_t pool = {0};
    weir__trace_t t = {0};
    weir__mem_t mem = {0};
    ASSERT_INT_EQ(weir__trace_feed(&t, cfg, &pool, &mem, (const uint8_t *)"\"a\" b", 5), 0);
    ASSERT(weir__trace_idle(&t));
    ASSERT_UINT_EQ(mem.bytes, 0);
    ASSERT(weir__trace_end_line(&t, cfg, &pool, &mem) == NULL);
    ASSERT_UINT_EQ(pool.mem.bytes, 0);
    weir__trace_cfg_free(cfg);
}

/* ---- limits ---------------------------------------------------------------------------------- */

TEST(max_line_cut)
{
    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_QUOTED, NULL, 20);
    ASSERT(cfg);
    /* "def" starts at byte 21, past the 20 looked at; "ghi" is cut open. */
    check_line(cfg, LINE("\"abc\" 01234567890123 \"def\""), "abc");
    check_line(cfg, LINE("\"abc\" 012345678 \"ghi\""), "abc");
    check_line(cfg, LINE("\"abc\" 01234567 \"ghi\""), "ghi");
    weir__trace_cfg_free(cfg);

    cfg = mk(WEIR_TRACE_JSON, "trace", 20);
    ASSERT(cfg);
    check_line(cfg, LINE("{\"trace\":\"x\",\"pad\":\"0123456789\"}"), "x");
    check_line(cfg, LINE("{\"pad\":\"0123456789\",\"trace\":\"x\"}"), NULL);
    check_line(cfg, LINE("{\"a\":1,\"trace\":\"abcd\"}"), NULL); /* the value is cut */
    weir__trace_cfg_free(cfg);

    cfg = mk(WEIR_TRACE_REGEX, "trace=([a-z]+)", 20);
    ASSERT(cfg);
    check_line(cfg, LINE("..........trace=abcdefghij"), "abcd");
    check_line(cfg, LINE("................trace=abc"), NULL);
    weir__trace_cfg_free(cfg);

    /* A long JSON line: the buffer grows to the field at its end. */
    cfg = mk(WEIR_TRACE_JSON, "trace", 0);
    ASSERT(cfg);
    char *line = malloc(6000);
    size_t n = (size_t)sprintf(line, "{\"pad\":\"");
    memset(line + n, 'p', 5000);
    n += 5000;
    n += (size_t)sprintf(line + n, "\",\"trace\":\"at-the-end\"}");
    check_line(cfg, line, n, "at-the-end");
    free(line);
    weir__trace_cfg_free(cfg);
}

TEST(long_ids_cut)
{
    char want[WEIR__TRACE_MAX + 1];
    memset(want, 'i', WEIR__TRACE_MAX);
    want[WEIR__TRACE_MAX] = '\0';
    char line[800];
    int n;

    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_QUOTED, NULL, 0);
    ASSERT(cfg);
    n = sprintf(line, "x \"%s%s\" y", want, "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii");
    check_line(cfg, line, (size_t)n, want);
    weir__trace_cfg_free(cfg);

    cfg = mk(WEIR_TRACE_JSON, "t", 0);
    ASSERT(cfg);
    n = sprintf(line, "{\"t\":\"%s%s\"}", want, "iiiiiiiiii");
    check_line(cfg, line, (size_t)n, want);
    /* Cut at a whole character: a 2-byte escape does not fit in the last byte. */
    n = sprintf(line, "{\"t\":\"%.*s\\u00e9jj\"}", WEIR__TRACE_MAX - 1, want);
    check_line(cfg, line, (size_t)n, want + 1);
    /* A number is cut as a string is. */
    char digits[WEIR__TRACE_MAX + 41];
    memset(digits, '7', sizeof digits - 1);
    digits[sizeof digits - 1] = '\0';
    n = sprintf(line, "{\"t\":%s}", digits);
    digits[WEIR__TRACE_MAX] = '\0';
    check_line(cfg, line, (size_t)n, digits);
    weir__trace_cfg_free(cfg);

    cfg = mk(WEIR_TRACE_REGEX, "id=(i+)", 0);
    ASSERT(cfg);
    n = sprintf(line, "id=%s%s", want, "iiiiiiiiiiiiiiiiiii");
    check_line(cfg, line, (size_t)n, want);
    weir__trace_cfg_free(cfg);
}

/* ---- the pool -------------------------------------------------------------------------------- */

TEST(pool_reuse)
{
    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_JSON, "trace", 0);
    ASSERT(cfg);
    weir__trace_pool_t pool = {0};
    weir__mem_t mem = {0};
    weir__trace_t t = {0};
    const uint8_t *line = (const uint8_t *)"{\"trace\":\"p\"}";
    ASSERT_INT_EQ(weir__trace_feed(&t, cfg, &pool, &mem, line, 13), 0);
    struct weir__trace_buf *first = t.buf;
    size_t held = mem.bytes;
    ASSERT(first != NULL && held > 0);
    ASSERT_STR_EQ(weir__trace_end_line(&t, cfg, &pool, &mem), "p");
    /* The buffer's bytes moved from the stream to the pool. */
    ASSERT_UINT_EQ(mem.bytes, 0);
    ASSERT_UINT_EQ(pool.mem.bytes, held);
    ASSERT_UINT_EQ(pool.n, 1);
    /* Many streams fed a line at a time share that one buffer. */
    for (int i = 0; i < 100; i++) {
        weir__trace_t s = {0};
        weir__mem_t m = {0};
        ASSERT_INT_EQ(weir__trace_feed(&s, cfg, &pool, &m, line, 13), 0);
        ASSERT(s.buf == first);
        ASSERT_UINT_EQ(m.bytes, held);
        ASSERT_UINT_EQ(pool.mem.bytes, 0);
        ASSERT_STR_EQ(weir__trace_end_line(&s, cfg, &pool, &m), "p");
        ASSERT_UINT_EQ(m.bytes, 0);
    }
    /* Six partial lines at once: four buffers are kept afterwards, two freed. */
    weir__trace_t many[6] = {{0}};
    weir__mem_t mm[6] = {{0}};
    for (int i = 0; i < 6; i++)
        ASSERT_INT_EQ(weir__trace_feed(&many[i], cfg, &pool, &mm[i], line, 5), 0);
    ASSERT_UINT_EQ(pool.n, 0);
    for (int i = 0; i < 6; i++) {
        ASSERT_INT_EQ(weir__trace_feed(&many[i], cfg, &pool, &mm[i], line + 5, 8), 0);
        ASSERT_STR_EQ(weir__trace_end_line(&many[i], cfg, &pool, &mm[i]), "p");
        ASSERT_UINT_EQ(mm[i].bytes, 0);
    }
    ASSERT_UINT_EQ(pool.n, WEIR__TRACE_POOL);
    ASSERT_UINT_EQ(pool.mem.bytes, WEIR__TRACE_POOL * held);
    /* weir__trace_free gives the buffer back as end_line does. */
    ASSERT_INT_EQ(weir__trace_feed(&t, cfg, &pool, &mem, line, 3), 0);
    weir__trace_free(&t, &pool, &mem);
    ASSERT(weir__trace_idle(&t));
    ASSERT_UINT_EQ(mem.bytes, 0);
    ASSERT_UINT_EQ(pool.mem.bytes, WEIR__TRACE_POOL * held);
    weir__trace_pool_free(&pool);
    ASSERT_UINT_EQ(pool.mem.bytes, 0);
    ASSERT_UINT_EQ(pool.n, 0);
    /* Without a pool to give it to, the buffer is freed. */
    ASSERT_INT_EQ(weir__trace_feed(&t, cfg, NULL, &mem, line, 3), 0);
    ASSERT(mem.bytes > 0);
    weir__trace_free(&t, NULL, &mem);
    ASSERT_UINT_EQ(mem.bytes, 0);
    weir__trace_cfg_free(cfg);
}

/* A buffer grown past WEIR__TRACE_POOL_KEEP for a long line is freed, not kept. */
TEST(pool_keeps_small_buffers)
{
    weir__trace_cfg_t *cfg = mk(WEIR_TRACE_REGEX, "(z+)$", 1 << 20);
    ASSERT(cfg);
    size_t n = 3 * WEIR__TRACE_POOL_KEEP;
    uint8_t *line = malloc(n);
    memset(line, 'z', n);
    weir__trace_pool_t pool = {0};
    weir__mem_t mem = {0};
    weir__trace_t t = {0};
    for (size_t off = 0; off < n; off += 1000)
        ASSERT_INT_EQ(
            weir__trace_feed(&t, cfg, &pool, &mem, line + off, n - off < 1000 ? n - off : 1000), 0);
    ASSERT(mem.bytes >= n);
    const char *id = weir__trace_end_line(&t, cfg, &pool, &mem);
    ASSERT(id != NULL);
    ASSERT_UINT_EQ(strlen(id), WEIR__TRACE_MAX);
    ASSERT_UINT_EQ(mem.bytes, 0);
    ASSERT_UINT_EQ(pool.n, 0);
    ASSERT_UINT_EQ(pool.mem.bytes, 0);
    free(line);
    weir__trace_cfg_free(cfg);
}

/* ---- snapshots ------------------------------------------------------------------------------- */

/* A snapshot of t after feeding part, as an exact-size heap buffer. */
static uint8_t *snapshot_of(const weir__trace_cfg_t *cfg, const char *part, size_t *len)
{
    weir__trace_pool_t pool = {0};
    weir__trace_t t = {0};
    weir__mem_t mem = {0};
    weir__wbuf_t w = {0};
    if (weir__trace_feed(&t, cfg, &pool, &mem, (const uint8_t *)part, strlen(part)) != 0)
        return NULL;
    weir__trace_save(&t, &w);
    weir__trace_free(&t, &pool, &mem);
    weir__trace_pool_free(&pool);
    uint8_t *p = malloc(w.n ? w.n : 1);
    memcpy(p, w.p, w.n);
    *len = w.n;
    free(w.p);
    return p;
}

/* Loads buf[0..len) (an exact-size copy) and, when that works, finishes a line on it; the
   load must fail cleanly or leave a state that works.  Returns the load's status. */
static int load_and_use(const weir__trace_cfg_t *cfg, const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    weir__trace_pool_t pool = {0};
    weir__trace_t t;
    weir__mem_t mem = {0};
    weir__rbuf_t r = {copy, len, 0, 0};
    int rc = weir__trace_load(&t, &r, cfg, &mem);
    if (rc != WEIR_OK) {
        if (!weir__trace_idle(&t) || mem.bytes != 0 || rc != WEIR_EFORMAT || !r.bad)
            T__FAIL("a failed load left state behind (rc %d, %zu bytes)", rc, mem.bytes);
    } else {
        if (weir__trace_feed(&t, cfg, &pool, &mem, (const uint8_t *)"\"tail\"}", 7) != 0)
            T__FAIL("feed after load failed");
        const char *id = weir__trace_end_line(&t, cfg, &pool, &mem);
        if (id && strlen(id) > WEIR__TRACE_MAX)
            T__FAIL("an id of %zu bytes", strlen(id));
        if (mem.bytes != 0)
            T__FAIL("%zu bytes left after a line end", mem.bytes);
    }
    weir__trace_pool_free(&pool);
    free(copy);
    return rc;
}

TEST(snapshot_idle_is_one_byte)
{
    for (uint32_t mode = 0; mode < 4; mode++) {
        weir__trace_cfg_t *cfg = mk(mode, mode == 1 ? "a" : mode == 2 ? "(a)" : NULL, 0);
        ASSERT(cfg);
        size_t n;
        uint8_t *p = snapshot_of(cfg, "", &n);
        ASSERT(p != NULL);
        ASSERT_UINT_EQ(n, 1);
        ASSERT_INT_EQ(load_and_use(cfg, p, n), WEIR_OK);
        free(p);
        weir__trace_cfg_free(cfg);
    }
}

TEST(snapshot_damaged)
{
    static const struct {
        uint32_t mode;
        const char *arg, *part;
    } cases[] = {
        {WEIR_TRACE_QUOTED, NULL, "\"done\" x \"open\\"}, /* in a quote, last set, escape */
        {WEIR_TRACE_QUOTED, NULL, "a \\"},
        {WEIR_TRACE_JSON, "t", "{\"t\":\"x\",\"u\":"},
        {WEIR_TRACE_REGEX, "t=([a-z]+)", "a t=xy"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        weir__trace_cfg_t *cfg = mk(cases[c].mode, cases[c].arg, 64);
        ASSERT(cfg);
        size_t n;
        uint8_t *snap = snapshot_of(cfg, cases[c].part, &n);
        ASSERT(snap != NULL && n >= 2);
        ASSERT_INT_EQ(load_and_use(cfg, snap, n), WEIR_OK);
        /* Every strict prefix is refused. */
        for (size_t k = 0; k < n; k++)
            if (load_and_use(cfg, snap, k) != WEIR_EFORMAT)
                T__FAIL("case %zu: a snapshot cut to %zu of %zu bytes was accepted", c, k, n);
        /* Every single bit flipped: refused, or a state that works. */
        for (size_t k = 0; k < n; k++) {
            for (int bit = 0; bit < 8; bit++) {
                snap[k] ^= (uint8_t)(1 << bit);
                load_and_use(cfg, snap, n);
                snap[k] ^= (uint8_t)(1 << bit);
            }
        }
        /* Loaded under another mode or a smaller max_line: refused. */
        weir__trace_cfg_t *other =
            mk(cases[c].mode == WEIR_TRACE_QUOTED ? WEIR_TRACE_JSON : WEIR_TRACE_QUOTED, "t", 64);
        weir__trace_cfg_t *small = mk(cases[c].mode, cases[c].arg, 2);
        ASSERT(other && small);
        ASSERT_INT_EQ(load_and_use(other, snap, n), WEIR_EFORMAT);
        ASSERT_INT_EQ(load_and_use(small, snap, n), WEIR_EFORMAT);
        weir__trace_cfg_free(other);
        weir__trace_cfg_free(small);
        free(snap);
        weir__trace_cfg_free(cfg);
    }
}

/* Hand-made snapshots with lengths past the limits. */
TEST(snapshot_bounds)
{
    weir__trace_cfg_t *q = mk(WEIR_TRACE_QUOTED, NULL, 1000);
    weir__trace_cfg_t *j = mk(WEIR_TRACE_JSON, "t", 1000);
    weir__trace_cfg_t *none = mk(WEIR_TRACE_NONE, NULL, 1000);
    ASSERT(q && j && none);
    uint8_t buf[1200];
    memset(buf, 'x', sizeof buf);
    weir__wbuf_t w = {0};
    /* seen 1001 > max_line */
    weir__put_uv(&w, 1001);
    weir__put_u8(&w, 8);
    ASSERT_INT_EQ(load_and_use(j, w.p, w.n), WEIR_EFORMAT);
    w.n = 0;
    /* a quoted string longer than WEIR__TRACE_MAX */
    weir__put_uv(&w, 900);
    weir__put_u8(&w, 1);
    weir__put_uv(&w, WEIR__TRACE_MAX + 1);
    weir__put(&w, buf, WEIR__TRACE_MAX + 1);
    ASSERT_INT_EQ(load_and_use(q, w.p, w.n), WEIR_EFORMAT);
    w.n = 0;
    /* ... and exactly WEIR__TRACE_MAX is fine */
    weir__put_uv(&w, 900);
    weir__put_u8(&w, 1 | 4);
    weir__put_uv(&w, WEIR__TRACE_MAX);
    weir__put(&w, buf, WEIR__TRACE_MAX);
    weir__put_uv(&w, 3);
    weir__put(&w, "abc", 3);
    ASSERT_INT_EQ(load_and_use(q, w.p, w.n), WEIR_OK);
    w.n = 0;
    /* a quoted string longer than the line seen */
    weir__put_uv(&w, 2);
    weir__put_u8(&w, 4);
    weir__put_uv(&w, 3);
    weir__put(&w, "abc", 3);
    ASSERT_INT_EQ(load_and_use(q, w.p, w.n), WEIR_EFORMAT);
    w.n = 0;
    /* unknown flags; a line buffer under QUOTED; quoted flags under JSON; anything under NONE */
    const uint8_t flags[][2] = {{0, 16}, {0, 8}, {1, 1}, {1, 9}, {2, 8}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        w.n = 0;
        weir__put_uv(&w, 1);
        weir__put_u8(&w, flags[i][1]);
        weir__put(&w, "xxxx", 4);
        const weir__trace_cfg_t *cfg = flags[i][0] == 0 ? q : flags[i][0] == 1 ? j : none;
        if (load_and_use(cfg, w.p, w.n) != WEIR_EFORMAT)
            T__FAIL("flags %u accepted under mode %u", flags[i][1], flags[i][0]);
    }
    /* a varint that never ends */
    w.n = 0;
    for (int i = 0; i < 12; i++)
        weir__put_u8(&w, 0xff);
    ASSERT_INT_EQ(load_and_use(q, w.p, w.n), WEIR_EFORMAT);
    free(w.p);
    weir__trace_cfg_free(q);
    weir__trace_cfg_free(j);
    weir__trace_cfg_free(none);
}

TEST_MAIN(TEST_ENTRY(state_is_small), TEST_ENTRY(cfg_errors), TEST_ENTRY(public_check),
          TEST_ENTRY(quoted_ids), TEST_ENTRY(quoted_memory), TEST_ENTRY(random_lines),
          TEST_ENTRY(json_ids), TEST_ENTRY(json_path), TEST_ENTRY(json_depth),
          TEST_ENTRY(regex_ids), TEST_ENTRY(none_mode), TEST_ENTRY(max_line_cut),
          TEST_ENTRY(long_ids_cut), TEST_ENTRY(pool_reuse), TEST_ENTRY(pool_keeps_small_buffers),
          TEST_ENTRY(snapshot_idle_is_one_byte), TEST_ENTRY(snapshot_damaged),
          TEST_ENTRY(snapshot_bounds))
