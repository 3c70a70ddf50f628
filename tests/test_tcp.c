/* Stream I/O on real sockets: TCP over loopback and Unix-domain sockets.
 *  - echo round trips, 8 MiB both ways at once, half-close, 100 clients
 *    against weft_serve on 2 workers, listening on every interface;
 *  - addresses and TCP options (checked with getsockopt);
 *  - connecting: numeric hosts without the resolver, "localhost", refused
 *    ports, Happy Eyeballs through a fake resolver (a closed first address,
 *    a stalled first address, every address failing, names that do not
 *    resolve, an outer deadline);
 *  - cancellation: deadlines and cancel scopes around accept, receive, send
 *    (64 MiB to a peer that never reads) and connect; a cancelled receive
 *    loses no data; a cancelled send leaves the stream usable;
 *  - close while another task is blocked in receive / send / accept
 *    (WEFT_EBADF); -EBUSY for a second receive / send / accept; one stream
 *    used by many tasks from every worker;
 *  - EMFILE on accept in a child process with a small RLIMIT_NOFILE: the
 *    listener does not spin and takes the connection once descriptors free;
 *  - Unix sockets: echo, serve, addresses, EADDRINUSE, ENOENT, long paths;
 *  - weft_serve: cancelled through a cancel scope (returns WEFT_ECANCELED
 *    after its handlers, which saw the cancellation, ended), its listener
 *    closed under it, a handler's error ending only its own connection;
 *  - wrong contexts (WEFT_EPERM) and NULL arguments (WEFT_EINVAL).
 *
 * White box: stream.h gives the stream's owner worker and its descriptor.
 * The fake resolver interposes getaddrinfo / freeaddrinfo for host names
 * ending in FAKE_SUFFIX only; every other name goes to the real functions.
 */
/* WEFT_TEST_TIMEOUT 300 */
#define _GNU_SOURCE
#include "thread_helpers.h"
#include "io_helpers.h"

#include "io/place.h"
#include "io/stream.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

/* ------------------------------------------------------------ small tools */

static double wt_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int stream_fd(weft_stream_t *s)
{
    uv_os_fd_t fd = -1;
    if (uv_fileno(&s->h.handle, &fd) != 0)
        return -1;
    return fd;
}

static unsigned stream_owner(weft_stream_t *s)
{
    return s->life.owner->index;
}

static unsigned my_worker(void)
{
    return wf_current_worker()->index;
}

/* Connect to 127.0.0.1:port with a plain socket (loopback: completes at
 * once, or lands in the backlog).  nonblock: do not wait for it at all. */
static int plain_connect(int port, int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 && errno != EINPROGRESS) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* A port on 127.0.0.1 that refuses connections (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sin.sin_port);
}

/* A listener on 127.0.0.1 whose accept queue is full and that never
 * accepts: the kernel drops further SYNs, so a connection to it stays
 * pending (the client would retry after 1 s, 3 s, ...). */
typedef struct {
    int lfd, port;
    int fill[2];
} stall_t;

static int stall_open(stall_t *st)
{
    memset(st, 0, sizeof *st);
    st->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (st->lfd < 0 || bind(st->lfd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        listen(st->lfd, 0) != 0 || getsockname(st->lfd, (struct sockaddr *)&sin, &len) != 0)
        return -1;
    st->port = ntohs(sin.sin_port);
    for (int i = 0; i < 2; i++)
        st->fill[i] = plain_connect(st->port, 1);
    weft_sleep(0.02); /* let the fillers reach the queue */
    return 0;
}

static void stall_close(stall_t *st)
{
    for (int i = 0; i < 2; i++)
        if (st->fill[i] >= 0)
            close(st->fill[i]);
    if (st->lfd >= 0)
        close(st->lfd);
}

/* 1 when this host can listen on ::1. */
static int have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int ok = bind(fd, (struct sockaddr *)&s6, sizeof s6) == 0;
    close(fd);
    return ok;
}

/* Accept one connection and echo it (wt_echo_handler), then close it. */
static int accept_echo_once(void *p)
{
    weft_listener_t *l = p;
    weft_stream_t *s = NULL;
    EXPECT_RC(weft_listener_accept(l, &s), 0);
    if (!s)
        return 0;
    EXPECT_RC(wt_echo_handler(s, NULL), 0);
    EXPECT_RC(weft_stream_close(s), 0);
    return 0;
}

/* A connected pair over 127.0.0.1: *c the client's end, *a the server's. */
#define WT_PAIR(l, c, a) wt_pair_at(__FILE__, __LINE__, (l), (c), (a))

typedef struct {
    weft_listener_t *l;
    weft_stream_t *s;
    int rc;
} acc_t;

static int accept_task(void *p)
{
    acc_t *a = p;
    a->rc = weft_listener_accept(a->l, &a->s);
    return 0;
}

static int wt_pair_at(const char *file, int line, weft_listener_t **l, weft_stream_t **c,
                      weft_stream_t **a)
{
    *c = *a = NULL;
    int rc = weft_tcp_listen(l, "127.0.0.1", 0, NULL);
    if (rc) {
        wt_failf(file, line, "weft_tcp_listen = %d (%s)", rc, weft_err_name(rc));
        return rc;
    }
    acc_t acc = {.l = *l};
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, accept_task, &acc);
    rc = weft_tcp_connect(c, "127.0.0.1", weft_listener_port(*l));
    if (rc) {
        wt_failf(file, line, "weft_tcp_connect = %d (%s)", rc, weft_err_name(rc));
        weft_group_cancel(&g);
    }
    weft_group_close(&g, 0);
    if (rc == 0 && acc.rc != 0) {
        wt_failf(file, line, "weft_listener_accept = %d (%s)", acc.rc, weft_err_name(acc.rc));
        rc = acc.rc;
    }
    *a = acc.s;
    return rc;
}

static void pair_close(weft_listener_t *l, weft_stream_t *c, weft_stream_t *a)
{
    if (c)
        EXPECT_RC(weft_stream_close(c), 0);
    if (a)
        EXPECT_RC(weft_stream_close(a), 0);
    if (l)
        EXPECT_RC(weft_listener_close(l), 0);
}

/* ------------------------------------------------------------ fake resolver */

/* Host names ending in FAKE_SUFFIX resolve to fake_addrs (in that order),
 * or fail with fake_error; every other name goes to the real getaddrinfo.
 * Results are marked by ai_canonname == fake_mark, so that freeaddrinfo
 * knows its own. */
#define FAKE_SUFFIX ".weft-test.invalid"
#define FAKE_MAX 8

typedef struct {
    int family; /* AF_INET or AF_INET6 */
    const char *addr;
    int port;
} fake_addr_t;

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static fake_addr_t fake_addrs[FAKE_MAX];
static int n_fake, fake_error;
static atomic_int fake_lookups;
static atomic_int real_lookups; /* names the fake resolver passed on */
static char fake_mark[] = "weft-fake";

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef void (*fai_fn)(struct addrinfo *);
static gai_fn real_gai;
static fai_fn real_fai;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void find_real(void)
{
    real_gai = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    real_fai = (fai_fn)dlsym(RTLD_NEXT, "freeaddrinfo");
}

static void fake_set(const fake_addr_t *a, int n, int error)
{
    pthread_mutex_lock(&fake_lock);
    if (n > 0)
        memcpy(fake_addrs, a, sizeof *a * (size_t)n);
    n_fake = n;
    fake_error = error;
    pthread_mutex_unlock(&fake_lock);
}

typedef struct {
    struct addrinfo ai;
    struct sockaddr_storage ss;
} fake_ai_t;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    pthread_once(&real_once, find_real);
    size_t nl = node ? strlen(node) : 0, sl = strlen(FAKE_SUFFIX);
    if (nl < sl || strcmp(node + nl - sl, FAKE_SUFFIX) != 0) {
        atomic_fetch_add(&real_lookups, 1);
        return real_gai(node, service, hints, res);
    }
    atomic_fetch_add(&fake_lookups, 1);
    pthread_mutex_lock(&fake_lock);
    int n = n_fake, err = fake_error;
    fake_addr_t a[FAKE_MAX];
    memcpy(a, fake_addrs, sizeof a);
    pthread_mutex_unlock(&fake_lock);
    if (err)
        return err;
    struct addrinfo *head = NULL, **tail = &head;
    for (int i = 0; i < n; i++) {
        fake_ai_t *f = calloc(1, sizeof *f);
        if (!f) {
            freeaddrinfo(head);
            return EAI_MEMORY;
        }
        f->ai.ai_family = a[i].family;
        f->ai.ai_socktype = SOCK_STREAM;
        f->ai.ai_protocol = IPPROTO_TCP;
        f->ai.ai_addr = (struct sockaddr *)&f->ss;
        f->ai.ai_canonname = fake_mark;
        if (a[i].family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&f->ss;
            s4->sin_family = AF_INET;
            s4->sin_port = htons((uint16_t)a[i].port);
            inet_pton(AF_INET, a[i].addr, &s4->sin_addr);
            f->ai.ai_addrlen = sizeof *s4;
        } else {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&f->ss;
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons((uint16_t)a[i].port);
            inet_pton(AF_INET6, a[i].addr, &s6->sin6_addr);
            f->ai.ai_addrlen = sizeof *s6;
        }
        *tail = &f->ai;
        tail = &f->ai.ai_next;
    }
    *res = head;
    return head ? 0 : EAI_NONAME;
}

void freeaddrinfo(struct addrinfo *res)
{
    pthread_once(&real_once, find_real);
    if (res && res->ai_canonname == fake_mark) {
        while (res) {
            struct addrinfo *next = res->ai_next;
            free(res); /* the addrinfo is the first member of its fake_ai_t */
            res = next;
        }
        return;
    }
    real_fai(res);
}

/* ------------------------------------------------------------ echo */

static int echo(void *p)
{
    (void)p;
    weft_listener_t *l;
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    int port = weft_listener_port(l);
    EXPECT(port > 0 && port <= 65535);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, accept_echo_once, l);
    weft_stream_t *c = NULL;
    EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", port), 0);
    if (c) {
        static const size_t sizes[] = {1, 5, 1000, 65536, 100000, 3};
        char *out = malloc(100000), *in = malloc(100000);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            wt_pat_fill(out, sizes[i], i, 0);
            memset(in, 0, sizes[i]);
            EXPECT_RC(weft_stream_send(c, out, sizes[i]), 0);
            EXPECT_RC(wt_recv_exact(c, in, sizes[i]), (int)sizes[i]);
            EXPECT(memcmp(in, out, sizes[i]) == 0);
        }
        EXPECT_RC(weft_stream_send(c, NULL, 0), 0); /* nothing: fine */
        EXPECT_RC(weft_stream_send_eof(c), 0);
        char b[4];
        EXPECT_RC(weft_stream_receive(c, b, sizeof b), WEFT_EOF);
        EXPECT_RC(weft_stream_receive(c, b, sizeof b), WEFT_EOF); /* and stays there */
        EXPECT_RC(weft_stream_close(c), 0);
        free(out);
        free(in);
    } else {
        weft_group_cancel(&g);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_listener_close(l), 0);
    return 0;
}


/* ------------------------------------------------------------ large transfer */

#define XFER_BYTES (8u << 20)

typedef struct {
    weft_stream_t *s;
    uint64_t seed;
    int one_call; /* one send of everything, else random chunks */
    uint64_t rng;
    long total;
} xfer_t;

