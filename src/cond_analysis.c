/*
 * cond_analysis.c - analyses of condition trees made at compile time: which
 * conditions are monotone (may fire live), which strings a condition refers
 * to, and how much of a stream's head its integer reads need.
 */
#include "cond_int.h"

#include <string.h>

/* ---- monotonicity ----------------------------------------------------------- */

/*
 * Each node gets an abstract value describing how it can change as bytes are
 * appended.  For integers: dir (time-invariant, non-decreasing, non-increasing,
 * unknown) and an interval of the values it can take when defined.  For
 * definedness: sdef (once defined, stays defined) and udef (once undefined,
 * stays undefined).  For truthiness: up (once truthy, stays truthy) and down
 * (once falsy, stays falsy).  Conditions are monotone when up.
 */
enum { D_CONST, D_INC, D_DEC, D_ANY };

#define FILESIZE_MAX ((int64_t)1 << 62)

typedef struct mv {
    int dir;
    int bounded;
    int64_t lo, hi;
    int sdef, udef;
    int up, down;
} mv_t;

typedef struct mctx {
    const uint8_t *rule_monotone;
    mv_t var[WEIR__MAX_LOOP_NESTING];
    int depth;
} mctx_t;

static mv_t mv_any(void)
{
    mv_t m = {D_ANY, 0, 0, 0, 0, 0, 0, 0};
    return m;
}

static mv_t mv_int(int dir, int64_t lo, int64_t hi, int sdef, int udef)
{
    mv_t m = {dir, 1, lo, hi, sdef, udef, 0, 0};
    return m;
}

static mv_t mv_bool(int up, int down, int sdef, int udef)
{
    mv_t m = {D_ANY, 0, 0, 0, sdef, udef, up, down};
    return m;
}

static int nondec(const mv_t *m)
{
    return (m->dir == D_CONST || m->dir == D_INC) && (m->sdef || m->dir == D_CONST);
}

static int noninc(const mv_t *m)
{
    return (m->dir == D_CONST || m->dir == D_DEC) && (m->sdef || m->dir == D_CONST);
}

static int flip(int dir)
{
    return dir == D_INC ? D_DEC : dir == D_DEC ? D_INC : dir;
}

static int join(int a, int b)
{
    if (a == D_CONST)
        return b;
    if (b == D_CONST)
        return a;
    return a == b ? a : D_ANY;
}

/* Truthiness of an integer used as a boolean (defined and non-zero). */
static void int_truth(mv_t *m)
{
    if (m->dir == D_CONST) {
        m->up = m->down = 1;
        return;
    }
    if (m->dir == D_ANY || !m->bounded)
        return;
    m->up = m->sdef && ((m->dir == D_INC && m->lo >= 0) || (m->dir == D_DEC && m->hi <= 0));
    m->down = m->udef && ((m->dir == D_INC && m->hi <= 0) || (m->dir == D_DEC && m->lo >= 0));
}

/* The result of an integer operation with dir and interval, or ANY when the
   interval might hold the UNDEFINED sentinel (YARA would turn it undefined). */
static mv_t mk_arith(int dir, int ok, int64_t lo, int64_t hi, const mv_t *a, const mv_t *b)
{
    if (dir == D_CONST) {
        /* Time-invariant operands give a time-invariant result, whatever it is. */
        mv_t m = mv_int(D_CONST, lo, hi, 1, 1);
        m.bounded = ok && !(lo <= UNDEF && UNDEF <= hi);
        int_truth(&m);
        return m;
    }
    if (dir == D_ANY || !ok || (lo <= UNDEF && UNDEF <= hi))
        return mv_any();
    mv_t m = mv_int(dir, lo, hi, a->sdef && (!b || b->sdef), a->udef && (!b || b->udef));
    int_truth(&m);
    return m;
}

static int mul_ov(int64_t a, int64_t b, int64_t *r)
{
    return __builtin_mul_overflow(a, b, r);
}

/* min and max of four products or quotients */
static void hull4(const int64_t p[4], int64_t *lo, int64_t *hi)
{
    *lo = *hi = p[0];
    for (int i = 1; i < 4; i++) {
        *lo = p[i] < *lo ? p[i] : *lo;
        *hi = p[i] > *hi ? p[i] : *hi;
    }
}

