/* Descriptors owned by someone else, and descriptors handed over to weft.
 *  - weft_wait_readable / weft_wait_writable on socketpairs and pipes: ready
 *    at once, ready later (a plain thread writes), nothing read or closed,
 *    the blocking mode left as it was;
 *  - one waiter per direction (WEFT_EBUSY), the other direction free; a
 *    descriptor another runtime watches (WEFT_EBUSY);
 *  - a cancelled wait leaves nothing registered: waited on again from
 *    another task on another worker;
 *  - a reader and a writer on two workers: one loop watches the descriptor
 *    (checked in each loop's epoll set through /proc/self/fdinfo);
 *  - weft_notify_closing wakes both directions with WEFT_EBADF, from a task
 *    and from a plain thread, and returns once no loop watches it;
 *  - hung up and in error: a closed peer, a pipe without reader, a refused
 *    connect;
 *  - bad descriptors, wrong contexts;
 *  - weft_stream_from_fd of socketpairs, pipes and TCP sockets,
 *    weft_listener_from_fd of TCP and Unix listening sockets, and what they
 *    refuse (closing the descriptor).
 *
 * White box: io/watch.h says which worker watches a descriptor, the
 * runtime's workers give their loops' epoll descriptors.
 */
/* WEFT_TEST_TIMEOUT 300 */
#define _GNU_SOURCE
#include "io_helpers.h"

#include "io/watch.h"
#include "sched/runtime.h"

#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ------------------------------------------------------------ tools */

static int is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static int is_nonblocking(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

/* Fill fd's send buffer until it would block (fd made non-blocking for
 * that, then put back): afterwards it is not writable. */
static void fill_up(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    static char junk[65536];
    while (write(fd, junk, sizeof junk) > 0) {
    }
    while (write(fd, junk, 1) > 0) {
    }
    fcntl(fd, F_SETFL, flags);
}

/* Read and drop everything readable on fd now. */
static void drain(int fd)
{
    char buf[65536];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN) && read(fd, buf, sizeof buf) > 0) {
    }
}

/* How many of the runtime's loops have fd in their epoll set. */
static int loops_watching(int fd)
{
    wf_runtime_t *rt = wf_current_worker()->rt;
    int n = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", uv_backend_fd(&rt->workers[i].loop));
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int tfd, found = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd)
                found = 1;
        fclose(f);
        n += found;
    }
    return n;
}

static unsigned workers(void) { return wf_current_worker()->rt->nworkers; }

/* Continue the running task on worker i (white box). */
static void go_to_worker(unsigned i)
{
    wf_task_move_to(wf_current_task(), &wf_current_worker()->rt->workers[i]);
}

/* A plain thread that writes a byte to fd after `delay` seconds. */
typedef struct later {
    int fd;
    double delay;
    pthread_t th;
} later_t;

static void *write_later(void *arg)
{
    later_t *l = arg;
    usleep((useconds_t)(l->delay * 1e6));
    EXPECT(write(l->fd, "x", 1) == 1);
    return NULL;
}

static void start_write_later(later_t *l, int fd, double delay)
{
    l->fd = fd;
    l->delay = delay;
    EXPECT(pthread_create(&l->th, NULL, write_later, l) == 0);
}

/* ------------------------------------------------------------ waiting */

/* A socketpair: writable at once; readable once the peer wrote, the byte
 * still there for its owner; blocking mode and descriptor untouched. */
static int socketpair_waits(void *arg)
{
    (void)arg;
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    EXPECT_RC(weft_wait_writable(sv[0]), 0);
    later_t l;
    start_write_later(&l, sv[1], 0.05);
    EXPECT_RC(weft_wait_readable(sv[0]), 0);
    pthread_join(l.th, NULL);
    EXPECT(!is_nonblocking(sv[0]));
    EXPECT(wf_watch_owner(sv[0]) == -1);
    EXPECT(loops_watching(sv[0]) == 0);
    char c = 0;
    EXPECT(read(sv[0], &c, 1) == 1 && c == 'x');
    /* A non-blocking descriptor stays non-blocking. */
    fcntl(sv[1], F_SETFL, O_NONBLOCK | fcntl(sv[1], F_GETFL));
    start_write_later(&l, sv[0], 0.02);
    EXPECT_RC(weft_wait_readable(sv[1]), 0);
    pthread_join(l.th, NULL);
    EXPECT(is_nonblocking(sv[1]));
    EXPECT(close(sv[0]) == 0 && close(sv[1]) == 0);
    return 0;
}

