/*
 * bench.h — small helpers shared by weft's benchmark programs (header only).
 *
 * Every benchmark is a standalone program that uses only the public API
 * (include/weft.h) and prints, on stdout:
 *
 *   # free-form comment lines (parameters, repetitions, raw numbers)
 *   weft <workload> <value> <unit>          exactly one
 *   baseline <name> <value> <unit>          where a baseline is measured in the same run
 *   ratio <workload> <x>                    weft value / baseline value
 *
 * A ratio below 1 means weft's number is smaller (better) than the baseline's.
 * Every program checks its own results and exits non-zero on a wrong result,
 * a failed call or a hang, so a broken runtime cannot print a pretty number.
 *
 * Common flags: -w N / --workers N (default 2), -n N (size, program-specific),
 * -r N / --reps N (measured repetitions), -h / --help.
 */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

/* Include this header first: it asks for the POSIX/GNU declarations
 * (clock_gettime, sched_yield, ...) also under -std=c11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

/* ------------------------------------------------------------------ timing */

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_double_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v in place). */
static inline double bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof v[0], bench_cmp_double_);
    return (n & 1) ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* Minimum of v[0..n). */
static inline double bench_min(const double *v, size_t n)
{
    double m = n ? v[0] : 0.0;
    for (size_t i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

/* Print "# <label> (<unit>): a b c ...  [min, median]" with the raw per-repetition values. */
static inline void bench_print_samples(const char *label, const double *v, size_t n,
                                       const char *unit)
{
    printf("# %s (%s):", label, unit);
    for (size_t i = 0; i < n; i++)
        printf(" %.2f", v[i]);
    double *tmp = n ? malloc(n * sizeof v[0]) : NULL;
    if (tmp) {
        memcpy(tmp, v, n * sizeof v[0]);
        printf("  [min %.2f, median %.2f]", bench_min(v, n), bench_median(tmp, n));
        free(tmp);
    }
    printf("\n");
}

/* ------------------------------------------------------------------ errors */

static inline void bench_fail(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static inline void bench_fail(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "bench: FAILED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

/* Fail unless rc == 0; `what` names the call. */
static inline void bench_check_rc(int rc, const char *what)
{
    if (rc != 0)
        bench_fail("%s returned %d (%s: %s)", what, rc, weft_err_name(rc), weft_strerror(rc));
}

/* Fail unless the weft_group_close that returned rc succeeded; lists the
 * failures the group recorded (task name and error). */
static inline void bench_check_close(const weft_group_t *g, int rc, const char *what)
{
    if (rc == 0)
        return;
    size_t n = weft_group_failure_count(g);
    fflush(stdout);
    for (size_t i = 0; i < n && i < 5; i++) {
        int err = 0;
        const char *name = NULL;
        if (weft_group_failure(g, i, &err, &name) == 0)
            fprintf(stderr, "bench: %s: failure %zu of %zu: task '%s': %d (%s: %s)\n", what,
                    i + 1, n, name ? name : "?", err, weft_err_name(err), weft_strerror(err));
    }
    bench_check_rc(rc, what);
}

/* ------------------------------------------------------------------ args */

/* The most measured repetitions: bench_parse_args caps -r here. */
#define BENCH_MAX_REPS 1000

typedef struct bench_args_t {
    unsigned workers; /* -w / --workers, default 2 */
    long n;           /* -n, program-specific size */
    int reps;         /* -r / --reps, measured repetitions (at most BENCH_MAX_REPS) */
    int takes_locals; /* set by a program that accepts -l */
    int locals;       /* -l N: task-local values its spawner sets (default 0) */
} bench_args_t;

static inline long bench_parse_long_(const char *prog, const char *flag, const char *s,
                                     long min)
{
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *s == '\0' || errno || *end != '\0' || v < min) {
        fprintf(stderr, "%s: bad value for %s: '%s' (want an integer >= %ld)\n", prog, flag,
                s ? s : "", min);
        exit(2);
    }
    return v;
}

/* Parse the common flags.  `usage` is printed for -h and bad flags; it should
 * say what -n means for this program.  Defaults come from `*a`. */
static inline void bench_parse_args(int argc, char **argv, bench_args_t *a, const char *usage)
{
    const char *prog = argc > 0 ? argv[0] : "bench";
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const char *val = NULL;
        int which = 0; /* 1 workers, 2 n, 3 reps, 4 locals */
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("usage: %s [-w N|--workers N] [-n N] [-r N|--reps N]\n%s", prog, usage);
            exit(0);
        } else if (!strcmp(f, "-w") || !strcmp(f, "--workers")) {
            which = 1;
        } else if (!strncmp(f, "--workers=", 10)) {
            which = 1;
            val = f + 10;
        } else if (!strncmp(f, "-w", 2) && f[2]) {
            which = 1;
            val = f + 2;
        } else if (!strcmp(f, "-n")) {
            which = 2;
        } else if (!strncmp(f, "-n", 2) && f[2]) {
            which = 2;
            val = f + 2;
        } else if (a->takes_locals && !strcmp(f, "-l")) {
            which = 4;
        } else if (!strcmp(f, "-r") || !strcmp(f, "--reps")) {
            which = 3;
        } else if (!strncmp(f, "--reps=", 7)) {
            which = 3;
            val = f + 7;
        } else {
            fprintf(stderr, "%s: unknown argument '%s'\nusage: %s [-w N] [-n N] [-r N]\n%s",
                    prog, f, prog, usage);
            exit(2);
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a value\n", prog, f);
                exit(2);
            }
            val = argv[++i];
        }
        if (which == 1)
            a->workers = (unsigned)bench_parse_long_(prog, "--workers", val, 0);
        else if (which == 2)
            a->n = bench_parse_long_(prog, "-n", val, 1);
        else if (which == 4)
            a->locals = (int)bench_parse_long_(prog, "-l", val, 0);
        else
            a->reps = (int)bench_parse_long_(prog, "--reps", val, 1);
    }
    if (a->reps > BENCH_MAX_REPS)
        a->reps = BENCH_MAX_REPS;
}

