/*
 * re.c - YARA regular expressions and hex strings: the parsers (YARA 4.2 dialect, checked
 * against the yara 4.2.3 binary), the IR, Vectorscan pattern text and serialization.
 * The matcher lives in re_vm.c.
 */
#include "re_int.h"

#include "ast.h"
#include "mem.h"

#include <assert.h>
#include <hs.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- IR ------------------------------------------------------------------ */

rnode_t *weir__rn_new(uint8_t type)
{
    rnode_t *n = weir__calloc(NULL, 1, sizeof(*n));
    if (n) {
        n->type = type;
        n->fref = n->bref = -1;
    }
    return n;
}

void weir__rn_free(rnode_t *n)
{
    if (!n)
        return;
    for (uint32_t i = 0; i < n->nkids; i++)
        weir__rn_free(n->kids[i]);
    free(n->kids);
    free(n);
}

/* Takes ownership of kid (freed on failure). */
int weir__rn_add(rnode_t *parent, rnode_t *kid)
{
    if (!kid)
        return -1;
    if ((parent->nkids & (parent->nkids - 1)) == 0) { /* 0,1,2,4,...: grow to double */
        size_t ncap = parent->nkids ? (size_t)parent->nkids * 2 : 2;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are pointers */
        rnode_t **k = realloc(parent->kids, ncap * sizeof(*k));
        if (!k) {
            weir__rn_free(kid);
            return -1;
        }
        parent->kids = k;
    }
    parent->kids[parent->nkids++] = kid;
    return 0;
}

