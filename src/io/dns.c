/*
 * DNS: getaddrinfo(3) and getnameinfo(3) on the runtime's blocking threads.
 *
 * A lookup can take seconds (a resolver timing out), and a thread cannot be
 * interrupted, so a cancelled caller abandons the call (abandon_on_cancel)
 * and returns WEFT_ECANCELED at once while the thread finishes on its own.
 * Everything the thread reads or writes therefore lives in a heap request,
 * never on the caller's stack: copies of the host, service, hints and
 * address, the output buffers and the result.  weft_to_thread_run_sync's
 * rule settles who frees it: after WEFT_ECANCELED, on_abandoned (exactly
 * once, whether or not the lookup ran); after anything else, the caller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <uv.h>

#include "weft.h"
#include "sched/task.h"
#include "sched/util.h"

enum { DNS_ADDRINFO, DNS_NAMEINFO };

typedef struct dns_req {
    int kind;
    int rc;                /* the lookup's result, set by the thread */
    union {
        struct {
            const char *host, *service;  /* copies in buf, or NULL */
            struct addrinfo hints;
            int has_hints;
            struct addrinfo *res;
        } ai;
        struct {
            struct sockaddr_storage addr;
            socklen_t addrlen;
            int flags;
            char *host, *service;        /* output buffers in buf, or NULL */
            size_t hostlen, servicelen;
        } ni;
    } u;
    char buf[];
} dns_req_t;

static void req_free(dns_req_t *r) {
    if (r->kind == DNS_ADDRINFO && r->u.ai.res) freeaddrinfo(r->u.ai.res);
    wf_free(r);
}

/* EAI_* to libuv's UV_EAI_* (libuv's own translation is private); errno is
 * the thread's, read right after the call. */
static int eai_to_uv(int e) {
    switch (e) {
    case 0: return 0;
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY: return UV_EAI_ADDRFAMILY;
#endif
    case EAI_AGAIN: return UV_EAI_AGAIN;
    case EAI_BADFLAGS: return UV_EAI_BADFLAGS;
#ifdef EAI_BADHINTS
    case EAI_BADHINTS: return UV_EAI_BADHINTS;
#endif
#ifdef EAI_CANCELED
    case EAI_CANCELED: return UV_EAI_CANCELED;
#endif
    case EAI_FAIL: return UV_EAI_FAIL;
    case EAI_FAMILY: return UV_EAI_FAMILY;
    case EAI_MEMORY: return UV_EAI_MEMORY;
#if defined(EAI_NODATA) && EAI_NODATA != EAI_NONAME
    case EAI_NODATA: return UV_EAI_NODATA;
#endif
    case EAI_NONAME: return UV_EAI_NONAME;
#ifdef EAI_OVERFLOW
    case EAI_OVERFLOW: return UV_EAI_OVERFLOW;
#endif
#ifdef EAI_PROTOCOL
    case EAI_PROTOCOL: return UV_EAI_PROTOCOL;
#endif
    case EAI_SERVICE: return UV_EAI_SERVICE;
    case EAI_SOCKTYPE: return UV_EAI_SOCKTYPE;
#ifdef EAI_SYSTEM
    case EAI_SYSTEM: return errno > 0 ? -errno : UV_EAI_FAIL;
#endif
    default: return UV_EAI_FAIL; /* glibc extras (EAI_IDN_ENCODE, ...) */
    }
}

/* On the blocking thread.  Always returns 0, so that a non-zero result of
 * weft_to_thread_run_sync always means "no result delivered". */
static int dns_thread(void *arg) {
    dns_req_t *r = arg;
    if (r->kind == DNS_ADDRINFO) {
        int e = getaddrinfo(r->u.ai.host, r->u.ai.service,
                            r->u.ai.has_hints ? &r->u.ai.hints : NULL, &r->u.ai.res);
        r->rc = eai_to_uv(e);
        if (e) r->u.ai.res = NULL;
    } else {
        int e = getnameinfo((const struct sockaddr *)&r->u.ni.addr, r->u.ni.addrlen,
                            r->u.ni.host, (socklen_t)r->u.ni.hostlen, r->u.ni.service,
                            (socklen_t)r->u.ni.servicelen, r->u.ni.flags);
        r->rc = eai_to_uv(e);
    }
    return 0;
}

