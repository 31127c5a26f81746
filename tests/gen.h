/*
 * gen.h - generators shared by weir's property and differential tests: a seeded
 * PRNG, random YARA rules and stream data over a small alphabet, chunkings, and
 * sorted string sets that hold a scan's results and events for comparison.
 */
#ifndef WEIR_TEST_GEN_H
#define WEIR_TEST_GEN_H

#include "weir.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG: splitmix64 ------------------------------------------------------ */

typedef struct gen_rng {
    uint64_t s;
} gen_rng_t;

static inline uint64_t gen_next(gen_rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A number in [0, n), 0 when n is 0. */
static inline uint32_t gen_below(gen_rng_t *r, uint32_t n)
{
    return n ? (uint32_t)(gen_next(r) % n) : 0;
}

/* A number in [lo, hi]. */
static inline uint32_t gen_range(gen_rng_t *r, uint32_t lo, uint32_t hi)
{
    return lo + gen_below(r, hi - lo + 1);
}

/* True with the given percentage. */
static inline int gen_chance(gen_rng_t *r, unsigned percent)
{
    return gen_below(r, 100) < percent;
}

/* The seed from the environment variable name, else def. */
static inline uint64_t gen_seed_from_env(const char *name, uint64_t def)
{
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 0) : def;
}

/* ---- growable byte buffer ---------------------------------------------------- */

typedef struct gen_buf {
    char *p;
    size_t len, cap;
} gen_buf_t;

static inline void gen_reserve(gen_buf_t *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "gen: out of memory\n");
        abort();
    }
    b->p = p;
    b->cap = cap;
}

static inline void gen_putn(gen_buf_t *b, const void *p, size_t n)
{
    gen_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void gen_putc(gen_buf_t *b, int c)
{
    char ch = (char)c;
    gen_putn(b, &ch, 1);
}

static inline void gen_puts(gen_buf_t *b, const char *s)
{
    gen_putn(b, s, strlen(s));
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void
gen_printf(gen_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    gen_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static inline void gen_buf_clear(gen_buf_t *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static inline void gen_buf_free(gen_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- sorted sets of strings ---------------------------------------------- */

typedef struct gen_set {
    char **v;
    size_t n, cap;
} gen_set_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void
gen_set_add(gen_set_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *e = malloc((size_t)n + 1);
    if (!e)
        abort();
    va_start(ap, fmt);
    vsnprintf(e, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    s->v[s->n++] = e;
}

static inline int gen__cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline void gen_set_sort(gen_set_t *s)
{
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, gen__cmp_str);
}

static inline int gen_set_has(const gen_set_t *s, const char *e)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], e) == 0)
            return 1;
    return 0;
}

/* Equal as sequences (sort both first to compare as sets). */
static inline int gen_set_eq(const gen_set_t *a, const gen_set_t *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return 0;
    return 1;
}

/* Prints what only one of two sorted sets holds, at most limit lines each. */
static inline void gen_set_diff(FILE *f, const char *na, const gen_set_t *a, const char *nb,
                                const gen_set_t *b, size_t limit)
{
    size_t i = 0, j = 0, pa = 0, pb = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
        if (c == 0) {
            i++, j++;
        } else if (c < 0) {
            if (pa++ < limit)
                fprintf(f, "    only in %s: %s\n", na, a->v[i]);
            i++;
        } else {
            if (pb++ < limit)
                fprintf(f, "    only in %s: %s\n", nb, b->v[j]);
            j++;
        }
    }
    if (pa > limit || pb > limit)
        fprintf(f, "    (%zu only in %s, %zu only in %s in all)\n", pa, na, pb, nb);
}

static inline void gen_set_print(FILE *f, const char *name, const gen_set_t *s, size_t limit)
{
    fprintf(f, "  %s (%zu):\n", name, s->n);
    for (size_t i = 0; i < s->n && i < limit; i++)
        fprintf(f, "    %s\n", s->v[i]);
    if (s->n > limit)
        fprintf(f, "    ...\n");
}

static inline void gen_set_clear(gen_set_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

static inline void gen_set_free(gen_set_t *s)
{
    gen_set_clear(s);
    free(s->v);
    s->v = NULL;
    s->cap = 0;
}

/* ---- printing -------------------------------------------------------------- */

static inline void gen_hexdump(FILE *f, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t off = 0; off < len; off += 16) {
        fprintf(f, "    %06zx ", off);
        for (size_t i = 0; i < 16; i++) {
            if (off + i < len)
                fprintf(f, " %02x", p[off + i]);
            else
                fputs("   ", f);
        }
        fputs("  |", f);
        for (size_t i = 0; i < 16 && off + i < len; i++)
            fputc(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.', f);
        fputs("|\n", f);
    }
}

/* data as a C string literal, for reproducers. */
static inline void gen_print_c_string(FILE *f, const void *data, size_t len)
{
    const uint8_t *p = data;
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c >= 0x20 && c < 0x7f)
            fputc(c, f);
        else
            fprintf(f, "\\x%02x\"\"", c);
    }
    fputc('"', f);
}

/* ---- chunkings --------------------------------------------------------------- */

/* A chunking: the sizes of successive chunks, which sum to the data length. */
typedef struct gen_chunking {
    size_t *size;
    size_t n, cap;
    char what[64];
} gen_chunking_t;

