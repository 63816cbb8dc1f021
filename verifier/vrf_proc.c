/* vrf_proc.c: the verifier process: owns the only writable mapping of the
 * guest's protected code and answers the monitor's requests. */
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/hv_abi.h"
#include "lib/hv_elf.h"
#include "lib/hv_log.h"
#include "lib/vrf_sandbox.h"
#include "verifier/vrf_patch.h"
#include "verifier/vrf_proc_int.h"

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

/* What the verifier may do once it serves requests. Everything it needs
 * from the filesystem (the image, the code memfd, the TPM's socket) it
 * has by then; it opens files only under its trust directory (see
 * enter_sandbox). */
static const struct vrf_sandbox_rule vrf_rules[] = {
    {SCMP_SYS(recvmsg), 0, {{0}}},      /* requests and package fds */
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
    {SCMP_SYS(futex), 0, {{0}}}, /* glibc's internal locks; the pause
                                    region's waits (vrf_shm.c) */
    {SCMP_SYS(sched_yield), 0, {{0}}}, /* spinning on the pause region */
    {SCMP_SYS(rt_sigreturn), 0, {{0}}},
    {SCMP_SYS(restart_syscall), 0, {{0}}},
    {SCMP_SYS(exit_group), 0, {{0}}},
    {SCMP_SYS(exit), 0, {{0}}},
    /* Packages: fds the monitor passes, read into memory once. */
    {SCMP_SYS(fstat), 0, {{0}}},
    {SCMP_SYS(newfstatat), 0, {{0}}},
    {SCMP_SYS(pread64), 0, {{0}}},
};

#define VRF_RULES_N (sizeof vrf_rules / sizeof vrf_rules[0])

/* Answers one well-formed request; *out_fd is an fd to send back. */
static void dispatch(struct vrf_proc_tpm *pt, struct vrf_patch *pp,
                     struct vrf_proc_trust *tr, const struct vrf_msg *m,
                     int fd, struct vrf_msg *r, int *out_fd)
{
    switch (m->type) {
    case VRF_MSG_PING:
        r->type = VRF_MSG_PONG;
        r->pong.pid = (uint64_t)getpid();
        r->pong.tpm_state = (uint32_t)pt->state;
        break;
    case VRF_MSG_ATTEST:
        vrf_proc_tpm_attest(pt, m, r, out_fd);
        break;
    case VRF_MSG_PREPARE:
        vrf_proc_trust_refresh(tr, pp, "apply", 0); /* current CRLs */
        vrf_patch_prepare(pp, pt, fd, r);
        break;
    case VRF_MSG_PREPARE_REVERT:
        vrf_patch_prepare_revert(pp, pt, m, r);
        break;
    case VRF_MSG_WRITE:
        vrf_patch_write(pp, m, r);
        break;
    case VRF_MSG_FINISH:
        vrf_patch_finish(pp, pt, m, r);
        break;
    case VRF_MSG_BLOCKED:
        vrf_patch_blocked(pp, m, r);
        break;
    case VRF_MSG_LOCK:
        vrf_patch_lock(pp, pt, fd, m, r);
        break;
    case VRF_MSG_TRUST_RELOAD:
        vrf_proc_trust_request(tr, pp, m, r);
        break;
    default:
        vrf_msg_fail(r, "unknown request");
    }
}

/* Waits for a request, re-reading the trust directory when it is due
 * (never in the middle of an operation). Returns once sock is readable. */
static void wait_request(int sock, struct vrf_patch *pp,
                         struct vrf_proc_trust *tr)
{
    struct pollfd p = {.fd = sock, .events = POLLIN};
    int ms;
    while ((ms = vrf_proc_trust_wait_ms(tr)) >= 0) {
        if (ms == 0 && !pp->have_pending)
            vrf_proc_trust_refresh(tr, pp, "timer", 0);
        else if (ms == 0)
            ms = 100;
        if (ms != 0 && poll(&p, 1, ms) != 0)
            return; /* a request, the monitor gone, or EINTR */
    }
}

static void serve(int sock, struct vrf_proc_tpm *pt, struct vrf_patch *pp,
                  struct vrf_proc_trust *tr)
{
    struct vrf_msg m, r;
    for (;;) {
        int in_fd, out_fd = -1;
        wait_request(sock, pp, tr);
        ssize_t n = vrf_msg_recv(sock, &m, &in_fd);
        if (n == 0)
            _exit(0); /* the monitor is gone or done */
        if (n < 0 && errno == EINTR)
            continue;
        memset(&r, 0, sizeof r);
        if (n != (ssize_t)sizeof m)
            vrf_msg_fail(&r, "malformed request");
        else
            dispatch(pt, pp, tr, &m, in_fd, &r, &out_fd);
        if (in_fd >= 0)
            close(in_fd);
        int sent = vrf_msg_send(sock, &r, out_fd);
        if (out_fd >= 0)
            close(out_fd);
        if (sent != 0)
            _exit(0);
        if (r.type == VRF_MSG_APPROVED)
            vrf_patch_shm_serve(pp, sock); /* the write, if over the region */
    }
}

/* The allow-list plus writing and syncing the audit log's fd alone, and
 * reading the trust directory (keys_trust_load_at): openat only relative
 * to its fd, read-only, with the loader's exact flags. seccomp cannot see
 * the path (an absolute one, or "..", would resolve elsewhere): Landlock
 * confines every open to reading beneath that directory. The sanitizer
 * build skips Landlock: its runtime reads /proc at exit. */
