/* lab_pkgs.c: the signed packages an audit may credit with a change: every
 * file of a --packages directory, verified by the package verifier
 * (pkg/vrf.h) against a trust store. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keys/keys.h"
#include "lab/lab.h"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(((const struct lab_pkgfile *)a)->name,
                  ((const struct lab_pkgfile *)b)->name);
}

/* The regular, non-hidden files of dir, sorted by name. */
static int list_dir(struct lab_pkgset *set, const char *dir, struct lab_diag *d)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    int ret = LAB_ERR_ALLOC;

    if (dh == NULL) {
        lab_diag_set(d, "%s: %s", dir, strerror(errno));
        return LAB_ERR_PKG;
    }
    set->files = calloc(LAB_MAX_PACKAGES, sizeof *set->files);
    if (set->files == NULL)
        goto cleanup;
    while ((de = readdir(dh)) != NULL) {
        char path[4096];
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        ret = LAB_ERR_PKG;
        if (set->n == LAB_MAX_PACKAGES || strlen(de->d_name) >= 256) {
            lab_diag_set(d,
                         "%s: more than %u packages, or a name of 256 "
                         "bytes or more",
                         dir, LAB_MAX_PACKAGES);
            goto cleanup;
        }
        snprintf(set->files[set->n].name, sizeof set->files[set->n].name, "%s",
                 de->d_name);
        vrf_pkg_init(&set->files[set->n].pkg);
        set->n++;
    }
    qsort(set->files, set->n, sizeof *set->files, cmp_names);
    ret = LAB_OK;

cleanup:
    closedir(dh);
    return ret;
}

/* Steps 7 to 9 of the verifier are apply-time checks against a live
 * guest (its baseline image, its sequence counter, the bytes a record is
 * about to replace). An audit comes after the fact, so they are satisfied
 * here by the package's own statement, and the audit judges the bytes
 * itself against the recorded digests. What vrf_verify() still decides:
 * 1 parse, 2 chain, 3 EKU, 4 validity, 5 revocation, 6 signature, the
 * guest kind ("linux"), and 10's structure (no overlaps, redirects into
 * the package's own code). */
static int own_preimage(void *opaque, uint64_t gpa, uint8_t *buf, size_t len)
{
    const struct vrf_pkg *pkg = opaque;

    for (size_t i = 0; i < pkg->n_records; i++) {
        const struct vrf_record *r = &pkg->records[i];

        if (gpa < r->gpa || gpa - r->gpa > r->size ||
            len > r->size - (gpa - r->gpa))
            continue;
        if (r->kind == VRF_REC_CODE)
            memset(buf, 0, len);
        else
            memcpy(buf, r->pre.p + (gpa - r->gpa), len);
        return 0;
    }
    return -1;
}

static int verify_one(struct vrf_trust *trust, struct lab_pkgfile *f,
                      int64_t now)
{
    struct vrf_range *ranges = NULL;
    struct vrf_ctx ctx;
    int ret;

    ret = vrf_pkg_parse(&f->pkg, f->buf, f->len);
    if (ret != VRF_OK)
        return ret;
    ret = VRF_ERR_ALLOC;
    ranges = calloc(f->pkg.n_records ? f->pkg.n_records : 1, sizeof *ranges);
    if (ranges == NULL)
        return ret;
    for (size_t i = 0; i < f->pkg.n_records; i++) {
        const struct vrf_record *r = &f->pkg.records[i];

        ranges[i] = (struct vrf_range){
            r->gpa, r->size,
            r->kind == VRF_REC_CODE ? VRF_RANGE_PATCH_AREA : VRF_RANGE_CODE, 0, 0};
    }
    memset(&ctx, 0, sizeof ctx);
    memcpy(ctx.baseline, f->pkg.baseline, sizeof ctx.baseline);
    ctx.kind = "linux";
    ctx.current_seq = f->pkg.sequence > 0 ? f->pkg.sequence - 1 : 0;
    ctx.now = now;
    ctx.read = own_preimage;
    ctx.read_opaque = &f->pkg; /* re-parsed in place by vrf_verify */
    ctx.ranges = ranges;
    ctx.n_ranges = f->pkg.n_records;
    ret = vrf_verify(trust, &ctx, f->buf, f->len, &f->pkg);
    free(ranges);
    return ret;
}

int lab_pkgset_load(struct lab_pkgset *set, const char *dir,
                    const char *trust_dir, int64_t now, struct lab_diag *d)
{
    struct vrf_trust trust;
    struct keys_diag kd = {""};
    int ret;

    memset(set, 0, sizeof *set);
    vrf_trust_init(&trust);
    ret = LAB_ERR_PKG;
    if (keys_trust_load_dir(&trust, trust_dir, &kd) != KEYS_OK) {
        lab_diag_set(d, "trust store %s: %s", trust_dir, kd.text);
        goto cleanup;
    }
    ret = list_dir(set, dir, d);
    if (ret != LAB_OK)
        goto cleanup;
    for (size_t i = 0; i < set->n; i++) {
        struct lab_pkgfile *f = &set->files[i];
        char path[4096];
        int kr;

        snprintf(path, sizeof path, "%s/%s", dir, f->name);
        kr = keys_read_file(path, VRF_PKG_MAX_SIZE, &f->buf, &f->len, &kd);
        if (kr == KEYS_ERR_IO_TOO_LARGE) {
            f->status = VRF_ERR_PARSE_TOO_LARGE;
            continue;
        }
        ret = LAB_ERR_IO;
        if (kr != KEYS_OK) {
            lab_diag_set(d, "%s", kd.text);
            goto cleanup;
        }
        f->status = verify_one(&trust, f, now);
    }
    ret = LAB_OK;

cleanup:
    vrf_trust_free(&trust);
    if (ret != LAB_OK)
        lab_pkgset_free(set);
    return ret;
}

void lab_pkgset_free(struct lab_pkgset *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++) {
        vrf_pkg_free(&set->files[i].pkg);
        keys_free(set->files[i].buf);
    }
    free(set->files);
    memset(set, 0, sizeof *set);
}