static void set_add(uint8_t *set, unsigned c)
{
    set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static int set_has(const uint8_t *set, unsigned c)
{
    return (set[c >> 3] >> (c & 7)) & 1;
}

static unsigned set_count(const uint8_t *set, unsigned *one)
{
    unsigned n = 0;
    for (unsigned c = 0; c < 256; c++)
        if (set_has(set, c)) {
            n++;
            *one = c;
        }
    return n;
}

static int is_word(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static unsigned altercase(unsigned c)
{
    if (c >= 'a' && c <= 'z')
        return c - 32;
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    return c;
}

static rnode_t *set_node(const uint8_t *set)
{
    rnode_t *n = weir__rn_new(RN_SET);
    if (n)
        memcpy(n->set, set, 32);
    return n;
}

static rnode_t *byte_node(unsigned c, int nocase)
{
    uint8_t set[32] = {0};
    set_add(set, c);
    if (nocase)
        set_add(set, altercase(c));
    rnode_t *n = set_node(set);
    if (n) {
        n->yk = YK_BYTE;
        n->yval = (uint8_t)c;
        n->ymask = 0xff;
    }
    return n;
}

static rnode_t *any_node(int dotall)
{
    uint8_t set[32];
    memset(set, 0xff, 32);
    if (!dotall)
        set[10 >> 3] &= (uint8_t) ~(1u << (10 & 7));
    rnode_t *n = set_node(set);
    if (n)
        n->yk = YK_BYTE; /* YARA's RE_NODE_ANY: an atom byte with mask 0 */
    return n;
}

/* ---- errors -------------------------------------------------------------- */

typedef struct parser {
    const uint8_t *s;
    size_t n, i;
    uint32_t flags;
    int inside_or;
    int depth;
    int greedy_seen, lazy_seen; /* YARA 4.2 refuses to mix them in one regex */
    int failed;
    char *err;
    size_t errlen;
    size_t *err_off;
} parser_t;

#define MAX_DEPTH 1000

static void *fail(parser_t *p, size_t off, const char *fmt, ...)
{
    if (p->failed)
        return NULL;
    p->failed = 1;
    if (p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    if (p->err_off)
        *p->err_off = off;
    return NULL;
}

static void *oom(parser_t *p)
{
    return fail(p, p->i, "out of memory");
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- regular expressions ------------------------------------------------- */

/* Adds \w to set (built at each use: a static one would race between compiling threads). */
static void class_word(uint8_t *set)
{
    for (unsigned c = 0; c < 256; c++)
        if (is_word(c))
            set_add(set, c);
}

/* \w \W \s \S \d \D into set (or = 1: union). Returns 1 if c named such a class. */
static int class_escape(int c, uint8_t *set)
{
    uint8_t t[32] = {0};
    int neg = 0;
    switch (c) {
    case 'W':
        neg = 1;
        /* fall through */
    case 'w':
        class_word(t);
        break;
    case 'S':
        neg = 1;
        /* fall through */
    case 's':
        set_add(t, ' ');
        set_add(t, '\t');
        set_add(t, '\n');
        set_add(t, '\v');
        set_add(t, '\f');
        set_add(t, '\r');
        break;
    case 'D':
        neg = 1;
        /* fall through */
    case 'd':
        for (unsigned d = '0'; d <= '9'; d++)
            set_add(t, d);
        break;
    default:
        return 0;
    }
    for (int k = 0; k < 32; k++)
        set[k] |= neg ? (uint8_t)~t[k] : t[k];
    return 1;
}

static unsigned escaped_value(int c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 't':
        return '\t';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    case 'a':
        return '\a';
    default:
        return (unsigned)c;
    }
}

/* Reads the escape at p->s[p->i] == '\\' (not a class escape); advances. -1 on error. */
static int read_escape(parser_t *p)
{
    size_t at = p->i;
    if (p->i + 1 >= p->n) {
        fail(p, at, "illegal escape sequence");
        return -1;
    }
    int c = p->s[p->i + 1];
    if (c == 'x') {
        int h = p->i + 2 < p->n ? hexval(p->s[p->i + 2]) : -1;
        int l = p->i + 3 < p->n ? hexval(p->s[p->i + 3]) : -1;
        if (h < 0 || l < 0) {
            fail(p, at, "illegal escape sequence");
            return -1;
        }
        p->i += 4;
        return h * 16 + l;
    }
    p->i += 2;
    return (int)escaped_value(c);
}

static rnode_t *parse_class(parser_t *p)
{
    size_t open = p->i;
    uint8_t set[32] = {0};
    int neg = 0;
    p->i++;
    if (p->i < p->n && p->s[p->i] == '^') {
        neg = 1;
        p->i++;
    }
    if (p->i < p->n && p->s[p->i] == ']') {
        set_add(set, ']');
        p->i++;
    }
    for (;;) {
        if (p->i >= p->n)
            return fail(p, open, "missing terminating ] for character class");
        int c = p->s[p->i];
        if (c == ']') {
            p->i++;
            break;
        }
        /* A range "x-y": x is a byte, \xNN or \c; y is anything but ']' (flex's longest match
           makes "[\d-z]" the range d..z, as in YARA). */
        size_t j;
        int sv;
        if (c == '\\') {
            if (p->i + 1 >= p->n)
                return fail(p, open, "missing terminating ] for character class");
            int e = p->s[p->i + 1];
            if (e == 'x' && p->i + 3 < p->n && hexval(p->s[p->i + 2]) >= 0 &&
                hexval(p->s[p->i + 3]) >= 0) {
                sv = hexval(p->s[p->i + 2]) * 16 + hexval(p->s[p->i + 3]);
                j = p->i + 4;
            } else {
                sv = e == 'x' ? -1 : (int)escaped_value(e);
                j = p->i + 2;
            }
        } else {
            sv = c;
            j = p->i + 1;
        }
        if (sv >= 0 && j + 1 < p->n && p->s[j] == '-' && p->s[j + 1] != ']') {
            size_t at = p->i;
            int ev;
            p->i = j + 1;
            if (p->s[p->i] == '\\') {
                ev = read_escape(p);
                if (ev < 0)
                    return NULL;
            } else {
                ev = p->s[p->i++];
            }
            if (ev < sv)
                return fail(p, at, "bad character range");
            for (int k = sv; k <= ev; k++)
                set_add(set, (unsigned)k);
            continue;
        }
        if (c == '\\') {
            if (class_escape(p->s[p->i + 1], set)) {
                p->i += 2;
                continue;
            }
            int v = read_escape(p);
            if (v < 0)
                return NULL;
            set_add(set, (unsigned)v);
            continue;
        }
        if (c < 0x20 || c > 0x7e) /* YARA takes raw bytes outside ASCII only in a range */
            return fail(p, p->i, "non-ascii character");
        set_add(set, (unsigned)c);
        p->i++;
    }
    /* YARA tests the byte and its other case before negating. */
    if (p->flags & WEIR__RE_NOCASE)
        for (unsigned c = 0; c < 256; c++)
            if (set_has(set, c))
                set_add(set, altercase(c));
    if (neg)
        for (int k = 0; k < 32; k++)
            set[k] = (uint8_t)~set[k];
    rnode_t *n = set_node(set);
    return n ? n : oom(p);
}

/* A {n}, {n,m}, {,m}, {n,} token at p->i?  Returns 1 and the bounds (0 if not a range token,
   -1 on error).  max is WEIR__RE_UNBOUNDED for {n,}. */
static int lex_range(parser_t *p, size_t at, uint32_t *min, uint32_t *max, size_t *end)
{
    const uint8_t *s = p->s;
    size_t i = at + 1, n = p->n;
    uint64_t lo = 0, hi = 0;
    size_t d0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (lo < 1000000)
            lo = lo * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    size_t nlo = i - d0;
    if (i < n && s[i] == '}' && nlo > 0) {
        *end = i + 1;
        if (lo > WEIR__RE_MAX_RANGE) {
            fail(p, at, "repeat interval too large");
            return -1;
        }
        if (lo == 0) {
            fail(p, at, "bad repeat interval");
            return -1;
        }
        *min = *max = (uint32_t)lo;
        return 1;
    }
    if (i >= n || s[i] != ',')
        return 0;
    i++;
    size_t h0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (hi < 1000000)
            hi = hi * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    if (i >= n || s[i] != '}')
        return 0;
    *end = i + 1;
    int unbounded = i == h0;
    if (unbounded)
        hi = WEIR__RE_MAX_RANGE;
    if (hi > WEIR__RE_MAX_RANGE) {
        fail(p, at, "repeat interval too large");
        return -1;
    }
    if (hi < lo || hi == 0) {
        fail(p, at, "bad repeat interval");
        return -1;
    }
    *min = (uint32_t)lo;
    *max = unbounded ? WEIR__RE_UNBOUNDED : (uint32_t)hi;
    return 1;
}

static int is_quant(parser_t *p)
{
    if (p->i >= p->n)
        return 0;
    int c = p->s[p->i];
    if (c == '*' || c == '+' || c == '?')
        return 1;
    if (c == '{') {
        uint32_t a, b;
        size_t e;
        int f = p->failed;
        int r = lex_range(p, p->i, &a, &b, &e);
        if (r < 0) { /* an error token is still a quantifier; report it later */
            p->failed = f;
            return 1;
        }
        return r;
    }
    return 0;
}

static rnode_t *parse_alt(parser_t *p);

static rnode_t *parse_single(parser_t *p)
{
    size_t at = p->i;
    int c = p->s[p->i];
    switch (c) {
    case '(': {
        if (++p->depth > MAX_DEPTH)
            return fail(p, at, "regular expression nested too deeply (more than %d levels)",
                        MAX_DEPTH);
        p->i++;
        rnode_t *n = parse_alt(p);
        if (!n)
            return NULL;
        p->depth--;
        if (p->i >= p->n || p->s[p->i] != ')') {
            weir__rn_free(n);
            return fail(p, at, "syntax error, unbalanced parenthesis");
        }
        p->i++;
        if (n->type == RN_SET && n->jump == 2)
            n->jump = 0; /* YARA sees (.) as a concatenation: (.){n,m} is no RANGE_ANY */
        return n;
    }
    case '.': {
        p->i++;
        rnode_t *n = any_node((p->flags & WEIR__RE_DOTALL) != 0);
        if (n)
            n->jump = 2; /* a dot, for the chaining rule below */
        return n ? n : oom(p);
    }
    case '[':
        return parse_class(p);
    case '*':
    case '+':
    case '?':
        return fail(p, at, "syntax error, nothing to repeat");
    case '\\': {
        if (p->i + 1 < p->n) {
            int e = p->s[p->i + 1];
            uint8_t set[32] = {0};
            if (e >= '0' && e <= '9')
                return fail(p, at, "backreferences are not allowed");
            if (class_escape(e, set)) {
                p->i += 2;
                rnode_t *n = set_node(set);
                return n ? n : oom(p);
            }
        }
        int v = read_escape(p);
        if (v < 0)
            return NULL;
        rnode_t *n = byte_node((unsigned)v, (p->flags & WEIR__RE_NOCASE) != 0);
        return n ? n : oom(p);
    }
    default: {
        if (c == '{' && is_quant(p))
            return fail(p, at, "syntax error, nothing to repeat");
        p->i++;
        rnode_t *n = byte_node((unsigned)c, (p->flags & WEIR__RE_NOCASE) != 0);
        return n ? n : oom(p);
    }
    }
}

static rnode_t *parse_repeat(parser_t *p)
{
    size_t at = p->i;
    int c = p->s[p->i];
    rnode_t *n = NULL;
    if (c == '^' || c == '$' ||
        (c == '\\' && p->i + 1 < p->n && (p->s[p->i + 1] == 'b' || p->s[p->i + 1] == 'B'))) {
        uint8_t t = c == '^' ? RN_BOL : c == '$' ? RN_EOL : p->s[p->i + 1] == 'b' ? RN_WB : RN_NWB;
        p->i += c == '\\' ? 2 : 1;
        n = weir__rn_new(t);
        if (!n)
            return oom(p);
        if (is_quant(p)) {
            weir__rn_free(n);
            return fail(p, p->i, "syntax error, nothing to repeat");
        }
        return n;
    }
    n = parse_single(p);
    if (!n || !is_quant(p))
        return n;
    uint32_t min, max;
    size_t qat = p->i;
    c = p->s[p->i];
    /* YARA: e* STAR, e+ PLUS, e? and e{n,m} RANGE, but .? and .{n,m} RANGE_ANY. */
    uint8_t yform = c == '*' ? YF_STAR : c == '+' ? YF_PLUS : n->jump == 2 ? YF_ANYRANGE : YF_RANGE;
    if (c == '*' || c == '+' || c == '?') {
        min = c == '+' ? 1 : 0;
        max = c == '?' ? 1 : WEIR__RE_UNBOUNDED;
        p->i++;
    } else {
        size_t end;
        int r = lex_range(p, p->i, &min, &max, &end);
        if (r < 0) {
            weir__rn_free(n);
            return NULL;
        }
        assert(r == 1); /* is_quant found a range token here */
        p->i = end;
    }
    int greedy = 1;
    if (p->i < p->n && p->s[p->i] == '?') {
        greedy = 0;
        p->i++;
    }
    if (is_quant(p)) {
        weir__rn_free(n);
        return fail(p, p->i, "syntax error, nothing to repeat");
    }
    if (greedy)
        p->greedy_seen = 1;
    else
        p->lazy_seen = 1;
    if (p->greedy_seen && p->lazy_seen && !(p->flags & WEIR__RE_CONDITION)) {
        weir__rn_free(n);
        return fail(p, qat,
                    "greedy and ungreedy quantifiers can't be mixed in a regular expression");
    }
    (void)at;
    rnode_t *r = weir__rn_new(RN_REP);
    if (!r || weir__rn_add(r, n) < 0) {
        if (!r)
            weir__rn_free(n);
        free(r);
        return oom(p);
    }
    r->min = min;
    r->max = max;
    r->greedy = (uint8_t)greedy;
    r->yform = yform;
    return r;
}

static rnode_t *parse_concat(parser_t *p)
{
    rnode_t *cat = weir__rn_new(RN_CAT);
    if (!cat)
        return oom(p);
    while (p->i < p->n && p->s[p->i] != '|' && p->s[p->i] != ')') {
        rnode_t *k = parse_repeat(p);
        if (!k) {
            weir__rn_free(cat);
            return NULL;
        }
        if (weir__rn_add(cat, k) < 0) {
            weir__rn_free(cat);
            return oom(p);
        }
    }
    if (cat->nkids == 0) {
        weir__rn_free(cat);
        if (p->i >= p->n && p->i == 0)
            return fail(p, 0, "syntax error, empty regular expression");
        return fail(p, p->i, "syntax error");
    }
    if (cat->nkids == 1) {
        rnode_t *k = cat->kids[0];
        cat->nkids = 0;
        weir__rn_free(cat);
        return k;
    }
    return cat;
}

static rnode_t *parse_alt(parser_t *p)
{
    rnode_t *first = parse_concat(p);
    if (!first || p->i >= p->n || p->s[p->i] != '|')
        return first;
    rnode_t *alt = weir__rn_new(RN_ALT);
    if (!alt || weir__rn_add(alt, first) < 0) {
        if (!alt)
            weir__rn_free(first);
        free(alt);
        return oom(p);
    }
    while (p->i < p->n && p->s[p->i] == '|') {
        p->i++;
        rnode_t *k;
        /* "a|" and "a||b" are accepted (an empty alternative), "(|a)" is not. */
        if (p->i >= p->n || p->s[p->i] == '|' || p->s[p->i] == ')')
            k = weir__rn_new(RN_EMPTY);
        else
            k = parse_concat(p);
        if (!k && !p->failed)
            oom(p);
        if (!k || weir__rn_add(alt, k) < 0) {
            weir__rn_free(alt);
            return p->failed ? NULL : oom(p);
        }
    }
    return alt;
}

static weir__re_t *re_new(rnode_t *root, int is_hex)
{
    weir__re_t *re = weir__calloc(NULL, 1, sizeof(*re));
    if (!re) {
        weir__rn_free(root);
        return NULL;
    }
    re->root = root;
    re->is_hex = (uint8_t)is_hex;
    if (weir__re_finish(re) < 0) {
        weir__re_free(re);
        return NULL;
    }
    return re;
}

int weir__re_parse_regex(const uint8_t *src, size_t len, uint32_t flags, weir__re_t **out,
                         char *err, size_t errlen, size_t *err_off)
{
    parser_t p = {src, len, 0, flags, 0, 0, 0, 0, 0, err, errlen, err_off};
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!src && len)
        return fail(&p, 0, "invalid argument"), -1;
    rnode_t *root = parse_alt(&p);
    if (root && p.i < len) { /* only a stray ')' stops parse_alt early */
        weir__rn_free(root);
        root = fail(&p, p.i, "syntax error, unbalanced parenthesis");
    }
    if (!root)
        return -1;
    /* YARA splits a regex at a lazy .{n,m}? with a bound over 200 inside its top-level
       concatenation (not first, not last) and chains the pieces; the gap then matches any byte,
       \n included.  We keep one regex with that gap made "any byte" and lazy.  Only .{n,m}?
       (RANGE_ANY) chains: .*? and .+? keep excluding \n. */
    for (uint32_t i = 1;
         root->type == RN_CAT && i + 1 < root->nkids && !(flags & WEIR__RE_CONDITION); i++) {
        rnode_t *k = root->kids[i];
        if (k->type == RN_REP && !k->greedy && k->yform == YF_ANYRANGE &&
            (k->min > WEIR__RE_CHAINING_THRESHOLD || k->max > WEIR__RE_CHAINING_THRESHOLD)) {
            memset(k->kids[0]->set, 0xff, 32);
            k->jump = 1;
        }
    }
    if (weir__re_too_complex(root)) {
        weir__rn_free(root);
        fail(&p, 0, "regular expression is too complex (more than %u alternatives and repeats)",
             WEIR__RE_MAX_SPLITS);
        return -1;
    }
    *out = re_new(root, 0);
    if (!*out)
        return oom(&p), -1;
    return 0;
}

/* ---- hex strings --------------------------------------------------------- */

static int hex_skip(parser_t *p)
{
    while (p->i < p->n) {
        int c = p->s[p->i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            p->i++;
        } else if (c == '/' && p->i + 1 < p->n && p->s[p->i + 1] == '/') {
            while (p->i < p->n && p->s[p->i] != '\n')
                p->i++;
        } else if (c == '/' && p->i + 1 < p->n && p->s[p->i + 1] == '*') {
            size_t at = p->i;
            p->i += 2;
            while (p->i + 1 < p->n && !(p->s[p->i] == '*' && p->s[p->i + 1] == '/'))
                p->i++;
            if (p->i + 1 >= p->n) {
                fail(p, at, "unterminated comment");
                return -1;
            }
            p->i += 2;
        } else {
            break;
        }
    }
    return 0;
}

static int hex_number(parser_t *p, uint64_t *v)
{
    size_t d0 = p->i;
    *v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        if (*v < ((uint64_t)1 << 40))
            *v = *v * 10 + (uint64_t)(p->s[p->i] - '0');
        p->i++;
    }
    return p->i > d0;
}

static rnode_t *hex_jump(parser_t *p)
{
    size_t at = p->i;
    uint64_t lo = 0, hi = 0;
    int unbounded = 0;
    p->i++;
    if (hex_skip(p) < 0)
        return NULL;
    int has_lo = hex_number(p, &lo);
    if (hex_skip(p) < 0)
        return NULL;
    if (p->i < p->n && p->s[p->i] == '-') {
        p->i++;
        if (hex_skip(p) < 0)
            return NULL;
        if (hex_number(p, &hi)) {
            if (!has_lo)
                return fail(p, at, "syntax error");
            if (hex_skip(p) < 0)
                return NULL;
        } else {
            unbounded = 1;
        }
    } else {
        if (!has_lo)
            return fail(p, at, "syntax error");
        hi = lo;
        if (lo == 0)
            return fail(p, at, "invalid jump length");
    }
    if (p->i >= p->n || p->s[p->i] != ']')
        return fail(p, at, "syntax error");
    p->i++;
    if (unbounded && p->inside_or)
        return fail(p, at, "unbounded jumps not allowed inside alternation (|)");
    if (!unbounded && p->inside_or &&
        (lo > WEIR__RE_CHAINING_THRESHOLD || hi > WEIR__RE_CHAINING_THRESHOLD))
        return fail(p, at, "jumps over %u not allowed inside alternation (|)",
                    WEIR__RE_CHAINING_THRESHOLD);
    if (!unbounded && lo > hi)
        return fail(p, at, "invalid jump range");
    if (lo >= WEIR__RE_UNBOUNDED || (!unbounded && hi >= WEIR__RE_UNBOUNDED))
        return fail(p, at, "invalid jump length");
    rnode_t *any = any_node(1);
    rnode_t *r = weir__rn_new(RN_REP);
    if (!any || !r || weir__rn_add(r, any) < 0) {
        if (!r)
            weir__rn_free(any);
        free(r);
        return oom(p);
    }
    r->min = (uint32_t)lo;
    r->max = unbounded ? WEIR__RE_UNBOUNDED : (uint32_t)hi;
    r->greedy = 0;
    r->jump = 1;
    r->yform = YF_ANYRANGE;
    return r;
}

static rnode_t *hex_byte(parser_t *p)
{
    size_t at = p->i;
    int neg = 0;
    if (p->s[p->i] == '~') {
        neg = 1;
        p->i++;
    }
    if (p->i >= p->n)
        return fail(p, at, "syntax error");
    int a = p->s[p->i], b = p->i + 1 < p->n ? p->s[p->i + 1] : -1;
    int ha = hexval(a), hb = b >= 0 ? hexval(b) : -1;
    if (ha < 0 && a != '?')
        return fail(p, p->i, "syntax error");
    if (hb < 0 && b != '?') {
        if (ha >= 0)
            return fail(p, p->i, "uneven number of digits in hex string");
        return fail(p, p->i, "syntax error");
    }
    if (neg && a == '?' && b == '?')
        return fail(p, at, "syntax error");
    p->i += 2;
    unsigned mask = (a == '?' ? 0u : 0xf0u) | (b == '?' ? 0u : 0x0fu);
    unsigned val = ((ha < 0 ? 0u : (unsigned)ha) << 4) | (hb < 0 ? 0u : (unsigned)hb);
    uint8_t set[32] = {0};
    for (unsigned c = 0; c < 256; c++)
        if (((c & mask) == val) != neg)
            set_add(set, c);
    rnode_t *n = set_node(set);
    if (!n)
        return oom(p);
    if (!neg) { /* RE_NODE_LITERAL, _MASKED_LITERAL or _ANY: usable in atoms */
        n->yk = YK_BYTE;
        n->yval = (uint8_t)val;
        n->ymask = (uint8_t)mask;
    }
    return n;
}

static rnode_t *hex_alts(parser_t *p);

/* tokens: a sequence that neither starts nor ends with a jump. */
static rnode_t *hex_tokens(parser_t *p)
{
    rnode_t *cat = weir__rn_new(RN_CAT);
    if (!cat)
        return oom(p);
    for (;;) {
        if (hex_skip(p) < 0)
            goto fail;
        if (p->i >= p->n || p->s[p->i] == ')' || p->s[p->i] == '|')
            break;
        size_t at = p->i;
        rnode_t *k;
        if (p->s[p->i] == '[') {
            if (cat->nkids == 0) {
                fail(p, at, "syntax error, a hex string cannot start with a jump");
                goto fail;
            }
            k = hex_jump(p);
        } else if (p->s[p->i] == '(') {
            if (++p->depth > MAX_DEPTH) {
                fail(p, at, "hex string nested too deeply (more than %d levels)", MAX_DEPTH);
                goto fail;
            }
            p->i++;
            p->inside_or++;
            k = hex_alts(p);
            p->inside_or--;
            p->depth--;
            if (k && (p->i >= p->n || p->s[p->i] != ')')) {
                weir__rn_free(k);
                k = fail(p, at, "syntax error, unbalanced parenthesis");
            }
            if (k)
                p->i++;
        } else {
            k = hex_byte(p);
        }
        if (!k || weir__rn_add(cat, k) < 0) {
            if (!p->failed)
                oom(p);
            goto fail;
        }
    }
    if (cat->nkids == 0) {
        fail(p, p->i, "syntax error");
        goto fail;
    }
    if (cat->kids[cat->nkids - 1]->jump) {
        fail(p, p->i, "syntax error, a hex string cannot end with a jump");
        goto fail;
    }
    if (cat->nkids == 1) {
        rnode_t *k = cat->kids[0];
        cat->nkids = 0;
        weir__rn_free(cat);
        return k;
    }
    return cat;
fail:
    weir__rn_free(cat);
    return NULL;
}

static rnode_t *hex_alts(parser_t *p)
{
    rnode_t *first = hex_tokens(p);
    if (!first || p->i >= p->n || p->s[p->i] != '|')
        return first;
    rnode_t *alt = weir__rn_new(RN_ALT);
    if (!alt || weir__rn_add(alt, first) < 0) {
        if (!alt)
            weir__rn_free(first);
        free(alt);
        return oom(p);
    }
    while (p->i < p->n && p->s[p->i] == '|') {
        p->i++;
        rnode_t *k = hex_tokens(p);
        if (!k || weir__rn_add(alt, k) < 0) {
            weir__rn_free(alt);
            return p->failed ? NULL : oom(p);
        }
    }
    return alt;
}

int weir__re_parse_hex(const uint8_t *src, size_t len, weir__re_t **out, char *err, size_t errlen,
                       size_t *err_off)
{
    parser_t p = {src, len, 0, 0, 0, 0, 0, 0, 0, err, errlen, err_off};
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!src && len)
        return fail(&p, 0, "invalid argument"), -1;
    rnode_t *root = hex_tokens(&p);
    if (root && p.i < len) {
        weir__rn_free(root);
        root = fail(&p, p.i, "syntax error");
    }
    if (root && weir__re_too_complex(root)) {
        weir__rn_free(root);
        root = fail(&p, 0, "hex string is too complex (more than %u alternatives)",
                    WEIR__RE_MAX_SPLITS);
    }
    if (!root)
        return -1;
    *out = re_new(root, 1);
    if (!*out)
        return oom(&p), -1;
    return 0;
}

