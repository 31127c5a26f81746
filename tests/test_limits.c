/*
 * test_limits.c - the scanner's resource limits: condition evaluation steps (no rule can stall
 * the scanner), matches kept per string, and the number of streams.  Each limit must hold, be
 * reported through the limit callback exactly as documented, and, like every other state of a
 * stream, never depend on how its bytes were chunked or whether it was evicted meanwhile.
 */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "test.h"
#include "weir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static weir_rules_t *compile(const char *text)
{
    weir_rules_t *r = NULL;
    if (weir_compile_buffer(text, strlen(text), "limits.yar", NULL, &r, NULL) != WEIR_OK)
        return NULL;
    return r;
}

static weir_id_t id_of(uint32_t n)
{
    weir_id_t id;
    memset(&id, 0x5a, sizeof id);
    memcpy(id.bytes + 2, &n, sizeof n);
    return id;
}

/* Everything a run tells, as text: events, limit notices and results, in order. */
typedef struct log {
    char *p;
    size_t len, cap;
} log_t;

static void log_add(log_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_add(log_t *l, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (l->len + (size_t)n + 1 > l->cap) {
        l->cap = (l->len + (size_t)n + 1) * 2;
        l->p = realloc(l->p, l->cap);
        if (!l->p)
            abort();
    }
    memcpy(l->p + l->len, buf, (size_t)n + 1);
    l->len += (size_t)n;
}

static int on_event(const weir_match_event_t *ev, void *user)
{
    log_add(user, "event %s line %" PRIu64 " close %d\n", ev->rule->name, ev->line, ev->at_close);
    return 0;
}

static void on_limit(const weir_limit_event_t *ev, void *user)
{
    log_add(user, "limit %d %s %s max %" PRIu64 " at %" PRIu64 " close %d\n", (int)ev->kind,
            ev->rule->name, ev->string_id ? ev->string_id : "-", ev->limit, ev->offset,
            ev->at_close);
}

static int on_result(const weir_rule_result_t *res, void *user)
{
    log_add(user, "result %s %zu\n", res->rule->name, res->nmatches);
    return 0;
}

/* How run() feeds a stream. */
typedef struct plan {
    size_t chunk; /* bytes per call; 0: all at once */
    int evict;    /* evict the stream after every chunk */
    int move;     /* move it to a new scanner through a snapshot after every chunk */
} plan_t;

/* Feeds data to one stream under opt and plan, closes it, and returns the log (caller frees). */
static char *run(const weir_rules_t *rules, const weir_scanner_options_t *opt, const char *data,
                 size_t len, plan_t plan)
{
    log_t l = {0};
    log_add(&l, "%s", "");
    weir_scanner_t *sc = NULL;
    if (weir_scanner_new(rules, opt, &sc) != WEIR_OK)
        return NULL;
    weir_scanner_set_callback(sc, on_event, &l);
    weir_scanner_set_limit_callback(sc, on_limit, &l);
    weir_id_t id = id_of(7);
    size_t step = plan.chunk ? plan.chunk : (len ? len : 1);
    for (size_t at = 0; at < len; at += step) {
        size_t n = len - at < step ? len - at : step;
        if (weir_scan_chunk(sc, &id, data + at, n) != WEIR_OK)
            log_add(&l, "scan failed\n");
        if (plan.evict && weir_stream_evict(sc, &id) != WEIR_OK)
            log_add(&l, "evict failed\n");
        if (plan.move) {
            void *buf = NULL;
            size_t blen = 0;
            weir_scanner_t *next = NULL;
            if (weir_stream_snapshot(sc, &id, &buf, &blen) != WEIR_OK ||
                weir_scanner_new(rules, opt, &next) != WEIR_OK ||
                weir_stream_restore(next, buf, blen, NULL) != WEIR_OK)
                log_add(&l, "move failed\n");
            free(buf);
            if (next) {
                weir_scanner_set_callback(next, on_event, &l);
                weir_scanner_set_limit_callback(next, on_limit, &l);
                weir_scanner_free(sc);
                sc = next;
            }
        }
    }
    if (weir_stream_close(sc, &id, on_result, &l) != WEIR_OK)
        log_add(&l, "close failed\n");
    weir_scanner_free(sc);
    return l.p;
}

/* The log under every plan equals the one-chunk log; returns it (caller frees) or NULL. */
static char *run_all_plans(const weir_rules_t *rules, const weir_scanner_options_t *opt,
                           const char *data, size_t len)
{
    char *ref = run(rules, opt, data, len, (plan_t){0, 0, 0});
    const plan_t plans[] = {{1, 0, 0}, {7, 0, 0}, {64, 0, 0}, {5, 1, 0}, {13, 0, 1}, {1, 1, 0}};
    for (size_t i = 0; ref && i < sizeof plans / sizeof plans[0]; i++) {
        char *got = run(rules, opt, data, len, plans[i]);
        if (!got || strcmp(got, ref) != 0) {
            fprintf(stderr,
                    "  plan chunk %zu evict %d move %d differs:\n--- one chunk\n%s--- plan\n%s",
                    plans[i].chunk, plans[i].evict, plans[i].move, ref, got ? got : "(none)\n");
            free(got);
            free(ref);
            return NULL;
        }
        free(got);
    }
    return ref;
}

static size_t count_lines(const char *log, const char *prefix)
{
    size_t n = 0, k = strlen(prefix);
    for (const char *p = log; p && *p;) {
        if (strncmp(p, prefix, k) == 0)
            n++;
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

/* A condition with a loop over a huge range runs out of steps once while the stream runs (and
   is then left alone: 2,000 more lines do not evaluate it again) and once at close. */
TEST(huge_loop_cannot_stall)
{
    weir_rules_t *rules = compile("rule huge { condition: for all i in (0..10000000000) : "
                                  "(i >= 0) }\n"
                                  "rule fine { strings: $a = \"ok\" condition: $a }\n");
    ASSERT(rules);
    size_t len = 2000 * 3;
    char *data = malloc(len + 1);
    ASSERT(data);
    for (size_t i = 0; i < len; i += 3)
        memcpy(data + i, "ok\n", 3);
    weir_scanner_options_t opt = {0};
    opt.max_eval_steps = 20000;
    char *log = run_all_plans(rules, &opt, data, len);
    free(data);
    weir_rules_free(rules);
    ASSERT(log);
    /* fine fires at line 1; huge runs out at the first line end, then at close, never else */
    /* (rules are evaluated in order: huge before fine) */
    const char *want = "limit 2 huge - max 20000 at 3 close 0\n"
                       "event fine line 1 close 0\n"
                       "limit 2 huge - max 20000 at 6000 close 1\n"
                       "result fine 2000\n";
    if (strcmp(log, want) != 0)
        fprintf(stderr, "  got:\n%s", log);
    int same = strcmp(log, want) == 0;
    free(log);
    ASSERT(same);
}

/* A loop that fits the budget fires at the line that makes its rule hold; one that does not
   is reported at the line where its rule is first evaluated, then only at close; the points
   are the same whatever the chunking and through evictions and moves between scanners. */
TEST(steps_run_out_at_the_same_point_whatever_the_chunking)
{
    weir_rules_t *rules = compile("rule fits { strings: $a = \"ab\" condition: $a and for all i in "
                                  "(0..50) : (i >= 0) }\n"
                                  "rule late { strings: $z = \"zz\" condition: $z and for all i in "
                                  "(0..1000) : (i >= 0) }\n");
    ASSERT(rules);
    char data[4096];
    size_t len = 0, line101 = 0;
    for (int line = 1; line <= 120; line++) {
        len += (size_t)snprintf(data + len, sizeof data - len, "%s ab %d\n",
                                line == 101 ? "zz" : "xx", line);
        if (line == 101)
            line101 = len;
    }
    weir_scanner_options_t opt = {0};
    opt.max_eval_steps = 600; /* 51 iterations fit, 1001 do not */
    char *log = run_all_plans(rules, &opt, data, len);
    ASSERT(log);
    char want[512];
    snprintf(want, sizeof want,
             "event fits line 1 close 0\n"
             "limit 2 late - max 600 at %zu close 0\n"
             "limit 2 late - max 600 at %zu close 1\n"
             "result fits 120\n",
             line101, len);
    int ok = strcmp(log, want) == 0;
    if (!ok)
        fprintf(stderr, "  got:\n%s  want:\n%s", log, want);
    free(log);
    ASSERT(ok);

    /* With the default budget the same rules are YARA's: late fires at the zz line. */
    log = run_all_plans(rules, NULL, data, len);
    weir_rules_free(rules);
    ASSERT(log);
    ok = strcmp(log, "event fits line 1 close 0\nevent late line 101 close 0\n"
                     "result fits 120\nresult late 1\n") == 0;
    if (!ok)
        fprintf(stderr, "  got:\n%s", log);
    free(log);
    ASSERT(ok);
}

/* max_matches: the string's later matches are dropped, reported once per string and stream,
   also when the stream is evicted or moved after every chunk. */
TEST(max_matches_reported_once_per_string)
{
    weir_rules_t *rules = compile("rule r { strings: $a = \"a\" $b = \"b\" condition: #a == 5 and "
                                  "#b == 2 }\n"
                                  "rule s { strings: $c = \"c\" condition: #c > 5 }\n");
    ASSERT(rules);
    const char *data = "aaa\nbb aaaa\naaaa cccccccc\na\n";
    weir_scanner_options_t opt = {0};
    opt.max_matches = 5;
    char *log = run_all_plans(rules, &opt, data, strlen(data));
    weir_rules_free(rules);
    ASSERT(log);
    /* $a reaches 5 with the match ending at 9; $c with the one ending at 22, so #c > 5 never
       holds; r (== is not monotone) is decided at close */
    const char *want = "limit 1 r $a max 5 at 9 close 0\n"
                       "limit 1 s $c max 5 at 22 close 0\n"
                       "event r line 4 close 1\n"
                       "result r 7\n";
    int ok = strcmp(log, want) == 0;
    if (!ok)
        fprintf(stderr, "  got:\n%s", log);
    free(log);
    ASSERT(ok);
}

/* In record mode each line is evaluated on its own: a line that runs out is reported, and the
   next line is evaluated afresh. */
TEST(record_mode_steps_per_line)
{
    weir_rules_t *rules = compile("rule loop { strings: $a = \"x\" condition: for all i in "
                                  "(1..#a) : (@a[i] >= 0) }\n");
    ASSERT(rules);
    /* 3 x's fit in 60 steps, 40 do not */
    char data[256];
    size_t len = (size_t)snprintf(data, sizeof data, "xxx\n%s\nx\n",
                                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    weir_scanner_options_t opt = {0};
    opt.records = 1;
    opt.max_eval_steps = 60;
    char *log = run_all_plans(rules, &opt, data, len);
    weir_rules_free(rules);
    ASSERT(log);
    int ok = count_lines(log, "event loop line 1 ") == 1 &&
             count_lines(log, "event loop line 2") == 0 &&
             count_lines(log, "event loop line 3 ") == 1 && count_lines(log, "limit 2 loop") == 1;
    if (!ok)
        fprintf(stderr, "  got:\n%s", log);
    free(log);
    ASSERT(ok);
}

/* max_streams: one stream too many is refused with WEIR_ELIMIT and changes nothing, whether
   the others are live, evicted to memory or spilled; closing one makes room; snapshots and
   checkpoints are held to the same limit. */
TEST(max_streams)
{
    weir_rules_t *rules = compile("rule r { strings: $a = \"x\" condition: $a }\n");
    ASSERT(rules);
    char dir[] = "/tmp/weir-limits-XXXXXX";
    ASSERT(mkdtemp(dir));
    for (int mode = 0; mode < 3; mode++) {
        weir_scanner_options_t opt = {0};
        opt.max_streams = 3;
        if (mode >= 1)
            opt.memory_limit = 1; /* every stream but the one in use evicted */
        if (mode == 2)
            opt.spill_dir = dir;
        weir_scanner_t *sc = NULL;
        ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &sc), WEIR_OK);
        for (uint32_t i = 0; i < 3; i++) {
            weir_id_t id = id_of(i);
            ASSERT_INT_EQ(weir_scan_chunk(sc, &id, "x\n", 2), WEIR_OK);
        }
        weir_id_t extra = id_of(99), first = id_of(0);
        ASSERT_INT_EQ(weir_scan_chunk(sc, &extra, "x\n", 2), WEIR_ELIMIT);
        ASSERT_INT_EQ(weir_scan_chunk(sc, &extra, NULL, 0), WEIR_ELIMIT);
        ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 3);
        weir_stream_stats_t stats;
        ASSERT_INT_EQ(weir_stream_stats(sc, &extra, &stats), WEIR_ENOTFOUND);
        /* the streams it holds go on */
        ASSERT_INT_EQ(weir_scan_chunk(sc, &first, "x\n", 2), WEIR_OK);
        /* a snapshot of a fourth stream is refused too */
        weir_scanner_t *other = NULL;
        ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &other), WEIR_OK);
        ASSERT_INT_EQ(weir_scan_chunk(other, &extra, "x\n", 2), WEIR_OK);
        void *buf = NULL;
        size_t blen = 0;
        ASSERT_INT_EQ(weir_stream_snapshot(other, &extra, &buf, &blen), WEIR_OK);
        ASSERT_INT_EQ(weir_stream_restore(sc, buf, blen, NULL), WEIR_ELIMIT);
        /* closing one makes room */
        ASSERT_INT_EQ(weir_stream_close(sc, &first, NULL, NULL), WEIR_OK);
        ASSERT_INT_EQ(weir_stream_restore(sc, buf, blen, NULL), WEIR_OK);
        ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 3);
        free(buf);
        weir_scanner_free(other);
        /* a checkpoint of 3 streams does not fit in a scanner of 2: nothing restored */
        char path[128];
        snprintf(path, sizeof path, "%s/ckpt-%d", dir, mode);
        ASSERT_INT_EQ(weir_scanner_checkpoint(sc, path), WEIR_OK);
        weir_scanner_free(sc);
        opt.max_streams = 2;
        opt.spill_dir = NULL;
        ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &sc), WEIR_OK);
        size_t n = 99;
        ASSERT_INT_EQ(weir_scanner_restore(sc, path, &n), WEIR_ELIMIT);
        ASSERT_UINT_EQ(n, 0);
        ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 0);
        weir_scanner_free(sc);
        opt.max_streams = 3;
        ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &sc), WEIR_OK);
        ASSERT_INT_EQ(weir_scanner_restore(sc, path, &n), WEIR_OK);
        ASSERT_UINT_EQ(n, 3);
        weir_scanner_free(sc);
        unlink(path);
        snprintf(path + strlen(path), sizeof path - strlen(path), "-lock");
        unlink(path);
    }
    rmdir(dir);
    weir_rules_free(rules);
}

