/* fuzz_sysmap.c: libFuzzer target for a Linux kernel's symbol table
 * parser (keys_sysmap.c: System.map or a copy of /proc/kallsyms, as the
 * author of a live patch hands it to `hvpatch build`): what it accepts is
 * a kernel's table, sorted both ways, in which every name finds itself or
 * is reported ambiguous. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keys_sysmap m;
    struct keys_diag d;
    const struct keys_ksym *s;

    if (keys_sysmap_parse((const char *)data, size, &m, &d) != KEYS_OK) {
        if (m.syms != NULL || m.n != 0 ||
            memchr(d.text, '\0', sizeof d.text) == NULL)
            abort();
        return 0;
    }
    if (m.n == 0 || m.etext <= m.text)
        abort();
    for (size_t i = 0; i < m.n; i++) {
        size_t len = strlen(m.syms[i].name);

        if (len == 0 || len > KEYS_SYSMAP_NAME_MAX ||
            (i > 0 && m.syms[i - 1].addr > m.syms[i].addr) ||
            (i > 0 && strcmp(m.syms[m.by_name[i - 1]].name,
                             m.syms[m.by_name[i]].name) > 0) ||
            m.by_name[i] >= m.n)
            abort();
    }
    for (size_t i = 0; i < m.n && i < 64; i++) {
        int r = keys_sysmap_find(&m, m.syms[i].name, &s, &d);

        if ((r == KEYS_OK && strcmp(s->name, m.syms[i].name) != 0) ||
            (r != KEYS_OK && r != KEYS_ERR_SYMBOL))
            abort();
        if (keys_sysmap_lower_bound(&m, m.syms[i].addr) > i)
            abort();
    }
    if (keys_sysmap_find(&m, "_text", &s, &d) != KEYS_OK || s->addr != m.text)
        abort();
    keys_sysmap_free(&m);
    return 0;
}
