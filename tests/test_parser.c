/*
 * test_parser.c - the lexer and parser: tree shapes, precedence, string
 * indices and decoding, every diagnostic with its place, recovery, refused
 * features, and robustness on prefixes, mutations and random bytes.
 */
#include "diag.h"
#include "parser.h"
#include "test.h"

#include <stdarg.h>

/* ---- helpers ---------------------------------------------------------------- */

typedef struct parsed {
    weir__ast_t ast;
    weir_diags_t *diags;
    int errors;
} parsed_t;

/* External variables the next parses declare (see external_variables below). */
static const weir__ast_var_t *test_vars;
static size_t test_nvars;

static parsed_t parse_ns(const char *src, const char *ns)
{
    parsed_t p;
    memset(&p, 0, sizeof p);
    p.ast.vars = test_vars;
    p.ast.nvars = test_nvars;
    p.diags = weir__diags_new();
    p.errors = weir__parse(&p.ast, "t.yar", src, strlen(src), ns, p.diags);
    return p;
}

static parsed_t parse(const char *src)
{
    return parse_ns(src, NULL);
}

static void done(parsed_t *p)
{
    weir__ast_free(&p->ast);
    weir_diags_free(p->diags);
}

static void dump_diags(const parsed_t *p)
{
    for (size_t i = 0; i < weir_diags_count(p->diags); i++) {
        const weir_diag_t *d = weir_diags_get(p->diags, i);
        fprintf(stderr, "    %s:%u:%u: %s\n", d->file, d->line, d->column, d->message);
    }
}

/* Whether a diagnostic at line:col holds msg. */
static int has_diag(const parsed_t *p, uint32_t line, uint32_t col, const char *msg)
{
    for (size_t i = 0; i < weir_diags_count(p->diags); i++) {
        const weir_diag_t *d = weir_diags_get(p->diags, i);
        if (d->line == line && d->column == col && strstr(d->message, msg))
            return 1;
    }
    return 0;
}

static const char *const op_names[] = {
    "bool",      "int",        "text",        "filesize", "rule",      "var",     "read",
    "found",     "#",          "#in",         "@",        "!",         "at",      "in",
    "not",       "defined",    "neg",         "~",        "and",       "or",      "<",
    "<=",        ">",          ">=",          "==",       "!=",        "+",       "-",
    "*",         "\\",         "%",           "<<",       ">>",        "&",       "|",
    "^",         "of",         "forof",       "forin",    "ext",       "regex",   "contains",
    "icontains", "startswith", "istartswith", "endswith", "iendswith", "iequals", "matches",
    "ofrules"};

static void put(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *out, size_t size, const char *fmt, ...)
{
    size_t n = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    if (n < size)
        vsnprintf(out + n, size - n, fmt, ap);
    va_end(ap);
}

/* An S-expression of a tree: (op detail children...). */
static void sexpr(const weir__expr_t *e, char *out, size_t size)
{
    if (!e) {
        put(out, size, "NULL");
        return;
    }
    if (e->op == WEIR__E_INT) {
        put(out, size, "%lld", (long long)e->ival);
        return;
    }
    if (e->op == WEIR__E_BOOL) {
        put(out, size, e->ival ? "true" : "false");
        return;
    }
    put(out, size, "(%s", op_names[e->op]);
    if (e->op == WEIR__E_RULE || e->op == WEIR__E_VAR || e->op == WEIR__E_FOR_IN ||
        e->op == WEIR__E_READ || e->op == WEIR__E_EXT)
        put(out, size, " %lld", (long long)e->ival);
    if (e->op >= WEIR__E_STR_FOUND && e->op <= WEIR__E_STR_IN)
        put(out, size, " %d", e->str);
    if (e->op == WEIR__E_TEXT)
        put(out, size, " \"%.*s\"", (int)e->text_len, e->text);
    if (e->op == WEIR__E_REGEX)
        put(out, size, " /%.*s/%lld", (int)e->text_len, e->text, (long long)e->ival);
    if (e->op >= WEIR__E_OF && e->op <= WEIR__E_FOR_IN) {
        static const char *const q[] = {"all", "any", "none", "expr", "percent"};
        put(out, size, " %s", q[e->quant]);
    }
    if (e->op == WEIR__E_OF_RULES) {
        static const char *const q[] = {"all", "any", "none", "expr", "percent"};
        put(out, size, " %s", q[e->quant]);
    }
    if (e->op == WEIR__E_OF || e->op == WEIR__E_FOR_OF || e->op == WEIR__E_OF_RULES) {
        put(out, size, " [");
        for (size_t i = 0; i < e->nstrs; i++)
            put(out, size, "%s%u", i ? "," : "", e->strs[i]);
        put(out, size, "]");
    }
    if (e->op == WEIR__E_FOR_IN) {
        put(out, size, e->is_range ? " range" : " list");
        for (size_t i = 0; i < e->nlist; i++) {
            put(out, size, " ");
            sexpr(e->list[i], out, size);
        }
    }
    const weir__expr_t *kids[3] = {e->a, e->b, e->c};
    for (int i = 0; i < 3; i++) {
        if (kids[i]) {
            put(out, size, " ");
            sexpr(kids[i], out, size);
        }
    }
    put(out, size, ")");
}

static char sbuf[8192];

/* The S-expression of the condition of the last rule of a valid source. */
static const char *cond_of(const char *src)
{
    parsed_t p = parse(src);
    sbuf[0] = '\0';
    if (p.errors != 0 || p.ast.nrules == 0) {
        dump_diags(&p);
        snprintf(sbuf, sizeof sbuf, "<%d errors>", p.errors);
    } else {
        sexpr(p.ast.rules[p.ast.nrules - 1].cond, sbuf, sizeof sbuf);
    }
    done(&p);
    return sbuf;
}

/* Condition text inside a rule with strings $a, $b, $c1, $c2 (all referenced). */
static const char *cond_str(const char *cond)
{
    static char src[4096];
    snprintf(src, sizeof src,
             "rule r { strings: $a = \"a\" $b = \"b\" $c1 = \"c\" $c2 = \"d\" condition: (%s) "
             "or any of them }",
             cond);
    const char *s = cond_of(src);
    /* strip "(or " ... " (of any [0,1,2,3]))" */
    static char inner[8192];
    const char *tail = " (of any [0,1,2,3]))";
    size_t n = strlen(s);
    if (strncmp(s, "(or ", 4) != 0 || n < 4 + strlen(tail))
        return s;
    snprintf(inner, sizeof inner, "%.*s", (int)(n - 4 - strlen(tail)), s + 4);
    return inner;
}

/* An error at line:col with msg (or fails, printing what came instead). */
#define ASSERT_ERROR(src, line, col, msg)                                                          \
    do {                                                                                           \
        parsed_t t__p = parse(src);                                                                \
        int t__ok = t__p.errors > 0 && has_diag(&t__p, line, col, msg);                            \
        if (!t__ok) {                                                                              \
            T__FAIL("expected %d:%d \"%s\" for: %s", line, col, msg, src);                         \
            dump_diags(&t__p);                                                                     \
        }                                                                                          \
        done(&t__p);                                                                               \
        if (!t__ok)                                                                                \
            return;                                                                                \
    } while (0)

#define ASSERT_VALID(src)                                                                          \
    do {                                                                                           \
        parsed_t t__p = parse(src);                                                                \
        if (t__p.errors != 0) {                                                                    \
            T__FAIL("expected valid: %s", src);                                                    \
            dump_diags(&t__p);                                                                     \
            done(&t__p);                                                                           \
            return;                                                                                \
        }                                                                                          \
        done(&t__p);                                                                               \
    } while (0)

/* ---- rules, meta, strings --------------------------------------------------- */

