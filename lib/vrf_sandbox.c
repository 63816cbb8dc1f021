/* vrf_sandbox.c: seccomp allow-lists with a loud SIGSYS death. */
#include <errno.h>
#include <linux/landlock.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/hv_log.h"
#include "lib/vrf_sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
/* The ASan+UBSan test build only: what the sanitizer runtime needs for its
 * reports and for LeakSanitizer's stop-the-world at exit (a tracer task
 * that ptraces every thread). Never part of a release binary's filter. */
static const int sandbox_sanitizer_extras[] = {
    SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(prctl),       SCMP_SYS(clone),        SCMP_SYS(ptrace),
    SCMP_SYS(wait4),       SCMP_SYS(sched_yield),  SCMP_SYS(gettid),
    SCMP_SYS(getpid),      SCMP_SYS(getppid),      SCMP_SYS(openat),
    SCMP_SYS(open),        SCMP_SYS(getdents),     /* raw, by the runtime */
    SCMP_SYS(readlink),    SCMP_SYS(getdents64),   SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),  SCMP_SYS(lseek),        SCMP_SYS(mmap),
    SCMP_SYS(mprotect),    SCMP_SYS(munmap),       SCMP_SYS(madvise),
    SCMP_SYS(read),        SCMP_SYS(write),        SCMP_SYS(close),
    SCMP_SYS(sched_getaffinity), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
    SCMP_SYS(setrlimit),   SCMP_SYS(exit),         SCMP_SYS(exit_group),
    SCMP_SYS(futex),       SCMP_SYS(kill),         SCMP_SYS(tgkill),
    SCMP_SYS(process_vm_readv), SCMP_SYS(pipe2),   SCMP_SYS(dup2),
    SCMP_SYS(nanosleep),   SCMP_SYS(clock_nanosleep),
};
#endif

static const char *sandbox_who = "hvpatch";
static int sandbox_exit_code = 2;

/* Async-signal-safe: formats with no stdio and leaves with _exit. */
static void sandbox_sigsys(int sig, siginfo_t *si, void *uc)
{
    char msg[96] = "hvpatch: error: ", num[12];
    int nr = si->si_syscall, i = (int)sizeof num;
    (void)sig;
    (void)uc;
    num[--i] = '\0';
    do {
        num[--i] = (char)('0' + nr % 10);
        nr /= 10;
    } while (nr && i > 0);
    strncat(msg, sandbox_who, 24);
    strcat(msg, ": seccomp denied system call ");
    strcat(msg, num + i);
    strcat(msg, "; exiting\n");
    ssize_t w = write(STDERR_FILENO, msg, strlen(msg));
    (void)w;
    _exit(sandbox_exit_code);
}

int vrf_sandbox_enter(const char *who, const struct vrf_sandbox_rule *rules,
                      size_t n, int exit_code)
{
    struct sigaction sa;
    int ret = -1, rc = 0;
    sandbox_who = who;
    sandbox_exit_code = exit_code;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sandbox_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        hv_err("%s: sigaction (SIGSYS) failed: %s", who, strerror(errno));
        return -1;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx) {
        hv_err("%s: seccomp_init failed", who);
        return -1;
    }
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, rules[i].nr,
                                    rules[i].nargs, rules[i].args);
#if defined(__SANITIZE_ADDRESS__)
    for (size_t i = 0; rc == 0 && i < sizeof sandbox_sanitizer_extras /
                                           sizeof sandbox_sanitizer_extras[0];
         i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sandbox_sanitizer_extras[i],
                              0);
#endif
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (rc != 0) {
        hv_err("%s: seccomp filter: %s", who, strerror(-rc));
        goto cleanup;
    }
    ret = 0;
cleanup:
    seccomp_release(ctx);
    return ret;
}

/* The filesystem rights of Landlock ABI 1, and REFER (ABI 2): all denied
 * except reading beneath the directory. Rights the kernel adds later
 * (truncate, ioctl, UNIX sockets) stay unhandled, so allowed: the
 * verifier's own fds and the TPM's socket keep working. */
#define VRF_LANDLOCK_FS_V1                                                     \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |              \
     LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |              \
     LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |          \
     LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |              \
     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |              \
     LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |            \
     LANDLOCK_ACCESS_FS_MAKE_SYM)

int vrf_sandbox_fs_beneath(const char *who, int dirfd)
{
    struct landlock_ruleset_attr attr = {.handled_access_fs =
                                             VRF_LANDLOCK_FS_V1};
    struct landlock_path_beneath_attr beneath = {
        .allowed_access =
            LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
        .parent_fd = dirfd,
    };
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
                       LANDLOCK_CREATE_RULESET_VERSION);
    int ret = -1, rs = -1;

    if (abi < 1) {
        hv_log("%s: no Landlock in this kernel (%s): trust directory reads "
               "are pinned by seccomp alone",
               who, strerror(errno));
        return 1;
    }
    if (abi >= 2)
        attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
    rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rs < 0) {
        hv_err("%s: landlock_create_ruleset failed: %s", who, strerror(errno));
        goto cleanup;
    }
    if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH,
                &beneath, 0) != 0) {
        hv_err("%s: landlock_add_rule failed: %s", who, strerror(errno));
        goto cleanup;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_landlock_restrict_self, rs, 0) != 0) {
        hv_err("%s: landlock_restrict_self failed: %s", who, strerror(errno));
        goto cleanup;
    }
    ret = 0;
cleanup:
    if (rs >= 0)
        close(rs);
    return ret;
}
