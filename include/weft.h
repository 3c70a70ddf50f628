/*
 * weft — structured concurrency for C on a work-stealing M:N runtime.
 *
 * The umbrella header: it includes every part of the API (weft/sync.h,
 * weft/channel.h, weft/thread.h, weft/io.h, weft/tls.h, weft/debug.h,
 * weft/local.h; weft/test.h, the test runner, is separate).  Conventions
 * (docs/reference.md has them all):
 *   - functions are weft_<area>_<verb>, types weft_..._t, constants WEFT_...;
 *   - a function that can fail returns int: 0 (or a count) on success, a negative
 *     errno value or one of weft's own codes (-4100..-4199, and WEFT_EOF) on
 *     failure;
 *   - [fiber] calls work only inside a task of a running runtime (else WEFT_EPERM);
 *   - [checkpoint] calls may suspend the task and report cancellation.
 */
#ifndef WEFT_H
#define WEFT_H

#include <errno.h>
#include <math.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* weft builds on POSIX systems only (Linux is the one tested, README.md). */
#if defined(__GNUC__)
#define WEFT_EXTERN __attribute__((visibility("default")))
#else
#define WEFT_EXTERN
#endif

/* ---------------------------------------------------------------- builds
 *
 * weft installs in three builds: plain (pkg-config weft, CMake weft::weft),
 * TSan (weft-tsan, weft::weft-tsan) and ASan+UBSan (weft-asan,
 * weft::weft-asan).  A sanitizer must see weft's fiber switches, which only
 * its own build annotates: a program built with TSan or ASan links the
 * build of that sanitizer, never the plain one (false race reports, a
 * crash at start), and a sanitizer build links only programs built with
 * its sanitizer.  weft-tsan.pc and weft::weft-tsan add -fsanitize=thread and
 * -DWEFT_LINK_TSAN (weft-asan: the ASan flags and -DWEFT_LINK_ASAN); the
 * checks below make a mismatch a compile error, and a program compiled
 * with WEFT_LINK_TSAN references weft_built_with_tsan, which only
 * libweft-tsan defines, so that linking it to another build fails too.
 * A plain program compiles none of it. */
#if defined(__SANITIZE_THREAD__)
#define WEFT_CC_TSAN_ 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_CC_TSAN_ 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_CC_ASAN_ 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_CC_ASAN_ 1
#endif
#endif
#if defined(WEFT_CC_TSAN_) && !defined(WEFT_LINK_TSAN)
#error "this program is built with TSan: link weft-tsan (pkg-config weft-tsan, CMake weft::weft-tsan)"
#endif
#if defined(WEFT_LINK_TSAN) && !defined(WEFT_CC_TSAN_)
#error "weft-tsan is weft built with TSan: compile with -fsanitize=thread (pkg-config --cflags weft-tsan), or link weft"
#endif
#if defined(WEFT_CC_ASAN_) && !defined(WEFT_LINK_ASAN)
#error "this program is built with ASan: link weft-asan (pkg-config weft-asan, CMake weft::weft-asan)"
#endif
#if defined(WEFT_LINK_ASAN) && !defined(WEFT_CC_ASAN_)
#error "weft-asan is weft built with ASan: compile with -fsanitize=address (pkg-config --cflags weft-asan), or link weft"
#endif
#if defined(WEFT_LINK_TSAN)
WEFT_EXTERN extern const char weft_built_with_tsan;
static const char *const weft_link_check_ __attribute__((used)) = &weft_built_with_tsan;
#elif defined(WEFT_LINK_ASAN)
WEFT_EXTERN extern const char weft_built_with_asan;
static const char *const weft_link_check_ __attribute__((used)) = &weft_built_with_asan;
#endif

/* ---------------------------------------------------------------- versions
 *
 * While the major version is 0, a minor version may change the API and the
 * ABI: the shared library's soname carries both (libweft.so.0.2), so a
 * program runs only against the minor version it was built for.  Patch
 * versions change neither. */
#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 2
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION_HEX \
    ((WEFT_VERSION_MAJOR << 16) | (WEFT_VERSION_MINOR << 8) | WEFT_VERSION_PATCH)

/* The version of the library the program runs against (as uv_version and
 * sqlite3_libversion_number): WEFT_VERSION_HEX's encoding, and "0.2.0". */
WEFT_EXTERN unsigned weft_version(void);
WEFT_EXTERN const char *weft_version_string(void);

/* ---------------------------------------------------------------- errors */

