/*
 * lexer.c - YARA rule text to tokens.  Works on bytes: NULs, invalid UTF-8 and
 * unterminated constructs end in a reported error, never a crash or a hang.
 */
#include "lexer.h"
#include "diag.h"
#include "mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *word;
    weir__tok_t kind;
} keywords[] = {
    {"all", WEIR__T_ALL},
    {"and", WEIR__T_AND},
    {"any", WEIR__T_ANY},
    {"ascii", WEIR__T_ASCII},
    {"at", WEIR__T_AT},
    {"base64", WEIR__T_BASE64},
    {"base64wide", WEIR__T_BASE64WIDE},
    {"condition", WEIR__T_CONDITION},
    {"contains", WEIR__T_CONTAINS},
    {"defined", WEIR__T_DEFINED},
    {"endswith", WEIR__T_ENDSWITH},
    {"entrypoint", WEIR__T_ENTRYPOINT},
    {"false", WEIR__T_FALSE},
    {"filesize", WEIR__T_FILESIZE},
    {"for", WEIR__T_FOR},
    {"fullword", WEIR__T_FULLWORD},
    {"global", WEIR__T_GLOBAL},
    {"icontains", WEIR__T_ICONTAINS},
    {"iendswith", WEIR__T_IENDSWITH},
    {"iequals", WEIR__T_IEQUALS},
    {"import", WEIR__T_IMPORT},
    {"in", WEIR__T_IN},
    {"int8", WEIR__T_INT_FUNCTION},
    {"int16", WEIR__T_INT_FUNCTION},
    {"int32", WEIR__T_INT_FUNCTION},
    {"int8be", WEIR__T_INT_FUNCTION},
    {"int16be", WEIR__T_INT_FUNCTION},
    {"int32be", WEIR__T_INT_FUNCTION},
    {"uint8", WEIR__T_INT_FUNCTION},
    {"uint16", WEIR__T_INT_FUNCTION},
    {"uint32", WEIR__T_INT_FUNCTION},
    {"uint8be", WEIR__T_INT_FUNCTION},
    {"uint16be", WEIR__T_INT_FUNCTION},
    {"uint32be", WEIR__T_INT_FUNCTION},
    {"istartswith", WEIR__T_ISTARTSWITH},
    {"matches", WEIR__T_MATCHES},
    {"meta", WEIR__T_META},
    {"nocase", WEIR__T_NOCASE},
    {"none", WEIR__T_NONE},
    {"not", WEIR__T_NOT},
    {"of", WEIR__T_OF},
    {"or", WEIR__T_OR},
    {"private", WEIR__T_PRIVATE},
    {"rule", WEIR__T_RULE},
    {"startswith", WEIR__T_STARTSWITH},
    {"strings", WEIR__T_STRINGS},
    {"them", WEIR__T_THEM},
    {"true", WEIR__T_TRUE},
    {"wide", WEIR__T_WIDE},
    {"xor", WEIR__T_XOR},
};

