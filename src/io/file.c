/*
 * Files: every blocking system call (open, read, write, fsync, fstat, close)
 * runs on one of the runtime's blocking threads through
 * weft_to_thread_run_sync.
 *
 * The calls are never abandoned: a cancelled caller still waits for its
 * system call (a thread cannot be interrupted), so the caller's buffer and
 * struct stat are never touched after the call returned, and an open that
 * succeeded is never lost (its file comes back; the cancellation shows at
 * the next checkpoint).  That is also why the arguments can live on the
 * caller's stack.
 *
 * One exception: a read of a regular file whose bytes are all in the page
 * cache cannot block, so the worker makes it itself (read_cached).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "weft.h"
#include "sched/task.h"
#include "sched/util.h"
#include "sched/waitq.h"

struct weft_file_t {
    int fd;
    /* A regular file not opened O_DIRECT: a read of cached bytes cannot block. */
    int cached_reads;
    atomic_int no_nowait; /* its file system refused RWF_NOWAIT (read by tasks on any worker) */
};

/* Linux moves at most INT_MAX rounded down to a page in one read or write
 * (0x7ffff000 bytes with 4 KiB pages), however much was asked.  A call that
 * moved at least the least such cut (64 KiB pages) but less than asked
 * stopped there, not at the end of the file: the transfer goes on. */
#define KERNEL_CUT_MIN ((size_t)INT_MAX & ~(size_t)0xffff)

enum { OP_OPEN, OP_READ, OP_WRITE, OP_PREAD, OP_PWRITE, OP_FSYNC, OP_FSTAT, OP_STAT, OP_CLOSE };

typedef struct file_op {
    int op, fd;
    const char *path;
    int flags, mode;
    void *buf;
    size_t len;
    int64_t offset;
    struct stat *st;
    int ran; /* the thread got to the call (close must know) */
} file_op_t;

/* The system call, once: a count, an fd, 0, or -1 with errno set. */
static ssize_t file_op_once(file_op_t *o) {
    switch (o->op) {
    case OP_OPEN: {
        int fd = open(o->path, o->flags, (mode_t)o->mode);
        /* Asked for: what was opened (st_mode 0, no type, if unknown). */
        if (fd >= 0 && o->st && fstat(fd, o->st) != 0) o->st->st_mode = 0;
        return fd;
    }
    case OP_READ: return read(o->fd, o->buf, o->len);
    case OP_WRITE: return write(o->fd, o->buf, o->len);
    case OP_PREAD: return pread(o->fd, o->buf, o->len, (off_t)o->offset);
    case OP_PWRITE: return pwrite(o->fd, o->buf, o->len, (off_t)o->offset);
    case OP_FSYNC: return fsync(o->fd);
    case OP_FSTAT: return fstat(o->fd, o->st);
    case OP_STAT: return stat(o->path, o->st);
    default: errno = EINVAL; return -1;
    }
}

static int is_transfer(int op) {
    return op == OP_READ || op == OP_WRITE || op == OP_PREAD || op == OP_PWRITE;
}

/* On the blocking thread: the call, retried on EINTR, and a transfer (at most
 * INT_MAX bytes) continued past the kernel's cut, so that a short count
 * means the end of the file (or a full disk, or an error the next call
 * reports) as for any smaller call; a count, an fd, 0 or -errno. */
static int file_op_thread(void *arg) {
    file_op_t *o = arg;
    o->ran = 1;
    /* Never retried: on Linux the descriptor is gone even when close reports
     * EINTR, and a retry could close someone else's. */
    if (o->op == OP_CLOSE) return close(o->fd) ? -errno : 0;
    int done = 0;
    for (;;) {
        ssize_t n = file_op_once(o);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return done ? done : -errno;
        if (!is_transfer(o->op)) return (int)n;
        done += (int)n;
        if ((size_t)n < KERNEL_CUT_MIN || (size_t)n == o->len) return done;
        o->buf = (char *)o->buf + n;
        o->len -= (size_t)n;
        o->offset += n;
    }
}

/* The counts are ints: the public calls refuse more than INT_MAX bytes
 * (fd_op), the whole-file helpers move more in several calls. */
static int file_op_run(file_op_t *o) {
    if (o->len > INT_MAX) o->len = INT_MAX;
    return weft_to_thread_run_sync(file_op_thread, o, NULL);
}

/* close(2) that always happens: the call runs in a shielded scope so that a
 * cancelled caller still closes, and inline on the worker in the one case it
 * could not run on a thread (none could be started), since a descriptor must
 * not leak. */
