/* vrf_audit.h: the verifier's audit log: one JSON record per decision in
 * an append-only, hash-chained JSON Lines file; its writer (the verifier
 * process, sandboxed) and the checker behind `hvpatch audit verify`.
 *
 * Format (docs/AUDIT.md has the whole story): UTF-8, one JSON object per
 * line, each line ended by "\n" and at most VRF_AUDIT_LINE_MAX bytes with
 * it, serialised by jansson with JSON_COMPACT | JSON_SORT_KEYS. Every
 * record has "n" (0, 1, 2, ... in the file), "time" (UTC,
 * "YYYY-MM-DDThh:mm:ss.mmmZ"), "event" and "prev" (64 lowercase hex:
 * SHA-256 of the previous line without its newline; 64 zeros for n = 0).
 * Records of decisions that extended TPM PCR 10 (the text lock, an
 * approval, an abort: measured before the write) carry "pcr10":
 * {"action", "id", "seq", "digest"}, the fields of the runtime event of
 * the TPM event log (firmware/fw_eventlog.h, struct fw_runtime_rec). A
 * last line with no "\n" is a torn tail (a write cut off by a crash): a
 * warning, ignored.
 *
 * Errors are stable negative codes, never reused, in the block
 * -3300..-3349 (disjoint from FW_ERR_*, VRF_ERR_TPM_*, VRF_ERR_ATT_* and
 * HV_ERR_SWTPM_*); vrf_audit_strerror() gives the fixed text, a report's
 * detail the line and the exact reason.
 */
#ifndef VRF_AUDIT_H
#define VRF_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "firmware/fw_eventlog.h"
#include "tpm/vrf_tpm.h"

#define VRF_AUDIT_LINE_MAX 4096u /* one line, its newline included */
#define VRF_AUDIT_DEPTH_MAX 8u   /* JSON nesting of one record */
/* pcr10 events in one boot segment: a TPM event log holds no more. */
#define VRF_AUDIT_PCR10_MAX FW_EVLOG_MAX_EVENTS

enum {
    VRF_AUDIT_OK = 0,
    VRF_ERR_AUDIT_ARG = -3300,       /* invalid argument */
    VRF_ERR_AUDIT_NOMEM = -3301,     /* out of memory */
    VRF_ERR_AUDIT_IO = -3302,        /* reading the file failed */
    VRF_ERR_AUDIT_TOO_LONG = -3303,  /* line longer than VRF_AUDIT_LINE_MAX */
    VRF_ERR_AUDIT_JSON = -3304,      /* not JSON, not an object, too deep */
    VRF_ERR_AUDIT_CANONICAL = -3305, /* not in canonical form */
    VRF_ERR_AUDIT_MEMBER = -3306,    /* a member missing or malformed */
    VRF_ERR_AUDIT_N = -3307,         /* n is not the previous n + 1 */
    VRF_ERR_AUDIT_PREV = -3308,      /* prev is not the previous line's hash */
    VRF_ERR_AUDIT_EVENT = -3309,     /* unknown event, or out of place */
    VRF_ERR_AUDIT_PCR10 = -3310,     /* pcr10 malformed or out of place */
    VRF_ERR_AUDIT_LIMIT = -3311,     /* more than VRF_AUDIT_PCR10_MAX */
    VRF_ERR_AUDIT_NO_BOOT = -3312,   /* no boot record has the boot id */
    VRF_ERR_AUDIT_MISMATCH = -3313,  /* audit log and TPM log disagree */
    VRF_ERR_AUDIT_TAIL = -3314,      /* garbage after the last newline */
};

/* Fixed text of a VRF_ERR_AUDIT_* code ("unknown error"). */
const char *vrf_audit_strerror(int err);

