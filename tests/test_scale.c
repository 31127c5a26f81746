/*
 * test_scale.c - streams at scale: eviction under a memory budget, snapshots, checkpoints
 * (including a kill -9 in the middle of one), idle expiry and the memory figures.  The central
 * property: however streams are evicted, moved between scanners or restored from a
 * checkpoint, every event and every result is the one an undisturbed scanner gives.
 */
#define _DEFAULT_SOURCE /* mkdtemp, kill */
#include "gen.h"
#include "gen_vars.h"
#include "test.h"
#include "weir.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSTREAMS 3

#define CHECK_UINT(a, b) CHECK_INT(a, b)

static weir_rules_t *compile(const char *text)
{
    weir_rules_t *r = NULL;
    if (weir_compile_buffer(text, strlen(text), "test.yar", NULL, &r, NULL) != WEIR_OK)
        return NULL;
    return r;
}

static weir_id_t id_of(uint32_t n)
{
    weir_id_t id;
    memset(&id, 0x3c, sizeof id);
    memcpy(id.bytes + 4, &n, sizeof n);
    return id;
}

static uint32_t index_of(const weir_id_t *id)
{
    uint32_t n;
    memcpy(&n, id->bytes + 4, sizeof n);
    return n;
}

/* What happens to the scanner between two chunks. */
typedef enum disturb {
    D_NONE = 0,   /* the reference */
    D_EVICT,      /* random streams evicted by weir_stream_evict */
    D_BUDGET,     /* a budget of 1 byte: every stream but the one in use is evicted */
    D_MOVE,       /* every stream moved to a new scanner through weir_stream_snapshot */
    D_CHECKPOINT, /* a checkpoint, then a new scanner restored from it */
    D_SPILL,      /* a budget of 1 byte and a spill directory: evicted streams go to disk */
    D_COUNT
} disturb_t;

static const char *const disturb_name[] = {"none", "evict",      "budget",
                                           "move", "checkpoint", "spill"};
static char spill_dir[64]; /* for D_SPILL */

/* Per stream: events (in order) and final results with trace ids. */
typedef struct outcome {
    gen_set_t ev[NSTREAMS], res[NSTREAMS];
    weir_status_t st;
} outcome_t;

static void outcome_free(outcome_t *o)
{
    for (int i = 0; i < NSTREAMS; i++) {
        gen_set_free(&o->ev[i]);
        gen_set_free(&o->res[i]);
    }
}

static int on_event(const weir_match_event_t *ev, void *user)
{
    outcome_t *o = user;
    uint32_t i = index_of(&ev->stream);
    if (i >= NSTREAMS)
        return 0;
    return gen_collect_events(ev, &o->ev[i]);
}

static void first_error(outcome_t *o, weir_status_t st)
{
    if (st != WEIR_OK && o->st == WEIR_OK)
        o->st = st;
}

static weir_scanner_t *new_scanner(const weir_rules_t *rules, disturb_t d, outcome_t *o)
{
    weir_scanner_options_t opt = {0};
    opt.match_data = 8;
    if (d == D_BUDGET || d == D_SPILL)
        opt.memory_limit = 1;
    if (d == D_SPILL)
        opt.spill_dir = spill_dir;
    weir_scanner_t *sc = NULL;
    first_error(o, weir_scanner_new(rules, &opt, &sc));
    if (sc)
        weir_scanner_set_callback(sc, on_event, o);
    return sc;
}

/* Every stream of sc into a new scanner, through snapshots. */
static weir_scanner_t *move_all(const weir_rules_t *rules, weir_scanner_t *sc, outcome_t *o)
{
    weir_scanner_t *to = new_scanner(rules, D_MOVE, o);
    weir_id_t ids[NSTREAMS];
    size_t n = 0;
    first_error(o, weir_scanner_streams(sc, ids, NSTREAMS, &n));
    for (size_t i = 0; i < n && to; i++) {
        void *buf = NULL;
        size_t len = 0;
        weir_id_t back;
        first_error(o, weir_stream_snapshot(sc, &ids[i], &buf, &len));
        if (buf)
            first_error(o, weir_stream_restore(to, buf, len, &back));
        if (buf && memcmp(back.bytes, ids[i].bytes, 16) != 0)
            first_error(o, WEIR_EINVAL);
        free(buf);
    }
    weir_scanner_free(sc);
    return to;
}

static weir_scanner_t *via_checkpoint(const weir_rules_t *rules, weir_scanner_t *sc,
                                      const char *path, outcome_t *o)
{
    first_error(o, weir_scanner_checkpoint(sc, path));
    size_t before = weir_scanner_stream_count(sc), n = 0;
    weir_scanner_free(sc);
    weir_scanner_t *to = new_scanner(rules, D_CHECKPOINT, o);
    if (to)
        first_error(o, weir_scanner_restore(to, path, &n));
    if (n != before)
        first_error(o, WEIR_EFORMAT);
    return to;
}

