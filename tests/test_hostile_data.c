/*
 * test_hostile_data.c - hostile data and files (issue 5): data from attackers must never crash,
 * hang or slow weir without bound, corrupt another stream or lose matches.  Every byte value in
 * data and trace ids, a 1 GiB line, 100 MB lines, millions of matches, damaged compiled rules,
 * snapshots and checkpoints, a normal stream among hostile ones.  Results are compared with
 * Debian's yara 4.2 where it has an answer; docs/hostile.md lists every outcome.
 */
#define _DEFAULT_SOURCE /* mkdtemp, popen */
#include "hostile.h"

/* ---- 1, 2: NUL, high bytes and invalid UTF-8 in data ------------------------------------- */

TEST(hostile_bytes_in_data)
{
    static const char rules[] =
        "rule text { strings: $a = \"\\x00\\xff\\x80\" $b = \"\\xe9t\\xe9\" nocase "
        "$c = \"\\xc3\\x28\" wide ascii $d = \"ab\" fullword condition: any of them }\n"
        "rule hex { strings: $a = { 00 FF ?? 80 } $b = { C3 ( 28 | A9 ) } "
        "$c = { ED [0-2] 80 } condition: any of them }\n"
        "rule re { strings: $a = /\\x00[\\x80-\\xff]{1,3}\\x00/ $b = /[^a-z]{3}\\xff/ "
        "$c = /\\bab\\b/ $d = /\\xc0.\\x00/s condition: any of them }\n"
        "rule xr { strings: $a = \"\\xff\\xfe\\x80x\" xor(1-255) condition: $a }\n"
        "rule counts { strings: $a = { FF } condition: #a > 10 and @a[1] >= 0 }\n"
        "rule reads { condition: uint8(0) == 0x61 and uint16be(2) != 0 }\n";
    gen_buf_t data = {0};
    for (uint64_t seed = 1; seed <= 6; seed++) {
        hostile_data(&data, seed);
        if (seed % 2 == 0) /* invalid UTF-8 and NULs at the chunk edges too */
            data.p[0] = '\xc3', data.p[data.len - 1] = '\0';
        char what[32];
        snprintf(what, sizeof what, "data seed %" PRIu64, seed);
        if (same_as_yara(rules, sizeof rules - 1, data.p, data.len, seed, what) != 0)
            break;
    }
    gen_buf_free(&data);
}

/* Trace ids are bytes as written: invalid UTF-8 and high bytes are kept, NUL ends the id. */
static int trace_of_first(const weir_rule_result_t *res, void *user)
{
    if (res->nmatches)
        snprintf(user, 64, "%s", res->matches[0].trace_id ? res->matches[0].trace_id : "-");
    return 0;
}

