/* keys_cert.c: ECDSA P-384 keys, X.509 certificates and CRLs with mbedTLS:
 * the random generator, loading keys and certificates, issuing
 * certificates (x509write) and CRLs (mbedTLS 2.28 has no CRL writer, so
 * the DER is written here with asn1write, RFC 5280 section 5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha512.h>
#include <mbedtls/x509_crt.h>

#include "keys/keys.h"

#define KEYS_KEY_FILE_MAX (64u << 10)
#define KEYS_CERT_FILE_MAX (1u << 20)
#define KEYS_PEM_MAX 16384u

/* ------------------------------------------------------------------ RNG */
static mbedtls_entropy_context keys_entropy;
static mbedtls_ctr_drbg_context keys_drbg;
static int keys_drbg_ready;

int keys_rng(int (**f_rng)(void *, unsigned char *, size_t), void **p_rng)
{
    int ret = KEYS_ERR_CRYPTO;
    static const char pers[] = "hvpatch keys";

    if (!keys_drbg_ready) {
        mbedtls_entropy_init(&keys_entropy);
        mbedtls_ctr_drbg_init(&keys_drbg);
        if (mbedtls_ctr_drbg_seed(&keys_drbg, mbedtls_entropy_func,
                                  &keys_entropy, (const unsigned char *)pers,
                                  sizeof pers - 1) != 0) {
            mbedtls_ctr_drbg_free(&keys_drbg);
            mbedtls_entropy_free(&keys_entropy);
            goto cleanup;
        }
        keys_drbg_ready = 1;
    }
    *f_rng = mbedtls_ctr_drbg_random;
    *p_rng = &keys_drbg;
    ret = KEYS_OK;

cleanup:
    return ret;
}

/* ------------------------------------------------------------------ keys */

static int is_p384(const mbedtls_pk_context *key)
{
    return mbedtls_pk_get_type(key) == MBEDTLS_PK_ECKEY &&
           mbedtls_pk_ec(*key)->grp.id == MBEDTLS_ECP_DP_SECP384R1;
}

int keys_ec_generate(mbedtls_pk_context *key)
{
    int ret;
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;

    ret = keys_rng(&f_rng, &p_rng);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = KEYS_ERR_CRYPTO;
    if (mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) !=
            0 ||
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP384R1, mbedtls_pk_ec(*key),
                            f_rng, p_rng) != 0)
        goto cleanup;
    ret = KEYS_OK;

cleanup:
    return ret;
}

static int has_pem(const uint8_t *buf, size_t len)
{
    static const char tag[] = "-----BEGIN ";

    for (size_t i = 0; i + sizeof tag - 1 <= len; i++)
        if (memcmp(buf + i, tag, sizeof tag - 1) == 0)
            return 1;
    return 0;
}

int keys_load_key(mbedtls_pk_context *key, const char *path, int *insecure,
                  struct keys_diag *diag)
{
    int ret;
    uint8_t *buf = NULL, *z = NULL;
    size_t len = 0;
    struct stat st;
    int vr;

    ret = keys_read_file(path, KEYS_KEY_FILE_MAX, &buf, &len, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    if (insecure != NULL)
        *insecure = stat(path, &st) == 0 && (st.st_mode & 077) != 0;
    if (has_pem(buf, len)) {
        /* mbedTLS takes PEM with its terminating NUL. */
        ret = KEYS_ERR_ALLOC;
        z = malloc(len + 1);
        if (z == NULL)
            goto cleanup;
        memcpy(z, buf, len);
        z[len] = '\0';
        vr = mbedtls_pk_parse_key(key, z, len + 1, NULL, 0);
    } else {
        vr = mbedtls_pk_parse_key(key, buf, len, NULL, 0);
    }
    ret = KEYS_ERR_KEY_PARSE;
    if (vr != 0) {
        keys_diag_set(diag,
                      "%s: mbedTLS -0x%04x (encrypted keys are not "
                      "supported)",
                      path, (unsigned)-vr);
        goto cleanup;
    }
    ret = KEYS_ERR_KEY_TYPE;
    if (!is_p384(key)) {
        keys_diag_set(diag, "%s: need an EC key on P-384 (secp384r1)", path);
        goto cleanup;
    }
    ret = KEYS_OK;

cleanup:
    keys_free_secret(buf, len);
    keys_free_secret(z, len + 1);
    return ret;
}

int keys_load_certs(mbedtls_x509_crt *chain, const char *path,
                    struct keys_diag *diag)
{
    int ret;
    uint8_t *buf = NULL, *z = NULL;
    size_t len = 0;
    int vr;