/*
 * Feeds NSTREAMS streams their data (chunked by ch[i]) round robin, disturbing the scanner
 * between chunks as d says, then closes them all.
 */
static void run(const weir_rules_t *rules, const gen_buf_t *data, const gen_chunking_t *ch,
                disturb_t d, uint64_t seed, const char *path, outcome_t *o)
{
    memset(o, 0, sizeof *o);
    gen_rng_t r = {seed};
    weir_scanner_t *sc = new_scanner(rules, d, o);
    size_t next[NSTREAMS] = {0}, off[NSTREAMS] = {0};
    int opened[NSTREAMS] = {0};
    /* Stream 0 gets a value of its own for the first variable, if the rules have one. */
    if (sc && weir_rules_var_count(rules) && weir_rules_var(rules, 0)->type == WEIR_VAR_STRING) {
        weir_var_t v = *weir_rules_var(rules, 0);
        v.string = "sshd";
        v.string_len = 4;
        weir_id_t id = id_of(0);
        first_error(o, weir_stream_set_var(sc, &id, &v));
    }
    for (int more = 1; more && sc;) {
        more = 0;
        for (int i = 0; i < NSTREAMS && sc; i++) {
            weir_id_t id = id_of((uint32_t)i);
            if (next[i] == ch[i].n) {
                if (ch[i].n == 0 && !opened[i]) /* empty data: open it all the same */
                    first_error(o, weir_scan_chunk(sc, &id, "", 0));
                opened[i] = 1;
                continue;
            }
            opened[i] = 1;
            more = 1;
            size_t n = ch[i].size[next[i]++];
            first_error(o, weir_scan_chunk(sc, &id, data[i].p + off[i], n));
            off[i] += n;
            if (d == D_EVICT && gen_chance(&r, 50)) {
                weir_id_t victim = id_of(gen_below(&r, NSTREAMS));
                weir_status_t st = weir_stream_evict(sc, &victim);
                if (st != WEIR_ENOTFOUND)
                    first_error(o, st);
            } else if (d == D_MOVE && gen_chance(&r, 25)) {
                sc = move_all(rules, sc, o);
            } else if (d == D_CHECKPOINT && gen_chance(&r, 15)) {
                sc = via_checkpoint(rules, sc, path, o);
            }
        }
    }
    for (int i = 0; i < NSTREAMS && sc; i++) {
        weir_id_t id = id_of((uint32_t)i);
        first_error(o, weir_stream_close(sc, &id, gen_collect_results_traces, &o->res[i]));
        gen_set_sort(&o->res[i]);
    }
    weir_scanner_free(sc);
}

static int same(const outcome_t *a, const outcome_t *b)
{
    if (a->st != b->st)
        return 0;
    for (int i = 0; i < NSTREAMS; i++)
        if (!gen_set_eq(&a->ev[i], &b->ev[i]) || !gen_set_eq(&a->res[i], &b->res[i]))
            return 0;
    return 1;
}

static void report(const outcome_t *ref, const outcome_t *o, disturb_t d, const char *rules,
                   uint64_t seed)
{
    fprintf(stderr, "  disturbance '%s' (seed %" PRIu64 ") changed the outcome: status %s vs %s\n",
            disturb_name[d], seed, weir_strerror(ref->st), weir_strerror(o->st));
    fprintf(stderr, "  rules:\n%s\n", rules);
    for (int i = 0; i < NSTREAMS; i++) {
        gen_set_diff(stderr, "undisturbed", &ref->res[i], "disturbed", &o->res[i], 10);
        if (!gen_set_eq(&ref->ev[i], &o->ev[i])) {
            gen_set_print(stderr, "events, undisturbed", &ref->ev[i], 10);
            gen_set_print(stderr, "events, disturbed", &o->ev[i], 10);
        }
    }
}

