/* keys.h: the producer side of signed hot patch packages: keys and X.509
 * certificates (keygen), CRLs (revoke), package encoding, signing, building
 * a package from a manifest, the trust-store directory, and the guest ELF
 * reader those need. The verifier (pkg/vrf.h) checks what this makes;
 * docs/FORMAT.md is the contract between the two. */
#ifndef KEYS_H
#define KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "lib/lib_ksym.h"
#include "pkg/vrf.h"

/* ------------------------------------------------------------------ errors
 * Stable values, never renumbered; keys_strerror() gives the message,
 * keys_errname() the symbol. Functions that can say more fill a struct
 * keys_diag (may be NULL) with the file, field or tool that failed. */
#define KEYS_OK 0
#define KEYS_ERR_ARG -2001
#define KEYS_ERR_ALLOC -2002
#define KEYS_ERR_CRYPTO -2003
#define KEYS_ERR_IO_READ -2101
#define KEYS_ERR_IO_WRITE -2102
#define KEYS_ERR_IO_EXISTS -2103
#define KEYS_ERR_IO_TOO_LARGE -2104
#define KEYS_ERR_KEY_PARSE -2201
#define KEYS_ERR_KEY_TYPE -2202
#define KEYS_ERR_KEY_MISMATCH -2203
#define KEYS_ERR_CERT_PARSE -2301
#define KEYS_ERR_CERT_CHAIN -2302
#define KEYS_ERR_CERT_USAGE -2303
#define KEYS_ERR_PKG_PARSE -2401
#define KEYS_ERR_PKG_LIMIT -2402
#define KEYS_ERR_TRUST_DIR -2501
#define KEYS_ERR_TRUST_LOAD -2502
#define KEYS_ERR_MANIFEST -2601
#define KEYS_ERR_ELF -2701
#define KEYS_ERR_SYMBOL -2702
#define KEYS_ERR_SYSMAP -2703
#define KEYS_ERR_TOOL -2801
#define KEYS_ERR_BUILD -2802

struct keys_diag {
    char text[512]; /* "" or what exactly failed */
};

const char *keys_strerror(int code);
const char *keys_errname(int code);

/* printf into d->text (if d is not NULL). */
void keys_diag_set(struct keys_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------ files */
/* Read a whole regular file of at most max bytes into a new buffer
 * (*buf, *len; free with keys_free, or keys_free_secret for key files)
 * through vrf_file_read(): a FIFO, directory or device is refused
 * without blocking. Returns KEYS_OK, KEYS_ERR_IO_READ (diag: "PATH: not
 * a regular file (a FIFO)", ...), KEYS_ERR_IO_TOO_LARGE (diag: "PATH: N
 * bytes, limit MAX") or KEYS_ERR_ALLOC. */
int keys_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
                   struct keys_diag *diag);

#define KEYS_WRITE_EXCL 1u    /* fail with KEYS_ERR_IO_EXISTS if present */
#define KEYS_WRITE_PRIVATE 2u /* mode 0600 (else 0644) */

/* Write buf to path: a temporary file in the same directory, fsync'd and
 * renamed (so readers never see half a file), created with mode 0600 or
 * 0644 whatever the umask. Only a regular file (or a symbolic link to
 * one) is replaced: an existing FIFO, device, directory or socket is
 * refused (KEYS_ERR_IO_WRITE, diag names it) and nothing is written.
 * Returns KEYS_OK, KEYS_ERR_IO_EXISTS or KEYS_ERR_IO_WRITE. */
int keys_write_file(const char *path, const uint8_t *buf, size_t len,
                    unsigned flags, struct keys_diag *diag);

void keys_free(void *p);

/* Wipe len bytes at p, then free it. */
void keys_free_secret(void *p, size_t len);

/* ------------------------------------------------------------------ keys */
/* The random generator every key operation uses (CTR_DRBG over the system
 * entropy source), seeded on first use. Returns KEYS_OK or
 * KEYS_ERR_CRYPTO. */
