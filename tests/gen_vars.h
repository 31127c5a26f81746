/*
 * gen_vars.h - random external variables for the differential test: an integer vi, a boolean
 * vb and a string vs, with values chosen per rule file, and condition atoms that use them with
 * every operator YARA has for them.  Values are passed to yara with -d, so a string value never
 * looks like an integer, a float or a boolean (yara would type it so) and holds no quote.
 */
#ifndef WEIR_TEST_GEN_VARS_H
#define WEIR_TEST_GEN_VARS_H

#include "gen.h"

#include <stdio.h>
#include <string.h>

typedef struct gen_vars {
    long long vi;
    int vb;
    char vs[24];
} gen_vars_t;

static gen_vars_t gen_vars;

static const char gen__vs_alpha[] = "aAbBcC.-_/ xyz0";

static inline int gen__looks_typed(const char *s)
{
    size_t i = s[0] == '-', digits = 0, dots = 0;
    for (; s[i]; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.')
            dots++;
        else
            return strcmp(s, "true") == 0 || strcmp(s, "false") == 0;
    }
    return digits > 0 && dots <= 1;
}

static inline void gen_vars_pick(gen_rng_t *r, gen_vars_t *v)
{
    v->vi = gen_chance(r, 20) ? -(long long)gen_below(r, 100) : (long long)gen_below(r, 300);
    v->vb = gen_chance(r, 50);
    size_t n = gen_chance(r, 12) ? 0 : gen_range(r, 1, 12);
    for (size_t i = 0; i < n; i++)
        v->vs[i] = gen__vs_alpha[gen_below(r, sizeof gen__vs_alpha - 1)];
    v->vs[n] = 0;
    if (gen__looks_typed(v->vs)) {
        memmove(v->vs + 1, v->vs, n + 1);
        v->vs[0] = 'a';
    }
}

/* A text literal often related to vs: a piece of it, its case flipped here and there. */
static inline void gen__vs_text(gen_rng_t *r, gen_buf_t *out)
{
    const char *vs = gen_vars.vs;
    size_t n = strlen(vs);
    char t[32];
    size_t k = 0;
    if (n && gen_chance(r, 75)) {
        size_t lo = gen_chance(r, 40) ? 0 : gen_below(r, (uint32_t)n + 1);
        size_t hi = gen_chance(r, 40) ? n : lo + gen_below(r, (uint32_t)(n - lo) + 1);
        for (size_t i = lo; i < hi; i++) {
            char ch = vs[i];
            if (gen_chance(r, 20) && ch >= 'a' && ch <= 'z')
                ch = (char)(ch - 32);
            else if (gen_chance(r, 20) && ch >= 'A' && ch <= 'Z')
                ch = (char)(ch + 32);
            t[k++] = ch;
        }
        if (gen_chance(r, 15))
            t[k++] = gen__vs_alpha[gen_below(r, sizeof gen__vs_alpha - 1)];
    } else {
        size_t m = gen_below(r, 5);
        for (size_t i = 0; i < m; i++)
            t[k++] = gen__vs_alpha[gen_below(r, sizeof gen__vs_alpha - 1)];
    }
    t[k] = 0;
    gen_printf(out, "\"%s\"", t);
}

/* A small regex over vs's alphabet, with anchors, classes, repeats and \b. */
static inline void gen__vs_regex(gen_rng_t *r, gen_buf_t *out)
{
    static const char *const items[] = {"a", "b", "A", "x", ".",   "[ab]", "[^a]", "\\.",
                                        " ", "/", "-", "_", "\\w", "\\d",  "\\s",  "(a|B)"};
    static const char *const quants[] = {"", "", "", "*", "+", "?", "{1,2}", "*?"};
    gen_putc(out, '/');
    if (gen_chance(r, 25))
        gen_putc(out, '^');
    if (gen_chance(r, 10))
        gen_puts(out, "\\b");
    unsigned n = gen_range(r, 1, 4);
    for (unsigned i = 0; i < n; i++)
        gen_printf(out, "%s%s", items[gen_below(r, 16)], quants[gen_below(r, 8)]);
    if (gen_chance(r, 10))
        gen_puts(out, "\\b");
    if (gen_chance(r, 25))
        gen_putc(out, '$');
    gen_putc(out, '/');
    if (gen_chance(r, 25))
        gen_putc(out, 'i');
    if (gen_chance(r, 10))
        gen_putc(out, 's');
}

