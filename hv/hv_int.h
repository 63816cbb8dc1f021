/* hv_int.h: the monitor's private state, shared by the hv_*.c files. */
#ifndef HV_INT_H
#define HV_INT_H

#include <jansson.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"
#include "hv/hv_dev_serial.h"
#include "hv/hv_health.h"
#include "hv/hv_linux.h"
#include "verifier/vrf_win.h"

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
    HV_GUEST_DEMO = 0, /* hv/hv_abi.h: hypercall ports, no irqchip */
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
    atomic_uint_fast64_t hb_count;    /* last HEARTBEAT hypercall value */
    atomic_uint_fast64_t first_hb_ns; /* 0 until the first heartbeat */
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
    /* Where the guest sees it (hv/hv_abi.h): the demo guest one window
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

    struct hv_serial serial;
    atomic_uint_fast64_t all_hb_ns; /* when every vCPU had a heartbeat */

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

    struct hv_health health; /* the watch after an apply (hv_health.c) */
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
/* Has the verifier audit the writes blocked since the last call (one
 * record for all of them; the caller rate-limits). */
struct hv_vrf;
void hv_prot_audit(struct hv_vm *vm, struct hv_vrf *vrf);
void hv_prot_digest(const struct hv_vm *vm, uint8_t out[32]);
/* The offset in the protected memfd of guest-physical gpa, or -1 if no
 * window holds it; and the GPA of an offset, or 0. */
int64_t hv_prot_offset(const struct hv_vm *vm, hv_gpa_t gpa);
hv_gpa_t hv_prot_gpa(const struct hv_vm *vm, uint64_t off);

/* hv_lock.c: a Linux guest's text lock (docs/LINUX.md, "Text lock"). */
/* Locks the kernel text: pause, the verifier's LOCK, the text's GPAs
 * backed by the read-only memfd (memslot 2), memslot changes forbidden
 * from then on, resume. Returns the result object, or NULL with *err and
 * *cls. A failure after the verifier locked stops the VM. */
json_t *hv_lock_text(struct hv_vm *vm, struct hv_vrf *vrf, const char **err,
                     const char **cls);
/* The guest's lock port (HV_LINUX_LOCK_PORT): a byte written asks for
 * the lock, which the main loop performs. */
int hv_lock_port_out(struct hv_vcpu *v, uint32_t val);

/* hv_patch.c: apply and revert through the verifier. */
struct hv_vrf;
struct vrf_msg;
/* Asks the verifier for the pause region and maps it, before the
 * sandbox. Without it (logged), writes go over the socket. */
void hv_patch_shm_open(struct hv_vrf *vrf);
/* Applies the package behind fd (taken) / reverts patch id. Return the
 * result object, or NULL with *err and *cls (the error class). */
json_t *hv_patch_apply(struct hv_vm *vm, struct hv_vrf *vrf, int fd,
                       const char **err, const char **cls);
json_t *hv_patch_revert(struct hv_vm *vm, struct hv_vrf *vrf, const char *id,
                        const char **err, const char **cls);
json_t *hv_patch_list_json(struct hv_vm *vm);
/* The verifier's trust store: its digest, anchors, CRL dates and the
 * latest reload's result; reload first re-reads the --trust directory
 * (dir, for the reply). NULL with *err and *cls if the verifier does not
 * answer, or, for a reload, if it kept the old store. */
json_t *hv_patch_trust(struct hv_vrf *vrf, int reload, const char *dir,
                       const char **err, const char **cls);
/* The health watch's revert of patch id (the latest live one): the
 * verifier audits it as "auto-reverted" with reason. Returns 0, or -1
 * with *err. */
int hv_patch_auto_revert(struct hv_vm *vm, struct hv_vrf *vrf, const char *id,
                         const char *reason, const char **err);
/* Error texts for a control reply: the verifier is gone; it refused (a
 * FAIL's reason) or answered something unexpected. *cls gets the class. */
const char *hv_patch_verifier_gone(const char **cls);
const char *hv_patch_refused(struct vrf_msg *r, const char **cls);
/* HV_HC_PATCHES: fills the guest's struct hv_hc_patches at gpa. */
int hv_patch_hypercall(struct hv_vm *vm, uint32_t gpa);

/* hv_seccomp.c: enter the monitor's allow-list (all threads). A Linux
 * guest's monitor may still change memslots, until its text lock calls
 * hv_seccomp_lock_memslots() (every thread, for good). */
int hv_seccomp_enter(int linux_guest);
int hv_seccomp_lock_memslots(void);

/* hv_dev_platform.c: a Linux guest's ACPI sleep, reset, CMOS and POST
 * ports. Returns 0 to keep running, -1 once the VM must stop, or
 * HV_IO_UNCLAIMED for an access that is not one of them. */
#define HV_IO_UNCLAIMED 1
int hv_platform_io(struct hv_vcpu *v, uint16_t port, int out, uint8_t *data,
                   unsigned size, unsigned count);

/* hv_run_linux.c: a Linux guest for `hvpatch run --kernel`. */
#define HV_LINUX_INITRD_MAX (512u << 20) /* largest initrd file read */
struct hv_linux_guest {
    uint8_t *kernel, *initrd; /* the files as read (malloc) */
    size_t kernel_len, initrd_len;
    struct hv_linux_image img;
    char cmdline[FW_LINUX_CMDLINE_MAX + 1]; /* as booted and measured */
};
/* Reads a regular file of 1 byte to max bytes into malloc'd memory; what
 * names it in messages ("kernel", "initrd"). Returns NULL (logged). */
uint8_t *hv_read_file(const char *path, const char *what, uint64_t max,
                      size_t *len);
/* Reads and parses the kernel (and initrd), builds the command line and
 * checks that everything fits cfg's RAM; nothing is started yet. Returns
 * 0, or -1 with the reason logged (g may hold memory: free it). */
int hv_linux_guest_load(const struct hv_config *cfg, int pvm,
                        struct hv_linux_guest *g);
/* Writes guest RAM (fw_linux_setup), sets up every vCPU (registers on the
 * boot vCPU only) and attaches the UART to IRQ 4. Needs the irqchip and
 * the vCPUs created. Returns 0 or -1 (logged). */
int hv_linux_guest_boot(struct hv_vm *vm, const struct hv_config *cfg,
                        const struct hv_linux_guest *g);
void hv_linux_guest_free(struct hv_linux_guest *g);

/* hv_hypercall.c */
int hv_hypercall(struct hv_vcpu *v, unsigned nr, uint32_t arg);

/* Host pointer for guest RAM [gpa, gpa + len), or NULL if any byte of it
 * lies outside RAM. The only way guest-supplied addresses are read. */
void *hv_gpa_ram(struct hv_vm *vm, hv_gpa_t gpa, uint64_t len);

#endif /* HV_INT_H */
