/*
 * re_vm.c - the exact matcher: the IR compiled to a small program, run by a fiber list in
 * priority order, modelled on YARA's own executor (libyara/re.c, yr_re_exec) so that match
 * lengths, including its quirks, come out as YARA reports them.
 *
 * Like YARA: a split clones the fiber just after itself (the preferred branch keeps the
 * earlier place); counted repeats keep counters on a per-fiber stack; a split met twice in one
 * epsilon closure kills the fiber (YARA's guard against empty loops such as (a*)*); before each
 * byte, a fiber equal to an earlier one (ip and counters) dies; when a fiber reaches MATCH, every
 * later (lower-priority) fiber dies and earlier ones go on, so the last match recorded is the
 * one of highest priority.  \b is true at the very start and end of the data (YARA's rule).
 */
#include "re_int.h"

#include "mem.h"

#include <string.h>

/* ---- compiler ------------------------------------------------------------ */

void weir__rprog_free(rprog_t *p)
{
    free(p->code);
    free(p->sets);
    memset(p, 0, sizeof(*p));
}

static int emit(rprog_t *p, uint8_t op)
{
    if (WEIR__GROW(NULL, p->code, p->cap, p->n + 1) < 0)
        return -1;
    memset(&p->code[p->n], 0, sizeof(rinst_t));
    p->code[p->n].op = op;
    return (int)p->n++;
}

static int emit_split(rprog_t *p, uint8_t op)
{
    int at = emit(p, op);
    if (at >= 0)
        p->code[at].id = p->nsplits++;
    return at;
}

static int set_single(const uint8_t *set, unsigned *one)
{
    unsigned n = 0;
    for (unsigned c = 0; c < 256; c++)
        if ((set[c >> 3] >> (c & 7)) & 1) {
            if (++n > 1)
                return 0;
            *one = c;
        }
    return n == 1;
}

/* YARA's EMIT_DONT_SET_FORWARDS_CODE / _BACKWARDS_CODE: copies of a node inside a repeat
   loop never become an atom's entry point. */
#define DS_F 1
#define DS_B 2

static int comp(rprog_t *p, rnode_t *n, int bw, uint32_t depth, int fl, int32_t *ref);

/* e{min,max} laid out as YARA does: prolog, counted loop, split, epilog.  *ref: where YARA's
   forward code for the node starts (the prolog's, else the loop's, else the epilog's). */
static int comp_range(rprog_t *p, rnode_t *n, int bw, uint32_t depth, int fl, int32_t *ref)
{
    rnode_t *e = n->kids[0];
    uint32_t mn = n->min, mx = n->max;
    int unb = mx == WEIR__RE_UNBOUNDED;
    int prolog = mn > 0;
    int repeat = unb || mx > mn + 1 || mx > 2;
    int split = unb || mx > mn;
    int epilog = unb || mx > mn || mx > 1;
    int32_t r;
    *ref = -1;
    if (prolog) {
        if (comp(p, e, bw, depth, fl, &r) < 0)
            return -1;
        *ref = r;
    }
    if (repeat) {
        uint32_t rmin = mn, rmax = mx;
        if (prolog) {
            rmin--;
            if (!unb)
                rmax--;
        }
        if (split) {
            if (!unb)
                rmax--;
        } else {
            rmin--;
            rmax--;
        }
        int rs = emit(p, OP_RSTART);
        if (rs < 0)
            return -1;
        if (!prolog)
            *ref = rs;
        if (depth + 1 > p->depth)
            p->depth = depth + 1;
        int body = (int)p->n;
        if (comp(p, e, bw, depth + 1, fl | DS_F | DS_B, &r) < 0)
            return -1;
        int re = emit(p, OP_REND);
        if (re < 0)
            return -1;
        rinst_t *a = &p->code[rs], *b = &p->code[re];
        a->min = b->min = rmin;
        a->max = b->max = rmax;
        a->greedy = b->greedy = n->greedy;
        a->x = re + 1;
        b->x = body;
    }
    if (split) {
        int sp = emit_split(p, n->greedy ? OP_SPLIT_A : OP_SPLIT_B);
        if (sp < 0 || (epilog && comp(p, e, bw, depth, prolog ? fl | DS_F : fl, &r) < 0))
            return -1;
        if (epilog && !prolog && !repeat)
            *ref = r; /* e? starts at e itself: YARA's atoms then make e mandatory */
        p->code[sp].x = (int32_t)p->n;
    } else if (epilog && comp(p, e, bw, depth, prolog ? fl | DS_F : fl, &r) < 0) {
        return -1;
    }
    return 0;
}

