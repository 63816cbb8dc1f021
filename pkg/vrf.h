/* vrf.h: the hot patch package verifier: parse a signed package, check its
 * certificate chain and signature, and check it against the running guest,
 * with no I/O of its own (see docs/FORMAT.md).
 *
 * Use:
 *   struct vrf_trust trust;              once, at start-up
 *   vrf_trust_init(&trust);
 *   vrf_trust_add_anchors(&trust, pem, len);   every trust anchor first,
 *   vrf_trust_add_crl(&trust, crl, len);       then every CRL
 *
 *   struct vrf_pkg pkg;                  per package
 *   vrf_pkg_init(&pkg);
 *   ret = vrf_verify(&trust, &ctx, buf, len, &pkg);
 *   ... VRF_OK: pkg holds the approved package; else vrf_strerror(ret) and
 *       pkg.detail say why ...
 *   vrf_pkg_free(&pkg);
 *
 *   vrf_trust_free(&trust);
 *
 * Checks, in this fixed order; the first failure is the result:
 *   1 parse  2 chain  3 EKU  4 validity  5 revocation  6 signature
 *   7 baseline  8 sequence  9 pre-images  10 bounds
 * (9 reads only records that lie in a range of their kind: one outside
 * every range is check 10's VRF_ERR_BOUNDS_*, whatever ctx->read could
 * reach, so offline and in-VM verdicts agree.)
 *
 * Not thread-safe: one struct vrf_trust per thread (it caches chains). */
#ifndef VRF_H
#define VRF_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ecp.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

/* ------------------------------------------------------------------ limits */
#define VRF_FORMAT_VERSION 1u
#define VRF_PKG_MAX_SIZE (4u << 20)    /* whole package, bytes */
#define VRF_MAX_RECORDS 256u           /* records per package */
#define VRF_MAX_RECORD_SIZE (1u << 20) /* bytes one record changes */
#define VRF_MAX_CERTS 4u               /* certificates in x5chain */
#define VRF_MAX_CERT_SIZE 8192u        /* one DER certificate */
#define VRF_MAX_CVES 16u               /* CVE ids per package */
#define VRF_ID_MAX 32u                 /* package id, bytes */
#define VRF_TITLE_MAX 200u             /* title, UTF-8 bytes */
#define VRF_PUBLISHER_MAX 128u         /* publisher, UTF-8 bytes */
#define VRF_CVE_MAX 24u                /* one CVE id, bytes */
#define VRF_KIND_MAX 16u               /* guest kind, bytes */
#define VRF_BASELINE_SIZE 32u          /* SHA-256 of the guest image */
#define VRF_SIG_SIZE 96u               /* ES384: r || s, 48 bytes each */
#define VRF_REDIRECT_SIZE 5u           /* e9 rel32 */
#define VRF_COSE_ALG_ES384 (-35)       /* COSE algorithm: ECDSA w/ SHA-384 */
#define VRF_COSE_TAG_SIGN1 18u         /* CBOR tag of COSE_Sign1 */
#define VRF_TRUST_MAX_ANCHORS 32u
#define VRF_TRUST_MAX_CRLS 64u
#define VRF_TRUST_CACHE_SIZE 8u /* verified chains kept */
#define VRF_DETAIL_MAX 256u

/* Extended key usage a signing certificate must carry: "hot patch package
 * signing", 2.25.155942760495678342082062318095446178319.1.1, in the
 * project-private arc 2.25.<UUID 75517bb3-5109-4bee-8989-61e44bedfa0f>
 * (ITU-T X.667: an OID made from a UUID needs no registration). DER
 * contents octets, without tag and length. */
#define VRF_EKU_OID_TEXT "2.25.155942760495678342082062318095446178319.1.1"
#define VRF_EKU_OID                                                            \
    "\x69\x81\xea\xd1\xbd\xec\xea\x90\xca\xaf\xdd\x89\xc4\xd8\xbc\xc4\xdf"     \
    "\xb7\xf4\x0f\x01\x01"
#define VRF_EKU_OID_LEN 22u

#include "lib/vrf_err.h"  /* the error codes every component reports */
#include "lib/vrf_time.h"

/* ------------------------------------------------------------------ package */
enum vrf_rec_kind {
    VRF_REC_REPLACE = 1,  /* gpa, pre-image, new bytes of the same length */
    VRF_REC_CODE = 2,     /* new code in a patch area; pre-image: all zero */
    VRF_REC_REDIRECT = 3, /* gpa of a function entry, 5-byte pre-image and
                             a target: the verifier writes e9 rel32 */
};

