/* vrf_int.h: private to verifier/: the strict CBOR reader, the chain cache
 * entry, ECDSA and small helpers shared by the vrf_*.c files. */
#ifndef VRF_INT_H
#define VRF_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "pkg/vrf.h"

/* ------------------------------------------------------------------ CBOR
 * A reader for the deterministic subset of CBOR (RFC 8949, section 4.2.1)
 * the format uses: unsigned and negative integers, byte and text strings,
 * arrays, maps and tags, all of definite length with the shortest head.
 * Floats, simple values, indefinite lengths and non-minimal heads are
 * rejected. It never allocates and never recurses: the schema-driven
 * callers in vrf_pkg.c walk the structure. */
enum {
    VRF_CBOR_UINT = 0,
    VRF_CBOR_NINT = 1,
    VRF_CBOR_BSTR = 2,
    VRF_CBOR_TSTR = 3,
    VRF_CBOR_ARRAY = 4,
    VRF_CBOR_MAP = 5,
    VRF_CBOR_TAG = 6,
    VRF_CBOR_SIMPLE = 7,
};

struct vrf_cbor {
    const uint8_t *buf;
    size_t len;
    size_t off;     /* next byte to read */
    size_t base;    /* offset of buf within the whole package */
    size_t err_off; /* package offset of the item that failed */
};

/* Start reading buf; base is its offset within the package (for errors). */
void vrf_cbor_init(struct vrf_cbor *c, const uint8_t *buf, size_t len,
                   size_t base);

/* Read one head: its major type and argument (a value, a length or a
 * count). Returns VRF_OK, VRF_ERR_PARSE_TRUNCATED or
 * VRF_ERR_PARSE_NONCANONICAL (non-minimal head, indefinite length,
 * reserved additional information). */
int vrf_cbor_head(struct vrf_cbor *c, unsigned *major, uint64_t *arg);

/* Read an item of major type `major` (VRF_ERR_PARSE_TYPE otherwise) and
 * return its argument. */
int vrf_cbor_expect(struct vrf_cbor *c, unsigned major, uint64_t *arg);

/* Read an unsigned or negative integer into *v (int64 range). */
int vrf_cbor_int(struct vrf_cbor *c, int64_t *v);

/* Read a byte (VRF_CBOR_BSTR) or text (VRF_CBOR_TSTR) string of at most
 * max bytes (VRF_ERR_PARSE_LIMIT otherwise); out points into the buffer. */
int vrf_cbor_string(struct vrf_cbor *c, unsigned major, size_t max,
                    struct vrf_bytes *out);

/* True once every byte has been read. */
int vrf_cbor_done(const struct vrf_cbor *c);

/* Keys of one map: unsigned integers below 64, in strictly increasing
 * order (the deterministic order for such keys), each from `allowed`
 * (a bit mask) at most once. */
struct vrf_cbor_map {
    uint64_t allowed;
    uint64_t seen;
    uint64_t prev;
    int first;
};

void vrf_cbor_map_init(struct vrf_cbor_map *m, uint64_t allowed);

/* Read the next key into *key. Returns VRF_OK, VRF_ERR_PARSE_TYPE (not an
 * unsigned integer; *key unchanged), VRF_ERR_PARSE_DUP_KEY,
 * VRF_ERR_PARSE_UNKNOWN_KEY or VRF_ERR_PARSE_NONCANONICAL (out of order);
 * on the last three *key is the key refused, for the message. */
int vrf_cbor_map_key(struct vrf_cbor *c, struct vrf_cbor_map *m, uint64_t *key);

/* VRF_OK if every key in `required` was seen, else
 * VRF_ERR_PARSE_MISSING_KEY with the lowest missing key in *missing. */
int vrf_cbor_map_end(const struct vrf_cbor_map *m, uint64_t required,
                     uint64_t *missing);

/* ------------------------------------------------------------------ chains */
/* One checked certificate chain, keyed by the SHA-256 of the x5chain
 * certificates. Everything in it is independent of time: validity and
 * revocation are checked on every call against the caller's `now`. */
struct vrf_chain_entry {
    uint8_t key[32];
    int status;                  /* VRF_OK or the chain/EKU error */
    char detail[VRF_DETAIL_MAX]; /* for status != VRF_OK */
    mbedtls_x509_crt certs;      /* x5chain as given, signer first */
    size_t n_certs;
    /* The verified path, signer first, anchor last; pointers into
     * `certs` or the trust anchors. */
    const mbedtls_x509_crt *path[VRF_MAX_CERTS + 2];
    size_t path_len;
    /* The signer's key as the base point of a P-384 group, so that
     * mbedtls_ecp_mul() keeps its comb table between calls. */
    mbedtls_ecp_group signer_grp;
    int signer_grp_ok;
};

/* Find or build the chain entry for pkg's x5chain; *out is owned by
 * trust (or, with trust->no_cache, by the caller: free it with
 * vrf_chain_entry_free when *owned is set). Returns VRF_OK or
 * VRF_ERR_ALLOC/VRF_ERR_CRYPTO; the chain's own verdict is in
 * (*out)->status. */
int vrf_trust_chain(struct vrf_trust *trust, const struct vrf_pkg *pkg,
                    struct vrf_chain_entry **out, int *owned);

void vrf_chain_entry_free(struct vrf_chain_entry *e);

/* Step 4 and 5 for a checked chain. */
int vrf_chain_check_validity(const struct vrf_chain_entry *e, int64_t now,
                             struct vrf_pkg *pkg);
int vrf_chain_check_revocation(const struct vrf_trust *trust,
                               const struct vrf_chain_entry *e, int64_t now,
                               struct vrf_pkg *pkg);

/* ------------------------------------------------------------------ ECDSA */
/* Verify an ES384 signature (r || s, 48 bytes each) over a SHA-384
 * digest with the P-384 key q, as SEC 1 v2, section 4.1.4, with a
 * constant-time final comparison. `g_grp` is the P-384 group (its
 * generator's comb table cached); `q_grp`, if non-NULL, is a group whose
 * base point is q (comb table of q cached). Returns VRF_OK,
 * VRF_ERR_SIG_INVALID or VRF_ERR_CRYPTO. */
int vrf_ecdsa_p384_verify(mbedtls_ecp_group *g_grp, mbedtls_ecp_group *q_grp,
                          const mbedtls_ecp_point *q, const uint8_t hash[48],
                          const uint8_t sig[VRF_SIG_SIZE]);

/* Build a P-384 group whose base point is q (see struct vrf_chain_entry)
 * and self-test it against the plain computation. Returns VRF_OK or
 * VRF_ERR_CRYPTO (then do not use grp: it has been freed). */
int vrf_ecdsa_q_group(mbedtls_ecp_group *grp, const mbedtls_ecp_point *q);

/* Free a group made by vrf_ecdsa_q_group. */
void vrf_ecdsa_q_group_free(mbedtls_ecp_group *grp);

/* ------------------------------------------------------------------ misc */
/* printf into pkg->detail (truncating). */
void vrf_detail(struct vrf_pkg *pkg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Fill a struct vrf_signer from a parsed certificate (not "verified"). */
void vrf_signer_from_crt(struct vrf_signer *s, const mbedtls_x509_crt *crt);


#endif /* VRF_INT_H */
