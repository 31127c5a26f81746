/*
 * match.c - turning Vectorscan's reports into YARA's matches.
 *
 * Vectorscan reports every end offset of every match, as the bytes stream
 * past.  YARA records one match per start offset, with the length its own
 * matcher prefers from there.  A fixed-length string's start follows from its
 * end; for the others the backward matcher finds every start of a match
 * ending at the report, and the forward matcher decides each start's length
 * once enough bytes have arrived.  Both read the bytes around a match from
 * the stream's history ring and the current chunk.
 *
 * Determinism: everything here depends only on the bytes before c->wend, never
 * on where chunks were cut, so the matches seen at any line end are the same
 * for every chunking.
 */
#include "scanner.h"

#include <string.h>

static int is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

const uint8_t *weir__view(weir__scan_t *c, uint64_t lo, uint64_t hi)
{
    weir__stream_t *st = c->st;
    if (hi > c->wend)
        hi = c->wend;
    if (lo >= c->chunk_abs)
        return c->chunk ? c->chunk + (lo - c->chunk_abs) : (const uint8_t *)"";
    uint64_t oldest = c->chunk_abs - st->ring_len;
    if (lo < oldest)
        return NULL; /* older than kept: history_from (scanner.c) keeps what can be asked */
    if (hi <= c->chunk_abs)
        return weir__ring(st) + (lo - oldest); /* all history: the ring is linear */
    /* Part history, part chunk: assemble them. */
    size_t n = (size_t)(hi - lo);
    weir_scanner_t *sc = c->sc;
    if (WEIR__GROW(NULL, sc->win, sc->win_cap, n + 1) != 0) {
        c->err = WEIR_ENOMEM;
        return NULL;
    }
    size_t from_ring = (size_t)(c->chunk_abs - lo);
    memcpy(sc->win, weir__ring(st) + (lo - oldest), from_ring);
    memcpy(sc->win + from_ring, c->chunk, n - from_ring);
    return sc->win;
}

void weir__mark_dirty(weir__scan_t *c, uint32_t rule)
{
    weir__stream_t *st = c->st;
    if (st->x->is_dirty[rule] || st->x->fired[rule])
        return;
    if (WEIR__GROW(&st->mem, st->x->dirty, st->x->cap_dirty, st->x->ndirty + 1) != 0) {
        c->err = WEIR_ENOMEM;
        return;
    }
    st->x->is_dirty[rule] = 1;
    st->x->dirty[st->x->ndirty++] = rule;
}

/* Records a match of string s at [p, p + len). */
static void add_match(weir__scan_t *c, uint32_t s, uint64_t p, uint32_t len)
{
    weir__stream_t *st = c->st;
    weir__mlist_t *l = &st->x->lists[s];
    uint32_t i = l->n;
    while (i > 0 && l->v[i - 1].off > p)
        i--;
    if (i > 0 && l->v[i - 1].off == p)
        return; /* one match per start offset, the first decided */
    if (l->n >= c->sc->opt.max_matches) {
        st->x->too_many = 1;
        return;
    }
    uint32_t trace = WEIR__NO_TRACE;
    if (weir__stream_slot_for(c, p + len, &trace) != 0)
        return;
    size_t cap = l->cap;
    if (WEIR__GROW(&st->mem, l->v, cap, (size_t)l->n + 1) != 0) {
        c->err = WEIR_ENOMEM;
        return;
    }
    if (c->sc->opt.match_data) {
        uint32_t dlen = len < c->sc->opt.match_data ? len : c->sc->opt.match_data;
        const uint8_t *d = weir__view(c, p, p + dlen);
        size_t old_cap = l->cap;
        if (WEIR__GROW(&st->mem, st->x->drefs[s], old_cap, cap) != 0 ||
            WEIR__GROW(&st->mem, st->x->arena, st->x->arena_cap, st->x->arena_len + dlen) != 0) {
            c->err = WEIR_ENOMEM;
            return;
        }
        if (d)
            memcpy(st->x->arena + st->x->arena_len, d, dlen);
        else
            dlen = 0;
        uint64_t dref = (uint64_t)st->x->arena_len << 10 | dlen;
        st->x->arena_len += dlen;
        memmove(st->x->drefs[s] + i + 1, st->x->drefs[s] + i, (l->n - i) * sizeof(uint64_t));
        st->x->drefs[s][i] = dref;
    }
    l->cap = (uint32_t)cap;
    memmove(l->v + i + 1, l->v + i, (l->n - i) * sizeof *l->v);
    l->v[i].off = p;
    l->v[i].len = len;
    l->v[i].trace = trace;
    l->n++;
    st->x->string_matches++;
    weir__mark_dirty(c, c->sc->rules->strings[s].rule);
    if (l->n == c->sc->opt.max_matches) /* once: the list never shrinks before a reset */
        weir__limit_reached(c, WEIR_LIMIT_MATCHES, c->sc->rules->strings[s].rule, s, p + len, 0);
}

