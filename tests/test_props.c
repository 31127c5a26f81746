/*
 * test_props.c - weir's contract as properties that need no yara: chunking
 * invariance, stream isolation, trace ids, live firing, argument checks, ids,
 * compiled-rules files, memory accounting and diagnostics.
 */
#define _DEFAULT_SOURCE /* popen, mkdtemp */
#include "gen.h"
#include "test.h"
#include "weir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOGHUB_DIR "/work/shared/corpora/logs/loghub"

/* ---- helpers ----------------------------------------------------------------- */

static weir_rules_t *compile(const char *text)
{
    weir_rules_t *r = NULL;
    weir_diags_t *d = NULL;
    weir_status_t st = weir_compile_buffer(text, strlen(text), "test.yar", NULL, &r, &d);
    if (st != WEIR_OK) {
        fprintf(stderr, "  compile failed: %s\n%s\n", weir_strerror(st), text);
        for (size_t i = 0; i < weir_diags_count(d); i++) {
            const weir_diag_t *g = weir_diags_get(d, i);
            fprintf(stderr, "    %u:%u: %s\n", (unsigned)g->line, (unsigned)g->column, g->message);
        }
    }
    weir_diags_free(d);
    return r;
}

static weir_id_t id_of(uint32_t n)
{
    weir_id_t id;
    memset(&id, 0xa5, sizeof id);
    memcpy(id.bytes, &n, sizeof n);
    return id;
}

/* The outcome of scanning one stream: final results with trace ids, and events. */
typedef struct outcome {
    gen_set_t res, ev;
    weir_status_t st;
} outcome_t;

static void outcome_free(outcome_t *o)
{
    gen_set_free(&o->res);
    gen_set_free(&o->ev);
}

/* Scans data in chunking ch on a fresh scanner and closes the stream. */
static void scan_once(const weir_rules_t *rules, const void *data, const gen_chunking_t *ch,
                      outcome_t *o)
{
    weir_scanner_t *sc = NULL;
    weir_id_t id = id_of(1);
    memset(o, 0, sizeof *o);
    o->st = weir_scanner_new(rules, NULL, &sc);
    if (o->st != WEIR_OK)
        return;
    weir_scanner_set_callback(sc, gen_collect_events, &o->ev);
    o->st = gen_feed(sc, &id, data, ch);
    weir_status_t cst = weir_stream_close(sc, &id, gen_collect_results_traces, &o->res);
    if (o->st == WEIR_OK)
        o->st = cst;
    gen_set_sort(&o->res);
    weir_scanner_free(sc);
}

/* Compares an outcome with the reference; prints the reproducer once per call site. */
static int same_outcome(const outcome_t *ref, const outcome_t *o, const char *rules,
                        const void *data, size_t len, const gen_chunking_t *ch)
{
    if (o->st == ref->st && gen_set_eq(&ref->res, &o->res) && gen_set_eq(&ref->ev, &o->ev))
        return 1;
    fprintf(stderr, "  chunking changed the outcome (status %s vs %s)\n  rules:\n%s\n  data: ",
            weir_strerror(ref->st), weir_strerror(o->st), rules);
    if (len <= 4096)
        gen_print_c_string(stderr, data, len);
    else
        fprintf(stderr, "(%zu bytes)", len);
    fputc('\n', stderr);
    gen_chunk_print(stderr, ch);
    gen_set_diff(stderr, "one chunk", &ref->res, "chunked", &o->res, 10);
    if (!gen_set_eq(&ref->ev, &o->ev)) {
        gen_set_print(stderr, "events, one chunk", &ref->ev, 20);
        gen_set_print(stderr, "events, chunked", &o->ev, 20);
    }
    return 0;
}

/* Rules that suit logs: live rules, rules decided only at close, regexes, hex, fullword. */
static const char log_rules[] =
    "rule get_detail { strings: $a = \"GET /v2/\" $b = \"servers/detail\" condition: $a and $b "
    "}\n"
    "rule errors { strings: $e = /(ERROR|[Ee]rror|fail(ed|ure))/ condition: #e > 3 }\n"
    "rule status5xx { strings: $s = /status: 5\\d\\d/ condition: $s }\n"
    "rule auth { strings: $u = \"Invalid user\" fullword $r = /user [a-z]+ from/ condition: any "
    "of them }\n"
    "rule exactly_two { strings: $x = \"authentication failure\" condition: #x == 2 }\n"
    "rule session { strings: $w = \"session\" nocase condition: $w }\n"
    "rule req { strings: $r = /req-[0-9a-f]{8}-[0-9a-f]{4}/ condition: $r and filesize > 1000 }\n"
    "rule preauth { strings: $h = { 5B 70 72 65 61 75 74 68 5D } condition: $h }\n"
    "rule never { strings: $n = \"zzzzqq\" condition: not $n }\n"
    "private rule p_quote { strings: $q = \"\\\"\" condition: #q > 10 }\n"
    "rule quoted_get { strings: $g = /\"GET [^\"]{1,40}\"/ condition: p_quote and $g }\n"
    "rule early { strings: $a = \"INFO\" condition: $a in (0..5000) }\n"
    "rule spread { strings: $a = /\\b[0-9]{3}\\b/ condition: for all i in (1..#a) : (@a[i] > "
    "10) }\n";

/* A small fixed rule set with every kind of rule, for small random data. */
static const char small_rules[] =
    "rule live_a { strings: $a = \"ab\" condition: $a }\n"
    "rule close_not { strings: $a = \"xx\" condition: not $a }\n"
    "rule close_eq { strings: $a = \"a\" condition: #a == 3 }\n"
    "rule gt { strings: $a = \"b\" condition: #a > 2 }\n"
    "rule fw { strings: $a = \"ab\" fullword condition: $a }\n"
    "rule re_end { strings: $a = /a\\n?b$/ condition: $a }\n"
    "rule re_lazy { strings: $a = /\"[^\"\\n]*?\"/ condition: $a }\n"
    "rule hexj { strings: $h = { 61 [0-3] 62 ( 20 | 0A ) } condition: $h }\n"
    "private rule priv { strings: $a = \"\\\"\" condition: $a }\n"
    "rule uses_priv { condition: priv and filesize > 4 }\n";

/* ---- chunking invariance ------------------------------------------------------ */

TEST(chunking_every_split_small)
{
    weir_rules_t *rules = compile(small_rules);
    ASSERT(rules);
    gen_rng_t r = {0xc0ffee};
    gen_buf_t data = {0};
    gen_chunking_t ch = {0};
    int bad = 0;
    for (int it = 0; it < 60 && bad < 3; it++) {
        gen_data(&r, &data, 63);
        if (data.len > 63)
            data.len = 63;
        outcome_t ref, o;
        gen_chunk_whole(&ch, data.len);
        scan_once(rules, data.p, &ch, &ref);
        if (ref.st != WEIR_OK) {
            T__FAIL("scan failed: %s", weir_strerror(ref.st));
            outcome_free(&ref);
            break;
        }
        for (size_t k = 0; k <= data.len + 1 && bad < 3; k++) {
            if (k <= data.len)
                gen_chunk_split(&ch, data.len, k);
            else
                gen_chunk_bytes(&ch, data.len);
            scan_once(rules, data.p, &ch, &o);
            if (!same_outcome(&ref, &o, small_rules, data.p, data.len, &ch)) {
                bad++;
                test__failed_now = 1;
            }
            outcome_free(&o);
        }
        outcome_free(&ref);
    }
    gen_buf_free(&data);
    gen_chunk_free(&ch);
    weir_rules_free(rules);
}

