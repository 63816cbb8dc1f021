/* vrf_tpm_cli.c: `hvpatch verify-attestation DIR`: the whole offline check
 * of an attestation directory, for auditors (docs/TPM.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tpm/vrf_tpm_int.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hvpatch verify-attestation DIR [--nonce HEX] [--ak FILE]\n"
            "                [--baseline SHA256HEX --kind KIND]\n"
            "\n"
            "Checks DIR (written by `hvpatch attest`): quote signature with "
            "the AK,\nnonce, magic, type, PCR digest, event-log replay == "
            "quoted PCRs, hvpatch\nlog structure; then prints the baseline "
            "and the applied patches.\n"
            "  --nonce HEX     the nonce you asked for (default: DIR/%s,\n"
            "                  which proves no freshness)\n"
            "  --ak FILE       the AK public key you trust, TPM2B_PUBLIC "
            "(default:\n"
            "                  DIR/%s, which pins nothing)\n"
            "  --baseline HEX  also require this guest image SHA-256 and "
            "--kind\n"
            "Exit codes: 0 verified, 1 usage, 2 cannot read DIR, 4 check "
            "failed.\n",
            VRF_ATT_NONCE, VRF_ATT_AK_PUB);
}

int cli_cmd_verify_attestation(int argc, char **argv)
{
    const char *dir = NULL, *nonce_hex = NULL, *ak_file = NULL;
    const char *baseline_hex = NULL, *kind = NULL;
    struct vrf_quote *q = NULL;
    struct vrf_attest_report rep;
    uint8_t nonce[VRF_NONCE_MAX], baseline[FW_SHA256_SIZE];
    uint8_t *log = NULL, *file = NULL;
    size_t log_len = 0, file_len = 0;
    char err[512] = "";
    int nonce_len, ret = CLI_EXIT_USAGE, rc;

    memset(&rep, 0, sizeof rep);
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        const char **opt = NULL;
        if (strcmp(argv[i], "--nonce") == 0)
            opt = &nonce_hex;
        else if (strcmp(argv[i], "--ak") == 0)
            opt = &ak_file;
        else if (strcmp(argv[i], "--baseline") == 0)
            opt = &baseline_hex;
        else if (strcmp(argv[i], "--kind") == 0)
            opt = &kind;
        if (opt != NULL) {
            if (++i == argc)
                goto bad_usage;
            *opt = argv[i];
        } else if (argv[i][0] != '-' && dir == NULL) {
            dir = argv[i];
        } else {
            goto bad_usage;
        }
    }
    if (dir == NULL || (baseline_hex == NULL) != (kind == NULL))
        goto bad_usage;
    if (baseline_hex != NULL &&
        vrf_hex_parse(baseline_hex, baseline, sizeof baseline) !=
            FW_SHA256_SIZE) {
        fprintf(stderr, "verify-attestation: --baseline needs 64 hex "
                        "digits\n");
        goto cleanup;
    }

    /* 1. Read the directory. */
    ret = CLI_EXIT_HOST;
    q = calloc(1, sizeof *q);
    if (q == NULL)
        goto cleanup;
    rc = vrf_att_load(dir, q, &log, &log_len, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "verify-attestation: %s: %s\n", vrf_tpm_strerror(rc),
                err);
        ret = rc == VRF_ERR_ATT_FORMAT ? CLI_EXIT_REFUSED : CLI_EXIT_HOST;
        goto cleanup;
    }
    if (nonce_hex == NULL) {
        size_t n = 0;
        rc = vrf_att_load_nonce(dir, nonce, &n, err, sizeof err);
        if (rc != 0 && rc != VRF_ERR_ATT_FORMAT) {
            fprintf(stderr, "verify-attestation: %s\n", err);
            goto cleanup;
        }
        nonce_len = rc == 0 ? (int)n : -1;
        fprintf(stderr,
                "verify-attestation: warning: nonce read from %s/%s: "
                "this proves no freshness; pass --nonce\n",
                dir, VRF_ATT_NONCE);
    } else {
        nonce_len = vrf_hex_parse(nonce_hex, nonce, sizeof nonce);
    }
    if (nonce_len < 0) {
        fprintf(stderr,
                "verify-attestation: the nonce must be 1..%u bytes "
                "of hex\n",
                VRF_NONCE_MAX);
        ret = CLI_EXIT_USAGE;
        goto cleanup;
    }
    if (ak_file != NULL) {
        rc = vrf_read_file(ak_file, VRF_AK_PUB_MAX, &file, &file_len, err,
                           sizeof err);
        if (rc != 0) {
            fprintf(stderr, "verify-attestation: %s\n", err);
            goto cleanup;
        }
        memcpy(q->ak_pub, file, file_len);
        q->ak_pub_len = file_len;
    } else {
        fprintf(stderr,
                "verify-attestation: warning: AK taken from %s/%s: "
                "it pins nothing; pass --ak with the key you trust\n",
                dir, VRF_ATT_AK_PUB);
    }

    /* 2. Check, in the fixed order. */
    ret = CLI_EXIT_REFUSED;
    rc = vrf_attest_check(q, nonce, (size_t)nonce_len, log, log_len, &rep);
    if (rc == 0 && baseline_hex != NULL)
        rc = vrf_attest_check_baseline(&rep, baseline, kind);
    if (rc != 0) {
        printf("verify-attestation: FAILED: %s: %s\n", vrf_tpm_strerror(rc),
               rep.detail);
        goto cleanup;
    }
    printf("verify-attestation: OK (signature, nonce, magic, type, PCR "
           "digest, event-log replay%s)\n",
           baseline_hex ? ", baseline" : "");
    vrf_attest_report_print(&rep, stdout);
    ret = CLI_EXIT_OK;
    goto cleanup;
bad_usage:
    usage(stderr);
    ret = CLI_EXIT_USAGE;
cleanup:
    vrf_attest_report_free(&rep);
    free(q);
    free(log);
    free(file);
    return ret;
}
