/*
 * Which worker's loop a new connection's stream goes on.
 *
 * A stream stays on the loop it was made on, and its task moves there for
 * every call, so where connections land decides how the workers share I/O.
 * Three rules, the first two in the spirit of Affinity-Accept (Pesterev et
 * al., 2012):
 *
 * - Balance: each worker counts the connections placed on it and not yet
 *   released (`io_load`); a connection goes to the least loaded worker.
 * - Locality: an accepted connection goes to the worker running on the CPU
 *   that receives its packets (SO_INCOMING_CPU; each worker notes its CPU
 *   when it polls), unless that worker is loaded well above the least
 *   loaded.  The kernel then processes the connection's packets on the CPU
 *   whose caches hold the socket, and on loopback both ends of a connection
 *   meet on one core.
 * - Togetherness: a task's connections after its first go where the first
 *   was placed (a handler's call to a backend stays with the handler).
 */
#ifndef WEFT_IO_PLACE_H
#define WEFT_IO_PLACE_H

#include "sched/runtime.h"

/* A worker for a connection a task is about to open: `home`, the worker of
 * that task's first connection (t->io_home), so that a task's connections
 * stay together and a proxy relaying between two streams never moves
 * between them; with no home, the least loaded (this one if none has less).
 * Counted on it until wf_io_unplace. */
wf_worker_t *wf_io_place_connect(wf_runtime_t *rt, wf_worker_t *home);

/* The current task t has a connection on w: its later connects go there
 * too (only its first counts).  Only t writes its io_home. */
static inline void wf_io_settle(wf_task_t *t, wf_worker_t *w) {
    if (!t->io_home) t->io_home = w;
}

/* A worker for the accepted connection on `fd`.  Counted on it until
 * wf_io_unplace. */
wf_worker_t *wf_io_place_accepted(wf_runtime_t *rt, int fd);

/* The connection placed on w has ended (or never started). */
void wf_io_unplace(wf_worker_t *w);

#endif