TEST(chunking_random_rules)
{
    gen_rng_t r = {0xfeed};
    gen_buf_t rt = {0}, data = {0};
    gen_chunking_t ch = {0};
    int bad = 0, used = 0;
    for (int it = 0; it < 40 && bad < 3; it++) {
        gen_rules(&r, &rt, 5);
        weir_rules_t *rules = NULL;
        if (weir_compile_buffer(rt.p, rt.len, "gen.yar", NULL, &rules, NULL) != WEIR_OK)
            continue; /* test_diff.c checks compilation against yara */
        used++;
        for (int d = 0; d < 3; d++) {
            gen_data(&r, &data, 2000);
            outcome_t ref, o;
            gen_chunk_whole(&ch, data.len);
            scan_once(rules, data.p, &ch, &ref);
            for (int k = 0; k < 6; k++) {
                if (k == 0)
                    gen_chunk_bytes(&ch, data.len);
                else
                    gen_chunk_random(&ch, &r, data.len, k * k * 20);
                scan_once(rules, data.p, &ch, &o);
                if (!same_outcome(&ref, &o, rt.p, data.p, data.len, &ch)) {
                    bad++;
                    test__failed_now = 1;
                }
                outcome_free(&o);
            }
            outcome_free(&ref);
        }
        weir_rules_free(rules);
    }
    if (used < 20)
        T__FAIL("weir compiled only %d of 40 generated rule files", used);
    gen_buf_free(&rt);
    gen_buf_free(&data);
    gen_chunk_free(&ch);
}

/* Appends whole loghub files (read where they lie) until out holds want bytes. */
static int loghub_read(gen_buf_t *out, size_t want)
{
    static const char *const files[] = {"OpenStack/OpenStack_2k.log", "OpenSSH/OpenSSH_2k.log",
                                        "Android/Android_2k.log", "Mac/Mac_2k.log",
                                        "Apache/Apache_2k.log"};
    for (size_t i = 0; i < sizeof files / sizeof files[0] && out->len < want; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", LOGHUB_DIR, files[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        char buf[8192];
        size_t n;
        while (out->len < want && (n = fread(buf, 1, sizeof buf, f)) > 0)
            gen_putn(out, buf, n < want - out->len ? n : want - out->len);
        fclose(f);
    }
    return out->len > 0;
}

TEST(chunking_loghub_200k)
{
    DIR *d = opendir(LOGHUB_DIR);
    if (!d) {
        fprintf(stderr, "  note: %s is absent; chunking_loghub_200k skipped\n", LOGHUB_DIR);
        return;
    }
    closedir(d);
    gen_buf_t data = {0};
    ASSERT(loghub_read(&data, 200 * 1024));
    weir_rules_t *rules = compile(log_rules);
    ASSERT(rules);
    gen_rng_t r = {0x10c};
    gen_chunking_t ch = {0};
    outcome_t ref, o;
    gen_chunk_whole(&ch, data.len);
    scan_once(rules, data.p, &ch, &ref);
    if (ref.st != WEIR_OK)
        T__FAIL("scan failed: %s", weir_strerror(ref.st));
    /* The data must make the rules do something, or the test proves nothing. */
    if (ref.ev.n < 5)
        T__FAIL("only %zu events on the loghub data", ref.ev.n);
    static const uint32_t max[] = {1, 3, 17, 200, 4096, 70000};
    for (size_t k = 0; k < sizeof max / sizeof max[0]; k++) {
        gen_chunk_random(&ch, &r, data.len, max[k]);
        scan_once(rules, data.p, &ch, &o);
        if (!same_outcome(&ref, &o, log_rules, data.p, data.len, &ch))
            test__failed_now = 1;
        outcome_free(&o);
    }
    /* weir_scan_line per line is weir_scan_chunk of the line and "\n". */
    if (data.len && data.p[data.len - 1] != '\n')
        gen_putc(&data, '\n');
    outcome_t whole, lines = {0};
    gen_chunk_whole(&ch, data.len);
    scan_once(rules, data.p, &ch, &whole);
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
    weir_scanner_set_callback(sc, gen_collect_events, &lines.ev);
    weir_id_t id = id_of(7);
    for (size_t s = 0, e; s < data.len; s = e + 1) {
        e = s;
        while (data.p[e] != '\n')
            e++;
        weir_status_t st = weir_scan_line(sc, &id, data.p + s, e - s);
        if (st != WEIR_OK) {
            T__FAIL("weir_scan_line: %s", weir_strerror(st));
            break;
        }
    }
    ASSERT_INT_EQ(weir_stream_close(sc, &id, gen_collect_results_traces, &lines.res), WEIR_OK);
    gen_set_sort(&lines.res);
    gen_chunk_whole(&ch, data.len);
    strcpy(ch.what, "weir_scan_line per line");
    if (!same_outcome(&whole, &lines, log_rules, data.p, data.len, &ch))
        test__failed_now = 1;
    weir_scanner_free(sc);
    outcome_free(&whole);
    outcome_free(&lines);
    outcome_free(&ref);
    gen_chunk_free(&ch);
    gen_buf_free(&data);
    weir_rules_free(rules);
}

/* ---- stream isolation ------------------------------------------------------------ */

#define NSTREAMS 2048

typedef struct iso {
    gen_buf_t data;
    size_t fed;
    outcome_t alone, mixed;
    int closed;
} iso_t;

static iso_t *iso_streams;

/* Event callback of the shared scanner: routes each event to its stream. */
static int iso_event(const weir_match_event_t *ev, void *user)
{
    (void)user;
    uint32_t n;
    memcpy(&n, ev->stream.bytes, sizeof n);
    if (n >= NSTREAMS)
        return 1;
    return gen_collect_events(ev, &iso_streams[n].mixed.ev);
}

