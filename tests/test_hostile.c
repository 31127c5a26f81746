/*
 * test_hostile.c - hostile rule text (issue 5): rule files from anywhere must never crash,
 * hang or fool weir, and every refusal says what and where.  NUL, high bytes and invalid UTF-8,
 * 10,000 rules, deep nesting, loops over huge ranges, regular expressions that explode automata,
 * strings beyond Vectorscan's limits.  Where a rule file is taken, its results are compared with
 * Debian's yara 4.2 on the same bytes; docs/hostile.md lists every outcome.
 */
#define _DEFAULT_SOURCE /* mkdtemp, popen */
#include "hostile.h"

/* ---- 1, 2: NUL, high bytes and invalid UTF-8 in rule text -------------------------------- */

typedef struct rule_case {
    const char *text;
    size_t len;
    long bad; /* where weir reports the error of a text yara refuses; -1 when yara takes it */
} rule_case_t;

#define RC(lit, bad)                                                                               \
    {                                                                                              \
        lit, sizeof(lit) - 1, bad                                                                  \
    }

static void check_rule_cases(const rule_case_t *cases, size_t n, const char *what)
{
    gen_buf_t data = {0};
    hostile_data(&data, 0x5eed);
    for (size_t i = 0; i < n; i++) {
        const rule_case_t *c = &cases[i];
        char err[512], name[64];
        snprintf(name, sizeof name, "%s case %zu", what, i);
        int yara_ok = yara_accepts(c->text, c->len, err, sizeof err);
        if (yara_ok != (c->bad < 0)) {
            T__FAIL("%s: yara %s it (%s); the test expects otherwise", name,
                    yara_ok ? "takes" : "refuses", err);
            continue;
        }
        weir_diags_t *d = NULL;
        weir_rules_t *r = compile_n(c->text, c->len, &d);
        if (yara_ok) {
            if (!r) {
                T__FAIL("%s: weir refuses what yara takes", name);
                print_diags(d);
            } else {
                same_as_yara(c->text, c->len, data.p, data.len, 77 + i, name);
            }
        } else {
            uint32_t line, col;
            line_col(c->text, (size_t)c->bad, &line, &col);
            if (r || !has_error(d, line, col, "")) {
                T__FAIL("%s: want an error at %u:%u (yara: %s)", name, (unsigned)line,
                        (unsigned)col, err);
                print_diags(d);
            }
        }
        weir_rules_free(r);
        weir_diags_free(d);
    }
    gen_buf_free(&data);
}

TEST(nul_and_high_bytes_in_rules)
{
    static const rule_case_t cases[] = {
        /* outside strings: refused where the byte is */
        RC("rule a\0b { condition: true }", 6),
        RC("rule a\xff"
           "b { condition: true }",
           6),
        RC("\0rule a { condition: true }", 0),
        RC("rule a { condition: \xff true }", 20),
        RC("rule a { strings: $a\x80 = \"x\" condition: $a }", 20),
        RC("rule a : t\xe9 { condition: true }", 10),
        RC("rule a { meta: k\x90 = 1 condition: true }", 16),
        RC("rule a {\n  condition:\n    true \0\n}", 31),
        RC("rule a { strings: $a = { 41 \0 42 } condition: $a }", 28),
        RC("rule a { strings: $a = { 41 \xfe 42 } condition: $a }", 28),
        /* YARA reads a hex string as a C string: a NUL in its comment ends it */
        RC("rule a { strings: $a = { 41 // \0 x\n 42 } condition: $a }", 31),
        RC("rule a { strings: $a = { 41 /* \0 */ 42 } condition: $a }", 31),
        /* a NUL in a string keeps what comes before it in its run, as in YARA */
        RC("rule a { strings: $a = /m\\\0n/ condition: $a }", 25),
        /* in comments, strings, regular expressions and meta values: taken */
        RC("// \0 \xff \x80 comment\nrule a { strings: $a = \"ab\" condition: $a }", -1),
        RC("/* \0\xff\n\xc3 */ rule a { strings: $a = \"ab\" condition: $a }", -1),
        RC("rule a { strings: $a = \"ab\" /* \0 */ condition: $a }", -1),
        RC("rule a { strings: $a = { 41 // \xff x\n 42 } condition: $a }", -1),
        RC("rule a { strings: $a = \"\xff\xfe\x80\" condition: $a }", -1),
        RC("rule a { strings: $a = \"x\0y\" $b = \"x\0q\\x00y\" condition: any of them }", -1),
        RC("rule a { strings: $a = \"ab\0cd\\x41ef\0gh\" condition: $a }", -1),
        RC("rule a { strings: $a = \"\xe9t\xe9\" nocase wide condition: $a }", -1),
        RC("rule a { strings: $a = /\xff[\x80-\xfe]+\0zz\\x41/ condition: $a }", -1),
        RC("rule a { strings: $a = /x\0n\\x00y/ $b = /\xff\\x00\xff/ condition: any of them }", -1),
        RC("rule a { meta: k = \"\0\xff\" strings: $a = \"ab\" condition: $a }", -1),
        RC("rule a { condition: \"\xff\0\" matches /\xff/ and \"ab\" == \"ab\0cd\" }", -1),
        RC("rule a { strings: $a = \"\xff\" fullword $b = /\\b\xe9t/ condition: any of them }", -1),
    };
    check_rule_cases(cases, sizeof cases / sizeof cases[0], "NUL/high byte");
}

