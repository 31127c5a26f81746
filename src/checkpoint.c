/*
 * checkpoint.c - every stream of a scanner to a durable store and back (weir.h,
 * weir_scanner_checkpoint / weir_scanner_restore).
 *
 * The store is an LMDB environment in one file (and LMDB's "-lock" file beside it) with two
 * databases: "meta" (format version, the fingerprint of the compiled rules, the number of
 * streams, the LMDB transaction that wrote them) and "streams" (stream id -> last use, a
 * checksum, then the stream's context as snapshot.c writes it).  A checkpoint replaces both in
 * one write transaction, which LMDB makes durable at commit and atomic whatever happens before:
 * a crash or kill -9 mid-checkpoint leaves the previous one whole.  A damaged file is refused
 * before LMDB reads it (check_store).
 */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, mmap */
#include "scanner.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* 2: each stream's record carries a checksum (LMDB keeps none, and Vectorscan cannot check the
   state it is given). */
#define CKPT_VERSION 2u
#define RECORD_HEADER 16 /* last use, checksum; then the stream's context */
/* Address space reserved for the map: the file only grows to what is written. */
#define CKPT_MAP_SIZE ((size_t)1 << 38)

/* ---- checking a store before LMDB reads it --------------------------------------------- */

/*
 * LMDB trusts its file: a damaged page number or node offset makes it read outside the map
 * (SIGSEGV, SIGBUS) or fail an assertion (abort).  So before LMDB opens a store, both meta pages
 * and every page LMDB can reach from the newer one are checked against LMDB 0.9's layout on
 * 64-bit machines (data format 1): page numbers inside the file and below the last page, each
 * page reached once, node offsets and sizes inside their page, overflow runs inside the file,
 * branch pages with at least two keys, every leaf at the depth its database records, named
 * databases and free-list entries well formed.  A store that fails is WEIR_EFORMAT.  Another
 * LMDB version or word size skips the check.
 */
#if MDB_VERSION_MAJOR == 0 && SIZE_MAX == UINT64_MAX
#define LMDB_CHECKED 1
#else
#define LMDB_CHECKED 0
#endif

enum {
    L_HDR = 16, /* page header: pgno[8] pad[2] flags[2] lower[2] upper[2] (or pages[4]) */
    L_NODE = 8, /* node header: lo[2] hi[2] flags[2] ksize[2] */
    L_DB = 48,  /* MDB_db: pad[4] flags[2] depth[2] branch, leaf, overflow, entries, root [8] */
    L_BRANCH = 0x01,
    L_LEAF = 0x02,
    L_OVERFLOW = 0x04,
    L_META = 0x08,
    L_TRANSIENT = 0x10 | 0x4000 | 0x8000, /* P_DIRTY, P_LOOSE, P_KEEP: never meaningful on disk */
    L_BIGDATA = 0x01,
    L_SUBDATA = 0x02,
    L_MAX_DEPTH = 32, /* LMDB's cursor stack */
    /* meta page: after the header, magic[4] version[4] address[8] mapsize[8], then the free
       and main MDB_db, last page[8], txnid[8] */
    L_M_MAGIC = 16,
    L_M_VERSION = 20,
    L_M_FREE = 40,
    L_M_MAIN = 88,
    L_M_LAST = 136,
    L_M_TXNID = 144
};

typedef enum { T_FREE, T_MAIN, T_NAMED } tree_kind_t;

typedef struct store_check {
    const uint8_t *m;
    size_t psize, npages;
    uint64_t last, txnid; /* of the meta page LMDB uses */
    uint8_t *seen;        /* a bit per page */
    int leaf_depth;       /* of the tree being checked: LMDB's cursors expect every leaf there */
} store_check_t;

