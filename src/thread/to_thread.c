/*
 * weft_to_thread_run_sync: take a token, hand the call to a blocking thread,
 * park until the function's result comes back (see job.h for who may touch
 * the call when).
 */
#include "thread/job.h"
#include "thread/limiter.h"

static __thread wf_job_t *tls_job;

wf_job_t *wf_job_current(void) { return tls_job; }

static void job_unref(wf_job_t *j) {
    wf_spin_lock(&j->lock);
    int last = --j->refs == 0;
    wf_spin_unlock(&j->lock);
    if (!last) return;
    wf_limiter_unref(j->limiter);
    wf_free(j);
}

/* ---------------------------------------------------------------- the thread's side */

/* fn under the call's thread name, if it has one.  The thread's own name
 * is back before the task can hear of the result. */
static int run_named(void *arg) {
    wf_job_t *j = arg;
    if (!j->name[0]) return j->fn(j->arg);
    char own[WF_THREAD_NAME_SIZE];
    wf_thread_name_get(own);
    wf_thread_name_set(j->name);
    int rc = j->fn(j->arg);
    wf_thread_name_set(own);
    return rc;
}

/* fn sees the task's values, and what it sets holds for this call only:
 * they are gone (destroyed where no one else holds them) before the task
 * hears of the result. */
static int run_with_locals(wf_job_t *j) { return wf_locals_run(&j->locals, run_named, j); }

static void job_run(wf_pool_job_t *base) {
    wf_job_t *j = WF_CONTAINER_OF(base, wf_job_t, base);
    wf_runtime_t *rt = j->rt;
    tls_job = j;
    /* Counted until the thread is done with it, abandoned or not: it may
     * still call in, so the runtime is not deadlocked meanwhile
     * (sched/deadlock.h). */
    atomic_fetch_add_explicit(&rt->running_calls, 1, memory_order_relaxed);
    int rc = run_with_locals(j);
    int turn = wf_job_turn(j, 1);
    /* The token goes back as soon as fn returns (Trio): a limiter bounds the
     * threads at work, not the tasks still waiting to hear about it. */
    if (!j->abandonable) {
        wf_limiter_give(j->limiter);
        tls_job = NULL;
        wf_pool_returning();
        wf_wait_claim(j->host, rc); /* last touch: the task's stack holds j */
        atomic_fetch_sub_explicit(&rt->offloads, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&rt->running_calls, 1, memory_order_relaxed);
        if (turn) wf_det_passed(rt->det); /* the task cannot run before: no j */
        return;
    }
    wf_spin_lock(&j->lock);
    int delivered = j->host && wf_wait_claim_nowake(j->host, rc);
    if (delivered) {
        wf_limiter_give(j->limiter); /* before the task can run and ask again */
        if (rc != WEFT_ECANCELED || !j->on_abandoned) wf_pool_returning(); /* nothing slow follows */
        wf_task_wake(j->host);
        j->host = NULL;
        atomic_fetch_sub_explicit(&rt->offloads, 1, memory_order_relaxed);
    } else {
        /* The task stopped waiting: it counted itself out of `offloads`,
         * and the token as the call's if it came here first. */
        wf_limiter_give_back(j->limiter, j->abandoned);
        j->abandoned = 1;
    }
    wf_spin_unlock(&j->lock);
    if (turn) wf_det_passed(rt->det);
    /* fn's own WEFT_ECANCELED reads like an abandonment to the task: it too
     * hands arg to on_abandoned (see weft.h's rule). */
    if ((!delivered || rc == WEFT_ECANCELED) && j->on_abandoned) j->on_abandoned(j->arg, rc);
    tls_job = NULL;
    job_unref(j);
    atomic_fetch_sub_explicit(&rt->running_calls, 1, memory_order_relaxed);
}

wf_scope_t *wf_job_child_enter(wf_job_t *j) {
    if (!j->abandonable) return j->host->scope; /* parked until fn returns */
    wf_spin_lock(&j->lock);
    wf_scope_t *s = j->host && !j->abandoned ? j->host->scope : NULL;
    if (s) j->children++;
    wf_spin_unlock(&j->lock);
    return s;
}

void wf_job_child_leave(wf_job_t *j) {
    if (!j->abandonable) return;
    wf_spin_lock(&j->lock);
    if (--j->children == 0 && j->host_waits) {
        j->host_waits = 0;
        wf_wait_claim(j->host, 0);
    }
    wf_spin_unlock(&j->lock);
}

void wf_job_calling_in(wf_job_t *j, int waiting) {
    if (waiting) atomic_fetch_add(&j->rt->offloads_calling_in, 1);
    else atomic_fetch_sub(&j->rt->offloads_calling_in, 1);
    if (WF_UNLIKELY(j->rt->det)) wf_det_source_pause(j->rt->det, &j->det, waiting);
}

int wf_job_turn(wf_job_t *j, int last) { return WF_UNLIKELY(j->rt->det) && wf_det_gate(j->rt->det, &j->det, last); }

