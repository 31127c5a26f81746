/*
 * stream_table.h - open-addressing hash table from 16-byte stream ids to
 * stream contexts, with its memory counted.  A slot is 16 bytes (the id's
 * hash and the value): the id is kept by the value itself, and compared only
 * when the hashes are equal.
 */
#ifndef WEIR_STREAM_TABLE_H
#define WEIR_STREAM_TABLE_H

#include "mem.h"
#include "weir.h"

/* A slot: the id's hash and the value; the id itself is found through the value (key). */
typedef struct weir__slot {
    uint64_t hash;
    void *value; /* NULL: empty; WEIR__TOMBSTONE: deleted */
} weir__slot_t;

typedef struct weir__table {
    weir__slot_t *slots;
    size_t cap;   /* power of two, or 0 */
    size_t count; /* live entries */
    size_t used;  /* live + tombstones */
    weir__mem_t mem;
    const weir_id_t *(*key)(const void *value); /* the id a live value is stored under */
} weir__table_t;

extern char weir__tombstone;
#define WEIR__TOMBSTONE ((void *)&weir__tombstone)

void *weir__table_get(const weir__table_t *t, const weir_id_t *id);
/* The value slot of id (to change it in place), or NULL when absent. */
void **weir__table_ref(const weir__table_t *t, const weir_id_t *id);
/* Asks the CPU to start loading id's first slot (weir_scan_batch); no effect otherwise. */
void weir__table_prefetch(const weir__table_t *t, const weir_id_t *id);
/* Inserts id (which must be absent). 0, or -1 out of memory. */
int weir__table_put(weir__table_t *t, const weir_id_t *id, void *value);
/* Removes id; returns its value or NULL. */
void *weir__table_del(weir__table_t *t, const weir_id_t *id);
/* Frees the slots; the table stays usable (and keeps its key function). */
void weir__table_free(weir__table_t *t);

/* Iteration: i from 0 while < t->cap; entries whose value is live, and their ids. */
#define WEIR__TABLE_LIVE(t, i)                                                                     \
    ((t)->slots[i].value != NULL && (t)->slots[i].value != WEIR__TOMBSTONE)
#define WEIR__TABLE_ID(t, i) ((t)->key((t)->slots[i].value))

#endif /* WEIR_STREAM_TABLE_H */
