/* weft_strerror / weft_err_name: weft's own codes, then the system's errno
 * tables (glibc's *_np functions are thread-safe, unlike strerror), then
 * libuv's (its UV_EAI_* codes, which weft_getaddrinfo returns). */
#define _GNU_SOURCE
#include "weft.h"

#include <string.h>
#include <uv.h>

/* weft's own codes (besides WEFT_EOF): in -4100..-4199 and equal to no code
 * libuv defines, since io.h passes libuv's codes through unchanged. */
#define WF_OWN_CODE(v) \
    ((v) == WEFT_EGROUP || (v) == WEFT_ENOTSTARTED || (v) == WEFT_EINCOMPLETE || (v) == WEFT_ETLS)
_Static_assert(WEFT_EGROUP <= -4100 && WEFT_EGROUP >= -4199, "WEFT_EGROUP out of weft's range");
_Static_assert(WEFT_ENOTSTARTED <= -4100 && WEFT_ENOTSTARTED >= -4199,
               "WEFT_ENOTSTARTED out of weft's range");
_Static_assert(WEFT_EINCOMPLETE <= -4100 && WEFT_EINCOMPLETE >= -4199,
               "WEFT_EINCOMPLETE out of weft's range");
_Static_assert(WEFT_ETLS <= -4100 && WEFT_ETLS >= -4199, "WEFT_ETLS out of weft's range");
_Static_assert(WEFT_EOF == UV_EOF, "WEFT_EOF is libuv's UV_EOF");
#define WF_NOT_UV(name, text) \
    _Static_assert(UV_##name == UV_EOF || !WF_OWN_CODE(UV_##name), "a weft code equals UV_" #name);
UV_ERRNO_MAP(WF_NOT_UV)
#undef WF_NOT_UV

struct err_entry { int code; const char *name, *text; };

static const struct err_entry weft_errors[] = {
    {WEFT_EOF, "WEFT_EOF", "end of stream: every sender closed and the buffer is drained"},
    {WEFT_EGROUP, "WEFT_EGROUP", "several tasks of the group failed"},
    {WEFT_ENOTSTARTED, "WEFT_ENOTSTARTED", "task returned without calling weft_started"},
    {WEFT_EINCOMPLETE, "WEFT_EINCOMPLETE", "the stream ended before the requested bytes or delimiter"},
    {WEFT_ETLS, "WEFT_ETLS", "TLS failure (weft_tls_last_error says which)"},
    {WEFT_ECANCELED, "WEFT_ECANCELED", "operation cancelled"},
    {WEFT_EDEADLK, "WEFT_EDEADLK", "deadlock: every task blocked and nothing can wake any of them"},
    {WEFT_ETIMEDOUT, "WEFT_ETIMEDOUT", "deadline expired"},
    {WEFT_EINVAL, "WEFT_EINVAL", "invalid argument"},
    {WEFT_ENOMEM, "WEFT_ENOMEM", "out of memory"},
    {WEFT_EPERM, "WEFT_EPERM", "operation not permitted in this context"},
    {WEFT_EAGAIN, "WEFT_EAGAIN", "operation would block"},
    {WEFT_EPIPE, "WEFT_EPIPE", "every receiver is closed"},
    {WEFT_EBADF, "WEFT_EBADF", "handle closed or runtime finished"},
    {WEFT_EBUSY, "WEFT_EBUSY", "another task already waits for the same thing"},
};

static const struct err_entry *find(int err) {
    for (size_t i = 0; i < sizeof weft_errors / sizeof weft_errors[0]; i++)
        if (weft_errors[i].code == err) return &weft_errors[i];
    return NULL;
}

/* The system's name or description of a negative errno value, or NULL. */
static const char *system_lookup(int err, const char *(*lookup)(int)) {
    return err < 0 && err > -4096 && lookup ? lookup(-err) : NULL;
}

/* Does libuv know err?  The same switch as uv_err_name's own, so its case
 * labels are distinct on every platform libuv builds on.  Asked first
 * because for a code it does not know uv_strerror / uv_err_name return a
 * malloc'd string that nobody frees. */
static int uv_knows(int err) {
#define WF_UV_CASE(name, text) case UV_##name:
    switch (err) {
    UV_ERRNO_MAP(WF_UV_CASE)
        return 1;
    default:
        return 0;
    }
#undef WF_UV_CASE
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
#define SYSTEM_TEXT strerrordesc_np
#define SYSTEM_NAME strerrorname_np
#else
#define SYSTEM_TEXT NULL
#define SYSTEM_NAME NULL
#endif

const char *weft_strerror(int err) {
    const struct err_entry *e = find(err);
    if (e) return e->text;
    if (err == 0) return "success";
    const char *s = system_lookup(err, SYSTEM_TEXT);
    if (!s && uv_knows(err)) s = uv_strerror(err);
    return s ? s : "unknown error";
}

const char *weft_err_name(int err) {
    const struct err_entry *e = find(err);
    if (e) return e->name;
    if (err == 0) return "OK";
    const char *s = system_lookup(err, SYSTEM_NAME);
    if (!s && uv_knows(err)) s = uv_err_name(err);
    return s ? s : "UNKNOWN";
}
