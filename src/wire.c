/*
 * wire.c - byte buffers for weir's file formats (see wire.h).
 */
#include "wire.h"

#include "mem.h"

#include <string.h>

void weir__put(weir__wbuf_t *w, const void *src, size_t n)
{
    if (w->oom || WEIR__GROW(NULL, w->p, w->cap, w->n + n) != 0) {
        w->oom = 1;
        return;
    }
    if (n)
        memcpy(w->p + w->n, src, n);
    w->n += n;
}

void weir__put_u8(weir__wbuf_t *w, uint8_t v)
{
    weir__put(w, &v, 1);
}

void weir__put_u32(weir__wbuf_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    weir__put(w, b, 4);
}

void weir__put_u64(weir__wbuf_t *w, uint64_t v)
{
    weir__put_u32(w, (uint32_t)v);
    weir__put_u32(w, (uint32_t)(v >> 32));
}

void weir__put_uv(weir__wbuf_t *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    weir__put(w, b, n);
}

void weir__put_bytes(weir__wbuf_t *w, const void *p, size_t n)
{
    weir__put_u32(w, (uint32_t)n);
    weir__put(w, p, n);
}

void weir__put_str(weir__wbuf_t *w, const char *s)
{
    weir__put_bytes(w, s, s ? strlen(s) : 0);
}

const uint8_t *weir__take(weir__rbuf_t *r, size_t n)
{
    if (r->bad || n > r->n - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint8_t weir__get_u8(weir__rbuf_t *r)
{
    const uint8_t *p = weir__take(r, 1);
    return p ? p[0] : 0;
}

uint32_t weir__get_u32(weir__rbuf_t *r)
{
    const uint8_t *p = weir__take(r, 4);
    return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
             : 0;
}

uint64_t weir__get_u64(weir__rbuf_t *r)
{
    uint64_t lo = weir__get_u32(r);
    return lo | (uint64_t)weir__get_u32(r) << 32;
}

uint64_t weir__get_uv(weir__rbuf_t *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        const uint8_t *p = weir__take(r, 1);
        if (!p)
            return 0;
        if (shift == 63 && (*p & 0x7e)) /* more than 64 bits */
            break;
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

uint64_t weir__get_uv_max(weir__rbuf_t *r, uint64_t max)
{
    uint64_t v = weir__get_uv(r);
    if (v > max) {
        r->bad = 1;
        return 0;
    }
    return v;
}

char *weir__get_bytes(weir__rbuf_t *r, size_t *n)
{
    uint32_t len = weir__get_u32(r);
    const uint8_t *p = weir__take(r, len);
    if (!p)
        return NULL;
    char *s = weir__strndup((const char *)p, len);
    if (!s)
        r->bad = 1;
    if (n)
        *n = len;
    return s;
}

uint32_t weir__get_count(weir__rbuf_t *r, size_t min_size)
{
    uint32_t n = weir__get_u32(r);
    if (!r->bad && (uint64_t)n * min_size > r->n - r->pos)
        r->bad = 1;
    return r->bad ? 0 : n;
}

uint64_t weir__fnv1a(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
