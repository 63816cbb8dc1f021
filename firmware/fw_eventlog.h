/* fw_eventlog.h: TCG PC Client crypto-agile event log: writer, strict
 * parser and PCR replay (TCG PC Client Platform Firmware Profile 1.05,
 * section 10: TCG_PCR_EVENT "Spec ID Event03" header, then TCG_PCR_EVENT2).
 *
 * Byte layout (all integers little-endian, no padding):
 *
 *   TCG_PCR_EVENT (first record only, the Spec ID event):
 *     u32 pcrIndex = 0, u32 eventType = EV_NO_ACTION, u8 digest[20] = 0,
 *     u32 eventDataSize, TCG_EfiSpecIDEvent {
 *       u8 signature[16] = "Spec ID Event03\0", u32 platformClass = 0,
 *       u8 specVersionMinor = 0, u8 specVersionMajor = 2, u8 specErrata = 0,
 *       u8 uintnSize = 2, u32 numberOfAlgorithms,
 *       { u16 algorithmId, u16 digestSize }[numberOfAlgorithms],
 *       u8 vendorInfoSize, u8 vendorInfo[vendorInfoSize] }
 *   TCG_PCR_EVENT2 (every later record):
 *     u32 pcrIndex, u32 eventType, u32 digestCount,
 *     { u16 hashAlg, u8 digest[size of hashAlg] }[digestCount],
 *     u32 eventSize, u8 event[eventSize]
 *
 * The parser is strict (it reads logs this code wrote, and they are the
 * evidence an auditor replays): every length is checked against the bytes
 * left, every record carries exactly one digest per algorithm of the Spec ID
 * event and in the same order, EV_NO_ACTION records carry zero digests and
 * are not extended, and the log ends exactly at the end of its last record.
 *
 * The hvpatch-specific payloads (boot info and runtime-change records, both
 * EV_EVENT_TAG) are documented in docs/TPM.md and below.
 */
#ifndef FW_EVENTLOG_H
#define FW_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>

/* Errors: stable negative values, never reused; fw_strerror() names them.
 * Shared by fw_eventlog and fw_measure. Block -3000..-3099 (disjoint from
 * pkg/vrf.h and keys/; docs/TPM.md lists every block). */
enum {
    FW_OK = 0,
    FW_ERR_ARG = -3000,          /* invalid argument (NULL, bad length) */
    FW_ERR_NOMEM = -3001,        /* out of memory */
    FW_ERR_LOG_TOO_BIG = -3002,  /* log would exceed FW_EVLOG_MAX_SIZE */
    FW_ERR_TRUNCATED = -3003,    /* a record runs past the end of the log */
    FW_ERR_SPECID = -3004,       /* first record is not a valid Spec ID */
    FW_ERR_ALG = -3005,          /* unknown, duplicate or missing algorithm */
    FW_ERR_DIGEST_COUNT = -3006, /* record digest count != Spec ID's */
    FW_ERR_DIGEST_ALG = -3007,   /* record digest algorithm out of order */
    FW_ERR_PCR_INDEX = -3008,    /* PCR index >= FW_PCR_COUNT */
    FW_ERR_EVENT_SIZE = -3009,   /* event data larger than allowed */
    FW_ERR_TOO_MANY = -3010,     /* more than FW_EVLOG_MAX_EVENTS records */
    FW_ERR_NO_ACTION = -3011,    /* EV_NO_ACTION record with a digest */
    FW_ERR_HASH = -3012,         /* hash computation failed (mbedTLS) */
    FW_ERR_PAYLOAD = -3013,      /* hvpatch tagged payload malformed */
    FW_ERR_EXTEND = -3014,       /* the PCR extend callback failed */
    FW_ERR_EMPTY = -3015,        /* a required input is missing */
};

/* Returns a fixed message for an FW_ERR_* code ("unknown error" else). */
const char *fw_strerror(int err);

/* Limits. The log stays far below tpm2_checkquote 5.4's 64 KiB read limit
 * for typical runs (about 150 bytes per runtime record). */
#define FW_EVLOG_MAX_SIZE (1u << 20)        /* whole log, bytes */
#define FW_EVLOG_MAX_EVENTS 8192u           /* records after the Spec ID */
#define FW_EVLOG_MAX_EVENT_DATA (64u << 10) /* one record's event data */
#define FW_EVLOG_MAX_ALGS 4u                /* algorithms per log */
#define FW_PCR_COUNT 24u                    /* PC Client PCRs 0..23 */
#define FW_MAX_DIGEST 64u

