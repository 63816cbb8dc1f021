/* vrf_audit_cli.c: `hvpatch audit verify LOG [--attestation DIR] [--json]`:
 * the offline check of the verifier's audit log (hash chain, records) and
 * of its agreement with a TPM attestation's PCR 10 events, for auditors
 * (docs/AUDIT.md). Errors read "hvpatch audit verify: LOG:LINE: reason". */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/vrf_audit.h"
#include "cli/cli.h"
#include "firmware/fw_measure.h"
#include "lib/vrf_file.h"

static const char verify_usage[] =
    "usage: hvpatch audit verify LOG [--attestation DIR] [--json]\n"
    "  Checks the verifier's audit log LOG: every line a canonical JSON\n"
    "  record, numbered from 0 and hash-chained (prev), with known events\n"
    "  and valid members; prints a summary. A last line without a newline\n"
    "  that can be the start of a record (\"{\", UTF-8, no control bytes:\n"
    "  a write cut off by a crash) is a warning, not an error; other bytes\n"
    "  after the last newline are garbage, an error.\n"
    "  --attestation DIR  also check DIR (written by `hvpatch attest`) as\n"
    "      `hvpatch verify-attestation DIR` does, with the AK and the nonce\n"
    "      found in DIR (trusted on first use), then that its PCR 10 events\n"
    "      equal, in order and field by field, the pcr10 records of the\n"
    "      boot with the attested boot id (later audit records the quote\n"
    "      does not cover yet are counted, not an error)\n"
    "  --json  print the summary as JSON\n"
    "Exit codes: 0 verified, 1 usage, 2 cannot read LOG or DIR (or not a\n"
    "regular file), 4 the log, or its agreement with the attestation,\n"
    "fails (reason on stderr), 9 LOG holds no record (0 bytes, or only a\n"
    "torn first line), 10 garbage after the last record.\n";

struct verify {
    const char *log, *att_dir;
    int json;
    struct vrf_audit_report rep;
    struct vrf_attest_report att;
    struct vrf_audit_match m;
};

/* Reports a failure as "hvpatch audit verify: WHERE[:LINE]: reason" (and
 * as JSON on stdout with --json); returns code. */
