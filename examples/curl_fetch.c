/*
 * curl_fetch — libcurl's multi socket API driven by weft.
 *
 * libcurl owns its sockets; weft only waits on them.  One curl multi handle
 * serves every transfer, its calls serialised by a weft lock:
 *   - CURLMOPT_SOCKETFUNCTION: for each socket and direction libcurl wants
 *     watched, a task loops on weft_wait_readable / weft_wait_writable and
 *     hands readiness to curl_multi_socket_action; a direction no longer
 *     wanted has its task's cancel scope cancelled;
 *   - CURLMOPT_TIMERFUNCTION: a timer task sleeps in a cancel scope whose
 *     deadline the callback moves (weft_scope_set_deadline), then calls
 *     curl_multi_socket_action(CURL_SOCKET_TIMEOUT);
 *   - CURLOPT_CLOSESOCKETFUNCTION: weft_notify_closing before close, so that
 *     a task still waiting on the socket wakes (WEFT_EBADF) and no loop
 *     watches a closed descriptor.
 * Each transfer is a task under weft_fail_after: a transfer that times out
 * removes its easy handle from the multi handle (curl_multi_remove_handle,
 * in a shielded scope) and libcurl closes its connection.
 *
 * The servers run in the same runtime, on 127.0.0.1 only:
 *   fast     answers GET /item/<n> with "item <n>: <n*n>" (the request
 *            head read with weft_stream_receive_until);
 *   slow     reads the request and never answers;
 *   refused  a port where nothing listens any more.
 * 100 transfers, at most 8 at a time (a semaphore): 90 fast, 5 slow, 5
 * refused.  It prints a line per transfer and a summary, and exits 0 when
 * every transfer ended as expected and every socket libcurl opened was
 * closed.
 *
 * usage: curl_fetch [--timeout SECONDS]   (default 1)
 */
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <weft.h>

#define TRANSFERS 100
#define CONCURRENCY 8

enum target { FAST, SLOW, REFUSED, TARGETS };
static const char *const target_names[TARGETS] = {"fast", "slow", "refused"};

static enum target target_of(int n) { return n % 20 == 7 ? SLOW : n % 20 == 13 ? REFUSED : FAST; }

/* ---------------------------------------------------------------- the servers */

/* GET /item/<n>: the reply after the request head. */
static int serve_fast(weft_stream_t *s, void *arg) {
    (void)arg;
    char head[1024];
    int n = weft_stream_receive_until(s, head, sizeof head - 1, "\r\n\r\n", 4);
    if (n < 0) return n;
    head[n] = '\0';
    int id;
    if (sscanf(head, "GET /item/%d", &id) != 1) return WEFT_EINVAL;
    char body[48], reply[160];
    int blen = snprintf(body, sizeof body, "item %d: %d", id, id * id);
    int len = snprintf(reply, sizeof reply,
                       "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                       blen, body);
    return weft_stream_send(s, reply, (size_t)len);
}

static int serve_slow(weft_stream_t *s, void *arg) {
    (void)arg;
    char head[1024];
    int n = weft_stream_receive_until(s, head, sizeof head, "\r\n\r\n", 4);
    return n < 0 ? n : weft_sleep(WEFT_FOREVER); /* until the server is cancelled */
}

typedef struct server {
    weft_listener_t *l;
    weft_handler_t handler;
} server_t;

static int serve_task(void *arg) {
    server_t *sv = arg;
    weft_serve(sv->l, sv->handler, NULL);
    return 0;
}

/* ---------------------------------------------------------------- the client */

typedef struct client {
    CURLM *multi;
    weft_lock_t *lock;           /* every call into the multi handle holds it */
    weft_group_t drivers;        /* socket watchers and the timer */
    double timer_at;             /* libcurl's timeout, as a deadline */
    weft_scope_t *timer_scope;   /* the timer task's, while it sleeps */
    int stopping;
    double timeout;
    int ports[TARGETS];
    weft_sem_t *slots;
    atomic_int in_flight, peak, opened, closed;
} client_t;

typedef struct transfer {
    client_t *c;
    int id;
    enum target target;
    weft_event_t *done;
    CURLcode result;
    long status;
    int rc;                      /* the outcome: 0, WEFT_ETIMEDOUT, or an error */
    char body[64];
    size_t len;
} transfer_t;

/* A socket libcurl asked to watch: what it wants, and the task per
 * direction that waits for it. */
enum { IN, OUT };
typedef struct sock {
    client_t *c;
    curl_socket_t fd;
    int want[2];
    int running[2];              /* a watcher task exists */
    weft_scope_t *scope[2];      /* its scope, while it runs */
    int assigned;                /* curl_multi_assign'ed to fd */
} sock_t;

typedef struct watcher {
    sock_t *k;
    int dir;
} watcher_t;

/* The multi handle's lock, cancellation or not (clean-up paths). */
static void lock_shielded(client_t *c, weft_scope_t *sh) {
    weft_scope_enter(sh, WEFT_FOREVER, WEFT_SHIELD);
    weft_lock_acquire(c->lock);
}

static void unlock_shielded(client_t *c, weft_scope_t *sh) {
    weft_lock_release(c->lock);
    weft_scope_exit(sh, 0);
}

/* Transfers libcurl finished: hand each its result (the lock is held). */
static void collect_done(client_t *c) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) continue;
        char *p;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
        transfer_t *x = (transfer_t *)p;
        x->result = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &x->status);
        weft_event_set(x->done);
    }
}

