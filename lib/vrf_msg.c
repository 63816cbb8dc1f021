/* vrf_msg.c: one message, and at most one fd, over the monitor-verifier
 * socket: the sending and receiving both sides share. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/vrf_msg.h"

union vrf_msg_cmsg {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
};

int vrf_msg_fail(struct vrf_msg *reply, const char *reason)
{
    reply->type = VRF_MSG_FAIL;
    reply->status = -1;
    strncpy(reply->fail.reason, reason, sizeof reply->fail.reason - 1);
    return 0;
}

ssize_t vrf_send_fd(int sock, const void *buf, size_t len, int fd)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    union vrf_msg_cmsg c;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&c, 0, sizeof c);
        mh.msg_control = c.buf;
        mh.msg_controllen = sizeof c.buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

int vrf_msg_send(int sock, const struct vrf_msg *m, int fd)
{
    return vrf_send_fd(sock, m, sizeof *m, fd) == (ssize_t)sizeof *m ? 0 : -1;
}

ssize_t vrf_recv_fd(int sock, void *buf, size_t len, int *fd, int *truncated)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    union vrf_msg_cmsg c;
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = c.buf,
                        .msg_controllen = sizeof c.buf};
    *fd = -1;
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(fd, CMSG_DATA(cm), sizeof *fd);
    *truncated = n > 0 && (mh.msg_flags & MSG_CTRUNC);
    return n;
}

ssize_t vrf_msg_recv(int sock, struct vrf_msg *m, int *fd)
{
    int truncated;
    ssize_t n = vrf_recv_fd(sock, m, sizeof *m, fd, &truncated);
    if (n > 0 && (n != (ssize_t)sizeof *m || truncated)) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        errno = EBADMSG;
        return -1;
    }
    return n;
}
