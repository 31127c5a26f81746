/*
 * weir.c - the weir command: compiles YARA rules and scans files as concurrent
 * streams, fed in interleaved chunks, printing results as `yara` does or as
 * JSON Lines.  Uses only the public header.
 */
#define _POSIX_C_SOURCE 200809L

#include "weir.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_CHUNK 65536
#define MAX_CHUNK (1024UL * 1024 * 1024)

static const char usage_main[] =
    "Usage: weir COMMAND [OPTIONS] ...\n"
    "\n"
    "Apply YARA rules to many concurrent streams of data arriving in chunks.\n"
    "\n"
    "Commands:\n"
    "  scan      scan files as concurrent streams (weir scan --help)\n"
    "  compile   compile rules to a file for scan -C (weir compile --help)\n"
    "  perf      measure speed and memory round by round (weir perf --help)\n"
    "  version   print the version\n"
    "\n"
    "Exit status: 0 success (with or without matches), 1 rule errors,\n"
    "2 usage errors, 3 input or I/O errors.\n";

static const char usage_scan[] =
    "Usage: weir scan -r [NS:]RULES [-r ...] [OPTIONS] FILE...\n"
    "       weir scan -C COMPILED [OPTIONS] FILE...\n"
    "\n"
    "Each FILE is one stream, named by its path as given ('-' is standard input).\n"
    "The chunks of all files are fed interleaved, round-robin, as if they arrived\n"
    "at once; each stream's results are printed when it ends.\n"
    "\n"
    "Rules:\n"
    "  -r, --rules=[NS:]FILE      YARA rules (repeatable; NS: sets the namespace)\n"
    "  -C, --compiled=FILE        compiled rules from `weir compile`\n"
    "  -d, --define=NAME=VALUE    define an external variable (repeatable): true or\n"
    "                             false is a boolean, [-]digits an integer, anything\n"
    "                             else a string; with -C, sets a variable the rules\n"
    "                             were compiled with\n"
    "  -w, --no-warnings          do not print rule warnings\n"
    "\n"
    "Output (default: `RULE STREAM` per matching rule, as yara prints):\n"
    "  -s, --print-strings        print matching strings: 0xOFFSET:$id: data\n"
    "  -L, --print-string-length  print match lengths: 0xOFFSET:LENGTH:$id\n"
    "  -g, --print-tags           print tags:      RULE [tag1,tag2] STREAM\n"
    "  -m, --print-meta           print metadata:  RULE [key=\"value\",n =1] STREAM\n"
    "  -e, --print-namespace      print namespace: NS:RULE STREAM\n"
    "      --json                 JSON Lines: match, final and close events\n"
    "      --strings              with --json: add each final rule's string matches\n"
    "\n"
    "Trace ids (in --json output; default: the last double-quoted string of a line):\n"
    "      --trace-json=FIELD     the value of FIELD of lines that are JSON objects\n"
    "                             (a.b: field b of the object in field a)\n"
    "      --trace-regex=REGEX    the first ( ) group of a POSIX extended REGEX at its\n"
    "                             first match in the line\n"
    "      --no-trace             no trace ids\n"
    "\n"
    "Record mode:\n"
    "      --records              each line is a file of its own: print RULE STREAM:LINE\n"
    "                             for every line a rule matches (with --json, a match\n"
    "                             event per line); offsets and filesize count from the\n"
    "                             line's start\n"
    "\n"
    "Chunking:\n"
    "      --chunk-size=N         bytes read per chunk (default 65536; K and M suffixes)\n"
    "      --chunk-seed=S         random chunk sizes in 1..N from seed S (splitmix64)\n"
    "\n"
    "Limits (a warning on stderr when reached, unless -w):\n"
    "      --max-matches=N        matches kept per string and stream (default and\n"
    "                             most 1000000, as yara); later ones are dropped\n"
    "      --max-eval-steps=N     steps one evaluation of a condition may take (default\n"
    "                             10M); a condition that runs out does not hold\n"
    "\n"
    "  -h, --help                 print this help\n";

static const char usage_compile[] =
    "Usage: weir compile [-w] [-d NAME=VALUE]... [NS:]RULES... -o FILE\n"
    "\n"
    "Compiles YARA rule files into one file for `weir scan -C FILE`.\n"
    "\n"
    "  -o, --output=FILE          where to write the compiled rules (required)\n"
    "  -d, --define=NAME=VALUE    declare an external variable with its default value\n"
    "                             (repeatable; typed as in `weir scan -d`)\n"
    "  -w, --no-warnings          do not print rule warnings\n"
    "  -h, --help                 print this help\n";

/* Prints "weir: message" on stderr and returns code, for `return fail(...)`. */
int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("weir: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("weir: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'weir %s%s--help' for more information.\n", cmd ? cmd : "",
            cmd ? " " : "");
    va_end(ap);
    return EXIT_USAGE;
}

/* Reports the option getopt_long rejected; ret is what it returned. */
int bad_option(const char *cmd, int ret, char **argv)
{
    const char *arg = argv[optind - 1];
    if (ret == ':')
        return usage_error(cmd, "option '%s' needs an argument", arg);
    if (optopt && strncmp(arg, "--", 2) != 0)
        return usage_error(cmd, "unknown option '-%c'", optopt);
    return usage_error(cmd, "unknown option '%s'", arg);
}

/* ------------------------------------------------------------------------ */
/* Rules: loading, compiling, diagnostics                                    */

