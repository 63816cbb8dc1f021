/* test_tpm_attest.c: unit tests of the attestation checker (every step's
 * error, data-driven), the tpm2-tools file formats and the bounded TCTI,
 * with quotes built and signed here (mbedTLS): no TPM needed. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <tss2/tss2_mu.h>

#include "firmware/fw_measure.h"
#include "tpm/vrf_tpm.h"

static const uint16_t only256[] = {FW_ALG_SHA256};
static const uint8_t nonce[] = {0xde, 0xad, 0xbe, 0xef, 0x01};
static const char image[] = "guest image for the checker tests";

static void sha256(const void *d, size_t n, uint8_t out[32])
{
    assert_int_equal(
        mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), d, n, out), 0);
}

/* Deterministic "entropy" so every run signs with the same key. */
static int fixed_entropy(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)(i * 7 + 1);
    return 0;
}

/* ------------------------------------------------------- the fixture */

struct mock_tpm {
    uint8_t pcr[FW_PCR_COUNT][32];
};

static int mock_extend(void *ctx, uint32_t pcr, const struct fw_digests *d)
{
    struct mock_tpm *m = ctx;
    uint8_t cat[64];
    memcpy(cat, m->pcr[pcr], 32);
    memcpy(cat + 32, fw_digests_sha256(d), 32);
    sha256(cat, 64, m->pcr[pcr]);
    return 0;
}

/* How to build one attestation. */
struct variant {
    uint32_t magic;       /* 0 = TPM_GENERATED_VALUE */
    uint16_t type;        /* 0 = TPM_ST_ATTEST_QUOTE */
    uint32_t mask;        /* 0 = FW_PCR_QUOTE_MASK */
    TPMA_OBJECT ak_attrs; /* 0 = a proper AK */
    int bad_order;        /* patch 2 before patch 1 */
    int bad_revert;       /* revert a patch never applied */
    int reapply;          /* then revert pkg-2 and patch it again (1), or
                             patch another package with its sequence (2) */
    int pcr5;             /* a stray record on PCR 5 */
};

struct fixture {
    struct vrf_quote q;
    struct fw_evlog log;
    struct fw_boot_result boot;
    mbedtls_ecdsa_context key;
    mbedtls_ctr_drbg_context drbg;
};

static void runtime(struct fw_evlog *log, struct mock_tpm *m, uint8_t act,
                    uint64_t seq, const char *id)
{
    struct fw_runtime_rec r = {.action = act, .sequence = seq};
    snprintf(r.id, sizeof r.id, "%s", id);
    sha256(id, strlen(id), r.digest);
    assert_int_equal(fw_measure_runtime(log, &r, mock_extend, m), 0);
}

