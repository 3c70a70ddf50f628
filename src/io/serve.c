/*
 * weft_serve: accept connections for ever, one handler task per connection
 * in a task group, so that cancelling the server cancels every handler and
 * the server returns only once they all ended.
 *
 * The handler task makes the connection's stream itself, on the loop of the
 * worker it starts on: handlers spread over the workers with their streams,
 * instead of every connection's I/O landing on the listener's worker.
 */
#include <unistd.h>

#include "group.h"
#include "stream.h"

typedef struct connection {
    int fd, is_tcp;
    weft_handler_t handler;
    void *arg;
} connection_t;

static int handle(void *p) {
    connection_t c = *(connection_t *)p;
    wf_free(p);
    weft_stream_t *s;
    if (wf_stream_from_fd(c.fd, c.is_tcp, &s) != 0) return 0; /* dropped: no memory */
    c.handler(s, c.arg); /* its error ends this connection only */
    weft_stream_close(s);
    return 0;
}

/* Connections are dealt to the workers in turn (the spare, if any, is only
 * a stand-in): each handler starts, and makes its stream, on its own. */
static wf_worker_t *next_worker(unsigned *turn) {
    wf_runtime_t *rt = wf_current_worker()->rt;
    unsigned regular = rt->nworkers - (unsigned)rt->has_spare;
    return &rt->workers[(*turn)++ % regular];
}

int weft_serve(weft_listener_t *l, weft_handler_t handler, void *arg) {
    if (!l || !handler) return WEFT_EINVAL;
    unsigned turn = 0;
    weft_group_t g;
    int rc = weft_group_open(&g);
    if (rc) return rc;
    for (;;) {
        int fd, is_tcp;
        if ((rc = wf_listener_accept_fd(l, &fd, &is_tcp)) != 0) break;
        connection_t *c = wf_alloc(sizeof *c);
        if (c) *c = (connection_t){fd, is_tcp, handler, arg};
        if (!c || wf_group_spawn_mapped(&g, handle, c, "connection", next_worker(&turn)) != 0) {
            wf_free(c);
            close(fd); /* no memory for this one: drop it, go on */
        }
    }
    if (rc != WEFT_ECANCELED) weft_group_cancel(&g);
    int closed = weft_group_close(&g, 0);
    return closed ? closed : rc;
}
