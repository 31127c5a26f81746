/*
 * compile.c - from parsed rules to a weir_rules_t: each string becomes one or
 * two Vectorscan patterns (ascii, wide) with the facts the scanner needs to
 * turn their end offsets into YARA's matches; conditions become flat code;
 * the rules that can fire before a stream ends are picked out.
 */
#include "diag.h"
#include "engine.h"
#include "lexer.h"
#include "mem.h"
#include "parser.h"
#include "rules.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One Vectorscan expression being collected. */
typedef struct pattern {
    char *text;
    unsigned flags;
    weir__loc_t loc; /* of the string it matches, for Vectorscan's errors */
} pattern_t;

typedef struct builder {
    weir_rules_t *r;
    const weir__ast_t *ast;
    weir_diags_t *diags;
    pattern_t *pats;
    size_t npats, cap_pats;
    size_t cap_variants;
    int oom;
} builder_t;

void weir__rules_destroy(weir_rules_t *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->nrules; i++) {
        weir__rule_t *ru = &r->rules[i];
        free((char *)ru->info.name);
        for (size_t t = 0; t < ru->info.ntags; t++)
            free(ru->tags[t]);
        free(ru->tags);
        for (size_t m = 0; m < ru->info.nmeta; m++) {
            free((char *)ru->meta[m].key);
            free((char *)ru->meta[m].string);
        }
        free(ru->meta);
    }
    free(r->rules);
    for (uint32_t i = 0; i < r->nstrings; i++) {
        free(r->strings[i].id);
        free(r->strings[i].text);
    }
    free(r->strings);
    for (uint32_t i = 0; i < r->nvariants; i++)
        weir__re_free(r->variants[i].re);
    free(r->variants);
    weir__code_free(&r->code);
    if (r->db)
        hs_free_database(r->db);
    free(r->dep_at);
    free(r->deps);
    free(r->always);
    free(r->gaps);
    for (uint32_t i = 0; i < r->nns; i++)
        free(r->ns_names[i]);
    free(r->ns_names);
    for (uint32_t i = 0; i < r->nvars; i++) {
        free((char *)r->vars[i].name);
        free((char *)r->vars[i].string);
    }
    free(r->vars);
    free(r);
}

void weir_rules_free(weir_rules_t *rules)
{
    weir__rules_destroy(rules);
}

size_t weir_rules_count(const weir_rules_t *rules)
{
    return rules ? rules->nrules : 0;
}

const weir_rule_info_t *weir_rules_info(const weir_rules_t *rules, size_t i)
{
    return rules && i < rules->nrules ? &rules->rules[i].info : NULL;
}

/* YARA's longest atom: a literal no longer than this (in its widest form) has
   its ascii and wide forms checked independently. */
#define YARA_MAX_ATOM_LENGTH 4

/* ---- patterns ------------------------------------------------------------ */

/*
 * Vectorscan refuses a pattern longer than 16,000 characters; a literal takes 4 per byte.  A
 * longer literal is searched for by its last HS_TAIL bytes: the scanner checks every form of a
 * literal string at each start anyway (match.c, literal_at), so the end offsets of the tail
 * give exactly the literal's matches.
 */
#define HS_MAX_PATTERN 16000u
#define HS_TAIL 3000u

/* A literal as Vectorscan pattern text: every byte as \xNN; a long one by its tail. */
static char *literal_pattern(const uint8_t *s, size_t len, int wide)
{
    if (len * (wide ? 2 : 1) > HS_TAIL) {
        size_t keep = wide ? HS_TAIL / 2 : HS_TAIL;
        s += len - keep;
        len = keep;
    }
    size_t n = len * (wide ? 2 : 1);
    char *p = malloc(n * 4 + 1);
    if (!p)
        return NULL;
    char *o = p;
    for (size_t i = 0; i < len; i++) {
        o += sprintf(o, "\\x%02x", s[i]);
        if (wide)
            o += sprintf(o, "\\x00");
    }
    *o = '\0';
    return p;
}

/* The place of byte off of a string's value, for diagnostics inside hex
   strings and regular expressions (which may span lines). */
static weir__loc_t value_loc(const weir__ast_string_t *s, size_t off)
{
    weir__loc_t l = s->value_loc;
    for (size_t i = 0; i < off && i < s->len; i++) {
        if (s->value[i] == '\n') {
            l.line++;
            l.column = 1;
        } else {
            l.column++;
        }
    }
    return l;
}

static weir__variant_t *new_variant(builder_t *b, const weir__ast_string_t *s, uint32_t string,
                                    char *text, unsigned flags)
{
    weir_rules_t *r = b->r;
    if (!text || WEIR__GROW(NULL, r->variants, b->cap_variants, r->nvariants + 1) != 0 ||
        WEIR__GROW(NULL, b->pats, b->cap_pats, b->npats + 1) != 0) {
        free(text);
        b->oom = 1;
        return NULL;
    }
    b->pats[b->npats].text = text;
    b->pats[b->npats].flags = flags;
    b->pats[b->npats].loc = s->loc;
    b->npats++;
    weir__variant_t *v = &r->variants[r->nvariants++];
    memset(v, 0, sizeof *v);
    v->string = string;
    return v;
}

/* The name of the rule string gi (global index) belongs to. */
static const char *rule_name(const builder_t *b, uint32_t gi)
{
    const weir_rules_t *r = b->r;
    uint32_t ri = gi < r->nstrings ? r->strings[gi].rule : UINT32_MAX;
    return ri < r->nrules && r->rules[ri].info.name ? r->rules[ri].info.name : "?";
}

/*
 * Checks one pattern with Vectorscan alone, so that an expression it cannot
 * take is reported at its string instead of failing the whole database.
 * When a VM-confirmed string is too hard for an exact pattern, prefiltering
 * (a superset, confirmed by the VM) is tried before giving up.
 */
