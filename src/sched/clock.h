/* The one clock of the runtime.  Everything that reads time goes through
 * wf_clock_now() so that a virtual clock for tests can replace it later. */
#ifndef WEFT_SCHED_CLOCK_H
#define WEFT_SCHED_CLOCK_H

double wf_clock_now(void);

#endif