/* Random rules and data (test_diff.c's generator), random chunkings, every disturbance. */
TEST(disturbances_never_change_results)
{
    char dir[] = "/tmp/weir_scale.XXXXXX", path[64];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ckpt.mdb", dir);
    snprintf(spill_dir, sizeof spill_dir, "%s", dir);
    gen_rng_t r = {gen_seed_from_env("WEIR_SCALE_SEED", 0x5ca1e)};
    gen_buf_t rt = {0}, data[NSTREAMS] = {{0}};
    gen_chunking_t ch[NSTREAMS] = {{0}};
    int used = 0, bad = 0, runs = 0;
    for (int it = 0; it < 40 && bad < 3; it++) {
        gen_rules(&r, &rt, 5);
        weir_rules_t *rules = compile(rt.p);
        if (!rules)
            continue;
        used++;
        for (int i = 0; i < NSTREAMS; i++) {
            gen_data(&r, &data[i], 1500);
            if (gen_chance(&r, 30))
                gen_chunk_bytes(&ch[i], data[i].len);
            else
                gen_chunk_random(&ch[i], &r, data[i].len, gen_range(&r, 2, 300));
        }
        outcome_t ref;
        run(rules, data, ch, D_NONE, 0, path, &ref);
        for (int d = D_EVICT; d < D_COUNT; d++) {
            uint64_t seed = gen_next(&r);
            outcome_t o;
            run(rules, data, ch, (disturb_t)d, seed, path, &o);
            runs++;
            if (!same(&ref, &o)) {
                report(&ref, &o, (disturb_t)d, rt.p, seed);
                test__failed_now = 1;
                bad++;
            }
            outcome_free(&o);
        }
        outcome_free(&ref);
        weir_rules_free(rules);
    }
    if (used < 20)
        T__FAIL("only %d of 40 generated rule files compiled", used);
    if (getenv("WEIR_TEST_TIMES"))
        fprintf(stderr, "  %d rule files, %d disturbed runs\n", used, runs);
    gen_buf_free(&rt);
    for (int i = 0; i < NSTREAMS; i++) {
        gen_buf_free(&data[i]);
        gen_chunk_free(&ch[i]);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        T__FAIL("could not remove %s", dir);
}

/* Log rules on log lines, with variables set per stream (saved with the stream). */
static const char log_rules[] =
    "rule failed { strings: $a = \"Failed password for \" condition: $a }\n"
    "rule many { strings: $a = \"Failed password for \" condition: #a >= 3 }\n"
    "rule never { strings: $a = \"Accepted\" condition: not $a }\n"
    "rule user_re { strings: $r = /invalid user [a-z]+ from/ condition: $r and app == \"sshd\" }\n"
    "rule cross { strings: $h = { 0A 4A 61 6E } condition: $h }\n"
    "rule data { strings: $s = \"session opened\" fullword condition: #s in (0..filesize) > 1 }\n";

/* log_rules, with their variable `app` declared. */
static weir_rules_t *compile_logs(void)
{
    weir_var_t app = {"app", WEIR_VAR_STRING, 0, "kernel", 6};
    weir_source_t src = {"logs.yar", log_rules, sizeof log_rules - 1, NULL};
    weir_compile_options_t copt = {&app, 1};
    weir_rules_t *rules = NULL;
    if (weir_compile(&src, 1, &copt, &rules, NULL) != WEIR_OK)
        return NULL;
    return rules;
}

TEST(log_streams_with_variables)
{
    weir_rules_t *rules = compile_logs();
    ASSERT(rules);
    static const char *const lines[] = {
        "Jan 1 sshd[1]: Failed password for root from 1.2.3.4 \"r-1\"",
        "Jan 1 sshd[1]: invalid user bob from 5.6.7.8 \"r-2\"",
        "Jan 1 sshd[1]: pam_unix(sshd:session): session opened for user x \"r-3\"",
        "Jan 1 sshd[1]: Failed password for admin from 1.2.3.4 \"r-4\"",
        "Jan 2 CRON[2]: session opened \"r-5\"",
        "Jan 2 sshd[1]: Failed password for x from 9.9.9.9 \"r-6\""};
    gen_buf_t data[NSTREAMS] = {{0}};
    gen_rng_t r = {42};
    for (int i = 0; i < NSTREAMS; i++)
        for (int k = 0; k < 40; k++) {
            gen_puts(&data[i], lines[gen_below(&r, 6)]);
            gen_putc(&data[i], '\n');
        }
    gen_chunking_t ch[NSTREAMS] = {{0}};
    char dir[] = "/tmp/weir_scale.XXXXXX", path[64];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ckpt.mdb", dir);
    snprintf(spill_dir, sizeof spill_dir, "%s", dir);
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < NSTREAMS; i++)
            gen_chunk_random(&ch[i], &r, data[i].len, round == 0 ? 1 : 40 * (uint32_t)round);
        outcome_t ref;
        run(rules, data, ch, D_NONE, 0, path, &ref);
        size_t events = 0, results = 0;
        for (int i = 0; i < NSTREAMS; i++) {
            events += ref.ev[i].n;
            results += ref.res[i].n;
        }
        if (ref.st != WEIR_OK || events < NSTREAMS || results < NSTREAMS)
            T__FAIL("the reference run found too little: status %s, %zu events, %zu results",
                    weir_strerror(ref.st), events, results);
        for (int d = D_EVICT; d < D_COUNT; d++) {
            outcome_t o;
            run(rules, data, ch, (disturb_t)d, (uint64_t)round * 31 + (uint64_t)d, path, &o);
            if (!same(&ref, &o)) {
                report(&ref, &o, (disturb_t)d, log_rules, (uint64_t)d);
                test__failed_now = 1;
            }
            outcome_free(&o);
        }
        outcome_free(&ref);
    }
    for (int i = 0; i < NSTREAMS; i++) {
        gen_buf_free(&data[i]);
        gen_chunk_free(&ch[i]);
    }
    weir_rules_free(rules);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        T__FAIL("could not remove %s", dir);
}