const char *weir__tok_name(weir__tok_t kind)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (keywords[i].kind == kind)
            return kind == WEIR__T_INT_FUNCTION ? "integer function" : keywords[i].word;
    switch (kind) {
    case WEIR__T_EOF:
        return "end of file";
    case WEIR__T_ERROR:
        return "invalid token";
    case WEIR__T_IDENT:
        return "identifier";
    case WEIR__T_STRING_ID:
        return "string identifier";
    case WEIR__T_STRING_WILD:
        return "string identifier with wildcard";
    case WEIR__T_STRING_COUNT:
        return "string count";
    case WEIR__T_STRING_OFFSET:
        return "string offset";
    case WEIR__T_STRING_LENGTH:
        return "string length";
    case WEIR__T_INT:
        return "integer number";
    case WEIR__T_DOUBLE:
        return "floating point number";
    case WEIR__T_TEXT:
        return "text string";
    case WEIR__T_HEX:
        return "hex string";
    case WEIR__T_REGEX:
        return "regular expression";
    case WEIR__T_LPAREN:
        return "(";
    case WEIR__T_RPAREN:
        return ")";
    case WEIR__T_LBRACE:
        return "{";
    case WEIR__T_RBRACE:
        return "}";
    case WEIR__T_LBRACKET:
        return "[";
    case WEIR__T_RBRACKET:
        return "]";
    case WEIR__T_COLON:
        return ":";
    case WEIR__T_COMMA:
        return ",";
    case WEIR__T_ASSIGN:
        return "=";
    case WEIR__T_DOTDOT:
        return "..";
    case WEIR__T_DOT:
        return ".";
    case WEIR__T_PLUS:
        return "+";
    case WEIR__T_MINUS:
        return "-";
    case WEIR__T_STAR:
        return "*";
    case WEIR__T_BACKSLASH:
        return "\\";
    case WEIR__T_PERCENT:
        return "%";
    case WEIR__T_AMP:
        return "&";
    case WEIR__T_PIPE:
        return "|";
    case WEIR__T_CARET:
        return "^";
    case WEIR__T_TILDE:
        return "~";
    case WEIR__T_SHL:
        return "<<";
    case WEIR__T_SHR:
        return ">>";
    case WEIR__T_LT:
        return "<";
    case WEIR__T_LE:
        return "<=";
    case WEIR__T_GT:
        return ">";
    case WEIR__T_GE:
        return ">=";
    case WEIR__T_EQ:
        return "==";
    case WEIR__T_NE:
        return "!=";
    case WEIR__T_SLASH:
        return "/";
    default:
        return "token";
    }
}

int weir__is_keyword(const char *word)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strcmp(keywords[i].word, word) == 0)
            return 1;
    return 0;
}

int weir__tok_is_keyword(weir__tok_t kind)
{
    return kind >= WEIR__T_ALL && kind <= WEIR__T_XOR;
}

void weir__lex_quote(const weir__lexer_t *lx, size_t start, size_t end, char *out, size_t max)
{
    size_t n = end - start, i;
    for (i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)lx->text[start + i];
        out[i] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
    }
    if (n > max && max >= 3)
        memcpy(out + max - 3, "...", 3);
    out[i] = '\0';
}

void weir__tok_describe(const weir__lexer_t *lx, const weir__token_t *tok, char *out, size_t size)
{
    char raw[48];
    weir__tok_t k = tok->kind;
    weir__lex_quote(lx, tok->start, tok->end, raw, 40);
    if (k == WEIR__T_EOF)
        snprintf(out, size, "end of file");
    else if (weir__tok_is_keyword(k))
        snprintf(out, size, "keyword \"%s\"", raw);
    else if (k == WEIR__T_TEXT)
        snprintf(out, size, "text string %s", raw);
    else if (k >= WEIR__T_IDENT && k <= WEIR__T_REGEX)
        snprintf(out, size, "%s \"%s\"", weir__tok_name(k), raw);
    else
        snprintf(out, size, "\"%s\"", raw);
}

void weir__lex_init(weir__lexer_t *lx, const char *text, size_t len, uint32_t file,
                    const weir__ast_t *ast, weir_diags_t *diags)
{
    memset(lx, 0, sizeof *lx);
    lx->text = text;
    lx->len = len;
    lx->file = file;
    lx->line = 1;
    lx->ast = ast;
    lx->diags = diags;
}

void weir__lex_free(weir__lexer_t *lx)
{
    weir__free(NULL, lx->buf, lx->buf_cap);
    lx->buf = NULL;
    lx->buf_len = lx->buf_cap = 0;
}

weir__lex_mark_t weir__lex_mark(const weir__lexer_t *lx)
{
    weir__lex_mark_t m = {lx->pos, lx->line_start, lx->line};
    return m;
}

void weir__lex_reset(weir__lexer_t *lx, weir__lex_mark_t mark)
{
    lx->pos = mark.pos;
    lx->line_start = mark.line_start;
    lx->line = mark.line;
}

weir__loc_t weir__lex_loc(const weir__lexer_t *lx, size_t off)
{
    weir__loc_t loc = {lx->file, lx->line, (uint32_t)(off - lx->line_start + 1)};
    return loc;
}

void weir__lex_verror(weir__lexer_t *lx, weir__loc_t loc, const char *fmt, va_list ap)
{
    if (lx->quiet)
        return;
    lx->errors++;
    if (weir__diag_vadd(lx->diags, WEIR_SEV_ERROR, lx->ast, loc, fmt, ap) != 0)
        lx->oom = 1;
}

