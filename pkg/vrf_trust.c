/* vrf_trust.c: the trust store (anchors, CRLs) and checks 2 to 5 of
 * docs/FORMAT.md: certificate chain, extended key usage, validity and
 * revocation, with the time-independent verdicts cached per chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "pkg/vrf_int.h"

/* What a certificate on the chain may use: ECDSA keys on the NIST curves,
 * signatures with SHA-2. Anything else is VRF_ERR_CHAIN_PROFILE. */
static const mbedtls_x509_crt_profile vrf_profile = {
    MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
    MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA),
    MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP521R1),
    3072,
};

/* Time is the caller's `now`, checked in step 4, never the system clock. */
#define VRF_TIME_FLAGS                                                         \
    (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)

void vrf_trust_init(struct vrf_trust *trust)
{
    memset(trust, 0, sizeof *trust);
    mbedtls_x509_crt_init(&trust->anchors);
    mbedtls_ecp_group_init(&trust->p384);
    trust->p384_ok =
        mbedtls_ecp_group_load(&trust->p384, MBEDTLS_ECP_DP_SECP384R1) == 0;
}

void vrf_chain_entry_free(struct vrf_chain_entry *e)
{
    if (e == NULL)
        return;
    mbedtls_x509_crt_free(&e->certs);
    if (e->signer_grp_ok)
        vrf_ecdsa_q_group_free(&e->signer_grp);
    else
        mbedtls_ecp_group_free(&e->signer_grp);
    mbedtls_platform_zeroize(e, sizeof *e);
    free(e);
}

void vrf_trust_cache_clear(struct vrf_trust *trust)
{
    for (size_t i = 0; i < VRF_TRUST_CACHE_SIZE; i++) {
        vrf_chain_entry_free(trust->cache[i]);
        trust->cache[i] = NULL;
    }
    trust->cache_next = 0;
}

void vrf_trust_free(struct vrf_trust *trust)
{
    if (trust == NULL)
        return;
    vrf_trust_cache_clear(trust);
    for (size_t i = 0; i < trust->n_crls; i++) {
        mbedtls_x509_crl_free(trust->crls[i]);
        free(trust->crls[i]);
    }
    mbedtls_x509_crt_free(&trust->anchors);
    mbedtls_ecp_group_free(&trust->p384);
    mbedtls_platform_zeroize(trust, sizeof *trust);
}

void vrf_trust_move(struct vrf_trust *dst, struct vrf_trust *src)
{
    int no_cache = dst->no_cache;

    vrf_trust_free(dst);
    memcpy(dst, src, sizeof *dst);
    /* The first anchor lives inside the struct: CRLs it issued follow it.
     * The others are heap nodes and stay where they are. */
    for (size_t i = 0; i < dst->n_crls; i++)
        if (dst->crl_issuer[i] == &src->anchors)
            dst->crl_issuer[i] = &dst->anchors;
    dst->no_cache = no_cache;
    memset(src, 0, sizeof *src);
    vrf_trust_init(src);
}

size_t vrf_trust_crl_dates(const struct vrf_trust *trust, size_t i,
                           int64_t *this_update, int64_t *next_update)
{
    if (i >= trust->n_crls)
        return trust->n_crls;
    *this_update = vrf_x509_time_to_epoch(&trust->crls[i]->this_update);
    *next_update = trust->crls[i]->next_update.year != 0
                       ? vrf_x509_time_to_epoch(&trust->crls[i]->next_update)
                       : 0;
    return trust->n_crls;
}

/* True if buf holds PEM text (mbedTLS wants it NUL-terminated). */
static int is_pem(const uint8_t *buf, size_t len, const char *label)
{
    size_t n = strlen(label);

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, label, n) == 0)
            return 1;
    return 0;
}

/* A NUL-terminated copy of buf, for mbedTLS's PEM parsers. */
static uint8_t *nul_copy(const uint8_t *buf, size_t len)
{
    uint8_t *p = malloc(len + 1);

    if (p != NULL) {
        memcpy(p, buf, len);
        p[len] = '\0';
    }
    return p;
}

