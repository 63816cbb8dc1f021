/* test_lab_record.c: the symbol map parser (kallsyms, System.map, iomem)
 * and the record file: a round trip keeps every field, and each broken
 * map or record is refused with the exact reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lab/lab.h"

/* A kallsyms excerpt: _text at ...81000000, 0x5000 bytes of text. */
static const char good_map[] = "  01000000-01004fff : Kernel code\n"
                               "0000000000000000 A fixed_percpu_data\n"
                               "ffffffff81000000 T _text\n"
                               "ffffffff81000000 T _stext\n"
                               "ffffffff81000000 T startup_64\n"
                               "ffffffff81000100 t secondary_startup_64\n"
                               "ffffffff81001000 T vfs_read\n"
                               "ffffffff81001080 W weak_thing\n"
                               "ffffffff81002000 D some_data\n"
                               "ffffffff81003000 t do_sys_openat2\r\n"
                               "ffffffff81005000 T _etext\n"
                               "ffffffff81006000 T after_text\n"
                               "ffffffffc0000000 t mod_fn\t[some_module]\n";

static void kmap_good(void **state)
{
    struct lab_kmap m;
    struct lab_diag d = {""};
    const struct lab_sym *s;

    (void)state;
    assert_int_equal(lab_kmap_parse(good_map, strlen(good_map), &m, &d),
                     LAB_OK);
    assert_true(m.text_virt == 0xffffffff81000000ull);
    assert_int_equal(m.text_size, 0x5000);
    assert_int_equal(m.have_phys, 1);
    assert_int_equal(m.phys_start, 0x1000000);
    /* _text, _stext, startup_64, secondary_startup_64, vfs_read,
     * weak_thing, do_sys_openat2: text types inside [_text, _etext). */
    assert_int_equal(m.syms.n, 7);
    s = lab_symtab_find(&m.syms, 0);
    assert_string_equal(s->name, "startup_64"); /* not _text or _stext */
    s = lab_symtab_find(&m.syms, 0x1005);
    assert_string_equal(s->name, "vfs_read");
    assert_int_equal(s->off, 0x1000);
    s = lab_symtab_find(&m.syms, 0x4fff);
    assert_string_equal(s->name, "do_sys_openat2");
    lab_kmap_free(&m);
}

static void kmap_system_map_without_iomem(void **state)
{
    static const char map[] = "ffffffff81000000 T _text\n"
                              "ffffffff81000000 T startup_64\n"
                              "ffffffff81400000 T _etext\n";
    struct lab_kmap m;

    (void)state;
    assert_int_equal(lab_kmap_parse(map, strlen(map), &m, NULL), LAB_OK);
    assert_int_equal(m.have_phys, 0);
    assert_int_equal(m.text_size, 0x400000);
    assert_string_equal(lab_symtab_find(&m.syms, 0x1234)->name, "startup_64");
    lab_kmap_free(&m);
}

struct bad_map {
    const char *map;
    const char *why; /* substring of the diagnostic */
};

static const struct bad_map bad_maps[] = {
    {"0000000000000000 T _text\n0000000000000000 T _etext\n",
     "every address is 0"},
    {"ffffffff81000000 T startup_64\nffffffff81005000 T _etext\n",
     "no _text symbol"},
    {"ffffffff81000000 T _text\n", "no _etext symbol"},
    {"ffffffff81000000 T _text\nffffffff81000000 T _etext\n", "_etext - _text"},
    {"  00000000-00000000 : Kernel code\nffffffff81000000 T _text\n"
     "ffffffff81005000 T _etext\n",
     "read without root"},
    {"  01000000-01000fff : Kernel code\nffffffff81000000 T _text\n"
     "ffffffff81005000 T _etext\n",
     "different boots"},
    {"  01000000-01004fff : Kernel code\n  01000000-01004fff : Kernel code\n",
     "line 2: a second \"Kernel code\" line"},
    {"ffffffff81000000 T _text\nhello world\n", "line 2: not a kallsyms"},
    {"ffffffff81000000 T _text\nffffffff81000000 T _text junk\n",
     "line 2: unexpected text"},
    {"ffffffff81000000 T _text\nffffffff81000008 T _text\n",
     "line 2: _text defined twice"},
    {"ffffffff81000000 TT _text\n", "line 1: expected"},
    {"ffffffff81000000 T \n", "line 1: bad symbol name"},
    {"1ffffffff81000000 T _text\n", "line 1: not a kallsyms"},
    {"", "empty file"},
};

