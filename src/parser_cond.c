/*
 * parser_cond.c - YARA conditions: expressions with YARA's precedence and
 * types, string references, quantifiers and loops, into weir__expr_t trees.
 */
#include "diag.h"
#include "mem.h"
#include "parser_int.h"
#include "re.h"

#include <assert.h>
#include <stdarg.h>
#include <string.h>

/* ---- expression nodes ---------------------------------------------------------- */

static weir__expr_t *mk(parser_t *p, weir__op_t op, weir__loc_t loc)
{
    weir__expr_t *e = weir__calloc(NULL, 1, sizeof *e);
    if (!e) {
        p->lx.oom = 1;
        return NULL;
    }
    e->op = op;
    e->loc = loc;
    return e;
}

static weir__expr_t *mk2(parser_t *p, weir__op_t op, weir__loc_t loc, weir__expr_t *a,
                         weir__expr_t *b)
{
    weir__expr_t *e = mk(p, op, loc);
    if (!e) {
        weir__expr_free(a);
        weir__expr_free(b);
        return NULL;
    }
    e->a = a;
    e->b = b;
    return e;
}

/* Whether e is what YARA calls a primary expression: a value that arithmetic
   and comparisons accept, as opposed to a boolean condition. */
static int is_primary(const weir__expr_t *e)
{
#define B(op) (1ull << WEIR__E_##op)
    const unsigned long long primary =
        B(INT) | B(TEXT) | B(FILESIZE) | B(RULE) | B(VAR) | B(READ) | B(STR_COUNT) |
        B(STR_COUNT_IN) | B(STR_OFFSET) | B(STR_LENGTH) | B(NEG) | B(BITNOT) | B(ADD) | B(SUB) |
        B(MUL) | B(DIV) | B(MOD) | B(SHL) | B(SHR) | B(BAND) | B(BOR) | B(BXOR) | B(EXT);
#undef B
    return (int)((primary >> e->op) & 1);
}

static int type_of(const weir__expr_t *e)
{
    if (e->op == WEIR__E_TEXT || (e->op == WEIR__E_EXT && e->str == 1))
        return TY_TEXT;
    if (e->op == WEIR__E_RULE && e->ival < 0)
        return TY_ANY;
    if (e->op == WEIR__E_RULE || !is_primary(e))
        return TY_BOOL;
    return TY_INT;
}

/* The value of a constant integer expression (wrapping), or 0 when e is not one. */
static int const_value(const weir__expr_t *e, int64_t *v)
{
    int64_t x, y;
    assert(e); /* every operand of NEG, ADD, SUB and MUL is set */
    switch (e->op) {
    case WEIR__E_INT:
        *v = e->ival;
        return 1;
    case WEIR__E_NEG:
        if (!const_value(e->a, &x))
            return 0;
        *v = (int64_t)(0 - (uint64_t)x);
        return 1;
    case WEIR__E_ADD:
    case WEIR__E_SUB:
    case WEIR__E_MUL:
        if (!const_value(e->a, &x) || !const_value(e->b, &y))
            return 0;
        *v = e->op == WEIR__E_ADD   ? (int64_t)((uint64_t)x + (uint64_t)y)
             : e->op == WEIR__E_SUB ? (int64_t)((uint64_t)x - (uint64_t)y)
                                    : (int64_t)((uint64_t)x * (uint64_t)y);
        return 1;
    default:
        return 0;
    }
}

/*
 * An operand that must be an integer (of op, named for messages): reports a
 * boolean condition or a value of another type; the tree stays usable.
 */
static void need_type(parser_t *p, const weir__expr_t *e, int ty, const char *op)
{
    if (!is_primary(e))
        error_at(p, e->loc, "syntax error, a boolean expression cannot be an operand of \"%s\"",
                 op);
    else if (type_of(e) != ty && type_of(e) != TY_ANY)
        error_at(p, e->loc, "wrong type \"%s\" for %s operator", type_name(type_of(e)), op);
}

static void need_int(parser_t *p, const weir__expr_t *e, const char *op)
{
    need_type(p, e, TY_INT, op);
}

static int enter(parser_t *p)
{
    if (++p->nest > MAX_NESTING) {
        p->nest--;
        error_at(p, p->tok.loc, "expression nesting too deep (more than %d levels)", MAX_NESTING);
        return -1;
    }
    return 0;
}

/* ---- string references ---------------------------------------------------------- */

/* Index of the string named name[0..n) ("$a"), or -1. */
long find_string(const parser_t *p, const char *name, size_t n)
{
    for (size_t i = 0; i < p->r.nstrings; i++)
        if (strlen(p->r.strings[i].id) == n && memcmp(p->r.strings[i].id, name, n) == 0)
            return (long)i;
    return -1;
}

/*
 * Resolves the string of the current token ($a, #a, @a, !a: the sigil is
 * replaced by '$'): its index, or -1 for the anonymous string of a for ... of.
 */
