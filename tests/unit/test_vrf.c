/* test_vrf.c: unit tests of the verifier library: the strict CBOR reader,
 * the error table, constant-time compare, X.509 time arithmetic, ES384
 * verification against mbedTLS's own, the COSE to-be-signed digest against
 * libcbor, package round trips at the format's limits, the trust store and
 * its chain cache, and argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cbor.h>
#include <cmocka.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/sha512.h>

#include "pkg/vrf_int.h"
#include "tests/unit/test_vrf_support.h"

static struct tv_pki pki;

/* ------------------------------------------------------------------ CBOR */

struct head_case {
    const char *hex;
    int ret;
    unsigned major;
    uint64_t arg;
};

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;

    for (; h[0] != '\0' && h[1] != '\0'; h += 2) {
        unsigned v;

        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void cbor_heads(void **state)
{
    static const struct head_case cases[] = {
        {"00", VRF_OK, 0, 0},
        {"17", VRF_OK, 0, 23},
        {"1818", VRF_OK, 0, 24},
        {"1817", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"1900ff", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"190100", VRF_OK, 0, 256},
        {"1a0000ffff", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"1a00010000", VRF_OK, 0, 65536},
        {"1b00000000ffffffff", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"1b0000000100000000", VRF_OK, 0, 0x100000000ull},
        {"1bffffffffffffffff", VRF_OK, 0, UINT64_MAX},
        {"18", VRF_ERR_PARSE_TRUNCATED, 0, 0},
        {"1900", VRF_ERR_PARSE_TRUNCATED, 0, 0},
        {"1b00000000000000", VRF_ERR_PARSE_TRUNCATED, 0, 0},
        {"", VRF_ERR_PARSE_TRUNCATED, 0, 0},
        {"1c", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"1d", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"1e", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"1f", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"5f", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"9f", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"ff", VRF_ERR_PARSE_NONCANONICAL, 0, 0},
        {"20", VRF_OK, 1, 0},
        {"4a", VRF_OK, 2, 10},
        {"d2", VRF_OK, 6, 18},
        {"f4", VRF_OK, 7, 20},
    };
    uint8_t buf[16];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct vrf_cbor c;
        unsigned major = 99;
        uint64_t arg = 99;
        size_t n = unhex(cases[i].hex, buf);
        int ret;

        vrf_cbor_init(&c, buf, n, 0);
        ret = vrf_cbor_head(&c, &major, &arg);
        if (ret != cases[i].ret)
            fail_msg("%s: got %s", cases[i].hex, vrf_errname(ret));
        if (ret == VRF_OK) {
            assert_int_equal(major, cases[i].major);
            assert_true(arg == cases[i].arg);
            assert_int_equal(c.off, n);
        } else {
            assert_int_equal(c.off, 0);
        }
    }
}

static void cbor_ints_and_strings(void **state)
{
    uint8_t buf[16];
    struct vrf_cbor c;
    int64_t v;
    struct vrf_bytes s;
    size_t n;

    (void)state;
    n = unhex("3b7fffffffffffffff", buf);
    vrf_cbor_init(&c, buf, n, 0);
    assert_int_equal(vrf_cbor_int(&c, &v), VRF_OK);
    assert_true(v == INT64_MIN);
    n = unhex("3b8000000000000000", buf);
    vrf_cbor_init(&c, buf, n, 0);
    assert_int_equal(vrf_cbor_int(&c, &v), VRF_ERR_PARSE_TYPE);
    n = unhex("1b8000000000000000", buf);
    vrf_cbor_init(&c, buf, n, 0);
    assert_int_equal(vrf_cbor_int(&c, &v), VRF_ERR_PARSE_TYPE);
    n = unhex("3822", buf);
    vrf_cbor_init(&c, buf, n, 0);
    assert_int_equal(vrf_cbor_int(&c, &v), VRF_OK);
    assert_int_equal(v, -35);

    /* Length beyond the input, beyond the limit, exact. */
    n = unhex("43aabb", buf);
    vrf_cbor_init(&c, buf, n, 100);
    assert_int_equal(vrf_cbor_string(&c, VRF_CBOR_BSTR, 16, &s),
                     VRF_ERR_PARSE_TRUNCATED);
    n = unhex("43aabbcc", buf);
    vrf_cbor_init(&c, buf, n, 0);
    assert_int_equal(vrf_cbor_string(&c, VRF_CBOR_BSTR, 2, &s),
                     VRF_ERR_PARSE_LIMIT);
    vrf_cbor_init(&c, buf, n, 0);
    assert_int_equal(vrf_cbor_string(&c, VRF_CBOR_TSTR, 16, &s),
                     VRF_ERR_PARSE_TYPE);
    assert_int_equal(c.off, 0);
    assert_int_equal(vrf_cbor_string(&c, VRF_CBOR_BSTR, 3, &s), VRF_OK);
    assert_int_equal(s.len, 3);
    assert_true(vrf_cbor_done(&c));
    /* A huge claimed length does not overflow the bounds check. */
    n = unhex("5bffffffffffffffff", buf);
    vrf_cbor_init(&c, buf, n, 0);
    assert_int_equal(vrf_cbor_string(&c, VRF_CBOR_BSTR, SIZE_MAX, &s),
                     VRF_ERR_PARSE_TRUNCATED);
}

