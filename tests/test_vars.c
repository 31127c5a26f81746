/*
 * test_vars.c - external variables through the public API: declaration errors, the three
 * levels of values (compile-time default, scanner, stream) and which one wins, isolation
 * between streams, type checks, save/load, and a corrupt variable table refused on load.
 * Their semantics against yara are covered by test_diff (random rules with -d values).
 */
#include "test.h"
#include "weir.h"

#include <stdlib.h>
#include <string.h>

static const char rules_text[] =
    "rule is_sshd { condition: app == \"sshd\" }\n"
    "rule loud { condition: level > 3 and verbose }\n"
    "rule web { condition: host matches /^web[0-9]+\\./ and not (host iendswith \".TEST\") }\n"
    "rule tagged { strings: $a = \"ERROR\" condition: $a and app icontains \"SSH\" }\n";

static weir_var_t vint(const char *name, int64_t v)
{
    return (weir_var_t){name, WEIR_VAR_INTEGER, v, NULL, 0};
}

static weir_var_t vbool(const char *name, int v)
{
    return (weir_var_t){name, WEIR_VAR_BOOLEAN, v, NULL, 0};
}

static weir_var_t vstr(const char *name, const char *s)
{
    return (weir_var_t){name, WEIR_VAR_STRING, 0, s, strlen(s)};
}

static weir_rules_t *compile_with(const weir_var_t *v, size_t n, const char *text,
                                  weir_status_t *st_out)
{
    weir_source_t src = {"vars.yar", text, strlen(text), NULL};
    weir_compile_options_t o = {v, n};
    weir_rules_t *rules = NULL;
    weir_diags_t *diags = NULL;
    weir_status_t st = weir_compile(&src, 1, &o, &rules, &diags);
    if (st_out)
        *st_out = st;
    weir_diags_free(diags);
    return rules;
}

static weir_rules_t *default_rules(void)
{
    weir_var_t v[] = {vstr("app", "cron"), vint("level", 1), vbool("verbose", 1),
                      vstr("host", "db1.example")};
    return compile_with(v, 4, rules_text, NULL);
}

/* Names of the rules matching stream id at close, as "a,b," */
static int collect(const weir_rule_result_t *res, void *user)
{
    char *out = user;
    strcat(out, res->rule->name);
    strcat(out, ",");
    return 0;
}

static void close_into(weir_scanner_t *sc, const char *name, char *out)
{
    weir_id_t id;
    weir_id_from_name(name, strlen(name), &id);
    out[0] = 0;
    ASSERT_INT_EQ(weir_stream_close(sc, &id, collect, out), WEIR_OK);
}

static void feed(weir_scanner_t *sc, const char *name, const char *data)
{
    weir_id_t id;
    weir_id_from_name(name, strlen(name), &id);
    ASSERT_INT_EQ(weir_scan_chunk(sc, &id, data, strlen(data)), WEIR_OK);
}

static void set_stream(weir_scanner_t *sc, const char *name, weir_var_t v)
{
    weir_id_t id;
    weir_id_from_name(name, strlen(name), &id);
    ASSERT_INT_EQ(weir_stream_set_var(sc, &id, &v), WEIR_OK);
}

