/* vrf_audit.c: the audit log: the hash-chained JSON Lines writer the
 * verifier appends one record per decision to, and the checker that
 * replays the chain line by line (vrf_audit.h, docs/AUDIT.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "audit/vrf_audit.h"
#include "firmware/fw_measure.h"
#include "lib/lib_hex.h"
#include "lib/vrf_file.h"
#include "pkg/vrf_int.h"

/* Canonical form: what the writer produces and the checker demands. */
#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
/* The file is read in chunks of this size (plus one partial line). */
#define READ_CHUNK (64u << 10)

static const struct {
    int code;
    const char *msg;
} vrf_audit_errs[] = {
    {VRF_AUDIT_OK, "audit log verified"},
    {VRF_ERR_AUDIT_ARG, "invalid argument"},
    {VRF_ERR_AUDIT_NOMEM, "out of memory"},
    {VRF_ERR_AUDIT_IO, "audit log could not be read"},
    {VRF_ERR_AUDIT_TOO_LONG, "line longer than 4096 bytes"},
    {VRF_ERR_AUDIT_JSON, "line is not a JSON object"},
    {VRF_ERR_AUDIT_CANONICAL, "record not in canonical JSON form"},
    {VRF_ERR_AUDIT_MEMBER, "record member missing or malformed"},
    {VRF_ERR_AUDIT_N, "record number out of sequence"},
    {VRF_ERR_AUDIT_PREV, "hash chain broken"},
    {VRF_ERR_AUDIT_EVENT, "unknown or misplaced event"},
    {VRF_ERR_AUDIT_PCR10, "pcr10 member malformed or misplaced"},
    {VRF_ERR_AUDIT_LIMIT, "too many pcr10 events in one boot"},
    {VRF_ERR_AUDIT_NO_BOOT, "no boot record has the attested boot id"},
    {VRF_ERR_AUDIT_MISMATCH, "audit log and TPM event log disagree"},
    {VRF_ERR_AUDIT_TAIL, "bytes after the last record are not a torn line"},
};

const char *vrf_audit_strerror(int err)
{
    for (size_t i = 0; i < sizeof vrf_audit_errs / sizeof vrf_audit_errs[0];
         i++)
        if (vrf_audit_errs[i].code == err)
            return vrf_audit_errs[i].msg;
    return "unknown error";
}

/* The known events. Which of them change PCR 10 (pcr_action) follows
 * the verifier's order, measure then write: "approved" carries the
 * operation's own event (patch for an apply, revert for a revert),
 * "aborted" the one that undoes it; "applied", "reverted" and
 * "auto-reverted" (a revert the monitor's health watch started) only say
 * the write happened. */
static const char *const vrf_audit_events[VRF_AUDIT_EV_COUNT] = {
    [VRF_AUDIT_EV_BOOT] = "boot",
    [VRF_AUDIT_EV_TEXT_LOCKED] = "text-locked",
    [VRF_AUDIT_EV_REJECTED] = "rejected",
    [VRF_AUDIT_EV_APPROVED] = "approved",
    [VRF_AUDIT_EV_APPLIED] = "applied",
    [VRF_AUDIT_EV_ABORTED] = "aborted",
    [VRF_AUDIT_EV_REVERTED] = "reverted",
    [VRF_AUDIT_EV_WRITE_BLOCKED] = "guest-write-blocked",
    [VRF_AUDIT_EV_TRUST_RELOAD] = "trust-reload",
    [VRF_AUDIT_EV_AUTO_REVERTED] = "auto-reverted",
};

/* The PCR 10 action record rec of event ev may carry, or 0 for none. */
static uint8_t pcr_action(int ev, json_t *rec)
{
    const char *op = json_string_value(json_object_get(rec, "op"));
    int apply = op && strcmp(op, "apply") == 0;
    int revert = op && strcmp(op, "revert") == 0;
    switch (ev) {
    case VRF_AUDIT_EV_TEXT_LOCKED:
        return FW_ACT_TEXT_LOCK;
    case VRF_AUDIT_EV_APPROVED:
        return apply ? FW_ACT_PATCH : revert ? FW_ACT_REVERT : 0;
    case VRF_AUDIT_EV_ABORTED:
        return apply ? FW_ACT_REVERT : revert ? FW_ACT_PATCH : 0;
    default:
        return 0;
    }
}

const char *vrf_audit_event_name(int ev)
{
    if (ev < 0 || ev >= VRF_AUDIT_EV_COUNT)
        return NULL;
    return vrf_audit_events[ev];
}

/* ------------------------------------------------------------- helpers */