static void cbor_map_keys(void **state)
{
    uint8_t buf[16];
    struct vrf_cbor c;
    struct vrf_cbor_map m;
    uint64_t k, missing;
    size_t n;

    (void)state;
    /* 1, 3, then 3 again: duplicate. */
    n = unhex("010303", buf);
    vrf_cbor_init(&c, buf, n, 0);
    vrf_cbor_map_init(&m, 0x0e);
    assert_int_equal(vrf_cbor_map_key(&c, &m, &k), VRF_OK);
    assert_int_equal(vrf_cbor_map_key(&c, &m, &k), VRF_OK);
    assert_int_equal(vrf_cbor_map_key(&c, &m, &k), VRF_ERR_PARSE_DUP_KEY);
    /* 3 then 1: out of order; 4: not allowed; 64: not allowed. */
    n = unhex("030104", buf);
    vrf_cbor_init(&c, buf, n, 0);
    vrf_cbor_map_init(&m, 0x0e);
    assert_int_equal(vrf_cbor_map_key(&c, &m, &k), VRF_OK);
    assert_int_equal(vrf_cbor_map_key(&c, &m, &k), VRF_ERR_PARSE_NONCANONICAL);
    vrf_cbor_init(&c, buf + 2, 1, 0);
    assert_int_equal(vrf_cbor_map_key(&c, &m, &k), VRF_ERR_PARSE_UNKNOWN_KEY);
    n = unhex("1840", buf);
    vrf_cbor_init(&c, buf, n, 0);
    assert_int_equal(vrf_cbor_map_key(&c, &m, &k), VRF_ERR_PARSE_UNKNOWN_KEY);
    n = unhex("6161", buf);
    vrf_cbor_init(&c, buf, n, 0);
    assert_int_equal(vrf_cbor_map_key(&c, &m, &k), VRF_ERR_PARSE_TYPE);
    /* Missing: the lowest absent required key. */
    vrf_cbor_map_init(&m, 0x0e);
    m.seen = 0x08;
    assert_int_equal(vrf_cbor_map_end(&m, 0x0e, &missing),
                     VRF_ERR_PARSE_MISSING_KEY);
    assert_int_equal(missing, 1);
}

/* ------------------------------------------------------------------ errors */

static void error_table(void **state)
{
    size_t n;
    const int *codes = vrf_errcodes(&n);

    (void)state;
    assert_true(n > 60);
    for (size_t i = 0; i < n; i++) {
        const char *name = vrf_errname(codes[i]);
        int back;

        assert_non_null(name);
        assert_true(strncmp(name, codes[i] == 0 ? "VRF_OK" : "VRF_ERR_", 6) ==
                    0);
        assert_true(strlen(vrf_strerror(codes[i])) > 5);
        assert_int_equal(vrf_errcode(name, &back), VRF_OK);
        assert_int_equal(back, codes[i]);
        assert_true(codes[i] <= 0);
        for (size_t k = i + 1; k < n; k++) {
            assert_int_not_equal(codes[i], codes[k]);
            assert_string_not_equal(name, vrf_errname(codes[k]));
        }
    }
    assert_null(vrf_errname(-99999));
    assert_string_equal(vrf_strerror(-99999), "unknown error");
    assert_int_equal(vrf_errcode("VRF_ERR_NOPE", &(int){0}), VRF_ERR_ARG);
    /* Stable values: spot checks of the published numbers. */
    assert_int_equal(VRF_ERR_PARSE_TRAILING, -103);
    assert_int_equal(VRF_ERR_SIG_INVALID, -602);
    assert_int_equal(VRF_ERR_BOUNDS_REL32, -1006);
}