static int pipe_waits(void *arg)
{
    (void)arg;
    int p[2];
    EXPECT(pipe2(p, O_CLOEXEC) == 0);
    EXPECT_RC(weft_wait_writable(p[1]), 0);
    later_t l;
    start_write_later(&l, p[1], 0.05);
    EXPECT_RC(weft_wait_readable(p[0]), 0);
    pthread_join(l.th, NULL);
    EXPECT(!is_nonblocking(p[0]));
    /* A full pipe is not writable until someone reads. */
    fill_up(p[1]);
    weft_scope_t sc;
    weft_move_on_after(&sc, 0.05);
    EXPECT_RC(weft_wait_writable(p[1]), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    drain(p[0]);
    EXPECT_RC(weft_wait_writable(p[1]), 0);
    EXPECT(is_open(p[0]) && is_open(p[1]));
    close(p[0]);
    close(p[1]);
    return 0;
}

/* ------------------------------------------------------------ EBUSY, cancellation */

typedef struct waiter {
    int fd;
    int dir;              /* 0 readable, 1 writable */
    int on_worker;        /* -1: wherever it runs */
    weft_scope_t *scope;  /* set while it waits in its own scope */
    atomic_int in;        /* about to wait */
    int rc;
    atomic_int done;
} waiter_t;

static int wait_task(void *arg)
{
    waiter_t *w = arg;
    if (w->on_worker >= 0)
        go_to_worker((unsigned)w->on_worker);
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    w->scope = &sc;
    atomic_store(&w->in, 1);
    w->rc = w->dir ? weft_wait_writable(w->fd) : weft_wait_readable(w->fd);
    atomic_store(&w->done, 1);
    weft_scope_exit(&sc, w->rc);
    return 0;
}

/* Wait (sleeping) until w is registered on its descriptor. */
static void until_waiting(waiter_t *w)
{
    EXPECT(wt_wait_flag(&w->in, 1, 10.0));
    WAIT_FOR(wf_watch_owner(w->fd) >= 0 && loops_watching(w->fd) == 1);
}

static int busy_direction(void *arg)
{
    (void)arg;
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    weft_group_t g;
    waiter_t a = {.fd = sv[0], .dir = 0, .on_worker = -1};
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, wait_task, &a), 0);
    until_waiting(&a);
    EXPECT_RC(weft_wait_readable(sv[0]), WEFT_EBUSY);
    EXPECT_RC(weft_wait_writable(sv[0]), 0); /* the other direction is free */
    EXPECT(!atomic_load(&a.done));
    EXPECT(write(sv[1], "y", 1) == 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(a.rc, 0);
    EXPECT(wf_watch_owner(sv[0]) == -1);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

/* Cancelled: nothing stays registered, and another task on another worker
 * waits on the descriptor (in both directions) again at once. */
static int cancelled_then_elsewhere(void *arg)
{
    (void)arg;
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    fill_up(sv[0]); /* neither readable nor writable */
    weft_group_t g;
    for (unsigned round = 0; round < 2 * workers(); round++) {
        waiter_t a = {.fd = sv[0], .dir = (int)(round & 1), .on_worker = (int)(round % workers())};
        EXPECT_RC(weft_group_open(&g), 0);
        EXPECT_RC(weft_group_spawn(&g, wait_task, &a), 0);
        until_waiting(&a);
        EXPECT(wf_watch_owner(sv[0]) == a.on_worker);
        weft_scope_cancel(a.scope);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT_RC(a.rc, WEFT_ECANCELED);
        EXPECT(wf_watch_owner(sv[0]) == -1);
        EXPECT(loops_watching(sv[0]) == 0);
    }
    /* Level: cancelled before waiting, also on a ready descriptor. */
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_wait_writable(sv[1]), WEFT_ECANCELED);
    EXPECT_RC(weft_wait_readable(sv[1]), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

/* A reader on the last worker and a writer on the first, on one
 * descriptor: one loop watches it; both wake when their side is ready. */
static int reader_and_writer_apart(void *arg)
{
    (void)arg;
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    fill_up(sv[0]);
    weft_group_t g;
    waiter_t r = {.fd = sv[0], .dir = 0, .on_worker = (int)workers() - 1};
    waiter_t w = {.fd = sv[0], .dir = 1, .on_worker = 0};
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, wait_task, &r), 0);
    until_waiting(&r);
    EXPECT_RC(weft_group_spawn(&g, wait_task, &w), 0);
    EXPECT(wt_wait_flag(&w.in, 1, 10.0));
    weft_sleep(0.02 * WT_SLACK); /* the writer joined the reader's watch */
    EXPECT(wf_watch_owner(sv[0]) == r.on_worker);
    EXPECT(loops_watching(sv[0]) == 1);
    EXPECT(!atomic_load(&r.done) && !atomic_load(&w.done));
    EXPECT(write(sv[1], "z", 1) == 1);
    EXPECT(wt_wait_flag(&r.done, 1, 10.0));
    WAIT_FOR(loops_watching(sv[0]) == 1); /* still watched, for the writer */
    drain(sv[1]);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(r.rc, 0);
    EXPECT_RC(w.rc, 0);
    EXPECT(wf_watch_owner(sv[0]) == -1);
    EXPECT(loops_watching(sv[0]) == 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

/* A descriptor watched by one runtime is WEFT_EBUSY to another's tasks
 * (its loop is not theirs), in either direction, until the wait ends. */
typedef struct other {
    int fd;
    int read_rc, write_rc;
} other_t;

static int other_runtime_main(void *arg)
{
    other_t *o = arg;
    o->read_rc = weft_wait_readable(o->fd);
    o->write_rc = weft_wait_writable(o->fd);
    return 0;
}

static void *other_runtime_thread(void *arg)
{
    weft_config_t cfg;
    weft_config_init(&cfg);
    cfg.workers = 1;
    EXPECT_RC(weft_run(other_runtime_main, arg, &cfg), 0);
    return NULL;
}

static int other_runtime_busy(void *arg)
{
    (void)arg;
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    fill_up(sv[0]);
    weft_group_t g;
    waiter_t a = {.fd = sv[0], .dir = 0, .on_worker = -1};
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, wait_task, &a), 0);
    until_waiting(&a);
    other_t o = {.fd = sv[0]};
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, other_runtime_thread, &o) == 0);
    pthread_join(th, NULL);
    EXPECT_RC(o.read_rc, WEFT_EBUSY);
    EXPECT_RC(o.write_rc, WEFT_EBUSY);
    EXPECT(write(sv[1], "y", 1) == 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(a.rc, 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

/* ------------------------------------------------------------ notify_closing */

/* A waiter in each direction on fd (full both ways), from two workers. */
static void two_waiters(weft_group_t *g, waiter_t *r, waiter_t *w, int fd)
{
    *r = (waiter_t){.fd = fd, .dir = 0, .on_worker = 0};
    *w = (waiter_t){.fd = fd, .dir = 1, .on_worker = (int)workers() - 1};
    EXPECT_RC(weft_group_open(g), 0);
    EXPECT_RC(weft_group_spawn(g, wait_task, r), 0);
    until_waiting(r);
    EXPECT_RC(weft_group_spawn(g, wait_task, w), 0);
    EXPECT(wt_wait_flag(&w->in, 1, 10.0));
    weft_sleep(0.02 * WT_SLACK);
}

/* Holds worker 0 (the watching one) for a moment without a checkpoint,
 * after starting `then` (if set) on a thread: the waiters that a notify
 * wakes cannot let go of the descriptor before it ends. */
typedef struct hog {
    atomic_int holding;
    void *(*then)(void *);
    void *arg;
    pthread_t th;
} hog_t;

static int hog_task(void *arg)
{
    hog_t *h = arg;
    go_to_worker(0);
    atomic_store(&h->holding, 1);
    if (h->then)
        EXPECT(pthread_create(&h->th, NULL, h->then, h->arg) == 0);
    double end = weft_now() + 0.1 * WT_SLACK;
    while (weft_now() < end) {
    }
    return 0;
}

/* From a task on the watching worker (which closes the handle itself),
 * then from one on another worker (which waits until a woken waiter did,
 * held up by a task on the watching worker meanwhile). */
static int notify_from_task(void *arg)
{
    (void)arg;
    for (unsigned where = 0; where < (workers() > 1 ? 2u : 1u); where++) {
        int sv[2];
        EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        fill_up(sv[0]);
        weft_group_t g;
        waiter_t r, w;
        hog_t h = {0};
        two_waiters(&g, &r, &w, sv[0]);
        go_to_worker(where ? workers() - 1 : 0);
        if (where) {
            EXPECT_RC(weft_group_spawn(&g, hog_task, &h), 0);
            EXPECT(wt_wait_flag(&h.holding, 1, 10.0));
        }
        weft_notify_closing(sv[0]);
        EXPECT(wf_watch_owner(sv[0]) == -1); /* no loop watches it any more */
        EXPECT(loops_watching(sv[0]) == 0);
        EXPECT(close(sv[0]) == 0);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT_RC(r.rc, WEFT_EBADF);
        EXPECT_RC(w.rc, WEFT_EBADF);
        weft_notify_closing(sv[1]); /* nobody waits: nothing to do */
        close(sv[1]);
    }
    return 0;
}

typedef struct notifier {
    int fd;
    atomic_int done;
    int watched_after;
} notifier_t;

static void *notify_thread(void *arg)
{
    notifier_t *n = arg;
    weft_notify_closing(n->fd);
    n->watched_after = wf_watch_owner(n->fd);
    close(n->fd);
    atomic_store(&n->done, 1);
    return NULL;
}

static int notify_from_thread(void *arg)
{
    (void)arg;
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    fill_up(sv[0]);
    weft_group_t g;
    waiter_t r, w;
    two_waiters(&g, &r, &w, sv[0]);
    notifier_t n = {.fd = sv[0]};
    hog_t h = {.then = notify_thread, .arg = &n};
    EXPECT_RC(weft_group_spawn(&g, hog_task, &h), 0);
    EXPECT(wt_wait_flag(&n.done, 1, 10.0));
    pthread_join(h.th, NULL);
    EXPECT(n.watched_after == -1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(r.rc, WEFT_EBADF);
    EXPECT_RC(w.rc, WEFT_EBADF);
    close(sv[1]);
    return 0;
}

/* ------------------------------------------------------------ hung up, in error */

static int hung_up_and_errors(void *arg)
{
    (void)arg;
    /* The peer closed: readable (EOF) and writable (the error). */
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    close(sv[1]);
    EXPECT_RC(weft_wait_readable(sv[0]), 0);
    EXPECT_RC(weft_wait_writable(sv[0]), 0);
    close(sv[0]);

    /* A pipe whose reader went away while the writer waited. */
    int p[2];
    EXPECT(pipe2(p, O_CLOEXEC) == 0);
    fill_up(p[1]);
    weft_group_t g;
    waiter_t w = {.fd = p[1], .dir = 1, .on_worker = -1};
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, wait_task, &w), 0);
    until_waiting(&w);
    close(p[0]);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(w.rc, 0);
    close(p[1]);

    /* A connect to a port where nothing listens: writable, SO_ERROR says why. */
    weft_listener_t *lis;
    EXPECT_RC(weft_tcp_listen(&lis, "127.0.0.1", 0, NULL), 0);
    int port = weft_listener_port(lis);
    EXPECT_RC(weft_listener_close(lis), 0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0 || errno == EINPROGRESS ||
           errno == ECONNREFUSED);
    EXPECT_RC(weft_wait_writable(fd), 0);
    int err = 0;
    socklen_t len = sizeof err;
    EXPECT(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
    EXPECT(err == ECONNREFUSED || err == 0); /* 0: connect already said so */
    close(fd);
    return 0;
}

static int bad_descriptors(void *arg)
{
    (void)arg;
    EXPECT_RC(weft_wait_readable(-1), WEFT_EBADF);
    EXPECT_RC(weft_wait_writable(-5), WEFT_EBADF);
    int p[2];
    EXPECT(pipe2(p, O_CLOEXEC) == 0);
    close(p[0]);
    close(p[1]);
    EXPECT_RC(weft_wait_readable(p[0]), WEFT_EBADF); /* closed: no descriptor */
    /* A regular file is always ready, as poll(2) has it. */
    char path[] = "/tmp/weft-fd-test-XXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0);
    unlink(path);
    EXPECT_RC(weft_wait_readable(fd), 0);
    EXPECT_RC(weft_wait_writable(fd), 0);
    close(fd);
    weft_notify_closing(-1);
    return 0;
}

static void outside_a_task(void)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_rc(weft_wait_readable(sv[0]), WEFT_EPERM);
    assert_rc(weft_wait_writable(sv[0]), WEFT_EPERM);
    weft_notify_closing(sv[0]); /* nothing waits: returns */
    weft_stream_t *s;
    weft_listener_t *l;
    assert_rc(weft_stream_from_fd(&s, sv[0]), WEFT_EPERM);
    assert_false(is_open(sv[0])); /* taken, closed */
    assert_rc(weft_listener_from_fd(&l, sv[1]), WEFT_EPERM);
    assert_false(is_open(sv[1]));
    assert_string_equal(weft_err_name(WEFT_EBUSY), "WEFT_EBUSY");
    assert_int_equal(WEFT_EBUSY, -EBUSY);
}

/* ------------------------------------------------------------ adoption */

static int adopt_socketpair(void *arg)
{
    (void)arg;
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    weft_stream_t *a, *b;
    EXPECT_RC(weft_stream_from_fd(&a, sv[0]), 0);
    EXPECT_RC(weft_stream_from_fd(&b, sv[1]), 0);
    EXPECT(is_nonblocking(sv[0]));
    EXPECT(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
    EXPECT_RC(weft_stream_send(a, "GET /\r\nhost: x\r\n\r\nbody", 23), 0);
    char buf[32] = {0};
    EXPECT_RC(weft_stream_receive_until(b, buf, sizeof buf, "\r\n", 2), 5);
    EXPECT_STR(buf, "GET /");
    EXPECT_RC(weft_stream_receive_until(b, buf, sizeof buf, "\r\n\r\n", 4), 7);
    EXPECT_RC(weft_stream_send_eof(a), 0);
    EXPECT_RC(weft_stream_receive_exactly(b, buf, 8), WEFT_EINCOMPLETE);
    EXPECT_RC(weft_stream_receive_exactly(b, buf, 4), 4);
    EXPECT(memcmp(buf, "body", 4) == 0);
    /* Both directions: b answers. */
    EXPECT_RC(weft_stream_send(b, "ok", 2), 0);
    EXPECT_RC(weft_stream_receive_exactly(a, buf, 2), 2);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    EXPECT_RC(weft_stream_remote_address(a, (struct sockaddr *)&ss, &len), 0);
    EXPECT(ss.ss_family == AF_UNIX);
    EXPECT_RC(weft_stream_close(a), 0);
    EXPECT_RC(weft_stream_close(b), 0);
    return 0;
}

static int adopt_pipe(void *arg)
{
    (void)arg;
    int p[2];
    EXPECT(pipe(p) == 0); /* blocking, inheritable: weft changes both */
    weft_stream_t *r, *w;
    EXPECT_RC(weft_stream_from_fd(&r, p[0]), 0);
    EXPECT_RC(weft_stream_from_fd(&w, p[1]), 0);
    EXPECT(is_nonblocking(p[0]) && (fcntl(p[1], F_GETFD) & FD_CLOEXEC));
    EXPECT_RC(weft_stream_send(w, "line one\nline two\n", 18), 0);
    char buf[16] = {0};
    EXPECT_RC(weft_stream_receive_until(r, buf, sizeof buf, "\n", 1), 8);
    EXPECT_STR(buf, "line one");
    EXPECT_RC(weft_stream_close(w), 0); /* the reader sees the end */
    EXPECT_RC(weft_stream_receive_until(r, buf, sizeof buf, "\n", 1), 8);
    EXPECT_RC(weft_stream_receive_until(r, buf, sizeof buf, "\n", 1), WEFT_EOF);
    EXPECT_RC(weft_stream_close(r), 0);
    return 0;
}

/* A TCP connection made with plain sockets, adopted on the accepting side
 * by a weft listener built from a hand-made listening socket. */
static int adopt_tcp_listener_and_stream(void *arg)
{
    (void)arg;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* blocking, as systemd's */
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT(bind(lfd, (struct sockaddr *)&sin, sizeof sin) == 0 && listen(lfd, 8) == 0);
    socklen_t slen = sizeof sin;
    EXPECT(getsockname(lfd, (struct sockaddr *)&sin, &slen) == 0);
    weft_listener_t *l;
    EXPECT_RC(weft_listener_from_fd(&l, lfd), 0);
    EXPECT(weft_listener_port(l) == ntohs(sin.sin_port));
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT(connect(c, (struct sockaddr *)&sin, sizeof sin) == 0);
    weft_stream_t *server, *client;
    EXPECT_RC(weft_listener_accept(l, &server), 0);
    EXPECT_RC(weft_stream_from_fd(&client, c), 0);
    EXPECT_RC(weft_stream_set_nodelay(client, 1), 0); /* a TCP stream */
    EXPECT_RC(weft_stream_send(client, "12345678", 8), 0);
    char buf[8];
    EXPECT_RC(weft_stream_receive_exactly(server, buf, 8), 8);
    EXPECT(memcmp(buf, "12345678", 8) == 0);
    EXPECT_RC(weft_stream_close(client), 0);
    EXPECT_RC(weft_stream_close(server), 0);
    EXPECT_RC(weft_listener_close(l), 0);
    return 0;
}

static int adopt_unix_listener(void *arg)
{
    (void)arg;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "/tmp/weft-fd-test-%d.sock", (int)getpid());
    unlink(sun.sun_path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT(bind(lfd, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(lfd, 8) == 0);
    weft_listener_t *l;
    EXPECT_RC(weft_listener_from_fd(&l, lfd), 0);
    weft_stream_t *client, *server;
    EXPECT_RC(weft_unix_connect(&client, sun.sun_path), 0);
    EXPECT_RC(weft_listener_accept(l, &server), 0);
    EXPECT_RC(weft_stream_send(client, "a;b;", 4), 0);
    char buf[4];
    EXPECT_RC(weft_stream_receive_until(server, buf, sizeof buf, ";", 1), 1);
    EXPECT_RC(weft_stream_receive_until(server, buf, sizeof buf, ";", 1), 1);
    EXPECT(buf[0] == 'b');
    EXPECT_RC(weft_stream_close(client), 0);
    EXPECT_RC(weft_stream_close(server), 0);
    EXPECT_RC(weft_listener_close(l), 0);
    unlink(sun.sun_path);
    return 0;
}

/* What adoption refuses, closing the descriptor every time. */
static int adopt_refused(void *arg)
{
    (void)arg;
    weft_stream_t *s;
    weft_listener_t *l;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT(bind(lfd, (struct sockaddr *)&sin, sizeof sin) == 0 && listen(lfd, 8) == 0);
    EXPECT_RC(weft_stream_from_fd(&s, lfd), WEFT_EINVAL); /* listening */
    EXPECT(!is_open(lfd));

    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_RC(weft_stream_from_fd(&s, udp), WEFT_EINVAL);
    EXPECT(!is_open(udp));

    int fresh = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* never connected */
    EXPECT_RC(weft_stream_from_fd(&s, fresh), -ENOTCONN);
    EXPECT(!is_open(fresh));

    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    EXPECT_RC(weft_listener_from_fd(&l, sv[0]), WEFT_EINVAL); /* not listening */
    EXPECT(!is_open(sv[0]));
    EXPECT_RC(weft_stream_from_fd(NULL, sv[1]), WEFT_EINVAL);
    EXPECT(!is_open(sv[1]));

    int file = open("/dev/null", O_RDONLY | O_CLOEXEC);
    EXPECT_RC(weft_stream_from_fd(&s, file), WEFT_EINVAL);
    EXPECT(!is_open(file));

    EXPECT_RC(weft_stream_from_fd(&s, -1), WEFT_EBADF);
    EXPECT_RC(weft_listener_from_fd(&l, -1), WEFT_EBADF);
    int p[2];
    EXPECT(pipe2(p, O_CLOEXEC) == 0);
    close(p[0]);
    close(p[1]);
    EXPECT_RC(weft_stream_from_fd(&s, p[0]), WEFT_EBADF);
    return 0;
}

/* ------------------------------------------------------------ the table */

static const wt_case_t cases[] = {
    WT_CASE(socketpair_waits),
    WT_CASE(pipe_waits),
    WT_CASE(busy_direction),
    WT_CASE_ON(cancelled_then_elsewhere, WT_W1 | WT_W2 | WT_W4),
    WT_CASE_ON(reader_and_writer_apart, WT_W1 | WT_W2 | WT_W4),
    WT_CASE(other_runtime_busy),
    WT_CASE_ON(notify_from_task, WT_W1 | WT_W2 | WT_W4),
    WT_CASE_ON(notify_from_thread, WT_W1 | WT_W2 | WT_W4),
    WT_CASE(hung_up_and_errors),
    WT_CASE(bad_descriptors),
    WT_TEST(outside_a_task),
    WT_CASE(adopt_socketpair),
    WT_CASE(adopt_pipe),
    WT_CASE(adopt_tcp_listener_and_stream),
    WT_CASE(adopt_unix_listener),
    WT_CASE(adopt_refused),
};
WT_SUITE(cases)
