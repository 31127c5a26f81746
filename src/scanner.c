/*
 * scanner.c - the multi-stream scanner: the stream table, feeding chunks line
 * by line through Vectorscan, line ends (trace ids, live evaluation), the
 * history ring, and closing streams.
 */
#include "scanner.h"
#include "engine.h"

#include <stdlib.h>
#include <string.h>

/* ---- streams ------------------------------------------------------------ */

static void stream_free(weir_scanner_t *sc, weir__stream_t *st)
{
    if (!st)
        return;
    const weir_rules_t *r = sc->rules;
    if (st->hs)
        weir__engine()->close_stream(st->hs, NULL, NULL, NULL);
    for (uint32_t s = 0; st->lists && s < r->nstrings; s++) {
        weir__free(&st->mem, st->lists[s].v, st->lists[s].cap * sizeof(weir__match_t));
        if (st->drefs)
            weir__free(&st->mem, st->drefs[s], st->lists[s].cap * sizeof(uint64_t));
    }
    weir__free(&st->mem, st->lists, r->nstrings * sizeof *st->lists);
    weir__free(&st->mem, st->drefs, r->nstrings * sizeof *st->drefs);
    weir__free(&st->mem, st->arena, st->arena_cap);
    weir__free(&st->mem, st->ring, r->history);
    weir__free(&st->mem, st->pend, st->cap_pend * sizeof *st->pend);
    weir__free(&st->mem, st->head, r->head);
    weir__free(&st->mem, st->rule_true, (size_t)r->nrules * 3);
    weir__free(&st->mem, st->dirty, st->cap_dirty * sizeof *st->dirty);
    weir__trace_free(&st->trace, &st->mem);
    for (size_t i = 0; i < st->nslots; i++)
        if (st->slots[i])
            weir__free(&st->mem, st->slots[i], strlen(st->slots[i]) + 1);
    weir__free(&st->mem, st->slots, st->cap_slots * sizeof *st->slots);
    if (st->prev_trace)
        weir__free(&st->mem, st->prev_trace, WEIR__TRACE_MAX + 1);
    for (size_t i = 0; i < st->nrecent; i++)
        weir__free(&st->mem, st->recent[i].trace, strlen(st->recent[i].trace) + 1);
    weir__free(&st->mem, st->recent, st->cap_recent * sizeof *st->recent);
    weir__stream_vars_free(st);
    weir__chains_free(r, st);
    free(st);
}

static weir__stream_t *stream_new(weir_scanner_t *sc, const weir_id_t *id)
{
    const weir_rules_t *r = sc->rules;
    weir__stream_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->mem.bytes = sizeof *st;
    st->id = *id;
    st->cur_slot = st->prev_slot = WEIR__NO_TRACE;
    st->lists = weir__calloc(&st->mem, r->nstrings ? r->nstrings : 1, sizeof *st->lists);
    st->rule_true = weir__calloc(&st->mem, r->nrules ? r->nrules : 1, 3);
    if (!st->lists || !st->rule_true)
        goto fail;
    st->fired = st->rule_true + r->nrules;
    st->is_dirty = st->fired + r->nrules;
    if (sc->opt.match_data &&
        !(st->drefs = weir__calloc(&st->mem, r->nstrings ? r->nstrings : 1, sizeof *st->drefs)))
        goto fail;
    if (r->history && !(st->ring = weir__malloc(&st->mem, r->history)))
        goto fail;
    if (r->head && !(st->head = weir__malloc(&st->mem, r->head)))
        goto fail;
    if (r->db) {
        if (weir__engine()->open_stream(r->db, 0, &st->hs) != HS_SUCCESS)
            goto fail;
        size_t hs_size = 0;
        if (hs_stream_size(r->db, &hs_size) == HS_SUCCESS)
            st->mem.bytes += hs_size; /* Vectorscan allocates it; we count it */
    }
    return st;
fail:
    stream_free(sc, st);
    return NULL;
}

