/* weft_getaddrinfo / weft_freeaddrinfo / weft_getnameinfo: local names and
 * numeric addresses (this machine may have no network: only names that
 * resolve or fail locally), EAI_* errors mapped to libuv's UV_EAI_* codes and
 * described by weft_strerror / weft_err_name, cancellation (an already
 * cancelled scope, a storm of tiny deadlines that abandon lookups in flight:
 * nothing may leak or crash, under ASan / TSan too), wrong contexts and NULL
 * arguments. */
#define _GNU_SOURCE
#include "thread_helpers.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

static struct addrinfo hints_of(int family, int socktype, int flags)
{
    struct addrinfo h;
    memset(&h, 0, sizeof h);
    h.ai_family = family;
    h.ai_socktype = socktype;
    h.ai_flags = flags;
    return h;
}

/* Does the list hold 127.0.0.1:port? */
static int has_loopback4(const struct addrinfo *ai, int port)
{
    for (; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET)
            continue;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ai->ai_addr;
        if (sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK) && ntohs(sin->sin_port) == port)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ resolve */

static int resolve(void *p)
{
    (void)p;
    struct addrinfo *res = (struct addrinfo *)1;
    struct addrinfo h = hints_of(AF_INET, SOCK_STREAM, 0);

    /* "localhost" comes from /etc/hosts (or glibc's own rules). */
    EXPECT_RC(weft_getaddrinfo("localhost", "80", &h, &res), 0);
    EXPECT(res != NULL);
    EXPECT(has_loopback4(res, 80));
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        EXPECT(ai->ai_family == AF_INET && ai->ai_socktype == SOCK_STREAM);
    weft_freeaddrinfo(res);

    /* No hints: any family, every socket type. */
    res = NULL;
    EXPECT_RC(weft_getaddrinfo("localhost", NULL, NULL, &res), 0);
    EXPECT(res != NULL);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        EXPECT(ai->ai_family == AF_INET || ai->ai_family == AF_INET6);
    weft_freeaddrinfo(res);

    /* Numeric, IPv4 and IPv6: no lookup at all. */
    h = hints_of(AF_UNSPEC, SOCK_DGRAM, AI_NUMERICHOST | AI_NUMERICSERV);
    res = NULL;
    EXPECT_RC(weft_getaddrinfo("127.0.0.1", "5353", &h, &res), 0);
    EXPECT(res != NULL && res->ai_next == NULL);
    EXPECT(has_loopback4(res, 5353));
    EXPECT(res && res->ai_socktype == SOCK_DGRAM);
    weft_freeaddrinfo(res);
    res = NULL;
    EXPECT_RC(weft_getaddrinfo("::1", "7", &h, &res), 0);
    EXPECT(res != NULL && res->ai_family == AF_INET6);
    if (res && res->ai_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)res->ai_addr;
        EXPECT(memcmp(&s6->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback) == 0);
        EXPECT(ntohs(s6->sin6_port) == 7);
    }
    weft_freeaddrinfo(res);

    /* A passive lookup without a host: the wildcard address. */
    h = hints_of(AF_INET, SOCK_STREAM, AI_PASSIVE | AI_NUMERICSERV);
    res = NULL;
    EXPECT_RC(weft_getaddrinfo(NULL, "8080", &h, &res), 0);
    EXPECT(res != NULL);
    if (res) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)res->ai_addr;
        EXPECT(sin->sin_addr.s_addr == htonl(INADDR_ANY));
        EXPECT(ntohs(sin->sin_port) == 8080);
    }
    weft_freeaddrinfo(res);
    weft_freeaddrinfo(NULL); /* a no-op */

    /* Hints' other fields are ignored, whatever the caller left there. */
    h = hints_of(AF_INET, SOCK_STREAM, AI_NUMERICHOST);
    h.ai_next = (struct addrinfo *)&h;
    h.ai_canonname = (char *)"junk";
    res = NULL;
    EXPECT_RC(weft_getaddrinfo("127.0.0.1", NULL, &h, &res), 0);
    EXPECT(has_loopback4(res, 0));
    weft_freeaddrinfo(res);
    return 0;
}

/* ------------------------------------------------------------ errors */

