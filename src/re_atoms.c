/*
 * re_atoms.c - YARA 4.2's choice of atoms for a regex or hex string (libyara/atoms.c), replayed
 * on weir's IR, so that the matcher can reproduce which matches YARA finds and their lengths.
 *
 * YARA walks the regex with a stack, collecting runs of literal bytes (literals, masked hex
 * bytes, any-byte) into leaves of an AND/OR tree (alternations give AND nodes whose children
 * are one OR node per alternative), keeps the best 4-byte window of each run by a quality
 * heuristic, then picks, in each OR node, the child of highest quality.  Each chosen atom
 * starts at one IR byte; its forward and backward code start where YARA's emitter put that
 * byte's code (rnode_t.fref / bref, recorded by the compiler in re_vm.c).
 */
#include "re_int.h"

#include "mem.h"

#include <string.h>

#define MAX_ATOM 4      /* YR_MAX_ATOM_LENGTH */
#define MAX_QUALITY 255 /* YR_MAX_ATOM_QUALITY */
#define MIN_QUALITY 0   /* YR_MIN_ATOM_QUALITY */

enum { AT_LEAF, AT_OR, AT_AND };

typedef struct atom {
    int len;
    uint8_t bytes[MAX_ATOM], mask[MAX_ATOM];
} atom_t;

typedef struct anode {
    int type;
    atom_t atom;
    rnode_t *nodes[MAX_ATOM];
    struct anode *head, *tail, *next;
} anode_t;

/* A chosen atom: the IR bytes it covers (the first is where it starts) and its length. */
typedef struct pick {
    rnode_t *nodes[MAX_ATOM];
    int len;
} pick_t;

typedef struct plist {
    pick_t *v;
    size_t n, cap;
    int oom;
} plist_t;

static int is_common(unsigned c)
{
    return c == 0x00 || c == 0x20 || c == 0xcc || c == 0xff;
}

/* yr_atoms_heuristic_quality */
static int quality(const atom_t *a)
{
    uint8_t seen[32] = {0};
    int q = 0, unique = 0;
    for (int i = 0; i < a->len; i++) {
        switch (a->mask[i]) {
        case 0x00:
            q -= 10;
            break;
        case 0x0f:
        case 0xf0:
            q += 4;
            break;
        case 0xff: {
            unsigned c = a->bytes[i], l = c | 0x20;
            if (is_common(c))
                q += 12;
            else if (l >= 'a' && l <= 'z')
                q += 18;
            else
                q += 20;
            if (!(seen[c >> 3] & (1u << (c & 7)))) {
                seen[c >> 3] |= (uint8_t)(1u << (c & 7));
                unique++;
            }
            break;
        }
        default:
            break;
        }
    }
#define SEEN(c) (seen[(c) >> 3] & (1u << ((c)&7)))
    if (unique == 1 && (SEEN(0x00) || SEEN(0x20) || SEEN(0x90) || SEEN(0xcc) || SEEN(0xff)))
        q -= 10 * a->len;
    else
        q += 2 * unique;
#undef SEEN
    return MAX_QUALITY - 22 * MAX_ATOM + q;
}

/* _yr_atoms_trim: drops unknown bytes at both ends; returns how many were dropped in front. */
static int trim(atom_t *a)
{
    int left = 0, m00 = 0, mff = 0;
    while (left < a->len && a->mask[left] == 0)
        left++;
    while (a->len > left && a->mask[a->len - 1] == 0)
        a->len--;
    a->len -= left;
    if (a->len == 0)
        return 0;
    for (int i = 0; i < a->len; i++) {
        if (a->mask[left + i] == 0xff)
            mff++;
        else if (a->mask[left + i] == 0x00)
            m00++;
    }
    if (m00 >= mff)
        a->len = 1;
    if (left == 0)
        return 0;
    for (int i = 0; i < MAX_ATOM - left; i++) {
        a->bytes[i] = a->bytes[left + i];
        a->mask[i] = a->mask[left + i];
    }
    return left;
}

static anode_t *anew(int type)
{
    anode_t *n = weir__calloc(NULL, 1, sizeof(*n));
    if (n)
        n->type = type;
    return n;
}

static void afree(anode_t *n)
{
    while (n) {
        anode_t *next = n->next;
        afree(n->head);
        free(n);
        n = next;
    }
}

static void append(anode_t *dst, anode_t *n)
{
    if (!dst->head)
        dst->head = n;
    if (dst->tail)
        dst->tail->next = n;
    dst->tail = n;
}

static int is_atom_byte(const rnode_t *n)
{
    return n->type == RN_SET && !n->wz && n->yk == YK_BYTE;
}

typedef struct item {
    rnode_t *n;
    anode_t *app; /* non-NULL: leaves go to this node from now on */
} item_t;

