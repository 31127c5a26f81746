/*
 * spill.c - the on-disk store for evicted streams' snapshots (weir_scanner_options_t.spill_dir):
 * an LMDB environment in a file of its own, made for speed rather than durability (no syncs;
 * a crash loses it, and the scanner's streams with it, as it would lose memory), removed when
 * the scanner is freed.  Keys are stream ids, values the contexts snapshot.c writes.
 */
#define _POSIX_C_SOURCE 200809L

#include "spill.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPILL_MAP_SIZE ((size_t)1 << 40) /* address space only: the file grows as used */

/* Writes are batched: one write transaction stays open (reads go through it too) and is
   committed every SPILL_BATCH changes. */
#define SPILL_BATCH 1024

struct weir__spill {
    MDB_env *env;
    MDB_dbi db;
    MDB_txn *txn; /* the open write transaction, or NULL */
    unsigned changes;
    char *path; /* the data file; LMDB's lock file is path + "-lock" */
};

static MDB_txn *txn_of(weir__spill_t *s)
{
    if (!s->txn && mdb_txn_begin(s->env, NULL, 0, &s->txn) != 0)
        s->txn = NULL;
    return s->txn;
}

/* Counts a change; commits the batch when full.  WEIR_OK or WEIR_EIO. */
static weir_status_t changed(weir__spill_t *s)
{
    if (++s->changes < SPILL_BATCH)
        return WEIR_OK;
    s->changes = 0;
    int rc = mdb_txn_commit(s->txn);
    s->txn = NULL;
    return rc == 0 ? WEIR_OK : WEIR_EIO;
}

weir_status_t weir__spill_open(const char *dir, weir__spill_t **out)
{
    *out = NULL;
    weir__spill_t *s = calloc(1, sizeof *s);
    size_t n = strlen(dir) + 32;
    if (!s || !(s->path = malloc(n))) {
        free(s);
        return WEIR_ENOMEM;
    }
    /* A name of our own in dir: created exclusively, so two scanners never share a store. */
    snprintf(s->path, n, "%s/weir-spill-XXXXXX", dir);
    int fd = mkstemp(s->path);
    if (fd < 0) {
        free(s->path);
        free(s);
        return WEIR_EIO;
    }
    close(fd);
    if (mdb_env_create(&s->env) != 0 || mdb_env_set_mapsize(s->env, SPILL_MAP_SIZE) != 0 ||
        mdb_env_open(s->env, s->path,
                     MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS | MDB_WRITEMAP,
                     0600) != 0 ||
        !txn_of(s) || mdb_dbi_open(s->txn, NULL, 0, &s->db) != 0) {
        weir__spill_close(s);
        return WEIR_EIO;
    }
    *out = s;
    return WEIR_OK;
}

void weir__spill_close(weir__spill_t *s)
{
    if (!s)
        return;
    if (s->txn)
        mdb_txn_abort(s->txn);
    if (s->env)
        mdb_env_close(s->env);
    if (s->path) {
        unlink(s->path);
        size_t n = strlen(s->path) + 8;
        char *lock = malloc(n);
        if (lock) {
            snprintf(lock, n, "%s-lock", s->path);
            unlink(lock);
            free(lock);
        }
    }
    free(s->path);
    free(s);
}

weir_status_t weir__spill_put(weir__spill_t *s, const weir_id_t *id, uint64_t last_used,
                              const void *p, size_t n)
{
    MDB_txn *txn = txn_of(s);
    MDB_val k = {16, (void *)id->bytes}, d = {n + 8, NULL};
    /* Reserve the room and write in place: last use, then the context. */
    if (!txn || mdb_put(txn, s->db, &k, &d, MDB_RESERVE) != 0)
        return WEIR_EIO;
    uint8_t *o = d.mv_data;
    for (int i = 0; i < 8; i++)
        o[i] = (uint8_t)(last_used >> (8 * i));
    memcpy(o + 8, p, n);
    return changed(s);
}

static uint64_t get_last(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

weir_status_t weir__spill_get(weir__spill_t *s, const weir_id_t *id, uint64_t *last_used,
                              weir__wbuf_t *w)
{
    MDB_txn *txn = txn_of(s);
    if (!txn)
        return WEIR_EIO;
    MDB_val k = {16, (void *)id->bytes}, d;
    int rc = mdb_get(txn, s->db, &k, &d);
    if (rc == MDB_NOTFOUND)
        return WEIR_ENOTFOUND;
    if (rc != 0 || d.mv_size < 8)
        return WEIR_EIO;
    if (last_used)
        *last_used = get_last(d.mv_data);
    if (w)
        weir__put(w, (const uint8_t *)d.mv_data + 8, d.mv_size - 8);
    return w && w->oom ? WEIR_ENOMEM : WEIR_OK;
}

weir_status_t weir__spill_del(weir__spill_t *s, const weir_id_t *id)
{
    MDB_txn *txn = txn_of(s);
    MDB_val k = {16, (void *)id->bytes};
    if (!txn)
        return WEIR_EIO;
    int rc = mdb_del(txn, s->db, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return WEIR_ENOTFOUND;
    return rc == 0 ? changed(s) : WEIR_EIO;
}

weir_status_t weir__spill_each(weir__spill_t *s,
                               int (*cb)(const weir_id_t *id, uint64_t last_used,
                                         const uint8_t *ctx, size_t len, void *user),
                               void *user)
{
    MDB_txn *txn = txn_of(s);
    MDB_cursor *cur;
    if (!txn || mdb_cursor_open(txn, s->db, &cur) != 0)
        return WEIR_EIO;
    MDB_val k, d;
    int rc;
    weir_status_t st = WEIR_OK;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 16 || d.mv_size < 8) {
            st = WEIR_EIO;
            break;
        }
        weir_id_t id;
        memcpy(id.bytes, k.mv_data, 16);
        if (cb(&id, get_last(d.mv_data), (const uint8_t *)d.mv_data + 8, d.mv_size - 8, user))
            break;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        st = WEIR_EIO;
    mdb_cursor_close(cur);
    return st;
}

weir_status_t weir__spill_clear(weir__spill_t *s)
{
    MDB_txn *txn = txn_of(s);
    if (!txn || mdb_drop(txn, s->db, 0) != 0)
        return WEIR_EIO;
    return changed(s);
}

size_t weir__spill_bytes(weir__spill_t *s)
{
    MDB_stat st;
    MDB_txn *txn = txn_of(s);
    if (!txn || mdb_stat(txn, s->db, &st) != 0)
        return 0;
    return (size_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
}
