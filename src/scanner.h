/*
 * scanner.h - the per-stream context and the scanner that owns the streams;
 * shared by scanner.c (feeding data) and match.c (turning Vectorscan reports
 * into YARA matches) and eval.c (conditions, events and results).
 */
#ifndef WEIR_SCANNER_H
#define WEIR_SCANNER_H

#include "mem.h"
#include "rules.h"
#include "stream_table.h"
#include "traceid.h"
#include "weir.h"

#include <hs.h>

/* Something waiting for more bytes: a Vectorscan report whose neighbouring
   bytes are not here yet, or a VM match start whose length is not decided. */
enum { WEIR__P_REPORT = 0, WEIR__P_START = 1 };

typedef struct weir__pend {
    uint64_t pos;   /* REPORT: end offset; START: start offset */
    uint64_t tried; /* START: the stream's length when last found undecided (0: never) */
    uint32_t variant;
    uint32_t type;
} weir__pend_t;

#define WEIR__NO_TRACE UINT32_MAX
/* A rule's state in a stream besides rule_true (weir__sx_t.fired). */
enum { WEIR__FIRED = 1, WEIR__GAVE_UP = 2 };

/*
 * What a stream needs beyond the basics: matches, pending work, rule states, trace ids kept
 * for matches, integer-read bytes, variables.  Allocated when the stream first needs any of it
 * (weir__sx), so that a stream that has matched nothing costs only its weir__stream_t, its
 * Vectorscan state and its history.
 */
typedef struct weir__sx {
    uint64_t string_matches, rules_fired;

    uint8_t *head; /* the stream's first bytes, for integer reads (rules->head of them) */
    uint32_t head_len;

    weir__mlist_t *lists; /* per string of the rules, sorted by offset */
    uint64_t **drefs;     /* per string, beside lists: arena offset << 10 | length */
    uint8_t *arena;       /* match data */
    size_t arena_len, arena_cap;

    weir__pend_t *pend;
    size_t npend, cap_pend;

    uint8_t *rule_true; /* nrules: condition held at a live evaluation      */
    uint8_t *fired;     /* nrules: WEIR__FIRED event delivered, WEIR__GAVE_UP its condition
                           ran out of steps (evaluated again only at close), or 0 */
    uint8_t *is_dirty;  /* nrules                                           */
    uint32_t *dirty;
    size_t ndirty, cap_dirty;

    char **slots; /* trace ids of lines holding matches (NULL: none) */
    size_t nslots, cap_slots;
    uint32_t cur_slot, prev_slot; /* WEIR__NO_TRACE when unassigned */
    char *prev_trace;             /* trace id of the previous line, kept only while something
                                     is pending at its end (exact size) */
    uint64_t prev_line_start;
    /* Lines that ended while a match on them was still undecided. */
    struct weir__line {
        uint64_t start, end;
        char *trace;
        uint32_t slot;
    } * recent;
    size_t nrecent, cap_recent;
    uint8_t too_many;

    /* unconfirmed matches of the pieces of chained strings (rules->gaps numbering; NULL until
       the first), sorted by offset (match.c) */
    struct weir__chainl {
        struct weir__cmatch {
            uint64_t off;
            uint32_t len;
            uint32_t links; /* YARA's chain_length: pieces linked after it */
        } * v;
        uint32_t n, cap;
    } * chains;

    /* external variables set for this stream only (vars.c) */
    struct weir__svar {
        uint32_t idx; /* in rules->vars */
        int64_t i;
        uint8_t *s; /* string variables: len bytes, owned */
        size_t len;
    } * vars;
    uint32_t nvars;
} weir__sx_t;

/* History bytes a stream keeps in place, without an allocation. */
#define WEIR__RING_IN 8

/* A stream's context (what a call on an idle stream reads comes first). */
typedef struct weir__stream {
    weir_id_t id;
    hs_stream_t *hs;
    weir__sx_t *x; /* NULL until needed */
    /* the last ring_len bytes of the stream (before the chunk being scanned), oldest first;
       only as many as matches still to come can need (stream.c, history_from): in place
       while they fit (ring_cap 0), else on the heap (ring_cap bytes); see weir__ring */
    union {
        uint8_t *p;
        uint8_t in[WEIR__RING_IN];
    } ring;
    uint32_t ring_len, ring_cap;
    uint64_t bytes, lines;
    union {
        uint64_t line_start; /* offset of the current line's first byte (weir__line_start) */
        uint64_t base;       /* record mode, where each line is the whole stream: where the
                                current line starts in the stream (offsets count from there) */
    };
    weir__mem_t mem;
    weir__trace_t trace;
    /* recency, for eviction under a memory budget (budget.c): most recent first */
    struct weir__stream *lru_prev, *lru_next;
    uint64_t last_used; /* the scanner's clock (ms) at the stream's last use */
} weir__stream_t;