static int check_pattern(builder_t *b, const weir__ast_string_t *s, weir__variant_t *v)
{
    pattern_t *p = &b->pats[b->npats - 1];
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *err = NULL;
    const char *rule = rule_name(b, v->string);
    size_t plen = strlen(p->text);
    if (plen > HS_MAX_PATTERN) {
        weir__diag_add(b->diags, WEIR_SEV_ERROR, b->ast, s->loc,
                       "string %s of rule %s is too long for Vectorscan (a pattern of %zu "
                       "characters, at most %u)",
                       s->id, rule, plen, HS_MAX_PATTERN);
        return -1;
    }
    if (hs_expression_info(p->text, p->flags, &info, &err) == HS_SUCCESS) {
        free(info);
        return 0;
    }
    if (v->kind == WEIR__V_VM) {
        hs_free_compile_error(err);
        err = NULL;
        if (hs_expression_info(p->text, p->flags | HS_FLAG_PREFILTER, &info, &err) == HS_SUCCESS) {
            free(info);
            p->flags |= HS_FLAG_PREFILTER;
            return 0;
        }
    }
    /* The string is valid YARA (weir parsed it); Vectorscan's limits are weir's. */
    weir__diag_add(b->diags, WEIR_SEV_ERROR, b->ast, s->loc,
                   "string %s of rule %s is not supported: Vectorscan rejects its pattern (%s)",
                   s->id, rule, err && err->message ? err->message : "no reason given");
    hs_free_compile_error(err);
    return -1;
}

/* The ascii and/or wide variants of re (piece `piece` of a chained string, or 0); takes re. */
static int add_forms(builder_t *b, const weir__ast_string_t *s, uint32_t gi, weir__string_t *ws,
                     weir__re_t *re, uint32_t piece)
{
    int want_ascii = (s->mods & WEIR__MOD_ASCII) || !(s->mods & WEIR__MOD_WIDE);
    weir__re_t *forms[2] = {want_ascii ? re : NULL, NULL};
    if (s->mods & WEIR__MOD_WIDE) {
        forms[1] = weir__re_widen(re);
        if (!forms[1]) {
            b->oom = 1;
            weir__re_free(re);
            return -1;
        }
    }
    if (!want_ascii)
        weir__re_free(re);
    int result = 0;
    for (int wide = 0; wide < 2; wide++) {
        weir__re_t *form = forms[wide];
        if (!form || result != 0)
            continue;
        unsigned flags = 0;
        char *text = weir__re_to_hs(form, &flags);
        const uint8_t *lit;
        size_t lit_len;
        if (text && strlen(text) > HS_MAX_PATTERN && ws->literal &&
            weir__re_as_literal(form, &lit, &lit_len) && weir__re_hs_exact(form)) {
            free(text); /* a long literal hex string or regex: by its tail, as a text string */
            text = literal_pattern(lit, lit_len, 0);
        }
        if (weir__re_min_len(form) == 0)
            flags |=
                HS_FLAG_ALLOWEMPTY; /* the VM drops empty matches, as YARA never reports them */
        weir__variant_t *v = new_variant(b, s, gi, text, flags);
        if (!v) {
            result = -1;
            continue;
        }
        v->wide = (uint8_t)wide;
        v->piece = (uint8_t)piece;
        if (weir__re_can_hold(form, '\n'))
            ws->nl = 1;
        uint32_t minl = weir__re_min_len(form), maxl = weir__re_max_len(form);
        if (minl == maxl && weir__re_hs_exact(form) && !(s->mods & WEIR__MOD_FULLWORD)) {
            /* Every match has the same length: Vectorscan's end offset fixes the start. */
            v->kind = WEIR__V_FIXED;
            v->len = minl;
        } else {
            v->kind = WEIR__V_VM;
            v->limit = weir__re_limit(form);
            if (weir__re_needs_context(form) || (s->mods & WEIR__MOD_FULLWORD))
                v->lookahead = wide ? 2 : 1;
            v->re = form;
            forms[wide] = NULL; /* owned by the variant now */
        }
        uint32_t need = v->kind == WEIR__V_FIXED ? v->len : v->limit;
        if (need > ws->max_len)
            ws->max_len = need;
        if (check_pattern(b, s, v) != 0)
            result = -1;
    }
    weir__re_free(forms[0]);
    weir__re_free(forms[1]);
    return result;
}

/* Most pieces one chained string may have. */
#define MAX_PIECES 64

/*
 * A chained string (YARA splits a hex string at a jump over 200, a regex at a lazy .{n,m}? over
 * 200): each piece gets variants of its own, matched as a string of its own; the scanner links
 * their matches across the gaps as YARA does (match.c).  Takes re.
 */
static int add_chain(builder_t *b, const weir__ast_string_t *s, uint32_t gi, weir__string_t *ws,
                     weir__re_t *re)
{
    weir__re_t *pieces[MAX_PIECES];
    uint32_t gmin[MAX_PIECES], gmax[MAX_PIECES], n = 0;
    int rc = weir__re_split(re, pieces, gmin, gmax, MAX_PIECES, &n);
    weir__re_free(re);
    if (rc == -2) {
        weir__diag_add(b->diags, WEIR_SEV_ERROR, b->ast, s->loc,
                       "string %s of rule %s has more than %d jumps over %u bytes (weir's limit)",
                       s->id, rule_name(b, gi), MAX_PIECES - 1, WEIR__RE_CHAINING_THRESHOLD);
        return -1;
    }
    if (rc != 0) {
        b->oom = 1;
        return -1;
    }
    weir_rules_t *r = b->r;
    weir__gap_t *g = realloc(r->gaps, (r->ngaps + n - 1) * sizeof *g);
    if (!g) {
        for (uint32_t i = 0; i < n; i++)
            weir__re_free(pieces[i]);
        b->oom = 1;
        return -1;
    }
    r->gaps = g;
    ws->npieces = n;
    ws->chain = r->ngaps;
    for (uint32_t i = 0; i + 1 < n; i++)
        r->gaps[r->ngaps++] = (weir__gap_t){gmin[i], gmax[i]};
    ws->literal = 0; /* the pieces may be literals, the string is not */
    ws->nl = 1;      /* the bytes between the pieces may be anything */
    free(ws->text);
    ws->text = NULL;
    ws->text_len = 0;
    int result = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (result == 0)
            result = add_forms(b, s, gi, ws, pieces[i], i);
        else
            weir__re_free(pieces[i]);
    }
    return result;
}

