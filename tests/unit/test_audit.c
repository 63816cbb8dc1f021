/* test_audit.c: the audit log: the writer (round trip, reopen continues
 * the chain, torn tail removed, broken chain refused, oversize record
 * refused), the checker (one vector per rejection, each with its code,
 * line and reason), pcr10 events per boot (where the verifier measures:
 * text-locked, approved, aborted), the chunked file reader, and
 * the agreement with a TPM event log built by fw_measure_*. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <mbedtls/sha256.h>

#include "audit/vrf_audit.h"
#include "firmware/fw_measure.h"

#define TIME "2026-01-02T03:04:05.678Z"
#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define BOOT_TPM                                                               \
    "{\"event\":\"boot\",\"baseline\":\"" HEX_A "\",\"kind\":\"demo\","        \
    "\"boot_id\":\"" HEX_B "\",\"tpm\":\"ok\"}"
#define BOOT_NO_TPM                                                            \
    "{\"event\":\"boot\",\"baseline\":\"" HEX_A "\",\"kind\":\"demo\","        \
    "\"boot_id\":null,\"tpm\":\"none\"}"
/* A record of event ev carrying a pcr10 event (action act, seq seq); the
 * _OP form with an "op" member, which "approved" and "aborted" need. */
#define PCR10(ev, act, seq)                                                    \
    "{\"event\":\"" ev "\",\"pcr10\":{\"action\":\"" act "\",\"id\":"          \
    "\"pkg-1\",\"seq\":" #seq ",\"digest\":\"" HEX_C "\"}}"
#define PCR10_OP(ev, op, act, seq)                                             \
    "{\"event\":\"" ev "\",\"op\":\"" op "\",\"pcr10\":{\"action\":\"" act     \
    "\",\"id\":\"pkg-1\",\"seq\":" #seq ",\"digest\":\"" HEX_C "\"}}"

static char tmpdir[] = "/tmp/test_audit.XXXXXX";

