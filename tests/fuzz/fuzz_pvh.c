/* fuzz_pvh.c: libFuzzer target for the PVH vmlinux parser and, for every
 * image it accepts, the boot firmware that lays it out in guest RAM. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "firmware/fw_linux.h"
#include "hv/hv_linux.h"

#define RAM_SIZE (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram;
    static const uint8_t initrd[4096];
    struct hv_linux_image img;
    struct fw_linux_layout lay;
    struct fw_linux_cpu cpu;
    if (!ram && !(ram = calloc(1, RAM_SIZE)))
        return 0;
    if (hv_linux_parse_pvh(data, size, &img) != HV_LINUX_OK)
        return 0;
    struct fw_linux_config cfg = {
        .mem_size = RAM_SIZE,
        .ncpus = 2,
        .cmdline = "console=ttyS0 quiet",
        .initrd_size = sizeof initrd,
    };
    if (fw_linux_setup(ram, &cfg, &img.boot, data, size, initrd, &lay) ==
        FW_LINUX_OK)
        fw_linux_cpu_state(&lay, &cpu);
    return 0;
}
