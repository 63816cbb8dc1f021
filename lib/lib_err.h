/* lib_err.h: the one error-table lookup. Each component keeps its own
 * table of stable codes and messages (vrf_err.c, keys_err.c, lab_err.c,
 * ...); this is how any of them is searched. */
#ifndef LIB_ERR_H
#define LIB_ERR_H

#include <stddef.h>

/* One code. Tables that only give messages write {CODE, "message"} (name
 * stays NULL); tables that also name their codes write
 * LIB_ERR_ROW(CODE, "message"), which adds "CODE" as the name. */
struct lib_err_row {
    int code;
    const char *msg;
    const char *name;
};

#define LIB_ERR_ROW(c, m)                                                      \
    {                                                                          \
        c, m, #c                                                               \
    }
#define LIB_ERR_COUNT(table) (sizeof(table) / sizeof(table)[0])

/* The row of code in table[0 .. n), or NULL. */
const struct lib_err_row *lib_err_find(const struct lib_err_row *table,
                                       size_t n, int code);

/* The row whose name is name in table[0 .. n), or NULL. */
const struct lib_err_row *lib_err_byname(const struct lib_err_row *table,
                                         size_t n, const char *name);

/* The message of code in table[0 .. n), or "unknown error". */
const char *lib_err_msg(const struct lib_err_row *table, size_t n, int code);

#endif
