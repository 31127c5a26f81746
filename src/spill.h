/*
 * spill.h - where evicted streams go when the scanner has a spill directory: an on-disk store
 * (LMDB) of stream id -> last use and snapshot context.  A spilled stream has no entry in the
 * scanner's table at all, so it costs no memory.  Temporary: removed with the scanner.
 */
#ifndef WEIR_SPILL_H
#define WEIR_SPILL_H

#include "weir.h"
#include "wire.h"

typedef struct weir__spill weir__spill_t;

/* A new, empty store in directory dir.  WEIR_OK, WEIR_EIO (dir unusable), WEIR_ENOMEM. */
weir_status_t weir__spill_open(const char *dir, weir__spill_t **out);
/* Closes the store and removes its files. */
void weir__spill_close(weir__spill_t *s);
/* Stores (replaces) id's context and last use.  WEIR_OK or WEIR_EIO. */
weir_status_t weir__spill_put(weir__spill_t *s, const weir_id_t *id, uint64_t last_used,
                              const void *p, size_t n);
/* id's last use (last_used may be NULL) and context, appended to w (may be NULL: only
   whether it is there).  WEIR_ENOTFOUND when the store does not have it; WEIR_EIO; WEIR_ENOMEM. */
weir_status_t weir__spill_get(weir__spill_t *s, const weir_id_t *id, uint64_t *last_used,
                              weir__wbuf_t *w);
/* Removes id.  WEIR_OK, WEIR_ENOTFOUND, WEIR_EIO. */
weir_status_t weir__spill_del(weir__spill_t *s, const weir_id_t *id);
/* cb for every stream in the store (in id order) until it returns non-zero; cb must not change
   the store.  WEIR_OK or WEIR_EIO. */
weir_status_t weir__spill_each(weir__spill_t *s,
                               int (*cb)(const weir_id_t *id, uint64_t last_used,
                                         const uint8_t *ctx, size_t len, void *user),
                               void *user);
/* Removes every stream.  WEIR_OK or WEIR_EIO. */
weir_status_t weir__spill_clear(weir__spill_t *s);
/* Bytes of the store's pages in use. */
size_t weir__spill_bytes(weir__spill_t *s);

#endif /* WEIR_SPILL_H */
