/* Files: weft_file_open / read / write / pread / pwrite / sync / stat / close,
 * weft_path_stat, weft_file_read_all / write_all, all in a fresh mkdtemp
 * directory.  Round trips (empty, small, 1 MiB, a FIFO of unknown size that
 * makes read_all grow its buffer), positions and EOF, errors as -errno,
 * O_CLOEXEC, cancellation (a cancelled call does nothing: no file created, no
 * byte written; close still closes; tiny deadlines leak no descriptor or
 * buffer), many tasks reading one file with pread, lengths past INT_MAX
 * (refused) and up to it (moved in full past the kernel's cut), wrong
 * contexts and NULL arguments. */
#define _GNU_SOURCE
#include "thread_helpers.h"
#include "io_helpers.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

static char tmpdir[] = "/tmp/weft-test-file-XXXXXX";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The suite's directory: made before main, removed with what it holds after
 * main, as a group setup and teardown would (a table of cases has none). */
__attribute__((constructor)) static void suite_setup(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
}

__attribute__((destructor)) static void suite_teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A path in the test directory (one static buffer per slot). */
static const char *path_in(int slot, const char *name)
{
    static char bufs[4][512];
    snprintf(bufs[slot], sizeof bufs[slot], "%s/%s", tmpdir, name);
    return bufs[slot];
}

/* Descriptors open in this process, as a bitmap of the first 1024. */
typedef struct {
    unsigned char open[1024];
} fdset_t;

static void fd_snapshot(fdset_t *s)
{
    for (int fd = 0; fd < 1024; fd++)
        s->open[fd] = fcntl(fd, F_GETFD) != -1;
}

static int fd_count(void)
{
    fdset_t s;
    fd_snapshot(&s);
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += s.open[fd];
    return n;
}

/* The one descriptor open now that was not in `before`; -1 if none or
 * several. */
static int fd_new_since(const fdset_t *before)
{
    fdset_t now;
    fd_snapshot(&now);
    int found = -1;
    for (int fd = 0; fd < 1024; fd++) {
        if (now.open[fd] && !before->open[fd]) {
            if (found >= 0)
                return -1;
            found = fd;
        }
    }
    return found;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static mode_t current_umask(void)
{
    mode_t m = umask(0);
    umask(m);
    return m;
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)((i * 131u + (i >> 9) * 7u) & 0xff);
}

/* ------------------------------------------------------------ whole files */

#define MIB (1024 * 1024)

static int whole_file_round_trip(void *p)
{
    (void)p;
    mode_t um = current_umask();
    void *data = (void *)1;
    size_t len = 12345;
    const char *a = path_in(0, "whole-small");

    EXPECT_RC(weft_file_write_all(a, "hello, weft", 11), 0);
    EXPECT_RC(weft_file_read_all(a, &data, &len), 0);
    EXPECT(len == 11);
    EXPECT(data && memcmp(data, "hello, weft", 12) == 0); /* NUL-terminated */
    free(data);
    struct stat st;
    EXPECT_RC(weft_path_stat(a, &st), 0);
    EXPECT(st.st_size == 11);
    EXPECT((st.st_mode & 0777) == (0644 & ~um));

    /* Rewriting truncates. */
    EXPECT_RC(weft_file_write_all(a, "hi", 2), 0);
    EXPECT_RC(weft_file_read_all(a, &data, &len), 0);
    EXPECT(len == 2 && data && memcmp(data, "hi", 3) == 0);
    free(data);

    /* Empty: data NULL with len 0 is fine; reading gives an empty string. */
    const char *e = path_in(1, "whole-empty");
    EXPECT_RC(weft_file_write_all(e, NULL, 0), 0);
    data = NULL;
    len = 99;
    EXPECT_RC(weft_file_read_all(e, &data, &len), 0);
    EXPECT(len == 0);
    EXPECT(data != NULL && ((char *)data)[0] == '\0');
    free(data);
    EXPECT_RC(weft_path_stat(e, &st), 0);
    EXPECT(st.st_size == 0 && S_ISREG(st.st_mode));

    /* 1 MiB. */
    unsigned char *big = malloc(MIB);
    EXPECT(big != NULL);
    if (!big)
        return 0;
    for (size_t i = 0; i < MIB; i++)
        big[i] = pattern(i);
    const char *b = path_in(2, "whole-big");
    EXPECT_RC(weft_file_write_all(b, big, MIB), 0);
    EXPECT_RC(weft_file_read_all(b, &data, &len), 0);
    EXPECT(len == MIB);
    EXPECT(data && memcmp(data, big, MIB) == 0 && ((char *)data)[MIB] == '\0');
    free(data);
    free(big);

    /* A file that reports no size: the buffer grows as it reads. */
    EXPECT_RC(weft_file_read_all("/proc/self/status", &data, &len), 0);
    EXPECT(len > 0 && data && strlen(data) == len);
    EXPECT(data && strstr(data, "Pid:") != NULL);
    free(data);
    return 0;
}