TEST(hostile_bytes_in_trace_ids)
{
    weir_rules_t *r = compile_s("rule r { strings: $a = \"hit\" condition: $a }");
    ASSERT(r);
    static const struct {
        const char *line;
        size_t len;
        const char *id;
    } cases[] = {
        {"hit \"\xc3\x28\xff\xfe\"\n", 11, "\xc3\x28\xff\xfe"},
        {"hit \"\xed\xa0\x80\" \"\x80\"\n", 14, "\x80"},
        {"hit \"a\\\"\xff\"\n", 10, "a\\\"\xff"},
        {"hit \"\"\n", 7, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_scanner_t *sc = NULL;
        ASSERT_INT_EQ(weir_scanner_new(r, NULL, &sc), WEIR_OK);
        weir_id_t id = id_of(3);
        char got[64] = "(none)";
        /* byte by byte: an id may arrive in any number of pieces */
        for (size_t k = 0; k < cases[i].len; k++)
            CHECK_INT(weir_scan_chunk(sc, &id, cases[i].line + k, 1), WEIR_OK);
        CHECK_INT(weir_stream_close(sc, &id, trace_of_first, got), WEIR_OK);
        if (strcmp(got, cases[i].id) != 0)
            T__FAIL("case %zu: trace id \"%s\", want \"%s\"", i, got, cases[i].id);
        weir_scanner_free(sc);
    }
    /* JSON ids: arrays nested 100 deep are read past; 60,000 deep (more than 512) is no JSON
       weir reads, and no id, without recursion. */
    static const int depth[] = {100, 60000};
    for (int k = 0; k < 2; k++) {
        gen_buf_t line = {0};
        gen_puts(&line, "{\"x\": ");
        for (int i = 0; i < depth[k]; i++)
            gen_putc(&line, '[');
        for (int i = 0; i < depth[k]; i++)
            gen_putc(&line, ']');
        gen_puts(&line, ", \"id\": \"deep\"} hit\n");
        weir_scanner_options_t opt = {0};
        opt.trace_mode = WEIR_TRACE_JSON;
        opt.trace_arg = "id";
        opt.max_line = 200000;
        weir_scanner_t *sc = NULL;
        ASSERT_INT_EQ(weir_scanner_new(r, &opt, &sc), WEIR_OK);
        weir_id_t id = id_of(3);
        char got[64] = "(none)";
        CHECK_INT(weir_scan_chunk(sc, &id, line.p, line.len), WEIR_OK);
        CHECK_INT(weir_stream_close(sc, &id, trace_of_first, got), WEIR_OK);
        CHECK_INT(strcmp(got, k ? "-" : "deep"), 0);
        weir_scanner_free(sc);
        gen_buf_free(&line);
    }
    weir_rules_free(r);
}

/* ---- 3, 4: a 1 GiB line, 100 MB lines ---------------------------------------------------- */

/* The giant line's rules: strings that cannot span lines, and strings that can. */
static const char giant_rules[] =
    "rule giant { strings: $end = \"NEEDLE_END\" $split = \"SPLIT_NEEDLE\" "
    "$re = /BEGIN[^#]{0,4000}END/ $dot = /QQ.{0,3000}ZZ/s "
    "$hex = { 4D 41 52 4B [0-100000] 45 4E 44 4D } condition: all of them }\n";

static void giant_layout(uint64_t len, plant_t *p, layout_t *l)
{
    const uint64_t max_line = WEIR_DEFAULT_MAX_LINE;
    plant_t v[] = {
        {100, "\"early-id\""},         /* the line's trace id: within max_line        */
        {max_line - 4, "\"cut"},       /* a quote open at max_line: never an id        */
        {max_line + 10, "xx\""},       /*                                              */
        {10 * MIB, "\"late-id\""},     /* beyond max_line: not searched                */
        {len / 4, "MARK"},             /* a chained hex string over 50,000 bytes       */
        {len / 4 + 50004, "ENDM"},     /*                                              */
        {len / 2 - 6, "SPLIT_NEEDLE"}, /* across the boundary of two 1 MiB chunks      */
        {len - 9000, "QQ"},            /* /QQ.{0,3000}ZZ/s                             */
        {len - 8000, "ZZ"},            /*                                              */
        {len - 5000, "BEGIN"},         /* /BEGIN[^#]{0,4000}END/                       */
        {len - 2000, "END"},           /*                                              */
        {len - 100, "NEEDLE_END"},     /* near the end                                 */
    };
    memcpy(p, v, sizeof v);
    l->len = len;
    l->plants = p;
    l->nplants = sizeof v / sizeof v[0];
}

static void giant_expected(uint64_t len, gen_set_t *want)
{
    gen_set_add(want, "R giant");
    gen_set_add(want, "M giant $end %010" PRIu64 " 10", len - 100);
    gen_set_add(want, "M giant $split %010" PRIu64 " 12", len / 2 - 6);
    gen_set_add(want, "M giant $re %010" PRIu64 " 3003", len - 5000);
    gen_set_add(want, "M giant $dot %010" PRIu64 " 1002", len - 9000);
    gen_set_add(want, "M giant $hex %010" PRIu64 " 50008", len / 4);
    gen_set_sort(want);
}

/* A copy of s where a length of 500 or more is "long": yara -L prints at most 512 bytes of a
   match, and a length of its own for chained strings. */
static void cut_lengths(const gen_set_t *s, gen_set_t *out)
{
    for (size_t i = 0; i < s->n; i++) {
        const char *sp = strrchr(s->v[i], ' ');
        if (s->v[i][0] == 'M' && sp && strtoul(sp + 1, NULL, 10) >= 500)
            gen_set_add(out, "%.*s long", (int)(sp - s->v[i]), s->v[i]);
        else
            gen_set_add(out, "%s", s->v[i]);
    }
    gen_set_sort(out);
}

/* Keeps "R" and "M" lines; checks every "T" line names the id. */
static int split_results(const gen_set_t *all, gen_set_t *res, const char *id)
{
    int bad = 0;
    for (size_t i = 0; i < all->n; i++) {
        if (all->v[i][0] != 'T') {
            gen_set_add(res, "%s", all->v[i]);
            continue;
        }
        const char *t = strrchr(all->v[i], ' ');
        if (!t || strcmp(t + 1, id) != 0) {
            fprintf(stderr, "    trace: %s (want %s)\n", all->v[i], id);
            bad = 1;
        }
    }
    gen_set_sort(res);
    return bad;
}

TEST(giant_line)
{
    weir_rules_t *r = compile_s(giant_rules);
    ASSERT(r);
    plant_t p[16];
    layout_t l;
    gen_set_t want = {0}, all = {0}, got = {0};

    /* A small version first, written out, against yara: the expected results are yara's. */
    giant_layout(2 * MIB, p, &l);
    uint8_t *small = malloc(l.len);
    ASSERT(small);
    render(&l, small, 0, (size_t)l.len);
    giant_expected(l.len, &want);
    gen_set_t y = {0};
    char err[256];
    ASSERT_INT_EQ(yara_scan(giant_rules, sizeof giant_rules - 1, small, (size_t)l.len, 1, &y, err,
                            sizeof err),
                  0);
    gen_set_t yc = {0}, wc = {0};
    cut_lengths(&y, &yc);
    cut_lengths(&want, &wc);
    if (!gen_set_eq(&yc, &wc)) {
        T__FAIL("the expected results are not yara's");
        gen_set_diff(stderr, "yara", &yc, "expected", &wc, 10);
    }
    gen_set_free(&y);
    gen_set_free(&yc);
    gen_set_free(&wc);
    free(small);
    gen_set_free(&want);

    /* The giant line, in 1 MiB chunks. */
    giant_layout(BIG_STREAM, p, &l);
    giant_expected(l.len, &want);
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(r, NULL, &sc), WEIR_OK);
    weir_id_t id = id_of(7);
    feed_stats_t fs;
    ASSERT_INT_EQ(feed_layout(sc, &id, &l, MIB, &fs), WEIR_OK);
    NOTE("%" PRIu64 " MiB line: %.2f s, stream memory <= %zu (history %zu, other %zu), scanner "
         "<= %zu\n",
         l.len / MIB, fs.secs, fs.max_memory, fs.max_history, fs.max_other, fs.max_usage);
    ASSERT_INT_EQ(weir_stream_close(sc, &id, gen_collect_results_traces, &all), WEIR_OK);
    CHECK_INT(split_results(&all, &got, "early-id"), 0);
    if (!gen_set_eq(&want, &got)) {
        T__FAIL("giant line: results differ");
        gen_set_diff(stderr, "expected", &want, "weir", &got, 10);
    }
    /* Bounded: the history is the longest match a string that can span lines may have (YARA's
       8,192 bytes and a few for \b), whatever the length of the line. */
    CHECK_INT(fs.max_history <= 8192 + 64, 1);
    CHECK_INT(fs.max_memory < 64 * 1024, 1);
    CHECK_INT(fs.max_usage < 128 * 1024, 1);
    weir_scanner_free(sc);

    /* Trace ids from JSON: the partial line is kept, but only its first max_line bytes. */
    weir_scanner_options_t opt = {0};
    opt.trace_mode = WEIR_TRACE_JSON;
    opt.trace_arg = "id";
    opt.max_line = 4096;
    ASSERT_INT_EQ(weir_scanner_new(r, &opt, &sc), WEIR_OK);
    giant_layout(BIG_STREAM / 8, p, &l);
    ASSERT_INT_EQ(feed_layout(sc, &id, &l, MIB, &fs), WEIR_OK);
    NOTE("%" PRIu64 " MiB line, JSON trace ids, max_line 4096: %.2f s, memory <= %zu (other "
         "%zu)\n",
         l.len / MIB, fs.secs, fs.max_memory, fs.max_other);
    CHECK_INT(fs.max_other >= 4096 && fs.max_other <= 4096 + 1024, 1);
    CHECK_INT(fs.max_memory < 64 * 1024, 1);
    ASSERT_INT_EQ(weir_stream_close(sc, &id, NULL, NULL), WEIR_OK);
    weir_scanner_free(sc);

    gen_set_free(&want);
    gen_set_free(&all);
    gen_set_free(&got);
    weir_rules_free(r);
}