static mv_t m_binary(weir__op_t op, mv_t a, mv_t b)
{
    int both_const = a.dir == D_CONST && b.dir == D_CONST;
    int64_t lo = 0, hi = 0;
    int ok = a.bounded && b.bounded && a.lo <= a.hi && b.lo <= b.hi;
    switch (op) {
    case WEIR__E_ADD:
    case WEIR__E_SUB: {
        int dir = op == WEIR__E_ADD ? join(a.dir, b.dir) : join(a.dir, flip(b.dir));
        if (a.dir == D_ANY || b.dir == D_ANY)
            dir = D_ANY;
        if (ok) {
            if (op == WEIR__E_ADD)
                ok = !__builtin_add_overflow(a.lo, b.lo, &lo) &&
                     !__builtin_add_overflow(a.hi, b.hi, &hi);
            else
                ok = !__builtin_sub_overflow(a.lo, b.hi, &lo) &&
                     !__builtin_sub_overflow(a.hi, b.lo, &hi);
        }
        return mk_arith(both_const ? D_CONST : dir, ok, lo, hi, &a, &b);
    }
    case WEIR__E_MUL: {
        int64_t p[4];
        ok = ok && !mul_ov(a.lo, b.lo, &p[0]) && !mul_ov(a.lo, b.hi, &p[1]) &&
             !mul_ov(a.hi, b.lo, &p[2]) && !mul_ov(a.hi, b.hi, &p[3]);
        if (ok)
            hull4(p, &lo, &hi);
        int dir = D_ANY;
        if (both_const)
            dir = D_CONST;
        else if (ok && b.dir == D_CONST && b.lo >= 0)
            dir = a.dir;
        else if (ok && b.dir == D_CONST && b.hi <= 0)
            dir = flip(a.dir);
        else if (ok && a.dir == D_CONST && a.lo >= 0)
            dir = b.dir;
        else if (ok && a.dir == D_CONST && a.hi <= 0)
            dir = flip(b.dir);
        else if (ok && a.lo >= 0 && b.lo >= 0)
            dir = join(a.dir, b.dir);
        return mk_arith(dir, ok, lo, hi, &a, &b);
    }
    case WEIR__E_DIV: {
        /* Only division by a time-invariant value that cannot be 0 keeps order. */
        if (both_const)
            return mk_arith(D_CONST, 0, 0, 0, &a, &b);
        if (!ok || b.dir != D_CONST || (b.lo <= 0 && b.hi >= 0) ||
            (a.lo == INT64_MIN && b.lo <= -1 && b.hi >= -1))
            return mv_any();
        int64_t p[4] = {a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi};
        hull4(p, &lo, &hi);
        return mk_arith(b.lo > 0 ? a.dir : flip(a.dir), 1, lo, hi, &a, &b);
    }
    case WEIR__E_SHL:
    case WEIR__E_SHR: {
        if (both_const)
            return mk_arith(D_CONST, 0, 0, 0, &a, &b);
        if (!ok || b.dir != D_CONST || b.lo != b.hi || b.lo < 0 || b.lo > 62)
            return mv_any();
        int k = (int)b.lo;
        if (op == WEIR__E_SHR)
            return mk_arith(a.dir, 1, arith(OP_SHR, a.lo, k), arith(OP_SHR, a.hi, k), &a, &b);
        int64_t f = (int64_t)1 << k;
        if (mul_ov(a.lo, f, &lo) || mul_ov(a.hi, f, &hi))
            return mv_any();
        return mk_arith(a.dir, 1, lo, hi, &a, &b);
    }
    default: /* %, &, |, ^: no order kept */
        if (both_const)
            return mk_arith(D_CONST, 0, 0, 0, &a, &b);
        return mv_any();
    }
}

static int known(const weir__expr_t *e, int64_t *v)
{
    if (!e || e->op != WEIR__E_INT || IS_UNDEF(e->ival))
        return 0;
    *v = e->ival;
    return 1;
}

static mv_t ana(const weir__expr_t *e, mctx_t *m);

/* How a loop body's contributions to the loop's sum change. */
typedef struct contrib {
    int up, down, nonneg;
} contrib_t;

