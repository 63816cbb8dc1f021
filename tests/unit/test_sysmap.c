/* test_sysmap.c: unit tests of a Linux kernel's symbol table parser
 * (keys_sysmap.c: every rejection, one vector per line, with the line it
 * must name), its lookups, and the ftrace-site logic of keys_linux.c over
 * a small kernel made here: which entries are sites, and the text as the
 * running kernel holds it (sites that call __fentry__ read as NOPs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keys/keys.h"
#include "lib/hv_abi.h"

#define TEXT "ffffffff81000000 T _text\n"
#define ETEXT "ffffffff81e01ef2 T _etext\n"
#define LONG_NAME_512                                                          \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"         \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"         \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"         \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"         \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"         \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"         \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"         \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

/* ------------------------------------------------------------------ parse */

/* Each rejection: input, and what the message must say (its line). */
static const struct {
    const char *text;
    const char *says;
} rejects[] = {
    {"", "empty file"},
    {TEXT "\n" ETEXT, "line 2: empty line"},
    {TEXT ETEXT "\n", "line 3: empty line"},
    {TEXT "ffffffff81000000 T a\r\n" ETEXT, "line 2: ends in a carriage"},
    {"81000000 T _text\n" ETEXT, "line 1: expected \"ADDR TYPE NAME\" with"},
    {"FFFFFFFF81000000 T _text\n" ETEXT, "line 1: expected \"ADDR TYPE"},
    {"ffffffff8100000g T _text\n" ETEXT, "line 1: expected \"ADDR TYPE"},
    {TEXT "ffffffff81000000  T a\n" ETEXT, "line 2: expected \"ADDR TYPE "
                                           "NAME\" separated by single"},
    {TEXT "ffffffff81000000\tT a\n" ETEXT, "line 2: expected \"ADDR TYPE "
                                           "NAME\" separated by single"},
    {TEXT "ffffffff81000000 TT a\n" ETEXT, "line 2: expected \"ADDR TYPE "
                                           "NAME\" separated by single"},
    {TEXT "ffffffff81000000 X a\n" ETEXT, "line 2: unknown symbol type"},
    {TEXT "ffffffff81000000 T \n" ETEXT, "line 2: no symbol name"},
    {TEXT "ffffffff81000000 T\n" ETEXT, "line 2: expected \"ADDR TYPE"},
    {TEXT "ffffffff81000000 T " LONG_NAME_512 "\n" ETEXT,
     "line 2: symbol name longer than 511 bytes"},
    {TEXT "ffffffff81000000 T " LONG_NAME_512 LONG_NAME_512 "\n" ETEXT,
     "line 2: longer than 600 bytes"},
    {TEXT "ffffffff81000000 T a \n" ETEXT, "line 2: unexpected text after"},
    {TEXT "ffffffff81000000 T a b\n" ETEXT, "line 2: unexpected text after"},
    {TEXT "ffffffff81000000 T caf\xc3\xa9\n" ETEXT, "line 2: unexpected text"},
    {TEXT "ffffffff81000000 T a\t[]\n" ETEXT, "line 2: unexpected text"},
    {TEXT "ffffffff81000000 T a\t[kvm\n" ETEXT, "line 2: unexpected text"},
    {TEXT "ffffffff81000000 T a [kvm]\n" ETEXT, "line 2: unexpected text"},
    {TEXT "ffffffff81000000 T a\t[kvm intel]\n" ETEXT,
     "line 2: malformed module name"},
    {TEXT "ffffffff81000000 T a\t[" LONG_NAME_512 LONG_NAME_512 "]\n",
     "line 2: longer than 600 bytes"},
    {TEXT "ffffffffa0000000 T a\t[xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxx]\n" ETEXT,
     "line 2: module name too long"},
    {"0000000000000000 T _text\n0000000000000000 T _etext\n",
     "every address is 0"},
    {ETEXT, "no _text symbol"},
    {TEXT, "no _etext symbol"},
    {TEXT ETEXT "ffffffff81000010 T _text\n", "line 3: _text defined twice"},
    {TEXT ETEXT "ffffffff81000010 t _etext\n", "line 3: _etext defined twice"},
    {"ffffffff81000000 T _etext\nffffffff81000000 T _text\n",
     "_etext (0xffffffff81000000) is not above _text"},
    /* Module symbols are dropped, so they cannot define _text. */
    {"ffffffff81000000 T _text\t[m]\n" ETEXT, "no _text symbol"},
};

