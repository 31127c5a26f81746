/*
 * id.c - stream ids: UUID text form, and name-derived ids (RFC 4122 version 5,
 * SHA-1 of weir's namespace followed by the name), plus version and status text.
 */
#include "weir.h"

#include <string.h>

const char *weir_version(void)
{
    return WEIR_VERSION_STRING;
}

const char *weir_strerror(weir_status_t status)
{
    switch (status) {
#define WEIR__STATUS_CASE(name, value, msg)                                                        \
    case WEIR_##name:                                                                              \
        return msg;
        WEIR_STATUS_MAP(WEIR__STATUS_CASE)
#undef WEIR__STATUS_CASE
    }
    return "unknown status";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

weir_status_t weir_id_parse(const char *text, weir_id_t *out)
{
    if (!text || !out)
        return WEIR_EINVAL;
    weir_id_t id;
    size_t k = 0;
    for (size_t i = 0; i < 36; i++) {
        char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return WEIR_EINVAL;
            continue;
        }
        int hi = hexval(c);
        if (hi < 0)
            return WEIR_EINVAL;
        int lo = hexval(text[++i]);
        if (lo < 0)
            return WEIR_EINVAL;
        id.bytes[k++] = (uint8_t)(hi << 4 | lo);
    }
    if (text[36] != '\0')
        return WEIR_EINVAL;
    *out = id;
    return WEIR_OK;
}

void weir_id_format(const weir_id_t *id, char buf[WEIR_ID_STRLEN])
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            buf[o++] = '-';
        buf[o++] = digits[id->bytes[i] >> 4];
        buf[o++] = digits[id->bytes[i] & 15];
    }
    buf[o] = '\0';
}

/* ---- SHA-1 (FIPS 180-4), only what version-5 ids need ---- */

typedef struct sha1 {
    uint32_t h[5];
    uint8_t block[64];
    size_t used;
    uint64_t total;
} sha1_t;

static uint32_t rol(uint32_t x, int n)
{
    return x << n | x >> (32 - n);
}

static void sha1_block(sha1_t *s, const uint8_t *p)
{
    uint32_t w[80];
    for (size_t i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
}

static void sha1_init(sha1_t *s)
{
    static const uint32_t init[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    memcpy(s->h, init, sizeof init);
    s->used = 0;
    s->total = 0;
}

static void sha1_update(sha1_t *s, const uint8_t *p, size_t n)
{
    s->total += n;
    while (n) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used == 64) {
            sha1_block(s, s->block);
            s->used = 0;
        }
    }
}

static void sha1_final(sha1_t *s, uint8_t out[20])
{
    uint64_t bits = s->total * 8;
    uint8_t pad = 0x80;
    sha1_update(s, &pad, 1);
    pad = 0;
    while (s->used != 56)
        sha1_update(s, &pad, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_update(s, len, 8);
    for (size_t i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void weir__sha1(const void *data, size_t len, uint8_t out[20])
{
    sha1_t s;
    sha1_init(&s);
    sha1_update(&s, data, len);
    sha1_final(&s, out);
}

void weir_id_from_name(const void *name, size_t len, weir_id_t *out)
{
    if (!out)
        return;
    weir_id_t ns;
    uint8_t digest[20];
    if (weir_id_parse(WEIR_ID_NAMESPACE, &ns) != WEIR_OK)
        memset(&ns, 0, sizeof ns);
    sha1_t s;
    sha1_init(&s);
    sha1_update(&s, ns.bytes, 16);
    if (name && len)
        sha1_update(&s, name, len);
    sha1_final(&s, digest);
    memcpy(out->bytes, digest, 16);
    out->bytes[6] = (uint8_t)((out->bytes[6] & 0x0F) | 0x50); /* version 5 */
    out->bytes[8] = (uint8_t)((out->bytes[8] & 0x3F) | 0x80); /* RFC 4122 variant */
}
