/* kernel.c: the demo guest's thin ring-0 kernel: per-vCPU set-up, system
 * calls, hypercalls, the console, and the deliberately vulnerable
 * sys_klog_read. On kvm_pvm every ring-0 instruction is emulated (~1 us
 * each), so paths here stay short and loops few; real work runs in ring 3. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/guest.h"
#include "guest/guest_selfwrite.h"
#include "lib/hv_abi.h"

_Static_assert(GUEST_MAX_VCPUS == HV_MAX_VCPUS, "guest.h != hv_abi.h");
_Static_assert(GUEST_SEL_KCODE == HV_FW_SEL_KCODE &&
                   GUEST_SEL_KDATA == HV_FW_SEL_KDATA &&
                   GUEST_SEL_UDATA == (HV_FW_SEL_UDATA | 3) &&
                   GUEST_SEL_UCODE == (HV_FW_SEL_UCODE | 3) &&
                   GUEST_SEL_TSS0 == HV_FW_GDT_ENTRIES * 8,
               "guest selectors must extend the firmware's layout");
_Static_assert(GUEST_F_SELFWRITE == HV_BOOT_F_SELFWRITE, "flag values");

#define GUEST_PANIC(msg) guest_panic(__FILE__, __LINE__, (msg))

#define COM1_DATA HV_PORT_COM1
#define COM1_LSR (HV_PORT_COM1 + 5)
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20
/* A real 16550 needs ~90 us a byte at 115200 baud; the monitor's UART is
 * always ready. Bounded so a broken UART cannot wedge ring 0. */
#define THR_EMPTY_TRIES 64

#define MSR_EFER 0xc0000080u
#define EFER_SCE 0x1u

#define GUEST_EXC_VECTORS 32
#define GUEST_DEFAULT_TSC_KHZ 1000000

/* 64-bit TSS; rsp[0] is the stack ring 3 enters the kernel on. */
struct guest_tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct guest_tss) == 104, "TSS layout");

struct guest_dtr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

struct guest_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
_Static_assert(sizeof(struct guest_gate) == 16, "IDT gate layout");