static int xfer_send(void *p)
{
    xfer_t *x = p;
    if (x->one_call) {
        char *buf = malloc(XFER_BYTES);
        wt_pat_fill(buf, XFER_BYTES, x->seed, 0);
        EXPECT_RC(weft_stream_send(x->s, buf, XFER_BYTES), 0);
        free(buf);
    } else {
        char *buf = malloc(256 * 1024);
        size_t off = 0;
        while (off < XFER_BYTES) {
            size_t n = 1 + wt_rand(&x->rng) % (256 * 1024);
            if (wt_rand(&x->rng) % 4 == 0)
                n = 1 + n % 64; /* small ones too */
            if (n > XFER_BYTES - off)
                n = XFER_BYTES - off;
            wt_pat_fill(buf, n, x->seed, off);
            int rc = weft_stream_send(x->s, buf, n);
            EXPECT_RC(rc, 0);
            if (rc)
                break;
            off += n;
        }
        free(buf);
    }
    EXPECT_RC(weft_stream_send_eof(x->s), 0);
    return 0;
}

static int xfer_recv(void *p)
{
    xfer_t *x = p;
    char *buf = malloc(128 * 1024);
    long total = 0;
    for (;;) {
        size_t want = 1 + wt_rand(&x->rng) % (128 * 1024);
        int n = weft_stream_receive(x->s, buf, want);
        if (n == WEFT_EOF)
            break;
        EXPECT(n > 0 && (size_t)n <= want);
        if (n <= 0)
            break;
        long bad = wt_pat_check(buf, (size_t)n, x->seed, (uint64_t)total);
        if (bad >= 0) {
            wt_failf(__FILE__, __LINE__, "byte %ld of the transfer is wrong", total + bad);
            break;
        }
        total += n;
    }
    x->total = total;
    free(buf);
    return 0;
}

static int large_transfer(void *p)
{
    (void)p;
    weft_listener_t *l;
    weft_stream_t *c, *a;
    if (WT_PAIR(&l, &c, &a) != 0)
        return 0;
    /* Each side sends its own pattern and receives the other's, at once. */
    xfer_t cs = {.s = c, .seed = 11, .one_call = 0, .rng = 1};
    xfer_t cr = {.s = c, .seed = 22, .rng = 2};
    xfer_t ss = {.s = a, .seed = 22, .one_call = 1, .rng = 3};
    xfer_t sr = {.s = a, .seed = 11, .rng = 4};
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, xfer_recv, &cr);
    weft_group_spawn(&g, xfer_recv, &sr);
    weft_group_spawn(&g, xfer_send, &cs);
    weft_group_spawn(&g, xfer_send, &ss);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(cr.total == XFER_BYTES);
    EXPECT(sr.total == XFER_BYTES);
    pair_close(l, c, a);
    return 0;
}

/* ------------------------------------------------------------ half-close */

static const char request[] = "request: everything until EOF";
static const char response[] = "response, sent after the peer's EOF";

static int half_server(void *p)
{
    weft_listener_t *l = p;
    weft_stream_t *s = NULL;
    EXPECT_RC(weft_listener_accept(l, &s), 0);
    if (!s)
        return 0;
    char buf[256];
    size_t got = 0;
    for (;;) {
        int n = weft_stream_receive(s, buf + got, sizeof buf - got);
        if (n == WEFT_EOF)
            break;
        EXPECT(n > 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    EXPECT(got == sizeof request && memcmp(buf, request, got) == 0);
    EXPECT_RC(weft_stream_receive(s, buf, sizeof buf), WEFT_EOF);
    /* The peer only half-closed: this side can still send. */
    EXPECT_RC(weft_stream_send(s, response, sizeof response), 0);
    EXPECT_RC(weft_stream_send_eof(s), 0);
    EXPECT_RC(weft_stream_close(s), 0);
    return 0;
}

static int half_close(void *p)
{
    (void)p;
    weft_listener_t *l;
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, half_server, l);
    weft_stream_t *c = NULL;
    EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", weft_listener_port(l)), 0);
    if (c) {
        EXPECT_RC(weft_stream_send(c, request, sizeof request), 0);
        EXPECT_RC(weft_stream_send_eof(c), 0);
        /* Sending after our own EOF fails (and does not kill the process). */
        int rc = weft_stream_send(c, "x", 1);
        EXPECT(rc < 0);
        char buf[256];
        EXPECT_RC(wt_recv_exact(c, buf, sizeof response), (int)sizeof response);
        EXPECT(memcmp(buf, response, sizeof response) == 0);
        EXPECT_RC(weft_stream_receive(c, buf, sizeof buf), WEFT_EOF);
        EXPECT_RC(weft_stream_close(c), 0);
    } else {
        weft_group_cancel(&g);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_listener_close(l), 0);
    return 0;
}

/* ------------------------------------------------------------ many clients */

#define MANY_CLIENTS 100

typedef struct {
    int port;
    int id;
    atomic_int *ok;
    long *sent;
} many_t;

static int many_client(void *p)
{
    many_t *m = p;
    weft_stream_t *c = NULL;
    int rc = weft_tcp_connect(&c, "127.0.0.1", m->port);
    EXPECT_RC(rc, 0);
    if (rc)
        return 0;
    EXPECT_RC(weft_stream_set_nodelay(c, 1), 0);
    size_t sizes[3] = {1 + (size_t)m->id * 37 % 2000, 10000 + (size_t)m->id, 7};
    char out[10200], in[10200];
    int good = 1;
    long sent = 0;
    for (int r = 0; r < 3; r++) {
        wt_pat_fill(out, sizes[r], (uint64_t)m->id, (uint64_t)sent);
        EXPECT_RC(weft_stream_send(c, out, sizes[r]), 0);
        rc = wt_recv_exact(c, in, sizes[r]);
        EXPECT_RC(rc, (int)sizes[r]);
        good &= rc == (int)sizes[r] && memcmp(in, out, sizes[r]) == 0;
        sent += (long)sizes[r];
    }
    EXPECT(good);
    EXPECT_RC(weft_stream_send_eof(c), 0);
    EXPECT(wt_drain(c) == 0); /* the handler's EOF, nothing else */
    EXPECT_RC(weft_stream_close(c), 0);
    *m->sent = sent;
    if (good)
        atomic_fetch_add(m->ok, 1);
    return 0;
}

static int many_clients(void *p)
{
    (void)p;
    wt_echo_stats_t stats;
    memset(&stats, 0, sizeof stats);
    wt_server_t sv;
    if (WT_SERVER_START(&sv, "127.0.0.1", wt_echo_handler, &stats) != 0)
        return 0;
    static many_t m[MANY_CLIENTS];
    static long sent[MANY_CLIENTS];
    atomic_int ok = 0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < MANY_CLIENTS; i++) {
        m[i] = (many_t){.port = sv.port, .id = i, .ok = &ok, .sent = &sent[i]};
        weft_group_spawn(&g, many_client, &m[i]);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&ok) == MANY_CLIENTS);
    /* A client may see the handler's EOF before the handler's send_eof
     * returned: let them all end by themselves before cancelling them. */
    WAIT_FOR(atomic_load(&stats.ended) == MANY_CLIENTS);
    WT_SERVER_STOP(&sv);
    long total = 0;
    for (int i = 0; i < MANY_CLIENTS; i++)
        total += sent[i];
    EXPECT(atomic_load(&stats.started) == MANY_CLIENTS);
    EXPECT(atomic_load(&stats.ended) == MANY_CLIENTS);
    EXPECT(atomic_load(&stats.eof) == MANY_CLIENTS);
    EXPECT(atomic_load(&stats.errors) == 0);
    EXPECT(atomic_load(&stats.bytes) == total);
    return 0;
}

/* ------------------------------------------------------------ listening everywhere */

/* host NULL: every interface, IPv4 and IPv6, one port on all. */
static int listen_any(void *p)
{
    (void)p;
    wt_echo_stats_t stats;
    memset(&stats, 0, sizeof stats);
    wt_server_t sv;
    if (WT_SERVER_START(&sv, NULL, wt_echo_handler, &stats) != 0)
        return 0;
    const char *hosts[2] = {"127.0.0.1", "::1"};
    int n = have_ipv6_loopback() ? 2 : 1;
    for (int i = 0; i < n; i++) {
        weft_stream_t *c = NULL;
        int rc = weft_tcp_connect(&c, hosts[i], sv.port);
        EXPECT_RC(rc, 0);
        if (rc)
            continue;
        struct sockaddr_storage ss;
        int len = sizeof ss;
        EXPECT_RC(weft_stream_remote_address(c, (struct sockaddr *)&ss, &len), 0);
        EXPECT(ss.ss_family == (i ? AF_INET6 : AF_INET));
        EXPECT(wt_sa_port((struct sockaddr *)&ss) == sv.port);
        char b[8];
        EXPECT_RC(weft_stream_send(c, "ping", 4), 0);
        EXPECT_RC(wt_recv_exact(c, b, 4), 4);
        EXPECT(memcmp(b, "ping", 4) == 0);
        EXPECT_RC(weft_stream_close(c), 0);
    }
    WT_SERVER_STOP(&sv);
    return 0;
}

/* ------------------------------------------------------------ addresses, options */

static int getopt_int(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len) != 0)
        return -1;
    return v;
}

static int addresses_and_options(void *p)
{
    (void)p;
    weft_listener_t *l;
    weft_stream_t *c, *a;
    if (WT_PAIR(&l, &c, &a) != 0)
        return 0;
    int port = weft_listener_port(l);
    struct sockaddr_storage cl, cr, al, ar;
    int n1 = sizeof cl, n2 = sizeof cr, n3 = sizeof al, n4 = sizeof ar;
    EXPECT_RC(weft_stream_local_address(c, (struct sockaddr *)&cl, &n1), 0);
    EXPECT_RC(weft_stream_remote_address(c, (struct sockaddr *)&cr, &n2), 0);
    EXPECT_RC(weft_stream_local_address(a, (struct sockaddr *)&al, &n3), 0);
    EXPECT_RC(weft_stream_remote_address(a, (struct sockaddr *)&ar, &n4), 0);
    EXPECT(n1 == (int)sizeof(struct sockaddr_in) && n2 == n1 && n3 == n1 && n4 == n1);
    EXPECT(wt_sa_is_lo4((struct sockaddr *)&cl) && wt_sa_is_lo4((struct sockaddr *)&cr));
    EXPECT(wt_sa_is_lo4((struct sockaddr *)&al) && wt_sa_is_lo4((struct sockaddr *)&ar));
    EXPECT(wt_sa_port((struct sockaddr *)&cr) == port);
    EXPECT(wt_sa_port((struct sockaddr *)&al) == port);
    EXPECT(wt_sa_port((struct sockaddr *)&cl) == wt_sa_port((struct sockaddr *)&ar));
    EXPECT(wt_sa_port((struct sockaddr *)&cl) != port);

    /* Options, as the socket sees them. */
    int fd = stream_fd(c);
    EXPECT(fd >= 0);
    EXPECT_RC(weft_stream_set_nodelay(c, 1), 0);
    EXPECT(getopt_int(fd, IPPROTO_TCP, TCP_NODELAY) != 0);
    EXPECT_RC(weft_stream_set_nodelay(c, 0), 0);
    EXPECT(getopt_int(fd, IPPROTO_TCP, TCP_NODELAY) == 0);
    EXPECT_RC(weft_stream_set_keepalive(c, 1, 60), 0);
    EXPECT(getopt_int(fd, SOL_SOCKET, SO_KEEPALIVE) != 0);
    EXPECT(getopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 60);
    EXPECT_RC(weft_stream_set_keepalive(c, 0, 0), 0);
    EXPECT(getopt_int(fd, SOL_SOCKET, SO_KEEPALIVE) == 0);
    /* Also from the other end, from whatever worker we are on. */
    EXPECT_RC(weft_stream_set_nodelay(a, 1), 0);
    EXPECT(getopt_int(stream_fd(a), IPPROTO_TCP, TCP_NODELAY) != 0);

    /* The stream still works after all that. */
    char b[3];
    EXPECT_RC(weft_stream_send(c, "abc", 3), 0);
    EXPECT_RC(wt_recv_exact(a, b, 3), 3);
    EXPECT(memcmp(b, "abc", 3) == 0);
    pair_close(l, c, a);
    return 0;
}