static void isolation_run(const weir_rules_t *rules, int random_order, int with_reset)
{
    gen_rng_t r = {random_order ? 0x150 : 0x151};
    weir_scanner_t *sc = NULL;
    gen_chunking_t ch = {0};
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
    iso_streams = calloc(NSTREAMS, sizeof *iso_streams);
    ASSERT(iso_streams);
    for (uint32_t i = 0; i < NSTREAMS; i++) {
        iso_t *s = &iso_streams[i];
        gen_data(&r, &s->data, 400);
        gen_chunk_whole(&ch, s->data.len);
        scan_once(rules, s->data.p, &ch, &s->alone);
    }
    weir_scanner_set_callback(sc, iso_event, NULL);
    size_t open = 0, left = NSTREAMS, rr = 0;
    uint32_t victim = 17; /* reset mid-way and fed again from the start */
    int victim_reset = !with_reset;
    while (left) {
        uint32_t i = random_order ? gen_below(&r, NSTREAMS) : (uint32_t)(rr++ % NSTREAMS);
        iso_t *s = &iso_streams[i];
        if (s->closed)
            continue;
        weir_id_t id = id_of(i);
        size_t n = gen_below(&r, 40);
        if (n > s->data.len - s->fed)
            n = s->data.len - s->fed;
        if (s->fed == 0)
            open++;
        weir_status_t st = weir_scan_chunk(sc, &id, s->data.p + s->fed, n);
        if (st != WEIR_OK) {
            T__FAIL("stream %u: weir_scan_chunk: %s", i, weir_strerror(st));
            break;
        }
        s->fed += n;
        if (i == victim && !victim_reset && s->fed > s->data.len / 2) {
            ASSERT_INT_EQ(weir_stream_reset(sc, &id), WEIR_OK);
            gen_set_clear(&s->mixed.ev);
            s->fed = 0;
            victim_reset = 1;
            continue;
        }
        if (s->fed == s->data.len) {
            if (s->data.len == 0)
                ASSERT_INT_EQ(weir_scan_chunk(sc, &id, "", 0), WEIR_OK); /* opens it */
            size_t before = weir_scanner_stream_count(sc);
            st = weir_stream_close(sc, &id, gen_collect_results_traces, &s->mixed.res);
            if (st != WEIR_OK) {
                T__FAIL("stream %u: weir_stream_close: %s", i, weir_strerror(st));
                break;
            }
            if (weir_scanner_stream_count(sc) != before - 1)
                T__FAIL("stream count %zu after closing one of %zu", weir_scanner_stream_count(sc),
                        before);
            gen_set_sort(&s->mixed.res);
            s->closed = 1;
            left--;
        }
    }
    (void)open;
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 0);
    int bad = 0;
    for (uint32_t i = 0; i < NSTREAMS; i++) {
        iso_t *s = &iso_streams[i];
        if (!gen_set_eq(&s->alone.res, &s->mixed.res) || !gen_set_eq(&s->alone.ev, &s->mixed.ev)) {
            if (bad++ < 3) {
                fprintf(stderr, "  stream %u (%s order%s) differs from the same stream alone\n", i,
                        random_order ? "random" : "round-robin",
                        i == victim && with_reset ? ", the reset one" : "");
                gen_set_diff(stderr, "alone", &s->alone.res, "interleaved", &s->mixed.res, 10);
                gen_set_print(stderr, "events alone", &s->alone.ev, 10);
                gen_set_print(stderr, "events interleaved", &s->mixed.ev, 10);
            }
        }
    }
    if (bad)
        T__FAIL("%d of %d interleaved streams differ from their results alone", bad, NSTREAMS);
    for (uint32_t i = 0; i < NSTREAMS; i++) {
        gen_buf_free(&iso_streams[i].data);
        outcome_free(&iso_streams[i].alone);
        outcome_free(&iso_streams[i].mixed);
    }
    free(iso_streams);
    iso_streams = NULL;
    gen_chunk_free(&ch);
    weir_scanner_free(sc);
}

TEST(isolation_round_robin)
{
    weir_rules_t *rules = compile(small_rules);
    ASSERT(rules);
    isolation_run(rules, 0, 0);
    weir_rules_free(rules);
}

TEST(isolation_random_order_with_reset)
{
    weir_rules_t *rules = compile(small_rules);
    ASSERT(rules);
    isolation_run(rules, 1, 1);
    weir_rules_free(rules);
}

TEST(isolation_reset_and_close_leave_others_alone)
{
    weir_rules_t *rules = compile("rule r { strings: $a = \"hit\" condition: #a >= 1 }");
    ASSERT(rules);
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
    weir_id_t a = id_of(1), b = id_of(2), c = id_of(3);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &a, "h", 1), WEIR_OK);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &b, "hi", 2), WEIR_OK);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &c, "x", 1), WEIR_OK);
    ASSERT_INT_EQ(weir_stream_reset(sc, &a), WEIR_OK);
    ASSERT_INT_EQ(weir_stream_reset(sc, &a), WEIR_ENOTFOUND);
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 2);
    gen_set_t rb = {0};
    ASSERT_INT_EQ(weir_scan_chunk(sc, &b, "t", 1), WEIR_OK); /* "hit" across chunks */
    ASSERT_INT_EQ(weir_stream_close(sc, &c, NULL, NULL), WEIR_OK);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &a, "it", 2), WEIR_OK); /* a starts again: "it" */
    ASSERT_INT_EQ(weir_stream_close(sc, &b, gen_collect_results, &rb), WEIR_OK);
    gen_set_sort(&rb);
    ASSERT_UINT_EQ(rb.n, 2);
    ASSERT_STR_EQ(rb.v[1], "R r");
    ASSERT_STR_EQ(rb.v[0], "M r $a 0000000000 3");
    gen_set_t ra = {0};
    ASSERT_INT_EQ(weir_stream_close(sc, &a, gen_collect_results, &ra), WEIR_OK);
    ASSERT_UINT_EQ(ra.n, 0);
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 0);
    gen_set_free(&ra);
    gen_set_free(&rb);
    weir_scanner_free(sc);
    weir_rules_free(rules);
}

/* ---- trace ids and live firing ---------------------------------------------------- */

typedef struct rec_match {
    char rule[32], sid[8], trace[64];
    uint64_t off;
} rec_match_t;

typedef struct rec {
    rec_match_t m[64];
    size_t nm;
    char ev[32][160];
    size_t nev;
    int closing; /* set before weir_stream_close */
} rec_t;

static int rec_result(const weir_rule_result_t *res, void *user)
{
    rec_t *r = user;
    for (size_t i = 0; i < res->nmatches && r->nm < 64; i++) {
        rec_match_t *m = &r->m[r->nm++];
        snprintf(m->rule, sizeof m->rule, "%s", res->rule->name);
        snprintf(m->sid, sizeof m->sid, "%s", res->matches[i].string_id);
        snprintf(m->trace, sizeof m->trace, "%s",
                 res->matches[i].trace_id ? res->matches[i].trace_id : "(none)");
        m->off = res->matches[i].offset;
    }
    return 0;
}

/* Records "rule line=N close=C live=L ids=a|b" and checks at_close against the phase. */
static int rec_event(const weir_match_event_t *ev, void *user)
{
    rec_t *r = user;
    char ids[96] = "";
    for (size_t i = 0; i < ev->ntrace_ids; i++) {
        size_t l = strlen(ids);
        snprintf(ids + l, sizeof ids - l, "%s%s", i ? "|" : "", ev->trace_ids[i]);
    }
    if (r->nev < 32)
        snprintf(r->ev[r->nev++], sizeof r->ev[0], "%s line=%lld close=%d live=%d ids=%s%s",
                 ev->rule->name, ev->at_close ? -1LL : (long long)ev->line, ev->at_close,
                 ev->rule->fires_live, ids, ev->at_close != r->closing ? " PHASE-MISMATCH" : "");
    return 0;
}

/* Scans text in chunks of step bytes (0: whole) and closes; fills rec. */
static weir_status_t run_text(const char *rules_text, const char *text, size_t step, rec_t *rec)
{
    weir_rules_t *rules = compile(rules_text);
    weir_scanner_t *sc = NULL;
    weir_id_t id = id_of(5);
    memset(rec, 0, sizeof *rec);
    weir_status_t st = rules ? weir_scanner_new(rules, NULL, &sc) : WEIR_ECOMPILE;
    if (st == WEIR_OK) {
        weir_scanner_set_callback(sc, rec_event, rec);
        size_t len = strlen(text);
        for (size_t off = 0; off < len && st == WEIR_OK; off += step ? step : len)
            st = weir_scan_chunk(sc, &id, text + off, step && len - off > step ? step : len - off);
        rec->closing = 1;
        if (st == WEIR_OK)
            st = weir_stream_close(sc, &id, rec_result, rec);
    }
    weir_scanner_free(sc);
    weir_rules_free(rules);
    return st;
}

