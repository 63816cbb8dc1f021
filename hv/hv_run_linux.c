/* hv_run_linux.c: `hvpatch run --kernel`: a Linux guest's files, command
 * line, memory and vCPUs, as docs/LINUX.md ("What the monitor must do")
 * lists them. hv_run.c calls it where the demo guest has its own steps. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/dev/hv_dev_serial.h"
#include "hv/hv_run_linux.h"
#include "hv/machine/hv_machine.h"
#include "lib/hv_log.h"
#include "lib/vrf_file.h"

uint8_t *hv_read_file(const char *path, const char *what, uint64_t max,
                      size_t *len)
{
    char err[256];
    uint8_t *buf = NULL;
    int r = vrf_file_read(path, max, &buf, len, err, sizeof err);

    if (r == VRF_FILE_ERR_OPEN)
        hv_err("%s %s: open failed: %s", what, path, err);
    else if (r == VRF_FILE_ERR_TOO_LARGE)
        hv_err("%s %s: %s, more than the %" PRIu64 " MiB limit", what, path,
               err, max >> 20);
    else if (r != VRF_FILE_OK)
        hv_err("%s %s: %s", what, path, err);
    else if (*len == 0)
        hv_err("%s %s: empty file", what, path);
    else
        return buf;
    free(buf);
    return NULL;
}

/* True if word is one of the space-separated words of s. */
static int has_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = s; (p = strstr(p, word)) != NULL; p += n)
        if ((p == s || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* The command line the guest gets and the TPM measures: --append or the
 * default, plus "noxsave" on kvm_pvm, where KVM's emulator lacks the
 * XSAVE family (hiding it in CPUID alone was not seen to reach Linux's
 * FPU code there). kvmclock stays visible, so no tsc_early_khz. */
static int make_cmdline(const struct hv_config *cfg, int pvm,
                        struct hv_linux_guest *g)
{
    const char *base = cfg->cmdline ? cfg->cmdline : FW_LINUX_CMDLINE_DEFAULT;
    const char *extra = pvm && !has_word(base, "noxsave") ? " noxsave" : "";
    int n = snprintf(g->cmdline, sizeof g->cmdline, "%s%s", base, extra);
    if (n < 0 || (size_t)n >= sizeof g->cmdline ||
        (uint64_t)n > g->img.boot.cmdline_max) {
        hv_err("kernel command line: %d bytes, this kernel takes at most %u", n,
               (unsigned)g->img.boot.cmdline_max);
        return -1;
    }
    return 0;
}

static void config(const struct hv_config *cfg, const struct hv_linux_guest *g,
                   struct fw_linux_config *fc)
{
    *fc = (struct fw_linux_config){
        .mem_size = cfg->mem_size,
        .ncpus = cfg->ncpus,
        .cmdline = g->cmdline,
        .initrd_size = g->initrd_len,
        /* The protected-code memslot: never RAM to Linux. */
        .nreserved = 1,
        .reserved = {{.gpa = HV_PROT_BASE, .size = HV_PROT_SIZE}},
    };
}

int hv_linux_guest_load(const struct hv_config *cfg, int pvm,
                        struct hv_linux_guest *g)
{
    struct fw_linux_config fc;
    struct fw_linux_layout lay;
    memset(g, 0, sizeof *g);
    g->kernel = hv_read_file(cfg->kernel_path, "kernel", HV_LINUX_MAX_SIZE,
                             &g->kernel_len);
    if (!g->kernel)
        return -1;
    int e = hv_linux_parse(g->kernel, g->kernel_len, &g->img);
    if (e != HV_LINUX_OK) {
        hv_err("kernel %s rejected: %s", cfg->kernel_path,
               hv_linux_strerror(e));
        return -1;
    }
    if (cfg->initrd_path) {
        g->initrd = hv_read_file(cfg->initrd_path, "initrd",
                                 HV_LINUX_INITRD_MAX, &g->initrd_len);
        if (!g->initrd)
            return -1;
    }
    if (make_cmdline(cfg, pvm, g) != 0)
        return -1;
    /* Everything that can be checked before the guest exists. */
    config(cfg, g, &fc);
    e = fw_linux_plan(&fc, &g->img.boot, &lay);
    if (e != FW_LINUX_OK) {
        hv_err("kernel %s: cannot lay out the guest in %" PRIu64 " MiB: %s",
               cfg->kernel_path, cfg->mem_size >> 20, fw_linux_strerror(e));
        return -1;
    }
    return 0;
}

void hv_linux_guest_free(struct hv_linux_guest *g)
{
    free(g->kernel);
    free(g->initrd);
    g->kernel = g->initrd = NULL;
}

/* The UART's interrupt: ISA IRQ 4 of the in-kernel irqchip (IOAPIC pin 4,
 * edge-triggered, active high, as the DSDT's IRQNoFlags says). */
static void serial_irq(void *ctx, int level)
{
    hv_kvm_irq_line(ctx, FW_LINUX_COM1_IRQ, level);
}

int hv_linux_guest_boot(struct hv_vm *vm, const struct hv_config *cfg,
                        const struct hv_linux_guest *g,
                        struct hv_serial *uart)
{
    struct fw_linux_config fc;
    struct fw_linux_layout lay;
    struct fw_linux_cpu cpu;
    config(cfg, g, &fc);
    int e = fw_linux_setup(vm->ram, &fc, &g->img.boot, g->kernel, g->kernel_len,
                           g->initrd, &lay);
    if (e != FW_LINUX_OK) { /* fw_linux_plan() passed: cannot happen */
        hv_err("Linux boot firmware: %s", fw_linux_strerror(e));
        return -1;
    }
    fw_linux_cpu_state(&lay, &cpu);
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (hv_x86_setup_linux_vcpu(&vm->vcpu[i], i == 0 ? &cpu : NULL))
            return -1;
    hv_serial_set_irq(uart, serial_irq, vm);
    hv_log("Linux %s entry at 0x%" PRIx64 ", kernel 0x%" PRIx64 "-0x%" PRIx64
           ", initrd %" PRIu64 " bytes at 0x%" PRIx64 "; command line: %s",
           lay.kind == FW_LINUX_ENTRY_PVH ? "PVH" : "64-bit bzImage", lay.entry,
           lay.kernel_start, lay.kernel_end, lay.initrd_size, lay.initrd_gpa,
           g->cmdline);
    return 0;
}