static char *path_of(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

/* ---------------------------------------------- a log built in memory */

/* The checker's input, chained here independently of the writer: a
 * record gets "n", "time", "prev" unless it has its own (to break them);
 * RAW lines go in as they are. */
struct mlog {
    char buf[1 << 18];
    size_t len;
    uint64_t n;
    uint8_t prev[32];
};

static void add_line(struct mlog *l, const char *line, size_t len)
{
    assert_true(l->len + len + 1 <= sizeof l->buf);
    memcpy(l->buf + l->len, line, len);
    l->buf[l->len + len] = '\n';
    l->len += len + 1;
    assert_int_equal(mbedtls_sha256_ret((const uint8_t *)line, len, l->prev, 0),
                     0);
    l->n++;
}

static void add(struct mlog *l, const char *text)
{
    json_error_t e;
    json_t *rec;
    char hex[65], line[8192];

    if (strncmp(text, "RAW:", 4) == 0) {
        add_line(l, text + 4, strlen(text + 4));
        return;
    }
    rec = json_loads(text, 0, &e);
    if (rec == NULL)
        fail_msg("bad test vector %s: %s", text, e.text);
    fw_hex32(l->prev, hex);
    if (json_object_get(rec, "n") == NULL)
        json_object_set_new(rec, "n", json_integer((json_int_t)l->n));
    if (json_object_get(rec, "time") == NULL)
        json_object_set_new(rec, "time", json_string(TIME));
    if (json_object_get(rec, "prev") == NULL)
        json_object_set_new(rec, "prev", json_string(hex));
    size_t n =
        json_dumpb(rec, line, sizeof line, JSON_COMPACT | JSON_SORT_KEYS);
    assert_true(n > 0 && n < sizeof line);
    add_line(l, line, n);
    json_decref(rec);
}

static struct mlog *build(const char *const *recs)
{
    static struct mlog l;

    memset(&l, 0, sizeof l);
    for (size_t i = 0; recs[i] != NULL; i++)
        add(&l, recs[i]);
    return &l;
}

/* ---------------------------------------------------- checker vectors */

#define MAXREC 16
struct vector {
    const char *name;
    const char *recs[MAXREC]; /* NULL-terminated */
    int code;                 /* expected result */
    uint64_t line;            /* expected err_line */
    const char *detail;       /* expected substring of the reason */
};

static const struct vector vectors[] = {
    /* Measure, then write: "approved" carries the operation's event,
     * "aborted" the one that undoes it, "applied" and "reverted" none. */
    {"every event, valid",
     {BOOT_TPM, PCR10("text-locked", "text-lock", 0),
      PCR10_OP("approved", "apply", "patch", 1),
      "{\"event\":\"applied\",\"id\":\"pkg-1\",\"seq\":1}",
      PCR10_OP("approved", "revert", "revert", 1),
      "{\"event\":\"reverted\",\"id\":\"pkg-1\",\"seq\":1}",
      PCR10_OP("approved", "apply", "patch", 1),
      PCR10_OP("aborted", "apply", "revert", 1),
      "{\"event\":\"rejected\",\"op\":\"apply\",\"reason\":\"bad "
      "signature\"}",
      "{\"event\":\"aborted\",\"op\":\"apply\",\"tpm_error\":\"gone\"}",
      "{\"event\":\"guest-write-blocked\",\"gpa\":4096,\"count\":3}",
      BOOT_NO_TPM, "{\"event\":\"applied\",\"unknown\":[1,{\"x\":null}]}",
      NULL},
     0,
     0,
     ""},
    {"an aborted revert carries patch, valid",
     {BOOT_TPM, PCR10_OP("approved", "apply", "patch", 1),
      "{\"event\":\"applied\"}", PCR10_OP("approved", "revert", "revert", 1),
      PCR10_OP("aborted", "revert", "patch", 1), NULL},
     0,
     0,
     ""},
    {"approved and aborted without pcr10, valid",
     {BOOT_TPM, "{\"event\":\"approved\",\"id\":\"pkg-1\"}",
      "{\"event\":\"approved\",\"op\":\"apply\"}",
      "{\"event\":\"aborted\",\"op\":\"revert\"}", "{\"event\":\"aborted\"}",
      NULL},
     0,
     0,
     ""},
    {"empty log", {NULL}, 0, 0, ""},
    {"prev broken",
     {BOOT_TPM, "{\"event\":\"aborted\"}",
      "{\"event\":\"aborted\",\"prev\":\"" HEX_A "\"}", NULL},
     VRF_ERR_AUDIT_PREV,
     3,
     "prev does not match the hash of line 2"},
    {"first prev not zero",
     {"{\"event\":\"boot\",\"prev\":\"" HEX_A "\"}", NULL},
     VRF_ERR_AUDIT_PREV,
     1,
     "prev is not 64 zeros"},
    {"n skips",
     {BOOT_TPM, "{\"event\":\"aborted\"}", "{\"event\":\"aborted\",\"n\":5}",
      NULL},
     VRF_ERR_AUDIT_N,
     3,
     "n is 5, expected 2"},
    {"n not an integer",
     {"{\"event\":\"boot\",\"n\":\"0\"}", NULL},
     VRF_ERR_AUDIT_MEMBER,
     1,
     "\"n\" is not an integer"},
    {"not canonical: spaces",
     {BOOT_TPM, "RAW:{\"event\": \"aborted\"}", NULL},
     VRF_ERR_AUDIT_CANONICAL,
     2,
     "not canonical JSON"},
    {"not canonical: key order",
     {BOOT_TPM, "RAW:{\"time\":\"" TIME "\",\"n\":1}", NULL},
     VRF_ERR_AUDIT_CANONICAL,
     2,
     "not canonical JSON"},
    {"not canonical: CRLF",
     {BOOT_TPM, "RAW:{\"event\":\"aborted\"}\r", NULL},
     VRF_ERR_AUDIT_CANONICAL,
     2,
     "not canonical JSON"},
    {"not canonical: number form",
     {BOOT_TPM, "RAW:{\"n\":1e0}", NULL},
     VRF_ERR_AUDIT_CANONICAL,
     2,
     "not canonical JSON"},
    {"not JSON",
     {BOOT_TPM, "RAW:{\"n\":1,", NULL},
     VRF_ERR_AUDIT_JSON,
     2,
     "not JSON: "},
    {"empty line",
     {BOOT_TPM, "RAW:", NULL},
     VRF_ERR_AUDIT_JSON,
     2,
     "not JSON: "},
    {"not UTF-8",
     {BOOT_TPM, "RAW:{\"event\":\"\xff\"}", NULL},
     VRF_ERR_AUDIT_JSON,
     2,
     "not JSON: "},
    {"duplicate key",
     {"RAW:{\"n\":0,\"n\":0}", NULL},
     VRF_ERR_AUDIT_JSON,
     1,
     "duplicate"},
    {"not an object",
     {BOOT_TPM, "RAW:[1,2]", NULL},
     VRF_ERR_AUDIT_JSON,
     2,
     "not a JSON object"},
    {"nested too deep",
     {"RAW:{\"a\":[[[[[[[[1]]]]]]]]}", NULL},
     VRF_ERR_AUDIT_JSON,
     1,
     "nested deeper than 8"},
    {"unknown event",
     {BOOT_TPM, "{\"event\":\"x\"}", NULL},
     VRF_ERR_AUDIT_EVENT,
     2,
     "unknown event \"x\""},
    {"unknown event, control bytes shown safely",
     {BOOT_TPM, "{\"event\":\"\\u001b[2J\"}", NULL},
     VRF_ERR_AUDIT_EVENT,
     2,
     "unknown event \"?[2J\""},
    {"first record not boot",
     {"{\"event\":\"approved\"}", NULL},
     VRF_ERR_AUDIT_EVENT,
     1,
     "before any \"boot\" record"},
    {"missing event",
     {"{\"kind\":\"demo\"}", NULL},
     VRF_ERR_AUDIT_MEMBER,
     1,
     "missing member \"event\""},
    {"bad time",
     {BOOT_TPM, "{\"event\":\"aborted\",\"time\":\"2026-13-01T00:00:00.000Z\"}",
      NULL},
     VRF_ERR_AUDIT_MEMBER,
     2,
     "is not UTC"},
    {"time without milliseconds",
     {BOOT_TPM, "{\"event\":\"aborted\",\"time\":\"2026-01-01T00:00:00Z\"}",
      NULL},
     VRF_ERR_AUDIT_MEMBER,
     2,
     "is not UTC"},
    {"boot without baseline",
     {"{\"event\":\"boot\",\"kind\":\"demo\",\"boot_id\":null,"
      "\"tpm\":\"none\"}",
      NULL},
     VRF_ERR_AUDIT_MEMBER,
     1,
     "missing member \"baseline\""},
    {"boot id in upper case",
     {"{\"event\":\"boot\",\"baseline\":\"" HEX_A "\",\"kind\":\"demo\","
      "\"boot_id\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
      "AAAAAAAA\",\"tpm\":\"ok\"}",
      NULL},
     VRF_ERR_AUDIT_MEMBER,
     1,
     "\"boot_id\" is not 64 lowercase hex digits"},
    {"boot kind invalid",
     {"{\"event\":\"boot\",\"baseline\":\"" HEX_A "\",\"kind\":\"Demo!\","
      "\"boot_id\":null,\"tpm\":\"none\"}",
      NULL},
     VRF_ERR_AUDIT_MEMBER,
     1,
     "\"kind\" is not 1..32"},
    {"boot tpm ok without boot id",
     {"{\"event\":\"boot\",\"baseline\":\"" HEX_A "\",\"kind\":\"demo\","
      "\"boot_id\":null,\"tpm\":\"ok\"}",
      NULL},
     VRF_ERR_AUDIT_MEMBER,
     1,
     "\"boot_id\" is not a string"},
    {"boot no tpm with boot id",
     {"{\"event\":\"boot\",\"baseline\":\"" HEX_A "\",\"kind\":\"demo\","
      "\"boot_id\":\"" HEX_B "\",\"tpm\":\"none\"}",
      NULL},
     VRF_ERR_AUDIT_MEMBER,
     1,
     "\"boot_id\" is not null"},
    {"boot tpm value",
     {"{\"event\":\"boot\",\"baseline\":\"" HEX_A "\",\"kind\":\"demo\","
      "\"boot_id\":null,\"tpm\":\"maybe\"}",
      NULL},
     VRF_ERR_AUDIT_MEMBER,
     1,
     "\"tpm\" is neither"},
    {"pcr10 on an approval without op",
     {BOOT_TPM, PCR10("approved", "patch", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10\" on a \"approved\" record (only text-locked, approved and "
     "aborted, with an \"op\""},
    {"pcr10 on an approval of another op",
     {BOOT_TPM, PCR10_OP("approved", "install", "patch", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10\" on a \"approved\" record"},
    {"pcr10 on an approval whose op is not a string",
     {BOOT_TPM,
      "{\"event\":\"approved\",\"op\":1,\"pcr10\":{\"action\":\"patch\","
      "\"id\":\"p\",\"seq\":1,\"digest\":\"" HEX_C "\"}}",
      NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10\" on a \"approved\" record"},
    {"pcr10 on an abort without op",
     {BOOT_TPM, PCR10_OP("approved", "apply", "patch", 1),
      PCR10("aborted", "revert", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     3,
     "\"pcr10\" on a \"aborted\" record"},
    {"pcr10 on applied (the approval carries it)",
     {BOOT_TPM, PCR10_OP("approved", "apply", "patch", 1),
      PCR10("applied", "patch", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     3,
     "\"pcr10\" on a \"applied\" record"},
    {"pcr10 on applied with an op",
     {BOOT_TPM, PCR10_OP("applied", "apply", "patch", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10\" on a \"applied\" record"},
    {"pcr10 on reverted (the approval carries it)",
     {BOOT_TPM, PCR10_OP("approved", "revert", "revert", 1),
      PCR10("reverted", "revert", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     3,
     "\"pcr10\" on a \"reverted\" record"},
    {"an automatic revert, valid",
     {BOOT_TPM, PCR10_OP("approved", "apply", "patch", 1),
      "{\"event\":\"applied\"}", PCR10_OP("approved", "revert", "revert", 1),
      "{\"event\":\"auto-reverted\",\"id\":\"pkg-1\",\"reason\":\"no "
      "heartbeat\"}",
      NULL},
     0,
     0,
     ""},
    {"pcr10 on auto-reverted (the approval carries it)",
     {BOOT_TPM, PCR10_OP("approved", "revert", "revert", 1),
      PCR10("auto-reverted", "revert", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     3,
     "\"pcr10\" on a \"auto-reverted\" record"},
    {"pcr10 on a rejection with an op",
     {BOOT_TPM, PCR10_OP("rejected", "apply", "patch", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10\" on a \"rejected\" record"},
    {"pcr10 on a blocked write",
     {BOOT_TPM, PCR10("guest-write-blocked", "patch", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10\" on a \"guest-write-blocked\" record"},
    {"pcr10 without a TPM",
     {BOOT_NO_TPM, PCR10_OP("approved", "apply", "patch", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "in a boot without a TPM (line 1"},
    {"pcr10 action of a text lock",
     {BOOT_TPM, PCR10("text-locked", "patch", 0), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10.action\" of this \"text-locked\" record must be \"text-lock\""},
    {"pcr10 action of an approved apply",
     {BOOT_TPM, PCR10_OP("approved", "apply", "revert", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10.action\" of this \"approved\" record must be \"patch\""},
    {"pcr10 action of an approved revert",
     {BOOT_TPM, PCR10_OP("approved", "revert", "patch", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10.action\" of this \"approved\" record must be \"revert\""},
    {"pcr10 action of an aborted apply",
     {BOOT_TPM, PCR10_OP("approved", "apply", "patch", 1),
      PCR10_OP("aborted", "apply", "patch", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     3,
     "\"pcr10.action\" of this \"aborted\" record must be \"revert\""},
    {"pcr10 action of an aborted revert",
     {BOOT_TPM, PCR10_OP("approved", "revert", "revert", 1),
      PCR10_OP("aborted", "revert", "revert", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     3,
     "\"pcr10.action\" of this \"aborted\" record must be \"patch\""},
    {"pcr10 action unknown",
     {BOOT_TPM, PCR10_OP("approved", "apply", "install", 1), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10.action\" of this \"approved\" record must be \"patch\""},
    {"pcr10 seq negative",
     {BOOT_TPM, PCR10_OP("approved", "apply", "patch", -1), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10.seq\" is negative"},
    {"pcr10 seq a string",
     {BOOT_TPM, PCR10_OP("approved", "apply", "patch", "1"), NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10.seq\" is not an integer"},
    {"pcr10 digest short",
     {BOOT_TPM,
      "{\"event\":\"approved\",\"op\":\"apply\",\"pcr10\":{\"action\":"
      "\"patch\",\"id\":\"p\","
      "\"seq\":1,\"digest\":\"abc\"}}",
      NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10.digest\" is not 64 lowercase hex"},
    {"pcr10 id with a space",
     {BOOT_TPM,
      "{\"event\":\"approved\",\"op\":\"apply\",\"pcr10\":{\"action\":"
      "\"patch\",\"id\":\"a b\","
      "\"seq\":1,\"digest\":\"" HEX_C "\"}}",
      NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10.id\" is not 1..128 printable"},
    {"pcr10 id missing",
     {BOOT_TPM,
      "{\"event\":\"approved\",\"op\":\"apply\",\"pcr10\":{\"action\":"
      "\"patch\","
      "\"seq\":1,\"digest\":\"" HEX_C "\"}}",
      NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "missing member \"pcr10.id\""},
    {"pcr10 extra member",
     {BOOT_TPM,
      "{\"event\":\"approved\",\"op\":\"apply\",\"pcr10\":{\"action\":"
      "\"patch\",\"id\":\"p\","
      "\"seq\":1,\"digest\":\"" HEX_C "\",\"pcr\":10}}",
      NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "members besides"},
    {"pcr10 not an object",
     {BOOT_TPM, "{\"event\":\"approved\",\"op\":\"apply\",\"pcr10\":[]}", NULL},
     VRF_ERR_AUDIT_PCR10,
     2,
     "\"pcr10\" is not an object"},
};

static void test_checker_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const struct vector *v = &vectors[i];
        const struct mlog *l = build(v->recs);
        struct vrf_audit_report rep;
        int ret = vrf_audit_check((const uint8_t *)l->buf, l->len, &rep);
        if (ret != v->code || rep.err_line != v->line ||
            strstr(rep.detail, v->detail) == NULL)
            fail_msg("%s: got %d (%s) line %llu \"%s\", want %d line %llu "
                     "\"%s\"",
                     v->name, ret, vrf_audit_strerror(ret),
                     (unsigned long long)rep.err_line, rep.detail, v->code,
                     (unsigned long long)v->line, v->detail);
        if (ret == 0) {
            assert_int_equal(rep.records, l->n);
            assert_int_equal(rep.good_len, l->len);
            assert_int_equal(rep.torn_len, 0);
            assert_memory_equal(rep.last_hash, l->prev, 32);
        }
        vrf_audit_report_free(&rep);
    }
}

/* Line length: 4095 bytes and a newline is a line; 4096 bytes is not,
 * whether or not a newline follows. */
static void test_checker_line_length(void **state)
{
    static const char *const one[] = {BOOT_TPM, NULL};
    static char buf[3 * VRF_AUDIT_LINE_MAX];
    char pad[VRF_AUDIT_LINE_MAX];
    struct vrf_audit_report rep;
    struct mlog *l;
    json_t *r;

    (void)state;
    /* The line at n = 1 with an empty pad, then padded to 4095 bytes. */
    r = json_loads("{\"event\":\"aborted\",\"pad\":\"\",\"n\":1,\"time\":"
                   "\"" TIME "\",\"prev\":\"" HEX_A "\"}",
                   0, NULL);
    assert_non_null(r);
    size_t base = json_dumpb(r, buf, sizeof buf, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(r);
    l = build(one);
    size_t before = l->len;
    memset(pad, 'x', sizeof pad);
    snprintf(buf, sizeof buf, "{\"event\":\"aborted\",\"pad\":\"%.*s\"}",
             (int)(VRF_AUDIT_LINE_MAX - 1 - base), pad);
    add(l, buf);
    assert_int_equal(l->len - before, VRF_AUDIT_LINE_MAX);
    assert_int_equal(vrf_audit_check((const uint8_t *)l->buf, l->len, &rep), 0);
    assert_int_equal(rep.records, 2);
    vrf_audit_report_free(&rep);

    memset(buf, 'x', VRF_AUDIT_LINE_MAX);
    buf[VRF_AUDIT_LINE_MAX] = '\n';
    assert_int_equal(
        vrf_audit_check((uint8_t *)buf, VRF_AUDIT_LINE_MAX + 1, &rep),
        VRF_ERR_AUDIT_TOO_LONG);
    assert_int_equal(rep.err_line, 1);
    assert_non_null(strstr(rep.detail, "longer than 4096 bytes"));
    vrf_audit_report_free(&rep);
    /* A "torn tail" that long was never one write of the writer. */
    assert_int_equal(vrf_audit_check((uint8_t *)buf, VRF_AUDIT_LINE_MAX, &rep),
                     VRF_ERR_AUDIT_TOO_LONG);
    vrf_audit_report_free(&rep);
    buf[0] = '{'; /* a cut record begins like one */
    assert_int_equal(
        vrf_audit_check((uint8_t *)buf, VRF_AUDIT_LINE_MAX - 1, &rep), 0);
    assert_int_equal(rep.records, 0);
    assert_int_equal(rep.torn_len, VRF_AUDIT_LINE_MAX - 1);
    vrf_audit_report_free(&rep);
}

static size_t read_file(const char *path, char *buf, size_t cap);

/* After the last newline: a cut record is a torn tail, anything the
 * writer cannot have begun to write is garbage, with its own code. */
static void test_checker_garbage_tail(void **state)
{
    static const char *const recs[] = {BOOT_TPM, NULL};
#define TAIL(s) s, sizeof s - 1
    static const struct {
        const char *tail;
        size_t len;
        int want;
        const char *detail;
    } cases[] = {
        {TAIL("{\"event\":\"appl"), 0, NULL},
        {TAIL("{\"title\":\"caf\xc3\xa9"), 0, NULL},
        {TAIL("{\"title\":\"caf\xc3"), 0, NULL}, /* cut mid-character */
        {TAIL("{\"title\":\"\xe2\x82"), 0, NULL},
        {TAIL("\x7f\x45LF\x02"), VRF_ERR_AUDIT_TAIL, "first byte 0x7f"},
        {TAIL("x"), VRF_ERR_AUDIT_TAIL, "not \"{\""},
        {TAIL("{\"n\":\0\0\0"), VRF_ERR_AUDIT_TAIL,
         "byte 0x00 at offset 5 is a control byte"},
        {TAIL("{\"a\":\"\r\""), VRF_ERR_AUDIT_TAIL, "a control byte"},
        {TAIL("{\"a\":\"\xff\""), VRF_ERR_AUDIT_TAIL,
         "byte 0xff at offset 6 is not UTF-8"},
        {TAIL("{\"a\":\"\xc3(\""), VRF_ERR_AUDIT_TAIL, "not UTF-8"},
        {TAIL("{\"a\":\"\xc0\xaf"), VRF_ERR_AUDIT_TAIL, "not UTF-8"},
        {TAIL("{\"a\":\"\xed\xa0\x80"), VRF_ERR_AUDIT_TAIL, "not UTF-8"},
    };
    const struct mlog *l = build(recs);
    struct vrf_audit_report rep;
    static char buf[2 * VRF_AUDIT_LINE_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(buf, l->buf, l->len);
        memcpy(buf + l->len, cases[i].tail, cases[i].len);
        int ret = vrf_audit_check((uint8_t *)buf, l->len + cases[i].len, &rep);
        if (ret != cases[i].want)
            fail_msg("case %zu: got %d (%s)", i, ret, rep.detail);
        if (ret == 0) {
            assert_int_equal(rep.records, 1);
            assert_int_equal(rep.torn_len, cases[i].len);
        } else {
            assert_int_equal(rep.err_line, 2);
            if (strstr(rep.detail, cases[i].detail) == NULL)
                fail_msg("case %zu: detail \"%s\"", i, rep.detail);
        }
        vrf_audit_report_free(&rep);
    }
    /* The writer refuses to append after garbage (it is evidence). */
    const char *p = path_of("garbage.log");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, l->buf, l->len), (ssize_t)l->len);
    assert_int_equal(write(fd, "\x7f\x45LF", 4), 4);
    close(fd);
    struct vrf_audit a;
    char err[512];
    assert_int_equal(vrf_audit_open(&a, p, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2: 4 bytes after the last newline"));
    assert_int_equal(read_file(p, buf, sizeof buf), l->len + 4);
#undef TAIL
}

/* A torn tail is reported and ignored; any cut that ends mid-line is one,
 * and a cut after a "\n" leaves a shorter valid log. */
static void test_checker_torn_tail(void **state)
{
    static const char *const recs[] = {
        BOOT_TPM, "{\"event\":\"aborted\"}",
        PCR10_OP("approved", "apply", "patch", 1), NULL};
    struct vrf_audit_report rep;
    const struct mlog *l = build(recs);
    uint64_t lines = 0;

    (void)state;
    for (size_t cut = 0; cut <= l->len; cut++) {
        int ret = vrf_audit_check((const uint8_t *)l->buf, cut, &rep);
        if (ret != 0)
            fail_msg("cut at %zu: %s", cut, rep.detail);
        assert_int_equal(rep.records, lines);
        assert_int_equal(rep.good_len + rep.torn_len, cut);
        if (cut < l->len && l->buf[cut] == '\n')
            lines++;
        vrf_audit_report_free(&rep);
    }
}

/* Boot segments and their pcr10 events, fields as written: on the text
 * lock, the approvals and the abort, never on applied or reverted. */
static void test_pcr10_segments(void **state)
{
    static const char *const recs[] = {
        BOOT_TPM,
        PCR10("text-locked", "text-lock", 0),
        "{\"event\":\"approved\",\"op\":\"apply\",\"pcr10\":{\"action\":"
        "\"patch\",\"id\":\"pkg-7\",\"seq\":7,\"digest\":\"" HEX_A "\"}}",
        "{\"event\":\"applied\",\"id\":\"pkg-7\"}",
        "{\"event\":\"guest-write-blocked\"}",
        PCR10_OP("approved", "revert", "revert", 1),
        "{\"event\":\"reverted\",\"id\":\"pkg-1\"}",
        PCR10_OP("approved", "apply", "patch", 1),
        PCR10_OP("aborted", "apply", "revert", 1),
        BOOT_NO_TPM,
        "{\"event\":\"applied\"}",
        BOOT_TPM,
        PCR10("text-locked", "text-lock", 0),
        NULL,
    };
    static const uint8_t acts[] = {FW_ACT_TEXT_LOCK, FW_ACT_PATCH,
                                   FW_ACT_REVERT, FW_ACT_PATCH, FW_ACT_REVERT};
    static const uint64_t lines[] = {2, 3, 6, 8, 9};
    struct vrf_audit_report rep;
    const struct mlog *l = build(recs);

    (void)state;
    assert_int_equal(vrf_audit_check((const uint8_t *)l->buf, l->len, &rep), 0);
    assert_int_equal(rep.nsegs, 3);
    assert_int_equal(rep.events[VRF_AUDIT_EV_BOOT], 3);
    assert_int_equal(rep.events[VRF_AUDIT_EV_APPROVED], 3);
    assert_int_equal(rep.events[VRF_AUDIT_EV_APPLIED], 2);
    assert_int_equal(rep.events[VRF_AUDIT_EV_REVERTED], 1);
    assert_int_equal(rep.events[VRF_AUDIT_EV_ABORTED], 1);
    assert_int_equal(rep.events[VRF_AUDIT_EV_WRITE_BLOCKED], 1);

    const struct vrf_audit_segment *s = &rep.segs[0];
    assert_int_equal(s->line, 1);
    assert_true(s->has_boot_id);
    assert_int_equal(s->boot_id[0], 0xbb);
    assert_int_equal(s->baseline[31], 0xaa);
    assert_string_equal(s->kind, "demo");
    assert_int_equal(s->npcr10, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(s->pcr10[i].line, lines[i]);
        assert_int_equal(s->pcr10[i].rec.action, acts[i]);
    }
    assert_string_equal(s->pcr10[1].rec.id, "pkg-7");
    assert_int_equal(s->pcr10[1].rec.sequence, 7);
    assert_int_equal(s->pcr10[1].rec.digest[0], 0xaa);
    assert_string_equal(s->pcr10[2].rec.id, "pkg-1");
    assert_int_equal(s->pcr10[2].rec.sequence, 1);
    assert_int_equal(s->pcr10[2].rec.digest[31], 0xcc);

    assert_int_equal(rep.segs[1].line, 10);
    assert_false(rep.segs[1].has_boot_id);
    assert_int_equal(rep.segs[1].npcr10, 0);
    assert_int_equal(rep.segs[2].line, 12);
    assert_int_equal(rep.segs[2].npcr10, 1);
    assert_int_equal(rep.segs[2].pcr10[0].line, 13);
    vrf_audit_report_free(&rep);
}

/* No boot segment holds more pcr10 events than a TPM event log can. */
static void test_pcr10_limit(void **state)
{
    struct vrf_audit_report rep;
    size_t cap = (size_t)(VRF_AUDIT_PCR10_MAX + 2) * 300, len = 0;
    char *buf = malloc(cap), hex[65], line[512];
    uint8_t prev[32] = {0};

    (void)state;
    assert_non_null(buf);
    for (unsigned i = 0; i <= VRF_AUDIT_PCR10_MAX + 1; i++) {
        fw_hex32(prev, hex);
        int n =
            i == 0 ? snprintf(line, sizeof line,
                              "{\"baseline\":\"" HEX_A "\",\"boot_id\":\"" HEX_B
                              "\",\"event\":\"boot\",\"kind\":\"demo\","
                              "\"n\":0,\"prev\":\"%s\",\"time\":\"" TIME
                              "\",\"tpm\":\"ok\"}",
                              hex)
                   : snprintf(line, sizeof line,
                              "{\"event\":\"approved\",\"n\":%u,\"op\":"
                              "\"apply\",\"pcr10\":{"
                              "\"action\":\"patch\",\"digest\":\"" HEX_C
                              "\",\"id\":\"p\",\"seq\":%u},\"prev\":\"%s\","
                              "\"time\":\"" TIME "\"}",
                              i, i, hex);
        assert_true(n > 0 && len + (size_t)n + 1 <= cap);
        memcpy(buf + len, line, (size_t)n);
        buf[len + (size_t)n] = '\n';
        len += (size_t)n + 1;
        mbedtls_sha256_ret((uint8_t *)line, (size_t)n, prev, 0);
    }
    assert_int_equal(vrf_audit_check((uint8_t *)buf, len, &rep),
                     VRF_ERR_AUDIT_LIMIT);
    assert_int_equal(rep.err_line, VRF_AUDIT_PCR10_MAX + 2);
    assert_non_null(strstr(rep.detail, "more than 8192 pcr10 events"));
    vrf_audit_report_free(&rep);
    free(buf);
}

/* The chunked file reader sees what the in-memory check sees, whatever
 * the chunk boundaries cut. */
static void test_check_fd_chunks(void **state)
{
    static struct mlog big;
    struct vrf_audit_report a, b;
    char pad[700], rec[800];
    int fd;

    (void)state;
    memset(&big, 0, sizeof big);
    memset(pad, 'y', sizeof pad);
    add(&big, BOOT_TPM);
    for (unsigned i = 1; big.len < sizeof big.buf - 2000; i++) {
        snprintf(rec, sizeof rec, "{\"event\":\"aborted\",\"pad\":\"%.*s\"}",
                 (int)(i * 37 % sizeof pad), pad);
        add(&big, rec);
    }
    memcpy(big.buf + big.len, "{\"n\":", 5); /* torn tail */
    big.len += 5;
    assert_int_equal(vrf_audit_check((uint8_t *)big.buf, big.len, &a), 0);
    fd = open(path_of("chunks.log"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, big.buf, big.len), (ssize_t)big.len);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(vrf_audit_check_fd(fd, &b), 0);
    assert_true(a.records > 60);
    assert_int_equal(a.records, b.records);
    assert_int_equal(a.good_len, b.good_len);
    assert_int_equal(b.torn_len, 5);
    assert_memory_equal(a.last_hash, b.last_hash, 32);
    vrf_audit_report_free(&a);
    vrf_audit_report_free(&b);

    /* A broken line deep in the file names its line: the last one. */
    char *nl = memrchr(big.buf, '\n', big.len - 7);
    assert_non_null(nl);
    nl[1] = 'Z';
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(pwrite(fd, big.buf, big.len, 0), (ssize_t)big.len);
    assert_int_not_equal(vrf_audit_check_fd(fd, &b), 0);
    assert_int_equal(b.err_line, a.records);
    vrf_audit_report_free(&b);
    close(fd);
}

/* ------------------------------------------------------------- writer */

static json_t *record(const char *text)
{
    json_error_t e;
    json_t *r = json_loads(text, 0, &e);
    if (r == NULL)
        fail_msg("%s: %s", text, e.text);
    return r;
}

static void append_ok(struct vrf_audit *a, const char *text, uint8_t h[32])
{
    json_t *r = record(text);
    if (vrf_audit_append(a, r, h) != 0)
        fail_msg("append %s: %s", text, strerror(errno));
    json_decref(r);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap);
    close(fd);
    assert_true(n >= 0 && (size_t)n < cap);
    return (size_t)n;
}

static void check_file(const char *path, uint64_t records,
                       const uint8_t last[32])
{
    static char buf[1 << 16];
    struct vrf_audit_report rep;
    size_t n = read_file(path, buf, sizeof buf);
    int ret = vrf_audit_check((uint8_t *)buf, n, &rep);

    if (ret != 0)
        fail_msg("%s: line %llu: %s", path, (unsigned long long)rep.err_line,
                 rep.detail);
    assert_int_equal(rep.records, records);
    assert_int_equal(rep.torn_len, 0);
    if (last != NULL)
        assert_memory_equal(rep.last_hash, last, 32);
    vrf_audit_report_free(&rep);
}

/* A new log at p written by the writer with recs (NULL-terminated); its
 * bytes into buf (cap). Returns their count; h gets the last line's hash. */
static size_t new_log(const char *p, const char *const *recs, uint8_t h[32],
                      char *buf, size_t cap)
{
    struct vrf_audit a;
    char err[512];

    unlink(p);
    assert_int_equal(vrf_audit_open(&a, p, err, sizeof err), 0);
    for (size_t i = 0; recs[i] != NULL; i++)
        append_ok(&a, recs[i], h);
    vrf_audit_close(&a);
    return read_file(p, buf, cap);
}

static void test_writer_roundtrip(void **state)
{
    const char *p = path_of("round.log");
    static char buf[1 << 16];
    struct vrf_audit a;
    struct stat st;
    uint8_t h[32], h2[32], zero[32] = {0};
    char err[512];

    (void)state;
    unlink(p);
    assert_int_equal(vrf_audit_open(&a, p, err, sizeof err), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(a.next_n, 0);
    assert_memory_equal(a.last_hash, zero, 32);
    append_ok(&a, BOOT_TPM, h);
    assert_int_equal(a.next_n, 1);
    assert_memory_equal(a.last_hash, h, 32);
    append_ok(&a, PCR10("text-locked", "text-lock", 0), h);
    /* As the apply path writes "approved": unsynced, in the file at once
     * and in the chain; the fsync of "applied" covers both. */
    json_t *ap = record(PCR10_OP("approved", "apply", "patch", 1));
    assert_int_equal(vrf_audit_append_unsynced(&a, ap, h), 0);
    json_decref(ap);
    assert_int_equal(a.next_n, 3);
    assert_memory_equal(a.last_hash, h, 32);
    check_file(p, 3, h);
    append_ok(&a, "{\"event\":\"applied\",\"id\":\"pkg-1\"}", h);
    vrf_audit_close(&a);
    vrf_audit_close(&a); /* twice is fine */
    check_file(p, 4, h);

    /* The line is canonical and its hash is what append reported. */
    size_t n = read_file(p, buf, sizeof buf);
    assert_int_equal(buf[n - 1], '\n');
    const char *last = (const char *)memrchr(buf, '\n', n - 1) + 1;
    mbedtls_sha256_ret((const uint8_t *)last, (size_t)(buf + n - 1 - last), h2,
                       0);
    assert_memory_equal(h, h2, 32);
    assert_non_null(strstr(buf, "\"n\":0,\"prev\":\"0000000000"));
    json_t *r = json_loadb(last, (size_t)(buf + n - 1 - last), 0, NULL);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "n")), 3);
    const char *t = json_string_value(json_object_get(r, "time"));
    assert_non_null(t);
    assert_int_equal(strlen(t), 24);
    assert_int_equal(t[23], 'Z');
    assert_int_equal(t[19], '.');
    json_decref(r);

    /* Reopening continues the chain. */
    assert_int_equal(vrf_audit_open(&a, p, err, sizeof err), 0);
    assert_int_equal(a.next_n, 4);
    assert_memory_equal(a.last_hash, h, 32);
    append_ok(&a, "{\"event\":\"guest-write-blocked\",\"gpa\":4096}", h);
    assert_int_equal(a.next_n, 5);
    vrf_audit_close(&a);
    check_file(p, 5, h);
}

/* The write of a record cut off by a crash: the next open removes it. */
static void test_writer_torn_tail(void **state)
{
    static const char *const recs[] = {BOOT_TPM, "{\"event\":\"approved\"}",
                                       NULL};
    static char before[1 << 16], after[1 << 16];
    const char *p = path_of("torn.log");
    struct vrf_audit a;
    uint8_t h[32];
    char err[512];

    (void)state;
    size_t n = new_log(p, recs, h, before, sizeof before);
    int fd = open(p, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"event\":\"applied\",\"n\":2", 24), 24);
    close(fd);

    assert_int_equal(vrf_audit_open(&a, p, err, sizeof err), 1);
    assert_non_null(strstr(err, "warning: removed a torn last line (24 bytes"));
    assert_non_null(strstr(err, "after line 2"));
    assert_int_equal(read_file(p, after, sizeof after), n);
    assert_memory_equal(before, after, n);
    assert_int_equal(a.next_n, 2);
    assert_memory_equal(a.last_hash, h, 32);
    append_ok(&a, "{\"event\":\"aborted\"}", h);
    vrf_audit_close(&a);
    check_file(p, 3, h);
}

/* A log whose chain is broken is never appended to. */
static void test_writer_refuses_broken(void **state)
{
    static const char *const recs[] = {
        BOOT_TPM, "{\"event\":\"rejected\",\"id\":\"pkg-1\"}",
        "{\"event\":\"aborted\"}", NULL};
    static char before[1 << 16], after[1 << 16];
    const char *p = path_of("broken.log");
    struct vrf_audit a;
    uint8_t h[32];
    char err[512];

    (void)state;
    size_t n = new_log(p, recs, h, before, sizeof before);
    char *id = strstr(before, "pkg-1");
    assert_non_null(id);
    id[4] = '2'; /* line 2 still valid on its own; line 3's prev is not */
    int fd = open(p, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, before, n), (ssize_t)n);
    close(fd);

    assert_int_equal(vrf_audit_open(&a, p, err, sizeof err), -1);
    assert_int_equal(a.fd, -1);
    assert_non_null(strstr(err, "line 3: prev does not match the hash of "
                                "line 2"));
    assert_non_null(strstr(err, "move the file away"));
    assert_int_equal(read_file(p, after, sizeof after), n);
    assert_memory_equal(before, after, n);
}

/* A record over VRF_AUDIT_LINE_MAX is refused and changes nothing; one of
 * exactly VRF_AUDIT_LINE_MAX bytes with its newline is written. */
static void test_writer_oversize(void **state)
{
    const char *p = path_of("big.log");
    static char text[2 * VRF_AUDIT_LINE_MAX], pad[2 * VRF_AUDIT_LINE_MAX];
    char line[2 * VRF_AUDIT_LINE_MAX], err[512];
    struct vrf_audit a;
    uint8_t h[32], before[32];
    json_t *r;

    (void)state;
    unlink(p);
    memset(pad, 'z', sizeof pad - 1);
    assert_int_equal(vrf_audit_open(&a, p, err, sizeof err), 0);
    append_ok(&a, BOOT_TPM, h);

    /* The size of a record with an empty pad, as the writer will frame it
     * at n = 1 (the n, time and prev members have fixed widths here). */
    r = record("{\"event\":\"aborted\",\"pad\":\"\",\"n\":1,\"time\":\"" TIME
               "\",\"prev\":\"" HEX_A "\"}");
    size_t base =
        json_dumpb(r, line, sizeof line, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(r);

    snprintf(text, sizeof text, "{\"event\":\"aborted\",\"pad\":\"%.*s\"}",
             (int)(VRF_AUDIT_LINE_MAX - base), pad);
    r = record(text);
    memcpy(before, a.last_hash, 32);
    errno = 0;
    assert_int_equal(vrf_audit_append(&a, r, h), -1);
    assert_int_equal(errno, EMSGSIZE);
    assert_int_equal(a.next_n, 1);
    assert_memory_equal(a.last_hash, before, 32);
    assert_true(a.fd >= 0); /* still usable */
    json_decref(r);

    snprintf(text, sizeof text, "{\"event\":\"aborted\",\"pad\":\"%.*s\"}",
             (int)(VRF_AUDIT_LINE_MAX - 1 - base), pad);
    append_ok(&a, text, h);
    assert_int_equal(a.next_n, 2);
    vrf_audit_close(&a);
    check_file(p, 2, h);
}

static void test_writer_rejects(void **state)
{
    const char *p = path_of("rej.log");
    struct vrf_audit a, b;
    char err[512];
    json_t *r;

    (void)state;
    unlink(p);
    assert_int_equal(vrf_audit_open(&a, p, err, sizeof err), 0);
    /* A second writer would fork the chain. */
    assert_int_equal(vrf_audit_open(&b, p, err, sizeof err), -1);
    assert_non_null(strstr(err, "another process writes it"));
    r = json_array();
    assert_int_equal(vrf_audit_append(&a, r, NULL), -1);
    assert_int_equal(errno, EINVAL);
    json_decref(r);
    r = record("{\"kind\":\"no event\"}");
    assert_int_equal(vrf_audit_append(&a, r, NULL), -1);
    assert_int_equal(errno, EINVAL);
    json_decref(r);
    assert_int_equal(a.next_n, 0);
    vrf_audit_close(&a);
    r = record(BOOT_TPM);
    assert_int_equal(vrf_audit_append(&a, r, NULL), -1);
    assert_int_equal(errno, EBADF);
    json_decref(r);

    assert_int_equal(vrf_audit_open(&a, tmpdir, err, sizeof err), -1);
    assert_non_null(strstr(err, "open failed"));
    assert_int_equal(vrf_audit_open(&a, "/dev/null", err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file (a character device)"));
    /* A FIFO neither blocks the open nor takes records. */
    const char *fifo = path_of("fifo.log");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(vrf_audit_open(&a, fifo, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file (a FIFO)"));
    unlink(fifo);
    assert_int_equal(
        vrf_audit_open(&a, path_of("no/such/dir"), err, sizeof err), -1);
    assert_non_null(strstr(err, "open failed"));
}

/* ------------------------------------------ agreement with a TPM log */

static int no_tpm(void *ctx, uint32_t pcr, const struct fw_digests *d)
{
    (void)ctx;
    (void)pcr;
    (void)d;
    return 0;
}

/* What vrf_attest_check reports about an event log, built here with
 * fw_measure_boot and fw_measure_runtime and read back with the parser:
 * boot id and baseline from the boot, runtime records from PCR 10. */
struct tpm_side {
    struct fw_runtime_rec rt[8];
    struct vrf_attest_report att;
};

static void measure(struct tpm_side *t, const char *kind,
                    const struct fw_runtime_rec *recs, size_t n)
{
    static const uint16_t only256[] = {FW_ALG_SHA256};
    struct fw_boot_input in = {
        .fw_version = "hvpatch firmware 1",
        .fw_stub = "stub",
        .fw_stub_len = 4,
        .image = "guest image",
        .image_len = 11,
        .kind = kind,
        .cmdline = "console=ttyS0",
    };
    struct fw_boot_result res;
    struct fw_evlog log;
    struct fw_evlog_parsed p;

    memset(t, 0, sizeof *t);
    assert_int_equal(fw_evlog_init(&log, only256, 1), 0);
    assert_int_equal(fw_measure_boot(&log, &in, no_tpm, NULL, &res), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fw_measure_runtime(&log, &recs[i], no_tpm, NULL), 0);
    assert_int_equal(fw_evlog_parse(log.buf, log.len, &p), 0);
    for (size_t i = 0; i < p.nevents; i++) {
        if (p.events[i].pcr != FW_PCR_RUNTIME)
            continue;
        assert_true(t->att.nruntime < 8);
        assert_int_equal(fw_runtime_decode(p.events[i].data,
                                           p.events[i].data_len,
                                           &t->rt[t->att.nruntime++]),
                         0);
    }
    assert_int_equal(t->att.nruntime, n);
    fw_evlog_parsed_free(&p);
    fw_evlog_free(&log);
    t->att.runtime = t->rt;
    memcpy(t->att.boot_id, res.boot_id, 32);
    memcpy(t->att.image_digest, res.image_digest, 32);
    memcpy(t->att.kind, res.kind, sizeof t->att.kind);
}

/* Where the verifier puts a runtime event of each action (measure, then
 * write): the record that carries it, that record's "op", and the record
 * that follows it without pcr10 (the write, or anything else). */
static const struct {
    const char *event, *op, *next;
} carrier[] = {
    [FW_ACT_TEXT_LOCK] = {"text-locked", NULL, "guest-write-blocked"},
    [FW_ACT_PATCH] = {"approved", "apply", "applied"},
    [FW_ACT_REVERT] = {"approved", "revert", "reverted"},
};

/* A boot record for t's boot. */
static void add_boot(struct mlog *l, const struct tpm_side *t)
{
    char text[1024], id[65], base[65];

    fw_hex32(t->att.boot_id, id);
    fw_hex32(t->att.image_digest, base);
    snprintf(text, sizeof text,
             "{\"event\":\"boot\",\"baseline\":\"%s\",\"kind\":\"%s\","
             "\"boot_id\":\"%s\",\"tpm\":\"ok\"}",
             base, t->att.kind, id);
    add(l, text);
}

/* A record of event ev, with "op" unless op is NULL, carrying rec. */
static void add_pcr10(struct mlog *l, const char *ev, const char *op,
                      const struct fw_runtime_rec *rec)
{
    char text[1024], dig[65];

    fw_hex32(rec->digest, dig);
    snprintf(text, sizeof text,
             "{\"event\":\"%s\",%s%s%s\"pcr10\":{\"action\":\"%s\","
             "\"id\":\"%s\",\"seq\":%llu,\"digest\":\"%s\"}}",
             ev, op ? "\"op\":\"" : "", op ? op : "", op ? "\"," : "",
             fw_action_name(rec->action), rec->id,
             (unsigned long long)rec->sequence, dig);
    add(l, text);
}

/* A boot record for t's boot, then one record per runtime event where the
 * verifier puts it, each followed by one without pcr10. */
static void audit_boot(struct mlog *l, const struct tpm_side *t,
                       const struct fw_runtime_rec *recs, size_t n)
{
    char text[64];

    add_boot(l, t);
    for (size_t i = 0; i < n; i++) {
        add_pcr10(l, carrier[recs[i].action].event, carrier[recs[i].action].op,
                  &recs[i]);
        snprintf(text, sizeof text, "{\"event\":\"%s\"}",
                 carrier[recs[i].action].next);
        add(l, text);
    }
}

static int match(const struct mlog *l, const struct tpm_side *t,
                 struct vrf_audit_match *m)
{
    struct vrf_audit_report rep;
    int ret = vrf_audit_check((const uint8_t *)l->buf, l->len, &rep);

    if (ret != 0)
        fail_msg("audit log: line %llu: %s", (unsigned long long)rep.err_line,
                 rep.detail);
    ret = vrf_audit_match(&rep, &t->att, m);
    vrf_audit_report_free(&rep);
    return ret;
}

static void test_attestation_match(void **state)
{
    static struct mlog l;
    struct fw_runtime_rec recs[5] = {
        {.action = FW_ACT_TEXT_LOCK, .sequence = 0, .id = "guest-code"},
        {.action = FW_ACT_PATCH, .sequence = 1, .id = "pkg-1"},
        {.action = FW_ACT_PATCH, .sequence = 2, .id = "pkg-2"},
        {.action = FW_ACT_REVERT, .sequence = 1, .id = "pkg-1"},
        {.action = FW_ACT_PATCH, .sequence = 3, .id = "pkg-3"},
    };
    struct fw_runtime_rec other[5];
    struct tpm_side t, t2;
    struct vrf_audit_match m;

    (void)state;
    for (size_t i = 0; i < 5; i++)
        memset(recs[i].digest, 0x10 + (int)i, 32);

    /* Equal, in order, field by field. */
    measure(&t, "demo", recs, 4);
    memset(&l, 0, sizeof l);
    audit_boot(&l, &t, recs, 4);
    assert_int_equal(match(&l, &t, &m), 0);
    assert_int_equal(m.seg, 0);
    assert_int_equal(m.same_id, 1);
    assert_int_equal(m.covered, 4);
    assert_int_equal(m.later, 0);

    /* An older quote: the audit log has one more event. */
    memset(&l, 0, sizeof l);
    audit_boot(&l, &t, recs, 5);
    assert_int_equal(match(&l, &t, &m), 0);
    assert_int_equal(m.covered, 4);
    assert_int_equal(m.later, 1);

    /* A TPM event the audit log lacks. */
    memset(&l, 0, sizeof l);
    audit_boot(&l, &t, recs, 3);
    assert_int_equal(match(&l, &t, &m), VRF_ERR_AUDIT_MISMATCH);
    assert_int_equal(m.err_line, 1);
    assert_non_null(strstr(m.detail, "TPM event 4 (revert pkg-1 seq 1) is "
                                     "not in the audit log"));

    /* Each field, changed in the audit log only. */
    static const char *const fields[] = {"action", "id", "seq", "digest"};
    for (size_t f = 0; f < 4; f++) {
        memcpy(other, recs, sizeof other);
        if (f == 0)
            other[3].action = FW_ACT_PATCH; /* an apply, not a revert */
        else if (f == 1)
            snprintf(other[3].id, sizeof other[3].id, "pkg-9");
        else if (f == 2)
            other[3].sequence = 9;
        else
            other[3].digest[5] ^= 1;
        memset(&l, 0, sizeof l);
        audit_boot(&l, &t, other, 4);
        assert_int_equal(match(&l, &t, &m), VRF_ERR_AUDIT_MISMATCH);
        assert_int_equal(m.err_line, 8); /* boot, then (pcr10, blocked) */
        char want[64];
        snprintf(want, sizeof want, "pcr10 %s differs from TPM event 4",
                 fields[f]);
        if (strstr(m.detail, want) == NULL)
            fail_msg("%s: %s", fields[f], m.detail);
    }

    /* Another boot id: no boot record to compare with. */
    memset(&l, 0, sizeof l);
    audit_boot(&l, &t, recs, 4);
    measure(&t2, "linux", recs, 4);
    assert_int_equal(match(&l, &t2, &m), VRF_ERR_AUDIT_NO_BOOT);
    assert_non_null(strstr(m.detail, "no boot record has the attested boot "
                                     "id"));
    /* The right boot id on a boot record with another baseline. */
    memcpy(t2.att.boot_id, t.att.boot_id, 32);
    assert_int_equal(match(&l, &t2, &m), VRF_ERR_AUDIT_MISMATCH);
    assert_non_null(strstr(m.detail, "boot record has baseline"));

    /* Two runs of one configuration share the boot id: the latest that
     * agrees is taken; when none does, the error is about the latest. */
    memset(&l, 0, sizeof l);
    audit_boot(&l, &t, recs, 4);
    memcpy(other, recs, sizeof other);
    other[2].sequence = 7;
    audit_boot(&l, &t, other, 3);
    assert_int_equal(match(&l, &t, &m), 0);
    assert_int_equal(m.seg, 0);
    assert_int_equal(m.same_id, 2);
    audit_boot(&l, &t, recs, 5);
    assert_int_equal(match(&l, &t, &m), 0);
    assert_int_equal(m.seg, 2);
    assert_int_equal(m.same_id, 3);
    assert_int_equal(m.later, 1);
    t.rt[1].sequence = 8;
    assert_int_equal(match(&l, &t, &m), VRF_ERR_AUDIT_MISMATCH);
    assert_int_equal(m.err_line, 20); /* the third boot's first patch */

    /* Operations that could not be written: the TPM has each one's event
     * and the one that undoes it, which the audit log has on "approved"
     * and "aborted" (the op of both is the operation's). */
    struct fw_runtime_rec ab[6] = {
        recs[0],
        {.action = FW_ACT_PATCH, .sequence = 1, .id = "pkg-1"},
        {.action = FW_ACT_REVERT, .sequence = 1, .id = "pkg-1"},
        {.action = FW_ACT_PATCH, .sequence = 1, .id = "pkg-1"},
        {.action = FW_ACT_PATCH, .sequence = 2, .id = "pkg-2"},
        {.action = FW_ACT_REVERT, .sequence = 2, .id = "pkg-2"},
    };
    for (size_t i = 1; i < 6; i++)
        memset(ab[i].digest, ab[i].id[4], 32);
    measure(&t2, "demo", ab, 6);
    memset(&l, 0, sizeof l);
    add_boot(&l, &t2);
    add_pcr10(&l, "text-locked", NULL, &ab[0]);
    add_pcr10(&l, "approved", "apply", &ab[1]);
    add(&l, "{\"event\":\"applied\"}");
    add_pcr10(&l, "approved", "revert", &ab[2]);
    add_pcr10(&l, "aborted", "revert", &ab[3]);
    add_pcr10(&l, "approved", "apply", &ab[4]);
    add_pcr10(&l, "aborted", "apply", &ab[5]);
    assert_int_equal(match(&l, &t2, &m), 0);
    assert_int_equal(m.covered, 6);
    assert_int_equal(m.later, 0);
    /* The quote taken between the approval and the abort. */
    t2.att.nruntime = 5;
    assert_int_equal(match(&l, &t2, &m), 0);
    assert_int_equal(m.later, 1);

    /* A boot without a TPM never matches. */
    memset(&l, 0, sizeof l);
    add(&l, BOOT_NO_TPM);
    assert_int_equal(match(&l, &t, &m), VRF_ERR_AUDIT_NO_BOOT);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = VRF_ERR_AUDIT_MISMATCH; e <= VRF_ERR_AUDIT_ARG; e++)
        assert_string_not_equal(vrf_audit_strerror(e), "unknown error");
    assert_string_equal(vrf_audit_strerror(-1), "unknown error");
    assert_string_equal(vrf_audit_event_name(VRF_AUDIT_EV_WRITE_BLOCKED),
                        "guest-write-blocked");
    assert_null(vrf_audit_event_name(VRF_AUDIT_EV_COUNT));
    assert_null(vrf_audit_event_name(-1));
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    static const char *const files[] = {"garbage.log", "round.log", "torn.log",
                                        "broken.log",  "big.log",   "rej.log",
                                        "chunks.log"};
    (void)state;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(path_of(files[i]));
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_vectors),
        cmocka_unit_test(test_checker_line_length),
        cmocka_unit_test(test_checker_torn_tail),
        cmocka_unit_test(test_checker_garbage_tail),
        cmocka_unit_test(test_pcr10_segments),
        cmocka_unit_test(test_pcr10_limit),
        cmocka_unit_test(test_check_fd_chunks),
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_writer_torn_tail),
        cmocka_unit_test(test_writer_refuses_broken),
        cmocka_unit_test(test_writer_oversize),
        cmocka_unit_test(test_writer_rejects),
        cmocka_unit_test(test_attestation_match),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests_name("audit", tests, setup, teardown);
}
