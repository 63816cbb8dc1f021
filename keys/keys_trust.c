/* keys_trust.c: load a trust-store directory (anchors/, crls/) into a
 * struct vrf_trust: the file I/O the verifier library does not do. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "keys/keys.h"

#define KEYS_TRUST_FILE_MAX (1u << 20)
#define KEYS_TRUST_MAX_FILES 128u
/* Read-only, never through a symbolic link at the last component: the
 * verifier's sandbox allows openat with exactly these flags (plus
 * O_DIRECTORY for the two subdirectories). */
#define KEYS_TRUST_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOFOLLOW)

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the non-dot files in dirfd/sub, sorted (so loading order,
 * and thus error messages and the digest, are reproducible). */
static int list_dir(int dirfd, const char *sub, const char *label,
                    char ***names, size_t *n, struct keys_diag *diag)
{
    int ret = KEYS_ERR_TRUST_DIR;
    DIR *d = NULL;
    struct dirent *de;
    char **v = NULL;
    size_t count = 0;
    int fd;

    *names = NULL;
    *n = 0;
    fd = openat(dirfd, sub, KEYS_TRUST_OPEN_FLAGS | O_DIRECTORY);
    if (fd >= 0 && (d = fdopendir(fd)) == NULL)
        close(fd);
    if (d == NULL) {
        keys_diag_set(diag, "%s: %s", label, strerror(errno));
        goto cleanup;
    }
    ret = KEYS_ERR_ALLOC;
    v = calloc(KEYS_TRUST_MAX_FILES, sizeof *v);
    if (v == NULL)
        goto cleanup;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        ret = KEYS_ERR_TRUST_LOAD;
        if (count == KEYS_TRUST_MAX_FILES) {
            keys_diag_set(diag, "%s: more than %u files", label,
                          KEYS_TRUST_MAX_FILES);
            goto cleanup;
        }
        ret = KEYS_ERR_ALLOC;
        v[count] = strdup(de->d_name);
        if (v[count] == NULL)
            goto cleanup;
        count++;
    }
    qsort(v, count, sizeof *v, cmp_names);
    *names = v;
    *n = count;
    v = NULL;
    ret = KEYS_OK;

cleanup:
    if (v != NULL) {
        for (size_t i = 0; i < count; i++)
            free(v[i]);
        free(v);
    }
    if (d != NULL)
        closedir(d);
    return ret;
}

/* Reads the regular file dirfd/path (at most KEYS_TRUST_FILE_MAX bytes)
 * with pread alone: the verifier's sandbox allows no read(). */
static int read_at(int dirfd, const char *path, const char *label,
                   uint8_t **buf, size_t *len, struct keys_diag *diag)
{
    int ret = KEYS_ERR_IO_READ;
    int fd = openat(dirfd, path, KEYS_TRUST_OPEN_FLAGS);
    struct stat st;
    uint8_t *b = NULL;
    size_t got = 0;
    ssize_t r;

    *buf = NULL;
    *len = 0;
    if (fd < 0 || fstat(fd, &st) != 0) {
        keys_diag_set(diag, "%s: %s", label,
                      errno == ELOOP ? "a symbolic link (not followed)"
                                     : strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        keys_diag_set(diag, "%s: not a regular file", label);
        goto cleanup;
    }
    ret = KEYS_ERR_IO_TOO_LARGE;
    if (st.st_size > (off_t)KEYS_TRUST_FILE_MAX) {
        keys_diag_set(diag, "%s: larger than %u bytes", label,
                      KEYS_TRUST_FILE_MAX);
        goto cleanup;
    }
    ret = KEYS_ERR_ALLOC;
    b = malloc((size_t)st.st_size + 1);
    if (b == NULL)
        goto cleanup;
    ret = KEYS_ERR_IO_READ;
    while (got < (size_t)st.st_size) {
        r = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            keys_diag_set(diag, "%s: %s", label,
                          r < 0 ? strerror(errno) : "shorter than its size");
            goto cleanup;
        }
        got += (size_t)r;
    }
    *buf = b;
    *len = got;
    b = NULL;
    ret = KEYS_OK;

cleanup:
    free(b);
    if (fd >= 0)
        close(fd);
    return ret;
}

/* The digest covers every file loaded: "sub/name", NUL, its length as 8
 * bytes big-endian, its bytes. */
