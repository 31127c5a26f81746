/*
 * cond_int.h - what the condition compiler/evaluator (cond.c) and the analyses
 * over condition trees (cond_analysis.c) share: YARA's UNDEFINED, opcodes, and
 * a few helpers on trees and integers.  Internal to those two files.
 */
#ifndef WEIR_COND_INT_H
#define WEIR_COND_INT_H

#include "cond.h"

/* YARA's UNDEFINED: 0xFFFABADAFABADAFF as a signed 64-bit integer. */
#define UNDEF ((int64_t)-0x0005452505452501LL)
#define IS_UNDEF(v) ((v) == UNDEF)
#define TRUTHY(v) (!IS_UNDEF(v) && (v) != 0)

/* The string of the enclosing `for ... of` loop. */
#define ANON_STR UINT32_MAX

/* How deep a condition tree may nest before we refuse it (bounds C recursion). */
#define MAX_TREE_DEPTH 2000

/*
 * Opcodes.  Fields: x = loop depth, y = loop-variable slot, a = string index
 * (ANON_STR for the string of the enclosing `for ... of`), rule index or
 * element count, imm = immediate or relative jump.
 *   ENTER imm=stack slots needed (first instruction of a condition); HALT pops
 *   the result.  PUSH imm; FILESIZE; RULE a; VAR y.
 *   FOUND, COUNT a; COUNT_IN, IN a pop hi, lo; OFFSET, LENGTH a pop a 1-based
 *   index; AT a pops an offset.  NOT, NEG, BITNOT, TOBOOL work on the top.
 *   JFALSE/JTRUE imm: pop; if falsy push 0 / if truthy push it back; jump.
 *   LT..BXOR pop b, a and push a OP b.
 *   OF a=n, then n STR (data, a = string): pops the quantifier.
 *   LOOP_RANGE x y pops quantifier, hi, lo; LOOP_ENUM x y a=n pops the
 *   quantifier and keeps n items below it; LOOP_STRS x a=n, then n STR, pops
 *   the quantifier.  LOOP_NEXT x imm: to LOOP_END when exhausted.  LOOP_STEP x
 *   imm: pops the body's value, back to LOOP_NEXT unless done.  LOOP_END x
 *   pushes the loop's result.
 *   EXT a: pushes integer variable a.  SREF imm=-1 a: pushes the handle of
 *   string variable a (a); SREF imm>=0: of the pool literal at offset imm
 *   (-1 - imm).  SOP imm=WEIR__SOP_*: pops b (not for TRUTHY, MATCHES), a and
 *   pushes a OP b; MATCHES uses regex a of the code.
 *   OFR a=n imm=percent, then n RMEM (data, a = rule, UINT32_MAX: never true):
 *   pops the quantifier, as OF over rules.
 */
/* clang-format off */
enum {
    OP_ENTER = 1, OP_HALT, OP_PUSH, OP_FILESIZE, OP_RULE, OP_VAR,
    OP_FOUND, OP_COUNT, OP_COUNT_IN, OP_OFFSET, OP_LENGTH, OP_AT, OP_IN,
    OP_NOT, OP_NEG, OP_BITNOT, OP_TOBOOL, OP_JFALSE, OP_JTRUE,
    OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_SHL, OP_SHR, OP_BAND, OP_BOR, OP_BXOR,
    OP_OF, OP_STR,
    OP_LOOP_RANGE, OP_LOOP_ENUM, OP_LOOP_STRS, OP_LOOP_NEXT, OP_LOOP_STEP, OP_LOOP_END,
    OP_READ, OP_DEFINED,
    OP_EXT, OP_SREF, OP_SOP, OP_OFR, OP_RMEM,
    OP_LAST
};
/* clang-format on */

typedef enum { K_BOOL, K_INT, K_TEXT } kind_t;

#define kind_of weir__cond_kind_of
#define fold weir__cond_fold
#define arith weir__cond_arith
#define is_binop weir__cond_is_binop

/* The type of e's value (YARA's: boolean, integer or string). */
kind_t kind_of(const weir__expr_t *e);
/* 1 when e is a constant for YARA's parser, its value in *v. */
int fold(const weir__expr_t *e, int64_t *v);
/* a OP b for OP_LT..OP_BXOR, with YARA's results (UNDEF in, UNDEF out). */
int64_t arith(int op, int64_t a, int64_t b);
/* 1 for the binary operators WEIR__E_AND..WEIR__E_BXOR. */
int is_binop(weir__op_t op);

#endif /* WEIR_COND_INT_H */
