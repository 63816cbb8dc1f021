/* keys_linux.c: a Linux kernel as `hvpatch build` and `hvpatch verify`
 * see it: the PVH vmlinux (hv_linux_parse(), the monitor's own parser),
 * the ranges the verifier will protect, the symbol table, each function's
 * ftrace site, and the text as the running kernel will hold it when the
 * monitor locks it. */
#include <string.h>

#include "firmware/hv_linux.h"
#include "keys/keys.h"
#include "lib/hv_abi.h"

#define ENTRY_READ 9u /* endbr64 (4) + the 5-byte site */

int keys_kernel_load(struct keys_kernel *k, const char *image,
                     const char *symbols, struct keys_diag *diag)
{
    int ret, hr;
    struct hv_linux_image img;
    const struct keys_ksym *f = NULL;
    struct keys_diag d = {""};

    memset(k, 0, sizeof *k);
    memset(&img, 0, sizeof img);

    /* 1. The kernel file: a PVH vmlinux whose text the monitor can lock. */
    ret =
        keys_read_file(image, HV_LINUX_MAX_SIZE, &k->file, &k->file_len, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = KEYS_ERR_ELF;
    hr = hv_linux_parse(k->file, k->file_len, &img);
    if (hr != HV_LINUX_OK) {
        keys_diag_set(diag, "%s: not a Linux kernel: %s", image,
                      hv_linux_strerror(hr));
        goto cleanup;
    }
    if (img.boot.kind != FW_LINUX_ENTRY_PVH) {
        keys_diag_set(diag,
                      "%s: a bzImage: build against the uncompressed ELF "
                      "vmlinux booted at its PVH entry (tests/lib/"
                      "linux-guest.sh vmlinux), whose text can be locked",
                      image);
        goto cleanup;
    }
    k->n_ranges = vrf_linux_ranges(&img.boot, k->ranges);
    if (k->n_ranges != 2) {
        keys_diag_set(diag,
                      "%s: its text (0x%llx bytes at 0x%llx) cannot be "
                      "locked (docs/LINUX.md, \"Text lock\")",
                      image, (unsigned long long)img.boot.lock_size,
                      (unsigned long long)img.boot.text_va);
        goto cleanup;
    }
    k->text_gpa = img.boot.text_gpa;
    k->text_va = img.boot.text_va;
    k->lock_size = img.boot.lock_size;
    for (unsigned i = 0; i < img.boot.nsegs; i++) {
        const struct fw_linux_seg *s = &img.boot.segs[i];

        if (s->gpa == k->text_gpa && s->va == k->text_va) {
            k->seg_va = s->va;
            k->seg_off = s->offset;
            k->seg_filesz = s->filesz;
        }
    }
    if (k->seg_filesz < k->lock_size) {
        keys_diag_set(diag, "%s: the locked text is not all file bytes", image);
        goto cleanup;
    }

    /* 2. Its symbol table: the same kernel, booted without KASLR. */
    ret = keys_sysmap_load(symbols, &k->map, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = KEYS_ERR_SYSMAP;
    if (k->map.text != k->text_va || k->map.etext > k->text_va + k->lock_size) {
        keys_diag_set(diag,
                      "%s: _text 0x%llx, _etext 0x%llx do not match the "
                      "locked text of %s [0x%llx, 0x%llx): the table of "
                      "another kernel, or of a KASLR boot?",
                      symbols, (unsigned long long)k->map.text,
                      (unsigned long long)k->map.etext, image,
                      (unsigned long long)k->text_va,
                      (unsigned long long)(k->text_va + k->lock_size));
        goto cleanup;
    }
    ret = keys_sysmap_find(&k->map, "__fentry__", &f, &d);
    if (ret != KEYS_OK || !keys_sysmap_is_text(f->type) ||
        f->addr < k->text_va || f->addr - k->text_va >= k->lock_size) {
        ret = KEYS_ERR_SYSMAP;
        keys_diag_set(diag,
                      "%s: no __fentry__ in the kernel text (a kernel "
                      "without CONFIG_FUNCTION_TRACER has no ftrace sites "
                      "to redirect)",
                      symbols);
        goto cleanup;
    }
    k->fentry = f->addr;
    ret = KEYS_OK;

cleanup:
    if (ret != KEYS_OK)
        keys_kernel_free(k);
    return ret;
}

void keys_kernel_free(struct keys_kernel *k)
{
    if (k == NULL)
        return;
    keys_free(k->file);
    keys_sysmap_free(&k->map);
    memset(k, 0, sizeof *k);
}

int keys_kernel_read_va(const struct keys_kernel *k, uint64_t va, uint8_t *out,
                        size_t len)
{
    uint64_t off;

    if (va < k->seg_va || va - k->seg_va > k->seg_filesz ||
        len > k->seg_filesz - (va - k->seg_va))
        return KEYS_ERR_ELF;
    off = k->seg_off + (va - k->seg_va);
    memcpy(out, k->file + off, len);
    return KEYS_OK;
}

int keys_ftrace_site(const uint8_t entry[9], uint64_t va, uint64_t fentry,
                     size_t *off)
{
    static const uint8_t endbr64[4] = {0xf3, 0x0f, 0x1e, 0xfa};
    const uint8_t *s;
    int32_t rel;

    *off = memcmp(entry, endbr64, sizeof endbr64) == 0 ? 4 : 0;
    s = entry + *off;
    if (memcmp(s, KEYS_FTRACE_NOP, VRF_REDIRECT_SIZE) == 0)
        return 1;
    if (s[0] != 0xe8)
        return 0;
    memcpy(&rel, s + 1, sizeof rel); /* little-endian, as x86 */
    return va + *off + VRF_REDIRECT_SIZE + (uint64_t)(int64_t)rel == fentry;
}

int keys_kernel_ftrace_site(const struct keys_kernel *k, const char *name,
                            uint64_t *site_va, struct keys_diag *diag)
{
    int ret;
    const struct keys_ksym *s = NULL;
    uint8_t entry[ENTRY_READ];
    size_t off = 0;

    ret = keys_sysmap_find(&k->map, name, &s, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = KEYS_ERR_BUILD;
    if (!keys_sysmap_is_text(s->type)) {
        keys_diag_set(diag,
                      "%s: a data symbol (type '%c' at 0x%llx), not a "
                      "function",
                      name, s->type, (unsigned long long)s->addr);
        goto cleanup;
    }
    if (s->addr < k->text_va || s->addr - k->text_va >= k->lock_size ||
        k->lock_size - (s->addr - k->text_va) < ENTRY_READ) {
        keys_diag_set(diag,
                      "%s: at 0x%llx, outside the locked kernel text "
                      "[0x%llx, 0x%llx) (init text is freed after boot)",
                      name, (unsigned long long)s->addr,
                      (unsigned long long)k->text_va,
                      (unsigned long long)(k->text_va + k->lock_size));
        goto cleanup;
    }
    if (keys_kernel_read_va(k, s->addr, entry, sizeof entry) != KEYS_OK ||
        !keys_ftrace_site(entry, s->addr, k->fentry, &off)) {
        keys_diag_set(diag,
                      "function %s has no ftrace entry site (notrace or "
                      "inlined?): it starts %02x %02x %02x %02x %02x, not "
                      "call __fentry__ or a 5-byte NOP",
                      name, entry[0], entry[1], entry[2], entry[3], entry[4]);
        goto cleanup;
    }
    *site_va = s->addr + off;
    ret = KEYS_OK;

cleanup:
    return ret;
}

/* Overlay the NOP of every ftrace site that calls __fentry__ and overlaps
 * [va, va + len) onto buf (which holds the file's bytes there). */
static void show_ftrace_nops(const struct keys_kernel *k, uint64_t va,
                             uint8_t *buf, size_t len)
{
    uint64_t from =
        va - k->text_va >= ENTRY_READ ? va - ENTRY_READ : k->text_va;

    for (size_t i = keys_sysmap_lower_bound(&k->map, from);
         i < k->map.n && k->map.syms[i].addr < va + len; i++) {
        const struct keys_ksym *s = &k->map.syms[i];
        uint8_t entry[ENTRY_READ];
        size_t off;
        uint64_t site;

        if (!keys_sysmap_is_text(s->type) ||
            keys_kernel_read_va(k, s->addr, entry, sizeof entry) != KEYS_OK ||
            !keys_ftrace_site(entry, s->addr, k->fentry, &off) ||
            entry[off] != 0xe8)
            continue;
        site = s->addr + off;
        for (size_t b = 0; b < VRF_REDIRECT_SIZE; b++)
            if (site + b >= va && site + b - va < len)
                buf[site + b - va] = (uint8_t)KEYS_FTRACE_NOP[b];
    }
}

int keys_kernel_read_running(void *kernel, uint64_t gpa, uint8_t *buf,
                             size_t len)
{
    const struct keys_kernel *k = kernel;
    uint64_t va;

    if (gpa >= HV_PROT_BASE && gpa - HV_PROT_BASE <= HV_LINUX_PATCH_SIZE &&
        len <= HV_LINUX_PATCH_SIZE - (gpa - HV_PROT_BASE)) {
        memset(buf, 0, len);
        return 0;
    }
    if (gpa < k->text_gpa || gpa - k->text_gpa > k->lock_size ||
        len > k->lock_size - (gpa - k->text_gpa))
        return -1;
    va = k->text_va + (gpa - k->text_gpa);
    if (keys_kernel_read_va(k, va, buf, len) != KEYS_OK)
        return -1;
    show_ftrace_nops(k, va, buf, len);
    return 0;
}
