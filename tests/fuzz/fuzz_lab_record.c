/* fuzz_lab_record.c: libFuzzer target for the kernel-text record parser
 * (hvpatch audit --check FILE): whatever parses must also re-encode and
 * parse back to the same pages and symbols. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lab_record r, back;
    struct lab_diag d;
    char *buf = NULL;
    size_t len = 0;

    lab_record_init(&r);
    lab_record_init(&back);
    if (lab_record_parse(data, size, &r, &d) == LAB_OK &&
        lab_record_encode(&r, &buf, &len) == LAB_OK) {
        if (lab_record_parse((const uint8_t *)buf, len, &back, &d) != LAB_OK ||
            back.n_pages != r.n_pages || back.syms.n != r.syms.n ||
            memcmp(back.pages, r.pages, r.n_pages * LAB_DIGEST_SIZE) != 0)
            abort();
        for (size_t i = 0; i < r.syms.n; i++)
            if (lab_symtab_find(&r.syms, r.syms.syms[i].off) == NULL)
                abort();
    }
    free(buf);
    lab_record_free(&back);
    lab_record_free(&r);
    return 0;
}