/* The events the checker knows, in this order everywhere. */
enum vrf_audit_event {
    VRF_AUDIT_EV_BOOT,          /* "boot" */
    VRF_AUDIT_EV_TEXT_LOCKED,   /* "text-locked" */
    VRF_AUDIT_EV_REJECTED,      /* "rejected" */
    VRF_AUDIT_EV_APPROVED,      /* "approved" */
    VRF_AUDIT_EV_APPLIED,       /* "applied" */
    VRF_AUDIT_EV_ABORTED,       /* "aborted" */
    VRF_AUDIT_EV_REVERTED,      /* "reverted" */
    VRF_AUDIT_EV_WRITE_BLOCKED, /* "guest-write-blocked" */
    VRF_AUDIT_EV_TRUST_RELOAD,  /* "trust-reload" */
    VRF_AUDIT_EV_AUTO_REVERTED, /* "auto-reverted" */
    VRF_AUDIT_EV_COUNT
};

/* The record's "event" string of ev, or NULL out of range. */
const char *vrf_audit_event_name(int ev);

/* ------------------------------------------------------------- writer */

struct vrf_audit {
    int fd;                /* -1 once closed or after a failed write */
    uint64_t next_n;       /* "n" of the next record */
    uint8_t last_hash[32]; /* SHA-256 of the last line ("prev" of the next) */
};

/* Opens (creating 0600) path for appending, before the sandbox, and takes
 * an exclusive flock on it (a second writer would fork the chain). Reads
 * the existing file and checks its whole chain; a torn tail is truncated
 * away (ftruncate) and reported in err as a warning (return 1); a broken
 * chain is refused (return -1, err says which line and why, and that the
 * operator must move the file away). Returns 0, 1 (opened, torn tail
 * removed) or -1 (err says why; a->fd is -1). err may be NULL if errlen
 * is 0. */
int vrf_audit_open(struct vrf_audit *a, const char *path, char *err,
                   size_t errlen);

/* Adds "n", "time", "prev" to rec (borrowed, modified; it must be an
 * object with a string "event"), serialises it canonically, writes it with
 * ONE write() call, then fsync. Needs only write(2) on a->fd, fsync,
 * clock_gettime and malloc: it runs under the verifier's seccomp filter.
 * On success fills hash (SHA-256 of the line without newline; may be NULL)
 * and returns 0; on failure returns -1 with errno, and the in-memory chain
 * state is unchanged. A record that would exceed VRF_AUDIT_LINE_MAX is
 * refused (-1, EMSGSIZE). The writer does not judge the event: the checker
 * does. If the write was short or fsync failed, the line may be in the
 * file while the chain state is not advanced: a->fd is then closed and
 * set to -1 so that every later append fails (EBADF) instead of forking
 * the chain; reopening truncates a torn line or continues after a
 * complete one. */
int vrf_audit_append(struct vrf_audit *a, json_t *rec, uint8_t hash[32]);

/* As vrf_audit_append, without the fsync: for a record that nothing waits
 * on, followed by an acknowledged one whose vrf_audit_append fsyncs the
 * file, this record with it (the apply path's "approved" before "applied"
 * or "aborted": docs/AUDIT.md §2). The write() still puts the whole line
 * in the file at once, so a crash of the process loses nothing; only a
 * crash of the host before the next fsync can. */
int vrf_audit_append_unsynced(struct vrf_audit *a, json_t *rec,
                              uint8_t hash[32]);

/* Closes the file (and its lock); safe after a failure or twice. */
void vrf_audit_close(struct vrf_audit *a);

/* ------------------------------------------------------------ checker */

/* One "pcr10" member: the runtime event the verifier extended. */
struct vrf_audit_pcr10 {
    uint64_t line; /* 1-based line of the record */
    struct fw_runtime_rec rec;
};

/* A boot segment: a "boot" record and the records up to the next one. */
struct vrf_audit_segment {
    uint64_t line; /* of the "boot" record */
    uint8_t baseline[32];
    char kind[FW_KIND_MAX + 1];
    int has_boot_id; /* 0: "boot_id": null, "tpm": "none" */
    uint8_t boot_id[32];
    struct vrf_audit_pcr10 *pcr10; /* in log order */
    size_t npcr10;
    size_t pcr10_cap; /* private */
};