/* After every call the budget holds, unless the stream in use is the only one left live. */
TEST(budget_bounds_memory)
{
    weir_rules_t *rules = compile_logs();
    ASSERT(rules);
    static const char line[] = "Jan 1 sshd[1]: Failed password for root from 1.2.3.4 \"r-1\"\n";
    weir_scanner_options_t opt = {0};
    opt.memory_limit = 64 * 1024;
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &sc), WEIR_OK);
    gen_rng_t r = {7};
    int over = 0;
    for (int k = 0; k < 20000; k++) {
        weir_id_t id = id_of(gen_below(&r, 2000));
        size_t cut = gen_below(&r, sizeof line);
        ASSERT_INT_EQ(weir_scan_chunk(sc, &id, line, cut), WEIR_OK);
        ASSERT_INT_EQ(weir_scan_chunk(sc, &id, line + cut, sizeof line - 1 - cut), WEIR_OK);
        weir_memory_stats_t m;
        ASSERT_INT_EQ(weir_memory_stats(sc, &m), WEIR_OK);
        if (m.total > opt.memory_limit && m.live > 1)
            over++;
        if (m.total != m.table + m.live_bytes + m.evicted_bytes + m.spare ||
            m.live_bytes != m.live_parts.context + m.live_parts.vectorscan + m.live_parts.history +
                                m.live_parts.matches + m.live_parts.trace_ids +
                                m.live_parts.other ||
            m.streams != m.live + m.evicted || m.total != weir_memory_usage(sc)) {
            T__FAIL("memory figures do not add up after call %d", k);
            break;
        }
    }
    CHECK_UINT(over, 0);
    weir_memory_stats_t m;
    ASSERT_INT_EQ(weir_memory_stats(sc, &m), WEIR_OK);
    ASSERT(m.evictions > 0 && m.restores > 0 && m.evicted > 0);
    /* Every stream saw 10 lines on average: the counts must say so, evicted or not. */
    uint64_t lines = 0;
    weir_id_t ids[2000];
    size_t n = 0;
    ASSERT_INT_EQ(weir_scanner_streams(sc, ids, 2000, &n), WEIR_OK);
    for (size_t i = 0; i < n; i++) {
        weir_stream_stats_t s;
        ASSERT_INT_EQ(weir_stream_stats(sc, &ids[i], &s), WEIR_OK);
        lines += s.lines;
    }
    ASSERT_UINT_EQ(lines, 20000);
    char *json = NULL, *text = NULL;
    ASSERT_INT_EQ(weir_memory_stats_format(sc, 1, &json), WEIR_OK);
    ASSERT_INT_EQ(weir_memory_stats_format(sc, 0, &text), WEIR_OK);
    char want[64];
    snprintf(want, sizeof want, "\"evictions\":%" PRIu64 ",", m.evictions);
    ASSERT(json[0] == '{' && json[strlen(json) - 1] == '}' && strstr(json, want) &&
           strstr(json, "\"live_parts\":{\"context\":"));
    snprintf(want, sizeof want, "evictions      %" PRIu64 "\n", m.evictions);
    ASSERT(strstr(text, want));
    free(json);
    free(text);
    weir_scanner_free(sc);
    weir_rules_free(rules);
}

/* 64-bit FNV-1a, to forge snapshots whose checksum still holds. */
static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void reseal(uint8_t *p, size_t n)
{
    memset(p + 20, 0, 8);
    uint64_t h = fnv(p, n);
    for (int i = 0; i < 8; i++)
        p[20 + i] = (uint8_t)(h >> (8 * i));
}