static void ct_compare(void **state)
{
    uint8_t a[64], b[64];

    (void)state;
    memset(a, 0x5a, sizeof a);
    memcpy(b, a, sizeof b);
    assert_int_equal(vrf_ct_memcmp(a, b, sizeof a), 0);
    assert_int_equal(vrf_ct_memcmp(a, b, 0), 0);
    b[0] ^= 1;
    assert_int_not_equal(vrf_ct_memcmp(a, b, sizeof a), 0);
    b[0] ^= 1;
    b[63] ^= 0x80;
    assert_int_not_equal(vrf_ct_memcmp(a, b, sizeof a), 0);
}

static void x509_time(void **state)
{
    uint64_t x = 88172645463325252ull;
    char buf[32], want[32];

    (void)state;
    for (int i = 0; i < 20000; i++) {
        time_t t;
        struct tm tm;
        mbedtls_x509_time xt;

        /* xorshift over [0, 253402300799] (9999-12-31T23:59:59Z). */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t = (time_t)(x % 253402300800ull);
        if (i < 4)
            t = (time_t[]){0, 951782400, 4107542399, 253402300799}[i];
        assert_non_null(gmtime_r(&t, &tm));
        xt.year = tm.tm_year + 1900;
        xt.mon = tm.tm_mon + 1;
        xt.day = tm.tm_mday;
        xt.hour = tm.tm_hour;
        xt.min = tm.tm_min;
        xt.sec = tm.tm_sec;
        assert_true(vrf_x509_time_to_epoch(&xt) == (int64_t)t);
        vrf_format_time((int64_t)t, buf, sizeof buf);
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
        assert_string_equal(buf, want);
    }
}

/* ------------------------------------------------------------------ ECDSA */

/* vrf_ecdsa_p384_verify agrees with mbedtls_ecdsa_verify on valid and
 * corrupted signatures, with and without the signer's cached table. */
static void ecdsa_matches_mbedtls(void **state)
{
    mbedtls_ecdsa_context k;
    mbedtls_ecp_group g, q;
    mbedtls_mpi r, s;
    uint8_t hash[48], sig[96];
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;

    (void)state;
    mbedtls_ecdsa_init(&k);
    mbedtls_ecp_group_init(&g);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    assert_int_equal(keys_rng(&f_rng, &p_rng), KEYS_OK);
    assert_int_equal(mbedtls_ecdsa_genkey(&k, MBEDTLS_ECP_DP_SECP384R1, f_rng,
                                          p_rng), 0);
    assert_int_equal(mbedtls_ecp_group_load(&g, MBEDTLS_ECP_DP_SECP384R1), 0);
    assert_int_equal(vrf_ecdsa_q_group(&q, &k.Q), VRF_OK);
    for (int i = 0; i < 60; i++) {
        int want, got, got_q;

        f_rng(p_rng, hash, sizeof hash);
        if (i == 0)
            memset(hash, 0, sizeof hash); /* e = 0: u1 = 0 */
        if (i == 1)
            memset(hash, 0xff, sizeof hash); /* e > n */
        assert_int_equal(mbedtls_ecdsa_sign(&k.grp, &r, &s, &k.d, hash,
                                            sizeof hash, f_rng, p_rng), 0);
        assert_int_equal(mbedtls_mpi_write_binary(&r, sig, 48), 0);
        assert_int_equal(mbedtls_mpi_write_binary(&s, sig + 48, 48), 0);
        if (i % 3 == 1)
            sig[(size_t)i % 96] ^= (uint8_t)(1u << (i % 8));
        else if (i % 3 == 2)
            hash[(size_t)i % 48] ^= 0x10;
        assert_int_equal(mbedtls_mpi_read_binary(&r, sig, 48), 0);
        assert_int_equal(mbedtls_mpi_read_binary(&s, sig + 48, 48), 0);
        want = mbedtls_ecdsa_verify(&k.grp, hash, sizeof hash, &k.Q, &r, &s) ==
                       0
                   ? VRF_OK
                   : VRF_ERR_SIG_INVALID;
        got = vrf_ecdsa_p384_verify(&g, NULL, &k.Q, hash, sig);
        got_q = vrf_ecdsa_p384_verify(&g, &q, &k.Q, hash, sig);
        assert_int_equal(got, want);
        assert_int_equal(got_q, want);
        assert_int_equal(want, i % 3 == 0 ? VRF_OK : VRF_ERR_SIG_INVALID);
    }
    /* r or s out of [1, n - 1]. */
    memset(sig, 0, sizeof sig);
    assert_int_equal(vrf_ecdsa_p384_verify(&g, &q, &k.Q, hash, sig),
                     VRF_ERR_SIG_INVALID);
    assert_int_equal(mbedtls_mpi_write_binary(&g.N, sig, 48), 0);
    sig[95] = 1;
    assert_int_equal(vrf_ecdsa_p384_verify(&g, &q, &k.Q, hash, sig),
                     VRF_ERR_SIG_INVALID);
    vrf_ecdsa_q_group_free(&q);
    mbedtls_ecp_group_free(&g);
    mbedtls_ecdsa_free(&k);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
}