typedef struct walk {
    item_t *st;
    size_t n, cap;
    anode_t *cur;
    rnode_t *recent[MAX_ATOM], *best_nodes[MAX_ATOM];
    atom_t best;
    int nrecent, best_q;
} walk_t;

static int push(walk_t *w, rnode_t *n, anode_t *app)
{
    if (WEIR__GROW(NULL, w->st, w->cap, w->n + 1) < 0)
        return -1;
    w->st[w->n].n = n;
    w->st[w->n].app = app;
    w->n++;
    return 0;
}

static void recent_atom(const walk_t *w, atom_t *a)
{
    a->len = w->nrecent;
    for (int i = 0; i < a->len; i++) {
        a->bytes[i] = w->recent[i]->yval;
        a->mask[i] = w->recent[i]->ymask;
    }
}

/* Appends the pending run of bytes as a leaf of the current OR node. */
static int flush(walk_t *w)
{
    if (w->nrecent == 0)
        return 0;
    atom_t a;
    recent_atom(w, &a);
    int shift = trim(&a);
    anode_t *leaf = anew(AT_LEAF);
    if (!leaf)
        return -1;
    if (quality(&a) > w->best_q) {
        leaf->atom = a;
        for (int i = 0; i + shift < MAX_ATOM && i + shift < w->nrecent; i++)
            leaf->nodes[i] = w->recent[i + shift];
    } else {
        leaf->atom = w->best;
        memcpy(leaf->nodes, w->best_nodes, sizeof(leaf->nodes));
    }
    append(w->cur, leaf);
    w->nrecent = 0;
    return 0;
}

static void add_byte(walk_t *w, rnode_t *n)
{
    if (w->nrecent < MAX_ATOM) {
        w->recent[w->nrecent] = n;
        w->best_nodes[w->nrecent] = n;
        w->best.bytes[w->nrecent] = n->yval;
        w->best.mask[w->nrecent] = n->ymask;
        w->best.len = ++w->nrecent;
        return;
    }
    if (w->best_q >= MAX_QUALITY)
        return;
    atom_t a;
    recent_atom(w, &a);
    int shift = trim(&a);
    int q = quality(&a);
    if (q > w->best_q) {
        for (int i = 0; i < a.len; i++)
            w->best_nodes[i] = w->recent[i + shift];
        w->best = a;
        w->best_q = q;
    }
    for (int i = 1; i < MAX_ATOM; i++)
        w->recent[i - 1] = w->recent[i];
    w->recent[MAX_ATOM - 1] = n;
}

/* _yr_atoms_extract_from_re: builds the atom tree under root. */
static int extract(rnode_t *re_root, anode_t *root)
{
    walk_t w;
    memset(&w, 0, sizeof(w));
    w.best_q = -1;
    int rc = -1;
    if (push(&w, NULL, root) < 0 || push(&w, re_root, root) < 0)
        goto out;
    while (w.n > 0) {
        item_t it = w.st[--w.n];
        if (it.app) {
            if (flush(&w) < 0)
                goto out;
            w.cur = it.app;
            w.best_q = -1;
        }
        rnode_t *n = it.n;
        if (!n)
            continue;
        if (n->type == RN_SET && n->wz)
            continue; /* wide strings use the atoms of the plain string */
        if (is_atom_byte(n)) {
            add_byte(&w, n);
            continue;
        }
        if (n->type == RN_REP && n->jump == 1 && n->min == 1 && n->max == 1) {
            add_byte(&w, n->kids[0]); /* YARA's hex parser makes [1] a ?? */
            continue;
        }
        switch (n->type) {
        case RN_CAT:
            for (uint32_t i = n->nkids; i-- > 0;)
                if (push(&w, n->kids[i], NULL) < 0)
                    goto out;
            break;
        case RN_ALT: {
            anode_t *and = anew(AT_AND);
            if (!and)
                goto out;
            append(w.cur, and);
            /* NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are pointers */
            anode_t **ors = malloc(n->nkids * sizeof(*ors));
            if (!ors)
                goto out;
            for (uint32_t i = 0; i < n->nkids; i++) {
                if (!(ors[i] = anew(AT_OR))) {
                    free(ors);
                    goto out;
                }
                append(and, ors[i]);
            }
            int bad = push(&w, NULL, w.cur) < 0;
            for (uint32_t i = n->nkids; !bad && i-- > 0;)
                bad = push(&w, n->kids[i], ors[i]) < 0;
            free(ors);
            if (bad)
                goto out;
            break;
        }
        case RN_REP: {
            uint32_t times = 0;
            if (n->yform == YF_PLUS)
                times = 1;
            else if (n->yform == YF_RANGE)
                times = n->min < MAX_ATOM ? n->min : MAX_ATOM;
            if (push(&w, NULL, w.cur) < 0)
                goto out;
            for (uint32_t i = 0; i < times; i++)
                if (push(&w, n->kids[0], NULL) < 0)
                    goto out;
            break;
        }
        default: /* classes, anchors, empty: end the run */
            if (push(&w, NULL, w.cur) < 0)
                goto out;
        }
    }
    rc = 0;
out:
    free(w.st);
    return rc;
}

