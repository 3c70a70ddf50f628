/* The default worker count (config.workers = 0): the CPUs of the caller's
 * affinity mask, lowered to a cgroup v2 CPU quota (cpu.max, quota/period
 * rounded up, at least 1).  The cgroup files are faked under a temporary
 * directory (wf_cpus_set_proc_files), so that the real machine's cgroup
 * never decides a result. */
#define _GNU_SOURCE
#include "helpers.h"

#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sched/cpus.h"

/* ------------------------------------------------------------ a fake cgroup tree */

static char tmp_root[64], cgroup_file[128], mountinfo_file[128];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* <tmp>/<rel> as a path. */
static const char *at(const char *rel)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_root, rel);
    return path;
}

/* mkdir -p <tmp>/<rel>. */
static void make_dirs(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_root, rel);
    for (char *s = path + strlen(tmp_root) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(path, 0700);
            *s = '/';
        }
    mkdir(path, 0700);
}

/* The process's cgroup line and a mountinfo whose cgroup2 mount (root
 * `root`) is <tmp>/<mount>, among other mounts; every later look at the
 * cgroup reads these. */
static void fake_cgroup(const char *cgroup_line, const char *root, const char *mount)
{
    char text[2048];
    write_file(cgroup_file, cgroup_line);
    snprintf(text, sizeof text,
             "22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw\n"
             "25 28 0:23 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu\n"
             "29 25 0:26 %s %s/%s rw,nosuid,nodev,noexec,relatime shared:5 master:1 - cgroup2 "
             "cgroup2 rw,nsdelegate\n"
             "30 28 8:1 / /home rw,relatime shared:2 - ext4 /dev/sda1 rw\n",
             root, tmp_root, mount);
    write_file(mountinfo_file, text);
    wf_cpus_set_proc_files(cgroup_file, mountinfo_file);
}

static void set_cpu_max(const char *dir, const char *text)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/cpu.max", dir);
    write_file(at(rel), text);
}

static int setup_tree(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/weft-cgroup-XXXXXX");
    if (!mkdtemp(tmp_root))
        return -1;
    snprintf(cgroup_file, sizeof cgroup_file, "%s/cgroup", tmp_root);
    snprintf(mountinfo_file, sizeof mountinfo_file, "%s/mountinfo", tmp_root);
    return 0;
}

static void remove_tree(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_root);
    wf_cpus_set_proc_files(NULL, NULL);
}

/* ------------------------------------------------------------ cpu.max */

/* The quota in whole CPUs: rounded up, at least 1; "max" and malformed
 * files are no quota. */
