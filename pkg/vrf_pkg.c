/* vrf_pkg.c: check 1 of docs/FORMAT.md: parse a package (a COSE_Sign1
 * message over a deterministic CBOR payload) with every structural rule:
 * hard limits, canonical encoding, no unknown or duplicate keys, no
 * trailing bytes, every length and range checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "pkg/vrf_int.h"

/* Protected header labels (RFC 9052 section 3.1, RFC 9360). */
#define HDR_ALG 1
#define HDR_X5CHAIN 33
/* Payload keys (docs/FORMAT.md). */
#define PL_FORMAT 1
#define PL_ID 2
#define PL_TITLE 3
#define PL_CVES 4
#define PL_PUBLISHER 5
#define PL_KIND 6
#define PL_BASELINE 7
#define PL_SEQUENCE 8
#define PL_RECORDS 9

#define BIT(k) (1ull << (k))
#define PL_ALL                                                                 \
    (BIT(PL_FORMAT) | BIT(PL_ID) | BIT(PL_TITLE) | BIT(PL_CVES) |              \
     BIT(PL_PUBLISHER) | BIT(PL_KIND) | BIT(PL_BASELINE) | BIT(PL_SEQUENCE) |  \
     BIT(PL_RECORDS))

static const char *const pl_names[] = {
    [PL_FORMAT] = "format",       [PL_ID] = "id",
    [PL_TITLE] = "title",         [PL_CVES] = "cves",
    [PL_PUBLISHER] = "publisher", [PL_KIND] = "kind",
    [PL_BASELINE] = "baseline",   [PL_SEQUENCE] = "sequence",
    [PL_RECORDS] = "records",
};

/* The detail of a map key vrf_cbor_map_key() refused: which entry, and
 * which key (by number and, if it has one, name), not only the position. */
static void key_detail(struct vrf_pkg *pkg, const char *map, uint64_t entry,
                       int ret, uint64_t key, const char *name)
{
    unsigned long long e = (unsigned long long)entry;
    unsigned long long k = (unsigned long long)key;

    if (key == UINT64_MAX)
        vrf_detail(pkg, "%s: entry %llu: key is not an unsigned integer", map,
                   e);
    else if (ret == VRF_ERR_PARSE_DUP_KEY)
        vrf_detail(pkg, "%s: entry %llu: key %llu (%s) repeated", map, e, k,
                   name);
    else if (ret == VRF_ERR_PARSE_UNKNOWN_KEY)
        vrf_detail(pkg, "%s: entry %llu: key %llu unknown", map, e, k);
    else if (ret == VRF_ERR_PARSE_NONCANONICAL)
        vrf_detail(pkg, "%s: entry %llu: key %llu (%s) out of order", map, e, k,
                   name);
    else
        vrf_detail(pkg, "%s: entry %llu: key %llu (%s)", map, e, k, name);
}

static const char *pl_name(uint64_t key)
{
    return key < sizeof pl_names / sizeof pl_names[0] && pl_names[key]
               ? pl_names[key]
               : "unnamed";
}

static const char *hdr_name(uint64_t key)
{
    return key == HDR_ALG ? "alg" : key == HDR_X5CHAIN ? "x5chain" : "unnamed";
}

void vrf_pkg_init(struct vrf_pkg *pkg)
{
    memset(pkg, 0, sizeof *pkg);
    pkg->fail_record = -1;
}

void vrf_pkg_free(struct vrf_pkg *pkg)
{
    if (pkg == NULL)
        return;
    free(pkg->records);
    mbedtls_platform_zeroize(pkg, sizeof *pkg);
    pkg->fail_record = -1;
}