/* -l: the calling task sets n task-local values (keys without destroy), so
 * that every task it spawns inherits them; *keys receives the keys for
 * bench_locals_free. */
static inline void bench_locals_set(int n, weft_local_t ***keys)
{
    *keys = NULL;
    if (n <= 0)
        return;
    *keys = calloc((size_t)n, sizeof **keys);
    if (!*keys)
        bench_fail("out of memory");
    for (int i = 0; i < n; i++) {
        bench_check_rc(weft_local_new(&(*keys)[i], NULL), "weft_local_new");
        bench_check_rc(weft_local_set((*keys)[i], (void *)(uintptr_t)(i + 1)), "weft_local_set");
    }
}

static inline void bench_locals_free(int n, weft_local_t **keys)
{
    for (int i = 0; i < n && keys; i++) {
        bench_check_rc(weft_local_set(keys[i], NULL), "weft_local_set");
        weft_local_free(keys[i]);
    }
    free(keys);
}

/* Run main_fn as the root task of a runtime with a->workers workers; fail the
 * benchmark unless it returns 0. */
static inline void bench_run(const bench_args_t *a, weft_fn_t main_fn, void *arg)
{
    weft_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.workers = a->workers;
    int rc = weft_run(main_fn, arg, &cfg);
    bench_check_rc(rc, "weft_run");
}

/* ------------------------------------------------------------------ output */

static inline void bench_result(const char *workload, double value, const char *unit)
{
    printf("weft %s %.2f %s\n", workload, value, unit);
}

static inline void bench_baseline(const char *name, double value, const char *unit)
{
    printf("baseline %s %.2f %s\n", name, value, unit);
}

static inline void bench_ratio(const char *workload, double weft_value, double baseline_value)
{
    if (baseline_value > 0) {
        double x = weft_value / baseline_value;
        printf(x < 0.01 ? "ratio %s %.6f\n" : "ratio %s %.3f\n", workload, x);
    }
}

/* The three closing lines of a program with a baseline: weft, baseline, ratio. */
static inline void bench_report(const char *workload, double weft_value, const char *baseline,
                                double baseline_value, const char *unit)
{
    bench_result(workload, weft_value, unit);
    bench_baseline(baseline, baseline_value, unit);
    bench_ratio(workload, weft_value, baseline_value);
}

/* ------------------------------------------------------------------ rounds */

/*
 * The measurement of the programs that compare one weft workload with one
 * baseline, both as a series of rounds: one warm-up round of n/10 operations
 * (at least 1), then `reps` measured rounds of n, each giving one value; the
 * result is the median of the measured values.
 *
 *   bench_args_t a = bench_rounds_args(argc, argv, 100000, "sequential calls per round");
 *   bench_rounds_t w, b;
 *   bench_rounds_init(&w, &a, "us/call");
 *   bench_rounds_run(&w, "warm-up", my_round, ctx);       (inside a task, or not)
 *   double weft = bench_rounds_median(&w, "weft rounds");
 *   ... the same for the baseline into b ...
 *   bench_report("workload", weft, "baseline_name", base, "us/call");
 */
