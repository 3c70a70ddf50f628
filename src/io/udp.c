/*
 * UDP sockets on the owner worker's loop (see life.h for the ownership
 * rules).  Datagrams are copied into the socket's own queue as they arrive,
 * so a receive that is cancelled after one arrived loses nothing.  A full
 * queue stops reading the socket until a receive makes room: what arrives
 * meanwhile waits in the kernel's buffer, and only a full kernel buffer
 * drops datagrams (as for any UDP socket).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "io/life.h"
#include "sched/waitq.h"

#define QUEUE_LEN 256u
#define MAX_DATAGRAM 65536u

typedef struct datagram {
    size_t len;
    struct sockaddr_storage from;
    char data[];
} datagram_t;

struct weft_udp_t {
    wf_io_life_t life;        /* first: see life.h */
    uv_udp_t udp;
    int connected, port;
    datagram_t *queue[QUEUE_LEN];
    size_t head, count;
    char *scratch;            /* libuv reads here, then we copy */
    wf_task_t *reader;
    int paused;               /* queue full: not reading the socket */
};

static void release(wf_io_life_t *o) {
    weft_udp_t *u = WF_CONTAINER_OF(o, weft_udp_t, life);
    while (u->count) {
        wf_free(u->queue[u->head]);
        u->head = (u->head + 1) % QUEUE_LEN;
        u->count--;
    }
    wf_free(u->scratch);
    wf_free(u);
}

static void on_closed(uv_handle_t *h) {
    weft_udp_t *u = h->data;
    wf_io_handle_closed(&u->life);
}

/* Close the socket: wake the waiting reader with WEFT_EBADF (a pending send
 * completes with UV_ECANCELED). */
static void shut(weft_udp_t *u) {
    u->life.closed = 1;
    if (u->reader) wf_wait_claim(u->reader, WEFT_EBADF);
    uv_close((uv_handle_t *)&u->udp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
    weft_udp_t *u = h->data;
    (void)suggested;
    *out = uv_buf_init(u->scratch, MAX_DATAGRAM);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                    unsigned flags) {
    weft_udp_t *u = h->data;
    (void)b;
    (void)flags;
    if (n < 0 || !from || u->count == QUEUE_LEN) return; /* nothing, or no room: dropped */
    datagram_t *d = wf_alloc(sizeof *d + (size_t)n);
    if (!d) return;
    d->len = (size_t)n;
    memcpy(d->data, u->scratch, (size_t)n);
    memset(&d->from, 0, sizeof d->from);
    memcpy(&d->from, from, from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    u->queue[(u->head + u->count++) % QUEUE_LEN] = d;
    if (u->count == QUEUE_LEN && uv_udp_recv_stop(&u->udp) == 0) u->paused = 1;
    if (u->reader) wf_wait_claim(u->reader, 0);
}

/* First address of host:port for a datagram socket. */
static int resolve(const char *host, int port, int passive, struct sockaddr_storage *out) {
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = passive ? AI_PASSIVE : 0}, *res;
    int rc = weft_getaddrinfo(host, service, &hints, &res);
    if (rc) return rc;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    weft_freeaddrinfo(res);
    return 0;
}

int weft_udp_open(weft_udp_t **out, const char *host, int port, const char *remote_host,
                  int remote_port) {
    if (!out || port < 0 || port > 65535 || remote_port < 0 || remote_port > 65535) return WEFT_EINVAL;
    if (!wf_current_task()) return WEFT_EPERM;
    struct sockaddr_storage local, remote;
    int rc = resolve(host, port, 1, &local);
    if (rc == 0 && remote_host) rc = resolve(remote_host, remote_port, 0, &remote);
    if (rc) return rc;
    weft_udp_t *u = wf_calloc(1, sizeof *u);
    if (!u || !(u->scratch = wf_alloc(MAX_DATAGRAM))) {
        wf_free(u);
        return WEFT_ENOMEM;
    }
    wf_io_life_init(&u->life, release);
    if ((rc = uv_udp_init(&u->life.owner->loop, &u->udp)) != 0) {
        release(&u->life);
        return rc;
    }
    u->udp.data = u;
    u->life.open_handles = 1;
    rc = uv_udp_bind(&u->udp, (struct sockaddr *)&local, 0);
    if (rc == 0 && remote_host) {
        rc = uv_udp_connect(&u->udp, (struct sockaddr *)&remote);
        u->connected = rc == 0;
    }
    if (rc == 0) rc = uv_udp_recv_start(&u->udp, on_alloc, on_recv);
    if (rc == 0) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        uv_udp_getsockname(&u->udp, (struct sockaddr *)&ss, &len);
        u->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
        *out = u;
        return 0;
    }
    shut(u);
    return rc;
}