int keys_rng(int (**f_rng)(void *, unsigned char *, size_t), void **p_rng);

/* Generate a new ECDSA P-384 key into key (initialised by the caller). */
int keys_ec_generate(mbedtls_pk_context *key);

/* Load a private key (PEM or DER, SEC 1 or PKCS#8, unencrypted) from a
 * file; the file's bytes are wiped after parsing. *insecure (if not NULL)
 * is set when group or others may read the file. */
int keys_load_key(mbedtls_pk_context *key, const char *path, int *insecure,
                  struct keys_diag *diag);

/* Load one or more certificates (PEM or DER) from a file, appended to
 * chain in file order. */
int keys_load_certs(mbedtls_x509_crt *chain, const char *path,
                    struct keys_diag *diag);

/* What keys_cert_issue() puts into a certificate. */
#define KEYS_EKU_NONE 0     /* no extendedKeyUsage extension */
#define KEYS_EKU_HOTPATCH 1 /* VRF_EKU_OID: hot patch package signing */
#define KEYS_EKU_CODESIGN 2 /* id-kp-codeSigning: a wrong EKU, for tests */

struct keys_cert_params {
    const char *subject;    /* mbedTLS name, "CN=...,O=..." */
    const char *not_before; /* "YYYYMMDDhhmmss", UTC */
    const char *not_after;
    int is_ca;          /* basicConstraints CA:TRUE, pathlen 0..max */
    int max_pathlen;    /* -1: unlimited (CA only) */
    unsigned key_usage; /* MBEDTLS_X509_KU_*; 0: no extension */
    int eku;            /* KEYS_EKU_* */
    uint64_t serial;    /* 0: 16 random bytes */
    int md;             /* MBEDTLS_MD_*: the signature's hash;
                           0 (MBEDTLS_MD_NONE): SHA-384 */
    int no_basic_constraints; /* 1: omit the extension (tests only) */
};

/* Issue a certificate for subject_key, signed by issuer_key with ECDSA
 * (and SHA-384 unless p->md says otherwise), issued by issuer (NULL:
 * self-signed). *pem is a new
 * NUL-terminated buffer (keys_free). */
int keys_cert_issue(const struct keys_cert_params *p,
                    mbedtls_pk_context *subject_key,
                    mbedtls_pk_context *issuer_key,
                    const mbedtls_x509_crt *issuer, char **pem);

/* A UTC time string "YYYYMMDDhhmmss" for now + offset seconds. */
void keys_time_string(int64_t offset, char out[15]);

/* What keys_keygen() makes. */
struct keys_keygen_opts {
    const char *org;  /* O= in both subjects; default "hvpatch" */
    int root_days;    /* default 3650 */
    int signing_days; /* default 730 */
};

/* Make an offline root CA and a patch-signing certificate in dir (created
 * 0700 if missing; existing key files are never overwritten):
 *   root.key, signing.key         private keys, mode 0600
 *   root.pem, signing.pem         certificates
 *   trust/anchors/root.pem        a trust store for `hvpatch verify`
 *   trust/crls/                   (empty; `hvpatch revoke` writes here)
 * Returns KEYS_OK or the failure (diag names the file). */
int keys_keygen(const char *dir, const struct keys_keygen_opts *opts,
                struct keys_diag *diag);

/* A CRL signed by ca_key/ca listing `serials` (n of them; DER serial
 * contents as in mbedtls_x509_buf), valid from now for `days`, with CRL
 * number crl_number. *pem is a new NUL-terminated buffer (keys_free). */
struct keys_serial {
    uint8_t bytes[32];
    size_t len;
    int64_t revoked_at; /* seconds since the epoch */
};
int keys_crl_issue(mbedtls_pk_context *ca_key, const mbedtls_x509_crt *ca,
                   const struct keys_serial *serials, size_t n, int days,
                   uint64_t crl_number, char **pem);

/* ------------------------------------------------------------------ packages
 */
/* Encode the payload fields of p (format, id, title, cves, publisher,
 * kind, baseline, sequence, records) as deterministic CBOR
 * (docs/FORMAT.md), with libcbor's encoder. *out: keys_free. */