static void digest_file(mbedtls_sha256_context *sha, const char *sub,
                        const char *name, const uint8_t *buf, size_t len)
{
    uint8_t l[8];

    for (int i = 0; i < 8; i++)
        l[i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    mbedtls_sha256_update_ret(sha, (const uint8_t *)sub, strlen(sub));
    mbedtls_sha256_update_ret(sha, (const uint8_t *)"/", 1);
    mbedtls_sha256_update_ret(sha, (const uint8_t *)name, strlen(name) + 1);
    mbedtls_sha256_update_ret(sha, l, sizeof l);
    mbedtls_sha256_update_ret(sha, buf, len);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

/* Load every file of dirfd/sub with add(); a missing optional dir is
 * fine. dir names the directory in messages. */
static int load_sub(struct vrf_trust *trust, int dirfd, const char *dir,
                    const char *sub, int optional,
                    int (*add)(struct vrf_trust *, const uint8_t *, size_t),
                    mbedtls_sha256_context *sha, size_t *loaded,
                    int *code, struct keys_diag *diag)
{
    int ret;
    char path[512], label[4096];
    char **names = NULL;
    size_t n = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct stat st;
    int vr;

    snprintf(label, sizeof label, "%s/%s", dir, sub);
    ret = KEYS_OK;
    if (optional && fstatat(dirfd, sub, &st, 0) != 0 && errno == ENOENT)
        goto cleanup;
    ret = list_dir(dirfd, sub, label, &names, &n, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", sub, names[i]);
        snprintf(label, sizeof label, "%s/%s/%s", dir, sub, names[i]);
        ret = read_at(dirfd, path, label, &buf, &len, diag);
        if (ret != KEYS_OK)
            goto cleanup;
        digest_file(sha, sub, names[i], buf, len);
        vr = trust != NULL ? add(trust, buf, len) : VRF_OK;
        keys_free(buf);
        buf = NULL;
        ret = KEYS_ERR_TRUST_LOAD;
        if (vr != VRF_OK) {
            keys_diag_set(diag, "%s: %s (%s)", label, vrf_strerror(vr),
                          vrf_errname(vr));
            *code = vr;
            goto cleanup;
        }
        (*loaded)++;
    }
    ret = KEYS_OK;

cleanup:
    keys_free(buf);
    free_names(names, n);
    return ret;
}

int keys_trust_load_at(struct vrf_trust *trust, int dirfd, const char *dir,
                       struct keys_trust_info *info, struct keys_diag *diag)
{
    int ret;
    size_t anchors = 0, crls = 0;
    int code = VRF_OK;
    mbedtls_sha256_context sha;

    mbedtls_sha256_init(&sha);
    mbedtls_sha256_starts_ret(&sha, 0);
    /* 1. Anchors first: a CRL is accepted only under its issuer. */
    ret = load_sub(trust, dirfd, dir, "anchors", 0, vrf_trust_add_anchors,
                   &sha, &anchors, &code, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = KEYS_ERR_TRUST_DIR;
    if (anchors == 0) {
        keys_diag_set(diag, "%s/anchors: no trust anchor", dir);
        goto cleanup;
    }
    /* 2. CRLs, if any. */
    ret = load_sub(trust, dirfd, dir, "crls", 1, vrf_trust_add_crl, &sha,
                   &crls, &code, diag);

cleanup:
    /* What was read, loaded or not: a failed load names its digest too. */
    if (info != NULL) {
        mbedtls_sha256_finish_ret(&sha, info->sha256);
        info->anchors = anchors;
        info->crls = crls;
        info->code = code;
    }
    mbedtls_sha256_free(&sha);
    return ret;
}

int keys_trust_load_dir(struct vrf_trust *trust, const char *dir,
                        struct keys_diag *diag)
{
    int ret = KEYS_ERR_TRUST_DIR;
    int fd = open(dir, KEYS_TRUST_OPEN_FLAGS | O_DIRECTORY);

    if (fd < 0) {
        keys_diag_set(diag, "%s: %s", dir, strerror(errno));
        goto cleanup;
    }
    ret = keys_trust_load_at(trust, fd, dir, NULL, diag);

cleanup:
    if (fd >= 0)
        close(fd);
    return ret;
}