static void quota_rounds_up(void)
{
    assert_int_equal(setup_tree(), 0);
    make_dirs("cg/app");
    fake_cgroup("0::/app\n", "/", "cg");
    static const struct {
        const char *text;
        unsigned cpus;
    } cases[] = {
        {"150000 100000\n", 2}, {"200000 100000\n", 2}, {"200001 100000\n", 3},
        {"1000 100000\n", 1},   {"400000 100000", 4},   {"max 100000\n", 0},
        {"100000\n", 0},        {"abc 100000\n", 0},    {"-5 100000\n", 0},
        {"100000 0\n", 0},      {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        set_cpu_max("cg/app", cases[i].text);
        unsigned got = wf_cpus_cgroup_limit();
        if (got != cases[i].cpus)
            print_error("cpu.max '%s': %u CPUs, expected %u\n", cases[i].text, got, cases[i].cpus);
        assert_int_equal(got, cases[i].cpus);
    }
    remove_tree();
}

/* A parent's quota bounds its children: the tightest on the way up to the
 * mount counts. */
static void parents_bound_children(void)
{
    assert_int_equal(setup_tree(), 0);
    make_dirs("cg/kubepods/pod/ctr");
    fake_cgroup("0::/kubepods/pod/ctr\n", "/", "cg");
    set_cpu_max("cg/kubepods/pod/ctr", "max 100000\n");
    assert_int_equal(wf_cpus_cgroup_limit(), 0);
    set_cpu_max("cg/kubepods/pod", "300000 100000\n");
    assert_int_equal(wf_cpus_cgroup_limit(), 3);
    set_cpu_max("cg/kubepods/pod/ctr", "500000 100000\n");
    assert_int_equal(wf_cpus_cgroup_limit(), 3);
    set_cpu_max("cg/kubepods", "100000 100000\n");
    assert_int_equal(wf_cpus_cgroup_limit(), 1);
    set_cpu_max("cg", "50000 100000\n"); /* the mount point itself: a namespace's own */
    assert_int_equal(wf_cpus_cgroup_limit(), 1);
    remove_tree();
}

/* A mount of a subtree (root /kubepods/pod) shows the cgroup below it; a
 * cgroup outside it, no v2 line, or no cgroup2 mount: no quota.  Escaped
 * characters of a mount point are read as themselves. */
static void mount_roots_and_escapes(void)
{
    assert_int_equal(setup_tree(), 0);
    make_dirs("sub/ctr");
    set_cpu_max("sub/ctr", "250000 100000\n");
    fake_cgroup("0::/kubepods/pod/ctr\n", "/kubepods/pod", "sub");
    assert_int_equal(wf_cpus_cgroup_limit(), 3);
    fake_cgroup("0::/kubepods/podx/ctr\n", "/kubepods/pod", "sub");
    assert_int_equal(wf_cpus_cgroup_limit(), 0);
    fake_cgroup("4:cpu:/kubepods/pod/ctr\n", "/kubepods/pod", "sub");
    assert_int_equal(wf_cpus_cgroup_limit(), 0);

    make_dirs("with space/ctr");
    set_cpu_max("with space/ctr", "100000 100000\n");
    fake_cgroup("1:name=systemd:/\n0::/ctr\n", "/", "with\\040space");
    assert_int_equal(wf_cpus_cgroup_limit(), 1);

    write_file(mountinfo_file, "22 28 0:21 / /proc rw - proc proc rw\n");
    assert_int_equal(wf_cpus_cgroup_limit(), 0);
    wf_cpus_set_proc_files("/nonexistent/cgroup", NULL);
    assert_int_equal(wf_cpus_cgroup_limit(), 0);
    remove_tree();
}

/* ------------------------------------------------------------ the worker count */

static int report_workers(void *arg)
{
    weft_runtime_stats_t st;
    EXPECT_RC(weft_runtime_stats(&st), 0);
    *(unsigned *)arg = st.workers;
    return 0;
}

typedef struct {
    int cpus;         /* how many CPUs of the test's mask the thread keeps */
    unsigned workers; /* what a default config gave */
} masked_t;

/* On a thread of its own (so the test's mask stays as it was): keep the
 * first `cpus` CPUs of the mask, run a default runtime (the test runner's
 * thread inherits the mask). */
static void *masked_thread(void *p)
{
    masked_t *m = p;
    cpu_set_t set, mine;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        wt_failf(__FILE__, __LINE__, "sched_getaffinity failed");
        return NULL;
    }
    CPU_ZERO(&mine);
    for (int cpu = 0, kept = 0; cpu < CPU_SETSIZE && kept < m->cpus; cpu++)
        if (CPU_ISSET(cpu, &set)) {
            CPU_SET(cpu, &mine);
            kept++;
        }
    if (sched_setaffinity(0, sizeof mine, &mine) != 0) {
        wt_failf(__FILE__, __LINE__, "sched_setaffinity failed");
        return NULL;
    }
    weft_config_t c;
    weft_config_init(&c);
    EXPECT_RC(wt_run_config(report_workers, &m->workers, &c), 0);
    return NULL;
}

static unsigned workers_with_cpus(int cpus)
{
    masked_t m = {.cpus = cpus};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, masked_thread, &m), 0);
    pthread_join(th, NULL);
    WT_ASSERT_CLEAN();
    return m.workers;
}

static int mask_cpus(void)
{
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

/* The affinity mask, not the machine's online CPUs (no cgroup quota). */
static void workers_follow_affinity(void)
{
    wf_cpus_set_proc_files("/nonexistent/cgroup", "/nonexistent/mountinfo");
    int n = mask_cpus();
    if (n < 2) {
        wf_cpus_set_proc_files(NULL, NULL);
        print_message("one CPU only: a smaller mask cannot be told apart\n");
        skip();
    }
    assert_int_equal(workers_with_cpus(1), 1);
    assert_int_equal(workers_with_cpus(2), 2);
    assert_int_equal(workers_with_cpus(n), (unsigned)n);
    wf_cpus_set_proc_files(NULL, NULL);
}

/* The quota lowers the count below the mask, never raises it above. */
static void workers_follow_quota(void)
{
    int n = mask_cpus();
    if (n < 2) {
        print_message("one CPU only: a quota cannot lower the count\n");
        skip();
    }
    assert_int_equal(setup_tree(), 0);
    make_dirs("cg/app");
    fake_cgroup("0::/app\n", "/", "cg");
    set_cpu_max("cg/app", "50000 100000\n");
    assert_int_equal(workers_with_cpus(n), 1);
    set_cpu_max("cg/app", "100000 100000\n");
    assert_int_equal(workers_with_cpus(n), 1);
    set_cpu_max("cg/app", "150000 100000\n"); /* 2: rounded up */
    assert_int_equal(workers_with_cpus(n), 2);
    set_cpu_max("cg/app", "6400000 100000\n"); /* 64, above the mask */
    assert_int_equal(workers_with_cpus(n), (unsigned)n);
    assert_int_equal(workers_with_cpus(1), 1);
    remove_tree();
}

static const wt_case_t cases[] = {
    WT_TEST(quota_rounds_up),
    WT_TEST(parents_bound_children),
    WT_TEST(mount_roots_and_escapes),
    WT_TEST(workers_follow_affinity),
    WT_TEST(workers_follow_quota),
};

WT_SUITE(cases)