TEST(rule_header)
{
    parsed_t p = parse("rule a { condition: true }\n"
                       "private global rule b : t1 t2 { condition: false }\n"
                       "global private rule c : x { condition: a and b }\n");
    ASSERT_INT_EQ(p.errors, 0);
    ASSERT_UINT_EQ(p.ast.nrules, 3);
    weir__ast_rule_t *r = p.ast.rules;
    ASSERT_STR_EQ(r[0].name, "a");
    ASSERT_STR_EQ(r[0].ns, "default");
    ASSERT_UINT_EQ(r[0].flags, 0);
    ASSERT_UINT_EQ(r[0].loc.line, 1);
    ASSERT_UINT_EQ(r[0].loc.column, 6);
    ASSERT_UINT_EQ(r[1].flags, WEIR__RULE_PRIVATE | WEIR__RULE_GLOBAL);
    ASSERT_UINT_EQ(r[1].ntags, 2);
    ASSERT_STR_EQ(r[1].tags[0], "t1");
    ASSERT_STR_EQ(r[1].tags[1], "t2");
    ASSERT_UINT_EQ(r[2].flags, WEIR__RULE_PRIVATE | WEIR__RULE_GLOBAL);
    ASSERT_UINT_EQ(r[2].loc.line, 3);
    ASSERT_UINT_EQ(p.ast.nfiles, 1);
    ASSERT_STR_EQ(p.ast.files[0], "t.yar");
    ASSERT_UINT_EQ(p.ast.text_lens[0], strlen(p.ast.texts[0]));
    char s[256] = "";
    sexpr(r[2].cond, s, sizeof s);
    ASSERT_STR_EQ(s, "(and (rule 0) (rule 1))");
    done(&p);
}

TEST(meta_values)
{
    parsed_t p = parse("rule a {\n meta:\n  s = \"x\\ty\\\"\\\\\\x41\\n\"\n  i = 42\n  n = -7\n"
                       "  h = 0x1F\n  o = -0o17\n  t = true\n  f = false\n  s = \"dup ok\"\n"
                       "  e = \"\"\n condition: true }");
    ASSERT_INT_EQ(p.errors, 0);
    weir__ast_rule_t *r = &p.ast.rules[0];
    ASSERT_UINT_EQ(r->nmeta, 9);
    ASSERT_STR_EQ(r->meta[0].key, "s");
    ASSERT_INT_EQ(r->meta[0].type, WEIR__META_STRING);
    ASSERT_UINT_EQ(r->meta[0].string_len, 7);
    ASSERT_MEM_EQ(r->meta[0].string, "x\ty\"\\A\n", 8);
    ASSERT_INT_EQ(r->meta[1].integer, 42);
    ASSERT_INT_EQ(r->meta[1].type, WEIR__META_INTEGER);
    ASSERT_INT_EQ(r->meta[2].integer, -7);
    ASSERT_INT_EQ(r->meta[3].integer, 31);
    ASSERT_INT_EQ(r->meta[4].integer, -15);
    ASSERT_INT_EQ(r->meta[5].type, WEIR__META_BOOLEAN);
    ASSERT_INT_EQ(r->meta[5].integer, 1);
    ASSERT_INT_EQ(r->meta[6].integer, 0);
    ASSERT_UINT_EQ(r->meta[8].string_len, 0);
    ASSERT_STR_EQ(r->meta[8].string, "");
    ASSERT_UINT_EQ(r->meta[4].loc.line, 7);
    ASSERT_UINT_EQ(r->meta[4].loc.column, 3);
    done(&p);
}

TEST(text_strings)
{
    parsed_t p =
        parse("rule a { strings:\n"
              "  $a = \"ab\\x00\\xfFc\\r\\n\\t\\\"\\\\\" nocase wide ascii fullword private\n"
              "  $ = \"anon\"\n"
              "  $ = \"anon2\" xor\n"
              "  $x = \"xx\" xor(7)\n"
              "  $y = \"yy\" xor(0x10-0x20) wide\n"
              "  $z = \"zzz\" base64wide\n"
              "  $w = \"www\" base64(\"!@#$%^&*()_+-=[]{}|;:,.<>/?~`abcdefghijklmnopqrstuvwxyzABCD"
              "EFGHI\") base64wide(\"!@#$%^&*()_+-=[]{}|;:,.<>/?~`abcdefghijklmnopqrstuvwxyzAB"
              "CDEFGHI\")\n"
              "  $v = \"vvv\" base64(\"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz012345"
              "6789+/\") base64wide\n"
              "condition: all of them }");
    ASSERT_INT_EQ(p.errors, 0);
    weir__ast_rule_t *r = &p.ast.rules[0];
    ASSERT_UINT_EQ(r->nstrings, 8);
    ASSERT(r->strings[5].alphabet == NULL);
    ASSERT_MEM_EQ(r->strings[6].alphabet,
                  "!@#$%^&*()_+-=[]{}|;:,.<>/?~`abcdefghijklmnopqrstuvwxyzABCDEFGHI", 64);
    ASSERT_UINT_EQ(r->strings[6].mods, WEIR__MOD_BASE64 | WEIR__MOD_BASE64WIDE);
    weir__ast_string_t *s = r->strings;
    ASSERT_STR_EQ(s[0].id, "$a");
    ASSERT_INT_EQ(s[0].kind, WEIR__STR_TEXT);
    ASSERT_UINT_EQ(s[0].len, 10);
    ASSERT_MEM_EQ(s[0].value,
                  "ab\0\xff"
                  "c\r\n\t\"\\",
                  11);
    ASSERT_UINT_EQ(s[0].mods, WEIR__MOD_NOCASE | WEIR__MOD_WIDE | WEIR__MOD_ASCII |
                                  WEIR__MOD_FULLWORD | WEIR__MOD_PRIVATE);
    ASSERT_UINT_EQ(s[0].loc.line, 2);
    ASSERT_UINT_EQ(s[0].loc.column, 3);
    ASSERT_UINT_EQ(s[0].value_loc.column, 9);
    ASSERT_STR_EQ(s[1].id, "$");
    ASSERT_STR_EQ((char *)s[1].value, "anon");
    ASSERT_UINT_EQ(s[2].mods, WEIR__MOD_XOR);
    ASSERT_UINT_EQ(s[2].xor_lo, 0);
    ASSERT_UINT_EQ(s[2].xor_hi, 255);
    ASSERT_UINT_EQ(s[3].xor_lo, 7);
    ASSERT_UINT_EQ(s[3].xor_hi, 7);
    ASSERT_UINT_EQ(s[4].xor_lo, 0x10);
    ASSERT_UINT_EQ(s[4].xor_hi, 0x20);
    ASSERT_UINT_EQ(s[4].mods, WEIR__MOD_XOR | WEIR__MOD_WIDE);
    ASSERT_UINT_EQ(s[5].mods, WEIR__MOD_BASE64WIDE);
    done(&p);
}

TEST(hex_and_regex_strings)
{
    const char *src = "rule a { strings:\n"
                      "  $h = { 41 ?? [2-4] ( 42 | 43 ) // c } {\n"
                      "         ~44 /* } */ 4? } private\n"
                      "  $r = /a\\/b[}{]\\d+/is wide\n"
                      "  $q = /x{2}/ nocase\n"
                      "  $s = /y/s\n"
                      "condition: any of them }";
    parsed_t p = parse(src);
    ASSERT_INT_EQ(p.errors, 0);
    weir__ast_string_t *s = p.ast.rules[0].strings;
    ASSERT_INT_EQ(s[0].kind, WEIR__STR_HEX);
    ASSERT_STR_EQ((char *)s[0].value,
                  " 41 ?? [2-4] ( 42 | 43 ) // c } {\n         ~44 /* } */ 4? ");
    ASSERT_UINT_EQ(s[0].len, strlen((char *)s[0].value));
    ASSERT_UINT_EQ(s[0].mods, WEIR__MOD_PRIVATE);
    ASSERT_UINT_EQ(s[0].value_loc.line, 2);
    ASSERT_UINT_EQ(s[0].value_loc.column, 9);
    ASSERT_INT_EQ(s[1].kind, WEIR__STR_REGEX);
    ASSERT_STR_EQ((char *)s[1].value, "a\\/b[}{]\\d+");
    ASSERT_UINT_EQ(s[1].re_flags, WEIR__RE_NOCASE | WEIR__RE_DOTALL);
    ASSERT_UINT_EQ(s[1].mods, WEIR__MOD_WIDE);
    ASSERT_UINT_EQ(s[1].value_loc.line, 4);
    ASSERT_UINT_EQ(s[1].value_loc.column, 9);
    ASSERT_STR_EQ((char *)s[2].value, "x{2}");
    ASSERT_UINT_EQ(s[2].re_flags, 0);
    ASSERT_UINT_EQ(s[2].mods, WEIR__MOD_NOCASE);
    ASSERT_UINT_EQ(s[3].re_flags, WEIR__RE_DOTALL);
    done(&p);
}

