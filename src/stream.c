/*
 * stream.c - a stream's context: creating and freeing it, its extras (weir__sx_t) allocated
 * on first need, the history it keeps, and what its memory holds.
 */
#include "engine.h"
#include "scanner.h"

#include <stdlib.h>
#include <string.h>

weir__stream_t *weir__stream_new(weir_scanner_t *sc, const weir_id_t *id, int open_hs)
{
    const weir_rules_t *r = sc->rules;
    weir__stream_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->mem.bytes = sizeof *st;
    st->id = *id;
    if (r->db && open_hs) {
        if (weir__engine()->open_stream(r->db, 0, &st->hs) != HS_SUCCESS) {
            free(st);
            return NULL;
        }
        st->mem.bytes += sc->hs_size; /* Vectorscan allocates it; we count it */
    }
    return st;
}

weir__sx_t *weir__sx(weir_scanner_t *sc, weir__stream_t *st)
{
    if (st->x)
        return st->x;
    const weir_rules_t *r = sc->rules;
    weir__sx_t *x = weir__calloc(&st->mem, 1, sizeof *x);
    if (!x)
        return NULL;
    x->cur_slot = x->prev_slot = WEIR__NO_TRACE;
    x->lists = weir__calloc(&st->mem, r->nstrings ? r->nstrings : 1, sizeof *x->lists);
    x->rule_true = weir__calloc(&st->mem, r->nrules ? r->nrules : 1, 3);
    st->x = x;
    if (!x->lists || !x->rule_true)
        goto fail;
    x->fired = x->rule_true + r->nrules;
    x->is_dirty = x->fired + r->nrules;
    if (sc->opt.match_data &&
        !(x->drefs = weir__calloc(&st->mem, r->nstrings ? r->nstrings : 1, sizeof *x->drefs)))
        goto fail;
    if (r->head && !(x->head = weir__malloc(&st->mem, r->head)))
        goto fail;
    return x;
fail:
    weir__sx_free(sc, st);
    return NULL;
}

void weir__sx_free(weir_scanner_t *sc, weir__stream_t *st)
{
    weir__sx_t *x = st->x;
    if (!x)
        return;
    const weir_rules_t *r = sc->rules;
    for (uint32_t s = 0; x->lists && s < r->nstrings; s++) {
        weir__free(&st->mem, x->lists[s].v, x->lists[s].cap * sizeof(weir__match_t));
        if (x->drefs)
            weir__free(&st->mem, x->drefs[s], x->lists[s].cap * sizeof(uint64_t));
    }
    weir__free(&st->mem, x->lists, (r->nstrings ? r->nstrings : 1) * sizeof *x->lists);
    weir__free(&st->mem, x->drefs, (r->nstrings ? r->nstrings : 1) * sizeof *x->drefs);
    weir__free(&st->mem, x->arena, x->arena_cap);
    weir__free(&st->mem, x->pend, x->cap_pend * sizeof *x->pend);
    weir__free(&st->mem, x->head, r->head);
    weir__free(&st->mem, x->rule_true, (size_t)(r->nrules ? r->nrules : 1) * 3);
    weir__free(&st->mem, x->dirty, x->cap_dirty * sizeof *x->dirty);
    for (size_t i = 0; i < x->nslots; i++)
        if (x->slots[i])
            weir__free(&st->mem, x->slots[i], strlen(x->slots[i]) + 1);
    weir__free(&st->mem, x->slots, x->cap_slots * sizeof *x->slots);
    if (x->prev_trace)
        weir__free(&st->mem, x->prev_trace, strlen(x->prev_trace) + 1);
    for (size_t i = 0; i < x->nrecent; i++)
        weir__free(&st->mem, x->recent[i].trace, strlen(x->recent[i].trace) + 1);
    weir__free(&st->mem, x->recent, x->cap_recent * sizeof *x->recent);
    weir__stream_vars_free(st);
    weir__chains_free(r, st);
    weir__free(&st->mem, x, sizeof *x);
    st->x = NULL;
}

