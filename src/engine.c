/*
 * engine.c - picks the Vectorscan entry points weir scans with (engine.h).
 */
#define _GNU_SOURCE
#include "engine.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static weir__engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

/* Fills t from the entry points prefixed isa_ ; 0 when all are exported. */
static int load(weir__engine_t *t, const char *isa)
{
    char name[64];
    static const char *const fns[] = {"hs_open_stream", "hs_scan_stream",     "hs_close_stream",
                                      "hs_copy_stream", "hs_compress_stream", "hs_expand_stream",
                                      "hs_reset_stream"};
    void *p[sizeof fns / sizeof fns[0]];
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        snprintf(name, sizeof name, "%s_%s", isa, fns[i]);
        if (!(p[i] = dlsym(RTLD_DEFAULT, name)))
            return -1;
    }
    t->isa = isa;
    /* Compile for exactly what these entry points run. */
    if (hs_populate_platform(&t->platform_info) != HS_SUCCESS)
        return -1;
    t->platform_info.tune = HS_TUNE_FAMILY_GENERIC;
    if (strcmp(isa, "avx512") == 0)
        t->platform_info.cpu_features &= HS_CPU_FEATURES_AVX2 | HS_CPU_FEATURES_AVX512;
    else if (strcmp(isa, "avx2") == 0)
        t->platform_info.cpu_features &= HS_CPU_FEATURES_AVX2;
    else
        t->platform_info.cpu_features = 0;
    t->platform = &t->platform_info;
    /* POSIX guarantees function pointers survive a round trip through void *. */
    memcpy(&t->open_stream, &p[0], sizeof p[0]);
    memcpy(&t->scan_stream, &p[1], sizeof p[1]);
    memcpy(&t->close_stream, &p[2], sizeof p[2]);
    memcpy(&t->copy_stream, &p[3], sizeof p[3]);
    memcpy(&t->compress_stream, &p[4], sizeof p[4]);
    memcpy(&t->expand_stream, &p[5], sizeof p[5]);
    memcpy(&t->reset_stream, &p[6], sizeof p[6]);
    return 0;
}

static int cpu_has(const char *isa)
{
    __builtin_cpu_init();
    if (strcmp(isa, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    if (strcmp(isa, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
    if (strcmp(isa, "corei7") == 0)
        return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt");
    return strcmp(isa, "core2") == 0;
}

static void choose(void)
{
    static const char *const order[] = {"corei7", "core2"};
    const char *want = getenv("WEIR_HS_ISA");
    if (want && *want && strcmp(want, "auto") != 0 && strcmp(want, "dispatch") != 0 &&
        cpu_has(want) && load(&engine, want) == 0)
        return;
    if (!(want && strcmp(want, "dispatch") == 0)) {
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
            if (cpu_has(order[i]) && load(&engine, order[i]) == 0)
                return;
    }
    engine.isa = "dispatch";
    engine.open_stream = hs_open_stream;
    engine.scan_stream = hs_scan_stream;
    engine.close_stream = hs_close_stream;
    engine.copy_stream = hs_copy_stream;
    engine.compress_stream = hs_compress_stream;
    engine.expand_stream = hs_expand_stream;
    engine.reset_stream = hs_reset_stream;
}

const weir__engine_t *weir__engine(void)
{
    pthread_once(&engine_once, choose);
    return &engine;
}
