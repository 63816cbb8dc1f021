/* vrf_tpm.h: the verifier's TPM: tpm2-tss ESAPI wrapper (start-up, PCR
 * extend/read, anti-rollback NV counter, EK and attestation key, quote),
 * the attestation files tpm2_checkquote reads, and the offline attestation
 * checker (signature, nonce, magic, type, PCR digest, event-log replay).
 *
 * Layers, bottom up (one file each):
 *   vrf_tpm_tcti.c   bounded-time TCTI for a local swtpm unix socket
 *   vrf_tpm.c        ESAPI calls; every TSS2_RC decoded into last_error
 *   vrf_tpm_files.c  tpm2-tools file formats (quote.pcrs, ...) and the
 *                    attestation directory
 *   vrf_tpm_check.c  attestation checks in a fixed order (no TPM needed)
 *   vrf_tpm_cli.c    `hvpatch verify-attestation`
 *
 * A struct vrf_tpm is used by one thread at a time. Errors are stable
 * negative codes (below, never reused); vrf_tpm_strerror() gives the fixed
 * text and vrf_tpm_last_error() the detail of the last failure on a
 * context, e.g. "TPM: Esys_Quote failed: tpm:error(2.0): ...". Blocks:
 * VRF_ERR_TPM_* -3100..-3129, VRF_ERR_ATT_* -3130..-3199 (disjoint from
 * the package checks' VRF_ERR_* in vrf.h).
 */
#ifndef VRF_TPM_H
#define VRF_TPM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "firmware/fw_eventlog.h"
#include "firmware/fw_measure.h"
#include "lib/vrf_msg.h"

enum {
    VRF_TPM_OK = 0,
    /* Using the TPM. */
    VRF_ERR_TPM_ARG = -3100,           /* invalid argument */
    VRF_ERR_TPM_NOMEM = -3101,         /* out of memory */
    VRF_ERR_TPM_TCTI = -3102,          /* TCTI could not be loaded/opened */
    VRF_ERR_TPM_ESYS = -3103,          /* a TPM command failed (see detail) */
    VRF_ERR_TPM_GONE = -3104,          /* TPM stopped answering (I/O error) */
    VRF_ERR_TPM_TIMEOUT = -3105,       /* TPM did not answer in time */
    VRF_ERR_TPM_BANKS = -3106,         /* no SHA-256 bank / unusable bank */
    VRF_ERR_TPM_PCR_NOT_RESET = -3107, /* PCRs already extended since boot */
    VRF_ERR_TPM_NO_AK = -3108,         /* no attestation key created yet */
    VRF_ERR_TPM_ROLLBACK = -3109,      /* sequence <= highest applied */
    VRF_ERR_TPM_NV_STEP = -3110,       /* sequence jumps > VRF_NV_MAX_STEP */
    VRF_ERR_TPM_NV_OVERSHOOT = -3111,  /* (no longer returned) */
    VRF_ERR_TPM_NV_ATTRS = -3112,      /* NV index exists, other attributes */
    VRF_ERR_TPM_IO = -3113,            /* reading or writing a file failed */
    VRF_ERR_TPM_QUOTE_RACE = -3114,    /* PCRs kept changing during quote */
    VRF_ERR_TPM_RANDOM = -3115,        /* no random nonce */
    VRF_ERR_TPM_NV_DOWN = -3116,       /* counter below what we saw */
    /* Checking an attestation, in the order the checks run. */
    VRF_ERR_ATT_FORMAT = -3130,      /* a file or structure is malformed */
    VRF_ERR_ATT_AK = -3131,          /* AK is not a restricted P-256 signer */
    VRF_ERR_ATT_SIGNATURE = -3132,   /* 1. quote signature does not verify */
    VRF_ERR_ATT_NONCE = -3133,       /* 2. extraData != the nonce */
    VRF_ERR_ATT_MAGIC = -3134,       /* 3. magic != TPM_GENERATED_VALUE */
    VRF_ERR_ATT_TYPE = -3135,        /* 4. type != TPM_ST_ATTEST_QUOTE */
    VRF_ERR_ATT_PCR_SELECT = -3136,  /* 5a. PCR selection wrong/incomplete */
    VRF_ERR_ATT_PCR_DIGEST = -3137,  /* 5b. PCR values != quoted digest */
    VRF_ERR_ATT_LOG = -3138,         /* 6a. event log does not parse */
    VRF_ERR_ATT_REPLAY = -3139,      /* 6b. log replay != quoted PCRs */
    VRF_ERR_ATT_LOG_CONTENT = -3140, /* 7. log is not a valid hvpatch log */
    VRF_ERR_ATT_BASELINE = -3141,    /* 8. baseline != expected target */
};

