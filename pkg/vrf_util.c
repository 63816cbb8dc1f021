/* vrf_util.c: small pieces the verifier's checks share: constant-time
 * compare, X.509 time arithmetic, the COSE to-be-signed digest and signer
 * descriptions. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>

#include "firmware/fw_linux.h"
#include "lib/hv_abi.h"
#include "pkg/vrf_int.h"

int vrf_ct_memcmp(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    volatile uint8_t diff = 0;

    /* No early exit: every byte is read whatever the result. */
    for (size_t i = 0; i < len; i++)
        diff |= x[i] ^ y[i];
    return diff != 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t vrf_x509_time_to_epoch(const mbedtls_x509_time *t)
{
    return days_from_civil(t->year, t->mon, t->day) * 86400 +
           (int64_t)t->hour * 3600 + (int64_t)t->min * 60 + t->sec;
}

void vrf_detail(struct vrf_pkg *pkg, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(pkg->detail, sizeof pkg->detail, fmt, ap);
    va_end(ap);
}

/* A CBOR head for a byte string of n bytes (shortest form). */
static size_t bstr_head(uint8_t *h, uint64_t n)
{
    size_t len;

    if (n < 24) {
        h[0] = (uint8_t)(0x40 | n);
        return 1;
    }
    if (n <= 0xff)
        len = 1;
    else if (n <= 0xffff)
        len = 2;
    else if (n <= 0xffffffffull)
        len = 4;
    else
        len = 8;
    h[0] = (uint8_t)(0x40 | (len == 1   ? 24
                             : len == 2 ? 25
                             : len == 4 ? 26
                                        : 27));
    for (size_t i = 0; i < len; i++)
        h[1 + i] = (uint8_t)(n >> (8 * (len - 1 - i)));
    return 1 + len;
}

int vrf_cose_tbs_hash(const uint8_t *prot, size_t prot_len,
                      const uint8_t *payload, size_t payload_len,
                      uint8_t out[48])
{
    int ret = VRF_ERR_CRYPTO;
    mbedtls_sha512_context sha;
    /* array(4), text(10) "Signature1" */
    static const uint8_t start[] = {0x84, 0x6a, 'S', 'i', 'g', 'n',
                                    'a',  't',  'u', 'r', 'e', '1'};
    static const uint8_t empty_aad[] = {0x40};
    uint8_t h[9];
    uint8_t digest[64]; /* the prototype's size; SHA-384 fills 48 */
    size_t hl;

    mbedtls_sha512_init(&sha);
    if (mbedtls_sha512_starts_ret(&sha, 1) != 0 ||
        mbedtls_sha512_update_ret(&sha, start, sizeof start) != 0)
        goto cleanup;
    hl = bstr_head(h, prot_len);
    if (mbedtls_sha512_update_ret(&sha, h, hl) != 0 ||
        mbedtls_sha512_update_ret(&sha, prot, prot_len) != 0 ||
        mbedtls_sha512_update_ret(&sha, empty_aad, sizeof empty_aad) != 0)
        goto cleanup;
    hl = bstr_head(h, payload_len);
    if (mbedtls_sha512_update_ret(&sha, h, hl) != 0 ||
        mbedtls_sha512_update_ret(&sha, payload, payload_len) != 0 ||
        mbedtls_sha512_finish_ret(&sha, digest) != 0)
        goto cleanup;
    memcpy(out, digest, 48);
    ret = VRF_OK;

cleanup:
    mbedtls_sha512_free(&sha);
    mbedtls_platform_zeroize(digest, sizeof digest);
    return ret;
}

void vrf_signer_from_crt(struct vrf_signer *s, const mbedtls_x509_crt *crt)
{
    if (mbedtls_x509_dn_gets(s->subject, sizeof s->subject, &crt->subject) < 0)
        snprintf(s->subject, sizeof s->subject, "(unprintable)");
    if (mbedtls_x509_dn_gets(s->issuer, sizeof s->issuer, &crt->issuer) < 0)
        snprintf(s->issuer, sizeof s->issuer, "(unprintable)");
    if (mbedtls_x509_serial_gets(s->serial, sizeof s->serial, &crt->serial) < 0)
        snprintf(s->serial, sizeof s->serial, "(unprintable)");
    s->not_before = vrf_x509_time_to_epoch(&crt->valid_from);
    s->not_after = vrf_x509_time_to_epoch(&crt->valid_to);
    if (mbedtls_sha256_ret(crt->raw.p, crt->raw.len, s->fingerprint, 0) != 0)
        memset(s->fingerprint, 0, sizeof s->fingerprint);
}

int vrf_pkg_signer(const struct vrf_pkg *pkg, struct vrf_signer *out)
{
    int ret = VRF_ERR_ARG;
    mbedtls_x509_crt crt;

    mbedtls_x509_crt_init(&crt);
    if (pkg == NULL || out == NULL)
        goto cleanup;
    memset(out, 0, sizeof *out);
    ret = VRF_ERR_CHAIN_UNSIGNED;
    if (!pkg->is_signed || pkg->n_certs == 0)
        goto cleanup;
    ret = VRF_ERR_CHAIN_CERT_PARSE;
    if (mbedtls_x509_crt_parse_der(&crt, pkg->certs[0].p, pkg->certs[0].len) !=
        0)
        goto cleanup;
    vrf_signer_from_crt(out, &crt);
    out->chain_len = pkg->n_certs;
    out->verified = 0;
    ret = VRF_OK;

cleanup:
    mbedtls_x509_crt_free(&crt);
    return ret;
}

static const struct vrf_range vrf_demo[] = {
    {HV_PROT_KTEXT, HV_PROT_PART_SIZE, VRF_RANGE_CODE, 0, 0},
    {HV_PROT_UTEXT, HV_PROT_PART_SIZE, VRF_RANGE_CODE, 1, 0},
    {HV_PROT_KPATCH, HV_PROT_PART_SIZE, VRF_RANGE_PATCH_AREA, 0, 0},
    {HV_PROT_UPATCH, HV_PROT_PART_SIZE, VRF_RANGE_PATCH_AREA, 1, 0},
};

const struct vrf_range *vrf_demo_ranges(size_t *n)
{
    *n = sizeof vrf_demo / sizeof vrf_demo[0];
    return vrf_demo;
}

size_t vrf_linux_ranges(const struct fw_linux_kernel *k,
                        struct vrf_range out[2])
{
    uint64_t far = k->text_va + k->lock_size; /* farthest from the area */
    if (k->kind != FW_LINUX_ENTRY_PVH || k->lock_size == 0 ||
        k->lock_size > HV_LINUX_TEXT_MAX || (k->text_gpa & 0xfff) ||
        (k->text_va & 0xfff) || k->text_va < 0xffffffff80000000ull ||
        far > HV_LINUX_PATCH_VA)
        return 0;
    out[0] = (struct vrf_range){k->text_gpa, k->lock_size, VRF_RANGE_CODE, 0,
                                k->text_va};
    out[1] = (struct vrf_range){HV_PROT_BASE, HV_LINUX_PATCH_SIZE,
                                VRF_RANGE_PATCH_AREA, 0, HV_LINUX_PATCH_VA};
    return 2;
}

uint64_t vrf_range_va(const struct vrf_range *ranges, size_t n, uint64_t gpa)
{
    for (size_t i = 0; i < n; i++)
        if (ranges[i].va && gpa >= ranges[i].base &&
            gpa - ranges[i].base < ranges[i].size)
            return ranges[i].va + (gpa - ranges[i].base);
    return gpa;
}
