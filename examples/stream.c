/*
 * stream.c - the smallest complete use of libweir: two streams fed interleaved
 * in chunks, live match events with trace ids, and final results at close.
 * Build: cc -std=c11 stream.c $(pkg-config --cflags --libs weir)
 */
#include <stdio.h>
#include <string.h>

#include "weir.h"

static const char rules_text[] =
    "rule failed_login : auth { strings: $f = \"Failed password\" condition: $f }\n"
    "rule no_logout { strings: $l = \"logout\" condition: not $l }\n";

static int on_match(const weir_match_event_t *ev, void *user)
{
    (void)user;
    printf("live: %s fired on line %llu%s", ev->rule->name, (unsigned long long)ev->line,
           ev->at_close ? " (at close)" : "");
    for (size_t i = 0; i < ev->ntrace_ids; i++)
        printf(" %s", ev->trace_ids[i]);
    printf("\n");
    return 0;
}

static int on_result(const weir_rule_result_t *r, void *user)
{
    printf("final: %s on %s\n", r->rule->name, (const char *)user);
    return 0;
}

int main(void)
{
    static const char *const names[2] = {"alpha", "beta"};
    static const char *const data[2] = {
        "login bob \"t-1\"\nFailed password for bob \"t-2\"\n",
        "login eve \"t-7\"\nlogout eve \"t-8\"\n",
    };
    weir_rules_t *rules = NULL;
    weir_diags_t *diags = NULL;
    weir_scanner_t *scanner = NULL;
    weir_id_t ids[2];
    int rc = 1;

    weir_status_t st =
        weir_compile_buffer(rules_text, strlen(rules_text), "<example>", NULL, &rules, &diags);
    for (size_t i = 0; i < weir_diags_count(diags); i++) {
        const weir_diag_t *d = weir_diags_get(diags, i);
        fprintf(stderr, "%s:%u:%u: %s\n", d->file, (unsigned)d->line, (unsigned)d->column,
                d->message);
    }
    weir_diags_free(diags);
    if (st != WEIR_OK || (st = weir_scanner_new(rules, NULL, &scanner)) != WEIR_OK) {
        fprintf(stderr, "example: %s\n", weir_strerror(st));
        goto done;
    }
    weir_scanner_set_callback(scanner, on_match, NULL);

    /* Feed both streams five bytes at a time, turn about, as if they arrived at once. */
    for (int s = 0; s < 2; s++)
        weir_id_from_name(names[s], strlen(names[s]), &ids[s]);
    for (size_t off = 0; off < strlen(data[0]) || off < strlen(data[1]); off += 5) {
        for (int s = 0; s < 2; s++) {
            size_t len = strlen(data[s]);
            if (off >= len)
                continue;
            size_t n = len - off < 5 ? len - off : 5;
            if ((st = weir_scan_chunk(scanner, &ids[s], data[s] + off, n)) != WEIR_OK)
                goto fail;
        }
    }
    for (int s = 0; s < 2; s++)
        if ((st = weir_stream_close(scanner, &ids[s], on_result, (void *)names[s])) != WEIR_OK)
            goto fail;
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "example: %s\n", weir_strerror(st));
done:
    weir_scanner_free(scanner);
    weir_rules_free(rules);
    return rc;
}
