/*
 * Configuration a user gets wrong: -1 meant as "as many as you like", a
 * stack size in KiB instead of bytes, a timeout computed as 0/0, a flag from
 * a newer header; and scopes given a NaN delay.  Each must be refused at once
 * with a clear error, never accepted silently or failed seconds later.
 */
#include <math.h>
#include <stdio.h>
#include <weft.h>

static int fails;

static void expect(const char *what, int got, int want) {
    if (got == want) return;
    fprintf(stderr, "config_mistakes: %s: %s, expected %s\n", what, weft_err_name(got),
            weft_err_name(want));
    fails++;
}

static int body(void *arg) {
    (void)arg;
    volatile double zero = 0;
    double timeout = zero / zero;          /* a rate computed from no samples */
    weft_scope_t s;
    weft_fail_after(&s, timeout);
    int rc = weft_sleep(10);
    expect("sleep under a NaN fail_after", rc, WEFT_ECANCELED);
    expect("exit of a NaN fail_after", weft_scope_exit(&s, rc), WEFT_EINVAL);
    weft_move_on_after(&s, timeout);
    expect("exit of a NaN move_on_after", weft_scope_exit(&s, weft_checkpoint()), WEFT_EINVAL);
    expect("sleep(NaN)", weft_sleep(timeout), WEFT_EINVAL);
    return 0;
}

int main(void) {
    double t0 = weft_now();
    weft_config_t c = {.workers = (unsigned)-1};
    expect("workers = -1", weft_run(body, NULL, &c), WEFT_EINVAL);
    c = (weft_config_t){.stack_size = 64};  /* meant 64 KiB */
    expect("stack_size = 64", weft_run(body, NULL, &c), WEFT_EINVAL);
    c = (weft_config_t){.flags = 1u << 20};
    expect("unknown flag", weft_run(body, NULL, &c), WEFT_EINVAL);
    volatile double zero = 0;
    c = (weft_config_t){.thread_idle_timeout = zero / zero};
    expect("NaN idle timeout", weft_run(body, NULL, &c), WEFT_EINVAL);
    if (weft_now() - t0 > 1) {
        fprintf(stderr, "config_mistakes: refusing took %.2f s\n", weft_now() - t0);
        fails++;
    }
    c = (weft_config_t){.workers = 2};
    expect("a good config", weft_run(body, NULL, &c), 0);
    printf("config_mistakes: %d problem(s)\n", fails);
    return fails != 0;
}