static int comp_node(rprog_t *p, rnode_t *n, int bw, uint32_t depth, int fl, int32_t *ref)
{
    int at;
    unsigned one;
    int32_t r;
    *ref = -1;
    switch (n->type) {
    case RN_SET:
        if (set_single(n->set, &one)) {
            if ((at = emit(p, OP_LIT)) < 0)
                return -1;
            p->code[at].arg = (uint16_t)one;
            *ref = at;
            return 0;
        }
        if ((at = emit(p, OP_SET)) < 0 || WEIR__GROW(NULL, p->sets, p->setcap, p->nsets + 1) < 0)
            return -1;
        memcpy(p->sets[p->nsets], n->set, 32);
        p->code[at].arg = (uint16_t)p->nsets++;
        if (p->nsets > 65535)
            return -1;
        *ref = at;
        return 0;
    case RN_EMPTY:
        return 0;
    case RN_BOL:
    case RN_EOL:
        *ref = at = emit(p, n->type == RN_BOL ? OP_BOL : OP_EOL);
        return at < 0 ? -1 : 0;
    case RN_WB:
    case RN_NWB:
        if ((at = emit(p, n->type == RN_WB ? OP_WB : OP_NWB)) < 0)
            return -1;
        p->code[at].arg = n->wide;
        *ref = at;
        return 0;
    case RN_CAT:
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (comp(p, n->kids[bw ? n->nkids - 1 - i : i], bw, depth, fl, &r) < 0)
                return -1;
            if (i == 0)
                *ref = r;
        }
        return 0;
    case RN_ALT: {
        /* split L1; e1; jmp end; L1: split L2; e2; jmp end; L2: e3; end: */
        int *jumps = malloc(n->nkids * sizeof(int));
        if (!jumps)
            return -1;
        for (uint32_t i = 0; i < n->nkids; i++) {
            int sp = -1;
            if (i + 1 < n->nkids && (sp = emit_split(p, OP_SPLIT_A)) < 0)
                goto alt_fail;
            if (i == 0)
                *ref = sp;
            if (comp(p, n->kids[i], bw, depth, fl, &r) < 0)
                goto alt_fail;
            if (i + 1 < n->nkids) {
                if ((jumps[i] = emit(p, OP_JMP)) < 0)
                    goto alt_fail;
                p->code[sp].x = (int32_t)p->n;
            }
        }
        for (uint32_t i = 0; i + 1 < n->nkids; i++)
            p->code[jumps[i]].x = (int32_t)p->n;
        free(jumps);
        return 0;
    alt_fail:
        free(jumps);
        return -1;
    }
    case RN_REP:
        if (n->yform == YF_STAR && n->min == 0 && n->max == WEIR__RE_UNBOUNDED) {
            /* L1: split L2; e; jmp L1; L2: */
            int sp = emit_split(p, n->greedy ? OP_SPLIT_A : OP_SPLIT_B);
            if (sp < 0 || comp(p, n->kids[0], bw, depth, fl, &r) < 0 || (at = emit(p, OP_JMP)) < 0)
                return -1;
            p->code[at].x = sp;
            p->code[sp].x = (int32_t)p->n;
            *ref = sp;
            return 0;
        }
        if (n->yform == YF_PLUS && n->min == 1 && n->max == WEIR__RE_UNBOUNDED) {
            /* L1: e; split L1 */
            int l1 = (int)p->n;
            if (comp(p, n->kids[0], bw, depth, fl, &r) < 0 ||
                (at = emit_split(p, n->greedy ? OP_SPLIT_B : OP_SPLIT_A)) < 0)
                return -1;
            p->code[at].x = l1;
            *ref = r;
            return 0;
        }
        if (n->yform == YF_ANYRANGE) { /* one REPEAT_ANY instruction in YARA */
            int32_t first = (int32_t)p->n;
            if (comp_range(p, n, bw, depth, fl | DS_F | DS_B, &r) < 0)
                return -1;
            *ref = first;
            return 0;
        }
        return comp_range(p, n, bw, depth, fl, ref);
    default:
        return -1;
    }
}

static int comp(rprog_t *p, rnode_t *n, int bw, uint32_t depth, int fl, int32_t *ref)
{
    if (comp_node(p, n, bw, depth, fl, ref) < 0)
        return -1;
    if (bw && !(fl & DS_B))
        n->bref = (int32_t)p->n;
    else if (!bw && !(fl & DS_F))
        n->fref = *ref;
    return 0;
}

/* The split instructions YARA emits for n (libyara/re.c, _yr_re_emit): one per alternative
   but the last, one per * + and e{n,m} with n < m, the body once per copy in e{n,m}'s prolog,
   loop and epilog; .{n,m} and hex jumps are one REPEAT_ANY, without a split.  Saturates. */
static uint64_t yara_splits(const rnode_t *n)
{
    const uint64_t cap = WEIR__RE_MAX_SPLITS + 1;
    uint64_t k = 0, r = 0;
    for (uint32_t i = 0; i < n->nkids && k < cap; i++)
        k += yara_splits(n->kids[i]);
    if (n->type == RN_ALT) {
        r = k + (n->nkids ? n->nkids - 1 : 0);
    } else if (n->type != RN_REP || n->yform == YF_ANYRANGE) {
        r = k;
    } else if (n->yform == YF_STAR || n->yform == YF_PLUS) {
        r = k + 1;
    } else { /* e{min,max}; YARA's {n,} has max RE_MAX_RANGE, which gives the same layout */
        uint64_t mn = n->min, mx = n->max == WEIR__RE_UNBOUNDED ? WEIR__RE_MAX_RANGE : n->max;
        uint64_t copies = (mn > 0) + (mx > mn + 1 || mx > 2) + (mx > mn || mx > 1);
        r = k * copies + (mx > mn);
    }
    return r < cap ? r : cap;
}

int weir__re_too_complex(const rnode_t *root)
{
    uint64_t total = 0;
    if (root->type != RN_CAT)
        return yara_splits(root) > WEIR__RE_MAX_SPLITS;
    /* The pieces of a chained string are separate regular expressions to YARA. */
    for (uint32_t i = 0; i < root->nkids; i++) {
        const rnode_t *k = root->kids[i];
        if (k->jump == 1 &&
            (k->min > WEIR__RE_CHAINING_THRESHOLD || k->max > WEIR__RE_CHAINING_THRESHOLD))
            total = 0;
        else if ((total += yara_splits(k)) > WEIR__RE_MAX_SPLITS)
            return 1;
    }
    return 0;
}

