/* vrf_sig.c: ES384 signature verification (ECDSA P-384 with SHA-384) as
 * the numbered steps of SEC 1 v2 section 4.1.4, ending in a constant-time
 * comparison, built on mbedTLS's public bignum and ECP functions. */
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>

#include "pkg/vrf_int.h"

#define P384_BYTES 48

int vrf_ecdsa_p384_verify(mbedtls_ecp_group *g_grp, mbedtls_ecp_group *q_grp,
                          const mbedtls_ecp_point *q, const uint8_t hash[48],
                          const uint8_t sig[VRF_SIG_SIZE])
{
    int ret = VRF_ERR_CRYPTO;
    mbedtls_mpi r, s, e, w, u1, u2, v, one;
    mbedtls_ecp_point R, R1, R2;
    uint8_t vb[P384_BYTES], rb[P384_BYTES];
    const mbedtls_mpi *n = &g_grp->N;

    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    mbedtls_mpi_init(&e);
    mbedtls_mpi_init(&w);
    mbedtls_mpi_init(&u1);
    mbedtls_mpi_init(&u2);
    mbedtls_mpi_init(&v);
    mbedtls_mpi_init(&one);
    mbedtls_ecp_point_init(&R);
    mbedtls_ecp_point_init(&R1);
    mbedtls_ecp_point_init(&R2);

    if (g_grp->id != MBEDTLS_ECP_DP_SECP384R1)
        goto cleanup;

    /* 1. r and s are integers in [1, n - 1]. */
    if (mbedtls_mpi_read_binary(&r, sig, P384_BYTES) != 0 ||
        mbedtls_mpi_read_binary(&s, sig + P384_BYTES, P384_BYTES) != 0)
        goto cleanup;
    ret = VRF_ERR_SIG_INVALID;
    if (mbedtls_mpi_cmp_int(&r, 1) < 0 || mbedtls_mpi_cmp_mpi(&r, n) >= 0 ||
        mbedtls_mpi_cmp_int(&s, 1) < 0 || mbedtls_mpi_cmp_mpi(&s, n) >= 0)
        goto cleanup;

    /* 2. e: the digest as an integer. n has 384 bits, as many as SHA-384
     *    has, so no bits are dropped; the reductions below take it mod n. */
    ret = VRF_ERR_CRYPTO;
    if (mbedtls_mpi_read_binary(&e, hash, 48) != 0)
        goto cleanup;

    /* 3. w = s^-1 mod n. */
    if (mbedtls_mpi_inv_mod(&w, &s, n) != 0)
        goto cleanup;

    /* 4. u1 = e * w mod n, u2 = r * w mod n (u2 != 0: r, w are units). */
    if (mbedtls_mpi_mul_mpi(&u1, &e, &w) != 0 ||
        mbedtls_mpi_mod_mpi(&u1, &u1, n) != 0 ||
        mbedtls_mpi_mul_mpi(&u2, &r, &w) != 0 ||
        mbedtls_mpi_mod_mpi(&u2, &u2, n) != 0 || mbedtls_mpi_lset(&one, 1) != 0)
        goto cleanup;

    /* 5. R = u1 * G + u2 * Q. Each product uses a group whose base point
     *    is the point multiplied, so mbedTLS reuses its comb table; the sum
     *    is 1 * R1 + 1 * R2, which mbedtls_ecp_muladd adds without
     *    multiplying. (R2 is never infinity: u2 != 0 and Q has order n.) */
    if (mbedtls_mpi_cmp_int(&u1, 0) == 0) {
        if (mbedtls_ecp_set_zero(&R1) != 0)
            goto cleanup;
    } else if (mbedtls_ecp_mul(g_grp, &R1, &u1, &g_grp->G, NULL, NULL) != 0) {
        goto cleanup;
    }
    if (q_grp != NULL) {
        if (mbedtls_ecp_mul(q_grp, &R2, &u2, &q_grp->G, NULL, NULL) != 0)
            goto cleanup;
    } else if (mbedtls_ecp_mul(g_grp, &R2, &u2, q, NULL, NULL) != 0) {
        goto cleanup;
    }
    /* mbedtls_ecp_muladd() refuses a point at infinity as an operand, so
     * u1 = 0 (e = 0 mod n) is handled apart: then R = R2. */
    if (mbedtls_ecp_is_zero(&R1)) {
        if (mbedtls_ecp_copy(&R, &R2) != 0)
            goto cleanup;
    } else if (mbedtls_ecp_muladd(g_grp, &R, &one, &R1, &one, &R2) != 0) {
        goto cleanup;
    }

    /* 6. R must not be the point at infinity. */
    ret = VRF_ERR_SIG_INVALID;
    if (mbedtls_ecp_is_zero(&R))
        goto cleanup;

    /* 7. v = x(R) mod n. */
    ret = VRF_ERR_CRYPTO;
    if (mbedtls_mpi_mod_mpi(&v, &R.X, n) != 0 ||
        mbedtls_mpi_write_binary(&v, vb, sizeof vb) != 0 ||
        mbedtls_mpi_write_binary(&r, rb, sizeof rb) != 0)
        goto cleanup;

    /* 8. Valid iff v == r, compared in constant time. */
    ret = vrf_ct_memcmp(vb, rb, sizeof vb) == 0 ? VRF_OK : VRF_ERR_SIG_INVALID;

cleanup:
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&e);
    mbedtls_mpi_free(&w);
    mbedtls_mpi_free(&u1);
    mbedtls_mpi_free(&u2);
    mbedtls_mpi_free(&v);
    mbedtls_mpi_free(&one);
    mbedtls_ecp_point_free(&R);
    mbedtls_ecp_point_free(&R1);
    mbedtls_ecp_point_free(&R2);
    return ret;
}

