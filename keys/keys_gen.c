/* keys_gen.c: `hvpatch keygen`: an offline root CA and a patch-signing
 * certificate (ECDSA P-384, SHA-384, hot patch signing EKU), as PEM files
 * OpenSSL reads, private keys created 0600. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "keys/keys.h"

#define KEY_PEM_MAX 4096u

/* Write key's PEM (SEC 1 "EC PRIVATE KEY") to path, 0600, never
 * overwriting; the PEM buffer is wiped. */
static int write_key(mbedtls_pk_context *key, const char *path,
                     struct keys_diag *diag)
{
    int ret = KEYS_ERR_ALLOC;
    unsigned char *pem = calloc(1, KEY_PEM_MAX);

    if (pem == NULL)
        goto cleanup;
    ret = KEYS_ERR_CRYPTO;
    if (mbedtls_pk_write_key_pem(key, pem, KEY_PEM_MAX) != 0)
        goto cleanup;
    ret = keys_write_file(path, pem, strlen((char *)pem),
                          KEYS_WRITE_EXCL | KEYS_WRITE_PRIVATE, diag);

cleanup:
    keys_free_secret(pem, KEY_PEM_MAX);
    return ret;
}

static int write_pem(const char *pem, const char *path, struct keys_diag *diag)
{
    return keys_write_file(path, (const uint8_t *)pem, strlen(pem),
                           KEYS_WRITE_EXCL, diag);
}

/* mkdir -m mode, fine if it exists as a directory. */
static int make_dir(const char *path, mode_t mode, struct keys_diag *diag)
{
    struct stat st;

    if (mkdir(path, mode) == 0)
        return KEYS_OK;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return KEYS_OK;
    keys_diag_set(diag, "%s: %s", path, strerror(errno));
    return KEYS_ERR_IO_WRITE;
}

/* The files keygen has written so far, removed again if it fails. */
struct made {
    char path[8][4096];
    size_t n;
};

static void made_add(struct made *m, const char *path)
{
    if (m->n < sizeof m->path / sizeof m->path[0])
        snprintf(m->path[m->n++], sizeof m->path[0], "%s", path);
}

int keys_keygen(const char *dir, const struct keys_keygen_opts *opts,
                struct keys_diag *diag)
{
    int ret = KEYS_ERR_ARG;
    struct made *made = calloc(1, sizeof *made);
    mbedtls_pk_context root_key, sign_key;
    mbedtls_x509_crt root;
    struct keys_cert_params cp;
    char *root_pem = NULL, *sign_pem = NULL;
    char path[4096], subject[256], nb[15], na_root[15], na_sign[15];
    const char *org = "hvpatch";
    int root_days = 3650, signing_days = 730;
    static const char *const names[] = {"root.key", "root.pem", "signing.key",
                                        "signing.pem",
                                        "trust/anchors/root.pem"};

    mbedtls_pk_init(&root_key);
    mbedtls_pk_init(&sign_key);
    mbedtls_x509_crt_init(&root);
    if (dir == NULL)
        goto cleanup;
    ret = KEYS_ERR_ALLOC;
    if (made == NULL)
        goto cleanup;
    ret = KEYS_ERR_ARG;
    if (opts != NULL) {
        org = opts->org != NULL ? opts->org : org;
        root_days = opts->root_days > 0 ? opts->root_days : root_days;
        signing_days =
            opts->signing_days > 0 ? opts->signing_days : signing_days;
    }
    if (strchr(org, ',') != NULL || strchr(org, '=') != NULL ||
        strlen(org) > 64) {
        keys_diag_set(diag, "organisation name: no ',' or '=', at most 64 "
                            "characters");
        goto cleanup;
    }

    /* 1. Refuse before generating anything if a file would be replaced. */
    ret = make_dir(dir, 0700, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct stat st;

        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        ret = KEYS_ERR_IO_EXISTS;
        if (lstat(path, &st) == 0) {
            keys_diag_set(diag, "%s: exists; keygen never overwrites keys",
                          path);
            goto cleanup;
        }
    }

    /* 2. Keys. */
    ret = keys_ec_generate(&root_key);
    if (ret == KEYS_OK)
        ret = keys_ec_generate(&sign_key);
    if (ret != KEYS_OK)
        goto cleanup;

    /* 3. Root CA: self-signed, may sign certificates and CRLs, no
     *    intermediate below it (pathlen 0). */
    keys_time_string(-300, nb); /* tolerate clocks 5 minutes behind */
    keys_time_string((int64_t)root_days * 86400, na_root);
    keys_time_string((int64_t)signing_days * 86400, na_sign);
    snprintf(subject, sizeof subject, "CN=%s hot patch root CA,O=%s", org, org);
    memset(&cp, 0, sizeof cp);
    cp.subject = subject;
    cp.not_before = nb;
    cp.not_after = na_root;
    cp.is_ca = 1;
    cp.max_pathlen = 0;
    cp.key_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN;
    cp.eku = KEYS_EKU_NONE;
    ret = keys_cert_issue(&cp, &root_key, &root_key, NULL, &root_pem);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = KEYS_ERR_CERT_PARSE;
    if (mbedtls_x509_crt_parse(&root, (const unsigned char *)root_pem,
                               strlen(root_pem) + 1) != 0)
        goto cleanup;

    /* 4. Signing certificate: end entity, digitalSignature, hot patch
     *    signing EKU. */
    snprintf(subject, sizeof subject, "CN=%s hot patch signing,O=%s", org, org);
    cp.subject = subject;
    cp.not_after = na_sign;
    cp.is_ca = 0;
    cp.max_pathlen = -1;
    cp.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
    cp.eku = KEYS_EKU_HOTPATCH;
    ret = keys_cert_issue(&cp, &sign_key, &root_key, &root, &sign_pem);
    if (ret != KEYS_OK)
        goto cleanup;

    /* 5. Files: keys 0600, certificates 0644, and a trust store. */
    snprintf(path, sizeof path, "%s/root.key", dir);
    ret = write_key(&root_key, path, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    made_add(made, path);
    snprintf(path, sizeof path, "%s/signing.key", dir);
    ret = write_key(&sign_key, path, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    made_add(made, path);
    snprintf(path, sizeof path, "%s/root.pem", dir);
    ret = write_pem(root_pem, path, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    made_add(made, path);
    snprintf(path, sizeof path, "%s/signing.pem", dir);
    ret = write_pem(sign_pem, path, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    made_add(made, path);
    snprintf(path, sizeof path, "%s/trust", dir);
    ret = make_dir(path, 0755, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    snprintf(path, sizeof path, "%s/trust/anchors", dir);
    ret = make_dir(path, 0755, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    snprintf(path, sizeof path, "%s/trust/crls", dir);
    ret = make_dir(path, 0755, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    snprintf(path, sizeof path, "%s/trust/anchors/root.pem", dir);
    ret = write_pem(root_pem, path, diag);

cleanup:
    /* All or nothing: a half-made key directory is removed (only the
     * files this call wrote; directories stay). */
    for (size_t i = 0; ret != KEYS_OK && made != NULL && i < made->n; i++)
        (void)unlink(made->path[i]);
    free(made);
    mbedtls_pk_free(&root_key); /* mbedTLS wipes the key material */
    mbedtls_pk_free(&sign_key);
    mbedtls_x509_crt_free(&root);
    keys_free(root_pem);
    keys_free(sign_pem);
    return ret;
}
