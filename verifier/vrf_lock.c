/* vrf_lock.c: a Linux guest's text lock, in the verifier process
 * (docs/LINUX.md, "Text lock").
 *
 * Linux rewrites its own text while it boots, so its text is guest RAM
 * until the lock. At the lock, with every vCPU paused, the verifier copies
 * the text from guest RAM into the protected memfd, maps the patch area
 * into the kernel's own page tables, measures the text into PCR 10 and
 * audits it; the monitor then backs the text's GPAs with the read-only
 * memfd. Guest RAM and the guest's page tables are untrusted input here:
 * every read is bounded by the RAM size, and the page tables must map the
 * kernel's text and data where its image says before one entry is added. */
#include <inttypes.h>
#include <mbedtls/sha256.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware/hv_linux.h"
#include "lib/hv_abi.h"
#include "lib/hv_log.h"
#include "verifier/vrf_patch.h"
#include "verifier/vrf_proc_int.h"

#define PTE_P 0x1ull
#define PTE_A 0x20ull
#define PTE_PS 0x80ull
#define PTE_G 0x100ull
#define PTE_ADDR 0x000ffffffffff000ull
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
/* The patch area's page directory entry: one 2 MiB page, present,
 * read-only, kernel-only, executable (no NX), global, accessed (so the
 * CPU need not write it). */
#define PATCH_PDE (HV_PROT_BASE | PTE_P | PTE_A | PTE_PS | PTE_G)

void vrf_patch_layout(struct vrf_patch *pp, const uint8_t *image, size_t len)
{
    if (strcmp(pp->kind, "linux") != 0) {
        size_t n;
        const struct vrf_range *r = vrf_demo_ranges(&n);
        pp->win[0] = (struct vrf_win){HV_PROT_BASE, HV_PROT_SIZE, 0};
        pp->n_win = 1;
        memcpy(pp->ranges, r, n * sizeof *r);
        pp->n_ranges = n;
        return;
    }
    struct hv_linux_image img;
    pp->win[0] = (struct vrf_win){HV_PROT_BASE, HV_LINUX_PATCH_SIZE, 0};
    pp->n_win = 1;
    pp->n_ranges = 0; /* nothing may change before the lock */
    if (hv_linux_parse(image, len, &img) != HV_LINUX_OK) {
        pp->lock_refusal = "the kernel file does not parse";
        return;
    }
    pp->n_linux_ranges = vrf_linux_ranges(&img.boot, pp->linux_ranges);
    pp->data_gpa = img.boot.data_gpa;
    pp->data_va = img.boot.data_va;
    if (img.boot.kind != FW_LINUX_ENTRY_PVH)
        pp->lock_refusal = "the text lock needs the kernel's PVH entry: boot "
                           "its vmlinux, not the bzImage (docs/LINUX.md)";
    else if (pp->n_linux_ranges == 0 || !pp->data_va)
        pp->lock_refusal = "this kernel's text cannot be locked: it must be "
                           "page-aligned, at most 30 MiB, linked in the top "
                           "2 GiB below the patch area, with data above it";
}

/* Guest RAM, read through its memfd. */
struct ram {
    int fd;
    uint64_t size;
};

static int ram_read(const struct ram *m, uint64_t gpa, void *buf, size_t len)
{
    if (gpa > m->size || len > m->size - gpa)
        return -1;
    return vrf_pread_full(m->fd, buf, len, gpa);
}

enum { WALK_OK = 0, WALK_NO_PD_ENTRY = 1, WALK_FAIL = -1 };

/* Translates va through the 4-level page tables at cr3. Returns WALK_OK
 * with *pa; WALK_NO_PD_ENTRY if the page directory entry for va is not
 * present; WALK_FAIL otherwise. *pde is the GPA of va's page directory
 * entry once the walk gets that far. */
static int walk(const struct ram *m, uint64_t cr3, uint64_t va, uint64_t *pde,
                uint64_t *pa)
{
    uint64_t table = cr3 & PTE_ADDR;
    for (int level = 4; level >= 1; level--) {
        unsigned shift = 12 + 9 * (unsigned)(level - 1);
        uint64_t at = table + ((va >> shift) & 511) * 8, e;
        if (level == 2)
            *pde = at;
        if (ram_read(m, at, &e, sizeof e) != 0)
            return WALK_FAIL;
        if (!(e & PTE_P))
            return level == 2 ? WALK_NO_PD_ENTRY : WALK_FAIL;
        if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS))) {
            uint64_t page = 1ull << shift;
            *pa = (e & PTE_ADDR & ~(page - 1)) + (va & (page - 1));
            return WALK_OK;
        }
        table = e & PTE_ADDR;
    }
    return WALK_FAIL;
}

/* Whether the tables at cr3 map va to gpa through the page directory at
 * GPA pd. */
static int maps(const struct ram *m, uint64_t cr3, uint64_t va, uint64_t gpa,
                uint64_t pd)
{
    uint64_t pde = 0, pa = 0;
    return walk(m, cr3, va, &pde, &pa) == WALK_OK && pa == gpa &&
           (pde & ~0xfffull) == pd;
}

