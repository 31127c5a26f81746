/*
 * test_threads.c - one compiled rule set shared by threads (weir.h: a weir_rules_t is
 * immutable and may be shared; one scanner per thread).  Scanning threads feed the same
 * streams in their own chunkings and must see exactly the events and results of a
 * single-threaded run, while other threads save, load and compile rules.  `make tsan` runs it
 * under ThreadSanitizer; `make test` under ASan.
 */
#define _DEFAULT_SOURCE /* pthread_barrier_t, mkdtemp */
#include "gen.h"
#include "test.h"
#include "weir.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Counts, a count in a range, a string long enough to cross most chunk boundaries, a regex
   with \w, a hex string with a jump, a rule only the close decides, and a rule on rules. */
static const char rules_text[] =
    "rule failed_login : auth {\n"
    "    meta: severity = 3\n"
    "    strings: $f = \"Failed password for invalid user\"\n"
    "    condition: #f >= 3\n"
    "}\n"
    "rule root_session {\n"
    "    strings:\n"
    "        $o = \"session opened for user root\"\n"
    "        $c = \"session closed for user root\"\n"
    "    condition: $o and $c\n"
    "}\n"
    "rule from_ten {\n"
    "    strings: $r = /user \\w+ from 10\\.[0-9]+\\.[0-9]+\\.[0-9]+/\n"
    "    condition: #r in (0..4000) >= 2\n"
    "}\n"
    "rule key_marker {\n"
    "    strings: $h = { 4B 45 59 3D [2-6] 3B }\n"
    "    condition: $h\n"
    "}\n"
    "rule no_errors {\n"
    "    strings: $e = \"ERROR\"\n"
    "    condition: not $e and filesize > 100\n"
    "}\n"
    "rule hundred_accepted {\n"
    "    strings: $a = \"accepted\" nocase\n"
    "    condition: #a == 100\n"
    "}\n"
    "rule both : combined {\n"
    "    condition: failed_login and from_ten\n"
    "}\n";

#define NSTREAMS 8
#define NWORKERS 4
#define ROUNDS 2

static const char *const line_kinds[] = {
    "sshd[411]: Failed password for invalid user admin from 10.0.3.4 port 22 ssh2\n",
    "sshd[412]: Failed password for invalid user oracle from 192.168.1.9 port 2222 ssh2\n",
    "pam: session opened for user root by (uid=0)\n",
    "pam: session closed for user root\n",
    "sshd[500]: Accepted publickey for user bob from 10.1.2.3\n",
    "app: KEY=ab12; request \"trace-7\"\n",
    "app: KEY=; too short\n",
    "kernel: ERROR disk full on /dev/sda1\n",
    "cron[77]: (root) CMD (run-parts /etc/cron.hourly)\n",
    "app: ACCEPTED by upstream \"req-42\"\n",
};

/* The data of each stream: lines drawn from line_kinds, a different mix per stream. */
static gen_buf_t data[NSTREAMS];

static void make_data(void)
{
    for (int s = 0; s < NSTREAMS; s++) {
        gen_rng_t r = {0x5eed0000u + (uint64_t)s};
        size_t nkinds = sizeof line_kinds / sizeof line_kinds[0];
        uint32_t lines = 300 + gen_below(&r, 900);
        gen_buf_clear(&data[s]);
        for (uint32_t i = 0; i < lines; i++) {
            /* Stream s leaves out kind s: some rules hold on some streams only. */
            size_t k = gen_below(&r, (uint32_t)nkinds);
            if (k != (size_t)s)
                gen_puts(&data[s], line_kinds[k]);
        }
        if (s % 3 == 0) /* a last line without its newline */
            gen_puts(&data[s], "trailing Failed password for invalid user x");
    }
}

static weir_id_t stream_id(int s)
{
    weir_id_t id = {{0}};
    id.bytes[0] = (uint8_t)s;
    id.bytes[15] = 0xa5;
    return id;
}

/* What a run saw: per stream, its events in order, then its final results (sorted). */
typedef struct outcome {
    gen_set_t events[NSTREAMS];
    gen_set_t results[NSTREAMS];
    weir_status_t status;
    char what[96];
} outcome_t;

static void outcome_free(outcome_t *o)
{
    for (int s = 0; s < NSTREAMS; s++) {
        gen_set_free(&o->events[s]);
        gen_set_free(&o->results[s]);
    }
}

