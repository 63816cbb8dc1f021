/* hv_seccomp.c: the monitor's seccomp allow-list, entered after set-up and
 * before any vCPU runs guest code.
 *
 * By then every file, memslot and socket the monitor needs is open, so it
 * cannot open files, create processes, or map executable memory. Memory it
 * may still map is anonymous (malloc); the protected-code memfd can be
 * mapped neither anew nor writable (the kernel refuses that too, because
 * of the memfd's seals: this is a second, independent wall). */
#include <linux/kvm.h>
#include <sys/mman.h>

#include "cli/cli.h"
#include "hv/hv_int.h"
#include "verifier/vrf_sandbox.h"

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

int hv_seccomp_enter(void)
{
    return vrf_sandbox_enter("monitor", hv_rules,
                             sizeof hv_rules / sizeof hv_rules[0],
                             CLI_EXIT_HOST);
}
