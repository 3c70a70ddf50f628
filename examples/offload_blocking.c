/*
 * offload_blocking — hash every file of a directory with a blocking function.
 *
 * hash_file below is ordinary blocking code (open, read, close, FNV-1a): run
 * on a worker it would stop every task queued there.  Each file gets a task
 * that runs hash_file through weft_to_thread_run_sync on a pooled blocking
 * thread, and a capacity limiter of -j tokens bounds how many run at once
 * (however many tasks wait): the disk sees -j readers, not one per file.
 * Listing the directory blocks too, so it goes through a thread as well.
 *
 * Finished tasks send their file into a channel; a reporter task turns that
 * into a progress line (redrawn in place on a terminal, a line per quarter
 * otherwise).  hash_file polls weft_from_thread_check_cancelled between
 * chunks, so cancelling the run stops a long hash early.
 *
 * usage: offload_blocking [DIR] [-j THREADS]
 * Without DIR it writes FILES files into a new temporary directory, hashes
 * them and removes them again.
 */
#define _GNU_SOURCE /* d_type */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <weft.h>

#define FILES 48
#define CHUNK 65536

struct job {
    char *name;    /* file name within the directory */
    char *path;
    uint64_t hash;
    uint64_t bytes;
    int rc;
    int busy;      /* files being hashed when this one started, itself included */
};

struct hasher {
    const char *dir;
    unsigned threads;
    struct job *jobs;
    size_t n_jobs;
    atomic_int busy; /* blocking threads hashing right now */
};

/* ---------------------------------------------------------------- blocking code */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

struct hash_call {
    struct hasher *h;
    struct job *job;
};

/* FNV-1a (64 bit) of a whole file.  Runs on a blocking thread. */
static int hash_file(void *arg) {
    struct hash_call *c = arg;
    struct job *j = c->job;
    j->busy = atomic_fetch_add(&c->h->busy, 1) + 1;
    unsigned char *buf = malloc(CHUNK);
    int rc = buf ? 0 : WEFT_ENOMEM, fd = -1;
    if (rc == 0 && (fd = open(j->path, O_RDONLY | O_CLOEXEC)) < 0) rc = -errno;
    uint64_t hash = FNV_OFFSET;
    ssize_t n;
    while (rc == 0 && (n = read(fd, buf, CHUNK)) != 0) {
        if (n < 0) {
            if (errno != EINTR) rc = -errno;
            continue;
        }
        for (ssize_t i = 0; i < n; i++) hash = (hash ^ buf[i]) * FNV_PRIME;
        j->bytes += (uint64_t)n;
        rc = weft_from_thread_check_cancelled(); /* the caller gave up: stop early */
    }
    if (fd >= 0) close(fd);
    free(buf);
    j->hash = hash;
    atomic_fetch_sub(&c->h->busy, 1);
    return rc;
}

static int cmp_jobs(const void *a, const void *b) {
    return strcmp(((const struct job *)a)->name, ((const struct job *)b)->name);
}

/* The regular files of h->dir, sorted by name, into h->jobs.  Blocking. */
static int list_dir(void *arg) {
    struct hasher *h = arg;
    DIR *d = opendir(h->dir);
    if (d == NULL) return -errno;
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (h->n_jobs == cap) {
            cap = cap ? 2 * cap : 64;
            struct job *grown = realloc(h->jobs, cap * sizeof *grown);
            if (grown == NULL) {
                rc = WEFT_ENOMEM;
                break;
            }
            h->jobs = grown;
        }
        struct job *j = &h->jobs[h->n_jobs];
        *j = (struct job){.name = strdup(e->d_name)};
        if (j->name == NULL || asprintf(&j->path, "%s/%s", h->dir, e->d_name) < 0) {
            free(j->name);
            rc = WEFT_ENOMEM;
            break;
        }
        h->n_jobs++;
    }
    closedir(d);
    qsort(h->jobs, h->n_jobs, sizeof *h->jobs, cmp_jobs);
    return rc;
}

/* ---------------------------------------------------------------- tasks */

struct hash_task {
    struct hash_call call;
    weft_limiter_t *limiter;
    weft_sender_t *done;
};

static int hash_task(void *arg) {
    struct hash_task *t = arg;
    weft_thread_opts_t opts = {.limiter = t->limiter};
    t->call.job->rc = weft_to_thread_run_sync(hash_file, &t->call, &opts);
    /* A file that cannot be read is reported, not fatal: return 0. */
    int rc = weft_send(t->done, t->call.job);
    return rc == WEFT_ECANCELED ? rc : 0;
}

struct progress {
    weft_receiver_t *done;
    size_t total;
    int tty;
};

static void draw_progress(const struct progress *p, size_t done, uint64_t bytes) {
    int percent = p->total ? (int)(100 * done / p->total) : 100;
    if (p->tty) {
        printf("\rprogress: %3d%% (%zu/%zu files, %.1f MiB)", percent, done, p->total, bytes / 1048576.0);
        if (done == p->total) printf("\n");
        fflush(stdout);
    } else {
        printf("progress: %3d%% (%zu/%zu files, %.1f MiB)\n", percent, done, p->total, bytes / 1048576.0);
    }
}