void weir__lex_error(weir__lexer_t *lx, weir__loc_t loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    weir__lex_verror(lx, loc, fmt, ap);
    va_end(ap);
}

/* A byte as it can be quoted in a message: 'c', or 0xNN when not printable. */
static const char *show_byte(unsigned char c, char out[8])
{
    if (c > 0x20 && c < 0x7f && c != '\'')
        snprintf(out, 8, "'%c'", c);
    else
        snprintf(out, 8, "0x%02x", c);
    return out;
}

static int peek(const weir__lexer_t *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? (unsigned char)lx->text[lx->pos + ahead] : -1;
}

/* Consumes one byte, counting lines. */
static void advance(weir__lexer_t *lx)
{
    if (lx->text[lx->pos] == '\n') {
        lx->line++;
        lx->line_start = lx->pos + 1;
    }
    lx->pos++;
}

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Skips white space and comments; reports a comment left open at the end. */
static void skip_space(weir__lexer_t *lx)
{
    while (lx->pos < lx->len) {
        int c = peek(lx, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
            advance(lx);
        } else if (c == '/' && peek(lx, 1) == '/') {
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n')
                lx->pos++;
        } else if (c == '/' && peek(lx, 1) == '*') {
            weir__loc_t start = weir__lex_loc(lx, lx->pos);
            lx->pos += 2;
            while (lx->pos < lx->len && !(peek(lx, 0) == '*' && peek(lx, 1) == '/'))
                advance(lx);
            if (lx->pos >= lx->len) {
                weir__lex_error(lx, start, "unterminated comment");
                return;
            }
            lx->pos += 2;
        } else {
            return;
        }
    }
}

static int buf_put(weir__lexer_t *lx, uint8_t c)
{
    if (WEIR__GROW(NULL, lx->buf, lx->buf_cap, lx->buf_len + 2) != 0) {
        lx->oom = 1;
        return -1;
    }
    lx->buf[lx->buf_len++] = c;
    lx->buf[lx->buf_len] = 0;
    return 0;
}

/*
 * A NUL byte in a string or regular expression: YARA's lexer copies each run of plain bytes
 * (up to a backslash, the closing delimiter or the line end) as a C string, so it keeps
 * nothing from the NUL to the end of the run.  Skips those bytes, with a warning.
 */
static void nul_run(weir__lexer_t *lx, int delim)
{
    weir__loc_t at = weir__lex_loc(lx, lx->pos);
    while (peek(lx, 0) >= 0 && peek(lx, 0) != '\\' && peek(lx, 0) != delim && peek(lx, 0) != '\n')
        lx->pos++;
    if (!lx->quiet && weir__diag_add(lx->diags, WEIR_SEV_WARNING, lx->ast, at,
                                     "NUL byte: the bytes from it to the next escape or the end "
                                     "are ignored, as YARA ignores them") != 0)
        lx->oom = 1;
}

/* "..." with YARA's escapes: \n \t \r \" \\ \xNN.  Strings end on their line. */
static void lex_text(weir__lexer_t *lx, weir__token_t *tok)
{
    int bad = 0;
    lx->buf_len = 0;
    if (buf_put(lx, 0) != 0)
        goto fail;
    lx->buf_len = 0;
    lx->pos++; /* the opening quote */
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0 || c == '\n') {
            weir__lex_error(lx, tok->loc, "unterminated string");
            goto fail;
        }
        if (c == '"') {
            lx->pos++;
            break;
        }
        if (c == 0) {
            nul_run(lx, '"');
            continue;
        }
        if (c != '\\') {
            if (buf_put(lx, (uint8_t)c) != 0)
                goto fail;
            lx->pos++;
            continue;
        }
        int e = peek(lx, 1), out = -1, width = 2;
        switch (e) {
        case 'n':
            out = '\n';
            break;
        case 't':
            out = '\t';
            break;
        case 'r':
            out = '\r';
            break;
        case '"':
            out = '"';
            break;
        case '\\':
            out = '\\';
            break;
        case 'x':
            if (hex_value(peek(lx, 2)) >= 0 && hex_value(peek(lx, 3)) >= 0) {
                out = hex_value(peek(lx, 2)) * 16 + hex_value(peek(lx, 3));
                width = 4;
            }
            break;
        default:
            break;
        }
        if (out < 0) {
            if (e < 0 || e == '\n') {
                weir__lex_error(lx, tok->loc, "unterminated string");
                goto fail;
            }
            weir__lex_error(lx, weir__lex_loc(lx, lx->pos), "illegal escape sequence");
            bad = 1;
            lx->pos += 2;
            continue;
        }
        if (buf_put(lx, (uint8_t)out) != 0)
            goto fail;
        lx->pos += (size_t)width;
    }
    if (lx->buf_len > WEIR__LEX_MAX_LITERAL) {
        weir__lex_error(lx, tok->loc, "string too long (more than %u bytes, YARA's limit)",
                        WEIR__LEX_MAX_LITERAL);
        bad = 1;
    }
    tok->kind = bad ? WEIR__T_ERROR : WEIR__T_TEXT;
    return;
