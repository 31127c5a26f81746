/*
 * perf.c - `weir perf`: feeds files as concurrent streams in rounds, one chunk of each per
 * round, and prints per round the time, throughput, match events, matching rules and memory,
 * then each stream's statistics and the scanner's memory statistics.  Uses only weir.h.
 */
#define _POSIX_C_SOURCE 200809L

#include "weir.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_ROUNDS 10
#define MAX_ROUNDS 1000000000ULL

static const char usage_perf[] =
    "Usage: weir perf -r [NS:]RULES [-r ...] [OPTIONS] -i FILE...\n"
    "       weir perf -C COMPILED [OPTIONS] -i FILE...\n"
    "\n"
    "Measures weir on files fed as concurrent streams.  Each FILE is one stream,\n"
    "named by its path as given ('-' is standard input), read whole and cut into\n"
    "ROUNDS chunks of about equal size, anywhere (not at line ends).  Each round\n"
    "feeds every stream its next chunk, round-robin, and prints one line:\n"
    "\n"
    "  round     the round, from 1\n"
    "  bytes     bytes fed this round; total: bytes fed so far\n"
    "  ns, MB/s  wall time of the round's feeding (CLOCK_MONOTONIC), MB = 10^6 bytes\n"
    "  events    new match events this round\n"
    "  matching  rules matching now, summed over the streams (weir_stream_results,\n"
    "            counted after the clock stops)\n"
    "  memory    bytes of stream contexts (weir_memory_usage)\n"
    "  streams   open streams\n"
    "\n"
    "Then every stream's statistics, taken before it is closed, with the events at\n"
    "its close and its final results; the scanner's memory statistics before the\n"
    "closes; and a summary.\n"
    "\n"
    "  -i, --input=FILE           a file to feed as one stream (repeatable; operands\n"
    "                             after the options are inputs too)\n"
    "  -c, --rounds=ROUNDS        rounds, that is chunks per stream (default 10)\n"
    "  -r, --rules=[NS:]FILE      YARA rules (repeatable; NS: sets the namespace)\n"
    "  -C, --compiled=FILE        compiled rules from `weir compile`\n"
    "  -d, --define=NAME=VALUE    define an external variable (repeatable), as for scan\n"
    "  -w, --no-warnings          do not print rule warnings\n"
    "      --memory-limit=BYTES   memory budget of the stream contexts (K, M and G\n"
    "                             suffixes): idle streams are evicted to snapshots\n"
    "      --no-results           do not count matching rules after each round\n"
    "      --json                 JSON Lines: round, stream and summary objects\n"
    "      --trace-json=FIELD     trace ids as for scan (weir scan --help)\n"
    "      --trace-regex=REGEX\n"
    "      --no-trace\n"
    "  -h, --help                 print this help\n";

/* One input: a stream fed from a file read whole. */
struct pstream {
    const char *path;
    weir_id_t id;
    uint8_t *data;
    size_t len;
    uint64_t events;          /* match events while feeding */
    uint64_t events_at_close; /* match events during its close */
    uint64_t results;         /* matching rules at close */
};

struct perf {
    struct pstream *s;
    size_t n;
    uint64_t rounds;
    int json, count_results;
    weir_scanner_t *sc;
    struct pstream *cur; /* the stream being fed or closed: events are its own */
    uint64_t round_events;
    uint64_t results_restores; /* evicted streams the results pass restored and evicted again */
};

static int on_event(const weir_match_event_t *ev, void *user)
{
    struct perf *p = user;
    if (ev->at_close) {
        p->cur->events_at_close++;
    } else {
        p->cur->events++;
        p->round_events++;
    }
    return 0;
}