int vrf_trust_add_anchors(struct vrf_trust *trust, const uint8_t *buf,
                          size_t len)
{
    int ret = VRF_ERR_ARG;
    mbedtls_x509_crt tmp;
    uint8_t *copy = NULL;
    size_t n = 0;

    mbedtls_x509_crt_init(&tmp);
    if (trust == NULL || buf == NULL || len == 0 || len > VRF_PKG_MAX_SIZE)
        goto cleanup;

    /* 1. Parse every certificate first, into a scratch list. */
    ret = VRF_ERR_TRUST_ANCHOR_PARSE;
    if (is_pem(buf, len, "-----BEGIN CERTIFICATE-----")) {
        ret = VRF_ERR_ALLOC;
        copy = nul_copy(buf, len);
        if (copy == NULL)
            goto cleanup;
        /* > 0: that many blocks failed to parse; < 0: none parsed. */
        ret = VRF_ERR_TRUST_ANCHOR_PARSE;
        if (mbedtls_x509_crt_parse(&tmp, copy, len + 1) != 0)
            goto cleanup;
    } else if (mbedtls_x509_crt_parse_der(&tmp, buf, len) != 0 ||
               tmp.raw.len != len) {
        goto cleanup;
    }

    /* 2. Each is a CA certificate, and the store stays within its limit. */
    for (const mbedtls_x509_crt *c = &tmp; c != NULL; c = c->next) {
        ret = VRF_ERR_TRUST_ANCHOR_NOT_CA;
        if (!c->ca_istrue)
            goto cleanup;
        n++;
    }
    ret = VRF_ERR_TRUST_LIMIT;
    if (n > VRF_TRUST_MAX_ANCHORS - trust->n_anchors)
        goto cleanup;

    /* 3. Append them. */
    for (const mbedtls_x509_crt *c = &tmp; c != NULL; c = c->next) {
        ret = VRF_ERR_ALLOC;
        if (mbedtls_x509_crt_parse_der(&trust->anchors, c->raw.p, c->raw.len) !=
            0)
            goto cleanup;
        trust->n_anchors++;
    }
    vrf_trust_cache_clear(trust);
    ret = VRF_OK;

cleanup:
    mbedtls_x509_crt_free(&tmp);
    if (copy != NULL) {
        mbedtls_platform_zeroize(copy, len + 1);
        free(copy);
    }
    return ret;
}

/* Does crl's signature verify under issuer's key? */
static int crl_signed_by(const mbedtls_x509_crl *crl,
                         const mbedtls_x509_crt *issuer)
{
    int ok = 0;
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl->sig_md);

    if (md == NULL)
        goto cleanup;
    if (crl->issuer_raw.len != issuer->subject_raw.len ||
        memcmp(crl->issuer_raw.p, issuer->subject_raw.p, crl->issuer_raw.len) !=
            0)
        goto cleanup;
    /* A CA that restricts its key usage must allow CRL signing. */
    if (mbedtls_x509_crt_check_key_usage(issuer, MBEDTLS_X509_KU_CRL_SIGN) != 0)
        goto cleanup;
    if (mbedtls_md(md, crl->tbs.p, crl->tbs.len, hash) != 0)
        goto cleanup;
    ok = mbedtls_pk_verify_ext(crl->sig_pk, crl->sig_opts,
                               (mbedtls_pk_context *)&issuer->pk, crl->sig_md,
                               hash, mbedtls_md_get_size(md), crl->sig.p,
                               crl->sig.len) == 0;

cleanup:
    return ok;
}

