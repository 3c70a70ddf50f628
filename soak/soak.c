/* Soak: run every feature together, with random faults, for a bounded time.
 *
 *   soak [seconds]      (default: $SOAK_SECONDS, else 180; $SOAK_SEED picks
 *                        the random seed, default 1)
 *
 * Runtimes are started one after another (each lives ~10 s, so startup and
 * shutdown are soaked too).  Each runs waves: a task group of actors that
 * share a fresh channel and lock --
 *   producers and consumers (send / recv under random deadlines),
 *   lockers (a lock held across sleeps, mutual exclusion checked),
 *   offloaders (to_thread, some abandoned on cancel, calling from_thread),
 *   TCP clients (echo round trips through a weft_serve loopback server) --
 * that the host either stops gracefully or cancels at a random moment.
 * Faults injected: wave cancellations, deadlines expiring inside waits,
 * abandoned blocking calls, connections cut in the middle of a transfer,
 * and in one wave of three a resource failure (fault.h): the library's n-th
 * allocation, blocking-thread start or stack mapping from the wave's start
 * fails.  While one is armed WEFT_ENOMEM is an accepted result of any call,
 * and a connection the server had to drop (EOF, reset) an accepted end of a
 * round trip; nothing else is relaxed.
 * Invariants checked after every wave and run: each item received once,
 * delivered == received + left in the channel, the lock free and never held
 * twice, echoes byte-exact, every group closed in time, no actor left,
 * every abandoned call's on_abandoned ran, weft_run returned 0.
 *
 * Prints the operations done, faults injected and invariants checked; exits
 * 1 on any violation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched/fault.h"   /* test-only fault injection (not public API) */
#include "sched/runtime.h" /* the workers' connection counts (place.h) */
#include "weft.h"

#define RUN_SECONDS 10.0
#define WAVE_GUARD 30.0   /* a wave not closed by then is stuck */
#define MAX_ITEMS (1u << 20)
#define PRODUCERS 2
#define CONSUMERS 2
#define LOCKERS 2
#define OFFLOADERS 2
#define CLIENTS 2
#define ACTORS (PRODUCERS + CONSUMERS + LOCKERS + OFFLOADERS + CLIENTS)

static atomic_ullong ops, faults, resource_faults, checks, violations;
/* A resource failure is armed in this wave: WEFT_ENOMEM may come back. */
static atomic_int resource_armed;
/* The runtime's main task has returned: calls into it from its blocking
 * threads (an abandoned call that slept past the run's end) get WEFT_EBADF. */
static atomic_int main_returned;

static void violation(int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "soak: VIOLATION (soak.c:%d): ", line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    atomic_fetch_add(&violations, 1);
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        atomic_fetch_add(&checks, 1);                                          \
        if (!(cond))                                                           \
            violation(__LINE__, __VA_ARGS__);                                  \
    } while (0)

/* rc is 0 or one of the codes listed (or WEFT_ENOMEM while a resource
 * failure is armed). */
#define CHECK_RC(what, rc, ...)                                                \
    do {                                                                       \
        int ok_codes_[] = {0, __VA_ARGS__};                                    \
        int rc_ = (rc), ok_ = rc_ == WEFT_ENOMEM && atomic_load(&resource_armed); \
        for (size_t i_ = 0; i_ < sizeof ok_codes_ / sizeof ok_codes_[0]; i_++) \
            ok_ |= rc_ == ok_codes_[i_];                                       \
        CHECK(ok_, "%s returned %d (%s)", (what), rc_, weft_err_name(rc_));    \
    } while (0)

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* 1 with probability 1/n. */
static int one_in(uint64_t *s, unsigned n)
{
    return rnd(s) % n == 0;
}

/* A random short deadline for a wait: none most of the time, else 0..1 ms. */
static double wait_limit(uint64_t *s)
{
    return one_in(s, 4) ? (double)(rnd(s) % 1000) * 1e-6 : WEFT_FOREVER;
}

/* ---------------------------------------------------------------- a wave */

typedef struct actor actor_t;

typedef struct {
    weft_group_t group;
    actor_t *actors[ACTORS]; /* freed by the wave once its group closed */
    int nactors;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    weft_lock_t *lock;
    int port;
    atomic_int stop;
    atomic_int lock_holder;
    atomic_int live;
    atomic_uint next_item;
    atomic_uint delivered, received;
    atomic_uchar *seen;
} wave_t;

struct actor {
    wave_t *w;
    uint64_t rng;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    int ran;  /* a task whose stack could not be mapped never runs */
};

