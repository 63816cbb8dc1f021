/* hv_kvm_x86_64.c: x86-64 vCPU state and the strict exit handler.
 *
 * Only the exits the guest is expected to cause are handled: port I/O to
 * a port some device registered (hv_io.h; the assembly picks the devices
 * for the guest), MMIO writes to protected code, HLT. Anything else stops
 * the VM with one message naming the exit and the guest RIP. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "firmware/fw.h"
#include "firmware/fw_linux.h"
#include "hv/machine/hv_machine.h"
#include "lib/hv_log.h"

#define CPUID_MAX_ENTRIES 256

/* CPUID features hidden from the guest: state KVM's instruction emulator
 * (which runs guest ring 0 on kvm_pvm) cannot handle. The demo guest never
 * sees them on any host, so it cannot come to depend on them; a Linux
 * guest loses them on kvm_pvm only (hide_emulated), plus POPCNT, which
 * Linux patches into its text by CPUID (alternatives). Everything else of
 * KVM's supported CPUID passes through: x2APIC, TSC-deadline, and KVM's
 * leaves 0x40000000/1 (kvmclock, PV EOI, ...).
 *
 * KVM does not report the hypervisor bit (leaf 1 ECX 31): a VMM sets it,
 * and without it Linux never looks at KVM's leaves, so it has no kvmclock
 * and calibrates its TSC against the PIT, which fails or is marked
 * unstable with no HPET or PM timer to check it against. */
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_ECX_CX16 (1u << 13)
#define CPUID_1_ECX_POPCNT (1u << 23)
#define CPUID_1_ECX_XSAVE_AVX ((1u << 26) | (1u << 27) | (1u << 28))
struct cpuid_policy {
    int hide_emulated; /* XSAVE family, AVX*, CMPXCHG16B */
    int hide_popcnt;
};

static void cpuid_filter(struct kvm_cpuid_entry2 *e, unsigned id,
                         const struct cpuid_policy *p)
{
    switch (e->function) {
    case 1:
        e->ecx |= CPUID_1_ECX_HYPERVISOR;
        if (p->hide_emulated)
            e->ecx &= ~(CPUID_1_ECX_XSAVE_AVX | CPUID_1_ECX_CX16);
        if (p->hide_popcnt)
            e->ecx &= ~CPUID_1_ECX_POPCNT;
        e->ebx = (e->ebx & 0x00ffffffu) | (id << 24); /* initial APIC ID */
        break;
    case 7:
        if (e->index == 0 && p->hide_emulated) {
            e->ebx &= ~((1u << 5) | (1u << 16)); /* AVX2, AVX-512F */
            e->ecx &= ~(1u << 14);               /* AVX512_VPOPCNTDQ */
        }
        break;
    case 0xb:
    case 0x1f:
        e->edx = id; /* x2APIC ID */
        break;
    case 0xd: /* XSAVE state enumeration: nothing to enumerate */
        if (p->hide_emulated)
            e->eax = e->ebx = e->ecx = e->edx = 0;
        break;
    default:
        break;
    }
}

static int setup_cpuid(struct hv_vcpu *v)
{
    size_t sz = sizeof(struct kvm_cpuid2) +
                CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
    struct kvm_cpuid2 *c = calloc(1, sz);
    int ret = -1;
    if (!c) {
        hv_err("KVM: out of memory for CPUID");
        return -1;
    }
    c->nent = CPUID_MAX_ENTRIES;
    if (ioctl(v->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
        hv_err("KVM: ioctl (GET_SUPPORTED_CPUID) failed: %s", strerror(errno));
        goto cleanup;
    }
    struct cpuid_policy p = {.hide_emulated = 1};
    if (v->vm->guest == HV_GUEST_LINUX)
        p = (struct cpuid_policy){.hide_emulated = v->vm->pvm,
                                  .hide_popcnt = v->vm->pvm};
    for (unsigned i = 0; i < c->nent; i++)
        cpuid_filter(&c->entries[i], v->id, &p);
    if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
        hv_err("KVM: ioctl (SET_CPUID2) failed: %s", strerror(errno));
        goto cleanup;
    }
    ret = 0;
cleanup:
    free(c);
    return ret;
}

