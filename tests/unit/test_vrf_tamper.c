/* test_vrf_tamper.c: the tamper matrix: a real signed package is approved,
 * and every variant made by flipping one bit at any byte offset, by
 * truncating it at any length or by appending bytes is rejected with a
 * defined reason.
 *
 * Without environment, the package is the vectors' base package with a
 * PKI generated now. With HVPATCH_TAMPER_PKG=FILE, HVPATCH_TAMPER_TRUST=DIR
 * and HVPATCH_TAMPER_IMAGE=ELF (tests/integration/packages.bats sets them
 * for the demo guest's fix), it is that package, verified against that
 * trust store and image (kind HVPATCH_TAMPER_KIND, default "demo"; current
 * sequence HVPATCH_TAMPER_SEQ, default 0). HVPATCH_TAMPER_ALL_BITS=1 flips
 * each of the 8 bits at every offset instead of one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <mbedtls/sha256.h>

#include "tests/unit/test_vrf_support.h"

struct tamper {
    struct tv_pki pki;
    int have_pki;
    struct vrf_trust trust;
    struct vrf_ctx ctx;
    struct tv_guest guest;
    struct keys_elf elf;
    uint8_t *image;
    uint8_t *pkg;
    size_t len;
};

static struct tamper T;

static int elf_read(void *opaque, uint64_t gpa, uint8_t *buf, size_t len)
{
    return keys_elf_read_gpa(opaque, gpa, buf, len) == KEYS_OK ? 0 : -1;
}

static int setup_from_env(const char *pkg_path)
{
    const char *trust = getenv("HVPATCH_TAMPER_TRUST");
    const char *image = getenv("HVPATCH_TAMPER_IMAGE");
    const char *kind = getenv("HVPATCH_TAMPER_KIND");
    const char *seq = getenv("HVPATCH_TAMPER_SEQ");
    struct keys_diag d = {""};
    size_t image_len;

    if (trust == NULL || image == NULL) {
        fprintf(stderr, "# HVPATCH_TAMPER_TRUST and _IMAGE are needed\n");
        return -1;
    }
    if (keys_read_file(pkg_path, 2 * VRF_PKG_MAX_SIZE, &T.pkg, &T.len, &d) !=
            KEYS_OK ||
        keys_trust_load_dir(&T.trust, trust, &d) != KEYS_OK ||
        keys_read_file(image, 256u << 20, &T.image, &image_len, &d) !=
            KEYS_OK ||
        keys_elf_open(&T.elf, T.image, image_len, &d) != KEYS_OK) {
        fprintf(stderr, "# %s\n", d.text);
        return -1;
    }
    memset(&T.ctx, 0, sizeof T.ctx);
    mbedtls_sha256_ret(T.image, image_len, T.ctx.baseline, 0);
    T.ctx.kind = kind != NULL ? kind : "demo";
    T.ctx.current_seq = seq != NULL ? strtoull(seq, NULL, 0) : 0;
    T.ctx.now = (int64_t)time(NULL);
    T.ctx.read = elf_read;
    T.ctx.read_opaque = &T.elf;
    T.ctx.ranges = tv_demo_ranges;
    T.ctx.n_ranges = 4;
    fprintf(stderr, "# package %s (%zu bytes)\n", pkg_path, T.len);
    return 0;
}

static int setup(void **state)
{
    const char *pkg_path = getenv("HVPATCH_TAMPER_PKG");

    (void)state;
    memset(&T, 0, sizeof T);
    vrf_trust_init(&T.trust);
    if (pkg_path != NULL && pkg_path[0] != '\0')
        return setup_from_env(pkg_path);
    if (tv_pki_init(&T.pki) != 0)
        return -1;
    T.have_pki = 1;
    if (vrf_trust_add_anchors(&T.trust, (uint8_t *)T.pki.pem[TV_ROOT],
                              strlen(T.pki.pem[TV_ROOT])) != VRF_OK ||
        tv_base_package(&T.pki, &T.pkg, &T.len, &T.ctx, &T.guest) != 0)
        return -1;
    fprintf(stderr, "# package: the vectors' base package (%zu bytes)\n",
            T.len);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vrf_trust_free(&T.trust);
    if (T.have_pki)
        tv_pki_free(&T.pki);
    free(T.pkg);
    free(T.guest.mem);
    free(T.image);
    return 0;
}

static int verify(const uint8_t *buf, size_t len)
{
    struct vrf_pkg p;
    int ret;

    vrf_pkg_init(&p);
    ret = vrf_verify(&T.trust, &T.ctx, buf, len, &p);
    vrf_pkg_free(&p);
    return ret;
}

static void original_is_approved(void **state)
{
    (void)state;
    assert_int_equal(verify(T.pkg, T.len), VRF_OK);
}

struct tally {
    int code;
    size_t n;
};

static void count(struct tally *t, size_t *n, int code)
{
    for (size_t i = 0; i < *n; i++) {
        if (t[i].code == code) {
            t[i].n++;
            return;
        }
    }
    t[*n].code = code;
    t[(*n)++].n = 1;
}

/* Flip one bit at every byte offset (bit offset % 8, or all 8). */
static void every_bit_flip_rejected(void **state)
{
    uint8_t *v = malloc(T.len);
    struct tally t[128];
    size_t nt = 0, variants = 0;
    int all = getenv("HVPATCH_TAMPER_ALL_BITS") != NULL;

    (void)state;
    assert_non_null(v);
    for (size_t off = 0; off < T.len; off++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            int ret;

            if (!all && bit != off % 8)
                continue;
            memcpy(v, T.pkg, T.len);
            v[off] ^= (uint8_t)(1u << bit);
            ret = verify(v, T.len);
            if (ret == VRF_OK || vrf_errname(ret) == NULL)
                fail_msg("flipping bit %u of byte %zu: %d (%s)", bit, off,
                         ret, ret == VRF_OK ? "approved!" : "undefined code");
            count(t, &nt, ret);
            variants++;
        }
    }
    fprintf(stderr, "# %zu variants, all rejected:\n", variants);
    for (size_t i = 0; i < nt; i++)
        fprintf(stderr, "#   %-28s %zu\n", vrf_errname(t[i].code), t[i].n);
    assert_int_equal(verify(T.pkg, T.len), VRF_OK);
    free(v);
}

