/* keys_err.c: the keys component's error codes, names and messages, and
 * the diagnostic text that goes with them. */
#include <stdarg.h>
#include <stdio.h>

#include "keys/keys.h"
#include "lib/lib_err.h"

#define ROW LIB_ERR_ROW

static const struct lib_err_row keys_err_table[] = {
    ROW(KEYS_OK, "success"),
    ROW(KEYS_ERR_ARG, "invalid argument"),
    ROW(KEYS_ERR_ALLOC, "out of memory"),
    ROW(KEYS_ERR_CRYPTO, "crypto library failure"),
    ROW(KEYS_ERR_IO_READ, "cannot read file"),
    ROW(KEYS_ERR_IO_WRITE, "cannot write file"),
    ROW(KEYS_ERR_IO_EXISTS, "file exists (never overwritten)"),
    ROW(KEYS_ERR_IO_TOO_LARGE, "file too large"),
    ROW(KEYS_ERR_KEY_PARSE, "private key does not parse"),
    ROW(KEYS_ERR_KEY_TYPE, "key is not an ECDSA P-384 key"),
    ROW(KEYS_ERR_KEY_MISMATCH, "private key does not match the certificate"),
    ROW(KEYS_ERR_CERT_PARSE, "certificate does not parse"),
    ROW(KEYS_ERR_CERT_CHAIN, "certificates do not form a chain"),
    ROW(KEYS_ERR_CERT_USAGE, "certificate not usable for this purpose"),
    ROW(KEYS_ERR_PKG_PARSE, "package does not parse"),
    ROW(KEYS_ERR_PKG_LIMIT, "package would exceed a format limit"),
    ROW(KEYS_ERR_TRUST_DIR, "not a trust-store directory"),
    ROW(KEYS_ERR_TRUST_LOAD, "trust-store file rejected"),
    ROW(KEYS_ERR_MANIFEST, "manifest invalid"),
    ROW(KEYS_ERR_ELF, "ELF file malformed or unsupported"),
    ROW(KEYS_ERR_SYMBOL, "symbol not found or ambiguous"),
    ROW(KEYS_ERR_SYSMAP, "kernel symbol table malformed"),
    ROW(KEYS_ERR_TOOL, "compiler or linker failed"),
    ROW(KEYS_ERR_BUILD, "patch code unusable"),
};

#define KEYS_ERR_COUNT LIB_ERR_COUNT(keys_err_table)

/* A code not in the keys table is the verifier's (keys functions pass its
 * codes on). */
const char *keys_strerror(int code)
{
    const struct lib_err_row *r =
        lib_err_find(keys_err_table, KEYS_ERR_COUNT, code);

    return r != NULL ? r->msg : vrf_strerror(code);
}

const char *keys_errname(int code)
{
    const struct lib_err_row *r =
        lib_err_find(keys_err_table, KEYS_ERR_COUNT, code);

    return r != NULL ? r->name : vrf_errname(code);
}

void keys_diag_set(struct keys_diag *d, const char *fmt, ...)
{
    va_list ap;

    if (d == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(d->text, sizeof d->text, fmt, ap);
    va_end(ap);
}
