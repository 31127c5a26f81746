/*
 * rules_io.c - saving and loading compiled rules.
 *
 * A file is a 64-byte header (magic, format version, the instruction size as
 * an ABI check, the library version, payload length, FNV-1a checksum of the
 * payload) followed by the payload: rules, strings, variants with their VM
 * programs, condition code, dependency tables and the serialized Vectorscan
 * database.  Every read is bounds-checked and every index validated, so a
 * truncated or corrupt file is an error, never a crash.
 */
#define _POSIX_C_SOURCE 200809L

#include "mem.h"
#include "rules.h"
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "WEIRRULS"
#define FORMAT_VERSION 5u
#define HEADER_SIZE 64

/* ---- writing ------------------------------------------------------------ */

weir_status_t weir_rules_serialize(const weir_rules_t *r, void **buf, size_t *len)
{
    if (buf)
        *buf = NULL;
    if (len)
        *len = 0;
    if (!r || !buf || !len)
        return WEIR_EINVAL;
    weir__wbuf_t w = {0};
    uint8_t header[HEADER_SIZE] = {0};
    weir__put(&w, header, HEADER_SIZE);
    weir__put_u32(&w, r->nns);
    for (uint32_t i = 0; i < r->nns; i++)
        weir__put_str(&w, r->ns_names[i]);
    weir__put_u32(&w, r->nrules);
    for (uint32_t i = 0; i < r->nrules; i++) {
        const weir__rule_t *ru = &r->rules[i];
        weir__put_str(&w, ru->info.name);
        weir__put_u32(&w, ru->ns_index);
        weir__put_u8(&w, (uint8_t)(ru->info.is_private | ru->is_global << 1 | ru->live << 2 |
                                   ru->has_strings << 3));
        weir__put_u32(&w, ru->first_string);
        weir__put_u32(&w, ru->nstrings);
        weir__put_u32(&w, ru->entry);
        weir__put_u32(&w, (uint32_t)ru->info.ntags);
        for (size_t t = 0; t < ru->info.ntags; t++)
            weir__put_str(&w, ru->tags[t]);
        weir__put_u32(&w, (uint32_t)ru->info.nmeta);
        for (size_t m = 0; m < ru->info.nmeta; m++) {
            weir__put_str(&w, ru->meta[m].key);
            weir__put_u8(&w, (uint8_t)ru->meta[m].type);
            weir__put_bytes(&w, ru->meta[m].string, ru->meta[m].string_len);
            weir__put_u64(&w, (uint64_t)ru->meta[m].integer);
        }
    }
    weir__put_u32(&w, r->nstrings);
    for (uint32_t i = 0; i < r->nstrings; i++) {
        const weir__string_t *s = &r->strings[i];
        weir__put_str(&w, s->id);
        weir__put_u32(&w, s->rule);
        weir__put_u32(&w, s->mods);
        weir__put_u32(&w, s->kind);
        weir__put_u32(&w, s->first_variant);
        weir__put_u32(&w, s->nvariants);
        weir__put_bytes(&w, s->text, s->text_len);
        weir__put_u32(&w, s->max_len);
        weir__put_u8(&w, s->nl);
        weir__put_u8(&w, (uint8_t)(s->literal | s->fits << 1 | s->has_fixed << 2));
        weir__put_u8(&w, s->xor_lo);
        weir__put_u8(&w, s->xor_hi);
        weir__put_u32(&w, s->atom_at);
        weir__put_u64(&w, (uint64_t)s->fixed);
        weir__put_u32(&w, s->npieces);
        weir__put_u32(&w, s->chain);
    }
    weir__put_u32(&w, r->ngaps);
    for (uint32_t i = 0; i < r->ngaps; i++) {
        weir__put_u32(&w, r->gaps[i].min);
        weir__put_u32(&w, r->gaps[i].max);
    }
    weir__put_u32(&w, r->nvariants);
    for (uint32_t i = 0; i < r->nvariants && !w.oom; i++) {
        const weir__variant_t *v = &r->variants[i];
        weir__put_u32(&w, v->string);
        weir__put_u8(&w, v->kind);
        weir__put_u8(&w, v->wide);
        weir__put_u8(&w, v->lookahead);
        weir__put_u8(&w, v->piece);
        weir__put_u32(&w, v->len);
        weir__put_u32(&w, v->limit);
        weir__put_u8(&w, v->re != NULL);
        if (v->re && !w.oom && weir__re_serialize(v->re, &w.p, &w.n, &w.cap) != 0)
            w.oom = 1;
    }
    weir__put_u64(&w, r->code.n);
    weir__put(&w, r->code.v, r->code.n * sizeof *r->code.v);
    weir__put_bytes(&w, r->code.pool, r->code.pool_len);
    weir__put_u32(&w, r->code.nres);
    for (uint32_t i = 0; i < r->code.nres && !w.oom; i++)
        if (weir__re_serialize(r->code.res[i], &w.p, &w.n, &w.cap) != 0)
            w.oom = 1;
    weir__put_u32(&w, r->nvars);
    for (uint32_t i = 0; i < r->nvars; i++) {
        weir__put_str(&w, r->vars[i].name);
        weir__put_u8(&w, (uint8_t)r->vars[i].type);
        weir__put_u64(&w, (uint64_t)r->vars[i].integer);
        weir__put_bytes(&w, r->vars[i].string, r->vars[i].string_len);
    }
    weir__put_u32(&w, r->history);
    weir__put_u32(&w, r->cross);
    weir__put_u32(&w, r->head);
    for (uint32_t i = 0; i <= r->nrules; i++)
        weir__put_u32(&w, r->dep_at[i]);
    for (uint32_t i = 0; i < r->dep_at[r->nrules]; i++)
        weir__put_u32(&w, r->deps[i]);
    weir__put_u32(&w, r->nalways);
    for (uint32_t i = 0; i < r->nalways; i++)
        weir__put_u32(&w, r->always[i]);
    char *db = NULL;
    size_t dblen = 0;
    if (r->db && hs_serialize_database(r->db, &db, &dblen) != HS_SUCCESS) {
        free(w.p);
        return WEIR_EENGINE;
    }
    weir__put_bytes(&w, db, dblen);
    free(db);
    if (w.oom) {
        free(w.p);
        return WEIR_ENOMEM;
    }
    /* The header, now that the payload is known. */
    uint8_t *h = w.p;
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the magic has no NUL in the file */
    memcpy(h, MAGIC, 8);
    weir__wbuf_t hw = {h + 8, 0, HEADER_SIZE - 8, 0};
    weir__put_u32(&hw, FORMAT_VERSION);
    weir__put_u32(&hw, (uint32_t)sizeof(weir__instr_t));
    char ver[16] = {0};
    strncpy(ver, WEIR_VERSION_STRING, sizeof ver - 1);
    weir__put(&hw, ver, sizeof ver);
    weir__put_u64(&hw, w.n - HEADER_SIZE);
    /* The checksum covers the whole file, itself taken as zero. */
    weir__put_u64(&hw, weir__fnv1a(w.p, w.n));
    *buf = w.p;
    *len = w.n;
    return WEIR_OK;
}

