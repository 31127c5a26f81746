/*
 * bench.c - `make bench`: weir's throughput and per-stream memory on a multi-stream log corpus,
 * beside raw Vectorscan streaming over the very same database, data and interleaving, so that
 * what weir adds on top of the matcher is measured rather than guessed.  Not a test: nothing here
 * asserts a speed.
 */
#define _POSIX_C_SOURCE 200809L

#include "rules.h"
#include "weir.h"

#include <dirent.h>
#include <glob.h>
#include <hs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define DEFAULT_RULES "bench/rules/logs.yar"
#define DEFAULT_MEM_RULES "examples/rules/*.yar"
#define DEFAULT_CORPUS "../shared/corpora/logs/loghub"
#define DEFAULT_STREAMS 512
#define DEFAULT_MB 96
#define DEFAULT_CHUNK 4096
#define DEFAULT_REPS 3
#define MAX_REPS 25
#define MAX_RULE_FILES 64

/* ---- small helpers ------------------------------------------------------------------------ */

_Noreturn static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
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

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size in kB, from /proc/self/status (0 when unavailable). */
static long rss_kb(void)
{
    char line[256];
    long kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* Hands freed heap pages back to the kernel, so that an RSS baseline is not flattered by memory
   an earlier run freed but the allocator kept. */
static void trim_heap(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Best (smallest) and median of n timings. */
static void best_median(const double *t, int n, double *best, double *median)
{
    double s[MAX_REPS];
    memcpy(s, t, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    *best = s[0];
    *median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* ---- the corpus --------------------------------------------------------------------------- */

/* One source log, whole lines only. */
typedef struct src {
    char *path;
    char *system; /* the loghub directory it came from */
    uint8_t *data;
    size_t len;
    size_t *line_at; /* start of each line */
    size_t nlines;
    size_t longest;
} src_t;

/* One stream of the run: a slice of a source, wrapping around at its end. */
typedef struct stream {
    weir_id_t id;
    const src_t *src;
    const uint8_t *data;
    size_t len;
    uint32_t *line_at; /* start of each line within data */
    size_t nlines;
} stream_t;

typedef struct corpus {
    src_t *srcs;
    size_t nsrcs;
    stream_t *s;
    size_t n;
    uint8_t *buf; /* every stream's bytes */
    uint64_t bytes, lines;
} corpus_t;

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return -1;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Loads a source, dropping a trailing partial line; returns 0, or -1 when nothing is left. */
static int load_src(src_t *s, const char *path, const char *system)
{
    memset(s, 0, sizeof *s);
    if (read_file(path, &s->data, &s->len) != 0)
        die("cannot read %s", path);
    while (s->len > 0 && s->data[s->len - 1] != '\n')
        s->len--;
    if (s->len == 0) {
        free(s->data);
        return -1;
    }
    size_t cap = 1024;
    s->line_at = xmalloc(cap * sizeof *s->line_at);
    for (size_t at = 0; at < s->len;) {
        const uint8_t *nl = memchr(s->data + at, '\n', s->len - at);
        size_t end = (size_t)(nl - s->data) + 1;
        if (s->nlines == cap)
            s->line_at = xrealloc(s->line_at, (cap *= 2) * sizeof *s->line_at);
        s->line_at[s->nlines++] = at;
        if (end - at > s->longest)
            s->longest = end - at;
        at = end;
    }
    s->path = xstrdup(path);
    s->system = xstrdup(system);
    return 0;
}

/* Every regular file one directory below dir (dir/<System>/<file>), in name order. */
static void load_sources(corpus_t *c, const char *dir)
{
    char **paths = NULL, **systems = NULL;
    size_t n = 0, cap = 0;
    DIR *top = opendir(dir);
    struct dirent *e;
    if (!top)
        die("cannot open corpus directory %s (use --corpus DIR)", dir);
    while ((e = readdir(top)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t sub_len = strlen(dir) + strlen(e->d_name) + 2;
        char *sub = xmalloc(sub_len);
        snprintf(sub, sub_len, "%s/%s", dir, e->d_name);
        struct stat st;
        DIR *d = stat(sub, &st) == 0 && S_ISDIR(st.st_mode) ? opendir(sub) : NULL;
        struct dirent *f;
        while (d && (f = readdir(d)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            size_t plen = sub_len + strlen(f->d_name) + 1;
            char *p = xmalloc(plen);
            snprintf(p, plen, "%s/%s", sub, f->d_name);
            if (stat(p, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
                free(p);
                continue;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                paths = xrealloc(paths, cap * sizeof *paths);
            }
            paths[n++] = p;
        }
        if (d)
            closedir(d);
        free(sub);
    }
    closedir(top);
    if (n == 0)
        die("no log files under %s/<System>/", dir);
    qsort(paths, n, sizeof *paths, cmp_str);
    systems = xmalloc(n * sizeof *systems);
    c->srcs = xcalloc(n, sizeof *c->srcs);
    for (size_t i = 0; i < n; i++) {
        /* the system is the path component above the file */
        char *slash = strrchr(paths[i], '/');
        char *start = slash;
        while (start > paths[i] && start[-1] != '/')
            start--;
        systems[i] = xmalloc((size_t)(slash - start) + 1);
        memcpy(systems[i], start, (size_t)(slash - start));
        systems[i][slash - start] = '\0';
        if (load_src(&c->srcs[c->nsrcs], paths[i], systems[i]) == 0)
            c->nsrcs++;
        free(paths[i]);
        free(systems[i]);
    }
    free(paths);
    free(systems);
    if (c->nsrcs == 0)
        die("no lines in the files under %s", dir);
}

/*
 * Builds nstreams streams of about total/nstreams bytes each.  Stream i reads source i mod
 * nsrcs; the k-th stream of a source starts k/groups of the way into it and wraps around at its
 * end, so streams of one source differ.  Every stream ends with a whole line.
 */
static void build_corpus(corpus_t *c, const char *dir, size_t nstreams, uint64_t total)
{
    load_sources(c, dir);
    size_t per = (size_t)(total / nstreams);
    size_t groups = (nstreams + c->nsrcs - 1) / c->nsrcs;
    size_t cap = 0;
    if (per == 0)
        die("--mb too small for %zu streams", nstreams);
    for (size_t i = 0; i < nstreams; i++)
        cap += per + c->srcs[i % c->nsrcs].longest;
    c->buf = xmalloc(cap);
    c->s = xcalloc(nstreams, sizeof *c->s);
    c->n = nstreams;
    uint8_t *out = c->buf;
    for (size_t i = 0; i < nstreams; i++) {
        const src_t *s = &c->srcs[i % c->nsrcs];
        stream_t *st = &c->s[i];
        size_t line = (i / c->nsrcs) * s->nlines / groups;
        size_t lcap = per / 64 + 16;
        st->src = s;
        st->data = out;
        st->line_at = xmalloc(lcap * sizeof *st->line_at);
        while (st->len < per) {
            size_t at = s->line_at[line];
            size_t end = line + 1 < s->nlines ? s->line_at[line + 1] : s->len;
            if (st->nlines == lcap)
                st->line_at = xrealloc(st->line_at, (lcap *= 2) * sizeof *st->line_at);
            st->line_at[st->nlines++] = (uint32_t)st->len;
            memcpy(out + st->len, s->data + at, end - at);
            st->len += end - at;
            line = (line + 1) % s->nlines;
        }
        out += st->len;
        c->bytes += st->len;
        c->lines += st->nlines;
        char name[512];
        int nlen = snprintf(name, sizeof name, "bench/%s/%zu", s->system, i);
        weir_id_from_name(name, (size_t)nlen, &st->id);
    }
}

static void free_corpus(corpus_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->s[i].line_at);
    for (size_t i = 0; i < c->nsrcs; i++) {
        free(c->srcs[i].path);
        free(c->srcs[i].system);
        free(c->srcs[i].data);
        free(c->srcs[i].line_at);
    }
    free(c->s);
    free(c->srcs);
    free(c->buf);
}

/*
 * The next piece of stream s: chunk mode takes up to chunk bytes from byte *cur; line mode takes
 * line *cur, with its '\n'.  Returns its length, 0 when the stream is exhausted.
 */
static size_t next_piece(const stream_t *s, size_t *cur, size_t chunk, const uint8_t **p)
{
    if (chunk) {
        if (*cur >= s->len)
            return 0;
        size_t n = s->len - *cur < chunk ? s->len - *cur : chunk;
        *p = s->data + *cur;
        *cur += n;
        return n;
    }
    if (*cur >= s->nlines)
        return 0;
    size_t at = s->line_at[*cur];
    size_t end = *cur + 1 < s->nlines ? s->line_at[*cur + 1] : s->len;
    *p = s->data + at;
    (*cur)++;
    return end - at;
}

/* ---- runs --------------------------------------------------------------------------------- */

/* What one pass over the corpus measured. */
typedef struct run {
    double secs;      /* feeding every piece and closing every stream */
    uint64_t events;  /* weir: match events; raw: Vectorscan matches */
    uint64_t results; /* weir: matching rules at close */
    uint64_t matches; /* weir: string matches reported at close */
    /* weir, all streams open (measured outside the clock) */
    size_t mem_open;           /* weir_memory_usage once every stream has had its first piece */
    size_t mem_full;           /* weir_memory_usage with all data fed, before closing */
    size_t smem_sum, smem_max; /* weir_stream_stats().memory at the same point */
    uint64_t stat_bytes, stat_lines, stat_smatches;
    long rss_before, rss_open, rss_full, rss_closed; /* kB */
} run_t;

static int on_event(const weir_match_event_t *ev, void *user)
{
    (void)ev;
    ((run_t *)user)->events++;
    return 0;
}

static int on_result(const weir_rule_result_t *r, void *user)
{
    run_t *run = user;
    run->results++;
    run->matches += r->nmatches;
    return 0;
}

static void check(weir_status_t st, const char *what)
{
    if (st != WEIR_OK)
        die("%s: %s", what, weir_strerror(st));
}

/* One pass of weir over the corpus, round-robin over the streams: chunk bytes per turn, or
   one line per turn (weir_scan_line) when chunk is 0. */
static void run_weir(const weir_rules_t *rules, const corpus_t *c, size_t chunk, run_t *run)
{
    weir_scanner_t *sc = NULL;
    size_t *cur = xcalloc(c->n, sizeof *cur);
    size_t left = c->n;
    memset(run, 0, sizeof *run);
    trim_heap();
    run->rss_before = rss_kb();
    check(weir_scanner_new(rules, NULL, &sc), "weir_scanner_new");
    weir_scanner_set_callback(sc, on_event, run);

    double t0 = now();
    for (int round = 0; left > 0; round++) {
        for (size_t i = 0; i < c->n; i++) {
            const uint8_t *p;
            size_t n = next_piece(&c->s[i], &cur[i], chunk, &p);
            if (n == 0)
                continue;
            if (chunk)
                check(weir_scan_chunk(sc, &c->s[i].id, p, n), "weir_scan_chunk");
            else
                check(weir_scan_line(sc, &c->s[i].id, p, n - 1), "weir_scan_line");
            if (chunk ? cur[i] == c->s[i].len : cur[i] == c->s[i].nlines)
                left--;
        }
        if (round == 0) {
            run->secs += now() - t0;
            run->mem_open = weir_memory_usage(sc);
            run->rss_open = rss_kb();
            t0 = now();
        }
    }
    run->secs += now() - t0;

    run->mem_full = weir_memory_usage(sc);
    run->rss_full = rss_kb();
    if (weir_scanner_stream_count(sc) != c->n)
        die("weir holds %zu streams, expected %zu", weir_scanner_stream_count(sc), c->n);
    for (size_t i = 0; i < c->n; i++) {
        weir_stream_stats_t st;
        check(weir_stream_stats(sc, &c->s[i].id, &st), "weir_stream_stats");
        run->smem_sum += st.memory;
        if (st.memory > run->smem_max)
            run->smem_max = st.memory;
        run->stat_bytes += st.bytes;
        run->stat_lines += st.lines;
        run->stat_smatches += st.string_matches;
    }

    t0 = now();
    for (size_t i = 0; i < c->n; i++)
        check(weir_stream_close(sc, &c->s[i].id, on_result, run), "weir_stream_close");
    run->secs += now() - t0;
    run->rss_closed = rss_kb();
    weir_scanner_free(sc);
    free(cur);
}

static int on_hs_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                       void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    ++*(uint64_t *)ctx;
    return 0;
}

static void check_hs(hs_error_t e, const char *what)
{
    if (e != HS_SUCCESS)
        die("%s: Vectorscan error %d", what, (int)e);
}

/* The same pass with Vectorscan alone: a stream per stream, a callback that only counts. */
static void run_raw(const hs_database_t *db, const corpus_t *c, size_t chunk, run_t *run)
{
    hs_scratch_t *scratch = NULL;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are pointers */
    hs_stream_t **hs = xcalloc(c->n, sizeof *hs);
    size_t *cur = xcalloc(c->n, sizeof *cur);
    size_t left = c->n;
    memset(run, 0, sizeof *run);
    check_hs(hs_alloc_scratch(db, &scratch), "hs_alloc_scratch");

    double t0 = now();
    while (left > 0) {
        for (size_t i = 0; i < c->n; i++) {
            const uint8_t *p;
            size_t n = next_piece(&c->s[i], &cur[i], chunk, &p);
            if (n == 0)
                continue;
            if (!hs[i])
                check_hs(hs_open_stream(db, 0, &hs[i]), "hs_open_stream");
            check_hs(hs_scan_stream(hs[i], (const char *)p, (unsigned)n, 0, scratch, on_hs_match,
                                    &run->events),
                     "hs_scan_stream");
            if (chunk ? cur[i] == c->s[i].len : cur[i] == c->s[i].nlines)
                left--;
        }
    }
    for (size_t i = 0; i < c->n; i++)
        check_hs(hs_close_stream(hs[i], scratch, on_hs_match, &run->events), "hs_close_stream");
    run->secs = now() - t0;

    hs_free_scratch(scratch);
    free(hs);
    free(cur);
}

/* ---- rules -------------------------------------------------------------------------------- */

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

static char *join(const char *const *v, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *s = xcalloc(len, 1);
    for (size_t i = 0, at = 0; i < n; i++)
        at += (size_t)snprintf(s + at, len - at, "%s%s", i ? "," : "", v[i]);
    return s;
}

static size_t hs_state(const weir_rules_t *r)
{
    size_t n = 0;
    if (r->db && hs_stream_size(r->db, &n) != HS_SUCCESS)
        n = 0;
    return n;
}

/* ---- report ------------------------------------------------------------------------------- */

typedef struct figures {
    const char *mode;
    double wbest, wmed, rbest, rmed; /* seconds */
    run_t w, r;                      /* counts from the last repetition */
} figures_t;

static double mbps(uint64_t bytes, double secs)
{
    return secs > 0 ? (double)bytes / 1e6 / secs : 0;
}

static void print_row(const char *mode, const char *engine, const corpus_t *c, double best,
                      double med, uint64_t events)
{
    printf("  %-11s %-10s %8.3f %9.1f %9.3f %8.3f %9.1f %9.3f %12llu\n", mode, engine, best,
           mbps(c->bytes, best), best > 0 ? (double)c->lines / 1e6 / best : 0, med,
           mbps(c->bytes, med), med > 0 ? (double)c->lines / 1e6 / med : 0,
           (unsigned long long)events);
}

static void print_memory(const char *label, const weir_rules_t *r, const corpus_t *c,
                         const run_t *w)
{
    printf("\nmemory, %s (%zu rules, %u Vectorscan patterns), %zu streams open:\n", label,
           weir_rules_count(r), (unsigned)r->nvariants, c->n);
    printf("  weir_memory_usage, first piece of each stream  %12zu B  %9.1f B/stream\n",
           w->mem_open, (double)w->mem_open / (double)c->n);
    printf("  weir_memory_usage, all data fed (before close) %12zu B  %9.1f B/stream\n",
           w->mem_full, (double)w->mem_full / (double)c->n);
    printf("  weir_stream_stats().memory, same point         avg %9.1f B  max %zu B\n",
           (double)w->smem_sum / (double)c->n, w->smem_max);
    printf("  Vectorscan stream state alone (hs_stream_size)     %9zu B/stream\n", hs_state(r));
    printf("  process RSS: before scanner %ld kB, streams opened %ld kB, all fed %ld kB, "
           "closed %ld kB\n",
           w->rss_before, w->rss_open, w->rss_full, w->rss_closed);
    printf("  RSS growth with all streams open: %ld kB, %.1f B/stream\n",
           w->rss_full - w->rss_before,
           (double)(w->rss_full - w->rss_before) * 1024.0 / (double)c->n);
}

static void print_memory_line(const char *label, const weir_rules_t *r, const corpus_t *c,
                              const run_t *w)
{
    printf("bench: memory rules=%s nrules=%zu streams=%zu memory_usage=%zu "
           "bytes_per_stream=%.0f stream_memory_avg=%.0f stream_memory_max=%zu "
           "memory_usage_open=%zu hs_stream_size=%zu rss_before_kb=%ld rss_open_kb=%ld "
           "rss_full_kb=%ld rss_per_stream=%.0f\n",
           label, weir_rules_count(r), c->n, w->mem_full, (double)w->mem_full / (double)c->n,
           (double)w->smem_sum / (double)c->n, w->smem_max, w->mem_open, hs_state(r), w->rss_before,
           w->rss_open, w->rss_full, (double)(w->rss_full - w->rss_before) * 1024.0 / (double)c->n);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench [-r RULES]... [--streams N] [--mb N] [--corpus DIR] [--chunk N]\n"
            "             [--reps N] [--mem-rules GLOB]\n"
            "  -r RULES          YARA file for the throughput runs (repeatable; default %s)\n"
            "  --streams N       concurrent streams (default %d)\n"
            "  --mb N            corpus size in MB of 10^6 bytes (default %d)\n"
            "  --corpus DIR      loghub-style directory DIR/<System>/<file> (default %s)\n"
            "  --chunk N         bytes per piece in chunk mode (default %d)\n"
            "  --reps N          repetitions of each measurement (default %d)\n"
            "  --mem-rules GLOB  rules whose memory per stream is also reported (default %s;\n"
            "                    \"\" for none)\n",
            DEFAULT_RULES, DEFAULT_STREAMS, DEFAULT_MB, DEFAULT_CORPUS, DEFAULT_CHUNK, DEFAULT_REPS,
            DEFAULT_MEM_RULES);
}

static long num_arg(const char *opt, const char *v, long lo, long hi)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || n < lo || n > hi)
        die("%s wants a number from %ld to %ld", opt, lo, hi);
    return n;
}

int main(int argc, char **argv)
{
    const char *rule_files[MAX_RULE_FILES];
    size_t nrule_files = 0;
    const char *corpus_dir = DEFAULT_CORPUS, *mem_glob = DEFAULT_MEM_RULES;
    long nstreams = DEFAULT_STREAMS, mb = DEFAULT_MB, chunk = DEFAULT_CHUNK, reps = DEFAULT_REPS;

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
            nstreams = num_arg(a, v, 1, 1000000);
        } else if (strcmp(a, "--mb") == 0) {
            mb = num_arg(a, v, 1, 100000);
        } else if (strcmp(a, "--corpus") == 0) {
            if (!v)
                die("--corpus wants a directory");
            corpus_dir = v;
        } else if (strcmp(a, "--chunk") == 0) {
            chunk = num_arg(a, v, 1, 1L << 30);
        } else if (strcmp(a, "--reps") == 0) {
            reps = num_arg(a, v, 1, MAX_REPS);
        } else if (strcmp(a, "--mem-rules") == 0) {
            if (!v)
                die("--mem-rules wants a glob");
            mem_glob = v;
        } else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (nrule_files == 0)
        rule_files[nrule_files++] = DEFAULT_RULES;

    long rss_start = rss_kb();
    double tc = now();
    corpus_t c;
    memset(&c, 0, sizeof c);
    build_corpus(&c, corpus_dir, (size_t)nstreams, (uint64_t)mb * 1000000);
    tc = now() - tc;

    weir_rules_t *rules = compile(rule_files, nrule_files);
    char *rules_label = join(rule_files, nrule_files);

    char hsv[64];
    snprintf(hsv, sizeof hsv, "%s", hs_version());
    for (size_t n = strlen(hsv); n > 0 && hsv[n - 1] == ' '; n--)
        hsv[n - 1] = '\0';
    printf("weir bench: weir %s, Vectorscan %s\n", weir_version(), hsv);
    printf("corpus: %s: %zu files, %zu streams, %.1f MB, %llu lines (avg %.0f B/line), "
           "built in %.2f s (RSS %ld -> %ld kB)\n",
           corpus_dir, c.nsrcs, c.n, (double)c.bytes / 1e6, (unsigned long long)c.lines,
           (double)c.bytes / (double)c.lines, tc, rss_start, rss_kb());
    printf("rules: %s: %zu rules, %u strings, %u Vectorscan patterns, %u B of history per "
           "stream%s\n",
           rules_label, weir_rules_count(rules), (unsigned)rules->nstrings,
           (unsigned)rules->nvariants, (unsigned)rules->history,
           rules->db ? "" : " (no database: raw runs skipped)");
    printf("feeding: round-robin over the streams, %ld-byte pieces (chunk mode) or one line per "
           "turn (line mode: weir_scan_line; raw Vectorscan gets the line with its newline)\n",
           chunk);
    printf("timing: %ld repetitions each, CLOCK_MONOTONIC, feed + close of every stream; "
           "MB = 10^6 bytes\n",
           reps);
    fflush(stdout);

    figures_t fig[2] = {{.mode = "chunk"}, {.mode = "line"}};
    size_t chunks[2] = {(size_t)chunk, 0};
    run_t mem_run;
    for (int m = 0; m < 2; m++) {
        double wt[MAX_REPS] = {0}, rt[MAX_REPS] = {0};
        for (int k = 0; k < reps; k++) {
            run_weir(rules, &c, chunks[m], &fig[m].w);
            wt[k] = fig[m].w.secs;
            if (m == 0 && k == 0)
                mem_run = fig[m].w; /* the first scanner: RSS least disturbed */
            if (rules->db) {
                run_raw(rules->db, &c, chunks[m], &fig[m].r);
                rt[k] = fig[m].r.secs;
            } else {
                rt[k] = 0;
            }
        }
        best_median(wt, (int)reps, &fig[m].wbest, &fig[m].wmed);
        best_median(rt, (int)reps, &fig[m].rbest, &fig[m].rmed);
        if (fig[m].w.stat_bytes != c.bytes || fig[m].w.stat_lines != c.lines)
            printf("warning: weir counted %llu bytes, %llu lines in %s mode; corpus has %llu, "
                   "%llu\n",
                   (unsigned long long)fig[m].w.stat_bytes, (unsigned long long)fig[m].w.stat_lines,
                   fig[m].mode, (unsigned long long)c.bytes, (unsigned long long)c.lines);
    }

    char chunk_label[32];
    snprintf(chunk_label, sizeof chunk_label, "chunk %ld", chunk);
    printf("\nthroughput (%zu streams, %.1f MB, %llu lines):\n", c.n, (double)c.bytes / 1e6,
           (unsigned long long)c.lines);
    printf("  %-11s %-10s %8s %9s %9s %8s %9s %9s %12s\n", "mode", "engine", "best s", "MB/s",
           "Mlines/s", "median s", "MB/s", "Mlines/s", "events");
    for (int m = 0; m < 2; m++) {
        const char *label = m == 0 ? chunk_label : "line";
        print_row(label, "weir", &c, fig[m].wbest, fig[m].wmed, fig[m].w.events);
        if (rules->db)
            print_row(label, "vectorscan", &c, fig[m].rbest, fig[m].rmed, fig[m].r.events);
    }
    printf("  (events: weir match events; vectorscan: raw pattern matches, counted only)\n");
    for (int m = 0; m < 2; m++)
        printf("  weir %s mode: %llu events; %llu string matches kept before close; at close "
               "%llu matching rules with %llu string matches\n",
               fig[m].mode, (unsigned long long)fig[m].w.events,
               (unsigned long long)fig[m].w.stat_smatches, (unsigned long long)fig[m].w.results,
               (unsigned long long)fig[m].w.matches);
    if (fig[0].w.events != fig[1].w.events || fig[0].w.results != fig[1].w.results ||
        fig[0].w.matches != fig[1].w.matches)
        printf("  warning: weir's results differ between chunk and line mode\n");
    if (rules->db && fig[0].r.events != fig[1].r.events)
        printf("  note: raw Vectorscan found %llu matches in chunk mode, %llu in line mode: the "
               "matcher itself is not invariant here (see bench/README.md)\n",
               (unsigned long long)fig[0].r.events, (unsigned long long)fig[1].r.events);

    if (rules->db) {
        printf("\nweir / raw Vectorscan, same database, data and interleaving:\n");
        for (int m = 0; m < 2; m++) {
            figures_t *f = &fig[m];
            printf("  %-5s mode: ratio %.3f best, %.3f median; weir adds %.2f ns/byte "
                   "(%.0f ns/line) best, %.2f ns/byte median\n",
                   f->mode, f->wbest > 0 ? f->rbest / f->wbest : 0,
                   f->wmed > 0 ? f->rmed / f->wmed : 0,
                   (f->wbest - f->rbest) * 1e9 / (double)c.bytes,
                   (f->wbest - f->rbest) * 1e9 / (double)c.lines,
                   (f->wmed - f->rmed) * 1e9 / (double)c.bytes);
        }
    }

    print_memory(rules_label, rules, &c, &mem_run);

    /* The example rules: memory per stream, from one pass in chunk mode. */
    glob_t g;
    int have_mem = 0;
    weir_rules_t *mem_rules = NULL;
    run_t mem_ex;
    char *mem_label = NULL;
    memset(&g, 0, sizeof g);
    if (mem_glob[0] && glob(mem_glob, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
        mem_rules = compile((const char *const *)g.gl_pathv, g.gl_pathc);
        mem_label = join((const char *const *)g.gl_pathv, g.gl_pathc);
        run_weir(mem_rules, &c, (size_t)chunk, &mem_ex);
        print_memory(mem_label, mem_rules, &c, &mem_ex);
        printf("  (one pass, chunk mode: %.1f MB/s, %llu events)\n", mbps(c.bytes, mem_ex.secs),
               (unsigned long long)mem_ex.events);
        have_mem = 1;
    } else if (mem_glob[0]) {
        printf("\nmemory: no rules match %s\n", mem_glob);
    }

    printf("\nnote: one run on a shared machine; compare figures from the same run only.\n\n");
    printf("bench: corpus streams=%zu files=%zu bytes=%llu lines=%llu chunk=%ld reps=%ld\n", c.n,
           c.nsrcs, (unsigned long long)c.bytes, (unsigned long long)c.lines, chunk, reps);
    for (int m = 0; m < 2; m++) {
        figures_t *f = &fig[m];
        printf("bench: mode=%s rules=%s weir_mbps=%.1f weir_mbps_median=%.1f weir_lines_per_s=%.0f "
               "weir_lines_per_s_median=%.0f",
               f->mode, rules_label, mbps(c.bytes, f->wbest), mbps(c.bytes, f->wmed),
               f->wbest > 0 ? (double)c.lines / f->wbest : 0,
               f->wmed > 0 ? (double)c.lines / f->wmed : 0);
        if (rules->db)
            printf(" raw_mbps=%.1f raw_mbps_median=%.1f ratio=%.3f ratio_median=%.3f "
                   "overhead_ns_per_byte=%.2f overhead_ns_per_byte_median=%.2f",
                   mbps(c.bytes, f->rbest), mbps(c.bytes, f->rmed),
                   f->wbest > 0 ? f->rbest / f->wbest : 0, f->wmed > 0 ? f->rmed / f->wmed : 0,
                   (f->wbest - f->rbest) * 1e9 / (double)c.bytes,
                   (f->wmed - f->rmed) * 1e9 / (double)c.bytes);
        printf(" events=%llu\n", (unsigned long long)f->w.events);
    }
    print_memory_line(rules_label, rules, &c, &mem_run);
    if (have_mem)
        print_memory_line(mem_label, mem_rules, &c, &mem_ex);

    globfree(&g);
    free(mem_label);
    weir_rules_free(mem_rules);
    free(rules_label);
    weir_rules_free(rules);
    free_corpus(&c);
    return 0;
}
