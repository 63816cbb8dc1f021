/* vrf_err.h: the error codes of hvpatch: one vocabulary for every
 * component and process (the verifier reports them, the monitor and the
 * CLI name them), one table of names and messages (vrf_err.c). */
#ifndef VRF_ERR_H
#define VRF_ERR_H

#include <stddef.h>

/* Stable values: never renumber, only add. vrf_strerror() gives the
 * message, vrf_errname() the symbol. Grouped by the check that reports
 * them, in check order. */
#define VRF_OK 0
/* General. */
#define VRF_ERR_ARG -1    /* bad argument from the caller */
#define VRF_ERR_ALLOC -2  /* out of memory */
#define VRF_ERR_CRYPTO -3 /* crypto library failure */
/* 1. Parse. */
#define VRF_ERR_PARSE_TOO_LARGE -101
#define VRF_ERR_PARSE_TRUNCATED -102
#define VRF_ERR_PARSE_TRAILING -103
#define VRF_ERR_PARSE_NONCANONICAL -104
#define VRF_ERR_PARSE_TYPE -105
#define VRF_ERR_PARSE_TAG -106
#define VRF_ERR_PARSE_DUP_KEY -107
#define VRF_ERR_PARSE_UNKNOWN_KEY -108
#define VRF_ERR_PARSE_MISSING_KEY -109
#define VRF_ERR_PARSE_VERSION -110
#define VRF_ERR_PARSE_ALG -111
#define VRF_ERR_PARSE_UNPROTECTED -112
#define VRF_ERR_PARSE_LIMIT -113
#define VRF_ERR_PARSE_TEXT -114
#define VRF_ERR_PARSE_ID -115
#define VRF_ERR_PARSE_CVE -116
#define VRF_ERR_PARSE_KIND -117
#define VRF_ERR_PARSE_BASELINE -118
#define VRF_ERR_PARSE_SEQUENCE -119
#define VRF_ERR_PARSE_NO_RECORDS -120
#define VRF_ERR_PARSE_RECORD_KIND -121
#define VRF_ERR_PARSE_RECORD_SIZE -122
#define VRF_ERR_PARSE_RECORD_WRAP -123
#define VRF_ERR_PARSE_SIG_SIZE -124
#define VRF_ERR_PARSE_X5CHAIN -125
/* 2. Chain. */
#define VRF_ERR_CHAIN_UNSIGNED -201
#define VRF_ERR_CHAIN_CERT_PARSE -202
#define VRF_ERR_CHAIN_UNTRUSTED -203
#define VRF_ERR_CHAIN_PROFILE -204
#define VRF_ERR_CHAIN_EXTRA_CERT -205
#define VRF_ERR_CHAIN_LEAF_CA -206
#define VRF_ERR_CHAIN_OTHER -207
#define VRF_ERR_CHAIN_NOT_CA -208
#define VRF_ERR_CHAIN_PATHLEN -209
/* 3. Extended key usage. */
#define VRF_ERR_EKU_MISSING -301
#define VRF_ERR_EKU_WRONG -302
#define VRF_ERR_EKU_KEY_USAGE -303
/* 4. Validity period (against the caller's `now`). */
#define VRF_ERR_VALIDITY_NOT_YET -401
#define VRF_ERR_VALIDITY_EXPIRED -402
/* 5. Revocation. */
#define VRF_ERR_REVOKE_REVOKED -501
#define VRF_ERR_REVOKE_CRL_NOT_YET -502
#define VRF_ERR_REVOKE_CRL_EXPIRED -503
/* 6. Signature. */
#define VRF_ERR_SIG_KEY -601
#define VRF_ERR_SIG_INVALID -602
/* 7. Baseline. */
#define VRF_ERR_BASELINE_KIND -701
#define VRF_ERR_BASELINE_DIGEST -702
/* 8. Sequence. */
#define VRF_ERR_SEQ_REPLAY -801
#define VRF_ERR_SEQ_ROLLBACK -802
#define VRF_ERR_SEQ_DIGEST -803
/* 9. Pre-images. */
#define VRF_ERR_PREIMAGE_READ -901
#define VRF_ERR_PREIMAGE_MISMATCH -902
/* 10. Bounds. */
#define VRF_ERR_BOUNDS_OUTSIDE -1001
#define VRF_ERR_BOUNDS_PATCH_AREA -1002
#define VRF_ERR_BOUNDS_OVERLAP -1003
#define VRF_ERR_BOUNDS_TARGET -1004
#define VRF_ERR_BOUNDS_DOMAIN -1005
#define VRF_ERR_BOUNDS_REL32 -1006
/* Loading the trust store (vrf_trust_add_*), not per package. */
#define VRF_ERR_TRUST_ANCHOR_PARSE -1101
#define VRF_ERR_TRUST_ANCHOR_NOT_CA -1102
#define VRF_ERR_TRUST_CRL_PARSE -1103
#define VRF_ERR_TRUST_CRL_ISSUER -1104
#define VRF_ERR_TRUST_LIMIT -1105
#define VRF_ERR_TRUST_CRL_EXPIRED -1106 /* loaded, but a CRL is stale */
#define VRF_ERR_TRUST_READ -1107

/* The message for an error code ("unknown error" for anything else).
 * Never NULL; static storage. */
const char *vrf_strerror(int code);

/* The symbolic name of an error code, "VRF_OK" or "VRF_ERR_<AREA>_<REASON>",
 * or NULL if the code is not one of the above. Static storage. */
const char *vrf_errname(int code);

/* The code named `name` (as vrf_errname() spells it) in *code; 0 if found,
 * VRF_ERR_ARG if not. */
int vrf_errcode(const char *name, int *code);

/* Every defined code, in table order, for tests: *n receives the count. */
const int *vrf_errcodes(size_t *n);

#endif /* VRF_ERR_H */