int weir__rprog_compile(rprog_t *p, rnode_t *root, int backwards)
{
    int32_t ref;
    weir__rprog_free(p);
    if (comp(p, root, backwards, 0, 0, &ref) < 0 || emit(p, OP_MATCH) < 0) {
        weir__rprog_free(p);
        return -1;
    }
    return 0;
}

/* ---- fibers -------------------------------------------------------------- */

typedef struct fib {
    int32_t ip, sp, next, prev;
} fib_t;

typedef struct vm {
    const rprog_t *pg;
    fib_t *f;
    uint32_t *stk; /* depth slots per fiber */
    size_t cap, depth;
    int32_t freel, head, tail;
    uint32_t *stamps; /* per split id: the sync call that last executed it */
    uint32_t stamp;
    int32_t *ht;
    size_t htcap;
    int oom;
    /* input */
    const uint8_t *buf;
    size_t len;
    uint64_t base;
    int at_end;
} vm_t;

#define NIL (-1)
#define MAX_FIBERS ((size_t)1 << 16)

static int vm_init(vm_t *v, const rprog_t *pg)
{
    memset(v, 0, sizeof(*v));
    v->pg = pg;
    v->depth = pg->depth ? pg->depth : 1;
    v->freel = v->head = v->tail = NIL;
    v->stamps = weir__calloc(NULL, pg->nsplits ? pg->nsplits : 1, sizeof(uint32_t));
    return v->stamps ? 0 : -1;
}

static void vm_done(vm_t *v)
{
    free(v->f);
    free(v->stk);
    free(v->stamps);
    free(v->ht);
}

static int32_t fnew(vm_t *v)
{
    if (v->freel != NIL) {
        int32_t i = v->freel;
        v->freel = v->f[i].next;
        return i;
    }
    /* YARA gives up past RE_MAX_FIBERS (1024) live fibers with an error; far past that, so do
       we ("don't know"), rather than grow without bound on nested counted repeats. */
    if (v->cap >= MAX_FIBERS) {
        v->oom = 1;
        return NIL;
    }
    size_t ncap = v->cap ? v->cap * 2 : 16;
    fib_t *f = realloc(v->f, ncap * sizeof(*f));
    if (!f) {
        v->oom = 1;
        return NIL;
    }
    v->f = f;
    uint32_t *s = realloc(v->stk, ncap * v->depth * sizeof(*s));
    if (!s) {
        v->oom = 1;
        return NIL;
    }
    v->stk = s;
    for (size_t i = ncap; i-- > v->cap + 1;) {
        v->f[i].next = v->freel;
        v->freel = (int32_t)i;
    }
    int32_t i = (int32_t)v->cap;
    v->cap = ncap;
    return i;
}

/* Clone f and insert the clone just after it.  NIL on OOM. */
static int32_t fclone(vm_t *v, int32_t f)
{
    int32_t g = fnew(v);
    if (g == NIL)
        return NIL;
    v->f[g].ip = v->f[f].ip;
    v->f[g].sp = v->f[f].sp;
    if (v->f[f].sp >= 0)
        memcpy(&v->stk[(size_t)g * v->depth], &v->stk[(size_t)f * v->depth],
               (size_t)(v->f[f].sp + 1) * sizeof(uint32_t));
    v->f[g].prev = f;
    v->f[g].next = v->f[f].next;
    if (v->f[f].next != NIL)
        v->f[v->f[f].next].prev = g;
    else
        v->tail = g;
    v->f[f].next = g;
    return g;
}

static int32_t fkill(vm_t *v, int32_t f)
{
    int32_t nx = v->f[f].next, pv = v->f[f].prev;
    if (pv != NIL)
        v->f[pv].next = nx;
    else
        v->head = nx;
    if (nx != NIL)
        v->f[nx].prev = pv;
    else
        v->tail = pv;
    v->f[f].next = v->freel;
    v->freel = f;
    return nx;
}

static void fkill_tail(vm_t *v, int32_t f)
{
    while (f != NIL)
        f = fkill(v, f);
}

static int32_t fstart(vm_t *v, int32_t ip0)
{
    int32_t f = fnew(v);
    if (f == NIL)
        return NIL;
    v->f[f].ip = ip0;
    v->f[f].sp = -1;
    v->f[f].prev = v->tail;
    v->f[f].next = NIL;
    if (v->tail != NIL)
        v->f[v->tail].next = f;
    else
        v->head = f;
    v->tail = f;
    return f;
}

/* Runs f (and the fibers it splits into) through control instructions until each sits on an
   instruction that reads input, tests an assertion or matches.  -1 on OOM. */