static void parse_rejects(void **state)
{
    struct keys_sysmap m;
    struct keys_diag d;

    (void)state;
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        int ret;

        d.text[0] = '\0';
        ret =
            keys_sysmap_parse(rejects[i].text, strlen(rejects[i].text), &m, &d);
        if (ret != KEYS_ERR_SYSMAP || strstr(d.text, rejects[i].says) == NULL)
            fail_msg("case %zu: %s (%s), expected KEYS_ERR_SYSMAP saying "
                     "\"%s\"",
                     i, keys_errname(ret), d.text, rejects[i].says);
        assert_null(m.syms);
        assert_int_equal(m.n, 0);
    }
}

/* A NUL byte, too many bytes, too many lines. */
static void parse_limits(void **state)
{
    static const char nul[] = TEXT "ffffffff81000000 T a\0b\n" ETEXT;
    struct keys_sysmap m;
    struct keys_diag d = {""};
    size_t big = KEYS_SYSMAP_MAX_SIZE + 1u;
    char *buf;

    (void)state;
    assert_int_equal(keys_sysmap_parse(nul, sizeof nul - 1, &m, &d),
                     KEYS_ERR_SYSMAP);
    assert_non_null(strstr(d.text, "NUL byte"));
    buf = malloc(big);
    assert_non_null(buf);
    memset(buf, 'a', big);
    assert_int_equal(keys_sysmap_parse(buf, big, &m, &d), KEYS_ERR_SYSMAP);
    assert_non_null(strstr(d.text, "limit"));
    memset(buf, '\n', KEYS_SYSMAP_MAX_SYMS + 1u);
    assert_int_equal(keys_sysmap_parse(buf, KEYS_SYSMAP_MAX_SYMS + 1u, &m, &d),
                     KEYS_ERR_SYSMAP);
    assert_non_null(strstr(d.text, "more than"));
    free(buf);
    assert_int_equal(keys_sysmap_parse(NULL, 0, &m, &d), KEYS_ERR_ARG);
    assert_int_equal(keys_sysmap_parse(TEXT, 1, NULL, &d), KEYS_ERR_ARG);
}

static const char good_map[] =
    "0000000000000000 A fixed_percpu_data\n" TEXT
    "ffffffff81063c70 t __x2apic_enable\n"
    "ffffffff8106b730 T __fentry__\n"
    "ffffffff81100000 t show\n"
    "ffffffff81200000 t show\n"
    "ffffffff81300000 t dup\n"
    "ffffffff81300100 T dup\n"
    "ffffffff81400000 T alias\n"
    "ffffffff81400000 T alias\n"
    "ffffffff82a00000 d some_data\n"
    "ffffffffc0000000 t kvm_thing\t[kvm]\n"
    "ffffffffc0001000 T kvm_init\t[kvm_intel-x]\n"
    "ffffffff81e01ef2 T _etext"; /* no final newline */

static void parse_and_find(void **state)
{
    struct keys_sysmap m;
    struct keys_diag d = {""};
    const struct keys_ksym *s;

    (void)state;
    if (keys_sysmap_parse(good_map, strlen(good_map), &m, &d) != KEYS_OK)
        fail_msg("parse: %s", d.text);
    assert_int_equal(m.n, 12); /* two module lines dropped */
    assert_true(m.text == 0xffffffff81000000ull);
    assert_true(m.etext == 0xffffffff81e01ef2ull);
    for (size_t i = 1; i < m.n; i++)
        assert_true(m.syms[i - 1].addr <= m.syms[i].addr);
    for (size_t i = 1; i < m.n; i++)
        assert_true(strcmp(m.syms[m.by_name[i - 1]].name,
                           m.syms[m.by_name[i]].name) <= 0);

    assert_int_equal(keys_sysmap_find(&m, "__x2apic_enable", &s, &d), KEYS_OK);
    assert_true(s->addr == 0xffffffff81063c70ull);
    assert_int_equal(s->type, 't');
    assert_true(keys_sysmap_is_text(s->type));
    /* A global wins over a local of the same name. */
    assert_int_equal(keys_sysmap_find(&m, "dup", &s, &d), KEYS_OK);
    assert_true(s->addr == 0xffffffff81300100ull);
    /* Aliases at one address are one symbol. */
    assert_int_equal(keys_sysmap_find(&m, "alias", &s, &d), KEYS_OK);
    /* Two locals: ambiguous, and the message says where. */
    assert_int_equal(keys_sysmap_find(&m, "show", &s, &d), KEYS_ERR_SYMBOL);
    assert_non_null(strstr(d.text, "ambiguous: 2 local"));
    assert_non_null(strstr(d.text, "ffffffff81100000 ffffffff81200000"));
    assert_null(s);
    assert_int_equal(keys_sysmap_find(&m, "nope", &s, &d), KEYS_ERR_SYMBOL);
    assert_non_null(strstr(d.text, "nope: not in the kernel's symbol table"));
    /* Module symbols are not the kernel's. */
    assert_int_equal(keys_sysmap_find(&m, "kvm_init", &s, &d), KEYS_ERR_SYMBOL);
    assert_int_equal(keys_sysmap_find(&m, "some_data", &s, &d), KEYS_OK);
    assert_false(keys_sysmap_is_text(s->type));

    assert_int_equal(keys_sysmap_lower_bound(&m, 0), 0);
    assert_true(
        m.syms[keys_sysmap_lower_bound(&m, 0xffffffff81063c71ull)].addr ==
        0xffffffff8106b730ull);
    assert_int_equal(keys_sysmap_lower_bound(&m, UINT64_MAX), m.n);
    keys_sysmap_free(&m);
    keys_sysmap_free(&m); /* idempotent */
    keys_sysmap_free(NULL);
}

