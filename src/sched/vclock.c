#include "sched/vclock.h"

#include <math.h>

#include "sched/clock.h"
#include "sched/inbox.h"

/* The jump lands a little past the deadline, so that rounding can never
 * leave the timer a hair short of due. */
#define JUMP_SLACK 1e-9

int wf_vclock_try_jump(wf_runtime_t *rt) {
    if (atomic_load(&rt->vc_active) || atomic_load(&rt->offloads) > atomic_load(&rt->offloads_calling_in) ||
        atomic_load(&rt->io_waits) ||
        atomic_load(&rt->held_tokens) || wf_inbox_pending(rt))
        return 0;
    double next = wf_runtime_next_deadline(rt), now = wf_clock_now();
    if (isinf(next) || next <= now) return 0;
    double offset = atomic_load(&rt->clock_offset);
    atomic_store(&rt->clock_offset, offset + (next - now) + JUMP_SLACK);
    atomic_fetch_add_explicit(&rt->clock_jumps, 1, memory_order_relaxed);
    return 1;
}

double wf_runtime_now(const wf_runtime_t *rt) {
    double offset = atomic_load_explicit(&rt->clock_offset, memory_order_acquire);
    return rt->det ? offset : wf_clock_real() + offset; /* frozen between jumps */
}
