/* vrf_tpm.c: the verifier's TPM through tpm2-tss ESAPI: start-up, PCR
 * banks, extend and read, the anti-rollback NV counter, EK and AK, quote.
 * Every failed TSS call is reported as "TPM: <call> failed: <decoded rc>". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "tpm/vrf_tpm_int.h"

#define SWTPM_PREFIX "swtpm:path="
#define QUOTE_TRIES 3
/* TPM2_TRANSIENT_FIRST, without the header's signed-int shift (UB). */
#define TRANSIENT_FIRST 0x80000000u

static const struct {
    int code;
    const char *msg;
} vrf_tpm_errs[] = {
    {VRF_TPM_OK, "success"},
    {VRF_ERR_TPM_ARG, "invalid argument"},
    {VRF_ERR_TPM_NOMEM, "out of memory"},
    {VRF_ERR_TPM_TCTI, "TPM: cannot open the TCTI"},
    {VRF_ERR_TPM_ESYS, "TPM: command failed"},
    {VRF_ERR_TPM_GONE, "TPM: not answering any more (swtpm stopped?)"},
    {VRF_ERR_TPM_TIMEOUT, "TPM: no answer in time"},
    {VRF_ERR_TPM_BANKS, "TPM: no usable SHA-256 PCR bank"},
    {VRF_ERR_TPM_PCR_NOT_RESET, "TPM: boot PCRs already extended since "
                                "start-up"},
    {VRF_ERR_TPM_NO_AK, "TPM: no attestation key"},
    {VRF_ERR_TPM_ROLLBACK, "anti-rollback: sequence not above the highest "
                           "applied one"},
    {VRF_ERR_TPM_NV_STEP, "anti-rollback: sequence jumps too far ahead"},
    {VRF_ERR_TPM_NV_OVERSHOOT, "anti-rollback: TPM counter moved past the "
                               "sequence"},
    {VRF_ERR_TPM_NV_ATTRS, "anti-rollback: NV index exists with other "
                           "attributes"},
    {VRF_ERR_TPM_IO, "attestation file I/O failed"},
    {VRF_ERR_TPM_QUOTE_RACE, "TPM: PCRs kept changing during the quote"},
    {VRF_ERR_TPM_RANDOM, "no random nonce (getrandom)"},
    {VRF_ERR_TPM_NV_DOWN, "anti-rollback: TPM counter reads lower than "
                          "before"},
    {VRF_ERR_ATT_FORMAT, "attestation: malformed file or structure"},
    {VRF_ERR_ATT_AK, "attestation: AK is not a restricted ECC P-256 signing "
                     "key"},
    {VRF_ERR_ATT_SIGNATURE, "attestation: quote signature does not verify"},
    {VRF_ERR_ATT_NONCE, "attestation: nonce mismatch"},
    {VRF_ERR_ATT_MAGIC, "attestation: not TPM-generated (bad magic)"},
    {VRF_ERR_ATT_TYPE, "attestation: not a quote"},
    {VRF_ERR_ATT_PCR_SELECT, "attestation: PCR selection wrong or "
                             "incomplete"},
    {VRF_ERR_ATT_PCR_DIGEST, "attestation: PCR values do not match the "
                             "quoted digest"},
    {VRF_ERR_ATT_LOG, "attestation: event log does not parse"},
    {VRF_ERR_ATT_REPLAY, "attestation: event log replay does not match the "
                         "quoted PCRs"},
    {VRF_ERR_ATT_LOG_CONTENT, "attestation: event log is not a valid "
                              "hvpatch log"},
    {VRF_ERR_ATT_BASELINE, "attestation: baseline differs from the target"},
};

const char *vrf_tpm_strerror(int err)
{
    for (size_t i = 0; i < sizeof vrf_tpm_errs / sizeof vrf_tpm_errs[0]; i++)
        if (vrf_tpm_errs[i].code == err)
            return vrf_tpm_errs[i].msg;
    return "unknown error";
}

