/* test_lab_audit.c: drift against a record: intact; unknown changes
 * located to 16 bytes; changes explained by signed packages (records
 * undone newest first); packages that are not applied, not verified or
 * already in the record explain nothing; and the --packages loader's
 * verdicts on files that are not packages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab/lab.h"

#define PHYS 0x1000000ull
#define SIZE (4 * 4096 + 512)

static uint8_t base[SIZE];

static void make_base(void)
{
    for (size_t i = 0; i < SIZE; i++)
        base[i] = (uint8_t)(i * 13 + (i >> 9));
}

static void make_record(struct lab_record *r, const uint8_t *text)
{
    lab_record_init(r);
    r->text_phys = PHYS;
    r->text_virt = 0xffffffff81000000ull;
    r->text_size = SIZE;
    assert_int_equal(lab_record_digest(r, text), LAB_OK);
}

/* A verified-looking package (the loader's verdict is status). */
struct fake_pkg {
    struct vrf_record recs[4];
    uint8_t pre[4][8], data[4][8];
};

static void add_replace(struct lab_pkgfile *f, struct fake_pkg *fp,
                        uint64_t off, const uint8_t *pre, const uint8_t *data,
                        size_t len)
{
    size_t i = f->pkg.n_records++;

    memcpy(fp->pre[i], pre, len);
    memcpy(fp->data[i], data, len);
    fp->recs[i] = (struct vrf_record){
        .kind = VRF_REC_REPLACE,
        .gpa = PHYS + off,
        .size = len,
        .pre = {fp->pre[i], len},
        .data = {fp->data[i], len},
    };
    f->pkg.records = fp->recs;
}

static void init_file(struct lab_pkgfile *f, const char *id, uint64_t seq,
                      int status)
{
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s.hvp", id);
    snprintf(f->pkg.id, sizeof f->pkg.id, "%s", id);
    f->pkg.sequence = seq;
    f->status = status;
}

static void intact(void **state)
{
    struct lab_record r;
    struct lab_report rep;

    (void)state;
    make_base();
    make_record(&r, base);
    assert_int_equal(lab_audit_compare(&r, base, NULL, &rep), LAB_OK);
    assert_int_equal(rep.verdict, LAB_VERDICT_INTACT);
    assert_int_equal(rep.pages_changed, 0);
    assert_int_equal(rep.n_changes, 0);
    lab_report_free(&rep);
    lab_record_free(&r);
}

static void unknown_located(void **state)
{
    static uint8_t now[SIZE];
    struct lab_record r;
    struct lab_report rep;

    (void)state;
    make_base();
    make_record(&r, base);
    memcpy(now, base, SIZE);
    now[0x1005] ^= 0xff;    /* page 1, granule 0x1000 */
    now[4096 * 2 - 1] ^= 1; /* end of page 1 ... */
    now[4096 * 2] ^= 1;     /* ... and start of page 2: one range */
    now[SIZE - 1] ^= 1;     /* the short last page */
    assert_int_equal(lab_audit_compare(&r, now, NULL, &rep), LAB_OK);
    assert_int_equal(rep.verdict, LAB_VERDICT_UNKNOWN);
    assert_int_equal(rep.pages_changed, 3);
    assert_int_equal(rep.pages_unknown, 3);
    assert_int_equal(rep.n_changes, 3);
    assert_int_equal(rep.changes[0].kind, LAB_CHANGE_UNKNOWN);
    assert_int_equal(rep.changes[0].off, 0x1000);
    assert_int_equal(rep.changes[0].size, 16);
    assert_int_equal(rep.changes[1].off, 4096 * 2 - 16);
    assert_int_equal(rep.changes[1].size, 32);
    assert_int_equal(rep.changes[2].off, (SIZE - 1) / 16 * 16);
    assert_int_equal(rep.changes[2].size, 16);
    lab_report_free(&rep);
    lab_record_free(&r);
}