TEST(snapshots_refuse_bad_input)
{
    weir_rules_t *rules = compile_logs();
    weir_rules_t *other = compile("rule x { strings: $a = \"Failed\" condition: $a }");
    ASSERT(rules && other);
    weir_scanner_t *sc = NULL, *sc2 = NULL, *sco = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc2), WEIR_OK);
    ASSERT_INT_EQ(weir_scanner_new(other, NULL, &sco), WEIR_OK);
    weir_id_t id = id_of(9);
    static const char text[] = "Failed password for root \"a\"\nFailed pass";
    ASSERT_INT_EQ(weir_scan_chunk(sc, &id, text, sizeof text - 1), WEIR_OK);
    uint8_t *buf = NULL;
    size_t len = 0;
    ASSERT_INT_EQ(weir_stream_snapshot(sc, &id, (void **)&buf, &len), WEIR_OK);
    ASSERT_INT_EQ(weir_stream_restore(sco, buf, len, NULL), WEIR_ERULES);
    ASSERT_INT_EQ(weir_stream_restore(sc, buf, len, NULL), WEIR_ESTATE);
    for (size_t cut = 0; cut < len; cut++)
        CHECK_INT(weir_stream_restore(sc2, buf, cut, NULL), WEIR_EFORMAT);
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x10;
        CHECK_INT(weir_stream_restore(sc2, buf, len, NULL), WEIR_EFORMAT);
        buf[i] ^= 0x10;
    }
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc2), 0);
    /* Forged: another format version, and a damaged context behind a valid checksum. */
    uint8_t *copy = malloc(len);
    ASSERT(copy);
    memcpy(copy, buf, len);
    copy[8] = 99;
    reseal(copy, len);
    CHECK_INT(weir_stream_restore(sc2, copy, len, NULL), WEIR_EVERSION);
    size_t refused = 0, taken = 0;
    for (size_t i = 52; i < len; i++) {
        memcpy(copy, buf, len);
        copy[i] ^= 0xff;
        reseal(copy, len);
        weir_status_t st = weir_stream_restore(sc2, copy, len, NULL);
        if (st == WEIR_OK) {
            taken++;
            weir_id_t back = id_of(9);
            ASSERT_INT_EQ(weir_stream_reset(sc2, &back), WEIR_OK);
        } else {
            CHECK_INT(st == WEIR_EFORMAT || st == WEIR_EENGINE, 1);
            refused++;
        }
    }
    if (getenv("WEIR_TEST_TIMES"))
        fprintf(stderr, "  forged contexts: %zu refused, %zu taken\n", refused, taken);
    free(copy);
    /* The real one is taken, and goes on as the original. */
    weir_id_t back;
    ASSERT_INT_EQ(weir_stream_restore(sc2, buf, len, &back), WEIR_OK);
    ASSERT_MEM_EQ(back.bytes, id.bytes, 16);
    gen_set_t a = {0}, b = {0};
    static const char rest[] = "word for x \"b\"\n";
    ASSERT_INT_EQ(weir_scan_chunk(sc, &id, rest, sizeof rest - 1), WEIR_OK);
    ASSERT_INT_EQ(weir_scan_chunk(sc2, &id, rest, sizeof rest - 1), WEIR_OK);
    ASSERT_INT_EQ(weir_stream_close(sc, &id, gen_collect_results_traces, &a), WEIR_OK);
    ASSERT_INT_EQ(weir_stream_close(sc2, &id, gen_collect_results_traces, &b), WEIR_OK);
    gen_set_sort(&a);
    gen_set_sort(&b);
    ASSERT(a.n > 0 && gen_set_eq(&a, &b));
    ASSERT(gen_set_has(&a, "T failed $a 0000000029 b")); /* the second line's match */
    gen_set_free(&a);
    gen_set_free(&b);
    free(buf);
    weir_scanner_free(sc);
    weir_scanner_free(sc2);
    weir_scanner_free(sco);
    weir_rules_free(rules);
    weir_rules_free(other);
}

/*
 * kill -9 at random moments of a process that feeds streams and checkpoints after every round:
 * the store must always open, hold one whole checkpoint (every stream at the same round), and
 * resuming from it must give the results of an uninterrupted run.
 */
#define K_STREAMS 3000
#define K_ROUNDS 30

static void k_line(char *buf, size_t cap, uint32_t stream, int round)
{
    static const char *const msg[] = {"Failed password for root from 10.0.0.1",
                                      "invalid user bob from 10.0.0.2", "session opened",
                                      "Accepted publickey", "session opened for user x"};
    snprintf(buf, cap, "Jan %d host%u: %s \"s%u-r%d\"\n", round + 1, stream,
             msg[(stream + (uint32_t)round) % 5], stream, round);
}

static void k_feed_round(weir_scanner_t *sc, int round)
{
    char line[160];
    for (uint32_t s = 0; s < K_STREAMS; s++) {
        weir_id_t id = id_of(s);
        k_line(line, sizeof line, s, round);
        if (weir_scan_chunk(sc, &id, line, strlen(line)) != WEIR_OK)
            _exit(3);
    }
}

/* Final results of every stream, one set. */
static void k_close_all(weir_scanner_t *sc, gen_set_t *out)
{
    for (uint32_t s = 0; s < K_STREAMS; s++) {
        weir_id_t id = id_of(s);
        gen_set_add(out, "S %u", s);
        if (weir_stream_close(sc, &id, gen_collect_results_traces, out) != WEIR_OK)
            gen_set_add(out, "close failed %u", s);
    }
    gen_set_sort(out);
}

