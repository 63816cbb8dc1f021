/* hv_swtpm.c: start, watch and stop the per-VM swtpm; no orphan ever. */
#include "hv/svc/hv_swtpm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/lib_err.h"

#define SOCK_NAME "swtpm.sock"
#define CTRL_SUFFIX ".ctrl"
#define LOG_NAME "swtpm.log"
#define POLL_MS 5
#define HV_SWTPM_LOG_MAX (1 << 20)

extern char **environ;

static const struct lib_err_row hv_swtpm_errs[] = {
    LIB_ERR_ROW(HV_SWTPM_OK, "success"),
    LIB_ERR_ROW(HV_ERR_SWTPM_ARG, "swtpm: invalid argument"),
    LIB_ERR_ROW(HV_ERR_SWTPM_PATH,
                "swtpm: state directory path too long or has ','"),
    LIB_ERR_ROW(HV_ERR_SWTPM_STATE, "swtpm: state directory not usable"),
    LIB_ERR_ROW(HV_ERR_SWTPM_BUSY,
                "swtpm: another swtpm serves this state directory"),
    LIB_ERR_ROW(HV_ERR_SWTPM_SPAWN, "swtpm: cannot start the swtpm program"),
    LIB_ERR_ROW(HV_ERR_SWTPM_EXITED, "swtpm: exited during start-up"),
    LIB_ERR_ROW(HV_ERR_SWTPM_TIMEOUT, "swtpm: did not answer in time"),
};

const char *hv_swtpm_strerror(int err)
{
    return lib_err_msg(hv_swtpm_errs, LIB_ERR_COUNT(hv_swtpm_errs), err);
}