/* ---- chained strings ------------------------------------------------------------ */

void weir__chains_free(const weir_rules_t *r, weir__stream_t *st)
{
    if (!st->x->chains)
        return;
    for (uint32_t i = 0; i < r->ngaps; i++)
        weir__free(&st->mem, st->x->chains[i].v, st->x->chains[i].cap * sizeof *st->x->chains[i].v);
    weir__free(&st->mem, st->x->chains, r->ngaps * sizeof *st->x->chains);
    st->x->chains = NULL;
}

static int gap_ok(const weir__gap_t *g, const struct weir__cmatch *m, uint64_t p)
{
    uint64_t end = m->off + m->len;
    return end + g->min <= p && (g->max == WEIR__RE_UNBOUNDED || end + g->max >= p);
}

/* Adds (p, len) to a piece's unconfirmed list, in offset order, once per offset. */
static void chain_add(weir__scan_t *c, struct weir__chainl *l, uint64_t p, uint32_t len)
{
    weir__stream_t *st = c->st;
    uint32_t i = l->n;
    while (i > 0 && l->v[i - 1].off > p)
        i--;
    if (i > 0 && l->v[i - 1].off == p)
        return;
    if (l->n >= c->sc->opt.max_matches) {
        st->x->too_many = 1;
        return;
    }
    size_t cap = l->cap;
    if (WEIR__GROW(&st->mem, l->v, cap, (size_t)l->n + 1) != 0) {
        c->err = WEIR_ENOMEM;
        return;
    }
    l->cap = (uint32_t)cap;
    memmove(l->v + i + 1, l->v + i, (l->n - i) * sizeof *l->v);
    l->v[i] = (struct weir__cmatch){p, len, 0};
    l->n++;
}

/* YARA's chain_length update: match m of piece k links k's successors; its predecessors that
   reach it link one more. */
static void chain_link(weir__scan_t *c, const weir__string_t *s, uint32_t k, struct weir__cmatch *m,
                       uint32_t links)
{
    if (m->links == links)
        return;
    m->links = links;
    if (k == 0)
        return;
    const weir__gap_t *g = &c->sc->rules->gaps[s->chain + k - 1];
    struct weir__chainl *prev = &c->st->x->chains[s->chain + k - 1];
    for (uint32_t i = 0; i < prev->n; i++)
        if (gap_ok(g, &prev->v[i], m->off))
            chain_link(c, s, k - 1, &prev->v[i], links + 1);
}

/*
 * A match of piece k of chained string s at [p, p + len), as YARA's
 * _yr_scan_verify_chained_string_match: a piece after the head counts only if a match of the
 * piece before ends within the gap before it; the tail confirms every head match linked all the
 * way to it, with the length up to the tail's end.
 */
static void chain_match(weir__scan_t *c, uint32_t si, uint32_t k, uint64_t p, uint32_t len)
{
    const weir_rules_t *r = c->sc->rules;
    const weir__string_t *s = &r->strings[si];
    weir__stream_t *st = c->st;
    if (!st->x->chains &&
        !(st->x->chains = weir__calloc(&st->mem, r->ngaps, sizeof *st->x->chains))) {
        c->err = WEIR_ENOMEM;
        return;
    }
    if (k == 0) {
        chain_add(c, &st->x->chains[s->chain], p, len);
        return;
    }
    int tail = k + 1 == s->npieces;
    const weir__gap_t *g = &r->gaps[s->chain + k - 1];
    struct weir__chainl *prev = &st->x->chains[s->chain + k - 1];
    uint64_t reach = p; /* a match of prev that cannot reach this far is dropped */
    if (!tail && st->x->chains[s->chain + k].n)
        reach = st->x->chains[s->chain + k].v[0].off;
    int linked = 0;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < prev->n; i++) {
        struct weir__cmatch m = prev->v[i];
        if (g->max != WEIR__RE_UNBOUNDED && !linked && m.off + m.len + g->max < reach)
            continue; /* can no longer link: dropped, as YARA does */
        if (!linked && gap_ok(g, &m, p))
            linked = 1;
        prev->v[kept++] = m;
    }
    prev->n = kept;
    if (!linked)
        return;
    if (!tail) {
        chain_add(c, &st->x->chains[s->chain + k], p, len);
        return;
    }
    for (uint32_t i = 0; i < prev->n; i++)
        if (gap_ok(g, &prev->v[i], p))
            chain_link(c, s, k - 1, &prev->v[i], 1);
    struct weir__chainl *head = &st->x->chains[s->chain];
    kept = 0;
    for (uint32_t i = 0; i < head->n; i++) {
        struct weir__cmatch m = head->v[i];
        if (m.links == s->npieces - 1)
            add_match(c, si, m.off, (uint32_t)(p + len - m.off));
        else
            head->v[kept++] = m;
    }
    head->n = kept;
}