NOINLINE static int32_t resolve_string(parser_t *p)
{
    char name[WEIR__MAX_IDENT + 2];
    size_t n = p->tok.end - p->tok.start;
    if (n > WEIR__MAX_IDENT + 1)
        n = WEIR__MAX_IDENT + 1;
    memcpy(name, p->lx.text + p->tok.start, n);
    name[0] = '$';
    if (n == 1) {
        if (!p->in_for_of)
            error_at(p, p->tok.loc,
                     "wrong use of anonymous string: \"%c\" without a name is only allowed "
                     "inside \"for ... of\"",
                     p->lx.text[p->tok.start]);
        return -1;
    }
    long i = find_string(p, name, n);
    if (i < 0) {
        error_at(p, p->tok.loc, "undefined string identifier \"%.*s\"", (int)n, name);
        return -1;
    }
    p->refd[i] = 1;
    return (int32_t)i;
}

/* `them` or ( $a, $b*, ... ): sets e->strs/nstrs, sorted without repeats. */
void weir__p_check_wild(parser_t *p, const char *name, weir__loc_t loc)
{
    for (size_t i = 0; i < p->nwild; i++) {
        if (strncmp(name, p->wild[i], strlen(p->wild[i])) == 0) {
            error_at(p, loc, "rule identifier \"%s\" matches previously used wildcard rule set",
                     name);
            return;
        }
    }
}

/* Appends member m to e's rule set; -1 out of memory. */
static int add_member(parser_t *p, weir__expr_t *e, size_t *cap, uint32_t m)
{
    if (grow(p, (void **)&e->strs, cap, e->nstrs + 1, sizeof *e->strs) != 0)
        return -1;
    e->strs[e->nstrs++] = m;
    return 0;
}

/* A rule set "(rule, prefix*, ...)" after `of`, from its first identifier: rules of the
   namespace declared before, and the rule itself (never true while it is evaluated). */
NOINLINE static int parse_rule_set(parser_t *p, weir__expr_t *e)
{
    size_t cap = 0;
    e->op = WEIR__E_OF_RULES;
    for (;;) {
        if (p->tok.kind != WEIR__T_IDENT) {
            unexpected(p, "rule identifier");
            return -1;
        }
        const char *s = p->lx.text + p->tok.start;
        size_t n = p->tok.end - p->tok.start;
        weir__loc_t loc = p->tok.loc;
        next(p);
        int wild = accept(p, WEIR__T_STAR);
        int found = 0;
        const char *self = p->r.name ? p->r.name : "";
        if (wild ? strncmp(self, s, n) == 0 : strlen(self) == n && memcmp(self, s, n) == 0) {
            found = 1;
            if (add_member(p, e, &cap, WEIR__SELF_RULE) != 0)
                return -1;
        }
        if (!wild) {
            name_slot_t *slot = name_find(p, s, n);
            if (slot && slot->idx >= 0 && add_member(p, e, &cap, (uint32_t)slot->idx) != 0)
                return -1;
            if (slot && slot->idx < 0)
                p->failed = 1; /* a rule with errors of its own */
            found |= slot != NULL;
        } else {
            for (size_t i = 0; i < p->ast->nrules; i++) {
                const weir__ast_rule_t *ar = &p->ast->rules[i];
                if (strcmp(ar->ns, p->ns) != 0 || strncmp(ar->name, s, n) != 0)
                    continue;
                found = 1;
                if (add_member(p, e, &cap, (uint32_t)i) != 0)
                    return -1;
            }
            for (size_t i = 0; i < p->names_cap && !found; i++)
                if (p->names[i].name && p->names[i].idx < 0 && strncmp(p->names[i].name, s, n) == 0)
                    found = 1, p->failed = 1;
            char *prefix = weir__strndup(s, n);
            if (!prefix ||
                grow(p, (void **)&p->wild, &p->wild_cap, p->nwild + 1, sizeof *p->wild) != 0) {
                weir__free(NULL, prefix, 0);
                p->lx.oom = 1;
                return -1;
            }
            p->wild[p->nwild++] = prefix;
        }
        if (!found)
            error_at(p, loc, "undefined identifier \"%.*s%s\"", (int)n, s, wild ? "*" : "");
        if (accept(p, WEIR__T_RPAREN))
            return 0;
        if (expect(p, WEIR__T_COMMA, "\",\" or \")\"") != 0)
            return -1;
    }
}