/* Bytes inside the package buffer given to vrf_pkg_parse()/vrf_verify():
 * valid only while that buffer is. */
struct vrf_bytes {
    const uint8_t *p;
    size_t len;
};

struct vrf_record {
    uint32_t kind;         /* enum vrf_rec_kind */
    uint64_t gpa;          /* first guest-physical byte changed */
    uint64_t size;         /* bytes changed: [gpa, gpa + size) */
    struct vrf_bytes pre;  /* REPLACE, REDIRECT: expected current bytes;
                              CODE: empty (expected bytes are zero) */
    struct vrf_bytes data; /* REPLACE, CODE: the new bytes;
                              REDIRECT: points at `jmp` below */
    uint64_t target;       /* REDIRECT: gpa the jump goes to */
    uint8_t jmp[VRF_REDIRECT_SIZE]; /* REDIRECT: e9 rel32, computed by the
                                       parser from gpa and target */
};

/* The signer as its certificate names it. Filled by vrf_verify() on
 * success (verified) or by vrf_pkg_signer() (NOT verified). */
struct vrf_signer {
    int verified;      /* 1 only if filled by a successful vrf_verify */
    char subject[256]; /* e.g. "CN=hvpatch signing, O=..." */
    char issuer[256];
    char serial[100];   /* hex, colon-separated */
    int64_t not_before; /* seconds since the epoch, UTC */
    int64_t not_after;
    uint8_t fingerprint[32]; /* SHA-256 of the DER certificate */
    size_t chain_len;        /* certificates in x5chain */
    char anchor[256];        /* subject of the trust anchor (verified only) */
};

struct vrf_pkg {
    /* Envelope (COSE_Sign1). */
    int is_signed; /* x5chain and signature present */
    int64_t alg;   /* COSE alg; always VRF_COSE_ALG_ES384 */
    size_t n_certs;
    struct vrf_bytes certs[VRF_MAX_CERTS]; /* DER, signer first */
    struct vrf_bytes protected_hdr;        /* serialized protected header map */
    struct vrf_bytes payload;              /* serialized payload map */
    struct vrf_bytes signature;            /* empty if unsigned */
    /* Payload. */
    uint64_t format; /* VRF_FORMAT_VERSION */
    char id[VRF_ID_MAX + 1];
    char title[VRF_TITLE_MAX + 1];
    size_t n_cves;
    char cves[VRF_MAX_CVES][VRF_CVE_MAX + 1];
    char publisher[VRF_PUBLISHER_MAX + 1];
    char kind[VRF_KIND_MAX + 1]; /* guest kind, e.g. "demo", "linux" */
    uint8_t baseline[VRF_BASELINE_SIZE];
    uint64_t sequence;
    size_t n_records;
    struct vrf_record *records; /* owned; freed by vrf_pkg_free */
    /* Result. */
    struct vrf_signer signer;    /* see struct vrf_signer */
    size_t fail_offset;          /* parse errors: byte offset in input */
    long fail_record;            /* index of the record at fault, or -1 */
    char detail[VRF_DETAIL_MAX]; /* what exactly failed; "" if nothing */
};

/* Prepare pkg for use; call before vrf_pkg_parse or vrf_verify. */
void vrf_pkg_init(struct vrf_pkg *pkg);

/* Release what pkg owns and wipe it; pkg may be re-initialised after.
 * NULL is allowed. */
void vrf_pkg_free(struct vrf_pkg *pkg);

/* Step 1 alone: parse buf (len bytes) as a signed or unsigned package,
 * with every structural check of docs/FORMAT.md (deterministic CBOR, no
 * trailing bytes, hard limits). Checks nothing cryptographic: use it to
 * inspect, never to approve. pkg must be initialised and is reset first.
 * Returns VRF_OK or a VRF_ERR_PARSE_* code (pkg->fail_offset and
 * pkg->detail say where), VRF_ERR_ARG or VRF_ERR_ALLOC. */
int vrf_pkg_parse(struct vrf_pkg *pkg, const uint8_t *buf, size_t len);

/* Describe the signer certificate of a parsed, signed package WITHOUT
 * verifying anything (for inspect). Returns VRF_OK, VRF_ERR_CHAIN_UNSIGNED
 * or VRF_ERR_CHAIN_CERT_PARSE. */
