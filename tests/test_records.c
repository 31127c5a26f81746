/*
 * test_records.c - record mode: each line is evaluated as a file of its own.  Two oracles:
 * weir itself on each line as a separate stream (whose equality with yara test_diff.c
 * establishes), under random chunkings of the whole stream; and Debian's yara on each line
 * written to a file of its own.
 */
#define _DEFAULT_SOURCE /* popen, mkdtemp */
#include "gen.h"
#include "test.h"
#include "weir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const weir_id_t the_id = {{7, 7, 7, 7}};

/* The lines of data: starts and lengths (without the newline); the last may lack one. */
typedef struct lines {
    size_t n, *at, *len;
} lines_t;

static void split_lines(const gen_buf_t *d, lines_t *l)
{
    l->n = 0;
    free(l->at);
    free(l->len);
    l->at = calloc(d->len + 1, sizeof *l->at);
    l->len = calloc(d->len + 1, sizeof *l->len);
    if (!l->at || !l->len)
        abort();
    size_t start = 0;
    for (size_t i = 0; i <= d->len; i++) {
        if (i == d->len ? i > start : d->p[i] == '\n') {
            l->at[l->n] = start;
            l->len[l->n++] = i - start;
            start = i + 1;
        }
    }
}

/* The last double-quoted string of a line (backslash escapes the next byte), as weir's
   default trace ids; NULL when there is none.  Written plainly, byte by byte. */
static char *quoted_id(const char *p, size_t n)
{
    static char last[512];
    char cur[512];
    size_t cl = 0;
    int in = 0, esc = 0, have = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (esc) {
            esc = 0;
            if (in && cl < 256)
                cur[cl++] = c;
            continue;
        }
        if (c == '\\') {
            esc = 1;
            if (in && cl < 256)
                cur[cl++] = c;
        } else if (c == '"') {
            if (in) {
                memcpy(last, cur, cl);
                last[cl] = '\0';
                have = 1;
            }
            in = !in;
            cl = 0;
        } else if (in && cl < 256) {
            cur[cl++] = c;
        }
    }
    return have ? last : NULL;
}

typedef struct rec_events {
    gen_set_t rules; /* "<rule> line=<n>" */
    int bad_ids;     /* events whose trace ids are not exactly the line's */
    const gen_buf_t *data;
    const lines_t *lines;
} rec_events_t;

static int on_record_event(const weir_match_event_t *ev, void *user)
{
    rec_events_t *e = user;
    gen_set_add(&e->rules, "%s line=%" PRIu64, ev->rule->name, ev->line);
    if (ev->line == 0 || ev->line > e->lines->n) {
        e->bad_ids++;
        return 0;
    }
    size_t k = (size_t)ev->line - 1;
    const char *want = quoted_id(e->data->p + e->lines->at[k], e->lines->len[k]);
    if (want ? !(ev->ntrace_ids == 1 && strcmp(ev->trace_ids[0], want) == 0) : ev->ntrace_ids != 0)
        e->bad_ids++;
    return 0;
}

/* Record mode over the whole data in chunking ch. */
static weir_status_t run_records(const weir_rules_t *rules, const gen_buf_t *d, const lines_t *l,
                                 const gen_chunking_t *ch, rec_events_t *e, gen_set_t *last,
                                 int evict)
{
    weir_scanner_options_t opt = {0};
    opt.records = 1;
    weir_scanner_t *sc = NULL;
    weir_status_t st = weir_scanner_new(rules, &opt, &sc);
    if (st != WEIR_OK)
        return st;
    e->data = d;
    e->lines = l;
    weir_scanner_set_callback(sc, on_record_event, e);
    if (!evict) {
        st = gen_feed(sc, &the_id, d->p, ch);
    } else { /* evicted to a snapshot after every chunk: restored by the next */
        st = weir_scan_chunk(sc, &the_id, "", 0);
        for (size_t i = 0, off = 0; i < ch->n && st == WEIR_OK; off += ch->size[i++]) {
            st = weir_scan_chunk(sc, &the_id, d->p + off, ch->size[i]);
            if (st == WEIR_OK)
                st = weir_stream_evict(sc, &the_id);
        }
    }
    weir_status_t cst = weir_stream_close(sc, &the_id, gen_collect_results, last);
    weir_scanner_free(sc);
    gen_set_sort(&e->rules);
    gen_set_sort(last);
    return st != WEIR_OK ? st : cst;
}

