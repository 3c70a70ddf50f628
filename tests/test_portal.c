/* Blocking portals: call, spawn + futures (wait, done, cancel, free), failure
 * isolation, stop with and without cancelling the remaining tasks, use after
 * stop (WEFT_EBADF), stop and free while other threads still call in,
 * futures outliving their portal, several portals at once, misuse, calls
 * from many threads at once. */
#define _GNU_SOURCE
#include "thread_helpers.h"

/* ------------------------------------------------------------ call */

typedef struct {
    int ret;
    atomic_int runs;
    int name_ok, cp_rc, sleep_rc, offload_rc;
    atomic_int offloaded;
    weft_limiter_t *def;
} call_t;

static int offloaded_fn(void *p)
{
    call_t *c = p;
    atomic_fetch_add(&c->offloaded, 1);
    return -3;
}

static int call_fn(void *p)
{
    call_t *c = p;
    atomic_fetch_add(&c->runs, 1);
    c->name_ok = weft_current_task_name() != NULL;
    c->cp_rc = weft_checkpoint();
    c->sleep_rc = weft_sleep(0.001);
    c->offload_rc = weft_to_thread_run_sync(offloaded_fn, c, NULL);
    c->def = weft_default_thread_limiter();
    return c->ret;
}

static void call_returns_result(void)
{
    for (int k = 0; k < 2; k++) {
        weft_portal_t *p = NULL;
        if (k == 0) {
            assert_rc(weft_portal_start(&p, NULL), 0); /* default config */
            assert_non_null(p);
        } else {
            p = wt_portal_start(2);
        }
        call_t c;
        memset(&c, 0, sizeof c);
        c.ret = -66;
        assert_rc(weft_portal_call(p, call_fn, &c), -66);
        assert_int_equal(atomic_load(&c.runs), 1);
        assert_true(c.name_ok);
        assert_rc(c.cp_rc, 0);
        assert_rc(c.sleep_rc, 0);
        assert_rc(c.offload_rc, -3);
        assert_int_equal(atomic_load(&c.offloaded), 1);
        assert_non_null(c.def);
        for (int i = 0; i < 50; i++) {
            c.ret = -i;
            assert_rc(weft_portal_call(p, call_fn, &c), -i);
        }
        assert_int_equal(atomic_load(&c.runs), 51);
        wt_portal_stop_free(p, 0);
    }
}

/* ------------------------------------------------------------ spawn, wait, done */

typedef struct {
    atomic_int started, go, finished;
    atomic_int rc; /* what its sleep / wait returned */
    int ret;
    double sleep_s;
} job_t;

static int gated_job(void *p)
{
    job_t *j = p;
    int ret = j->ret;
    WT_GATE_TASK(&j->started, &j->go);
    atomic_store(&j->finished, 1); /* the last touch of *j */
    return ret;
}

static int sleep_job(void *p)
{
    job_t *j = p;
    int ret = j->ret;
    atomic_store(&j->started, 1);
    int rc = weft_sleep(j->sleep_s);
    atomic_store(&j->rc, rc);
    atomic_store(&j->finished, 1); /* the last touch of *j */
    return rc ? rc : ret;
}

static int quick_job(void *p)
{
    job_t *j = p;
    int ret = j->ret;
    atomic_store(&j->started, 1);
    atomic_store(&j->finished, 1); /* the last touch of *j */
    return ret;
}

/* A sleep_job that sleeps until cancelled; its rc stays 1 until the sleep returns. */
static void forever_job_init(job_t *j)
{
    memset(j, 0, sizeof *j);
    j->sleep_s = WEFT_FOREVER;
    atomic_store(&j->rc, 1);
}

