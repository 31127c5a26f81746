/*
 * snapshot.c - a stream's context as bytes and back: eviction under a memory budget, spilling,
 * checkpoints and weir_stream_snapshot all use it.
 *
 * The context (no header; weir__snap_save) is: flags, Vectorscan's compressed stream state
 * (hs_compress_stream), then the counters, history, trace-id state and, when the stream has
 * them, its extras: integer-read bytes, match lists (offsets as deltas; match data inline),
 * pending reports and starts, rule states, trace ids kept for matches, chain lists and
 * variables.  Integers are varints, so an idle stream's context is a few dozen bytes plus
 * Vectorscan's state.  Loading checks every count against what is left of the buffer and every
 * index against the rules, so a damaged context is an error, never a crash; Vectorscan's own
 * state cannot be checked that way (hs_expand_stream trusts it), which is why the public form
 * (weir_stream_snapshot) carries a checksum and the fingerprint of the rules.
 */
#include "engine.h"
#include "scanner.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

enum { SNAP_HS = 1, SNAP_X = 2, SNAP_DATA = 4 };

/* ---- saving ------------------------------------------------------------------------- */

static void put_str0(weir__wbuf_t *w, const char *s)
{
    /* 0: none; else length + 1, then the bytes */
    size_t n = s ? strlen(s) : 0;
    weir__put_uv(w, s ? n + 1 : 0);
    weir__put(w, s, n);
}

/* A trace slot as a varint: 0 for none. */
static uint64_t slot_code(uint32_t slot)
{
    return slot == WEIR__NO_TRACE ? 0 : (uint64_t)slot + 1;
}

static void save_x(const weir_scanner_t *sc, const weir__sx_t *x, weir__wbuf_t *w)
{
    const weir_rules_t *r = sc->rules;
    weir__put_uv(w, x->string_matches);
    weir__put_uv(w, x->rules_fired);
    weir__put_uv(w, x->head_len);
    weir__put(w, x->head, x->head_len);
    uint32_t lists = 0;
    for (uint32_t s = 0; s < r->nstrings; s++)
        lists += x->lists[s].n != 0;
    weir__put_uv(w, lists);
    for (uint32_t s = 0; s < r->nstrings; s++) {
        const weir__mlist_t *l = &x->lists[s];
        if (!l->n)
            continue;
        weir__put_uv(w, s);
        weir__put_uv(w, l->n);
        uint64_t prev = 0;
        for (uint32_t i = 0; i < l->n; i++) {
            weir__put_uv(w, l->v[i].off - prev);
            prev = l->v[i].off;
            weir__put_uv(w, l->v[i].len);
            weir__put_uv(w, slot_code(l->v[i].trace));
            if (x->drefs) {
                uint64_t d = x->drefs[s][i];
                uint32_t dlen = (uint32_t)(d & 1023);
                weir__put_uv(w, dlen);
                weir__put(w, x->arena + (d >> 10), dlen);
            }
        }
    }
    weir__put_uv(w, x->npend);
    for (size_t i = 0; i < x->npend; i++) {
        weir__put_uv(w, x->pend[i].pos);
        weir__put_uv(w, x->pend[i].tried);
        weir__put_uv(w, x->pend[i].variant);
        weir__put_u8(w, (uint8_t)x->pend[i].type);
    }
    for (uint32_t i = 0; i < r->nrules; i++)
        weir__put_u8(w, (uint8_t)(x->rule_true[i] | x->fired[i] << 1));
    weir__put_uv(w, x->ndirty);
    for (size_t i = 0; i < x->ndirty; i++)
        weir__put_uv(w, x->dirty[i]);
    weir__put_uv(w, x->nslots);
    for (size_t i = 0; i < x->nslots; i++)
        put_str0(w, x->slots[i]);
    weir__put_uv(w, slot_code(x->cur_slot));
    weir__put_uv(w, slot_code(x->prev_slot));
    put_str0(w, x->prev_trace);
    weir__put_uv(w, x->prev_line_start);
    weir__put_uv(w, x->nrecent);
    for (size_t i = 0; i < x->nrecent; i++) {
        weir__put_uv(w, x->recent[i].start);
        weir__put_uv(w, x->recent[i].end);
        put_str0(w, x->recent[i].trace);
        weir__put_uv(w, slot_code(x->recent[i].slot));
    }
    weir__put_u8(w, x->too_many);
    weir__put_u8(w, x->chains != NULL);
    for (uint32_t g = 0; x->chains && g < r->ngaps; g++) {
        weir__put_uv(w, x->chains[g].n);
        for (uint32_t i = 0; i < x->chains[g].n; i++) {
            weir__put_uv(w, x->chains[g].v[i].off);
            weir__put_uv(w, x->chains[g].v[i].len);
            weir__put_uv(w, x->chains[g].v[i].links);
        }
    }
    weir__put_uv(w, x->nvars);
    for (uint32_t k = 0; k < x->nvars; k++) {
        weir__put_uv(w, x->vars[k].idx);
        weir__put_u64(w, (uint64_t)x->vars[k].i);
        weir__put_uv(w, x->vars[k].len);
        weir__put(w, x->vars[k].s, x->vars[k].len);
    }
}