static const rec_match_t *find_match(const rec_t *r, const char *sid, uint64_t off)
{
    for (size_t i = 0; i < r->nm; i++)
        if (strcmp(r->m[i].sid, sid) == 0 && r->m[i].off == off)
            return &r->m[i];
    return NULL;
}

TEST(trace_ids_of_matches)
{
    static const char text[] = "x \"first\" ERR \"second\" y\n" /* 0: second */
                               "ERR \"a\\\"b\" tail\n"          /* 26: a\"b, as written */
                               "no quotes ERR here\n"           /* 43: none */
                               "\"open ERR\n"                   /* 62: unterminated: none */
                               "\\\"x\\\" ERR \"ok\"\n"         /* 72: escaped quotes: ok */
                               "ERR \"\"\n"                     /* 87: empty string: "" */
                               "ERR \"last\"";                  /* 94: no final newline */
    /* the trace id each "ERR" in text gets, in order */
    static const char *const want[] = {"second", "a\\\"b", "(none)", "(none)", "ok", "", "last"};
    uint64_t off[7];
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "ERR")) != NULL && n < 7; p++)
        off[n++] = (uint64_t)(p - text);
    ASSERT_UINT_EQ(n, 7);
    for (size_t step = 0; step <= 3; step++) {
        rec_t rec;
        ASSERT_INT_EQ(run_text("rule r { strings: $e = \"ERR\" condition: $e }", text, step, &rec),
                      WEIR_OK);
        ASSERT_UINT_EQ(rec.nm, 7);
        for (size_t i = 0; i < 7; i++) {
            const rec_match_t *m = find_match(&rec, "$e", off[i]);
            if (!m) {
                T__FAIL("no match of $e at %llu (chunks of %zu)", (unsigned long long)off[i], step);
                continue;
            }
            if (strcmp(m->trace, want[i]) != 0)
                T__FAIL("match at %llu, chunks of %zu: trace id \"%s\", want \"%s\"",
                        (unsigned long long)off[i], step, m->trace, want[i]);
        }
    }
}

TEST(trace_id_of_a_line_in_many_chunks)
{
    gen_buf_t text = {0};
    for (int i = 0; i < 3000; i++)
        gen_putc(&text, 'a' + i % 7);
    gen_puts(&text, " NEEDLE ");
    for (int i = 0; i < 2000; i++)
        gen_putc(&text, ' ');
    gen_puts(&text, "\"early\" \"trace-x\"\nnext \"other\"\n");
    for (size_t step = 1; step <= 129; step += 64) {
        rec_t rec;
        ASSERT_INT_EQ(
            run_text("rule r { strings: $n = \"NEEDLE\" condition: $n }", text.p, step, &rec),
            WEIR_OK);
        ASSERT_UINT_EQ(rec.nm, 1);
        ASSERT_STR_EQ(rec.m[0].trace, "trace-x");
        ASSERT_UINT_EQ(rec.nev, 1);
        ASSERT_STR_EQ(rec.ev[0], "r line=1 close=0 live=1 ids=trace-x");
    }
    gen_buf_free(&text);
}

TEST(event_trace_ids)
{
    rec_t rec;
    ASSERT_INT_EQ(run_text("rule both { strings: $a = \"AAA\" $b = \"BBB\" condition: $a and $b }",
                           "AAA \"t1\"\nnothing \"t0\"\nx BBB \"t2\"\nAAA BBB \"t3\"\n", 0, &rec),
                  WEIR_OK);
    ASSERT_UINT_EQ(rec.nev, 1);
    ASSERT_STR_EQ(rec.ev[0], "both line=3 close=0 live=1 ids=t1|t2");
    ASSERT_INT_EQ(run_text("rule one { strings: $a = \"AAA\" condition: $a }",
                           "AAA no quote\nAAA \"t\"\n", 0, &rec),
                  WEIR_OK);
    ASSERT_UINT_EQ(rec.nev, 1);
    ASSERT_STR_EQ(rec.ev[0], "one line=1 close=0 live=1 ids=");
}

TEST(live_firing)
{
    static const char rules[] = "rule first { strings: $a = \"hit\" condition: $a }\n"
                                "rule twice { strings: $a = \"hit\" condition: #a > 1 }\n"
                                "rule absent { strings: $a = \"zzz\" condition: not $a }\n"
                                "rule exactly2 { strings: $a = \"hit\" condition: #a == 2 }\n"
                                "rule exactly3 { strings: $a = \"hit\" condition: #a == 3 }\n"
                                "private rule priv { strings: $a = \"hit\" condition: $a }\n"
                                "rule via_priv { condition: priv }\n"
                                "rule size { condition: filesize > 20 }\n";
    static const char text[] = "no \"t1\"\nno\nhit \"t3\"\nx\nhit \"t5\" hit\nmore\n";
    for (size_t step = 0; step <= 2; step++) {
        rec_t rec;
        ASSERT_INT_EQ(run_text(rules, text, step, &rec), WEIR_OK);
        static const char *const want[] = {
            "first line=3 close=0 live=1 ids=t3",
            "via_priv line=3 close=0 live=1 ids=t3", /* either: priv's matches made it fire, */
            "via_priv line=3 close=0 live=1 ids=",   /* or it has no strings of its own */
            "size line=4 close=0 live=1 ids=",
            "twice line=5 close=0 live=1 ids=t3|t5",
            "absent line=-1 close=1 live=0 ids=",
            "exactly3 line=-1 close=1 live=0 ids=t3|t5",
        };
        if (rec.nev != 6)
            T__FAIL("chunks of %zu: %zu events, want 6", step, rec.nev);
        for (size_t i = 0; i < rec.nev; i++) {
            int found = 0;
            for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
                found |= strcmp(rec.ev[i], want[k]) == 0;
            if (!found)
                T__FAIL("chunks of %zu: unexpected event \"%s\"", step, rec.ev[i]);
        }
        if (test__failed_now) {
            for (size_t i = 0; i < rec.nev; i++)
                fprintf(stderr, "    got: %s\n", rec.ev[i]);
            return;
        }
    }
}

static int stop_cb(const weir_match_event_t *ev, void *user)
{
    (void)ev;
    ++*(int *)user;
    return 1;
}

static int stop_result(const weir_rule_result_t *res, void *user)
{
    (void)res;
    ++*(int *)user;
    return 1;
}

TEST(callbacks_stop)
{
    weir_rules_t *rules = compile("rule a { strings: $a = \"x\" condition: $a }\n"
                                  "rule b { strings: $a = \"x\" condition: $a }\n");
    ASSERT(rules);
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
    int calls = 0, rcalls = 0;
    weir_scanner_set_callback(sc, stop_cb, &calls);
    weir_id_t id = id_of(9);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &id, "x\nyy\n", 5), WEIR_ESTOPPED);
    weir_stream_stats_t s;
    ASSERT_INT_EQ(weir_stream_stats(sc, &id, &s), WEIR_OK);
    ASSERT_UINT_EQ(s.bytes, 5); /* the chunk was still consumed whole */
    ASSERT_UINT_EQ(s.lines, 2);
    weir_scanner_set_callback(sc, NULL, NULL); /* else b's pending event stops the close */
    ASSERT_INT_EQ(weir_stream_close(sc, &id, stop_result, &rcalls), WEIR_ESTOPPED);
    ASSERT_INT_EQ(rcalls, 1);
    ASSERT_INT_EQ(weir_stream_close(sc, &id, NULL, NULL), WEIR_ENOTFOUND); /* forgotten */
    weir_scanner_free(sc);
    weir_rules_free(rules);
}