void rule_args_free(struct rule_args *ra)
{
    for (size_t i = 0; i < ra->n; i++)
        free(ra->owned[i]);
    free(ra->paths);
    free(ra->ns);
    free(ra->owned);
}

/*
 * Adds "[NS:]FILE".  As in yara, the text before the first ':' names the
 * namespace, unless it holds a '/' or the whole argument is an existing file.
 */
int rule_args_add(struct rule_args *ra, const char *arg)
{
    if (ra->n == ra->cap) {
        size_t cap = ra->cap ? 2 * ra->cap : 4;
        const char **p = realloc(ra->paths, cap * sizeof *p);
        if (p)
            ra->paths = p;
        const char **q = realloc(ra->ns, cap * sizeof *q);
        if (q)
            ra->ns = q;
        char **o = realloc(ra->owned, cap * sizeof *o);
        if (o)
            ra->owned = o;
        if (!p || !q || !o)
            return -1;
        ra->cap = cap;
    }
    const char *colon = strchr(arg, ':');
    char *ns = NULL;
    if (colon && colon != arg && colon[1] && !memchr(arg, '/', (size_t)(colon - arg)) &&
        access(arg, F_OK) != 0) {
        ns = strndup(arg, (size_t)(colon - arg));
        if (!ns)
            return -1;
        arg = colon + 1;
    }
    ra->paths[ra->n] = arg;
    ra->ns[ra->n] = ns;
    ra->owned[ra->n] = ns;
    ra->n++;
    return 0;
}

/* Prints one diagnostic as compilers do: place, severity, message, source, caret. */
static void print_diag(const weir_diag_t *d)
{
    const char *sev = d->severity == WEIR_SEV_ERROR ? "error" : "warning";
    if (d->line == 0) {
        fprintf(stderr, "%s: %s: %s\n", d->file, sev, d->message);
        return;
    }
    fprintf(stderr, "%s:%" PRIu32 ":%" PRIu32 ": %s: %s\n", d->file, d->line, d->column, sev,
            d->message);
    const char *src = d->source_line ? d->source_line : "";
    if (!*src)
        return;
    size_t len = strcspn(src, "\r\n");
    fprintf(stderr, "%.*s\n", (int)len, src);
    /* Tabs are kept so that the caret lines up however the terminal expands them. */
    for (size_t i = 0; d->column > 0 && i < d->column - 1 && i < len; i++)
        fputc(src[i] == '\t' ? '\t' : ' ', stderr);
    fputs("^\n", stderr);
}

/* Prints the diagnostics and returns the number of errors among them. */
static size_t print_diags(const weir_diags_t *diags, int warnings)
{
    size_t errors = 0;
    for (size_t i = 0; i < weir_diags_count(diags); i++) {
        const weir_diag_t *d = weir_diags_get(diags, i);
        if (!d)
            continue;
        if (d->severity == WEIR_SEV_ERROR)
            errors++;
        else if (!warnings)
            continue;
        print_diag(d);
    }
    return errors;
}

void defines_free(struct defines *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->text[i]);
    free(d->text);
    free(d->v);
}