TEST(invalid_utf8_in_rules)
{
    static const rule_case_t cases[] = {
        /* overlong, lone continuation, surrogate, truncated, 0xfe/0xff: in strings and regexes */
        RC("rule a { strings: $a = \"\xc0\xaf\" $b = \"\x80\x80\" $c = \"\xed\xa0\x80\" "
           "$d = \"\xe2\x82\" condition: any of them }",
           -1),
        RC("rule a { strings: $a = \"\xc3\x28\" nocase $b = /\xc3[\x28-\xa9]/ condition: $a or $b "
           "}",
           -1),
        /* YARA takes a raw byte outside ASCII in a class only as an end of a range */
        RC("rule a { strings: $b = /\xc3[\x28\xa9]/ condition: $b }", 27),
        RC("rule a { condition: \"a\" matches /[^\xfe]/ }", 35),
        RC("rule a { strings: $a = \"\xff\xff\xff\xfe\" xor condition: $a }", -1),
        RC("rule a { strings: $a = \"\xe9t\xe9\" wide ascii fullword condition: $a }", -1),
        /* in comments and meta values */
        RC("/* \xc0\xaf \xed\xa0\x80 */ rule a { meta: m = \"\xe2\x82\xff\" strings: $a = \"ab\" "
           "condition: $a } // \xc3\n",
           -1),
        /* in an identifier or a keyword: refused where the byte is */
        RC("rule \xc3\xa9t\xc3\xa9 { condition: true }", 5),
        RC("rule a { condit\xc3\xafon: true }", 9),
    };
    check_rule_cases(cases, sizeof cases / sizeof cases[0], "invalid UTF-8");

    /* A meta value keeps its bytes as written, invalid UTF-8 and all. */
    static const char meta[] = "rule m { meta: v = \"\xc0\xaf\\x00\xff\xe2\x82\" condition: true }";
    weir_rules_t *r = compile_s(meta);
    ASSERT(r);
    const weir_rule_info_t *info = weir_rules_info(r, 0);
    ASSERT(info && info->nmeta == 1);
    ASSERT_UINT_EQ(info->meta[0].string_len, 6);
    ASSERT_MEM_EQ(info->meta[0].string, "\xc0\xaf\x00\xff\xe2\x82", 6);
    weir_rules_free(r);
}

/* ---- 5: 10,000 rules, 10,000 strings ----------------------------------------------------- */

/* A word unique to i: letters of i in base 26 after a random head (no digits, lower case). */
static void word_of(gen_rng_t *r, uint32_t i, char w[16])
{
    int n = 0;
    w[n++] = (char)('a' + gen_below(r, 26));
    w[n++] = (char)('a' + gen_below(r, 26));
    do {
        w[n++] = (char)('a' + i % 26);
        i /= 26;
    } while (i);
    w[n++] = 'q';
    w[n] = '\0';
}

/*
 * n rules of eight kinds (literals with modifiers, hex strings with wildcards, jumps and
 * alternatives, regular expressions with classes and repeats; conditions with counts, offsets,
 * of, at, filesize) and data holding matches of every seventh rule between filler lines.
 */
