/* vrf_tpm_files.c: the attestation directory in the formats tpm2-tools 5.x
 * reads (tpm2_checkquote, tpm2_eventlog), and strict loaders for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "lib/lib_hex.h"
#include "lib/vrf_file.h"
#include "tpm/vrf_tpm_int.h"

/* tpm2-tools' PCR file is a dump of host structs (lib/pcr.c,
 * pcr_fwrite_serialized); these are their x86-64 sizes and offsets, which
 * the static asserts tie to the tss2 headers tpm2-tools is built with. */
#define SEL_LIST_SIZE 132u /* TPML_PCR_SELECTION */
#define SEL_ENTRY_SIZE 8u  /* TPMS_PCR_SELECTION incl. 1 padding byte */
#define DIG_LIST_SIZE 532u /* TPML_DIGEST */
#define DIG_ENTRY_SIZE 66u /* TPM2B_DIGEST */
#define DIGS_PER_LIST 8u
_Static_assert(sizeof(TPML_PCR_SELECTION) == SEL_LIST_SIZE, "layout");
_Static_assert(sizeof(TPMS_PCR_SELECTION) == SEL_ENTRY_SIZE, "layout");
_Static_assert(sizeof(TPML_DIGEST) == DIG_LIST_SIZE, "layout");
_Static_assert(sizeof(TPM2B_DIGEST) == DIG_ENTRY_SIZE, "layout");
_Static_assert(VRF_PCRS_FILE_MAX >=
                   SEL_LIST_SIZE + 4 + FW_PCR_COUNT * DIG_LIST_SIZE,
               "VRF_PCRS_FILE_MAX too small");

static void le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static unsigned popcount24(uint32_t m)
{
    unsigned n = 0;
    for (unsigned i = 0; i < FW_PCR_COUNT; i++)
        n += (m >> i) & 1u;
    return n;
}

int vrf_pcrs_file_encode(uint32_t mask,
                         const uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE],
                         uint8_t *buf, size_t cap)
{
    unsigned n = popcount24(mask);
    unsigned lists = (n + DIGS_PER_LIST - 1) / DIGS_PER_LIST;
    size_t size = SEL_LIST_SIZE + 4 + (size_t)lists * DIG_LIST_SIZE;

    if (pcr == NULL || buf == NULL || n == 0 || (mask >> FW_PCR_COUNT) != 0 ||
        cap < size)
        return VRF_ERR_TPM_ARG;
    memset(buf, 0, size);
    le32(buf, 1); /* one bank */
    le16(buf + 4, TPM2_ALG_SHA256);
    buf[6] = 3; /* sizeofSelect: 24 PCRs */
    for (unsigned i = 0; i < FW_PCR_COUNT; i++)
        if (mask & (1u << i))
            buf[7 + i / 8] |= (uint8_t)(1u << (i % 8));
    le32(buf + SEL_LIST_SIZE, lists);
    uint8_t *list = buf + SEL_LIST_SIZE + 4;
    unsigned in_list = 0;
    for (unsigned i = 0; i < FW_PCR_COUNT; i++) {
        if (!(mask & (1u << i)))
            continue;
        uint8_t *d = list + 4 + in_list * DIG_ENTRY_SIZE;
        le16(d, FW_SHA256_SIZE);
        memcpy(d + 2, pcr[i], FW_SHA256_SIZE);
        le32(list, ++in_list);
        if (in_list == DIGS_PER_LIST) {
            list += DIG_LIST_SIZE;
            in_list = 0;
        }
    }
    return (int)size;
}