/* Fixed text of a VRF_ERR_TPM_* / VRF_ERR_ATT_* code ("unknown error"). */
const char *vrf_tpm_strerror(int err);

/* ---------------------------------------------------------- TPM context */

struct vrf_tpm;

/* Per-command bound on waiting for a TPM answer over the built-in swtpm
 * TCTI. Generous for a hardware-speed swtpm; a stuck swtpm fails with
 * VRF_ERR_TPM_TIMEOUT instead of hanging the verifier. */
#define VRF_TPM_TIMEOUT_MS 10000u

/* vrf_tpm_open() flags: VRF_TPM_OPEN_* (lib/vrf_msg.h: the monitor passes
 * them to the verifier). */

/* Opens the TPM named by a tpm2-tss TCTI string ("swtpm:path=/run/x.sock",
 * "device:/dev/tpmrm0", ...) and makes sure it is started
 * (TPM2_Startup(CLEAR); TPM_RC_INITIALIZE = already started is fine).
 * "swtpm:path=SOCK" uses the built-in bounded TCTI (vrf_tpm_tcti.c)
 * unless VRF_TPM_OPEN_TSS_TCTI; everything else goes through
 * Tss2_TctiLdr_Initialize. timeout_ms = 0 means VRF_TPM_TIMEOUT_MS.
 * Also reads the active PCR banks (SHA-256 required).
 * On success *out must be closed with vrf_tpm_close(). On failure *out is
 * NULL and, if errbuf is not NULL, errbuf gets the detail.
 * Returns 0, VRF_ERR_TPM_ARG, _NOMEM, _TCTI, _ESYS, _GONE, _TIMEOUT, _BANKS. */
int vrf_tpm_open(const char *tcti, unsigned flags, unsigned timeout_ms,
                 struct vrf_tpm **out, char *errbuf, size_t errlen);

/* Flushes the AK and frees everything; NULL is fine. Does not shut the TPM
 * down (see vrf_tpm_shutdown). */
void vrf_tpm_close(struct vrf_tpm *t);

/* Orderly TPM2_Shutdown(CLEAR), for a TPM that is about to stop (the
 * monitor's swtpm at VM end). Returns 0 or VRF_ERR_TPM_ESYS/_GONE/... */
int vrf_tpm_shutdown(struct vrf_tpm *t);

/* Detail of the last failure on t ("" if none); valid until the next call
 * on t. */
const char *vrf_tpm_last_error(const struct vrf_tpm *t);

/* True once the TPM stopped answering (I/O error or timeout); every later
 * call then fails fast with VRF_ERR_TPM_GONE. */
int vrf_tpm_is_gone(const struct vrf_tpm *t);

/* Active PCR banks (TCG algorithm ids, FW_ALG_*), in the order the event
 * log uses: pass them to fw_evlog_init(). Returns the count (1..4). */
size_t vrf_tpm_banks(const struct vrf_tpm *t, uint16_t algs[FW_EVLOG_MAX_ALGS]);

/* ------------------------------------------------------------------ PCRs */

/* Extends PCR pcr (0..23) of every bank in d with one TPM2_PCR_Extend;
 * d must hold exactly the active banks. Returns 0, VRF_ERR_TPM_ARG,
 * VRF_ERR_TPM_BANKS, _ESYS, _GONE, _TIMEOUT. */
int vrf_tpm_extend(struct vrf_tpm *t, uint32_t pcr, const struct fw_digests *d);

/* fw_extend_fn adapter for firmware/fw_measure.h: ctx is a struct vrf_tpm*.
 * Returns 0 or a VRF_ERR_TPM_* code (detail in vrf_tpm_last_error). */
int vrf_tpm_extend_cb(void *ctx, uint32_t pcr, const struct fw_digests *d);

/* Reads the SHA-256 bank PCRs in mask (bit i = PCR i) into out[i].
 * Returns 0, VRF_ERR_TPM_ARG, _ESYS, _GONE, _TIMEOUT. */
int vrf_tpm_pcr_read(struct vrf_tpm *t, uint32_t mask,
                     uint8_t out[FW_PCR_COUNT][FW_SHA256_SIZE]);

/* Fails with VRF_ERR_TPM_PCR_NOT_RESET unless every PCR in mask reads all
 * zero in every active bank checked (SHA-256): measured boot needs a TPM
 * that nothing extended since its start-up. */
int vrf_tpm_require_reset(struct vrf_tpm *t, uint32_t mask);