TEST(comments_everywhere)
{
    ASSERT_STR_EQ(cond_of("// c\n/* a\n b */ rule /*x*/ a // y\n { /* z */ condition /**/ : "
                          "// q\n true /* } */ }"),
                  "true");
}

/* ---- conditions ----------------------------------------------------------------- */

TEST(precedence)
{
    ASSERT_STR_EQ(cond_of("rule a { condition: 1 + 2 * 3 == 7 }"), "(== (+ 1 (* 2 3)) 7)");
    ASSERT_STR_EQ(cond_of("rule a { condition: 1 - 2 - 3 == 0 }"), "(== (- (- 1 2) 3) 0)");
    ASSERT_STR_EQ(cond_of("rule a { condition: 1 | 2 ^ 3 & 4 << 5 + 6 * -7 + 99 > 0 }"),
                  "(> (| 1 (^ 2 (& 3 (<< 4 (+ (+ 5 (* 6 (neg 7))) 99))))) 0)");
    ASSERT_STR_EQ(cond_of("rule a { condition: 8 \\ 2 % 3 >> 1 <= ~1 }"),
                  "(<= (>> (% (\\ 8 2) 3) 1) (~ 1))");
    ASSERT_STR_EQ(cond_of("rule a { condition: true or false and not true }"),
                  "(or true (and false (not true)))");
    ASSERT_STR_EQ(cond_of("rule a { condition: not true and false }"), "(and (not true) false)");
    ASSERT_STR_EQ(cond_of("rule a { condition: not 1 == 2 }"), "(not (== 1 2))");
    ASSERT_STR_EQ(cond_of("rule a { condition: not not (true or false) and true }"),
                  "(and (not (not (or true false))) true)");
    ASSERT_STR_EQ(cond_of("rule a { condition: (1 + 2) * 3 != 9 }"), "(!= (* (+ 1 2) 3) 9)");
    ASSERT_STR_EQ(cond_of("rule a { condition: ((1)) < 2 }"), "(< 1 2)");
    ASSERT_STR_EQ(cond_of("rule a { condition: - - 1 == 1 }"), "(== (neg (neg 1)) 1)");
    ASSERT_STR_EQ(cond_of("rule a { condition: \"ab\" == \"a\\x62\" and \"a\" < \"b\" }"),
                  "(and (== (text \"ab\") (text \"ab\")) (< (text \"a\") (text \"b\")))");
    ASSERT_STR_EQ(cond_of("rule a { condition: filesize >= 1KB and filesize < 2MB }"),
                  "(and (>= (filesize) 1024) (< (filesize) 2097152))");
    ASSERT_STR_EQ(cond_of("rule a { condition: 1 }"), "1");
    ASSERT_STR_EQ(cond_of("rule a { condition: \"x\" }"), "(text \"x\")");
}

TEST(and_or_chains_are_balanced)
{
    ASSERT_STR_EQ(cond_of("rule a { condition: 1 and 2 and 3 }"), "(and (and 1 2) 3)");
    ASSERT_STR_EQ(cond_of("rule a { condition: 1 or 2 or 3 or 4 }"), "(or (or 1 2) (or 3 4))");
    ASSERT_STR_EQ(cond_of("rule a { condition: 1 or 2 and 3 or 4 }"), "(or (or 1 (and 2 3)) 4)");
    /* evaluation order is kept: leaves left to right */
    ASSERT_STR_EQ(cond_of("rule a { condition: 1 and 2 and 3 and 4 and 5 }"),
                  "(and (and (and 1 2) 3) (and 4 5))");
}

TEST(integer_reads)
{
    /* kind: size | 8 signed | 16 big endian */
    ASSERT_STR_EQ(cond_of("rule a { condition: uint8(0) == 0 }"), "(== (read 1 0) 0)");
    ASSERT_STR_EQ(cond_of("rule a { condition: int32be(uint16(0x3c) + 4) < -1 }"),
                  "(< (read 28 (+ (read 2 60) 4)) (neg 1))");
    ASSERT_STR_EQ(cond_of("rule a { condition: uint16be(1) + int8(2) == int16(3) }"),
                  "(== (+ (read 18 1) (read 9 2)) (read 10 3))");
    ASSERT_ERROR("rule a { condition: uint8 0 }", 1, 27, "expecting \"(\"");
    ASSERT_ERROR("rule a { condition: uint8(0 }", 1, 29, "expecting \")\"");
    ASSERT_STR_EQ(cond_of("rule a { condition: uint8(0) }"), "(read 1 0)");
}

TEST(defined_and_percent)
{
    ASSERT_STR_EQ(cond_str("defined @a[1] and not defined #b"),
                  "(and (defined (@ 0 1)) (not (defined (# 1))))");
    ASSERT_STR_EQ(cond_str("50% of them"), "(of percent [0,1,2,3] 50)");
    ASSERT_STR_EQ(cond_str("#a % 3 == 1 or 10 % of ($a, $b)"),
                  "(or (== (% (# 0) 3) 1) (of percent [0,1] 10))");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: 0% of them }", 1, 39,
                 "percentage must be between 1 and 100 (inclusive)");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: 101% of them }", 1, 39,
                 "percentage must be between 1 and 100 (inclusive)");
    ASSERT_ERROR("rule a { condition: 1 + defined 2 }", 1, 25, "\"defined\" gives a boolean");
}

TEST(integers)
{
    ASSERT_STR_EQ(cond_of("rule a { condition: 0x1f + 0o17 + 017 + 0 - 9223372036854775807 "
                          "> 0 }"),
                  "(> (- (+ (+ (+ 31 15) 17) 0) 9223372036854775807) 0)");
    ASSERT_STR_EQ(cond_of("rule a { condition: 3KB == 3072 and 0x10 == 16 }"),
                  "(and (== 3072 3072) (== 16 16))");
    ASSERT_ERROR("rule a { condition: 99999999999999999999 > 0 }", 1, 21, "integer overflow");
    ASSERT_ERROR("rule a { condition: 9007199254740992KB > 0 }", 1, 21, "integer overflow");
    ASSERT_ERROR("rule a { condition: 0x > 0 }", 1, 21, "invalid number");
    ASSERT_ERROR("rule a { condition: 0x10KB > 0 }", 1, 25, "unexpected identifier \"KB\"");
    ASSERT_ERROR("rule a { condition: 1.5 > 0 }", 1, 21,
                 "floating point numbers are not supported");
    ASSERT_ERROR("rule a { condition: 1 \\ 0 == 0 }", 1, 23, "division by zero");
    ASSERT_ERROR("rule a { condition: 1 % (2 - 2) == 0 }", 1, 23, "division by zero");
    ASSERT_ERROR("rule a { condition: filesize >> -1 == 0 }", 1, 30, "negative shift amount -1");
    ASSERT_VALID("rule a { condition: 1 << 64 == 0 and -9223372036854775807 - 1 < 0 }");
    ASSERT_ERROR("rule a { condition: 9223372036854775807 + 1 > 0 }", 1, 41, "integer overflow");
    ASSERT_ERROR("rule a { condition: -9223372036854775807 - 2 < 0 }", 1, 42, "integer overflow");
}