int vrf_pcrs_file_decode(const uint8_t *buf, size_t len, uint32_t *mask,
                         uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE])
{
    if (buf == NULL || mask == NULL || pcr == NULL)
        return VRF_ERR_ATT_FORMAT;
    *mask = 0;
    /* Selection: exactly one SHA-256 bank of 24 PCRs. Padding bytes and
     * the unused selection slots are not looked at (memory dumps). */
    if (len < SEL_LIST_SIZE + 4 || rd32(buf) != 1 ||
        (buf[4] | buf[5] << 8) != TPM2_ALG_SHA256 || buf[6] != 3 ||
        buf[10] != 0)
        return VRF_ERR_ATT_FORMAT;
    uint32_t m =
        (uint32_t)buf[7] | (uint32_t)buf[8] << 8 | (uint32_t)buf[9] << 16;
    unsigned n = popcount24(m);
    uint32_t lists = rd32(buf + SEL_LIST_SIZE);
    if (n == 0 || lists == 0 || lists > n ||
        len != SEL_LIST_SIZE + 4 + (size_t)lists * DIG_LIST_SIZE)
        return VRF_ERR_ATT_FORMAT;
    /* Digests: the lists hold the selected PCRs' values in order, any
     * grouping of 1..8 per list (tpm2_quote stores each PCR_Read answer). */
    const uint8_t *list = buf + SEL_LIST_SIZE + 4;
    uint32_t li = 0, di = 0;
    for (unsigned i = 0; i < FW_PCR_COUNT; i++) {
        if (!(m & (1u << i)))
            continue;
        if (li >= lists)
            return VRF_ERR_ATT_FORMAT;
        uint32_t count = rd32(list);
        if (count == 0 || count > DIGS_PER_LIST)
            return VRF_ERR_ATT_FORMAT;
        const uint8_t *d = list + 4 + di * DIG_ENTRY_SIZE;
        if ((d[0] | d[1] << 8) != FW_SHA256_SIZE)
            return VRF_ERR_ATT_FORMAT;
        memcpy(pcr[i], d + 2, FW_SHA256_SIZE);
        if (++di == count) {
            list += DIG_LIST_SIZE;
            li++;
            di = 0;
        }
    }
    if (li != lists || di != 0) /* every list used up, exactly */
        return VRF_ERR_ATT_FORMAT;
    *mask = m;
    return 0;
}

/* ------------------------------------------------------------ file I/O */

static int join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Writes len bytes to dir/name through a temporary file and a rename, so
 * a reader never sees half a file. */
static int write_file(const char *dir, const char *name, const void *data,
                      size_t len, char *errbuf, size_t errlen)
{
    char path[4096], tmp[4096] = "", why[512];
    int fd = -1, ret = VRF_ERR_TPM_IO;

    if (join(path, sizeof path, dir, name) != 0 ||
        snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >=
            (int)sizeof tmp) {
        vrf_errf(errbuf, errlen, "attest: path too long: %s/%s", dir, name);
        tmp[0] = '\0';
        goto cleanup;
    }
    if (vrf_file_check_output(path, why, sizeof why) != VRF_FILE_OK) {
        vrf_errf(errbuf, errlen, "attest: %s: %s", path, why);
        tmp[0] = '\0'; /* nothing of ours to remove */
        goto cleanup;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        vrf_errf(errbuf, errlen, "attest: open %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    const uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            vrf_errf(errbuf, errlen, "attest: write %s: %s", tmp,
                     strerror(errno));
            goto cleanup;
        }
        done += (size_t)n;
    }
    if (close(fd) != 0) {
        fd = -1;
        vrf_errf(errbuf, errlen, "attest: close %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        vrf_errf(errbuf, errlen, "attest: rename %s: %s", path,
                 strerror(errno));
        goto cleanup;
    }
    ret = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (ret != 0 && tmp[0] != '\0')
        unlink(tmp);
    return ret;
}

int vrf_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
                  char *errbuf, size_t errlen)
{
    char why[512];
    int r = vrf_file_read(path, max, buf, len, why, sizeof why);

    if (r == VRF_FILE_OK && *len == 0) {
        free(*buf);
        *buf = NULL;
        snprintf(why, sizeof why, "0 bytes");
        r = VRF_FILE_ERR_TOO_LARGE; /* outside 1..max: the same answer */
    }
    switch (r) {
    case VRF_FILE_OK:
        return 0;
    case VRF_FILE_ERR_TOO_LARGE:
        vrf_errf(errbuf, errlen, "%s: %s, outside 1..%zu bytes", path, why,
                 max);
        return VRF_ERR_ATT_FORMAT;
    case VRF_FILE_ERR_ALLOC:
        vrf_errf(errbuf, errlen, "%s: %s", path, why);
        return VRF_ERR_TPM_NOMEM;
    default:
        vrf_errf(errbuf, errlen, "%s: %s", path, why);
        return VRF_ERR_TPM_IO;
    }
}