/* The variant(s) of a hex string or regular expression. */
static int add_re_variants(builder_t *b, const weir__ast_string_t *s, uint32_t gi,
                           weir__string_t *ws)
{
    char err[256] = "";
    size_t err_off = 0;
    weir__re_t *re = NULL;
    int rc;
    if (s->kind == WEIR__STR_HEX) {
        rc = weir__re_parse_hex(s->value, s->len, &re, err, sizeof err, &err_off);
    } else {
        uint32_t flags = s->re_flags;
        if (s->mods & WEIR__MOD_NOCASE)
            flags |= WEIR__RE_NOCASE;
        rc = weir__re_parse_regex(s->value, s->len, flags, &re, err, sizeof err, &err_off);
    }
    if (rc != 0) {
        if (!re && !err[0]) {
            b->oom = 1;
            return -1;
        }
        weir__diag_add(b->diags, WEIR_SEV_ERROR, b->ast, value_loc(s, err_off), "%s in %s",
                       err[0] ? err : "invalid expression", s->id);
        weir__re_free(re);
        return -1;
    }
    const uint8_t *lit;
    size_t lit_len;
    if (weir__re_as_literal(re, &lit, &lit_len) && lit_len) {
        ws->literal = 1;
        ws->text_len = (uint32_t)lit_len;
        if (!(ws->text = weir__memdup(lit, lit_len))) {
            b->oom = 1;
            weir__re_free(re);
            return -1;
        }
    }
    if (weir__re_has_chaining(re))
        return add_chain(b, s, gi, ws, re);
    return add_forms(b, s, gi, ws, re, 0);
}

/*
 * Whether YARA can record the form (wide or ascii) of xor string s under a key outside the
 * forms it searches: YARA verifies a start found by any atom (its ascii atom, its wide one:
 * the first two bytes of the ascii atom widened, each under every key of the range) by trying
 * the forms in turn under the key the first byte gives.  So a form under key k counts when
 * some atom under some key of the range agrees with it on the bytes they share.
 */
static int xor_reachable(const weir__ast_string_t *s, int want_ascii, int want_wide, int wide,
                         unsigned k)
{
    size_t n = s->len, at = weir__re_literal_atom(s->value, n);
    size_t la = n < YARA_MAX_ATOM_LENGTH ? n : YARA_MAX_ATOM_LENGTH;
    for (int aw = 0; aw < 2; aw++) {
        if (aw ? !want_wide : !want_ascii)
            continue;
        size_t alen = aw ? (2 * la < YARA_MAX_ATOM_LENGTH ? 2 * la : YARA_MAX_ATOM_LENGTH) : la;
        size_t aoff = aw ? 2 * at : at, flen = wide ? 2 * n : n;
        for (unsigned ak = s->xor_lo; ak <= s->xor_hi; ak++) {
            size_t j;
            for (j = 0; j < alen && aoff + j < flen; j++) {
                uint8_t a = aw ? (j % 2 ? 0 : s->value[at + j / 2]) : s->value[at + j];
                size_t q = aoff + j;
                uint8_t f = wide ? (q % 2 ? 0 : s->value[q / 2]) : s->value[q];
                if ((uint8_t)(a ^ ak) != (uint8_t)(f ^ k))
                    break;
            }
            if (j == alen || aoff + j >= flen)
                return 1;
        }
    }
    return 0;
}

/*
 * The variant(s) of a text string: its ascii and/or wide form, and with xor one of each per
 * key of the range, the whole form xored (for wide, the zero bytes too, as YARA does).
 */
static int add_text_variants(builder_t *b, const weir__ast_string_t *s, uint32_t gi,
                             weir__string_t *ws)
{
    if (s->len == 0) {
        weir__diag_add(b->diags, WEIR_SEV_ERROR, b->ast, s->loc, "empty string %s", s->id);
        return -1;
    }
    ws->text = weir__memdup(s->value, s->len);
    ws->text_len = (uint32_t)s->len;
    ws->literal = 1;
    if (!ws->text) {
        b->oom = 1;
        return -1;
    }
    int want_ascii = (s->mods & WEIR__MOD_ASCII) || !(s->mods & WEIR__MOD_WIDE);
    int want_wide = (s->mods & WEIR__MOD_WIDE) != 0;
    unsigned flags = (s->mods & WEIR__MOD_NOCASE) ? HS_FLAG_CASELESS : 0;
    int xor = (s->mods & WEIR__MOD_XOR) != 0;
    unsigned lo = xor? s->xor_lo : 0, hi = xor? s->xor_hi : 0;
    ws->xor_lo = (uint8_t)lo;
    ws->xor_hi = (uint8_t)hi;
    ws->atom_at = weir__re_literal_atom(s->value, s->len);
    int fits = s->len * (want_wide ? 2 : 1) <= YARA_MAX_ATOM_LENGTH;
    uint8_t *form = malloc(s->len * 2);
    if (!form) {
        b->oom = 1;
        return -1;
    }
    int rc = 0;
    for (int wide = 0; wide < 2 && rc == 0; wide++) {
        /* YARA's xor check tries the ascii form even without the ascii modifier. */
        if ((wide && !want_wide) || (!wide && !want_ascii && !(xor&&!fits)))
            continue;
        size_t n = s->len * (wide ? 2 : 1);
        for (unsigned k = 0; k < 256 && rc == 0; k++) {
            int in_range = k >= lo && k <= hi && (wide ? want_wide : want_ascii);
            if (!in_range && (!xor || fits || !xor_reachable(s, want_ascii, want_wide, wide, k)))
                continue;
            for (size_t i = 0; i < n; i++)
                form[i] = (uint8_t)((wide ? (i % 2 ? 0 : s->value[i / 2]) : s->value[i]) ^ k);
            if (memchr(form, '\n', n))
                ws->nl = 1;
            weir__variant_t *v = new_variant(b, s, gi, literal_pattern(form, n, 0), flags);
            if (!v) {
                rc = -1;
                break;
            }
            v->kind = WEIR__V_FIXED;
            v->wide = (uint8_t)wide;
            v->len = (uint32_t)n;
            v->lookahead = (s->mods & WEIR__MOD_FULLWORD) ? (wide ? 2 : 1) : 0;
            /* An xor string's ascii form is decided once its wide form's bytes are here too
               (YARA tries that first, and the wide atom may lie past the ascii form). */
            if (!wide && xor&&want_wide && !fits)
                v->lookahead = (uint8_t)(s->len + 2 < 250 ? s->len + 2 : 250);
            if (v->len > ws->max_len)
                ws->max_len = v->len;
            if (check_pattern(b, s, v) != 0)
                rc = -1;
        }
    }
    free(form);
    return rc;
}

/* YARA's regular-expression metacharacters, escaped in the base64 expression. */
static int b64_meta(uint8_t c)
{
    return c && strchr("\\^$|()[]*?{},.+}", c) != NULL;
}

/* Appends the encoding of s, prefixed with i bytes, without the characters that depend on
   the bytes around s (libyara/base64.c), widened if wide, escaped as a regex. */
