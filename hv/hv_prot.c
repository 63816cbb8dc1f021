/* hv_prot.c: the guest's protected code: a sealed memfd the monitor maps
 * read-only, registered as a KVM_MEM_READONLY memslot; and the accounting
 * of guest writes the second level blocked.
 *
 * Seam for the verifier: today the monitor itself fills the memfd once,
 * through a temporary writable mapping that it drops before sealing. The
 * verifier process will take over hv_prot_fill(): create, fill, measure,
 * seal, keep the only writable mapping, and pass the fd over SCM_RIGHTS.
 * hv_prot_map() already refuses an fd that is not sealed against writes. */
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/hv_elf.h"
#include "hv/hv_int.h"
#include "hv/hv_log.h"

#define HV_PROT_SEALS \
    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

enum { REG_KTEXT, REG_UTEXT, REG_DATA, REG_COUNT };

/* Where a demo-style image may place its segments. Patch areas are not
 * loadable: they start empty and only hot patches fill them. */
static const struct hv_elf_region hv_image_regions[REG_COUNT] = {
    [REG_KTEXT] = {HV_PROT_KTEXT, HV_PROT_PART_SIZE, 0, "kernel text"},
    [REG_UTEXT] = {HV_PROT_UTEXT, HV_PROT_PART_SIZE, 0, "user text"},
    [REG_DATA] = {HV_KDATA_GPA, HV_UDATA_GPA + HV_UDATA_SIZE - HV_KDATA_GPA,
                  1, "data"},
};

static const char *prot_part_name(hv_gpa_t gpa)
{
    static const char *const names[] = {"kernel text", "user text",
                                        "kernel patch area",
                                        "user patch area"};
    return names[((gpa - HV_PROT_BASE) / HV_PROT_PART_SIZE) & 3];
}

/* Creates the memfd, copies the image's protected segments in through a
 * temporary writable mapping, and seals it. Returns the fd or -1. */
static int hv_prot_fill(const struct hv_elf_image *img, const uint8_t *image,
                        uint8_t *ram)
{
    int fd = memfd_create("hvpatch-code", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        hv_err("memfd_create (protected code) failed: %s", strerror(errno));
        return -1;
    }
    if (ftruncate(fd, (off_t)HV_PROT_SIZE) < 0) {
        hv_err("ftruncate (protected code) failed: %s", strerror(errno));
        goto fail;
    }
    uint8_t *w = mmap(NULL, HV_PROT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                      fd, 0);
    if (w == MAP_FAILED) {
        hv_err("mmap (protected code, writable) failed: %s", strerror(errno));
        goto fail;
    }
    uint8_t *const dst[REG_COUNT] = {w, w + HV_PROT_PART_SIZE,
                                     ram + HV_KDATA_GPA};
    hv_elf_load(img, image, hv_image_regions, dst);
    munmap(w, HV_PROT_SIZE);
    if (fcntl(fd, F_ADD_SEALS, HV_PROT_SEALS) < 0) {
        hv_err("fcntl (F_ADD_SEALS) on protected code failed: %s",
               strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* Maps fd read-only after checking that nobody can map it writable. */
static const uint8_t *hv_prot_map(int fd, size_t size)
{
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & HV_PROT_SEALS) != HV_PROT_SEALS) {
        hv_err("protected code memfd is not sealed against writes");
        return NULL;
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        hv_err("mmap (protected code, read-only) failed: %s",
               strerror(errno));
        return NULL;
    }
    return p;
}

int hv_prot_setup(struct hv_vm *vm, const uint8_t *image, size_t len,
                  uint64_t *entry)
{
    struct hv_elf_image img;
    int e = hv_elf_parse(image, len, hv_image_regions, REG_COUNT, REG_KTEXT,
                         &img);
    if (e != HV_ELF_OK) {
        hv_err("guest image rejected: %s", hv_elf_strerror(e));
        return -1;
    }
    vm->prot_fd = hv_prot_fill(&img, image, vm->ram);
    if (vm->prot_fd < 0)
        return -1;
    vm->prot_size = HV_PROT_SIZE;
    vm->prot = hv_prot_map(vm->prot_fd, HV_PROT_SIZE);
    if (!vm->prot)
        return -1;
    *entry = img.entry;
    return hv_kvm_add_slot(vm, 1, HV_PROT_BASE, HV_PROT_SIZE, vm->prot, 1);
}

void hv_prot_blocked_write(struct hv_vcpu *v, hv_gpa_t gpa, unsigned len)
{
    struct hv_vm *vm = v->vm;
    uint64_t total = atomic_fetch_add(&vm->blocked_total, 1) + 1;
    atomic_fetch_add(&v->blocked_writes, 1);
    atomic_fetch_add(&vm->blocked_page[(gpa - HV_PROT_BASE) >> 12], 1);
    /* A rep-string instruction exits once per element at the same RIP:
     * count every write, report the instruction once. */
    uint64_t rip = hv_x86_rip(v);
    if (rip == v->last_blocked_rip)
        return;
    v->last_blocked_rip = rip;
    unsigned n = atomic_fetch_add(&vm->blocked_logged, 1) + 1;
    if (n > HV_BLOCKED_LOG_FULL)
        return; /* hv_prot_report() summarises the rest */
    hv_log("blocked guest write: vCPU %u rip 0x%llx wrote %u bytes at GPA "
           "0x%llx (%s)%s",
           v->id, (unsigned long long)rip, len, (unsigned long long)gpa,
           prot_part_name(gpa),
           n == HV_BLOCKED_LOG_FULL ? "; further ones are summarised" : "");
    atomic_store(&vm->blocked_reported, total);
}

void hv_prot_report(struct hv_vm *vm)
{
    uint64_t total = atomic_load(&vm->blocked_total);
    uint64_t seen = atomic_load(&vm->blocked_reported);
    if (total > seen) {
        hv_log("%llu more blocked guest writes (total %llu)",
               (unsigned long long)(total - seen), (unsigned long long)total);
        atomic_store(&vm->blocked_reported, total);
    }
}

void hv_prot_digest(const struct hv_vm *vm, uint8_t out[32])
{
    mbedtls_sha256_ret(vm->prot, vm->prot_size, out, 0);
}