static contrib_t body_contrib(const weir__expr_t *body, mctx_t *m)
{
    contrib_t c = {0, 0, 0};
    if (!body)
        return c;
    mv_t b = ana(body, m);
    const weir__expr_t *l = body;
    while (l->op == WEIR__E_OR && l->a)
        l = l->a; /* `a or b` is worth a's raw value when a is true */
    if (kind_of(body) != K_INT && kind_of(l) != K_INT) {
        /* Booleans and text contribute 0 or 1. */
        c.up = b.up;
        c.down = b.down;
        c.nonneg = 1;
        return c;
    }
    if (kind_of(body) != K_INT)
        return c;
    c.nonneg = b.bounded && b.lo >= 0;
    c.up = nondec(&b) && c.nonneg && (b.sdef || b.dir == D_CONST);
    c.down = noninc(&b) && (b.udef || b.dir == D_CONST);
    return c;
}

/* The loop's threshold when it is a known constant: 1 and sets *q. */
static int fixed_quant(const weir__expr_t *e, int64_t n_all, int *all, int64_t *q)
{
    *all = e->quant == WEIR__Q_ALL;
    *q = *all ? n_all : e->quant == WEIR__Q_ANY;
    return e->quant != WEIR__Q_EXPR && e->quant != WEIR__Q_PERCENT ? 1
           : e->quant == WEIR__Q_EXPR                              ? known(e->a, q)
                                                                   : 0;
}

static mv_t ana_of(const weir__expr_t *e, mctx_t *m)
{
    mv_t r = mv_bool(0, 0, 1, 1);
    int all;
    int64_t q;
    if (e->quant == WEIR__Q_PERCENT) {
        /* found / n * 100 >= a constant: found only grows */
        mv_t a = ana(e->a, m);
        r.up = a.dir == D_CONST && a.sdef;
        return r;
    }
    if (fixed_quant(e, 1, &all, &q)) {
        /* found >= q; 0 means none found; q < 0 or q > the set: constant */
        r.up = q != 0;
        r.down = q == 0 || q < 0 || q > (int64_t)e->nstrs;
        return r;
    }
    if (!e->a)
        return r;
    mv_t a = ana(e->a, m);
    if (a.dir == D_CONST && a.bounded && (a.lo > 0 || a.hi < 0))
        r.up = 1; /* fixed non-zero threshold, or all */
    else if (a.dir == D_DEC && a.bounded && a.lo >= 1 && a.sdef && a.udef)
        r.up = 1; /* the threshold only falls */
    return r;
}

static mv_t ana_for_of(const weir__expr_t *e, mctx_t *m)
{
    mv_t r = mv_bool(0, 0, 1, 1);
    int all;
    int64_t q;
    contrib_t c = body_contrib(e->b, m);
    if (!fixed_quant(e, (int64_t)e->nstrs, &all, &q))
        return r;
    if (c.nonneg && q <= 0) {
        r.up = r.down = 1; /* a sum of non-negative terms is always >= q */
        return r;
    }
    r.up = c.up;
    r.down = c.down;
    return r;
}

static mv_t ana_for_in(const weir__expr_t *e, mctx_t *m)
{
    mv_t r = mv_bool(0, 0, 1, 1);
    if (!e->list || e->nlist == 0 || e->ival < 0 || e->ival >= WEIR__MAX_LOOP_NESTING ||
        (e->is_range && e->nlist != 2))
        return r;
    int fixed = 1, grows = 0;
    mv_t var = mv_int(D_CONST, 0, 0, 1, 1);
    if (e->is_range) {
        mv_t lo = ana(e->list[0], m), hi = ana(e->list[1], m);
        fixed = lo.dir == D_CONST && hi.dir == D_CONST;
        grows = !fixed && noninc(&lo) && nondec(&hi) && hi.bounded && hi.hi < INT64_MAX;
        /* Each iteration's value never changes: the range only gains values. */
        var.bounded = lo.bounded && hi.bounded && lo.lo <= hi.hi;
        var.lo = lo.lo;
        var.hi = hi.hi;
    } else {
        /* A fixed number of items; the variable is fixed when every item is. */
        int consts = 1;
        for (size_t i = 0; i < e->nlist; i++) {
            mv_t it = ana(e->list[i], m);
            consts = consts && it.dir == D_CONST;
            var.bounded = var.bounded && it.bounded;
            var.lo = i == 0 || it.lo < var.lo ? it.lo : var.lo;
            var.hi = i == 0 || it.hi > var.hi ? it.hi : var.hi;
        }
        if (!consts)
            var = mv_any();
    }
    int_truth(&var);

    mv_t saved = m->var[e->ival];
    m->var[e->ival] = var;
    contrib_t c = body_contrib(e->b, m);
    m->var[e->ival] = saved;

    int all;
    int64_t q;
    if (!fixed_quant(e, 0, &all, &q))
        return r;
    if (all) {
        /* sum >= iterations, never stopping early: only with a fixed domain. */
        r.up = fixed && c.up;
        r.down = fixed && c.down;
    } else if (q <= 0) {
        /* The first iteration already reaches q: true iff there is one. */
        if (c.nonneg) {
            r.up = fixed || grows;
            r.down = fixed;
        }
    } else if (c.nonneg) {
        /* Non-negative terms: stopping at q changes nothing, so the result is
           whether the whole sum reaches q. */
        r.up = c.up && (fixed || grows);
        r.down = c.down && fixed;
    }
    return r;
}