/* Records why the line being checked (the next record) fails. */
static int fail(struct vrf_audit_report *rep, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct vrf_audit_report *rep, int code, const char *fmt, ...)
{
    va_list ap;

    rep->err_line = rep->records + 1;
    va_start(ap, fmt);
    vsnprintf(rep->detail, sizeof rep->detail, fmt, ap);
    va_end(ap);
    return code;
}

/* A copy of untrusted text that is safe to print: at most 48 printable
 * ASCII characters, '?' for any other byte. */
static const char *shown(const char *s, char out[52])
{
    size_t i;

    for (i = 0; s[i] != '\0' && i < 48; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    strcpy(out + i, s[i] != '\0' ? "..." : "");
    return out;
}

/* Decodes exactly 64 lowercase hex digits. */
static int unhex32(const char *s, uint8_t out[32])
{
    if (strlen(s) != 64 || strpbrk(s, "ABCDEF") != NULL)
        return -1;
    return lib_hex_decode(s, 64, out, 32) == 32 ? 0 : -1;
}

/* "YYYY-MM-DDThh:mm:ss.mmmZ" with plausible field ranges. */
static int time_ok(const char *s)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    int mon, day, hour, min, sec;

    if (strlen(s) != sizeof pat - 1)
        return 0;
    for (size_t i = 0; pat[i] != '\0'; i++)
        if (pat[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != pat[i])
            return 0;
    if (sscanf(s + 5, "%2d-%2dT%2d:%2d:%2d", &mon, &day, &hour, &min, &sec) !=
        5)
        return 0;
    return mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && hour <= 23 &&
           min <= 59 && sec <= 60;
}

/* True if brackets nest deeper than VRF_AUDIT_DEPTH_MAX (strings
 * skipped). Checked before parsing, so that no line makes the parser
 * recurse deeply. */
static int too_deep(const uint8_t *p, size_t len)
{
    unsigned depth = 0;
    int in_str = 0, esc = 0;

    for (size_t i = 0; i < len; i++) {
        if (in_str) {
            if (esc)
                esc = 0;
            else if (p[i] == '\\')
                esc = 1;
            else if (p[i] == '"')
                in_str = 0;
        } else if (p[i] == '"') {
            in_str = 1;
        } else if (p[i] == '{' || p[i] == '[') {
            if (++depth > VRF_AUDIT_DEPTH_MAX)
                return 1;
        } else if ((p[i] == '}' || p[i] == ']') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

/* Member key of o with type t into *out; pre names the object in errors
 * ("" or "pcr10."). */
static int member(struct vrf_audit_report *rep, int code, json_t *o,
                  const char *pre, const char *key, json_type t, json_t **out)
{
    static const char *const what[] = {
        [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
        [JSON_STRING] = "a string",  [JSON_INTEGER] = "an integer",
        [JSON_REAL] = "a number",    [JSON_TRUE] = "true",
        [JSON_FALSE] = "false",      [JSON_NULL] = "null",
    };

    *out = json_object_get(o, key);
    if (*out == NULL)
        return fail(rep, code, "missing member \"%s%s\"", pre, key);
    if (json_typeof(*out) != t)
        return fail(rep, code, "\"%s%s\" is not %s", pre, key, what[t]);
    return 0;
}

/* A string member holding 64 lowercase hex digits. */
static int member_hex(struct vrf_audit_report *rep, int code, json_t *o,
                      const char *pre, const char *key, uint8_t out[32])
{
    json_t *v;
    int ret = member(rep, code, o, pre, key, JSON_STRING, &v);

    if (ret == 0 && unhex32(json_string_value(v), out) != 0)
        ret = fail(rep, code, "\"%s%s\" is not 64 lowercase hex digits", pre,
                   key);
    return ret;
}

/* ----------------------------------------------------------- checker */

/* arr (*cap elements of size elem) reallocated to twice as many, or 8;
 * NULL if out of memory (arr is then unchanged). */
static void *grow(void *arr, size_t *cap, size_t elem)
{
    size_t n = *cap ? 2 * *cap : 8;
    void *p = realloc(arr, n * elem);

    if (p != NULL)
        *cap = n;
    return p;
}

static struct vrf_audit_segment *last_seg(struct vrf_audit_report *rep)
{
    return rep->nsegs ? &rep->segs[rep->nsegs - 1] : NULL;
}

/* A "boot" record: its members, then a new segment. */
static int check_boot(struct vrf_audit_report *rep, json_t *rec)
{
    struct vrf_audit_segment seg;
    struct fw_boot_info bi;
    uint8_t tag[FW_BOOT_INFO_MAX_LEN];
    size_t taglen;
    json_t *v;
    int ret;

    memset(&seg, 0, sizeof seg);
    seg.line = rep->records + 1;
    ret = member_hex(rep, VRF_ERR_AUDIT_MEMBER, rec, "", "baseline",
                     seg.baseline);
    if (ret != 0)
        return ret;
    /* The guest kind as measured into PCR 4: the same rule as there. */
    ret = member(rep, VRF_ERR_AUDIT_MEMBER, rec, "", "kind", JSON_STRING, &v);
    if (ret != 0)
        return ret;
    memset(&bi, 0, sizeof bi);
    if (json_string_length(v) <= FW_KIND_MAX)
        memcpy(bi.kind, json_string_value(v), json_string_length(v));
    if (json_string_length(v) > FW_KIND_MAX ||
        fw_boot_info_encode(&bi, tag, sizeof tag, &taglen) != 0)
        return fail(rep, VRF_ERR_AUDIT_MEMBER,
                    "\"kind\" is not 1..%u characters of [a-z0-9_-]",
                    FW_KIND_MAX);
    memcpy(seg.kind, bi.kind, sizeof seg.kind);
    ret = member(rep, VRF_ERR_AUDIT_MEMBER, rec, "", "tpm", JSON_STRING, &v);
    if (ret != 0)
        return ret;
    if (strcmp(json_string_value(v), "ok") == 0)
        seg.has_boot_id = 1;
    else if (strcmp(json_string_value(v), "none") != 0)
        return fail(rep, VRF_ERR_AUDIT_MEMBER,
                    "\"tpm\" is neither \"ok\" nor \"none\"");
    /* A boot id exactly when there is a TPM to measure the boot into. */
    if (seg.has_boot_id)
        ret = member_hex(rep, VRF_ERR_AUDIT_MEMBER, rec, "", "boot_id",
                         seg.boot_id);
    else
        ret = member(rep, VRF_ERR_AUDIT_MEMBER, rec, "", "boot_id", JSON_NULL,
                     &v);
    if (ret != 0)
        return ret;

    if (rep->nsegs == rep->segs_cap) {
        void *p = grow(rep->segs, &rep->segs_cap, sizeof *rep->segs);
        if (p == NULL)
            return fail(rep, VRF_ERR_AUDIT_NOMEM, "out of memory");
        rep->segs = p;
    }
    rep->segs[rep->nsegs++] = seg;
    return 0;
}

/* The FW_ACT_* named s, or 0. */
static uint8_t action_of(const char *s)
{
    static const uint8_t acts[] = {FW_ACT_TEXT_LOCK, FW_ACT_PATCH,
                                   FW_ACT_REVERT};
    for (size_t i = 0; i < sizeof acts; i++)
        if (strcmp(s, fw_action_name(acts[i])) == 0)
            return acts[i];
    return 0;
}

/* A "pcr10" member: only where the event changed PCR 10, in a boot with a
 * TPM; exactly the fields of a runtime event, valid as one. */
static int check_pcr10(struct vrf_audit_report *rep, int ev, json_t *rec,
                       json_t *p)
{
    uint8_t want = pcr_action(ev, rec);
    const int code = VRF_ERR_AUDIT_PCR10;
    struct vrf_audit_segment *seg = last_seg(rep);
    struct vrf_audit_pcr10 e;
    uint8_t data[FW_RUNTIME_MAX_LEN];
    size_t len;
    json_t *v;
    int ret;

    if (want == 0)
        return fail(rep, code,
                    "\"pcr10\" on a \"%s\" record (only text-locked, "
                    "approved and aborted, with an \"op\", change PCR 10)",
                    vrf_audit_events[ev]);
    if (!seg->has_boot_id)
        return fail(rep, code,
                    "\"pcr10\" in a boot without a TPM (line %llu says "
                    "\"tpm\": \"none\")",
                    (unsigned long long)seg->line);
    if (!json_is_object(p))
        return fail(rep, code, "\"pcr10\" is not an object");
    memset(&e, 0, sizeof e);
    e.line = rep->records + 1;
    ret = member(rep, code, p, "pcr10.", "action", JSON_STRING, &v);
    if (ret != 0)
        return ret;
    e.rec.action = action_of(json_string_value(v));
    if (e.rec.action != want)
        return fail(rep, code,
                    "\"pcr10.action\" of this \"%s\" record must be "
                    "\"%s\"",
                    vrf_audit_events[ev], fw_action_name(want));
    ret = member(rep, code, p, "pcr10.", "seq", JSON_INTEGER, &v);
    if (ret != 0)
        return ret;
    if (json_integer_value(v) < 0)
        return fail(rep, code, "\"pcr10.seq\" is negative");
    e.rec.sequence = (uint64_t)json_integer_value(v);
    ret = member_hex(rep, code, p, "pcr10.", "digest", e.rec.digest);
    if (ret != 0)
        return ret;
    ret = member(rep, code, p, "pcr10.", "id", JSON_STRING, &v);
    if (ret != 0)
        return ret;
    /* The id as the TPM event log holds it: the encoder's rule. */
    if (json_string_length(v) <= FW_PKG_ID_MAX)
        memcpy(e.rec.id, json_string_value(v), json_string_length(v));
    if (json_string_length(v) > FW_PKG_ID_MAX ||
        fw_runtime_encode(&e.rec, data, sizeof data, &len) != 0)
        return fail(rep, code,
                    "\"pcr10.id\" is not 1..%u printable ASCII characters "
                    "without spaces",
                    FW_PKG_ID_MAX);
    if (json_object_size(p) != 4)
        return fail(rep, code,
                    "\"pcr10\" has members besides action, id, seq and "
                    "digest");

    if (seg->npcr10 == VRF_AUDIT_PCR10_MAX)
        return fail(rep, VRF_ERR_AUDIT_LIMIT,
                    "more than %u pcr10 events in the boot of line %llu",
                    VRF_AUDIT_PCR10_MAX, (unsigned long long)seg->line);
    if (seg->npcr10 == seg->pcr10_cap) {
        void *q = grow(seg->pcr10, &seg->pcr10_cap, sizeof *seg->pcr10);
        if (q == NULL)
            return fail(rep, VRF_ERR_AUDIT_NOMEM, "out of memory");
        seg->pcr10 = q;
    }
    seg->pcr10[seg->npcr10++] = e;
    return 0;
}

/* The members every record has, in chain order: n, prev, time, event.
 * Fills *ev. */
static int check_common(struct vrf_audit_report *rep, json_t *rec, int *ev)
{
    static const uint8_t zero[32];
    uint8_t prev[32];
    char s[52];
    json_t *v;
    int ret;

    ret = member(rep, VRF_ERR_AUDIT_MEMBER, rec, "", "n", JSON_INTEGER, &v);
    if (ret != 0)
        return ret;
    if (json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) != rep->records)
        return fail(rep, VRF_ERR_AUDIT_N, "n is %lld, expected %llu",
                    (long long)json_integer_value(v),
                    (unsigned long long)rep->records);
    ret = member_hex(rep, VRF_ERR_AUDIT_MEMBER, rec, "", "prev", prev);
    if (ret != 0)
        return ret;
    if (rep->records == 0 && memcmp(prev, zero, 32) != 0)
        return fail(rep, VRF_ERR_AUDIT_PREV,
                    "prev is not 64 zeros in the first record");
    if (memcmp(prev, rep->last_hash, 32) != 0)
        return fail(rep, VRF_ERR_AUDIT_PREV,
                    "prev does not match the hash of line %llu",
                    (unsigned long long)rep->records);
    ret = member(rep, VRF_ERR_AUDIT_MEMBER, rec, "", "time", JSON_STRING, &v);
    if (ret != 0)
        return ret;
    if (!time_ok(json_string_value(v)))
        return fail(rep, VRF_ERR_AUDIT_MEMBER,
                    "time \"%s\" is not UTC \"YYYY-MM-DDThh:mm:ss.mmmZ\"",
                    shown(json_string_value(v), s));
    ret = member(rep, VRF_ERR_AUDIT_MEMBER, rec, "", "event", JSON_STRING, &v);
    if (ret != 0)
        return ret;
    for (*ev = 0; *ev < VRF_AUDIT_EV_COUNT; (*ev)++)
        if (strcmp(json_string_value(v), vrf_audit_events[*ev]) == 0)
            break;
    if (*ev == VRF_AUDIT_EV_COUNT)
        return fail(rep, VRF_ERR_AUDIT_EVENT, "unknown event \"%s\"",
                    shown(json_string_value(v), s));
    if (rep->nsegs == 0 && *ev != VRF_AUDIT_EV_BOOT)
        return fail(rep, VRF_ERR_AUDIT_EVENT,
                    "\"%s\" before any \"boot\" record (a log starts with "
                    "\"boot\")",
                    vrf_audit_events[*ev]);
    return 0;
}

/* One complete line, without its "\n", in the spec's order: syntax,
 * canonical form, chain, event. On success it becomes the chain's head. */
static int check_line(struct vrf_audit_report *rep, const uint8_t *line,
                      size_t len)
{
    char canon[VRF_AUDIT_LINE_MAX];
    json_error_t jerr;
    json_t *rec = NULL, *p;
    int ret, ev = 0;

    /* 1. Syntax: bounded nesting, JSON (UTF-8, no duplicate keys), an
     * object. */
    if (too_deep(line, len)) {
        ret = fail(rep, VRF_ERR_AUDIT_JSON, "not JSON: nested deeper than %u",
                   VRF_AUDIT_DEPTH_MAX);
        goto cleanup;
    }
    rec = json_loadb((const char *)line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (rec == NULL) {
        /* jansson quotes the offending bytes: keep them printable. */
        for (char *c = jerr.text; *c != '\0'; c++)
            if (*c < 0x20 || *c >= 0x7f)
                *c = '?';
        ret = fail(rep, VRF_ERR_AUDIT_JSON, "not JSON: %s (column %d)",
                   jerr.text, jerr.column);
        goto cleanup;
    }
    if (!json_is_object(rec)) {
        ret = fail(rep, VRF_ERR_AUDIT_JSON, "not a JSON object");
        goto cleanup;
    }

    /* 2. Canonical form: the hash covers exactly these bytes, so there
     * must be one way to write a record. */
    if (json_dumpb(rec, canon, sizeof canon, CANON_FLAGS) != len ||
        memcmp(canon, line, len) != 0) {
        ret = fail(rep, VRF_ERR_AUDIT_CANONICAL,
                   "not canonical JSON (jansson JSON_COMPACT | "
                   "JSON_SORT_KEYS form)");
        goto cleanup;
    }

    /* 3. The chain and the event. */
    ret = check_common(rep, rec, &ev);
    if (ret != 0)
        goto cleanup;
    if (ev == VRF_AUDIT_EV_BOOT) {
        ret = check_boot(rep, rec);
        if (ret != 0)
            goto cleanup;
    }
    p = json_object_get(rec, "pcr10");
    if (p != NULL) {
        ret = check_pcr10(rep, ev, rec, p);
        if (ret != 0)
            goto cleanup;
    }

    /* 4. The line is now the head of the chain. */
    if (mbedtls_sha256_ret(line, len, rep->last_hash, 0) != 0) {
        ret = fail(rep, VRF_ERR_AUDIT_NOMEM, "SHA-256 failed");
        goto cleanup;
    }
    rep->events[ev]++;
    rep->records++;
    ret = 0;
cleanup:
    json_decref(rec);
    return ret;
}

/* Length of the UTF-8 sequence starting at p[0] (of n bytes), 0 if it is
 * not valid UTF-8; a sequence cut short by the end of the buffer counts
 * as valid (a torn write may end mid-character). */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t lo = 0x80, hi = 0xbf;
    size_t len;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4;
    else
        return 0;
    /* No overlong forms, surrogates or code points above U+10FFFF. */
    if (p[0] == 0xe0)
        lo = 0xa0;
    else if (p[0] == 0xed)
        hi = 0x9f;
    else if (p[0] == 0xf0)
        lo = 0x90;
    else if (p[0] == 0xf4)
        hi = 0x8f;
    for (size_t i = 1; i < len && i < n; i++) {
        if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
            return 0;
    }
    return len < n ? len : n;
}

/* A torn tail is what the writer's one write(2) of a record leaves when
 * it is cut short: a prefix of a canonical JSON object. So it begins
 * with "{", is valid UTF-8 (up to a character the cut split) and has no
 * control byte (jansson writes those as \u escapes). Anything else
 * after the last newline is not a cut record but garbage. */
static int check_tail(struct vrf_audit_report *rep, const uint8_t *p, size_t n)
{
    size_t off = 0;

    if (n == 0)
        return 0;
    if (p[0] != '{')
        return fail(rep, VRF_ERR_AUDIT_TAIL,
                    "%zu bytes after the last newline do not begin a record "
                    "(first byte 0x%02x, not \"{\"): not a torn line",
                    n, p[0]);
    while (off < n) {
        size_t k = p[off] < 0x20 ? 0 : utf8_len(p + off, n - off);

        if (k == 0)
            return fail(rep, VRF_ERR_AUDIT_TAIL,
                        "%zu bytes after the last newline: byte 0x%02x at "
                        "offset %zu is %s: not a torn line",
                        n, p[off], off,
                        p[off] < 0x20 ? "a control byte" : "not UTF-8");
        off += k;
    }
    return 0;
}

/* Checks the complete lines of buf; *used gets the bytes they span. The
 * rest has no "\n": a torn tail, unless it is already longer than a
 * line. */
static int check_lines(struct vrf_audit_report *rep, const uint8_t *buf,
                       size_t len, size_t *used)
{
    size_t off = 0;

    *used = 0;
    for (;;) {
        size_t left = len - off;
        const uint8_t *nl =
            memchr(buf + off, '\n',
                   left < VRF_AUDIT_LINE_MAX ? left : VRF_AUDIT_LINE_MAX);
        size_t n = nl != NULL ? (size_t)(nl - (buf + off)) : left;
        if (n >= VRF_AUDIT_LINE_MAX)
            return fail(rep, VRF_ERR_AUDIT_TOO_LONG,
                        "longer than %u bytes (newline included)",
                        VRF_AUDIT_LINE_MAX);
        if (nl == NULL)
            break;
        int ret = check_line(rep, buf + off, n);
        if (ret != 0)
            return ret;
        off += n + 1;
        rep->good_len += n + 1;
        *used = off;
    }
    return 0;
}

int vrf_audit_check(const uint8_t *buf, size_t len,
                    struct vrf_audit_report *rep)
{
    size_t used;
    int ret;

    if (rep == NULL)
        return VRF_ERR_AUDIT_ARG;
    memset(rep, 0, sizeof *rep);
    if (buf == NULL && len != 0)
        return VRF_ERR_AUDIT_ARG;
    if (buf == NULL)
        buf = (const uint8_t *)"";
    ret = check_lines(rep, buf, len, &used);
    if (ret == 0)
        ret = check_tail(rep, buf + used, len - used);
    if (ret == 0)
        rep->torn_len = len - used;
    return ret;
}

int vrf_audit_check_fd(int fd, struct vrf_audit_report *rep)
{
    uint8_t *buf = NULL;
    size_t have = 0, used;
    int ret = VRF_ERR_AUDIT_ARG;

    if (rep == NULL)
        goto cleanup;
    memset(rep, 0, sizeof *rep);
    ret = VRF_ERR_AUDIT_NOMEM;
    buf = malloc(READ_CHUNK);
    if (buf == NULL)
        goto cleanup;
    /* What is left over after a chunk is less than one line, so each read
     * has at least READ_CHUNK - VRF_AUDIT_LINE_MAX bytes of room. */
    for (;;) {
        ssize_t n = read(fd, buf + have, READ_CHUNK - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(rep->detail, sizeof rep->detail, "read failed: %s",
                     strerror(errno));
            ret = VRF_ERR_AUDIT_IO;
            goto cleanup;
        }
        if (n == 0)
            break;
        have += (size_t)n;
        ret = check_lines(rep, buf, have, &used);
        if (ret != 0)
            goto cleanup;
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    ret = check_tail(rep, buf, have);
    if (ret != 0)
        goto cleanup;
    rep->torn_len = have;
cleanup:
    free(buf);
    return ret;
}

void vrf_audit_report_free(struct vrf_audit_report *rep)
{
    if (rep == NULL)
        return;
    for (size_t i = 0; i < rep->nsegs; i++)
        free(rep->segs[i].pcr10);
    free(rep->segs);
    rep->segs = NULL;
    rep->nsegs = rep->segs_cap = 0;
}

/* ------------------------------------------------ attestation match */

static int match_fail(struct vrf_audit_match *m, uint64_t line, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));
static int match_fail(struct vrf_audit_match *m, uint64_t line, const char *fmt,
                      ...)
{
    va_list ap;

    if (m == NULL)
        return VRF_ERR_AUDIT_MISMATCH;
    m->err_line = line;
    va_start(ap, fmt);
    vsnprintf(m->detail, sizeof m->detail, fmt, ap);
    va_end(ap);
    return VRF_ERR_AUDIT_MISMATCH;
}

/* The first field in which two runtime events differ, or NULL; a and b
 * get its two values as text. */
static const char *differs(const struct fw_runtime_rec *x,
                           const struct fw_runtime_rec *y,
                           char a[FW_PKG_ID_MAX + 1], char b[FW_PKG_ID_MAX + 1])
{
    if (x->action != y->action) {
        snprintf(a, FW_PKG_ID_MAX + 1, "%s", fw_action_name(x->action));
        snprintf(b, FW_PKG_ID_MAX + 1, "%s", fw_action_name(y->action));
        return "action";
    }
    if (strcmp(x->id, y->id) != 0) {
        snprintf(a, FW_PKG_ID_MAX + 1, "%s", x->id);
        snprintf(b, FW_PKG_ID_MAX + 1, "%s", y->id);
        return "id";
    }
    if (x->sequence != y->sequence) {
        snprintf(a, FW_PKG_ID_MAX + 1, "%llu", (unsigned long long)x->sequence);
        snprintf(b, FW_PKG_ID_MAX + 1, "%llu", (unsigned long long)y->sequence);
        return "seq";
    }
    if (memcmp(x->digest, y->digest, FW_SHA256_SIZE) != 0) {
        fw_hex32(x->digest, a);
        fw_hex32(y->digest, b);
        return "digest";
    }
    return NULL;
}

/* Whether seg agrees with att: baseline, then each TPM runtime event
 * against the audit event at the same place. m may be NULL (a trial). */
static int segment_agrees(const struct vrf_audit_segment *seg,
                          const struct vrf_attest_report *att,
                          struct vrf_audit_match *m)
{
    char a[FW_PKG_ID_MAX + 1], b[FW_PKG_ID_MAX + 1];
    const char *field;

    if (memcmp(seg->baseline, att->image_digest, 32) != 0 ||
        strcmp(seg->kind, att->kind) != 0) {
        fw_hex32(seg->baseline, a);
        fw_hex32(att->image_digest, b);
        return match_fail(m, seg->line,
                          "boot record has baseline %s (%s), the "
                          "attestation %s (%s)",
                          a, seg->kind, b, att->kind);
    }
    for (size_t i = 0; i < att->nruntime; i++) {
        const struct fw_runtime_rec *t = &att->runtime[i];
        if (i == seg->npcr10)
            return match_fail(
                m, seg->line,
                "TPM event %zu (%s %s seq %llu) is not in the audit log: "
                "this boot has %zu pcr10 events, the TPM log %zu",
                i + 1, fw_action_name(t->action), t->id,
                (unsigned long long)t->sequence, seg->npcr10, att->nruntime);
        field = differs(&seg->pcr10[i].rec, t, a, b);
        if (field != NULL)
            return match_fail(m, seg->pcr10[i].line,
                              "pcr10 %s differs from TPM event %zu (%s %s "
                              "seq %llu): audit %s, TPM %s",
                              field, i + 1, fw_action_name(t->action), t->id,
                              (unsigned long long)t->sequence, a, b);
    }
    return 0;
}

int vrf_audit_match(const struct vrf_audit_report *rep,
                    const struct vrf_attest_report *att,
                    struct vrf_audit_match *m)
{
    size_t latest = SIZE_MAX, found = SIZE_MAX;
    char hex[65];

    if (m == NULL)
        return VRF_ERR_AUDIT_ARG;
    memset(m, 0, sizeof *m);
    if (rep == NULL || att == NULL || (att->nruntime && !att->runtime))
        return VRF_ERR_AUDIT_ARG;
    /* Newest first: an attestation is usually of the run going on. */
    for (size_t i = rep->nsegs; i-- > 0;) {
        const struct vrf_audit_segment *seg = &rep->segs[i];
        if (!seg->has_boot_id || memcmp(seg->boot_id, att->boot_id, 32) != 0)
            continue;
        m->same_id++;
        if (latest == SIZE_MAX)
            latest = i;
        if (found == SIZE_MAX && segment_agrees(seg, att, NULL) == 0)
            found = i;
    }
    if (latest == SIZE_MAX) {
        fw_hex32(att->boot_id, hex);
        snprintf(m->detail, sizeof m->detail,
                 "no boot record has the attested boot id %s", hex);
        return VRF_ERR_AUDIT_NO_BOOT;
    }
    if (found == SIZE_MAX)
        return segment_agrees(&rep->segs[latest], att, m);
    m->seg = found;
    m->covered = att->nruntime;
    m->later = rep->segs[found].npcr10 - att->nruntime;
    return 0;
}

/* ------------------------------------------------------------- writer */

/* fsync of the directory holding path, so that a new file's name is as
 * durable as its records. */
static int sync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int fd, ret;

    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if ((size_t)(slash - path) >= sizeof dir)
        return -1;
    else
        snprintf(dir, sizeof dir, "%.*s",
                 slash == path ? 1 : (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ret = fsync(fd);
    close(fd);
    return ret;
}

int vrf_audit_open(struct vrf_audit *a, const char *path, char *err,
                   size_t errlen)
{
    struct vrf_audit_report rep;
    struct stat st;
    int fd = -1, rc, ret = -1;

    memset(&rep, 0, sizeof rep);
    if (a == NULL || path == NULL) {
        snprintf(err, errlen, "audit log: no file given");
        errno = EINVAL;
        return -1;
    }
    a->fd = -1;
    a->next_n = 0;
    memset(a->last_hash, 0, sizeof a->last_hash);
    /* O_NONBLOCK | O_NOCTTY: a FIFO or a terminal named as the log must
     * not block the open or become our terminal; it is refused below. */
    fd = open(path,
              O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
              0600);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "audit log %s: open failed: %s", path,
                 strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "audit log %s: not a regular file (%s)", path,
                 vrf_file_kind(st.st_mode));
        goto cleanup;
    }
    if (fcntl(fd, F_SETFL, O_APPEND) != 0) { /* blocking again */
        snprintf(err, errlen, "audit log %s: fcntl failed: %s", path,
                 strerror(errno));
        goto cleanup;
    }
    /* Two writers would each continue the chain from the same head. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "audit log %s: flock failed: %s%s", path,
                 strerror(errno),
                 errno == EWOULDBLOCK ? " (another process writes it)" : "");
        goto cleanup;
    }

    /* The whole chain must hold before anything is added to it. */
    rc = vrf_audit_check_fd(fd, &rep);
    if (rc == VRF_ERR_AUDIT_IO || rc == VRF_ERR_AUDIT_NOMEM) {
        snprintf(err, errlen, "audit log %s: %s", path,
                 rep.detail[0] ? rep.detail : vrf_audit_strerror(rc));
        goto cleanup;
    }
    if (rc != 0) {
        snprintf(err, errlen,
                 "audit log %s: line %llu: %s; refusing to append to a "
                 "broken chain: move the file away (keep it as evidence) "
                 "to start a new log",
                 path, (unsigned long long)rep.err_line, rep.detail);
        goto cleanup;
    }
    if (rep.torn_len != 0) {
        /* The record was never acknowledged: its write did not finish. */
        if (ftruncate(fd, (off_t)rep.good_len) != 0 || fsync(fd) != 0) {
            snprintf(err, errlen,
                     "audit log %s: cannot remove a torn last line: %s", path,
                     strerror(errno));
            goto cleanup;
        }
        snprintf(err, errlen,
                 "audit log %s: warning: removed a torn last line (%zu bytes "
                 "without a newline after line %llu): a write cut off by "
                 "a crash",
                 path, rep.torn_len, (unsigned long long)rep.records);
    }
    if (st.st_size == 0 && sync_dir(path) != 0) {
        snprintf(err, errlen, "audit log %s: fsync of its directory failed: %s",
                 path, strerror(errno));
        goto cleanup;
    }
    a->fd = fd;
    a->next_n = rep.records;
    memcpy(a->last_hash, rep.last_hash, sizeof a->last_hash);
    fd = -1;
    ret = rep.torn_len != 0 ? 1 : 0;
cleanup:
    if (fd >= 0)
        close(fd);
    vrf_audit_report_free(&rep);
    return ret;
}

/* After a write that may have reached the file while the chain state did
 * not advance: no later append may follow it. */
static void poison(struct vrf_audit *a)
{
    int e = errno;

    close(a->fd);
    a->fd = -1;
    errno = e;
}

/* Appends rec; with sync, fsyncs the file (this record and every earlier
 * one) before the chain state advances. */
static int append(struct vrf_audit *a, json_t *rec, uint8_t hash[32],
                  int sync)
{
    char line[VRF_AUDIT_LINE_MAX], when[32], prev[65];
    struct timespec ts;
    uint8_t h[32];
    size_t n;
    ssize_t w;

    if (a == NULL || !json_is_object(rec) ||
        !json_is_string(json_object_get(rec, "event"))) {
        errno = EINVAL;
        return -1;
    }
    if (a->fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return -1;
    vrf_format_time_ms((uint64_t)ts.tv_sec * 1000 +
                           (uint64_t)ts.tv_nsec / 1000000,
                       when);
    fw_hex32(a->last_hash, prev);
    if (json_object_set_new(rec, "n", json_integer((json_int_t)a->next_n)) !=
            0 ||
        json_object_set_new(rec, "time", json_string(when)) != 0 ||
        json_object_set_new(rec, "prev", json_string(prev)) != 0) {
        errno = ENOMEM;
        return -1;
    }
    n = json_dumpb(rec, line, sizeof line - 1, CANON_FLAGS);
    if (n == 0) {
        errno = EINVAL;
        return -1;
    }
    if (n > sizeof line - 1) {
        errno = EMSGSIZE;
        return -1;
    }
    if (mbedtls_sha256_ret((const uint8_t *)line, n, h, 0) != 0) {
        errno = EINVAL;
        return -1;
    }
    line[n] = '\n';

    /* One write(): with O_APPEND the line lands whole at the end, or (cut
     * off by a crash) as a torn tail the next open removes. */
    do
        w = write(a->fd, line, n + 1);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return -1; /* nothing written: the handle stays usable */
    if ((size_t)w != n + 1) {
        errno = EIO;
        poison(a);
        return -1;
    }
    if (sync && fsync(a->fd) != 0) {
        poison(a);
        return -1;
    }
    a->next_n++;
    memcpy(a->last_hash, h, sizeof h);
    if (hash != NULL)
        memcpy(hash, h, sizeof h);
    return 0;
}

int vrf_audit_append(struct vrf_audit *a, json_t *rec, uint8_t hash[32])
{
    return append(a, rec, hash, 1);
}

int vrf_audit_append_unsynced(struct vrf_audit *a, json_t *rec,
                              uint8_t hash[32])
{
    return append(a, rec, hash, 0);
}

void vrf_audit_close(struct vrf_audit *a)
{
    if (a == NULL || a->fd < 0)
        return;
    close(a->fd);
    a->fd = -1;
}
