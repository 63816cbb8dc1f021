/* vrf_file.c: open-for-reading and may-replace checks shared by every
 * command that reads or writes a file (see vrf_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "lib/vrf_file.h"

const char *vrf_file_kind(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return "a regular file";
    case S_IFDIR:
        return "a directory";
    case S_IFIFO:
        return "a FIFO";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFSOCK:
        return "a socket";
    case S_IFLNK:
        return "a symbolic link";
    default:
        return "of an unknown type";
    }
}

int vrf_file_open_read(const char *path, struct stat *st, char *err,
                       size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return VRF_FILE_ERR_OPEN;
    }
    if (fstat(fd, st) != 0) {
        snprintf(err, errlen, "fstat: %s", strerror(errno));
        close(fd);
        return VRF_FILE_ERR_IO;
    }
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "not a regular file (%s)",
                 vrf_file_kind(st->st_mode));
        close(fd);
        return VRF_FILE_ERR_TYPE;
    }
    /* Regular files ignore O_NONBLOCK; cleared so reads mean the same
     * on every file system. */
    if (fcntl(fd, F_SETFL, 0) != 0) {
        snprintf(err, errlen, "fcntl: %s", strerror(errno));
        close(fd);
        return VRF_FILE_ERR_IO;
    }
    return fd;
}

int vrf_file_read(const char *path, size_t max, uint8_t **buf, size_t *len,
                  char *err, size_t errlen)
{
    int ret, fd;
    struct stat st;
    uint8_t *p = NULL;
    size_t size = 0, got = 0;

    *buf = NULL;
    *len = 0;
    fd = ret = vrf_file_open_read(path, &st, err, errlen);
    if (fd < 0)
        goto cleanup;
    ret = VRF_FILE_ERR_TOO_LARGE;
    if ((uint64_t)st.st_size > max) {
        snprintf(err, errlen, "%lld bytes", (long long)st.st_size);
        goto cleanup;
    }
    size = (size_t)st.st_size;
    ret = VRF_FILE_ERR_ALLOC;
    p = malloc(size + 1); /* +1: never malloc(0); detects growth */
    if (p == NULL) {
        snprintf(err, errlen, "out of memory for %zu bytes", size);
        goto cleanup;
    }
    /* Read until EOF; one byte more than fstat said means it grew. */
    ret = VRF_FILE_ERR_IO;
    for (;;) {
        ssize_t n = read(fd, p + got, size + 1 - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "read: %s", strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > size) {
            snprintf(err, errlen, "changed while read");
            goto cleanup;
        }
    }
    *buf = p;
    *len = got;
    p = NULL;
    ret = VRF_FILE_OK;

cleanup:
    if (p != NULL) {
        mbedtls_platform_zeroize(p, size + 1);
        free(p);
    }
    if (fd >= 0)
        close(fd);
    return ret;
}

int vrf_file_check_output(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return VRF_FILE_OK;
        snprintf(err, errlen, "stat: %s", strerror(errno));
        return VRF_FILE_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen,
                 "exists and is not a regular file (%s); not replaced",
                 vrf_file_kind(st.st_mode));
        return VRF_FILE_ERR_TYPE;
    }
    return VRF_FILE_OK;
}