void vrf_errf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (buf == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

#define ERRF(t, ...) vrf_errf((t)->err, sizeof(t)->err, __VA_ARGS__)

/* A TPM response code without its handle/session/parameter number. */
static TSS2_RC tpm_rc_base(TSS2_RC rc)
{
    if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
        return rc;
    if (rc & TPM2_RC_FMT1)
        return rc & (TPM2_RC_FMT1 | 0x3f);
    return rc & 0xfff;
}

/* Records a failed TSS call and maps it: TCTI-layer failures mean the TPM
 * is gone (or timed out) and poison the context. */
static int tss_fail(struct vrf_tpm *t, const char *call, TSS2_RC rc)
{
    int tcti = (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER;
    int timeout = tcti && t->tcti_builtin && vrf_tcti_swtpm_timed_out(t->tcti);

    t->last_rc = rc;

    ERRF(t, "TPM: %s failed: %s (0x%x)%s", call, Tss2_RC_Decode(rc),
         (unsigned)rc,
         timeout ? ": no answer within the time limit"
         : tcti  ? ": the TPM connection failed"
                 : "");
    if (tcti) {
        t->gone = 1;
        return timeout ? VRF_ERR_TPM_TIMEOUT : VRF_ERR_TPM_GONE;
    }
    return VRF_ERR_TPM_ESYS;
}

static int check_alive(struct vrf_tpm *t)
{
    if (t == NULL || t->esys == NULL)
        return VRF_ERR_TPM_ARG;
    if (t->gone) {
        ERRF(t, "TPM: not answering any more (an earlier command failed "
                "with an I/O error or time-out); refusing TPM operations");
        return VRF_ERR_TPM_GONE;
    }
    return 0;
}

const char *vrf_tpm_last_error(const struct vrf_tpm *t)
{
    return t ? t->err : "";
}

int vrf_tpm_is_gone(const struct vrf_tpm *t)
{
    return t != NULL && t->gone;
}

size_t vrf_tpm_banks(const struct vrf_tpm *t, uint16_t algs[FW_EVLOG_MAX_ALGS])
{
    if (t == NULL || algs == NULL)
        return 0;
    memcpy(algs, t->banks, t->nbanks * sizeof algs[0]);
    return t->nbanks;
}

/* ------------------------------------------------------ open and close */

static int read_banks(struct vrf_tpm *t)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;
    int ret, have256 = 0;

    TSS2_RC rc =
        Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                           TPM2_CAP_PCRS, 0, 1, &more, &cap);
    if (rc != TSS2_RC_SUCCESS) {
        ret = tss_fail(t, "Esys_GetCapability(PCRS)", rc);
        goto cleanup;
    }
    ret = VRF_ERR_TPM_BANKS;
    t->nbanks = 0;
    const TPML_PCR_SELECTION *s = &cap->data.assignedPCR;
    for (UINT32 i = 0; i < s->count && i < TPM2_NUM_PCR_BANKS; i++) {
        const TPMS_PCR_SELECTION *b = &s->pcrSelections[i];
        int active = 0;
        for (unsigned k = 0; k < b->sizeofSelect && k < TPM2_PCR_SELECT_MAX;
             k++)
            active |= b->pcrSelect[k] != 0;
        if (!active)
            continue;
        if (fw_alg_digest_size(b->hash) == 0) {
            ERRF(t,
                 "TPM: active PCR bank with algorithm 0x%04x, which the "
                 "event log cannot record; deactivate it "
                 "(tpm2_pcrallocate)",
                 b->hash);
            goto cleanup;
        }
        if (t->nbanks == FW_EVLOG_MAX_ALGS)
            goto cleanup;
        t->banks[t->nbanks++] = b->hash;
        have256 |= b->hash == TPM2_ALG_SHA256;
    }
    if (!have256) {
        ERRF(t, "TPM: no active SHA-256 PCR bank");
        goto cleanup;
    }
    ret = 0;
cleanup:
    Esys_Free(cap);
    return ret;
}

/* Flushes transient objects left by an earlier user of a TPM that is ours
 * alone (a crashed run of ours against the same swtpm). */
static int flush_transient(struct vrf_tpm *t)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;
    int ret = 0;

    TSS2_RC rc = Esys_GetCapability(
        t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
        TRANSIENT_FIRST, TPM2_MAX_CAP_HANDLES, &more, &cap);
    if (rc != TSS2_RC_SUCCESS) {
        ret = tss_fail(t, "Esys_GetCapability(HANDLES)", rc);
        goto cleanup;
    }
    for (UINT32 i = 0; i < cap->data.handles.count; i++) {
        ESYS_TR tr = ESYS_TR_NONE;
        rc = Esys_TR_FromTPMPublic(t->esys, cap->data.handles.handle[i],
                                   ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   &tr);
        if (rc == TSS2_RC_SUCCESS)
            rc = Esys_FlushContext(t->esys, tr);
        if (rc != TSS2_RC_SUCCESS) {
            ret = tss_fail(t, "Esys_FlushContext(leftover object)", rc);
            goto cleanup;
        }
    }
cleanup:
    Esys_Free(cap);
    return ret;
}

int vrf_tpm_open(const char *tcti, unsigned flags, unsigned timeout_ms,
                 struct vrf_tpm **out, char *errbuf, size_t errlen)
{
    struct vrf_tpm *t = NULL;
    int ret = VRF_ERR_TPM_ARG;
    TSS2_RC rc;

    if (out != NULL)
        *out = NULL;
    if (tcti == NULL || out == NULL || tcti[0] == '\0') {
        vrf_errf(errbuf, errlen, "TPM: no TCTI given");
        goto cleanup;
    }
    ret = VRF_ERR_TPM_NOMEM;
    t = calloc(1, sizeof *t);
    if (t == NULL)
        goto cleanup;
    t->ak = ESYS_TR_NONE;
    t->nv = ESYS_TR_NONE;
    if (timeout_ms == 0)
        timeout_ms = VRF_TPM_TIMEOUT_MS;

