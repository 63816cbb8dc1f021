/* lab_audit_cli.c: `hvpatch audit`: record a libvirt guest's kernel text
 * at a known-good time (--record), and later report drift (--check):
 * intact, changed only as signed packages say, or an unknown modification
 * with its address range and nearest symbol. Errors read
 * "hvpatch audit: <what>: <why>"; exit codes (cli/cli.h, stable):
 * 0 intact (or recorded), 5 changed only as signed packages say, 6 unknown
 * modification, 2 host, libvirt or file error, 1 usage. */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/sha256.h>

#include "cli/cli.h"
#include "keys/keys.h"
#include "lab/lab.h"
#include "lib/lib_hex.h"

#define SHOW_CHANGES 40 /* change lines in the text report */
#define SHOW_BYTES 16   /* current bytes shown per change */
#define XCHECK_TRIES 20 /* virtual reads while the vCPU is in user mode */

static const char audit_usage[] =
    "usage: hvpatch audit [--connect URI] --domain NAME --record FILE\n"
    "                     --symbols MAP [--text-phys ADDR] [--force] [--json]\n"
    "       hvpatch audit [--connect URI] --domain NAME --check FILE\n"
    "                     [--packages DIR --trust DIR] [--json]\n"
    "  Reads a running libvirt guest's kernel text [_text, _etext) through\n"
    "  virDomainMemoryPeek (guest-physical) and records per-page SHA-256\n"
    "  digests (--record), or compares it with a record (--check).\n"
    "  MAP: the guest's /proc/kallsyms read as root (or a System.map),\n"
    "  optionally with the \"Kernel code\" line of its /proc/iomem, which\n"
    "  gives the physical address (else --text-phys, else _text's\n"
    "  unrelocated address, cross-checked). A record holds for one boot.\n"
    "  --record FILE is created, or replaced if it is a regular file\n"
    "  (never a FIFO, device or directory: exit 2, nothing written).\n"
    "  --packages DIR: signed packages that may explain changes, verified\n"
    "  against the trust store --trust DIR (anchors/, crls/).\n"
    "  URI: e.g. qemu:///system, qemu+ssh://root@host/system (default:\n"
    "  libvirt's default). Exit 0: intact (or recorded); 5: changed only\n"
    "  as signed packages say; 6: unknown modification; 2: libvirt, host\n"
    "  or file error; 1: usage.\n"
    "       hvpatch audit verify LOG [--attestation DIR] [--json]\n"
    "  Checks the verifier's hash-chained audit log (see its --help).\n";

struct audit_opts {
    const char *uri, *domain, *record, *check, *symbols, *packages, *trust;
    uint64_t text_phys;
    int have_phys, force, json;
};

static int fail(int rc, const char *what, int code, const struct lab_diag *d)
{
    fprintf(stderr, "hvpatch audit: %s: %s\n", what,
            d != NULL && d->text[0] ? d->text : lab_strerror(code));
    return rc;
}

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* ------------------------------------------------------------------ reading */

/* The connection and the domain, checked to be running. */
static int open_domain(const struct audit_opts *o, struct lab_virt **v,
                       char *name, size_t name_size, char uuid[40], char *host,
                       size_t host_size)
{
    struct lab_diag d = {""};
    char what[320];
    int ret;

    ret = lab_virt_open(v, o->uri, &d);
    if (ret != LAB_OK)
        return fail(CLI_EXIT_HOST, "connect", ret, &d);
    snprintf(what, sizeof what, "domain '%s'", o->domain);
    ret = lab_virt_domain(*v, o->domain, name, name_size, uuid, &d);
    if (ret == LAB_OK)
        ret = lab_virt_hostname(*v, host, host_size, &d);
    if (ret != LAB_OK)
        return fail(CLI_EXIT_HOST, what, ret, &d);
    return CLI_EXIT_OK;
}