/* A match of a variant: a chained string's piece goes through its chain. */
static void found(weir__scan_t *c, const weir__variant_t *v, uint64_t p, uint32_t len)
{
    if (c->sc->rules->strings[v->string].npieces)
        chain_match(c, v->string, v->piece, p, len);
    else
        add_match(c, v->string, p, len);
}

/*
 * YARA's fullword test on [p, e) with the bytes b = [lo, hi) of the stream
 * (hi: the end of the stream when the test needs bytes after e): no
 * alphanumeric byte next to either end (for wide strings, no alphanumeric
 * followed by a zero byte).  Bytes past the end of the stream do not exist.
 */
static int fullword_in(const uint8_t *b, uint64_t lo, uint64_t hi, uint64_t p, uint64_t e, int wide)
{
#define AT(x) b[(x)-lo]
    if (!wide) {
        if (p >= lo + 1 && is_alnum(AT(p - 1)))
            return 0;
        if (e < hi && is_alnum(AT(e)))
            return 0;
    } else {
        if (p >= lo + 2 && AT(p - 1) == 0 && is_alnum(AT(p - 2)))
            return 0;
        if (e + 1 < hi && AT(e + 1) == 0 && is_alnum(AT(e)))
            return 0;
    }
#undef AT
    return 1;
}

static int fullword_ok(weir__scan_t *c, uint64_t p, uint64_t e, int wide)
{
    uint64_t lo = p >= 2 ? p - 2 : 0;
    uint64_t hi = e + 2 < c->wend ? e + 2 : c->wend;
    const uint8_t *b = weir__view(c, lo, hi);
    return b ? fullword_in(b, lo, hi, p, e, wide) : 0;
}

/* Whether b[0..n) is text t (every other byte of b, each followed by a zero byte, when
   wide), all bytes xored with key. */
static int form_is(const uint8_t *b, const uint8_t *t, uint32_t n, int wide, uint8_t key,
                   int nocase)
{
    for (uint32_t i = 0; i < n; i++) {
        uint8_t x = (uint8_t)(b[wide ? 2 * i : i] ^ key);
        if (nocase ? lower(x) != lower(t[i]) : x != t[i])
            return 0;
        if (wide && (uint8_t)(b[2 * i + 1] ^ key) != 0)
            return 0;
    }
    return 1;
}

/*
 * The length YARA records for literal string s at p (0: none): it tries the ascii form, then
 * the wide one, then with xor the wide form and the ascii form under the key that makes their
 * first byte match, and keeps the first that matches.  A form whose bytes are not all here
 * does not match.
 */
static uint32_t literal_at(weir__scan_t *c, const weir__string_t *s, uint64_t p)
{
    uint32_t n = s->text_len;
    int ascii = (s->mods & WEIR__MOD_ASCII) || !(s->mods & WEIR__MOD_WIDE);
    int wide = (s->mods & WEIR__MOD_WIDE) != 0;
    int nocase = (s->mods & WEIR__MOD_NOCASE) != 0;
    uint64_t hi = p + (uint64_t)n * (wide ? 2 : 1);
    if (hi > c->wend)
        hi = c->wend;
    const uint8_t *b = weir__view(c, p, hi);
    if (!b || hi == p)
        return 0;
    int has_n = hi - p >= n, has_2n = hi - p >= 2 * (uint64_t)n;
    if (ascii && has_n && form_is(b, s->text, n, 0, 0, nocase))
        return n;
    if (wide && has_2n && form_is(b, s->text, n, 1, 0, nocase))
        return 2 * n;
    if (s->mods & WEIR__MOD_XOR) {
        uint8_t key = (uint8_t)(b[0] ^ s->text[0]);
        if (wide && has_2n && form_is(b, s->text, n, 1, key, 0))
            return 2 * n;
        if (has_n && form_is(b, s->text, n, 0, key, 0))
            return n; /* whether or not the string is ascii */
    }
    return 0;
}