    /* 1. The TCTI: our bounded one for a local swtpm, else tpm2-tss's. */
    if (!(flags & VRF_TPM_OPEN_TSS_TCTI) &&
        strncmp(tcti, SWTPM_PREFIX, strlen(SWTPM_PREFIX)) == 0 &&
        strchr(tcti, ',') == NULL) {
        rc = vrf_tcti_swtpm_init(tcti + strlen(SWTPM_PREFIX), timeout_ms,
                                 &t->tcti);
        t->tcti_builtin = 1;
    } else {
        rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
    }
    if (rc != TSS2_RC_SUCCESS) {
        ERRF(t, "TPM: cannot open TCTI \"%s\": %s", tcti, Tss2_RC_Decode(rc));
        t->tcti = NULL;
        ret = VRF_ERR_TPM_TCTI;
        goto cleanup;
    }

    /* 2. ESAPI on top. */
    rc = Esys_Initialize(&t->esys, t->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        ret = tss_fail(t, "Esys_Initialize", rc);
        t->esys = NULL;
        goto cleanup;
    }

    /* 3. Start-up; a TPM that is already started answers
     * TPM_RC_INITIALIZE, which is what we want. */
    rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
    if (rc != TSS2_RC_SUCCESS && tpm_rc_base(rc) != TPM2_RC_INITIALIZE) {
        ret = tss_fail(t, "Esys_Startup", rc);
        goto cleanup;
    }

    /* 4. Banks and, for a TPM of our own, leftovers of a crashed run. */
    ret = read_banks(t);
    if (ret != 0)
        goto cleanup;
    if (flags & VRF_TPM_OPEN_FLUSH_TRANSIENT) {
        ret = flush_transient(t);
        if (ret != 0)
            goto cleanup;
    }
    *out = t;
    t = NULL;
    ret = 0;
cleanup:
    if (t != NULL) {
        vrf_errf(errbuf, errlen, "%s",
                 t->err[0] ? t->err : vrf_tpm_strerror(ret));
        vrf_tpm_close(t);
    }
    return ret;
}

void vrf_tpm_close(struct vrf_tpm *t)
{
    if (t == NULL)
        return;
    if (t->esys != NULL && t->ak != ESYS_TR_NONE && !t->gone)
        (void)Esys_FlushContext(t->esys, t->ak);
    if (t->esys != NULL && t->nv != ESYS_TR_NONE)
        (void)Esys_TR_Close(t->esys, &t->nv);
    if (t->esys != NULL)
        Esys_Finalize(&t->esys);
    if (t->tcti_builtin)
        vrf_tcti_swtpm_free(t->tcti);
    else if (t->tcti != NULL)
        Tss2_TctiLdr_Finalize(&t->tcti);
    mbedtls_platform_zeroize(t, sizeof *t);
    free(t);
}

int vrf_tpm_shutdown(struct vrf_tpm *t)
{
    int ret = check_alive(t);
    if (ret != 0)
        return ret;
    TSS2_RC rc = Esys_Shutdown(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, TPM2_SU_CLEAR);
    return rc == TSS2_RC_SUCCESS ? 0 : tss_fail(t, "Esys_Shutdown", rc);
}

/* ------------------------------------------------------------------ PCRs */

int vrf_tpm_extend(struct vrf_tpm *t, uint32_t pcr, const struct fw_digests *d)
{
    TPML_DIGEST_VALUES v;
    int ret = check_alive(t);

    if (ret != 0)
        goto cleanup;
    ret = VRF_ERR_TPM_ARG;
    if (d == NULL || pcr >= FW_PCR_COUNT) {
        ERRF(t, "TPM: extend: bad PCR %u or no digests", pcr);
        goto cleanup;
    }
    ret = VRF_ERR_TPM_BANKS;
    if (d->count != t->nbanks) {
        ERRF(t, "TPM: extend PCR %u: %zu digests for %zu active banks", pcr,
             d->count, t->nbanks);
        goto cleanup;
    }
    memset(&v, 0, sizeof v);
    v.count = (UINT32)d->count;
    for (size_t i = 0; i < d->count; i++) {
        if (d->d[i].alg != t->banks[i] ||
            d->d[i].size != fw_alg_digest_size(t->banks[i])) {
            ERRF(t,
                 "TPM: extend PCR %u: digest %zu is alg 0x%04x, bank is "
                 "0x%04x",
                 pcr, i, d->d[i].alg, t->banks[i]);
            goto cleanup;
        }
        v.digests[i].hashAlg = d->d[i].alg;
        memcpy(&v.digests[i].digest, d->d[i].bytes, d->d[i].size);
    }
    TSS2_RC rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD,
                                 ESYS_TR_NONE, ESYS_TR_NONE, &v);
    ret = rc == TSS2_RC_SUCCESS ? 0 : tss_fail(t, "Esys_PCR_Extend", rc);
cleanup:
    return ret;
}

int vrf_tpm_extend_cb(void *ctx, uint32_t pcr, const struct fw_digests *d)
{
    return vrf_tpm_extend(ctx, pcr, d);
}