static void many_rules(uint32_t n, uint64_t seed, gen_buf_t *rules, gen_buf_t *data)
{
    gen_rng_t r = {seed};
    char w[16], v[16];
    for (uint32_t i = 0; i < n; i++) {
        word_of(&r, i, w);
        word_of(&r, i, v);
        size_t wl = strlen(w);
        int plant = i % 7 == 0;
        gen_printf(rules, "rule r%u : t%u { meta: i = %u strings: ", i, i % 5, i);
        switch (i % 8) {
        case 0:
            gen_printf(rules, "$a = \"%s\" condition: $a }\n", w);
            if (plant)
                gen_printf(data, "x %s y\n", w);
            break;
        case 1:
            gen_printf(rules, "$a = \"%s\" nocase $b = \"%s\" wide condition: $a or #b > 1 }\n", w,
                       v);
            if (plant) {
                for (size_t k = 0; k < wl; k++)
                    gen_putc(data, k % 2 ? w[k] - 32 : w[k]);
                gen_puts(data, " ");
                for (int rep = 0; rep < 2; rep++)
                    for (size_t k = 0; k < strlen(v); k++)
                        gen_putc(data, v[k]), gen_putc(data, 0);
                gen_puts(data, "\n");
            }
            break;
        case 2:
            gen_puts(rules, "$a = { ");
            put_hex_bytes(rules, w, 3);
            gen_printf(rules, "?? %02X [1-3] %02X } condition: #a >= 1 and @a[1] >= 0 }\n",
                       (unsigned char)w[4 % wl], (unsigned char)w[5 % wl]);
            if (plant)
                gen_printf(data, "%.3s#%c--%c\n", w, w[4 % wl], w[5 % wl]);
            break;
        case 3:
            /* a few bounded repeats: many of them cost Vectorscan's compiler dearly (below) */
            gen_printf(rules, "$a = /%s[0-9]%s/ condition: $a and filesize > 10 }\n", w,
                       i % 64 == 3 ? "{1,3}x" : "+x");
            if (plant)
                gen_printf(data, "%s%ux\n", w, i % 1000);
            break;
        case 4:
            gen_printf(rules, "$a = \"%s\" fullword $b = /%s\\s+(y|z)/ condition: any of them }\n",
                       w, v);
            if (plant)
                gen_printf(data, "%s\t z %sx\n", v, w);
            break;
        case 5:
            gen_puts(rules, "$a = { ");
            put_hex_bytes(rules, w, 2);
            gen_printf(rules, "( %02X | %02X ) ", (unsigned char)w[2], (unsigned char)v[2]);
            put_hex_bytes(rules, w + 3, 1);
            gen_puts(rules, "} condition: $a at 0 or (#a > 0 and filesize < 0) }\n");
            if (plant)
                gen_printf(data, "%.2s%c%c\n", w, v[2], w[3]);
            break;
        case 6:
            gen_printf(rules, "$a = \"%s\" xor(1-3) condition: $a }\n", w);
            if (plant) {
                for (size_t k = 0; k < wl; k++)
                    gen_putc(data, w[k] ^ 2);
                gen_puts(data, "\n");
            }
            break;
        default:
            gen_printf(rules,
                       "$a = \"%s\" $b = \"%s\" condition: all of them and @b[1] > @a[1] }\n", w,
                       v);
            if (plant)
                gen_printf(data, "%s %s %s\n", v, w, v);
            break;
        }
        if (gen_chance(&r, 20))
            gen_printf(data, "filler line %u with nothing in it\n", i);
    }
}

TEST(ten_thousand_rules)
{
    gen_buf_t rules = {0}, data = {0};
    many_rules(10000, 0x10000, &rules, &data);
    double t0 = now_s();
    weir_diags_t *d = NULL;
    weir_rules_t *r = compile_n(rules.p, rules.len, &d);
    double secs = now_s() - t0;
    NOTE("10,000 rules (%zu bytes): compiled in %.2f s; data %zu bytes\n", rules.len, secs,
         data.len);
    if (!r)
        print_diags(d);
    weir_diags_free(d);
    ASSERT(r);
    ASSERT_UINT_EQ(weir_rules_count(r), 10000);
    CHECK_INT(secs < 120, 1);
    same_as_yara_k(rules.p, rules.len, r, data.p, data.len, 5, "10,000 rules", 2);
    weir_rules_free(r);

    /* 10,000 strings in one rule, and rules that use them. */
    gen_buf_clear(&rules);
    gen_buf_clear(&data);
    gen_rng_t g = {0x1000};
    char w[16];
    gen_puts(&rules, "rule big { strings:");
    for (uint32_t i = 0; i < 10000; i++) {
        word_of(&g, i, w);
        gen_printf(&rules, " $s%u = \"%s\"%s", i, w, i % 3 ? "" : " nocase");
        if (i % 97 == 0)
            gen_printf(&data, "%s %s\n", w, i % 2 ? w : "");
    }
    gen_puts(&rules, " condition: 50 of them and #s97 == 2 and not $s1 and "
                     "for any of ($s99*) : (# > 0) }\n"
                     "rule count { condition: big and filesize > 100 }\n");
    t0 = now_s();
    r = compile_n(rules.p, rules.len, NULL);
    secs = now_s() - t0;
    NOTE("10,000 strings in one rule: compiled in %.2f s\n", secs);
    ASSERT(r);
    CHECK_INT(secs < 60, 1);
    same_as_yara_k(rules.p, rules.len, r, data.p, data.len, 6, "10,000 strings", 2);
    weir_rules_free(r);
    gen_buf_free(&rules);
    gen_buf_free(&data);
}

