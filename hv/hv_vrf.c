/* hv_vrf.c: the monitor's side of the verifier process: start it, take the
 * sealed code memfd from it, talk to it, reap it. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
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
    *fd = -1;
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    return vrf_msg_recv(sock, m, fd) == (ssize_t)sizeof *m ? 0 : -1;
}

/* CPU time (clock ticks, user + system) pid has used; 0 if unknown. */
static unsigned long long cpu_ticks(pid_t pid)
{
    char path[32], buf[512];
    unsigned long long ut = 0, st = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = pid > 0 ? fopen(path, "re") : NULL;
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after comm, which may hold ')' */
    /* fields 3..15: state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%llu %llu",
                     &ut, &st) != 2)
        return 0;
    return ut + st;
}

int hv_vrf_wait_ready(struct hv_vrf *v, pid_t helper, int idle_ms, int max_ms,
                      struct vrf_msg *ready)
{
    int fd = -1, waited = 0;
    unsigned long long used = cpu_ticks(v->pid) + cpu_ticks(helper), now;
    struct pollfd p = {.fd = v->sock, .events = POLLIN};
    for (;;) {
        int r = poll(&p, 1, idle_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != 0)
            break;
        waited += idle_ms;
        now = cpu_ticks(v->pid) + cpu_ticks(helper);
        if (now == used || waited >= max_ms) {
            hv_err("verifier: no READY message after %d s (%s)",
                   waited / 1000,
                   now == used ? "it stopped making progress"
                               : "the start-up limit");
            return -1;
        }
        used = now;
    }
    if (vrf_msg_recv(v->sock, ready, &fd) != (ssize_t)sizeof *ready) {
        hv_err("verifier: no READY message (it failed to load the guest "
               "code, see above)");
        if (fd >= 0)
            close(fd);
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

int hv_vrf_call_fd(struct hv_vrf *v, const struct vrf_msg *req, int send_fd,
                   struct vrf_msg *reply, int *fd, int timeout_ms)
{
    int got;
    if (fd)
        *fd = -1;
    if (v->sock < 0)
        return -1;
    if (vrf_msg_send(v->sock, req, send_fd) != 0 ||
        recv_msg(v->sock, reply, &got, timeout_ms) != 0) {
        hv_err("verifier: not answering; patching is disabled until the VM "
               "restarts");
        close(v->sock);
        v->sock = -1;
        (void)hv_vrf_reap(v); /* if it is gone; else the main loop does */
        return -1;
    }
    if (fd)
        *fd = got;
    else if (got >= 0)
        close(got);
    return 0;
}

int hv_vrf_call(struct hv_vrf *v, const struct vrf_msg *req,
                struct vrf_msg *reply, int *fd, int timeout_ms)
{
    return hv_vrf_call_fd(v, req, -1, reply, fd, timeout_ms);
}

int hv_vrf_reap(struct hv_vrf *v)
{
    int status;

    if (v->pid <= 0 || waitpid(v->pid, &status, WNOHANG) != v->pid)
        return 0;
    if (WIFSIGNALED(status))
        hv_err("verifier process %d was killed by signal %d (%s); reaped",
               (int)v->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        hv_err("verifier process %d exited with status %d; reaped", (int)v->pid,
               WEXITSTATUS(status));
    v->pid = -1;
    return 1;
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
