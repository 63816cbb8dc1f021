/* hv_exe.c: finding hvpatch-monitor and hvpatch-verifier (hv_exe.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/hv_exe.h"
#include "lib/hv_log.h"

#ifndef HV_LIBEXECDIR
#define HV_LIBEXECDIR "/usr/local/libexec/hvpatch"
#endif

/* The directory of the running executable, into dir[0..size). */
static int self_dir(char *dir, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    if (n <= 0 || (size_t)n >= size - 1)
        return -1;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    return 0;
}

/* 0 if path (dir/name) fits and is an executable file. */
static int try_path(const char *dir, const char *name, char *path, size_t size)
{
    int n = snprintf(path, size, "%s/%s", dir, name);
    return n > 0 && (size_t)n < size && access(path, X_OK) == 0 ? 0 : -1;
}

int hv_exe_find(const char *name, char *path, size_t size)
{
    char dir[PATH_MAX], first[PATH_MAX + 64] = "(/proc/self/exe unreadable)";
    int err = 0;
    if (self_dir(dir, sizeof dir) == 0) {
        if (try_path(dir, name, path, size) == 0)
            return 0;
        err = errno;
        snprintf(first, sizeof first, "%s/%s", dir, name);
    }
    if (try_path(HV_LIBEXECDIR, name, path, size) == 0)
        return 0;
    hv_err("cannot find the %s program: tried %s (%s) and %s/%s (%s)", name,
           first, err ? strerror(err) : "-", HV_LIBEXECDIR, name,
           strerror(errno));
    return -1;
}