static void spawn_and_wait(void)
{
    weft_portal_t *p = wt_portal_start(2);
    job_t j;
    memset(&j, 0, sizeof j);
    j.ret = -67;
    weft_future_t *f = NULL;
    assert_rc(weft_portal_spawn(p, gated_job, &j, &f), 0);
    assert_non_null(f);
    assert_true(wt_spin_until(&j.started, 1, 5.0));
    usleep(10000);
    assert_int_equal(weft_future_done(f), 0);
    atomic_store(&j.go, 1);
    assert_rc(weft_future_wait(f), -67);
    assert_int_equal(weft_future_done(f), 1);
    assert_int_equal(atomic_load(&j.finished), 1);
    weft_future_free(f);

    /* Done becomes 1 without anyone waiting; cancel afterwards has no effect. */
    memset(&j, 0, sizeof j);
    j.ret = -5;
    assert_rc(weft_portal_spawn(p, quick_job, &j, &f), 0);
    for (int i = 0; i < 5000 && !weft_future_done(f); i++)
        usleep(1000);
    assert_int_equal(weft_future_done(f), 1);
    weft_future_cancel(f);
    assert_int_equal(weft_future_done(f), 1);
    assert_rc(weft_future_wait(f), -5);
    weft_future_free(f);

    /* Several at once, waited in reverse order. */
    enum { N = 16 };
    job_t js[N];
    weft_future_t *fs[N];
    memset(js, 0, sizeof js);
    for (int i = 0; i < N; i++) {
        js[i].ret = -100 - i;
        js[i].sleep_s = 0.001 * (i % 4);
        assert_rc(weft_portal_spawn(p, sleep_job, &js[i], &fs[i]), 0);
    }
    for (int i = N - 1; i >= 0; i--) {
        assert_rc(weft_future_wait(fs[i]), -100 - i);
        weft_future_free(fs[i]);
    }
    wt_portal_stop_free(p, 0);
}

/* ------------------------------------------------------------ failure isolation */

static void failure_goes_to_future(void)
{
    weft_portal_t *p = wt_portal_start(2);
    job_t slow, bad, after;
    memset(&slow, 0, sizeof slow);
    memset(&bad, 0, sizeof bad);
    memset(&after, 0, sizeof after);
    slow.sleep_s = 0.05;
    slow.ret = 0;
    bad.ret = -99;
    after.sleep_s = 0.01;
    after.ret = 0;
    weft_future_t *fs, *fb, *fa;
    assert_rc(weft_portal_spawn(p, sleep_job, &slow, &fs), 0);
    assert_true(wt_spin_until(&slow.started, 1, 5.0));
    assert_rc(weft_portal_spawn(p, quick_job, &bad, &fb), 0);
    assert_rc(weft_future_wait(fb), -99);
    /* Spawned after the failure: not cancelled either. */
    assert_rc(weft_portal_spawn(p, sleep_job, &after, &fa), 0);
    assert_rc(weft_future_wait(fs), 0);
    assert_rc(atomic_load(&slow.rc), 0); /* its sleep was not cancelled */
    assert_rc(weft_future_wait(fa), 0);
    assert_rc(atomic_load(&after.rc), 0);
    weft_future_free(fs);
    weft_future_free(fb);
    weft_future_free(fa);
    /* A failing call reports to its caller only. */
    bad.ret = WEFT_EINVAL;
    assert_rc(weft_portal_call(p, quick_job, &bad), WEFT_EINVAL);
    call_t c;
    memset(&c, 0, sizeof c);
    c.ret = -12;
    assert_rc(weft_portal_call(p, call_fn, &c), -12);
    assert_rc(c.sleep_rc, 0);
    wt_portal_stop_free(p, 0);
}

/* ------------------------------------------------------------ future_cancel */

