/* test_eventlog.c: unit tests of the TCG event log writer, strict parser,
 * replay, hvpatch payloads (firmware/fw_eventlog) and measured boot with a
 * mock TPM (firmware/fw_measure). Every rejection names its exact error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/md.h>

#include "firmware/fw_eventlog.h"
#include "firmware/fw_measure.h"

static const uint16_t only256[] = {FW_ALG_SHA256};
static const uint16_t four[] = {FW_ALG_SHA1, FW_ALG_SHA256, FW_ALG_SHA384,
                                FW_ALG_SHA512};

static void sha256(const void *d, size_t n, uint8_t out[32])
{
    assert_int_equal(
        mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), d, n, out), 0);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A small valid log: Spec ID + 3 records (SHA-256 only). Returns the byte
 * offsets of each record boundary in bounds[0..4]. */
static void make_log(struct fw_evlog *log, size_t bounds[5])
{
    struct fw_digests d;
    assert_int_equal(fw_evlog_init(log, only256, 1), 0);
    bounds[0] = log->len;
    assert_int_equal(fw_digests_compute(only256, 1, "a", 1, &d), 0);
    assert_int_equal(
        fw_evlog_append(log, 0, FW_EV_POST_CODE, &d, "POST CODE", 9), 0);
    bounds[1] = log->len;
    assert_int_equal(fw_evlog_append(log, 4, FW_EV_IPL, &d, "img", 3), 0);
    bounds[2] = log->len;
    assert_int_equal(fw_evlog_append(log, 10, FW_EV_EVENT_TAG, &d, NULL, 0), 0);
    bounds[3] = log->len;
    bounds[4] = 0;
}

/* ------------------------------------------------------------- writer */

static void test_writer_roundtrip(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_evlog_parsed p;
    size_t b[5];

    make_log(&log, b);
    assert_int_equal(fw_evlog_parse(log.buf, log.len, &p), 0);
    assert_int_equal(p.nalgs, 1);
    assert_int_equal(p.algs[0], FW_ALG_SHA256);
    assert_int_equal(p.sha256_slot, 0);
    assert_int_equal(p.uintn_size, 2);
    assert_int_equal(p.nevents, 3);
    assert_int_equal(p.events[0].pcr, 0);
    assert_int_equal(p.events[0].type, FW_EV_POST_CODE);
    assert_int_equal(p.events[0].data_len, 9);
    assert_memory_equal(p.events[0].data, "POST CODE", 9);
    assert_int_equal(p.events[1].offset, b[1]);
    assert_int_equal(p.events[2].pcr, 10);
    assert_int_equal(p.events[2].data_len, 0);
    /* Spec ID is 32 + 28 + 4 + 1 bytes; a record 12 + 34 + 4 + data. */
    assert_int_equal(b[0], 65);
    assert_int_equal(b[1] - b[0], 12 + 34 + 4 + 9);
    fw_evlog_parsed_free(&p);
    fw_evlog_free(&log);
    fw_evlog_free(&log); /* idempotent */
}

static void test_writer_multibank(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_evlog_parsed p;
    struct fw_digests d;

    assert_int_equal(fw_evlog_init(&log, four, 4), 0);
    assert_int_equal(fw_digests_compute(four, 4, "x", 1, &d), 0);
    assert_int_equal(d.d[3].size, 64);
    assert_ptr_equal(fw_digests_sha256(&d), d.d[1].bytes);
    assert_int_equal(fw_evlog_append(&log, 8, FW_EV_IPL, &d, "x", 1), 0);
    assert_int_equal(fw_evlog_parse(log.buf, log.len, &p), 0);
    assert_int_equal(p.nalgs, 4);
    assert_int_equal(p.sha256_slot, 1);
    assert_memory_equal(p.events[0].digests[3], d.d[3].bytes, 64);
    fw_evlog_parsed_free(&p);
    fw_evlog_free(&log);
}