int weft_udp_port(const weft_udp_t *u) { return u ? u->port : WEFT_EINVAL; }

static int enter(weft_udp_t *u, wf_task_t **t) {
    return u ? wf_io_begin(&u->life, t, 1) : WEFT_EINVAL;
}

static int leave(weft_udp_t *u, int rc) { return wf_io_end(&u->life, rc); }

/* ---------------------------------------------------------------- send */

/* A pending send with its copy of the datagram: freed by the task while it
 * waits for it, by the callback once the task gave up (both on the owner). */
typedef struct send_req {
    uv_udp_send_t req;
    wf_task_t *waiter;   /* NULL once the task stopped waiting */
    int done;
    char data[];
} send_req_t;

static void on_sent(uv_udp_send_t *req, int status) {
    send_req_t *r = WF_CONTAINER_OF(req, send_req_t, req);
    if (!r->waiter) {
        wf_free(r);
        return;
    }
    r->done = 1;
    wf_wait_claim(r->waiter, status);
}

int weft_udp_send_to(weft_udp_t *u, const void *buf, size_t len, const struct sockaddr *addr) {
    wf_task_t *t;
    if ((!buf && len) || len > MAX_DATAGRAM) return WEFT_EINVAL;
    int rc = enter(u, &t);
    if (rc) return rc;
    if (u->connected) addr = NULL;
    else if (!addr) return leave(u, WEFT_EINVAL); /* nowhere to send it (not EDESTADDRREQ) */
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    rc = uv_udp_try_send(&u->udp, &b, 1, addr);
    if (rc >= 0) {
        leave(u, 0);
        wf_sync_after_fast(t); /* after leave: a yield may move us */
        return 0;
    }
    if (rc != UV_EAGAIN) return leave(u, rc);
    /* The socket buffer is full: a request with its own copy. */
    send_req_t *r = wf_alloc(sizeof *r + len);
    if (!r) return leave(u, WEFT_ENOMEM);
    memcpy(r->data, buf, len);
    b = uv_buf_init(r->data, (unsigned)len);
    r->waiter = NULL;
    r->done = 0;
    if ((rc = uv_udp_send(&r->req, &u->udp, &b, 1, addr, on_sent)) != 0) {
        wf_free(r);
        return leave(u, rc);
    }
    rc = wf_io_wait(&u->life, t, &r->waiter);
    if (r->done) wf_free(r);
    /* else still pending: the callback frees it (it sees no waiter) */
    return leave(u, rc);
}

int weft_udp_send(weft_udp_t *u, const void *buf, size_t len) {
    if (u && !u->connected) return WEFT_EINVAL;
    return weft_udp_send_to(u, buf, len, NULL);
}

/* ---------------------------------------------------------------- receive */

int weft_udp_receive_from(weft_udp_t *u, void *buf, size_t len, struct sockaddr *addr, int *addrlen) {
    wf_task_t *t;
    if (!buf && len) return WEFT_EINVAL;
    int rc = enter(u, &t);
    if (rc) return rc;
    if (u->reader) return leave(u, -EBUSY);
    while (!u->count) {
        if ((rc = wf_io_wait(&u->life, t, &u->reader)) != 0) return leave(u, rc);
        if (u->life.closed) return leave(u, WEFT_EBADF);
    }
    datagram_t *d = u->queue[u->head];
    u->head = (u->head + 1) % QUEUE_LEN;
    u->count--;
    if (u->paused && uv_udp_recv_start(&u->udp, on_alloc, on_recv) == 0) u->paused = 0;
    size_t n = d->len < len ? d->len : len;
    memcpy(buf, d->data, n);
    if (addr && addrlen) {
        int size = d->from.ss_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6) : (int)sizeof(struct sockaddr_in);
        memcpy(addr, &d->from, (size_t)(size < *addrlen ? size : *addrlen));
        *addrlen = size;
    }
    wf_free(d);
    leave(u, (int)n);
    wf_sync_after_fast(t); /* after leave: a yield may move us */
    return (int)n;
}

int weft_udp_receive(weft_udp_t *u, void *buf, size_t len) {
    if (u && !u->connected) return WEFT_EINVAL;
    return weft_udp_receive_from(u, buf, len, NULL, NULL);
}

int weft_udp_close(weft_udp_t *u) {
    if (!u) return WEFT_EINVAL;
    int rc = wf_io_visit(&u->life);
    if (rc == 0) shut(u);
    return rc;
}
