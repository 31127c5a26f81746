/*
 * eval.c - deciding rules: live evaluation at line ends (only rules whose
 * strings just matched, their dependants, and the few string-less live rules),
 * the final evaluation at close, match events and results.
 */
#include "scanner.h"

#include <stdlib.h>
#include <string.h>

/* Events carry at most this many distinct trace ids. */
#define MAX_EVENT_TRACES 64

static int globals_ok(const weir_scanner_t *sc, uint32_t ns, const uint8_t *truth)
{
    for (uint32_t k = sc->glob_at[ns]; k < sc->glob_at[ns + 1]; k++)
        if (!truth[sc->globs[k]])
            return 0;
    return 1;
}

/* What the conditions of one evaluation point see: the same for every rule evaluated there. */
static void eval_ctx(weir__scan_t *c, const uint8_t *truth, weir__evalctx_t *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->filesize = c->st->bytes;
    ctx->head = c->st->x->head;
    ctx->head_len = c->st->x->head_len;
    ctx->strings = c->st->x->lists;
    ctx->rule_true = truth;
    ctx->vars = weir__vars_of(c->sc, c->st);
    ctx->nvars = c->sc->rules->nvars;
    ctx->max_steps = c->sc->opt.max_eval_steps;
}

void weir__limit_reached(weir__scan_t *c, weir_limit_kind_t kind, uint32_t r, uint32_t s,
                         uint64_t at, int at_close)
{
    weir_scanner_t *sc = c->sc;
    if (!sc->limit_cb)
        return;
    weir_limit_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.stream = c->st->id;
    ev.kind = kind;
    ev.rule = &sc->rules->rules[r].info;
    ev.string_id = s == UINT32_MAX ? NULL : sc->rules->strings[s].id;
    ev.limit = kind == WEIR_LIMIT_MATCHES ? sc->opt.max_matches : sc->opt.max_eval_steps;
    ev.offset = (sc->opt.records ? c->st->base : 0) + at;
    ev.at_close = at_close;
    sc->limit_cb(&ev, sc->limit_user);
}

/* Rule r's condition now: 1 holds, 0 does not, -1 ran out of steps (reported; counts as 0). */
static int eval_rule(weir__scan_t *c, const weir__evalctx_t *ctx, uint32_t r, int final)
{
    int out_of_steps = 0;
    int v = weir__cond_eval(&c->sc->rules->code, c->sc->rules->rules[r].entry, ctx, &out_of_steps);
    if (out_of_steps) {
        /* (in record mode every line has a final evaluation; only the last is at close) */
        weir__limit_reached(c, WEIR_LIMIT_EVAL_STEPS, r, UINT32_MAX, c->st->bytes,
                            final && (c->closing || !c->sc->opt.records));
        return -1;
    }
    return v == 1;
}

/* The distinct trace ids of rule r's matches, in string then offset order. */
static size_t rule_traces(weir__scan_t *c, uint32_t r)
{
    weir_scanner_t *sc = c->sc;
    weir__stream_t *st = c->st;
    const weir__rule_t *ru = &sc->rules->rules[r];
    size_t n = 0;
    if (WEIR__GROW(NULL, sc->tids, sc->tids_cap, MAX_EVENT_TRACES) != 0)
        return 0;
    for (uint32_t s = ru->first_string; s < ru->first_string + ru->nstrings; s++) {
        const weir__mlist_t *l = &st->x->lists[s];
        for (uint32_t i = 0; i < l->n && n < MAX_EVENT_TRACES; i++) {
            uint32_t slot = l->v[i].trace;
            if (slot == WEIR__NO_TRACE || slot >= st->x->nslots || !st->x->slots[slot])
                continue;
            const char *t = st->x->slots[slot];
            size_t k;
            for (k = 0; k < n; k++)
                if (sc->tids[k] == t || strcmp(sc->tids[k], t) == 0)
                    break;
            if (k == n)
                sc->tids[n++] = t;
        }
    }
    return n;
}