static int close_fd(int fd) {
    weft_scope_t shield;
    file_op_t o = {.op = OP_CLOSE, .fd = fd};
    weft_scope_enter(&shield, WEFT_FOREVER, WEFT_SHIELD);
    int rc = file_op_run(&o);
    weft_scope_exit(&shield, 0);
    if (!o.ran) rc = close(fd) ? -errno : 0;
    return rc;
}

/* open(2) with O_CLOEXEC: the fd or -errno; with `st`, the opened file's
 * fstat(2) too (in the same trip to the thread). */
static int open_fd(const char *path, int flags, int mode, struct stat *st) {
    file_op_t o = {.op = OP_OPEN, .path = path, .flags = flags | O_CLOEXEC, .mode = mode, .st = st};
    return file_op_run(&o);
}

int weft_file_open(weft_file_t **out, const char *path, int flags, int mode) {
    if (!wf_current_task()) return WEFT_EPERM;
    if (!out || !path) return WEFT_EINVAL;
    /* Allocated first: failing after the open would mean closing again. */
    weft_file_t *f = wf_alloc(sizeof *f);
    if (!f) return WEFT_ENOMEM;
    struct stat st;
    int fd = open_fd(path, flags, mode, &st);
    if (fd < 0) {
        wf_free(f);
        return fd;
    }
    /* An O_DIRECT read bypasses the cache: with RWF_NOWAIT it would still
     * wait for the disk. */
    *f = (weft_file_t){.fd = fd, .cached_reads = S_ISREG(st.st_mode) && !(flags & O_DIRECT)};
    *out = f;
    return 0;
}

/* A read of a regular file from the page cache does not block: the worker
 * makes it with preadv2(RWF_NOWAIT), which fails with EAGAIN instead of
 * waiting for the disk, and saves the blocking thread's round trip (about
 * 3 µs, as long as copying 64 KiB).  At most INLINE_MAX bytes, so that the
 * copy holds the worker for some 25 µs at most.  1 with the count in *got
 * when it was made; 0 when it must go to a blocking thread (nothing cached,
 * too long, not a regular file, O_DIRECT, RWF_NOWAIT refused; a failure is
 * left to the thread's read to report). */
#define INLINE_MAX (256u * 1024u)

static int read_cached(weft_file_t *f, const file_op_t *o, int *got) {
#ifdef RWF_NOWAIT
    if (!f->cached_reads || atomic_load_explicit(&f->no_nowait, memory_order_relaxed) ||
        o->len > INLINE_MAX)
        return 0;
    struct iovec v = {o->buf, o->len};
    ssize_t n;
    do {
        n = preadv2(o->fd, &v, 1, o->op == OP_PREAD ? (off_t)o->offset : -1, RWF_NOWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EOPNOTSUPP || errno == ENOSYS)
            atomic_store_explicit(&f->no_nowait, 1, memory_order_relaxed);
        return 0;
    }
    *got = (int)n;
    return 1;
#else
    (void)f, (void)o, (void)got;
    return 0;
#endif
}

/* After a short read of n bytes: whether it stopped at the end of the file
 * rather than at the first byte not cached.  lseek and fstat do not block on
 * the local file systems that take RWF_NOWAIT. */
static int stopped_at_end(const file_op_t *o, int n) {
    struct stat st;
    off_t pos = o->op == OP_PREAD ? (off_t)o->offset + n : lseek(o->fd, 0, SEEK_CUR);
    return pos >= 0 && fstat(o->fd, &st) == 0 && pos >= st.st_size;
}

/* read or pread: from the page cache on the worker, else (or for the part
 * that was not cached) on a blocking thread. */
static int read_op(weft_file_t *f, file_op_t *o, wf_task_t *t) {
    int got, rc = wf_sync_cancelled(t);
    if (rc) return rc;
    if (!read_cached(f, o, &got)) return file_op_run(o);
    if (got == 0 || (size_t)got == o->len || stopped_at_end(o, got)) {
        wf_sync_after_fast(t); /* it did not wait: let others run now and then */
        return got;
    }
    /* Only the start was cached: the rest from a thread, so that a short
     * count still means the end of the file. */
    o->buf = (char *)o->buf + got;
    o->len -= (size_t)got;
    o->offset += got;
    int rest = file_op_run(o);
    return rest > 0 ? got + rest : got;
}

