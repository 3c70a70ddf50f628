/*
 * showcase — what `make demo` runs: structured concurrency in plain words.
 *
 *   1. a task group runs several "downloads" at once and waits for all of them;
 *   2. a deadline (weft_fail_after) stops a slow operation;
 *   3. one failing task cancels its siblings, and the group reports the failure;
 *   4. a shielded cleanup still runs inside a cancelled scope;
 *   5. a blocking call runs on a pooled thread, which calls back into the
 *      runtime to report progress; a cancelled caller abandons a stuck one.
 */
#include <stdio.h>
#include <unistd.h>
#include <weft.h>

struct download {
    const char *name;
    double seconds;
};

static int download(void *arg) {
    struct download *d = arg;
    int rc = weft_sleep(d->seconds);
    if (rc == 0) printf("  %-10s done after %.2f s\n", d->name, d->seconds);
    else printf("  %-10s stopped: %s\n", d->name, weft_strerror(rc));
    return rc;
}

static int broken_mirror(void *arg) {
    (void)arg;
    weft_sleep(0.05);
    printf("  broken_mirror fails with EIO\n");
    return -EIO;
}

static int run_downloads(void) {
    struct download files[] = {{"alpha.txt", 0.10}, {"beta.txt", 0.20}, {"gamma.txt", 0.15}};
    weft_group_t g;
    weft_group_open(&g);
    double t0 = weft_now();
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) weft_group_spawn(&g, download, &files[i]);
    int rc = weft_group_close(&g, 0);
    printf("  all three finished together in %.2f s (not 0.45 s): rc=%s\n", weft_now() - t0,
           weft_err_name(rc));
    return rc;
}

static int run_deadline(void) {
    weft_scope_t s;
    weft_fail_after(&s, 0.1);
    int rc = weft_sleep(5);
    rc = weft_scope_exit(&s, rc);
    printf("  a 5 s operation under a 0.1 s deadline ends with %s\n", weft_err_name(rc));
    return rc == WEFT_ETIMEDOUT ? 0 : -1;
}

static int run_failure(void) {
    struct download slow = {"slow.iso", 10.0};
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, download, &slow);
    weft_group_spawn(&g, broken_mirror, NULL);
    int rc = weft_group_close(&g, 0);
    const char *who;
    int err;
    weft_group_failure(&g, 0, &err, &who);
    printf("  the group reports %s from task '%s'; its sibling was cancelled\n", weft_err_name(err), who);
    return rc == -EIO ? 0 : -1;
}

static int run_shielded_cleanup(void) {
    weft_scope_t outer, shield;
    weft_scope_enter(&outer, WEFT_FOREVER, 0);
    weft_scope_cancel(&outer);
    printf("  in a cancelled scope a checkpoint says: %s\n", weft_err_name(weft_checkpoint()));
    weft_scope_enter(&shield, WEFT_FOREVER, WEFT_SHIELD);
    int rc = weft_sleep(0.05);
    printf("  a shielded cleanup can still sleep: %s\n", weft_err_name(rc));
    weft_scope_exit(&shield, rc);
    rc = weft_scope_exit(&outer, weft_checkpoint());
    printf("  the outer scope caught its own cancellation: rc=%s\n", weft_err_name(rc));
    return rc;
}

/* ---- 5: blocking code on a pooled thread */

struct job {
    weft_event_t *halfway; /* set from the blocking thread, through the runtime */
    int checksum;
};

static int set_halfway(void *arg) {
    weft_event_set(((struct job *)arg)->halfway); /* runs on a worker, between tasks */
    return 0;
}

static int blocking_checksum(void *arg) { /* a legacy function that blocks */
    struct job *j = arg;
    for (int i = 1; i <= 20; i++) {
        usleep(2000);
        j->checksum += i;
        if (i == 10) weft_from_thread_run_sync(set_halfway, j);
    }
    return 0;
}

static int report_halfway(void *arg) {
    int rc = weft_event_wait(((struct job *)arg)->halfway);
    if (rc == 0) printf("  the blocking thread reported halfway (a thread-to-loop callback)\n");
    return rc;
}

static int stuck(void *arg) { /* never looks at cancellation */
    (void)arg;
    usleep(300000);
    return 0;
}

static void stuck_abandoned(void *arg, int rc) {
    (void)arg, (void)rc; /* where a real program frees arg */
}

static int run_offload(void) {
    struct job j = {0};
    int rc = weft_event_new(&j.halfway);
    if (rc) return rc;
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, report_halfway, &j);
    rc = weft_to_thread_run_sync(blocking_checksum, &j, NULL);
    rc = weft_group_close(&g, rc);
    weft_event_free(j.halfway);
    printf("  the checksum computed on a pooled thread: %d (%s)\n", j.checksum, weft_err_name(rc));
    weft_scope_t deadline;
    weft_move_on_after(&deadline, 0.05);
    weft_thread_opts_t abandon = {.abandon_on_cancel = 1, .on_abandoned = stuck_abandoned};
    double t0 = weft_now();
    int stuck_rc = weft_scope_exit(&deadline, weft_to_thread_run_sync(stuck, NULL, &abandon));
    printf("  a stuck call under a 50 ms deadline is abandoned after %.0f ms: rc=%s\n",
           (weft_now() - t0) * 1e3, weft_err_name(stuck_rc));
    return rc || j.checksum != 210 || stuck_rc ? -1 : 0;
}

static int showcase(void *arg) {
    (void)arg;
    int rc = 0;
    printf("1. three downloads in one task group\n");
    rc |= run_downloads();
    printf("2. a deadline\n");
    rc |= run_deadline();
    printf("3. a failing task cancels its group\n");
    rc |= run_failure();
    printf("4. shielded cleanup\n");
    rc |= run_shielded_cleanup();
    printf("5. blocking code on a pooled thread\n");
    rc |= run_offload();
    return rc;
}

int main(void) {
    weft_config_t config = {.workers = 2};
    int rc = weft_run(showcase, NULL, &config);
    printf(rc == 0 ? "showcase finished: everything behaved as described\n"
                   : "showcase failed: %s\n",
           weft_strerror(rc));
    return rc == 0 ? 0 : 1;
}