static void socket_action(client_t *c, curl_socket_t fd, int events) {
    int running;
    curl_multi_socket_action(c->multi, fd, events, &running);
    collect_done(c);
}

static void free_if_unused(sock_t *k) {
    if (!k->assigned && !k->running[IN] && !k->running[OUT]) free(k);
}

static int watch_task(void *arg);

/* Start a watcher for each wanted direction that has none, cancel those no
 * longer wanted (the lock is held). */
static void update_watchers(sock_t *k) {
    for (int d = IN; d <= OUT; d++) {
        if (k->want[d] && !k->running[d]) {
            watcher_t *w = malloc(sizeof *w);
            if (!w) continue; /* the transfer's deadline will end it */
            *w = (watcher_t){k, d};
            k->running[d] = 1;
            if (weft_group_spawn(&k->c->drivers, watch_task, w) != 0) {
                k->running[d] = 0;
                free(w);
            }
        } else if (!k->want[d] && k->scope[d]) {
            weft_scope_cancel(k->scope[d]);
        }
    }
}

/* Wait for one direction of one socket, and tell libcurl, while it is
 * wanted. */
static int watch_task(void *arg) {
    watcher_t w = *(watcher_t *)arg;
    free(arg);
    sock_t *k = w.k;
    client_t *c = k->c;
    weft_scope_t sc, sh;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    lock_shielded(c, &sh);
    k->scope[w.dir] = &sc;
    unlock_shielded(c, &sh);
    for (;;) {
        int rc = w.dir == IN ? weft_wait_readable(k->fd) : weft_wait_writable(k->fd);
        if (rc == WEFT_EBUSY) { /* the watcher of a socket libcurl just dropped is leaving */
            if (weft_sleep(0.001) != 0) break;
            continue;
        }
        if (rc != 0 || weft_lock_acquire(c->lock) != 0) break; /* cancelled, or closed */
        int wanted = k->want[w.dir];
        if (wanted) socket_action(c, k->fd, w.dir == IN ? CURL_CSELECT_IN : CURL_CSELECT_OUT);
        weft_lock_release(c->lock);
        if (!wanted) break;
    }
    lock_shielded(c, &sh);
    k->scope[w.dir] = NULL;
    k->running[w.dir] = 0;
    update_watchers(k); /* wanted again meanwhile: a fresh watcher */
    free_if_unused(k);
    unlock_shielded(c, &sh);
    weft_scope_exit(&sc, WEFT_ECANCELED);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION (inside a multi call: the lock is held). */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *clientp, void *socketp) {
    client_t *c = clientp;
    sock_t *k = socketp;
    (void)easy;
    if (!k) {
        if (what == CURL_POLL_REMOVE || !(k = calloc(1, sizeof *k))) return 0;
        *k = (sock_t){.c = c, .fd = fd, .assigned = 1};
        curl_multi_assign(c->multi, fd, k);
    }
    k->want[IN] = what == CURL_POLL_IN || what == CURL_POLL_INOUT;
    k->want[OUT] = what == CURL_POLL_OUT || what == CURL_POLL_INOUT;
    update_watchers(k);
    if (what == CURL_POLL_REMOVE) {
        curl_multi_assign(c->multi, fd, NULL);
        k->assigned = 0;
        free_if_unused(k);
    }
    return 0;
}

/* CURLMOPT_TIMERFUNCTION (the lock is held): move the timer's deadline. */
static int on_timer(CURLM *multi, long timeout_ms, void *clientp) {
    client_t *c = clientp;
    (void)multi;
    c->timer_at = timeout_ms < 0 ? WEFT_FOREVER : weft_now() + (double)timeout_ms / 1000.0;
    if (c->timer_scope) weft_scope_set_deadline(c->timer_scope, c->timer_at);
    return 0;
}