TEST(checkpoint_survives_kill_9)
{
    char dir[] = "/tmp/weir_kill.XXXXXX", path[64];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ckpt.mdb", dir);
    weir_rules_t *rules = compile_logs();
    ASSERT(rules);
    /* The uninterrupted run. */
    gen_set_t ref = {0};
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
    for (int round = 0; round < K_ROUNDS; round++)
        k_feed_round(sc, round);
    k_close_all(sc, &ref);
    weir_scanner_free(sc);
    gen_rng_t r = {0xdead};
    int resumed = 0, mid = 0;
    for (int kill_no = 0; kill_no < 8; kill_no++) {
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
            weir_scanner_t *c = NULL;
            if (weir_scanner_new(rules, NULL, &c) != WEIR_OK)
                _exit(2);
            /* Every other child resumes from the last checkpoint; the others start over. */
            size_t n = 0;
            int start = 0;
            if (kill_no % 2 && weir_scanner_restore(c, path, &n) == WEIR_OK && n) {
                weir_id_t id0 = id_of(0);
                weir_stream_stats_t st;
                if (weir_stream_stats(c, &id0, &st) != WEIR_OK)
                    _exit(4);
                start = (int)st.lines;
            }
            for (int round = start; round < K_ROUNDS; round++) {
                k_feed_round(c, round);
                if (weir_scanner_checkpoint(c, path) != WEIR_OK)
                    _exit(5);
            }
            _exit(0);
        }
        usleep(1000u * gen_range(&r, 5, 400));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            T__FAIL("the checkpointing child failed with status %d", WEXITSTATUS(status));
        if (WIFSIGNALED(status))
            mid++;
        /* Whatever the moment, the store holds one whole round of every stream. */
        weir_scanner_t *c = NULL;
        ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &c), WEIR_OK);
        size_t n = 0;
        weir_status_t st = weir_scanner_restore(c, path, &n);
        if (st == WEIR_EIO) { /* killed before the first checkpoint committed */
            weir_scanner_free(c);
            continue;
        }
        ASSERT_INT_EQ(st, WEIR_OK);
        ASSERT_UINT_EQ(n, K_STREAMS);
        weir_id_t id0 = id_of(0);
        weir_stream_stats_t s0;
        ASSERT_INT_EQ(weir_stream_stats(c, &id0, &s0), WEIR_OK);
        for (uint32_t s = 1; s < K_STREAMS; s++) {
            weir_id_t id = id_of(s);
            weir_stream_stats_t ss;
            ASSERT_INT_EQ(weir_stream_stats(c, &id, &ss), WEIR_OK);
            ASSERT_UINT_EQ(ss.lines, s0.lines);
        }
        weir_scanner_free(c);
        resumed++;
    }
    /* Finally resume once more, to the end, and compare with the uninterrupted run. */
    weir_scanner_t *c = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &c), WEIR_OK);
    size_t n = 0;
    int start = 0;
    if (weir_scanner_restore(c, path, &n) == WEIR_OK) {
        weir_id_t id0 = id_of(0);
        weir_stream_stats_t s0;
        ASSERT_INT_EQ(weir_stream_stats(c, &id0, &s0), WEIR_OK);
        start = (int)s0.lines;
    }
    for (int round = start; round < K_ROUNDS; round++)
        k_feed_round(c, round);
    gen_set_t got = {0};
    k_close_all(c, &got);
    if (!gen_set_eq(&ref, &got)) {
        gen_set_diff(stderr, "uninterrupted", &ref, "resumed", &got, 20);
        T__FAIL("resuming from a checkpoint changed the results");
    }
    if (getenv("WEIR_TEST_TIMES"))
        fprintf(stderr, "  %d kills (%d mid-run), %d stores resumed, final resume at round %d\n", 8,
                mid, resumed, start);
    CHECK_INT(resumed > 0, 1);
    weir_scanner_free(c);
    gen_set_free(&ref);
    gen_set_free(&got);
    weir_rules_free(rules);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        T__FAIL("could not remove %s", dir);
}

static uint64_t fake_now;
static uint64_t fake_clock(void *user)
{
    (void)user;
    return fake_now;
}

