/* Cancel scopes: level cancellation, ownership, shields, deadlines. */
#define _GNU_SOURCE
#include "helpers.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

/* ------------------------------------------------------------ level cancellation */

static int level_cancellation(void *arg)
{
    (void)arg;
    weft_scope_t s;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT(!weft_scope_cancel_called(&s));
    EXPECT(!weft_scope_cancelled_caught(&s));
    weft_scope_cancel(&s);
    EXPECT(weft_scope_cancel_called(&s));
    for (int i = 0; i < 10; i++)
        EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    double t0 = weft_now();
    EXPECT_RC(weft_sleep(10.0), WEFT_ECANCELED);
    EXPECT_RC(weft_sleep(0), WEFT_ECANCELED);
    EXPECT_RC(weft_sleep_until(weft_now() + 10.0), WEFT_ECANCELED);
    EXPECT_RC(weft_sleep(WEFT_FOREVER), WEFT_ECANCELED);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT(weft_now() - t0 < WT_SLACK);
    EXPECT(weft_current_effective_deadline() == -INFINITY);
    EXPECT_RC(weft_scope_exit(&s, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&s));
    EXPECT(weft_scope_cancel_called(&s));
    /* Outside the scope the task is not cancelled any more. */
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT_RC(weft_sleep(0.001), 0);
    EXPECT(weft_current_effective_deadline() == WEFT_FOREVER);
    return 0;
}

static int uncancelled_scope_passes_rc(void *arg)
{
    (void)arg;
    weft_scope_t s;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT_RC(weft_sleep(0.001), 0);
    EXPECT_RC(weft_scope_exit(&s, 0), 0);
    EXPECT(!weft_scope_cancel_called(&s));
    EXPECT(!weft_scope_cancelled_caught(&s));
    /* An uncancelled scope passes any rc through, ECANCELED included. */
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    EXPECT_RC(weft_scope_exit(&s, -EIO), -EIO);
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    EXPECT_RC(weft_scope_exit(&s, WEFT_ECANCELED), WEFT_ECANCELED);
    EXPECT(!weft_scope_cancelled_caught(&s));
    return 0;
}

static int cancel_is_idempotent(void *arg)
{
    (void)arg;
    weft_scope_t s;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    weft_scope_cancel(&s);
    weft_scope_cancel(&s);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    weft_scope_cancel(&s);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT(weft_scope_cancel_called(&s));
    EXPECT_RC(weft_scope_exit(&s, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&s));
    EXPECT_RC(weft_checkpoint(), 0);
    return 0;
}

static int exit_other_rc_unchanged_when_cancelled(void *arg)
{
    (void)arg;
    weft_scope_t s;
    /* Cancelled, but the body never reached a checkpoint and succeeded. */
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    weft_scope_cancel(&s);
    EXPECT_RC(weft_scope_exit(&s, 0), 0);
    EXPECT(weft_scope_cancel_called(&s));
    EXPECT(!weft_scope_cancelled_caught(&s));
    /* Cancelled, body failed with something else: rc passes unchanged. */
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    weft_scope_cancel(&s);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, -EIO), -EIO);
    EXPECT(!weft_scope_cancelled_caught(&s));
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    weft_scope_cancel(&s);
    EXPECT_RC(weft_scope_exit(&s, WEFT_ETIMEDOUT), WEFT_ETIMEDOUT);
    EXPECT(!weft_scope_cancelled_caught(&s));
    EXPECT_RC(weft_checkpoint(), 0);
    return 0;
}

/* ------------------------------------------------------------ ownership */

static int outer_cancelled_scope_catches(void *arg)
{
    (void)arg;
    weft_scope_t outer, inner;
    weft_scope_enter(&outer, WEFT_FOREVER, 0);
    weft_scope_enter(&inner, WEFT_FOREVER, 0);
    weft_scope_cancel(&outer);
    int rc = weft_checkpoint();
    EXPECT_RC(rc, WEFT_ECANCELED);
    rc = weft_scope_exit(&inner, rc);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT(!weft_scope_cancelled_caught(&inner));
    EXPECT(!weft_scope_cancel_called(&inner));
    /* Still cancelled between the two exits. */
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    rc = weft_scope_exit(&outer, rc);
    EXPECT_RC(rc, 0);
    EXPECT(weft_scope_cancelled_caught(&outer));
    EXPECT_RC(weft_checkpoint(), 0);
    return 0;
}

static int outermost_of_two_cancelled_scopes_catches(void *arg)
{
    (void)arg;
    weft_scope_t outer, inner;
    weft_scope_enter(&outer, WEFT_FOREVER, 0);
    weft_scope_enter(&inner, WEFT_FOREVER, 0);
    weft_scope_cancel(&inner);
    weft_scope_cancel(&outer);
    int rc = weft_checkpoint();
    EXPECT_RC(rc, WEFT_ECANCELED);
    /* The outermost effectively cancelled scope owns the cancellation. */
    rc = weft_scope_exit(&inner, rc);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT(!weft_scope_cancelled_caught(&inner));
    EXPECT(weft_scope_cancel_called(&inner));
    rc = weft_scope_exit(&outer, rc);
    EXPECT_RC(rc, 0);
    EXPECT(weft_scope_cancelled_caught(&outer));
    return 0;
}