TEST(results_mid_stream_equal_closing_the_prefix)
{
    weir_rules_t *rules = compile(small_rules);
    ASSERT(rules);
    gen_rng_t r = {0x3e5};
    gen_buf_t data = {0};
    gen_chunking_t ch = {0};
    for (int it = 0; it < 20; it++) {
        gen_data(&r, &data, 300);
        weir_scanner_t *sc = NULL;
        ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
        weir_id_t id = id_of(3);
        /* feed prefix by prefix, asking for results at each stop */
        size_t fed = 0;
        ASSERT_INT_EQ(weir_scan_chunk(sc, &id, "", 0), WEIR_OK);
        while (fed <= data.len) {
            gen_set_t now = {0};
            ASSERT_INT_EQ(weir_stream_results(sc, &id, gen_collect_results_traces, &now), WEIR_OK);
            gen_set_sort(&now);
            outcome_t pre;
            gen_chunk_whole(&ch, fed);
            scan_once(rules, data.p, &ch, &pre);
            if (!gen_set_eq(&now, &pre.res)) {
                T__FAIL("weir_stream_results after %zu bytes differs from closing that prefix",
                        fed);
                fprintf(stderr, "  rules:\n%s\n  data: ", small_rules);
                gen_print_c_string(stderr, data.p, fed);
                fputc('\n', stderr);
                gen_set_diff(stderr, "closed prefix", &pre.res, "results", &now, 10);
                it = 1000;
            }
            outcome_free(&pre);
            gen_set_free(&now);
            if (fed == data.len || it == 1000)
                break;
            size_t n = 1 + gen_below(&r, 30);
            if (n > data.len - fed)
                n = data.len - fed;
            ASSERT_INT_EQ(weir_scan_chunk(sc, &id, data.p + fed, n), WEIR_OK);
            fed += n;
        }
        weir_scanner_free(sc);
    }
    gen_chunk_free(&ch);
    gen_buf_free(&data);
    weir_rules_free(rules);
}

static int data_result(const weir_rule_result_t *res, void *user)
{
    for (size_t i = 0; i < res->nmatches; i++)
        snprintf(user, 32, "%llu:%u:%.*s", (unsigned long long)res->matches[i].offset,
                 (unsigned)res->matches[i].length, (int)res->matches[i].data_len,
                 res->matches[i].data ? (const char *)res->matches[i].data : "");
    return 0;
}

TEST(match_data_option)
{
    weir_rules_t *rules = compile("rule r { strings: $a = /ab+c/ condition: $a }");
    ASSERT(rules);
    weir_scanner_options_t opt = {.match_data = 3};
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &sc), WEIR_OK);
    weir_id_t id = id_of(4);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &id, "xxabb", 5), WEIR_OK);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &id, "bc ac", 5), WEIR_OK);
    char got[32] = "";
    ASSERT_INT_EQ(weir_stream_close(sc, &id, data_result, got), WEIR_OK);
    ASSERT_STR_EQ(got, "2:5:abb"); /* offset, length, the first 3 bytes kept */
    weir_scanner_free(sc);
    opt.match_data = WEIR_MAX_MATCH_DATA + 1;
    sc = (weir_scanner_t *)1;
    ASSERT_INT_EQ(weir_scanner_new(rules, &opt, &sc), WEIR_EINVAL);
    ASSERT(sc == NULL);
    weir_rules_free(rules);
}

/* ---- argument checks ---------------------------------------------------------------- */

static int count_result(const weir_rule_result_t *res, void *user)
{
    (void)res;
    ++*(int *)user;
    return 0;
}

TEST(args_version_and_errors)
{
    ASSERT_STR_EQ(weir_version(), WEIR_VERSION_STRING);
#define CHECK_MSG(name, value, msg) ASSERT_STR_EQ(weir_strerror(WEIR_##name), msg);
    WEIR_STATUS_MAP(CHECK_MSG)
#undef CHECK_MSG
    ASSERT_STR_EQ(weir_strerror((weir_status_t)-1000), "unknown status");
    ASSERT_STR_EQ(weir_strerror((weir_status_t)5), "unknown status");
}

TEST(args_compile)
{
    static const char text[] = "rule r { condition: true }";
    weir_rules_t *r = (weir_rules_t *)1;
    weir_diags_t *d = (weir_diags_t *)1;
    ASSERT_INT_EQ(weir_compile_buffer(NULL, 5, "x", NULL, &r, &d), WEIR_EINVAL);
    ASSERT(r == NULL);
    weir_diags_free(d);
    ASSERT_INT_EQ(weir_compile_buffer(text, strlen(text), "x", NULL, NULL, NULL), WEIR_EINVAL);
    r = (weir_rules_t *)1;
    ASSERT_INT_EQ(weir_compile_files(NULL, NULL, 1, &r, NULL), WEIR_EINVAL);
    ASSERT(r == NULL);
    const char *paths[] = {"/nonexistent/weir/rules.yar"};
    r = (weir_rules_t *)1;
    ASSERT_INT_EQ(weir_compile_files(paths, NULL, 0, &r, NULL), WEIR_EINVAL);
    ASSERT(r == NULL);
    r = (weir_rules_t *)1;
    d = NULL;
    ASSERT_INT_EQ(weir_compile_files(paths, NULL, 1, &r, &d), WEIR_EIO);
    ASSERT(r == NULL);
    ASSERT(weir_diags_count(d) >= 1);
    ASSERT_STR_EQ(weir_diags_get(d, 0)->file, paths[0]);
    ASSERT(weir_diags_get(d, weir_diags_count(d)) == NULL);
    weir_diags_free(d);
    ASSERT_INT_EQ(weir_compile_files(paths, NULL, 1, NULL, NULL), WEIR_EINVAL);
    r = (weir_rules_t *)1;
    d = NULL;
    ASSERT_INT_EQ(weir_compile_buffer("rule {", 6, "x", NULL, &r, &d), WEIR_ECOMPILE);
    ASSERT(r == NULL);
    ASSERT(weir_diags_count(d) >= 1);
    weir_diags_free(d);
    /* success: diags present and empty */
    d = NULL;
    ASSERT_INT_EQ(weir_compile_buffer(text, strlen(text), "x", "myns", &r, &d), WEIR_OK);
    ASSERT(d != NULL);
    ASSERT_UINT_EQ(weir_diags_count(d), 0);
    ASSERT(weir_diags_get(d, 0) == NULL);
    ASSERT_UINT_EQ(weir_rules_count(r), 1);
    ASSERT_STR_EQ(weir_rules_info(r, 0)->ns, "myns");
    ASSERT_STR_EQ(weir_rules_info(r, 0)->name, "r");
    ASSERT(weir_rules_info(r, 1) == NULL);
    weir_diags_free(d);
    weir_rules_free(r);
    weir_rules_free(NULL);
    weir_diags_free(NULL);
    weir_scanner_free(NULL);
}