/* Pushed by guest_syscall_entry (entry.S), lowest address first. */
struct guest_syscall_frame {
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Pushed by the exception stubs (entry.S), lowest address first. */
struct guest_exc_frame {
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Hypercall arguments are per vCPU, so no vCPU waits for another. */
struct guest_cpu {
    struct guest_tss tss;
    struct hv_hc_heartbeat heartbeat;
    struct hv_hc_ucall ucall;
} __attribute__((aligned(64)));

long sys_klog_read(unsigned long off, unsigned long len, char *ubuf);
void guest_main(uint64_t cpu, const struct hv_boot_info *boot)
    __attribute__((noreturn));
void guest_syscall(struct guest_syscall_frame *f);
void guest_exception(const struct guest_exc_frame *f) __attribute__((noreturn));
void guest_panic(const char *file, unsigned line, const char *msg)
    __attribute__((noreturn));

/* entry.S */
void guest_halt(void) __attribute__((noreturn));
void guest_load_gdt(const struct guest_dtr *gdtr);
void guest_enter_user(uint64_t cpu, uint64_t ncpus, uint64_t tsc_khz,
                      uint64_t flags, uint64_t rip, uint64_t rsp)
    __attribute__((noreturn));
void guest_syscall_entry(void);
extern const uint64_t guest_exc_stubs[GUEST_EXC_VECTORS];

char guest_kstacks[GUEST_MAX_VCPUS][GUEST_KSTACK_SIZE]
    __attribute__((aligned(16)));

struct guest_klog guest_klog = {
    .secret = "KSECRET:hv-kernel-key-7f3a9c2e",
};
static size_t guest_klog_len;

/* One slot per vCPU plus one for code that finds itself on no kernel stack
 * (cannot happen after guest_entry; keeps a wild rsp from indexing out of
 * bounds on the way to a panic). */
static struct guest_cpu guest_cpus[GUEST_MAX_VCPUS + 1];

/* The firmware's layout; 0x20 (32-bit user code, used only by sysret to
 * compatibility mode) stays null: nothing here runs 32-bit code. The TSS
 * descriptors are filled in by their own vCPU. */
static uint64_t guest_gdt[GUEST_GDT_ENTRIES] = {
    [HV_FW_SEL_KCODE / 8] = 0x00af9b000000ffffull, /* 64-bit code, DPL 0 */
    [HV_FW_SEL_KDATA / 8] = 0x00cf93000000ffffull, /* data, DPL 0 */
    [HV_FW_SEL_UDATA / 8] = 0x00cff3000000ffffull, /* data, DPL 3 */
    [HV_FW_SEL_UCODE / 8] = 0x00affb000000ffffull, /* 64-bit code, DPL 3 */
};

static struct guest_gate guest_idt[GUEST_EXC_VECTORS];

/* Written by vCPU 0 before it sets guest_booted; read-only afterwards. */
static uint64_t guest_ncpus;
static uint64_t guest_tsc_khz;
static uint64_t guest_flags;
static int guest_booted;

static int guest_console_busy;

/* gcc may emit calls to memcpy/memset (struct copies) even with
 * -fno-builtin; these keep such calls inside kernel text, apart from the
 * user library's pair. rep movsb/stosb: one emulated instruction on
 * kvm_pvm instead of a loop. */
__attribute__((used)) static void *memcpy(void *dst, const void *src, size_t n)
{
    void *ret = dst;

    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
    return ret;
}

__attribute__((used)) static void *memset(void *dst, int c, size_t n)
{
    void *ret = dst;

    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
    return ret;
}

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;

    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;

    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr"
                     :
                     : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* Which vCPU runs this: kernel stacks are per vCPU and contiguous, so the
 * stack pointer says, with no MSR or swapgs (which kvm_pvm's ring-0
 * emulator lacks). */
static unsigned guest_cpu_index(void)
{
    uintptr_t base = (uintptr_t)guest_kstacks;
    uintptr_t sp;

    __asm__("mov %%rsp, %0" : "=r"(sp));
    if (sp <= base || sp > base + sizeof guest_kstacks)
        return GUEST_MAX_VCPUS;
    return (unsigned)((sp - base - 1) >> GUEST_KSTACK_SHIFT);
}

static void guest_hypercall(unsigned nr, const void *arg)
{
    /* Identity-mapped kernel data below 4 GiB: the address is the GPA. */
    outl(HV_PORT_HC_BASE + nr, (uint32_t)(uintptr_t)arg);
}

static void guest_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t i = 0;