TEST(declaration_errors)
{
    weir_status_t st;
    weir_var_t dup[] = {vint("x", 1), vint("x", 2)};
    ASSERT(!compile_with(dup, 2, "rule a { condition: x }", &st));
    ASSERT_INT_EQ(st, WEIR_ECOMPILE);
    weir_var_t kw[] = {vint("filesize", 1)};
    ASSERT(!compile_with(kw, 1, "rule a { condition: true }", &st));
    ASSERT_INT_EQ(st, WEIR_ECOMPILE);
    weir_var_t bad[] = {vint("1x", 1)};
    ASSERT(!compile_with(bad, 1, "rule a { condition: true }", &st));
    ASSERT_INT_EQ(st, WEIR_ECOMPILE);
    weir_var_t type[] = {{"x", (weir_var_type_t)9, 0, NULL, 0}};
    ASSERT(!compile_with(type, 1, "rule a { condition: true }", &st));
    ASSERT_INT_EQ(st, WEIR_ECOMPILE);
    /* A rule may not take a variable's name; an undeclared name is undefined. */
    weir_var_t x[] = {vint("x", 1)};
    ASSERT(!compile_with(x, 1, "rule x { condition: true }", &st));
    ASSERT_INT_EQ(st, WEIR_ECOMPILE);
    ASSERT(!compile_with(x, 1, "rule a { condition: y }", &st));
    ASSERT_INT_EQ(st, WEIR_ECOMPILE);
    /* Types: a string operator needs strings, arithmetic integers. */
    weir_var_t s[] = {vstr("s", "abc"), vint("n", 3)};
    ASSERT(!compile_with(s, 2, "rule a { condition: n contains \"a\" }", &st));
    ASSERT(!compile_with(s, 2, "rule a { condition: s + 1 > 2 }", &st));
    ASSERT(!compile_with(s, 2, "rule a { condition: s == 3 }", &st));
    ASSERT(!compile_with(s, 2, "rule a { condition: s matches \"abc\" }", &st));
    ASSERT(!compile_with(s, 2, "rule a { condition: s matches /a[/ }", &st));
    weir_rules_t *ok = compile_with(s, 2, "rule a { condition: s matches /B/i and n == 3 }", &st);
    ASSERT_INT_EQ(st, WEIR_OK);
    ASSERT_UINT_EQ(weir_rules_var_count(ok), 2);
    ASSERT_STR_EQ(weir_rules_var(ok, 0)->name, "s");
    ASSERT_INT_EQ(weir_rules_var(ok, 0)->type, WEIR_VAR_STRING);
    ASSERT_INT_EQ(weir_rules_var(ok, 1)->integer, 3);
    ASSERT(weir_rules_var(ok, 2) == NULL);
    weir_rules_free(ok);
}

TEST(levels_and_isolation)
{
    weir_rules_t *rules = default_rules();
    ASSERT(rules);
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
    char out[256];

    /* Defaults: app=cron, level=1, host=db1.example. */
    feed(sc, "s0", "x\n");
    close_into(sc, "s0", out);
    ASSERT_STR_EQ(out, "");

    /* Per stream: only that stream sees its values. */
    set_stream(sc, "s1", vstr("app", "sshd"));
    set_stream(sc, "s1", vstr("host", "web12.example"));
    feed(sc, "s1", "ERROR here\n");
    feed(sc, "s2", "ERROR here\n");
    close_into(sc, "s1", out);
    ASSERT_STR_EQ(out, "is_sshd,web,tagged,");
    close_into(sc, "s2", out);
    ASSERT_STR_EQ(out, "");

    /* Scanner level: every stream, unless it has its own value. */
    weir_var_t lv = vint("level", 7);
    ASSERT_INT_EQ(weir_scanner_set_var(sc, &lv), WEIR_OK);
    set_stream(sc, "s4", vbool("verbose", 0));
    feed(sc, "s3", "a\n");
    feed(sc, "s4", "a\n");
    close_into(sc, "s3", out);
    ASSERT_STR_EQ(out, "loud,");
    close_into(sc, "s4", out);
    ASSERT_STR_EQ(out, "");

    /* A stream's own value is dropped with the stream (reset or close). */
    set_stream(sc, "s5", vstr("app", "sshd"));
    weir_id_t id5;
    weir_id_from_name("s5", 2, &id5);
    ASSERT_INT_EQ(weir_stream_reset(sc, &id5), WEIR_OK);
    feed(sc, "s5", "ERROR\n");
    close_into(sc, "s5", out);
    ASSERT_STR_EQ(out, "loud,");

    /* Strings are copied and may hold any byte; case folding is ASCII only. */
    char host[] = "web7.example";
    weir_var_t hv = vstr("host", host);
    ASSERT_INT_EQ(weir_scanner_set_var(sc, &hv), WEIR_OK);
    memcpy(host, "zzz", 3);
    feed(sc, "s6", "b\n");
    close_into(sc, "s6", out);
    ASSERT_STR_EQ(out, "loud,web,");
    weir_var_t nul = {"app", WEIR_VAR_STRING, 0, "ss\0hd", 5};
    set_stream(sc, "s7", nul);
    set_stream(sc, "s7", vstr("host", "web1.x.TEST"));
    feed(sc, "s7", "ERROR\n");
    close_into(sc, "s7", out);
    ASSERT_STR_EQ(out, "loud,");

    /* Unknown names and wrong types are refused and change nothing. */
    weir_var_t wrong = vint("app", 1), unknown = vint("nope", 1);
    weir_id_t id;
    weir_id_from_name("s8", 2, &id);
    ASSERT_INT_EQ(weir_scanner_set_var(sc, &wrong), WEIR_EVAR);
    ASSERT_INT_EQ(weir_scanner_set_var(sc, &unknown), WEIR_EVAR);
    ASSERT_INT_EQ(weir_stream_set_var(sc, &id, &wrong), WEIR_EVAR);
    ASSERT_INT_EQ(weir_scanner_set_var(NULL, &wrong), WEIR_EINVAL);
    ASSERT_INT_EQ(weir_stream_set_var(sc, NULL, &wrong), WEIR_EINVAL);
    ASSERT_UINT_EQ(weir_scanner_stream_count(sc), 0);
    weir_scanner_free(sc);
    weir_rules_free(rules);
}

