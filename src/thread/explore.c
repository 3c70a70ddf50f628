/*
 * weft_test_explore (weft/test.h): a test body under one deterministic
 * schedule after another (seeds 1..n), until one fails; that seed replays
 * the failure (WEFT_SEED=<k>, or config.seed).
 *
 * A failure is a non-zero result, a hang (the timed runner's timeout), or
 * an abort (a failed assert): the abort cannot be survived, so a SIGABRT
 * handler names the seed first and lets the abort go on.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WEFT_TEST_NO_CMOCKA
#include "weft/test.h"

#include "sched/runtime.h"

#define EXPLORE_TIMEOUT 30.0
#define EXPLORE_GRACE 2.0

/* Formatted before each run: the handler may only write(2). */
static char abort_line[96];
static size_t abort_len;
static struct sigaction previous_abort;

static void on_abort(int sig) {
    if (write(STDERR_FILENO, abort_line, abort_len) < 0) { /* nothing more to do */
    }
    sigaction(SIGABRT, &previous_abort, NULL);
    raise(sig);
}

static void name_seed(unsigned long long k) {
    int n = snprintf(abort_line, sizeof abort_line,
                     "weft_test_explore: aborted under seed %llu: rerun with WEFT_SEED=%llu\n", k, k);
    abort_len = n > 0 ? (size_t)n : 0;
}

int weft_test_explore(weft_fn_t body, void *arg, unsigned n_seeds, unsigned long long *failing_seed) {
    if (!body || n_seeds == 0) return WEFT_EINVAL;
    if (wf_current_worker()) return WEFT_EPERM;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_abort;
    sigemptyset(&sa.sa_mask);
    name_seed(1);
    sigaction(SIGABRT, &sa, &previous_abort);
    int rc = 0;
    unsigned long long k = 1;
    for (; k <= n_seeds && rc == 0; k++) {
        weft_config_t c;
        weft_config_init(&c);
        c.flags = WEFT_CONFIG_DETERMINISTIC;
        c.seed = k;
        name_seed(k);
        int how = weft_test_run_timed(body, arg, EXPLORE_TIMEOUT, EXPLORE_GRACE, &c, &rc);
        if (how < 0) rc = how;
        else if (how != WEFT_TEST_RETURNED) rc = WEFT_ETIMEDOUT;
    }
    sigaction(SIGABRT, &previous_abort, NULL);
    if (rc == 0) return 0;
    k--;
    if (failing_seed) *failing_seed = k;
    fprintf(stderr, "weft_test_explore: seed %llu failed (%s): rerun with WEFT_SEED=%llu\n", k,
            weft_err_name(rc), k);
    return rc;
}
