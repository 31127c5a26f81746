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

typedef struct weir__stream {
    weir_id_t id;
    weir__mem_t mem;
    hs_stream_t *hs;
    uint64_t bytes, lines, string_matches, rules_fired;

    /* the last ring_len bytes before the current chunk, oldest at
       (ring_head - ring_len) mod history */
    uint8_t *ring;
    uint32_t ring_len, ring_head;

    uint8_t *head; /* the stream's first bytes, for integer reads (rules->head of them) */
    uint32_t head_len;

    weir__mlist_t *lists; /* per string of the rules, sorted by offset */
    uint64_t **drefs;     /* per string, beside lists: arena offset << 10 | length */
    uint8_t *arena;       /* match data */
    size_t arena_len, arena_cap;

    weir__pend_t *pend;
    size_t npend, cap_pend;

    uint8_t *rule_true; /* nrules: condition held at a live evaluation      */
    uint8_t *fired;     /* nrules: event delivered                          */
    uint8_t *is_dirty;  /* nrules                                           */
    uint32_t *dirty;
    size_t ndirty, cap_dirty;

    weir__trace_t trace;
    char **slots; /* trace ids of lines holding matches (NULL: none) */
    size_t nslots, cap_slots;
    uint32_t cur_slot, prev_slot; /* WEIR__NO_TRACE when unassigned */
    char *prev_trace;             /* trace id of the previous line (buffer) */
    uint8_t has_prev_trace;
    uint64_t line_start, prev_line_start;
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
} weir__stream_t;

struct weir_scanner {
    const weir_rules_t *rules;
    weir_scanner_options_t opt;
    hs_scratch_t *scratch;
    weir__table_t table;
    weir_match_cb cb;
    void *user;
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
    /* external variables: the scanner's values (a string other than the rules' default is the
       scanner's own copy), and room to merge a stream's own values over them (vars.c) */
    weir__varval_t *vars, *mix;
};

/* What one call is working on. */
typedef struct weir__scan {
    weir_scanner_t *sc;
    weir__stream_t *st;
    const uint8_t *chunk; /* the caller's bytes, chunk[0] at offset chunk_abs */
    uint64_t chunk_abs;
    uint64_t wend; /* bytes usable: [.., wend) */
    int at_end;    /* the stream ends at wend */
    int line_end;  /* wend is the end of a line (an evaluation point) */
    int emit;      /* deliver events */
    int stopped;   /* the callback asked to stop */
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

/* Frees st's chain lists / copies src's into dst (-1 out of memory). */
void weir__chains_free(const weir_rules_t *r, weir__stream_t *st);
int weir__chains_copy(const weir_rules_t *r, weir__stream_t *dst, const weir__stream_t *src);

/* eval.c */
/* Live evaluation at a line end (or wherever the caller decides). */
void weir__eval_live(weir__scan_t *c);
/* Final evaluation at close: events (when c->emit) then results to cb. */
weir_status_t weir__eval_final(weir__scan_t *c, weir_result_cb cb, void *user);

/* scanner.c */
int weir__stream_slot_for(weir__scan_t *c, uint64_t end, uint32_t *slot);
/* The open stream id, opened now if it is new; NULL out of memory. */
weir__stream_t *weir__stream_open(weir_scanner_t *sc, const weir_id_t *id);

/* vars.c */
/* Sets up the scanner's variables from the rules' defaults; -1 out of memory. */
int weir__vars_init(weir_scanner_t *sc);
void weir__vars_free(weir_scanner_t *sc);
/* The values st's conditions see: its own over the scanner's. */
const weir__varval_t *weir__vars_of(weir_scanner_t *sc, const weir__stream_t *st);
/* Frees st's own values / copies src's into dst (-1 out of memory). */
void weir__stream_vars_free(weir__stream_t *st);
int weir__stream_vars_copy(weir__stream_t *dst, const weir__stream_t *src);

#endif /* WEIR_SCANNER_H */
