/*
 * rules.h - compiled rules: what the compiler produces, the loader reads back
 * and every scanner shares.  Immutable once built.
 */
#ifndef WEIR_RULES_H
#define WEIR_RULES_H

#include "cond.h"
#include "re.h"
#include "weir.h"

#include <hs.h>
#include <stdint.h>

/*
 * How a Vectorscan report (pattern, end offset e) becomes a YARA match.
 *  FIXED: every match has length len, so it starts at e - len; Vectorscan's
 *         pattern is exact.  Only fullword and the ascii-before-wide rule need
 *         a look at neighbouring bytes.
 *  VM:    variable length or context-dependent: the starts come from the
 *         backward matcher, the lengths from the forward matcher (re.h).
 */
typedef enum weir__vkind { WEIR__V_FIXED = 0, WEIR__V_VM = 1 } weir__vkind_t;

/* One Vectorscan pattern: the ascii or the wide form of a string. */
typedef struct weir__variant {
    uint32_t string;   /* global string index */
    uint8_t kind;      /* weir__vkind_t */
    uint8_t wide;      /* the wide form */
    uint8_t lookahead; /* bytes after the match end needed to decide it */
    uint8_t piece;     /* a chained string's piece (0: the head, or not chained) */
    uint32_t len;      /* FIXED: match length */
    uint32_t limit;    /* VM: longest match */
    weir__re_t *re;    /* VM program (NULL for FIXED) */
} weir__variant_t;

/* A rule's string. */
typedef struct weir__string {
    char *id;      /* "$a" */
    uint32_t rule; /* global rule index */
    uint32_t mods; /* WEIR__MOD_* */
    uint32_t kind; /* weir__str_kind_t */
    uint32_t first_variant, nvariants;
    uint8_t *text; /* literal strings: the bytes (ascii form) */
    uint32_t text_len;
    uint32_t max_len;       /* longest possible match */
    uint8_t literal;        /* a fixed byte string (YARA's STRING_FLAGS_LITERAL) */
    uint8_t fits;           /* YARA's FITS_IN_ATOM: its ascii and wide forms are
                               checked independently */
    uint8_t has_fixed;      /* YARA's FIXED_OFFSET: every reference is `at` one
                               constant, so only a match there counts */
    uint8_t xor_lo, xor_hi; /* the xor key range (WEIR__MOD_XOR) */
    uint32_t atom_at;       /* text strings: where YARA's atom starts in the text */
    int64_t fixed;
    /* YARA's chained strings (a hex jump or lazy .{n,m}? over 200 between pieces): npieces
       (0 when not chained); the gap before piece k is gaps[chain + k - 1], and a stream keeps
       the unconfirmed matches of piece k (k < npieces - 1) in its chain list chain + k. */
    uint32_t npieces;
    uint32_t chain;
    uint8_t nl; /* a match may hold a '\n' (so span lines) */
} weir__string_t;

/* The gap allowed between the end of a piece's match and the start of the next piece's. */
typedef struct weir__gap {
    uint32_t min, max; /* max: WEIR__RE_UNBOUNDED for none */
} weir__gap_t;

/* A rule. */
typedef struct weir__rule {
    weir_rule_info_t info; /* public view; owns its strings */
    char **tags;           /* owned; info.tags points here */
    weir_meta_t *meta;     /* owned; info.meta points here */
    uint32_t first_string, nstrings;
    uint32_t entry;    /* condition entry in code */
    uint32_t ns_index; /* namespace number */
    uint8_t is_global;
    uint8_t live;        /* may fire before close */
    uint8_t has_strings; /* condition references any string */
} weir__rule_t;

struct weir_rules {
    weir__rule_t *rules;
    uint32_t nrules;
    weir__string_t *strings;
    uint32_t nstrings;
    weir__variant_t *variants; /* indexed by Vectorscan pattern id */
    uint32_t nvariants;
    weir__code_t code;
    hs_database_t *db; /* NULL when no rule has strings */
    uint32_t history;  /* most bytes of history a stream keeps */
    uint32_t cross;    /* history kept whatever the lines: for strings whose matches can span
                          lines (0: none can; a stream keeps its current line, and 4 bytes
                          before it) */
    weir__gap_t *gaps; /* chained strings (weir__string_t.chain) */
    uint32_t ngaps;
    uint32_t head; /* first bytes a stream keeps for integer reads */

    /* rule -> later rules to re-evaluate when it becomes true (they reference
       it, or it is global in their namespace): deps[dep_at[r] .. dep_at[r+1]) */
    uint32_t *dep_at, *deps;
    /* live rules without strings: evaluated at every evaluation point */
    uint32_t *always;
    uint32_t nalways;
    uint32_t nns;
    char **ns_names;

    /* names these rules in stream snapshots: the checksum of their serialized form (set by
       the compiler and the loader) */
    uint64_t fingerprint;

    /* external variables with their defaults (names and strings owned) */
    weir_var_t *vars;
    uint32_t nvars;
};

/* Sets r->fingerprint from r's serialized form (rules_io.c); -1 out of memory. */
int weir__rules_fingerprint(weir_rules_t *r);

/* Frees everything a weir_rules_t holds; tolerates a half-built one. */
void weir__rules_destroy(weir_rules_t *r);

#endif /* WEIR_RULES_H */