/* Sleep until libcurl's deadline, tell it, again, until cancelled. */
static int timer_task(void *arg) {
    client_t *c = arg;
    for (;;) {
        weft_scope_t sc, sh;
        if (weft_lock_acquire(c->lock) != 0) return 0;
        weft_scope_enter(&sc, c->timer_at, 0);
        c->timer_scope = &sc;
        weft_lock_release(c->lock);
        int rc = weft_sleep(WEFT_FOREVER); /* ends at the deadline, or at shutdown */
        lock_shielded(c, &sh);
        c->timer_scope = NULL;
        unlock_shielded(c, &sh);
        if (weft_scope_exit(&sc, rc) != 0) return 0; /* the drivers were cancelled */
        if (weft_lock_acquire(c->lock) != 0) return 0;
        if (!c->stopping && weft_now() >= c->timer_at) {
            c->timer_at = WEFT_FOREVER;
            socket_action(c, CURL_SOCKET_TIMEOUT, 0);
        }
        weft_lock_release(c->lock);
    }
}

/* CURLOPT_OPENSOCKETFUNCTION / CURLOPT_CLOSESOCKETFUNCTION. */
static curl_socket_t on_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
    client_t *c = clientp;
    (void)purpose;
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    if (fd != CURL_SOCKET_BAD) atomic_fetch_add(&c->opened, 1);
    return fd;
}

static int on_close(void *clientp, curl_socket_t fd) {
    client_t *c = clientp;
    weft_notify_closing(fd); /* a watcher may still wait on it */
    atomic_fetch_add(&c->closed, 1);
    return close(fd);
}

static size_t on_body(char *data, size_t size, size_t n, void *userp) {
    transfer_t *x = userp;
    size_t len = size * n, room = sizeof x->body - 1 - x->len;
    memcpy(x->body + x->len, data, len < room ? len : room);
    x->len += len < room ? len : room;
    x->body[x->len] = '\0';
    return len;
}

static CURL *new_easy(transfer_t *x) {
    client_t *c = x->c;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/item/%d", c->ports[x->target], x->id);
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROXY, "");       /* loopback only, whatever the environment says */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
    return e;
}

/* Add the transfer, wait for it, remove it (also when cancelled). */
static int run_transfer(transfer_t *x) {
    client_t *c = x->c;
    CURL *e = new_easy(x);
    if (!e) return WEFT_ENOMEM;
    int rc = weft_lock_acquire(c->lock);
    if (rc == 0) {
        CURLMcode mc = curl_multi_add_handle(c->multi, e);
        weft_lock_release(c->lock);
        rc = mc == CURLM_OK ? weft_event_wait(x->done) : WEFT_ENOMEM;
        weft_scope_t sh;
        lock_shielded(c, &sh);
        curl_multi_remove_handle(c->multi, e); /* a transfer in flight closes its socket */
        unlock_shielded(c, &sh);
    }
    curl_easy_cleanup(e);
    return rc;
}

static void note_peak(client_t *c, int n) {
    int p = atomic_load(&c->peak);
    while (n > p && !atomic_compare_exchange_weak(&c->peak, &p, n)) {
    }
}

static int fetch_task(void *arg) {
    transfer_t *x = arg;
    client_t *c = x->c;
    if ((x->rc = weft_sem_acquire(c->slots)) != 0) return 0;
    note_peak(c, atomic_fetch_add(&c->in_flight, 1) + 1);
    weft_scope_t sc;
    weft_fail_after(&sc, c->timeout);
    x->rc = weft_scope_exit(&sc, run_transfer(x));
    atomic_fetch_sub(&c->in_flight, 1);
    weft_sem_release(c->slots);
    return 0; /* the outcome is data: one failure must not cancel the rest */
}

/* ---------------------------------------------------------------- main */

