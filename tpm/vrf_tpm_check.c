/* vrf_tpm_check.c: the attestation checker, written as numbered steps in
 * tpm2_checkquote's order (signature, nonce, magic, type, PCR digest), then
 * the event-log replay and the hvpatch log structure. Needs no TPM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "tpm/vrf_tpm_int.h"

#define DETAIL(rep, ...)                                                       \
    snprintf((rep)->detail, sizeof(rep)->detail, __VA_ARGS__)

static const char img_desc[] = "hvpatch guest image";
static const char post_code[] = "POST CODE";
static const char initrd_desc[] = "initrd";

/* Step 0: the AK must be a restricted ECC P-256 ECDSA-SHA256 signing key:
 * a restricted key only signs digests the TPM computed itself, which is
 * what makes the magic check (3) meaningful. */
static int load_ak(const struct vrf_quote *q, mbedtls_ecp_group *grp,
                   mbedtls_ecp_point *Q, struct vrf_attest_report *rep)
{
    TPM2B_PUBLIC p;
    size_t off = 0;
    uint8_t pt[65];

    memset(&p, 0, sizeof p);
    TSS2_RC rc =
        Tss2_MU_TPM2B_PUBLIC_Unmarshal(q->ak_pub, q->ak_pub_len, &off, &p);
    if (rc != TSS2_RC_SUCCESS || off != q->ak_pub_len) {
        DETAIL(rep, "AK public: not a marshalled TPM2B_PUBLIC (%s)",
               rc != TSS2_RC_SUCCESS ? Tss2_RC_Decode(rc) : "trailing bytes");
        return VRF_ERR_ATT_FORMAT;
    }
    const TPMT_PUBLIC *a = &p.publicArea;
    const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                             TPMA_OBJECT_FIXEDTPM;
    if (a->type != TPM2_ALG_ECC ||
        a->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
        a->parameters.eccDetail.scheme.scheme != TPM2_ALG_ECDSA ||
        a->parameters.eccDetail.scheme.details.ecdsa.hashAlg !=
            TPM2_ALG_SHA256 ||
        (a->objectAttributes & need) != need ||
        (a->objectAttributes & TPMA_OBJECT_DECRYPT) ||
        a->unique.ecc.x.size != 32 || a->unique.ecc.y.size != 32) {
        DETAIL(rep,
               "AK public: type 0x%04x attributes 0x%08x: need a "
               "restricted, fixedTPM ECC P-256 ECDSA-SHA256 signing key",
               a->type, (unsigned)a->objectAttributes);
        return VRF_ERR_ATT_AK;
    }
    pt[0] = 0x04;
    memcpy(pt + 1, a->unique.ecc.x.buffer, 32);
    memcpy(pt + 33, a->unique.ecc.y.buffer, 32);
    if (mbedtls_ecp_group_load(grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
        mbedtls_ecp_point_read_binary(grp, Q, pt, sizeof pt) != 0 ||
        mbedtls_ecp_check_pubkey(grp, Q) != 0) {
        DETAIL(rep, "AK public: point not on P-256");
        return VRF_ERR_ATT_AK;
    }
    return 0;
}

/* Step 7 helpers. */
static int self_digest_ok(const struct fw_evlog_parsed *p,
                          const struct fw_event *ev, const void *measured,
                          size_t len)
{
    struct fw_digests d;
    if (fw_digests_compute(p->algs, p->nalgs, measured, len, &d) != 0)
        return 0;
    for (size_t i = 0; i < p->nalgs; i++)
        if (memcmp(d.d[i].bytes, ev->digests[i], p->sizes[i]) != 0)
            return 0;
    return 1;
}

static int data_is(const struct fw_event *ev, const char *s)
{
    size_t n = strlen(s);
    return ev->data_len == n && memcmp(ev->data, s, n) == 0;
}

/* The boot part of an hvpatch log, record by record (fw_measure.h). */
static int check_boot(const struct fw_evlog_parsed *p, size_t *next,
                      struct vrf_attest_report *rep)
{
    size_t i = 0;
    const struct fw_event *ev;
    struct fw_boot_info bi;
    static const uint8_t sep[4];

#define EXPECT(pcr_, type_, what)                                              \
    do {                                                                       \
        if (i >= p->nevents || p->events[i].pcr != (pcr_) ||                   \
            p->events[i].type != (type_)) {                                    \
            DETAIL(rep,                                                        \
                   "event log record %zu: expected %s (PCR %u, type "          \
                   "0x%x)",                                                    \
                   i + 1, what, (unsigned)(pcr_), (unsigned)(type_));          \
            return VRF_ERR_ATT_LOG_CONTENT;                                    \
        }                                                                      \
        ev = &p->events[i++];                                                  \
    } while (0)
#define REQUIRE(cond, ...)                                                     \
    do {                                                                       \
        if (!(cond)) {                                                         \
            DETAIL(rep, __VA_ARGS__);                                          \
            return VRF_ERR_ATT_LOG_CONTENT;                                    \
        }                                                                      \
    } while (0)

    /* PCR 0: CRTM version (UTF-16LE, NUL-terminated, self-digest), the stub
     * ("POST CODE"), the separator. */
    EXPECT(FW_PCR_FIRMWARE, FW_EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION");
    REQUIRE(ev->data_len >= 2 && ev->data_len % 2 == 0 &&
                ev->data[ev->data_len - 1] == 0 &&
                ev->data[ev->data_len - 2] == 0 &&
                self_digest_ok(p, ev, ev->data, ev->data_len),
            "event log record %zu: CRTM version data or digest wrong", i);
    EXPECT(FW_PCR_FIRMWARE, FW_EV_POST_CODE, "EV_POST_CODE (firmware stub)");
    REQUIRE(data_is(ev, post_code),
            "event log record %zu: EV_POST_CODE data "
            "is not \"POST CODE\"",
            i);
    EXPECT(FW_PCR_FIRMWARE, FW_EV_SEPARATOR, "EV_SEPARATOR");
    REQUIRE(ev->data_len == 4 && memcmp(ev->data, sep, 4) == 0 &&
                self_digest_ok(p, ev, ev->data, ev->data_len),
            "event log record %zu: separator data or digest wrong", i);

    /* PCR 4: the image (its SHA-256 is the baseline), then the kind. */
    EXPECT(FW_PCR_IMAGE, FW_EV_IPL, "EV_IPL (guest image)");
    REQUIRE(data_is(ev, img_desc),
            "event log record %zu: image record data "
            "is not \"%s\"",
            i, img_desc);
    memcpy(rep->image_digest, ev->digests[p->sha256_slot], FW_SHA256_SIZE);
    EXPECT(FW_PCR_IMAGE, FW_EV_EVENT_TAG, "EV_EVENT_TAG (boot info)");
    REQUIRE(fw_boot_info_decode(ev->data, ev->data_len, &bi) == 0 &&
                self_digest_ok(p, ev, ev->data, ev->data_len),
            "event log record %zu: boot info payload or digest wrong", i);
    memcpy(rep->kind, bi.kind, sizeof rep->kind);

    /* PCR 8: "kernel_cmdline: <cmdline>\0", digest of <cmdline>. */
    EXPECT(FW_PCR_CMDLINE, FW_EV_IPL, "EV_IPL (command line)");
    size_t plen = strlen(FW_CMDLINE_PREFIX);
    REQUIRE(ev->data_len >= plen + 1 &&
                ev->data_len - plen - 1 <= FW_CMDLINE_MAX &&
                memcmp(ev->data, FW_CMDLINE_PREFIX, plen) == 0 &&
                ev->data[ev->data_len - 1] == 0 &&
                memchr(ev->data + plen, 0, ev->data_len - plen - 1) == NULL &&
                self_digest_ok(p, ev, ev->data + plen, ev->data_len - plen - 1),
            "event log record %zu: command line data or digest wrong", i);
    memcpy(rep->cmdline, ev->data + plen, ev->data_len - plen - 1);
    rep->cmdline[ev->data_len - plen - 1] = '\0';

    /* PCR 9: the initrd, optional. */
    if (i < p->nevents && p->events[i].pcr == FW_PCR_INITRD) {
        EXPECT(FW_PCR_INITRD, FW_EV_IPL, "EV_IPL (initrd)");
        REQUIRE(data_is(ev, initrd_desc),
                "event log record %zu: initrd "
                "record data is not \"initrd\"",
                i);
        rep->has_initrd = 1;
    }
    *next = i;
    return 0;
#undef EXPECT
#undef REQUIRE
}

/* Whether patch r applies again the package of the latest patch, which
 * has been reverted since (or whose apply was abandoned): the same id,
 * sequence and package digest, the latest record of them a revert. */
static int is_reapply(const struct fw_runtime_rec *done, size_t n,
                      const struct fw_runtime_rec *r, uint64_t last_patch)
{
    if (r->sequence != last_patch)
        return 0;
    for (size_t k = n; k-- > 0;)
        if (done[k].sequence == r->sequence && strcmp(done[k].id, r->id) == 0)
            return done[k].action == FW_ACT_REVERT &&
                   memcmp(done[k].digest, r->digest, FW_SHA256_SIZE) == 0;
    return 0;
}

/* The runtime part: only PCR 10 tagged records, patch sequences strictly
 * increasing (except a re-apply of the last patch after its revert), a
 * revert undoing an applied patch. */
static int check_runtime(const struct fw_evlog_parsed *p, size_t first,
                         struct vrf_attest_report *rep)
{
    size_t n = p->nevents - first;
    uint64_t last_patch = 0;
    int have_patch = 0;

    if (n == 0)
        return 0;
    rep->runtime = calloc(n, sizeof *rep->runtime);
    if (rep->runtime == NULL) {
        DETAIL(rep, "out of memory");
        return VRF_ERR_TPM_NOMEM;
    }
    for (size_t i = first; i < p->nevents; i++) {
        const struct fw_event *ev = &p->events[i];
        struct fw_runtime_rec *r = &rep->runtime[rep->nruntime];
        if (ev->pcr != FW_PCR_RUNTIME || ev->type != FW_EV_EVENT_TAG ||
            fw_runtime_decode(ev->data, ev->data_len, r) != 0 ||
            !self_digest_ok(p, ev, ev->data, ev->data_len)) {
            DETAIL(rep,
                   "event log record %zu: not a valid runtime record "
                   "(PCR %u, type 0x%x)",
                   i + 1, ev->pcr, ev->type);
            return VRF_ERR_ATT_LOG_CONTENT;
        }
        if (r->action == FW_ACT_PATCH) {
            if (have_patch && r->sequence <= last_patch &&
                !is_reapply(rep->runtime, rep->nruntime, r, last_patch)) {
                DETAIL(rep,
                       "event log record %zu: patch sequence %llu not "
                       "above the previous %llu",
                       i + 1, (unsigned long long)r->sequence,
                       (unsigned long long)last_patch);
                return VRF_ERR_ATT_LOG_CONTENT;
            }
            last_patch = r->sequence;
            have_patch = 1;
        } else if (r->action == FW_ACT_REVERT) {
            /* Must undo a patch applied earlier and not yet reverted. */
            int applied = 0;
            for (size_t k = 0; k < rep->nruntime; k++) {
                const struct fw_runtime_rec *o = &rep->runtime[k];
                if (o->sequence == r->sequence && strcmp(o->id, r->id) == 0)
                    applied = o->action == FW_ACT_PATCH ? 1 : 0;
            }
            if (!applied) {
                DETAIL(rep,
                       "event log record %zu: revert of %s seq %llu, "
                       "which is not applied",
                       i + 1, r->id, (unsigned long long)r->sequence);
                return VRF_ERR_ATT_LOG_CONTENT;
            }
        }
        rep->nruntime++;
    }
    return 0;
}

/* Steps 6 and 7 against the SHA-256 PCR values in mask (quoted, or read
 * from the TPM by the verifier itself): the log replays to exactly those
 * values, extends no other PCR, and is an hvpatch log. Fills rep's PCRs,
 * baseline, boot id and runtime records. */
static int check_log(uint32_t mask,
                     const uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE],
                     const uint8_t *log, size_t log_len,
                     struct vrf_attest_report *rep)
{
    struct fw_evlog_parsed parsed;
    uint8_t replay[FW_PCR_COUNT][FW_SHA256_SIZE], boot[4 * FW_SHA256_SIZE];
    uint32_t used = 0;
    size_t next = 0;
    int ret;

    memset(&parsed, 0, sizeof parsed);
    /* 6. The event log replays to exactly the PCR values. */
    ret = fw_evlog_parse(log, log_len, &parsed);
    if (ret != 0) {
        DETAIL(rep, "%s (record %zu, offset %zu)", fw_strerror(ret),
               parsed.err_record, parsed.err_offset);
        ret = VRF_ERR_ATT_LOG;
        goto cleanup;
    }
    ret = VRF_ERR_ATT_REPLAY;
    if (fw_evlog_replay_sha256(&parsed, replay, &used) != 0)
        goto cleanup;
    for (unsigned i = 0; i < FW_PCR_COUNT; i++) {
        if (used & ~mask & (1u << i)) {
            DETAIL(rep, "event log extends PCR %u, which is not checked", i);
            goto cleanup;
        }
        if ((mask & (1u << i)) &&
            memcmp(replay[i], pcr[i], FW_SHA256_SIZE) != 0) {
            char a[65], b[65];
            fw_hex32(replay[i], a);
            fw_hex32(pcr[i], b);
            DETAIL(rep,
                   "PCR %u: event log replays to %.16s..., the TPM has "
                   "%.16s...",
                   i, a, b);
            goto cleanup;
        }
    }

    /* 7. An hvpatch log: boot records, then runtime records. */
    ret = check_boot(&parsed, &next, rep);
    if (ret != 0)
        goto cleanup;
    ret = check_runtime(&parsed, next, rep);
    if (ret != 0)
        goto cleanup;

    memcpy(rep->pcr, pcr, sizeof rep->pcr);
    rep->pcr_mask = mask;
    memcpy(boot, replay[FW_PCR_FIRMWARE], FW_SHA256_SIZE);
    memcpy(boot + 32, replay[FW_PCR_IMAGE], FW_SHA256_SIZE);
    memcpy(boot + 64, replay[FW_PCR_CMDLINE], FW_SHA256_SIZE);
    memcpy(boot + 96, replay[FW_PCR_INITRD], FW_SHA256_SIZE);
    ret = VRF_ERR_ATT_REPLAY;
    if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), boot,
                   sizeof boot, rep->boot_id) != 0)
        goto cleanup;
    ret = 0;