static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Claims pages pgno..pgno+n-1 for one use: inside the file, at most the last page, unseen. */
static int claim(store_check_t *c, uint64_t pgno, uint64_t n)
{
    if (pgno < 2 || n == 0 || n > c->npages || pgno > c->npages - n || pgno + n - 1 > c->last)
        return -1;
    for (uint64_t i = pgno; i < pgno + n; i++) {
        if (c->seen[i / 8] & (1u << (i % 8)))
            return -1;
        c->seen[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    return 0;
}

static int check_db(store_check_t *c, const uint8_t *db, tree_kind_t kind);

static int check_page(store_check_t *c, uint64_t pgno, tree_kind_t kind, int depth)
{
    if (depth >= L_MAX_DEPTH || claim(c, pgno, 1) != 0)
        return -1;
    const uint8_t *p = c->m + pgno * c->psize;
    unsigned flags = (unsigned)rd(p + 10, 2) & ~(unsigned)L_TRANSIENT;
    size_t lower = (size_t)rd(p + 12, 2), upper = (size_t)rd(p + 14, 2);
    if (rd(p, 8) != pgno || (flags != L_BRANCH && flags != L_LEAF) || lower < L_HDR ||
        lower > upper || upper > c->psize || (lower & 1))
        return -1;
    size_t n = (lower - L_HDR) / 2;
    if (flags == L_BRANCH ? n < 2 || depth >= c->leaf_depth : n < 1 || depth != c->leaf_depth)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t off = (size_t)rd(p + L_HDR + 2 * i, 2);
        if (off < upper || (off & 1) || off + L_NODE > c->psize)
            return -1;
        const uint8_t *node = p + off;
        uint64_t lo = rd(node, 2), hi = rd(node + 2, 2), nf = rd(node + 4, 2);
        size_t ks = (size_t)rd(node + 6, 2);
        if (off + L_NODE + ks > c->psize)
            return -1;
        if (flags == L_BRANCH) {
            if (check_page(c, lo | hi << 16 | nf << 32, kind, depth + 1) != 0)
                return -1;
            continue;
        }
        uint64_t dsize = lo | hi << 16;
        const uint8_t *data = node + L_NODE + ks;
        if (nf & ~(uint64_t)(L_BIGDATA | L_SUBDATA) || nf == (L_BIGDATA | L_SUBDATA))
            return -1;
        if (nf & L_BIGDATA) {
            if (off + L_NODE + ks + 8 > c->psize)
                return -1;
            uint64_t op = rd(data, 8);
            if (op < 2 || op >= c->npages)
                return -1;
            const uint8_t *o = c->m + op * c->psize;
            uint64_t np = rd(o + 12, 4);
            if (rd(o, 8) != op || !(rd(o + 10, 2) & L_OVERFLOW) || np == 0 ||
                dsize > np * c->psize - L_HDR || claim(c, op, np) != 0)
                return -1;
            data = o + L_HDR;
        } else if (off + L_NODE + ks + dsize > c->psize) {
            return -1;
        }
        if ((nf & L_SUBDATA) && (kind != T_MAIN || dsize != L_DB || check_db(c, data, T_NAMED)))
            return -1;
        if (kind == T_FREE) {
            /* key: the transaction that freed the pages; data: a count, then that many page
               numbers (LMDB may reserve room it leaves unused, zero, after them) */
            uint64_t cnt = dsize >= 8 ? rd(data, 8) : 0;
            if (ks != 8 || rd(node + L_NODE, 8) > c->txnid || dsize < 8 || dsize % 8 ||
                cnt > dsize / 8 - 1)
                return -1;
            for (uint64_t k = 1; k <= cnt; k++)
                if (rd(data + 8 * k, 8) < 2 || rd(data + 8 * k, 8) > c->last)
                    return -1;
        }
    }
    return 0;
}

static int check_db(store_check_t *c, const uint8_t *db, tree_kind_t kind)
{
    uint64_t root = rd(db + 40, 8), depth = rd(db + 6, 2);
    if (kind != T_FREE && rd(db + 4, 2) != 0) /* weir's databases have no flags */
        return -1;
    if (root == UINT64_MAX)
        return depth == 0 ? 0 : -1;
    if (depth < 1 || depth > L_MAX_DEPTH)
        return -1;
    int outer = c->leaf_depth; /* a named database is checked from its record in the main one */
    c->leaf_depth = (int)depth - 1;
    int rc = check_page(c, root, kind, 0);
    c->leaf_depth = outer;
    return rc;
}

/*
 * Checks the store at path as described above.  WEIR_OK when it is sound or absent (LMDB then
 * reports what it reports), or when empty and empty_ok (LMDB makes a new store of an empty
 * file); WEIR_EFORMAT when damaged; WEIR_EIO or WEIR_ENOMEM when it cannot be checked.
 */
static weir_status_t check_store(const char *path, int empty_ok)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? WEIR_OK : WEIR_EIO;
    struct stat sb;
    weir_status_t st = WEIR_EIO;
    store_check_t c = {0};
    void *map = MAP_FAILED;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        goto done;
    st = WEIR_EFORMAT;
    if (sb.st_size == 0) {
        st = empty_ok ? WEIR_OK : WEIR_EFORMAT;
        goto done;
    }
    if (!LMDB_CHECKED) {
        st = WEIR_OK;
        goto done;
    }
    size_t size = (size_t)sb.st_size;
    if (size < L_M_TXNID + 8 ||
        (map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
        goto done;
    c.m = map;
    c.psize = (size_t)rd(c.m + L_M_FREE, 4); /* the free database's pad is the page size */
    if (c.psize < 512 || c.psize > 32768 || (c.psize & (c.psize - 1)) || size / c.psize < 2)
        goto done;
    for (size_t i = 0; i < 2; i++) {
        const uint8_t *mp = c.m + i * c.psize;
        if (rd(mp, 8) != i || !(rd(mp + 10, 2) & L_META) || rd(mp + L_M_MAGIC, 4) != 0xBEEFC0DEu ||
            rd(mp + L_M_VERSION, 4) != 1 || rd(mp + L_M_FREE, 4) != c.psize)
            goto done;
    }
    /* LMDB uses the meta page of the later transaction (the first on a tie). */
    const uint8_t *meta =
        c.m + (rd(c.m + L_M_TXNID, 8) < rd(c.m + c.psize + L_M_TXNID, 8) ? c.psize : 0);
    c.npages = size / c.psize;
    c.last = rd(meta + L_M_LAST, 8);
    c.txnid = rd(meta + L_M_TXNID, 8);
    if (!(c.seen = calloc(c.npages / 8 + 1, 1))) {
        st = WEIR_ENOMEM;
        goto done;
    }
    if (check_db(&c, meta + L_M_FREE, T_FREE) == 0 && check_db(&c, meta + L_M_MAIN, T_MAIN) == 0)
        st = WEIR_OK;
done:
    free(c.seen);
    if (map != MAP_FAILED)
        munmap(map, (size_t)sb.st_size);
    close(fd);
    return st;
}

/* ---- checkpoints ---------------------------------------------------------------------- */

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

/* The checksum of a stream's record: of its id, its last use and its context. */
static uint64_t record_sum(const weir_id_t *id, uint64_t last, const uint8_t *ctx, size_t n)
{
    return weir__fnv1a(id->bytes, 16) ^ last ^ weir__fnv1a(ctx, n);
}

/* One stream into the checkpoint: its last use, the checksum, then its context. */
static int put_stream(const weir_id_t *id, uint64_t last, void *user)
{
    ckpt_ctx_t *c = user;
    weir__wbuf_t *w = c->w;
    w->n = 0;
    weir__put_u64(w, 0);
    weir__put_u64(w, 0);
    uint64_t used;
    int rc = weir__stream_context(c->sc, id, w, &used);
    if (rc != WEIR_OK || w->oom) {
        c->st = rc != WEIR_OK ? (weir_status_t)rc : WEIR_ENOMEM;
        return 1;
    }
    /* The header, written over its room once the context is known. */
    size_t end = w->n;
    w->n = 0;
    weir__put_u64(w, last);
    weir__put_u64(w, record_sum(id, last, w->p + RECORD_HEADER, end - RECORD_HEADER));
    w->n = end;
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
    weir_status_t st = check_store(path, 1);
    if (st != WEIR_OK || (st = open_env(path, 0, &env)) != WEIR_OK)
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
        put_u64(txn, meta, "streams", count) != 0 ||
        put_u64(txn, meta, "txn", (uint64_t)mdb_txn_id(txn)) != 0)
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
    weir_status_t st = check_store(path, 0);
    if (st != WEIR_OK || (st = open_env(path, MDB_RDONLY, &env)) != WEIR_OK)
        return st;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_dbi meta, streams;
    uint64_t version, rules, count, txnid, seen = 0;
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
    /* The transaction that wrote the checkpoint is the one LMDB picked: a meta page whose
       transaction number was damaged would point it at an older tree. */
    if (get_u64(txn, meta, "txn", &txnid) != 0 || txnid != (uint64_t)mdb_txn_id(txn))
        goto done;
    if (rules != sc->rules->fingerprint) {
        st = WEIR_ERULES;
        goto done;
    }
    if (mdb_cursor_open(txn, streams, &cur) != 0)
        goto done;
    MDB_val k, d;
    int rc;
    while ((rc = mdb_cursor_get(cur, &k, &d, seen ? MDB_NEXT : MDB_FIRST)) == 0) {
        if (k.mv_size != 16 || d.mv_size < RECORD_HEADER)
            goto done;
        weir_id_t id;
        memcpy(id.bytes, k.mv_data, 16);
        const uint8_t *rec = d.mv_data;
        if (rd(rec + 8, 8) !=
            record_sum(&id, rd(rec, 8), rec + RECORD_HEADER, d.mv_size - RECORD_HEADER))
            goto done; /* damaged */
        /* A restart counts as a use: the clock of the process that wrote the checkpoint
           (CLOCK_MONOTONIC, by default) means nothing in this one. */
        weir_status_t e = weir__stream_insert(sc, &id, rec + RECORD_HEADER,
                                              d.mv_size - RECORD_HEADER, weir__now_ms(sc), 1);
        if (e != WEIR_OK) {
            /* The scanner had no streams: an id met twice means a damaged store. */
            st = e == WEIR_ESTATE ? WEIR_EFORMAT : e;
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
