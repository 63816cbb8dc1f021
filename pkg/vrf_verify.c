/* vrf_verify.c: vrf_verify(): checks 1 to 10 of docs/FORMAT.md in their
 * fixed order; the first failure is the verdict. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "lib/lib_hex.h"
#include "pkg/vrf_int.h"

#define READ_CHUNK 4096u

static const char *rec_kind_name(uint32_t kind)
{
    switch (kind) {
    case VRF_REC_REPLACE:
        return "replace";
    case VRF_REC_CODE:
        return "code";
    default:
        return "redirect";
    }
}

/* The caller's ranges must be sane before any record is judged by them. */
static int ranges_ok(const struct vrf_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_ranges; i++) {
        const struct vrf_range *r = &ctx->ranges[i];

        if (r->size == 0 || r->base > UINT64_MAX - r->size ||
            (r->kind != VRF_RANGE_CODE && r->kind != VRF_RANGE_PATCH_AREA))
            return 0;
    }
    return 1;
}

/* 6. The COSE signature under the signer's key. */
static int check_signature(struct vrf_trust *trust, struct vrf_chain_entry *e,
                           struct vrf_pkg *pkg)
{
    int ret = VRF_ERR_SIG_KEY;
    uint8_t hash[48];
    const mbedtls_x509_crt *leaf = e->path[0];
    const mbedtls_ecp_keypair *ec;

    /* 6.1 ES384 needs an ECDSA key on P-384. */
    if (mbedtls_pk_get_type(&leaf->pk) != MBEDTLS_PK_ECKEY &&
        mbedtls_pk_get_type(&leaf->pk) != MBEDTLS_PK_ECDSA) {
        vrf_detail(pkg, "signer key type %s", mbedtls_pk_get_name(&leaf->pk));
        goto cleanup;
    }
    ec = mbedtls_pk_ec(leaf->pk);
    if (ec->grp.id != MBEDTLS_ECP_DP_SECP384R1) {
        const mbedtls_ecp_curve_info *ci =
            mbedtls_ecp_curve_info_from_grp_id(ec->grp.id);

        vrf_detail(pkg, "signer key on %s, not secp384r1",
                   ci != NULL ? ci->name : "an unknown curve");
        goto cleanup;
    }

    /* 6.2 Digest of Sig_structure, 6.3 ECDSA verification. */
    ret = VRF_ERR_CRYPTO;
    if (!trust->p384_ok)
        goto cleanup;
    ret = vrf_cose_tbs_hash(pkg->protected_hdr.p, pkg->protected_hdr.len,
                            pkg->payload.p, pkg->payload.len, hash);
    if (ret != VRF_OK)
        goto cleanup;
    ret = vrf_ecdsa_p384_verify(&trust->p384,
                                e->signer_grp_ok ? &e->signer_grp : NULL,
                                &ec->Q, hash, pkg->signature.p);
    if (ret == VRF_ERR_SIG_INVALID)
        vrf_detail(pkg, "ES384 over the protected header and payload");

cleanup:
    return ret;
}

static const struct vrf_range *range_holding(const struct vrf_ctx *ctx,
                                             uint32_t kind, uint64_t gpa,
                                             uint64_t size);

/* The range a record must lie in (10.1), or NULL. */
static const struct vrf_range *record_range(const struct vrf_ctx *ctx,
                                            const struct vrf_record *r)
{
    return range_holding(
        ctx, r->kind == VRF_REC_CODE ? VRF_RANGE_PATCH_AREA : VRF_RANGE_CODE,
        r->gpa, r->size);
}

/* 9. Every byte a record changes equals its pre-image now: the stated
 *    pre-image for REPLACE and REDIRECT, zero for CODE. Compared in
 *    constant time over the whole record. A record outside every range
 *    is not read: check 10.1 reports it, so the verdict does not depend
 *    on whether the caller's read() can reach that address (a VM reads
 *    only its protected code, `hvpatch verify` a whole image). */