int keys_pkg_encode_payload(const struct vrf_pkg *p, uint8_t **out,
                            size_t *len);

/* Encode a whole COSE_Sign1 package: protected header {1: -35} plus
 * x5chain if n_certs > 0, empty unprotected header, payload, signature
 * (sig_len 0 for an unsigned package). *out: keys_free. */
int keys_pkg_encode_protected(const struct vrf_bytes *certs, size_t n_certs,
                              uint8_t **out, size_t *len);
int keys_pkg_encode_sign1(const uint8_t *prot, size_t prot_len,
                          const uint8_t *payload, size_t payload_len,
                          const uint8_t *sig, size_t sig_len, uint8_t **out,
                          size_t *len);

/* Sign a package (unsigned, or signed: re-signed): chain is the signer's
 * certificate first, then intermediates (not the root); key is its
 * private key, ECDSA P-384. The signature is deterministic (RFC 6979).
 * Checks that key and certificate match. *out: keys_free. */
int keys_sign(const uint8_t *pkg, size_t pkg_len, mbedtls_pk_context *key,
              const mbedtls_x509_crt *chain, uint8_t **out, size_t *out_len,
              struct keys_diag *diag);

/* Load a trust-store directory into trust:
 *   DIR/anchors/   each regular file: PEM or DER CA certificates
 *   DIR/crls/      each regular file: one CRL, PEM or DER (optional dir)
 * Dotfiles are skipped; any other file that does not load is an error
 * (a misnamed CRL must not silently disable revocation). */
int keys_trust_load_dir(struct vrf_trust *trust, const char *dir,
                        struct keys_diag *diag);

/* What keys_trust_load_at() read. */
struct keys_trust_info {
    uint8_t sha256[32]; /* over every file read, in load order: "sub/name",
                           NUL, 8-byte big-endian length, bytes */
    size_t anchors;     /* files of anchors/ loaded */
    size_t crls;        /* CRLs loaded */
    int code;           /* the VRF_ERR_TRUST_* that stopped the load, or 0 */
};

/* The same, from the directory open at dirfd (dir names it in messages),
 * with openat/fdopendir/pread alone (the verifier's sandbox allows no
 * more). Fills info (may be NULL) whether or not the load succeeds.
 * trust NULL: only read and digest, parse nothing (a cheap "did it
 * change?"). */
int keys_trust_load_at(struct vrf_trust *trust, int dirfd, const char *dir,
                       struct keys_trust_info *info, struct keys_diag *diag);

/* ------------------------------------------------------------------ ELF */
/* A validated, read-only view of an ELF64 x86-64 file in memory; tables
 * are found by offset (and read with memcpy: the file need not be
 * aligned). */
struct keys_elf {
    const uint8_t *buf;
    size_t len;
    int type;       /* ET_EXEC or ET_REL */
    uint64_t phoff; /* program headers, phnum of them */
    size_t phnum;
    uint64_t shoff; /* section headers, shnum of them */
    size_t shnum;
    uint64_t symoff; /* .symtab, nsyms entries (0 if none) */
    size_t nsyms;
    uint64_t stroff; /* its string table */
    size_t strsize;
};

struct keys_sym {
    const char *name;
    uint64_t value;
    uint64_t size;
    int bind;    /* STB_* */
    int type;    /* STT_* */
    int defined; /* st_shndx != SHN_UNDEF */
};

/* Validate buf as ELF64 little-endian x86-64 (every header, table and
 * string in bounds). Returns KEYS_OK or KEYS_ERR_ELF. */
int keys_elf_open(struct keys_elf *elf, const uint8_t *buf, size_t len,
                  struct keys_diag *diag);

/* Symbol i (0 <= i < nsyms) into *s. Returns KEYS_OK or KEYS_ERR_ELF. */
int keys_elf_sym(const struct keys_elf *elf, size_t i, struct keys_sym *s);