#define WEFT_ECANCELED (-ECANCELED)
#define WEFT_ETIMEDOUT (-ETIMEDOUT)
#define WEFT_EINVAL (-EINVAL)
#define WEFT_ENOMEM (-ENOMEM)
#define WEFT_EPERM (-EPERM)
#define WEFT_EAGAIN (-EAGAIN)
#define WEFT_EPIPE (-EPIPE)
#define WEFT_EBADF (-EBADF)
#define WEFT_EBUSY (-EBUSY)     /* another task already waits for the same thing */
/* weft's own codes lie in -4100..-4199, outside every value libuv defines
 * on any platform, so that a libuv code that the I/O functions pass through
 * is never mistaken for one of them.  WEFT_EOF is libuv's UV_EOF: it means
 * the same. */
#define WEFT_EDEADLK (-EDEADLK) /* weft_run: every task blocked, nothing to wake one */
#define WEFT_EOF (-4095)
#define WEFT_EGROUP (-4194)
#define WEFT_ENOTSTARTED (-4193)
#define WEFT_EINCOMPLETE (-4192) /* the stream ended before the requested bytes / delimiter */

/* Human-readable text and symbolic name ("WEFT_ECANCELED", "ENOENT", ...);
 * never NULL, also for unknown codes. */
WEFT_EXTERN const char *weft_strerror(int err);
WEFT_EXTERN const char *weft_err_name(int err);

/* One function type for every unit of work: returns 0 or a negative error. */
typedef int (*weft_fn_t)(void *arg);

#define WEFT_FOREVER INFINITY

/* ---------------------------------------------------------------- runtime */

/* A runtime's configuration.  Zeroed, every field means its default.
 *
 * The layout is versioned: later versions add fields at the end, and
 * `config_size` (set by weft_config_init, always at this offset) tells
 * weft_run how much of the struct the caller's header had, so that it never
 * reads past an older caller's struct; fields the caller did not have take
 * their defaults.  0 (a config zeroed with memset or `= {...}` rather than
 * initialised) means the layout of weft 0.2, every field of this header.
 * So: zero the whole struct or call weft_config_init before setting fields;
 * never copy one field by field from a struct of another version. */
typedef struct weft_config_t {
    unsigned workers;            /* scheduler worker threads; 0 = the CPUs this
                                    process may use: the calling thread's CPU
                                    affinity mask (sched_getaffinity), lowered
                                    to a cgroup v2 CPU quota (cpu.max:
                                    quota/period rounded up, at least 1)
                                    where one is set; at most 4096 */
    size_t stack_size;           /* per task; 0 = 256 KiB, guard page below it;
                                    else at least one page */
    unsigned thread_tokens;      /* default thread limiter size; 0 = 40 */
    double thread_idle_timeout;  /* idle blocking thread exits after this; 0 = 10 s */
    size_t config_size;          /* sizeof(weft_config_t) of the caller's header;
                                    0 = weft 0.2's (weft_config_init sets it) */
    /* Seeing inside (weft/debug.h, docs/debugging.md): */
    double blocking_threshold;   /* warn when a task holds a worker this long (s)
                                    without a checkpoint; 0 = 0.1 s with
                                    WEFT_DEBUG=1 in the environment, else off;
                                    < 0 = off */
    unsigned flags;              /* WEFT_CONFIG_* below */
    unsigned long long seed;     /* WEFT_CONFIG_DETERMINISTIC's seed; 0 = WEFT_SEED
                                    from the environment, or 1 when unset */
    /* Read only when config_size (or, zeroed, the layout it stands for)
     * covers all three.  Hooks for per-thread resources of the blocking
     * threads (weft/thread.h), as Tokio's on_thread_start / on_thread_stop:
     * a database connection per thread, say.  Both run on the blocking
     * thread itself, for every blocking thread the runtime starts, with
     * thread_hook_arg: on_thread_start once, before the thread's first call
     * (the thread already carries its name, weft-blocking-N); on_thread_stop
     * once, when the thread exits: idle for thread_idle_timeout, or at the
     * end of weft_run, which returns only after every on_thread_stop
     * returned.  Every start has its stop.  No call runs in them, so
     * weft_from_thread_run and its plain forms return WEFT_EPERM there (the
     * _token forms work).  A slow start delays the call the thread was
     * started for; NULL = nothing to run. */
    void (*on_thread_start)(void *arg);
    void (*on_thread_stop)(void *arg);
    void *thread_hook_arg;
} weft_config_t;

