/* test_elf.c: the guest image parser accepts a well-formed image and
 * rejects each malformation with its own error code. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/hv_elf.h"

#define TEXT 0x40000000ull
#define DATA 0x00100000ull

static const struct hv_elf_region regions[] = {
    {TEXT, 0x100000, 0, "text"},
    {DATA, 0x100000, 1, "data"},
};

/* A minimal valid image: header, 3 program headers, text and data bytes. */
struct img {
    Elf64_Ehdr eh;
    Elf64_Phdr ph[3];
    uint8_t text[64];
    uint8_t data[32];
};

static void make(struct img *m)
{
    memset(m, 0, sizeof *m);
    memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
    m->eh.e_ident[EI_CLASS] = ELFCLASS64;
    m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
    m->eh.e_ident[EI_VERSION] = EV_CURRENT;
    m->eh.e_type = ET_EXEC;
    m->eh.e_machine = EM_X86_64;
    m->eh.e_version = EV_CURRENT;
    m->eh.e_entry = TEXT + 8;
    m->eh.e_phoff = offsetof(struct img, ph);
    m->eh.e_phentsize = sizeof(Elf64_Phdr);
    m->eh.e_phnum = 3;
    m->ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
                            .p_flags = PF_R | PF_X,
                            .p_offset = offsetof(struct img, text),
                            .p_paddr = TEXT,
                            .p_filesz = 64,
                            .p_memsz = 64};
    m->ph[1] = (Elf64_Phdr){.p_type = PT_LOAD,
                            .p_flags = PF_R | PF_W,
                            .p_offset = offsetof(struct img, data),
                            .p_paddr = DATA,
                            .p_filesz = 32,
                            .p_memsz = 4096};
    m->ph[2] = (Elf64_Phdr){.p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W};
    memset(m->text, 0x90, sizeof m->text);
    memset(m->data, 0xaa, sizeof m->data);
}

static int parse(const struct img *m, size_t len)
{
    struct hv_elf_image out;
    return hv_elf_parse((const uint8_t *)m, len, regions, 2, 0, &out);
}

static void test_valid_and_load(void **state)
{
    (void)state;
    struct img m;
    struct hv_elf_image out;
    static uint8_t text[0x100000], data[0x100000];
    uint8_t *const dst[] = {text, data};
    make(&m);
    assert_int_equal(hv_elf_parse((const uint8_t *)&m, sizeof m, regions, 2,
                                  0, &out),
                     HV_ELF_OK);
    assert_int_equal(out.nsegs, 2);
    assert_int_equal(out.entry, TEXT + 8);
    memset(data, 0xff, sizeof data);
    hv_elf_load(&out, (const uint8_t *)&m, regions, dst);
    assert_int_equal(text[0], 0x90);
    assert_int_equal(data[31], 0xaa);
    assert_int_equal(data[32], 0); /* bss zero-filled */
    assert_int_equal(data[4095], 0);
    assert_int_equal(data[4096], 0xff); /* and nothing beyond memsz */
}

/* One mutation per line, each with the error it must produce. */
struct vector {
    const char *name;
    void (*mutate)(struct img *m, size_t *len);
    int want;
};

static void m_empty(struct img *m, size_t *len) { (void)m; *len = 0; }
static void m_short(struct img *m, size_t *len) { (void)m; *len = 20; }
static void m_magic(struct img *m, size_t *len) { (void)len; m->eh.e_ident[1] = 'X'; }
static void m_class(struct img *m, size_t *len) { (void)len; m->eh.e_ident[EI_CLASS] = ELFCLASS32; }
static void m_endian(struct img *m, size_t *len) { (void)len; m->eh.e_ident[EI_DATA] = ELFDATA2MSB; }
static void m_type(struct img *m, size_t *len) { (void)len; m->eh.e_type = ET_DYN; }
static void m_machine(struct img *m, size_t *len) { (void)len; m->eh.e_machine = EM_AARCH64; }
static void m_phnum0(struct img *m, size_t *len) { (void)len; m->eh.e_phnum = 0; }
static void m_phnum_big(struct img *m, size_t *len) { (void)len; m->eh.e_phnum = 17; }
static void m_phentsize(struct img *m, size_t *len) { (void)len; m->eh.e_phentsize = 32; }
static void m_phoff(struct img *m, size_t *len) { (void)len; m->eh.e_phoff = ~0ull - 8; }
static void m_trunc_ph(struct img *m, size_t *len) { (void)m; *len = offsetof(struct img, ph) + 60; }
static void m_seg_off(struct img *m, size_t *len) { (void)len; m->ph[0].p_offset = sizeof *m - 8; }
static void m_seg_wrap(struct img *m, size_t *len) { (void)len; m->ph[0].p_offset = ~0ull; }
static void m_filesz(struct img *m, size_t *len) { (void)len; m->ph[1].p_memsz = 16; }
static void m_memsz0(struct img *m, size_t *len) { (void)len; m->ph[0].p_memsz = 0; m->ph[0].p_filesz = 0; }
static void m_region(struct img *m, size_t *len) { (void)len; m->ph[0].p_paddr = 0x20000000; }
static void m_straddle(struct img *m, size_t *len) { (void)len; m->ph[0].p_paddr = TEXT + 0x100000 - 8; }
static void m_paddr_wrap(struct img *m, size_t *len) { (void)len; m->ph[1].p_paddr = ~0ull - 16; }
static void m_writable(struct img *m, size_t *len) { (void)len; m->ph[0].p_flags |= PF_W; }
static void m_overlap(struct img *m, size_t *len) { (void)len; m->ph[1].p_paddr = TEXT + 32; m->ph[1].p_flags = PF_R; m->ph[1].p_memsz = 32; }
static void m_noload(struct img *m, size_t *len) { (void)len; m->ph[0].p_type = PT_NOTE; m->ph[1].p_type = PT_NOTE; }
static void m_interp(struct img *m, size_t *len) { (void)len; m->ph[2].p_type = PT_INTERP; }
static void m_dynamic(struct img *m, size_t *len) { (void)len; m->ph[2].p_type = PT_DYNAMIC; }
static void m_entry_data(struct img *m, size_t *len) { (void)len; m->eh.e_entry = DATA; }
static void m_entry_out(struct img *m, size_t *len) { (void)len; m->eh.e_entry = TEXT + 64; }
static void m_entry_nx(struct img *m, size_t *len) { (void)len; m->ph[0].p_flags = PF_R; }