static void dns_abandoned(void *arg, int rc) {
    (void)rc;
    req_free(arg);
}

/* Run the lookup: 0 (r->rc holds its result, the caller frees r) or the
 * call's own error (the caller frees r unless it is WEFT_ECANCELED: then
 * on_abandoned has or will). */
static int dns_run(dns_req_t *r) {
    weft_thread_opts_t o = {.abandon_on_cancel = 1, .on_abandoned = dns_abandoned};
    int rc = weft_to_thread_run_sync(dns_thread, r, &o);
    if (rc && rc != WEFT_ECANCELED) req_free(r);
    return rc;
}

int weft_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                     struct addrinfo **res) {
    if (!wf_current_task()) return WEFT_EPERM;
    if (!res) return WEFT_EINVAL;
    *res = NULL;
    size_t hl = host ? strlen(host) + 1 : 0, sl = service ? strlen(service) + 1 : 0;
    dns_req_t *r = wf_alloc(sizeof *r + hl + sl);
    if (!r) return WEFT_ENOMEM;
    memset(r, 0, sizeof *r);
    r->kind = DNS_ADDRINFO;
    if (host) r->u.ai.host = memcpy(r->buf, host, hl);
    if (service) r->u.ai.service = memcpy(r->buf + hl, service, sl);
    if (hints) {
        /* Only these four fields of hints mean anything; the rest must be
         * zero, which the copy guarantees whatever the caller left there. */
        r->u.ai.has_hints = 1;
        r->u.ai.hints.ai_flags = hints->ai_flags;
        r->u.ai.hints.ai_family = hints->ai_family;
        r->u.ai.hints.ai_socktype = hints->ai_socktype;
        r->u.ai.hints.ai_protocol = hints->ai_protocol;
    }
    int rc = dns_run(r);
    if (rc) return rc;
    rc = r->rc;
    *res = r->u.ai.res;
    r->u.ai.res = NULL; /* now the caller's */
    req_free(r);
    return rc;
}

void weft_freeaddrinfo(struct addrinfo *res) {
    if (res) freeaddrinfo(res);
}

int weft_getnameinfo(const struct sockaddr *addr, int flags, char *host, size_t hostlen,
                     char *service, size_t servicelen) {
    if (!wf_current_task()) return WEFT_EPERM;
    if (!host) hostlen = 0;
    if (!service) servicelen = 0;
    if (!addr || (!hostlen && !servicelen)) return WEFT_EINVAL;
    socklen_t addrlen;
    if (addr->sa_family == AF_INET) addrlen = sizeof(struct sockaddr_in);
    else if (addr->sa_family == AF_INET6) addrlen = sizeof(struct sockaddr_in6);
    else return UV_EAI_FAMILY;
    /* No name or service is longer than these, so larger buffers need no
     * larger copies. */
    if (hostlen > NI_MAXHOST) hostlen = NI_MAXHOST;
    if (servicelen > NI_MAXSERV) servicelen = NI_MAXSERV;
    dns_req_t *r = wf_alloc(sizeof *r + hostlen + servicelen);
    if (!r) return WEFT_ENOMEM;
    memset(r, 0, sizeof *r);
    r->kind = DNS_NAMEINFO;
    memcpy(&r->u.ni.addr, addr, addrlen);
    r->u.ni.addrlen = addrlen;
    r->u.ni.flags = flags;
    r->u.ni.host = hostlen ? r->buf : NULL;
    r->u.ni.hostlen = hostlen;
    r->u.ni.service = servicelen ? r->buf + hostlen : NULL;
    r->u.ni.servicelen = servicelen;
    int rc = dns_run(r);
    if (rc) return rc;
    rc = r->rc;
    if (rc == 0) {
        /* getnameinfo NUL-terminated them within the (clamped) lengths. */
        if (hostlen) memcpy(host, r->u.ni.host, strlen(r->u.ni.host) + 1);
        if (servicelen) memcpy(service, r->u.ni.service, strlen(r->u.ni.service) + 1);
    }
    req_free(r);
    return rc;
}