int weir__snap_save(const weir_scanner_t *sc, const weir__stream_t *st, weir__wbuf_t *w)
{
    weir__put_u8(w, (uint8_t)((st->hs ? SNAP_HS : 0) | (st->x ? SNAP_X : 0) |
                              (st->x && st->x->drefs ? SNAP_DATA : 0)));
    if (st->hs) {
        size_t need = 0;
        hs_error_t rc = weir__engine()->compress_stream(st->hs, NULL, 0, &need);
        if (rc != HS_INSUFFICIENT_SPACE && rc != HS_SUCCESS)
            return -2;
        weir__put_uv(w, need);
        if (w->oom || WEIR__GROW(NULL, w->p, w->cap, w->n + need) != 0) {
            w->oom = 1;
            return -1;
        }
        size_t used = 0;
        if (weir__engine()->compress_stream(st->hs, (char *)w->p + w->n, need, &used) !=
                HS_SUCCESS ||
            used != need)
            return -2;
        w->n += used;
    }
    weir__put_uv(w, st->bytes);
    weir__put_uv(w, st->lines);
    /* the current line's length, then (record mode) where the record starts */
    weir__put_uv(w, sc->opt.records ? 0 : st->bytes - st->line_start);
    weir__put_uv(w, sc->opt.records ? st->base : 0);
    weir__put_uv(w, st->ring_len);
    weir__put(w, weir__ring((weir__stream_t *)st), st->ring_len);
    weir__trace_save(&st->trace, w);
    if (st->x)
        save_x(sc, st->x, w);
    return w->oom ? -1 : 0;
}

/* ---- loading ------------------------------------------------------------------------ */

/* A string saved by put_str0 as a copy charged to mem; *none when it was NULL.  NULL with
   r->bad on a damaged buffer, or -1 via *oom. */
static char *get_str0(weir__rbuf_t *r, weir__mem_t *mem, int *oom)
{
    size_t n = (size_t)weir__get_uv_max(r, (uint64_t)(r->n - r->pos) + 1);
    if (!n || r->bad)
        return NULL;
    const uint8_t *p = weir__take(r, n - 1);
    if (!p)
        return NULL;
    if (memchr(p, '\0', n - 1)) {
        r->bad = 1;
        return NULL;
    }
    char *s = weir__malloc(mem, n);
    if (!s) {
        *oom = 1;
        return NULL;
    }
    memcpy(s, p, n - 1);
    s[n - 1] = '\0';
    return s;
}

/* The number of items of at least min bytes each that can be left in r. */
static size_t get_n(weir__rbuf_t *r, size_t min)
{
    return (size_t)weir__get_uv_max(r, (r->n - r->pos) / min);
}