/* Remembers the last bytes of a chunk in the history ring. */
static void ring_append(const weir_rules_t *r, weir__stream_t *st, const uint8_t *p, size_t n)
{
    uint32_t cap = r->history;
    if (!cap || !n)
        return;
    if (n > cap) {
        p += n - cap;
        n = cap;
    }
    /* At most two copies: up to the end of the ring, then from its start. */
    size_t first = cap - st->ring_head < n ? cap - st->ring_head : n;
    memcpy(st->ring + st->ring_head, p, first);
    memcpy(st->ring, p + first, n - first);
    st->ring_head = (uint32_t)((st->ring_head + n) % cap);
    st->ring_len = (uint32_t)(st->ring_len + n > cap ? cap : st->ring_len + n);
}

static int new_slot(weir__stream_t *st, uint32_t *slot)
{
    if (st->nslots >= WEIR__NO_TRACE ||
        WEIR__GROW(&st->mem, st->slots, st->cap_slots, st->nslots + 1) != 0)
        return -1;
    st->slots[st->nslots] = NULL;
    *slot = (uint32_t)st->nslots++;
    return 0;
}

static char *copy_trace(weir__stream_t *st, const char *t)
{
    size_t n = strlen(t) + 1;
    char *p = weir__malloc(&st->mem, n);
    if (p)
        memcpy(p, t, n);
    return p;
}

/*
 * The trace slot for a match ending at end: the line holding its last byte,
 * when that is the current or the previous line (older lines' trace ids are
 * not kept).  The current line's id is filled in when the line ends.
 */
int weir__stream_slot_for(weir__scan_t *c, uint64_t end, uint32_t *slot)
{
    weir__stream_t *st = c->st;
    uint64_t last = end ? end - 1 : 0;
    *slot = WEIR__NO_TRACE;
    if (last >= st->line_start) {
        if (st->cur_slot == WEIR__NO_TRACE && new_slot(st, &st->cur_slot) != 0)
            goto oom;
        *slot = st->cur_slot;
    } else if (last >= st->prev_line_start && st->has_prev_trace) {
        if (st->prev_slot == WEIR__NO_TRACE) {
            if (new_slot(st, &st->prev_slot) != 0)
                goto oom;
            if (!(st->slots[st->prev_slot] = copy_trace(st, st->prev_trace)))
                goto oom;
        }
        *slot = st->prev_slot;
    } else {
        for (size_t i = st->nrecent; i-- > 0;) {
            struct weir__line *l = &st->recent[i];
            if (last < l->start || last >= l->end)
                continue;
            if (l->slot == WEIR__NO_TRACE) {
                if (new_slot(st, &l->slot) != 0)
                    goto oom;
                if (!(st->slots[l->slot] = copy_trace(st, l->trace)))
                    goto oom;
            }
            *slot = l->slot;
            break;
        }
    }
    return 0;
oom:
    c->err = WEIR_ENOMEM;
    return -1;
}

/*
 * Keeps the trace ids of lines that still hold undecided matches (a variable
 * length match is decided up to YARA's 4 KiB limit later), and forgets those
 * no pending start can reach any more.
 */
static void remember_line(weir__scan_t *c, const char *t)
{
    weir__stream_t *st = c->st;
    uint64_t oldest = UINT64_MAX;
    for (size_t i = 0; i < st->npend; i++)
        if (st->pend[i].pos < oldest)
            oldest = st->pend[i].pos;
    size_t kept = 0;
    for (size_t i = 0; i < st->nrecent; i++) {
        if (st->recent[i].end <= oldest) {
            weir__free(&st->mem, st->recent[i].trace, strlen(st->recent[i].trace) + 1);
            continue;
        }
        st->recent[kept++] = st->recent[i];
    }
    st->nrecent = kept;
    if (!t || !st->npend || oldest >= st->bytes)
        return;
    if (WEIR__GROW(&st->mem, st->recent, st->cap_recent, st->nrecent + 1) != 0) {
        c->err = WEIR_ENOMEM;
        return;
    }
    struct weir__line *l = &st->recent[st->nrecent];
    l->start = st->line_start;
    l->end = st->bytes;
    l->slot = st->cur_slot;
    if (!(l->trace = copy_trace(st, t))) {
        c->err = WEIR_ENOMEM;
        return;
    }
    st->nrecent++;
}