    ret = keys_read_file(path, KEYS_CERT_FILE_MAX, &buf, &len, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    if (has_pem(buf, len)) {
        ret = KEYS_ERR_ALLOC;
        z = malloc(len + 1);
        if (z == NULL)
            goto cleanup;
        memcpy(z, buf, len);
        z[len] = '\0';
        vr = mbedtls_x509_crt_parse(chain, z, len + 1);
    } else {
        vr = mbedtls_x509_crt_parse_der(chain, buf, len);
    }
    ret = KEYS_ERR_CERT_PARSE;
    if (vr != 0) {
        keys_diag_set(diag, "%s: %s", path,
                      vr > 0 ? "some certificates do not parse"
                             : "no certificate parses");
        goto cleanup;
    }
    ret = KEYS_OK;

cleanup:
    free(buf);
    free(z);
    return ret;
}

void keys_time_string(int64_t offset, char out[15])
{
    time_t t = time(NULL) + (time_t)offset;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, 15, "%Y%m%d%H%M%S", &tm) != 14)
        snprintf(out, 15, "99991231235959");
}

/* ------------------------------------------------------------------ certs */

/* extendedKeyUsage value: SEQUENCE { OBJECT IDENTIFIER }. */
static int eku_der(int eku, unsigned char *buf, size_t size, size_t *len)
{
    static const unsigned char codesign[] = MBEDTLS_OID_CODE_SIGNING;
    const unsigned char *oid;
    size_t oid_len;

    if (eku == KEYS_EKU_HOTPATCH) {
        oid = (const unsigned char *)VRF_EKU_OID;
        oid_len = VRF_EKU_OID_LEN;
    } else {
        oid = codesign;
        oid_len = sizeof codesign - 1;
    }
    if (oid_len + 4 > size || oid_len > 127)
        return -1;
    buf[0] = 0x30;
    buf[1] = (unsigned char)(oid_len + 2);
    buf[2] = 0x06;
    buf[3] = (unsigned char)oid_len;
    memcpy(buf + 4, oid, oid_len);
    *len = oid_len + 4;
    return 0;
}

/* A positive, non-zero serial: 16 random bytes, top bit clear. */
static int random_serial(mbedtls_mpi *serial)
{
    int ret = KEYS_ERR_CRYPTO;
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;
    unsigned char b[16];

    if (keys_rng(&f_rng, &p_rng) != KEYS_OK || f_rng(p_rng, b, sizeof b) != 0)
        goto cleanup;
    b[0] = (unsigned char)((b[0] & 0x7f) | 0x40);
    if (mbedtls_mpi_read_binary(serial, b, sizeof b) != 0)
        goto cleanup;
    ret = KEYS_OK;

cleanup:
    return ret;
}

static int cert_rfc5758(mbedtls_pk_context *key, mbedtls_md_type_t md,
                        const unsigned char *der, size_t der_len,
                        unsigned char *buf, size_t size, unsigned char **cert,
                        size_t *cert_len);

