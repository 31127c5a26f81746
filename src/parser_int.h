/*
 * parser_int.h - the parser's state and the helpers its two halves share:
 * parser.c (tokens, errors, rules, strings, the entry point) and parser_cond.c
 * (conditions).  Internal to those two files.
 */
#ifndef WEIR_PARSER_INT_H
#define WEIR_PARSER_INT_H

#include "lexer.h"
#include "parser.h"

#include <stddef.h>
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
    /* files being included, outermost first: device and inode (YARA's include stack) */
    struct {
        unsigned long long dev, ino;
    } inc[16];
    int inc_depth;
    /* prefixes of the wildcard rule sets used so far (`any of (a*)`): a later rule whose name
       matches one is an error, as in YARA */
    char **wild;
    size_t nwild, wild_cap;
} parser_t;

/* TY_ANY: the stand-in for an undefined identifier, so that one error does not cascade. */
enum { TY_INT, TY_BOOL, TY_TEXT, TY_ANY };

#define type_name weir__p_type_name
#define error_at weir__p_error_at
#define error_tok weir__p_error_tok
#define unexpected weir__p_unexpected
#define next weir__p_next
#define accept weir__p_accept
#define expect weir__p_expect
#define grow weir__p_grow
#define name_find weir__p_name_find
#define find_string weir__p_find_string
#define parse_or weir__p_parse_or

/* parser.c */
const char *type_name(int ty);
void error_at(parser_t *p, weir__loc_t loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void error_tok(parser_t *p, const char *fmt);
void unexpected(parser_t *p, const char *expecting);
void next(parser_t *p);
int accept(parser_t *p, weir__tok_t kind);
int expect(parser_t *p, weir__tok_t kind, const char *expecting);
int grow(parser_t *p, void **arr, size_t *cap, size_t need, size_t elem);
name_slot_t *name_find(const parser_t *p, const char *s, size_t n);

/* The index of external variable name[0..n) in p->ast->vars, or -1. */
static inline long var_find(const parser_t *p, const char *name, size_t n)
{
    for (size_t i = 0; i < p->ast->nvars; i++)
        if (strlen(p->ast->vars[i].name) == n && memcmp(p->ast->vars[i].name, name, n) == 0)
            return (long)i;
    return -1;
}

/* parser_cond.c */
/* The error for a rule named after a wildcard rule set used before it, if any. */
void weir__p_check_wild(parser_t *p, const char *name, weir__loc_t loc);
/* The index of string $name of the rule being parsed, or -1. */
long find_string(const parser_t *p, const char *name, size_t n);
/* A condition: or-expression (the grammar's top). */
weir__expr_t *parse_or(parser_t *p);

#endif /* WEIR_PARSER_INT_H */
