/*
 * fuzz_rules_load.c - libFuzzer harness for the compiled-rules loader: any bytes must load or
 * be refused (WEIR_EFORMAT, WEIR_EVERSION), never crash.  The checksum would stop almost every
 * mutation at the door, so the harness reseals its input: the fuzzer then reaches every field.
 * Rules that load are scanned with a little data, since the loader's checks are what keep the
 * scanner safe.
 */
#include "weir.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    /* Header: magic[8] version[4] instr[4] lib[16] payload length[8] checksum[8] (rules_io.c) */
    if (size >= 64 && (data[0] & 1)) {
        uint64_t plen = size - 64;
        for (int i = 0; i < 8; i++)
            buf[32 + i] = (uint8_t)(plen >> (8 * i));
        memset(buf + 40, 0, 8);
        uint64_t h = fnv(buf, size);
        for (int i = 0; i < 8; i++)
            buf[40 + i] = (uint8_t)(h >> (8 * i));
    }
    weir_rules_t *rules = NULL;
    if (weir_rules_deserialize(buf, size, &rules) == WEIR_OK) {
        weir_scanner_t *sc = NULL;
        if (weir_scanner_new(rules, NULL, &sc) == WEIR_OK) {
            weir_id_t id = {{1}};
            static const char text[] =
                "GET /index.html \"t-1\"\nFailed password for root\n\x00\xff";
            if (weir_scan_chunk(sc, &id, text, sizeof text - 1) == WEIR_OK)
                (void)weir_stream_close(sc, &id, NULL, NULL);
            weir_scanner_free(sc);
        }
        weir_rules_free(rules);
    }
    free(buf);
    return 0;
}