static inline void gen__chunk_add(gen_chunking_t *c, size_t n)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->size = realloc(c->size, c->cap * sizeof *c->size);
        if (!c->size)
            abort();
    }
    c->size[c->n++] = n;
}

static inline void gen_chunk_whole(gen_chunking_t *c, size_t len)
{
    c->n = 0;
    gen__chunk_add(c, len);
    snprintf(c->what, sizeof c->what, "one chunk");
}

static inline void gen_chunk_bytes(gen_chunking_t *c, size_t len)
{
    c->n = 0;
    for (size_t i = 0; i < len; i++)
        gen__chunk_add(c, 1);
    snprintf(c->what, sizeof c->what, "every byte");
}

static inline void gen_chunk_split(gen_chunking_t *c, size_t len, size_t at)
{
    c->n = 0;
    gen__chunk_add(c, at);
    gen__chunk_add(c, len - at);
    snprintf(c->what, sizeof c->what, "split at %zu", at);
}

/* Random sizes in [0, max]; empty chunks included on purpose. */
static inline void gen_chunk_random(gen_chunking_t *c, gen_rng_t *r, size_t len, uint32_t max)
{
    c->n = 0;
    size_t left = len;
    while (left) {
        size_t n = gen_below(r, max + 1);
        if (n > left)
            n = left;
        gen__chunk_add(c, n);
        left -= n;
    }
    snprintf(c->what, sizeof c->what, "random sizes <= %u", (unsigned)max);
}

static inline void gen_chunk_print(FILE *f, const gen_chunking_t *c)
{
    fprintf(f, "  chunking: %s [", c->what);
    for (size_t i = 0; i < c->n && i < 64; i++)
        fprintf(f, "%s%zu", i ? " " : "", c->size[i]);
    fprintf(f, "%s]\n", c->n > 64 ? " ..." : "");
}

static inline void gen_chunk_free(gen_chunking_t *c)
{
    free(c->size);
    c->size = NULL;
    c->n = c->cap = 0;
}

/* Feeds data to stream id in the chunks of c; the first error, or WEIR_OK. */
static inline weir_status_t gen_feed(weir_scanner_t *sc, const weir_id_t *id, const void *data,
                                     const gen_chunking_t *c)
{
    const uint8_t *p = data;
    size_t off = 0;
    weir_status_t first = WEIR_OK;
    if (c->n == 0) /* empty data in no chunks: open the stream all the same */
        first = weir_scan_chunk(sc, id, "", 0);
    for (size_t i = 0; i < c->n; i++) {
        weir_status_t st = weir_scan_chunk(sc, id, p + off, c->size[i]);
        if (st != WEIR_OK && first == WEIR_OK)
            first = st;
        off += c->size[i];
    }
    return first;
}

/* ---- results and events as strings ---------------------------------------- */

/*
 * A result callback (user: gen_set_t) that records "R <rule>" per matching rule
 * and "M <rule> <string> <offset> <length>" per match: the same shape
 * test_diff.c builds from yara's output, so the two compare as sorted sets.
 */
static inline int gen_collect_results(const weir_rule_result_t *res, void *user)
{
    gen_set_t *s = user;
    gen_set_add(s, "R %s", res->rule->name);
    for (size_t i = 0; i < res->nmatches; i++)
        gen_set_add(s, "M %s %s %010" PRIu64 " %u", res->rule->name, res->matches[i].string_id,
                    res->matches[i].offset, (unsigned)res->matches[i].length);
    return 0;
}

/*
 * Like gen_collect_results, and also each match's trace id:
 * "T <rule> <string> <offset> <trace id or ->".
 */
static inline int gen_collect_results_traces(const weir_rule_result_t *res, void *user)
{
    gen_set_t *s = user;
    gen_collect_results(res, user);
    for (size_t i = 0; i < res->nmatches; i++)
        gen_set_add(s, "T %s %s %010" PRIu64 " %s", res->rule->name, res->matches[i].string_id,
                    res->matches[i].offset,
                    res->matches[i].trace_id ? res->matches[i].trace_id : "-");
    return 0;
}

/*
 * An event callback (user: gen_set_t, kept in order, not sorted) recording
 * "<rule> line=<n> close=<0|1> ids=<a,b,...>": everything about an event that
 * must not depend on the chunking.
 */
static inline int gen_collect_events(const weir_match_event_t *ev, void *user)
{
    gen_set_t *s = user;
    gen_buf_t ids = {0};
    gen_puts(&ids, "");
    for (size_t i = 0; i < ev->ntrace_ids; i++) {
        if (i)
            gen_putc(&ids, ',');
        gen_puts(&ids, ev->trace_ids[i] ? ev->trace_ids[i] : "(null)");
    }
    gen_set_add(s, "%s line=%" PRIu64 " close=%d ids=%s", ev->rule->name, ev->line, ev->at_close,
                ids.p);
    gen_buf_free(&ids);
    return 0;
}

/* ---- trace-id model ---------------------------------------------------------- */

/*
 * The trace id of every line, computed on the whole data at once: the last
 * complete double-quoted string of the line, its bytes as written between the
 * quotes; a backslash escapes the next byte inside and outside quotes.
 * ids[k] is NULL for a line without one.  Lines end at '\n' (which belongs to
 * the line it ends); a final line without '\n' counts too.
 */
typedef struct gen_lines {
    size_t n;
    size_t *start; /* offset of each line's first byte */
    char **ids;
} gen_lines_t;

