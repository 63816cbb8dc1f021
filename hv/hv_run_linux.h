/* hv_run_linux.h: a Linux guest for `hvpatch run --kernel`.
 *
 * The assembly (docs/MONITOR.md, "Layers"), like hv_run.c: may include
 * every layer's headers. */
#ifndef HV_RUN_LINUX_H
#define HV_RUN_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/fw_linux.h"
#include "firmware/hv_linux.h"
#include "hv/dev/hv_dev_serial.h"
#include "hv/hv.h"

struct hv_vm;

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
 * boot vCPU only) and attaches uart to IRQ 4. Needs the irqchip and the
 * vCPUs created. Returns 0 or -1 (logged). */
int hv_linux_guest_boot(struct hv_vm *vm, const struct hv_config *cfg,
                        const struct hv_linux_guest *g,
                        struct hv_serial *uart);
void hv_linux_guest_free(struct hv_linux_guest *g);

#endif /* HV_RUN_LINUX_H */