static int inner_cancelled_scope_catches_own(void *arg)
{
    (void)arg;
    weft_scope_t outer, inner;
    weft_scope_enter(&outer, WEFT_FOREVER, 0);
    weft_scope_enter(&inner, WEFT_FOREVER, 0);
    weft_scope_cancel(&inner);
    int rc = weft_checkpoint();
    EXPECT_RC(rc, WEFT_ECANCELED);
    rc = weft_scope_exit(&inner, rc);
    EXPECT_RC(rc, 0);
    EXPECT(weft_scope_cancelled_caught(&inner));
    EXPECT_RC(weft_checkpoint(), 0);
    rc = weft_scope_exit(&outer, rc);
    EXPECT_RC(rc, 0);
    EXPECT(!weft_scope_cancelled_caught(&outer));
    EXPECT(!weft_scope_cancel_called(&outer));
    return 0;
}

/* ------------------------------------------------------------ shields */

static int shield_blocks_outer_cancellation(void *arg)
{
    (void)arg;
    weft_scope_t outer, sh;
    weft_scope_enter(&outer, WEFT_FOREVER, 0);
    weft_scope_cancel(&outer);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD);
    EXPECT_RC(weft_checkpoint(), 0);
    double t0 = weft_now();
    EXPECT_RC(weft_sleep(0.02), 0);
    EXPECT(weft_now() - t0 >= 0.02);
    EXPECT(weft_current_effective_deadline() == WEFT_FOREVER);
    EXPECT_RC(weft_scope_exit(&sh, 0), 0);
    EXPECT(!weft_scope_cancelled_caught(&sh));
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT(weft_current_effective_deadline() == -INFINITY);
    EXPECT_RC(weft_scope_exit(&outer, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&outer));
    return 0;
}

static int shield_does_not_block_own_cancel(void *arg)
{
    (void)arg;
    weft_scope_t outer, sh;
    weft_scope_enter(&outer, WEFT_FOREVER, 0);
    weft_scope_cancel(&outer);
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD);
    EXPECT_RC(weft_checkpoint(), 0);
    weft_scope_cancel(&sh);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_sleep(10.0), WEFT_ECANCELED);
    /* The shielded scope owns its own cancellation. */
    EXPECT_RC(weft_scope_exit(&sh, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&sh));
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&outer, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&outer));

    /* Same without a cancelled outer scope. */
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD);
    weft_scope_cancel(&sh);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sh, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&sh));
    return 0;
}

static int set_shield_at_run_time(void *arg)
{
    (void)arg;
    weft_scope_t outer, inner;
    weft_scope_enter(&outer, WEFT_FOREVER, 0);
    weft_scope_enter(&inner, WEFT_FOREVER, 0);
    weft_scope_cancel(&outer);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    weft_scope_set_shield(&inner, 1);
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT_RC(weft_sleep(0.001), 0);
    weft_scope_set_shield(&inner, 0);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    weft_scope_set_shield(&inner, 1);
    EXPECT_RC(weft_checkpoint(), 0);
    weft_scope_set_shield(&inner, 0);
    EXPECT_RC(weft_scope_exit(&inner, WEFT_ECANCELED), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&outer, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&outer));

    /* Entered shielded, unshielded at run time. */
    weft_scope_enter(&outer, WEFT_FOREVER, 0);
    weft_scope_cancel(&outer);
    weft_scope_enter(&inner, WEFT_FOREVER, WEFT_SHIELD);
    EXPECT_RC(weft_checkpoint(), 0);
    weft_scope_set_shield(&inner, 0);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&inner, WEFT_ECANCELED), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&outer, WEFT_ECANCELED), 0);
    return 0;
}

static int shield_ignores_outer_deadline(void *arg)
{
    (void)arg;
    weft_scope_t outer, sh;
    /* An outer deadline that expires does not reach into a shield. */
    weft_move_on_after(&outer, 0.01);
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD);
    double t0 = weft_now();
    EXPECT_RC(weft_sleep(0.05), 0);
    EXPECT(weft_now() - t0 >= 0.05);
    EXPECT_RC(weft_scope_exit(&sh, 0), 0);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&outer, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&outer));
    return 0;
}

/* ------------------------------------------------------------ deadlines */

static int move_on_after_expires(void *arg)
{
    (void)arg;
    weft_scope_t s;
    double t0 = weft_now();
    weft_move_on_after(&s, 0.05);
    int rc = weft_sleep(10.0);
    double dt = weft_now() - t0;
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT(dt >= 0.05);
    EXPECT(dt < 0.05 + WT_SLACK);
    EXPECT(weft_scope_cancel_called(&s));
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, rc), 0);
    EXPECT(weft_scope_cancelled_caught(&s));
    EXPECT_RC(weft_checkpoint(), 0);
    return 0;
}

static int move_on_after_not_expired(void *arg)
{
    (void)arg;
    weft_scope_t s;
    weft_move_on_after(&s, 5.0);
    EXPECT_RC(weft_sleep(0.01), 0);
    EXPECT_RC(weft_scope_exit(&s, 0), 0);
    EXPECT(!weft_scope_cancel_called(&s));
    EXPECT(!weft_scope_cancelled_caught(&s));
    /* A zero delay cancels at the first checkpoint. */
    weft_move_on_after(&s, 0);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&s));
    return 0;
}