static void select_sha256(TPML_PCR_SELECTION *sel, uint32_t mask)
{
    memset(sel, 0, sizeof *sel);
    sel->count = 1;
    sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel->pcrSelections[0].sizeofSelect = 3;
    for (unsigned i = 0; i < FW_PCR_COUNT; i++)
        if (mask & (1u << i))
            sel->pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
}

int vrf_tpm_pcr_read(struct vrf_tpm *t, uint32_t mask,
                     uint8_t out[FW_PCR_COUNT][FW_SHA256_SIZE])
{
    TPML_PCR_SELECTION *sel_out = NULL;
    TPML_DIGEST *vals = NULL;
    int ret = check_alive(t);

    if (ret != 0)
        goto cleanup;
    ret = VRF_ERR_TPM_ARG;
    if (out == NULL || mask == 0 || (mask >> FW_PCR_COUNT) != 0)
        goto cleanup;
    uint32_t left = mask;
    /* TPM2_PCR_Read returns at most 8 digests: ask until all came. */
    for (int round = 0; left != 0 && round < (int)FW_PCR_COUNT; round++) {
        TPML_PCR_SELECTION sel;
        UINT32 counter;
        select_sha256(&sel, left);
        TSS2_RC rc =
            Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                          &sel, &counter, &sel_out, &vals);
        if (rc != TSS2_RC_SUCCESS) {
            ret = tss_fail(t, "Esys_PCR_Read", rc);
            goto cleanup;
        }
        ret = VRF_ERR_TPM_ESYS;
        if (sel_out->count != 1 ||
            sel_out->pcrSelections[0].hash != TPM2_ALG_SHA256) {
            ERRF(t, "TPM: PCR_Read returned no SHA-256 bank");
            goto cleanup;
        }
        UINT32 vi = 0;
        for (unsigned i = 0; i < FW_PCR_COUNT; i++) {
            if (!(sel_out->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8))))
                continue;
            if (!(left & (1u << i)) || vi >= vals->count ||
                vals->digests[vi].size != FW_SHA256_SIZE) {
                ERRF(t, "TPM: PCR_Read returned an unexpected selection");
                goto cleanup;
            }
            memcpy(out[i], vals->digests[vi++].buffer, FW_SHA256_SIZE);
            left &= ~(1u << i);
        }
        if (vi == 0) {
            ERRF(t, "TPM: PCR_Read returned no PCR values");
            goto cleanup;
        }
        Esys_Free(sel_out);
        Esys_Free(vals);
        sel_out = NULL;
        vals = NULL;
    }
    ret = left == 0 ? 0 : VRF_ERR_TPM_ESYS;
cleanup:
    Esys_Free(sel_out);
    Esys_Free(vals);
    return ret;
}

int vrf_tpm_require_reset(struct vrf_tpm *t, uint32_t mask)
{
    uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE];
    static const uint8_t zero[FW_SHA256_SIZE];
    int ret = vrf_tpm_pcr_read(t, mask, pcr);
    if (ret != 0)
        return ret;
    for (unsigned i = 0; i < FW_PCR_COUNT; i++) {
        if ((mask & (1u << i)) && memcmp(pcr[i], zero, sizeof zero) != 0) {
            ERRF(t,
                 "TPM: PCR %u is not zero: this TPM was extended since "
                 "its start-up; restart it (swtpm) or use a TPM that "
                 "belongs to this VM alone",
                 i);
            return VRF_ERR_TPM_PCR_NOT_RESET;
        }
    }
    return 0;
}

/* ------------------------------------------------ anti-rollback counter */

