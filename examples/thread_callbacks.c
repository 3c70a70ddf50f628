/*
 * thread_callbacks — a legacy C library that calls back from its own thread,
 * bridged into weft two ways.
 *
 * The "library" below (sensor_*) is the kind found in device SDKs: it starts
 * a thread of its own and calls a C function pointer from it, once per
 * reading (a nonzero return asks it to stop), then once with -1 when it
 * stops.  Such a callback runs on a thread weft knows nothing about, so it
 * cannot call task functions (weft_send would return WEFT_EPERM); it has to
 * hand the work to a runtime.
 *
 *   1. a token: the program already runs in weft_run; a task takes
 *      weft_current_token() and the callback calls
 *      weft_from_thread_run_token(token, deliver, ...): deliver runs as a
 *      task of that runtime, and the library's thread waits for it — so a
 *      full channel slows the sensor down (back-pressure) instead of losing
 *      readings or growing a queue without bound.
 *   2. a portal: the program's main thread is not weft's (the library's
 *      event loop, a GUI, ...).  weft_portal_start runs a runtime on a
 *      background thread; the callback calls weft_portal_call, and main
 *      gets the consumer's result from a future.  This sensor streams until
 *      told to stop, so main stops the portal while the callback is still
 *      calling it: the hard case of shutting down a source that is still
 *      producing (see portal_bridge for the rule).
 *
 * Both bridges feed the same consumer task through a channel.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <weft.h>

#define READINGS 20
#define PERIOD_US 2000

/* ---------------------------------------------------------------- the legacy library */

/* reading -1: the sensor stopped (the return value is ignored then); any
 * other return than SENSOR_GO stops the sensor. */
typedef int (*sensor_cb)(void *user, int reading);
#define SENSOR_GO 0
#define SENSOR_STOP 1

typedef struct sensor {
    pthread_t thread;
    int count;
    sensor_cb cb;
    void *user;
} sensor_t;

static void *sensor_main(void *arg) {
    sensor_t *s = arg;
    for (int i = 1; s->count == 0 || i <= s->count; i++) {
        usleep(PERIOD_US);
        if (s->cb(s->user, 10 * i) != SENSOR_GO) break;
    }
    s->cb(s->user, -1);
    return NULL;
}

/* Start calling cb(user, reading) from a new thread, count times (0: until
 * cb asks it to stop). */
static int sensor_start(sensor_t *s, int count, sensor_cb cb, void *user) {
    *s = (sensor_t){.count = count, .cb = cb, .user = user};
    return -pthread_create(&s->thread, NULL, sensor_main, s);
}

/* Wait for the sensor's thread to end (blocks). */
static void sensor_join(sensor_t *s) { pthread_join(s->thread, NULL); }

/* ---------------------------------------------------------------- shared by both bridges */

struct bridge {
    weft_sender_t *tx;     /* callbacks -> consumer */
    weft_receiver_t *rx;
    weft_token_t *token;   /* bridge 1 */
    weft_portal_t *portal; /* bridge 2 */
    int wanted;            /* the consumer stops after this many readings (0: at the end) */
    int lost;              /* readings a callback could not deliver */
    int refused;           /* bridge 2: what made the callback stop the sensor */
    int received;
    long sum;
};

struct delivery {
    struct bridge *b;
    int reading;
};

/* A task: send one reading, waiting while the channel is full. */
static int deliver(void *arg) {
    struct delivery *d = arg;
    return weft_send(d->b->tx, (void *)(intptr_t)d->reading);
}

/* End of the stream: close the only sender, the consumer sees WEFT_EOF.
 * Not a checkpoint, so it may also run through weft_from_thread_run_sync. */
static int close_sender(void *arg) {
    struct bridge *b = arg;
    weft_sender_close(b->tx);
    return 0;
}

/* The consumer task: until the end of the stream, or until it has the
 * readings it wanted. */
static int consume(void *arg) {
    struct bridge *b = arg;
    void *item;
    int rc = 0;
    while ((b->wanted == 0 || b->received < b->wanted) && (rc = weft_recv(b->rx, &item)) == 0) {
        b->received++;
        b->sum += (int)(intptr_t)item;
    }
    weft_receiver_close(b->rx); /* later sends return WEFT_EPIPE */
    return rc == WEFT_EOF ? 0 : rc;
}