/* ------------------------------------------------------------------ COSE */

/* The streamed Sig_structure digest equals SHA-384 of libcbor's encoding
 * of ["Signature1", protected, h'', payload], at every head size. */
static void tbs_hash_matches_libcbor(void **state)
{
    static const size_t sizes[] = {0, 1, 23, 24, 255, 256, 65535, 65536, 70000};
    uint8_t *payload = malloc(70000), prot[3] = {0xa1, 0x01, 0x20};
    uint8_t want[64], got[48];

    (void)state;
    assert_non_null(payload);
    for (size_t i = 0; i < 70000; i++)
        payload[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        cbor_item_t *a = cbor_new_definite_array(4);
        unsigned char *enc = NULL;
        size_t enc_size = 0, n;

        assert_true(cbor_array_push(a, cbor_move(cbor_build_string("Signature1"))));
        assert_true(cbor_array_push(a, cbor_move(cbor_build_bytestring(prot, 3))));
        assert_true(cbor_array_push(a, cbor_move(cbor_build_bytestring(NULL, 0))));
        assert_true(cbor_array_push(
            a, cbor_move(cbor_build_bytestring(payload, sizes[i]))));
        n = cbor_serialize_alloc(a, &enc, &enc_size);
        assert_true(n > 0);
        assert_int_equal(mbedtls_sha512_ret(enc, n, want, 1), 0);
        assert_int_equal(vrf_cose_tbs_hash(prot, 3, payload, sizes[i], got),
                         VRF_OK);
        assert_memory_equal(got, want, 48);
        free(enc);
        cbor_decref(&a);
    }
    free(payload);
}

/* A package at the format's limits encodes (keys), parses (verifier) back
 * to the same fields, and is canonical as libcbor sees it: decoding and
 * re-encoding gives the same bytes. */
