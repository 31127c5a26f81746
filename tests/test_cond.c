/*
 * test_cond.c - conditions: evaluation of every operator and quantifier with
 * YARA 4.2.3's quirks, compile errors, the step budget, monotone
 * classification (examples and a randomized soundness check), and a
 * differential test of random conditions against the `yara` command.
 */
#define _POSIX_C_SOURCE 200809L

#include "cond.h"
#include "diag.h"
#include "test.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_cond_build.h"

/* ---- operators -------------------------------------------------------------- */

TEST(arithmetic)
{
    ctx_sample();
    ASSERT_INT_EQ(
        ev(EQ(BIN(WEIR__E_ADD, I(INT64_MAX), CNT(2)), BIN(WEIR__E_SUB, I(INT64_MIN), I(-3)))), 1);
    weir__expr_t *m1 = BIN(WEIR__E_SUB, CNT(1), I(1)); /* -1, not a constant */
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_MUL, I(INT64_MIN), m1), I(INT64_MIN))), 1);
    ASSERT_INT_EQ(ev(EQ(UN(WEIR__E_NEG, I(INT64_MIN)), I(INT64_MIN))), 1);
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_DIV, I(-7), I(2)), I(-3))), 1);
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_MOD, I(-7), I(2)), I(-1))), 1);
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_MOD, I(7), I(-2)), I(1))), 1);
    ASSERT(undef(BIN(WEIR__E_DIV, I(5), CNT(1))));
    ASSERT(undef(BIN(WEIR__E_MOD, I(5), CNT(1))));
    ASSERT(undef(BIN(WEIR__E_DIV, I(INT64_MIN), m1))); /* YARA 4.2.3 dies of SIGFPE */
    ASSERT(undef(BIN(WEIR__E_MOD, I(INT64_MIN), m1)));
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_SHL, I(1), I(63)), I(INT64_MIN))), 1);
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_SHL, I(1), I(64)), I(0))), 1);
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_SHR, I(-8), I(1)), I(-4))), 1);
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_SHR, I(-8), I(64)), I(0))), 1);
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_SHR, I(-8), I(100)), I(0))), 1);
    ASSERT(undef(BIN(WEIR__E_SHL, I(1), m1)));
    ASSERT(undef(BIN(WEIR__E_SHR, I(1), m1)));
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_BAND, I(3), I(5)), I(1))), 1);
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_BOR, I(3), I(5)), I(7))), 1);
    ASSERT_INT_EQ(ev(EQ(BIN(WEIR__E_BXOR, I(3), I(5)), I(6))), 1);
    ASSERT_INT_EQ(ev(EQ(UN(WEIR__E_BITNOT, I(0)), I(-1))), 1);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_LT, I(-1), I(0))), 1);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_LE, I(0), I(0))), 1);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_GT, I(0), I(0))), 0);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_GE, I(0), I(1))), 0);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_NE, I(0), I(1))), 1);
    ASSERT_INT_EQ(ev(EQ(FS(), I(10))), 1);
    /* YARA's UNDEFINED is a value: computing it at run time makes it undefined. */
    ASSERT(undef(BIN(WEIR__E_SUB, CNT(1), I(-UNDEF_V))));
    ASSERT(!undef(BIN(WEIR__E_SUB, CNT(1), I(-UNDEF_V - 1))));
    free_all();
}

TEST(undefined)
{
    ctx_sample();
    weir__expr_t *u = EQ(OFF(0, I(9)), I(1)); /* @a[9] == 1: undefined */
    ASSERT_INT_EQ(tri(u), 2);
    ASSERT_INT_EQ(tri(NOT(u)), 2); /* not undefined is undefined */
    ASSERT_INT_EQ(ev(NOT(NOT(u))), 0);
    /* and/or see undefined as false and always give 0 or 1 (YARA 4.2.3) */
    ASSERT_INT_EQ(tri(AND(u, B(1))), 0);
    ASSERT_INT_EQ(tri(AND(B(1), u)), 0);
    ASSERT_INT_EQ(tri(AND(u, u)), 0);
    ASSERT_INT_EQ(tri(OR(u, B(0))), 0);
    ASSERT_INT_EQ(tri(OR(B(0), u)), 0);
    ASSERT_INT_EQ(tri(OR(u, B(1))), 1);
    ASSERT_INT_EQ(tri(OR(u, u)), 0);
    /* integers as booleans: defined and non-zero */
    ASSERT_INT_EQ(tri(CNT(0)), 1);
    ASSERT_INT_EQ(tri(CNT(1)), 0);
    ASSERT_INT_EQ(tri(OFF(0, I(9))), 2);
    ASSERT_INT_EQ(tri(UN(WEIR__E_BITNOT, CNT(1))), 1);
    ASSERT_INT_EQ(ev(AND(CNT(0), B(1))), 1);
    /* comparisons and arithmetic propagate it */
    ASSERT(undef(BIN(WEIR__E_ADD, OFF(0, I(9)), I(1))));
    ASSERT(undef(UN(WEIR__E_NEG, OFF(0, I(9)))));
    ASSERT_INT_EQ(tri(BIN(WEIR__E_LT, OFF(0, I(9)), I(1))), 2);
    /* string accessors: 1-based; 0, negative, too large, undefined: undefined */
    ASSERT(undef(OFF(0, I(0))));
    ASSERT(undef(OFF(0, I(-1))));
    ASSERT(undef(OFF(0, I(3))));
    ASSERT(undef(LEN(0, I(0))));
    ASSERT(undef(LEN(0, I(3))));
    ASSERT(undef(OFF(0, OFF(0, I(9)))));
    ASSERT(undef(OFF(1, NULL)));
    /* `at` an undefined offset is false, `in` an undefined range undefined */
    ASSERT_INT_EQ(tri(AT(0, OFF(0, I(9)))), 0);
    ASSERT_INT_EQ(tri(IN(0, OFF(0, I(9)), I(10))), 2);
    ASSERT_INT_EQ(tri(IN(0, I(0), OFF(0, I(9)))), 2);
    ASSERT(undef(CNTIN(0, OFF(0, I(9)), I(10))));
    free_all();
}

TEST(integer_reads)
{
    static const uint8_t head[] = {0x4d, 0x5a, 0x90, 0xff, 0x01, 0x02, 0x03, 0x84};
    ctx_sample(); /* filesize 10 */
    ctx.head = head;
    ctx.head_len = sizeof head;
    const unsigned SG = WEIR__READ_SIGNED, BE = WEIR__READ_BE;
    ASSERT_INT_EQ(ev(EQ(RD(2, I(0)), I(0x5A4D))), 1);
    ASSERT_INT_EQ(ev(EQ(RD(2 | BE, I(0)), I(0x4D5A))), 1);
    ASSERT_INT_EQ(ev(EQ(RD(4, I(4)), I(0x84030201))), 1);
    ASSERT_INT_EQ(ev(EQ(RD(4 | SG, I(4)), I(-2080177663))), 1); /* 0x84030201 as int32 */
    ASSERT_INT_EQ(ev(EQ(RD(4 | BE, I(4)), I(0x01020384))), 1);
    ASSERT_INT_EQ(ev(EQ(RD(1 | SG, I(3)), I(-1))), 1);
    ASSERT_INT_EQ(ev(EQ(RD(1, I(3)), I(255))), 1);
    ASSERT_INT_EQ(ev(EQ(RD(2 | SG | BE, I(2)), I((int16_t)0x90ff))), 1);
    ASSERT_INT_EQ(ev(EQ(RD(1 | SG | BE, I(7)), I(-124))), 1);
    /* nested: uint8(uint8(4) + 6) reads offset 7 */
    ASSERT_INT_EQ(ev(EQ(RD(1, BIN(WEIR__E_ADD, RD(1, I(4)), I(6))), I(0x84))), 1);
    /* beyond the head kept, or the bytes received, or before the start: undefined */
    ASSERT(undef(RD(1, I(8))));
    ASSERT(undef(RD(4, I(5))));
    ASSERT(undef(RD(1, I(-1))));
    ASSERT(undef(RD(1, OFF(0, I(9)))));
    ctx.filesize = 3;
    ASSERT(undef(RD(1, I(3))));
    ASSERT_INT_EQ(ev(EQ(RD(1, I(2)), I(0x90))), 1);
    ctx.head = NULL;
    ctx.head_len = 0;
    ASSERT(undef(RD(1, I(0))));
    /* code from outside: a read of a size YARA has not is malformed */
    weir__code_t code = {0};
    uint32_t entry;
    ASSERT_INT_EQ(weir__cond_compile(&code, EQ(RD(2, I(0)), I(1)), 0, rmap, NULL, NULL, &entry), 0);
    ASSERT_INT_EQ(weir__code_check(&code, 0, 0, NULL, 0), 0);
    int patched = 0;
    for (size_t i = 0; i < code.n; i++) {
        weir__instr_t save = code.v[i];
        code.v[i].a = 3; /* size 3 */
        if (weir__code_check(&code, 0, 0, NULL, 0) != 0)
            patched++;
        code.v[i] = save;
    }
    ASSERT_INT_EQ(patched, 1); /* only the read instruction cares about a == 3 */
    weir__code_free(&code);
    /* the head a condition needs */
    weir__cond_head_t h;
    memset(&h, 0, sizeof h);
    weir__cond_head(AND(EQ(RD(2, I(0)), I(1)), EQ(RD(4, I(0x3c)), I(1))), &h);
    ASSERT_UINT_EQ(h.need, 0x40);
    ASSERT_INT_EQ(h.unknown, 0);
    weir__cond_head(EQ(RD(1, BIN(WEIR__E_ADD, I(100), I(20))), I(1)), &h);
    ASSERT_UINT_EQ(h.need, 121);
    weir__cond_head(EQ(RD(1, RD(1, I(0))), I(1)), &h);
    ASSERT_INT_EQ(h.unknown, 1);
    ASSERT_UINT_EQ(h.need, 121);
    free_all();
}