/* The defaults are the documented ones: 10M steps, 16M streams. */
TEST(defaults)
{
    ASSERT_UINT_EQ(WEIR_DEFAULT_MAX_EVAL_STEPS, 10000000u);
    ASSERT_UINT_EQ(WEIR_DEFAULT_MAX_STREAMS, 16777216u);
    weir_rules_t *rules =
        compile("rule huge { condition: for all i in (0..100000000) : (i >= 0) }\n"
                "rule under { condition: for all i in (1..1000000) : (i >= 0) }\n");
    ASSERT(rules);
    char *log = run(rules, NULL, "a\n", 2, (plan_t){0, 0, 0});
    weir_rules_free(rules);
    ASSERT(log);
    /* 1M iterations fit in 10M steps; 100M do not */
    int ok = count_lines(log, "limit 2 huge - max 10000000") == 2 &&
             count_lines(log, "event under line 1 close 0") == 1 &&
             count_lines(log, "limit 2 under") == 0;
    if (!ok)
        fprintf(stderr, "  got:\n%s", log);
    free(log);
    ASSERT(ok);
}

TEST_MAIN(TEST_ENTRY(huge_loop_cannot_stall),
          TEST_ENTRY(steps_run_out_at_the_same_point_whatever_the_chunking),
          TEST_ENTRY(max_matches_reported_once_per_string), TEST_ENTRY(record_mode_steps_per_line),
          TEST_ENTRY(max_streams), TEST_ENTRY(defaults))
