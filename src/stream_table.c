/*
 * stream_table.c - the id -> stream map (see stream_table.h).  Linear probing
 * over a power-of-two array; ids are hashed with a 64-bit mix of both halves,
 * since name-derived ids are uniform but hand-made ones often are not.
 */
#include "stream_table.h"

#include <string.h>

char weir__tombstone;

static uint64_t hash_id(const weir_id_t *id)
{
    uint64_t a, b;
    memcpy(&a, id->bytes, 8);
    memcpy(&b, id->bytes + 8, 8);
    uint64_t h = a ^ (b * 0x9E3779B97F4A7C15ull);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static size_t find(const weir__table_t *t, const weir_id_t *id, uint64_t h, int *found)
{
    size_t mask = t->cap - 1, i = (size_t)h & mask;
    size_t first_free = SIZE_MAX;
    for (;;) {
        const weir__slot_t *s = &t->slots[i];
        if (s->value == NULL) {
            *found = 0;
            return first_free != SIZE_MAX ? first_free : i;
        }
        if (s->value == WEIR__TOMBSTONE) {
            if (first_free == SIZE_MAX)
                first_free = i;
        } else if (s->hash == h && memcmp(t->key(s->value)->bytes, id->bytes, 16) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

void *weir__table_get(const weir__table_t *t, const weir_id_t *id)
{
    void **ref = weir__table_ref(t, id);
    return ref ? *ref : NULL;
}

void **weir__table_ref(const weir__table_t *t, const weir_id_t *id)
{
    if (!t->cap)
        return NULL;
    int found;
    size_t i = find(t, id, hash_id(id), &found);
    return found ? &t->slots[i].value : NULL;
}

void weir__table_prefetch(const weir__table_t *t, const weir_id_t *id)
{
    if (t->cap)
        __builtin_prefetch(&t->slots[(size_t)hash_id(id) & (t->cap - 1)]);
}

static int resize(weir__table_t *t, size_t ncap)
{
    weir__slot_t *old = t->slots;
    size_t ocap = t->cap;
    weir__slot_t *slots = weir__calloc(&t->mem, ncap, sizeof *slots);
    if (!slots)
        return -1;
    t->slots = slots;
    t->cap = ncap;
    t->used = t->count;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].value == NULL || old[i].value == WEIR__TOMBSTONE)
            continue;
        size_t j = (size_t)old[i].hash & (ncap - 1);
        while (slots[j].value)
            j = (j + 1) & (ncap - 1);
        slots[j] = old[i];
    }
    weir__free(&t->mem, old, ocap * sizeof *old);
    return 0;
}

int weir__table_put(weir__table_t *t, const weir_id_t *id, void *value)
{
    /* Keep the load (tombstones included) under 3/4 so probes stay short. */
    if ((t->used + 1) * 4 > t->cap * 3) {
        size_t ncap = t->cap ? t->cap : 16;
        while ((t->count + 1) * 2 > ncap)
            ncap *= 2;
        if (resize(t, ncap) != 0)
            return -1;
    }
    int found;
    uint64_t h = hash_id(id);
    size_t i = find(t, id, h, &found);
    if (t->slots[i].value == NULL)
        t->used++;
    t->slots[i].hash = h;
    t->slots[i].value = value;
    t->count++;
    return 0;
}

void *weir__table_del(weir__table_t *t, const weir_id_t *id)
{
    void **ref = weir__table_ref(t, id);
    if (!ref)
        return NULL;
    void *v = *ref;
    *ref = WEIR__TOMBSTONE;
    t->count--;
    return v;
}

void weir__table_free(weir__table_t *t)
{
    weir__free(&t->mem, t->slots, t->cap * sizeof *t->slots);
    t->slots = NULL;
    t->cap = t->count = t->used = 0;
}