static void future_cancel(void)
{
    weft_portal_t *p = wt_portal_start(2);
    job_t forever, other;
    forever_job_init(&forever);
    memset(&other, 0, sizeof other);
    other.sleep_s = 0.05;
    other.ret = -8;
    weft_future_t *ff, *fo;
    assert_rc(weft_portal_spawn(p, sleep_job, &forever, &ff), 0);
    assert_rc(weft_portal_spawn(p, sleep_job, &other, &fo), 0);
    assert_true(wt_spin_until(&forever.started, 1, 5.0));
    assert_int_equal(weft_future_done(ff), 0);
    weft_future_cancel(ff);
    assert_rc(weft_future_wait(ff), WEFT_ECANCELED);
    assert_int_equal(weft_future_done(ff), 1);
    assert_rc(atomic_load(&forever.rc), WEFT_ECANCELED);
    weft_future_cancel(ff); /* again: nothing */
    weft_future_free(ff);
    /* The other task was not touched. */
    assert_rc(weft_future_wait(fo), -8);
    assert_rc(atomic_load(&other.rc), 0);
    weft_future_free(fo);

    /* Cancelled right after the spawn, maybe before it started. */
    for (int i = 0; i < 20; i++) {
        memset(&forever, 0, sizeof forever);
        forever.sleep_s = WEFT_FOREVER;
        assert_rc(weft_portal_spawn(p, sleep_job, &forever, &ff), 0);
        weft_future_cancel(ff);
        assert_rc(weft_future_wait(ff), WEFT_ECANCELED);
        weft_future_free(ff);
    }
    wt_portal_stop_free(p, 0);
}

/* Cancel from another thread while a thread waits on the future. */
static void *cancel_later(void *p)
{
    usleep(20000);
    weft_future_cancel(p);
    return NULL;
}

static void future_cancel_from_other_thread(void)
{
    weft_portal_t *p = wt_portal_start(1);
    job_t forever;
    memset(&forever, 0, sizeof forever);
    forever.sleep_s = WEFT_FOREVER;
    weft_future_t *f;
    assert_rc(weft_portal_spawn(p, sleep_job, &forever, &f), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, f), 0);
    assert_rc(weft_future_wait(f), WEFT_ECANCELED);
    pthread_join(th, NULL);
    weft_future_free(f);
    wt_portal_stop_free(p, 0);
}

/* ------------------------------------------------------------ free before the task finished */

static void free_before_finish(void)
{
    weft_portal_t *p = wt_portal_start(2);
    job_t slow, forever;
    memset(&slow, 0, sizeof slow);
    memset(&forever, 0, sizeof forever);
    slow.sleep_s = 0.05;
    forever.sleep_s = WEFT_FOREVER;
    weft_future_t *f1, *f2;
    assert_rc(weft_portal_spawn(p, sleep_job, &slow, &f1), 0);
    weft_future_free(f1); /* the task runs on */
    assert_rc(weft_portal_spawn(p, sleep_job, &forever, &f2), 0);
    assert_true(wt_spin_until(&forever.started, 1, 5.0));
    weft_future_cancel(f2);
    weft_future_free(f2);
    assert_true(wt_spin_until(&slow.finished, 1, 5.0));
    assert_rc(atomic_load(&slow.rc), 0);
    assert_true(wt_spin_until(&forever.finished, 1, 5.0));
    assert_rc(atomic_load(&forever.rc), WEFT_ECANCELED);
    /* Freed right away, many times, with quick tasks. */
    atomic_int count = 0;
    for (int i = 0; i < 100; i++) {
        weft_future_t *f;
        job_t *j = calloc(1, sizeof *j);
        assert_non_null(j);
        j->ret = 0;
        assert_rc(weft_portal_spawn(p, quick_job, j, &f), 0);
        weft_future_free(f);
        assert_true(wt_spin_until(&j->finished, 1, 5.0));
        atomic_fetch_add(&count, 1);
        free(j);
    }
    assert_int_equal(atomic_load(&count), 100);
    weft_future_free(NULL);
    wt_portal_stop_free(p, 0);
}

/* ------------------------------------------------------------ stop */