/* The whole text, guest-physical; *secs is how long the reads took. */
static int read_text(struct lab_virt *v, uint64_t phys, uint64_t size,
                     uint8_t **text, double *secs)
{
    struct lab_diag d = {""};
    double t0;
    int ret;

    *text = malloc(size);
    if (*text == NULL)
        return fail(CLI_EXIT_HOST, "kernel text", LAB_ERR_ALLOC, NULL);
    t0 = now_s();
    ret = lab_virt_read(v, phys, *text, size, 1, &d);
    *secs = now_s() - t0;
    if (ret != LAB_OK) {
        free(*text);
        *text = NULL;
        return fail(CLI_EXIT_HOST, "kernel text", ret, &d);
    }
    return CLI_EXIT_OK;
}

static int read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    struct keys_diag kd = {""};

    if (keys_read_file(path, max, buf, len, &kd) != KEYS_OK) {
        fprintf(stderr, "hvpatch audit: %s\n", kd.text);
        return CLI_EXIT_HOST;
    }
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ record */

/* Is the map's _text (a kernel virtual address, through the vCPU's page
 * tables) the same memory as phys? Returns 1 same, 0 different, -1 could
 * not tell (every virtual read failed: e.g. the vCPU was in user mode
 * with kernel page-table isolation). */
static int same_memory(struct lab_virt *v, uint64_t virt, uint64_t phys,
                       uint64_t size, struct lab_diag *d)
{
    uint8_t a[LAB_PAGE_SIZE], b[LAB_PAGE_SIZE];
    size_t n = size < sizeof a ? (size_t)size : sizeof a;

    if (lab_virt_read(v, phys, b, n, 1, d) != LAB_OK)
        return -1;
    for (int i = 0; i < XCHECK_TRIES; i++) {
        if (lab_virt_read(v, virt, a, n, 0, d) == LAB_OK)
            return memcmp(a, b, n) == 0;
        usleep(20000);
    }
    return -1;
}

/* Where _text is in guest-physical memory: --text-phys, else the map's
 * "Kernel code" line, else the unrelocated address (cross-check needed). */
static int text_phys(const struct audit_opts *o, const struct lab_kmap *m,
                     struct lab_virt *v, uint64_t *phys)
{
    struct lab_diag d = {""};
    int guessed = 0, same;

    if (o->have_phys)
        *phys = o->text_phys;
    else if (m->have_phys)
        *phys = m->phys_start;
    else if (m->text_virt >= LAB_KERNEL_MAP_BASE)
        *phys = m->text_virt - LAB_KERNEL_MAP_BASE, guessed = 1;
    else {
        fprintf(stderr,
                "hvpatch audit: kernel text: _text 0x%" PRIx64
                " is not a kernel address and the map has no "
                "\"Kernel code\" line: give --text-phys\n",
                m->text_virt);
        return CLI_EXIT_HOST;
    }
    same = same_memory(v, m->text_virt, *phys, m->text_size, &d);
    if (same == 0) {
        fprintf(stderr,
                "hvpatch audit: kernel text: the map's _text "
                "0x%" PRIx64 " is not the memory at physical 0x%" PRIx64
                ": map or --text-phys from another boot? (KASLR moves "
                "the kernel at each boot)\n",
                m->text_virt, *phys);
        return CLI_EXIT_HOST;
    }
    if (same < 0 && guessed) {
        fprintf(stderr,
                "hvpatch audit: kernel text: could not confirm that "
                "_text is at physical 0x%" PRIx64 " (%s): give "
                "--text-phys, or add the \"Kernel code\" line of the "
                "guest's /proc/iomem to the map\n",
                *phys, d.text);
        return CLI_EXIT_HOST;
    }
    if (same < 0)
        fprintf(stderr,
                "hvpatch audit: warning: could not cross-check the "
                "map against the running kernel: %s\n",
                d.text);
    return CLI_EXIT_OK;
}

