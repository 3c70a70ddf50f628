/*
 * Listeners.  libuv's uv_listen accepts by itself, and when it runs out of
 * file descriptors it accepts and closes the waiting connection (its "EMFILE
 * trick"), dropping it.  We poll the listening sockets instead and accept
 * only when a task asks: out of descriptors, the listener stops polling for
 * 100 ms and tries again, so nothing spins and the connections stay in the
 * kernel's backlog until they can be taken.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/place.h"
#include "io/stream.h"

#define MAX_SOCKETS 16
#define EMFILE_BACKOFF_MS 100

struct weft_listener_t {
    wf_io_life_t life;      /* first: see life.h */
    int is_tcp, port;
    size_t n;
    struct sock {
        uv_poll_t poll;
        int fd;
        int ready;          /* readable: a connection may be waiting */
        weft_listener_t *l;
    } socks[MAX_SOCKETS];
    uv_timer_t backoff;
    int backing_off;
    wf_task_t *acceptor;
};

static void release(wf_io_life_t *o) { wf_free(WF_CONTAINER_OF(o, weft_listener_t, life)); }

static void on_handle_closed(uv_handle_t *h) {
    weft_listener_t *l = h->data;
    wf_io_handle_closed(&l->life);
}

static void on_readable(uv_poll_t *p, int status, int events) {
    struct sock *k = WF_CONTAINER_OF(p, struct sock, poll);
    (void)status;
    (void)events;
    k->ready = 1;
    uv_poll_stop(p); /* until an accept finds it drained */
    if (k->l->acceptor) wf_wait_claim(k->l->acceptor, 0);
}

static void poll_all(weft_listener_t *l) {
    for (size_t i = 0; i < l->n; i++)
        if (!l->socks[i].ready) uv_poll_start(&l->socks[i].poll, UV_READABLE, on_readable);
}

static void on_backoff_over(uv_timer_t *t) {
    weft_listener_t *l = t->data;
    l->backing_off = 0;
    for (size_t i = 0; i < l->n; i++) l->socks[i].ready = 1; /* look again */
    if (l->acceptor) wf_wait_claim(l->acceptor, 0);
}

/* ---------------------------------------------------------------- creation */

static int listen_fd(const struct sockaddr *sa, socklen_t len, const weft_listen_opts_t *o, int *out) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (sa->sa_family != AF_UNIX && !(o && o->reuse_addr == -1))
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6) /* the IPv4 address gets its own socket */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, sa, len) != 0 || listen(fd, o && o->backlog > 0 ? o->backlog : 128) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    *out = fd;
    return 0;
}

static int port_of(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return 0;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

static weft_listener_t *listener_new(int is_tcp) {
    weft_listener_t *l = wf_calloc(1, sizeof *l);
    if (!l) return NULL;
    wf_io_life_init(&l->life, release);
    l->is_tcp = is_tcp;
    uv_timer_init(&l->life.owner->loop, &l->backoff);
    l->backoff.data = l;
    l->life.open_handles = 1;
    return l;
}

static int add_socket(weft_listener_t *l, int fd) {
    struct sock *k = &l->socks[l->n];
    int rc = uv_poll_init_socket(&l->life.owner->loop, &k->poll, fd);
    if (rc) {
        close(fd);
        return rc;
    }
    k->poll.data = l;
    k->fd = fd;
    k->l = l;
    l->life.open_handles++;
    l->n++;
    return 0;
}

static void shut(weft_listener_t *l) {
    l->life.closed = 1;
    if (l->acceptor) wf_wait_claim(l->acceptor, WEFT_EBADF);
    for (size_t i = 0; i < l->n; i++) {
        uv_close((uv_handle_t *)&l->socks[i].poll, on_handle_closed);
        close(l->socks[i].fd);
    }
    uv_close((uv_handle_t *)&l->backoff, on_handle_closed);
}

int weft_tcp_listen(weft_listener_t **out, const char *host, int port, const weft_listen_opts_t *opts) {
    if (!out || port < 0 || port > 65535) return WEFT_EINVAL;
    if (!wf_current_task()) return WEFT_EPERM;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int rc = weft_getaddrinfo(host, service, &hints, &res);
    if (rc) return rc;
    weft_listener_t *l = listener_new(1);
    if (!l) {
        weft_freeaddrinfo(res);
        return WEFT_ENOMEM;
    }
    /* Port 0: the first socket picks a port, the others take the same. */
    for (struct addrinfo *ai = res; ai && l->n < MAX_SOCKETS && rc == 0; ai = ai->ai_next) {
        struct sockaddr_storage ss;
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        if (l->port) {
            if (ss.ss_family == AF_INET) ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)l->port);
            else if (ss.ss_family == AF_INET6) ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)l->port);
        }
        int fd;
        rc = listen_fd((struct sockaddr *)&ss, ai->ai_addrlen, opts, &fd);
        if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL) { /* no IPv6 here, say */
            rc = 0;
            continue;
        }
        if (rc == 0 && (rc = add_socket(l, fd)) == 0 && !l->port) l->port = port_of(fd);
    }
    weft_freeaddrinfo(res);
    if (rc == 0 && l->n == 0) rc = -EADDRNOTAVAIL;
    if (rc) {
        shut(l);
        return rc;
    }
    poll_all(l);
    *out = l;
    return 0;
}

