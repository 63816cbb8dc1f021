/* vrf_sandbox.h: seccomp allow-lists (libseccomp) for hvpatch's processes.
 *
 * A denied system call raises SIGSYS; the handler names the call on stderr
 * and ends the process at once, so a sandbox violation is never silent and
 * never survivable. */
#ifndef VRF_SANDBOX_H
#define VRF_SANDBOX_H

#include <seccomp.h>
#include <stddef.h>
#include <sys/mman.h>

/* One allowed system call, optionally with up to two argument conditions
 * that must all hold. */
struct vrf_sandbox_rule {
    int nr;
    unsigned nargs;
    struct scmp_arg_cmp args[2];
};

/* The two conditions of an mmap rule that admits only memory a heap
 * needs: anonymous (fd == -1, compared in its low 32 bits) and never
 * executable. Use as {SCMP_SYS(mmap), 2, VRF_SANDBOX_MMAP_ANON_NOEXEC}. */
#define VRF_SANDBOX_MMAP_ANON_NOEXEC                                        \
    {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),                             \
     SCMP_A4(SCMP_CMP_MASKED_EQ, 0xffffffffu, 0xffffffffu)}

/* Installs an allow-list filter on every thread of the calling process
 * (TSYNC). who names the process in messages; exit_code is what the
 * process exits with on a violation. Returns 0, or -1 with the reason
 * logged. */
int vrf_sandbox_enter(const char *who, const struct vrf_sandbox_rule *rules,
                      size_t n, int exit_code);

/* Confines the calling process's file opens (Landlock, for good; every
 * thread created after) to reading files and listing directories beneath
 * dirfd: seccomp can pin openat's directory fd and flags but not its path,
 * which may be absolute or climb with "..". Sets no_new_privs. Returns 0,
 * 1 if the kernel has no Landlock (the caller goes on with seccomp's pin
 * alone; logged), or -1 (logged). */
int vrf_sandbox_fs_beneath(const char *who, int dirfd);

#endif /* VRF_SANDBOX_H */
