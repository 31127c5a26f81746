/*
 * budget.c - where stream contexts live.  A stream is live (a weir__stream_t on the recency
 * list), evicted to memory (its snapshot, a weir__parked_t in the table) or, with a spill
 * directory, evicted to disk (its snapshot in the spill store, nothing in memory).  Under a
 * memory budget the least recently used live streams are evicted after each call, and an
 * evicted stream is restored when it is next used, so no caller ever sees the difference.
 * Also idle expiry, iteration over every stream, and the memory figures.
 */
#define _POSIX_C_SOURCE 200809L

#include "scanner.h"
#include "spill.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int is_parked(const void *v)
{
    return ((uintptr_t)v & 1u) != 0;
}

static weir__parked_t *parked_of(void *v)
{
    return (weir__parked_t *)((uintptr_t)v & ~(uintptr_t)1u);
}

const weir_id_t *weir__stream_key(const void *value)
{
    return is_parked(value) ? &parked_of((void *)value)->id : &((const weir__stream_t *)value)->id;
}

static size_t parked_size(const weir__parked_t *p)
{
    return sizeof *p + p->len;
}

uint64_t weir__now_ms(const weir_scanner_t *sc)
{
    if (sc->clock)
        return sc->clock(sc->clock_user);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t usage(const weir_scanner_t *sc)
{
    return sc->table.mem.bytes + sc->live_bytes + sc->parked_bytes + sc->tpool.mem.bytes;
}

/* The scanner's buffer for one snapshot, emptied; NULL out of memory. */
static weir__wbuf_t *snap_buf(weir_scanner_t *sc)
{
    if (!sc->snap && !(sc->snap = calloc(1, sizeof *sc->snap)))
        return NULL;
    sc->snap->n = 0;
    sc->snap->oom = 0;
    return sc->snap;
}

/* ---- recency ------------------------------------------------------------------------ */

/* The recency list exists only under a budget: keeping it touches two other streams' contexts
   on every switch (two cache misses, most of the switch's cost without it). */
static void lru_unlink(weir_scanner_t *sc, weir__stream_t *st)
{
    if (!sc->opt.memory_limit)
        return;
    if (st->lru_prev)
        st->lru_prev->lru_next = st->lru_next;
    else
        sc->lru_head = st->lru_next;
    if (st->lru_next)
        st->lru_next->lru_prev = st->lru_prev;
    else
        sc->lru_tail = st->lru_prev;
    st->lru_prev = st->lru_next = NULL;
}

static void lru_push(weir_scanner_t *sc, weir__stream_t *st)
{
    if (!sc->opt.memory_limit)
        return;
    st->lru_prev = NULL;
    st->lru_next = sc->lru_head;
    if (sc->lru_head)
        sc->lru_head->lru_prev = st;
    else
        sc->lru_tail = st;
    sc->lru_head = st;
}

/* Makes st live in the books: on the recency list, its memory counted. */
static void adopt(weir_scanner_t *sc, weir__stream_t *st)
{
    lru_push(sc, st);
    sc->live_bytes += st->mem.bytes;
    sc->nlive++;
}

static void disown(weir_scanner_t *sc, weir__stream_t *st)
{
    lru_unlink(sc, st);
    sc->live_bytes -= st->mem.bytes;
    sc->nlive--;
}

/* ---- evicted streams ---------------------------------------------------------------- */

/* A table value for id evicted to memory with context ctx[0, len). */
static weir_status_t park(weir_scanner_t *sc, const weir_id_t *id, uint64_t last_used,
                          const uint8_t *ctx, size_t len, void **out)
{
    if (len > UINT32_MAX)
        return WEIR_ELIMIT;
    weir__parked_t *p = malloc(sizeof *p + len);
    if (!p)
        return WEIR_ENOMEM;
    memcpy(p->data, ctx, len);
    p->id = *id;
    p->last_used = last_used;
    p->len = (uint32_t)len;
    sc->parked_bytes += parked_size(p);
    sc->nparked++;
    *out = (void *)((uintptr_t)p | 1u);
    return WEIR_OK;
}

static void unpark(weir_scanner_t *sc, weir__parked_t *p)
{
    sc->parked_bytes -= parked_size(p);
    sc->nparked--;
    free(p);
}

/* Replaces live stream st by its snapshot, in memory or on disk.  st is unchanged on error. */
static weir_status_t evict(weir_scanner_t *sc, weir__stream_t *st)
{
    weir__wbuf_t *w = snap_buf(sc);
    if (!w)
        return WEIR_ENOMEM;
    int rc = weir__snap_save(sc, st, w);
    if (rc != 0)
        return rc == -1 ? WEIR_ENOMEM : WEIR_EENGINE;
    if (sc->spill) {
        weir_status_t pst = weir__spill_put(sc->spill, &st->id, st->last_used, w->p, w->n);
        if (pst != WEIR_OK)
            return pst;
        weir__table_del(&sc->table, &st->id);
        sc->nspilled++;
    } else {
        void **ref = weir__table_ref(&sc->table, &st->id), *parked;
        weir_status_t pst = park(sc, &st->id, st->last_used, w->p, w->n, &parked);
        if (pst != WEIR_OK)
            return pst;
        *ref = parked;
    }
    disown(sc, st);
    weir__stream_free(sc, st);
    sc->evictions++;
    return WEIR_OK;
}

/* A live stream from context ctx[0, len); NULL with *err. */
static weir__stream_t *load(weir_scanner_t *sc, const weir_id_t *id, const uint8_t *ctx, size_t len,
                            uint64_t last_used, weir_status_t *err)
{
    weir__rbuf_t r = {ctx, len, 0, 0};
    weir__stream_t *st = weir__snap_load(sc, id, &r, err);
    if (st && r.pos != r.n) {
        weir__stream_free(sc, st);
        *err = WEIR_EFORMAT;
        return NULL;
    }
    if (st)
        st->last_used = last_used;
    return st;
}

/* The stream evicted to memory at *ref, live again (*ref then points to it); NULL with *err,
   the snapshot kept. */
static weir__stream_t *restore(weir_scanner_t *sc, void **ref, const weir_id_t *id,
                               weir_status_t *err)
{
    weir__parked_t *p = parked_of(*ref);
    weir__stream_t *st = load(sc, id, p->data, p->len, p->last_used, err);
    if (!st)
        return NULL;
    unpark(sc, p);
    *ref = st;
    adopt(sc, st);
    sc->restores++;
    return st;
}

/* Stream id from the spill store, live again; NULL with *err (WEIR_ENOTFOUND: not there). */
static weir__stream_t *unspill(weir_scanner_t *sc, const weir_id_t *id, weir_status_t *err)
{
    weir__wbuf_t *w = snap_buf(sc);
    uint64_t last = 0;
    if (!w) {
        *err = WEIR_ENOMEM;
        return NULL;
    }
    if (!sc->nspilled || (*err = weir__spill_get(sc->spill, id, &last, w)) != WEIR_OK) {
        if (!sc->nspilled)
            *err = WEIR_ENOTFOUND;
        return NULL;
    }
    weir__stream_t *st = load(sc, id, w->p, w->n, last, err);
    if (!st)
        return NULL;
    if (weir__table_put(&sc->table, id, st) != 0) {
        weir__stream_free(sc, st);
        *err = WEIR_ENOMEM;
        return NULL;
    }
    weir__spill_del(sc->spill, id);
    sc->nspilled--;
    adopt(sc, st);
    sc->restores++;
    return st;
}

/* 1 when id is in the spill store. */
static int spilled(const weir_scanner_t *sc, const weir_id_t *id)
{
    return sc->nspilled && weir__spill_get(sc->spill, id, NULL, NULL) == WEIR_OK;
}

/* ---- live streams ------------------------------------------------------------------- */

/* The scanner holds max_streams streams: no new one may open. */
static int full(const weir_scanner_t *sc)
{
    return sc->table.count + sc->nspilled >= sc->opt.max_streams;
}

weir__stream_t *weir__stream_get(weir_scanner_t *sc, const weir_id_t *id, int create,
                                 weir_status_t *err)
{
    void **ref = weir__table_ref(&sc->table, id);
    weir__stream_t *st;
    if (ref) {
        if (is_parked(*ref)) {
            if (!(st = restore(sc, ref, id, err)))
                return NULL;
        } else {
            st = *ref;
            if (sc->lru_head != st) {
                lru_unlink(sc, st);
                lru_push(sc, st);
            }
        }
    } else if (!(st = unspill(sc, id, err))) {
        if (*err != WEIR_ENOTFOUND || !create)
            return NULL;
        if (full(sc)) {
            *err = WEIR_ELIMIT;
            return NULL;
        }
        if (!(st = weir__stream_new(sc, id, 1))) {
            *err = WEIR_ENOMEM;
            return NULL;
        }
        if (weir__table_put(&sc->table, id, st) != 0) {
            weir__stream_free(sc, st);
            *err = WEIR_ENOMEM;
            return NULL;
        }
        adopt(sc, st);
    }
    /* Feeding or opening a stream is a use (idle expiry); reading its results is not. */
    if (create)
        st->last_used = weir__now_ms(sc);
    return st;
}

void weir__stream_done(weir_scanner_t *sc, weir__stream_t *st, size_t before)
{
    sc->live_bytes = sc->live_bytes + st->mem.bytes - before;
    if (!sc->opt.memory_limit)
        return;
    while (usage(sc) > sc->opt.memory_limit && sc->lru_tail && sc->lru_tail != st)
        if (evict(sc, sc->lru_tail) != WEIR_OK)
            break; /* out of memory: over the budget until the next call */
}

weir__stream_t *weir__stream_take(weir_scanner_t *sc, const weir_id_t *id, weir_status_t *err)
{
    weir__stream_t *st = weir__stream_get(sc, id, 0, err);
    if (!st)
        return NULL;
    disown(sc, st);
    weir__table_del(&sc->table, id);
    return st;
}

void weir__streams_free(weir_scanner_t *sc)
{
    for (size_t i = 0; i < sc->table.cap; i++) {
        if (!WEIR__TABLE_LIVE(&sc->table, i))
            continue;
        void *v = sc->table.slots[i].value;
        if (is_parked(v))
            free(parked_of(v));
        else
            weir__stream_free(sc, v);
    }
    weir__table_free(&sc->table);
    sc->lru_head = sc->lru_tail = NULL;
    sc->live_bytes = sc->parked_bytes = 0;
    sc->nlive = sc->nparked = 0;
    if (sc->snap)
        free(sc->snap->p);
    free(sc->snap);
    sc->snap = NULL;
}

void weir__streams_clear(weir_scanner_t *sc)
{
    weir__streams_free(sc);
    if (sc->nspilled && weir__spill_clear(sc->spill) == WEIR_OK)
        sc->nspilled = 0;
}

void weir__stream_prefetch(const weir_scanner_t *sc, const weir_id_t *id, int deep)
{
    if (!deep) {
        weir__table_prefetch(&sc->table, id);
        return;
    }
    void **ref = weir__table_ref(&sc->table, id); /* its slot: loaded by the shallow prefetch */
    if (!ref || is_parked(*ref))
        return;
    const weir__stream_t *st = *ref;
    __builtin_prefetch(st);
    __builtin_prefetch((const char *)st + 64);
}

void weir__stream_prefetch_state(const weir_scanner_t *sc, const weir_id_t *id)
{
    void **ref = weir__table_ref(&sc->table, id);
    if (ref && !is_parked(*ref) && ((const weir__stream_t *)*ref)->hs) {
        const char *hs = (const char *)((const weir__stream_t *)*ref)->hs;
        __builtin_prefetch(hs);
        __builtin_prefetch(hs + 64);
    }
}

/* ---- every stream ------------------------------------------------------------------- */

typedef struct each_ctx {
    int (*cb)(const weir_id_t *id, uint64_t last_used, void *user);
    void *user;
} each_ctx_t;

static int each_spilled(const weir_id_t *id, uint64_t last_used, const uint8_t *ctx, size_t len,
                        void *user)
{
    (void)ctx;
    (void)len;
    each_ctx_t *e = user;
    return e->cb(id, last_used, e->user);
}

weir_status_t weir__streams_each(const weir_scanner_t *sc,
                                 int (*cb)(const weir_id_t *id, uint64_t last_used, void *user),
                                 void *user)
{
    for (size_t i = 0; i < sc->table.cap; i++) {
        if (!WEIR__TABLE_LIVE(&sc->table, i))
            continue;
        void *v = sc->table.slots[i].value;
        uint64_t last = is_parked(v) ? parked_of(v)->last_used : ((weir__stream_t *)v)->last_used;
        if (cb(WEIR__TABLE_ID(&sc->table, i), last, user))
            return WEIR_OK;
    }
    if (!sc->nspilled)
        return WEIR_OK;
    each_ctx_t e = {cb, user};
    return weir__spill_each(sc->spill, each_spilled, &e);
}

/* ---- contexts as bytes (snapshots, checkpoints) ------------------------------------- */

int weir__stream_context(weir_scanner_t *sc, const weir_id_t *id, weir__wbuf_t *w,
                         uint64_t *last_used)
{
    void **ref = weir__table_ref(&sc->table, id);
    if (!ref)
        return sc->nspilled ? weir__spill_get(sc->spill, id, last_used, w) : WEIR_ENOTFOUND;
    if (is_parked(*ref)) {
        const weir__parked_t *p = parked_of(*ref);
        *last_used = p->last_used;
        weir__put(w, p->data, p->len);
        return w->oom ? WEIR_ENOMEM : WEIR_OK;
    }
    const weir__stream_t *st = *ref;
    *last_used = st->last_used;
    int rc = weir__snap_save(sc, st, w);
    return rc == 0 ? WEIR_OK : rc == -1 ? WEIR_ENOMEM : WEIR_EENGINE;
}

weir_status_t weir__stream_insert(weir_scanner_t *sc, const weir_id_t *id, const uint8_t *ctx,
                                  size_t len, uint64_t last_used, int lazy)
{
    if (weir__table_ref(&sc->table, id) || spilled(sc, id))
        return WEIR_ESTATE;
    if (full(sc))
        return WEIR_ELIMIT;
    /* Checked whole even when kept as a snapshot, so that a damaged one is refused now. */
    weir_status_t err;
    weir__stream_t *st = load(sc, id, ctx, len, last_used, &err);
    if (!st)
        return err;
    if (!lazy) {
        if (weir__table_put(&sc->table, id, st) != 0) {
            weir__stream_free(sc, st);
            return WEIR_ENOMEM;
        }
        adopt(sc, st);
        weir__stream_done(sc, st, st->mem.bytes);
        return WEIR_OK;
    }
    weir__stream_free(sc, st);
    if (sc->spill) {
        err = weir__spill_put(sc->spill, id, last_used, ctx, len);
        if (err == WEIR_OK)
            sc->nspilled++;
        return err;
    }
    void *parked;
    if ((err = park(sc, id, last_used, ctx, len, &parked)) != WEIR_OK)
        return err;
    if (weir__table_put(&sc->table, id, parked) != 0) {
        unpark(sc, parked_of(parked));
        return WEIR_ENOMEM;
    }
    return WEIR_OK;
}

/* ---- public ------------------------------------------------------------------------- */

weir_status_t weir_stream_evict(weir_scanner_t *sc, const weir_id_t *id)
{
    if (!sc || !id)
        return WEIR_EINVAL;
    void **ref = weir__table_ref(&sc->table, id);
    if (!ref)
        return spilled(sc, id) ? WEIR_OK : WEIR_ENOTFOUND;
    return is_parked(*ref) ? WEIR_OK : evict(sc, *ref);
}

void weir_scanner_set_clock(weir_scanner_t *sc, uint64_t (*now)(void *user), void *user)
{
    if (!sc)
        return;
    sc->clock = now;
    sc->clock_user = user;
}

typedef struct idle_ctx {
    uint64_t now, idle_ms;
    weir_id_t *ids;
    size_t n, cap;
    int oom;
} idle_ctx_t;

static int collect_idle(const weir_id_t *id, uint64_t last, void *user)
{
    idle_ctx_t *c = user;
    if (c->now < last || c->now - last <= c->idle_ms)
        return 0;
    if (WEIR__GROW(NULL, c->ids, c->cap, c->n + 1) != 0) {
        c->oom = 1;
        return 1;
    }
    c->ids[c->n++] = *id;
    return 0;
}

weir_status_t weir_scanner_expire(weir_scanner_t *sc, uint64_t idle_ms, weir_result_cb cb,
                                  void *user, size_t *closed)
{
    if (closed)
        *closed = 0;
    if (!sc)
        return WEIR_EINVAL;
    /* The ids first: closing changes the table and the store. */
    idle_ctx_t ic = {weir__now_ms(sc), idle_ms, NULL, 0, 0, 0};
    weir_status_t rc = weir__streams_each(sc, collect_idle, &ic);
    if (ic.oom)
        rc = WEIR_ENOMEM;
    for (size_t i = 0; i < ic.n && rc == WEIR_OK; i++) {
        weir_status_t r = weir_stream_close(sc, &ic.ids[i], cb, user);
        if (r == WEIR_OK || r == WEIR_ESTOPPED) {
            sc->expired++;
            if (closed)
                (*closed)++;
        }
        if (r != WEIR_OK)
            rc = r;
    }
    /* The others are closed even when one fails. */
    for (size_t i = 0; i < ic.n && rc != WEIR_OK && rc != WEIR_ENOMEM; i++)
        if (weir_stream_close(sc, &ic.ids[i], cb, user) == WEIR_OK) {
            sc->expired++;
            if (closed)
                (*closed)++;
        }
    free(ic.ids);
    return rc;
}

size_t weir_memory_usage(const weir_scanner_t *sc)
{
    return sc ? usage(sc) : 0;
}

size_t weir_scanner_stream_count(const weir_scanner_t *sc)
{
    return sc ? sc->table.count + sc->nspilled : 0;
}

typedef struct ids_ctx {
    weir_id_t *ids;
    size_t cap, n;
} ids_ctx_t;

static int collect_id(const weir_id_t *id, uint64_t last, void *user)
{
    (void)last;
    ids_ctx_t *c = user;
    if (c->n < c->cap)
        c->ids[c->n] = *id;
    c->n++;
    return 0;
}

weir_status_t weir_scanner_streams(const weir_scanner_t *sc, weir_id_t *ids, size_t cap, size_t *n)
{
    if (!sc || !n || (!ids && cap))
        return WEIR_EINVAL;
    ids_ctx_t c = {ids, cap, 0};
    weir_status_t rc = weir__streams_each(sc, collect_id, &c);
    *n = c.n;
    return rc;
}

/* Stats of an evicted stream from its context (snapshot.c's layout: flags, Vectorscan's
   state, bytes, lines, line length, record start). */
static void context_stats(const uint8_t *ctx, size_t len, weir_stream_stats_t *out)
{
    weir__rbuf_t r = {ctx, len, 0, 0};
    uint8_t flags = weir__get_u8(&r);
    if (flags & 1)
        weir__take(&r, (size_t)weir__get_uv(&r));
    out->bytes = weir__get_uv(&r);
    out->lines = weir__get_uv(&r);
    weir__get_uv(&r);               /* the current line's length */
    out->bytes += weir__get_uv(&r); /* record mode: where the record starts */
    out->evicted = 1;
}

weir_status_t weir_stream_stats(const weir_scanner_t *sc, const weir_id_t *id,
                                weir_stream_stats_t *out)
{
    if (!sc || !id || !out)
        return WEIR_EINVAL;
    memset(out, 0, sizeof *out);
    void **ref = weir__table_ref(&sc->table, id);
    if (!ref) {
        if (!sc->nspilled)
            return WEIR_ENOTFOUND;
        weir__wbuf_t w = {0};
        weir_status_t st = weir__spill_get(sc->spill, id, NULL, &w);
        if (st == WEIR_OK)
            context_stats(w.p, w.n, out); /* memory: none, it is on disk */
        free(w.p);
        return st;
    }
    if (is_parked(*ref)) {
        const weir__parked_t *p = parked_of(*ref);
        context_stats(p->data, p->len, out);
        out->memory = parked_size(p);
        return WEIR_OK;
    }
    const weir__stream_t *st = *ref;
    out->bytes = (sc->opt.records ? st->base : 0) + st->bytes;
    out->lines = st->lines;
    out->string_matches = st->x ? st->x->string_matches : 0;
    out->rules_fired = st->x ? st->x->rules_fired : 0;
    out->memory = st->mem.bytes;
    weir__stream_memory(sc, st, &out->mem);
    return WEIR_OK;
}

weir_status_t weir_memory_stats(const weir_scanner_t *sc, weir_memory_stats_t *out)
{
    if (!sc || !out)
        return WEIR_EINVAL;
    memset(out, 0, sizeof *out);
    out->total = usage(sc);
    out->limit = sc->opt.memory_limit;
    out->table = sc->table.mem.bytes;
    out->spare = sc->tpool.mem.bytes;
    out->streams = sc->table.count + sc->nspilled;
    out->live = sc->nlive;
    out->evicted = sc->nparked + sc->nspilled;
    out->spilled = sc->nspilled;
    out->spill_file = sc->spill ? weir__spill_bytes(sc->spill) : 0;
    out->live_bytes = sc->live_bytes;
    out->evicted_bytes = sc->parked_bytes;
    out->evictions = sc->evictions;
    out->restores = sc->restores;
    out->expired = sc->expired;
    for (size_t i = 0; i < sc->table.cap; i++) {
        const weir__stream_t *st = sc->table.slots[i].value;
        if (!WEIR__TABLE_LIVE(&sc->table, i) || is_parked(st))
            continue;
        weir_memory_parts_t m;
        weir__stream_memory(sc, st, &m);
        out->live_parts.context += m.context;
        out->live_parts.vectorscan += m.vectorscan;
        out->live_parts.history += m.history;
        out->live_parts.matches += m.matches;
        out->live_parts.trace_ids += m.trace_ids;
        out->live_parts.other += m.other;
    }
    return WEIR_OK;
}

weir_status_t weir_memory_stats_format(const weir_scanner_t *sc, int json, char **out)
{
    if (out)
        *out = NULL;
    weir_memory_stats_t m;
    if (!out || weir_memory_stats(sc, &m) != WEIR_OK)
        return WEIR_EINVAL;
    const weir_memory_parts_t *p = &m.live_parts;
    const struct {
        const char *key;
        uint64_t v;
        int part;
    } f[] = {{"total", m.total, 0},
             {"limit", m.limit, 0},
             {"table", m.table, 0},
             {"streams", m.streams, 0},
             {"live", m.live, 0},
             {"evicted", m.evicted, 0},
             {"live_bytes", m.live_bytes, 0},
             {"context", p->context, 1},
             {"vectorscan", p->vectorscan, 1},
             {"history", p->history, 1},
             {"matches", p->matches, 1},
             {"trace_ids", p->trace_ids, 1},
             {"other", p->other, 1},
             {"evicted_bytes", m.evicted_bytes, 0},
             {"spare", m.spare, 0},
             {"spilled", m.spilled, 0},
             {"spill_file", m.spill_file, 0},
             {"evictions", m.evictions, 0},
             {"restores", m.restores, 0},
             {"expired", m.expired, 0}};
    size_t nf = sizeof f / sizeof f[0];
    weir__wbuf_t w = {0};
    char line[96];
    int in_parts = 0;
    weir__put(&w, json ? "{" : "", json ? 1 : 0);
    for (size_t i = 0; i < nf; i++) {
        int n;
        if (json) {
            const char *open = f[i].part && !in_parts ? "\"live_parts\":{" : "";
            const char *close = !f[i].part && in_parts ? "}" : "";
            n = snprintf(line, sizeof line, "%s%s%s\"%s\":%llu", close, i ? "," : "", open,
                         f[i].key, (unsigned long long)f[i].v);
        } else {
            n = snprintf(line, sizeof line, "%s%-14s %llu\n", f[i].part ? "  " : "", f[i].key,
                         (unsigned long long)f[i].v);
        }
        in_parts = f[i].part;
        weir__put(&w, line, (size_t)n);
    }
    weir__put(&w, json ? "}" : "", json ? 2 : 1); /* and the NUL */
    if (w.oom) {
        free(w.p);
        return WEIR_ENOMEM;
    }
    *out = (char *)w.p;
    return WEIR_OK;
}