fail:
    tok->kind = WEIR__T_ERROR;
}

/* Decimal (with KB/MB), 0x hex or 0o octal; digits.digits is a double. */
static void lex_number(weir__lexer_t *lx, weir__token_t *tok)
{
    size_t p = lx->pos;
    const char *t = lx->text;
    int base = 10;
    uint64_t v = 0, limit = (uint64_t)INT64_MAX;
    int overflow = 0, ndigits = 0;

    if (t[p] == '0' && p + 1 < lx->len && (t[p + 1] == 'x' || t[p + 1] == 'X')) {
        base = 16;
        p += 2;
    } else if (t[p] == '0' && p + 1 < lx->len && t[p + 1] == 'o') {
        base = 8;
        p += 2;
    }
    for (; p < lx->len; p++) {
        int d = hex_value((unsigned char)t[p]);
        if (d < 0 || d >= base)
            break;
        if (v > (limit - (uint64_t)d) / (uint64_t)base)
            overflow = 1;
        else
            v = v * (uint64_t)base + (uint64_t)d;
        ndigits++;
    }
    if (ndigits == 0) {
        lx->pos = p;
        weir__lex_error(lx, tok->loc, "invalid number \"%.*s\"", (int)(p - tok->start),
                        t + tok->start);
        tok->kind = WEIR__T_ERROR;
        return;
    }
    if (base == 10 && p + 1 < lx->len && t[p] == '.' && t[p + 1] >= '0' && t[p + 1] <= '9') {
        for (p++; p < lx->len && t[p] >= '0' && t[p] <= '9'; p++)
            ;
        lx->pos = p;
        tok->kind = WEIR__T_DOUBLE;
        return;
    }
    if (base == 10 && p + 1 < lx->len && (t[p] == 'K' || t[p] == 'M') && t[p + 1] == 'B') {
        uint64_t mul = t[p] == 'K' ? 1024 : 1048576;
        if (v > limit / mul)
            overflow = 1;
        v *= mul;
        p += 2;
    }
    lx->pos = p;
    if (overflow) {
        weir__lex_error(lx, tok->loc, "integer overflow in \"%.*s\"", (int)(p - tok->start),
                        t + tok->start);
        tok->kind = WEIR__T_ERROR;
        return;
    }
    tok->kind = WEIR__T_INT;
    tok->ival = (int64_t)v;
}

/* $name, #name, @name, !name (the name may be empty) and $name* wildcards. */
static void lex_string_ref(weir__lexer_t *lx, weir__token_t *tok, weir__tok_t kind)
{
    lx->pos++;
    size_t name = lx->pos;
    while (lx->pos < lx->len && is_ident_char(peek(lx, 0)))
        lx->pos++;
    if (lx->pos - name > WEIR__MAX_IDENT) {
        weir__lex_error(lx, tok->loc, "identifier too long (more than %d characters)",
                        WEIR__MAX_IDENT);
        tok->kind = WEIR__T_ERROR;
        return;
    }
    tok->kind = kind;
    if (kind == WEIR__T_STRING_ID && peek(lx, 0) == '*') {
        lx->pos++;
        tok->kind = WEIR__T_STRING_WILD;
    }
}

