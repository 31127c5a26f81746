/*
 * test_diff.c - the differential test: random YARA rules over random streams,
 * each fed to weir in many chunkings, compared with what Debian's `yara -s -L`
 * reports for the same bytes as one file.  yara missing is a failure, never a pass.
 *
 * WEIR_DIFF_SEED (default 0x5eed) and WEIR_DIFF_ITERS (default 100) steer the
 * random part; every failure prints the seed that reproduces it alone.  With
 * WEIR_DIFF_DUMP=DIR each failure's rules and data are also written to DIR as
 * fail-N.yar and fail-N.bin, ready for minimising.
 */
#define _DEFAULT_SOURCE /* popen, mkdtemp */
#include "gen.h"
#include "gen_vars.h"
#include "test.h"
#include "weir.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIFF_FILES 4         /* data files scanned per rule file */
#define DIFF_MAX_DATA 3000   /* bytes per data file, at most */
#define DIFF_VERBOSE_FAILS 8 /* failures printed in full; the rest in one line */

/* Counters over the whole run, printed at the end of each test. */
static struct {
    unsigned rule_files, yara_rejected, weir_also_rejected, weir_accepts_bad, unsupported;
    unsigned streams, runs, fail_results, fail_events, fail_traces, fail_compile, printed;
} cnt;

static char tmpdir[64];
static int fixed_case = -1; /* the hand-written case being checked, or -1 */

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/* Checks for yara once; prints why it cannot run.  1 when usable. */
static int yara_available(void)
{
    static int state = -1;
    if (state >= 0)
        return state;
    char line[128] = "";
    FILE *p = popen("yara -v 2>&1", "r");
    if (p) {
        if (!fgets(line, sizeof line, p))
            line[0] = '\0';
        pclose(p);
    }
    state = isdigit((unsigned char)line[0]) != 0;
    if (!state)
        fprintf(stderr,
                "  the yara command is missing or broken (yara -v said \"%s\"): install "
                "Debian's yara 4.2; the differential test cannot pass without it\n",
                line);
    else if (strncmp(line, "4.2", 3) != 0)
        fprintf(stderr, "  note: yara %.*s, the oracle is meant to be 4.2\n",
                (int)strcspn(line, "\n"), line);
    return state;
}

