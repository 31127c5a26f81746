/*
 * scanner.c - the multi-stream scanner: the stream table, feeding chunks line
 * by line through Vectorscan, line ends (trace ids, live evaluation), the
 * history ring, and closing streams.
 */
#include "scanner.h"
#include "engine.h"
#include "spill.h"

#include <stdlib.h>
#include <string.h>

/* ---- trace ids of lines --------------------------------------------------- */

static int new_slot(weir__stream_t *st, uint32_t *slot)
{
    if (st->x->nslots >= WEIR__NO_TRACE ||
        WEIR__GROW(&st->mem, st->x->slots, st->x->cap_slots, st->x->nslots + 1) != 0)
        return -1;
    st->x->slots[st->x->nslots] = NULL;
    *slot = (uint32_t)st->x->nslots++;
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
    if (last >= weir__line_start(c->sc, st)) {
        if (st->x->cur_slot == WEIR__NO_TRACE && new_slot(st, &st->x->cur_slot) != 0)
            goto oom;
        *slot = st->x->cur_slot;
    } else if (last >= st->x->prev_line_start && st->x->prev_trace) {
        if (st->x->prev_slot == WEIR__NO_TRACE) {
            if (new_slot(st, &st->x->prev_slot) != 0)
                goto oom;
            if (!(st->x->slots[st->x->prev_slot] = copy_trace(st, st->x->prev_trace)))
                goto oom;
        }
        *slot = st->x->prev_slot;
    } else {
        for (size_t i = st->x->nrecent; i-- > 0;) {
            struct weir__line *l = &st->x->recent[i];
            if (last < l->start || last >= l->end)
                continue;
            if (l->slot == WEIR__NO_TRACE) {
                if (new_slot(st, &l->slot) != 0)
                    goto oom;
                if (!(st->x->slots[l->slot] = copy_trace(st, l->trace)))
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
    for (size_t i = 0; i < st->x->npend; i++)
        if (st->x->pend[i].pos < oldest)
            oldest = st->x->pend[i].pos;
    size_t kept = 0;
    for (size_t i = 0; i < st->x->nrecent; i++) {
        if (st->x->recent[i].end <= oldest) {
            weir__free(&st->mem, st->x->recent[i].trace, strlen(st->x->recent[i].trace) + 1);
            continue;
        }
        st->x->recent[kept++] = st->x->recent[i];
    }
    st->x->nrecent = kept;
    if (!t || !st->x->npend || oldest >= st->bytes)
        return;
    if (WEIR__GROW(&st->mem, st->x->recent, st->x->cap_recent, st->x->nrecent + 1) != 0) {
        c->err = WEIR_ENOMEM;
        return;
    }
    struct weir__line *l = &st->x->recent[st->x->nrecent];
    l->start = st->line_start;
    l->end = st->bytes;
    l->slot = st->x->cur_slot;
    if (!(l->trace = copy_trace(st, t))) {
        c->err = WEIR_ENOMEM;
        return;
    }
    st->x->nrecent++;
}

/* The current line ended: its trace id (NULL: none; valid until the next trace call), given
   to the matches on it (the current slot). */
static const char *end_line_trace(weir__scan_t *c)
{
    weir__stream_t *st = c->st;
    const char *t = weir__trace_end_line(&st->trace, c->sc->tcfg, &c->sc->tpool, &st->mem);
    weir__sx_t *x = st->x;
    if (x && x->cur_slot != WEIR__NO_TRACE && t && !(x->slots[x->cur_slot] = copy_trace(st, t)))
        c->err = WEIR_ENOMEM;
    return t;
}

/* The current line ended at c->st->bytes: settle its trace id. */
static void line_end(weir__scan_t *c)
{
    weir__stream_t *st = c->st;
    const char *t = end_line_trace(c);
    weir__sx_t *x = st->x;
    if (x) {
        remember_line(c, t);
        /* A match can end on this line later only while something is pending at its end. */
        if (x->prev_trace) {
            weir__free(&st->mem, x->prev_trace, strlen(x->prev_trace) + 1);
            x->prev_trace = NULL;
        }
        if (t && x->npend && !(x->prev_trace = copy_trace(st, t)))
            c->err = WEIR_ENOMEM;
        x->prev_slot = x->cur_slot;
        x->cur_slot = WEIR__NO_TRACE;
        x->prev_line_start = st->line_start;
    }
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
    sc->table.key = weir__stream_key;
    if (options)
        sc->opt = *options;
    if (!sc->opt.max_line)
        sc->opt.max_line = WEIR_DEFAULT_MAX_LINE;
    if (!sc->opt.max_matches || sc->opt.max_matches > WEIR_MAX_STRING_MATCHES)
        sc->opt.max_matches = WEIR_MAX_STRING_MATCHES;
    if (!sc->opt.max_eval_steps)
        sc->opt.max_eval_steps = WEIR_DEFAULT_MAX_EVAL_STEPS;
    if (!sc->opt.max_streams)
        sc->opt.max_streams = WEIR_DEFAULT_MAX_STREAMS;
    if (rules->db && (hs_alloc_scratch(rules->db, &sc->scratch) != HS_SUCCESS ||
                      hs_stream_size(rules->db, &sc->hs_size) != HS_SUCCESS)) {
        if (sc->scratch)
            hs_free_scratch(sc->scratch);
        free(sc);
        return WEIR_EENGINE;
    }
    char msg[256];
    int trc = weir__trace_cfg_new(sc->opt.trace_mode, sc->opt.trace_arg, sc->opt.max_line,
                                  &sc->tcfg, msg, sizeof msg);
    if (trc != 0) {
        weir_scanner_free(sc);
        return trc == -1 ? WEIR_EINVAL : WEIR_ENOMEM;
    }
    sc->opt.trace_arg = NULL; /* the configuration keeps its own copy */
    if (sc->opt.spill_dir) {
        weir_status_t st = weir__spill_open(sc->opt.spill_dir, &sc->spill);
        if (st != WEIR_OK) {
            weir_scanner_free(sc);
            return st;
        }
        sc->opt.spill_dir = NULL;
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
    weir__streams_free(sc);
    weir__spill_close(sc->spill);
    weir__trace_pool_free(&sc->tpool);
    weir__trace_cfg_free(sc->tcfg);
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

void weir_scanner_set_limit_callback(weir_scanner_t *sc, weir_limit_cb cb, void *user)
{
    if (!sc)
        return;
    sc->limit_cb = cb;
    sc->limit_user = user;
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
        if (weir__trace_feed(&st->trace, sc->tcfg, &sc->tpool, &st->mem, data + q, text - q) != 0) {
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

/* Integer reads see the stream's (record's) first bytes: keeps those of data[0, n), which
   start at c->st->bytes. */
static void keep_head(weir__scan_t *c, const uint8_t *data, size_t n)
{
    weir__stream_t *st = c->st;
    const weir_rules_t *r = c->sc->rules;
    if (!r->head || st->bytes >= r->head || !n)
        return;
    if (!weir__sx(c->sc, st)) {
        c->err = WEIR_ENOMEM;
        return;
    }
    if (st->x->head_len != st->bytes)
        return;
    size_t k = r->head - st->x->head_len;
    if (k > n)
        k = n;
    memcpy(st->x->head + st->x->head_len, data, k);
    st->x->head_len += (uint32_t)k;
}

/* Scans c->chunk[0, len) in pieces, which bound the reports held at once. */
static void scan_pieces(weir__scan_t *c, size_t len)
{
    const size_t piece = 65536;
    for (size_t pos = 0; pos < len && c->err == WEIR_OK;) {
        size_t n = len - pos < piece ? len - pos : piece;
        scan_piece(c, pos, pos + n);
        pos += n;
    }
}

/*
 * Record mode: the line that just ended (without its newline) is a file of its own.  Its end
 * is the end of the data (Vectorscan's end-of-data matches, anchors, pending matches), its
 * rules are evaluated once, each matching rule is an event carrying the line's trace id, and
 * the stream starts the next line afresh.
 */
static void record_end(weir__scan_t *c)
{
    weir__stream_t *st = c->st;
    weir_scanner_t *sc = c->sc;
    if (!weir__sx(sc, st)) {
        c->err = WEIR_ENOMEM;
        return;
    }
    /* The record's bytes are the history and the chunk scanned last (c->chunk). */
    c->wend = st->bytes;
    c->at_end = 1;
    if (st->hs) {
        hs_error_t rc = weir__engine()->reset_stream(st->hs, 0, sc->scratch, weir__on_report, c);
        if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED && c->err == WEIR_OK)
            c->err = WEIR_EENGINE;
    }
    weir__settle(c);
    c->record_trace = end_line_trace(c);
    if (c->err == WEIR_OK)
        c->err = weir__eval_final(c, NULL, NULL);
    if (c->err == WEIR_ESTOPPED) {
        c->err = WEIR_OK;
        c->stopped = 1;
    }
    c->record_trace = NULL;
    c->at_end = 0;
    weir__record_reset(sc, st);
}

/* Record mode's feeding: each line scanned up to its newline, which ends the record. */
static void scan_records(weir__scan_t *c, const uint8_t *data, size_t len)
{
    weir__stream_t *st = c->st;
    for (size_t q = 0; q < len && c->err == WEIR_OK;) {
        const uint8_t *nl = memchr(data + q, '\n', len - q);
        size_t end = nl ? (size_t)(nl - data) : len;
        c->chunk = data + q;
        c->chunk_abs = st->bytes;
        keep_head(c, data + q, end - q);
        scan_pieces(c, end - q);
        if (c->err != WEIR_OK)
            break;
        if (nl) {
            record_end(c);
            q = end + 1;
        } else {
            if (weir__history_update(c->sc, st, data + q, end - q) != 0)
                c->err = WEIR_ENOMEM;
            q = end;
        }
    }
}

static weir_status_t scan(weir_scanner_t *sc, const weir_id_t *id, const uint8_t *data, size_t len)
{
    weir_status_t err;
    weir__stream_t *st = weir__stream_get(sc, id, 1, &err);
    if (!st)
        return err;
    size_t before = st->mem.bytes;
    weir__scan_t c;
    memset(&c, 0, sizeof c);
    c.sc = sc;
    c.st = st;
    c.chunk = data;
    c.chunk_abs = st->bytes;
    c.emit = 1;
    if (sc->opt.records) {
        scan_records(&c, data, len);
    } else {
        keep_head(&c, data, len);
        if (c.err == WEIR_OK)
            scan_pieces(&c, len);
        if (weir__history_update(sc, st, data, (size_t)(st->bytes - c.chunk_abs)) != 0 &&
            c.err == WEIR_OK)
            c.err = WEIR_ENOMEM;
    }
    weir__stream_done(sc, st, before);
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

weir_status_t weir_scan_batch(weir_scanner_t *sc, const weir_chunk_t *chunks, size_t n,
                              size_t *done)
{
    if (done)
        *done = 0;
    if (!sc || (!chunks && n))
        return WEIR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!chunks[i].data && chunks[i].len)
            return WEIR_EINVAL;
    /* A pipeline over the chunks ahead: the table slot of chunk i + 3D, the context of
       i + 2D and the Vectorscan state of i + D are on their way from memory while chunk i is
       scanned (each stage needs what the one before loaded). */
    const size_t D = 4;
    for (size_t i = 0; i < n && i < 3 * D; i++)
        weir__stream_prefetch(sc, &chunks[i].stream, 0);
    for (size_t i = 0; i < n && i < 2 * D; i++)
        weir__stream_prefetch(sc, &chunks[i].stream, 1);
    for (size_t i = 0; i < n && i < D; i++)
        weir__stream_prefetch_state(sc, &chunks[i].stream);
    for (size_t i = 0; i < n; i++) {
        if (i + 3 * D < n)
            weir__stream_prefetch(sc, &chunks[i + 3 * D].stream, 0);
        if (i + 2 * D < n)
            weir__stream_prefetch(sc, &chunks[i + 2 * D].stream, 1);
        if (i + D < n)
            weir__stream_prefetch_state(sc, &chunks[i + D].stream);
        weir_status_t st = scan(sc, &chunks[i].stream, chunks[i].data, chunks[i].len);
        if (done)
            *done = i + 1;
        if (st != WEIR_OK)
            return st;
    }
    return WEIR_OK;
}

/* Ends st's data: Vectorscan's end-of-data matches, everything pending, the
   last line's trace id. */
static void finish(weir__scan_t *c)
{
    weir__stream_t *st = c->st;
    if (!weir__sx(c->sc, st)) {
        c->err = WEIR_ENOMEM;
        return;
    }
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
    if (st->bytes > weir__line_start(c->sc, st)) {
        const char *t = end_line_trace(c);
        if (c->sc->opt.records)
            c->record_trace = t;
    }
}

/* The final evaluation of a finished stream; in record mode, of its last line, if any. */
static weir_status_t final(weir__scan_t *c, weir_result_cb cb, void *user)
{
    if (c->err != WEIR_OK)
        return c->err;
    if (c->sc->opt.records && c->st->bytes == 0)
        return WEIR_OK; /* the stream ended with its newline: no record is left */
    return weir__eval_final(c, cb, user);
}

/* A deep copy of st (through its snapshot), so that results can be taken "as if the stream
   ended" without ending it. */
static weir__stream_t *stream_clone(weir_scanner_t *sc, const weir__stream_t *src,
                                    weir_status_t *err)
{
    weir__wbuf_t w = {0};
    int rc = weir__snap_save(sc, src, &w);
    if (rc != 0) {
        free(w.p);
        *err = rc == -1 ? WEIR_ENOMEM : WEIR_EENGINE;
        return NULL;
    }
    weir__rbuf_t r = {w.p, w.n, 0, 0};
    weir__stream_t *st = weir__snap_load(sc, &src->id, &r, err);
    free(w.p);
    return st;
}

weir_status_t weir_stream_results(weir_scanner_t *sc, const weir_id_t *id, weir_result_cb cb,
                                  void *user)
{
    if (!sc || !id || !cb)
        return WEIR_EINVAL;
    weir_status_t rc;
    weir__stream_t *src = weir__stream_get(sc, id, 0, &rc);
    if (!src)
        return rc;
    weir__stream_t *st = stream_clone(sc, src, &rc);
    if (!st)
        return rc;
    weir__scan_t c;
    memset(&c, 0, sizeof c);
    c.sc = sc;
    c.st = st;
    c.closing = 1;
    finish(&c);
    rc = final(&c, cb, user);
    weir__stream_free(sc, st);
    weir__stream_done(sc, src, src->mem.bytes); /* src may have been restored: the budget */
    return rc;
}

weir_status_t weir_stream_close(weir_scanner_t *sc, const weir_id_t *id, weir_result_cb cb,
                                void *user)
{
    if (!sc || !id)
        return WEIR_EINVAL;
    weir_status_t rc;
    weir__stream_t *st = weir__stream_take(sc, id, &rc);
    if (!st)
        return rc;
    weir__scan_t c;
    memset(&c, 0, sizeof c);
    c.sc = sc;
    c.st = st;
    c.emit = 1;
    c.closing = 1;
    finish(&c);
    rc = final(&c, cb, user);
    weir__stream_free(sc, st);
    return rc;
}

weir_status_t weir_stream_reset(weir_scanner_t *sc, const weir_id_t *id)
{
    if (!sc || !id)
        return WEIR_EINVAL;
    weir_status_t rc;
    weir__stream_t *st = weir__stream_take(sc, id, &rc);
    if (!st)
        return rc;
    weir__stream_free(sc, st);
    return WEIR_OK;
}