/* Every proper prefix is an incomplete CBOR item. */
static void every_truncation_rejected(void **state)
{
    (void)state;
    for (size_t n = 0; n < T.len; n++) {
        int ret = verify(T.pkg, n);

        if (ret != VRF_ERR_PARSE_TRUNCATED)
            fail_msg("first %zu bytes: %s", n,
                     vrf_errname(ret) ? vrf_errname(ret) : "?");
    }
}

/* Any bytes after the message: trailing garbage. */
static void trailing_bytes_rejected(void **state)
{
    uint8_t *v = malloc(T.len + 64);

    (void)state;
    assert_non_null(v);
    memcpy(v, T.pkg, T.len);
    for (size_t extra = 1; extra <= 64; extra++) {
        v[T.len + extra - 1] = (uint8_t)(extra * 37);
        assert_int_equal(verify(v, T.len + extra), VRF_ERR_PARSE_TRAILING);
    }
    free(v);
}

/* Past the size limit nothing else is looked at. */
static void oversized_rejected(void **state)
{
    uint8_t *v = calloc(1, VRF_PKG_MAX_SIZE + 1);

    (void)state;
    assert_non_null(v);
    memcpy(v, T.pkg, T.len);
    assert_int_equal(verify(v, VRF_PKG_MAX_SIZE + 1), VRF_ERR_PARSE_TOO_LARGE);
    free(v);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(original_is_approved),
        cmocka_unit_test(every_bit_flip_rejected),
        cmocka_unit_test(every_truncation_rejected),
        cmocka_unit_test(trailing_bytes_rejected),
        cmocka_unit_test(oversized_rejected),
    };

    return cmocka_run_group_tests_name("vrf_tamper", tests, setup, teardown);
}