static void stop_cancels_remaining(void)
{
    weft_portal_t *p = wt_portal_start(2);
    job_t js[3];
    memset(js, 0, sizeof js);
    for (int i = 0; i < 3; i++) {
        weft_future_t *f;
        js[i].sleep_s = WEFT_FOREVER;
        atomic_store(&js[i].rc, 1);
        assert_rc(weft_portal_spawn(p, sleep_job, &js[i], &f), 0);
        weft_future_free(f);
    }
    for (int i = 0; i < 3; i++)
        assert_true(wt_spin_until(&js[i].started, 1, 5.0));
    wt_portal_stop_free(p, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&js[i].finished), 1);
        assert_rc(atomic_load(&js[i].rc), WEFT_ECANCELED);
    }

    /* Spawned and stopped at once. */
    p = wt_portal_start(1);
    memset(js, 0, sizeof js);
    weft_future_t *f;
    js[0].sleep_s = WEFT_FOREVER;
    assert_rc(weft_portal_spawn(p, sleep_job, &js[0], &f), 0);
    weft_future_free(f);
    wt_portal_stop_free(p, 1);
    if (atomic_load(&js[0].started))
        assert_rc(atomic_load(&js[0].rc), WEFT_ECANCELED);

    /* Nothing spawned at all. */
    p = wt_portal_start(1);
    wt_portal_stop_free(p, 1);
    p = wt_portal_start(1);
    wt_portal_stop_free(p, 0);
}

static void stop_waits_for_tasks(void)
{
    weft_portal_t *p = wt_portal_start(2);
    job_t j;
    memset(&j, 0, sizeof j);
    j.sleep_s = 0.1;
    atomic_store(&j.rc, 1);
    weft_future_t *f;
    double t0 = weft_now();
    assert_rc(weft_portal_spawn(p, sleep_job, &j, &f), 0);
    weft_future_free(f);
    wt_portal_stop_free(p, 0);
    assert_true(weft_now() - t0 >= 0.095);
    assert_int_equal(atomic_load(&j.finished), 1);
    assert_rc(atomic_load(&j.rc), 0); /* not cancelled */
}

/* ------------------------------------------------------------ after stop, free */

/* Stop, then call and spawn: WEFT_EBADF, nothing runs; stop again: WEFT_EBADF;
 * the handle stays valid until weft_portal_free. */
static void stop_then_use(void)
{
    for (int cancel = 0; cancel < 2; cancel++) {
        weft_portal_t *p = wt_portal_start(1);
        atomic_int ran = 0;
        assert_rc(weft_portal_call(p, wt_count_fn, &ran), 0);
        assert_rc(weft_portal_stop(p, cancel), 0);
        assert_rc(weft_portal_call(p, wt_count_fn, &ran), WEFT_EBADF);
        weft_future_t *f = NULL;
        assert_rc(weft_portal_spawn(p, wt_count_fn, &ran, &f), WEFT_EBADF);
        assert_null(f);
        assert_rc(weft_portal_stop(p, 0), WEFT_EBADF);
        assert_rc(weft_portal_stop(p, 1), WEFT_EBADF);
        assert_rc(weft_portal_call(p, wt_count_fn, &ran), WEFT_EBADF);
        assert_int_equal(atomic_load(&ran), 1);
        weft_portal_free(p);
    }
    weft_portal_free(NULL);
}

/* Futures obtained before the stop stay valid after stop and free. */
static void future_outlives_portal(void)
{
    weft_portal_t *p = wt_portal_start(2);
    job_t quick, forever;
    memset(&quick, 0, sizeof quick);
    quick.ret = -21;
    forever_job_init(&forever);
    weft_future_t *fq, *ff;
    assert_rc(weft_portal_spawn(p, quick_job, &quick, &fq), 0);
    assert_rc(weft_portal_spawn(p, sleep_job, &forever, &ff), 0);
    assert_true(wt_spin_until(&quick.finished, 1, 5.0));
    assert_true(wt_spin_until(&forever.started, 1, 5.0));
    wt_portal_stop_free(p, 1); /* cancels the sleeper */
    assert_int_equal(weft_future_done(fq), 1);
    assert_int_equal(weft_future_done(ff), 1);
    assert_rc(weft_future_wait(fq), -21);
    assert_rc(weft_future_wait(ff), WEFT_ECANCELED);
    assert_rc(atomic_load(&forever.rc), WEFT_ECANCELED);
    weft_future_cancel(ff); /* no task any more: nothing */
    assert_rc(weft_future_wait(ff), WEFT_ECANCELED);
    weft_future_free(fq);
    weft_future_free(ff);
}

