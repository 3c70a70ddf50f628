/* examples/curl_fetch (libcurl's multi socket API driven by weft's
 * descriptor waits and timers), run as its user would run it: 100 transfers
 * from its own servers on 127.0.0.1, 8 at a time, the slow ones timed out
 * and removed from the multi handle, the refused ones reported, every socket
 * closed after weft_notify_closing.  Built and registered only where
 * libcurl is found and the examples are built (tests/CMakeLists.txt);
 * WEFT_EXAMPLES_DIR (from examples/CMakeLists.txt) is where they are. */
#define _GNU_SOURCE
#include "proc_helpers.h"

#ifndef WEFT_EXAMPLES_DIR
#error "WEFT_EXAMPLES_DIR must name the directory of the built examples"
#endif

/* Generous: the machine may be loaded; a hang still ends in a failure. */
#define RUN_TIMEOUT 120.0

static void run_curl_fetch(const char *timeout, int rounds)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/curl_fetch", WEFT_EXAMPLES_DIR);
    char *argv[] = {path, "--timeout", (char *)timeout, NULL};
    for (int i = 0; i < rounds; i++) {
        wt_proc_t p;
        int status = wt_proc_run(&p, argv, RUN_TIMEOUT);
        if (status != 0) {
            print_error("curl_fetch exited with %d; output:\n%s\n", status, p.out);
            fail();
        }
        wt_assert_output(&p, "#1   fast    ok: \"item 1: 1\"\n");
        wt_assert_output(&p, "#7   slow    timed out\n");
        wt_assert_output(&p, "#13  refused refused: ");
        wt_assert_output(&p, "#100 fast    ok: \"item 100: 10000\"\n");
        wt_assert_output(&p, "100 transfers: 90 ok, 5 timed out after ");
        wt_assert_output(&p, ", 5 refused, 0 failed otherwise\n");
        wt_assert_output(&p, "peak 8 in flight (limit 8)\n");
        wt_assert_output(&p, "curl_fetch: every transfer ended as expected, every socket closed\n");
        const char *s = strstr(p.out, "sockets: ");
        int opened = -1, closed = -2;
        assert_non_null(s);
        assert_int_equal(sscanf(s, "sockets: %d opened by libcurl, %d closed", &opened, &closed), 2);
        assert_true(opened >= 100);
        assert_int_equal(opened, closed);
        wt_proc_free(&p);
    }
}

/* A deadline far above what a fast transfer takes on a loaded machine. */
static void hundred_transfers(void) { run_curl_fetch("3", 1); }

/* Short deadlines, several runs: the slow transfers are cancelled while
 * their sockets are watched, again and again. */
static void short_deadlines(void) { run_curl_fetch("0.3", 3); }

static void bad_usage(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/curl_fetch", WEFT_EXAMPLES_DIR);
    char *argv[] = {path, "--timeout", "-1", NULL};
    wt_proc_t p;
    assert_int_equal(wt_proc_run(&p, argv, RUN_TIMEOUT), 2);
    wt_assert_output(&p, "usage: ");
    wt_proc_free(&p);
}

static const wt_case_t cases[] = {
    WT_TEST(hundred_transfers),
    WT_TEST(short_deadlines),
    WT_TEST(bad_usage),
};
WT_SUITE(cases)
