/* lab_cli.c: `hvpatch lab probe`: hot patch eligibility of this host or of
 * libvirt hosts, as a table or JSON. Errors read
 * "hvpatch lab probe: <what>: <why>"; exit codes are cli/cli.h's:
 * 0 every host eligible, 7 some host is not, 2 a host could not be probed,
 * 1 usage. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lab/lab.h"

#define MAX_HOSTS 64

static const char lab_usage[] =
    "usage: hvpatch lab probe [--connect URI]... [--json]\n"
    "  Is a host eligible for hot patching? Eligible means: KVM usable,\n"
    "  VT-x or AMD-V, EPT or NPT, read-only memslots, and a TPM (a host\n"
    "  TPM or swtpm). Without --connect: this machine, from CPUID,\n"
    "  /sys/module/kvm_* and /dev/kvm. With --connect URI (repeatable, one\n"
    "  row per host): libvirt's capabilities and KVM domain capabilities,\n"
    "  e.g. qemu:///system or qemu+ssh://root@host/system.\n"
    "  Exit 0: every host eligible; 7: some host is not; 2: a host could\n"
    "  not be probed (libvirt error); 1: usage.\n";

struct row {
    struct lab_host h;
    int failed;
    char error[sizeof((struct lab_diag *)0)->text + 64];
};

static const char *yes_no(int t)
{
    return t == LAB_YES ? "yes" : t == LAB_NO ? "no" : "?";
}

static json_t *tri_json(int t)
{
    return t == LAB_UNSURE ? json_null() : json_boolean(t == LAB_YES);
}

static void cell_virt(const struct lab_host *h, char *out, size_t size)
{
    if (h->hw_virt != LAB_YES)
        snprintf(out, size, "%s", yes_no(h->hw_virt));
    else
        snprintf(out, size, "%s",
                 strcmp(h->vendor, "AMD") == 0 ? "AMD-V" : "VT-x");
}

static void cell_slat(const struct lab_host *h, char *out, size_t size)
{
    if (h->slat != LAB_YES)
        snprintf(out, size, "%s", yes_no(h->slat));
    else
        snprintf(out, size, "%s",
                 strcmp(h->vendor, "AMD") == 0 ? "NPT" : "EPT");
}

static void cell_tpm(const struct lab_host *h, char *out, size_t size)
{
    if (h->tpm_host == LAB_YES && h->tpm_emulator == LAB_YES)
        snprintf(out, size, "host,swtpm");
    else if (h->tpm_host == LAB_YES)
        snprintf(out, size, "host");
    else if (h->tpm_emulator == LAB_YES)
        snprintf(out, size, "swtpm");
    else
        snprintf(out, size, "%s",
                 h->tpm_host == LAB_UNSURE && h->tpm_emulator == LAB_UNSURE
                     ? "?"
                     : "no");
}

#define NCOLS 10
#define CELL 1100 /* the longest URI, 1023 bytes */

static void row_cells(const struct row *r, char cells[NCOLS][CELL])
{
    const struct lab_host *h = &r->h;

    snprintf(cells[0], CELL, "%s", h->name[0] ? h->name : "?");
    snprintf(cells[1], CELL, "%s", h->uri[0] ? h->uri : "local");
    if (r->failed) {
        for (int i = 2; i < NCOLS - 1; i++)
            snprintf(cells[i], CELL, "-");
        snprintf(cells[NCOLS - 1], CELL, "error");
        return;
    }
    snprintf(cells[2], CELL, "%s", h->vendor);
    cell_virt(h, cells[3], CELL);
    cell_slat(h, cells[4], CELL);
    snprintf(cells[5], CELL, "%s", yes_no(h->kvm));
    snprintf(cells[6], CELL, "%s%s", yes_no(h->ro_memslots),
             h->ro_inferred ? "*" : "");
    snprintf(cells[7], CELL, "%s", yes_no(h->nested));
    cell_tpm(h, cells[8], CELL);
    snprintf(cells[9], CELL, "%s", h->eligible ? "yes" : "no");
}

static void print_table(const struct row *rows, size_t n)
{
    static const char *const head[NCOLS] = {
        "HOST", "VIA",         "CPU",    "VT-x/AMD-V", "EPT/NPT",
        "KVM",  "RO-MEMSLOTS", "NESTED", "TPM",        "ELIGIBLE"};
    char cells[NCOLS][CELL];
    size_t w[NCOLS];
    int inferred = 0;

    for (int c = 0; c < NCOLS; c++)
        w[c] = strlen(head[c]);
    for (size_t i = 0; i < n; i++) {
        row_cells(&rows[i], cells);
        for (int c = 0; c < NCOLS; c++)
            w[c] = strlen(cells[c]) > w[c] ? strlen(cells[c]) : w[c];
        inferred |= rows[i].h.ro_inferred;
    }
    for (int c = 0; c < NCOLS - 1; c++)
        printf("%-*s  ", (int)w[c], head[c]);
    printf("%s\n", head[NCOLS - 1]);
    for (size_t i = 0; i < n; i++) {
        row_cells(&rows[i], cells);
        for (int c = 0; c < NCOLS - 1; c++)
            printf("%-*s  ", (int)w[c], cells[c]);
        printf("%s\n", cells[NCOLS - 1]);
    }
    for (size_t i = 0; i < n; i++) {
        const struct lab_host *h = &rows[i].h;

        if (rows[i].failed) /* the reason went to stderr */
            continue;
        if (h->n_reasons > 0)
            printf("%s (%s): not eligible:\n", h->name,
                   h->uri[0] ? h->uri : "local");
        for (size_t k = 0; k < h->n_reasons; k++)
            printf("  - %s\n", h->reasons[k]);
    }
    if (inferred)
        printf("* inferred: libvirt does not report KVM_CAP_READONLY_MEM; "
               "x86-64 KVM has had it since Linux 3.7\n");
}