/* ---- 6: deep nesting ------------------------------------------------------------------- */

/* head, n times body, mid, n times tail, end: one rule text (malloc'd). */
static char *repeat_text(const char *head, const char *body, int n, const char *mid,
                         const char *tail, const char *end)
{
    gen_buf_t b = {0};
    gen_puts(&b, head);
    for (int i = 0; i < n; i++)
        gen_puts(&b, body);
    gen_puts(&b, mid);
    for (int i = 0; i < n; i++)
        gen_puts(&b, tail);
    gen_puts(&b, end);
    return b.p;
}

TEST(deep_nesting)
{
    static const struct {
        const char *head, *body, *mid, *tail, *end;
        int n;
        uint32_t col; /* 0: compiles (and then matches as yara does) */
        const char *msg;
    } cases[] = {
        {"rule a { condition: ", "(", "true", ")", " }", 100000, 1021, "nesting too deep"},
        {"rule a { condition: ", "not ", "false", "", " }", 100000, 4021, "nesting too deep"},
        {"rule a { condition: ", "-", "1 == -1", "", " }", 100000, 1021, "nesting too deep"},
        {"rule a { strings: $a = \"x\" condition: ", "@a[", "1", "]", " == 0 }", 10000, 3039,
         "nesting too deep"},
        {"rule a { condition: ", "uint8(", "0", ")", " == 0 }", 10000, 6021, "nesting too deep"},
        /* YARA accepts a chain of 100,000 "+": weir refuses it as nested too deeply */
        {"rule a { condition: 1", " + 1", "", "", " > 0 }", 100000, 4021, "nesting too deep"},
        /* chains of and/or are balanced trees: fine */
        {"rule a { condition: true", " and true", "", "", " }", 100000, 0, NULL},
        {"rule a { condition: false", " or false", " or true", "", " }", 100000, 0, NULL},
        {"rule a { condition: true", " and true", " and false", "", " }", 100000, 0, NULL},
        {"rule a { strings: $a = \"ab\" condition: ", "(", "$a", ")", " }", 900, 0, NULL},
        /* for loops: at most 4 nested, as in YARA */
        {"rule a { condition: ", "for any i in (1..2) : ( ", "true", " )", " }", 5, 0,
         "duplicated loop identifier"},
        /* hex strings: alternatives nested 10,000 deep, 200 deep (more than YARA's 128
           alternatives), 100 deep */
        {"rule a { strings: $a = { 41 ", "( 42 | ", "43", " )", " } condition: $a }", 10000, 7029,
         "nested too deeply"},
        {"rule a { strings: $a = { 41 ", "( 42 | ", "43", " )", " } condition: $a }", 200, 25,
         "too complex"},
        {"rule a { strings: $a = { 41 ", "( 42 | ", "43", " )", " } condition: $a }", 100, 0, NULL},
        {"rule a { strings: $a = { 41 ", "( ", "42", " )", " } condition: $a }", 5000, 2029,
         "nested too deeply"},
        /* regular expressions: 4,000 groups deep (YARA takes up to its 8,190-byte limit),
           10,000 (over that limit), 100; 129 alternatives (YARA's limit is 128 splits) */
        {"rule a { strings: $a = /", "(", "a", ")", "/ condition: $a }", 4000, 1025,
         "nested too deeply"},
        {"rule a { strings: $a = /", "(", "a", ")", "/ condition: $a }", 10000, 24, "too long"},
        {"rule a { strings: $a = /", "(", "ab", ")", "/ condition: $a }", 100, 0, NULL},
        {"rule a { strings: $a = /", "(a|", "b", ")", "/ condition: $a }", 129, 25, "too complex"},
        {"rule a { strings: $a = /", "(a|", "b", ")", "/ condition: $a }", 128, 0, NULL},
        {"rule a { condition: \"ab\" matches /", "(", "a", ")", "/ }", 2000, 1035,
         "nested too deeply"},
    };
    static const char data[] = "ab AB \x41\x42 \x41\x43 a b x\n";
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *text = repeat_text(cases[c].head, cases[c].body, cases[c].n, cases[c].mid,
                                 cases[c].tail, cases[c].end);
        size_t len = strlen(text);
        weir_diags_t *d = NULL;
        double t0 = now_s();
        weir_rules_t *r = compile_n(text, len, &d);
        double secs = now_s() - t0;
        if (cases[c].msg && !cases[c].col) { /* the 5 nested loops reuse "i" */
            CHECK_INT(r == NULL && has_error(d, 1, 0, cases[c].msg), 1);
        } else if (cases[c].col) {
            if (r || !has_error(d, 1, cases[c].col, cases[c].msg)) {
                T__FAIL("case %zu: want \"%s\" at 1:%u", c, cases[c].msg, (unsigned)cases[c].col);
                print_diags(d);
            }
        } else if (!r) {
            T__FAIL("case %zu: refused", c);
            print_diags(d);
        } else {
            char what[32];
            snprintf(what, sizeof what, "nesting case %zu", c);
            same_as_yara(text, len, data, sizeof data - 1, c, what);
        }
        CHECK_INT(secs < 10, 1);
        weir_rules_free(r);
        weir_diags_free(d);
        free(text);
    }
    /* Five nested loops with distinct variables: YARA's limit of four. */
    weir_diags_t *d = NULL;
    static const char five[] = "rule a { condition: for any i0 in (1..2) : ( for any i1 in (1..2) "
                               ": ( for any i2 in (1..2) : ( for any i3 in (1..2) : ( for any i4 "
                               "in (1..2) : ( true ) ) ) ) ) }";
    ASSERT(compile_n(five, sizeof five - 1, &d) == NULL);
    CHECK_INT(has_error(d, 1, 121, "loop nesting limit"), 1);
    weir_diags_free(d);
}