TEST(args_rules_io)
{
    weir_rules_t *r = compile("rule r { strings: $a = \"a\" condition: $a }");
    ASSERT(r);
    void *buf = (void *)1;
    size_t len = 99;
    ASSERT_INT_EQ(weir_rules_serialize(NULL, &buf, &len), WEIR_EINVAL);
    ASSERT(buf == NULL);
    ASSERT_INT_EQ(weir_rules_serialize(r, NULL, &len), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_rules_serialize(r, &buf, NULL), WEIR_EINVAL);
    weir_rules_t *out = (weir_rules_t *)1;
    ASSERT_INT_EQ(weir_rules_deserialize(NULL, 10, &out), WEIR_EINVAL);
    ASSERT(out == NULL);
    ASSERT_INT_EQ(weir_rules_serialize(r, &buf, &len), WEIR_OK);
    ASSERT_INT_EQ(weir_rules_deserialize(buf, len, NULL), WEIR_EINVAL);
    free(buf);
    ASSERT_INT_EQ(weir_rules_save(NULL, "/tmp/x"), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_rules_save(r, NULL), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_rules_save(r, "/nonexistent/dir/x.weir"), WEIR_EIO);
    out = (weir_rules_t *)1;
    ASSERT_INT_EQ(weir_rules_load(NULL, &out), WEIR_EINVAL);
    ASSERT(out == NULL);
    out = (weir_rules_t *)1;
    ASSERT_INT_EQ(weir_rules_load("/nonexistent/x.weir", &out), WEIR_EIO);
    ASSERT(out == NULL);
    ASSERT_INT_EQ(weir_rules_load("/nonexistent/x.weir", NULL), WEIR_EINVAL);
    weir_rules_free(r);
}

TEST(args_scanner)
{
    weir_rules_t *r = compile("rule r { strings: $a = \"a\" condition: $a }");
    ASSERT(r);
    weir_scanner_t *sc = (weir_scanner_t *)1;
    ASSERT_INT_EQ(weir_scanner_new(NULL, NULL, &sc), WEIR_EINVAL);
    ASSERT(sc == NULL);
    ASSERT_INT_EQ(weir_scanner_new(r, NULL, NULL), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scanner_new(r, NULL, &sc), WEIR_OK);
    weir_scanner_set_callback(NULL, NULL, NULL); /* tolerated */
    weir_id_t id = id_of(1), other = id_of(2);
    int n = 0;
    ASSERT_INT_EQ(weir_scan_chunk(NULL, &id, "a", 1), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scan_chunk(sc, NULL, "a", 1), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &id, NULL, 1), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scan_line(NULL, &id, "a", 1), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scan_line(sc, NULL, "a", 1), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scan_line(sc, &id, NULL, 1), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scan_line(sc, &id, "a\nb", 3), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scan_line(sc, &id, "ab\n", 3), WEIR_EINVAL);
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 0); /* the failed calls opened nothing */
    ASSERT_INT_EQ(weir_scan_line(sc, &id, "ab", 2), WEIR_OK);
    weir_stream_stats_t st;
    ASSERT_INT_EQ(weir_stream_stats(NULL, &id, &st), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_stream_stats(sc, NULL, &st), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_stream_stats(sc, &id, NULL), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_stream_stats(sc, &other, &st), WEIR_ENOTFOUND);
    ASSERT_INT_EQ(weir_stream_stats(sc, &id, &st), WEIR_OK);
    ASSERT_UINT_EQ(st.bytes, 3);
    ASSERT_UINT_EQ(st.lines, 1);
    ASSERT_UINT_EQ(st.string_matches, 1);
    ASSERT(st.memory > 0);
    ASSERT_INT_EQ(weir_stream_results(NULL, &id, count_result, &n), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_stream_results(sc, NULL, count_result, &n), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_stream_results(sc, &other, count_result, &n), WEIR_ENOTFOUND);
    ASSERT_INT_EQ(weir_stream_results(sc, &id, count_result, &n), WEIR_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(weir_stream_reset(NULL, &id), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_stream_reset(sc, NULL), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_stream_reset(sc, &other), WEIR_ENOTFOUND);
    size_t cnt = 99;
    weir_id_t ids[4];
    ASSERT_INT_EQ(weir_scanner_streams(NULL, ids, 4, &cnt), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scanner_streams(sc, NULL, 4, &cnt), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scanner_streams(sc, ids, 4, NULL), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_scanner_streams(sc, NULL, 0, &cnt), WEIR_OK);
    ASSERT_UINT_EQ(cnt, 1);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &other, "", 0), WEIR_OK);
    ASSERT_INT_EQ(weir_scanner_streams(sc, ids, 1, &cnt), WEIR_OK);
    ASSERT_UINT_EQ(cnt, 2);
    ASSERT(memcmp(&ids[0], &id, sizeof id) == 0 || memcmp(&ids[0], &other, sizeof id) == 0);
    ASSERT_UINT_EQ(weir_scanner_stream_count(NULL), 0);
    ASSERT_UINT_EQ(weir_memory_usage(NULL), 0);
    ASSERT_INT_EQ(weir_stream_close(NULL, &id, NULL, NULL), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_stream_close(sc, NULL, NULL, NULL), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_stream_close(sc, &id, NULL, NULL), WEIR_OK);
    ASSERT_INT_EQ(weir_stream_close(sc, &id, NULL, NULL), WEIR_ENOTFOUND);
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 1);
    weir_scanner_free(sc); /* with a stream still open */
    weir_rules_free(r);
}

/* ---- ids ------------------------------------------------------------------------------------ */

TEST(ids_parse_format)
{
    gen_rng_t r = {0x1d};
    for (int i = 0; i < 200; i++) {
        weir_id_t id, back;
        for (int k = 0; k < 16; k++)
            id.bytes[k] = (uint8_t)gen_next(&r);
        char txt[WEIR_ID_STRLEN];
        weir_id_format(&id, txt);
        ASSERT_UINT_EQ(strlen(txt), 36);
        for (int k = 0; k < 36; k++)
            ASSERT(k == 8 || k == 13 || k == 18 || k == 23
                       ? txt[k] == '-'
                       : strchr("0123456789abcdef", txt[k]) != NULL);
        ASSERT_INT_EQ(weir_id_parse(txt, &back), WEIR_OK);
        ASSERT_MEM_EQ(&id, &back, sizeof id);
        for (int k = 0; k < 36; k++)
            if (txt[k] >= 'a' && txt[k] <= 'f')
                txt[k] = (char)(txt[k] - 'a' + 'A');
        ASSERT_INT_EQ(weir_id_parse(txt, &back), WEIR_OK);
        ASSERT_MEM_EQ(&id, &back, sizeof id);
    }
    static const char *const bad[] = {
        "",
        "6f1c1d3e-5a0b-4c1e-9b7d-2f8e4a6c9d0",
        "6f1c1d3e-5a0b-4c1e-9b7d-2f8e4a6c9d011",
        "6f1c1d3e5a0b-4c1e-9b7d-2f8e4a6c9d01a",
        "6f1c1d3e-5a0b-4c1e-9b7d2f8e4a6c9d01-",
        "6f1c1d3-e5a0b-4c1e-9b7d-2f8e4a6c9d01",
        "6f1c1d3e-5a0b-4c1e-9b7d-2f8e4a6c9d0g",
        "{6f1c1d3e-5a0b-4c1e-9b7d-2f8e4a6c9d01}",
        " 6f1c1d3e-5a0b-4c1e-9b7d-2f8e4a6c9d01",
        "6f1c1d3e-5a0b-4c1e-9b7d-2f8e4a6c9d01 ",
        "6f1c1d3e 5a0b 4c1e 9b7d 2f8e4a6c9d01",
        "6f1c1d3e5a0b4c1e9b7d2f8e4a6c9d01",
        "+f1c1d3e-5a0b-4c1e-9b7d-2f8e4a6c9d01",
        "6f1c1d3e-5a0b-4c1e-9b7d-2f8e4a6c9d0\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        weir_id_t id;
        memset(&id, 0x77, sizeof id);
        weir_status_t st = weir_id_parse(bad[i], &id);
        if (st != WEIR_EINVAL)
            T__FAIL("weir_id_parse(\"%s\") = %s, want EINVAL", bad[i], weir_strerror(st));
        for (int k = 0; k < 16; k++)
            if (id.bytes[k] != 0x77) {
                T__FAIL("weir_id_parse(\"%s\") wrote *out on failure", bad[i]);
                break;
            }
    }
    weir_id_t id;
    ASSERT_INT_EQ(weir_id_parse(NULL, &id), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_id_parse(WEIR_ID_NAMESPACE, NULL), WEIR_EINVAL);
}

