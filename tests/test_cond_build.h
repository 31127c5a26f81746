/*
 * test_cond_build.h - for tests/test_cond.c: condition trees built by hand
 * (mk, I, FS, RD, ... freed together by free_all) and the evaluation context
 * they are evaluated in (ctx, matches added by add_match, ev/tri/undef).
 */
#ifndef WEIR_TEST_COND_BUILD_H
#define WEIR_TEST_COND_BUILD_H

#include "cond.h"
#include "test.h"

#include <stdint.h>
#include <string.h>

/* ---- building trees by hand ------------------------------------------------ */

static void *allocs[1 << 18];
static size_t nallocs;

static void *track(void *p)
{
    if (!p || nallocs >= sizeof allocs / sizeof allocs[0]) {
        fprintf(stderr, "test allocation failed\n");
        exit(2);
    }
    allocs[nallocs++] = p;
    return p;
}

static void free_all(void)
{
    while (nallocs)
        free(allocs[--nallocs]);
}

static weir__expr_t *mk(weir__op_t op)
{
    weir__expr_t *e = track(calloc(1, sizeof *e));
    e->op = op;
    e->loc.line = 1;
    e->loc.column = 1;
    return e;
}

static weir__expr_t *B(int v)
{
    weir__expr_t *e = mk(WEIR__E_BOOL);
    e->ival = v;
    return e;
}

static weir__expr_t *I(int64_t v)
{
    weir__expr_t *e = mk(WEIR__E_INT);
    e->ival = v;
    return e;
}

static weir__expr_t *TXT(const char *s, size_t n)
{
    weir__expr_t *e = mk(WEIR__E_TEXT);
    e->text = track(malloc(n + 1));
    memcpy(e->text, s, n);
    e->text[n] = '\0';
    e->text_len = n;
    return e;
}

static weir__expr_t *FS(void)
{
    return mk(WEIR__E_FILESIZE);
}

static weir__expr_t *RD(unsigned kind, weir__expr_t *off)
{
    weir__expr_t *e = mk(WEIR__E_READ);
    e->ival = kind;
    e->a = off;
    return e;
}

static weir__expr_t *VAR(int slot)
{
    weir__expr_t *e = mk(WEIR__E_VAR);
    e->ival = slot;
    return e;
}

static weir__expr_t *RULE(int i)
{
    weir__expr_t *e = mk(WEIR__E_RULE);
    e->ival = i;
    return e;
}

/* String references; s = -1 is the anonymous string of a `for ... of`. */
static weir__expr_t *S(weir__op_t op, int s, weir__expr_t *a, weir__expr_t *b)
{
    weir__expr_t *e = mk(op);
    e->str = s;
    e->a = a;
    e->b = b;
    return e;
}
#define FOUND(s) S(WEIR__E_STR_FOUND, (s), NULL, NULL)
#define CNT(s) S(WEIR__E_STR_COUNT, (s), NULL, NULL)
#define CNTIN(s, lo, hi) S(WEIR__E_STR_COUNT_IN, (s), (lo), (hi))
#define OFF(s, i) S(WEIR__E_STR_OFFSET, (s), (i), NULL)
#define LEN(s, i) S(WEIR__E_STR_LENGTH, (s), (i), NULL)
#define AT(s, x) S(WEIR__E_STR_AT, (s), (x), NULL)
#define IN(s, lo, hi) S(WEIR__E_STR_IN, (s), (lo), (hi))

static weir__expr_t *UN(weir__op_t op, weir__expr_t *a)
{
    weir__expr_t *e = mk(op);
    e->a = a;
    return e;
}
#define NOT(a) UN(WEIR__E_NOT, (a))

static weir__expr_t *BIN(weir__op_t op, weir__expr_t *a, weir__expr_t *b)
{
    weir__expr_t *e = mk(op);
    e->a = a;
    e->b = b;
    return e;
}
#define AND(a, b) BIN(WEIR__E_AND, (a), (b))
#define OR(a, b) BIN(WEIR__E_OR, (a), (b))
#define EQ(a, b) BIN(WEIR__E_EQ, (a), (b))

/* A string set from digits: "02" is {0, 2}. */
static void set_strs(weir__expr_t *e, const char *ids)
{
    e->nstrs = strlen(ids);
    e->strs = track(calloc(e->nstrs ? e->nstrs : 1, sizeof *e->strs));
    for (size_t i = 0; i < e->nstrs; i++)
        e->strs[i] = (uint32_t)(ids[i] - '0');
}