static int enter_sandbox(const struct vrf_patch *pp,
                         const struct vrf_proc_trust *tr)
{
    struct vrf_sandbox_rule rules[VRF_RULES_N + 5];
    size_t n = VRF_RULES_N;
    const scmp_datum_t ro = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
    memcpy(rules, vrf_rules, sizeof vrf_rules);
    if (tr->dirfd >= 0) {
        scmp_datum_t dfd = (scmp_datum_t)tr->dirfd;
        rules[n++] = (struct vrf_sandbox_rule){
            SCMP_SYS(openat), 2,
            {SCMP_A0(SCMP_CMP_EQ, dfd), SCMP_A2(SCMP_CMP_EQ, ro)}};
        rules[n++] = (struct vrf_sandbox_rule){
            SCMP_SYS(openat), 2,
            {SCMP_A0(SCMP_CMP_EQ, dfd),
             SCMP_A2(SCMP_CMP_EQ, ro | O_DIRECTORY)}};
        rules[n++] = (struct vrf_sandbox_rule){SCMP_SYS(getdents64), 0, {{0}}};
#if !defined(__SANITIZE_ADDRESS__)
        if (vrf_sandbox_fs_beneath("verifier", tr->dirfd) < 0)
            return -1;
#endif
    }
    if (pp->have_audit) {
        int fd = pp->audit.fd;
        rules[n++] = (struct vrf_sandbox_rule){
            SCMP_SYS(write), 1, {SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd)}};
        rules[n++] = (struct vrf_sandbox_rule){
            SCMP_SYS(fsync), 1, {SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd)}};
    }
    return vrf_sandbox_enter("verifier", rules, n, VRF_EXIT_FAIL);
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
    uint8_t *w, code_sha[32], boot_id[32] = {0};
    struct vrf_msg ready;
    static struct vrf_proc_tpm pt; /* outlive the set-up: serve() uses them */
    static struct vrf_patch pp;
    static struct vrf_proc_trust tr;

    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(VRF_EXIT_FAIL); /* dies with the monitor, never outlives it */
    prctl(PR_SET_DUMPABLE, 0); /* no ptrace, no /proc/<pid>/mem */
    isolate_fds(sock);
    sock = 3;

    /* A Linux guest's code is empty until its text lock. */
    int is_linux = strcmp(cfg->kind, "linux") == 0;
    uint64_t size = is_linux ? HV_LINUX_PROT_SIZE : HV_PROT_SIZE;
    int fd = vrf_code_create(is_linux ? NULL : image, len, size, &w);
    if (fd < 0 || vrf_patch_init(&pp, NULL, cfg->audit_path) != 0 ||
        vrf_proc_trust_open(&tr, &pp, cfg->trust_dir) != 0)
        _exit(VRF_EXIT_FAIL);
    pp.code = w;
    pp.code_size = size;
    pp.kind = cfg->kind;
    vrf_patch_layout(&pp, image, len);
    memset(&ready, 0, sizeof ready);
    ready.type = VRF_MSG_READY;
    ready.ready.code_size = size;
    /* Measured boot: before the monitor may run a single guest
     * instruction. It hashes the image for PCR 4, which is the baseline
     * too: one pass over a 53 MB kernel, not two. */
    if (!cfg->tcti)
        mbedtls_sha256_ret(image, len, ready.ready.image_sha256, 0);
    else if (vrf_proc_tpm_boot(&pt, cfg, image, len, boot_id,
                               ready.ready.image_sha256) != 0)
        _exit(VRF_EXIT_FAIL);
    memcpy(pp.baseline, ready.ready.image_sha256, 32);
    memcpy(ready.ready.boot_id, boot_id, 32);
    ready.ready.tpm_state = (uint32_t)pt.state;
    vrf_patch_audit_boot(&pp, &pt, boot_id);
    if (vrf_msg_send(sock, &ready, fd) != 0) {
        hv_err("verifier: sending the code memfd failed: %s",
               strerror(errno));
        _exit(VRF_EXIT_FAIL);
    }
    close(fd); /* the writable mapping w remains, here only */
    /* The pause region next, unasked: the monitor maps it before its
     * sandbox and must not wait for the work below to start the guest. */
    memset(&ready, 0, sizeof ready);
    vrf_patch_shm_open(&pp, &ready, &fd);
    if (vrf_msg_send(sock, &ready, fd) != 0)
        _exit(VRF_EXIT_FAIL);
    if (fd >= 0)
        close(fd);
    /* While the guest boots: the code's lock point (only this process can
     * change the code, so measuring it now or before is the same) and the
     * attestation key. A failure leaves the TPM state GONE. */
    if (!is_linux && (pt.state == VRF_TPM_STATE_OK || pp.have_audit)) {
        mbedtls_sha256_ret(w, HV_PROT_SIZE, code_sha, 0);
        if (pt.state == VRF_TPM_STATE_OK && vrf_proc_tpm_lock(&pt, code_sha))
            pt.state = VRF_TPM_STATE_GONE;
        vrf_patch_audit_lock(&pp, &pt, code_sha);
    }
    if (pt.state == VRF_TPM_STATE_OK)
        vrf_proc_tpm_ak(&pt);
    tzset(); /* glibc reads its time zone file now: mbedTLS's certificate
              * validity checks call gmtime_r */
    if (enter_sandbox(&pp, &tr) != 0)
        _exit(VRF_EXIT_FAIL);
    serve(sock, &pt, &pp, &tr);
    _exit(0);
}
