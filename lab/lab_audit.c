/* lab_audit.c: compare a guest's current kernel text with its record:
 * intact, changed only as signed packages say, or changed in ways nobody
 * signed, located to LAB_GRANULE bytes. */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "lab/lab.h"

struct audit {
    const struct lab_record *rec;
    struct lab_pkgset *set;
    struct lab_report *rep;
    uint8_t *work;    /* the text with applied packages undone */
    uint8_t *changed; /* per page: digest differs from the record */
    size_t cap;       /* of rep->changes */
};

void lab_report_free(struct lab_report *rep)
{
    if (rep == NULL)
        return;
    free(rep->changes);
    memset(rep, 0, sizeof *rep);
}

static size_t page_len(const struct lab_record *rec, size_t page)
{
    uint64_t start = (uint64_t)page * LAB_PAGE_SIZE;

    return rec->text_size - start < LAB_PAGE_SIZE
               ? (size_t)(rec->text_size - start)
               : LAB_PAGE_SIZE;
}

/* 1 if page `page` of buf has the recorded digest, 0 if not, <0 error. */
static int page_intact(const struct lab_record *rec, const uint8_t *buf,
                       size_t page)
{
    uint8_t md[LAB_DIGEST_SIZE];

    if (mbedtls_sha256_ret(buf + page * LAB_PAGE_SIZE, page_len(rec, page), md,
                           0) != 0)
        return LAB_ERR_CRYPTO;
    return memcmp(md, rec->pages[page], sizeof md) == 0;
}

static int add_change(struct audit *a, struct lab_change c)
{
    struct lab_report *rep = a->rep;

    if (rep->n_changes > 0 && c.kind == LAB_CHANGE_UNKNOWN) {
        struct lab_change *last = &rep->changes[rep->n_changes - 1];

        if (last->kind == LAB_CHANGE_UNKNOWN &&
            last->off + last->size == c.off) { /* continues across pages */
            last->size += c.size;
            return LAB_OK;
        }
    }
    if (rep->n_changes == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct lab_change *p = realloc(rep->changes, cap * sizeof *p);

        if (p == NULL)
            return LAB_ERR_ALLOC;
        rep->changes = p;
        a->cap = cap;
    }
    rep->changes[rep->n_changes++] = c;
    return LAB_OK;
}

/* ------------------------------------------------------------------ packages
 */

/* Record r's place in the text: 1 inside (offset in *off), 0 wholly
 * outside, -1 straddling an edge. */
static int record_place(const struct lab_record *rec,
                        const struct vrf_record *r, uint64_t *off)
{
    uint64_t lo = rec->text_phys, hi = rec->text_phys + rec->text_size;

    if (r->size == 0 || r->gpa >= hi || r->gpa + r->size <= lo ||
        r->gpa + r->size < r->gpa)
        return 0;
    if (r->gpa < lo || r->gpa + r->size > hi)
        return -1;
    *off = r->gpa - lo;
    return 1;
}

static void note(struct lab_pkgfile *f, const char *what, size_t i,
                 uint64_t gpa)
{
    snprintf(f->note, sizeof f->note, "record %zu at 0x%llx %s", i,
             (unsigned long long)gpa, what);
}

/* A package is applied if it has records in the text and each of them
 * holds exactly its new bytes (in the text as later packages left it). */
static int package_applied(struct audit *a, struct lab_pkgfile *f)
{
    size_t inside = 0;

    for (size_t i = 0; i < f->pkg.n_records; i++) {
        const struct vrf_record *r = &f->pkg.records[i];
        const uint8_t *p;
        size_t len;
        uint64_t off;
        int place = record_place(a->rec, r, &off);

        if (place < 0) {
            note(f, "straddles an edge of the audited text", i, r->gpa);
            return 0;
        }
        if (place == 0)
            continue;
        vrf_record_new_bytes(r, &p, &len);
        if (len != r->size || memcmp(a->work + off, p, len) != 0) {
            note(f, "does not hold the package's new bytes", i, r->gpa);
            return 0;
        }
        inside++;
    }
    if (inside == 0)
        snprintf(f->note, sizeof f->note,
                 "no record inside the audited kernel text");
    return inside > 0;
}

/* 1 if any page that [off, off + size) touches differs from the record. */
static int on_changed_page(const struct audit *a, uint64_t off, uint64_t size)
{
    for (uint64_t p = off / LAB_PAGE_SIZE;
         p <= (off + size - 1) / LAB_PAGE_SIZE; p++)
        if (a->changed[p])
            return 1;
    return 0;
}

/* Put the pre-images back (zero for new code) and list the records. A
 * record on pages that equal the record file was already in place when
 * the record was taken: nothing to undo there. */
static int undo_package(struct audit *a, size_t fi)
{
    struct lab_pkgfile *f = &a->set->files[fi];

    for (size_t i = 0; i < f->pkg.n_records; i++) {
        const struct vrf_record *r = &f->pkg.records[i];
        uint64_t off;
        int ret;

        if (record_place(a->rec, r, &off) != 1 ||
            !on_changed_page(a, off, r->size))
            continue;
        if (r->kind == VRF_REC_CODE)
            memset(a->work + off, 0, r->size);
        else
            memcpy(a->work + off, r->pre.p, r->size);
        ret = add_change(a, (struct lab_change){LAB_CHANGE_SIGNED, off, r->size,
                                                (long)fi, (long)i});
        if (ret != LAB_OK)
            return ret;
    }
    return LAB_OK;
}

