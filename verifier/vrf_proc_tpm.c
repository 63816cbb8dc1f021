/* vrf_proc_tpm.c: the verifier process's TPM: measured boot before the
 * guest runs, and quotes for `hvpatch attest`. */
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "firmware/fw.h"
#include "firmware/fw_measure.h"
#include "firmware/hv_linux.h"
#include "lib/hv_abi.h"
#include "lib/hv_log.h"
#include "verifier/vrf_proc_int.h"

#define VRF_FW_VERSION "hvpatch firmware 1"

/* A Linux guest's firmware stub: the firmware area (ACPI tables, GDT,
 * page tables, reset vector), a function of the kernel's entry path and
 * the vCPU count only; the verifier parses the kernel for the former. */
static uint8_t *linux_stub_bytes(const struct vrf_proc_cfg *cfg,
                                 const uint8_t *image, size_t len,
                                 size_t *stub_len)
{
    static struct hv_linux_image img; /* large; this process is single */
    int e = hv_linux_parse(image, len, &img);
    uint8_t *fw = malloc(FW_LINUX_FW_SIZE);
    if (e != HV_LINUX_OK) {
        hv_err("verifier: Linux kernel rejected: %s", hv_linux_strerror(e));
        goto fail;
    }
    if (!fw || fw_linux_fw_area(fw, img.boot.kind, cfg->ncpus) != 0) {
        hv_err("verifier: cannot build the Linux firmware area");
        goto fail;
    }
    *stub_len = FW_LINUX_FW_SIZE;
    return fw;
fail:
    free(fw);
    return NULL;
}

/* The firmware stub the monitor writes for this configuration: the
 * verifier builds the same bytes itself (they depend only on the RAM
 * size) in scratch memory below the guest's kernel data. */
static uint8_t *stub_bytes(const struct vrf_proc_cfg *cfg, size_t *len)
{
    uint8_t *scratch = calloc(1, HV_KDATA_GPA);
    struct fw_boot_params bp = {.ncpus = cfg->ncpus,
                                .mem_size = cfg->mem_size};
    if (!scratch || fw_boot_setup(scratch, &bp) != 0) {
        free(scratch);
        return NULL;
    }
    const uint8_t *p = fw_stub_bytes(scratch, len);
    memmove(scratch, p, *len);
    return scratch;
}

int vrf_proc_tpm_boot(struct vrf_proc_tpm *pt, const struct vrf_proc_cfg *cfg,
                      const uint8_t *image, size_t len,
                      uint8_t boot_id[32], uint8_t image_sha256[32])
{
    char err[256];
    uint16_t algs[FW_EVLOG_MAX_ALGS];
    struct fw_boot_result boot;
    size_t stub_len = 0;
    uint8_t *stub = NULL;
    int ret = -1;

    memset(pt, 0, sizeof *pt);
    if (vrf_tpm_open(cfg->tcti, cfg->tpm_flags, 0, &pt->t, err,
                     sizeof err) != 0) {
        hv_err("verifier: TPM %s: %s", cfg->tcti, err);
        return -1;
    }
    if (vrf_tpm_require_reset(pt->t, FW_PCR_QUOTE_MASK) != 0) {
        hv_err("verifier: TPM: PCRs already extended (a TPM shared with "
               "another boot?): %s",
               vrf_tpm_last_error(pt->t));
        goto cleanup;
    }
    size_t n = vrf_tpm_banks(pt->t, algs);
    stub = strcmp(cfg->kind, "linux") == 0
               ? linux_stub_bytes(cfg, image, len, &stub_len)
               : stub_bytes(cfg, &stub_len);
    if (!stub) /* the reason is logged */
        goto cleanup;
    if (fw_evlog_init(&pt->log, algs, n) != 0) {
        hv_err("verifier: out of memory for the event log");
        goto cleanup;
    }
    struct fw_boot_input in = {
        .fw_version = VRF_FW_VERSION,
        .fw_stub = stub,
        .fw_stub_len = stub_len,
        .image = image,
        .image_len = len,
        .kind = cfg->kind,
        .cmdline = cfg->cmdline,
        .initrd = cfg->initrd,
        .initrd_len = cfg->initrd_len,
    };
    int e = fw_measure_boot(&pt->log, &in, vrf_tpm_extend_cb, pt->t, &boot);
    if (e != 0) {
        hv_err("verifier: measured boot failed: %s (%s)", fw_strerror(e),
               vrf_tpm_last_error(pt->t));
        goto cleanup;
    }
    memcpy(boot_id, boot.boot_id, 32);
    memcpy(image_sha256, boot.image_digest, 32);
    pt->state = VRF_TPM_STATE_OK;
    ret = 0;
cleanup:
    free(stub);
    return ret;
}