static void test_writer_rejects(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_digests d, d1;
    static const uint16_t no256[] = {FW_ALG_SHA1};
    static const uint16_t dup[] = {FW_ALG_SHA256, FW_ALG_SHA256};
    static const uint16_t unknown[] = {FW_ALG_SHA256, 0x0012};
    static const uint16_t five[] = {FW_ALG_SHA1, FW_ALG_SHA256, FW_ALG_SHA384,
                                    FW_ALG_SHA512, 0x0012};

    assert_int_equal(fw_evlog_init(&log, no256, 1), FW_ERR_ALG);
    assert_int_equal(fw_evlog_init(&log, dup, 2), FW_ERR_ALG);
    assert_int_equal(fw_evlog_init(&log, unknown, 2), FW_ERR_ALG);
    assert_int_equal(fw_evlog_init(&log, five, 5), FW_ERR_ALG);
    assert_int_equal(fw_evlog_init(&log, only256, 0), FW_ERR_ALG);
    assert_int_equal(fw_evlog_init(NULL, only256, 1), FW_ERR_ARG);

    assert_int_equal(fw_evlog_init(&log, only256, 1), 0);
    assert_int_equal(fw_digests_compute(only256, 1, "a", 1, &d), 0);
    assert_int_equal(fw_digests_compute(four, 4, "a", 1, &d1), 0);
    assert_int_equal(fw_evlog_append(&log, 24, FW_EV_IPL, &d, "", 0),
                     FW_ERR_PCR_INDEX);
    assert_int_equal(fw_evlog_append(&log, 4, FW_EV_IPL, &d1, "", 0),
                     FW_ERR_DIGEST_COUNT);
    d1.count = 1; /* SHA-1 where SHA-256 belongs */
    assert_int_equal(fw_evlog_append(&log, 4, FW_EV_IPL, &d1, "", 0),
                     FW_ERR_DIGEST_ALG);
    assert_int_equal(fw_evlog_append(&log, 4, FW_EV_IPL, NULL, "", 0),
                     FW_ERR_ARG);
    assert_int_equal(fw_evlog_append(&log, 4, FW_EV_NO_ACTION, &d, "", 0),
                     FW_ERR_ARG);
    assert_int_equal(fw_evlog_append(&log, 4, FW_EV_NO_ACTION, NULL, "", 0), 0);
    assert_int_equal(fw_evlog_reserve(&log, FW_EVLOG_MAX_EVENT_DATA + 1),
                     FW_ERR_EVENT_SIZE);
    fw_evlog_free(&log);
}

static void test_writer_limits(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_digests d;
    static uint8_t big[FW_EVLOG_MAX_EVENT_DATA];

    /* Too many records. */
    assert_int_equal(fw_evlog_init(&log, only256, 1), 0);
    assert_int_equal(fw_digests_compute(only256, 1, "a", 1, &d), 0);
    for (unsigned i = 0; i < FW_EVLOG_MAX_EVENTS; i++)
        assert_int_equal(fw_evlog_append(&log, 10, FW_EV_EVENT_TAG, &d, "", 0),
                         0);
    assert_int_equal(fw_evlog_append(&log, 10, FW_EV_EVENT_TAG, &d, "", 0),
                     FW_ERR_TOO_MANY);
    fw_evlog_free(&log);

    /* Too many bytes. */
    assert_int_equal(fw_evlog_init(&log, only256, 1), 0);
    int ret = 0;
    for (unsigned i = 0; i < 20 && ret == 0; i++)
        ret = fw_evlog_append(&log, 10, FW_EV_EVENT_TAG, &d, big, sizeof big);
    assert_int_equal(ret, FW_ERR_LOG_TOO_BIG);
    assert_true(log.len <= FW_EVLOG_MAX_SIZE);
    fw_evlog_free(&log);
}

/* ------------------------------------------------------------- parser */