cleanup:
    fw_evlog_parsed_free(&parsed);
    return ret;
}

/* A failed check leaves only the detail in rep. */
static void keep_detail_only(struct vrf_attest_report *rep)
{
    char keep[sizeof rep->detail];
    memcpy(keep, rep->detail, sizeof keep);
    vrf_attest_report_free(rep);
    memset(rep, 0, sizeof *rep);
    memcpy(rep->detail, keep, sizeof keep);
}

int vrf_attest_check_log(uint32_t mask,
                         const uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE],
                         const uint8_t *log, size_t log_len,
                         struct vrf_attest_report *rep)
{
    if (rep == NULL)
        return VRF_ERR_TPM_ARG;
    memset(rep, 0, sizeof *rep);
    if (pcr == NULL || log == NULL ||
        (mask & FW_PCR_QUOTE_MASK) != FW_PCR_QUOTE_MASK) {
        DETAIL(rep, "missing PCR values or event log, or PCRs 0x%06x do "
                    "not cover 0x%06x",
               mask, FW_PCR_QUOTE_MASK);
        return VRF_ERR_TPM_ARG;
    }
    int ret = check_log(mask, pcr, log, log_len, rep);
    if (ret != 0)
        keep_detail_only(rep);
    return ret;
}

int vrf_attest_check(const struct vrf_quote *q, const uint8_t *nonce,
                     size_t nonce_len, const uint8_t *log, size_t log_len,
                     struct vrf_attest_report *rep)
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point Q;
    mbedtls_mpi r, s;
    TPMT_SIGNATURE sig;
    TPMS_ATTEST att;
    uint8_t hash[FW_SHA256_SIZE];
    uint8_t cat[FW_PCR_COUNT * FW_SHA256_SIZE];
    size_t off, n;
    TSS2_RC rc;
    int ret = VRF_ERR_TPM_ARG;

    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&Q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if (rep == NULL)
        goto cleanup;
    memset(rep, 0, sizeof *rep);
    if (q == NULL || nonce == NULL || log == NULL) {
        DETAIL(rep, "missing quote, nonce or event log");
        goto cleanup;
    }

    /* 0. Formats: AK, signature, attestation structure. */
    ret = load_ak(q, &grp, &Q, rep);
    if (ret != 0)
        goto cleanup;
    ret = VRF_ERR_ATT_FORMAT;
    off = 0;
    memset(&sig, 0, sizeof sig);
    rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(q->sig, q->sig_len, &off, &sig);
    if (rc != TSS2_RC_SUCCESS || off != q->sig_len) {
        DETAIL(rep, "quote.sig: not a marshalled TPMT_SIGNATURE");
        goto cleanup;
    }
    if (sig.sigAlg != TPM2_ALG_ECDSA ||
        sig.signature.ecdsa.hash != TPM2_ALG_SHA256 ||
        sig.signature.ecdsa.signatureR.size == 0 ||
        sig.signature.ecdsa.signatureR.size > 32 ||
        sig.signature.ecdsa.signatureS.size == 0 ||
        sig.signature.ecdsa.signatureS.size > 32) {
        DETAIL(rep, "quote.sig: algorithm 0x%04x, need ECDSA with SHA-256",
               sig.sigAlg);
        goto cleanup;
    }
    off = 0;
    memset(&att, 0, sizeof att);
    rc = Tss2_MU_TPMS_ATTEST_Unmarshal(q->msg, q->msg_len, &off, &att);
    if (rc != TSS2_RC_SUCCESS || off != q->msg_len) {
        DETAIL(rep, "quote.msg: not a marshalled TPMS_ATTEST");
        goto cleanup;
    }

    /* 1. Signature over SHA-256 of the attestation bytes as signed. */
    ret = VRF_ERR_ATT_SIGNATURE;
    if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), q->msg,
                   q->msg_len, hash) != 0 ||
        mbedtls_mpi_read_binary(&r, sig.signature.ecdsa.signatureR.buffer,
                                sig.signature.ecdsa.signatureR.size) != 0 ||
        mbedtls_mpi_read_binary(&s, sig.signature.ecdsa.signatureS.buffer,
                                sig.signature.ecdsa.signatureS.size) != 0 ||
        mbedtls_ecdsa_verify(&grp, hash, sizeof hash, &Q, &r, &s) != 0) {
        DETAIL(rep, "quote signature does not verify with the AK");
        goto cleanup;
    }

    /* 2. Nonce: the quote is fresh. */
    ret = VRF_ERR_ATT_NONCE;
    if (att.extraData.size != nonce_len ||
        mbedtls_ct_memcmp(att.extraData.buffer, nonce, nonce_len) != 0) {
        DETAIL(rep, "quote extraData (%u bytes) is not the nonce (%zu bytes)",
               (unsigned)att.extraData.size, nonce_len);
        goto cleanup;
    }

    /* 3. Magic: produced inside a TPM. */
    ret = VRF_ERR_ATT_MAGIC;
    if (att.magic != TPM2_GENERATED_VALUE) {
        DETAIL(rep, "magic 0x%08x, not TPM_GENERATED_VALUE", att.magic);
        goto cleanup;
    }

    /* 4. Type: a quote. */
    ret = VRF_ERR_ATT_TYPE;
    if (att.type != TPM2_ST_ATTEST_QUOTE) {
        DETAIL(rep, "attestation type 0x%04x, not TPM_ST_ATTEST_QUOTE",
               att.type);
        goto cleanup;
    }

    /* 5. PCRs: the selection the TPM signed is the one in quote.pcrs and
     * covers the hvpatch PCRs; their values hash to the signed digest. */
    ret = VRF_ERR_ATT_PCR_SELECT;
    const TPML_PCR_SELECTION *ps = &att.attested.quote.pcrSelect;
    uint32_t qmask = 0;
    if (ps->count != 1 || ps->pcrSelections[0].hash != TPM2_ALG_SHA256 ||
        ps->pcrSelections[0].sizeofSelect < 3 ||
        ps->pcrSelections[0].sizeofSelect > TPM2_PCR_SELECT_MAX ||
        (ps->pcrSelections[0].sizeofSelect == 4 &&
         ps->pcrSelections[0].pcrSelect[3] != 0)) {
        DETAIL(rep, "quoted PCR selection is not one SHA-256 bank");
        goto cleanup;
    }
    for (unsigned i = 0; i < FW_PCR_COUNT; i++)
        if (ps->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8)))
            qmask |= 1u << i;
    if (qmask != q->pcr_mask ||
        (qmask & FW_PCR_QUOTE_MASK) != FW_PCR_QUOTE_MASK) {
        DETAIL(rep, "quoted PCRs 0x%06x, PCR file 0x%06x, required 0x%06x",
               qmask, q->pcr_mask, FW_PCR_QUOTE_MASK);
        goto cleanup;
    }
    ret = VRF_ERR_ATT_PCR_DIGEST;
    n = 0;
    for (unsigned i = 0; i < FW_PCR_COUNT; i++)
        if (qmask & (1u << i)) {
            memcpy(cat + n, q->pcr[i], FW_SHA256_SIZE);
            n += FW_SHA256_SIZE;
        }
    if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), cat, n,
                   hash) != 0 ||
        att.attested.quote.pcrDigest.size != FW_SHA256_SIZE ||
        memcmp(att.attested.quote.pcrDigest.buffer, hash, sizeof hash) != 0) {
        DETAIL(rep, "PCR values do not hash to the quoted pcrDigest");
        goto cleanup;
    }

    /* 6-7. The event log replays to exactly the quoted PCRs and is an
     * hvpatch log. */
    ret = check_log(qmask, q->pcr, log, log_len, rep);
    if (ret != 0)
        goto cleanup;
    rep->clock = att.clockInfo.clock;
    rep->reset_count = att.clockInfo.resetCount;
    rep->restart_count = att.clockInfo.restartCount;
    rep->firmware_version = att.firmwareVersion;
    ret = 0;
