/* vrf_msg.h: the messages between the monitor and the verifier process.
 *
 * One SOCK_SEQPACKET socketpair carries fixed-size struct vrf_msg records,
 * so neither side parses a length it did not choose. File descriptors
 * (the sealed code memfd; later, sealed package memfds) travel as
 * SCM_RIGHTS next to a message. Self-contained: both sides include it. */
#ifndef VRF_MSG_H
#define VRF_MSG_H

#include <stdint.h>
#include <sys/types.h>

#define VRF_MSG_DATA_MAX 240u

enum vrf_msg_type {
    VRF_MSG_READY = 1, /* verifier -> monitor, with the code memfd:
                          args[0] = code size, args[1] = VRF_TPM_STATE_*,
                          data[0..32) = SHA-256 of the guest image the
                          code was loaded from, data[32..64) = boot id
                          (SHA-256 of PCR 0, 4, 8, 9) when measured */
    VRF_MSG_PING = 2,  /* monitor -> verifier */
    VRF_MSG_PONG = 3,  /* verifier -> monitor: args[0] = verifier pid,
                          args[1] = VRF_TPM_STATE_* */
    VRF_MSG_FAIL = 4,  /* verifier -> monitor: status < 0, data = reason
                          (NUL-terminated text) */
    VRF_MSG_ATTEST = 5,  /* monitor -> verifier: args[0] = nonce length
                            (1..64), data = nonce */
    VRF_MSG_QUOTE = 6,   /* verifier -> monitor, with a sealed memfd that
                            holds struct vrf_quote then the event log:
                            args[0] = sizeof(struct vrf_quote),
                            args[1] = event log length */
    /* A patch or a revert is four steps (docs/MONITOR.md, "Applying"):
     * PREPARE or PREPARE_REVERT (verify, measure, audit) -> APPROVED;
     * then, with every vCPU paused, WRITE -> WRITTEN or BUSY (resume,
     * retry a bounded number of times); then FINISH -> DONE. A FAIL ends
     * the operation at any step; nothing is written before WRITTEN. */
    VRF_MSG_PREPARE = 7, /* monitor -> verifier, with the package's fd */
    VRF_MSG_PREPARE_REVERT = 8, /* monitor -> verifier: data = package id
                                   (NUL-terminated) */
    VRF_MSG_APPROVED = 9, /* verifier -> monitor: args[0] = sequence,
                             args[1] = 1 apply, 2 revert;
                             data = struct vrf_msg_patch */
    VRF_MSG_WRITE = 10,   /* monitor -> verifier, every vCPU paused:
                             args[0] = vCPU count, data = their RIPs
                             (uint64_t each) */
    VRF_MSG_WRITTEN = 11, /* verifier -> monitor: every record written */
    VRF_MSG_BUSY = 12,    /* verifier -> monitor: nothing written, a vCPU
                             is inside a range: args[0] = vCPU, args[1] =
                             its RIP */
    VRF_MSG_FINISH = 13,  /* monitor -> verifier: args[0] = VRF_FINISH_*,
                             args[1] = pause ns of the write, args[2] =
                             tries, args[3] = VRF_FINISH_AUTO for a revert
                             the monitor's health watch started, with
                             data = its reason (NUL-terminated text) */
    VRF_MSG_DONE = 14,    /* verifier -> monitor: the decision is in the
                             audit log (fsync'd); args[0] = sequence */
    VRF_MSG_BLOCKED = 15, /* monitor -> verifier: guest writes to protected
                             code were blocked: args[0] = count since the
                             last report, args[1] = GPA and args[2] = RIP
                             of the latest; reply DONE */
    /* A Linux guest's text lock (docs/LINUX.md, "Text lock"), once, with
     * every vCPU paused: the verifier copies the kernel text from guest
     * RAM into the protected memfd, maps the patch area in the kernel's
     * page tables, measures and audits; the monitor then backs the text's
     * GPAs with the read-only memfd and forbids itself memslot changes. */
    VRF_MSG_LOCK = 16,    /* monitor -> verifier, with the guest RAM memfd:
                             args[0] = CR3, args[1] = CR4 of vCPU 0 */
    VRF_MSG_LOCKED = 17,  /* verifier -> monitor: args[0] = text GPA,
                             args[1] = its size, args[2] = its offset in
                             the code memfd; data[0..32) = SHA-256 of the
                             locked text */
    /* The trust store (README, "Trust store"): the verifier re-reads its
     * --trust directory by itself; this asks it to now, or only reports. */
    VRF_MSG_TRUST_RELOAD = 18, /* monitor -> verifier: args[0] = 1 reload
                                  now, 0 only report */
    VRF_MSG_TRUST = 19, /* verifier -> monitor: status = the latest
                           reload's result (0; VRF_ERR_TRUST_CRL_EXPIRED:
                           loaded, a CRL is stale; other < 0: the old store
                           was kept), args[0] = anchor files, args[1] =
                           CRLs, args[2] = when the store in use was
                           loaded (Unix s), args[3] = CRL date pairs in
                           data; data[0..32) = the store's SHA-256,
                           data[32..128) = up to VRF_TRUST_MSG_DATES
                           pairs of int64 thisUpdate, nextUpdate (0:
                           none), data[VRF_TRUST_MSG_REASON..) = the
                           result's reason (NUL-terminated) */
};

#define VRF_TRUST_MSG_DATES 6u    /* CRL date pairs a TRUST reply carries */
#define VRF_TRUST_MSG_REASON 128u /* where its reason text starts */

enum vrf_finish {
    VRF_FINISH_WRITTEN = 0, /* WRITTEN came back: the change is live */
    VRF_FINISH_BUSY = 1,    /* every try was BUSY: nothing changed */
    VRF_FINISH_NO_PAUSE = 2, /* the vCPUs could not be paused */
};
#define VRF_FINISH_AUTO 1 /* FINISH args[3]: an automatic revert */

/* The data of APPROVED. */
#define VRF_MSG_ID_MAX 40u
struct vrf_msg_patch {
    char id[VRF_MSG_ID_MAX];                        /* NUL-terminated */
    char signer[VRF_MSG_DATA_MAX - VRF_MSG_ID_MAX]; /* subject, truncated */
};

enum vrf_tpm_state {
    VRF_TPM_STATE_NONE = 0, /* the VM runs without a TPM (--no-tpm) */
    VRF_TPM_STATE_OK = 1,
    VRF_TPM_STATE_GONE = 2, /* the TPM stopped answering: patching refused */
};

struct vrf_msg {
    uint32_t type;   /* enum vrf_msg_type */
    int32_t status;  /* 0, or a negative error in replies */
    uint64_t args[4];
    uint8_t data[VRF_MSG_DATA_MAX];
};

_Static_assert(sizeof(struct vrf_msg) == 280, "vrf_msg is part of an ABI");
_Static_assert(sizeof(struct vrf_msg_patch) == VRF_MSG_DATA_MAX,
               "vrf_msg_patch fills vrf_msg.data");

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

#endif /* VRF_MSG_H */