/* Every prefix of a valid log parses iff it ends on a record boundary. */
static void test_parse_every_truncation(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_evlog_parsed p;
    size_t b[5];

    make_log(&log, b);
    for (size_t len = 0; len <= log.len; len++) {
        int boundary = len == b[0] || len == b[1] || len == b[2] || len == b[3];
        int ret = fw_evlog_parse(log.buf, len, &p);
        if (boundary) {
            assert_int_equal(ret, 0);
            fw_evlog_parsed_free(&p);
        } else {
            assert_int_equal(ret, FW_ERR_TRUNCATED);
            assert_null(p.events);
        }
    }
    fw_evlog_free(&log);
}

static void test_parse_trailing(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_evlog_parsed p;
    size_t b[5];

    make_log(&log, b);
    uint8_t *buf = malloc(log.len + 16);
    assert_non_null(buf);
    memcpy(buf, log.buf, log.len);
    for (size_t junk = 1; junk <= 16; junk++) {
        memset(buf + log.len, junk == 16 ? 0 : 0xff, junk);
        int ret = fw_evlog_parse(buf, log.len + junk, &p);
        assert_int_not_equal(ret, 0);
        assert_int_equal(p.err_record, 4);
        assert_int_equal(p.err_offset >= log.len, 1);
    }
    free(buf);
    fw_evlog_free(&log);
}

/* One mutation of a valid log and the exact error it must produce. */
struct mutation {
    const char *name;
    size_t off; /* from the log start */
    int width;  /* 1 or 4 bytes */
    uint32_t value;
    int expect;
    size_t err_record;
};

static void test_parse_mutations(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_evlog_parsed p;
    size_t b[5];
    make_log(&log, b);
    const size_t r1 = b[0], r2 = b[1];
    /* Spec ID layout: hdr 32, sig +0, class +16, minor +20, major +21,
     * errata +22, uintn +23, nalgs +24, alg +28, size +30, vendor +32. */
    const struct mutation m[] = {
        {"specid pcr", 0, 4, 1, FW_ERR_SPECID, 0},
        {"specid type", 4, 4, FW_EV_POST_CODE, FW_ERR_SPECID, 0},
        {"specid digest", 10, 1, 1, FW_ERR_SPECID, 0},
        {"specid size past end", 28, 4, 0x1000, FW_ERR_TRUNCATED, 0},
        {"specid size short", 28, 4, 20, FW_ERR_SPECID, 0},
        {"specid size long", 28, 4, 34, FW_ERR_SPECID, 0},
        {"signature", 32 + 3, 1, 'X', FW_ERR_SPECID, 0},
        {"signature NUL", 32 + 15, 1, '!', FW_ERR_SPECID, 0},
        {"platform class", 32 + 16, 4, 7, FW_ERR_SPECID, 0},
        {"version major", 32 + 21, 1, 1, FW_ERR_SPECID, 0},
        {"version minor", 32 + 20, 1, 1, FW_ERR_SPECID, 0},
        {"uintn size", 32 + 23, 1, 3, FW_ERR_SPECID, 0},
        {"no algorithms", 32 + 24, 4, 0, FW_ERR_ALG, 0},
        {"five algorithms", 32 + 24, 4, 5, FW_ERR_ALG, 0},
        {"two algorithms, room for one", 32 + 24, 4, 2, FW_ERR_SPECID, 0},
        {"unknown algorithm", 32 + 28, 1, 0x12, FW_ERR_ALG, 0},
        {"SHA-1 only", 32 + 28, 1, 0x04, FW_ERR_ALG, 0},
        {"wrong digest size", 32 + 30, 1, 20, FW_ERR_ALG, 0},
        {"vendor info past size", 32 + 32, 1, 4, FW_ERR_SPECID, 0},
        {"pcr 24", r1, 4, 24, FW_ERR_PCR_INDEX, 1},
        {"pcr huge", r1, 4, 0xffffffff, FW_ERR_PCR_INDEX, 1},
        {"digest count 0", r1 + 8, 4, 0, FW_ERR_DIGEST_COUNT, 1},
        {"digest count 2", r1 + 8, 4, 2, FW_ERR_DIGEST_COUNT, 1},
        {"digest alg", r1 + 12, 1, 0x04, FW_ERR_DIGEST_ALG, 1},
        {"event size past end", r1 + 46, 4, 0x10000, FW_ERR_TRUNCATED, 1},
        {"event size over limit", r1 + 46, 4, FW_EVLOG_MAX_EVENT_DATA + 1,
         FW_ERR_EVENT_SIZE, 1},
        {"event size 2^32-1", r1 + 46, 4, 0xffffffff, FW_ERR_EVENT_SIZE, 1},
        {"second record pcr", r2, 4, 99, FW_ERR_PCR_INDEX, 2},
        {"no-action with digest", r2 + 4, 4, FW_EV_NO_ACTION, FW_ERR_NO_ACTION,
         2},
    };
    uint8_t *buf = malloc(log.len);
    assert_non_null(buf);
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        memcpy(buf, log.buf, log.len);
        if (m[i].width == 4)
            put32(buf + m[i].off, m[i].value);
        else
            buf[m[i].off] = (uint8_t)m[i].value;
        int ret = fw_evlog_parse(buf, log.len, &p);
        if (ret != m[i].expect || p.err_record != m[i].err_record)
            fail_msg("%s: got %d (%s) at record %zu, want %d at record %zu",
                     m[i].name, ret, fw_strerror(ret), p.err_record,
                     m[i].expect, m[i].err_record);
        assert_null(p.events);
    }
    free(buf);
    fw_evlog_free(&log);
}