/* 1 when s is [-]digits (yara's integer form). */
static int is_integer_text(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* 1 when s is digits '.' digits (yara's float form). */
static int is_float_text(const char *s)
{
    int dot = 0, digits = 0;
    if (*s == '-')
        s++;
    for (; *s; s++) {
        if (*s == '.' && !dot)
            dot = 1;
        else if (*s >= '0' && *s <= '9')
            digits = 1;
        else
            return 0;
    }
    return dot && digits;
}

/* Types value as yara's -d does: true/false, an integer, else a string.  Returns 0, or an
   exit status after printing why. */
static int type_value(const char *arg, const char *name, char *value, weir_var_t *v)
{
    v->name = name;
    if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
        v->type = WEIR_VAR_BOOLEAN;
        v->integer = value[0] == 't';
    } else if (is_integer_text(value)) {
        errno = 0;
        long long x = strtoll(value, NULL, 10);
        if (errno == ERANGE)
            return usage_error(NULL, "-d %s: integer out of range", arg);
        v->type = WEIR_VAR_INTEGER;
        v->integer = x;
    } else if (is_float_text(value)) {
        return usage_error(NULL, "-d %s: floating point variables are not supported", arg);
    } else {
        v->type = WEIR_VAR_STRING;
        v->string = value;
        v->string_len = strlen(value);
    }
    return EXIT_OK;
}

int defines_add(struct defines *d, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return usage_error(NULL, "bad -d '%s': use NAME=VALUE", arg);
    weir_var_t *v = realloc(d->v, (d->n + 1) * sizeof *v);
    if (v)
        d->v = v;
    char **t = v ? realloc(d->text, (d->n + 1) * sizeof *t) : NULL;
    if (t)
        d->text = t;
    char *copy = t ? strdup(arg) : NULL;
    if (!copy)
        return fail(EXIT_IO, "out of memory");
    d->text[d->n] = copy;
    memset(&d->v[d->n], 0, sizeof d->v[d->n]);
    d->n++;
    copy[eq - arg] = '\0';
    for (size_t i = 0; i + 1 < d->n; i++)
        if (strcmp(d->text[i], copy) == 0)
            return usage_error(NULL, "-d %s is given more than once", copy);
    return type_value(arg, copy, copy + (eq - arg) + 1, &d->v[d->n - 1]);
}

/* Sets the -d values on a scanner over compiled rules, converting each value to the type the
   rules declare (a string variable takes the text as it is).  Returns an exit status. */
int defines_apply(const struct defines *d, const weir_rules_t *rules, weir_scanner_t *sc)
{
    for (size_t i = 0; i < d->n; i++) {
        weir_var_t v = d->v[i];
        const weir_var_t *decl = NULL;
        for (size_t k = 0; k < weir_rules_var_count(rules); k++)
            if (strcmp(weir_rules_var(rules, k)->name, v.name) == 0)
                decl = weir_rules_var(rules, k);
        if (!decl)
            return usage_error(NULL, "-d %s: the compiled rules have no variable %s", v.name,
                               v.name);
        if (decl->type == WEIR_VAR_STRING && v.type != WEIR_VAR_STRING) {
            v.type = WEIR_VAR_STRING;
            v.string = v.name + strlen(v.name) + 1;
            v.string_len = strlen(v.string);
        }
        if (decl->type != v.type)
            return usage_error(NULL, "-d %s: %s is %s variable", v.name, v.name,
                               decl->type == WEIR_VAR_INTEGER ? "an integer" : "a boolean");
        weir_status_t st = weir_scanner_set_var(sc, &v);
        if (st != WEIR_OK)
            return fail(EXIT_IO, "-d %s: %s", v.name, weir_strerror(st));
    }
    return EXIT_OK;
}

/* Compiles the rule files; returns an exit status. */
int compile_rules(const struct rule_args *ra, const struct defines *defs, int warnings,
                  weir_rules_t **out)
{
    *out = NULL;
    /* Checked here first so that an unreadable file is named with its reason. */
    for (size_t i = 0; i < ra->n; i++) {
        struct stat sb;
        FILE *f = fopen(ra->paths[i], "rb");
        if (!f)
            return fail(EXIT_IO, "cannot read rules %s: %s", ra->paths[i], strerror(errno));
        int dir = fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode);
        fclose(f);
        if (dir)
            return fail(EXIT_IO, "cannot read rules %s: %s", ra->paths[i], strerror(EISDIR));
    }
    weir_diags_t *diags = NULL;
    weir_source_t *src = calloc(ra->n ? ra->n : 1, sizeof *src); /* calloc(0) may be NULL */
    if (!src)
        return fail(EXIT_IO, "out of memory");
    for (size_t i = 0; i < ra->n; i++) {
        src[i].path = ra->paths[i];
        src[i].ns = ra->ns[i];
    }
    weir_compile_options_t copts = {defs->v, defs->n};
    weir_status_t st = weir_compile(src, ra->n, &copts, out, &diags);
    free(src);
    size_t errors = print_diags(diags, warnings);
    weir_diags_free(diags);
    switch (st) {
    case WEIR_OK:
        return EXIT_OK;
    case WEIR_ECOMPILE:
        return fail(EXIT_RULES, "rules failed to compile (%zu error%s)", errors,
                    errors == 1 ? "" : "s");
    case WEIR_EENGINE:
        return fail(EXIT_RULES, "rules rejected: %s", weir_strerror(st));
    default:
        return fail(EXIT_IO, "cannot compile rules: %s", weir_strerror(st));
    }
}

int load_rules(const char *path, weir_rules_t **out)
{
    weir_status_t st = weir_rules_load(path, out);
    if (st == WEIR_OK)
        return EXIT_OK;
    if (st == WEIR_EIO && access(path, R_OK) != 0)
        return fail(EXIT_IO, "cannot read compiled rules %s: %s", path, strerror(errno));
    return fail(EXIT_IO, "%s: %s", path, weir_strerror(st));
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 if invalid. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        lo = p[0] == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = p[0] == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        lo = p[0] == 0xF0 ? 0x90 : 0x80;
        hi = p[0] == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* A JSON string; bytes that are not valid UTF-8 are written as \u00XX. */
void json_str(FILE *f, const void *data, size_t len)
{
    const uint8_t *p = data;
    putc('"', f);
    for (size_t i = 0; i < len;) {
        uint8_t c = p[i];
        size_t n;
        if (c == '"' || c == '\\') {
            putc('\\', f);
            putc(c, f);
            i++;
        } else if (c == '\n') {
            fputs("\\n", f), i++;
        } else if (c == '\t') {
            fputs("\\t", f), i++;
        } else if (c == '\r') {
            fputs("\\r", f), i++;
        } else if (c >= 0x20 && c < 0x7f) {
            putc(c, f), i++;
        } else if (c >= 0x80 && (n = utf8_seq(p + i, len - i)) > 0) {
            fwrite(p + i, 1, n, f), i += n;
        } else {
            fprintf(f, "\\u%04x", c), i++;
        }
    }
    putc('"', f);
}

void json_cstr(FILE *f, const char *s)
{
    json_str(f, s ? s : "", s ? strlen(s) : 0);
}

/* Match data as yara's print_string: printable ASCII as is, other bytes \xHH. */
static void yara_data(FILE *f, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (data[i] >= 32 && data[i] <= 126)
            putc(data[i], f);
        else
            fprintf(f, "\\x%02X", data[i]);
    }
}

/* A meta string as yara's print_escaped: C escapes, octal for the rest. */
static void yara_meta_string(FILE *f, const char *s, size_t len)
{
    static const char cesc[] = "\0\0\0\0\0\0\0abtnvfr";
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c == '"' || c == '\'' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c >= 32 && c < 127)
            putc(c, f);
        else if (c < sizeof cesc - 1 && cesc[c])
            fprintf(f, "\\%c", cesc[c]);
        else
            fprintf(f, "\\%03o", c);
    }
}