int vrf_trust_add_crl(struct vrf_trust *trust, const uint8_t *buf, size_t len)
{
    int ret = VRF_ERR_ARG;
    mbedtls_x509_crl *crl = NULL;
    const mbedtls_x509_crt *issuer = NULL;
    uint8_t *copy = NULL;

    if (trust == NULL || buf == NULL || len == 0 || len > VRF_PKG_MAX_SIZE)
        goto cleanup;
    ret = VRF_ERR_TRUST_LIMIT;
    if (trust->n_crls >= VRF_TRUST_MAX_CRLS)
        goto cleanup;
    ret = VRF_ERR_ALLOC;
    crl = calloc(1, sizeof *crl);
    if (crl == NULL)
        goto cleanup;
    mbedtls_x509_crl_init(crl);

    /* 1. Exactly one CRL, PEM or DER. */
    ret = VRF_ERR_TRUST_CRL_PARSE;
    if (is_pem(buf, len, "-----BEGIN X509 CRL-----")) {
        ret = VRF_ERR_ALLOC;
        copy = nul_copy(buf, len);
        if (copy == NULL)
            goto cleanup;
        ret = VRF_ERR_TRUST_CRL_PARSE;
        if (mbedtls_x509_crl_parse(crl, copy, len + 1) != 0)
            goto cleanup;
    } else if (mbedtls_x509_crl_parse_der(crl, buf, len) != 0 ||
               crl->raw.len != len) {
        goto cleanup;
    }
    if (crl->next != NULL)
        goto cleanup;

    /* 2. Signed by a trust anchor of the issuer's name. */
    ret = VRF_ERR_TRUST_CRL_ISSUER;
    for (const mbedtls_x509_crt *a = &trust->anchors;
         a != NULL && trust->n_anchors != 0; a = a->next) {
        if (crl_signed_by(crl, a)) {
            issuer = a;
            break;
        }
    }
    if (issuer == NULL)
        goto cleanup;

    trust->crls[trust->n_crls] = crl;
    trust->crl_issuer[trust->n_crls] = issuer;
    trust->n_crls++;
    crl = NULL;
    ret = VRF_OK;

cleanup:
    if (crl != NULL) {
        mbedtls_x509_crl_free(crl);
        free(crl);
    }
    free(copy);
    return ret;
}

/* ------------------------------------------------------------------ chains */

/* mbedTLS calls this for each certificate of the path it built, anchor
 * first (highest depth), signer last (depth 0). */
static int chain_cb(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    struct vrf_chain_entry *e = p;

    if (depth < 0 || (size_t)depth >= sizeof e->path / sizeof e->path[0])
        return MBEDTLS_ERR_X509_FATAL_ERROR;
    e->path[depth] = crt;
    if ((size_t)depth + 1 > e->path_len)
        e->path_len = (size_t)depth + 1;
    *flags &= ~(uint32_t)VRF_TIME_FLAGS;
    return 0;
}

static int is_anchor(const struct vrf_trust *trust, const mbedtls_x509_crt *c)
{
    for (const mbedtls_x509_crt *a = &trust->anchors;
         a != NULL && trust->n_anchors != 0; a = a->next)
        if (a == c)
            return 1;
    return 0;
}

static void entry_fail(struct vrf_chain_entry *e, int status, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));

static void entry_fail(struct vrf_chain_entry *e, int status, const char *fmt,
                       ...)
{
    va_list ap;

    e->status = status;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
    va_end(ap);
}

static void crt_name(const mbedtls_x509_crt *c, char *buf, size_t size);

