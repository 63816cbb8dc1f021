/* test_lock.c: a Linux guest's text lock in the verifier (vrf_lock.c)
 * against guest RAM in a memfd: the kernel's page tables as Linux builds
 * them for its image (PML4[511] -> PDPT[510] -> the image's page
 * directory), and every way they or the request can be wrong. Guest RAM
 * is untrusted input: each rejection leaves RAM and the code untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/fw_linux.h"
#include "lib/hv_abi.h"
#include "verifier/vrf_patch.h"
#include "verifier/vrf_proc_int.h"

#define RAM_SIZE (32u << 20)
#define TEXT_GPA 0x1000000ull
#define TEXT_SIZE 0x3000ull
#define TEXT_VA 0xffffffff81000000ull
#define DATA_GPA 0x1200000ull
#define DATA_VA 0xffffffff81200000ull
#define PML4 0x104000ull /* kernel half of a PTI pair at 0x104000/0x105000 */
#define PDPT 0x106000ull
#define PD 0x107000ull
#define P 0x1ull
#define PS 0x80ull
#define CR4_PAE (1ull << 5)
#define PATCH_PDE (HV_PROT_BASE | P | 0x20 | PS | 0x100)

struct env {
    struct vrf_patch pp;
    struct vrf_proc_tpm pt;
    int ram;
    uint8_t *m; /* RAM, mapped */
};

static void put(struct env *e, uint64_t gpa, uint64_t v)
{
    memcpy(e->m + gpa, &v, sizeof v);
}

static uint64_t get(const struct env *e, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, e->m + gpa, sizeof v);
    return v;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    struct fw_linux_kernel k = {
        .kind = FW_LINUX_ENTRY_PVH,
        .text_gpa = TEXT_GPA,
        .text_size = 0x200000,
        .text_va = TEXT_VA,
        .lock_size = TEXT_SIZE,
        .data_gpa = DATA_GPA,
        .data_va = DATA_VA,
    };
    e->ram = memfd_create("ram", 0);
    assert_int_equal(ftruncate(e->ram, RAM_SIZE), 0);
    e->m = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, e->ram, 0);
    assert_true(e->m != MAP_FAILED);
    put(e, PML4 + 511 * 8, PDPT | P);
    put(e, PDPT + 510 * 8, PD | P);
    put(e, PD + 8 * 8, TEXT_GPA | P | PS);  /* 0xffffffff81000000 */
    put(e, PD + 9 * 8, DATA_GPA | P | PS);  /* 0xffffffff81200000 */
    memset(e->m + TEXT_GPA, 0xcc, TEXT_SIZE);
    e->pp.kind = "linux";
    e->pp.code = calloc(1, HV_LINUX_PROT_SIZE);
    e->pp.code_size = HV_LINUX_PROT_SIZE;
    e->pp.win[0] = (struct vrf_win){HV_PROT_BASE, HV_LINUX_PATCH_SIZE, 0};
    e->pp.n_win = 1;
    e->pp.n_linux_ranges = vrf_linux_ranges(&k, e->pp.linux_ranges);
    assert_int_equal(e->pp.n_linux_ranges, 2);
    e->pp.data_gpa = DATA_GPA;
    e->pp.data_va = DATA_VA;
    e->pt.state = VRF_TPM_STATE_NONE;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    munmap(e->m, RAM_SIZE);
    close(e->ram);
    free(e->pp.code);
    free(e);
    return 0;
}

/* Locks with cr3/cr4; returns the reply. */
static struct vrf_msg lock(struct env *e, uint64_t cr3, uint64_t cr4)
{
    struct vrf_msg req = {.type = VRF_MSG_LOCK, .lock = {cr3, cr4}}, r;
    memset(&r, 0, sizeof r);
    vrf_patch_lock(&e->pp, &e->pt, e->ram, &req, &r);
    return r;
}

static void refused(struct env *e, uint64_t cr3, uint64_t cr4,
                    const char *why)
{
    struct vrf_msg r = lock(e, cr3, cr4);
    assert_int_equal(r.type, VRF_MSG_FAIL);
    assert_non_null(strstr(r.fail.reason, why));
    assert_false(e->pp.locked);
    assert_int_equal(e->pp.n_ranges, 0);
    assert_int_equal(e->pp.code[HV_LINUX_TEXT_OFF], 0);
    assert_true(get(e, PD + 511 * 8) == 0 ||
                get(e, PD + 511 * 8) == (HV_PROT_BASE | P | PS));
}