/* ------------------------------------------------ anti-rollback counter */

/* NV index of the counter: owner range, "hp" in the low bits. */
#define VRF_NV_ROLLBACK_INDEX 0x01306870u
/* Largest sequence increase one commit accepts (one TPM2_NV_Increment per
 * step; bounds the time a commit can take). */
#define VRF_NV_MAX_STEP 1024u

/* Highest applied sequence = (value of the TPM_NT_COUNTER index
 * VRF_NV_ROLLBACK_INDEX) - 1. One TPM2_NV_Read; the first call on a
 * context also finds the index (or defines it) and checks its attributes,
 * and t keeps that handle and the value read (see vrf_tpm_nv_commit_seq).
 * A value below one this context read or wrote before fails with
 * VRF_ERR_TPM_NV_DOWN: a counter never goes down, so the index was
 * replaced behind this context's back (its attributes are checked again
 * only by a new context). A TPM counter can only be incremented, by
 * one, and its first increment starts it at the highest value any counter
 * ever had on this TPM, plus one. So the index is defined on first use
 * (owner authorization, empty owner auth; attributes checked when it
 * exists) and incremented once at once: on a new TPM it then reads 1,
 * "highest applied = 0". Undefining and redefining it (owner auth) cannot
 * lower it; it then reads at least one more than before. An index that
 * vanished since the first call is looked up (or defined) again. Returns
 * 0, VRF_ERR_TPM_NV_ATTRS, _NV_DOWN, _ESYS, _GONE, _TIMEOUT. */
int vrf_tpm_nv_read_seq(struct vrf_tpm *t, uint64_t *highest);

/* Returns 0 if seq may be applied (seq > highest), VRF_ERR_TPM_ROLLBACK if
 * not, VRF_ERR_TPM_NV_STEP if seq - highest > VRF_NV_MAX_STEP, or a TPM
 * error. Reads the counter (vrf_tpm_nv_read_seq); changes nothing but a
 * first-use definition. */
int vrf_tpm_nv_check_seq(struct vrf_tpm *t, uint64_t seq);

/* The same check against a highest the caller has just read with
 * vrf_tpm_nv_read_seq: no TPM command (the apply path reads once). */
int vrf_tpm_nv_seq_allowed(struct vrf_tpm *t, uint64_t highest, uint64_t seq);

/* Records seq as the highest applied sequence: increments the counter
 * from the value this context last read or wrote (read first if none) to
 * seq + 1: seq + 1 - value TPM2_NV_Increment, at most VRF_NV_MAX_STEP,
 * and no read after. Someone else's increment in between leaves the
 * counter above seq + 1: stricter, never weaker, and the next read sees
 * it. Errors as vrf_tpm_nv_check_seq. An interrupted commit leaves the
 * counter between the old value and seq + 1, so the same package can be
 * committed again. */
int vrf_tpm_nv_commit_seq(struct vrf_tpm *t, uint64_t seq);

/* --------------------------------------------------------- attestation */

/* Creates the EK (TCG EK Credential Profile template L-2: ECC NIST P-256,
 * SHA-256, policy = PolicySecret(endorsement)) in the endorsement
 * hierarchy and an AK under it: ECC P-256, ECDSA-SHA256, restricted
 * signing, fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA.
 * The AK stays loaded until vrf_tpm_close(); the EK is flushed. Call once
 * at VM start. Returns 0, VRF_ERR_TPM_ESYS, _GONE, _TIMEOUT, _NOMEM. */
int vrf_tpm_ak_create(struct vrf_tpm *t);

/* struct vrf_quote and its limits are in lib/vrf_msg.h: the verifier
 * passes a quote to the monitor in a memfd (QUOTE). */
_Static_assert(VRF_QUOTE_PCRS == FW_PCR_COUNT && VRF_QUOTE_DIGEST == FW_SHA256_SIZE,
               "a quote carries every PC Client PCR's SHA-256 value");

/* Quotes the SHA-256 PCRs in mask with the AK over nonce (1..64 bytes,
 * the quote's qualifyingData) and reads the PCR values the quote covers
 * (retried when an extend slips in between). Returns 0, VRF_ERR_TPM_ARG,
 * _NO_AK, _QUOTE_RACE, _ESYS, _GONE, _TIMEOUT. */
int vrf_tpm_quote(struct vrf_tpm *t, uint32_t mask, const uint8_t *nonce,
                  size_t nonce_len, struct vrf_quote *q);

/* ---------------------------------------------- attestation directory */