static int report_progress(void *arg) {
    struct progress *p = arg;
    size_t done = 0;
    uint64_t bytes = 0;
    int quarter = 0, rc;
    void *item;
    while ((rc = weft_recv(p->done, &item)) == 0) {
        bytes += ((struct job *)item)->bytes;
        done++;
        int q = p->total ? (int)(4 * done / p->total) : 4;
        if (p->tty || q > quarter) draw_progress(p, done, bytes);
        quarter = q;
    }
    weft_receiver_close(p->done);
    return rc == WEFT_EOF ? 0 : rc;
}

static int hash_all(struct hasher *h) {
    weft_limiter_t *limiter;
    weft_sender_t *tx;
    struct progress progress = {.total = h->n_jobs, .tty = isatty(STDOUT_FILENO)};
    struct hash_task *tasks = calloc(h->n_jobs ? h->n_jobs : 1, sizeof *tasks);
    if (tasks == NULL) return WEFT_ENOMEM;
    int rc = weft_limiter_new(&limiter, h->threads);
    if (rc == 0 && (rc = weft_channel(16, &tx, &progress.done)) != 0) weft_limiter_free(limiter);
    if (rc != 0) {
        free(tasks);
        return rc;
    }
    weft_group_t outer, hashers;
    weft_group_open(&outer);
    weft_group_spawn(&outer, report_progress, &progress);
    weft_group_open(&hashers);
    for (size_t i = 0; i < h->n_jobs; i++) {
        tasks[i] = (struct hash_task){{h, &h->jobs[i]}, limiter, tx};
        weft_group_spawn(&hashers, hash_task, &tasks[i]);
    }
    rc = weft_group_close(&hashers, 0);
    weft_sender_close(tx); /* every hasher has finished: the reporter sees WEFT_EOF */
    rc = weft_group_close(&outer, rc);
    weft_limiter_free(limiter);
    free(tasks);
    return rc;
}

static int offload_blocking(void *arg) {
    struct hasher *h = arg;
    double t0 = weft_now();
    int rc = weft_to_thread_run_sync(list_dir, h, NULL);
    if (rc != 0) {
        fprintf(stderr, "offload_blocking: %s: %s\n", h->dir, weft_strerror(rc));
        return rc;
    }
    printf("hashing %zu files of %s on at most %u blocking threads\n", h->n_jobs, h->dir, h->threads);
    if ((rc = hash_all(h)) != 0) return rc;

    uint64_t bytes = 0;
    size_t failed = 0;
    int peak = 0; /* the most files hashed at once: the limiter's doing */
    for (size_t i = 0; i < h->n_jobs; i++) {
        const struct job *j = &h->jobs[i];
        peak = j->busy > peak ? j->busy : peak;
        if (j->rc != 0) {
            printf("error: %s: %s\n", j->name, weft_strerror(j->rc));
            failed++;
        } else {
            printf("%016" PRIx64 "  %10" PRIu64 "  %s\n", j->hash, j->bytes, j->name);
            bytes += j->bytes;
        }
    }
    printf("hashed %zu files (%.1f MiB) in %.2f s, peak %d hashing at once (limiter of %u), "
           "%zu failed\n",
           h->n_jobs - failed, bytes / 1048576.0, weft_now() - t0, peak, h->threads,
           failed);
    return failed ? -EIO : 0;
}

/* ---------------------------------------------------------------- sample data */

/* FILES files of 1 KiB to about 280 KiB of pseudo-random bytes. */
static int write_samples(const char *dir) {
    uint64_t x = 42;
    for (int i = 0; i < FILES; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/sample-%02d.bin", dir, i);
        FILE *f = fopen(path, "wb");
        if (f == NULL) return -errno;
        size_t size = 1024 + (size_t)i * i * 128;
        for (size_t k = 0; k < size; k++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            putc((int)(x >> 56), f);
        }
        if (fclose(f) != 0) return -errno;
    }
    return 0;
}

static void remove_samples(const char *dir) {
    for (int i = 0; i < FILES; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/sample-%02d.bin", dir, i);
        unlink(path);
    }
    rmdir(dir);
}

int main(int argc, char **argv) {
    struct hasher h = {.threads = 4};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-j") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0) {
            h.threads = (unsigned)atoi(argv[++i]);
        } else if (argv[i][0] != '-' && h.dir == NULL) {
            h.dir = argv[i];
        } else {
            fprintf(stderr, "usage: %s [DIR] [-j THREADS]\n", argv[0]);
            return 2;
        }
    }
    char tmp[] = "/tmp/weft-offload-XXXXXX";
    int own_dir = h.dir == NULL;
    if (own_dir) {
        int rc = mkdtemp(tmp) ? write_samples(tmp) : -errno;
        if (rc != 0) {
            fprintf(stderr, "offload_blocking: cannot write sample files: %s\n", strerror(-rc));
            return 1;
        }
        h.dir = tmp;
        printf("no directory given: wrote %d sample files into %s\n", FILES, tmp);
    }
    weft_config_t config = {.workers = 2};
    int rc = weft_run(offload_blocking, &h, &config);
    if (own_dir) {
        remove_samples(tmp);
        printf("removed %s\n", tmp);
    }
    for (size_t i = 0; i < h.n_jobs; i++) {
        free(h.jobs[i].name);
        free(h.jobs[i].path);
    }
    free(h.jobs);
    return rc == 0 ? 0 : 1;
}