/* Where st's current line starts (in record mode the line is all there is: 0). */
static inline uint64_t weir__line_start(const weir_scanner_t *sc, const weir__stream_t *st);

static inline uint8_t *weir__ring(weir__stream_t *st)
{
    return st->ring_cap ? st->ring.p : st->ring.in;
}

/* An evicted stream kept in memory: its snapshot (snapshot.c).  Table values pointing to one
   have their low bit set. */
typedef struct weir__parked {
    weir_id_t id;
    uint64_t last_used;
    uint32_t len; /* of the context */
    uint8_t data[];
} weir__parked_t;

struct weir_scanner {
    const weir_rules_t *rules;
    weir_scanner_options_t opt;
    hs_scratch_t *scratch;
    weir__table_t table;
    weir_match_cb cb;
    void *user;
    weir_limit_cb limit_cb; /* told of limits reached (eval.c, match.c) */
    void *limit_user;
    uint8_t *win; /* bytes around a match assembled from history and chunk */
    size_t win_cap;
    const char **tids; /* trace ids of an event */
    size_t tids_cap;
    weir_string_match_t *res; /* matches of a result */
    size_t res_cap;
    uint32_t *glob_at, *globs; /* global rules per namespace (CSR) */
    /* Vectorscan's reports for the piece of a chunk being scanned */
    struct weir__report {
        uint64_t to;
        uint32_t id, seq;
    } * reps;
    size_t nreps, cap_reps;
    struct weir__re_memo *memo; /* atom occurrences of the stream being settled (re.h) */
    size_t hs_size;             /* Vectorscan's state per stream */
    weir__trace_cfg_t *tcfg;    /* how trace ids are found */
    weir__trace_pool_t tpool;   /* line buffers lent to streams while a line is partial */
    /* the memory budget (budget.c) */
    weir__stream_t *lru_head, *lru_tail; /* live streams, most recently used first */
    size_t live_bytes;                   /* held by live streams' contexts */
    size_t parked_bytes;                 /* held by the snapshots of evicted streams */
    size_t nlive, nparked, nspilled;
    struct weir__spill *spill; /* the store evicted streams go to (NULL: memory) */
    uint64_t evictions, restores, expired;
    struct weir__wbuf *snap; /* room for one snapshot */
    uint64_t (*clock)(void *user);
    void *clock_user;
    /* external variables: the scanner's values (a string other than the rules' default is the
       scanner's own copy), and room to merge a stream's own values over them (vars.c) */
    weir__varval_t *vars, *mix;
};

static inline uint64_t weir__line_start(const weir_scanner_t *sc, const weir__stream_t *st)
{
    return sc->opt.records ? 0 : st->line_start;
}

/* What one call is working on. */
typedef struct weir__scan {
    weir_scanner_t *sc;
    weir__stream_t *st;
    const uint8_t *chunk; /* the caller's bytes, chunk[0] at offset chunk_abs */
    uint64_t chunk_abs;
    uint64_t wend;            /* bytes usable: [.., wend) */
    int at_end;               /* the stream ends at wend */
    int line_end;             /* wend is the end of a line (an evaluation point) */
    int emit;                 /* deliver events */
    int closing;              /* the stream ends (events then say at_close) */
    const char *record_trace; /* record mode: the trace id of the record being evaluated */
    int stopped;              /* the callback asked to stop */
    weir_status_t err;
} weir__scan_t;

/* match.c */
int weir__on_report(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx);
/* Processes pending reports and VM starts that the bytes up to c->wend decide. */
void weir__settle(weir__scan_t *c);
/* Contiguous bytes [lo, hi) of the stream (hi <= c->wend), or NULL. */
const uint8_t *weir__view(weir__scan_t *c, uint64_t lo, uint64_t hi);
void weir__mark_dirty(weir__scan_t *c, uint32_t rule);

/* Frees st's chain lists. */
void weir__chains_free(const weir_rules_t *r, weir__stream_t *st);

/* eval.c */
/* Live evaluation at a line end (or wherever the caller decides). */
void weir__eval_live(weir__scan_t *c);
/* Final evaluation at close: events (when c->emit) then results to cb. */
weir_status_t weir__eval_final(weir__scan_t *c, weir_result_cb cb, void *user);
/* Tells the limit callback that stream c->st reached limit `kind` (rule r, string s or
   UINT32_MAX) at offset `at` of the current file (the stream, or the record). */
void weir__limit_reached(weir__scan_t *c, weir_limit_kind_t kind, uint32_t r, uint32_t s,
                         uint64_t at, int at_close);

/* scanner.c */
int weir__stream_slot_for(weir__scan_t *c, uint64_t end, uint32_t *slot);
/* The open stream id, opened now if it is new; NULL out of memory. */
weir__stream_t *weir__stream_open(weir_scanner_t *sc, const weir_id_t *id);

