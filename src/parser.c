/*
 * parser.c - recursive-descent parser for YARA 4.x rules (without modules),
 * building the tree of ast.h.  It applies YARA's checks (types, references,
 * modifiers) with YARA's messages, and refuses by name what weir lacks.
 */
#include "parser.h"
#include "diag.h"
#include "lexer.h"
#include "mem.h"

#include <stdarg.h>
#include <string.h>

/* For the helpers of the recursive functions: their locals stay off the recursion's stack. */
#define NOINLINE __attribute__((noinline))

/* Budget of parser recursion plus operator chains; keeps trees under WEIR__MAX_DEPTH. */
#define MAX_NESTING (WEIR__MAX_DEPTH - 100)

/* A rule name of the namespace being parsed: its index in ast->rules, or -1
   when the rule had errors (references to it then add no error of their own). */
typedef struct name_slot {
    char *name;
    long idx;
} name_slot_t;

typedef struct parser {
    weir__lexer_t lx;
    weir__token_t tok;
    weir__ast_t *ast;
    const char *ns;

    name_slot_t *names; /* open addressing, capacity a power of two */
    size_t names_cap, names_n;

    /* the rule being parsed */
    weir__ast_rule_t r;
    size_t tags_cap, meta_cap, strings_cap;
    uint8_t *refd; /* per string: referenced by the condition */
    size_t refd_cap;
    int failed; /* the rule has an error */

    int nest;      /* see MAX_NESTING */
    int loops;     /* enclosing for loops */
    int in_for_of; /* inside the body of a for ... of */
    struct {
        const char *name; /* loop variable (into the text), NULL for for ... of */
        size_t len;
    } loop_var[WEIR__MAX_LOOPS];
} parser_t;

/* TY_ANY: the stand-in for an undefined identifier, so that one error does not cascade. */
enum { TY_INT, TY_BOOL, TY_TEXT, TY_ANY };

static const char *type_name(int ty)
{
    return ty == TY_INT ? "integer" : ty == TY_BOOL ? "boolean" : "string";
}

/* ---- errors ---------------------------------------------------------------- */