    while (i + 1 < cap && src[i]) {
        dst[i] = src[i];
        i++;
    }
    dst[i] = '\0';
}

static void guest_strlcat(char *dst, const char *src, size_t cap)
{
    size_t i = 0;

    while (i < cap && dst[i])
        i++;
    if (i < cap)
        guest_strlcpy(dst + i, src, cap - i);
}

static void guest_ucall_fail(struct hv_hc_ucall *u, const char *file,
                             unsigned line)
{
    u->kind = HV_UCALL_FAIL;
    u->line = line;
    guest_strlcpy(u->file, file, sizeof u->file);
    guest_hypercall(HV_HC_UCALL, u);
}

void guest_panic(const char *file, unsigned line, const char *msg)
{
    struct hv_hc_ucall *u = &guest_cpus[guest_cpu_index()].ucall;

    memset(u->args, 0, sizeof u->args);
    guest_strlcpy(u->msg, msg, sizeof u->msg);
    guest_ucall_fail(u, file, line);
    guest_halt();
}

static const char *const guest_exc_names[GUEST_EXC_VECTORS] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09", "#TS",
    "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

/* args: vector, error code, faulting RIP, CR2 (page faults) or 0. */
void guest_exception(const struct guest_exc_frame *f)
{
    struct hv_hc_ucall *u = &guest_cpus[guest_cpu_index()].ucall;
    uint64_t cr2 = 0;

    if (f->vector == 14)
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    u->args[0] = f->vector;
    u->args[1] = f->error;
    u->args[2] = f->rip;
    u->args[3] = cr2;
    guest_strlcpy(u->msg, "exception ", sizeof u->msg);
    guest_strlcat(u->msg, guest_exc_names[f->vector % GUEST_EXC_VECTORS],
                  sizeof u->msg);
    guest_strlcat(u->msg, (f->cs & 3) ? " in ring 3" : " in ring 0",
                  sizeof u->msg);
    guest_ucall_fail(u, __FILE__, __LINE__);
    guest_halt();
}

static void guest_console_lock(void)
{
    while (__atomic_exchange_n(&guest_console_busy, 1, __ATOMIC_ACQUIRE))
        __asm__ volatile("pause");
}

static void guest_console_unlock(void)
{
    __atomic_store_n(&guest_console_busy, 0, __ATOMIC_RELEASE);
}

static void guest_serial_putc(char c)
{
    for (int i = 0; i < THR_EMPTY_TRIES; i++)
        if (inb(COM1_LSR) & LSR_THR_EMPTY)
            break;
    outb(COM1_DATA, (uint8_t)c);
}

/* User buffers must lie wholly in user data; written so no sum overflows. */
static bool guest_user_range_ok(uint64_t addr, uint64_t len)
{
    return addr >= HV_UDATA_GPA && len <= HV_UDATA_SIZE &&
           addr - HV_UDATA_GPA <= HV_UDATA_SIZE - len;
}

static long guest_sys_write(uint64_t buf, uint64_t len)
{
    const char *p = (const char *)buf;

    if (len > GUEST_WRITE_MAX)
        len = GUEST_WRITE_MAX;
    if (!guest_user_range_ok(buf, len))
        return -GUEST_EFAULT;
    guest_console_lock();
    for (uint64_t i = 0; i < len; i++)
        guest_serial_putc(p[i]);
    guest_console_unlock();
    return (long)len;
}

/* Non-blocking: returns what the UART holds now, possibly nothing. */
static long guest_sys_read(uint64_t buf, uint64_t len)
{
    char *p = (char *)buf;
    uint64_t n = 0;

    if (!guest_user_range_ok(buf, len))
        return -GUEST_EFAULT;
    guest_console_lock();
    while (n < len && (inb(COM1_LSR) & LSR_DATA_READY))
        p[n++] = (char)inb(COM1_DATA);
    guest_console_unlock();
    return (long)n;
}

static long guest_sys_heartbeat(uint64_t count)
{
    struct guest_cpu *c = &guest_cpus[guest_cpu_index()];

    c->heartbeat.count = count;
    guest_hypercall(HV_HC_HEARTBEAT, &c->heartbeat);
    return 0;
}

/* Returns the number of bytes copied, or -GUEST_E*.
 *
 * BUG (deliberate: the demo's kernel vulnerability, fixed later by a hot
 * patch): off + len wraps around. With off = 2^64 - 32 and len = 32 the sum
 * is 0, the check passes, and the copy starts 32 bytes before the log: at
 * guest_klog.secret. The correct check is
 *     off > sizeof log || len > sizeof log - off.
 * noipa: callers must make a plain call to this entry (no clones, no
 * assumptions about which registers it clobbers), so a replacement reached
 * through the entry pad behaves the same to them. */
__attribute__((noinline, noipa)) long
sys_klog_read(unsigned long off, unsigned long len, char *ubuf)
{
    if (off + len > sizeof guest_klog.log || len > GUEST_KLOG_READ_MAX)
        return -GUEST_EINVAL;
    if (!guest_user_range_ok((uint64_t)ubuf, len))
        return -GUEST_EFAULT;
    /* Integer arithmetic: the wrapped address is the bug, not the
     * compiler's licence to assume off is in bounds. */
    memcpy(ubuf, (const char *)((uintptr_t)guest_klog.log + off), len);
    return (long)len;
}

/* Ring-0 self-write test: the bytes at sys_klog_read's entry, written by
 * guest_selfwrite_do (guest_selfwrite.h). */
static long guest_sys_selfwrite(uint64_t kind)
{
    volatile uint64_t *code = (volatile uint64_t *)(uintptr_t)sys_klog_read;
    uint64_t before[2], fill[2];

    if (!(guest_flags & GUEST_F_SELFWRITE))
        return -GUEST_EPERM;
    if (kind >= GUEST_SELFWRITE_KINDS)
        return -GUEST_EINVAL;
    before[0] = code[0];
    before[1] = code[1];
    fill[0] = ~before[0];
    fill[1] = ~before[1];
    guest_selfwrite_do(kind, (uint8_t *)(uintptr_t)code, fill);
    if (code[0] == before[0] && code[1] == before[1])
        return GUEST_SELFWRITE_BLOCKED;
    /* Protection failed: put the code back so the guest keeps running. */
    guest_selfwrite_do(kind, (uint8_t *)(uintptr_t)code, before);
    return GUEST_SELFWRITE_CHANGED;
}

/* The monitor writes the list of live patches into the caller's buffer. */
static long guest_sys_patches(uint64_t buf)
{
    if (!guest_user_range_ok(buf, sizeof(struct hv_hc_patches)))
        return -GUEST_EFAULT;
    outl(HV_PORT_HC_BASE + HV_HC_PATCHES, (uint32_t)buf);
    return 0;
}

static long guest_do_syscall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    switch (nr) {
    case GUEST_SYS_WRITE:
        return guest_sys_write(a0, a1);
    case GUEST_SYS_READ:
        return guest_sys_read(a0, a1);
    case GUEST_SYS_HEARTBEAT:
        return guest_sys_heartbeat(a0);
    case GUEST_SYS_KLOG_READ:
        return sys_klog_read(a0, a1, (char *)a2);
    case GUEST_SYS_SHUTDOWN:
        outl(HV_PORT_HC_BASE + HV_HC_SHUTDOWN, (uint32_t)a0);
        guest_halt();
    case GUEST_SYS_SELFWRITE:
        return guest_sys_selfwrite(a0);
    case GUEST_SYS_PATCHES:
        return guest_sys_patches(a0);
    default:
        return -GUEST_ENOSYS;
    }
}

