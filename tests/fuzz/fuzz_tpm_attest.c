/* fuzz_tpm_attest.c: libFuzzer target for what `hvpatch verify-attestation`
 * reads from an untrusted directory: the tpm2-tools PCR file, the AK public
 * key, the signature and the TPMS_ATTEST, and the checker behind them.
 * Mode byte 0 (mod 3): 0 PCR file alone; 1 AK + signature alone;
 * 2 a quote re-signed here with a fixed AK, so the fuzzer gets past step 1
 * and exercises nonce, magic, type, PCR and event-log steps:
 *   [u16 msg_len][msg][u16 pcrs_len][pcrs][u8 nonce_len][nonce][log...] */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <tss2/tss2_mu.h>

#include "tpm/vrf_tpm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mbedtls_ecdsa_context key;
static mbedtls_ctr_drbg_context drbg;
static uint8_t ak_pub[VRF_AK_PUB_MAX];
static size_t ak_pub_len;

static int fixed_entropy(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    memset(out, 0x5a, len);
    return 0;
}

static void init_key(void)
{
    TPM2B_PUBLIC pub;
    size_t off = 0;

    mbedtls_ecdsa_init(&key);
    mbedtls_ctr_drbg_init(&drbg);
    if (mbedtls_ctr_drbg_seed(&drbg, fixed_entropy, NULL, NULL, 0) != 0 ||
        mbedtls_ecdsa_genkey(&key, MBEDTLS_ECP_DP_SECP256R1,
                             mbedtls_ctr_drbg_random, &drbg) != 0)
        abort();
    memset(&pub, 0, sizeof pub);
    pub.publicArea.type = TPM2_ALG_ECC;
    pub.publicArea.nameAlg = TPM2_ALG_SHA256;
    pub.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
                                      TPMA_OBJECT_RESTRICTED |
                                      TPMA_OBJECT_SIGN_ENCRYPT;
    pub.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    pub.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    pub.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg =
        TPM2_ALG_SHA256;
    pub.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    pub.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    pub.publicArea.unique.ecc.x.size = 32;
    pub.publicArea.unique.ecc.y.size = 32;
    if (mbedtls_mpi_write_binary(&key.Q.X, pub.publicArea.unique.ecc.x.buffer,
                                 32) != 0 ||
        mbedtls_mpi_write_binary(&key.Q.Y, pub.publicArea.unique.ecc.y.buffer,
                                 32) != 0 ||
        Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, ak_pub, sizeof ak_pub, &off) !=
            TSS2_RC_SUCCESS)
        abort();
    ak_pub_len = off;
}

static int sign(struct vrf_quote *q)
{
    uint8_t hash[32];
    mbedtls_mpi r, s;
    TPMT_SIGNATURE sig;
    size_t off = 0;
    int ok;

    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    memset(&sig, 0, sizeof sig);
    sig.sigAlg = TPM2_ALG_ECDSA;
    sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
    sig.signature.ecdsa.signatureR.size = 32;
    sig.signature.ecdsa.signatureS.size = 32;
    ok = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), q->msg,
                    q->msg_len, hash) == 0 &&
         mbedtls_ecdsa_sign(&key.grp, &r, &s, &key.d, hash, 32,
                            mbedtls_ctr_drbg_random, &drbg) == 0 &&
         mbedtls_mpi_write_binary(&r, sig.signature.ecdsa.signatureR.buffer,
                                  32) == 0 &&
         mbedtls_mpi_write_binary(&s, sig.signature.ecdsa.signatureS.buffer,
                                  32) == 0 &&
         Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, q->sig, sizeof q->sig, &off) ==
             TSS2_RC_SUCCESS;
    q->sig_len = off;
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return ok;
}

static int take(const uint8_t **p, size_t *left, size_t n, const uint8_t **out)
{
    if (*left < n)
        return 0;
    *out = *p;
    *p += n;
    *left -= n;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vrf_quote q;
    struct vrf_attest_report rep;
    uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE];
    uint32_t mask;
    const uint8_t *p, *sec;
    size_t left;
    static const uint8_t zero[FW_SHA256_SIZE];

    if (ak_pub_len == 0)
        init_key();
    if (size < 1)
        return 0;
    p = data + 1;
    left = size - 1;
    memset(&q, 0, sizeof q);
    switch (data[0] % 3) {
    case 0:
        (void)vrf_pcrs_file_decode(p, left, &mask, pcr);
        return 0;
    case 1: /* [u16 ak_len][ak][sig] against an empty log */
        if (left < 2)
            return 0;
        q.ak_pub_len = (size_t)(p[0] | p[1] << 8) % (VRF_AK_PUB_MAX + 1);
        p += 2;
        left -= 2;
        if (!take(&p, &left, q.ak_pub_len, &sec))
            return 0;
        memcpy(q.ak_pub, sec, q.ak_pub_len);
        q.sig_len = left > VRF_QUOTE_SIG_MAX ? VRF_QUOTE_SIG_MAX : left;
        memcpy(q.sig, p, q.sig_len);
        (void)vrf_attest_check(&q, zero, 1, zero, 0, &rep);
        vrf_attest_report_free(&rep);
        return 0;
    default:
        break;
    }
    size_t n;
    if (!take(&p, &left, 2, &sec))
        return 0;
    n = (size_t)(sec[0] | sec[1] << 8) % (VRF_QUOTE_MSG_MAX + 1);
    if (!take(&p, &left, n, &sec))
        return 0;
    memcpy(q.msg, sec, n);
    q.msg_len = n;
    if (!take(&p, &left, 2, &sec))
        return 0;
    n = (size_t)(sec[0] | sec[1] << 8) % (VRF_PCRS_FILE_MAX + 1);
    if (!take(&p, &left, n, &sec) ||
        vrf_pcrs_file_decode(sec, n, &q.pcr_mask, q.pcr) != 0)
        return 0;
    if (!take(&p, &left, 1, &sec))
        return 0;
    n = sec[0] % (VRF_NONCE_MAX + 1);
    const uint8_t *nonce;
    if (!take(&p, &left, n, &nonce))
        return 0;
    memcpy(q.ak_pub, ak_pub, ak_pub_len);
    q.ak_pub_len = ak_pub_len;
    if (!sign(&q))
        abort();
    if (vrf_attest_check(&q, nonce, n, p, left, &rep) == 0) {
        (void)vrf_attest_check_baseline(&rep, zero, "demo");
        vrf_attest_report_free(&rep);
    }
    return 0;
}