static int load_x(weir_scanner_t *sc, weir__stream_t *st, weir__rbuf_t *r, int data)
{
    const weir_rules_t *rules = sc->rules;
    weir__sx_t *x = weir__sx(sc, st);
    if (!x)
        return -1;
    int oom = 0;
    x->string_matches = weir__get_uv(r);
    x->rules_fired = weir__get_uv(r);
    x->head_len = (uint32_t)weir__get_uv_max(r, rules->head);
    const uint8_t *head = weir__take(r, x->head_len);
    if (head && x->head_len)
        memcpy(x->head, head, x->head_len);
    size_t lists = get_n(r, 2);
    uint32_t last = 0;
    for (size_t k = 0; k < lists && !r->bad; k++) {
        uint32_t s = (uint32_t)weir__get_uv_max(r, rules->nstrings ? rules->nstrings - 1 : 0);
        size_t n = get_n(r, 3);
        if (r->bad || (k && s <= last) || !rules->nstrings || n == 0 ||
            n > WEIR_MAX_STRING_MATCHES) {
            r->bad = 1;
            break;
        }
        last = s;
        weir__mlist_t *l = &x->lists[s];
        if (!(l->v = weir__malloc(&st->mem, n * sizeof *l->v)) ||
            (x->drefs && !(x->drefs[s] = weir__malloc(&st->mem, n * sizeof(uint64_t))))) {
            if (l->v)
                l->cap = (uint32_t)n; /* freed with the stream */
            return -1;
        }
        l->cap = (uint32_t)n;
        uint64_t off = 0;
        for (size_t i = 0; i < n && !r->bad; i++) {
            uint64_t d = weir__get_uv(r);
            if (i && d == 0)
                r->bad = 1; /* one match per offset, sorted */
            off += d;
            l->v[i].off = off;
            l->v[i].len = (uint32_t)weir__get_uv_max(r, UINT32_MAX);
            uint64_t t = weir__get_uv_max(r, (uint64_t)UINT32_MAX);
            l->v[i].trace = t ? (uint32_t)(t - 1) : WEIR__NO_TRACE;
            if (x->drefs)
                x->drefs[s][i] = 0;
            if (data) {
                /* Match data kept as the snapshot has it, cut to this scanner's option. */
                uint32_t dlen = (uint32_t)weir__get_uv_max(r, WEIR_MAX_MATCH_DATA);
                const uint8_t *p = weir__take(r, dlen);
                if (!p || !x->drefs)
                    continue;
                if (dlen > sc->opt.match_data)
                    dlen = sc->opt.match_data;
                if (WEIR__GROW(&st->mem, x->arena, x->arena_cap, x->arena_len + dlen) != 0)
                    return -1;
                memcpy(x->arena + x->arena_len, p, dlen);
                x->drefs[s][i] = (uint64_t)x->arena_len << 10 | dlen;
                x->arena_len += dlen;
            }
        }
        /* A scanner keeping fewer matches than the one that saved takes the first ones. */
        l->n = (uint32_t)n;
        if (n > sc->opt.max_matches) {
            l->n = sc->opt.max_matches;
            x->too_many = 1;
        }
        if (off > st->bytes)
            r->bad = 1;
    }
    size_t npend = get_n(r, 4);
    if (npend && WEIR__GROW(&st->mem, x->pend, x->cap_pend, npend) != 0)
        return -1;
    for (size_t i = 0; i < npend && !r->bad; i++) {
        weir__pend_t *pd = &x->pend[i];
        pd->pos = weir__get_uv_max(r, st->bytes);
        pd->tried = weir__get_uv(r);
        pd->variant = (uint32_t)weir__get_uv_max(r, rules->nvariants ? rules->nvariants - 1 : 0);
        pd->type = weir__get_u8(r);
        if (!rules->nvariants || pd->type > WEIR__P_START)
            r->bad = 1;
        x->npend++;
    }
    for (uint32_t i = 0; i < rules->nrules && !r->bad; i++) {
        uint8_t f = weir__get_u8(r);
        x->rule_true[i] = f & 1;
        x->fired[i] = (f >> 1) & 3;
        if (f > (WEIR__GAVE_UP << 1 | 1) || x->fired[i] > WEIR__GAVE_UP)
            r->bad = 1;
    }
    size_t ndirty = get_n(r, 1);
    if (ndirty > rules->nrules)
        r->bad = 1;
    if (!r->bad && ndirty && WEIR__GROW(&st->mem, x->dirty, x->cap_dirty, ndirty) != 0)
        return -1;
    for (size_t i = 0; i < ndirty && !r->bad; i++) {
        uint32_t d = (uint32_t)weir__get_uv_max(r, rules->nrules ? rules->nrules - 1 : 0);
        if (!rules->nrules || x->is_dirty[d]) {
            r->bad = 1;
            break;
        }
        x->is_dirty[d] = 1;
        x->dirty[x->ndirty++] = d;
    }
    size_t nslots = get_n(r, 1);
    if (nslots && WEIR__GROW(&st->mem, x->slots, x->cap_slots, nslots) != 0)
        return -1;
    for (size_t i = 0; i < nslots && !r->bad && !oom; i++) {
        x->slots[i] = get_str0(r, &st->mem, &oom);
        x->nslots++;
    }
    uint64_t cs = weir__get_uv_max(r, x->nslots), ps = weir__get_uv_max(r, x->nslots);
    x->cur_slot = cs ? (uint32_t)(cs - 1) : WEIR__NO_TRACE;
    x->prev_slot = ps ? (uint32_t)(ps - 1) : WEIR__NO_TRACE;
    /* The current line's slot gets its trace id when the line ends: it has none yet. */
    if (!r->bad && x->cur_slot != WEIR__NO_TRACE && x->slots[x->cur_slot])
        r->bad = 1;
    x->prev_trace = get_str0(r, &st->mem, &oom);
    x->prev_line_start = weir__get_uv_max(r, st->line_start);
    size_t nrecent = get_n(r, 4);
    if (nrecent && WEIR__GROW(&st->mem, x->recent, x->cap_recent, nrecent) != 0)
        return -1;
    for (size_t i = 0; i < nrecent && !r->bad && !oom; i++) {
        struct weir__line *l = &x->recent[i];
        l->start = weir__get_uv_max(r, st->bytes);
        l->end = weir__get_uv_max(r, st->bytes);
        l->trace = get_str0(r, &st->mem, &oom);
        uint64_t sl = weir__get_uv_max(r, x->nslots);
        l->slot = sl ? (uint32_t)(sl - 1) : WEIR__NO_TRACE;
        if (l->trace)
            x->nrecent++;
        else if (!oom)
            r->bad = 1;
    }
    x->too_many |= weir__get_u8(r);
    uint8_t chains = weir__get_u8(r);
    if (x->too_many > 1 || chains > 1 || (chains && !rules->ngaps))
        r->bad = 1;
    if (chains && !r->bad) {
        if (!(x->chains = weir__calloc(&st->mem, rules->ngaps, sizeof *x->chains)))
            return -1;
        for (uint32_t g = 0; g < rules->ngaps && !r->bad; g++) {
            size_t n = get_n(r, 3);
            struct weir__chainl *l = &x->chains[g];
            if (n && !(l->v = weir__malloc(&st->mem, n * sizeof *l->v)))
                return -1;
            l->cap = (uint32_t)n;
            for (size_t i = 0; i < n && !r->bad; i++) {
                l->v[i].off = weir__get_uv_max(r, st->bytes);
                l->v[i].len = (uint32_t)weir__get_uv_max(r, UINT32_MAX);
                l->v[i].links = (uint32_t)weir__get_uv_max(r, UINT32_MAX);
                l->n++;
            }
        }
    }
    size_t nvars = get_n(r, 10);
    if (nvars > rules->nvars)
        r->bad = 1;
    if (nvars && !r->bad && !(x->vars = weir__calloc(&st->mem, nvars, sizeof *x->vars)))
        return -1;
    for (size_t k = 0; k < nvars && !r->bad; k++) {
        struct weir__svar *v = &x->vars[k];
        v->idx = (uint32_t)weir__get_uv_max(r, rules->nvars - 1);
        v->i = (int64_t)weir__get_u64(r);
        v->len = (size_t)get_n(r, 1);
        const uint8_t *p = weir__take(r, v->len);
        if (r->bad)
            break;
        if (rules->vars[v->idx].type != WEIR_VAR_STRING && v->len)
            r->bad = 1;
        if (rules->vars[v->idx].type == WEIR_VAR_STRING) {
            if (!(v->s = weir__malloc(&st->mem, v->len ? v->len : 1)))
                return -1;
            memcpy(v->s, p, v->len);
        }
        x->nvars++;
    }
    return oom ? -1 : 0;
}