/* The v5 UUID of name in weir's namespace, by Python's uuid module: "" when unavailable. */
static void python_uuid5(const char *name, char out[WEIR_ID_STRLEN])
{
    char cmd[256];
    out[0] = '\0';
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import uuid;print(uuid.uuid5(uuid.UUID('%s'),'%s'))\" 2>/dev/null",
             WEIR_ID_NAMESPACE, name);
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    if (!fgets(out, WEIR_ID_STRLEN, p))
        out[0] = '\0';
    pclose(p);
}

TEST(ids_from_name_is_uuid5)
{
    static const char *const names[] = {"hello", "", "stream-42",
                                        "a much longer name than a "
                                        "single SHA-1 block holds, "
                                        "which is sixty-four bytes"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char want[WEIR_ID_STRLEN], got[WEIR_ID_STRLEN];
        python_uuid5(names[i], want);
        if (strlen(want) != 36) {
            T__FAIL("python3 could not compute uuid5 (install python3): the test cannot check "
                    "weir_id_from_name");
            return;
        }
        weir_id_t id;
        weir_id_from_name(names[i], strlen(names[i]), &id);
        weir_id_format(&id, got);
        ASSERT_STR_EQ(got, want);
        ASSERT_INT_EQ(id.bytes[6] >> 4, 5);
        ASSERT_INT_EQ(id.bytes[8] >> 6, 2);
    }
}

/* ---- compiled rules files ------------------------------------------------------------------ */

static void results_of(const weir_rules_t *rules, const gen_buf_t *data, gen_set_t *out)
{
    gen_chunking_t ch = {0};
    outcome_t o;
    gen_chunk_random(&ch, &(gen_rng_t){7}, data->len, 50);
    scan_once(rules, data->p, &ch, &o);
    for (size_t i = 0; i < o.res.n; i++)
        gen_set_add(out, "%s", o.res.v[i]);
    for (size_t i = 0; i < o.ev.n; i++)
        gen_set_add(out, "E %s", o.ev.v[i]);
    outcome_free(&o);
    gen_chunk_free(&ch);
}

static int is_load_error(weir_status_t st)
{
    return st == WEIR_EFORMAT || st == WEIR_EVERSION;
}

TEST(save_load_round_trip)
{
    char dir[] = "/tmp/weir_props.XXXXXX", path[64], bad[64];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/rules.weir", dir);
    snprintf(bad, sizeof bad, "%s/bad.weir", dir);
    weir_rules_t *rules = compile(small_rules), *loaded = NULL, *fromb = NULL;
    ASSERT(rules);
    ASSERT_INT_EQ(weir_rules_save(rules, path), WEIR_OK);
    ASSERT_INT_EQ(weir_rules_load(path, &loaded), WEIR_OK);
    void *buf = NULL;
    size_t len = 0;
    ASSERT_INT_EQ(weir_rules_serialize(rules, &buf, &len), WEIR_OK);
    ASSERT_INT_EQ(weir_rules_deserialize(buf, len, &fromb), WEIR_OK);
    ASSERT_UINT_EQ(weir_rules_count(loaded), weir_rules_count(rules));
    for (size_t i = 0; i < weir_rules_count(rules); i++) {
        const weir_rule_info_t *a = weir_rules_info(rules, i), *b = weir_rules_info(loaded, i);
        ASSERT_STR_EQ(a->name, b->name);
        ASSERT_INT_EQ(a->fires_live, b->fires_live);
        ASSERT_INT_EQ(a->is_private, b->is_private);
    }
    gen_rng_t r = {0x5a7e};
    gen_buf_t data = {0};
    for (int it = 0; it < 30; it++) {
        gen_data(&r, &data, 1500);
        gen_set_t a = {0}, b = {0}, c = {0};
        results_of(rules, &data, &a);
        results_of(loaded, &data, &b);
        results_of(fromb, &data, &c);
        if (!gen_set_eq(&a, &b) || !gen_set_eq(&a, &c)) {
            T__FAIL("loaded rules give other results");
            gen_set_diff(stderr, "compiled", &a, "loaded", &b, 10);
            it = 1000;
        }
        gen_set_free(&a);
        gen_set_free(&b);
        gen_set_free(&c);
    }
    gen_buf_free(&data);

    /* Every truncation, in memory; a few through files. */
    for (size_t n = 0; n<len; n += len> 20000 ? 1 + n / 64 : 1) {
        weir_rules_t *t = (weir_rules_t *)1;
        weir_status_t st = weir_rules_deserialize(buf, n, &t);
        if (!is_load_error(st) || t != NULL) {
            T__FAIL("the first %zu of %zu bytes: %s", n, len, weir_strerror(st));
            weir_rules_free(st == WEIR_OK ? t : NULL);
            break;
        }
    }
    static const size_t cut[] = {0, 1, 4, 8, 16, 64};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0] && cut[i] < len; i++) {
        FILE *f = fopen(bad, "wb");
        ASSERT(f);
        fwrite(buf, 1, cut[i], f);
        fclose(f);
        weir_rules_t *t = (weir_rules_t *)1;
        weir_status_t st = weir_rules_load(bad, &t);
        if (!is_load_error(st) || t != NULL)
            T__FAIL("a file of the first %zu bytes: %s", cut[i], weir_strerror(st));
    }
    /* Bit flips: every bit of the first 128 bytes, then random ones. */
    uint8_t *copy = malloc(len);
    ASSERT(copy);
    size_t accepted = 0;
    uint8_t *hit = calloc(len, 1); /* bytes where some flip went unnoticed */
    ASSERT(hit);
    for (size_t k = 0; k < 128 * 8 + 400; k++) {
        size_t bit = k < 128 * 8 ? k : gen_below(&r, (uint32_t)(len * 8));
        if (bit / 8 >= len)
            continue;
        memcpy(copy, buf, len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        weir_rules_t *t = (weir_rules_t *)1;
        weir_status_t st = weir_rules_deserialize(copy, len, &t);
        if (!is_load_error(st) || t != NULL) {
            accepted++;
            hit[bit / 8] = 1;
            weir_rules_free(st == WEIR_OK ? t : NULL);
        }
    }
    if (accepted) {
        fprintf(stderr, "  of %zu bytes, flips accepted in bytes:", len);
        for (size_t i = 0; i < len; i++) {
            if (!hit[i] || (i && hit[i - 1]))
                continue;
            size_t e = i;
            while (e + 1 < len && hit[e + 1])
                e++;
            fprintf(stderr, " %zu-%zu", i, e);
        }
        fputc('\n', stderr);
        T__FAIL("%zu of the bit flips tried were not reported as EFORMAT/EVERSION", accepted);
    }
    free(hit);
    free(copy);
    /* Foreign files: text, an ELF binary, zeros. */
    static const char *const foreign[] = {"rule r { condition: true }\n",
                                          "\x7f"
                                          "ELF\x02\x01\x01",
                                          "WEIR"};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        weir_rules_t *t = (weir_rules_t *)1;
        weir_status_t st = weir_rules_deserialize(foreign[i], strlen(foreign[i]), &t);
        if (!is_load_error(st) || t != NULL)
            T__FAIL("foreign buffer %zu: %s", i, weir_strerror(st));
    }
    static uint8_t zeros[4096];
    weir_rules_t *t = (weir_rules_t *)1;
    weir_status_t st = weir_rules_deserialize(zeros, sizeof zeros, &t);
    if (!is_load_error(st) || t != NULL)
        T__FAIL("4096 zero bytes: %s", weir_strerror(st));
    t = (weir_rules_t *)1;
    st = weir_rules_load("/bin/sh", &t);
    if (!is_load_error(st) || t != NULL)
        T__FAIL("/bin/sh as rules: %s", weir_strerror(st));

    free(buf);
    unlink(path);
    unlink(bad);
    rmdir(dir);
    weir_rules_free(rules);
    weir_rules_free(loaded);
    weir_rules_free(fromb);
}

