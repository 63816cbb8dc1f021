/* vrf_msg.h: the messages between the monitor and the verifier process.
 *
 * One SOCK_SEQPACKET socketpair carries fixed-size struct vrf_msg records,
 * so neither side parses a length it did not choose. File descriptors
 * (the sealed code memfd; later, sealed package memfds) travel as
 * SCM_RIGHTS next to a message. Self-contained: both sides include it. */
#ifndef VRF_MSG_H
#define VRF_MSG_H

#include <stdint.h>

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

#endif /* VRF_MSG_H */
