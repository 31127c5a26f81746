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

/* How YARA's parser saw an RN_SET (it decides whether the byte can be part of an atom). */
enum {
    YK_CLASS = 0, /* a class, \w, \s...: never in an atom */
    YK_BYTE       /* a literal, masked literal (hex X? ?X) or any byte (. ??): yval/ymask */
};

/* Which of YARA's repeat nodes an RN_REP came from (its code layout and atoms differ). */
enum {
    YF_RANGE = 0, /* e{n,m}, e? (RE_NODE_RANGE) */
    YF_STAR,      /* e* */
    YF_PLUS,      /* e+ */
    YF_ANYRANGE   /* .{n,m}, .? and hex jumps (RE_NODE_RANGE_ANY) */
};

typedef struct rnode {
    uint8_t type;
    uint8_t greedy;
    uint8_t wide;
    uint8_t jump; /* RN_REP from a hex jump (for chaining detection and pattern text);
                     2 on the RN_SET of a regex dot */
    uint8_t yk;   /* RN_SET: YK_* */
    uint8_t yval; /* RN_SET, YK_BYTE: YARA's literal value (as written) and mask */
    uint8_t ymask;
    uint8_t yform; /* RN_REP: YF_* */
    uint8_t wz;    /* RN_SET: the \x00 that "wide" appended to a byte */
    int32_t fref;  /* set by the compiler: where YARA's forward code for this node starts */
    int32_t bref;  /* ...and where its backward code goes on after it (-1: none) */
    uint32_t min, max;
    uint32_t nkids;
    struct rnode **kids;
    uint8_t set[32];
} rnode_t;

/* One of YARA's atoms: a literal the scan looks for, with the code run from each occurrence. */
typedef struct ratom {
    rnode_t *node;  /* the IR byte where the atom starts */
    int32_t fip;    /* forward program entry (re->fwd) */
    int32_t bip;    /* backward program entry (re->bwd) */
    uint32_t alen;  /* bytes of the atom in the data (wide: interleaved zeros count) */
    uint32_t maxb;  /* longest backward part, capped at WEIR__RE_SCAN_LIMIT */
    uint32_t order; /* rank among atoms ending at the same offset (YARA's match-list order) */
    uint32_t tok;   /* fast hex strings: the index of node among the root's kids */
    const uint8_t *sets[4]; /* the atom's bytes: each in its set (NULL: any byte)... */
    uint8_t zero[4];        /* ...or, for the zeros "wide" interleaves, 0x00 */
} ratom_t;

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
    /* YARA's atom model (re_atoms.c). natoms == 0: YARA's zero-length atom, tried at every
       offset with the forward code from zref and no backward part. */
    ratom_t *atoms; /* in trigger order for one end offset */
    uint32_t natoms;
    int32_t zref;
    uint32_t maxb;  /* largest atoms[].maxb */
    uint32_t limit; /* longest match YARA can report */
    uint8_t greedy; /* STRING_FLAGS_GREEDY_REGEXP: a later match at an offset replaces it */
    uint8_t fast;   /* STRING_FLAGS_FAST_REGEXP: a hex string without alternatives, whose
                       forward code YARA runs with yr_re_fast_exec (re_vm.c, fast_run) */
    uint8_t wide;
};

rnode_t *weir__rn_new(uint8_t type);
void weir__rn_free(rnode_t *n);
int weir__rn_add(rnode_t *parent, rnode_t *kid);

/* Compiles re->root into re->fwd (forward) and re->bwd (reversed); computes lengths.
   Returns 0 or -1 on OOM. */
int weir__re_finish(weir__re_t *re);
void weir__rprog_free(rprog_t *p);
/* Compiles root; records YARA's code refs in the nodes (fref forward, bref backward). */
int weir__rprog_compile(rprog_t *p, rnode_t *root, int backwards);

/* 1 when YARA refuses root as "too complex": some piece of it (the whole, unless it is chained)
   would need more than WEIR__RE_MAX_SPLITS split instructions. */
int weir__re_too_complex(const rnode_t *root);

/* Chooses YARA's atoms for re (after both programs are compiled): fills re->atoms, natoms,
   zref, maxb.  0, or -1 on OOM. */
int weir__re_atoms(weir__re_t *re);

#endif /* WEIR_RE_INT_H */
