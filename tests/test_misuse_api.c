/* Misuse of every public function, grouped by area: NULL / invalid arguments
 * (WEFT_EINVAL, or for void functions: no crash), [fiber] calls from a plain
 * thread with live objects (WEFT_EPERM), [thread] calls from a task
 * (WEFT_EPERM), wrong owners (WEFT_EPERM) and closed or finished handles
 * (WEFT_EBADF).  test_misuse.c covers the group calls and the scheduling
 * calls from plain threads; this suite covers the rest of the API.
 *
 * Every check is an EXPECT_RC (thread-safe), so the same checking functions
 * run on the test thread, in tasks and on plain threads started by a task;
 * WT_SUITE checks them after each case.
 */
#define _GNU_SOURCE
#include "thread_helpers.h"

#include <weft/test.h>

#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* WEFT_TEST_TIMEOUT 120 */

static int nop(void *arg)
{
    (void)arg;
    return 0;
}

static int nop_handler(weft_stream_t *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;
}

/* Statistics of a NULL object are zeroes: fill with ones, expect zeroes. */
#define EXPECT_ZEROED_STATS(fn, type)                                          \
    do {                                                                       \
        type st_;                                                              \
        memset(&st_, 0xff, sizeof st_);                                        \
        fn(NULL, &st_);                                                        \
        type zero_;                                                            \
        memset(&zero_, 0, sizeof zero_);                                       \
        EXPECT(memcmp(&st_, &zero_, sizeof st_) == 0);                         \
    } while (0)

/* ------------------------------------------------------------ any context: NULL / invalid */

static void errors_never_null(void)
{
    static const int codes[] = {0, 1, -1, WEFT_EOF, WEFT_EGROUP, WEFT_ENOTSTARTED, -4000,
                                -4096, -99999, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        EXPECT(weft_strerror(codes[i]) != NULL);
        EXPECT(weft_err_name(codes[i]) != NULL);
    }
}

/* Scope calls on NULL: no crash, neutral answers. */
static void scope_null(void)
{
    weft_scope_enter(NULL, WEFT_FOREVER, 0);
    weft_move_on_after(NULL, 1.0);
    weft_fail_after(NULL, 1.0);
    EXPECT_RC(weft_scope_exit(NULL, 0), WEFT_EINVAL);
    weft_scope_cancel(NULL);
    weft_scope_set_deadline(NULL, 0);
    weft_scope_set_shield(NULL, 1);
    EXPECT(weft_scope_deadline(NULL) == WEFT_FOREVER);
    EXPECT_RC(weft_scope_cancel_called(NULL), 0);
    EXPECT_RC(weft_scope_cancelled_caught(NULL), 0);
    weft_group_cancel(NULL);
    EXPECT(weft_group_failure_count(NULL) == 0);
}