/* ------------------------------------------------------------------------ */
/* Scanning                                                                  */

struct input {
    const char *path; /* stream name, as given */
    int fd;           /* -1 once finished */
    weir_id_t id;
    int regular;             /* a regular file: always readable, no need to poll */
    uint64_t fed;            /* bytes fed so far */
    uint64_t fired_at_close; /* match events delivered during close */
};

struct scan {
    /* options */
    int print_strings, print_lengths, print_tags, print_meta, print_ns, json, json_strings;
    int records; /* --records */
    size_t chunk;
    int seeded;
    uint64_t seed;
    /* state */
    struct input *in;
    size_t nin;
    size_t *slots; /* open-addressing map stream id -> index into in, plus 1 */
    size_t mask;
    weir_scanner_t *scanner;
    FILE *out;
};

static size_t id_hash(const weir_id_t *id)
{
    uint64_t h;
    memcpy(&h, id->bytes, sizeof h); /* ids are SHA-1 or random: already mixed */
    return (size_t)h;
}

/* The input named by id, or NULL; with add, claims a free slot for index i. */
static struct input *id_map(struct scan *s, const weir_id_t *id, size_t add_index, int add)
{
    for (size_t h = id_hash(id) & s->mask;; h = (h + 1) & s->mask) {
        if (s->slots[h] == 0) {
            if (add)
                s->slots[h] = add_index + 1;
            return NULL;
        }
        struct input *in = &s->in[s->slots[h] - 1];
        if (memcmp(in->id.bytes, id->bytes, sizeof id->bytes) == 0)
            return in;
    }
}

static const char *stream_name(struct scan *s, const weir_id_t *id, char buf[WEIR_ID_STRLEN])
{
    struct input *in = id_map(s, id, 0, 0);
    if (in)
        return in->path;
    weir_id_format(id, buf);
    return buf;
}

/* The members match and final events share: event, stream, namespace, rule, tags. */
static void json_rule_head(struct scan *s, const char *event, const weir_id_t *stream,
                           const weir_rule_info_t *ri)
{
    FILE *f = s->out;
    char idbuf[WEIR_ID_STRLEN];
    fprintf(f, "{\"event\":\"%s\",\"stream\":", event);
    json_cstr(f, stream_name(s, stream, idbuf));
    fputs(",\"namespace\":", f);
    json_cstr(f, ri->ns);
    fputs(",\"rule\":", f);
    json_cstr(f, ri->name);
    fputs(",\"tags\":[", f);
    for (size_t i = 0; i < ri->ntags; i++) {
        if (i)
            putc(',', f);
        json_cstr(f, ri->tags[i]);
    }
    putc(']', f);
}

static int on_match(const weir_match_event_t *ev, void *user)
{
    struct scan *s = user;
    struct input *in = id_map(s, &ev->stream, 0, 0);
    if (in && ev->at_close)
        in->fired_at_close++;
    FILE *f = s->out;
    json_rule_head(s, "match", &ev->stream, ev->rule);
    fprintf(f, ",\"offset\":%" PRIu64 ",\"line\":%" PRIu64 ",\"at_close\":%s,\"trace_ids\":[",
            ev->offset, ev->line, ev->at_close ? "true" : "false");
    for (size_t i = 0; i < ev->ntrace_ids; i++) {
        if (i)
            putc(',', f);
        json_cstr(f, ev->trace_ids[i]);
    }
    fputs("]}\n", f);
    return 0;
}

/* A limit reached: a warning on stderr, as yara warns of too many matches. */
static void on_limit(const weir_limit_event_t *ev, void *user)
{
    struct scan *s = user;
    char idbuf[WEIR_ID_STRLEN];
    const char *name = stream_name(s, &ev->stream, idbuf);
    fflush(s->out); /* keep the warning after the output it follows */
    if (ev->kind == WEIR_LIMIT_MATCHES)
        fprintf(stderr,
                "weir: warning: %s: rule \"%s\": %s reached %" PRIu64
                " matches (--max-matches); later ones are dropped\n",
                name, ev->rule->name, ev->string_id, ev->limit);
    else
        fprintf(stderr,
                "weir: warning: %s: rule \"%s\": condition ran out of %" PRIu64
                " evaluation steps (--max-eval-steps) at offset %" PRIu64 "; %s\n",
                name, ev->rule->name, ev->limit, ev->offset,
                ev->at_close ? "the rule does not match" : "evaluated again when the stream ends");
}

/* What yara prints before the file name: [NS:]RULE [tags] [meta]. */
static void print_rule_head(const struct scan *s, const weir_rule_info_t *ri)
{
    FILE *f = s->out;
    if (s->print_ns)
        fprintf(f, "%s:", ri->ns);
    fprintf(f, "%s ", ri->name);
    if (s->print_tags) {
        putc('[', f);
        for (size_t i = 0; i < ri->ntags; i++)
            fprintf(f, "%s%s", i ? "," : "", ri->tags[i]);
        fputs("] ", f);
    }
    if (s->print_meta) {
        putc('[', f);
        for (size_t i = 0; i < ri->nmeta; i++) {
            const weir_meta_t *m = &ri->meta[i];
            if (i)
                putc(',', f);
            if (m->type == WEIR_META_INTEGER) {
                fprintf(f, "%s =%" PRId64, m->key, m->integer); /* sic: yara 4.2 */
            } else if (m->type == WEIR_META_BOOLEAN) {
                fprintf(f, "%s=%s", m->key, m->integer ? "true" : "false");
            } else {
                fprintf(f, "%s=\"", m->key);
                /* yara prints the meta string up to its first NUL */
                yara_meta_string(f, m->string, strnlen(m->string, m->string_len));
                putc('"', f);
            }
        }
        fputs("] ", f);
    }
}