/* A condition atom on vi, vb or vs. */
static inline void gen_var_cond(gen_rng_t *r, gen_buf_t *out)
{
    static const char *const cmp[] = {"==", "!=", "<", ">", "<=", ">="};
    static const char *const sops[] = {
        "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iequals",
        "==",       "!=",        "<",          ">",           "<=",       ">="};
    switch (gen_below(r, 12)) {
    case 0:
        gen_printf(out, "vi %s %lld", cmp[gen_below(r, 6)],
                   gen_vars.vi + (long long)gen_below(r, 5) - 2);
        break;
    case 1:
        gen_printf(out, "filesize %s vi", cmp[gen_below(r, 6)]);
        break;
    case 2:
        gen_puts(out, gen_chance(r, 50) ? "vb" : gen_chance(r, 50) ? "vb == 1" : "vi + vb > 2");
        break;
    case 3:
    case 4:
    case 5:
    case 6:
        gen_printf(out, "vs %s ", sops[gen_below(r, 13)]);
        gen__vs_text(r, out);
        break;
    case 7:
    case 8:
        gen_puts(out, "vs matches ");
        gen__vs_regex(r, out);
        break;
    case 9:
        gen__vs_text(r, out);
        gen_printf(out, " %s vs", sops[gen_below(r, 13)]);
        break;
    case 10:
        gen_puts(out, gen_chance(r, 50) ? "vs" : "vs == vs");
        break;
    default:
        gen_printf(out, "%sdefined %s", gen_chance(r, 30) ? "not " : "",
                   gen_chance(r, 50) ? "vs" : "vi");
        break;
    }
}

/* `QUANT of (rule, ...)` in extra rule x<i> over the rules r0 .. r<nbase-1>, x0 .. x<i-1>,
   x<i> itself and repeats; `r*` any time (every r rule comes before), `x*` only in the last
   extra rule, since yara refuses a rule declared after a wildcard set that matches it. */
static inline void gen_rule_set_cond_x(gen_rng_t *r, gen_buf_t *out, unsigned nbase, unsigned i,
                                       int last)
{
    static const char *const q[] = {"any", "all", "none", "1", "2", "50%", "0"};
    gen_printf(out, "%s of (", q[gen_below(r, 7)]);
    unsigned n = gen_range(r, 1, 3);
    for (unsigned k = 0; k < n; k++) {
        gen_puts(out, k ? ", " : "");
        unsigned pick = gen_below(r, nbase + i + 1);
        if (nbase && gen_chance(r, 15))
            gen_puts(out, "r*");
        else if (last && gen_chance(r, 10))
            gen_puts(out, "x*");
        else if (pick < nbase)
            gen_printf(out, "r%u", pick);
        else
            gen_printf(out, "x%u", pick - nbase);
    }
    gen_putc(out, ')');
}

/* A hex string of fixed length with YARA 4.3's negations (~4D, ~4?, ~?D) among bytes and
   wildcards; yara 4.2 gets gen_expand_negations' equivalent. */
static inline void gen_neg_hex(gen_rng_t *r, gen_buf_t *out)
{
    static const char *const bytes[] = {"61", "62", "78", "20", "0A", "22", "61", "62"};
    static const char *const negs[] = {"~61", "~62", "~78", "~20", "~0A", "~6?", "~?2", "~?A"};
    /* One or two negations (yara 4.2 finds the expansion of more "too complex") among two to
       four plain bytes, so that matches stay few enough to check quickly. */
    unsigned nneg = gen_range(r, 1, 2), nbytes = gen_range(r, 2, 4), n = nneg + nbytes;
    gen_puts(out, "{");
    for (unsigned i = 0; i < n; i++) {
        if (nneg && (gen_below(r, n - i) < nneg)) {
            gen_printf(out, " %s", negs[gen_below(r, 8)]);
            nneg--;
        } else {
            gen_printf(out, " %s", bytes[gen_below(r, 8)]);
        }
    }
    gen_puts(out, " }");
}

