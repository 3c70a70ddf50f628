/*
 * The rules of weft_config_t: its versioned layout (a caller's struct may be
 * older and shorter than ours), what weft cannot honour, and the defaults
 * that zero stands for.
 */
#include "sched/config.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "sched/cpus.h"
#include "sched/det.h"
#include "sched/monitor.h"

#define DEFAULT_STACK_SIZE (256u * 1024u)
#define MAX_WORKERS 4096u
#define KNOWN_FLAGS (WEFT_CONFIG_VIRTUAL_CLOCK | WEFT_CONFIG_SPARE_WORKER | WEFT_CONFIG_DETERMINISTIC)
#define DEFAULT_THREAD_TOKENS 40u
#define DEFAULT_THREAD_IDLE_TIMEOUT 10.0
#define DEBUG_BLOCKING_THRESHOLD 0.1

/* What config_size 0 stands for: the whole layout of weft 0.2, the version
 * this struct was first versioned in, so that a config zeroed with `= {...}`
 * has every field its header showed.  0.2 is not released yet, so that is
 * this struct; when a later version adds fields, this becomes the constant
 * size of 0.2's struct. */
#define CONFIG_SIZE_0_2 sizeof(weft_config_t)
/* The thread hooks come as one: a size that ends inside them has none. */
#define CONFIG_SIZE_HOOKS (offsetof(weft_config_t, thread_hook_arg) + sizeof(void *))

int wf_config_copy(weft_config_t *out, const weft_config_t *in) {
    memset(out, 0, sizeof *out);
    if (!in) return 0;
    size_t size = in->config_size ? in->config_size : CONFIG_SIZE_0_2;
    /* Fields we do not know could not be honoured; a size that does not even
     * reach its own field is not a size. */
    if (size > sizeof *out || size < offsetof(weft_config_t, config_size) + sizeof in->config_size)
        return WEFT_EINVAL;
    memcpy(out, in, size);
    if (size < CONFIG_SIZE_HOOKS) {
        out->on_thread_start = NULL;
        out->on_thread_stop = NULL;
        out->thread_hook_arg = NULL;
    }
    out->config_size = sizeof *out;
    return 0;
}

void weft_config_init(weft_config_t *c) {
    if (!c) return;
    memset(c, 0, sizeof *c);
    c->config_size = sizeof *c;
}

/* A config weft cannot honour is refused before anything is built: an absurd
 * worker count would otherwise fail seconds later in a thread start, and an
 * unknown flag is a caller built against a newer header. */
int wf_config_check(const weft_config_t *c) {
    if (c->workers > MAX_WORKERS || (c->flags & ~KNOWN_FLAGS)) return WEFT_EINVAL;
    if (c->stack_size != 0 && c->stack_size < (size_t)sysconf(_SC_PAGESIZE)) return WEFT_EINVAL;
    if (isnan(c->thread_idle_timeout) || isnan(c->blocking_threshold)) return WEFT_EINVAL;
    return 0;
}

weft_config_t wf_config_resolve(const weft_config_t *in) {
    weft_config_t c = *in;
    if (c.workers == 0) c.workers = wf_cpus_usable();
    if (c.workers > MAX_WORKERS) c.workers = MAX_WORKERS; /* a larger machine than we allow */
    if (c.stack_size == 0) c.stack_size = DEFAULT_STACK_SIZE;
    if (c.thread_tokens == 0) c.thread_tokens = DEFAULT_THREAD_TOKENS;
    if (c.thread_idle_timeout <= 0) c.thread_idle_timeout = DEFAULT_THREAD_IDLE_TIMEOUT;
    if (c.blocking_threshold == 0)
        c.blocking_threshold =
            wf_debug_env() || (c.flags & WEFT_CONFIG_SPARE_WORKER) ? DEBUG_BLOCKING_THRESHOLD : -1;
    if (c.flags & WEFT_CONFIG_DETERMINISTIC) {
        /* One worker, time that moves only by jumps, nothing that watches
         * real time: every choice is the PRNG's (det.h). */
        c.workers = 1;
        c.flags = (c.flags | WEFT_CONFIG_VIRTUAL_CLOCK) & ~WEFT_CONFIG_SPARE_WORKER;
        c.blocking_threshold = -1;
        c.seed = wf_det_seed(c.seed);
    }
    return c;
}