/* ---- constructors, accessors --------------------------------------------- */

weir__re_t *weir__re_literal(const uint8_t *s, size_t len, int nocase)
{
    rnode_t *cat = weir__rn_new(len == 0 ? RN_EMPTY : RN_CAT);
    if (!cat)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (weir__rn_add(cat, byte_node(s[i], nocase)) < 0) {
            weir__rn_free(cat);
            return NULL;
        }
    return re_new(cat, 0);
}

static rnode_t *rn_copy(const rnode_t *n, int widen)
{
    rnode_t *c = weir__rn_new(n->type);
    if (!c)
        return NULL;
    c->greedy = n->greedy;
    c->wide = (uint8_t)(n->wide | ((n->type == RN_WB || n->type == RN_NWB) && widen));
    c->jump = n->jump;
    c->yk = n->yk;
    c->yval = n->yval;
    c->ymask = n->ymask;
    c->yform = n->yform;
    c->wz = n->wz;
    c->min = n->min;
    c->max = n->max;
    memcpy(c->set, n->set, 32);
    for (uint32_t i = 0; i < n->nkids; i++)
        if (weir__rn_add(c, rn_copy(n->kids[i], widen)) < 0) {
            weir__rn_free(c);
            return NULL;
        }
    if (n->type == RN_SET && widen) {
        rnode_t *cat = weir__rn_new(RN_CAT);
        if (!cat || weir__rn_add(cat, c) < 0 || weir__rn_add(cat, byte_node(0, 0)) < 0) {
            if (!cat)
                weir__rn_free(c);
            weir__rn_free(cat);
            return NULL;
        }
        cat->kids[1]->wz = 1; /* YARA matches wide strings with the same code and atoms */
        return cat;
    }
    return c;
}

