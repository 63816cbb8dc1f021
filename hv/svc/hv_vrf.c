/* hv_vrf.c: the monitor's side of the verifier process: start it (its own
 * executable, hvpatch-verifier), take the sealed code memfd from it, talk
 * to it, reap it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/svc/hv_vrf.h"
#include "lib/hv_exe.h"
#include "lib/hv_log.h"
#include "lib/vrf_msg.h"

extern char **environ;

/* Copies buf[0..len) into a memfd and seals it (VRF_INPUT_SEALS): the
 * verifier maps the very bytes the monitor loads, and nobody can change
 * them afterwards. Returns the fd, or -1 (logged). */
static int sealed_copy(const char *what, const uint8_t *buf, size_t len)
{
    int fd = memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        hv_err("verifier: memfd_create (%s) failed: %s", what, strerror(errno));
        return -1;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            hv_err("verifier: write (%s memfd) failed: %s", what,
                   n < 0 ? strerror(errno) : "no progress");
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, VRF_INPUT_SEALS) < 0) {
        hv_err("verifier: fcntl (F_ADD_SEALS, %s memfd) failed: %s", what,
               strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The verifier's command line (vrf_main.c parses it); the strings live in
 * num[] and cfg. */
struct vrf_argv {
    char *argv[24];
    char num[4][24];
};

static void build_argv(struct vrf_argv *a, char *path,
                       const struct vrf_proc_cfg *cfg)
{
    int n = 0;
    snprintf(a->num[0], sizeof a->num[0], "%d", (int)getpid());
    snprintf(a->num[1], sizeof a->num[1], "%" PRIu64, cfg->mem_size);
    snprintf(a->num[2], sizeof a->num[2], "%u", cfg->ncpus);
    snprintf(a->num[3], sizeof a->num[3], "%u", cfg->tpm_flags);
    a->argv[n++] = path;
    a->argv[n++] = "--monitor-pid";
    a->argv[n++] = a->num[0];
    a->argv[n++] = "--kind";
    a->argv[n++] = (char *)cfg->kind;
    a->argv[n++] = "--mem-size";
    a->argv[n++] = a->num[1];
    a->argv[n++] = "--cpus";
    a->argv[n++] = a->num[2];
    a->argv[n++] = "--tpm-flags";
    a->argv[n++] = a->num[3];
    const char *opt[][2] = {{"--tcti", cfg->tcti},
                            {"--cmdline", cfg->cmdline},
                            {"--trust", cfg->trust_dir},
                            {"--audit", cfg->audit_path}};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
        if (!opt[i][1])
            continue;
        a->argv[n++] = (char *)opt[i][0];
        a->argv[n++] = (char *)opt[i][1];
    }
    if (cfg->initrd)
        a->argv[n++] = "--initrd";
    a->argv[n] = NULL;
}

/* In the forked child: the verifier dies with the monitor (the death
 * signal survives execve), sees only /dev/null, stderr and its inputs at
 * their fixed numbers (VRF_PROC_FD_*), and runs hvpatch-verifier. */
static void exec_child(pid_t parent, char *const argv[], const int in[3])
{
    int fds[3], null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(VRF_EXIT_FAIL);
    /* Above every target number first, so no dup2 clobbers an input. */
    for (int i = 0; i < 3; i++)
        fds[i] = in[i] < 0 ? -1 : fcntl(in[i], F_DUPFD_CLOEXEC, 10);
    if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
        dup2(null, STDOUT_FILENO) < 0) {
        hv_err("verifier: /dev/null as stdin/stdout failed: %s",
               strerror(errno));
        _exit(VRF_EXIT_FAIL);
    }
    for (int i = 0; i < 3; i++)
        if (in[i] >= 0 &&
            (fds[i] < 0 || dup2(fds[i], VRF_PROC_FD_SOCK + i) < 0)) {
            hv_err("verifier: passing fd %d failed: %s", VRF_PROC_FD_SOCK + i,
                   strerror(errno));
            _exit(VRF_EXIT_FAIL);
        }
    close_range(in[2] >= 0 ? VRF_PROC_FD_INITRD + 1 : VRF_PROC_FD_IMAGE + 1,
                ~0u, 0);
    execve(argv[0], argv, environ);
    hv_err("verifier: execve %s failed: %s", argv[0], strerror(errno));
    _exit(VRF_EXIT_FAIL);
}

/* Forks and execs the verifier with in[] = socket, image, initrd (or -1).
 * Returns 0 or -1 (logged). */
static int spawn(struct hv_vrf *v, char *path, const struct vrf_proc_cfg *cfg,
                 const int in[3])
{
    struct vrf_argv a;
    pid_t parent = getpid();
    build_argv(&a, path, cfg);
    v->pid = fork();
    if (v->pid < 0) {
        hv_err("verifier: fork failed: %s", strerror(errno));
        return -1;
    }
    if (v->pid == 0)
        exec_child(parent, a.argv, in); /* does not return */
    return 0;
}

int hv_vrf_start(struct hv_vrf *v, const uint8_t *image, size_t len,
                 const struct vrf_proc_cfg *cfg)
{
    char path[PATH_MAX];
    int sv[2] = {-1, -1}, in[3] = {-1, -1, -1}, ret = -1;
    v->pid = -1;
    v->sock = -1;
    if (hv_exe_find(HV_EXE_VERIFIER, path, sizeof path) != 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        hv_err("verifier: socketpair failed: %s", strerror(errno));
        return -1;
    }
    in[0] = sv[1];
    in[1] = sealed_copy("hvpatch-image", image, len);
    if (cfg->initrd)
        in[2] = sealed_copy("hvpatch-initrd", cfg->initrd, cfg->initrd_len);
    if (in[1] >= 0 && (!cfg->initrd || in[2] >= 0) &&
        spawn(v, path, cfg, in) == 0) {
        v->sock = sv[0];
        sv[0] = -1;
        ret = 0;
    }
    for (int i = 0; i < 3; i++)
        if (in[i] >= 0)
            close(in[i]);
    if (sv[0] >= 0)
        close(sv[0]);
    return ret;
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

/* The verifier is gone or silent: it is not trusted to come back. */
static int cut_off(struct hv_vrf *v)
{
    hv_err("verifier: not answering; patching is disabled until the VM "
           "restarts");
    close(v->sock);
    v->sock = -1;
    (void)hv_vrf_reap(v); /* if it is gone; else the main loop does */
    return -1;
}

int hv_vrf_recv(struct hv_vrf *v, struct vrf_msg *m, int *fd, int timeout_ms)
{
    *fd = -1;
    if (v->sock < 0)
        return -1;
    return recv_msg(v->sock, m, fd, timeout_ms) == 0 ? 0 : cut_off(v);
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
        recv_msg(v->sock, reply, &got, timeout_ms) != 0)
        return cut_off(v);
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