/* Find a defined symbol by name: a global or weak one, else the only
 * local one of that name. Returns KEYS_OK, or KEYS_ERR_SYMBOL (missing or
 * ambiguous; diag says which). */
int keys_elf_find(const struct keys_elf *elf, const char *name,
                  struct keys_sym *s, struct keys_diag *diag);

/* Like keys_elf_find, among the symbols whose value lies in
 * [base, base + size) only (e.g. one domain's text, where the kernel and
 * the user library both define a memcpy). */
int keys_elf_find_in(const struct keys_elf *elf, const char *name,
                     uint64_t base, uint64_t size, struct keys_sym *s,
                     struct keys_diag *diag);

/* The function symbol containing gpa (for annotating addresses), or
 * KEYS_ERR_SYMBOL. */
int keys_elf_symbolize(const struct keys_elf *elf, uint64_t gpa,
                       struct keys_sym *s);

/* Copy len bytes the image loads at guest-physical gpa (p_paddr of its
 * PT_LOAD segments; bytes past p_filesz and outside every segment read as
 * zero, as guest memory starts zeroed) into out. Returns KEYS_OK. */
int keys_elf_read_gpa(const struct keys_elf *elf, uint64_t gpa, uint8_t *out,
                      size_t len);

/* ------------------------------------------------------------------ symbol
 * tables: a Linux kernel's, in System.map format ("ADDR TYPE NAME" lines:
 * a System.map, or a copy of the running kernel's /proc/kallsyms). The
 * file is untrusted input: keys_sysmap_parse() takes exactly this format
 * and names the line of each rejection. */
#define KEYS_SYSMAP_MAX_SIZE LIB_KSYM_MAX_SIZE  /* bytes */
#define KEYS_SYSMAP_MAX_SYMS LIB_KSYM_MAX_LINES /* lines */
#define KEYS_SYSMAP_LINE_MAX 600u        /* bytes, without the newline */
#define KEYS_SYSMAP_NAME_MAX LIB_KSYM_NAME_MAX
#define KEYS_SYSMAP_MODULE_MAX 55u       /* MODULE_NAME_LEN - 1 */

struct keys_ksym {
    uint64_t addr;
    const char *name; /* NUL-terminated, owned by the table */
    char type;        /* nm's letter: T t W w (text), D d B b R r A ... */
};

struct keys_sysmap {
    struct keys_ksym *syms; /* n of them, by address, then file order */
    size_t n;
    size_t *by_name; /* indices into syms, by name, then address */
    char *names;
    uint64_t text, etext; /* the _text and _etext symbols */
};

/* Parse buf[0..len): at most KEYS_SYSMAP_MAX_SIZE bytes, no NUL byte,
 * every line (a final newline is optional) exactly
 *     16 lower-case hex digits, ' ', a type letter, ' ', a name of 1 to
 *     KEYS_SYSMAP_NAME_MAX printable non-space ASCII bytes,
 *     optionally "\t[module]" (such symbols are checked and dropped: a
 *     module is not part of the kernel image)
 * and the whole a kernel's table: _text and _etext each defined once,
 * _text < _etext, not every address 0 (kallsyms read without root).
 * Returns KEYS_OK, KEYS_ERR_SYSMAP (diag: "line N: what"), KEYS_ERR_ALLOC
 * or KEYS_ERR_ARG. On error m is empty. */
int keys_sysmap_parse(const char *buf, size_t len, struct keys_sysmap *m,
                      struct keys_diag *diag);

/* keys_read_file(path) then keys_sysmap_parse(); diag names the file. */
int keys_sysmap_load(const char *path, struct keys_sysmap *m,
                     struct keys_diag *diag);

void keys_sysmap_free(struct keys_sysmap *m);

/* The symbol called name: the only global (upper-case type) one, else the
 * only local one (aliases at one address count once). Returns KEYS_OK, or
 * KEYS_ERR_SYMBOL (absent, or ambiguous: diag says where they are). */
int keys_sysmap_find(const struct keys_sysmap *m, const char *name,
                     const struct keys_ksym **out, struct keys_diag *diag);