static void locks_copies_maps_and_opens_patching(void **state)
{
    struct env *e = *state;
    struct vrf_msg r = lock(e, PML4, CR4_PAE);
    assert_int_equal(r.type, VRF_MSG_LOCKED);
    assert_true(r.locked.gpa == TEXT_GPA && r.locked.size == TEXT_SIZE &&
                r.locked.offset == HV_LINUX_TEXT_OFF);
    assert_true(e->pp.locked);
    assert_memory_equal(e->pp.code + HV_LINUX_TEXT_OFF, e->m + TEXT_GPA,
                        TEXT_SIZE);
    assert_true(get(e, PD + 511 * 8) == PATCH_PDE);
    /* the text's GPAs now read from the memfd; patches may target it */
    assert_ptr_equal(vrf_patch_code_at(&e->pp, TEXT_GPA + 5, 5),
                     e->pp.code + HV_LINUX_TEXT_OFF + 5);
    assert_null(vrf_patch_code_at(&e->pp, TEXT_GPA + TEXT_SIZE - 2, 5));
    assert_int_equal(e->pp.n_ranges, 2);
    assert_true(vrf_range_va(e->pp.ranges, 2, HV_PROT_BASE + 16) ==
                HV_LINUX_PATCH_VA + 16);
    r = lock(e, PML4, CR4_PAE);
    assert_int_equal(r.type, VRF_MSG_FAIL);
    assert_non_null(strstr(r.fail.reason, "already locked"));
}

static void user_half_of_a_pti_pair_finds_the_kernel_half(void **state)
{
    struct env *e = *state;
    /* the user PGD maps the text (a PTI clone) but not the data */
    put(e, PML4 + 0x1000 + 511 * 8, 0x108000 | P);
    put(e, 0x108000 + 510 * 8, 0x109000 | P);
    put(e, 0x109000 + 8 * 8, TEXT_GPA | P | PS);
    struct vrf_msg r = lock(e, (PML4 + 0x1000) | 0x801, CR4_PAE); /* PCID */
    assert_int_equal(r.type, VRF_MSG_LOCKED);
    assert_true(get(e, PD + 511 * 8) == PATCH_PDE);
    assert_true(get(e, 0x109000 + 511 * 8) == 0);
}

static void paging_off_or_5_level_is_refused(void **state)
{
    struct env *e = *state;
    refused(e, PML4, 0, "not live yet");
    refused(e, 0, CR4_PAE, "not live yet");
    refused(e, PML4, CR4_PAE | (1ull << 12), "5-level paging");
}

static void tables_that_do_not_map_the_image_are_refused(void **state)
{
    struct env *e = *state;
    put(e, PD + 9 * 8, (DATA_GPA + 0x200000) | P | PS); /* data elsewhere */
    refused(e, PML4, CR4_PAE, "do not map its text and data");
    put(e, PD + 9 * 8, DATA_GPA | P | PS);
    put(e, PD + 8 * 8, 0); /* text unmapped */
    refused(e, PML4, CR4_PAE, "do not map its text and data");
    put(e, PD + 8 * 8, TEXT_GPA | P | PS);
    put(e, PDPT + 510 * 8, (RAM_SIZE + 0x1000ull) | P); /* PD past RAM */
    refused(e, PML4, CR4_PAE, "do not map its text and data");
    put(e, PDPT + 510 * 8, PD | P);
    put(e, PD + 511 * 8, HV_PROT_BASE | P | PS); /* already used */
    refused(e, PML4, CR4_PAE, "maps the patch area's address itself");
}

static void no_ram_or_not_linux_is_refused(void **state)
{
    struct env *e = *state;
    struct vrf_msg req = {.type = VRF_MSG_LOCK, .lock = {PML4, CR4_PAE}}, r;
    vrf_patch_lock(&e->pp, &e->pt, -1, &req, &r);
    assert_int_equal(r.type, VRF_MSG_FAIL);
    assert_non_null(strstr(r.fail.reason, "no guest RAM"));
    e->pp.kind = "demo";
    refused(e, PML4, CR4_PAE, "only a Linux guest");
    e->pp.kind = "linux";
    e->pp.lock_refusal = "the text lock needs the kernel's PVH entry";
    refused(e, PML4, CR4_PAE, "PVH entry");
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test_setup_teardown(locks_copies_maps_and_opens_patching,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            user_half_of_a_pti_pair_finds_the_kernel_half, setup, teardown),
        cmocka_unit_test_setup_teardown(paging_off_or_5_level_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            tables_that_do_not_map_the_image_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(no_ram_or_not_linux_is_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("lock", t, NULL, NULL);
}