static int fail_after_expires_timedout(void *arg)
{
    (void)arg;
    weft_scope_t s;
    double t0 = weft_now();
    weft_fail_after(&s, 0.03);
    int rc = weft_sleep(10.0);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT(weft_now() - t0 >= 0.03);
    EXPECT(weft_now() - t0 < 0.03 + WT_SLACK);
    EXPECT_RC(weft_scope_exit(&s, rc), WEFT_ETIMEDOUT);
    EXPECT(weft_scope_cancelled_caught(&s));
    EXPECT_RC(weft_checkpoint(), 0);
    return 0;
}

static int fail_after_not_expired(void *arg)
{
    (void)arg;
    weft_scope_t s;
    weft_fail_after(&s, 5.0);
    EXPECT_RC(weft_sleep(0.01), 0);
    EXPECT_RC(weft_scope_exit(&s, 0), 0);
    EXPECT(!weft_scope_cancelled_caught(&s));
    /* Another error passes through unchanged. */
    weft_fail_after(&s, 5.0);
    EXPECT_RC(weft_scope_exit(&s, -EIO), -EIO);
    /* Expired, but the body returned another error: unchanged. */
    weft_fail_after(&s, 0.001);
    EXPECT_RC(weft_sleep(1.0), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, -EIO), -EIO);
    /* Expired, but the body finished without noticing: not a timeout. */
    weft_fail_after(&s, 0.001);
    {
        double end = weft_now() + 0.01;
        while (weft_now() < end) {
        }
    }
    EXPECT_RC(weft_scope_exit(&s, 0), 0);
    return 0;
}

static int fail_after_explicit_cancel_is_not_timeout(void *arg)
{
    (void)arg;
    weft_scope_t s;
    /* Cancelled explicitly before its deadline: caught silently. */
    weft_fail_after(&s, 10.0);
    weft_scope_cancel(&s);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&s));
    return 0;
}

static int fail_after_nested_outer_expires(void *arg)
{
    (void)arg;
    weft_scope_t outer, inner;
    /* The outer fail_after expires; the inner one (later deadline) must not
     * turn it into a timeout of its own: it passes ECANCELED on. */
    weft_fail_after(&outer, 0.02);
    weft_fail_after(&inner, 10.0);
    int rc = weft_sleep(10.0);
    EXPECT_RC(rc, WEFT_ECANCELED);
    rc = weft_scope_exit(&inner, rc);
    EXPECT_RC(rc, WEFT_ECANCELED);
    rc = weft_scope_exit(&outer, rc);
    EXPECT_RC(rc, WEFT_ETIMEDOUT);
    return 0;
}

static int deadline_moved_later(void *arg)
{
    (void)arg;
    weft_scope_t s;
    double t0 = weft_now();
    weft_move_on_after(&s, 0.03);
    weft_scope_set_deadline(&s, t0 + 10.0);
    EXPECT_NEAR(weft_scope_deadline(&s), t0 + 10.0, 1e-3);
    /* Well past the old deadline. */
    EXPECT_RC(weft_sleep(0.1), 0);
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT(!weft_scope_cancel_called(&s));
    EXPECT_RC(weft_scope_exit(&s, 0), 0);
    EXPECT(!weft_scope_cancelled_caught(&s));
    return 0;
}

static int deadline_moved_earlier(void *arg)
{
    (void)arg;
    weft_scope_t s;
    double t0 = weft_now();
    weft_move_on_after(&s, 10.0);
    weft_scope_set_deadline(&s, t0 + 0.03);
    int rc = weft_sleep(5.0);
    double dt = weft_now() - t0;
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT(dt >= 0.03);
    EXPECT(dt < 0.03 + WT_SLACK);
    EXPECT_RC(weft_scope_exit(&s, rc), 0);
    EXPECT(weft_scope_cancelled_caught(&s));

    /* A deadline moved into the past cancels at once. */
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    EXPECT_RC(weft_checkpoint(), 0);
    weft_scope_set_deadline(&s, weft_now() - 1.0);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&s));
    return 0;
}

static int scope_deadline_reads_back(void *arg)
{
    (void)arg;
    weft_scope_t s;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    EXPECT(weft_scope_deadline(&s) == WEFT_FOREVER);
    double d = weft_now() + 123.0;
    weft_scope_set_deadline(&s, d);
    EXPECT_NEAR(weft_scope_deadline(&s), d, 1e-3);
    weft_scope_set_deadline(&s, WEFT_FOREVER);
    EXPECT(weft_scope_deadline(&s) == WEFT_FOREVER);
    EXPECT_RC(weft_scope_exit(&s, 0), 0);

    d = weft_now() + 50.0;
    weft_scope_enter(&s, d, 0);
    EXPECT_NEAR(weft_scope_deadline(&s), d, 1e-3);
    EXPECT_RC(weft_scope_exit(&s, 0), 0);

    double t0 = weft_now();
    weft_move_on_after(&s, 7.0);
    double t1 = weft_now();
    double got = weft_scope_deadline(&s);
    EXPECT(got >= t0 + 7.0 - 1e-3 && got <= t1 + 7.0 + 1e-3);
    EXPECT_RC(weft_scope_exit(&s, 0), 0);

    t0 = weft_now();
    weft_fail_after(&s, 3.0);
    t1 = weft_now();
    got = weft_scope_deadline(&s);
    EXPECT(got >= t0 + 3.0 - 1e-3 && got <= t1 + 3.0 + 1e-3);
    EXPECT_RC(weft_scope_exit(&s, 0), 0);
    return 0;
}