/* ------------------------------------------------------------ numeric addresses */

/* A numeric host is connected to at once: no resolver call (a blocking
 * thread) and no Happy Eyeballs group.  IPv6 only where ::1 listens. */
static int numeric_connect(const char *host, int expect_lookups)
{
    weft_listener_t *l;
    int rc = weft_tcp_listen(&l, host, 0, NULL);
    if (rc)
        return rc;
    int before = atomic_load(&real_lookups);
    weft_stream_t *c = NULL, *s = NULL;
    EXPECT_RC(weft_tcp_connect(&c, host, weft_listener_port(l)), 0);
    EXPECT(atomic_load(&real_lookups) - before == expect_lookups);
    if (c) {
        EXPECT_RC(weft_listener_accept(l, &s), 0);
        EXPECT_RC(weft_stream_send(c, "n", 1), 0);
        char b = 0;
        EXPECT_RC(weft_stream_receive(s, &b, 1), 1);
        EXPECT(b == 'n');
        weft_stream_close(s);
        weft_stream_close(c);
    }
    weft_listener_close(l);
    return 0;
}

static int numeric_hosts_skip_the_resolver(void *p)
{
    (void)p;
    EXPECT_RC(numeric_connect("127.0.0.1", 0), 0);
    int rc = numeric_connect("::1", 0);
    if (rc)
        print_message("no IPv6 loopback here (%s): ::1 not checked\n", weft_strerror(rc));
    /* A name still goes through the resolver. */
    EXPECT_RC(numeric_connect("localhost", 1), 0);
    return 0;
}

/* ------------------------------------------------------------ localhost */

/* Listen on 127.0.0.1 only and connect to "localhost".  Where the resolver
 * lists ::1 before 127.0.0.1 (with the AI_ADDRCONFIG hints weft_tcp_connect
 * uses), this covers Happy Eyeballs moving on from a refused first address
 * at once (no 250 ms wait); where ::1 comes second or not at all (e.g. an
 * /etc/hosts with "127.0.0.1 localhost" only, as in the sandbox this was
 * written in), it only covers resolving a name and connecting to the
 * address that listens.  The fake-resolver cases below cover a closed or
 * stalled first address deterministically. */
static int connect_localhost(void *p)
{
    (void)p;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    EXPECT_RC(weft_getaddrinfo("localhost", "80", &hints, &res), 0);
    int v6_first = res && res->ai_family == AF_INET6;
    int has_v4 = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        has_v4 |= ai->ai_family == AF_INET;
    weft_freeaddrinfo(res);
    if (!has_v4) /* no 127.0.0.1 for localhost here: nothing to connect to */
        return 0;

    wt_echo_stats_t stats;
    memset(&stats, 0, sizeof stats);
    wt_server_t sv;
    if (WT_SERVER_START(&sv, "127.0.0.1", wt_echo_handler, &stats) != 0)
        return 0;
    for (int i = 0; i < 3; i++) {
        weft_stream_t *c = NULL;
        double t0 = weft_now();
        int rc = weft_tcp_connect(&c, "localhost", sv.port);
        double took = weft_now() - t0;
        EXPECT_RC(rc, 0);
        if (rc)
            break;
        if (v6_first) /* ::1 refused: 127.0.0.1 started at once, not after 250 ms */
            EXPECT(took < 0.2 + (WT_SLACK > 1 ? 0.2 : 0));
        struct sockaddr_storage ss;
        int len = sizeof ss;
        EXPECT_RC(weft_stream_remote_address(c, (struct sockaddr *)&ss, &len), 0);
        EXPECT(wt_sa_is_lo4((struct sockaddr *)&ss));
        EXPECT(wt_sa_port((struct sockaddr *)&ss) == sv.port);
        char b[5];
        EXPECT_RC(weft_stream_send(c, "hello", 5), 0);
        EXPECT_RC(wt_recv_exact(c, b, 5), 5);
        EXPECT(memcmp(b, "hello", 5) == 0);
        EXPECT_RC(weft_stream_close(c), 0);
    }
    WT_SERVER_STOP(&sv);
    return 0;
}

/* ------------------------------------------------------------ refused */

static int connect_refused(void *p)
{
    (void)p;
    fake_set(NULL, 0, EAI_NONAME);
    weft_listener_t *l;
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    int port = weft_listener_port(l);
    EXPECT_RC(weft_listener_close(l), 0); /* the port just closed */
    weft_stream_t *c = NULL;
    EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", port), -ECONNREFUSED);
    EXPECT(c == NULL);
    int other = closed_port();
    EXPECT(other > 0);
    EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", other), -ECONNREFUSED);
    /* A name that does not resolve: an EAI code from getaddrinfo. */
    int rc = weft_tcp_connect(&c, "no-such-host" FAKE_SUFFIX, 80);
    EXPECT(rc < 0 && rc != WEFT_ECANCELED);
    return 0;
}


/* ------------------------------------------------------------ Happy Eyeballs */

typedef struct {
    wt_server_t sv;
    wt_echo_stats_t stats;
    stall_t stall;
} he_t;

/* Connect to the fake name (addresses set by the caller), check that it
 * took [min, max] s and reached the echo server. */
static void he_connect_ok(he_t *h, double min, double max)
{
    weft_stream_t *c = NULL;
    double t0 = weft_now();
    int rc = weft_tcp_connect(&c, "he" FAKE_SUFFIX, 1);
    double took = weft_now() - t0;
    EXPECT_RC(rc, 0);
    if (rc)
        return;
    if (!(took >= min && took <= max))
        wt_failf(__FILE__, __LINE__, "connect took %.3f s, expected [%.3f, %.3f]", took, min,
                 max);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    EXPECT_RC(weft_stream_remote_address(c, (struct sockaddr *)&ss, &len), 0);
    EXPECT(wt_sa_is_lo4((struct sockaddr *)&ss));
    EXPECT(wt_sa_port((struct sockaddr *)&ss) == h->sv.port);
    char b[4];
    EXPECT_RC(weft_stream_send(c, "ping", 4), 0);
    EXPECT_RC(wt_recv_exact(c, b, 4), 4);
    EXPECT(memcmp(b, "ping", 4) == 0);
    EXPECT_RC(weft_stream_close(c), 0);
}

static int happy_eyeballs(void *p)
{
    (void)p;
    he_t h;
    memset(&h.stats, 0, sizeof h.stats);
    if (WT_SERVER_START(&h.sv, "127.0.0.1", wt_echo_handler, &h.stats) != 0)
        return 0;
    EXPECT_RC(stall_open(&h.stall), 0);
    int lookups0 = atomic_load(&fake_lookups);
    int open = h.sv.port, stall = h.stall.port;
    int closed1 = closed_port(), closed2 = closed_port(), closed3 = closed_port();
    double slack = WT_SLACK;

    /* The addresses in getaddrinfo's order, first to last. */
    /* 1. A refused first address: the next attempt starts as soon as it
     *    failed.  Three refused ones before the open one: well under the
     *    3 * 250 ms the timer alone would take. */
    fake_addr_t closed_first[] = {{AF_INET, "127.0.0.1", closed1},
                                  {AF_INET, "127.0.0.1", closed2},
                                  {AF_INET, "127.0.0.1", closed3},
                                  {AF_INET, "127.0.0.1", open}};
    fake_set(closed_first, 4, 0);
    he_connect_ok(&h, 0, 0.5);

    /* 2. ::1 first (nothing listens there: refused, or no IPv6 at all),
     *    then 127.0.0.1: the "localhost" case, deterministic.  Two more
     *    refused ones in between, so that the timer alone would take
     *    750 ms. */
    fake_addr_t v6_first[] = {{AF_INET6, "::1", open},
                              {AF_INET, "127.0.0.1", closed1},
                              {AF_INET6, "::1", closed2},
                              {AF_INET, "127.0.0.1", open}};
    fake_set(v6_first, 4, 0);
    he_connect_ok(&h, 0, 0.5);

    /* 3. A stalled first address: the second starts after 250 ms, wins,
     *    and the stalled attempt is cancelled (connect returns at once). */
    fake_addr_t stalled_first[] = {{AF_INET, "127.0.0.1", stall}, {AF_INET, "127.0.0.1", open}};
    fake_set(stalled_first, 2, 0);
    he_connect_ok(&h, 0.24, 0.25 + slack);

    /* 4. Two stalled ones, then the open one: 500 ms. */
    fake_addr_t two_stalled[] = {{AF_INET, "127.0.0.1", stall},
                                 {AF_INET, "127.0.0.1", stall},
                                 {AF_INET, "127.0.0.1", open}};
    fake_set(two_stalled, 3, 0);
    he_connect_ok(&h, 0.49, 0.5 + slack);

    /* 5. The first one connects at once: the second never starts (the
     *    server sees exactly one connection). */
    int before = atomic_load(&h.stats.started);
    fake_addr_t both_open[] = {{AF_INET, "127.0.0.1", open}, {AF_INET, "127.0.0.1", open}};
    fake_set(both_open, 2, 0);
    he_connect_ok(&h, 0, 0.25 + slack);
    weft_sleep(0.4); /* past the second attempt's 250 ms */
    EXPECT(atomic_load(&h.stats.started) == before + 1);

    /* 6. Every address refused: the last attempt's error. */
    fake_addr_t all_closed[] = {{AF_INET, "127.0.0.1", closed1}, {AF_INET, "127.0.0.1", closed2}};
    fake_set(all_closed, 2, 0);
    weft_stream_t *c = NULL;
    EXPECT_RC(weft_tcp_connect(&c, "he" FAKE_SUFFIX, 1), -ECONNREFUSED);

    /* 7. No address at all / a resolver error: its EAI code, mapped. */
    fake_set(NULL, 0, EAI_NONAME);
    EXPECT_RC(weft_tcp_connect(&c, "he" FAKE_SUFFIX, 1), UV_EAI_NONAME);
    fake_set(NULL, 0, EAI_AGAIN);
    EXPECT_RC(weft_tcp_connect(&c, "he" FAKE_SUFFIX, 1), UV_EAI_AGAIN);

    /* 8. Every address stalls: an outer deadline cancels all attempts. */
    fake_addr_t all_stalled[] = {{AF_INET, "127.0.0.1", stall}, {AF_INET, "127.0.0.1", stall}};
    fake_set(all_stalled, 2, 0);
    weft_scope_t sc;
    double t0 = weft_now();
    weft_move_on_after(&sc, 0.4);
    int rc = weft_tcp_connect(&c, "he" FAKE_SUFFIX, 1);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    double took = weft_now() - t0;
    EXPECT(took >= 0.39 && took < 0.4 + slack);
    if (rc == 0)
        weft_stream_close(c);

    stall_close(&h.stall);
    WT_SERVER_STOP(&h.sv);
    EXPECT(atomic_load(&fake_lookups) - lookups0 == 9); /* one lookup per connect */
    return 0;
}