int vrf_encode_jmp(uint8_t jmp[VRF_REDIRECT_SIZE], uint64_t site,
                   uint64_t target)
{
    /* Displacement from the end of the jump. */
    uint64_t next = site + VRF_REDIRECT_SIZE;
    int fits = target >= next ? target - next <= (uint64_t)INT32_MAX
                              : next - target <= (uint64_t)INT32_MAX + 1;
    uint32_t d = (uint32_t)(target - next); /* two's complement */
    memset(jmp, 0, VRF_REDIRECT_SIZE);
    if (!fits)
        return 0;
    jmp[0] = 0xe9;
    jmp[1] = (uint8_t)d;
    jmp[2] = (uint8_t)(d >> 8);
    jmp[3] = (uint8_t)(d >> 16);
    jmp[4] = (uint8_t)(d >> 24);
    return 1;
}

void vrf_record_new_bytes(const struct vrf_record *rec, const uint8_t **p,
                          size_t *len)
{
    *p = rec->data.p;
    *len = (size_t)rec->size;
}

/* ------------------------------------------------------------------ text */

/* UTF-8 as RFC 3629 defines it: shortest forms, no surrogates, at most
 * U+10FFFF. Control characters (C0, DEL, C1), the line and paragraph
 * separators and the bidirectional formatting characters (which can make
 * text display other than it reads, "Trojan Source") are refused:
 * auditors read these fields. */
static int text_ok(const uint8_t *p, size_t len)
{
    size_t i = 0;

    if (len == 0)
        return 0;
    while (i < len) {
        uint32_t cp;
        size_t n;
        uint8_t b = p[i];

        if (b < 0x80) {
            cp = b;
            n = 1;
        } else if (b >= 0xc2 && b <= 0xdf) {
            cp = b & 0x1f;
            n = 2;
        } else if (b >= 0xe0 && b <= 0xef) {
            cp = b & 0x0f;
            n = 3;
        } else if (b >= 0xf0 && b <= 0xf4) {
            cp = b & 0x07;
            n = 4;
        } else {
            return 0;
        }
        if (n > len - i)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return 0;
        if (cp == 0x061c || cp == 0x200e || cp == 0x200f || cp == 0x2028 ||
            cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
            (cp >= 0x2066 && cp <= 0x2069))
            return 0;
        i += n;
    }
    return 1;
}

static int is_digit(uint8_t b)
{
    return b >= '0' && b <= '9';
}

static int is_alnum(uint8_t b)
{
    return is_digit(b) || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
}

/* Package id: 1..32 of [A-Za-z0-9._-], starting with a letter or digit
 * (e.g. "HP-2026-0001"). */
static int id_ok(const uint8_t *p, size_t len)
{
    if (len == 0 || len > VRF_ID_MAX || !is_alnum(p[0]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(p[i]) && p[i] != '.' && p[i] != '_' && p[i] != '-')
            return 0;
    return 1;
}

/* CVE id: "CVE-" 4-digit year "-" 4 to 15 digits (CVE numbering rules). */
static int cve_ok(const uint8_t *p, size_t len)
{
    if (len < 13 || len > VRF_CVE_MAX || memcmp(p, "CVE-", 4) != 0 ||
        p[8] != '-')
        return 0;
    for (size_t i = 4; i < len; i++)
        if (i != 8 && !is_digit(p[i]))
            return 0;
    return 1;
}

/* Guest kind: 1..16 of [a-z0-9_-], starting with a letter. */
static int kind_ok(const uint8_t *p, size_t len)
{
    if (len == 0 || len > VRF_KIND_MAX || p[0] < 'a' || p[0] > 'z')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || is_digit(p[i]) || p[i] == '_' ||
              p[i] == '-'))
            return 0;
    return 1;
}

/* Read a text string of at most max bytes that passes ok() (else `bad`)
 * into out (max + 1 bytes, NUL-terminated). */
static int read_text(struct vrf_cbor *c, size_t max,
                     int (*ok)(const uint8_t *, size_t), int bad, char *out)
{
    int ret;
    struct vrf_bytes s;
    size_t start = c->off;

    ret = vrf_cbor_string(c, VRF_CBOR_TSTR, max, &s);
    if (ret != VRF_OK)
        goto cleanup;
    ret = bad;
    if (!ok(s.p, s.len)) {
        c->err_off = c->base + start;
        goto cleanup;
    }
    memcpy(out, s.p, s.len);
    out[s.len] = '\0';
    ret = VRF_OK;

cleanup:
    return ret;
}