weir__stream_t *weir__snap_load(weir_scanner_t *sc, const weir_id_t *id, weir__rbuf_t *r,
                                weir_status_t *err)
{
    const weir_rules_t *rules = sc->rules;
    *err = WEIR_EFORMAT;
    uint8_t flags = weir__get_u8(r);
    if (r->bad || flags > (SNAP_HS | SNAP_X | SNAP_DATA) || !(flags & SNAP_HS) != !rules->db)
        return NULL;
    weir__stream_t *st = weir__stream_new(sc, id, 0);
    if (!st) {
        *err = WEIR_ENOMEM;
        return NULL;
    }
    if (flags & SNAP_HS) {
        size_t n = (size_t)weir__get_uv(r);
        const uint8_t *p = weir__take(r, n);
        if (!p)
            goto fail;
        if (weir__engine()->expand_stream(rules->db, &st->hs, (const char *)p, n) != HS_SUCCESS) {
            st->hs = NULL;
            goto fail;
        }
        st->mem.bytes += sc->hs_size;
    }
    st->bytes = weir__get_uv(r);
    st->lines = weir__get_uv(r);
    uint64_t line_len = weir__get_uv_max(r, st->bytes), base = weir__get_uv(r);
    if (sc->opt.records ? line_len != 0 : base != 0)
        r->bad = 1; /* saved by a scanner of the other mode */
    if (st->lines > base + st->bytes || base > UINT64_MAX - st->bytes)
        r->bad = 1; /* a line has at least its newline */
    if (sc->opt.records)
        st->base = base;
    else
        st->line_start = st->bytes - line_len;
    uint32_t ring =
        (uint32_t)weir__get_uv_max(r, rules->history < st->bytes ? rules->history : st->bytes);
    const uint8_t *p = weir__take(r, ring);
    if (r->bad)
        goto fail;
    if (ring > WEIR__RING_IN) {
        if (!(st->ring.p = weir__malloc(&st->mem, ring)))
            goto oom;
        st->ring_cap = ring;
    }
    if (ring)
        memcpy(weir__ring(st), p, ring);
    st->ring_len = ring;
    if (weir__trace_load(&st->trace, r, sc->tcfg, &st->mem) == WEIR_ENOMEM)
        goto oom;
    if ((flags & SNAP_X) && !r->bad && load_x(sc, st, r, flags & SNAP_DATA) != 0)
        goto oom;
    if (r->bad)
        goto fail;
    *err = WEIR_OK;
    return st;
oom:
    if (!r->bad)
        *err = WEIR_ENOMEM;
fail:
    weir__stream_free(sc, st);
    return NULL;
}

