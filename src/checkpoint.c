/*
 * checkpoint.c - every stream of a scanner to a durable store and back (weir.h,
 * weir_scanner_checkpoint / weir_scanner_restore).
 *
 * The store is an LMDB environment in one file (and LMDB's "-lock" file beside it) with two
 * databases: "meta" (format version, the fingerprint of the compiled rules, the number of
 * streams) and "streams" (stream id -> last use, then the stream's context as snapshot.c
 * writes it).  A checkpoint replaces both in one write transaction, which LMDB makes durable
 * at commit and atomic whatever happens before: a crash or kill -9 mid-checkpoint leaves the
 * previous one whole.
 */
#include "scanner.h"
#include "wire.h"

#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_VERSION 1u
/* Address space reserved for the map: the file only grows to what is written. */
#define CKPT_MAP_SIZE ((size_t)1 << 38)

static weir_status_t open_env(const char *path, unsigned flags, MDB_env **out)
{
    MDB_env *env;
    *out = NULL;
    if (mdb_env_create(&env) != 0)
        return WEIR_ENOMEM;
    if (mdb_env_set_maxdbs(env, 2) != 0 || mdb_env_set_mapsize(env, CKPT_MAP_SIZE) != 0 ||
        mdb_env_open(env, path, flags | MDB_NOSUBDIR | MDB_NOTLS, 0644) != 0) {
        mdb_env_close(env);
        return WEIR_EIO;
    }
    *out = env;
    return WEIR_OK;
}

static int put_u64(MDB_txn *txn, MDB_dbi db, const char *key, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    MDB_val k = {strlen(key), (void *)key}, d = {8, b};
    return mdb_put(txn, db, &k, &d, 0);
}

static int get_u64(MDB_txn *txn, MDB_dbi db, const char *key, uint64_t *v)
{
    MDB_val k = {strlen(key), (void *)key}, d;
    if (mdb_get(txn, db, &k, &d) != 0 || d.mv_size != 8)
        return -1;
    const uint8_t *b = d.mv_data;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)b[i] << (8 * i);
    return 0;
}

typedef struct ckpt_ctx {
    weir_scanner_t *sc;
    MDB_txn *txn;
    MDB_dbi db;
    weir__wbuf_t *w;
    uint64_t count;
    weir_status_t st;
} ckpt_ctx_t;

/* One stream into the checkpoint: its last use, then its context. */
static int put_stream(const weir_id_t *id, uint64_t last, void *user)
{
    ckpt_ctx_t *c = user;
    weir__wbuf_t *w = c->w;
    w->n = 0;
    weir__put_u64(w, last);
    int rc = weir__stream_context(c->sc, id, w, &last);
    if (rc != WEIR_OK || w->oom) {
        c->st = rc != WEIR_OK ? (weir_status_t)rc : WEIR_ENOMEM;
        return 1;
    }
    MDB_val k = {16, (void *)id->bytes}, d = {w->n, w->p};
    if (mdb_put(c->txn, c->db, &k, &d, 0) != 0) {
        c->st = WEIR_EIO;
        return 1;
    }
    c->count++;
    return 0;
}

weir_status_t weir_scanner_checkpoint(weir_scanner_t *sc, const char *path)
{
    if (!sc || !path || !*path)
        return WEIR_EINVAL;
    MDB_env *env;
    weir_status_t st = open_env(path, 0, &env);
    if (st != WEIR_OK)
        return st;
    MDB_txn *txn = NULL;
    MDB_dbi meta, streams;
    weir__wbuf_t w = {0};
    st = WEIR_EIO;
    if (mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
        mdb_dbi_open(txn, "meta", MDB_CREATE, &meta) != 0 ||
        mdb_dbi_open(txn, "streams", MDB_CREATE, &streams) != 0 || mdb_drop(txn, streams, 0) != 0)
        goto done;
    ckpt_ctx_t cc = {sc, txn, streams, &w, 0, WEIR_OK};
    weir_status_t est = weir__streams_each(sc, put_stream, &cc);
    if (cc.st != WEIR_OK || est != WEIR_OK) {
        st = cc.st != WEIR_OK ? cc.st : est;
        goto done;
    }
    uint64_t count = cc.count;
    if (put_u64(txn, meta, "version", CKPT_VERSION) != 0 ||
        put_u64(txn, meta, "rules", sc->rules->fingerprint) != 0 ||
        put_u64(txn, meta, "streams", count) != 0)
        goto done;
    int rc = mdb_txn_commit(txn); /* durable: LMDB syncs the file before returning */
    txn = NULL;
    st = rc == 0 ? WEIR_OK : WEIR_EIO;
done:
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    free(w.p);
    return st;
}

weir_status_t weir_scanner_restore(weir_scanner_t *sc, const char *path, size_t *n)
{
    if (n)
        *n = 0;
    if (!sc || !path || !*path)
        return WEIR_EINVAL;
    if (weir_scanner_stream_count(sc))
        return WEIR_ESTATE;
    MDB_env *env;
    weir_status_t st = open_env(path, MDB_RDONLY, &env);
    if (st != WEIR_OK)
        return st;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_dbi meta, streams;
    uint64_t version, rules, count, seen = 0;
    st = WEIR_EFORMAT;
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0) {
        st = WEIR_EIO;
        goto done;
    }
    if (mdb_dbi_open(txn, "meta", 0, &meta) != 0 ||
        mdb_dbi_open(txn, "streams", 0, &streams) != 0 ||
        get_u64(txn, meta, "version", &version) != 0 || get_u64(txn, meta, "rules", &rules) != 0 ||
        get_u64(txn, meta, "streams", &count) != 0)
        goto done;
    if (version != CKPT_VERSION) {
        st = WEIR_EVERSION;
        goto done;
    }
    if (rules != sc->rules->fingerprint) {
        st = WEIR_ERULES;
        goto done;
    }
    if (mdb_cursor_open(txn, streams, &cur) != 0)
        goto done;
    MDB_val k, d;
    int rc;
    while ((rc = mdb_cursor_get(cur, &k, &d, seen ? MDB_NEXT : MDB_FIRST)) == 0) {
        if (k.mv_size != 16 || d.mv_size < 8)
            goto done;
        weir_id_t id;
        memcpy(id.bytes, k.mv_data, 16);
        /* A restart counts as a use: the clock of the process that wrote the checkpoint
           (CLOCK_MONOTONIC, by default) means nothing in this one. */
        weir_status_t e = weir__stream_insert(sc, &id, (const uint8_t *)d.mv_data + 8,
                                              d.mv_size - 8, weir__now_ms(sc), 1);
        if (e != WEIR_OK) {
            st = e;
            goto done;
        }
        seen++;
    }
    if (rc != MDB_NOTFOUND || seen != count)
        goto done;
    st = WEIR_OK;
    if (n)
        *n = (size_t)seen;
done:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    if (st != WEIR_OK)
        weir__streams_clear(sc); /* all or nothing */
    return st;
}