int keys_cert_issue(const struct keys_cert_params *p,
                    mbedtls_pk_context *subject_key,
                    mbedtls_pk_context *issuer_key,
                    const mbedtls_x509_crt *issuer, char **pem)
{
    int ret = KEYS_ERR_ARG;
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_x509_crt check;
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;
    char issuer_name[512];
    unsigned char ext[64];
    size_t ext_len, olen = 0, cert_len;
    unsigned char *out = NULL, *der = NULL, *cert;
    mbedtls_md_type_t md = p != NULL && p->md != MBEDTLS_MD_NONE
                               ? (mbedtls_md_type_t)p->md
                               : MBEDTLS_MD_SHA384;
    int vr;

    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    mbedtls_x509_crt_init(&check);
    *pem = NULL;
    if (p == NULL || p->subject == NULL || p->not_before == NULL ||
        p->not_after == NULL || subject_key == NULL || issuer_key == NULL)
        goto cleanup;

    ret = KEYS_ERR_CRYPTO;
    if (keys_rng(&f_rng, &p_rng) != KEYS_OK)
        goto cleanup;
    if (issuer != NULL) {
        if (mbedtls_x509_dn_gets(issuer_name, sizeof issuer_name,
                                 &issuer->subject) < 0)
            goto cleanup;
    } else {
        snprintf(issuer_name, sizeof issuer_name, "%s", p->subject);
    }
    if (p->serial != 0) {
        if (mbedtls_mpi_lset(&serial, 0) != 0)
            goto cleanup;
        for (int i = 7; i >= 0; i--)
            if (mbedtls_mpi_shift_l(&serial, 8) != 0 ||
                mbedtls_mpi_add_int(
                    &serial, &serial,
                    (mbedtls_mpi_sint)((p->serial >> (8 * i)) & 0xff)) != 0)
                goto cleanup;
    } else if (random_serial(&serial) != KEYS_OK) {
        goto cleanup;
    }

    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, md);
    mbedtls_x509write_crt_set_subject_key(&w, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
    if (mbedtls_x509write_crt_set_serial(&w, &serial) != 0 ||
        mbedtls_x509write_crt_set_subject_name(&w, p->subject) != 0 ||
        mbedtls_x509write_crt_set_issuer_name(&w, issuer_name) != 0 ||
        mbedtls_x509write_crt_set_validity(&w, p->not_before, p->not_after) !=
            0 ||
        (!p->no_basic_constraints &&
         mbedtls_x509write_crt_set_basic_constraints(
             &w, p->is_ca, p->is_ca ? p->max_pathlen : -1) != 0) ||
        mbedtls_x509write_crt_set_subject_key_identifier(&w) != 0 ||
        mbedtls_x509write_crt_set_authority_key_identifier(&w) != 0)
        goto cleanup;
    if (p->key_usage != 0 &&
        mbedtls_x509write_crt_set_key_usage(&w, p->key_usage) != 0)
        goto cleanup;
    if (p->eku != KEYS_EKU_NONE &&
        (eku_der(p->eku, ext, sizeof ext, &ext_len) != 0 ||
         mbedtls_x509write_crt_set_extension(
             &w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
             MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, ext,
             ext_len) != 0))
        goto cleanup;

    ret = KEYS_ERR_ALLOC;
    out = calloc(1, KEYS_PEM_MAX);
    der = malloc(2 * KEYS_PEM_MAX);
    if (out == NULL || der == NULL)
        goto cleanup;
    ret = KEYS_ERR_CRYPTO;
    vr = mbedtls_x509write_crt_der(&w, der, KEYS_PEM_MAX, f_rng, p_rng);
    if (vr <= 0)
        goto cleanup;
    cert = der + KEYS_PEM_MAX - vr;
    cert_len = (size_t)vr;
    /* mbedTLS 2.28 writes NULL parameters after ecdsa-with-SHA*, which
     * RFC 5758 forbids: an ECDSA issuer's certificate is written again
     * without them (RSA, which tests use for the profile, keeps its NULL:
     * RFC 4055 wants it). */
    if (mbedtls_pk_can_do(issuer_key, MBEDTLS_PK_ECDSA) &&
        cert_rfc5758(issuer_key, md, cert, cert_len, der + KEYS_PEM_MAX,
                     KEYS_PEM_MAX, &cert, &cert_len) != 0)
        goto cleanup;
    if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
                                 "-----END CERTIFICATE-----\n", cert, cert_len,
                                 out, KEYS_PEM_MAX, &olen) != 0)
        goto cleanup;

    /* The issuer name went through a string: check it still names the
     * issuer exactly, or the chain would not link. */
    ret = KEYS_ERR_CERT_CHAIN;
    if (mbedtls_x509_crt_parse(&check, out, strlen((char *)out) + 1) != 0)
        goto cleanup;
    if (issuer != NULL && (check.issuer_raw.len != issuer->subject_raw.len ||
                           memcmp(check.issuer_raw.p, issuer->subject_raw.p,
                                  check.issuer_raw.len) != 0))
        goto cleanup;
    *pem = (char *)out;
    out = NULL;
    ret = KEYS_OK;