static char *b64_alternative(char *o, const uint8_t *s, size_t len, int i, int wide,
                             const uint8_t *alpha)
{
    size_t n = len + (size_t)i, enc_len = 0;
    char *enc = malloc((n + 2) / 3 * 4 + 1);
    if (!enc)
        return NULL;
    for (size_t j = 0; j < n; j += 3) {
        uint32_t v = 0;
        size_t m = n - j < 3 ? n - j : 3;
        for (size_t t = 0; t < 3; t++) {
            size_t at = j + t;
            /* cppcheck-suppress knownConditionTrueFalse ; m is 1 to 3, cppcheck says below 1 */
            uint8_t byte = t < m ? (at < (size_t)i ? 'A' : s[at - (size_t)i]) : 0;
            /* cppcheck-suppress badBitmaskCheck ; byte is not always 0 (see above) */
            v = v << 8 | byte;
        }
        for (size_t t = 0; t < m + 1; t++)
            enc[enc_len++] = (char)alpha[(v >> (18 - 6 * t)) & 0x3f];
    }
    size_t pad = n % 3 ? 3 - n % 3 : 0;
    /* The padded encoding has pad '=' more; YARA strips pad + 1 characters from its end
       (none when pad is 0) and i + 1 from its start (none when i is 0). */
    size_t trail = pad ? pad + 1 : 0, lead = i ? (size_t)i + 1 : 0;
    size_t full = enc_len + pad;
    for (size_t j = lead; j + trail < full; j++) {
        uint8_t c = (uint8_t)enc[j];
        if (b64_meta(c))
            *o++ = '\\';
        if (c == 0)
            o += sprintf(o, "\\x00");
        else
            *o++ = (char)c;
        if (wide)
            o += sprintf(o, "\\x00");
    }
    free(enc);
    return o;
}

/*
 * A base64 or base64wide string is, as in YARA, the regular expression (e1|e2|...) of the
 * encodings of its text at offsets 0, 1 and 2 (1 skipped for a one-byte text), for the wide
 * text first, then the ascii one, base64 before base64wide each time; no ascii or wide form of
 * the expression itself is matched.
 */