/* 1 if e is an integer made only of constants and integer reads: undefined until the stream
   holds the bytes it reads, then fixed for good. */
static int head_only(const weir__expr_t *e, int depth)
{
    if (!e || depth > MAX_TREE_DEPTH)
        return 0;
    switch (e->op) {
    case WEIR__E_INT:
        return 1;
    case WEIR__E_READ:
    case WEIR__E_NEG:
    case WEIR__E_BITNOT:
        return head_only(e->a, depth + 1);
    default:
        return e->op >= WEIR__E_ADD && e->op <= WEIR__E_BXOR && head_only(e->a, depth + 1) &&
               head_only(e->b, depth + 1);
    }
}

static mv_t ana_compare(const weir__expr_t *e, mctx_t *m)
{
    if (kind_of(e->a) == K_TEXT || kind_of(e->b) == K_TEXT)
        return mv_bool(1, 1, 1, 1);
    mv_t a = ana(e->a, m), b = ana(e->b, m);
    mv_t r = mv_bool(0, 0, a.sdef && b.sdef, a.udef && b.udef);
    if (a.dir == D_CONST && b.dir == D_CONST) {
        r.up = r.down = 1;
        return r;
    }
    /* Reads against constants: false while undefined, then decided for good, so once true
       it stays true (but a false one may still become true). */
    if (head_only(e->a, 0) && head_only(e->b, 0))
        return mv_bool(1, 0, 1, 0);
    int sdef = (a.sdef || a.dir == D_CONST) && (b.sdef || b.dir == D_CONST);
    int udef = (a.udef || a.dir == D_CONST) && (b.udef || b.dir == D_CONST);
    /* a rises against b (a - b non-decreasing), or falls. */
    int rises = nondec(&a) && noninc(&b);
    int falls = noninc(&a) && nondec(&b);
    /* When a can only move away from b, "a != b" can only become true. */
    int away = a.bounded && b.bounded && ((rises && a.lo >= b.hi) || (falls && a.hi <= b.lo));
    if (e->op == WEIR__E_GT || e->op == WEIR__E_GE) {
        r.up = rises && sdef;
        r.down = falls && udef;
    } else if (e->op == WEIR__E_LT || e->op == WEIR__E_LE) {
        r.up = falls && sdef;
        r.down = rises && udef;
    } else if (e->op == WEIR__E_EQ) {
        r.down = away && udef;
    } else {
        r.up = away && sdef;
    }
    return r;
}

