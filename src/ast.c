/*
 * ast.c - freeing the syntax tree built by the parser.  Every free tolerates
 * a half-built object: NULL pointers, counts of elements partly filled.
 */
#include "mem.h"
#include "parser.h"

#include <string.h>

void weir__expr_free(weir__expr_t *e)
{
    if (!e)
        return;
    weir__expr_free(e->a);
    weir__expr_free(e->b);
    weir__expr_free(e->c);
    for (size_t i = 0; i < e->nlist; i++)
        weir__expr_free(e->list[i]);
    weir__free(NULL, e->list, 0);
    weir__free(NULL, e->strs, 0);
    weir__free(NULL, e->text, 0);
    weir__free(NULL, e, sizeof *e);
}

void weir__ast_rule_free(weir__ast_rule_t *r)
{
    if (!r)
        return;
    weir__free(NULL, r->name, 0);
    weir__free(NULL, r->ns, 0);
    for (size_t i = 0; i < r->ntags; i++)
        weir__free(NULL, r->tags[i], 0);
    weir__free(NULL, r->tags, 0);
    for (size_t i = 0; i < r->nmeta; i++) {
        weir__free(NULL, r->meta[i].key, 0);
        weir__free(NULL, r->meta[i].string, 0);
    }
    weir__free(NULL, r->meta, 0);
    for (size_t i = 0; i < r->nstrings; i++) {
        weir__free(NULL, r->strings[i].id, 0);
        weir__free(NULL, r->strings[i].value, 0);
        weir__free(NULL, r->strings[i].alphabet, 0);
    }
    weir__free(NULL, r->strings, 0);
    weir__expr_free(r->cond);
    memset(r, 0, sizeof *r);
}

void weir__ast_free(weir__ast_t *ast)
{
    if (!ast)
        return;
    for (size_t i = 0; i < ast->nrules; i++)
        weir__ast_rule_free(&ast->rules[i]);
    weir__free(NULL, ast->rules, 0);
    for (size_t i = 0; i < ast->nfiles; i++) {
        weir__free(NULL, ast->files[i], 0);
        if (ast->texts)
            weir__free(NULL, ast->texts[i], 0);
    }
    weir__free(NULL, ast->files, 0);
    weir__free(NULL, ast->texts, 0);
    weir__free(NULL, ast->text_lens, 0);
    memset(ast, 0, sizeof *ast);
}