static int fsync(vm_t *v, int32_t f)
{
    const rinst_t *code = v->pg->code;
    int32_t last = v->f[f].next;
    uint32_t stamp = ++v->stamp;
    if (stamp == 0) { /* wrapped: forget old stamps */
        memset(v->stamps, 0, (v->pg->nsplits ? v->pg->nsplits : 1) * sizeof(uint32_t));
        stamp = v->stamp = 1;
    }
    while (f != last && f != NIL) {
        const rinst_t *in = &code[v->f[f].ip];
        int32_t a, b, t;
        uint32_t *st;
        switch (in->op) {
        case OP_SPLIT_A:
        case OP_SPLIT_B:
            if (v->stamps[in->id] == stamp) {
                f = fkill(v, f);
                break;
            }
            v->stamps[in->id] = stamp;
            if ((b = fclone(v, f)) == NIL)
                return -1;
            a = f;
            if (in->op == OP_SPLIT_B) {
                t = a;
                a = b;
                b = t;
            }
            v->f[a].ip++;
            v->f[b].ip = in->x;
            break;
        case OP_RSTART:
            a = f;
            if (in->min == 0) {
                if ((b = fclone(v, f)) == NIL)
                    return -1;
                if (!in->greedy) {
                    t = a;
                    a = b;
                    b = t;
                }
                v->f[b].ip = in->x;
            }
            v->stk[(size_t)a * v->depth + (size_t)++v->f[a].sp] = 0;
            v->f[a].ip++;
            break;
        case OP_REND:
            st = &v->stk[(size_t)f * v->depth + (size_t)v->f[f].sp];
            ++*st;
            /* Past min of an unbounded repeat every count behaves alike: keep one, so that
               fibers differing only there are duplicates (YARA's code has no counter here). */
            if (in->max == WEIR__RE_UNBOUNDED && *st > in->min)
                *st = in->min;
            if (*st < in->min) {
                v->f[f].ip = in->x;
                break;
            }
            if (in->max == WEIR__RE_UNBOUNDED || *st < in->max) {
                if ((b = fclone(v, f)) == NIL)
                    return -1;
                a = f;
                if (in->greedy) {
                    t = a;
                    a = b;
                    b = t;
                }
                v->f[a].sp--;
                v->f[a].ip++;
                v->f[b].ip = in->x;
                break;
            }
            v->f[f].sp--;
            v->f[f].ip++;
            break;
        case OP_JMP:
            v->f[f].ip = in->x;
            break;
        default:
            f = v->f[f].next;
        }
    }
    return 0;
}

static uint64_t fhash(const vm_t *v, int32_t f)
{
    uint64_t h = (uint64_t)(uint32_t)v->f[f].ip * 0x9E3779B97F4A7C15ull ^ (uint64_t)v->f[f].sp;
    const uint32_t *s = &v->stk[(size_t)f * v->depth];
    for (int32_t i = 0; i <= v->f[f].sp; i++)
        h = (h ^ s[i]) * 0x100000001B3ull;
    return h ^ (h >> 29);
}

static int fequal(const vm_t *v, int32_t a, int32_t b)
{
    if (v->f[a].ip != v->f[b].ip || v->f[a].sp != v->f[b].sp)
        return 0;
    return v->f[a].sp < 0 || memcmp(&v->stk[(size_t)a * v->depth], &v->stk[(size_t)b * v->depth],
                                    (size_t)(v->f[a].sp + 1) * sizeof(uint32_t)) == 0;
}

/* Kills every fiber equal to an earlier one.  -1 on OOM. */
static int fdedup(vm_t *v)
{
    size_t n = 0;
    for (int32_t f = v->head; f != NIL; f = v->f[f].next)
        n++;
    if (n < 2)
        return 0;
    size_t need = 16;
    while (need < n * 2)
        need *= 2;
    if (need > v->htcap) {
        int32_t *t = realloc(v->ht, need * sizeof(*t));
        if (!t)
            return -1;
        v->ht = t;
        v->htcap = need;
    }
    for (size_t i = 0; i < need; i++)
        v->ht[i] = NIL;
    for (int32_t f = v->head; f != NIL;) {
        size_t h = (size_t)fhash(v, f) & (need - 1);
        int dup = 0;
        while (v->ht[h] != NIL) {
            if (fequal(v, v->ht[h], f)) {
                dup = 1;
                break;
            }
            h = (h + 1) & (need - 1);
        }
        if (dup) {
            f = fkill(v, f);
        } else {
            v->ht[h] = f;
            f = v->f[f].next;
        }
    }
    return 0;
}

/* ---- assertions ---------------------------------------------------------- */

static int word_at(const vm_t *v, size_t x, int wide)
{
    if (x >= v->len)
        return 0;
    unsigned c = v->buf[x];
    int w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (wide)
        w = w && x + 1 < v->len && v->buf[x + 1] == 0;
    return w;
}

/* \b at window position x (between buf[x-1] and buf[x]): 1, 0, or -1 when unknown.  at_limit:
   the matcher cannot read on (YARA then takes \b as true). */
static int word_boundary(const vm_t *v, size_t x, int wide, int at_limit)
{
    size_t cs = wide ? 2 : 1;
    if (v->base + x < cs)
        return 1;
    if (at_limit || (v->at_end && x + cs > v->len))
        return 1;
    if (x + cs > v->len)
        return -1;
    int prev = x >= cs ? word_at(v, x - cs, wide) : 0;
    return word_at(v, x, wide) != prev;
}

static int in_set(const rprog_t *pg, const rinst_t *in, uint8_t c)
{
    if (in->op == OP_LIT)
        return c == in->arg;
    return (pg->sets[in->arg][c >> 3] >> (c & 7)) & 1;
}

/* ---- forward ------------------------------------------------------------- */

/* yr_re_exec forwards from buf[start] with the program entered at ip0: the length of the match
   of highest priority, reading at most WEIR__RE_SCAN_LIMIT bytes. */
