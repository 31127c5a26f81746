/*
 * textops.h - YARA's operators on string values (external string variables and text literals
 * in conditions): comparisons, contains, startswith, endswith, their case-insensitive forms,
 * iequals, and matches.  Semantics are YARA 4.2.3's (libyara/sizedstr.c and exec.c):
 * bytes compare as signed chars; the case-insensitive forms fold ASCII letters only; an empty
 * needle is contained in, starts and ends every string; `matches` is never true of an empty
 * string and looks for a match starting at some byte of the string (so /$/ never matches).
 */
#ifndef WEIR_TEXTOPS_H
#define WEIR_TEXTOPS_H

#include "re.h"

#include <stddef.h>
#include <stdint.h>

/* The operators (weir__instr_t.x of OP_SOP). */
enum {
    WEIR__SOP_LT = 0, /* the six comparisons, in the order of OP_LT..OP_NE */
    WEIR__SOP_LE,
    WEIR__SOP_GT,
    WEIR__SOP_GE,
    WEIR__SOP_EQ,
    WEIR__SOP_NE,
    WEIR__SOP_CONTAINS,
    WEIR__SOP_ICONTAINS,
    WEIR__SOP_STARTSWITH,
    WEIR__SOP_ISTARTSWITH,
    WEIR__SOP_ENDSWITH,
    WEIR__SOP_IENDSWITH,
    WEIR__SOP_IEQUALS,
    WEIR__SOP_TRUTHY,  /* a string as a boolean: not empty (one operand) */
    WEIR__SOP_MATCHES, /* against a regular expression (one string operand) */
    WEIR__SOP_LAST
};

/* YARA's sized_string compare: <0, 0 or >0; signed bytes, a proper prefix first. */
int weir__text_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn);

/* a OP b for WEIR__SOP_LT..WEIR__SOP_IEQUALS and WEIR__SOP_TRUTHY (b ignored): 0 or 1. */
int weir__text_op(int op, const uint8_t *a, size_t an, const uint8_t *b, size_t bn);

/* 1 when re matches s[0..n) somewhere, as YARA's `matches`; 0 otherwise (also on OOM). */
int weir__text_matches(const weir__re_t *re, const uint8_t *s, size_t n);

#endif /* WEIR_TEXTOPS_H */