/* ------------------------------------------------------------ deadlines on receive */

static int deadline_on_stalled_read(void *p)
{
    (void)p;
    weft_listener_t *l;
    weft_stream_t *c, *a;
    if (WT_PAIR(&l, &c, &a) != 0)
        return 0;
    char b[16];
    /* move_on_after: the peer never writes; caught, quickly. */
    weft_scope_t sc;
    double t0 = weft_now();
    weft_move_on_after(&sc, 0.1);
    int rc = weft_stream_receive(c, b, sizeof b);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(weft_scope_cancelled_caught(&sc));
    double took = weft_now() - t0;
    EXPECT(took >= 0.099 && took < 0.1 + WT_SLACK);
    /* fail_after: the same as WEFT_ETIMEDOUT. */
    weft_fail_after(&sc, 0.05);
    rc = weft_stream_receive(c, b, sizeof b);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), WEFT_ETIMEDOUT);
    /* An expired deadline: nothing waits at all. */
    weft_move_on_after(&sc, 0);
    EXPECT_RC(weft_stream_receive(c, b, sizeof b), WEFT_ECANCELED);
    weft_scope_exit(&sc, 0);
    /* The stream still works: the peer writes, receive gets the bytes. */
    EXPECT_RC(weft_stream_send(a, "late bytes", 10), 0);
    EXPECT_RC(wt_recv_exact(c, b, 10), 10);
    EXPECT(memcmp(b, "late bytes", 10) == 0);
    /* And the other way, after a deadline on the server's side. */
    weft_move_on_after(&sc, 0.05);
    EXPECT_RC(weft_stream_receive(a, b, sizeof b), WEFT_ECANCELED);
    weft_scope_exit(&sc, 0);
    EXPECT_RC(weft_stream_send(c, "back", 4), 0);
    EXPECT_RC(wt_recv_exact(a, b, 4), 4);
    EXPECT(memcmp(b, "back", 4) == 0);
    pair_close(l, c, a);
    return 0;
}

/* ------------------------------------------------------------ cancelling accept / receive */

typedef struct {
    weft_scope_t sc;
    atomic_int entered;
    weft_listener_t *l;
    weft_stream_t *s;
    int rc, exit_rc;
    char buf[16];
} blocked_t;

static int blocked_receive(void *p)
{
    blocked_t *b = p;
    weft_scope_enter(&b->sc, WEFT_FOREVER, 0);
    atomic_store(&b->entered, 1);
    b->rc = weft_stream_receive(b->s, b->buf, sizeof b->buf);
    b->exit_rc = weft_scope_exit(&b->sc, b->rc);
    return 0;
}

static int blocked_accept(void *p)
{
    blocked_t *b = p;
    weft_scope_enter(&b->sc, WEFT_FOREVER, 0);
    atomic_store(&b->entered, 1);
    weft_stream_t *s = NULL;
    b->rc = weft_listener_accept(b->l, &s);
    if (b->rc == 0)
        weft_stream_close(s);
    b->exit_rc = weft_scope_exit(&b->sc, b->rc);
    return 0;
}

static int cancel_accept_and_receive(void *p)
{
    (void)p;
    weft_listener_t *l;
    weft_stream_t *c, *a;
    if (WT_PAIR(&l, &c, &a) != 0)
        return 0;

    /* accept under a deadline */
    weft_scope_t sc;
    double t0 = weft_now();
    weft_move_on_after(&sc, 0.1);
    weft_stream_t *s = NULL;
    int rc = weft_listener_accept(l, &s);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(weft_now() - t0 < 0.1 + WT_SLACK);
    /* accept cancelled by another task */
    blocked_t b;
    memset(&b, 0, sizeof b);
    b.l = l;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, blocked_accept, &b);
    EXPECT(wt_wait_flag(&b.entered, 1, 5));
    weft_sleep(0.02);
    weft_scope_cancel(&b.sc);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(b.rc, WEFT_ECANCELED);
    EXPECT_RC(b.exit_rc, 0);
    /* The listener still accepts. */
    weft_stream_t *c2 = NULL, *a2 = NULL;
    EXPECT_RC(weft_tcp_connect(&c2, "127.0.0.1", weft_listener_port(l)), 0);
    EXPECT_RC(weft_listener_accept(l, &a2), 0);
    if (c2 && a2) {
        char x[2];
        EXPECT_RC(weft_stream_send(a2, "ok", 2), 0);
        EXPECT_RC(wt_recv_exact(c2, x, 2), 2);
        EXPECT_RC(weft_stream_close(a2), 0);
        EXPECT_RC(weft_stream_close(c2), 0);
    }

    /* receive cancelled by another task; then the peer writes */
    memset(&b, 0, sizeof b);
    b.s = c;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, blocked_receive, &b);
    EXPECT(wt_wait_flag(&b.entered, 1, 5));
    weft_sleep(0.02);
    weft_scope_cancel(&b.sc);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(b.rc, WEFT_ECANCELED);
    EXPECT_RC(b.exit_rc, 0);
    EXPECT_RC(weft_stream_send(a, "after", 5), 0);
    char x[8];
    EXPECT_RC(wt_recv_exact(c, x, 5), 5);
    EXPECT(memcmp(x, "after", 5) == 0);

    /* Bytes that arrived while the receive was being cancelled are not lost:
     * the peer writes, then the blocked receive is cancelled before it runs
     * (the scope is cancelled right after the write, on the same task). */
    for (int i = 0; i < 20; i++) {
        memset(&b, 0, sizeof b);
        b.s = c;
        EXPECT_RC(weft_group_open(&g), 0);
        weft_group_spawn(&g, blocked_receive, &b);
        EXPECT(wt_wait_flag(&b.entered, 1, 5));
        weft_sleep(i % 2 ? 0.001 : 0);
        char m[3] = {'m', (char)('0' + i / 10), (char)('0' + i % 10)};
        EXPECT_RC(weft_stream_send(a, m, 3), 0);
        weft_scope_cancel(&b.sc);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        /* Whatever the cancelled receive got, plus what the next one
         * gets, is exactly the message. */
        int got = b.rc > 0 ? b.rc : 0;
        EXPECT(b.rc > 0 || b.rc == WEFT_ECANCELED);
        char all[3];
        if (got)
            memcpy(all, b.buf, (size_t)got);
        if (got < 3)
            EXPECT_RC(wt_recv_exact(c, all + got, (size_t)(3 - got)), 3 - got);
        EXPECT(memcmp(all, m, 3) == 0);
    }
    pair_close(l, c, a);
    return 0;
}

/* ------------------------------------------------------------ a cancelled receive loses no data */

#define NOLOSS_CHUNKS 400

typedef struct {
    weft_stream_t *s;
    long total;
    uint64_t rng;
    int cancelled;
} noloss_t;

static int noloss_sender(void *p)
{
    noloss_t *n = p;
    char buf[3000];
    long off = 0;
    for (int i = 0; i < NOLOSS_CHUNKS; i++) {
        size_t len = 1 + wt_rand(&n->rng) % sizeof buf;
        wt_pat_fill(buf, len, 77, (uint64_t)off);
        EXPECT_RC(weft_stream_send(n->s, buf, len), 0);
        off += (long)len;
        if (wt_rand(&n->rng) % 4 == 0)
            weft_sleep(wt_randf(&n->rng) * 200e-6);
    }
    EXPECT_RC(weft_stream_send_eof(n->s), 0);
    n->total = off;
    return 0;
}

static int noloss_receiver(void *p)
{
    noloss_t *n = p;
    char buf[5000];
    long total = 0;
    for (;;) {
        weft_scope_t sc;
        weft_move_on_after(&sc, wt_tiny_deadline(&n->rng, 0.2, 0.1));
        int rc = weft_stream_receive(n->s, buf, 1 + wt_rand(&n->rng) % sizeof buf);
        weft_scope_exit(&sc, 0);
        if (rc == WEFT_ECANCELED) {
            n->cancelled++;
            continue;
        }
        if (rc == WEFT_EOF)
            break;
        EXPECT(rc > 0);
        if (rc <= 0)
            break;
        long bad = wt_pat_check(buf, (size_t)rc, 77, (uint64_t)total);
        if (bad >= 0) {
            wt_failf(__FILE__, __LINE__, "byte %ld is wrong (after %d cancellations)",
                     total + bad, n->cancelled);
            break;
        }
        total += rc;
    }
    n->total = total;
    return 0;
}

static int cancelled_receive_loses_nothing(void *p)
{
    (void)p;
    weft_listener_t *l;
    weft_stream_t *c, *a;
    if (WT_PAIR(&l, &c, &a) != 0)
        return 0;
    noloss_t tx = {.s = a, .rng = 5}, rx = {.s = c, .rng = 6};
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, noloss_receiver, &rx);
    weft_group_spawn(&g, noloss_sender, &tx);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(rx.total == tx.total);
    EXPECT(rx.cancelled > 0);
    pair_close(l, c, a);
    return 0;
}

/* ------------------------------------------------------------ cancelling send */

/* 64 MiB (16 MiB under TSan, where the send's copy of the bytes it could
 * not write at once takes seconds); far more than the socket buffers. */
#define BIG_SEND ((unsigned)WT_TSAN_PICK(64u << 20, 16u << 20))

typedef struct {
    weft_stream_t *s;
    long total;     /* bytes received */
    long bad_at;    /* first byte that is neither pattern nor the marker; -1 */
    int tail_ok;    /* the stream ended with the marker */
} sink_t;

/* Read everything until EOF, check it is a prefix of pattern 3 followed by
 * "END". */
static int sink_task(void *p)
{
    sink_t *k = p;
    char *all = malloc(BIG_SEND + 64);
    long total = 0;
    for (;;) {
        size_t room = BIG_SEND + 64 - (size_t)total;
        int n = weft_stream_receive(k->s, all + total, room < 65536 ? room : 65536);
        if (n == WEFT_EOF)
            break;
        EXPECT(n > 0);
        if (n <= 0 || room == 0)
            break;
        total += n;
    }
    k->total = total;
    k->tail_ok = total >= 3 && memcmp(all + total - 3, "END", 3) == 0;
    k->bad_at = total >= 3 ? wt_pat_check(all, (size_t)total - 3, 3, 0) : -1;
    free(all);
    return 0;
}