/* Whether an atom of xor string s (ascii, wide: see compile.c) under a key of its range lies
   at its place for a match at p, so that YARA verifies p at all. */
static int xor_found(weir__scan_t *c, const weir__string_t *s, uint64_t p)
{
    uint32_t n = s->text_len, at = s->atom_at, la = n < 4 ? n : 4;
    int ascii = (s->mods & WEIR__MOD_ASCII) || !(s->mods & WEIR__MOD_WIDE);
    int wide = (s->mods & WEIR__MOD_WIDE) != 0;
    for (int aw = 0; aw < 2; aw++) {
        if (aw ? !wide : !ascii)
            continue;
        uint32_t alen = aw ? (2 * la < 4 ? 2 * la : 4) : la;
        uint64_t lo = p + (aw ? 2 * (uint64_t)at : at);
        if (lo + alen > c->wend)
            continue;
        const uint8_t *b = weir__view(c, lo, lo + alen);
        if (!b)
            continue;
        uint8_t key = (uint8_t)(b[0] ^ s->text[at]);
        if (key < s->xor_lo || key > s->xor_hi)
            continue;
        uint32_t j;
        for (j = 0; j < alen; j++)
            if ((uint8_t)(b[j] ^ key) != (aw ? (j % 2 ? 0 : s->text[at + j / 2]) : s->text[at + j]))
                break;
        if (j == alen)
            return 1;
    }
    return 0;
}

static int push_pend(weir__scan_t *c, uint32_t type, uint32_t variant, uint64_t pos)
{
    weir__stream_t *st = c->st;
    for (size_t i = 0; i < st->x->npend; i++)
        if (st->x->pend[i].type == type && st->x->pend[i].variant == variant &&
            st->x->pend[i].pos == pos)
            return 0;
    if (WEIR__GROW(&st->mem, st->x->pend, st->x->cap_pend, st->x->npend + 1) != 0) {
        c->err = WEIR_ENOMEM;
        return -1;
    }
    st->x->pend[st->x->npend].pos = pos;
    st->x->pend[st->x->npend].tried = 0;
    st->x->pend[st->x->npend].variant = variant;
    st->x->pend[st->x->npend].type = type;
    st->x->npend++;
    return 0;
}

typedef struct back_ctx {
    weir__scan_t *c;
    uint32_t variant;
    uint64_t base;
} back_ctx_t;

static int on_start(size_t p, void *user)
{
    back_ctx_t *b = user;
    uint64_t abs = b->base + p;
    const weir__variant_t *v = &b->c->sc->rules->variants[b->variant];
    const weir__mlist_t *l = &b->c->st->x->lists[v->string];
    /* Already decided: nothing to do (matches are few per line; scan from the end).  A chained
       string's list holds whole matches, not its pieces': those are decided each time. */
    for (uint32_t i = b->c->sc->rules->strings[v->string].npieces ? 0 : l->n;
         i > 0 && l->v[i - 1].off >= abs; i--)
        if (l->v[i - 1].off == abs)
            return 0;
    return push_pend(b->c, WEIR__P_START, b->variant, abs) != 0;
}