static int fwd_run(const weir__re_t *re, int32_t ip0, const uint8_t *buf, size_t len, size_t start,
                   uint64_t base, int at_end, uint32_t *match_len)
{
    vm_t v;
    int result = WEIR__RE_NOMATCH;
    if (vm_init(&v, &re->fwd) < 0)
        return WEIR__RE_MORE; /* out of memory: "don't know" is the safe answer */
    v.buf = buf;
    v.len = len;
    v.base = base;
    v.at_end = at_end;
    const rinst_t *code = re->fwd.code;
    size_t avail = len - start;
    size_t maxb = avail < WEIR__RE_SCAN_LIMIT ? avail : WEIR__RE_SCAN_LIMIT;
    int hard = at_end || avail >= WEIR__RE_SCAN_LIMIT; /* no byte beyond maxb will matter */
    int32_t f0 = fstart(&v, ip0);
    if (f0 == NIL || fsync(&v, f0) < 0)
        goto more;
    for (size_t bytes = 0; v.head != NIL; bytes++) {
        if (fdedup(&v) < 0)
            goto more;
        size_t pos = start + bytes;
        int32_t f = v.head;
        while (f != NIL) {
            const rinst_t *in = &code[v.f[f].ip];
            int ok;
            switch (in->op) {
            case OP_LIT:
            case OP_SET:
                if (bytes >= maxb) {
                    if (!hard)
                        goto more;
                    f = fkill(&v, f);
                    break;
                }
                if (!in_set(&re->fwd, in, buf[pos])) {
                    f = fkill(&v, f);
                    break;
                }
                v.f[f].ip++;
                {
                    int32_t nx = v.f[f].next;
                    if (fsync(&v, f) < 0)
                        goto more;
                    f = nx;
                }
                break;
            case OP_BOL:
            case OP_EOL:
            case OP_WB:
            case OP_NWB:
                if (in->op == OP_BOL) {
                    ok = base + pos == 0;
                } else if (in->op == OP_EOL) {
                    if (pos == len && !at_end)
                        goto more;
                    ok = pos == len;
                } else {
                    ok = word_boundary(&v, pos, in->arg, hard && bytes >= maxb);
                    if (ok < 0)
                        goto more;
                    if (in->op == OP_NWB)
                        ok = !ok;
                }
                if (!ok) {
                    f = fkill(&v, f);
                    break;
                }
                v.f[f].ip++;
                if (fsync(&v, f) < 0)
                    goto more;
                break;
            case OP_MATCH:
                *match_len = (uint32_t)bytes;
                result = WEIR__RE_MATCH;
                fkill_tail(&v, f);
                f = NIL;
                break;
            default:
                f = fkill(&v, f);
            }
        }
    }
    vm_done(&v);
    return result;
more:
    vm_done(&v);
    return WEIR__RE_MORE;
}

/* ---- yr_re_fast_exec --------------------------------------------------------- */

typedef struct fast_item {
    uint32_t tok;     /* next token; UINT32_MAX: repeats whose bytes are not here yet */
    uint32_t matched; /* bytes matched so far */
} fast_item_t;

/*
 * YARA's forward run of a fast hex string (yr_re_fast_exec) from token tok0 at buf[start]: depth
 * first, a jump [min-max] tries min bytes first, then max, max - 1, ... (its stack pops the last
 * pushed first), and the first path to reach the end gives the length.  Each path may read
 * fewer than RE_SCAN_LIMIT bytes.  WEIR__RE_MORE when the answer depends on bytes not here.
 */
/* Room for one more item on a stack that starts in local storage; -1 out of memory. */
static int push_item(fast_item_t **stack, fast_item_t *local, size_t *cap, size_t sp)
{
    if (sp < *cap)
        return 0;
    size_t ncap = *cap * 2;
    fast_item_t *n = *stack == local ? malloc(ncap * sizeof *n) : realloc(*stack, ncap * sizeof *n);
    if (!n)
        return -1;
    if (*stack == local)
        memcpy(n, local, sp * sizeof *n);
    *stack = n;
    *cap = ncap;
    return 0;
}

static int fast_run(const weir__re_t *re, uint32_t tok0, const uint8_t *buf, size_t len,
                    size_t start, int at_end, uint32_t *match_len)
{
    const rnode_t *r = re->root;
    uint32_t ntok = r->type == RN_CAT ? r->nkids : 1;
    size_t avail = len - start;
    size_t maxb = avail < WEIR__RE_SCAN_LIMIT ? avail : WEIR__RE_SCAN_LIMIT;
    int hard = at_end || avail >= WEIR__RE_SCAN_LIMIT; /* maxb is YARA's limit */
    fast_item_t local[64];
    fast_item_t *stack = local;
    size_t sp = 0, cap = sizeof local / sizeof local[0];
    int result = WEIR__RE_NOMATCH;
    stack[sp++] = (fast_item_t){tok0, 0};
    while (sp > 0) {
        fast_item_t it = stack[--sp];
        if (it.tok == UINT32_MAX) {
            result = WEIR__RE_MORE;
            break;
        }
        uint32_t tok = it.tok, matched = it.matched;
        for (;;) {
            if (tok == ntok) {
                *match_len = matched;
                result = WEIR__RE_MATCH;
                goto done;
            }
            if (matched >= maxb) {
                if (!hard) {
                    result = WEIR__RE_MORE;
                    goto done;
                }
                break;
            }
            const rnode_t *k = r->type == RN_CAT ? r->kids[tok] : r;
            if (k->type == RN_SET) {
                uint8_t c = buf[start + matched];
                if (!((k->set[c >> 3] >> (c & 7)) & 1))
                    break;
                matched++;
                tok++;
                continue;
            }
            /* A jump: the longer repeats wait on the stack, the next shortest on top; go on with
               the shortest.  YARA takes only repeats with matched + i < its limit. */
            uint64_t hi = k->max == WEIR__RE_UNBOUNDED ? UINT64_MAX : k->max;
            uint64_t lim = hard ? maxb : avail;
            uint64_t top = hi < lim - matched ? hi : lim - matched - 1; /* lim > matched here */
            if (!hard && hi >= lim - matched) { /* beyond the bytes here: undecided */
                if (push_item(&stack, local, &cap, sp) < 0)
                    goto oom;
                stack[sp++] = (fast_item_t){UINT32_MAX, 0};
            }
            for (uint64_t i = top; i > k->min; i--) {
                if (push_item(&stack, local, &cap, sp) < 0)
                    goto oom;
                stack[sp++] = (fast_item_t){tok + 1, matched + (uint32_t)i};
            }
            matched += k->min;
            tok++;
        }
    }
done:
    if (stack != local)
        free(stack);
    return result;
oom:
    result = WEIR__RE_MORE;
    goto done;
}