static void kmap_rejects(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_maps / sizeof bad_maps[0]; i++) {
        struct lab_kmap m;
        struct lab_diag d = {""};
        int ret =
            lab_kmap_parse(bad_maps[i].map, strlen(bad_maps[i].map), &m, &d);

        if (ret != LAB_ERR_MAP || strstr(d.text, bad_maps[i].why) == NULL)
            fail_msg("bad map %zu: ret %d, diag \"%s\", want \"%s\"", i, ret,
                     d.text, bad_maps[i].why);
        assert_int_equal(m.syms.n, 0);
    }
}

static void kmap_rejects_nul_and_long_names(void **state)
{
    char buf[1024];
    struct lab_kmap m;
    struct lab_diag d = {""};

    (void)state;
    memcpy(buf, "ffffffff81000000 T _te\0t\n", 26);
    assert_int_equal(lab_kmap_parse(buf, 26, &m, &d), LAB_ERR_MAP);
    assert_non_null(strstr(d.text, "NUL byte"));
    snprintf(buf, sizeof buf, "ffffffff81000000 T ");
    memset(buf + 19, 'a', 600);
    buf[619] = '\n';
    assert_int_equal(lab_kmap_parse(buf, 620, &m, &d), LAB_ERR_MAP);
    assert_non_null(strstr(d.text, "bad symbol name"));
}

/* ------------------------------------------------------------------ record */

#define TEXT_SIZE (3 * 4096 + 100)

static uint8_t *make_text(void)
{
    uint8_t *t = malloc(TEXT_SIZE);

    for (size_t i = 0; i < TEXT_SIZE; i++)
        t[i] = (uint8_t)(i * 7 + (i >> 8));
    return t;
}

/* A record of make_text() with the symbols of good_map. */
static void make_record(struct lab_record *r)
{
    struct lab_kmap m;
    uint8_t *t = make_text();

    lab_record_init(r);
    snprintf(r->domain, sizeof r->domain, "web-1");
    snprintf(r->uuid, sizeof r->uuid, "548a7afa-4726-4609-a6f1-0011a63cb11b");
    snprintf(r->host, sizeof r->host, "host-a");
    snprintf(r->uri, sizeof r->uri, "qemu+ssh://root@host-a/system");
    snprintf(r->taken, sizeof r->taken, "2026-01-02T03:04:05Z");
    r->text_phys = 0x1000000;
    r->text_virt = 0xffffffff81000000ull;
    r->text_size = TEXT_SIZE;
    assert_int_equal(lab_record_digest(r, t), LAB_OK);
    assert_int_equal(lab_kmap_parse(good_map, strlen(good_map), &m, NULL),
                     LAB_OK);
    r->syms = m.syms;
    free(t);
}

static void record_round_trip(void **state)
{
    struct lab_record r, back;
    struct lab_diag d = {""};
    char *buf;
    size_t len;

    (void)state;
    make_record(&r);
    assert_int_equal(r.n_pages, 4);
    assert_int_equal(lab_record_encode(&r, &buf, &len), LAB_OK);
    lab_record_init(&back);
    assert_int_equal(lab_record_parse((const uint8_t *)buf, len, &back, &d),
                     LAB_OK);
    assert_string_equal(back.domain, r.domain);
    assert_string_equal(back.uuid, r.uuid);
    assert_string_equal(back.host, r.host);
    assert_string_equal(back.uri, r.uri);
    assert_string_equal(back.taken, r.taken);
    assert_true(back.text_phys == r.text_phys);
    assert_true(back.text_virt == r.text_virt);
    assert_true(back.text_size == r.text_size);
    assert_int_equal(back.n_pages, r.n_pages);
    assert_memory_equal(back.pages, r.pages, r.n_pages * LAB_DIGEST_SIZE);
    assert_memory_equal(back.granules, r.granules,
                        r.n_pages * LAB_GRANULES * sizeof *r.granules);
    assert_int_equal(back.syms.n, r.syms.n);
    for (size_t i = 0; i < r.syms.n; i++) {
        assert_true(back.syms.syms[i].off == r.syms.syms[i].off);
        assert_int_equal(back.syms.syms[i].type, r.syms.syms[i].type);
        assert_string_equal(back.syms.syms[i].name, r.syms.syms[i].name);
    }
    free(buf);
    lab_record_free(&back);
    lab_record_free(&r);
}