static void test_parse_limits(void **state)
{
    (void)state;
    struct fw_evlog_parsed p;
    uint8_t dummy[4] = {0};

    assert_int_equal(fw_evlog_parse(dummy, FW_EVLOG_MAX_SIZE + 1, &p),
                     FW_ERR_LOG_TOO_BIG);
    assert_int_equal(fw_evlog_parse(NULL, 0, &p), FW_ERR_ARG);
    assert_int_equal(fw_evlog_parse(dummy, 0, &p), FW_ERR_TRUNCATED);
    assert_int_equal(fw_evlog_parse(dummy, 0, NULL), FW_ERR_ARG);

    /* FW_EVLOG_MAX_EVENTS + 1 records written by hand. */
    struct fw_evlog log;
    struct fw_digests d;
    assert_int_equal(fw_evlog_init(&log, only256, 1), 0);
    assert_int_equal(fw_digests_compute(only256, 1, "", 0, &d), 0);
    for (unsigned i = 0; i < FW_EVLOG_MAX_EVENTS; i++)
        assert_int_equal(fw_evlog_append(&log, 1, FW_EV_IPL, &d, "", 0), 0);
    assert_int_equal(fw_evlog_parse(log.buf, log.len, &p), 0);
    assert_int_equal(p.nevents, FW_EVLOG_MAX_EVENTS);
    fw_evlog_parsed_free(&p);
    size_t rec = 12 + 34 + 4;
    uint8_t *buf = malloc(log.len + rec);
    assert_non_null(buf);
    memcpy(buf, log.buf, log.len);
    memcpy(buf + log.len, log.buf + log.len - rec, rec);
    assert_int_equal(fw_evlog_parse(buf, log.len + rec, &p), FW_ERR_TOO_MANY);
    assert_int_equal(p.err_record, FW_EVLOG_MAX_EVENTS + 1);
    free(buf);
    fw_evlog_free(&log);
}

static void test_load_continues(void **state)
{
    (void)state;
    struct fw_evlog log, again;
    struct fw_digests d;
    size_t b[5];

    make_log(&log, b);
    assert_int_equal(fw_evlog_load(&again, log.buf, log.len), 0);
    assert_int_equal(again.nevents, 3);
    assert_int_equal(fw_digests_compute(only256, 1, "b", 1, &d), 0);
    assert_int_equal(fw_evlog_append(&again, 10, FW_EV_EVENT_TAG, &d, "z", 1),
                     0);
    assert_int_equal(fw_evlog_append(&log, 10, FW_EV_EVENT_TAG, &d, "z", 1), 0);
    assert_int_equal(again.len, log.len);
    assert_memory_equal(again.buf, log.buf, log.len);
    fw_evlog_free(&again);
    assert_int_equal(fw_evlog_load(&again, log.buf, log.len - 1),
                     FW_ERR_TRUNCATED);
    assert_null(again.buf);
    fw_evlog_free(&log);
}