TEST(strings)
{
    ctx_sample();
    ASSERT_INT_EQ(ev(FOUND(0)), 1);
    ASSERT_INT_EQ(ev(FOUND(1)), 0);
    ASSERT_INT_EQ(ev(EQ(CNT(2), I(4))), 1);
    ASSERT_INT_EQ(ev(EQ(OFF(0, NULL), I(4))), 1);
    ASSERT_INT_EQ(ev(EQ(OFF(0, I(2)), I(8))), 1);
    ASSERT_INT_EQ(ev(EQ(LEN(0, NULL), I(2))), 1);
    ASSERT_INT_EQ(ev(EQ(LEN(2, I(4)), I(2))), 1);
    ASSERT_INT_EQ(ev(AT(0, I(4))), 1);
    ASSERT_INT_EQ(ev(AT(0, I(8))), 1);
    ASSERT_INT_EQ(ev(AT(0, I(5))), 0);
    ASSERT_INT_EQ(ev(AT(0, I(-1))), 0);
    ASSERT_INT_EQ(ev(AT(1, I(0))), 0);
    /* ranges are inclusive at both ends and compare signed */
    ASSERT_INT_EQ(ev(IN(0, I(4), I(4))), 1);
    ASSERT_INT_EQ(ev(IN(0, I(8), I(8))), 1);
    ASSERT_INT_EQ(ev(IN(0, I(5), I(7))), 0);
    ASSERT_INT_EQ(ev(IN(0, I(9), I(1))), 0);
    ASSERT_INT_EQ(ev(IN(0, I(-5), I(100))), 1);
    ASSERT_INT_EQ(ev(IN(0, I(0), I(-1))), 0);
    ASSERT_INT_EQ(ev(IN(0, I(INT64_MIN), I(INT64_MAX))), 1);
    ASSERT_INT_EQ(ev(EQ(CNTIN(0, I(0), I(4)), I(1))), 1);
    ASSERT_INT_EQ(ev(EQ(CNTIN(0, I(0), I(3)), I(0))), 1);
    ASSERT_INT_EQ(ev(EQ(CNTIN(0, I(0), I(100)), I(2))), 1);
    ASSERT_INT_EQ(ev(EQ(CNTIN(0, I(0), I(-1)), I(0))), 1);
    ASSERT_INT_EQ(ev(EQ(CNTIN(0, I(0), I(INT64_MAX)), I(2))), 1);
    ASSERT_INT_EQ(ev(EQ(CNTIN(2, I(1), I(6)), I(3))), 1); /* YARA 4.2.3: internal error */
    ASSERT_INT_EQ(ev(EQ(CNTIN(2, I(5), I(1)), I(0))), 1);
    ASSERT_INT_EQ(ev(EQ(CNTIN(2, I(-5), I(1)), I(2))), 1);
    free_all();
}

TEST(rules_and_text)
{
    ctx_sample();
    rtrue[1] = 1;
    ASSERT_INT_EQ(ev(RULE(1)), 1);
    ASSERT_INT_EQ(ev(RULE(0)), 0);
    ASSERT_INT_EQ(ev(NOT(RULE(0))), 1);
    ctx.rule_true = NULL;
    ASSERT_INT_EQ(ev(RULE(1)), 0);
    /* text literals: bytewise as signed chars, a shorter prefix sorts first */
    ASSERT_INT_EQ(ev(EQ(TXT("abc", 3), TXT("abc", 3))), 1);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_LT, TXT("abc", 3), TXT("abd", 3))), 1);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_GT, TXT("abc", 3), TXT("abd", 3))), 0);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_LT, TXT("ab", 2), TXT("abc", 3))), 1);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_GT, TXT("b", 1), TXT("ab", 2))), 1);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_LT, TXT("\x80", 1), TXT("a", 1))), 1);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_LT, TXT("\xff", 1), TXT("\x01", 1))), 1);
    ASSERT_INT_EQ(ev(EQ(TXT("a\0b", 3), TXT("a\0c", 3))), 0);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_LE, TXT("", 0), TXT("", 0))), 1);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_NE, TXT("", 0), TXT("a", 1))), 1);
    ASSERT_INT_EQ(ev(BIN(WEIR__E_GE, TXT("a", 1), TXT("", 0))), 1);
    /* a literal alone is true when not empty (YARA warns) */
    ASSERT_INT_EQ(ev(TXT("x", 1)), 1);
    ASSERT_INT_EQ(ev(TXT("", 0)), 0);
    ASSERT_INT_EQ(ev(NOT(TXT("", 0))), 1);
    ASSERT_INT_EQ(ev(AND(TXT("x", 1), TXT("y", 1))), 1);
    free_all();
}

TEST(of)
{
    ctx_sample();
    ASSERT_INT_EQ(ev(OF(ANY, NULL, "012")), 1);
    ASSERT_INT_EQ(ev(OF(ANY, NULL, "1")), 0);
    ASSERT_INT_EQ(ev(OF(ALL, NULL, "02")), 1);
    ASSERT_INT_EQ(ev(OF(ALL, NULL, "012")), 0);
    ASSERT_INT_EQ(ev(OF(NONE, NULL, "1")), 1);
    ASSERT_INT_EQ(ev(OF(NONE, NULL, "01")), 0);
    ASSERT_INT_EQ(ev(OF(QX, I(2), "012")), 1);
    ASSERT_INT_EQ(ev(OF(QX, I(3), "012")), 0);
    ASSERT_INT_EQ(ev(OF(QX, I(4), "012")), 0); /* more than the set: false */
    ASSERT_INT_EQ(ev(OF(QX, I(0), "0")), 0);   /* 0 means none */
    ASSERT_INT_EQ(ev(OF(QX, I(0), "1")), 1);
    ASSERT_INT_EQ(ev(OF(QX, I(-1), "0")), 1);
    ASSERT_INT_EQ(ev(OF(QX, I(-1), "1")), 1);
    ASSERT_INT_EQ(ev(OF(QX, CNT(1), "01")), 0);       /* #b = 0: none */
    ASSERT_INT_EQ(ev(OF(QX, OFF(0, I(9)), "02")), 1); /* undefined: all */
    ASSERT_INT_EQ(ev(OF(QX, OFF(0, I(9)), "01")), 0);
    free_all();
}

TEST(for_of)
{
    ctx_sample();
    weir__expr_t *anon = FOUND(-1);
    ASSERT_INT_EQ(ev(FOROF(ANY, NULL, "01", anon)), 1);
    ASSERT_INT_EQ(ev(FOROF(ALL, NULL, "01", anon)), 0);
    ASSERT_INT_EQ(ev(FOROF(ALL, NULL, "02", anon)), 1);
    ASSERT_INT_EQ(ev(FOROF(QX, I(2), "012", EQ(CNT(-1), I(2)))), 0);
    ASSERT_INT_EQ(ev(FOROF(QX, I(2), "012", BIN(WEIR__E_LT, CNT(-1), I(3)))), 1);
    ASSERT_INT_EQ(ev(FOROF(ANY, NULL, "012", EQ(OFF(-1, I(1)), I(0)))), 1);
    ASSERT_INT_EQ(ev(FOROF(ANY, NULL, "0", AND(EQ(OFF(-1, NULL), I(4)), EQ(LEN(-1, NULL), I(2))))),
                  1);
    ASSERT_INT_EQ(ev(FOROF(ANY, NULL, "0", AT(-1, I(8)))), 1);
    ASSERT_INT_EQ(ev(FOROF(ANY, NULL, "0", IN(-1, I(5), I(8)))), 1);
    ASSERT_INT_EQ(ev(FOROF(ANY, NULL, "2", EQ(CNTIN(-1, I(0), I(1)), I(2)))), 1);
    /* YARA 4.2: `none` is the quantifier 0, so it holds whatever the body */
    ASSERT_INT_EQ(ev(FOROF(NONE, NULL, "01", anon)), 1);
    ASSERT_INT_EQ(ev(FOROF(QX, I(0), "0", NOT(anon))), 1);
    ASSERT_INT_EQ(ev(FOROF(QX, I(-1), "0", anon)), 1);
    /* an undefined quantifier means all */
    ASSERT_INT_EQ(ev(FOROF(QX, OFF(0, I(9)), "02", anon)), 1);
    ASSERT_INT_EQ(ev(FOROF(QX, OFF(0, I(9)), "01", anon)), 0);
    /* the body's raw value is summed and the loop never stops early */
    ASSERT_INT_EQ(ev(FOROF(ALL, NULL, "02", CNT(-1))), 1);                         /* 2+4 >= 2 */
    ASSERT_INT_EQ(ev(FOROF(QX, I(5), "012", CNT(-1))), 1);                         /* 2+0+4 >= 5 */
    ASSERT_INT_EQ(ev(FOROF(QX, I(1), "01", BIN(WEIR__E_SUB, CNT(-1), I(1)))), 0);  /* 1-1 */
    ASSERT_INT_EQ(ev(FOROF(ANY, NULL, "20", BIN(WEIR__E_SUB, CNT(-1), I(3)))), 0); /* 1-1 */
    ASSERT_INT_EQ(ev(FOROF(ALL, NULL, "21", BIN(WEIR__E_SUB, CNT(-1), I(2)))), 0); /* 2-2 */
    ASSERT_INT_EQ(ev(FOROF(NONE, NULL, "1", BIN(WEIR__E_SUB, CNT(-1), I(1)))), 0); /* -1 */
    ASSERT_INT_EQ(ev(FOROF(ANY, NULL, "01", EQ(OFF(0, I(9)), I(1)))), 0);          /* undefined */
    free_all();
}