static int check_preimages(const struct vrf_ctx *ctx, struct vrf_pkg *pkg)
{
    int ret = VRF_OK;
    uint8_t buf[READ_CHUNK];
    static const uint8_t zero[READ_CHUNK];

    for (size_t i = 0; i < pkg->n_records; i++) {
        const struct vrf_record *r = &pkg->records[i];
        int diff = 0;

        if (record_range(ctx, r) == NULL)
            continue;
        for (uint64_t off = 0; off < r->size; off += READ_CHUNK) {
            size_t n = r->size - off < READ_CHUNK ? (size_t)(r->size - off)
                                                  : READ_CHUNK;
            const uint8_t *want =
                r->kind == VRF_REC_CODE ? zero : r->pre.p + off;

            if (ctx->read(ctx->read_opaque, r->gpa + off, buf, n) != 0) {
                ret = VRF_ERR_PREIMAGE_READ;
                pkg->fail_record = (long)i;
                vrf_detail(pkg, "record %zu (%s): %zu bytes at gpa 0x%llx", i,
                           rec_kind_name(r->kind), n,
                           (unsigned long long)(r->gpa + off));
                goto cleanup;
            }
            diff |= vrf_ct_memcmp(buf, want, n);
        }
        if (diff) {
            ret = VRF_ERR_PREIMAGE_MISMATCH;
            pkg->fail_record = (long)i;
            vrf_detail(pkg, "record %zu (%s): [0x%llx, 0x%llx) is not %s", i,
                       rec_kind_name(r->kind), (unsigned long long)r->gpa,
                       (unsigned long long)(r->gpa + r->size),
                       r->kind == VRF_REC_CODE ? "all zero"
                                               : "the stated pre-image");
            goto cleanup;
        }
    }

cleanup:
    mbedtls_platform_zeroize(buf, sizeof buf);
    return ret;
}

/* The range of kind `kind` holding all of [gpa, gpa + size), or NULL. */
static const struct vrf_range *range_holding(const struct vrf_ctx *ctx,
                                             uint32_t kind, uint64_t gpa,
                                             uint64_t size)
{
    for (size_t i = 0; i < ctx->n_ranges; i++) {
        const struct vrf_range *r = &ctx->ranges[i];

        if (r->kind == kind && gpa >= r->base && gpa - r->base <= r->size &&
            size <= r->size - (gpa - r->base))
            return r;
    }
    return NULL;
}