/* ------------------------------------------------------------- replay */

static void test_replay(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_evlog_parsed p;
    struct fw_digests d1, d2;
    uint8_t pcr[FW_PCR_COUNT][32], expect[32], cat[64];
    uint32_t used;

    assert_int_equal(fw_evlog_init(&log, four, 4), 0);
    assert_int_equal(fw_digests_compute(four, 4, "one", 3, &d1), 0);
    assert_int_equal(fw_digests_compute(four, 4, "two", 3, &d2), 0);
    assert_int_equal(fw_evlog_append(&log, 4, FW_EV_IPL, &d1, "", 0), 0);
    assert_int_equal(fw_evlog_append(&log, 3, FW_EV_NO_ACTION, NULL, "n", 1),
                     0);
    assert_int_equal(fw_evlog_append(&log, 4, FW_EV_IPL, &d2, "", 0), 0);
    assert_int_equal(fw_evlog_parse(log.buf, log.len, &p), 0);
    assert_int_equal(fw_evlog_replay_sha256(&p, pcr, &used), 0);
    assert_int_equal(used, 1u << 4); /* EV_NO_ACTION extends nothing */
    memset(cat, 0, 32);
    memcpy(cat + 32, fw_digests_sha256(&d1), 32);
    sha256(cat, 64, expect);
    memcpy(cat, expect, 32);
    memcpy(cat + 32, fw_digests_sha256(&d2), 32);
    sha256(cat, 64, expect);
    assert_memory_equal(pcr[4], expect, 32);
    static const uint8_t zero[32];
    assert_memory_equal(pcr[3], zero, 32);
    fw_evlog_parsed_free(&p);
    fw_evlog_free(&log);
}

/* ---------------------------------------------------------- payloads */

static void test_runtime_payload(void **state)
{
    (void)state;
    struct fw_runtime_rec r = {.action = FW_ACT_PATCH,
                               .sequence = 0x1122334455667788ull};
    struct fw_runtime_rec out;
    uint8_t buf[FW_RUNTIME_MAX_LEN];
    size_t len;

    memset(r.digest, 0xab, sizeof r.digest);
    strcpy(r.id, "CVE-2024-0001/fix.v2");
    assert_int_equal(fw_runtime_encode(&r, buf, sizeof buf, &len), 0);
    assert_int_equal(len, 8 + 12 + 32 + strlen(r.id));
    assert_int_equal(buf[0], 0x02); /* FW_TAG_RUNTIME, little-endian */
    assert_int_equal(buf[3], 0x68);
    assert_int_equal(fw_runtime_decode(buf, len, &out), 0);
    assert_int_equal(out.action, FW_ACT_PATCH);
    assert_true(out.sequence == r.sequence);
    assert_string_equal(out.id, r.id);
    assert_memory_equal(out.digest, r.digest, 32);

    /* Rejections. */
    assert_int_equal(fw_runtime_decode(buf, len - 1, &out), FW_ERR_PAYLOAD);
    buf[8] = 2; /* version */
    assert_int_equal(fw_runtime_decode(buf, len, &out), FW_ERR_PAYLOAD);
    buf[8] = 1;
    buf[9] = 4; /* action */
    assert_int_equal(fw_runtime_decode(buf, len, &out), FW_ERR_PAYLOAD);
    buf[9] = FW_ACT_PATCH;
    buf[len - 1] = ' '; /* id character */
    assert_int_equal(fw_runtime_decode(buf, len, &out), FW_ERR_PAYLOAD);
    buf[len - 1] = '2';
    buf[4] ^= 1; /* taggedEventDataSize */
    assert_int_equal(fw_runtime_decode(buf, len, &out), FW_ERR_PAYLOAD);
    buf[4] ^= 1;
    buf[0] = 0x01; /* the boot-info tag */
    assert_int_equal(fw_runtime_decode(buf, len, &out), FW_ERR_PAYLOAD);

    r.id[0] = '\0';
    assert_int_equal(fw_runtime_encode(&r, buf, sizeof buf, &len),
                     FW_ERR_PAYLOAD);
    strcpy(r.id, "has space");
    assert_int_equal(fw_runtime_encode(&r, buf, sizeof buf, &len),
                     FW_ERR_PAYLOAD);
    strcpy(r.id, "ok");
    r.action = 9;
    assert_int_equal(fw_runtime_encode(&r, buf, sizeof buf, &len),
                     FW_ERR_PAYLOAD);
    r.action = FW_ACT_REVERT;
    assert_int_equal(fw_runtime_encode(&r, buf, 10, &len), FW_ERR_EVENT_SIZE);
    assert_string_equal(fw_action_name(FW_ACT_TEXT_LOCK), "text-lock");
    assert_string_equal(fw_action_name(0), "?");
}