TEST(for_in)
{
    ctx_sample();
    weir__expr_t *i = VAR(0);
    ASSERT_INT_EQ(ev(FORR(ANY, NULL, 0, I(1), I(3), EQ(i, I(2)))), 1);
    ASSERT_INT_EQ(ev(FORR(ALL, NULL, 0, I(1), I(3), BIN(WEIR__E_GT, i, I(0)))), 1);
    ASSERT_INT_EQ(ev(FORR(ALL, NULL, 0, I(1), I(3), BIN(WEIR__E_GT, i, I(1)))), 0);
    ASSERT_INT_EQ(ev(FORR(QX, I(2), 0, I(1), I(3), BIN(WEIR__E_GT, i, I(1)))), 1);
    ASSERT_INT_EQ(ev(FORR(QX, I(3), 0, I(1), I(3), BIN(WEIR__E_GT, i, I(1)))), 0);
    ASSERT_INT_EQ(ev(FORR(ALL, NULL, 0, I(1), CNT(0), BIN(WEIR__E_GE, OFF(0, i), I(4)))), 1);
    ASSERT_INT_EQ(ev(FORE(ANY, NULL, 0, EQ(i, I(3)), 3, I(1), I(2), I(3))), 1);
    ASSERT_INT_EQ(ev(FORE(ALL, NULL, 0, EQ(i, I(3)), 3, I(1), I(2), I(3))), 0);
    ASSERT_INT_EQ(ev(FORE(ALL, NULL, 0, B(1), 1, I(7))), 1);
    /* no iteration is false, whatever the quantifier; so is an undefined bound */
    weir__quant_t qs[3] = {ALL, ANY, NONE};
    for (int k = 0; k < 3; k++) {
        ASSERT_INT_EQ(ev(FORR(qs[k], NULL, 0, I(5), I(1), B(1))), 0);
        ASSERT_INT_EQ(ev(FORR(qs[k], NULL, 0, OFF(0, I(9)), I(3), B(1))), 0);
        ASSERT_INT_EQ(ev(FORR(qs[k], NULL, 0, I(1), OFF(0, I(9)), B(1))), 0);
    }
    ASSERT_INT_EQ(ev(FORR(QX, I(0), 0, I(5), I(1), B(1))), 0);
    /* YARA 4.2: `none` is 0, true as soon as there is an iteration */
    ASSERT_INT_EQ(ev(FORR(NONE, NULL, 0, I(1), I(3), EQ(i, I(2)))), 1);
    ASSERT_INT_EQ(ev(FORE(NONE, NULL, 0, B(1), 1, I(1))), 1);
    /* undefined items are iterated, with an undefined variable */
    ASSERT_INT_EQ(ev(FORE(ALL, NULL, 0, B(1), 3, I(1), OFF(0, I(9)), I(3))), 1);
    ASSERT_INT_EQ(ev(FORE(ALL, NULL, 0, BIN(WEIR__E_GT, i, I(0)), 3, I(1), OFF(0, I(9)), I(3))), 0);
    ASSERT_INT_EQ(ev(FORE(ANY, NULL, 0, B(1), 1, OFF(0, I(9)))), 1);
    ASSERT_INT_EQ(ev(FORE(ANY, NULL, 0, EQ(i, I(1)), 1, OFF(0, I(9)))), 0);
    /* an undefined quantifier means all */
    ASSERT_INT_EQ(ev(FORE(QX, OFF(0, I(9)), 0, B(1), 3, I(1), OFF(0, I(9)), I(3))), 1);
    ASSERT_INT_EQ(ev(FORE(QX, OFF(0, I(9)), 0, BIN(WEIR__E_GT, i, I(0)), 2, I(1), OFF(0, I(9)))),
                  0);
    /* raw sums: `all` is sum >= iterations without stopping; N stops at N */
    ASSERT_INT_EQ(ev(FORR(ALL, NULL, 0, I(1), I(3), BIN(WEIR__E_SUB, i, I(1)))), 1); /* 0+1+2 */
    ASSERT_INT_EQ(ev(FORE(ALL, NULL, 0, i, 2, I(0), I(5))), 1);
    ASSERT_INT_EQ(ev(FORE(ALL, NULL, 0, i, 2, I(4), I(-1))), 1);
    ASSERT_INT_EQ(ev(FORE(ALL, NULL, 0, i, 2, I(1), OFF(0, I(9)))), 0);
    ASSERT_INT_EQ(ev(FORE(QX, I(3), 0, i, 1, I(3))), 1);
    ASSERT_INT_EQ(ev(FORE(QX, I(2), 0, i, 2, I(-1), I(2))), 0);
    ASSERT_INT_EQ(ev(FORE(QX, I(2), 0, i, 2, I(5), I(-10))), 1); /* stops at 5 */
    ASSERT_INT_EQ(ev(FORE(NONE, NULL, 0, i, 2, I(-5), I(3))), 0);
    ASSERT_INT_EQ(ev(FORE(NONE, NULL, 0, i, 2, I(-5), I(6))), 1);
    ASSERT_INT_EQ(ev(FORE(QX, I(-1), 0, i, 2, I(-5), I(4))), 1);
    ASSERT_INT_EQ(ev(FORE(QX, I(1), 0, i, 2, I(-5), I(4))), 0);
    ASSERT_INT_EQ(ev(FORE(ANY, NULL, 0, i, 2, I(0), I(0))), 0);
    /* `a or b` with a true is a's raw value; otherwise and/or give 0 or 1 */
    ASSERT_INT_EQ(ev(FORE(QX, I(5), 0, OR(I(5), B(1)), 1, I(1))), 1);
    ASSERT_INT_EQ(ev(FORE(QX, I(6), 0, OR(I(5), B(1)), 1, I(1))), 0);
    ASSERT_INT_EQ(ev(FORE(QX, I(2), 0, OR(I(0), I(7)), 1, I(1))), 0);
    ASSERT_INT_EQ(ev(FORE(QX, I(2), 0, AND(FS(), I(7)), 1, I(1))), 0);
    ASSERT_INT_EQ(ev(FOROF(NONE, NULL, "1", OR(UN(WEIR__E_BITNOT, I(3)), B(1)))), 0); /* -4 */
    ASSERT_INT_EQ(ev(FOROF(NONE, NULL, "1", OR(B(0), UN(WEIR__E_BITNOT, I(3))))), 1);
    /* nesting to YARA's limit of 4, variables by slot */
    weir__expr_t *sum =
        BIN(WEIR__E_ADD, BIN(WEIR__E_ADD, VAR(0), VAR(1)), BIN(WEIR__E_ADD, VAR(2), VAR(3)));
    weir__expr_t *l4 = FORR(ANY, NULL, 3, I(0), I(2), EQ(sum, I(7)));
    weir__expr_t *l3 = FORR(ANY, NULL, 2, I(0), I(2), l4);
    weir__expr_t *l2 = FORE(ANY, NULL, 1, l3, 2, I(1), I(2));
    ASSERT_INT_EQ(ev(FORR(ANY, NULL, 0, I(0), I(1), l2)), 1); /* 1+2+2+2 */
    ASSERT_INT_EQ(ev(FORR(ALL, NULL, 0, I(0), I(1), l2)), 0); /* not with i0 = 0 */
    weir__expr_t *l4b = FORR(ANY, NULL, 3, I(0), I(2), BIN(WEIR__E_GE, sum, I(6)));
    weir__expr_t *l2b = FORE(ANY, NULL, 1, FORR(ANY, NULL, 2, I(0), I(2), l4b), 2, I(1), I(2));
    ASSERT_INT_EQ(ev(FORR(ALL, NULL, 0, I(0), I(1), l2b)), 1);
    weir__expr_t *l4c = FORR(ALL, NULL, 3, I(0), I(2), BIN(WEIR__E_GE, sum, I(1)));
    weir__expr_t *l2c = FORE(ALL, NULL, 1, FORR(ALL, NULL, 2, I(0), I(2), l4c), 2, I(1), I(2));
    ASSERT_INT_EQ(ev(FORR(ALL, NULL, 0, I(0), I(1), l2c)), 1);
    ASSERT_INT_EQ(ev(FORR(ALL, NULL, 0, I(-1), I(1), l2c)), 0);
    /* for-of inside for-in and the other way round */
    weir__expr_t *in_of = FOROF(ANY, NULL, "0", EQ(OFF(-1, VAR(0)), I(8)));
    ASSERT_INT_EQ(ev(FORR(ANY, NULL, 0, I(1), I(2), in_of)), 1);
    weir__expr_t *of_in =
        FORR(ANY, NULL, 1, I(1), CNT(-1), AND(EQ(OFF(0, VAR(1)), I(8)), EQ(OFF(-1, VAR(1)), I(8))));
    ASSERT_INT_EQ(ev(FOROF(ANY, NULL, "0", of_in)), 1);
    weir__expr_t *ci =
        FORR(ALL, NULL, 0, I(1), CNT(2),
             FORR(ANY, NULL, 1, I(1), CNT(0), BIN(WEIR__E_LT, OFF(2, VAR(0)), OFF(0, VAR(1)))));
    ASSERT_INT_EQ(ev(ci), 1);
    free_all();
}

