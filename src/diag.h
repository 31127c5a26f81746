/*
 * diag.h - collecting compile diagnostics (weir_diags_t) with file, line,
 * column, message and the offending source line.
 */
#ifndef WEIR_DIAG_H
#define WEIR_DIAG_H

#include "ast.h"
#include "weir.h"

#include <stdarg.h>

/* A new empty list, or NULL when out of memory. */
weir_diags_t *weir__diags_new(void);

/*
 * Adds a diagnostic at loc in ast's sources (ast may be NULL, or loc.line 0,
 * for a diagnostic without a place; then file names the source).  Errors past
 * WEIR_MAX_ERRORS are counted but not stored.  Returns 0, or -1 out of memory.
 */
int weir__diag_add(weir_diags_t *d, weir_severity_t sev, const weir__ast_t *ast, weir__loc_t loc,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int weir__diag_vadd(weir_diags_t *d, weir_severity_t sev, const weir__ast_t *ast, weir__loc_t loc,
                    const char *fmt, va_list ap);

/* Adds a diagnostic naming a file but no place in it (e.g. it cannot be read). */
int weir__diag_file(weir_diags_t *d, weir_severity_t sev, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Number of errors added (stored or not). */
size_t weir__diag_errors(const weir_diags_t *d);

#endif /* WEIR_DIAG_H */