/* A report whose neighbouring bytes are all here. */
static void process_report(weir__scan_t *c, uint32_t vi, uint64_t e)
{
    const weir_rules_t *r = c->sc->rules;
    const weir__variant_t *v = &r->variants[vi];
    const weir__string_t *s = &r->strings[v->string];
    if (v->kind == WEIR__V_FIXED) {
        if (e < v->len)
            return;
        uint64_t p = e - v->len;
        if (s->has_fixed && p != (uint64_t)s->fixed)
            return;
        /* YARA verifies a literal at a start by trying its forms in order and keeps the
           first that matches, whatever form its atom had (unless every form fits in one of
           YARA's atoms: then each is its own atom, found independently). */
        uint32_t len = v->len;
        /* cppcheck-suppress redundantInitialization ; len stays v->len if this stops early */
        if (s->literal && !s->fits && s->text_len && (len = literal_at(c, s, p)) == 0)
            return;
        if (s->literal && !s->fits && (s->mods & WEIR__MOD_XOR) && !xor_found(c, s, p))
            return;
        int wide = len != v->len ? !v->wide : v->wide;
        if ((s->mods & WEIR__MOD_FULLWORD) && !fullword_ok(c, p, p + len, wide))
            return;
        found(c, v, p, len);
        return;
    }
    uint64_t lo = e > (uint64_t)v->limit + 2 ? e - v->limit - 2 : 0;
    uint64_t hi = e + v->lookahead < c->wend ? e + v->lookahead : c->wend;
    uint64_t oldest = c->chunk_abs - c->st->ring_len;
    if (lo < oldest)
        lo = oldest;
    const uint8_t *b = weir__view(c, lo, hi);
    if (!b)
        return;
    back_ctx_t bc = {c, vi, lo};
    weir__re_backward(v->re, b, (size_t)(hi - lo), (size_t)(e - lo), lo, c->at_end && hi == c->wend,
                      on_start, &bc);
}

/* 1 if a report of a variant of string s waits for bytes (among the first n pending). */
static int report_waiting(const weir__scan_t *c, uint32_t s, size_t n)
{
    const weir__stream_t *st = c->st;
    for (size_t i = 0; i < st->x->npend && i < n; i++)
        if (st->x->pend[i].type == WEIR__P_REPORT &&
            c->sc->rules->variants[st->x->pend[i].variant].string == s)
            return 1;
    return 0;
}

/* 1 when a match of chained-string variant vi at pos must wait: an earlier piece of its string
   has something undecided before pos (pending entry `self` excepted), and a piece links only to
   the matches of the piece before it that are already known. */
static int chain_waiting(const weir__scan_t *c, uint32_t vi, uint64_t pos, size_t self)
{
    const weir_rules_t *r = c->sc->rules;
    const weir__variant_t *v = &r->variants[vi];
    if (!r->strings[v->string].npieces || v->piece == 0)
        return 0;
    const weir__stream_t *st = c->st;
    for (size_t i = 0; i < st->x->npend; i++) {
        const weir__pend_t *pd = &st->x->pend[i];
        const weir__variant_t *w = &r->variants[pd->variant];
        if (i != self && pd->type != UINT32_MAX && w->string == v->string && w->piece < v->piece &&
            pd->pos < pos)
            return 1;
    }
    return 0;
}

int weir__on_report(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)from;
    (void)flags;
    weir__scan_t *c = ctx;
    const weir__variant_t *v = &c->sc->rules->variants[id];
    if (!c->st->x && !weir__sx(c->sc, c->st)) {
        c->err = WEIR_ENOMEM;
        return 1;
    }
    /* In end order, always: behind a waiting report of the same string, wait too (an ascii
       form waiting for its next byte comes before the wide form ending after it). */
    if ((c->at_end || to + v->lookahead <= c->wend) && !report_waiting(c, v->string, SIZE_MAX) &&
        !chain_waiting(c, id, to, SIZE_MAX))
        process_report(c, id, to);
    else
        push_pend(c, WEIR__P_REPORT, id, to);
    return c->err != WEIR_OK;
}

typedef struct fw_ctx {
    weir__scan_t *c;
    const uint8_t *b; /* the window [lo, hi) the matcher reads */
    uint64_t lo, hi, p;
    int wide;
    uint32_t lookahead;
} fw_ctx_t;

/* The fullword test on one candidate match of a VM string: -1 until its next bytes are here.
   It reads the matcher's own window (another weir__view would overwrite it). */
static int fullword_accept(uint32_t len, void *user)
{
    fw_ctx_t *f = user;
    uint64_t e = f->p + len;
    if (!f->c->at_end && e + f->lookahead > f->c->wend)
        return -1;
    if (e + 2 > f->hi && f->hi < f->c->wend)
        return -1; /* cannot happen: the window reaches past the longest match */
    return fullword_in(f->b, f->lo, f->hi, f->p, e, f->wide);
}