TEST(step_budget)
{
    ctx_sample();
    weir__expr_t *huge = FORR(ANY, NULL, 0, I(0), I(10000000000LL), BIN(WEIR__E_LT, VAR(0), I(0)));
    ctx.max_steps = 100000;
    ASSERT_INT_EQ(ev(huge), 0);
    ASSERT_INT_EQ(last_oos, 1);
    ctx.max_steps = 0; /* the default budget ends it too */
    ASSERT_INT_EQ(ev(huge), 0);
    ASSERT_INT_EQ(last_oos, 1);
    /* a quantifier that is reached stops the loop early */
    ASSERT_INT_EQ(ev(FORR(ANY, NULL, 0, I(0), I(10000000000LL), EQ(VAR(0), I(5)))), 1);
    ASSERT_INT_EQ(last_oos, 0);
    /* YARA steps past INT64_MAX by wrapping and never ends: out of steps */
    ctx.max_steps = 100000;
    ASSERT_INT_EQ(ev(FORR(ALL, NULL, 0, I(INT64_MAX - 1), I(INT64_MAX), B(1))), 0);
    ASSERT_INT_EQ(last_oos, 1);
    ASSERT_INT_EQ(ev(FORR(ANY, NULL, 0, I(INT64_MAX - 1), I(INT64_MAX), B(1))), 1);
    ASSERT_INT_EQ(ev(B(1)), 1);
    ASSERT_INT_EQ(last_oos, 0);
    ctx.max_steps = 2; /* ENTER is free; PUSH, HALT */
    ASSERT_INT_EQ(ev(B(1)), 1);
    ctx.max_steps = 1;
    ASSERT_INT_EQ(ev(B(1)), 0);
    ASSERT_INT_EQ(last_oos, 1);
    free_all();
}

/* ---- compile errors --------------------------------------------------------- */

static const char *compile_error(const weir__expr_t *e)
{
    static char msg[256];
    weir__code_t code = {0};
    weir_diags_t *d = weir__diags_new();
    uint32_t entry = 7;
    msg[0] = '\0';
    /* a rule compiled before must survive a failure untouched */
    weir__cond_compile(&code, B(1), 0, rmap, NULL, d, &entry);
    size_t n = code.n;
    if (weir__cond_compile(&code, e, 0, rmap, NULL, d, &entry) == 0) {
        strcpy(msg, "(compiled)");
    } else if (code.n != n || weir_diags_count(d) == 0) {
        strcpy(msg, "(bad failure)");
    } else {
        snprintf(msg, sizeof msg, "%s", weir_diags_get(d, 0)->message);
    }
    weir_diags_free(d);
    weir__code_free(&code);
    return msg;
}

TEST(compile_errors)
{
    weir__expr_t *b = B(1);
    for (int k = 3; k >= 0; k--)
        b = FORR(ANY, NULL, k, I(0), I(1), b);
    ASSERT_STR_EQ(compile_error(b), "(compiled)");
    ASSERT_STR_EQ(compile_error(FOROF(ANY, NULL, "0", b)), "loop nesting limit exceeded");
    ASSERT_STR_EQ(compile_error(FOROF(ANY, NULL, "0", FOROF(ANY, NULL, "1", B(1)))),
                  "'for <quantifier> of <string set>' loops can't be nested");
    ASSERT_STR_EQ(compile_error(FOUND(-1)),
                  "anonymous string reference ($, #, @ or !) outside of a 'for ... of' loop");
    ASSERT_STR_EQ(compile_error(BIN(WEIR__E_ADD, TXT("a", 1), I(1))),
                  "wrong type \"string\" for + operator");
    ASSERT_STR_EQ(compile_error(EQ(TXT("a", 1), I(1))), "type mismatch for == operator");
    ASSERT_STR_EQ(compile_error(BIN(WEIR__E_ADD, FOUND(0), I(1))),
                  "wrong type \"boolean\" for + operator");
    ASSERT_STR_EQ(compile_error(BIN(WEIR__E_LT, B(1), I(1))),
                  "wrong type \"boolean\" for < operator");
    ASSERT_STR_EQ(compile_error(AT(0, TXT("x", 1))), "wrong type \"string\" for at operator");
    ASSERT_STR_EQ(compile_error(VAR(0)), "loop variable used outside its loop");
    ASSERT_STR_EQ(
        compile_error(FORR(ANY, NULL, 0, I(0), I(1), FORR(ANY, NULL, 0, I(0), I(1), B(1)))),
        "malformed condition: bad loop variable slot");
    ASSERT_STR_EQ(compile_error(OF(ANY, NULL, "")), "empty string set");
    ASSERT_STR_EQ(compile_error(OF(QX, FOUND(0), "0")), "wrong type \"boolean\" for a quantifier");
    /* what YARA's parser refuses in constant expressions */
    ASSERT_STR_EQ(compile_error(BIN(WEIR__E_DIV, CNT(0), BIN(WEIR__E_SUB, I(2), I(2)))),
                  "division by zero");
    ASSERT_STR_EQ(compile_error(BIN(WEIR__E_MOD, CNT(0), I(0))), "division by zero");
    ASSERT_STR_EQ(compile_error(BIN(WEIR__E_SHR, CNT(0), UN(WEIR__E_NEG, I(2)))),
                  "negative shift count");
    ASSERT_STR_EQ(compile_error(BIN(WEIR__E_ADD, I(INT64_MAX), I(1))),
                  "integer overflow in \"9223372036854775807 + 1\"");
    ASSERT_STR_EQ(compile_error(BIN(WEIR__E_MUL, BIN(WEIR__E_SHL, I(1), I(40)), I(1 << 30))),
                  "integer overflow in \"1099511627776 * 1073741824\"");
    ASSERT_STR_EQ(compile_error(BIN(WEIR__E_ADD, BIN(WEIR__E_ADD, I(INT64_MAX), CNT(0)), I(1))),
                  "(compiled)");
    ASSERT_STR_EQ(compile_error(BIN(WEIR__E_DIV, I(1), BIN(WEIR__E_SUB, CNT(0), CNT(0)))),
                  "(compiled)");
    ASSERT_STR_EQ(compile_error(UN(WEIR__E_NEG, TXT("x", 1))),
                  "wrong type \"string\" for - operator");
    ASSERT_STR_EQ(compile_error(NOT(BIN(WEIR__E_ADD, TXT("x", 1), TXT("y", 1)))),
                  "wrong type \"string\" for + operator");
    free_all();
}

/* ---- code layout ------------------------------------------------------------ */

TEST(shared_code)
{
    ctx_sample();
    weir__code_t code = {0};
    uint32_t e1, e2, e3;
    /* rule 1's strings start at global index 1; its AST rule 0 is global rule 3 */
    static const uint32_t map[1] = {3};
    ASSERT_INT_EQ(weir__cond_compile(&code, FOUND(0), 0, map, NULL, NULL, &e1), 0);
    ASSERT_INT_EQ(weir__cond_compile(&code, AND(FOUND(1), RULE(0)), 1, map, NULL, NULL, &e2), 0);
    ASSERT_INT_EQ(weir__cond_compile(&code, OF(ALL, NULL, "01"), 1, map, NULL, NULL, &e3), 0);
    ASSERT(e1 < e2 && e2 < e3);
    ASSERT(weir__code_is_entry(&code, e2));
    ASSERT(!weir__code_is_entry(&code, e2 + 1));
    ASSERT_INT_EQ(weir__code_check(&code, 3, 4, NULL, 0), 0);
    ASSERT_INT_EQ(weir__code_check(&code, 2, 4, NULL, 0), -1);
    ASSERT_INT_EQ(weir__code_check(&code, 3, 3, NULL, 0), -1);
    rtrue[3] = 1;
    ASSERT_INT_EQ(weir__cond_eval(&code, e1, &ctx, NULL), 1);
    ASSERT_INT_EQ(weir__cond_eval(&code, e2, &ctx, NULL), 1); /* global strings 2 and rule 3 */
    ASSERT_INT_EQ(weir__cond_eval(&code, e3, &ctx, NULL), 0); /* global 1 ($b) absent */
    /* pointer-free: a byte copy evaluates the same */
    weir__code_t copy = {.v = malloc(code.n * sizeof *code.v), .n = code.n, .cap = code.n};
    memcpy(copy.v, code.v, code.n * sizeof *code.v);
    ASSERT_INT_EQ(weir__cond_eval(&copy, e2, &ctx, NULL), 1);
    /* malformed code or entries give 0 and report no answer, never a crash */
    int oos = 0;
    ASSERT_INT_EQ(weir__cond_eval(&copy, e2 + 1, &ctx, &oos), 0);
    ASSERT_INT_EQ(oos, 1);
    ASSERT_INT_EQ(weir__cond_eval(&copy, (uint32_t)copy.n, &ctx, &oos), 0);
    for (size_t k = 0; k < copy.n; k++) {
        copy.v[k].op = 200;
        ASSERT_INT_EQ(weir__code_check(&copy, 3, 4, NULL, 0), -1);
        copy.v[k] = code.v[k];
        copy.v[k].imm += 1000;
        (void)weir__cond_eval(&copy, e1, &ctx, NULL);
        (void)weir__cond_eval(&copy, e2, &ctx, NULL);
        (void)weir__cond_eval(&copy, e3, &ctx, NULL);
        copy.v[k] = code.v[k];
    }
    free(copy.v);
    weir__code_free(&code);
    weir__code_free(&code);
    ASSERT(code.v == NULL && code.n == 0);
    free_all();
}

