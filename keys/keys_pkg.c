/* keys_pkg.c: encode packages (docs/FORMAT.md) as deterministic CBOR with
 * libcbor's encoder (its cbor_encode_* functions always emit the shortest
 * head); the verifier parses them with its own strict reader. */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "keys/keys.h"

/* A growing output buffer; the first failure sticks in `err`. */
struct kbuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    int err;
};

static void kb_reserve(struct kbuf *b, size_t n)
{
    size_t cap;
    uint8_t *np;

    if (b->err != KEYS_OK)
        return;
    if (n > VRF_PKG_MAX_SIZE || b->len + n > VRF_PKG_MAX_SIZE + 64) {
        b->err = KEYS_ERR_PKG_LIMIT;
        return;
    }
    if (b->len + n <= b->cap)
        return;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    np = realloc(b->p, cap);
    if (np == NULL) {
        b->err = KEYS_ERR_ALLOC;
        return;
    }
    b->p = np;
    b->cap = cap;
}

/* One head through a libcbor encoder (at most 9 bytes). */
static void kb_head(struct kbuf *b,
                    size_t (*enc)(uint64_t, unsigned char *, size_t),
                    uint64_t v)
{
    size_t n;

    kb_reserve(b, 9);
    if (b->err != KEYS_OK)
        return;
    n = enc(v, b->p + b->len, b->cap - b->len);
    if (n == 0)
        b->err = KEYS_ERR_CRYPTO;
    b->len += n;
}

static size_t enc_bstr(uint64_t n, unsigned char *p, size_t size)
{
    return cbor_encode_bytestring_start((size_t)n, p, size);
}

static size_t enc_tstr(uint64_t n, unsigned char *p, size_t size)
{
    return cbor_encode_string_start((size_t)n, p, size);
}

static size_t enc_array(uint64_t n, unsigned char *p, size_t size)
{
    return cbor_encode_array_start((size_t)n, p, size);
}

static size_t enc_map(uint64_t n, unsigned char *p, size_t size)
{
    return cbor_encode_map_start((size_t)n, p, size);
}

static void kb_raw(struct kbuf *b, const void *p, size_t n)
{
    kb_reserve(b, n);
    if (b->err != KEYS_OK || n == 0)
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void kb_bstr(struct kbuf *b, const void *p, size_t n)
{
    kb_head(b, enc_bstr, n);
    kb_raw(b, p, n);
}

static void kb_tstr(struct kbuf *b, const char *s)
{
    size_t n = strlen(s);

    kb_head(b, enc_tstr, n);
    kb_raw(b, s, n);
}

static int kb_finish(struct kbuf *b, uint8_t **out, size_t *len)
{
    int ret = b->err;

    if (ret == KEYS_OK && b->len > VRF_PKG_MAX_SIZE)
        ret = KEYS_ERR_PKG_LIMIT;
    if (ret == KEYS_OK) {
        *out = b->p;
        *len = b->len;
    } else {
        free(b->p);
    }
    b->p = NULL;
    return ret;
}

int keys_pkg_encode_payload(const struct vrf_pkg *p, uint8_t **out, size_t *len)
{
    struct kbuf b = {0};

    *out = NULL;
    *len = 0;
    if (p == NULL || p->n_cves > VRF_MAX_CVES ||
        p->n_records > VRF_MAX_RECORDS ||
        (p->records == NULL && p->n_records != 0))
        return KEYS_ERR_ARG;

    /* Keys 1..9 in increasing order: the deterministic order. */
    kb_head(&b, enc_map, 9);
    kb_head(&b, cbor_encode_uint, 1);
    kb_head(&b, cbor_encode_uint, p->format);
    kb_head(&b, cbor_encode_uint, 2);
    kb_tstr(&b, p->id);
    kb_head(&b, cbor_encode_uint, 3);
    kb_tstr(&b, p->title);
    kb_head(&b, cbor_encode_uint, 4);
    kb_head(&b, enc_array, p->n_cves);
    for (size_t i = 0; i < p->n_cves; i++)
        kb_tstr(&b, p->cves[i]);
    kb_head(&b, cbor_encode_uint, 5);
    kb_tstr(&b, p->publisher);
    kb_head(&b, cbor_encode_uint, 6);
    kb_tstr(&b, p->kind);
    kb_head(&b, cbor_encode_uint, 7);
    kb_bstr(&b, p->baseline, VRF_BASELINE_SIZE);
    kb_head(&b, cbor_encode_uint, 8);
    kb_head(&b, cbor_encode_uint, p->sequence);
    kb_head(&b, cbor_encode_uint, 9);
    kb_head(&b, enc_array, p->n_records);
    for (size_t i = 0; i < p->n_records; i++) {
        const struct vrf_record *r = &p->records[i];

        kb_head(&b, enc_array, r->kind == VRF_REC_CODE ? 3 : 4);
        kb_head(&b, cbor_encode_uint, r->kind);
        kb_head(&b, cbor_encode_uint, r->gpa);
        switch (r->kind) {
        case VRF_REC_REPLACE:
            kb_bstr(&b, r->pre.p, r->pre.len);
            kb_bstr(&b, r->data.p, r->data.len);
            break;
        case VRF_REC_CODE:
            kb_bstr(&b, r->data.p, r->data.len);
            break;
        default:
            kb_bstr(&b, r->pre.p, r->pre.len);
            kb_head(&b, cbor_encode_uint, r->target);
            break;
        }
    }
    return kb_finish(&b, out, len);
}

int keys_pkg_encode_protected(const struct vrf_bytes *certs, size_t n_certs,
                              uint8_t **out, size_t *len)
{
    struct kbuf b = {0};

    *out = NULL;
    *len = 0;
    if (n_certs > VRF_MAX_CERTS || (certs == NULL && n_certs != 0))
        return KEYS_ERR_ARG;

    /* {1: -35, 33: x5chain}: alg ES384; x5chain (RFC 9360) a byte string
     * for one certificate, an array for more. */
    kb_head(&b, enc_map, n_certs ? 2 : 1);
    kb_head(&b, cbor_encode_uint, 1);
    kb_head(&b, cbor_encode_negint, (uint64_t)(-1 - VRF_COSE_ALG_ES384));
    if (n_certs > 0) {
        kb_head(&b, cbor_encode_uint, 33);
        if (n_certs > 1)
            kb_head(&b, enc_array, n_certs);
        for (size_t i = 0; i < n_certs; i++)
            kb_bstr(&b, certs[i].p, certs[i].len);
    }
    return kb_finish(&b, out, len);
}

int keys_pkg_encode_sign1(const uint8_t *prot, size_t prot_len,
                          const uint8_t *payload, size_t payload_len,
                          const uint8_t *sig, size_t sig_len, uint8_t **out,
                          size_t *len)
{
    struct kbuf b = {0};

    *out = NULL;
    *len = 0;
    /* 18([protected, {}, payload, signature]) */
    kb_head(&b, cbor_encode_tag, VRF_COSE_TAG_SIGN1);
    kb_head(&b, enc_array, 4);
    kb_bstr(&b, prot, prot_len);
    kb_head(&b, enc_map, 0);
    kb_bstr(&b, payload, payload_len);
    kb_bstr(&b, sig, sig_len);
    return kb_finish(&b, out, len);
}