static int cancelled_send_leaves_stream_usable(void *p)
{
    (void)p;
    weft_listener_t *l;
    weft_stream_t *c, *a;
    if (WT_PAIR(&l, &c, &a) != 0)
        return 0;
    char *big = malloc(BIG_SEND);
    wt_pat_fill(big, BIG_SEND, 3, 0);
    /* What the send costs before it waits: it copies what the socket did
     * not take at once (nearly all of it) into a request of its own. */
    double c0 = weft_now();
    char *copy = malloc(BIG_SEND);
    memcpy(copy, big, BIG_SEND);
    EXPECT(copy[BIG_SEND - 1] == big[BIG_SEND - 1]);
    free(copy);
    double copy_cost = weft_now() - c0;
    /* The peer does not read: the send blocks until the deadline. */
    weft_scope_t sc;
    double t0 = weft_now();
    weft_move_on_after(&sc, 0.2);
    int rc = weft_stream_send(c, big, BIG_SEND);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    double took = weft_now() - t0;
    if (!(took >= 0.19 && took < 0.2 + WT_SLACK + 3 * copy_cost))
        wt_failf(__FILE__, __LINE__, "the cancelled send took %.3f s (deadline 0.2 s, a copy "
                 "of the bytes %.3f s)", took, copy_cost);
    /* buf may be reused at once. */
    memset(big, 0xee, BIG_SEND);
    free(big);
    /* Still usable: send more, half-close; the peer gets a prefix of the
     * big send, then the marker, then EOF. */
    sink_t k = {.s = a};
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, sink_task, &k);
    EXPECT_RC(weft_stream_send(c, "END", 3), 0);
    EXPECT_RC(weft_stream_send_eof(c), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(k.tail_ok);
    EXPECT(k.bad_at == -1);
    EXPECT(k.total >= 3 && k.total <= (long)BIG_SEND + 3);
    pair_close(l, c, a);
    return 0;
}

/* A cancelled send, then close at once (the request still pending). */
static int cancelled_send_then_close(void *p)
{
    (void)p;
    weft_listener_t *l;
    weft_stream_t *c, *a;
    if (WT_PAIR(&l, &c, &a) != 0)
        return 0;
    char *big = malloc(BIG_SEND);
    memset(big, 'z', BIG_SEND);
    weft_scope_t sc;
    weft_move_on_after(&sc, 0.05);
    EXPECT_RC(weft_stream_send(c, big, BIG_SEND), WEFT_ECANCELED);
    weft_scope_exit(&sc, 0);
    free(big);
    EXPECT_RC(weft_stream_close(c), 0);
    /* The peer sees some bytes, then the end (EOF or a reset). */
    long n = wt_drain(a);
    EXPECT(n >= 0 || n == -ECONNRESET);
    pair_close(l, NULL, a);
    return 0;
}

static int cancel_send(void *p)
{
    int rc = cancelled_send_leaves_stream_usable(p);
    return rc ? rc : cancelled_send_then_close(p);
}

/* ------------------------------------------------------------ cancelling connect */

static int cancel_connect(void *p)
{
    (void)p;
    /* A non-routable address: the connect hangs until the deadline, or the
     * sandbox rejects it at once (or even accepts it: some sandboxes proxy
     * every outgoing connection).  Never a hang. */
    weft_scope_t sc;
    weft_stream_t *c = NULL;
    double t0 = weft_now();
    weft_move_on_after(&sc, 0.2);
    int rc = weft_tcp_connect(&c, "10.255.255.1", 9);
    int exit_rc = weft_scope_exit(&sc, rc);
    double took = weft_now() - t0;
    EXPECT(took < 0.2 + WT_SLACK);
    if (rc == WEFT_ECANCELED)
        EXPECT_RC(exit_rc, 0);
    else if (rc == 0)
        EXPECT_RC(weft_stream_close(c), 0);
    else
        EXPECT(rc < 0);

    /* Deterministic: a listener whose queue is full drops our SYN. */
    stall_t stall;
    EXPECT_RC(stall_open(&stall), 0);
    for (int i = 0; i < 3; i++) {
        t0 = weft_now();
        weft_move_on_after(&sc, 0.2);
        rc = weft_tcp_connect(&c, "127.0.0.1", stall.port);
        EXPECT_RC(rc, WEFT_ECANCELED);
        EXPECT_RC(weft_scope_exit(&sc, rc), 0);
        took = weft_now() - t0;
        EXPECT(took >= 0.19 && took < 0.2 + WT_SLACK);
        if (rc == 0)
            weft_stream_close(c);
    }
    /* Connects cancelled at random moments around the connection (to a
     * listener that accepts): every call either connects or is cancelled. */
    wt_echo_stats_t stats;
    memset(&stats, 0, sizeof stats);
    wt_server_t sv;
    if (WT_SERVER_START(&sv, "127.0.0.1", wt_echo_handler, &stats) == 0) {
        uint64_t rng = 99;
        int connected = 0, cancelled = 0;
        for (int i = 0; i < 200; i++) {
            weft_move_on_after(&sc, wt_randf(&rng) * 1e-3);
            rc = weft_tcp_connect(&c, "127.0.0.1", sv.port);
            weft_scope_exit(&sc, 0);
            if (rc == 0) {
                connected++;
                EXPECT_RC(weft_stream_close(c), 0);
            } else {
                EXPECT_RC(rc, WEFT_ECANCELED);
                cancelled++;
            }
        }
        EXPECT(connected + cancelled == 200);
        WT_SERVER_STOP(&sv);
    }
    stall_close(&stall);
    return 0;
}

/* ------------------------------------------------------------ close while blocked */

typedef struct {
    weft_stream_t *s;
    weft_listener_t *l;
    atomic_int entered;
    int rc;
    size_t len;
} closer_t;

static int block_in_receive(void *p)
{
    closer_t *x = p;
    char b[8];
    atomic_store(&x->entered, 1);
    x->rc = weft_stream_receive(x->s, b, sizeof b);
    return 0;
}

static int block_in_send(void *p)
{
    closer_t *x = p;
    char *big = calloc(1, x->len);
    atomic_store(&x->entered, 1);
    x->rc = weft_stream_send(x->s, big, x->len);
    free(big);
    return 0;
}

static int block_in_accept(void *p)
{
    closer_t *x = p;
    weft_stream_t *s = NULL;
    atomic_store(&x->entered, 1);
    x->rc = weft_listener_accept(x->l, &s);
    if (x->rc == 0)
        weft_stream_close(s);
    return 0;
}

static int close_while_blocked(void *p)
{
    (void)p;
    for (int kind = 0; kind < 3; kind++) {
        weft_listener_t *l;
        weft_stream_t *c, *a;
        if (WT_PAIR(&l, &c, &a) != 0)
            return 0;
        closer_t x = {.s = c, .l = l, .len = BIG_SEND};
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        weft_group_spawn(&g, kind == 0 ? block_in_receive : kind == 1 ? block_in_send
                                                                       : block_in_accept,
                         &x);
        EXPECT(wt_wait_flag(&x.entered, 1, 5));
        weft_sleep(0.05); /* let it block */
        if (kind == 2)
            EXPECT_RC(weft_listener_close(l), 0);
        else
            EXPECT_RC(weft_stream_close(c), 0);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT_RC(x.rc, WEFT_EBADF);
        if (kind == 2) {
            pair_close(NULL, c, a);
        } else {
            /* The peer sees the end. */
            long n = wt_drain(a);
            EXPECT(n >= 0 || n == -ECONNRESET);
            pair_close(l, NULL, a);
        }
    }
    return 0;
}

/* ------------------------------------------------------------ EBUSY */

static int ebusy(void *p)
{
    (void)p;
    weft_listener_t *l;
    weft_stream_t *c, *a;
    if (WT_PAIR(&l, &c, &a) != 0)
        return 0;
    weft_group_t g;
    char b[8];

    /* A second receive while one waits. */
    closer_t x = {.s = c};
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, block_in_receive, &x);
    EXPECT(wt_wait_flag(&x.entered, 1, 5));
    weft_sleep(0.05);
    EXPECT_RC(weft_stream_receive(c, b, sizeof b), -EBUSY);
    /* Sending meanwhile is fine (one receives, another sends). */
    EXPECT_RC(weft_stream_send(c, "to a", 4), 0);
    EXPECT_RC(wt_recv_exact(a, b, 4), 4);
    EXPECT_RC(weft_stream_send(a, "wake", 4), 0); /* ends the blocked receive */
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(x.rc, 4);

    /* A second send while one waits (to a peer that does not read yet). */
    closer_t y = {.s = c, .len = BIG_SEND};
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, block_in_send, &y);
    EXPECT(wt_wait_flag(&y.entered, 1, 5));
    weft_sleep(0.05);
    EXPECT_RC(weft_stream_send(c, "x", 1), -EBUSY);
    EXPECT_RC(weft_stream_send_eof(c), -EBUSY);
    EXPECT(wt_skip(a, BIG_SEND) == BIG_SEND); /* now it completes */
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(y.rc, 0);

    /* A second accept while one waits. */
    closer_t z = {.l = l};
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, block_in_accept, &z);
    EXPECT(wt_wait_flag(&z.entered, 1, 5));
    weft_sleep(0.05);
    weft_stream_t *s = NULL;
    EXPECT_RC(weft_listener_accept(l, &s), -EBUSY);
    weft_stream_t *c2 = NULL;
    EXPECT_RC(weft_tcp_connect(&c2, "127.0.0.1", weft_listener_port(l)), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(z.rc, 0);
    if (c2)
        EXPECT_RC(weft_stream_close(c2), 0);
    pair_close(l, c, a);
    return 0;
}

/* ------------------------------------------------------------ one stream, every worker */

#define SHARE_TASKS 200

typedef struct {
    weft_stream_t *s;
    weft_lock_t *lock;
    unsigned owner;
    atomic_int off_owner, done;
} share_t;

typedef struct {
    share_t *sh;
    int id;
} share_arg_t;

static int share_user(void *p)
{
    share_arg_t *a = p;
    share_t *sh = a->sh;
    /* Busy for a moment without yielding, so that the other workers steal
     * some of these tasks. */
    double end = weft_now() + 100e-6;
    while (weft_now() < end) {
    }
    if (my_worker() != sh->owner)
        atomic_fetch_add(&sh->off_owner, 1);
    EXPECT_RC(weft_lock_acquire(sh->lock), 0);
    char out[48], in[48];
    size_t n = 1 + (size_t)a->id % sizeof out;
    wt_pat_fill(out, n, (uint64_t)a->id, 0);
    EXPECT_RC(weft_stream_send(sh->s, out, n), 0);
    EXPECT_RC(wt_recv_exact(sh->s, in, n), (int)n);
    EXPECT(memcmp(in, out, n) == 0);
    EXPECT_RC(weft_lock_release(sh->lock), 0);
    atomic_fetch_add(&sh->done, 1);
    return 0;
}

static int stream_from_other_workers(void *p)
{
    (void)p;
    wt_echo_stats_t stats;
    memset(&stats, 0, sizeof stats);
    wt_server_t sv;
    if (WT_SERVER_START(&sv, "127.0.0.1", wt_echo_handler, &stats) != 0)
        return 0;
    share_t sh;
    memset(&sh, 0, sizeof sh);
    EXPECT_RC(weft_lock_new(&sh.lock), 0);
    EXPECT_RC(weft_tcp_connect(&sh.s, "127.0.0.1", sv.port), 0);
    if (sh.s) {
        sh.owner = stream_owner(sh.s);
        static share_arg_t args[SHARE_TASKS];
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        for (int i = 0; i < SHARE_TASKS; i++) {
            args[i] = (share_arg_t){&sh, i};
            weft_group_spawn(&g, share_user, &args[i]);
        }
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT(atomic_load(&sh.done) == SHARE_TASKS);
        EXPECT(atomic_load(&sh.off_owner) > 0);
        EXPECT_RC(weft_stream_close(sh.s), 0);
    }
    weft_lock_free(sh.lock);
    WT_SERVER_STOP(&sv);
    return 0;
}

/* ------------------------------------------------------------ EMFILE (child process) */