static void collect(uint32_t g, void *u)
{
    uint32_t *seen = u;
    seen[g]++;
}

TEST(deep)
{
    ctx_sample();
    /* right-nested sums need a deep value stack (more than the evaluator's local one) */
    weir__expr_t *sum = CNT(0);
    for (int k = 1; k < 600; k++)
        sum = BIN(WEIR__E_ADD, CNT(0), sum);
    ASSERT_INT_EQ(ev(EQ(sum, I(1200))), 1);
    ASSERT_INT_EQ(ev(EQ(sum, I(1201))), 0);
    ASSERT_INT_EQ(weir__cond_monotone(BIN(WEIR__E_GT, sum, I(5)), NULL), 1);
    /* a tree deeper than we recurse into is refused, not a crash */
    weir__expr_t *e = FOUND(0);
    for (int k = 0; k < 5000; k++)
        e = NOT(e);
    ASSERT_STR_EQ(compile_error(e), "condition nested too deeply");
    ASSERT_INT_EQ(weir__cond_monotone(e, NULL), 0);
    uint32_t seen[4] = {0};
    weir__cond_strings(e, 0, 3, collect, seen);
    free_all();
}

/* ---- monotone classification ------------------------------------------------ */

TEST(monotone_examples)
{
    static const uint8_t rm[3] = {1, 0, 1};
    weir__expr_t *i = VAR(0);
    struct {
        weir__expr_t *e;
        int want;
        const char *what;
    } cases[] = {
        {FOUND(0), 1, "$a"},
        {AND(FOUND(0), FOUND(1)), 1, "$a and $b"},
        {OR(FOUND(0), NOT(FOUND(1))), 0, "$a or not $b"},
        {BIN(WEIR__E_GT, CNT(0), I(3)), 1, "#a > 3"},
        {BIN(WEIR__E_GE, CNT(0), I(3)), 1, "#a >= 3"},
        {BIN(WEIR__E_LT, I(3), CNT(0)), 1, "3 < #a"},
        {OF(ANY, NULL, "012"), 1, "any of them"},
        {OF(QX, I(2), "012"), 1, "2 of ($a,$b,$c)"},
        {AT(0, I(100)), 1, "$a at 100"},
        {IN(0, I(0), I(100)), 1, "$a in (0..100)"},
        {BIN(WEIR__E_GT, CNTIN(0, I(0), I(100)), I(2)), 1, "#a in (0..100) > 2"},
        {BIN(WEIR__E_GT, FS(), I(10)), 1, "filesize > 10"},
        {FOROF(ANY, NULL, "012", AT(-1, I(0))), 1, "for any of them : ($ at 0)"},
        {NOT(FOUND(0)), 0, "not $a"},
        {EQ(CNT(0), I(3)), 0, "#a == 3"},
        {BIN(WEIR__E_LT, CNT(0), I(5)), 0, "#a < 5"},
        {BIN(WEIR__E_LT, FS(), I(10)), 0, "filesize < 10"},
        {OF(ALL, NULL, "012"), 1, "all of them"},
        {OF(NONE, NULL, "012"), 0, "none of them"},
        {EQ(OFF(0, I(1)), I(5)), 0, "@a[1] == 5"},
        {BIN(WEIR__E_GT, LEN(0, I(1)), I(3)), 0, "!a[1] > 3"},
        {EQ(RD(2, I(0)), I(0x5A4D)), 1, "uint16(0) == 0x5A4D"},
        {BIN(WEIR__E_LT, RD(4, RD(4, I(0x3c))), I(9)), 1, "uint32(uint32(0x3c)) < 9"},
        {NOT(EQ(RD(2, I(0)), I(0x5A4D))), 0, "not uint16(0) == 0x5A4D"},
        {BIN(WEIR__E_LT, RD(1, I(0)), FS()), 0, "uint8(0) < filesize"},
        {BIN(WEIR__E_LT, RD(1, CNT(0)), I(3)), 0, "uint8(#a) < 3"},
        {FORR(ALL, NULL, 0, I(1), CNT(0), FOUND(1)), 0, "for all i in (1..#a) : ($b)"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_SUB, CNT(0), CNT(1)), I(1)), 0, "#a - #b > 1"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_ADD, CNT(0), CNT(1)), I(1)), 1, "#a + #b > 1"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_MUL, CNT(0), I(2)), FS()), 0, "#a * 2 > filesize"},
        {BIN(WEIR__E_LT, OFF(0, I(1)), I(100)), 1, "@a[1] < 100"},
        {BIN(WEIR__E_LT, OFF(0, NULL), I(100)), 1, "@a < 100"},
        {BIN(WEIR__E_LT, OFF(0, CNT(0)), I(100)), 0, "@a[#a] < 100"},
        {BIN(WEIR__E_GT, OFF(0, I(1)), I(100)), 0, "@a[1] > 100"},
        {NOT(BIN(WEIR__E_LT, CNT(0), I(5))), 1, "not (#a < 5)"},
        {NOT(BIN(WEIR__E_LT, OFF(0, I(1)), I(5))), 0, "not (@a[1] < 5)"},
        {NOT(EQ(CNT(0), I(0))), 1, "not (#a == 0)"},
        {BIN(WEIR__E_NE, CNT(0), I(0)), 1, "#a != 0"},
        {BIN(WEIR__E_NE, CNT(0), I(1)), 0, "#a != 1"},
        {CNT(0), 1, "#a"},
        {BIN(WEIR__E_SUB, CNT(0), I(5)), 0, "#a - 5"},
        {NOT(CNT(0)), 0, "not #a"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_ADD, FS(), I(INT64_MAX)), I(0)), 0, "filesize + MAX > 0"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_SUB, CNT(0), I(-UNDEF_V + 1)), I(UNDEF_V - 2)), 0,
         "#a minus a constant passing UNDEFINED"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_SUB, CNT(0), I(-UNDEF_V - 1)), I(UNDEF_V - 2)), 1,
         "#a minus a constant not passing UNDEFINED"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_DIV, FS(), I(2)), I(3)), 1, "filesize \\ 2 > 3"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_DIV, FS(), I(-2)), I(3)), 0, "filesize \\ -2 > 3"},
        {BIN(WEIR__E_LT, BIN(WEIR__E_DIV, FS(), I(-2)), I(-3)), 0, "filesize \\ -2 (UNDEFINED)"},
        {BIN(WEIR__E_LT, BIN(WEIR__E_DIV, CNT(0), I(-2)), I(-3)), 1, "#a \\ -2 < -3"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_DIV, FS(), CNT(0)), I(3)), 0, "filesize \\ #a > 3"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_MOD, FS(), I(7)), I(3)), 0, "filesize % 7 > 3"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_SHL, CNT(0), I(3)), I(3)), 1, "#a << 3 > 3"},
        {BIN(WEIR__E_GT, BIN(WEIR__E_SHL, FS(), I(3)), I(3)), 0, "filesize << 3 (may wrap)"},
        {BIN(WEIR__E_LT, UN(WEIR__E_NEG, CNT(0)), I(-3)), 1, "-#a < -3"},
        {BIN(WEIR__E_LT, UN(WEIR__E_BITNOT, CNT(0)), I(-3)), 1, "~#a < -3"},
        {RULE(0), 1, "monotone rule"},
        {RULE(1), 0, "non-monotone rule"},
        {AND(RULE(2), FOUND(0)), 1, "monotone rule and $a"},
        {AT(0, CNT(1)), 0, "$a at #b"},
        {IN(0, OFF(1, I(1)), FS()), 1, "$a in (@b[1]..filesize)"},
        {IN(0, FS(), I(100)), 0, "$a in (filesize..100)"},
        {FORR(ANY, NULL, 0, I(1), CNT(0), AT(1, OFF(0, i))), 0, "any i in (1..#a): $b at @a[i]"},
        {FORR(ANY, NULL, 0, I(0), FS(), AT(0, i)), 1, "any i in (0..filesize) : ($a at i)"},
        {FORR(ANY, NULL, 0, I(0), I(10), AT(0, i)), 1, "any i in (0..10) : ($a at i)"},
        {FORR(ALL, NULL, 0, I(0), I(10), AT(0, i)), 1, "all i in (0..10) : ($a at i)"},
        {FORR(ALL, NULL, 0, I(0), FS(), AT(0, i)), 0, "all i in (0..filesize) : ($a at i)"},
        {FORR(NONE, NULL, 0, I(0), I(10), AT(0, i)), 1, "none i in (0..10): YARA 4.2 const"},
        {FORR(NONE, NULL, 0, I(0), CNT(0), AT(0, i)), 1, "none i in (0..#a): non-empty"},
        {FORR(NONE, NULL, 0, CNT(0), I(3), AT(0, i)), 0, "none i in (#a..3)"},
        {FORR(QX, I(2), 0, I(0), FS(), AT(0, i)), 1, "2 i in (0..filesize) : ($a at i)"},
        {FORR(ANY, NULL, 0, I(0), I(5), NOT(AT(0, i))), 0, "any i in (0..5) : not $a at i"},
        {FORR(ANY, NULL, 0, I(0), I(5), BIN(WEIR__E_SUB, CNT(0), i)), 0, "any i: #a - i"},
        {FORR(QX, I(3), 0, I(0), I(5), BIN(WEIR__E_ADD, CNT(0), i)), 1, "3 i: #a + i"},
        {FORE(ANY, NULL, 0, AT(0, i), 2, I(1), I(5)), 1, "any i in (1, 5) : ($a at i)"},
        {FORE(ANY, NULL, 0, AT(0, i), 2, I(1), CNT(1)), 0, "any i in (1, #b) : ($a at i)"},
        {FORE(ANY, NULL, 0, FOUND(0), 2, I(1), CNT(1)), 1, "any i in (1, #b) : ($a)"},
        {FOROF(ALL, NULL, "01", FOUND(-1)), 1, "for all of ($a,$b) : ($)"},
        {FOROF(ANY, NULL, "01", NOT(FOUND(-1))), 0, "for any of ($a,$b) : (not $)"},
        {FOROF(NONE, NULL, "01", FOUND(-1)), 1, "for none of: YARA 4.2 const"},
        {FOROF(QX, I(2), "012", BIN(WEIR__E_SUB, CNT(-1), I(1))), 0, "for 2 of : # - 1"},
        {FOROF(QX, I(2), "012", CNT(-1)), 1, "for 2 of : #"},
        {FOROF(ALL, NULL, "01", OR(FOUND(-1), B(1))), 1, "for all of : ($ or true)"},
        {FOROF(QX, I(2), "012", OR(BIN(WEIR__E_SUB, CNT(-1), I(1)), FOUND(-1))), 0,
         "for 2 of : ((# - 1) or $)"},
        {FORR(ALL, NULL, 0, I(0), I(3), OR(BIN(WEIR__E_SUB, CNT(0), I(1)), FOUND(1))), 0,
         "for all i in (0..3) : ((#a - 1) or $b)"},
        {OF(QX, CNT(1), "012"), 0, "#b of them"},
        {OF(QX, I(0), "012"), 0, "0 of them"},
        {OF(QX, I(5), "012"), 1, "5 of them (never true)"},
        {OF(QX, I(-1), "012"), 1, "-1 of them (always true)"},
        {BIN(WEIR__E_GT, VAR(0), I(3)), 0, "variable outside any loop"},
        {TXT("x", 1), 1, "\"x\""},
        {EQ(TXT("x", 1), TXT("y", 1)), 1, "\"x\" == \"y\""},
        {B(0), 1, "false"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int got = weir__cond_monotone(cases[k].e, rm);
        if (got != cases[k].want)
            T__FAIL("monotone(%s) = %d, want %d", cases[k].what, got, cases[k].want);
    }
    ASSERT_INT_EQ(weir__cond_monotone(RULE(0), NULL), 0);
    ASSERT_INT_EQ(weir__cond_monotone(NULL, rm), 0);
    free_all();
}

