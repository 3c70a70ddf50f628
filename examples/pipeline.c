/*
 * pipeline — producers and consumers over channels, every task with its own
 * handle (a clone).
 *
 *   part 1:  3 producers --numbers--> 4 squarers --squares--> 1 summer
 *
 * Each task closes its own handles when it is done.  A channel's receivers see
 * WEFT_EOF once the last sender clone is closed, so the end of the input flows
 * through every stage with no "stop" message and no counting.
 *
 *   part 2:  3 endless producers --> 1 consumer that takes 10 items and leaves
 *
 * The consumer closes its receiver; once no receiver is left, weft_send
 * returns WEFT_EPIPE and the producers stop (AnyIO's BrokenResourceError).
 *
 * Items are integers carried in the void * itself: a channel never
 * dereferences or frees what it carries.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

#define PRODUCERS 3
#define SQUARERS 4
#define PER_PRODUCER 1000
#define BUFFER 16

#define ITEM(n) ((void *)(uintptr_t)(n))
#define VALUE(item) ((uint64_t)(uintptr_t)(item))

struct stage {
    weft_receiver_t *in;   /* NULL for a producer */
    weft_sender_t *out;    /* NULL for the last stage */
    uint64_t first, count; /* producers: the numbers first .. first+count-1; 0 = endless */
    uint64_t done;         /* items handled */
    int saw_epipe;
};

static int produce(void *arg) {
    struct stage *st = arg;
    int rc = 0;
    for (uint64_t n = st->first; st->count == 0 || n < st->first + st->count; n++) {
        rc = weft_send(st->out, ITEM(n));
        if (rc != 0) break;
        st->done++;
    }
    weft_sender_close(st->out);
    if (rc == WEFT_EPIPE) { /* nobody listens any more: a normal end here */
        st->saw_epipe = 1;
        rc = 0;
    }
    return rc;
}

static int square(void *arg) {
    struct stage *st = arg;
    void *item;
    int rc;
    while ((rc = weft_recv(st->in, &item)) == 0) {
        uint64_t v = VALUE(item);
        rc = weft_send(st->out, ITEM(v * v));
        if (rc != 0) break;
        st->done++;
    }
    weft_receiver_close(st->in);
    weft_sender_close(st->out);
    return rc == WEFT_EOF ? 0 : rc;
}

struct summer {
    weft_receiver_t *in;
    uint64_t items, sum, limit; /* limit: stop after that many items; 0 = until EOF */
};

static int sum_up(void *arg) {
    struct summer *s = arg;
    void *item;
    int rc;
    while ((s->limit == 0 || s->items < s->limit) && (rc = weft_recv(s->in, &item)) == 0) {
        s->sum += VALUE(item);
        s->items++;
    }
    weft_receiver_close(s->in); /* for part 2: the producers now get WEFT_EPIPE */
    return s->limit != 0 || rc == WEFT_EOF ? 0 : rc;
}

/* One handle per task: clone the original (tx or rx, the other is NULL) for
 * every task, then close it, so that only the tasks hold the channel open. */
static int hand_out(weft_sender_t *tx, weft_receiver_t *rx, struct stage *st, size_t n) {
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = tx ? weft_sender_clone(tx, &st[i].out) : weft_receiver_clone(rx, &st[i].in);
    weft_sender_close(tx); /* NULL does nothing */
    weft_receiver_close(rx);
    return rc; /* only WEFT_ENOMEM; a real program would close the clones made */
}

static int part_one(void) {
    weft_sender_t *numbers_tx, *squares_tx;
    weft_receiver_t *numbers_rx;
    struct stage producers[PRODUCERS] = {{0}}, squarers[SQUARERS] = {{0}};
    struct summer summer = {0};
    int rc = weft_channel(BUFFER, &numbers_tx, &numbers_rx);
    if (rc == 0) rc = weft_channel(BUFFER, &squares_tx, &summer.in);
    if (rc != 0) return rc;
    for (size_t i = 0; i < PRODUCERS; i++) {
        producers[i].first = 1 + i * PER_PRODUCER;
        producers[i].count = PER_PRODUCER;
    }
    if ((rc = hand_out(numbers_tx, NULL, producers, PRODUCERS)) != 0 ||
        (rc = hand_out(NULL, numbers_rx, squarers, SQUARERS)) != 0 ||
        (rc = hand_out(squares_tx, NULL, squarers, SQUARERS)) != 0)
        return rc;

    weft_group_t g;
    weft_group_open(&g);
    for (size_t i = 0; i < PRODUCERS; i++) weft_group_spawn(&g, produce, &producers[i]);
    for (size_t i = 0; i < SQUARERS; i++) weft_group_spawn(&g, square, &squarers[i]);
    weft_group_spawn(&g, sum_up, &summer);
    rc = weft_group_close(&g, 0);

    uint64_t n = (uint64_t)PRODUCERS * PER_PRODUCER;
    uint64_t expected = n * (n + 1) * (2 * n + 1) / 6;
    printf("part 1: %d producers -> %d squarers -> 1 summer, buffers of %d\n", PRODUCERS, SQUARERS,
           BUFFER);
    printf("  work done by each squarer:");
    for (size_t i = 0; i < SQUARERS; i++) printf(" %" PRIu64, squarers[i].done);
    printf("\n  summed %" PRIu64 " squares: %" PRIu64 " (expected %" PRIu64 "), group: %s\n",
           summer.items, summer.sum, expected, weft_err_name(rc));
    return rc == 0 && summer.items == n && summer.sum == expected ? 0 : -1;
}

static int part_two(void) {
    weft_sender_t *tx;
    struct stage producers[PRODUCERS] = {{0}};
    struct summer taker = {.limit = 10};
    int rc = weft_channel(BUFFER, &tx, &taker.in);
    if (rc == 0) rc = hand_out(tx, NULL, producers, PRODUCERS);
    if (rc != 0) return rc;
    for (size_t i = 0; i < PRODUCERS; i++) producers[i].first = 1 + i * 1000000; /* count 0: endless */

    weft_group_t g;
    weft_group_open(&g);
    for (size_t i = 0; i < PRODUCERS; i++) weft_group_spawn(&g, produce, &producers[i]);
    weft_group_spawn(&g, sum_up, &taker);
    rc = weft_group_close(&g, 0);

    int stopped = 0;
    for (size_t i = 0; i < PRODUCERS; i++) stopped += producers[i].saw_epipe;
    printf("part 2: a consumer took %" PRIu64 " items and closed its receiver\n", taker.items);
    printf("  %d of %d endless producers stopped on WEFT_EPIPE, group: %s\n", stopped, PRODUCERS,
           weft_err_name(rc));
    return rc == 0 && taker.items == 10 && stopped == PRODUCERS ? 0 : -1;
}

static int pipeline(void *arg) {
    (void)arg;
    int rc = part_one();
    if (rc == 0) rc = part_two();
    return rc;
}

int main(void) {
    weft_config_t config = {.workers = 2};
    int rc = weft_run(pipeline, NULL, &config);
    printf(rc == 0 ? "pipeline: every item arrived, every task ended\n" : "pipeline failed: %s\n",
           weft_strerror(rc));
    return rc == 0 ? 0 : 1;
}