typedef struct bench_rounds_t {
    long n;                   /* operations per measured round */
    int reps;                 /* measured rounds */
    const char *unit;         /* of the values, e.g. "us/call" */
    double v[BENCH_MAX_REPS]; /* the measured values, v[0..reps) */
} bench_rounds_t;

/* One round of n operations; returns its value in the series' unit.  `round`
 * is 0 for the warm-up, 1..reps for the measured rounds. */
typedef double (*bench_round_fn)(void *ctx, long n, int round);

/* How long a cache line takes to go from one thread's core to another's,
 * measured now: two threads pass an atomic counter back and forth.  Programs
 * where workers contend for one object (a channel, a lock) scale with it,
 * and on a virtual machine it changes as the host moves the vCPUs (50-70 ns
 * and 200-230 ns were both seen on the 2-core VM of docs/BENCHMARKS.md), so
 * they print it beside their result. */
typedef struct bench_handoff_t_ {
    _Alignas(64) atomic_long turn;
    long rounds;
} bench_handoff_t_;

static inline void bench_handoff_play_(bench_handoff_t_ *h, long me)
{
    for (long i = 0; i < h->rounds; i++) {
        for (unsigned spins = 0; atomic_load_explicit(&h->turn, memory_order_acquire) % 2 != me;)
            if (++spins % 4096 == 0)
                sched_yield(); /* fewer CPUs than threads */
        atomic_fetch_add_explicit(&h->turn, 1, memory_order_acq_rel);
    }
}

static inline void *bench_handoff_partner_(void *arg)
{
    bench_handoff_play_(arg, 1);
    return NULL;
}

static inline void bench_print_line_handoff(void)
{
    static bench_handoff_t_ h;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    atomic_store(&h.turn, 0);
    h.rounds = 200000;
    pthread_t partner;
    if (pthread_create(&partner, NULL, bench_handoff_partner_, &h) != 0)
        bench_fail("pthread_create failed");
    uint64_t t0 = bench_now_ns();
    bench_handoff_play_(&h, 0);
    pthread_join(partner, NULL);
    uint64_t t1 = bench_now_ns();
    printf("# cache-line hand-off between two threads now: %.0f ns\n",
           (double)(t1 - t0) / (2.0 * (double)h.rounds));
}

/* Operations in the warm-up round before rounds of n: n/10, at least 1. */
static inline long bench_warmup_n(long n)
{
    return n / 10 > 0 ? n / 10 : 1;
}

/* Parse the common flags with the defaults of these programs (-w 2, -n
 * n_default, -r 3); `n_what` says what -n counts in the usage text. */
static inline bench_args_t bench_rounds_args(int argc, char **argv, long n_default,
                                             const char *n_what)
{
    bench_args_t a = {.workers = 2, .n = n_default, .reps = 3};
    char usage[256];
    snprintf(usage, sizeof usage,
             "  -n N   %s (default %ld)\n"
             "  -r N   measured rounds after one warm-up (default %d)\n",
             n_what, n_default, a.reps);
    bench_parse_args(argc, argv, &a, usage);
    return a;
}

static inline void bench_rounds_init(bench_rounds_t *r, const bench_args_t *a, const char *unit)
{
    r->n = a->n;
    r->reps = a->reps;
    r->unit = unit;
}

/* Run the warm-up round, then the measured ones into r->v.  With a
 * warm_label, prints "# <warm_label>: <value> <unit>" after the warm-up; with
 * NULL the round function prints what it wants. */
static inline void bench_rounds_run(bench_rounds_t *r, const char *warm_label, bench_round_fn fn,
                                    void *ctx)
{
    double warm = fn(ctx, bench_warmup_n(r->n), 0);
    if (warm_label)
        printf("# %s: %.2f %s\n", warm_label, warm, r->unit);
    for (int i = 0; i < r->reps; i++)
        r->v[i] = fn(ctx, r->n, i + 1);
}

/* Print the measured values ("# <label> (<unit>): ...") and return their
 * median (sorts r->v). */
static inline double bench_rounds_median(bench_rounds_t *r, const char *label)
{
    bench_print_samples(label, r->v, (size_t)r->reps, r->unit);
    return bench_median(r->v, (size_t)r->reps);
}

/* Microseconds per operation for n operations between t0 and t1 (ns). */
static inline double bench_us_per_op(uint64_t t0, uint64_t t1, long n)
{
    return (double)(t1 - t0) / 1e3 / (double)n;
}