static int errors(void *p)
{
    (void)p;
    struct addrinfo *res = (struct addrinfo *)1;

    /* A name under the reserved .invalid TLD: some error (which one depends
     * on the resolver: no such name, or no server to ask), always described. */
    int rc = weft_getaddrinfo("no-such-host.weft-test.invalid", "80", NULL, &res);
    EXPECT(rc < 0);
    EXPECT(res == NULL);
    EXPECT(strcmp(weft_strerror(rc), "unknown error") != 0);
    EXPECT(strcmp(weft_err_name(rc), "UNKNOWN") != 0);

    /* The same failure, certainly local: not an address, and lookups are off. */
    struct addrinfo h = hints_of(AF_UNSPEC, 0, AI_NUMERICHOST);
    res = (struct addrinfo *)1;
    EXPECT_RC(weft_getaddrinfo("not-an-address", NULL, &h, &res), UV_EAI_NONAME);
    EXPECT(res == NULL);
    /* A service name with numeric services only. */
    h = hints_of(AF_INET, SOCK_STREAM, AI_NUMERICSERV);
    EXPECT_RC(weft_getaddrinfo("127.0.0.1", "no-such-service", &h, &res), UV_EAI_NONAME);
    /* Neither host nor service. */
    EXPECT_RC(weft_getaddrinfo(NULL, NULL, NULL, &res), UV_EAI_NONAME);
    /* A family getaddrinfo does not know. */
    h = hints_of(12345, 0, 0);
    EXPECT_RC(weft_getaddrinfo("127.0.0.1", NULL, &h, &res), UV_EAI_FAMILY);
    /* Flags it does not know; AI_CANONNAME without a host. */
    h = hints_of(AF_INET, 0, 0x40000000);
    EXPECT_RC(weft_getaddrinfo("127.0.0.1", NULL, &h, &res), UV_EAI_BADFLAGS);
    h = hints_of(AF_INET, 0, AI_CANONNAME);
    EXPECT_RC(weft_getaddrinfo(NULL, "80", &h, &res), UV_EAI_BADFLAGS);
    /* A service that has no such socket type. */
    h = hints_of(AF_INET, SOCK_RAW, AI_NUMERICHOST);
    rc = weft_getaddrinfo("127.0.0.1", "http", &h, &res);
    EXPECT(rc == UV_EAI_SERVICE || rc == UV_EAI_SOCKTYPE);
    EXPECT(res == NULL);

    /* weft_strerror / weft_err_name describe libuv's EAI codes ... */
    EXPECT_STR(weft_err_name(UV_EAI_NONAME), "EAI_NONAME");
    EXPECT_STR(weft_strerror(UV_EAI_NONAME), uv_strerror(UV_EAI_NONAME));
    EXPECT_STR(weft_err_name(UV_EAI_AGAIN), "EAI_AGAIN");
    EXPECT_STR(weft_err_name(UV_EAI_FAMILY), "EAI_FAMILY");
    EXPECT_STR(weft_err_name(UV_EAI_OVERFLOW), "EAI_OVERFLOW");
    EXPECT_STR(weft_err_name(UV_EAI_PROTOCOL), "EAI_PROTOCOL");
    /* ... keep weft's own and the system's ... */
    EXPECT_STR(weft_err_name(WEFT_EOF), "WEFT_EOF");
    EXPECT_STR(weft_err_name(WEFT_ECANCELED), "WEFT_ECANCELED");
    EXPECT_STR(weft_err_name(-ENOENT), "ENOENT");
    /* ... and still say "unknown" (without leaking) for the rest. */
    EXPECT_STR(weft_strerror(-3999), "unknown error");
    EXPECT_STR(weft_err_name(-3999), "UNKNOWN");
    EXPECT_STR(weft_err_name(-123456), "UNKNOWN");
    return 0;
}

/* ------------------------------------------------------------ getnameinfo */

