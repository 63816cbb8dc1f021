/* hv_seccomp.c: the monitor's seccomp allow-list, entered after set-up and
 * before any vCPU runs guest code.
 *
 * By then every file, memslot and socket the monitor needs is open, so it
 * cannot open files, create processes, or map executable memory. Memory it
 * may still map is anonymous (malloc); the protected-code memfd can be
 * mapped neither anew nor writable (the kernel refuses that too, because
 * of the memfd's seals: this is a second, independent wall). */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hv/machine/hv_machine.h"
#include "hv/svc/hv_seccomp.h"
#include "lib/cli_exit.h"
#include "lib/hv_log.h"
#include "lib/vrf_sandbox.h"

#define ANY {{0}}

static const struct vrf_sandbox_rule hv_rules[] = {
    /* vCPU threads: run the guest, read registers for reports. */
    {SCMP_SYS(ioctl), 1, {SCMP_A1(SCMP_CMP_EQ, KVM_RUN)}},
    {SCMP_SYS(ioctl), 1, {SCMP_A1(SCMP_CMP_EQ, KVM_GET_REGS)}},
    /* A Linux guest's UART interrupt (vCPU threads on register accesses,
     * the main loop on console input): sets one ISA line of the in-kernel
     * irqchip; it touches no memslot, register or memory. Fails (ENXIO)
     * on a demo VM, which has no irqchip. */
    {SCMP_SYS(ioctl), 1, {SCMP_A1(SCMP_CMP_EQ, KVM_IRQ_LINE)}},
    /* Kicking vCPUs out of KVM_RUN: glibc's pthread_kill masks signals
     * around tgkill. */
    {SCMP_SYS(tgkill), 0, ANY},
    {SCMP_SYS(rt_sigprocmask), 0, ANY},
    {SCMP_SYS(rt_sigreturn), 0, ANY},
    /* Main loop: console, signalfd, eventfd, control socket, verifier. */
    {SCMP_SYS(read), 0, ANY},
    {SCMP_SYS(pread64), 0, ANY}, /* /proc/self/status, opened earlier */
    {SCMP_SYS(write), 0, ANY},
    {SCMP_SYS(poll), 0, ANY},
    {SCMP_SYS(ppoll), 0, ANY},
    {SCMP_SYS(accept4), 0, ANY},
    {SCMP_SYS(recvfrom), 0, ANY},
    {SCMP_SYS(sendto), 0, ANY},
    {SCMP_SYS(recvmsg), 0, ANY},
    {SCMP_SYS(sendmsg), 0, ANY},
    {SCMP_SYS(close), 0, ANY},
    {SCMP_SYS(getpid), 0, ANY},
    {SCMP_SYS(gettid), 0, ANY}, /* glibc, as a vCPU thread exits */
    {SCMP_SYS(clock_gettime), 0, ANY},
    {SCMP_SYS(clock_nanosleep), 0, ANY},
    {SCMP_SYS(restart_syscall), 0, ANY}, /* a sleep a signal interrupted */
    /* Threads' locks and the heap (jansson replies). */
    {SCMP_SYS(futex), 0, ANY},
    {SCMP_SYS(sched_yield), 0, ANY}, /* spins: vCPU park, pause region */
    {SCMP_SYS(mmap), 2, VRF_SANDBOX_MMAP_ANON_NOEXEC},
    {SCMP_SYS(mprotect), 1, {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)}},
    {SCMP_SYS(munmap), 0, ANY},
    {SCMP_SYS(mremap), 0, ANY},
    {SCMP_SYS(madvise), 0, ANY},
    {SCMP_SYS(brk), 0, ANY},
    /* Teardown: remove the control socket, reap the verifier. */
    {SCMP_SYS(unlink), 0, ANY},
    {SCMP_SYS(wait4), 0, ANY},
    {SCMP_SYS(kill), 0, ANY},
    {SCMP_SYS(exit), 0, ANY},
    {SCMP_SYS(exit_group), 0, ANY},
};

/* A Linux guest's text is guest RAM until its lock, which moves it into
 * the protected memfd by changing memslots (hv_lock.c): until then the
 * monitor may, and may read vCPU 0's control registers for the verifier's
 * page-table walk, and load the one filter that ends it. */
static const struct vrf_sandbox_rule hv_linux_rules[] = {
    {SCMP_SYS(ioctl), 1, {SCMP_A1(SCMP_CMP_EQ, KVM_SET_USER_MEMORY_REGION)}},
    {SCMP_SYS(ioctl), 1, {SCMP_A1(SCMP_CMP_EQ, KVM_GET_SREGS)}},
    {SCMP_SYS(seccomp), 1, {SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER)}},
};

#define N_RULES (sizeof hv_rules / sizeof hv_rules[0])
#define N_LINUX (sizeof hv_linux_rules / sizeof hv_linux_rules[0])

static int hv_sandboxed;

int hv_seccomp_enter(int linux_guest)
{
    struct vrf_sandbox_rule rules[N_RULES + N_LINUX];
    size_t n = N_RULES;
    memcpy(rules, hv_rules, sizeof hv_rules);
    if (linux_guest) {
        memcpy(rules + n, hv_linux_rules, sizeof hv_linux_rules);
        n += N_LINUX;
    }
    if (vrf_sandbox_enter("monitor", rules, n, CLI_EXIT_HOST) != 0)
        return -1;
    hv_sandboxed = 1;
    return 0;
}

/* Traps ioctl(KVM_SET_USER_MEMORY_REGION) whatever else is allowed: KVM
 * takes the command as an unsigned int, so only its low 32 bits count. */
static struct sock_filter lock_filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
             offsetof(struct seccomp_data, args[1])), /* low half */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KVM_SET_USER_MEMORY_REGION, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

int hv_seccomp_lock_memslots(void)
{
    struct sock_fprog prog = {
        .len = sizeof lock_filter / sizeof lock_filter[0],
        .filter = lock_filter,
    };
    if (!hv_sandboxed) {
        hv_log("--no-sandbox: memslot changes stay possible after the lock");
        return 0;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
        hv_err("seccomp (memslot lock) failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}