static int on_event(const weir_match_event_t *ev, void *user)
{
    outcome_t *o = user;
    int s = ev->stream.bytes[0];
    if (s >= NSTREAMS) {
        o->status = WEIR_EINVAL;
        return 1;
    }
    return gen_collect_events(ev, &o->events[s]);
}

/* How a run feeds the streams. */
typedef struct plan {
    uint64_t seed;      /* for the chunk sizes */
    uint32_t max_chunk; /* 0: each stream in one chunk, one stream after the other */
    int batch;          /* weir_scan_batch, a chunk of every stream per call */
    size_t memory_limit;
} plan_t;

/* Scans every stream of data with rules as plan says, into o (o->status: the first error). */
static void run(const weir_rules_t *rules, const plan_t *plan, outcome_t *o)
{
    weir_scanner_options_t opt = {0};
    opt.memory_limit = plan->memory_limit;
    weir_scanner_t *sc = NULL;
    gen_chunking_t ch[NSTREAMS] = {{0}};
    o->status = weir_scanner_new(rules, &opt, &sc);
    if (o->status != WEIR_OK) {
        snprintf(o->what, sizeof o->what, "weir_scanner_new");
        return;
    }
    weir_scanner_set_callback(sc, on_event, o);
    gen_rng_t r = {plan->seed};
    size_t next[NSTREAMS] = {0}, off[NSTREAMS] = {0}, left = 0;
    for (int s = 0; s < NSTREAMS; s++) {
        if (plan->max_chunk)
            gen_chunk_random(&ch[s], &r, data[s].len, plan->max_chunk);
        else
            gen_chunk_whole(&ch[s], data[s].len);
        left += ch[s].n;
    }
    weir_status_t st = WEIR_OK;
    if (!plan->max_chunk) {
        for (int s = 0; s < NSTREAMS && st == WEIR_OK; s++) {
            weir_id_t id = stream_id(s);
            st = gen_feed(sc, &id, data[s].p, &ch[s]);
        }
        left = 0;
    }
    /* Round robin: the next chunk of every stream that has one. */
    while (left && st == WEIR_OK) {
        weir_chunk_t batch[NSTREAMS];
        size_t n = 0;
        for (int s = 0; s < NSTREAMS; s++) {
            if (next[s] == ch[s].n)
                continue;
            batch[n].stream = stream_id(s);
            batch[n].data = data[s].p + off[s];
            batch[n].len = ch[s].size[next[s]];
            off[s] += batch[n].len;
            next[s]++;
            n++;
        }
        left -= n;
        if (plan->batch) {
            st = weir_scan_batch(sc, batch, n, NULL);
        } else {
            for (size_t i = 0; i < n && st == WEIR_OK; i++)
                st = weir_scan_chunk(sc, &batch[i].stream, batch[i].data, batch[i].len);
        }
    }
    for (int s = 0; s < NSTREAMS && st == WEIR_OK; s++) {
        weir_id_t id = stream_id(s);
        st = weir_stream_close(sc, &id, gen_collect_results, &o->results[s]);
        gen_set_sort(&o->results[s]);
    }
    if (st != WEIR_OK) {
        o->status = st;
        snprintf(o->what, sizeof o->what, "scanning: %s", weir_strerror(st));
    }
    for (int s = 0; s < NSTREAMS; s++)
        gen_chunk_free(&ch[s]);
    weir_scanner_free(sc);
}

/* Where two sequences first differ, as "what[i]: got X, reference Y" in buf; 0 if equal. */
static int first_difference(const char *what, const gen_set_t *ref, const gen_set_t *got, char *buf,
                            size_t len)
{
    for (size_t i = 0; i < ref->n || i < got->n; i++) {
        const char *r = i < ref->n ? ref->v[i] : "(none)", *g = i < got->n ? got->v[i] : "(none)";
        if (strcmp(r, g) != 0) {
            snprintf(buf, len, "%s[%zu]: \"%s\", reference \"%s\"", what, i, g, r);
            return 1;
        }
    }
    return 0;
}

