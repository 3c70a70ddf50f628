/*
 * weft/io.h — I/O on libuv: byte streams (TCP, Unix sockets), listeners and
 * serve, UDP, DNS, files, signal receivers and subprocesses.  Included by
 * weft.h (and includes it).
 *
 * Names follow AnyIO (connect_tcp, create_tcp_listener, serve, receive,
 * send, send_eof, aclose).  Every call that can wait is a [fiber]
 * [checkpoint]: it honours cancel scopes and deadlines, and a cancelled call
 * leaves the object usable and loses no data that was already read.
 * Results are 0 (or a count) or a negative errno value; libuv's own codes
 * (UV_ECONNREFUSED == -ECONNREFUSED, ...) pass through unchanged.
 */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include <stdint.h>

#include "../weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Declared by the system headers a caller includes to use them
 * (<sys/socket.h>, <netdb.h>, <sys/stat.h>); weft.h stays plain C11. */
struct sockaddr;
struct addrinfo;
struct stat;

/* ---------------------------------------------------------------- byte streams
 *
 * One type for TCP and Unix-domain connections.  A stream belongs to the
 * worker whose libuv loop it was created on; a task that uses it from
 * another worker moves to that worker for the call.  New connections are
 * spread over the workers: connect makes its stream on the worker with the
 * fewest connections, or for a task that already has one on the worker of
 * its first (the calling task moves there); serve and accept place each
 * accepted connection near the CPU its packets arrive on.  One task may
 * receive while another sends; a second receive (or send) while one is in
 * progress on the same stream returns -EBUSY. */
typedef struct weft_stream_t weft_stream_t;

/* [fiber][checkpoint] Read at least 1 and at most len bytes: the count, or
 * WEFT_EOF once the peer sent EOF and everything before it was read.
 * Cancelled: WEFT_ECANCELED, nothing consumed (bytes that arrived stay for
 * the next receive). */
WEFT_EXTERN int weft_stream_receive(weft_stream_t *s, void *buf, size_t len);
/* [fiber][checkpoint] Read exactly n bytes (n <= INT_MAX) into buf: n.
 * Nothing is consumed unless all n arrived: cancelled, WEFT_ECANCELED; the
 * stream ended first, WEFT_EINCOMPLETE (WEFT_EOF if no byte at all was
 * pending; a read error instead of EOF: that error), and the bytes that did
 * arrive stay readable by the next receive of any kind.  Any n works: a
 * receive larger than the stream's 64 KiB buffer reads straight into buf
 * and reserves room (n bytes of memory, untouched unless it does not
 * complete) to give the bytes back: WEFT_ENOMEM, nothing consumed, if that
 * cannot be had. */
WEFT_EXTERN int weft_stream_receive_exactly(weft_stream_t *s, void *buf, size_t n);
/* [fiber][checkpoint] Read up to a delimiter (delim_len >= 1 bytes): the
 * number of bytes before it, copied to buf (at most max); the delimiter is
 * consumed, not copied, and bytes after it stay for the next receive of any
 * kind.  A delimiter that starts within the first max bytes is found (it
 * ends within the first max + delim_len): once the pending bytes show that
 * none can start there, -EMSGSIZE and nothing consumed.  The stream ended
 * first: WEFT_EINCOMPLETE (WEFT_EOF if nothing was pending), the bytes stay
 * readable.  Cancelled: WEFT_ECANCELED, nothing consumed.  A max above the
 * buffer's 64 KiB grows it as far as needed (WEFT_ENOMEM, nothing consumed,
 * if it cannot). */
WEFT_EXTERN int weft_stream_receive_until(weft_stream_t *s, void *buf, size_t max,
                                          const void *delim, size_t delim_len);
/* [fiber][checkpoint] Send all len bytes: 0, or an error.  Cancelled while
 * the peer does not read: WEFT_ECANCELED, and a prefix of the bytes may
 * have been sent (as in AnyIO); buf may be reused at once either way. */
WEFT_EXTERN int weft_stream_send(weft_stream_t *s, const void *buf, size_t len);
/* [fiber][checkpoint] Half-close: the peer's receive ends with WEFT_EOF;
 * this side can still receive. */
WEFT_EXTERN int weft_stream_send_eof(weft_stream_t *s);
/* [fiber] Close and free the stream (aclose).  Tasks blocked on it get
 * WEFT_EBADF.  Not a checkpoint: it always completes. */
