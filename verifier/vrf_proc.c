/* vrf_proc.c: the verifier process: owns the only writable mapping of the
 * guest's protected code and answers the monitor's requests. */
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv/hv_abi.h"
#include "hv/hv_elf.h"
#include "hv/hv_log.h"
#include "verifier/vrf_proc_int.h"
#include "verifier/vrf_sandbox.h"

#define VRF_EXIT_FAIL 70 /* verifier start-up or sandbox failure */

int vrf_code_create(const uint8_t *image, size_t len, size_t size,
                    uint8_t **wmap)
{
    struct hv_elf_image img;
    int e = image ? hv_img_parse(image, len, &img) : HV_ELF_OK;
    if (e != HV_ELF_OK) {
        hv_err("guest image rejected: %s", hv_elf_strerror(e));
        return -1;
    }
    int fd = memfd_create("hvpatch-code", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        hv_err("verifier: memfd_create (code) failed: %s", strerror(errno));
        return -1;
    }
    uint8_t *w = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0)
        w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (w == MAP_FAILED) {
        hv_err("verifier: ftruncate/mmap (code) failed: %s", strerror(errno));
        close(fd);
        return -1;
    }
    uint8_t *const dst[HV_IMG_NREGIONS] = {
        [HV_IMG_KTEXT] = w + (HV_PROT_KTEXT - HV_PROT_BASE),
        [HV_IMG_UTEXT] = w + (HV_PROT_UTEXT - HV_PROT_BASE),
        [HV_IMG_DATA] = NULL, /* guest RAM is the monitor's to load */
    };
    if (image)
        hv_elf_load(&img, image, hv_img_regions, dst);
    /* Sealed after filling: from here on, this mapping is the only way to
     * write the code, and it exists in this process alone. */
    if (fcntl(fd, F_ADD_SEALS, VRF_CODE_SEALS) < 0) {
        hv_err("verifier: fcntl (F_ADD_SEALS) failed: %s", strerror(errno));
        munmap(w, size);
        close(fd);
        return -1;
    }
    *wmap = w;
    return fd;
}

static int send_msg(int sock, const struct vrf_msg *m, int fd)
{
    struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof *m};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
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
    return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof *m ? 0 : -1;
}

/* What the verifier may do once it serves requests. Everything it needs
 * from the filesystem (the image, the code memfd, the TPM's socket) it
 * has by then; it cannot open files. */
static const struct vrf_sandbox_rule vrf_rules[] = {
    {SCMP_SYS(recvmsg), 0, {{0}}},      /* requests (and, later, fds) */
    {SCMP_SYS(recvfrom), 0, {{0}}},     /* requests; TPM responses */
    {SCMP_SYS(sendmsg), 0, {{0}}},      /* replies */
    {SCMP_SYS(sendto), 0, {{0}}},       /* TPM commands */
    {SCMP_SYS(poll), 0, {{0}}},         /* bounded waits on the TPM */
    /* The TPM transport reconnects to swtpm's unix socket if needed. */
    {SCMP_SYS(socket), 1, {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)}},
    {SCMP_SYS(connect), 0, {{0}}},
    {SCMP_SYS(nanosleep), 0, {{0}}},
    {SCMP_SYS(clock_nanosleep), 0, {{0}}},
    {SCMP_SYS(getrandom), 0, {{0}}},    /* ESAPI session nonces */
    /* Quotes go to the monitor in a sealed memfd. */
    {SCMP_SYS(memfd_create), 0, {{0}}},
    {SCMP_SYS(pwrite64), 0, {{0}}},
    {SCMP_SYS(fcntl), 0, {{0}}},
    {SCMP_SYS(write), 1, {SCMP_A0(SCMP_CMP_EQ, STDERR_FILENO)}}, /* logs */
    {SCMP_SYS(close), 0, {{0}}},
    {SCMP_SYS(getpid), 0, {{0}}},
    {SCMP_SYS(clock_gettime), 0, {{0}}},
    /* malloc: anonymous, never executable memory. */
    {SCMP_SYS(mmap), 2, VRF_SANDBOX_MMAP_ANON_NOEXEC},
    {SCMP_SYS(munmap), 0, {{0}}},
    {SCMP_SYS(mremap), 0, {{0}}},
    {SCMP_SYS(brk), 0, {{0}}},
    {SCMP_SYS(madvise), 0, {{0}}},
    {SCMP_SYS(futex), 0, {{0}}}, /* glibc's internal locks */
    {SCMP_SYS(rt_sigreturn), 0, {{0}}},
    {SCMP_SYS(restart_syscall), 0, {{0}}},
    {SCMP_SYS(exit_group), 0, {{0}}},
    {SCMP_SYS(exit), 0, {{0}}},
};