/* ---- backward ------------------------------------------------------------ */

/* yr_re_exec backwards and exhaustively from buf[end], program pg entered at ip0, reading at
   most limit bytes: cb(p) once for each p where some fiber matches. */
static int bwd_run(const rprog_t *pg, int32_t ip0, size_t limit, const uint8_t *buf, size_t len,
                   size_t end, uint64_t base, int at_end, int (*cb)(size_t p, void *user),
                   void *user)
{
    vm_t v;
    int rc = 0;
    if (vm_init(&v, pg) < 0)
        return -1;
    v.buf = buf;
    v.len = len;
    v.base = base;
    v.at_end = at_end;
    const rinst_t *code = pg->code;
    int32_t f0 = fstart(&v, ip0);
    if (f0 == NIL || fsync(&v, f0) < 0)
        goto oom;
    for (size_t bytes = 0; v.head != NIL; bytes++) {
        if (fdedup(&v) < 0)
            goto oom;
        size_t pos = end - bytes;
        int reported = 0;
        int32_t f = v.head;
        while (f != NIL) {
            const rinst_t *in = &code[v.f[f].ip];
            int ok;
            switch (in->op) {
            case OP_LIT:
            case OP_SET:
                if (bytes >= limit || pos == 0 || !in_set(pg, in, buf[pos - 1])) {
                    f = fkill(&v, f);
                    break;
                }
                v.f[f].ip++;
                {
                    int32_t nx = v.f[f].next;
                    if (fsync(&v, f) < 0)
                        goto oom;
                    f = nx;
                }
                break;
            case OP_BOL:
            case OP_EOL:
            case OP_WB:
            case OP_NWB:
                if (in->op == OP_BOL) {
                    ok = base + pos == 0;
                } else if (in->op == OP_EOL) {
                    ok = pos == len; /* unknown when !at_end: taken as true */
                } else {
                    ok = word_boundary(&v, pos, in->arg, 0);
                    if (ok < 0)
                        ok = 1;
                    else if (in->op == OP_NWB)
                        ok = !ok;
                }
                if (!ok) {
                    f = fkill(&v, f);
                    break;
                }
                v.f[f].ip++;
                if (fsync(&v, f) < 0)
                    goto oom;
                break;
            case OP_MATCH:
                if (!reported) {
                    reported = 1;
                    rc = cb(pos, user);
                    if (rc) {
                        vm_done(&v);
                        return rc;
                    }
                }
                f = fkill(&v, f);
                break;
            default:
                f = fkill(&v, f);
            }
        }
    }
    vm_done(&v);
    return 0;
oom:
    vm_done(&v);
    return -1;
}

int weir__re_backward(const weir__re_t *re, const uint8_t *buf, size_t len, size_t end,
                      uint64_t base, int at_end, int (*cb)(size_t p, void *user), void *user)
{
    if (!re || end > len)
        return 0;
    return bwd_run(&re->bwd, 0, weir__re_limit(re), buf, len, end, base, at_end, cb, user);
}

/* ---- YARA's match at a start offset -------------------------------------- */

static int is_target(size_t p, void *user)
{
    return p == *(size_t *)user;
}

/* ---- memo of atom occurrences ------------------------------------------- */

/* What one atom occurrence (atom k of re at absolute offset i) gives, whatever the start asked
   about: the forward length and every start its backward code reaches. */
typedef struct memo_ent {
    const weir__re_t *re;
    uint64_t i;
    uint32_t k;
    int fwd; /* -1 not yet known, else WEIR__RE_MATCH or WEIR__RE_NOMATCH */
    uint32_t f;
    uint64_t blo;   /* starts in [blo, i] are in bits; UINT64_MAX: not computed */
    uint64_t *bits; /* bit (p - blo) */
} memo_ent_t;

struct weir__re_memo {
    memo_ent_t *v;
    size_t n, cap;
    uint32_t *ht; /* index + 1, 0 empty */
    size_t htcap;
};

weir__re_memo_t *weir__re_memo_new(void)
{
    return weir__calloc(NULL, 1, sizeof(weir__re_memo_t));
}

void weir__re_memo_clear(weir__re_memo_t *m)
{
    if (!m || !m->n)
        return;
    for (size_t j = 0; j < m->n; j++)
        free(m->v[j].bits);
    m->n = 0;
    if (m->ht)
        memset(m->ht, 0, m->htcap * sizeof(*m->ht));
}