static mv_t ana(const weir__expr_t *e, mctx_t *m)
{
    if (!e || m->depth > MAX_TREE_DEPTH)
        return mv_any();
    m->depth++;
    mv_t r = mv_any();
    switch (e->op) {
    case WEIR__E_BOOL:
    case WEIR__E_TEXT:
    case WEIR__E_REGEX:
        r = mv_bool(1, 1, 1, 1);
        break;
    case WEIR__E_EXT:
        /* A variable's value does not change with the bytes received. */
        if (e->str == 1)
            r = mv_bool(1, 1, 1, 1);
        else
            r = mv_int(D_CONST, INT64_MIN, INT64_MAX, 1, 1);
        int_truth(&r);
        break;
    case WEIR__E_INT:
        if (!IS_UNDEF(e->ival))
            r = mv_int(D_CONST, e->ival, e->ival, 1, 1);
        int_truth(&r);
        break;
    case WEIR__E_FILESIZE:
        r = mv_int(D_INC, 0, FILESIZE_MAX, 1, 1);
        int_truth(&r);
        break;
    case WEIR__E_READ: {
        /* Undefined until the stream holds the bytes, then fixed: stays defined, not
           undefined; its value is not ordered in time (see head_only for comparisons). */
        uint32_t size = (uint32_t)e->ival & WEIR__READ_SIZE;
        int64_t span = size >= 4 ? ((int64_t)1 << 32) : ((int64_t)1 << (8 * size));
        if ((uint32_t)e->ival & WEIR__READ_SIGNED)
            r = mv_int(D_ANY, -span / 2, span / 2 - 1, 1, 0);
        else
            r = mv_int(D_ANY, 0, span - 1, 1, 0);
        break;
    }
    case WEIR__E_VAR:
        if (e->ival >= 0 && e->ival < WEIR__MAX_LOOP_NESTING)
            r = m->var[e->ival];
        break;
    case WEIR__E_RULE:
        r = mv_bool(m->rule_monotone && e->ival >= 0 && m->rule_monotone[e->ival], 0, 1, 1);
        break;
    case WEIR__E_STR_FOUND:
        r = mv_bool(1, 0, 1, 1);
        break;
    case WEIR__E_STR_COUNT:
        r = mv_int(D_INC, 0, UINT32_MAX, 1, 1);
        int_truth(&r);
        break;
    case WEIR__E_STR_COUNT_IN:
    case WEIR__E_STR_IN: {
        mv_t lo = ana(e->a, m), hi = ana(e->b, m);
        /* A window that only widens holds ever more matches. */
        int widens = noninc(&lo) && nondec(&hi);
        int sdef = (lo.sdef || lo.dir == D_CONST) && (hi.sdef || hi.dir == D_CONST);
        int udef = (lo.udef || lo.dir == D_CONST) && (hi.udef || hi.dir == D_CONST);
        if (e->op == WEIR__E_STR_IN) {
            r = mv_bool(widens && sdef, 0, sdef, udef);
        } else {
            r = mv_int(widens ? D_INC : D_ANY, 0, UINT32_MAX, sdef, udef);
            int_truth(&r);
        }
        break;
    }
    case WEIR__E_STR_OFFSET: {
        /* The k-th smallest offset only falls as matches are added. */
        int64_t k = 1;
        int dec = (!e->a || known(e->a, &k)) && k >= 1;
        r = mv_int(dec ? D_DEC : D_ANY, 0, FILESIZE_MAX, dec, 0);
        int_truth(&r);
        break;
    }
    case WEIR__E_STR_LENGTH:
        r = mv_int(D_ANY, 0, UINT32_MAX, 0, 0);
        break;
    case WEIR__E_STR_AT: {
        mv_t a = ana(e->a, m);
        r = mv_bool(a.dir == D_CONST, 0, 1, 1);
        break;
    }
    case WEIR__E_NOT: {
        mv_t a = ana(e->a, m);
        r = mv_bool(a.down && a.sdef, a.up && a.udef, a.sdef, a.udef);
        break;
    }
    case WEIR__E_DEFINED: {
        /* true once a is defined for good, false while it is undefined for good */
        mv_t a = ana(e->a, m);
        r = mv_bool(a.sdef, a.udef, 1, 1);
        break;
    }
    case WEIR__E_NEG:
    case WEIR__E_BITNOT: {
        /* -a and ~a = -a - 1 reverse the order; -INT64_MIN wraps. */
        mv_t a = ana(e->a, m);
        int neg = e->op == WEIR__E_NEG, ok = a.bounded && a.lo > INT64_MIN;
        int64_t lo = ok ? (neg ? -a.hi : ~a.hi) : 0, hi = ok ? (neg ? -a.lo : ~a.lo) : 0;
        r = mk_arith(flip(a.dir), ok, lo, hi, &a, NULL);
        break;
    }
    case WEIR__E_AND:
    case WEIR__E_OR: {
        mv_t a = ana(e->a, m), b = ana(e->b, m);
        r = mv_bool(a.up && b.up, a.down && b.down, 1, 1);
        break;
    }
    default:
        if (WEIR__IS_STRING_OP(e->op))
            r = mv_bool(1, 1, 1, 1); /* on string variables: fixed while a stream is scanned */
        else if (is_binop(e->op) && e->a && e->b && e->op <= WEIR__E_NE && kind_of(e->a) == K_TEXT)
            r = mv_bool(1, 1, 1, 1); /* strings: constants or variables */
        else if (is_binop(e->op) && e->a && e->b && e->op <= WEIR__E_NE)
            r = ana_compare(e, m);
        else if (is_binop(e->op) && e->a && e->b)
            r = m_binary(e->op, ana(e->a, m), ana(e->b, m));
        break;
    case WEIR__E_OF:
        r = ana_of(e, m);
        break;
    case WEIR__E_OF_RULES: {
        /* As `of` over strings when every member only turns true (the rule itself never
           does); otherwise members may turn false again. */
        int members_up = 1;
        for (size_t i = 0; i < e->nstrs; i++)
            if (e->strs[i] != WEIR__SELF_RULE &&
                !(m->rule_monotone && m->rule_monotone[e->strs[i]]))
                members_up = 0;
        r = ana_of(e, m);
        if (!members_up)
            r.up = r.down = 0;
        break;
    }
    case WEIR__E_FOR_OF:
        r = ana_for_of(e, m);
        break;
    case WEIR__E_FOR_IN:
        r = ana_for_in(e, m);
        break;
    }
    m->depth--;
    return r;
}

