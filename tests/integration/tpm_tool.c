/* tpm_tool.c: test-only driver of the TPM layer (hv_swtpm, fw_measure,
 * vrf_tpm) for tests/integration/tpm.bats, until `hvpatch run` wires it.
 * Every subcommand prints what it did on stdout and errors on stderr.
 *
 *   tpm_tool boot --tcti T --log F --image F [--kind K] [--cmdline S]
 *                 [--initrd F] [--fw F]
 *   tpm_tool runtime --tcti T --log F --action lock|patch|revert --id ID
 *                 --seq N [--digest HEX]
 *   tpm_tool attest --tcti T --log F --nonce HEX --out DIR
 *   tpm_tool verify-attestation DIR [...]          (the hvpatch command)
 *   tpm_tool nv-read|nv-check|nv-commit --tcti T [--seq N]
 *   tpm_tool pcrs-decode FILE
 *   tpm_tool hold --state DIR [--bin SWTPM]        (start, wait for stdin EOF)
 *   tpm_tool session --state DIR --image F [--kind K] [--patch SEQ]...
 *                 [--target HEX] [--kill-after N] [--stop-after N]
 *                 [--run-before N --run CMD]
 *                 [--timeout MS] [--attest DIR --nonce HEX]
 *   tpm_tool bench --state DIR [--n N]
 * Exit: 0 ok, 1 usage, 2 set-up failure, 4 refused.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/md.h>

#include "cli/cli.h"
#include "firmware/fw_eventlog.h"
#include "firmware/fw_measure.h"
#include "hv/svc/hv_swtpm.h"
#include "tpm/vrf_tpm.h"

#define FW_VERSION "hvpatch firmware 1"
static const char test_stub[] = "hvpatch test firmware stub (tpm_tool)";

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

struct opts {
    const char *tcti, *log, *image, *kind, *cmdline, *initrd, *fw;
    const char *action, *id, *digest, *nonce, *out, *state, *bin, *target;
    const char *attest, *run; /* run: a shell command for --run-before */
    unsigned long long seq;
    int have_seq;
    unsigned long long patches[16];
    int npatches;
    int kill_after, stop_after, run_before;
    unsigned timeout, n;
};

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->kind = "demo";
    o->kill_after = o->stop_after = o->run_before = -1;
    o->n = 20;
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **s = NULL;
        if (!strcmp(k, "--tcti"))
            s = &o->tcti;
        else if (!strcmp(k, "--log"))
            s = &o->log;
        else if (!strcmp(k, "--image"))
            s = &o->image;
        else if (!strcmp(k, "--kind"))
            s = &o->kind;
        else if (!strcmp(k, "--cmdline"))
            s = &o->cmdline;
        else if (!strcmp(k, "--initrd"))
            s = &o->initrd;
        else if (!strcmp(k, "--fw"))
            s = &o->fw;
        else if (!strcmp(k, "--action"))
            s = &o->action;
        else if (!strcmp(k, "--id"))
            s = &o->id;
        else if (!strcmp(k, "--digest"))
            s = &o->digest;
        else if (!strcmp(k, "--nonce"))
            s = &o->nonce;
        else if (!strcmp(k, "--out"))
            s = &o->out;
        else if (!strcmp(k, "--state"))
            s = &o->state;
        else if (!strcmp(k, "--bin"))
            s = &o->bin;
        else if (!strcmp(k, "--target"))
            s = &o->target;
        else if (!strcmp(k, "--run"))
            s = &o->run;
        else if (!strcmp(k, "--attest"))
            s = &o->attest;
        if (v == NULL)
            return -1;
        if (s != NULL) {
            *s = v;
        } else if (!strcmp(k, "--seq")) {
            o->seq = strtoull(v, NULL, 0);
            o->have_seq = 1;
        } else if (!strcmp(k, "--patch") && o->npatches < 16) {
            o->patches[o->npatches++] = strtoull(v, NULL, 0);
        } else if (!strcmp(k, "--kill-after")) {
            o->kill_after = atoi(v);
        } else if (!strcmp(k, "--stop-after")) {
            o->stop_after = atoi(v);
        } else if (!strcmp(k, "--run-before")) {
            o->run_before = atoi(v);
        } else if (!strcmp(k, "--timeout")) {
            o->timeout = (unsigned)atoi(v);
        } else if (!strcmp(k, "--n")) {
            o->n = (unsigned)atoi(v);
        } else {
            return -1;
        }
        i++;
    }
    return 0;
}

