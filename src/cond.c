/*
 * cond.c - YARA conditions: compile a condition tree to flat stack-machine
 * code, evaluate it against a stream's matches, and classify it as monotone.
 *
 * The semantics are those of YARA 4.2.3 as measured against the `yara` binary,
 * including its quirks:
 *  - UNDEFINED is YARA's sentinel integer 0xFFFABADAFABADAFF, so an arithmetic
 *    result that happens to equal it is undefined too, as in YARA.
 *  - `and`/`or` treat UNDEFINED as false and yield 0 or 1, except that `a or
 *    b` with a true is a's raw value (seen by loop sums); `not` keeps
 *    UNDEFINED; comparisons and arithmetic propagate it.
 *  - `for ... in` loops add the body's raw value (not 0/1) to a running sum;
 *    a quantifier N stops the loop once the sum reaches N; `all` never stops
 *    early and means sum >= iterations; no iteration at all is false; an
 *    undefined range bound means no iteration; `none` is the quantifier 0, so
 *    `for none i in ...` is true whenever there is an iteration (YARA 4.2 bug).
 *  - `for ... of` loops never stop early: the result is sum >= N (N = set
 *    size for `all` or an undefined quantifier, 0 for `none`).
 *  - `N of (set)`: an undefined N means all, 0 (and `none`) means none matched.
 *  - Text literals compare bytewise as signed chars, shorter prefix first.
 * Where YARA 4.2.3 fails instead (`#a in (lo..hi)` with lo != 0 raises an
 * internal error; INT64_MIN \ -1 kills the process with SIGFPE) we give the
 * obvious answer (the count in the range; UNDEFINED).
 */
#include "cond.h"

#include "diag.h"
#include "mem.h"
#include "textops.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond_int.h"

enum { LOOP_RANGE = 1, LOOP_ENUM, LOOP_STRS };

/* ---- arithmetic, exactly as YARA's exec.c but without C undefined behaviour ---- */

static int64_t wrap_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* The outcome of comparison op (OP_LT..OP_NE) given the sign of a - b. */
static int cmp_result(int op, int sign)
{
    static const int8_t table[6][3] = {{1, 0, 0}, {1, 1, 0}, {0, 0, 1},
                                       {0, 1, 1}, {0, 1, 0}, {1, 0, 1}};
    return table[op - OP_LT][sign + 1];
}

int64_t arith(int op, int64_t a, int64_t b)
{
    if (IS_UNDEF(a) || IS_UNDEF(b))
        return UNDEF;
    if (op >= OP_LT && op <= OP_NE)
        return cmp_result(op, a < b ? -1 : a > b);
    switch (op) {
    case OP_ADD:
        return wrap_add(a, b);
    case OP_SUB:
        return (int64_t)((uint64_t)a - (uint64_t)b);
    case OP_MUL:
        return (int64_t)((uint64_t)a * (uint64_t)b);
    case OP_DIV:
    case OP_MOD:
        /* YARA 4.2 crashes on INT64_MIN / -1; later versions say undefined. */
        if (b == 0 || (a == INT64_MIN && b == -1))
            return UNDEF;
        return op == OP_DIV ? a / b : a % b;
    case OP_SHL:
        if (b < 0)
            return UNDEF;
        return b < 64 ? (int64_t)((uint64_t)a << b) : 0;
    case OP_SHR:
        if (b < 0)
            return UNDEF;
        if (b >= 64)
            return 0;
        return a >= 0 ? a >> b : ~(~a >> b);
    case OP_BAND:
        return a & b;
    case OP_BOR:
        return a | b;
    case OP_BXOR:
        return a ^ b;
    default:
        return UNDEF;
    }
}

