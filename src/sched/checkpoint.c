/*
 * The basic checkpoints: yield (weft_checkpoint) and sleep, and the name of
 * the running task.
 */
#include <math.h>

#include "sched/clock.h"
#include "sched/runtime.h"

const char *weft_current_task_name(void) {
    wf_task_t *t = wf_current_task();
    return t ? t->name : NULL;
}

int weft_checkpoint(void) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (wf_scope_cancelled(t->scope)) return WEFT_ECANCELED;
    wf_task_switch_out(t, WF_SWITCH_YIELD);
    return 0;
}

static void sleep_expired(wf_timer_t *timer) {
    wf_wait_claim(WF_CONTAINER_OF(timer, wf_task_t, sleep_timer), 0);
}

int weft_sleep_until(double deadline) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (isnan(deadline)) return WEFT_EINVAL;
    if (deadline <= wf_clock_now()) return weft_checkpoint();
    int rc = wf_wait_arm(t, 1, WF_WAIT_SLEEP, NULL);
    if (rc) return rc;
    if (!isinf(deadline)) {
        wf_worker_t *w = wf_current_worker();
        t->sleep_timer.fire = sleep_expired;
        if (wf_worker_arm_timer(w, &t->sleep_timer, deadline) != 0) {
            if (wf_wait_disarm(t)) return WEFT_ENOMEM;
            return wf_wait_park(t); /* a cancellation won the race */
        }
    }
    rc = wf_wait_park(t);
    wf_timer_remove(&t->sleep_timer);
    return rc;
}

int weft_sleep(double seconds) {
    if (isnan(seconds)) return WEFT_EINVAL;
    return weft_sleep_until(wf_clock_now() + (seconds > 0 ? seconds : 0));
}