void weir__record_reset(weir_scanner_t *sc, weir__stream_t *st)
{
    st->base += st->bytes + 1; /* and the newline */
    st->bytes = 0;
    st->ring_len = 0;
    st->lines++;
    weir__sx_t *x = st->x;
    if (!x)
        return;
    /* The record's matches, pending work, rule states and trace ids go; the variables and
       the counters stay, and so do the arrays, reused by the next record. */
    const weir_rules_t *r = sc->rules;
    for (uint32_t s = 0; s < r->nstrings; s++) {
        if (!x->lists[s].cap)
            continue;
        weir__free(&st->mem, x->lists[s].v, x->lists[s].cap * sizeof(weir__match_t));
        if (x->drefs)
            weir__free(&st->mem, x->drefs[s], x->lists[s].cap * sizeof(uint64_t));
        memset(&x->lists[s], 0, sizeof x->lists[s]);
        if (x->drefs)
            x->drefs[s] = NULL;
    }
    weir__free(&st->mem, x->arena, x->arena_cap);
    x->arena = NULL;
    x->arena_len = x->arena_cap = 0;
    x->npend = 0;
    memset(x->rule_true, 0, (size_t)(r->nrules ? r->nrules : 1) * 3);
    x->ndirty = 0;
    for (size_t i = 0; i < x->nslots; i++)
        if (x->slots[i])
            weir__free(&st->mem, x->slots[i], strlen(x->slots[i]) + 1);
    x->nslots = 0;
    x->cur_slot = x->prev_slot = WEIR__NO_TRACE;
    if (x->prev_trace)
        weir__free(&st->mem, x->prev_trace, strlen(x->prev_trace) + 1);
    x->prev_trace = NULL;
    x->prev_line_start = 0;
    for (size_t i = 0; i < x->nrecent; i++)
        weir__free(&st->mem, x->recent[i].trace, strlen(x->recent[i].trace) + 1);
    x->nrecent = 0;
    x->too_many = 0;
    weir__chains_free(r, st);
    x->head_len = 0;
}

void weir__stream_free(weir_scanner_t *sc, weir__stream_t *st)
{
    if (!st)
        return;
    if (st->hs)
        weir__engine()->close_stream(st->hs, NULL, NULL, NULL);
    weir__sx_free(sc, st);
    if (st->ring_cap)
        weir__free(&st->mem, st->ring.p, st->ring_cap);
    weir__trace_free(&st->trace, &sc->tpool, &st->mem);
    free(st);
}

/*
 * The oldest offset whose byte a match still to be decided can read.  A match that cannot
 * hold a '\n' lies within one line, so matches still to come start on the current line (and
 * read at most two bytes before it: fullword, \b); a match that can span lines may start up
 * to rules->cross bytes back; a pending report or start reads back from its own offset.
 */
static uint64_t history_from(const weir_scanner_t *sc, const weir__stream_t *st)
{
    const weir_rules_t *r = sc->rules;
    uint64_t end = st->bytes;
    uint64_t from = end > r->cross ? end - r->cross : 0;
    uint64_t start = weir__line_start(sc, st);
    uint64_t line = start > 4 ? start - 4 : 0;
    if (line < from)
        from = line;
    for (size_t i = 0; st->x && i < st->x->npend; i++) {
        const weir__pend_t *pd = &st->x->pend[i];
        uint64_t back = pd->type == WEIR__P_REPORT
                            ? (uint64_t)r->strings[r->variants[pd->variant].string].max_len + 4
                            : 4;
        uint64_t at = pd->pos > back ? pd->pos - back : 0;
        if (at < from)
            from = at;
    }
    uint64_t most = end > r->history ? end - r->history : 0;
    return from > most ? from : most;
}

/* Moves st's history to a place for cap bytes (cap <= WEIR__RING_IN: in place), keeping its
   first `keep` bytes.  0, or -1 out of memory (nothing changed). */