static int current_effective_deadline(void *arg)
{
    (void)arg;
    weft_scope_t a, b, c, d;
    EXPECT(weft_current_effective_deadline() == WEFT_FOREVER);
    double now = weft_now();
    weft_scope_enter(&a, now + 100.0, 0);
    EXPECT_NEAR(weft_current_effective_deadline(), now + 100.0, 1e-3);
    weft_scope_enter(&b, now + 50.0, 0);
    EXPECT_NEAR(weft_current_effective_deadline(), now + 50.0, 1e-3);
    weft_scope_enter(&c, now + 200.0, 0);
    EXPECT_NEAR(weft_current_effective_deadline(), now + 50.0, 1e-3);
    /* Moving an outer deadline changes the effective one. */
    weft_scope_set_deadline(&a, now + 20.0);
    EXPECT_NEAR(weft_current_effective_deadline(), now + 20.0, 1e-3);
    /* A shield hides the outer deadlines. */
    weft_scope_enter(&d, now + 300.0, WEFT_SHIELD);
    EXPECT_NEAR(weft_current_effective_deadline(), now + 300.0, 1e-3);
    weft_scope_set_deadline(&d, WEFT_FOREVER);
    EXPECT(weft_current_effective_deadline() == WEFT_FOREVER);
    EXPECT_RC(weft_scope_exit(&d, 0), 0);
    EXPECT_NEAR(weft_current_effective_deadline(), now + 20.0, 1e-3);
    EXPECT_RC(weft_scope_exit(&c, 0), 0);
    /* Cancelled: -INFINITY; a shield inside hides that too. */
    weft_scope_cancel(&b);
    EXPECT(weft_current_effective_deadline() == -INFINITY);
    weft_scope_enter(&d, WEFT_FOREVER, WEFT_SHIELD);
    EXPECT(weft_current_effective_deadline() == WEFT_FOREVER);
    EXPECT_RC(weft_scope_exit(&d, 0), 0);
    EXPECT(weft_current_effective_deadline() == -INFINITY);
    EXPECT_RC(weft_scope_exit(&b, WEFT_ECANCELED), 0);
    EXPECT_NEAR(weft_current_effective_deadline(), now + 20.0, 1e-3);
    EXPECT_RC(weft_scope_exit(&a, 0), 0);
    EXPECT(weft_current_effective_deadline() == WEFT_FOREVER);
    return 0;
}

/* The deadline passed while the task computed without a checkpoint: the
 * scope is cancelled, so the very next checkpoint reports it (level
 * cancellation; Trio processes the expiry at that yield). */
static void busy_wait(double seconds)
{
    double end = weft_now() + seconds;
    while (weft_now() < end) {
    }
}

static int checkpoint_after_expired_deadline(void *arg)
{
    (void)arg;
    weft_scope_t s;
    weft_move_on_after(&s, 0.01);
    busy_wait(0.05);
    int rc = weft_checkpoint();
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&s));

    weft_move_on_after(&s, 0.01);
    busy_wait(0.05);
    EXPECT_RC(weft_sleep(0), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, WEFT_ECANCELED), 0);

    weft_fail_after(&s, 0.01);
    busy_wait(0.05);
    rc = weft_checkpoint();
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, rc), WEFT_ETIMEDOUT);
    return 0;
}

/* Once a checkpoint has reported a scope's expired deadline, the scope is
 * cancelled for good ("a cancelled scope stays cancelled"): moving its
 * deadline later must not un-cancel it, or the ECANCELED already handed out
 * would escape a scope that no longer catches it. */
static int expired_deadline_stays_cancelled(void *arg)
{
    (void)arg;
    weft_scope_t s;
    /* Expiry noticed by a checkpoint right after computing through it. */
    weft_move_on_after(&s, 0.01);
    busy_wait(0.05);
    int rc = weft_checkpoint();
    EXPECT_RC(rc, WEFT_ECANCELED);
    weft_scope_set_deadline(&s, weft_now() + 10.0);
    EXPECT(weft_scope_cancel_called(&s));
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, rc), 0);
    EXPECT(weft_scope_cancelled_caught(&s));

    /* Expiry that woke a sleep. */
    weft_move_on_after(&s, 0.01);
    rc = weft_sleep(10.0);
    EXPECT_RC(rc, WEFT_ECANCELED);
    weft_scope_set_deadline(&s, WEFT_FOREVER);
    EXPECT(weft_scope_cancel_called(&s));
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, rc), 0);
    EXPECT(weft_scope_cancelled_caught(&s));
    EXPECT_RC(weft_checkpoint(), 0);
    return 0;
}

/* A deadline expires while the worker that armed it runs another task that
 * computes without checkpoints; other workers are idle.  The expiry must not
 * wait for the busy task: the blocked task is woken about on time. */
typedef struct {
    weft_group_t *g;
    double woke_after;
    int sleep_rc, exit_rc;
} busy_ctx_t;

#define BUSY_SPIN 2.5

static int cpu_hog(void *arg)
{
    (void)arg;
    busy_wait(BUSY_SPIN);
    return 0;
}