/* A string YARA splits into a chain: hex pieces around jumps over 200 (bounded or not), or a
   regex around a lazy .{n,m}? over 200.  The pieces have no jumps of their own: with several
   starts per occurrence, the order in which YARA links them differs (docs/semantics.md). */
static inline void gen_chain_string(gen_rng_t *r, gen_buf_t *out)
{
    static const char *const bytes[] = {"61", "62", "78", "20", "0A", "22", "6?", "??"};
    if (gen_chance(r, 25)) {
        static const char *const items[] = {"a", "b", "x", "[ab]", "\\n", " ", "a+?", "b??"};
        gen_printf(out, "/%s%s.{%u,%u}?%s%s/%s", items[gen_below(r, 6)], items[gen_below(r, 8)],
                   gen_below(r, 250), gen_range(r, 201, 700), items[gen_below(r, 6)],
                   gen_chance(r, 50) ? items[gen_below(r, 8)] : "", gen_chance(r, 50) ? "s" : "");
        return;
    }
    unsigned pieces = gen_range(r, 2, 3);
    gen_puts(out, "{");
    for (unsigned k = 0; k < pieces; k++) {
        if (k) {
            unsigned lo = gen_below(r, 400);
            switch (gen_below(r, 4)) {
            case 0:
                gen_printf(out, " [%u-]", lo);
                break;
            case 1:
                gen_printf(out, " [%u]", gen_range(r, 201, 500));
                break;
            default:
                gen_printf(out, " [%u-%u]", lo,
                           lo + gen_range(r, 201 - (lo < 201 ? lo : 200), 600));
            }
        }
        unsigned n = gen_range(r, 1, 3);
        for (unsigned i = 0; i < n; i++) {
            const char *b = bytes[gen_below(r, 8)];
            if ((i == 0 || i + 1 == n) && b[0] == '?' && b[1] == '?')
                b = "61";
            gen_printf(out, " %s", b);
        }
    }
    gen_puts(out, " }");
}

static inline int gen__hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/*
 * The rule text for yara 4.2, which has no ~: each ~XY becomes an alternation of what it
 * matches, as masked bytes (~4D: every X? with X != 4, and 4Y with Y != D).  Fixed-length
 * strings keep their matches and lengths.
 */
static inline void gen_expand_negations(const char *in, gen_buf_t *out)
{
    gen_buf_clear(out);
    int in_hex = 0; /* between the braces of "= { ... }" */
    for (const char *p = in; *p; p++) {
        if (p[0] == '=' && p[1] == ' ' && p[2] == '{')
            in_hex = 1;
        else if (p[0] == '}')
            in_hex = 0;
        int hi = in_hex && p[0] == '~' ? (p[1] == '?' ? -2 : gen__hexval(p[1])) : -1;
        int lo = hi != -1 ? (p[2] == '?' ? -2 : gen__hexval(p[2])) : -1;
        if (p[0] != '~' || hi == -1 || lo == -1 || (hi == -2 && lo == -2)) {
            gen_putc(out, *p);
            continue;
        }
        gen_puts(out, "(");
        const char *sep = " ";
        for (int h = 0; h < 16; h++) {
            if (hi == -2) /* ~?Y: any high nibble, low nibble not Y */
                break;
            if (h != hi) {
                gen_printf(out, "%s%X?", sep, h);
                sep = " | ";
            }
        }
        for (int l = 0; l < 16; l++) {
            if (lo == -2) /* ~X?: high nibble not X */
                break;
            if (l != lo) {
                if (hi == -2)
                    gen_printf(out, "%s?%X", sep, l);
                else
                    gen_printf(out, "%s%X%X", sep, hi, l);
                sep = " | ";
            }
        }
        gen_puts(out, " )");
        p += 2;
    }
}

