/* lib_err.c: the one error-table lookup (see lib_err.h). */
#include <string.h>

#include "lib/lib_err.h"

const struct lib_err_row *lib_err_find(const struct lib_err_row *table,
                                       size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].code == code)
            return &table[i];
    return NULL;
}

const struct lib_err_row *lib_err_byname(const struct lib_err_row *table,
                                         size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].name != NULL && strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

const char *lib_err_msg(const struct lib_err_row *table, size_t n, int code)
{
    const struct lib_err_row *r = lib_err_find(table, n, code);

    return r != NULL ? r->msg : "unknown error";
}
