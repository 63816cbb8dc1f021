/* keys_cli.c: the signed-package subcommands of `hvpatch`: keygen, sign,
 * build, inspect, verify and revoke. Errors read
 * "hvpatch <cmd>: <what failed>: <why>"; exit codes are cli/cli.h's:
 * 0 ok, 1 usage, 2 host failure (files, keys, tools, bad input files),
 * 4 the verifier refused the package (inspect: it does not parse). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>

#include "cli/cli.h"
#include "keys/keys_int.h"
#include "lib/lib_hex.h"

#define PKG_READ_MAX (2u * VRF_PKG_MAX_SIZE)
#define IMAGE_READ_MAX (256u << 20)
#define MAX_RANGES 16u

/* ------------------------------------------------------------------ helpers */

static int usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "hvpatch %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return CLI_EXIT_USAGE;
}

/* "hvpatch cmd: what: why[: detail]" */
static int fail(const char *cmd, int exit_code, const char *what, int code,
                const struct keys_diag *d)
{
    fprintf(stderr, "hvpatch %s: %s: %s", cmd, what, keys_strerror(code));
    if (d != NULL && d->text[0] != '\0')
        fprintf(stderr, ": %s", d->text);
    fputc('\n', stderr);
    return exit_code;
}

static void reset_getopt(void)
{
    optind = 0; /* glibc: re-initialise fully */
    opterr = 0;
}

static int bad_option(const char *cmd, const char *usage, char **argv)
{
    return usage_error(cmd, usage, "unknown or incomplete option '%s'",
                       argv[optind - 1]);
}

static int parse_u64_arg(const char *s, uint64_t *v)
{
    char *end;

    if (s[0] == '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return -1;
    errno = 0;
    *v = strtoull(s, &end, 0);
    return errno == 0 && *end == '\0' ? 0 : -1;
}

static int parse_int_arg(const char *s, int lo, int hi, int *v)
{
    uint64_t u;

    if (parse_u64_arg(s, &u) != 0 || u < (uint64_t)lo || u > (uint64_t)hi)
        return -1;
    *v = (int)u;
    return 0;
}

/* ------------------------------------------------------------------ keygen */

static const char keygen_usage[] =
    "usage: hvpatch keygen DIR [--org NAME] [--root-days N] "
    "[--signing-days N]\n"
    "  Makes an offline root CA and a patch-signing certificate in DIR\n"
    "  (ECDSA P-384, SHA-384; private keys mode 0600, never overwritten):\n"
    "  root.key root.pem signing.key signing.pem trust/anchors/root.pem "
    "trust/crls/\n";

int cli_cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"org", required_argument, NULL, 'O'},
        {"root-days", required_argument, NULL, 'R'},
        {"signing-days", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    struct keys_keygen_opts ko = {NULL, 0, 0};
    struct keys_diag d = {""};
    int c, ret;

    if (cli_wants_help(argc, argv)) {
        fputs(keygen_usage, stdout);
        return CLI_EXIT_OK;
    }
    reset_getopt();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'O':
            ko.org = optarg;
            break;
        case 'R':
            if (parse_int_arg(optarg, 1, 36500, &ko.root_days) != 0)
                return usage_error(argv[0], keygen_usage,
                                   "--root-days: 1 to 36500");
            break;
        case 'S':
            if (parse_int_arg(optarg, 1, 36500, &ko.signing_days) != 0)
                return usage_error(argv[0], keygen_usage,
                                   "--signing-days: 1 to 36500");
            break;
        default:
            return bad_option(argv[0], keygen_usage, argv);
        }
    }
    if (argc - optind != 1)
        return usage_error(argv[0], keygen_usage, "one DIR expected");
    ret = keys_keygen(argv[optind], &ko, &d);
    if (ret != KEYS_OK)
        return fail(argv[0],
                    ret == KEYS_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_HOST,
                    argv[optind], ret, &d);
    printf("hvpatch keygen: created in %s:\n"
           "  root.key      offline root CA private key (0600): keep it OFF "
           "this machine\n"
           "  root.pem      root CA certificate\n"
           "  signing.key   patch-signing private key (0600)\n"
           "  signing.pem   patch-signing certificate (EKU %s)\n"
           "  trust/        trust store for `hvpatch verify --trust` "
           "(anchors/root.pem, crls/)\n",
           argv[optind], VRF_EKU_OID_TEXT);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ sign */

static const char sign_usage[] =
    "usage: hvpatch sign PKG -o OUT (--keys DIR | --key KEY --cert CERT) "
    "[--chain CERTS]\n"
    "  Signs package PKG (ES384, COSE_Sign1) with a patch-signing key;\n"
    "  --keys DIR means DIR/signing.key and DIR/signing.pem. CERT may hold\n"
    "  intermediates after the signer; --chain adds more (never the root).\n"
    "  OUT is created, or replaced if it is a regular file (never a FIFO,\n"
    "  device or directory). Inputs must be regular files (else exit 2).\n";

