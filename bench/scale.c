/*
 * scale.c - `make bench`, part two: weir with a million concurrent, mostly idle streams.  Bytes
 * per idle stream (accounted and RSS), the cost of switching streams, of evicting and restoring
 * one, and throughput under a memory budget of 10% of the unbounded footprint.  Uses only weir.h
 * (and Vectorscan's hs_version for the banner).  A measurement, not a test.
 */
#define _GNU_SOURCE /* malloc_trim */

#include "weir.h"

#include <glob.h>
#include <hs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define DEFAULT_RULES "examples/rules/auth.yar"
#define DEFAULT_CORPUS "../shared/corpora/logs/loghub"
#define DEFAULT_STREAMS 1000000
#define DEFAULT_LINES 3
#define DEFAULT_CALLS 1000000
#define DEFAULT_SAMPLE 100000
#define DEFAULT_REPS 3
#define DEFAULT_BUDGET_PCT 10
#define TARGET_BYTES 256
#define MAX_RULE_FILES 64

/* ---- small helpers ------------------------------------------------------------------------ */

_Noreturn static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "scale: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        die("out of memory (%zu x %zu bytes)", count, n);
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

static void check(weir_status_t st, const char *what)
{
    if (st != WEIR_OK)
        die("%s: %s", what, weir_strerror(st));
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A field of /proc/self/status or /proc/meminfo in kB (0 when unavailable). */
static long proc_kb(const char *file, const char *key)
{
    char line[256];
    long kb = 0;
    size_t klen = strlen(key);
    FILE *f = fopen(file, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0) {
            kb = strtol(line + klen, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

static long rss_kb(void)
{
    return proc_kb("/proc/self/status", "VmRSS:");
}

/* Hands freed heap pages back to the kernel, so that an RSS baseline is not flattered by memory
   an earlier phase freed but the allocator kept. */
static void trim_heap(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static double min_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

/* ---- the corpus: lines of each loghub system ---------------------------------------------- */

typedef struct line {
    const char *p;
    uint32_t len; /* without the '\n' */
} line_t;

typedef struct sys {
    char *data;
    line_t *lines;
    size_t n;
} sys_t;

typedef struct corpus {
    sys_t *sys;
    size_t nsys;
    size_t nlines, lines_per_stream;
} corpus_t;

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    if (!f)
        die("cannot read %s", path);
    do {
        if (n == cap)
            buf = xrealloc(buf, cap = cap ? 2 * cap : 1 << 16);
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (ferror(f))
        die("error reading %s", path);
    fclose(f);
    *len = n;
    return buf;
}

/* One system per file DIR/<System>/<file>.log, read in place; its lines without their '\n'. */
static void load_corpus(corpus_t *c, const char *dir)
{
    char pattern[4096];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s/*/*.log", dir);
    if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc == 0)
        die("no logs match %s (use --corpus DIR)", pattern);
    c->sys = xcalloc(g.gl_pathc, sizeof *c->sys);
    for (size_t f = 0; f < g.gl_pathc; f++) {
        sys_t *s = &c->sys[c->nsys];
        size_t len, cap = 0;
        s->data = read_file(g.gl_pathv[f], &len);
        for (size_t at = 0; at < len;) {
            const char *nl = memchr(s->data + at, '\n', len - at);
            size_t end = nl ? (size_t)(nl - s->data) : len;
            if (s->n == cap)
                s->lines = xrealloc(s->lines, (cap = cap ? 2 * cap : 1024) * sizeof *s->lines);
            s->lines[s->n++] = (line_t){s->data + at, (uint32_t)(end - at)};
            at = end + 1;
        }
        if (s->n == 0) {
            free(s->data);
            continue;
        }
        c->nlines += s->n;
        c->nsys++;
    }
    globfree(&g);
    if (c->nsys == 0)
        die("no lines in the logs under %s", dir);
}

/* Line j of stream i: stream i reads system i mod nsys from line (i / nsys) * lines_per_stream,
   wrapping around, so that neighbouring streams differ and streams of one system do too. */
static const line_t *line_of(const corpus_t *c, size_t i, size_t j)
{
    const sys_t *s = &c->sys[i % c->nsys];
    return &s->lines[((i / c->nsys) * c->lines_per_stream + j) % s->n];
}

/* ---- feeding and closing ------------------------------------------------------------------ */

/* Per-stream counts of one run, to compare runs. */
typedef struct run {
    uint32_t *events, *results;
    size_t cur; /* the stream being fed or closed: events are its own */
    uint64_t nevents, nresults;
    uint64_t bytes, lines;
} run_t;

static int on_event(const weir_match_event_t *ev, void *user)
{
    run_t *r = user;
    (void)ev;
    r->events[r->cur]++;
    r->nevents++;
    return 0;
}

static int on_result(const weir_rule_result_t *res, void *user)
{
    run_t *r = user;
    (void)res;
    r->results[r->cur]++;
    r->nresults++;
    return 0;
}

static int on_nothing(const weir_match_event_t *ev, void *user)
{
    (void)ev;
    (void)user;
    return 0;
}

static void run_init(run_t *r, size_t n)
{
    memset(r, 0, sizeof *r);
    r->events = xcalloc(n, sizeof *r->events);
    r->results = xcalloc(n, sizeof *r->results);
}

static void run_free(run_t *r)
{
    free(r->events);
    free(r->results);
}

/* Lines [from, from + count) of every stream, round-robin; each round's time in secs[]. */
static void feed(weir_scanner_t *sc, const corpus_t *c, const weir_id_t *ids, size_t n, size_t from,
                 size_t count, run_t *r, double *secs)
{
    for (size_t j = from; j < from + count; j++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++) {
            const line_t *l = line_of(c, i, j);
            r->cur = i;
            check(weir_scan_line(sc, &ids[i], l->p, l->len), "weir_scan_line");
            r->bytes += l->len + 1u;
        }
        if (secs)
            secs[j - from] = now() - t0;
        r->lines += n;
    }
}

static double close_all(weir_scanner_t *sc, const weir_id_t *ids, size_t n, run_t *r)
{
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        r->cur = i;
        check(weir_stream_close(sc, &ids[i], on_result, r), "weir_stream_close");
    }
    return now() - t0;
}

static weir_scanner_t *scanner(const weir_rules_t *rules, size_t limit, const char *spill, run_t *r)
{
    weir_scanner_options_t o = {0};
    weir_scanner_t *sc = NULL;
    o.memory_limit = limit;
    o.spill_dir = spill;
    check(weir_scanner_new(rules, &o, &sc), "weir_scanner_new");
    weir_scanner_set_callback(sc, r ? on_event : on_nothing, r);
    return sc;
}

/* ---- rules and banner --------------------------------------------------------------------- */

static weir_rules_t *compile(const char *const *paths, size_t n)
{
    weir_rules_t *rules = NULL;
    weir_diags_t *diags = NULL;
    weir_status_t st = weir_compile_files(paths, NULL, n, &rules, &diags);
    for (size_t i = 0; i < weir_diags_count(diags); i++) {
        const weir_diag_t *d = weir_diags_get(diags, i);
        fprintf(stderr, "%s:%u:%u: %s: %s\n", d->file, (unsigned)d->line, (unsigned)d->column,
                d->severity == WEIR_SEV_ERROR ? "error" : "warning", d->message);
    }
    weir_diags_free(diags);
    if (st != WEIR_OK)
        die("cannot compile rules: %s", weir_strerror(st));
    return rules;
}

static void cpu_model(char *buf, size_t len)
{
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(buf, len, "unknown CPU");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += 2;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(buf, len, "%s", colon);
            break;
        }
    }
    if (f)
        fclose(f);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: scale [-r RULES]... [--streams N] [--lines L] [--corpus DIR] [--calls M]\n"
            "             [--sample S] [--reps R] [--budget PCT] [--spill-dir DIR]\n"
            "  -r RULES        YARA file (repeatable; default %s)\n"
            "  --streams N     concurrent streams (default %d)\n"
            "  --lines L       lines fed to each stream, one weir_scan_line each (default %d)\n"
            "  --corpus DIR    loghub-style directory, DIR/<System>/*.log (default %s)\n"
            "  --calls M       weir_scan_line calls per switch-cost measurement (default %d)\n"
            "  --sample S      streams evicted and restored per measurement (default %d, at most "
            "N)\n"
            "  --reps R        repetitions of the switch and eviction measurements, the best "
            "kept\n"
            "                  (default %d)\n"
            "  --budget PCT    memory budget of the budget run, in %% of the unbounded "
            "footprint\n"
            "                  (default %d)\n"
            "  --spill-dir DIR the budget run keeps snapshots in an LMDB store under DIR, not in\n"
            "                  memory (weir_scanner_options_t.spill_dir)\n",
            DEFAULT_RULES, DEFAULT_STREAMS, DEFAULT_LINES, DEFAULT_CORPUS, DEFAULT_CALLS,
            DEFAULT_SAMPLE, DEFAULT_REPS, DEFAULT_BUDGET_PCT);
}

static long num_arg(const char *opt, const char *v, long lo, long hi)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || n < lo || n > hi)
        die("%s wants a number from %ld to %ld", opt, lo, hi);
    return n;
}