/* read_all from a FIFO: unknown size, data arriving in pieces, far more than
 * the first buffer holds. */
#define FIFO_BYTES (300 * 1000)

static int fifo_writer(void *p)
{
    weft_file_t *f;
    EXPECT_RC(weft_file_open(&f, p, O_WRONLY, 0), 0);
    unsigned char chunk[7000];
    size_t sent = 0;
    while (sent < FIFO_BYTES) {
        size_t n = FIFO_BYTES - sent < sizeof chunk ? FIFO_BYTES - sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(sent + i);
        size_t off = 0;
        while (off < n) {
            int w = weft_file_write(f, chunk + off, n - off);
            EXPECT(w > 0);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        sent += n;
    }
    EXPECT_RC(weft_file_close(f), 0);
    return 0;
}

static int read_all_grows(void *p)
{
    (void)p;
    const char *path = path_in(0, "fifo");
    unlink(path);
    EXPECT(mkfifo(path, 0600) == 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, fifo_writer, (void *)path), 0);
    void *data = NULL;
    size_t len = 0;
    EXPECT_RC(weft_file_read_all(path, &data, &len), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(len == FIFO_BYTES);
    int same = data != NULL;
    for (size_t i = 0; same && i < len; i++)
        same = ((unsigned char *)data)[i] == pattern(i);
    EXPECT(same);
    EXPECT(data && ((char *)data)[len] == '\0');
    free(data);
    unlink(path);
    return 0;
}

/* ------------------------------------------------------------ open, read, write, ... */

static int open_read_write(void *p)
{
    (void)p;
    mode_t um = current_umask();
    const char *path = path_in(0, "ops");
    weft_file_t *f = NULL;
    char buf[64];

    unlink(path);
    EXPECT_RC(weft_file_open(&f, path, O_RDWR | O_CREAT | O_EXCL, 0640), 0);
    EXPECT(f != NULL);
    if (!f)
        return 0;
    EXPECT_RC(weft_file_write(f, "abcdef", 6), 6);
    /* The position is at the end: read says EOF. */
    EXPECT_RC(weft_file_read(f, buf, sizeof buf), 0);
    EXPECT_RC(weft_file_read(f, buf, sizeof buf), 0);
    /* pread / pwrite leave the position alone. */
    memset(buf, 0, sizeof buf);
    EXPECT_RC(weft_file_pread(f, buf, 3, 2), 3);
    EXPECT_STR(buf, "cde");
    EXPECT_RC(weft_file_pwrite(f, "XY", 2, 1), 2);
    memset(buf, 0, sizeof buf);
    EXPECT_RC(weft_file_pread(f, buf, sizeof buf, 0), 6);
    EXPECT_STR(buf, "aXYdef");
    EXPECT_RC(weft_file_pread(f, buf, sizeof buf, 6), 0);    /* at EOF */
    EXPECT_RC(weft_file_pread(f, buf, sizeof buf, 1000), 0); /* past EOF */
    EXPECT_RC(weft_file_write(f, "gh", 2), 2);               /* at the position: 6 */
    /* pwrite past the end makes a hole. */
    EXPECT_RC(weft_file_pwrite(f, "Z", 1, 20), 1);
    EXPECT_RC(weft_file_sync(f), 0);
    EXPECT_RC(weft_file_read(f, buf, 0), 0); /* len 0 with a buffer */

    struct stat fs, ps;
    EXPECT_RC(weft_file_stat(f, &fs), 0);
    EXPECT(fs.st_size == 21);
    EXPECT(S_ISREG(fs.st_mode));
    EXPECT((fs.st_mode & 0777) == (0640 & ~um));
    EXPECT_RC(weft_path_stat(path, &ps), 0);
    EXPECT(ps.st_ino == fs.st_ino && ps.st_dev == fs.st_dev && ps.st_size == fs.st_size);
    EXPECT_RC(weft_file_close(f), 0);

    /* Read back from the start, in pieces, until EOF. */
    EXPECT_RC(weft_file_open(&f, path, O_RDONLY, 0), 0);
    char all[64];
    size_t n = 0;
    for (;;) {
        int r = weft_file_read(f, all + n, 5);
        EXPECT(r >= 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    EXPECT(n == 21);
    EXPECT(memcmp(all, "aXYdefgh", 8) == 0);
    EXPECT(all[8] == 0 && all[19] == 0 && all[20] == 'Z');
    EXPECT_RC(weft_file_read(f, buf, sizeof buf), 0);
    /* Writing to a read-only file. */
    EXPECT_RC(weft_file_write(f, "x", 1), -EBADF);
    EXPECT_RC(weft_file_pwrite(f, "x", 1, 0), -EBADF);
    EXPECT_RC(weft_file_close(f), 0);

    /* O_APPEND and O_TRUNC pass through. */
    EXPECT_RC(weft_file_open(&f, path, O_WRONLY | O_APPEND, 0), 0);
    EXPECT_RC(weft_file_write(f, "!", 1), 1);
    EXPECT_RC(weft_file_stat(f, &fs), 0);
    EXPECT(fs.st_size == 22);
    EXPECT_RC(weft_file_close(f), 0);
    EXPECT_RC(weft_file_open(&f, path, O_WRONLY | O_TRUNC, 0), 0);
    EXPECT_RC(weft_file_stat(f, &fs), 0);
    EXPECT(fs.st_size == 0);
    EXPECT_RC(weft_file_close(f), 0);
    return 0;
}

/* ------------------------------------------------------------ errors */

static int errors_main(void *p)
{
    (void)p;
    weft_file_t *f = (weft_file_t *)1;
    struct stat st;
    void *data = (void *)1;
    size_t len = 7;
    const char *missing = path_in(0, "no-such-file");
    const char *in_missing = path_in(1, "no-such-dir/file");

    EXPECT_RC(weft_file_open(&f, missing, O_RDONLY, 0), -ENOENT);
    EXPECT(f == (weft_file_t *)1); /* untouched */
    EXPECT_RC(weft_path_stat(missing, &st), -ENOENT);
    EXPECT_RC(weft_file_read_all(missing, &data, &len), -ENOENT);
    EXPECT(data == NULL && len == 0);
    EXPECT_RC(weft_file_write_all(in_missing, "x", 1), -ENOENT);
    EXPECT_RC(weft_file_open(&f, in_missing, O_WRONLY | O_CREAT, 0644), -ENOENT);
    /* A directory. */
    EXPECT_RC(weft_file_open(&f, tmpdir, O_WRONLY, 0), -EISDIR);
    EXPECT_RC(weft_file_write_all(tmpdir, "x", 1), -EISDIR);
    data = (void *)1;
    EXPECT_RC(weft_file_read_all(tmpdir, &data, &len), -EISDIR);
    EXPECT(data == NULL);
    EXPECT_RC(weft_path_stat(tmpdir, &st), 0);
    EXPECT(S_ISDIR(st.st_mode));
    /* O_EXCL on an existing file. */
    const char *x = path_in(2, "exists");
    EXPECT_RC(weft_file_write_all(x, "x", 1), 0);
    EXPECT_RC(weft_file_open(&f, x, O_WRONLY | O_CREAT | O_EXCL, 0644), -EEXIST);
    /* A negative offset. */
    EXPECT_RC(weft_file_open(&f, x, O_RDWR, 0), 0);
    char c;
    EXPECT_RC(weft_file_pread(f, &c, 1, -1), WEFT_EINVAL);
    EXPECT_RC(weft_file_pwrite(f, &c, 1, -1), WEFT_EINVAL);
    EXPECT_RC(weft_file_close(f), 0);
    /* Nothing leaked on the way. */
    return 0;
}

static void errors(void)
{
    int before = fd_count();
    WT_RUN_OK(errors_main, NULL, 2);
    assert_int_equal(fd_count(), before);
}

/* ------------------------------------------------------------ O_CLOEXEC, close */

static int cloexec_and_close(void *p)
{
    (void)p;
    const char *path = path_in(0, "cloexec");
    fdset_t before;
    weft_file_t *f;
    /* Nothing else in this runtime opens descriptors meanwhile. */
    fd_snapshot(&before);
    EXPECT_RC(weft_file_open(&f, path, O_RDWR | O_CREAT, 0600), 0);
    int fd = fd_new_since(&before);
    EXPECT(fd >= 0);
    EXPECT(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    /* The file behind it is ours. */
    struct stat a, b;
    EXPECT_RC(weft_file_stat(f, &a), 0);
    EXPECT(fd >= 0 && fstat(fd, &b) == 0 && a.st_ino == b.st_ino);
    EXPECT_RC(weft_file_close(f), 0);
    EXPECT(fd >= 0 && fcntl(fd, F_GETFD) == -1 && errno == EBADF);

    /* Closing in a cancelled scope still closes. */
    EXPECT_RC(weft_file_open(&f, path, O_RDONLY, 0), 0);
    fd = fd_new_since(&before);
    EXPECT(fd >= 0);
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_file_close(f), 0);
    EXPECT_RC(weft_scope_exit(&sc, weft_checkpoint()), 0);
    EXPECT(fd >= 0 && fcntl(fd, F_GETFD) == -1 && errno == EBADF);
    return 0;
}

/* ------------------------------------------------------------ cancellation */

static int cancelled_main(void *p)
{
    (void)p;
    const char *fresh = path_in(0, "cancel-fresh");
    const char *fresh2 = path_in(1, "cancel-fresh2");
    const char *kept = path_in(2, "cancel-kept");
    unlink(fresh);
    unlink(fresh2);
    weft_file_t *f = NULL, *g = (weft_file_t *)1;
    EXPECT_RC(weft_file_write_all(kept, "0123456789", 10), 0);
    EXPECT_RC(weft_file_open(&f, kept, O_RDWR, 0), 0);
    if (!f)
        return 0;
    char buf[16] = "untouched";
    struct stat st;
    memset(&st, 0xab, sizeof st);
    void *data = (void *)1;
    size_t len = 5;

    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_file_open(&g, fresh, O_WRONLY | O_CREAT, 0644), WEFT_ECANCELED);
    EXPECT(g == (weft_file_t *)1);
    EXPECT_RC(weft_file_write_all(fresh2, "x", 1), WEFT_ECANCELED);
    EXPECT_RC(weft_file_read_all(kept, &data, &len), WEFT_ECANCELED);
    EXPECT(data == NULL && len == 0);
    EXPECT_RC(weft_path_stat(kept, &st), WEFT_ECANCELED);
    EXPECT_RC(weft_file_read(f, buf, sizeof buf), WEFT_ECANCELED);
    EXPECT_RC(weft_file_pread(f, buf, sizeof buf, 0), WEFT_ECANCELED);
    EXPECT_STR(buf, "untouched");
    EXPECT_RC(weft_file_write(f, "abc", 3), WEFT_ECANCELED);
    EXPECT_RC(weft_file_pwrite(f, "abc", 3, 8), WEFT_ECANCELED);
    EXPECT_RC(weft_file_sync(f), WEFT_ECANCELED);
    EXPECT_RC(weft_file_stat(f, &st), WEFT_ECANCELED);
    EXPECT(st.st_size == (off_t)0xabababababababab);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);

    /* An expired deadline. */
    weft_fail_after(&sc, 0);
    int rc = weft_file_open(&g, fresh, O_WRONLY | O_CREAT, 0644);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), WEFT_ETIMEDOUT);

    /* Nothing was done. */
    EXPECT(!exists(fresh));
    EXPECT(!exists(fresh2));
    EXPECT_RC(weft_file_pread(f, buf, sizeof buf, 0), 10);
    EXPECT(memcmp(buf, "0123456789", 10) == 0);
    EXPECT_RC(weft_file_read(f, buf, sizeof buf), 10); /* position still 0 */
    EXPECT_RC(weft_file_close(f), 0);
    return 0;
}

