/*
 * traceid.c - trace-id extraction (see traceid.h): the streaming quoted-string scanner, the
 * line buffer of the JSON and regex modes with its spare-buffer pool, a JSON object reader
 * that parses only as far as the field, snapshots of a stream's partial line.
 */
#define _POSIX_C_SOURCE 200809L

#include "traceid.h"

#include <assert.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#ifndef REG_STARTEND
#error "weir needs regexec's REG_STARTEND (glibc, the BSDs and macOS have it): lines may hold NUL"
#endif

struct weir__trace_cfg {
    uint32_t mode;
    uint32_t max_line;
    char *path; /* JSON: the field path, names separated by '.' */
    int have_re;
    regex_t re; /* REGEX */
};

/* A line's working buffer.  Every buffer is at least BUF_MIN bytes, so a pooled one suits
   every mode. */
struct weir__trace_buf {
    uint32_t cap;               /* bytes of data */
    uint16_t cur_len, last_len; /* QUOTED */
    uint8_t data[];             /* QUOTED: cur at 0, last at WEIR__TRACE_MAX; else the line */
};

enum { BUF_MIN = 2 * WEIR__TRACE_MAX };

/* t->flags.  The Q_ bits are the quoted scanner's state; T_LINE says buf holds the line's
   first t->seen bytes (JSON, REGEX), which is what a snapshot needs to know. */
enum { Q_IN = 1, Q_ESC = 2, Q_LAST = 4, T_LINE = 8 };

_Static_assert(sizeof(weir__trace_t) <= 16, "a stream's trace state must stay small");

/* ---- configuration ------------------------------------------------------------------------ */

/* Builds cfg; on failure a reason in why and, in *what, the subject it is about (or NULL). */
static int cfg_make(uint32_t mode, const char *arg, uint32_t max_line, weir__trace_cfg_t **out,
                    char *why, size_t whylen, const char **what)
{
    *out = NULL;
    *what = NULL;
    weir__trace_cfg_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        goto oom;
    cfg->mode = mode;
    cfg->max_line = max_line ? max_line : WEIR_DEFAULT_MAX_LINE;
    switch (mode) {
    case WEIR_TRACE_QUOTED:
    case WEIR_TRACE_NONE:
        break;
    case WEIR_TRACE_JSON:
        *what = "trace JSON field";
        if (!arg || !*arg) {
            snprintf(why, whylen, "no field name given");
            goto fail;
        }
        for (const char *p = arg;; p++) {
            const char *dot = strchr(p, '.');
            if ((dot ? dot : p + strlen(p)) == p) {
                snprintf(why, whylen, "a field name is empty in '%s'", arg);
                goto fail;
            }
            if (!dot)
                break;
            p = dot;
        }
        if (!(cfg->path = weir__strdup(arg)))
            goto oom;
        break;
    case WEIR_TRACE_REGEX: {
        *what = "trace regex";
        if (!arg) {
            snprintf(why, whylen, "no regular expression given");
            goto fail;
        }
        int rc = regcomp(&cfg->re, arg, REG_EXTENDED);
        if (rc == REG_ESPACE)
            goto oom;
        if (rc != 0) {
            regerror(rc, &cfg->re, why, whylen);
            /* "Unmatched ( or \(" reads as part of a sentence in lower case. */
            if (why[0] >= 'A' && why[0] <= 'Z' && why[1] >= 'a' && why[1] <= 'z')
                why[0] = (char)(why[0] - 'A' + 'a');
            goto fail;
        }
        cfg->have_re = 1;
        if (cfg->re.re_nsub < 1) {
            snprintf(why, whylen, "no capture group: put the trace id in ( )");
            goto fail;
        }
        break;
    }
    default:
        snprintf(why, whylen, "unknown trace mode %u", (unsigned)mode);
        goto fail;
    }
    *out = cfg;
    return 0;
oom:
    snprintf(why, whylen, "out of memory");
    *what = NULL;
    weir__trace_cfg_free(cfg);
    return -2;
fail:
    weir__trace_cfg_free(cfg);
    return -1;
}

