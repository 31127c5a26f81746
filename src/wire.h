/*
 * wire.h - the byte formats weir writes (compiled rules, stream snapshots):
 * a growable output buffer and a bounds-checked reader.  Fixed-width integers
 * are little-endian; "uv" is an unsigned LEB128 varint (1 byte below 128).
 * A writer that runs out of memory, or a reader that meets a truncated or
 * malformed buffer, sets its flag and makes every later call a no-op, so
 * callers check once at the end.
 */
#ifndef WEIR_WIRE_H
#define WEIR_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct weir__wbuf {
    uint8_t *p; /* malloc'd; the caller frees it */
    size_t n, cap;
    int oom;
} weir__wbuf_t;

void weir__put(weir__wbuf_t *w, const void *src, size_t n);
void weir__put_u8(weir__wbuf_t *w, uint8_t v);
void weir__put_u32(weir__wbuf_t *w, uint32_t v);
void weir__put_u64(weir__wbuf_t *w, uint64_t v);
void weir__put_uv(weir__wbuf_t *w, uint64_t v);
/* A u32 length, then the bytes. */
void weir__put_bytes(weir__wbuf_t *w, const void *p, size_t n);
void weir__put_str(weir__wbuf_t *w, const char *s);

typedef struct weir__rbuf {
    const uint8_t *p;
    size_t n, pos;
    int bad;
} weir__rbuf_t;

/* The next n bytes, or NULL (and bad) when fewer are left. */
const uint8_t *weir__take(weir__rbuf_t *r, size_t n);
uint8_t weir__get_u8(weir__rbuf_t *r);
uint32_t weir__get_u32(weir__rbuf_t *r);
uint64_t weir__get_u64(weir__rbuf_t *r);
uint64_t weir__get_uv(weir__rbuf_t *r);
/* A uv that must be at most max (else bad, and 0). */
uint64_t weir__get_uv_max(weir__rbuf_t *r, uint64_t max);
/* A length-prefixed byte string (weir__put_bytes) as a NUL-terminated malloc'd copy; *n its
   length (n may be NULL). */
char *weir__get_bytes(weir__rbuf_t *r, size_t *n);
/* A u32 count that must fit in what is left of the buffer at min_size bytes each. */
uint32_t weir__get_count(weir__rbuf_t *r, size_t min_size);

/* 64-bit FNV-1a. */
uint64_t weir__fnv1a(const void *p, size_t n);

#endif /* WEIR_WIRE_H */
