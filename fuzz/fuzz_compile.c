/*
 * fuzz_compile.c - libFuzzer harness for the rule compiler: any bytes as rule text must
 * compile or fail with diagnostics, never crash, hang or leak.
 */
#include "weir.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    weir_rules_t *rules = NULL;
    weir_diags_t *diags = NULL;
    weir_status_t st = weir_compile_buffer(data, size, "fuzz.yar", NULL, &rules, &diags);
    /* Every diagnostic names a place and says something. */
    for (size_t i = 0; i < weir_diags_count(diags); i++) {
        const weir_diag_t *d = weir_diags_get(diags, i);
        if (!d || !d->message || !d->message[0] || !d->file)
            __builtin_trap();
    }
    if ((st == WEIR_OK) != (rules != NULL))
        __builtin_trap();
    weir_diags_free(diags);
    weir_rules_free(rules);
    return 0;
}
