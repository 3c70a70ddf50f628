/* The programs of examples/: each one is run as its user would run it, and
 * what it prints and its exit status are checked.  WEFT_EXAMPLES_DIR (from
 * examples/CMakeLists.txt) is where they were built.  echo_server is driven
 * like a real server: a client connects, then SIGTERM / SIGINT stop it. */
#define _GNU_SOURCE
#include "proc_helpers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#ifndef WEFT_EXAMPLES_DIR
#error "WEFT_EXAMPLES_DIR must name the directory of the built examples"
#endif

/* Generous: the machine may be loaded; a hang still ends in a failure. */
#define RUN_TIMEOUT 120.0

/* argv for examples/<name> with up to 3 arguments (NULL-terminated). */
typedef struct {
    char path[4096];
    char *argv[5];
} example_cmd_t;

static char *const *example(example_cmd_t *c, const char *name, const char *a1, const char *a2,
                            const char *a3)
{
    snprintf(c->path, sizeof c->path, "%s/%s", WEFT_EXAMPLES_DIR, name);
    char *argv[5] = {c->path, (char *)a1, (char *)a2, (char *)a3, NULL};
    memcpy(c->argv, argv, sizeof argv);
    return c->argv;
}

/* Run examples/<name> to completion and expect exit status `want`. */
static void run_example(wt_proc_t *p, const char *name, const char *a1, const char *a2, int want)
{
    example_cmd_t c;
    int status = wt_proc_run(p, example(&c, name, a1, a2, NULL), RUN_TIMEOUT);
    if (status != want) {
        print_error("%s exited with %d, expected %d; output:\n%s\n", name, status, want, p->out);
        fail();
    }
}

/* The integer printed right after `prefix` in the output (asserted). */
static long number_after(const wt_proc_t *p, const char *prefix)
{
    const char *at = strstr(p->out, prefix);
    if (at == NULL) {
        print_error("expected \"%s<number>\" in the output:\n%s\n", prefix, p->out);
        fail();
    }
    return strtol(at + strlen(prefix), NULL, 10);
}

/* ------------------------------------------------------------ run, compare */

/* A program run to completion: exit status 0 and these pieces of output. */
typedef struct {
    const char *name;
    const char *args[2];
    const char *expect[6];
    const char *bounded; /* if set: the number after it is in 1..max */
    long max;
    void (*more_checks)(const wt_proc_t *p);
} output_case_t;

static void check_output(const output_case_t *c)
{
    wt_proc_t p;
    run_example(&p, c->name, c->args[0], c->args[1], 0);
    for (size_t i = 0; i < sizeof c->expect / sizeof c->expect[0] && c->expect[i]; i++)
        wt_assert_output(&p, c->expect[i]);
    if (c->bounded != NULL) {
        long n = number_after(&p, c->bounded);
        assert_in_range(n, 1, c->max);
    }
    if (c->more_checks != NULL)
        c->more_checks(&p);
    wt_proc_free(&p);
}

/* One test per program, named after it. */
static void showcase(void)
{
    static const output_case_t c = {.name = "showcase", .expect = {
        "a 5 s operation under a 0.1 s deadline ends with WEFT_ETIMEDOUT",
        "the checksum computed on a pooled thread: 210",
        "showcase finished: everything behaved as described"}};
    check_output(&c);
}

/* 1^2 + ... + 3000^2, through 3 producers, 4 squarers and 1 summer */
static void pipeline(void)
{
    static const output_case_t c = {.name = "pipeline", .expect = {
        "summed 3000 squares: 9004500500 (expected 9004500500)",
        "a consumer took 10 items and closed its receiver",
        "3 of 3 endless producers stopped on WEFT_EPIPE",
        "pipeline: every item arrived, every task ended"}};
    check_output(&c);
}

