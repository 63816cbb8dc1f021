/* vrf_proc.h: the verifier process: the only writer of protected code.
 *
 * The monitor starts it before anything else (hv/svc/hv_vrf.c): a separate
 * executable, hvpatch-verifier (verifier/vrf_main.c), that holds none of
 * the monitor's code or libraries. It loads the
 * guest image's code into a memfd it maps writable, seals the memfd
 * against every other writer, hands it to the monitor over SCM_RIGHTS,
 * and then serves the monitor's requests (lib/vrf_msg.h) under a
 * seccomp allow-list with PR_SET_DUMPABLE 0. It exits when the monitor
 * closes its end of the socket, and dies with the monitor. */
#ifndef VRF_PROC_H
#define VRF_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "lib/vrf_msg.h" /* its start-up contract: fds, seals, config */

/* The verifier's main: sock is its end of the socketpair, image the guest
 * image (a sealed memfd's private read-only mapping). Before it says READY
 * it has loaded and sealed the code and, with a TPM, measured the boot
 * (PCR 0, 4, 8, 9). Never returns. */
void vrf_proc_main(int sock, const uint8_t *image, size_t len,
                   const struct vrf_proc_cfg *cfg) __attribute__((noreturn));

/* Creates a memfd of `size` bytes holding the protected segments of a
 * demo-style image (image NULL: all zero, for a Linux guest whose text is
 * locked later), maps it writable at *wmap, and seals it with
 * VRF_CODE_SEALS. Returns the fd, or -1 with the reason logged. */
int vrf_code_create(const uint8_t *image, size_t len, size_t size,
                    uint8_t **wmap);

#endif /* VRF_PROC_H */