/* (Not "getnameinfo": <netdb.h> has that name.) */
static int nameinfo(void *p)
{
    (void)p;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(8080);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const struct sockaddr *sa = (const struct sockaddr *)&sin;
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    memset(host, 'x', sizeof host);
    memset(serv, 'x', sizeof serv);
    EXPECT_RC(weft_getnameinfo(sa, NI_NUMERICHOST | NI_NUMERICSERV, host, sizeof host, serv,
                               sizeof serv), 0);
    EXPECT_STR(host, "127.0.0.1");
    EXPECT_STR(serv, "8080");

    /* Host only, service only. */
    memset(host, 'x', sizeof host);
    EXPECT_RC(weft_getnameinfo(sa, NI_NUMERICHOST, host, sizeof host, NULL, 0), 0);
    EXPECT_STR(host, "127.0.0.1");
    memset(serv, 'x', sizeof serv);
    EXPECT_RC(weft_getnameinfo(sa, NI_NUMERICSERV, NULL, 0, serv, sizeof serv), 0);
    EXPECT_STR(serv, "8080");

    /* The name of 127.0.0.1 comes from /etc/hosts; whatever it is, it is a
     * string (NI_NAMEREQD not set: the number would do). */
    memset(host, 'x', sizeof host);
    EXPECT_RC(weft_getnameinfo(sa, 0, host, sizeof host, NULL, 0), 0);
    EXPECT(memchr(host, '\0', sizeof host) != NULL && host[0] != '\0');

    /* IPv6. */
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(443);
    s6.sin6_addr = in6addr_loopback;
    EXPECT_RC(weft_getnameinfo((const struct sockaddr *)&s6, NI_NUMERICHOST | NI_NUMERICSERV,
                               host, sizeof host, serv, sizeof serv), 0);
    EXPECT_STR(host, "::1");
    EXPECT_STR(serv, "443");

    /* A buffer too small for the answer: EAI_OVERFLOW, as getnameinfo says. */
    char tiny[4];
    EXPECT_RC(weft_getnameinfo(sa, NI_NUMERICHOST, tiny, sizeof tiny, NULL, 0),
              UV_EAI_OVERFLOW);
    /* Exactly large enough. */
    char exact[10];
    EXPECT_RC(weft_getnameinfo(sa, NI_NUMERICHOST, exact, sizeof exact, NULL, 0), 0);
    EXPECT_STR(exact, "127.0.0.1");

    /* A family getnameinfo cannot name. */
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    EXPECT_RC(weft_getnameinfo((const struct sockaddr *)&sun, 0, host, sizeof host, NULL, 0),
              UV_EAI_FAMILY);
    return 0;
}

/* ------------------------------------------------------------ cancellation */

static int cancelled_scope(void *p)
{
    (void)p;
    weft_scope_t sc;
    struct addrinfo *res = (struct addrinfo *)1;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char host[64] = "untouched";

    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_getaddrinfo("localhost", "80", NULL, &res), WEFT_ECANCELED);
    EXPECT(res == NULL);
    EXPECT_RC(weft_getnameinfo((const struct sockaddr *)&sin, NI_NUMERICHOST, host,
                               sizeof host, NULL, 0), WEFT_ECANCELED);
    EXPECT_STR(host, "untouched");
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);

    /* An expired deadline, reported as a timeout by fail_after. */
    weft_fail_after(&sc, 0);
    res = (struct addrinfo *)1;
    int rc = weft_getaddrinfo("localhost", "80", NULL, &res);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT(res == NULL);
    EXPECT_RC(weft_scope_exit(&sc, rc), WEFT_ETIMEDOUT);

    /* In a shielded scope inside a cancelled one the lookup runs. */
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    weft_scope_t sh;
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD);
    struct addrinfo h = hints_of(AF_INET, SOCK_STREAM, AI_NUMERICHOST);
    res = NULL;
    EXPECT_RC(weft_getaddrinfo("127.0.0.1", "1", &h, &res), 0);
    EXPECT(has_loopback4(res, 1));
    weft_freeaddrinfo(res);
    EXPECT_RC(weft_scope_exit(&sh, 0), 0);
    EXPECT_RC(weft_scope_exit(&sc, weft_checkpoint()), 0);

    /* Fine afterwards. */
    res = NULL;
    EXPECT_RC(weft_getaddrinfo("localhost", "80", NULL, &res), 0);
    EXPECT(res != NULL);
    weft_freeaddrinfo(res);
    return 0;
}

/* Many tasks, each doing lookups under tiny random deadlines: some are
 * cancelled before they start, some while waiting for a thread token or in
 * the pool's queue, some abandoned in flight (their late results are freed
 * on the thread), some finish.  Each result is a list or WEFT_ECANCELED;
 * ASan / LSan check that nothing leaks or is touched after being freed. */
#define STORM_TASKS 16

typedef struct {
    int id, rounds;
    atomic_int *ok, *cancelled;
} storm_t;