static void sync_null(void)
{
    weft_lock_t *lock = NULL;
    weft_sem_t *sem = NULL;
    weft_cond_t *cond = NULL;

    EXPECT_RC(weft_event_new(NULL), WEFT_EINVAL);
    weft_event_free(NULL);
    weft_event_set(NULL);
    EXPECT_RC(weft_event_is_set(NULL), 0);
    EXPECT_ZEROED_STATS(weft_event_stats, weft_event_stats_t);

    EXPECT_RC(weft_lock_new(NULL), WEFT_EINVAL);
    weft_lock_free(NULL);
    EXPECT_RC(weft_lock_locked(NULL), 0);
    EXPECT_ZEROED_STATS(weft_lock_stats, weft_lock_stats_t);

    EXPECT_RC(weft_sem_new(NULL, 1, 0), WEFT_EINVAL);
    EXPECT_RC(weft_sem_new(&sem, 2, 1), WEFT_EINVAL); /* initial > max_value > 0 */
    EXPECT(sem == NULL);
    weft_sem_free(NULL);
    EXPECT_RC(weft_sem_try_acquire(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_sem_release(NULL), WEFT_EINVAL);
    EXPECT(weft_sem_value(NULL) == 0);
    EXPECT_ZEROED_STATS(weft_sem_stats, weft_sem_stats_t);
    EXPECT_RC(weft_sem_new(&sem, 1, 1), 0);
    EXPECT_RC(weft_sem_release(sem), WEFT_EINVAL); /* above max_value */
    EXPECT(weft_sem_value(sem) == 1);
    weft_sem_free(sem);

    EXPECT_RC(weft_lock_new(&lock), 0);
    EXPECT_RC(weft_cond_new(NULL, lock), WEFT_EINVAL);
    EXPECT_RC(weft_cond_new(&cond, NULL), WEFT_EINVAL);
    EXPECT(cond == NULL);
    weft_cond_free(NULL);
    weft_cond_notify(NULL, 1);
    weft_cond_notify_all(NULL);
    EXPECT_ZEROED_STATS(weft_cond_stats, weft_cond_stats_t);
    weft_lock_free(lock);
}

static void channel_null(void)
{
    weft_sender_t *tx = NULL, *tx2 = NULL;
    weft_receiver_t *rx = NULL, *rx2 = NULL;
    void *item = NULL;

    EXPECT_RC(weft_channel(0, NULL, &rx), WEFT_EINVAL);
    EXPECT_RC(weft_channel(0, &tx, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_channel_open(0, NULL, &tx, NULL), WEFT_EINVAL);
    weft_channel_opts_init(NULL);
    EXPECT(tx == NULL && rx == NULL);
    EXPECT_RC(weft_send_nowait(NULL, &item), WEFT_EINVAL);
    EXPECT_RC(weft_recv_nowait(NULL, &item), WEFT_EINVAL);
    EXPECT_RC(weft_sender_clone(NULL, &tx2), WEFT_EINVAL);
    EXPECT_RC(weft_receiver_clone(NULL, &rx2), WEFT_EINVAL);
    weft_sender_close(NULL);
    weft_receiver_close(NULL);
    EXPECT_ZEROED_STATS(weft_sender_stats, weft_channel_stats_t);
    EXPECT_ZEROED_STATS(weft_receiver_stats, weft_channel_stats_t);

    EXPECT_RC(weft_channel(1, &tx, &rx), 0);
    EXPECT_RC(weft_recv_nowait(rx, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_sender_clone(tx, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_receiver_clone(rx, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_recv_nowait(rx, &item), WEFT_EAGAIN);
    weft_sender_close(tx);
    EXPECT_RC(weft_recv_nowait(rx, &item), WEFT_EOF);
    weft_receiver_close(rx);
}

static void limiter_null(void)
{
    weft_limiter_t *l = NULL;
    static int borrower;

    EXPECT_RC(weft_limiter_new(NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_new(&l, 0), WEFT_EINVAL);
    EXPECT(l == NULL);
    weft_limiter_free(NULL);
    EXPECT_RC(weft_limiter_try_acquire(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(NULL, &borrower), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_release(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_release_on_behalf_of(NULL, &borrower), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_set_total_tokens(NULL, 1), WEFT_EINVAL);
    EXPECT_ZEROED_STATS(weft_limiter_stats, weft_limiter_stats_t);

    EXPECT_RC(weft_limiter_new(&l, 1), 0);
    EXPECT_RC(weft_limiter_set_total_tokens(l, 0), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(l, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, NULL), WEFT_EINVAL);
    /* Wrong owner: releasing a token not held. */
    EXPECT_RC(weft_limiter_release(l), WEFT_EPERM);
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &borrower), WEFT_EPERM);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(l, &borrower), 0);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(l, &borrower), WEFT_EPERM);
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &borrower), 0);
    weft_limiter_free(l);
}

static void thread_bridge_null(void)
{
    weft_future_t *f = NULL;
    weft_token_release(NULL);
    EXPECT_RC(weft_portal_spawn(NULL, nop, NULL, &f), WEFT_EINVAL);
    EXPECT(f == NULL);
    EXPECT_RC(weft_future_wait(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_future_done(NULL), 0);
    weft_future_cancel(NULL);
    weft_future_free(NULL);
    EXPECT_RC(weft_portal_stop(NULL, 0), WEFT_EINVAL);
    weft_portal_free(NULL);
    EXPECT(weft_portal_token(NULL) == NULL);
}

/* I/O calls not marked [fiber] (answers about an object, frees). */
static void io_any_thread_null(void)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    EXPECT_RC(weft_stream_local_address(NULL, (struct sockaddr *)&ss, &len), WEFT_EINVAL);
    EXPECT_RC(weft_stream_remote_address(NULL, (struct sockaddr *)&ss, &len), WEFT_EINVAL);
    EXPECT_RC(weft_listener_port(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_udp_port(NULL), WEFT_EINVAL);
    weft_freeaddrinfo(NULL);
    EXPECT(weft_process_stdin(NULL) == NULL);
    EXPECT(weft_process_stdout(NULL) == NULL);
    EXPECT(weft_process_stderr(NULL) == NULL);
    EXPECT_RC(weft_process_pid(NULL), WEFT_EINVAL);
    weft_process_result_free(NULL);
}

/* Task-local values: keys work anywhere; NULL keys are refused. */
static void local_null(void)
{
    int v = 0;
    EXPECT_RC(weft_local_new(NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_local_set(NULL, &v), WEFT_EINVAL);
    EXPECT(weft_local_get(NULL) == NULL);
    weft_local_free(NULL);
}

/* TLS: WEFT_ENOSYS instead of WEFT_EINVAL in a build without it. */
#define EXPECT_EINVAL_OR_NOTLS(call)                                           \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != WEFT_EINVAL && rc_ != WEFT_ENOSYS)                          \
            EXPECT_RC(rc_, WEFT_EINVAL);                                       \
    } while (0)

static void tls_null(void)
{
    weft_tls_ctx_t *c = NULL;
    weft_tls_opts_init(NULL);
    weft_tls_ctx_free(NULL);
    EXPECT(weft_tls_alpn_selected(NULL) == NULL);
    EXPECT(weft_tls_last_error() != NULL);
    EXPECT_EINVAL_OR_NOTLS(weft_tls_client_ctx_new(NULL, NULL));
    EXPECT_EINVAL_OR_NOTLS(weft_tls_server_ctx_new(NULL, NULL));
    EXPECT_EINVAL_OR_NOTLS(weft_tls_server_ctx_new(&c, NULL)); /* no certificate */
    EXPECT(c == NULL);
    EXPECT_EINVAL_OR_NOTLS(weft_tls_ctx_reload(NULL, NULL, NULL));
}

static void any_context_checks(void)
{
    tls_null();
    errors_never_null();
    scope_null();
    sync_null();
    channel_null();
    limiter_null();
    thread_bridge_null();
    io_any_thread_null();
    local_null();
}

/* On the test thread, no runtime anywhere. */
static void null_args_plain_thread(void)
{
    any_context_checks();
    /* Plain-thread answers of the context queries. */
    EXPECT(weft_default_thread_limiter() == NULL);
    EXPECT(weft_current_token() == NULL);
    EXPECT(weft_current_task_name() == NULL);
    EXPECT_RC(weft_from_thread_run(nop, NULL), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_run_sync(nop, NULL), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_check_cancelled(), WEFT_EPERM);
    EXPECT_RC(weft_portal_start(NULL, NULL), WEFT_EINVAL);
    /* [thread] calls (from a task they return WEFT_EPERM first). */
    EXPECT_RC(weft_from_thread_run_token(NULL, nop, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_from_thread_run_sync_token(NULL, nop, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_portal_call(NULL, nop, NULL), WEFT_EINVAL);
    int result = 1;
    EXPECT_RC(weft_test_run_timed(NULL, NULL, 1, 1, NULL, &result), WEFT_EINVAL);
    EXPECT_RC(weft_test_run_timed(nop, NULL, 1, 1, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_test_run_timed(nop, NULL, 0, 1, NULL, &result), WEFT_EINVAL);
    EXPECT_RC(weft_test_run_timed(nop, NULL, NAN, 1, NULL, &result), WEFT_EINVAL);
    EXPECT_RC(weft_test_run_timed(nop, NULL, 1, -1, NULL, &result), WEFT_EINVAL);
    EXPECT_RC(weft_test_run_timed(nop, NULL, 1, NAN, NULL, &result), WEFT_EINVAL);
    EXPECT(result == 1);
}

/* ------------------------------------------------------------ in a task: NULL / invalid */

static void sync_null_in_task(void)
{
    weft_lock_t *lock = NULL;
    weft_cond_t *cond = NULL;
    EXPECT_RC(weft_event_wait(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_lock_acquire(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_lock_try_acquire(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_lock_release(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_sem_acquire(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_cond_wait(NULL), WEFT_EINVAL);

    /* Wrong owner. */
    EXPECT_RC(weft_lock_new(&lock), 0);
    EXPECT_RC(weft_cond_new(&cond, lock), 0);
    EXPECT_RC(weft_lock_release(lock), WEFT_EPERM);
    EXPECT_RC(weft_cond_wait(cond), WEFT_EPERM); /* lock not held */
    EXPECT_RC(weft_lock_acquire(lock), 0);
    EXPECT_RC(weft_lock_acquire(lock), WEFT_EPERM);
    EXPECT_RC(weft_lock_try_acquire(lock), WEFT_EPERM);
    EXPECT_RC(weft_lock_release(lock), 0);
    weft_cond_free(cond);
    weft_lock_free(lock);
}

static void channel_null_in_task(void)
{
    weft_sender_t *tx = NULL;
    weft_receiver_t *rx = NULL;
    void *item = NULL;
    EXPECT_RC(weft_send(NULL, &item), WEFT_EINVAL);
    EXPECT_RC(weft_recv(NULL, &item), WEFT_EINVAL);
    EXPECT_RC(weft_channel(1, &tx, &rx), 0);
    EXPECT_RC(weft_recv(rx, NULL), WEFT_EINVAL);
    weft_sender_close(tx);
    weft_receiver_close(rx);
}

static void thread_bridge_null_in_task(void)
{
    static int borrower;
    weft_limiter_t *l = NULL;
    EXPECT_RC(weft_limiter_acquire(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(NULL, &borrower), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_new(&l, 1), 0);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(l, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_acquire(l), 0);
    EXPECT_RC(weft_limiter_acquire(l), WEFT_EPERM); /* one token per borrower */
    EXPECT_RC(weft_limiter_try_acquire(l), WEFT_EPERM);
    EXPECT_RC(weft_limiter_release(l), 0);
    weft_limiter_free(l);

    EXPECT_RC(weft_to_thread_run_sync(NULL, NULL, NULL), WEFT_EINVAL);
    EXPECT(weft_default_thread_limiter() != NULL);

    /* [thread] calls from a task would wait for themselves. */
    weft_token_t *t = WT_CURRENT_TOKEN();
    weft_portal_t *p = NULL;
    EXPECT_RC(weft_from_thread_run(nop, NULL), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_run_sync(nop, NULL), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_run_token(t, nop, NULL), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_run_sync_token(t, nop, NULL), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_run_token(t, NULL, NULL), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_run_sync_token(t, NULL, NULL), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_check_cancelled(), WEFT_EPERM);
    EXPECT_RC(weft_run(nop, NULL, NULL), WEFT_EPERM);
    int result = 1;
    EXPECT_RC(weft_test_run_timed(nop, NULL, 1, 1, NULL, &result), WEFT_EPERM);
    EXPECT(result == 1);
    EXPECT_RC(weft_portal_start(&p, NULL), WEFT_EPERM);
    EXPECT(p == NULL);
    weft_token_release(t);
}

static void stream_null_in_task(void)
{
    char buf[4] = {0};
    weft_stream_t *s = NULL;
    EXPECT_RC(weft_stream_receive(NULL, buf, sizeof buf), WEFT_EINVAL);
    EXPECT_RC(weft_stream_send(NULL, buf, sizeof buf), WEFT_EINVAL);
    EXPECT_RC(weft_stream_send_eof(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_stream_close(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_stream_set_nodelay(NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_set_keepalive(NULL, 1, 10), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_connect(NULL, "127.0.0.1", 1), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_connect(&s, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_connect(&s, "127.0.0.1", -1), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_connect(&s, "127.0.0.1", 65536), WEFT_EINVAL);
    EXPECT_RC(weft_unix_connect(NULL, "/nonexistent"), WEFT_EINVAL);
    EXPECT_RC(weft_unix_connect(&s, NULL), WEFT_EINVAL);
    EXPECT_EINVAL_OR_NOTLS(weft_tls_wrap(NULL, NULL, NULL, NULL));
    EXPECT_EINVAL_OR_NOTLS(weft_tls_wrap(&s, NULL, NULL, NULL));
    EXPECT_EINVAL_OR_NOTLS(weft_tls_connect(NULL, "127.0.0.1", 1, NULL));
    EXPECT_EINVAL_OR_NOTLS(weft_tls_connect(&s, NULL, 1, NULL));
    EXPECT(s == NULL);
}

static void listener_null_in_task(void)
{
    weft_listener_t *l = NULL;
    weft_stream_t *s = NULL;
    EXPECT_RC(weft_tcp_listen(NULL, "127.0.0.1", 0, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", -1, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 65536, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_unix_listen(NULL, "/tmp/x", NULL), WEFT_EINVAL);
    EXPECT_RC(weft_unix_listen(&l, NULL, NULL), WEFT_EINVAL);
    EXPECT(l == NULL);
    EXPECT_RC(weft_listener_accept(NULL, &s), WEFT_EINVAL);
    EXPECT_RC(weft_listener_close(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_serve(NULL, nop_handler, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_serve_ex(NULL, nop_handler, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_stream_cancel_on_hangup(NULL, NULL), WEFT_EINVAL);

    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    EXPECT_RC(weft_listener_accept(l, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_serve(l, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_serve_ex(l, NULL, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_listener_close(l), 0);
}

static void udp_null_in_task(void)
{
    char buf[4] = {0};
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    weft_udp_t *u = NULL;
    EXPECT_RC(weft_udp_open(NULL, "127.0.0.1", 0, NULL, 0), WEFT_EINVAL);
    EXPECT_RC(weft_udp_open(&u, "127.0.0.1", -1, NULL, 0), WEFT_EINVAL);
    EXPECT(u == NULL);
    EXPECT_RC(weft_udp_send_to(NULL, buf, 1, (struct sockaddr *)&ss), WEFT_EINVAL);
    EXPECT_RC(weft_udp_send(NULL, buf, 1), WEFT_EINVAL);
    EXPECT_RC(weft_udp_receive_from(NULL, buf, sizeof buf, (struct sockaddr *)&ss, &len),
              WEFT_EINVAL);
    EXPECT_RC(weft_udp_receive(NULL, buf, sizeof buf), WEFT_EINVAL);
    EXPECT_RC(weft_udp_close(NULL), WEFT_EINVAL);

    EXPECT_RC(weft_udp_open(&u, "127.0.0.1", 0, NULL, 0), 0);
    EXPECT_RC(weft_udp_send_to(u, buf, 1, NULL), WEFT_EINVAL); /* not connected */
    EXPECT_RC(weft_udp_send(u, buf, 1), WEFT_EINVAL);
    EXPECT_RC(weft_udp_receive(u, buf, sizeof buf), WEFT_EINVAL);
    EXPECT_RC(weft_udp_close(u), 0);
}

static void dns_null_in_task(void)
{
    struct addrinfo *res = NULL;
    char host[64];
    EXPECT_RC(weft_getaddrinfo("localhost", NULL, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_getnameinfo(NULL, 0, host, sizeof host, NULL, 0), WEFT_EINVAL);
    EXPECT(res == NULL);
}

static void file_null_in_task(void)
{
    char buf[4] = {0};
    struct stat st;
    weft_file_t *f = NULL;
    void *data = NULL;
    size_t len = 0;
    EXPECT_RC(weft_file_open(NULL, "/dev/null", O_RDONLY, 0), WEFT_EINVAL);
    EXPECT_RC(weft_file_open(&f, NULL, O_RDONLY, 0), WEFT_EINVAL);
    EXPECT(f == NULL);
    EXPECT_RC(weft_file_read(NULL, buf, sizeof buf), WEFT_EINVAL);
    EXPECT_RC(weft_file_write(NULL, buf, sizeof buf), WEFT_EINVAL);
    EXPECT_RC(weft_file_pread(NULL, buf, sizeof buf, 0), WEFT_EINVAL);
    EXPECT_RC(weft_file_pwrite(NULL, buf, sizeof buf, 0), WEFT_EINVAL);
    EXPECT_RC(weft_file_sync(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_file_stat(NULL, &st), WEFT_EINVAL);
    EXPECT_RC(weft_file_close(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_path_stat(NULL, &st), WEFT_EINVAL);
    EXPECT_RC(weft_path_stat("/", NULL), WEFT_EINVAL);
    EXPECT_RC(weft_file_read_all(NULL, &data, &len), WEFT_EINVAL);
    EXPECT_RC(weft_file_read_all("/dev/null", NULL, &len), WEFT_EINVAL);
    EXPECT_RC(weft_file_write_all(NULL, buf, 1), WEFT_EINVAL);
    EXPECT_RC(weft_file_write_all("/dev/null", NULL, 1), WEFT_EINVAL);

    EXPECT_RC(weft_file_open(&f, "/dev/null", O_RDONLY, 0), 0);
    EXPECT_RC(weft_file_read(f, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_file_pread(f, buf, 1, -1), WEFT_EINVAL);
    EXPECT_RC(weft_file_stat(f, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_file_close(f), 0);
}

static void signal_process_null_in_task(void)
{
    static const int sigs[] = {SIGUSR2};
    static const int bad_sigs[] = {0};
    static const char *const empty_argv[] = {NULL};
    static const char *const true_argv[] = {"true", NULL};
    weft_signal_receiver_t *r = NULL;
    weft_process_t *p = NULL;
    weft_process_result_t res;
    weft_process_opts_t bad_opts = {.stdin_mode = 7};

    EXPECT_RC(weft_signal_open(NULL, sigs, 1), WEFT_EINVAL);
    EXPECT_RC(weft_signal_open(&r, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_signal_open(&r, bad_sigs, 1), WEFT_EINVAL);
    EXPECT(r == NULL);
    EXPECT_RC(weft_signal_receive(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_signal_close(NULL), WEFT_EINVAL);

    EXPECT_RC(weft_process_open(NULL, true_argv, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_open(&p, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_open(&p, empty_argv, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_open(&p, true_argv, &bad_opts), WEFT_EINVAL);
    EXPECT(p == NULL);
    EXPECT_RC(weft_process_wait(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_returncode(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_send_signal(NULL, SIGTERM), WEFT_EINVAL);
    EXPECT_RC(weft_process_terminate(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_kill(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_free(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_run(NULL, NULL, 0, &res), WEFT_EINVAL);
    EXPECT_RC(weft_process_run(true_argv, NULL, 0, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_run(true_argv, NULL, 5, &res), WEFT_EINVAL);
}

static int null_args_task(void *arg)
{
    (void)arg;
    any_context_checks();
    EXPECT_STR(weft_current_task_name(), "null_args_task");
    EXPECT_RC(weft_group_close(NULL, 0), WEFT_EINVAL);
    sync_null_in_task();
    channel_null_in_task();
    thread_bridge_null_in_task();
    stream_null_in_task();
    listener_null_in_task();
    udp_null_in_task();
    dns_null_in_task();
    file_null_in_task();
    signal_process_null_in_task();
    return 0;
}

static int null_args_in_task(void *arg)
{
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, null_args_task, arg), 0);
    return weft_group_close(&g, 0);
}

/* ------------------------------------------------------------ [fiber] calls from a plain thread */

/* Live objects of a running runtime, handed to a plain thread. */
typedef struct {
    weft_event_t *event;
    weft_lock_t *lock;
    weft_sem_t *sem;
    weft_cond_t *cond;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    weft_limiter_t *limiter;
    weft_listener_t *listener;
    weft_stream_t *client, *server;
    weft_udp_t *udp;
    weft_file_t *file;
    weft_signal_receiver_t *sig;
    weft_process_t *proc;
    weft_token_t *token;
    atomic_int done;
} live_t;

static void fiber_calls_eperm(live_t *o)
{
    static int borrower;
    static const char *const true_argv[] = {"true", NULL};
    static const int sigs[] = {SIGUSR2};
    char buf[4] = {0};
    void *item = NULL;
    struct stat st;
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    weft_stream_t *s = NULL;
    weft_listener_t *l = NULL;
    weft_udp_t *u = NULL;
    weft_file_t *f = NULL;
    weft_signal_receiver_t *r = NULL;
    weft_process_t *p = NULL;
    struct addrinfo *ai = NULL;
    void *data = NULL;
    size_t dlen = 0;
    weft_process_result_t res;

    EXPECT_RC(weft_event_wait(o->event), WEFT_EPERM);
    int tls_rc = weft_tls_wrap(&s, o->client, NULL, NULL); /* refused before it takes o->client */
    if (tls_rc != WEFT_ENOSYS)
        EXPECT_RC(tls_rc, WEFT_EPERM);
    EXPECT_RC(weft_lock_acquire(o->lock), WEFT_EPERM);
    EXPECT_RC(weft_lock_try_acquire(o->lock), WEFT_EPERM);
    EXPECT_RC(weft_lock_release(o->lock), WEFT_EPERM);
    EXPECT_RC(weft_sem_acquire(o->sem), WEFT_EPERM);
    EXPECT_RC(weft_cond_wait(o->cond), WEFT_EPERM);
    EXPECT_RC(weft_send(o->tx, &item), WEFT_EPERM);
    EXPECT_RC(weft_recv(o->rx, &item), WEFT_EPERM);
    EXPECT_RC(weft_limiter_acquire(o->limiter), WEFT_EPERM);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(o->limiter, &borrower), WEFT_EPERM);
    EXPECT_RC(weft_to_thread_run_sync(nop, NULL, NULL), WEFT_EPERM);
    EXPECT(weft_current_token() == NULL);
    EXPECT(weft_default_thread_limiter() == NULL);
    /* Not [fiber], but still checked from here: a NULL fn through a live token. */
    EXPECT_RC(weft_from_thread_run_token(o->token, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_from_thread_run_sync_token(o->token, NULL, NULL), WEFT_EINVAL);

    EXPECT_RC(weft_stream_receive(o->client, buf, sizeof buf), WEFT_EPERM);
    EXPECT_RC(weft_stream_send(o->client, buf, sizeof buf), WEFT_EPERM);
    EXPECT_RC(weft_stream_send_eof(o->client), WEFT_EPERM);
    EXPECT_RC(weft_stream_set_nodelay(o->client, 1), WEFT_EPERM);
    EXPECT_RC(weft_stream_set_keepalive(o->client, 1, 10), WEFT_EPERM);
    EXPECT_RC(weft_stream_cancel_on_hangup(o->client, NULL), WEFT_EPERM);
    EXPECT_RC(weft_stream_close(o->client), WEFT_EPERM);
    EXPECT_RC(weft_tcp_connect(&s, "127.0.0.1", weft_listener_port(o->listener)), WEFT_EPERM);
    EXPECT_RC(weft_unix_connect(&s, "/nonexistent.sock"), WEFT_EPERM);
    EXPECT(s == NULL);
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), WEFT_EPERM);
    EXPECT_RC(weft_unix_listen(&l, "/nonexistent-dir/x.sock", NULL), WEFT_EPERM);
    EXPECT(l == NULL);
    EXPECT_RC(weft_listener_accept(o->listener, &s), WEFT_EPERM);
    EXPECT_RC(weft_serve(o->listener, nop_handler, NULL), WEFT_EPERM);
    EXPECT_RC(weft_serve_ex(o->listener, nop_handler, NULL, NULL), WEFT_EPERM);
    EXPECT_RC(weft_listener_close(o->listener), WEFT_EPERM);

    EXPECT_RC(weft_udp_open(&u, "127.0.0.1", 0, NULL, 0), WEFT_EPERM);
    EXPECT(u == NULL);
    EXPECT_RC(weft_udp_send_to(o->udp, buf, 1, (struct sockaddr *)&ss), WEFT_EPERM);
    EXPECT_RC(weft_udp_send(o->udp, buf, 1), WEFT_EPERM);
    EXPECT_RC(weft_udp_receive_from(o->udp, buf, sizeof buf, (struct sockaddr *)&ss, &len),
              WEFT_EPERM);
    EXPECT_RC(weft_udp_receive(o->udp, buf, sizeof buf), WEFT_EPERM);
    EXPECT_RC(weft_udp_close(o->udp), WEFT_EPERM);

    EXPECT_RC(weft_getaddrinfo("localhost", NULL, NULL, &ai), WEFT_EPERM);
    EXPECT(ai == NULL);
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_INET;
    EXPECT_RC(weft_getnameinfo((struct sockaddr *)&ss, 0, (char *)buf, sizeof buf, NULL, 0),
              WEFT_EPERM);

    EXPECT_RC(weft_file_open(&f, "/dev/null", O_RDONLY, 0), WEFT_EPERM);
    EXPECT(f == NULL);
    EXPECT_RC(weft_file_read(o->file, buf, sizeof buf), WEFT_EPERM);
    EXPECT_RC(weft_file_write(o->file, buf, sizeof buf), WEFT_EPERM);
    EXPECT_RC(weft_file_pread(o->file, buf, sizeof buf, 0), WEFT_EPERM);
    EXPECT_RC(weft_file_pwrite(o->file, buf, sizeof buf, 0), WEFT_EPERM);
    EXPECT_RC(weft_file_sync(o->file), WEFT_EPERM);
    EXPECT_RC(weft_file_stat(o->file, &st), WEFT_EPERM);
    EXPECT_RC(weft_file_close(o->file), WEFT_EPERM);
    EXPECT_RC(weft_path_stat("/", &st), WEFT_EPERM);
    EXPECT_RC(weft_file_read_all("/dev/null", &data, &dlen), WEFT_EPERM);
    EXPECT(data == NULL);
    EXPECT_RC(weft_file_write_all("/dev/null", buf, 1), WEFT_EPERM);

    EXPECT_RC(weft_signal_open(&r, sigs, 1), WEFT_EPERM);
    EXPECT(r == NULL);
    EXPECT_RC(weft_signal_receive(o->sig), WEFT_EPERM);
    EXPECT_RC(weft_signal_close(o->sig), WEFT_EPERM);

    EXPECT_RC(weft_process_open(&p, true_argv, NULL), WEFT_EPERM);
    EXPECT(p == NULL);
    EXPECT_RC(weft_process_wait(o->proc), WEFT_EPERM);
    EXPECT_RC(weft_process_returncode(o->proc), WEFT_EPERM);
    EXPECT_RC(weft_process_send_signal(o->proc, 0), WEFT_EPERM);
    EXPECT_RC(weft_process_terminate(o->proc), WEFT_EPERM);
    EXPECT_RC(weft_process_kill(o->proc), WEFT_EPERM);
    EXPECT_RC(weft_process_free(o->proc), WEFT_EPERM);
    EXPECT_RC(weft_process_run(true_argv, NULL, 0, &res), WEFT_EPERM);
    weft_local_t *key = NULL;
    EXPECT_RC(weft_local_new(&key, NULL), 0);
    EXPECT_RC(weft_local_set(key, &borrower), WEFT_EPERM);
    EXPECT(weft_local_get(key) == NULL);
    weft_local_free(key);
}

static void *fiber_calls_thread(void *arg)
{
    live_t *o = arg;
    fiber_calls_eperm(o);
    atomic_store(&o->done, 1);
    return NULL;
}

static int live_open(live_t *o, const char *path)
{
    static const int sigs[] = {SIGUSR2};
    static const char *const cat_argv[] = {"cat", NULL};
    EXPECT_RC(weft_event_new(&o->event), 0);
    EXPECT_RC(weft_lock_new(&o->lock), 0);
    EXPECT_RC(weft_sem_new(&o->sem, 0, 0), 0);
    EXPECT_RC(weft_cond_new(&o->cond, o->lock), 0);
    EXPECT_RC(weft_channel(0, &o->tx, &o->rx), 0);
    EXPECT_RC(weft_limiter_new(&o->limiter, 1), 0);
    EXPECT_RC(weft_tcp_listen(&o->listener, "127.0.0.1", 0, NULL), 0);
    if (o->listener == NULL)
        return -1;
    EXPECT_RC(weft_tcp_connect(&o->client, "127.0.0.1", weft_listener_port(o->listener)), 0);
    EXPECT_RC(weft_listener_accept(o->listener, &o->server), 0);
    /* Connected, so that weft_udp_send / _receive are valid calls. */
    EXPECT_RC(weft_udp_open(&o->udp, "127.0.0.1", 0, "127.0.0.1", 9), 0);
    o->token = WT_CURRENT_TOKEN();
    EXPECT_RC(weft_file_write_all(path, "abc", 3), 0);
    EXPECT_RC(weft_file_open(&o->file, path, O_RDWR, 0), 0);
    EXPECT_RC(weft_signal_open(&o->sig, sigs, 1), 0);
    EXPECT_RC(weft_process_open(&o->proc, cat_argv, NULL), 0);
    return (o->client && o->server && o->udp && o->file && o->sig && o->proc) ? 0 : -1;
}

static void live_close(live_t *o)
{
    weft_event_free(o->event);
    weft_cond_free(o->cond);
    weft_lock_free(o->lock);
    weft_sem_free(o->sem);
    weft_sender_close(o->tx);
    weft_receiver_close(o->rx);
    weft_limiter_free(o->limiter);
    weft_token_release(o->token);
    if (o->client)
        EXPECT_RC(weft_stream_close(o->client), 0);
    if (o->server)
        EXPECT_RC(weft_stream_close(o->server), 0);
    if (o->listener)
        EXPECT_RC(weft_listener_close(o->listener), 0);
    if (o->udp)
        EXPECT_RC(weft_udp_close(o->udp), 0);
    if (o->file)
        EXPECT_RC(weft_file_close(o->file), 0);
    if (o->sig)
        EXPECT_RC(weft_signal_close(o->sig), 0);
    if (o->proc)
        EXPECT_RC(weft_process_free(o->proc), 0);
}

static int fiber_calls_from_plain_thread_eperm(void *arg)
{
    (void)arg;
    live_t o;
    char path[64];
    memset(&o, 0, sizeof o);
    snprintf(path, sizeof path, "/tmp/weft_misuse_api_%ld", (long)getpid());
    if (live_open(&o, path) == 0) {
        pthread_t th;
        if (WT_THREAD_START(&th, fiber_calls_thread, &o))
            WT_THREADS_FINISH(&th, 1, &o.done, 1, 30.0);
        /* The objects still work for their own runtime. */
        EXPECT_RC(weft_lock_try_acquire(o.lock), 0);
        EXPECT_RC(weft_lock_release(o.lock), 0);
        EXPECT_RC(weft_stream_send(o.client, "x", 1), 0);
        char c = 0;
        EXPECT_RC(weft_stream_receive(o.server, &c, 1), 1);
        EXPECT(c == 'x');
    }
    live_close(&o);
    unlink(path);
    return 0;
}

/* ------------------------------------------------------------ closed and finished handles */

/* A process's stdin stays safe to pass after weft_stream_close: EBADF. */
static int closed_process_stream_ebadf(void *arg)
{
    (void)arg;
    static const char *const cat_argv[] = {"cat", NULL};
    weft_process_t *p = NULL;
    char buf[4];
    EXPECT_RC(weft_process_open(&p, cat_argv, NULL), 0);
    if (p == NULL)
        return 0;
    weft_stream_t *in = weft_process_stdin(p);
    EXPECT(in != NULL);
    EXPECT_RC(weft_stream_close(in), 0);
    EXPECT_RC(weft_stream_send(in, "x", 1), WEFT_EBADF);
    EXPECT_RC(weft_stream_receive(in, buf, sizeof buf), WEFT_EBADF);
    EXPECT_RC(weft_stream_send_eof(in), WEFT_EBADF);
    EXPECT_RC(weft_stream_cancel_on_hangup(in, NULL), WEFT_EBADF);
    EXPECT_RC(weft_stream_close(in), WEFT_EBADF);
    EXPECT_RC(weft_process_wait(p), 0); /* cat saw EOF */
    EXPECT_RC(weft_process_free(p), 0);
    return 0;
}

static int keep_token(void *arg)
{
    *(weft_token_t **)arg = WT_CURRENT_TOKEN();
    return 0;
}

/* A token outlives its runtime: calls through it get EBADF. */
static void finished_runtime_token_ebadf(void)
{
    weft_token_t *t = NULL;
    WT_RUN_OK(keep_token, &t, 1);
    assert_non_null(t);
    assert_rc(weft_from_thread_run_token(t, nop, NULL), WEFT_EBADF);
    assert_rc(weft_from_thread_run_sync_token(t, nop, NULL), WEFT_EBADF);
    weft_token_release(t);
}

/* Portal: NULL arguments, [thread] calls from one of its own tasks. */
typedef struct {
    weft_portal_t *p;
    weft_future_t *f;
    int call_rc, wait_rc, stop_rc;
} portal_ctx_t;

static int portal_task(void *arg)
{
    portal_ctx_t *c = arg;
    c->call_rc = weft_portal_call(c->p, nop, NULL);
    c->wait_rc = weft_future_wait(c->f);
    c->stop_rc = weft_portal_stop(c->p, 0);
    return 0;
}

static void portal_misuse(void)
{
    portal_ctx_t c;
    weft_future_t *f = NULL;
    memset(&c, 0, sizeof c);
    c.p = wt_portal_start(1);
    assert_rc(weft_portal_call(c.p, NULL, NULL), WEFT_EINVAL);
    assert_rc(weft_portal_spawn(c.p, NULL, NULL, &f), WEFT_EINVAL);
    assert_rc(weft_portal_spawn(c.p, nop, NULL, NULL), WEFT_EINVAL);
    assert_null(f);
    assert_rc(weft_portal_spawn(c.p, nop, NULL, &c.f), 0);
    assert_rc(weft_portal_call(c.p, portal_task, &c), 0);
    assert_rc(c.call_rc, WEFT_EPERM);
    assert_rc(c.wait_rc, WEFT_EPERM);
    assert_rc(c.stop_rc, WEFT_EPERM);
    assert_rc(weft_future_wait(c.f), 0);
    assert_int_equal(weft_future_done(c.f), 1);
    weft_future_free(c.f);
    wt_portal_stop_free(c.p, 0);
}

static const wt_case_t cases[] = {
    WT_TEST(null_args_plain_thread),
    WT_CASE_ON(null_args_in_task, WT_W2),
    WT_CASE_ON(fiber_calls_from_plain_thread_eperm, WT_W2),
    WT_CASE_ON(closed_process_stream_ebadf, WT_W2),
    WT_TEST(finished_runtime_token_ebadf),
    WT_TEST(portal_misuse),
};
WT_SUITE(cases)