void weir__re_memo_free(weir__re_memo_t *m)
{
    if (!m)
        return;
    weir__re_memo_clear(m);
    free(m->v);
    free(m->ht);
    free(m);
}

static size_t memo_hash(const weir__re_t *re, uint32_t k, uint64_t i, size_t mask)
{
    uint64_t h = ((uint64_t)(uintptr_t)re ^ ((uint64_t)k << 48) ^ i) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & mask;
}

static int memo_rehash(weir__re_memo_t *m, size_t need)
{
    uint32_t *t = weir__calloc(NULL, need, sizeof(*t));
    if (!t)
        return -1;
    for (size_t j = 0; j < m->n; j++) {
        size_t h = memo_hash(m->v[j].re, m->v[j].k, m->v[j].i, need - 1);
        while (t[h])
            h = (h + 1) & (need - 1);
        t[h] = (uint32_t)j + 1;
    }
    free(m->ht);
    m->ht = t;
    m->htcap = need;
    return 0;
}

/* The entry for (re, k, i), made empty if new; NULL on OOM. */
static memo_ent_t *memo_get(weir__re_memo_t *m, const weir__re_t *re, uint32_t k, uint64_t i)
{
    if (m->htcap < 2 * (m->n + 1) && memo_rehash(m, m->htcap ? m->htcap * 2 : 64) < 0)
        return NULL;
    size_t h = memo_hash(re, k, i, m->htcap - 1);
    for (; m->ht[h]; h = (h + 1) & (m->htcap - 1)) {
        memo_ent_t *x = &m->v[m->ht[h] - 1];
        if (x->re == re && x->k == k && x->i == i)
            return x;
    }
    if (m->n >= UINT32_MAX - 1 || WEIR__GROW(NULL, m->v, m->cap, m->n + 1) < 0)
        return NULL;
    memo_ent_t *x = &m->v[m->n];
    memset(x, 0, sizeof(*x));
    x->re = re;
    x->k = k;
    x->i = i;
    x->fwd = -1;
    x->blo = UINT64_MAX;
    m->ht[h] = (uint32_t)++m->n;
    return x;
}

typedef struct reach_ctx {
    memo_ent_t *x;
    uint64_t base;
} reach_ctx_t;

static int on_reach(size_t p, void *user)
{
    reach_ctx_t *r = user;
    uint64_t abs = r->base + p;
    if (abs >= r->x->blo)
        r->x->bits[(abs - r->x->blo) / 64] |= 1ull << ((abs - r->x->blo) % 64);
    return 0;
}

/* Whether the backward code of atom a from buf[i] reaches start: 1, 0, or -1 (out of memory).
   With a memo, one exhaustive run per occurrence serves every start of the window. */
static int reaches(weir__re_memo_t *m, const weir__re_t *re, uint32_t k, const uint8_t *buf,
                   size_t len, size_t i, size_t start, uint64_t base, int at_end)
{
    const ratom_t *a = &re->atoms[k];
    size_t target = start;
    memo_ent_t *x = m && i + a->alen + 2 <= len ? memo_get(m, re, k, base + i) : NULL;
    if (!x)
        return bwd_run(&re->bwd, a->bip, i - start, buf, len, i, base, at_end, is_target, &target);
    if (x->blo != UINT64_MAX && base + start >= x->blo) {
        uint64_t o = base + start - x->blo;
        return (int)((x->bits[o / 64] >> (o % 64)) & 1);
    }
    /* Starts from the window's third byte on are exact (\b looks at two bytes before). */
    size_t lo = base == 0 ? 0 : 2;
    if (i - lo > a->maxb)
        lo = i - a->maxb;
    if (start < lo)
        return bwd_run(&re->bwd, a->bip, i - start, buf, len, i, base, at_end, is_target, &target);
    free(x->bits);
    x->bits = weir__calloc(NULL, (i - lo) / 64 + 1, sizeof(uint64_t));
    if (!x->bits) {
        x->blo = UINT64_MAX;
        return -1;
    }
    x->blo = base + lo;
    reach_ctx_t rc = {x, base};
    if (bwd_run(&re->bwd, a->bip, i - lo, buf, len, i, base, at_end, on_reach, &rc) < 0) {
        x->blo = UINT64_MAX;
        return -1;
    }
    uint64_t o = base + start - x->blo;
    return (int)((x->bits[o / 64] >> (o % 64)) & 1);
}

/* The forward length from atom a at buf[i], remembered once decided. */
static int forward_from(weir__re_memo_t *m, const weir__re_t *re, uint32_t k, const uint8_t *buf,
                        size_t len, size_t i, uint64_t base, int at_end, uint32_t *f)
{
    memo_ent_t *x = m ? memo_get(m, re, k, base + i) : NULL;
    if (x && x->fwd >= 0) {
        *f = x->f;
        return x->fwd;
    }
    int rc = re->fast ? fast_run(re, re->atoms[k].tok, buf, len, i, at_end, f)
                      : fwd_run(re, re->atoms[k].fip, buf, len, i, base, at_end, f);
    if (x && rc != WEIR__RE_MORE) {
        x->fwd = rc;
        x->f = rc == WEIR__RE_MATCH ? *f : 0;
    }
    return rc;
}