#define NV_ATTRS                                                               \
    ((TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHWRITE |          \
     TPMA_NV_AUTHREAD | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA)
/* Attribute bits the TPM sets on its own. */
#define NV_STATE_BITS                                                          \
    (TPMA_NV_WRITTEN | TPMA_NV_WRITELOCKED | TPMA_NV_READLOCKED)

/* Finds (and on first use defines) the counter index. */
static int nv_open(struct vrf_tpm *t, ESYS_TR *nv)
{
    TPM2B_NV_PUBLIC *pub = NULL;
    int ret;

    *nv = ESYS_TR_NONE;
    TSS2_RC rc =
        Esys_TR_FromTPMPublic(t->esys, VRF_NV_ROLLBACK_INDEX, ESYS_TR_NONE,
                              ESYS_TR_NONE, ESYS_TR_NONE, nv);
    if (rc == TSS2_RC_SUCCESS) {
        rc = Esys_NV_ReadPublic(t->esys, *nv, ESYS_TR_NONE, ESYS_TR_NONE,
                                ESYS_TR_NONE, &pub, NULL);
        if (rc != TSS2_RC_SUCCESS) {
            ret = tss_fail(t, "Esys_NV_ReadPublic", rc);
            goto cleanup;
        }
        const TPMS_NV_PUBLIC *p = &pub->nvPublic;
        if ((p->attributes & ~NV_STATE_BITS) != NV_ATTRS || p->dataSize != 8 ||
            p->nameAlg != TPM2_ALG_SHA256 || p->authPolicy.size != 0) {
            ERRF(t,
                 "anti-rollback: NV index 0x%08x exists with attributes "
                 "0x%08x, size %u: not our counter; refusing to use it",
                 VRF_NV_ROLLBACK_INDEX, (unsigned)p->attributes,
                 (unsigned)p->dataSize);
            ret = VRF_ERR_TPM_NV_ATTRS;
            goto cleanup;
        }
        ret = 0;
        goto cleanup;
    }
    if (tpm_rc_base(rc) != TPM2_RC_HANDLE) {
        ret = tss_fail(t, "Esys_TR_FromTPMPublic(NV index)", rc);
        goto cleanup;
    }

    /* Absent: define it. Empty auth, so any TPM user may increment (that
     * can only make rollback protection stricter, never weaker). */
    TPM2B_AUTH auth = {.size = 0};
    TPM2B_NV_PUBLIC def = {
        .nvPublic =
            {
                .nvIndex = VRF_NV_ROLLBACK_INDEX,
                .nameAlg = TPM2_ALG_SHA256,
                .attributes = NV_ATTRS,
                .authPolicy = {.size = 0},
                .dataSize = 8,
            },
    };
    rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
                             ESYS_TR_NONE, ESYS_TR_NONE, &auth, &def, nv);
    ret = rc == TSS2_RC_SUCCESS ? 0 : tss_fail(t, "Esys_NV_DefineSpace", rc);
cleanup:
    Esys_Free(pub);
    if (ret != 0 && *nv != ESYS_TR_NONE) {
        (void)Esys_TR_Close(t->esys, nv);
        *nv = ESYS_TR_NONE;
    }
    return ret;
}

/* Reads the counter. A counter that was never incremented is first
 * incremented once: its first increment starts it at the highest value any
 * counter ever had on this TPM (0 on a new one) plus one, so an index that
 * someone undefined and we defined again never reads lower than before. */
static int nv_value(struct vrf_tpm *t, ESYS_TR nv, uint64_t *v)
{
    TPM2B_MAX_NV_BUFFER *data = NULL;
    TSS2_RC rc;
    int ret;

    for (int attempt = 0;; attempt++) {
        rc = Esys_NV_Read(t->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                          ESYS_TR_NONE, 8, 0, &data);
        if (tpm_rc_base(rc) != TPM2_RC_NV_UNINITIALIZED || attempt > 0)
            break;
        rc = Esys_NV_Increment(t->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS) {
            ret = tss_fail(t, "Esys_NV_Increment(first)", rc);
            goto cleanup;
        }
    }
    if (rc != TSS2_RC_SUCCESS) {
        ret = tss_fail(t, "Esys_NV_Read", rc);
        goto cleanup;
    }
    ret = VRF_ERR_TPM_ESYS;
    if (data->size != 8) {
        ERRF(t, "TPM: NV_Read returned %u bytes for a counter",
             (unsigned)data->size);
        goto cleanup;
    }
    *v = 0;
    for (int i = 0; i < 8; i++) /* TPM counters are big-endian */
        *v = *v << 8 | data->buffer[i];
    if (*v == 0 || *v == UINT64_MAX) {
        ERRF(t, "TPM: NV counter reads %llu after its first increment",
             (unsigned long long)*v);
        goto cleanup;
    }
    ret = 0;
cleanup:
    Esys_Free(data);
    return ret;
}

/* The counter's handle: looked up (attributes checked) or defined once
 * per context, then kept. */
static int nv_handle(struct vrf_tpm *t)
{
    return t->nv != ESYS_TR_NONE ? 0 : nv_open(t, &t->nv);
}

static void nv_forget(struct vrf_tpm *t)
{
    if (t->nv != ESYS_TR_NONE)
        (void)Esys_TR_Close(t->esys, &t->nv);
    t->nv = ESYS_TR_NONE;
}

/* Reads the counter through the kept handle: one TPM2_NV_Read. An index
 * that vanished since (undefined by someone with owner authorization) is
 * looked up or defined again once: its first increment starts above every
 * value it had. A value below the last one seen means the index was
 * replaced: refused. */
static int nv_read_kept(struct vrf_tpm *t, uint64_t *c)
{
    int ret = VRF_ERR_TPM_ESYS;
    for (int attempt = 0; attempt < 2 && ret != 0; attempt++) {
        ret = nv_handle(t);
        if (ret != 0)
            return ret;
        t->last_rc = TSS2_RC_SUCCESS;
        ret = nv_value(t, t->nv, c);
        if (ret == 0 || tpm_rc_base(t->last_rc) != TPM2_RC_HANDLE)
            break;
        nv_forget(t); /* the index vanished: look it up again */
    }
    if (ret != 0)
        return ret;
    if (*c < t->nv_count) {
        ERRF(t,
             "anti-rollback: the TPM counter (NV 0x%08x) reads %llu, below "
             "the %llu this verifier saw: the index was replaced behind its "
             "back; refusing",
             VRF_NV_ROLLBACK_INDEX, (unsigned long long)*c,
             (unsigned long long)t->nv_count);
        return VRF_ERR_TPM_NV_DOWN;
    }
    t->nv_count = *c;
    return 0;
}