/* Say what a verifier will think of the signer certificate, without
 * refusing: tests sign with bad certificates on purpose. */
static void warn_signer(const char *cmd, const mbedtls_x509_crt *c)
{
    int64_t now = (int64_t)time(NULL);
    int eku = 0;

    for (const mbedtls_x509_sequence *q = &c->ext_key_usage;
         (c->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) && q != NULL;
         q = q->next)
        if (q->buf.len == VRF_EKU_OID_LEN &&
            memcmp(q->buf.p, VRF_EKU_OID, VRF_EKU_OID_LEN) == 0)
            eku = 1;
    if (!eku)
        fprintf(stderr,
                "hvpatch %s: warning: the certificate lacks the hot "
                "patch signing EKU %s; verifiers will refuse this "
                "package\n",
                cmd, VRF_EKU_OID_TEXT);
    if (now > vrf_x509_time_to_epoch(&c->valid_to))
        fprintf(stderr, "hvpatch %s: warning: the certificate has expired\n",
                cmd);
    if (now < vrf_x509_time_to_epoch(&c->valid_from))
        fprintf(stderr,
                "hvpatch %s: warning: the certificate is not valid "
                "yet\n",
                cmd);
}

int cli_cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"keys", required_argument, NULL, 'K'},
        {"key", required_argument, NULL, 'k'},
        {"cert", required_argument, NULL, 'c'},
        {"chain", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *keys = NULL, *key = NULL, *cert = NULL;
    const char *chain = NULL;
    char key_path[4096], cert_path[4096], subject[256];
    struct keys_diag d = {""};
    mbedtls_pk_context pk;
    mbedtls_x509_crt crt;
    uint8_t *pkg = NULL, *signed_pkg = NULL;
    size_t pkg_len = 0, signed_len = 0;
    int c, ret, rc = CLI_EXIT_HOST, insecure = 0;

    mbedtls_pk_init(&pk);
    mbedtls_x509_crt_init(&crt);
    if (cli_wants_help(argc, argv)) {
        fputs(sign_usage, stdout);
        rc = CLI_EXIT_OK;
        goto cleanup;
    }
    reset_getopt();
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'K':
            keys = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'C':
            chain = optarg;
            break;
        default:
            rc = bad_option(argv[0], sign_usage, argv);
            goto cleanup;
        }
    }
    rc = CLI_EXIT_USAGE;
    if (argc - optind != 1) {
        usage_error(argv[0], sign_usage, "one PKG expected");
        goto cleanup;
    }
    if (out == NULL) {
        usage_error(argv[0], sign_usage, "-o OUT is required");
        goto cleanup;
    }
    if ((keys != NULL) == (key != NULL || cert != NULL) ||
        (keys == NULL && (key == NULL || cert == NULL))) {
        usage_error(argv[0], sign_usage,
                    "give --keys DIR, or both --key and --cert");
        goto cleanup;
    }
    if (keys != NULL) {
        snprintf(key_path, sizeof key_path, "%s/signing.key", keys);
        snprintf(cert_path, sizeof cert_path, "%s/signing.pem", keys);
        key = key_path;
        cert = cert_path;
    }

    rc = CLI_EXIT_HOST;
    ret = keys_read_file(argv[optind], PKG_READ_MAX, &pkg, &pkg_len, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, argv[optind], ret, &d);
        goto cleanup;
    }
    ret = keys_load_key(&pk, key, &insecure, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, key, ret, &d);
        goto cleanup;
    }
    if (insecure)
        fprintf(stderr,
                "hvpatch %s: warning: %s is readable by others "
                "(chmod 600 it)\n",
                argv[0], key);
    ret = keys_load_certs(&crt, cert, &d);
    if (ret == KEYS_OK && chain != NULL)
        ret = keys_load_certs(&crt, chain, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, chain != NULL ? "certificates" : cert, ret, &d);
        goto cleanup;
    }
    warn_signer(argv[0], &crt);
    ret = keys_sign(pkg, pkg_len, &pk, &crt, &signed_pkg, &signed_len, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, argv[optind], ret, &d);
        goto cleanup;
    }
    ret = keys_write_file(out, signed_pkg, signed_len, 0, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, out, ret, &d);
        goto cleanup;
    }
    if (mbedtls_x509_dn_gets(subject, sizeof subject, &crt.subject) < 0)
        snprintf(subject, sizeof subject, "?");
    printf("hvpatch sign: %s: signed by %s (%zu bytes)\n", out, subject,
           signed_len);
    rc = CLI_EXIT_OK;