/* 1 if the bytes of atom a occur at buf[i] (YARA's automaton would report it there). */
static int atom_at(const ratom_t *a, const uint8_t *buf, size_t len, size_t i)
{
    if (i + a->alen > len)
        return 1; /* beyond the window: let the programs decide */
    for (uint32_t j = 0; j < a->alen; j++) {
        uint8_t c = buf[i + j];
        if (a->zero[j] ? c != 0 : a->sets[j] && !((a->sets[j][c >> 3] >> (c & 7)) & 1))
            return 0;
    }
    return 1;
}

/*
 * YARA finds a regex by its atoms: at each occurrence i of an atom (in the order its
 * Aho-Corasick automaton reports them: by end offset, longer atoms first), the forward code from
 * the atom gives one length f, the backward code run exhaustively from i gives every start p,
 * and (p, i - p + f) is recorded unless p already has a match (a "greedy regexp" replaces it).
 * So the length at p comes from the first (or, greedy, the last) atom occurrence whose
 * backward part ends exactly at p.
 */
int weir__re_forward(const weir__re_t *re, const uint8_t *buf, size_t len, size_t start,
                     uint64_t base, int at_end, uint32_t *match_len)
{
    return weir__re_forward_if(re, buf, len, start, base, at_end, NULL, NULL, NULL, match_len);
}

/* One weir__re_forward_if call: its inputs and the candidate kept so far. */
typedef struct occ {
    const weir__re_t *re;
    const uint8_t *buf;
    size_t len, start;
    uint64_t base;
    int at_end;
    int (*accept)(uint32_t len, void *user);
    void *user;
    weir__re_memo_t *memo;
    int found;
    uint32_t best;
} occ_t;

/* Atom k's occurrence at buf[i], as YARA handles it for the start o->start: 0 to go on,
   1 when the answer needs more bytes, 2 when the answer is o->best (non-greedy: the first
   candidate kept wins). */
static int occurrence(occ_t *o, uint32_t k, size_t i)
{
    const weir__re_t *re = o->re;
    if (i >= o->len) /* YARA tries no atom at the very end of the data */
        return o->at_end ? 0 : 1;
    if (!atom_at(&re->atoms[k], o->buf, o->len, i))
        return 0;
    int rc = reaches(o->memo, re, k, o->buf, o->len, i, o->start, o->base, o->at_end);
    if (rc < 0)
        return 1;
    if (rc == 0)
        return 0;
    uint32_t f = 0;
    rc = forward_from(o->memo, re, k, o->buf, o->len, i, o->base, o->at_end, &f);
    if (rc == WEIR__RE_MORE)
        return 1;
    if (rc != WEIR__RE_MATCH || f == 0)
        return 0;
    uint32_t len = (uint32_t)(i - o->start) + f;
    if (o->accept) { /* YARA filters each candidate (fullword) before recording it */
        int ok = o->accept(len, o->user);
        if (ok < 0)
            return 1;
        if (!ok)
            return 0;
    }
    o->best = len;
    o->found = 1;
    return re->greedy ? 0 : 2;
}

int weir__re_forward_if(const weir__re_t *re, const uint8_t *buf, size_t len, size_t start,
                        uint64_t base, int at_end, int (*accept)(uint32_t len, void *user),
                        void *user, weir__re_memo_t *memo, uint32_t *match_len)
{
    if (!re || start > len)
        return WEIR__RE_NOMATCH;
    if (re->natoms == 0) { /* the zero-length atom: forward code only, from every offset */
        int rc = re->fast ? fast_run(re, 0, buf, len, start, at_end, match_len)
                          : fwd_run(re, re->zref, buf, len, start, base, at_end, match_len);
        if (rc != WEIR__RE_MATCH || !accept || *match_len == 0)
            return rc;
        int ok = accept(*match_len, user);
        return ok < 0 ? WEIR__RE_MORE : ok ? WEIR__RE_MATCH : WEIR__RE_NOMATCH;
    }
    occ_t o = {re, buf, len, start, base, at_end, accept, user, memo, 0, 0};
    if (re->natoms == 1) {
        /* One atom: occurrences in offset order, skipping to bytes its first byte allows. */
        const ratom_t *a = &re->atoms[0];
        size_t i_max = start + a->maxb;
        const uint8_t *first = a->zero[0] ? NULL : a->sets[0];
        for (size_t i = start; i <= i_max; i++) {
            if (first)
                while (i < len && i <= i_max && !((first[buf[i] >> 3] >> (buf[i] & 7)) & 1))
                    i++;
            if (i > i_max)
                break;
            int rc = occurrence(&o, 0, i);
            if (rc != 0)
                return rc == 2 ? (*match_len = o.best, WEIR__RE_MATCH) : WEIR__RE_MORE;
            if (i >= len)
                break;
        }
    } else {
        uint32_t alen0 = re->atoms[0].alen; /* the longest */
        size_t e_max = start + (size_t)re->maxb + alen0;
        if (e_max > len + alen0)
            e_max = len + alen0; /* past it every atom starts beyond the bytes */
        for (size_t e = start; e <= e_max; e++) {
            for (uint32_t k = 0; k < re->natoms; k++) {
                const ratom_t *a = &re->atoms[k];
                if (e < start + a->alen || e - a->alen - start > a->maxb)
                    continue;
                int rc = occurrence(&o, k, e - a->alen);
                if (rc != 0)
                    return rc == 2 ? (*match_len = o.best, WEIR__RE_MATCH) : WEIR__RE_MORE;
            }
        }
    }
    int found = o.found;
    uint32_t best = o.best;
    if (found)
        *match_len = best;
    return found ? WEIR__RE_MATCH : WEIR__RE_NOMATCH;
}