static int add_base64_variants(builder_t *b, const weir__ast_string_t *s, uint32_t gi,
                               weir__string_t *ws)
{
    static const uint8_t standard[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *alpha = s->alphabet ? s->alphabet : standard;
    if (s->len == 0) {
        weir__diag_add(b->diags, WEIR_SEV_ERROR, b->ast, s->loc, "empty string %s", s->id);
        return -1;
    }
    uint8_t *wide_text = malloc(s->len * 2);
    /* Each encoded byte may become "\\x00\\x00" (10 bytes); 2 forms x 2 kinds x 3 offsets. */
    char *re = malloc(((s->len * 2 + 2) / 3 * 4 + 8) * 10 * 12 + 16);
    if (!wide_text || !re) {
        free(wide_text);
        free(re);
        b->oom = 1;
        return -1;
    }
    for (size_t i = 0; i < s->len; i++) {
        wide_text[2 * i] = s->value[i];
        wide_text[2 * i + 1] = 0;
    }
    const int texts[2] = {(s->mods & WEIR__MOD_WIDE) != 0,
                          (s->mods & WEIR__MOD_ASCII) || !(s->mods & WEIR__MOD_WIDE)};
    char *o = re;
    int nalt = 0;
    *o++ = '(';
    for (int t = 0; t < 2 && o; t++) {
        if (!texts[t])
            continue;
        const uint8_t *text = t == 0 ? wide_text : s->value;
        size_t len = t == 0 ? s->len * 2 : s->len;
        for (int kind = 0; kind < 2 && o; kind++) {
            if (!(s->mods & (kind ? WEIR__MOD_BASE64WIDE : WEIR__MOD_BASE64)))
                continue;
            for (int i = 0; i <= 2 && o; i++) {
                if (i == 1 && len == 1)
                    continue;
                if (nalt++)
                    *o++ = '|';
                o = b64_alternative(o, text, len, i, kind, alpha);
            }
        }
    }
    free(wide_text);
    if (!o) {
        free(re);
        b->oom = 1;
        return -1;
    }
    *o++ = ')';
    *o = '\0';
    weir__ast_string_t rs = *s;
    rs.kind = WEIR__STR_REGEX;
    rs.value = (uint8_t *)re;
    rs.len = (size_t)(o - re);
    rs.re_flags = 0;
    rs.mods = s->mods & ~(uint32_t)(WEIR__MOD_WIDE | WEIR__MOD_ASCII);
    rs.value_loc = s->loc;
    int rc = add_re_variants(b, &rs, gi, ws);
    free(re);
    /* YARA never takes the alternation for a literal: no fixed offset, no atom rule. */
    free(ws->text);
    ws->text = NULL;
    ws->text_len = 0;
    ws->literal = 0;
    return rc;
}

static int add_string(builder_t *b, const weir__ast_string_t *s, uint32_t rule_index)
{
    weir_rules_t *r = b->r;
    uint32_t gi = r->nstrings;
    weir__string_t *ws = &r->strings[gi];
    memset(ws, 0, sizeof *ws);
    ws->id = weir__strdup(s->id);
    ws->rule = rule_index;
    ws->mods = s->mods;
    ws->kind = s->kind;
    ws->first_variant = r->nvariants;
    r->nstrings++;
    if (!ws->id) {
        b->oom = 1;
        return -1;
    }
    int rc;
    if (s->kind != WEIR__STR_TEXT)
        rc = add_re_variants(b, s, gi, ws);
    else if (s->mods & (WEIR__MOD_BASE64 | WEIR__MOD_BASE64WIDE))
        rc = add_base64_variants(b, s, gi, ws);
    else
        rc = add_text_variants(b, s, gi, ws);
    ws->nvariants = r->nvariants - ws->first_variant;
    if (ws->literal)
        ws->fits = ws->text_len * ((s->mods & WEIR__MOD_WIDE) ? 2 : 1) <= YARA_MAX_ATOM_LENGTH;
    return rc;
}

/* ---- fixed offsets ------------------------------------------------------ */

/*
 * YARA folds constant integer expressions while parsing; `$a at 1+1` counts
 * as a constant offset.  Returns 1 and *v for a constant.
 */
static int const_value(const weir__expr_t *e, int64_t *v)
{
    int64_t x, y;
    if (!e)
        return 0;
    if (e->op == WEIR__E_INT) {
        *v = e->ival;
        return 1;
    }
    if (e->op == WEIR__E_NEG || e->op == WEIR__E_BITNOT) {
        if (!const_value(e->a, &x))
            return 0;
        *v = e->op == WEIR__E_NEG ? (int64_t)(0 - (uint64_t)x) : ~x;
        return 1;
    }
    if (!const_value(e->a, &x) || !const_value(e->b, &y))
        return 0;
    uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
    switch (e->op) {
    case WEIR__E_ADD:
        *v = (int64_t)(ux + uy);
        return 1;
    case WEIR__E_SUB:
        *v = (int64_t)(ux - uy);
        return 1;
    case WEIR__E_MUL:
        *v = (int64_t)(ux * uy);
        return 1;
    case WEIR__E_BAND:
        *v = x & y;
        return 1;
    case WEIR__E_BOR:
        *v = x | y;
        return 1;
    case WEIR__E_BXOR:
        *v = x ^ y;
        return 1;
    default:
        return 0; /* division, shifts: not folded here, so not fixed */
    }
}

typedef struct fixed_state {
    weir__string_t *strings; /* the rule's */
    uint32_t n;
    uint8_t *state; /* 0 unseen, 1 fixed at strings[i].fixed, 2 anywhere */
} fixed_state_t;

static void fixed_ref(fixed_state_t *f, uint32_t i, int is_at, int is_const, int64_t at)
{
    if (i >= f->n || f->state[i] == 2)
        return;
    if (!is_at || !is_const)
        f->state[i] = 2;
    else if (f->state[i] == 0) {
        f->state[i] = 1;
        f->strings[i].fixed = at;
    } else if (f->strings[i].fixed != at) {
        f->state[i] = 2;
    }
}

/*
 * YARA searches a literal string only at offset N when every reference to it
 * is `$s at N` with the same constant N, and then reports no match elsewhere
 * (not even with -s).  Sets, counts, offsets and `in` clear that.
 */
static void fixed_walk(fixed_state_t *f, const weir__expr_t *e)
{
    if (!e)
        return;
    int64_t at = 0;
    switch (e->op) {
    case WEIR__E_STR_AT: {
        int is_const = const_value(e->a, &at);
        if (e->str >= 0)
            fixed_ref(f, (uint32_t)e->str, 1, is_const, at);
        else if (is_const)
            for (uint32_t i = 0; i < f->n; i++)
                fixed_ref(f, i, 1, 1, at);
        break;
    }
    case WEIR__E_STR_FOUND:
    case WEIR__E_STR_COUNT:
    case WEIR__E_STR_COUNT_IN:
    case WEIR__E_STR_OFFSET:
    case WEIR__E_STR_LENGTH:
    case WEIR__E_STR_IN:
        if (e->str >= 0)
            fixed_ref(f, (uint32_t)e->str, 0, 0, 0);
        else
            for (uint32_t i = 0; i < f->n; i++)
                fixed_ref(f, i, 0, 0, 0);
        break;
    case WEIR__E_OF:
    case WEIR__E_FOR_OF:
        for (size_t k = 0; k < e->nstrs; k++)
            fixed_ref(f, e->strs[k], 0, 0, 0);
        break;
    default:
        break;
    }
    fixed_walk(f, e->a);
    fixed_walk(f, e->b);
    fixed_walk(f, e->c);
    for (size_t k = 0; k < e->nlist; k++)
        fixed_walk(f, e->list[k]);
}

static int fixed_offsets(const weir__ast_rule_t *ar, weir__string_t *strings)
{
    fixed_state_t f = {strings, (uint32_t)ar->nstrings, calloc(ar->nstrings + 1, 1)};
    if (!f.state)
        return -1;
    fixed_walk(&f, ar->cond);
    for (uint32_t i = 0; i < f.n; i++)
        strings[i].has_fixed = strings[i].literal && f.state[i] == 1;
    free(f.state);
    return 0;
}

/* ---- rules --------------------------------------------------------------- */

typedef struct refs {
    uint32_t *v;
    size_t n, cap;
    int filesize;
} refs_t;

/* Collects the rules an expression references, and whether it reads filesize. */
static int collect_refs(const weir__expr_t *e, refs_t *out)
{
    if (!e)
        return 0;
    if (e->op == WEIR__E_RULE) {
        if (WEIR__GROW(NULL, out->v, out->cap, out->n + 1) != 0)
            return -1;
        out->v[out->n++] = (uint32_t)e->ival;
    }
    for (size_t i = 0; e->op == WEIR__E_OF_RULES && i < e->nstrs; i++) {
        if (e->strs[i] == WEIR__SELF_RULE)
            continue;
        if (WEIR__GROW(NULL, out->v, out->cap, out->n + 1) != 0)
            return -1;
        out->v[out->n++] = e->strs[i];
    }
    if (e->op == WEIR__E_FILESIZE || e->op == WEIR__E_READ)
        out->filesize = 1; /* both change with the bytes received, not with matches */
    if (collect_refs(e->a, out) || collect_refs(e->b, out) || collect_refs(e->c, out))
        return -1;
    for (size_t i = 0; i < e->nlist; i++)
        if (collect_refs(e->list[i], out))
            return -1;
    return 0;
}

/* The head each stream keeps for integer reads: exactly what constant offsets need, or
   WEIR_HEAD_DEFAULT bytes when an offset is only known at scan time (with a warning: reads
   past it are undefined).  -1 (an error in diags) when a read needs more than WEIR_HEAD_MAX. */
static int stream_head(const weir__ast_t *ast, weir_rules_t *r, weir_diags_t *diags)
{
    weir__cond_head_t h;
    memset(&h, 0, sizeof h);
    for (size_t i = 0; i < ast->nrules; i++)
        weir__cond_head(ast->rules[i].cond, &h);
    if (h.need > WEIR_HEAD_MAX) {
        weir__diag_add(diags, WEIR_SEV_ERROR, ast, h.need_at,
                       "this integer read needs the stream's first %" PRIu64
                       " bytes, more than the %u weir keeps (WEIR_HEAD_MAX)",
                       h.need, (unsigned)WEIR_HEAD_MAX);
        return -1;
    }
    r->head = (uint32_t)h.need;
    if (h.unknown) {
        if (r->head < WEIR_HEAD_DEFAULT)
            r->head = WEIR_HEAD_DEFAULT;
        weir__diag_add(diags, WEIR_SEV_WARNING, ast, h.unknown_at,
                       "integer read at an offset known only at scan time: streams keep their "
                       "first %u bytes, and reads beyond them are undefined",
                       (unsigned)r->head);
    }
    return 0;
}

static int copy_rule_info(builder_t *b, const weir__ast_rule_t *ar, weir__rule_t *ru,
                          uint32_t index)
{
    weir_rules_t *r = b->r;
    uint32_t ns;
    for (ns = 0; ns < r->nns; ns++)
        if (strcmp(r->ns_names[ns], ar->ns) == 0)
            break;
    if (ns == r->nns) {
        char **names = realloc(r->ns_names, (r->nns + 1) * sizeof *names);
        if (!names)
            return -1;
        r->ns_names = names;
        if (!(names[ns] = weir__strdup(ar->ns)))
            return -1;
        r->nns++;
    }
    ru->ns_index = ns;
    ru->info.index = index;
    ru->info.ns = r->ns_names[ns];
    ru->info.name = weir__strdup(ar->name);
    ru->info.is_private = (ar->flags & WEIR__RULE_PRIVATE) != 0;
    ru->info.is_global = ru->is_global = (ar->flags & WEIR__RULE_GLOBAL) != 0;
    if (!ru->info.name)
        return -1;
    if (ar->ntags) {
        ru->tags = calloc(ar->ntags, sizeof *ru->tags);
        if (!ru->tags)
            return -1;
        for (size_t t = 0; t < ar->ntags; t++)
            if (!(ru->tags[ru->info.ntags++] = weir__strdup(ar->tags[t])))
                return -1;
    }
    ru->info.tags = (const char *const *)ru->tags;
    if (ar->nmeta) {
        ru->meta = calloc(ar->nmeta, sizeof *ru->meta);
        if (!ru->meta)
            return -1;
        for (size_t m = 0; m < ar->nmeta; m++) {
            const weir__ast_meta_t *am = &ar->meta[m];
            weir_meta_t *wm = &ru->meta[ru->info.nmeta++];
            wm->key = weir__strdup(am->key);
            wm->type = (weir_meta_type_t)am->type;
            wm->integer = am->integer;
            if (am->type == WEIR__META_STRING) {
                wm->string = weir__strndup(am->string ? am->string : "", am->string_len);
                wm->string_len = am->string_len;
            }
            if (!wm->key || (am->type == WEIR__META_STRING && !wm->string))
                return -1;
        }
    }
    ru->info.meta = ru->meta;
    return 0;
}

/* Builds deps (CSR) from the per-rule reference lists, and the always list. */
static int build_tables(weir_rules_t *r, refs_t *refs, const uint8_t *monotone)
{
    uint32_t n = r->nrules;
    uint32_t *count = calloc(n + 1, sizeof *count);
    if (!count)
        return -1;
    /* live: monotone, and every global rule of the namespace monotone too */
    for (uint32_t i = 0; i < n; i++) {
        int live = monotone[i];
        for (uint32_t g = 0; g < n && live; g++)
            if (r->rules[g].is_global && r->rules[g].ns_index == r->rules[i].ns_index &&
                !monotone[g])
                live = 0;
        r->rules[i].live = (uint8_t)live;
        r->rules[i].info.fires_live = live;
    }
    for (uint32_t i = 0; i < n; i++) {
        for (size_t k = 0; k < refs[i].n; k++)
            count[refs[i].v[k]]++;
        if (r->rules[i].is_global)
            count[i] += n;
    }
    r->dep_at = calloc(n + 1, sizeof *r->dep_at);
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += count[i];
    r->deps = calloc(total ? total : 1, sizeof *r->deps);
    r->always = calloc(n ? n : 1, sizeof *r->always);
    if (!r->dep_at || !r->deps || !r->always) {
        free(count);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++)
        r->dep_at[i + 1] = r->dep_at[i] + count[i];
    memset(count, 0, (n + 1) * sizeof *count);
    for (uint32_t i = 0; i < n; i++) {
        for (size_t k = 0; k < refs[i].n; k++) {
            uint32_t t = refs[i].v[k];
            r->deps[r->dep_at[t] + count[t]++] = i;
        }
    }
    for (uint32_t g = 0; g < n; g++) {
        if (!r->rules[g].is_global)
            continue;
        for (uint32_t i = 0; i < n; i++)
            if (r->rules[i].ns_index == r->rules[g].ns_index)
                r->deps[r->dep_at[g] + count[g]++] = i;
    }
    /* Trim the CSR to what was filled (globals reserved n slots each). */
    uint32_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t from = r->dep_at[i];
        r->dep_at[i] = o;
        memmove(r->deps + o, r->deps + from, count[i] * sizeof *r->deps);
        o += count[i];
    }
    r->dep_at[n] = o;
    for (uint32_t i = 0; i < n; i++)
        if (r->rules[i].live && (!r->rules[i].has_strings || refs[i].filesize))
            r->always[r->nalways++] = i;
    free(count);
    return 0;
}

