/* hv_log.c: the monitor's diagnostics on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/hv_log.h"

static void hv_vlog(const char *prefix, const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "hvpatch: %s", prefix);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (m < 0)
        return;
    size_t len = strnlen(line, sizeof line - 2);
    line[len++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void hv_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hv_vlog("", fmt, ap);
    va_end(ap);
}

void hv_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hv_vlog("error: ", fmt, ap);
    va_end(ap);
}

uint64_t hv_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