TEST(idle_expiry_closes_with_final_results)
{
    weir_rules_t *rules = compile_logs();
    ASSERT(rules);
    weir_scanner_options_t opt = {0};
    opt.memory_limit = 1; /* expiry must find evicted streams too */
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &sc), WEIR_OK);
    weir_scanner_set_clock(sc, fake_clock, NULL);
    outcome_t o;
    memset(&o, 0, sizeof o);
    weir_scanner_set_callback(sc, on_event, &o);
    static const char a[] = "x Failed password for y \"ta\"\n";
    weir_id_t s0 = id_of(0), s1 = id_of(1), s2 = id_of(2);
    fake_now = 1000;
    ASSERT_INT_EQ(weir_scan_chunk(sc, &s0, a, sizeof a - 1), WEIR_OK);
    fake_now = 1500;
    ASSERT_INT_EQ(weir_scan_chunk(sc, &s1, a, sizeof a - 1), WEIR_OK);
    fake_now = 2000;
    ASSERT_INT_EQ(weir_scan_chunk(sc, &s2, a, sizeof a - 1), WEIR_OK);
    fake_now = 2100;
    gen_set_t res = {0};
    size_t closed = 0;
    /* Idle for more than 600 ms at 2100: s0 (1100 ms) and s1 (600 ms: not more) */
    ASSERT_INT_EQ(weir_scanner_expire(sc, 600, gen_collect_results, &res, &closed), WEIR_OK);
    ASSERT_UINT_EQ(closed, 1);
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 2);
    ASSERT_INT_EQ(weir_stream_stats(sc, &s0, &(weir_stream_stats_t){0}), WEIR_ENOTFOUND);
    /* The closed stream's rules decided at close fired then ("never": no Accepted). */
    ASSERT(gen_set_has(&o.ev[0], "never line=1 close=1 ids="));
    gen_set_sort(&res);
    ASSERT(gen_set_has(&res, "R failed") && gen_set_has(&res, "R never"));
    fake_now = 2501;
    ASSERT_INT_EQ(weir_scanner_expire(sc, 1000, NULL, NULL, &closed), WEIR_OK);
    ASSERT_UINT_EQ(closed, 1); /* s1 */
    ASSERT_INT_EQ(weir_scanner_expire(sc, 0, NULL, NULL, &closed), WEIR_OK);
    ASSERT_UINT_EQ(closed, 1); /* s2 */
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 0);
    weir_memory_stats_t m;
    ASSERT_INT_EQ(weir_memory_stats(sc, &m), WEIR_OK);
    ASSERT_UINT_EQ(m.expired, 3);
    ASSERT_UINT_EQ(m.live_bytes + m.evicted_bytes, 0);
    gen_set_free(&res);
    outcome_free(&o);
    weir_scanner_free(sc);
    weir_rules_free(rules);
}

/* A spill store: evicted streams leave memory for the file, which goes with the scanner. */
TEST(spill_store)
{
    char dir[] = "/tmp/weir_spill.XXXXXX";
    ASSERT(mkdtemp(dir));
    weir_rules_t *rules = compile_logs();
    ASSERT(rules);
    weir_scanner_options_t opt = {0};
    opt.memory_limit = 1;
    opt.spill_dir = "/nonexistent/dir";
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &sc), WEIR_EIO);
    opt.spill_dir = dir;
    ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &sc), WEIR_OK);
    static const char line[] = "sshd: Failed password for root \"q\"\n";
    for (uint32_t i = 0; i < 300; i++) {
        weir_id_t id = id_of(i);
        ASSERT_INT_EQ(weir_scan_chunk(sc, &id, line, sizeof line - 1), WEIR_OK);
    }
    weir_memory_stats_t m;
    ASSERT_INT_EQ(weir_memory_stats(sc, &m), WEIR_OK);
    ASSERT_UINT_EQ(m.live, 1);
    ASSERT_UINT_EQ(m.spilled, 299);
    ASSERT(m.spill_file > 299 * 40);
    /* a spilled stream costs no memory: no snapshot, no table entry */
    ASSERT_UINT_EQ(m.evicted, 299);
    ASSERT_UINT_EQ(m.evicted_bytes, 0);
    ASSERT_UINT_EQ(m.streams, 300);
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 300);
    weir_id_t id = id_of(17);
    weir_stream_stats_t s;
    ASSERT_INT_EQ(weir_stream_stats(sc, &id, &s), WEIR_OK);
    ASSERT(s.evicted && s.bytes == sizeof line - 1 && s.lines == 1);
    gen_set_t res = {0};
    ASSERT_INT_EQ(weir_stream_close(sc, &id, gen_collect_results_traces, &res), WEIR_OK);
    ASSERT(gen_set_has(&res, "T failed $a 0000000006 q"));
    gen_set_free(&res);
    weir_scanner_free(sc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rmdir %s", dir); /* fails unless the store removed its files */
    CHECK_INT(system(cmd), 0);
    weir_rules_free(rules);
}