int weir__rules_fingerprint(weir_rules_t *r)
{
    void *buf;
    size_t len;
    if (weir_rules_serialize(r, &buf, &len) != WEIR_OK)
        return -1;
    weir__rbuf_t h = {(const uint8_t *)buf + 40, 8, 0, 0};
    r->fingerprint = weir__get_u64(&h); /* the file's checksum */
    free(buf);
    return 0;
}

weir_status_t weir_rules_save(const weir_rules_t *rules, const char *path)
{
    if (!rules || !path)
        return WEIR_EINVAL;
    void *buf;
    size_t len;
    weir_status_t st = weir_rules_serialize(rules, &buf, &len);
    if (st != WEIR_OK)
        return st;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        free(buf);
        return WEIR_ENOMEM;
    }
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid() % 100000);
    FILE *f = fopen(tmp, "wb");
    st = WEIR_EIO;
    if (f) {
        int ok = fwrite(buf, 1, len, f) == len;
        ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok &= fclose(f) == 0;
        if (ok && rename(tmp, path) == 0)
            st = WEIR_OK;
        else
            remove(tmp);
    }
    free(tmp);
    free(buf);
    return st;
}

/* ---- reading ------------------------------------------------------------ */

static int read_rules(weir__rbuf_t *in, weir_rules_t *r)
{
    r->nns = weir__get_count(in, 4);
    if (!(r->ns_names = calloc(r->nns ? r->nns : 1, sizeof *r->ns_names)))
        return -1;
    for (uint32_t i = 0; i < r->nns && !in->bad; i++)
        r->ns_names[i] = weir__get_bytes(in, NULL);
    uint32_t nrules = weir__get_count(in, 25);
    if (!(r->rules = calloc(nrules ? nrules : 1, sizeof *r->rules)))
        return -1;
    for (uint32_t i = 0; i < nrules && !in->bad; i++) {
        weir__rule_t *ru = &r->rules[r->nrules++];
        ru->info.index = i;
        ru->info.name = weir__get_bytes(in, NULL);
        ru->ns_index = weir__get_u32(in);
        uint8_t flags = weir__get_u8(in);
        ru->info.is_private = flags & 1;
        ru->info.is_global = ru->is_global = (flags >> 1) & 1;
        ru->info.fires_live = ru->live = (flags >> 2) & 1;
        ru->has_strings = (flags >> 3) & 1;
        ru->first_string = weir__get_u32(in);
        ru->nstrings = weir__get_u32(in);
        ru->entry = weir__get_u32(in);
        if (ru->ns_index >= r->nns)
            in->bad = 1;
        else
            ru->info.ns = r->ns_names[ru->ns_index];
        uint32_t ntags = weir__get_count(in, 4);
        if (ntags && !(ru->tags = calloc(ntags, sizeof *ru->tags)))
            return -1;
        for (uint32_t t = 0; t < ntags && !in->bad; t++)
            ru->tags[ru->info.ntags++] = weir__get_bytes(in, NULL);
        ru->info.tags = (const char *const *)ru->tags;
        uint32_t nmeta = weir__get_count(in, 17);
        if (nmeta && !(ru->meta = calloc(nmeta, sizeof *ru->meta)))
            return -1;
        for (uint32_t m = 0; m < nmeta && !in->bad; m++) {
            weir_meta_t *wm = &ru->meta[ru->info.nmeta++];
            wm->key = weir__get_bytes(in, NULL);
            wm->type = (weir_meta_type_t)weir__get_u8(in);
            wm->string = weir__get_bytes(in, &wm->string_len);
            wm->integer = (int64_t)weir__get_u64(in);
            if (wm->type > WEIR_META_BOOLEAN)
                in->bad = 1;
            if (wm->type != WEIR_META_STRING) {
                free((char *)wm->string);
                wm->string = NULL;
                wm->string_len = 0;
            }
        }
        ru->info.meta = ru->meta;
    }
    uint32_t nstrings = weir__get_count(in, 47);
    if (!(r->strings = calloc(nstrings ? nstrings : 1, sizeof *r->strings)))
        return -1;
    for (uint32_t i = 0; i < nstrings && !in->bad; i++) {
        weir__string_t *s = &r->strings[r->nstrings++];
        s->id = weir__get_bytes(in, NULL);
        s->rule = weir__get_u32(in);
        s->mods = weir__get_u32(in);
        s->kind = weir__get_u32(in);
        s->first_variant = weir__get_u32(in);
        s->nvariants = weir__get_u32(in);
        size_t tl = 0;
        s->text = (uint8_t *)weir__get_bytes(in, &tl);
        s->text_len = (uint32_t)tl;
        s->max_len = weir__get_u32(in);
        s->nl = weir__get_u8(in);
        uint8_t sf = weir__get_u8(in);
        s->literal = sf & 1;
        s->fits = (sf >> 1) & 1;
        s->has_fixed = (sf >> 2) & 1;
        s->xor_lo = weir__get_u8(in);
        s->xor_hi = weir__get_u8(in);
        s->atom_at = weir__get_u32(in);
        s->fixed = (int64_t)weir__get_u64(in);
        s->npieces = weir__get_u32(in);
        s->chain = weir__get_u32(in);
        if (s->npieces == 1 || s->npieces > 256 || s->rule >= r->nrules ||
            s->kind > WEIR__STR_REGEX || s->xor_lo > s->xor_hi ||
            (s->atom_at && (uint64_t)s->atom_at + 4 > s->text_len))
            in->bad = 1;
    }
    r->ngaps = weir__get_count(in, 8);
    if (!(r->gaps = calloc(r->ngaps ? r->ngaps : 1, sizeof *r->gaps)))
        return -1;
    for (uint32_t i = 0; i < r->ngaps; i++) {
        r->gaps[i].min = weir__get_u32(in);
        r->gaps[i].max = weir__get_u32(in);
        if (r->gaps[i].min > r->gaps[i].max)
            in->bad = 1;
    }
    for (uint32_t i = 0; i < r->nstrings && !in->bad; i++)
        if (r->strings[i].npieces &&
            (uint64_t)r->strings[i].chain + r->strings[i].npieces - 1 > r->ngaps)
            in->bad = 1;
    uint32_t nvariants = weir__get_count(in, 17);
    if (!(r->variants = calloc(nvariants ? nvariants : 1, sizeof *r->variants)))
        return -1;
    for (uint32_t i = 0; i < nvariants && !in->bad; i++) {
        weir__variant_t *v = &r->variants[r->nvariants++];
        v->string = weir__get_u32(in);
        v->kind = weir__get_u8(in);
        v->wide = weir__get_u8(in);
        v->lookahead = weir__get_u8(in);
        v->piece = weir__get_u8(in);
        v->len = weir__get_u32(in);
        v->limit = weir__get_u32(in);
        if (weir__get_u8(in) && !in->bad &&
            weir__re_deserialize(in->p, in->n, &in->pos, &v->re) != 0)
            in->bad = 1;
        if (v->string >= r->nstrings || v->kind > WEIR__V_VM ||
            (v->piece && v->piece >= r->strings[v->string].npieces) ||
            (v->lookahead > 2 && (v->kind != WEIR__V_FIXED || v->lookahead > v->len + 2)) ||
            (v->kind == WEIR__V_VM && !v->re) || v->len > r->strings[v->string].max_len ||
            v->limit > r->strings[v->string].max_len)
            in->bad = 1;
    }
    uint64_t ncode = weir__get_u64(in);
    if (in->bad || ncode > (in->n - in->pos) / sizeof(weir__instr_t))
        return in->bad = 1, 0;
    if (!(r->code.v = malloc(ncode ? ncode * sizeof(weir__instr_t) : 1)))
        return -1;
    memcpy(r->code.v, weir__take(in, ncode * sizeof(weir__instr_t)), ncode * sizeof(weir__instr_t));
    r->code.n = r->code.cap = ncode;
    size_t pool_len = 0;
    r->code.pool = (uint8_t *)weir__get_bytes(in, &pool_len);
    r->code.pool_len = r->code.pool_cap = r->code.pool ? pool_len : 0;
    uint32_t nres = weir__get_count(in, 4);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are pointers */
    if (!(r->code.res = calloc(nres ? nres : 1, sizeof *r->code.res)))
        return -1;
    r->code.res_cap = nres ? nres : 1;
    for (uint32_t i = 0; i < nres && !in->bad; i++) {
        if (weir__re_deserialize(in->p, in->n, &in->pos, &r->code.res[i]) != 0)
            in->bad = 1;
        else
            r->code.nres++;
    }
    uint32_t nvars = weir__get_count(in, 17);
    if (!(r->vars = calloc(nvars ? nvars : 1, sizeof *r->vars)))
        return -1;
    for (uint32_t i = 0; i < nvars && !in->bad; i++) {
        weir_var_t *v = &r->vars[r->nvars++];
        v->name = weir__get_bytes(in, NULL);
        v->type = (weir_var_type_t)weir__get_u8(in);
        v->integer = (int64_t)weir__get_u64(in);
        v->string = weir__get_bytes(in, &v->string_len);
        if (!v->name || !*v->name || v->type < WEIR_VAR_INTEGER || v->type > WEIR_VAR_STRING ||
            (v->type == WEIR_VAR_BOOLEAN && (v->integer < 0 || v->integer > 1)))
            in->bad = 1;
    }
    r->history = weir__get_u32(in);
    r->cross = weir__get_u32(in);
    if (r->cross > r->history)
        in->bad = 1;
    r->head = weir__get_u32(in);
    if (r->head > WEIR_HEAD_MAX)
        in->bad = 1;
    if (!(r->dep_at = calloc(r->nrules + 1, sizeof *r->dep_at)))
        return -1;
    for (uint32_t i = 0; i <= r->nrules; i++) {
        r->dep_at[i] = weir__get_u32(in);
        if (i && r->dep_at[i] < r->dep_at[i - 1])
            in->bad = 1;
    }
    if (in->bad || r->dep_at[0] != 0 || (uint64_t)r->dep_at[r->nrules] * 4 > in->n - in->pos)
        return in->bad = 1, 0;
    if (!(r->deps = calloc(r->dep_at[r->nrules] + 1, sizeof *r->deps)))
        return -1;
    for (uint32_t i = 0; i < r->dep_at[r->nrules]; i++)
        if ((r->deps[i] = weir__get_u32(in)) >= r->nrules)
            in->bad = 1;
    r->nalways = weir__get_count(in, 4);
    if (!(r->always = calloc(r->nalways + 1, sizeof *r->always)))
        return -1;
    for (uint32_t i = 0; i < r->nalways; i++)
        if ((r->always[i] = weir__get_u32(in)) >= r->nrules)
            in->bad = 1;
    /* Rules and strings must agree with each other. */
    for (uint32_t i = 0; i < r->nrules && !in->bad; i++) {
        const weir__rule_t *ru = &r->rules[i];
        if ((uint64_t)ru->first_string + ru->nstrings > r->nstrings ||
            !weir__code_is_entry(&r->code, ru->entry) || !ru->info.name)
            in->bad = 1;
    }
    for (uint32_t i = 0; i < r->nstrings && !in->bad; i++) {
        const weir__string_t *s = &r->strings[i];
        if ((uint64_t)s->first_variant + s->nvariants > r->nvariants || !s->id)
            in->bad = 1;
    }
    if (!in->bad && weir__code_check(&r->code, r->nstrings, r->nrules, r->vars, r->nvars) != 0)
        in->bad = 1;
    return 0;
}