static void build(struct fixture *f, const struct variant *v)
{
    struct mock_tpm m;
    TPMS_ATTEST a;
    TPMT_SIGNATURE sig;
    TPM2B_PUBLIC pub;
    mbedtls_mpi r, s;
    uint8_t cat[FW_PCR_COUNT * 32], hash[32];
    size_t n = 0, off;

    memset(f, 0, sizeof *f);
    memset(&m, 0, sizeof m);
    mbedtls_ecdsa_init(&f->key);
    mbedtls_ctr_drbg_init(&f->drbg);
    assert_int_equal(
        mbedtls_ctr_drbg_seed(&f->drbg, fixed_entropy, NULL, NULL, 0), 0);
    assert_int_equal(mbedtls_ecdsa_genkey(&f->key, MBEDTLS_ECP_DP_SECP256R1,
                                          mbedtls_ctr_drbg_random, &f->drbg),
                     0);

    /* The log and the PCRs it produces. */
    struct fw_boot_input in = {
        .fw_version = "hvpatch firmware 1",
        .fw_stub = "stub",
        .fw_stub_len = 4,
        .image = image,
        .image_len = sizeof image,
        .kind = "demo",
        .cmdline = "console=ttyS0",
    };
    assert_int_equal(fw_evlog_init(&f->log, only256, 1), 0);
    assert_int_equal(fw_measure_boot(&f->log, &in, mock_extend, &m, &f->boot),
                     0);
    runtime(&f->log, &m, FW_ACT_TEXT_LOCK, 0, "guest-text");
    runtime(&f->log, &m, FW_ACT_PATCH, v->bad_order ? 2 : 1,
            v->bad_order ? "pkg-2" : "pkg-1");
    runtime(&f->log, &m, FW_ACT_PATCH, v->bad_order ? 1 : 2,
            v->bad_order ? "pkg-1" : "pkg-2");
    runtime(&f->log, &m, FW_ACT_REVERT, v->bad_revert ? 9 : 1, "pkg-1");
    if (v->reapply) {
        runtime(&f->log, &m, FW_ACT_REVERT, 2, "pkg-2");
        runtime(&f->log, &m, FW_ACT_PATCH, 2,
                v->reapply == 1 ? "pkg-2" : "pkg-3");
    }
    if (v->pcr5) {
        struct fw_digests d;
        assert_int_equal(fw_digests_compute(only256, 1, "x", 1, &d), 0);
        assert_int_equal(mock_extend(&m, 5, &d), 0);
        assert_int_equal(fw_evlog_append(&f->log, 5, FW_EV_IPL, &d, "x", 1), 0);
    }

    /* The quote. */
    uint32_t mask = v->mask ? v->mask : FW_PCR_QUOTE_MASK;
    memset(&a, 0, sizeof a);
    a.magic = v->magic ? v->magic : TPM2_GENERATED_VALUE;
    a.type = v->type ? v->type : TPM2_ST_ATTEST_QUOTE;
    a.qualifiedSigner.size = 34;
    a.extraData.size = sizeof nonce;
    memcpy(a.extraData.buffer, nonce, sizeof nonce);
    a.clockInfo.clock = 1234;
    a.clockInfo.resetCount = 3;
    a.clockInfo.safe = 1;
    a.firmwareVersion = 0x2019102300163636ull;
    if (a.type == TPM2_ST_ATTEST_QUOTE) {
        TPMS_PCR_SELECTION *ps = &a.attested.quote.pcrSelect.pcrSelections[0];
        a.attested.quote.pcrSelect.count = 1;
        ps->hash = TPM2_ALG_SHA256;
        ps->sizeofSelect = 3;
        for (unsigned i = 0; i < FW_PCR_COUNT; i++)
            if (mask & (1u << i)) {
                ps->pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
                memcpy(cat + n, m.pcr[i], 32);
                n += 32;
            }
        a.attested.quote.pcrDigest.size = 32;
        sha256(cat, n, a.attested.quote.pcrDigest.buffer);
    }
    off = 0;
    assert_int_equal(
        Tss2_MU_TPMS_ATTEST_Marshal(&a, f->q.msg, sizeof f->q.msg, &off),
        TSS2_RC_SUCCESS);
    f->q.msg_len = off;
    memcpy(f->q.pcr, m.pcr, sizeof m.pcr);
    f->q.pcr_mask = mask;

    /* Its signature. */
    sha256(f->q.msg, f->q.msg_len, hash);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    assert_int_equal(mbedtls_ecdsa_sign(&f->key.grp, &r, &s, &f->key.d, hash,
                                        32, mbedtls_ctr_drbg_random, &f->drbg),
                     0);
    memset(&sig, 0, sizeof sig);
    sig.sigAlg = TPM2_ALG_ECDSA;
    sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
    sig.signature.ecdsa.signatureR.size = 32;
    sig.signature.ecdsa.signatureS.size = 32;
    assert_int_equal(
        mbedtls_mpi_write_binary(&r, sig.signature.ecdsa.signatureR.buffer, 32),
        0);
    assert_int_equal(
        mbedtls_mpi_write_binary(&s, sig.signature.ecdsa.signatureS.buffer, 32),
        0);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    off = 0;
    assert_int_equal(
        Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, f->q.sig, sizeof f->q.sig, &off),
        TSS2_RC_SUCCESS);
    f->q.sig_len = off;

    /* The AK public key. */
    memset(&pub, 0, sizeof pub);
    pub.publicArea.type = TPM2_ALG_ECC;
    pub.publicArea.nameAlg = TPM2_ALG_SHA256;
    pub.publicArea.objectAttributes =
        v->ak_attrs
            ? v->ak_attrs
            : TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                  TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
    pub.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    pub.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    pub.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg =
        TPM2_ALG_SHA256;
    pub.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    pub.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    pub.publicArea.unique.ecc.x.size = 32;
    pub.publicArea.unique.ecc.y.size = 32;
    assert_int_equal(mbedtls_mpi_write_binary(
                         &f->key.Q.X, pub.publicArea.unique.ecc.x.buffer, 32),
                     0);
    assert_int_equal(mbedtls_mpi_write_binary(
                         &f->key.Q.Y, pub.publicArea.unique.ecc.y.buffer, 32),
                     0);
    off = 0;
    assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, f->q.ak_pub,
                                                  sizeof f->q.ak_pub, &off),
                     TSS2_RC_SUCCESS);
    f->q.ak_pub_len = off;
}