static void utc_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_record(const struct audit_opts *o, const struct lab_record *r,
                        char sha[65])
{
    struct keys_diag kd = {""};
    uint8_t md[32];
    char *buf = NULL;
    size_t len = 0;
    int ret;

    ret = lab_record_encode(r, &buf, &len);
    if (ret != LAB_OK)
        return fail(CLI_EXIT_HOST, o->record, ret, NULL);
    mbedtls_sha256_ret((const uint8_t *)buf, len, md, 0);
    lib_hex_encode(md, sizeof md, sha);
    ret = keys_write_file(o->record, (const uint8_t *)buf, len,
                          o->force ? 0 : KEYS_WRITE_EXCL, &kd);
    free(buf);
    if (ret != KEYS_OK) {
        fprintf(stderr, "hvpatch audit: %s%s\n", kd.text,
                ret == KEYS_ERR_IO_EXISTS ? " (exists: --force replaces it)"
                                          : "");
        return CLI_EXIT_HOST;
    }
    return CLI_EXIT_OK;
}

static void print_recorded_json(const struct audit_opts *o,
                                const struct lab_record *r, double secs,
                                const char *sha)
{
    char phys[24], virt[24], *s;
    json_t *j;

    snprintf(phys, sizeof phys, "0x%" PRIx64, r->text_phys);
    snprintf(virt, sizeof virt, "0x%" PRIx64, r->text_virt);
    j = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:{s:s, s:s, s:I}, s:I, "
                  "s:I, s:{s:I, s:f, s:f}, s:s}",
                  "record", o->record, "domain", "name", r->domain, "uuid",
                  r->uuid, "host", r->host, "taken", r->taken, "text", "phys",
                  phys, "virt", virt, "size", (json_int_t)r->text_size, "pages",
                  (json_int_t)r->n_pages, "symbols", (json_int_t)r->syms.n,
                  "read", "bytes", (json_int_t)r->text_size, "seconds", secs,
                  "mib_per_s", secs > 0 ? mib(r->text_size) / secs : 0.0,
                  "sha256", sha);
    s = json_dumps(j, JSON_INDENT(2));
    if (s != NULL)
        printf("%s\n", s);
    free(s);
    json_decref(j);
}

static void print_recorded(const struct audit_opts *o,
                           const struct lab_record *r, double secs,
                           const char *sha)
{
    if (o->json) {
        print_recorded_json(o, r, secs, sha);
        return;
    }
    printf("hvpatch audit: recorded domain '%s' (%s) on host '%s'\n", r->domain,
           r->uuid, r->host);
    printf("  kernel text: physical [0x%" PRIx64 ", 0x%" PRIx64 "), %.1f MiB, "
           "%zu pages, %zu symbols\n",
           r->text_phys, r->text_phys + r->text_size, mib(r->text_size),
           r->n_pages, r->syms.n);
    printf("  read: %.1f MiB in %.3f s (%.0f MiB/s)\n", mib(r->text_size), secs,
           secs > 0 ? mib(r->text_size) / secs : 0.0);
    printf("  record: %s (sha256 %s)\n", o->record, sha);
}

static int do_record(const struct audit_opts *o)
{
    struct lab_record r;
    struct lab_kmap m;
    struct lab_diag d = {""};
    struct lab_virt *v = NULL;
    uint8_t *map = NULL, *text = NULL;
    size_t map_len = 0;
    double secs = 0;
    char sha[65];
    int rc, ret;

    lab_record_init(&r);
    memset(&m, 0, sizeof m);
    rc = read_file(o->symbols, LAB_MAP_MAX_SIZE, &map, &map_len);
    if (rc != CLI_EXIT_OK)
        goto cleanup;
    ret = lab_kmap_parse((const char *)map, map_len, &m, &d);
    if (ret != LAB_OK) {
        rc = fail(CLI_EXIT_HOST, o->symbols, ret, &d);
        goto cleanup;
    }
    rc = open_domain(o, &v, r.domain, sizeof r.domain, r.uuid, r.host,
                     sizeof r.host);
    if (rc == CLI_EXIT_OK)
        rc = text_phys(o, &m, v, &r.text_phys);
    if (rc != CLI_EXIT_OK)
        goto cleanup;
    r.text_virt = m.text_virt;
    r.text_size = m.text_size;
    snprintf(r.uri, sizeof r.uri, "%s", o->uri ? o->uri : "");
    for (char *p = r.uri; *p != '\0'; p++) /* the record refuses them */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    utc_now(r.taken);
    rc = read_text(v, r.text_phys, r.text_size, &text, &secs);
    if (rc != CLI_EXIT_OK)
        goto cleanup;
    ret = lab_record_digest(&r, text);
    if (ret != LAB_OK) {
        rc = fail(CLI_EXIT_HOST, "digest", ret, NULL);
        goto cleanup;
    }
    r.syms = m.syms; /* moved: the record owns the symbols now */
    memset(&m.syms, 0, sizeof m.syms);
    rc = write_record(o, &r, sha);
    if (rc == CLI_EXIT_OK)
        print_recorded(o, &r, secs, sha);

cleanup:
    free(text);
    keys_free(map);
    lab_kmap_free(&m);
    lab_record_free(&r);
    lab_virt_close(v);
    return rc;
}