/* What the extra rules may use (set per rule file by the test). */
typedef struct gen_extra {
    int vars, sets, neg, chain; /* external variables, rule sets, ~ in hex, chains */
} gen_extra_t;

/*
 * Appends 1..3 rules x0, x1, ... to a rule file whose rules are r0 .. r<nbase-1>: strings from
 * the kinds allowed (chains, ~ hex, short text), conditions mixing them with variables and rule
 * sets over the rules before.  Drawn from r alone, so the rules before them stay as gen_rules
 * made them.
 */
static inline void gen_extra_rules(gen_rng_t *r, gen_buf_t *out, unsigned nbase,
                                   const gen_extra_t *x)
{
    unsigned nx = gen_range(r, 1, 3);
    for (unsigned i = 0; i < nx; i++) {
        unsigned ns = (x->neg || x->chain) ? gen_range(r, gen_chance(r, 30) ? 0 : 1, 3) : 0;
        gen_printf(out, "rule x%u\n{\n", i);
        if (ns) {
            gen_puts(out, "    strings:\n");
            for (unsigned k = 0; k < ns; k++) {
                gen_printf(out, "        $s%u = ", k);
                if (x->chain && (!x->neg || gen_chance(r, 50)))
                    gen_chain_string(r, out);
                else
                    gen_neg_hex(r, out);
                gen_putc(out, '\n');
            }
        }
        gen_puts(out, "    condition:\n        ");
        unsigned natoms = gen_range(r, 1, 3), used = 0;
        for (unsigned a = 0; a < natoms; a++) {
            if (a)
                gen_puts(out, gen_chance(r, 60) ? " and " : " or ");
            unsigned pick = gen_below(r, 5);
            if (ns && pick == 0) {
                unsigned k = gen_below(r, ns);
                used |= 1u << k;
                switch (gen_below(r, 4)) {
                case 0:
                    gen_printf(out, "$s%u", k);
                    break;
                case 1:
                    gen_printf(out, "#s%u %s %u", k,
                               gen_chance(r, 50) ? ">" : "==", gen_below(r, 3));
                    break;
                case 2: /* a count in a range (yara 4.2.3 fails when it does not start at 0) */
                    gen_printf(out, "#s%u in (0..%u) %s %u", k, gen_below(r, 1500),
                               gen_chance(r, 50) ? ">" : "==", gen_below(r, 3));
                    break;
                default: /* loops nested two deep over the matches */
                    gen_printf(out,
                               "for %s i in (1..#s%u) : (for %s j in (1..#s%u) : (@s%u[j] %s "
                               "@s%u[i] + %u))",
                               gen_chance(r, 50) ? "any" : "all", k,
                               gen_chance(r, 50) ? "any" : "all", k, k,
                               gen_chance(r, 50) ? ">=" : "<", k, gen_below(r, 300));
                }
            } else if (pick == 4) {
                /* loops nested to YARA's limit of 4 */
                gen_printf(out,
                           "for %s a in (1..%u) : (for any b in (a..3) : (for %s c in (b, 2, a) : "
                           "(for any d in (c..4) : (a + b + c + d == %u))))",
                           gen_chance(r, 50) ? "any" : "all", gen_range(r, 1, 3),
                           gen_chance(r, 50) ? "any" : "all", gen_range(r, 4, 14));
            } else if (x->sets && nbase + i > 0 && (pick == 1 || !x->vars)) {
                gen_rule_set_cond_x(r, out, nbase, i, i + 1 == nx);
            } else if (x->vars) {
                gen_var_cond(r, out);
            } else {
                gen_printf(out, "filesize > %u", gen_below(r, 300));
            }
        }
        for (unsigned k = 0; k < ns; k++) /* yara refuses unreferenced strings */
            if (!((used >> k) & 1))
                gen_printf(out, " %s $s%u", gen_chance(r, 50) ? "and" : "or", k);
        gen_puts(out, "\n}\n\n");
    }
}

#endif /* WEIR_TEST_GEN_VARS_H */