static int deadline_sleeper_with_hog(void *arg)
{
    busy_ctx_t *c = arg;
    weft_scope_t s;
    double t0 = weft_now();
    weft_move_on_after(&s, 0.05);
    /* Spawned from here, the hog most likely lands on this worker. */
    EXPECT_RC(weft_group_spawn(c->g, cpu_hog, NULL), 0);
    c->sleep_rc = weft_sleep(10.0);
    c->woke_after = weft_now() - t0;
    c->exit_rc = weft_scope_exit(&s, c->sleep_rc);
    return 0;
}

static int deadline_fires_while_worker_busy(void *arg)
{
    (void)arg;
    busy_ctx_t c = {0};
    weft_group_t g;
    c.g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, deadline_sleeper_with_hog, &c), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(c.sleep_rc, WEFT_ECANCELED);
    EXPECT_RC(c.exit_rc, 0);
    if (!(c.woke_after < 1.0))
        wt_failf(__FILE__, __LINE__,
                 "0.05 s deadline woke the task after %.3f s (the hog ran %.1f s)",
                 c.woke_after, BUSY_SPIN);
    return 0;
}

/* ------------------------------------------------------------ cross-task */

/* Run a(arg) and b(arg) as two tasks of one group; the group's result. */
static int run_two(weft_fn_t a, weft_fn_t b, void *arg)
{
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, a, arg), 0);
    EXPECT_RC(weft_group_spawn(&g, b, arg), 0);
    return weft_group_close(&g, 0);
}

typedef struct {
    weft_scope_t *target;   /* published by the sleeper */
    atomic_int ready;       /* the sleeper is about to block */
    atomic_int done;
    double sleep_for;
    double cancel_at;       /* when the canceller called cancel */
    double woke_at;
    int sleep_rc;
    int exit_rc;
    int caught;
    int use_deadline;       /* move the deadline instead of cancelling */
    int nested;             /* sleep inside an extra inner scope */
} xtask_ctx_t;

static int blocked_sleeper(void *arg)
{
    xtask_ctx_t *c = arg;
    weft_scope_t safety, s, inner;
    /* Safety net: a missed wake-up becomes a failure, not a hang. */
    weft_move_on_after(&safety, 10.0);
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    c->target = &s;
    if (c->nested)
        weft_scope_enter(&inner, WEFT_FOREVER, 0);
    atomic_store(&c->ready, 1);
    int rc = weft_sleep(c->sleep_for);
    c->woke_at = weft_now();
    c->sleep_rc = rc;
    if (c->nested) {
        rc = weft_scope_exit(&inner, rc);
        EXPECT_RC(rc, WEFT_ECANCELED);
        EXPECT(!weft_scope_cancelled_caught(&inner));
    }
    c->exit_rc = weft_scope_exit(&s, rc);
    c->caught = weft_scope_cancelled_caught(&s);
    EXPECT_RC(weft_scope_exit(&safety, 0), 0);
    EXPECT(!weft_scope_cancelled_caught(&safety));
    atomic_store(&c->done, 1);
    return 0;
}

static int remote_canceller(void *arg)
{
    xtask_ctx_t *c = arg;
    if (!wt_wait_flag(&c->ready, 1, 10.0)) {
        wt_failf(__FILE__, __LINE__, "sleeper never got ready");
        return 0;
    }
    /* Give the sleeper time to really block. */
    weft_sleep(0.05);
    EXPECT(atomic_load(&c->done) == 0);
    c->cancel_at = weft_now();
    if (c->use_deadline)
        weft_scope_set_deadline(c->target, weft_now());
    else
        weft_scope_cancel(c->target);
    return 0;
}

static void check_woken(xtask_ctx_t *c)
{
    EXPECT(atomic_load(&c->done) == 1);
    EXPECT_RC(c->sleep_rc, WEFT_ECANCELED);
    EXPECT_RC(c->exit_rc, 0);
    EXPECT(c->caught);
    double lat = c->woke_at - c->cancel_at;
    if (!(lat >= 0 && lat < 1.0))
        wt_failf(__FILE__, __LINE__, "woken %.6f s after the cancel", lat);
}

/* The sleeper and the canceller as two tasks, so that with more than one
 * worker they may land on different workers; then the sleeper must have
 * woken promptly. */
static int cross_wake(double sleep_for, int nested, int use_deadline)
{
    xtask_ctx_t c = {.sleep_for = sleep_for, .nested = nested, .use_deadline = use_deadline};
    int rc = run_two(blocked_sleeper, remote_canceller, &c);
    check_woken(&c);
    return rc;
}

static int cancel_wakes_blocked_task_forever(void *arg)
{
    (void)arg;
    return cross_wake(WEFT_FOREVER, 0, 0);
}

static int cancel_wakes_blocked_task_long_sleep(void *arg)
{
    (void)arg;
    return cross_wake(100.0, 0, 0);
}

static int cancel_outer_scope_wakes_nested(void *arg)
{
    (void)arg;
    return cross_wake(WEFT_FOREVER, 1, 0);
}

static int deadline_moved_from_other_task_wakes(void *arg)
{
    (void)arg;
    return cross_wake(WEFT_FOREVER, 0, 1);
}

/* A deadline moved later by another task while the owner is blocked: the
 * old deadline no longer fires. */