/* The oracle: each line alone, as a stream of its own without its newline. */
static weir_status_t run_lines(const weir_rules_t *rules, const gen_buf_t *d, const lines_t *l,
                               gen_set_t *out, gen_set_t *last)
{
    weir_scanner_t *sc = NULL;
    weir_status_t st = weir_scanner_new(rules, NULL, &sc);
    if (st != WEIR_OK)
        return st;
    gen_set_t res = {0};
    for (size_t k = 0; k < l->n && st == WEIR_OK; k++) {
        gen_set_clear(&res);
        st = weir_scan_chunk(sc, &the_id, d->p + l->at[k], l->len[k]);
        if (st == WEIR_OK)
            st = weir_stream_close(sc, &the_id, gen_collect_results, &res);
        for (size_t i = 0; i < res.n; i++)
            if (res.v[i][0] == 'R')
                gen_set_add(out, "%s line=%zu", res.v[i] + 2, k + 1);
        /* The last line without a newline is what closing the record stream reports. */
        if (k == l->n - 1 && (d->len == 0 || d->p[d->len - 1] != '\n'))
            for (size_t i = 0; i < res.n; i++)
                gen_set_add(last, "%s", res.v[i]);
    }
    gen_set_free(&res);
    weir_scanner_free(sc);
    gen_set_sort(out);
    gen_set_sort(last);
    return st;
}

TEST(records_equal_each_line_alone)
{
    gen_rng_t r = {gen_seed_from_env("WEIR_RECORDS_SEED", 0x4ec0)};
    gen_buf_t rt = {0}, data = {0};
    gen_chunking_t ch = {0};
    lines_t l = {0};
    int used = 0, bad = 0, with_events = 0;
    for (int it = 0; it < 60 && bad < 3; it++) {
        gen_rules(&r, &rt, 5);
        weir_rules_t *rules = NULL;
        if (weir_compile_buffer(rt.p, rt.len, "gen.yar", NULL, &rules, NULL) != WEIR_OK)
            continue;
        used++;
        for (int d = 0; d < 3; d++) {
            gen_data(&r, &data, 1200);
            split_lines(&data, &l);
            gen_set_t want = {0}, want_last = {0};
            ASSERT_INT_EQ(run_lines(rules, &data, &l, &want, &want_last), WEIR_OK);
            with_events += want.n > 0;
            for (int k = 0; k < 4; k++) {
                if (k == 0)
                    gen_chunk_whole(&ch, data.len);
                else if (k == 1)
                    gen_chunk_bytes(&ch, data.len);
                else
                    gen_chunk_random(&ch, &r, data.len, 90);
                rec_events_t e = {0};
                gen_set_t last = {0};
                weir_status_t st = run_records(rules, &data, &l, &ch, &e, &last, k == 3);
                if (st != WEIR_OK || !gen_set_eq(&want, &e.rules) || e.bad_ids ||
                    !gen_set_eq(&want_last, &last)) {
                    fprintf(stderr, "  record mode differs (status %s, %d bad trace ids)\n%s\n",
                            weir_strerror(st), e.bad_ids, rt.p);
                    gen_print_c_string(stderr, data.p, data.len);
                    fputc('\n', stderr);
                    gen_chunk_print(stderr, &ch);
                    gen_set_diff(stderr, "each line alone", &want, "record mode", &e.rules, 10);
                    gen_set_diff(stderr, "last line alone", &want_last, "at close", &last, 10);
                    test__failed_now = 1;
                    bad++;
                }
                gen_set_free(&e.rules);
                gen_set_free(&last);
            }
            gen_set_free(&want);
            gen_set_free(&want_last);
        }
        weir_rules_free(rules);
    }
    if (used < 30 || with_events < 20)
        T__FAIL("too little was tested: %d rule files compiled, %d data sets with events", used,
                with_events);
    gen_buf_free(&rt);
    gen_buf_free(&data);
    gen_chunk_free(&ch);
    free(l.at);
    free(l.len);
}