cleanup:
    free(out);
    free(der);
    mbedtls_x509_crt_free(&check);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    return ret;
}

/* ------------------------------------------------------------------ CRLs */

/* Time as UTCTime (years 1950..2049) or GeneralizedTime (RFC 5280,
 * 4.1.2.5), written backwards at *p. */
static int write_time(unsigned char **p, unsigned char *start, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char s[20];
    int utc;

    if (gmtime_r(&tt, &tm) == NULL)
        return MBEDTLS_ERR_ASN1_INVALID_DATA;
    utc = tm.tm_year + 1900 >= 1950 && tm.tm_year + 1900 < 2050;
    if (strftime(s, sizeof s, "%Y%m%d%H%M%SZ", &tm) != 15)
        return MBEDTLS_ERR_ASN1_INVALID_DATA;
    /* UTCTime is the same without the century. */
    return mbedtls_asn1_write_tagged_string(
        p, start, utc ? MBEDTLS_ASN1_UTC_TIME : MBEDTLS_ASN1_GENERALIZED_TIME,
        utc ? s + 2 : s, utc ? 13 : 15);
}

/* SEQUENCE { ecdsa-with-SHA* } with absent parameters (RFC 5758, 3.2:
 * "the encoding MUST omit the parameters field"). */
static int write_sig_alg(unsigned char **p, unsigned char *start,
                         mbedtls_md_type_t md)
{
    int ret;
    size_t len = 0, oid_len;
    const char *oid;

    if (mbedtls_oid_get_oid_by_sig_alg(MBEDTLS_PK_ECDSA, md, &oid,
                                       &oid_len) != 0)
        return MBEDTLS_ERR_ASN1_INVALID_DATA;
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start, oid, oid_len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
    MBEDTLS_ASN1_CHK_ADD(
        len, mbedtls_asn1_write_tag(
                 p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    return (int)len;
}

/* Wrap the len bytes just written in a SEQUENCE (or another tag). */
#define WRAP(len, tag)                                                         \
    do {                                                                       \
        MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, start, len));     \
        MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, start, tag));     \
    } while (0)

#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

/* TBSCertList, written backwards ending at buf + size; *tbs and *tbs_len
 * receive where it starts and its size. */
static int write_tbs_crl(unsigned char *buf, size_t size,
                         const mbedtls_x509_crt *ca,
                         const struct keys_serial *serials, size_t n,
                         int64_t now, int days, uint64_t crl_number,
                         unsigned char **tbs, size_t *tbs_len)
{
    int ret;
    unsigned char *start = buf, *p = buf + size;
    size_t len = 0, sub, ext;
    unsigned char num[8];
    size_t num_len = 0;

    /* crlExtensions [0] EXPLICIT { cRLNumber (2.5.29.20) INTEGER } */
    for (int i = 7; i >= 0; i--)
        if (num_len != 0 || ((crl_number >> (8 * i)) & 0xff) != 0 || i == 0)
            num[num_len++] = (unsigned char)(crl_number >> (8 * i));
    ext = 0;
    MBEDTLS_ASN1_CHK_ADD(
        ext, mbedtls_asn1_write_raw_buffer(&p, start, num, num_len));
    if (num[0] & 0x80)
        MBEDTLS_ASN1_CHK_ADD(ext, mbedtls_asn1_write_raw_buffer(
                                      &p, start, (const unsigned char *)"", 1));
    WRAP(ext, MBEDTLS_ASN1_INTEGER);
    WRAP(ext, MBEDTLS_ASN1_OCTET_STRING);
    MBEDTLS_ASN1_CHK_ADD(ext,
                         mbedtls_asn1_write_oid(&p, start, "\x55\x1d\x14", 3));
    WRAP(ext, SEQ);
    WRAP(ext, SEQ);
    WRAP(ext, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0);
    len += ext;

    /* revokedCertificates, omitted when empty (RFC 5280, 5.1.2.6). */
    if (n > 0) {
        size_t all = 0;

        for (size_t i = n; i-- > 0;) {
            sub = 0;
            MBEDTLS_ASN1_CHK_ADD(sub,
                                 write_time(&p, start, serials[i].revoked_at));
            MBEDTLS_ASN1_CHK_ADD(
                sub, mbedtls_asn1_write_raw_buffer(&p, start, serials[i].bytes,
                                                   serials[i].len));
            MBEDTLS_ASN1_CHK_ADD(
                sub, mbedtls_asn1_write_len(&p, start, serials[i].len));
            MBEDTLS_ASN1_CHK_ADD(
                sub, mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_INTEGER));
            WRAP(sub, SEQ);
            all += sub;
        }
        WRAP(all, SEQ);
        len += all;
    }

    /* nextUpdate, thisUpdate, issuer (the CA's subject, byte for byte),
     * signature algorithm, version v2 (1). */
    MBEDTLS_ASN1_CHK_ADD(len,
                         write_time(&p, start, now + (int64_t)days * 86400));
    MBEDTLS_ASN1_CHK_ADD(len, write_time(&p, start, now));
    MBEDTLS_ASN1_CHK_ADD(
        len, mbedtls_asn1_write_raw_buffer(&p, start, ca->subject_raw.p,
                                           ca->subject_raw.len));
    MBEDTLS_ASN1_CHK_ADD(len, write_sig_alg(&p, start, MBEDTLS_MD_SHA384));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_int(&p, start, 1));
    WRAP(len, SEQ);
    *tbs = p;
    *tbs_len = len;
    return (int)len;
}