static void teardown_fixture(struct fixture *f)
{
    fw_evlog_free(&f->log);
    mbedtls_ecdsa_free(&f->key);
    mbedtls_ctr_drbg_free(&f->drbg);
}

/* Offset of the SHA-256 digest of the first record of (pcr, type). */
static size_t digest_offset(const struct fw_evlog *log, uint32_t pcr,
                            uint32_t type)
{
    struct fw_evlog_parsed p;
    size_t off = 0;
    assert_int_equal(fw_evlog_parse(log->buf, log->len, &p), 0);
    for (size_t i = 0; i < p.nevents && off == 0; i++)
        if (p.events[i].pcr == pcr && p.events[i].type == type)
            off = (size_t)(p.events[i].digests[0] - log->buf);
    fw_evlog_parsed_free(&p);
    assert_int_not_equal(off, 0);
    return off;
}

static int check(struct fixture *f, const uint8_t *n, size_t nlen,
                 struct vrf_attest_report *rep)
{
    return vrf_attest_check(&f->q, n, nlen, f->log.buf, f->log.len, rep);
}

/* ------------------------------------------------------------- checks */

static void test_valid(void **state)
{
    (void)state;
    struct fixture f;
    struct vrf_attest_report rep;
    uint8_t d[32];

    build(&f, &(struct variant){0});
    int ret = check(&f, nonce, sizeof nonce, &rep);
    if (ret != 0)
        fail_msg("%s: %s", vrf_tpm_strerror(ret), rep.detail);
    sha256(image, sizeof image, d);
    assert_memory_equal(rep.image_digest, d, 32);
    assert_string_equal(rep.kind, "demo");
    assert_memory_equal(rep.boot_id, f.boot.boot_id, 32);
    assert_string_equal(rep.cmdline, "console=ttyS0");
    assert_int_equal(rep.has_initrd, 0);
    assert_int_equal(rep.pcr_mask, FW_PCR_QUOTE_MASK);
    assert_int_equal(rep.clock, 1234);
    assert_int_equal(rep.reset_count, 3);
    assert_int_equal(rep.nruntime, 4);
    assert_int_equal(rep.runtime[0].action, FW_ACT_TEXT_LOCK);
    assert_int_equal(rep.runtime[2].sequence, 2);
    assert_string_equal(rep.runtime[3].id, "pkg-1");
    assert_int_equal(vrf_attest_check_baseline(&rep, d, "demo"), 0);
    assert_int_equal(vrf_attest_check_baseline(&rep, d, "linux"),
                     VRF_ERR_ATT_BASELINE);
    d[0] ^= 1;
    assert_int_equal(vrf_attest_check_baseline(&rep, d, "demo"),
                     VRF_ERR_ATT_BASELINE);
    assert_non_null(strstr(rep.detail, "package targets"));

    char *out = NULL;
    size_t outlen = 0;
    FILE *mf = open_memstream(&out, &outlen);
    vrf_attest_report_print(&rep, mf);
    fclose(mf);
    assert_non_null(strstr(out, "applied patches: pkg-2 seq=2\n"));
    assert_non_null(strstr(out, "baseline: sha256:"));
    free(out);
    vrf_attest_report_free(&rep);
    teardown_fixture(&f);
}

/* The verifier's per-apply check: PCR values it read itself (here: the
 * quote's) against its log, steps 6-7 without a quote; a reset TPM, a
 * stray extend, a log that is not an hvpatch log each give their code. */