/* 1 when a repeat of n's subtree has a bound Vectorscan's pattern loosens (HS_MAX_BOUND). */
static int loose_repeat(const rnode_t *n)
{
    if (n->type == RN_REP && ((n->min > 255u) || (n->max != WEIR__RE_UNBOUNDED && n->max > 255u)))
        return 1;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (loose_repeat(n->kids[i]))
            return 1;
    return 0;
}

int weir__re_hs_exact(const weir__re_t *re)
{
    return !re->needs_ctx && !loose_repeat(re->root);
}

/* 1 for a top-level jump where YARA splits a string into a chain. */
static int chain_point(const rnode_t *k)
{
    return k->jump == 1 &&
           (k->min > WEIR__RE_CHAINING_THRESHOLD || k->max > WEIR__RE_CHAINING_THRESHOLD);
}

int weir__re_split(const weir__re_t *re, weir__re_t **pieces, uint32_t *gap_min, uint32_t *gap_max,
                   uint32_t cap, uint32_t *n)
{
    const rnode_t *r = re->root;
    *n = 0;
    if (!re->chaining || r->type != RN_CAT)
        return -1;
    uint32_t from = 0;
    int rc = -1;
    for (uint32_t i = 0; i <= r->nkids; i++) {
        if (i < r->nkids && !chain_point(r->kids[i]))
            continue;
        if (*n >= cap) {
            rc = -2;
            goto fail;
        }
        rnode_t *cat = weir__rn_new(RN_CAT);
        for (uint32_t k = from; cat && k < i; k++)
            if (weir__rn_add(cat, rn_copy(r->kids[k], 0)) < 0) {
                weir__rn_free(cat);
                cat = NULL;
            }
        if (!cat || !(pieces[*n] = re_new(cat, re->is_hex)))
            goto fail;
        if (i < r->nkids) {
            gap_min[*n] = r->kids[i]->min;
            gap_max[*n] = r->kids[i]->max;
        }
        (*n)++;
        from = i + 1;
    }
    return 0;
fail:
    while (*n > 0)
        weir__re_free(pieces[--*n]);
    return rc;
}

