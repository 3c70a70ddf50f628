#include "sched/inbox.h"

int wf_runtime_enter(wf_runtime_t *rt) {
    unsigned long v = atomic_load(&rt->gate);
    do {
        if (v & WF_GATE_CLOSED) return WEFT_EBADF;
    } while (!atomic_compare_exchange_weak(&rt->gate, &v, v + WF_GATE_ONE));
    return 0;
}

void wf_runtime_leave(wf_runtime_t *rt) {
    if (atomic_fetch_sub(&rt->gate, WF_GATE_ONE) == (WF_GATE_ONE | WF_GATE_CLOSED))
        wf_runtime_finish(rt);
}

void wf_runtime_close(wf_runtime_t *rt) {
    atomic_fetch_or(&rt->gate, WF_GATE_CLOSED);
    /* As Trio's system nursery: what main no longer waits for is cancelled. */
    wf_scope_cancel(&rt->detached_scope);
    wf_runtime_leave(rt);
}

void wf_runtime_post(wf_call_t *c) {
    wf_runtime_t *rt = c->rt;
    /* Once c is visible a worker may run it, and its end may be the
     * runtime's: hold a unit of our own until the wake-up is done.  (The
     * caller's unit keeps the count above zero, so the closed flag does not
     * matter here.)  Our leave may then be the last one, and end the runtime
     * from this thread: `posting` keeps weft_run from freeing it until our
     * last touch, the decrement below. */
    atomic_fetch_add(&rt->posting, 1);
    atomic_fetch_add(&rt->gate, WF_GATE_ONE);
    c->next = atomic_load_explicit(&rt->calls, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&rt->calls, &c->next, c, memory_order_release,
                                                  memory_order_relaxed)) {
    }
    wf_runtime_notify(rt);
    wf_runtime_leave(rt);
    atomic_fetch_sub_explicit(&rt->posting, 1, memory_order_release);
}

void wf_inbox_drain(wf_worker_t *w) {
    wf_call_t *c = atomic_exchange_explicit(&w->rt->calls, NULL, memory_order_acquire), *fifo = NULL;
    while (c) { /* the stack holds the newest first: reverse it */
        wf_call_t *next = c->next;
        c->next = fifo;
        fifo = c;
        c = next;
    }
    while (fifo) {
        c = fifo;
        fifo = c->next; /* read first: run may end the call's life */
        c->run(c);
    }
}

int wf_task_spawn_detached(wf_call_t *c, weft_fn_t fn, void *arg, const char *name,
                           wf_scope_t *parent) {
    wf_task_t *t;
    int rc = wf_task_new(c->rt, fn, arg, name, parent ? parent : &c->rt->detached_scope, &t);
    if (rc) return rc;
    t->call = c;
    wf_schedule(t);
    return 0;
}