/* The current line ended at c->st->bytes: settle its trace id. */
static void line_end(weir__scan_t *c)
{
    weir__stream_t *st = c->st;
    const char *t = weir__trace_end_line(&st->trace);
    remember_line(c, t);
    if (st->cur_slot != WEIR__NO_TRACE && t && !(st->slots[st->cur_slot] = copy_trace(st, t)))
        c->err = WEIR_ENOMEM;
    /* One buffer per stream, reused line after line. */
    st->has_prev_trace = 0;
    if (t) {
        if (!st->prev_trace && !(st->prev_trace = weir__malloc(&st->mem, WEIR__TRACE_MAX + 1))) {
            c->err = WEIR_ENOMEM;
        } else {
            strcpy(st->prev_trace, t);
            st->has_prev_trace = 1;
        }
    }
    st->prev_slot = st->cur_slot;
    st->cur_slot = WEIR__NO_TRACE;
    st->prev_line_start = st->line_start;
    st->line_start = st->bytes;
}

/* ---- scanner ------------------------------------------------------------ */

weir_status_t weir_scanner_new(const weir_rules_t *rules, const weir_scanner_options_t *options,
                               weir_scanner_t **out)
{
    if (out)
        *out = NULL;
    if (!rules || !out)
        return WEIR_EINVAL;
    if (options && options->match_data > WEIR_MAX_MATCH_DATA)
        return WEIR_EINVAL;
    weir_scanner_t *sc = calloc(1, sizeof *sc);
    if (!sc)
        return WEIR_ENOMEM;
    sc->rules = rules;
    if (options)
        sc->opt = *options;
    if (!sc->opt.max_line)
        sc->opt.max_line = WEIR_DEFAULT_MAX_LINE;
    if (rules->db && hs_alloc_scratch(rules->db, &sc->scratch) != HS_SUCCESS) {
        free(sc);
        return WEIR_EENGINE;
    }
    /* Global rules per namespace, as a CSR table. */
    sc->glob_at = calloc(rules->nns + 1, sizeof *sc->glob_at);
    sc->globs = calloc(rules->nrules ? rules->nrules : 1, sizeof *sc->globs);
    if (!sc->glob_at || !sc->globs || weir__vars_init(sc) != 0) {
        weir_scanner_free(sc);
        return WEIR_ENOMEM;
    }
    uint32_t k = 0;
    for (uint32_t ns = 0; ns < rules->nns; ns++) {
        sc->glob_at[ns] = k;
        for (uint32_t r = 0; r < rules->nrules; r++)
            if (rules->rules[r].is_global && rules->rules[r].ns_index == ns)
                sc->globs[k++] = r;
    }
    sc->glob_at[rules->nns] = k;
    *out = sc;
    return WEIR_OK;
}

void weir_scanner_free(weir_scanner_t *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->table.cap; i++)
        if (WEIR__TABLE_LIVE(&sc->table, i))
            stream_free(sc, sc->table.slots[i].value);
    weir__table_free(&sc->table);
    if (sc->scratch)
        hs_free_scratch(sc->scratch);
    weir__re_memo_free(sc->memo);
    free(sc->win);
    free(sc->reps);
    free(sc->tids);
    free(sc->res);
    free(sc->glob_at);
    free(sc->globs);
    weir__vars_free(sc);
    free(sc);
}

void weir_scanner_set_callback(weir_scanner_t *sc, weir_match_cb cb, void *user)
{
    if (!sc)
        return;
    sc->cb = cb;
    sc->user = user;
}

/* Collects Vectorscan's reports; they are processed line by line after. */
static int on_collect(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                      void *ctx)
{
    (void)from;
    (void)flags;
    weir__scan_t *c = ctx;
    weir_scanner_t *sc = c->sc;
    if (WEIR__GROW(NULL, sc->reps, sc->cap_reps, sc->nreps + 1) != 0) {
        c->err = WEIR_ENOMEM;
        return 1;
    }
    sc->reps[sc->nreps].to = to;
    sc->reps[sc->nreps].id = id;
    sc->reps[sc->nreps].seq = (uint32_t)sc->nreps;
    sc->nreps++;
    return 0;
}