static void cancelled_does_nothing(void)
{
    int before = fd_count();
    WT_RUN_OK(cancelled_main, NULL, 1);
    WT_RUN_OK(cancelled_main, NULL, 2);
    assert_int_equal(fd_count(), before);
}

/* read_all / write_all under tiny deadlines: each either completes or
 * returns WEFT_ECANCELED; no descriptor stays open, no buffer leaks (LSan),
 * and a completed read_all has the whole file. */
#define DL_TASKS 8

typedef struct {
    int id, rounds;
    const unsigned char *big;
    const char *rpath; /* path_in's buffers are not for concurrent tasks */
    atomic_int *done, *cancelled;
} dl_t;

static int deadline_task(void *p)
{
    dl_t *d = p;
    uint64_t rng = 0xf11e + (uint64_t)d->id * 0x9E3779B97F4A7C15ull;
    char name[32];
    snprintf(name, sizeof name, "dl-%d", d->id);
    char wpath[512];
    snprintf(wpath, sizeof wpath, "%s/%s", tmpdir, name);
    const char *rpath = d->rpath; /* written by main before */
    for (int i = 0; i < d->rounds; i++) {
        weft_scope_t sc;
        weft_move_on_after(&sc, wt_tiny_deadline(&rng, 0.2, 0.1) * 100);
        int rc;
        if (wt_rand(&rng) % 2) {
            void *data = NULL;
            size_t len = 0;
            rc = weft_file_read_all(rpath, &data, &len);
            if (rc == 0) {
                EXPECT(len == MIB && memcmp(data, d->big, MIB) == 0);
                free(data);
            } else {
                EXPECT(data == NULL);
            }
        } else {
            rc = weft_file_write_all(wpath, d->big, 64 * 1024);
        }
        if (rc == 0)
            atomic_fetch_add(d->done, 1);
        else if (rc == WEFT_ECANCELED)
            atomic_fetch_add(d->cancelled, 1);
        else
            EXPECT_RC(rc, 0);
        EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    }
    return 0;
}