static void remove_tmpdir(void)
{
    if (!tmpdir[0])
        return;
    char path[160];
    for (int i = 0; i < DIFF_FILES; i++) {
        snprintf(path, sizeof path, "%s/data/%d", tmpdir, i);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/data", tmpdir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/rules.yar", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/yara.err", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    tmpdir[0] = '\0';
}

static int make_tmpdir(void)
{
    if (tmpdir[0])
        return 0;
    strcpy(tmpdir, "/tmp/weir_diff.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        tmpdir[0] = '\0';
        return -1;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/data", tmpdir);
    atexit(remove_tmpdir); /* also when a filter on the command line skips diff_cleanup */
    return mkdir(path, 0700);
}

/*
 * External variables of the rule file being checked (gen_vars.h): when vars_on, yara gets
 * -d vi=.. -d vb=.. -d vs=.. and weir the same values, set by one of three routes (vars_mode):
 * 0 compile-time defaults, 1 other defaults then weir_scanner_set_var, 2 other defaults and
 * other scanner values then weir_stream_set_var on each stream.
 */
static int vars_on, vars_mode;

static void var_values(weir_var_t v[3], const gen_vars_t *g)
{
    v[0] = (weir_var_t){"vi", WEIR_VAR_INTEGER, g->vi, NULL, 0};
    v[1] = (weir_var_t){"vb", WEIR_VAR_BOOLEAN, g->vb, NULL, 0};
    v[2] = (weir_var_t){"vs", WEIR_VAR_STRING, 0, g->vs, strlen(g->vs)};
}

/* Values other than gen_vars, for the routes that must override them. */
static void other_values(weir_var_t v[3], gen_vars_t *store, unsigned salt)
{
    *store = gen_vars;
    store->vi += 1000 + salt;
    store->vb = !store->vb;
    snprintf(store->vs, sizeof store->vs, "zz%u%.12s", salt % 10, gen_vars.vs);
    var_values(v, store);
}

static weir_status_t compile_text(const char *text, weir_rules_t **out, weir_diags_t **diags)
{
    weir_var_t v[3];
    gen_vars_t other;
    if (vars_mode == 0)
        var_values(v, &gen_vars);
    else
        other_values(v, &other, 1);
    weir_source_t src = {"rules.yar", text, strlen(text), NULL};
    weir_compile_options_t o = {v, vars_on ? 3 : 0};
    return weir_compile(&src, 1, &o, out, diags);
}

/* Sets the variables on a new scanner (route 1 and 2). */
static weir_status_t scanner_vars(weir_scanner_t *sc)
{
    weir_var_t v[3];
    gen_vars_t other;
    if (!vars_on || vars_mode == 0)
        return WEIR_OK;
    if (vars_mode == 1)
        var_values(v, &gen_vars);
    else
        other_values(v, &other, 2);
    for (int i = 0; i < 3; i++) {
        weir_status_t st = weir_scanner_set_var(sc, &v[i]);
        if (st != WEIR_OK)
            return st;
    }
    return WEIR_OK;
}

/* Sets the variables on one stream (route 2). */
static weir_status_t stream_vars(weir_scanner_t *sc, const weir_id_t *id)
{
    weir_var_t v[3];
    if (!vars_on || vars_mode != 2)
        return WEIR_OK;
    var_values(v, &gen_vars);
    for (int i = 0; i < 3; i++) {
        weir_status_t st = weir_stream_set_var(sc, id, &v[i]);
        if (st != WEIR_OK)
            return st;
    }
    return WEIR_OK;
}

/*
 * Runs yara on rules and the n data files; fills out[i] with "R rule" and
 * "M rule $s offset length" lines for file i.  Returns yara's exit status
 * (-1 when it could not run); err receives its stderr.
 */
static int run_yara(const char *rules, size_t rules_len, const gen_buf_t *data, size_t n,
                    gen_set_t *out, gen_buf_t *err)
{
    char path[160], cmd[640], line[4096], defs[128] = "";
    snprintf(path, sizeof path, "%s/rules.yar", tmpdir);
    if (write_file(path, rules, rules_len) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/data/%zu", tmpdir, i);
        if (write_file(path, data[i].p ? data[i].p : "", data[i].len) != 0)
            return -1;
        gen_set_clear(&out[i]);
    }
    if (vars_on)
        snprintf(defs, sizeof defs, "-d vi=%lld -d vb=%s -d 'vs=%s' ", gen_vars.vi,
                 gen_vars.vb ? "true" : "false", gen_vars.vs);
    snprintf(cmd, sizeof cmd, "timeout 60 yara -w -p 1 -s -L %s%s/rules.yar %s/data 2>%s/yara.err",
             defs, tmpdir, tmpdir, tmpdir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char rule[256] = "";
    long file = -1;
    while (fgets(line, sizeof line, p)) {
        unsigned long long off;
        unsigned len;
        int used = 0;
        if (strncmp(line, "0x", 2) == 0 && sscanf(line, "0x%llx:%u:%n", &off, &len, &used) == 2) {
            char *sid = line + used, *colon = strchr(sid, ':');
            if (colon && file >= 0 && file < (long)n)
                gen_set_add(&out[file], "M %s %.*s %010llu %u", rule, (int)(colon - sid), sid, off,
                            len);
            continue;
        }
        /* "rule /tmp/.../data/3" */
        char *sp = strchr(line, ' '), *slash = strrchr(line, '/');
        if (!sp || !slash)
            continue;
        snprintf(rule, sizeof rule, "%.*s", (int)(sp - line), line);
        file = strtol(slash + 1, NULL, 10);
        if (file >= 0 && file < (long)n)
            gen_set_add(&out[file], "R %s", rule);
    }
    int status = pclose(p);
    snprintf(path, sizeof path, "%s/yara.err", tmpdir);
    gen_buf_clear(err);
    FILE *f = fopen(path, "rb");
    if (f) {
        char buf[1024];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, f)) > 0)
            gen_putn(err, buf, k);
        fclose(f);
    }
    for (size_t i = 0; i < n; i++)
        gen_set_sort(&out[i]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void print_diags(FILE *f, const weir_diags_t *d)
{
    for (size_t i = 0; i < weir_diags_count(d); i++) {
        const weir_diag_t *g = weir_diags_get(d, i);
        fprintf(f, "    %s:%u:%u: %s: %s\n", g->file, (unsigned)g->line, (unsigned)g->column,
                g->severity == WEIR_SEV_ERROR ? "error" : "warning", g->message);
    }
}

static int diags_say_unsupported(const weir_diags_t *d)
{
    for (size_t i = 0; i < weir_diags_count(d); i++) {
        const weir_diag_t *g = weir_diags_get(d, i);
        if (g->severity == WEIR_SEV_ERROR && strstr(g->message, "not supported"))
            return 1;
    }
    return 0;
}

/* The header of a failure report: what reproduces it. */
static int report_begin(const char *what, uint64_t seed, const char *rules, const gen_buf_t *data,
                        const gen_chunking_t *ch)
{
    const char *dump = getenv("WEIR_DIFF_DUMP");
    if (dump && *dump) {
        char path[512];
        snprintf(path, sizeof path, "%s/fail-%u.yar", dump, cnt.printed);
        write_file(path, rules, strlen(rules));
        snprintf(path, sizeof path, "%s/fail-%u.bin", dump, cnt.printed);
        if (data)
            write_file(path, data->p ? data->p : "", data->len);
    }
    if (cnt.printed++ >= DIFF_VERBOSE_FAILS) {
        fprintf(stderr, "  FAIL(%s) seed=0x%016llx data=%zu bytes %s\n", what,
                (unsigned long long)seed, data ? data->len : 0, ch ? ch->what : "");
        return 0;
    }
    fprintf(stderr, "\n  ==== FAIL: %s\n", what);
    if (fixed_case >= 0)
        fprintf(stderr, "  fixed case %d (build/san/test_diff diff_fixed)\n", fixed_case);
    else
        fprintf(stderr,
                "  rerun alone: WEIR_DIFF_SEED=0x%016llx WEIR_DIFF_ITERS=1 build/san/test_diff "
                "diff_random\n",
                (unsigned long long)seed);
    if (vars_on)
        fprintf(stderr, "  variables (route %d): -d vi=%lld -d vb=%s -d 'vs=%s'\n", vars_mode,
                gen_vars.vi, gen_vars.vb ? "true" : "false", gen_vars.vs);
    fprintf(stderr, "  rules:\n%s\n", rules);
    if (data) {
        fprintf(stderr, "  data (%zu bytes): ", data->len);
        gen_print_c_string(stderr, data->p, data->len);
        fputc('\n', stderr);
        gen_hexdump(stderr, data->p, data->len);
    }
    if (ch)
        gen_chunk_print(stderr, ch);
    return 1;
}

/* Splits weir's collected lines into the result part ("R"/"M") and the trace part ("T"). */
static void split_traces(const gen_set_t *all, gen_set_t *res, gen_set_t *tr)
{
    for (size_t i = 0; i < all->n; i++)
        gen_set_add(all->v[i][0] == 'T' ? tr : res, "%s", all->v[i]);
    gen_set_sort(res);
    gen_set_sort(tr);
}

/*
 * yara -L prints the length of the data it kept of a match, at most 512 bytes
 * (YR_MAX_MATCH_DATA): weir's longer lengths are compared as 512, and the trace
 * ids of such matches, whose true end yara does not tell, are not compared.
 */
#define YARA_MAX_MATCH_DATA 512u

static void cap_lengths(gen_set_t *got, gen_set_t *tr)
{
    gen_set_t capped = {0}, long_ones = {0}, kept = {0};
    for (size_t i = 0; i < got->n; i++) {
        char rule[256], sid[64];
        unsigned long long off;
        unsigned len;
        if (sscanf(got->v[i], "M %255s %63s %llu %u", rule, sid, &off, &len) == 4 &&
            len >= YARA_MAX_MATCH_DATA) {
            gen_set_add(&capped, "M %s %s %010llu %u", rule, sid, off, YARA_MAX_MATCH_DATA);
            gen_set_add(&long_ones, "T %s %s %010llu ", rule, sid, off);
        } else {
            gen_set_add(&capped, "%s", got->v[i]);
        }
    }
    for (size_t i = 0; i < tr->n; i++) {
        int drop = 0;
        for (size_t k = 0; k < long_ones.n && !drop; k++)
            drop = strncmp(tr->v[i], long_ones.v[k], strlen(long_ones.v[k])) == 0;
        if (!drop)
            gen_set_add(&kept, "%s", tr->v[i]);
    }
    gen_set_sort(&capped);
    gen_set_sort(&kept);
    gen_set_free(got);
    gen_set_free(tr);
    *got = capped;
    *tr = kept;
    gen_set_free(&long_ones);
}

/* The "T" lines the trace-id model expects for the "M" lines of expect. */
static void model_traces(const gen_set_t *expect, const gen_buf_t *data, gen_set_t *out)
{
    gen_lines_t m;
    gen_lines_model(&m, data->p, data->len);
    for (size_t i = 0; i < expect->n; i++) {
        char rule[256], sid[64];
        unsigned long long off;
        unsigned len;
        if (sscanf(expect->v[i], "M %255s %63s %llu %u", rule, sid, &off, &len) != 4 ||
            len >= YARA_MAX_MATCH_DATA)
            continue;
        const char *t = gen_lines_trace(&m, len ? off + len - 1 : off);
        gen_set_add(out, "T %s %s %010llu %s", rule, sid, off, t ? t : "-");
    }
    gen_set_sort(out);
    gen_lines_free(&m);
}

/*
 * Scans data on a fresh stream of sc in the chunking ch and compares with
 * expect (yara's lines).  first_events (empty on the first run) holds the
 * events of the reference chunking.  Returns 1 when everything agreed.
 */
static int check_run(weir_scanner_t *sc, const weir_rules_t *rules, uint64_t seed,
                     const char *rule_text, const gen_buf_t *data, const gen_chunking_t *ch,
                     const gen_set_t *expect, gen_set_t *first_events, int is_first, int *reported)
{
    gen_set_t all = {0}, got = {0}, tr = {0}, want_tr = {0}, events = {0};
    weir_id_t id;
    char name[32];
    int ok = 1;
    snprintf(name, sizeof name, "stream-%u", cnt.runs++);
    weir_id_from_name(name, strlen(name), &id);
    weir_scanner_set_callback(sc, gen_collect_events, &events);
    weir_status_t st = stream_vars(sc, &id);
    if (st == WEIR_OK)
        st = gen_feed(sc, &id, data->p, ch);
    weir_status_t cst = weir_stream_close(sc, &id, gen_collect_results_traces, &all);
    weir_scanner_set_callback(sc, NULL, NULL);
    split_traces(&all, &got, &tr);
    cap_lengths(&got, &tr);

    if (st != WEIR_OK || cst != WEIR_OK) {
        cnt.fail_results++;
        ok = 0;
        if (!*reported && report_begin("scan error", seed, rule_text, data, ch))
            fprintf(stderr, "  scan: %s, close: %s\n", weir_strerror(st), weir_strerror(cst));
        *reported = 1;
        goto done;
    }
    if (!gen_set_eq(&got, expect)) {
        cnt.fail_results++;
        ok = 0;
        if (!*reported &&
            report_begin("final results differ from yara", seed, rule_text, data, ch)) {
            gen_set_diff(stderr, "yara", expect, "weir", &got, 20);
            gen_set_print(stderr, "yara", expect, 40);
            gen_set_print(stderr, "weir", &got, 40);
        }
        *reported = 1;
        goto done;
    }
    model_traces(expect, data, &want_tr);
    if (!gen_set_eq(&tr, &want_tr)) {
        cnt.fail_traces++;
        ok = 0;
        if (!*reported &&
            report_begin("match trace ids differ from the line model", seed, rule_text, data, ch))
            gen_set_diff(stderr, "model", &want_tr, "weir", &tr, 20);
        *reported = 1;
    }

    /* Events: once per rule, only non-private rules that match, all of them,
       and live only for rules weir says can fire live. */
    gen_set_t fired = {0};
    const char *why = NULL;
    char detail[512] = "";
    for (size_t i = 0; i < events.n && !why; i++) {
        char rule[256];
        int at_close = 0;
        const char *p = strstr(events.v[i], " close=");
        snprintf(rule, sizeof rule, "%.*s", (int)strcspn(events.v[i], " "), events.v[i]);
        at_close = p && p[7] == '1';
        char rl[300];
        snprintf(rl, sizeof rl, "R %s", rule);
        if (gen_set_has(&fired, rl)) {
            why = "a rule fired twice";
        } else if (!gen_set_has(expect, rl)) {
            why = at_close ? "an event at close for a rule yara does not match"
                           : "a live event for a rule yara does not match";
        } else if (!at_close) {
            for (size_t k = 0; k < weir_rules_count(rules); k++) {
                const weir_rule_info_t *ri = weir_rules_info(rules, k);
                if (ri && strcmp(ri->name, rule) == 0 && !ri->fires_live)
                    why = "a live event for a rule with fires_live = 0";
            }
        }
        if (why)
            snprintf(detail, sizeof detail, "event: %s", events.v[i]);
        gen_set_add(&fired, "%s", rl);
    }
    gen_set_sort(&fired);
    if (!why) {
        gen_set_t rset = {0};
        for (size_t i = 0; i < expect->n; i++)
            if (expect->v[i][0] == 'R')
                gen_set_add(&rset, "%s", expect->v[i]);
        if (!gen_set_eq(&fired, &rset))
            why = "the rules fired are not yara's matching rules";
        gen_set_free(&rset);
    }
    if (is_first) {
        for (size_t i = 0; i < events.n; i++)
            gen_set_add(first_events, "%s", events.v[i]);
    } else if (!why && !gen_set_eq(first_events, &events)) {
        why = "events (rule, line, at_close, trace ids) depend on the chunking";
    }
    if (why) {
        cnt.fail_events++;
        ok = 0;
        if (!*reported && report_begin(why, seed, rule_text, data, ch)) {
            if (detail[0])
                fprintf(stderr, "  %s\n", detail);
            gen_set_print(stderr, "yara", expect, 40);
            gen_set_print(stderr, "events, one chunk", first_events, 40);
            gen_set_print(stderr, "events, this chunking", &events, 40);
        }
        *reported = 1;
    }
    gen_set_free(&fired);
done:
    gen_set_free(&all);
    gen_set_free(&got);
    gen_set_free(&tr);
    gen_set_free(&want_tr);
    gen_set_free(&events);
    return ok;
}

/*
 * Compiles rule_text with weir and checks every data[i] against yara's
 * expect[i] in every chunking.  Returns the number of failing runs; -1 when
 * weir refused the rules ("not supported" counted apart).
 */
static int check_rule_file(uint64_t seed, gen_rng_t *r, const char *rule_text,
                           const gen_buf_t *data, const gen_set_t *expect, size_t n)
{
    weir_rules_t *rules = NULL;
    weir_diags_t *diags = NULL;
    weir_scanner_t *sc = NULL;
    int fails = 0;
    weir_status_t st = compile_text(rule_text, &rules, &diags);
    if (st != WEIR_OK) {
        if (st == WEIR_ECOMPILE && diags_say_unsupported(diags)) {
            cnt.unsupported++;
            fails = -1;
        } else {
            cnt.fail_compile++;
            if (report_begin("weir rejects a rule file that yara accepts", seed, rule_text, NULL,
                             NULL)) {
                fprintf(stderr, "  weir_compile_buffer: %s\n", weir_strerror(st));
                print_diags(stderr, diags);
            }
            fails = 1;
        }
        goto done;
    }
    st = weir_scanner_new(rules, NULL, &sc);
    if (st == WEIR_OK)
        st = scanner_vars(sc);
    if (st != WEIR_OK) {
        cnt.fail_compile++;
        fprintf(stderr, "  weir_scanner_new: %s (seed 0x%016llx)\n", weir_strerror(st),
                (unsigned long long)seed);
        fails = 1;
        goto done;
    }
    gen_chunking_t ch = {0};
    for (size_t i = 0; i < n; i++) {
        gen_set_t first_events = {0};
        int reported = 0;
        size_t len = data[i].len;
        cnt.streams++;
        /* 0: whole, 1: bytes, 2-4: random sizes, then every split point of small data. */
        size_t nch = 5 + (len < 64 ? len + 1 : 0);
        for (size_t k = 0; k < nch; k++) {
            if (k == 0)
                gen_chunk_whole(&ch, len);
            else if (k == 1)
                gen_chunk_bytes(&ch, len);
            else if (k == 2)
                gen_chunk_random(&ch, r, len, 7);
            else if (k == 3)
                gen_chunk_random(&ch, r, len, 64);
            else if (k == 4)
                gen_chunk_random(&ch, r, len, 700);
            else
                gen_chunk_split(&ch, len, k - 5);
            if (!check_run(sc, rules, seed, rule_text, &data[i], &ch, &expect[i], &first_events,
                           k == 0, &reported))
                fails++;
        }
        gen_set_free(&first_events);
    }
    gen_chunk_free(&ch);
    if (weir_scanner_stream_count(sc) != 0) {
        cnt.fail_results++;
        fprintf(stderr, "  %zu streams still open after closing all (seed 0x%016llx)\n",
                weir_scanner_stream_count(sc), (unsigned long long)seed);
        fails++;
    }
done:
    weir_scanner_free(sc);
    weir_rules_free(rules);
    weir_diags_free(diags);
    return fails;
}

static void print_counts(void)
{
    fprintf(stderr,
            "  diff: %u rule files checked, %u yara-rejected (weir also rejected %u, accepted "
            "%u), %u not supported by weir, %u streams in %u runs; failures: %u results, %u "
            "events, %u trace ids, %u compile\n",
            cnt.rule_files, cnt.yara_rejected, cnt.weir_also_rejected, cnt.weir_accepts_bad,
            cnt.unsupported, cnt.streams, cnt.runs, cnt.fail_results, cnt.fail_events,
            cnt.fail_traces, cnt.fail_compile);
}

static int total_fails(void)
{
    return (int)(cnt.fail_results + cnt.fail_events + cnt.fail_traces + cnt.fail_compile +
                 cnt.weir_accepts_bad);
}

/* One rule file against yara: handles yara rejecting it.  0 when yara rejected it. */
static int diff_one(uint64_t seed, gen_rng_t *r, const char *rule_text, const gen_buf_t *data,
                    size_t n)
{
    gen_set_t expect[DIFF_FILES] = {{0}};
    gen_buf_t err = {0}, for_yara = {0};
    /* yara 4.2 has no ~ in hex strings: it gets the equivalent alternations. */
    gen_expand_negations(rule_text, &for_yara);
    int rc = run_yara(for_yara.p, for_yara.len, data, n, expect, &err);
    gen_buf_free(&for_yara);
    int used = 1;
    if (rc != 0) {
        used = 0;
        if (rc == 1 && err.p && strstr(err.p, "error")) {
            /* yara rejects it: weir must too. */
            weir_rules_t *rules = NULL;
            cnt.yara_rejected++;
            if (compile_text(rule_text, &rules, NULL) == WEIR_OK) {
                cnt.weir_accepts_bad++;
                if (report_begin("weir accepts a rule file that yara rejects", seed, rule_text,
                                 NULL, NULL))
                    fprintf(stderr, "  yara said: %s\n", err.p);
            } else {
                cnt.weir_also_rejected++;
                if (getenv("WEIR_DIFF_SHOW_REJECTS"))
                    fprintf(stderr, "  rejected by both (seed 0x%llx): %s",
                            (unsigned long long)seed, err.p);
            }
            weir_rules_free(rules);
        } else {
            cnt.fail_compile++;
            fprintf(stderr, "  yara failed (exit %d): %s\n", rc, err.p ? err.p : "");
        }
    } else {
        cnt.rule_files++;
        check_rule_file(seed, r, rule_text, data, expect, n);
    }
    for (size_t i = 0; i < DIFF_FILES; i++)
        gen_set_free(&expect[i]);
    gen_buf_free(&err);
    return used;
}

TEST(diff_random)
{
    ASSERT(yara_available());
    ASSERT(make_tmpdir() == 0);
    uint64_t seed = gen_seed_from_env("WEIR_DIFF_SEED", 0x5eed);
    unsigned iters = (unsigned)gen_seed_from_env("WEIR_DIFF_ITERS", 100);
    fprintf(stderr, "  diff_random: WEIR_DIFF_SEED=0x%016llx WEIR_DIFF_ITERS=%u\n",
            (unsigned long long)seed, iters);
    int before = total_fails();
    gen_buf_t rules = {0}, data[DIFF_FILES] = {{0}};
    unsigned used = 0;
    for (unsigned it = 0; it < iters; it++) {
        uint64_t s = seed + it;
        gen_rng_t r = {s};
        /* Variables come from their own generator, so that a seed without them makes the same
           rules as before they existed. */
        gen_rng_t vr = {s * 0x9E3779B97F4A7C15ull + 0x7a75};
        gen_extra_t x = {gen_chance(&vr, 30), gen_chance(&vr, 30), gen_chance(&vr, 25),
                         gen_chance(&vr, 25)};
        vars_on = x.vars;
        vars_mode = (int)gen_below(&vr, 3);
        gen_vars_pick(&vr, &gen_vars);
        gen_rules(&r, &rules, 6);
        /* Extra rules for external variables, rule sets, ~ and chains, appended (their own
           generator: the rules before them stay the same for a given seed). */
        if (x.vars || x.sets || x.neg || x.chain) {
            unsigned nbase = 0;
            for (const char *p = rules.p; (p = strstr(p, "rule r")) != NULL; p++)
                nbase++;
            gen_extra_rules(&vr, &rules, nbase, &x);
        }
        if (getenv("WEIR_DIFF_PRINT"))
            fprintf(stderr, "  seed 0x%llx:\n%s\n", (unsigned long long)s, rules.p);
        if (gen_chance(&r, 8))
            gen_append_bad_rule(&r, &rules);
        for (int i = 0; i < DIFF_FILES; i++)
            gen_data(&r, &data[i], DIFF_MAX_DATA);
        used += (unsigned)diff_one(s, &r, rules.p, data, DIFF_FILES);
    }
    vars_on = 0;
    gen_buf_free(&rules);
    for (int i = 0; i < DIFF_FILES; i++)
        gen_buf_free(&data[i]);
    print_counts();
    if (used < iters / 2)
        T__FAIL("only %u of %u generated rule files were valid for yara: fix the generator", used,
                iters);
    if (total_fails() != before)
        T__FAIL("%d disagreements with yara (details above)", total_fails() - before);
}

/* Hand-picked corners: rules and data where a streaming engine is most likely to differ. */
static const struct {
    const char *rules;
    const char *data;
} fixed_cases[] = {
    /* a regex anchored at the end of the data can only be decided at close */
    {"rule r0 { strings: $a = /ab$/ condition: $a }", "ab\nab"},
    {"rule r0 { strings: $a = /ab$/ condition: $a }", "ab\nab\n"},
    {"rule r0 { strings: $a = /^ab/ condition: $a }", "abab\nab"},
    /* fullword needs the byte after the match */
    {"rule r0 { strings: $a = \"ab\" fullword condition: #a == 2 }", "ab xab ab\nab"},
    /* greedy and lazy regex lengths across lines */
    {"rule r0 { strings: $a = /a.*b/s $b = /a.*?b/ condition: $a or $b }", "a\nxb\nab ab"},
    {"rule r0 { strings: $a = /a[^\\n]{0,5}x/ condition: $a }", "aaaaax\naaaaaaaaax"},
    /* undefined values: @a[1] and !a[1] with no match, not of undefined */
    {"rule r0 { strings: $a = \"zz\" condition: not (@a[1] > 5) }", "ab"},
    {"rule r0 { strings: $a = \"zz\" condition: not (!a[1] == 2) or filesize == 2 }", "ab"},
    /* counts that more data could change, and rule references */
    {"rule r0 { strings: $a = \"a\" condition: #a == 2 }\n"
     "rule r1 { condition: r0 and filesize > 3 }\n"
     "rule r2 { condition: not r0 }",
     "a b a b"},
    /* a global rule revoked later revokes everything */
    {"global rule g { strings: $x = \"x\" condition: not $x }\n"
     "rule r0 { strings: $a = \"a\" condition: $a }",
     "a\na\na\nx\n"},
    /* private rules and private strings */
    {"private rule p { strings: $a = \"b\" condition: $a }\n"
     "rule r0 { strings: $a = \"a\" private $b = \"ab\" condition: p and $a and $b }",
     "ab\"id-1\"\nab"},
    /* wide, nocase, hex alternatives with jumps */
    {"rule r0 { strings: $a = \"ab\" wide nocase ascii $h = { 61 ( 62 | 00 [1-3] 62 ) } "
     "condition: any of them }",
     "A\0B\0ab a\0\0\0b"},
    /* for loops over matches, and in ranges */
    {"rule r0 { strings: $a = \"a\" condition: for all i in (1..#a) : (@a[i] < 4) and $a in "
     "(0..2) }",
     "aa a"},
    {"rule r0 { strings: $a = \"ab\" $b1 = \"b\" $b2 = \"x\" condition: 2 of ($a, $b*) and "
     "for any of them : (# > 1) }",
     "abab"},
    /* empty data */
    {"rule r0 { condition: filesize == 0 } rule r1 { strings: $a = \"a\" condition: not $a }", ""},
};

TEST(diff_fixed)
{
    ASSERT(yara_available());
    ASSERT(make_tmpdir() == 0);
    int before = total_fails();
    gen_rng_t r = {42};
    for (size_t i = 0; i < sizeof fixed_cases / sizeof fixed_cases[0]; i++) {
        gen_buf_t data = {0};
        /* the literals above hold NULs: their length is sizeof - 1, not strlen */
        gen_puts(&data, fixed_cases[i].data);
        if (strstr(fixed_cases[i].rules, "wide nocase")) {
            static const char d[] = "A\0B\0ab a\0\0\0b";
            gen_buf_clear(&data);
            gen_putn(&data, d, sizeof d - 1);
        }
        fixed_case = (int)i;
        int used = diff_one(i, &r, fixed_cases[i].rules, &data, 1);
        fixed_case = -1;
        if (!used)
            T__FAIL("yara rejected fixed case %zu: %s", i, fixed_cases[i].rules);
        gen_buf_free(&data);
    }
    if (total_fails() != before)
        T__FAIL("%d disagreements with yara in the fixed cases (details above)",
                total_fails() - before);
}

/* Last: removes the temporary directory (a test so that it runs after the others). */
TEST(diff_cleanup)
{
    remove_tmpdir();
}

TEST_MAIN(TEST_ENTRY(diff_fixed), TEST_ENTRY(diff_random), TEST_ENTRY(diff_cleanup))