cleanup:
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&crt);
    keys_free(pkg);
    keys_free(signed_pkg);
    return rc;
}

/* ------------------------------------------------------------------ build */

static const char build_usage[] =
    "usage: hvpatch build MANIFEST -o PKG [--image FILE] [--symbols FILE]\n"
    "  Builds an unsigned package from a JSON manifest and the C code it\n"
    "  names (compiled freestanding, linked at the patch area; redirects\n"
    "  are 5-byte jmp rel32 over function entries, a Linux kernel's\n"
    "  ftrace sites). --image replaces the manifest's guest image (kind\n"
    "  linux: the PVH vmlinux), --symbols its kernel symbol table (kind\n"
    "  linux: System.map format, e.g. a copy of /proc/kallsyms).\n"
    "  HVPATCH_GUEST_CC picks the compiler (gcc).\n"
    "  PKG is created, or replaced if it is a regular file (never a FIFO,\n"
    "  device or directory). Inputs must be regular files (else exit 2).\n";

int cli_cmd_build(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"image", required_argument, NULL, 'i'},
        {"symbols", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *image = NULL, *symbols = NULL;
    struct keys_diag d = {""};
    uint8_t *pkg = NULL;
    size_t len = 0;
    struct vrf_pkg p;
    int c, ret, rc = CLI_EXIT_HOST;

    vrf_pkg_init(&p);
    if (cli_wants_help(argc, argv)) {
        fputs(build_usage, stdout);
        rc = CLI_EXIT_OK;
        goto cleanup;
    }
    reset_getopt();
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'i':
            image = optarg;
            break;
        case 'S':
            symbols = optarg;
            break;
        default:
            rc = bad_option(argv[0], build_usage, argv);
            goto cleanup;
        }
    }
    rc = CLI_EXIT_USAGE;
    if (argc - optind != 1 || out == NULL) {
        usage_error(argv[0], build_usage, "MANIFEST and -o PKG expected");
        goto cleanup;
    }
    rc = CLI_EXIT_HOST;
    ret = keys_build(argv[optind], image, symbols, &pkg, &len, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, argv[optind], ret, &d);
        goto cleanup;
    }
    ret = keys_write_file(out, pkg, len, 0, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, out, ret, &d);
        goto cleanup;
    }
    if (vrf_pkg_parse(&p, pkg, len) == VRF_OK)
        printf("hvpatch build: %s: %s, sequence %" PRIu64 ", %zu records, "
               "%zu bytes, unsigned (next: hvpatch sign)\n",
               out, p.id, p.sequence, p.n_records, len);
    rc = CLI_EXIT_OK;

cleanup:
    vrf_pkg_free(&p);
    keys_free(pkg);
    return rc;
}

/* ------------------------------------------------------------------ inspect */

static const char inspect_usage[] =
    "usage: hvpatch inspect PKG [--json] [--image FILE]\n"
    "  Shows every field of package PKG: identity, target, the signer's\n"
    "  certificates (as they claim: not verified) and each record's bytes.\n"
    "  --image names guest symbols at record addresses.\n";

/* Load an optional guest image for symbol names; on failure, none. */
static uint8_t *load_image(const char *cmd, const char *path,
                           struct keys_elf *elf, size_t *len)
{
    struct keys_diag d = {""};
    uint8_t *buf = NULL;
    int ret;

    *len = 0;
    ret = keys_read_file(path, IMAGE_READ_MAX, &buf, len, &d);
    if (ret != KEYS_OK) {
        fail(cmd, CLI_EXIT_HOST, path, ret, &d);
        return NULL;
    }
    if (keys_elf_open(elf, buf, *len, &d) != KEYS_OK)
        memset(elf, 0, sizeof *elf); /* not ELF: baseline only */
    return buf;
}

static void print_reject(FILE *f, const char *cmd, const char *path, int vr,
                         const struct vrf_pkg *p)
{
    fprintf(f, "hvpatch %s: %s: rejected: %s: %s", cmd, path, vrf_errname(vr),
            vrf_strerror(vr));
    if (p->detail[0] != '\0')
        fprintf(f, " (%s)", p->detail);
    if (vr <= VRF_ERR_PARSE_TOO_LARGE && vr >= VRF_ERR_PARSE_X5CHAIN)
        fprintf(f, " at byte %zu", p->fail_offset);
    fputc('\n', f);
}

static json_t *reject_json(int vr, const struct vrf_pkg *p)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "code", json_integer(vr));
    json_object_set_new(o, "name", json_string(vrf_errname(vr)));
    json_object_set_new(o, "message", json_string(vrf_strerror(vr)));
    json_object_set_new(o, "detail", json_string(p->detail));
    if (vr <= VRF_ERR_PARSE_TOO_LARGE && vr >= VRF_ERR_PARSE_X5CHAIN)
        json_object_set_new(o, "offset",
                            json_integer((json_int_t)p->fail_offset));
    if (p->fail_record >= 0)
        json_object_set_new(o, "record", json_integer(p->fail_record));
    return o;
}