TEST(referenced_strings)
{
    uint32_t seen[16] = {0};
    weir__expr_t *e = AND(OR(FOUND(0), EQ(CNT(2), I(1))),
                          AND(OF(ANY, NULL, "13"), FOROF(ALL, NULL, "4", FOUND(-1))));
    weir__cond_strings(e, 10, 5, collect, seen);
    ASSERT_INT_EQ(seen[10], 1);
    ASSERT_INT_EQ(seen[11], 1);
    ASSERT_INT_EQ(seen[12], 1);
    ASSERT_INT_EQ(seen[13], 1);
    ASSERT_INT_EQ(seen[14], 1);
    ASSERT_INT_EQ(seen[15], 0);
    memset(seen, 0, sizeof seen);
    weir__cond_strings(
        FORR(ANY, NULL, 0, OFF(1, NULL), CNTIN(2, I(0), LEN(3, NULL)), AT(0, VAR(0))), 0, 3,
        collect, seen);
    ASSERT_INT_EQ(seen[0], 1);
    ASSERT_INT_EQ(seen[1], 1);
    ASSERT_INT_EQ(seen[2], 1);
    ASSERT_INT_EQ(seen[3], 0); /* beyond the rule's strings */
    free_all();
}

/* ---- random conditions ------------------------------------------------------- */

/* The differential rule's strings: $a = "ab", $b = "c", $c = "ba". */
static const char *const lits[NSTR] = {"ab", "c", "ba"};

typedef struct gen {
    uint64_t s;
    int loops;     /* loops open */
    int in_for_of; /* inside a `for ... of` body */
    int nvars;     /* loop variables open, their slots in var[] */
    int var[WEIR__MAX_LOOP_NESTING];
} gen_t;

static uint64_t rnd(gen_t *g)
{
    g->s ^= g->s >> 12;
    g->s ^= g->s << 25;
    g->s ^= g->s >> 27;
    return g->s * 2685821657736338717ULL;
}

static int rn(gen_t *g, int n)
{
    return (int)(rnd(g) % (uint64_t)n);
}

static int is_const(const weir__expr_t *e)
{
    if (e->op == WEIR__E_INT)
        return 1;
    if (e->op == WEIR__E_NEG || e->op == WEIR__E_BITNOT)
        return is_const(e->a);
    if (e->op >= WEIR__E_ADD && e->op <= WEIR__E_BXOR)
        return is_const(e->a) && is_const(e->b);
    return 0;
}

static int g_str(gen_t *g)
{
    return g->in_for_of && rn(g, 3) == 0 ? -1 : rn(g, NSTR);
}

/* Small integers for loop bounds and indices, so that nothing runs long. */
static weir__expr_t *g_small(gen_t *g)
{
    switch (rn(g, g->loops >= 2 ? 2 : 6)) {
    case 0:
    case 1:
        return I(rn(g, 6) - 1);
    case 2:
        return CNT(g_str(g));
    case 3:
        return g->nvars ? VAR(g->var[rn(g, g->nvars)]) : FS();
    case 4:
        return BIN(rn(g, 2) ? WEIR__E_ADD : WEIR__E_SUB, CNT(g_str(g)), I(rn(g, 4)));
    default:
        return OFF(g_str(g), I(rn(g, 3) + 1));
    }
}

static weir__expr_t *g_int(gen_t *g, int d)
{
    if (d <= 0 || rn(g, 3) == 0) {
        int s = g_str(g);
        switch (rn(g, 9)) {
        case 0:
        case 1:
            return I(rn(g, 14) - 3);
        case 2:
            return FS();
        case 3:
            return CNT(s);
        case 4:
            return OFF(s, rn(g, 3) ? g_small(g) : NULL);
        case 5:
            return LEN(s, rn(g, 3) ? g_small(g) : NULL);
        case 6:
            /* YARA 4.2.3 fails on `#a in (lo..hi)` unless lo is 0. */
            return CNTIN(s, I(0), g_small(g));
        default:
            return g->nvars ? VAR(g->var[rn(g, g->nvars)]) : g_small(g);
        }
    }
    if (rn(g, 8) == 0)
        return UN(rn(g, 2) ? WEIR__E_NEG : WEIR__E_BITNOT, g_int(g, d - 1));
    weir__op_t op = (weir__op_t)(WEIR__E_ADD + rn(g, WEIR__E_BXOR - WEIR__E_ADD + 1));
    weir__expr_t *a = g_int(g, d - 1), *b = g_int(g, d - 1);
    /* YARA folds constants and refuses a constant overflow or division by
       zero; "(b + #a - #a)" has b's value without being constant. */
    int raw = rn(g, 30) == 0; /* now and then, let the compilers refuse it */
    if (!raw && is_const(a) && is_const(b))
        b = BIN(WEIR__E_SUB, BIN(WEIR__E_ADD, b, CNT(0)), CNT(0));
    if (!raw && op >= WEIR__E_DIV && op <= WEIR__E_SHR && is_const(b))
        b = BIN(WEIR__E_SUB, BIN(WEIR__E_ADD, b, CNT(1)), CNT(1));
    return BIN(op, a, b);
}

static const char *g_set(gen_t *g)
{
    static const char *const sets[7] = {"0", "1", "2", "01", "02", "12", "012"};
    return sets[rn(g, 7)];
}

static weir__quant_t g_quant(gen_t *g, weir__expr_t **qe)
{
    int k = rn(g, 5);
    *qe = k == 4 ? g_small(g) : NULL;
    return k == 0 ? ALL : k == 1 ? ANY : k == 2 ? NONE : k == 3 ? ANY : QX;
}