/* The current runtime's counts of abandoned calls (one runtime at a time). */
static struct {
    atomic_int *abandoned, *on_abandoned_ran;
} run_counts;

/* What TCP clients send (filled before the first runtime starts). */
static char echo_out[65536];

static void note_item(wave_t *w, void *item)
{
    uintptr_t id = (uintptr_t)item;
    CHECK(id > 0 && id <= atomic_load(&w->next_item), "item %lu was never sent",
          (unsigned long)id);
    if (id > 0 && id < MAX_ITEMS)
        CHECK(atomic_exchange(&w->seen[id], 1) == 0, "item %lu received twice",
              (unsigned long)id);
    atomic_fetch_add(&w->received, 1);
}

/* Run one wait under a random deadline; a deadline that expired counts as
 * an injected fault. */
#define LIMITED(rng, rc, call)                                                 \
    do {                                                                       \
        weft_scope_t lim_;                                                     \
        weft_scope_enter(&lim_, weft_now() + wait_limit(rng), 0);              \
        (rc) = (call);                                                         \
        if (weft_scope_exit(&lim_, (rc)) == 0 && (rc) == WEFT_ECANCELED)       \
            atomic_fetch_add(&faults, 1);                                      \
        atomic_fetch_add(&ops, 1);                                             \
    } while (0)

static int producer(void *arg)
{
    actor_t *a = arg;
    wave_t *w = a->w;
    while (!atomic_load(&w->stop)) {
        unsigned id = atomic_fetch_add(&w->next_item, 1) + 1;
        if (id >= MAX_ITEMS)
            break;
        int rc;
        LIMITED(&a->rng, rc, weft_send(a->tx, (void *)(uintptr_t)id));
        CHECK_RC("weft_send", rc, WEFT_ECANCELED, WEFT_EPIPE);
        if (rc == 0)
            atomic_fetch_add(&w->delivered, 1);
        else if (rc != WEFT_ECANCELED || weft_checkpoint() != 0)
            break; /* the wave was cancelled (or the receivers are gone) */
    }
    return 0;
}

static int consumer(void *arg)
{
    actor_t *a = arg;
    for (;;) {
        void *item = NULL;
        int rc;
        LIMITED(&a->rng, rc, weft_recv(a->rx, &item));
        CHECK_RC("weft_recv", rc, WEFT_ECANCELED, WEFT_EOF);
        if (rc == 0)
            note_item(a->w, item);
        else if (rc == WEFT_EOF || weft_checkpoint() != 0)
            break;
    }
    return 0;
}

static int locker(void *arg)
{
    actor_t *a = arg;
    wave_t *w = a->w;
    while (!atomic_load(&w->stop)) {
        int rc;
        LIMITED(&a->rng, rc, weft_lock_acquire(w->lock));
        CHECK_RC("weft_lock_acquire", rc, WEFT_ECANCELED);
        if (rc != 0) {
            if (weft_checkpoint() != 0)
                break;
            continue;
        }
        CHECK(atomic_exchange(&w->lock_holder, 1) == 0, "two tasks hold the lock");
        /* Held across a sleep; a cancellation here is absorbed below. */
        rc = weft_sleep((double)(rnd(&a->rng) % 200) * 1e-6);
        atomic_store(&w->lock_holder, 0);
        CHECK_RC("weft_lock_release", weft_lock_release(w->lock), 0);
        if (rc != 0)
            break;
    }
    return 0;
}

typedef struct {
    unsigned usec;
    atomic_int *hits;
} offload_t;

static int count_hit(void *arg)
{
    atomic_fetch_add(((offload_t *)arg)->hits, 1);
    return 0;
}

static int blocking(void *arg)
{
    offload_t *o = arg;
    usleep(o->usec);
    int rc = weft_from_thread_run_sync(count_hit, o);
    int late = atomic_load(&main_returned) ? WEFT_EBADF : 0;
    CHECK_RC("weft_from_thread_run_sync", rc, WEFT_ECANCELED, late);
    rc = weft_from_thread_run(count_hit, o);
    late = atomic_load(&main_returned) ? WEFT_EBADF : 0;
    CHECK_RC("weft_from_thread_run", rc, WEFT_ECANCELED, late);
    return 0;
}

static void on_abandoned(void *arg, int rc)
{
    CHECK_RC("an abandoned call", rc, WEFT_ECANCELED);
    atomic_fetch_add(run_counts.on_abandoned_ran, 1);
    free(arg);
}