static void test_check_log(void **state)
{
    (void)state;
    struct fixture f;
    struct vrf_attest_report rep;
    uint8_t pcr[FW_PCR_COUNT][32];

    build(&f, &(struct variant){0});
    memcpy(pcr, f.q.pcr, sizeof pcr);
    int ret = vrf_attest_check_log(FW_PCR_QUOTE_MASK, pcr, f.log.buf,
                                   f.log.len, &rep);
    if (ret != 0)
        fail_msg("%s: %s", vrf_tpm_strerror(ret), rep.detail);
    assert_memory_equal(rep.boot_id, f.boot.boot_id, 32);
    assert_int_equal(rep.pcr_mask, FW_PCR_QUOTE_MASK);
    assert_int_equal(rep.nruntime, 4);
    assert_int_equal(rep.clock, 0); /* no quote, no TPM clock */
    vrf_attest_report_free(&rep);

    /* PCR 10 extended behind the verifier's back. */
    pcr[FW_PCR_RUNTIME][0] ^= 1;
    assert_int_equal(vrf_attest_check_log(FW_PCR_QUOTE_MASK, pcr, f.log.buf,
                                          f.log.len, &rep),
                     VRF_ERR_ATT_REPLAY);
    assert_non_null(strstr(rep.detail, "PCR 10: event log replays to"));
    assert_null(rep.runtime);
    /* The TPM was reset: every PCR reads zero. */
    memset(pcr, 0, sizeof pcr);
    assert_int_equal(vrf_attest_check_log(FW_PCR_QUOTE_MASK, pcr, f.log.buf,
                                          f.log.len, &rep),
                     VRF_ERR_ATT_REPLAY);
    assert_non_null(strstr(rep.detail, "PCR 0:"));
    /* Fewer PCRs than the hvpatch ones, and a truncated log. */
    memcpy(pcr, f.q.pcr, sizeof pcr);
    assert_int_equal(vrf_attest_check_log(FW_PCR_QUOTE_MASK & ~1u, pcr,
                                          f.log.buf, f.log.len, &rep),
                     VRF_ERR_TPM_ARG);
    assert_int_equal(vrf_attest_check_log(FW_PCR_QUOTE_MASK, pcr, f.log.buf,
                                          f.log.len - 1, &rep),
                     VRF_ERR_ATT_LOG);
    teardown_fixture(&f);

    /* A log that replays but is not an hvpatch log (a record on PCR 5,
     * checked here too): step 7, or step 6 when PCR 5 is not read. */
    build(&f, &(struct variant){.pcr5 = 1,
                                .mask = FW_PCR_QUOTE_MASK | (1u << 5)});
    memcpy(pcr, f.q.pcr, sizeof pcr);
    assert_int_equal(vrf_attest_check_log(FW_PCR_QUOTE_MASK, pcr, f.log.buf,
                                          f.log.len, &rep),
                     VRF_ERR_ATT_REPLAY);
    assert_non_null(strstr(rep.detail, "extends PCR 5"));
    assert_int_equal(vrf_attest_check_log(FW_PCR_QUOTE_MASK | (1u << 5), pcr,
                                          f.log.buf, f.log.len, &rep),
                     VRF_ERR_ATT_LOG_CONTENT);
    teardown_fixture(&f);
}

/* One tampering and the exact error the checker must give. */
enum what {
    SIG_BYTE,
    SIG_TRAIL,
    MSG_BYTE,
    MSG_TRAIL,
    AK_GARBAGE,
    WRONG_NONCE,
    SHORT_NONCE,
    PCRFILE_MASK,
    PCR_VALUE,
    LOG_IMAGE_DIGEST,
    LOG_TRUNC,
    LOG_RUNTIME_ID,
    LOG_EXTRA,
    NOTHING,
};