/* Reads dir/name into out (cap bytes at most). */
static int read_into(const char *dir, const char *name, uint8_t *out,
                     size_t cap, size_t *len, char *errbuf, size_t errlen)
{
    char path[4096];
    uint8_t *b = NULL;
    size_t n = 0;

    if (join(path, sizeof path, dir, name) != 0) {
        vrf_errf(errbuf, errlen, "path too long: %s/%s", dir, name);
        return VRF_ERR_TPM_IO;
    }
    int ret = vrf_read_file(path, cap, &b, &n, errbuf, errlen);
    if (ret == 0) {
        memcpy(out, b, n);
        *len = n;
    }
    free(b);
    return ret;
}

/* PEM SubjectPublicKeyInfo of an ECC P-256 TPM2B_PUBLIC. */
static int ak_pem(const uint8_t *pub, size_t len, unsigned char *pem,
                  size_t cap)
{
    TPM2B_PUBLIC p;
    size_t off = 0;
    mbedtls_pk_context pk;
    int ret = VRF_ERR_ATT_AK;

    mbedtls_pk_init(&pk);
    memset(&p, 0, sizeof p);
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(pub, len, &off, &p) != TSS2_RC_SUCCESS ||
        off != len || p.publicArea.type != TPM2_ALG_ECC ||
        p.publicArea.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
        p.publicArea.unique.ecc.x.size != 32 ||
        p.publicArea.unique.ecc.y.size != 32)
        goto cleanup;
    uint8_t pt[65];
    pt[0] = 0x04;
    memcpy(pt + 1, p.publicArea.unique.ecc.x.buffer, 32);
    memcpy(pt + 33, p.publicArea.unique.ecc.y.buffer, 32);
    if (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
        goto cleanup;
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
    if (mbedtls_ecp_group_load(&ec->grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
        mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, pt, sizeof pt) != 0 ||
        mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q) != 0 ||
        mbedtls_pk_write_pubkey_pem(&pk, pem, cap) != 0)
        goto cleanup;
    ret = 0;
cleanup:
    mbedtls_pk_free(&pk);
    return ret;
}

int vrf_att_save(const char *dir, const struct vrf_quote *q,
                 const uint8_t *nonce, size_t nonce_len, const uint8_t *log,
                 size_t log_len, char *errbuf, size_t errlen)
{
    uint8_t pcrs[VRF_PCRS_FILE_MAX];
    unsigned char pem[512];
    char hex[2 * VRF_NONCE_MAX + 2];
    int ret = VRF_ERR_TPM_ARG;

    if (dir == NULL || q == NULL || nonce == NULL || nonce_len == 0 ||
        nonce_len > VRF_NONCE_MAX || log == NULL || log_len == 0) {
        vrf_errf(errbuf, errlen, "attest: missing quote, nonce or log");
        goto cleanup;
    }
    ret = VRF_ERR_TPM_IO;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        vrf_errf(errbuf, errlen, "attest: mkdir %s: %s", dir, strerror(errno));
        goto cleanup;
    }
    int n = vrf_pcrs_file_encode(q->pcr_mask, q->pcr, pcrs, sizeof pcrs);
    ret = VRF_ERR_ATT_FORMAT;
    if (n < 0) {
        vrf_errf(errbuf, errlen, "attest: bad PCR selection 0x%06x",
                 q->pcr_mask);
        goto cleanup;
    }
    ret = ak_pem(q->ak_pub, q->ak_pub_len, pem, sizeof pem);
    if (ret != 0) {
        vrf_errf(errbuf, errlen, "attest: AK public key is not ECC P-256");
        goto cleanup;
    }
    lib_hex_encode(nonce, nonce_len, hex);
    hex[2 * nonce_len] = '\n';
    hex[2 * nonce_len + 1] = '\0';

    if ((ret = write_file(dir, VRF_ATT_MSG, q->msg, q->msg_len, errbuf,
                          errlen)) != 0 ||
        (ret = write_file(dir, VRF_ATT_SIG, q->sig, q->sig_len, errbuf,
                          errlen)) != 0 ||
        (ret = write_file(dir, VRF_ATT_PCRS, pcrs, (size_t)n, errbuf,
                          errlen)) != 0 ||
        (ret = write_file(dir, VRF_ATT_AK_PUB, q->ak_pub, q->ak_pub_len, errbuf,
                          errlen)) != 0 ||
        (ret = write_file(dir, VRF_ATT_AK_PEM, pem, strlen((char *)pem), errbuf,
                          errlen)) != 0 ||
        (ret = write_file(dir, VRF_ATT_LOG, log, log_len, errbuf, errlen)) !=
            0 ||
        (ret = write_file(dir, VRF_ATT_NONCE, hex, strlen(hex), errbuf,
                          errlen)) != 0)
        goto cleanup;
    ret = 0;
