/*
 * stream_table.h - open-addressing hash table from 16-byte stream ids to
 * stream contexts, with its memory counted.
 */
#ifndef WEIR_STREAM_TABLE_H
#define WEIR_STREAM_TABLE_H

#include "mem.h"
#include "weir.h"

typedef struct weir__slot {
    weir_id_t id;
    void *value; /* NULL: empty; WEIR__TOMBSTONE: deleted */
} weir__slot_t;

typedef struct weir__table {
    weir__slot_t *slots;
    size_t cap;   /* power of two, or 0 */
    size_t count; /* live entries */
    size_t used;  /* live + tombstones */
    weir__mem_t mem;
} weir__table_t;

extern char weir__tombstone;
#define WEIR__TOMBSTONE ((void *)&weir__tombstone)

void *weir__table_get(const weir__table_t *t, const weir_id_t *id);
/* Inserts id (which must be absent). 0, or -1 out of memory. */
int weir__table_put(weir__table_t *t, const weir_id_t *id, void *value);
/* Removes id; returns its value or NULL. */
void *weir__table_del(weir__table_t *t, const weir_id_t *id);
void weir__table_free(weir__table_t *t);

/* Iteration: i from 0 while < t->cap; entries whose value is live. */
#define WEIR__TABLE_LIVE(t, i)                                                                     \
    ((t)->slots[i].value != NULL && (t)->slots[i].value != WEIR__TOMBSTONE)

#endif /* WEIR_STREAM_TABLE_H */