static void roundtrip_at_limits(void **state)
{
    struct vrf_pkg in, out;
    static uint8_t big[VRF_MAX_RECORDS][8];
    uint8_t *payload, *prot, *pkg, *reser = NULL;
    size_t payload_len, prot_len, pkg_len, reser_size = 0;
    struct cbor_load_result res;
    cbor_item_t *item;

    (void)state;
    vrf_pkg_init(&in);
    vrf_pkg_init(&out);
    in.format = 1;
    memset(in.id, 'A', VRF_ID_MAX);
    memset(in.title, 'T', VRF_TITLE_MAX);
    memset(in.publisher, 'P', VRF_PUBLISHER_MAX);
    snprintf(in.kind, sizeof in.kind, "linux");
    for (size_t i = 0; i < VRF_MAX_CVES; i++)
        snprintf(in.cves[i], sizeof in.cves[i], "CVE-2026-%06zu", i);
    in.n_cves = VRF_MAX_CVES;
    memset(in.baseline, 0xab, sizeof in.baseline);
    in.sequence = UINT64_MAX;
    in.records = calloc(VRF_MAX_RECORDS, sizeof *in.records);
    assert_non_null(in.records);
    for (size_t i = 0; i < VRF_MAX_RECORDS; i++) {
        struct vrf_record *r = &in.records[i];

        memset(big[i], (int)i, sizeof big[i]);
        r->kind = (uint32_t)(i % 3) + 1;
        r->gpa = 0x1000 * i;
        if (r->kind != VRF_REC_CODE) {
            r->pre.p = big[i];
            r->pre.len = r->kind == VRF_REC_REDIRECT ? 5 : 8;
        }
        if (r->kind != VRF_REC_REDIRECT) {
            r->data.p = big[i];
            r->data.len = 8;
        }
        r->target = 0x40000000 + i;
    }
    in.n_records = VRF_MAX_RECORDS;
    assert_int_equal(keys_pkg_encode_payload(&in, &payload, &payload_len),
                     KEYS_OK);
    assert_int_equal(keys_pkg_encode_protected(NULL, 0, &prot, &prot_len),
                     KEYS_OK);
    assert_int_equal(keys_pkg_encode_sign1(prot, prot_len, payload,
                                           payload_len, NULL, 0, &pkg,
                                           &pkg_len),
                     KEYS_OK);
    assert_int_equal(vrf_pkg_parse(&out, pkg, pkg_len), VRF_OK);
    assert_false(out.is_signed);
    assert_string_equal(out.id, in.id);
    assert_string_equal(out.title, in.title);
    assert_string_equal(out.publisher, in.publisher);
    assert_string_equal(out.kind, "linux");
    assert_int_equal(out.n_cves, VRF_MAX_CVES);
    assert_string_equal(out.cves[15], in.cves[15]);
    assert_memory_equal(out.baseline, in.baseline, 32);
    assert_true(out.sequence == UINT64_MAX);
    assert_int_equal(out.n_records, VRF_MAX_RECORDS);
    for (size_t i = 0; i < VRF_MAX_RECORDS; i++) {
        const struct vrf_record *a = &in.records[i], *b = &out.records[i];

        assert_int_equal(a->kind, b->kind);
        assert_true(a->gpa == b->gpa);
        assert_int_equal(a->pre.len, b->pre.len);
        if (a->kind == VRF_REC_REDIRECT) {
            assert_true(a->target == b->target);
            assert_int_equal(b->size, 5);
            assert_int_equal(b->data.len, 5);
            assert_int_equal(b->jmp[0], 0xe9);
        } else {
            assert_memory_equal(a->data.p, b->data.p, a->data.len);
        }
    }
    /* libcbor: one item, canonical (re-encoding is byte-identical). Its
     * 0.8 decoder rejects tags 6..20, COSE_Sign1's 18 among them
     * (PJK/libcbor#307), so it reads the message after the tag byte. */
    assert_int_equal(pkg[0], 0xd2);
    item = cbor_load(pkg + 1, pkg_len - 1, &res);
    assert_non_null(item);
    assert_int_equal(res.error.code, CBOR_ERR_NONE);
    assert_int_equal(res.read, pkg_len - 1);
    assert_int_equal(cbor_serialize_alloc(item, &reser, &reser_size),
                     pkg_len - 1);
    assert_memory_equal(reser, pkg + 1, pkg_len - 1);
    cbor_decref(&item);
    free(reser);
    /* One record more than the limit does not encode. */
    in.n_records = VRF_MAX_RECORDS + 1;
    keys_free(payload);
    assert_int_equal(keys_pkg_encode_payload(&in, &payload, &payload_len),
                     KEYS_ERR_ARG);
    keys_free(prot);
    keys_free(pkg);
    free(in.records);
    vrf_pkg_free(&out);
}