static int storm_task(void *p)
{
    storm_t *s = p;
    uint64_t rng = 0xd15 + (uint64_t)s->id * 0x9E3779B97F4A7C15ull;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(80);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < s->rounds; i++) {
        weft_scope_t sc;
        weft_move_on_after(&sc, wt_tiny_deadline(&rng, 0.2, 0.1) * 10);
        int rc;
        uint64_t kind = wt_rand(&rng) % 3;
        if (kind == 2) {
            char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
            rc = weft_getnameinfo((const struct sockaddr *)&sin, NI_NUMERICSERV, host,
                                  sizeof host, serv, sizeof serv);
            if (rc == 0)
                EXPECT_STR(serv, "80");
            else
                EXPECT_STR(host, ""); /* untouched */
        } else {
            struct addrinfo *res = (struct addrinfo *)1;
            struct addrinfo h = hints_of(AF_INET, SOCK_STREAM, kind ? AI_NUMERICHOST : 0);
            rc = weft_getaddrinfo(kind ? "127.0.0.1" : "localhost", "80", &h, &res);
            if (rc == 0) {
                EXPECT(has_loopback4(res, 80));
            } else {
                EXPECT(res == NULL);
            }
            weft_freeaddrinfo(res);
        }
        if (rc == 0)
            atomic_fetch_add(s->ok, 1);
        else if (rc == WEFT_ECANCELED)
            atomic_fetch_add(s->cancelled, 1);
        else
            EXPECT_RC(rc, 0);
        EXPECT_RC(weft_scope_exit(&sc, rc == WEFT_ECANCELED ? rc : 0), 0);
    }
    return 0;
}

typedef struct {
    atomic_int ok, cancelled;
    int rounds;
} storm_totals_t;

static int storm_main(void *p)
{
    storm_totals_t *tot = p;
    storm_t args[STORM_TASKS];
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < STORM_TASKS; i++) {
        args[i] = (storm_t){i, tot->rounds, &tot->ok, &tot->cancelled};
        EXPECT_RC(weft_group_spawn(&g, storm_task, &args[i]), 0);
    }
    return weft_group_close(&g, 0);
}

static void run_storm(unsigned workers, unsigned tokens)
{
    storm_totals_t tot;
    memset(&tot, 0, sizeof tot);
    tot.rounds = WT_TSAN_PICK(200, 40);
    WT_RUN_CFG_OK(storm_main, &tot, workers, tokens, 0);
    assert_int_equal(atomic_load(&tot.ok) + atomic_load(&tot.cancelled),
                     STORM_TASKS * tot.rounds);
    assert_true(atomic_load(&tot.ok) > 0);
    assert_true(atomic_load(&tot.cancelled) > 0);
}

static void deadline_storm(void)
{
    /* Few tokens: calls also queue for a token and get cancelled there. */
    run_storm(4, 3);
    run_storm(2, 0);
}

/* ------------------------------------------------------------ wrong context, NULL */

static int null_args_main(void *p)
{
    (void)p;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    char host[64];
    EXPECT_RC(weft_getaddrinfo("localhost", "80", NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_getnameinfo(NULL, 0, host, sizeof host, NULL, 0), WEFT_EINVAL);
    /* Asking for neither a host nor a service. */
    EXPECT_RC(weft_getnameinfo((const struct sockaddr *)&sin, 0, NULL, 0, NULL, 0),
              WEFT_EINVAL);
    EXPECT_RC(weft_getnameinfo((const struct sockaddr *)&sin, 0, host, 0, NULL, 16),
              WEFT_EINVAL);
    return 0;
}

static void wrong_context_and_null(void)
{
    struct addrinfo *res = (struct addrinfo *)1;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    char host[64];
    /* Outside a task. */
    assert_rc(weft_getaddrinfo("localhost", "80", NULL, &res), WEFT_EPERM);
    assert_ptr_equal(res, (struct addrinfo *)1);
    assert_rc(weft_getnameinfo((const struct sockaddr *)&sin, NI_NUMERICHOST, host,
                               sizeof host, NULL, 0), WEFT_EPERM);
    weft_freeaddrinfo(NULL);
    WT_RUN_OK(null_args_main, NULL, 1);
}

static const wt_case_t cases[] = {
    WT_CASE(resolve),
    WT_CASE_ON(errors, WT_W2),
    WT_CASE(nameinfo),
    WT_CASE(cancelled_scope),
    WT_TEST(deadline_storm),
    WT_TEST(wrong_context_and_null),
};
WT_SUITE(cases)