/* A second stop and weft_portal_free while another thread's stop still waits
 * for a task: the second returns WEFT_EBADF at once, the first keeps the
 * handle until it returns. */
typedef struct {
    weft_portal_t *p;
    int cancel;
    int rc;
} stopper_t;

static void *stop_on_thread(void *arg)
{
    stopper_t *s = arg;
    s->rc = weft_portal_stop(s->p, s->cancel);
    return NULL;
}

static void free_during_stop(void)
{
    stopper_t s = {.p = wt_portal_start(1), .cancel = 0, .rc = 1};
    job_t gated;
    memset(&gated, 0, sizeof gated);
    gated.ret = -31;
    weft_future_t *f;
    assert_rc(weft_portal_spawn(s.p, gated_job, &gated, &f), 0);
    assert_true(wt_spin_until(&gated.started, 1, 5.0));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_on_thread, &s), 0);
    /* Once the stop began, calls fail at once; it cannot end before the gate opens. */
    atomic_int ran = 0;
    double end = weft_now() + 5.0;
    int rc;
    while ((rc = weft_portal_call(s.p, wt_count_fn, &ran)) == 0 && weft_now() < end)
        usleep(500);
    assert_rc(rc, WEFT_EBADF);
    assert_rc(weft_portal_stop(s.p, 1), WEFT_EBADF); /* at once, cancelling nothing */
    weft_portal_free(s.p);
    usleep(10000);
    assert_int_equal(weft_future_done(f), 0); /* the stop still waits for it */
    atomic_store(&gated.go, 1);
    pthread_join(th, NULL);
    assert_rc(s.rc, 0);
    assert_rc(weft_future_wait(f), -31);
    weft_future_free(f);
}

/* ------------------------------------------------------------ stop while in use */

/* Callers on 16 threads call and spawn in a loop until they get WEFT_EBADF,
 * while the test thread stops the portal under them and frees it once they
 * are joined.  Every call returns its function's result or WEFT_EBADF; as
 * many functions ran as calls returned their result. */
#define RACE_THREADS 16
#define RACE_RESULT 4242 /* no error code, not 0 */

typedef struct {
    weft_portal_t *p;
    atomic_int ran, returned, refused, other, last_other;
} race_t;

typedef struct {
    race_t *r;
    unsigned id;
} race_arg_t;

static int race_fn(void *arg)
{
    atomic_fetch_add(&((race_t *)arg)->ran, 1);
    return RACE_RESULT;
}

/* Every 4th round a spawn + wait, else a call. */
static int race_one(race_t *r, unsigned i)
{
    if (i % 4 != 0)
        return weft_portal_call(r->p, race_fn, r);
    weft_future_t *f;
    int rc = weft_portal_spawn(r->p, race_fn, r, &f);
    if (rc != 0)
        return rc;
    rc = weft_future_wait(f);
    weft_future_free(f);
    return rc;
}

static void *race_caller(void *arg)
{
    race_arg_t *a = arg;
    race_t *r = a->r;
    for (unsigned i = a->id;; i++) {
        int rc = race_one(r, i);
        if (rc == RACE_RESULT) {
            atomic_fetch_add(&r->returned, 1);
            continue;
        }
        if (rc == WEFT_EBADF) {
            atomic_fetch_add(&r->refused, 1);
        } else {
            atomic_fetch_add(&r->other, 1);
            atomic_store(&r->last_other, rc);
        }
        return NULL;
    }
}