/* "" when o equals the reference, else what differs first (in buf). */
static const char *differs(const outcome_t *ref, const outcome_t *o, char *buf, size_t len)
{
    char what[32];
    buf[0] = '\0';
    if (o->status != WEIR_OK) {
        snprintf(buf, len, "status %d (%s)", (int)o->status, o->what);
        return buf;
    }
    for (int s = 0; s < NSTREAMS; s++) {
        snprintf(what, sizeof what, "stream %d event", s);
        if (first_difference(what, &ref->events[s], &o->events[s], buf, len))
            return buf;
        snprintf(what, sizeof what, "stream %d result", s);
        if (first_difference(what, &ref->results[s], &o->results[s], buf, len))
            return buf;
    }
    return buf;
}

/* ---- threads -------------------------------------------------------------------------- */

static weir_rules_t *shared; /* compiled by setup() */
static outcome_t reference;
static pthread_barrier_t start;
static char save_path[64];

/* What a thread reports to the main thread, which alone runs the asserts. */
typedef struct job {
    int k;
    int deferred; /* no reference yet: keep the outcome for the main thread to compare */
    outcome_t outcome;
    char fail[224]; /* "" when every run matched the reference */
} job_t;

static void *scan_worker(void *arg)
{
    job_t *j = arg;
    static const uint32_t max_chunk[NWORKERS] = {3, 17, 300, 50};
    pthread_barrier_wait(&start);
    for (int round = 0; round < ROUNDS && !j->fail[0]; round++) {
        plan_t plan = {0};
        plan.seed = 0x7417ull * (uint64_t)(j->k + 1) + (uint64_t)round;
        plan.max_chunk = max_chunk[j->k];
        plan.batch = j->k == 3;
        plan.memory_limit = j->k == 2 ? 1 : 0; /* every idle stream evicted, then restored */
        outcome_t o = {0};
        run(shared, &plan, &o);
        char why[160];
        if (*differs(&reference, &o, why, sizeof why))
            snprintf(j->fail, sizeof j->fail, "worker %d, round %d: %s", j->k, round, why);
        outcome_free(&o);
    }
    return NULL;
}

/* Saves the shared rules and loads them back while the others scan; scans with the copy. */
static void *load_worker(void *arg)
{
    job_t *j = arg;
    pthread_barrier_wait(&start);
    weir_rules_t *copy = NULL;
    weir_status_t st = weir_rules_save(shared, save_path);
    if (st == WEIR_OK)
        st = weir_rules_load(save_path, &copy);
    if (st != WEIR_OK) {
        snprintf(j->fail, sizeof j->fail, "save and load: %s", weir_strerror(st));
        return NULL;
    }
    plan_t plan = {0x10ad, 29, 0, 0};
    outcome_t o = {0};
    run(copy, &plan, &o);
    char why[160];
    if (*differs(&reference, &o, why, sizeof why))
        snprintf(j->fail, sizeof j->fail, "loaded rules: %s", why);
    outcome_free(&o);
    weir_rules_free(copy);
    return NULL;
}

/* Compiles the same text again (two of these run at once) and scans with it. */
static void *compile_worker(void *arg)
{
    job_t *j = arg;
    pthread_barrier_wait(&start);
    weir_rules_t *mine = NULL;
    weir_status_t st =
        weir_compile_buffer(rules_text, sizeof rules_text - 1, "threads.yar", NULL, &mine, NULL);
    if (st != WEIR_OK) {
        snprintf(j->fail, sizeof j->fail, "compile in thread %d: %s", j->k, weir_strerror(st));
        return NULL;
    }
    plan_t plan = {0xc0de + (uint64_t)j->k, 11, 0, 0};
    run(mine, &plan, &j->outcome);
    weir_rules_free(mine);
    char why[160];
    if (!j->deferred && *differs(&reference, &j->outcome, why, sizeof why))
        snprintf(j->fail, sizeof j->fail, "rules compiled in thread %d: %s", j->k, why);
    if (!j->deferred)
        outcome_free(&j->outcome);
    return NULL;
}

static void teardown(void)
{
    weir_rules_free(shared);
    shared = NULL;
    outcome_free(&reference);
    for (int s = 0; s < NSTREAMS; s++)
        gen_buf_free(&data[s]);
}