static int print_results(client_t *c, transfer_t *xs) {
    int ok = 0, timed_out = 0, refused = 0, other = 0, expected = 0;
    for (int i = 0; i < TRANSFERS; i++) {
        transfer_t *x = &xs[i];
        char want[48];
        snprintf(want, sizeof want, "item %d: %d", x->id, x->id * x->id);
        printf("#%-3d %-7s ", x->id, target_names[x->target]);
        if (x->rc == WEFT_ETIMEDOUT) {
            timed_out++;
            printf("timed out\n");
        } else if (x->rc) {
            other++;
            printf("failed: %s\n", weft_err_name(x->rc));
        } else if (x->result == CURLE_COULDNT_CONNECT) {
            refused++;
            printf("refused: %s\n", curl_easy_strerror(x->result));
        } else if (x->result == CURLE_OK && x->status == 200 && strcmp(x->body, want) == 0) {
            ok++;
            printf("ok: \"%s\"\n", x->body);
        } else {
            other++;
            printf("unexpected: %s, HTTP %ld, \"%s\"\n", curl_easy_strerror(x->result), x->status,
                   x->body);
        }
        expected += x->target == FAST    ? x->rc == 0 && x->result == CURLE_OK
                    : x->target == SLOW ? x->rc == WEFT_ETIMEDOUT
                                        : x->result == CURLE_COULDNT_CONNECT;
    }
    int opened = atomic_load(&c->opened), closed = atomic_load(&c->closed);
    printf("%d transfers: %d ok, %d timed out after %.1f s, %d refused, %d failed otherwise\n",
           TRANSFERS, ok, timed_out, c->timeout, refused, other);
    printf("peak %d in flight (limit %d)\n", atomic_load(&c->peak), CONCURRENCY);
    printf("sockets: %d opened by libcurl, %d closed after weft_notify_closing\n", opened, closed);
    int good = expected == TRANSFERS && opened == closed && atomic_load(&c->peak) <= CONCURRENCY;
    printf("curl_fetch: %s\n", good ? "every transfer ended as expected, every socket closed"
                                    : "SOMETHING WENT WRONG");
    return good ? 0 : 1;
}

static int start_server(weft_group_t *g, server_t *sv, weft_handler_t h, int *port) {
    int rc = weft_tcp_listen(&sv->l, "127.0.0.1", 0, NULL);
    if (rc) return rc;
    sv->handler = h;
    *port = weft_listener_port(sv->l);
    return weft_group_spawn(g, serve_task, sv);
}

static int run_client(client_t *c) {
    transfer_t *xs = calloc(TRANSFERS, sizeof *xs);
    if (!xs || weft_lock_new(&c->lock) || weft_sem_new(&c->slots, CONCURRENCY, 0)) return 1;
    c->multi = curl_multi_init();
    c->timer_at = WEFT_FOREVER;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    weft_group_t fetches;
    weft_group_open(&c->drivers);
    weft_group_spawn(&c->drivers, timer_task, c);
    weft_group_open(&fetches);
    for (int i = 0; i < TRANSFERS; i++) {
        xs[i] = (transfer_t){.c = c, .id = i + 1, .target = target_of(i + 1)};
        if (weft_event_new(&xs[i].done) == 0) weft_group_spawn(&fetches, fetch_task, &xs[i]);
    }
    weft_group_close(&fetches, 0);
    weft_scope_t sh;
    lock_shielded(c, &sh);
    c->stopping = 1;
    unlock_shielded(c, &sh);
    weft_group_cancel(&c->drivers);
    weft_group_close(&c->drivers, 0);
    curl_multi_cleanup(c->multi); /* connections it still caches are closed */
    int rc = print_results(c, xs);
    for (int i = 0; i < TRANSFERS; i++) weft_event_free(xs[i].done);
    free(xs);
    weft_sem_free(c->slots);
    weft_lock_free(c->lock);
    return rc;
}

static int main_task(void *arg) {
    client_t *c = arg;
    server_t fast = {0}, slow = {0};
    weft_group_t servers;
    weft_group_open(&servers);
    int rc = start_server(&servers, &fast, serve_fast, &c->ports[FAST]);
    if (rc == 0) rc = start_server(&servers, &slow, serve_slow, &c->ports[SLOW]);
    weft_listener_t *gone; /* a free port, closed again: connections are refused */
    if (rc == 0 && (rc = weft_tcp_listen(&gone, "127.0.0.1", 0, NULL)) == 0) {
        c->ports[REFUSED] = weft_listener_port(gone);
        weft_listener_close(gone);
    }
    if (rc == 0) {
        printf("curl_fetch: %d transfers through one curl multi handle, at most %d at a time, "
               "each under weft_fail_after(%.1f s)\n",
               TRANSFERS, CONCURRENCY, c->timeout);
        rc = run_client(c);
    } else {
        fprintf(stderr, "curl_fetch: cannot start the servers: %s\n", weft_strerror(rc));
        rc = 1;
    }
    weft_group_cancel(&servers);
    weft_group_close(&servers, 0);
    if (fast.l) weft_listener_close(fast.l);
    if (slow.l) weft_listener_close(slow.l);
    return rc;
}

int main(int argc, char **argv) {
    client_t c = {.timeout = 1.0};
    if (argc == 3 && strcmp(argv[1], "--timeout") == 0) c.timeout = atof(argv[2]);
    if ((argc != 1 && argc != 3) || !(c.timeout > 0)) {
        fprintf(stderr, "usage: %s [--timeout SECONDS]\n", argv[0]);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = weft_run(main_task, &c, NULL);
    curl_global_cleanup();
    return rc;
}