/* ------------------------------------------------------------------ check */

struct check {
    const struct audit_opts *o;
    struct lab_record rec;
    struct lab_pkgset set;
    struct lab_report rep;
    uint8_t *text;
    double secs;
    char name[256], uuid[40], host[256];
};

static const char *verdict_name(int v)
{
    return v == LAB_VERDICT_INTACT   ? "intact"
           : v == LAB_VERDICT_SIGNED ? "signed"
                                     : "unknown";
}

static void symbol_at(const struct lab_record *r, uint64_t off, char *out,
                      size_t size)
{
    const struct lab_sym *s = lab_symtab_find(&r->syms, off);

    if (s == NULL)
        snprintf(out, size, "?");
    else
        snprintf(out, size, "%s+0x%" PRIx64, s->name, off - s->off);
}

static void now_hex(const struct check *c, const struct lab_change *ch,
                    char *out)
{
    size_t n = ch->size < SHOW_BYTES ? (size_t)ch->size : SHOW_BYTES;

    lib_hex_encode(c->text + ch->off, n, out);
    if (ch->size > SHOW_BYTES)
        strcat(out, "...");
}

static json_t *change_json(const struct check *c, const struct lab_change *ch)
{
    const struct lab_sym *s = lab_symtab_find(&c->rec.syms, ch->off);
    char a[24], b[24], v[24], hex[2 * SHOW_BYTES + 4];
    json_t *o;

    snprintf(a, sizeof a, "0x%" PRIx64, c->rec.text_phys + ch->off);
    snprintf(b, sizeof b, "0x%" PRIx64, c->rec.text_phys + ch->off + ch->size);
    snprintf(v, sizeof v, "0x%" PRIx64, c->rec.text_virt + ch->off);
    now_hex(c, ch, hex);
    o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "kind",
                  ch->kind == LAB_CHANGE_SIGNED ? "signed" : "unknown",
                  "phys_start", a, "phys_end", b, "size", (json_int_t)ch->size,
                  "virt_start", v, "now", hex);
    json_object_set_new(o, "symbol", s ? json_string(s->name) : json_null());
    json_object_set_new(o, "symbol_offset",
                        s ? json_integer((json_int_t)(ch->off - s->off))
                          : json_null());
    if (ch->kind == LAB_CHANGE_SIGNED) {
        json_object_set_new(o, "package",
                            json_string(c->set.files[ch->pkg].pkg.id));
        json_object_set_new(o, "record", json_integer(ch->rec));
    }
    return o;
}

static json_t *package_json(const struct lab_pkgfile *f)
{
    json_t *o =
        json_pack("{s:s, s:s, s:b}", "file", f->name, "status",
                  vrf_errname(f->status) ? vrf_errname(f->status) : "VRF_ERR_?",
                  "applied", f->applied);

    if (f->status != VRF_OK) {
        json_object_set_new(o, "reason", json_string(vrf_strerror(f->status)));
        json_object_set_new(o, "detail", json_string(f->pkg.detail));
        return o;
    }
    json_object_set_new(o, "id", json_string(f->pkg.id));
    json_object_set_new(o, "title", json_string(f->pkg.title));
    json_object_set_new(o, "publisher", json_string(f->pkg.publisher));
    json_object_set_new(o, "sequence",
                        json_integer((json_int_t)f->pkg.sequence));
    json_object_set_new(o, "signer", json_string(f->pkg.signer.subject));
    json_object_set_new(o, "anchor", json_string(f->pkg.signer.anchor));
    json_object_set_new(o, "note", json_string(f->note));
    return o;
}

