/*
 * re.h - YARA regular expressions and hex strings: parsing (YARA 4.2 dialect) into a small IR,
 * Vectorscan pattern text, and an exact matcher that reproduces YARA's match lengths.
 *
 * How the scanner uses it: Vectorscan (streaming) reports end offsets; weir__re_backward finds
 * every start p of a match ending there, weir__re_forward gives YARA's length from p (or says
 * YARA reports nothing at p).  YARA never reports empty matches; the matcher may return a zero
 * length, which callers drop.
 *
 * YARA's semantics are those of its atoms (re_atoms.c replays libyara/atoms.c 4.2): YARA picks
 * one literal of up to 4 bytes per alternative, and at each occurrence i of an atom (in the
 * order its Aho-Corasick automaton reports them: by end offset, longer atoms first) runs the
 * code from the atom forwards (one length f, by priority) and the code before it backwards,
 * exhaustively (every start p); (p, i - p + f) is kept unless p already has a match, which a
 * regex with a greedy quantifier replaces.  So an alternative whose atom ends first wins
 * (/a|[^a]c./ on "Ac." is 0:1), an optional item at the start of the regex or of the atom's
 * code becomes mandatory (/b?[ab]{2}/ finds "bab", never "ab"), and each part may span
 * WEIR__RE_SCAN_LIMIT bytes (a match up to twice that).
 *
 * Strings YARA chains (a jump or lazy .{n,m}? over 200) are split by the compiler and each piece
 * is a regex of its own (weir__re_split).  Known gaps: (1) see docs/semantics.md, "Known
 * differences" (hex strings with a ?? next to a jump; wide ascii with \b).  (2) Among atoms
 * with the same bytes ending at the same offset, YARA's order also depends on the case
 * variants generated for nocase strings; weir uses the order of plain strings.  (3) YARA's
 * fiber limit (1024) aborts a scan with an error; weir matches on.  (4) Atom quality follows
 * libyara 4.x's heuristic; a custom atom quality table (yara -a) is not modelled.
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
#define WEIR__RE_MAX_SPLITS 128u /* split instructions in one regex's code (RE_MAX_SPLIT_ID) */

/*
 * Parse a YARA regex (the text between the slashes, verbatim; flags WEIR__RE_NOCASE |
 * WEIR__RE_DOTALL from ast.h, and WEIR__RE_CONDITION for the regex of a `matches`, where YARA
 * allows greedy and lazy quantifiers together and never chains) or a hex string (text between the
 * braces, verbatim; may contain newlines and comments).  Returns 0 and *out, or -1 with a
 * YARA-style message in err[errlen] and the byte offset of the problem within src in *err_off (*out
 * is then NULL). Hex strings also accept YARA 4.3's "~" negation (~4D, ~4?, ~?D), which YARA 4.2
 * rejects.
 */
#define WEIR__RE_CONDITION 0x100u
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
/* Longest match YARA can report: min(max_len, longest backward part + WEIR__RE_SCAN_LIMIT),
   the backward part (before the atom) being capped at WEIR__RE_SCAN_LIMIT too. */
uint32_t weir__re_limit(const weir__re_t *re);
/* 1 if some match of re may contain byte c (a conservative answer: 1 when unsure). */
int weir__re_can_hold(const weir__re_t *re, uint8_t c);
/* 1 if a match may depend on bytes just before its start or after its end (\b \B ^ $). */
int weir__re_needs_context(const weir__re_t *re);
/* 1 and the bytes (owned by re) if re is a plain case-sensitive fixed byte string. */
int weir__re_as_literal(const weir__re_t *re, const uint8_t **bytes, size_t *len);
/* Where YARA's atom of a literal string s[0..n) starts (its best 4-byte window by YARA's
   atom quality; 0 when n <= 4). */
uint32_t weir__re_literal_atom(const uint8_t *s, size_t n);
/* 1 if re was a hex string (hex jumps are lazy; no "greedy regexp" replacement in YARA). */
int weir__re_is_hex(const weir__re_t *re);
/*
 * 1 if YARA would split this string into chained pieces (a top-level jump, or a lazy .{n,m}?,
 * whose bounds exceed WEIR__RE_CHAINING_THRESHOLD): the compiler then matches the pieces
 * (weir__re_split) and the scanner links them (match.c).
 */
int weir__re_has_chaining(const weir__re_t *re);
/*
 * YARA's chain: the pieces between the top-level jumps where it splits re (see
 * weir__re_has_chaining), each a regex of its own, and the gap allowed between the end of piece
 * i and the start of piece i + 1 in gap_min[i]..gap_max[i] (WEIR__RE_UNBOUNDED for no limit).
 * At most cap pieces.  Returns 0 and *n >= 2, -2 when re has more than cap pieces, or -1 (no
 * chain, out of memory).
 */
int weir__re_split(const weir__re_t *re, weir__re_t **pieces, uint32_t *gap_min, uint32_t *gap_max,
                   uint32_t cap, uint32_t *n);
/* 1 when weir__re_to_hs's pattern matches exactly what re matches (no loosened repeat, no
   dropped assertion), so Vectorscan's report needs no check. */
int weir__re_hs_exact(const weir__re_t *re);

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
 * YARA's match starting exactly at buf[start], by the atom model above: NOMATCH when YARA
 * reports nothing there, else its length (at most weir__re_limit(re) bytes).  It reads at most
 * weir__re_limit(re) bytes after start, plus two for \b and $.  WEIR__RE_MORE when the answer
 * could still change with bytes after buf[len) (only when !at_end).  *match_len set on MATCH.
 */
int weir__re_forward(const weir__re_t *re, const uint8_t *buf, size_t len, size_t start,
                     uint64_t base, int at_end, uint32_t *match_len);
/* The same, keeping only candidates accept(len, user) takes (YARA checks "fullword" on each
   candidate before recording it, so a rejected one leaves the start to a later one).  accept
   returns 1 to keep, 0 to reject, -1 when it needs bytes after buf[len). */
typedef struct weir__re_memo weir__re_memo_t;
int weir__re_forward_if(const weir__re_t *re, const uint8_t *buf, size_t len, size_t start,
                        uint64_t base, int at_end, int (*accept)(uint32_t len, void *user),
                        void *user, weir__re_memo_t *memo, uint32_t *match_len);

/*
 * A memo of atom occurrences for weir__re_forward_if (may be NULL): the forward length and the
 * starts reached backwards from each occurrence, keyed by regex, atom and absolute offset, so
 * that deciding many starts of one window costs one run per occurrence, as in YARA.  Valid only
 * while the bytes at those offsets stay the same (one stream): clear it between streams.
 */
weir__re_memo_t *weir__re_memo_new(void);
void weir__re_memo_clear(weir__re_memo_t *m);
void weir__re_memo_free(weir__re_memo_t *m);

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