/* 10. Where the records write. */
static int check_bounds(const struct vrf_ctx *ctx, struct vrf_pkg *pkg)
{
    int ret = VRF_OK;
    uint32_t domain[VRF_MAX_RECORDS];

    /* 10.1 Each record lies inside one range of the right kind: REPLACE
     *      and REDIRECT in protected code, CODE in a patch area (so new
     *      code never overflows its area). */
    for (size_t i = 0; i < pkg->n_records; i++) {
        const struct vrf_record *r = &pkg->records[i];
        int in_area = r->kind == VRF_REC_CODE;
        const struct vrf_range *rg = record_range(ctx, r);

        if (rg == NULL) {
            ret = in_area ? VRF_ERR_BOUNDS_PATCH_AREA : VRF_ERR_BOUNDS_OUTSIDE;
            pkg->fail_record = (long)i;
            vrf_detail(pkg, "record %zu (%s): [0x%llx, 0x%llx)", i,
                       rec_kind_name(r->kind), (unsigned long long)r->gpa,
                       (unsigned long long)(r->gpa + r->size));
            goto cleanup;
        }
        domain[i] = rg->domain;
    }

    /* 10.2 No two records overlap. */
    for (size_t i = 0; i < pkg->n_records; i++) {
        const struct vrf_record *a = &pkg->records[i];

        for (size_t j = i + 1; j < pkg->n_records; j++) {
            const struct vrf_record *b = &pkg->records[j];

            if (a->gpa < b->gpa + b->size && b->gpa < a->gpa + a->size) {
                ret = VRF_ERR_BOUNDS_OVERLAP;
                pkg->fail_record = (long)j;
                vrf_detail(pkg, "records %zu and %zu", i, j);
                goto cleanup;
            }
        }
    }

    /* 10.3 A redirect jumps into new code of this very package, in a patch
     *      area of its own domain, within reach of rel32. */
    for (size_t i = 0; i < pkg->n_records; i++) {
        const struct vrf_record *r = &pkg->records[i];
        size_t c = pkg->n_records;

        if (r->kind != VRF_REC_REDIRECT)
            continue;
        for (size_t j = 0; j < pkg->n_records; j++) {
            const struct vrf_record *k = &pkg->records[j];

            if (k->kind == VRF_REC_CODE && r->target >= k->gpa &&
                r->target - k->gpa < k->size) {
                c = j;
                break;
            }
        }
        pkg->fail_record = (long)i;
        if (c == pkg->n_records) {
            ret = VRF_ERR_BOUNDS_TARGET;
            vrf_detail(pkg, "record %zu: target 0x%llx", i,
                       (unsigned long long)r->target);
            goto cleanup;
        }
        if (domain[c] != domain[i]) {
            ret = VRF_ERR_BOUNDS_DOMAIN;
            vrf_detail(pkg, "record %zu: site in domain %u, target in %u", i,
                       domain[i], domain[c]);
            goto cleanup;
        }
        if (!vrf_encode_jmp(pkg->records[i].jmp,
                            vrf_range_va(ctx->ranges, ctx->n_ranges, r->gpa),
                            vrf_range_va(ctx->ranges, ctx->n_ranges,
                                         r->target))) {
            ret = VRF_ERR_BOUNDS_REL32;
            vrf_detail(pkg, "record %zu: 0x%llx -> 0x%llx", i,
                       (unsigned long long)r->gpa,
                       (unsigned long long)r->target);
            goto cleanup;
        }
        pkg->fail_record = -1;
    }

cleanup:
    return ret;
}

/* Check 8. An equal sequence is a replay unless the package is,
 * byte for byte, the one committed with it (compared in constant time)
 * and it is not live now. */
static int check_sequence(const struct vrf_ctx *ctx, const uint8_t *buf,
                          size_t len, struct vrf_pkg *pkg)
{
    unsigned long long seq = (unsigned long long)pkg->sequence;
    unsigned long long cur = (unsigned long long)ctx->current_seq;
    uint8_t sha[32];

    if (pkg->sequence > ctx->current_seq)
        return VRF_OK;
    if (pkg->sequence < ctx->current_seq) {
        vrf_detail(pkg, "package sequence %llu, current %llu", seq, cur);
        return VRF_ERR_SEQ_ROLLBACK;
    }
    if (ctx->committed_sha256 == NULL) {
        vrf_detail(pkg,
                   "package sequence %llu, current %llu, and no package is "
                   "known to be committed with it",
                   seq, cur);
        return VRF_ERR_SEQ_REPLAY;
    }
    if (mbedtls_sha256_ret(buf, len, sha, 0) != 0 ||
        vrf_ct_memcmp(sha, ctx->committed_sha256, 32) != 0) {
        char a[65], b[65];
        lib_hex_encode(sha, 32, a);
        lib_hex_encode(ctx->committed_sha256, 32, b);
        vrf_detail(pkg,
                   "sequence %llu was committed with package sha256 %s, "
                   "this one is %s",
                   seq, b, a);
        return VRF_ERR_SEQ_DIGEST;
    }
    if (ctx->committed_live) {
        vrf_detail(pkg, "package sequence %llu, current %llu: it is live", seq,
                   cur);
        return VRF_ERR_SEQ_REPLAY;
    }
    return VRF_OK;
}

int vrf_check_records(const struct vrf_ctx *ctx, struct vrf_pkg *pkg)
{
    int ret = VRF_ERR_ARG;

    if (ctx == NULL || pkg == NULL || ctx->read == NULL ||
        (ctx->ranges == NULL && ctx->n_ranges != 0) || !ranges_ok(ctx) ||
        (pkg->records == NULL && pkg->n_records != 0))
        goto cleanup;
    ret = check_preimages(ctx, pkg);
    if (ret == VRF_OK)
        ret = check_bounds(ctx, pkg);

cleanup:
    return ret;
}

