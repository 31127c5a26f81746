/*
 * textops.c - YARA's string operators on byte strings; see textops.h.
 */
#include "textops.h"

#include <string.h>

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

int weir__text_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t i = 0;
    while (i < an && i < bn && a[i] == b[i])
        i++;
    if (i == an || i == bn)
        return (i < an) - (i < bn);
    return (int8_t)a[i] < (int8_t)b[i] ? -1 : 1;
}

/* a[0..n) equals b[0..n), ASCII letters folded when fold is set. */
static int same(const uint8_t *a, const uint8_t *b, size_t n, int fold)
{
    if (!fold)
        return n == 0 || memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

static int contains(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, int fold)
{
    if (bn > an)
        return 0;
    for (size_t i = 0; i + bn <= an; i++)
        if (same(a + i, b, bn, fold))
            return 1;
    return 0;
}

int weir__text_op(int op, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int fold = op == WEIR__SOP_ICONTAINS || op == WEIR__SOP_ISTARTSWITH ||
               op == WEIR__SOP_IENDSWITH || op == WEIR__SOP_IEQUALS;
    switch (op) {
    case WEIR__SOP_LT:
        return weir__text_cmp(a, an, b, bn) < 0;
    case WEIR__SOP_LE:
        return weir__text_cmp(a, an, b, bn) <= 0;
    case WEIR__SOP_GT:
        return weir__text_cmp(a, an, b, bn) > 0;
    case WEIR__SOP_GE:
        return weir__text_cmp(a, an, b, bn) >= 0;
    case WEIR__SOP_EQ:
        return weir__text_cmp(a, an, b, bn) == 0;
    case WEIR__SOP_NE:
        return weir__text_cmp(a, an, b, bn) != 0;
    case WEIR__SOP_CONTAINS:
    case WEIR__SOP_ICONTAINS:
        return contains(a, an, b, bn, fold);
    case WEIR__SOP_STARTSWITH:
    case WEIR__SOP_ISTARTSWITH:
        return bn <= an && same(a, b, bn, fold);
    case WEIR__SOP_ENDSWITH:
    case WEIR__SOP_IENDSWITH:
        return bn <= an && same(a + an - bn, b, bn, fold);
    case WEIR__SOP_IEQUALS:
        return an == bn && same(a, b, bn, fold);
    case WEIR__SOP_TRUTHY:
        return an > 0;
    default:
        return 0;
    }
}

typedef struct found {
    size_t len; /* a match must start before this */
    int any;
} found_t;

static int take_start(size_t p, void *user)
{
    found_t *f = user;
    if (p < f->len) {
        f->any = 1;
        return 1;
    }
    return 0;
}

int weir__text_matches(const weir__re_t *re, const uint8_t *s, size_t n)
{
    if (!re || n == 0)
        return 0;
    /* YARA runs the regex from each byte of the string (not from its end); every (start,
       end) pair the backward matcher finds is a match YARA's forward run would find too. */
    found_t f = {n, 0};
    for (size_t end = 0; end <= n && !f.any; end++)
        if (weir__re_backward(re, s, n, end, 0, 1, take_start, &f) < 0)
            return 0;
    return f.any;
}