/* ---- 7: loops over huge ranges ------------------------------------------------------------ */

typedef struct fired {
    int n;
} fired_t;

static int count_event(const weir_match_event_t *ev, void *user)
{
    (void)ev;
    ((fired_t *)user)->n++;
    return 0;
}

static int count_result(const weir_rule_result_t *res, void *user)
{
    (void)res;
    ((fired_t *)user)->n++;
    return 0;
}

static void count_limit(const weir_limit_event_t *ev, void *user)
{
    if (ev->kind == WEIR_LIMIT_EVAL_STEPS)
        ((fired_t *)user)->n++;
}

/*
 * A condition is stopped after max_eval_steps (10 million by default) steps and counts as
 * false there; the rule is then left alone until close, where it is tried once more.  So each
 * of the first three conditions is reported exactly twice whatever the number of lines (not
 * once per line), and the rule neither fires nor matches (yara finds it true after minutes).
 * The fourth fits the budget and is decided as yara decides it (no such pair of offsets).
 */
TEST(huge_loops)
{
    static const char *const conds[] = {
        "for all i in (0..10000000000) : (i >= 0)",
        "for any i in (0..10000000000) : (i < 0)",
        "for all i in (0..1000) : (for all j in (0..1000) : (for all k in (0..1000) : "
        "(for all m in (0..1000) : (i + j + k + m >= 0))))",
        "for any i in (1..#a) : (for any j in (1..#a) : (@a[i] + 7 == @a[j] + 11))",
    };
    static const int want_limits[] = {2, 2, 2, 0};
    gen_buf_t data = {0};
    for (int i = 0; i < 20; i++)
        gen_puts(&data, "a line with a in it\n");
    for (size_t c = 0; c < sizeof conds / sizeof conds[0]; c++) {
        char text[512];
        snprintf(text, sizeof text, "rule r { strings: $a = \"a\" condition: $a and %s }",
                 conds[c]);
        weir_rules_t *r = compile_s(text);
        ASSERT(r);
        weir_scanner_t *sc = NULL;
        ASSERT_INT_EQ(weir_scanner_new(r, NULL, &sc), WEIR_OK);
        fired_t ev = {0}, res = {0}, lim = {0};
        weir_scanner_set_callback(sc, count_event, &ev);
        weir_scanner_set_limit_callback(sc, count_limit, &lim);
        weir_id_t id = id_of(9);
        double t0 = now_s();
        weir_status_t st = weir_scan_chunk(sc, &id, data.p, data.len); /* 20 line ends */
        double t1 = now_s();
        weir_status_t cst = weir_stream_close(sc, &id, count_result, &res);
        double t2 = now_s();
        NOTE("%.60s...: 20 lines %.2f s (%s), close %.2f s (%s); fired %d, result %d, "
             "limits %d\n",
             conds[c], t1 - t0, weir_strerror(st), t2 - t1, weir_strerror(cst), ev.n, res.n, lim.n);
        CHECK_INT(st, WEIR_OK);
        CHECK_INT(cst, WEIR_OK);
        CHECK_INT(lim.n, want_limits[c]);
        CHECK_INT(ev.n, 0);
        CHECK_INT(res.n, 0);
        weir_scanner_free(sc);
        weir_rules_free(r);
    }
    gen_buf_free(&data);

    /* Loops over matches that fit the budget agree with yara: 3,000 matches of $a. */
    gen_buf_t big = {0};
    for (int i = 0; i < 3000; i++)
        gen_puts(&big, i % 100 == 99 ? "ab\n" : "ab ");
    static const char rules[] = "rule all_ordered { strings: $a = \"ab\" condition: "
                                "for all i in (2..#a) : (@a[i] > @a[i - 1]) }\n"
                                "rule any_gap { strings: $a = \"ab\" condition: "
                                "for any i in (1..#a) : (@a[i] == 297 and !a[i] == 2) }\n"
                                "rule none_far { strings: $a = \"ab\" condition: "
                                "for all i in (1..#a) : (@a[i] < 9000) }\n";
    same_as_yara(rules, sizeof rules - 1, big.p, big.len, 11, "loops over 3,000 matches");
    gen_buf_free(&big);
}