WEFT_EXTERN int weft_stream_close(weft_stream_t *s);
/* Local / remote address, as libuv's uv_tcp_getsockname: *len in: the size
 * of *addr (a struct sockaddr_storage fits any), out: the address's size. */
WEFT_EXTERN int weft_stream_local_address(weft_stream_t *s, struct sockaddr *addr, int *len);
WEFT_EXTERN int weft_stream_remote_address(weft_stream_t *s, struct sockaddr *addr, int *len);
/* [fiber] TCP options (WEFT_EINVAL on a Unix stream). */
WEFT_EXTERN int weft_stream_set_nodelay(weft_stream_t *s, int on);
WEFT_EXTERN int weft_stream_set_keepalive(weft_stream_t *s, int on, unsigned delay_seconds);

/* ---------------------------------------------------------------- TCP and Unix sockets */

/* [fiber][checkpoint] Connect to host:port (a name or a literal address).
 * Happy Eyeballs (RFC 8305): the addresses are tried in turn, a new attempt
 * starting every 250 ms while earlier ones are still pending (or at once
 * when one fails); the first to connect wins and the others are cancelled.
 * Every attempt failed: the last attempt's error.  A numeric IPv4 or IPv6
 * address is one attempt, with no resolver call (no blocking thread). */
WEFT_EXTERN int weft_tcp_connect(weft_stream_t **out, const char *host, int port);
/* [fiber][checkpoint] Connect to a Unix-domain socket. */
WEFT_EXTERN int weft_unix_connect(weft_stream_t **out, const char *path);

typedef struct weft_listener_t weft_listener_t;
typedef struct weft_listen_opts_t {
    int backlog;      /* 0 = 128 */
    int reuse_addr;   /* SO_REUSEADDR (TCP; set by default unless this is -1) */
} weft_listen_opts_t;

/* [fiber] Listen on every address of host (NULL: all interfaces, IPv4 and
 * IPv6) at port (0: one free port, the same on every address). */
WEFT_EXTERN int weft_tcp_listen(weft_listener_t **out, const char *host, int port,
                                const weft_listen_opts_t *opts);
/* [fiber] Listen on a Unix-domain socket path (an existing socket file is
 * not removed: WEFT_EADDRINUSE-style -EADDRINUSE). */
WEFT_EXTERN int weft_unix_listen(weft_listener_t **out, const char *path,
                                 const weft_listen_opts_t *opts);
/* The port a TCP listener is bound to (its first address's). */
WEFT_EXTERN int weft_listener_port(const weft_listener_t *l);
/* [fiber][checkpoint] Wait for the next connection.  Out of file
 * descriptors (EMFILE/ENFILE): the listener backs off (retrying every 100 ms)
 * instead of spinning, and the call keeps waiting.  The caller returns on
 * the worker the new stream was placed on. */
WEFT_EXTERN int weft_listener_accept(weft_listener_t *l, weft_stream_t **out);
/* [fiber] Close and free; tasks blocked in accept get WEFT_EBADF. */
WEFT_EXTERN int weft_listener_close(weft_listener_t *l);

/* A connection handler: the stream is closed by serve when it returns. */
typedef int (*weft_handler_t)(weft_stream_t *s, void *arg);
/* [fiber][checkpoint] Accept connections for ever, each handled by its own
 * task in a task group; returns WEFT_ECANCELED when cancelled (after every
 * handler, cancelled with it, has ended) or accept's error.  A handler's
 * error ends its connection only, not the server, and is printed to stderr
 * (weft_serve_ex with default options). */
WEFT_EXTERN int weft_serve(weft_listener_t *l, weft_handler_t handler, void *arg);

/* What weft_serve_ex does with a handler's error (a negative result other
 * than WEFT_ECANCELED, which is never a failure: it is how a server stops). */
#define WEFT_SERVE_LOG 0  /* print it to stderr with the task's name and the
                           * peer's address; the server goes on (the default) */
