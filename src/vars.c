/*
 * vars.c - external variables at scan time: the scanner's values (the rules' defaults until
 * weir_scanner_set_var changes them) and each stream's own (weir_stream_set_var), merged for
 * the conditions of a stream.  A stream keeps only the variables set for it, so a stream
 * without any costs nothing.
 */
#include "scanner.h"

#include <stdlib.h>
#include <string.h>

int weir__vars_init(weir_scanner_t *sc)
{
    const weir_rules_t *r = sc->rules;
    uint32_t n = r->nvars;
    sc->vars = calloc(n ? n : 1, sizeof *sc->vars);
    sc->mix = calloc(n ? n : 1, sizeof *sc->mix);
    if (!sc->vars || !sc->mix)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        sc->vars[i].i = r->vars[i].integer;
        sc->vars[i].s = (const uint8_t *)r->vars[i].string;
        sc->vars[i].len = r->vars[i].string_len;
    }
    return 0;
}

/* 1 when the scanner's value of variable i is its own copy (set by weir_scanner_set_var). */
static int owned(const weir_scanner_t *sc, uint32_t i)
{
    return sc->vars[i].s && sc->vars[i].s != (const uint8_t *)sc->rules->vars[i].string;
}

void weir__vars_free(weir_scanner_t *sc)
{
    for (uint32_t i = 0; sc->vars && i < sc->rules->nvars; i++)
        if (owned(sc, i))
            free((void *)sc->vars[i].s);
    free(sc->vars);
    free(sc->mix);
}

const weir__varval_t *weir__vars_of(weir_scanner_t *sc, const weir__stream_t *st)
{
    if (!st->x || !st->x->nvars)
        return sc->vars;
    memcpy(sc->mix, sc->vars, sc->rules->nvars * sizeof *sc->mix);
    for (uint32_t k = 0; k < st->x->nvars; k++) {
        weir__varval_t *v = &sc->mix[st->x->vars[k].idx];
        v->i = st->x->vars[k].i;
        v->s = st->x->vars[k].s;
        v->len = st->x->vars[k].len;
    }
    return sc->mix;
}

void weir__stream_vars_free(weir__stream_t *st)
{
    if (!st->x)
        return;
    for (uint32_t k = 0; k < st->x->nvars; k++)
        weir__free(&st->mem, st->x->vars[k].s, st->x->vars[k].len ? st->x->vars[k].len : 1);
    weir__free(&st->mem, st->x->vars, st->x->nvars * sizeof *st->x->vars);
    st->x->vars = NULL;
    st->x->nvars = 0;
}

/* A copy of n bytes (at least one byte allocated), accounted to mem. */
static uint8_t *copy_bytes(weir__mem_t *mem, const void *p, size_t n)
{
    uint8_t *s = weir__malloc(mem, n ? n : 1);
    if (s && n)
        memcpy(s, p, n);
    return s;
}

/* The index of var->name among the rules' variables, checking its type; -1 when none fits. */
static long find_var(const weir_rules_t *r, const weir_var_t *var)
{
    if (!var->name || (var->type == WEIR_VAR_STRING && var->string_len && !var->string))
        return -1;
    for (uint32_t i = 0; i < r->nvars; i++)
        if (strcmp(r->vars[i].name, var->name) == 0)
            return r->vars[i].type == var->type ? (long)i : -1;
    return -1;
}

weir_status_t weir_scanner_set_var(weir_scanner_t *sc, const weir_var_t *var)
{
    if (!sc || !var)
        return WEIR_EINVAL;
    long i = find_var(sc->rules, var);
    if (i < 0)
        return WEIR_EVAR;
    weir__varval_t *v = &sc->vars[i];
    if (var->type != WEIR_VAR_STRING) {
        v->i = var->type == WEIR_VAR_BOOLEAN ? var->integer != 0 : var->integer;
        return WEIR_OK;
    }
    uint8_t *s = copy_bytes(NULL, var->string, var->string_len);
    if (!s)
        return WEIR_ENOMEM;
    if (owned(sc, (uint32_t)i))
        free((void *)v->s);
    v->s = s;
    v->len = var->string_len;
    return WEIR_OK;
}

/* Sets stream st's own value of variable i. */
static weir_status_t stream_set(weir_scanner_t *sc, weir__stream_t *st, uint32_t i,
                                const weir_var_t *var)
{
    weir__sx_t *x = weir__sx(sc, st);
    if (!x)
        return WEIR_ENOMEM;
    uint32_t k = 0;
    while (k < x->nvars && x->vars[k].idx != i)
        k++;
    if (k == x->nvars) {
        struct weir__svar *grown = weir__malloc(&st->mem, (k + 1) * sizeof *grown);
        if (!grown)
            return WEIR_ENOMEM;
        if (k)
            memcpy(grown, x->vars, k * sizeof *grown);
        weir__free(&st->mem, x->vars, k * sizeof *grown);
        x->vars = grown;
        memset(&x->vars[k], 0, sizeof x->vars[k]);
        x->vars[k].idx = i;
        x->nvars++;
    }
    struct weir__svar *o = &x->vars[k];
    if (var->type != WEIR_VAR_STRING) {
        o->i = var->type == WEIR_VAR_BOOLEAN ? var->integer != 0 : var->integer;
        return WEIR_OK;
    }
    uint8_t *s = copy_bytes(&st->mem, var->string, var->string_len);
    if (!s)
        return WEIR_ENOMEM;
    weir__free(&st->mem, o->s, o->len ? o->len : 1);
    o->s = s;
    o->len = var->string_len;
    return WEIR_OK;
}

weir_status_t weir_stream_set_var(weir_scanner_t *sc, const weir_id_t *id, const weir_var_t *var)
{
    if (!sc || !id || !var)
        return WEIR_EINVAL;
    long i = find_var(sc->rules, var);
    if (i < 0)
        return WEIR_EVAR;
    weir_status_t rc;
    weir__stream_t *st = weir__stream_get(sc, id, 1, &rc);
    if (!st)
        return rc;
    size_t before = st->mem.bytes;
    rc = stream_set(sc, st, (uint32_t)i, var);
    weir__stream_done(sc, st, before);
    return rc;
}
