#include "thread/token.h"

#include "sched/inbox.h"

struct weft_token_t {
    atomic_int refs;
    wf_spin_t lock;
    wf_runtime_t *rt;   /* guarded by lock; NULL once the runtime is freed */
};

weft_token_t *wf_token_new(wf_runtime_t *rt) {
    weft_token_t *t = wf_alloc(sizeof *t);
    if (!t) return NULL;
    atomic_init(&t->refs, 1);
    wf_spin_init(&t->lock);
    t->rt = rt;
    return t;
}

static void token_unref(weft_token_t *t) {
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) wf_free(t);
}

void wf_token_detach(weft_token_t *t) {
    wf_spin_lock(&t->lock);
    t->rt = NULL;
    wf_spin_unlock(&t->lock);
    token_unref(t);
}

int wf_token_enter(weft_token_t *t, wf_runtime_t **rt) {
    if (!t) return WEFT_EINVAL;
    wf_spin_lock(&t->lock);
    int rc = t->rt ? wf_runtime_enter(t->rt) : WEFT_EBADF;
    *rt = t->rt;
    wf_spin_unlock(&t->lock);
    return rc;
}

/* The runtime's own reference is not counted in held_tokens: only those a
 * thread outside may call in with (vclock.h). */
weft_token_t *wf_token_share(weft_token_t *t) {
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    wf_spin_lock(&t->lock);
    if (t->rt) atomic_fetch_add_explicit(&t->rt->held_tokens, 1, memory_order_relaxed);
    wf_spin_unlock(&t->lock);
    return t;
}

weft_token_t *weft_current_token(void) {
    wf_task_t *task = wf_current_task();
    return task ? wf_token_share(task->rt->token) : NULL;
}

void weft_token_release(weft_token_t *t) {
    if (!t) return;
    wf_spin_lock(&t->lock);
    if (t->rt) atomic_fetch_sub_explicit(&t->rt->held_tokens, 1, memory_order_relaxed);
    wf_spin_unlock(&t->lock);
    token_unref(t);
}