static void lex_word(weir__lexer_t *lx, weir__token_t *tok)
{
    while (lx->pos < lx->len && is_ident_char(peek(lx, 0)))
        lx->pos++;
    size_t n = lx->pos - tok->start;
    if (n > WEIR__MAX_IDENT) {
        weir__lex_error(lx, tok->loc, "identifier too long (more than %d characters)",
                        WEIR__MAX_IDENT);
        tok->kind = WEIR__T_ERROR;
        return;
    }
    tok->kind = WEIR__T_IDENT;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        if (strlen(keywords[i].word) == n &&
            memcmp(keywords[i].word, lx->text + tok->start, n) == 0) {
            tok->kind = keywords[i].kind;
            return;
        }
    }
}

void weir__lex_next(weir__lexer_t *lx, weir__token_t *tok)
{
    memset(tok, 0, sizeof *tok);
    skip_space(lx);
    tok->start = lx->pos;
    tok->loc = weir__lex_loc(lx, lx->pos);
    if (lx->pos >= lx->len) {
        tok->kind = WEIR__T_EOF;
        tok->end = lx->pos;
        return;
    }
    int c = peek(lx, 0), n = peek(lx, 1);
    weir__tok_t k = WEIR__T_ERROR;
    size_t width = 1;
    switch (c) {
    case '"':
        lex_text(lx, tok);
        goto done;
    case '$':
        lex_string_ref(lx, tok, WEIR__T_STRING_ID);
        goto done;
    case '#':
        lex_string_ref(lx, tok, WEIR__T_STRING_COUNT);
        goto done;
    case '@':
        lex_string_ref(lx, tok, WEIR__T_STRING_OFFSET);
        goto done;
    case '!':
        if (n == '=') {
            k = WEIR__T_NE;
            width = 2;
            break;
        }
        lex_string_ref(lx, tok, WEIR__T_STRING_LENGTH);
        goto done;
    case '(':
        k = WEIR__T_LPAREN;
        break;
    case ')':
        k = WEIR__T_RPAREN;
        break;
    case '{':
        k = WEIR__T_LBRACE;
        break;
    case '}':
        k = WEIR__T_RBRACE;
        break;
    case '[':
        k = WEIR__T_LBRACKET;
        break;
    case ']':
        k = WEIR__T_RBRACKET;
        break;
    case ':':
        k = WEIR__T_COLON;
        break;
    case ',':
        k = WEIR__T_COMMA;
        break;
    case '+':
        k = WEIR__T_PLUS;
        break;
    case '-':
        k = WEIR__T_MINUS;
        break;
    case '*':
        k = WEIR__T_STAR;
        break;
    case '\\':
        k = WEIR__T_BACKSLASH;
        break;
    case '%':
        k = WEIR__T_PERCENT;
        break;
    case '&':
        k = WEIR__T_AMP;
        break;
    case '|':
        k = WEIR__T_PIPE;
        break;
    case '^':
        k = WEIR__T_CARET;
        break;
    case '~':
        k = WEIR__T_TILDE;
        break;
    case '/':
        k = WEIR__T_SLASH;
        break;
    case '.':
        k = n == '.' ? WEIR__T_DOTDOT : WEIR__T_DOT;
        width = n == '.' ? 2 : 1;
        break;
    case '=':
        k = n == '=' ? WEIR__T_EQ : WEIR__T_ASSIGN;
        width = n == '=' ? 2 : 1;
        break;
    case '<':
        k = n == '=' ? WEIR__T_LE : n == '<' ? WEIR__T_SHL : WEIR__T_LT;
        width = n == '=' || n == '<' ? 2 : 1;
        break;
    case '>':
        k = n == '=' ? WEIR__T_GE : n == '>' ? WEIR__T_SHR : WEIR__T_GT;
        width = n == '=' || n == '>' ? 2 : 1;
        break;
    default:
        if (c >= '0' && c <= '9') {
            lex_number(lx, tok);
            goto done;
        }
        if (is_ident_start(c)) {
            lex_word(lx, tok);
            goto done;
        }
        char b[8];
        weir__lex_error(lx, tok->loc, "unexpected character %s", show_byte((unsigned char)c, b));
        break;
    }
    tok->kind = k;
    lx->pos += width;
done:
    tok->end = lx->pos;
}

/*
 * Bytes that may appear in a hex string besides comments: hex digits, the
 * wildcards, jumps, alternatives and white space.
 */