/* e9 rel32 forwards and backwards, and the largest reachable distances. */
static void redirect_jump_bytes(void **state)
{
    static const struct {
        uint64_t gpa, target;
        uint8_t jmp[5];
    } cases[] = {
        {0x40000100, 0x40200010, {0xe9, 0x0b, 0xff, 0x1f, 0x00}},
        {0x40200000, 0x40000000, {0xe9, 0xfb, 0xff, 0xdf, 0xff}},
        {0x1000, 0x1005, {0xe9, 0, 0, 0, 0}},
        {0x1000, 0x1005 + 0x7fffffffull, {0xe9, 0xff, 0xff, 0xff, 0x7f}},
        {0x80001000, 0x80001005 - 0x80000000ull, {0xe9, 0, 0, 0, 0x80}},
        {0x1000, 0x1005 + 0x80000000ull, {0, 0, 0, 0, 0}},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct vrf_pkg in, out;
        struct vrf_record rec;
        uint8_t pre[5] = {0x90, 0x90, 0x90, 0x90, 0x90};
        uint8_t *payload, *prot, *pkg;
        size_t payload_len, prot_len, pkg_len, n;
        const uint8_t *p;

        vrf_pkg_init(&in);
        vrf_pkg_init(&out);
        memset(&rec, 0, sizeof rec);
        rec.kind = VRF_REC_REDIRECT;
        rec.gpa = cases[i].gpa;
        rec.target = cases[i].target;
        rec.pre.p = pre;
        rec.pre.len = 5;
        in.format = 1;
        snprintf(in.id, sizeof in.id, "X");
        snprintf(in.title, sizeof in.title, "t");
        snprintf(in.publisher, sizeof in.publisher, "p");
        snprintf(in.kind, sizeof in.kind, "demo");
        in.sequence = 1;
        in.records = &rec;
        in.n_records = 1;
        assert_int_equal(keys_pkg_encode_payload(&in, &payload, &payload_len),
                         KEYS_OK);
        assert_int_equal(keys_pkg_encode_protected(NULL, 0, &prot, &prot_len),
                         KEYS_OK);
        assert_int_equal(keys_pkg_encode_sign1(prot, prot_len, payload,
                                               payload_len, NULL, 0, &pkg,
                                               &pkg_len),
                         KEYS_OK);
        assert_int_equal(vrf_pkg_parse(&out, pkg, pkg_len), VRF_OK);
        vrf_record_new_bytes(&out.records[0], &p, &n);
        assert_int_equal(n, 5);
        assert_memory_equal(p, cases[i].jmp, 5);
        keys_free(payload);
        keys_free(prot);
        keys_free(pkg);
        vrf_pkg_free(&out);
    }
}

/* ------------------------------------------------------------------ trust */

static void trust_loading(void **state)
{
    struct vrf_trust t;
    char *two = NULL;
    const mbedtls_x509_crt *root = &pki.crt[TV_ROOT];
    uint8_t der[4096];

    (void)state;
    vrf_trust_init(&t);
    assert_true(t.p384_ok);
    /* DER, exact; DER with a trailing byte; a non-CA in a PEM bundle
     * leaves the store unchanged. */
    assert_int_equal(vrf_trust_add_anchors(&t, root->raw.p, root->raw.len),
                     VRF_OK);
    memcpy(der, root->raw.p, root->raw.len);
    der[root->raw.len] = 0;
    assert_int_equal(vrf_trust_add_anchors(&t, der, root->raw.len + 1),
                     VRF_ERR_TRUST_ANCHOR_PARSE);
    two = malloc(strlen(pki.pem[TV_INTER]) + strlen(pki.pem[TV_GOOD]) + 1);
    assert_non_null(two);
    strcpy(two, pki.pem[TV_INTER]);
    strcat(two, pki.pem[TV_GOOD]);
    assert_int_equal(vrf_trust_add_anchors(&t, (uint8_t *)two, strlen(two)),
                     VRF_ERR_TRUST_ANCHOR_NOT_CA);
    assert_int_equal(t.n_anchors, 1);
    /* Two CAs in one PEM. */
    strcpy(two, pki.pem[TV_INTER]);
    strcat(two, pki.pem[TV_OLD_ROOT]);
    assert_int_equal(vrf_trust_add_anchors(&t, (uint8_t *)two, strlen(two)),
                     VRF_OK);
    assert_int_equal(t.n_anchors, 3);
    assert_int_equal(vrf_trust_add_anchors(&t, NULL, 1), VRF_ERR_ARG);
    assert_int_equal(vrf_trust_add_anchors(&t, (uint8_t *)"", 0), VRF_ERR_ARG);
    /* CRLs: PEM ok, a second PEM ok, garbage, someone else's. */
    assert_int_equal(vrf_trust_add_crl(&t, (uint8_t *)pki.crl_revoking,
                                       strlen(pki.crl_revoking)),
                     VRF_OK);
    assert_int_equal(vrf_trust_add_crl(&t, (uint8_t *)pki.crl_other,
                                       strlen(pki.crl_other)),
                     VRF_ERR_TRUST_CRL_ISSUER);
    assert_int_equal(vrf_trust_add_crl(&t, (uint8_t *)"\x30\x03\x02\x01\x01",
                                       5),
                     VRF_ERR_TRUST_CRL_PARSE);
    assert_int_equal(t.n_crls, 1);
    free(two);
    vrf_trust_free(&t);
    vrf_trust_free(NULL);
}

