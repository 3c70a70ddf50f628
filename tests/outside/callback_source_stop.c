/*
 * A legacy library's callback thread keeps reporting readings through a
 * blocking portal while the program shuts down: the portal is stopped under
 * the running callback thread.  Its calls must then fail with WEFT_EBADF
 * (never touch freed memory, never hang), and the program frees the portal
 * only after the callback thread is gone.  Run it under ASan or TSan to see
 * the difference.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <weft.h>

static weft_portal_t *portal;
static atomic_long delivered, refused, other;

static int deliver(void *arg) {
    (void)arg;
    atomic_fetch_add(&delivered, 1);
    return 0;
}

static void *sensor(void *arg) {
    (void)arg;
    for (;;) {                     /* the library's loop: report until told to stop */
        int rc = weft_portal_call(portal, deliver, NULL);
        if (rc == WEFT_EBADF) {
            atomic_fetch_add(&refused, 1);
            return NULL;
        }
        if (rc != 0) atomic_fetch_add(&other, 1);
    }
}

int main(void) {
    for (int round = 0; round < 20; round++) {
        if (weft_portal_start(&portal, NULL) != 0) return 1;
        pthread_t t[4];
        for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, sensor, NULL);
        while (atomic_load(&delivered) < 100L * (round + 1)) sched_yield();
        weft_portal_stop(portal, 1);   /* the sensors are still calling */
        for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
        weft_portal_free(portal);      /* nobody uses it any more */
    }
    printf("callback_source_stop: %ld delivered, %ld refused after stop, %ld other\n",
           atomic_load(&delivered), atomic_load(&refused), atomic_load(&other));
    return atomic_load(&refused) == 80 && atomic_load(&other) == 0 ? 0 : 1;
}