static int ring_move(weir__stream_t *st, size_t cap, size_t keep)
{
    uint8_t *old = weir__ring(st);
    if (cap <= WEIR__RING_IN) {
        if (!st->ring_cap)
            return 0;
        uint8_t tmp[WEIR__RING_IN];
        memcpy(tmp, old, keep);
        weir__free(&st->mem, st->ring.p, st->ring_cap);
        memcpy(st->ring.in, tmp, keep);
        st->ring_cap = 0;
        return 0;
    }
    uint8_t *p = weir__malloc(&st->mem, cap);
    if (!p)
        return -1;
    memcpy(p, old, keep);
    if (st->ring_cap)
        weir__free(&st->mem, st->ring.p, st->ring_cap);
    st->ring.p = p;
    st->ring_cap = (uint32_t)cap;
    return 0;
}

int weir__history_update(const weir_scanner_t *sc, weir__stream_t *st, const uint8_t *p, size_t n)
{
    const weir_rules_t *r = sc->rules;
    if (!r->history)
        return 0;
    uint64_t end = st->bytes, chunk_abs = end - n;
    uint64_t oldest = chunk_abs - st->ring_len;
    uint64_t from = history_from(sc, st);
    if (from < oldest)
        from = oldest;
    size_t keep = (size_t)(end - from);
    size_t cap = st->ring_cap ? st->ring_cap : WEIR__RING_IN;
    /* The old bytes kept go to the front, then the new ones follow. */
    size_t old_kept = from < chunk_abs ? (size_t)(chunk_abs - from) : 0;
    uint8_t *ring = weir__ring(st);
    memmove(ring, ring + (st->ring_len - old_kept), old_kept);
    if (keep > cap) {
        size_t ncap = cap * 2 > keep ? cap * 2 : keep;
        if (ncap > r->history)
            ncap = r->history;
        if (ring_move(st, ncap, old_kept) != 0)
            return -1;
    } else if (st->ring_cap > 64 && keep < st->ring_cap / 4) {
        /* Give back what an idle stream does not need (most streams, most of the time). */
        size_t ncap = keep * 2 > WEIR__RING_IN ? keep * 2 : WEIR__RING_IN;
        if (ring_move(st, ncap, old_kept) != 0)
            return -1;
    } else if (st->ring_cap && keep <= WEIR__RING_IN && ring_move(st, WEIR__RING_IN, old_kept)) {
        return -1;
    }
    ring = weir__ring(st);
    if (keep > old_kept) /* (p may be NULL when n is 0) */
        memcpy(ring + old_kept, p + (n - (keep - old_kept)), keep - old_kept);
    st->ring_len = (uint32_t)keep;
    return 0;
}

void weir__stream_memory(const weir_scanner_t *sc, const weir__stream_t *st,
                         weir_memory_parts_t *out)
{
    const weir_rules_t *r = sc->rules;
    memset(out, 0, sizeof *out);
    out->context = sizeof *st;
    out->vectorscan = st->hs ? sc->hs_size : 0;
    out->history = st->ring_cap;
    const weir__sx_t *x = st->x;
    if (x) {
        size_t ns = r->nstrings ? r->nstrings : 1;
        out->context += sizeof *x;
        out->matches =
            ns * sizeof *x->lists + x->arena_cap + (x->drefs ? ns * sizeof *x->drefs : 0);
        for (uint32_t s = 0; s < r->nstrings; s++)
            out->matches +=
                x->lists[s].cap * (sizeof(weir__match_t) + (x->drefs ? sizeof(uint64_t) : 0));
        if (x->chains) {
            out->matches += r->ngaps * sizeof *x->chains;
            for (uint32_t g = 0; g < r->ngaps; g++)
                out->matches += x->chains[g].cap * sizeof *x->chains[g].v;
        }
        out->trace_ids = x->cap_slots * sizeof *x->slots + x->cap_recent * sizeof *x->recent;
        for (size_t i = 0; i < x->nslots; i++)
            out->trace_ids += x->slots[i] ? strlen(x->slots[i]) + 1 : 0;
        for (size_t i = 0; i < x->nrecent; i++)
            out->trace_ids += strlen(x->recent[i].trace) + 1;
        if (x->prev_trace)
            out->trace_ids += strlen(x->prev_trace) + 1;
    }
    size_t known = out->context + out->vectorscan + out->history + out->matches + out->trace_ids;
    out->other = st->mem.bytes > known ? st->mem.bytes - known : 0;
}
