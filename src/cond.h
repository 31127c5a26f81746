/*
 * cond.h - YARA conditions: compiled to flat, pointer-free stack-machine code,
 * evaluated against a stream's current matches, and classified as monotone
 * (safe to fire live) or not.  Semantics are YARA 4.2.3's, quirks included;
 * docs/semantics notes in cond.c say where they surprise.
 */
#ifndef WEIR_COND_H
#define WEIR_COND_H

#include "ast.h"
#include "re.h"
#include "weir.h"

#include <stddef.h>
#include <stdint.h>

/* YARA's maximum nesting of `for` loops (YR_MAX_LOOP_NESTING), both kinds counted. */
#define WEIR__MAX_LOOP_NESTING 4

/* Default evaluation budget, in executed instructions. */
#define WEIR__DEFAULT_MAX_STEPS 10000000u

/* The most value-stack slots one condition may need (YARA's default stack size). */
#define WEIR__MAX_STACK 16384u

/*
 * One instruction: 16 bytes, no pointers, so a code array can be saved and
 * loaded with memcpy (on the same platform).  Jumps are relative (imm), so
 * code is position independent.  Field use depends on op; see cond.c.
 */
typedef struct weir__instr {
    uint8_t op;
    uint8_t x;   /* loop depth */
    uint16_t y;  /* loop-variable slot */
    uint32_t a;  /* string / rule index, element count */
    int64_t imm; /* immediate value, or relative jump */
} weir__instr_t;

/* All rules' code, in one array; each rule has an entry index into v. */
typedef struct weir__code {
    weir__instr_t *v;
    size_t n, cap;
    /* Text literals compared with string variables: each a 4-byte length (host order) then
       its bytes; OP_SREF names one by its offset. */
    uint8_t *pool;
    size_t pool_len, pool_cap;
    /* The regular expressions after `matches`, by OP_SOP's a. */
    weir__re_t **res;
    uint32_t nres;
    size_t res_cap;
} weir__code_t;

/* The value of an external variable during an evaluation. */
typedef struct weir__varval {
    int64_t i;        /* integer and boolean variables */
    const uint8_t *s; /* string variables: s[0..len) */
    size_t len;
} weir__varval_t;

/*
 * Appends the code of condition e to code and returns its entry index via
 * *entry.  str_base: global index of the rule's first string (string refs in
 * the AST are rule-local).  rule_map[i]: global index of AST rule i (for
 * WEIR__E_RULE).  Errors (types, loop nesting beyond YARA's limit of 4, nested
 * `for ... of`, anonymous strings outside `for ... of`, misplaced text) are
 * added to diags (may be NULL) at the node's place in ast.  On error code is
 * left as it was.  Returns 0, or -1 (error or out of memory).
 */
int weir__cond_compile(weir__code_t *code, const weir__expr_t *e, uint32_t str_base,
                       const uint32_t *rule_map, const weir__ast_t *ast, weir_diags_t *diags,
                       uint32_t *entry);

/* Frees code's array and zeroes it; tolerates a zeroed or half-built code. */
void weir__code_free(weir__code_t *code);

/*
 * Checks code loaded from outside (a compiled-rules file) before it is ever
 * evaluated: every opcode known, every jump and element run inside the array,
 * string indices < nstrings, rule indices < nrules, variable indices < nvars
 * and of the type used (strings where a string is used), literals inside the
 * pool, regex indices < nres, depths and slots within limits.  Returns 0 when well formed, -1
 * otherwise.  (The evaluator also guards its stack and loop frames, so a check failure here is
 * never needed for memory safety inside the stack machine itself, only for the indices into the
 * caller's arrays.)
 */
int weir__code_check(const weir__code_t *code, uint32_t nstrings, uint32_t nrules,
                     const weir_var_t *vars, uint32_t nvars);

/* 1 if entry is the start of a compiled condition in code. */
int weir__code_is_entry(const weir__code_t *code, uint32_t entry);

/* One match of a string: offset in the stream and length. */
typedef struct weir__match {
    uint64_t off;
    uint32_t len;
    uint32_t trace; /* used by the scanner; ignored here */
} weir__match_t;

/* A string's matches, sorted by off, at most one per off. */
typedef struct weir__mlist {
    weir__match_t *v;
    uint32_t n, cap;
} weir__mlist_t;

typedef struct weir__evalctx {
    uint64_t filesize;
    const weir__mlist_t *strings; /* indexed by global string index */
    const uint8_t *rule_true;     /* indexed by global rule index: rules evaluated earlier */
    uint64_t max_steps;           /* budget; 0 = WEIR__DEFAULT_MAX_STEPS */
    const uint8_t *head;          /* the stream's first head_len bytes, for integer reads */
    uint64_t head_len;            /* reads beyond min(head_len, filesize) are undefined */
    const weir__varval_t *vars;   /* external variables' values, nvars of them (NULL: none; */
    uint32_t nvars;               /*  integers are then undefined and strings empty)        */
} weir__evalctx_t;

/*
 * Evaluates the condition at entry.  Returns 1 if it is true, 0 otherwise.
 * When the budget is exhausted (or the code is malformed) the result is 0 and
 * *out_of_steps (may be NULL) is set to 1; otherwise it is set to 0.
 * Thread safe: keeps no state outside its own frame.
 */
int weir__cond_eval(const weir__code_t *code, uint32_t entry, const weir__evalctx_t *ctx,
                    int *out_of_steps);

/*
 * 1 if e is provably monotone: once true it stays true as bytes are appended
 * (match lists only grow, filesize only grows).  Conservative: 0 when unsure.
 * rule_monotone[i] tells whether AST rule i (an earlier rule) is monotone.
 * Assumes evaluation stays within its step budget, filesize and offsets below
 * 2^62, and that the scanner never removes or moves a reported match.
 */
int weir__cond_monotone(const weir__expr_t *e, const uint8_t *rule_monotone);

/*
 * Calls fn for each global string index referenced by e (duplicates allowed):
 * direct references and every member of a string set.  Anonymous references
 * ($, #, @, ! inside `for ... of`) are covered by their loop's set.  Indices
 * at or beyond nstrings_in_rule are skipped.
 */
void weir__cond_strings(const weir__expr_t *e, uint32_t str_base, uint32_t nstrings_in_rule,
                        void (*fn)(uint32_t gstr, void *u), void *u);

/*
 * The head of a stream (its first bytes) that e's integer reads need: need is the largest
 * constant offset + size (with need_at, the read asking for it); unknown is set (with
 * unknown_at, the first such read) when an offset is not a constant.  Accumulates into *h,
 * which the caller zeroes before the first rule.
 */
typedef struct weir__cond_head {
    uint64_t need;
    int unknown;
    weir__loc_t need_at, unknown_at;
} weir__cond_head_t;
void weir__cond_head(const weir__expr_t *e, weir__cond_head_t *h);

#endif /* WEIR_COND_H */
