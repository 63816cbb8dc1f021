/* fuzz_lab_map.c: libFuzzer target for the symbol map parser (a copy of a
 * possibly compromised guest's /proc/kallsyms and /proc/iomem): what it
 * accepts is a sane text range with sorted symbols inside it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lab/lab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lab_kmap m;
    struct lab_diag d;

    if (lab_kmap_parse((const char *)data, size, &m, &d) == LAB_OK) {
        if (m.text_size == 0 || m.text_size > LAB_TEXT_MAX_SIZE)
            abort();
        for (size_t i = 0; i < m.syms.n; i++)
            if (m.syms.syms[i].off >= m.text_size ||
                (i > 0 && m.syms.syms[i].off < m.syms.syms[i - 1].off))
                abort();
        (void)lab_symtab_find(&m.syms, m.text_size / 2);
    }
    lab_kmap_free(&m);
    return 0;
}