#define CHILD_ENV "WEFT_TCP_CHILD"

typedef struct {
    weft_listener_t *l;
    weft_stream_t *accepted[8];
    atomic_int n_accepted;
    int accept_rc;
} emfile_t;

static int emfile_acceptor(void *p)
{
    emfile_t *e = p;
    for (;;) {
        weft_stream_t *s = NULL;
        int rc = weft_listener_accept(e->l, &s);
        if (rc) {
            e->accept_rc = rc;
            return 0;
        }
        int i = atomic_load(&e->n_accepted);
        if (i < 8)
            e->accepted[i] = s;
        else
            weft_stream_close(s);
        atomic_store(&e->n_accepted, i + 1);
    }
}

static int emfile_main(void *p)
{
    (void)p;
    emfile_t e;
    memset(&e, 0, sizeof e);
    weft_listen_opts_t o = {.backlog = 16};
    EXPECT_RC(weft_tcp_listen(&e.l, "127.0.0.1", 0, &o), 0);
    if (!e.l)
        return 0;
    int port = weft_listener_port(e.l);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, emfile_acceptor, &e);
    /* One connection while descriptors are plenty. */
    int a = plain_connect(port, 0);
    EXPECT(a >= 0);
    WAIT_FOR(atomic_load(&e.n_accepted) == 1);
    /* The next client's socket first, then fill the descriptor table. */
    int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT(b >= 0);
    static int fill[65536];
    int nfill = 0, fd;
    while (nfill < 65536 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        fill[nfill++] = fd;
    EXPECT(errno == EMFILE);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT(connect(b, (struct sockaddr *)&sin, sizeof sin) == 0); /* into the backlog */
    /* The listener cannot take it, and must not spin meanwhile. */
    double cpu0 = wt_cpu_seconds(), t0 = weft_now();
    weft_sleep(0.5);
    double cpu = wt_cpu_seconds() - cpu0, wall = weft_now() - t0;
    if (cpu > 0.15 * wall)
        wt_failf(__FILE__, __LINE__, "%.3f s of CPU in %.3f s out of descriptors: spinning?",
                 cpu, wall);
    EXPECT(atomic_load(&e.n_accepted) == 1);
    /* Free a few descriptors: the waiting connection is accepted (after
     * the 100 ms back-off), not dropped. */
    for (int i = 0; i < 4 && nfill > 0; i++)
        close(fill[--nfill]);
    WAIT_FOR(atomic_load(&e.n_accepted) == 2);
    if (atomic_load(&e.n_accepted) == 2) {
        char x[4];
        EXPECT(write(b, "ping", 4) == 4);
        EXPECT_RC(wt_recv_exact(e.accepted[1], x, 4), 4);
        EXPECT(memcmp(x, "ping", 4) == 0);
    }
    while (nfill > 0)
        close(fill[--nfill]);
    close(a);
    close(b);
    EXPECT_RC(weft_listener_close(e.l), 0); /* ends the acceptor: WEFT_EBADF */
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(e.accept_rc, WEFT_EBADF);
    for (int i = 0; i < atomic_load(&e.n_accepted) && i < 8; i++)
        EXPECT_RC(weft_stream_close(e.accepted[i]), 0);
    return 0;
}

static void emfile_on_accept(void)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A fresh process image: no runtime, thread or sanitizer state is
         * inherited from the tests that ran before in this one. */
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        alarm(120); /* a hang becomes SIGALRM */
        setenv(CHILD_ENV, "emfile", 1);
        char *argv[] = {(char *)"/proc/self/exe", NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    char out[8192];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fds[0], out + used, sizeof out - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        if (used == sizeof out - 1)
            used = 0; /* keep the tail */
    }
    out[used] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        print_error("EMFILE child: %s %d; its stderr:\n%s\n",
                    WIFSIGNALED(status) ? "signal" : "exit status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), out);
        fail();
    }
}

/* ------------------------------------------------------------ Unix sockets */

/* The directory of a run's sockets: made for one run of a case's body,
 * removed with whatever is left in it afterwards. */
static char unix_dir[64];

static void unix_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", unix_dir, name);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* fn(NULL) with a fresh unix_dir. */
static int in_unix_dir(weft_fn_t fn)
{
    snprintf(unix_dir, sizeof unix_dir, "/tmp/weft-tcp-XXXXXX");
    if (!mkdtemp(unix_dir)) {
        wt_failf(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
        return 0;
    }
    int rc = fn(NULL);
    EXPECT(nftw(unix_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) == 0);
    return rc;
}

static int unix_echo_and_serve(void *p)
{
    (void)p;
    char path[128];
    unix_path(path, sizeof path, "echo.sock");
    weft_listener_t *l = NULL;
    EXPECT_RC(weft_unix_listen(&l, path, NULL), 0);
    if (!l)
        return 0;
    EXPECT(weft_listener_port(l) == 0);
    struct stat stt;
    EXPECT(stat(path, &stt) == 0 && S_ISSOCK(stt.st_mode));
    /* The path is taken. */
    weft_listener_t *l2 = NULL;
    EXPECT_RC(weft_unix_listen(&l2, path, NULL), -EADDRINUSE);

    /* Echo through accept. */
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, accept_echo_once, l);
    weft_stream_t *c = NULL;
    EXPECT_RC(weft_unix_connect(&c, path), 0);
    if (c) {
        char out[70000], in[70000];
        wt_pat_fill(out, sizeof out, 9, 0);
        EXPECT_RC(weft_stream_send(c, out, sizeof out), 0);
        EXPECT_RC(wt_recv_exact(c, in, sizeof in), (int)sizeof in);
        EXPECT(memcmp(in, out, sizeof out) == 0);
        /* TCP options mean nothing here. */
        EXPECT_RC(weft_stream_set_nodelay(c, 1), WEFT_EINVAL);
        EXPECT_RC(weft_stream_set_keepalive(c, 1, 10), WEFT_EINVAL);
        /* Addresses: the listener's path is the peer's name. */
        struct sockaddr_storage ss;
        int len = sizeof ss;
        EXPECT_RC(weft_stream_remote_address(c, (struct sockaddr *)&ss, &len), 0);
        EXPECT(ss.ss_family == AF_UNIX);
        EXPECT_STR(((struct sockaddr_un *)&ss)->sun_path, path);
        EXPECT_RC(weft_stream_send_eof(c), 0);
        EXPECT(wt_drain(c) == 0);
        EXPECT_RC(weft_stream_close(c), 0);
    } else {
        weft_group_cancel(&g);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);

    /* Serve. */
    wt_echo_stats_t stats;
    memset(&stats, 0, sizeof stats);
    wt_server_t sv;
    memset(&sv, 0, sizeof sv);
    sv.l = l;
    sv.handler = wt_echo_handler;
    sv.arg = &stats;
    EXPECT_RC(weft_group_open(&sv.g), 0);
    weft_group_spawn(&sv.g, wt_serve_task, &sv);
    for (int i = 0; i < 20; i++) {
        weft_stream_t *s = NULL;
        EXPECT_RC(weft_unix_connect(&s, path), 0);
        if (!s)
            continue;
        char out[100], in[100];
        wt_pat_fill(out, sizeof out, (uint64_t)i, 0);
        EXPECT_RC(weft_stream_send(s, out, sizeof out), 0);
        EXPECT_RC(wt_recv_exact(s, in, sizeof in), (int)sizeof in);
        EXPECT(memcmp(in, out, sizeof out) == 0);
        EXPECT_RC(weft_stream_close(s), 0);
    }
    WT_SERVER_STOP(&sv); /* closes l */
    EXPECT(atomic_load(&stats.started) == 20);
    EXPECT(atomic_load(&stats.ended) == 20);

    /* Nobody there. */
    char missing[128];
    unix_path(missing, sizeof missing, "missing.sock");
    EXPECT_RC(weft_unix_connect(&c, missing), -ENOENT);
    unlink(path);
    EXPECT_RC(weft_unix_connect(&c, path), -ENOENT);
    return 0;
}

static int unix_sockets(void *p)
{
    (void)p;
    return in_unix_dir(unix_echo_and_serve);
}

/* A path of exactly sun_path's size (107 bytes and the NUL) under unix_dir. */
static size_t unix_max_path(char *path, size_t size)
{
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1; /* 107 */
    int n = snprintf(path, size, "%s/", unix_dir);
    memset(path + n, 'a', max - (size_t)n);
    path[max] = '\0';
    return max;
}

/* A path too long for sun_path: listen refuses it (WEFT_EINVAL), and
 * connecting must fail too, not reach the socket named by its first 107
 * bytes. */
static int unix_too_long_path(void *p)
{
    (void)p;
    char path[128];
    size_t max = unix_max_path(path, sizeof path);
    weft_listener_t *l = NULL;
    EXPECT_RC(weft_unix_listen(&l, path, NULL), 0); /* 107 bytes: fits */
    if (!l)
        return 0;
    char longer[sizeof path + 4];
    memcpy(longer, path, max);
    memcpy(longer + max, "bbb", 4);
    weft_listener_t *l2 = NULL;
    EXPECT_RC(weft_unix_listen(&l2, longer, NULL), WEFT_EINVAL);
    weft_stream_t *c = NULL;
    int rc = weft_unix_connect(&c, longer);
    if (rc == 0) {
        wt_failf(__FILE__, __LINE__,
                 "weft_unix_connect(a %zu-byte path) = 0: connected to the socket named by "
                 "its first %zu bytes",
                 strlen(longer), max);
        weft_stream_close(c);
    }
    EXPECT_RC(weft_listener_close(l), 0);
    unlink(path);
    return 0;
}

static int unix_connect_long_path(void *p)
{
    (void)p;
    return in_unix_dir(unix_too_long_path);
}

/* The address of a Unix stream into a buffer of *len bytes: nothing may be
 * written past *len, whatever the path's length. */
static int unix_address_into_buffer(void *p)
{
    (void)p;
    char path[128];
    unix_max_path(path, sizeof path);
    path[40] = '\0'; /* a shorter one too: 40 bytes */
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            unix_max_path(path, sizeof path);
        weft_listener_t *l = NULL;
        EXPECT_RC(weft_unix_listen(&l, path, NULL), 0);
        if (!l)
            return 0;
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        weft_group_spawn(&g, accept_echo_once, l);
        weft_stream_t *c = NULL;
        EXPECT_RC(weft_unix_connect(&c, path), 0);
        size_t plen = strlen(path), off = offsetof(struct sockaddr_un, sun_path);
        /* Room for the family and the path, without / with its NUL; and
         * plenty. */
        int sizes[3] = {(int)(off + plen), (int)(off + plen + 1), 200};
        for (int k = 0; c && k < 3; k++) {
            unsigned char buf[256];
            memset(buf, 0xA5, sizeof buf);
            int len = sizes[k];
            int rc = weft_stream_remote_address(c, (struct sockaddr *)buf, &len);
            for (size_t i = (size_t)sizes[k]; i < sizeof buf; i++)
                if (buf[i] != 0xA5) {
                    wt_failf(__FILE__, __LINE__,
                             "weft_stream_remote_address(path of %zu bytes, *len = %d) = %d "
                             "wrote byte %zu",
                             plen, sizes[k], rc, i);
                    break;
                }
            if (k > 0) { /* room enough: the path */
                EXPECT_RC(rc, 0);
                EXPECT(((struct sockaddr *)buf)->sa_family == AF_UNIX);
                EXPECT(memcmp(((struct sockaddr_un *)buf)->sun_path, path, plen) == 0);
            }
        }
        if (c)
            EXPECT_RC(weft_stream_close(c), 0);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT_RC(weft_listener_close(l), 0);
        unlink(path);
    }
    return 0;
}