int vrf_verify(struct vrf_trust *trust, const struct vrf_ctx *ctx,
               const uint8_t *buf, size_t len, struct vrf_pkg *pkg)
{
    int ret = VRF_ERR_ARG;
    struct vrf_chain_entry *e = NULL;
    int owned = 0;

    if (trust == NULL || ctx == NULL || pkg == NULL || ctx->kind == NULL ||
        ctx->read == NULL || (ctx->ranges == NULL && ctx->n_ranges != 0) ||
        !ranges_ok(ctx))
        goto cleanup;

    /* 1. Parse. */
    ret = vrf_pkg_parse(pkg, buf, len);
    if (ret != VRF_OK)
        goto cleanup;

    /* 2. Chain and 3. EKU (time-independent, cached per chain). */
    ret = VRF_ERR_CHAIN_UNSIGNED;
    if (!pkg->is_signed) {
        vrf_detail(pkg, "no x5chain and no signature: sign it first");
        goto cleanup;
    }
    ret = vrf_trust_chain(trust, pkg, &e, &owned);
    if (ret != VRF_OK)
        goto cleanup;
    ret = e->status;
    if (ret != VRF_OK) {
        vrf_detail(pkg, "%s", e->detail);
        goto cleanup;
    }

    /* 4. Validity. */
    ret = vrf_chain_check_validity(e, ctx->now, pkg);
    if (ret != VRF_OK)
        goto cleanup;

    /* 5. Revocation. */
    ret = vrf_chain_check_revocation(trust, e, ctx->now, pkg);
    if (ret != VRF_OK)
        goto cleanup;

    /* 6. Signature. */
    ret = check_signature(trust, e, pkg);
    if (ret != VRF_OK)
        goto cleanup;

    /* 7. Baseline: the same kind of guest, and the exact image (digest
     *    compared in constant time). */
    ret = VRF_ERR_BASELINE_KIND;
    if (strcmp(pkg->kind, ctx->kind) != 0) {
        vrf_detail(pkg, "package for \"%s\", guest is \"%s\"", pkg->kind,
                   ctx->kind);
        goto cleanup;
    }
    ret = VRF_ERR_BASELINE_DIGEST;
    if (vrf_ct_memcmp(pkg->baseline, ctx->baseline, VRF_BASELINE_SIZE) != 0) {
        char a[2 * VRF_BASELINE_SIZE + 1], b[2 * VRF_BASELINE_SIZE + 1];

        lib_hex_encode(pkg->baseline, VRF_BASELINE_SIZE, a);
        lib_hex_encode(ctx->baseline, VRF_BASELINE_SIZE, b);
        vrf_detail(pkg, "package %s, guest %s", a, b);
        goto cleanup;
    }

    /* 8. Sequence: above the current one (anti-rollback), or equal to it
     *    for the very package committed with it while it is not live (a
     *    re-apply: after a revert, or on a new boot of the baseline). */
    ret = check_sequence(ctx, buf, len, pkg);
    if (ret != VRF_OK)
        goto cleanup;

    /* 9. Pre-images. */
    ret = check_preimages(ctx, pkg);
    if (ret != VRF_OK)
        goto cleanup;

    /* 10. Bounds. */
    ret = check_bounds(ctx, pkg);
    if (ret != VRF_OK)
        goto cleanup;

    /* Approved: describe the verified signer. */
    vrf_signer_from_crt(&pkg->signer, e->path[0]);
    if (mbedtls_x509_dn_gets(pkg->signer.anchor, sizeof pkg->signer.anchor,
                             &e->path[e->path_len - 1]->subject) < 0)
        snprintf(pkg->signer.anchor, sizeof pkg->signer.anchor,
                 "(unprintable)");
    pkg->signer.chain_len = pkg->n_certs;
    pkg->signer.verified = 1;
    pkg->fail_record = -1;
    pkg->detail[0] = '\0';
    ret = VRF_OK;

cleanup:
    if (owned)
        vrf_chain_entry_free(e);
    return ret;
}