static void fw_to_kvm_seg(const struct fw_segment *f, struct kvm_segment *k)
{
    *k = (struct kvm_segment){
        .base = 0,
        .limit = 0xffffffff,
        .selector = f->selector,
        .type = f->type,
        .present = 1,
        .dpl = f->dpl,
        .db = f->db,
        .s = f->s,
        .l = f->l,
        .g = 1,
    };
}

static int setup_sregs(struct hv_vcpu *v, const struct fw_cpu_state *st)
{
    struct kvm_sregs s;
    if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
        hv_err("KVM: ioctl (GET_SREGS) failed: %s", strerror(errno));
        return -1;
    }
    s.cr0 = st->cr0;
    s.cr3 = st->cr3;
    s.cr4 = st->cr4;
    s.efer = st->efer;
    s.gdt.base = st->gdt_base;
    s.gdt.limit = st->gdt_limit;
    s.idt.base = 0;
    s.idt.limit = 0;
    fw_to_kvm_seg(&st->cs, &s.cs);
    fw_to_kvm_seg(&st->ds, &s.ds);
    s.es = s.fs = s.gs = s.ss = s.ds;
    /* VM entry wants a usable TR even before the guest loads its own. */
    s.tr = (struct kvm_segment){
        .limit = 0x67, .type = 11, .present = 1, .s = 0};
    s.ldt = (struct kvm_segment){.type = 2, .present = 1, .unusable = 1};
    if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0) {
        hv_err("KVM: ioctl (SET_SREGS) failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int set_regs(struct hv_vcpu *v, const struct fw_cpu_state *st,
                    uint64_t rbx)
{
    struct kvm_regs r = {
        .rip = st->rip,
        .rsp = st->rsp,
        .rdi = st->rdi,
        .rsi = st->rsi,
        .rbx = rbx,
        .rflags = st->rflags,
    };
    if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
        hv_err("KVM: ioctl (SET_REGS) failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int hv_x86_setup_vcpu(struct hv_vcpu *v, const struct fw_cpu_state *st)
{
    if (setup_cpuid(v) != 0 || setup_sregs(v, st) != 0)
        return -1;
    return set_regs(v, st, 0);
}

#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff

/* What firmware leaves in MSRs Linux reads: fast strings on, and MTRRs
 * on with write-back as the default type (as Firecracker does; without
 * it Linux runs with PAT off). The same on every vCPU, or Linux finds
 * the MTRRs inconsistent. */
static int set_linux_msrs(struct hv_vcpu *v)
{
    struct {
        struct kvm_msrs h;
        struct kvm_msr_entry e[2];
    } m = {.h = {.nmsrs = 2},
           .e = {{.index = MSR_IA32_MISC_ENABLE, .data = 1},
                 {.index = MSR_MTRR_DEF_TYPE, .data = 0xc06}}};
    int n = ioctl(v->fd, KVM_SET_MSRS, &m);
    if (n != 2) {
        hv_err("KVM: ioctl (SET_MSRS) on vCPU %u set %d of 2 MSRs: %s", v->id,
               n, n < 0 ? strerror(errno) : "refused");
        return -1;
    }
    return 0;
}

int hv_x86_setup_linux_vcpu(struct hv_vcpu *v, const struct fw_linux_cpu *st)
{
    if (setup_cpuid(v) != 0 || set_linux_msrs(v) != 0)
        return -1;
    if (!st) /* an AP: KVM's reset state, started by INIT/SIPI */
        return 0;
    if (setup_sregs(v, &st->fw) != 0)
        return -1;
    return set_regs(v, &st->fw, st->rbx);
}

uint64_t hv_x86_tsc_khz(struct hv_vm *vm)
{
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) <= 0)
        return 0;
    int khz = ioctl(vm->vcpu[0].fd, KVM_GET_TSC_KHZ, 0);
    return khz > 0 ? (uint64_t)khz : 0;
}

uint64_t hv_x86_rip(struct hv_vcpu *v)
{
    struct kvm_regs r;
    if (ioctl(v->fd, KVM_GET_REGS, &r) < 0)
        return ~0ull;
    return r.rip;
}

static const char *exit_name(unsigned reason)
{
    static const char *const names[] = {
        [KVM_EXIT_UNKNOWN] = "UNKNOWN",
        [KVM_EXIT_EXCEPTION] = "EXCEPTION",
        [KVM_EXIT_IO] = "IO",
        [KVM_EXIT_HYPERCALL] = "HYPERCALL",
        [KVM_EXIT_DEBUG] = "DEBUG",
        [KVM_EXIT_HLT] = "HLT",
        [KVM_EXIT_MMIO] = "MMIO",
        [KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
        [KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
        [KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
        [KVM_EXIT_INTR] = "INTR",
        [KVM_EXIT_SET_TPR] = "SET_TPR",
        [KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
        [KVM_EXIT_NMI] = "NMI",
        [KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
        [KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
    };
    if (reason < sizeof names / sizeof names[0] && names[reason])
        return names[reason];
    return "?";
}

/* The one place an exit the monitor does not expect ends up. */
static int unexpected(struct hv_vcpu *v, const char *what)
{
    unsigned reason = v->run->exit_reason;
    if (hv_vm_stop(v->vm, HV_STOP_GUEST_FAIL, 0)) /* one message per VM */
        hv_err("vCPU %u: unexpected exit %u (%s)%s%s at rip 0x%llx; "
               "stopping VM",
               v->id, reason, exit_name(reason), what ? ": " : "",
               what ? what : "", (unsigned long long)hv_x86_rip(v));
    return -1;
}

static int handle_io(struct hv_vcpu *v)
{
    struct kvm_run *run = v->run;
    struct hv_io io = {
        .port = run->io.port,
        .out = run->io.direction == KVM_EXIT_IO_OUT,
        .size = run->io.size,
        .count = run->io.count,
        .data = (uint8_t *)run + run->io.data_offset,
    };
    char what[96];

    if (run->io.data_offset > v->vm->run_size ||
        (uint64_t)io.size * io.count > v->vm->run_size - run->io.data_offset)
        return unexpected(v, "I/O data outside the run area");
    int r = hv_io_dispatch(&v->vm->io, v, &io);
    if (r != HV_IO_UNCLAIMED)
        return r;
    snprintf(what, sizeof what, "%s port 0x%x size %u count %u",
             io.out ? "out" : "in", io.port, io.size, io.count);
    return unexpected(v, what);
}

static int handle_mmio(struct hv_vcpu *v)
{
    struct kvm_run *run = v->run;
    hv_gpa_t gpa = run->mmio.phys_addr;
    char what[96];

    if (run->mmio.is_write && hv_prot_offset(v->vm, gpa) >= 0) {
        hv_prot_blocked_write(v, gpa, run->mmio.len);
        return 0; /* dropped: the guest goes on, its code unchanged */
    }
    snprintf(what, sizeof what, "MMIO %s of %u bytes at GPA 0x%llx",
             run->mmio.is_write ? "write" : "read", run->mmio.len,
             (unsigned long long)gpa);
    return unexpected(v, what);
}

static int handle_internal_error(struct hv_vcpu *v)
{
    char what[96];
    snprintf(what, sizeof what, "suberror %u (%s)",
             v->run->internal.suberror,
             v->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                 ? "instruction KVM cannot emulate"
                 : "see KVM internal error codes");
    return unexpected(v, what);
}

int hv_x86_handle_exit(struct hv_vcpu *v)
{
    struct kvm_run *run = v->run;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        return handle_io(v);
    case KVM_EXIT_MMIO:
        return handle_mmio(v);
    case KVM_EXIT_HLT:
        hv_log("vCPU %u halted; stopping VM", v->id);
        hv_vm_stop(v->vm, HV_STOP_GUEST_OFF, 0);
        return -1;
    case KVM_EXIT_SHUTDOWN:
        return unexpected(v, "triple fault");
    case KVM_EXIT_FAIL_ENTRY: {
        char what[64];
        snprintf(what, sizeof what, "hardware entry failure reason 0x%llx",
                 (unsigned long long)
                     run->fail_entry.hardware_entry_failure_reason);
        return unexpected(v, what);
    }
    case KVM_EXIT_INTERNAL_ERROR:
        return handle_internal_error(v);
    default:
        return unexpected(v, NULL);
    }
}
