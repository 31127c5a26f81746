/*
 * diag.c - the diagnostics list handed back by the compiler.
 */
#include "diag.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct weir_diags {
    weir_diag_t *v;
    size_t n, cap;
    size_t errors;
};

weir_diags_t *weir__diags_new(void)
{
    return calloc(1, sizeof(weir_diags_t));
}

size_t weir_diags_count(const weir_diags_t *d)
{
    return d ? d->n : 0;
}

const weir_diag_t *weir_diags_get(const weir_diags_t *d, size_t i)
{
    return d && i < d->n ? &d->v[i] : NULL;
}

void weir_diags_free(weir_diags_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free((char *)d->v[i].file);
        free((char *)d->v[i].message);
        free((char *)d->v[i].source_line);
    }
    free(d->v);
    free(d);
}

size_t weir__diag_errors(const weir_diags_t *d)
{
    return d ? d->errors : 0;
}

/* The line'th line (1-based) of text, without its terminator; a NUL byte in it becomes a
   space, so that the line is shown whole and a caret under it still points at its column. */
static char *source_line(const char *text, size_t len, uint32_t line)
{
    size_t i = 0;
    for (uint32_t l = 1; l < line && i < len; i++)
        if (text[i] == '\n')
            l++;
    size_t j = i;
    while (j < len && text[j] != '\n' && text[j] != '\r')
        j++;
    char *s = weir__malloc(NULL, j - i + 1);
    if (!s)
        return NULL;
    memcpy(s, text + i, j - i);
    for (size_t k = 0; k < j - i; k++)
        if (!s[k])
            s[k] = ' '; /* a NUL in the line is shown as a space */
    s[j - i] = '\0';
    return s;
}

static int add(weir_diags_t *d, weir_severity_t sev, const char *file, uint32_t line, uint32_t col,
               char *srcline, const char *fmt, va_list ap)
{
    if (sev == WEIR_SEV_ERROR && d->errors++ >= WEIR_MAX_ERRORS) {
        free(srcline);
        return 0;
    }
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (WEIR__GROW(NULL, d->v, d->cap, d->n + 1) != 0)
        goto fail;
    weir_diag_t *g = &d->v[d->n];
    g->severity = sev;
    g->file = weir__strdup(file ? file : "<unknown>");
    g->line = line;
    g->column = col;
    g->message = weir__strdup(buf);
    g->source_line = srcline ? srcline : weir__strdup("");
    if (!g->file || !g->message || !g->source_line) {
        free((char *)g->file);
        free((char *)g->message);
        free((char *)g->source_line);
        return -1;
    }
    d->n++;
    return 0;
fail:
    free(srcline);
    return -1;
}

int weir__diag_vadd(weir_diags_t *d, weir_severity_t sev, const weir__ast_t *ast, weir__loc_t loc,
                    const char *fmt, va_list ap)
{
    if (!d)
        return 0;
    const char *file = NULL;
    char *src = NULL;
    if (ast && loc.file < ast->nfiles) {
        file = ast->files[loc.file];
        if (loc.line && ast->texts && ast->texts[loc.file])
            src = source_line(ast->texts[loc.file], ast->text_lens[loc.file], loc.line);
    }
    return add(d, sev, file, loc.line, loc.column, src, fmt, ap);
}

int weir__diag_add(weir_diags_t *d, weir_severity_t sev, const weir__ast_t *ast, weir__loc_t loc,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = weir__diag_vadd(d, sev, ast, loc, fmt, ap);
    va_end(ap);
    return r;
}

int weir__diag_file(weir_diags_t *d, weir_severity_t sev, const char *file, const char *fmt, ...)
{
    if (!d)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    int r = add(d, sev, file, 0, 0, NULL, fmt, ap);
    va_end(ap);
    return r;
}
