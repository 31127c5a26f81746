/*
 * cli.h - what the weir command's subcommands share (weir.c defines it all): exit statuses,
 * error messages, rule loading with -r/-C/-d, JSON strings and the trace-id options.
 */
#ifndef WEIR_CLI_H
#define WEIR_CLI_H

#include "weir.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses, as documented in weir(1). */
enum { EXIT_OK = 0, EXIT_RULES = 1, EXIT_USAGE = 2, EXIT_IO = 3 };

/* Prints "weir: message" on stderr and returns code, for `return fail(...)`. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a pointer to `weir CMD --help`; returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports the option getopt_long rejected; ret is what it returned. */
int bad_option(const char *cmd, int ret, char **argv);

/* -r [NS:]FILE arguments. */
struct rule_args {
    const char **paths;
    const char **ns;
    char **owned; /* namespace strings allocated here */
    size_t n, cap;
};
int rule_args_add(struct rule_args *ra, const char *arg); /* 0, or -1 out of memory */
void rule_args_free(struct rule_args *ra);

/* External variables from -d NAME=VALUE, typed as yara types them. */
struct defines {
    weir_var_t *v;
    char **text; /* each -d argument, copied: v[i].name and .string point into it */
    size_t n;
};
int defines_add(struct defines *d, const char *arg); /* an exit status */
void defines_free(struct defines *d);
/* Sets the -d values on a scanner over compiled rules (-C); returns an exit status. */
int defines_apply(const struct defines *d, const weir_rules_t *rules, weir_scanner_t *sc);

/* Compiles the -r files with the -d variables, or loads -C rules; return an exit status
   after printing diagnostics and errors. */
int compile_rules(const struct rule_args *ra, const struct defines *defs, int warnings,
                  weir_rules_t **out);
int load_rules(const char *path, weir_rules_t **out);

/* A JSON string; bytes that are not valid UTF-8 are written as \u00XX. */
void json_str(FILE *f, const void *data, size_t len);
void json_cstr(FILE *f, const char *s);

/* Parses a byte count with an optional K, M or G suffix (powers of 1024) into 1..max;
   0, or -1 when text is not one. */
int parse_size(const char *text, unsigned long long max, size_t *out);

/* The trace-id options (--trace-json, --trace-regex, --no-trace): at most one of them. */
struct trace_opt {
    const char *cmd;  /* the subcommand, for usage errors */
    const char *name; /* the option given, e.g. "--trace-regex"; NULL: the default */
    uint32_t mode;
    const char *arg;
};
int trace_opt_set(struct trace_opt *t, const char *name, uint32_t mode, const char *arg);
/* Checks it with the library, so that a bad regex is named with its reason. */
int trace_opt_check(const struct trace_opt *t);

/* weir perf (perf.c). */
int cmd_perf(int argc, char **argv);

#endif