/* ------------------------------------------------------------------ header */

/* x5chain (RFC 9360): one certificate as a byte string, or two to
 * VRF_MAX_CERTS in an array, signer first; none empty. */
static int parse_x5chain(struct vrf_cbor *c, struct vrf_pkg *pkg)
{
    int ret;
    unsigned major;
    uint64_t n = 1;
    size_t at = c->off;

    ret = vrf_cbor_head(c, &major, &n);
    if (ret != VRF_OK)
        goto cleanup;
    if (major == VRF_CBOR_BSTR) {
        c->off = at; /* the certificate itself: read below */
        n = 1;
    } else if (major == VRF_CBOR_ARRAY) {
        /* One certificate is a bare byte string, never [cert]. */
        ret = VRF_ERR_PARSE_X5CHAIN;
        if (n < 2) {
            c->err_off = c->base + at;
            goto cleanup;
        }
        ret = VRF_ERR_PARSE_LIMIT;
        if (n > VRF_MAX_CERTS) {
            c->err_off = c->base + at;
            goto cleanup;
        }
    } else {
        ret = VRF_ERR_PARSE_TYPE;
        c->err_off = c->base + at;
        goto cleanup;
    }
    for (size_t k = 0; k < n; k++) {
        size_t cat = c->off;

        ret = vrf_cbor_string(c, VRF_CBOR_BSTR, VRF_MAX_CERT_SIZE,
                              &pkg->certs[k]);
        if (ret == VRF_OK && pkg->certs[k].len == 0) {
            c->err_off = c->base + cat;
            ret = VRF_ERR_PARSE_X5CHAIN;
        }
        if (ret != VRF_OK)
            goto cleanup;
    }
    pkg->n_certs = (size_t)n;
    ret = VRF_OK;

cleanup:
    return ret;
}

/* Protected header: a map {1: -35, ? 33: x5chain}. */
static int parse_protected(struct vrf_pkg *pkg, const struct vrf_bytes *b,
                           size_t base)
{
    int ret;
    struct vrf_cbor c;
    struct vrf_cbor_map m;
    uint64_t n, key, missing;
    int64_t alg;

    vrf_cbor_init(&c, b->p, b->len, base);
    ret = vrf_cbor_expect(&c, VRF_CBOR_MAP, &n);
    if (ret != VRF_OK) {
        vrf_detail(pkg, "protected header: not a map");
        goto cleanup;
    }
    vrf_cbor_map_init(&m, BIT(HDR_ALG) | BIT(HDR_X5CHAIN));
    for (uint64_t i = 0; i < n; i++) {
        key = UINT64_MAX;
        ret = vrf_cbor_map_key(&c, &m, &key);
        if (ret != VRF_OK) {
            key_detail(pkg, "protected header", i + 1, ret, key, hdr_name(key));
            goto cleanup;
        }
        if (key == HDR_ALG) {
            size_t at = c.off;

            ret = vrf_cbor_int(&c, &alg);
            if (ret == VRF_OK && alg != VRF_COSE_ALG_ES384) {
                c.err_off = base + at;
                ret = VRF_ERR_PARSE_ALG;
            }
            if (ret != VRF_OK) {
                vrf_detail(pkg, "protected header: alg");
                goto cleanup;
            }
            pkg->alg = alg;
        } else {
            ret = parse_x5chain(&c, pkg);
            if (ret != VRF_OK) {
                vrf_detail(pkg, "protected header: x5chain");
                goto cleanup;
            }
        }
    }
    ret = vrf_cbor_map_end(&m, BIT(HDR_ALG), &missing);
    if (ret != VRF_OK) {
        c.err_off = base;
        vrf_detail(pkg, "protected header: label %llu (alg) missing",
                   (unsigned long long)missing);
        goto cleanup;
    }
    ret = VRF_ERR_PARSE_TRAILING;
    if (!vrf_cbor_done(&c)) {
        c.err_off = base + c.off;
        vrf_detail(pkg, "protected header: bytes after the map");
        goto cleanup;
    }
    ret = VRF_OK;

cleanup:
    if (ret != VRF_OK)
        pkg->fail_offset = c.err_off;
    return ret;
}