static int offloader(void *arg)
{
    actor_t *a = arg;
    static atomic_int hits;
    while (!atomic_load(&a->w->stop)) {
        offload_t *o = malloc(sizeof *o);
        if (o == NULL)
            return WEFT_ENOMEM;
        o->usec = (unsigned)(rnd(&a->rng) % 500);
        o->hits = &hits;
        weft_thread_opts_t opts = {.abandon_on_cancel = one_in(&a->rng, 2),
                                   .on_abandoned = on_abandoned};
        int rc;
        LIMITED(&a->rng, rc, weft_to_thread_run_sync(blocking, o, &opts));
        CHECK_RC("weft_to_thread_run_sync", rc, WEFT_ECANCELED);
        if (rc == WEFT_ECANCELED && opts.abandon_on_cancel) {
            atomic_fetch_add(run_counts.abandoned, 1); /* on_abandoned frees o */
        } else {
            free(o);
        }
        if (weft_checkpoint() != 0)
            break;
    }
    return 0;
}

/* Echo round trips of random sizes; a deadline in the middle cuts the
 * connection (the next round trip reconnects). */
static int client(void *arg)
{
    actor_t *a = arg;
    const char *out = echo_out;
    char in[sizeof echo_out];
    weft_stream_t *s = NULL;
    while (!atomic_load(&a->w->stop)) {
        int rc;
        if (s == NULL) {
            LIMITED(&a->rng, rc, weft_tcp_connect(&s, "127.0.0.1", a->w->port));
            CHECK_RC("weft_tcp_connect", rc, WEFT_ECANCELED);
            if (rc != 0) {
                if (weft_checkpoint() != 0)
                    break;
                continue;
            }
        }
        size_t off = rnd(&a->rng) % 64, got = 0;
        size_t len = 1 + rnd(&a->rng) % (sizeof echo_out - off);
        weft_scope_t lim;
        weft_scope_enter(&lim, weft_now() + wait_limit(&a->rng), 0);
        rc = weft_stream_send(s, out + off, len);
        while (rc == 0 && got < len) {
            int n = weft_stream_receive(s, in + got, sizeof in - got);
            if (n < 0)
                rc = n;
            else
                got += (size_t)n;
        }
        weft_scope_exit(&lim, rc);
        atomic_fetch_add(&ops, 1);
        if (atomic_load(&resource_armed) && (rc == WEFT_EOF || rc == -ECONNRESET || rc == WEFT_EPIPE))
            rc = WEFT_ENOMEM; /* the server had no memory for this connection: dropped */
        CHECK_RC("echo round trip", rc, WEFT_ECANCELED);
        if (rc == 0) {
            CHECK(got == len && memcmp(in, out + off, len) == 0, "echo of %zu bytes differs",
                  len);
        } else {
            /* Cut or dropped: the bytes in flight are lost with the connection. */
            atomic_fetch_add(&faults, 1);
            CHECK_RC("weft_stream_close", weft_stream_close(s), 0);
            s = NULL;
            if (weft_checkpoint() != 0)
                break;
        }
    }
    if (s)
        CHECK_RC("weft_stream_close", weft_stream_close(s), 0);
    return 0;
}

/* Let go of an actor's channel clones. */
static void actor_close(actor_t *a)
{
    weft_sender_close(a->tx);
    weft_receiver_close(a->rx);
    a->tx = NULL;
    a->rx = NULL;
}

static int actor_main(actor_t *a, weft_fn_t fn)
{
    a->ran = 1;
    atomic_fetch_add(&a->w->live, 1);
    int rc = fn(a);
    actor_close(a);
    atomic_fetch_sub(&a->w->live, 1);
    return rc == WEFT_ECANCELED ? 0 : rc;
}

#define ACTOR_ENTRY(name)                                                      \
    static int name##_task(void *arg) { return actor_main(arg, name); }
ACTOR_ENTRY(producer)
ACTOR_ENTRY(consumer)
ACTOR_ENTRY(locker)
ACTOR_ENTRY(offloader)
ACTOR_ENTRY(client)

static void spawn_actors(wave_t *w, uint64_t *rng, weft_fn_t fn, int n, int tx, int rx)
{
    for (int i = 0; i < n; i++) {
        actor_t *a = calloc(1, sizeof *a);
        if (a == NULL)
            return;
        a->w = w;
        a->rng = rnd(rng);
        int rc = 0;
        if (tx)
            rc = weft_sender_clone(w->tx, &a->tx);
        if (rx && rc == 0)
            rc = weft_receiver_clone(w->rx, &a->rx);
        if (rc == 0)
            rc = weft_group_spawn_named(&w->group, fn, a, "actor");
        CHECK_RC("weft_group_spawn", rc, 0);
        if (rc != 0) { /* it never runs: its clones and record are ours */
            actor_close(a);
            free(a);
        } else {
            w->actors[w->nactors++] = a;
        }
    }
}