NOINLINE static int parse_set(parser_t *p, weir__expr_t *e)
{
    size_t ns = p->r.nstrings;
    uint8_t *in = weir__calloc(NULL, ns ? ns : 1, 1);
    if (!in) {
        p->lx.oom = 1;
        return -1;
    }
    if (p->tok.kind == WEIR__T_THEM) {
        if (ns == 0)
            error_at(p, p->tok.loc, "\"them\" used in a rule without strings");
        memset(in, 1, ns);
        next(p);
    } else if (p->tok.kind == WEIR__T_LPAREN) {
        next(p);
        if (p->tok.kind == WEIR__T_IDENT && e->op == WEIR__E_OF) {
            weir__free(NULL, in, ns);
            return parse_rule_set(p, e);
        }
        for (;;) {
            weir__tok_t k = p->tok.kind;
            if (k != WEIR__T_STRING_ID && k != WEIR__T_STRING_WILD) {
                unexpected(p, "string identifier");
                goto fail;
            }
            const char *s = p->lx.text + p->tok.start;
            size_t n = p->tok.end - p->tok.start - (k == WEIR__T_STRING_WILD);
            int found = 0;
            for (size_t i = 0; i < ns; i++) {
                const char *id = p->r.strings[i].id;
                size_t idn = strlen(id);
                if (k == WEIR__T_STRING_WILD ? idn >= n && memcmp(id, s, n) == 0
                                             : idn == n && memcmp(id, s, n) == 0) {
                    in[i] = 1;
                    found = 1;
                }
            }
            if (!found && k == WEIR__T_STRING_WILD)
                error_at(p, p->tok.loc, "no string matches \"%.*s*\"", (int)n, s);
            else if (!found)
                error_at(p, p->tok.loc, "undefined string identifier \"%.*s\"", (int)n, s);
            next(p);
            if (accept(p, WEIR__T_RPAREN))
                break;
            if (expect(p, WEIR__T_COMMA, "\",\" or \")\"") != 0)
                goto fail;
        }
    } else {
        unexpected(p, "\"them\" or \"(\"");
        goto fail;
    }
    size_t count = 0;
    for (size_t i = 0; i < ns; i++)
        count += in[i];
    e->strs = weir__malloc(NULL, (count ? count : 1) * sizeof *e->strs);
    if (!e->strs) {
        p->lx.oom = 1;
        goto fail;
    }
    for (size_t i = 0; i < ns; i++) {
        if (in[i]) {
            e->strs[e->nstrs++] = (uint32_t)i;
            p->refd[i] = 1;
        }
    }
    weir__free(NULL, in, ns);
    return 0;
fail:
    weir__free(NULL, in, ns);
    return -1;
}

/* ---- expressions ------------------------------------------------------------------- */

weir__expr_t *parse_or(parser_t *p);
static weir__expr_t *parse_bin(parser_t *p, int minprec);

/* A primary expression operand that must be an integer (range bounds, `at`...). */
static weir__expr_t *parse_int_operand(parser_t *p, const char *what)
{
    weir__expr_t *e = parse_bin(p, 1);
    if (e)
        need_int(p, e, what);
    return e;
}

/* ( lo .. hi ) into e->a, e->b. */
static int parse_range(parser_t *p, weir__expr_t *e)
{
    if (expect(p, WEIR__T_LPAREN, "\"(\"") != 0)
        return -1;
    if (!(e->a = parse_int_operand(p, "range")))
        return -1;
    if (expect(p, WEIR__T_DOTDOT, "\"..\"") != 0)
        return -1;
    if (!(e->b = parse_int_operand(p, "range")))
        return -1;
    return expect(p, WEIR__T_RPAREN, "\")\"");
}