/* ---- memory accounting -------------------------------------------------------------------- */

TEST(memory_accounting)
{
    weir_rules_t *rules = compile(small_rules);
    ASSERT(rules);
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
    gen_rng_t r = {0x3e3};
    gen_buf_t data = {0};
    const uint32_t n = 1000;
    size_t base = weir_memory_usage(sc), prev = base, after_first = 0;
    for (int round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < n; i++) {
            weir_id_t id = id_of(i);
            gen_data(&r, &data, 300);
            ASSERT_INT_EQ(weir_scan_chunk(sc, &id, data.p, data.len), WEIR_OK);
            ASSERT_INT_EQ(weir_scan_chunk(sc, &id, "ab \"t\"\n", 7), WEIR_OK);
        }
        size_t total = weir_memory_usage(sc), sum = 0;
        ASSERT(total > prev);
        for (uint32_t i = 0; i < n; i++) {
            weir_id_t id = id_of(i);
            weir_stream_stats_t st;
            ASSERT_INT_EQ(weir_stream_stats(sc, &id, &st), WEIR_OK);
            ASSERT(st.memory > 0);
            sum += st.memory;
        }
        ASSERT(sum <= total);
        for (uint32_t i = 0; i < n; i++) {
            weir_id_t id = id_of(i);
            ASSERT_INT_EQ(weir_stream_close(sc, &id, NULL, NULL), WEIR_OK);
        }
        size_t after = weir_memory_usage(sc);
        fprintf(stderr, "  memory: empty %zu, %u streams %zu (streams' own %zu), closed %zu\n",
                base, n, total, sum, after);
        ASSERT(after < total);
        /* What closing freed is what the streams said they held, give or take 10%. */
        if ((total - after) > sum + sum / 10 || (total - after) < sum - sum / 10)
            T__FAIL("closing %u streams freed %zu bytes; their stats said %zu", n, total - after,
                    sum);
        if (round == 0)
            after_first = after;
        else
            ASSERT_UINT_EQ(after, after_first); /* no growth from a second round */
        prev = after;
    }
    gen_buf_free(&data);
    weir_scanner_free(sc);
    weir_rules_free(rules);
}

/* ---- diagnostics ------------------------------------------------------------------------ */

TEST(diagnostics_three_errors)
{
    static const char text[] = "rule ok { condition: true }\n"
                               "rule a {\n"
                               "  strings: $x = \"a\"\n"
                               "  condition: $x and $y\n" /* 4: undefined string $y */
                               "}\n"
                               "rule b { condition: nosuch }\n" /* 6: undefined identifier */
                               "rule c {\n"
                               "  strings:\n"
                               "    $x = \"a\"\n"
                               "    $z = \"b\"\n" /* 10: unreferenced string $z */
                               "  condition: $x\n"
                               "}\n";
    static const struct {
        uint32_t line;
        const char *token;
    } want[] = {{4, "$y"}, {6, "nosuch"}, {10, "$z"}};
    weir_rules_t *r = (weir_rules_t *)1;
    weir_diags_t *d = NULL;
    ASSERT_INT_EQ(weir_compile_buffer(text, strlen(text), "three.yar", NULL, &r, &d),
                  WEIR_ECOMPILE);
    ASSERT(r == NULL);
    size_t errors = 0;
    for (size_t i = 0; i < weir_diags_count(d); i++)
        errors += weir_diags_get(d, i)->severity == WEIR_SEV_ERROR;
    if (errors != 3) {
        for (size_t i = 0; i < weir_diags_count(d); i++) {
            const weir_diag_t *g = weir_diags_get(d, i);
            fprintf(stderr, "    %s:%u:%u: %s\n", g->file, (unsigned)g->line, (unsigned)g->column,
                    g->message);
        }
        T__FAIL("%zu errors, want 3", errors);
    }
    size_t k = 0;
    for (size_t i = 0; i < weir_diags_count(d) && k < 3; i++) {
        const weir_diag_t *g = weir_diags_get(d, i);
        if (g->severity != WEIR_SEV_ERROR)
            continue;
        /* the column of the offending token on its line */
        const char *line = text;
        for (uint32_t l = 1; l < want[k].line; l++)
            line = strchr(line, '\n') + 1;
        uint32_t col = (uint32_t)(strstr(line, want[k].token) - line) + 1;
        size_t linelen = strcspn(line, "\n");
        ASSERT_STR_EQ(g->file, "three.yar");
        if (g->line != want[k].line || g->column != col)
            T__FAIL("error %zu at %u:%u, want %u:%u (%s): %s", k + 1, (unsigned)g->line,
                    (unsigned)g->column, (unsigned)want[k].line, (unsigned)col, want[k].token,
                    g->message);
        if (strlen(g->source_line) != linelen || strncmp(g->source_line, line, linelen) != 0)
            T__FAIL("error %zu: source line \"%s\"", k + 1, g->source_line);
        if (!g->message[0] || strchr(g->message, '\n'))
            T__FAIL("error %zu: message \"%s\"", k + 1, g->message);
        k++;
    }
    weir_diags_free(d);
}

TEST_MAIN(TEST_ENTRY(args_version_and_errors), TEST_ENTRY(args_compile), TEST_ENTRY(args_rules_io),
          TEST_ENTRY(args_scanner), TEST_ENTRY(ids_parse_format),
          TEST_ENTRY(ids_from_name_is_uuid5), TEST_ENTRY(diagnostics_three_errors),
          TEST_ENTRY(save_load_round_trip), TEST_ENTRY(trace_ids_of_matches),
          TEST_ENTRY(trace_id_of_a_line_in_many_chunks), TEST_ENTRY(event_trace_ids),
          TEST_ENTRY(live_firing), TEST_ENTRY(callbacks_stop), TEST_ENTRY(match_data_option),
          TEST_ENTRY(results_mid_stream_equal_closing_the_prefix),
          TEST_ENTRY(chunking_every_split_small), TEST_ENTRY(chunking_random_rules),
          TEST_ENTRY(chunking_loghub_200k),
          TEST_ENTRY(isolation_reset_and_close_leave_others_alone),
          TEST_ENTRY(isolation_round_robin), TEST_ENTRY(isolation_random_order_with_reset),
          TEST_ENTRY(memory_accounting))