/* ------------------------------------------------------------------ records */

/* One record: [1, gpa, pre, new] | [2, gpa, code] | [3, gpa, pre, target]. */
static int parse_record(struct vrf_cbor *c, struct vrf_record *r)
{
    int ret;
    uint64_t n, kind, want;
    size_t start = c->off;

    ret = vrf_cbor_expect(c, VRF_CBOR_ARRAY, &n);
    if (ret != VRF_OK)
        goto cleanup;
    ret = VRF_ERR_PARSE_TYPE;
    if (n < 1)
        goto cleanup;
    ret = vrf_cbor_expect(c, VRF_CBOR_UINT, &kind);
    if (ret != VRF_OK)
        goto cleanup;
    ret = VRF_ERR_PARSE_RECORD_KIND;
    if (kind < VRF_REC_REPLACE || kind > VRF_REC_REDIRECT)
        goto cleanup;
    r->kind = (uint32_t)kind;
    want = kind == VRF_REC_CODE ? 3 : 4;
    ret = VRF_ERR_PARSE_TYPE;
    if (n != want) {
        c->err_off = c->base + start;
        goto cleanup;
    }
    ret = vrf_cbor_expect(c, VRF_CBOR_UINT, &r->gpa);
    if (ret != VRF_OK)
        goto cleanup;

    switch (kind) {
    case VRF_REC_REPLACE:
        ret = vrf_cbor_string(c, VRF_CBOR_BSTR, VRF_MAX_RECORD_SIZE, &r->pre);
        if (ret == VRF_OK)
            ret = vrf_cbor_string(c, VRF_CBOR_BSTR, VRF_MAX_RECORD_SIZE,
                                  &r->data);
        if (ret == VRF_ERR_PARSE_LIMIT)
            ret = VRF_ERR_PARSE_RECORD_SIZE;
        if (ret != VRF_OK)
            goto cleanup;
        ret = VRF_ERR_PARSE_RECORD_SIZE;
        if (r->pre.len == 0 || r->pre.len != r->data.len) {
            c->err_off = c->base + start;
            goto cleanup;
        }
        r->size = r->data.len;
        break;
    case VRF_REC_CODE:
        ret = vrf_cbor_string(c, VRF_CBOR_BSTR, VRF_MAX_RECORD_SIZE, &r->data);
        if (ret == VRF_ERR_PARSE_LIMIT)
            ret = VRF_ERR_PARSE_RECORD_SIZE;
        if (ret != VRF_OK)
            goto cleanup;
        ret = VRF_ERR_PARSE_RECORD_SIZE;
        if (r->data.len == 0) {
            c->err_off = c->base + start;
            goto cleanup;
        }
        r->size = r->data.len;
        break;
    default: /* VRF_REC_REDIRECT */
        ret = vrf_cbor_string(c, VRF_CBOR_BSTR, VRF_MAX_RECORD_SIZE, &r->pre);
        if (ret == VRF_ERR_PARSE_LIMIT)
            ret = VRF_ERR_PARSE_RECORD_SIZE;
        if (ret != VRF_OK)
            goto cleanup;
        ret = VRF_ERR_PARSE_RECORD_SIZE;
        if (r->pre.len != VRF_REDIRECT_SIZE) {
            c->err_off = c->base + start;
            goto cleanup;
        }
        ret = vrf_cbor_expect(c, VRF_CBOR_UINT, &r->target);
        if (ret != VRF_OK)
            goto cleanup;
        r->size = VRF_REDIRECT_SIZE;
        break;
    }

    /* [gpa, gpa + size) must not wrap. */
    ret = VRF_ERR_PARSE_RECORD_WRAP;
    if (r->gpa > UINT64_MAX - r->size) {
        c->err_off = c->base + start;
        goto cleanup;
    }
    if (kind == VRF_REC_REDIRECT) {
        /* e9 rel32 with VA == GPA; check 10 recomputes it for ranges with
         * their own virtual addresses. Out of reach, jmp stays zero and
         * check 10 reports VRF_ERR_BOUNDS_REL32. */
        vrf_encode_jmp(r->jmp, r->gpa, r->target);
        r->data.p = r->jmp;
        r->data.len = VRF_REDIRECT_SIZE;
    }
    ret = VRF_OK;

cleanup:
    return ret;
}