static const struct tamper {
    const char *name;
    struct variant v;
    enum what what;
    int expect;
} tampers[] = {
    {"signature byte", {0}, SIG_BYTE, VRF_ERR_ATT_SIGNATURE},
    {"signature trailing byte", {0}, SIG_TRAIL, VRF_ERR_ATT_FORMAT},
    {"quote.msg byte", {0}, MSG_BYTE, VRF_ERR_ATT_SIGNATURE},
    {"quote.msg trailing byte", {0}, MSG_TRAIL, VRF_ERR_ATT_FORMAT},
    {"AK garbage", {0}, AK_GARBAGE, VRF_ERR_ATT_FORMAT},
    {"AK unrestricted",
     {.ak_attrs = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_SIGN_ENCRYPT},
     NOTHING,
     VRF_ERR_ATT_AK},
    {"AK also decrypts",
     {.ak_attrs = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_RESTRICTED |
                  TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT},
     NOTHING,
     VRF_ERR_ATT_AK},
    {"wrong nonce", {0}, WRONG_NONCE, VRF_ERR_ATT_NONCE},
    {"nonce prefix", {0}, SHORT_NONCE, VRF_ERR_ATT_NONCE},
    {"magic", {.magic = 0x12345678}, NOTHING, VRF_ERR_ATT_MAGIC},
    {"type certify",
     {.type = TPM2_ST_ATTEST_CERTIFY},
     NOTHING,
     VRF_ERR_ATT_TYPE},
    {"quote without PCR 10",
     {.mask = FW_PCR_BOOT_MASK},
     NOTHING,
     VRF_ERR_ATT_PCR_SELECT},
    {"PCR file selection differs", {0}, PCRFILE_MASK, VRF_ERR_ATT_PCR_SELECT},
    {"PCR value altered", {0}, PCR_VALUE, VRF_ERR_ATT_PCR_DIGEST},
    {"log: image digest altered", {0}, LOG_IMAGE_DIGEST, VRF_ERR_ATT_REPLAY},
    {"log: truncated", {0}, LOG_TRUNC, VRF_ERR_ATT_LOG},
    {"log: extra runtime record", {0}, LOG_EXTRA, VRF_ERR_ATT_REPLAY},
    {"log: runtime id altered", {0}, LOG_RUNTIME_ID, VRF_ERR_ATT_LOG_CONTENT},
    {"log: patch sequence order",
     {.bad_order = 1},
     NOTHING,
     VRF_ERR_ATT_LOG_CONTENT},
    {"log: revert of no patch",
     {.bad_revert = 1},
     NOTHING,
     VRF_ERR_ATT_LOG_CONTENT},
    {"log: the reverted package applied again", {.reapply = 1}, NOTHING, 0},
    {"log: another package with a reverted one's sequence",
     {.reapply = 2},
     NOTHING,
     VRF_ERR_ATT_LOG_CONTENT},
    {"log: record on unquoted PCR 5", {.pcr5 = 1}, NOTHING, VRF_ERR_ATT_REPLAY},
    {"quote with PCR 5, log with stray PCR 5 record",
     {.pcr5 = 1, .mask = FW_PCR_QUOTE_MASK | (1u << 5)},
     NOTHING,
     VRF_ERR_ATT_LOG_CONTENT},
};

static void test_tamper_matrix(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tampers / sizeof tampers[0]; i++) {
        const struct tamper *t = &tampers[i];
        struct fixture f;
        struct vrf_attest_report rep;
        uint8_t n2[sizeof nonce];
        const uint8_t *n = nonce;
        size_t nlen = sizeof nonce;

        build(&f, &t->v);
        switch (t->what) {
        case SIG_BYTE:
            f.q.sig[10] ^= 0x01; /* inside R */
            break;
        case SIG_TRAIL:
            f.q.sig[f.q.sig_len++] = 0;
            break;
        case MSG_BYTE:
            f.q.msg[f.q.msg_len - 1] ^= 0x80; /* inside pcrDigest */
            break;
        case MSG_TRAIL:
            f.q.msg[f.q.msg_len++] = 0;
            break;
        case AK_GARBAGE:
            f.q.ak_pub_len = 5;
            break;
        case WRONG_NONCE:
            memcpy(n2, nonce, sizeof n2);
            n2[2] ^= 0xff;
            n = n2;
            break;
        case SHORT_NONCE:
            nlen--;
            break;
        case PCRFILE_MASK:
            f.q.pcr_mask |= 1u << 7;
            break;
        case PCR_VALUE:
            f.q.pcr[FW_PCR_CMDLINE][3] ^= 0x10;
            break;
        case LOG_IMAGE_DIGEST:
            f.log.buf[digest_offset(&f.log, FW_PCR_IMAGE, FW_EV_IPL)] ^= 1;
            break;
        case LOG_TRUNC:
            f.log.len -= 3;
            break;
        case LOG_EXTRA: {
            struct fw_runtime_rec r = {.action = FW_ACT_PATCH, .sequence = 3};
            struct mock_tpm dummy;
            strcpy(r.id, "pkg-3");
            memset(&dummy, 0, sizeof dummy);
            assert_int_equal(
                fw_measure_runtime(&f.log, &r, mock_extend, &dummy), 0);
            break;
        }
        case LOG_RUNTIME_ID:
            f.log.buf[f.log.len - 1] ^= 0x01; /* last byte of pkg-1 */
            break;
        case NOTHING:
            break;
        }
        int ret = check(&f, n, nlen, &rep);
        if (ret != t->expect)
            fail_msg("%s: got %d (%s: %s), want %d (%s)", t->name, ret,
                     vrf_tpm_strerror(ret), rep.detail, t->expect,
                     vrf_tpm_strerror(t->expect));
        if (t->expect == 0) { /* an accepted variant */
            assert_non_null(rep.runtime);
            vrf_attest_report_free(&rep);
        } else {
            assert_null(rep.runtime);
            assert_true(rep.detail[0] != '\0');
        }
        teardown_fixture(&f);
    }
}

