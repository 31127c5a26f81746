/*
 * lexer.h - splits YARA rule text into tokens for the parser.  Hex strings and
 * regular expressions are read on the parser's request, since only the parser
 * knows when a '{' or '/' opens one.
 */
#ifndef WEIR_LEXER_H
#define WEIR_LEXER_H

#include "ast.h"
#include "weir.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Longest identifier, as YARA: rule names, tags, meta keys, string names. */
#define WEIR__MAX_IDENT 128

typedef enum weir__tok {
    WEIR__T_EOF,
    WEIR__T_ERROR, /* a lexical error, already reported */

    WEIR__T_IDENT,         /* foo                                       */
    WEIR__T_STRING_ID,     /* $a, or $ alone                             */
    WEIR__T_STRING_WILD,   /* $a*, $*                                    */
    WEIR__T_STRING_COUNT,  /* #a, #                                      */
    WEIR__T_STRING_OFFSET, /* @a, @                                      */
    WEIR__T_STRING_LENGTH, /* !a, !                                      */
    WEIR__T_INT,           /* ival                                       */
    WEIR__T_DOUBLE,        /* 1.5: recognised only to be refused          */
    WEIR__T_TEXT,          /* "..." decoded into the lexer's buffer       */
    WEIR__T_HEX,           /* from weir__lex_hex                          */
    WEIR__T_REGEX,         /* from weir__lex_regex                        */

    /* keywords, in the order of the table in lexer.c */
    WEIR__T_ALL,
    WEIR__T_AND,
    WEIR__T_ANY,
    WEIR__T_ASCII,
    WEIR__T_AT,
    WEIR__T_BASE64,
    WEIR__T_BASE64WIDE,
    WEIR__T_CONDITION,
    WEIR__T_CONTAINS,
    WEIR__T_DEFINED,
    WEIR__T_ENDSWITH,
    WEIR__T_ENTRYPOINT,
    WEIR__T_FALSE,
    WEIR__T_FILESIZE,
    WEIR__T_FOR,
    WEIR__T_FULLWORD,
    WEIR__T_GLOBAL,
    WEIR__T_ICONTAINS,
    WEIR__T_IENDSWITH,
    WEIR__T_IEQUALS,
    WEIR__T_IMPORT,
    WEIR__T_IN,
    WEIR__T_INT_FUNCTION, /* int8 ... uint32be */
    WEIR__T_ISTARTSWITH,
    WEIR__T_MATCHES,
    WEIR__T_META,
    WEIR__T_NOCASE,
    WEIR__T_NONE,
    WEIR__T_NOT,
    WEIR__T_OF,
    WEIR__T_OR,
    WEIR__T_PRIVATE,
    WEIR__T_RULE,
    WEIR__T_STARTSWITH,
    WEIR__T_STRINGS,
    WEIR__T_THEM,
    WEIR__T_TRUE,
    WEIR__T_WIDE,
    WEIR__T_XOR,

    /* punctuation */
    WEIR__T_LPAREN,
    WEIR__T_RPAREN,
    WEIR__T_LBRACE,
    WEIR__T_RBRACE,
    WEIR__T_LBRACKET,
    WEIR__T_RBRACKET,
    WEIR__T_COLON,
    WEIR__T_COMMA,
    WEIR__T_ASSIGN,
    WEIR__T_DOTDOT,
    WEIR__T_DOT,
    WEIR__T_PLUS,
    WEIR__T_MINUS,
    WEIR__T_STAR,
    WEIR__T_BACKSLASH,
    WEIR__T_PERCENT,
    WEIR__T_AMP,
    WEIR__T_PIPE,
    WEIR__T_CARET,
    WEIR__T_TILDE,
    WEIR__T_SHL,
    WEIR__T_SHR,
    WEIR__T_LT,
    WEIR__T_LE,
    WEIR__T_GT,
    WEIR__T_GE,
    WEIR__T_EQ,
    WEIR__T_NE,
    WEIR__T_SLASH
} weir__tok_t;

/* YARA's lexer keeps a text string's bytes, or a regular expression's text, in a buffer of
   8,192 bytes (YR_LEX_BUF_SIZE): longer ones are errors there, and here. */