static int hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0 || n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return (int)(n / 2);
}

static int read_all(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "tpm_tool: %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    *buf = malloc((size_t)n + 1);
    *len = (size_t)n;
    if (*buf == NULL || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "tpm_tool: read %s failed\n", path);
        fclose(f);
        free(*buf);
        *buf = NULL;
        return -1;
    }
    fclose(f);
    return 0;
}

static int write_all(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok = f != NULL && fwrite(buf, 1, len, f) == len;
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "tpm_tool: write %s failed\n", path);
    return ok ? 0 : -1;
}

static void sha256(const void *d, size_t n, uint8_t out[32])
{
    mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), d, n, out);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
           (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int open_tpm(const char *tcti, unsigned timeout, struct vrf_tpm **t)
{
    char err[512];
    int rc = vrf_tpm_open(tcti, VRF_TPM_OPEN_FLUSH_TRANSIENT, timeout, t, err,
                          sizeof err);
    if (rc != 0)
        fprintf(stderr, "tpm_tool: %s: %s\n", vrf_tpm_strerror(rc), err);
    return rc;
}

static void tpm_err(const char *what, struct vrf_tpm *t, int rc)
{
    fprintf(stderr, "tpm_tool: %s: %s: %s\n", what, vrf_tpm_strerror(rc),
            vrf_tpm_last_error(t));
}

/* Measured boot of the files named in o into t and *log. */
static int do_boot(const struct opts *o, struct vrf_tpm *t,
                   struct fw_evlog *log, struct fw_boot_result *res)
{
    uint8_t *image = NULL, *initrd = NULL, *fw = NULL;
    size_t image_len = 0, initrd_len = 0, fw_len = 0;
    uint16_t algs[FW_EVLOG_MAX_ALGS];
    char h[65];
    int rc = CLI_EXIT_HOST;

    if (read_all(o->image, &image, &image_len) != 0 ||
        (o->initrd && read_all(o->initrd, &initrd, &initrd_len) != 0) ||
        (o->fw && read_all(o->fw, &fw, &fw_len) != 0))
        goto cleanup;
    int r = vrf_tpm_require_reset(t, FW_PCR_QUOTE_MASK);
    if (r != 0) {
        tpm_err("boot", t, r);
        goto cleanup;
    }
    size_t n = vrf_tpm_banks(t, algs);
    r = fw_evlog_init(log, algs, n);
    if (r != 0) {
        fprintf(stderr, "tpm_tool: fw_evlog_init: %s\n", fw_strerror(r));
        goto cleanup;
    }
    struct fw_boot_input in = {
        .fw_version = FW_VERSION,
        .fw_stub = fw ? (const void *)fw : test_stub,
        .fw_stub_len = fw ? fw_len : sizeof test_stub - 1,
        .image = image,
        .image_len = image_len,
        .kind = o->kind,
        .cmdline = o->cmdline,
        .initrd = initrd,
        .initrd_len = initrd_len,
    };
    r = fw_measure_boot(log, &in, vrf_tpm_extend_cb, t, res);
    if (r != 0) {
        fprintf(stderr, "tpm_tool: measured boot: %s (%s)\n", fw_strerror(r),
                vrf_tpm_last_error(t));
        goto cleanup;
    }
    fw_hex32(res->image_digest, h);
    printf("baseline: sha256:%s kind=%s\n", h, res->kind);
    fw_hex32(res->boot_id, h);
    printf("boot id: %s\n", h);
    printf("banks: %zu\n", n);
    rc = 0;
cleanup:
    free(image);
    free(initrd);
    free(fw);
    return rc;
}

static int load_log(const char *path, struct fw_evlog *log)
{
    uint8_t *b = NULL;
    size_t n = 0;
    if (read_all(path, &b, &n) != 0)
        return -1;
    int r = fw_evlog_load(log, b, n);
    free(b);
    if (r != 0)
        fprintf(stderr, "tpm_tool: %s: %s\n", path, fw_strerror(r));
    return r;
}

static int cmd_boot(const struct opts *o)
{
    struct vrf_tpm *t = NULL;
    struct fw_evlog log = {0};
    struct fw_boot_result res;
    int rc = CLI_EXIT_USAGE;

    if (!o->tcti || !o->log || !o->image)
        return rc;
    rc = CLI_EXIT_HOST;
    if (open_tpm(o->tcti, o->timeout, &t) != 0)
        goto cleanup;
    rc = do_boot(o, t, &log, &res);
    if (rc == 0 && write_all(o->log, log.buf, log.len) != 0)
        rc = CLI_EXIT_HOST;
cleanup:
    fw_evlog_free(&log);
    vrf_tpm_close(t);
    return rc;
}

static int cmd_runtime(const struct opts *o)
{
    struct vrf_tpm *t = NULL;
    struct fw_evlog log = {0};
    struct fw_runtime_rec r;
    int rc = CLI_EXIT_USAGE;

    if (!o->tcti || !o->log || !o->action || !o->id || !o->have_seq)
        return rc;
    memset(&r, 0, sizeof r);
    r.action = !strcmp(o->action, "lock")     ? FW_ACT_TEXT_LOCK
               : !strcmp(o->action, "patch")  ? FW_ACT_PATCH
               : !strcmp(o->action, "revert") ? FW_ACT_REVERT
                                              : 0;
    r.sequence = o->seq;
    snprintf(r.id, sizeof r.id, "%s", o->id);
    if (o->digest) {
        if (hex(o->digest, r.digest, sizeof r.digest) != 32)
            return rc;
    } else {
        sha256(o->id, strlen(o->id), r.digest);
    }
    rc = CLI_EXIT_HOST;
    if (load_log(o->log, &log) != 0 || open_tpm(o->tcti, o->timeout, &t) != 0)
        goto cleanup;
    int e = fw_measure_runtime(&log, &r, vrf_tpm_extend_cb, t);
    if (e != 0) {
        fprintf(stderr, "tpm_tool: runtime record: %s (%s)\n", fw_strerror(e),
                vrf_tpm_last_error(t));
        rc = e == FW_ERR_PAYLOAD ? CLI_EXIT_USAGE : CLI_EXIT_HOST;
        goto cleanup;
    }
    if (write_all(o->log, log.buf, log.len) != 0)
        goto cleanup;
    printf("runtime: %s %s seq=%llu\n", fw_action_name(r.action), r.id,
           (unsigned long long)r.sequence);
    rc = 0;
cleanup:
    fw_evlog_free(&log);
    vrf_tpm_close(t);
    return rc;
}

static int attest(struct vrf_tpm *t, const uint8_t *log, size_t log_len,
                  const char *nonce_hex, const char *dir)
{
    uint8_t nonce[VRF_NONCE_MAX];
    struct vrf_quote *q = calloc(1, sizeof *q);
    char err[512];
    int rc = CLI_EXIT_USAGE, n = hex(nonce_hex, nonce, sizeof nonce);

    if (q == NULL || n <= 0)
        goto cleanup;
    rc = CLI_EXIT_HOST;
    int r = vrf_tpm_ak_create(t);
    if (r == 0)
        r = vrf_tpm_quote(t, FW_PCR_QUOTE_MASK, nonce, (size_t)n, q);
    if (r != 0) {
        tpm_err("attest", t, r);
        goto cleanup;
    }
    r = vrf_att_save(dir, q, nonce, (size_t)n, log, log_len, err, sizeof err);
    if (r != 0) {
        fprintf(stderr, "tpm_tool: %s: %s\n", vrf_tpm_strerror(r), err);
        goto cleanup;
    }
    printf("attestation written to %s\n", dir);
    rc = 0;
cleanup:
    free(q);
    return rc;
}

static int cmd_attest(const struct opts *o)
{
    struct vrf_tpm *t = NULL;
    uint8_t *log = NULL;
    size_t len = 0;
    int rc = CLI_EXIT_USAGE;

    if (!o->tcti || !o->log || !o->nonce || !o->out)
        return rc;
    rc = CLI_EXIT_HOST;
    if (read_all(o->log, &log, &len) != 0 ||
        open_tpm(o->tcti, o->timeout, &t) != 0)
        goto cleanup;
    rc = attest(t, log, len, o->nonce, o->out);
cleanup:
    free(log);
    vrf_tpm_close(t);
    return rc;
}

static int cmd_nv(const char *cmd, const struct opts *o)
{
    struct vrf_tpm *t = NULL;
    uint64_t v = 0;
    int rc = CLI_EXIT_USAGE, r;

    if (!o->tcti || (strcmp(cmd, "nv-read") != 0 && !o->have_seq))
        return rc;
    rc = CLI_EXIT_HOST;
    if (open_tpm(o->tcti, o->timeout, &t) != 0)
        goto cleanup;
    if (!strcmp(cmd, "nv-read"))
        r = vrf_tpm_nv_read_seq(t, &v);
    else if (!strcmp(cmd, "nv-check"))
        r = vrf_tpm_nv_check_seq(t, o->seq);
    else
        r = vrf_tpm_nv_commit_seq(t, o->seq);
    if (r != 0) {
        tpm_err(cmd, t, r);
        rc = r == VRF_ERR_TPM_ROLLBACK || r == VRF_ERR_TPM_NV_STEP
                 ? CLI_EXIT_REFUSED
                 : CLI_EXIT_HOST;
        goto cleanup;
    }
    if (!strcmp(cmd, "nv-read"))
        printf("highest applied sequence: %llu\n", (unsigned long long)v);
    else
        printf("%s: sequence %llu ok\n", cmd, o->seq);
    rc = 0;
cleanup:
    vrf_tpm_close(t);
    return rc;
}

static int cmd_pcrs_decode(int argc, char **argv)
{
    uint8_t *b = NULL, pcr[FW_PCR_COUNT][FW_SHA256_SIZE];
    size_t n = 0;
    uint32_t mask;
    char h[65];

    if (argc != 3 || read_all(argv[2], &b, &n) != 0)
        return CLI_EXIT_USAGE;
    int r = vrf_pcrs_file_decode(b, n, &mask, pcr);
    if (r == 0) {
        for (unsigned i = 0; i < FW_PCR_COUNT; i++)
            if (mask & (1u << i)) {
                fw_hex32(pcr[i], h);
                printf("%u: %s\n", i, h);
            }
        uint8_t again[VRF_PCRS_FILE_MAX];
        int m = vrf_pcrs_file_encode(mask, pcr, again, sizeof again);
        printf("re-encoded: %s\n", m == (int)n && memcmp(again, b, n) == 0
                                       ? "identical"
                                       : "different");
    } else {
        fprintf(stderr, "tpm_tool: %s\n", vrf_tpm_strerror(r));
    }
    free(b);
    return r == 0 ? 0 : CLI_EXIT_REFUSED;
}

static int cmd_hold(const struct opts *o)
{
    struct hv_swtpm s;
    struct hv_swtpm_config cfg = {.state_dir = o->state,
                                  .swtpm_bin = o->bin,
                                  .start_timeout_ms = o->timeout};
    char err[512], c;

    if (!o->state)
        return CLI_EXIT_USAGE;
    int r = hv_swtpm_start(&s, &cfg, err, sizeof err);
    if (r != 0) {
        fprintf(stderr, "tpm_tool: %s: %s\n", hv_swtpm_strerror(r), err);
        return CLI_EXIT_HOST;
    }
    printf("swtpm pid %d\ntcti %s\n", (int)s.pid, hv_swtpm_tcti(&s));
    fflush(stdout);
    while (read(0, &c, 1) > 0) /* until stdin closes */
        ;
    hv_swtpm_stop(&s, 0, err, sizeof err);
    printf("%s\n", err);
    return 0;
}

/* One monitor run: swtpm, measured boot, AK, text lock, patches (each
 * approved with a fresh quote and the NV counter), attestation, stop. */
static int cmd_session(const struct opts *o)
{
    struct hv_swtpm s;
    struct hv_swtpm_config cfg = {.state_dir = o->state};
    struct vrf_tpm *t = NULL;
    struct fw_evlog log = {0};
    struct fw_boot_result boot;
    struct vrf_attest_report rep;
    uint8_t target[32];
    char err[512];
    int rc = CLI_EXIT_USAGE, r, started = 0;

    memset(&rep, 0, sizeof rep);
    if (!o->state || !o->image || (o->attest && !o->nonce))
        return rc;
    rc = CLI_EXIT_HOST;
    r = hv_swtpm_start(&s, &cfg, err, sizeof err);
    if (r != 0) {
        fprintf(stderr, "tpm_tool: %s: %s\n", hv_swtpm_strerror(r), err);
        goto cleanup;
    }
    started = 1;
    printf("swtpm pid %d\n", (int)s.pid);
    if (open_tpm(hv_swtpm_tcti(&s), o->timeout, &t) != 0 ||
        do_boot(o, t, &log, &boot) != 0)
        goto cleanup;
    r = vrf_tpm_ak_create(t);
    if (r != 0) {
        tpm_err("AK", t, r);
        goto cleanup;
    }
    struct fw_runtime_rec lock = {.action = FW_ACT_TEXT_LOCK, .sequence = 0};
    snprintf(lock.id, sizeof lock.id, "guest-text");
    memcpy(lock.digest, boot.image_digest, 32);
    r = fw_measure_runtime(&log, &lock, vrf_tpm_extend_cb, t);
    if (r != 0) {
        fprintf(stderr, "tpm_tool: text lock: %s\n", fw_strerror(r));
        goto cleanup;
    }
    memcpy(target, boot.image_digest, 32);
    if (o->target && hex(o->target, target, sizeof target) != 32) {
        rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    for (int i = 0; i < o->npatches; i++) {
        uint64_t seq = o->patches[i];
        struct timespec t0;
        if (i == o->kill_after) {
            kill(s.pid, SIGKILL);
            printf("swtpm killed\n");
        }
        if (i == o->stop_after) {
            kill(s.pid, SIGSTOP);
            printf("swtpm stopped (SIGSTOP)\n");
        }
        if (i == o->run_before && o->run) /* e.g. tpm2-tools on the TPM */
            printf("ran '%s': exit %d\n", o->run, system(o->run));
        clock_gettime(CLOCK_MONOTONIC, &t0);
        /* Approval, as the verifier's apply path does it: the NV counter
         * read once, PCRs read back and replayed against the log, baseline
         * == target, sequence above the counter. */
        uint64_t highest = 0;
        const char *why = vrf_tpm_last_error(t);
        r = vrf_tpm_nv_read_seq(t, &highest);
        if (r == 0) {
            r = vrf_tpm_check_pcrs(t, log.buf, log.len, target, o->kind,
                                   &rep);
            why = rep.detail;
        }
        if (r == 0) {
            r = vrf_tpm_nv_seq_allowed(t, highest, seq);
            why = vrf_tpm_last_error(t);
        }
        vrf_attest_report_free(&rep);
        if (r != 0) {
            printf("refused: seq %llu: %s: %s (%.0f ms)\n",
                   (unsigned long long)seq, vrf_tpm_strerror(r), why,
                   ms_since(&t0));
            printf("guest still running\n");
            continue;
        }
        /* (The patch bytes would be written here.) Then measure, bump. */
        struct fw_runtime_rec pr = {.action = FW_ACT_PATCH, .sequence = seq};
        snprintf(pr.id, sizeof pr.id, "pkg-%llu", (unsigned long long)seq);
        sha256(pr.id, strlen(pr.id), pr.digest);
        r = fw_measure_runtime(&log, &pr, vrf_tpm_extend_cb, t);
        if (r == 0)
            r = vrf_tpm_nv_commit_seq(t, seq);
        if (r != 0) {
            printf("failed after approval: seq %llu: %s: %s\n",
                   (unsigned long long)seq,
                   r <= FW_ERR_ARG && r >= FW_ERR_EMPTY ? fw_strerror(r)
                                                        : vrf_tpm_strerror(r),
                   vrf_tpm_last_error(t));
            continue;
        }
        printf("applied: seq %llu (%.1f ms)\n", (unsigned long long)seq,
               ms_since(&t0));
    }
    if (o->attest && !vrf_tpm_is_gone(t))
        (void)attest(t, log.buf, log.len, o->nonce, o->attest);
    rc = 0;
cleanup:
    if (t != NULL && !vrf_tpm_is_gone(t))
        (void)vrf_tpm_shutdown(t);
    vrf_tpm_close(t);
    fw_evlog_free(&log);
    if (started) {
        hv_swtpm_stop(&s, o->stop_after >= 0 ? 300 : 0, err, sizeof err);
        printf("%s\n", err);
    }
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* swtpm start-up, then quote + full check per "apply" (median). */
static int cmd_bench(const struct opts *o)
{
    struct hv_swtpm s;
    struct hv_swtpm_config cfg = {.state_dir = o->state};
    struct vrf_tpm *t = NULL;
    struct fw_evlog log = {0};
    struct fw_boot_result boot;
    struct vrf_attest_report rep;
    double start[8], quote[256], approve[256];
    char err[512];
    unsigned n = o->n > 256 ? 256 : o->n ? o->n : 1;
    int rc = CLI_EXIT_HOST;

    if (!o->state || !o->image)
        return CLI_EXIT_USAGE;
    for (int i = 0; i < 5; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (hv_swtpm_start(&s, &cfg, err, sizeof err) != 0) {
            fprintf(stderr, "tpm_tool: %s\n", err);
            return rc;
        }
        start[i] = ms_since(&t0);
        if (i < 4)
            hv_swtpm_stop(&s, 0, NULL, 0);
    }
    qsort(start, 5, sizeof start[0], cmp_double);
    if (open_tpm(hv_swtpm_tcti(&s), 0, &t) != 0 ||
        do_boot(o, t, &log, &boot) != 0 || vrf_tpm_ak_create(t) != 0)
        goto cleanup;
    for (unsigned i = 0; i < n; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = vrf_tpm_check_fresh(t, log.buf, log.len, boot.image_digest,
                                    boot.kind, &rep);
        vrf_attest_report_free(&rep);
        if (r != 0) {
            fprintf(stderr, "tpm_tool: check: %s\n", rep.detail);
            goto cleanup;
        }
        quote[i] = ms_since(&t0);
        /* What an apply does instead (the verifier's approval). */
        uint64_t highest;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = vrf_tpm_nv_read_seq(t, &highest);
        if (r == 0)
            r = vrf_tpm_check_pcrs(t, log.buf, log.len, boot.image_digest,
                                   boot.kind, &rep);
        vrf_attest_report_free(&rep);
        if (r != 0) {
            fprintf(stderr, "tpm_tool: approval check: %s\n",
                    rep.detail[0] ? rep.detail : vrf_tpm_last_error(t));
            goto cleanup;
        }
        approve[i] = ms_since(&t0);
    }
    qsort(quote, n, sizeof quote[0], cmp_double);
    qsort(approve, n, sizeof approve[0], cmp_double);
    printf("swtpm start-up (median of 5): %.1f ms\n", start[2]);
    printf("quote + verification (median of %u): %.1f ms\n", n, quote[n / 2]);
    printf("apply check: NV read + PCR read + replay (median of %u): "
           "%.2f ms\n",
           n, approve[n / 2]);
    rc = 0;
cleanup:
    vrf_tpm_close(t);
    fw_evlog_free(&log);
    hv_swtpm_stop(&s, 0, NULL, 0);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;

    /* ESAPI's own log lines would duplicate our decoded messages. */
    setenv("TSS2_LOG", "all+NONE", 0);
    if (argc < 2)
        goto usage;
    if (!strcmp(argv[1], "verify-attestation"))
        return cli_cmd_verify_attestation(argc - 1, argv + 1);
    if (!strcmp(argv[1], "pcrs-decode"))
        return cmd_pcrs_decode(argc, argv);
    if (parse(argc, argv, &o) != 0)
        goto usage;
    if (!strcmp(argv[1], "boot"))
        return cmd_boot(&o);
    if (!strcmp(argv[1], "runtime"))
        return cmd_runtime(&o);
    if (!strcmp(argv[1], "attest"))
        return cmd_attest(&o);
    if (!strncmp(argv[1], "nv-", 3))
        return cmd_nv(argv[1], &o);
    if (!strcmp(argv[1], "hold"))
        return cmd_hold(&o);
    if (!strcmp(argv[1], "session"))
        return cmd_session(&o);
    if (!strcmp(argv[1], "bench"))
        return cmd_bench(&o);
usage:
    fprintf(stderr, "usage: tpm_tool boot|runtime|attest|verify-attestation|"
                    "nv-read|nv-check|nv-commit|pcrs-decode|hold|session|"
                    "bench ... (see tests/integration/tpm_tool.c)\n");
    return CLI_EXIT_USAGE;
}