/* After the group closed: an actor whose task failed before it ran (no
 * stack) still holds its clones (weft.h, weft_group_spawn). */
static void free_actors(wave_t *w)
{
    for (int i = 0; i < w->nactors; i++) {
        if (!w->actors[i]->ran)
            actor_close(w->actors[i]);
        free(w->actors[i]);
    }
    w->nactors = 0;
}

static void run_wave(uint64_t *rng, int port)
{
    wave_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return;
    w->seen = calloc(MAX_ITEMS, 1);
    w->port = port;
    CHECK_RC("weft_channel", weft_channel(rnd(rng) % 9, &w->tx, &w->rx), 0);
    CHECK_RC("weft_lock_new", weft_lock_new(&w->lock), 0);

    /* One wave in three: the n-th allocation or stack mapping from here
     * on fails, or every blocking-thread start does (new stacks and threads
     * are rare once the caches are warm). */
    wf_fault_kind_t kind = (wf_fault_kind_t)(rnd(rng) % WF_FAULT_KINDS);
    int armed = one_in(rng, 3);
    if (armed) {
        atomic_store(&resource_armed, 1);
        wf_fault_fail_at(kind, kind == WF_FAULT_THREAD ? WF_FAULT_ALWAYS
                               : 1 + (long)(rnd(rng) % (kind == WF_FAULT_ALLOC ? 300 : 4)));
    }

    weft_scope_t guard;
    weft_fail_after(&guard, WAVE_GUARD);
    CHECK_RC("weft_group_open", weft_group_open(&w->group), 0);
    spawn_actors(w, rng, producer_task, PRODUCERS, 1, 0);
    spawn_actors(w, rng, consumer_task, CONSUMERS, 0, 1);
    spawn_actors(w, rng, locker_task, LOCKERS, 0, 0);
    spawn_actors(w, rng, offloader_task, OFFLOADERS, 0, 0);
    spawn_actors(w, rng, client_task, CLIENTS, 0, 0);
    /* Only the actors' clones keep the channel open from here on. */
    weft_sender_close(w->tx);
    w->tx = NULL;
    weft_sleep((double)(1 + rnd(rng) % 50) * 1e-3);
    if (one_in(rng, 2)) {
        weft_group_cancel(&w->group); /* fault: the wave dies wherever it is */
        atomic_fetch_add(&faults, 1);
    } else {
        atomic_store(&w->stop, 1);
    }
    int rc = weft_group_close(&w->group, 0);
    rc = weft_scope_exit(&guard, rc);
    CHECK(rc != WEFT_ETIMEDOUT, "a wave did not close within %g s", WAVE_GUARD);
    CHECK_RC("weft_group_close", rc, 0);
    CHECK(atomic_load(&w->live) == 0, "%d actor(s) left after the wave closed",
          atomic_load(&w->live));
    CHECK(!weft_lock_locked(w->lock) && !atomic_load(&w->lock_holder),
          "the lock is held after the wave");
    free_actors(w);

    /* What is still buffered (the consumers were cancelled) ends the count. */
    for (;;) {
        void *item = NULL;
        rc = weft_recv_nowait(w->rx, &item);
        if (rc != 0) {
            CHECK(rc == WEFT_EOF, "draining: %s, not WEFT_EOF", weft_err_name(rc));
            break;
        }
        note_item(w, item);
    }
    CHECK(atomic_load(&w->delivered) == atomic_load(&w->received),
          "%u item(s) delivered, %u received", atomic_load(&w->delivered),
          atomic_load(&w->received));
    if (armed) {
        wf_fault_fail_at(kind, 0);
        unsigned long long n = (unsigned long long)wf_fault_injected(kind);
        atomic_fetch_add(&resource_faults, n);
        atomic_fetch_add(&faults, n);
        atomic_store(&resource_armed, 0);
    }
    weft_receiver_close(w->rx);
    weft_lock_free(w->lock);
    free(w->seen);
    free(w);
}

/* ---------------------------------------------------------------- a runtime */

typedef struct {
    uint64_t rng;
    double end;
    atomic_int abandoned, on_abandoned_ran;
    int waves;
} run_t;