static const char lines_rules[] = "rule one { strings: $a = \"MATCH_ONE\" condition: $a }\n"
                                  "rule two { strings: $a = \"MATCH_TWO\" condition: $a }\n"
                                  "rule three { strings: $a = \"MATCH_THREE\" condition: $a }\n"
                                  "rule count { strings: $a = \"MATCH_ONE\" condition: #a == 2 }\n";

TEST(hundred_mb_lines)
{
    const uint64_t L = BIG_LINE, s2 = L + 1, s3 = 2 * L + 2, s4 = s3 + 19, s5 = s4 + L + 1;
    const plant_t p[] = {
        /* line 1: its id within max_line, a match near its end */
        {5, "\"id-1\""},
        {L - 50, "MATCH_ONE"},
        {L, "\n"},
        /* line 2: a match at its start, its only id at its end, beyond max_line */
        {s2 + 10, "MATCH_TWO"},
        {s2 + L - 20, "\"id-2\""},
        {s2 + L, "\n"},
        /* line 3: short */
        {s3, "MATCH_THREE \"id-3\"\n"},
        /* line 4: two ids, the second beyond max_line; a match in the middle */
        {s4 + 100, "\"id-4a\""},
        {s4 + MIB, "\"id-4b\""},
        {s4 + L / 2, "MATCH_ONE"},
        {s4 + L, "\n"},
        /* line 5, without a newline: a match and an id at its start */
        {s5 + 100, "MATCH_TWO"},
        {s5 + 200, "\"id-5\""},
    };
    layout_t l = {s5 + L, p, sizeof p / sizeof p[0]};
    weir_rules_t *r = compile_s(lines_rules);
    ASSERT(r);
    for (int records = 0; records < 2; records++) {
        weir_scanner_options_t opt = {0};
        opt.records = records;
        weir_scanner_t *sc = NULL;
        ASSERT_INT_EQ(weir_scanner_new(r, &opt, &sc), WEIR_OK);
        gen_set_t ev = {0}, res = {0}, want_ev = {0}, want_res = {0};
        weir_scanner_set_callback(sc, gen_collect_events, &ev);
        weir_id_t id = id_of(4);
        feed_stats_t fs;
        ASSERT_INT_EQ(feed_layout(sc, &id, &l, MIB + 7, &fs), WEIR_OK);
        NOTE("5 lines of %" PRIu64 " MB (records %d): %.2f s, stream memory <= %zu (history "
             "%zu, other %zu)\n",
             L / 1000000, records, fs.secs, fs.max_memory, fs.max_history, fs.max_other);
        ASSERT_INT_EQ(weir_stream_close(sc, &id, gen_collect_results_traces, &res), WEIR_OK);
        gen_set_sort(&res);
        if (!records) {
            gen_set_add(&want_ev, "one line=1 close=0 ids=id-1");
            gen_set_add(&want_ev, "two line=2 close=0 ids=");
            gen_set_add(&want_ev, "three line=3 close=0 ids=id-3");
            gen_set_add(&want_ev, "count line=5 close=1 ids=id-1,id-4a");
            gen_set_add(&want_res, "R one");
            gen_set_add(&want_res, "M one $a %010" PRIu64 " 9", L - 50);
            gen_set_add(&want_res, "M one $a %010" PRIu64 " 9", s4 + L / 2);
            gen_set_add(&want_res, "T one $a %010" PRIu64 " id-1", L - 50);
            gen_set_add(&want_res, "T one $a %010" PRIu64 " id-4a", s4 + L / 2);
            gen_set_add(&want_res, "R count");
            gen_set_add(&want_res, "M count $a %010" PRIu64 " 9", L - 50);
            gen_set_add(&want_res, "M count $a %010" PRIu64 " 9", s4 + L / 2);
            gen_set_add(&want_res, "T count $a %010" PRIu64 " id-1", L - 50);
            gen_set_add(&want_res, "T count $a %010" PRIu64 " id-4a", s4 + L / 2);
            gen_set_add(&want_res, "R two");
            gen_set_add(&want_res, "M two $a %010" PRIu64 " 9", s2 + 10);
            gen_set_add(&want_res, "M two $a %010" PRIu64 " 9", s5 + 100);
            gen_set_add(&want_res, "T two $a %010" PRIu64 " -", s2 + 10);
            gen_set_add(&want_res, "T two $a %010" PRIu64 " id-5", s5 + 100);
            gen_set_add(&want_res, "R three");
            gen_set_add(&want_res, "M three $a %010" PRIu64 " 11", s3);
            gen_set_add(&want_res, "T three $a %010" PRIu64 " id-3", s3);
        } else { /* each line a file; the last one, without a newline, at close */
            gen_set_add(&want_ev, "one line=1 close=0 ids=id-1");
            gen_set_add(&want_ev, "two line=2 close=0 ids=");
            gen_set_add(&want_ev, "three line=3 close=0 ids=id-3");
            gen_set_add(&want_ev, "one line=4 close=0 ids=id-4a");
            gen_set_add(&want_ev, "two line=5 close=1 ids=id-5");
            gen_set_add(&want_res, "R two");
            gen_set_add(&want_res, "M two $a %010" PRIu64 " 9", (uint64_t)100);
            gen_set_add(&want_res, "T two $a %010" PRIu64 " id-5", (uint64_t)100);
        }
        gen_set_sort(&want_res);
        if (!gen_set_eq(&ev, &want_ev)) {
            T__FAIL("records %d: events differ", records);
            gen_set_print(stderr, "expected", &want_ev, 10);
            gen_set_print(stderr, "weir", &ev, 10);
        }
        if (!gen_set_eq(&res, &want_res)) {
            T__FAIL("records %d: results differ", records);
            gen_set_diff(stderr, "expected", &want_res, "weir", &res, 20);
        }
        /* A 100 MB line costs what a short one does: a few bytes of history for these
           strings, the trace ids of the line, the context. */
        CHECK_INT(fs.max_memory < 16 * 1024, 1);
        CHECK_INT(fs.max_history <= 64, 1);
        gen_set_free(&ev);
        gen_set_free(&res);
        gen_set_free(&want_ev);
        gen_set_free(&want_res);
        weir_scanner_free(sc);
    }
    weir_rules_free(r);
}