static int report(const char *how, const struct bridge *b, int rc) {
    long expected = 10L * READINGS * (READINGS + 1) / 2;
    printf("  %s: %d readings received, sum %ld (expected %ld), %d lost: %s\n", how, b->received,
           b->sum, expected, b->lost, weft_err_name(rc));
    return rc == 0 && b->received == READINGS && b->sum == expected && b->lost == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- bridge 1: a token */

static int on_reading_token(void *user, int reading) { /* on the sensor's thread */
    struct bridge *b = user;
    if (reading < 0) {
        weft_from_thread_run_sync_token(b->token, close_sender, b);
        return SENSOR_GO;
    }
    struct delivery d = {b, reading};
    if (weft_from_thread_run_token(b->token, deliver, &d) != 0) b->lost++;
    return SENSOR_GO;
}

static int join_sensor(void *arg) { /* pthread_join blocks: run it on a blocking thread */
    sensor_join(arg);
    return 0;
}

static int token_bridge(void *arg) {
    struct bridge *b = arg;
    sensor_t sensor;
    int rc = weft_channel(4, &b->tx, &b->rx);
    if (rc != 0) return rc;
    b->token = weft_current_token();
    if ((rc = sensor_start(&sensor, READINGS, on_reading_token, b)) != 0) {
        weft_sender_close(b->tx);
        weft_receiver_close(b->rx);
    } else {
        rc = consume(b); /* until the sensor's last callback closed the sender */
        /* Join before returning: once main returns the token's calls fail
         * with WEFT_EBADF. */
        weft_scope_t shield;
        weft_scope_enter(&shield, WEFT_FOREVER, WEFT_SHIELD);
        weft_to_thread_run_sync(join_sensor, &sensor, NULL);
        weft_scope_exit(&shield, 0);
    }
    weft_token_release(b->token);
    return rc;
}

/* ---------------------------------------------------------------- bridge 2: a portal
 *
 * Stopping a portal that a callback still calls.  weft_portal_stop may run
 * while the sensor's thread is inside weft_portal_call or about to call it:
 * from then on its calls return WEFT_EBADF (one already under way may still
 * run to completion), so the callback treats WEFT_EBADF as "the program is
 * shutting down" and stops the sensor.  The handle stays valid after stop
 * for exactly this reason; weft_portal_free releases it, and the program
 * calls it only after joining the sensor's thread, when nobody can call the
 * portal any more. */

static int on_reading_portal(void *user, int reading) { /* on the sensor's thread */
    struct bridge *b = user;
    if (reading < 0) return SENSOR_GO; /* it stopped: nothing to hand over */
    struct delivery d = {b, reading};
    int rc = weft_portal_call(b->portal, deliver, &d);
    if (rc == WEFT_EBADF) { /* the portal is stopped: stop producing */
        b->refused = rc;
        return SENSOR_STOP;
    }
    if (rc != 0 && rc != WEFT_EPIPE) b->lost++; /* WEFT_EPIPE: the consumer has all it wanted */
    return SENSOR_GO;
}

static int portal_bridge(struct bridge *b) {
    weft_config_t config = {.workers = 2};
    int rc = weft_portal_start(&b->portal, &config);
    if (rc != 0) return rc;
    weft_future_t *consumer = NULL;
    sensor_t sensor;
    int sensing = 0;
    b->wanted = READINGS;
    if ((rc = weft_channel(4, &b->tx, &b->rx)) == 0 &&
        (rc = weft_portal_spawn(b->portal, consume, b, &consumer)) == 0 &&
        (rc = sensor_start(&sensor, 0, on_reading_portal, b)) == 0) {
        sensing = 1;
        rc = weft_future_wait(consumer); /* it has its readings; the sensor streams on */
    } else if (consumer != NULL) {
        weft_future_cancel(consumer);
    } else {
        weft_receiver_close(b->rx); /* no consumer to close it */
    }
    weft_future_free(consumer);
    /* Stop while the sensor still calls in: nothing is left to cancel (the
     * consumer is done, sends to its closed channel fail at once). */
    int stop_rc = weft_portal_stop(b->portal, 0);
    if (sensing) sensor_join(&sensor); /* its callback got WEFT_EBADF and stopped it */
    weft_portal_free(b->portal);       /* nobody calls the portal any more */
    weft_sender_close(b->tx);
    return rc != 0 ? rc : stop_rc;
}

static int report_stop(const struct bridge *b) {
    printf("  portal stopped under the running sensor: its callback got %s and stopped it; "
           "portal freed after joining it\n",
           weft_err_name(b->refused));
    return b->refused == WEFT_EBADF ? 0 : -1;
}

int main(void) {
    struct bridge by_token = {0}, by_portal = {0};
    weft_config_t config = {.workers = 2};
    printf("a sensor library calls back %d times from its own thread\n", READINGS);
    int rc = report("token  (weft_from_thread_run_token)", &by_token,
                    weft_run(token_bridge, &by_token, &config));
    rc |= report("portal (weft_portal_call)", &by_portal, portal_bridge(&by_portal));
    rc |= report_stop(&by_portal);
    printf(rc == 0 ? "thread_callbacks: both bridges delivered every reading\n"
                   : "thread_callbacks: a bridge lost readings\n");
    return rc == 0 ? 0 : 1;
}