/* weir_scan_batch is the same as the calls it replaces, in order. */
TEST(scan_batch_equals_single_calls)
{
    weir_rules_t *rules = compile_logs();
    ASSERT(rules);
    static const char *const lines[] = {"sshd: Failed password for root \"a\"\n",
                                        "sshd: invalid user bob from 1.2.3.4 \"b\"\n",
                                        "CRON: session opened \"c\"\n", "\n", "partial "};
    enum { NS = 40, NC = 3000 };
    weir_chunk_t *chunks = calloc(NC, sizeof *chunks);
    ASSERT(chunks);
    gen_rng_t r = {99};
    for (size_t i = 0; i < NC; i++) {
        const char *l = lines[gen_below(&r, 5)];
        size_t cut = gen_below(&r, (uint32_t)strlen(l) + 1);
        chunks[i].stream = id_of(gen_below(&r, NS));
        chunks[i].data = i % 2 ? l + cut : l;
        chunks[i].len = i % 2 ? strlen(l) - cut : cut;
    }
    gen_set_t want = {0}, got = {0};
    for (int pass = 0; pass < 2; pass++) {
        gen_set_t *out = pass ? &got : &want;
        weir_scanner_t *sc = NULL;
        ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
        weir_scanner_set_callback(sc, gen_collect_events, out);
        if (pass == 0) {
            for (size_t i = 0; i < NC; i++)
                ASSERT_INT_EQ(weir_scan_chunk(sc, &chunks[i].stream, chunks[i].data, chunks[i].len),
                              WEIR_OK);
        } else {
            for (size_t i = 0, n; i < NC; i += n) {
                n = 1 + gen_below(&r, 200);
                if (n > NC - i)
                    n = NC - i;
                size_t done = 0;
                ASSERT_INT_EQ(weir_scan_batch(sc, chunks + i, n, &done), WEIR_OK);
                ASSERT_UINT_EQ(done, n);
            }
        }
        for (uint32_t k = 0; k < NS; k++) {
            weir_id_t id = id_of(k);
            gen_set_add(out, "stream %u", k);
            ASSERT_INT_EQ(weir_stream_close(sc, &id, gen_collect_results_traces, out), WEIR_OK);
        }
        weir_scanner_free(sc);
    }
    ASSERT(want.n > NS * 2);
    if (!gen_set_eq(&want, &got)) {
        gen_set_diff(stderr, "single calls", &want, "batches", &got, 10);
        T__FAIL("weir_scan_batch differs from weir_scan_chunk");
    }
    /* A bad chunk anywhere: nothing is fed. */
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
    chunks[5].data = NULL;
    size_t done = 7;
    ASSERT_INT_EQ(weir_scan_batch(sc, chunks, 10, &done), WEIR_EINVAL);
    ASSERT_UINT_EQ(done, 0);
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 0);
    ASSERT_INT_EQ(weir_scan_batch(sc, NULL, 0, &done), WEIR_OK);
    weir_scanner_free(sc);
    free(chunks);
    gen_set_free(&want);
    gen_set_free(&got);
    weir_rules_free(rules);
}

static int count_matches(const weir_rule_result_t *res, void *user)
{
    if (strcmp(res->rule->name, "failed") == 0)
        *(size_t *)user = res->nmatches;
    return 0;
}

/* max_matches caps the matches kept per string, also across a snapshot. */
TEST(max_matches_caps_lists)
{
    weir_rules_t *rules = compile_logs();
    ASSERT(rules);
    static const char line[] = "x Failed password for y \"t\"\n";
    weir_scanner_options_t opt = {0};
    opt.max_matches = 3;
    weir_scanner_t *sc = NULL, *small = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &sc), WEIR_OK);
    opt.max_matches = 2;
    ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &small), WEIR_OK);
    weir_id_t id = id_of(1);
    for (int i = 0; i < 10; i++)
        ASSERT_INT_EQ(weir_scan_chunk(sc, &id, line, sizeof line - 1), WEIR_OK);
    void *buf = NULL;
    size_t len = 0, n = 0;
    ASSERT_INT_EQ(weir_stream_snapshot(sc, &id, &buf, &len), WEIR_OK);
    ASSERT_INT_EQ(weir_stream_restore(small, buf, len, NULL), WEIR_OK);
    ASSERT_INT_EQ(weir_stream_results(sc, &id, count_matches, &n), WEIR_OK);
    ASSERT_UINT_EQ(n, 3);
    ASSERT_INT_EQ(weir_stream_results(small, &id, count_matches, &n), WEIR_OK);
    ASSERT_UINT_EQ(n, 2);
    free(buf);
    weir_scanner_free(sc);
    weir_scanner_free(small);
    weir_rules_free(rules);
}

TEST_MAIN(TEST_ENTRY(disturbances_never_change_results), TEST_ENTRY(max_matches_caps_lists),
          TEST_ENTRY(scan_batch_equals_single_calls), TEST_ENTRY(log_streams_with_variables),
          TEST_ENTRY(spill_store), TEST_ENTRY(budget_bounds_memory),
          TEST_ENTRY(snapshots_refuse_bad_input), TEST_ENTRY(checkpoint_survives_kill_9),
          TEST_ENTRY(idle_expiry_closes_with_final_results))
