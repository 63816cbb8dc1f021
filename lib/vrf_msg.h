/* vrf_msg.h: the protocol between the monitor and the verifier process.
 *
 * One SOCK_SEQPACKET socketpair carries fixed-size struct vrf_msg records,
 * so neither side parses a length it did not choose. File descriptors
 * (the sealed code memfd; sealed package memfds; the pause region) travel
 * as SCM_RIGHTS next to a message. Every message has its own body struct
 * with named fields; every code is an enum here and nowhere else. The
 * pause window of a write runs over a shared region (struct vrf_shm)
 * instead of the socket. Self-contained: both sides include it. */
#ifndef VRF_MSG_H
#define VRF_MSG_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum vrf_msg_type {
    VRF_MSG_READY = 1, /* verifier -> monitor, with the code memfd */
    VRF_MSG_PING = 2,  /* monitor -> verifier, no body */
    VRF_MSG_PONG = 3,  /* verifier -> monitor */
    VRF_MSG_FAIL = 4,  /* verifier -> monitor: status < 0 */
    VRF_MSG_ATTEST = 5, /* monitor -> verifier */
    VRF_MSG_QUOTE = 6,  /* verifier -> monitor, with a sealed memfd that
                           holds struct vrf_quote then the event log */
    /* A patch or a revert is four steps (docs/MONITOR.md, "Applying"):
     * PREPARE or PREPARE_REVERT (verify, measure, audit) -> APPROVED;
     * then, with every vCPU paused, the write over the pause region
     * (struct vrf_shm; WRITE -> WRITTEN or BUSY on the socket when the
     * monitor has no region); then FINISH -> DONE. A FAIL ends the
     * operation at any step; nothing is written before WRITTEN. */
    VRF_MSG_PREPARE = 7, /* monitor -> verifier, with the package's fd */
    VRF_MSG_PREPARE_REVERT = 8, /* monitor -> verifier */
    VRF_MSG_APPROVED = 9, /* verifier -> monitor */
    VRF_MSG_WRITE = 10,   /* monitor -> verifier, every vCPU paused */
    VRF_MSG_WRITTEN = 11, /* verifier -> monitor: every record written */
    VRF_MSG_BUSY = 12,    /* verifier -> monitor: nothing written */
    VRF_MSG_FINISH = 13,  /* monitor -> verifier */
    VRF_MSG_DONE = 14,    /* verifier -> monitor: the decision is in the
                             audit log (fsync'd) */
    VRF_MSG_BLOCKED = 15, /* monitor -> verifier: guest writes to protected
                             code were blocked; reply DONE */
    /* A Linux guest's text lock (docs/LINUX.md, "Text lock"), once, with
     * every vCPU paused: the verifier copies the kernel text from guest
     * RAM into the protected memfd, maps the patch area in the kernel's
     * page tables, measures and audits; the monitor then backs the text's
     * GPAs with the read-only memfd and forbids itself memslot changes. */
    VRF_MSG_LOCK = 16,   /* monitor -> verifier, with the guest RAM memfd */
    VRF_MSG_LOCKED = 17, /* verifier -> monitor */
    /* The trust store (README, "Trust store"): the verifier re-reads its
     * --trust directory by itself; this asks it to now, or only reports. */
    VRF_MSG_TRUST_RELOAD = 18, /* monitor -> verifier */
    VRF_MSG_TRUST = 19,        /* verifier -> monitor */
    /* 20 was SHM_OPEN, a request for what SHM now brings unasked. */
    VRF_MSG_SHM = 21, /* verifier -> monitor, unasked, right after READY and
                         before the verifier's boot-time work: the pause
                         region's sealed memfd (struct vrf_shm), or FAIL
                         if it has none */
    VRF_MSG_TYPE_END       /* one past the last type */
};

enum vrf_op_kind {
    VRF_OP_APPLY = 1,
    VRF_OP_REVERT = 2,
};

enum vrf_finish {
    VRF_FINISH_WRITTEN = 0, /* WRITTEN came back: the change is live */
    VRF_FINISH_BUSY = 1,    /* every try was BUSY: nothing changed */
    VRF_FINISH_NO_PAUSE = 2, /* the vCPUs could not be paused */
};

enum vrf_finish_origin {
    VRF_FINISH_CLIENT = 0, /* a client asked */
    VRF_FINISH_AUTO = 1,   /* a revert the monitor's health watch started */
};

enum vrf_tpm_state {
    VRF_TPM_STATE_NONE = 0, /* the VM runs without a TPM (--no-tpm) */
    VRF_TPM_STATE_OK = 1,
    VRF_TPM_STATE_GONE = 2, /* the TPM stopped answering: patching refused */
};