static const struct vector vectors[] = {
    {"empty file", m_empty, HV_ELF_ERR_SIZE},
    {"shorter than a header", m_short, HV_ELF_ERR_SHORT},
    {"bad magic", m_magic, HV_ELF_ERR_MAGIC},
    {"32-bit class", m_class, HV_ELF_ERR_CLASS},
    {"big-endian", m_endian, HV_ELF_ERR_CLASS},
    {"ET_DYN", m_type, HV_ELF_ERR_TYPE},
    {"aarch64", m_machine, HV_ELF_ERR_TYPE},
    {"no program headers", m_phnum0, HV_ELF_ERR_PHDRS},
    {"17 program headers", m_phnum_big, HV_ELF_ERR_PHDRS},
    {"wrong phentsize", m_phentsize, HV_ELF_ERR_PHDRS},
    {"phoff overflows", m_phoff, HV_ELF_ERR_PHDRS},
    {"program headers truncated", m_trunc_ph, HV_ELF_ERR_PHDRS},
    {"segment past end of file", m_seg_off, HV_ELF_ERR_SEG_FILE},
    {"segment offset wraps", m_seg_wrap, HV_ELF_ERR_SEG_FILE},
    {"filesz > memsz", m_filesz, HV_ELF_ERR_SEG_SIZE},
    {"empty segment", m_memsz0, HV_ELF_ERR_SEG_SIZE},
    {"segment outside regions", m_region, HV_ELF_ERR_SEG_REGION},
    {"segment straddles region end", m_straddle, HV_ELF_ERR_SEG_REGION},
    {"segment address wraps", m_paddr_wrap, HV_ELF_ERR_SEG_REGION},
    {"writable code segment", m_writable, HV_ELF_ERR_SEG_WRITE},
    {"overlapping segments", m_overlap, HV_ELF_ERR_SEG_OVERLAP},
    {"no PT_LOAD", m_noload, HV_ELF_ERR_SEG_COUNT},
    {"PT_INTERP", m_interp, HV_ELF_ERR_DYNAMIC},
    {"PT_DYNAMIC", m_dynamic, HV_ELF_ERR_DYNAMIC},
    {"entry in data", m_entry_data, HV_ELF_ERR_ENTRY},
    {"entry past text", m_entry_out, HV_ELF_ERR_ENTRY},
    {"entry not executable", m_entry_nx, HV_ELF_ERR_ENTRY},
};

static void test_vector(void **state)
{
    const struct vector *v = *state;
    struct img m;
    size_t len = sizeof m;
    make(&m);
    v->mutate(&m, &len);
    int got = parse(&m, len);
    if (got != v->want)
        fail_msg("%s: got %d (%s), want %d (%s)", v->name, got,
                 hv_elf_strerror(got), v->want, hv_elf_strerror(v->want));
}

static void test_oversized(void **state)
{
    (void)state;
    struct hv_elf_image out;
    static uint8_t big[HV_ELF_MAX_SIZE + 1];
    assert_int_equal(hv_elf_parse(big, sizeof big, regions, 2, 0, &out),
                     HV_ELF_ERR_SIZE);
}

static void test_messages(void **state)
{
    (void)state;
    for (int e = 0; e >= HV_ELF_ERR_SHORT; e--)
        assert_string_not_equal(hv_elf_strerror(e), "unknown image error");
    assert_string_equal(hv_elf_strerror(-99), "unknown image error");
}

int main(void)
{
    struct CMUnitTest t[3 + sizeof vectors / sizeof vectors[0]];
    size_t n = 0;
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_valid_and_load);
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_oversized);
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_messages);
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
        t[n++] = (struct CMUnitTest){vectors[i].name, test_vector, NULL, NULL,
                                     (void *)&vectors[i]};
    return _cmocka_run_group_tests("elf", t, n, NULL, NULL);
}