int weir__cond_monotone(const weir__expr_t *e, const uint8_t *rule_monotone)
{
    if (!e)
        return 0;
    mctx_t m;
    memset(&m, 0, sizeof m);
    m.rule_monotone = rule_monotone;
    for (int i = 0; i < WEIR__MAX_LOOP_NESTING; i++)
        m.var[i] = mv_any();
    mv_t r = ana(e, &m);
    return r.up;
}

/* ---- referenced strings ----------------------------------------------------- */

static void strings_rec(const weir__expr_t *e, uint32_t base, uint32_t n,
                        void (*fn)(uint32_t, void *), void *u, int depth)
{
    if (!e || depth > MAX_TREE_DEPTH)
        return;
    if (e->op >= WEIR__E_STR_FOUND && e->op <= WEIR__E_STR_IN && e->str >= 0 &&
        (uint32_t)e->str < n)
        fn(base + (uint32_t)e->str, u);
    if (e->op == WEIR__E_OF || e->op == WEIR__E_FOR_OF)
        for (size_t i = 0; e->strs && i < e->nstrs; i++)
            if (e->strs[i] < n)
                fn(base + e->strs[i], u);
    strings_rec(e->a, base, n, fn, u, depth + 1);
    strings_rec(e->b, base, n, fn, u, depth + 1);
    strings_rec(e->c, base, n, fn, u, depth + 1);
    for (size_t i = 0; e->list && i < e->nlist; i++)
        strings_rec(e->list[i], base, n, fn, u, depth + 1);
}

void weir__cond_strings(const weir__expr_t *e, uint32_t str_base, uint32_t nstrings_in_rule,
                        void (*fn)(uint32_t gstr, void *u), void *u)
{
    if (fn)
        strings_rec(e, str_base, nstrings_in_rule, fn, u, 0);
}

static void head_walk(const weir__expr_t *e, weir__cond_head_t *h, int depth)
{
    if (!e || depth > MAX_TREE_DEPTH)
        return;
    if (e->op == WEIR__E_READ) {
        int64_t o;
        uint32_t size = (uint32_t)e->ival & WEIR__READ_SIZE;
        if (!fold(e->a, &o)) {
            if (!h->unknown)
                h->unknown_at = e->loc;
            h->unknown = 1;
        } else if (o >= 0 && (uint64_t)o + size > h->need) {
            h->need = (uint64_t)o + size;
            h->need_at = e->loc;
        }
    }
    head_walk(e->a, h, depth + 1);
    head_walk(e->b, h, depth + 1);
    head_walk(e->c, h, depth + 1);
    for (size_t i = 0; i < e->nlist; i++)
        head_walk(e->list[i], h, depth + 1);
}

void weir__cond_head(const weir__expr_t *e, weir__cond_head_t *h)
{
    head_walk(e, h, 0);
}
