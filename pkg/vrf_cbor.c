/* vrf_cbor.c: a strict reader for deterministically encoded CBOR (the
 * subset docs/FORMAT.md allows), with a precise error for every way an
 * input can be wrong. */
#include <string.h>

#include "pkg/vrf_int.h"

void vrf_cbor_init(struct vrf_cbor *c, const uint8_t *buf, size_t len,
                   size_t base)
{
    c->buf = buf;
    c->len = len;
    c->off = 0;
    c->base = base;
    c->err_off = base;
}

int vrf_cbor_done(const struct vrf_cbor *c)
{
    return c->off == c->len;
}

/*
 * RFC 8949, section 3: the initial byte holds the major type (3 bits) and
 * additional information (5 bits): 0..23 is the argument itself, 24..27
 * say 1, 2, 4 or 8 argument bytes follow, 28..30 are reserved and 31 is an
 * indefinite length. Section 4.2.1 (deterministic encoding) requires the
 * shortest form and definite lengths.
 */
int vrf_cbor_head(struct vrf_cbor *c, unsigned *major, uint64_t *arg)
{
    int ret = VRF_ERR_PARSE_TRUNCATED;
    unsigned ai;
    size_t n = 0;
    uint64_t v = 0;

    c->err_off = c->base + c->off;
    if (c->off >= c->len)
        goto cleanup;
    *major = c->buf[c->off] >> 5;
    ai = c->buf[c->off] & 0x1f;

    /* 1. Additional information: immediate value or argument size. */
    if (ai < 24) {
        v = ai;
    } else if (ai <= 27) {
        n = (size_t)1 << (ai - 24);
    } else {
        /* 28..30 reserved, 31 indefinite length (or "break"). */
        ret = VRF_ERR_PARSE_NONCANONICAL;
        goto cleanup;
    }

    /* 2. Argument bytes, big-endian, all present. */
    if (n > c->len - c->off - 1)
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | c->buf[c->off + 1 + i];

    /* 3. Shortest form: each size only for values the smaller cannot hold. */
    ret = VRF_ERR_PARSE_NONCANONICAL;
    if ((n == 1 && v < 24) || (n == 2 && v <= 0xff) ||
        (n == 4 && v <= 0xffff) || (n == 8 && v <= 0xffffffffull))
        goto cleanup;

    c->off += 1 + n;
    *arg = v;
    ret = VRF_OK;

cleanup:
    return ret;
}

int vrf_cbor_expect(struct vrf_cbor *c, unsigned major, uint64_t *arg)
{
    int ret;
    unsigned got;
    size_t start = c->off;

    ret = vrf_cbor_head(c, &got, arg);
    if (ret != VRF_OK)
        goto cleanup;
    if (got != major) {
        c->off = start;
        ret = VRF_ERR_PARSE_TYPE;
    }

cleanup:
    return ret;
}

int vrf_cbor_int(struct vrf_cbor *c, int64_t *v)
{
    int ret;
    unsigned major;
    uint64_t arg;

    ret = vrf_cbor_head(c, &major, &arg);
    if (ret != VRF_OK)
        goto cleanup;
    ret = VRF_ERR_PARSE_TYPE;
    if (major == VRF_CBOR_UINT && arg <= (uint64_t)INT64_MAX) {
        *v = (int64_t)arg;
        ret = VRF_OK;
    } else if (major == VRF_CBOR_NINT && arg <= (uint64_t)INT64_MAX) {
        /* A negative integer encodes -1 - arg. */
        *v = -1 - (int64_t)arg;
        ret = VRF_OK;
    }

cleanup:
    return ret;
}

int vrf_cbor_string(struct vrf_cbor *c, unsigned major, size_t max,
                    struct vrf_bytes *out)
{
    int ret;
    uint64_t n;

    ret = vrf_cbor_expect(c, major, &n);
    if (ret != VRF_OK)
        goto cleanup;
    ret = VRF_ERR_PARSE_LIMIT;
    if (n > max)
        goto cleanup;
    ret = VRF_ERR_PARSE_TRUNCATED;
    if (n > c->len - c->off)
        goto cleanup;
    out->p = c->buf + c->off;
    out->len = (size_t)n;
    c->off += (size_t)n;
    ret = VRF_OK;

cleanup:
    return ret;
}

void vrf_cbor_map_init(struct vrf_cbor_map *m, uint64_t allowed)
{
    m->allowed = allowed;
    m->seen = 0;
    m->prev = 0;
    m->first = 1;
}

int vrf_cbor_map_key(struct vrf_cbor *c, struct vrf_cbor_map *m, uint64_t *key)
{
    int ret;
    uint64_t k;

    /* 1. Keys are unsigned integers. */
    ret = vrf_cbor_expect(c, VRF_CBOR_UINT, &k);
    if (ret != VRF_OK)
        goto cleanup;
    *key = k; /* also on failure below: the caller's message names it */
    /* 2. Each at most once. */
    ret = VRF_ERR_PARSE_DUP_KEY;
    if (k < 64 && (m->seen & (1ull << k)) != 0)
        goto cleanup;
    /* 3. Only the keys this map defines. */
    ret = VRF_ERR_PARSE_UNKNOWN_KEY;
    if (k >= 64 || (m->allowed & (1ull << k)) == 0)
        goto cleanup;
    /* 4. In increasing order (RFC 8949, 4.2.1: bytewise order of the
     *    encoded keys, which is numeric order for minimal uints). */
    ret = VRF_ERR_PARSE_NONCANONICAL;
    if (!m->first && k < m->prev)
        goto cleanup;
    m->first = 0;
    m->prev = k;
    m->seen |= 1ull << k;
    ret = VRF_OK;

cleanup:
    return ret;
}

int vrf_cbor_map_end(const struct vrf_cbor_map *m, uint64_t required,
                     uint64_t *missing)
{
    uint64_t lack = required & ~m->seen;

    if (lack == 0)
        return VRF_OK;
    *missing = (uint64_t)__builtin_ctzll(lack);
    return VRF_ERR_PARSE_MISSING_KEY;
}