static void error_at(parser_t *p, weir__loc_t loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void error_at(parser_t *p, weir__loc_t loc, const char *fmt, ...)
{
    p->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    weir__lex_verror(&p->lx, loc, fmt, ap);
    va_end(ap);
}

/* An error at the current token, quoted by fmt's %s.  Out of line, to keep its
   buffer off the stack of the recursive functions. */
NOINLINE static void error_tok(parser_t *p, const char *fmt)
{
    char raw[48];
    weir__lex_quote(&p->lx, p->tok.start, p->tok.end, raw, 40);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    error_at(p, p->tok.loc, fmt, raw);
#pragma GCC diagnostic pop
}

/* A syntax error at the current token (not repeated for lexical errors). */
static void unexpected(parser_t *p, const char *expecting)
{
    p->failed = 1;
    if (p->tok.kind == WEIR__T_ERROR)
        return;
    char what[96];
    weir__tok_describe(&p->lx, &p->tok, what, sizeof what);
    if (expecting)
        error_at(p, p->tok.loc, "syntax error, unexpected %s, expecting %s", what, expecting);
    else
        error_at(p, p->tok.loc, "syntax error, unexpected %s", what);
}

/* ---- tokens ---------------------------------------------------------------- */

static void next(parser_t *p)
{
    weir__lex_next(&p->lx, &p->tok);
}

static int accept(parser_t *p, weir__tok_t kind)
{
    if (p->tok.kind != kind)
        return 0;
    next(p);
    return 1;
}

static int expect(parser_t *p, weir__tok_t kind, const char *expecting)
{
    if (accept(p, kind))
        return 0;
    unexpected(p, expecting);
    return -1;
}

static char *tok_dup(parser_t *p)
{
    char *s = weir__strndup(p->lx.text + p->tok.start, p->tok.end - p->tok.start);
    if (!s)
        p->lx.oom = 1;
    return s;
}

static int tok_is(const parser_t *p, const char *word)
{
    size_t n = strlen(word);
    return p->tok.end - p->tok.start == n && memcmp(p->lx.text + p->tok.start, word, n) == 0;
}

/*
 * After a syntax error: skips to the next `rule` (with the `private` and
 * `global` before it) or `import`, quietly, since what follows an error is
 * seldom worth reporting.
 */
static void recover(parser_t *p)
{
    weir__lex_mark_t mark;
    weir__token_t saved_tok;
    int have_saved = 0;
    p->lx.quiet = 1;
    for (;;) {
        weir__tok_t k = p->tok.kind;
        if (k == WEIR__T_EOF || k == WEIR__T_IMPORT)
            break;
        if (k == WEIR__T_RULE) {
            if (have_saved) {
                weir__lex_reset(&p->lx, mark);
                p->tok = saved_tok;
            }
            break;
        }
        if (k == WEIR__T_PRIVATE || k == WEIR__T_GLOBAL) {
            if (!have_saved) {
                mark = weir__lex_mark(&p->lx);
                saved_tok = p->tok;
                have_saved = 1;
            }
        } else {
            have_saved = 0;
        }
        next(p);
    }
    p->lx.quiet = 0;
}

/* ---- growing the AST's arrays ------------------------------------------------- */

static size_t implied_cap(size_t n)
{
    size_t c = n ? 4 : 0;
    while (c < n)
        c *= 2;
    return c;
}

static int grow(parser_t *p, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (weir__grow(NULL, arr, cap, need, elem) != 0) {
        p->lx.oom = 1;
        return -1;
    }
    return 0;
}

/* Makes room for element n of an AST array whose capacity is implied by n. */
static int grow_implied(parser_t *p, void **arr, size_t n, size_t elem)
{
    size_t cap = implied_cap(n);
    return grow(p, arr, &cap, n + 1, elem);
}

/* ---- rule names of the namespace ---------------------------------------------- */

static size_t hash_name(const char *s, size_t n)
{
    size_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Where name s[0..n) is in a table: its entry, or the empty slot it would take. */
static name_slot_t *name_slot(name_slot_t *v, size_t cap, const char *s, size_t n)
{
    size_t i = hash_name(s, n) & (cap - 1);
    while (v[i].name && !(strlen(v[i].name) == n && memcmp(v[i].name, s, n) == 0))
        i = (i + 1) & (cap - 1);
    return &v[i];
}

static name_slot_t *name_find(const parser_t *p, const char *s, size_t n)
{
    name_slot_t *e = p->names_cap ? name_slot(p->names, p->names_cap, s, n) : NULL;
    return e && e->name ? e : NULL;
}

static int name_add(parser_t *p, const char *s, long idx)
{
    if ((p->names_n + 1) * 2 > p->names_cap) {
        size_t ncap = p->names_cap ? p->names_cap * 2 : 64;
        name_slot_t *nv = weir__calloc(NULL, ncap, sizeof *nv);
        if (!nv)
            goto oom;
        for (size_t i = 0; i < p->names_cap; i++)
            if (p->names[i].name)
                *name_slot(nv, ncap, p->names[i].name, strlen(p->names[i].name)) = p->names[i];
        weir__free(NULL, p->names, 0);
        p->names = nv;
        p->names_cap = ncap;
    }
    name_slot_t *e = name_slot(p->names, p->names_cap, s, strlen(s));
    if (e->name)
        return 0;
    if (!(e->name = weir__strdup(s)))
        goto oom;
    e->idx = idx;
    p->names_n++;
    return 0;
oom:
    p->lx.oom = 1;
    return -1;
}

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
        B(MUL) | B(DIV) | B(MOD) | B(SHL) | B(SHR) | B(BAND) | B(BOR) | B(BXOR);
#undef B
    return (primary >> e->op) & 1;
}

static int type_of(const weir__expr_t *e)
{
    if (e->op == WEIR__E_TEXT)
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
static void need_int(parser_t *p, const weir__expr_t *e, const char *op)
{
    if (!is_primary(e))
        error_at(p, e->loc, "syntax error, a boolean expression cannot be an operand of \"%s\"",
                 op);
    else if (type_of(e) != TY_INT && type_of(e) != TY_ANY)
        error_at(p, e->loc, "wrong type \"%s\" for %s operator", type_name(type_of(e)), op);
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
static long find_string(const parser_t *p, const char *name, size_t n)
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

static weir__expr_t *parse_or(parser_t *p);
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
            if (grow(p, (void **)&e->list, &cap, e->nlist + 1, sizeof *e->list) != 0)
                return -1;
            weir__expr_t *item = parse_int_operand(p, "in");
            if (!item)
                return -1;
            e->list[e->nlist++] = item;
            if (e->nlist == 1 && accept(p, WEIR__T_DOTDOT)) {
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

/* An identifier: a loop variable, or an earlier rule of the namespace. */
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

static weir__expr_t *parse_unary(parser_t *p)
{
    weir__tok_t k = p->tok.kind;
    if (k != WEIR__T_MINUS && k != WEIR__T_TILDE)
        return parse_primary(p);
    weir__loc_t loc = p->tok.loc;
    if (enter(p) != 0)
        return NULL;
    next(p);
    weir__expr_t *a = parse_unary(p);
    p->nest--;
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
        if (!(lhs = mk2(p, op, loc, lhs, rhs)))
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
    if (k == WEIR__T_CONTAINS || k == WEIR__T_ICONTAINS || k == WEIR__T_STARTSWITH ||
        k == WEIR__T_ISTARTSWITH || k == WEIR__T_ENDSWITH || k == WEIR__T_IENDSWITH ||
        k == WEIR__T_IEQUALS || k == WEIR__T_MATCHES) {
        error_at(p, loc,
                 "operator \"%s\" is not supported: weir conditions have no string values to "
                 "search (no modules)",
                 weir__tok_name(k));
        weir__expr_free(lhs);
        return NULL;
    }
    return lhs;
}

/* not X, defined X (both bind tighter than and/or). */
static weir__expr_t *parse_not(parser_t *p)
{
    weir__tok_t k = p->tok.kind;
    if (k != WEIR__T_NOT && k != WEIR__T_DEFINED)
        return parse_cmp(p);
    weir__loc_t loc = p->tok.loc;
    if (enter(p) != 0)
        return NULL;
    next(p);
    weir__expr_t *a = parse_not(p);
    p->nest--;
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

static weir__expr_t *parse_or(parser_t *p)
{
    return parse_logic(p, 1);
}

/* ---- rules ---------------------------------------------------------------------------- */

static int parse_meta(parser_t *p)
{
    if (p->tok.kind != WEIR__T_IDENT) {
        unexpected(p, "meta identifier");
        return -1;
    }
    int neg = 0;
    while (p->tok.kind == WEIR__T_IDENT) {
        if (grow(p, (void **)&p->r.meta, &p->meta_cap, p->r.nmeta + 1, sizeof *p->r.meta) != 0)
            return -1;
        weir__ast_meta_t *m = &p->r.meta[p->r.nmeta];
        memset(m, 0, sizeof *m);
        m->loc = p->tok.loc;
        if (!(m->key = tok_dup(p)))
            return -1;
        p->r.nmeta++;
        next(p);
        if (expect(p, WEIR__T_ASSIGN, "\"=\"") != 0)
            return -1;
        neg = accept(p, WEIR__T_MINUS);
        switch (p->tok.kind) {
        case WEIR__T_INT:
            m->type = WEIR__META_INTEGER;
            m->integer = neg ? -p->tok.ival : p->tok.ival;
            break;
        case WEIR__T_TEXT:
            if (neg)
                goto bad;
            m->type = WEIR__META_STRING;
            if (!(m->string = weir__memdup(p->lx.buf, p->lx.buf_len + 1))) {
                p->lx.oom = 1;
                return -1;
            }
            m->string_len = p->lx.buf_len;
            break;
        case WEIR__T_TRUE:
        case WEIR__T_FALSE:
            if (neg)
                goto bad;
            m->type = WEIR__META_BOOLEAN;
            m->integer = p->tok.kind == WEIR__T_TRUE;
            break;
        default:
            goto bad;
        }
        next(p);
    }
    return 0;
bad:
    unexpected(p, neg ? "integer number" : "text string, number, true or false");
    return -1;
}

/* Which modifiers each kind of string takes (YARA's grammar.y). */
static uint32_t allowed_mods(weir__str_kind_t kind)
{
    switch (kind) {
    case WEIR__STR_HEX:
        return WEIR__MOD_PRIVATE;
    case WEIR__STR_REGEX:
        return WEIR__MOD_NOCASE | WEIR__MOD_WIDE | WEIR__MOD_ASCII | WEIR__MOD_FULLWORD |
               WEIR__MOD_PRIVATE;
    default:
        return 0xffffffffu;
    }
}

static uint32_t mod_bit(weir__tok_t k)
{
    static const struct {
        weir__tok_t tok;
        uint32_t bit;
    } mods[] = {
        {WEIR__T_NOCASE, WEIR__MOD_NOCASE},   {WEIR__T_WIDE, WEIR__MOD_WIDE},
        {WEIR__T_ASCII, WEIR__MOD_ASCII},     {WEIR__T_FULLWORD, WEIR__MOD_FULLWORD},
        {WEIR__T_PRIVATE, WEIR__MOD_PRIVATE}, {WEIR__T_XOR, WEIR__MOD_XOR},
        {WEIR__T_BASE64, WEIR__MOD_BASE64},   {WEIR__T_BASE64WIDE, WEIR__MOD_BASE64WIDE},
    };
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
        if (mods[i].tok == k)
            return mods[i].bit;
    return 0;
}

/* xor, xor(N) or xor(lo-hi), after the keyword. */
static int parse_xor_args(parser_t *p, weir__ast_string_t *s)
{
    s->xor_lo = 0;
    s->xor_hi = 255;
    if (!accept(p, WEIR__T_LPAREN))
        return 0;
    weir__loc_t loc = p->tok.loc;
    if (p->tok.kind != WEIR__T_INT) {
        unexpected(p, "integer number");
        return -1;
    }
    int64_t lo = p->tok.ival, hi = lo;
    next(p);
    int range = accept(p, WEIR__T_MINUS);
    if (range) {
        if (p->tok.kind != WEIR__T_INT) {
            unexpected(p, "integer number");
            return -1;
        }
        hi = p->tok.ival;
        next(p);
    }
    if (expect(p, WEIR__T_RPAREN, range ? "\")\"" : "\"-\" or \")\"") != 0)
        return -1;
    if (!range && lo > 255)
        error_at(p, loc, "invalid xor range: %lld is not in 0-255", (long long)lo);
    else if (hi > 255)
        error_at(p, loc, "upper bound for xor range exceeded (max: 255)");
    else if (lo > hi)
        error_at(p, loc, "xor lower bound exceeds upper bound");
    else {
        s->xor_lo = (uint8_t)lo;
        s->xor_hi = (uint8_t)hi;
    }
    return 0;
}

/* base64 / base64wide ("alphabet"), after the keyword.  When both modifiers are given they
   must name the same alphabet (the standard one when none is written), as in YARA. */
static int parse_base64_args(parser_t *p, weir__ast_string_t *s, int first, weir__loc_t loc)
{
    static const char standard[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *alpha = (const uint8_t *)standard;
    uint8_t custom[64];
    if (accept(p, WEIR__T_LPAREN)) {
        if (p->tok.kind != WEIR__T_TEXT) {
            unexpected(p, "text string");
            return -1;
        }
        loc = p->tok.loc;
        if (p->lx.buf_len != 64) {
            error_at(p, loc, "length of base64 alphabet must be 64");
            alpha = NULL;
        } else {
            memcpy(custom, p->lx.buf, 64);
            alpha = custom;
        }
        next(p);
        if (expect(p, WEIR__T_RPAREN, "\")\"") != 0)
            return -1;
    }
    if (!alpha)
        return 0;
    if (!first) {
        if (memcmp(s->alphabet ? s->alphabet : (const uint8_t *)standard, alpha, 64) != 0)
            error_at(p, loc, "can not specify multiple alphabets");
        return 0;
    }
    if (alpha == custom && !(s->alphabet = weir__memdup(custom, 64))) {
        p->lx.oom = 1;
        return -1;
    }
    return 0;
}

static int parse_modifiers(parser_t *p, weir__ast_string_t *s)
{
    static const char *const kind_names[] = {"text strings", "hex strings", "regular expressions"};
    uint32_t bit;
    while ((bit = mod_bit(p->tok.kind)) != 0) {
        weir__tok_t k = p->tok.kind;
        weir__loc_t loc = p->tok.loc;
        if (!(allowed_mods(s->kind) & bit))
            error_at(p, loc, "modifier \"%s\" is not allowed on %s", weir__tok_name(k),
                     kind_names[s->kind]);
        else if (s->mods & bit)
            error_at(p, loc, "duplicated modifier \"%s\"", weir__tok_name(k));
        s->mods |= bit;
        next(p);
        if (k == WEIR__T_XOR && parse_xor_args(p, s) != 0)
            return -1;
        if ((k == WEIR__T_BASE64 || k == WEIR__T_BASE64WIDE) &&
            parse_base64_args(p, s, (s->mods & (WEIR__MOD_BASE64 | WEIR__MOD_BASE64WIDE)) != bit,
                              loc) != 0)
            return -1;
    }
    uint32_t m = s->mods;
    const char *b64 = m & WEIR__MOD_BASE64 ? "base64" : "base64wide";
    int has_b64 = (m & (WEIR__MOD_BASE64 | WEIR__MOD_BASE64WIDE)) != 0;
    if ((m & WEIR__MOD_XOR) && (m & WEIR__MOD_NOCASE))
        error_at(p, s->loc, "invalid modifier combination: xor nocase");
    else if (has_b64 && (m & WEIR__MOD_NOCASE))
        error_at(p, s->loc, "invalid modifier combination: %s nocase", b64);
    else if (has_b64 && (m & WEIR__MOD_FULLWORD))
        error_at(p, s->loc, "invalid modifier combination: %s fullword", b64);
    else if (has_b64 && (m & WEIR__MOD_XOR))
        error_at(p, s->loc, "invalid modifier combination: %s xor", b64);
    return 0;
}

static int parse_strings(parser_t *p)
{
    if (p->tok.kind != WEIR__T_STRING_ID) {
        unexpected(p, "string identifier");
        return -1;
    }
    while (p->tok.kind == WEIR__T_STRING_ID) {
        size_t n = p->tok.end - p->tok.start;
        const char *name = p->lx.text + p->tok.start;
        if (n > 1 && find_string(p, name, n) >= 0)
            error_at(p, p->tok.loc, "duplicated string identifier \"%.*s\"", (int)n, name);
        if (grow(p, (void **)&p->r.strings, &p->strings_cap, p->r.nstrings + 1,
                 sizeof *p->r.strings) != 0 ||
            grow(p, (void **)&p->refd, &p->refd_cap, p->r.nstrings + 1, 1) != 0)
            return -1;
        weir__ast_string_t *s = &p->r.strings[p->r.nstrings];
        memset(s, 0, sizeof *s);
        s->loc = p->tok.loc;
        if (!(s->id = tok_dup(p)))
            return -1;
        p->refd[p->r.nstrings] = 0;
        p->r.nstrings++;
        next(p);
        if (expect(p, WEIR__T_ASSIGN, "\"=\"") != 0)
            return -1;
        const uint8_t *v;
        size_t vlen;
        if (p->tok.kind == WEIR__T_TEXT) {
            s->kind = WEIR__STR_TEXT;
            s->value_loc = p->tok.loc;
            s->value_loc.column++;
            v = p->lx.buf;
            vlen = p->lx.buf_len;
            if (vlen == 0)
                error_at(p, p->tok.loc, "empty string \"%s\"", s->id);
        } else if (p->tok.kind == WEIR__T_LBRACE || p->tok.kind == WEIR__T_SLASH) {
            int hex = p->tok.kind == WEIR__T_LBRACE;
            if (hex)
                weir__lex_hex(&p->lx, &p->tok);
            else
                weir__lex_regex(&p->lx, &p->tok);
            if (p->tok.kind == WEIR__T_ERROR) {
                p->failed = 1;
                return -1;
            }
            s->kind = hex ? WEIR__STR_HEX : WEIR__STR_REGEX;
            s->re_flags = p->tok.re_flags;
            s->value_loc = p->tok.value_loc;
            v = (const uint8_t *)p->lx.text + p->tok.vstart;
            vlen = p->tok.vlen;
            if (hex && p->tok.ival == 0)
                error_at(p, p->tok.loc, "empty hex string \"%s\"", s->id);
        } else {
            unexpected(p, "text string, hex string or regular expression");
            return -1;
        }
        if (!(s->value = weir__malloc(NULL, vlen + 1))) {
            p->lx.oom = 1;
            return -1;
        }
        if (vlen)
            memcpy(s->value, v, vlen);
        s->value[vlen] = 0;
        s->len = vlen;
        next(p);
        if (parse_modifiers(p, s) != 0)
            return -1;
    }
    return 0;
}

/* Resets the rule being built, freeing what it held. */
static void rule_reset(parser_t *p)
{
    weir__ast_rule_free(&p->r);
    p->tags_cap = p->meta_cap = p->strings_cap = 0;
    p->failed = 0;
    p->nest = 0;
    p->loops = 0;
    p->in_for_of = 0;
}

/* Appends the finished rule to the AST, or forgets it after an error. */
static void rule_finish(parser_t *p)
{
    if (!p->r.name) {
        rule_reset(p);
        return;
    }
    if (!p->failed && !p->lx.oom &&
        grow_implied(p, (void **)&p->ast->rules, p->ast->nrules, sizeof *p->ast->rules) == 0) {
        size_t idx = p->ast->nrules;
        p->ast->rules[idx] = p->r;
        p->ast->nrules++;
        memset(&p->r, 0, sizeof p->r);
        name_add(p, p->ast->rules[idx].name, (long)idx);
    } else {
        name_add(p, p->r.name, -1);
    }
    rule_reset(p);
}

static int parse_rule_body(parser_t *p)
{
    uint32_t flags = 0;
    rule_reset(p);
    for (;; next(p)) {
        if (p->tok.kind == WEIR__T_PRIVATE)
            flags |= WEIR__RULE_PRIVATE;
        else if (p->tok.kind == WEIR__T_GLOBAL)
            flags |= WEIR__RULE_GLOBAL;
        else
            break;
    }
    if (expect(p, WEIR__T_RULE, "\"rule\"") != 0)
        return -1;
    if (p->tok.kind != WEIR__T_IDENT) {
        unexpected(p, "rule identifier");
        return -1;
    }
    p->r.loc = p->tok.loc;
    p->r.flags = flags;
    if (!(p->r.name = tok_dup(p)) || !(p->r.ns = weir__strdup(p->ns))) {
        p->lx.oom = 1;
        return -1;
    }
    if (name_find(p, p->r.name, strlen(p->r.name)))
        error_at(p, p->r.loc, "duplicated identifier \"%s\"", p->r.name);
    next(p);
    if (accept(p, WEIR__T_COLON)) {
        if (p->tok.kind != WEIR__T_IDENT) {
            unexpected(p, "tag identifier");
            return -1;
        }
        while (p->tok.kind == WEIR__T_IDENT) {
            for (size_t i = 0; i < p->r.ntags; i++)
                if (tok_is(p, p->r.tags[i]))
                    error_at(p, p->tok.loc, "duplicated tag identifier \"%s\"", p->r.tags[i]);
            if (grow(p, (void **)&p->r.tags, &p->tags_cap, p->r.ntags + 1, sizeof *p->r.tags) != 0)
                return -1;
            if (!(p->r.tags[p->r.ntags] = tok_dup(p)))
                return -1;
            p->r.ntags++;
            next(p);
        }
    }
    if (expect(p, WEIR__T_LBRACE, p->r.ntags ? "tag identifier or \"{\"" : "\":\" or \"{\"") != 0)
        return -1;
    const char *expecting = "\"meta\", \"strings\" or \"condition\"";
    if (accept(p, WEIR__T_META)) {
        if (expect(p, WEIR__T_COLON, "\":\"") != 0 || parse_meta(p) != 0)
            return -1;
        expecting = "meta identifier, \"strings\" or \"condition\"";
    }
    if (accept(p, WEIR__T_STRINGS)) {
        if (expect(p, WEIR__T_COLON, "\":\"") != 0 || parse_strings(p) != 0)
            return -1;
        expecting = "string identifier, string modifier or \"condition\"";
    }
    if (expect(p, WEIR__T_CONDITION, expecting) != 0 || expect(p, WEIR__T_COLON, "\":\"") != 0)
        return -1;
    if (!(p->r.cond = parse_or(p)))
        return -1;
    if (expect(p, WEIR__T_RBRACE, "operator or \"}\"") != 0)
        return -1;
    for (size_t i = 0; i < p->r.nstrings && !p->failed; i++)
        if (!p->refd[i])
            error_at(p, p->r.strings[i].loc, "unreferenced string identifier \"%s\"",
                     p->r.strings[i].id);
    return 0;
}

static void parse_import(parser_t *p)
{
    weir__loc_t loc = p->tok.loc;
    next(p);
    if (p->tok.kind != WEIR__T_TEXT) {
        unexpected(p, "module name as a text string");
        recover(p);
        return;
    }
    char name[48];
    weir__lex_quote(&p->lx, p->tok.start + 1, p->tok.end - 1, name, 40);
    error_at(p, loc,
             "import of module \"%s\" is not supported: weir streams have no file-format modules",
             name);
    next(p);
}

static void parse_source(parser_t *p)
{
    next(p);
    while (p->tok.kind != WEIR__T_EOF && !p->lx.oom && p->lx.errors < WEIR_MAX_ERRORS) {
        switch (p->tok.kind) {
        case WEIR__T_IMPORT:
            parse_import(p);
            break;
        case WEIR__T_RULE:
        case WEIR__T_PRIVATE:
        case WEIR__T_GLOBAL:
            if (parse_rule_body(p) != 0) {
                rule_finish(p);
                recover(p);
            } else {
                rule_finish(p);
            }
            break;
        default:
            if (p->tok.kind == WEIR__T_IDENT && tok_is(p, "include")) {
                error_at(p, p->tok.loc, "include is not supported yet");
                next(p);
                accept(p, WEIR__T_TEXT);
                break;
            }
            unexpected(p, "\"rule\", \"private\", \"global\" or \"import\"");
            next(p);
            recover(p);
            break;
        }
    }
}

/* Adds name and a copy of text to ast->files/texts/text_lens; its index, or -1. */
static long register_file(parser_t *p, const char *name, const char *text, size_t len)
{
    weir__ast_t *ast = p->ast;
    size_t n = ast->nfiles;
    if (grow_implied(p, (void **)&ast->files, n, sizeof *ast->files) != 0 ||
        grow_implied(p, (void **)&ast->texts, n, sizeof *ast->texts) != 0 ||
        grow_implied(p, (void **)&ast->text_lens, n, sizeof *ast->text_lens) != 0)
        return -1;
    char *fname = weir__strdup(name ? name : "<input>");
    char *copy = weir__malloc(NULL, len + 1);
    if (!fname || !copy) {
        weir__free(NULL, fname, 0);
        weir__free(NULL, copy, 0);
        p->lx.oom = 1;
        return -1;
    }
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';
    ast->files[n] = fname;
    ast->texts[n] = copy;
    ast->text_lens[n] = len;
    ast->nfiles++;
    return (long)n;
}

int weir__parse(weir__ast_t *ast, const char *name, const char *text, size_t len, const char *ns,
                weir_diags_t *diags)
{
    parser_t p;
    memset(&p, 0, sizeof p);
    p.ast = ast;
    p.ns = ns ? ns : "default";
    if (!text)
        len = 0;
    long file = register_file(&p, name, text, len);
    if (file < 0)
        return -1;
    weir__lex_init(&p.lx, ast->texts[file], len, (uint32_t)file, ast, diags);
    for (size_t i = 0; i < ast->nrules && !p.lx.oom; i++)
        if (ast->rules[i].ns && ast->rules[i].name && strcmp(ast->rules[i].ns, p.ns) == 0)
            name_add(&p, ast->rules[i].name, (long)i);
    if (!p.lx.oom)
        parse_source(&p);
    rule_reset(&p);
    weir__free(NULL, p.refd, 0);
    for (size_t i = 0; i < p.names_cap; i++)
        weir__free(NULL, p.names[i].name, 0);
    weir__free(NULL, p.names, 0);
    weir__lex_free(&p.lx);
    return p.lx.oom ? -1 : p.lx.errors;
}