/* TCG algorithm ids (TPM 2.0 Part 2, TPM_ALG_ID). */
#define FW_ALG_SHA1 0x0004u
#define FW_ALG_SHA256 0x000Bu
#define FW_ALG_SHA384 0x000Cu
#define FW_ALG_SHA512 0x000Du
#define FW_SHA256_SIZE 32u

/* TCG PC Client event types used or recognised here. */
#define FW_EV_POST_CODE 0x00000001u
#define FW_EV_NO_ACTION 0x00000003u
#define FW_EV_SEPARATOR 0x00000004u
#define FW_EV_EVENT_TAG 0x00000006u
#define FW_EV_S_CRTM_VERSION 0x00000008u
#define FW_EV_IPL 0x0000000Du

/* One digest per algorithm, in the log's algorithm order. */
struct fw_digest {
    uint16_t alg;
    uint16_t size;
    uint8_t bytes[FW_MAX_DIGEST];
};
struct fw_digests {
    size_t count;
    struct fw_digest d[FW_EVLOG_MAX_ALGS];
};

/* Digest size of a supported algorithm (SHA-1/256/384/512), 0 otherwise. */
size_t fw_alg_digest_size(uint16_t alg);

/* Hashes data with each of algs[0..nalgs) into out (same order).
 * nalgs <= FW_EVLOG_MAX_ALGS; every alg must be supported.
 * Returns 0, FW_ERR_ARG, FW_ERR_ALG or FW_ERR_HASH. */
int fw_digests_compute(const uint16_t *algs, size_t nalgs, const void *data,
                       size_t len, struct fw_digests *out);

/* The SHA-256 entry of d, or NULL if d has none. */
const uint8_t *fw_digests_sha256(const struct fw_digests *d);

/* ------------------------------------------------------------- writer */

/* An event log being written; the bytes are buf[0..len). */
struct fw_evlog {
    uint8_t *buf;
    size_t len;
    size_t cap;
    uint16_t algs[FW_EVLOG_MAX_ALGS];
    size_t nalgs;
    size_t nevents; /* records after the Spec ID event */
};

/* Starts a log whose records carry one digest for each of algs (SHA-256
 * must be among them; no duplicates) and writes the Spec ID event.
 * Pair with fw_evlog_free(). Returns 0, FW_ERR_ARG, FW_ERR_ALG or
 * FW_ERR_NOMEM (and then log holds nothing to free). */
int fw_evlog_init(struct fw_evlog *log, const uint16_t *algs, size_t nalgs);

/* Continues an existing log: strictly parses buf (as fw_evlog_parse) and
 * copies it into log, whose algorithms become the Spec ID's. Pair with
 * fw_evlog_free(). Returns 0 or a parse error / FW_ERR_NOMEM (and then
 * log holds nothing to free). */
int fw_evlog_load(struct fw_evlog *log, const uint8_t *buf, size_t len);

/* Releases the log's memory; safe on a zeroed or already freed log. */
void fw_evlog_free(struct fw_evlog *log);

/* Makes room for one more record with data_len bytes of event data, so
 * that the next fw_evlog_append() of that size cannot fail. Measured-boot
 * code reserves, extends the PCR, then appends: the log never misses a
 * record that reached the TPM. Returns 0, FW_ERR_ARG, FW_ERR_EVENT_SIZE,
 * FW_ERR_TOO_MANY, FW_ERR_LOG_TOO_BIG or FW_ERR_NOMEM. */
int fw_evlog_reserve(struct fw_evlog *log, size_t data_len);

/* Appends one TCG_PCR_EVENT2. digests must hold exactly the log's
 * algorithms in order (for EV_NO_ACTION: pass NULL, zero digests are
 * written). Returns 0 or the errors of fw_evlog_reserve, FW_ERR_PCR_INDEX,
 * FW_ERR_DIGEST_COUNT, FW_ERR_DIGEST_ALG. */
int fw_evlog_append(struct fw_evlog *log, uint32_t pcr, uint32_t type,
                    const struct fw_digests *digests, const void *data,
                    size_t data_len);

/* ------------------------------------------------------------- parser */

/* One parsed record; pointers point into the caller's buffer. */
struct fw_event {
    size_t offset; /* of the record in the log */
    uint32_t pcr;
    uint32_t type;
    const uint8_t *digests[FW_EVLOG_MAX_ALGS]; /* in the log's alg order */
    const uint8_t *data;
    uint32_t data_len;
};

