/* fuzz_vrf_verify.c: libFuzzer target for the whole verifier (checks 1 to
 * 10) with a trust store made at start-up. The first input byte picks
 * what the rest is:
 *   even: a whole package, verified as is;
 *   odd:  a payload, which the harness signs with a trusted signing key
 *         (so the fuzzer reaches the baseline, sequence, pre-image and
 *         bounds checks), then verified.
 * Guest memory: 0x90 in kernel text, zero elsewhere; baseline 0x42 x 32,
 * kind "demo", current sequence 0. An approved package must write only
 * inside the demo's ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecdsa.h>

#include "keys/keys.h"
#include "pkg/vrf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct vrf_range ranges[] = {
    {0x40000000, 0x100000, VRF_RANGE_CODE, 0, 0},
    {0x40100000, 0x100000, VRF_RANGE_CODE, 1, 0},
    {0x40200000, 0x100000, VRF_RANGE_PATCH_AREA, 0, 0},
    {0x40300000, 0x100000, VRF_RANGE_PATCH_AREA, 1, 0},
    /* A Linux kernel's: text and patch area at their own virtual
     * addresses (rel32 computed between those). */
    {0x01000000, 0x100000, VRF_RANGE_CODE, 2, 0xffffffff81000000ull},
    {0x41000000, 0x100000, VRF_RANGE_PATCH_AREA, 2, 0xffffffffbfe00000ull},
};

static struct vrf_trust trust;
static mbedtls_pk_context sign_key;
static mbedtls_x509_crt sign_crt;
static uint8_t *prot;
static size_t prot_len;

static int guest_read(void *opaque, uint64_t gpa, uint8_t *buf, size_t len)
{
    (void)opaque;
    for (size_t i = 0; i < len; i++)
        buf[i] = gpa + i >= 0x40000000 && gpa + i < 0x40100000 ? 0x90 : 0;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    mbedtls_pk_context root_key;
    mbedtls_x509_crt root;
    struct keys_cert_params cp;
    char nb[15], na[15], *root_pem = NULL, *leaf_pem = NULL;
    struct vrf_bytes cert;

    (void)argc;
    (void)argv;
    mbedtls_pk_init(&root_key);
    mbedtls_pk_init(&sign_key);
    mbedtls_x509_crt_init(&root);
    mbedtls_x509_crt_init(&sign_crt);
    vrf_trust_init(&trust);
    keys_time_string(-86400, nb);
    keys_time_string(3650 * 86400, na);
    memset(&cp, 0, sizeof cp);
    cp.subject = "CN=fuzz root";
    cp.not_before = nb;
    cp.not_after = na;
    cp.is_ca = 1;
    cp.max_pathlen = 0;
    cp.key_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN;
    if (keys_ec_generate(&root_key) != KEYS_OK ||
        keys_ec_generate(&sign_key) != KEYS_OK ||
        keys_cert_issue(&cp, &root_key, &root_key, NULL, &root_pem) != KEYS_OK ||
        mbedtls_x509_crt_parse(&root, (unsigned char *)root_pem,
                               strlen(root_pem) + 1) != 0)
        abort();
    cp.subject = "CN=fuzz signer";
    cp.is_ca = 0;
    cp.max_pathlen = -1;
    cp.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
    cp.eku = KEYS_EKU_HOTPATCH;
    if (keys_cert_issue(&cp, &sign_key, &root_key, &root, &leaf_pem) !=
            KEYS_OK ||
        mbedtls_x509_crt_parse(&sign_crt, (unsigned char *)leaf_pem,
                               strlen(leaf_pem) + 1) != 0 ||
        vrf_trust_add_anchors(&trust, (uint8_t *)root_pem, strlen(root_pem)) !=
            VRF_OK)
        abort();
    cert.p = sign_crt.raw.p;
    cert.len = sign_crt.raw.len;
    if (keys_pkg_encode_protected(&cert, 1, &prot, &prot_len) != KEYS_OK)
        abort();
    keys_free(root_pem);
    keys_free(leaf_pem);
    mbedtls_pk_free(&root_key);
    mbedtls_x509_crt_free(&root);
    return 0;
}

/* ES384 over (prot, payload) with the trusted signing key. */
static int sign(const uint8_t *payload, size_t len, uint8_t sig[96])
{
    uint8_t hash[48];
    mbedtls_mpi r, s;
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(sign_key);
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;
    int ret = -1;

    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if (vrf_cose_tbs_hash(prot, prot_len, payload, len, hash) == VRF_OK &&
        keys_rng(&f_rng, &p_rng) == KEYS_OK &&
        mbedtls_ecdsa_sign_det_ext(&ec->grp, &r, &s, &ec->d, hash, 48,
                                   MBEDTLS_MD_SHA384, f_rng, p_rng) == 0 &&
        mbedtls_mpi_write_binary(&r, sig, 48) == 0 &&
        mbedtls_mpi_write_binary(&s, sig + 48, 48) == 0)
        ret = 0;
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return ret;
}

/* An approved package writes only inside one range of the right kind. */
static void check_approved(const struct vrf_pkg *p)
{
    for (size_t i = 0; i < p->n_records; i++) {
        const struct vrf_record *r = &p->records[i];
        uint32_t want = r->kind == VRF_REC_CODE ? VRF_RANGE_PATCH_AREA
                                                : VRF_RANGE_CODE;
        int inside = 0;

        for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++)
            inside |= ranges[k].kind == want && r->gpa >= ranges[k].base &&
                      r->gpa + r->size <= ranges[k].base + ranges[k].size;
        if (!inside || (r->kind == VRF_REC_REDIRECT && r->jmp[0] != 0xe9))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vrf_ctx ctx;
    struct vrf_pkg p;
    uint8_t *msg = NULL, sig[96];
    size_t msg_len = 0;
    const uint8_t *in;
    size_t in_len;
    int ret;

    if (size < 1 || size > VRF_PKG_MAX_SIZE)
        return 0;
    memset(&ctx, 0, sizeof ctx);
    memset(ctx.baseline, 0x42, sizeof ctx.baseline);
    ctx.kind = "demo";
    ctx.now = (int64_t)time(NULL);
    ctx.read = guest_read;
    ctx.ranges = ranges;
    ctx.n_ranges = sizeof ranges / sizeof ranges[0];
    in = data + 1;
    in_len = size - 1;
    if (data[0] & 1) {
        if (sign(data + 1, size - 1, sig) != 0 ||
            keys_pkg_encode_sign1(prot, prot_len, data + 1, size - 1, sig,
                                  sizeof sig, &msg, &msg_len) != KEYS_OK)
            return 0;
        in = msg;
        in_len = msg_len;
    }
    vrf_pkg_init(&p);
    ret = vrf_verify(&trust, &ctx, in, in_len, &p);
    if (vrf_errname(ret) == NULL || ret == VRF_ERR_ARG || ret == VRF_ERR_CRYPTO)
        abort();
    if (ret == VRF_OK)
        check_approved(&p);
    vrf_pkg_free(&p);
    keys_free(msg);
    return 0;
}