int vrf_tpm_nv_read_seq(struct vrf_tpm *t, uint64_t *highest)
{
    uint64_t c = 0;
    int ret = check_alive(t);

    if (ret != 0)
        return ret;
    if (highest == NULL)
        return VRF_ERR_TPM_ARG;
    ret = nv_read_kept(t, &c);
    if (ret == 0)
        *highest = c - 1; /* the counter is highest + 1, see vrf_tpm.h */
    return ret;
}

int vrf_tpm_nv_seq_allowed(struct vrf_tpm *t, uint64_t highest, uint64_t seq)
{
    if (seq <= highest) {
        ERRF(t,
             "sequence %llu refused: the TPM counter (NV 0x%08x) says "
             "sequence %llu was already applied",
             (unsigned long long)seq, VRF_NV_ROLLBACK_INDEX,
             (unsigned long long)highest);
        return VRF_ERR_TPM_ROLLBACK;
    }
    if (seq - highest > VRF_NV_MAX_STEP || seq == UINT64_MAX) {
        ERRF(t,
             "sequence %llu is more than %u above the highest applied "
             "(%llu)",
             (unsigned long long)seq, VRF_NV_MAX_STEP,
             (unsigned long long)highest);
        return VRF_ERR_TPM_NV_STEP;
    }
    return 0;
}

int vrf_tpm_nv_check_seq(struct vrf_tpm *t, uint64_t seq)
{
    uint64_t highest = 0;
    int ret = vrf_tpm_nv_read_seq(t, &highest);
    return ret != 0 ? ret : vrf_tpm_nv_seq_allowed(t, highest, seq);
}

int vrf_tpm_nv_commit_seq(struct vrf_tpm *t, uint64_t seq)
{
    uint64_t c = t ? t->nv_count : 0;
    int ret = check_alive(t);

    if (ret == 0 && (t->nv == ESYS_TR_NONE || c == 0))
        ret = nv_read_kept(t, &c);
    if (ret == 0)
        ret = vrf_tpm_nv_seq_allowed(t, c - 1, seq);
    if (ret != 0)
        return ret;
    /* The counter only counts up by one: bring it to seq + 1
     * (vrf_tpm_nv_seq_allowed bounds the steps by VRF_NV_MAX_STEP). The
     * value read last is kept: a second read would only find it higher
     * if someone else incremented meanwhile, which weakens nothing. */
    for (; c < seq + 1; c++) {
        TSS2_RC rc = Esys_NV_Increment(t->esys, t->nv, t->nv,
                                       ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                       ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS)
            return tss_fail(t, "Esys_NV_Increment", rc);
        t->nv_count = c + 1;
    }
    return 0;
}

/* --------------------------------------------------------- attestation */

/* TCG EK Credential Profile 2.0, template L-2 (ECC NIST P-256). */
static const TPM2B_PUBLIC ek_template = {
    .publicArea =
        {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                TPMA_OBJECT_ADMINWITHPOLICY |
                                TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
            /* PolicySecret(TPM_RH_ENDORSEMENT) */
            .authPolicy =
                {
                    .size = 32,
                    .buffer = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8,
                               0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
                               0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64,
                               0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA},
                },
            .parameters.eccDetail =
                {
                    .symmetric = {.algorithm = TPM2_ALG_AES,
                                  .keyBits.aes = 128,
                                  .mode.aes = TPM2_ALG_CFB},
                    .scheme = {.scheme = TPM2_ALG_NULL},
                    .curveID = TPM2_ECC_NIST_P256,
                    .kdf = {.scheme = TPM2_ALG_NULL},
                },
            .unique.ecc = {.x = {.size = 32}, .y = {.size = 32}},
        },
};

static const TPM2B_PUBLIC ak_template = {
    .publicArea =
        {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
                                TPMA_OBJECT_RESTRICTED |
                                TPMA_OBJECT_SIGN_ENCRYPT,
            .parameters.eccDetail =
                {
                    .symmetric = {.algorithm = TPM2_ALG_NULL},
                    .scheme = {.scheme = TPM2_ALG_ECDSA,
                               .details.ecdsa.hashAlg = TPM2_ALG_SHA256},
                    .curveID = TPM2_ECC_NIST_P256,
                    .kdf = {.scheme = TPM2_ALG_NULL},
                },
        },
};

/* A policy session satisfying the EK's policy: PolicySecret(endorsement). */
static int ek_policy_session(struct vrf_tpm *t, ESYS_TR *s)
{
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};

    TSS2_RC rc = Esys_StartAuthSession(
        t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
        ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, s);
    if (rc != TSS2_RC_SUCCESS) {
        *s = ESYS_TR_NONE;
        return tss_fail(t, "Esys_StartAuthSession", rc);
    }
    rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, *s,
                           ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
                           NULL, NULL, 0, NULL, NULL);
    return rc == TSS2_RC_SUCCESS ? 0 : tss_fail(t, "Esys_PolicySecret", rc);
}