TEST(string_references)
{
    ASSERT_STR_EQ(cond_str("$a and #b > 1 and @c1 == 2 and !c2 == 3"),
                  "(and (and (found 0) (> (# 1) 1)) (and (== (@ 2) 2) (== (! 3) 3)))");
    ASSERT_STR_EQ(cond_str("@a[2] == !b[#a] and $c1 at 10 + 1 and $c2 in (0..filesize)"),
                  "(and (and (== (@ 0 2) (! 1 (# 0))) (at 2 (+ 10 1))) (in 3 0 (filesize)))");
    ASSERT_STR_EQ(cond_str("#a in (1..2) == 0"), "(== (#in 0 1 2) 0)");
}

TEST(string_sets)
{
    ASSERT_STR_EQ(cond_str("all of ($c*, $a, $c2)"), "(of all [0,2,3])");
    ASSERT_STR_EQ(cond_str("none of ($b, $b, $b*)"), "(of none [1])");
    ASSERT_STR_EQ(cond_str("2 of ($*)"), "(of expr [0,1,2,3] 2)");
    ASSERT_STR_EQ(cond_str("#a + 1 of them"), "(of expr [0,1,2,3] (+ (# 0) 1))");
    ASSERT_STR_EQ(cond_of("rule r { strings: $ = \"a\" $x = \"b\" $ = \"c\" condition: any of "
                          "($) and $x }"),
                  "(and (of any [0,2]) (found 1))");
}

TEST(for_loops)
{
    ASSERT_STR_EQ(cond_str("for any of ($a, $b) : ($ and # > 1 and @ == 0 and ![1] == 3)"),
                  "(forof any [0,1] (and (and (found -1) (> (# -1) 1)) (and (== (@ -1) 0) "
                  "(== (! -1 1) 3))))");
    ASSERT_STR_EQ(cond_str("for all of them : ($ at 0 or $ in (1..2) or # in (0..1) == 1)"),
                  "(forof all [0,1,2,3] (or (or (at -1 0) (in -1 1 2)) (== (#in -1 0 1) 1)))");
    ASSERT_STR_EQ(cond_str("for 2 of ($c*) : (true)"), "(forof expr [2,3] 2 true)");
    ASSERT_STR_EQ(cond_str("for any i in (1..#a) : (@a[i] > 0)"),
                  "(forin 0 any range 1 (# 0) (> (@ 0 (var 0)) 0))");
    ASSERT_STR_EQ(cond_str("for none i in (1, 2, 3) : (i == 2)"),
                  "(forin 0 none list 1 2 3 (== (var 0) 2))");
    ASSERT_STR_EQ(cond_str("for #a i in (4) : (i > 1)"),
                  "(forin 0 expr list 4 (# 0) (> (var 0) 1))");
    ASSERT_STR_EQ(cond_str("for all i in (1..2) : (for any j in (i..3) : (for any of ($a) : "
                           "(@[j] > i)))"),
                  "(forin 0 all range 1 2 (forin 1 any range (var 0) 3 (forof any [0] (> (@ "
                  "-1 (var 1)) (var 0)))))");
    ASSERT_STR_EQ(cond_str("for any of ($a) : (for any k in (1..#) : (@[k] > 0))"),
                  "(forof any [0] (forin 1 any range 1 (# -1) (> (@ -1 (var 1)) 0)))");
}

TEST(rule_references)
{
    parsed_t p = parse("rule a { condition: true }\n"
                       "rule b { condition: a }\n"
                       "rule c { condition: for any a in (1..2) : (a == 1) and b }\n");
    ASSERT_INT_EQ(p.errors, 0);
    char s[256] = "";
    sexpr(p.ast.rules[1].cond, s, sizeof s);
    ASSERT_STR_EQ(s, "(rule 0)");
    s[0] = '\0';
    sexpr(p.ast.rules[2].cond, s, sizeof s);
    ASSERT_STR_EQ(s, "(and (forin 0 any range 1 2 (== (var 0) 1)) (rule 1))");
    /* a second source in the same namespace sees them; another namespace does not */
    const char *more = "rule d { condition: c and a }";
    ASSERT_INT_EQ(weir__parse(&p.ast, "u.yar", more, strlen(more), NULL, p.diags), 0);
    ASSERT_UINT_EQ(p.ast.nrules, 4);
    s[0] = '\0';
    sexpr(p.ast.rules[3].cond, s, sizeof s);
    ASSERT_STR_EQ(s, "(and (rule 2) (rule 0))");
    ASSERT_UINT_EQ(p.ast.nfiles, 2);
    ASSERT_UINT_EQ(p.ast.rules[3].cond->loc.file, 1);
    const char *other = "rule e { condition: a }\nrule a { condition: true }";
    ASSERT_INT_EQ(weir__parse(&p.ast, "v.yar", other, strlen(other), "ns2", p.diags), 1);
    ASSERT_INT_EQ(has_diag(&p, 1, 21, "undefined identifier \"a\""), 1);
    ASSERT_UINT_EQ(p.ast.nrules, 5);
    ASSERT_STR_EQ(p.ast.rules[4].ns, "ns2");
    const weir_diag_t *d = weir_diags_get(p.diags, 0);
    ASSERT_STR_EQ(d->file, "v.yar");
    ASSERT_STR_EQ(d->source_line, "rule e { condition: a }");
    done(&p);
    ASSERT_ERROR("rule a { condition: b }\nrule b { condition: true }", 1, 21,
                 "undefined identifier \"b\"");
    ASSERT_ERROR("rule a { condition: a }", 1, 21, "undefined identifier \"a\"");
}

/* ---- errors ----------------------------------------------------------------------- */

TEST(syntax_errors)
{
    ASSERT_ERROR("rule a { strings: $a = \"x\" }", 1, 28,
                 "unexpected \"}\", expecting string identifier, string modifier or "
                 "\"condition\"");
    ASSERT_ERROR("rule a { foo condition: true }", 1, 10,
                 "unexpected identifier \"foo\", expecting \"meta\", \"strings\" or "
                 "\"condition\"");
    ASSERT_ERROR("rule private { condition: true }", 1, 6, "unexpected keyword \"private\"");
    ASSERT_ERROR("rule a { meta: all = 1 condition: true }", 1, 16, "unexpected keyword \"all\"");
    ASSERT_ERROR("rule a { condition: true or }", 1, 29, "unexpected \"}\", expecting expression");
    ASSERT_ERROR("rule a { condition: true true }", 1, 26, "unexpected keyword \"true\"");
    ASSERT_ERROR("rule a { condition: 1 < 2 < 3 }", 1, 27, "unexpected \"<\"");
    ASSERT_ERROR("rule a { condition: (1 == 1) == true }", 1, 30,
                 "a boolean expression cannot be an operand of \"==\"");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: $a + 1 > 0 }", 1, 39,
                 "a boolean expression cannot be an operand of \"+\"");
    ASSERT_ERROR("rule a { condition: -true }", 1, 22, "cannot be an operand of \"-\"");
    ASSERT_ERROR("rule a : { condition: true }", 1, 10, "expecting tag identifier");
    ASSERT_ERROR("rule a { meta: condition: true }", 1, 16, "expecting meta identifier");
    ASSERT_ERROR("rule a { meta: x = y condition: true }", 1, 20,
                 "expecting text string, number, true or false");
    ASSERT_ERROR("rule a { strings: condition: true }", 1, 19, "expecting string identifier");
    ASSERT_ERROR("rule a { strings: $a = 5 condition: $a }", 1, 24,
                 "expecting text string, hex string or regular expression");
    ASSERT_ERROR("rule a { condition: true", 1, 25, "unexpected end of file");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: any of ($a, ) }", 1, 51,
                 "expecting string identifier");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: any of $a }", 1, 46,
                 "expecting \"them\" or \"(\"");
    ASSERT_ERROR("rule a { condition: for any i in (1..2) (true) }", 1, 41, "expecting \":\"");
    ASSERT_ERROR("foo", 1, 1, "unexpected identifier \"foo\", expecting \"rule\"");
    ASSERT_ERROR("rule a { condition: true } }", 1, 28, "unexpected \"}\"");
    ASSERT_ERROR("rule a { condition: $a* }", 1, 21, "unexpected string identifier with wildcard");
    ASSERT_ERROR("rule a { strings: $a = /x/si condition: $a }", 1, 28,
                 "unexpected identifier \"i\"");
}

