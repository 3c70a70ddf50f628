/*
 * weft_serve: accept connections for ever, one handler task per connection
 * in a task group, so that cancelling the server cancels every handler and
 * the server returns only once they all ended.
 *
 * Each connection is placed on a worker (place.h: near its packets, within
 * a balance) and its handler makes the connection's stream there: handlers
 * spread over the workers with their streams, instead of every connection's
 * I/O landing on the listener's worker.
 */
#include <unistd.h>

#include "sched/group.h"
#include "io/place.h"
#include "io/stream.h"

typedef struct connection {
    int fd, is_tcp;
    wf_worker_t *worker; /* placed on */
    weft_handler_t handler;
    void *arg;
} connection_t;

static int handle(void *p) {
    connection_t c = *(connection_t *)p;
    wf_free(p);
    /* On c.worker, even if an idle worker was handed the task before it
     * started. */
    weft_stream_t *s;
    if (wf_stream_from_fd(c.fd, c.is_tcp, c.worker, &s) != 0) return 0; /* dropped: no memory */
    /* Held, so that s stays readable here when the handler handed it to a
     * TLS stream (weft_tls_wrap) and closed that: the close below is then
     * refused (WEFT_EBADF) instead of touching freed memory, and closes the
     * TLS stream if the handler left it open. */
    s->life.users++;
    c.handler(s, c.arg); /* its error ends this connection only */
    weft_stream_close(s);
    wf_io_end(&s->life, 0);
    return 0;
}

int weft_serve(weft_listener_t *l, weft_handler_t handler, void *arg) {
    if (!l || !handler) return WEFT_EINVAL;
    weft_group_t g;
    int rc = weft_group_open(&g); /* on a worker, or WEFT_EPERM */
    if (rc) return rc;
    wf_runtime_t *rt = wf_current_worker()->rt;
    for (;;) {
        int fd, is_tcp;
        if ((rc = wf_listener_accept_fd(l, &fd, &is_tcp)) != 0) break;
        wf_worker_t *w = wf_io_place_accepted(rt, fd);
        connection_t *c = wf_alloc(sizeof *c);
        if (c) *c = (connection_t){fd, is_tcp, w, handler, arg};
        if (!c || wf_group_spawn_mapped(&g, handle, c, "connection", w) != 0) {
            wf_io_unplace(w);
            wf_free(c);
            close(fd); /* no memory for this one: drop it, go on */
        }
    }
    if (rc != WEFT_ECANCELED) weft_group_cancel(&g);
    int closed = weft_group_close(&g, 0);
    return closed ? closed : rc;
}
