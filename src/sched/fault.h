/*
 * Test-only fault injection: make the library's N-th allocation, blocking
 * thread start or task stack mapping fail, so that tests can walk the error
 * paths of a realistic program (tests/test_alloc_fail.c, tests/test_faults.c;
 * docs/TESTING.md).  Not part of the public API.
 *
 * Off by default, and then a check costs one relaxed atomic load.  Armed, a
 * kind counts its operations (process-wide, every thread) from the moment it
 * was armed and fails as told.
 */
#ifndef WEFT_SCHED_FAULT_H
#define WEFT_SCHED_FAULT_H

#include <limits.h>
#include <stdatomic.h>

typedef enum wf_fault_kind {
    WF_FAULT_ALLOC,  /* wf_alloc, wf_calloc, wf_realloc */
    WF_FAULT_THREAD, /* pthread_create in the blocking pool (its threads, its monitor) */
    WF_FAULT_STACK,  /* mapping a new task stack (recycled ones are not counted) */
    WF_FAULT_KINDS
} wf_fault_kind_t;

/* Count, never fail: measures a scenario. */
#define WF_FAULT_COUNT_ONLY LONG_MAX
/* Fail every operation until disarmed. */
#define WF_FAULT_ALWAYS (-1L)

/* n >= 1: the n-th operation from now fails, once (WF_FAULT_COUNT_ONLY: none
 * does); WF_FAULT_ALWAYS: every one does; both reset the counts.  0 disarms
 * and keeps the counts readable. */
void wf_fault_fail_at(wf_fault_kind_t kind, long n);
/* Operations counted since the kind was last armed. */
long wf_fault_count(wf_fault_kind_t kind);
/* Failures injected since then. */
long wf_fault_injected(wf_fault_kind_t kind);

/* For the library, before the operation: 1 when it must fail. */
int wf_fault_hit_slow(wf_fault_kind_t kind, long target);
extern atomic_long wf_fault_target[WF_FAULT_KINDS];
static inline int wf_fault_hit(wf_fault_kind_t kind) {
    long t = atomic_load_explicit(&wf_fault_target[kind], memory_order_relaxed);
    return __builtin_expect(t != 0, 0) ? wf_fault_hit_slow(kind, t) : 0;
}

#endif