#define WEIR__LEX_MAX_LITERAL 8190u

typedef struct weir__token {
    weir__tok_t kind;
    weir__loc_t loc;       /* of the first byte                             */
    size_t start, end;     /* the raw token is text[start..end)             */
    int64_t ival;          /* WEIR__T_INT; WEIR__T_HEX: 1 unless the body
                              holds nothing but space and comments       */
    size_t vstart, vlen;   /* WEIR__T_HEX: the value's bytes text[vstart..+vlen);
                              WEIR__T_REGEX: vstart, and vlen bytes in the lexer's buf */
    weir__loc_t value_loc; /* WEIR__T_HEX, WEIR__T_REGEX: of vstart         */
    uint32_t re_flags;     /* WEIR__T_REGEX: WEIR__RE_*                     */
} weir__token_t;

typedef struct weir__lexer {
    const char *text;
    size_t len;
    size_t pos;
    uint32_t file;     /* index in ast->files, for locations         */
    uint32_t line;     /* of pos, 1-based                             */
    size_t line_start; /* offset of the first byte of line            */
    const weir__ast_t *ast;
    weir_diags_t *diags;
    int errors;   /* errors reported through this lexer          */
    int oom;      /* an allocation failed                        */
    int quiet;    /* while skipping after an error: report nothing */
    uint8_t *buf; /* WEIR__T_TEXT: decoded bytes; WEIR__T_REGEX: the value; NUL-terminated */
    size_t buf_len, buf_cap;
} weir__lexer_t;

/* Sets lx up over text[0..len); diagnostics go to diags (may be NULL). */
void weir__lex_init(weir__lexer_t *lx, const char *text, size_t len, uint32_t file,
                    const weir__ast_t *ast, weir_diags_t *diags);
void weir__lex_free(weir__lexer_t *lx);

/* A position of the lexer, to read again from there. */
typedef struct weir__lex_mark {
    size_t pos, line_start;
    uint32_t line;
} weir__lex_mark_t;

weir__lex_mark_t weir__lex_mark(const weir__lexer_t *lx);
void weir__lex_reset(weir__lexer_t *lx, weir__lex_mark_t mark);

/* Reads the next token.  Comments and white space are skipped. */
void weir__lex_next(weir__lexer_t *lx, weir__token_t *tok);

/*
 * Right after a '{' token: reads the body of a hex string up to its '}'
 * (skipping comments), into a WEIR__T_HEX token; WEIR__T_ERROR on a character
 * that has no place in a hex string or a missing '}'.
 */
void weir__lex_hex(weir__lexer_t *lx, weir__token_t *tok);

/*
 * Right after a '/' token: reads a regular expression up to its closing '/'
 * and its flags (i, then s) into a WEIR__T_REGEX token; WEIR__T_ERROR when
 * the line or the text ends first.
 */
void weir__lex_regex(weir__lexer_t *lx, weir__token_t *tok);

/* The location of byte offset off (which must be at or after the line start). */
weir__loc_t weir__lex_loc(const weir__lexer_t *lx, size_t off);

/* Reports an error at loc (unless quiet) and counts it. */
void weir__lex_error(weir__lexer_t *lx, weir__loc_t loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void weir__lex_verror(weir__lexer_t *lx, weir__loc_t loc, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Copies text[start..end) for a message: at most max bytes (out holds max + 1),
   unprintable bytes as '?', "..." at the end when cut. */
void weir__lex_quote(const weir__lexer_t *lx, size_t start, size_t end, char *out, size_t max);

/* What tok is, for "unexpected ...": `identifier "foo"`, `keyword "rule"`, `"{"`... */
void weir__tok_describe(const weir__lexer_t *lx, const weir__token_t *tok, char *out, size_t size);

/* "rule", "(", "identifier"...: what the parser calls a kind of token. */
const char *weir__tok_name(weir__tok_t kind);

/* 1 for keywords. */
int weir__tok_is_keyword(weir__tok_t kind);
/* 1 when word (NUL-terminated) is a keyword, integer functions (uint8...) included. */
int weir__is_keyword(const char *word);

#endif /* WEIR_LEXER_H */