/* Record mode, text: one line per matching line, RULE STREAM:LINE (as grep names lines). */
static int on_record_text(const weir_match_event_t *ev, void *user)
{
    struct scan *s = user;
    char idbuf[WEIR_ID_STRLEN];
    print_rule_head(s, ev->rule);
    fprintf(s->out, "%s:%" PRIu64 "\n", stream_name(s, &ev->stream, idbuf), ev->line);
    return 0;
}

/* One matching rule at close, as yara prints it. */
static int on_result_text(const weir_rule_result_t *r, void *user)
{
    struct scan *s = user;
    FILE *f = s->out;
    char idbuf[WEIR_ID_STRLEN];
    print_rule_head(s, r->rule);
    fprintf(f, "%s\n", stream_name(s, &r->stream, idbuf));
    if (!s->print_strings && !s->print_lengths)
        return 0;
    for (size_t i = 0; i < r->nmatches; i++) {
        const weir_string_match_t *m = &r->matches[i];
        fprintf(f, "0x%" PRIx64 ":", m->offset);
        /* yara prints the length of the data it kept, at most 512 bytes */
        if (s->print_lengths)
            fprintf(f, "%" PRIu32 ":",
                    m->length < WEIR_MAX_MATCH_DATA ? m->length : WEIR_MAX_MATCH_DATA);
        fputs(m->string_id, f);
        if (s->print_strings) {
            fputs(": ", f);
            if (m->is_hex) {
                for (uint32_t k = 0; m->data && k < m->data_len; k++)
                    fprintf(f, k ? " %02X" : "%02X", m->data[k]);
            } else {
                yara_data(f, m->data, m->data ? m->data_len : 0);
            }
        }
        putc('\n', f);
    }
    return 0;
}

static int on_result_json(const weir_rule_result_t *r, void *user)
{
    struct scan *s = user;
    const weir_rule_info_t *ri = r->rule;
    FILE *f = s->out;
    json_rule_head(s, "final", &r->stream, ri);
    fputs(",\"meta\":{", f);
    for (size_t i = 0; i < ri->nmeta; i++) {
        const weir_meta_t *m = &ri->meta[i];
        if (i)
            putc(',', f);
        json_cstr(f, m->key);
        putc(':', f);
        if (m->type == WEIR_META_INTEGER)
            fprintf(f, "%" PRId64, m->integer);
        else if (m->type == WEIR_META_BOOLEAN)
            fputs(m->integer ? "true" : "false", f);
        else
            json_str(f, m->string, m->string_len);
    }
    putc('}', f);
    if (s->json_strings) {
        fputs(",\"strings\":[", f);
        for (size_t i = 0; i < r->nmatches; i++) {
            const weir_string_match_t *m = &r->matches[i];
            fputs(i ? ",{\"id\":" : "{\"id\":", f);
            json_cstr(f, m->string_id);
            fprintf(f, ",\"offset\":%" PRIu64 ",\"length\":%" PRIu32 ",\"trace_id\":", m->offset,
                    m->length);
            if (m->trace_id)
                json_cstr(f, m->trace_id);
            else
                fputs("null", f);
            putc('}', f);
        }
        putc(']', f);
    }
    fputs("}\n", f);
    return 0;
}

/* Ends one input's stream: final results, then (--json) its close event. */
static int finish_input(struct scan *s, struct input *in)
{
    weir_stream_stats_t stats = {0};
    weir_status_t st;
    if (in->fed == 0) {
        /* An empty file is still a stream: yara reports e.g. `condition: true` on it. */
        st = weir_scan_chunk(s->scanner, &in->id, "", 0);
        if (st != WEIR_OK)
            return fail(EXIT_IO, "%s: %s", in->path, weir_strerror(st));
    }
    st = weir_stream_stats(s->scanner, &in->id, &stats);
    if (st != WEIR_OK)
        return fail(EXIT_IO, "%s: %s", in->path, weir_strerror(st));
    in->fired_at_close = 0;
    /* In record mode the last line's results are its event at close, already printed. */
    weir_result_cb cb = s->json ? on_result_json : s->records ? NULL : on_result_text;
    st = weir_stream_close(s->scanner, &in->id, cb, s);
    if (st != WEIR_OK)
        return fail(EXIT_IO, "%s: %s", in->path, weir_strerror(st));
    if (s->json) {
        fputs("{\"event\":\"close\",\"stream\":", s->out);
        json_cstr(s->out, in->path);
        fprintf(s->out,
                ",\"bytes\":%" PRIu64 ",\"lines\":%" PRIu64 ",\"matches\":%" PRIu64
                ",\"rules_fired\":%" PRIu64 ",\"memory\":%zu}\n",
                stats.bytes, stats.lines, stats.string_matches,
                stats.rules_fired + in->fired_at_close, stats.memory);
    }
    return EXIT_OK;
}

