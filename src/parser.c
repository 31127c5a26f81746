/*
 * parser.c - recursive-descent parser for YARA 4.x rules (without modules),
 * building the tree of ast.h.  It applies YARA's checks (types, references,
 * modifiers) with YARA's messages, and refuses by name what weir lacks.
 */
#include "diag.h"
#include "mem.h"
#include "parser_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *type_name(int ty)
{
    return ty == TY_INT ? "integer" : ty == TY_BOOL ? "boolean" : "string";
}

/* ---- errors ---------------------------------------------------------------- */

void error_at(parser_t *p, weir__loc_t loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void error_at(parser_t *p, weir__loc_t loc, const char *fmt, ...)
{
    p->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    weir__lex_verror(&p->lx, loc, fmt, ap);
    va_end(ap);
}

/* An error at the current token, quoted by fmt's %s.  Out of line, to keep its
   buffer off the stack of the recursive functions. */
NOINLINE void error_tok(parser_t *p, const char *fmt)
{
    char raw[48];
    weir__lex_quote(&p->lx, p->tok.start, p->tok.end, raw, 40);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    error_at(p, p->tok.loc, fmt, raw);
#pragma GCC diagnostic pop
}

/* A syntax error at the current token (not repeated for lexical errors). */
void unexpected(parser_t *p, const char *expecting)
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

void next(parser_t *p)
{
    weir__lex_next(&p->lx, &p->tok);
}

int accept(parser_t *p, weir__tok_t kind)
{
    if (p->tok.kind != kind)
        return 0;
    next(p);
    return 1;
}

int expect(parser_t *p, weir__tok_t kind, const char *expecting)
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

int grow(parser_t *p, void **arr, size_t *cap, size_t need, size_t elem)
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

name_slot_t *name_find(const parser_t *p, const char *s, size_t n)
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

/* ---- rules ---------------------------------------------------------------------------- */

static int parse_meta(parser_t *p)
{
    if (p->tok.kind != WEIR__T_IDENT) {
        unexpected(p, "meta identifier");
        return -1;
    }
    /* cppcheck-suppress unreadVariable ; the loop sets it before bad: reads it; 0 for compilers */
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
            parse_base64_args(p, s, (s->mods & (WEIR__MOD_BASE64 | WEIR__MOD_BASE64WIDE)) == bit,
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
            v = hex ? (const uint8_t *)p->lx.text + p->tok.vstart : p->lx.buf;
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
    if (name_find(p, p->r.name, strlen(p->r.name)) ||
        var_find(p, p->r.name, strlen(p->r.name)) >= 0)
        error_at(p, p->r.loc, "duplicated identifier \"%s\"", p->r.name);
    else
        weir__p_check_wild(p, p->r.name, p->r.loc);
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

/* YARA's modules, each with why a stream cannot offer it. */
static const struct {
    const char *name, *why;
} modules[] = {
    {"pe", "it parses a whole Windows executable (headers, sections, imports, resources), and "
           "a stream is scanned piece by piece without keeping its bytes"},
    {"elf", "it parses a whole ELF executable (headers, sections, segments, symbols), and a "
            "stream is scanned piece by piece without keeping its bytes"},
    {"macho", "it parses a whole Mach-O executable (headers, segments, load commands), and a "
              "stream is scanned piece by piece without keeping its bytes"},
    {"dotnet", "it parses the .NET metadata of a whole PE file, and a stream is scanned piece "
               "by piece without keeping its bytes"},
    {"hash", "it hashes byte ranges of the whole data (hash.md5(0, filesize)), and a stream "
             "keeps none of its bytes once scanned (only a head for integer reads)"},
    {"math", "it computes statistics (entropy, mean, deviation) over byte ranges of the whole "
             "data, and a stream keeps none of its bytes once scanned"},
    {"magic", "it asks libmagic for the type of the whole file, and a stream is never whole "
              "before it ends nor kept after"},
    {"cuckoo", "it reads the Cuckoo sandbox report of an analysed file, and a stream has no "
               "such report"},
    {"time", "its time.now() would make a result depend on when a line is evaluated, and weir's "
             "results depend only on a stream's bytes"},
    {"console", "it prints from conditions as YARA evaluates them once per file, and weir "
                "evaluates a stream's conditions at every line end"},
};

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
    const char *why = NULL;
    for (size_t i = 0; i < sizeof modules / sizeof modules[0] && !why; i++)
        if (p->lx.buf_len == strlen(modules[i].name) &&
            memcmp(p->lx.buf, modules[i].name, p->lx.buf_len) == 0)
            why = modules[i].why;
    if (why)
        error_at(p, loc, "import of module \"%s\" is not supported: %s", name, why);
    else
        error_at(p, loc, "unknown module \"%s\"", name);
    next(p);
}

static long register_file(parser_t *p, const char *name, const char *text, size_t len);
static void parse_source(parser_t *p);

/* 0 and the file's device and inode, or -1 (no such file, or not a file name). */
static int file_id(const char *path, unsigned long long *dev, unsigned long long *ino)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    *dev = (unsigned long long)sb.st_dev;
    *ino = (unsigned long long)sb.st_ino;
    return 0;
}

/* include "file": the file's rules, read relative to the including file, in this namespace. */
static void parse_include(parser_t *p)
{
    weir__loc_t loc = p->tok.loc;
    next(p);
    if (p->tok.kind != WEIR__T_TEXT || !p->lx.buf) {
        unexpected(p, "a file name as a text string");
        recover(p);
        return;
    }
    const char *name = (const char *)p->lx.buf;
    const char *cur = p->ast->files[p->lx.file];
    const char *slash = strrchr(cur, '/');
    size_t dir = name[0] != '/' && slash ? (size_t)(slash - cur) + 1 : 0;
    char *path = weir__malloc(NULL, dir + strlen(name) + 1);
    if (!path) {
        p->lx.oom = 1;
        return;
    }
    memcpy(path, cur, dir);
    memcpy(path + dir, name, strlen(name) + 1);
    unsigned long long dev = 0, ino = 0;
    size_t len = 0;
    char *text = NULL;
    if (file_id(path, &dev, &ino) != 0 || weir__read_file(path, &text, &len) != WEIR_OK) {
        error_at(p, loc, "can't open include file: %s", name);
    } else if (p->inc_depth >= (int)(sizeof p->inc / sizeof p->inc[0])) {
        error_at(p, loc, "include depth exceeded");
    } else {
        int cycle = 0;
        for (int i = 0; i < p->inc_depth; i++)
            cycle |= p->inc[i].dev == dev && p->inc[i].ino == ino;
        if (cycle) {
            error_at(p, loc, "includes circular reference");
        } else {
            long file = register_file(p, path, text, len);
            if (file >= 0) {
                weir__lexer_t outer = p->lx;
                weir__token_t tok = p->tok;
                weir__lex_init(&p->lx, p->ast->texts[file], len, (uint32_t)file, p->ast,
                               outer.diags);
                p->lx.errors = outer.errors;
                p->inc[p->inc_depth].dev = dev;
                p->inc[p->inc_depth].ino = ino;
                p->inc_depth++;
                parse_source(p);
                p->inc_depth--;
                int errors = p->lx.errors, oom = p->lx.oom;
                weir__lex_free(&p->lx);
                p->lx = outer;
                p->lx.errors = errors;
                p->lx.oom |= oom;
                p->tok = tok;
            }
        }
    }
    free(text);
    weir__free(NULL, path, 0);
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
                parse_include(p);
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
    if (name && file_id(name, &p.inc[0].dev, &p.inc[0].ino) == 0)
        p.inc_depth = 1; /* a file (not a buffer): it may not include itself */
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
    for (size_t i = 0; i < p.nwild; i++)
        weir__free(NULL, p.wild[i], 0);
    weir__free(NULL, p.wild, 0);
    weir__lex_free(&p.lx);
    return p.lx.oom ? -1 : p.lx.errors;
}
