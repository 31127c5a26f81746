/*
 * re.h - YARA regular expressions and hex strings: parsing (YARA 4.2 dialect) into a small IR,
 * Vectorscan pattern text, and an exact matcher that reproduces YARA's match lengths.
 *
 * How the scanner uses it: Vectorscan (streaming) reports end offsets; weir__re_backward finds
 * every start p of a match ending there, weir__re_forward gives YARA's length from p.  YARA
 * never reports empty matches; the matcher may return a zero length, which callers drop.
 *
 * Thread safety: a weir__re_t is immutable after parsing; every function taking a const
 * weir__re_t may be called from many threads at once (the matcher allocates its own state).
 */
#ifndef WEIR_RE_H
#define WEIR_RE_H

#include <stddef.h>
#include <stdint.h>

typedef struct weir__re weir__re_t;

#define WEIR__RE_UNBOUNDED UINT32_MAX

/* YARA's limits (libyara/include/yara/limits.h, 4.2). */
#define WEIR__RE_SCAN_LIMIT 4096u        /* bytes a YARA regex match can span (RE_SCAN_LIMIT) */
#define WEIR__RE_MAX_RANGE 32767u        /* largest {n,m} bound (RE_MAX_RANGE = INT16_MAX) */
#define WEIR__RE_CHAINING_THRESHOLD 200u /* hex jumps above this are chained by YARA */

/*
 * Parse a YARA regex (the text between the slashes, verbatim; flags WEIR__RE_NOCASE |
 * WEIR__RE_DOTALL from ast.h) or a hex string (text between the braces, verbatim; may contain
 * newlines and comments).  Returns 0 and *out, or -1 with a YARA-style message in err[errlen]
 * and the byte offset of the problem within src in *err_off (*out is then NULL).
 * Hex strings also accept YARA 4.3's "~" negation (~4D, ~4?, ~?D), which YARA 4.2 rejects.
 */
int weir__re_parse_regex(const uint8_t *src, size_t len, uint32_t flags, weir__re_t **out,
                         char *err, size_t errlen, size_t *err_off);
int weir__re_parse_hex(const uint8_t *src, size_t len, weir__re_t **out, char *err, size_t errlen,
                       size_t *err_off);

/* A literal byte string as an re (nocase: ASCII letters match both cases).  NULL on OOM. */
weir__re_t *weir__re_literal(const uint8_t *s, size_t len, int nocase);

/*
 * YARA's "wide" modifier: every byte-matching item is followed by \x00; \b and \B then compare
 * two-byte characters (a word character is [A-Za-z0-9_] followed by \x00), ^ and $ keep their
 * meaning.  Returns a new re, NULL on OOM.
 */
weir__re_t *weir__re_widen(const weir__re_t *re);

/* Frees re; NULL is a no-op. */
void weir__re_free(weir__re_t *re);

/* Shortest and longest match length in bytes (longest: WEIR__RE_UNBOUNDED when unbounded). */
uint32_t weir__re_min_len(const weir__re_t *re);
uint32_t weir__re_max_len(const weir__re_t *re);
/* Longest match YARA can report: min(max_len, WEIR__RE_SCAN_LIMIT). */
uint32_t weir__re_limit(const weir__re_t *re);
/* 1 if a match may depend on bytes just before its start or after its end (\b \B ^ $). */
int weir__re_needs_context(const weir__re_t *re);
/* 1 and the bytes (owned by re) if re is a plain case-sensitive fixed byte string. */
int weir__re_as_literal(const weir__re_t *re, const uint8_t **bytes, size_t *len);
/* 1 if re was a hex string (hex jumps are lazy; no "greedy regexp" replacement in YARA). */
int weir__re_is_hex(const weir__re_t *re);
/*
 * 1 if YARA would split this hex string into chained pieces (a top-level jump whose bounds
 * exceed WEIR__RE_CHAINING_THRESHOLD).  The matcher treats such a jump as one lazy gap, which
 * finds the same start offsets; YARA's reported length for chained strings may differ.
 */
int weir__re_has_chaining(const weir__re_t *re);

/*
 * Vectorscan pattern text (malloc'd, NUL-terminated) and the HS_FLAG_* it needs.  The pattern
 * reports every end offset of every match YARA could report (and possibly more: \b, \B and
 * anchors other than a leading ^ are dropped, since YARA's edge rules differ from PCRE's).
 * NULL on OOM.
 */
char *weir__re_to_hs(const weir__re_t *re, unsigned *hs_flags);

/*
 * The exact matcher.  buf[0..len) is a window of the stream; buf[0] is at absolute stream
 * offset base (^ matches where base + i == 0).  at_end != 0: the stream ends at buf[len].
 * A byte before buf[0] that a \b at the window start would need is taken as a non-word byte.
 */
enum { WEIR__RE_NOMATCH = 0, WEIR__RE_MATCH = 1, WEIR__RE_MORE = 2 };

/*
 * YARA's match starting exactly at buf[start]: its length by YARA's priorities (greedy/lazy,
 * alternation order), at most weir__re_limit(re) bytes.  WEIR__RE_MORE when the answer could
 * still change with bytes after buf[len) (only when !at_end).  *match_len set on MATCH.
 */
int weir__re_forward(const weir__re_t *re, const uint8_t *buf, size_t len, size_t start,
                     uint64_t base, int at_end, uint32_t *match_len);

/*
 * Every start p, end - limit <= p <= end, such that buf[p..end) matches re.  cb(p, user) once
 * per p, in decreasing order of p; a non-zero return from cb stops.  Assertions whose context
 * is not in the window (\b or $ at buf[len] when !at_end) are taken as true, so the result is a
 * superset then: confirm with weir__re_forward.  Returns 0, the value cb returned, or -1 on OOM.
 */
int weir__re_backward(const weir__re_t *re, const uint8_t *buf, size_t len, size_t end,
                      uint64_t base, int at_end, int (*cb)(size_t p, void *user), void *user);

/* Serialization: append to a growable buffer (0, or -1 on OOM) / read back with bounds checks
   (-1 on a corrupt or truncated buffer; *pos advanced past the re on success). */
int weir__re_serialize(const weir__re_t *re, uint8_t **buf, size_t *len, size_t *cap);
int weir__re_deserialize(const uint8_t *buf, size_t len, size_t *pos, weir__re_t **out);

#endif /* WEIR_RE_H */
