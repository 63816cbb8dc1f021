/* hv_machine.h: the machine layer: one KVM VM, its vCPUs, memory slots and
 * protected code, the exit loop, and pause/resume/stop.
 *
 * Layers (docs/MONITOR.md, "Layers"): machine, devices, services,
 * assembly. This header includes only the guest ABI, the I/O bus
 * (hv_io.h: the exit loop dispatches on it) and plain types; never a
 * device's or a service's header. Devices and services include it; it is
 * the layer at the bottom. (The live-patch list below is a service's
 * state the machine still carries.) */
#ifndef HV_MACHINE_H
#define HV_MACHINE_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/machine/hv_io.h"
#include "lib/hv_abi.h"
#include "lib/vrf_win.h"

/* A guest physical address; never a host pointer. */
typedef uint64_t hv_gpa_t;

#define HV_PROT_PAGES (HV_PROT_MAX_SIZE / 0x1000)
#define HV_BLOCKED_LOG_FULL 16 /* blocked writes reported in full */
#define HV_PATCH_LIVE_MAX 64   /* == VRF_PATCH_MAX_APPLIED */

/* Why the VM stopped; the first reason recorded wins. */
enum hv_stop {
    HV_STOP_NONE = 0,
    HV_STOP_GUEST_OFF,  /* guest shut down or halted: exit 0 or its code */
    HV_STOP_QUIT,       /* `quit` on the control socket */
    HV_STOP_SIGNAL,     /* SIGINT or SIGTERM */
    HV_STOP_GUEST_FAIL, /* unexpected exit, triple fault, guest panic */
    HV_STOP_HOST_FAIL,  /* an ioctl or thread failed while running */
    HV_STOP_GUEST_REBOOT, /* guest reset the machine (Linux: port 0xcf9) */
};

/* What runs in the VM: it decides the memory layout, the devices and the
 * exits the monitor answers. */
enum hv_guest {
    HV_GUEST_DEMO = 0, /* lib/hv_abi.h: hypercall ports, no irqchip */
    HV_GUEST_LINUX,    /* docs/LINUX.md: in-kernel irqchip and PIT, UART
                          interrupt, ACPI power-off and reset ports */
};

struct hv_vcpu {
    struct hv_vm *vm;
    unsigned id;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    int thread_started;
    atomic_uint_fast64_t blocked_writes;
    uint64_t paused_rip;              /* valid while parked */
    uint64_t last_blocked_rip;        /* a rep-string write repeats it */
};

struct hv_vm {
    enum hv_guest guest;
    int pvm; /* /dev/kvm is kvm_pvm: guest ring 0 is emulated */
    unsigned ncpus;
    int kvm_fd, vm_fd;
    int ram_fd;
    uint8_t *ram;
    uint64_t ram_size;
    int prot_fd;
    const uint8_t *prot; /* read-only view of the protected memfd */
    uint64_t prot_size;
    /* Where the guest sees it (lib/hv_abi.h): the demo guest one window
     * at HV_PROT_BASE; a Linux guest its patch area there, and its text
     * from the lock on. Changed only with every vCPU paused. */
    struct vrf_win prot_win[2];
    _Atomic unsigned n_prot_win;
    atomic_int lock_req; /* the guest asked for its text lock (hv_lock.c) */
    uint64_t start_ns;
    size_t run_size;
    struct hv_vcpu vcpu[HV_MAX_VCPUS];

    /* Pause/resume: pause_lock serialises pausers; lock guards the rest. */
    pthread_mutex_t pause_lock;
    pthread_mutex_t lock;
    pthread_cond_t parked_cond, resume_cond;
    int released; /* vCPUs may enter the guest (after the sandbox) */
    unsigned at_barrier; /* vCPU threads fully started and waiting */
    int pause_req;   /* read without the lock (__atomic) */
    unsigned parked; /* changed without the lock (__atomic) */
    unsigned running; /* vCPU threads still in their run loop */
    unsigned park_sleepers; /* parked vCPUs asleep on resume_cond */
    int pauser_sleeps;      /* the pauser waits on parked_cond */

    /* Stop: set once, then every vCPU is kicked; stop_fd wakes main. */
    atomic_int stop_reason;
    int guest_code; /* guest's shutdown code, for HV_STOP_GUEST_OFF */
    int stop_fd;    /* eventfd */

    /* Blocked guest writes into protected code. */
    atomic_uint_fast64_t blocked_total;
    atomic_uint_fast32_t blocked_page[HV_PROT_PAGES];
    atomic_uint_fast64_t blocked_reported; /* total when last reported */
    atomic_uint blocked_logged;            /* reported in full so far */
    atomic_uint_fast64_t blocked_audited;  /* total when last audited */
    atomic_uint_fast64_t blocked_last_gpa, blocked_last_rip;

    /* The ports devices registered (hv_io.h); set before vCPUs start. */
    struct hv_io_bus io;

