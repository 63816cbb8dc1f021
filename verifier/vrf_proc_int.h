/* vrf_proc_int.h: private to the verifier process (vrf_proc*.c). */
#ifndef VRF_PROC_INT_H
#define VRF_PROC_INT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>

#include "firmware/fw_eventlog.h"
#include "verifier/vrf_msg.h"
#include "verifier/vrf_proc.h"
#include "verifier/vrf_tpm.h"

struct vrf_proc_tpm {
    struct vrf_tpm *t;
    struct fw_evlog log; /* every measurement since boot */
    int state;           /* enum vrf_tpm_state */
    struct fw_runtime_rec lock_rec; /* the text lock's PCR 10 event */
};

/* Opens the TPM, checks its PCRs are fresh and measures the boot
 * (firmware stub, image, command line, initrd) into PCR 0, 4, 8, 9 and
 * the log. For kind "linux" the stub is the kernel's firmware area
 * (fw_linux_fw_area() for its entry path) and the image the kernel file.
 * Fills boot_id and image_sha256 (the baseline, from PCR 4's event: the
 * image is hashed once). Returns 0, or -1 with the reason logged. */
int vrf_proc_tpm_boot(struct vrf_proc_tpm *pt, const struct vrf_proc_cfg *cfg,
                      const uint8_t *image, size_t len, uint8_t boot_id[32],
                      uint8_t image_sha256[32]);

/* Records the lock point of the code in PCR 10 and the log: action
 * text-lock, digest = SHA-256 of the whole protected region. For the demo
 * guest that is its first instruction. Returns 0 or -1 (logged). */
int vrf_proc_tpm_lock(struct vrf_proc_tpm *pt, const uint8_t digest[32]);

/* Creates the attestation key under the EK. Returns 0 or -1 (logged; the
 * TPM state becomes GONE). */
int vrf_proc_tpm_ak(struct vrf_proc_tpm *pt);

/* Answers VRF_MSG_ATTEST: a quote over PCR 0, 4, 8, 9, 10 with the
 * monitor's nonce, and the event log, in a sealed memfd (*fd). Fills
 * reply with QUOTE, or FAIL and the reason. Returns 0. */
int vrf_proc_tpm_attest(struct vrf_proc_tpm *pt, const struct vrf_msg *req,
                        struct vrf_msg *reply, int *fd);


#endif /* VRF_PROC_INT_H */
