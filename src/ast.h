/*
 * ast.h - the syntax tree of a YARA source, as the parser builds it and the
 * compiler consumes it.  Every node records where it came from, so that any
 * later error can still say file:line:column.
 */
#ifndef WEIR_AST_H
#define WEIR_AST_H

#include <stddef.h>
#include <stdint.h>

/* A place in a source: file is an index into weir__ast_t.files. */
typedef struct weir__loc {
    uint32_t file;
    uint32_t line;   /* 1-based */
    uint32_t column; /* 1-based, bytes */
} weir__loc_t;

/* ---- strings ------------------------------------------------------------ */

typedef enum weir__str_kind {
    WEIR__STR_TEXT = 0, /* "..."  value = decoded bytes                        */
    WEIR__STR_HEX = 1,  /* { .. } value = text between the braces, verbatim     */
    WEIR__STR_REGEX = 2 /* /../   value = text between the slashes, verbatim    */
} weir__str_kind_t;

/* String modifiers (weir__ast_string_t.mods). */
#define WEIR__MOD_NOCASE 0x0001u
#define WEIR__MOD_WIDE 0x0002u
#define WEIR__MOD_ASCII 0x0004u
#define WEIR__MOD_FULLWORD 0x0008u
#define WEIR__MOD_PRIVATE 0x0010u
#define WEIR__MOD_XOR 0x0020u
#define WEIR__MOD_BASE64 0x0040u
#define WEIR__MOD_BASE64WIDE 0x0080u

/* Regular expression flags after the closing slash (weir__ast_string_t.re_flags). */
#define WEIR__RE_NOCASE 0x1u /* /.../i */
#define WEIR__RE_DOTALL 0x2u /* /.../s */

typedef struct weir__ast_string {
    char *id; /* "$a", or "$" for an anonymous string          */
    weir__str_kind_t kind;
    uint8_t *value; /* see weir__str_kind_t; NUL-terminated too      */
    size_t len;
    uint32_t mods;          /* WEIR__MOD_*                                   */
    uint32_t re_flags;      /* WEIR__RE_*                                    */
    uint8_t xor_lo, xor_hi; /* xor range when WEIR__MOD_XOR                  */
    uint8_t *alphabet;      /* base64 alphabet (64 bytes), NULL: the standard */
    weir__loc_t loc;        /* of the identifier                             */
    weir__loc_t value_loc;  /* of the first byte of value in the source:
                               for hex, the byte after '{'; for a regex, the
                               byte after the opening '/'                     */
} weir__ast_string_t;

/* ---- meta ---------------------------------------------------------------- */

typedef enum weir__meta_type {
    WEIR__META_STRING = 0,
    WEIR__META_INTEGER = 1,
    WEIR__META_BOOLEAN = 2
} weir__meta_type_t;

typedef struct weir__ast_meta {
    char *key;
    weir__meta_type_t type;
    char *string; /* decoded, NUL-terminated (may contain NUL bytes) */
    size_t string_len;
    int64_t integer; /* integer, or boolean 0/1 */
    weir__loc_t loc;
} weir__ast_meta_t;

/* ---- conditions ---------------------------------------------------------- */

/* Integer reads (uint8(o) ... int32be(o)): size in bytes | signed | big endian. */
#define WEIR__READ_SIZE 0x7u
#define WEIR__READ_SIGNED 0x8u
#define WEIR__READ_BE 0x10u