static int cmp_report(const void *a, const void *b)
{
    const struct weir__report *x = a, *y = b;
    if (x->to != y->to)
        return x->to < y->to ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Scans data[from, to) of the chunk with one Vectorscan call, then walks its
 * lines: reports up to each line end are processed with the bytes up to that
 * line end only, then the line ends (trace id, live evaluation).  Cutting a
 * piece inside a line is like a chunk boundary: nothing depends on it.
 */
static void scan_piece(weir__scan_t *c, size_t from, size_t to)
{
    weir__stream_t *st = c->st;
    weir_scanner_t *sc = c->sc;
    const uint8_t *data = c->chunk;
    sc->nreps = 0;
    if (st->hs) {
        hs_error_t rc =
            weir__engine()->scan_stream(st->hs, (const char *)data + from, (unsigned)(to - from), 0,
                                        sc->scratch, on_collect, c);
        if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED && c->err == WEIR_OK)
            c->err = WEIR_EENGINE;
    }
    for (size_t i = 1; i < sc->nreps; i++) {
        if (sc->reps[i].to < sc->reps[i - 1].to) {
            qsort(sc->reps, sc->nreps, sizeof *sc->reps, cmp_report);
            break;
        }
    }
    size_t ri = 0;
    for (size_t q = from; q < to && c->err == WEIR_OK;) {
        const uint8_t *nl = memchr(data + q, '\n', to - q);
        size_t end = nl ? (size_t)(nl - data) + 1 : to;
        size_t text = nl ? end - 1 : end;
        if (weir__trace_feed(&st->trace, &st->mem, data + q, text - q, sc->opt.max_line) != 0) {
            c->err = WEIR_ENOMEM;
            return;
        }
        c->wend = c->chunk_abs + end;
        while (ri < sc->nreps && sc->reps[ri].to <= c->wend && c->err == WEIR_OK) {
            weir__on_report(sc->reps[ri].id, 0, sc->reps[ri].to, 0, c);
            ri++;
        }
        st->bytes = c->wend;
        c->line_end = nl != NULL;
        weir__settle(c);
        c->line_end = 0;
        if (nl) {
            st->lines++;
            line_end(c);
            weir__eval_live(c);
        }
        q = end;
    }
}

weir__stream_t *weir__stream_open(weir_scanner_t *sc, const weir_id_t *id)
{
    weir__stream_t *st = weir__table_get(&sc->table, id);
    if (!st) {
        if (!(st = stream_new(sc, id)))
            return NULL;
        if (weir__table_put(&sc->table, id, st) != 0) {
            stream_free(sc, st);
            return NULL;
        }
    }
    return st;
}

static weir_status_t scan(weir_scanner_t *sc, const weir_id_t *id, const uint8_t *data, size_t len)
{
    weir__stream_t *st = weir__stream_open(sc, id);
    if (!st)
        return WEIR_ENOMEM;
    weir__scan_t c;
    memset(&c, 0, sizeof c);
    c.sc = sc;
    c.st = st;
    c.chunk = data;
    c.chunk_abs = st->bytes;
    c.emit = 1;
    /* Integer reads see the stream's first bytes (only up to the evaluation point: eval.c). */
    if (st->head_len < sc->rules->head && st->bytes == st->head_len) {
        size_t n = sc->rules->head - st->head_len;
        if (n > len)
            n = len;
        memcpy(st->head + st->head_len, data, n);
        st->head_len += (uint32_t)n;
    }
    /* Pieces bound the reports held at once. */
    const size_t piece = 65536;
    size_t pos = 0;
    while (pos < len && c.err == WEIR_OK) {
        size_t n = len - pos < piece ? len - pos : piece;
        scan_piece(&c, pos, pos + n);
        pos += n;
    }
    ring_append(sc->rules, st, data, pos);
    if (c.err != WEIR_OK)
        return c.err;
    return c.stopped ? WEIR_ESTOPPED : WEIR_OK;
}

weir_status_t weir_scan_chunk(weir_scanner_t *sc, const weir_id_t *id, const void *data, size_t len)
{
    if (!sc || !id || (!data && len))
        return WEIR_EINVAL;
    return scan(sc, id, data, len);
}

