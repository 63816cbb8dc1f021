/* vrf_proc_int.h: private to the verifier process (vrf_proc*.c). */
#ifndef VRF_PROC_INT_H
#define VRF_PROC_INT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>

#include "firmware/fw_eventlog.h"
#include "lib/vrf_msg.h"
#include "tpm/vrf_tpm.h"
#include "verifier/vrf_proc.h"

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

/* The trust store as the verifier process keeps it current
 * (vrf_proc_trust.c; README, "Trust store"). */
#define VRF_TRUST_REFRESH_S 5 /* the directory is re-read at least this
                                 often, and before every apply */

struct vrf_patch;

struct vrf_proc_trust {
    int dirfd;       /* the --trust directory, opened before the sandbox;
                        -1: none (patching refused) */
    const char *dir; /* its name, for messages */
    uint8_t sha256[32]; /* of the store in use (keys_trust_info) */
    uint8_t seen[32];   /* of the latest contents read, loaded or not */
    size_t anchors;
    int64_t loaded_at;  /* when the store in use was loaded */
    int64_t next_check; /* CLOCK_MONOTONIC seconds of the next re-read */
    int code;           /* the latest reload's result: 0, a warning
                           (VRF_ERR_TRUST_CRL_EXPIRED) or why the old store
                           was kept */
    char reason[VRF_TRUST_REASON_MAX];
};

/* Opens dir (may be NULL) and loads it into pp->trust, before the
 * sandbox. Returns 0 or -1 (logged). */
int vrf_proc_trust_open(struct vrf_proc_trust *tr, struct vrf_patch *pp,
                        const char *dir);

/* Re-reads the directory; if what it holds changed since the latest read
 * (or force), loads it aside and swaps it in, or keeps the store in use
 * if it does not load; either way appends a "trust-reload" audit record.
 * trigger names the cause in that record. Returns tr->code. */
int vrf_proc_trust_refresh(struct vrf_proc_trust *tr, struct vrf_patch *pp,
                           const char *trigger, int force);

/* Answers VRF_MSG_TRUST_RELOAD: reloads (VRF_TRUST_RELOAD) or not, then
 * fills reply with TRUST. */
void vrf_proc_trust_request(struct vrf_proc_trust *tr, struct vrf_patch *pp,
                            const struct vrf_msg *req, struct vrf_msg *reply);

/* Milliseconds until the periodic re-read is due (0: now), or -1 if there
 * is no trust store. */
int vrf_proc_trust_wait_ms(const struct vrf_proc_trust *tr);

#endif /* VRF_PROC_INT_H */
