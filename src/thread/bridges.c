#include "thread/bridges.h"

#include "thread/job.h"
#include "thread/limiter.h"
#include "thread/token.h"

int wf_bridges_init(wf_runtime_t *rt) {
    if (wf_pool_new(&rt->pool, &rt->config) != 0 ||
        weft_limiter_new(&rt->limiter, rt->config.thread_tokens) != 0 ||
        !(rt->token = wf_token_new(rt))) {
        wf_bridges_fini(rt);
        return WEFT_ENOMEM;
    }
    wf_limiter_set_runtime_owned(rt->limiter);
    return 0;
}

void wf_bridges_fini(wf_runtime_t *rt) {
    /* The pool first: an abandoned call still running may give back a token. */
    if (rt->pool) wf_pool_free(rt->pool);
    if (rt->token) wf_token_detach(rt->token);
    if (rt->limiter) wf_limiter_unref(rt->limiter); /* a token a task never gave back is no reason to abort */
    rt->pool = NULL;
    rt->token = NULL;
    rt->limiter = NULL;
}

wf_runtime_t *wf_bridges_caller_runtime(void) {
    wf_worker_t *w = wf_current_worker();
    if (w) return w->rt;
    wf_job_t *j = wf_job_current();
    return j ? j->rt : NULL;
}

void wf_bridges_counts(wf_runtime_t *rt, unsigned *alive, unsigned *busy) {
    wf_pool_counts(rt->pool, alive, busy);
}

weft_limiter_t *weft_default_thread_limiter(void) {
    wf_runtime_t *rt = wf_bridges_caller_runtime();
    return rt ? rt->limiter : NULL;
}