weir__re_t *weir__re_widen(const weir__re_t *re)
{
    if (!re)
        return NULL;
    rnode_t *root = rn_copy(re->root, 1);
    return root ? re_new(root, re->is_hex) : NULL;
}

void weir__re_free(weir__re_t *re)
{
    if (!re)
        return;
    weir__rn_free(re->root);
    free(re->lit);
    free(re->atoms);
    weir__rprog_free(&re->fwd);
    weir__rprog_free(&re->bwd);
    free(re);
}

uint32_t weir__re_min_len(const weir__re_t *re)
{
    return re->min_len;
}

uint32_t weir__re_max_len(const weir__re_t *re)
{
    return re->max_len;
}

uint32_t weir__re_limit(const weir__re_t *re)
{
    return re->limit;
}

int weir__re_needs_context(const weir__re_t *re)
{
    return re->needs_ctx;
}

int weir__re_is_hex(const weir__re_t *re)
{
    return re->is_hex;
}

int weir__re_has_chaining(const weir__re_t *re)
{
    return re->chaining;
}

int weir__re_as_literal(const weir__re_t *re, const uint8_t **bytes, size_t *len)
{
    if (!re->is_lit)
        return 0;
    *bytes = re->lit;
    *len = re->lit_len;
    return 1;
}