/* stream.c */
/* A new context for id (open_hs: with a fresh Vectorscan stream); NULL out of memory. */
weir__stream_t *weir__stream_new(weir_scanner_t *sc, const weir_id_t *id, int open_hs);
void weir__stream_free(weir_scanner_t *sc, weir__stream_t *st);
/* st's extras, allocated now if it has none; NULL out of memory. */
weir__sx_t *weir__sx(weir_scanner_t *sc, weir__stream_t *st);
void weir__sx_free(weir_scanner_t *sc, weir__stream_t *st);
/* Record mode: forgets everything the record just evaluated left in st (but its variables),
   so that the next line starts as a new file at offset 0. */
void weir__record_reset(weir_scanner_t *sc, weir__stream_t *st);
/* Keeps in st's history what later matches can need of it and of the n bytes p just scanned
   (st->bytes already counts them).  0, or -1 out of memory. */
int weir__history_update(const weir_scanner_t *sc, weir__stream_t *st, const uint8_t *p, size_t n);

/* st's memory by part (the partial line's trace-id buffer is in `other`). */
void weir__stream_memory(const weir_scanner_t *sc, const weir__stream_t *st,
                         weir_memory_parts_t *out);

/* snapshot.c */
struct weir__wbuf;
struct weir__rbuf;
/* Appends st's context to w: 0, -1 out of memory, -2 Vectorscan failed. */
int weir__snap_save(const weir_scanner_t *sc, const weir__stream_t *st, struct weir__wbuf *w);
/* A stream id from a context read from r; NULL with *err WEIR_EFORMAT, WEIR_ENOMEM or
   WEIR_EENGINE. */
weir__stream_t *weir__snap_load(weir_scanner_t *sc, const weir_id_t *id, struct weir__rbuf *r,
                                weir_status_t *err);

/* budget.c */
/* The live context of stream id: restored if evicted, opened if new and create is set, and
   made the most recently used.  NULL with *err (WEIR_ENOTFOUND, WEIR_ENOMEM, ...). */
weir__stream_t *weir__stream_get(weir_scanner_t *sc, const weir_id_t *id, int create,
                                 weir_status_t *err);
/* A call on st is over (its memory was `before` when it began): accounting, then eviction of
   the least recently used other streams while over the budget. */
void weir__stream_done(weir_scanner_t *sc, weir__stream_t *st, size_t before);
/* Takes stream id out of the scanner (restored if evicted) for closing; NULL with *err. */
weir__stream_t *weir__stream_take(weir_scanner_t *sc, const weir_id_t *id, weir_status_t *err);
/* Appends the context of stream id (live or evicted) to w, and gives its last use.
   A weir_status_t. */
int weir__stream_context(weir_scanner_t *sc, const weir_id_t *id, struct weir__wbuf *w,
                         uint64_t *last_used);
/* Adds stream id from its context (checked whole): live, or kept evicted when lazy.
   WEIR_ESTATE when id is open already; WEIR_EFORMAT, WEIR_ENOMEM, WEIR_EENGINE. */
weir_status_t weir__stream_insert(weir_scanner_t *sc, const weir_id_t *id, const uint8_t *ctx,
                                  size_t len, uint64_t last_used, int lazy);
/* The id a table value (live stream or evicted snapshot) is stored under. */
const weir_id_t *weir__stream_key(const void *value);
/* The scanner's clock, in ms (weir_scanner_set_clock). */
uint64_t weir__now_ms(const weir_scanner_t *sc);
/* cb for every stream, live or evicted, until it returns non-zero; cb must not open, close
   or evict streams.  WEIR_OK or WEIR_EIO (spill store). */
weir_status_t weir__streams_each(const weir_scanner_t *sc,
                                 int (*cb)(const weir_id_t *id, uint64_t last_used, void *user),
                                 void *user);
/* weir_scan_batch's pipeline: starts loading id's table slot (deep 0), then its context
   (deep 1, once the slot is in), then its Vectorscan state (prefetch_state). */
void weir__stream_prefetch(const weir_scanner_t *sc, const weir_id_t *id, int deep);
void weir__stream_prefetch_state(const weir_scanner_t *sc, const weir_id_t *id);
/* Forgets every stream, the spilled ones too. */
void weir__streams_clear(weir_scanner_t *sc);
/* Frees every stream, live or evicted to memory (the spill store goes with the scanner). */
void weir__streams_free(weir_scanner_t *sc);

/* vars.c */
/* Sets up the scanner's variables from the rules' defaults; -1 out of memory. */
int weir__vars_init(weir_scanner_t *sc);
void weir__vars_free(weir_scanner_t *sc);
/* The values st's conditions see: its own over the scanner's. */
const weir__varval_t *weir__vars_of(weir_scanner_t *sc, const weir__stream_t *st);
/* Frees st's own values. */
void weir__stream_vars_free(weir__stream_t *st);

#endif /* WEIR_SCANNER_H */
