/* fuzz_linux.h: the body of the Linux kernel-image fuzz targets
 * (fuzz_bzimage.c, fuzz_pvh.c): parse with the given parser and, for
 * every image it accepts, lay it out in guest RAM with the boot firmware
 * and derive the boot CPU's state. */
#ifndef FUZZ_LINUX_H
#define FUZZ_LINUX_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "firmware/fw_linux.h"
#include "firmware/hv_linux.h"

#define FUZZ_LINUX_RAM_SIZE (16u << 20)

typedef int (*fuzz_linux_parse_fn)(const uint8_t *data, size_t size,
                                   struct hv_linux_image *img);

static inline void fuzz_linux_image(const uint8_t *data, size_t size,
                                    fuzz_linux_parse_fn parse)
{
    static uint8_t *ram;
    static const uint8_t initrd[4096];
    struct hv_linux_image img;
    struct fw_linux_layout lay;
    struct fw_linux_cpu cpu;
    if (!ram && !(ram = calloc(1, FUZZ_LINUX_RAM_SIZE)))
        return;
    if (parse(data, size, &img) != HV_LINUX_OK)
        return;
    struct fw_linux_config cfg = {
        .mem_size = FUZZ_LINUX_RAM_SIZE,
        .ncpus = 2,
        .cmdline = "console=ttyS0 quiet",
        .initrd_size = sizeof initrd,
    };
    if (fw_linux_setup(ram, &cfg, &img.boot, data, size, initrd, &lay) ==
        FW_LINUX_OK)
        fw_linux_cpu_state(&lay, &cpu);
}

#endif /* FUZZ_LINUX_H */