/* ---- 10: millions of matches ---------------------------------------------------------- */

typedef struct match_count {
    size_t n;
    uint64_t first, last;
} match_count_t;

static int count_a(const weir_rule_result_t *res, void *user)
{
    match_count_t *m = user;
    if (strcmp(res->rule->name, "many") != 0)
        return 0;
    for (size_t i = 0; i < res->nmatches; i++) {
        if (strcmp(res->matches[i].string_id, "$a") != 0)
            continue;
        if (!m->n++)
            m->first = res->matches[i].offset;
        m->last = res->matches[i].offset;
    }
    return 0;
}

TEST(millions_of_matches)
{
    static const char rules[] = "rule many { strings: $a = \"a\" condition: #a > 100 }\n"
                                "rule capped { strings: $a = \"a\" condition: #a == 1000000 }\n"
                                "rule every { strings: $a = \"a\" condition: #a == 4000000 }\n"
                                "rule last { strings: $a = \"a\" condition: @a[1000000] == 999999 "
                                "and !a[1000000] == 1 and @a[1] == 0 }\n"
                                "rule pairs { strings: $b = \"aa\" condition: #b == 1000000 }\n"
                                "rule nob { strings: $c = \"b\" condition: not $c }\n";
    const size_t len = 4000000;
    char *data = malloc(len);
    ASSERT(data);
    memset(data, 'a', len);
    gen_set_t want = {0}, got = {0};
    char err[512];
    ASSERT_INT_EQ(yara_scan(rules, sizeof rules - 1, data, len, 0, &want, err, sizeof err), 0);
    weir_rules_t *r = compile_s(rules);
    ASSERT(r);
    for (int capped = 0; capped < 2; capped++) {
        weir_scanner_options_t opt = {0};
        opt.max_matches = capped ? 1000 : 0;
        weir_scanner_t *sc = NULL;
        ASSERT_INT_EQ(weir_scanner_new(r, &opt, &sc), WEIR_OK);
        weir_id_t id = id_of(10);
        gen_rng_t g = {capped + 1};
        gen_chunking_t ch = {0};
        gen_chunk_random(&ch, &g, len, 65536);
        double t0 = now_s();
        ASSERT_INT_EQ(gen_feed(sc, &id, data, &ch), WEIR_OK);
        weir_stream_stats_t st;
        ASSERT_INT_EQ(weir_stream_stats(sc, &id, &st), WEIR_OK);
        match_count_t m = {0};
        gen_set_t res = {0};
        ASSERT_INT_EQ(weir_stream_results(sc, &id, count_a, &m), WEIR_OK);
        ASSERT_INT_EQ(weir_stream_close(sc, &id, gen_collect_results, &res), WEIR_OK);
        double secs = now_s() - t0;
        NOTE("4 MB of \"a\", max_matches %u: %.2f s, stream memory %zu (matches %zu), %" PRIu64
             " matches\n",
             opt.max_matches, secs, st.memory, st.mem.matches, st.string_matches);
        gen_set_clear(&got);
        for (size_t i = 0; i < res.n; i++)
            if (res.v[i][0] == 'R')
                gen_set_add(&got, "%s", res.v[i]);
        gen_set_sort(&got);
        gen_set_free(&res);
        CHECK_INT(secs < 60, 1);
        if (!capped) { /* yara's results, and its cap: 1,000,000 per string */
            if (!gen_set_eq(&want, &got)) {
                T__FAIL("rules matching differ from yara's");
                gen_set_diff(stderr, "yara", &want, "weir", &got, 10);
            }
            CHECK_INT(m.n, 1000000);
            CHECK_INT(m.first, 0);
            CHECK_INT(m.last, 999999);
            CHECK_INT(st.memory < 128 * MIB, 1);
        } else { /* a lower cap bounds the memory; counts stop there */
            CHECK_INT(m.n, 1000);
            CHECK_INT(m.last, 999);
            CHECK_INT(gen_set_has(&got, "R many") && !gen_set_has(&got, "R capped"), 1);
            CHECK_INT(st.memory < 256 * 1024, 1);
        }
        gen_chunk_free(&ch);
        weir_scanner_free(sc);
    }
    weir_rules_free(r);
    gen_set_free(&want);
    gen_set_free(&got);
    free(data);
}