static weir__expr_t *g_bool(gen_t *g, int d)
{
    weir__expr_t *qe;
    weir__quant_t q;
    if (d <= 0 || rn(g, 4) == 0) {
        int s = g_str(g);
        switch (rn(g, 12)) {
        case 0:
        case 1:
            return FOUND(s);
        case 2:
            return B(rn(g, 2));
        case 3:
            return AT(s, g_small(g));
        case 4:
            return IN(s, g_small(g), g_small(g));
        case 5:
        case 6:
            return BIN((weir__op_t)(WEIR__E_LT + rn(g, 6)), g_int(g, 1), g_int(g, 1));
        case 7:
            return RULE(rn(g, 2));
        case 8:
            q = g_quant(g, &qe);
            return OF(q, qe, g_set(g));
        case 9: {
            const char *x = "ab" + rn(g, 2), *y = "ba" + rn(g, 3);
            return BIN((weir__op_t)(WEIR__E_LT + rn(g, 6)), TXT(x, strlen(x)), TXT(y, strlen(y)));
        }
        case 10:
            return TXT("x", (size_t)rn(g, 2));
        default:
            return g_int(g, 1);
        }
    }
    switch (rn(g, 8)) {
    case 0:
        return NOT(g_bool(g, d - 1));
    case 1:
    case 2:
        return BIN(rn(g, 2) ? WEIR__E_AND : WEIR__E_OR, g_bool(g, d - 1), g_bool(g, d - 1));
    case 3:
        return BIN((weir__op_t)(WEIR__E_LT + rn(g, 6)), g_int(g, d - 1), g_int(g, d - 1));
    case 4:
    case 5:
        if (!g->in_for_of && g->loops < WEIR__MAX_LOOP_NESTING) {
            q = g_quant(g, &qe);
            const char *set = g_set(g);
            g->in_for_of = 1;
            g->loops++;
            weir__expr_t *body = rn(g, 4) ? g_bool(g, d - 1) : g_int(g, d - 1);
            g->loops--;
            g->in_for_of = 0;
            return FOROF(q, qe, set, body);
        }
        /* fall through */
    case 6:
    case 7:
        if (g->loops < WEIR__MAX_LOOP_NESTING) {
            q = g_quant(g, &qe);
            int slot = g->loops, n = 1 + rn(g, 3);
            weir__expr_t *it[3] = {g_small(g), g_small(g), g_small(g)};
            int range = rn(g, 2);
            g->loops++;
            g->var[g->nvars++] = slot;
            weir__expr_t *body = rn(g, 4) ? g_bool(g, d - 1) : g_int(g, d - 1);
            g->nvars--;
            g->loops--;
            if (range)
                return FORR(q, qe, slot, it[0], it[1], body);
            weir__expr_t *e = FORE(q, qe, slot, body, 1, it[0]);
            e->nlist = (size_t)n;
            e->list = track(calloc(3, sizeof *e->list));
            memcpy(e->list, it, sizeof it);
            return e;
        }
        return g_bool(g, d - 1);
    }
    return B(0);
}

/* ---- printing a tree as YARA text ---------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf_t;

static void sb(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)k + 1 > b->cap) {
        b->cap = (b->n + (size_t)k + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            exit(2);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

static const char *sname(int s)
{
    static const char *const names[NSTR] = {"a", "b", "c"};
    return s < 0 ? "" : names[s];
}

static void print_expr(sbuf_t *b, const weir__expr_t *e);

static void print_set(sbuf_t *b, const weir__expr_t *e)
{
    if (e->nstrs == NSTR) {
        sb(b, "them");
        return;
    }
    sb(b, "(");
    for (size_t i = 0; i < e->nstrs; i++)
        sb(b, "%s$%s", i ? ", " : "", sname((int)e->strs[i]));
    sb(b, ")");
}

static void print_quant(sbuf_t *b, const weir__expr_t *e)
{
    if (e->quant == QX) {
        sb(b, "(");
        print_expr(b, e->a);
        sb(b, ")");
    } else {
        sb(b, "%s", e->quant == ALL ? "all" : e->quant == ANY ? "any" : "none");
    }
}

static void print_expr(sbuf_t *b, const weir__expr_t *e)
{
    static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!=", "+", "-",
                                      "*", "\\", "%", "<<", ">>", "&",  "|", "^"};
    const char *s = sname(e->str);
    switch (e->op) {
    case WEIR__E_BOOL:
        sb(b, "%s", e->ival ? "true" : "false");
        break;
    case WEIR__E_INT:
        sb(b, "(%" PRId64 ")", e->ival);
        break;
    case WEIR__E_TEXT:
        sb(b, "\"%s\"", e->text);
        break;
    case WEIR__E_FILESIZE:
        sb(b, "filesize");
        break;
    case WEIR__E_RULE:
        sb(b, "%s", e->ival ? "f" : "s");
        break;
    case WEIR__E_VAR:
        sb(b, "i%d", (int)e->ival);
        break;
    case WEIR__E_STR_FOUND:
        sb(b, "($%s)", s);
        break;
    case WEIR__E_STR_COUNT:
        sb(b, "(#%s)", s);
        break;
    case WEIR__E_STR_OFFSET:
    case WEIR__E_STR_LENGTH:
        sb(b, "(%c%s", e->op == WEIR__E_STR_OFFSET ? '@' : '!', s);
        if (e->a) {
            sb(b, "[");
            print_expr(b, e->a);
            sb(b, "]");
        }
        sb(b, ")");
        break;
    case WEIR__E_STR_AT:
        sb(b, "($%s at ", s);
        print_expr(b, e->a);
        sb(b, ")");
        break;
    case WEIR__E_STR_IN:
    case WEIR__E_STR_COUNT_IN:
        sb(b, "(%c%s in ((", e->op == WEIR__E_STR_IN ? '$' : '#', s);
        print_expr(b, e->a);
        sb(b, ")..(");
        print_expr(b, e->b);
        sb(b, ")))");
        break;
    case WEIR__E_NOT:
    case WEIR__E_NEG:
    case WEIR__E_BITNOT:
        sb(b, "(%s(", e->op == WEIR__E_NOT ? "not " : e->op == WEIR__E_NEG ? "-" : "~");
        print_expr(b, e->a);
        sb(b, "))");
        break;
    case WEIR__E_AND:
    case WEIR__E_OR:
        sb(b, "((");
        print_expr(b, e->a);
        sb(b, ") %s (", e->op == WEIR__E_AND ? "and" : "or");
        print_expr(b, e->b);
        sb(b, "))");
        break;
    case WEIR__E_OF:
        sb(b, "(");
        print_quant(b, e);
        sb(b, " of ");
        print_set(b, e);
        sb(b, ")");
        break;
    case WEIR__E_FOR_OF:
        sb(b, "(for ");
        print_quant(b, e);
        sb(b, " of ");
        print_set(b, e);
        sb(b, " : (");
        print_expr(b, e->b);
        sb(b, "))");
        break;
    case WEIR__E_FOR_IN:
        sb(b, "(for ");
        print_quant(b, e);
        sb(b, " i%d in (", (int)e->ival);
        for (size_t i = 0; i < e->nlist; i++) {
            sb(b, "%s(", i == 0 ? "" : e->is_range ? ").." : "), ");
            print_expr(b, e->list[i]);
        }
        sb(b, ")) : (");
        print_expr(b, e->b);
        sb(b, "))");
        break;
    default:
        sb(b, "((");
        print_expr(b, e->a);
        sb(b, ") %s (", ops[e->op - WEIR__E_LT]);
        print_expr(b, e->b);
        sb(b, "))");
        break;
    }
}

TEST(printer)
{
    sbuf_t b = {NULL, 0, 0};
    weir__expr_t *e = FORR(ANY, NULL, 0, I(1), CNT(0),
                           AND(EQ(OFF(0, VAR(0)), I(-4)), FOROF(QX, I(2), "012", FOUND(-1))));
    print_expr(&b, e);
    int same = b.p && strcmp(b.p, "(for any i0 in (((1))..((#a))) : ((((((@a[i0])) == ((-4)))) "
                                  "and ((for ((2)) of them : (($)))))))") == 0;
    if (!same)
        T__FAIL("printed %s", b.p);
    free(b.p);
    free_all();
}

/* ---- the differential test against yara --------------------------------------- */

#define BATCH 25

static char tmpdir[64];

/* Runs yara on rules and data; returns its output (caller frees) and *status. */
static char *run_yara(const char *rules, int *status)
{
    char path[128], cmd[512];
    snprintf(path, sizeof path, "%s/rules.yar", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(rules, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "yara -s -w %s/rules.yar %s/data 2>&1", tmpdir, tmpdir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    sbuf_t out = {NULL, 0, 0};
    char line[4096];
    sb(&out, "%s", "");
    while (fgets(line, sizeof line, p))
        sb(&out, "%s", line);
    *status = pclose(p);
    return out.p;
}

static void rules_prelude(sbuf_t *r)
{
    sb(r, "rule s { strings: $a = \"ab\" $b = \"c\" $c = \"ba\" condition: true or any of them }\n"
          "rule f { condition: false }\n");
}

static void add_rule(sbuf_t *r, int k, const weir__expr_t *cond)
{
    sb(r, "rule t%d { strings: $a = \"ab\" $b = \"c\" $c = \"ba\" condition: ", k);
    print_expr(r, cond);
    sb(r, " }\n");
}

/* Whether rule t<k> is in yara's output. */
static int yara_says(const char *out, int k)
{
    char name[32];
    size_t n = (size_t)snprintf(name, sizeof name, "t%d ", k);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, name, n) == 0)
            return 1;
    return 0;
}

