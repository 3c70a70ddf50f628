#include "io/place.h"

#include <sys/socket.h>

/* The spare worker (if any) is only a stand-in: nothing is placed on it. */
static unsigned regular_workers(wf_runtime_t *rt) {
    return rt->nworkers - (unsigned)rt->has_spare;
}

static unsigned load(wf_worker_t *w) {
    return atomic_load_explicit(&w->io_load, memory_order_relaxed);
}

/* The least loaded worker; ties go to `prefer`, else are dealt in turn. */
static wf_worker_t *least_loaded(wf_runtime_t *rt, wf_worker_t *prefer) {
    unsigned n = regular_workers(rt);
    unsigned start = atomic_fetch_add_explicit(&rt->io_turn, 1, memory_order_relaxed);
    wf_worker_t *best = NULL;
    for (unsigned i = 0; i < n; i++) {
        wf_worker_t *w = &rt->workers[(start + i) % n];
        if (!best || load(w) < load(best)) best = w;
    }
    if (prefer && !prefer->spare && load(prefer) <= load(best)) best = prefer;
    return best;
}

static wf_worker_t *place(wf_worker_t *w) {
    atomic_fetch_add_explicit(&w->io_load, 1, memory_order_relaxed);
    return w;
}

wf_worker_t *wf_io_place_connect(wf_runtime_t *rt, wf_worker_t *home) {
    return place(home ? home : least_loaded(rt, wf_current_worker()));
}

/* How far above the least loaded worker the near one may be and still take
 * a connection: locality is worth more than a little imbalance (on loopback,
 * tcp_echo's system calls cost about 1.7 times as much CPU when the two ends
 * of a connection run on different cores), but not a pile-up on the core
 * that gets every packet (a NIC with one queue interrupts one CPU, which
 * also runs all of the receive processing). */
static int within_slack(unsigned local, unsigned least) {
    return local <= least + least / 8 + 2;
}

wf_worker_t *wf_io_place_accepted(wf_runtime_t *rt, int fd) {
    wf_worker_t *least = least_loaded(rt, NULL), *near = NULL;
    int cpu = -1;
    socklen_t len = sizeof cpu;
#ifdef SO_INCOMING_CPU
    if (getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) != 0) cpu = -1;
#else
    (void)fd;
    (void)len;
#endif
    /* Workers that are not busy move between CPUs, so two may have last
     * polled on the same one: the less loaded of them is as near. */
    for (unsigned i = 0; cpu >= 0 && i < regular_workers(rt); i++) {
        wf_worker_t *w = &rt->workers[i];
        if (atomic_load_explicit(&w->cpu, memory_order_relaxed) == cpu &&
            (!near || load(w) < load(near)))
            near = w;
    }
    return place(near && within_slack(load(near), load(least)) ? near : least);
}

void wf_io_unplace(wf_worker_t *w) {
    atomic_fetch_sub_explicit(&w->io_load, 1, memory_order_relaxed);
}