static void race_round(int round)
{
    race_t r;
    memset(&r, 0, sizeof r);
    r.p = wt_portal_start(2);
    pthread_t th[RACE_THREADS];
    race_arg_t args[RACE_THREADS];
    for (unsigned t = 0; t < RACE_THREADS; t++) {
        args[t] = (race_arg_t){&r, t};
        assert_int_equal(pthread_create(&th[t], NULL, race_caller, &args[t]), 0);
    }
    /* Stop in the thick of it: after a few calls per thread on average. */
    assert_true(wt_spin_until(&r.returned, round % 3 == 0 ? 1 : 2 * RACE_THREADS, 10.0));
    assert_rc(weft_portal_stop(r.p, round % 2), 0);
    for (unsigned t = 0; t < RACE_THREADS; t++)
        pthread_join(th[t], NULL);
    weft_portal_free(r.p);
    if (atomic_load(&r.other) != 0)
        fail_msg("round %d: %d calls returned %s", round, atomic_load(&r.other),
                 weft_err_name(atomic_load(&r.last_other)));
    assert_int_equal(atomic_load(&r.refused), RACE_THREADS);
    assert_int_equal(atomic_load(&r.ran), atomic_load(&r.returned));
}

static void stop_while_in_use(void)
{
    int rounds = WT_TSAN_PICK(60, 10);
    for (int round = 0; round < rounds; round++)
        race_round(round);
}

/* ------------------------------------------------------------ several portals */

static int which_runtime(void *p)
{
    *(weft_limiter_t **)p = weft_default_thread_limiter();
    return 0;
}

static void several_portals(void)
{
    enum { NP = 3 };
    weft_portal_t *ps[NP];
    weft_limiter_t *ids[NP];
    for (int i = 0; i < NP; i++)
        ps[i] = wt_portal_start((unsigned)i + 1);
    for (int i = 0; i < NP; i++) {
        ids[i] = NULL;
        assert_rc(weft_portal_call(ps[i], which_runtime, &ids[i]), 0);
        assert_non_null(ids[i]);
        for (int k = 0; k < i; k++)
            assert_true(ids[k] != ids[i]); /* distinct runtimes */
    }
    /* A long task in one does not hold up the others. */
    job_t gated;
    memset(&gated, 0, sizeof gated);
    gated.ret = -1;
    weft_future_t *fg;
    assert_rc(weft_portal_spawn(ps[0], gated_job, &gated, &fg), 0);
    assert_true(wt_spin_until(&gated.started, 1, 5.0));
    for (int i = 1; i < NP; i++) {
        call_t c;
        memset(&c, 0, sizeof c);
        c.ret = -i;
        assert_rc(weft_portal_call(ps[i], call_fn, &c), -i);
    }
    assert_int_equal(weft_future_done(fg), 0);
    atomic_store(&gated.go, 1);
    assert_rc(weft_future_wait(fg), -1);
    weft_future_free(fg);
    for (int i = NP - 1; i >= 0; i--)
        wt_portal_stop_free(ps[i], i % 2);
}

/* ------------------------------------------------------------ misuse */

typedef struct {
    weft_portal_t *p;
    weft_future_t *f;
    int call_rc, wait_rc, start_rc;
    job_t j;
} inner_t;

/* [thread] calls from a task would wait for themselves. */
static int thread_calls_in_task(void *arg)
{
    inner_t *in = arg;
    weft_portal_t *q = NULL;
    call_t c;
    memset(&c, 0, sizeof c);
    in->call_rc = weft_portal_call(in->p, call_fn, &c);
    in->wait_rc = in->f ? weft_future_wait(in->f) : 0;
    in->start_rc = weft_portal_start(&q, NULL);
    EXPECT(atomic_load(&c.runs) == 0);
    return 0;
}