/* ------------------------------------------------------------------ payload */

static int parse_payload(struct vrf_pkg *pkg, const struct vrf_bytes *b,
                         size_t base)
{
    int ret;
    struct vrf_cbor c;
    struct vrf_cbor_map m;
    uint64_t n, key = 0, missing, count;
    struct vrf_bytes s;
    size_t at;

    vrf_cbor_init(&c, b->p, b->len, base);
    ret = vrf_cbor_expect(&c, VRF_CBOR_MAP, &n);
    if (ret != VRF_OK) {
        vrf_detail(pkg, "payload: not a map");
        goto cleanup;
    }
    vrf_cbor_map_init(&m, PL_ALL);
    for (uint64_t i = 0; i < n; i++) {
        key = UINT64_MAX;
        ret = vrf_cbor_map_key(&c, &m, &key);
        if (ret != VRF_OK) {
            key_detail(pkg, "payload", i + 1, ret, key, pl_name(key));
            goto cleanup;
        }
        at = c.off;
        switch (key) {
        case PL_FORMAT:
            ret = vrf_cbor_expect(&c, VRF_CBOR_UINT, &pkg->format);
            if (ret == VRF_OK && pkg->format != VRF_FORMAT_VERSION) {
                c.err_off = base + at;
                ret = VRF_ERR_PARSE_VERSION;
                vrf_detail(pkg, "payload: format %llu (this verifier knows %u)",
                           (unsigned long long)pkg->format, VRF_FORMAT_VERSION);
                goto cleanup;
            }
            break;
        case PL_ID:
            ret = read_text(&c, VRF_ID_MAX, id_ok, VRF_ERR_PARSE_ID, pkg->id);
            if (ret == VRF_ERR_PARSE_LIMIT)
                ret = VRF_ERR_PARSE_ID;
            break;
        case PL_TITLE:
            ret = read_text(&c, VRF_TITLE_MAX, text_ok, VRF_ERR_PARSE_TEXT,
                            pkg->title);
            break;
        case PL_PUBLISHER:
            ret = read_text(&c, VRF_PUBLISHER_MAX, text_ok, VRF_ERR_PARSE_TEXT,
                            pkg->publisher);
            break;
        case PL_KIND:
            ret = read_text(&c, VRF_KIND_MAX, kind_ok, VRF_ERR_PARSE_KIND,
                            pkg->kind);
            if (ret == VRF_ERR_PARSE_LIMIT)
                ret = VRF_ERR_PARSE_KIND;
            break;
        case PL_CVES:
            ret = vrf_cbor_expect(&c, VRF_CBOR_ARRAY, &count);
            if (ret != VRF_OK)
                break;
            ret = VRF_ERR_PARSE_LIMIT;
            if (count > VRF_MAX_CVES)
                break;
            ret = VRF_OK;
            for (uint64_t k = 0; k < count; k++) {
                size_t cat = c.off;

                ret = read_text(&c, VRF_CVE_MAX, cve_ok, VRF_ERR_PARSE_CVE,
                                pkg->cves[k]);
                if (ret == VRF_ERR_PARSE_LIMIT)
                    ret = VRF_ERR_PARSE_CVE;
                for (uint64_t j = 0; ret == VRF_OK && j < k; j++) {
                    if (strcmp(pkg->cves[j], pkg->cves[k]) == 0) {
                        c.err_off = base + cat;
                        ret = VRF_ERR_PARSE_CVE;
                    }
                }
                if (ret != VRF_OK) {
                    vrf_detail(pkg, "payload: cves[%llu]",
                               (unsigned long long)k);
                    goto cleanup;
                }
                pkg->n_cves = (size_t)k + 1;
            }
            break;
        case PL_BASELINE:
            ret = vrf_cbor_string(&c, VRF_CBOR_BSTR, VRF_PKG_MAX_SIZE, &s);
            if (ret == VRF_OK && s.len != VRF_BASELINE_SIZE) {
                c.err_off = base + at;
                ret = VRF_ERR_PARSE_BASELINE;
            }
            if (ret == VRF_OK)
                memcpy(pkg->baseline, s.p, VRF_BASELINE_SIZE);
            break;
        case PL_SEQUENCE:
            ret = vrf_cbor_expect(&c, VRF_CBOR_UINT, &pkg->sequence);
            if (ret == VRF_OK && pkg->sequence == 0) {
                c.err_off = base + at;
                ret = VRF_ERR_PARSE_SEQUENCE;
            }
            break;
        default: /* PL_RECORDS */
            ret = vrf_cbor_expect(&c, VRF_CBOR_ARRAY, &count);
            if (ret != VRF_OK)
                break;
            ret = VRF_ERR_PARSE_NO_RECORDS;
            if (count == 0)
                break;
            ret = VRF_ERR_PARSE_LIMIT;
            if (count > VRF_MAX_RECORDS)
                break;
            ret = VRF_ERR_ALLOC;
            pkg->records = calloc((size_t)count, sizeof *pkg->records);
            if (pkg->records == NULL)
                goto cleanup;
            for (uint64_t k = 0; k < count; k++) {
                ret = parse_record(&c, &pkg->records[k]);
                if (ret != VRF_OK) {
                    pkg->fail_record = (long)k;
                    vrf_detail(pkg, "payload: records[%llu]",
                               (unsigned long long)k);
                    goto cleanup;
                }
                pkg->n_records = (size_t)k + 1;
            }
            break;
        }
        if (ret != VRF_OK) {
            vrf_detail(pkg, "payload: %s", pl_names[key]);
            goto cleanup;
        }
    }
    ret = vrf_cbor_map_end(&m, PL_ALL, &missing);
    if (ret != VRF_OK) {
        c.err_off = base;
        vrf_detail(pkg, "payload: key %llu (%s) missing",
                   (unsigned long long)missing, pl_names[missing]);
        goto cleanup;
    }
    ret = VRF_ERR_PARSE_TRAILING;
    if (!vrf_cbor_done(&c)) {
        c.err_off = base + c.off;
        vrf_detail(pkg, "payload: bytes after the map");
        goto cleanup;
    }
    ret = VRF_OK;

cleanup:
    if (ret != VRF_OK)
        pkg->fail_offset = c.err_off;
    return ret;
}