void guest_syscall(struct guest_syscall_frame *f)
{
    /* Vector 3 from ring 0 is a stray int3, not a system call. */
    if ((f->cs & 3) != 3)
        GUEST_PANIC("int3 in ring 0");
    f->rax = (uint64_t)guest_do_syscall(f->rax, f->rdi, f->rsi, f->rdx);
}

static void guest_set_gate(unsigned vector, uint64_t handler, unsigned dpl)
{
    struct guest_gate *g = &guest_idt[vector];

    g->offset_low = (uint16_t)handler;
    g->selector = GUEST_SEL_KCODE;
    g->ist = 0;
    g->type_attr = (uint8_t)(0x8e | dpl << 5); /* present, interrupt gate */
    g->offset_mid = (uint16_t)(handler >> 16);
    g->offset_high = (uint32_t)(handler >> 32);
}

static void guest_fill_idt(void)
{
    for (unsigned v = 0; v < GUEST_EXC_VECTORS; v++)
        guest_set_gate(v, guest_exc_stubs[v], 0);
    guest_set_gate(GUEST_SYSCALL_VECTOR, (uintptr_t)guest_syscall_entry, 3);
}

static void guest_load_idt(void)
{
    struct guest_dtr idtr = {sizeof guest_idt - 1, (uintptr_t)guest_idt};

    __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* GDT with this vCPU's TSS descriptor, and TR. Each vCPU writes only its
 * own descriptor, so no vCPU waits for another here. */
static void guest_cpu_init(unsigned cpu)
{
    struct guest_cpu *c = &guest_cpus[cpu];
    uint64_t base = (uintptr_t)&c->tss;
    unsigned slot = GUEST_SEL_TSS0 / 8 + 2 * cpu;
    struct guest_dtr gdtr = {sizeof guest_gdt - 1, (uintptr_t)guest_gdt};

    c->tss.rsp[0] = (uintptr_t)guest_kstacks[cpu] + GUEST_KSTACK_SIZE;
    c->tss.iomap_base = sizeof c->tss; /* no I/O bitmap: ring 3 has no ports */
    c->heartbeat.cpu = cpu;
    guest_gdt[slot] = (sizeof c->tss - 1) | (base & 0xffffff) << 16 |
                      0x89ull << 40 | /* present, 64-bit available TSS */
                      ((base >> 24) & 0xff) << 56;
    guest_gdt[slot + 1] = base >> 32;
    guest_load_gdt(&gdtr);
    __asm__ volatile("ltr %w0" : : "r"(GUEST_SEL_TSS0 + 16 * cpu));
}

static bool guest_cmdline_has(const char *cmdline, const char *word)
{
    size_t i = 0;

    while (i < HV_CMDLINE_MAX && cmdline[i]) {
        size_t start, k = 0;

        while (i < HV_CMDLINE_MAX && cmdline[i] == ' ')
            i++;
        start = i;
        while (i < HV_CMDLINE_MAX && cmdline[i] && cmdline[i] != ' ')
            i++;
        while (start + k < i && word[k] && cmdline[start + k] == word[k])
            k++;
        if (start + k == i && !word[k] && k > 0)
            return true;
    }
    return false;
}

static void guest_klog_append(const char *s)
{
    while (*s && guest_klog_len + 1 < sizeof guest_klog.log)
        guest_klog.log[guest_klog_len++] = *s++;
}

static void guest_klog_append_u64(uint64_t v)
{
    char digits[20];
    int n = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0 && guest_klog_len + 1 < sizeof guest_klog.log)
        guest_klog.log[guest_klog_len++] = digits[--n];
}