void wf_job_turn_done(wf_job_t *j) { wf_det_passed(j->rt->det); }

int wf_job_cancelled(wf_job_t *j) {
    if (!j->abandonable) return wf_scope_cancelled(j->host->scope);
    wf_spin_lock(&j->lock);
    int c = !j->host || j->abandoned || wf_scope_cancelled(j->host->scope);
    wf_spin_unlock(&j->lock);
    return c;
}

/* ---------------------------------------------------------------- the task's side */

/* Woken from an abandonable call: either the thread delivered fn's result
 * (it cleared host) or a cancellation did, and we abandon the call. */
static int leave_abandonable(wf_job_t *j, wf_task_t *t, int rc) {
    if (rc == WEFT_ECANCELED && wf_pool_cancel(j->rt->pool, &j->base)) {
        /* No thread took it yet: fn never runs. */
        if (j->rt->det) wf_det_source_remove(j->rt->det, &j->det);
        atomic_fetch_sub_explicit(&j->rt->offloads, 1, memory_order_relaxed);
        wf_limiter_give(j->limiter);
        wf_limiter_unref(j->limiter);
        wf_locals_release(j->locals);
        if (j->on_abandoned) j->on_abandoned(j->arg, rc);
        wf_free(j);
        return rc;
    }
    wf_spin_lock(&j->lock);
    if (j->host) {
        rc = WEFT_ECANCELED;
        if (!j->abandoned) wf_limiter_abandon(j->limiter); /* fn still runs with the token */
        if (j->rt->det) wf_det_source_remove(j->rt->det, &j->det); /* its end is outside the order */
        j->abandoned = 1;
        atomic_fetch_sub_explicit(&j->rt->offloads, 1, memory_order_relaxed);
        if (j->children) { /* cancelled with us: wait until they left our scope */
            wf_wait_arm(t, 0, WF_WAIT_THREAD, j);
            j->host_waits = 1;
            wf_spin_unlock(&j->lock);
            wf_wait_park(t);
            wf_spin_lock(&j->lock);
        }
        j->host = NULL;
    }
    wf_spin_unlock(&j->lock);
    job_unref(j);
    return rc;
}

/* The call ends before fn ran.  An abandonable call that ends in
 * WEFT_ECANCELED always hands arg to on_abandoned, so that its caller never
 * has to guess whether a thread still holds arg. */
static int gave_up(const weft_thread_opts_t *opts, void *arg, int rc) {
    if (rc == WEFT_ECANCELED && opts && opts->abandon_on_cancel && opts->on_abandoned)
        opts->on_abandoned(arg, rc);
    return rc;
}

int weft_to_thread_run_sync(weft_fn_t fn, void *arg, const weft_thread_opts_t *opts) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!fn) return WEFT_EINVAL;
    wf_runtime_t *rt = t->rt;
    weft_limiter_t *l = opts && opts->limiter ? opts->limiter : rt->limiter;
    int abandonable = opts && opts->abandon_on_cancel;
    int rc = wf_limiter_take(l, t); /* the checkpoint: reports a cancellation */
    if (rc) return gave_up(opts, arg, rc);

    wf_job_t stack_job, *j = &stack_job;
    if (abandonable && !(j = wf_alloc(sizeof *j))) {
        wf_limiter_give(l);
        return WEFT_ENOMEM;
    }
    *j = (wf_job_t){
        .base.run = job_run,
        .fn = fn,
        .arg = arg,
        .on_abandoned = opts ? opts->on_abandoned : NULL,
        .limiter = l,
        .rt = rt,
        .host = t,
        .locals = wf_locals_share(t->locals),
        .abandonable = abandonable,
        .refs = 2,
    };
    wf_spin_init(&j->lock);
    if (opts && opts->thread_name) wf_thread_name_copy(j->name, opts->thread_name);
    if (abandonable) wf_limiter_ref(l);
    wf_task_link_root(t); /* from_thread_run tasks may hang below our scope */
    rc = wf_wait_arm(t, abandonable, WF_WAIT_THREAD, j);
    if (rc == 0) {
        atomic_fetch_add_explicit(&rt->offloads, 1, memory_order_relaxed);
        if (WF_UNLIKELY(rt->det)) wf_det_source_add(rt->det, &j->det); /* before its thread looks */
        if ((rc = wf_pool_submit(rt->pool, &j->base)) != 0) {
            if (rt->det) wf_det_source_remove(rt->det, &j->det);
            atomic_fetch_sub_explicit(&rt->offloads, 1, memory_order_relaxed);
            if (!wf_wait_disarm(t)) wf_wait_park(t); /* a cancellation claimed us: consume it */
        }
    }
    if (rc) {
        wf_locals_release(j->locals);
        wf_limiter_give(l);
        if (abandonable) {
            wf_limiter_unref(l);
            wf_free(j);
        }
        return gave_up(opts, arg, rc);
    }
    rc = wf_wait_park(t);
    return abandonable ? leave_abandonable(j, t, rc) : rc;
}