static uint32_t sat_add(uint32_t a, uint32_t b)
{
    if (a == WEIR__RE_UNBOUNDED || b == WEIR__RE_UNBOUNDED || a > WEIR__RE_UNBOUNDED - 1 - b)
        return WEIR__RE_UNBOUNDED;
    return a + b;
}

static uint32_t sat_mul(uint32_t a, uint32_t b)
{
    if (a == 0 || b == 0)
        return 0;
    if (a == WEIR__RE_UNBOUNDED || b == WEIR__RE_UNBOUNDED || a > (WEIR__RE_UNBOUNDED - 1) / b)
        return WEIR__RE_UNBOUNDED;
    return a * b;
}

static void lengths(const rnode_t *n, uint32_t *mn, uint32_t *mx, uint8_t *ctx)
{
    uint32_t a, b;
    switch (n->type) {
    case RN_SET:
        *mn = *mx = 1;
        return;
    case RN_CAT:
        *mn = *mx = 0;
        for (uint32_t i = 0; i < n->nkids; i++) {
            lengths(n->kids[i], &a, &b, ctx);
            *mn = sat_add(*mn, a);
            *mx = sat_add(*mx, b);
        }
        return;
    case RN_ALT:
        *mn = WEIR__RE_UNBOUNDED;
        *mx = 0;
        for (uint32_t i = 0; i < n->nkids; i++) {
            lengths(n->kids[i], &a, &b, ctx);
            *mn = a < *mn ? a : *mn;
            *mx = b > *mx ? b : *mx;
        }
        return;
    case RN_REP:
        lengths(n->kids[0], &a, &b, ctx);
        *mn = sat_mul(a, n->min);
        *mx = n->max == WEIR__RE_UNBOUNDED ? (b ? WEIR__RE_UNBOUNDED : 0) : sat_mul(b, n->max);
        return;
    case RN_BOL:
    case RN_EOL:
    case RN_WB:
    case RN_NWB:
        *ctx = 1;
        /* fall through */
    default:
        *mn = *mx = 0;
    }
}

