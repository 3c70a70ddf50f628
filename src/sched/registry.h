/*
 * The process's live runtimes, for what looks at all of them from outside:
 * weft_dump_tasks and SIGQUIT.  A runtime is listed from just after its
 * workers exist until just before they are freed.
 */
#ifndef WEFT_SCHED_REGISTRY_H
#define WEFT_SCHED_REGISTRY_H

#include "sched/runtime.h"

void wf_registry_add(wf_runtime_t *rt);
void wf_registry_remove(wf_runtime_t *rt);
/* fn(rt, arg) for each live runtime, oldest first; none is freed meanwhile. */
void wf_registry_each(void (*fn)(wf_runtime_t *rt, void *arg), void *arg);

#endif