/* CertificateList (or Certificate) ::= SEQUENCE { tbsCertList,
 * signatureAlgorithm, signatureValue BIT STRING }, written backwards
 * ending at *p. */
static int write_signed(unsigned char **pp, unsigned char *start,
                        const unsigned char *tbs, size_t tbs_len,
                        mbedtls_md_type_t md, const unsigned char *sig,
                        size_t sig_len)
{
    int ret;
    unsigned char *p = *pp;
    size_t len = 0;

    MBEDTLS_ASN1_CHK_ADD(
        len, mbedtls_asn1_write_raw_buffer(&p, start, sig, sig_len));
    /* The BIT STRING's first octet: no unused bits. */
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(
                                  &p, start, (const unsigned char *)"", 1));
    WRAP(len, MBEDTLS_ASN1_BIT_STRING);
    MBEDTLS_ASN1_CHK_ADD(len, write_sig_alg(&p, start, md));
    MBEDTLS_ASN1_CHK_ADD(
        len, mbedtls_asn1_write_raw_buffer(&p, start, tbs, tbs_len));
    WRAP(len, SEQ);
    *pp = p;
    return (int)len;
}

int keys_crl_issue(mbedtls_pk_context *ca_key, const mbedtls_x509_crt *ca,
                   const struct keys_serial *serials, size_t n, int days,
                   uint64_t crl_number, char **pem)
{
    int ret = KEYS_ERR_ARG;
    int vr;
    size_t size, tbs_len, sig_len = 0, olen = 0;
    unsigned char *tbs_buf = NULL, *der = NULL, *out = NULL;
    unsigned char *tbs, *p;
    unsigned char hash[64], sig[MBEDTLS_ECDSA_MAX_LEN];
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;

    *pem = NULL;
    if (ca_key == NULL || ca == NULL || (serials == NULL && n != 0) ||
        n > 10000 || days <= 0)
        goto cleanup;
    ret = KEYS_ERR_ALLOC;
    size = 1024 + ca->subject_raw.len + n * 64;
    tbs_buf = malloc(size);
    der = malloc(size + 256);
    out = malloc(2 * size + 512);
    if (tbs_buf == NULL || der == NULL || out == NULL)
        goto cleanup;

    ret = KEYS_ERR_CRYPTO;
    if (keys_rng(&f_rng, &p_rng) != KEYS_OK)
        goto cleanup;
    if (write_tbs_crl(tbs_buf, size, ca, serials, n, (int64_t)time(NULL), days,
                      crl_number, &tbs, &tbs_len) < 0)
        goto cleanup;
    if (mbedtls_sha512_ret(tbs, tbs_len, hash, 1) != 0 ||
        mbedtls_pk_sign(ca_key, MBEDTLS_MD_SHA384, hash, 48, sig, &sig_len,
                        f_rng, p_rng) != 0)
        goto cleanup;
    p = der + size + 256;
    vr = write_signed(&p, der, tbs, tbs_len, MBEDTLS_MD_SHA384, sig, sig_len);
    if (vr < 0)
        goto cleanup;
    if (mbedtls_pem_write_buffer("-----BEGIN X509 CRL-----\n",
                                 "-----END X509 CRL-----\n", p, (size_t)vr, out,
                                 2 * size + 512, &olen) != 0)
        goto cleanup;
    *pem = (char *)out;
    out = NULL;
    ret = KEYS_OK;

cleanup:
    free(tbs_buf);
    free(der);
    free(out);
    mbedtls_platform_zeroize(hash, sizeof hash);
    return ret;
}