static int print_json(json_t *o)
{
    int r = o != NULL && json_dumpf(o, stdout, JSON_INDENT(2)) == 0;

    if (r)
        fputc('\n', stdout);
    json_decref(o);
    return r;
}

int cli_cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"image", required_argument, NULL, 'i'},
        {NULL, 0, NULL, 0},
    };
    const char *image = NULL;
    int json = 0, c, ret, vr, rc = CLI_EXIT_HOST;
    struct keys_diag d = {""};
    uint8_t *pkg = NULL, *img = NULL;
    size_t len = 0, img_len = 0;
    struct vrf_pkg p;
    struct keys_elf elf;

    vrf_pkg_init(&p);
    memset(&elf, 0, sizeof elf);
    if (cli_wants_help(argc, argv)) {
        fputs(inspect_usage, stdout);
        rc = CLI_EXIT_OK;
        goto cleanup;
    }
    reset_getopt();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'i':
            image = optarg;
            break;
        default:
            rc = bad_option(argv[0], inspect_usage, argv);
            goto cleanup;
        }
    }
    if (argc - optind != 1) {
        rc = usage_error(argv[0], inspect_usage, "one PKG expected");
        goto cleanup;
    }
    ret = keys_read_file(argv[optind], PKG_READ_MAX, &pkg, &len, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, argv[optind], ret, &d);
        goto cleanup;
    }
    if (image != NULL) {
        img = load_image(argv[0], image, &elf, &img_len);
        if (img == NULL)
            goto cleanup;
    }
    vr = vrf_pkg_parse(&p, pkg, len);
    if (vr != VRF_OK) {
        print_reject(stderr, argv[0], argv[optind], vr, &p);
        if (json) {
            json_t *o = json_object();

            if (o != NULL)
                json_object_set_new(o, "error", reject_json(vr, &p));
            print_json(o);
        }
        rc = CLI_EXIT_REFUSED;
        goto cleanup;
    }
    if (json) {
        if (!print_json(
                keys_pkg_json(&p, pkg, len, elf.buf != NULL ? &elf : NULL))) {
            fail(argv[0], rc, "JSON output", KEYS_ERR_ALLOC, NULL);
            goto cleanup;
        }
    } else {
        keys_pkg_print(stdout, &p, pkg, len, elf.buf != NULL ? &elf : NULL);
    }
    rc = CLI_EXIT_OK;

cleanup:
    vrf_pkg_free(&p);
    keys_free(pkg);
    keys_free(img);
    return rc;
}

/* ------------------------------------------------------------------ verify */

static const char verify_usage[] =
    "usage: hvpatch verify PKG --trust DIR --kind KIND --seq N\n"
    "                      (--image FILE [--baseline HEX] | --baseline HEX)\n"
    "                      [--symbols FILE] [--now TIME] [--range "
    "BASE:SIZE:code|patch:DOMAIN]...\n"
    "                      [--json] [--repeat N [--no-cache]]\n"
    "  Runs the whole verifier offline: chain, EKU, validity, revocation,\n"
    "  signature, baseline (SHA-256 of --image unless --baseline), sequence\n"
    "  (must exceed N), pre-images (read from the --image ELF) and bounds\n"
    "  (the demo guest's ranges, or --range). Kind linux: --image is the\n"
    "  PVH vmlinux and --symbols its symbol table; ranges and pre-images\n"
    "  are the locked text as the running kernel holds it (ftrace sites\n"
    "  are NOPs) and its patch area. TIME: epoch seconds or\n"
    "  YYYY-MM-DDThh:mm:ssZ (default: now). --repeat times N verifications.\n"
    "  Exit 0: approved; 2: a file cannot be read or is not a regular\n"
    "  file (a FIFO, directory or device: refused, never waited on);\n"
    "  4: rejected, with the reason.\n";

struct offline_guest {
    struct keys_elf elf;
};

static int offline_read(void *opaque, uint64_t gpa, uint8_t *buf, size_t len)
{
    struct offline_guest *g = opaque;

    if (g->elf.buf == NULL)
        return -1; /* no ELF image: guest bytes unknown */
    return keys_elf_read_gpa(&g->elf, gpa, buf, len) == KEYS_OK ? 0 : -1;
}

static int parse_time_arg(const char *s, int64_t *t)
{
    uint64_t u;
    struct tm tm;
    char *end;

    if (parse_u64_arg(s, &u) == 0 && u <= INT64_MAX) {
        *t = (int64_t)u;
        return 0;
    }
    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    *t = (int64_t)timegm(&tm);
    return 0;
}