/* config.flags */
#define WEFT_CONFIG_VIRTUAL_CLOCK 1u /* weft_now() is virtual: when every task is
                                        blocked and only timers are pending, time
                                        jumps to the next deadline (tests).  It
                                        does not jump while a task waits on I/O,
                                        a blocking call runs, or a token is held
                                        (weft_current_token): a plain thread that
                                        sets an event or sends on a channel
                                        without holding one is invisible to it */
#define WEFT_CONFIG_SPARE_WORKER 2u  /* a worker blocked past blocking_threshold
                                        gets a stand-in thread until it is back */
#define WEFT_CONFIG_DETERMINISTIC 4u /* one worker, seeded task order, virtual clock
                                        (weft/debug.h) */

/* Zero *c (every field its default) and set c->config_size. */
WEFT_EXTERN void weft_config_init(weft_config_t *c);

/* [thread] Start a runtime, run main(arg) as its root task, return main's result
 * once every task has finished.  NULL config means defaults.  Several runtimes
 * may run at once, each from its own thread.  From inside a task: WEFT_EPERM.
 * The calling thread is worker 0 and keeps its own name; the threads weft
 * starts name themselves weft-worker-N (N = 1 .. workers - 1, the spare
 * the last), weft-blocking-N, weft-monitor (the blocking detector),
 * weft-pool-mon (the blocking threads' monitor); a portal's thread is
 * weft-portal, weft_test_run_timed's weft-test.  A name that would pass
 * the system's limit (15 bytes on Linux) keeps its number and loses
 * letters of its prefix.
 * A config it cannot honour (more than 4096 workers, a stack below one page,
 * a flag bit it does not know, a NaN time, a config_size larger than this
 * library's struct) is refused at once: WEFT_EINVAL.  When every task is
 * blocked and nothing can wake any of them, it prints the task tree,
 * cancels everything and returns WEFT_EDEADLK (weft/debug.h). */
WEFT_EXTERN int weft_run(weft_fn_t main, void *arg, const weft_config_t *config);

/* Monotonic clock, seconds.  Deadlines are absolute on this clock. */
WEFT_EXTERN double weft_now(void);

/* [fiber][checkpoint] Report cancellation, else let other tasks run once. */
WEFT_EXTERN int weft_checkpoint(void);
/* [fiber][checkpoint] Sleep for a relative delay / until an absolute deadline. */
WEFT_EXTERN int weft_sleep(double seconds);
WEFT_EXTERN int weft_sleep_until(double deadline);

/* Name of the calling task ("main" for the root task); NULL outside a task. */
WEFT_EXTERN const char *weft_current_task_name(void);

/* ---------------------------------------------------------------- cancel scopes */

/* Caller-allocated (normally on the stack); the contents are private. */
typedef struct weft_scope_t {
    union {
        void *weft_private_align_;
        double weft_private_align_d_;
        unsigned char weft_private_[160];
    } weft_private_;
} weft_scope_t;

#define WEFT_SHIELD 1u

/* [fiber] Enter a cancel scope with an absolute deadline (WEFT_FOREVER for none).
 * Pattern: weft_scope_enter(&s, ...); rc = body(); rc = weft_scope_exit(&s, rc);
 * A NaN deadline or delay (here and below) is a bad argument: the scope is
 * cancelled at once and its exit returns WEFT_EINVAL.  Outside a task there
 * is nothing to enter: the scope stays inert and its exit returns WEFT_EPERM. */
WEFT_EXTERN void weft_scope_enter(weft_scope_t *s, double deadline, unsigned flags);
/* [fiber] Enter with deadline now+seconds; the exit catches the expiry silently. */
WEFT_EXTERN void weft_move_on_after(weft_scope_t *s, double seconds);
/* [fiber] Same, but the exit reports an expired deadline as WEFT_ETIMEDOUT. */
WEFT_EXTERN void weft_fail_after(weft_scope_t *s, double seconds);
/* Leave the scope; rc is the body's result.  Catches WEFT_ECANCELED when this
 * scope owns the cancellation (it is cancelled, and shielded or no enclosing
 * scope is): returns 0, WEFT_ETIMEDOUT for an expired weft_fail_after, or
 * WEFT_EINVAL for a NaN deadline.  Else returns rc unchanged.  Scopes and
 * groups are exited by the task that entered them, innermost first, exactly
 * once: anything else (out of order, twice, a scope never entered) aborts
 * with a message naming the task. */