/*
 * After Vectorscan refused the whole set without naming a pattern (a resource limit): compiles
 * each pattern alone to find the ones it refuses.  A pattern the VM confirms gets prefiltering
 * (a superset) instead, as check_pattern does; any other is an error at its string.  Returns
 * the number of patterns changed, or -1 when one cannot be matched at all.
 */
static int find_refused(builder_t *b)
{
    weir_rules_t *r = b->r;
    int changed = 0, bad = 0;
    for (size_t i = 0; i < b->npats; i++) {
        pattern_t *p = &b->pats[i];
        hs_database_t *db = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_compile(p->text, p->flags, HS_MODE_STREAM, weir__engine()->platform, &db, &err) ==
            HS_SUCCESS) {
            hs_free_database(db);
            continue;
        }
        hs_free_compile_error(err);
        err = NULL;
        if (r->variants[i].kind == WEIR__V_VM && !(p->flags & HS_FLAG_PREFILTER) &&
            hs_compile(p->text, p->flags | HS_FLAG_PREFILTER, HS_MODE_STREAM,
                       weir__engine()->platform, &db, &err) == HS_SUCCESS) {
            hs_free_database(db);
            p->flags |= HS_FLAG_PREFILTER;
            changed++;
            continue;
        }
        const weir__string_t *s = &r->strings[r->variants[i].string];
        weir__diag_add(b->diags, WEIR_SEV_ERROR, b->ast, p->loc,
                       "string %s of rule %s is not supported: Vectorscan rejects its pattern (%s)",
                       s->id, rule_name(b, r->variants[i].string),
                       err && err->message ? err->message : "no reason given");
        hs_free_compile_error(err);
        bad = 1;
    }
    return bad ? -1 : changed;
}