static int parse_hex32(const char *s, uint8_t out[32])
{
    return strlen(s) == 64 && lib_hex_decode(s, 64, out, 32) == 32 ? 0 : -1;
}

/* BASE:SIZE:code|patch:DOMAIN */
static int parse_range(const char *s, struct vrf_range *r)
{
    char buf[128], *f[4], *save = NULL, *tok;
    size_t n = 0;
    uint64_t dom;

    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    for (tok = strtok_r(buf, ":", &save); tok != NULL && n < 4;
         tok = strtok_r(NULL, ":", &save))
        f[n++] = tok;
    if (n != 4 || tok != NULL || parse_u64_arg(f[0], &r->base) != 0 ||
        parse_u64_arg(f[1], &r->size) != 0 || parse_u64_arg(f[3], &dom) != 0 ||
        dom > UINT32_MAX)
        return -1;
    if (strcmp(f[2], "code") == 0)
        r->kind = VRF_RANGE_CODE;
    else if (strcmp(f[2], "patch") == 0)
        r->kind = VRF_RANGE_PATCH_AREA;
    else
        return -1;
    r->domain = (uint32_t)dom;
    return 0;
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Verify n times and print the timing (the verdict is the last run's). */
static int verify_repeat(struct vrf_trust *trust, const struct vrf_ctx *ctx,
                         const uint8_t *pkg, size_t len, unsigned long n,
                         struct vrf_pkg *p)
{
    double *t = calloc(n, sizeof *t);
    int vr = VRF_ERR_ALLOC;

    if (t == NULL)
        return vr;
    for (unsigned long i = 0; i < n; i++) {
        double t0 = now_us();

        vr = vrf_verify(trust, ctx, pkg, len, p);
        t[i] = now_us() - t0;
    }
    qsort(t, n, sizeof *t, cmp_double);
    printf("verify: %lu runs, chain cache %s: median %.1f us, p90 %.1f us, "
           "min %.1f us, max %.1f us\n",
           n, trust->no_cache ? "off (chain built every run)" : "on", t[n / 2],
           t[(n * 9) / 10], t[0], t[n - 1]);
    free(t);
    return vr;
}

int cli_cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"trust", required_argument, NULL, 't'},
        {"kind", required_argument, NULL, 'k'},
        {"seq", required_argument, NULL, 's'},
        {"image", required_argument, NULL, 'i'},
        {"baseline", required_argument, NULL, 'b'},
        {"now", required_argument, NULL, 'n'},
        {"range", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"repeat", required_argument, NULL, 'R'},
        {"no-cache", no_argument, NULL, 'N'},
        {"symbols", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    const char *trust_dir = NULL, *kind = NULL, *seq = NULL, *image = NULL;
    const char *baseline = NULL, *now_s = NULL, *symbols = NULL;
    struct keys_kernel kern;
    int linux_guest = 0;
    struct vrf_range ranges[MAX_RANGES];
    size_t n_ranges = 0;
    int json = 0, no_cache = 0, c, ret, vr, rc = CLI_EXIT_HOST;
    uint64_t repeat = 0;
    struct keys_diag d = {""};
    struct vrf_trust trust;
    struct vrf_ctx ctx;
    struct vrf_pkg p;
    struct offline_guest guest;
    uint8_t *pkg = NULL, *img = NULL;
    size_t len = 0, img_len = 0;

    vrf_trust_init(&trust);
    vrf_pkg_init(&p);
    memset(&ctx, 0, sizeof ctx);
    memset(&guest, 0, sizeof guest);
    memset(&kern, 0, sizeof kern);
    if (cli_wants_help(argc, argv)) {
        fputs(verify_usage, stdout);
        rc = CLI_EXIT_OK;
        goto cleanup;
    }
    reset_getopt();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            trust_dir = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case 's':
            seq = optarg;
            break;
        case 'i':
            image = optarg;
            break;
        case 'b':
            baseline = optarg;
            break;
        case 'n':
            now_s = optarg;
            break;
        case 'r':
            if (n_ranges == MAX_RANGES ||
                parse_range(optarg, &ranges[n_ranges]) != 0) {
                rc = usage_error(argv[0], verify_usage,
                                 "--range %s: BASE:SIZE:code|patch:DOMAIN "
                                 "(at most %u)",
                                 optarg, MAX_RANGES);
                goto cleanup;
            }
            n_ranges++;
            break;
        case 'j':
            json = 1;
            break;
        case 'R':
            if (parse_u64_arg(optarg, &repeat) != 0 || repeat == 0 ||
                repeat > 1000000) {
                rc = usage_error(argv[0], verify_usage,
                                 "--repeat: 1 to 1000000");
                goto cleanup;
            }
            break;
        case 'N':
            no_cache = 1;
            break;
        case 'S':
            symbols = optarg;
            break;
        default:
            rc = bad_option(argv[0], verify_usage, argv);
            goto cleanup;
        }
    }

    /* Arguments. */
    rc = CLI_EXIT_USAGE;
    if (argc - optind != 1) {
        usage_error(argv[0], verify_usage, "one PKG expected");
        goto cleanup;
    }
    if (trust_dir == NULL || kind == NULL || seq == NULL) {
        usage_error(argv[0], verify_usage,
                    "--trust, --kind and --seq are "
                    "required");
        goto cleanup;
    }
    if (image == NULL && baseline == NULL) {
        usage_error(argv[0], verify_usage,
                    "give --image FILE or --baseline "
                    "HEX");
        goto cleanup;
    }
    if (parse_u64_arg(seq, &ctx.current_seq) != 0) {
        usage_error(argv[0], verify_usage, "--seq %s: a number", seq);
        goto cleanup;
    }
    if (baseline != NULL && parse_hex32(baseline, ctx.baseline) != 0) {
        usage_error(argv[0], verify_usage,
                    "--baseline: 64 hex digits "
                    "(SHA-256)");
        goto cleanup;
    }
    ctx.now = (int64_t)time(NULL);
    if (now_s != NULL && parse_time_arg(now_s, &ctx.now) != 0) {
        usage_error(argv[0], verify_usage,
                    "--now %s: epoch seconds or "
                    "YYYY-MM-DDThh:mm:ssZ",
                    now_s);
        goto cleanup;
    }
    /* A Linux guest's ranges come from its kernel: --image and --symbols. */
    linux_guest = n_ranges == 0 && strcmp(kind, "linux") == 0;
    if (linux_guest && (image == NULL || symbols == NULL)) {
        usage_error(argv[0], verify_usage,
                    "kind linux: --image VMLINUX and --symbols FILE give "
                    "its ranges and text (or give --range)");
        goto cleanup;
    }
    if (symbols != NULL && !linux_guest) {
        usage_error(argv[0], verify_usage,
                    "--symbols is for kind linux without --range");
        goto cleanup;
    }
    if (n_ranges == 0 && strcmp(kind, "demo") != 0 && !linux_guest) {
        usage_error(argv[0], verify_usage,
                    "--range is required for guest "
                    "kind '%s'",
                    kind);
        goto cleanup;
    }
    ctx.kind = kind;
    if (n_ranges > 0) {
        ctx.ranges = ranges;
        ctx.n_ranges = n_ranges;
    } else if (!linux_guest) {
        ctx.ranges = vrf_demo_ranges(&ctx.n_ranges);
    }
    ctx.read = offline_read;
    ctx.read_opaque = &guest;

    /* Inputs. */
    rc = CLI_EXIT_HOST;
    ret = keys_trust_load_dir(&trust, trust_dir, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, trust_dir, ret, &d);
        goto cleanup;
    }
    trust.no_cache = no_cache;
    if (linux_guest) {
        ret = keys_kernel_load(&kern, image, symbols, &d);
        if (ret != KEYS_OK) {
            fail(argv[0], rc, image, ret, &d);
            goto cleanup;
        }
        if (baseline == NULL && mbedtls_sha256_ret(kern.file, kern.file_len,
                                                   ctx.baseline, 0) != 0) {
            fail(argv[0], rc, image, KEYS_ERR_CRYPTO, NULL);
            goto cleanup;
        }
        ctx.ranges = kern.ranges;
        ctx.n_ranges = kern.n_ranges;
        ctx.read = keys_kernel_read_running;
        ctx.read_opaque = &kern;
    } else if (image != NULL) {
        img = load_image(argv[0], image, &guest.elf, &img_len);
        if (img == NULL)
            goto cleanup;
        if (baseline == NULL &&
            mbedtls_sha256_ret(img, img_len, ctx.baseline, 0) != 0) {
            fail(argv[0], rc, image, KEYS_ERR_CRYPTO, NULL);
            goto cleanup;
        }
    }
    ret = keys_read_file(argv[optind], VRF_PKG_MAX_SIZE, &pkg, &len, &d);
    if (ret == KEYS_ERR_IO_TOO_LARGE) {
        /* Too large for the format: the parser's verdict, in its words
         * (the message states the limit; the detail, the size). */
        struct stat st;

        snprintf(p.detail, sizeof p.detail, "%lld bytes",
                 stat(argv[optind], &st) == 0 ? (long long)st.st_size : -1LL);
        vr = VRF_ERR_PARSE_TOO_LARGE;
        goto verdict;
    }
    if (ret != KEYS_OK) {
        fail(argv[0], rc, argv[optind], ret, &d);
        goto cleanup;
    }

    /* The verdict. */
    if (repeat > 0)
        vr = verify_repeat(&trust, &ctx, pkg, len, (unsigned long)repeat, &p);
    else
        vr = vrf_verify(&trust, &ctx, pkg, len, &p);