/* A store loaded aside and moved in (a running VM's reload): the CRL of
 * the first anchor follows it into the destination, dates are readable,
 * the source is left empty, and the moved store verifies. */
static void trust_move(void **state)
{
    struct vrf_trust fresh, t;
    struct vrf_ctx ctx;
    struct tv_guest g;
    struct vrf_pkg p;
    uint8_t *pkg;
    size_t len;
    int64_t tu = 0, nu = 0;

    (void)state;
    vrf_trust_init(&fresh);
    vrf_trust_init(&t);
    vrf_pkg_init(&p);
    t.no_cache = 1;
    assert_int_equal(vrf_trust_add_anchors(&fresh, (uint8_t *)pki.pem[TV_ROOT],
                                           strlen(pki.pem[TV_ROOT])),
                     VRF_OK);
    assert_int_equal(vrf_trust_add_crl(&fresh, (uint8_t *)pki.crl_revoking,
                                       strlen(pki.crl_revoking)),
                     VRF_OK);
    assert_ptr_equal(fresh.crl_issuer[0], &fresh.anchors);
    vrf_trust_move(&t, &fresh);
    assert_ptr_equal(t.crl_issuer[0], &t.anchors);
    assert_int_equal(t.no_cache, 1);
    assert_int_equal(t.n_anchors, 1);
    assert_int_equal(fresh.n_anchors, 0);
    assert_int_equal(fresh.n_crls, 0);
    assert_int_equal(vrf_trust_crl_dates(&t, 0, &tu, &nu), 1);
    assert_true(tu > 0 && nu > tu);
    assert_int_equal(vrf_trust_crl_dates(&t, 1, &tu, &nu), 1);
    assert_int_equal(tv_base_package(&pki, &pkg, &len, &ctx, &g), 0);
    assert_int_equal(vrf_verify(&t, &ctx, pkg, len, &p), VRF_OK);
    free(pkg);
    free(g.mem);
    vrf_pkg_free(&p);
    vrf_trust_free(&t);
    vrf_trust_free(&fresh);
}

/* The chain cache: one entry per chain, reused, evicted round-robin, off
 * with no_cache; the signer's fast group passes its self-test. */
static void chain_cache(void **state)
{
    struct vrf_trust t;
    struct vrf_ctx ctx;
    struct tv_guest g;
    struct vrf_pkg p;
    uint8_t *pkg;
    size_t len, used = 0;

    (void)state;
    vrf_trust_init(&t);
    vrf_pkg_init(&p);
    assert_int_equal(vrf_trust_add_anchors(&t, (uint8_t *)pki.pem[TV_ROOT],
                                           strlen(pki.pem[TV_ROOT])),
                     VRF_OK);
    assert_int_equal(tv_base_package(&pki, &pkg, &len, &ctx, &g), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(vrf_verify(&t, &ctx, pkg, len, &p), VRF_OK);
    for (size_t i = 0; i < VRF_TRUST_CACHE_SIZE; i++)
        used += t.cache[i] != NULL;
    assert_int_equal(used, 1);
    assert_non_null(t.cache[0]);
    assert_true(t.cache[0]->signer_grp_ok);
    assert_true(p.signer.verified);
    assert_non_null(strstr(p.signer.subject, "vec good"));
    assert_non_null(strstr(p.signer.anchor, "vec root"));
    /* Evict by filling every slot with other chains (failing ones too). */
    for (size_t i = 0; i < VRF_TRUST_CACHE_SIZE + 2; i++) {
        char ops[64], why[128];

        snprintf(ops, sizeof ops, "signer=%s",
                 tv_cert_name((int)(TV_GOOD + i % (TV_NCERTS - TV_GOOD))));
        (void)tv_run(&pki, ops, why, sizeof why);
    }
    vrf_trust_cache_clear(&t);
    assert_null(t.cache[0]);
    assert_int_equal(vrf_verify(&t, &ctx, pkg, len, &p), VRF_OK);
    assert_non_null(t.cache[0]);
    /* No cache: nothing kept, same verdicts. */
    vrf_trust_cache_clear(&t);
    t.no_cache = 1;
    assert_int_equal(vrf_verify(&t, &ctx, pkg, len, &p), VRF_OK);
    pkg[len - 1] ^= 1;
    assert_int_equal(vrf_verify(&t, &ctx, pkg, len, &p), VRF_ERR_SIG_INVALID);
    for (size_t i = 0; i < VRF_TRUST_CACHE_SIZE; i++)
        assert_null(t.cache[i]);
    free(pkg);
    free(g.mem);
    vrf_pkg_free(&p);
    vrf_trust_free(&t);
}

/* A refused map key is named by its number (and name), not only by its
 * position in the map. */
static void map_key_details(void **state)
{
    static const struct {
        const char *ops, *detail;
    } cases[] = {
        {"pl+=2:6141", "payload: entry 10: key 2 (id) repeated"},
        {"pl+=10:00", "payload: entry 10: key 10 unknown"},
        {"pl+=1000:00", "key 1000 unknown"},
        {"pl.swap=2,3", "key 2 (id) out of order"},
        {"prot+=1:3822", "protected header: entry 3: key 1 (alg) repeated"},
        {"prot+=4:4100", "protected header: entry 3: key 4 unknown"},
    };
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        why[0] = '\0';
        (void)tv_run(&pki, cases[i].ops, why, sizeof why);
        if (strstr(why, cases[i].detail) == NULL)
            fail_msg("%s: detail \"%s\", expected \"%s\"", cases[i].ops, why,
                     cases[i].detail);
    }
}

