/* fw_measure.h: measured boot and runtime measurements: hash what the
 * monitor loads, extend it into the TPM and record it in the event log.
 *
 * PCR map (TCG PC Client layout; docs/TPM.md has the whole story):
 *   PCR 0  monitor firmware stub: EV_S_CRTM_VERSION (version string, UTF-16),
 *          EV_POST_CODE "POST CODE" (digest of the stub bytes), EV_SEPARATOR
 *   PCR 4  guest image: EV_IPL (digest of the image file as booted), then
 *          EV_EVENT_TAG boot info (guest kind; digest of the event data)
 *   PCR 8  command line: EV_IPL "kernel_cmdline: <cmdline>\0" (digest of the
 *          command line without the NUL; the empty string when absent)
 *   PCR 9  initrd, when present: EV_IPL "initrd" (digest of the initrd)
 *   PCR 10 every runtime change of protected code: EV_EVENT_TAG runtime
 *          record (digest of the event data)
 *
 * This layer does not talk to a TPM itself: it calls an extend function
 * (vrf_tpm_extend_cb in tpm/vrf_tpm.h is the real one), so it can be
 * unit-tested and reused with any TPM. For every record it reserves log
 * space, extends, then appends: a record that reached the TPM is always in
 * the log; if extending fails the log is unchanged.
 */
#ifndef FW_MEASURE_H
#define FW_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/fw_eventlog.h"

#define FW_PCR_FIRMWARE 0u
#define FW_PCR_IMAGE 4u
#define FW_PCR_CMDLINE 8u
#define FW_PCR_INITRD 9u
#define FW_PCR_RUNTIME 10u
/* The PCRs a quote must cover: the four boot PCRs and the runtime PCR. */
#define FW_PCR_QUOTE_MASK                                                      \
    ((1u << FW_PCR_FIRMWARE) | (1u << FW_PCR_IMAGE) | (1u << FW_PCR_CMDLINE) | \
     (1u << FW_PCR_INITRD) | (1u << FW_PCR_RUNTIME))
#define FW_PCR_BOOT_MASK                                                       \
    ((1u << FW_PCR_FIRMWARE) | (1u << FW_PCR_IMAGE) | (1u << FW_PCR_CMDLINE) | \
     (1u << FW_PCR_INITRD))

#define FW_CMDLINE_MAX 4096u /* bytes, without the NUL */
#define FW_CMDLINE_PREFIX "kernel_cmdline: "

/* Extends PCR pcr of every bank in d (d->count digests, in the log's
 * algorithm order). Returns 0 on success, any non-zero value on failure
 * (the caller keeps its own error detail). */
typedef int (*fw_extend_fn)(void *ctx, uint32_t pcr,
                            const struct fw_digests *d);

/* What the monitor boots. Pointers are borrowed for the call only. */
struct fw_boot_input {
    const char *fw_version; /* e.g. "hvpatch firmware 1"; required */
    const void *fw_stub;    /* firmware stub bytes; required, non-empty */
    size_t fw_stub_len;
    const void *image; /* guest image file as booted; required */
    size_t image_len;
    const char *kind;    /* guest kind ("demo", "linux"); required */
    const char *cmdline; /* NULL or "" = no command line */
    const void *initrd;  /* NULL = no initrd (PCR 9 untouched) */
    size_t initrd_len;
};

/* The measurements of one boot. */
struct fw_boot_result {
    /* Baseline id: SHA-256 of the guest image file as booted. With kind,
     * it is what a patch package targets ("target baseline") and what
     * `hvpatch status` shows as "baseline". */
    uint8_t image_digest[FW_SHA256_SIZE];
    char kind[FW_KIND_MAX + 1];
    /* Boot-measurement id: SHA-256(PCR0 || PCR4 || PCR8 || PCR9) of the
     * SHA-256 bank after boot: the pcrDigest of a TPM quote over
     * sha256:0,4,8,9 right after boot. It binds the firmware, image, kind,
     * command line and initrd together; `status` shows it as "boot id". */
    uint8_t boot_id[FW_SHA256_SIZE];
};

/* Measures one boot into a TPM whose PCRs 0, 4, 8, 9 and 10 are in their
 * reset state (all zero; vrf_tpm_require_reset) and into log, freshly
 * initialised by fw_evlog_init() with the TPM's active PCR banks and no
 * record yet. Call before the guest's first instruction. Returns 0, FW_ERR_ARG,
 * FW_ERR_EMPTY (missing required input), FW_ERR_PAYLOAD (bad kind),
 * FW_ERR_EVENT_SIZE (command line longer than FW_CMDLINE_MAX), FW_ERR_EXTEND,
 * or a log error. On failure the TPM may hold some of the records and the boot
 * must not go on. */
int fw_measure_boot(struct fw_evlog *log, const struct fw_boot_input *in,
                    fw_extend_fn extend, void *ctx, struct fw_boot_result *out);

/* Records one runtime change of protected code (text lock, patch, revert)
 * in PCR 10 and the log. Call after the change is written and before the
 * vCPUs resume. Returns 0, FW_ERR_ARG, FW_ERR_PAYLOAD, FW_ERR_EXTEND or a
 * log error; on FW_ERR_EXTEND the log is unchanged. */
int fw_measure_runtime(struct fw_evlog *log, const struct fw_runtime_rec *rec,
                       fw_extend_fn extend, void *ctx);

/* Writes 64 lowercase hex digits and a NUL into hex (65 bytes). */
void fw_hex32(const uint8_t d[FW_SHA256_SIZE], char hex[65]);

#endif /* FW_MEASURE_H */