/* ---- 8: regular expressions that explode ---------------------------------------------- */

/* Data for the expressions below: long runs, and the bytes around them they look for. */
static void explosive_data(gen_buf_t *d)
{
    gen_rng_t r = {0xe8};
    gen_buf_clear(d);
    gen_puts(d, "x");
    for (int i = 0; i < 2200; i++)
        gen_putc(d, 'a');
    gen_puts(d, "y\nc ");
    for (int i = 0; i < 2100; i++)
        gen_putc(d, "abc"[gen_below(&r, 3)]);
    gen_puts(d, "y ");
    for (int i = 0; i < 1100; i++)
        gen_puts(d, i % 2 ? "abc" : "def");
    gen_puts(d, "\n");
    for (int i = 0; i < 400; i++)
        gen_putc(d, 'a' + (int)gen_below(&r, 26));
    for (int i = 0; i < 400; i++)
        gen_putc(d, '0' + (int)gen_below(&r, 10));
    gen_puts(d, " zz ");
    for (int i = 0; i < 1000; i++)
        gen_puts(d, i % 3 ? "b" : "bb");
    gen_puts(d, "c x.y x\nx.z\n");
}

TEST(explosive_regexes)
{
    static const struct {
        const char *re;
        int yara_refuses;
    } cases[] = {
        {"/(a|b|c)*[^x]{1000}y/", 0},
        {"/[a-z]{2000}/", 0},
        {"/(a?){500}a{500}/", 0},
        {"/a{1000}b{1000}c{1000}/", 0},
        {"/(abc|def){1000,2000}/", 0},
        {"/[^a]{32767}/", 0},
        {"/((a|b){50}){50}/", 0},
        {"/.{0,8000}x.{0,8000}y/", 0},
        {"/(x.*){100}/", 0},
        {"/((((a+)+)+)+)+b/", 0},
        {"/(a*)*b/", 0},
        {"/(b|bb)*c/", 0},
        {"/\\w{20000}/s", 0},
        {"/[\\x00-\\xff]{3000}z/", 0},
        {"/([a-z]{200}[0-9]{200}){1,200}/", 0},
        {"/(.{255}a){20}/s", 0},
        {"/a{32768}/", 1},
        {"/(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?"
         "(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?"
         "(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?"
         "(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?"
         "(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?(a|b)?x/",
         1},
    };
    gen_buf_t data = {0};
    explosive_data(&data);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char text[2048], what[64];
        snprintf(text, sizeof text, "rule boom { strings: $a = %s condition: $a }\n", cases[c].re);
        snprintf(what, sizeof what, "%.40s", cases[c].re);
        size_t len = strlen(text);
        char err[512];
        CHECK_INT(yara_accepts(text, len, err, sizeof err), !cases[c].yara_refuses);
        double t0 = now_s();
        weir_diags_t *d = NULL;
        weir_rules_t *r = compile_n(text, len, &d);
        double secs = now_s() - t0;
        CHECK_INT(secs < 30, 1);
        if (cases[c].yara_refuses) {
            CHECK_INT(r == NULL && has_error(d, 1, 0, "$a"), 1);
        } else if (!r) {
            T__FAIL("%s: refused", what);
            print_diags(d);
        } else {
            t0 = now_s();
            same_as_yara_k(text, len, r, data.p, data.len, c, what, 2);
            NOTE("%-40s compile %.2f s, 2 scans %.2f s\n", what, secs, now_s() - t0);
        }
        weir_rules_free(r);
        weir_diags_free(d);
    }
    /* Too much for Vectorscan even as a superset: refused at the string, with its rule. */
    static const char huge[] = "rule ok { strings: $a = \"fine\" condition: $a }\n"
                               "rule boom {\n  strings:\n    $b = /(a{1000}){1000}/\n  condition: "
                               "$b\n}\n";
    weir_diags_t *d = NULL;
    ASSERT(compile_n(huge, sizeof huge - 1, &d) == NULL);
    CHECK_INT(has_error(d, 4, 5,
                        "string $b of rule boom is not supported: Vectorscan rejects its pattern"),
              1);
    weir_diags_free(d);
    gen_buf_free(&data);
}

