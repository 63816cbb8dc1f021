/* keys_io.c: whole-file reads with a size limit, and atomic writes with an
 * exact mode (0600 for private keys whatever the umask). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "keys/keys.h"

void keys_free(void *p)
{
    free(p);
}

void keys_free_secret(void *p, size_t len)
{
    if (p == NULL)
        return;
    mbedtls_platform_zeroize(p, len);
    free(p);
}

int keys_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
                   struct keys_diag *diag)
{
    int ret = KEYS_ERR_IO_READ;
    int fd = -1;
    struct stat st;
    uint8_t *p = NULL;
    size_t got = 0;

    *buf = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        keys_diag_set(diag, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        keys_diag_set(diag, "%s: not a regular file", path);
        goto cleanup;
    }
    ret = KEYS_ERR_IO_TOO_LARGE;
    if ((uint64_t)st.st_size > max) {
        keys_diag_set(diag, "%s: %lld bytes, limit %zu", path,
                      (long long)st.st_size, max);
        goto cleanup;
    }
    ret = KEYS_ERR_ALLOC;
    p = malloc((size_t)st.st_size + 1); /* +1: never malloc(0) */
    if (p == NULL)
        goto cleanup;
    /* Read until EOF; one byte more than expected means it grew. */
    ret = KEYS_ERR_IO_READ;
    for (;;) {
        ssize_t n = read(fd, p + got, (size_t)st.st_size + 1 - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            keys_diag_set(diag, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > (size_t)st.st_size) {
            keys_diag_set(diag, "%s: changed while read", path);
            goto cleanup;
        }
    }
    *buf = p;
    *len = got;
    p = NULL;
    ret = KEYS_OK;

cleanup:
    if (p != NULL)
        keys_free_secret(p, (size_t)st.st_size + 1);
    if (fd >= 0)
        close(fd);
    return ret;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int keys_write_file(const char *path, const uint8_t *buf, size_t len,
                    unsigned flags, struct keys_diag *diag)
{
    int ret = KEYS_ERR_IO_WRITE;
    int fd = -1, dfd = -1;
    char *tmp = NULL, *dcopy = NULL;
    size_t plen = strlen(path);
    mode_t mode = (flags & KEYS_WRITE_PRIVATE) ? 0600 : 0644;

    ret = KEYS_ERR_ALLOC;
    tmp = malloc(plen + 16);
    dcopy = strdup(path);
    if (tmp == NULL || dcopy == NULL)
        goto cleanup;
    snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);

    ret = KEYS_ERR_IO_EXISTS;
    if ((flags & KEYS_WRITE_EXCL) && access(path, F_OK) == 0) {
        keys_diag_set(diag, "%s: exists", path);
        goto cleanup;
    }

    /* mkostemp creates the file 0600; fchmod sets the final mode exactly
     * (the umask only ever removes bits). */
    ret = KEYS_ERR_IO_WRITE;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        keys_diag_set(diag, "%s: %s", path, strerror(errno));
        tmp[0] = '\0';
        goto cleanup;
    }
    if (fchmod(fd, mode) != 0 || write_all(fd, buf, len) != 0 ||
        fsync(fd) != 0) {
        keys_diag_set(diag, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        keys_diag_set(diag, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;

    /* Publish: link() refuses an existing name atomically, rename()
     * replaces it atomically. */
    if (flags & KEYS_WRITE_EXCL) {
        if (link(tmp, path) != 0) {
            ret = errno == EEXIST ? KEYS_ERR_IO_EXISTS : KEYS_ERR_IO_WRITE;
            keys_diag_set(diag, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
    } else if (rename(tmp, path) != 0) {
        keys_diag_set(diag, "%s: %s", path, strerror(errno));
        goto cleanup;
    } else {
        tmp[0] = '\0';
    }
    dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd);
    ret = KEYS_OK;

cleanup:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    if (tmp != NULL && tmp[0] != '\0')
        (void)unlink(tmp);
    free(tmp);
    free(dcopy);
    return ret;
}