static int names_equal(const mbedtls_x509_buf *a, const mbedtls_x509_buf *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* Why mbedTLS found no path, when x5chain says which certificate issues
 * which (each the next one's subject; the last one's issuer a trust
 * anchor): the first issuer, from the signer up, that is not a CA
 * (basicConstraints missing or CA:FALSE: RFC 5280, 6.1.4 (k)) or whose
 * pathLenConstraint is smaller than the intermediates below it (6.1.4
 * (l), (m)). Fills e and returns 1, or returns 0: the generic message
 * stands. */
static int chain_diagnose(const struct vrf_trust *trust,
                          struct vrf_chain_entry *e)
{
    const mbedtls_x509_crt *c[VRF_MAX_CERTS + 1];
    size_t n = 0;
    char name[96], what[48];

    for (const mbedtls_x509_crt *x = &e->certs;
         x != NULL && n < e->n_certs && n < VRF_MAX_CERTS; x = x->next)
        c[n++] = x;
    if (n == 0)
        return 0;
    for (const mbedtls_x509_crt *a = &trust->anchors;
         a != NULL && trust->n_anchors != 0; a = a->next) {
        if (names_equal(&a->subject_raw, &c[n - 1]->issuer_raw)) {
            c[n++] = a;
            break;
        }
    }
    for (size_t k = 1; k < n; k++) {
        const mbedtls_x509_crt *issuer = c[k];

        if (!names_equal(&c[k - 1]->issuer_raw, &issuer->subject_raw))
            return 0; /* the names do not chain: not a constraint */
        crt_name(issuer, name, sizeof name);
        if (k == e->n_certs)
            snprintf(what, sizeof what, "trust anchor");
        else
            snprintf(what, sizeof what, "x5chain certificate %zu", k);
        if ((issuer->ext_types & MBEDTLS_X509_EXT_BASIC_CONSTRAINTS) == 0) {
            entry_fail(e, VRF_ERR_CHAIN_NOT_CA,
                       "%s (%s) has no basicConstraints and cannot issue "
                       "certificate %zu",
                       what, name, k - 1);
            return 1;
        }
        if (!issuer->ca_istrue) {
            entry_fail(e, VRF_ERR_CHAIN_NOT_CA,
                       "%s (%s) has basicConstraints CA:FALSE and cannot "
                       "issue certificate %zu",
                       what, name, k - 1);
            return 1;
        }
        /* mbedTLS keeps pathLenConstraint + 1; 0: none. Below c[k] are
         * k - 1 intermediate CAs (c[1] .. c[k-1]). */
        if (issuer->max_pathlen > 0 &&
            (size_t)(issuer->max_pathlen - 1) < k - 1) {
            entry_fail(e, VRF_ERR_CHAIN_PATHLEN,
                       "%s (%s) has pathLenConstraint %d, but %zu "
                       "intermediate CA certificate(s) follow it",
                       what, name, issuer->max_pathlen - 1, k - 1);
            return 1;
        }
    }
    return 0;
}

/* Steps 2 and 3, whose verdicts do not depend on time. The first failure
 * goes into e->status and e->detail. Returns VRF_OK unless the check
 * itself could not run (VRF_ERR_ALLOC, VRF_ERR_CRYPTO). */
static int chain_build(struct vrf_trust *trust, const struct vrf_pkg *pkg,
                       struct vrf_chain_entry *e)
{
    int ret = VRF_OK;
    uint32_t flags = 0;
    int vr;
    const mbedtls_x509_crt *c, *leaf;
    size_t on_path = 0;
    int eku = 0;

    /* 2.1 Every x5chain certificate is one whole DER certificate. */
    for (size_t k = 0; k < pkg->n_certs; k++) {
        vr = mbedtls_x509_crt_parse_der(&e->certs, pkg->certs[k].p,
                                        pkg->certs[k].len);
        if (vr == MBEDTLS_ERR_X509_ALLOC_FAILED) {
            ret = VRF_ERR_ALLOC;
            goto cleanup;
        }
        c = &e->certs;
        for (size_t j = 0; vr == 0 && j < k; j++)
            c = c->next;
        if (vr != 0 || c == NULL || c->raw.len != pkg->certs[k].len) {
            entry_fail(e, VRF_ERR_CHAIN_CERT_PARSE,
                       "x5chain certificate %zu does not parse (mbedTLS "
                       "-0x%04x)",
                       k, (unsigned)-vr);
            goto cleanup;
        }
        e->n_certs++;
    }
    leaf = &e->certs;

    /* 2.2 mbedTLS builds a path to a trust anchor: names, CA bits, path
     *     lengths, signatures and the algorithm profile. */
    if (trust->n_anchors == 0) {
        entry_fail(e, VRF_ERR_CHAIN_UNTRUSTED, "the trust store is empty");
        goto cleanup;
    }
    vr = mbedtls_x509_crt_verify_with_profile(&e->certs, &trust->anchors, NULL,
                                              &vrf_profile, NULL, &flags,
                                              chain_cb, e);
    if (vr == MBEDTLS_ERR_X509_ALLOC_FAILED) {
        ret = VRF_ERR_ALLOC;
        goto cleanup;
    }
    flags &= ~(uint32_t)VRF_TIME_FLAGS;
    if (vr != 0 && vr != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        entry_fail(e, VRF_ERR_CHAIN_OTHER, "mbedTLS -0x%04x", (unsigned)-vr);
        goto cleanup;
    }
    if ((flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) &&
        !chain_diagnose(trust, e)) {
        entry_fail(e, VRF_ERR_CHAIN_UNTRUSTED,
                   "no trust anchor issued this chain, or a certificate "
                   "signature does not verify");
        goto cleanup;
    }
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
        goto cleanup; /* chain_diagnose said which constraint */
    if (flags & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
                 MBEDTLS_X509_BADCERT_BAD_KEY)) {
        entry_fail(e, VRF_ERR_CHAIN_PROFILE, "mbedTLS flags 0x%08x",
                   (unsigned)flags);
        goto cleanup;
    }
    if (flags != 0) {
        entry_fail(e, VRF_ERR_CHAIN_OTHER, "mbedTLS flags 0x%08x",
                   (unsigned)flags);
        goto cleanup;
    }

    /* 2.3 The path ends at a trust anchor, and x5chain is exactly the path
     *     below it, in order: no certificate is unused or repeated. */
    if (e->path_len < 2 || !is_anchor(trust, e->path[e->path_len - 1])) {
        if (!chain_diagnose(trust, e))
            entry_fail(e, VRF_ERR_CHAIN_UNTRUSTED,
                       "path does not end at an anchor");
        goto cleanup;
    }
    c = &e->certs;
    for (size_t i = 0; i < e->path_len - 1; i++, c = c->next) {
        if (c == NULL || e->path[i] != c)
            break;
        on_path++;
    }
    if (on_path != e->n_certs || e->path_len - 1 != e->n_certs) {
        entry_fail(e, VRF_ERR_CHAIN_EXTRA_CERT,
                   "x5chain has %zu certificates, the path to the anchor "
                   "needs %zu",
                   e->n_certs, e->path_len - 1);
        goto cleanup;
    }

    /* 2.4 The signer is an end entity, not a CA. */
    if (leaf->ca_istrue) {
        char name[96];
        crt_name(leaf, name, sizeof name);
        entry_fail(e, VRF_ERR_CHAIN_LEAF_CA,
                   "x5chain certificate 0 (%s) has basicConstraints CA:TRUE",
                   name);
        goto cleanup;
    }

    /* 3.1 The signer has an extendedKeyUsage extension ... */
    if ((leaf->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) == 0) {
        entry_fail(e, VRF_ERR_EKU_MISSING, "need %s", VRF_EKU_OID_TEXT);
        goto cleanup;
    }
    /* 3.2 ... naming hot patch signing explicitly (anyExtendedKeyUsage
     *     is not enough) ... */
    for (const mbedtls_x509_sequence *s = &leaf->ext_key_usage; s != NULL;
         s = s->next) {
        if (s->buf.len == VRF_EKU_OID_LEN &&
            memcmp(s->buf.p, VRF_EKU_OID, VRF_EKU_OID_LEN) == 0) {
            eku = 1;
            break;
        }
    }
    if (!eku) {
        entry_fail(e, VRF_ERR_EKU_WRONG, "need %s", VRF_EKU_OID_TEXT);
        goto cleanup;
    }
    /* 3.3 ... and a keyUsage, if present, that allows digitalSignature. */
    if (mbedtls_x509_crt_check_key_usage(
            leaf, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0) {
        entry_fail(e, VRF_ERR_EKU_KEY_USAGE, "keyUsage 0x%x", leaf->key_usage);
        goto cleanup;
    }
    e->status = VRF_OK;

cleanup:
    return ret;
}

int vrf_trust_chain(struct vrf_trust *trust, const struct vrf_pkg *pkg,
                    struct vrf_chain_entry **out, int *owned)
{
    int ret = VRF_ERR_CRYPTO;
    mbedtls_sha256_context sha;
    struct vrf_chain_entry *e = NULL;
    uint8_t key[32];
    unsigned slot;

    *out = NULL;
    *owned = 0;
    mbedtls_sha256_init(&sha);

    /* The cache key: SHA-256 over each certificate's length and bytes. */
    if (mbedtls_sha256_starts_ret(&sha, 0) != 0)
        goto cleanup;
    for (size_t k = 0; k < pkg->n_certs; k++) {
        uint8_t l[4] = {(uint8_t)(pkg->certs[k].len >> 24),
                        (uint8_t)(pkg->certs[k].len >> 16),
                        (uint8_t)(pkg->certs[k].len >> 8),
                        (uint8_t)pkg->certs[k].len};

        if (mbedtls_sha256_update_ret(&sha, l, sizeof l) != 0 ||
            mbedtls_sha256_update_ret(&sha, pkg->certs[k].p,
                                      pkg->certs[k].len) != 0)
            goto cleanup;
    }
    if (mbedtls_sha256_finish_ret(&sha, key) != 0)
        goto cleanup;

    if (!trust->no_cache) {
        for (size_t i = 0; i < VRF_TRUST_CACHE_SIZE; i++) {
            if (trust->cache[i] != NULL &&
                vrf_ct_memcmp(trust->cache[i]->key, key, sizeof key) == 0) {
                *out = trust->cache[i];
                ret = VRF_OK;
                goto cleanup;
            }
        }
    }

    ret = VRF_ERR_ALLOC;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        goto cleanup;
    mbedtls_x509_crt_init(&e->certs);
    mbedtls_ecp_group_init(&e->signer_grp);
    memcpy(e->key, key, sizeof key);
    /* Fail closed: only chain_build's last step sets VRF_OK. */
    entry_fail(e, VRF_ERR_CHAIN_OTHER, "chain not checked");
    ret = chain_build(trust, pkg, e);
    if (ret != VRF_OK)
        goto cleanup;

    /* A cached signer gets its key's comb table (see vrf_sig.c); if the
     * self-test fails, signatures use the plain computation. */
    if (e->status == VRF_OK && !trust->no_cache &&
        mbedtls_pk_get_type(&e->certs.pk) == MBEDTLS_PK_ECKEY &&
        mbedtls_pk_ec(e->certs.pk)->grp.id == MBEDTLS_ECP_DP_SECP384R1)
        e->signer_grp_ok =
            vrf_ecdsa_q_group(&e->signer_grp, &mbedtls_pk_ec(e->certs.pk)->Q) ==
            VRF_OK;

    if (trust->no_cache) {
        *owned = 1;
    } else {
        slot = trust->cache_next % VRF_TRUST_CACHE_SIZE;
        vrf_chain_entry_free(trust->cache[slot]);
        trust->cache[slot] = e;
        trust->cache_next = (slot + 1) % VRF_TRUST_CACHE_SIZE;
    }
    *out = e;
    e = NULL;
    ret = VRF_OK;

cleanup:
    vrf_chain_entry_free(e);
    mbedtls_sha256_free(&sha);
    return ret;
}

/* ------------------------------------------------------------------ time */

static void crt_name(const mbedtls_x509_crt *c, char *buf, size_t size)
{
    if (mbedtls_x509_dn_gets(buf, size, &c->subject) < 0)
        snprintf(buf, size, "(unprintable)");
}

int vrf_chain_check_validity(const struct vrf_chain_entry *e, int64_t now,
                             struct vrf_pkg *pkg)
{
    int ret = VRF_OK;
    char name[96], when[32];

    /* 4. now within [notBefore, notAfter] for every certificate on the
     *    path, signer first, anchor included (RFC 5280, 6.1.3 (a)(2)). */
    for (size_t i = 0; i < e->path_len; i++) {
        const mbedtls_x509_crt *c = e->path[i];
        int64_t nb = vrf_x509_time_to_epoch(&c->valid_from);
        int64_t na = vrf_x509_time_to_epoch(&c->valid_to);

        if (now < nb) {
            ret = VRF_ERR_VALIDITY_NOT_YET;
            crt_name(c, name, sizeof name);
            vrf_format_time(nb, when, sizeof when);
            vrf_detail(pkg, "certificate %zu (%s) valid from %s", i, name,
                       when);
            break;
        }
        if (now > na) {
            ret = VRF_ERR_VALIDITY_EXPIRED;
            crt_name(c, name, sizeof name);
            vrf_format_time(na, when, sizeof when);
            vrf_detail(pkg, "certificate %zu (%s) expired %s", i, name, when);
            break;
        }
    }
    return ret;
}

static int crl_lists(const mbedtls_x509_crl *crl, const mbedtls_x509_crt *c)
{
    for (const mbedtls_x509_crl_entry *ent = &crl->entry;
         ent != NULL && ent->serial.len != 0; ent = ent->next)
        if (ent->serial.len == c->serial.len &&
            memcmp(ent->serial.p, c->serial.p, c->serial.len) == 0)
            return 1;
    return 0;
}

int vrf_chain_check_revocation(const struct vrf_trust *trust,
                               const struct vrf_chain_entry *e, int64_t now,
                               struct vrf_pkg *pkg)
{
    int ret = VRF_OK;
    char name[96], when[32];

    /* 5.1 No certificate on the path is listed by a CRL its issuer (a
     *     trust anchor) signed, whatever the CRL's dates: revocation is
     *     permanent. */
    for (size_t i = 0; i + 1 < e->path_len; i++) {
        for (size_t j = 0; j < trust->n_crls; j++) {
            if (trust->crl_issuer[j] != e->path[i + 1] ||
                !crl_lists(trust->crls[j], e->path[i]))
                continue;
            ret = VRF_ERR_REVOKE_REVOKED;
            crt_name(e->path[i], name, sizeof name);
            vrf_detail(pkg, "certificate %zu (%s) is on the CRL of its issuer",
                       i, name);
            goto cleanup;
        }
    }

    /* 5.2 Every CRL that covers the path is current: thisUpdate <= now and,
     *     if it has one, now <= nextUpdate. A stale CRL fails closed. */
    for (size_t i = 0; i + 1 < e->path_len; i++) {
        for (size_t j = 0; j < trust->n_crls; j++) {
            const mbedtls_x509_crl *crl = trust->crls[j];
            int64_t tu, nu;

            if (trust->crl_issuer[j] != e->path[i + 1])
                continue;
            tu = vrf_x509_time_to_epoch(&crl->this_update);
            nu = vrf_x509_time_to_epoch(&crl->next_update);
            crt_name(e->path[i + 1], name, sizeof name);
            if (now < tu) {
                ret = VRF_ERR_REVOKE_CRL_NOT_YET;
                vrf_format_time(tu, when, sizeof when);
                vrf_detail(pkg, "CRL of %s: thisUpdate %s", name, when);
                goto cleanup;
            }
            if (crl->next_update.year != 0 && now > nu) {
                ret = VRF_ERR_REVOKE_CRL_EXPIRED;
                vrf_format_time(nu, when, sizeof when);
                vrf_detail(pkg, "CRL of %s: nextUpdate %s", name, when);
                goto cleanup;
            }
        }
    }

cleanup:
    return ret;
}