static void print_check_json(const struct check *c)
{
    const struct lab_report *rep = &c->rep;
    json_t *changes = json_array(), *pkgs = json_array(), *j;
    char phys[24], virt[24], *s;

    for (size_t i = 0; i < rep->n_changes; i++)
        json_array_append_new(changes, change_json(c, &rep->changes[i]));
    for (size_t i = 0; i < c->set.n; i++)
        json_array_append_new(pkgs, package_json(&c->set.files[i]));
    snprintf(phys, sizeof phys, "0x%" PRIx64, c->rec.text_phys);
    snprintf(virt, sizeof virt, "0x%" PRIx64, c->rec.text_virt);
    j = json_pack(
        "{s:s, s:{s:s, s:s}, s:s, s:{s:s, s:s, s:{s:s, s:s, s:I}}, "
        "s:{s:I, s:f, s:f}, s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:o}",
        "verdict", verdict_name(rep->verdict), "domain", "name", c->name,
        "uuid", c->uuid, "host", c->host, "record", "file", c->o->check,
        "taken", c->rec.taken, "text", "phys", phys, "virt", virt, "size",
        (json_int_t)c->rec.text_size, "read", "bytes",
        (json_int_t)c->rec.text_size, "seconds", c->secs, "mib_per_s",
        c->secs > 0 ? mib(c->rec.text_size) / c->secs : 0, "pages", "total",
        (json_int_t)rep->n_pages, "intact",
        (json_int_t)(rep->n_pages - rep->pages_changed), "changed",
        (json_int_t)rep->pages_changed, "signed", (json_int_t)rep->pages_signed,
        "unknown", (json_int_t)rep->pages_unknown, "packages", pkgs, "changes",
        changes);
    s = json_dumps(j, JSON_INDENT(2));
    if (s != NULL)
        printf("%s\n", s);
    free(s);
    json_decref(j);
}

static void print_packages(const struct check *c)
{
    if (c->o->packages == NULL)
        return;
    printf("  packages: %zu in %s\n", c->set.n, c->o->packages);
    for (size_t i = 0; i < c->set.n; i++) {
        const struct lab_pkgfile *f = &c->set.files[i];

        if (f->status != VRF_OK)
            printf("    %s: rejected: %s: %s%s%s\n", f->name,
                   vrf_errname(f->status) ? vrf_errname(f->status) : "?",
                   vrf_strerror(f->status), f->pkg.detail[0] ? ": " : "",
                   f->pkg.detail);
        else
            printf("    %s: %s (sequence %" PRIu64 ") signed by %s: %s%s%s\n",
                   f->name, f->pkg.id, f->pkg.sequence, f->pkg.signer.subject,
                   f->applied ? "applied" : "not applied",
                   f->note[0] ? ": " : "", f->note);
    }
}

static void print_change(const struct check *c, const struct lab_change *ch)
{
    char sym[LAB_SYM_NAME_MAX + 24], hex[2 * SHOW_BYTES + 4];

    symbol_at(&c->rec, ch->off, sym, sizeof sym);
    now_hex(c, ch, hex);
    printf("    %-7s [0x%" PRIx64 ", 0x%" PRIx64 ") %4" PRIu64 " bytes  %s",
           ch->kind == LAB_CHANGE_SIGNED ? "signed" : "UNKNOWN",
           c->rec.text_phys + ch->off, c->rec.text_phys + ch->off + ch->size,
           ch->size, sym);
    if (ch->kind == LAB_CHANGE_SIGNED)
        printf("  by %s record %ld\n", c->set.files[ch->pkg].pkg.id, ch->rec);
    else
        printf("  now %s\n", hex);
}