/* ------------------------------------------------------------------ ftrace */

#define FENTRY 0xffffffff81000800ull

/* e8 rel32 at va calling to. */
static void put_call(uint8_t *p, uint64_t va, uint64_t to)
{
    int32_t rel = (int32_t)(to - (va + 5));

    p[0] = 0xe8;
    memcpy(p + 1, &rel, 4);
}

static void ftrace_sites(void **state)
{
    uint8_t e[9];
    size_t off = 99;
    const uint64_t va = 0xffffffff81063c70ull;

    (void)state;
    put_call(e, va, FENTRY);
    assert_int_equal(keys_ftrace_site(e, va, FENTRY, &off), 1);
    assert_int_equal(off, 0);
    memcpy(e, "\xf3\x0f\x1e\xfa", 4);
    put_call(e + 4, va + 4, FENTRY);
    assert_int_equal(keys_ftrace_site(e, va, FENTRY, &off), 1);
    assert_int_equal(off, 4);
    memcpy(e, KEYS_FTRACE_NOP, 5);
    assert_int_equal(keys_ftrace_site(e, va, FENTRY, &off), 1);
    assert_int_equal(off, 0);
    /* A call elsewhere, the old 1-byte NOPs, an ordinary prologue, an
     * endbr64 followed by one: no site. */
    put_call(e, va, FENTRY + 1);
    assert_int_equal(keys_ftrace_site(e, va, FENTRY, &off), 0);
    memcpy(e, "\x90\x90\x90\x90\x90", 5);
    assert_int_equal(keys_ftrace_site(e, va, FENTRY, &off), 0);
    memcpy(e, "\x55\x48\x89\xe5\x53", 5);
    assert_int_equal(keys_ftrace_site(e, va, FENTRY, &off), 0);
    memcpy(e, "\xf3\x0f\x1e\xfa\x55\x48\x89\xe5\x53", 9);
    assert_int_equal(keys_ftrace_site(e, va, FENTRY, &off), 0);
    assert_int_equal(off, 4);
}

/* A 4 KiB kernel text at GPA 16 MiB, VA 0xffffffff81000000: f_call (call
 * __fentry__ at +0x100), f_endbr (endbr64, then the call, at +0x200),
 * f_nop (the NOP already, +0x300), f_other (calls something else,
 * +0x400), f_plain (a prologue, +0x500), some_data (a data symbol over a
 * call, +0x600) and __fentry__ (+0x800). */
static const char small_map[] = "ffffffff81000000 T _text\n"
                                "ffffffff81000100 t f_call\n"
                                "ffffffff81000200 T f_endbr\n"
                                "ffffffff81000300 t f_nop\n"
                                "ffffffff81000400 t f_other\n"
                                "ffffffff81000500 t f_plain\n"
                                "ffffffff81000600 d some_data\n"
                                "ffffffff81000800 T __fentry__\n"
                                "ffffffff81000f00 T _etext\n"
                                "ffffffff81002000 T beyond\n";

static void small_kernel(struct keys_kernel *k)
{
    struct keys_diag d = {""};
    uint8_t *t;

    memset(k, 0, sizeof *k);
    k->file_len = 0x1000;
    k->file = t = calloc(1, k->file_len);
    assert_non_null(t);
    k->text_gpa = 0x1000000;
    k->text_va = k->seg_va = 0xffffffff81000000ull;
    k->lock_size = k->seg_filesz = 0x1000;
    k->seg_off = 0;
    memset(t, 0xcc, k->file_len);
    put_call(t + 0x100, k->text_va + 0x100, FENTRY);
    memcpy(t + 0x200, "\xf3\x0f\x1e\xfa", 4);
    put_call(t + 0x204, k->text_va + 0x204, FENTRY);
    memcpy(t + 0x300, KEYS_FTRACE_NOP, 5);
    put_call(t + 0x400, k->text_va + 0x400, FENTRY + 0x10);
    memcpy(t + 0x500, "\x55\x48\x89\xe5\x53", 5);
    put_call(t + 0x600, k->text_va + 0x600, FENTRY);
    if (keys_sysmap_parse(small_map, strlen(small_map), &k->map, &d) != KEYS_OK)
        fail_msg("parse: %s", d.text);
    k->fentry = FENTRY;
}

