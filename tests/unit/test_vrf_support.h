/* test_vrf_support.h: what the verifier's tests share: a PKI generated at
 * run time (no private key is ever committed), a package builder that can
 * also build every malformed variant the vectors name, and a simulated
 * guest memory. */
#ifndef TEST_VRF_SUPPORT_H
#define TEST_VRF_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "keys/keys.h"
#include "pkg/vrf.h"

/* ------------------------------------------------------------------ PKI */
/* Certificates by name (see tv_pki_init for what each one is). */
enum tv_cert {
    TV_ROOT,       /* trust anchor "CN=vec root" */
    TV_OTHER_ROOT, /* same name, another key: not trusted */
    TV_OLD_ROOT,   /* a root that expired yesterday */
    TV_INTER,      /* intermediate CA under TV_ROOT */
    TV_GOOD,       /* signer: EKU, digitalSignature, valid */
    TV_VIA_INTER,  /* signer under TV_INTER */
    TV_EXPIRED,
    TV_NOT_YET,
    TV_REVOKED,    /* listed by tv_pki.crl_revoking */
    TV_NO_EKU,
    TV_WRONG_EKU,  /* codeSigning only */
    TV_LEAF_CA,    /* CA:TRUE with the EKU */
    TV_P256,       /* EKU, but a P-256 key: not ES384 */
    TV_BAD_KU,     /* keyUsage without digitalSignature */
    TV_SHA1,       /* signed with SHA-1: outside the profile */
    TV_UNKNOWN,    /* issued by TV_OTHER_ROOT */
    TV_UNDER_OLD,  /* issued by TV_OLD_ROOT */
    TV_INTER_NOT_CA, /* "intermediate" under TV_ROOT with CA:FALSE */
    TV_VIA_NOT_CA,   /* signer under TV_INTER_NOT_CA */
    TV_INTER_NO_BC,  /* "intermediate" with no basicConstraints */
    TV_VIA_NO_BC,    /* signer under TV_INTER_NO_BC */
    TV_SUB_INTER,    /* CA under TV_INTER (pathlen 0): one CA too deep */
    TV_VIA_SUB,      /* signer under TV_SUB_INTER */
    TV_NCERTS
};

struct tv_pki {
    mbedtls_pk_context key[TV_NCERTS];
    mbedtls_x509_crt crt[TV_NCERTS];
    char *pem[TV_NCERTS];
    char *crl_revoking;   /* TV_ROOT's CRL listing TV_REVOKED, 30 days */
    char *crl_empty;      /* TV_ROOT's CRL listing nothing */
    char *crl_other;      /* signed by TV_OTHER_ROOT */
    int64_t created;      /* time(NULL) when made */
};

/* Make every key, certificate and CRL. 0 or -1. */
int tv_pki_init(struct tv_pki *pki);
void tv_pki_free(struct tv_pki *pki);

/* Name <-> enum ("good", "expired", ...); -1 if unknown. */
int tv_cert_by_name(const char *name);
const char *tv_cert_name(int c);

/* The issuer chain to put in x5chain for a signer (signer first). */
size_t tv_chain_of(int signer, int out[VRF_MAX_CERTS]);

/* ------------------------------------------------------------------ guest */
#define TV_MEM_BASE 0x40000000ull
#define TV_MEM_SIZE 0x00400000ull

struct tv_guest {
    uint8_t *mem;         /* TV_MEM_SIZE bytes at TV_MEM_BASE */
    uint64_t fail_gpa;    /* reads covering it fail; 0: none */
};

/* Reads inside the protected region come from mem, all other reads are
 * zero (RAM), except a read covering fail_gpa. */
int tv_guest_read(void *opaque, uint64_t gpa, uint8_t *buf, size_t len);

/* The demo guest's ranges (lib/hv_abi.h). */
extern const struct vrf_range tv_demo_ranges[4];

/* ------------------------------------------------------------------ cases */
/* One verification case: a base package, the vector's operations
 * (tests/vectors/README), the trust store and the context. */
struct tv_case;

/* Apply `ops` (space-separated key=value) to the base case and verify.
 * Returns the verifier's code (or a trust-loading code); *why gets a
 * message on a malformed vector (then the return is INT32_MIN). */
int tv_run(const struct tv_pki *pki, const char *ops, char *why,
           size_t why_len);

/* Build the base package (3 records, signed by TV_GOOD) and its context,
 * for tests that tamper with bytes: *pkg (free()), ctx fields, guest. */
int tv_base_package(const struct tv_pki *pki, uint8_t **pkg, size_t *len,
                    struct vrf_ctx *ctx, struct tv_guest *guest);

#endif /* TEST_VRF_SUPPORT_H */