int weir__trace_cfg_new(uint32_t mode, const char *arg, uint32_t max_line, weir__trace_cfg_t **out,
                        char *err, size_t errlen)
{
    char why[256];
    const char *what;
    int rc = cfg_make(mode, arg, max_line, out, why, sizeof why, &what);
    if (rc != 0 && err && errlen) {
        if (what)
            snprintf(err, errlen, "%s: %s", what, why);
        else
            snprintf(err, errlen, "%s", why);
    }
    return rc;
}

void weir__trace_cfg_free(weir__trace_cfg_t *cfg)
{
    if (!cfg)
        return;
    if (cfg->have_re)
        regfree(&cfg->re);
    free(cfg->path);
    free(cfg);
}

uint32_t weir__trace_cfg_mode(const weir__trace_cfg_t *cfg)
{
    return cfg->mode;
}

weir_status_t weir_trace_check(uint32_t mode, const char *arg, char *msg, size_t msglen)
{
    if (!msg && msglen)
        return WEIR_EINVAL;
    if (msglen)
        msg[0] = '\0';
    char why[256];
    const char *what;
    weir__trace_cfg_t *cfg;
    int rc = cfg_make(mode, arg, 0, &cfg, why, sizeof why, &what);
    weir__trace_cfg_free(cfg);
    if (rc == 0)
        return WEIR_OK;
    if (msglen)
        snprintf(msg, msglen, "%s", why);
    return rc == -2 ? WEIR_ENOMEM : WEIR_EINVAL;
}

/* ---- buffers and the pool ------------------------------------------------------------------ */

static size_t buf_size(uint32_t cap)
{
    return sizeof(struct weir__trace_buf) + cap;
}

static void move_charge(weir__mem_t *from, weir__mem_t *to, size_t n)
{
    if (from)
        from->bytes -= n;
    if (to)
        to->bytes += n;
}

static struct weir__trace_buf *buf_alloc(weir__mem_t *mem, uint32_t cap)
{
    struct weir__trace_buf *b = weir__malloc(mem, buf_size(cap));
    if (b) {
        b->cap = cap;
        b->cur_len = b->last_len = 0;
    }
    return b;
}

/* A buffer for a stream, from the pool when it has one; charged to mem. */
static struct weir__trace_buf *borrow(weir__trace_pool_t *pool, weir__mem_t *mem)
{
    if (pool && pool->n) {
        struct weir__trace_buf *b = pool->bufs[--pool->n];
        move_charge(&pool->mem, mem, buf_size(b->cap));
        return b;
    }
    return buf_alloc(mem, BUF_MIN);
}

static void give_back(weir__trace_pool_t *pool, weir__mem_t *mem, struct weir__trace_buf *b)
{
    if (!b)
        return;
    if (pool && pool->n < WEIR__TRACE_POOL && b->cap <= WEIR__TRACE_POOL_KEEP) {
        move_charge(mem, &pool->mem, buf_size(b->cap));
        pool->bufs[pool->n++] = b;
    } else {
        weir__free(mem, b, buf_size(b->cap));
    }
}

void weir__trace_pool_free(weir__trace_pool_t *pool)
{
    if (!pool)
        return;
    while (pool->n) {
        struct weir__trace_buf *b = pool->bufs[--pool->n];
        weir__free(&pool->mem, b, buf_size(b->cap));
    }
}

/* The id p[0..n), cut to WEIR__TRACE_MAX bytes, in pool->id. */
static const char *put_id(weir__trace_pool_t *pool, const uint8_t *p, size_t n)
{
    assert(pool); /* only weir__trace_feed accepts no pool, and it makes no id */
    if (n > WEIR__TRACE_MAX)
        n = WEIR__TRACE_MAX;
    memcpy(pool->id, p, n);
    pool->id[n] = '\0';
    return pool->id;
}

/* ---- QUOTED: the last double-quoted string ------------------------------------------------ */

/* The first '"' or '\\' in [p, end), or NULL: the only bytes that matter. */
static const uint8_t *next_special(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *q = memchr(p, '"', (size_t)(end - p));
    const uint8_t *b = memchr(p, '\\', (size_t)((q ? q : end) - p));
    return b ? b : q;
}

