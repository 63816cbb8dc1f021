/* hv_prot.c: the guest's protected code as the monitor sees it: a sealed
 * memfd from the verifier process, mapped read-only and registered as a
 * KVM_MEM_READONLY memslot; and the accounting of guest writes that the
 * second level blocked. The monitor never holds a writable view. */
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/machine/hv_machine.h"
#include "lib/hv_log.h"
#include "lib/vrf_msg.h" /* VRF_CODE_SEALS */

static const char *prot_part_name(const struct hv_vm *vm, hv_gpa_t gpa)
{
    static const char *const names[] = {"kernel text", "user text",
                                        "kernel patch area",
                                        "user patch area"};
    if (vm->guest == HV_GUEST_LINUX)
        return gpa >= HV_PROT_BASE ? "kernel patch area" : "kernel text";
    return names[((gpa - HV_PROT_BASE) / HV_PROT_PART_SIZE) & 3];
}

int hv_prot_setup(struct hv_vm *vm, int fd, uint64_t size)
{
    int is_linux = vm->guest == HV_GUEST_LINUX;
    uint64_t want = is_linux ? HV_LINUX_PROT_SIZE : HV_PROT_SIZE;
    uint64_t seen = is_linux ? HV_LINUX_PATCH_SIZE : HV_PROT_SIZE;
    vm->prot_fd = fd;
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & VRF_CODE_SEALS) != VRF_CODE_SEALS) {
        hv_err("protected code memfd is not sealed against writes");
        return -1;
    }
    if (size != want) {
        hv_err("protected code memfd has %llu bytes, expected %llu",
               (unsigned long long)size, (unsigned long long)want);
        return -1;
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        hv_err("mmap (protected code, read-only) failed: %s",
               strerror(errno));
        return -1;
    }
    vm->prot = p;
    vm->prot_size = size;
    vm->prot_win[0] = (struct vrf_win){HV_PROT_BASE, seen, 0};
    atomic_store(&vm->n_prot_win, 1);
    return hv_kvm_add_slot(vm, 1, HV_PROT_BASE, seen, vm->prot, 1);
}

int64_t hv_prot_offset(const struct hv_vm *vm, hv_gpa_t gpa)
{
    return vrf_win_offset(vm->prot_win, atomic_load(&vm->n_prot_win), gpa, 1);
}

hv_gpa_t hv_prot_gpa(const struct hv_vm *vm, uint64_t off)
{
    unsigned n = atomic_load(&vm->n_prot_win);
    for (unsigned i = 0; i < n; i++) {
        const struct vrf_win *w = &vm->prot_win[i];
        if (off >= w->off && off - w->off < w->size)
            return w->gpa + (off - w->off);
    }
    return 0;
}

void hv_prot_blocked_write(struct hv_vcpu *v, hv_gpa_t gpa, unsigned len)
{
    struct hv_vm *vm = v->vm;
    int64_t off = hv_prot_offset(vm, gpa);
    uint64_t total = atomic_fetch_add(&vm->blocked_total, 1) + 1;
    atomic_fetch_add(&v->blocked_writes, 1);
    if (off >= 0)
        atomic_fetch_add(&vm->blocked_page[(uint64_t)off >> 12], 1);
    /* A rep-string instruction exits once per element at the same RIP:
     * count every write, report the instruction once. */
    uint64_t rip = hv_x86_rip(v);
    atomic_store(&vm->blocked_last_gpa, gpa);
    atomic_store(&vm->blocked_last_rip, rip);
    if (rip == v->last_blocked_rip)
        return;
    v->last_blocked_rip = rip;
    unsigned n = atomic_fetch_add(&vm->blocked_logged, 1) + 1;
    if (n > HV_BLOCKED_LOG_FULL)
        return; /* hv_prot_report() summarises the rest */
    hv_log("blocked guest write: vCPU %u rip 0x%llx wrote %u bytes at GPA "
           "0x%llx (%s)%s",
           v->id, (unsigned long long)rip, len, (unsigned long long)gpa,
           prot_part_name(vm, gpa),
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