static json_t *host_json(const struct row *r)
{
    const struct lab_host *h = &r->h;
    json_t *reasons = json_array();
    json_t *o;

    for (size_t k = 0; k < h->n_reasons; k++)
        json_array_append_new(reasons, json_string(h->reasons[k]));
    o = json_pack("{s:o, s:s, s:s}", "host",
                  h->name[0] ? json_string(h->name) : json_null(), "via",
                  h->uri[0] ? h->uri : "local", "source", h->source);
    if (r->failed) {
        json_object_set_new(o, "error", json_string(r->error));
        json_decref(reasons);
        return o;
    }
    json_object_set_new(o, "cpu_vendor", json_string(h->vendor));
    json_object_set_new(o, "kvm_module",
                        h->kvm_module[0] ? json_string(h->kvm_module)
                                         : json_null());
    json_object_set_new(o, "vtx_amdv", tri_json(h->hw_virt));
    json_object_set_new(o, "ept_npt", tri_json(h->slat));
    json_object_set_new(o, "kvm_usable", tri_json(h->kvm));
    json_object_set_new(o, "kvm_detail",
                        h->kvm_detail[0] ? json_string(h->kvm_detail)
                                         : json_null());
    json_object_set_new(o, "readonly_memslots", tri_json(h->ro_memslots));
    json_object_set_new(o, "readonly_memslots_inferred",
                        json_boolean(h->ro_inferred));
    json_object_set_new(o, "nested", tri_json(h->nested));
    json_object_set_new(o, "tpm_host", tri_json(h->tpm_host));
    json_object_set_new(o, "tpm_swtpm", tri_json(h->tpm_emulator));
    json_object_set_new(o, "in_vm", tri_json(h->in_vm));
    json_object_set_new(o, "eligible", json_boolean(h->eligible));
    json_object_set_new(o, "reasons", reasons);
    json_object_set_new(o, "error", json_null());
    return o;
}

static void print_json(const struct row *rows, size_t n)
{
    json_t *hosts = json_array(), *root;
    char *s;

    for (size_t i = 0; i < n; i++)
        json_array_append_new(hosts, host_json(&rows[i]));
    root = json_pack("{s:o}", "hosts", hosts);
    s = json_dumps(root, JSON_INDENT(2));
    if (s != NULL)
        printf("%s\n", s);
    free(s);
    json_decref(root);
}

static void probe_one(struct row *r, const char *uri)
{
    struct lab_diag d = {""};
    int ret;

    lab_host_init(&r->h);
    ret = uri == NULL ? lab_probe_local(&r->h, &d)
                      : lab_probe_libvirt(&r->h, uri, &d);
    if (ret != LAB_OK) {
        r->failed = 1;
        snprintf(r->error, sizeof r->error, "%s",
                 d.text[0] ? d.text : lab_strerror(ret));
        fprintf(stderr, "hvpatch lab probe: %s: %s\n", uri ? uri : "local",
                r->error);
        return;
    }
    lab_eligibility(&r->h);
}

static int lab_probe(int argc, char **argv)
{
    static const struct option opts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    static struct row rows[MAX_HOSTS];
    const char *uris[MAX_HOSTS];
    size_t n = 0;
    int c, json = 0, rc = CLI_EXIT_OK;

    if (cli_wants_help(argc, argv)) {
        fputs(lab_usage, stdout);
        return CLI_EXIT_OK;
    }
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 'c' && n < MAX_HOSTS) {
            uris[n++] = optarg;
        } else {
            fprintf(stderr, "hvpatch lab probe: %s\n%s",
                    c == 'c' ? "too many --connect" : "bad option", lab_usage);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "hvpatch lab probe: unexpected argument '%s'\n%s",
                argv[optind], lab_usage);
        return CLI_EXIT_USAGE;
    }
    memset(rows, 0, sizeof rows);
    for (size_t i = 0; i < (n ? n : 1); i++) {
        probe_one(&rows[i], n ? uris[i] : NULL);
        if (rows[i].failed)
            rc = CLI_EXIT_HOST;
        else if (!rows[i].h.eligible && rc == CLI_EXIT_OK)
            rc = CLI_EXIT_NOT_ELIGIBLE;
    }
    if (json)
        print_json(rows, n ? n : 1);
    else
        print_table(rows, n ? n : 1);
    return rc;
}

int cli_cmd_lab(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "probe") == 0)
        return lab_probe(argc - 1, argv + 1);
    if (argc >= 2 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(lab_usage, stdout);
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "hvpatch lab: %s\n%s",
            argc < 2 ? "missing subcommand" : "unknown subcommand", lab_usage);
    return CLI_EXIT_USAGE;
}