static void append(struct weir__trace_buf *b, const uint8_t *p, size_t n)
{
    size_t room = WEIR__TRACE_MAX - b->cur_len;
    if (n > room)
        n = room;
    memcpy(b->data + b->cur_len, p, n);
    b->cur_len = (uint16_t)(b->cur_len + n);
}

static int quoted_feed(weir__trace_t *t, weir__trace_pool_t *pool, weir__mem_t *mem,
                       const uint8_t *p, size_t n)
{
    const uint8_t *start = p, *end = p + n;
    int rc = 0;
    while (p < end) {
        if (t->flags & Q_ESC) {
            /* An escaped byte neither opens nor closes a quote; inside one it is kept as
               written, backslash included. */
            t->flags &= (uint8_t)~Q_ESC;
            if (t->flags & Q_IN)
                append(t->buf, p, 1);
            p++;
            continue;
        }
        const uint8_t *s = next_special(p, end);
        const uint8_t *stop = s ? s : end;
        if (t->flags & Q_IN)
            append(t->buf, p, (size_t)(stop - p));
        if (!s) {
            p = end;
            break;
        }
        if (*s == '\\') {
            t->flags |= Q_ESC;
            if (t->flags & Q_IN)
                append(t->buf, s, 1);
        } else if (t->flags & Q_IN) {
            struct weir__trace_buf *b = t->buf;
            memcpy(b->data + WEIR__TRACE_MAX, b->data, b->cur_len);
            b->last_len = b->cur_len;
            t->flags = (uint8_t)((t->flags & ~Q_IN) | Q_LAST);
        } else {
            /* The buffer is needed from the first opening quote of a line on. */
            if (!t->buf && !(t->buf = borrow(pool, mem))) {
                p = s;
                rc = -1;
                break;
            }
            t->buf->cur_len = 0;
            t->flags |= Q_IN;
        }
        p = s + 1;
    }
    t->seen += (uint32_t)(p - start);
    return rc;
}

/* The same as feeding line[0..len) and ending the line, in one pass and without a buffer:
   the last complete quoted string's first WEIR__TRACE_MAX bytes, as written. */
static const char *quoted_of_line(weir__trace_pool_t *pool, const uint8_t *line, size_t len)
{
    const uint8_t *p = line, *end = line + len, *open = NULL, *last = NULL, *last_end = NULL;
    while (p < end) {
        const uint8_t *s = next_special(p, end);
        if (!s)
            break;
        if (*s == '\\') {
            if (end - s < 2) /* a backslash ending the line escapes nothing */
                break;
            p = s + 2;
            continue;
        }
        if (open) {
            last = open;
            last_end = s;
            open = NULL;
        } else {
            open = s + 1;
        }
        p = s + 1;
    }
    return last ? put_id(pool, last, (size_t)(last_end - last)) : NULL;
}

/* ---- JSON: the value of a field of an object ----------------------------------------------- */

typedef struct jcur {
    const uint8_t *p, *end;
} jcur_t;

/* Objects and arrays nested deeper than this make a line "not JSON" (no id). */
#define JSON_DEPTH 512

static void jws(jcur_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
        c->p++;
}