enum vrf_trust_action {
    VRF_TRUST_REPORT = 0, /* only report the store in use */
    VRF_TRUST_RELOAD = 1, /* reload the directory now, then report */
};

#define VRF_MSG_BODY_MAX 272u /* every body fits in this */
#define VRF_MSG_ID_MAX 40u    /* package id, NUL included */
#define VRF_MSG_NONCE_MAX 64u /* == VRF_NONCE_MAX */
#define VRF_MSG_CPUS_MAX 8u   /* == HV_MAX_VCPUS */
#define VRF_TRUST_MSG_DATES 6u /* CRL date pairs a TRUST reply carries */
#define VRF_TRUST_REASON_MAX 112u

struct vrf_msg_ready {
    uint64_t code_size;
    uint32_t tpm_state; /* enum vrf_tpm_state */
    uint32_t pad;
    uint8_t image_sha256[32]; /* the guest image the code was loaded from */
    uint8_t boot_id[32];      /* SHA-256 of PCR 0, 4, 8, 9 when measured */
};

struct vrf_msg_pong {
    uint64_t pid;       /* the verifier's */
    uint32_t tpm_state; /* enum vrf_tpm_state */
};

struct vrf_msg_fail {
    char reason[VRF_MSG_BODY_MAX]; /* NUL-terminated text */
};

struct vrf_msg_attest {
    uint32_t nonce_len; /* 1..VRF_MSG_NONCE_MAX */
    uint32_t pad;
    uint8_t nonce[VRF_MSG_NONCE_MAX];
};

struct vrf_msg_quote {
    uint64_t quote_size; /* sizeof(struct vrf_quote) */
    uint64_t log_len;    /* event log bytes after it */
};

struct vrf_msg_prepare_revert {
    char id[VRF_MSG_ID_MAX]; /* NUL-terminated */
};

struct vrf_msg_approved {
    uint64_t seq;
    uint32_t op; /* enum vrf_op_kind */
    uint32_t pad;
    char id[VRF_MSG_ID_MAX]; /* NUL-terminated */
    char signer[200];        /* subject, truncated, NUL-terminated */
};

struct vrf_msg_write {
    uint32_t ncpus; /* 1..VRF_MSG_CPUS_MAX */
    uint32_t pad;
    uint64_t rips[VRF_MSG_CPUS_MAX];
};

struct vrf_msg_busy {
    uint32_t cpu; /* the first vCPU found inside a range to change */
    uint32_t pad;
    uint64_t rip; /* its RIP */
};

struct vrf_msg_finish {
    uint32_t outcome; /* enum vrf_finish */
    uint32_t origin;  /* enum vrf_finish_origin */
    uint64_t pause_ns; /* of the write */
    uint32_t tries;
    uint32_t pad;
    char reason[200]; /* VRF_FINISH_AUTO: why (NUL-terminated text) */
};

struct vrf_msg_done {
    uint64_t seq;
};

struct vrf_msg_blocked {
    uint64_t count; /* since the last report */
    uint64_t gpa;   /* of the latest */
    uint64_t rip;   /* of the latest */
};

struct vrf_msg_lock {
    uint64_t cr3, cr4; /* of vCPU 0 */
};

struct vrf_msg_locked {
    uint64_t gpa, size; /* of the text, now read-only */
    uint64_t offset;    /* of the text in the code memfd */
    uint8_t sha256[32]; /* of the locked text */
};

struct vrf_msg_trust_reload {
    uint32_t action; /* enum vrf_trust_action */
};

struct vrf_msg_crl_dates {
    int64_t this_update, next_update; /* Unix s; 0: none */
};

/* status: the latest reload's result (0; VRF_ERR_TRUST_CRL_EXPIRED:
 * loaded, a CRL is stale; other < 0: the old store was kept). */
struct vrf_msg_trust {
    uint32_t anchors; /* anchor files */
    uint32_t crls;    /* CRLs in the store */
    int64_t loaded_at; /* when the store in use was loaded (Unix s) */
    uint32_t ndates;   /* entries of dates used */
    uint32_t pad;
    struct vrf_msg_crl_dates dates[VRF_TRUST_MSG_DATES];
    uint8_t sha256[32]; /* of the store */
    char reason[VRF_TRUST_REASON_MAX]; /* the result's, NUL-terminated */
};

struct vrf_msg_shm {
    uint64_t size; /* of the region: sizeof(struct vrf_shm) */
};

