/* keys_trust.c: load a trust-store directory (anchors/, crls/) into a
 * struct vrf_trust: the file I/O the verifier library does not do. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keys/keys.h"

#define KEYS_TRUST_FILE_MAX (1u << 20)
#define KEYS_TRUST_MAX_FILES 128u

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the regular, non-dot files in dir, sorted (so loading
 * order, and thus error messages, are reproducible). */
static int list_dir(const char *dir, char ***names, size_t *n,
                    struct keys_diag *diag)
{
    int ret = KEYS_ERR_TRUST_DIR;
    DIR *d = NULL;
    struct dirent *de;
    char **v = NULL;
    size_t count = 0;

    *names = NULL;
    *n = 0;
    d = opendir(dir);
    if (d == NULL) {
        keys_diag_set(diag, "%s: %s", dir, strerror(errno));
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
            keys_diag_set(diag, "%s: more than %u files", dir,
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

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

/* Load every file of dir/sub with add(); a missing optional dir is fine. */
static int load_sub(struct vrf_trust *trust, const char *dir, const char *sub,
                    int optional,
                    int (*add)(struct vrf_trust *, const uint8_t *, size_t),
                    size_t *loaded, struct keys_diag *diag)
{
    int ret;
    char path[4096];
    char **names = NULL;
    size_t n = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct stat st;
    int vr;

    snprintf(path, sizeof path, "%s/%s", dir, sub);
    ret = KEYS_OK;
    if (optional && stat(path, &st) != 0 && errno == ENOENT)
        goto cleanup;
    ret = list_dir(path, &names, &n, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s/%s", dir, sub, names[i]);
        ret = keys_read_file(path, KEYS_TRUST_FILE_MAX, &buf, &len, diag);
        if (ret != KEYS_OK)
            goto cleanup;
        vr = add(trust, buf, len);
        keys_free(buf);
        buf = NULL;
        ret = KEYS_ERR_TRUST_LOAD;
        if (vr != VRF_OK) {
            keys_diag_set(diag, "%s: %s (%s)", path, vrf_strerror(vr),
                          vrf_errname(vr));
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

int keys_trust_load_dir(struct vrf_trust *trust, const char *dir,
                        struct keys_diag *diag)
{
    int ret;
    size_t anchors = 0, crls = 0;

    /* 1. Anchors first: a CRL is accepted only under its issuer. */
    ret = load_sub(trust, dir, "anchors", 0, vrf_trust_add_anchors, &anchors,
                   diag);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = KEYS_ERR_TRUST_DIR;
    if (anchors == 0) {
        keys_diag_set(diag, "%s/anchors: no trust anchor", dir);
        goto cleanup;
    }
    /* 2. CRLs, if any. */
    ret = load_sub(trust, dir, "crls", 1, vrf_trust_add_crl, &crls, diag);

cleanup:
    return ret;
}