/* ---- the public form ---------------------------------------------------------------- */

#define SNAP_MAGIC "WEIRSNAP"
#define SNAP_VERSION 1u
#define SNAP_HEADER 28 /* magic, version, rules fingerprint, checksum; then id, last use */

weir_status_t weir_stream_snapshot(weir_scanner_t *sc, const weir_id_t *id, void **buf, size_t *len)
{
    if (buf)
        *buf = NULL;
    if (len)
        *len = 0;
    if (!sc || !id || !buf || !len)
        return WEIR_EINVAL;
    weir__wbuf_t w = {0};
    weir__put(&w, SNAP_MAGIC, 8);
    weir__put_u32(&w, SNAP_VERSION);
    weir__put_u64(&w, sc->rules->fingerprint);
    weir__put_u64(&w, 0); /* the checksum, below */
    weir__put(&w, id->bytes, 16);
    weir__put_u64(&w, 0); /* last use */
    uint64_t last = 0;
    int rc = w.oom ? WEIR_ENOMEM : weir__stream_context(sc, id, &w, &last);
    if (rc == WEIR_OK && w.oom)
        rc = WEIR_ENOMEM;
    if (rc != WEIR_OK) {
        free(w.p);
        return (weir_status_t)rc;
    }
    weir__wbuf_t f = {w.p + SNAP_HEADER + 16, 0, 8, 0};
    weir__put_u64(&f, last);
    f = (weir__wbuf_t){w.p + 20, 0, 8, 0};
    weir__put_u64(&f, weir__fnv1a(w.p, w.n));
    *buf = w.p;
    *len = w.n;
    return WEIR_OK;
}

weir_status_t weir_stream_restore(weir_scanner_t *sc, const void *buf, size_t len, weir_id_t *id)
{
    if (!sc || (!buf && len))
        return WEIR_EINVAL;
    const uint8_t *p = buf;
    if (len < SNAP_HEADER + 24 || memcmp(p, SNAP_MAGIC, 8) != 0)
        return WEIR_EFORMAT;
    weir__rbuf_t h = {p, len, 8, 0};
    uint32_t version = weir__get_u32(&h);
    uint64_t rules = weir__get_u64(&h);
    uint64_t sum = weir__get_u64(&h);
    weir_id_t sid;
    memcpy(sid.bytes, weir__take(&h, 16), 16);
    uint64_t last = weir__get_u64(&h);
    /* The checksum is of the whole snapshot with its own field zero. */
    uint8_t *copy = malloc(len);
    if (!copy)
        return WEIR_ENOMEM;
    memcpy(copy, p, len);
    memset(copy + 20, 0, 8);
    uint64_t actual = weir__fnv1a(copy, len);
    free(copy);
    if (actual != sum)
        return WEIR_EFORMAT;
    if (version != SNAP_VERSION)
        return WEIR_EVERSION;
    if (rules != sc->rules->fingerprint)
        return WEIR_ERULES;
    weir_status_t rc = weir__stream_insert(sc, &sid, p + h.pos, len - h.pos, last, 0);
    if (rc == WEIR_OK && id)
        *id = sid;
    return rc;
}