/* ------------------------------------------------------- file formats */

static void test_pcrs_layout(void **state)
{
    (void)state;
    uint8_t pcr[FW_PCR_COUNT][32], back[FW_PCR_COUNT][32];
    uint8_t buf[VRF_PCRS_FILE_MAX];
    uint32_t mask;

    for (unsigned i = 0; i < FW_PCR_COUNT; i++)
        memset(pcr[i], (int)i + 1, 32);
    int n = vrf_pcrs_file_encode(FW_PCR_QUOTE_MASK, pcr, buf, sizeof buf);
    /* Exactly what tpm2_quote -o wrote for sha256:0,4,8,9,10 on swtpm. */
    assert_int_equal(n, 668);
    static const uint8_t head[] = {0x01, 0,    0,    0,    0x0b, 0,
                                   0x03, 0x11, 0x07, 0x00, 0x00, 0x00};
    assert_memory_equal(buf, head, sizeof head);
    static const uint8_t lists[] = {0x01, 0, 0, 0, 0x05, 0, 0, 0, 0x20, 0};
    assert_memory_equal(buf + 132, lists, sizeof lists);
    assert_int_equal(buf[142], 1);           /* PCR 0 value */
    assert_int_equal(buf[142 + 66], 5);      /* PCR 4 value */
    assert_int_equal(buf[142 + 4 * 66], 11); /* PCR 10 value */
    assert_int_equal(vrf_pcrs_file_decode(buf, (size_t)n, &mask, back), 0);
    assert_int_equal(mask, FW_PCR_QUOTE_MASK);
    assert_memory_equal(back[10], pcr[10], 32);

    /* 24 PCRs: three full lists. */
    n = vrf_pcrs_file_encode(0xffffff, pcr, buf, sizeof buf);
    assert_int_equal(n, 132 + 4 + 3 * 532);
    assert_int_equal(vrf_pcrs_file_decode(buf, (size_t)n, &mask, back), 0);
    assert_int_equal(mask, 0xffffff);
    assert_memory_equal(back, pcr, sizeof pcr);
    assert_int_equal(vrf_pcrs_file_encode(0xffffff, pcr, buf, 100),
                     VRF_ERR_TPM_ARG);
    assert_int_equal(vrf_pcrs_file_encode(0, pcr, buf, sizeof buf),
                     VRF_ERR_TPM_ARG);
}

static void test_pcrs_grouping(void **state)
{
    (void)state;
    uint8_t pcr[FW_PCR_COUNT][32], back[FW_PCR_COUNT][32];
    uint8_t one[VRF_PCRS_FILE_MAX], two[VRF_PCRS_FILE_MAX];
    uint32_t mask;

    for (unsigned i = 0; i < FW_PCR_COUNT; i++)
        memset(pcr[i], 0x40 + (int)i, 32);
    int n = vrf_pcrs_file_encode(FW_PCR_QUOTE_MASK, pcr, one, sizeof one);
    /* The same values as two lists of 2 + 3, as a TPM answering PCR_Read
     * in pieces would make tpm2_quote write them. */
    memset(two, 0, sizeof two);
    memcpy(two, one, 132);
    two[132] = 2;
    uint8_t *l1 = two + 136, *l2 = two + 136 + 532;
    l1[0] = 2;
    memcpy(l1 + 4, one + 140, 2 * 66);
    l2[0] = 3;
    memcpy(l2 + 4, one + 140 + 2 * 66, 3 * 66);
    assert_int_equal(vrf_pcrs_file_decode(two, 136 + 2 * 532, &mask, back), 0);
    assert_memory_equal(back[10], pcr[10], 32);
    assert_memory_equal(back[4], pcr[4], 32);
    (void)n;
}

