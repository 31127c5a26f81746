/*
 * parser.h - YARA 4.x rule text to the syntax tree of ast.h: a hand-written
 * recursive-descent parser with YARA's precedence, its checks and its error
 * messages, and a clear refusal of every feature weir does not implement.
 */
#ifndef WEIR_PARSER_H
#define WEIR_PARSER_H

#include "ast.h"
#include "weir.h"

#include <stddef.h>

/*
 * Condition trees are never deeper than this many levels (deeper nesting is
 * an error), so the code that walks them may recurse.
 */
#define WEIR__MAX_DEPTH 1100

/* `for` loops nest at most this deep, as in YARA (YR_MAX_LOOP_NESTING). */
#define WEIR__MAX_LOOPS 4

/*
 * Parses one source into ast (zero-initialised, or built by earlier calls):
 * registers name and a copy of text in ast->files/texts/text_lens (so that
 * diagnostics can quote lines), then appends its rules, in namespace ns
 * ("default" if NULL).  A rule with an error is not appended.
 *
 * Reports every error (up to WEIR_MAX_ERRORS) to diags (which may be NULL)
 * with file:line:column, then recovers at the next rule.  Returns the number
 * of errors found (0 = success), or -1 when out of memory.  Never crashes or
 * hangs, whatever the bytes.
 *
 * The arrays of the AST keep no capacity: it is implied by their length (the
 * next power of two, at least 4), so only this module appends to them.
 */
int weir__parse(weir__ast_t *ast, const char *name, const char *text, size_t len, const char *ns,
                weir_diags_t *diags);

/* Frees everything inside ast (not ast itself) and zeroes it; tolerates half-built. */
void weir__ast_free(weir__ast_t *ast);

/* Frees what one rule holds (not r itself). */
void weir__ast_rule_free(weir__ast_rule_t *r);

/* Frees an expression tree; NULL is a no-op. */
void weir__expr_free(weir__expr_t *e);

#endif /* WEIR_PARSER_H */