/* splitmix64 (Steele, Lea, Flood 2014): the documented generator behind --chunk-seed. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Opens every input; an input that cannot be opened is reported and skipped. */
static int open_inputs(struct scan *s, char **paths, size_t n)
{
    int rc = EXIT_OK;
    size_t nslots = 16;
    while (nslots < 2 * n)
        nslots *= 2;
    s->in = calloc(n, sizeof *s->in);
    s->slots = calloc(nslots, sizeof *s->slots);
    if (!s->in || !s->slots)
        return fail(EXIT_IO, "out of memory");
    s->mask = nslots - 1;
    s->nin = n;
    for (size_t i = 0; i < n; i++) {
        struct input *in = &s->in[i];
        in->path = paths[i];
        in->fd = -1;
        weir_id_from_name(in->path, strlen(in->path), &in->id);
        if (id_map(s, &in->id, i, 1))
            return usage_error("scan", "%s is given more than once", in->path);
    }
    for (size_t i = 0; i < n; i++) {
        struct input *in = &s->in[i];
        struct stat sb;
        int fd = strcmp(in->path, "-") == 0 ? STDIN_FILENO : open(in->path, O_RDONLY);
        if (fd < 0) {
            rc = fail(EXIT_IO, "cannot open %s: %s", in->path, strerror(errno));
            continue;
        }
        if (fstat(fd, &sb) != 0 || S_ISDIR(sb.st_mode)) {
            rc = fail(EXIT_IO, "cannot read %s: %s", in->path,
                      strerror(S_ISDIR(sb.st_mode) ? EISDIR : errno));
            if (fd != STDIN_FILENO)
                close(fd);
            continue;
        }
        in->fd = fd;
        in->regular = S_ISREG(sb.st_mode);
    }
    return rc;
}

static void close_fd(struct input *in)
{
    if (in->fd > STDIN_FILENO)
        close(in->fd);
    in->fd = -1;
}

/*
 * Feeds all inputs round-robin, one chunk from each readable input in turn,
 * and closes each stream at its end of file.  poll() lets pipes and terminals
 * take part without one slow input stalling the others.
 */
static int feed_inputs(struct scan *s)
{
    int rc = EXIT_OK;
    uint64_t rng = s->seed;
    uint8_t *buf = malloc(s->chunk);
    struct pollfd *pfd = calloc(s->nin ? s->nin : 1, sizeof *pfd);
    size_t *which = calloc(s->nin ? s->nin : 1, sizeof *which);
    if (!buf || !pfd || !which) {
        rc = fail(EXIT_IO, "out of memory");
        goto done;
    }
    for (;;) {
        size_t n = 0;
        int live = 0;
        for (size_t i = 0; i < s->nin; i++) {
            if (s->in[i].fd < 0)
                continue;
            pfd[n].fd = s->in[i].fd;
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            which[n++] = i;
            live |= !s->in[i].regular;
        }
        if (n == 0)
            break;
        if (live) {
            fflush(s->out); /* results so far are visible while we wait */
            if (poll(pfd, n, -1) < 0) {
                if (errno == EINTR)
                    continue;
                rc = fail(EXIT_IO, "poll: %s", strerror(errno));
                goto done;
            }
        } else {
            for (size_t k = 0; k < n; k++)
                pfd[k].revents = POLLIN;
        }
        for (size_t k = 0; k < n; k++) {
            struct input *in = &s->in[which[k]];
            if (!pfd[k].revents)
                continue;
            size_t want = s->seeded ? 1 + (size_t)(splitmix64(&rng) % s->chunk) : s->chunk;
            ssize_t got;
            do
                got = read(in->fd, buf, want);
            while (got < 0 && errno == EINTR);
            if (got < 0) {
                rc = fail(EXIT_IO, "error reading %s: %s", in->path, strerror(errno));
                close_fd(in);
                if (in->fed && weir_stream_reset(s->scanner, &in->id) != WEIR_OK)
                    rc = fail(EXIT_IO, "%s: cannot reset the stream", in->path);
                continue;
            }
            if (got == 0) {
                close_fd(in);
                if (finish_input(s, in) != EXIT_OK)
                    rc = EXIT_IO;
                continue;
            }
            weir_status_t st = weir_scan_chunk(s->scanner, &in->id, buf, (size_t)got);
            in->fed += (uint64_t)got;
            if (st != WEIR_OK) {
                rc = fail(EXIT_IO, "scanning %s: %s", in->path, weir_strerror(st));
                close_fd(in);
                if (weir_stream_reset(s->scanner, &in->id) != WEIR_OK)
                    rc = fail(EXIT_IO, "%s: cannot reset the stream", in->path);
            }
        }
    }
done:
    free(buf);
    free(pfd);
    free(which);
    return rc;
}

/* Parses a size with an optional K, M or G suffix into 1..max. */
int parse_size(const char *text, unsigned long long max, size_t *out)
{
    char *end;
    unsigned long long unit = 1;
    errno = 0;
    if (!text || *text < '0' || *text > '9')
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return -1;
    if (*end && end[1] == '\0' && strchr("KkMmGg", *end)) {
        const char *units = "KkMmGg";
        unit = 1ULL << (10 * (1 + (strchr(units, *end) - units) / 2));
    } else if (*end != '\0') {
        return -1;
    }
    if (max > SIZE_MAX)
        max = SIZE_MAX;
    if (v < 1 || v > max / unit)
        return -1;
    *out = (size_t)(v * unit);
    return 0;
}

