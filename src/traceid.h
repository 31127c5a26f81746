/*
 * traceid.h - finds the trace id of a log line while its bytes stream past:
 * the last double-quoted string on the line, where a backslash escapes the
 * next byte (so \" neither opens nor closes a quote).  A line may arrive in
 * any number of pieces.
 */
#ifndef WEIR_TRACEID_H
#define WEIR_TRACEID_H

#include "mem.h"

#include <stddef.h>
#include <stdint.h>

/* Longest trace id kept; longer quoted strings are cut to this. */
#define WEIR__TRACE_MAX 256

typedef struct weir__trace {
    uint8_t in_quote, escape, have_last;
    uint16_t cur_len, last_len;
    uint32_t seen; /* bytes of the current line looked at */
    char *cur;     /* the quoted string being read (WEIR__TRACE_MAX), lazily allocated */
    char *last;    /* the last complete one on this line                   */
} weir__trace_t;

/* Feeds bytes of the current line (no '\n' among them). Looks at no more
   than max_line bytes of a line.  0, or -1 out of memory. */
int weir__trace_feed(weir__trace_t *t, weir__mem_t *mem, const uint8_t *p, size_t n,
                     uint32_t max_line);
/* The line ended: the trace id (NUL-terminated, owned by t until the next
   feed) or NULL when the line had none.  Resets for the next line. */
const char *weir__trace_end_line(weir__trace_t *t);
/* Releases the buffers. */
void weir__trace_free(weir__trace_t *t, weir__mem_t *mem);
/* Deep copy (for stream snapshots).  0 / -1. */
int weir__trace_copy(weir__trace_t *dst, const weir__trace_t *src, weir__mem_t *mem);

#endif /* WEIR_TRACEID_H */
