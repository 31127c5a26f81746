/*
 * re_int.h - internals shared by re.c (parser, IR, pattern text, serialization) and re_vm.c
 * (program compiler and the fiber matcher modelled on YARA's libyara/re.c executor).
 */
#ifndef WEIR_RE_INT_H
#define WEIR_RE_INT_H

#include "re.h"

#include <stdint.h>

/* IR node kinds. */
enum {
    RN_SET = 1, /* one byte from set[] */
    RN_EMPTY,   /* matches the empty string */
    RN_BOL,     /* ^ : absolute stream offset 0 */
    RN_EOL,     /* $ : end of the stream */
    RN_WB,      /* \b (wide != 0: two-byte characters) */
    RN_NWB,     /* \B */
    RN_CAT,     /* kids in order */
    RN_ALT,     /* kids in priority order */
    RN_REP      /* kid[0] repeated min..max times (max WEIR__RE_UNBOUNDED), greedy or lazy */
};

typedef struct rnode {
    uint8_t type;
    uint8_t greedy;
    uint8_t wide;
    uint8_t jump; /* RN_REP from a hex jump (for chaining detection and pattern text) */
    uint32_t min, max;
    uint32_t nkids;
    struct rnode **kids;
    uint8_t set[32];
} rnode_t;

/* Program instructions. */
enum {
    OP_LIT = 1, /* arg: byte */
    OP_SET,     /* arg: index into prog.sets */
    OP_SPLIT_A, /* x: target, id: split id; continue at next first, then at x */
    OP_SPLIT_B, /* same, x first */
    OP_JMP,     /* x */
    OP_RSTART,  /* min, max, greedy, x: exit; pushes a counter (min == 0: may skip to x) */
    OP_REND,    /* min, max, greedy, x: loop body start; pops when leaving */
    OP_BOL,
    OP_EOL,
    OP_WB,  /* arg: 1 wide */
    OP_NWB, /* arg: 1 wide */
    OP_MATCH
};

typedef struct rinst {
    uint8_t op;
    uint8_t greedy;
    uint16_t arg;
    uint32_t id; /* split id */
    int32_t x;
    uint32_t min, max;
} rinst_t;

typedef struct rprog {
    rinst_t *code;
    size_t n, cap;
    uint8_t (*sets)[32];
    size_t nsets, setcap;
    uint32_t nsplits;
    uint32_t depth; /* deepest nesting of counted repeats (stack size) */
} rprog_t;

struct weir__re {
    rnode_t *root;
    uint32_t min_len, max_len;
    uint8_t is_hex;
    uint8_t needs_ctx;
    uint8_t chaining;
    uint8_t *lit; /* when a plain literal */
    size_t lit_len;
    int is_lit;
    rprog_t fwd, bwd;
};

rnode_t *weir__rn_new(uint8_t type);
void weir__rn_free(rnode_t *n);
int weir__rn_add(rnode_t *parent, rnode_t *kid);

/* Compiles re->root into re->fwd (forward) and re->bwd (reversed); computes lengths.
   Returns 0 or -1 on OOM. */
int weir__re_finish(weir__re_t *re);
void weir__rprog_free(rprog_t *p);
int weir__rprog_compile(rprog_t *p, const rnode_t *root, int backwards);

#endif /* WEIR_RE_INT_H */