static inline void gen_lines_model(gen_lines_t *m, const void *data, size_t len)
{
    const uint8_t *p = data;
    m->n = 0;
    m->start = malloc((len + 1) * sizeof *m->start);
    m->ids = calloc(len + 1, sizeof *m->ids);
    if (!m->start || !m->ids)
        abort();
    size_t i = 0;
    while (i < len || (i == 0 && len == 0)) {
        size_t s = i, e = i;
        while (e < len && p[e] != '\n')
            e++;
        int inq = 0, esc = 0;
        size_t qs = 0, ls = 0, ll = 0, have = 0;
        for (size_t k = s; k < e; k++) {
            if (esc) {
                esc = 0;
            } else if (p[k] == '\\') {
                esc = 1;
            } else if (p[k] == '"') {
                if (inq) {
                    ls = qs, ll = k - qs, have = 1;
                    inq = 0;
                } else {
                    inq = 1;
                    qs = k + 1;
                }
            }
        }
        m->start[m->n] = s;
        if (have) {
            m->ids[m->n] = malloc(ll + 1);
            memcpy(m->ids[m->n], p + ls, ll);
            m->ids[m->n][ll] = '\0';
        }
        m->n++;
        if (len == 0)
            break;
        i = e + 1;
    }
}

/* The trace id of the line holding offset off (NULL: none). */
static inline const char *gen_lines_trace(const gen_lines_t *m, size_t off)
{
    size_t lo = 0, hi = m->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (m->start[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return m->n ? m->ids[lo] : NULL;
}

static inline void gen_lines_free(gen_lines_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->ids[i]);
    free(m->ids);
    free(m->start);
    memset(m, 0, sizeof *m);
}

/* ---- random data ------------------------------------------------------------- */

/* One byte of the small alphabet most strings are built from. */
static inline uint8_t gen_alpha_byte(gen_rng_t *r)
{
    static const uint8_t common[] = "aaaabbbxx  \n\"\\";
    uint32_t k = gen_below(r, 100);
    if (k < 2)
        return 0x00;
    if (k < 4)
        return 0xff;
    if (k < 5)
        return '\t';
    if (k < 6)
        return 0x80;
    return common[gen_below(r, sizeof common - 1)];
}

/* One log-like line ending in '\n': words, maybe a quoted trace id or two. */
static inline void gen_log_line(gen_rng_t *r, gen_buf_t *out)
{
    unsigned words = gen_range(r, 0, 6);
    for (unsigned w = 0; w < words; w++) {
        if (w)
            gen_putc(out, ' ');
        switch (gen_below(r, 10)) {
        case 0:
            gen_printf(out, "\"id-%u\"", gen_below(r, 40));
            break;
        case 1:
            gen_printf(out, "\"a\\\"b%u\"", gen_below(r, 5)); /* "a\"b3" */
            break;
        case 2:
            gen_puts(out, "\"\"");
            break;
        case 3:
            gen_printf(out, "req=%u", gen_below(r, 1000));
            break;
        default: {
            unsigned n = gen_range(r, 1, 5);
            for (unsigned i = 0; i < n; i++) {
                uint8_t c = gen_alpha_byte(r);
                gen_putc(out, c == '\n' ? 'a' : c);
            }
        }
        }
    }
    if (gen_chance(r, 50))
        gen_printf(out, " \"id-%u\"", gen_below(r, 40));
    gen_putc(out, '\n');
}

/*
 * The text strings of the last gen_rules, so that gen_data can plant them, xored or
 * base64-encoded, where xor and base64 strings find them.
 */
#define GEN_POOL_MAX 64
typedef struct gen_pooled {
    uint8_t text[8];
    size_t len;
    uint8_t lo, hi;    /* xor key range */
    char alphabet[65]; /* base64 alphabet */
} gen_pooled_t;
static gen_pooled_t gen__pool[GEN_POOL_MAX];
static size_t gen__npool;

static const char gen__b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of in[0..n) with alphabet a, '=' padded, each output byte followed by a zero byte
   when wide. */
static inline void gen_base64(gen_buf_t *out, const uint8_t *in, size_t n, const char *a, int wide)
{
    for (size_t i = 0; i < n; i += 3) {
        size_t m = n - i < 3 ? n - i : 3;
        /* cppcheck-suppress [knownConditionTrueFalse, badBitmaskCheck] ; m is 1 to 3, not < 1 */
        uint32_t v = (uint32_t)in[i] << 16 | (m > 1 ? (uint32_t)in[i + 1] << 8 : 0) |
                     /* cppcheck-suppress knownConditionTrueFalse ; the same */
                     (m > 2 ? in[i + 2] : 0);
        for (size_t k = 0; k < 4; k++) {
            gen_putc(out, k <= m ? a[(v >> (18 - 6 * k)) & 63] : '=');
            if (wide)
                gen_putc(out, 0);
        }
    }
}

/* One pooled string, planted as it is, xored (ascii or wide) or base64-encoded. */
static inline void gen_plant(gen_rng_t *r, gen_buf_t *out)
{
    const gen_pooled_t *s = &gen__pool[gen_below(r, (uint32_t)gen__npool)];
    uint8_t form[16];
    int wide = gen_chance(r, 35);
    size_t n = 0;
    for (size_t i = 0; i < s->len; i++) {
        form[n++] = s->text[i];
        if (wide)
            form[n++] = 0;
    }
    uint32_t how = gen_below(r, 10);
    if (how < 4) {
        uint8_t key =
            gen_chance(r, 85) ? (uint8_t)gen_range(r, s->lo, s->hi) : (uint8_t)gen_below(r, 256);
        for (size_t i = 0; i < n; i++)
            gen_putc(out, form[i] ^ key);
    } else if (how < 9) {
        uint8_t in[24];
        size_t k = 0, pre = gen_below(r, 3), post = gen_below(r, 3);
        for (size_t i = 0; i < pre; i++)
            in[k++] = gen_alpha_byte(r);
        memcpy(in + k, form, n);
        k += n;
        for (size_t i = 0; i < post; i++)
            in[k++] = gen_alpha_byte(r);
        const char *a = s->alphabet[0] && gen_chance(r, 80) ? s->alphabet : gen__b64_std;
        gen_base64(out, in, k, a, gen_chance(r, 30));
    } else {
        gen_putn(out, form, n);
    }
}

/* Stream data of at most max bytes: log lines, a binary blob, or both mixed. */
static inline void gen_data(gen_rng_t *r, gen_buf_t *out, size_t max)
{
    gen_buf_clear(out);
    size_t len = gen_chance(r, 40) ? gen_below(r, 64) : gen_below(r, (uint32_t)max + 1);
    unsigned mode = gen_below(r, 3);
    while (out->len < len) {
        if (gen__npool && gen_chance(r, 15)) {
            gen_plant(r, out);
        } else if (mode == 0 || (mode == 2 && gen_chance(r, 50))) {
            gen_log_line(r, out);
        } else {
            unsigned n = gen_range(r, 1, 40);
            for (unsigned i = 0; i < n; i++)
                gen_putc(out, gen_alpha_byte(r));
        }
    }
    if (out->len > len)
        out->len = len; /* may cut the last line: a stream need not end in '\n' */
}

/* ---- random rules -------------------------------------------------------------- */

#define GEN_MAX_STRINGS 5
static const char *const gen_sids[GEN_MAX_STRINGS] = {"$a", "$b1", "$b2", "$c", "$d"};

/* One byte of a YARA text string, escaped as YARA's lexer reads it; returns the byte. */
static inline uint8_t gen_text_byte(gen_rng_t *r, gen_buf_t *out)
{
    uint8_t c = gen_alpha_byte(r);
    switch (c) {
    case '\n':
        gen_puts(out, "\\n");
        break;
    case '\t':
        gen_puts(out, "\\t");
        break;
    case '"':
        gen_puts(out, "\\\"");
        break;
    case '\\':
        gen_puts(out, "\\\\");
        break;
    default:
        if (c < 0x20 || c >= 0x7f)
            gen_printf(out, "\\x%02x", c);
        else
            gen_putc(out, c);
    }
    return c;
}

/* One byte of a regex, literal or escaped. */
static inline void gen_re_byte(gen_rng_t *r, gen_buf_t *out)
{
    uint8_t c = gen_alpha_byte(r);
    switch (c) {
    case '\n':
        gen_puts(out, "\\n");
        break;
    case '\t':
        gen_puts(out, "\\t");
        break;
    case '\\':
        gen_puts(out, "\\\\");
        break;
    default:
        if (c < 0x20 || c >= 0x7f)
            gen_printf(out, "\\x%02x", c);
        else
            gen_putc(out, c);
    }
}

static inline void gen_re_alt(gen_rng_t *r, gen_buf_t *out, int depth);

/* YARA rejects a regex that mixes greedy and lazy quantifiers: one choice per regex. */
static int gen__re_lazy;

static inline void gen_re_quant(gen_rng_t *r, gen_buf_t *out)
{
    unsigned lo, k = gen_below(r, 6);
    switch (k) {
    case 0:
        gen_putc(out, '*');
        break;
    case 1:
        gen_putc(out, '+');
        break;
    case 2:
        gen_putc(out, '?');
        break;
    case 3:
        gen_printf(out, "{%u}", gen_range(r, 1, 3));
        break;
    case 4:
        lo = gen_range(r, 0, 3);
        gen_printf(out, "{%u,%u}", lo, lo + gen_range(r, 1, 4));
        break;
    default:
        gen_printf(out, "{%u,}", gen_range(r, 0, 2));
    }
    if (gen__re_lazy)
        gen_putc(out, '?');
}

static inline void gen_re_atom(gen_rng_t *r, gen_buf_t *out, int depth)
{
    static const char *const classes[] = {"[ab]",          "[^a]",     "[a-x]",
                                          "[\\n\"]",       "[^\\n]",   "[\\\\x]",
                                          "[\\x00-\\x20]", "[^ab\\n]", "[b-b]"};
    static const char *const escapes[] = {"\\d", "\\w", "\\s", "\\W", "\\S", "\\D"};
    unsigned k = gen_below(r, 20);
    if (k < 10) {
        gen_re_byte(r, out);
    } else if (k < 13) {
        gen_puts(out, classes[gen_below(r, sizeof classes / sizeof classes[0])]);
    } else if (k < 15) {
        gen_putc(out, '.');
    } else if (k < 17) {
        gen_puts(out, escapes[gen_below(r, sizeof escapes / sizeof escapes[0])]);
    } else if (depth > 0) {
        gen_putc(out, '(');
        gen_re_alt(r, out, depth - 1);
        gen_putc(out, ')');
    } else {
        gen_re_byte(r, out);
    }
    if (gen_chance(r, 25))
        gen_re_quant(r, out);
}

static inline void gen_re_seq(gen_rng_t *r, gen_buf_t *out, int depth)
{
    unsigned n = gen_range(r, 1, 4);
    for (unsigned i = 0; i < n; i++) {
        if (i && gen_chance(r, 5))
            gen_puts(out, "\\b");
        gen_re_atom(r, out, depth);
    }
}

static inline void gen_re_alt(gen_rng_t *r, gen_buf_t *out, int depth)
{
    gen_re_seq(r, out, depth);
    while (gen_chance(r, 20)) {
        gen_putc(out, '|');
        gen_re_seq(r, out, depth);
    }
}

static inline void gen_regex(gen_rng_t *r, gen_buf_t *out)
{
    gen_putc(out, '/');
    gen__re_lazy = gen_chance(r, 25);
    if (gen_chance(r, 10))
        gen_putc(out, '^');
    if (gen_chance(r, 5))
        gen_puts(out, "\\b");
    gen_re_alt(r, out, 2);
    if (gen_chance(r, 5))
        gen_puts(out, "\\b");
    if (gen_chance(r, 10))
        gen_putc(out, '$');
    gen_putc(out, '/');
    if (gen_chance(r, 15))
        gen_putc(out, 'i');
    if (gen_chance(r, 15))
        gen_putc(out, 's');
}

static inline void gen_hex_byte(gen_rng_t *r, gen_buf_t *out)
{
    static const char *const bytes[] = {"61", "61", "62", "62", "78", "20", "0A",
                                        "22", "5C", "00", "FF", "6?", "?2", "?A"};
    uint32_t k = gen_below(r, 20);
    if (k < 2)
        gen_puts(out, "??");
    else
        gen_puts(out, bytes[gen_below(r, sizeof bytes / sizeof bytes[0])]);
}

static inline void gen_hex_tokens(gen_rng_t *r, gen_buf_t *out, int depth, int jumps);

static inline void gen_hex_alt(gen_rng_t *r, gen_buf_t *out, int depth)
{
    gen_puts(out, "( ");
    gen_hex_tokens(r, out, depth - 1, 0);
    do {
        gen_puts(out, " | ");
        gen_hex_tokens(r, out, depth - 1, 0);
    } while (gen_chance(r, 30));
    gen_puts(out, " )");
}

/* A run of hex tokens that starts and ends with a byte. */
static inline void gen_hex_tokens(gen_rng_t *r, gen_buf_t *out, int depth, int jumps)
{
    unsigned n = gen_range(r, 1, 4);
    for (unsigned i = 0; i < n; i++) {
        if (i)
            gen_putc(out, ' ');
        if (i && jumps && gen_chance(r, 25)) {
            unsigned lo = gen_range(r, 0, 4);
            if (gen_chance(r, 40))
                gen_printf(out, "[%u] ", gen_range(r, 1, 4));
            else
                gen_printf(out, "[%u-%u] ", lo, gen_range(r, lo, 20));
        }
        if (depth > 0 && gen_chance(r, 20))
            gen_hex_alt(r, out, depth);
        else
            gen_hex_byte(r, out);
    }
}

static inline void gen_hex(gen_rng_t *r, gen_buf_t *out)
{
    gen_puts(out, "{ ");
    gen_hex_tokens(r, out, 2, 1);
    gen_puts(out, " }");
}

/* " xor", " xor(N)" or " xor(lo-hi)", the range recorded in ps. */
static inline void gen_xor_mod(gen_rng_t *r, gen_buf_t *out, gen_pooled_t *ps)
{
    uint32_t k = gen_below(r, 3);
    if (k == 0) {
        gen_puts(out, " xor");
    } else if (k == 1) {
        ps->lo = ps->hi = (uint8_t)gen_below(r, 256);
        gen_printf(out, gen_chance(r, 50) ? " xor(%u)" : " xor(0x%02x)", ps->lo);
    } else {
        ps->lo = (uint8_t)gen_below(r, 256);
        ps->hi = (uint8_t)gen_range(r, ps->lo,
                                    gen_chance(r, 50)  ? 255
                                    : ps->lo + 8 > 255 ? 255
                                                       : ps->lo + 8);
        gen_printf(out, " xor(%u-%u)", ps->lo, ps->hi);
    }
}

/* A custom base64 alphabet: 64 characters (repeats allowed, as in YARA), many of them
   regular-expression metacharacters, written as a YARA text string. */
static inline void gen_alphabet(gen_rng_t *r, gen_buf_t *out, char *alphabet)
{
    static const char pool[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                               "+/()[]{}.*?|^$,-_!@#%&=~\\";
    gen_putc(out, '"');
    for (int i = 0; i < 64; i++) {
        char c = pool[gen_below(r, sizeof pool - 1)];
        alphabet[i] = c;
        if (c == '\\')
            gen_puts(out, "\\\\");
        else
            gen_putc(out, c);
    }
    alphabet[64] = 0;
    gen_putc(out, '"');
}

/* " base64", " base64wide" or both, maybe with one custom alphabet (kept in ps). */
static inline void gen_base64_mods(gen_rng_t *r, gen_buf_t *out, gen_pooled_t *ps)
{
    uint32_t which = gen_range(r, 1, 3); /* bit 0: base64, bit 1: base64wide */
    int custom = gen_chance(r, 35);
    gen_buf_t a = {0};
    if (custom) {
        gen_putc(&a, '(');
        gen_alphabet(r, &a, ps->alphabet);
        gen_putc(&a, ')');
    }
    for (int k = 0; k < 2; k++) {
        if (!(which & (1u << k)))
            continue;
        gen_puts(out, k ? " base64wide" : " base64");
        if (custom)
            gen_putn(out, a.p, a.len);
    }
    gen_buf_free(&a);
}

/* One string definition: "$id = ... modifiers". */
static inline void gen_string_def(gen_rng_t *r, gen_buf_t *out, const char *sid)
{
    gen_printf(out, "        %s = ", sid);
    unsigned kind = gen_below(r, 10);
    if (kind < 5) {
        gen_pooled_t ps = {.lo = 0, .hi = 255};
        gen_putc(out, '"');
        unsigned n = gen_range(r, 1, 5);
        for (unsigned i = 0; i < n; i++)
            ps.text[ps.len++] = gen_text_byte(r, out);
        gen_putc(out, '"');
        /* 0: plain, 1: xor, 2: base64/base64wide */
        unsigned special = gen_chance(r, 70) ? 0 : gen_range(r, 1, 2);
        int wide = gen_chance(r, special == 2 ? 30 : 20);
        if (!special && gen_chance(r, 20))
            gen_puts(out, " nocase");
        if (wide)
            gen_puts(out, " wide");
        if (gen_chance(r, wide ? 50 : 10))
            gen_puts(out, " ascii");
        if (special == 1)
            gen_xor_mod(r, out, &ps);
        if (special == 2)
            gen_base64_mods(r, out, &ps);
        if (special != 2 && gen_chance(r, 20))
            gen_puts(out, " fullword");
        if (special && gen__npool < GEN_POOL_MAX)
            gen__pool[gen__npool++] = ps;
    } else if (kind < 7) {
        gen_hex(r, out);
    } else {
        gen_regex(r, out);
        int wide = gen_chance(r, 8);
        if (gen_chance(r, 8))
            gen_puts(out, " nocase");
        if (wide)
            gen_puts(out, " wide");
        if (wide && gen_chance(r, 50))
            gen_puts(out, " ascii");
        if (gen_chance(r, 10))
            gen_puts(out, " fullword");
    }
    if (gen_chance(r, 12))
        gen_puts(out, " private");
    gen_putc(out, '\n');
}

typedef struct gen_rule_ctx {
    unsigned nstr;       /* strings of the rule being written: gen_sids[0..nstr) */
    unsigned referenced; /* bit per string */
    unsigned index;      /* rules before it may be referenced */
} gen_rule_ctx_t;

static inline const char *gen_pick_sid(gen_rng_t *r, gen_rule_ctx_t *c, unsigned *k)
{
    *k = gen_below(r, c->nstr);
    c->referenced |= 1u << *k;
    return gen_sids[*k];
}

/* A string set "(...)" or "them"; *size gets its number of strings. */
static inline void gen_string_set(gen_rng_t *r, gen_rule_ctx_t *c, gen_buf_t *out, unsigned *size)
{
    if (gen_chance(r, 40)) {
        gen_puts(out, "them");
        c->referenced = (1u << c->nstr) - 1;
        *size = c->nstr;
        return;
    }
    unsigned mask = 0;
    gen_putc(out, '(');
    unsigned n = gen_range(r, 1, c->nstr);
    int first = 1;
    for (unsigned i = 0; i < n; i++) {
        unsigned k = gen_below(r, c->nstr);
        if (mask & (1u << k))
            continue;
        if ((k == 1 || k == 2) && gen_chance(r, 50)) {
            unsigned both = 0;
            for (unsigned j = 1; j <= 2 && j < c->nstr; j++)
                both |= 1u << j;
            if (mask & both)
                continue;
            mask |= both;
            gen_printf(out, "%s$b*", first ? "" : ", ");
        } else {
            mask |= 1u << k;
            gen_printf(out, "%s%s", first ? "" : ", ", gen_sids[k]);
        }
        first = 0;
    }
    gen_putc(out, ')');
    c->referenced |= mask;
    *size = (unsigned)__builtin_popcount(mask);
}

static inline void gen_cond(gen_rng_t *r, gen_rule_ctx_t *c, gen_buf_t *out, int depth);

/* An integer read (uint8(o) ... int32be(o)) compared with something the data may hold: offsets
   mostly near the start, sometimes past the end of short streams, sometimes read themselves. */
static inline void gen_read_cond(gen_rng_t *r, gen_buf_t *out)
{
    static const char *const fn[] = {"uint8",    "uint16", "uint32",  "int8",
                                     "int16",    "int32",  "uint8be", "uint16be",
                                     "uint32be", "int8be", "int16be", "int32be"};
    static const char *const cmp[] = {"==", "!=", "<", ">", "<=", ">="};
    const char *f = fn[gen_below(r, 12)];
    unsigned off = gen_chance(r, 80) ? gen_below(r, 16) : gen_below(r, 3000);
    switch (gen_below(r, 4)) {
    case 0:
        gen_printf(out, "%s(%u) == %u", f, off, (unsigned)gen_alpha_byte(r));
        break;
    case 1:
        gen_printf(out, "(%s(%u) & 0xff) == %u", f, off, (unsigned)gen_alpha_byte(r));
        break;
    case 2:
        gen_printf(out, "%s(%u) %s %d", f, off, cmp[gen_below(r, 6)],
                   (int)gen_below(r, 0x20000) - 0x10000);
        break;
    default: /* an offset known only at scan time */
        gen_printf(out, "%s(uint8(%u) & 15) %s %u", f, gen_below(r, 8), cmp[gen_below(r, 6)],
                   (unsigned)gen_alpha_byte(r));
        break;
    }
}

static inline void gen_cond_atom(gen_rng_t *r, gen_rule_ctx_t *c, gen_buf_t *out)
{
    unsigned k, size, pick = gen_below(r, c->nstr ? 20 : 3);
    const char *s;
    if (!c->nstr || pick < 3) {
        if (c->index > 0 && gen_chance(r, 60)) {
            gen_printf(out, "r%u", gen_below(r, c->index));
        } else if (gen_chance(r, 35)) {
            gen_read_cond(r, out);
        } else if (gen_chance(r, 80)) {
            gen_printf(out, "filesize > %u", gen_below(r, 200));
        } else {
            gen_printf(out, "filesize < %u", gen_below(r, 3000));
        }
        return;
    }
    switch (pick) {
    case 3:
    case 4:
    case 5:
        gen_puts(out, gen_pick_sid(r, c, &k));
        break;
    case 6:
        s = gen_pick_sid(r, c, &k);
        gen_printf(out, "#%s > %u", s + 1, gen_below(r, 6));
        break;
    case 7:
        s = gen_pick_sid(r, c, &k);
        gen_printf(out, "#%s == %u", s + 1, gen_below(r, 4));
        break;
    case 8:
        s = gen_pick_sid(r, c, &k);
        gen_printf(out, "@%s[1] < %u", s + 1, gen_below(r, 300));
        break;
    case 9:
        s = gen_pick_sid(r, c, &k);
        gen_printf(out, "!%s[1] == %u", s + 1, gen_range(r, 1, 5));
        break;
    case 10:
        s = gen_pick_sid(r, c, &k);
        gen_printf(out, "%s at %u", s, gen_below(r, 40));
        break;
    case 11: {
        unsigned lo = gen_below(r, 100);
        s = gen_pick_sid(r, c, &k);
        gen_printf(out, "%s in (%u..%u)", s, lo, lo + gen_below(r, 500));
        break;
    }
    case 12: {
        static const char *const q[] = {"any", "all", "none", "1", "2", "50%", "34%", "100%"};
        gen_buf_t set = {0};
        gen_string_set(r, c, &set, &size);
        const char *qq = q[gen_below(r, 8)];
        if (qq[0] == '2' && size < 2)
            qq = "any";
        gen_printf(out, "%s of %s", qq, set.p);
        gen_buf_free(&set);
        break;
    }
    case 13: {
        gen_buf_t set = {0};
        gen_string_set(r, c, &set, &size);
        gen_printf(out, "for %s of %s : (# > %u)", gen_chance(r, 50) ? "any" : "all", set.p,
                   gen_below(r, 3));
        gen_buf_free(&set);
        break;
    }
    case 14: {
        gen_buf_t set = {0};
        gen_string_set(r, c, &set, &size);
        gen_printf(out, "for any of %s : (@ < %u)", set.p, gen_below(r, 200));
        gen_buf_free(&set);
        break;
    }
    case 15:
        s = gen_pick_sid(r, c, &k);
        gen_printf(out, "for all i in (1..#%s) : (@%s[i] < %u)", s + 1, s + 1, gen_below(r, 400));
        break;
    case 16:
        s = gen_pick_sid(r, c, &k);
        gen_printf(out, "for any i in (1..#%s) : (!%s[i] > %u)", s + 1, s + 1, gen_range(r, 1, 4));
        break;
    case 17:
        s = gen_pick_sid(r, c, &k);
        if (gen_chance(r, 50))
            gen_printf(out, "#%s == 0", s + 1);
        else
            gen_printf(out, "%sdefined %c%s[%u]", gen_chance(r, 30) ? "not " : "",
                       gen_chance(r, 50) ? '@' : '!', s + 1, gen_range(r, 1, 3));
        break;
    default:
        gen_printf(out, "%s of them", gen_chance(r, 50) ? "any" : "all");
        c->referenced = (1u << c->nstr) - 1;
    }
}

static inline void gen_cond(gen_rng_t *r, gen_rule_ctx_t *c, gen_buf_t *out, int depth)
{
    unsigned k = depth > 0 ? gen_below(r, 10) : 0;
    if (k < 5) {
        gen_cond_atom(r, c, out);
    } else if (k < 6) {
        gen_puts(out, "not ");
        if (gen_chance(r, 50)) {
            gen_cond_atom(r, c, out);
        } else {
            gen_putc(out, '(');
            gen_cond(r, c, out, depth - 1);
            gen_putc(out, ')');
        }
    } else {
        gen_putc(out, '(');
        gen_cond(r, c, out, depth - 1);
        gen_puts(out, k < 8 ? " and " : " or ");
        gen_cond(r, c, out, depth - 1);
        gen_putc(out, ')');
    }
}

/* A rule file of 1..max_rules rules named r0, r1, ... */
static inline void gen_rules(gen_rng_t *r, gen_buf_t *out, unsigned max_rules)
{
    gen_buf_clear(out);
    gen__npool = 0;
    unsigned nrules = gen_range(r, 1, max_rules);
    for (unsigned i = 0; i < nrules; i++) {
        gen_rule_ctx_t c = {.index = i};
        c.nstr = gen_chance(r, 8) ? 0 : gen_range(r, 1, GEN_MAX_STRINGS);
        if (gen_chance(r, 6))
            gen_puts(out, "global ");
        if (gen_chance(r, 15))
            gen_puts(out, "private ");
        gen_printf(out, "rule r%u", i);
        if (gen_chance(r, 25)) {
            gen_puts(out, " :");
            unsigned nt = gen_range(r, 1, 3);
            for (unsigned t = 0; t < nt; t++)
                gen_printf(out, " t%u", t);
        }
        gen_puts(out, "\n{\n");
        if (gen_chance(r, 25)) {
            gen_puts(out, "    meta:\n");
            gen_printf(out, "        author = \"gen \\\"%u\\\"\"\n", i);
            gen_printf(out, "        score = %u\n", gen_below(r, 100));
            gen_printf(out, "        live = %s\n", gen_chance(r, 50) ? "true" : "false");
        }
        if (c.nstr) {
            gen_puts(out, "    strings:\n");
            for (unsigned s = 0; s < c.nstr; s++)
                gen_string_def(r, out, gen_sids[s]);
        }
        gen_puts(out, "    condition:\n        ");
        gen_cond(r, &c, out, 3);
        /* YARA rejects unreferenced strings: tie each one in. */
        for (unsigned s = 0; s < c.nstr; s++) {
            if (c.referenced & (1u << s))
                continue;
            switch (gen_below(r, 4)) {
            case 0:
                gen_printf(out, " and %s", gen_sids[s]);
                break;
            case 1:
                gen_printf(out, " or %s", gen_sids[s]);
                break;
            case 2:
                gen_printf(out, " or #%s > %u", gen_sids[s] + 1, gen_below(r, 4));
                break;
            default:
                gen_printf(out, " and not %s", gen_sids[s]);
            }
        }
        gen_puts(out, "\n}\n\n");
    }
}

/* Rules YARA rejects, appended now and then so that weir's rejections are compared too. */
static const char *const gen_bad_rules[] = {
    "rule bad { condition: no_such_rule }",
    "rule r0 { condition: true }", /* duplicate name when r0 exists */
    "rule bad { strings: $a = \"a\" $b = \"b\" condition: $a }",
    "rule bad { strings: $a = /a*b+?/ condition: $a }",
    "rule bad { strings: $a = { [2] 61 } condition: $a }",
    "rule bad { strings: $a = { 61 [2] } condition: $a }",
    "rule bad { strings: $a = { } condition: $a }",
    "rule bad { strings: $a = { 61 [5-2] 62 } condition: $a }",
    "rule bad { strings: $a = { 61 ( 62 [2-] 63 | 64 ) } condition: $a }",
    "rule bad { strings: $a = { 6 } condition: $a }",
    "rule bad { strings: $a = /a(/ condition: $a }",
    "rule bad { strings: $a = /a{3,2}/ condition: $a }",
    "rule bad { strings: $a = \"\\q\" condition: $a }",
    "rule bad { strings: $a = \"\" condition: $a }",
    "rule bad { strings: $a = \"a\" $a = \"b\" condition: $a }",
    "rule bad { strings: $a = \"a\" condition: $b }",
    "rule bad { strings: $a = \"a\" condition: #a > }",
    "rule bad { strings: $a = \"a\" nocase nocase condition: $a }",
    "rule bad { strings: $a = { 61 62 } nocase condition: $a }",
    "rule bad { strings: $a = \"a\" condition: $a at }",
    "rule bad { strings: $a = \"a\" condition: for all i in (1..#a) : (@b[i] < 1) }",
    "rule bad { condition: true and }",
    "rule bad : 1tag { condition: true }",
    "rule bad { meta: x = condition: true }",
    "rule bad { condition: r99 }",
    "rule bad { strings: $a = \"a\" condition: 3 of ($a) }",
    "rule bad { strings: $a = \"a\" condition: all of ($z*) }",
    "rule bad { strings: $a = \"a\" condition: $a in (5..) }",
    "rule bad { strings: $a = \"abc\" xor nocase condition: $a }",
    "rule bad { strings: $a = \"abc\" base64 fullword condition: $a }",
    "rule bad { strings: $a = \"abc\" base64wide xor(3) condition: $a }",
    "rule bad { strings: $a = \"abc\" xor(4-2) condition: $a }",
    "rule bad { strings: $a = \"abc\" base64(\"abc\") condition: $a }",
    "rule bad { strings: $a = \"abc\" base64 base64wide(\"!\\\"#$%&'()*+,-./0123456789:;<=>?@"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`\") condition: $a }",
};

/* Appends one of gen_bad_rules to out. */
static inline void gen_append_bad_rule(gen_rng_t *r, gen_buf_t *out)
{
    gen_puts(out, gen_bad_rules[gen_below(r, sizeof gen_bad_rules / sizeof gen_bad_rules[0])]);
    gen_putc(out, '\n');
}

#endif /* WEIR_TEST_GEN_H */