static void fire(weir__scan_t *c, uint32_t r, int at_close)
{
    weir_scanner_t *sc = c->sc;
    weir__stream_t *st = c->st;
    const weir__rule_t *ru = &sc->rules->rules[r];
    st->x->fired[r] = WEIR__FIRED;
    if (ru->info.is_private || !c->emit || !sc->cb)
        return;
    weir_match_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.stream = st->id;
    ev.rule = &ru->info;
    /* (in record mode, a line's event comes with its newline, which is not in st->bytes) */
    ev.offset = (sc->opt.records ? st->base + !at_close : 0) + st->bytes;
    /* At close, a last line without its newline counts; a record is counted once evaluated. */
    ev.line = st->lines + (sc->opt.records || (at_close && st->bytes > st->line_start) ? 1 : 0);
    ev.at_close = at_close;
    ev.ntrace_ids = rule_traces(c, r);
    if (!ev.ntrace_ids && c->record_trace && sc->tids_cap) {
        sc->tids[0] = c->record_trace; /* a record's event always names its line */
        ev.ntrace_ids = 1;
    }
    ev.trace_ids = sc->tids;
    st->x->rules_fired++;
    if (sc->cb(&ev, sc->user) != 0)
        c->stopped = 1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void weir__eval_live(weir__scan_t *c)
{
    weir_scanner_t *sc = c->sc;
    weir__stream_t *st = c->st;
    const weir_rules_t *rules = sc->rules;
    /* A stream without extras has matched nothing: only string-less rules can change. */
    if (c->stopped || (!st->x && !rules->nalways))
        return;
    if (!weir__sx(sc, st)) {
        c->err = WEIR_ENOMEM;
        return;
    }
    weir__evalctx_t ctx;
    eval_ctx(c, st->x->rule_true, &ctx);
    for (uint32_t k = 0; k < rules->nalways; k++)
        weir__mark_dirty(c, rules->always[k]);
    while (st->x->ndirty && !c->stopped && c->err == WEIR_OK) {
        /* Lowest rule first, so references to earlier rules see them decided. */
        size_t n = st->x->ndirty;
        qsort(st->x->dirty, n, sizeof *st->x->dirty, cmp_u32);
        for (size_t i = 0; i < n; i++)
            st->x->is_dirty[st->x->dirty[i]] = 0;
        for (size_t i = 0; i < n && !c->stopped; i++) {
            uint32_t r = st->x->dirty[i];
            const weir__rule_t *ru = &rules->rules[r];
            if (!ru->live || st->x->fired[r])
                continue;
            if (!st->x->rule_true[r]) {
                int v = eval_rule(c, &ctx, r, 0);
                if (v < 0)
                    st->x->fired[r] = WEIR__GAVE_UP; /* not again before close */
                if (v <= 0)
                    continue;
                st->x->rule_true[r] = 1;
                for (uint32_t d = rules->dep_at[r]; d < rules->dep_at[r + 1]; d++)
                    weir__mark_dirty(c, rules->deps[d]);
            }
            if (globals_ok(sc, ru->ns_index, st->x->rule_true))
                fire(c, r, 0);
        }
        memmove(st->x->dirty, st->x->dirty + n, (st->x->ndirty - n) * sizeof *st->x->dirty);
        st->x->ndirty -= n;
    }
}

/* Calls cb with rule r's result: its non-private strings' matches. */
static int report_result(weir__scan_t *c, uint32_t r, weir_result_cb cb, void *user)
{
    weir_scanner_t *sc = c->sc;
    weir__stream_t *st = c->st;
    const weir__rule_t *ru = &sc->rules->rules[r];
    size_t n = 0;
    for (uint32_t s = ru->first_string; s < ru->first_string + ru->nstrings; s++) {
        const weir__string_t *ws = &sc->rules->strings[s];
        const weir__mlist_t *l = &st->x->lists[s];
        if (ws->mods & WEIR__MOD_PRIVATE)
            continue;
        if (WEIR__GROW(NULL, sc->res, sc->res_cap, n + l->n) != 0) {
            c->err = WEIR_ENOMEM;
            return 0;
        }
        for (uint32_t i = 0; i < l->n; i++) {
            weir_string_match_t *m = &sc->res[n++];
            m->string_id = ws->id;
            m->offset = l->v[i].off;
            m->length = l->v[i].len;
            m->data = NULL;
            m->data_len = 0;
            if (st->x->drefs && st->x->drefs[s]) {
                uint64_t d = st->x->drefs[s][i];
                m->data = st->x->arena + (d >> 10);
                m->data_len = (uint32_t)(d & 1023);
            }
            m->is_hex = ws->kind == WEIR__STR_HEX;
            uint32_t slot = l->v[i].trace;
            m->trace_id = slot < st->x->nslots ? st->x->slots[slot] : NULL;
        }
    }
    weir_rule_result_t res;
    res.stream = st->id;
    res.rule = &ru->info;
    res.matches = sc->res;
    res.nmatches = n;
    return cb(&res, user);
}

weir_status_t weir__eval_final(weir__scan_t *c, weir_result_cb cb, void *user)
{
    weir_scanner_t *sc = c->sc;
    weir__stream_t *st = c->st;
    const weir_rules_t *rules = sc->rules;
    uint8_t *truth = calloc(rules->nrules ? rules->nrules : 1, 2);
    if (!truth)
        return WEIR_ENOMEM;
    uint8_t *final = truth + rules->nrules;
    /* Rule references read the plain condition of earlier rules, as in YARA;
       global rules filter only what is reported. */
    weir__evalctx_t ctx;
    eval_ctx(c, truth, &ctx);
    for (uint32_t r = 0; r < rules->nrules; r++)
        truth[r] = eval_rule(c, &ctx, r, 1) == 1;
    for (uint32_t r = 0; r < rules->nrules; r++)
        final[r] = truth[r] && globals_ok(sc, rules->rules[r].ns_index, truth);
    for (uint32_t r = 0; r < rules->nrules && !c->stopped; r++)
        if (final[r] && st->x->fired[r] != WEIR__FIRED)
            fire(c, r, c->closing);
    int stop = c->stopped;
    for (uint32_t r = 0; r < rules->nrules && cb && !stop && c->err == WEIR_OK; r++)
        if (final[r] && !rules->rules[r].info.is_private && report_result(c, r, cb, user) != 0)
            stop = 1;
    free(truth);
    if (c->err != WEIR_OK)
        return c->err;
    return stop ? WEIR_ESTOPPED : WEIR_OK;
}
