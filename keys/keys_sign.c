/* keys_sign.c: sign a package: COSE_Sign1 with ES384 (ECDSA P-384,
 * SHA-384, deterministic nonces per RFC 6979) and the signer's chain in
 * the protected header (x5chain), so every byte but the signature itself
 * is covered by it. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/platform_util.h>

#include "keys/keys.h"

int keys_sign(const uint8_t *pkg, size_t pkg_len, mbedtls_pk_context *key,
              const mbedtls_x509_crt *chain, uint8_t **out, size_t *out_len,
              struct keys_diag *diag)
{
    int ret = KEYS_ERR_ARG;
    int vr;
    struct vrf_pkg parsed, check;
    struct vrf_bytes certs[VRF_MAX_CERTS];
    size_t n_certs = 0;
    uint8_t *prot = NULL;
    size_t prot_len = 0;
    uint8_t hash[48], sig[VRF_SIG_SIZE];
    mbedtls_mpi r, s;
    mbedtls_ecp_keypair *ec;
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;

    vrf_pkg_init(&parsed);
    vrf_pkg_init(&check);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    *out = NULL;
    *out_len = 0;
    if (pkg == NULL || key == NULL || chain == NULL || chain->raw.len == 0)
        goto cleanup;

    /* 1. The input is a package (signed or not). */
    ret = KEYS_ERR_PKG_PARSE;
    vr = vrf_pkg_parse(&parsed, pkg, pkg_len);
    if (vr != VRF_OK) {
        keys_diag_set(diag, "%s at byte %zu: %s (%s)", vrf_errname(vr),
                      parsed.fail_offset, vrf_strerror(vr), parsed.detail);
        goto cleanup;
    }

    /* 2. The key is ECDSA P-384 and belongs to the first certificate. */
    ret = KEYS_ERR_KEY_TYPE;
    if (mbedtls_pk_get_type(key) != MBEDTLS_PK_ECKEY ||
        mbedtls_pk_ec(*key)->grp.id != MBEDTLS_ECP_DP_SECP384R1) {
        keys_diag_set(diag, "signing key: need ECDSA P-384 for ES384");
        goto cleanup;
    }
    ret = KEYS_ERR_KEY_MISMATCH;
    if (mbedtls_pk_check_pair(&chain->pk, key) != 0) {
        keys_diag_set(diag, "the key is not the certificate's");
        goto cleanup;
    }

    /* 3. Each certificate names the next as its issuer; at most
     *    VRF_MAX_CERTS of them. */
    for (const mbedtls_x509_crt *c = chain; c != NULL && c->raw.len != 0;
         c = c->next) {
        ret = KEYS_ERR_CERT_CHAIN;
        if (n_certs == VRF_MAX_CERTS) {
            keys_diag_set(diag, "more than %u certificates", VRF_MAX_CERTS);
            goto cleanup;
        }
        if (c->next != NULL && c->next->raw.len != 0 &&
            (c->issuer_raw.len != c->next->subject_raw.len ||
             memcmp(c->issuer_raw.p, c->next->subject_raw.p,
                    c->issuer_raw.len) != 0)) {
            keys_diag_set(diag,
                          "certificate %zu was not issued by "
                          "certificate %zu",
                          n_certs, n_certs + 1);
            goto cleanup;
        }
        certs[n_certs].p = c->raw.p;
        certs[n_certs].len = c->raw.len;
        n_certs++;
    }

    /* 4. Protected header {alg: ES384, x5chain}. */
    ret = keys_pkg_encode_protected(certs, n_certs, &prot, &prot_len);
    if (ret != KEYS_OK)
        goto cleanup;

    /* 5. ES384 over Sig_structure: r || s, 48 bytes each. */
    ret = KEYS_ERR_CRYPTO;
    if (keys_rng(&f_rng, &p_rng) != KEYS_OK ||
        vrf_cose_tbs_hash(prot, prot_len, parsed.payload.p, parsed.payload.len,
                          hash) != VRF_OK)
        goto cleanup;
    ec = mbedtls_pk_ec(*key);
    if (mbedtls_ecdsa_sign_det_ext(&ec->grp, &r, &s, &ec->d, hash, sizeof hash,
                                   MBEDTLS_MD_SHA384, f_rng, p_rng) != 0 ||
        mbedtls_mpi_write_binary(&r, sig, 48) != 0 ||
        mbedtls_mpi_write_binary(&s, sig + 48, 48) != 0)
        goto cleanup;

    /* 6. The message, the payload's bytes unchanged. */
    ret = keys_pkg_encode_sign1(prot, prot_len, parsed.payload.p,
                                parsed.payload.len, sig, sizeof sig, out,
                                out_len);
    if (ret != KEYS_OK)
        goto cleanup;

    /* 7. What we wrote parses. */
    ret = KEYS_ERR_PKG_LIMIT;
    vr = vrf_pkg_parse(&check, *out, *out_len);
    if (vr != VRF_OK || !check.is_signed) {
        keys_diag_set(diag, "signed package: %s (%s)", vrf_errname(vr),
                      check.detail);
        keys_free(*out);
        *out = NULL;
        *out_len = 0;
        goto cleanup;
    }
    ret = KEYS_OK;

cleanup:
    keys_free(prot);
    vrf_pkg_free(&parsed);
    vrf_pkg_free(&check);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_platform_zeroize(hash, sizeof hash);
    return ret;
}