/* ---- 11: damaged compiled rules, snapshots and checkpoints ------------------------------- */

static const char small_rules[] =
    "rule r { strings: $a = \"Failed\" $b = /user [a-z]+/ $c = { 41 ?? 42 } "
    "condition: $a and #b > 1 or $c }\n"
    "rule s : tag { meta: m = \"v\" strings: $d = \"x\" wide nocase condition: #d > 2 }\n";

static int load_refused(weir_status_t st)
{
    return st == WEIR_EFORMAT || st == WEIR_EVERSION;
}

TEST(damaged_compiled_rules)
{
    weir_rules_t *r = compile_s(small_rules);
    ASSERT(r);
    uint8_t *buf = NULL;
    size_t len = 0;
    ASSERT_INT_EQ(weir_rules_serialize(r, (void **)&buf, &len), WEIR_OK);
    size_t bad = 0, tried = 0;
    /* every truncation and every single-bit flip */
    for (size_t n = 0; n < len; n++, tried++) {
        weir_rules_t *t = (weir_rules_t *)1;
        weir_status_t st = weir_rules_deserialize(buf, n, &t);
        if (!load_refused(st) || t != NULL) {
            if (bad++ < 5)
                T__FAIL("the first %zu of %zu bytes: %s", n, len, weir_strerror(st));
            weir_rules_free(st == WEIR_OK ? t : NULL);
        }
    }
    for (size_t bit = 0; bit < len * 8; bit++, tried++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        weir_rules_t *t = (weir_rules_t *)1;
        weir_status_t st = weir_rules_deserialize(buf, len, &t);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (!load_refused(st) || t != NULL) {
            if (bad++ < 5)
                T__FAIL("bit %zu of %zu bytes flipped: %s", bit, len, weir_strerror(st));
            weir_rules_free(st == WEIR_OK ? t : NULL);
        }
    }
    NOTE("compiled rules of %zu bytes: %zu damaged copies refused\n", len, tried - bad);
    /* through files too: a sample of truncations and flips */
    const char *path = tmp_path("damaged.weir");
    for (size_t k = 0; k < 64; k++) {
        size_t n = k * len / 64;
        uint8_t keep = buf[n];
        if (k % 2)
            buf[n] ^= (uint8_t)(1u << (k % 8));
        ASSERT_INT_EQ(write_file(path, buf, k % 2 ? len : n), 0);
        buf[n] = keep;
        weir_rules_t *t = (weir_rules_t *)1;
        weir_status_t st = weir_rules_load(path, &t);
        if (!load_refused(st) || t != NULL)
            T__FAIL("file %zu: %s", k, weir_strerror(st));
    }
    /* the undamaged buffer still loads */
    weir_rules_t *t = NULL;
    ASSERT_INT_EQ(weir_rules_deserialize(buf, len, &t), WEIR_OK);
    weir_rules_free(t);
    free(buf);
    weir_rules_free(r);
}