cleanup:
    if (ret != 0 && rep != NULL)
        keep_detail_only(rep);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_ecp_point_free(&Q);
    mbedtls_ecp_group_free(&grp);
    return ret;
}

void vrf_attest_report_free(struct vrf_attest_report *rep)
{
    if (rep == NULL)
        return;
    free(rep->runtime);
    rep->runtime = NULL;
    rep->nruntime = 0;
}

int vrf_attest_check_baseline(struct vrf_attest_report *rep,
                              const uint8_t image_digest[FW_SHA256_SIZE],
                              const char *kind)
{
    char a[65], b[65];

    if (rep == NULL || image_digest == NULL || kind == NULL)
        return VRF_ERR_TPM_ARG;
    if (memcmp(rep->image_digest, image_digest, FW_SHA256_SIZE) == 0 &&
        strcmp(rep->kind, kind) == 0)
        return 0;
    fw_hex32(rep->image_digest, a);
    fw_hex32(image_digest, b);
    DETAIL(rep,
           "attested baseline sha256:%s (%s), package targets "
           "sha256:%s (%s)",
           a, rep->kind, b, kind);
    return VRF_ERR_ATT_BASELINE;
}

void vrf_attest_report_print(const struct vrf_attest_report *rep, FILE *f)
{
    char hex[65];

    if (rep == NULL || f == NULL)
        return;
    fw_hex32(rep->image_digest, hex);
    fprintf(f, "baseline: sha256:%s kind=%s\n", hex, rep->kind);
    fw_hex32(rep->boot_id, hex);
    fprintf(f, "boot id: %s\n", hex);
    fprintf(f, "command line: \"%s\"\n", rep->cmdline);
    fprintf(f, "initrd: %s\n", rep->has_initrd ? "measured" : "none");
    fprintf(f, "tpm: clock %llu ms, resets %llu, restarts %llu\n",
            (unsigned long long)rep->clock,
            (unsigned long long)rep->reset_count,
            (unsigned long long)rep->restart_count);
    for (unsigned i = 0; i < FW_PCR_COUNT; i++)
        if (rep->pcr_mask & (1u << i)) {
            fw_hex32(rep->pcr[i], hex);
            fprintf(f, "pcr sha256:%-2u %s\n", i, hex);
        }
    fprintf(f, "runtime changes: %zu\n", rep->nruntime);
    for (size_t i = 0; i < rep->nruntime; i++) {
        const struct fw_runtime_rec *r = &rep->runtime[i];
        fw_hex32(r->digest, hex);
        fprintf(f, "  %zu. %-9s id=%s seq=%llu digest=%s\n", i + 1,
                fw_action_name(r->action), r->id,
                (unsigned long long)r->sequence, hex);
    }
    /* Applied now: patches that no later revert undid. */
    size_t napplied = 0;
    for (size_t i = 0; i < rep->nruntime; i++) {
        const struct fw_runtime_rec *r = &rep->runtime[i];
        int reverted = 0;
        if (r->action != FW_ACT_PATCH)
            continue;
        for (size_t k = i + 1; k < rep->nruntime; k++)
            if (rep->runtime[k].action == FW_ACT_REVERT &&
                rep->runtime[k].sequence == r->sequence &&
                strcmp(rep->runtime[k].id, r->id) == 0)
                reverted = 1;
        if (!reverted) {
            fprintf(f, "%s%s seq=%llu",
                    napplied ? ", " : "applied patches: ", r->id,
                    (unsigned long long)r->sequence);
            napplied++;
        }
    }
    fputs(napplied ? "\n" : "applied patches: none\n", f);
}
