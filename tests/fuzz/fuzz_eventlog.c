/* fuzz_eventlog.c: libFuzzer target for the strict TCG event log parser,
 * the SHA-256 replay and the hvpatch tagged payload decoders. Properties
 * checked besides memory safety: a log that parses can be continued
 * (fw_evlog_load + append) and still parses with one more record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/fw_eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fw_evlog_parsed p;
    uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE];
    uint32_t used;

    if (fw_evlog_parse(data, size, &p) != 0)
        return 0;
    if (fw_evlog_replay_sha256(&p, pcr, &used) != 0)
        abort();
    for (size_t i = 0; i < p.nevents; i++) {
        const struct fw_event *ev = &p.events[i];
        struct fw_runtime_rec r;
        struct fw_boot_info bi;
        if (ev->type != FW_EV_EVENT_TAG)
            continue;
        if (fw_runtime_decode(ev->data, ev->data_len, &r) == 0) {
            /* What decodes must encode back to the same bytes. */
            uint8_t again[FW_RUNTIME_MAX_LEN];
            size_t n;
            if (fw_runtime_encode(&r, again, sizeof again, &n) != 0 ||
                n != ev->data_len || memcmp(again, ev->data, n) != 0)
                abort();
        }
        if (fw_boot_info_decode(ev->data, ev->data_len, &bi) == 0) {
            uint8_t again[FW_BOOT_INFO_MAX_LEN];
            size_t n;
            if (fw_boot_info_encode(&bi, again, sizeof again, &n) != 0 ||
                n != ev->data_len || memcmp(again, ev->data, n) != 0)
                abort();
        }
    }

    struct fw_evlog log;
    struct fw_digests d;
    if (fw_evlog_load(&log, data, size) != 0)
        abort();
    if (fw_digests_compute(log.algs, log.nalgs, "x", 1, &d) != 0)
        abort();
    if (fw_evlog_append(&log, 10, FW_EV_EVENT_TAG, &d, "x", 1) == 0) {
        struct fw_evlog_parsed q;
        if (fw_evlog_parse(log.buf, log.len, &q) != 0 ||
            q.nevents != p.nevents + 1)
            abort();
        fw_evlog_parsed_free(&q);
    }
    fw_evlog_free(&log);
    fw_evlog_parsed_free(&p);
    return 0;
}
