/*
 * Many short tasks spawned in rounds by one task on two workers, most of
 * them stolen and finished by the other worker.  Built against a
 * ThreadSanitizer build of weft, this is the shape that found a race in the
 * task-record pool; against any build, every task must run exactly once.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <weft.h>

static atomic_int ran;
static atomic_uint sink;  /* keeps the work from being optimised away */

static int child(void *arg) {
    (void)arg;
    unsigned x = 0;
    for (unsigned i = 0; i < 2000; i++) x += i;     /* a little work */
    atomic_store_explicit(&sink, x, memory_order_relaxed);
    atomic_fetch_add_explicit(&ran, 1, memory_order_relaxed);
    return weft_checkpoint();
}

static int main_task(void *arg) {
    (void)arg;
    for (int round = 0; round < 20; round++) {
        weft_group_t g;
        weft_group_open(&g);
        for (int i = 0; i < 2000; i++) {
            int rc = weft_group_spawn(&g, child, NULL);
            if (rc) return weft_group_close(&g, rc);
            if (i % 64 == 0) weft_checkpoint();
        }
        int rc = weft_group_close(&g, 0);
        if (rc) return rc;
    }
    return 0;
}

int main(void) {
    weft_config_t c = {.workers = 2};
    int rc = weft_run(main_task, NULL, &c);
    printf("spawn_churn: run %s, %d of 40000 tasks ran\n", weft_err_name(rc), atomic_load(&ran));
    return rc == 0 && atomic_load(&ran) == 40000 ? 0 : 1;
}