TEST(damaged_snapshots)
{
    weir_rules_t *r = compile_s(small_rules);
    ASSERT(r);
    weir_scanner_t *sc = NULL, *to = NULL;
    ASSERT_INT_EQ(weir_scanner_new(r, NULL, &sc), WEIR_OK);
    ASSERT_INT_EQ(weir_scanner_new(r, NULL, &to), WEIR_OK);
    weir_id_t id = id_of(5);
    static const char d[] = "Failed user bob \"t1\"\nA.B user x \xff\x00 x\0X\0x\0 Fail";
    ASSERT_INT_EQ(weir_scan_chunk(sc, &id, d, sizeof d - 1), WEIR_OK);
    uint8_t *buf = NULL;
    size_t len = 0;
    ASSERT_INT_EQ(weir_stream_snapshot(sc, &id, (void **)&buf, &len), WEIR_OK);
    size_t bad = 0;
    for (size_t n = 0; n < len; n++) {
        weir_status_t st = weir_stream_restore(to, buf, n, NULL);
        if (st != WEIR_EFORMAT && bad++ < 5)
            T__FAIL("the first %zu of %zu bytes: %s", n, len, weir_strerror(st));
    }
    for (size_t bit = 0; bit < len * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        weir_status_t st = weir_stream_restore(to, buf, len, NULL);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (st != WEIR_EFORMAT && st != WEIR_EVERSION && st != WEIR_ERULES && bad++ < 5)
            T__FAIL("bit %zu of %zu flipped: %s", bit, len, weir_strerror(st));
    }
    CHECK_INT(weir_scanner_stream_count(to), 0);
    ASSERT_INT_EQ(weir_stream_restore(to, buf, len, NULL), WEIR_OK);
    free(buf);
    weir_scanner_free(sc);
    weir_scanner_free(to);
    weir_rules_free(r);
}

/* Final results of every stream of sc, closed in id order. */
static void close_all(weir_scanner_t *sc, uint32_t n, gen_set_t *out)
{
    for (uint32_t i = 0; i < n; i++) {
        weir_id_t id = id_of(i);
        gen_set_add(out, "S %u", i);
        weir_status_t st = weir_stream_close(sc, &id, gen_collect_results_traces, out);
        if (st != WEIR_OK)
            gen_set_add(out, "S %u %s", i, weir_strerror(st));
    }
    gen_set_sort(out);
}

/*
 * A damaged checkpoint (an LMDB file) is refused, never read blindly: LMDB itself trusts its
 * pages, so weir checks every page it would reach, and each stream's record has a checksum.
 */