int weft_unix_listen(weft_listener_t **out, const char *path, const weft_listen_opts_t *opts) {
    if (!out || !path) return WEFT_EINVAL;
    if (!wf_current_task()) return WEFT_EPERM;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) return WEFT_EINVAL;
    strcpy(sun.sun_path, path);
    weft_listener_t *l = listener_new(0);
    if (!l) return WEFT_ENOMEM;
    int fd, rc = listen_fd((struct sockaddr *)&sun, sizeof sun, opts, &fd);
    if (rc == 0) rc = add_socket(l, fd);
    if (rc) {
        shut(l);
        return rc;
    }
    poll_all(l);
    *out = l;
    return 0;
}

int wf_listener_adopt(weft_listener_t **out, int fd, int is_tcp) {
    weft_listener_t *l = listener_new(is_tcp);
    if (!l) {
        close(fd);
        return WEFT_ENOMEM;
    }
    int rc = add_socket(l, fd);
    if (rc) {
        shut(l);
        return rc;
    }
    l->port = is_tcp ? port_of(fd) : 0;
    poll_all(l);
    *out = l;
    return 0;
}

int weft_listener_port(const weft_listener_t *l) { return l ? l->port : WEFT_EINVAL; }

/* ---------------------------------------------------------------- accept */

/* Take a waiting connection without blocking: 0 and *fd, WEFT_EAGAIN, or an
 * error.  Out of descriptors: back off. */
static int try_accept(weft_listener_t *l, int *fd) {
    if (l->backing_off) return WEFT_EAGAIN;
    for (size_t i = 0; i < l->n; i++) {
        struct sock *k = &l->socks[i];
        if (!k->ready) continue;
        int c = accept4(k->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            *fd = c;
            return 0;
        }
        if (errno == EINTR || errno == ECONNABORTED) { /* try this socket again */
            i--;
            continue;
        }
        if (errno == EAGAIN) { /* drained: wait until it is readable again */
            k->ready = 0;
            uv_poll_start(&k->poll, UV_READABLE, on_readable);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            l->backing_off = 1;
            uv_timer_start(&l->backoff, on_backoff_over, EMFILE_BACKOFF_MS, 0);
            return WEFT_EAGAIN;
        }
        return -errno;
    }
    return WEFT_EAGAIN;
}

int wf_stream_from_fd(int fd, int is_tcp, wf_worker_t *placed, weft_stream_t **out) {
    wf_task_t *t = wf_current_task();
    wf_task_move_to(t, placed);
    int rc;
    weft_stream_t *s = wf_stream_new(is_tcp, 1, &rc);
    if (s) rc = is_tcp ? uv_tcp_open(&s->h.tcp, fd) : uv_pipe_open(&s->h.pipe, fd);
    if (rc) {
        close(fd);
        if (s) wf_stream_shut(s);
        return rc;
    }
    wf_io_settle(t, placed);
    *out = s;
    return 0;
}

int wf_listener_accept_fd(weft_listener_t *l, int *fd, int *is_tcp) {
    if (!l) return WEFT_EINVAL;
    wf_task_t *t;
    int rc = wf_io_begin(&l->life, &t, 1);
    if (rc) return rc;
    if (l->acceptor) return wf_io_end(&l->life, -EBUSY);
    *is_tcp = l->is_tcp;
    while ((rc = try_accept(l, fd)) == WEFT_EAGAIN) {
        if ((rc = wf_io_wait(&l->life, t, &l->acceptor)) != 0) break;
        if (l->life.closed) {
            rc = WEFT_EBADF;
            break;
        }
    }
    return wf_io_end(&l->life, rc);
}

int weft_listener_accept(weft_listener_t *l, weft_stream_t **out) {
    if (!l || !out) return WEFT_EINVAL;
    int fd = -1, is_tcp;
    int rc = wf_listener_accept_fd(l, &fd, &is_tcp);
    if (rc) return rc;
    /* Placed as weft_serve's connections are: this task goes with the
     * stream, and back to the listener for its next accept. */
    wf_runtime_t *rt = wf_current_worker()->rt;
    return wf_stream_from_fd(fd, is_tcp, wf_io_place_accepted(rt, fd), out);
}

int weft_listener_close(weft_listener_t *l) {
    if (!l) return WEFT_EINVAL;
    int rc = wf_io_visit(&l->life);
    if (rc == 0) shut(l);
    return rc;
}
