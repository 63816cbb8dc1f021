/* lab_err.c: the lab's error messages and diagnostics. */
#include <stdarg.h>
#include <stdio.h>

#include "lab/lab.h"

static const struct {
    int code;
    const char *msg;
} lab_errors[] = {
    {LAB_OK, "success"},
    {LAB_ERR_ARG, "bad argument"},
    {LAB_ERR_ALLOC, "out of memory"},
    {LAB_ERR_IO, "file error"},
    {LAB_ERR_LIBVIRT, "libvirt call failed"},
    {LAB_ERR_XML, "libvirt XML did not parse"},
    {LAB_ERR_MAP, "unusable symbol map"},
    {LAB_ERR_RECORD, "invalid record file"},
    {LAB_ERR_DOMAIN, "wrong or inactive domain"},
    {LAB_ERR_LAYOUT, "kernel text is not where the map says"},
    {LAB_ERR_CRYPTO, "digest computation failed"},
    {LAB_ERR_PKG, "unusable package directory"},
};

const char *lab_strerror(int code)
{
    for (size_t i = 0; i < sizeof lab_errors / sizeof lab_errors[0]; i++)
        if (lab_errors[i].code == code)
            return lab_errors[i].msg;
    return "unknown error";
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