TEST(damaged_checkpoints)
{
    const uint32_t nstreams = 120;
    gen_set_t want = {0}, want_prev = {0}, got = {0};
    weir_rules_t *r = compile_s(small_rules);
    ASSERT(r);
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(r, NULL, &sc), WEIR_OK);
    const char *path = tmp_path("ckpt"), *bad_path = tmp_path("bad-ckpt");
    char line[128];
    for (int round = 0; round < 2; round++) { /* two checkpoints: both meta pages, a free list */
        for (uint32_t i = 0; i < nstreams; i += round + 1) {
            weir_id_t id = id_of(i);
            int n = snprintf(line, sizeof line, "Failed user u%u \"t%u-%d\"\nA.B user v x%s", i, i,
                             round, round ? "\n" : "");
            ASSERT_INT_EQ(weir_scan_chunk(sc, &id, line, (size_t)n), WEIR_OK);
        }
        ASSERT_INT_EQ(weir_scanner_checkpoint(sc, path), WEIR_OK);
        if (round == 0) { /* the previous checkpoint, as a copy */
            weir_scanner_t *prev = NULL;
            ASSERT_INT_EQ(weir_scanner_new(r, NULL, &prev), WEIR_OK);
            ASSERT_INT_EQ(weir_scanner_restore(prev, path, NULL), WEIR_OK);
            close_all(prev, nstreams, &want_prev);
            weir_scanner_free(prev);
        }
    }
    close_all(sc, nstreams, &want);
    weir_scanner_free(sc);
    FILE *f = fopen(path, "rb");
    ASSERT(f);
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len);
    ASSERT(buf && fread(buf, 1, len, f) == len);
    fclose(f);

    /* Damage: truncations; every bit of both meta pages' fields; random bits everywhere. */
    gen_rng_t g = {0xc4};
    size_t cases = 0, refused = 0, taken = 0, rolled = 0, bad = 0;
    const size_t psize = 4096, ntrunc = len / 1024, nmeta = 2 * 152 * 8;
    const size_t nflips = UNDER_ASAN ? 600 : 1500;
    for (size_t k = 0; k < ntrunc + nmeta + nflips; k++, cases++) {
        size_t n = len, bit = SIZE_MAX;
        if (k < ntrunc)
            n = k * 1024 + (k % 3) * 17;
        else if (k < ntrunc + nmeta) /* the fields of meta pages 0 and 1 */
            bit = ((k - ntrunc) / (152 * 8)) * psize * 8 + (k - ntrunc) % (152 * 8);
        else
            bit = gen_below(&g, (uint32_t)(len * 8));
        if (bit != SIZE_MAX)
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int w = write_file(bad_path, buf, n);
        if (bit != SIZE_MAX)
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ASSERT_INT_EQ(w, 0);
        char lock[200];
        snprintf(lock, sizeof lock, "%s-lock", bad_path);
        unlink(lock);
        weir_scanner_t *to = NULL;
        ASSERT_INT_EQ(weir_scanner_new(r, NULL, &to), WEIR_OK);
        size_t restored = 0;
        weir_status_t st = weir_scanner_restore(to, bad_path, &restored);
        if (st == WEIR_OK) { /* the damage missed what matters: the streams are whole */
            taken++;
            gen_set_clear(&got);
            close_all(to, nstreams, &got);
            /* A meta page that looks older than it is (as after a crash while it was being
               written) makes LMDB read the previous checkpoint, which is whole. */
            if (gen_set_eq(&want_prev, &got))
                rolled++;
            else if (!gen_set_eq(&want, &got) && bad++ < 3) {
                T__FAIL("damage %zu (bit %zu, %zu bytes) changed the streams", k, bit, n);
                gen_set_diff(stderr, "original", &want, "restored", &got, 5);
            }
        } else if (st == WEIR_EFORMAT || st == WEIR_EVERSION || st == WEIR_ERULES ||
                   st == WEIR_EIO) {
            refused++;
            CHECK_INT(weir_scanner_stream_count(to), 0);
        } else if (bad++ < 3) {
            T__FAIL("damage %zu: %s", k, weir_strerror(st));
        }
        weir_scanner_free(to);
    }
    NOTE("checkpoint of %zu bytes: %zu damaged copies, %zu refused, %zu taken whole (%zu as "
         "the previous checkpoint)\n",
         len, cases, refused, taken, rolled);
    /* A checkpoint over a damaged store is refused too, and leaves it as it is. */
    buf[psize + 40] ^= 0x10; /* the page size in the second meta page */
    ASSERT_INT_EQ(write_file(bad_path, buf, len), 0);
    ASSERT_INT_EQ(weir_scanner_new(r, NULL, &sc), WEIR_OK);
    weir_id_t id = id_of(1);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &id, "x", 1), WEIR_OK);
    CHECK_INT(weir_scanner_checkpoint(sc, bad_path), WEIR_EFORMAT);
    weir_scanner_free(sc);
    /* Empty and foreign files. */
    static const char *const foreign[] = {"", "not an LMDB file",
                                          "\x7f"
                                          "ELF"};
    for (size_t i = 0; i < 3; i++) {
        ASSERT_INT_EQ(write_file(bad_path, foreign[i], strlen(foreign[i])), 0);
        ASSERT_INT_EQ(weir_scanner_new(r, NULL, &sc), WEIR_OK);
        CHECK_INT(weir_scanner_restore(sc, bad_path, NULL), WEIR_EFORMAT);
        weir_scanner_free(sc);
    }
    free(buf);
    gen_set_free(&want);
    gen_set_free(&want_prev);
    gen_set_free(&got);
    weir_rules_free(r);
}

/* ---- 12: stream isolation under hostile input ----------------------------------------- */

static const char iso_rules[] =
    "rule failed { strings: $a = \"Failed password\" condition: $a }\n"
    "rule users { strings: $u = /user [a-z0-9]+/ condition: #u > 3 }\n"
    "rule flood { strings: $f = \"#\" condition: #f > 5 }\n"
    "rule late { strings: $e = \"END\" condition: $e and filesize > 100 }\n";

typedef struct iso_out {
    gen_set_t ev; /* the normal stream's events, in order */
} iso_out_t;

static int iso_event(const weir_match_event_t *ev, void *user)
{
    weir_id_t n = id_of(0);
    if (memcmp(ev->stream.bytes, n.bytes, 16) == 0)
        return gen_collect_events(ev, &((iso_out_t *)user)->ev);
    return 0;
}

static void normal_line(uint32_t i, char *buf, size_t cap, size_t *n)
{
    static const char *const msg[] = {"Failed password for root", "session for user bob%u",
                                      "accepted user x%u", "nothing # here", "the END"};
    char m[64];
    snprintf(m, sizeof m, msg[i % 5], i);
    *n = (size_t)snprintf(buf, cap, "Jan %u host: %s \"n%u\"\n", i % 28 + 1, m, i);
}