TEST(lexical_errors)
{
    ASSERT_ERROR("rule a { strings: $a = \"x\\qy\" condition: $a }", 1, 26,
                 "illegal escape sequence");
    ASSERT_ERROR("rule a { strings: $a = \"x\\x4\" condition: $a }", 1, 26,
                 "illegal escape sequence");
    ASSERT_ERROR("rule a { strings: $a = \"abc\ncondition: $a }", 1, 24, "unterminated string");
    ASSERT_ERROR("rule a { condition: \"abc", 1, 21, "unterminated string");
    ASSERT_ERROR("rule a { strings: $a = /abc\n/ condition: $a }", 1, 24,
                 "unterminated regular expression");
    ASSERT_ERROR("rule a { strings: $a = /abc\\", 1, 24, "unterminated regular expression");
    ASSERT_ERROR("rule a { strings: $a = { 41 42", 1, 24, "unterminated hex string");
    ASSERT_ERROR("rule a { strings: $a = { 41 /* 42 }", 1, 29, "unterminated comment");
    ASSERT_ERROR("rule a { strings: $a = { 41 4G } condition: $a }", 1, 30,
                 "invalid character 'G' in hex string");
    ASSERT_ERROR("rule a { condition: true }\n/* open", 2, 1, "unterminated comment");
    ASSERT_ERROR("rule a { condition: true and ` }", 1, 30, "unexpected character '`'");
    ASSERT_ERROR("rule a\x01 { condition: true }", 1, 7, "unexpected character 0x01");
    ASSERT_ERROR("rule \xc3\xa9 { condition: true }", 1, 6, "unexpected character 0xc3");
    char longname[300];
    snprintf(longname, sizeof longname, "rule %0129d { condition: true }", 0);
    memset(longname + 5, 'a', 129);
    ASSERT_ERROR(longname, 1, 6, "identifier too long");
    memset(longname + 5 + 128, ' ', 1);
    ASSERT_VALID(longname);
}

TEST(nul_bytes)
{
    const char src[] = "rule a { strings: $a = \"x\0y\" condition: $a }\nrule b { condition: "
                       "\0 }";
    parsed_t p;
    memset(&p, 0, sizeof p);
    p.diags = weir__diags_new();
    p.errors = weir__parse(&p.ast, "n.yar", src, sizeof src - 1, NULL, p.diags);
    ASSERT_INT_EQ(p.errors, 1);
    ASSERT_INT_EQ(has_diag(&p, 2, 21, "unexpected character 0x00"), 1);
    ASSERT_UINT_EQ(p.ast.nrules, 1);
    /* As in YARA, a NUL byte ends the run of plain bytes it is in (with a warning). */
    ASSERT_INT_EQ(has_diag(&p, 1, 26, "NUL byte"), 1);
    ASSERT_UINT_EQ(p.ast.rules[0].strings[0].len, 1);
    ASSERT_MEM_EQ(p.ast.rules[0].strings[0].value, "x", 2);
    ASSERT_UINT_EQ(p.ast.text_lens[0], sizeof src - 1);
    done(&p);
}

TEST(semantic_errors)
{
    ASSERT_ERROR("rule a { condition: true }\nrule a { condition: true }", 2, 6,
                 "duplicated identifier \"a\"");
    ASSERT_ERROR("rule a : x y x { condition: true }", 1, 14, "duplicated tag identifier \"x\"");
    ASSERT_ERROR("rule a { strings: $a = \"x\" $a = \"y\" condition: $a }", 1, 28,
                 "duplicated string identifier \"$a\"");
    ASSERT_ERROR("rule a { strings: $a = \"\" condition: $a }", 1, 24, "empty string \"$a\"");
    ASSERT_ERROR("rule a { strings: $a = { /* c */ } condition: $a }", 1, 24,
                 "empty hex string \"$a\"");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: $b }", 1, 39,
                 "undefined string identifier \"$b\"");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: $a and #b > 0 }", 1, 46,
                 "undefined string identifier \"$b\"");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: $a and @b[1] > 0 }", 1, 46,
                 "undefined string identifier \"$b\"");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: any of ($b*) }", 1, 47,
                 "no string matches \"$b*\"");
    ASSERT_ERROR("rule a { strings: $ab = \"x\" condition: any of ($a) }", 1, 48,
                 "undefined string identifier \"$a\"");
    ASSERT_ERROR("rule a { condition: any of them }", 1, 28,
                 "\"them\" used in a rule without strings");
    ASSERT_ERROR("rule a { strings: $a = \"x\" $b = \"y\" condition: $a }", 1, 28,
                 "unreferenced string identifier \"$b\"");
    ASSERT_ERROR("rule a { strings: $ = \"x\" $b = \"y\" condition: $b }", 1, 19,
                 "unreferenced string identifier \"$\"");
    ASSERT_ERROR("rule a { strings: $_a = \"x\" $b = \"y\" condition: $b }", 1, 19,
                 "unreferenced string identifier \"$_a\"");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: $ }", 1, 39,
                 "wrong use of anonymous string");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: $a and # == 1 }", 1, 46,
                 "wrong use of anonymous string");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: $a and @ == 1 }", 1, 46,
                 "wrong use of anonymous string");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: $a and ! == 1 }", 1, 46,
                 "wrong use of anonymous string");
    ASSERT_ERROR("rule a { condition: x }", 1, 21, "undefined identifier \"x\"");
    ASSERT_ERROR("rule a { condition: \"a\" == 1 }", 1, 25, "type mismatch");
    ASSERT_ERROR("rule a { condition: \"a\" + 1 > 0 }", 1, 21, "wrong type \"string\" for +");
    ASSERT_ERROR("rule b { condition: true } rule a { condition: b + 1 > 0 }", 1, 48,
                 "wrong type \"boolean\" for +");
    ASSERT_ERROR("rule b { condition: true } rule a { condition: b == 1 }", 1, 50, "type mismatch");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: $a at \"s\" }", 1, 45,
                 "wrong type \"string\" for at");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: \"s\" of them }", 1, 39,
                 "wrong type \"string\" for of");
    ASSERT_ERROR("rule a { condition: for any i in (1..2) : (for any i in (1..2) : (true)) }", 1,
                 52, "duplicated loop identifier \"i\"");
    ASSERT_ERROR("rule a { condition: for any i, j in (1..2) : (true) }", 1, 37,
                 "iterator yields an integer on each iteration, but the loop expects 2");
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: for any of them : (for any of them "
                 ": ($)) }",
                 1, 58, "\"for ... of\" loops cannot be nested");
    ASSERT_ERROR("rule a { condition: for any a in (1..2) : (for any b in (1..2) : (for any c "
                 "in (1..2) : (for any d in (1..2) : (for any e in (1..2) : (true))))) }",
                 1, 113, "loop nesting limit exceeded");
    ASSERT_VALID("rule a { condition: for any a in (1..2) : (for any b in (1..2) : (for any c "
                 "in (1..2) : (for any d in (1..2) : (true)))) }");
    ASSERT_ERROR("rule a { condition: i == 1 and for any i in (1..2) : (true) }", 1, 21,
                 "undefined identifier \"i\"");
}