struct vrf_msg {
    uint32_t type;  /* enum vrf_msg_type */
    int32_t status; /* 0, or a negative error in replies */
    union {         /* the one that type names; raw on the wire */
        uint8_t raw[VRF_MSG_BODY_MAX];
        struct vrf_msg_ready ready;
        struct vrf_msg_pong pong;
        struct vrf_msg_fail fail;
        struct vrf_msg_attest attest;
        struct vrf_msg_quote quote;
        struct vrf_msg_prepare_revert prepare_revert;
        struct vrf_msg_approved approved;
        struct vrf_msg_write write;
        struct vrf_msg_busy busy;
        struct vrf_msg_finish finish;
        struct vrf_msg_done done;
        struct vrf_msg_blocked blocked;
        struct vrf_msg_lock lock;
        struct vrf_msg_locked locked;
        struct vrf_msg_trust_reload trust_reload;
        struct vrf_msg_trust trust;
        struct vrf_msg_shm shm;
    };
};

_Static_assert(sizeof(struct vrf_msg) == 280, "vrf_msg is part of an ABI");
_Static_assert(offsetof(struct vrf_msg, raw) == 8, "bodies follow the header");
_Static_assert(sizeof(struct vrf_msg_approved) == 256, "approved fits");
_Static_assert(sizeof(struct vrf_msg_finish) == 224, "finish fits");
_Static_assert(sizeof(struct vrf_msg_trust) == 264, "trust fits");
_Static_assert(sizeof(struct vrf_msg_write) == 72, "write fits");

/* The pause region: one sealed 4 KiB memfd the verifier creates, mapped
 * shared by both (docs/MONITOR.md, "Applying"). The monitor writes only
 * the first cache line's words and rips; the verifier only the verdict
 * line. Each side treats what the other wrote as hostile: the verifier
 * copies ncpus and the RIPs out once and checks them.
 *
 * req is one word, (count << 2) | enum vrf_shm_kind, so an event and its
 * kind are seen together. One write try: the monitor posts ARM (the
 * verifier wakes while the vCPUs leave guest mode), pauses, fills ncpus
 * and rips and posts RIPS; the verifier answers by filling the verdict
 * and setting done to that req. After the last try the monitor posts END:
 * the verifier goes back to the socket. Both wait by spinning briefly,
 * then on a futex (the words waited on: req, done); the poster calls
 * FUTEX_WAKE only when the other side says it sleeps. */
#define VRF_SHM_KIND(req) ((req) & 3u)
#define VRF_SHM_NEXT(req, kind) ((((req) >> 2) + 1) << 2 | (kind))
enum vrf_shm_kind {
    VRF_SHM_ARM = 1,  /* a pause is starting: be ready */
    VRF_SHM_RIPS = 2, /* every vCPU is paused: ncpus and rips are valid */
    VRF_SHM_END = 3,  /* no more tries for this operation */
};

enum vrf_shm_verdict {
    VRF_SHM_WRITTEN = 1, /* every record written */
    VRF_SHM_BUSY = 2,    /* nothing written: busy_cpu is in a range */
    VRF_SHM_FAIL = 3,    /* nothing written: no operation, bad request */
};

struct vrf_shm {
    /* written by the monitor */
    uint32_t req;       /* (count << 2) | kind of the latest event */
    uint32_t pad;
    uint32_t ncpus;     /* 1..VRF_MSG_CPUS_MAX */
    uint32_t hv_sleeps; /* the monitor waits on done in FUTEX_WAIT */
    uint64_t rips[VRF_MSG_CPUS_MAX];
    uint8_t pad0[48];
    /* written by the verifier */
    uint32_t done;       /* = req when the verdict is for it (futex word) */
    uint32_t verdict;    /* enum vrf_shm_verdict */
    uint32_t busy_cpu;   /* VRF_SHM_BUSY */
    uint32_t vrf_sleeps; /* the verifier waits on req in FUTEX_WAIT */
    uint64_t busy_rip;
    uint8_t pad1[40];
};

#define VRF_SHM_SIZE 4096u /* the memfd's sealed size */
_Static_assert(offsetof(struct vrf_shm, done) == 128,
               "the verdict has its own cache line");
_Static_assert(sizeof(struct vrf_shm) == 192, "vrf_shm is part of an ABI");
_Static_assert(sizeof(struct vrf_shm) <= VRF_SHM_SIZE, "vrf_shm fits");

/* Fills reply as a FAIL carrying reason (truncated). Returns 0. */
int vrf_msg_fail(struct vrf_msg *reply, const char *reason);

/* Sends buf, and fd when >= 0 with it (SCM_RIGHTS); returns what
 * sendmsg returns. For any socket (the control socket's client too). */
