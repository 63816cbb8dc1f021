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
#include "lib/vrf_file.h"

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
    char err[sizeof diag->text];
    int r = vrf_file_read(path, max, buf, len, err, sizeof err);

    switch (r) {
    case VRF_FILE_OK:
        return KEYS_OK;
    case VRF_FILE_ERR_TOO_LARGE:
        keys_diag_set(diag, "%s: %s, limit %zu", path, err, max);
        return KEYS_ERR_IO_TOO_LARGE;
    case VRF_FILE_ERR_ALLOC:
        keys_diag_set(diag, "%s: %s", path, err);
        return KEYS_ERR_ALLOC;
    default:
        keys_diag_set(diag, "%s: %s", path, err);
        return KEYS_ERR_IO_READ;
    }
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
    char err[sizeof diag->text];
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
    /* Only a regular file is ever replaced: rename() would as happily
     * put a key over /dev/null or a FIFO. Checked before the temporary
     * file is made, so nothing is written beside a refused path. */
    ret = KEYS_ERR_IO_WRITE;
    if (vrf_file_check_output(path, err, sizeof err) != VRF_FILE_OK) {
        keys_diag_set(diag, "%s: %s", path, err);
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