cleanup:
    return ret;
}

int vrf_hex_parse(const char *s, uint8_t *out, size_t cap)
{
    size_t digits = strcspn(s, "\n ");
    long n = lib_hex_decode(s, digits, out, cap);

    s += digits;
    while (*s == '\n' || *s == ' ')
        s++;
    return *s == '\0' && n > 0 ? (int)n : -1;
}

int vrf_att_load_nonce(const char *dir, uint8_t nonce[VRF_NONCE_MAX],
                       size_t *len, char *errbuf, size_t errlen)
{
    char path[4096], text[2 * VRF_NONCE_MAX + 3];
    size_t n = 0;
    int ret = VRF_ERR_TPM_ARG;

    if (dir == NULL || nonce == NULL || len == NULL)
        goto cleanup;
    ret = read_into(dir, VRF_ATT_NONCE, (uint8_t *)text, sizeof text - 1, &n,
                    errbuf, errlen);
    if (ret != 0)
        goto cleanup;
    text[n] = '\0';
    int got = vrf_hex_parse(text, nonce, VRF_NONCE_MAX);
    ret = VRF_ERR_ATT_FORMAT;
    if (got < 0) {
        (void)join(path, sizeof path, dir, VRF_ATT_NONCE);
        vrf_errf(errbuf, errlen, "%s: not 1..%u bytes of hex", path,
                 VRF_NONCE_MAX);
        goto cleanup;
    }
    *len = (size_t)got;
    ret = 0;
cleanup:
    return ret;
}

int vrf_att_load(const char *dir, struct vrf_quote *q, uint8_t **log,
                 size_t *log_len, char *errbuf, size_t errlen)
{
    uint8_t pcrs[VRF_PCRS_FILE_MAX];
    char path[4096];
    size_t n = 0;
    int ret = VRF_ERR_TPM_ARG;

    if (log != NULL)
        *log = NULL;
    if (dir == NULL || q == NULL || log == NULL || log_len == NULL)
        goto cleanup;
    memset(q, 0, sizeof *q);
    if ((ret = read_into(dir, VRF_ATT_MSG, q->msg, sizeof q->msg, &q->msg_len,
                         errbuf, errlen)) != 0 ||
        (ret = read_into(dir, VRF_ATT_SIG, q->sig, sizeof q->sig, &q->sig_len,
                         errbuf, errlen)) != 0 ||
        (ret = read_into(dir, VRF_ATT_AK_PUB, q->ak_pub, sizeof q->ak_pub,
                         &q->ak_pub_len, errbuf, errlen)) != 0 ||
        (ret = read_into(dir, VRF_ATT_PCRS, pcrs, sizeof pcrs, &n, errbuf,
                         errlen)) != 0)
        goto cleanup;
    ret = vrf_pcrs_file_decode(pcrs, n, &q->pcr_mask, q->pcr);
    if (ret != 0) {
        vrf_errf(errbuf, errlen,
                 "%s/%s: not a tpm2-tools PCR file with one "
                 "SHA-256 bank",
                 dir, VRF_ATT_PCRS);
        goto cleanup;
    }
    ret = VRF_ERR_TPM_IO;
    if (join(path, sizeof path, dir, VRF_ATT_LOG) != 0)
        goto cleanup;
    ret = vrf_read_file(path, FW_EVLOG_MAX_SIZE, log, log_len, errbuf, errlen);
cleanup:
    return ret;
}