typedef struct {
    unsigned char *big;
    atomic_int done, cancelled;
} dl_main_t;

static int deadline_main(void *p)
{
    dl_main_t *m = p;
    const char *rpath = path_in(3, "dl-big");
    EXPECT_RC(weft_file_write_all(rpath, m->big, MIB), 0);
    dl_t args[DL_TASKS];
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < DL_TASKS; i++) {
        args[i] = (dl_t){i, WT_TSAN_PICK(40, 10), m->big, rpath, &m->done, &m->cancelled};
        EXPECT_RC(weft_group_spawn(&g, deadline_task, &args[i]), 0);
    }
    return weft_group_close(&g, 0);
}

static void tiny_deadlines(void)
{
    dl_main_t m;
    memset(&m, 0, sizeof m);
    m.big = malloc(MIB);
    assert_non_null(m.big);
    for (size_t i = 0; i < MIB; i++)
        m.big[i] = pattern(i);
    int before = fd_count();
    WT_RUN_OK(deadline_main, &m, 4);
    assert_int_equal(fd_count(), before);
    assert_true(atomic_load(&m.done) > 0);
    assert_true(atomic_load(&m.cancelled) > 0);
    free(m.big);
}

/* ------------------------------------------------------------ many readers */

#define READERS 32
#define SHARED_SIZE (256 * 1024)