static void granule_hash_is_fnv1a_folded(void **state)
{
    (void)state;
    /* FNV-1a 32 of "" is 0x811c9dc5, of "a" 0xe40c292c. */
    assert_int_equal(lab_granule_hash((const uint8_t *)"", 0), 0x811c ^ 0x9dc5);
    assert_int_equal(lab_granule_hash((const uint8_t *)"a", 1),
                     0xe40c ^ 0x292c);
}

/* One way to break a good record, and the diagnostic it must give. */
struct mutation {
    const char *key;   /* top-level key to change, or NULL */
    const char *value; /* JSON text to put there; NULL deletes the key */
    const char *why;
};

static const struct mutation mutations[] = {
    {"format", "\"other\"", "\"format\": must be"},
    {"version", "2", "\"version\": not 1"},
    {"version", "\"1\"", "\"version\": not 1"},
    {"taken", NULL, "missing key \"taken\""},
    {"extra", "1", "unknown key \"extra\""},
    {"taken", "\"2026-01-02 03:04:05Z\"", "\"taken\": must be"},
    {"host", "\"a\\u0007b\"", "\"host\": holds a control character"},
    {"domain", "{\"name\": \"x\"}", "\"domain\": missing key \"uuid\""},
    {"domain",
     "{\"name\": \"\", \"uuid\": "
     "\"548a7afa-4726-4609-a6f1-0011a63cb11b\"}",
     "\"domain.name\": bad length"},
    {"domain",
     "{\"name\": \"x\", \"uuid\": "
     "\"548a7afa-4726-4609-a6f1_0011a63cb11b\"}",
     "\"domain.uuid\": must be a UUID"},
    {"text", "{\"phys\": \"0x1000000\", \"virt\": \"0x0\", \"size\": 0}",
     "\"text.size\": must be an integer"},
    {"text",
     "{\"phys\": \"0x1000000\", \"virt\": \"0x0\", \"size\": 268435457}",
     "\"text.size\": must be an integer"},
    {"text", "{\"phys\": \"1000000\", \"virt\": \"0x0\", \"size\": 12388}",
     "\"text.phys\": must be \"0x\""},
    {"text",
     "{\"phys\": \"0x12345678901234567\", \"virt\": \"0x0\", "
     "\"size\": 12388}",
     "\"text.phys\": must be \"0x\""},
    {"text",
     "{\"phys\": \"0xfffffffffffff000\", \"virt\": \"0x0\", "
     "\"size\": 12388}",
     "\"text.phys\": phys + size overflows"},
    {"text",
     "{\"phys\": \"0x1000000\", \"virt\": \"0x0\", \"size\": 12388, "
     "\"x\": 1}",
     "\"text\": unknown key \"x\""},
    {"text", "{\"phys\": \"0x1000000\", \"virt\": \"0x0\", \"size\": 8192}",
     "\"pages\": base64 length does not match"},
    {"page_size", "8192", "\"page_size\": must be an integer in 4096..4096"},
    {"digest", "\"sha1\"", "\"digest\": must be \"sha256\""},
    {"granule_hash", "\"crc32\"", "\"granule_hash\": must be"},
    {"pages", "\"AAAA\"", "\"pages\": base64 length does not match"},
    {"granules", "7", "\"granules\": must be a base64 string"},
    {"symbols", "\"0 T a\"",
     "\"symbols\": too large, a NUL byte, or no "
     "final newline"},
    {"symbols", "\"0 X a\\n\"", "\"symbols\": line 1: expected"},
    {"symbols", "\"10 T a\\n0 T b\\n\"",
     "\"symbols\": line 2: offset not "
     "inside the text, or not sorted"},
    {"symbols", "\"ffffff T a\\n\"",
     "\"symbols\": line 1: offset not "
     "inside"},
    {"symbols", "\"0 T a b\\n\"", "\"symbols\": line 1: expected"},
    {"symbols", "\"0 T \\n\"", "\"symbols\": line 1: expected"},
};