static void test_boot_info_payload(void **state)
{
    (void)state;
    struct fw_boot_info bi = {.kind = "linux"}, out;
    uint8_t buf[FW_BOOT_INFO_MAX_LEN];
    size_t len;

    assert_int_equal(fw_boot_info_encode(&bi, buf, sizeof buf, &len), 0);
    assert_int_equal(len, 15);
    assert_int_equal(fw_boot_info_decode(buf, len, &out), 0);
    assert_string_equal(out.kind, "linux");
    buf[10] = 'L';
    assert_int_equal(fw_boot_info_decode(buf, len, &out), FW_ERR_PAYLOAD);
    buf[10] = 'l';
    assert_int_equal(fw_boot_info_decode(buf, len + 1, &out), FW_ERR_PAYLOAD);
    buf[9] = 0;
    assert_int_equal(fw_boot_info_decode(buf, len, &out), FW_ERR_PAYLOAD);
    strcpy(bi.kind, "Demo");
    assert_int_equal(fw_boot_info_encode(&bi, buf, sizeof buf, &len),
                     FW_ERR_PAYLOAD);
}

/* ------------------------------------------------- measured boot (mock) */

struct mock_tpm {
    uint8_t pcr[FW_PCR_COUNT][32];
    unsigned extends;
    int fail_at; /* extend number that fails, -1 never */
};

static int mock_extend(void *ctx, uint32_t pcr, const struct fw_digests *d)
{
    struct mock_tpm *m = ctx;
    uint8_t cat[64];
    if ((int)m->extends++ == m->fail_at)
        return -1;
    memcpy(cat, m->pcr[pcr], 32);
    memcpy(cat + 32, fw_digests_sha256(d), 32);
    sha256(cat, 64, m->pcr[pcr]);
    return 0;
}

static const char image[] = "pretend this is a guest kernel image";
static const char stub[] = "firmware stub bytes";

static void boot(struct fw_evlog *log, struct mock_tpm *m,
                 struct fw_boot_result *res, const char *cmdline,
                 const char *initrd)
{
    struct fw_boot_input in = {
        .fw_version = "hvpatch firmware 1",
        .fw_stub = stub,
        .fw_stub_len = sizeof stub,
        .image = image,
        .image_len = sizeof image,
        .kind = "linux",
        .cmdline = cmdline,
        .initrd = initrd,
        .initrd_len = initrd ? strlen(initrd) : 0,
    };
    memset(m, 0, sizeof *m);
    m->fail_at = -1;
    assert_int_equal(fw_evlog_init(log, only256, 1), 0);
    assert_int_equal(fw_measure_boot(log, &in, mock_extend, m, res), 0);
}