weir_status_t weir_rules_deserialize(const void *buf, size_t len, weir_rules_t **out)
{
    if (out)
        *out = NULL;
    if (!buf || !out)
        return WEIR_EINVAL;
    const uint8_t *p = buf;
    if (len < HEADER_SIZE || memcmp(p, MAGIC, 8) != 0)
        return WEIR_EFORMAT;
    weir__rbuf_t h = {p + 8, HEADER_SIZE - 8, 0, 0};
    uint32_t version = weir__get_u32(&h);
    uint32_t instr_size = weir__get_u32(&h);
    const uint8_t *lib = weir__take(&h, 16);
    uint64_t plen = weir__get_u64(&h);
    uint64_t sum = weir__get_u64(&h);
    /* A corrupt file is a format error, even where its damage reads as a version. */
    uint8_t *copy = malloc(len);
    if (!copy)
        return WEIR_ENOMEM;
    memcpy(copy, p, len);
    memset(copy + 40, 0, 8); /* the checksum field */
    uint64_t actual = weir__fnv1a(copy, len);
    free(copy);
    if (plen != len - HEADER_SIZE || actual != sum)
        return WEIR_EFORMAT;
    for (size_t i = 48; i < HEADER_SIZE; i++)
        if (p[i] != 0)
            return WEIR_EFORMAT;
    char want[16] = {0};
    strncpy(want, WEIR_VERSION_STRING, sizeof want - 1);
    if (version != FORMAT_VERSION || instr_size != sizeof(weir__instr_t) ||
        memcmp(lib, want, sizeof want) != 0)
        return WEIR_EVERSION;
    weir_rules_t *r = calloc(1, sizeof *r);
    if (!r)
        return WEIR_ENOMEM;
    weir__rbuf_t in = {p, len, HEADER_SIZE, 0};
    weir_status_t st = WEIR_OK;
    if (read_rules(&in, r) != 0) {
        st = WEIR_ENOMEM;
    } else if (!in.bad) {
        uint32_t dblen = weir__get_u32(&in);
        const uint8_t *db = weir__take(&in, dblen);
        if (!db || in.pos != in.n) {
            in.bad = 1;
        } else if (dblen) {
            hs_error_t rc = hs_deserialize_database((const char *)db, dblen, &r->db);
            if (rc == HS_DB_VERSION_ERROR || rc == HS_DB_PLATFORM_ERROR)
                st = WEIR_EVERSION;
            else if (rc != HS_SUCCESS)
                in.bad = 1;
            else {
                unsigned mode = 0;
                size_t n = 0;
                if (hs_database_size(r->db, &n) != HS_SUCCESS || n == 0)
                    in.bad = 1;
                (void)mode;
            }
        }
        if (!in.bad && st == WEIR_OK && (r->nvariants > 0) != (r->db != NULL))
            in.bad = 1;
    }
    if (st == WEIR_OK && in.bad)
        st = WEIR_EFORMAT;
    r->fingerprint = sum;
    if (st != WEIR_OK) {
        weir__rules_destroy(r);
        return st;
    }
    *out = r;
    return WEIR_OK;
}

weir_status_t weir_rules_load(const char *path, weir_rules_t **out)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return WEIR_EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return WEIR_EIO;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    weir_status_t st = WEIR_OK;
    for (;;) {
        if (WEIR__GROW(NULL, buf, cap, n + 65536) != 0) {
            st = WEIR_ENOMEM;
            break;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                st = WEIR_EIO;
            break;
        }
    }
    fclose(f);
    if (st == WEIR_OK)
        st = weir_rules_deserialize(buf, n, out);
    free(buf);
    return st;
}