/* ------------------------------------------------------------ thread bridges */

/* The tiny function of the call benchmarks: count the call in *(long *)arg.
 * Its caller reads the counter only after the call returned. */
static inline int bench_count_call(void *arg)
{
    long *calls = arg;
    (*calls)++;
    return 0;
}

/* Check call i (from 1) of a run of calls of bench_count_call: `what`
 * returned rc == 0 and the function has run exactly i times so far. */
static inline void bench_check_call(const char *what, long i, int rc, long calls)
{
    if (rc != 0)
        bench_fail("%s: call %ld returned %d (%s)", what, i, rc, weft_err_name(rc));
    if (calls != i)
        bench_fail("after call %ld the function ran %ld times", i, calls);
}

/* Print the runtime's default thread limiter's size as a comment line (from
 * a task; fails if there is no default limiter). */
static inline void bench_print_default_limiter(void)
{
    weft_limiter_t *l = weft_default_thread_limiter();
    if (!l)
        bench_fail("weft_default_thread_limiter() is NULL in the main task");
    weft_limiter_stats_t st;
    weft_limiter_stats(l, &st);
    printf("# default thread limiter: %u tokens\n", st.total_tokens);
}

/* Fail unless the default thread limiter has no token out and no task
 * waiting (after a round of offloads). */
static inline void bench_check_limiter_idle(void)
{
    weft_limiter_stats_t st;
    weft_limiter_stats(weft_default_thread_limiter(), &st);
    if (st.borrowed_tokens != 0 || st.tasks_waiting != 0)
        bench_fail("default limiter after the round: %u tokens borrowed, %u tasks waiting",
                   st.borrowed_tokens, st.tasks_waiting);
}

/* ------------------------------------------------------------------ tally */

/*
 * A cheap, contention-free completion counter for tiny tasks: every thread
 * that calls bench_tally_add() gets its own cache line (a task that does not
 * yield stays on one worker thread for the whole call), and bench_tally_sum()
 * adds them up.  Read the sum only after the tasks are known to be finished
 * (after weft_group_close), which orders their writes before the read.
 */
#define BENCH_TALLY_SLOTS 256

typedef struct bench_tally_slot_t {
    _Alignas(64) _Atomic uint64_t n;
    char pad_[64 - sizeof(uint64_t)];
} bench_tally_slot_t;

static bench_tally_slot_t bench_tally_slots_[BENCH_TALLY_SLOTS] __attribute__((unused));
static atomic_uint bench_tally_next_ __attribute__((unused));
static _Thread_local bench_tally_slot_t *bench_tally_mine_ __attribute__((unused));

static __attribute__((noinline, unused)) bench_tally_slot_t *bench_tally_claim_(void)
{
    unsigned i = atomic_fetch_add(&bench_tally_next_, 1u);
    if (i >= BENCH_TALLY_SLOTS)
        bench_fail("bench_tally: more than %d threads", BENCH_TALLY_SLOTS);
    bench_tally_mine_ = &bench_tally_slots_[i];
    return bench_tally_mine_;
}

static inline void bench_tally_add(uint64_t k)
{
    bench_tally_slot_t *s = bench_tally_mine_;
    if (__builtin_expect(s == NULL, 0))
        s = bench_tally_claim_();
    /* Only this thread writes the slot: a relaxed load+store, no locked RMW. */
    atomic_store_explicit(&s->n, atomic_load_explicit(&s->n, memory_order_relaxed) + k,
                          memory_order_relaxed);
}

static inline uint64_t bench_tally_sum(void)
{
    uint64_t sum = 0;
    unsigned used = atomic_load(&bench_tally_next_);
    if (used > BENCH_TALLY_SLOTS)
        used = BENCH_TALLY_SLOTS;
    for (unsigned i = 0; i < used; i++)
        sum += atomic_load_explicit(&bench_tally_slots_[i].n, memory_order_acquire);
    return sum;
}

static inline void bench_tally_reset(void)
{
    unsigned used = atomic_load(&bench_tally_next_);
    if (used > BENCH_TALLY_SLOTS)
        used = BENCH_TALLY_SLOTS;
    for (unsigned i = 0; i < used; i++)
        atomic_store(&bench_tally_slots_[i].n, 0);
}

/* ------------------------------------------------------------------ memory */

/* Resident set size in bytes from /proc/self/statm (0 if unavailable). */
static inline size_t bench_rss_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

#endif /* WEFT_BENCH_H */