typedef struct {
    weft_scope_t *target;
    atomic_int ready, moved;
    int sleep_rc, exit_rc, caught;
    double slept, final_deadline, new_deadline;
} later_ctx_t;

static int sleeper_short_deadline(void *arg)
{
    later_ctx_t *c = arg;
    weft_scope_t s;
    weft_move_on_after(&s, 0.1);
    c->target = &s;
    atomic_store(&c->ready, 1);
    double t0 = weft_now();
    c->sleep_rc = weft_sleep(0.3);
    c->slept = weft_now() - t0;
    EXPECT(wt_wait_flag(&c->moved, 1, 10.0));
    c->final_deadline = weft_scope_deadline(&s);
    c->exit_rc = weft_scope_exit(&s, c->sleep_rc);
    c->caught = weft_scope_cancelled_caught(&s);
    return 0;
}

static int push_deadline_later(void *arg)
{
    later_ctx_t *c = arg;
    if (!wt_wait_flag(&c->ready, 1, 10.0))
        return 0;
    c->new_deadline = weft_now() + 10.0;
    weft_scope_set_deadline(c->target, c->new_deadline);
    atomic_store(&c->moved, 1);
    return 0;
}

static int deadline_moved_later_from_other_task(void *arg)
{
    (void)arg;
    later_ctx_t c = {0};
    int rc = run_two(sleeper_short_deadline, push_deadline_later, &c);
    EXPECT_RC(c.sleep_rc, 0);
    EXPECT(c.slept >= 0.3);
    EXPECT_RC(c.exit_rc, 0);
    EXPECT(!c.caught);
    EXPECT_NEAR(c.final_deadline, c.new_deadline, 1e-3);
    return rc;
}

/* A task blocked inside a shield is not woken by the outer scope's cancel. */
typedef struct {
    weft_scope_t *outer;
    atomic_int ready;
    atomic_int cancelled;
    int sleep_rc, after_rc, exit_rc;
    double slept;
} shield_x_ctx_t;

static int shielded_sleeper(void *arg)
{
    shield_x_ctx_t *c = arg;
    weft_scope_t outer, sh;
    weft_scope_enter(&outer, WEFT_FOREVER, 0);
    c->outer = &outer;
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD);
    atomic_store(&c->ready, 1);
    double t0 = weft_now();
    c->sleep_rc = weft_sleep(0.2);
    c->slept = weft_now() - t0;
    EXPECT_RC(weft_scope_exit(&sh, c->sleep_rc), c->sleep_rc);
    c->after_rc = weft_checkpoint();
    c->exit_rc = weft_scope_exit(&outer, c->after_rc);
    return 0;
}

static int outer_canceller(void *arg)
{
    shield_x_ctx_t *c = arg;
    if (!wt_wait_flag(&c->ready, 1, 10.0))
        return 0;
    weft_sleep(0.02);
    weft_scope_cancel(c->outer);
    atomic_store(&c->cancelled, 1);
    return 0;
}

static int shielded_blocked_task_not_woken(void *arg)
{
    (void)arg;
    shield_x_ctx_t c = {0};
    int rc = run_two(shielded_sleeper, outer_canceller, &c);
    EXPECT(atomic_load(&c.cancelled) == 1);
    EXPECT_RC(c.sleep_rc, 0);
    EXPECT(c.slept >= 0.2);
    EXPECT_RC(c.after_rc, WEFT_ECANCELED);
    EXPECT_RC(c.exit_rc, 0);
    return rc;
}

/* A scope entered in one task protects only that task: cancelling a scope of
 * a sibling does not affect the canceller. */
static int sequential_scopes_independent(void *arg)
{
    (void)arg;
    weft_scope_t a, b;
    weft_scope_enter(&a, WEFT_FOREVER, 0);
    weft_scope_exit(&a, 0);
    weft_scope_enter(&b, WEFT_FOREVER, 0);
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT_RC(weft_scope_exit(&b, 0), 0);
    EXPECT(!weft_scope_cancel_called(&b));
    return 0;
}

/* ------------------------------------------------------------ depth */

/* A chain of nested groups, each task opening a group and spawning the next,
 * cancelled from the root.  The cancellation walk and the task-tree dump go
 * through the whole tree; neither may use stack per level (the root task
 * runs on a small stack), and building the chain must not cost a walk to the
 * root per checkpoint. */
typedef struct {
    unsigned n;
    atomic_uint built, cancelled;
    weft_event_t *leaf_ready;
    int dump;                   /* print the tree once the chain stands */
    int leaf_rc;
} chain_t;

static int chain_link(void *arg)
{
    chain_t *c = arg;
    unsigned level = atomic_fetch_add(&c->built, 1) + 1;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    int rc;
    if (level < c->n) {
        rc = weft_group_spawn(&g, chain_link, c);
    } else {
        weft_event_set(c->leaf_ready);
        rc = c->leaf_rc = weft_sleep(WEFT_FOREVER);
    }
    rc = weft_group_close(&g, rc);
    if (rc == WEFT_ECANCELED)
        atomic_fetch_add(&c->cancelled, 1);
    return rc;
}