struct vrf_audit_report {
    /* Over the complete lines checked. */
    uint64_t records;                    /* lines = next "n" */
    uint64_t events[VRF_AUDIT_EV_COUNT]; /* records per event */
    uint8_t last_hash[32];               /* of the last line; zeros if none */
    uint64_t good_len;                   /* bytes of the complete lines */
    size_t torn_len;                /* bytes after the last "\n" (torn tail) */
    struct vrf_audit_segment *segs; /* in log order */
    size_t nsegs;
    size_t segs_cap; /* private */
    /* On failure: the 1-based line (0: not about a line) and the reason,
     * e.g. err_line 7, "prev does not match the hash of line 6" (shown as
     * "line 7: ..." or "LOG:7: ..."). */
    uint64_t err_line;
    char detail[384];
};

/* Checks a whole log in memory, line by line, stopping at the first
 * error: length, nesting (VRF_AUDIT_DEPTH_MAX), JSON, object, canonical
 * form, required members, n, prev, known event (the first must be
 * "boot"), the members of that event, pcr10 (only on text-locked, and
 * on approved and aborted whose "op" is "apply" or "revert", with the
 * action they imply: text-lock; the operation's own on approved, the
 * undoing one on aborted; never on applied or reverted; only in a boot
 * with a TPM, at most VRF_AUDIT_PCR10_MAX per boot). Bytes after the
 * last "\n" are a torn tail (rep->torn_len), not an error, if they can
 * be a cut record: shorter than a line, beginning with "{", valid UTF-8
 * (the last character may be cut) without control bytes; anything else
 * there is VRF_ERR_AUDIT_TAIL. An empty log is not an error here (the
 * writer starts from one); `hvpatch audit verify` refuses it. Fills rep (pair
 * with vrf_audit_report_free, also on failure). Returns 0 or a VRF_ERR_AUDIT_*
 * code with rep->err_line and rep->detail set. */
int vrf_audit_check(const uint8_t *buf, size_t len,
                    struct vrf_audit_report *rep);

/* The same check on a file read from fd's current offset to its end in
 * bounded chunks (any size). Returns as vrf_audit_check, or
 * VRF_ERR_AUDIT_IO (read failed) / VRF_ERR_AUDIT_NOMEM. */
int vrf_audit_check_fd(int fd, struct vrf_audit_report *rep);

/* Frees the segments; safe on a zeroed or already freed report. */
void vrf_audit_report_free(struct vrf_audit_report *rep);

/* How a verified attestation's event log agrees with the audit log. */
struct vrf_audit_match {
    size_t seg;        /* rep->segs index of the boot that agrees */
    size_t same_id;    /* boots with this boot id (a rerun of one config) */
    size_t covered;    /* pcr10 events of that boot the TPM log holds */
    size_t later;      /* its later pcr10 events, not in this TPM log */
    uint64_t err_line; /* on failure: the audit line concerned, or 0 */
    char detail[512];
};

/* Compares the runtime (PCR 10) events of a verified attestation (att, from
 * vrf_attest_check) with the audit log checked into rep: the boot segment
 * whose "boot_id" equals att->boot_id must have the attested baseline and
 * kind, and its pcr10 events must begin with att->runtime, in order and
 * field by field (action, id, seq, digest). More audit events than TPM
 * events is fine (an older quote: m->later counts them); a TPM event the
 * audit log lacks, or any difference, is not. When several boots share
 * the boot id (same firmware, image, kind, command line, initrd), the
 * latest that agrees is taken. Returns 0, VRF_ERR_AUDIT_ARG,
 * VRF_ERR_AUDIT_NO_BOOT or VRF_ERR_AUDIT_MISMATCH (m->detail says which
 * event and field, against the latest boot with that id). */
int vrf_audit_match(const struct vrf_audit_report *rep,
                    const struct vrf_attest_report *att,
                    struct vrf_audit_match *m);

#endif /* VRF_AUDIT_H */