/* The rest of `for QUANT ...` after the quantifier, into e. */
NOINLINE static int parse_for_rest(parser_t *p, weir__expr_t *e)
{
    int slot = p->loops;
    if (accept(p, WEIR__T_OF)) {
        e->op = WEIR__E_FOR_OF;
        if (p->in_for_of)
            error_at(p, e->loc, "\"for ... of\" loops cannot be nested");
        if (parse_set(p, e) != 0)
            return -1;
        p->loop_var[slot].name = NULL;
    } else if (p->tok.kind == WEIR__T_IDENT) {
        e->op = WEIR__E_FOR_IN;
        e->ival = slot;
        int nvars = 0;
        for (;;) {
            if (p->tok.kind != WEIR__T_IDENT) {
                unexpected(p, "identifier");
                return -1;
            }
            const char *s = p->lx.text + p->tok.start;
            size_t n = p->tok.end - p->tok.start;
            for (int i = 0; i < p->loops; i++)
                if (p->loop_var[i].name && p->loop_var[i].len == n &&
                    memcmp(p->loop_var[i].name, s, n) == 0)
                    error_at(p, p->tok.loc, "duplicated loop identifier \"%.*s\"", (int)n, s);
            if (nvars++ == 0) {
                p->loop_var[slot].name = s;
                p->loop_var[slot].len = n;
            }
            next(p);
            if (!accept(p, WEIR__T_COMMA))
                break;
        }
        if (expect(p, WEIR__T_IN, "\"in\"") != 0)
            return -1;
        if (p->tok.kind == WEIR__T_IDENT) {
            error_at(p, p->tok.loc,
                     "undefined identifier \"%.*s\": only integer ranges and lists can be "
                     "iterated (weir has no modules)",
                     (int)(p->tok.end - p->tok.start), p->lx.text + p->tok.start);
            return -1;
        }
        weir__loc_t iter_loc = p->tok.loc;
        if (expect(p, WEIR__T_LPAREN, "\"(\"") != 0)
            return -1;
        size_t cap = 0;
        for (;;) {
            /* NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are pointers */
            if (grow(p, (void **)&e->list, &cap, e->nlist + 1, sizeof *e->list) != 0)
                return -1;
            weir__expr_t *item = parse_int_operand(p, "in");
            if (!item)
                return -1;
            e->list[e->nlist++] = item;
            if (e->nlist == 1 && accept(p, WEIR__T_DOTDOT)) {
                /* NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are pointers */
                if (grow(p, (void **)&e->list, &cap, 2, sizeof *e->list) != 0)
                    return -1;
                if (!(e->list[1] = parse_int_operand(p, "range")))
                    return -1;
                e->nlist = 2;
                e->is_range = 1;
                break;
            }
            if (!accept(p, WEIR__T_COMMA))
                break;
        }
        if (expect(p, WEIR__T_RPAREN,
                   e->nlist == 1 ? "\"..\", \",\" or \")\"" : "\",\" or \")\"") != 0)
            return -1;
        if (nvars != 1)
            error_at(p, iter_loc,
                     "iterator yields an integer on each iteration, but the loop expects %d "
                     "variables",
                     nvars);
    } else {
        unexpected(p, "\"of\" or a loop variable");
        return -1;
    }
    if (expect(p, WEIR__T_COLON, "\":\"") != 0 || expect(p, WEIR__T_LPAREN, "\"(\"") != 0)
        return -1;
    int saved_for_of = p->in_for_of;
    if (e->op == WEIR__E_FOR_OF)
        p->in_for_of = 1;
    p->loops++;
    e->b = parse_or(p);
    p->loops--;
    p->in_for_of = saved_for_of;
    if (!e->b)
        return -1;
    return expect(p, WEIR__T_RPAREN, "\")\"");
}

/* `for` quantifier: all, any, none, or an integer expression (into e->a). */
static int parse_quant(parser_t *p, weir__expr_t *e)
{
    switch (p->tok.kind) {
    case WEIR__T_ALL:
        e->quant = WEIR__Q_ALL;
        break;
    case WEIR__T_ANY:
        e->quant = WEIR__Q_ANY;
        break;
    case WEIR__T_NONE:
        e->quant = WEIR__Q_NONE;
        break;
    default:
        e->quant = WEIR__Q_EXPR;
        e->a = parse_int_operand(p, "for");
        return e->a ? 0 : -1;
    }
    next(p);
    return 0;
}

/* A string reference: $a [at E | in R], #a [in R], @a[E], !a[E]. */
NOINLINE static weir__expr_t *parse_string_ref(parser_t *p)
{
    weir__tok_t k = p->tok.kind;
    weir__expr_t *e = mk(p, WEIR__E_STR_FOUND, p->tok.loc);
    if (!e)
        return NULL;
    e->str = resolve_string(p);
    next(p);
    if (k == WEIR__T_STRING_ID) {
        if (accept(p, WEIR__T_AT)) {
            e->op = WEIR__E_STR_AT;
            if (!(e->a = parse_int_operand(p, "at")))
                goto fail;
        } else if (p->tok.kind == WEIR__T_IN) {
            next(p);
            e->op = WEIR__E_STR_IN;
            if (parse_range(p, e) != 0)
                goto fail;
        }
    } else if (k == WEIR__T_STRING_COUNT) {
        e->op = WEIR__E_STR_COUNT;
        if (accept(p, WEIR__T_IN)) {
            e->op = WEIR__E_STR_COUNT_IN;
            if (parse_range(p, e) != 0)
                goto fail;
        }
    } else {
        e->op = k == WEIR__T_STRING_OFFSET ? WEIR__E_STR_OFFSET : WEIR__E_STR_LENGTH;
        if (accept(p, WEIR__T_LBRACKET)) {
            if (!(e->a = parse_int_operand(p, "[]")))
                goto fail;
            if (expect(p, WEIR__T_RBRACKET, "\"]\"") != 0)
                goto fail;
        }
    }
    return e;
fail:
    weir__expr_free(e);
    return NULL;
}