typedef enum weir__op {
    /* leaves */
    WEIR__E_BOOL, /* ival: 0 or 1                                       */
    WEIR__E_INT,  /* ival                                               */
    WEIR__E_TEXT, /* text literal in a condition: text, text_len        */
    WEIR__E_FILESIZE,
    WEIR__E_RULE, /* ival: index of an earlier rule in weir__ast_t.rules */
    WEIR__E_VAR,  /* ival: loop-variable slot (0 = outermost loop)      */
    WEIR__E_READ, /* integer read: ival = WEIR__READ_*, a = offset      */

    /* string references: str = string index within the rule, or -1 for the
       anonymous string of an enclosing `for ... of` ($, #, @, !)            */
    WEIR__E_STR_FOUND,    /* $a                                              */
    WEIR__E_STR_COUNT,    /* #a                                              */
    WEIR__E_STR_COUNT_IN, /* #a in (a..b)                                    */
    WEIR__E_STR_OFFSET,   /* @a[a]  (a is NULL for plain @a, meaning [1])    */
    WEIR__E_STR_LENGTH,   /* !a[a]  (a is NULL for plain !a, meaning [1])    */
    WEIR__E_STR_AT,       /* $a at a                                         */
    WEIR__E_STR_IN,       /* $a in (a..b)                                    */

    /* unary: a */
    WEIR__E_NOT,
    WEIR__E_DEFINED, /* defined a: whether a's value is defined */
    WEIR__E_NEG,     /* -a */
    WEIR__E_BITNOT,  /* ~a */

    /* binary: a OP b */
    WEIR__E_AND,
    WEIR__E_OR,
    WEIR__E_LT,
    WEIR__E_LE,
    WEIR__E_GT,
    WEIR__E_GE,
    WEIR__E_EQ,
    WEIR__E_NE,
    WEIR__E_ADD,
    WEIR__E_SUB,
    WEIR__E_MUL,
    WEIR__E_DIV, /* `\` */
    WEIR__E_MOD,
    WEIR__E_SHL,
    WEIR__E_SHR,
    WEIR__E_BAND,
    WEIR__E_BOR,
    WEIR__E_BXOR,

    /* quantified: quant (+ a for WEIR__Q_EXPR), string set strs/nstrs */
    WEIR__E_OF,     /* QUANT of (set)                                          */
    WEIR__E_FOR_OF, /* for QUANT of (set) : (b)     b uses str == -1 refs       */
    WEIR__E_FOR_IN, /* for QUANT VAR in ITER : (b)  ival = slot of VAR;
                       ITER is a range (list[0]..list[1], is_range = 1) or an
                       enumeration list[0..nlist-1] (is_range = 0)            */

    /* external variables and the string operators */
    WEIR__E_EXT,      /* ival: index in weir__ast_t.vars; str: 1 for a string variable,
                         0 for an integer or boolean one (YARA treats booleans as 0/1) */
    WEIR__E_REGEX,    /* /re/ after `matches`: text, text_len (verbatim), ival = WEIR__RE_* */
    WEIR__E_CONTAINS, /* a OP b, both strings (b a regex for MATCHES) */
    WEIR__E_ICONTAINS,
    WEIR__E_STARTSWITH,
    WEIR__E_ISTARTSWITH,
    WEIR__E_ENDSWITH,
    WEIR__E_IENDSWITH,
    WEIR__E_IEQUALS,
    WEIR__E_MATCHES,

    /* QUANT of (rule, prefix*, ...): quant (+ a), strs = indices in weir__ast_t.rules of the
       members, repeats kept (YARA counts them twice); WEIR__SELF_RULE for the rule itself */
    WEIR__E_OF_RULES
} weir__op_t;

#define WEIR__SELF_RULE UINT32_MAX

/* 1 for the string operators contains .. matches. */
#define WEIR__IS_STRING_OP(op) ((op) >= WEIR__E_CONTAINS && (op) <= WEIR__E_MATCHES)

typedef enum weir__quant {
    WEIR__Q_ALL,
    WEIR__Q_ANY,
    WEIR__Q_NONE,
    WEIR__Q_EXPR,   /* the count is expression a */
    WEIR__Q_PERCENT /* a percentage of the set, expression a (N% of SET) */
} weir__quant_t;

typedef struct weir__expr weir__expr_t;

struct weir__expr {
    weir__op_t op;
    weir__loc_t loc;
    int64_t ival;
    int32_t str; /* string references, see above                    */
    weir__expr_t *a, *b, *c;
    weir__quant_t quant; /* WEIR__E_OF, FOR_OF, FOR_IN                       */
    uint32_t *strs;      /* string set, indices within the rule, no repeats */
    size_t nstrs;
    weir__expr_t **list; /* FOR_IN iterator                                  */
    size_t nlist;
    int is_range; /* FOR_IN: 1 for (lo..hi), 0 for (a, b, c)          */
    char *text;   /* WEIR__E_TEXT                                     */
    size_t text_len;
};

/* ---- rules ---------------------------------------------------------------- */

#define WEIR__RULE_PRIVATE 0x1u
#define WEIR__RULE_GLOBAL 0x2u

typedef struct weir__ast_rule {
    char *name;
    char *ns;       /* namespace name                                 */
    uint32_t flags; /* WEIR__RULE_*                                   */
    char **tags;
    size_t ntags;
    weir__ast_meta_t *meta;
    size_t nmeta;
    weir__ast_string_t *strings;
    size_t nstrings;
    weir__expr_t *cond;
    weir__loc_t loc; /* of the rule name                              */
} weir__ast_rule_t;

/* A declared external variable, as the parser sees it. */
typedef enum weir__var_kind { WEIR__VAR_INT = 0, WEIR__VAR_STRING = 1 } weir__var_kind_t;
typedef struct weir__ast_var {
    const char *name;
    weir__var_kind_t kind; /* booleans are integers 0/1, as in YARA */
} weir__ast_var_t;

/* A parsed compilation: every rule of every source, in order. */
typedef struct weir__ast {
    /* External variables the conditions may use: set by the caller before parsing,
       not owned (weir__ast_free leaves them). */
    const weir__ast_var_t *vars;
    size_t nvars;

    weir__ast_rule_t *rules;
    size_t nrules;
    char **files; /* source names, indexed by weir__loc_t.file */
    size_t nfiles;
    /* Source text of each file, kept so that later diagnostics can quote the
       offending line. */
    char **texts;
    size_t *text_lens;
} weir__ast_t;

#endif /* WEIR_AST_H */