TEST(modifier_errors)
{
    ASSERT_ERROR("rule a { strings: $a = \"x\" nocase nocase condition: $a }", 1, 35,
                 "duplicated modifier \"nocase\"");
    ASSERT_ERROR("rule a { strings: $a = \"x\" xor xor(1) condition: $a }", 1, 32,
                 "duplicated modifier \"xor\"");
    ASSERT_ERROR("rule a { strings: $a = { 41 } nocase condition: $a }", 1, 31,
                 "modifier \"nocase\" is not allowed on hex strings");
    ASSERT_ERROR("rule a { strings: $a = { 41 } xor condition: $a }", 1, 31,
                 "modifier \"xor\" is not allowed on hex strings");
    ASSERT_ERROR("rule a { strings: $a = /x/ xor condition: $a }", 1, 28,
                 "modifier \"xor\" is not allowed on regular expressions");
    ASSERT_ERROR("rule a { strings: $a = /x/ base64 condition: $a }", 1, 28,
                 "modifier \"base64\" is not allowed on regular expressions");
    ASSERT_ERROR("rule a { strings: $a = \"x\" xor nocase condition: $a }", 1, 19,
                 "invalid modifier combination: xor nocase");
    ASSERT_ERROR("rule a { strings: $a = \"xyz\" base64 nocase condition: $a }", 1, 19,
                 "invalid modifier combination: base64 nocase");
    ASSERT_ERROR("rule a { strings: $a = \"xyz\" base64wide fullword condition: $a }", 1, 19,
                 "invalid modifier combination: base64wide fullword");
    ASSERT_ERROR("rule a { strings: $a = \"xyz\" xor base64 condition: $a }", 1, 19,
                 "invalid modifier combination: base64 xor");
    ASSERT_ERROR("rule a { strings: $a = \"x\" xor(256) condition: $a }", 1, 32,
                 "invalid xor range");
    ASSERT_ERROR("rule a { strings: $a = \"x\" xor(1-300) condition: $a }", 1, 32,
                 "upper bound for xor range exceeded (max: 255)");
    ASSERT_ERROR("rule a { strings: $a = \"x\" xor(5-3) condition: $a }", 1, 32,
                 "xor lower bound exceeds upper bound");
    ASSERT_ERROR("rule a { strings: $a = \"x\" xor(-1) condition: $a }", 1, 32,
                 "expecting integer number");
    ASSERT_ERROR("rule a { strings: $a = \"xyz\" base64(\"abc\") condition: $a }", 1, 37,
                 "length of base64 alphabet must be 64");
    /* base64 and base64wide must name one alphabet (the standard one by default) */
    ASSERT_ERROR("rule a { strings: $a = \"xyz\" base64 base64wide(\"ABCDEFGHIJKLMNOPQRSTUVWXY"
                 "Zabcdefghijklmnopqrstuvwxyz0123456789+-\") condition: $a }",
                 1, 48, "can not specify multiple alphabets");
    ASSERT_ERROR("rule a { strings: $a = \"xyz\" base64(\"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk"
                 "lmnopqrstuvwxyz0123456789+-\") base64wide condition: $a }",
                 1, 105, "can not specify multiple alphabets");
}

TEST(unsupported_features)
{
    ASSERT_ERROR("import \"pe\"\nrule a { condition: true }", 1, 1,
                 "import of module \"pe\" is not supported: it parses a whole Windows executable");
    ASSERT_ERROR("import \"hash\"\nrule a { condition: true }", 1, 1,
                 "import of module \"hash\" is not supported: it hashes byte ranges");
    ASSERT_ERROR("import \"time\"\nrule a { condition: true }", 1, 1,
                 "import of module \"time\" is not supported: its time.now() would make");
    ASSERT_ERROR("import \"string\"\nrule a { condition: true }", 1, 1,
                 "unknown module \"string\"");
    {
        static const char *const mods[] = {"pe",   "elf",   "macho",  "dotnet", "hash",
                                           "math", "magic", "cuckoo", "time",   "console"};
        for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
            char src[96], msg[64];
            snprintf(src, sizeof src, "import \"%s\"\nrule a { condition: true }", mods[i]);
            snprintf(msg, sizeof msg, "import of module \"%s\" is not supported: it", mods[i]);
            parsed_t t = parse(src);
            int ok = t.errors == 1 && has_diag(&t, 1, 1, msg);
            done(&t);
            if (!ok)
                T__FAIL("no reason given for module %s", mods[i]);
        }
    }
    ASSERT_ERROR("include \"x.yar\"\nrule a { condition: true }", 1, 1,
                 "can't open include file: x.yar");
    ASSERT_ERROR("rule a { condition: entrypoint == 0 }", 1, 21, "\"entrypoint\" is not supported");
    ASSERT_ERROR("rule a { condition: pe.number_of_sections == 1 }", 1, 21,
                 "undefined identifier \"pe\": module member access is not supported");
    ASSERT_ERROR("rule a { condition: filename == \"x\" }", 1, 21,
                 "undefined identifier \"filename\"");
    ASSERT_STR_EQ(cond_of("rule a { condition: defined 1 }"), "(defined 1)");
    /* yara 4.2.3 has no "for N% of" either */
    ASSERT_ERROR("rule a { strings: $a = \"x\" condition: for 50% of them : ($) }", 1, 45,
                 "syntax error");
    ASSERT_ERROR("rule a { condition: for any s in pe.sections : (true) }", 1, 34,
                 "undefined identifier \"pe\"");
    /* only when followed by `of` is % a quantifier */
    ASSERT_VALID("rule a { condition: 50 % 7 == 1 }");
    /* all the errors of one statement, not only the first */
    parsed_t p = parse("import \"pe\"\nimport \"math\"\nrule a { condition: true }");
    ASSERT_INT_EQ(p.errors, 2);
    ASSERT_INT_EQ(has_diag(&p, 2, 1, "\"math\""), 1);
    ASSERT_UINT_EQ(p.ast.nrules, 1);
    done(&p);
}

static void external_variables_checks(void)
{
    ASSERT_STR_EQ(cond_of("rule a { condition: app contains \"ss\" and level > 2 }"),
                  "(and (contains (ext 0) (text \"ss\")) (> (ext 1) 2))");
    ASSERT_STR_EQ(cond_of("rule a { condition: app matches /a.b/is or \"x\" iequals app }"),
                  "(or (matches (ext 0) (regex /a.b/3)) (iequals (text \"x\") (ext 0)))");
    ASSERT_STR_EQ(cond_of("rule a { condition: app == \"x\" and app < app and defined level }"),
                  "(and (and (== (ext 0) (text \"x\")) (< (ext 0) (ext 0))) (defined (ext 1)))");
    ASSERT_STR_EQ(cond_of("rule a { condition: for any i in (1..level) : (i == level) }"),
                  "(forin 0 any range 1 (ext 1) (== (var 0) (ext 1)))");
    ASSERT_ERROR("rule a { condition: level contains \"b\" }", 1, 21,
                 "wrong type \"integer\" for contains operator");
    ASSERT_ERROR("rule a { condition: app startswith 1 }", 1, 36,
                 "wrong type \"integer\" for startswith operator");
    ASSERT_ERROR("rule a { condition: app matches \"b\" }", 1, 33, "expecting regular expression");
    ASSERT_ERROR("rule a { condition: app matches /a(/ }", 1, 36, "syntax error");
    ASSERT_ERROR("rule a { condition: app + 1 > 2 }", 1, 21, "wrong type \"string\"");
    ASSERT_ERROR("rule a { condition: app == 2 }", 1, 25, "type mismatch");
    ASSERT_ERROR("rule app { condition: true }", 1, 6, "duplicated identifier \"app\"");
    ASSERT_ERROR("rule a { condition: host == \"x\" }", 1, 21, "undefined identifier \"host\"");
    /* a loop variable hides an external variable of the same name */
    ASSERT_STR_EQ(cond_of("rule a { condition: for any level in (1, 2) : (level == 2) }"),
                  "(forin 0 any list 1 2 (== (var 0) 2))");
}