/* The files of an attestation directory (`hvpatch attest --out DIR`):
 *   quote.msg     TPMS_ATTEST as signed          (tpm2_checkquote -m)
 *   quote.sig     TPMT_SIGNATURE, marshalled     (tpm2_checkquote -s)
 *   quote.pcrs    tpm2-tools PCR file            (tpm2_checkquote -f)
 *   ak.pub        TPM2B_PUBLIC, marshalled       (tpm2_checkquote -u)
 *   ak.pem        the same key, PEM SubjectPublicKeyInfo
 *   eventlog.bin  the TCG event log              (tpm2_eventlog, -e)
 *   nonce.hex     the nonce, lowercase hex       (tpm2_checkquote -q)
 * Check by hand:
 *   tpm2_checkquote -u ak.pub -m quote.msg -s quote.sig -f quote.pcrs \
 *       -g sha256 -q $(cat nonce.hex) -e eventlog.bin */
#define VRF_ATT_MSG "quote.msg"
#define VRF_ATT_SIG "quote.sig"
#define VRF_ATT_PCRS "quote.pcrs"
#define VRF_ATT_AK_PUB "ak.pub"
#define VRF_ATT_AK_PEM "ak.pem"
#define VRF_ATT_LOG "eventlog.bin"
#define VRF_ATT_NONCE "nonce.hex"

/* Writes every file above into dir (created 0700 if missing; files 0644,
 * written to a temporary name and renamed). Returns 0, VRF_ERR_TPM_ARG,
 * VRF_ERR_TPM_IO, VRF_ERR_ATT_FORMAT; errbuf (may be NULL) gets the
 * detail. */
int vrf_att_save(const char *dir, const struct vrf_quote *q,
                 const uint8_t *nonce, size_t nonce_len, const uint8_t *log,
                 size_t log_len, char *errbuf, size_t errlen);

/* Reads quote.msg, quote.sig, quote.pcrs, ak.pub and eventlog.bin from
 * dir into q and *log (malloc'ed, caller frees), enforcing each file's
 * size limit and format. Returns 0, VRF_ERR_TPM_ARG, VRF_ERR_TPM_IO,
 * VRF_ERR_TPM_NOMEM or VRF_ERR_ATT_FORMAT (detail in errbuf). */
int vrf_att_load(const char *dir, struct vrf_quote *q, uint8_t **log,
                 size_t *log_len, char *errbuf, size_t errlen);

/* Reads the nonce the attestation was asked with (dir/nonce.hex, hex of
 * 1..VRF_NONCE_MAX bytes) into nonce and *len. Taken from the directory it
 * proves no freshness: a verifier that asked for the quote passes its own.
 * Returns 0, VRF_ERR_TPM_ARG, VRF_ERR_TPM_IO, VRF_ERR_TPM_NOMEM or
 * VRF_ERR_ATT_FORMAT (size or hex wrong), detail in errbuf. */
int vrf_att_load_nonce(const char *dir, uint8_t nonce[VRF_NONCE_MAX],
                       size_t *len, char *errbuf, size_t errlen);

/* tpm2-tools' PCR file (lib/pcr.c pcr_fwrite_serialized, 5.x): the host
 * structs TPML_PCR_SELECTION (132 bytes) then a UINT32 count of TPML_DIGEST
 * (532 bytes each, up to 8 digests per list), all little-endian, padding
 * zero. Encodes one SHA-256 bank with the PCRs in mask. Returns the file
 * size written into buf, or VRF_ERR_TPM_ARG if cap is too small. */
int vrf_pcrs_file_encode(uint32_t mask,
                         const uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE],
                         uint8_t *buf, size_t cap);
/* Strictly decodes such a file: exact size, one SHA-256 bank, digest lists
 * filled in selection order with size-32 digests. Returns 0 or
 * VRF_ERR_ATT_FORMAT. */
int vrf_pcrs_file_decode(const uint8_t *buf, size_t len, uint32_t *mask,
                         uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE]);
#define VRF_PCRS_FILE_MAX (132u + 4u + 24u * 532u) /* 1 digest per list */

/* ---------------------------------------------------- attestation check */

/* What a verified attestation says. */
struct vrf_attest_report {
    uint32_t pcr_mask;                         /* quoted SHA-256 PCRs */
    uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE]; /* quoted (== replayed) */
    uint64_t clock, reset_count, restart_count, firmware_version;
    uint8_t image_digest[FW_SHA256_SIZE]; /* baseline: image SHA-256 */
    char kind[FW_KIND_MAX + 1];           /* baseline: guest kind */
    uint8_t boot_id[FW_SHA256_SIZE];      /* SHA-256(PCR0||4||8||9) */
    char cmdline[FW_CMDLINE_MAX + 1];     /* measured command line */
    int has_initrd;
    struct fw_runtime_rec *runtime; /* every runtime record, log order */
    size_t nruntime;
    char detail[384]; /* on failure: what exactly failed */
};