static void test_pcrs_rejects(void **state)
{
    (void)state;
    uint8_t pcr[FW_PCR_COUNT][32] = {{0}}, back[FW_PCR_COUNT][32];
    uint8_t good[VRF_PCRS_FILE_MAX], buf[VRF_PCRS_FILE_MAX];
    uint32_t mask;
    int n = vrf_pcrs_file_encode(FW_PCR_QUOTE_MASK, pcr, good, sizeof good);
    const struct {
        const char *name;
        size_t off;
        uint8_t val;
        int dlen;
    } m[] = {
        {"two banks", 0, 2, 0},
        {"sha1 bank", 4, 0x04, 0},
        {"sizeofSelect 4", 6, 4, 0},
        {"PCR 24 selected", 10, 1, 0},
        {"no PCR selected", 7, 0, 0},
        {"zero lists", 132, 0, 0},
        {"two lists, one present", 132, 2, 0},
        {"list count 9", 136, 9, 0},
        {"list count 4", 136, 4, 0},
        {"digest size 20", 140, 20, 0},
        {"one byte short", 0, 1, -1},
        {"one byte long", 0, 1, 1},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        memcpy(buf, good, (size_t)n);
        buf[n] = 0;
        buf[m[i].off] = m[i].val;
        if (m[i].off == 7) {
            buf[8] = buf[9] = 0;
        }
        int ret =
            vrf_pcrs_file_decode(buf, (size_t)(n + m[i].dlen), &mask, back);
        if (ret != VRF_ERR_ATT_FORMAT)
            fail_msg("%s: got %d", m[i].name, ret);
    }
}

static void test_attdir_roundtrip(void **state)
{
    (void)state;
    struct fixture f;
    struct vrf_quote *back = calloc(1, sizeof *back);
    struct vrf_attest_report rep;
    char dir[] = "/tmp/test_tpm_attest.XXXXXX", err[512], path[600];
    uint8_t *log = NULL;
    size_t log_len = 0;

    assert_non_null(back);
    assert_non_null(mkdtemp(dir));
    build(&f, &(struct variant){0});
    assert_int_equal(vrf_att_save(dir, &f.q, nonce, sizeof nonce, f.log.buf,
                                  f.log.len, err, sizeof err),
                     0);
    assert_int_equal(vrf_att_load(dir, back, &log, &log_len, err, sizeof err),
                     0);
    assert_int_equal(back->msg_len, f.q.msg_len);
    assert_memory_equal(back->msg, f.q.msg, f.q.msg_len);
    assert_memory_equal(back->sig, f.q.sig, f.q.sig_len);
    assert_memory_equal(back->ak_pub, f.q.ak_pub, f.q.ak_pub_len);
    assert_int_equal(back->pcr_mask, f.q.pcr_mask);
    assert_int_equal(log_len, f.log.len);
    assert_int_equal(
        vrf_attest_check(back, nonce, sizeof nonce, log, log_len, &rep), 0);
    vrf_attest_report_free(&rep);
    free(log);
    log = NULL;

    /* An oversized quote.msg is refused before it is read. */
    snprintf(path, sizeof path, "%s/%s", dir, VRF_ATT_MSG);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (unsigned i = 0; i < VRF_QUOTE_MSG_MAX + 1; i++)
        fputc(0, fp);
    fclose(fp);
    assert_int_equal(vrf_att_load(dir, back, &log, &log_len, err, sizeof err),
                     VRF_ERR_ATT_FORMAT);
    assert_null(log);
    assert_non_null(strstr(err, VRF_ATT_MSG));
    const char *names[] = {VRF_ATT_MSG,    VRF_ATT_SIG,    VRF_ATT_PCRS,
                           VRF_ATT_AK_PUB, VRF_ATT_AK_PEM, VRF_ATT_LOG,
                           VRF_ATT_NONCE};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    assert_int_equal(vrf_att_load(dir, back, &log, &log_len, err, sizeof err),
                     VRF_ERR_TPM_IO);

    /* A FIFO where a file goes is never replaced, nor read (no hang). */
    snprintf(path, sizeof path, "%s/%s", dir, VRF_ATT_MSG);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(vrf_att_save(dir, &f.q, nonce, sizeof nonce, f.log.buf,
                                  f.log.len, err, sizeof err),
                     VRF_ERR_TPM_IO);
    assert_non_null(strstr(err, "not a regular file (a FIFO); not replaced"));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(vrf_att_load(dir, back, &log, &log_len, err, sizeof err),
                     VRF_ERR_TPM_IO);
    assert_non_null(strstr(err, "not a regular file (a FIFO)"));
    unlink(path);
    rmdir(dir);
    free(back);
    teardown_fixture(&f);
}