int vrf_proc_tpm_lock(struct vrf_proc_tpm *pt, const uint8_t digest[32])
{
    struct fw_runtime_rec rec = {.action = FW_ACT_TEXT_LOCK};
    snprintf(rec.id, sizeof rec.id, "%s", "guest-code");
    memcpy(rec.digest, digest, 32);
    int e = fw_measure_runtime(&pt->log, &rec, vrf_tpm_extend_cb, pt->t);
    if (e != 0) {
        hv_err("verifier: measuring the text lock failed: %s (%s)",
               fw_strerror(e), vrf_tpm_last_error(pt->t));
        return -1;
    }
    pt->lock_rec = rec;
    return 0;
}

int vrf_proc_tpm_ak(struct vrf_proc_tpm *pt)
{
    if (vrf_tpm_ak_create(pt->t) != 0) {
        hv_err("verifier: TPM: creating the attestation key failed: %s",
               vrf_tpm_last_error(pt->t));
        pt->state = VRF_TPM_STATE_GONE;
        return -1;
    }
    return 0;
}

/* Writes the quote and the event log into a sealed memfd for the
 * monitor; returns the fd or -1. */
static int quote_memfd(const struct vrf_quote *q, const struct fw_evlog *log)
{
    int fd = memfd_create("hvpatch-quote", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (pwrite(fd, q, sizeof *q, 0) != (ssize_t)sizeof *q ||
        pwrite(fd, log->buf, log->len, (off_t)sizeof *q) !=
            (ssize_t)log->len ||
        fcntl(fd, F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

_Static_assert(VRF_MSG_NONCE_MAX == VRF_NONCE_MAX, "ATTEST carries a nonce");

int vrf_proc_tpm_attest(struct vrf_proc_tpm *pt, const struct vrf_msg *req,
                        struct vrf_msg *reply, int *fd)
{
    struct vrf_quote q;
    *fd = -1;
    if (pt->state != VRF_TPM_STATE_OK)
        return vrf_msg_fail(reply, pt->state == VRF_TPM_STATE_NONE
                                        ? "this VM runs without a TPM"
                                        : "the TPM is gone; restart the VM");
    const struct vrf_msg_attest *a = &req->attest;
    if (a->nonce_len == 0 || a->nonce_len > VRF_NONCE_MAX)
        return vrf_msg_fail(reply, "the nonce must be 1 to 64 bytes");
    if (vrf_tpm_quote(pt->t, FW_PCR_QUOTE_MASK, a->nonce, a->nonce_len,
                      &q) != 0) {
        if (vrf_tpm_is_gone(pt->t))
            pt->state = VRF_TPM_STATE_GONE;
        return vrf_msg_fail(reply, vrf_tpm_last_error(pt->t));
    }
    *fd = quote_memfd(&q, &pt->log);
    if (*fd < 0)
        return vrf_msg_fail(reply, "cannot pass the quote (memfd)");
    reply->type = VRF_MSG_QUOTE;
    reply->quote.quote_size = sizeof q;
    reply->quote.log_len = pt->log.len;
    return 0;
}