/* ------------------------------------------------------------------ API */

static void arguments(void **state)
{
    struct vrf_trust t;
    struct vrf_ctx ctx;
    struct vrf_pkg p;
    struct vrf_signer s;
    struct tv_guest g;
    uint8_t *pkg;
    size_t len;

    (void)state;
    vrf_trust_init(&t);
    vrf_pkg_init(&p);
    assert_int_equal(tv_base_package(&pki, &pkg, &len, &ctx, &g), 0);
    assert_int_equal(vrf_verify(NULL, &ctx, pkg, len, &p), VRF_ERR_ARG);
    assert_int_equal(vrf_verify(&t, NULL, pkg, len, &p), VRF_ERR_ARG);
    assert_int_equal(vrf_verify(&t, &ctx, pkg, len, NULL), VRF_ERR_ARG);
    assert_int_equal(vrf_verify(&t, &ctx, NULL, 5, &p), VRF_ERR_ARG);
    ctx.kind = NULL;
    assert_int_equal(vrf_verify(&t, &ctx, pkg, len, &p), VRF_ERR_ARG);
    ctx.kind = "demo";
    ctx.ranges = NULL;
    assert_int_equal(vrf_verify(&t, &ctx, pkg, len, &p), VRF_ERR_ARG);
    assert_int_equal(vrf_pkg_parse(NULL, pkg, len), VRF_ERR_ARG);
    assert_int_equal(vrf_check_records(NULL, &p), VRF_ERR_ARG);
    assert_int_equal(vrf_pkg_signer(NULL, &s), VRF_ERR_ARG);
    /* Parse only: the signer is described but not verified. */
    assert_int_equal(vrf_pkg_parse(&p, pkg, len), VRF_OK);
    assert_true(p.is_signed);
    assert_int_equal(vrf_pkg_signer(&p, &s), VRF_OK);
    assert_false(s.verified);
    assert_non_null(strstr(s.subject, "vec good"));
    assert_int_equal(p.fail_record, -1);
    vrf_pkg_free(&p);
    vrf_pkg_free(NULL);
    free(pkg);
    free(g.mem);
    vrf_trust_free(&t);
}

static int setup(void **state)
{
    (void)state;
    return tv_pki_init(&pki);
}

static int teardown(void **state)
{
    (void)state;
    tv_pki_free(&pki);
    return 0;
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(cbor_heads),
        cmocka_unit_test(cbor_ints_and_strings),
        cmocka_unit_test(cbor_map_keys),
        cmocka_unit_test(error_table),
        cmocka_unit_test(ct_compare),
        cmocka_unit_test(x509_time),
        cmocka_unit_test(ecdsa_matches_mbedtls),
        cmocka_unit_test(tbs_hash_matches_libcbor),
        cmocka_unit_test(roundtrip_at_limits),
        cmocka_unit_test(redirect_jump_bytes),
        cmocka_unit_test(trust_loading),
        cmocka_unit_test(trust_move),
        cmocka_unit_test(chain_cache),
        cmocka_unit_test(arguments),
        cmocka_unit_test(map_key_details),
    };

    return cmocka_run_group_tests_name("vrf", tests, setup, teardown);
}