/* ---- main --------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *rule_files[MAX_RULE_FILES];
    size_t nrule_files = 0;
    const char *corpus_dir = DEFAULT_CORPUS, *spill_dir = NULL;
    long nstreams = DEFAULT_STREAMS, lines = DEFAULT_LINES, calls = DEFAULT_CALLS;
    long sample = DEFAULT_SAMPLE, reps = DEFAULT_REPS, budget_pct = DEFAULT_BUDGET_PCT;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-r") == 0 || strcmp(a, "--rules") == 0) {
            if (!v)
                die("-r wants a file");
            if (nrule_files == MAX_RULE_FILES)
                die("at most %d rule files", MAX_RULE_FILES);
            rule_files[nrule_files++] = v;
        } else if (strcmp(a, "--streams") == 0) {
            nstreams = num_arg(a, v, 1, 100000000);
        } else if (strcmp(a, "--lines") == 0) {
            lines = num_arg(a, v, 1, 1000000);
        } else if (strcmp(a, "--corpus") == 0) {
            if (!v)
                die("--corpus wants a directory");
            corpus_dir = v;
        } else if (strcmp(a, "--calls") == 0) {
            calls = num_arg(a, v, 1, 1000000000);
        } else if (strcmp(a, "--sample") == 0) {
            sample = num_arg(a, v, 1, 100000000);
        } else if (strcmp(a, "--reps") == 0) {
            reps = num_arg(a, v, 1, 100);
        } else if (strcmp(a, "--budget") == 0) {
            budget_pct = num_arg(a, v, 1, 100);
        } else if (strcmp(a, "--spill-dir") == 0) {
            if (!v)
                die("--spill-dir wants a directory");
            spill_dir = v;
        } else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (nrule_files == 0)
        rule_files[nrule_files++] = DEFAULT_RULES;
    size_t n = (size_t)nstreams, L = (size_t)lines, M = (size_t)calls;
    size_t S = (size_t)sample < n ? (size_t)sample : n;
    int R = (int)reps;
    double wall0 = now();

    /* ---- setup, outside every clock ---- */
    corpus_t c = {0};
    c.lines_per_stream = L;
    load_corpus(&c, corpus_dir);
    weir_rules_t *rules = compile(rule_files, nrule_files);
    weir_id_t *ids = xcalloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        int len = snprintf(name, sizeof name, "scale/%zu", i);
        weir_id_from_name(name, (size_t)len, &ids[i]);
    }
    double *secs = xcalloc(L, sizeof *secs), *secs_b = xcalloc(L, sizeof *secs_b);

    char hsv[64], cpu[256];
    struct utsname un;
    snprintf(hsv, sizeof hsv, "%s", hs_version());
    for (size_t k = strlen(hsv); k > 0 && hsv[k - 1] == ' '; k--)
        hsv[k - 1] = '\0';
    cpu_model(cpu, sizeof cpu);
    if (uname(&un) != 0)
        snprintf(un.release, sizeof un.release, "?");
    printf("weir scale bench: weir %s, Vectorscan %s\n", weir_version(), hsv);
    printf("machine: %s, %ld CPUs online, %.1f GiB RAM, Linux %s\n", cpu,
           sysconf(_SC_NPROCESSORS_ONLN), (double)proc_kb("/proc/meminfo", "MemTotal:") / 1048576.0,
           un.release);
    printf("corpus: %s/*/*.log: %zu systems, %zu lines, reused cyclically; stream i reads %zu "
           "consecutive lines of system i mod %zu\n",
           corpus_dir, c.nsys, c.nlines, L, c.nsys);
    printf("rules: %s", rule_files[0]);
    for (size_t k = 1; k < nrule_files; k++)
        printf(",%s", rule_files[k]);
    printf(" (%zu rules)\n", weir_rules_count(rules));
    printf("streams: %zu, %zu lines each, fed round-robin, one weir_scan_line per line, so every "
           "stream is idle between its lines; CLOCK_MONOTONIC; MB = 10^6 bytes\n",
           n, L);
    fflush(stdout);

    /* ---- 1. unbounded: feed, memory per idle stream, close ---- */
    run_t a;
    run_init(&a, n);
    trim_heap();
    long rss_before = rss_kb();
    weir_scanner_t *sc = scanner(rules, 0, NULL, &a);
    feed(sc, &c, ids, n, 0, L, &a, secs);
    double feed_a = 0;
    for (size_t j = 0; j < L; j++)
        feed_a += secs[j];
    long rss_after = rss_kb();
    size_t footprint = weir_memory_usage(sc);
    weir_memory_stats_t ms;
    check(weir_memory_stats(sc, &ms), "weir_memory_stats");
    if (weir_scanner_stream_count(sc) != n)
        die("%zu streams open, expected %zu", weir_scanner_stream_count(sc), n);
    uint64_t events_fed_a = a.nevents;
    double close_a = close_all(sc, ids, n, &a);
    weir_scanner_free(sc);

    double dn = (double)n;
    double per_stream = (double)footprint / dn;
    double rss_per_stream = (double)(rss_after - rss_before) * 1024.0 / dn;
    const weir_memory_parts_t *lp = &ms.live_parts;
    printf("\n1. unbounded: %zu lines (%.1f MB) fed\n", (size_t)a.lines, (double)a.bytes / 1e6);
    for (size_t j = 0; j < L; j++)
        printf("  round %zu%s: %.3f s, %.0f ns per weir_scan_line\n", j + 1,
               j == 0 ? " (opens every stream)" : "", secs[j], secs[j] * 1e9 / dn);
    printf("  all rounds: %.3f s, %.1f MB/s, %.0f lines/s, %.0f ns per call; %llu match events\n",
           feed_a, (double)a.bytes / 1e6 / feed_a, (double)a.lines / feed_a,
           feed_a * 1e9 / (double)a.lines, (unsigned long long)events_fed_a);
    printf("  memory per idle stream, all lines fed, none closed:\n");
    printf("    accounted (weir_memory_usage / N): %.1f B  (target <= %d: %s)\n", per_stream,
           TARGET_BYTES, per_stream <= TARGET_BYTES ? "met" : "NOT met");
    printf("    RSS ((VmRSS after - before the scanner) / N): %.1f B  (%ld kB -> %ld kB)\n",
           rss_per_stream, rss_before, rss_after);
    printf("    by part, per stream: table %.1f, context %.1f, vectorscan %.1f, history %.1f, "
           "matches %.1f, trace_ids %.1f, other %.1f, spare line buffers %.1f, snapshots %.1f\n",
           (double)ms.table / dn, (double)lp->context / dn, (double)lp->vectorscan / dn,
           (double)lp->history / dn, (double)lp->matches / dn, (double)lp->trace_ids / dn,
           (double)lp->other / dn, (double)ms.spare / dn, (double)ms.evicted_bytes / dn);
    printf("  closing every stream: %.3f s, %.0f ns per weir_stream_close; %llu final results, "
           "%llu events in all\n",
           close_a, close_a * 1e9 / dn, (unsigned long long)a.nresults,
           (unsigned long long)a.nevents);
    fflush(stdout);

    /* ---- 2. the same under a budget of budget_pct % of the footprint ---- */
    run_t b;
    run_init(&b, n);
    size_t limit = (size_t)((double)footprint * (double)budget_pct / 100.0);
    sc = scanner(rules, limit, spill_dir, &b);
    feed(sc, &c, ids, n, 0, L, &b, secs_b);
    double feed_b = 0;
    for (size_t j = 0; j < L; j++)
        feed_b += secs_b[j];
    weir_memory_stats_t mb;
    check(weir_memory_stats(sc, &mb), "weir_memory_stats");
    double close_b = close_all(sc, ids, n, &b);
    weir_memory_stats_t mb_closed;
    check(weir_memory_stats(sc, &mb_closed), "weir_memory_stats");
    weir_scanner_free(sc);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++)
        differ += a.events[i] != b.events[i] || a.results[i] != b.results[i];
    int same = differ == 0 && a.nevents == b.nevents && a.nresults == b.nresults;
    printf("\n2. memory budget: %ld%% of the unbounded footprint of %zu B = %zu B (%.1f B per "
           "stream); snapshots %s%s\n",
           budget_pct, footprint, limit, (double)limit / dn,
           spill_dir ? "spilled to " : "in memory", spill_dir ? spill_dir : "");
    printf("  unbounded: %.3f s, %.1f MB/s, %.0f lines/s\n", feed_a, (double)a.bytes / 1e6 / feed_a,
           (double)a.lines / feed_a);
    printf("  budget:    %.3f s, %.1f MB/s, %.0f lines/s (%.2fx the time)\n", feed_b,
           (double)b.bytes / 1e6 / feed_b, (double)b.lines / feed_b, feed_b / feed_a);
    printf("  while feeding: %llu evictions, %llu restores; at the end %zu B in use (%.1f%% of "
           "the budget), %zu live and %zu evicted streams, snapshots %.1f B each\n",
           (unsigned long long)mb.evictions, (unsigned long long)mb.restores, mb.total,
           limit ? 100.0 * (double)mb.total / (double)limit : 0, mb.live, mb.evicted,
           mb.evicted ? (double)mb.evicted_bytes / (double)mb.evicted : 0);
    printf("  closing every stream: %.3f s (unbounded %.3f s), %llu restores by the closes\n",
           close_b, close_a, (unsigned long long)(mb_closed.restores - mb.restores));
    printf("  results: events %llu / %llu, final results %llu / %llu (unbounded / budget), "
           "streams with other counts: %zu\n",
           (unsigned long long)a.nevents, (unsigned long long)b.nevents,
           (unsigned long long)a.nresults, (unsigned long long)b.nresults, differ);
    if (!same)
        printf("warning: the budget run's events or results differ from the unbounded run's\n");
    fflush(stdout);

    /* ---- 3. stream switch cost ---- */
    run_t cr;
    run_init(&cr, n);
    sc = scanner(rules, 0, NULL, NULL);
    feed(sc, &c, ids, n, 0, L, &cr, NULL);
    double rr[100] = {0}, one[100] = {0};
    size_t per = (M + n - 1) / n; /* lines each stream gets per repetition */
    for (int k = 0; k < R; k++) {
        size_t base = L + (size_t)k * per;
        weir_id_t single;
        char name[64];
        int len = snprintf(name, sizeof name, "scale/single/%d", k);
        weir_id_from_name(name, (size_t)len, &single);
        double t0 = now();
        for (size_t q = 0; q < M; q++) {
            size_t i = q % n;
            const line_t *l = line_of(&c, i, base + q / n);
            check(weir_scan_line(sc, &ids[i], l->p, l->len), "weir_scan_line");
        }
        rr[k] = now() - t0;
        t0 = now();
        for (size_t q = 0; q < M; q++) {
            const line_t *l = line_of(&c, q % n, base + q / n);
            check(weir_scan_line(sc, &single, l->p, l->len), "weir_scan_line");
        }
        one[k] = now() - t0;
        check(weir_stream_close(sc, &single, NULL, NULL), "weir_stream_close");
    }
    /* The same round-robin lines through weir_scan_batch, 64 lines (128 chunks: each line and
       its newline, as weir_scan_line feeds them) per call. */
    double bt[100] = {0};
    enum { BATCH = 64 };
    weir_chunk_t batch[2 * BATCH];
    for (int k = 0; k < R; k++) {
        size_t base = L + (size_t)(R + k) * per;
        double t0 = now();
        for (size_t q = 0; q < M;) {
            size_t nb = 0;
            for (; nb < BATCH && q < M; nb++, q++) {
                size_t i = q % n;
                const line_t *l = line_of(&c, i, base + q / n);
                batch[2 * nb] = (weir_chunk_t){ids[i], l->p, l->len};
                batch[2 * nb + 1] = (weir_chunk_t){ids[i], "\n", 1};
            }
            check(weir_scan_batch(sc, batch, 2 * nb, NULL), "weir_scan_batch");
        }
        bt[k] = now() - t0;
    }
    double bt_ns = min_of(bt, R) * 1e9 / (double)M;
    double rr_ns = min_of(rr, R) * 1e9 / (double)M, one_ns = min_of(one, R) * 1e9 / (double)M;
    printf("\n3. stream switch cost, best of %d, %zu weir_scan_line calls each, same lines in the "
           "same order:\n",
           R, M);
    printf("  a different stream each call (round-robin over %zu): %.0f ns per call\n", n, rr_ns);
    printf("  one single stream:                                  %.0f ns per call\n", one_ns);
    printf("  switch cost: %.0f ns per call\n", rr_ns - one_ns);
    printf("  round-robin through weir_scan_batch (%d lines per call, the next streams\n"
           "  prefetched): %.0f ns per line, a switch cost of %.0f ns\n",
           BATCH, bt_ns, bt_ns - one_ns);
    fflush(stdout);

    /* ---- 4. eviction and restore, on a sample of the live streams ---- */
    /* Sample s is stream s * step mod n: with step prime to n the sample has no repeats, and it
       is spread over every system (a plain stride could meet only some of them). */
    size_t step = 1000003;
    while (gcd(step, n) != 1)
        step += 2;
    double ev[100] = {0}, rs[100] = {0}, lv[100] = {0};
    double live_bytes = 0, snap_bytes = 0;
    for (int k = 0; k < R; k++) {
        weir_memory_stats_t m0, m1;
        if (k == 0) {
            for (size_t s = 0; s < S; s++) {
                weir_stream_stats_t st;
                check(weir_stream_stats(sc, &ids[(s * step) % n], &st), "weir_stream_stats");
                live_bytes += (double)st.memory;
            }
            live_bytes /= (double)S;
        }
        check(weir_memory_stats(sc, &m0), "weir_memory_stats");
        double t0 = now();
        for (size_t s = 0; s < S; s++)
            check(weir_stream_evict(sc, &ids[(s * step) % n]), "weir_stream_evict");
        ev[k] = now() - t0;
        check(weir_memory_stats(sc, &m1), "weir_memory_stats");
        if (m1.evicted != S || m1.evictions - m0.evictions != S)
            die("%zu streams evicted, expected %zu", m1.evicted, S);
        if (k == 0)
            snap_bytes = (double)m1.evicted_bytes / (double)m1.evicted;
        t0 = now();
        for (size_t s = 0; s < S; s++)
            check(weir_scan_chunk(sc, &ids[(s * step) % n], "", 0), "weir_scan_chunk");
        rs[k] = now() - t0;
        check(weir_memory_stats(sc, &m0), "weir_memory_stats");
        if (m0.evicted != 0 || m0.restores - m1.restores != S)
            die("%zu streams still evicted after the restores", m0.evicted);
        t0 = now();
        for (size_t s = 0; s < S; s++)
            check(weir_scan_chunk(sc, &ids[(s * step) % n], "", 0), "weir_scan_chunk");
        lv[k] = now() - t0;
    }
    weir_scanner_free(sc);
    run_free(&cr);
    double ev_ns = min_of(ev, R) * 1e9 / (double)S, rs_ns = min_of(rs, R) * 1e9 / (double)S;
    double lv_ns = min_of(lv, R) * 1e9 / (double)S;
    printf("\n4. eviction and restore, best of %d, a sample of %zu of the %zu live streams:\n", R,
           S, n);
    printf("  weir_stream_evict: %.0f ns per eviction; a context of %.1f B becomes a snapshot of "
           "%.1f B (evicted_bytes / evicted)\n",
           ev_ns, live_bytes, snap_bytes);
    printf("  weir_scan_chunk(id, \"\", 0): %.0f ns on an evicted stream, %.0f ns on a live one: "
           "a restore costs %.0f ns\n",
           rs_ns, lv_ns, rs_ns - lv_ns);

    double wall = now() - wall0;
    long hwm = proc_kb("/proc/self/status", "VmHWM:");
    printf("\nwall time: %.1f s; peak RSS %.1f MB\n", wall, (double)hwm / 1024.0);
    printf("note: one run on a shared machine; compare figures from the same run only.\n\n");

    printf("bench: scale streams=%zu lines_per_stream=%zu rules=%s nrules=%zu lines=%llu "
           "bytes=%llu\n",
           n, L, rule_files[0], weir_rules_count(rules), (unsigned long long)a.lines,
           (unsigned long long)a.bytes);
    printf("bench: scale_memory bytes_per_idle_stream=%.1f rss_per_idle_stream=%.1f target=%d "
           "meets_target=%d table=%.1f context=%.1f vectorscan=%.1f history=%.1f matches=%.1f "
           "trace_ids=%.1f other=%.1f spare=%.1f memory_usage=%zu rss_before_kb=%ld "
           "rss_after_kb=%ld\n",
           per_stream, rss_per_stream, TARGET_BYTES, per_stream <= TARGET_BYTES,
           (double)ms.table / dn, (double)lp->context / dn, (double)lp->vectorscan / dn,
           (double)lp->history / dn, (double)lp->matches / dn, (double)lp->trace_ids / dn,
           (double)lp->other / dn, (double)ms.spare / dn, footprint, rss_before, rss_after);
    printf("bench: scale_feed secs=%.3f mbps=%.1f lines_per_s=%.0f ns_per_call=%.0f "
           "first_round_ns_per_call=%.0f close_ns_per_stream=%.0f events=%llu results=%llu\n",
           feed_a, (double)a.bytes / 1e6 / feed_a, (double)a.lines / feed_a,
           feed_a * 1e9 / (double)a.lines, secs[0] * 1e9 / dn, close_a * 1e9 / dn,
           (unsigned long long)a.nevents, (unsigned long long)a.nresults);
    printf("bench: scale_switch calls=%zu reps=%d round_robin_ns=%.0f single_ns=%.0f "
           "switch_ns=%.0f batch_ns=%.0f batch_switch_ns=%.0f\n",
           M, R, rr_ns, one_ns, rr_ns - one_ns, bt_ns, bt_ns - one_ns);
    printf("bench: scale_evict sample=%zu reps=%d evict_ns=%.0f restore_ns=%.0f "
           "evicted_touch_ns=%.0f live_touch_ns=%.0f live_bytes=%.1f snapshot_bytes=%.1f\n",
           S, R, ev_ns, rs_ns - lv_ns, rs_ns, lv_ns, live_bytes, snap_bytes);
    printf("bench: scale_budget pct=%ld limit=%zu unbounded_mbps=%.1f unbounded_lines_per_s=%.0f "
           "budget_mbps=%.1f budget_lines_per_s=%.0f evictions=%llu restores=%llu "
           "memory_usage=%zu same_results=%d\n",
           budget_pct, limit, (double)a.bytes / 1e6 / feed_a, (double)a.lines / feed_a,
           (double)b.bytes / 1e6 / feed_b, (double)b.lines / feed_b,
           (unsigned long long)mb.evictions, (unsigned long long)mb.restores, mb.total, same);
    printf("bench: scale_wall secs=%.1f peak_rss_kb=%ld\n", wall, hwm);

    run_free(&a);
    run_free(&b);
    free(secs);
    free(secs_b);
    free(ids);
    for (size_t k = 0; k < c.nsys; k++) {
        free(c.sys[k].data);
        free(c.sys[k].lines);
    }
    free(c.sys);
    weir_rules_free(rules);
    return 0;
}
