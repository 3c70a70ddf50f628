#include "util.h"

#include <sched.h>
#include <stdlib.h>

void wf_spin_lock_slow(wf_spin_t *l) {
    for (unsigned spins = 0;; spins++) {
        while (atomic_load_explicit(&l->locked, memory_order_relaxed)) {
            if (spins++ < 64) wf_cpu_relax();
            else sched_yield();
        }
        if (!atomic_exchange_explicit(&l->locked, 1, memory_order_acquire)) return;
    }
}

void *wf_alloc(size_t size) { return malloc(size); }
void *wf_calloc(size_t n, size_t size) { return calloc(n, size); }
void wf_free(void *p) { free(p); }
