/*
 * mem.h - allocation through one set of wrappers, so that the memory held by
 * stream contexts is measured rather than guessed.  Each wrapper takes the
 * counter to charge (NULL charges nothing) and the size being released.
 */
#ifndef WEIR_MEM_H
#define WEIR_MEM_H

#include "weir.h"

#include <stddef.h>
#include <stdlib.h>

typedef struct weir__mem {
    size_t bytes; /* currently held */
} weir__mem_t;

void *weir__malloc(weir__mem_t *acct, size_t n);
void *weir__calloc(weir__mem_t *acct, size_t count, size_t n);
/* old is the size of p as last allocated (0 when p is NULL). */
void *weir__realloc(weir__mem_t *acct, void *p, size_t old, size_t n);
void weir__free(weir__mem_t *acct, void *p, size_t n);
char *weir__strdup(const char *s);
char *weir__strndup(const char *s, size_t n);
void *weir__memdup(const void *p, size_t n);

/*
 * Grows an array *pp of elements of size elem so that it holds at least need
 * elements; *cap is updated.  Returns 0, or -1 (nothing changed) on failure or
 * overflow.
 */
int weir__grow(weir__mem_t *acct, void **pp, size_t *cap, size_t need, size_t elem);

#define WEIR__GROW(acct, arr, cap, need)                                                           \
    weir__grow((acct), (void **)&(arr), &(cap), (need), sizeof(*(arr)))

/* Reads the whole file at path into *text (free() it; not NUL-terminated) and *len.
   WEIR_OK, WEIR_EIO or WEIR_ENOMEM. */
weir_status_t weir__read_file(const char *path, char **text, size_t *len);

#endif /* WEIR_MEM_H */