/* The normal stream alone, or (hostile) interleaved with hostile streams in scanner sc. */
static void iso_run(const weir_rules_t *r, int hostile, size_t budget, gen_set_t *ev,
                    gen_set_t *res)
{
    weir_scanner_options_t opt = {0};
    opt.memory_limit = budget;
    weir_scanner_t *sc = NULL;
    if (weir_scanner_new(r, &opt, &sc) != WEIR_OK)
        abort();
    iso_out_t out = {{0}};
    weir_scanner_set_callback(sc, iso_event, &out);
    weir_id_t n = id_of(0), giant = id_of(1), flood = id_of(2), junk = id_of(3);
    plant_t p[16];
    layout_t l;
    giant_layout(UNDER_ASAN ? 8 * MIB : 32 * MIB, p, &l);
    const size_t gchunk = 64 * 1024;
    uint8_t *gbuf = malloc(gchunk);
    char *abuf = malloc(gchunk);
    if (!gbuf || !abuf)
        abort();
    memset(abuf, '#', gchunk);
    gen_rng_t g = {0x150};
    char line[160];
    size_t len;
    uint64_t goff = 0;
    for (uint32_t i = 0; i < 600; i++) {
        normal_line(i, line, sizeof line, &len);
        size_t cut = gen_below(&g, (uint32_t)len);
        CHECK_INT(weir_scan_chunk(sc, &n, line, cut), WEIR_OK);
        if (hostile) {
            /* a giant line, millions of matches, random bytes, between two pieces of a line */
            if (goff < l.len) {
                size_t k = l.len - goff < gchunk ? (size_t)(l.len - goff) : gchunk;
                render(&l, gbuf, goff, k);
                CHECK_INT(weir_scan_chunk(sc, &giant, gbuf, k), WEIR_OK);
                goff += k;
            }
            if (i < 5) /* 327,680 matches: evicting it costs more than the rest */
                CHECK_INT(weir_scan_chunk(sc, &flood, abuf, gchunk), WEIR_OK);
            for (size_t k = 0; k < 256; k++)
                line[k % sizeof line] = (char)gen_below(&g, 256);
            CHECK_INT(weir_scan_chunk(sc, &junk, line, sizeof line), WEIR_OK);
            normal_line(i, line, sizeof line, &len); /* back to the normal line */
        }
        CHECK_INT(weir_scan_chunk(sc, &n, line + cut, len - cut), WEIR_OK);
        if (hostile && i % 100 == 50) {
            /* damaged snapshots, and a whole one of the normal stream: refused, n unchanged */
            void *snap = NULL;
            size_t sl = 0;
            CHECK_INT(weir_stream_snapshot(sc, &n, &snap, &sl), WEIR_OK);
            CHECK_INT(weir_stream_restore(sc, snap, sl, NULL), WEIR_ESTATE);
            for (size_t b = 0; b < sl; b += 7) {
                ((uint8_t *)snap)[b] ^= 0x41;
                CHECK_INT(weir_stream_restore(sc, snap, sl, NULL), WEIR_EFORMAT);
                ((uint8_t *)snap)[b] ^= 0x41;
            }
            CHECK_INT(weir_stream_restore(sc, snap, sl / 2, NULL), WEIR_EFORMAT);
            free(snap);
            CHECK_INT(weir_stream_evict(sc, &flood), WEIR_OK);
        }
    }
    gen_set_clear(res);
    CHECK_INT(weir_stream_close(sc, &n, gen_collect_results_traces, res), WEIR_OK);
    gen_set_sort(res);
    gen_set_clear(ev);
    for (size_t i = 0; i < out.ev.n; i++)
        gen_set_add(ev, "%s", out.ev.v[i]);
    gen_set_free(&out.ev);
    free(gbuf);
    free(abuf);
    weir_scanner_free(sc);
}

TEST(isolation_under_hostile_input)
{
    weir_rules_t *r = compile_s(iso_rules);
    ASSERT(r);
    gen_set_t ev0 = {0}, res0 = {0}, ev = {0}, res = {0};
    iso_run(r, 0, 0, &ev0, &res0);
    ASSERT(ev0.n >= 3 && res0.n > 100);
    static const size_t budgets[] = {0, 256 * 1024};
    for (size_t b = 0; b < 2; b++) {
        double t0 = now_s();
        iso_run(r, 1, budgets[b], &ev, &res);
        NOTE("isolation, budget %zu: %.2f s\n", budgets[b], now_s() - t0);
        if (!gen_set_eq(&ev0, &ev)) {
            T__FAIL("budget %zu: the normal stream's events differ", budgets[b]);
            gen_set_print(stderr, "alone", &ev0, 10);
            gen_set_print(stderr, "with hostile streams", &ev, 10);
        }
        if (!gen_set_eq(&res0, &res)) {
            T__FAIL("budget %zu: the normal stream's results differ", budgets[b]);
            gen_set_diff(stderr, "alone", &res0, "with hostile streams", &res, 10);
        }
    }
    gen_set_free(&ev0);
    gen_set_free(&res0);
    gen_set_free(&ev);
    gen_set_free(&res);
    weir_rules_free(r);
}

TEST_MAIN(TEST_ENTRY(hostile_bytes_in_data), TEST_ENTRY(hostile_bytes_in_trace_ids),
          TEST_ENTRY(giant_line), TEST_ENTRY(hundred_mb_lines), TEST_ENTRY(millions_of_matches),
          TEST_ENTRY(damaged_compiled_rules), TEST_ENTRY(damaged_snapshots),
          TEST_ENTRY(damaged_checkpoints), TEST_ENTRY(isolation_under_hostile_input))