/* A live rule fires as soon as a line makes it true under the stream's values. */
static int count_events(const weir_match_event_t *ev, void *user)
{
    (void)ev;
    ++*(int *)user;
    return 0;
}

TEST(live_events_use_stream_values)
{
    weir_rules_t *rules = default_rules();
    ASSERT(rules);
    const weir_rule_info_t *tagged = weir_rules_info(rules, 3);
    ASSERT(tagged && tagged->fires_live);
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(rules, NULL, &sc), WEIR_OK);
    int events = 0;
    weir_scanner_set_callback(sc, count_events, &events);
    set_stream(sc, "a", vstr("app", "OpenSSH"));
    feed(sc, "a", "ERROR\n");
    feed(sc, "b", "ERROR\n");
    ASSERT_INT_EQ(events, 1);
    char out[256];
    close_into(sc, "a", out);
    close_into(sc, "b", out);
    weir_scanner_free(sc);
    weir_rules_free(rules);
}

TEST(save_load_keeps_variables)
{
    weir_rules_t *rules = default_rules();
    ASSERT(rules);
    void *buf = NULL;
    size_t len = 0;
    ASSERT_INT_EQ(weir_rules_serialize(rules, &buf, &len), WEIR_OK);
    weir_rules_t *back = NULL;
    ASSERT_INT_EQ(weir_rules_deserialize(buf, len, &back), WEIR_OK);
    ASSERT_UINT_EQ(weir_rules_var_count(back), 4);
    ASSERT_STR_EQ(weir_rules_var(back, 3)->name, "host");
    ASSERT_UINT_EQ(weir_rules_var(back, 3)->string_len, strlen("db1.example"));
    ASSERT_MEM_EQ(weir_rules_var(back, 3)->string, "db1.example", 11);
    weir_scanner_t *sc = NULL;
    ASSERT_INT_EQ(weir_scanner_new(back, NULL, &sc), WEIR_OK);
    weir_var_t h = vstr("host", "web3.q");
    ASSERT_INT_EQ(weir_scanner_set_var(sc, &h), WEIR_OK);
    set_stream(sc, "z", vstr("app", "xsshx"));
    feed(sc, "z", "ERROR\n");
    char out[256];
    close_into(sc, "z", out);
    ASSERT_STR_EQ(out, "web,tagged,");
    weir_scanner_free(sc);

    /* Every byte flipped in turn: refused with an error, never a crash (the checksum catches
       most; the loader's own checks the rest). */
    for (size_t i = 64; i < len; i += 7) {
        uint8_t *copy = malloc(len);
        ASSERT(copy);
        memcpy(copy, buf, len);
        copy[i] ^= 0x5a;
        weir_rules_t *bad = NULL;
        ASSERT(weir_rules_deserialize(copy, len, &bad) != WEIR_OK);
        ASSERT(bad == NULL);
        free(copy);
    }
    free(buf);
    weir_rules_free(back);
    weir_rules_free(rules);
}

TEST_MAIN(TEST_ENTRY(declaration_errors), TEST_ENTRY(levels_and_isolation),
          TEST_ENTRY(live_events_use_stream_values), TEST_ENTRY(save_load_keeps_variables))
