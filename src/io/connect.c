/*
 * Connecting streams: one attempt (TCP to one address, or a Unix path), and
 * Happy Eyeballs over every address of a host name (RFC 8305), built the way
 * Trio's open_tcp_stream is: one task per attempt in a group, each started
 * 250 ms after the previous one or as soon as it failed; the first to
 * connect keeps its stream and cancels the rest.  A numeric address skips
 * both the resolver (a blocking thread) and the race: it is one attempt.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "io/place.h"
#include "io/stream.h"
#include "sched/waitq.h"

#define ATTEMPT_DELAY 0.250

/* A pending connect.  Both sides run on the owner, so no lock: while the
 * task waits for it the task frees it, once the task gave up the callback
 * does. */
typedef struct wf_connect {
    uv_connect_t req;
    wf_task_t *waiter;   /* NULL once the task stopped waiting */
    int done;
} wf_connect_t;

static void on_connect(uv_connect_t *req, int status) {
    wf_connect_t *c = WF_CONTAINER_OF(req, wf_connect_t, req);
    if (!c->waiter) {
        wf_free(c);
        return;
    }
    c->done = 1;
    wf_wait_claim(c->waiter, status); /* refused if a cancellation came first */
}

/* Start a connection on a new stream, on the worker place.h picks for a
 * task whose first connection is on `home` (NULL: none yet), and wait for
 * it; on failure or cancellation the stream is closed. */
static int attempt(weft_stream_t **out, int tcp, const struct sockaddr *sa, const char *path,
                   wf_worker_t *home) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    int rc = wf_sync_cancelled(t);
    if (rc) return rc;
    wf_connect_t *c = wf_calloc(1, sizeof *c);
    if (!c) return WEFT_ENOMEM;
    /* The stream goes on the loop place.h picks, and this task with it. */
    wf_worker_t *w = wf_io_place_connect(t->rt, home);
    wf_task_move_to(t, w);
    weft_stream_t *s = wf_stream_new(tcp, 1, &rc);
    if (!s) {
        wf_free(c);
        return rc;
    }
    if (tcp) rc = uv_tcp_connect(&c->req, &s->h.tcp, sa, on_connect);
    else uv_pipe_connect(&c->req, &s->h.pipe, path, on_connect);
    if (rc) { /* nothing pending: no callback will come */
        wf_free(c);
        wf_stream_shut(s);
        return rc;
    }
    rc = wf_io_wait(&s->life, t, &c->waiter);
    if (c->done) wf_free(c);
    /* else still pending: the callback frees it (it sees no waiter) */
    if (rc) {
        wf_stream_shut(s); /* a pending connect completes with UV_ECANCELED */
        return rc;
    }
    *out = s;
    return 0;
}

/* One attempt from the calling task, which then stays with the stream's
 * loop (wf_io_settle). */
static int connect_one(weft_stream_t **out, int tcp, const struct sockaddr *sa, const char *path) {
    wf_task_t *t = wf_current_task();
    int rc = t ? attempt(out, tcp, sa, path, t->io_home) : WEFT_EPERM;
    if (rc == 0) wf_io_settle(t, (*out)->life.owner);
    return rc;
}

int weft_unix_connect(weft_stream_t **out, const char *path) {
    /* libuv would cut a path too long for sun_path and connect to whatever
     * its prefix names. */
    if (!out || !path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return WEFT_EINVAL;
    return connect_one(out, 0, NULL, path);
}

/* ---------------------------------------------------------------- Happy Eyeballs */

typedef struct eyeballs {
    weft_group_t group;
    struct addrinfo *addrs[64];
    weft_event_t *failed[64];   /* attempt i failed: start i+1 now */
    size_t n;
    weft_stream_t *_Atomic winner;  /* attempts run on any worker */
    atomic_int last_error;
    wf_worker_t *home;              /* the caller's (place.h) */
} eyeballs_t;

typedef struct eyeball {
    eyeballs_t *e;
    size_t i;
} eyeball_t;

static int run_attempt(void *arg) {
    eyeball_t *a = arg;
    eyeballs_t *e = a->e;
    if (a->i > 0) { /* wait for our turn: the previous one failed, or 250 ms */
        weft_scope_t delay;
        weft_move_on_after(&delay, ATTEMPT_DELAY * (double)a->i);
        int rc = weft_scope_exit(&delay, weft_event_wait(e->failed[a->i - 1]));
        if (rc) return 0; /* cancelled: someone won */
    }
    weft_stream_t *s;
    int rc = attempt(&s, 1, e->addrs[a->i]->ai_addr, NULL, e->home);
    weft_stream_t *none = NULL;
    if (rc == 0) {
        if (atomic_compare_exchange_strong(&e->winner, &none, s)) weft_group_cancel(&e->group);
        else weft_stream_close(s);
    } else if (rc != WEFT_ECANCELED) {
        atomic_store(&e->last_error, rc);
    }
    weft_event_set(e->failed[a->i]);
    return 0; /* errors are collected above, not as group failures */
}

/* A numeric IPv4 or IPv6 address: its one sockaddr, 1; else 0.  Such a
 * host needs neither a resolver's thread nor Happy Eyeballs. */
static int literal_address(const char *host, int port, struct sockaddr_storage *ss) {
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        return 1;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return 1;
    }
    return 0;
}

int weft_tcp_connect(weft_stream_t **out, const char *host, int port) {
    if (!out || !host || port < 0 || port > 65535) return WEFT_EINVAL;
    struct sockaddr_storage ss;
    if (literal_address(host, port, &ss)) return connect_one(out, 1, (struct sockaddr *)&ss, NULL);
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG}, *res;
    int rc = weft_getaddrinfo(host, service, &hints, &res);
    if (rc) return rc;
    eyeballs_t *e = wf_calloc(1, sizeof *e);
    eyeball_t *as = wf_calloc(64, sizeof *as);
    if (!e || !as) {
        rc = WEFT_ENOMEM;
        goto out;
    }
    for (struct addrinfo *ai = res; ai && e->n < 64; ai = ai->ai_next) {
        if ((rc = weft_event_new(&e->failed[e->n])) != 0) goto out;
        e->addrs[e->n++] = ai;
    }
    atomic_init(&e->last_error, UV_EAI_NONAME);
    wf_task_t *caller = wf_current_task(); /* getaddrinfo made sure there is one */
    e->home = caller->io_home;
    if ((rc = weft_group_open(&e->group)) != 0) goto out;
    for (size_t i = 0; i < e->n; i++) {
        as[i] = (eyeball_t){e, i};
        int src = weft_group_spawn_named(&e->group, run_attempt, &as[i], "happy eyeballs");
        if (src) { /* no memory for this attempt: it failed, the next goes at once */
            atomic_store(&e->last_error, src);
            weft_event_set(e->failed[i]);
        }
    }
    rc = weft_group_close(&e->group, 0);
    if ((*out = atomic_load(&e->winner))) { /* it connected: that stands */
        rc = 0;
        wf_io_settle(caller, (*out)->life.owner);
    } else if (rc == 0) {
        rc = atomic_load(&e->last_error);
    }
out:
    if (e)
        for (size_t i = 0; i < e->n; i++) weft_event_free(e->failed[i]);
    wf_free(e);
    wf_free(as);
    weft_freeaddrinfo(res);
    return rc;
}