typedef struct {
    weft_file_t *f;
    int id, rounds;
    atomic_int *reads;
} reader_t;

static int reader_task(void *p)
{
    reader_t *r = p;
    uint64_t rng = 0x7ead + (uint64_t)r->id * 0x9E3779B97F4A7C15ull;
    unsigned char buf[4096];
    for (int i = 0; i < r->rounds; i++) {
        size_t off = (size_t)(wt_rand(&rng) % SHARED_SIZE);
        size_t n = 1 + (size_t)(wt_rand(&rng) % sizeof buf);
        size_t want = off + n > SHARED_SIZE ? SHARED_SIZE - off : n;
        int got = weft_file_pread(r->f, buf, n, (int64_t)off);
        EXPECT_RC(got, (int)want);
        int same = 1;
        for (size_t k = 0; same && k < want && got == (int)want; k++)
            same = buf[k] == pattern(off + k);
        EXPECT(same);
        atomic_fetch_add(r->reads, 1);
    }
    return 0;
}

static int concurrent_pread(void *p)
{
    (void)p;
    const char *path = path_in(0, "shared");
    unsigned char *data = malloc(SHARED_SIZE);
    EXPECT(data != NULL);
    if (!data)
        return 0;
    for (size_t i = 0; i < SHARED_SIZE; i++)
        data[i] = pattern(i);
    EXPECT_RC(weft_file_write_all(path, data, SHARED_SIZE), 0);
    free(data);
    weft_file_t *f;
    EXPECT_RC(weft_file_open(&f, path, O_RDONLY, 0), 0);
    atomic_int reads = 0;
    reader_t args[READERS];
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < READERS; i++) {
        args[i] = (reader_t){f, i, WT_TSAN_PICK(50, 10), &reads};
        EXPECT_RC(weft_group_spawn(&g, reader_task, &args[i]), 0);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&reads) == READERS * WT_TSAN_PICK(50, 10));
    EXPECT_RC(weft_file_close(f), 0);
    return 0;
}

/* ------------------------------------------------------------ reads from the page cache */

#define CACHED_SIZE (100 * 1024)

/* The pattern the files of these tests hold (io_helpers.h). */
#define CACHED_SEED 0xcac4e

static int bytes_match(const void *b, long off, long n)
{
    return wt_pat_check(b, (size_t)n, CACHED_SEED, (uint64_t)off) == -1;
}

static atomic_int hold_token;

static int hold_token_fn(void *p)
{
    (void)p;
    while (atomic_load(&hold_token))
        usleep(1000);
    return 0;
}

static int token_holder(void *p)
{
    (void)p;
    return weft_to_thread_run_sync(hold_token_fn, NULL, NULL);
}

/* Reads of a regular file whose bytes are cached are made by the worker
 * (RWF_NOWAIT): they complete while another task holds the only thread
 * token, so that any read sent to a blocking thread would wait. */