/* An identifier: a loop variable, an external variable, or an earlier rule of the namespace. */
NOINLINE static weir__expr_t *parse_identifier(parser_t *p)
{
    const char *s = p->lx.text + p->tok.start;
    size_t n = p->tok.end - p->tok.start;
    weir__loc_t loc = p->tok.loc;
    for (int i = p->loops - 1; i >= 0; i--) {
        if (p->loop_var[i].name && p->loop_var[i].len == n &&
            memcmp(p->loop_var[i].name, s, n) == 0) {
            weir__expr_t *e = mk(p, WEIR__E_VAR, loc);
            if (e)
                e->ival = i;
            next(p);
            return e;
        }
    }
    long var = var_find(p, s, n);
    if (var >= 0) {
        weir__expr_t *e = mk(p, WEIR__E_EXT, loc);
        if (e) {
            e->ival = var;
            e->str = p->ast->vars[var].kind == WEIR__VAR_STRING;
        }
        next(p);
        return e;
    }
    name_slot_t *slot = name_find(p, s, n);
    next(p);
    if (slot && slot->idx >= 0) {
        weir__expr_t *e = mk(p, WEIR__E_RULE, loc);
        if (e)
            e->ival = slot->idx;
        return e;
    }
    if (slot) {
        p->failed = 1; /* a rule with errors of its own */
    } else if (p->tok.kind == WEIR__T_DOT) {
        error_at(p, loc,
                 "undefined identifier \"%.*s\": module member access is not supported (weir "
                 "has no modules)",
                 (int)n, s);
        return NULL;
    } else {
        error_at(p, loc, "undefined identifier \"%.*s\"", (int)n, s);
    }
    if (p->tok.kind == WEIR__T_LPAREN || p->tok.kind == WEIR__T_LBRACKET)
        return NULL;
    weir__expr_t *e = mk(p, WEIR__E_RULE, loc);
    if (e)
        e->ival = -1;
    return e;
}

static weir__expr_t *parse_primary(parser_t *p)
{
    weir__expr_t *e = NULL;
    weir__loc_t loc = p->tok.loc;
    if (enter(p) != 0)
        return NULL;
    switch (p->tok.kind) {
    case WEIR__T_LPAREN:
        next(p);
        e = parse_or(p);
        if (e && expect(p, WEIR__T_RPAREN, "\")\"") != 0) {
            weir__expr_free(e);
            e = NULL;
        }
        break;
    case WEIR__T_TRUE:
    case WEIR__T_FALSE:
        if ((e = mk(p, WEIR__E_BOOL, loc)))
            e->ival = p->tok.kind == WEIR__T_TRUE;
        next(p);
        break;
    case WEIR__T_INT:
        if ((e = mk(p, WEIR__E_INT, loc)))
            e->ival = p->tok.ival;
        next(p);
        break;
    case WEIR__T_DOUBLE:
        error_tok(p, "floating point numbers are not supported: \"%s\"");
        e = mk(p, WEIR__E_INT, loc);
        next(p);
        break;
    case WEIR__T_TEXT:
        if ((e = mk(p, WEIR__E_TEXT, loc))) {
            e->text = weir__memdup(p->lx.buf, p->lx.buf_len + 1);
            e->text_len = p->lx.buf_len;
            if (!e->text) {
                p->lx.oom = 1;
                weir__expr_free(e);
                e = NULL;
            }
        }
        next(p);
        break;
    case WEIR__T_FILESIZE:
        e = mk(p, WEIR__E_FILESIZE, loc);
        next(p);
        break;
    case WEIR__T_ENTRYPOINT:
        error_at(p, loc, "\"entrypoint\" is not supported: weir streams are not executables");
        e = mk(p, WEIR__E_INT, loc);
        next(p);
        break;
    case WEIR__T_INT_FUNCTION: {
        /* [u]int{8,16,32}[be] ( offset ) */
        const char *t = p->lx.text + p->tok.start;
        size_t n = p->tok.end - p->tok.start;
        int64_t kind = 0;
        if (*t != 'u')
            kind |= WEIR__READ_SIGNED;
        else
            t++, n--;
        t += 3, n -= 3; /* "int" */
        kind |= t[0] == '8' ? 1 : t[0] == '1' ? 2 : 4;
        if (n >= 2 && t[n - 2] == 'b' && t[n - 1] == 'e')
            kind |= WEIR__READ_BE;
        next(p);
        if (expect(p, WEIR__T_LPAREN, "\"(\"") != 0)
            break;
        weir__expr_t *off = parse_or(p);
        if (!off)
            break;
        if (expect(p, WEIR__T_RPAREN, "\")\"") != 0 || !(e = mk(p, WEIR__E_READ, loc))) {
            weir__expr_free(off);
            break;
        }
        e->ival = kind;
        e->a = off;
        break;
    }
    case WEIR__T_DEFINED:
        error_at(p, loc, "syntax error, \"defined\" gives a boolean: it cannot be an operand here");
        break;
    case WEIR__T_STRING_ID:
    case WEIR__T_STRING_COUNT:
    case WEIR__T_STRING_OFFSET:
    case WEIR__T_STRING_LENGTH:
        e = parse_string_ref(p);
        break;
    case WEIR__T_IDENT:
        e = parse_identifier(p);
        break;
    case WEIR__T_ALL:
    case WEIR__T_ANY:
    case WEIR__T_NONE:
        if (!(e = mk(p, WEIR__E_OF, loc)))
            break;
        parse_quant(p, e);
        if (expect(p, WEIR__T_OF, "\"of\"") != 0 || parse_set(p, e) != 0) {
            weir__expr_free(e);
            e = NULL;
        }
        break;
    case WEIR__T_FOR:
        if (p->loops >= WEIR__MAX_LOOPS) {
            error_at(p, loc, "loop nesting limit exceeded (at most %d nested loops)",
                     WEIR__MAX_LOOPS);
            break;
        }
        next(p);
        if (!(e = mk(p, WEIR__E_FOR_IN, loc)))
            break;
        if (parse_quant(p, e) != 0 || parse_for_rest(p, e) != 0) {
            weir__expr_free(e);
            e = NULL;
        }
        break;
    default:
        unexpected(p, "expression");
        break;
    }
    p->nest--;
    return e;
}

