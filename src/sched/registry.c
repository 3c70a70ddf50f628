#include "sched/registry.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static wf_runtime_t *registry; /* newest first */

void wf_registry_add(wf_runtime_t *rt) {
    pthread_mutex_lock(&registry_lock);
    rt->registry_next = registry;
    registry = rt;
    pthread_mutex_unlock(&registry_lock);
}

void wf_registry_remove(wf_runtime_t *rt) {
    pthread_mutex_lock(&registry_lock);
    for (wf_runtime_t **p = &registry; *p; p = &(*p)->registry_next)
        if (*p == rt) {
            *p = rt->registry_next;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
}

static void each_oldest_first(wf_runtime_t *rt, void (*fn)(wf_runtime_t *, void *), void *arg) {
    if (!rt) return;
    each_oldest_first(rt->registry_next, fn, arg);
    fn(rt, arg);
}

void wf_registry_each(void (*fn)(wf_runtime_t *rt, void *arg), void *arg) {
    pthread_mutex_lock(&registry_lock);
    each_oldest_first(registry, fn, arg);
    pthread_mutex_unlock(&registry_lock);
}
