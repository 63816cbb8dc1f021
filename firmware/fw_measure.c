/* fw_measure.c: measured boot (PCR 0/4/8/9) and runtime-change records
 * (PCR 10) through an extend callback, with the matching event log. */
#include "firmware/fw_measure.h"

#include <string.h>

#include <mbedtls/md.h>

#include "lib/lib_hex.h"

#define FW_VERSION_MAX 64u
#define POST_CODE_STR "POST CODE" /* PC Client PFP event data for the CRTM */
#define INITRD_STR "initrd"

void fw_hex32(const uint8_t d[FW_SHA256_SIZE], char hex[65])
{
    lib_hex_encode(d, FW_SHA256_SIZE, hex);
}

/* One record: digests of `measured` (or of the event data itself when
 * measured == NULL), reserve, extend, append; *digests (if not NULL) gets
 * the digests. */
static int measure_d(struct fw_evlog *log, uint32_t pcr, uint32_t type,
                     const void *measured, size_t measured_len,
                     const void *data, size_t data_len, fw_extend_fn extend,
                     void *ctx, struct fw_digests *digests)
{
    struct fw_digests d;
    int ret;

    if (measured == NULL) {
        measured = data;
        measured_len = data_len;
    }
    ret = fw_digests_compute(log->algs, log->nalgs, measured, measured_len, &d);
    if (ret != 0)
        goto cleanup;
    ret = fw_evlog_reserve(log, data_len);
    if (ret != 0)
        goto cleanup;
    ret = FW_ERR_EXTEND;
    if (extend(ctx, pcr, &d) != 0)
        goto cleanup;
    ret = fw_evlog_append(log, pcr, type, &d, data, data_len);
    if (digests != NULL)
        *digests = d;
cleanup:
    return ret;
}

static int measure(struct fw_evlog *log, uint32_t pcr, uint32_t type,
                   const void *measured, size_t measured_len, const void *data,
                   size_t data_len, fw_extend_fn extend, void *ctx)
{
    return measure_d(log, pcr, type, measured, measured_len, data, data_len,
                     extend, ctx, NULL);
}

static int printable(const char *s, size_t max, size_t *len)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    *len = n;
    return 1;
}

/* Computes out->boot_id from the log's SHA-256 replay. */
static int boot_id(const struct fw_evlog *log, struct fw_boot_result *out)
{
    struct fw_evlog_parsed p;
    uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE];
    uint8_t cat[4 * FW_SHA256_SIZE];
    uint32_t used;
    static const uint32_t order[4] = {FW_PCR_FIRMWARE, FW_PCR_IMAGE,
                                      FW_PCR_CMDLINE, FW_PCR_INITRD};
    int ret = fw_evlog_parse(log->buf, log->len, &p);
    if (ret != 0)
        return ret;
    ret = fw_evlog_replay_sha256(&p, pcr, &used);
    fw_evlog_parsed_free(&p);
    if (ret != 0)
        return ret;
    for (size_t i = 0; i < 4; i++)
        memcpy(cat + i * FW_SHA256_SIZE, pcr[order[i]], FW_SHA256_SIZE);
    if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), cat,
                   sizeof cat, out->boot_id) != 0)
        return FW_ERR_HASH;
    return 0;
}

