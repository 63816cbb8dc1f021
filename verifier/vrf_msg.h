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
                          args[0] = code size, data[0..32) = SHA-256 of
                          the guest image the code was loaded from */
    VRF_MSG_PING = 2,  /* monitor -> verifier */
    VRF_MSG_PONG = 3,  /* verifier -> monitor: args[0] = verifier pid */
    VRF_MSG_FAIL = 4,  /* verifier -> monitor: status < 0, data = reason */
};

struct vrf_msg {
    uint32_t type;   /* enum vrf_msg_type */
    int32_t status;  /* 0, or a negative error in replies */
    uint64_t args[4];
    uint8_t data[VRF_MSG_DATA_MAX];
};

_Static_assert(sizeof(struct vrf_msg) == 280, "vrf_msg is part of an ABI");

#endif /* VRF_MSG_H */
