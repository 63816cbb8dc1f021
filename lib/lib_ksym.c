/* lib_ksym.c: the shared part of reading a kernel symbol table (see
 * lib_ksym.h). */
#include <stdio.h>
#include <string.h>

#include "lib/lib_ksym.h"

int lib_ksym_check_file(const char *buf, size_t len, size_t *n_lines,
                        struct lib_ksym_why *why)
{
    const char *end = buf + len;
    size_t n = 0;

    if (len > LIB_KSYM_MAX_SIZE) {
        snprintf(why->text, sizeof why->text, "%zu bytes, limit %u", len,
                 LIB_KSYM_MAX_SIZE);
        return -1;
    }
    if (len == 0) {
        snprintf(why->text, sizeof why->text, "empty file");
        return -1;
    }
    if (memchr(buf, '\0', len) != NULL) {
        snprintf(why->text, sizeof why->text,
                 "holds a NUL byte: not a text file");
        return -1;
    }
    for (const char *q = buf; q < end; n++) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));

        q = nl != NULL ? nl + 1 : end;
    }
    if (n > LIB_KSYM_MAX_LINES) {
        snprintf(why->text, sizeof why->text, "more than %u lines",
                 LIB_KSYM_MAX_LINES);
        return -1;
    }
    *n_lines = n;
    return 0;
}

int lib_ksym_is_text(char type)
{
    return type == 'T' || type == 't' || type == 'W' || type == 'w';
}

static int is_name(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

const char *lib_ksym_note(struct lib_ksym_text *t, uint64_t addr,
                          const char *name, size_t name_len, int module)
{
    if (addr != 0)
        t->any_addr = 1;
    if (module)
        return NULL;
    if (is_name(name, name_len, "_text")) {
        if (t->have_text && t->text != addr)
            return "_text defined twice";
        t->have_text = 1;
        t->text = addr;
    } else if (is_name(name, name_len, "_etext")) {
        if (t->have_etext && t->etext != addr)
            return "_etext defined twice";
        t->have_etext = 1;
        t->etext = addr;
    }
    return NULL;
}

int lib_ksym_text_check(const struct lib_ksym_text *t, struct lib_ksym_why *why)
{
    if (!t->any_addr) {
        snprintf(why->text, sizeof why->text,
                 "every address is 0: /proc/kallsyms was read without root "
                 "(kptr_restrict); read it as root");
        return -1;
    }
    if (!t->have_text || !t->have_etext) {
        snprintf(why->text, sizeof why->text,
                 "no %s symbol: not a kernel symbol table",
                 t->have_text ? "_etext" : "_text");
        return -1;
    }
    return 0;
}