static void literal_of(weir__re_t *re)
{
    const rnode_t *r = re->root;
    unsigned one;
    size_t n = r->type == RN_CAT ? r->nkids : 1;
    const rnode_t *const *k = r->type == RN_CAT ? (const rnode_t *const *)r->kids : &r;
    if (r->type == RN_CAT && n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (k[i]->type != RN_SET || set_count(k[i]->set, &one) != 1)
            return;
    re->lit = weir__malloc(NULL, n);
    if (!re->lit)
        return; /* only a lost fast path */
    for (size_t i = 0; i < n; i++) {
        set_count(k[i]->set, &one);
        re->lit[i] = (uint8_t)one;
    }
    re->lit_len = n;
    re->is_lit = 1;
}

int weir__re_finish(weir__re_t *re)
{
    re->needs_ctx = 0;
    lengths(re->root, &re->min_len, &re->max_len, &re->needs_ctx);
    re->chaining = 0;
    {
        const rnode_t *r = re->root;
        for (uint32_t i = 0; r->type == RN_CAT && i < r->nkids; i++)
            if (r->kids[i]->jump == 1 && (r->kids[i]->min > WEIR__RE_CHAINING_THRESHOLD ||
                                          r->kids[i]->max > WEIR__RE_CHAINING_THRESHOLD))
                re->chaining = 1;
    }
    literal_of(re);
    /* YARA's fast hex strings: bytes, masked bytes, ?? and jumps, no alternatives. */
    re->fast = re->is_hex;
    {
        const rnode_t *r = re->root;
        uint32_t n = r->type == RN_CAT ? r->nkids : 1;
        for (uint32_t i = 0; i < n && re->fast; i++) {
            const rnode_t *k = r->type == RN_CAT ? r->kids[i] : r;
            re->fast = k->type == RN_SET || (k->type == RN_REP && k->jump == 1 && k->nkids == 1 &&
                                             k->kids[0]->type == RN_SET);
        }
    }
    if (weir__rprog_compile(&re->fwd, re->root, 0) < 0 ||
        weir__rprog_compile(&re->bwd, re->root, 1) < 0 || weir__re_atoms(re) < 0)
        return -1;
    for (uint32_t k = 0; re->fast && k < re->natoms; k++)
        for (uint32_t i = 0; re->root->type == RN_CAT && i < re->root->nkids; i++)
            if (re->root->kids[i] == re->atoms[k].node)
                re->atoms[k].tok = i;
    /* YARA limits the backward and the forward part to RE_SCAN_LIMIT bytes each. */
    uint64_t lim = (uint64_t)re->maxb + WEIR__RE_SCAN_LIMIT;
    re->limit = re->max_len < lim ? re->max_len : (uint32_t)lim;
    return 0;
}

/* ---- Vectorscan pattern text ------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (WEIR__GROW(NULL, b->s, b->cap, b->n + n + 1) < 0) {
        b->oom = 1;
        return;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_byte(sbuf_t *b, unsigned c, int in_class)
{
    char t[8];
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (!in_class && c == '_'))
        snprintf(t, sizeof t, "%c", (char)c);
    else
        snprintf(t, sizeof t, "\\x%02x", c);
    sb_str(b, t);
}

static void sb_set(sbuf_t *b, const uint8_t *set)
{
    unsigned one, cnt = set_count(set, &one);
    if (cnt == 1) {
        sb_byte(b, one, 0);
        return;
    }
    if (cnt == 0) { /* never matches: a byte that must be two values at once */
        sb_str(b, "(?:\\x00\\x01)");
        return;
    }
    sb_str(b, "[");
    for (unsigned c = 0; c < 256;) {
        if (!set_has(set, c)) {
            c++;
            continue;
        }
        unsigned e = c;
        while (e + 1 < 256 && set_has(set, e + 1))
            e++;
        sb_byte(b, c, 1);
        if (e > c) {
            if (e > c + 1)
                sb_str(b, "-");
            sb_byte(b, e, 1);
        }
        c = e + 1;
    }
    sb_str(b, "]");
}

/* Repeats beyond this are written unbounded: still a superset for Vectorscan, far cheaper. */
#define HS_MAX_BOUND 255u

/* Writes a repeat's bounds, {mn}, {mn,} or {mn,mx}, within HS_MAX_BOUND. */
static void sb_bounds(sbuf_t *b, uint32_t mn, uint32_t mx)
{
    char t[48];
    mn = mn > HS_MAX_BOUND ? HS_MAX_BOUND : mn;
    if (mx == WEIR__RE_UNBOUNDED || mx > HS_MAX_BOUND)
        snprintf(t, sizeof t, "{%u,}", mn);
    else
        snprintf(t, sizeof t, mn == mx ? "{%u}" : "{%u,%u}", mn, mx);
    sb_str(b, t);
}