/* Rules that make offsets, filesize, anchors and integer reads relative to the line. */
static const char anchored[] = "rule at_start { strings: $a = \"GET\" condition: $a at 0 }\n"
                               "rule short { condition: filesize < 10 }\n"
                               "rule ends_ok { strings: $r = /ok$/ condition: $r }\n"
                               "rule starts_re { strings: $r = /^ERR/ condition: $r }\n"
                               "rule first_byte { condition: uint8(0) == 0x50 }\n"
                               "rule twice { strings: $a = \"ab\" condition: #a == 2 }\n"
                               "private rule quiet { strings: $a = \"ab\" condition: $a }\n"
                               "rule uses_private { condition: quiet and filesize > 20 }\n";

TEST(records_against_yara)
{
    char dir[] = "/tmp/weir_rec.XXXXXX", path[128], cmd[512], line[1024];
    ASSERT(mkdtemp(dir));
    static const char text[] = "GET /index ok \"t1\"\n"
                               "PUT /x\n"
                               "ERR ab ab \"t3\" ok\n"
                               "\n"
                               "POST ab \"t5\" yes ok\n"
                               "xGET ab ab ab ab and some more \"t6\"\n"
                               "PING ok";
    gen_buf_t d = {0};
    gen_puts(&d, text);
    lines_t l = {0};
    split_lines(&d, &l);
    snprintf(path, sizeof path, "%s/rules.yar", dir);
    FILE *f = fopen(path, "w");
    ASSERT(f);
    fputs(anchored, f);
    fclose(f);
    for (size_t k = 0; k < l.n; k++) {
        snprintf(path, sizeof path, "%s/%zu", dir, k + 1);
        f = fopen(path, "wb");
        ASSERT(f);
        fwrite(d.p + l.at[k], 1, l.len[k], f);
        fclose(f);
    }
    /* yara on each line as a file: "rule /dir/<line number>" */
    snprintf(cmd, sizeof cmd, "yara -w %s/rules.yar %s 2>&1", dir, dir);
    FILE *p = popen(cmd, "r");
    ASSERT(p);
    gen_set_t want = {0};
    while (fgets(line, sizeof line, p)) {
        char *sp = strchr(line, ' '), *slash = strrchr(line, '/');
        if (!sp || !slash || strstr(line, "rules.yar"))
            continue;
        long k = strtol(slash + 1, NULL, 10);
        gen_set_add(&want, "%.*s line=%ld", (int)(sp - line), line, k);
    }
    int status = pclose(p);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    gen_set_sort(&want);
    ASSERT(want.n >= 8); /* yara ran and found something on most lines */
    weir_rules_t *rules = NULL;
    ASSERT_INT_EQ(weir_compile_buffer(anchored, strlen(anchored), "a.yar", NULL, &rules, NULL),
                  WEIR_OK);
    gen_chunking_t ch = {0};
    gen_rng_t r = {3};
    for (int k = 0; k < 4; k++) {
        if (k == 0)
            gen_chunk_whole(&ch, d.len);
        else if (k == 1)
            gen_chunk_bytes(&ch, d.len);
        else
            gen_chunk_random(&ch, &r, d.len, 12);
        rec_events_t e = {0};
        gen_set_t last = {0};
        ASSERT_INT_EQ(run_records(rules, &d, &l, &ch, &e, &last, k == 3), WEIR_OK);
        /* the unterminated last line is evaluated at close, and its event says so */
        if (!gen_set_eq(&want, &e.rules) || e.bad_ids) {
            gen_set_diff(stderr, "yara, line by line", &want, "weir record mode", &e.rules, 20);
            T__FAIL("record mode differs from yara (%s, %d bad trace ids)", ch.what, e.bad_ids);
        }
        /* closing reports the last line "PING ok" as a file: by hand, these three rules and
           the match of /ok$/ at its offset 5 */
        if (!(gen_set_has(&last, "R ends_ok") && gen_set_has(&last, "R first_byte") &&
              gen_set_has(&last, "R short") && gen_set_has(&last, "M ends_ok $r 0000000005 2") &&
              last.n == 4))
            T__FAIL("results at close are not those of the last line (%zu entries)", last.n);
        gen_set_free(&e.rules);
        gen_set_free(&last);
    }
    weir_rules_free(rules);
    gen_chunk_free(&ch);
    gen_set_free(&want);
    gen_buf_free(&d);
    free(l.at);
    free(l.len);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        T__FAIL("could not remove %s", dir);
}

TEST_MAIN(TEST_ENTRY(records_equal_each_line_alone), TEST_ENTRY(records_against_yara))