int fw_measure_boot(struct fw_evlog *log, const struct fw_boot_input *in,
                    fw_extend_fn extend, void *ctx, struct fw_boot_result *out)
{
    int ret = FW_ERR_ARG;
    uint8_t ver16[2 * (FW_VERSION_MAX + 1)];
    uint8_t tag[FW_BOOT_INFO_MAX_LEN];
    uint8_t cmdbuf[sizeof FW_CMDLINE_PREFIX + FW_CMDLINE_MAX];
    static const uint8_t separator[4] = {0, 0, 0, 0};
    struct fw_boot_info bi;
    size_t vlen, klen, taglen, clen;

    if (log == NULL || log->buf == NULL || log->nevents != 0 || in == NULL ||
        extend == NULL || out == NULL)
        goto cleanup;
    memset(out, 0, sizeof *out);

    /* 0. Inputs. */
    ret = FW_ERR_EMPTY;
    if (in->fw_version == NULL || in->fw_stub == NULL || in->fw_stub_len == 0 ||
        in->image == NULL || in->image_len == 0 || in->kind == NULL ||
        (in->initrd == NULL && in->initrd_len != 0))
        goto cleanup;
    ret = FW_ERR_PAYLOAD;
    if (!printable(in->fw_version, FW_VERSION_MAX, &vlen) ||
        !printable(in->kind, FW_KIND_MAX, &klen))
        goto cleanup;
    const char *cmdline = in->cmdline ? in->cmdline : "";
    clen = strnlen(cmdline, FW_CMDLINE_MAX + 1);
    ret = FW_ERR_EVENT_SIZE;
    if (clen > FW_CMDLINE_MAX)
        goto cleanup;
    memset(&bi, 0, sizeof bi);
    memcpy(bi.kind, in->kind, klen);
    ret = fw_boot_info_encode(&bi, tag, sizeof tag, &taglen);
    if (ret != 0)
        goto cleanup;

    /* 1. PCR 0: CRTM version (UTF-16LE with its NUL, digest of the data),
     * the stub code, then the separator that closes the firmware PCR. */
    for (size_t i = 0; i <= vlen; i++) {
        ver16[2 * i] = (uint8_t)(i < vlen ? in->fw_version[i] : 0);
        ver16[2 * i + 1] = 0;
    }
    ret = measure(log, FW_PCR_FIRMWARE, FW_EV_S_CRTM_VERSION, NULL, 0, ver16,
                  2 * (vlen + 1), extend, ctx);
    if (ret != 0)
        goto cleanup;
    ret = measure(log, FW_PCR_FIRMWARE, FW_EV_POST_CODE, in->fw_stub,
                  in->fw_stub_len, POST_CODE_STR, strlen(POST_CODE_STR), extend,
                  ctx);
    if (ret != 0)
        goto cleanup;
    ret = measure(log, FW_PCR_FIRMWARE, FW_EV_SEPARATOR, NULL, 0, separator,
                  sizeof separator, extend, ctx);
    if (ret != 0)
        goto cleanup;

    /* 2. PCR 4: the image as booted, then the guest kind. */
    static const char img_desc[] = "hvpatch guest image";
    struct fw_digests image_d;
    ret = measure_d(log, FW_PCR_IMAGE, FW_EV_IPL, in->image, in->image_len,
                    img_desc, strlen(img_desc), extend, ctx, &image_d);
    if (ret != 0)
        goto cleanup;
    ret = measure(log, FW_PCR_IMAGE, FW_EV_EVENT_TAG, NULL, 0, tag, taglen,
                  extend, ctx);
    if (ret != 0)
        goto cleanup;

    /* 3. PCR 8: the command line, GRUB-style event data so that
     * tpm2_eventlog can check the digest against it. */
    size_t plen = strlen(FW_CMDLINE_PREFIX);
    memcpy(cmdbuf, FW_CMDLINE_PREFIX, plen);
    memcpy(cmdbuf + plen, cmdline, clen);
    cmdbuf[plen + clen] = '\0';
    ret = measure(log, FW_PCR_CMDLINE, FW_EV_IPL, cmdline, clen, cmdbuf,
                  plen + clen + 1, extend, ctx);
    if (ret != 0)
        goto cleanup;

    /* 4. PCR 9: the initrd, when there is one. */
    if (in->initrd != NULL) {
        ret = measure(log, FW_PCR_INITRD, FW_EV_IPL, in->initrd, in->initrd_len,
                      INITRD_STR, strlen(INITRD_STR), extend, ctx);
        if (ret != 0)
            goto cleanup;
    }

    /* 5. The ids the monitor shows and packages target: the image's
     * SHA-256 is PCR 4's first event's (hashed once: a kernel is 53 MB). */
    const uint8_t *sha = fw_digests_sha256(&image_d);
    ret = FW_ERR_HASH;
    if (sha != NULL)
        memcpy(out->image_digest, sha, FW_SHA256_SIZE);
    else if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                        in->image, in->image_len, out->image_digest) != 0)
        goto cleanup;
    memcpy(out->kind, in->kind, klen);
    ret = boot_id(log, out);
cleanup:
    return ret;
}

int fw_measure_runtime(struct fw_evlog *log, const struct fw_runtime_rec *rec,
                       fw_extend_fn extend, void *ctx)
{
    uint8_t data[FW_RUNTIME_MAX_LEN];
    size_t len;
    int ret = FW_ERR_ARG;

    if (log == NULL || log->buf == NULL || rec == NULL || extend == NULL)
        goto cleanup;
    ret = fw_runtime_encode(rec, data, sizeof data, &len);
    if (ret != 0)
        goto cleanup;
    ret = measure(log, FW_PCR_RUNTIME, FW_EV_EVENT_TAG, NULL, 0, data, len,
                  extend, ctx);
cleanup:
    return ret;
}