struct fw_evlog_parsed {
    uint16_t algs[FW_EVLOG_MAX_ALGS];
    uint16_t sizes[FW_EVLOG_MAX_ALGS];
    size_t nalgs;
    size_t sha256_slot; /* index of SHA-256 in algs */
    uint8_t uintn_size;
    struct fw_event *events; /* nevents records after the Spec ID */
    size_t nevents;
    /* On failure: where parsing stopped (byte offset of the bad field and
     * index of the record, 0 = Spec ID event, 1 = first TCG_PCR_EVENT2). */
    size_t err_offset;
    size_t err_record;
};

/* Parses a whole log (see the layout above). On success out->events holds
 * every record; pair with fw_evlog_parsed_free(). On failure returns the
 * FW_ERR_* of the first violation, fills err_offset/err_record, and leaves
 * nothing to free. len > FW_EVLOG_MAX_SIZE is FW_ERR_LOG_TOO_BIG. */
int fw_evlog_parse(const uint8_t *buf, size_t len, struct fw_evlog_parsed *out);

/* Frees out->events; safe on a zeroed or already freed result. */
void fw_evlog_parsed_free(struct fw_evlog_parsed *p);

/* Replays the SHA-256 bank: pcr[i] = SHA-256(pcr[i] || digest) for every
 * record except EV_NO_ACTION, starting from all-zero PCRs (locality 0).
 * *used gets bit i set for every PCR at least one record extended.
 * Returns 0 or FW_ERR_HASH. */
int fw_evlog_replay_sha256(const struct fw_evlog_parsed *p,
                           uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE],
                           uint32_t *used);

/* ------------------------------------------- hvpatch tagged payloads */

/* EV_EVENT_TAG data is a TCG_PCClientTaggedEvent:
 *   u32 taggedEventID, u32 taggedEventDataSize, u8 data[size]
 * with these IDs ("hv" in the high half): */
#define FW_TAG_BOOT_INFO 0x68760001u
#define FW_TAG_RUNTIME 0x68760002u

/* Boot-info data (v1): u8 version = 1, u8 kind_len (1..FW_KIND_MAX),
 * char kind[kind_len] ([a-z0-9_-]). Measured into PCR 4 after the image. */
#define FW_KIND_MAX 32u
struct fw_boot_info {
    char kind[FW_KIND_MAX + 1];
};

/* Runtime-change data (v1):
 *   u8 version = 1, u8 action (FW_ACT_*), u16 id_len (1..FW_PKG_ID_MAX),
 *   u64 sequence, u8 digest[32], char id[id_len] (printable ASCII, no
 *   space). digest: SHA-256 of the locked text for a text lock, of the
 *   package for a patch or a revert. */
#define FW_PKG_ID_MAX 128u
enum { FW_ACT_TEXT_LOCK = 1, FW_ACT_PATCH = 2, FW_ACT_REVERT = 3 };
struct fw_runtime_rec {
    uint8_t action;
    uint64_t sequence;
    uint8_t digest[FW_SHA256_SIZE];
    char id[FW_PKG_ID_MAX + 1];
};

/* Human name of an FW_ACT_* ("text-lock", "patch", "revert", "?"). */
const char *fw_action_name(uint8_t action);

/* Encodes the whole EV_EVENT_TAG event data into buf (cap bytes).
 * *len gets the size. Returns 0, FW_ERR_ARG or FW_ERR_PAYLOAD (invalid
 * field), FW_ERR_EVENT_SIZE (cap too small). */
int fw_boot_info_encode(const struct fw_boot_info *bi, uint8_t *buf, size_t cap,
                        size_t *len);
int fw_runtime_encode(const struct fw_runtime_rec *r, uint8_t *buf, size_t cap,
                      size_t *len);
#define FW_BOOT_INFO_MAX_LEN (8u + 2u + FW_KIND_MAX)
#define FW_RUNTIME_MAX_LEN (8u + 12u + FW_SHA256_SIZE + FW_PKG_ID_MAX)

/* Strictly decodes EV_EVENT_TAG event data with the given tag into out:
 * exact sizes, version 1, valid fields. Returns 0 or FW_ERR_PAYLOAD. */
int fw_boot_info_decode(const uint8_t *data, size_t len,
                        struct fw_boot_info *out);
int fw_runtime_decode(const uint8_t *data, size_t len,
                      struct fw_runtime_rec *out);

#endif /* FW_EVENTLOG_H */
