/* vrf_tpm_int.h: private to verifier/vrf_tpm*.c: the context layout and
 * the built-in swtpm TCTI. */
#ifndef VRF_TPM_INT_H
#define VRF_TPM_INT_H

#include <stdarg.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tcti.h>

#include "tpm/vrf_tpm.h"

struct vrf_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    int tcti_builtin; /* 1: vrf_tcti_swtpm_*, 0: Tss2_TctiLdr */
    ESYS_CONTEXT *esys;
    ESYS_TR ak; /* ESYS_TR_NONE until vrf_tpm_ak_create */
    TPM2B_PUBLIC ak_pub;
    uint16_t banks[FW_EVLOG_MAX_ALGS];
    size_t nbanks;
    int gone;
    /* The anti-rollback counter: its handle once looked up, and the value
     * this context last read or incremented it to (0: none yet), so that
     * an apply reads it once and a commit only increments. */
    ESYS_TR nv;
    uint64_t nv_count;
    TSS2_RC last_rc; /* of the last failed TSS call */
    char err[384];
};

/* Built-in TCTI for swtpm's TPM socket (unix domain, the same wire
 * protocol as tpm2-tss's tcti-swtpm: one connection per command, raw TPM
 * command and response bytes). Unlike tcti-swtpm 3.2.1, whose receive
 * ignores its timeout, every connect, write and read here is bounded by
 * timeout_ms. Locality is always 0 (no control channel needed).
 * Returns TSS2_RC_SUCCESS or a TSS2_TCTI_RC_* code. */
TSS2_RC vrf_tcti_swtpm_init(const char *path, unsigned timeout_ms,
                            TSS2_TCTI_CONTEXT **out);
/* Finalizes and frees a context from vrf_tcti_swtpm_init; NULL is fine. */
void vrf_tcti_swtpm_free(TSS2_TCTI_CONTEXT *ctx);
/* True if the last receive or transmit failed by running out of time. */
int vrf_tcti_swtpm_timed_out(TSS2_TCTI_CONTEXT *ctx);

/* Reads a whole regular file of 1..max bytes into a malloc'ed *buf.
 * Returns 0, VRF_ERR_TPM_IO, VRF_ERR_TPM_NOMEM or VRF_ERR_ATT_FORMAT (size
 * out of range), with the detail in errbuf. */
int vrf_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
                  char *errbuf, size_t errlen);

/* Parses hex (upper or lower case; spaces and newlines at the end
 * allowed) into out[0..cap); returns the byte count (>= 1) or -1. */
int vrf_hex_parse(const char *s, uint8_t *out, size_t cap);

/* printf into an error buffer (NULL or 0 length: ignored). */
void vrf_errf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* VRF_TPM_INT_H */