/* Compiles the rules and scans the data into the reference, once per process. */
static weir_rules_t *setup(void)
{
    if (shared)
        return shared;
    weir_rules_t *rules = NULL;
    make_data();
    weir_diags_t *diags = NULL;
    weir_status_t st =
        weir_compile_buffer(rules_text, sizeof rules_text - 1, "threads.yar", NULL, &rules, &diags);
    for (size_t i = 0; i < weir_diags_count(diags); i++)
        fprintf(stderr, "  threads.yar: %s\n", weir_diags_get(diags, i)->message);
    weir_diags_free(diags);
    if (st != WEIR_OK)
        return NULL;
    plan_t whole = {0};
    run(rules, &whole, &reference);
    shared = rules;
    atexit(teardown);
    return rules;
}

typedef void *(*job_fn_t)(void *);

/* Runs fns[k] on jobs[k] in thread k, all started together; their failures become the test's. */
static void run_threads(job_t *jobs, const job_fn_t *fns, int n)
{
    pthread_t tid[16];
    int started = 0;
    if (pthread_barrier_init(&start, NULL, (unsigned)n) != 0) {
        T__FAIL("pthread_barrier_init");
        return;
    }
    for (int k = 0; k < n; k++) {
        if (pthread_create(&tid[k], NULL, fns[k], &jobs[k]) != 0) {
            T__FAIL("pthread_create");
            abort(); /* the others wait at the barrier for ever */
        }
        started++;
    }
    for (int k = 0; k < started; k++)
        pthread_join(tid[k], NULL);
    pthread_barrier_destroy(&start);
    for (int k = 0; k < n; k++)
        if (jobs[k].fail[0])
            T__FAIL("%s", jobs[k].fail);
}

/* First in the process: threads compile at once before anything else has compiled (a cache
   some compile step fills on first use is then written by several of them). */
TEST(compile_in_threads)
{
    enum { N = 4 };
    job_t jobs[N];
    job_fn_t fns[N] = {0};
    memset(jobs, 0, sizeof jobs);
    for (int k = 0; k < N; k++) {
        jobs[k].k = k;
        jobs[k].deferred = 1;
        fns[k] = compile_worker;
    }
    make_data();
    run_threads(jobs, fns, N);
    weir_rules_t *rules = setup();
    ASSERT(rules != NULL);
    ASSERT_INT_EQ(reference.status, WEIR_OK);
    for (int k = 0; k < N; k++) {
        char why[160];
        if (*differs(&reference, &jobs[k].outcome, why, sizeof why))
            T__FAIL("rules compiled in thread %d: %s", k, why);
        outcome_free(&jobs[k].outcome);
    }
}

TEST(shared_rules_many_threads)
{
    enum { NCOMPILERS = 2, NJOBS = NWORKERS + 1 + NCOMPILERS };
    weir_rules_t *rules = setup();
    ASSERT(rules != NULL);
    ASSERT_INT_EQ(reference.status, WEIR_OK);
    /* The reference must be worth comparing with: every rule holds on some stream. */
    for (size_t r = 0; r < weir_rules_count(rules); r++) {
        const char *name = weir_rules_info(rules, r)->name;
        size_t len = strlen(name);
        int seen = 0;
        for (int s = 0; s < NSTREAMS && !seen; s++)
            for (size_t i = 0; i < reference.results[s].n && !seen; i++)
                seen = strncmp(reference.results[s].v[i], "R ", 2) == 0 &&
                       strncmp(reference.results[s].v[i] + 2, name, len) == 0 &&
                       reference.results[s].v[i][2 + len] == '\0';
        if (!seen)
            T__FAIL("rule %s holds on no stream: the data does not test it", name);
    }

    char dir[] = "/tmp/weir-threads-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    snprintf(save_path, sizeof save_path, "%s/rules.wr", dir);
    job_t jobs[NJOBS];
    job_fn_t fns[NJOBS] = {0};
    memset(jobs, 0, sizeof jobs);
    for (int k = 0; k < NJOBS; k++) {
        jobs[k].k = k < NWORKERS ? k : k - NWORKERS;
        fns[k] = k < NWORKERS ? scan_worker : k == NWORKERS ? load_worker : compile_worker;
    }
    run_threads(jobs, fns, NJOBS);
    unlink(save_path);
    rmdir(dir);
}

TEST_MAIN(TEST_ENTRY(compile_in_threads), TEST_ENTRY(shared_rules_many_threads))