static void misuse(void)
{
    weft_future_t *f = (weft_future_t *)1;
    assert_rc(weft_portal_start(NULL, NULL), WEFT_EINVAL);
    assert_rc(weft_portal_call(NULL, quick_job, NULL), WEFT_EINVAL);
    assert_rc(weft_portal_spawn(NULL, quick_job, NULL, &f), WEFT_EINVAL);
    assert_rc(weft_future_wait(NULL), WEFT_EINVAL);
    assert_rc(weft_portal_stop(NULL, 0), WEFT_EINVAL);
    assert_rc(weft_portal_stop(NULL, 1), WEFT_EINVAL);
    weft_future_free(NULL);

    weft_portal_t *p = wt_portal_start(1);
    assert_rc(weft_portal_call(p, NULL, NULL), WEFT_EINVAL);
    assert_rc(weft_portal_spawn(p, NULL, NULL, &f), WEFT_EINVAL);
    job_t j;
    memset(&j, 0, sizeof j);
    assert_rc(weft_portal_spawn(p, quick_job, &j, NULL), WEFT_EINVAL);

    /* From a portal task. */
    inner_t in;
    memset(&in, 0, sizeof in);
    in.p = p;
    job_t gated;
    memset(&gated, 0, sizeof gated);
    assert_rc(weft_portal_spawn(p, gated_job, &gated, &in.f), 0);
    assert_rc(weft_portal_call(p, thread_calls_in_task, &in), 0);
    assert_rc(in.call_rc, WEFT_EPERM);
    assert_rc(in.wait_rc, WEFT_EPERM);
    assert_rc(in.start_rc, WEFT_EPERM);
    atomic_store(&gated.go, 1);
    assert_rc(weft_future_wait(in.f), 0);
    weft_future_free(in.f);

    /* From a task of another runtime. */
    memset(&in, 0, sizeof in);
    in.p = p;
    WT_RUN_OK(thread_calls_in_task, &in, 1);
    assert_rc(in.call_rc, WEFT_EPERM);
    assert_rc(in.start_rc, WEFT_EPERM);
    wt_portal_stop_free(p, 0);
}

/* weft_portal_spawn never waits: "Any thread", tasks included (of the
 * portal itself or of another runtime). */
typedef struct {
    weft_portal_t *p;
    int spawn_rc;
    weft_future_t *spawned;
    job_t j;
} spawner_t;

static int spawn_quick_job(void *arg)
{
    spawner_t *sp = arg;
    sp->j.ret = -41;
    sp->spawn_rc = weft_portal_spawn(sp->p, quick_job, &sp->j, &sp->spawned);
    return 0;
}

static void spawn_from_task(void)
{
    weft_portal_t *p = wt_portal_start(1);
    spawner_t sp;
    memset(&sp, 0, sizeof sp);
    sp.p = p;
    assert_rc(weft_portal_call(p, spawn_quick_job, &sp), 0);
    int rc1 = sp.spawn_rc;
    if (rc1 == 0) {
        assert_rc(weft_future_wait(sp.spawned), -41);
        weft_future_free(sp.spawned);
    }
    memset(&sp, 0, sizeof sp);
    sp.p = p;
    WT_RUN_OK(spawn_quick_job, &sp, 1);
    int rc2 = sp.spawn_rc;
    if (rc2 == 0) {
        assert_rc(weft_future_wait(sp.spawned), -41);
        weft_future_free(sp.spawned);
    }
    wt_portal_stop_free(p, 0);
    assert_rc(rc1, 0); /* from a task of the portal */
    assert_rc(rc2, 0); /* from a task of another runtime */
}

/* ------------------------------------------------------------ many threads */

#define NT 8
#define NROUNDS 200

typedef struct {
    weft_portal_t *p;
    atomic_long sum;
    atomic_int bad;
} many_t;

typedef struct {
    many_t *m;
    int id;
} many_arg_t;

typedef struct {
    int in, out;
} sq_t;

static int square(void *p)
{
    sq_t *s = p;
    if (weft_checkpoint() != 0)
        return WEFT_EINVAL;
    s->out = s->in * s->in;
    return -(s->in % 7);
}