ssize_t vrf_send_fd(int sock, const void *buf, size_t len, int fd);

/* Receives up to len bytes into buf and at most one fd sent with them
 * (*fd, else -1); *truncated says the sender's fds did not fit (the
 * kernel closed the rest). Returns what recvmsg returns. */
ssize_t vrf_recv_fd(int sock, void *buf, size_t len, int *fd, int *truncated);

/* Sends m, and fd when >= 0, with SCM_RIGHTS. Returns 0 or -1. */
int vrf_msg_send(int sock, const struct vrf_msg *m, int fd);

/* Receives one message and at most one fd (*fd, else -1). Returns what
 * recvmsg returns, or -1 with errno EBADMSG for a short message or a
 * truncated fd list (whose fd is then closed). */
ssize_t vrf_msg_recv(int sock, struct vrf_msg *m, int *fd);

/* The quote memfd QUOTE carries: struct vrf_quote, then the event log.
 * Filled by the verifier (tpm/vrf_tpm.c), read by the monitor. */
#define VRF_QUOTE_MSG_MAX 2048u
#define VRF_QUOTE_SIG_MAX 1024u
#define VRF_AK_PUB_MAX 1024u
#define VRF_NONCE_MAX 64u
#define VRF_QUOTE_PCRS 24u   /* PC Client PCRs 0..23 */
#define VRF_QUOTE_DIGEST 32u /* SHA-256 */

/* A quote and what a checker needs with it. */
struct vrf_quote {
    uint8_t msg[VRF_QUOTE_MSG_MAX]; /* TPMS_ATTEST bytes: quote.msg */
    size_t msg_len;
    uint8_t sig[VRF_QUOTE_SIG_MAX]; /* marshalled TPMT_SIGNATURE: quote.sig */
    size_t sig_len;
    uint8_t ak_pub[VRF_AK_PUB_MAX]; /* marshalled TPM2B_PUBLIC: ak.pub */
    size_t ak_pub_len;
    uint32_t pcr_mask;                         /* SHA-256 PCRs quoted */
    uint8_t pcr[VRF_QUOTE_PCRS][VRF_QUOTE_DIGEST]; /* their values */
};

/* ------------------------------------------------------------ start-up
 * How the monitor starts hvpatch-verifier (hv/svc/hv_vrf.c) and what the
 * verifier checks it was given (verifier/vrf_main.c). */

/* Seals a code memfd carries before the monitor may map it: nobody can
 * resize it, map it writable anew, write() to it, or change the seals.
 * The verifier's own writable mapping, made before sealing, stays. */
#define VRF_CODE_SEALS \
    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

/* Inputs of hvpatch-verifier: the fds the monitor passes at these
 * numbers (every other fd is closed), the rest as options (vrf_main.c). */
#define VRF_PROC_FD_SOCK 3   /* its end of the monitor's socketpair */
#define VRF_PROC_FD_IMAGE 4  /* the guest image, a sealed memfd */
#define VRF_PROC_FD_INITRD 5 /* the Linux initrd, a sealed memfd (--initrd) */

/* Seals the image and initrd memfds must carry: the bytes the verifier
 * loads and measures cannot change under it. */
#define VRF_INPUT_SEALS                                                        \
    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

#define VRF_EXIT_FAIL 70 /* verifier start-up or sandbox failure */
#define VRF_EXIT_USAGE 2 /* bad options: not started by the monitor */

/* vrf_proc_cfg.tpm_flags: how the verifier opens its TPM (vrf_tpm_open). */
#define VRF_TPM_OPEN_FLUSH_TRANSIENT 1u /* flush leftover transient objects
                                           (a TPM that is ours alone) */
#define VRF_TPM_OPEN_TSS_TCTI 2u /* load even "swtpm:path=" through
                                    Tss2_TctiLdr (unbounded waits) */

/* What the verifier measures and where its TPM is. */
struct vrf_proc_cfg {
    const char *tcti;   /* tpm2-tss TCTI string, or NULL: no TPM */
    unsigned tpm_flags; /* vrf_tpm_open() flags */
    uint64_t mem_size;  /* guest RAM: shapes the firmware stub */
    unsigned ncpus;
    const char *cmdline; /* guest command line, or NULL */
    const char *kind;    /* guest kind: "demo", or "linux" (the image is a
                            kernel file; its code memfd starts empty) */
    const uint8_t *initrd; /* Linux initrd (measured into PCR 9), or NULL */
    size_t initrd_len;
    const char *trust_dir;  /* trust store, or NULL: patching refused */
    const char *audit_path; /* audit log, or NULL: decisions not logged */
};

#endif /* VRF_MSG_H */