/* vCPU 0 only: what every vCPU needs before it may enter ring 3. */
static void guest_boot(const struct hv_boot_info *boot)
{
    if (boot->magic != HV_BOOT_MAGIC || boot->abi_version != HV_ABI_VERSION)
        GUEST_PANIC("boot info: bad magic or ABI version");
    guest_ncpus = boot->ncpus;
    if (guest_ncpus == 0 || guest_ncpus > GUEST_MAX_VCPUS)
        GUEST_PANIC("boot info: ncpus out of range");
    guest_tsc_khz = boot->tsc_khz ? boot->tsc_khz : GUEST_DEFAULT_TSC_KHZ;
    if ((boot->flags & HV_BOOT_F_SELFWRITE) ||
        guest_cmdline_has(boot->cmdline, "selfwrite"))
        guest_flags |= GUEST_F_SELFWRITE;
    guest_klog_append("boot ok; ");
    guest_klog_append_u64(guest_ncpus);
    guest_klog_append(" vcpus; tsc ");
    guest_klog_append_u64(guest_tsc_khz);
    guest_klog_append(" kHz; ");
    if (guest_flags & GUEST_F_SELFWRITE)
        guest_klog_append("selfwrite mode; ");
    guest_klog_append("entering ring 3");
    /* "guest: ready" waits for every counter to leave 0: start from 0
     * whatever the monitor left in RAM. No workload runs yet. */
    memset((void *)(uintptr_t)HV_SHARED_GPA, 0, sizeof(struct hv_shared));
}

void guest_main(uint64_t cpu, const struct hv_boot_info *boot)
{
    guest_cpu_init((unsigned)cpu);
    if (cpu == 0) {
        guest_fill_idt();
        guest_load_idt();
        guest_boot(boot);
        __atomic_store_n(&guest_booted, 1, __ATOMIC_RELEASE);
    } else {
        while (!__atomic_load_n(&guest_booted, __ATOMIC_ACQUIRE))
            __asm__ volatile("pause");
        guest_load_idt();
    }
    if (cpu >= guest_ncpus)
        GUEST_PANIC("vCPU index beyond boot info ncpus");
    /* System calls use int3 (guest.h); with SCE clear a stray `syscall`
     * faults as #UD instead of entering ring 0 on the user's stack. */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(uint64_t)EFER_SCE);
    /* rsp as after a call: workload_entry sees the ABI's alignment. */
    guest_enter_user(cpu, guest_ncpus, guest_tsc_khz, guest_flags,
                     (uintptr_t)workload_entry,
                     (uintptr_t)workload_stacks[cpu] + GUEST_USTACK_SIZE - 8);
}
