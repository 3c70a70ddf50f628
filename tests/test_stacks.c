/* The task dump shows each waiting task's stack, from the public call it
 * waits in outwards (a frame-pointer walk of its saved context, named with
 * dladdr: this program is linked with -rdynamic), and the stack overflow
 * message names the function that hit the guard page. */
#define _GNU_SOURCE
#include "helpers.h"

#include <ctype.h>

/* Exported and not inlined: they must show by name. */
__attribute__((noinline)) int stacks_leaf(weft_event_t *e);
__attribute__((noinline)) int stacks_middle(weft_event_t *e);
int stacks_task(void *arg);

__attribute__((noinline)) int stacks_leaf(weft_event_t *e)
{
    int rc = weft_event_wait(e);
    __asm__ volatile("" ::: "memory"); /* no tail call */
    return rc;
}

__attribute__((noinline)) int stacks_middle(weft_event_t *e)
{
    int rc = stacks_leaf(e);
    __asm__ volatile("" ::: "memory");
    return rc;
}

int stacks_task(void *arg)
{
    int rc = stacks_middle(arg);
    __asm__ volatile("" ::: "memory");
    return rc;
}

/* Addresses and offsets out, so that the lines compare. */
static char *normalise(const char *text)
{
    char *out = malloc(strlen(text) + 1), *o = out;
    for (const char *p = text; *p;) {
        if (p[0] == '0' && p[1] == 'x') {
            *o++ = 'X';
            p += 2;
            while (isxdigit((unsigned char)*p))
                p++;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static int dumped_stack(void *arg)
{
    char **text = arg;
    weft_event_t *e;
    EXPECT_RC(weft_event_new(&e), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, stacks_task, e), 0);
    EXPECT_RC(weft_sleep(0.05), 0); /* it runs until it waits */
    size_t len = 0;
    FILE *mem = open_memstream(text, &len);
    weft_dump_tasks(mem);
    fclose(mem);
    weft_event_set(e);
    int rc = weft_group_close(&g, 0);
    weft_event_free(e);
    return rc;
}

static void waiting_task_shows_its_stack(void)
{
    char *text = NULL;
    WT_RUN_OK(dumped_stack, &text, 1);
    char *got = normalise(text);
    /* The waiting task's lines: from the call it waits in, out to the
     * function the task started with. */
    const char *want = "      task 'stacks_task': waiting on event for 0.0"; /* then the time */
    const char *at = strstr(got, want);
    if (!at) fail_msg("no waiting task in the dump:\n%s", text);
    const char *frames[] = {"at weft_event_wait+X (test_stacks)", "at stacks_leaf+X (test_stacks)",
                            "at stacks_middle+X (test_stacks)", "at stacks_task+X (test_stacks)"};
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        const char *f = strstr(at, frames[i]);
        if (!f) fail_msg("frame '%s' missing or out of order in:\n%s", frames[i], text);
        at = f;
    }
    free(got);
    free(text);
}

static const wt_case_t cases[] = {
    WT_TEST(waiting_task_shows_its_stack),
};
WT_SUITE(cases)