/* Finds the page directory entry for HV_LINUX_PATCH_VA in the kernel's
 * own tables: those at cr3, or (kernel page-table isolation, a vCPU in
 * user mode) at the kernel half of the pair. They must map the first and
 * last page of the text and the data segment where the image puts them,
 * through the same page directory. Returns NULL or why not. */
static const char *find_patch_pde(const struct vrf_patch *pp,
                                  const struct ram *m, uint64_t cr3,
                                  uint64_t *pde)
{
    const struct vrf_range *t = &pp->linux_ranges[0];
    uint64_t roots[2] = {cr3 & PTE_ADDR, cr3 & PTE_ADDR & ~0x1000ull};
    const char *why = "the kernel's page tables do not map its text and data "
                      "where its image says";
    for (int i = 0; i < (roots[0] != roots[1] ? 2 : 1); i++) {
        uint64_t pa;
        int w = walk(m, roots[i], HV_LINUX_PATCH_VA, pde, &pa);
        if (w == WALK_OK) {
            why = "the kernel maps the patch area's address itself";
            continue;
        }
        uint64_t pd = *pde & ~0xfffull;
        if (w == WALK_NO_PD_ENTRY && maps(m, roots[i], t->va, t->base, pd) &&
            maps(m, roots[i], t->va + t->size - 1, t->base + t->size - 1,
                 pd) &&
            maps(m, roots[i], pp->data_va, pp->data_gpa, pd))
            return NULL;
    }
    return why;
}

static int ram_write_pde(const struct ram *m, uint64_t at)
{
    uint64_t e = PATCH_PDE;
    return pwrite(m->fd, &e, sizeof e, (off_t)at) == (ssize_t)sizeof e ? 0
                                                                       : -1;
}

/* Why the lock cannot happen now, or NULL. */
static const char *lock_refused(const struct vrf_patch *pp,
                                const struct vrf_msg *req)
{
    if (strcmp(pp->kind, "linux") != 0)
        return "only a Linux guest has a text lock (the demo guest's code "
               "is locked from its first instruction)";
    if (pp->lock_refusal)
        return pp->lock_refusal;
    if (pp->locked)
        return "the kernel text is already locked";
    if (pp->have_pending)
        return "a patch operation is under way";
    if (!(req->lock.cr4 & CR4_PAE) || (req->lock.cr3 & PTE_ADDR) == 0)
        return "the kernel's page tables are not live yet (paging is off)";
    if (req->lock.cr4 & CR4_LA57)
        return "5-level paging is not supported";
    return NULL;
}

void vrf_patch_lock(struct vrf_patch *pp, struct vrf_proc_tpm *pt, int fd,
                    const struct vrf_msg *req, struct vrf_msg *reply)
{
    const struct vrf_range *t = &pp->linux_ranges[0];
    struct stat st;
    struct ram m = {fd, 0};
    uint64_t pde = 0;
    uint8_t sha[32];
    const char *why = lock_refused(pp, req);
    if (!why && (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0))
        why = "no guest RAM came with the request";
    m.size = why ? 0 : (uint64_t)st.st_size;
    if (!why)
        why = find_patch_pde(pp, &m, req->lock.cr3, &pde);
    if (!why && ram_read(&m, t->base, pp->code + HV_LINUX_TEXT_OFF, t->size))
        why = "the kernel text lies outside guest RAM";
    if (!why && ram_write_pde(&m, pde) != 0)
        why = "cannot map the patch area";
    if (why) {
        char text[sizeof reply->fail.reason];
        snprintf(text, sizeof text, "LOCK: %s", why);
        vrf_msg_fail(reply, text);
        return;
    }
    /* From here the text is the memfd's, the monitor's next step. */
    mbedtls_sha256_ret(pp->code + HV_LINUX_TEXT_OFF, t->size, sha, 0);
    if (pt->state == VRF_TPM_STATE_OK && vrf_proc_tpm_lock(pt, sha) != 0)
        pt->state = VRF_TPM_STATE_GONE;
    vrf_patch_audit_lock(pp, pt, sha);
    pp->win[pp->n_win++] = (struct vrf_win){t->base, t->size,
                                            HV_LINUX_TEXT_OFF};
    memcpy(pp->ranges, pp->linux_ranges, sizeof pp->linux_ranges);
    pp->n_ranges = pp->n_linux_ranges;
    pp->locked = 1;
    hv_log("verifier: kernel text locked: GPA 0x%" PRIx64 "+0x%" PRIx64
           " (VA 0x%" PRIx64 "), patch area at VA 0x%llx (PDE at GPA 0x%"
           PRIx64 ")",
           t->base, t->size, t->va, HV_LINUX_PATCH_VA, pde);
    reply->type = VRF_MSG_LOCKED;
    reply->locked.gpa = t->base;
    reply->locked.size = t->size;
    reply->locked.offset = HV_LINUX_TEXT_OFF;
    memcpy(reply->locked.sha256, sha, sizeof sha);
}