weir_status_t weir_scan_line(weir_scanner_t *sc, const weir_id_t *id, const void *line, size_t len)
{
    if (!sc || !id || (!line && len) || (len && memchr(line, '\n', len)))
        return WEIR_EINVAL;
    weir_status_t st = len ? scan(sc, id, line, len) : WEIR_OK;
    if (st != WEIR_OK && st != WEIR_ESTOPPED)
        return st;
    weir_status_t st2 = scan(sc, id, (const uint8_t *)"\n", 1);
    return st2 != WEIR_OK ? st2 : st;
}

/* Ends st's data: Vectorscan's end-of-data matches, everything pending, the
   last line's trace id. */
static void finish(weir__scan_t *c)
{
    weir__stream_t *st = c->st;
    c->chunk = NULL;
    c->chunk_abs = st->bytes;
    c->wend = st->bytes;
    c->at_end = 1;
    if (st->hs) {
        hs_error_t rc = weir__engine()->close_stream(st->hs, c->sc->scratch, weir__on_report, c);
        st->hs = NULL;
        if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED && c->err == WEIR_OK)
            c->err = WEIR_EENGINE;
    }
    weir__settle(c);
    if (st->bytes > st->line_start) {
        const char *t = weir__trace_end_line(&st->trace);
        if (st->cur_slot != WEIR__NO_TRACE && t && !(st->slots[st->cur_slot] = copy_trace(st, t)))
            c->err = WEIR_ENOMEM;
    }
}

/* A deep copy of st, so that results can be taken "as if the stream ended"
   without ending it. */
static weir__stream_t *stream_clone(weir_scanner_t *sc, const weir__stream_t *src)
{
    const weir_rules_t *r = sc->rules;
    weir__stream_t *st = stream_new(sc, &src->id);
    if (!st)
        return NULL;
    if (st->hs) {
        weir__engine()->close_stream(st->hs, NULL, NULL, NULL);
        st->hs = NULL;
        if (src->hs && weir__engine()->copy_stream(&st->hs, src->hs) != HS_SUCCESS)
            goto fail;
    }
    st->bytes = src->bytes;
    st->lines = src->lines;
    st->string_matches = src->string_matches;
    st->rules_fired = src->rules_fired;
    if (r->history)
        memcpy(st->ring, src->ring, r->history);
    if (r->head)
        memcpy(st->head, src->head, src->head_len);
    st->head_len = src->head_len;
    st->ring_len = src->ring_len;
    st->ring_head = src->ring_head;
    for (uint32_t s = 0; s < r->nstrings; s++) {
        const weir__mlist_t *l = &src->lists[s];
        if (!l->n)
            continue;
        st->lists[s].v = weir__memdup(l->v, l->n * sizeof *l->v);
        st->lists[s].n = st->lists[s].cap = l->n;
        if (!st->lists[s].v)
            goto fail;
        if (src->drefs && src->drefs[s] &&
            !(st->drefs[s] = weir__memdup(src->drefs[s], l->n * sizeof(uint64_t))))
            goto fail;
    }
    if (src->arena_len) {
        if (!(st->arena = weir__memdup(src->arena, src->arena_len)))
            goto fail;
        st->arena_len = st->arena_cap = src->arena_len;
    }
    if (src->npend) {
        if (!(st->pend = weir__memdup(src->pend, src->npend * sizeof *src->pend)))
            goto fail;
        st->npend = st->cap_pend = src->npend;
    }
    memcpy(st->rule_true, src->rule_true, (size_t)r->nrules * 3);
    if (weir__trace_copy(&st->trace, &src->trace, &st->mem) != 0)
        goto fail;
    if (src->nslots) {
        if (!(st->slots = calloc(src->nslots, sizeof *st->slots)))
            goto fail;
        st->cap_slots = st->nslots = src->nslots;
        for (size_t i = 0; i < src->nslots; i++)
            if (src->slots[i] && !(st->slots[i] = weir__strdup(src->slots[i])))
                goto fail;
    }
    st->cur_slot = src->cur_slot;
    st->prev_slot = src->prev_slot;
    if (src->prev_trace) {
        if (!(st->prev_trace = weir__malloc(&st->mem, WEIR__TRACE_MAX + 1)))
            goto fail;
        memcpy(st->prev_trace, src->prev_trace, WEIR__TRACE_MAX + 1);
    }
    st->has_prev_trace = src->has_prev_trace;
    st->line_start = src->line_start;
    st->prev_line_start = src->prev_line_start;
    if (src->nrecent) {
        if (!(st->recent = calloc(src->nrecent, sizeof *st->recent)))
            goto fail;
        st->cap_recent = src->nrecent;
        for (size_t i = 0; i < src->nrecent; i++) {
            st->recent[i] = src->recent[i];
            if (!(st->recent[i].trace = weir__strdup(src->recent[i].trace)))
                goto fail;
            st->nrecent++;
        }
    }
    if (weir__stream_vars_copy(st, src) != 0 || weir__chains_copy(r, st, src) != 0)
        goto fail;
    return st;
fail:
    stream_free(sc, st);
    return NULL;
}