static void print_verdict(const struct check *c)
{
    const struct lab_report *rep = &c->rep;

    if (rep->verdict == LAB_VERDICT_INTACT) {
        printf("verdict: INTACT: every page equals the record\n");
        return;
    }
    if (rep->verdict == LAB_VERDICT_SIGNED) {
        printf("verdict: CHANGED AS SIGNED: %zu pages changed, each exactly "
               "as signed packages say:",
               rep->pages_changed);
        for (size_t i = 0; i < c->set.n; i++)
            if (c->set.files[i].applied)
                printf(" %s (signer %s)", c->set.files[i].pkg.id,
                       c->set.files[i].pkg.signer.subject);
        printf("\n");
        return;
    }
    printf("verdict: UNKNOWN MODIFICATION: %zu of %zu pages changed in ways "
           "no signed package explains\n",
           rep->pages_unknown, rep->n_pages);
    if (rep->pages_unknown > rep->n_pages / 2)
        printf("note: most pages differ: was the guest rebooted since the "
               "record? Kernel text moves (KASLR) and is rewritten at each "
               "boot: take a new record after each boot.\n");
}

static void print_check(const struct check *c)
{
    const struct lab_report *rep = &c->rep;
    size_t shown = 0;

    printf("hvpatch audit: domain '%s' (%s) on host '%s'\n", c->name, c->uuid,
           c->host);
    printf("  record: %s, taken %s: kernel text physical [0x%" PRIx64
           ", 0x%" PRIx64 "), %zu pages\n",
           c->o->check, c->rec.taken, c->rec.text_phys,
           c->rec.text_phys + c->rec.text_size, c->rec.n_pages);
    printf("  read: %.1f MiB in %.3f s (%.0f MiB/s)\n", mib(c->rec.text_size),
           c->secs, c->secs > 0 ? mib(c->rec.text_size) / c->secs : 0);
    print_packages(c);
    printf("  pages: %zu intact, %zu changed (%zu as signed, %zu unknown)\n",
           rep->n_pages - rep->pages_changed, rep->pages_changed,
           rep->pages_signed, rep->pages_unknown);
    if (rep->n_changes > 0)
        printf("  changes (guest-physical, nearest symbol):\n");
    for (size_t i = 0; i < rep->n_changes && shown < SHOW_CHANGES; i++, shown++)
        print_change(c, &rep->changes[i]);
    if (rep->n_changes > shown)
        printf("    ... and %zu more (--json lists them all)\n",
               rep->n_changes - shown);
    print_verdict(c);
}

static int load_check_inputs(struct check *c)
{
    const struct audit_opts *o = c->o;
    struct lab_diag d = {""};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc, ret;

    rc = read_file(o->check, LAB_RECORD_MAX_SIZE, &buf, &len);
    if (rc != CLI_EXIT_OK)
        return rc;
    ret = lab_record_parse(buf, len, &c->rec, &d);
    keys_free(buf);
    if (ret != LAB_OK)
        return fail(CLI_EXIT_HOST, o->check, ret, &d);
    if (o->packages == NULL)
        return CLI_EXIT_OK;
    ret = lab_pkgset_load(&c->set, o->packages, o->trust, (int64_t)time(NULL),
                          &d);
    if (ret != LAB_OK)
        return fail(CLI_EXIT_HOST, "--packages", ret, &d);
    return CLI_EXIT_OK;
}