static char *encode_good(size_t *len)
{
    struct lab_record r;
    char *buf;

    make_record(&r);
    assert_int_equal(lab_record_encode(&r, &buf, len), LAB_OK);
    lab_record_free(&r);
    return buf;
}

static void expect_rejected(const char *text, const char *why)
{
    struct lab_record r;
    struct lab_diag d = {""};
    int ret;

    lab_record_init(&r);
    ret = lab_record_parse((const uint8_t *)text, strlen(text), &r, &d);
    if (ret != LAB_ERR_RECORD || strstr(d.text, why) == NULL)
        fail_msg("ret %d, diag \"%s\", want \"%s\"", ret, d.text, why);
    assert_int_equal(r.n_pages, 0);
    assert_null(r.pages);
}

static void record_rejects(void **state)
{
    size_t len;
    char *good = encode_good(&len);

    (void)state;
    for (size_t i = 0; i < sizeof mutations / sizeof mutations[0]; i++) {
        const struct mutation *m = &mutations[i];
        json_t *root = json_loads(good, 0, NULL);
        char *text;

        assert_non_null(root);
        if (m->value == NULL)
            json_object_del(root, m->key);
        else
            json_object_set_new(root, m->key,
                                json_loads(m->value, JSON_DECODE_ANY, NULL));
        text = json_dumps(root, 0);
        expect_rejected(text, m->why);
        free(text);
        json_decref(root);
    }
    free(good);
}

static void record_rejects_bad_base64(void **state)
{
    size_t len;
    char *good = encode_good(&len);
    json_t *root = json_loads(good, 0, NULL);
    char *pages = strdup(json_string_value(json_object_get(root, "pages")));
    char *text;

    (void)state;
    pages[5] = '\n'; /* same length, not canonical */
    json_object_set_new(root, "pages", json_string(pages));
    text = json_dumps(root, 0);
    expect_rejected(text, "\"pages\": not canonical base64");
    free(text);
    free(pages);
    json_decref(root);
    free(good);
}

static void record_rejects_syntax(void **state)
{
    struct lab_record r;
    struct lab_diag d = {""};
    static const char dup[] = "{\"format\": \"hvpatch-kernel-text-record\", "
                              "\"format\": \"x\"}";

    (void)state;
    expect_rejected("", "not JSON");
    expect_rejected("[1, 2]", "not a JSON object");
    expect_rejected("{\"format\": ", "not JSON: line 1");
    expect_rejected(dup, "not JSON");
    lab_record_init(&r);
    /* The size limit is checked before a byte is read. */
    assert_int_equal(lab_record_parse((const uint8_t *)dup,
                                      LAB_RECORD_MAX_SIZE + 1u, &r, &d),
                     LAB_ERR_RECORD);
    assert_non_null(strstr(d.text, "limit"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kmap_good),
        cmocka_unit_test(kmap_system_map_without_iomem),
        cmocka_unit_test(kmap_rejects),
        cmocka_unit_test(kmap_rejects_nul_and_long_names),
        cmocka_unit_test(granule_hash_is_fnv1a_folded),
        cmocka_unit_test(record_round_trip),
        cmocka_unit_test(record_rejects),
        cmocka_unit_test(record_rejects_bad_base64),
        cmocka_unit_test(record_rejects_syntax),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
