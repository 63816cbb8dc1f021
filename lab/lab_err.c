/* lab_err.c: the lab's error messages and diagnostics. */
#include <stdarg.h>
#include <stdio.h>

#include "lab/lab.h"
#include "lib/lib_err.h"

static const struct lib_err_row lab_errors[] = {
    LIB_ERR_ROW(LAB_OK, "success"),
    LIB_ERR_ROW(LAB_ERR_ARG, "bad argument"),
    LIB_ERR_ROW(LAB_ERR_ALLOC, "out of memory"),
    LIB_ERR_ROW(LAB_ERR_IO, "file error"),
    LIB_ERR_ROW(LAB_ERR_LIBVIRT, "libvirt call failed"),
    LIB_ERR_ROW(LAB_ERR_XML, "libvirt XML did not parse"),
    LIB_ERR_ROW(LAB_ERR_MAP, "unusable symbol map"),
    LIB_ERR_ROW(LAB_ERR_RECORD, "invalid record file"),
    LIB_ERR_ROW(LAB_ERR_DOMAIN, "wrong or inactive domain"),
    LIB_ERR_ROW(LAB_ERR_LAYOUT, "kernel text is not where the map says"),
    LIB_ERR_ROW(LAB_ERR_CRYPTO, "digest computation failed"),
    LIB_ERR_ROW(LAB_ERR_PKG, "unusable package directory"),
};

const char *lab_strerror(int code)
{
    return lib_err_msg(lab_errors, LIB_ERR_COUNT(lab_errors), code);
}

void lab_diag_set(struct lab_diag *d, const char *fmt, ...)
{
    va_list ap;

    if (d == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(d->text, sizeof d->text, fmt, ap);
    va_end(ap);
}