int vrf_pkg_signer(const struct vrf_pkg *pkg, struct vrf_signer *out);

/* The bytes record `rec` writes: *p and *len (= rec->size). */
void vrf_record_new_bytes(const struct vrf_record *rec, const uint8_t **p,
                          size_t *len);

/* The SHA-384 digest of the COSE Sig_structure
 * ["Signature1", protected, h'', payload] (RFC 9052, section 4.4): what
 * ES384 signs. For signers and the verifier alike. Returns VRF_OK or
 * VRF_ERR_CRYPTO. */
int vrf_cose_tbs_hash(const uint8_t *prot, size_t prot_len,
                      const uint8_t *payload, size_t payload_len,
                      uint8_t out[48]);

/* ------------------------------------------------------------------ trust */
struct vrf_chain_entry; /* vrf_int.h */

/* Trust anchors, CRLs and the cache of chains already checked. Fields are
 * private: use the functions. */
struct vrf_trust {
    mbedtls_x509_crt anchors; /* list; n_anchors entries */
    size_t n_anchors;
    mbedtls_x509_crl *crls[VRF_TRUST_MAX_CRLS];
    const mbedtls_x509_crt *crl_issuer[VRF_TRUST_MAX_CRLS];
    size_t n_crls;
    int no_cache; /* 1: check every chain from scratch */
    unsigned cache_next;
    struct vrf_chain_entry *cache[VRF_TRUST_CACHE_SIZE];
    mbedtls_ecp_group p384; /* caches the comb table of G */
    int p384_ok;
};

/* Prepare an empty trust store. */
void vrf_trust_init(struct vrf_trust *trust);

/* Release everything trust holds. NULL is allowed. */
void vrf_trust_free(struct vrf_trust *trust);

/* Add the trust anchors in buf: PEM (one or more CERTIFICATE blocks) or
 * one DER certificate. Each must be a CA certificate (basicConstraints
 * CA:TRUE). Add a CRL's issuer before the CRL. Clears the chain cache.
 * Returns VRF_OK, VRF_ERR_TRUST_ANCHOR_PARSE, VRF_ERR_TRUST_ANCHOR_NOT_CA,
 * VRF_ERR_TRUST_LIMIT, VRF_ERR_ARG or VRF_ERR_ALLOC. On error trust is
 * unchanged. */
int vrf_trust_add_anchors(struct vrf_trust *trust, const uint8_t *buf,
                          size_t len);

/* Add one CRL (PEM or DER). Its signature must verify under a trust anchor
 * whose subject is the CRL's issuer; only such CRLs are used. Returns
 * VRF_OK, VRF_ERR_TRUST_CRL_PARSE, VRF_ERR_TRUST_CRL_ISSUER,
 * VRF_ERR_TRUST_LIMIT, VRF_ERR_ARG or VRF_ERR_ALLOC. */
int vrf_trust_add_crl(struct vrf_trust *trust, const uint8_t *buf, size_t len);

/* Replace dst's contents with src's (dst's no_cache setting stays), and
 * leave src empty (as from vrf_trust_init). For swapping in a store
 * loaded aside: the struct cannot be copied with memcpy alone. */
void vrf_trust_move(struct vrf_trust *dst, struct vrf_trust *src);

/* The dates of CRL i (seconds since the epoch; next_update 0 if the CRL
 * has none), when i < the CRL count. Returns the CRL count. */
size_t vrf_trust_crl_dates(const struct vrf_trust *trust, size_t i,
                           int64_t *this_update, int64_t *next_update);

/* Drop every cached chain result (e.g. before a cold-path benchmark). */
void vrf_trust_cache_clear(struct vrf_trust *trust);

/* ------------------------------------------------------------------ verify */
enum vrf_range_kind {
    VRF_RANGE_CODE = 1,       /* protected code: REPLACE and REDIRECT */
    VRF_RANGE_PATCH_AREA = 2, /* protected patch area: CODE records and
                                 REDIRECT targets */
};

/* One protected range of guest-physical memory. A REDIRECT's target must
 * lie in a patch area of the same domain as its site (e.g. 0 = kernel,
 * 1 = user), so kernel code never jumps into user-mapped code. */
struct vrf_range {
    uint64_t base;
    uint64_t size;
    uint32_t kind; /* enum vrf_range_kind */
    uint32_t domain;
    /* The guest-virtual address of base, where the guest runs the range's
     * code (a Linux kernel's text and patch area); 0: the same as base
     * (the demo guest maps its code at VA == GPA). A REDIRECT's rel32 is
     * the distance between its site's and its target's virtual addresses. */
    uint64_t va;
};