verdict:
    if (json) {
        json_t *o = json_object();

        if (o != NULL) {
            json_object_set_new(
                o, "result",
                json_string(vr == VRF_OK ? "approved" : "rejected"));
            json_object_set_new(o, "reason", reject_json(vr, &p));
            if (vr == VRF_OK ||
                !(vr <= VRF_ERR_PARSE_TOO_LARGE && vr >= VRF_ERR_PARSE_X5CHAIN))
                json_object_set_new(
                    o, "package",
                    keys_pkg_json(&p, pkg, len,
                                  guest.elf.buf != NULL ? &guest.elf : NULL));
        }
        print_json(o);
    }
    if (vr != VRF_OK) {
        print_reject(stderr, argv[0], argv[optind], vr, &p);
        rc = CLI_EXIT_REFUSED;
        goto cleanup;
    }
    if (!json)
        printf("hvpatch verify: %s: approved: %s sequence %" PRIu64
               ", %zu records, signed by %s (anchor %s)\n",
               argv[optind], p.id, p.sequence, p.n_records, p.signer.subject,
               p.signer.anchor);
    rc = CLI_EXIT_OK;

cleanup:
    vrf_pkg_free(&p);
    vrf_trust_free(&trust);
    keys_kernel_free(&kern);
    keys_free(pkg);
    keys_free(img);
    return rc;
}

