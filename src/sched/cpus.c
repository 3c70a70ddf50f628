#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "sched/cpus.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SELF_CGROUP "/proc/self/cgroup"
#define SELF_MOUNTINFO "/proc/self/mountinfo"
/* A line of mountinfo holds two paths and a few short fields (its super
 * options can be long, but not on a cgroup2 mount); a longer line is
 * skipped. */
#define LINE_SIZE (3 * PATH_MAX)

static const char *self_cgroup = SELF_CGROUP, *self_mountinfo = SELF_MOUNTINFO;

void wf_cpus_set_proc_files(const char *cgroup, const char *mountinfo) {
    self_cgroup = cgroup ? cgroup : SELF_CGROUP;
    self_mountinfo = mountinfo ? mountinfo : SELF_MOUNTINFO;
}

/* ---------------------------------------------------------------- cgroup v2 */

/* fn(arg, line) for each line of the file at `path` (without its newline),
 * until fn returns nonzero: that value, or 0. */
static int each_line(const char *path, int (*fn)(void *arg, char *line), void *arg) {
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    char line[LINE_SIZE];
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') {
            line[n - 1] = '\0';
            rc = fn(arg, line);
        } else if (!feof(f)) { /* too long: skip the rest of it */
            int c;
            while ((c = getc(f)) != EOF && c != '\n') {}
        } else {
            rc = fn(arg, line);
        }
    }
    fclose(f);
    return rc;
}

/* /proc/self/cgroup's v2 line is "0::<path>". */
static int find_v2_path(void *out, char *line) {
    if (strncmp(line, "0::", 3) != 0) return 0;
    size_t n = strlen(line + 3);
    if (n >= PATH_MAX) return -1; /* no usable path: no quota found */
    memcpy(out, line + 3, n + 1);
    return 1;
}

/* mountinfo writes a space, tab, newline or backslash in a path as \ooo. */
static void unescape(char *s) {
    char *out = s;
    for (; *s; out++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
            s[3] <= '7') {
            *out = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *out = *s++;
        }
    }
    *out = '\0';
}

/* `path` below the mount's root `root`: the rest of it ("" or "/..."), or
 * NULL when the cgroup is outside what this mount shows. */
static const char *below(const char *path, const char *root) {
    if (strcmp(root, "/") == 0) return path;
    size_t n = strlen(root);
    return strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0') ? path + n : NULL;
}

typedef struct cgroup_dir {
    const char *cgroup;   /* the process's cgroup, from the hierarchy's root */
    char dir[PATH_MAX];   /* out: its directory */
    size_t mount_len;     /* out: dir's first mount_len bytes are the mount point */
} cgroup_dir_t;

/* A mountinfo line: "<id> <parent> <major:minor> <root> <mount point>
 * <options> [optional fields] - <type> <source> <super options>". */
static int find_mount(void *arg, char *line) {
    cgroup_dir_t *d = arg;
    char *sep = strstr(line, " - ");
    if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0) return 0;
    *sep = '\0';
    char *save = NULL, *field[5];
    for (int i = 0; i < 5; i++)
        if (!(field[i] = strtok_r(i ? NULL : line, " ", &save))) return 0;
    char *root = field[3], *mount = field[4];
    unescape(root);
    unescape(mount);
    const char *rest = below(d->cgroup, root);
    if (!rest) return 0;
    if (strcmp(rest, "/") == 0) rest = "";
    d->mount_len = strlen(mount);
    int n = snprintf(d->dir, sizeof d->dir, "%s%s", mount, rest);
    return n > 0 && (size_t)n < sizeof d->dir;
}

/* "<quota> <period>" in whole CPUs, rounded up; 0 for "max <period>" (no
 * quota) and for anything malformed. */
static unsigned parse_cpu_max(const char *text) {
    char *end, *end2;
    long long quota = strtoll(text, &end, 10);
    if (end == text || *end != ' ') return 0;
    long long period = strtoll(end + 1, &end2, 10);
    if (end2 == end + 1 || (*end2 != '\n' && *end2 != '\0') || quota <= 0 || period <= 0) return 0;
    long long cpus = quota / period + (quota % period != 0);
    return cpus > UINT_MAX ? UINT_MAX : (unsigned)cpus;
}

/* cpu.max of one cgroup directory; 0 where there is none. */
static unsigned read_cpu_max(const char *dir) {
    char path[PATH_MAX + sizeof "/cpu.max"], text[64];
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return parse_cpu_max(text);
}

/* A parent's quota bounds its children, so the tightest on the way up
 * counts (Go 1.25 reads the process's own cgroup only). */
static unsigned tightest_quota(cgroup_dir_t *d) {
    unsigned best = 0;
    for (;;) {
        unsigned q = read_cpu_max(d->dir);
        if (q && (!best || q < best)) best = q;
        char *slash = strrchr(d->dir + d->mount_len, '/');
        if (!slash) return best;
        *slash = '\0';
    }
}

unsigned wf_cpus_cgroup_limit(void) {
#ifdef __linux__
    char cgroup[PATH_MAX];
    if (each_line(self_cgroup, find_v2_path, cgroup) != 1) return 0;
    cgroup_dir_t d = {.cgroup = cgroup};
    if (!each_line(self_mountinfo, find_mount, &d)) return 0;
    return tightest_quota(&d);
#else
    return 0;
#endif
}

/* ---------------------------------------------------------------- the count */

/* The CPUs of the calling thread's affinity mask; 0 where it cannot say (a
 * system with more CPUs than a cpu_set_t holds, 1024). */
static unsigned affinity_cpus(void) {
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return (unsigned)CPU_COUNT(&set);
#endif
    return 0;
}

unsigned wf_cpus_usable(void) {
    unsigned n = affinity_cpus();
    if (n == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (unsigned)online : 1;
    }
    unsigned quota = wf_cpus_cgroup_limit();
    return quota && quota < n ? quota : n;
}
