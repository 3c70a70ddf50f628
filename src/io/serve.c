/*
 * weft_serve: accept connections for ever, one handler task per connection
 * in a task group, so that cancelling the server cancels every handler and
 * the server returns only once they all ended.
 */
#include "stream.h"

typedef struct connection {
    weft_stream_t *stream;
    weft_handler_t handler;
    void *arg;
} connection_t;

static int handle(void *p) {
    connection_t c = *(connection_t *)p;
    wf_free(p);
    c.handler(c.stream, c.arg); /* its error ends this connection only */
    weft_stream_close(c.stream);
    return 0;
}

int weft_serve(weft_listener_t *l, weft_handler_t handler, void *arg) {
    if (!l || !handler) return WEFT_EINVAL;
    weft_group_t g;
    int rc = weft_group_open(&g);
    if (rc) return rc;
    for (;;) {
        weft_stream_t *s;
        if ((rc = weft_listener_accept(l, &s)) != 0) break;
        connection_t *c = wf_alloc(sizeof *c);
        if (c) *c = (connection_t){s, handler, arg};
        if (!c || weft_group_spawn_named(&g, handle, c, "connection") != 0) {
            wf_free(c);
            weft_stream_close(s); /* no memory for this one: drop it, go on */
        }
    }
    if (rc != WEFT_ECANCELED) weft_group_cancel(&g);
    int closed = weft_group_close(&g, 0);
    return closed ? closed : rc;
}
