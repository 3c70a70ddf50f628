#include "io/life.h"

#include "sched/waitq.h"

void wf_io_life_init(wf_io_life_t *o, void (*release)(wf_io_life_t *)) {
    *o = (wf_io_life_t){.owner = wf_current_worker(), .release = release};
}

void wf_io_maybe_free(wf_io_life_t *o) {
    if (o->closed && o->open_handles == 0 && o->users == 0) o->release(o);
}

int wf_io_begin(wf_io_life_t *o, wf_task_t **out, int checkpoint) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    wf_task_move_to(t, o->owner);
    *out = t;
    int rc = checkpoint ? wf_sync_cancelled(t) : 0;
    if (rc) return rc;
    if (o->closed) return WEFT_EBADF;
    o->users++;
    return 0;
}

int wf_io_end(wf_io_life_t *o, int rc) {
    o->users--;
    wf_io_maybe_free(o);
    return rc;
}

int wf_io_visit(wf_io_life_t *o) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    wf_task_move_to(t, o->owner);
    return o->closed ? WEFT_EBADF : 0;
}

int wf_io_wait(wf_io_life_t *o, wf_task_t *t, wf_task_t **slot) {
    int rc = wf_wait_arm(t, 1, WF_WAIT_IO, o); /* o is the object: its first member */
    if (rc) return rc;
    *slot = t;
    rc = wf_wait_park(t);
    wf_task_move_to(t, o->owner);
    *slot = NULL;
    return rc;
}

void wf_io_handle_closed(wf_io_life_t *o) {
    o->open_handles--;
    wf_io_maybe_free(o);
}

void wf_io_close_leftover(uv_handle_t *h, void *arg) {
    (void)arg;
    if (uv_is_closing(h)) return;
    if (h->type == UV_SIGNAL) wf_signal_close_leftover((uv_signal_t *)h);
    else uv_close(h, NULL);
}