/* After a prefix operator (at *loc): its operand, parsed by self (prefixes nest). */
static weir__expr_t *prefix_operand(parser_t *p, weir__expr_t *(*self)(parser_t *),
                                    weir__loc_t *loc)
{
    *loc = p->tok.loc;
    if (enter(p) != 0)
        return NULL;
    next(p);
    weir__expr_t *a = self(p);
    p->nest--;
    return a;
}

static weir__expr_t *parse_unary(parser_t *p)
{
    weir__tok_t k = p->tok.kind;
    if (k != WEIR__T_MINUS && k != WEIR__T_TILDE)
        return parse_primary(p);
    weir__loc_t loc;
    weir__expr_t *a = prefix_operand(p, parse_unary, &loc);
    if (!a)
        return NULL;
    need_int(p, a, k == WEIR__T_MINUS ? "-" : "~");
    return mk2(p, k == WEIR__T_MINUS ? WEIR__E_NEG : WEIR__E_BITNOT, loc, a, NULL);
}

/* Binary operators of primary expressions by precedence, loosest first (YARA's
   grammar.y), then the comparisons (precedence 0), which do not chain. */
static const struct {
    weir__tok_t tok;
    weir__op_t op;
    int prec;
} operators[] = {
    {WEIR__T_PIPE, WEIR__E_BOR, 1},      {WEIR__T_CARET, WEIR__E_BXOR, 2},
    {WEIR__T_AMP, WEIR__E_BAND, 3},      {WEIR__T_SHL, WEIR__E_SHL, 4},
    {WEIR__T_SHR, WEIR__E_SHR, 4},       {WEIR__T_PLUS, WEIR__E_ADD, 5},
    {WEIR__T_MINUS, WEIR__E_SUB, 5},     {WEIR__T_STAR, WEIR__E_MUL, 6},
    {WEIR__T_BACKSLASH, WEIR__E_DIV, 6}, {WEIR__T_PERCENT, WEIR__E_MOD, 6},
    {WEIR__T_LT, WEIR__E_LT, 0},         {WEIR__T_LE, WEIR__E_LE, 0},
    {WEIR__T_GT, WEIR__E_GT, 0},         {WEIR__T_GE, WEIR__E_GE, 0},
    {WEIR__T_EQ, WEIR__E_EQ, 0},         {WEIR__T_NE, WEIR__E_NE, 0},
};

/* The precedence of token k as an operator (0: a comparison), or -1. */
static int operator(weir__tok_t k, weir__op_t *op)
{
    for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++) {
        if (operators[i].tok == k) {
            *op = operators[i].op;
            return operators[i].prec;
        }
    }
    return -1;
}

/* Constant operands: YARA's compile-time checks for overflow and division by zero. */
static void check_constants(parser_t *p, const weir__expr_t *e, const char *name)
{
    int64_t x, y, r;
    if (!const_value(e->b, &y))
        return;
    if ((e->op == WEIR__E_DIV || e->op == WEIR__E_MOD) && y == 0) {
        error_at(p, e->loc, "division by zero");
        return;
    }
    if ((e->op == WEIR__E_SHL || e->op == WEIR__E_SHR) && y < 0) {
        error_at(p, e->loc, "negative shift amount %lld", (long long)y);
        return;
    }
    if (!const_value(e->a, &x))
        return;
    int over = e->op == WEIR__E_ADD   ? __builtin_add_overflow(x, y, &r)
               : e->op == WEIR__E_SUB ? __builtin_sub_overflow(x, y, &r)
               : e->op == WEIR__E_MUL ? __builtin_mul_overflow(x, y, &r)
                                      : 0;
    if (over)
        error_at(p, e->loc, "integer overflow in %lld %s %lld", (long long)x, name, (long long)y);
}

