/*
 * mem.c - counted allocation wrappers (see mem.h).
 */
#include "mem.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

void *weir__malloc(weir__mem_t *acct, size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p && acct)
        acct->bytes += n;
    return p;
}

void *weir__calloc(weir__mem_t *acct, size_t count, size_t n)
{
    if (n && count > SIZE_MAX / n)
        return NULL;
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p && acct)
        acct->bytes += count * n;
    return p;
}

void *weir__realloc(weir__mem_t *acct, void *p, size_t old, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q && acct)
        acct->bytes = acct->bytes - old + n;
    return q;
}

void weir__free(weir__mem_t *acct, void *p, size_t n)
{
    if (!p)
        return;
    if (acct)
        acct->bytes -= n;
    free(p);
}

char *weir__strdup(const char *s)
{
    return s ? weir__strndup(s, strlen(s)) : NULL;
}

char *weir__strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *weir__memdup(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

int weir__grow(weir__mem_t *acct, void **pp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 4;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem)
        return -1;
    void *q = weir__realloc(acct, *pp, *cap * elem, ncap * elem);
    if (!q)
        return -1;
    *pp = q;
    *cap = ncap;
    return 0;
}

weir_status_t weir__read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return WEIR_EIO;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (WEIR__GROW(NULL, buf, cap, n + 65536) != 0) {
            free(buf);
            fclose(f);
            return WEIR_ENOMEM;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return WEIR_EIO;
    }
    *text = buf;
    *len = n;
    return WEIR_OK;
}