static void signed_change(void **state)
{
    static uint8_t now[SIZE];
    struct lab_pkgfile files[1];
    struct lab_pkgset set = {files, 1};
    struct fake_pkg fp;
    struct lab_record r;
    struct lab_report rep;
    const uint8_t cc = 0xcc;

    (void)state;
    make_base();
    make_record(&r, base);
    memcpy(now, base, SIZE);
    now[0x2105] = cc;
    init_file(&files[0], "HP-1", 1, VRF_OK);
    add_replace(&files[0], &fp, 0x2105, &base[0x2105], &cc, 1);
    assert_int_equal(lab_audit_compare(&r, now, &set, &rep), LAB_OK);
    assert_int_equal(rep.verdict, LAB_VERDICT_SIGNED);
    assert_int_equal(rep.pages_signed, 1);
    assert_int_equal(rep.pages_unknown, 0);
    assert_int_equal(rep.n_changes, 1);
    assert_int_equal(rep.changes[0].kind, LAB_CHANGE_SIGNED);
    assert_int_equal(rep.changes[0].off, 0x2105);
    assert_int_equal(rep.changes[0].size, 1);
    assert_int_equal(rep.changes[0].pkg, 0);
    assert_int_equal(files[0].applied, 1);
    lab_report_free(&rep);

    /* The same package, and an unsigned change on the same page. */
    now[0x2200] ^= 1;
    assert_int_equal(lab_audit_compare(&r, now, &set, &rep), LAB_OK);
    assert_int_equal(rep.verdict, LAB_VERDICT_UNKNOWN);
    assert_int_equal(rep.n_changes, 2);
    assert_int_equal(rep.changes[0].kind, LAB_CHANGE_SIGNED);
    assert_int_equal(rep.changes[1].kind, LAB_CHANGE_UNKNOWN);
    assert_int_equal(rep.changes[1].off, 0x2200);
    lab_report_free(&rep);
    lab_record_free(&r);
}

static void packages_undone_newest_first(void **state)
{
    static uint8_t now[SIZE];
    struct lab_pkgfile files[2];
    struct lab_pkgset set = {files, 2};
    struct fake_pkg fp2, fp1;
    struct lab_record r;
    struct lab_report rep;
    const uint8_t b[2] = {0x90, 0x90}, c[2] = {0xeb, 0xfe};

    (void)state;
    make_base();
    make_record(&r, base);
    memcpy(now, base, SIZE);
    memcpy(now + 0x300, c, 2); /* base -> b (HP-1), then b -> c (HP-2) */
    init_file(&files[0], "HP-2", 2, VRF_OK);
    add_replace(&files[0], &fp2, 0x300, b, c, 2);
    init_file(&files[1], "HP-1", 1, VRF_OK);
    add_replace(&files[1], &fp1, 0x300, &base[0x300], b, 2);
    assert_int_equal(lab_audit_compare(&r, now, &set, &rep), LAB_OK);
    assert_int_equal(rep.verdict, LAB_VERDICT_SIGNED);
    assert_int_equal(files[0].applied, 1);
    assert_int_equal(files[1].applied, 1);
    assert_int_equal(rep.n_changes, 2);
    lab_report_free(&rep);

    /* Only HP-1 in place: HP-2 is not applied, HP-1 explains it all. */
    memcpy(now + 0x300, b, 2);
    assert_int_equal(lab_audit_compare(&r, now, &set, &rep), LAB_OK);
    assert_int_equal(rep.verdict, LAB_VERDICT_SIGNED);
    assert_int_equal(files[0].applied, 0);
    assert_non_null(strstr(files[0].note, "does not hold the package's new "
                                          "bytes"));
    assert_int_equal(files[1].applied, 1);
    lab_report_free(&rep);
    lab_record_free(&r);
}