/* Read len bytes of current guest memory at gpa into buf. Returns 0, or
 * non-zero if any byte of [gpa, gpa + len) cannot be read: the callback,
 * not the verifier, knows guest memory and must bounds-check. Called with
 * len <= 4096. */
typedef int (*vrf_read_fn)(void *opaque, uint64_t gpa, uint8_t *buf,
                           size_t len);

/* What the running guest is, for one call of vrf_verify. */
struct vrf_ctx {
    uint8_t baseline[VRF_BASELINE_SIZE]; /* SHA-256 of the booted image */
    const char *kind;                    /* "demo", "linux", ... */
    uint64_t current_seq;                /* highest applied so far */
    /* The package committed with current_seq (SHA-256 of its file), which
     * alone may be applied again with that sequence; NULL if none is
     * known (then an equal sequence is a replay). committed_live: it is
     * applied now (a replay too). */
    const uint8_t *committed_sha256;
    int committed_live;
    int64_t now;                         /* seconds since the epoch, UTC */
    vrf_read_fn read;
    void *read_opaque;
    const struct vrf_range *ranges;
    size_t n_ranges;
};

/* Verify package buf (len bytes) against trust and ctx: checks 1 to 10 of
 * docs/FORMAT.md in order. pkg must be initialised; it is reset first.
 * Returns VRF_OK (pkg holds the approved package, pkg->signer.verified is
 * 1) or the first failing check's VRF_ERR_* code, with pkg->detail (and
 * pkg->fail_record, pkg->fail_offset where they apply) saying exactly what
 * failed. On failure the parsed fields of pkg may be partly filled: use
 * them for messages only. */
int vrf_verify(struct vrf_trust *trust, const struct vrf_ctx *ctx,
               const uint8_t *buf, size_t len, struct vrf_pkg *pkg);

/* Checks 9 (pre-images) and 10 (bounds) alone, on a package parsed by
 * vrf_pkg_parse(): for builders and tests that want the verifier's exact
 * verdict on where records write before anything is signed. Never a
 * substitute for vrf_verify(). Returns VRF_OK or the first failure (with
 * pkg->detail and pkg->fail_record), or VRF_ERR_ARG. */
int vrf_check_records(const struct vrf_ctx *ctx, struct vrf_pkg *pkg);

/* The demo guest's protected ranges (lib/hv_abi.h): its kernel and user
 * text, and a patch area for each; domain 0 is the kernel, 1 user mode. */
const struct vrf_range *vrf_demo_ranges(size_t *n);

/* A Linux guest's protected ranges (lib/hv_abi.h, docs/LINUX.md "Text
 * lock"): its locked kernel text [text_gpa, +lock_size) at text_va, and
 * the patch area at HV_PROT_BASE, mapped at HV_LINUX_PATCH_VA; both
 * domain 0. Returns 2, or 0 if the text cannot be locked (bzImage, text
 * not page-aligned or larger than HV_LINUX_TEXT_MAX, patch area out of
 * rel32 reach of it). */
struct fw_linux_kernel;
size_t vrf_linux_ranges(const struct fw_linux_kernel *k,
                        struct vrf_range out[2]);

/* The guest-virtual address of gpa inside one of ranges[0..n), or gpa
 * itself if none holds it or the range has no va. */
uint64_t vrf_range_va(const struct vrf_range *ranges, size_t n, uint64_t gpa);

/* Sets jmp to `e9 rel32` from site to target (virtual addresses). Returns
 * 1, or 0 if target is out of rel32 reach (jmp zeroed). */
int vrf_encode_jmp(uint8_t jmp[VRF_REDIRECT_SIZE], uint64_t site,
                   uint64_t target);

/* ------------------------------------------------------------------ helpers */
/* 0 if a and b are equal, non-zero otherwise; time depends on len only. */
int vrf_ct_memcmp(const void *a, const void *b, size_t len);

/* "YYYY-MM-DDThh:mm:ss.mmmZ" (UTC) of a time in ms since the epoch,
 * computed without gmtime_r, which may read /etc/localtime (forbidden in
 * both sandboxes). */

/* Seconds since the epoch for an X.509 time (UTC); years 0..9999. */
int64_t vrf_x509_time_to_epoch(const mbedtls_x509_time *t);

#endif /* VRF_H */
