/*
 * fuzz_scan.c - libFuzzer harness for the scanner: the input is rule text, a line "----", then
 * data.  Rules that compile scan the data in one chunk and in chunks cut where a generator
 * seeded by the input says, with evictions between chunks; the final results (rules, string
 * offsets and lengths), the events and the limits reached (half the inputs run with tiny limits
 * on matches and evaluation steps) must be the same.  Any difference aborts.
 */
#include "weir.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
    char *p;
    size_t n, cap;
} out_t;

static void put(out_t *o, const char *s)
{
    size_t k = strlen(s);
    if (o->n + k + 1 > o->cap) {
        o->cap = (o->n + k + 1) * 2;
        o->p = realloc(o->p, o->cap);
        if (!o->p)
            abort();
    }
    memcpy(o->p + o->n, s, k + 1);
    o->n += k;
}

static int on_result(const weir_rule_result_t *r, void *user)
{
    char line[160];
    snprintf(line, sizeof line, "R %s\n", r->rule->name);
    put(user, line);
    for (size_t i = 0; i < r->nmatches; i++) {
        snprintf(line, sizeof line, "M %s %llu %u\n", r->matches[i].string_id,
                 (unsigned long long)r->matches[i].offset, (unsigned)r->matches[i].length);
        put(user, line);
    }
    return 0;
}

static int on_event(const weir_match_event_t *ev, void *user)
{
    char line[160];
    snprintf(line, sizeof line, "E %s %llu %d\n", ev->rule->name, (unsigned long long)ev->line,
             ev->at_close);
    put(user, line);
    return 0;
}

static void on_limit(const weir_limit_event_t *ev, void *user)
{
    char line[160];
    snprintf(line, sizeof line, "L %d %s %s %llu %d\n", (int)ev->kind, ev->rule->name,
             ev->string_id ? ev->string_id : "-", (unsigned long long)ev->offset, ev->at_close);
    put(user, line);
}

/* Events then results of data fed in chunks (whole when seed is 0). */
static void run(const weir_rules_t *rules, const uint8_t *d, size_t n, uint64_t seed, int budget,
                int tiny, out_t *o)
{
    weir_scanner_options_t opt = {0};
    opt.memory_limit = budget ? 1 : 0;
    if (tiny) {
        opt.max_matches = 5;
        opt.max_eval_steps = 40;
    }
    weir_scanner_t *sc = NULL;
    if (weir_scanner_new(rules, &opt, &sc) != WEIR_OK)
        abort();
    weir_scanner_set_callback(sc, on_event, o);
    weir_scanner_set_limit_callback(sc, on_limit, o);
    weir_id_t id = {{9}}, other = {{8}};
    (void)weir_scan_chunk(sc, &other, "x\n", 2); /* a second stream, for the budget */
    size_t off = 0;
    uint64_t s = seed;
    do {
        size_t k = n - off;
        if (seed) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            k = (size_t)(s % 17);
            if (k > n - off)
                k = n - off;
        }
        if (weir_scan_chunk(sc, &id, d + off, k) != WEIR_OK)
            abort();
        off += k;
        if (seed && (s & 64))
            (void)weir_stream_evict(sc, &id);
    } while (off < n);
    put(o, "--\n");
    if (weir_stream_close(sc, &id, on_result, o) != WEIR_OK)
        abort();
    weir_scanner_free(sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 14)
        return 0;
    const uint8_t *sep = NULL;
    for (size_t i = 0; i + 6 <= size; i++)
        if (memcmp(data + i, "\n----\n", 6) == 0) {
            sep = data + i;
            break;
        }
    if (!sep)
        return 0;
    size_t rlen = (size_t)(sep - data);
    const uint8_t *d = sep + 6;
    size_t n = size - rlen - 6;
    weir_rules_t *rules = NULL;
    if (weir_compile_buffer(data, rlen, "fuzz.yar", NULL, &rules, NULL) != WEIR_OK)
        return 0;
    out_t whole = {0}, cut = {0};
    int tiny = (size & 2) != 0;
    run(rules, d, n, 0, 0, tiny, &whole);
    run(rules, d, n, 0x9e3779b97f4a7c15ull ^ size, (int)(size & 1), tiny, &cut);
    if (whole.n != cut.n || memcmp(whole.p, cut.p, whole.n) != 0) {
        fprintf(stderr, "chunking changed the outcome:\n%s\n---- vs ----\n%s\n", whole.p, cut.p);
        abort();
    }
    free(whole.p);
    free(cut.p);
    weir_rules_free(rules);
    return 0;
}