static void errf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (buf == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *hv_swtpm_tcti(const struct hv_swtpm *s)
{
    return s ? s->tcti : NULL;
}

/* 1 if something accepts connections on path, 0 if not. */
static int sock_alive(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok;

    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* 1 if the TPM behind the unix socket path answers a command within
 * timeout_ms, else 0 with why in err. The command is raw TPM 2.0 bytes,
 * not tpm2-tss: the monitor maps no TPM library (the verifier, its own
 * executable, does the real TPM work). TPM2_GetRandom of 8 bytes; any
 * response header (tag TPM_ST_NO_SESSIONS/SESSIONS, size >= 10) counts. */
static int tpm_answers(const char *path, unsigned timeout_ms, char *err,
                       size_t errlen)
{
    static const uint8_t cmd[12] = {0x80, 0x01, 0, 0, 0, 12,
                                    0, 0, 0x01, 0x7b, 0, 8};
    uint8_t rsp[10];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct pollfd p = {.events = POLLIN};
    /* recv's bound too: a partial header must not hang the start-up */
    struct timeval tv = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000};
    ssize_t n = -1;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    p.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p.fd >= 0 &&
        setsockopt(p.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
        connect(p.fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        send(p.fd, cmd, sizeof cmd, MSG_NOSIGNAL) == (ssize_t)sizeof cmd &&
        poll(&p, 1, (int)timeout_ms) == 1)
        n = recv(p.fd, rsp, sizeof rsp, MSG_WAITALL);
    int ok = n == (ssize_t)sizeof rsp && rsp[0] == 0x80 &&
             (rsp[1] == 0x01 || rsp[1] == 0x02) && rsp[2] == 0 && rsp[3] == 0 &&
             (rsp[4] << 8 | rsp[5]) >= 10;
    if (!ok)
        errf(err, errlen, "TPM2_GetRandom on %s: %s", path,
             n < 0 ? strerror(errno) : "no well-formed response");
    if (p.fd >= 0)
        close(p.fd);
    return ok;
}

/* The last line swtpm wrote to its log, for error messages. */
static void log_tail(const char *path, char *out, size_t cap)
{
    char buf[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    out[0] = '\0';
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, from);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    const char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    size_t len = strlen(line) < cap - 1 ? strlen(line) : cap - 1;
    memcpy(out, line, len);
    out[len] = '\0';
}

static void describe_status(int status, char *out, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, cap, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, cap, "wait status 0x%x", (unsigned)status);
}

/* Reaps s->pid without blocking: 1 if it exited (status recorded). */
static int try_reap(struct hv_swtpm *s)
{
    int status;
    pid_t r;

    if (s->pid <= 0)
        return 1;
    do
        r = waitpid(s->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    s->status = r == s->pid ? status : 0;
    s->reaped = 1;
    s->pid = 0;
    return 1;
}

int hv_swtpm_running(struct hv_swtpm *s)
{
    if (s == NULL || s->pid <= 0)
        return 0;
    return !try_reap(s);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child(const char *bin, char *const argv[], int devnull, int logfd,
                  int errfd, pid_t parent, int maxfd)
{
    struct sigaction dfl;
    sigset_t none;
    int err;

    /* Die with the monitor; if it is already gone, don't start at all. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        goto fail;
    if (getppid() != parent)
        _exit(127);
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &dfl, NULL); /* SIGKILL/SIGSTOP: EINVAL */
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
        goto fail;
    if (setpgid(0, 0) != 0)
        goto fail;
    if (dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
        goto fail;
    /* No inherited descriptor beyond 0-2 survives exec (errfd is
     * O_CLOEXEC already and reports an exec failure). */
    if (syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) != 0)
        for (int fd = 3; fd < maxfd; fd++)
            if (fd != errfd)
                (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    execve(bin, argv, environ);
fail:
    err = errno;
    (void)!write(errfd, &err, sizeof err);
    _exit(127);
}

static void unlink_socks(const struct hv_swtpm *s)
{
    char ctrl[HV_SWTPM_SOCK_MAX + 8];
    if (s->sock[0] == '\0')
        return;
    snprintf(ctrl, sizeof ctrl, "%s%s", s->sock, CTRL_SUFFIX);
    (void)unlink(s->sock);
    (void)unlink(ctrl);
}

int hv_swtpm_start(struct hv_swtpm *s, const struct hv_swtpm_config *cfg,
                   char *errbuf, size_t errlen)
{
    char a_state[4200], a_server[HV_SWTPM_SOCK_MAX + 64];
    char a_ctrl[HV_SWTPM_SOCK_MAX + 64], ctrl[HV_SWTPM_SOCK_MAX + 8];
    char tail[256], why[96];
    int pipefd[2] = {-1, -1}, devnull = -1, logfd = -1;
    int ret = HV_ERR_SWTPM_ARG;
    struct rlimit rl;

    if (s == NULL || cfg == NULL || cfg->state_dir == NULL ||
        cfg->state_dir[0] == '\0') {
        errf(errbuf, errlen, "swtpm: no state directory given");
        return HV_ERR_SWTPM_ARG;
    }
    memset(s, 0, sizeof *s);
    const char *dir = cfg->state_dir;
    const char *bin = cfg->swtpm_bin ? cfg->swtpm_bin : HV_SWTPM_BIN;
    unsigned timeout = cfg->start_timeout_ms ? cfg->start_timeout_ms
                                             : HV_SWTPM_START_TIMEOUT_MS;

    /* 1. Paths: swtpm's option syntax splits on ',', and both sockets
     * must fit sun_path. */
    ret = HV_ERR_SWTPM_PATH;
    if (strchr(dir, ',') != NULL ||
        snprintf(s->sock, sizeof s->sock, "%s/%s", dir, SOCK_NAME) >=
            (int)(sizeof s->sock - strlen(CTRL_SUFFIX)) ||
        snprintf(s->log, sizeof s->log, "%s/%s", dir, LOG_NAME) >=
            (int)sizeof s->log) {
        errf(errbuf, errlen,
             "swtpm: state directory \"%s\" is too long for "
             "a unix socket path (max %zu bytes) or contains ','",
             dir, sizeof s->sock - strlen(CTRL_SUFFIX) - strlen(SOCK_NAME) - 2);
        s->sock[0] = '\0';
        goto cleanup;
    }
    snprintf(ctrl, sizeof ctrl, "%s%s", s->sock, CTRL_SUFFIX);
    snprintf(s->tcti, sizeof s->tcti, "swtpm:path=%s", s->sock);
    snprintf(a_state, sizeof a_state, "dir=%s,mode=0600", dir);
    snprintf(a_server, sizeof a_server, "type=unixio,path=%s,mode=0600",
             s->sock);
    snprintf(a_ctrl, sizeof a_ctrl, "type=unixio,path=%s,mode=0600", ctrl);

    /* 2. State directory, log, stale sockets. */
    ret = HV_ERR_SWTPM_STATE;
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        errf(errbuf, errlen, "swtpm: mkdir %s: %s", dir, strerror(errno));
        goto cleanup_nosock;
    }
    /* The state holds the TPM's seeds: a real directory of ours that
     * nobody else may write. */
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
        errf(errbuf, errlen,
             "swtpm: %s must be a directory owned by uid %u "
             "and not writable by group or others",
             dir, (unsigned)geteuid());
        goto cleanup_nosock;
    }
    /* swtpm logs a line per connection: keep one previous log, bounded. */
    if (stat(s->log, &st) == 0 && st.st_size > HV_SWTPM_LOG_MAX) {
        char old[sizeof s->log + 8];
        snprintf(old, sizeof old, "%s.old", s->log);
        (void)rename(s->log, old);
    }
    if (sock_alive(s->sock) || sock_alive(ctrl)) {
        errf(errbuf, errlen,
             "swtpm: %s already answers: another swtpm uses "
             "state directory %s",
             s->sock, dir);
        ret = HV_ERR_SWTPM_BUSY;
        goto cleanup_nosock;
    }
    unlink_socks(s);
    logfd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (logfd < 0 || devnull < 0) {
        errf(errbuf, errlen, "swtpm: open %s: %s",
             logfd < 0 ? s->log : "/dev/null", strerror(errno));
        goto cleanup;
    }

    /* 3. Fork and exec; an exec failure comes back through the pipe. */
    char *argv[] = {(char *)bin,
                    "socket",
                    "--tpm2",
                    "--tpmstate",
                    a_state,
                    "--server",
                    a_server,
                    "--ctrl",
                    a_ctrl,
                    "--flags",
                    "not-need-init,startup-clear",
                    NULL};
    ret = HV_ERR_SWTPM_SPAWN;
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        errf(errbuf, errlen, "swtpm: pipe2: %s", strerror(errno));
        goto cleanup;
    }
    int maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536
                    ? (int)rl.rlim_cur
                    : 65536;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        errf(errbuf, errlen, "swtpm: fork: %s", strerror(errno));
        goto cleanup;
    }
    if (pid == 0)
        child(bin, argv, devnull, logfd, pipefd[1], parent, maxfd);
    s->pid = pid;
    close(pipefd[1]);
    pipefd[1] = -1;
    int child_errno = 0;
    struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
    int pr;
    do
        pr = poll(&pfd, 1, (int)timeout);
    while (pr < 0 && errno == EINTR);
    ssize_t n = pr > 0 ? read(pipefd[0], &child_errno, sizeof child_errno) : -1;
    if (pr <= 0) {
        errf(errbuf, errlen, "swtpm: no exec within %u ms", timeout);
        ret = HV_ERR_SWTPM_TIMEOUT;
        goto cleanup;
    }
    if (n > 0) {
        errf(errbuf, errlen, "swtpm: cannot execute %s: %s", bin,
             strerror(child_errno));
        goto cleanup;
    }

    /* 4. Wait until it answers a TPM command (bounded). */
    uint64_t deadline = now_ms() + timeout;
    char terr[384] = "";
    for (;;) {
        if (try_reap(s)) {
            describe_status(s->status, why, sizeof why);
            log_tail(s->log, tail, sizeof tail);
            errf(errbuf, errlen, "swtpm: %s during start-up%s%s", why,
                 tail[0] ? "; swtpm.log: " : "", tail);
            ret = HV_ERR_SWTPM_EXITED;
            goto cleanup;
        }
        uint64_t now = now_ms();
        if (now >= deadline) {
            errf(errbuf, errlen, "swtpm: no answer within %u ms%s%s", timeout,
                 terr[0] ? ": " : "", terr);
            ret = HV_ERR_SWTPM_TIMEOUT;
            goto cleanup;
        }
        if (sock_alive(s->sock) &&
            tpm_answers(s->sock, (unsigned)(deadline - now), terr, sizeof terr))
            break;
        sleep_ms(POLL_MS);
    }
    ret = 0;
cleanup:
    if (ret != 0 && s->pid > 0)
        (void)hv_swtpm_stop(s, 0, NULL, 0);
    if (ret != 0)
        unlink_socks(s);
cleanup_nosock:
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (devnull >= 0)
        close(devnull);
    if (logfd >= 0)
        close(logfd);
    return ret;
}