/* ------------------------------------------------------------------ package */

static void pkg_reset(struct vrf_pkg *pkg)
{
    free(pkg->records);
    vrf_pkg_init(pkg);
}

/*
 * COSE_Sign1 (RFC 9052, section 4.2), tagged:
 *   18([protected: bstr .cbor header, unprotected: {}, payload: bstr .cbor
 *       payload, signature: bstr])
 */
int vrf_pkg_parse(struct vrf_pkg *pkg, const uint8_t *buf, size_t len)
{
    int ret = VRF_ERR_ARG;
    struct vrf_cbor c;
    uint64_t v;
    size_t at;

    if (pkg == NULL || (buf == NULL && len != 0))
        goto cleanup;
    pkg_reset(pkg);
    vrf_cbor_init(&c, buf, len, 0);

    /* 1.1 Size. */
    ret = VRF_ERR_PARSE_TOO_LARGE;
    if (len > VRF_PKG_MAX_SIZE) {
        vrf_detail(pkg, "%zu bytes", len);
        goto fail;
    }

    /* 1.2 Tag 18: COSE_Sign1. */
    ret = vrf_cbor_expect(&c, VRF_CBOR_TAG, &v);
    if (ret == VRF_ERR_PARSE_TYPE || (ret == VRF_OK && v != VRF_COSE_TAG_SIGN1))
        ret = VRF_ERR_PARSE_TAG;
    if (ret != VRF_OK) {
        vrf_detail(pkg, "COSE_Sign1 tag");
        goto fail;
    }

    /* 1.3 An array of four. */
    at = c.off;
    ret = vrf_cbor_expect(&c, VRF_CBOR_ARRAY, &v);
    if (ret == VRF_OK && v != 4) {
        c.err_off = at;
        ret = VRF_ERR_PARSE_TYPE;
    }
    if (ret != VRF_OK) {
        vrf_detail(pkg, "COSE_Sign1: an array of 4 expected");
        goto fail;
    }

    /* 1.4 Protected header. */
    ret = vrf_cbor_string(&c, VRF_CBOR_BSTR, VRF_PKG_MAX_SIZE,
                          &pkg->protected_hdr);
    if (ret != VRF_OK) {
        vrf_detail(pkg, "COSE_Sign1: protected header");
        goto fail;
    }
    ret = parse_protected(pkg, &pkg->protected_hdr,
                          (size_t)(pkg->protected_hdr.p - buf));
    if (ret != VRF_OK)
        goto cleanup;

    /* 1.5 Unprotected header: empty, so every byte is signed. */
    at = c.off;
    ret = vrf_cbor_expect(&c, VRF_CBOR_MAP, &v);
    if (ret == VRF_OK && v != 0) {
        c.err_off = at;
        ret = VRF_ERR_PARSE_UNPROTECTED;
    }
    if (ret != VRF_OK) {
        vrf_detail(pkg, "COSE_Sign1: unprotected header");
        goto fail;
    }

    /* 1.6 Payload. */
    ret = vrf_cbor_string(&c, VRF_CBOR_BSTR, VRF_PKG_MAX_SIZE, &pkg->payload);
    if (ret != VRF_OK) {
        vrf_detail(pkg, "COSE_Sign1: payload");
        goto fail;
    }
    ret = parse_payload(pkg, &pkg->payload, (size_t)(pkg->payload.p - buf));
    if (ret != VRF_OK)
        goto cleanup;

    /* 1.7 Signature: 96 bytes if signed, empty if not. */
    at = c.off;
    ret = vrf_cbor_string(&c, VRF_CBOR_BSTR, VRF_PKG_MAX_SIZE, &pkg->signature);
    if (ret != VRF_OK) {
        vrf_detail(pkg, "COSE_Sign1: signature");
        goto fail;
    }

    /* 1.8 Nothing after the message. */
    ret = VRF_ERR_PARSE_TRAILING;
    if (!vrf_cbor_done(&c)) {
        c.err_off = c.off;
        vrf_detail(pkg, "%zu byte(s) after the COSE_Sign1 message",
                   len - c.off);
        goto fail;
    }

    /* 1.9 Signed (x5chain and a 96-byte signature) or unsigned (neither). */
    c.err_off = at;
    ret = VRF_ERR_PARSE_SIG_SIZE;
    if (pkg->n_certs != 0 && pkg->signature.len != VRF_SIG_SIZE) {
        vrf_detail(pkg, "signature of %zu bytes", pkg->signature.len);
        goto fail;
    }
    ret = VRF_ERR_PARSE_X5CHAIN;
    if (pkg->n_certs == 0 && pkg->signature.len != 0) {
        vrf_detail(pkg, "signature without x5chain");
        goto fail;
    }
    pkg->is_signed = pkg->n_certs != 0;
    ret = VRF_OK;
    goto cleanup;

fail:
    pkg->fail_offset = c.err_off;
cleanup:
    return ret;
}