/* Skips white space, then takes ch if it is next. */
static int jeat(jcur_t *c, uint8_t ch)
{
    jws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static long hex4(jcur_t *c)
{
    if (c->end - c->p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t h = c->p[i];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    c->p += 4;
    return v;
}

static int utf8_put(long u, uint8_t out[4])
{
    if (u < 0x80) {
        out[0] = (uint8_t)u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (uint8_t)(0xC0 | u >> 6);
        out[1] = (uint8_t)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (uint8_t)(0xE0 | u >> 12);
        out[1] = (uint8_t)(0x80 | (u >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (u & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | u >> 18);
    out[1] = (uint8_t)(0x80 | (u >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (u >> 6 & 0x3F));
    out[3] = (uint8_t)(0x80 | (u & 0x3F));
    return 4;
}

/*
 * The next character of a string whose opening quote is behind c, unescaped into out: its
 * byte count (1 to 4), 0 at the closing quote (taken), -1 for a bad escape or a string the
 * line cuts.  \uXXXX becomes UTF-8, surrogate pairs combined; a lone surrogate is U+FFFD.
 * Other bytes are taken as they are, as lenient readers do.
 */
static int junit(jcur_t *c, uint8_t out[4])
{
    if (c->p >= c->end)
        return -1;
    uint8_t ch = *c->p++;
    if (ch == '"')
        return 0;
    if (ch != '\\') {
        out[0] = ch;
        return 1;
    }
    if (c->p >= c->end)
        return -1;
    switch ((ch = *c->p++)) {
    case '"':
    case '\\':
    case '/':
        out[0] = ch;
        return 1;
    case 'b':
        out[0] = '\b';
        return 1;
    case 'f':
        out[0] = '\f';
        return 1;
    case 'n':
        out[0] = '\n';
        return 1;
    case 'r':
        out[0] = '\r';
        return 1;
    case 't':
        out[0] = '\t';
        return 1;
    case 'u': {
        long u = hex4(c);
        if (u < 0)
            return -1;
        if (u >= 0xD800 && u <= 0xDBFF) {
            jcur_t save = *c;
            long lo = -1;
            if (c->end - c->p >= 2 && c->p[0] == '\\' && c->p[1] == 'u') {
                c->p += 2;
                lo = hex4(c);
            }
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else {
                *c = save;
                u = 0xFFFD;
            }
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            u = 0xFFFD;
        }
        return utf8_put(u, out);
    }
    default:
        return -1;
    }
}

/* Skips the rest of a string whose opening quote is behind c. */
static int jskip_string(jcur_t *c)
{
    while (c->p < c->end) {
        uint8_t ch = *c->p++;
        if (ch == '"')
            return 1;
        if (ch == '\\')
            c->p++;
    }
    return 0;
}

static int is_delim(uint8_t ch)
{
    return ch == ',' || ch == '}' || ch == ']' || ch == ' ' || ch == '\t' || ch == '\r' ||
           ch == '\n' || ch == '"' || ch == '{' || ch == '[' || ch == ':';
}

/* Skips one value.  Nested objects and arrays are skipped by counting brackets, each closed
   by its own kind; strings inside them may hold brackets and escaped quotes. */
static int jskip_value(jcur_t *c)
{
    jws(c);
    if (c->p >= c->end)
        return 0;
    uint8_t ch = *c->p;
    if (ch == '"') {
        c->p++;
        return jskip_string(c);
    }
    if (ch != '{' && ch != '[') {
        const uint8_t *s = c->p;
        while (c->p < c->end && !is_delim(*c->p))
            c->p++;
        return c->p > s;
    }
    uint64_t kind[JSON_DEPTH / 64] = {0}; /* bit set: an array */
    size_t depth = 0;
    while (c->p < c->end) {
        ch = *c->p++;
        if (ch == '"') {
            if (!jskip_string(c))
                return 0;
        } else if (ch == '{' || ch == '[') {
            if (depth == JSON_DEPTH)
                return 0;
            uint64_t bit = (uint64_t)1 << (depth % 64);
            kind[depth / 64] = ch == '[' ? kind[depth / 64] | bit : kind[depth / 64] & ~bit;
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
            int array = (int)(kind[depth / 64] >> (depth % 64) & 1);
            if (array != (ch == ']'))
                return 0;
            if (depth == 0)
                return 1;
        }
    }
    return 0;
}

/* Inside an object (after its '{'): finds member key[0..klen) and stops at its value. */
static int jfind(jcur_t *c, const char *key, size_t klen)
{
    if (jeat(c, '}'))
        return 0;
    for (;;) {
        if (!jeat(c, '"'))
            return 0;
        int same = 1, k;
        size_t i = 0;
        uint8_t u[4];
        while ((k = junit(c, u)) > 0) {
            if (same && (i + (size_t)k > klen || memcmp(key + i, u, (size_t)k) != 0))
                same = 0;
            i += (size_t)k;
        }
        if (k < 0 || !jeat(c, ':'))
            return 0;
        if (same && i == klen) {
            jws(c);
            return 1;
        }
        if (!jskip_value(c) || !jeat(c, ','))
            return 0;
    }
}

/* A JSON number as RFC 8259 writes it, or true, false or null. */
static int is_scalar(const uint8_t *s, size_t n)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++)
        if (n == strlen(words[i]) && memcmp(s, words[i], n) == 0)
            return 1;
    const uint8_t *p = s, *end = s + n;
#define DIGITS(min)                                                                                \
    do {                                                                                           \
        const uint8_t *d = p;                                                                      \
        while (p < end && *p >= '0' && *p <= '9')                                                  \
            p++;                                                                                   \
        if (p - d < (min))                                                                         \
            return 0;                                                                              \
    } while (0)
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else
        DIGITS(1);
    if (p < end && *p == '.') {
        p++;
        DIGITS(1);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        DIGITS(1);
    }
#undef DIGITS
    return p == end;
}

/* The value at c: a string unescaped, a number or literal as written, else none. */
static const char *jvalue(jcur_t *c, weir__trace_pool_t *pool)
{
    jws(c);
    if (c->p >= c->end)
        return NULL;
    if (*c->p == '"') {
        c->p++;
        size_t n = 0;
        int k, full = 0;
        uint8_t u[4];
        while ((k = junit(c, u)) > 0) {
            /* Cut at a whole character, so that an escape is never half kept. */
            if (!full && n + (size_t)k <= WEIR__TRACE_MAX) {
                memcpy(pool->id + n, u, (size_t)k);
                n += (size_t)k;
            } else {
                full = 1;
            }
        }
        if (k < 0)
            return NULL;
        pool->id[n] = '\0';
        return pool->id;
    }
    const uint8_t *s = c->p;
    while (c->p < c->end && !is_delim(*c->p))
        c->p++;
    size_t n = (size_t)(c->p - s);
    /* A scalar the line cuts might be longer: only one followed by ',' or '}' is whole. */
    if (!n || !is_scalar(s, n) || !(jeat(c, ',') || jeat(c, '}')))
        return NULL;
    return put_id(pool, s, n);
}

static const char *json_extract(const weir__trace_cfg_t *cfg, weir__trace_pool_t *pool,
                                const uint8_t *p, size_t n)
{
    jcur_t c = {p, p + n};
    const char *name = cfg->path;
    if (!jeat(&c, '{'))
        return NULL;
    for (;;) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        if (!jfind(&c, name, len))
            return NULL;
        if (!dot)
            return jvalue(&c, pool);
        if (!jeat(&c, '{'))
            return NULL;
        name = dot + 1;
    }
}

/* ---- REGEX: the first capture group --------------------------------------------------------- */

/*
 * p[0..n) must be followed by a NUL byte.  glibc's regexec reads only the range REG_STARTEND
 * gives it, but sanitizers' regexec interceptors check strlen(p) + 1 bytes, so every buffer
 * searched is terminated (a NUL within the line stops that check early, which is harmless).
 */
static const char *regex_extract(const weir__trace_cfg_t *cfg, weir__trace_pool_t *pool,
                                 const uint8_t *p, size_t n)
{
    regmatch_t m[2];
    if (n > INT_MAX) /* glibc's regoff_t is an int */
        n = INT_MAX;
    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)n;
    if (regexec(&cfg->re, (const char *)p, 2, m, REG_STARTEND) != 0)
        return NULL;
    if (m[1].rm_so < 0 || m[1].rm_eo < m[1].rm_so) /* the group took no part in the match */
        return NULL;
    return put_id(pool, p + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
}

static const char *extract(const weir__trace_cfg_t *cfg, weir__trace_pool_t *pool, const uint8_t *p,
                           size_t n)
{
    if (!p)
        p = (const uint8_t *)"";
    return cfg->mode == WEIR_TRACE_JSON ? json_extract(cfg, pool, p, n)
                                        : regex_extract(cfg, pool, p, n);
}

/* Makes *bp hold at least need bytes (need <= max_line + 1), doubling; 0 or -1. */
static int buf_reserve(struct weir__trace_buf **bp, weir__mem_t *mem, size_t need,
                       uint32_t max_line)
{
    struct weir__trace_buf *b = *bp;
    if (need <= b->cap)
        return 0;
    uint64_t cap = b->cap, limit = (uint64_t)max_line + 1;
    while (cap < need)
        cap *= 2;
    if (cap > limit)
        cap = limit > BUF_MIN ? limit : BUF_MIN;
    if (cap > UINT32_MAX)
        return -1;
    if (!(b = weir__realloc(mem, b, buf_size(b->cap), buf_size((uint32_t)cap))))
        return -1;
    b->cap = (uint32_t)cap;
    *bp = b;
    return 0;
}

/* A whole line for the regex: copied into a pool buffer to be NUL-terminated (see
   regex_extract), which stays charged to the pool; NULL when out of memory too. */
static const char *regex_of_line(const weir__trace_cfg_t *cfg, weir__trace_pool_t *pool,
                                 const uint8_t *line, size_t len)
{
    struct weir__trace_buf *b = borrow(pool, &pool->mem);
    if (!b)
        return NULL;
    const char *id = NULL;
    if (buf_reserve(&b, &pool->mem, len + 1, cfg->max_line) == 0) {
        memcpy(b->data, line, len);
        b->data[len] = '\0';
        id = regex_extract(cfg, pool, b->data, len);
    }
    give_back(pool, &pool->mem, b);
    return id;
}

/* ---- streams ------------------------------------------------------------------------------- */

int weir__trace_feed(weir__trace_t *t, const weir__trace_cfg_t *cfg, weir__trace_pool_t *pool,
                     weir__mem_t *mem, const uint8_t *p, size_t n)
{
    if (cfg->mode == WEIR_TRACE_NONE || t->seen >= cfg->max_line)
        return 0;
    if (n > cfg->max_line - t->seen)
        n = cfg->max_line - t->seen;
    if (n == 0)
        return 0;
    if (cfg->mode == WEIR_TRACE_QUOTED)
        return quoted_feed(t, pool, mem, p, n);
    /* JSON, REGEX: keep the line's first max_line bytes, and room for a NUL after them. */
    if (!t->buf && !(t->buf = borrow(pool, mem)))
        return -1;
    if (buf_reserve(&t->buf, mem, (size_t)t->seen + n + 1, cfg->max_line) != 0)
        return -1;
    memcpy(t->buf->data + t->seen, p, n);
    t->seen += (uint32_t)n;
    t->flags = T_LINE;
    return 0;
}

const char *weir__trace_end_line(weir__trace_t *t, const weir__trace_cfg_t *cfg,
                                 weir__trace_pool_t *pool, weir__mem_t *mem)
{
    const char *id = NULL;
    switch (cfg->mode) {
    case WEIR_TRACE_QUOTED:
        if (t->flags & Q_LAST)
            id = put_id(pool, t->buf->data + WEIR__TRACE_MAX, t->buf->last_len);
        break;
    case WEIR_TRACE_JSON:
    case WEIR_TRACE_REGEX:
        if (t->buf)
            t->buf->data[t->seen] = '\0';
        id = extract(cfg, pool, t->buf ? t->buf->data : NULL, t->seen);
        break;
    default:
        break;
    }
    give_back(pool, mem, t->buf);
    t->buf = NULL;
    t->seen = 0;
    t->flags = 0;
    return id;
}

const char *weir__trace_of_line(const weir__trace_cfg_t *cfg, weir__trace_pool_t *pool,
                                const uint8_t *line, size_t len)
{
    if (len > cfg->max_line)
        len = cfg->max_line;
    if (!line)
        line = (const uint8_t *)"";
    switch (cfg->mode) {
    case WEIR_TRACE_QUOTED:
        return quoted_of_line(pool, line, len);
    case WEIR_TRACE_JSON:
        return json_extract(cfg, pool, line, len);
    case WEIR_TRACE_REGEX:
        return regex_of_line(cfg, pool, line, len);
    default:
        return NULL;
    }
}

void weir__trace_free(weir__trace_t *t, weir__trace_pool_t *pool, weir__mem_t *mem)
{
    give_back(pool, mem, t->buf);
    t->buf = NULL;
    t->seen = 0;
    t->flags = 0;
}

int weir__trace_copy(weir__trace_t *dst, const weir__trace_t *src, weir__mem_t *mem)
{
    *dst = *src;
    dst->buf = NULL;
    if (!src->buf)
        return 0;
    if (!(dst->buf = buf_alloc(mem, src->buf->cap))) {
        memset(dst, 0, sizeof *dst);
        return -1;
    }
    size_t used = src->flags & T_LINE ? src->seen : 2 * WEIR__TRACE_MAX;
    memcpy(dst->buf, src->buf, sizeof *src->buf + used);
    return 0;
}

int weir__trace_idle(const weir__trace_t *t)
{
    return !t->buf && !t->seen && !t->flags;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

/*
 * uv seen; when non-zero: u8 flags, then per flag: Q_IN uv length + the quoted string being
 * read; Q_LAST uv length + the last complete one; T_LINE the seen bytes of the line.
 */
void weir__trace_save(const weir__trace_t *t, weir__wbuf_t *w)
{
    weir__put_uv(w, t->seen);
    if (!t->seen)
        return;
    weir__put_u8(w, t->flags);
    if (t->flags & Q_IN) {
        weir__put_uv(w, t->buf->cur_len);
        weir__put(w, t->buf->data, t->buf->cur_len);
    }
    if (t->flags & Q_LAST) {
        weir__put_uv(w, t->buf->last_len);
        weir__put(w, t->buf->data + WEIR__TRACE_MAX, t->buf->last_len);
    }
    if (t->flags & T_LINE)
        weir__put(w, t->buf->data, t->seen);
}

int weir__trace_load(weir__trace_t *t, weir__rbuf_t *r, const weir__trace_cfg_t *cfg,
                     weir__mem_t *mem)
{
    memset(t, 0, sizeof *t);
    uint32_t seen = (uint32_t)weir__get_uv_max(r, cfg->max_line);
    if (r->bad)
        return WEIR_EFORMAT;
    if (!seen)
        return WEIR_OK;
    uint8_t f = weir__get_u8(r);
    const uint8_t *cur = NULL, *last = NULL, *line = NULL;
    size_t cur_len = 0, last_len = 0;
    if (cfg->mode == WEIR_TRACE_QUOTED && !(f & ~(Q_IN | Q_ESC | Q_LAST))) {
        /* Each string came from the line, so neither is longer than what was seen of it. */
        uint64_t max = seen < WEIR__TRACE_MAX ? seen : WEIR__TRACE_MAX;
        if (f & Q_IN) {
            cur_len = (size_t)weir__get_uv_max(r, max);
            cur = weir__take(r, cur_len);
        }
        if (f & Q_LAST) {
            last_len = (size_t)weir__get_uv_max(r, max);
            last = weir__take(r, last_len);
        }
    } else if ((cfg->mode == WEIR_TRACE_JSON || cfg->mode == WEIR_TRACE_REGEX) && f == T_LINE) {
        line = weir__take(r, seen);
    } else {
        r->bad = 1;
    }
    if (r->bad)
        return WEIR_EFORMAT;
    t->seen = seen;
    t->flags = f;
    if (line) {
        if (!(t->buf = buf_alloc(mem, seen + 1 > BUF_MIN ? seen + 1 : BUF_MIN)))
            goto oom;
        memcpy(t->buf->data, line, seen);
    } else if (f & (Q_IN | Q_LAST)) {
        if (!(t->buf = buf_alloc(mem, BUF_MIN)))
            goto oom;
        if (cur)
            memcpy(t->buf->data, cur, cur_len);
        if (last)
            memcpy(t->buf->data + WEIR__TRACE_MAX, last, last_len);
        t->buf->cur_len = (uint16_t)cur_len;
        t->buf->last_len = (uint16_t)last_len;
    }
    return WEIR_OK;
oom:
    memset(t, 0, sizeof *t);
    return WEIR_ENOMEM;
}