/* ------------------------------------------------------------------ revoke */

static const char revoke_usage[] =
    "usage: hvpatch revoke (--keys DIR | --ca-key KEY --ca-cert CERT)\n"
    "                      [-o CRL] [--crl OLD] [--days N] [CERT...]\n"
    "  Issues a CRL signed by the CA listing each CERT's serial number and\n"
    "  every entry of OLD (default with --keys: DIR/trust/crls/root.crl,\n"
    "  which is also the default output). Valid for N days (30).\n"
    "  CRL is created, or replaced if it is a regular file (never a FIFO,\n"
    "  device or directory). Inputs must be regular files (else exit 2).\n";

int cli_cmd_revoke(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"keys", required_argument, NULL, 'K'},
        {"ca-key", required_argument, NULL, 'k'},
        {"ca-cert", required_argument, NULL, 'c'},
        {"crl", required_argument, NULL, 'C'},
        {"days", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *keys = NULL, *key = NULL, *cert = NULL;
    const char *old = NULL;
    char key_path[4096], cert_path[4096], crl_path[4096];
    int days = 30, c, ret, rc = CLI_EXIT_HOST, insecure = 0;
    struct keys_diag d = {""};
    mbedtls_pk_context pk;
    mbedtls_x509_crt ca, victim;
    mbedtls_x509_crl crl;
    struct keys_serial *serials = NULL;
    size_t n = 0, cap = 0;
    char *pem = NULL;
    struct stat st;

    mbedtls_pk_init(&pk);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crl_init(&crl);
    if (cli_wants_help(argc, argv)) {
        fputs(revoke_usage, stdout);
        rc = CLI_EXIT_OK;
        goto cleanup;
    }
    reset_getopt();
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'K':
            keys = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'C':
            old = optarg;
            break;
        case 'd':
            if (parse_int_arg(optarg, 1, 3650, &days) != 0) {
                rc = usage_error(argv[0], revoke_usage, "--days: 1 to 3650");
                goto cleanup;
            }
            break;
        default:
            rc = bad_option(argv[0], revoke_usage, argv);
            goto cleanup;
        }
    }
    rc = CLI_EXIT_USAGE;
    if ((keys != NULL) == (key != NULL || cert != NULL) ||
        (keys == NULL && (key == NULL || cert == NULL))) {
        usage_error(argv[0], revoke_usage,
                    "give --keys DIR, or both --ca-key and --ca-cert");
        goto cleanup;
    }
    if (keys != NULL) {
        snprintf(key_path, sizeof key_path, "%s/root.key", keys);
        snprintf(cert_path, sizeof cert_path, "%s/root.pem", keys);
        snprintf(crl_path, sizeof crl_path, "%s/trust/crls/root.crl", keys);
        key = key_path;
        cert = cert_path;
        out = out != NULL ? out : crl_path;
        if (old == NULL && stat(crl_path, &st) == 0)
            old = crl_path;
    }
    if (out == NULL) {
        usage_error(argv[0], revoke_usage, "-o CRL is required");
        goto cleanup;
    }

    rc = CLI_EXIT_HOST;
    ret = keys_load_key(&pk, key, &insecure, &d);
    if (ret == KEYS_OK)
        ret = keys_load_certs(&ca, cert, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, "CA", ret, &d);
        goto cleanup;
    }
    if (mbedtls_pk_check_pair(&ca.pk, &pk) != 0 || !ca.ca_istrue) {
        fail(argv[0], rc, cert, KEYS_ERR_KEY_MISMATCH, NULL);
        goto cleanup;
    }

    /* Entries of the old CRL, which must be this CA's. */
    if (old != NULL) {
        struct keys_diag d2 = {""};
        uint8_t *buf = NULL, *z = NULL;
        size_t blen = 0;

        ret = keys_read_file(old, 1u << 20, &buf, &blen, &d2);
        if (ret == KEYS_OK) {
            z = malloc(blen + 1);
            ret = z == NULL ? KEYS_ERR_ALLOC : KEYS_OK;
        }
        if (ret == KEYS_OK) {
            memcpy(z, buf, blen);
            z[blen] = '\0';
            if (mbedtls_x509_crl_parse(&crl, z, blen + 1) != 0 ||
                crl.issuer_raw.len != ca.subject_raw.len ||
                memcmp(crl.issuer_raw.p, ca.subject_raw.p,
                       crl.issuer_raw.len) != 0) {
                ret = KEYS_ERR_CERT_PARSE;
                keys_diag_set(&d2, "not a CRL of this CA");
            }
        }
        free(buf);
        free(z);
        if (ret != KEYS_OK) {
            fail(argv[0], rc, old, ret, &d2);
            goto cleanup;
        }
        for (const mbedtls_x509_crl_entry *e = &crl.entry;
             e != NULL && e->serial.len != 0; e = e->next) {
            if (n == cap) {
                struct keys_serial *ns;

                cap = cap ? 2 * cap : 16;
                ns = realloc(serials, cap * sizeof *ns);
                if (ns == NULL) {
                    fail(argv[0], rc, "CRL", KEYS_ERR_ALLOC, NULL);
                    goto cleanup;
                }
                serials = ns;
            }
            if (e->serial.len > sizeof serials[n].bytes) {
                fail(argv[0], rc, old, KEYS_ERR_CERT_PARSE, NULL);
                goto cleanup;
            }
            memcpy(serials[n].bytes, e->serial.p, e->serial.len);
            serials[n].len = e->serial.len;
            serials[n].revoked_at = vrf_x509_time_to_epoch(&e->revocation_date);
            n++;
        }
    }

    /* The certificates to revoke: issued by this CA. */
    for (int i = optind; i < argc; i++) {
        mbedtls_x509_crt_init(&victim);
        ret = keys_load_certs(&victim, argv[i], &d);
        if (ret == KEYS_OK && (victim.issuer_raw.len != ca.subject_raw.len ||
                               memcmp(victim.issuer_raw.p, ca.subject_raw.p,
                                      victim.issuer_raw.len) != 0 ||
                               victim.serial.len > sizeof serials[0].bytes)) {
            ret = KEYS_ERR_CERT_CHAIN;
            keys_diag_set(&d, "not issued by this CA");
        }
        if (ret == KEYS_OK && n == cap) {
            struct keys_serial *ns;

            cap = cap ? 2 * cap : 16;
            ns = realloc(serials, cap * sizeof *ns);
            if (ns == NULL)
                ret = KEYS_ERR_ALLOC;
            else
                serials = ns;
        }
        if (ret != KEYS_OK) {
            mbedtls_x509_crt_free(&victim);
            fail(argv[0], rc, argv[i], ret, &d);
            goto cleanup;
        }
        memcpy(serials[n].bytes, victim.serial.p, victim.serial.len);
        serials[n].len = victim.serial.len;
        serials[n].revoked_at = (int64_t)time(NULL);
        n++;
        mbedtls_x509_crt_free(&victim);
    }

    /* CRL numbers must grow: the issue time in seconds does. */
    ret =
        keys_crl_issue(&pk, &ca, serials, n, days, (uint64_t)time(NULL), &pem);
    if (ret == KEYS_OK)
        ret = keys_write_file(out, (const uint8_t *)pem, strlen(pem), 0, &d);
    if (ret != KEYS_OK) {
        fail(argv[0], rc, out, ret, &d);
        goto cleanup;
    }
    printf("hvpatch revoke: %s: CRL with %zu revoked certificate(s), valid "
           "%d days\n",
           out, n, days);
    rc = CLI_EXIT_OK;

cleanup:
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crl_free(&crl);
    free(serials);
    keys_free(pem);
    return rc;
}