static weir__expr_t *parse_bin(parser_t *p, int minprec)
{
    weir__expr_t *lhs = parse_unary(p);
    int chain = 0;
    while (lhs) {
        weir__op_t op;
        weir__tok_t k = p->tok.kind;
        int prec = operator(k, &op);
        if (prec < 1 || prec < minprec)
            break;
        weir__loc_t loc = p->tok.loc;
        const char *name = weir__tok_name(k);
        need_int(p, lhs, name);
        next(p);
        if (k == WEIR__T_PERCENT && p->tok.kind == WEIR__T_OF) {
            /* N% of SET: lhs is the percentage */
            int64_t pct;
            if (const_value(lhs, &pct) && (pct < 1 || pct > 100))
                error_at(p, lhs->loc, "percentage must be between 1 and 100 (inclusive)");
            weir__expr_t *e = mk(p, WEIR__E_OF, loc);
            if (!e)
                goto fail;
            e->quant = WEIR__Q_PERCENT;
            e->a = lhs;
            next(p);
            if (parse_set(p, e) != 0) {
                weir__expr_free(e);
                lhs = NULL;
                goto fail;
            }
            p->nest -= chain;
            return e;
        }
        if (enter(p) != 0)
            goto fail;
        chain++;
        weir__expr_t *rhs = parse_bin(p, prec + 1);
        if (!rhs)
            goto fail;
        need_int(p, rhs, name);
        lhs = mk2(p, op, loc, lhs, rhs);
        if (!lhs)
            break;
        check_constants(p, lhs, name);
    }
    p->nest -= chain;
    return lhs;
fail:
    p->nest -= chain;
    weir__expr_free(lhs);
    return NULL;
}

/* The string operators: contains, icontains, ..., matches. */
static int string_operator(weir__tok_t k, weir__op_t *op)
{
    static const struct {
        weir__tok_t tok;
        weir__op_t op;
    } ops[] = {
        {WEIR__T_CONTAINS, WEIR__E_CONTAINS},     {WEIR__T_ICONTAINS, WEIR__E_ICONTAINS},
        {WEIR__T_STARTSWITH, WEIR__E_STARTSWITH}, {WEIR__T_ISTARTSWITH, WEIR__E_ISTARTSWITH},
        {WEIR__T_ENDSWITH, WEIR__E_ENDSWITH},     {WEIR__T_IENDSWITH, WEIR__E_IENDSWITH},
        {WEIR__T_IEQUALS, WEIR__E_IEQUALS},       {WEIR__T_MATCHES, WEIR__E_MATCHES},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (ops[i].tok == k) {
            *op = ops[i].op;
            return 0;
        }
    }
    return -1;
}

/* The regular expression after `matches`, checked now so that its errors have a place. */
static weir__expr_t *parse_cond_regex(parser_t *p)
{
    if (p->tok.kind != WEIR__T_SLASH) {
        unexpected(p, "regular expression");
        return NULL;
    }
    weir__lex_regex(&p->lx, &p->tok);
    if (p->tok.kind == WEIR__T_ERROR) {
        p->failed = 1;
        return NULL;
    }
    const uint8_t *v = p->lx.buf;
    size_t vlen = p->tok.vlen;
    char err[256];
    size_t err_off = 0;
    weir__re_t *re = NULL;
    if (weir__re_parse_regex(v, vlen, p->tok.re_flags | WEIR__RE_CONDITION, &re, err, sizeof err,
                             &err_off) != 0) {
        weir__loc_t at = p->tok.value_loc;
        at.column += (uint32_t)err_off;
        error_at(p, at, "%s", err);
        next(p);
        return NULL;
    }
    weir__re_free(re);
    weir__expr_t *e = mk(p, WEIR__E_REGEX, p->tok.loc);
    if (e) {
        e->ival = p->tok.re_flags;
        e->text_len = vlen;
        if (!(e->text = weir__memdup(v, vlen + 1))) {
            p->lx.oom = 1;
            weir__expr_free(e);
            e = NULL;
        } else {
            e->text[vlen] = 0;
        }
    }
    next(p);
    return e;
}

/* lhs OP rhs for a string operator: both strings, rhs a regular expression for `matches`. */
static weir__expr_t *parse_string_op(parser_t *p, weir__expr_t *lhs, weir__op_t op)
{
    const char *name = weir__tok_name(p->tok.kind);
    weir__loc_t loc = p->tok.loc;
    need_type(p, lhs, TY_TEXT, name);
    next(p);
    weir__expr_t *rhs;
    if (op == WEIR__E_MATCHES) {
        rhs = parse_cond_regex(p);
    } else {
        if (enter(p) != 0) {
            weir__expr_free(lhs);
            return NULL;
        }
        rhs = parse_bin(p, 1);
        p->nest--;
        if (rhs)
            need_type(p, rhs, TY_TEXT, name);
    }
    if (!rhs) {
        weir__expr_free(lhs);
        return NULL;
    }
    return mk2(p, op, loc, lhs, rhs);
}