static int refuse(const struct verify *v, int code, const char *where,
                  uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int refuse(const struct verify *v, int code, const char *where,
                  uint64_t line, const char *fmt, ...)
{
    char why[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (line != 0)
        fprintf(stderr, "hvpatch audit verify: %s:%llu: %s\n", where,
                (unsigned long long)line, why);
    else
        fprintf(stderr, "hvpatch audit verify: %s: %s\n", where, why);
    if (v->json) {
        json_t *j = json_pack("{s:s, s:b, s:s, s:s}", "log", v->log, "ok", 0,
                              "where", where, "error", why);
        json_object_set_new(
            j, "line", line ? json_integer((json_int_t)line) : json_null());
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
        json_decref(j);
    }
    return code;
}

/* 1. The chain, read from the file in bounded chunks. */
static int check_log(struct verify *v)
{
    struct stat st;
    char err[512];
    int fd = vrf_file_open_read(v->log, &st, err, sizeof err), rc;

    if (fd < 0)
        return refuse(v, CLI_EXIT_HOST, v->log, 0, "cannot open: %s", err);
    rc = vrf_audit_check_fd(fd, &v->rep);
    close(fd);
    if (rc == VRF_ERR_AUDIT_IO || rc == VRF_ERR_AUDIT_NOMEM)
        return refuse(v, CLI_EXIT_HOST, v->log, 0, "%s",
                      v->rep.detail[0] ? v->rep.detail
                                       : vrf_audit_strerror(rc));
    if (rc == VRF_ERR_AUDIT_TAIL)
        return refuse(v, CLI_EXIT_AUDIT_TAIL, v->log, v->rep.err_line, "%s",
                      v->rep.detail);
    if (rc != 0)
        return refuse(v, CLI_EXIT_REFUSED, v->log, v->rep.err_line, "%s",
                      v->rep.detail);
    /* A log always begins with its boot record: no record at all is
     * not "a chain intact" but nothing to verify. */
    if (v->rep.records == 0 && v->rep.torn_len == 0)
        return refuse(v, CLI_EXIT_AUDIT_EMPTY, v->log, 0,
                      "empty (0 bytes): no record to verify; a log begins "
                      "with a \"boot\" record");
    if (v->rep.records == 0)
        return refuse(v, CLI_EXIT_AUDIT_EMPTY, v->log, 1,
                      "no complete record: only a torn first line (%zu bytes "
                      "without a newline), a write cut off by a crash",
                      v->rep.torn_len);
    if (v->rep.torn_len != 0)
        fprintf(stderr,
                "hvpatch audit verify: %s:%llu: warning: torn last line "
                "(%zu bytes without a newline) ignored: a write cut off by "
                "a crash, never acknowledged\n",
                v->log, (unsigned long long)v->rep.records + 1,
                v->rep.torn_len);
    return CLI_EXIT_OK;
}

/* 2. The attestation as verify-attestation checks it, with what DIR holds
 * (AK and nonce: trusted on first use), then its PCR 10 events against
 * the audit log. */
static int check_attestation(struct verify *v)
{
    struct vrf_quote *q = calloc(1, sizeof *q);
    uint8_t nonce[VRF_NONCE_MAX], *evlog = NULL;
    size_t nonce_len = 0, evlog_len = 0;
    char err[512] = "";
    int rc, ret = CLI_EXIT_HOST;

    if (q == NULL) {
        ret = refuse(v, CLI_EXIT_HOST, v->att_dir, 0, "out of memory");
        goto cleanup;
    }
    rc = vrf_att_load(v->att_dir, q, &evlog, &evlog_len, err, sizeof err);
    if (rc == 0)
        rc = vrf_att_load_nonce(v->att_dir, nonce, &nonce_len, err, sizeof err);
    if (rc != 0) {
        ret = refuse(
            v, rc == VRF_ERR_ATT_FORMAT ? CLI_EXIT_REFUSED : CLI_EXIT_HOST,
            v->att_dir, 0, "%s: %s", vrf_tpm_strerror(rc), err);
        goto cleanup;
    }
    rc = vrf_attest_check(q, nonce, nonce_len, evlog, evlog_len, &v->att);
    if (rc != 0) {
        ret = refuse(v, CLI_EXIT_REFUSED, v->att_dir, 0, "%s: %s",
                     vrf_tpm_strerror(rc), v->att.detail);
        goto cleanup;
    }
    rc = vrf_audit_match(&v->rep, &v->att, &v->m);
    if (rc != 0) {
        ret = refuse(v, CLI_EXIT_REFUSED, v->log, v->m.err_line,
                     "disagrees with %s: %s", v->att_dir, v->m.detail);
        goto cleanup;
    }
    ret = CLI_EXIT_OK;
cleanup:
    free(q);
    free(evlog);
    return ret;
}

/* 3. The summary. */
static void print_text(const struct verify *v)
{
    const struct vrf_audit_report *r = &v->rep;
    const uint64_t *e = r->events;
    size_t with_tpm = 0;
    char hex[65];

    for (size_t i = 0; i < r->nsegs; i++)
        with_tpm += r->segs[i].has_boot_id ? 1 : 0;
    printf("audit log %s: OK, hash chain intact\n", v->log);
    printf("records: %llu\n", (unsigned long long)r->records);
    printf("boots: %llu (%zu with a TPM)\n",
           (unsigned long long)e[VRF_AUDIT_EV_BOOT], with_tpm);
    printf("text locks: %llu\n",
           (unsigned long long)e[VRF_AUDIT_EV_TEXT_LOCKED]);
    printf("patches: %llu approved, %llu applied, %llu reverted, %llu "
           "rejected, %llu aborted\n",
           (unsigned long long)e[VRF_AUDIT_EV_APPROVED],
           (unsigned long long)e[VRF_AUDIT_EV_APPLIED],
           (unsigned long long)e[VRF_AUDIT_EV_REVERTED],
           (unsigned long long)e[VRF_AUDIT_EV_REJECTED],
           (unsigned long long)e[VRF_AUDIT_EV_ABORTED]);
    printf("automatic reverts (health watch): %llu\n",
           (unsigned long long)e[VRF_AUDIT_EV_AUTO_REVERTED]);
    printf("guest writes blocked: %llu\n",
           (unsigned long long)e[VRF_AUDIT_EV_WRITE_BLOCKED]);
    fw_hex32(r->last_hash, hex);
    printf("last record hash: %s\n", hex);
    if (v->att_dir == NULL)
        return;

    const struct vrf_audit_segment *s = &r->segs[v->m.seg];
    printf("attestation %s: quote verified (signature, nonce, magic, type, "
           "PCR digest, event-log replay)\n",
           v->att_dir);
    printf("  AK: %s/%s, trusted on first use: compare it with the AK you "
           "enrolled\n",
           v->att_dir, VRF_ATT_AK_PUB);
    printf("  nonce: %s/%s: proves no freshness\n", v->att_dir, VRF_ATT_NONCE);
    fw_hex32(s->boot_id, hex);
    printf("  boot id %s: boot record at line %llu (kind %s)\n", hex,
           (unsigned long long)s->line, s->kind);
    if (v->m.same_id > 1)
        printf("  %zu boots in the log have this boot id; the latest that "
               "agrees is used\n",
               v->m.same_id);
    printf("  pcr10: %zu TPM events equal the audit log's, in order, field "
           "by field\n",
           v->m.covered);
    if (v->m.later != 0)
        printf("  pcr10: %zu later audit events not covered by this quote\n",
               v->m.later);
}

static json_t *hex_or_null(int have, const uint8_t d[32])
{
    char hex[65];

    if (!have)
        return json_null();
    fw_hex32(d, hex);
    return json_string(hex);
}

static void print_json(const struct verify *v)
{
    const struct vrf_audit_report *r = &v->rep;
    json_t *j, *events = json_object(), *segs = json_array();

    for (int i = 0; i < VRF_AUDIT_EV_COUNT; i++)
        json_object_set_new(events, vrf_audit_event_name(i),
                            json_integer((json_int_t)r->events[i]));
    for (size_t i = 0; i < r->nsegs; i++) {
        const struct vrf_audit_segment *s = &r->segs[i];
        json_array_append_new(
            segs,
            json_pack("{s:I, s:s, s:o, s:o, s:I}", "line", (json_int_t)s->line,
                      "kind", s->kind, "baseline", hex_or_null(1, s->baseline),
                      "boot_id", hex_or_null(s->has_boot_id, s->boot_id),
                      "pcr10", (json_int_t)s->npcr10));
    }
    j = json_pack("{s:s, s:b, s:I, s:I, s:o, s:o, s:I, s:o}", "log", v->log,
                  "ok", 1, "records", (json_int_t)r->records, "boots",
                  (json_int_t)r->events[VRF_AUDIT_EV_BOOT], "events", events,
                  "last_hash", hex_or_null(r->records != 0, r->last_hash),
                  "torn_tail_bytes", (json_int_t)r->torn_len, "segments", segs);
    if (v->att_dir != NULL) {
        const struct vrf_audit_segment *s = &r->segs[v->m.seg];
        json_object_set_new(
            j, "attestation",
            json_pack(
                "{s:s, s:s, s:b, s:o, s:I, s:I, s:I, s:I}", "dir", v->att_dir,
                "ak", "trusted on first use", "nonce_fresh", 0, "boot_id",
                hex_or_null(1, s->boot_id), "boot_line", (json_int_t)s->line,
                "same_boot_id", (json_int_t)v->m.same_id, "covered",
                (json_int_t)v->m.covered, "later", (json_int_t)v->m.later));
    }
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    putchar('\n');
    json_decref(j);
}

static int parse_args(int argc, char **argv, struct verify *v)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            v->json = 1;
        } else if (strcmp(argv[i], "--attestation") == 0) {
            if (++i == argc || v->att_dir != NULL)
                return -1;
            v->att_dir = argv[i];
        } else if (argv[i][0] != '-' && v->log == NULL) {
            v->log = argv[i];
        } else {
            return -1;
        }
    }
    return v->log != NULL ? 0 : -1;
}

int cli_cmd_audit_verify(int argc, char **argv)
{
    struct verify v;
    int ret;

    memset(&v, 0, sizeof v);
    if (cli_wants_help(argc, argv)) {
        fputs(verify_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (parse_args(argc, argv, &v) != 0) {
        fputs(verify_usage, stderr);
        return CLI_EXIT_USAGE;
    }
    ret = check_log(&v);
    if (ret == CLI_EXIT_OK && v.att_dir != NULL)
        ret = check_attestation(&v);
    if (ret == CLI_EXIT_OK) {
        if (v.json)
            print_json(&v);
        else
            print_text(&v);
    }
    vrf_attest_report_free(&v.att);
    vrf_audit_report_free(&v.rep);
    return ret;
}
