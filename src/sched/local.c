/*
 * Task-local values: keys, value boxes, snapshots (local.h says who holds
 * what), and the four public calls.
 */
#include "sched/local.h"

#include "sched/task.h"
#include "sched/util.h"

struct weft_local_t {
    /* Entries name their key by this number, never by the pointer: a key
     * freed while tasks still hold its values and a new key allocated at the
     * same address must not see each other's values. */
    unsigned long long id;
    void (*destroy)(void *value);
};

/* One value set, shared by every snapshot that has it. */
typedef struct wf_local_box {
    atomic_uint refs;
    void (*destroy)(void *value); /* the key's: the key may be freed before the value */
    void *value;
} value_box_t;

typedef struct wf_local_entry entry_t;

static atomic_ullong next_key_id = 1;
static __thread wf_locals_t **outside_slot;

/* ---------------------------------------------------------------- references */

/* acq_rel on the last drop, as wf_locals_release (local.h). */
static void box_release(value_box_t *b) {
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    if (b->destroy) b->destroy(b->value);
    wf_free(b);
}

void wf_locals_free(wf_locals_t *l) {
    for (unsigned i = 0; i < l->n; i++) box_release(l->e[i].box);
    wf_free(l);
}

/* The holder's other references were all dropped (release), so reading 1
 * here (acquire) means every other reader is done with it. */
static int held_alone(wf_locals_t *l) {
    return atomic_load_explicit(&l->refs, memory_order_acquire) == 1;
}

/* ---------------------------------------------------------------- where the caller's values live */

int wf_locals_run(wf_locals_t **slot, int (*fn)(void *arg), void *arg) {
    wf_locals_t **prev = outside_slot;
    outside_slot = slot;
    int rc = fn(arg);
    outside_slot = prev;
    wf_locals_release(*slot);
    *slot = NULL;
    return rc;
}

wf_locals_t *wf_locals_outside(void) { return outside_slot ? *outside_slot : NULL; }

static wf_locals_t **current_slot(void) {
    wf_task_t *t = wf_current_task();
    return t ? &t->locals : outside_slot;
}

wf_locals_t *wf_locals_current(void) {
    wf_locals_t **slot = current_slot();
    return slot ? *slot : NULL;
}

static int find(const wf_locals_t *l, unsigned long long key) {
    if (l)
        for (unsigned i = 0; i < l->n; i++)
            if (l->e[i].key == key) return (int)i;
    return -1;
}

/* ---------------------------------------------------------------- setting */

/* `old` with entry `at` (-1: none) replaced by `box` (NULL: removed), as a
 * new snapshot sharing the other boxes; *out NULL when nothing is left. */
static int copy_changed(const wf_locals_t *old, int at, unsigned long long key, value_box_t *box,
                        wf_locals_t **out) {
    unsigned n = old ? old->n : 0;
    unsigned keep = n - (at >= 0);
    unsigned total = keep + (box != NULL);
    *out = NULL;
    if (!total) return 0;
    wf_locals_t *l = wf_alloc(sizeof *l + total * sizeof(entry_t));
    if (!l) return WEFT_ENOMEM;
    atomic_init(&l->refs, 1);
    l->n = 0;
    for (unsigned i = 0; i < n; i++) {
        if ((int)i == at) continue;
        l->e[l->n] = old->e[i];
        atomic_fetch_add_explicit(&old->e[i].box->refs, 1, memory_order_relaxed);
        l->n++;
    }
    if (box) l->e[l->n++] = (entry_t){.key = key, .box = box};
    *out = l;
    return 0;
}

/* Only the holder changes its snapshot: replace or remove entry `at` in
 * place.  Returns the box that left it (for the caller to release once the
 * slot is consistent). */
static value_box_t *change_in_place(wf_locals_t **slot, int at, value_box_t *box) {
    wf_locals_t *l = *slot;
    value_box_t *gone = l->e[at].box;
    if (box) {
        l->e[at].box = box;
    } else if (l->n == 1) {
        wf_free(l);
        *slot = NULL;
    } else {
        l->e[at] = l->e[--l->n];
    }
    return gone;
}

int weft_local_set(weft_local_t *key, void *value) {
    if (!key) return WEFT_EINVAL;
    wf_locals_t **slot = current_slot();
    if (!slot) return WEFT_EPERM;
    wf_locals_t *old = *slot;
    int at = find(old, key->id);
    if (at < 0 ? !value : old->e[at].box->value == value) return 0; /* already so */
    value_box_t *box = NULL;
    if (value) {
        if (!(box = wf_alloc(sizeof *box))) return WEFT_ENOMEM;
        atomic_init(&box->refs, 1);
        box->destroy = key->destroy;
        box->value = value;
    }
    if (at >= 0 && held_alone(old)) {
        box_release(change_in_place(slot, at, box));
        return 0;
    }
    wf_locals_t *changed;
    if (copy_changed(old, at, key->id, box, &changed) != 0) {
        wf_free(box);
        return WEFT_ENOMEM;
    }
    *slot = changed;
    /* Last: a destroy run by this may look at the caller's values. */
    wf_locals_release(old);
    return 0;
}

void *weft_local_get(weft_local_t *key) {
    if (!key) return NULL;
    wf_locals_t *l = wf_locals_current();
    int at = find(l, key->id);
    return at < 0 ? NULL : l->e[at].box->value;
}

/* ---------------------------------------------------------------- keys */

int weft_local_new(weft_local_t **key, void (*destroy)(void *value)) {
    if (!key) return WEFT_EINVAL;
    weft_local_t *k = wf_alloc(sizeof *k);
    if (!k) return WEFT_ENOMEM;
    k->id = atomic_fetch_add_explicit(&next_key_id, 1, memory_order_relaxed);
    k->destroy = destroy;
    *key = k;
    return 0;
}

void weft_local_free(weft_local_t *key) { wf_free(key); }
