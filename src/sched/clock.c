#include "sched/clock.h"

#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "sched/util.h"
#include "weft.h"

/* Initial-exec: a plain %fs-relative load, even in the shared library. */
static __thread _Atomic double *tls_offset __attribute__((tls_model("initial-exec")));
static __thread int tls_frozen __attribute__((tls_model("initial-exec")));

double wf_clock_real(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void wf_cond_init_monotonic(pthread_cond_t *c) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}

struct timespec wf_clock_deadline(double seconds) {
    double t = wf_clock_real() + seconds, whole = floor(t);
    return (struct timespec){(time_t)whole, (long)((t - whole) * 1e9)};
}

double wf_clock_now(void) {
    _Atomic double *offset = tls_offset;
    if (WF_UNLIKELY(tls_frozen)) return atomic_load_explicit(offset, memory_order_acquire);
    double now = wf_clock_real();
    if (offset) now += atomic_load_explicit(offset, memory_order_acquire);
    return now;
}

void wf_clock_bind(_Atomic double *offset, int frozen) {
    tls_offset = offset;
    tls_frozen = offset && frozen;
}

double weft_now(void) { return wf_clock_now(); }
