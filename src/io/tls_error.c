/*
 * weft_tls_last_error: the text of a task's last TLS failure.  Each task
 * that fails gets one buffer, on its list of memory freed when it ends
 * (wf_task_defer_free), reused by its later failures; a plain thread (a
 * context made before weft_run) has a buffer of its own.
 */
#include <stdarg.h>
#include <stdio.h>

#include "io/tls.h"
#include "sched/task.h"
#include "sched/util.h"

#define TEXT_MAX 256

typedef struct text {
    struct wf_cleanup cleanup; /* first: the block is freed as that */
    char text[TEXT_MAX];
} text_t;

static _Thread_local char thread_text[TEXT_MAX];

/* Where the caller's text goes; NULL when a task's cannot be had. */
static char *slot(void) {
    wf_task_t *t = wf_current_task();
    if (!t) return thread_text;
    if (!t->io_error) {
        text_t *b = wf_alloc(sizeof *b);
        if (!b) return NULL;
        wf_task_defer_free(t, &b->cleanup);
        t->io_error = b->text;
    }
    return t->io_error;
}

int wf_tls_fail(const char *fmt, ...) {
    char *to = slot();
    if (to) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(to, TEXT_MAX, fmt, ap);
        va_end(ap);
    }
    return WEFT_ETLS;
}

const char *weft_tls_last_error(void) {
    wf_task_t *t = wf_current_task();
    const char *s = t ? t->io_error : thread_text;
    return s ? s : "";
}
