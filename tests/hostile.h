/*
 * hostile.h - what the hostile-input suites (tests/test_hostile.c: rule text; and
 * tests/test_hostile_data.c: data, files, streams) share: the yara oracle (rules and data
 * written to a temporary directory, yara's output read back as a sorted set), compiling and
 * scanning with weir, and streams too large to hold, generated as they are fed.
 *
 * The largest inputs keep their size under AddressSanitizer (see BIG_STREAM); only the number
 * of damaged checkpoints tried shrinks there (UNDER_ASAN).  WEIR_TEST_TIMES=1 prints the
 * figures measured (times, memory).  A file including this one
 * defines _DEFAULT_SOURCE first (mkdtemp, popen).
 */
#ifndef WEIR_TEST_HOSTILE_H
#define WEIR_TEST_HOSTILE_H
#include "gen.h"
#include "test.h"
#include "weir.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define MIB ((size_t)1 << 20)
/* The stream without a newline: 1 GiB, also under ASan (weir does little per byte there: about
   6 s, measured).  The long lines: 100 MB each. */
#define BIG_STREAM (1024 * MIB)
#define BIG_LINE (100 * 1000 * 1000)

/* Figures for WEIR_TEST_TIMES=1. */
#define NOTE(...)                                                                                  \
    do {                                                                                           \
        if (getenv("WEIR_TEST_TIMES"))                                                             \
            fprintf(stderr, "    " __VA_ARGS__);                                                   \
    } while (0)

static inline double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static inline weir_id_t id_of(uint32_t n)
{
    weir_id_t id;
    memset(&id, 0x5e, sizeof id);
    memcpy(id.bytes, &n, sizeof n);
    return id;
}

/* ---- files and the yara oracle -------------------------------------------------------- */

static char tmpdir[64];

static inline void remove_tmpdir(void)
{
    if (!tmpdir[0])
        return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", tmpdir);
    tmpdir[0] = '\0';
}

/* tmpdir/name, in one of a few rotating buffers. */
static inline const char *tmp_path(const char *name)
{
    static char buf[4][160];
    static int k;
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/weir_hostile.XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_tmpdir);
    }
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static inline int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/*
 * Runs yara on rules and data (both written to files) and fills out with "R rule" per matching
 * rule and, with strings, "M rule $s offset length" per match, sorted.  yara prints at most 512
 * bytes of a match, and that many as its length.  err receives the first line yara wrote to
 * stderr.  Returns yara's exit status (1: the rules did not compile), -1 when it cannot run.
 */
