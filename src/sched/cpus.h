/*
 * How many CPUs this process may use, the default worker count
 * (config.workers = 0): the CPUs of the calling thread's affinity mask (the
 * mask every thread it starts inherits), lowered to the cgroup v2 CPU
 * bandwidth quota where one is set, as Go 1.25 computes GOMAXPROCS.  A
 * container limited to 1.5 CPUs on a 64-CPU host then gets 2 workers, not
 * 64 that the kernel would throttle in turn.
 */
#ifndef WEFT_SCHED_CPUS_H
#define WEFT_SCHED_CPUS_H

/* The CPUs this process may use now; at least 1. */
unsigned wf_cpus_usable(void);

/* The cgroup v2 quota (cpu.max: "<quota> <period>" in microseconds, or
 * "max") in whole CPUs, quota/period rounded up and at least 1: the
 * tightest of the process's own cgroup and its parents up to the root of
 * the cgroup2 mount (a container's view ends there).  0 when no quota is
 * set, or where it cannot be read (no cgroup v2, a malformed file). */
unsigned wf_cpus_cgroup_limit(void);

/* For tests: read these files instead of /proc/self/cgroup and
 * /proc/self/mountinfo (NULL: the real ones again), so that a fake cgroup
 * tree under a temporary directory stands for the process's.  Call it
 * only while no runtime is starting. */
void wf_cpus_set_proc_files(const char *self_cgroup, const char *self_mountinfo);

#endif