static void start_service(void)
{
    static const output_case_t c = {.name = "start_service", .expect = {
        "weft_group_start returned: the greeter is listening on 127.0.0.1:",
        "client 3 got: \"hello, client 3 (from the greeter on port ",
        "a second greeter on the same port: weft_group_start returned EADDRINUSE",
        /* 3 clients before the failed start, 3 after: the group went on */
        "services stopped: 6 connection(s) served, group closed with OK",
        "start_service: done"}};
    check_output(&c);
}

/* A deadline far above what a fast request takes even on a loaded machine;
 * the slow server never answers, so its 4 requests time out.  "peak": the
 * semaphore's limit of 6 held. */
static void fetch_many(void)
{
    static const output_case_t c = {.name = "fetch_many", .args = {"--timeout", "3"}, .expect = {
        "#1  fast   ok: \"item 1: 1\"",
        "#23 fast   ok: \"item 23: 529\"",
        "#3  closed failed: ECONNREFUSED",
        "#24 slow   failed: WEFT_ETIMEDOUT",
        "16 ok, 4 timed out after 3.0 s, 4 refused"},
     .bounded = "peak ", .max = 6};
    check_output(&c);
}

static void thread_callbacks(void)
{
    static const output_case_t c = {.name = "thread_callbacks", .expect = {
        "token  (weft_from_thread_run_token): 20 readings received, sum 2100 (expected 2100), "
        "0 lost: OK\n",
        "portal (weft_portal_call): 20 readings received, sum 2100 (expected 2100), 0 lost: OK\n",
        "  portal stopped under the running sensor: its callback got WEFT_EBADF and stopped it; "
        "portal freed after joining it\n",
        "thread_callbacks: both bridges delivered every reading"}};
    check_output(&c);
}

/* Each request's id reaches its helper task, its blocking call and the
 * call back from there; main's line has none. */
static void request_id(void)
{
    static const output_case_t c = {.name = "request_id", .args = {"3"}, .expect = {
        "[no request] main      before any request\n",
        "[req-2] helper    profile fetched by a task the handler spawned\n",
        "[req-3] database  query done on a blocking thread\n",
        "[req-1] audit     recorded on a worker, called from the blocking thread\n",
        "request_id: 3 requests, 16 log lines, 0 with a wrong request id: OK\n"}};
    check_output(&c);
}

static void check_samples_removed(const wt_proc_t *p);

/* 48 sample files in a temporary directory, removed afterwards */
static void offload_blocking(void)
{
    static const output_case_t c = {.name = "offload_blocking", .expect = {
        "no directory given: wrote 48 sample files into /tmp/weft-offload-",
        "progress: 100% (48/48 files",
        "hashed 48 files",
        "(limiter of 4), 0 failed"},
     .bounded = "peak ", .max = 4, .more_checks = check_samples_removed};
    check_output(&c);
}

/* ------------------------------------------------------------ offload_blocking */