static int cached_main(void *p)
{
    (void)p;
    const char *path = path_in(0, "cached");
    static unsigned char data[CACHED_SIZE], buf[CACHED_SIZE];
    wt_pat_fill(data, sizeof data, CACHED_SEED, 0);
    EXPECT_RC(weft_file_write_all(path, data, sizeof data), 0);
    weft_file_t *f = NULL;
    EXPECT_RC(weft_file_open(&f, path, O_RDONLY, 0), 0);
    if (!f)
        return 0;

    weft_limiter_t *lim = weft_default_thread_limiter();
    weft_limiter_stats_t ls;
    weft_limiter_stats(lim, &ls);
    unsigned total = ls.total_tokens;
    EXPECT_RC(weft_limiter_set_total_tokens(lim, 1), 0);
    atomic_store(&hold_token, 1);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, token_holder, NULL), 0);
    WAIT_FOR((weft_limiter_stats(lim, &ls), ls.borrowed_tokens == 1));

    weft_scope_t sc;
    weft_move_on_after(&sc, 2.0); /* a read that waits for the token gives up */
    EXPECT_RC(weft_file_read(f, buf, 64 * 1024), 64 * 1024);
    EXPECT(bytes_match(buf, 0, 64 * 1024));
    EXPECT_RC(weft_file_pread(f, buf, 5000, 1000), 5000);
    EXPECT(bytes_match(buf, 1000, 5000));
    EXPECT_RC(weft_file_read(f, buf, sizeof buf), CACHED_SIZE - 64 * 1024); /* pread left the position */
    EXPECT(bytes_match(buf, 64 * 1024, CACHED_SIZE - 64 * 1024));
    EXPECT_RC(weft_file_read(f, buf, sizeof buf), 0);
    EXPECT_RC(weft_file_pread(f, buf, 10, CACHED_SIZE), 0);
    EXPECT(!weft_scope_cancel_called(&sc));
    EXPECT_RC(weft_scope_exit(&sc, 0), 0);

    atomic_store(&hold_token, 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_limiter_set_total_tokens(lim, total), 0);
    EXPECT_RC(weft_file_close(f), 0);
    return 0;
}