static void *many_thread(void *p)
{
    many_arg_t *a = p;
    many_t *m = a->m;
    for (int i = 0; i < NROUNDS; i++) {
        sq_t s1 = {.in = a->id * 1000 + i}, s2 = {.in = a->id * 1000 + i + 1};
        weft_future_t *f;
        int rc = weft_portal_spawn(m->p, square, &s2, &f);
        if (rc != 0) {
            atomic_fetch_add(&m->bad, 1);
            continue;
        }
        int rc1 = weft_portal_call(m->p, square, &s1);
        int rc2 = weft_future_wait(f);
        weft_future_free(f);
        if (rc1 != -(s1.in % 7) || rc2 != -(s2.in % 7) || s1.out != s1.in * s1.in ||
            s2.out != s2.in * s2.in)
            atomic_fetch_add(&m->bad, 1);
        atomic_fetch_add(&m->sum, (long)s1.out + s2.out);
    }
    return NULL;
}

static void many_threads(void)
{
    many_t m;
    memset(&m, 0, sizeof m);
    m.p = wt_portal_start(2);
    pthread_t th[NT];
    many_arg_t args[NT];
    long want = 0;
    for (int t = 0; t < NT; t++) {
        args[t] = (many_arg_t){&m, t};
        for (int i = 0; i < NROUNDS; i++) {
            long x = t * 1000 + i;
            want += x * x + (x + 1) * (x + 1);
        }
        assert_int_equal(pthread_create(&th[t], NULL, many_thread, &args[t]), 0);
    }
    for (int t = 0; t < NT; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(atomic_load(&m.bad), 0);
    assert_int_equal(atomic_load(&m.sum), want);
    wt_portal_stop_free(m.p, 0);
}

/* weft_portal_token: a token for the portal's runtime, with no call made
 * to get it; the _token calls run there, and answer WEFT_EBADF once the
 * portal stopped. */
typedef struct {
    weft_portal_t *p;
    atomic_int in_portal;
} token_probe_t;

static int probe_in_portal(void *arg)
{
    token_probe_t *t = arg;
    weft_token_t *mine = weft_current_token(); /* the runtime this task runs in */
    weft_token_t *theirs = weft_portal_token(t->p);
    atomic_store(&t->in_portal, mine == theirs);
    weft_token_release(mine);
    weft_token_release(theirs);
    return weft_sleep(0.001); /* a task: it may wait */
}

static void portal_token(void)
{
    assert_null(weft_portal_token(NULL));
    token_probe_t t = {0};
    t.p = wt_portal_start(1);
    weft_token_t *tok = weft_portal_token(t.p);
    assert_non_null(tok);
    assert_rc(weft_from_thread_run_token(tok, probe_in_portal, &t), 0);
    assert_int_equal(atomic_load(&t.in_portal), 1);
    assert_rc(weft_portal_stop(t.p, 0), 0); /* a held token does not keep it running */
    assert_rc(weft_from_thread_run_token(tok, probe_in_portal, &t), WEFT_EBADF);
    weft_token_release(tok);
    weft_portal_free(t.p);
}

static const wt_case_t cases[] = {
    WT_TEST(call_returns_result),
    WT_TEST(spawn_and_wait),
    WT_TEST(failure_goes_to_future),
    WT_TEST(future_cancel),
    WT_TEST(future_cancel_from_other_thread),
    WT_TEST(free_before_finish),
    WT_TEST(stop_cancels_remaining),
    WT_TEST(stop_waits_for_tasks),
    WT_TEST(stop_then_use),
    WT_TEST(future_outlives_portal),
    WT_TEST(free_during_stop),
    WT_TEST(stop_while_in_use),
    WT_TEST(several_portals),
    WT_TEST(misuse),
    WT_TEST(portal_token),
    WT_TEST(spawn_from_task),
    WT_TEST(many_threads),
};
WT_SUITE(cases)