static uint64_t fnv1a(const void *data, size_t len)
{
    const unsigned char *b = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void expect_hash_line(const wt_proc_t *p, const void *data, size_t len, const char *name)
{
    char line[256];
    snprintf(line, sizeof line, "%016llx  %10zu  %s\n", (unsigned long long)fnv1a(data, len), len,
             name);
    wt_assert_output(p, line);
}

static void offload_blocking_dir(void)
{
    char dir[] = "/tmp/weft-test-offload-XXXXXX";
    assert_non_null(mkdtemp(dir));
    size_t big_len = 300000; /* several chunks of the example's 64 KiB */
    char *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 7 + i / 1000);
    write_file(dir, "empty", "", 0);
    write_file(dir, "a", "a", 1);
    write_file(dir, "foobar", "foobar", 6);
    write_file(dir, "big.bin", big, big_len);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/subdir", dir);
    assert_int_equal(mkdir(sub, 0700), 0); /* not a regular file: skipped */

    wt_proc_t p;
    example_cmd_t c;
    int status = wt_proc_run(&p, example(&c, "offload_blocking", dir, "-j", "2"), RUN_TIMEOUT);
    assert_int_equal(status, 0);
    wt_assert_output(&p, "hashing 4 files of");
    /* Known FNV-1a 64 values, and the test's own for the big file. */
    wt_assert_output(&p, "cbf29ce484222325           0  empty\n");
    wt_assert_output(&p, "af63dc4c8601ec8c           1  a\n");
    wt_assert_output(&p, "85944171f73967e8           6  foobar\n");
    expect_hash_line(&p, big, big_len, "big.bin");
    wt_assert_output(&p, "progress: 100% (4/4 files");
    wt_assert_output(&p, "(limiter of 2), 0 failed");
    long peak = number_after(&p, "peak ");
    assert_true(peak >= 1 && peak <= 2);
    wt_proc_free(&p);

    free(big);
    rmdir(sub);
    const char *names[] = {"empty", "a", "foobar", "big.bin"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* offload_blocking without a directory removes the one it made. */
static void check_samples_removed(const wt_proc_t *p)
{
    const char *removed = strstr(p->out, "removed /tmp/weft-offload-");
    if (removed == NULL) {
        print_error("expected \"removed <its directory>\" in the output:\n%s\n", p->out);
        fail();
    }
    char dir[256] = "";
    sscanf(removed, "removed %255s", dir);
    assert_int_not_equal(access(dir, F_OK), 0);
}

static void offload_blocking_missing_dir(void)
{
    wt_proc_t p;
    run_example(&p, "offload_blocking", "/nonexistent/weft-test-dir", NULL, 1);
    wt_assert_output(&p, "/nonexistent/weft-test-dir: No such file or directory");
    wt_proc_free(&p);
}

/* ------------------------------------------------------------ echo_server */

/* A blocking client socket connected to 127.0.0.1:port; receives give up
 * after 60 s instead of hanging the test. */
static int client_connect(long port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Read until EOF (or `len` bytes) into buf, NUL-terminated. */
static size_t client_read_all(int fd, char *buf, size_t len)
{
    size_t used = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + used, len - 1 - used, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    return used;
}

static void client_echo(int fd, const char *msg)
{
    size_t len = strlen(msg), got = 0;
    char buf[256];
    assert_true(len < sizeof buf);
    assert_int_equal(send(fd, msg, len, MSG_NOSIGNAL), (ssize_t)len);
    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_memory_equal(buf, msg, len);
}

/* Start echo_server (extra arguments a1 a2) and return its port. */
static long start_echo_server(wt_proc_t *p, const char *a1, const char *a2)
{
    example_cmd_t c;
    wt_proc_start(p, example(&c, "echo_server", a1, a2, NULL), NULL);
    if (!wt_proc_wait_for(p, "SIGINT or SIGTERM stops it\n", RUN_TIMEOUT)) {
        kill(p->pid, SIGKILL);
        wt_proc_finish(p, RUN_TIMEOUT);
        print_error("echo_server did not start:\n%s\n", p->out);
        fail();
    }
    return number_after(p, "listening on 127.0.0.1:");
}

static void stop_echo_server(wt_proc_t *p, int signum)
{
    assert_int_equal(kill(p->pid, signum), 0);
    int status = wt_proc_finish(p, RUN_TIMEOUT);
    if (status != 0) {
        print_error("echo_server exited with %d after signal %d:\n%s\n", status, signum, p->out);
        fail();
    }
}

static void echo_server_graceful_shutdown(void)
{
    wt_proc_t p;
    long port = start_echo_server(&p, NULL, NULL); /* idle timeout 30 s */
    int a = client_connect(port), b = client_connect(port);
    client_echo(a, "hello weft\n");
    client_echo(b, "second client\n");
    client_echo(a, "again\n");
    /* Both handlers are running now (they echoed): SIGTERM must reach them
     * as a cancellation, and each must still say goodbye. */
    stop_echo_server(&p, SIGTERM);
    char buf[256];
    client_read_all(a, buf, sizeof buf);
    assert_string_equal(buf, "server shutting down, bye\n");
    client_read_all(b, buf, sizeof buf);
    assert_string_equal(buf, "server shutting down, bye\n");
    close(a);
    close(b);
    wt_assert_output(&p, "echo_server: SIGTERM received, closing 2 open connection(s)\n");
    wt_assert_output(&p, "echo_server: shut down gracefully after 2 connection(s): 31 bytes echoed, "
                         "0 closed as idle, 2 told about the shutdown\n");
    wt_proc_free(&p);
}

static void echo_server_idle_timeout(void)
{
    wt_proc_t p;
    long port = start_echo_server(&p, "--idle", "0.3");
    int a = client_connect(port);
    client_echo(a, "ping\n");
    char buf[256]; /* then silence: the server gives up on us */
    client_read_all(a, buf, sizeof buf);
    assert_string_equal(buf, "idle timeout, bye\n");
    close(a);
    stop_echo_server(&p, SIGINT);
    wt_assert_output(&p, "echo_server: SIGINT received, closing 0 open connection(s)\n");
    wt_assert_output(&p, "after 1 connection(s): 5 bytes echoed, 1 closed as idle, 0 told about the "
                         "shutdown\n");
    wt_proc_free(&p);
}

/* --tls: a certificate made for the test, openssl s_client as the client
 * (its stdin empty: it only reads).  The handler handshakes, waits --idle,
 * says goodbye over TLS and sends close_notify, on which s_client ends. */
static void echo_server_tls(void)
{
    weft_tls_ctx_t *probe;
    if (weft_tls_client_ctx_new(&probe, NULL) == WEFT_ENOSYS ||
        access("/usr/bin/openssl", X_OK) != 0) {
        print_message("skipped: no TLS in this build, or no /usr/bin/openssl\n");
        return;
    }
    weft_tls_ctx_free(probe);
    char dir[] = "/tmp/weft-echo-tls-XXXXXX", cmd[512], cert[64], key[64], connect_to[32];
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
             " -subj /CN=localhost -keyout %s -out %s >/dev/null 2>&1", key, cert);
    assert_int_equal(system(cmd), 0);
    wt_proc_t p, c;
    example_cmd_t ec;
    example(&ec, "echo_server", NULL, NULL, NULL); /* its path; more arguments than it takes: */
    char *argv[] = {ec.path, "--idle", "0.3", "--tls", cert, key, NULL};
    wt_proc_start(&p, argv, NULL);
    if (!wt_proc_wait_for(&p, "SIGINT or SIGTERM stops it\n", RUN_TIMEOUT)) {
        kill(p.pid, SIGKILL);
        wt_proc_finish(&p, RUN_TIMEOUT);
        print_error("echo_server --tls did not start:\n%s\n", p.out);
        fail();
    }
    wt_assert_output(&p, "(TLS)");
    snprintf(connect_to, sizeof connect_to, "127.0.0.1:%ld",
             number_after(&p, "listening on 127.0.0.1:"));
    char *client[] = {"/usr/bin/openssl", "s_client", "-quiet", "-connect", connect_to, NULL};
    wt_proc_start(&c, client, NULL);
    wt_proc_finish(&c, RUN_TIMEOUT); /* ends at the server's close_notify */
    wt_assert_output(&c, "idle timeout, bye\n");
    stop_echo_server(&p, SIGTERM);
    wt_assert_output(&p, "after 1 connection(s): 0 bytes echoed, 1 closed as idle, 0 told about the "
                         "shutdown\n");
    wt_proc_free(&c);
    wt_proc_free(&p);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ------------------------------------------------------------ real clients
 *
 * http_server and kv_server under the clients their users already trust:
 * curl and wrk, redis-cli and redis-benchmark.  Each case runs its server
 * for a few seconds; a client that is not installed skips the case (make
 * deps installs them: cmake/deps.sh). */

/* The full path of a program in PATH, into path; 0 when there is none. */
static int find_client(const char *name, char *path, size_t len)
{
    const char *dirs = getenv("PATH");
    if (!dirs)
        dirs = "/usr/bin:/bin";
    for (const char *d = dirs; *d;) {
        size_t n = strcspn(d, ":");
        snprintf(path, len, "%.*s/%s", (int)n, d, name);
        if (n > 0 && access(path, X_OK) == 0)
            return 1;
        d += n + (d[n] == ':');
    }
    return 0;
}

/* Skip the case unless every client named (NULL-terminated) is installed. */
static void need_clients(const char *const *names)
{
    char path[4096];
    for (; *names; names++)
        if (!find_client(*names, path, sizeof path)) {
            print_message("%s is not installed (Debian: make deps): skipped\n", *names);
            skip();
        }
}

/* Run a client, argv[0] a name looked up in PATH; its output in p. */
static int run_client(wt_proc_t *p, const char *const *argv)
{
    char path[4096];
    char *args[24];
    size_t n = 0;
    assert_true(find_client(argv[0], path, sizeof path));
    args[n++] = path;
    for (size_t i = 1; argv[i] && n < 23; i++)
        args[n++] = (char *)argv[i];
    args[n] = NULL;
    return wt_proc_run(p, args, RUN_TIMEOUT);
}

/* Run a client that must exit 0 and print exactly `want`. */
static void expect_client(const char *want, const char *const *argv)
{
    wt_proc_t p;
    int status = run_client(&p, argv);
    if (status != 0 || strcmp(p.out, want) != 0) {
        print_error("%s %s ... exited with %d and printed:\n\"%s\"\nexpected:\n\"%s\"\n",
                    argv[0], argv[1], status, p.out, want);
        fail();
    }
    wt_proc_free(&p);
}

/* Start examples/<name> with arguments (up to 3) and return its port. */
static long start_server(wt_proc_t *p, const char *name, const char *a1, const char *a2,
                         const char *a3)
{
    example_cmd_t c;
    wt_proc_start(p, example(&c, name, a1, a2, a3), NULL);
    if (!wt_proc_wait_for(p, "SIGINT or SIGTERM stops it\n", RUN_TIMEOUT)) {
        kill(p->pid, SIGKILL);
        wt_proc_finish(p, RUN_TIMEOUT);
        print_error("%s did not start:\n%s\n", name, p->out);
        fail();
    }
    return number_after(p, "listening on 127.0.0.1:");
}

/* SIGTERM: exit 0 and say so. */
static void stop_server(wt_proc_t *p, const char *name)
{
    assert_int_equal(kill(p->pid, SIGTERM), 0);
    int status = wt_proc_finish(p, RUN_TIMEOUT);
    char want[64];
    snprintf(want, sizeof want, "%s: shut down gracefully", name);
    if (status != 0 || !strstr(p->out, want)) {
        print_error("%s exited with %d after SIGTERM:\n%s\n", name, status, p->out);
        fail();
    }
}

static void send_all(int fd, const char *msg, size_t len)
{
    assert_int_equal(send(fd, msg, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* ------------------------------------------------------------ http_server */

#define HELLO_200 \
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

static void http_server_curl(void)
{
    static const char *const clients[] = {"curl", NULL};
    need_clients(clients);
    wt_proc_t srv;
    long port = start_server(&srv, "http_server", NULL, NULL, NULL);
    char url[128], big[9000];
    snprintf(url, sizeof url, "http://127.0.0.1:%ld", port);
    char root[160], work[160], echo[160], nope[160];
    snprintf(root, sizeof root, "%s/", url);
    snprintf(work, sizeof work, "%s/work?ms=20", url);
    snprintf(echo, sizeof echo, "%s/echo", url);
    snprintf(nope, sizeof nope, "%s/nope", url);
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "X-Big: ", 7);
    big[sizeof big - 1] = '\0';
    const char *w = "-w", *code = " %{http_code}";
    /* Two requests on one connection: keep-alive ("Re-using" in -v). */
    expect_client("Hello, World! 200Hello, World! 200",
                  (const char *[]){"curl", "-s", w, code, root, root, NULL});
    expect_client("worked 20 ms\n 200", (const char *[]){"curl", "-s", w, code, work, NULL});
    expect_client("some body\n 200", (const char *[]){"curl", "-s", w, code, "--data-binary",
                                                       "some body\n", echo, NULL});
    expect_client("Not Found\n 404", (const char *[]){"curl", "-s", w, code, nope, NULL});
    expect_client(" 501", (const char *[]){"curl", "-s", w, code, "-X", "PUT", root, NULL});
    expect_client(" 431", (const char *[]){"curl", "-s", w, code, "-H", big, root, NULL});

    /* Raw: pipelined requests answered in order, then 400 and the close;
     * a body too large: 413. */
    int fd = client_connect(port);
    const char *reqs = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                       "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                       "GET / HTTP/1.1\r\n\r\n"
                       "BROKEN\r\n\r\n";
    send_all(fd, reqs, strlen(reqs));
    char buf[2048];
    client_read_all(fd, buf, sizeof buf);
    assert_string_equal(buf, HELLO_200
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
                        "hello"
                        HELLO_200
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                        "Content-Length: 0\r\n"
                        "Connection: close\r\n\r\n");
    close(fd);
    fd = client_connect(port);
    const char *huge = "POST /echo HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n";
    send_all(fd, huge, strlen(huge));
    client_read_all(fd, buf, sizeof buf);
    assert_string_equal(buf, "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 0\r\nConnection: close\r\n\r\n");
    close(fd);
    stop_server(&srv, "http_server");
    wt_proc_free(&srv);
}

/* wrk's request count: the number before " requests in " (-1 if none). */
static long wrk_requests(const char *out)
{
    const char *at = strstr(out, " requests in ");
    if (!at)
        return -1;
    while (at > out && at[-1] >= '0' && at[-1] <= '9')
        at--;
    return strtol(at, NULL, 10);
}

static void run_wrk(long port, const char *path)
{
    char url[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%ld%s", port, path);
    wt_proc_t p;
    int status = run_client(&p, (const char *[]){"wrk", "-t2", "-c32", "-d2s", "--timeout", "10s",
                                                 url, NULL});
    /* wrk prints "Non-2xx or 3xx responses: N" and "Socket errors: ..."
     * only when there were some. */
    if (status != 0 || strstr(p.out, "Non-2xx") || strstr(p.out, "Socket errors") ||
        wrk_requests(p.out) <= 0) {
        print_error("wrk %s: status %d, output:\n%s\n", path, status, p.out);
        fail();
    }
    wt_proc_free(&p);
}

static void http_server_wrk(void)
{
    static const char *const clients[] = {"wrk", NULL};
    need_clients(clients);
    wt_proc_t srv;
    long port = start_server(&srv, "http_server", NULL, NULL, NULL);
    run_wrk(port, "/");
    run_wrk(port, "/work?ms=1"); /* 4 threads at most for 32 connections */
    stop_server(&srv, "http_server");
    wt_proc_free(&srv);
}

/* Whether a thread of process pid is called `name` (/proc/PID/task/TID/comm). */
static int thread_named(pid_t pid, const char *name)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        char path[400], comm[32] = "";
        snprintf(path, sizeof path, "%s/%s/comm", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (f && fgets(comm, sizeof comm, f))
            found = strncmp(comm, name, strlen(name)) == 0 && comm[strlen(name)] == '\n';
        if (f)
            fclose(f);
    }
    closedir(d);
    return found;
}

/* SIGTERM with a request in progress: it is answered (and the connection
 * closed), an idle keep-alive connection is closed, the exit status is 0. */
static void http_server_sigterm(void)
{
    wt_proc_t srv;
    long port = start_server(&srv, "http_server", NULL, NULL, NULL);
    int idle = client_connect(port), busy = client_connect(port);
    const char *get = "GET / HTTP/1.1\r\n\r\n";
    send_all(idle, get, strlen(get));
    char buf[512];
    size_t got = 0;
    while (got < strlen(HELLO_200)) {
        ssize_t n = recv(idle, buf + got, sizeof buf - 1 - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    const char *slow = "GET /work?ms=1500 HTTP/1.1\r\n\r\n";
    send_all(busy, slow, strlen(slow));
    /* In progress once a blocking thread carries the work's name. */
    int busy_seen = 0;
    for (int i = 0; i < 2000 && !busy_seen; i++) {
        busy_seen = thread_named(srv.pid, "http-work");
        if (!busy_seen)
            usleep(5000);
    }
    assert_true(busy_seen);
    assert_int_equal(kill(srv.pid, SIGTERM), 0);
    client_read_all(idle, buf, sizeof buf);
    assert_string_equal(buf, ""); /* closed without a word */
    client_read_all(busy, buf, sizeof buf);
    assert_string_equal(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n"
                             "Connection: close\r\n\r\nworked 1500 ms\n");
    close(idle);
    close(busy);
    int status = wt_proc_finish(&srv, RUN_TIMEOUT);
    assert_int_equal(status, 0);
    wt_assert_output(&srv, "http_server: SIGTERM received, finishing the requests in progress\n");
    wt_assert_output(&srv, "http_server: shut down gracefully: 2 request(s) on 2 connection(s)\n");
    wt_proc_free(&srv);
}

/* ------------------------------------------------------------ kv_server */

static void kv_server_redis_cli(void)
{
    static const char *const clients[] = {"redis-cli", NULL};
    need_clients(clients);
    wt_proc_t srv;
    long port = start_server(&srv, "kv_server", NULL, NULL, NULL);
    char pt[16];
    snprintf(pt, sizeof pt, "%ld", port);
    /* Replies as redis-cli prints them to a pipe, byte for byte. */
    static const struct { const char *want, *cmd[6]; } steps[] = {
        {"PONG\n", {"PING"}},
        {"hello weft\n", {"PING", "hello weft"}},
        {"OK\n", {"SET", "greeting", "hi there"}},
        {"hi there\n", {"GET", "greeting"}},
        {"\n", {"GET", "missing"}},
        {"1\n", {"INCR", "hits"}},
        {"2\n", {"INCR", "hits"}},
        {"ERR value is not an integer or out of range\n\n", {"INCR", "greeting"}},
        {"2\n", {"EXISTS", "greeting", "hits", "missing"}},
        {"1\n", {"DEL", "greeting", "missing"}},
        {"0\n", {"EXISTS", "greeting"}},
        {"echo me\n", {"ECHO", "echo me"}},
        {"1\n", {"DBSIZE"}},
        {"ERR unknown command 'NOPE'\n\n", {"NOPE"}},
        {"ERR wrong number of arguments for 'GET' command\n\n", {"GET"}},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const char *argv[10] = {"redis-cli", "-p", pt};
        for (size_t k = 0; k < 6 && steps[i].cmd[k]; k++)
            argv[3 + k] = steps[i].cmd[k];
        expect_client(steps[i].want, argv);
    }
    /* Raw RESP, pipelined in one write, and an inline command. */
    int fd = client_connect(port);
    static const char pipelined[] = "*3\r\n$3\r\nSET\r\n$11\r\nbinary\r\nkey\r\n$3\r\na\0b\r\n"
                                    "*2\r\n$3\r\nGET\r\n$11\r\nbinary\r\nkey\r\n"
                                    "INCR hits\r\n"
                                    "*1\r\n$4\r\nQUIT\r\n";
    send_all(fd, pipelined, sizeof pipelined - 1);
    char buf[256];
    size_t n = client_read_all(fd, buf, sizeof buf);
    assert_int_equal(n, 5 + 9 + 4 + 5);
    assert_memory_equal(buf, "+OK\r\n$3\r\na\0b\r\n:3\r\n+OK\r\n", n);
    close(fd);
    stop_server(&srv, "kv_server");
    wt_proc_free(&srv);
}

/* redis-benchmark's INCR load (pipelined and not) lands exactly; the
 * snapshots taken while serving and at the end hold the counter. */
static void kv_server_benchmark(void)
{
    static const char *const clients[] = {"redis-cli", "redis-benchmark", NULL};
    need_clients(clients);
    char snap[] = "/tmp/weft-test-kv-XXXXXX";
    int sfd = mkstemp(snap);
    assert_true(sfd >= 0);
    close(sfd);
    unlink(snap);
    wt_proc_t srv;
    long port = start_server(&srv, "kv_server", "--snapshot", snap, NULL);
    char pt[16];
    snprintf(pt, sizeof pt, "%ld", port);
    wt_proc_t p;
    int status = run_client(&p, (const char *[]){"redis-benchmark", "-p", pt, "-q", "-c", "20",
                                                 "-n", "10000", "-t", "ping,set,get,incr",
                                                 NULL});
    if (status != 0 || strstr(p.out, "rror") || !strstr(p.out, "INCR: ")) {
        print_error("redis-benchmark: status %d:\n%s\n", status, p.out);
        fail();
    }
    wt_proc_free(&p);
    status = run_client(&p, (const char *[]){"redis-benchmark", "-p", pt, "-q", "-c", "20",
                                             "-n", "20000", "-P", "16", "-t", "incr", NULL});
    if (status != 0 || strstr(p.out, "rror") || !strstr(p.out, "INCR: ")) {
        print_error("redis-benchmark -P 16: status %d:\n%s\n", status, p.out);
        fail();
    }
    wt_proc_free(&p);
    expect_client("30000\n",
                  (const char *[]){"redis-cli", "-p", pt, "GET", "counter:__rand_int__", NULL});
    /* A snapshot written while serving (every second by default). */
    struct stat st;
    for (int i = 0; i < 300 && stat(snap, &st) != 0; i++)
        usleep(10 * 1000);
    assert_int_equal(stat(snap, &st), 0);
    stop_server(&srv, "kv_server");
    wt_proc_free(&srv);
    /* The last one, written at the end: the counter's final value. */
    FILE *f = fopen(snap, "rb");
    assert_non_null(f);
    char data[4096];
    size_t n = fread(data, 1, sizeof data - 1, f);
    fclose(f);
    data[n] = '\0';
    assert_non_null(
        strstr(data, "*3\r\n$3\r\nSET\r\n$20\r\ncounter:__rand_int__\r\n$5\r\n30000\r\n"));
    unlink(snap);
}

static const wt_case_t cases[] = {
    WT_TEST(showcase),
    WT_TEST(pipeline),
    WT_TEST(start_service),
    WT_TEST(fetch_many),
    WT_TEST(thread_callbacks),
    WT_TEST(request_id),
    WT_TEST(offload_blocking),
    WT_TEST(offload_blocking_dir),
    WT_TEST(offload_blocking_missing_dir),
    WT_TEST(echo_server_graceful_shutdown),
    WT_TEST(echo_server_idle_timeout),
    WT_TEST(http_server_curl),
    WT_TEST(http_server_wrk),
    WT_TEST(http_server_sigterm),
    WT_TEST(kv_server_redis_cli),
    WT_TEST(kv_server_benchmark),
    WT_TEST(echo_server_tls),
};
WT_SUITE(cases)