static void test_measure_boot(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_evlog_parsed p;
    struct fw_boot_result res;
    struct mock_tpm m;
    uint8_t pcr[FW_PCR_COUNT][32], d[32], cat[128];
    uint32_t used;

    boot(&log, &m, &res, "console=ttyS0 quiet", "initrd bytes");
    assert_int_equal(fw_evlog_parse(log.buf, log.len, &p), 0);
    assert_int_equal(p.nevents, 7);
    assert_int_equal(fw_evlog_replay_sha256(&p, pcr, &used), 0);
    assert_int_equal(used, FW_PCR_BOOT_MASK);
    assert_memory_equal(pcr, m.pcr, sizeof pcr); /* log == TPM */
    sha256(image, sizeof image, d);
    assert_memory_equal(res.image_digest, d, 32);
    assert_string_equal(res.kind, "linux");
    memcpy(cat, pcr[0], 32);
    memcpy(cat + 32, pcr[4], 32);
    memcpy(cat + 64, pcr[8], 32);
    memcpy(cat + 96, pcr[9], 32);
    sha256(cat, 128, d);
    assert_memory_equal(res.boot_id, d, 32);

    /* Record by record, as docs/TPM.md describes. */
    assert_int_equal(p.events[0].type, FW_EV_S_CRTM_VERSION);
    assert_int_equal(p.events[0].data_len, 2 * 19);
    assert_int_equal(p.events[1].type, FW_EV_POST_CODE);
    sha256(stub, sizeof stub, d);
    assert_memory_equal(p.events[1].digests[0], d, 32);
    assert_int_equal(p.events[2].type, FW_EV_SEPARATOR);
    assert_int_equal(p.events[3].pcr, 4);
    sha256(image, sizeof image, d);
    assert_memory_equal(p.events[3].digests[0], d, 32);
    assert_int_equal(p.events[4].type, FW_EV_EVENT_TAG);
    assert_int_equal(p.events[5].pcr, 8);
    assert_memory_equal(p.events[5].data,
                        "kernel_cmdline: console=ttyS0 "
                        "quiet",
                        35);
    assert_int_equal(p.events[5].data[35], 0);
    sha256("console=ttyS0 quiet", 19, d);
    assert_memory_equal(p.events[5].digests[0], d, 32);
    assert_int_equal(p.events[6].pcr, 9);
    assert_int_equal(p.events[6].type, FW_EV_IPL);
    sha256("initrd bytes", 12, d);
    assert_memory_equal(p.events[6].digests[0], d, 32);
    fw_evlog_parsed_free(&p);
    fw_evlog_free(&log);
}

static void test_measure_boot_minimal(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_evlog_parsed p;
    struct fw_boot_result res;
    struct mock_tpm m;
    uint8_t d[32];

    boot(&log, &m, &res, NULL, NULL);
    assert_int_equal(fw_evlog_parse(log.buf, log.len, &p), 0);
    assert_int_equal(p.nevents, 6); /* no initrd record */
    assert_int_equal(p.events[5].pcr, 8);
    sha256("", 0, d); /* no command line = the empty one */
    assert_memory_equal(p.events[5].digests[0], d, 32);
    static const uint8_t zero[32];
    assert_memory_equal(m.pcr[9], zero, 32);
    fw_evlog_parsed_free(&p);
    fw_evlog_free(&log);
}

