/* vrf_err.c: the verifier's error codes: one table of stable codes, their
 * names and their messages. */
#include "lib/lib_err.h"
#include "lib/vrf_err.h"

#define ROW LIB_ERR_ROW

static const struct lib_err_row vrf_err_table[] = {
    ROW(VRF_OK, "package approved"),
    ROW(VRF_ERR_ARG, "invalid argument"),
    ROW(VRF_ERR_ALLOC, "out of memory"),
    ROW(VRF_ERR_CRYPTO, "crypto library failure"),
    /* 1. Parse. */
    ROW(VRF_ERR_PARSE_TOO_LARGE, "package larger than the 4 MiB limit"),
    ROW(VRF_ERR_PARSE_TRUNCATED,
        "package truncated: input ends inside an item"),
    ROW(VRF_ERR_PARSE_TRAILING, "trailing bytes after the end of an item"),
    ROW(VRF_ERR_PARSE_NONCANONICAL,
        "CBOR not deterministically encoded (non-minimal or indefinite "
        "length, reserved value, or map keys out of order)"),
    ROW(VRF_ERR_PARSE_TYPE, "CBOR item of the wrong type or size"),
    ROW(VRF_ERR_PARSE_TAG, "not a COSE_Sign1 message (CBOR tag 18 expected)"),
    ROW(VRF_ERR_PARSE_DUP_KEY, "duplicate map key"),
    ROW(VRF_ERR_PARSE_UNKNOWN_KEY, "unknown map key"),
    ROW(VRF_ERR_PARSE_MISSING_KEY, "required map key missing"),
    ROW(VRF_ERR_PARSE_VERSION, "unknown package format version"),
    ROW(VRF_ERR_PARSE_ALG,
        "unsupported signature algorithm (only ES384, COSE alg -35)"),
    ROW(VRF_ERR_PARSE_UNPROTECTED, "unprotected header is not empty"),
    ROW(VRF_ERR_PARSE_LIMIT, "a length or count exceeds its hard limit"),
    ROW(VRF_ERR_PARSE_TEXT,
        "text field empty, not UTF-8, or holding control or bidi characters"),
    ROW(VRF_ERR_PARSE_ID, "package id malformed"),
    ROW(VRF_ERR_PARSE_CVE, "CVE id malformed or listed twice"),
    ROW(VRF_ERR_PARSE_KIND, "guest kind malformed"),
    ROW(VRF_ERR_PARSE_BASELINE, "baseline digest is not 32 bytes"),
    ROW(VRF_ERR_PARSE_SEQUENCE, "sequence number is zero"),
    ROW(VRF_ERR_PARSE_NO_RECORDS, "package has no records"),
    ROW(VRF_ERR_PARSE_RECORD_KIND, "unknown record kind"),
    ROW(VRF_ERR_PARSE_RECORD_SIZE,
        "record size invalid (empty, too large, pre-image and new bytes "
        "differ in length, or redirect pre-image not 5 bytes)"),
    ROW(VRF_ERR_PARSE_RECORD_WRAP,
        "record range wraps around the address space"),
    ROW(VRF_ERR_PARSE_SIG_SIZE, "signature is not 96 bytes (ES384 r || s)"),
    ROW(VRF_ERR_PARSE_X5CHAIN,
        "x5chain malformed, or signature and x5chain not both present"),
    /* 2. Chain. */
    ROW(VRF_ERR_CHAIN_UNSIGNED, "package is not signed"),
    ROW(VRF_ERR_CHAIN_CERT_PARSE, "a certificate in x5chain does not parse"),
    ROW(VRF_ERR_CHAIN_UNTRUSTED,
        "certificate chain does not lead to a trust anchor (unknown CA or "
        "bad certificate signature)"),
    ROW(VRF_ERR_CHAIN_PROFILE,
        "certificate algorithm or key outside the allowed profile "
        "(ECDSA P-256/P-384/P-521, SHA-256/384/512)"),
    ROW(VRF_ERR_CHAIN_EXTRA_CERT,
        "x5chain holds certificates that are not on the path to the anchor"),
    ROW(VRF_ERR_CHAIN_LEAF_CA, "signing certificate is a CA certificate"),
    ROW(VRF_ERR_CHAIN_OTHER, "certificate chain rejected by the X.509 library"),
    ROW(VRF_ERR_CHAIN_NOT_CA, "an issuer in the chain is not a CA"),
    ROW(VRF_ERR_CHAIN_PATHLEN, "a pathLenConstraint is exceeded"),
    /* 3. EKU. */
    ROW(VRF_ERR_EKU_MISSING,
        "signing certificate has no extended key usage extension"),
    ROW(VRF_ERR_EKU_WRONG,
        "signing certificate lacks the hot patch signing extended key usage"),
    ROW(VRF_ERR_EKU_KEY_USAGE,
        "signing certificate key usage does not allow digitalSignature"),
    /* 4. Validity. */
    ROW(VRF_ERR_VALIDITY_NOT_YET,
        "a certificate in the chain is not yet valid"),
    ROW(VRF_ERR_VALIDITY_EXPIRED, "a certificate in the chain has expired"),
    /* 5. Revocation. */
    ROW(VRF_ERR_REVOKE_REVOKED, "a certificate in the chain is revoked"),
    ROW(VRF_ERR_REVOKE_CRL_NOT_YET, "a CRL for the chain is not yet valid"),
    ROW(VRF_ERR_REVOKE_CRL_EXPIRED,
        "a CRL for the chain is past its next update"),
    /* 6. Signature. */
    ROW(VRF_ERR_SIG_KEY, "signing key is not an ECDSA P-384 key (ES384)"),
    ROW(VRF_ERR_SIG_INVALID, "signature does not verify"),
    /* 7. Baseline. */
    ROW(VRF_ERR_BASELINE_KIND, "package is for another kind of guest"),
    ROW(VRF_ERR_BASELINE_DIGEST,
        "package was built for another guest image (baseline digest differs)"),
    /* 8. Sequence. */
    ROW(VRF_ERR_SEQ_REPLAY, "sequence number equals the current one (replay)"),
    ROW(VRF_ERR_SEQ_ROLLBACK,
        "sequence number below the current one (rollback)"),
    ROW(VRF_ERR_SEQ_DIGEST, "sequence number equals the current one, but "
                            "another package was committed with it"),
    /* 9. Pre-images. */
    ROW(VRF_ERR_PREIMAGE_READ, "guest bytes of a record could not be read"),
    ROW(VRF_ERR_PREIMAGE_MISMATCH,
        "guest bytes differ from a record's pre-image"),
    /* 10. Bounds. */
    ROW(VRF_ERR_BOUNDS_OUTSIDE, "record not inside one protected code range"),
    ROW(VRF_ERR_BOUNDS_PATCH_AREA, "patch-area code not inside one patch area"),
    ROW(VRF_ERR_BOUNDS_OVERLAP, "records overlap"),
    ROW(VRF_ERR_BOUNDS_TARGET,
        "redirect target not inside new code of this package"),
    ROW(VRF_ERR_BOUNDS_DOMAIN,
        "redirect target in a patch area of another domain"),
    ROW(VRF_ERR_BOUNDS_REL32, "redirect target out of rel32 reach"),
    /* Trust store. */
    ROW(VRF_ERR_TRUST_ANCHOR_PARSE, "trust anchor does not parse"),
    ROW(VRF_ERR_TRUST_ANCHOR_NOT_CA, "trust anchor is not a CA certificate"),
    ROW(VRF_ERR_TRUST_CRL_PARSE, "CRL does not parse"),
    ROW(VRF_ERR_TRUST_CRL_ISSUER,
        "CRL is not signed by any trust anchor named as its issuer"),
    ROW(VRF_ERR_TRUST_LIMIT, "too many trust anchors or CRLs"),
    ROW(VRF_ERR_TRUST_CRL_EXPIRED,
        "trust store loaded, but a CRL is past its next update"),
    ROW(VRF_ERR_TRUST_READ,
        "trust store directory cannot be read or has no anchor"),
};

#define VRF_ERR_COUNT LIB_ERR_COUNT(vrf_err_table)

const char *vrf_strerror(int code)
{
    return lib_err_msg(vrf_err_table, VRF_ERR_COUNT, code);
}

const char *vrf_errname(int code)
{
    const struct lib_err_row *r =
        lib_err_find(vrf_err_table, VRF_ERR_COUNT, code);

    return r != NULL ? r->name : NULL;
}

int vrf_errcode(const char *name, int *code)
{
    const struct lib_err_row *r = NULL;

    if (name != NULL && code != NULL)
        r = lib_err_byname(vrf_err_table, VRF_ERR_COUNT, name);
    if (r == NULL)
        return VRF_ERR_ARG;
    *code = r->code;
    return VRF_OK;
}

const int *vrf_errcodes(size_t *n)
{
    static int codes[VRF_ERR_COUNT];

    for (size_t i = 0; i < VRF_ERR_COUNT; i++)
        codes[i] = vrf_err_table[i].code;
    *n = VRF_ERR_COUNT;
    return codes;
}