/*
 * Decides a VM start if the bytes allow: 1 when done with it, 0 to keep it.  Between
 * evaluation points (line ends, the end) a start found undecided is tried again only once
 * the bytes after it have doubled, or all the bytes it can depend on are here (before they
 * can leave the history), so a stream fed a byte at a time costs O(log n) tries per start,
 * not O(n); at evaluation points every start is tried, so what is decided there does not
 * depend on the chunking.
 */
static int settle_start(weir__scan_t *c, weir__pend_t *pd)
{
    const weir__variant_t *v = &c->sc->rules->variants[pd->variant];
    const weir__string_t *s = &c->sc->rules->strings[v->string];
    uint64_t p = pd->pos;
    uint64_t need = p + (uint64_t)v->limit + 2 + v->lookahead; /* then decided for sure */
    if (pd->tried && !c->at_end && !c->line_end && c->wend < need &&
        c->wend - p < 2 * (pd->tried - p))
        return 0;
    uint64_t lo = p >= 2 ? p - 2 : 0;
    uint64_t oldest = c->chunk_abs - c->st->ring_len;
    if (lo < oldest)
        lo = oldest;
    uint64_t hi = need < c->wend ? need : c->wend;
    const uint8_t *b = weir__view(c, lo, hi);
    if (!b)
        return 1;
    uint32_t len = 0;
    int at_end = c->at_end && hi == c->wend;
    fw_ctx_t fw = {c, b, lo, hi, p, v->wide, v->lookahead};
    int rc = weir__re_forward_if(v->re, b, (size_t)(hi - lo), (size_t)(p - lo), lo, at_end,
                                 (s->mods & WEIR__MOD_FULLWORD) ? fullword_accept : NULL, &fw,
                                 c->sc->memo, &len);
    if (rc == WEIR__RE_MORE) {
        pd->tried = c->wend > p ? c->wend : p + 1;
        return hi < c->wend ? 1 : 0;
    }
    if (rc != WEIR__RE_MATCH || len == 0)
        return 1; /* YARA never reports an empty match */
    found(c, v, p, len);
    return 1;
}

/* One pass over the pending reports then starts; returns how many were done. */
static size_t settle_pass(weir__scan_t *c)
{
    weir__stream_t *st = c->st;
    size_t before = st->x->npend;
    /* Reports first: they may add starts.  Indices, since the array may grow. */
    for (size_t i = 0; i < st->x->npend && c->err == WEIR_OK; i++) {
        weir__pend_t pd = st->x->pend[i];
        const weir__variant_t *v = &c->sc->rules->variants[pd.variant];
        if (pd.type != WEIR__P_REPORT || !(c->at_end || pd.pos + v->lookahead <= c->wend) ||
            report_waiting(c, v->string, i) || chain_waiting(c, pd.variant, pd.pos, i))
            continue;
        st->x->pend[i].type = UINT32_MAX; /* done */
        process_report(c, pd.variant, pd.pos);
    }
    /* Then the starts; add_match keeps each list in offset order.  A chained string's piece
       waits for the pieces before it (chain_waiting).  Decided entries are marked first and
       dropped after, so that chain_waiting sees the array whole. */
    size_t added = st->x->npend - before;
    for (size_t i = 0; i < st->x->npend; i++) {
        weir__pend_t pd = st->x->pend[i];
        if (pd.type != WEIR__P_START || c->err != WEIR_OK ||
            chain_waiting(c, pd.variant, pd.pos, i))
            continue;
        if (settle_start(c, &pd))
            st->x->pend[i].type = UINT32_MAX;
        else
            st->x->pend[i] = pd; /* keeps what settle_start learnt (tried) */
    }
    size_t kept = 0;
    for (size_t i = 0; i < st->x->npend; i++)
        if (st->x->pend[i].type != UINT32_MAX)
            st->x->pend[kept++] = st->x->pend[i];
    st->x->npend = kept;
    return before + added - kept;
}

void weir__settle(weir__scan_t *c)
{
    weir__stream_t *st = c->st;
    if (!st->x || !st->x->npend)
        return;
    /* The memo holds this stream's bytes' answers: start afresh (NULL: run without it). */
    if (!c->sc->memo)
        c->sc->memo = weir__re_memo_new();
    weir__re_memo_clear(c->sc->memo);
    /* With chained strings, until nothing more can be decided: deciding a piece's start can
       free the later pieces waiting behind it (chain_waiting). */
    while (settle_pass(c) > 0 && st->x->npend && c->err == WEIR_OK && c->sc->rules->ngaps)
        ;
}
