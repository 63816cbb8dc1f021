/* fuzz_pvh.c: libFuzzer target for the PVH vmlinux parser and, for every
 * image it accepts, the boot firmware that lays it out in guest RAM
 * (tests/fuzz/fuzz_linux.h). */
#include "tests/fuzz/fuzz_linux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_linux_image(data, size, hv_linux_parse_pvh);
    return 0;
}