/* The certificate der[0..der_len) as mbedTLS wrote it, with the NULL
 * parameters of its TBSCertificate's signature algorithm removed, signed
 * again by key, written backwards ending at buf + size: *cert, *cert_len.
 * Its fields are taken apart with asn1parse, not searched for bytes. */
static int cert_rfc5758(mbedtls_pk_context *key, mbedtls_md_type_t md,
                        const unsigned char *der, size_t der_len,
                        unsigned char *buf, size_t size, unsigned char **cert,
                        size_t *cert_len)
{
    int ret;
    unsigned char *q = (unsigned char *)der, *end = q + der_len;
    unsigned char *head, *rest, *tbs_end, *start = buf, *p, *tbs;
    size_t len, head_len, tbs_len, sig_len = 0;
    unsigned char hash[MBEDTLS_MD_MAX_SIZE], sig[MBEDTLS_ECDSA_MAX_LEN];
    const mbedtls_md_info_t *mi = mbedtls_md_info_from_type(md);
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;

    /* 1. Certificate { TBSCertificate { [0] version, serialNumber,
     *    signature, the rest }, ... }: find the three first fields. */
    if (mi == NULL || size / 2 < der_len + 256 ||
        mbedtls_asn1_get_tag(&q, end, &len, SEQ) != 0 ||
        mbedtls_asn1_get_tag(&q, end, &len, SEQ) != 0)
        return MBEDTLS_ERR_ASN1_INVALID_DATA;
    tbs_end = q + len;
    head = q;
    if (mbedtls_asn1_get_tag(&q, tbs_end, &len,
                             MBEDTLS_ASN1_CONTEXT_SPECIFIC |
                                 MBEDTLS_ASN1_CONSTRUCTED | 0) != 0)
        return MBEDTLS_ERR_ASN1_INVALID_DATA;
    q += len;
    if (mbedtls_asn1_get_tag(&q, tbs_end, &len, MBEDTLS_ASN1_INTEGER) != 0)
        return MBEDTLS_ERR_ASN1_INVALID_DATA;
    q += len;
    head_len = (size_t)(q - head);
    if (mbedtls_asn1_get_tag(&q, tbs_end, &len, SEQ) != 0)
        return MBEDTLS_ERR_ASN1_INVALID_DATA;
    rest = q + len;

    /* 2. The TBSCertificate again, in the upper half of buf. */
    p = buf + size;
    start = buf + size / 2;
    len = 0;
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(
                                  &p, start, rest, (size_t)(tbs_end - rest)));
    MBEDTLS_ASN1_CHK_ADD(len, write_sig_alg(&p, start, md));
    MBEDTLS_ASN1_CHK_ADD(len,
                         mbedtls_asn1_write_raw_buffer(&p, start, head, head_len));
    WRAP(len, SEQ);
    tbs = p;
    tbs_len = len;

    /* 3. Signed, and the whole certificate in the lower half. */
    if (keys_rng(&f_rng, &p_rng) != KEYS_OK ||
        mbedtls_md(mi, tbs, tbs_len, hash) != 0 ||
        mbedtls_pk_sign(key, md, hash, mbedtls_md_get_size(mi), sig, &sig_len,
                        f_rng, p_rng) != 0)
        return MBEDTLS_ERR_ASN1_INVALID_DATA;
    p = buf + size / 2;
    ret = write_signed(&p, buf, tbs, tbs_len, md, sig, sig_len);
    if (ret < 0)
        return ret;
    *cert = p;
    *cert_len = (size_t)ret;
    return 0;
}
