/* hv_vrf.c: the monitor's side of the verifier process: start it, take the
 * sealed code memfd from it, talk to it, reap it. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/hv_log.h"
#include "hv/hv_vrf.h"
#include "verifier/vrf_proc.h"

int hv_vrf_start(struct hv_vrf *v, const uint8_t *image, size_t len,
                 const struct vrf_proc_cfg *cfg)
{
    int sv[2];
    v->pid = -1;
    v->sock = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        hv_err("verifier: socketpair failed: %s", strerror(errno));
        return -1;
    }
    v->pid = fork();
    if (v->pid < 0) {
        hv_err("verifier: fork failed: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (v->pid == 0) {
        close(sv[0]);
        vrf_proc_main(sv[1], image, len, cfg); /* does not return */
    }
    close(sv[1]);
    v->sock = sv[0];
    return 0;
}

/* Receives one message and at most one fd; -1 on EOF, error or timeout. */
static int recv_msg(int sock, struct vrf_msg *m, int *fd, int timeout_ms)
{
    struct pollfd p = {.fd = sock, .events = POLLIN};
    struct iovec iov = {.iov_base = m, .iov_len = sizeof *m};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = c.buf,
                        .msg_controllen = sizeof c.buf};
    *fd = -1;
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(fd, CMSG_DATA(cm), sizeof *fd);
    if (n != (ssize_t)sizeof *m || (mh.msg_flags & MSG_CTRUNC)) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return -1;
    }
    return 0;
}

int hv_vrf_wait_ready(struct hv_vrf *v, int timeout_ms, struct vrf_msg *ready)
{
    int fd;
    if (recv_msg(v->sock, ready, &fd, timeout_ms) != 0) {
        hv_err("verifier: no READY message (it failed to load the guest "
               "code, see above)");
        return -1;
    }
    if (ready->type != VRF_MSG_READY || fd < 0) {
        hv_err("verifier: expected READY with the code memfd, got message "
               "type %u",
               ready->type);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int hv_vrf_call(struct hv_vrf *v, const struct vrf_msg *req,
                struct vrf_msg *reply, int *fd, int timeout_ms)
{
    int got;
    if (fd)
        *fd = -1;
    if (v->sock < 0)
        return -1;
    if (send(v->sock, req, sizeof *req, MSG_NOSIGNAL) != sizeof *req ||
        recv_msg(v->sock, reply, &got, timeout_ms) != 0) {
        hv_err("verifier: not answering; patching is disabled until the VM "
               "restarts");
        close(v->sock);
        v->sock = -1;
        return -1;
    }
    if (fd)
        *fd = got;
    else if (got >= 0)
        close(got);
    return 0;
}

void hv_vrf_stop(struct hv_vrf *v)
{
    int status;
    if (v->sock >= 0)
        close(v->sock);
    v->sock = -1;
    if (v->pid <= 0)
        return;
    for (int i = 0; i < 100; i++) { /* up to 1 s for a clean exit */
        if (waitpid(v->pid, &status, WNOHANG) == v->pid) {
            v->pid = -1;
            return;
        }
        usleep(10000);
    }
    kill(v->pid, SIGKILL);
    waitpid(v->pid, &status, 0);
    v->pid = -1;
}