/* ---- 9: strings beyond Vectorscan's limits -------------------------------------------- */

TEST(long_strings)
{
    gen_rng_t r = {0x9};
    /* YARA's lexer refuses a string over 8,190 bytes; so does weir, at the string. */
    gen_buf_t text = {0}, data = {0};
    gen_puts(&text, "rule a { strings: $a = \"");
    for (int i = 0; i < 100000; i++)
        gen_putc(&text, 'a' + i % 26);
    gen_puts(&text, "\" condition: $a }\n");
    char err[512];
    weir_diags_t *d = NULL;
    CHECK_INT(yara_accepts(text.p, text.len, err, sizeof err), 0);
    CHECK_INT(compile_n(text.p, text.len, &d) == NULL && has_error(d, 1, 24, "too long"), 1);
    weir_diags_free(d);

    /* Up to that limit a literal is matched whatever its length (Vectorscan gets its tail):
       text, nocase, wide, xor, fullword; a 50,000-byte hex string; a long literal regex. */
    char lit[8001], wlit[4001];
    for (int i = 0; i < 8000; i++)
        lit[i] = (char)('a' + gen_below(&r, 26));
    lit[8000] = '\0';
    memcpy(wlit, lit, 4000);
    wlit[4000] = '\0';
    uint8_t hex[50000];
    for (size_t i = 0; i < sizeof hex; i++)
        hex[i] = (uint8_t)gen_below(&r, 256);
    gen_buf_clear(&text);
    gen_printf(&text, "rule t { strings: $a = \"%s\" condition: $a }\n", lit);
    gen_printf(&text, "rule n { strings: $a = \"%s\" nocase condition: #a == 3 }\n", lit);
    gen_printf(&text, "rule w { strings: $a = \"%s\" wide ascii condition: $a }\n", wlit);
    gen_printf(&text, "rule x { strings: $a = \"%s\" xor(1-2) condition: $a }\n", wlit);
    gen_printf(&text, "rule f { strings: $a = \"%s\" fullword condition: $a }\n", wlit);
    gen_printf(&text, "rule r { strings: $a = /%s/ condition: $a }\n", wlit);
    gen_puts(&text, "rule h { strings: $a = { ");
    put_hex_bytes(&text, (const char *)hex, sizeof hex);
    gen_puts(&text, "} condition: $a }\n");
    /* the data: each once or twice, a copy with its first byte changed (same tail) */
    gen_printf(&data, "<%s> x%sx ", lit, lit);
    for (int i = 0; i < 8000; i++)
        gen_putc(&data, i % 3 ? lit[i] - 32 : lit[i]);
    gen_printf(&data, "\n%c%s ", lit[0] == 'a' ? 'b' : 'a', lit + 1);
    for (int i = 0; i < 4000; i++)
        gen_putc(&data, wlit[i]), gen_putc(&data, 0);
    gen_putc(&data, ' ');
    for (int i = 0; i < 4000; i++)
        gen_putc(&data, wlit[i] ^ 2);
    gen_putn(&data, hex, sizeof hex);
    gen_puts(&data, "..");
    hex[0] ^= 1;
    gen_putn(&data, hex, sizeof hex);
    same_as_yara(text.p, text.len, data.p, data.len, 9, "long literals");

    /* A non-literal string too long for Vectorscan (yara takes it): refused, with its rule and
       place. */
    gen_buf_clear(&text);
    gen_puts(&text, "rule ok { condition: true }\nrule longhex { strings: $h = { ");
    put_hex_bytes(&text, (const char *)hex, 6000);
    gen_puts(&text, "?? } condition: $h }\n");
    CHECK_INT(yara_accepts(text.p, text.len, err, sizeof err), 1);
    d = NULL;
    CHECK_INT(compile_n(text.p, text.len, &d) == NULL &&
                  has_error(d, 2, 25, "string $h of rule longhex is too long for Vectorscan"),
              1);
    weir_diags_free(d);

    /* A huge jump: pieces 900,000 bytes apart match, and the stream's memory stays small. */
    static const char jump[] = "rule j { strings: $a = { 4A 55 4D 50 [0-1000000] 45 4E 44 21 } "
                               "condition: $a }\n"
                               "rule k { strings: $a = { 4A 55 4D 50 [0-1000] 45 4E 44 21 } "
                               "condition: $a }\n";
    gen_buf_clear(&data);
    for (size_t i = 0; i < 1200000; i++)
        gen_putc(&data, i % 61 == 60 ? '\n' : 'a' + (int)(i % 23));
    memcpy(data.p + 1000, "JUMP", 4);
    memcpy(data.p + 901004, "END!", 4);
    memcpy(data.p + 1100000, "JUMPxxEND!", 10);
    same_as_yara(jump, sizeof jump - 1, data.p, data.len, 10, "jump [0-1000000]");
    weir_rules_t *jr = compile_s(jump);
    ASSERT(jr);
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(jr, NULL, &sc), WEIR_OK);
    weir_id_t id = id_of(2);
    size_t most = 0;
    for (size_t off = 0; off < data.len; off += 4096) {
        size_t n = data.len - off < 4096 ? data.len - off : 4096;
        ASSERT_INT_EQ(weir_scan_chunk(sc, &id, data.p + off, n), WEIR_OK);
        weir_stream_stats_t st;
        ASSERT_INT_EQ(weir_stream_stats(sc, &id, &st), WEIR_OK);
        if (st.memory > most)
            most = st.memory;
    }
    NOTE("jump [0-1000000] over 1.2 MB: stream memory <= %zu bytes\n", most);
    CHECK_INT(most < 16 * 1024, 1);
    weir_scanner_free(sc);
    weir_rules_free(jr);

    /* Alternatives: 128 are fine, 129 are YARA's "too complex". */
    for (int n = 128; n <= 129; n++) {
        gen_buf_clear(&text);
        gen_puts(&text, "rule alts { strings: $a = { 41 ( ");
        for (int i = 0; i <= n; i++)
            gen_printf(&text, "%s%02X %02X", i ? " | " : "", i % 256, (i * 7) % 256);
        gen_puts(&text, " ) 42 } condition: $a }\n");
        if (n == 128) {
            static const char d2[] = "A\x05\x23"
                                     "B A\x10\x70"
                                     "B A\x80\x80"
                                     "B";
            same_as_yara(text.p, text.len, d2, sizeof d2 - 1, 12, "128 alternatives");
        } else {
            d = NULL;
            CHECK_INT(yara_accepts(text.p, text.len, err, sizeof err), 0);
            CHECK_INT(compile_n(text.p, text.len, &d) == NULL && has_error(d, 1, 0, "too complex"),
                      1);
            weir_diags_free(d);
        }
    }
    gen_buf_free(&text);
    gen_buf_free(&data);
}

TEST_MAIN(TEST_ENTRY(nul_and_high_bytes_in_rules), TEST_ENTRY(invalid_utf8_in_rules),
          TEST_ENTRY(ten_thousand_rules), TEST_ENTRY(deep_nesting), TEST_ENTRY(huge_loops),
          TEST_ENTRY(explosive_regexes), TEST_ENTRY(long_strings))
