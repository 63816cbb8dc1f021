/* test_lib.c: the shared pieces in lib/: the hex codec (round trip, each
 * kind of bad input), the error-table lookup, and the kernel symbol
 * table's file checks and _text/_etext bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/lib_err.h"
#include "lib/lib_hex.h"
#include "lib/lib_ksym.h"

static void hex_round_trip(void **state)
{
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    uint8_t out[sizeof in];
    char text[2 * sizeof in + 1];
    char *s;

    (void)state;
    lib_hex_encode(in, sizeof in, text);
    assert_string_equal(text, "00017f80abff");
    assert_int_equal(lib_hex_decode(text, strlen(text), out, sizeof out),
                     sizeof in);
    assert_memory_equal(in, out, sizeof in);
    assert_int_equal(lib_hex_decode("ABff", 4, out, 2), 2);
    assert_int_equal(out[0], 0xab);
    assert_int_equal(out[1], 0xff);
    s = lib_hex_alloc(in, 2);
    assert_non_null(s);
    assert_string_equal(s, "0001");
    free(s);
    lib_hex_encode(in, 0, text);
    assert_string_equal(text, "");
    assert_int_equal(lib_hex_decode("", 0, out, 0), 0);
}

static void hex_rejects(void **state)
{
    uint8_t out[4];

    (void)state;
    assert_int_equal(lib_hex_decode("abc", 3, out, 4), -1);         /* odd */
    assert_int_equal(lib_hex_decode("0g", 2, out, 4), -1);          /* digit */
    assert_int_equal(lib_hex_decode(" 0", 2, out, 4), -1);          /* space */
    assert_int_equal(lib_hex_decode("0011223344", 10, out, 4), -1); /* cap */
    assert_int_equal(lib_hex_digit('f'), 15);
    assert_int_equal(lib_hex_digit('F'), 15);
    assert_int_equal(lib_hex_digit('g'), -1);
    assert_int_equal(lib_hex_digit('\0'), -1);
}

static void hex_u64(void **state)
{
    uint64_t v = 7;

    (void)state;
    assert_int_equal(lib_hex_u64("ffffffff81000000", 16, &v), 0);
    assert_true(v == 0xffffffff81000000ull);
    assert_int_equal(lib_hex_u64("1A", 2, &v), 0);
    assert_true(v == 0x1a);
    v = 7;
    assert_int_equal(lib_hex_u64("", 0, &v), -1);
    assert_int_equal(lib_hex_u64("1ffffffff81000000", 17, &v), -1);
    assert_int_equal(lib_hex_u64("12x4", 4, &v), -1);
    assert_true(v == 7); /* untouched on failure */
}

#define T_OK 0
#define T_ERR_A -1
#define T_ERR_B -2

static const struct lib_err_row named[] = {
    LIB_ERR_ROW(T_OK, "fine"),
    LIB_ERR_ROW(T_ERR_A, "first failure"),
    LIB_ERR_ROW(T_ERR_B, "second failure"),
};
static const struct lib_err_row unnamed[] = {
    {T_OK, "fine", NULL},
    {T_ERR_A, "first failure", NULL},
};

static void err_lookup(void **state)
{
    const struct lib_err_row *r;

    (void)state;
    assert_string_equal(lib_err_msg(named, LIB_ERR_COUNT(named), T_ERR_B),
                        "second failure");
    assert_string_equal(lib_err_msg(named, LIB_ERR_COUNT(named), -99),
                        "unknown error");
    r = lib_err_find(named, LIB_ERR_COUNT(named), T_ERR_A);
    assert_non_null(r);
    assert_string_equal(r->name, "T_ERR_A");
    assert_null(lib_err_find(named, LIB_ERR_COUNT(named), 5));
    r = lib_err_byname(named, LIB_ERR_COUNT(named), "T_ERR_B");
    assert_non_null(r);
    assert_int_equal(r->code, T_ERR_B);
    assert_null(lib_err_byname(named, LIB_ERR_COUNT(named), "T_ERR_C"));
    assert_null(lib_err_byname(unnamed, LIB_ERR_COUNT(unnamed), "T_OK"));
    assert_string_equal(lib_err_msg(unnamed, LIB_ERR_COUNT(unnamed), T_ERR_A),
                        "first failure");
}

static void ksym_file(void **state)
{
    struct lib_ksym_why why;
    size_t n = 0;
    char nul[] = "a\0b\n";

    (void)state;
    assert_int_equal(lib_ksym_check_file("a\nb", 3, &n, &why), 0);
    assert_int_equal(n, 2);
    assert_int_equal(lib_ksym_check_file("a\n", 2, &n, &why), 0);
    assert_int_equal(n, 1);
    assert_int_equal(lib_ksym_check_file("", 0, &n, &why), -1);
    assert_string_equal(why.text, "empty file");
    assert_int_equal(lib_ksym_check_file(nul, 4, &n, &why), -1);
    assert_string_equal(why.text, "holds a NUL byte: not a text file");
    assert_int_equal(
        lib_ksym_check_file("x", (size_t)LIB_KSYM_MAX_SIZE + 1, &n, &why), -1);
    assert_non_null(strstr(why.text, "bytes, limit 67108864"));
}

static void ksym_text(void **state)
{
    struct lib_ksym_text t = {0};
    struct lib_ksym_why why;

    (void)state;
    assert_null(lib_ksym_note(&t, 0, "_text", 5, 0));
    assert_int_equal(lib_ksym_text_check(&t, &why), -1);
    assert_non_null(strstr(why.text, "every address is 0"));
    assert_null(lib_ksym_note(&t, 0x1000, "_text", 5, 1)); /* a module's */
    assert_int_equal(t.any_addr, 1);
    assert_true(t.text == 0);
    assert_int_equal(lib_ksym_text_check(&t, &why), -1);
    assert_string_equal(why.text,
                        "no _etext symbol: not a kernel symbol table");
    assert_string_equal(lib_ksym_note(&t, 0x10, "_text", 5, 0),
                        "_text defined twice");
    assert_null(lib_ksym_note(&t, 0x2000, "_etext_x", 6, 0)); /* "_etext" */
    assert_true(t.etext == 0x2000);
    assert_null(lib_ksym_note(&t, 0x2000, "_etext", 6, 0)); /* same: fine */
    assert_string_equal(lib_ksym_note(&t, 0x3000, "_etext", 6, 0),
                        "_etext defined twice");
    assert_int_equal(lib_ksym_text_check(&t, &why), 0);
    assert_int_equal(lib_ksym_is_text('t'), 1);
    assert_int_equal(lib_ksym_is_text('W'), 1);
    assert_int_equal(lib_ksym_is_text('D'), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hex_round_trip), cmocka_unit_test(hex_rejects),
        cmocka_unit_test(hex_u64),        cmocka_unit_test(err_lookup),
        cmocka_unit_test(ksym_file),      cmocka_unit_test(ksym_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
