/* fuzz_elf.c: libFuzzer target for the guest image parser and loader. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/hv_abi.h"
#include "lib/hv_elf.h"

static const struct hv_elf_region regions[] = {
    {HV_PROT_KTEXT, HV_PROT_PART_SIZE, 0, "kernel text"},
    {HV_PROT_UTEXT, HV_PROT_PART_SIZE, 0, "user text"},
    {HV_KDATA_GPA, HV_KDATA_SIZE + HV_UDATA_SIZE, 1, "data"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *dst[3];
    struct hv_elf_image img;
    if (!dst[0])
        for (int i = 0; i < 3; i++)
            dst[i] = calloc(1, regions[i].size);
    if (hv_elf_parse(data, size, regions, 3, 0, &img) == HV_ELF_OK)
        hv_elf_load(&img, data, regions, dst);
    return 0;
}