/* Index of the first match at offset >= off (off may be negative). */
static uint32_t lower_bound(const weir__mlist_t *m, int64_t off)
{
    if (off <= 0)
        return 0;
    uint32_t lo = 0, hi = m->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->v[mid].off < (uint64_t)off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Matches with lo <= offset <= hi (signed, as in YARA). */
static uint32_t count_in(const weir__mlist_t *m, int64_t lo, int64_t hi)
{
    if (hi < lo || hi < 0)
        return 0;
    uint32_t i = lower_bound(m, lo);
    uint32_t j = hi == INT64_MAX ? m->n : lower_bound(m, hi + 1);
    return j > i ? j - i : 0;
}

/* ---- the compiler ---------------------------------------------------------- */

typedef struct cc {
    weir__code_t *code;
    uint32_t str_base;
    const uint32_t *rule_map;
    const weir__ast_t *ast;
    weir_diags_t *diags;
    int loops;     /* loops open around the node being compiled */
    int in_for_of; /* inside the body of a `for ... of` */
    uint8_t slot_open[WEIR__MAX_LOOP_NESTING];
    size_t sp, max_sp; /* simulated value-stack depth */
    int tree_depth;
    int failed;
} cc_t;

/* Records an error at e's place; returns -1. */
static int cc_error(cc_t *c, const weir__expr_t *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cc_error(cc_t *c, const weir__expr_t *e, const char *fmt, ...)
{
    weir__loc_t none = {0, 0, 0};
    c->failed = 1;
    if (c->diags) {
        va_list ap;
        va_start(ap, fmt);
        weir__diag_vadd(c->diags, WEIR_SEV_ERROR, c->ast, e ? e->loc : none, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Appends an instruction; returns its index, or SIZE_MAX out of memory. */
static size_t emit(cc_t *c, uint8_t op, uint32_t a, int64_t imm, long delta)
{
    weir__code_t *k = c->code;
    if (c->failed)
        return SIZE_MAX; /* the caller rolls everything back */
    if (k->n >= UINT32_MAX || WEIR__GROW(NULL, k->v, k->cap, k->n + 1) != 0) {
        cc_error(c, NULL, "out of memory compiling a condition");
        return SIZE_MAX;
    }
    weir__instr_t *in = &k->v[k->n];
    memset(in, 0, sizeof *in);
    in->op = op;
    in->a = a;
    in->imm = imm;
    assert(delta >= 0 || c->sp >= (size_t)-delta);
    c->sp = (size_t)((long)c->sp + delta);
    c->max_sp = c->sp > c->max_sp ? c->sp : c->max_sp;
    return k->n++;
}

static void set_xy(cc_t *c, size_t at, int x, int y)
{
    if (at != SIZE_MAX) {
        c->code->v[at].x = (uint8_t)x;
        c->code->v[at].y = (uint16_t)y;
    }
}

static void patch(cc_t *c, size_t at, size_t target)
{
    if (at != SIZE_MAX && target != SIZE_MAX)
        c->code->v[at].imm = (int64_t)target - (int64_t)at;
}

kind_t kind_of(const weir__expr_t *e)
{
    weir__op_t op = e->op;
    if (op == WEIR__E_TEXT || op == WEIR__E_REGEX || (op == WEIR__E_EXT && e->str == 1))
        return K_TEXT;
    if (op == WEIR__E_EXT || op == WEIR__E_INT || op == WEIR__E_FILESIZE || op == WEIR__E_VAR ||
        op == WEIR__E_READ || (op >= WEIR__E_STR_COUNT && op <= WEIR__E_STR_LENGTH) ||
        op == WEIR__E_NEG || op == WEIR__E_BITNOT || (op >= WEIR__E_ADD && op <= WEIR__E_BXOR))
        return K_INT;
    return K_BOOL;
}

static const char *kind_name(kind_t k)
{
    return k == K_BOOL ? "boolean" : k == K_TEXT ? "string" : "integer";
}

static void c_expr(cc_t *c, const weir__expr_t *e);
static void c_leaf_or_other(cc_t *c, const weir__expr_t *e);

/* An integer operand; what names the operator or place for the message. */
static void c_int(cc_t *c, const weir__expr_t *e, const weir__expr_t *parent, const char *what)
{
    if (!e) {
        cc_error(c, parent, "malformed condition: missing operand of %s", what);
        return;
    }
    if (kind_of(e) != K_INT)
        cc_error(c, e, "wrong type \"%s\" for %s", kind_name(kind_of(e)), what);
    else
        c_expr(c, e);
}

/* A string operand (a string variable or a text literal): pushes its handle (OP_SREF). */
static void c_text(cc_t *c, const weir__expr_t *e)
{
    if (e->op == WEIR__E_EXT) {
        if (!c->ast || e->ival < 0 || (uint64_t)e->ival >= c->ast->nvars) {
            cc_error(c, e, "malformed condition: bad variable reference");
            return;
        }
        emit(c, OP_SREF, (uint32_t)e->ival, -1, +1);
        return;
    }
    if (e->op != WEIR__E_TEXT) {
        cc_error(c, e, "wrong type \"%s\" where a string is expected", kind_name(kind_of(e)));
        return;
    }
    weir__code_t *k = c->code;
    size_t off = k->pool_len;
    if (c->failed)
        return;
    if (e->text_len > UINT32_MAX - 4 || off > INT64_MAX / 2 ||
        WEIR__GROW(NULL, k->pool, k->pool_cap, off + 4 + e->text_len) != 0) {
        cc_error(c, e, "out of memory compiling a condition");
        return;
    }
    uint32_t n = (uint32_t)e->text_len;
    memcpy(k->pool + off, &n, 4);
    if (n)
        memcpy(k->pool + off + 4, e->text, n);
    k->pool_len = off + 4 + n;
    emit(c, OP_SREF, 0, (int64_t)off, +1);
}

/* a OP b for the string operators; a comparison of two strings when cmp is OP_LT..OP_NE. */
static void c_string_op(cc_t *c, const weir__expr_t *e, int sop)
{
    if (!e->a || !e->b) {
        cc_error(c, e, "malformed condition: missing operand of a string operator");
        return;
    }
    c_text(c, e->a);
    if (sop != WEIR__SOP_MATCHES) {
        c_text(c, e->b);
        emit(c, OP_SOP, 0, sop, -1);
        return;
    }
    if (e->b->op != WEIR__E_REGEX) {
        cc_error(c, e->b, "a regular expression is expected after \"matches\"");
        return;
    }
    weir__code_t *k = c->code;
    weir__re_t *re = NULL;
    char err[256];
    size_t err_off = 0;
    if (c->failed)
        return;
    if (weir__re_parse_regex((const uint8_t *)e->b->text, e->b->text_len,
                             (uint32_t)e->b->ival | WEIR__RE_CONDITION, &re, err, sizeof err,
                             &err_off) != 0) {
        cc_error(c, e->b, "%s", err);
        return;
    }
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are pointers */
    if (WEIR__GROW(NULL, k->res, k->res_cap, k->nres + 1) != 0) {
        weir__re_free(re);
        cc_error(c, e, "out of memory compiling a condition");
        return;
    }
    k->res[k->nres] = re;
    emit(c, OP_SOP, k->nres++, WEIR__SOP_MATCHES, 0);
}

/* A boolean operand: any kind is accepted (integers and text by truthiness). */
static void c_bool(cc_t *c, const weir__expr_t *e, const weir__expr_t *parent)
{
    if (!e) {
        cc_error(c, parent, "malformed condition: missing boolean operand");
        return;
    }
    if (e->op == WEIR__E_TEXT) {
        /* A literal: a constant. */
        emit(c, OP_PUSH, 0, e->text_len > 0, +1);
        return;
    }
    if (kind_of(e) == K_TEXT) {
        c_text(c, e);
        emit(c, OP_SOP, 0, WEIR__SOP_TRUTHY, 0);
        return;
    }
    c_expr(c, e);
}

static uint32_t str_operand(cc_t *c, const weir__expr_t *e)
{
    if (e->str == -1) {
        if (!c->in_for_of)
            cc_error(c, e,
                     "anonymous string reference ($, #, @ or !) outside of a "
                     "'for ... of' loop");
        return ANON_STR;
    }
    if (e->str < 0) {
        cc_error(c, e, "malformed condition: bad string index");
        return ANON_STR;
    }
    return c->str_base + (uint32_t)e->str;
}

static void c_quant(cc_t *c, const weir__expr_t *e)
{
    /* YARA pushes UNDEFINED for all, 1 for any and 0 for none. */
    if (e->quant == WEIR__Q_EXPR || e->quant == WEIR__Q_PERCENT)
        c_int(c, e->a, e, "a quantifier");
    else
        emit(c, OP_PUSH, 0, e->quant == WEIR__Q_ALL ? UNDEF : e->quant == WEIR__Q_ANY, +1);
}

static void c_set(cc_t *c, const weir__expr_t *e)
{
    for (size_t i = 0; i < e->nstrs; i++)
        emit(c, OP_STR, c->str_base + e->strs[i], 0, 0);
}

static int check_set(cc_t *c, const weir__expr_t *e)
{
    if (e->nstrs == 0 || !e->strs || e->nstrs > UINT32_MAX / 2)
        return cc_error(c, e, "empty string set");
    return 0;
}

static int loop_open(cc_t *c, const weir__expr_t *e)
{
    if (c->loops + 1 > WEIR__MAX_LOOP_NESTING)
        return cc_error(c, e, "loop nesting limit exceeded");
    return 0;
}

/* Emits NEXT, the body, STEP and END of a loop whose iterator is set up. */
static void c_loop_body(cc_t *c, const weir__expr_t *e, int depth, long end_delta)
{
    size_t next = emit(c, OP_LOOP_NEXT, 0, 0, 0);
    set_xy(c, next, depth, 0);
    c->loops++;
    c_bool(c, e->b, e);
    c->loops--;
    size_t step = emit(c, OP_LOOP_STEP, 0, 0, -1);
    set_xy(c, step, depth, 0);
    patch(c, step, next);
    size_t end = emit(c, OP_LOOP_END, 0, 0, end_delta);
    set_xy(c, end, depth, 0);
    patch(c, next, end);
}

static void c_for_in(cc_t *c, const weir__expr_t *e)
{
    if (loop_open(c, e) != 0)
        return;
    int64_t slot = e->ival;
    if (slot < 0 || slot >= WEIR__MAX_LOOP_NESTING || c->slot_open[slot]) {
        cc_error(c, e, "malformed condition: bad loop variable slot");
        return;
    }
    if (!e->list || (e->is_range ? e->nlist != 2 : e->nlist == 0) || e->nlist > UINT32_MAX / 2) {
        cc_error(c, e, "malformed condition: bad loop iterator");
        return;
    }
    int depth = c->loops;
    size_t start;
    long end_delta = +1;
    if (e->is_range) {
        c_int(c, e->list[0], e, "range's lower bound");
        c_int(c, e->list[1], e, "range's upper bound");
        c_quant(c, e);
        start = emit(c, OP_LOOP_RANGE, 0, 0, -3);
    } else {
        for (size_t i = 0; i < e->nlist; i++)
            c_int(c, e->list[i], e, "enumeration item");
        c_quant(c, e);
        start = emit(c, OP_LOOP_ENUM, (uint32_t)e->nlist, 0, -1);
        end_delta = 1 - (long)e->nlist;
    }
    set_xy(c, start, depth, (int)slot);
    c->slot_open[slot] = 1;
    c_loop_body(c, e, depth, end_delta);
    c->slot_open[slot] = 0;
}

static void c_for_of(cc_t *c, const weir__expr_t *e)
{
    if (loop_open(c, e) != 0)
        return;
    if (c->in_for_of) {
        cc_error(c, e, "'for <quantifier> of <string set>' loops can't be nested");
        return;
    }
    if (check_set(c, e) != 0)
        return;
    int depth = c->loops;
    c_quant(c, e);
    size_t start = emit(c, OP_LOOP_STRS, (uint32_t)e->nstrs, 0, -1);
    set_xy(c, start, depth, 0);
    c_set(c, e);
    c->in_for_of = 1;
    c_loop_body(c, e, depth, +1);
    c->in_for_of = 0;
}

/* WEIR__E_LT..WEIR__E_BXOR and OP_LT..OP_BXOR are in the same order. */
static uint8_t binop(weir__op_t op)
{
    return (uint8_t)(OP_LT + (op - WEIR__E_LT));
}

int is_binop(weir__op_t op)
{
    return op >= WEIR__E_LT && op <= WEIR__E_BXOR;
}

static const char *op_name(weir__op_t op)
{
    static const char *const names[] = {"<", "<=", ">", ">=", "==", "!=", "+", "-",
                                        "*", "\\", "%", "<<", ">>", "&",  "|", "^"};
    return op >= WEIR__E_LT && op <= WEIR__E_BXOR ? names[op - WEIR__E_LT] : "?";
}

/* 1 when e is a constant for YARA's parser (literals and operations on them). */
int fold(const weir__expr_t *e, int64_t *v)
{
    int64_t a, b;
    if (e && e->op == WEIR__E_INT)
        *v = e->ival;
    else if (e && (e->op == WEIR__E_NEG || e->op == WEIR__E_BITNOT) && fold(e->a, &a))
        *v = e->op == WEIR__E_NEG ? (int64_t)(0 - (uint64_t)a) : ~a;
    else if (e && is_binop(e->op) && e->op >= WEIR__E_ADD && fold(e->a, &a) && fold(e->b, &b))
        *v = arith(binop(e->op), a, b);
    else
        return 0;
    return !IS_UNDEF(*v);
}

/* a OP b on integers; YARA refuses some operations on constants. */
static void c_arith(cc_t *c, const weir__expr_t *e)
{
    char what[16];
    int64_t a, b, r = 0;
    int ca = fold(e->a, &a), cb = fold(e->b, &b);
    if (cb && b == 0 && (e->op == WEIR__E_DIV || e->op == WEIR__E_MOD)) {
        cc_error(c, e, "division by zero");
        return;
    }
    if (cb && b < 0 && (e->op == WEIR__E_SHL || e->op == WEIR__E_SHR)) {
        cc_error(c, e, "negative shift count");
        return;
    }
    if (ca && cb &&
        ((e->op == WEIR__E_ADD && __builtin_add_overflow(a, b, &r)) ||
         (e->op == WEIR__E_SUB && __builtin_sub_overflow(a, b, &r)) ||
         (e->op == WEIR__E_MUL && __builtin_mul_overflow(a, b, &r)))) {
        cc_error(c, e, "integer overflow in \"%" PRId64 " %s %" PRId64 "\"", a, op_name(e->op), b);
        return;
    }
    snprintf(what, sizeof what, "%s operator", op_name(e->op));
    c_int(c, e->a, e, what);
    c_int(c, e->b, e, what);
    emit(c, binop(e->op), 0, 0, -1);
}

static void c_compare(cc_t *c, const weir__expr_t *e)
{
    if (!e->a || !e->b) {
        cc_error(c, e, "malformed condition: missing operand of %s", op_name(e->op));
        return;
    }
    kind_t ka = kind_of(e->a), kb = kind_of(e->b);
    if (ka == K_TEXT && kb == K_TEXT && e->a->op == WEIR__E_TEXT && e->b->op == WEIR__E_TEXT) {
        /* Both sides are literals, so the comparison is a constant. */
        int r = weir__text_cmp((const uint8_t *)(e->a->text ? e->a->text : ""), e->a->text_len,
                               (const uint8_t *)(e->b->text ? e->b->text : ""), e->b->text_len);
        emit(c, OP_PUSH, 0, cmp_result(binop(e->op), r), +1);
        return;
    }
    if (ka == K_TEXT && kb == K_TEXT) {
        c_string_op(c, e, WEIR__SOP_LT + (binop(e->op) - OP_LT));
        return;
    }
    if (ka == K_TEXT || kb == K_TEXT) {
        cc_error(c, e, "type mismatch for %s operator", op_name(e->op));
        return;
    }
    c_arith(c, e);
}

static void c_expr(cc_t *c, const weir__expr_t *e)
{
    if (c->failed)
        return;
    if (++c->tree_depth > MAX_TREE_DEPTH) {
        cc_error(c, e, "condition nested too deeply");
        c->tree_depth--;
        return;
    }
    if (e->op >= WEIR__E_LT && e->op <= WEIR__E_NE) {
        c_compare(c, e);
    } else if (is_binop(e->op)) {
        c_arith(c, e);
    } else {
        c_leaf_or_other(c, e);
    }
    c->tree_depth--;
}

static void c_leaf_or_other(cc_t *c, const weir__expr_t *e)
{
    switch (e->op) {
    case WEIR__E_BOOL:
        emit(c, OP_PUSH, 0, e->ival != 0, +1);
        break;
    case WEIR__E_INT:
        emit(c, OP_PUSH, 0, e->ival, +1);
        break;
    case WEIR__E_TEXT:
        cc_error(c, e, "a text string can only be compared with another text string");
        break;
    case WEIR__E_EXT:
        if (e->str == 1) {
            cc_error(c, e, "a string variable can only be compared or searched here");
            break;
        }
        if (!c->ast || e->ival < 0 || (uint64_t)e->ival >= c->ast->nvars) {
            cc_error(c, e, "malformed condition: bad variable reference");
            break;
        }
        emit(c, OP_EXT, (uint32_t)e->ival, 0, +1);
        break;
    case WEIR__E_FILESIZE:
        emit(c, OP_FILESIZE, 0, 0, +1);
        break;
    case WEIR__E_DEFINED:
        c_bool(c, e->a, e); /* the raw value: undefined stays undefined */
        emit(c, OP_DEFINED, 0, 0, 0);
        break;
    case WEIR__E_READ:
        c_int(c, e->a, e, "integer read's offset");
        emit(c, OP_READ, (uint32_t)e->ival, 0, 0);
        break;
    case WEIR__E_RULE:
        if (e->ival < 0 || !c->rule_map || (c->ast && (uint64_t)e->ival >= c->ast->nrules)) {
            cc_error(c, e, "malformed condition: bad rule reference");
            break;
        }
        emit(c, OP_RULE, c->rule_map[e->ival], 0, +1);
        break;
    case WEIR__E_VAR:
        if (e->ival < 0 || e->ival >= WEIR__MAX_LOOP_NESTING || !c->slot_open[e->ival]) {
            cc_error(c, e, "loop variable used outside its loop");
            break;
        }
        set_xy(c, emit(c, OP_VAR, 0, 0, +1), 0, (int)e->ival);
        break;
    case WEIR__E_STR_FOUND:
        emit(c, OP_FOUND, str_operand(c, e), 0, +1);
        break;
    case WEIR__E_STR_COUNT:
        emit(c, OP_COUNT, str_operand(c, e), 0, +1);
        break;
    case WEIR__E_STR_COUNT_IN:
    case WEIR__E_STR_IN:
        c_int(c, e->a, e, "range's lower bound");
        c_int(c, e->b, e, "range's upper bound");
        emit(c, e->op == WEIR__E_STR_IN ? OP_IN : OP_COUNT_IN, str_operand(c, e), 0, -1);
        break;
    case WEIR__E_STR_OFFSET:
    case WEIR__E_STR_LENGTH:
        if (e->a)
            c_int(c, e->a, e, "a string index");
        else
            emit(c, OP_PUSH, 0, 1, +1);
        emit(c, e->op == WEIR__E_STR_OFFSET ? OP_OFFSET : OP_LENGTH, str_operand(c, e), 0, 0);
        break;
    case WEIR__E_STR_AT:
        c_int(c, e->a, e, "at operator");
        emit(c, OP_AT, str_operand(c, e), 0, 0);
        break;
    case WEIR__E_NOT:
        c_bool(c, e->a, e);
        emit(c, OP_NOT, 0, 0, 0);
        break;
    case WEIR__E_NEG:
        c_int(c, e->a, e, "- operator");
        emit(c, OP_NEG, 0, 0, 0);
        break;
    case WEIR__E_BITNOT:
        c_int(c, e->a, e, "~ operator");
        emit(c, OP_BITNOT, 0, 0, 0);
        break;
    case WEIR__E_AND:
    case WEIR__E_OR: {
        c_bool(c, e->a, e);
        size_t j = emit(c, e->op == WEIR__E_AND ? OP_JFALSE : OP_JTRUE, 0, 0, -1);
        c_bool(c, e->b, e);
        size_t end = emit(c, OP_TOBOOL, 0, 0, 0);
        patch(c, j, end + 1);
        break;
    }
    case WEIR__E_OF:
        if (check_set(c, e) != 0)
            break;
        c_quant(c, e);
        emit(c, OP_OF, (uint32_t)e->nstrs, e->quant == WEIR__Q_PERCENT, 0);
        c_set(c, e);
        break;
    case WEIR__E_OF_RULES:
        if (e->nstrs == 0 || !e->strs || e->nstrs > UINT32_MAX / 2) {
            cc_error(c, e, "empty rule set");
            break;
        }
        c_quant(c, e);
        emit(c, OP_OFR, (uint32_t)e->nstrs, e->quant == WEIR__Q_PERCENT, 0);
        for (size_t i = 0; i < e->nstrs; i++) {
            uint32_t m = e->strs[i];
            if (m != WEIR__SELF_RULE && (!c->rule_map || (c->ast && m >= c->ast->nrules))) {
                cc_error(c, e, "malformed condition: bad rule reference");
                break;
            }
            emit(c, OP_RMEM, m == WEIR__SELF_RULE ? UINT32_MAX : c->rule_map[m], 0, 0);
        }
        break;
    case WEIR__E_FOR_OF:
        c_for_of(c, e);
        break;
    case WEIR__E_FOR_IN:
        c_for_in(c, e);
        break;
    default:
        if (WEIR__IS_STRING_OP(e->op)) {
            static const int sops[] = {WEIR__SOP_CONTAINS,   WEIR__SOP_ICONTAINS,
                                       WEIR__SOP_STARTSWITH, WEIR__SOP_ISTARTSWITH,
                                       WEIR__SOP_ENDSWITH,   WEIR__SOP_IENDSWITH,
                                       WEIR__SOP_IEQUALS,    WEIR__SOP_MATCHES};
            c_string_op(c, e, sops[e->op - WEIR__E_CONTAINS]);
            break;
        }
        cc_error(c, e, "malformed condition: unknown node");
    }
}

int weir__cond_compile(weir__code_t *code, const weir__expr_t *e, uint32_t str_base,
                       const uint32_t *rule_map, const weir__ast_t *ast, weir_diags_t *diags,
                       uint32_t *entry)
{
    if (!code || !e || !entry)
        return -1;
    cc_t c;
    memset(&c, 0, sizeof c);
    c.code = code;
    c.str_base = str_base;
    c.rule_map = rule_map;
    c.ast = ast;
    c.diags = diags;

    size_t n0 = code->n, pool0 = code->pool_len;
    uint32_t nres0 = code->nres;
    size_t enter = emit(&c, OP_ENTER, 0, 0, 0);
    c_bool(&c, e, NULL);
    emit(&c, OP_HALT, 0, 0, -1);
    if (!c.failed && c.max_sp > WEIR__MAX_STACK)
        cc_error(&c, e, "condition too complex (needs more than 16384 stack slots)");
    if (c.failed) {
        code->n = n0;
        code->pool_len = pool0;
        while (code->nres > nres0)
            weir__re_free(code->res[--code->nres]);
        return -1;
    }
    assert(c.sp == 0);
    code->v[enter].imm = (int64_t)c.max_sp;
    *entry = (uint32_t)enter;
    return 0;
}

void weir__code_free(weir__code_t *code)
{
    if (!code)
        return;
    weir__free(NULL, code->v, code->cap * sizeof *code->v);
    weir__free(NULL, code->pool, code->pool_cap);
    for (uint32_t i = 0; i < code->nres; i++)
        weir__re_free(code->res[i]);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are pointers */
    weir__free(NULL, code->res, code->res_cap * sizeof *code->res);
    memset(code, 0, sizeof *code);
}

/* ---- checking loaded code -------------------------------------------------- */

/* The jump at pc stays inside code, goes in direction dir and lands on want (0: anything). */
static int jump_ok(const weir__code_t *k, size_t pc, uint8_t want, int dir)
{
    int64_t t = (int64_t)pc + k->v[pc].imm;
    return t >= 0 && (uint64_t)t < k->n && (want == 0 || k->v[t].op == want) &&
           (dir > 0 ? k->v[pc].imm > 0 : k->v[pc].imm < 0);
}

static int read_kind_ok(uint32_t k)
{
    uint32_t size = k & WEIR__READ_SIZE;
    return (k & ~(WEIR__READ_SIZE | WEIR__READ_SIGNED | WEIR__READ_BE)) == 0 &&
           (size == 1 || size == 2 || size == 4);
}

/* YARA's integer read of the kind k at offset o, or UNDEF beyond the bytes known. */
static int64_t read_int(const weir__evalctx_t *ctx, uint32_t k, int64_t o)
{
    uint32_t size = k & WEIR__READ_SIZE;
    uint64_t avail = ctx->head_len < ctx->filesize ? ctx->head_len : ctx->filesize;
    if (IS_UNDEF(o) || o < 0 || (uint64_t)o > avail || avail - (uint64_t)o < size || !ctx->head)
        return UNDEF;
    const uint8_t *b = ctx->head + o;
    uint32_t v = 0;
    for (uint32_t i = 0; i < size; i++)
        v |= (uint32_t)b[(k & WEIR__READ_BE) ? size - 1 - i : i] << (8 * i);
    if (!(k & WEIR__READ_SIGNED))
        return (int64_t)v;
    return size == 1 ? (int64_t)(int8_t)v : size == 2 ? (int64_t)(int16_t)v : (int64_t)(int32_t)v;
}

/* A pool literal at off lies inside the pool. */
static int literal_ok(const weir__code_t *k, int64_t off)
{
    uint32_t n;
    if (off < 0 || (uint64_t)off > k->pool_len || k->pool_len - (uint64_t)off < 4)
        return 0;
    memcpy(&n, k->pool + off, 4);
    return k->pool_len - (uint64_t)off - 4 >= n;
}

int weir__code_check(const weir__code_t *code, uint32_t nstrings, uint32_t nrules,
                     const weir_var_t *vars, uint32_t nvars)
{
    if (!code || (code->n && !code->v) || (code->pool_len && !code->pool) ||
        (code->nres && !code->res))
        return -1;
    for (size_t pc = 0; pc < code->n; pc++) {
        const weir__instr_t *in = &code->v[pc];
        uint8_t op = in->op;
        if (op == 0 || op >= OP_LAST || in->x >= WEIR__MAX_LOOP_NESTING ||
            in->y >= WEIR__MAX_LOOP_NESTING ||
            (op >= OP_FOUND && op <= OP_IN && in->a >= nstrings && in->a != ANON_STR) ||
            (op == OP_ENTER && (in->imm < 0 || in->imm > (int64_t)WEIR__MAX_STACK)) ||
            (op == OP_RULE && in->a >= nrules) || (op == OP_STR && in->a >= nstrings) ||
            (op == OP_READ && !read_kind_ok(in->a)) ||
            ((op == OP_OF || op == OP_OFR) && (in->imm < 0 || in->imm > 1)) ||
            (op == OP_RMEM && in->a >= nrules && in->a != UINT32_MAX) ||
            (op == OP_EXT && (in->a >= nvars || vars[in->a].type == WEIR_VAR_STRING)) ||
            (op == OP_SREF && in->imm == -1 &&
             (in->a >= nvars || vars[in->a].type != WEIR_VAR_STRING)) ||
            (op == OP_SREF && in->imm != -1 && !literal_ok(code, in->imm)) ||
            (op == OP_SOP && (in->imm < 0 || in->imm >= WEIR__SOP_LAST)) ||
            (op == OP_SOP && in->imm == WEIR__SOP_MATCHES && in->a >= code->nres) ||
            ((op == OP_JFALSE || op == OP_JTRUE) && !jump_ok(code, pc, 0, 1)) ||
            (op == OP_LOOP_NEXT && !jump_ok(code, pc, OP_LOOP_END, 1)) ||
            (op == OP_LOOP_STEP && !jump_ok(code, pc, OP_LOOP_NEXT, -1)))
            return -1;
        if (op == OP_OF || op == OP_LOOP_STRS || op == OP_OFR) {
            uint8_t member = op == OP_OFR ? OP_RMEM : OP_STR;
            if (in->a == 0 || in->a > code->n - pc - 1)
                return -1;
            for (uint32_t i = 1; i <= in->a; i++)
                if (code->v[pc + i].op != member)
                    return -1;
        }
    }
    return 0;
}

int weir__code_is_entry(const weir__code_t *code, uint32_t entry)
{
    return code && entry < code->n && code->v[entry].op == OP_ENTER;
}

/* ---- the evaluator --------------------------------------------------------- */

typedef struct frame {
    int kind;
    uint16_t slot;
    int64_t next, last; /* LOOP_RANGE */
    int empty;          /* LOOP_RANGE with an undefined bound */
    uint32_t idx, n;    /* LOOP_ENUM, LOOP_STRS */
    size_t base;        /* LOOP_ENUM: stack index of item 0; LOOP_STRS: pc of OP_STR 0 */
    int64_t q, sum;
    uint64_t iters;
} frame_t;

#define LOCAL_STACK 256

typedef struct text {
    const uint8_t *s;
    size_t n;
} text_t;

/* The string an OP_SREF handle names: a variable (h >= 0) or a pool literal (-1 - offset). */
static text_t text_of(const weir__code_t *code, const weir__evalctx_t *ctx, int64_t h)
{
    text_t t = {(const uint8_t *)"", 0};
    if (h >= 0) {
        if (ctx->vars && (uint64_t)h < ctx->nvars && ctx->vars[h].s) {
            t.s = ctx->vars[h].s;
            t.n = ctx->vars[h].len;
        }
        return t;
    }
    uint64_t off = (uint64_t)(-1 - h);
    uint32_t n;
    if (off > code->pool_len || code->pool_len - off < 4)
        return t;
    memcpy(&n, code->pool + off, 4);
    if (code->pool_len - off - 4 < n)
        return t;
    t.s = code->pool + off + 4;
    t.n = n;
    return t;
}

int weir__cond_eval(const weir__code_t *code, uint32_t entry, const weir__evalctx_t *ctx,
                    int *out_of_steps)
{
    int64_t local[LOCAL_STACK];
    int64_t *st = local;
    int64_t vars[WEIR__MAX_LOOP_NESTING] = {0, 0, 0, 0};
    frame_t fr[WEIR__MAX_LOOP_NESTING];
    static const weir__mlist_t no_matches = {NULL, 0, 0};
    uint32_t anon = ANON_STR;
    int result = 0;

    if (out_of_steps)
        *out_of_steps = 0;
    if (!ctx || !weir__code_is_entry(code, entry))
        goto fail;
    const weir__instr_t *v = code->v;
    const size_t n = code->n;
    int64_t need = v[entry].imm;
    if (need < 0 || need > (int64_t)WEIR__MAX_STACK)
        goto fail;
    size_t cap = need > LOCAL_STACK ? (size_t)need : LOCAL_STACK;
    if (cap > LOCAL_STACK && !(st = weir__malloc(NULL, cap * sizeof *st)))
        goto fail;
    memset(fr, 0, sizeof fr);
    const uint64_t budget = ctx->max_steps ? ctx->max_steps : WEIR__DEFAULT_MAX_STEPS;
    uint64_t steps = 0;
    size_t sp = 0, pc = (size_t)entry + 1;
    int64_t r1, r2, r3;

#define PUSH(x)                                                                                    \
    do {                                                                                           \
        if (sp >= cap)                                                                             \
            goto malformed;                                                                        \
        st[sp++] = (x);                                                                            \
    } while (0)
#define POP(x)                                                                                     \
    do {                                                                                           \
        if (sp == 0)                                                                               \
            goto malformed;                                                                        \
        (x) = st[--sp];                                                                            \
    } while (0)
#define MLIST(a) (ctx->strings ? &ctx->strings[(a) == ANON_STR ? anon : (a)] : &no_matches)
#define JUMP(rel)                                                                                  \
    do {                                                                                           \
        int64_t t__ = (int64_t)pc + (rel);                                                         \
        if (t__ < 0 || (uint64_t)t__ >= n)                                                         \
            goto malformed;                                                                        \
        pc = (size_t)t__;                                                                          \
    } while (0)

    for (;;) {
        if (pc >= n)
            goto malformed;
        if (++steps > budget)
            goto exhausted;
        const weir__instr_t *in = &v[pc];
        if (in->x >= WEIR__MAX_LOOP_NESTING || in->y >= WEIR__MAX_LOOP_NESTING)
            goto malformed;
        if (in->op >= OP_LT && in->op <= OP_BXOR) {
            POP(r2);
            POP(r1);
            PUSH(arith(in->op, r1, r2));
            pc++;
            continue;
        }
        if (in->a == ANON_STR && anon == ANON_STR && in->op >= OP_FOUND && in->op <= OP_IN)
            goto malformed;
        switch (in->op) {
        case OP_HALT:
            POP(r1);
            result = TRUTHY(r1);
            goto done;
        case OP_PUSH:
            PUSH(in->imm);
            break;
        case OP_FILESIZE:
            PUSH((int64_t)ctx->filesize);
            break;
        case OP_READ:
            POP(r1);
            PUSH(read_int(ctx, in->a, r1));
            break;
        case OP_DEFINED:
            POP(r1);
            PUSH(!IS_UNDEF(r1));
            break;
        case OP_EXT:
            PUSH(ctx->vars && in->a < ctx->nvars ? ctx->vars[in->a].i : UNDEF);
            break;
        case OP_SREF:
            PUSH(in->imm >= 0 ? -1 - in->imm : (int64_t)in->a);
            break;
        case OP_SOP: {
            text_t ta, tb = {NULL, 0};
            int sop = (int)in->imm;
            if (sop != WEIR__SOP_TRUTHY && sop != WEIR__SOP_MATCHES) {
                POP(r2);
                tb = text_of(code, ctx, r2);
            }
            POP(r1);
            ta = text_of(code, ctx, r1);
            if (sop == WEIR__SOP_MATCHES)
                PUSH(in->a < code->nres && weir__text_matches(code->res[in->a], ta.s, ta.n));
            else
                PUSH(weir__text_op(sop, ta.s, ta.n, tb.s, tb.n));
            break;
        }
        case OP_RULE:
            PUSH(ctx->rule_true && ctx->rule_true[in->a] ? 1 : 0);
            break;
        case OP_VAR:
            PUSH(vars[in->y]);
            break;
        case OP_FOUND:
            PUSH(MLIST(in->a)->n > 0);
            break;
        case OP_COUNT:
            PUSH((int64_t)MLIST(in->a)->n);
            break;
        case OP_COUNT_IN:
        case OP_IN:
            POP(r2);
            POP(r1);
            if (IS_UNDEF(r1) || IS_UNDEF(r2)) {
                PUSH(UNDEF);
            } else {
                uint32_t cnt = count_in(MLIST(in->a), r1, r2);
                PUSH(in->op == OP_IN ? cnt > 0 : (int64_t)cnt);
            }
            break;
        case OP_OFFSET:
        case OP_LENGTH: {
            const weir__mlist_t *m = MLIST(in->a);
            POP(r1);
            if (IS_UNDEF(r1) || r1 < 1 || (uint64_t)r1 > m->n)
                PUSH(UNDEF);
            else if (in->op == OP_OFFSET)
                PUSH((int64_t)m->v[r1 - 1].off);
            else
                PUSH((int64_t)m->v[r1 - 1].len);
            break;
        }
        case OP_AT: {
            const weir__mlist_t *m = MLIST(in->a);
            POP(r1);
            /* An undefined offset makes `at` false, not undefined. */
            if (IS_UNDEF(r1) || r1 < 0) {
                PUSH(0);
            } else {
                uint32_t i = lower_bound(m, r1);
                PUSH(i < m->n && m->v[i].off == (uint64_t)r1);
            }
            break;
        }
        case OP_NOT:
            POP(r1);
            PUSH(IS_UNDEF(r1) ? UNDEF : !r1);
            break;
        case OP_NEG:
            POP(r1);
            PUSH(IS_UNDEF(r1) ? UNDEF : (int64_t)(0 - (uint64_t)r1));
            break;
        case OP_BITNOT:
            POP(r1);
            PUSH(IS_UNDEF(r1) ? UNDEF : ~r1);
            break;
        case OP_TOBOOL:
            POP(r1);
            PUSH(TRUTHY(r1));
            break;
        case OP_JFALSE:
        case OP_JTRUE:
            POP(r1);
            if (TRUTHY(r1) == (in->op == OP_JTRUE)) {
                PUSH(in->op == OP_JTRUE ? r1 : 0); /* `or` keeps a true raw value */
                JUMP(in->imm);
                continue;
            }
            break;
        case OP_OF:
        case OP_OFR: {
            uint32_t cnt = in->a, found = 0;
            if (cnt == 0 || cnt > n - pc - 1)
                goto malformed;
            POP(r1);
            for (uint32_t i = 1; i <= cnt; i++) {
                const weir__instr_t *m = &v[pc + i];
                if (in->op == OP_OFR && m->op == OP_RMEM)
                    found += m->a != UINT32_MAX && ctx->rule_true && ctx->rule_true[m->a];
                else if (in->op == OP_OF && m->op == OP_STR && m->a != ANON_STR)
                    found += MLIST(m->a)->n > 0;
                else
                    goto malformed;
            }
            steps += cnt;
            if (in->imm) /* N% of: YARA compares in double precision */
                r2 = IS_UNDEF(r1) ? UNDEF : ((double)found / cnt) * 100 >= (double)r1;
            else if (IS_UNDEF(r1))
                r2 = found >= cnt;
            else if (r1 == 0)
                r2 = found == 0;
            else
                r2 = (int64_t)found >= r1;
            PUSH(r2);
            pc += cnt;
            break;
        }
        case OP_LOOP_RANGE:
        case OP_LOOP_ENUM:
        case OP_LOOP_STRS: {
            frame_t *f = &fr[in->x];
            memset(f, 0, sizeof *f);
            f->slot = in->y;
            POP(f->q);
            if (in->op == OP_LOOP_RANGE) {
                f->kind = LOOP_RANGE;
                POP(r2);
                POP(r1);
                f->next = r1;
                f->last = r2;
                f->empty = IS_UNDEF(r1) || IS_UNDEF(r2);
            } else if (in->op == OP_LOOP_ENUM) {
                f->kind = LOOP_ENUM;
                f->n = in->a;
                if (f->n > sp)
                    goto malformed;
                f->base = sp - f->n;
            } else {
                f->kind = LOOP_STRS;
                f->n = in->a;
                if (f->n == 0 || f->n > n - pc - 1)
                    goto malformed;
                f->base = pc + 1;
                pc += f->n;
            }
            break;
        }
        case OP_LOOP_NEXT: {
            frame_t *f = &fr[in->x];
            int more = 0;
            if (f->kind == LOOP_RANGE) {
                if (!f->empty && f->next <= f->last) {
                    vars[f->slot] = f->next;
                    /* YARA steps past INT64_MAX by wrapping, so such a loop
                       runs until the budget is gone. */
                    f->next = wrap_add(f->next, 1);
                    more = 1;
                }
            } else if (f->kind == LOOP_ENUM) {
                if (f->idx < f->n) {
                    if (f->base + f->idx >= sp)
                        goto malformed;
                    vars[f->slot] = st[f->base + f->idx++];
                    more = 1;
                }
            } else if (f->kind == LOOP_STRS) {
                if (f->idx < f->n) {
                    anon = v[f->base + f->idx++].a;
                    if (anon == ANON_STR)
                        goto malformed;
                    more = 1;
                }
            } else {
                goto malformed;
            }
            if (!more) {
                JUMP(in->imm);
                continue;
            }
            break;
        }
        case OP_LOOP_STEP: {
            frame_t *f = &fr[in->x];
            POP(r1);
            if (!IS_UNDEF(r1))
                f->sum = wrap_add(f->sum, r1);
            f->iters++;
            /* `for ... of` never stops early, nor does `all`; a quantifier N
               stops once the sum reaches N. */
            if (f->kind == LOOP_STRS || IS_UNDEF(f->q) || f->sum < f->q) {
                JUMP(in->imm);
                continue;
            }
            break;
        }
        case OP_LOOP_END: {
            frame_t *f = &fr[in->x];
            if (f->iters == 0)
                r3 = 0;
            else if (IS_UNDEF(f->q))
                r3 = f->sum >= (int64_t)f->iters;
            else
                r3 = f->sum >= f->q;
            if (f->kind == LOOP_ENUM) {
                if (f->base > sp)
                    goto malformed;
                sp = f->base;
            } else if (f->kind == LOOP_STRS) {
                anon = ANON_STR;
            }
            f->kind = 0;
            PUSH(r3);
            break;
        }
        default:
            goto malformed;
        }
        pc++;
    }

malformed: /* reported like an exhausted budget: no answer */
exhausted:
    result = 0;
    if (out_of_steps)
        *out_of_steps = 1;
done:
    if (st != local)
        weir__free(NULL, st, cap * sizeof *st);
    return result;
fail:
    if (out_of_steps)
        *out_of_steps = 1;
    return 0;
#undef PUSH
#undef POP
#undef MLIST
#undef JUMP
}