static void flush(struct vrf_tpm *t, ESYS_TR *h)
{
    if (*h != ESYS_TR_NONE && !t->gone)
        (void)Esys_FlushContext(t->esys, *h);
    *h = ESYS_TR_NONE;
}

int vrf_tpm_ak_create(struct vrf_tpm *t)
{
    TPM2B_SENSITIVE_CREATE sens = {.size = 0};
    TPM2B_DATA outside = {.size = 0};
    TPML_PCR_SELECTION creation_pcr = {.count = 0};
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    ESYS_TR ek = ESYS_TR_NONE, sess = ESYS_TR_NONE, ak = ESYS_TR_NONE;
    TSS2_RC rc;
    int ret = check_alive(t);

    if (ret != 0)
        goto cleanup;
    /* 1. EK from the standard template (deterministic: same key each time
     * on the same TPM). */
    rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD,
                            ESYS_TR_NONE, ESYS_TR_NONE, &sens, &ek_template,
                            &outside, &creation_pcr, &ek, NULL, NULL, NULL,
                            NULL);
    if (rc != TSS2_RC_SUCCESS) {
        ret = tss_fail(t, "Esys_CreatePrimary(EK)", rc);
        goto cleanup;
    }
    /* 2. AK under it, authorised by the EK's policy. */
    ret = ek_policy_session(t, &sess);
    if (ret != 0)
        goto cleanup;
    rc = Esys_Create(t->esys, ek, sess, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                     &ak_template, &outside, &creation_pcr, &priv, &pub, NULL,
                     NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        ret = tss_fail(t, "Esys_Create(AK)", rc);
        goto cleanup;
    }
    flush(t, &sess);
    /* 3. Load it (a second policy session: the first one is used up). */
    ret = ek_policy_session(t, &sess);
    if (ret != 0)
        goto cleanup;
    rc = Esys_Load(t->esys, ek, sess, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub,
                   &ak);
    if (rc != TSS2_RC_SUCCESS) {
        ret = tss_fail(t, "Esys_Load(AK)", rc);
        goto cleanup;
    }
    flush(t, &t->ak); /* a previous AK, if any */
    t->ak = ak;
    t->ak_pub = *pub;
    ret = 0;
cleanup:
    if (t != NULL) {
        flush(t, &sess);
        flush(t, &ek);
    }
    Esys_Free(priv);
    Esys_Free(pub);
    return ret;
}

static int sha256(const void *d, size_t n, uint8_t out[FW_SHA256_SIZE])
{
    return mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), d, n, out);
}

int vrf_tpm_quote(struct vrf_tpm *t, uint32_t mask, const uint8_t *nonce,
                  size_t nonce_len, struct vrf_quote *q)
{
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    int ret = check_alive(t);

    if (ret != 0)
        goto cleanup;
    ret = VRF_ERR_TPM_ARG;
    if (q == NULL || nonce == NULL || nonce_len == 0 ||
        nonce_len > VRF_NONCE_MAX || nonce_len > sizeof(TPMU_HA) || mask == 0 ||
        (mask >> FW_PCR_COUNT) != 0) {
        ERRF(t, "TPM: quote: bad nonce (1..%u bytes) or PCR mask",
             VRF_NONCE_MAX);
        goto cleanup;
    }
    ret = VRF_ERR_TPM_NO_AK;
    if (t->ak == ESYS_TR_NONE) {
        ERRF(t, "TPM: quote: no attestation key (vrf_tpm_ak_create)");
        goto cleanup;
    }
    memset(q, 0, sizeof *q);

    TPM2B_DATA qd = {.size = (UINT16)nonce_len};
    memcpy(qd.buffer, nonce, nonce_len);
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL}; /* the AK's own */
    TPML_PCR_SELECTION sel;
    select_sha256(&sel, mask);

    for (int attempt = 0; attempt < QUOTE_TRIES; attempt++) {
        TPMS_ATTEST att;
        size_t off = 0;
        uint8_t cat[FW_PCR_COUNT * FW_SHA256_SIZE], dig[FW_SHA256_SIZE];
        size_t n = 0;

        Esys_Free(quoted);
        Esys_Free(sig);
        quoted = NULL;
        sig = NULL;
        TSS2_RC rc =
            Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                       ESYS_TR_NONE, &qd, &scheme, &sel, &quoted, &sig);
        if (rc != TSS2_RC_SUCCESS) {
            ret = tss_fail(t, "Esys_Quote", rc);
            goto cleanup;
        }
        ret = vrf_tpm_pcr_read(t, mask, q->pcr);
        if (ret != 0)
            goto cleanup;
        /* The values must be those the quote signed: an extend between
         * the two commands means quote again. */
        ret = VRF_ERR_TPM_ESYS;
        rc = Tss2_MU_TPMS_ATTEST_Unmarshal(quoted->attestationData,
                                           quoted->size, &off, &att);
        if (rc != TSS2_RC_SUCCESS || off != quoted->size) {
            ERRF(t, "TPM: quote: cannot unmarshal TPMS_ATTEST: %s",
                 Tss2_RC_Decode(rc));
            goto cleanup;
        }
        for (unsigned i = 0; i < FW_PCR_COUNT; i++)
            if (mask & (1u << i)) {
                memcpy(cat + n, q->pcr[i], FW_SHA256_SIZE);
                n += FW_SHA256_SIZE;
            }
        if (sha256(cat, n, dig) != 0)
            goto cleanup;
        if (att.attested.quote.pcrDigest.size == FW_SHA256_SIZE &&
            memcmp(att.attested.quote.pcrDigest.buffer, dig, sizeof dig) == 0) {
            ret = 0;
            break;
        }
        ret = VRF_ERR_TPM_QUOTE_RACE;
        ERRF(t,
             "TPM: PCRs changed between TPM2_Quote and TPM2_PCR_Read "
             "%d times",
             attempt + 1);
    }
    if (ret != 0)
        goto cleanup;

    ret = VRF_ERR_TPM_ESYS;
    if (quoted->size > sizeof q->msg)
        goto cleanup;
    memcpy(q->msg, quoted->attestationData, quoted->size);
    q->msg_len = quoted->size;
    size_t off = 0;
    TSS2_RC rc =
        Tss2_MU_TPMT_SIGNATURE_Marshal(sig, q->sig, sizeof q->sig, &off);
    if (rc != TSS2_RC_SUCCESS) {
        ERRF(t, "TPM: marshal TPMT_SIGNATURE: %s", Tss2_RC_Decode(rc));
        goto cleanup;
    }
    q->sig_len = off;
    off = 0;
    rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&t->ak_pub, q->ak_pub, sizeof q->ak_pub,
                                      &off);
    if (rc != TSS2_RC_SUCCESS) {
        ERRF(t, "TPM: marshal TPM2B_PUBLIC: %s", Tss2_RC_Decode(rc));
        goto cleanup;
    }
    q->ak_pub_len = off;
    q->pcr_mask = mask;
    ret = 0;
