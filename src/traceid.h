/*
 * traceid.h - finds the trace id of each log line while its bytes stream past, in one of the
 * modes of weir_trace_mode_t: the last double-quoted string (streaming, nothing buffered but
 * the strings), a field of a JSON object or a regex capture group (the line is buffered up to
 * max_line bytes and searched when it ends), or none.  A line may arrive in any number of
 * pieces; the id never depends on how it was cut.
 */
#ifndef WEIR_TRACEID_H
#define WEIR_TRACEID_H

#include "mem.h"
#include "wire.h"

#include <stddef.h>
#include <stdint.h>

/* Longest trace id kept; longer ones are cut to this many bytes. */
#define WEIR__TRACE_MAX 256

/* ---- configuration (one per scanner, immutable) ------------------------------------------ */

typedef struct weir__trace_cfg weir__trace_cfg_t;

/*
 * Checks and prepares mode (weir_trace_mode_t) with its argument: a JSON field path ("a.b")
 * or a POSIX extended regex with a capture group, compiled here once.  arg is copied, and
 * ignored by WEIR_TRACE_QUOTED and WEIR_TRACE_NONE.  max_line 0 means WEIR_DEFAULT_MAX_LINE.
 * Returns 0, -1 with a one-line message in err[errlen] (e.g. "trace regex: unmatched ( or
 * \(", "trace regex: no capture group", "trace JSON field: a field name is empty", "unknown
 * trace mode 7"), or -2 out of memory ("out of memory" in err).  *out is NULL on failure.
 */
int weir__trace_cfg_new(uint32_t mode, const char *arg, uint32_t max_line, weir__trace_cfg_t **out,
                        char *err, size_t errlen);
void weir__trace_cfg_free(weir__trace_cfg_t *cfg);
uint32_t weir__trace_cfg_mode(const weir__trace_cfg_t *cfg);

/* ---- spare buffers (one per scanner) ----------------------------------------------------- */

struct weir__trace_buf; /* a line's working buffer: header + data (traceid.c) */

/* Buffers kept for reuse, and buffers larger than this are freed rather than kept. */
#define WEIR__TRACE_POOL 4
#define WEIR__TRACE_POOL_KEEP 65536

/*
 * A scanner's spare line buffers, which streams borrow while a line is partial and give back
 * when it ends, so that feeding whole lines allocates nothing; it also holds the id returned
 * last.  Zero-initialised it is empty and ready.  mem counts the bytes of the cached buffers
 * (a buffer's bytes move between this counter and a stream's as it is lent and given back).
 * Not thread safe: one pool per scanner.
 */
typedef struct weir__trace_pool {
    struct weir__trace_buf *bufs[WEIR__TRACE_POOL];
    uint32_t n;
    weir__mem_t mem;
    char id[WEIR__TRACE_MAX + 1]; /* the id returned last (end_line, of_line) */
} weir__trace_pool_t;

/* Frees the cached buffers (pool->mem.bytes back to 0); the pool stays usable. */
void weir__trace_pool_free(weir__trace_pool_t *pool);

/* ---- per-stream state ------------------------------------------------------------------- */

/*
 * A stream's state: 16 bytes, and no heap memory at a line boundary (buf is NULL).  While a
 * line is partial, buf holds (QUOTED) the quoted string being read and the last complete one,
 * or (JSON, REGEX) the line's first max_line bytes, charged to the stream's weir__mem_t.
 * Zero-initialised it is a stream at the start of a line.
 */
typedef struct weir__trace {
    struct weir__trace_buf *buf;
    uint32_t seen; /* bytes of the current line looked at, at most max_line */
    uint8_t flags; /* QUOTED: in a quote, after a backslash, a complete string seen */
} weir__trace_t;

/*
 * Feeds the next n bytes of the current line (no '\n' among them); bytes past the line's
 * max_line-th are ignored.  pool may be NULL (a buffer is then allocated).  Returns 0, or -1
 * out of memory (t is unchanged but for the bytes already taken, and stays valid).
 */
int weir__trace_feed(weir__trace_t *t, const weir__trace_cfg_t *cfg, weir__trace_pool_t *pool,
                     weir__mem_t *mem, const uint8_t *p, size_t n);

/*
 * The line ended: returns its trace id, NUL-terminated in pool->id (pool must not be NULL),
 * valid until the next call that passes the same pool; or NULL when the line has none.  An
 * empty id ("" from `""`, an empty JSON string, an empty capture group) is an id.  t is reset
 * for the next line and its buffer goes back to the pool (or is freed): it holds no memory.
 */
const char *weir__trace_end_line(weir__trace_t *t, const weir__trace_cfg_t *cfg,
                                 weir__trace_pool_t *pool, weir__mem_t *mem);

/*
 * The trace id of one whole line (no '\n' in it) without streaming (record mode): the same id
 * weir__trace_end_line gives after feeding line[0..len) in any pieces, in pool->id with the
 * same lifetime, or NULL.  QUOTED and JSON read the line in place; REGEX copies it into a pool
 * buffer (charged to pool->mem; NULL if that cannot be allocated).
 */
const char *weir__trace_of_line(const weir__trace_cfg_t *cfg, weir__trace_pool_t *pool,
                                const uint8_t *line, size_t len);

/* Releases t's buffer (to pool when given, else freed) and resets t. */
void weir__trace_free(weir__trace_t *t, weir__trace_pool_t *pool, weir__mem_t *mem);

/* A deep copy of src into dst (which holds nothing), charged to mem.  0, or -1 out of memory
   (dst then holds nothing). */
int weir__trace_copy(weir__trace_t *dst, const weir__trace_t *src, weir__mem_t *mem);

/* 1 when t is at a line boundary: nothing seen of the current line, no memory held. */
int weir__trace_idle(const weir__trace_t *t);

/*
 * Snapshots.  save writes t's state (1 byte at a line boundary).  load reads it into t, which
 * holds nothing, checking it against cfg (mode, max_line, WEIR__TRACE_MAX) and allocating
 * from mem; returns WEIR_OK, WEIR_EFORMAT (r->bad is set; a truncated or damaged buffer, never
 * read beyond its end) or WEIR_ENOMEM, leaving t holding nothing on failure.
 */
void weir__trace_save(const weir__trace_t *t, weir__wbuf_t *w);
int weir__trace_load(weir__trace_t *t, weir__rbuf_t *r, const weir__trace_cfg_t *cfg,
                     weir__mem_t *mem);

#endif /* WEIR_TRACEID_H */