/* The index of the first symbol at or above addr (m->n if none). */
size_t keys_sysmap_lower_bound(const struct keys_sysmap *m, uint64_t addr);

/* 1 for the type letters of code: T, t and weak W, w. */
int keys_sysmap_is_text(char type);

/* ------------------------------------------------------------------ Linux
 * A Linux kernel as `hvpatch build` and `hvpatch verify` see it: the PVH
 * vmlinux file booted (no KASLR, so link-time addresses are run-time
 * ones), the protected ranges the verifier will use for it
 * (vrf_linux_ranges()) and its symbol table. */
#define KEYS_FTRACE_NOP "\x0f\x1f\x44\x00\x00" /* what ftrace_init writes */

struct keys_kernel {
    uint8_t *file; /* the vmlinux, file_len bytes; its SHA-256 is the
                      baseline */
    size_t file_len;
    uint64_t text_gpa, text_va, lock_size; /* the locked text */
    uint64_t seg_va, seg_off, seg_filesz;  /* the text segment's file bytes */
    struct vrf_range ranges[2];            /* vrf_linux_ranges() */
    size_t n_ranges;
    struct keys_sysmap map;
    uint64_t fentry; /* __fentry__ */
};

/* Load and check a kernel: image must be an ELF vmlinux with a PVH entry
 * whose text can be locked; symbols its symbol table (_text must be the
 * text's address and _etext inside the locked text: the table of another
 * kernel, or of a KASLR boot, is refused), with __fentry__ in the locked
 * text. Returns KEYS_OK or the failure (diag says what and which file). */
int keys_kernel_load(struct keys_kernel *k, const char *image,
                     const char *symbols, struct keys_diag *diag);

void keys_kernel_free(struct keys_kernel *k);

/* Copy the file bytes the kernel has at [va, va + len) into out: they
 * must all lie in the text segment's file bytes. Returns KEYS_OK or
 * KEYS_ERR_ELF. */
int keys_kernel_read_va(const struct keys_kernel *k, uint64_t va, uint8_t *out,
                        size_t len);

/* Given the first 9 bytes of a function at va, set *off to its ftrace
 * site (0, or 4 after an endbr64) and return 1 if that site holds
 * `call __fentry__` (e8 rel32 to fentry) or the 5-byte NOP; else 0. */
int keys_ftrace_site(const uint8_t entry[9], uint64_t va, uint64_t fentry,
                     size_t *off);

/* The ftrace site of function `name`: a text symbol (t, T, w, W) inside
 * the locked text whose entry passes keys_ftrace_site(). Returns KEYS_OK
 * (*site_va), KEYS_ERR_SYMBOL (absent or ambiguous) or KEYS_ERR_BUILD
 * (not code, outside the locked text, no ftrace site; diag says which). */
int keys_kernel_ftrace_site(const struct keys_kernel *k, const char *name,
                            uint64_t *site_va, struct keys_diag *diag);

/* A vrf_read_fn over a struct keys_kernel: guest memory as the verifier
 * will find it once the running kernel is locked. The locked text reads
 * as the file's bytes with every ftrace site holding `call __fentry__`
 * shown as KEYS_FTRACE_NOP (ftrace_init rewrote them during boot, before
 * the lock); the patch area reads as zeros; anything else is unreadable.
 * Other boot-time rewrites of the text (alternatives, static keys, return
 * thunks) are not modelled: records over such bytes fail at apply. */
int keys_kernel_read_running(void *kernel, uint64_t gpa, uint8_t *buf,
                             size_t len);

/* ------------------------------------------------------------------ build */
/* Build an unsigned package from a JSON manifest (see docs/FORMAT.md,
 * "Manifest"). image_override and symbols_override, if not NULL, replace
 * the manifest's target.image and target.symbols. *out: keys_free. */
int keys_build(const char *manifest, const char *image_override,
               const char *symbols_override, uint8_t **out, size_t *out_len,
               struct keys_diag *diag);

#endif /* KEYS_H */