#define WEFT_SERVE_FAIL 1 /* cancel the server and every other handler, and
                           * return that first error (AnyIO's serve) */

/* Options of weft_serve_ex.  Versioned like weft_config_t: set them up with
 * weft_serve_opts_init (opts_size 0 stands for this layout). */
typedef struct weft_serve_opts_t {
    size_t opts_size;
    /* At most this many handlers at once (0: no limit).  At the limit the
     * server stops accepting until a handler ends: new connections wait in
     * the listen backlog (back-pressure; none is refused or closed). */
    unsigned max_connections;
    int on_error; /* WEFT_SERVE_LOG or WEFT_SERVE_FAIL */
    /* Per-connection state: with conn_open set, each handler task first
     * calls conn_open(arg, &conn) and its handler gets conn instead of
     * arg; once the handler returned and the stream is closed,
     * conn_close(conn, arg) runs, exactly once per successful conn_open
     * (also when the handler was cancelled).  A conn_open error closes the
     * connection and counts as the handler's error.  Both run in the
     * connection's task: they may wait, and see its cancellation. */
    int (*conn_open)(void *arg, void **conn);
    void (*conn_close)(void *conn, void *arg);
} weft_serve_opts_t;

/* Zero *o (no limit, WEFT_SERVE_LOG, no per-connection state) and set
 * o->opts_size. */
WEFT_EXTERN void weft_serve_opts_init(weft_serve_opts_t *o);
/* [fiber][checkpoint] weft_serve with options (NULL: the defaults, which
 * are weft_serve's except that errors are logged).  Returns WEFT_ECANCELED
 * when cancelled, accept's error, or under WEFT_SERVE_FAIL the first
 * handler error; every handler has ended by then.  WEFT_EINVAL for a bad
 * on_error, conn_close without conn_open, or an opts_size larger than this
 * library's struct (a newer header). */
WEFT_EXTERN int weft_serve_ex(weft_listener_t *l, weft_handler_t handler, void *arg,
                              const weft_serve_opts_t *opts);

/* [fiber] Cancel `scope` when the peer hangs up: once the stream reads the
 * peer's EOF or a read error (a reset), even while no task receives (the
 * handler is blocked elsewhere, in weft_to_thread_run_sync say).  The
 * stream reads ahead into its own receive buffer to see it, so no byte is
 * lost: what arrived before the hang-up stays for the next receive.  The
 * peer's EOF counts as a hang-up (as in Go's net/http): do not arm it for a
 * peer that half-closes and still reads.  A peer that hung up already
 * cancels the scope at once.  Read-ahead stops while the buffer is full
 * (64 KiB unread): a hang-up behind that is seen once a receive makes room.
 *
 * `scope` must stay entered while armed: disarm with a NULL scope before
 * weft_scope_exit (closing the stream disarms too).  One scope per stream:
 * WEFT_EBUSY while another is armed (arming the same one again is 0);
 * WEFT_EBADF on a closed stream, WEFT_EINVAL for NULL s. */
WEFT_EXTERN int weft_stream_cancel_on_hangup(weft_stream_t *s, weft_scope_t *scope);

/* ---------------------------------------------------------------- descriptors owned by someone else
 *
 * Trio's wait_readable / wait_writable / notify_closing, for a library
 * that owns its sockets and asks to be told when one is ready (libcurl's
 * multi socket API, a database client): weft never reads, writes or closes
 * a descriptor it is only asked to wait on, and leaves its blocking mode as
 * it was.
 *
 * One task may wait for readability and one for writability of a
 * descriptor at a time; a second waiter for the same direction gets
 * WEFT_EBUSY.  Any task of a runtime may wait, from any worker: while tasks
 * wait on a descriptor, one worker's loop watches it (that of the first
 * waiter), and a waiter in the other direction moves to that worker.  A
 * descriptor is watched by one runtime at a time: a task of another one
 * gets WEFT_EBUSY meanwhile.  A wait that returns, however it ended, leaves
 * nothing registered: the descriptor may be waited on again at once, from
 * any task on any worker.
 *
 * Closing a descriptor that a task waits on, without weft_notify_closing
 * first, is a use-after-close: the wait may never end, the loop may go on
 * watching whatever file gets the number next, and libuv may abort the
 * process when it finds the number closed.  These calls are not for the
 * descriptors of weft's own objects (streams, listeners, UDP sockets): on
 * the object's loop they fail with -EEXIST. */

/* [fiber][checkpoint] 0 once fd is readable, hung up or in error (what a
 * read would then report is the caller's to find out); a descriptor that
 * is ready already returns at once.  WEFT_EBADF for no open descriptor or
 * when weft_notify_closing(fd) was called; WEFT_EBUSY as above; a
 * descriptor that cannot be polled (a regular file is always ready):
 * libuv's error (-EPERM, ...).  Cancelled: WEFT_ECANCELED. */
WEFT_EXTERN int weft_wait_readable(int fd);
/* [fiber][checkpoint] 0 once fd is writable or in error; otherwise as
 * weft_wait_readable. */
WEFT_EXTERN int weft_wait_writable(int fd);
/* Call before close(fd): every task waiting on fd wakes with WEFT_EBADF,
 * and so do waits on it that begin before this returns; it returns once
 * no loop watches fd any more.  Nothing to do (it returns at once) when no
 * task waits on fd.  Callable from any task and from any thread not running
 * a task: a blocking thread's function, a thread of the program's own (it
 * blocks until the waiters let go: a moment).  One exception: a function
 * running on a worker between tasks (weft_from_thread_run_sync's) wakes the
 * waiters but cannot wait for them; close fd only after their waits
 * returned. */
WEFT_EXTERN void weft_notify_closing(int fd);

/* [fiber] Adopt a connected stream socket (TCP or Unix-domain, a
 * socketpair's end) or a pipe as a byte stream; placed on a worker as a new
 * connection is.  The stream owns fd from this call on: weft_stream_close
 * closes it, and so does a failing call (unless fd was no open descriptor:
 * WEFT_EBADF).  fd becomes non-blocking and close-on-exec.  WEFT_EINVAL for
 * anything else (a listening or datagram socket, a regular file, a
 * terminal); -ENOTCONN for a socket that is not connected. */
WEFT_EXTERN int weft_stream_from_fd(weft_stream_t **out, int fd);
/* [fiber] Adopt a listening socket (TCP or Unix-domain: one that systemd's
 * socket activation passes, say), with the same ownership as
 * weft_stream_from_fd; WEFT_EINVAL unless it is listening. */
WEFT_EXTERN int weft_listener_from_fd(weft_listener_t **out, int fd);

/* ---------------------------------------------------------------- UDP
 *
 * Datagram sockets.  Received datagrams wait in the socket's own queue (up
 * to 256 of them; more are dropped, as a full socket buffer would), so a
 * cancelled receive loses nothing. */
typedef struct weft_udp_t weft_udp_t;

/* [fiber] A UDP socket bound to host:port (NULL host: every interface;
 * port 0: any).  remote_host non-NULL: connected to remote_host:remote_port,
 * so that weft_udp_send / weft_udp_receive work and other peers are ignored. */
WEFT_EXTERN int weft_udp_open(weft_udp_t **out, const char *host, int port,
                              const char *remote_host, int remote_port);
/* [fiber][checkpoint] Send one datagram to addr / to the connected peer. */
WEFT_EXTERN int weft_udp_send_to(weft_udp_t *u, const void *buf, size_t len,
                                 const struct sockaddr *addr);
WEFT_EXTERN int weft_udp_send(weft_udp_t *u, const void *buf, size_t len);
/* [fiber][checkpoint] Receive one datagram: its size (the rest of a longer
 * one is cut off); addr/len (may be NULL) receive the sender, as in
 * weft_stream_remote_address. */
WEFT_EXTERN int weft_udp_receive_from(weft_udp_t *u, void *buf, size_t len,
                                      struct sockaddr *addr, int *addrlen);
WEFT_EXTERN int weft_udp_receive(weft_udp_t *u, void *buf, size_t len);
/* The local port. */
WEFT_EXTERN int weft_udp_port(const weft_udp_t *u);
/* [fiber] Close and free; a blocked receive gets WEFT_EBADF. */
WEFT_EXTERN int weft_udp_close(weft_udp_t *u);

/* ---------------------------------------------------------------- DNS */

/* [fiber][checkpoint] getaddrinfo(3), cancellable; free *res with
 * weft_freeaddrinfo.  Errors: a negative EAI_* code mapped to libuv's
 * UV_EAI_* values (weft_strerror describes them). */
WEFT_EXTERN int weft_getaddrinfo(const char *host, const char *service,
                                 const struct addrinfo *hints, struct addrinfo **res);
WEFT_EXTERN void weft_freeaddrinfo(struct addrinfo *res);
/* [fiber][checkpoint] getnameinfo(3), cancellable. */
WEFT_EXTERN int weft_getnameinfo(const struct sockaddr *addr, int flags, char *host,
                                 size_t hostlen, char *service, size_t servicelen);

/* ---------------------------------------------------------------- files
 *
 * Files go through the runtime's blocking threads, except reads of a
 * regular file (up to 256 KiB) whose bytes are in the page cache, which the
 * worker makes itself (they cannot block).  Each call is a checkpoint; a
 * call cancelled while its system call is in flight still waits for it (a
 * thread cannot be interrupted) and reports the cancellation at the next
 * checkpoint, so a buffer is never written after the call returned.  A read
 * of a regular file returns fewer bytes than asked only at its end. */
typedef struct weft_file_t weft_file_t;

/* [fiber][checkpoint] open(2) flags and mode; O_CLOEXEC is always added. */
WEFT_EXTERN int weft_file_open(weft_file_t **out, const char *path, int flags, int mode);
/* [fiber][checkpoint] Bytes read (0 at end of file) / written; pread and
 * pwrite at an offset, without moving the file position.  A read of a
 * regular file returns fewer bytes than asked only at the end of the file; a
 * write to one writes fewer than given only when it runs out of room (a full
 * disk, a size limit) or on an error, which the next call reports.  The count
 * is an int: a len above INT_MAX is refused with WEFT_EINVAL before anything
 * is read or written (the whole-file helpers below take any size). */
WEFT_EXTERN int weft_file_read(weft_file_t *f, void *buf, size_t len);
WEFT_EXTERN int weft_file_write(weft_file_t *f, const void *buf, size_t len);
WEFT_EXTERN int weft_file_pread(weft_file_t *f, void *buf, size_t len, int64_t offset);
WEFT_EXTERN int weft_file_pwrite(weft_file_t *f, const void *buf, size_t len, int64_t offset);
WEFT_EXTERN int weft_file_sync(weft_file_t *f);
WEFT_EXTERN int weft_file_stat(weft_file_t *f, struct stat *st);
/* [fiber] Close and free (always completes). */
WEFT_EXTERN int weft_file_close(weft_file_t *f);
/* [fiber][checkpoint] stat(2) of a path. */
WEFT_EXTERN int weft_path_stat(const char *path, struct stat *st);
/* [fiber][checkpoint] Whole-file helpers: read a file into *data (malloc'd,
 * NUL-terminated for convenience, *len without the NUL; free with free()),
 * write data to a file (created or truncated, mode 0644). */
WEFT_EXTERN int weft_file_read_all(const char *path, void **data, size_t *len);
WEFT_EXTERN int weft_file_write_all(const char *path, const void *data, size_t len);

/* ---------------------------------------------------------------- signals
 *
 * open_signal_receiver.  A receiver catches the signals it was opened for
 * and hands them out, in the order they arrived, to weft_signal_receive.  It
 * belongs to the worker that opened it, like a stream.  Several receivers
 * (also of other runtimes) may watch the same signal: each gets every
 * delivery.  Up to 64 deliveries wait in a receiver; beyond that further
 * deliveries of a signal are coalesced (each signal number that arrived is
 * still received at least once more, only repeats are dropped), as the
 * kernel coalesces a standard signal that is already pending.
 *
 * The signal's disposition belongs to weft while any receiver (of any
 * runtime) watches it: do not change it meanwhile.  When the last of them is
 * closed (or its runtime ended with it still open), the disposition that was
 * there before the first one opened comes back: a handler of the program's
 * own, SIG_DFL, or weft's own for SIGPIPE (ignored, so that a send to a peer
 * that went away returns WEFT_EPIPE) and SIGQUIT (the WEFT_DEBUG=1 task-tree
 * dump). */
typedef struct weft_signal_receiver_t weft_signal_receiver_t;

/* [fiber] Start catching the n signal numbers (duplicates are ignored).
 * WEFT_EINVAL, and nothing caught, if any of them cannot be received: the
 * synchronous signals SIGSEGV, SIGBUS, SIGILL and SIGFPE (a fault is not
 * something to hand to a task later; SIGSEGV and SIGBUS report a task's
 * stack overflow), SIGKILL and SIGSTOP (they cannot be caught), numbers
 * outside 1 .. SIGRTMAX, and those the C library keeps for itself (glibc:
 * 32 and 33). */
WEFT_EXTERN int weft_signal_open(weft_signal_receiver_t **out, const int *signums, size_t n);
/* [fiber][checkpoint] The next signal number delivered.  Cancelled:
 * WEFT_ECANCELED, nothing consumed. */
WEFT_EXTERN int weft_signal_receive(weft_signal_receiver_t *r);
/* [fiber] Stop catching and free the receiver; a task blocked in receive
 * gets WEFT_EBADF.  Not a checkpoint: it always completes. */
WEFT_EXTERN int weft_signal_close(weft_signal_receiver_t *r);

/* ---------------------------------------------------------------- subprocesses
 *
 * open_process / run_process.  A process belongs to the worker that started
 * it, like a stream; its piped stdin, stdout and stderr are ordinary byte
 * streams (weft_stream_send, _receive, _send_eof, _close) on the same worker.
 * argv[0] is looked up in PATH when it has no slash (execvp).  The child
 * inherits none of weft's or libuv's descriptors (all are close-on-exec),
 * only its three standard ones and whatever the program itself opened
 * without O_CLOEXEC. */
#define WEFT_STDIO_PIPE 0     /* a new pipe, reachable as a stream (the default) */
#define WEFT_STDIO_INHERIT 1  /* the parent's own descriptor 0, 1 or 2 */
#define WEFT_STDIO_NULL 2     /* /dev/null */

typedef struct weft_process_t weft_process_t;
typedef struct weft_process_opts_t {
    const char *cwd;   /* NULL: the parent's working directory */
    char **env;        /* "NAME=value" strings, NULL-terminated; NULL: inherit */
    int stdin_mode, stdout_mode, stderr_mode; /* WEFT_STDIO_* */
} weft_process_opts_t;

/* [fiber] Start argv[0] with arguments argv (NULL-terminated); opts may be
 * NULL (everything piped).  A program that cannot be executed fails here
 * (-ENOENT, -EACCES, ...), not with an exit status. */
WEFT_EXTERN int weft_process_open(weft_process_t **out, const char *const argv[],
                                  const weft_process_opts_t *opts);
/* The parent's end of the child's stdin / stdout / stderr: NULL unless that
 * one is piped.  The user may close a stream (weft_stream_close: closing
 * stdin is how the child sees EOF) and the pointer stays safe to pass
 * (WEFT_EBADF) until weft_process_free, which closes those still open. */
WEFT_EXTERN weft_stream_t *weft_process_stdin(weft_process_t *p);
WEFT_EXTERN weft_stream_t *weft_process_stdout(weft_process_t *p);
WEFT_EXTERN weft_stream_t *weft_process_stderr(weft_process_t *p);
/* [fiber][checkpoint] Wait for the child to end: its exit status (0..255),
 * or 128 + the signal number when a signal killed it.  Several tasks may
 * wait at once.  Cancelled: WEFT_ECANCELED, the child runs on. */
WEFT_EXTERN int weft_process_wait(weft_process_t *p);
/* [fiber] The exit status as weft_process_wait reports it once the child
 * has ended, WEFT_EAGAIN while it runs (AnyIO's returncode). */
WEFT_EXTERN int weft_process_returncode(weft_process_t *p);
/* The child's process id (stays the same after it ended). */
WEFT_EXTERN int weft_process_pid(const weft_process_t *p);
/* [fiber] Send a signal to the child; nothing (0) once it has ended, so
 * that a recycled process id is never signalled.  terminate: SIGTERM,
 * kill: SIGKILL. */
WEFT_EXTERN int weft_process_send_signal(weft_process_t *p, int signum);
WEFT_EXTERN int weft_process_terminate(weft_process_t *p);
WEFT_EXTERN int weft_process_kill(weft_process_t *p);
/* [fiber] Free the process: a child still running is killed (SIGKILL) and
 * reaped first (waiting for that is not cancellable), the streams still
 * open are closed.  Not a checkpoint: it always completes. */
WEFT_EXTERN int weft_process_free(weft_process_t *p);

typedef struct weft_process_result_t {
    int status;             /* as weft_process_wait */
    char *out, *err;        /* everything the child wrote, NUL-terminated */
    size_t out_len, err_len; /* without the NUL */
} weft_process_result_t;

/* [fiber][checkpoint] Run argv to completion: input_len bytes of input
 * (NULL when 0) go to its stdin, which is then closed (a child that does not
 * read them all is no error), while its stdout and stderr are captured;
 * returns 0 once the child has ended and both outputs reached EOF (a
 * grandchild that keeps them open keeps it waiting).  Free *res with
 * weft_process_result_free, also after an error (it is then empty).
 * Cancelled: the child is killed (SIGKILL) and reaped before
 * WEFT_ECANCELED returns. */
WEFT_EXTERN int weft_process_run(const char *const argv[], const void *input, size_t input_len,
                                 weft_process_result_t *res);
WEFT_EXTERN void weft_process_result_free(weft_process_result_t *res);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_IO_H */