static int on_result(const weir_rule_result_t *r, void *user)
{
    (void)r;
    ++*(uint64_t *)user;
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double mbps(uint64_t bytes, uint64_t ns)
{
    return ns ? (double)bytes * 1e3 / (double)ns : 0;
}

/* Reads a whole file ("-": standard input); 0, or -1 with errno set. */
static int read_whole(const char *path, uint8_t **data, size_t *len)
{
    struct stat sb;
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) != 0) {
        err = errno;
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        err = EISDIR;
        goto done;
    }
    for (;;) {
        if (n == cap) {
            size_t want = cap ? 2 * cap : S_ISREG(sb.st_mode) ? (size_t)sb.st_size + 1 : 65536;
            uint8_t *p = realloc(buf, want);
            if (!p) {
                err = ENOMEM;
                goto done;
            }
            buf = p;
            cap = want;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            err = errno;
            goto done;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
done:
    if (fd != STDIN_FILENO)
        close(fd);
    if (err) {
        free(buf);
        errno = err;
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Chunk k of a stream of len bytes cut into rounds chunks: the first len % rounds chunks
   have one byte more than the others. */
static size_t chunk_at(size_t len, uint64_t rounds, uint64_t k)
{
    uint64_t q = len / rounds, r = len % rounds;
    return (size_t)(k * q + (k < r ? k : r));
}

/* Sums the rules matching each stream now.  An evicted stream is restored to be asked and
   then evicted again, so that the budget's state is what the feeding left. */
static int count_matching(struct perf *p, uint64_t *matching)
{
    *matching = 0;
    for (size_t i = 0; i < p->n; i++) {
        weir_stream_stats_t st;
        weir_status_t rc = weir_stream_stats(p->sc, &p->s[i].id, &st);
        if (rc == WEIR_OK)
            rc = weir_stream_results(p->sc, &p->s[i].id, on_result, matching);
        if (rc == WEIR_OK && st.evicted) {
            rc = weir_stream_evict(p->sc, &p->s[i].id);
            p->results_restores++;
        }
        if (rc != WEIR_OK)
            return fail(EXIT_IO, "%s: results: %s", p->s[i].path, weir_strerror(rc));
    }
    return EXIT_OK;
}

static int run_rounds(struct perf *p, uint64_t *total_bytes, uint64_t *total_ns,
                      uint64_t *total_events)
{
    if (!p->json)
        printf("%6s %12s %14s %12s %9s %8s %9s %12s %8s\n", "round", "bytes", "total", "ns", "MB/s",
               "events", "matching", "memory", "streams");
    for (uint64_t k = 0; k < p->rounds; k++) {
        uint64_t bytes = 0, matching = 0;
        p->round_events = 0;
        uint64_t t0 = now_ns();
        for (size_t i = 0; i < p->n; i++) {
            struct pstream *s = &p->s[i];
            size_t at = chunk_at(s->len, p->rounds, k);
            size_t n = chunk_at(s->len, p->rounds, k + 1) - at;
            if (n == 0 && k > 0)
                continue; /* an empty chunk would only restore an evicted stream */
            p->cur = s;
            weir_status_t rc = weir_scan_chunk(p->sc, &s->id, s->data + at, n);
            if (rc != WEIR_OK)
                return fail(EXIT_IO, "scanning %s: %s", s->path, weir_strerror(rc));
            bytes += n;
        }
        uint64_t ns = now_ns() - t0;
        size_t memory = weir_memory_usage(p->sc);
        size_t streams = weir_scanner_stream_count(p->sc);
        if (p->count_results && count_matching(p, &matching) != EXIT_OK)
            return EXIT_IO;
        *total_bytes += bytes;
        *total_ns += ns;
        *total_events += p->round_events;
        if (p->json) {
            printf("{\"event\":\"round\",\"round\":%" PRIu64 ",\"bytes\":%" PRIu64
                   ",\"total_bytes\":%" PRIu64 ",\"ns\":%" PRIu64
                   ",\"mbps\":%.3f,\"events\":%" PRIu64 ",\"matching\":",
                   k + 1, bytes, *total_bytes, ns, mbps(bytes, ns), p->round_events);
            if (p->count_results)
                printf("%" PRIu64, matching);
            else
                fputs("null", stdout);
            printf(",\"memory\":%zu,\"streams\":%zu}\n", memory, streams);
        } else {
            printf("%6" PRIu64 " %12" PRIu64 " %14" PRIu64 " %12" PRIu64 " %9.1f %8" PRIu64, k + 1,
                   bytes, *total_bytes, ns, mbps(bytes, ns), p->round_events);
            if (p->count_results)
                printf(" %9" PRIu64, matching);
            else
                printf(" %9s", "-");
            printf(" %12zu %8zu\n", memory, streams);
        }
    }
    return EXIT_OK;
}

static void print_stream(const struct perf *p, const struct pstream *s,
                         const weir_stream_stats_t *st)
{
    const weir_memory_parts_t *m = &st->mem;
    if (p->json) {
        fputs("{\"event\":\"stream\",\"stream\":", stdout);
        json_cstr(stdout, s->path);
        printf(",\"bytes\":%" PRIu64 ",\"lines\":%" PRIu64 ",\"string_matches\":%" PRIu64
               ",\"rules_fired\":%" PRIu64 ",\"events\":%" PRIu64 ",\"events_at_close\":%" PRIu64
               ",\"results\":%" PRIu64 ",\"memory\":%zu,\"evicted\":%s,\"mem\":{\"context\":%zu,"
               "\"vectorscan\":%zu,\"history\":%zu,\"matches\":%zu,\"trace_ids\":%zu,"
               "\"other\":%zu}}\n",
               st->bytes, st->lines, st->string_matches, st->rules_fired, s->events,
               s->events_at_close, s->results, st->memory, st->evicted ? "true" : "false",
               m->context, m->vectorscan, m->history, m->matches, m->trace_ids, m->other);
        return;
    }
    printf("%12" PRIu64 " %9" PRIu64 " %9" PRIu64 " %6" PRIu64 " %7" PRIu64 " %8" PRIu64
           " %7" PRIu64 " %9zu %8zu %10zu %8zu %8zu %9zu %7zu %3s %s\n",
           st->bytes, st->lines, st->string_matches, st->rules_fired, s->events, s->events_at_close,
           s->results, st->memory, m->context, m->vectorscan, m->history, m->matches, m->trace_ids,
           m->other, st->evicted ? "yes" : "no", s->path);
}

/* Prints every stream's statistics and closes it, then the scanner's statistics (taken
   before the closes) and a summary. */
static int finish(struct perf *p, uint64_t total_bytes, uint64_t total_ns, uint64_t events)
{
    char *mem_text = NULL;
    uint64_t at_close = 0, results = 0;
    int rc = EXIT_OK;
    weir_status_t st = weir_memory_stats_format(p->sc, p->json, &mem_text);
    if (st != WEIR_OK)
        return fail(EXIT_IO, "memory statistics: %s", weir_strerror(st));
    if (!p->json)
        printf("\nstreams (statistics before closing; at_close and results from the close):\n"
               "%12s %9s %9s %6s %7s %8s %7s %9s %8s %10s %8s %8s %9s %7s %3s %s\n",
               "bytes", "lines", "str_match", "fired", "events", "at_close", "results", "memory",
               "context", "vectorscan", "history", "matches", "trace_ids", "other", "ev", "stream");
    for (size_t i = 0; i < p->n; i++) {
        struct pstream *s = &p->s[i];
        weir_stream_stats_t ss;
        st = weir_stream_stats(p->sc, &s->id, &ss);
        if (st == WEIR_OK) {
            p->cur = s;
            st = weir_stream_close(p->sc, &s->id, on_result, &s->results);
        }
        if (st != WEIR_OK) {
            rc = fail(EXIT_IO, "%s: %s", s->path, weir_strerror(st));
            continue;
        }
        print_stream(p, s, &ss);
        at_close += s->events_at_close;
        results += s->results;
    }
    if (p->json) {
        printf("{\"event\":\"summary\",\"rounds\":%" PRIu64 ",\"streams\":%zu,\"bytes\":%" PRIu64
               ",\"ns\":%" PRIu64 ",\"mbps\":%.3f,\"events\":%" PRIu64
               ",\"events_at_close\":%" PRIu64 ",\"results\":%" PRIu64
               ",\"results_restores\":%" PRIu64 ",\"memory_stats\":%s}\n",
               p->rounds, p->n, total_bytes, total_ns, mbps(total_bytes, total_ns), events,
               at_close, results, p->results_restores, mem_text);
    } else {
        printf("\nmemory statistics before closing (weir_memory_stats):\n%s", mem_text);
        if (p->results_restores)
            printf("(of which %" PRIu64 " restores and evictions by the matching counts)\n",
                   p->results_restores);
        printf("\nsummary: %zu stream%s, %" PRIu64 " round%s, %" PRIu64 " bytes fed in %" PRIu64
               " ns (%.1f MB/s); %" PRIu64 " events while feeding, %" PRIu64 " at close; %" PRIu64
               " final results\n",
               p->n, p->n == 1 ? "" : "s", p->rounds, p->rounds == 1 ? "" : "s", total_bytes,
               total_ns, mbps(total_bytes, total_ns), events, at_close, results);
    }
    free(mem_text);
    return rc;
}

/* Adds an input, refusing one given twice (it would be the same stream). */
static int add_input(struct perf *p, const char *path)
{
    struct pstream *s = realloc(p->s, (p->n + 1) * sizeof *s);
    if (!s)
        return fail(EXIT_IO, "out of memory");
    p->s = s;
    s = &p->s[p->n];
    memset(s, 0, sizeof *s);
    s->path = path;
    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): an operand, or optarg of -i */
    weir_id_from_name(path, strlen(path), &s->id);
    for (size_t i = 0; i < p->n; i++)
        if (memcmp(p->s[i].id.bytes, s->id.bytes, sizeof s->id.bytes) == 0)
            return usage_error("perf", "%s is given more than once", path);
    p->n++;
    return EXIT_OK;
}

enum {
    OPT_JSON = 256,
    OPT_MEMORY_LIMIT,
    OPT_NO_RESULTS,
    OPT_TRACE_JSON,
    OPT_TRACE_REGEX,
    OPT_NO_TRACE
};

int cmd_perf(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'i'},
        {"rounds", required_argument, NULL, 'c'},
        {"rules", required_argument, NULL, 'r'},
        {"compiled", required_argument, NULL, 'C'},
        {"define", required_argument, NULL, 'd'},
        {"no-warnings", no_argument, NULL, 'w'},
        {"memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT},
        {"no-results", no_argument, NULL, OPT_NO_RESULTS},
        {"json", no_argument, NULL, OPT_JSON},
        {"trace-json", required_argument, NULL, OPT_TRACE_JSON},
        {"trace-regex", required_argument, NULL, OPT_TRACE_REGEX},
        {"no-trace", no_argument, NULL, OPT_NO_TRACE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct perf p = {.rounds = DEFAULT_ROUNDS, .count_results = 1};
    struct rule_args ra = {0};
    struct defines defs = {0};
    struct trace_opt trace = {"perf", NULL, WEIR_TRACE_QUOTED, NULL};
    weir_scanner_options_t opts = {0};
    weir_rules_t *rules = NULL;
    const char *compiled = NULL;
    uint64_t total_bytes = 0, total_ns = 0, events = 0;
    weir_status_t st;
    int warnings = 1, rc = EXIT_OK, c;

    while ((c = getopt_long(argc, argv, ":i:c:r:C:d:wh", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if ((rc = add_input(&p, optarg)) != EXIT_OK)
                goto done;
            break;
        case 'c': {
            char *end;
            errno = 0;
            /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): -c takes an argument */
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || *optarg == '-' || v < 1 || v > MAX_ROUNDS) {
                rc = usage_error("perf", "bad -c '%s' (rounds: an integer from 1 to %llu)", optarg,
                                 MAX_ROUNDS);
                goto done;
            }
            p.rounds = v;
            break;
        }
        case 'r':
            if (rule_args_add(&ra, optarg) != 0) {
                rc = fail(EXIT_IO, "out of memory");
                goto done;
            }
            break;
        case 'C':
            if (compiled) {
                rc = usage_error("perf", "-C is given more than once");
                goto done;
            }
            compiled = optarg;
            break;
        case 'd':
            if ((rc = defines_add(&defs, optarg)) != EXIT_OK)
                goto done;
            break;
        case 'w':
            warnings = 0;
            break;
        case OPT_MEMORY_LIMIT:
            if (parse_size(optarg, SIZE_MAX, &opts.memory_limit) != 0) {
                rc = usage_error("perf", "bad --memory-limit '%s' (bytes, with K, M or G suffix)",
                                 optarg);
                goto done;
            }
            break;
        case OPT_NO_RESULTS:
            p.count_results = 0;
            break;
        case OPT_JSON:
            p.json = 1;
            break;
        case OPT_TRACE_JSON:
            if ((rc = trace_opt_set(&trace, "--trace-json", WEIR_TRACE_JSON, optarg)) != EXIT_OK)
                goto done;
            break;
        case OPT_TRACE_REGEX:
            if ((rc = trace_opt_set(&trace, "--trace-regex", WEIR_TRACE_REGEX, optarg)) != EXIT_OK)
                goto done;
            break;
        case OPT_NO_TRACE:
            if ((rc = trace_opt_set(&trace, "--no-trace", WEIR_TRACE_NONE, NULL)) != EXIT_OK)
                goto done;
            break;
        case 'h':
            fputs(usage_perf, stdout);
            goto done;
        default:
            rc = bad_option("perf", c, argv);
            goto done;
        }
    }
    for (int i = optind; i < argc; i++)
        if ((rc = add_input(&p, argv[i])) != EXIT_OK)
            goto done;
    if (!compiled && ra.n == 0) {
        rc = usage_error("perf", "no rules: give -r RULES or -C COMPILED");
        goto done;
    }
    if (compiled && ra.n > 0) {
        rc = usage_error("perf", "-r and -C cannot be used together");
        goto done;
    }
    if (p.n == 0) {
        rc = usage_error("perf", "no files: give -i FILE (- for standard input)");
        goto done;
    }
    if ((rc = trace_opt_check(&trace)) != EXIT_OK)
        goto done;
    /* Every input is read before anything is measured; one that cannot be is an error. */
    for (size_t i = 0; i < p.n; i++)
        if (read_whole(p.s[i].path, &p.s[i].data, &p.s[i].len) != 0)
            rc = fail(EXIT_IO, "cannot read %s: %s", p.s[i].path, strerror(errno));
    if (rc != EXIT_OK)
        goto done;
    rc = compiled ? load_rules(compiled, &rules) : compile_rules(&ra, &defs, warnings, &rules);
    if (rc != EXIT_OK)
        goto done;

    opts.trace_mode = trace.mode;
    opts.trace_arg = trace.arg;
    st = weir_scanner_new(rules, &opts, &p.sc);
    if (st != WEIR_OK) {
        rc = fail(EXIT_IO, "cannot create a scanner: %s", weir_strerror(st));
        goto done;
    }
    if (compiled && (rc = defines_apply(&defs, rules, p.sc)) != EXIT_OK)
        goto done;
    weir_scanner_set_callback(p.sc, on_event, &p);

    rc = run_rounds(&p, &total_bytes, &total_ns, &events);
    if (rc == EXIT_OK)
        rc = finish(&p, total_bytes, total_ns, events);
done:
    if (fflush(stdout) != 0 || ferror(stdout))
        rc = fail(EXIT_IO, "error writing output: %s", strerror(errno));
    weir_scanner_free(p.sc);
    weir_rules_free(rules);
    rule_args_free(&ra);
    defines_free(&defs);
    for (size_t i = 0; i < p.n; i++)
        free(p.s[i].data);
    free(p.s);
    return rc;
}