static void padd(plist_t *l, const pick_t *p)
{
    if (l->oom || WEIR__GROW(NULL, l->v, l->cap, l->n + 1) < 0) {
        l->oom = 1;
        return;
    }
    l->v[l->n++] = *p;
}

/* _yr_atoms_choose: the picks of node appended to out (in YARA's list order); its quality. */
static int choose(const anode_t *n, plist_t *out)
{
    switch (n->type) {
    case AT_LEAF: {
        atom_t a = n->atom;
        int shift = trim(&a);
        if (a.len == 0 || !n->nodes[shift])
            return MIN_QUALITY;
        pick_t p = {.len = a.len};
        for (int i = 0; i < a.len && shift + i < MAX_ATOM; i++)
            p.nodes[i] = n->nodes[shift + i];
        padd(out, &p);
        return quality(&a);
    }
    case AT_OR: {
        int max = MIN_QUALITY;
        plist_t best = {0};
        for (const anode_t *k = n->head; k; k = k->next) {
            plist_t t = {0};
            int q = choose(k, &t);
            if (t.oom)
                out->oom = 1;
            if (q > max) {
                max = q;
                free(best.v);
                best = t;
            } else {
                free(t.v);
            }
        }
        for (size_t i = 0; i < best.n; i++)
            padd(out, &best.v[i]);
        free(best.v);
        return max;
    }
    default: { /* AND: every child's picks, each child's list put in front of the others */
        int min = MAX_QUALITY;
        plist_t acc = {0};
        for (const anode_t *k = n->head; k; k = k->next) {
            plist_t t = {0};
            int q = choose(k, &t);
            if (q < min)
                min = q;
            for (size_t i = 0; i < acc.n; i++)
                padd(&t, &acc.v[i]);
            if (t.oom)
                out->oom = 1;
            free(acc.v);
            acc = t;
        }
        for (size_t i = 0; i < acc.n; i++)
            padd(out, &acc.v[i]);
        free(acc.v);
        return min;
    }
    }
}

static uint32_t sat_add(uint32_t a, uint32_t b)
{
    return a > WEIR__RE_UNBOUNDED - b ? WEIR__RE_UNBOUNDED : a + b;
}

static uint32_t max_len(const rnode_t *n)
{
    uint32_t m = 0, k;
    switch (n->type) {
    case RN_SET:
        return 1;
    case RN_CAT:
        for (uint32_t i = 0; i < n->nkids; i++)
            m = sat_add(m, max_len(n->kids[i]));
        return m;
    case RN_ALT:
        for (uint32_t i = 0; i < n->nkids; i++)
            if ((k = max_len(n->kids[i])) > m)
                m = k;
        return m;
    case RN_REP:
        k = max_len(n->kids[0]);
        if (k == 0)
            return 0;
        if (n->max == WEIR__RE_UNBOUNDED || k == WEIR__RE_UNBOUNDED ||
            n->max > WEIR__RE_UNBOUNDED / k)
            return WEIR__RE_UNBOUNDED;
        return k * n->max;
    default:
        return 0;
    }
}

/* Longest backward part for an atom at x inside n: what may precede x in a match; 1 if x is
   in n (*out set), else 0. */
static int prefix_max(const rnode_t *n, const rnode_t *x, uint32_t *out)
{
    if (n == x) {
        *out = 0;
        return 1;
    }
    uint32_t before = 0, sub;
    switch (n->type) {
    case RN_CAT:
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (prefix_max(n->kids[i], x, &sub)) {
                *out = sat_add(before, sub);
                return 1;
            }
            before = sat_add(before, max_len(n->kids[i]));
        }
        return 0;
    case RN_ALT:
        for (uint32_t i = 0; i < n->nkids; i++)
            if (prefix_max(n->kids[i], x, out))
                return 1;
        return 0;
    case RN_REP:
        if (!prefix_max(n->kids[0], x, &sub))
            return 0;
        /* e+ and e* loop back over whole copies of e in the backward code. */
        if ((n->yform == YF_PLUS || n->yform == YF_STAR) && max_len(n->kids[0]) > 0)
            sub = WEIR__RE_UNBOUNDED;
        *out = sub;
        return 1;
    default:
        return 0;
    }
}