/* Checks an attestation, steps in this order, stopping at the first
 * failure (every step's code is listed in the enum above):
 *   0. formats: AK public is a restricted ECC P-256 ECDSA-SHA256 signer,
 *      quote.msg and quote.sig unmarshal exactly;
 *   1. signature: ECDSA (mbedTLS) over SHA-256(quote.msg) with the AK;
 *   2. nonce: extraData == nonce (constant time);
 *   3. magic == TPM_GENERATED_VALUE;  4. type == TPM_ST_ATTEST_QUOTE;
 *   5. PCRs: the quoted selection is exactly one SHA-256 bank, equal to
 *      q->pcr_mask and covering FW_PCR_QUOTE_MASK; SHA-256 of the PCR
 *      values in selection order == pcrDigest;
 *   6. event log parses (strictly) and its SHA-256 replay == every quoted
 *      PCR (PCRs the log never extends must be zero);
 *   7. the log is an hvpatch log: PCR 0/4/8/9/10 records as fw_measure.h
 *      writes them, self-describing digests (CRTM version, separator,
 *      command line, tagged events) recomputed, patch sequences strictly
 *      increasing, reverts naming an applied patch.
 * On success fills rep (pair with vrf_attest_report_free). The AK is
 * trusted as given: pin it (the caller's copy of ak.pub), don't take it
 * from the directory being checked. */
int vrf_attest_check(const struct vrf_quote *q, const uint8_t *nonce,
                     size_t nonce_len, const uint8_t *log, size_t log_len,
                     struct vrf_attest_report *rep);

/* Steps 6 and 7 of vrf_attest_check against SHA-256 PCR values that the
 * caller read from its own TPM (mask must cover FW_PCR_QUOTE_MASK): no
 * signature, no nonce. Fills rep as vrf_attest_check does, without the
 * quote's clock fields. Returns 0, VRF_ERR_TPM_ARG, VRF_ERR_ATT_LOG,
 * _REPLAY or _LOG_CONTENT (rep->detail says why). */
int vrf_attest_check_log(uint32_t mask,
                         const uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE],
                         const uint8_t *log, size_t log_len,
                         struct vrf_attest_report *rep);

/* Frees rep->runtime; safe on a zeroed report. */
void vrf_attest_report_free(struct vrf_attest_report *rep);

/* 8. Returns 0 if the attested baseline is (image_digest, kind), else
 * VRF_ERR_ATT_BASELINE with rep->detail set. */
int vrf_attest_check_baseline(struct vrf_attest_report *rep,
                              const uint8_t image_digest[FW_SHA256_SIZE],
                              const char *kind);

/* The TPM part of approving a patch: a fresh quote (random nonce from
 * getrandom) over FW_PCR_QUOTE_MASK with t's AK, checked with
 * vrf_attest_check against log, then vrf_attest_check_baseline against
 * the package's target. On failure rep->detail (and for TPM errors
 * vrf_tpm_last_error) says why. Pair rep with vrf_attest_report_free. */
int vrf_tpm_check_fresh(struct vrf_tpm *t, const uint8_t *log, size_t log_len,
                        const uint8_t target_digest[FW_SHA256_SIZE],
                        const char *target_kind, struct vrf_attest_report *rep);

/* The TPM part of approving a patch in the verifier (docs/TPM.md §4,
 * "Why a PCR read suffices"): one TPM2_PCR_Read of FW_PCR_QUOTE_MASK,
 * checked with vrf_attest_check_log against the verifier's own log, then
 * vrf_attest_check_baseline against the package's target. It proves what
 * the fresh quote proved to the verifier itself (its TPM was neither reset
 * nor extended behind its back, the baseline is the package's), not what
 * a quote proves to a remote party. Errors and rep as
 * vrf_tpm_check_fresh. */
int vrf_tpm_check_pcrs(struct vrf_tpm *t, const uint8_t *log, size_t log_len,
                       const uint8_t target_digest[FW_SHA256_SIZE],
                       const char *target_kind, struct vrf_attest_report *rep);

/* Prints a verified report: baseline, boot id, PCRs, runtime records and
 * the patches applied now (patched and not reverted). */
void vrf_attest_report_print(const struct vrf_attest_report *rep, FILE *f);

#endif /* VRF_TPM_H */