static inline int yara_scan(const void *rules, size_t rlen, const void *data, size_t dlen,
                            int strings, gen_set_t *out, char *err, size_t errlen)
{
    const char *rp = tmp_path("rules.yar"), *dp = tmp_path("data"), *ep = tmp_path("yara.err");
    if (write_file(rp, rules, rlen) != 0 || write_file(dp, data, dlen) != 0)
        return -1;
    char cmd[640], line[8192];
    snprintf(cmd, sizeof cmd, "timeout 600 yara -w -p 1 %s '%s' '%s' 2>'%s'",
             strings ? "-s -L" : "", rp, dp, ep);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char rule[256] = "";
    while (fgets(line, sizeof line, p)) {
        unsigned long long off;
        unsigned len;
        int used = 0;
        if (strncmp(line, "0x", 2) == 0 && sscanf(line, "0x%llx:%u:%n", &off, &len, &used) == 2) {
            const char *sid = line + used, *colon = strchr(sid, ':');
            if (colon)
                gen_set_add(out, "M %s %.*s %010llu %u", rule, (int)(colon - sid), sid, off, len);
            continue;
        }
        char *sp = strchr(line, ' ');
        if (sp && strncmp(line, "0x", 2) != 0) {
            snprintf(rule, sizeof rule, "%.*s", (int)(sp - line), line);
            gen_set_add(out, "R %s", rule);
        }
    }
    int status = pclose(p);
    if (err && errlen) {
        err[0] = '\0';
        FILE *f = fopen(ep, "r");
        if (f) {
            if (!fgets(err, (int)errlen, f))
                err[0] = '\0';
            err[strcspn(err, "\n")] = '\0';
            fclose(f);
        }
    }
    gen_set_sort(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* 1 when yara compiles the rules (checked on empty data). */
static inline int yara_accepts(const void *rules, size_t rlen, char *err, size_t errlen)
{
    gen_set_t s = {0};
    int rc = yara_scan(rules, rlen, "", 0, 0, &s, err, errlen);
    gen_set_free(&s);
    if (rc < 0 || rc > 1)
        fprintf(stderr, "  yara did not run (status %d): is Debian's yara installed?\n", rc);
    return rc == 0;
}

/* ---- weir ------------------------------------------------------------------------------ */

static inline weir_rules_t *compile_n(const void *text, size_t len, weir_diags_t **diags)
{
    weir_rules_t *r = NULL;
    weir_diags_t *d = NULL;
    weir_status_t st = weir_compile_buffer(text, len, "hostile.yar", NULL, &r, &d);
    if (st != WEIR_OK)
        r = NULL;
    if (diags)
        *diags = d;
    else
        weir_diags_free(d);
    return r;
}

static inline weir_rules_t *compile_s(const char *text)
{
    return compile_n(text, strlen(text), NULL);
}

/* An error of d at line:col whose message holds want (col 0: any column). */
static inline int has_error(const weir_diags_t *d, uint32_t line, uint32_t col, const char *want)
{
    for (size_t i = 0; i < weir_diags_count(d); i++) {
        const weir_diag_t *g = weir_diags_get(d, i);
        if (g->severity == WEIR_SEV_ERROR && g->line == line && (!col || g->column == col) &&
            strstr(g->message, want) && strcmp(g->file, "hostile.yar") == 0)
            return 1;
    }
    return 0;
}

static inline void print_diags(const weir_diags_t *d)
{
    for (size_t i = 0; i < weir_diags_count(d) && i < 5; i++) {
        const weir_diag_t *g = weir_diags_get(d, i);
        fprintf(stderr, "    %s:%u:%u: %s\n", g->file, (unsigned)g->line, (unsigned)g->column,
                g->message);
    }
}

/* Line and column (1-based, in bytes) of byte off of text. */
static inline void line_col(const char *text, size_t off, uint32_t *line, uint32_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

/* Results as yara_scan prints them: lengths over 512 are yara's 512. */
static inline int collect_capped(const weir_rule_result_t *res, void *user)
{
    gen_set_t *s = user;
    gen_set_add(s, "R %s", res->rule->name);
    for (size_t i = 0; i < res->nmatches; i++) {
        unsigned len = res->matches[i].length;
        gen_set_add(s, "M %s %s %010" PRIu64 " %u", res->rule->name, res->matches[i].string_id,
                    res->matches[i].offset, len > 512 ? 512 : len);
    }
    return 0;
}

/* weir's final results for data fed in chunking ch (NULL: one chunk) to a fresh scanner. */
static inline weir_status_t weir_results(const weir_rules_t *rules, const void *data, size_t len,
                                         const gen_chunking_t *ch, gen_set_t *out)
{
    weir_scanner_t *sc = NULL;
    weir_status_t st = weir_scanner_new(rules, NULL, &sc);
    if (st != WEIR_OK)
        return st;
    weir_id_t id = id_of(1);
    gen_chunking_t one = {0};
    if (!ch) {
        gen_chunk_whole(&one, len);
        ch = &one;
    }
    st = gen_feed(sc, &id, data, ch);
    weir_status_t cst = weir_stream_close(sc, &id, collect_capped, out);
    weir_scanner_free(sc);
    gen_chunk_free(&one);
    gen_set_sort(out);
    return st != WEIR_OK ? st : cst;
}

/*
 * Compares weir with yara on rules and data: the same results in one chunk, then (kinds 4)
 * byte by byte for data up to 4 KiB and in random chunks of at most 7 and 4,096 bytes, or
 * (kinds 2) in random chunks of at most 4,096 bytes.  compiled: the rules compiled by weir
 * already, or NULL.  Returns 0 when they agree.
 */
static inline int same_as_yara_k(const void *rules, size_t rlen, const weir_rules_t *compiled,
                                 const void *data, size_t len, uint64_t seed, const char *what,
                                 int kinds)
{
    gen_set_t want = {0}, got = {0};
    char err[512];
    int rc = yara_scan(rules, rlen, data, len, 1, &want, err, sizeof err);
    int bad = 0;
    if (rc != 0) {
        T__FAIL("%s: yara exit status %d (%s)", what, rc, err);
        gen_set_free(&want);
        return -1;
    }
    weir_diags_t *d = NULL;
    weir_rules_t *own = compiled ? NULL : compile_n(rules, rlen, &d);
    const weir_rules_t *r = compiled ? compiled : own;
    if (!r) {
        T__FAIL("%s: weir refuses rules yara takes", what);
        print_diags(d);
        weir_diags_free(d);
        gen_set_free(&want);
        return -1;
    }
    weir_diags_free(d);
    gen_rng_t rng = {seed};
    gen_chunking_t ch = {0};
    for (int k = 0; k < 4 && !bad; k += kinds == 4 ? 1 : 3) {
        if (k == 0)
            gen_chunk_whole(&ch, len);
        else if (k == 1 && len <= 4096)
            gen_chunk_bytes(&ch, len);
        else
            gen_chunk_random(&ch, &rng, len, k == 2 ? 7 : 4096);
        gen_set_clear(&got);
        weir_status_t st = weir_results(r, data, len, &ch, &got);
        if (st != WEIR_OK || !gen_set_eq(&want, &got)) {
            T__FAIL("%s: weir (%s, %s) differs from yara", what, ch.what, weir_strerror(st));
            gen_set_diff(stderr, "yara", &want, "weir", &got, 10);
            bad = 1;
        }
    }
    gen_chunk_free(&ch);
    weir_rules_free(own);
    gen_set_free(&want);
    gen_set_free(&got);
    return bad ? -1 : 0;
}

static inline int same_as_yara(const void *rules, size_t rlen, const void *data, size_t len,
                               uint64_t seed, const char *what)
{
    return same_as_yara_k(rules, rlen, NULL, data, len, seed, what, 4);
}

/* ---- data ------------------------------------------------------------------------------- */

/* Data holding the bytes the hostile rule texts look for, and every byte value. */
static inline void hostile_data(gen_buf_t *d, uint64_t seed)
{
    static const char planted[] = "ab x\0y xy \xff\xfe\x80 \xe9t\xe9 \xe9\0t\0\xe9\0 "
                                  "\xc3\x28 \xe2\x82 \xed\xa0\x80 \xc0\xaf \xff\xff\xff\xfe "
                                  "\xff"
                                  "A\xff\x80\x80\x00zzA end";
    gen_rng_t r = {seed};
    gen_buf_clear(d);
    gen_putn(d, planted, sizeof planted - 1);
    for (int i = 0; i < 3000; i++) {
        gen_putc(d, (int)gen_below(&r, 256));
        if (gen_chance(&r, 2))
            gen_putn(d, planted + gen_below(&r, 40), gen_range(&r, 1, 12));
    }
    gen_putn(d, planted, sizeof planted - 1);
}

/*
 * A stream too large to hold, generated as it is fed: filler bytes (printable, without newlines,
 * quotes or capitals) with strings planted at absolute offsets.
 */
typedef struct plant {
    uint64_t at;
    const char *s;
} plant_t;

typedef struct layout {
    uint64_t len;
    const plant_t *plants;
    size_t nplants;
} layout_t;

static inline void render(const layout_t *l, uint8_t *buf, uint64_t from, size_t n)
{
    static const char filler[] = "abcdefghijklmnopqrstuvwxyz0123456789 ,.;-";
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)filler[(from + i) % (sizeof filler - 1)];
    for (size_t k = 0; k < l->nplants; k++) {
        uint64_t at = l->plants[k].at, len = strlen(l->plants[k].s);
        for (uint64_t j = 0; j < len; j++)
            if (at + j >= from && at + j < from + n)
                buf[at + j - from] = (uint8_t)l->plants[k].s[j];
    }
}

typedef struct feed_stats {
    size_t max_memory, max_history, max_other, max_usage;
    double secs;
} feed_stats_t;

/* Feeds the whole layout to stream id in chunks of `chunk` bytes, tracking its memory. */
static inline weir_status_t feed_layout(weir_scanner_t *sc, const weir_id_t *id, const layout_t *l,
                                        size_t chunk, feed_stats_t *fs)
{
    uint8_t *buf = malloc(chunk);
    if (!buf)
        return WEIR_ENOMEM;
    memset(fs, 0, sizeof *fs);
    double t0 = now_s();
    weir_status_t st = WEIR_OK;
    for (uint64_t off = 0; off < l->len && st == WEIR_OK; off += chunk) {
        size_t n = l->len - off < chunk ? (size_t)(l->len - off) : chunk;
        render(l, buf, off, n);
        st = weir_scan_chunk(sc, id, buf, n);
        weir_stream_stats_t s;
        if (st == WEIR_OK && (st = weir_stream_stats(sc, id, &s)) == WEIR_OK) {
            if (s.memory > fs->max_memory)
                fs->max_memory = s.memory;
            if (s.mem.history > fs->max_history)
                fs->max_history = s.mem.history;
            if (s.mem.other > fs->max_other)
                fs->max_other = s.mem.other;
            size_t u = weir_memory_usage(sc);
            if (u > fs->max_usage)
                fs->max_usage = u;
        }
    }
    fs->secs = now_s() - t0;
    free(buf);
    return st;
}

static inline void put_hex_bytes(gen_buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gen_printf(b, "%02X ", (unsigned char)s[i]);
}

#endif /* WEIR_TEST_HOSTILE_H */