static int chain_main(void *arg)
{
    chain_t *c = arg;
    EXPECT_RC(weft_event_new(&c->leaf_ready), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, chain_link, c), 0);
    EXPECT_RC(weft_event_wait(c->leaf_ready), 0);
    if (c->dump) {
        FILE *sink = fopen("/dev/null", "w");
        EXPECT(sink != NULL);
        if (sink) {
            weft_dump_tasks(sink);
            fclose(sink);
        }
    }
    weft_group_cancel(&g);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_event_free(c->leaf_ready);
    return 0;
}

static void run_chain(unsigned n, int dump)
{
    chain_t c;
    memset(&c, 0, sizeof c);
    c.n = n;
    c.dump = dump;
    /* 64 KiB: a walk that recursed once per scope would need megabytes. */
    weft_config_t cfg = {.workers = 2, .stack_size = 64 * 1024};
    WT_RUN_CONFIG_OK(chain_main, &c, &cfg);
    assert_int_equal(atomic_load(&c.built), n);
    assert_rc(c.leaf_rc, WEFT_ECANCELED);
    assert_int_equal(atomic_load(&c.cancelled), n); /* every link saw it */
}

static void deep_chain_cancelled_from_root(void)
{
    run_chain(WT_TSAN_PICK(100000, 500), 0); /* TSan: ~1 MB per task */
}

static void deep_chain_dumped(void)
{
    run_chain(WT_TSAN_PICK(20000, 300), 1);
}

/* One task, many nested scopes: a checkpoint at the bottom sees a
 * cancellation of the outermost, a shield halfway stops it, and dropping
 * the shield lets it through again. */
static int deep_scopes_main(void *arg)
{
    unsigned n = *(unsigned *)arg, half = n / 2;
    weft_scope_t *s = calloc(n, sizeof *s);
    EXPECT(s != NULL);
    if (!s)
        return WEFT_ENOMEM;
    for (unsigned i = 0; i < n; i++)
        weft_scope_enter(&s[i], WEFT_FOREVER, i == half ? WEFT_SHIELD : 0);
    EXPECT_RC(weft_checkpoint(), 0);
    weft_scope_cancel(&s[0]);
    EXPECT_RC(weft_checkpoint(), 0);            /* the shield holds */
    EXPECT(weft_current_effective_deadline() == WEFT_FOREVER);
    weft_scope_set_deadline(&s[half - 1], weft_now() + 1000);
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT(weft_current_effective_deadline() == WEFT_FOREVER); /* above the shield */
    weft_scope_set_deadline(&s[half + 1], weft_now() + 1000);
    EXPECT(weft_current_effective_deadline() < WEFT_FOREVER);
    weft_scope_set_shield(&s[half], 0);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT_RC(weft_sleep(10), WEFT_ECANCELED);
    weft_scope_set_shield(&s[half], 1);
    EXPECT_RC(weft_checkpoint(), 0);
    int rc = 0;
    for (unsigned i = n; i-- > 0;) {
        if (i == half)
            rc = weft_checkpoint(); /* out of the shield: cancelled again */
        rc = weft_scope_exit(&s[i], rc);
    }
    free(s);
    EXPECT_RC(rc, 0);                           /* s[0] caught it */
    EXPECT_RC(weft_checkpoint(), 0);
    return 0;
}

static void deep_scopes_in_one_task(void)
{
    unsigned n = WT_TSAN_PICK(100000, 20000);
    weft_config_t cfg = {.workers = 1, .stack_size = 64 * 1024};
    WT_RUN_CONFIG_OK(deep_scopes_main, &n, &cfg);
}

/* ------------------------------------------------------------ NaN */

/* A NaN delay or deadline is a bad argument: the scope is cancelled at once
 * (its body's checkpoints say so) and its exit reports WEFT_EINVAL, whether
 * the body saw the cancellation or not. */
static int nan_deadline_cancels_and_exit_einval(void *arg)
{
    (void)arg;
    weft_scope_t s;
    for (int how = 0; how < 4; how++) {
        double t0 = weft_now();
        switch (how) {
        case 0: weft_fail_after(&s, NAN); break;
        case 1: weft_move_on_after(&s, NAN); break;
        case 2: weft_scope_enter(&s, NAN, 0); break;
        default:
            weft_scope_enter(&s, weft_now() + 100, 0);
            EXPECT_RC(weft_checkpoint(), 0);
            weft_scope_set_deadline(&s, NAN);
            break;
        }
        EXPECT(weft_scope_cancel_called(&s));
        EXPECT_RC(weft_sleep(5), WEFT_ECANCELED);
        EXPECT(weft_now() - t0 < WT_SLACK);
        EXPECT_RC(weft_scope_exit(&s, WEFT_ECANCELED), WEFT_EINVAL);
        EXPECT(weft_scope_cancelled_caught(&s));
        EXPECT_RC(weft_checkpoint(), 0);
    }
    /* No checkpoint in the body: the exit still reports the bad argument. */
    weft_fail_after(&s, NAN);
    EXPECT_RC(weft_scope_exit(&s, 0), WEFT_EINVAL);
    /* Another error of the body is not hidden. */
    weft_fail_after(&s, NAN);
    EXPECT_RC(weft_scope_exit(&s, -EIO), -EIO);
    EXPECT_RC(weft_sleep(NAN), WEFT_EINVAL);
    EXPECT_RC(weft_sleep_until(NAN), WEFT_EINVAL);
    return 0;
}