TEST(external_variables)
{
    static const weir__ast_var_t vars[] = {{"app", WEIR__VAR_STRING}, {"level", WEIR__VAR_INT}};
    test_vars = vars;
    test_nvars = 2;
    external_variables_checks();
    test_vars = NULL;
    test_nvars = 0;
}

TEST(rule_sets)
{
    const char *src = "rule a1 { condition: true }\nrule a2 { condition: false }\n"
                      "rule b { condition: 2 of (a1, a1) and any of (a*) and all of (b, a2) }";
    ASSERT_STR_EQ(cond_of(src), "(and (and (ofrules expr [0,0] 2) (ofrules any [0,1])) "
                                "(ofrules all [4294967295,1]))");
    ASSERT_STR_EQ(cond_of("rule a1 { condition: true }\nrule ab { condition: 50% of (a*) }"),
                  "(ofrules percent [4294967295,0] 50)");
    ASSERT_ERROR("rule a1 { condition: true }\nrule b { condition: any of (a*) }\n"
                 "rule a2 { condition: true }",
                 3, 6, "rule identifier \"a2\" matches previously used wildcard rule set");
    ASSERT_ERROR("rule a1 { condition: true }\nrule b { condition: any of (a1, zz) }", 2, 33,
                 "undefined identifier \"zz\"");
    ASSERT_ERROR("rule a1 { condition: true }\nrule b { condition: any of (c*) }", 2, 29,
                 "undefined identifier \"c*\"");
    ASSERT_ERROR("rule a1 { condition: true }\nrule b { strings: $x = \"h\" condition: "
                 "any of (a1, $x) }",
                 2, 51, "expecting rule identifier");
    ASSERT_ERROR("rule a1 { condition: true }\nrule b { condition: for any of (a1) : (true) }", 2,
                 33, "string identifier");
    /* a rule that failed to compile is referenced quietly */
    parsed_t p = parse("rule a1 { condition: $x }\nrule b { condition: any of (a1) }");
    ASSERT_INT_EQ(p.errors, 1);
    done(&p);
}

TEST(recovery_reports_every_rule)
{
    const char *src = "rule ok1 { condition: true }\n"
                      "rule bad1 { condition: 1 + }\n"
                      "rule bad2 { strings: $a = \"x\" condition: $b }\n"
                      "private rule bad3 { condition: ( }\n"
                      "global private rule ok2 { condition: ok1 }\n"
                      "rule bad4 { strings: $a = /unterminated\n"
                      "  condition: $a }\n"
                      "rule bad5 : t t { condition: bad1 and nothing }\n"
                      "rule bad6 { strings: $a = { 41 xy } condition: $a } rule ok3 { "
                      "condition: ok2 }\n";
    parsed_t p = parse(src);
    if (p.errors != 7)
        dump_diags(&p);
    ASSERT_INT_EQ(p.errors, 7);
    ASSERT_INT_EQ(has_diag(&p, 2, 28, "unexpected \"}\""), 1);
    ASSERT_INT_EQ(has_diag(&p, 3, 42, "undefined string identifier \"$b\""), 1);
    ASSERT_INT_EQ(has_diag(&p, 4, 34, "unexpected \"}\""), 1);
    ASSERT_INT_EQ(has_diag(&p, 6, 27, "unterminated regular expression"), 1);
    ASSERT_INT_EQ(has_diag(&p, 8, 15, "duplicated tag identifier"), 1);
    ASSERT_INT_EQ(has_diag(&p, 8, 39, "undefined identifier \"nothing\""), 1);
    ASSERT_INT_EQ(has_diag(&p, 9, 32, "invalid character 'x' in hex string"), 1);
    ASSERT_UINT_EQ(p.ast.nrules, 3);
    ASSERT_STR_EQ(p.ast.rules[0].name, "ok1");
    ASSERT_STR_EQ(p.ast.rules[1].name, "ok2");
    ASSERT_UINT_EQ(p.ast.rules[1].flags, WEIR__RULE_PRIVATE | WEIR__RULE_GLOBAL);
    ASSERT_STR_EQ(p.ast.rules[2].name, "ok3");
    char s[64] = "";
    sexpr(p.ast.rules[2].cond, s, sizeof s);
    ASSERT_STR_EQ(s, "(rule 1)");
    done(&p);
}

TEST(error_limit)
{
    char src[8192] = "";
    for (int i = 0; i < 100; i++)
        put(src, sizeof src, "rule r%d { condition: x%d }\n", i, i);
    parsed_t p = parse(src);
    ASSERT_INT_EQ(p.errors, WEIR_MAX_ERRORS);
    ASSERT_UINT_EQ(weir_diags_count(p.diags), WEIR_MAX_ERRORS);
    done(&p);
}

TEST(null_diags_and_empty_input)
{
    weir__ast_t ast;
    memset(&ast, 0, sizeof ast);
    weir__ast_free(&ast);
    ASSERT_INT_EQ(weir__parse(&ast, NULL, "", 0, NULL, NULL), 0);
    ASSERT_INT_EQ(weir__parse(&ast, "x", "rule", 4, NULL, NULL), 1);
    ASSERT_INT_EQ(weir__parse(&ast, "y", NULL, 0, "n", NULL), 0);
    ASSERT_UINT_EQ(ast.nfiles, 3);
    ASSERT_STR_EQ(ast.files[0], "<input>");
    ASSERT_UINT_EQ(ast.nrules, 0);
    weir__ast_free(&ast);
    ASSERT_UINT_EQ(ast.nfiles, 0);
    weir__ast_free(NULL);
}

/* ---- robustness --------------------------------------------------------------------- */

static const char *const samples[] = {
    "import \"pe\"\n"
    "rule a : t1 t2 { meta: author = \"x\\\"y\" n = -3 b = true\n"
    " strings: $a = \"abc\\x41\" nocase wide $b = { 41 ?? [1-2] (42|43) // c\n } private\n"
    " $c = /a\\/b+[x]{2}/is $ = \"q\" xor(1-3) $d = \"zz\" base64\n"
    " condition: ($a and #b > 1 or @c[2] == 3) and not $d at 5 and any of ($*) }\n",
    "private global rule b { condition: for any i in (1..filesize) : (i \\ 2 % 3 << 1 == ~5) "
    "}\n"
    "rule c { strings: $x1 = \"q\" $x2 = \"r\" condition: for all of ($x*) : (# > 1 and $ in "
    "(0..100) and !x1[1] == @[1]) and b and 2 of them }\n"
    "/* trailing comment */ rule d { condition: \"s\" == \"t\" or 0x10 | 0o7 ^ 1KB & 2 > -1 "
    "}\n",
    ("rule e { strings: $a = \"x\" condition: for 1 i in (1, 2, #a) : (for any j in (i..3) : "
     "(@a[j] > i)) }"),
};

/* Depth of a tree (counting at most limit levels). */
static int depth(const weir__expr_t *e)
{
    if (!e)
        return 0;
    int d = 0, x;
    if ((x = depth(e->a)) > d)
        d = x;
    if ((x = depth(e->b)) > d)
        d = x;
    if ((x = depth(e->c)) > d)
        d = x;
    for (size_t i = 0; i < e->nlist; i++)
        if ((x = depth(e->list[i])) > d)
            d = x;
    return d + 1;
}

/* Parses buf (no NUL needed); checks the invariants of the result. */
static int check_parse(const char *buf, size_t len)
{
    weir__ast_t ast;
    memset(&ast, 0, sizeof ast);
    weir_diags_t *d = weir__diags_new();
    int r = weir__parse(&ast, "f", buf, len, NULL, d);
    int ok = r >= 0 && (r == 0) == (weir__diag_errors(d) == 0);
    for (size_t i = 0; ok && i < ast.nrules; i++) {
        const weir__ast_rule_t *rule = &ast.rules[i];
        ok = rule->cond && depth(rule->cond) <= WEIR__MAX_DEPTH;
        for (size_t j = 0; ok && j < rule->nstrings; j++)
            ok = rule->strings[j].value && rule->strings[j].value[rule->strings[j].len] == 0;
    }
    for (size_t i = 0; i < weir_diags_count(d); i++) {
        const weir_diag_t *g = weir_diags_get(d, i);
        if (g->line < 1 || g->column < 1)
            ok = 0;
    }
    weir__ast_free(&ast);
    weir_diags_free(d);
    return ok;
}