int hv_swtpm_stop(struct hv_swtpm *s, unsigned timeout_ms, char *errbuf,
                  size_t errlen)
{
    char why[96];
    int killed = 0, status = 0;

    if (s == NULL)
        return HV_ERR_SWTPM_ARG;
    if (timeout_ms == 0)
        timeout_ms = HV_SWTPM_STOP_TIMEOUT_MS;
    if (s->pid > 0 && !try_reap(s)) {
        (void)kill(s->pid, SIGTERM);
        uint64_t deadline = now_ms() + timeout_ms;
        while (!try_reap(s) && now_ms() < deadline)
            sleep_ms(2);
        if (s->pid > 0) {
            /* Still there: SIGKILL cannot be ignored; the wait is for the
             * kernel to finish the exit. */
            (void)kill(s->pid, SIGKILL);
            killed = 1;
            pid_t r;
            do
                r = waitpid(s->pid, &status, 0);
            while (r < 0 && errno == EINTR);
            s->status = r == s->pid ? status : 0;
            s->reaped = 1;
            s->pid = 0;
        }
    }
    unlink_socks(s);
    if (s->reaped) {
        describe_status(s->status, why, sizeof why);
        errf(errbuf, errlen, "swtpm %s%s", why,
             killed ? " (SIGKILL after SIGTERM timed out)" : "");
    } else {
        errf(errbuf, errlen, "swtpm was not running");
    }
    return 0;
}