static int has_wide(const rnode_t *n)
{
    if (n->type == RN_SET)
        return n->wz;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (has_wide(n->kids[i]))
            return 1;
    return 0;
}

static int has_greedy(const rnode_t *n)
{
    if (n->type == RN_REP && n->greedy)
        return 1;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (has_greedy(n->kids[i]))
            return 1;
    return 0;
}

static int by_trigger(const void *a, const void *b)
{
    const ratom_t *x = a, *y = b;
    if (x->alen != y->alen)
        return x->alen > y->alen ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int weir__re_atoms(weir__re_t *re)
{
    free(re->atoms);
    re->atoms = NULL;
    re->natoms = 0;
    re->maxb = 0;
    re->greedy = (uint8_t)has_greedy(re->root);
    re->wide = (uint8_t)has_wide(re->root);
    re->zref = re->root->fref >= 0 ? re->root->fref : 0;
    anode_t *root = anew(AT_OR);
    plist_t picks = {0};
    if (!root || extract(re->root, root) < 0) {
        afree(root);
        return -1;
    }
    choose(root, &picks);
    afree(root);
    if (picks.oom) {
        free(picks.v);
        return -1;
    }
    if (picks.n) {
        re->atoms = weir__calloc(NULL, picks.n, sizeof(ratom_t));
        if (!re->atoms) {
            free(picks.v);
            return -1;
        }
    }
    for (size_t i = 0; i < picks.n; i++) {
        rnode_t *x = picks.v[i].nodes[0];
        int dup = 0;
        for (uint32_t k = 0; k < re->natoms; k++)
            dup |= re->atoms[k].node == x;
        if (dup || x->fref < 0 || x->bref < 0)
            continue;
        ratom_t *a = &re->atoms[re->natoms++];
        a->node = x;
        a->fip = x->fref;
        a->bip = x->bref;
        a->alen = (uint32_t)picks.v[i].len * (re->wide ? 2u : 1u);
        if (a->alen > MAX_ATOM)
            a->alen = MAX_ATOM;
        /* The bytes YARA's automaton looks for: each in its IR byte's set ("wide": every other
           byte zero).  A byte the walk did not record matches anything. */
        for (uint32_t j = 0; j < a->alen; j++) {
            const rnode_t *b =
                re->wide ? (j % 2 ? NULL : picks.v[i].nodes[j / 2]) : picks.v[i].nodes[j];
            a->sets[j] = b ? b->set : NULL;
            a->zero[j] = (uint8_t)(re->wide && j % 2);
        }
        uint32_t mb = WEIR__RE_UNBOUNDED;
        prefix_max(re->root, x, &mb);
        a->maxb = mb < WEIR__RE_SCAN_LIMIT ? mb : WEIR__RE_SCAN_LIMIT;
        /* cppcheck-suppress knownConditionTrueFalse ; prefix_max sets mb, re->maxb starts at 0 */
        if (a->maxb > re->maxb)
            re->maxb = a->maxb;
        /* Atoms ending at one offset: the automaton lists a state's own matches (inserted
           last first) before shorter suffixes'; "wide" reverses the list before insertion. */
        a->order = re->wide ? (uint32_t)i : (uint32_t)(picks.n - i);
    }
    free(picks.v);
    if (re->natoms)
        qsort(re->atoms, re->natoms, sizeof(ratom_t), by_trigger);
    return 0;
}

/* yr_atoms_extract_from_string: the first 4-byte window of highest quality (the whole string
   when shorter), searched until a window of the highest possible quality. */
uint32_t weir__re_literal_atom(const uint8_t *s, size_t n)
{
    atom_t a;
    memset(&a, 0, sizeof a);
    a.len = n < MAX_ATOM ? (int)n : MAX_ATOM;
    memset(a.mask, 0xff, sizeof a.mask);
    memcpy(a.bytes, s, (size_t)a.len);
    int best = quality(&a);
    uint32_t at = 0;
    for (size_t i = MAX_ATOM; i < n && best < MAX_QUALITY; i++) {
        memcpy(a.bytes, s + i - MAX_ATOM + 1, MAX_ATOM);
        int q = quality(&a);
        if (q > best) {
            best = q;
            at = (uint32_t)(i - MAX_ATOM + 1);
        }
    }
    return at;
}

static int node_can_hold(const rnode_t *n, uint8_t c)
{
    if (n->type == RN_SET)
        return (n->set[c >> 3] >> (c & 7)) & 1;
    if (n->type == RN_REP && n->max == 0)
        return 0;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (node_can_hold(n->kids[i], c))
            return 1;
    return 0;
}

int weir__re_can_hold(const weir__re_t *re, uint8_t c)
{
    return !re->root || node_can_hold(re->root, c);
}