static int unix_address_buffer(void *p)
{
    (void)p;
    return in_unix_dir(unix_address_into_buffer);
}

/* ------------------------------------------------------------ serve */

typedef struct {
    weft_listener_t *l;
    weft_scope_t sc;
    atomic_int ready;
    int serve_rc, exit_rc, ended_at_return;
    atomic_int active, saw_cancel, ended;
    int close_listener; /* stop by closing the listener, not the scope */
} scancel_t;

static int scancel_handler(weft_stream_t *s, void *arg)
{
    scancel_t *x = arg;
    atomic_fetch_add(&x->active, 1);
    char b[16];
    int rc = weft_stream_receive(s, b, sizeof b); /* the clients never send */
    if (rc == WEFT_ECANCELED)
        atomic_fetch_add(&x->saw_cancel, 1);
    /* Linger (shielded): serve must wait for us. */
    weft_scope_t sh;
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD);
    weft_sleep(0.05);
    weft_scope_exit(&sh, 0);
    atomic_fetch_add(&x->ended, 1);
    return rc;
}

static int scancel_server(void *p)
{
    scancel_t *x = p;
    weft_scope_enter(&x->sc, WEFT_FOREVER, 0);
    atomic_store(&x->ready, 1);
    x->serve_rc = weft_serve(x->l, scancel_handler, x);
    x->ended_at_return = atomic_load(&x->ended);
    x->exit_rc = weft_scope_exit(&x->sc, x->serve_rc);
    return 0;
}

#define SERVE_CLIENTS 5

/* serve stopped by cancelling its scope, or by closing its listener. */
static int serve_cancel_round(int close_listener)
{
    scancel_t x = {.close_listener = close_listener};
    EXPECT_RC(weft_tcp_listen(&x.l, "127.0.0.1", 0, NULL), 0);
    if (!x.l)
        return 0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, scancel_server, &x);
    EXPECT(wt_wait_flag(&x.ready, 1, 5));
    weft_stream_t *c[SERVE_CLIENTS] = {0};
    for (int i = 0; i < SERVE_CLIENTS; i++)
        EXPECT_RC(weft_tcp_connect(&c[i], "127.0.0.1", weft_listener_port(x.l)), 0);
    WAIT_FOR(atomic_load(&x.active) == SERVE_CLIENTS);
    if (close_listener)
        EXPECT_RC(weft_listener_close(x.l), 0);
    else
        weft_scope_cancel(&x.sc);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    /* serve returned after every handler ended, each having seen the
     * cancellation. */
    if (close_listener) {
        EXPECT_RC(x.serve_rc, WEFT_EBADF);
        EXPECT_RC(x.exit_rc, WEFT_EBADF);
    } else {
        EXPECT_RC(x.serve_rc, WEFT_ECANCELED);
        EXPECT_RC(x.exit_rc, 0);
    }
    EXPECT(x.ended_at_return == SERVE_CLIENTS);
    EXPECT(atomic_load(&x.saw_cancel) == SERVE_CLIENTS);
    /* serve closed their streams. */
    for (int i = 0; i < SERVE_CLIENTS; i++) {
        if (!c[i])
            continue;
        long n = wt_drain(c[i]);
        EXPECT(n == 0 || n == -ECONNRESET);
        EXPECT_RC(weft_stream_close(c[i]), 0);
    }
    if (!close_listener)
        EXPECT_RC(weft_listener_close(x.l), 0);
    return 0;
}

static int serve_cancelled(void *p)
{
    (void)p;
    int rc = serve_cancel_round(0);
    return rc ? rc : serve_cancel_round(1);
}

/* Connections are placed over the workers' loops (place.h): with 2 workers
 * and 8 connections made from one task, the 16 streams (clients' and
 * handlers', or those weft_listener_accept returned) are shared out within
 * the placement's slack (without it, every client stream sat on the task's
 * worker and every accepted one on the listener's: checked), and every
 * placement is counted off once its stream is freed. */
#define DEALT 8

typedef struct {
    weft_listener_t *l;
    weft_scope_t sc;
    atomic_int active, ready;
    int by_accept;                /* accept in a loop instead of weft_serve */
    weft_stream_t *accepted[DEALT];
} dealt_t;

static int dealt_handler(weft_stream_t *s, void *arg)
{
    dealt_t *d = arg;
    atomic_fetch_add(&d->active, 1);
    char c;
    (void)weft_stream_receive(s, &c, 1); /* until the client closes, or cancelled */
    return 0;
}

static int dealt_server(void *p)
{
    dealt_t *d = p;
    weft_scope_enter(&d->sc, WEFT_FOREVER, 0);
    atomic_store(&d->ready, 1);
    if (!d->by_accept)
        return weft_scope_exit(&d->sc, weft_serve(d->l, dealt_handler, d));
    for (int i = 0; i < DEALT; i++) {
        EXPECT_RC(weft_listener_accept(d->l, &d->accepted[i]), 0);
        atomic_fetch_add(&d->active, 1);
    }
    return weft_scope_exit(&d->sc, 0);
}

static int deal_connections(dealt_t *d)
{
    EXPECT_RC(weft_tcp_listen(&d->l, "127.0.0.1", 0, NULL), 0);
    if (!d->l)
        return 0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, dealt_server, d);
    EXPECT(wt_wait_flag(&d->ready, 1, 5));
    weft_stream_t *c[DEALT] = {0};
    for (int i = 0; i < DEALT; i++)
        EXPECT_RC(weft_tcp_connect(&c[i], "127.0.0.1", weft_listener_port(d->l)), 0);
    WAIT_FOR(atomic_load(&d->active) == DEALT);
    /* A worker near a connection's packets may take a connection while it
     * has 2 more than the other (place.c): 9 and 7 at worst, 10 and 6 if
     * two placements race. */
    wf_runtime_t *rt = wf_current_worker()->rt;
    unsigned on[2] = {atomic_load(&rt->workers[0].io_load), atomic_load(&rt->workers[1].io_load)};
    EXPECT(on[0] + on[1] == 2 * DEALT && on[0] >= DEALT - 2 && on[1] >= DEALT - 2);
    weft_scope_cancel(&d->sc);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    for (int i = 0; i < DEALT; i++) {
        if (c[i])
            EXPECT_RC(weft_stream_close(c[i]), 0);
        if (d->accepted[i])
            EXPECT_RC(weft_stream_close(d->accepted[i]), 0);
    }
    EXPECT_RC(weft_listener_close(d->l), 0);
    /* Freed once libuv closed their handles. */
    WAIT_FOR(atomic_load(&rt->workers[0].io_load) == 0 &&
             atomic_load(&rt->workers[1].io_load) == 0);
    return 0;
}

static int serve_spreads_connections(void *p)
{
    (void)p;
    dealt_t d = {0};
    return deal_connections(&d);
}

static int accept_spreads_connections(void *p)
{
    (void)p;
    dealt_t d = {.by_accept = 1};
    return deal_connections(&d);
}

/* A task's later connections go where its first was placed (place.h): a
 * handler's connection to a backend sits on the worker of the handler's own
 * stream, so relaying between the two never moves the task. */
#define RELAYED 6

typedef struct {
    int upstream_port;
    atomic_int together, apart;
} relay_t;

static int relay_handler(weft_stream_t *s, void *arg)
{
    relay_t *r = arg;
    weft_stream_t *up = NULL;
    EXPECT_RC(weft_tcp_connect(&up, "127.0.0.1", r->upstream_port), 0);
    if (!up)
        return 0;
    atomic_fetch_add(stream_owner(up) == stream_owner(s) ? &r->together : &r->apart, 1);
    char b[4];
    EXPECT_RC(wt_recv_exact(s, b, sizeof b), 4);
    EXPECT_RC(weft_stream_send(up, b, sizeof b), 0);
    EXPECT_RC(wt_recv_exact(up, b, sizeof b), 4);
    EXPECT_RC(weft_stream_send(s, b, sizeof b), 0);
    EXPECT_RC(weft_stream_close(up), 0);
    return 0;
}

static int connections_of_a_task_stay_together(void *p)
{
    (void)p;
    relay_t r = {0};
    wt_server_t up, front;
    if (WT_SERVER_START(&up, "127.0.0.1", wt_echo_handler, NULL) != 0)
        return 0;
    r.upstream_port = up.port;
    if (WT_SERVER_START(&front, "127.0.0.1", relay_handler, &r) == 0) {
        for (int i = 0; i < RELAYED; i++) {
            weft_stream_t *c = NULL;
            EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", front.port), 0);
            if (!c)
                continue;
            char b[4];
            EXPECT_RC(weft_stream_send(c, "ping", 4), 0);
            EXPECT_RC(wt_recv_exact(c, b, sizeof b), 4);
            EXPECT(memcmp(b, "ping", 4) == 0);
            EXPECT_RC(weft_stream_close(c), 0);
        }
        WT_SERVER_STOP(&front);
    }
    WT_SERVER_STOP(&up);
    EXPECT(atomic_load(&r.together) == RELAYED && atomic_load(&r.apart) == 0);
    return 0;
}


/* The accepted-connection rule on its own, over two stand-in workers: near
 * the CPU that received the connection (SO_INCOMING_CPU of a real loopback
 * connection) within the slack, the least loaded otherwise. */
static void set_worker(wf_worker_t *w, int cpu, unsigned load)
{
    atomic_store(&w->cpu, cpu);
    atomic_store(&w->io_load, load);
}

