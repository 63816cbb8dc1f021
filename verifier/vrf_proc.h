/* vrf_proc.h: the verifier process: the only writer of protected code.
 *
 * The monitor starts it before anything else (hv/hv_vrf.c): a separate
 * executable, hvpatch-verifier (verifier/vrf_main.c), that holds none of
 * the monitor's code or libraries. It loads the
 * guest image's code into a memfd it maps writable, seals the memfd
 * against every other writer, hands it to the monitor over SCM_RIGHTS,
 * and then serves the monitor's requests (verifier/vrf_msg.h) under a
 * seccomp allow-list with PR_SET_DUMPABLE 0. It exits when the monitor
 * closes its end of the socket, and dies with the monitor. */
#ifndef VRF_PROC_H
#define VRF_PROC_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>

/* Seals a code memfd carries before the monitor may map it: nobody can
 * resize it, map it writable anew, write() to it, or change the seals.
 * The verifier's own writable mapping, made before sealing, stays. */
#define VRF_CODE_SEALS \
    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

/* Inputs of hvpatch-verifier: the fds the monitor passes at these
 * numbers (every other fd is closed), the rest as options (vrf_main.c). */
#define VRF_PROC_FD_SOCK 3   /* its end of the monitor's socketpair */
#define VRF_PROC_FD_IMAGE 4  /* the guest image, a sealed memfd */
#define VRF_PROC_FD_INITRD 5 /* the Linux initrd, a sealed memfd (--initrd) */

/* Seals the image and initrd memfds must carry: the bytes the verifier
 * loads and measures cannot change under it. */
#define VRF_INPUT_SEALS                                                        \
    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

#define VRF_EXIT_FAIL 70 /* verifier start-up or sandbox failure */
#define VRF_EXIT_USAGE 2 /* bad options: not started by the monitor */

/* What the verifier measures and where its TPM is. */
struct vrf_proc_cfg {
    const char *tcti;   /* tpm2-tss TCTI string, or NULL: no TPM */
    unsigned tpm_flags; /* vrf_tpm_open() flags */
    uint64_t mem_size;  /* guest RAM: shapes the firmware stub */
    unsigned ncpus;
    const char *cmdline; /* guest command line, or NULL */
    const char *kind;    /* guest kind: "demo", or "linux" (the image is a
                            kernel file; its code memfd starts empty) */
    const uint8_t *initrd; /* Linux initrd (measured into PCR 9), or NULL */
    size_t initrd_len;
    const char *trust_dir;  /* trust store, or NULL: patching refused */
    const char *audit_path; /* audit log, or NULL: decisions not logged */
};

/* The verifier's main: sock is its end of the socketpair, image the guest
 * image (a sealed memfd's private read-only mapping). Before it says READY
 * it has loaded and sealed the code and, with a TPM, measured the boot
 * (PCR 0, 4, 8, 9). Never returns. */
void vrf_proc_main(int sock, const uint8_t *image, size_t len,
                   const struct vrf_proc_cfg *cfg) __attribute__((noreturn));

/* Creates a memfd of `size` bytes holding the protected segments of a
 * demo-style image (image NULL: all zero, for a Linux guest whose text is
 * locked later), maps it writable at *wmap, and seals it with
 * VRF_CODE_SEALS. Returns the fd, or -1 with the reason logged. */
int vrf_code_create(const uint8_t *image, size_t len, size_t size,
                    uint8_t **wmap);

#endif /* VRF_PROC_H */