    /* Live patches as the verifier reported them (hv_patch.c): for
     * status and for the guest's HV_HC_PATCHES. patch_lock guards them. */
    pthread_mutex_t patch_lock;
    struct hv_patch_info {
        char id[HV_PATCH_ID_MAX];
        char signer[200];
        uint64_t seq;
        uint64_t applied_ms;
    } patches[HV_PATCH_LIVE_MAX];
    unsigned npatches;
    unsigned patch_gen;
};

/* hv_kvm.c: arch-neutral KVM set-up. */
int hv_kvm_open(struct hv_vm *vm);
int hv_kvm_add_slot(struct hv_vm *vm, unsigned slot, hv_gpa_t gpa,
                    uint64_t size, const void *host, int readonly);
int hv_kvm_create_vcpu(struct hv_vm *vm, unsigned id);
void hv_kvm_close(struct hv_vm *vm);
/* True if /dev/kvm is kvm_pvm (no VT-x/AMD-V; guest ring 0 emulated). */
int hv_kvm_is_pvm(void);
/* The in-kernel LAPICs, IOAPIC and PICs, and the PIT; before any vCPU.
 * Returns 0, or -1 with the failed ioctl named. */
int hv_kvm_create_irqchip(struct hv_vm *vm);
/* Sets ISA interrupt line irq of the in-kernel irqchip (KVM_IRQ_LINE).
 * A failure stops the VM (HV_STOP_HOST_FAIL). */
void hv_kvm_irq_line(struct hv_vm *vm, unsigned irq, int level);

/* hv_kvm_x86_64.c: x86-64 registers and the exit loop. */
struct fw_cpu_state;
int hv_x86_setup_vcpu(struct hv_vcpu *v, const struct fw_cpu_state *st);
/* A Linux guest's vCPU: CPUID and MSRs on every vCPU; registers (with
 * rbx) only for the boot vCPU, st != NULL. The others wait for INIT/SIPI
 * in the in-kernel LAPIC. */
struct fw_linux_cpu;
int hv_x86_setup_linux_vcpu(struct hv_vcpu *v, const struct fw_linux_cpu *st);
uint64_t hv_x86_tsc_khz(struct hv_vm *vm);
/* Handles one exit; returns 0 to keep running, -1 once the VM must stop
 * (the reason is already recorded with hv_vm_stop). */
int hv_x86_handle_exit(struct hv_vcpu *v);
uint64_t hv_x86_rip(struct hv_vcpu *v);

/* hv_vcpu.c: vCPU threads, pause/resume and stop. */
/* Creates the vCPU threads and returns once every one of them is fully
 * started (so a seccomp filter can be applied to all); they wait until
 * hv_vcpu_release(). */
int hv_vcpu_start_all(struct hv_vm *vm);
void hv_vcpu_release(struct hv_vm *vm);
void hv_vcpu_join_all(struct hv_vm *vm);
/* Takes every vCPU out of guest mode and parks it; fills rips[ncpus] and
 * the time that took. Returns 0 or an HV_PAUSE_ERR_*; on error no vCPU is
 * left parked. Serialised across callers. */
enum {
    HV_PAUSE_ERR_ALREADY = -1,  /* already paused */
    HV_PAUSE_ERR_STOPPING = -2, /* the VM is stopping */
    HV_PAUSE_ERR_TIMEOUT = -3,  /* a vCPU did not park within 1 s */
};
int hv_vm_pause(struct hv_vm *vm, uint64_t *rips, uint64_t *pause_ns);
/* Lets parked vCPUs re-enter the guest. Returns 0, or -1 if not paused. */
int hv_vm_resume(struct hv_vm *vm);
int hv_vm_paused(struct hv_vm *vm);
/* Records why the VM stops and kicks every vCPU. Returns 1 for the first
 * caller, whose reason counts, and 0 for later ones. */
int hv_vm_stop(struct hv_vm *vm, enum hv_stop why, int guest_code);

/* hv_prot.c: protected code and blocked writes. */
/* Maps the verifier's sealed code memfd read-only as memslot 1; refuses an
 * fd that is not sealed against writes. Takes ownership of fd. */
int hv_prot_setup(struct hv_vm *vm, int fd, uint64_t size);
void hv_prot_blocked_write(struct hv_vcpu *v, hv_gpa_t gpa, unsigned len);
void hv_prot_report(struct hv_vm *vm); /* rate-limited summary */
void hv_prot_digest(const struct hv_vm *vm, uint8_t out[32]);
/* The offset in the protected memfd of guest-physical gpa, or -1 if no
 * window holds it; and the GPA of an offset, or 0. */
int64_t hv_prot_offset(const struct hv_vm *vm, hv_gpa_t gpa);
hv_gpa_t hv_prot_gpa(const struct hv_vm *vm, uint64_t off);

/* Host pointer for guest RAM [gpa, gpa + len), or NULL if any byte of it
 * lies outside RAM. The only way guest-supplied addresses are read. */
void *hv_gpa_ram(struct hv_vm *vm, hv_gpa_t gpa, uint64_t len);

#endif /* HV_MACHINE_H */