static int is_hex_char(int c)
{
    return hex_value(c) >= 0 || strchr("?~[]-()| \t\r\n\f\v", c) != NULL;
}

void weir__lex_hex(weir__lexer_t *lx, weir__token_t *tok)
{
    weir__loc_t open = weir__lex_loc(lx, lx->pos - 1);
    memset(tok, 0, sizeof *tok);
    tok->loc = open;
    tok->start = lx->pos - 1;
    tok->vstart = lx->pos;
    tok->value_loc = weir__lex_loc(lx, lx->pos);
    tok->kind = WEIR__T_ERROR;
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0) {
            weir__lex_error(lx, open, "unterminated hex string");
            break;
        }
        if (c == '}') {
            tok->vlen = lx->pos - tok->vstart;
            lx->pos++;
            tok->kind = WEIR__T_HEX;
            break;
        }
        /* YARA reads a hex string as a C string: a NUL byte, even in a comment, ends it. */
        if (c == '/' && peek(lx, 1) == '/') {
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n' && lx->text[lx->pos] != 0)
                lx->pos++;
        } else if (c == '/' && peek(lx, 1) == '*') {
            weir__loc_t start = weir__lex_loc(lx, lx->pos);
            lx->pos += 2;
            while (lx->pos < lx->len && !(peek(lx, 0) == '*' && peek(lx, 1) == '/') &&
                   peek(lx, 0) != 0)
                advance(lx);
            if (lx->pos >= lx->len) {
                weir__lex_error(lx, start, "unterminated comment");
                break;
            }
            if (peek(lx, 0) != 0)
                lx->pos += 2;
        } else if (c != 0 && is_hex_char(c)) {
            if (!strchr(" \t\r\n\f\v", c))
                tok->ival = 1;
            advance(lx);
        } else {
            char b[8];
            weir__lex_error(lx, weir__lex_loc(lx, lx->pos), "invalid character %s in hex string",
                            show_byte((unsigned char)c, b));
            break;
        }
    }
    tok->end = lx->pos;
}

void weir__lex_regex(weir__lexer_t *lx, weir__token_t *tok)
{
    weir__loc_t open = weir__lex_loc(lx, lx->pos - 1);
    memset(tok, 0, sizeof *tok);
    tok->loc = open;
    tok->start = lx->pos - 1;
    tok->vstart = lx->pos;
    tok->value_loc = weir__lex_loc(lx, lx->pos);
    tok->kind = WEIR__T_ERROR;
    /* The value goes to buf: the source's bytes, but for the runs a NUL byte cuts short. */
    size_t slashes = 0;
    lx->buf_len = 0;
    if (buf_put(lx, 0) != 0)
        return;
    lx->buf_len = 0;
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0 || c == '\n' || (c == '\\' && (peek(lx, 1) < 0 || peek(lx, 1) == '\n'))) {
            weir__lex_error(lx, open, "unterminated regular expression");
            break;
        }
        if (c == '\\' && peek(lx, 1) == 0) {
            weir__lex_error(lx, weir__lex_loc(lx, lx->pos), "malformed regular expression");
            break;
        }
        if (c == 0) {
            nul_run(lx, '/');
            continue;
        }
        if (c == '/') {
            tok->vlen = lx->buf_len;
            if (lx->buf_len - slashes > WEIR__LEX_MAX_LITERAL) {
                weir__lex_error(lx, open,
                                "regular expression too long (more than %u bytes, YARA's limit)",
                                WEIR__LEX_MAX_LITERAL);
                break;
            }
            lx->pos++;
            if (peek(lx, 0) == 'i') {
                tok->re_flags |= WEIR__RE_NOCASE;
                lx->pos++;
            }
            if (peek(lx, 0) == 's') {
                tok->re_flags |= WEIR__RE_DOTALL;
                lx->pos++;
            }
            tok->kind = WEIR__T_REGEX;
            break;
        }
        int n = c == '\\' ? 2 : 1;
        if (buf_put(lx, (uint8_t)c) != 0 || (n == 2 && buf_put(lx, (uint8_t)peek(lx, 1)) != 0))
            break;
        slashes += n == 2 && peek(lx, 1) == '/'; /* YARA keeps \/ as one byte */
        lx->pos += (size_t)n;
    }
    tok->end = lx->pos;
}