static weir__expr_t *OF(weir__quant_t q, weir__expr_t *qe, const char *ids)
{
    weir__expr_t *e = mk(WEIR__E_OF);
    e->quant = q;
    e->a = qe;
    set_strs(e, ids);
    return e;
}

static weir__expr_t *FOROF(weir__quant_t q, weir__expr_t *qe, const char *ids, weir__expr_t *body)
{
    weir__expr_t *e = OF(q, qe, ids);
    e->op = WEIR__E_FOR_OF;
    e->b = body;
    return e;
}

static weir__expr_t *FORR(weir__quant_t q, weir__expr_t *qe, int slot, weir__expr_t *lo,
                          weir__expr_t *hi, weir__expr_t *body)
{
    weir__expr_t *e = mk(WEIR__E_FOR_IN);
    e->quant = q;
    e->a = qe;
    e->ival = slot;
    e->b = body;
    e->is_range = 1;
    e->nlist = 2;
    e->list = track(calloc(2, sizeof *e->list));
    e->list[0] = lo;
    e->list[1] = hi;
    return e;
}

/* for q VAR(slot) in (items...) : (body); n items follow body. */
static weir__expr_t *FORE(weir__quant_t q, weir__expr_t *qe, int slot, weir__expr_t *body, int n,
                          ...)
{
    weir__expr_t *e = FORR(q, qe, slot, NULL, NULL, body);
    va_list ap;
    e->is_range = 0;
    e->nlist = (size_t)n;
    e->list = track(calloc((size_t)n, sizeof *e->list));
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        e->list[i] = va_arg(ap, weir__expr_t *);
    va_end(ap);
    return e;
}

#define ALL WEIR__Q_ALL
#define ANY WEIR__Q_ANY
#define NONE WEIR__Q_NONE
#define QX WEIR__Q_EXPR

/* ---- evaluation contexts --------------------------------------------------- */

#define NSTR 3
static weir__match_t mbuf[NSTR][512];
static weir__mlist_t ml[NSTR];
static uint8_t rtrue[4];
static const uint32_t rmap[4] = {0, 1, 2, 3};
static weir__evalctx_t ctx;

static void ctx_reset(uint64_t filesize)
{
    memset(ml, 0, sizeof ml);
    for (int i = 0; i < NSTR; i++) {
        ml[i].v = mbuf[i];
        ml[i].cap = 512;
    }
    memset(rtrue, 0, sizeof rtrue);
    ctx.filesize = filesize;
    ctx.strings = ml;
    ctx.rule_true = rtrue;
    ctx.max_steps = 0;
}

/* Inserts a match keeping the list sorted, one per offset. */
static void add_match(int s, uint64_t off, uint32_t len)
{
    weir__mlist_t *m = &ml[s];
    uint32_t i = 0;
    while (i < m->n && m->v[i].off < off)
        i++;
    if ((i < m->n && m->v[i].off == off) || m->n >= m->cap)
        return;
    memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof m->v[0]);
    m->v[i].off = off;
    m->v[i].len = len;
    m->v[i].trace = 0;
    m->n++;
}

static int last_oos;

/* Compiles e alone and evaluates it: 1/0, or -1 when it does not compile. */
static int ev(const weir__expr_t *e)
{
    weir__code_t code = {0};
    uint32_t entry;
    if (weir__cond_compile(&code, e, 0, rmap, NULL, NULL, &entry) != 0) {
        weir__code_free(&code);
        return -1;
    }
    int r = weir__cond_eval(&code, entry, &ctx, &last_oos);
    weir__code_free(&code);
    return r;
}

/* 1 true, 0 false, 2 undefined (neither e nor `not e` holds). */
static int tri(weir__expr_t *e)
{
    int t = ev(e), f = ev(NOT(e));
    if (t < 0 || f < 0)
        return -1;
    return t ? 1 : f ? 0 : 2;
}

/* 1 when integer expression x is undefined. */
static int undef(weir__expr_t *x)
{
    return tri(EQ(x, x)) == 2;
}

/* Data "xxxxabxxab" with $a = "ab" at 4, 8; $b = "zz" none; $c = "xx" at 0, 1, 2, 6. */
static void ctx_sample(void)
{
    ctx_reset(10);
    add_match(0, 4, 2);
    add_match(0, 8, 2);
    add_match(2, 0, 2);
    add_match(2, 1, 2);
    add_match(2, 2, 2);
    add_match(2, 6, 2);
}

#define UNDEF_V ((int64_t)-0x0005452505452501LL)

#endif /* WEIR_TEST_COND_BUILD_H */