static void cached_reads_need_no_thread(void)
{
    /* Where the file system refuses RWF_NOWAIT every read goes to a thread. */
    char probe_path[512];
    snprintf(probe_path, sizeof probe_path, "%s/probe", tmpdir);
    int fd = open(probe_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    char b[3];
    struct iovec v = {b, sizeof b};
    ssize_t n = preadv2(fd, &v, 1, 0, RWF_NOWAIT);
    close(fd);
    unlink(probe_path);
    if (n != 3)
        skip();
    WT_RUN_OK(cached_main, NULL, 1);
    WT_RUN_OK(cached_main, NULL, 2);
}

/* A read whose start is cached and whose end is not (dropped with
 * POSIX_FADV_DONTNEED, the start read back) still returns every byte: the worker reads the start,
 * a thread the rest, so a short count keeps meaning the end of the file. */
static int partly_cached_read(void *p)
{
    (void)p;
    const char *path = path_in(0, "partly-cached");
    static unsigned char data[4 * 64 * 1024], buf[sizeof data];
    wt_pat_fill(data, sizeof data, CACHED_SEED, 0);
    for (int round = 0; round < 2; round++) {
        EXPECT_RC(weft_file_write_all(path, data, sizeof data), 0);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        EXPECT(fd >= 0);
        if (fd < 0)
            return 0;
        /* Drop it all (a large folio is not split: dropping the end alone
         * may keep it), then read the start back without read-ahead. */
        EXPECT(fdatasync(fd) == 0);
        EXPECT(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
        EXPECT(posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) == 0);
        EXPECT(pread(fd, buf, sizeof buf / 2, 0) == (ssize_t)sizeof buf / 2);
        close(fd);
        weft_file_t *f = NULL;
        EXPECT_RC(weft_file_open(&f, path, O_RDONLY, 0), 0);
        if (!f)
            return 0;
        memset(buf, 0, sizeof buf);
        if (round == 0) {
            EXPECT_RC(weft_file_read(f, buf, sizeof buf), (int)sizeof buf);
            char more;
            EXPECT_RC(weft_file_read(f, &more, 1), 0);
        } else {
            EXPECT_RC(weft_file_pread(f, buf, sizeof buf, 0), (int)sizeof buf);
        }
        EXPECT(bytes_match(buf, 0, sizeof buf));
        EXPECT_RC(weft_file_close(f), 0);
    }
    return 0;
}

/* ------------------------------------------------------------ past INT_MAX bytes */

/* The counts are ints: a call for more than INT_MAX bytes is refused before
 * it touches the buffer or the file, and one for up to INT_MAX bytes moves
 * them all, past the kernel's cut (Linux moves at most 0x7ffff000 bytes per
 * call).  The buffers are an address range that is never written: untouched
 * pages cost no memory, and /dev/null never reads what it is given. */
#define HUGE_LEN ((size_t)INT_MAX + 1)

static void *huge_buf(void)
{
    void *b = mmap(NULL, HUGE_LEN, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return b == MAP_FAILED ? NULL : b;
}

static int huge_requests_refused(void *p)
{
    (void)p;
    char *buf = huge_buf(), small[16];
    const char *path = path_in(0, "huge-refused");
    weft_file_t *f, *null;
    EXPECT(buf != NULL);
    if (!buf)
        return 0;
    EXPECT_RC(weft_file_write_all(path, "0123456789", 10), 0);
    EXPECT_RC(weft_file_open(&f, path, O_RDWR, 0), 0);
    EXPECT_RC(weft_file_read(f, buf, HUGE_LEN), WEFT_EINVAL);
    EXPECT_RC(weft_file_read(f, buf, SIZE_MAX), WEFT_EINVAL);
    EXPECT_RC(weft_file_pread(f, buf, HUGE_LEN, 0), WEFT_EINVAL);
    EXPECT_RC(weft_file_write(f, buf, HUGE_LEN), WEFT_EINVAL);
    EXPECT_RC(weft_file_pwrite(f, buf, HUGE_LEN, 0), WEFT_EINVAL);
    /* Nothing moved: the position is still 0, the file unchanged. */
    EXPECT_RC(weft_file_read(f, small, sizeof small), 10);
    EXPECT(memcmp(small, "0123456789", 10) == 0);
    EXPECT_RC(weft_file_close(f), 0);
    EXPECT_RC(weft_file_open(&null, "/dev/null", O_WRONLY, 0), 0);
    EXPECT_RC(weft_file_write(null, buf, HUGE_LEN), WEFT_EINVAL);
    EXPECT_RC(weft_file_close(null), 0);
    munmap(buf, HUGE_LEN);
    return 0;
}

static int huge_writes_main(void *p)
{
    char *buf = p;
    weft_file_t *null;
    EXPECT_RC(weft_file_open(&null, "/dev/null", O_WRONLY, 0), 0);
    EXPECT_RC(weft_file_write(null, buf, INT_MAX), INT_MAX);
    EXPECT_RC(weft_file_pwrite(null, buf, INT_MAX, 1), INT_MAX);
    EXPECT_RC(weft_file_close(null), 0);
    /* The whole-file helper takes any length, in several calls. */
    EXPECT_RC(weft_file_write_all("/dev/null", buf, HUGE_LEN), 0);
    return 0;
}

static void huge_writes_move_everything(void)
{
#if defined(WT_TSAN)
    /* TSan's interceptors walk the shadow of every byte moved: some 7 s a
     * call of 2 GiB.  The other builds check it. */
    skip();
#endif
    void *buf = huge_buf();
    assert_non_null(buf);
    WT_RUN_OK(huge_writes_main, buf, 1);
    munmap(buf, HUGE_LEN);
}

/* A sparse file of INT_MAX + 1 bytes ending in "ZE": reads of INT_MAX bytes
 * get them all (the cut is not the end of the file), and the rest after.  A
 * memfd: tmpfs reads its holes from the zero page, where a disk file system
 * would fill 2 GiB of page cache. */
static int huge_reads_main(void *p)
{
    char *buf = p, small[16], path[64];
    weft_file_t *f;
    int fd = memfd_create("weft-huge-sparse", MFD_CLOEXEC);
    EXPECT(fd >= 0 && ftruncate(fd, (off_t)INT_MAX - 1) == 0);
    EXPECT(pwrite(fd, "ZE", 2, (off_t)INT_MAX - 1) == 2);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    EXPECT_RC(weft_file_open(&f, path, O_RDONLY, 0), 0);
    close(fd);
    EXPECT_RC(weft_file_read(f, buf, INT_MAX), INT_MAX);
    EXPECT(buf[INT_MAX - 1] == 'Z');
    EXPECT_RC(weft_file_read(f, small, sizeof small), 1);
    EXPECT(small[0] == 'E');
    EXPECT_RC(weft_file_read(f, small, sizeof small), 0);
    EXPECT_RC(weft_file_pread(f, buf, INT_MAX, 1), INT_MAX);
    EXPECT(buf[INT_MAX - 2] == 'Z' && buf[INT_MAX - 1] == 'E');
    EXPECT_RC(weft_file_close(f), 0);
    return 0;
}

/* Bytes of memory the system says it can still give. */
static long long mem_available(void)
{
    long long kib = 0;
    char line[128];
    FILE *m = fopen("/proc/meminfo", "r");
    while (m && fgets(line, sizeof line, m))
        if (sscanf(line, "MemAvailable: %lld kB", &kib) == 1)
            break;
    if (m)
        fclose(m);
    return kib * 1024;
}

static void huge_reads_get_everything(void)
{
#if defined(WT_TSAN)
    skip(); /* see huge_writes_move_everything */
#endif
    /* What is read is written into the buffer: 2 GiB for a moment. */
    if (mem_available() < 6LL << 30) {
        print_message("skipped: less than 6 GiB of memory available\n");
        skip();
    }
    void *buf = huge_buf();
    assert_non_null(buf);
    WT_RUN_OK(huge_reads_main, buf, 1);
    munmap(buf, HUGE_LEN);
}

/* ------------------------------------------------------------ wrong context, NULL */

static int null_args_main(void *p)
{
    (void)p;
    const char *path = path_in(0, "null-args");
    weft_file_t *f = NULL;
    struct stat st;
    char buf[8];
    void *data;
    size_t len;
    EXPECT_RC(weft_file_write_all(path, "abc", 3), 0);
    EXPECT_RC(weft_file_open(NULL, path, O_RDONLY, 0), WEFT_EINVAL);
    EXPECT_RC(weft_file_open(&f, NULL, O_RDONLY, 0), WEFT_EINVAL);
    EXPECT_RC(weft_file_read(NULL, buf, sizeof buf), WEFT_EINVAL);
    EXPECT_RC(weft_file_write(NULL, buf, sizeof buf), WEFT_EINVAL);
    EXPECT_RC(weft_file_pread(NULL, buf, sizeof buf, 0), WEFT_EINVAL);
    EXPECT_RC(weft_file_pwrite(NULL, buf, sizeof buf, 0), WEFT_EINVAL);
    EXPECT_RC(weft_file_sync(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_file_stat(NULL, &st), WEFT_EINVAL);
    EXPECT_RC(weft_file_close(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_path_stat(NULL, &st), WEFT_EINVAL);
    EXPECT_RC(weft_path_stat(path, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_file_read_all(NULL, &data, &len), WEFT_EINVAL);
    EXPECT_RC(weft_file_read_all(path, NULL, &len), WEFT_EINVAL);
    EXPECT_RC(weft_file_read_all(path, &data, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_file_write_all(NULL, "x", 1), WEFT_EINVAL);
    EXPECT_RC(weft_file_write_all(path, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_file_open(&f, path, O_RDWR, 0), 0);
    EXPECT_RC(weft_file_read(f, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_file_write(f, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_file_pread(f, NULL, 1, 0), WEFT_EINVAL);
    EXPECT_RC(weft_file_pwrite(f, NULL, 1, 0), WEFT_EINVAL);
    EXPECT_RC(weft_file_stat(f, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_file_read(f, NULL, 0), 0); /* nothing to read into: fine */
    EXPECT_RC(weft_file_close(f), 0);
    return 0;
}

static void wrong_context_and_null(void)
{
    const char *path = path_in(0, "wrong-context");
    weft_file_t *f = (weft_file_t *)1;
    struct stat sb;
    char buf[8];
    void *data = (void *)1;
    size_t len = 3;
    /* Outside a task: nothing happens. */
    assert_rc(weft_file_open(&f, path, O_WRONLY | O_CREAT, 0644), WEFT_EPERM);
    assert_ptr_equal(f, (weft_file_t *)1);
    assert_false(exists(path));
    assert_rc(weft_file_write_all(path, "x", 1), WEFT_EPERM);
    assert_false(exists(path));
    assert_rc(weft_file_read_all("/proc/self/status", &data, &len), WEFT_EPERM);
    assert_ptr_equal(data, (void *)1);
    assert_rc(weft_path_stat("/", &sb), WEFT_EPERM);
    assert_rc(weft_file_read(f, buf, sizeof buf), WEFT_EPERM);
    assert_rc(weft_file_write(f, buf, sizeof buf), WEFT_EPERM);
    assert_rc(weft_file_pread(f, buf, sizeof buf, 0), WEFT_EPERM);
    assert_rc(weft_file_pwrite(f, buf, sizeof buf, 0), WEFT_EPERM);
    assert_rc(weft_file_sync(f), WEFT_EPERM);
    assert_rc(weft_file_stat(f, &sb), WEFT_EPERM);
    assert_rc(weft_file_close(f), WEFT_EPERM);
    WT_RUN_OK(null_args_main, NULL, 1);
}

static const wt_case_t cases[] = {
    WT_CASE(whole_file_round_trip),
    WT_CASE_ON(read_all_grows, WT_W2),
    WT_CASE(open_read_write),
    WT_TEST(errors),
    WT_CASE_ON(cloexec_and_close, WT_W1),
    WT_TEST(cancelled_does_nothing),
    WT_TEST(tiny_deadlines),
    WT_CASE_ON(concurrent_pread, WT_W4),
    WT_TEST(cached_reads_need_no_thread),
    WT_CASE_ON(partly_cached_read, WT_W2),
    WT_CASE_ON(huge_requests_refused, WT_W1),
    WT_TEST(huge_writes_move_everything),
    WT_TEST(huge_reads_get_everything),
    WT_TEST(wrong_context_and_null),
};
WT_SUITE(cases)