/* ------------------------------------------------------------- TCTI */

static void test_open_errors(void **state)
{
    (void)state;
    struct vrf_tpm *t = (struct vrf_tpm *)1;
    char err[512];

    setenv("TSS2_LOG", "all+NONE", 1);
    assert_int_equal(
        vrf_tpm_open("no-such-tcti-module", 0, 0, &t, err, sizeof err),
        VRF_ERR_TPM_TCTI);
    assert_null(t);
    assert_non_null(strstr(err, "no-such-tcti-module"));
    assert_int_equal(vrf_tpm_open("swtpm:path=/nonexistent/x.sock", 0, 0, &t,
                                  err, sizeof err),
                     VRF_ERR_TPM_GONE);
    assert_non_null(strstr(err, "Esys_Startup failed"));
    assert_int_equal(vrf_tpm_open(NULL, 0, 0, &t, err, sizeof err),
                     VRF_ERR_TPM_ARG);
}

struct server {
    int fd;
    int mode; /* 0: accept, never answer; 1: answer a malformed header */
};

static void *serve(void *arg)
{
    struct server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    uint8_t cmd[64];
    (void)!read(c, cmd, sizeof cmd);
    if (s->mode == 1) {
        static const uint8_t bad[10] = {0x80, 0x01, 0, 0, 0, 5, 0, 0, 0, 0};
        (void)!write(c, bad, sizeof bad);
    } else {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    close(c);
    return NULL;
}

static void tcti_against(int mode, int expect, unsigned min_ms, unsigned max_ms)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct server s = {.mode = mode};
    struct vrf_tpm *t = NULL;
    pthread_t th;
    char tcti[200], err[512];
    struct timespec t0, t1;

    snprintf(sa.sun_path, sizeof sa.sun_path, "/tmp/test_tpm_tcti.%d.sock",
             (int)getpid());
    unlink(sa.sun_path);
    s.fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s.fd >= 0);
    assert_int_equal(bind(s.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s.fd, 4), 0);
    assert_int_equal(pthread_create(&th, NULL, serve, &s), 0);
    snprintf(tcti, sizeof tcti, "swtpm:path=%s", sa.sun_path);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ret = vrf_tpm_open(tcti, 0, 200, &t, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    unsigned ms = (unsigned)((t1.tv_sec - t0.tv_sec) * 1000 +
                             (t1.tv_nsec - t0.tv_nsec) / 1000000);
    if (ret != expect || ms < min_ms || ms > max_ms)
        fail_msg("mode %d: got %d (%s) after %u ms", mode, ret, err, ms);
    shutdown(s.fd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(s.fd);
    unlink(sa.sun_path);
}

/* A TPM that never answers: bounded by the timeout, not a hang. */
static void test_tcti_timeout(void **state)
{
    (void)state;
    tcti_against(0, VRF_ERR_TPM_TIMEOUT, 190, 3000);
}

/* A response header that lies about its size: refused, not trusted. */
static void test_tcti_malformed(void **state)
{
    (void)state;
    tcti_against(1, VRF_ERR_TPM_GONE, 0, 3000);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = VRF_ERR_TPM_NV_DOWN; e <= VRF_ERR_TPM_ARG; e++)
        assert_string_not_equal(vrf_tpm_strerror(e), "unknown error");
    for (int e = VRF_ERR_ATT_BASELINE; e <= VRF_ERR_ATT_FORMAT; e++)
        assert_string_not_equal(vrf_tpm_strerror(e), "unknown error");
    assert_string_equal(vrf_tpm_strerror(-1), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_tamper_matrix),
        cmocka_unit_test(test_check_log),
        cmocka_unit_test(test_pcrs_layout),
        cmocka_unit_test(test_pcrs_grouping),
        cmocka_unit_test(test_pcrs_rejects),
        cmocka_unit_test(test_attdir_roundtrip),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_tcti_timeout),
        cmocka_unit_test(test_tcti_malformed),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests_name("tpm_attest", tests, NULL, NULL);
}
