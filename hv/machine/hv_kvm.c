/* hv_kvm.c: arch-neutral KVM set-up: the VM, its memslots, its vCPUs. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/machine/hv_machine.h"
#include "lib/hv_log.h"

/* Capabilities without which hvpatch cannot keep its promise. */
static const struct {
    int cap;
    const char *why;
} hv_kvm_required[] = {
    {KVM_CAP_USER_MEMORY, "user memory slots"},
    {KVM_CAP_READONLY_MEM, "read-only memslots (guest code protection)"},
    {KVM_CAP_IMMEDIATE_EXIT, "immediate_exit (pausing vCPUs)"},
};

int hv_kvm_open(struct hv_vm *vm)
{
    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        hv_err("KVM: open /dev/kvm failed: %s", strerror(errno));
        return -1;
    }
    int api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        hv_err("KVM: ioctl (GET_API_VERSION) returned %d, expected %d", api,
               KVM_API_VERSION);
        return -1;
    }
    for (size_t i = 0; i < sizeof hv_kvm_required / sizeof *hv_kvm_required;
         i++) {
        if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
                  hv_kvm_required[i].cap) <= 0) {
            hv_err("KVM: this host lacks %s", hv_kvm_required[i].why);
            return -1;
        }
    }
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        hv_err("KVM: ioctl (CREATE_VM) failed: %s", strerror(errno));
        return -1;
    }
    int sz = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (sz < (int)sizeof(struct kvm_run)) {
        hv_err("KVM: ioctl (GET_VCPU_MMAP_SIZE) failed: %s", strerror(errno));
        return -1;
    }
    vm->run_size = (size_t)sz;
    return 0;
}

int hv_kvm_is_pvm(void)
{
    /* The module's directory, as tests/lib/kvm-info.sh looks for it: KVM's
     * API does not say whether guest ring 0 is emulated. */
    return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/* Where KVM keeps the real-mode TSS that VT-x without unrestricted guest
 * needs for the APs' real-mode start-up: three pages just below the BIOS
 * ROM, in the 32-bit hole, as QEMU and kvmtool place it. */
#define HV_KVM_TSS_GPA 0xfffbd000ul

int hv_kvm_create_irqchip(struct hv_vm *vm)
{
    /* The speaker port 0x61 in KVM too: Linux reads channel 2's gate and
     * output there when it calibrates its TSC against the PIT. */
    struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
        ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0) {
        hv_err("KVM: this host lacks the in-kernel irqchip or PIT");
        return -1;
    }
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
        ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, HV_KVM_TSS_GPA) < 0) {
        hv_err("KVM: ioctl (SET_TSS_ADDR) failed: %s", strerror(errno));
        return -1;
    }
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        hv_err("KVM: ioctl (CREATE_IRQCHIP) failed: %s", strerror(errno));
        return -1;
    }
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        hv_err("KVM: ioctl (CREATE_PIT2) failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void hv_kvm_irq_line(struct hv_vm *vm, unsigned irq, int level)
{
    struct kvm_irq_level l = {.irq = irq, .level = (uint32_t)level};
    if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0) {
        if (hv_vm_stop(vm, HV_STOP_HOST_FAIL, 0))
            hv_err("KVM: ioctl (IRQ_LINE %u) failed: %s; stopping VM", irq,
                   strerror(errno));
    }
}

int hv_kvm_add_slot(struct hv_vm *vm, unsigned slot, hv_gpa_t gpa,
                    uint64_t size, const void *host, int readonly)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .flags = readonly ? KVM_MEM_READONLY : 0,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        hv_err("KVM: ioctl (SET_USER_MEMORY_REGION) slot %u failed: %s", slot,
               strerror(errno));
        return -1;
    }
    return 0;
}

int hv_kvm_create_vcpu(struct hv_vm *vm, unsigned id)
{
    struct hv_vcpu *v = &vm->vcpu[id];
    v->vm = vm;
    v->id = id;
    v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (v->fd < 0) {
        hv_err("KVM: ioctl (CREATE_VCPU %u) failed: %s", id, strerror(errno));
        return -1;
    }
    void *run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                     v->fd, 0);
    if (run == MAP_FAILED) {
        hv_err("KVM: mmap of vCPU %u run area failed: %s", id,
               strerror(errno));
        return -1;
    }
    v->run = run;
    return 0;
}

void hv_kvm_close(struct hv_vm *vm)
{
    for (unsigned i = 0; i < HV_MAX_VCPUS; i++) {
        struct hv_vcpu *v = &vm->vcpu[i];
        if (v->run)
            munmap(v->run, vm->run_size);
        if (v->fd >= 0)
            close(v->fd);
    }
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
}

void *hv_gpa_ram(struct hv_vm *vm, hv_gpa_t gpa, uint64_t len)
{
    if (gpa >= vm->ram_size || len > vm->ram_size - gpa)
        return NULL;
    return vm->ram + gpa;
}