static int cmp_seq_desc(const void *x, const void *y, void *opaque)
{
    const struct lab_pkgset *set = opaque;
    const struct lab_pkgfile *a = &set->files[*(const size_t *)x];
    const struct lab_pkgfile *b = &set->files[*(const size_t *)y];

    if (a->pkg.sequence != b->pkg.sequence)
        return a->pkg.sequence > b->pkg.sequence ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Newest first, so that a package is judged on the bytes it left, with
 * any later package that overwrote them already undone. */
static int undo_packages(struct audit *a)
{
    struct lab_pkgset *set = a->set;
    size_t *order, n = 0;
    int ret = LAB_OK;

    if (set == NULL || set->n == 0)
        return LAB_OK;
    order = calloc(set->n, sizeof *order);
    if (order == NULL)
        return LAB_ERR_ALLOC;
    for (size_t i = 0; i < set->n; i++) {
        set->files[i].applied = 0;
        set->files[i].note[0] = '\0';
        if (set->files[i].status == VRF_OK)
            order[n++] = i;
    }
    qsort_r(order, n, sizeof *order, cmp_seq_desc, set);
    for (size_t k = 0; k < n && ret == LAB_OK; k++) {
        struct lab_pkgfile *f = &set->files[order[k]];

        f->applied = package_applied(a, f);
        if (f->applied)
            ret = undo_package(a, order[k]);
    }
    free(order);
    return ret;
}

/* ------------------------------------------------------------------ unknown */

/* The granules of an unexplained page that differ from the record, as
 * ranges; the whole page if the granule hashes cannot tell. */
static int locate(struct audit *a, size_t page)
{
    const uint16_t *want = a->rec->granules + page * LAB_GRANULES;
    const uint8_t *p = a->work + page * LAB_PAGE_SIZE;
    size_t len = page_len(a->rec, page), found = 0;
    uint64_t base = (uint64_t)page * LAB_PAGE_SIZE;

    for (size_t g = 0; g * LAB_GRANULE < len; g++) {
        size_t at = g * LAB_GRANULE;
        size_t n = len - at < LAB_GRANULE ? len - at : LAB_GRANULE;
        int ret;

        if (lab_granule_hash(p + at, n) == want[g])
            continue;
        found++;
        ret = add_change(
            a, (struct lab_change){LAB_CHANGE_UNKNOWN, base + at, n, -1, -1});
        if (ret != LAB_OK)
            return ret;
    }
    if (found == 0)
        return add_change(
            a, (struct lab_change){LAB_CHANGE_UNKNOWN, base, len, -1, -1});
    return LAB_OK;
}

static int cmp_change(const void *x, const void *y)
{
    const struct lab_change *a = x, *b = y;

    if (a->off != b->off)
        return a->off < b->off ? -1 : 1;
    return a->kind - b->kind;
}

/* ------------------------------------------------------------------ compare */

static int judge_pages(struct audit *a)
{
    struct lab_report *rep = a->rep;

    for (size_t i = 0; i < rep->n_pages; i++) {
        int ok;

        if (!a->changed[i])
            continue;
        ok = page_intact(a->rec, a->work, i);
        if (ok < 0)
            return ok;
        if (ok) {
            rep->pages_signed++;
        } else {
            rep->pages_unknown++;
            ok = locate(a, i);
            if (ok != LAB_OK)
                return ok;
        }
    }
    return LAB_OK;
}

int lab_audit_compare(const struct lab_record *rec, const uint8_t *text,
                      struct lab_pkgset *set, struct lab_report *rep)
{
    struct audit a = {rec, set, rep, NULL, NULL, 0};
    int ret = LAB_ERR_ARG;

    if (rep == NULL)
        return LAB_ERR_ARG;
    memset(rep, 0, sizeof *rep);
    if (rec == NULL || text == NULL || rec->n_pages == 0 ||
        rec->pages == NULL || rec->granules == NULL ||
        rec->n_pages != (rec->text_size + LAB_PAGE_SIZE - 1) / LAB_PAGE_SIZE)
        goto cleanup;
    rep->n_pages = rec->n_pages;
    ret = LAB_ERR_ALLOC;
    a.changed = calloc(rec->n_pages, 1);
    if (a.changed == NULL)
        goto cleanup;
    /* 1. Which pages differ from the record. */
    for (size_t i = 0; i < rec->n_pages; i++) {
        ret = page_intact(rec, text, i);
        if (ret < 0)
            goto cleanup;
        a.changed[i] = !ret;
        rep->pages_changed += !ret;
    }
    ret = LAB_OK;
    rep->verdict = LAB_VERDICT_INTACT;
    if (rep->pages_changed == 0)
        goto cleanup;
    /* 2. Undo what signed packages say they changed, on a copy. */
    ret = LAB_ERR_ALLOC;
    a.work = malloc(rec->text_size);
    if (a.work == NULL)
        goto cleanup;
    memcpy(a.work, text, rec->text_size);
    ret = undo_packages(&a);
    if (ret != LAB_OK)
        goto cleanup;
    /* 3. Pages that now match changed only as signed; the rest did not. */
    ret = judge_pages(&a);
    if (ret != LAB_OK)
        goto cleanup;
    qsort(rep->changes, rep->n_changes, sizeof *rep->changes, cmp_change);
    rep->verdict =
        rep->pages_unknown > 0 ? LAB_VERDICT_UNKNOWN : LAB_VERDICT_SIGNED;

cleanup:
    free(a.work);
    free(a.changed);
    if (ret != LAB_OK)
        lab_report_free(rep);
    return ret;
}
