/*
 * fuzz_snapshot.c - libFuzzer harness for the stream snapshot loader.  Snapshots carry a
 * checksum and the fingerprint of their rules, which would stop almost every mutation, so the
 * harness wraps its input in a valid header: the fuzzer then reaches the context parser.  The
 * rules hold no strings, so the context has no Vectorscan state (which Vectorscan cannot
 * validate and weir documents as trusted).  A snapshot that loads must then scan and close.
 */
#include "weir.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static weir_rules_t *rules;
static uint64_t fingerprint;

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The fingerprint of the rules: read from a real snapshot's header. */
static int setup(void)
{
    static const char text[] = "rule big { condition: filesize > 10 }\n"
                               "rule v { condition: app contains \"ssh\" and n > 2 }\n"
                               "rule rs { condition: any of (big, v) }\n";
    weir_var_t vars[2] = {{"app", WEIR_VAR_STRING, 0, "kernel", 6},
                          {"n", WEIR_VAR_INTEGER, 3, NULL, 0}};
    weir_source_t src = {"fuzz.yar", text, sizeof text - 1, NULL};
    weir_compile_options_t opt = {vars, 2};
    if (weir_compile(&src, 1, &opt, &rules, NULL) != WEIR_OK)
        return -1;
    weir_scanner_t *sc = NULL;
    weir_id_t id = {{1}};
    void *buf = NULL;
    size_t len = 0;
    if (weir_scanner_new(rules, NULL, &sc) != WEIR_OK ||
        weir_scan_chunk(sc, &id, "abc \"t\"\nd", 9) != WEIR_OK ||
        weir_stream_snapshot(sc, &id, &buf, &len) != WEIR_OK || len < 28)
        return -1;
    memcpy(&fingerprint, (uint8_t *)buf + 12, 8); /* little-endian, as written */
    free(buf);
    weir_scanner_free(sc);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!rules && setup() != 0)
        abort();
    if (size > 1 << 16)
        return 0;
    /* magic, version 1, fingerprint, checksum, id, last use, then the context (snapshot.c) */
    size_t n = 52 + size;
    uint8_t *buf = calloc(1, n);
    if (!buf)
        return 0;
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the magic has no NUL in the file */
    memcpy(buf, "WEIRSNAP", 8);
    buf[8] = 1;
    memcpy(buf + 12, &fingerprint, 8);
    buf[28] = 1; /* the id */
    memcpy(buf + 52, data, size);
    put64(buf + 20, fnv(buf, n));
    weir_scanner_t *sc = NULL;
    if (weir_scanner_new(rules, NULL, &sc) != WEIR_OK)
        abort();
    weir_id_t id;
    if (weir_stream_restore(sc, buf, n, &id) == WEIR_OK) {
        weir_stream_stats_t st;
        if (weir_stream_stats(sc, &id, &st) != WEIR_OK)
            abort();
        (void)weir_scan_chunk(sc, &id, "more \"x\"\n", 9);
        (void)weir_stream_close(sc, &id, NULL, NULL);
    }
    weir_scanner_free(sc);
    free(buf);
    return 0;
}
