/*
 * Names of the threads weft starts, as `top -H`, `ps -L`, gdb's `info
 * threads` and perf show them: weft-worker-N, weft-blocking-N, weft-monitor,
 * weft-pool-mon, weft-portal, weft-test (docs/debugging.md).  Each thread
 * names itself when it starts; a blocking thread also takes a call's
 * thread_name for the length of the call.
 */
#ifndef WEFT_SCHED_THREAD_NAME_H
#define WEFT_SCHED_THREAD_NAME_H

/* The system's limit with the terminating NUL: Linux keeps 15 bytes of a
 * thread's name (its `comm`). */
#define WF_THREAD_NAME_SIZE 16

/* Copy `name` into out, cut to the system's limit. */
void wf_thread_name_copy(char out[WF_THREAD_NAME_SIZE], const char *name);
/* Name the calling thread `name` (cut to the limit); failures are ignored:
 * a name is a debugging aid. */
void wf_thread_name_set(const char *name);
/* Name the calling thread "<prefix>-<n>".  Where that does not fit, the
 * prefix is cut, never the number, so that threads keep distinct names
 * (weft-blocking-12 shows as weft-blockin-12). */
void wf_thread_name_set_numbered(const char *prefix, unsigned n);
/* The calling thread's name into out ("" where the system has none). */
void wf_thread_name_get(char out[WF_THREAD_NAME_SIZE]);

#endif
