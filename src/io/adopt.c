/*
 * Descriptors handed over to weft: weft_stream_from_fd (a connected TCP or
 * Unix stream socket, or a pipe) and weft_listener_from_fd (a listening
 * one, as systemd's socket activation passes).  The object owns the
 * descriptor from the call on, so every failure closes it (unless it was
 * no open descriptor at all): the caller never has to guess whether it
 * still must.
 *
 * What the descriptor is comes from the kernel (fstat, SO_TYPE, the
 * address family, SO_ACCEPTCONN), not from the caller.  It is made
 * non-blocking and close-on-exec like every descriptor weft opens itself
 * (a child inherits none of them); an adopted stream is placed on a worker
 * as a new connection is (place.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/place.h"
#include "io/stream.h"

/* What fd is: a stream socket of a family weft knows (TCP or Unix;
 * *listening from SO_ACCEPTCONN) or a pipe; WEFT_EBADF for no descriptor,
 * WEFT_EINVAL for anything else. */
static int classify(int fd, int *is_tcp, int *listening) {
    struct stat st;
    *is_tcp = *listening = 0;
    if (fd < 0 || fstat(fd, &st) != 0) return WEFT_EBADF;
    if (S_ISFIFO(st.st_mode)) return 0;
    if (!S_ISSOCK(st.st_mode)) return WEFT_EINVAL;
    int type = 0;
    socklen_t len = sizeof type;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
        getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0)
        return WEFT_EINVAL;
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6 && ss.ss_family != AF_UNIX)
        return WEFT_EINVAL;
    *is_tcp = ss.ss_family != AF_UNIX;
    len = sizeof *listening;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, listening, &len) == 0 ? 0 : -errno;
}

/* Check fd (and where the object goes) for an adoption as a listener or
 * not: non-blocking and close-on-exec when it passes, closed when not. */
static int take(int fd, const void *out, int want_listening, int *is_tcp) {
    int listening = 0, rc = !out                ? WEFT_EINVAL
                            : !wf_current_task() ? WEFT_EPERM
                                                 : classify(fd, is_tcp, &listening);
    if (rc == 0 && listening != want_listening) rc = WEFT_EINVAL;
    /* A socket that never connected (or is still connecting) has no peer. */
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (rc == 0 && !want_listening && *is_tcp && getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        rc = -errno;
    int flags = rc ? 0 : fcntl(fd, F_GETFL);
    if (rc == 0 && (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
                    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0))
        rc = -errno;
    if (rc && rc != WEFT_EBADF && fd >= 0) close(fd);
    return rc;
}

int weft_stream_from_fd(weft_stream_t **out, int fd) {
    int is_tcp = 0, rc = take(fd, out, 0, &is_tcp);
    if (rc) return rc;
    wf_task_t *t = wf_current_task();
    return wf_stream_from_fd(fd, is_tcp, wf_io_place_connect(t->rt, t->io_home), out);
}

int weft_listener_from_fd(weft_listener_t **out, int fd) {
    int is_tcp = 0, rc = take(fd, out, 1, &is_tcp);
    if (rc) return rc;
    return wf_listener_adopt(out, fd, is_tcp);
}