static void test_measure_rejects(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_boot_result res;
    struct mock_tpm m = {.fail_at = -1};
    static char longcmd[FW_CMDLINE_MAX + 2];
    struct fw_boot_input in = {
        .fw_version = "v",
        .fw_stub = stub,
        .fw_stub_len = 1,
        .image = image,
        .image_len = 1,
        .kind = "demo",
    };

    assert_int_equal(fw_evlog_init(&log, only256, 1), 0);
    in.image = NULL;
    assert_int_equal(fw_measure_boot(&log, &in, mock_extend, &m, &res),
                     FW_ERR_EMPTY);
    in.image = image;
    in.kind = "Demo!";
    assert_int_equal(fw_measure_boot(&log, &in, mock_extend, &m, &res),
                     FW_ERR_PAYLOAD);
    in.kind = "demo";
    memset(longcmd, 'x', sizeof longcmd - 1);
    in.cmdline = longcmd;
    assert_int_equal(fw_measure_boot(&log, &in, mock_extend, &m, &res),
                     FW_ERR_EVENT_SIZE);
    in.cmdline = NULL;
    assert_int_equal(log.nevents, 0);

    /* A failing extend leaves no record for it in the log. */
    for (int at = 0; at < 6; at++) {
        memset(&m, 0, sizeof m);
        m.fail_at = at;
        fw_evlog_free(&log);
        assert_int_equal(fw_evlog_init(&log, only256, 1), 0);
        assert_int_equal(fw_measure_boot(&log, &in, mock_extend, &m, &res),
                         FW_ERR_EXTEND);
        assert_int_equal(log.nevents, (size_t)at);
    }
    fw_evlog_free(&log);
}

static void test_measure_runtime(void **state)
{
    (void)state;
    struct fw_evlog log;
    struct fw_evlog_parsed p;
    struct fw_boot_result res;
    struct mock_tpm m;
    struct fw_runtime_rec r = {.action = FW_ACT_PATCH, .sequence = 7};
    struct fw_runtime_rec out;
    uint8_t pcr[FW_PCR_COUNT][32], d[32];
    uint32_t used;

    boot(&log, &m, &res, "", NULL);
    strcpy(r.id, "pkg-7");
    assert_int_equal(fw_measure_runtime(&log, &r, mock_extend, &m), 0);
    assert_int_equal(fw_evlog_parse(log.buf, log.len, &p), 0);
    const struct fw_event *ev = &p.events[p.nevents - 1];
    assert_int_equal(ev->pcr, FW_PCR_RUNTIME);
    assert_int_equal(ev->type, FW_EV_EVENT_TAG);
    sha256(ev->data, ev->data_len, d); /* self-describing digest */
    assert_memory_equal(ev->digests[0], d, 32);
    assert_int_equal(fw_runtime_decode(ev->data, ev->data_len, &out), 0);
    assert_string_equal(out.id, "pkg-7");
    assert_int_equal(fw_evlog_replay_sha256(&p, pcr, &used), 0);
    assert_memory_equal(pcr[10], m.pcr[10], 32);
    fw_evlog_parsed_free(&p);

    size_t before = log.len;
    m.fail_at = (int)m.extends;
    assert_int_equal(fw_measure_runtime(&log, &r, mock_extend, &m),
                     FW_ERR_EXTEND);
    assert_int_equal(log.len, before);
    r.id[0] = '\0';
    assert_int_equal(fw_measure_runtime(&log, &r, mock_extend, &m),
                     FW_ERR_PAYLOAD);
    fw_evlog_free(&log);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = FW_ERR_EMPTY; e <= FW_ERR_ARG; e++)
        assert_string_not_equal(fw_strerror(e), "unknown error");
    assert_string_equal(fw_strerror(0), "success");
    assert_string_equal(fw_strerror(-1), "unknown error");
    char hex[65];
    uint8_t d[32] = {0x01, 0xab};
    fw_hex32(d, hex);
    assert_int_equal(strncmp(hex, "01ab00", 6), 0);
    assert_int_equal(strlen(hex), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_writer_multibank),
        cmocka_unit_test(test_writer_rejects),
        cmocka_unit_test(test_writer_limits),
        cmocka_unit_test(test_parse_every_truncation),
        cmocka_unit_test(test_parse_trailing),
        cmocka_unit_test(test_parse_mutations),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_load_continues),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_runtime_payload),
        cmocka_unit_test(test_boot_info_payload),
        cmocka_unit_test(test_measure_boot),
        cmocka_unit_test(test_measure_boot_minimal),
        cmocka_unit_test(test_measure_rejects),
        cmocka_unit_test(test_measure_runtime),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests_name("eventlog", tests, NULL, NULL);
}