/* The checks common to the calls on an open file. */
static int fd_op(weft_file_t *f, int op, void *buf, size_t len, int64_t offset,
                 struct stat *st) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!f || (!buf && len) || len > INT_MAX || ((op == OP_FSTAT) && !st)) return WEFT_EINVAL;
    if ((op == OP_PREAD || op == OP_PWRITE) && offset < 0) return WEFT_EINVAL;
    file_op_t o = {.op = op, .fd = f->fd, .buf = buf, .len = len, .offset = offset, .st = st};
    return op == OP_READ || op == OP_PREAD ? read_op(f, &o, t) : file_op_run(&o);
}

int weft_file_read(weft_file_t *f, void *buf, size_t len) {
    return fd_op(f, OP_READ, buf, len, 0, NULL);
}

int weft_file_write(weft_file_t *f, const void *buf, size_t len) {
    return fd_op(f, OP_WRITE, (void *)(uintptr_t)buf, len, 0, NULL);
}

int weft_file_pread(weft_file_t *f, void *buf, size_t len, int64_t offset) {
    return fd_op(f, OP_PREAD, buf, len, offset, NULL);
}

int weft_file_pwrite(weft_file_t *f, const void *buf, size_t len, int64_t offset) {
    return fd_op(f, OP_PWRITE, (void *)(uintptr_t)buf, len, offset, NULL);
}

int weft_file_sync(weft_file_t *f) { return fd_op(f, OP_FSYNC, NULL, 0, 0, NULL); }

int weft_file_stat(weft_file_t *f, struct stat *st) {
    return fd_op(f, OP_FSTAT, NULL, 0, 0, st);
}

int weft_file_close(weft_file_t *f) {
    if (!wf_current_task()) return WEFT_EPERM;
    if (!f) return WEFT_EINVAL;
    int rc = close_fd(f->fd);
    wf_free(f);
    return rc;
}

int weft_path_stat(const char *path, struct stat *st) {
    if (!wf_current_task()) return WEFT_EPERM;
    if (!path || !st) return WEFT_EINVAL;
    file_op_t o = {.op = OP_STAT, .path = path, .st = st};
    return file_op_run(&o);
}

/* ---------------------------------------------------------------- whole files */

int weft_file_read_all(const char *path, void **data, size_t *len) {
    if (!wf_current_task()) return WEFT_EPERM;
    if (!path || !data || !len) return WEFT_EINVAL;
    *data = NULL;
    *len = 0;
    int fd = open_fd(path, O_RDONLY, 0, NULL);
    if (fd < 0) return fd;
    /* The size, when the file has one, sizes the buffer so that one read
     * fills it and the next sees the end; pipes and /proc files say 0. */
    struct stat st;
    file_op_t o = {.op = OP_FSTAT, .fd = fd, .st = &st};
    int rc = file_op_run(&o);
    size_t cap = 4096;
    if (rc == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size < SIZE_MAX - 1)
        cap = (size_t)st.st_size + 1;
    /* The buffer becomes the caller's, who frees it with free() as io.h
     * says: wf_alloc's memory is malloc's. */
    char *buf = rc == 0 ? wf_alloc(cap) : NULL;
    if (rc == 0 && !buf) rc = WEFT_ENOMEM;
    size_t n = 0;
    while (rc == 0) {
        if (cap - n < 2) { /* room for one byte and the NUL: grow */
            char *nb = cap <= SIZE_MAX / 2 ? wf_realloc(buf, cap * 2) : NULL;
            if (!nb) {
                rc = WEFT_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        o = (file_op_t){.op = OP_READ, .fd = fd, .buf = buf + n, .len = cap - n - 1};
        int got = file_op_run(&o);
        if (got < 0) rc = got;
        else if (got == 0) break;
        else n += (size_t)got;
    }
    int crc = close_fd(fd);
    if (rc == 0) rc = crc;
    if (rc) {
        wf_free(buf);
        return rc;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int weft_file_write_all(const char *path, const void *data, size_t len) {
    if (!wf_current_task()) return WEFT_EPERM;
    if (!path || (!data && len)) return WEFT_EINVAL;
    int fd = open_fd(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, NULL);
    if (fd < 0) return fd;
    const char *p = data;
    int rc = 0;
    while (len > 0) {
        file_op_t o = {.op = OP_WRITE, .fd = fd, .buf = (void *)(uintptr_t)p, .len = len};
        int put = file_op_run(&o);
        if (put < 0) {
            rc = put;
            break;
        }
        if (put == 0) { /* write(2) returns 0 only for len 0; never spin */
            rc = -EIO;
            break;
        }
        p += put;
        len -= (size_t)put;
    }
    /* close reports late write errors (NFS, quotas): they are the call's. */
    int crc = close_fd(fd);
    return rc ? rc : crc;
}
