/*
 * file_read — read a file of N MiB (default 256) in 64 KiB chunks with
 * weft_file_open / weft_file_read from one task, MB/s (median of the rounds,
 * after one warm-up read).  The file is written once to $TMPDIR (default
 * /tmp) before the measurements and removed after, so every round reads it
 * from the page cache: what is measured is the cost of going through the
 * blocking pool, not the disk.  Every byte is checked against the pattern.
 *
 * Baseline: the same reads with plain read(2) on the calling thread.
 */
#include <fcntl.h>

#include "bench.h"

#define CHUNK (64 * 1024)

static char path[4096];
static char chunk[CHUNK];

static unsigned char pattern(long off) { return (unsigned char)(off * 131 + (off >> 16)); }

static void check_chunk(const char *buf, long off, long len)
{
    for (long i = 0; i < len; i += 4093)
        if ((unsigned char)buf[i] != pattern(off + i))
            bench_fail("byte %ld of the file is wrong", off + i);
}

/* MB/s of reading the first `mib` MiB of the file, with weft or plain read(2). */
static double read_all(long mib, int use_weft)
{
    long size = mib << 20, off = 0;
    uint64_t t0 = bench_now_ns();
    weft_file_t *f = NULL;
    int fd = -1;
    if (use_weft) bench_check_rc(weft_file_open(&f, path, O_RDONLY, 0), "weft_file_open");
    else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) bench_fail("open %s", path);
    while (off < size) { /* the warm-up reads only the file's start */
        long n = use_weft ? weft_file_read(f, chunk, CHUNK) : (long)read(fd, chunk, CHUNK);
        if (n < 0) bench_fail("read at %ld: %ld", off, n);
        if (n == 0) break;
        check_chunk(chunk, off, n);
        off += n;
    }
    if (use_weft) bench_check_rc(weft_file_close(f), "weft_file_close");
    else close(fd);
    uint64_t t1 = bench_now_ns();
    if (off != size) bench_fail("read %ld bytes, want %ld", off, size);
    return (double)size / 1e6 / ((double)(t1 - t0) / 1e9);
}

static double weft_round(void *ctx, long n, int round)
{
    (void)ctx, (void)round;
    return read_all(n, 1);
}

static double plain_round(void *ctx, long n, int round)
{
    (void)ctx, (void)round;
    return read_all(n, 0);
}

static int bench_main(void *arg)
{
    bench_rounds_run(arg, "warm-up", weft_round, NULL);
    return 0;
}

static void write_file(long mib)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/weft_file_read_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) bench_fail("mkstemp %s", path);
    for (long off = 0; off < mib << 20; off += CHUNK) {
        for (long i = 0; i < CHUNK; i++) chunk[i] = (char)pattern(off + i);
        if (write(fd, chunk, CHUNK) != CHUNK) bench_fail("writing %s", path);
    }
    close(fd);
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_rounds_args(argc, argv, 256, "MiB to read");
    bench_rounds_t w, b;
    bench_rounds_init(&w, &a, "MB/s");
    bench_rounds_init(&b, &a, "MB/s");
    write_file(a.n);
    printf("# file_read: %ld MiB in 64 KiB chunks from the page cache, workers=%u, median of "
           "%d rounds after 1 warm-up\n", a.n, a.workers, a.reps);
    bench_run(&a, bench_main, &w);
    double weft = bench_rounds_median(&w, "weft rounds");
    bench_rounds_run(&b, "baseline warm-up", plain_round, NULL);
    double base = bench_rounds_median(&b, "baseline rounds");
    unlink(path);
    bench_report("file_read", weft, "read_2", base, "MB/s");
    return 0;
}
