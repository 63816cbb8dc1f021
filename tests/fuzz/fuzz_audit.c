/* fuzz_audit.c: libFuzzer target for the audit-log checker behind
 * `hvpatch audit verify` (vrf_audit_check) and the comparison with a TPM
 * log (vrf_audit_match). Each input is checked as it is, then with its
 * JSON-object lines re-chained (n, time, prev set as the writer sets
 * them), so that mutations reach past the hash chain. Properties checked
 * besides memory safety: a log that verifies splits exactly into checked
 * lines and a torn tail shorter than a line that begins with "{" and has
 * no control byte; its lines alone verify to the
 * same chain head; a re-chained log never fails on its framing (n, prev,
 * canonical form, length); and the pcr10 events found match an
 * attestation made of themselves. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <mbedtls/sha256.h>

#include "audit/vrf_audit.h"
#include "firmware/fw_measure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each boot segment with a TPM agrees with an attestation of its own
 * events, and with any prefix of them. */
static void self_match(const struct vrf_audit_report *rep)
{
    static struct fw_runtime_rec rt[VRF_AUDIT_PCR10_MAX];
    struct vrf_attest_report att;
    struct vrf_audit_match m;

    for (size_t s = 0; s < rep->nsegs; s++) {
        const struct vrf_audit_segment *seg = &rep->segs[s];
        if (!seg->has_boot_id)
            continue;
        memset(&att, 0, sizeof att);
        memcpy(att.boot_id, seg->boot_id, 32);
        memcpy(att.image_digest, seg->baseline, 32);
        memcpy(att.kind, seg->kind, sizeof att.kind);
        for (size_t i = 0; i < seg->npcr10; i++)
            rt[i] = seg->pcr10[i].rec;
        att.runtime = rt;
        att.nruntime = seg->npcr10 / 2 + seg->npcr10 % 2;
        if (vrf_audit_match(rep, &att, &m) != 0 || m.seg < s ||
            m.covered != att.nruntime ||
            m.covered + m.later != rep->segs[m.seg].npcr10)
            abort(); /* the latest agreeing boot: this one or a later one */
    }
}

/* The lines of data that are JSON objects, framed as the writer frames
 * them (vrf_audit_append); returns the new length. */
static size_t rechain(const uint8_t *data, size_t size, uint8_t *out,
                      size_t cap)
{
    uint8_t prev[32] = {0};
    char hex[65];
    size_t len = 0, n = 0;
    const uint8_t *nl;

    for (size_t off = 0; (nl = memchr(data + off, '\n', size - off)) != NULL;
         off = (size_t)(nl - data) + 1) {
        json_t *r = json_loadb((const char *)data + off,
                               (size_t)(nl - data) - off, 0, NULL);
        if (json_is_object(r)) {
            fw_hex32(prev, hex);
            json_object_set_new(r, "n", json_integer((json_int_t)n));
            json_object_set_new(r, "time",
                                json_string("2026-01-02T03:04:05.678Z"));
            json_object_set_new(r, "prev", json_string(hex));
            size_t k = json_dumpb(r, (char *)out + len, cap - len - 1,
                                  JSON_COMPACT | JSON_SORT_KEYS);
            if (k > 0 && k < VRF_AUDIT_LINE_MAX && k < cap - len - 1) {
                mbedtls_sha256_ret(out + len, k, prev, 0);
                out[len + k] = '\n';
                len += k + 1;
                n++;
            }
        }
        json_decref(r);
    }
    return len;
}

/* Returns the result of checking data; aborts on a broken property. */
static int check(const uint8_t *data, size_t size, int framed)
{
    struct vrf_audit_report rep, again;
    int ret = vrf_audit_check(data, size, &rep);

    if (ret != 0) {
        if (rep.detail[0] == '\0' || rep.err_line == 0)
            abort(); /* every rejection names its line and reason */
        if (framed &&
            (ret == VRF_ERR_AUDIT_N || ret == VRF_ERR_AUDIT_PREV ||
             ret == VRF_ERR_AUDIT_CANONICAL || ret == VRF_ERR_AUDIT_TOO_LONG))
            abort(); /* the writer's framing is what the checker wants */
        vrf_audit_report_free(&rep);
        return ret;
    }
    if (rep.good_len + rep.torn_len != size ||
        rep.torn_len >= VRF_AUDIT_LINE_MAX ||
        (rep.good_len > 0 && data[rep.good_len - 1] != '\n') ||
        memchr(data + rep.good_len, '\n', rep.torn_len) != NULL)
        abort();
    /* A torn tail is a cut record: it begins with "{", no control bytes. */
    for (size_t i = 0; i < rep.torn_len; i++)
        if (data[rep.good_len + i] < 0x20 ||
            (i == 0 && data[rep.good_len] != '{'))
            abort();
    if (vrf_audit_check(data, (size_t)rep.good_len, &again) != 0 ||
        again.records != rep.records || again.torn_len != 0 ||
        memcmp(again.last_hash, rep.last_hash, 32) != 0)
        abort();
    self_match(&rep);
    vrf_audit_report_free(&again);
    vrf_audit_report_free(&rep);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[1 << 20];

    if (size > sizeof out / 2)
        return 0;
    (void)check(data, size, 0);
    (void)check(out, rechain(data, size, out, sizeof out), 1);
    return 0;
}