static void unverified_or_misplaced_packages_explain_nothing(void **state)
{
    static uint8_t now[SIZE];
    struct lab_pkgfile files[3];
    struct lab_pkgset set = {files, 3};
    struct fake_pkg fp0, fp1, fp2;
    struct lab_record r;
    struct lab_report rep;
    const uint8_t cc = 0xcc;

    (void)state;
    make_base();
    make_record(&r, base);
    memcpy(now, base, SIZE);
    now[0x10] = cc;
    /* Right bytes, but the verifier refused it. */
    init_file(&files[0], "HP-UNTRUSTED", 5, VRF_ERR_CHAIN_UNTRUSTED);
    add_replace(&files[0], &fp0, 0x10, &base[0x10], &cc, 1);
    /* Outside the audited text. */
    init_file(&files[1], "HP-ELSEWHERE", 6, VRF_OK);
    add_replace(&files[1], &fp1, SIZE + 0x100, &base[0], &cc, 1);
    /* Straddling the start of the text. */
    init_file(&files[2], "HP-EDGE", 7, VRF_OK);
    add_replace(&files[2], &fp2, 0, base, base, 2);
    fp2.recs[0].gpa = PHYS - 1;
    assert_int_equal(lab_audit_compare(&r, now, &set, &rep), LAB_OK);
    assert_int_equal(rep.verdict, LAB_VERDICT_UNKNOWN);
    assert_int_equal(files[0].applied, 0);
    assert_int_equal(files[1].applied, 0);
    assert_non_null(strstr(files[1].note, "no record inside"));
    assert_int_equal(files[2].applied, 0);
    assert_non_null(strstr(files[2].note, "straddles"));
    assert_int_equal(rep.n_changes, 1);
    assert_int_equal(rep.changes[0].kind, LAB_CHANGE_UNKNOWN);
    lab_report_free(&rep);
    lab_record_free(&r);
}

static void package_already_in_record(void **state)
{
    static uint8_t rec_text[SIZE], now[SIZE];
    struct lab_pkgfile files[1];
    struct lab_pkgset set = {files, 1};
    struct fake_pkg fp;
    struct lab_record r;
    struct lab_report rep;
    const uint8_t cc = 0xcc;

    (void)state;
    make_base();
    memcpy(rec_text, base, SIZE);
    rec_text[0x40] = cc; /* the package was applied before the record */
    make_record(&r, rec_text);
    memcpy(now, rec_text, SIZE);
    now[0x3000] ^= 1; /* and something else changed later */
    init_file(&files[0], "HP-OLD", 1, VRF_OK);
    add_replace(&files[0], &fp, 0x40, &base[0x40], &cc, 1);
    assert_int_equal(lab_audit_compare(&r, now, &set, &rep), LAB_OK);
    assert_int_equal(rep.verdict, LAB_VERDICT_UNKNOWN);
    assert_int_equal(rep.n_changes, 1); /* no signed change at 0x40 */
    assert_int_equal(rep.changes[0].off, 0x3000);
    lab_report_free(&rep);
    lab_record_free(&r);
}

static void redirect_and_code_records(void **state)
{
    static uint8_t now[SIZE];
    struct lab_pkgfile files[1];
    struct lab_pkgset set = {files, 1};
    struct vrf_record recs[2];
    static uint8_t code[64], pre[5];
    struct lab_record r;
    struct lab_report rep;

    (void)state;
    make_base();
    memset(base + 0x3800, 0, sizeof code); /* an unused, zeroed area */
    make_record(&r, base);
    memcpy(now, base, SIZE);
    memset(code, 0xc3, sizeof code);
    memcpy(now + 0x3800, code, sizeof code);
    memcpy(pre, base + 0x100, 5);
    init_file(&files[0], "HP-REDIRECT", 1, VRF_OK);
    recs[0] = (struct vrf_record){.kind = VRF_REC_CODE,
                                  .gpa = PHYS + 0x3800,
                                  .size = sizeof code,
                                  .data = {code, sizeof code}};
    recs[1] = (struct vrf_record){.kind = VRF_REC_REDIRECT,
                                  .gpa = PHYS + 0x100,
                                  .size = 5,
                                  .pre = {pre, 5},
                                  .target = PHYS + 0x3800};
    recs[1].jmp[0] = 0xe9;
    recs[1].jmp[1] = (0x3800 - 0x105) & 0xff;
    recs[1].jmp[2] = (0x3800 - 0x105) >> 8;
    recs[1].data = (struct vrf_bytes){recs[1].jmp, 5};
    memcpy(now + 0x100, recs[1].jmp, 5);
    files[0].pkg.records = recs;
    files[0].pkg.n_records = 2;
    assert_int_equal(lab_audit_compare(&r, now, &set, &rep), LAB_OK);
    assert_int_equal(rep.verdict, LAB_VERDICT_SIGNED);
    assert_int_equal(rep.n_changes, 2);
    lab_report_free(&rep);
    lab_record_free(&r);
}