cleanup:
    Esys_Free(quoted);
    Esys_Free(sig);
    return ret;
}

/* The arguments of an approval check; clears rep. */
static int approval_args(const struct vrf_tpm *t, const uint8_t *log,
                         const uint8_t *target_digest, const char *target_kind,
                         struct vrf_attest_report *rep)
{
    if (rep == NULL)
        return VRF_ERR_TPM_ARG;
    memset(rep, 0, sizeof *rep);
    return t && log && target_digest && target_kind ? 0 : VRF_ERR_TPM_ARG;
}

int vrf_tpm_check_fresh(struct vrf_tpm *t, const uint8_t *log, size_t log_len,
                        const uint8_t target_digest[FW_SHA256_SIZE],
                        const char *target_kind, struct vrf_attest_report *rep)
{
    uint8_t nonce[32];
    struct vrf_quote *q = NULL;
    int ret = approval_args(t, log, target_digest, target_kind, rep);

    if (ret != 0)
        goto cleanup;
    ret = VRF_ERR_TPM_RANDOM;
    if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce) {
        snprintf(rep->detail, sizeof rep->detail, "getrandom: %s",
                 strerror(errno));
        goto cleanup;
    }
    ret = VRF_ERR_TPM_NOMEM;
    q = malloc(sizeof *q);
    if (q == NULL)
        goto cleanup;
    ret = vrf_tpm_quote(t, FW_PCR_QUOTE_MASK, nonce, sizeof nonce, q);
    if (ret != 0) {
        snprintf(rep->detail, sizeof rep->detail, "%s", t->err);
        goto cleanup;
    }
    ret = vrf_attest_check(q, nonce, sizeof nonce, log, log_len, rep);
    if (ret != 0)
        goto cleanup;
    ret = vrf_attest_check_baseline(rep, target_digest, target_kind);
cleanup:
    free(q);
    return ret;
}

int vrf_tpm_check_pcrs(struct vrf_tpm *t, const uint8_t *log, size_t log_len,
                       const uint8_t target_digest[FW_SHA256_SIZE],
                       const char *target_kind, struct vrf_attest_report *rep)
{
    uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE];
    int ret = approval_args(t, log, target_digest, target_kind, rep);

    if (ret != 0)
        return ret;
    memset(pcr, 0, sizeof pcr);
    ret = vrf_tpm_pcr_read(t, FW_PCR_QUOTE_MASK, pcr);
    if (ret != 0) {
        snprintf(rep->detail, sizeof rep->detail, "%s", t->err);
        return ret;
    }
    ret = vrf_attest_check_log(FW_PCR_QUOTE_MASK, pcr, log, log_len, rep);
    if (ret == 0)
        ret = vrf_attest_check_baseline(rep, target_digest, target_kind);
    return ret;
}
