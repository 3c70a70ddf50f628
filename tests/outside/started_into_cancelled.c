/*
 * A service started with weft_group_start into a group that is shut down
 * (cancelled) while the service is still starting: the service's own worker
 * tasks are asleep when it reports itself started, and must hear of the
 * shutdown at once (Trio's test_nursery_start_with_cancelled_nursery).
 *
 * Written as a user would: public header only, return codes of the calls
 * that "cannot fail" ignored, the worker's sleep far longer than the test.
 */
#include <stdio.h>
#include <weft.h>

static double worker_slept = -1;
static int worker_rc = 1;

static int worker(void *arg) {
    (void)arg;
    double t0 = weft_now();
    worker_rc = weft_sleep(30);            /* "until shutdown" */
    worker_slept = weft_now() - t0;
    return worker_rc;
}

static weft_group_t *services;

static int service(void *arg) {
    (void)arg;
    weft_group_t workers;
    weft_group_open(&workers);
    weft_group_spawn(&workers, worker, NULL);
    weft_sleep(0.05);                      /* warming up */
    weft_group_cancel(services);           /* shutdown arrives meanwhile */
    weft_started(NULL);
    return weft_group_close(&workers, 0);
}

static int main_task(void *arg) {
    (void)arg;
    weft_group_t g;
    weft_group_open(&g);
    services = &g;
    weft_scope_t sh;                       /* the starter itself is not cancelled */
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD);
    int rc = weft_group_start(&g, service, NULL, NULL);
    weft_scope_exit(&sh, 0);
    return weft_group_close(&g, rc);
}

int main(void) {
    weft_config_t c = {.workers = 2};
    double t0 = weft_now();
    int rc = weft_run(main_task, NULL, &c);
    double took = weft_now() - t0;
    printf("started_into_cancelled: run %s in %.3f s, worker %s after %.3f s\n",
           weft_err_name(rc), took, weft_err_name(worker_rc), worker_slept);
    if (rc != 0 || worker_rc != WEFT_ECANCELED || took > 5) {
        fprintf(stderr, "started_into_cancelled: the worker did not hear of the shutdown\n");
        return 1;
    }
    return 0;
}