/* Fills ml[] from the matches yara printed for rule s. */
static void matches_from(const char *out)
{
    int in_s = 0;
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        unsigned long long off;
        char id;
        if (strncmp(l, "0x", 2) != 0)
            in_s = strncmp(l, "s ", 2) == 0;
        else if (in_s && sscanf(l, "0x%llx:$%c:", &off, &id) == 2 && id >= 'a' && id <= 'c')
            add_match(id - 'a', off, (uint32_t)strlen(lits[id - 'a']));
    }
}

TEST(differential_yara)
{
    FILE *v = popen("yara --version 2>/dev/null", "r");
    char ver[64] = "";
    if (v) {
        if (!fgets(ver, sizeof ver, v))
            ver[0] = '\0';
        pclose(v);
    }
    if (strncmp(ver, "4.", 2) != 0) {
        T__FAIL("the yara command (4.x) is needed for the differential test; got \"%s\"", ver);
        return;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/weir_test_cond_XXXXXX");
    ASSERT(mkdtemp(tmpdir) != NULL);
    /* WEIR_TEST_ROUNDS and WEIR_TEST_SEED explore further than the default run. */
    int rounds = getenv("WEIR_TEST_ROUNDS") ? atoi(getenv("WEIR_TEST_ROUNDS")) : 16;
    uint64_t seed = getenv("WEIR_TEST_SEED") ? strtoull(getenv("WEIR_TEST_SEED"), NULL, 0) : 0;
    gen_t g = {0x5eed5eed1234ULL ^ seed, 0, 0, 0, {0}};
    int compared = 0, skipped = 0, mismatched = 0, trues = 0, refused = 0;
    for (int round = 0; round < rounds; round++) {
        char path[128];
        char data[32];
        int len = round == 0 ? 0 : rn(&g, 24) + 1;
        for (int i = 0; i < len; i++)
            data[i] = "abc"[rn(&g, 3)];
        snprintf(path, sizeof path, "%s/data", tmpdir);
        FILE *f = fopen(path, "wb");
        ASSERT(f != NULL);
        fwrite(data, 1, (size_t)len, f);
        fclose(f);

        /* the matches, from rule s alone */
        sbuf_t rules = {NULL, 0, 0};
        int status = 0;
        rules_prelude(&rules);
        char *out = run_yara(rules.p, &status);
        ASSERT(out != NULL && status == 0);
        ctx_reset((uint64_t)len);
        rtrue[0] = 1; /* rule s */
        matches_from(out);
        free(out);
        rules.n = 0;

        weir__expr_t *conds[BATCH];
        rules_prelude(&rules);
        for (int k = 0; k < BATCH; k++) {
            /* "or (false and all of them)" references every string, as yara wants */
            conds[k] = OR(g_bool(&g, 1 + rn(&g, 4)), AND(B(0), OF(ALL, NULL, "012")));
            add_rule(&rules, k, conds[k]);
        }
        out = run_yara(rules.p, &status);
        ASSERT(out != NULL);
        int batch_ok = status == 0 && !strstr(out, "error");
        for (int k = 0; k < BATCH; k++) {
            char *one = NULL;
            int yes;
            if (batch_ok) {
                yes = yara_says(out, k);
            } else {
                /* Find the rules yara refuses or dies on, and skip only those. */
                sbuf_t r1 = {NULL, 0, 0};
                rules_prelude(&r1);
                add_rule(&r1, k, conds[k]);
                one = run_yara(r1.p, &status);
                free(r1.p);
                if (one && strstr(one, "error: rule")) {
                    /* yara refuses it (a constant error): so must we */
                    weir__code_t code = {0};
                    uint32_t entry;
                    if (weir__cond_compile(&code, conds[k], 0, rmap, NULL, NULL, &entry) == 0) {
                        sbuf_t t = {NULL, 0, 0};
                        print_expr(&t, conds[k]);
                        T__FAIL("yara refuses, weir compiles: %s: %s", t.p, one);
                        free(t.p);
                        mismatched++;
                    }
                    weir__code_free(&code);
                    refused++;
                    free(one);
                    continue;
                }
                if (!one || status != 0 || strstr(one, "error")) {
                    if (getenv("WEIR_TEST_VERBOSE")) {
                        sbuf_t t = {NULL, 0, 0};
                        print_expr(&t, conds[k]);
                        fprintf(stderr, "  skipped (%d): %s  %s\n", status, one ? one : "?", t.p);
                        free(t.p);
                    }
                    skipped++;
                    free(one);
                    continue;
                }
                yes = yara_says(one, k);
                free(one);
            }
            weir__code_t code = {0};
            uint32_t entry;
            int oos = 0, mine = -1;
            if (weir__cond_compile(&code, conds[k], 0, rmap, NULL, NULL, &entry) == 0)
                mine = weir__cond_eval(&code, entry, &ctx, &oos);
            weir__code_free(&code);
            compared++;
            trues += yes;
            if (mine != yes || oos) {
                sbuf_t t = {NULL, 0, 0};
                print_expr(&t, conds[k]);
                T__FAIL("data \"%.*s\": yara %d, weir %d%s: %s", len, data, yes, mine,
                        oos ? " (out of steps)" : "", t.p);
                free(t.p);
                mismatched++;
            }
        }
        free(out);
        free(rules.p);
        free_all();
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", tmpdir);
    fprintf(stderr,
            "  differential: %d conditions compared with yara %.*s (%d true), %d refused by "
            "both, %d skipped\n",
            compared, (int)strcspn(ver, "\n"), ver, trues, refused, skipped);
    ASSERT_INT_EQ(mismatched, 0);
    ASSERT(compared >= rounds * BATCH * 3 / 4);
    ASSERT(skipped * 10 <= compared);
    ASSERT(trues * 5 >= compared && trues * 5 <= 4 * compared);
}

/* ---- monotonicity, checked on random growing streams ---------------------------- */

TEST(monotone_sound)
{
    uint64_t seed = getenv("WEIR_TEST_SEED") ? strtoull(getenv("WEIR_TEST_SEED"), NULL, 0) : 0;
    gen_t g = {0xfeedbeefULL ^ seed, 0, 0, 0, {0}};
    int monotone = 0, flips = 0;
    int total = getenv("WEIR_TEST_ROUNDS") ? 200 * atoi(getenv("WEIR_TEST_ROUNDS")) : 3000;
    for (int k = 0; k < total; k++) {
        weir__expr_t *e = g_bool(&g, 1 + rn(&g, 4));
        weir__code_t code = {0};
        uint32_t entry;
        static const uint8_t rm[2] = {1, 0};
        int mono = weir__cond_monotone(e, rm);
        if (weir__cond_compile(&code, e, 0, rmap, NULL, NULL, &entry) != 0) {
            weir__code_free(&code); /* a constant error, as yara would say */
            continue;
        }
        monotone += mono;
        for (int run = 0; mono && run < 4; run++) {
            /* A stream that grows: filesize rises, matches are added anywhere. */
            uint64_t fs = (uint64_t)rn(&g, 4);
            ctx_reset(fs);
            rtrue[0] = 1;
            int was = 0;
            for (int step = 0; step < 8; step++) {
                int oos = 0, now = weir__cond_eval(&code, entry, &ctx, &oos);
                if (oos)
                    break;
                if (was && !now) {
                    sbuf_t t = {NULL, 0, 0};
                    print_expr(&t, e);
                    T__FAIL("classified monotone but went true -> false: %s", t.p);
                    free(t.p);
                    flips++;
                    break;
                }
                was = now;
                ctx.filesize = fs += (uint64_t)rn(&g, 6);
                for (int m = rn(&g, 4); m > 0; m--) {
                    int s = rn(&g, NSTR);
                    uint32_t l = (uint32_t)strlen(lits[s]);
                    if (fs >= l)
                        add_match(s, (uint64_t)rn(&g, (int)(fs - l + 1)), l);
                }
            }
        }
        weir__code_free(&code);
        if (flips > 5)
            break;
        if (k % 100 == 99)
            free_all();
    }
    free_all();
    fprintf(stderr, "  monotone: %d of %d random conditions classified monotone\n", monotone,
            total);
    ASSERT_INT_EQ(flips, 0);
    ASSERT(monotone * 10 >= total);
}

TEST_MAIN(TEST_ENTRY(arithmetic), TEST_ENTRY(undefined), TEST_ENTRY(integer_reads),
          TEST_ENTRY(strings), TEST_ENTRY(rules_and_text), TEST_ENTRY(of), TEST_ENTRY(for_of),
          TEST_ENTRY(for_in), TEST_ENTRY(step_budget), TEST_ENTRY(compile_errors),
          TEST_ENTRY(shared_code), TEST_ENTRY(deep), TEST_ENTRY(monotone_examples),
          TEST_ENTRY(referenced_strings), TEST_ENTRY(printer), TEST_ENTRY(differential_yara),
          TEST_ENTRY(monotone_sound))