static void place_accepted_rule(void)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1, a = -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_true(l >= 0);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    assert_true((c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_true((a = accept(l, NULL, NULL)) >= 0);
    int cpu = -1;
    len = sizeof cpu;
    if (getsockopt(a, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) != 0 || cpu < 0) {
        close(a), close(c), close(l);
        skip(); /* a kernel without SO_INCOMING_CPU: placement is by load alone */
    }

    static wf_worker_t w[3];
    wf_runtime_t rt = {.nworkers = 3, .workers = w};
    set_worker(&w[0], cpu + 1, 3);
    set_worker(&w[1], cpu, 5); /* near, 2 above the least: within the slack */
    set_worker(&w[2], cpu + 2, 9);
    assert_ptr_equal(wf_io_place_accepted(&rt, a), &w[1]);
    assert_int_equal(atomic_load(&w[1].io_load), 6);
    assert_ptr_equal(wf_io_place_accepted(&rt, a), &w[0]); /* 3 above: too far */
    assert_int_equal(atomic_load(&w[0].io_load), 4);
    wf_io_unplace(&w[0]);
    assert_int_equal(atomic_load(&w[0].io_load), 3);

    set_worker(&w[0], cpu + 1, 1);
    set_worker(&w[1], cpu + 2, 0); /* nobody polls on that CPU: by load */
    set_worker(&w[2], cpu + 3, 9);
    assert_ptr_equal(wf_io_place_accepted(&rt, a), &w[1]);

    set_worker(&w[0], cpu, 4);
    set_worker(&w[1], cpu, 2); /* both last polled there: the less loaded */
    set_worker(&w[2], cpu + 1, 0);
    assert_ptr_equal(wf_io_place_accepted(&rt, a), &w[1]);

    rt.has_spare = 1; /* the spare (last) takes nothing, even when nearest */
    set_worker(&w[0], cpu + 1, 7);
    set_worker(&w[1], cpu + 2, 8);
    set_worker(&w[2], cpu, 0);
    assert_ptr_equal(wf_io_place_accepted(&rt, a), &w[0]);
    close(a), close(c), close(l);
}

/* The connect rule on its own, over three stand-in workers (outside a
 * runtime there is no current worker to prefer): a task's first connection
 * goes to the least loaded, ties dealt in turn, never the spare; its later
 * ones to the worker of its first (its home), however loaded. */
static void place_connect_rule(void)
{
    static wf_worker_t w[3];
    wf_runtime_t rt = {.nworkers = 3, .workers = w};
    set_worker(&w[0], 0, 3);
    set_worker(&w[1], 1, 1);
    set_worker(&w[2], 2, 2);
    assert_ptr_equal(wf_io_place_connect(&rt, NULL), &w[1]);
    assert_ptr_equal(wf_io_place_connect(&rt, NULL), &w[1]); /* 2: ties with w[2] */
    assert_int_equal(atomic_load(&w[1].io_load), 3);
    set_worker(&w[0], 0, 0);
    set_worker(&w[1], 1, 0);
    set_worker(&w[2], 2, 0);
    for (int i = 0; i < 3; i++)
        wf_io_place_connect(&rt, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(atomic_load(&w[i].io_load), 1); /* one each */
    rt.has_spare = 1;
    set_worker(&w[2], 2, 0); /* the least loaded, but the spare */
    wf_io_place_connect(&rt, NULL);
    wf_io_place_connect(&rt, NULL);
    assert_int_equal(atomic_load(&w[0].io_load), 2);
    assert_int_equal(atomic_load(&w[1].io_load), 2);
    assert_int_equal(atomic_load(&w[2].io_load), 0);
    assert_ptr_equal(wf_io_place_connect(&rt, &w[1]), &w[1]); /* home, though not least */
    assert_int_equal(atomic_load(&w[1].io_load), 3);

    static wf_task_t t; /* only its first connection makes its home */
    wf_io_settle(&t, &w[1]);
    wf_io_settle(&t, &w[0]);
    assert_ptr_equal(t.io_home, &w[1]);
}

/* A handler's error ends its connection only. */
static atomic_int picky_n;

static int picky_handler(weft_stream_t *s, void *arg)
{
    if (atomic_fetch_add(&picky_n, 1) % 2)
        return -EIO;
    return wt_echo_handler(s, arg);
}

static int serve_handler_error(void *p)
{
    (void)p;
    atomic_store(&picky_n, 0);
    wt_server_t sv;
    if (WT_SERVER_START(&sv, "127.0.0.1", picky_handler, NULL) != 0)
        return 0;
    int echoed = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        weft_stream_t *c = NULL;
        EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", sv.port), 0);
        if (!c)
            continue;
        /* Wait until the handler picked its way (it counts first). */
        WAIT_FOR(atomic_load(&picky_n) == i + 1);
        int mine = i;
        char b[4];
        int rc = weft_stream_send(c, "ping", 4);
        int r = rc == 0 ? wt_recv_exact(c, b, 4) : rc;
        if (mine % 2 == 0) {
            EXPECT_RC(r, 4);
            echoed += r == 4;
        } else {
            EXPECT(r == WEFT_EOF || r == -ECONNRESET || r == -EPIPE);
            refused++;
        }
        EXPECT_RC(weft_stream_close(c), 0);
    }
    EXPECT(echoed == 5 && refused == 5);
    WT_SERVER_STOP(&sv);
    return 0;
}

/* ------------------------------------------------------------ wrong context, bad arguments */

static int noop_handler(weft_stream_t *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;
}

typedef struct {
    weft_stream_t *s;
    weft_listener_t *l;
    atomic_int done;
    int rcs[20];
} plain_t;

static void *plain_thread(void *p)
{
    plain_t *x = p;
    char b[4];
    struct sockaddr_storage ss;
    int len = sizeof ss;
    weft_stream_t *s2 = NULL;
    weft_listener_t *l2 = NULL;
    int i = 0;
    x->rcs[i++] = weft_stream_receive(x->s, b, sizeof b);
    x->rcs[i++] = weft_stream_send(x->s, "x", 1);
    x->rcs[i++] = weft_stream_send_eof(x->s);
    x->rcs[i++] = weft_stream_local_address(x->s, (struct sockaddr *)&ss, &len);
    x->rcs[i++] = weft_stream_remote_address(x->s, (struct sockaddr *)&ss, &len);
    x->rcs[i++] = weft_stream_set_nodelay(x->s, 1);
    x->rcs[i++] = weft_stream_set_keepalive(x->s, 1, 1);
    x->rcs[i++] = weft_stream_close(x->s);
    x->rcs[i++] = weft_listener_accept(x->l, &s2);
    x->rcs[i++] = weft_listener_close(x->l);
    x->rcs[i++] = weft_serve(x->l, noop_handler, NULL);
    x->rcs[i++] = weft_tcp_connect(&s2, "127.0.0.1", 1);
    x->rcs[i++] = weft_unix_connect(&s2, "/nonexistent");
    x->rcs[i++] = weft_tcp_listen(&l2, "127.0.0.1", 0, NULL);
    x->rcs[i++] = weft_unix_listen(&l2, "/tmp/weft-never", NULL);
    while (i < 20)
        x->rcs[i++] = WEFT_EPERM;
    atomic_store(&x->done, 1);
    return NULL;
}

static int context_main(void *p)
{
    (void)p;
    weft_listener_t *l;
    weft_stream_t *c, *a;
    if (WT_PAIR(&l, &c, &a) != 0)
        return 0;
    /* From a plain thread while the runtime runs: WEFT_EPERM, and the
     * objects are untouched. */
    plain_t x = {.s = c, .l = l};
    pthread_t th;
    if (WT_THREAD_START(&th, plain_thread, &x))
        WT_THREADS_FINISH(&th, 1, &x.done, 1, 10);
    for (int i = 0; i < 20; i++)
        if (x.rcs[i] != WEFT_EPERM)
            wt_failf(__FILE__, __LINE__, "call %d from a plain thread = %d (%s)", i, x.rcs[i],
                     weft_err_name(x.rcs[i]));
    char b[8];
    EXPECT_RC(weft_stream_send(c, "still", 5), 0);
    EXPECT_RC(wt_recv_exact(a, b, 5), 5);

    /* Bad arguments. */
    struct sockaddr_storage ss;
    int len = sizeof ss;
    weft_stream_t *s = NULL;
    weft_listener_t *l2 = NULL;
    EXPECT_RC(weft_stream_receive(NULL, b, 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_receive(c, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_receive(c, b, 0), WEFT_EINVAL);
    EXPECT_RC(weft_stream_send(NULL, b, 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_send(c, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_send_eof(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_stream_close(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_stream_local_address(NULL, (struct sockaddr *)&ss, &len), WEFT_EINVAL);
    EXPECT_RC(weft_stream_local_address(c, NULL, &len), WEFT_EINVAL);
    EXPECT_RC(weft_stream_local_address(c, (struct sockaddr *)&ss, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_stream_remote_address(NULL, (struct sockaddr *)&ss, &len), WEFT_EINVAL);
    EXPECT_RC(weft_stream_remote_address(c, NULL, &len), WEFT_EINVAL);
    EXPECT_RC(weft_stream_remote_address(c, (struct sockaddr *)&ss, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_stream_set_nodelay(NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_set_keepalive(NULL, 1, 1), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_connect(NULL, "127.0.0.1", 80), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_connect(&s, NULL, 80), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_connect(&s, "127.0.0.1", -1), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_connect(&s, "127.0.0.1", 65536), WEFT_EINVAL);
    EXPECT_RC(weft_unix_connect(NULL, "/x"), WEFT_EINVAL);
    EXPECT_RC(weft_unix_connect(&s, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_listen(NULL, "127.0.0.1", 0, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_listen(&l2, "127.0.0.1", -1, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_listen(&l2, "127.0.0.1", 65536, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_unix_listen(NULL, "/tmp/x", NULL), WEFT_EINVAL);
    EXPECT_RC(weft_unix_listen(&l2, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_listener_port(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_listener_accept(NULL, &s), WEFT_EINVAL);
    EXPECT_RC(weft_listener_accept(l, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_listener_close(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_serve(NULL, noop_handler, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_serve(l, NULL, NULL), WEFT_EINVAL);
    EXPECT(s == NULL && l2 == NULL);

    /* Everything still works. */
    EXPECT_RC(weft_stream_send(a, "fine", 4), 0);
    EXPECT_RC(wt_recv_exact(c, b, 4), 4);
    pair_close(l, c, a);
    return 0;
}

static void wrong_context_and_arguments(void)
{
    /* No runtime at all. */
    weft_stream_t *s = NULL;
    weft_listener_t *l = NULL;
    assert_rc(weft_tcp_connect(&s, "127.0.0.1", 80), WEFT_EPERM);
    assert_rc(weft_unix_connect(&s, "/nonexistent"), WEFT_EPERM);
    assert_rc(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), WEFT_EPERM);
    assert_rc(weft_unix_listen(&l, "/tmp/weft-never", NULL), WEFT_EPERM);
    assert_null(s);
    assert_null(l);
    WT_RUN_OK(context_main, NULL, 2);
}

/* ------------------------------------------------------------ main */

static const wt_case_t cases[] = {
    WT_CASE(echo),
    WT_CASE(numeric_hosts_skip_the_resolver),
    WT_CASE(large_transfer),
    WT_CASE(half_close),
    WT_CASE_ON(many_clients, WT_W2),
    WT_CASE_ON(listen_any, WT_W2),
    WT_CASE(addresses_and_options),
    WT_CASE_ON(connect_localhost, WT_W2),
    WT_CASE(connect_refused),
    WT_CASE(happy_eyeballs),
    WT_CASE(deadline_on_stalled_read),
    WT_CASE(cancel_accept_and_receive),
    WT_CASE(cancelled_receive_loses_nothing),
    WT_CASE(cancel_send),
    WT_CASE(cancel_connect),
    WT_CASE(close_while_blocked),
    WT_CASE(ebusy),
    WT_CASE_ON(stream_from_other_workers, WT_W2 | WT_W4),
    WT_TEST(emfile_on_accept),
    WT_CASE(unix_sockets),
    WT_CASE_ON(unix_connect_long_path, WT_W2),
    WT_CASE_ON(unix_address_buffer, WT_W2),
    WT_CASE(serve_cancelled),
    WT_CASE_ON(serve_handler_error, WT_W2),
    WT_CASE_ON(serve_spreads_connections, WT_W2),
    WT_CASE_ON(accept_spreads_connections, WT_W2),
    WT_TEST(place_accepted_rule),
    WT_TEST(place_connect_rule),
    WT_CASE_ON(connections_of_a_task_stay_together, WT_W2),
    WT_TEST(wrong_context_and_arguments),
};

/* Not WT_SUITE: the EMFILE child runs its body instead of the table. */
int main(void)
{
    const char *child = getenv(CHILD_ENV);
    if (child && strcmp(child, "emfile") == 0)
        return wt_emfile_child(emfile_main);
    return wt_run_suite(__FILE__, cases, sizeof cases / sizeof cases[0]);
}
