/* The task tree of one runtime (weft_dump_tasks prints every runtime's). */
#ifndef WEFT_SCHED_DUMP_H
#define WEFT_SCHED_DUMP_H

#include <stdio.h>

#include "sched/runtime.h"

void wf_dump_runtime(wf_runtime_t *rt, FILE *out);
/* Only the deadlock cycles among its tasks ("task 'A' waits for lock L held
 * by task 'B', which waits ..."): 1 if there is any, their lines in *text
 * (free it; NULL when none). */
int wf_dump_cycles(wf_runtime_t *rt, char **text);

#endif