static void kernel_sites(void **state)
{
    struct keys_kernel k;
    struct keys_diag d = {""};
    uint64_t site = 0;

    (void)state;
    small_kernel(&k);
    assert_int_equal(keys_kernel_ftrace_site(&k, "f_call", &site, &d), KEYS_OK);
    assert_true(site == 0xffffffff81000100ull);
    assert_int_equal(keys_kernel_ftrace_site(&k, "f_endbr", &site, &d),
                     KEYS_OK);
    assert_true(site == 0xffffffff81000204ull);
    assert_int_equal(keys_kernel_ftrace_site(&k, "f_nop", &site, &d), KEYS_OK);
    assert_int_equal(keys_kernel_ftrace_site(&k, "f_other", &site, &d),
                     KEYS_ERR_BUILD);
    assert_non_null(strstr(d.text, "function f_other has no ftrace entry "
                                   "site (notrace or inlined?)"));
    assert_int_equal(keys_kernel_ftrace_site(&k, "f_plain", &site, &d),
                     KEYS_ERR_BUILD);
    assert_non_null(strstr(d.text, "starts 55 48 89 e5 53"));
    assert_int_equal(keys_kernel_ftrace_site(&k, "some_data", &site, &d),
                     KEYS_ERR_BUILD);
    assert_non_null(strstr(d.text, "a data symbol (type 'd'"));
    assert_int_equal(keys_kernel_ftrace_site(&k, "beyond", &site, &d),
                     KEYS_ERR_BUILD);
    assert_non_null(strstr(d.text, "outside the locked kernel text"));
    assert_int_equal(keys_kernel_ftrace_site(&k, "absent", &site, &d),
                     KEYS_ERR_SYMBOL);
    keys_kernel_free(&k);
}

static void kernel_read_running(void **state)
{
    struct keys_kernel k;
    uint8_t b[16];

    (void)state;
    small_kernel(&k);
    /* The call at f_call's entry reads as the NOP, in part too. */
    assert_int_equal(keys_kernel_read_running(&k, 0x1000100, b, 5), 0);
    assert_memory_equal(b, KEYS_FTRACE_NOP, 5);
    assert_int_equal(keys_kernel_read_running(&k, 0x10000fe, b, 4), 0);
    assert_memory_equal(b, "\xcc\xcc\x0f\x1f", 4);
    assert_int_equal(keys_kernel_read_running(&k, 0x1000103, b, 4), 0);
    assert_memory_equal(b, "\x00\x00\xcc\xcc", 4);
    /* After endbr64; the endbr64 itself is unchanged. */
    assert_int_equal(keys_kernel_read_running(&k, 0x1000200, b, 9), 0);
    assert_memory_equal(b, "\xf3\x0f\x1e\xfa" KEYS_FTRACE_NOP, 9);
    /* Not sites: a call elsewhere, and a call under a data symbol. */
    assert_int_equal(keys_kernel_read_running(&k, 0x1000400, b, 5), 0);
    assert_int_equal(b[0], 0xe8);
    assert_int_equal(keys_kernel_read_running(&k, 0x1000600, b, 5), 0);
    assert_int_equal(b[0], 0xe8);
    /* The patch area is zero; outside the two ranges, nothing reads. */
    memset(b, 0xff, sizeof b);
    assert_int_equal(keys_kernel_read_running(
                         &k, HV_PROT_BASE + HV_LINUX_PATCH_SIZE - 16, b, 16),
                     0);
    assert_memory_equal(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    assert_int_not_equal(keys_kernel_read_running(
                             &k, HV_PROT_BASE + HV_LINUX_PATCH_SIZE - 8, b, 16),
                         0);
    assert_int_not_equal(keys_kernel_read_running(&k, 0x1000ff8, b, 16), 0);
    assert_int_not_equal(keys_kernel_read_running(&k, 0xfffff8, b, 16), 0);
    assert_int_equal(keys_kernel_read_running(&k, 0x1000ff0, b, 16), 0);
    keys_kernel_free(&k);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_rejects),  cmocka_unit_test(parse_limits),
        cmocka_unit_test(parse_and_find), cmocka_unit_test(ftrace_sites),
        cmocka_unit_test(kernel_sites),   cmocka_unit_test(kernel_read_running),
    };

    return cmocka_run_group_tests_name("sysmap", tests, NULL, NULL);
}