static void to_hs(sbuf_t *b, const rnode_t *n, int top_first)
{
    switch (n->type) {
    case RN_SET:
        sb_set(b, n->set);
        return;
    case RN_BOL:
        if (top_first)
            sb_str(b, "^");
        return;
    case RN_CAT:
        for (uint32_t i = 0; i < n->nkids; i++) {
            const rnode_t *k = n->kids[i];
            if (k->type == RN_SET) {
                /* A run of one set ({ ?? ?? ?? } in hex) as one repeat: a long hex string
                   stays within Vectorscan's limit on the pattern's length in characters. */
                uint32_t run = 1;
                while (i + run < n->nkids && run < HS_MAX_BOUND &&
                       n->kids[i + run]->type == RN_SET &&
                       memcmp(n->kids[i + run]->set, k->set, sizeof k->set) == 0)
                    run++;
                sb_set(b, k->set);
                if (run > 1)
                    sb_bounds(b, run, run);
                i += run - 1;
                continue;
            }
            int wrap = k->type == RN_ALT;
            if (wrap)
                sb_str(b, "(?:");
            to_hs(b, k, top_first && i == 0);
            if (wrap)
                sb_str(b, ")");
        }
        return;
    case RN_ALT:
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (i)
                sb_str(b, "|");
            to_hs(b, n->kids[i], 0);
        }
        return;
    case RN_REP: {
        const rnode_t *k = n->kids[0];
        uint32_t kmin, kmax;
        uint8_t ctx = 0;
        lengths(k, &kmin, &kmax, &ctx);
        if (kmax == 0) /* only assertions inside: they are dropped anyway */
            return;
        if (n->max == 0) /* x{0}, a hex jump [0-0]: empty, and Vectorscan refuses it */
            return;
        sb_str(b, "(?:");
        to_hs(b, k, 0);
        sb_str(b, ")");
        sb_bounds(b, n->min, n->max);
        return;
    }
    default: /* EMPTY, $, \b, \B: dropped (a superset of YARA's matches) */
        return;
    }
}

char *weir__re_to_hs(const weir__re_t *re, unsigned *hs_flags)
{
    sbuf_t b = {0};
    sb_str(&b, "");
    to_hs(&b, re->root, 1);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    /* With anchors dropped the pattern may match empty: let Vectorscan accept that. */
    *hs_flags = re->min_len == 0 || re->needs_ctx ? HS_FLAG_ALLOWEMPTY : 0;
    return b.s;
}

/* ---- serialization ------------------------------------------------------- */

#define RE_MAGIC "WRe2"

static int put(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (weir__grow(NULL, (void **)buf, cap, *len + n, 1) < 0)
        return -1;
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

static int put32(uint8_t **buf, size_t *len, size_t *cap, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return put(buf, len, cap, t, 4);
}

static int ser_node(const rnode_t *n, uint8_t **buf, size_t *len, size_t *cap)
{
    uint8_t h[8] = {n->type, n->greedy, n->wide,  n->jump,
                    n->yk,   n->yval,   n->ymask, (uint8_t)(n->yform | n->wz << 4)};
    if (put(buf, len, cap, h, 8) < 0 || put32(buf, len, cap, n->min) < 0 ||
        put32(buf, len, cap, n->max) < 0 || put32(buf, len, cap, n->nkids) < 0)
        return -1;
    if (n->type == RN_SET && put(buf, len, cap, n->set, 32) < 0)
        return -1;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (ser_node(n->kids[i], buf, len, cap) < 0)
            return -1;
    return 0;
}

int weir__re_serialize(const weir__re_t *re, uint8_t **buf, size_t *len, size_t *cap)
{
    uint8_t h = re->is_hex;
    if (put(buf, len, cap, RE_MAGIC, 4) < 0 || put(buf, len, cap, &h, 1) < 0)
        return -1;
    return ser_node(re->root, buf, len, cap);
}

static int get32(const uint8_t *buf, size_t len, size_t *pos, uint32_t *v)
{
    if (len - *pos < 4)
        return -1;
    const uint8_t *p = buf + *pos;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    *pos += 4;
    return 0;
}

static rnode_t *de_node(const uint8_t *buf, size_t len, size_t *pos, int depth)
{
    if (depth > MAX_DEPTH * 2 || len - *pos < 20)
        return NULL;
    const uint8_t *h = buf + *pos;
    if (h[0] < RN_SET || h[0] > RN_REP || h[1] > 1 || h[2] > 1 || h[3] > 2 || h[4] > YK_BYTE ||
        (h[7] & 15) > YF_ANYRANGE || h[7] >> 4 > 1)
        return NULL;
    rnode_t *n = weir__rn_new(h[0]);
    if (!n)
        return NULL;
    n->greedy = h[1];
    n->wide = h[2];
    n->jump = h[3];
    n->yk = h[4];
    n->yval = h[5];
    n->ymask = h[6];
    n->yform = h[7] & 15;
    n->wz = h[7] >> 4;
    *pos += 8;
    uint32_t nk = 0;
    if (get32(buf, len, pos, &n->min) || get32(buf, len, pos, &n->max) || get32(buf, len, pos, &nk))
        goto bad;
    if (n->type == RN_SET) {
        if (len - *pos < 32)
            goto bad;
        memcpy(n->set, buf + *pos, 32);
        *pos += 32;
    }
    /* Shape checks keep the compiler's invariants: REP has one kid, CAT/ALT at least one. */
    if ((n->type == RN_REP && (nk != 1 || n->min > n->max)) ||
        ((n->type == RN_CAT || n->type == RN_ALT) && nk == 0) ||
        (n->type != RN_REP && n->type != RN_CAT && n->type != RN_ALT && nk != 0) ||
        nk > (len - *pos) / 20)
        goto bad;
    for (uint32_t i = 0; i < nk; i++) {
        rnode_t *k = de_node(buf, len, pos, depth + 1);
        if (!k || weir__rn_add(n, k) < 0)
            goto bad;
    }
    return n;
bad:
    weir__rn_free(n);
    return NULL;
}

int weir__re_deserialize(const uint8_t *buf, size_t len, size_t *pos, weir__re_t **out)
{
    size_t p = *pos;
    *out = NULL;
    if (p > len || len - p < 5 || memcmp(buf + p, RE_MAGIC, 4) != 0 || buf[p + 4] > 1)
        return -1;
    int is_hex = buf[p + 4];
    p += 5;
    rnode_t *root = de_node(buf, len, &p, 0);
    if (!root)
        return -1;
    weir__re_t *re = re_new(root, is_hex);
    if (!re)
        return -1;
    *pos = p;
    *out = re;
    return 0;
}
