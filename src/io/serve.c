/*
 * weft_serve and weft_serve_ex: accept connections until cancelled, one
 * handler task per connection in a task group, so that cancelling the
 * server cancels every handler and the server returns only once they all
 * ended.
 *
 * Each connection is placed on a worker (place.h: near its packets, within
 * a balance) and its handler makes the connection's stream there: handlers
 * spread over the workers with their streams, instead of every connection's
 * I/O landing on the listener's worker.
 *
 * The options: a connection limit is a semaphore taken before each accept
 * and given back when a handler ends, so that at the limit the server does
 * not accept at all and the kernel's backlog holds the next connections; a
 * handler's error is either printed (the task's name, the peer) or recorded
 * as the server's result, the group then cancelled; the per-connection
 * state is made and freed in the handler's own task.
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sched/group.h"
#include "io/place.h"
#include "io/stream.h"

/* What every handler task of one weft_serve_ex shares (on its stack). */
typedef struct server {
    weft_group_t group;
    weft_handler_t handler;
    void *arg;
    weft_serve_opts_t opts;
    weft_sem_t *slots;       /* max_connections, or NULL */
    _Atomic int first_error; /* WEFT_SERVE_FAIL: the server's result */
} server_t;

typedef struct connection {
    int fd, is_tcp;
    wf_worker_t *worker; /* placed on */
    server_t *srv;
} connection_t;

/* "127.0.0.1:5000", "[::1]:5000", "a Unix socket", or "unknown" (a peer
 * that reset the connection has no address any more). */
static void peer_name(weft_stream_t *s, char *out, size_t len) {
    struct sockaddr_storage ss;
    int n = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    snprintf(out, len, "unknown");
    if (weft_stream_remote_address(s, (struct sockaddr *)&ss, &n) != 0) return;
    if (ss.ss_family == AF_UNIX) {
        snprintf(out, len, "a Unix socket");
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(out, len, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    }
}

/* A handler (or conn_open) failed with rc: the error policy. */
static void handler_failed(server_t *srv, weft_stream_t *s, int rc) {
    if (srv->opts.on_error == WEFT_SERVE_FAIL) {
        int none = 0;
        if (atomic_compare_exchange_strong(&srv->first_error, &none, rc))
            weft_group_cancel(&srv->group);
        return;
    }
    char peer[INET6_ADDRSTRLEN + 16];
    peer_name(s, peer, sizeof peer);
    fprintf(stderr, "weft_serve: task '%s' (peer %s) failed: %s (%d)\n",
            weft_current_task_name(), peer, weft_strerror(rc), rc);
}

static int handle(void *p) {
    connection_t c = *(connection_t *)p;
    wf_free(p);
    server_t *srv = c.srv;
    /* On c.worker, even if an idle worker was handed the task before it
     * started. */
    weft_stream_t *s;
    if (wf_stream_from_fd(c.fd, c.is_tcp, c.worker, &s) == 0) { /* else dropped: no memory */
        /* Held, so that s stays readable here when the handler handed it to
         * a TLS stream (weft_tls_wrap) and closed that: the close below is
         * then refused (WEFT_EBADF) instead of touching freed memory, and
         * closes the TLS stream if the handler left it open. */
        s->life.users++;
        void *conn = srv->arg;
        int rc = srv->opts.conn_open ? srv->opts.conn_open(srv->arg, &conn) : 0;
        int opened = rc == 0 && srv->opts.conn_open;
        if (rc == 0) rc = srv->handler(s, conn);
        if (rc < 0 && rc != WEFT_ECANCELED) handler_failed(srv, s, rc); /* names the peer */
        weft_stream_close(s);
        wf_io_end(&s->life, 0);
        if (opened && srv->opts.conn_close) srv->opts.conn_close(conn, srv->arg);
    }
    if (srv->slots) weft_sem_release(srv->slots);
    return 0;
}

/* Accept until cancelled or accept fails; the caller closes the group. */
static int accept_loop(weft_listener_t *l, server_t *srv) {
    wf_runtime_t *rt = wf_current_worker()->rt;
    for (;;) {
        int fd, is_tcp, rc;
        if (srv->slots && (rc = weft_sem_acquire(srv->slots)) != 0) return rc;
        if ((rc = wf_listener_accept_fd(l, &fd, &is_tcp)) != 0) {
            if (srv->slots) weft_sem_release(srv->slots);
            return rc;
        }
        wf_worker_t *w = wf_io_place_accepted(rt, fd);
        connection_t *c = wf_alloc(sizeof *c);
        if (c) *c = (connection_t){fd, is_tcp, w, srv};
        if (!c || wf_group_spawn_mapped(&srv->group, handle, c, "connection", w) != 0) {
            wf_io_unplace(w);
            wf_free(c);
            close(fd); /* no memory for this one: drop it, go on */
            if (srv->slots) weft_sem_release(srv->slots);
        }
    }
}

void weft_serve_opts_init(weft_serve_opts_t *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->opts_size = sizeof *o;
}

int weft_serve_ex(weft_listener_t *l, weft_handler_t handler, void *arg,
                  const weft_serve_opts_t *opts) {
    server_t srv = {.handler = handler, .arg = arg};
    size_t size = !opts ? 0 : opts->opts_size ? opts->opts_size : sizeof *opts;
    if (!l || !handler || size > sizeof *opts) return WEFT_EINVAL;
    weft_serve_opts_init(&srv.opts);
    if (opts) memcpy(&srv.opts, opts, size); /* fields past the caller's layout stay 0 */
    if ((srv.opts.on_error != WEFT_SERVE_LOG && srv.opts.on_error != WEFT_SERVE_FAIL) ||
        (srv.opts.conn_close && !srv.opts.conn_open))
        return WEFT_EINVAL;
    if (!wf_current_task()) return WEFT_EPERM;
    int rc;
    if (srv.opts.max_connections &&
        (rc = weft_sem_new(&srv.slots, srv.opts.max_connections, srv.opts.max_connections)) != 0)
        return rc;
    if ((rc = weft_group_open(&srv.group)) == 0) {
        rc = accept_loop(l, &srv);
        if (rc != WEFT_ECANCELED) weft_group_cancel(&srv.group);
        int closed = weft_group_close(&srv.group, 0);
        int failed = atomic_load(&srv.first_error);
        rc = failed ? failed : closed ? closed : rc;
    }
    if (srv.slots) weft_sem_free(srv.slots);
    return rc;
}

int weft_serve(weft_listener_t *l, weft_handler_t handler, void *arg) {
    return weft_serve_ex(l, handler, arg, NULL);
}