int vrf_proc_fail(struct vrf_msg *reply, const char *reason)
{
    reply->type = VRF_MSG_FAIL;
    reply->status = -1;
    strncpy((char *)reply->data, reason, sizeof reply->data - 1);
    return 0;
}

static void serve(int sock, struct vrf_proc_tpm *pt)
{
    struct vrf_msg m, r;
    for (;;) {
        int fd = -1;
        ssize_t n = recv(sock, &m, sizeof m, 0);
        if (n == 0)
            _exit(0); /* the monitor is gone or done */
        if (n < 0 && errno == EINTR)
            continue;
        memset(&r, 0, sizeof r);
        if (n != (ssize_t)sizeof m) {
            vrf_proc_fail(&r, "malformed request");
        } else if (m.type == VRF_MSG_PING) {
            r.type = VRF_MSG_PONG;
            r.args[0] = (uint64_t)getpid();
            r.args[1] = (uint64_t)pt->state;
        } else if (m.type == VRF_MSG_ATTEST) {
            vrf_proc_tpm_attest(pt, &m, &r, &fd);
        } else {
            vrf_proc_fail(&r, "unknown request");
        }
        int sent = send_msg(sock, &r, fd);
        if (fd >= 0)
            close(fd);
        if (sent != 0)
            _exit(0);
    }
}

/* Keeps the socket as fd 3 and stderr; the console is not the verifier's. */
static void isolate_fds(int sock)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
    }
    if (sock != 3) {
        dup2(sock, 3);
        close(sock);
    }
    close_range(4, ~0u, 0);
}

void vrf_proc_main(int sock, const uint8_t *image, size_t len,
                   const struct vrf_proc_cfg *cfg)
{
    pid_t parent = getppid();
    uint8_t *w;
    struct vrf_msg ready;
    static struct vrf_proc_tpm pt; /* outlives the set-up: serve() uses it */

    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(VRF_EXIT_FAIL); /* dies with the monitor, never outlives it */
    prctl(PR_SET_DUMPABLE, 0); /* no ptrace, no /proc/<pid>/mem */
    isolate_fds(sock);
    sock = 3;

    /* A Linux guest's code is empty until its text lock. */
    int is_linux = strcmp(cfg->kind, "linux") == 0;
    int fd = vrf_code_create(is_linux ? NULL : image, len, HV_PROT_SIZE, &w);
    if (fd < 0)
        _exit(VRF_EXIT_FAIL);
    memset(&ready, 0, sizeof ready);
    ready.type = VRF_MSG_READY;
    ready.args[0] = HV_PROT_SIZE;
    mbedtls_sha256_ret(image, len, ready.data, 0);
    /* Measured boot: before the monitor may run a single guest instruction. */
    if (cfg->tcti &&
        vrf_proc_tpm_boot(&pt, cfg, image, len, ready.data + 32) != 0)
        _exit(VRF_EXIT_FAIL);
    ready.args[1] = (uint64_t)pt.state;
    if (send_msg(sock, &ready, fd) != 0) {
        hv_err("verifier: sending the code memfd failed: %s",
               strerror(errno));
        _exit(VRF_EXIT_FAIL);
    }
    close(fd); /* the writable mapping w remains, here only */
    /* While the guest boots: the code's lock point (only this process can
     * change the code, so measuring it now or before is the same) and the
     * attestation key. A failure leaves the TPM state GONE. */
    if (pt.state == VRF_TPM_STATE_OK && !is_linux &&
        vrf_proc_tpm_lock(&pt, w, HV_PROT_SIZE))
        pt.state = VRF_TPM_STATE_GONE;
    if (pt.state == VRF_TPM_STATE_OK)
        vrf_proc_tpm_ak(&pt);
    if (vrf_sandbox_enter("verifier", vrf_rules,
                          sizeof vrf_rules / sizeof vrf_rules[0],
                          VRF_EXIT_FAIL) != 0)
        _exit(VRF_EXIT_FAIL);
    serve(sock, &pt);
    _exit(0);
}
