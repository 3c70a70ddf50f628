/*
 * Signal receivers (AnyIO's open_signal_receiver) on libuv's uv_signal_t.
 *
 * libuv installs one process-wide handler per signal number; the handler
 * writes each delivery into the self-pipe of every loop that has a
 * uv_signal_t started for that number, and the loop runs the handles'
 * callbacks on its own thread.  So a receiver has one uv_signal_t per signal
 * number on its owner's loop, and lives as life.h says.
 *
 * Deliveries wait in a ring of WF_SIGNAL_RING numbers, in arrival order.
 * When it is full a delivery is not dropped outright: its signal is marked
 * `missed` and goes into the ring as soon as there is room, once however
 * many times it arrived meanwhile (count coalescing, as the kernel does for
 * a pending standard signal).  No signal number that arrived is ever lost.
 */
#include <string.h>

#include "life.h"
#include "waitq.h"

#define WF_SIGNAL_RING 64

struct wf_sig {
    uv_signal_t h;
    weft_signal_receiver_t *r;
    int signum;
    int missed;            /* arrived while the ring was full */
};

struct weft_signal_receiver_t {
    wf_io_life_t life;     /* first: see life.h */
    wf_task_t *receiver;   /* the task waiting in receive */
    unsigned head, count;  /* ring[head], ... count deliveries */
    int ring[WF_SIGNAL_RING];
    size_t n;
    struct wf_sig sigs[];
};

static void release(wf_io_life_t *o) { wf_free(WF_CONTAINER_OF(o, weft_signal_receiver_t, life)); }

static void on_closed(uv_handle_t *h) {
    weft_signal_receiver_t *r = ((struct wf_sig *)h->data)->r;
    wf_io_handle_closed(&r->life);
}

static void push(weft_signal_receiver_t *r, int signum) {
    r->ring[(r->head + r->count) % WF_SIGNAL_RING] = signum;
    r->count++;
}

static void on_signal(uv_signal_t *h, int signum) {
    struct wf_sig *k = h->data;
    weft_signal_receiver_t *r = k->r;
    if (r->life.closed) return;
    if (r->count < WF_SIGNAL_RING) push(r, signum);
    else k->missed = 1;
    if (r->receiver) wf_wait_claim(r->receiver, 0);
}

/* The oldest delivery; refills the ring from the missed signals. */
static int pop(weft_signal_receiver_t *r) {
    int signum = r->ring[r->head];
    r->head = (r->head + 1) % WF_SIGNAL_RING;
    r->count--;
    for (size_t i = 0; i < r->n && r->count < WF_SIGNAL_RING; i++) {
        if (r->sigs[i].missed) {
            r->sigs[i].missed = 0;
            push(r, r->sigs[i].signum);
        }
    }
    return signum;
}

static void shut(weft_signal_receiver_t *r) {
    r->life.closed = 1;
    if (r->receiver) wf_wait_claim(r->receiver, WEFT_EBADF);
    for (size_t i = 0; i < r->n; i++) uv_close((uv_handle_t *)&r->sigs[i].h, on_closed);
    wf_io_maybe_free(&r->life); /* now only if no handle was initialised */
}

int weft_signal_open(weft_signal_receiver_t **out, const int *signums, size_t n) {
    if (!out || !signums || n == 0 || n > 1024) return WEFT_EINVAL;
    if (!wf_current_task()) return WEFT_EPERM;
    for (size_t i = 0; i < n; i++)
        if (signums[i] <= 0) return WEFT_EINVAL;
    weft_signal_receiver_t *r = wf_calloc(1, sizeof *r + n * sizeof r->sigs[0]);
    if (!r) return WEFT_ENOMEM;
    wf_io_life_init(&r->life, release);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int dup = 0;
        for (size_t j = 0; j < r->n; j++) dup |= r->sigs[j].signum == signums[i];
        if (dup) continue;
        struct wf_sig *k = &r->sigs[r->n];
        k->r = r;
        k->signum = signums[i];
        if ((rc = uv_signal_init(&r->life.owner->loop, &k->h)) != 0) break;
        k->h.data = k;
        r->life.open_handles++;
        r->n++;
        rc = uv_signal_start(&k->h, on_signal, k->signum);
    }
    if (rc) {
        shut(r); /* closes the handles initialised: sigs[0 .. n) */
        return rc;
    }
    *out = r;
    return 0;
}

int weft_signal_receive(weft_signal_receiver_t *r) {
    if (!r) return WEFT_EINVAL;
    wf_task_t *t;
    int rc = wf_io_begin(&r->life, &t, 1);
    if (rc) return rc;
    if (r->receiver) return wf_io_end(&r->life, -EBUSY);
    while (r->count == 0) {
        if ((rc = wf_io_wait(&r->life, t, &r->receiver)) != 0) break;
        if (r->life.closed) {
            rc = WEFT_EBADF;
            break;
        }
    }
    if (rc == 0) rc = pop(r);
    wf_io_end(&r->life, rc);
    if (rc > 0) wf_sync_after_fast(t); /* after leaving: a yield may move the task */
    return rc;
}

int weft_signal_close(weft_signal_receiver_t *r) {
    if (!r) return WEFT_EINVAL;
    int rc = wf_io_visit(&r->life);
    if (rc == 0) shut(r);
    return rc;
}