static weir_status_t build_database(builder_t *b)
{
    weir_rules_t *r = b->r;
    if (b->npats == 0)
        return WEIR_OK;
    const char **exprs = malloc(b->npats * sizeof *exprs);
    unsigned *flags = malloc(b->npats * sizeof *flags);
    unsigned *ids = malloc(b->npats * sizeof *ids);
    if (!exprs || !flags || !ids) {
        free(exprs);
        free(flags);
        free(ids);
        return WEIR_ENOMEM;
    }
    hs_compile_error_t *err = NULL;
    hs_error_t rc;
    int found = 0; /* -1: find_refused reported the patterns at their strings */
    for (int attempt = 0;; attempt++) {
        for (size_t i = 0; i < b->npats; i++) {
            exprs[i] = b->pats[i].text;
            flags[i] = b->pats[i].flags;
            ids[i] = (unsigned)i;
        }
        rc = hs_compile_multi(exprs, flags, ids, (unsigned)b->npats, HS_MODE_STREAM,
                              weir__engine()->platform, &r->db, &err);
        if (rc == HS_SUCCESS || attempt > 0 || !err || err->expression >= 0 ||
            (found = find_refused(b)) <= 0)
            break;
        hs_free_compile_error(err);
        err = NULL;
    }
    weir_status_t st = WEIR_OK;
    if (rc != HS_SUCCESS) {
        int at = err ? err->expression : -1;
        if (at >= 0 && (size_t)at < b->npats) {
            const weir__string_t *s = &r->strings[r->variants[at].string];
            weir__diag_add(b->diags, WEIR_SEV_ERROR, b->ast, b->pats[at].loc,
                           "string %s of rule %s is not supported: Vectorscan rejects its "
                           "pattern (%s)",
                           s->id, rule_name(b, r->variants[at].string), err->message);
        } else if (found >= 0) {
            weir__diag_file(b->diags, WEIR_SEV_ERROR, b->ast->nfiles ? b->ast->files[0] : NULL,
                            "the rules' %zu patterns together are too much for Vectorscan: %s",
                            b->npats, err && err->message ? err->message : "compilation failed");
        }
        st = rc == HS_COMPILER_ERROR ? WEIR_ECOMPILE : WEIR_EENGINE;
        r->db = NULL;
    }
    hs_free_compile_error(err);
    free(exprs);
    free(flags);
    free(ids);
    return st;
}

static weir_status_t build(const weir__ast_t *ast, weir_diags_t *diags, weir_rules_t **out)
{
    weir_status_t st = WEIR_ENOMEM;
    builder_t b = {0};
    refs_t *refs = NULL;
    uint8_t *monotone = NULL;
    uint32_t *rule_map = NULL;
    weir_rules_t *r = calloc(1, sizeof *r);
    if (!r)
        return WEIR_ENOMEM;
    b.r = r;
    b.ast = ast;
    b.diags = diags;
    size_t nstrings = 0;
    for (size_t i = 0; i < ast->nrules; i++)
        nstrings += ast->rules[i].nstrings;
    r->rules = calloc(ast->nrules ? ast->nrules : 1, sizeof *r->rules);
    r->strings = calloc(nstrings ? nstrings : 1, sizeof *r->strings);
    refs = calloc(ast->nrules ? ast->nrules : 1, sizeof *refs);
    monotone = calloc(ast->nrules ? ast->nrules : 1, 1);
    rule_map = calloc(ast->nrules ? ast->nrules : 1, sizeof *rule_map);
    if (!r->rules || !r->strings || !refs || !monotone || !rule_map)
        goto fail;
    for (size_t i = 0; i < ast->nrules; i++)
        rule_map[i] = (uint32_t)i;

    int errors = 0;
    for (size_t i = 0; i < ast->nrules; i++) {
        const weir__ast_rule_t *ar = &ast->rules[i];
        weir__rule_t *ru = &r->rules[r->nrules++];
        if (copy_rule_info(&b, ar, ru, (uint32_t)i) != 0)
            goto fail;
        ru->first_string = r->nstrings;
        ru->nstrings = (uint32_t)ar->nstrings;
        ru->has_strings = ar->nstrings > 0;
        for (size_t k = 0; k < ar->nstrings; k++) {
            if (add_string(&b, &ar->strings[k], (uint32_t)i) != 0)
                errors++;
            if (b.oom)
                goto fail;
        }
        if (fixed_offsets(ar, &r->strings[ru->first_string]) != 0)
            goto fail;
        if (weir__cond_compile(&r->code, ar->cond, ru->first_string, rule_map, ast, diags,
                               &ru->entry) != 0) {
            errors++;
            continue;
        }
        if (collect_refs(ar->cond, &refs[i]) != 0)
            goto fail;
        monotone[i] = (uint8_t)weir__cond_monotone(ar->cond, monotone);
    }
    if (errors || weir__diag_errors(diags)) {
        st = WEIR_ECOMPILE;
        goto fail;
    }
    if (build_tables(r, refs, monotone) != 0)
        goto fail;
    uint32_t hist = 0;
    for (uint32_t i = 0; i < r->nstrings; i++)
        if (r->strings[i].max_len > hist)
            hist = r->strings[i].max_len;
    /* Room for the bytes around a match that fullword, \b and anchors read. */
    r->history = r->nvariants ? hist + 4 : 0;
    /* A match that cannot hold a newline starts on the line it ends on: only the strings
       whose matches can cross line ends need history beyond the current line. */
    uint32_t cross = 0;
    for (uint32_t i = 0; i < r->nstrings; i++)
        if (r->strings[i].nl && r->strings[i].max_len > cross)
            cross = r->strings[i].max_len;
    r->cross = cross ? cross + 4 : 0;
    if (stream_head(ast, r, diags) != 0) {
        st = WEIR_ECOMPILE;
        goto fail;
    }
    st = build_database(&b);
    if (st != WEIR_OK)
        goto fail;
    if (weir__rules_fingerprint(r) != 0) {
        st = WEIR_ENOMEM;
        goto fail;
    }
    *out = r;
    r = NULL;
fail:
    for (size_t i = 0; i < b.npats; i++)
        free(b.pats[i].text);
    free(b.pats);
    if (refs)
        for (size_t i = 0; i < ast->nrules; i++)
            free(refs[i].v);
    free(refs);
    free(monotone);
    free(rule_map);
    weir__rules_destroy(r);
    return st;
}

/* ---- entry points ------------------------------------------------------- */

