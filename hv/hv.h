/* hv.h: the hvpatch monitor's public interface (`hvpatch run`). */
#ifndef HV_H
#define HV_H

#include <stdint.h>

#include "lib/hv_abi.h"


#define HV_DEFAULT_CPUS 2u
#define HV_DEFAULT_MEM_MIB 64u
#define HV_LINUX_MEM_MIB 256u     /* default RAM for a Linux guest */
#define HV_LINUX_MIN_MEM_MIB 128u /* Debian's kernel needs ~62 MiB itself */

#define HV_START_PATCHES_MAX 64 /* --patch and --patches together */

struct hv_config {
    unsigned ncpus;           /* 1 .. HV_MAX_VCPUS */
    uint64_t mem_size;        /* bytes, HV_RAM_MIN .. HV_MAX_MEM_MIB MiB */
    const char *control_path; /* unix socket for QMP-style control, or NULL */
    const char *guest_path;   /* demo-style guest ELF, or NULL: built-in */
    const char *kernel_path;  /* Linux kernel (bzImage or PVH vmlinux), or
                                 NULL: a demo-style guest */
    const char *initrd_path;  /* Linux initrd, or NULL */
    const char *cmdline;      /* guest command line, or NULL */
    uint64_t start_ns;        /* CLOCK_MONOTONIC at `hvpatch run` start */
    int no_sandbox;           /* debugging: monitor without seccomp */
    int no_tpm;               /* run without a TPM (nothing measured) */
    const char *tpm_tcti;     /* an existing TPM (tpm2-tss TCTI), or NULL */
    const char *tpm_state;    /* swtpm state directory, or NULL: temporary */
    const char *trust_dir;    /* patch trust store, or NULL: no patching */
    const char *audit_path;   /* audit log (append-only), or NULL */
    /* Packages to apply before the guest runs (`--patch`, in order),
     * then those of `--patches DIR` (in name order). */
    const char *start_patches[HV_START_PATCHES_MAX];
    unsigned n_start_patches;
    const char *start_patches_dir;
    uint64_t health_window_ms; /* watch after each apply; 0: off */
};

/* Boots the guest described by cfg and runs it until it shuts down, is
 * told to quit, or the process gets SIGINT/SIGTERM. Returns a CLI_EXIT_*
 * code saying why it stopped; host set-up failures are reported on stderr
 * with the failed call named. */
/* `hvpatch run`'s options (argv[0] names the command) -> hv_run(); an
 * exit code (lib/cli_exit.h). hvpatch-monitor's main. */
int hv_cmd_run(int argc, char **argv);
int hv_run(const struct hv_config *cfg);

/* The built-in demo guest image (linked in by hv_demo_image.S). */
extern const uint8_t hv_demo_image[];
extern const uint8_t hv_demo_image_end[];

#endif /* HV_H */