/* A comparison, `N of SET`, or a primary expression. */
static weir__expr_t *parse_cmp(parser_t *p)
{
    weir__expr_t *lhs = parse_bin(p, 1);
    if (!lhs)
        return NULL;
    weir__tok_t k = p->tok.kind;
    weir__loc_t loc = p->tok.loc;
    weir__op_t op;
    if (k == WEIR__T_OF) {
        need_int(p, lhs, "of");
        weir__expr_t *e = mk(p, WEIR__E_OF, loc);
        if (!e) {
            weir__expr_free(lhs);
            return NULL;
        }
        e->quant = WEIR__Q_EXPR;
        e->a = lhs;
        next(p);
        if (parse_set(p, e) != 0) {
            weir__expr_free(e);
            return NULL;
        }
        return e;
    }
    if (operator(k, &op) == 0) {
        const char *name = weir__tok_name(k);
        if (!is_primary(lhs))
            error_at(p, loc, "syntax error, a boolean expression cannot be an operand of \"%s\"",
                     name);
        next(p);
        if (enter(p) != 0) {
            weir__expr_free(lhs);
            return NULL;
        }
        weir__expr_t *rhs = parse_bin(p, 1);
        p->nest--;
        if (!rhs) {
            weir__expr_free(lhs);
            return NULL;
        }
        if (!is_primary(rhs)) {
            error_at(p, rhs->loc,
                     "syntax error, a boolean expression cannot be an operand of \"%s\"", name);
        } else if (is_primary(lhs)) {
            int ta = type_of(lhs), tb = type_of(rhs);
            if ((ta != tb || ta == TY_BOOL) && ta != TY_ANY && tb != TY_ANY)
                error_at(p, loc, "type mismatch: cannot compare %s with %s", type_name(ta),
                         type_name(tb));
        }
        return mk2(p, op, loc, lhs, rhs);
    }
    if (string_operator(k, &op) == 0)
        return parse_string_op(p, lhs, op);
    return lhs;
}

/* not X, defined X (both bind tighter than and/or). */
static weir__expr_t *parse_not(parser_t *p)
{
    weir__tok_t k = p->tok.kind;
    if (k != WEIR__T_NOT && k != WEIR__T_DEFINED)
        return parse_cmp(p);
    weir__loc_t loc;
    weir__expr_t *a = prefix_operand(p, parse_not, &loc);
    return a ? mk2(p, k == WEIR__T_NOT ? WEIR__E_NOT : WEIR__E_DEFINED, loc, a, NULL) : NULL;
}

typedef struct chain_item {
    weir__expr_t *e;
    weir__loc_t oploc; /* of the operator before e */
} chain_item_t;

/* A balanced tree over items[lo..hi), so that long and/or chains stay shallow. */
static weir__expr_t *build_balanced(parser_t *p, weir__op_t op, chain_item_t *items, size_t lo,
                                    size_t hi)
{
    if (hi - lo == 1)
        return items[lo].e;
    size_t mid = lo + (hi - lo + 1) / 2;
    weir__expr_t *a = build_balanced(p, op, items, lo, mid);
    weir__expr_t *b = build_balanced(p, op, items, mid, hi);
    if (!a || !b) {
        weir__expr_free(a);
        weir__expr_free(b);
        return NULL;
    }
    return mk2(p, op, items[mid].oploc, a, b);
}

/* and-chains of not-expressions (is_or 0), or or-chains of and-chains (is_or 1). */
static weir__expr_t *parse_logic(parser_t *p, int is_or)
{
    weir__tok_t k = is_or ? WEIR__T_OR : WEIR__T_AND;
    weir__expr_t *first = is_or ? parse_logic(p, 0) : parse_not(p);
    if (!first || p->tok.kind != k)
        return first;
    chain_item_t *items = NULL;
    size_t n = 0, cap = 0;
    if (grow(p, (void **)&items, &cap, 1, sizeof *items) != 0) {
        weir__expr_free(first);
        return NULL;
    }
    items[n++] = (chain_item_t){first, first->loc};
    int extra = 0; /* depth the balanced tree adds: ceil(log2(n)) */
    while (p->tok.kind == k) {
        weir__loc_t loc = p->tok.loc;
        if (((size_t)1 << extra) < n + 1) {
            if (enter(p) != 0)
                goto fail;
            extra++;
        }
        next(p);
        weir__expr_t *e = is_or ? parse_logic(p, 0) : parse_not(p);
        if (!e || grow(p, (void **)&items, &cap, n + 1, sizeof *items) != 0) {
            weir__expr_free(e);
            goto fail;
        }
        items[n++] = (chain_item_t){e, loc};
    }
    p->nest -= extra;
    weir__expr_t *tree = build_balanced(p, is_or ? WEIR__E_OR : WEIR__E_AND, items, 0, n);
    weir__free(NULL, items, 0);
    return tree;
fail:
    p->nest -= extra;
    for (size_t i = 0; i < n; i++)
        weir__expr_free(items[i].e);
    weir__free(NULL, items, 0);
    return NULL;
}

weir__expr_t *parse_or(parser_t *p)
{
    return parse_logic(p, 1);
}