weir_status_t weir_stream_results(weir_scanner_t *sc, const weir_id_t *id, weir_result_cb cb,
                                  void *user)
{
    if (!sc || !id || !cb)
        return WEIR_EINVAL;
    weir__stream_t *src = weir__table_get(&sc->table, id);
    if (!src)
        return WEIR_ENOTFOUND;
    weir__stream_t *st = stream_clone(sc, src);
    if (!st)
        return WEIR_ENOMEM;
    weir__scan_t c;
    memset(&c, 0, sizeof c);
    c.sc = sc;
    c.st = st;
    finish(&c);
    weir_status_t rc = c.err != WEIR_OK ? c.err : weir__eval_final(&c, cb, user);
    stream_free(sc, st);
    return rc;
}

weir_status_t weir_stream_close(weir_scanner_t *sc, const weir_id_t *id, weir_result_cb cb,
                                void *user)
{
    if (!sc || !id)
        return WEIR_EINVAL;
    weir__stream_t *st = weir__table_del(&sc->table, id);
    if (!st)
        return WEIR_ENOTFOUND;
    weir__scan_t c;
    memset(&c, 0, sizeof c);
    c.sc = sc;
    c.st = st;
    c.emit = 1;
    finish(&c);
    weir_status_t rc = c.err != WEIR_OK ? c.err : weir__eval_final(&c, cb, user);
    stream_free(sc, st);
    return rc;
}

weir_status_t weir_stream_reset(weir_scanner_t *sc, const weir_id_t *id)
{
    if (!sc || !id)
        return WEIR_EINVAL;
    weir__stream_t *st = weir__table_del(&sc->table, id);
    if (!st)
        return WEIR_ENOTFOUND;
    stream_free(sc, st);
    return WEIR_OK;
}

weir_status_t weir_stream_stats(const weir_scanner_t *sc, const weir_id_t *id,
                                weir_stream_stats_t *out)
{
    if (!sc || !id || !out)
        return WEIR_EINVAL;
    const weir__stream_t *st = weir__table_get(&sc->table, id);
    if (!st)
        return WEIR_ENOTFOUND;
    out->bytes = st->bytes;
    out->lines = st->lines;
    out->string_matches = st->string_matches;
    out->rules_fired = st->rules_fired;
    out->memory = st->mem.bytes;
    return WEIR_OK;
}

size_t weir_scanner_stream_count(const weir_scanner_t *sc)
{
    return sc ? sc->table.count : 0;
}

weir_status_t weir_scanner_streams(const weir_scanner_t *sc, weir_id_t *ids, size_t cap, size_t *n)
{
    if (!sc || !n || (!ids && cap))
        return WEIR_EINVAL;
    size_t k = 0;
    for (size_t i = 0; i < sc->table.cap; i++) {
        if (!WEIR__TABLE_LIVE(&sc->table, i))
            continue;
        if (k < cap)
            ids[k] = sc->table.slots[i].id;
        k++;
    }
    *n = k;
    return WEIR_OK;
}

size_t weir_memory_usage(const weir_scanner_t *sc)
{
    if (!sc)
        return 0;
    size_t total = sc->table.mem.bytes;
    for (size_t i = 0; i < sc->table.cap; i++)
        if (WEIR__TABLE_LIVE(&sc->table, i))
            total += ((const weir__stream_t *)sc->table.slots[i].value)->mem.bytes;
    return total;
}
