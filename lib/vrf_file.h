/* vrf_file.h: the one way every hvpatch command opens a file it reads
 * (packages, keys, certificates, CRLs, images, logs, attestation files)
 * and checks a path it is about to replace: regular files only, and an
 * open that never blocks, so a FIFO, a device or a directory named as a
 * file is a clear error instead of a hang or a clobbered device node. */
#ifndef VRF_FILE_H
#define VRF_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Results; callers map them to their own error codes. */
#define VRF_FILE_OK 0
#define VRF_FILE_ERR_IO -1        /* fstat, read (or stat) failed */
#define VRF_FILE_ERR_TYPE -2      /* exists but is not a regular file */
#define VRF_FILE_ERR_TOO_LARGE -3 /* more than the caller's limit */
#define VRF_FILE_ERR_ALLOC -4     /* out of memory */
#define VRF_FILE_ERR_OPEN -5      /* open failed (missing, no access, ...) */

/* Every function here puts the reason in err without the path, which the
 * caller names in its own words ("PATH: not a regular file (a FIFO)"). */

/* "a FIFO", "a directory", "a character device", ... for st_mode. */
const char *vrf_file_kind(unsigned mode);

/* Opens path read-only with O_NONBLOCK | O_CLOEXEC | O_NOCTTY (a FIFO
 * or a device never blocks the open), fstats it into *st and returns the
 * fd if it is a regular file, with O_NONBLOCK cleared again. Otherwise
 * returns VRF_FILE_ERR_OPEN (err: strerror), VRF_FILE_ERR_TYPE (err:
 * "not a regular file (a FIFO)", ...) or VRF_FILE_ERR_IO. */
int vrf_file_open_read(const char *path, struct stat *st, char *err,
                       size_t errlen);

/* Reads the whole regular file path of at most max bytes into a new
 * buffer (*buf, *len; free() it; 1 byte more is allocated, so an empty
 * file gives a non-NULL buffer). The size is checked before anything is
 * read, and a file that grows while read is an error. Returns a
 * VRF_FILE_* result and the reason in err (too large: "N bytes", the
 * limit is the caller's to state). On failure the buffer is wiped and
 * freed (the file may be a private key). */
int vrf_file_read(const char *path, size_t max, uint8_t **buf, size_t *len,
                  char *err, size_t errlen);

/* Checks that path may be replaced by a new regular file: it does not
 * exist, or it is a regular file (a symbolic link is followed: a link to
 * a regular file is fine, a link to anything else is not). Returns
 * VRF_FILE_OK, VRF_FILE_ERR_TYPE (err: "exists and is not a regular
 * file (a FIFO); not replaced") or VRF_FILE_ERR_IO (stat failed other
 * than ENOENT). */
int vrf_file_check_output(const char *path, char *err, size_t errlen);

#endif /* VRF_FILE_H */
