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

int weir__trace_feed(weir__trace_t *t, weir__mem_t *mem, const uint8_t *p, size_t n,
                     uint32_t max_line)
{
    if (t->seen >= max_line)
        return 0;
    if (n > max_line - t->seen)
        n = max_line - t->seen;
    t->seen += (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (!t->in_quote) {
            /* Outside quotes only an unescaped quote matters: skip ahead to it. */
            if (t->escape) {
                t->escape = 0;
                continue;
            }
            if (c == '\\') {
                t->escape = 1;
            } else if (c == '"') {
                if (ensure(&t->cur, mem) != 0)
                    return -1;
                t->in_quote = 1;
                t->cur_len = 0;
            }
            continue;
        }
        if (t->escape) {
            t->escape = 0;
        } else if (c == '\\') {
            t->escape = 1;
        } else if (c == '"') {
            if (ensure(&t->last, mem) != 0)
                return -1;
            memcpy(t->last, t->cur, t->cur_len);
            t->last_len = t->cur_len;
            t->have_last = 1;
            t->in_quote = 0;
            continue;
        }
        if (t->cur_len < WEIR__TRACE_MAX)
            t->cur[t->cur_len++] = (char)c;
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