static void bad_arguments(void **state)
{
    struct lab_record r;
    struct lab_report rep;

    (void)state;
    lab_record_init(&r);
    assert_int_equal(lab_audit_compare(&r, base, NULL, &rep), LAB_ERR_ARG);
    assert_int_equal(lab_audit_compare(NULL, base, NULL, &rep), LAB_ERR_ARG);
}

/* ------------------------------------------------------------------ loader */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void loader_verdicts(void **state)
{
    char dir[] = "/tmp/test_lab_audit.XXXXXX", path[512], pkgs[128], trust[128];
    struct lab_pkgset set;
    struct lab_diag d = {""};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(pkgs, sizeof pkgs, "%s/pkgs", dir);
    snprintf(trust, sizeof trust, "%s/trust", dir);
    mkdir(pkgs, 0700);
    mkdir(trust, 0700);
    snprintf(path, sizeof path, "%s/anchors", trust);
    mkdir(path, 0700);
    /* A CA of our own: neither file below can chain to it anyway. */
    snprintf(path, sizeof path,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 "
             "-nodes -keyout /dev/null -subj /CN=test-ca -days 1 "
             "-addext basicConstraints=critical,CA:TRUE "
             "-out %s/anchors/ca.pem 2>/dev/null",
             trust);
    assert_int_equal(system(path), 0);
    snprintf(path, sizeof path, "%s/b-garbage", pkgs);
    write_file(path, "not a package");
    snprintf(path, sizeof path, "%s/a-empty", pkgs);
    write_file(path, "");
    snprintf(path, sizeof path, "%s/.hidden", pkgs);
    write_file(path, "ignored");

    if (lab_pkgset_load(&set, pkgs, trust, 0, &d) != LAB_OK)
        fail_msg("lab_pkgset_load: %s", d.text);
    assert_int_equal(set.n, 2);
    assert_string_equal(set.files[0].name, "a-empty");
    assert_string_equal(set.files[1].name, "b-garbage");
    assert_true(set.files[0].status <= VRF_ERR_PARSE_TOO_LARGE &&
                set.files[0].status >= VRF_ERR_PARSE_X5CHAIN);
    assert_true(set.files[1].status <= VRF_ERR_PARSE_TOO_LARGE &&
                set.files[1].status >= VRF_ERR_PARSE_X5CHAIN);
    lab_pkgset_free(&set);

    snprintf(path, sizeof path, "%s/nope", dir);
    assert_int_equal(lab_pkgset_load(&set, path, trust, 0, &d), LAB_ERR_PKG);
    assert_non_null(strstr(d.text, "nope"));
    assert_int_equal(lab_pkgset_load(&set, pkgs, path, 0, &d), LAB_ERR_PKG);
    assert_non_null(strstr(d.text, "trust store"));

    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intact),
        cmocka_unit_test(unknown_located),
        cmocka_unit_test(signed_change),
        cmocka_unit_test(packages_undone_newest_first),
        cmocka_unit_test(unverified_or_misplaced_packages_explain_nothing),
        cmocka_unit_test(package_already_in_record),
        cmocka_unit_test(redirect_and_code_records),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(loader_verdicts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