static int do_check(const struct audit_opts *o)
{
    struct check c;
    struct lab_virt *v = NULL;
    int rc, ret;

    memset(&c, 0, sizeof c);
    c.o = o;
    lab_record_init(&c.rec);
    rc = load_check_inputs(&c);
    if (rc == CLI_EXIT_OK)
        rc = open_domain(o, &v, c.name, sizeof c.name, c.uuid, c.host,
                         sizeof c.host);
    if (rc != CLI_EXIT_OK)
        goto cleanup;
    if (strcasecmp(c.uuid, c.rec.uuid) != 0) {
        fprintf(stderr,
                "hvpatch audit: %s: the record is for domain '%s' "
                "(%s), not '%s' (%s)\n",
                o->check, c.rec.domain, c.rec.uuid, c.name, c.uuid);
        rc = CLI_EXIT_HOST;
        goto cleanup;
    }
    rc = read_text(v, c.rec.text_phys, c.rec.text_size, &c.text, &c.secs);
    if (rc != CLI_EXIT_OK)
        goto cleanup;
    ret =
        lab_audit_compare(&c.rec, c.text, o->packages ? &c.set : NULL, &c.rep);
    if (ret != LAB_OK) {
        rc = fail(CLI_EXIT_HOST, "compare", ret, NULL);
        goto cleanup;
    }
    if (o->json)
        print_check_json(&c);
    else
        print_check(&c);
    rc = c.rep.verdict == LAB_VERDICT_INTACT   ? CLI_EXIT_OK
         : c.rep.verdict == LAB_VERDICT_SIGNED ? CLI_EXIT_SIGNED_ONLY
                                               : CLI_EXIT_UNKNOWN_CHANGE;

cleanup:
    free(c.text);
    lab_report_free(&c.rep);
    lab_pkgset_free(&c.set);
    lab_record_free(&c.rec);
    lab_virt_close(v);
    return rc;
}

/* ------------------------------------------------------------------ options */

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "hvpatch audit: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", audit_usage);
    return CLI_EXIT_USAGE;
}

static int parse_addr(const char *s, uint64_t *v)
{
    char *end;

    if (s[0] == '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return -1;
    *v = strtoull(s, &end, 0);
    return *end == '\0' ? 0 : -1;
}

static int check_combination(const struct audit_opts *o)
{
    if (o->domain == NULL)
        return usage_error("%s", "--domain is required");
    if ((o->record == NULL) == (o->check == NULL))
        return usage_error("%s", "give exactly one of --record and --check");
    if (o->record != NULL && o->symbols == NULL)
        return usage_error("%s", "--record needs --symbols MAP");
    if (o->check != NULL && (o->symbols || o->have_phys || o->force))
        return usage_error("%s", "--symbols, --text-phys and --force go with "
                                 "--record");
    if (o->record != NULL && (o->packages || o->trust))
        return usage_error("%s", "--packages and --trust go with --check");
    if ((o->packages == NULL) != (o->trust == NULL))
        return usage_error("%s", "--packages DIR and --trust DIR go together");
    return CLI_EXIT_OK;
}

static int parse_opts(int argc, char **argv, struct audit_opts *o)
{
    static const struct option opts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"domain", required_argument, NULL, 'd'},
        {"record", required_argument, NULL, 'r'},
        {"check", required_argument, NULL, 'k'},
        {"symbols", required_argument, NULL, 's'},
        {"text-phys", required_argument, NULL, 'p'},
        {"packages", required_argument, NULL, 'P'},
        {"trust", required_argument, NULL, 't'},
        {"force", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof *o);
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->uri = optarg;
            break;
        case 'd':
            o->domain = optarg;
            break;
        case 'r':
            o->record = optarg;
            break;
        case 'k':
            o->check = optarg;
            break;
        case 's':
            o->symbols = optarg;
            break;
        case 'P':
            o->packages = optarg;
            break;
        case 't':
            o->trust = optarg;
            break;
        case 'f':
            o->force = 1;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'p':
            if (parse_addr(optarg, &o->text_phys) != 0)
                return usage_error("bad --text-phys '%s'", optarg);
            o->have_phys = 1;
            break;
        default:
            return usage_error("unknown or incomplete option '%s'",
                               argv[optind - 1]);
        }
    }
    if (optind != argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return check_combination(o);
}

int cli_cmd_audit(int argc, char **argv)
{
    struct audit_opts o;
    int rc;

    /* `hvpatch audit verify LOG` (the audit-log verifier) is another
     * command sharing this name: sub-subcommands dispatch here first. */
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return cli_cmd_audit_verify(argc - 1, argv + 1);
    if (cli_wants_help(argc, argv)) {
        fputs(audit_usage, stdout);
        return CLI_EXIT_OK;
    }
    rc = parse_opts(argc, argv, &o);
    if (rc != CLI_EXIT_OK)
        return rc;
    return o.record != NULL ? do_record(&o) : do_check(&o);
}