TEST(every_prefix)
{
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        size_t n = strlen(samples[s]);
        ASSERT(check_parse(samples[s], n));
        for (size_t i = 0; i < n; i++) {
            char *copy = malloc(i ? i : 1); /* exact size: ASan sees any over-read */
            memcpy(copy, samples[s], i);
            int ok = check_parse(copy, i);
            free(copy);
            if (!ok) {
                T__FAIL("prefix %zu of sample %zu", i, s);
                return;
            }
        }
    }
}

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

TEST(random_mutations)
{
    static const char *const pieces[] = {
        "(",    ")",  "{",  "}",  "\"", "/",     "*",     "\\",
        "$",    "#",  "@",  "!",  "..", "rule ", " and ", " of ",
        "for ", "//", "/*", "*/", "\n", "\0",    "\xff",  "99999999999999999999"};
    for (int iter = 0; iter < 4000; iter++) {
        const char *base = samples[iter % (sizeof samples / sizeof samples[0])];
        size_t n = strlen(base);
        char *buf = malloc(n + 64);
        memcpy(buf, base, n);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = n ? rng() % n : 0;
            switch (rng() % 3) {
            case 0:
                buf[at] = (char)(rng() & 0xff);
                break; /* replace a byte */
            case 1:    /* delete a run */
                if (n) {
                    size_t k = 1 + rng() % 8;
                    if (at + k > n)
                        k = n - at;
                    memmove(buf + at, buf + at + k, n - at - k);
                    n -= k;
                }
                break;
            default: { /* insert a piece */
                const char *pc = pieces[rng() % (sizeof pieces / sizeof pieces[0])];
                size_t k = *pc ? strlen(pc) : 1;
                if (n + k > strlen(base) + 60)
                    break;
                memmove(buf + at + k, buf + at, n - at);
                memcpy(buf + at, pc, k);
                n += k;
            }
            }
        }
        char *exact = malloc(n ? n : 1);
        memcpy(exact, buf, n);
        int ok = check_parse(exact, n);
        free(exact);
        free(buf);
        if (!ok) {
            T__FAIL("mutation %d", iter);
            return;
        }
    }
}

TEST(random_bytes)
{
    static const char alphabet[] = "rule{}()$#@!\"/\\*:=.,ab01x \n\t";
    char buf[512];
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = rng() % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = iter & 1 ? (char)(rng() & 0xff) : alphabet[rng() % (sizeof alphabet - 1)];
        if (!check_parse(buf, n)) {
            T__FAIL("random input %d", iter);
            return;
        }
    }
}

/* Builds head + body*n + tail and parses it. */
static parsed_t parse_repeated(const char *head, const char *body, int n, const char *tail)
{
    size_t hl = strlen(head), bl = strlen(body), tl = strlen(tail);
    char *src = malloc(hl + bl * (size_t)n + tl + 1);
    memcpy(src, head, hl);
    for (int i = 0; i < n; i++)
        memcpy(src + hl + bl * (size_t)i, body, bl);
    memcpy(src + hl + bl * (size_t)n, tail, tl + 1);
    parsed_t p = parse(src);
    free(src);
    return p;
}

TEST(deep_nesting)
{
    static const struct {
        const char *head, *body, *tail;
    } cases[] = {
        {"rule a { condition: ", "(", "true }"},
        {"rule a { condition: ", "not ", "true }"},
        {"rule a { condition: ", "-", "1 }"},
        {"rule a { condition: ", "~-", "1 }"},
        {"rule a { condition: 1 ", "+ 1 ", "> 0 }"},
        {"rule a { condition: 1 ", "* (1 ", "}"},
        {"rule a { condition: true ", "or (true ", "}"},
        {"rule a { strings: $a = \"x\" condition: $a at 1", " + @a[1", "}"},
        {"rule a { strings: $a = \"x\" condition: #a in (0..1", " + #a in (0..1", "}"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int n = 10; n <= 100000; n *= 10) {
            parsed_t p = parse_repeated(cases[c].head, cases[c].body, n, cases[c].tail);
            if (p.errors == 0 && depth(p.ast.rules[0].cond) > WEIR__MAX_DEPTH) {
                T__FAIL("case %zu, n %d: depth %d", c, n, depth(p.ast.rules[0].cond));
                return;
            }
            if (n >= 10000 && p.errors == 0) {
                T__FAIL("case %zu, n %d: accepted", c, n);
                return;
            }
            done(&p);
        }
    }
    /* long flat chains of and/or are fine: the tree is balanced */
    parsed_t p = parse_repeated("rule a { condition: true", " or false and true", 20000, " }");
    ASSERT_INT_EQ(p.errors, 0);
    ASSERT(depth(p.ast.rules[0].cond) < 64);
    done(&p);
    p = parse_repeated("rule a { condition: ", "(", 100000, "");
    ASSERT(has_diag(&p, 1, 21 + (WEIR__MAX_DEPTH - 100), "expression nesting too deep"));
    done(&p);
}

TEST(many_rules_and_strings)
{
    size_t cap = 1 << 20, n = 0;
    char *src = malloc(cap);
    n = (size_t)snprintf(src, cap, "rule r0 { condition: true }\n");
    for (int i = 1; i < 3000; i++)
        n += (size_t)snprintf(src + n, cap - n, "rule r%d { condition: r%d }\n", i, i - 1);
    parsed_t p = parse(src);
    ASSERT_INT_EQ(p.errors, 0);
    ASSERT_UINT_EQ(p.ast.rules[2999].cond->ival, 2998);
    done(&p);
    n = (size_t)snprintf(src, cap, "rule s { strings:");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(src + n, cap - n, " $s%d = \"v%d\"", i, i);
    snprintf(src + n, cap - n, " condition: all of them and $s4999 }");
    p = parse(src);
    ASSERT_INT_EQ(p.errors, 0);
    ASSERT_UINT_EQ(p.ast.rules[0].nstrings, 5000);
    ASSERT_UINT_EQ(p.ast.rules[0].cond->a->nstrs, 5000);
    done(&p);
    free(src);
}

TEST_MAIN(TEST_ENTRY(rule_header), TEST_ENTRY(external_variables), TEST_ENTRY(rule_sets),
          TEST_ENTRY(meta_values), TEST_ENTRY(text_strings), TEST_ENTRY(hex_and_regex_strings),
          TEST_ENTRY(comments_everywhere), TEST_ENTRY(precedence),
          TEST_ENTRY(and_or_chains_are_balanced), TEST_ENTRY(integers), TEST_ENTRY(integer_reads),
          TEST_ENTRY(defined_and_percent), TEST_ENTRY(string_references), TEST_ENTRY(string_sets),
          TEST_ENTRY(for_loops), TEST_ENTRY(rule_references), TEST_ENTRY(syntax_errors),
          TEST_ENTRY(lexical_errors), TEST_ENTRY(nul_bytes), TEST_ENTRY(semantic_errors),
          TEST_ENTRY(modifier_errors), TEST_ENTRY(unsupported_features),
          TEST_ENTRY(recovery_reports_every_rule), TEST_ENTRY(error_limit),
          TEST_ENTRY(null_diags_and_empty_input), TEST_ENTRY(every_prefix),
          TEST_ENTRY(random_mutations), TEST_ENTRY(random_bytes), TEST_ENTRY(deep_nesting),
          TEST_ENTRY(many_rules_and_strings))
