/*
 * traceid.c - the streaming trace-id extractor (see traceid.h).
 */
#include "traceid.h"

#include <string.h>

static int ensure(char **buf, weir__mem_t *mem)
{
    if (!*buf && !(*buf = weir__malloc(mem, WEIR__TRACE_MAX + 1)))
        return -1;
    return 0;
}

/* The first '"' or '\\' in [p, end), or NULL: the only bytes that matter. */
static const uint8_t *next_special(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *q = memchr(p, '"', (size_t)(end - p));
    const uint8_t *b = memchr(p, '\\', (size_t)((q ? q : end) - p));
    return b ? b : q;
}

static void append(weir__trace_t *t, const uint8_t *p, size_t n)
{
    size_t room = WEIR__TRACE_MAX - t->cur_len;
    if (n > room)
        n = room;
    memcpy(t->cur + t->cur_len, p, n);
    t->cur_len = (uint16_t)(t->cur_len + n);
}

int weir__trace_feed(weir__trace_t *t, weir__mem_t *mem, const uint8_t *p, size_t n,
                     uint32_t max_line)
{
    if (t->seen >= max_line)
        return 0;
    if (n > max_line - t->seen)
        n = max_line - t->seen;
    t->seen += (uint32_t)n;
    const uint8_t *end = p + n;
    while (p < end) {
        if (t->escape) {
            /* An escaped byte neither opens nor closes a quote; inside one it is
               kept as written, backslash included. */
            t->escape = 0;
            if (t->in_quote)
                append(t, p, 1);
            p++;
            continue;
        }
        const uint8_t *s = next_special(p, end);
        const uint8_t *stop = s ? s : end;
        if (t->in_quote)
            append(t, p, (size_t)(stop - p));
        if (!s)
            break;
        p = s + 1;
        if (*s == '\\') {
            t->escape = 1;
            if (t->in_quote)
                append(t, s, 1);
        } else if (t->in_quote) {
            if (ensure(&t->last, mem) != 0)
                return -1;
            memcpy(t->last, t->cur, t->cur_len);
            t->last_len = t->cur_len;
            t->have_last = 1;
            t->in_quote = 0;
        } else {
            if (ensure(&t->cur, mem) != 0)
                return -1;
            t->in_quote = 1;
            t->cur_len = 0;
        }
    }
    return 0;
}

const char *weir__trace_end_line(weir__trace_t *t)
{
    const char *r = NULL;
    if (t->have_last) {
        t->last[t->last_len] = '\0';
        r = t->last;
    }
    t->in_quote = t->escape = t->have_last = 0;
    t->cur_len = 0;
    t->seen = 0;
    return r;
}

void weir__trace_free(weir__trace_t *t, weir__mem_t *mem)
{
    if (t->cur)
        weir__free(mem, t->cur, WEIR__TRACE_MAX + 1);
    if (t->last)
        weir__free(mem, t->last, WEIR__TRACE_MAX + 1);
    t->cur = t->last = NULL;
}

int weir__trace_copy(weir__trace_t *dst, const weir__trace_t *src, weir__mem_t *mem)
{
    *dst = *src;
    dst->cur = dst->last = NULL;
    if (src->cur) {
        if (ensure(&dst->cur, mem) != 0)
            return -1;
        memcpy(dst->cur, src->cur, WEIR__TRACE_MAX + 1);
    }
    if (src->last) {
        if (ensure(&dst->last, mem) != 0)
            return -1;
        memcpy(dst->last, src->last, WEIR__TRACE_MAX + 1);
    }
    return 0;
}