/*
 * mbedtls_ecp_mul() keeps the comb table it computes for a group's base
 * point G in grp->T, and recomputes it for any other point every time. A
 * copy of P-384 whose G is the signer's key Q therefore multiplies Q about
 * 2.5 times faster from the second signature on. That relies on two facts
 * of mbedTLS 2.28's ecp.c, so the group is self-tested before use and the
 * caller falls back to the plain computation if the test fails:
 *   - a group loaded by mbedtls_ecp_group_load() has h == 1 and its P, A,
 *     B, N and G are static data it does not own (so G is replaced by a
 *     heap copy, freed by vrf_ecdsa_q_group_free() before the group);
 *   - grp->T is only reused when the point multiplied equals grp->G, and
 *     T_size == 0 marks a static table that must not be freed.
 */
int vrf_ecdsa_q_group(mbedtls_ecp_group *grp, const mbedtls_ecp_point *q)
{
    int ret = VRF_ERR_CRYPTO;
    int loaded = 0;
    mbedtls_ecp_group plain;
    mbedtls_ecp_point a, b;
    mbedtls_mpi k;

    mbedtls_ecp_group_init(&plain);
    mbedtls_ecp_point_init(&a);
    mbedtls_ecp_point_init(&b);
    mbedtls_mpi_init(&k);
    mbedtls_ecp_group_init(grp);

    if (mbedtls_ecp_group_load(grp, MBEDTLS_ECP_DP_SECP384R1) != 0 ||
        grp->h != 1)
        goto cleanup;
    loaded = 1;
    grp->T = NULL; /* a static table for the real G, not owned */
    grp->T_size = 0;
    mbedtls_ecp_point_init(&grp->G);
    if (mbedtls_ecp_copy(&grp->G, q) != 0)
        goto cleanup;

    /* Self-test: k * Q both ways, for a k with bits set across its width;
     * the first computation also builds the cached table. */
    if (mbedtls_ecp_group_load(&plain, MBEDTLS_ECP_DP_SECP384R1) != 0 ||
        mbedtls_mpi_read_string(&k, 16,
                                "5A17F00DC0FFEE0123456789ABCDEF0FEDCBA98765"
                                "43210F1E2D3C4B5A69788796A5B4C3D2E1F0011") !=
            0 ||
        mbedtls_ecp_mul(grp, &a, &k, &grp->G, NULL, NULL) != 0 ||
        grp->T == NULL || mbedtls_ecp_mul(&plain, &b, &k, q, NULL, NULL) != 0 ||
        mbedtls_ecp_point_cmp(&a, &b) != 0 ||
        mbedtls_ecp_mul(grp, &a, &k, &grp->G, NULL, NULL) != 0 ||
        mbedtls_ecp_point_cmp(&a, &b) != 0)
        goto cleanup;
    ret = VRF_OK;

cleanup:
    if (ret != VRF_OK && loaded)
        vrf_ecdsa_q_group_free(grp);
    else if (ret != VRF_OK)
        mbedtls_ecp_group_free(grp);
    mbedtls_ecp_group_free(&plain);
    mbedtls_ecp_point_free(&a);
    mbedtls_ecp_point_free(&b);
    mbedtls_mpi_free(&k);
    return ret;
}

void vrf_ecdsa_q_group_free(mbedtls_ecp_group *grp)
{
    /* G is ours (a heap copy of Q); the rest is mbedTLS's to free. */
    mbedtls_ecp_point_free(&grp->G);
    mbedtls_ecp_group_free(grp);
}