/* ------------------------------------------------------------ from other threads */

/* weft_scope_cancel and weft_group_cancel from a thread that is not the
 * runtime's (a signal or callback thread), while the scope is entered:
 * thread-safe by design, and the blocked task wakes promptly. */
typedef struct {
    weft_scope_t *scope;
    weft_group_t *group;
    atomic_int ready, cancels;
    int sleep_rc, child_rc, exit_rc, close_rc;
    double woke_after;
} foreign_cancel_t;

static void *foreign_canceller(void *arg)
{
    foreign_cancel_t *c = arg;
    while (atomic_load(&c->ready) < 2)
        sched_yield();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    weft_scope_cancel(c->scope);
    weft_group_cancel(c->group);
    weft_scope_cancel(c->scope); /* idempotent */
    weft_group_cancel(c->group);
    atomic_store(&c->cancels, 1);
    return NULL;
}

static int foreign_child(void *arg)
{
    foreign_cancel_t *c = arg;
    atomic_fetch_add(&c->ready, 1);
    c->child_rc = weft_sleep(10);
    return c->child_rc;
}

static int cancel_from_foreign_thread(void *arg)
{
    (void)arg;
    foreign_cancel_t c = {0};
    weft_scope_t s;
    weft_group_t g;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    c.scope = &s;
    EXPECT_RC(weft_group_open(&g), 0);
    c.group = &g;
    EXPECT_RC(weft_group_spawn(&g, foreign_child, &c), 0);
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, foreign_canceller, &c) == 0);
    atomic_fetch_add(&c.ready, 1);
    double t0 = weft_now();
    c.sleep_rc = weft_sleep(10);
    c.woke_after = weft_now() - t0;
    c.close_rc = weft_group_close(&g, c.sleep_rc);
    /* The thread touches the scope and group until it says it is done. */
    weft_scope_t sh;
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD);
    while (!atomic_load(&c.cancels))
        weft_sleep(0.001);
    weft_scope_exit(&sh, 0);
    c.exit_rc = weft_scope_exit(&s, c.close_rc);
    pthread_join(th, NULL);
    EXPECT_RC(c.sleep_rc, WEFT_ECANCELED);
    EXPECT_RC(c.child_rc, WEFT_ECANCELED);
    EXPECT_RC(c.close_rc, WEFT_ECANCELED);
    EXPECT_RC(c.exit_rc, 0);
    EXPECT(c.woke_after < 5.0);
    return 0;
}

static const wt_case_t cases[] = {
    WT_CASE_ON(level_cancellation, WT_W2),
    WT_CASE_ON(uncancelled_scope_passes_rc, WT_W2),
    WT_CASE_ON(cancel_is_idempotent, WT_W2),
    WT_CASE_ON(exit_other_rc_unchanged_when_cancelled, WT_W2),
    WT_CASE_ON(outer_cancelled_scope_catches, WT_W2),
    WT_CASE_ON(outermost_of_two_cancelled_scopes_catches, WT_W2),
    WT_CASE_ON(inner_cancelled_scope_catches_own, WT_W2),
    WT_CASE_ON(shield_blocks_outer_cancellation, WT_W2),
    WT_CASE_ON(shield_does_not_block_own_cancel, WT_W2),
    WT_CASE_ON(set_shield_at_run_time, WT_W2),
    WT_CASE_ON(shield_ignores_outer_deadline, WT_W2),
    WT_CASE_ON(move_on_after_expires, WT_W2),
    WT_CASE_ON(move_on_after_not_expired, WT_W2),
    WT_CASE_ON(fail_after_expires_timedout, WT_W2),
    WT_CASE_ON(fail_after_not_expired, WT_W2),
    WT_CASE_ON(fail_after_explicit_cancel_is_not_timeout, WT_W2),
    WT_CASE_ON(fail_after_nested_outer_expires, WT_W2),
    WT_CASE_ON(deadline_moved_later, WT_W2),
    WT_CASE_ON(deadline_moved_earlier, WT_W2),
    WT_CASE_ON(scope_deadline_reads_back, WT_W2),
    WT_CASE_ON(current_effective_deadline, WT_W2),
    WT_CASE(checkpoint_after_expired_deadline),
    WT_CASE(expired_deadline_stays_cancelled),
    WT_CASE_ON(deadline_fires_while_worker_busy, WT_W2),
    WT_CASE_ON(cancel_wakes_blocked_task_forever, WT_W2 | WT_W4),
    WT_CASE_ON(cancel_wakes_blocked_task_long_sleep, WT_W2),
    WT_CASE_ON(cancel_outer_scope_wakes_nested, WT_W2),
    WT_CASE_ON(deadline_moved_from_other_task_wakes, WT_W2),
    WT_CASE_ON(deadline_moved_later_from_other_task, WT_W2),
    WT_CASE_ON(shielded_blocked_task_not_woken, WT_W2),
    WT_CASE_ON(sequential_scopes_independent, WT_W1),
    WT_TEST(deep_chain_cancelled_from_root),
    WT_TEST(deep_chain_dumped),
    WT_TEST(deep_scopes_in_one_task),
    WT_CASE_ON(nan_deadline_cancels_and_exit_einval, WT_W1),
    WT_CASE(cancel_from_foreign_thread),
};
WT_SUITE(cases)
