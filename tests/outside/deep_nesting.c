/*
 * A recursive divide-and-conquer where every level opens a task group and
 * spawns the next: 100,000 levels deep, then cancelled from the top (a user
 * pressing ^C on a deep search).  Every level must see WEFT_ECANCELED, and
 * neither building the chain nor cancelling it may depend on the depth of
 * the stack of the task that cancels (the root has the default stack).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <weft.h>

#define DEPTH 100000u

static atomic_uint levels, cancelled;
static weft_event_t *bottom;

static int level(void *arg) {
    (void)arg;
    weft_group_t g;
    weft_group_open(&g);
    int rc;
    if (atomic_fetch_add(&levels, 1) + 1 < DEPTH) {
        rc = weft_group_spawn(&g, level, NULL);
    } else {
        weft_event_set(bottom);
        rc = weft_sleep(WEFT_FOREVER);
    }
    rc = weft_group_close(&g, rc);
    if (rc == WEFT_ECANCELED) atomic_fetch_add(&cancelled, 1);
    return rc;
}

static int main_task(void *arg) {
    (void)arg;
    weft_event_new(&bottom);
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, level, NULL);
    weft_event_wait(bottom);
    weft_group_cancel(&g);
    int rc = weft_group_close(&g, 0);
    weft_event_free(bottom);
    return rc;
}

int main(void) {
    double t0 = weft_now();
    int rc = weft_run(main_task, NULL, NULL);
    printf("deep_nesting: %u levels built, %u cancelled, run %s in %.2f s\n", atomic_load(&levels),
           atomic_load(&cancelled), weft_err_name(rc), weft_now() - t0);
    return rc == 0 && atomic_load(&levels) == DEPTH && atomic_load(&cancelled) == DEPTH ? 0 : 1;
}