WEFT_EXTERN int weft_scope_exit(weft_scope_t *s, int rc);
/* Cancel the scope: from any task of the runtime and from any other thread
 * (a signal or callback thread) while the scope is entered; idempotent.  A
 * task blocked in a checkpoint inside it is woken promptly. */
WEFT_EXTERN void weft_scope_cancel(weft_scope_t *s);
WEFT_EXTERN void weft_scope_set_deadline(weft_scope_t *s, double deadline);
WEFT_EXTERN double weft_scope_deadline(const weft_scope_t *s);
WEFT_EXTERN void weft_scope_set_shield(weft_scope_t *s, int shield);
WEFT_EXTERN int weft_scope_cancel_called(const weft_scope_t *s);
WEFT_EXTERN int weft_scope_cancelled_caught(const weft_scope_t *s);
/* The earliest deadline among the caller's effective scopes; -INFINITY when the
 * caller is effectively cancelled, WEFT_FOREVER when there is none. */
WEFT_EXTERN double weft_current_effective_deadline(void);

/* ---------------------------------------------------------------- task groups */

/* Caller-allocated (normally on the stack); the contents are private. */
typedef struct weft_group_t {
    union {
        void *weft_private_align_;
        double weft_private_align_d_;
        unsigned char weft_private_[320];
    } weft_private_;
} weft_group_t;

/* [fiber] Open a group (a nursery): its cancel scope becomes the caller's innermost. */
WEFT_EXTERN int weft_group_open(weft_group_t *g);
/* start_soon.  The macro names the task after the function; the _named forms take
 * a name that must stay valid while the task lives and, if it fails, until the
 * group's failures have been read.  A task's stack is mapped when it first
 * runs: if that fails, the task fails with WEFT_ENOMEM without running, so
 * whatever `arg` owns is still the spawner's to release. */
WEFT_EXTERN int weft_group_spawn(weft_group_t *g, weft_fn_t fn, void *arg);
WEFT_EXTERN int weft_group_spawn_named(weft_group_t *g, weft_fn_t fn, void *arg,
                                       const char *name);
/* [checkpoint] start(): wait until the task calls weft_started(value).  Until
 * then the task runs under the caller's cancel scope.  The task is always
 * launched, as spawn does, even when the caller is cancelled: it then sees
 * WEFT_ECANCELED at its first checkpoint, and start returns what the task
 * returned before weft_started (its error, or WEFT_ENOTSTARTED for 0), so
 * `arg` is always the task's.  The group is not cancelled by such a failure. */
WEFT_EXTERN int weft_group_start(weft_group_t *g, weft_fn_t fn, void *arg, void **value);
WEFT_EXTERN int weft_group_start_named(weft_group_t *g, weft_fn_t fn, void *arg,
                                       void **value, const char *name);
/* task_status.started(value): moves the calling task into its group, where
 * a cancellation in effect reaches it and everything below it at once.  In
 * a task launched by spawn it does nothing and returns 0; a second call
 * returns WEFT_EPERM. */
WEFT_EXTERN int weft_started(void *value);
/* tg.cancel_scope.cancel(): from any task and any thread while the group is
 * open, as weft_scope_cancel. */
WEFT_EXTERN void weft_group_cancel(weft_group_t *g);
/* [checkpoint] The `async with` exit: wait for every task, report failures. */
WEFT_EXTERN int weft_group_close(weft_group_t *g, int rc);
/* Failures recorded by the last close; readable until the host task returns or
 * opens the group again. */
WEFT_EXTERN size_t weft_group_failure_count(const weft_group_t *g);
WEFT_EXTERN int weft_group_failure(const weft_group_t *g, size_t i, int *err,
                                   const char **task_name);

#define weft_group_spawn(g, fn, arg) weft_group_spawn_named((g), (fn), (arg), #fn)
#define weft_group_start(g, fn, arg, value) \
    weft_group_start_named((g), (fn), (arg), (value), #fn)

#ifdef __cplusplus
}
#endif

#include "weft/sync.h"    /* events, locks, semaphores, conditions */
#include "weft/channel.h" /* memory object streams */
#include "weft/thread.h"  /* limiters, to_thread, from_thread, tokens, portals */
#include "weft/io.h"      /* streams, listeners, DNS, files */
#include "weft/tls.h"     /* TLS streams (WEFT_ENOSYS when built without) */
#include "weft/debug.h"   /* task tree, statistics */
#include "weft/local.h"   /* task-local values */

#endif /* WEFT_H */