static int echo(weft_stream_t *s, void *arg)
{
    (void)arg;
    char buf[16384];
    int n;
    while ((n = weft_stream_receive(s, buf, sizeof buf)) > 0)
        if (weft_stream_send(s, buf, (size_t)n) != 0)
            break;
    return 0;
}

static int server(void *arg)
{
    int rc = weft_serve(arg, echo, NULL);
    return rc == WEFT_ECANCELED ? 0 : rc;
}

static int run_main(void *arg)
{
    run_t *r = arg;
    weft_listener_t *l = NULL;
    weft_group_t g;
    CHECK_RC("weft_tcp_listen", weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    if (l == NULL)
        return 0;
    CHECK_RC("weft_group_open", weft_group_open(&g), 0);
    CHECK_RC("weft_group_spawn", weft_group_spawn(&g, server, l), 0);
    while (weft_now() < r->end && !atomic_load(&violations)) {
        run_wave(&r->rng, weft_listener_port(l));
        r->waves++;
    }
    weft_group_cancel(&g);
    CHECK_RC("weft_group_close (server)", weft_group_close(&g, 0), 0);
    CHECK_RC("weft_listener_close", weft_listener_close(l), 0);
    /* Every connection placed on a worker is counted off once its stream is
     * freed, whatever failed on the way (libuv closes handles a little
     * later: wait for it). */
    wf_runtime_t *rt = wf_current_worker()->rt;
    unsigned placed = 1;
    for (double give_up = weft_now() + 2; placed && weft_now() < give_up; weft_sleep(0.001)) {
        placed = 0;
        for (unsigned i = 0; i < rt->nworkers; i++)
            placed += atomic_load(&rt->workers[i].io_load);
    }
    CHECK(placed == 0, "%u connection(s) still counted on the workers", placed);
    atomic_store(&main_returned, 1);
    return 0;
}

int main(int argc, char **argv)
{
    const char *env = getenv("SOAK_SECONDS");
    double seconds = argc > 1 ? atof(argv[1]) : env ? atof(env) : 180;
    uint64_t seed = getenv("SOAK_SEED") ? strtoull(getenv("SOAK_SEED"), NULL, 0) : 1;
    if (!(seconds > 0))
        seconds = 180;
    printf("soak: %g s, seed %llu\n", seconds, (unsigned long long)seed);
    fflush(stdout);

    for (size_t i = 0; i < sizeof echo_out; i++)
        echo_out[i] = (char)(i * 7 + 3);
    double start = weft_now(), stop = start + seconds;
    uint64_t rng = seed;
    int runs = 0, waves = 0;
    while (weft_now() < stop && !atomic_load(&violations)) {
        run_t r;
        memset(&r, 0, sizeof r);
        r.rng = rnd(&rng);
        r.end = weft_now() + RUN_SECONDS < stop ? weft_now() + RUN_SECONDS : stop;
        run_counts.abandoned = &r.abandoned;
        run_counts.on_abandoned_ran = &r.on_abandoned_ran;
        atomic_store(&main_returned, 0);
        weft_config_t cfg = {.workers = 2, .thread_tokens = 4, .thread_idle_timeout = 0.5};
        int rc = weft_run(run_main, &r, &cfg);
        CHECK_RC("weft_run", rc, 0);
        /* weft_run waited for the blocking threads: every abandoned call ended. */
        CHECK(atomic_load(&r.abandoned) == atomic_load(&r.on_abandoned_ran),
              "%d call(s) abandoned, on_abandoned ran %d time(s)", atomic_load(&r.abandoned),
              atomic_load(&r.on_abandoned_ran));
        runs++;
        waves += r.waves;
        printf("soak: %5.0f s: %d runtime(s), %d waves, %llu ops, %llu faults, %llu checks\n",
               weft_now() - start, runs, waves, (unsigned long long)atomic_load(&ops),
               (unsigned long long)atomic_load(&faults), (unsigned long long)atomic_load(&checks));
        fflush(stdout);
    }
    printf("soak: done in %.0f s: %d runtimes, %d waves, operations done %llu, "
           "faults injected %llu (resource failures %llu), invariants checked %llu, "
           "violations %llu\n",
           weft_now() - start, runs, waves, (unsigned long long)atomic_load(&ops),
           (unsigned long long)atomic_load(&faults),
           (unsigned long long)atomic_load(&resource_faults),
           (unsigned long long)atomic_load(&checks),
           (unsigned long long)atomic_load(&violations));
    return atomic_load(&violations) ? 1 : 0;
}