/* Checks the declared external variables; fills vars[i] for the parser. */
static int check_vars(const weir_compile_options_t *o, weir__ast_var_t *vars, weir_diags_t *d)
{
    static const char where[] = "<external variables>";
    int errors = 0;
    for (size_t i = 0; i < o->nvars; i++) {
        const weir_var_t *v = &o->vars[i];
        const char *n = v->name ? v->name : "";
        size_t len = strlen(n);
        int ident = len > 0 && len <= 128 && !(n[0] >= '0' && n[0] <= '9');
        for (size_t k = 0; k < len && ident; k++)
            ident = (n[k] >= 'a' && n[k] <= 'z') || (n[k] >= 'A' && n[k] <= 'Z') ||
                    (n[k] >= '0' && n[k] <= '9') || n[k] == '_';
        if (!ident || weir__is_keyword(n)) {
            weir__diag_file(d, WEIR_SEV_ERROR, where,
                            "invalid external variable name \"%s\": an identifier that is not "
                            "a keyword is needed",
                            n);
            errors++;
            continue;
        }
        if (v->type != WEIR_VAR_INTEGER && v->type != WEIR_VAR_BOOLEAN &&
            v->type != WEIR_VAR_STRING) {
            weir__diag_file(d, WEIR_SEV_ERROR, where,
                            "external variable \"%s\" has an unknown type (%d)", n, (int)v->type);
            errors++;
            continue;
        }
        if (v->type == WEIR_VAR_STRING && v->string_len && !v->string) {
            weir__diag_file(d, WEIR_SEV_ERROR, where, "external variable \"%s\" has no string", n);
            errors++;
            continue;
        }
        for (size_t k = 0; k < i; k++) {
            if (o->vars[k].name && strcmp(o->vars[k].name, n) == 0) {
                weir__diag_file(d, WEIR_SEV_ERROR, where,
                                "external variable \"%s\" is defined more than once", n);
                errors++;
                break;
            }
        }
        vars[i].name = n;
        vars[i].kind = v->type == WEIR_VAR_STRING ? WEIR__VAR_STRING : WEIR__VAR_INT;
    }
    return errors;
}

/* Copies the declared variables and their defaults into r; -1 out of memory. */
static int keep_vars(weir_rules_t *r, const weir_compile_options_t *o)
{
    size_t n = o->nvars;
    if (!(r->vars = calloc(n ? n : 1, sizeof *r->vars)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const weir_var_t *v = &o->vars[i];
        weir_var_t *w = &r->vars[r->nvars++];
        w->type = v->type;
        w->integer = v->type == WEIR_VAR_BOOLEAN ? v->integer != 0 : v->integer;
        if (!(w->name = weir__strdup(v->name)))
            return -1;
        if (v->type == WEIR_VAR_STRING) {
            w->string_len = v->string_len;
            if (!(w->string = weir__strndup(v->string ? v->string : "", v->string_len)))
                return -1;
        }
    }
    return 0;
}

weir_status_t weir_compile(const weir_source_t *src, size_t n, const weir_compile_options_t *opts,
                           weir_rules_t **out, weir_diags_t **diags_out)
{
    static const weir_compile_options_t none = {NULL, 0};
    if (out)
        *out = NULL;
    if (diags_out)
        *diags_out = NULL;
    if (!src || !n || !out || (opts && opts->nvars && !opts->vars))
        return WEIR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!src[i].path && !src[i].text)
            return WEIR_EINVAL;
    if (!opts)
        opts = &none;
    weir__ast_t ast = {0};
    weir_status_t st = WEIR_OK;
    weir_diags_t *diags = weir__diags_new();
    weir__ast_var_t *vars = calloc(opts->nvars ? opts->nvars : 1, sizeof *vars);
    if (!diags || !vars) {
        weir_diags_free(diags);
        free(vars);
        return WEIR_ENOMEM;
    }
    if (check_vars(opts, vars, diags) == 0) {
        ast.vars = vars;
        ast.nvars = opts->nvars;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = src[i].path ? src[i].path : "<buffer>";
        char *text = NULL;
        size_t len = src[i].len;
        if (!src[i].text) {
            weir_status_t rs = weir__read_file(name, &text, &len);
            if (rs != WEIR_OK) {
                weir__diag_file(diags, WEIR_SEV_ERROR, name, "cannot read rules: %s",
                                rs == WEIR_EIO ? strerror(errno) : weir_strerror(rs));
                st = rs;
                continue;
            }
        }
        int rc = weir__parse(&ast, name, text ? text : src[i].text, len,
                             src[i].ns ? src[i].ns : "default", diags);
        free(text);
        if (rc < 0) {
            st = WEIR_ENOMEM;
            break;
        }
    }
    if (st == WEIR_OK && weir__diag_errors(diags) == 0)
        st = build(&ast, diags, out);
    else if (st == WEIR_OK)
        st = WEIR_ECOMPILE;
    if (st == WEIR_OK && keep_vars(*out, opts) != 0) {
        weir_rules_free(*out);
        *out = NULL;
        st = WEIR_ENOMEM;
    }
    weir__ast_free(&ast);
    free(vars);
    if (diags_out)
        *diags_out = diags;
    else
        weir_diags_free(diags);
    return st;
}

weir_status_t weir_compile_files(const char *const *paths, const char *const *ns, size_t n,
                                 weir_rules_t **out, weir_diags_t **diags)
{
    if (out)
        *out = NULL;
    if (diags)
        *diags = NULL;
    if (!paths || !n || !out)
        return WEIR_EINVAL;
    weir_source_t *src = calloc(n, sizeof *src);
    if (!src)
        return WEIR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!paths[i]) {
            free(src);
            return WEIR_EINVAL;
        }
        src[i].path = paths[i];
        src[i].ns = ns ? ns[i] : NULL;
    }
    weir_status_t st = weir_compile(src, n, NULL, out, diags);
    free(src);
    return st;
}

weir_status_t weir_compile_buffer(const void *text, size_t len, const char *name, const char *ns,
                                  weir_rules_t **out, weir_diags_t **diags)
{
    if (out)
        *out = NULL;
    if (diags)
        *diags = NULL;
    if (!text || !out)
        return WEIR_EINVAL;
    weir_source_t src = {name ? name : "<buffer>", text, len, ns};
    return weir_compile(&src, 1, NULL, out, diags);
}

size_t weir_rules_var_count(const weir_rules_t *rules)
{
    return rules ? rules->nvars : 0;
}

const weir_var_t *weir_rules_var(const weir_rules_t *rules, size_t i)
{
    return rules && i < rules->nvars ? &rules->vars[i] : NULL;
}