enum {
    OPT_JSON = 256,
    OPT_STRINGS,
    OPT_CHUNK_SIZE,
    OPT_CHUNK_SEED,
    OPT_TRACE_JSON,
    OPT_TRACE_REGEX,
    OPT_NO_TRACE,
    OPT_RECORDS,
    OPT_MAX_MATCHES,
    OPT_MAX_EVAL_STEPS
};

int trace_opt_set(struct trace_opt *t, const char *name, uint32_t mode, const char *arg)
{
    if (t->name)
        return usage_error(t->cmd, "%s and %s: give one way to find trace ids", t->name, name);
    t->name = name;
    t->mode = mode;
    t->arg = arg;
    return EXIT_OK;
}

/* Checks the trace option with the library, so that a bad regex is named with its reason. */
int trace_opt_check(const struct trace_opt *t)
{
    char msg[256];
    if (!t->name)
        return EXIT_OK;
    weir_status_t st = weir_trace_check(t->mode, t->arg, msg, sizeof msg);
    if (st == WEIR_EINVAL)
        return usage_error(t->cmd, "%s: %s", t->name, msg);
    if (st != WEIR_OK)
        return fail(EXIT_IO, "%s: %s", t->name, weir_strerror(st));
    return EXIT_OK;
}

static int cmd_scan(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, 'r'},
        {"compiled", required_argument, NULL, 'C'},
        {"define", required_argument, NULL, 'd'},
        {"no-warnings", no_argument, NULL, 'w'},
        {"print-strings", no_argument, NULL, 's'},
        {"print-string-length", no_argument, NULL, 'L'},
        {"print-tags", no_argument, NULL, 'g'},
        {"print-meta", no_argument, NULL, 'm'},
        {"print-namespace", no_argument, NULL, 'e'},
        {"json", no_argument, NULL, OPT_JSON},
        {"strings", no_argument, NULL, OPT_STRINGS},
        {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
        {"chunk-seed", required_argument, NULL, OPT_CHUNK_SEED},
        {"trace-json", required_argument, NULL, OPT_TRACE_JSON},
        {"trace-regex", required_argument, NULL, OPT_TRACE_REGEX},
        {"no-trace", no_argument, NULL, OPT_NO_TRACE},
        {"records", no_argument, NULL, OPT_RECORDS},
        {"max-matches", required_argument, NULL, OPT_MAX_MATCHES},
        {"max-eval-steps", required_argument, NULL, OPT_MAX_EVAL_STEPS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct scan s = {.chunk = DEFAULT_CHUNK, .out = stdout};
    struct rule_args ra = {0};
    weir_scanner_options_t opts = {0};
    const char *compiled = NULL;
    weir_rules_t *rules = NULL;
    struct defines defs = {0};
    struct trace_opt trace = {"scan", NULL, WEIR_TRACE_QUOTED, NULL};
    weir_status_t st;
    int warnings = 1, rc = EXIT_OK, c;

    while ((c = getopt_long(argc, argv, ":r:C:d:wsLgmeh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if ((rc = defines_add(&defs, optarg)) != EXIT_OK)
                goto done;
            break;
        case 'r':
            if (rule_args_add(&ra, optarg) != 0) {
                rc = fail(EXIT_IO, "out of memory");
                goto done;
            }
            break;
        case 'C':
            if (compiled) {
                rc = usage_error("scan", "-C is given more than once");
                goto done;
            }
            compiled = optarg;
            break;
        case 'w':
            warnings = 0;
            break;
        case 's':
            s.print_strings = 1;
            break;
        case OPT_STRINGS:
            s.json_strings = 1;
            break;
        case 'L':
            s.print_lengths = 1;
            break;
        case 'g':
            s.print_tags = 1;
            break;
        case 'm':
            s.print_meta = 1;
            break;
        case 'e':
            s.print_ns = 1;
            break;
        case OPT_JSON:
            s.json = 1;
            break;
        case OPT_CHUNK_SIZE:
            if (parse_size(optarg, MAX_CHUNK, &s.chunk) != 0) {
                rc = usage_error("scan", "bad --chunk-size '%s' (1 to 1G bytes, K or M suffix)",
                                 optarg);
                goto done;
            }
            break;
        case OPT_CHUNK_SEED: {
            char *end;
            errno = 0;
            s.seed = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end || *optarg == '-') {
                rc = usage_error("scan", "bad --chunk-seed '%s' (an unsigned integer)", optarg);
                goto done;
            }
            s.seeded = 1;
            break;
        }
        case OPT_TRACE_JSON:
            if ((rc = trace_opt_set(&trace, "--trace-json", WEIR_TRACE_JSON, optarg)) != EXIT_OK)
                goto done;
            break;
        case OPT_TRACE_REGEX:
            if ((rc = trace_opt_set(&trace, "--trace-regex", WEIR_TRACE_REGEX, optarg)) != EXIT_OK)
                goto done;
            break;
        case OPT_NO_TRACE:
            if ((rc = trace_opt_set(&trace, "--no-trace", WEIR_TRACE_NONE, NULL)) != EXIT_OK)
                goto done;
            break;
        case OPT_RECORDS:
            s.records = 1;
            break;
        case OPT_MAX_MATCHES: {
            size_t v;
            if (parse_size(optarg, WEIR_MAX_STRING_MATCHES, &v) != 0) {
                rc = usage_error("scan", "bad --max-matches '%s' (1 to 1000000, K or M suffix)",
                                 optarg);
                goto done;
            }
            opts.max_matches = (uint32_t)v;
            break;
        }
        case OPT_MAX_EVAL_STEPS: {
            size_t v;
            if (parse_size(optarg, UINT64_MAX, &v) != 0) {
                rc = usage_error("scan",
                                 "bad --max-eval-steps '%s' (a positive number, K, M or "
                                 "G suffix)",
                                 optarg);
                goto done;
            }
            opts.max_eval_steps = v;
            break;
        }
        case 'h':
            fputs(usage_scan, stdout);
            goto done;
        default:
            rc = bad_option("scan", c, argv);
            goto done;
        }
    }
    /* With --json, -s asks for the strings array; otherwise --strings means -s. */
    if (s.json && s.print_strings)
        s.json_strings = 1;
    if (!s.json && s.json_strings)
        s.print_strings = 1;
    if (!compiled && ra.n == 0) {
        rc = usage_error("scan", "no rules: give -r RULES or -C COMPILED");
        goto done;
    }
    if (compiled && ra.n > 0) {
        rc = usage_error("scan", "-r and -C cannot be used together");
        goto done;
    }
    if (optind >= argc) {
        rc = usage_error("scan", "no files to scan (use - for standard input)");
        goto done;
    }
    if ((rc = trace_opt_check(&trace)) != EXIT_OK)
        goto done;
    rc = compiled ? load_rules(compiled, &rules) : compile_rules(&ra, &defs, warnings, &rules);
    if (rc != EXIT_OK)
        goto done;

    if (s.print_strings)
        opts.match_data = WEIR_MAX_MATCH_DATA;
    opts.trace_mode = trace.mode;
    opts.trace_arg = trace.arg;
    opts.records = s.records;
    st = weir_scanner_new(rules, &opts, &s.scanner);
    if (st != WEIR_OK) {
        rc = fail(EXIT_IO, "cannot create a scanner: %s", weir_strerror(st));
        goto done;
    }
    if (compiled && (rc = defines_apply(&defs, rules, s.scanner)) != EXIT_OK)
        goto done;
    if (s.json)
        weir_scanner_set_callback(s.scanner, on_match, &s);
    else if (s.records)
        weir_scanner_set_callback(s.scanner, on_record_text, &s);
    if (warnings)
        weir_scanner_set_limit_callback(s.scanner, on_limit, &s);

    rc = open_inputs(&s, argv + optind, (size_t)(argc - optind));
    if (rc == EXIT_USAGE)
        goto done;
    c = feed_inputs(&s);
    if (c != EXIT_OK)
        rc = c;
done:
    for (size_t i = 0; i < s.nin; i++)
        close_fd(&s.in[i]);
    if (fflush(stdout) != 0 || ferror(stdout))
        rc = fail(EXIT_IO, "error writing output: %s", strerror(errno));
    weir_scanner_free(s.scanner);
    weir_rules_free(rules);
    rule_args_free(&ra);
    defines_free(&defs);
    free(s.in);
    free(s.slots);
    return rc;
}

static int cmd_compile(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"define", required_argument, NULL, 'd'},
        {"no-warnings", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct rule_args ra = {0};
    struct defines defs = {0};
    weir_rules_t *rules = NULL;
    const char *output = NULL;
    weir_status_t st;
    int warnings = 1, rc = EXIT_OK, c;

    while ((c = getopt_long(argc, argv, ":o:d:wh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if ((rc = defines_add(&defs, optarg)) != EXIT_OK)
                goto done;
            break;
        case 'o':
            output = optarg;
            break;
        case 'w':
            warnings = 0;
            break;
        case 'h':
            fputs(usage_compile, stdout);
            goto done;
        default:
            rc = bad_option("compile", c, argv);
            goto done;
        }
    }
    if (optind >= argc) {
        rc = usage_error("compile", "no rule files given");
        goto done;
    }
    if (!output) {
        rc = usage_error("compile", "no output file: give -o FILE");
        goto done;
    }
    for (int i = optind; i < argc; i++) {
        if (rule_args_add(&ra, argv[i]) != 0) {
            rc = fail(EXIT_IO, "out of memory");
            goto done;
        }
    }
    rc = compile_rules(&ra, &defs, warnings, &rules);
    if (rc != EXIT_OK)
        goto done;
    st = weir_rules_save(rules, output);
    if (st != WEIR_OK)
        rc = fail(EXIT_IO, "cannot write %s: %s", output, weir_strerror(st));
done:
    weir_rules_free(rules);
    rule_args_free(&ra);
    defines_free(&defs);
    return rc;
}

static int cmd_version(void)
{
    const char *lib = weir_version();
    if (strcmp(lib, WEIR_VERSION_STRING) == 0)
        printf("weir %s\n", WEIR_VERSION_STRING);
    else
        printf("weir %s (library %s)\n", WEIR_VERSION_STRING, lib);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    opterr = 0; /* bad_option() reports, with the weir: prefix */
    if (argc < 2)
        return usage_error(NULL, "no command given");
    const char *cmd = argv[1];
    if (strcmp(cmd, "scan") == 0)
        return cmd_scan(argc - 1, argv + 1);
    if (strcmp(cmd, "compile") == 0)
        return cmd_compile(argc - 1, argv + 1);
    if (strcmp(cmd, "perf") == 0)
        return cmd_perf(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return cmd_version();
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_main, stdout);
        return EXIT_OK;
    }
    return usage_error(NULL, "unknown command '%s'", cmd);
}
