/* lab.h: the libvirt lab: hot patch eligibility of KVM hosts, and
 * kernel-text integrity audits of libvirt-managed Linux guests, through
 * libvirt's own API so that remote URIs (qemu+ssh://host/system) reach a
 * whole fleet. docs/LIBVIRT.md is the user's guide and the record format.
 *
 * Use:
 *   probe   lab_host_init(&h); lab_probe_local(&h, &d) or
 *           lab_probe_libvirt(&h, uri, &d); lab_eligibility(&h);
 *   record  lab_kmap_parse(map) -> text range and symbols;
 *           lab_virt_open/_domain/_read -> the text bytes;
 *           lab_record_digest(); lab_record_encode() -> the file
 *   check   lab_record_parse(file); lab_virt_read(); lab_pkgset_load();
 *           lab_audit_compare() -> struct lab_report
 *
 * Functions return LAB_OK (0) or a negative LAB_ERR_* code and, where they
 * can say more, fill a struct lab_diag (which may be NULL). Nothing here
 * prints or exits: the CLI front ends (lab_cli.c, lab_audit_cli.c) do. */
#ifndef LAB_H
#define LAB_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lib_ksym.h"
#include "pkg/vrf.h"

/* ------------------------------------------------------------------ errors
 * Stable values, never renumbered; lab_strerror() gives the message. */
#define LAB_OK 0
#define LAB_ERR_ARG -3001     /* bad argument from the caller */
#define LAB_ERR_ALLOC -3002   /* out of memory */
#define LAB_ERR_IO -3003      /* a file could not be read or written */
#define LAB_ERR_LIBVIRT -3004 /* a libvirt call failed (diag names it) */
#define LAB_ERR_XML -3005     /* libvirt's XML did not parse */
#define LAB_ERR_MAP -3006     /* the symbol map is unusable */
#define LAB_ERR_RECORD -3007  /* the record file is invalid */
#define LAB_ERR_DOMAIN -3008  /* wrong domain, or not running */
#define LAB_ERR_LAYOUT -3009  /* kernel text not where map/record say */
#define LAB_ERR_CRYPTO -3010  /* SHA-256 failed */
#define LAB_ERR_PKG -3011     /* the package directory is unusable */

struct lab_diag {
    char text[512]; /* "" or what exactly failed */
};

/* The message for an error code; never NULL, static storage. */
const char *lab_strerror(int code);

/* printf into d->text (if d is not NULL). */
void lab_diag_set(struct lab_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------ probe */
enum lab_tri { LAB_NO = 0, LAB_YES = 1, LAB_UNSURE = -1 };

#define LAB_MAX_REASONS 6u
#define LAB_REASON_MAX 200u

/* What one host offers hvpatch. Tri-state fields are enum lab_tri. */
struct lab_host {
    char name[256];      /* host name (gethostname or virConnectGetHostname) */
    char uri[1024];      /* "" for the local probe */
    const char *source;  /* "local" (CPUID, /dev/kvm) or "libvirt" */
    char vendor[16];     /* "Intel", "AMD", another CPUID vendor, "unknown" */
    char kvm_module[16]; /* local: kvm_intel, kvm_amd, kvm_pvm or "" */
    int hw_virt;         /* VT-x or AMD-V present to this host */
    int slat;            /* EPT (Intel) or NPT (AMD) */
    int kvm;             /* KVM usable */
    char kvm_detail[LAB_REASON_MAX]; /* why KVM is not usable, or "" */
    int ro_memslots;                 /* KVM_CAP_READONLY_MEM */
    int ro_inferred;  /* 1: not measured (libvirt cannot say), inferred
                         from x86-64 KVM, which has had it since 3.7 */
    int nested;       /* KVM offers VT-x/AMD-V to its guests */
    int tpm_host;     /* a host TPM (local: /dev/tpmrm0 or /dev/tpm0;
                         libvirt: the passthrough TPM backend) */
    int tpm_emulator; /* swtpm (local: in PATH; libvirt: emulator backend) */
    int in_vm;        /* local: CPUID says we run under a hypervisor */
    int eligible;     /* set by lab_eligibility() */
    size_t n_reasons; /* why not eligible, most important first */
    char reasons[LAB_MAX_REASONS][LAB_REASON_MAX];
};

/* Reset h to "nothing known" (every tri-state LAB_UNSURE). */
void lab_host_init(struct lab_host *h);

/* Probe this machine without libvirt: CPUID (vendor, VMX, SVM,
 * hypervisor bit), /sys/module/kvm_{intel,amd,pvm} and their ept, npt and
 * nested parameters, /dev/kvm (KVM_GET_API_VERSION, KVM_CHECK_EXTENSION
 * KVM_CAP_READONLY_MEM), /dev/tpmrm0 or /dev/tpm0, swtpm in PATH. Never
 * fails for a missing feature: that is a result. Returns LAB_OK. */
int lab_probe_local(struct lab_host *h, struct lab_diag *d);

/* Fill h from libvirt's XML: caps (virConnectGetCapabilities, required)
 * and domcaps (virConnectGetDomainCapabilities for virttype kvm on
 * x86_64; NULL when that call failed, with domcaps_err saying why, which
 * then means KVM is not usable). Untrusted input: a remote daemon may be
 * hostile; parsed without network access or entity expansion. Returns
 * LAB_OK or LAB_ERR_XML (also when libxml2, loaded on first use with
 * dlopen, is missing). */
int lab_probe_parse_caps(struct lab_host *h, const char *caps, size_t caps_len,
                         const char *domcaps, size_t domcaps_len,
                         const char *domcaps_err, struct lab_diag *d);

/* Probe the host behind a libvirt URI (it only reads): hostname,
 * capabilities and KVM domain capabilities, then lab_probe_parse_caps().
 * Returns LAB_OK, LAB_ERR_LIBVIRT (d names the call) or LAB_ERR_XML. */
int lab_probe_libvirt(struct lab_host *h, const char *uri, struct lab_diag *d);

/* Decide h->eligible and h->reasons from the probed fields. Eligible
 * means every one of: KVM usable, VT-x or AMD-V, EPT or NPT, read-only
 * memslots, a TPM (host or swtpm). Unknown counts as missing. */
void lab_eligibility(struct lab_host *h);

/* ------------------------------------------------------------------ symbols */
#define LAB_MAP_MAX_SIZE LIB_KSYM_MAX_SIZE        /* symbol map file, bytes */
#define LAB_MAX_SYMBOLS 1000000u                  /* text symbols kept */
#define LAB_SYM_NAME_MAX LIB_KSYM_NAME_MAX
#define LAB_KERNEL_MAP_BASE 0xffffffff80000000ull /* __START_KERNEL_map */

struct lab_sym {
    uint64_t off;     /* from the start of kernel text (_text) */
    char type;        /* 't', 'T', 'w' or 'W' */
    const char *name; /* NUL-terminated, inside lab_symtab.names */
};

/* Text symbols sorted by offset (aliases at one offset keep file order). */
struct lab_symtab {
    struct lab_sym *syms;
    size_t n;
    char *names; /* every name, NUL-terminated, back to back */
    size_t names_len;
};

void lab_symtab_free(struct lab_symtab *t);

/* The symbol that holds offset off: the last one at or below it,
 * preferring a name without a leading '_' among aliases. NULL if off lies
 * before the first symbol. */
const struct lab_sym *lab_symtab_find(const struct lab_symtab *t, uint64_t off);

/* What a guest's symbol map says about its kernel text. */
struct lab_kmap {
    uint64_t text_virt;     /* _text */
    uint64_t text_size;     /* _etext - _text */
    int have_phys;          /* the map held /proc/iomem's "Kernel code" line */
    uint64_t phys_start;    /* its first byte */
    uint64_t phys_end;      /* its last byte (inclusive, as iomem prints) */
    struct lab_symtab syms; /* t/T/w/W symbols in [_text, _etext) */
};

/* Parse a symbol map: lines of /proc/kallsyms (read as root) or of a
 * System.map, "ADDR TYPE NAME [[module]]" (module symbols are skipped),
 * optionally mixed with /proc/iomem lines "START-END : NAME" of which
 * "Kernel code" gives the physical text range. Needs _text and _etext.
 * Rejects all-zero addresses (kallsyms read without root), bad lines (by
 * number), more than LAB_MAX_SYMBOLS symbols or LAB_MAP_MAX_SIZE bytes.
 * m is overwritten; free with lab_kmap_free. Returns LAB_OK, LAB_ERR_MAP
 * or LAB_ERR_ALLOC. */
int lab_kmap_parse(const char *buf, size_t len, struct lab_kmap *m,
                   struct lab_diag *d);

void lab_kmap_free(struct lab_kmap *m);

/* ------------------------------------------------------------------ record */
#define LAB_RECORD_FORMAT "hvpatch-kernel-text-record"
#define LAB_RECORD_VERSION 1
#define LAB_RECORD_MAX_SIZE (96u << 20) /* record file, bytes */
#define LAB_TEXT_MAX_SIZE (256u << 20)  /* audited text, bytes */
#define LAB_PAGE_SIZE 4096u             /* digest unit */
#define LAB_DIGEST_SIZE 32u             /* SHA-256 */
#define LAB_GRANULE 16u                 /* localisation unit, bytes */
#define LAB_GRANULES (LAB_PAGE_SIZE / LAB_GRANULE) /* per page */

/* A known-good state of one guest's kernel text. */
struct lab_record {
    char domain[256];   /* libvirt domain name at record time */
    char uuid[40];      /* libvirt domain UUID, 36 characters */
    char host[256];     /* virConnectGetHostname at record time */
    char uri[1024];     /* the URI used */
    char taken[32];     /* UTC, "YYYY-MM-DDThh:mm:ssZ" */
    uint64_t text_phys; /* guest-physical address of _text */
    uint64_t text_virt; /* kernel virtual address of _text (this boot) */
    uint64_t text_size; /* bytes audited: [_text, _etext) */
    size_t n_pages;     /* ceil(text_size / LAB_PAGE_SIZE) */
    uint8_t (*pages)[LAB_DIGEST_SIZE]; /* SHA-256 of each page's bytes
                                          (the last one may be short) */
    uint16_t *granules; /* n_pages * LAB_GRANULES localisation hashes */
    struct lab_symtab syms;
};

void lab_record_init(struct lab_record *r);
void lab_record_free(struct lab_record *r);

/* Digest text (r->text_size bytes, the guest's bytes at r->text_phys):
 * fills r->n_pages, r->pages and r->granules. Returns LAB_OK,
 * LAB_ERR_ARG, LAB_ERR_ALLOC or LAB_ERR_CRYPTO. */
int lab_record_digest(struct lab_record *r, const uint8_t *text);

/* The localisation hash of one granule: FNV-1a (32 bit) folded to 16
 * bits. A hint, not security: the page digest decides. */
uint16_t lab_granule_hash(const uint8_t *p, size_t len);

/* Encode r as the record file (JSON, docs/LIBVIRT.md); *out is a new
 * NUL-terminated buffer (free()). Returns LAB_OK, LAB_ERR_ARG or
 * LAB_ERR_ALLOC. */
int lab_record_encode(const struct lab_record *r, char **out, size_t *len);

/* Parse and check a record file strictly: exact keys and types, format
 * and version, every size limit, base64 lengths matching the page count,
 * symbols sorted and inside the text. r must be initialised; on error it
 * is left empty. Returns LAB_OK, LAB_ERR_RECORD (d says which field and
 * why) or LAB_ERR_ALLOC. Fuzzed (tests/fuzz/fuzz_lab_record.c). */
int lab_record_parse(const uint8_t *buf, size_t len, struct lab_record *r,
                     struct lab_diag *d);

/* ------------------------------------------------------------------ libvirt */
/* virDomainMemoryPeek's limit per call over the remote protocol. */
#define LAB_PEEK_MAX (4u << 20)

struct lab_virt; /* a connection and, once looked up, a domain */

/* Open a read-write connection to uri (NULL: libvirt's default) with
 * libvirt's default authentication (read-write: libvirt refuses domain
 * capabilities and memory peeks to read-only connections). libvirt is
 * loaded on first use (dlopen: the monitor never maps it), and its own
 * printing of errors is switched off: every failure comes back in d,
 * naming the call. Returns LAB_OK, LAB_ERR_LIBVIRT or LAB_ERR_ALLOC. */
int lab_virt_open(struct lab_virt **v, const char *uri, struct lab_diag *d);

/* Look up a running domain by name (or UUID); name and uuid receive its
 * name and UUID string. Returns LAB_OK, LAB_ERR_LIBVIRT or LAB_ERR_DOMAIN
 * (not running). */
int lab_virt_domain(struct lab_virt *v, const char *name, char *out_name,
                    size_t name_size, char uuid[40], struct lab_diag *d);

/* The host name behind the connection into buf (virConnectGetHostname). */
int lab_virt_hostname(struct lab_virt *v, char *buf, size_t size,
                      struct lab_diag *d);

/* Read len bytes of the domain's memory at addr: guest-physical
 * (physical != 0, VIR_MEMORY_PHYSICAL) or guest-virtual through the
 * current vCPU's page tables (VIR_MEMORY_VIRTUAL), in calls of at most
 * LAB_PEEK_MAX bytes. Returns LAB_OK or LAB_ERR_LIBVIRT. */
int lab_virt_read(struct lab_virt *v, uint64_t addr, uint8_t *buf, size_t len,
                  int physical, struct lab_diag *d);

/* Close the domain and the connection; NULL is allowed. */
void lab_virt_close(struct lab_virt *v);

/* ------------------------------------------------------------------ packages
 */
#define LAB_MAX_PACKAGES 256u /* files in a --packages directory */

/* One file of a --packages directory and the verifier's verdict on it. */
struct lab_pkgfile {
    char name[256]; /* file name inside the directory */
    uint8_t *buf;   /* the file (pkg points into it) */
    size_t len;
    struct vrf_pkg pkg;
    int status;  /* VRF_OK: signed by a trusted signer; else why not */
    int applied; /* set by lab_audit_compare() */
    char note[LAB_REASON_MAX]; /* why not applied, or "" */
};

struct lab_pkgset {
    struct lab_pkgfile *files;
    size_t n;
};

/* Load every regular, non-hidden file of dir as a package and verify it
 * against the trust store trust_dir (DIR/anchors, DIR/crls, as for
 * `hvpatch verify`) at time now: chain, EKU, validity, revocation and
 * signature, for a "linux" guest. Baseline, sequence and pre-images are
 * apply-time checks against the live guest; an audit replaces them by the
 * recorded page digests (lab_audit_compare). A file that fails keeps its
 * VRF_ERR_* status and is reported, never used. Returns LAB_OK, LAB_ERR_PKG
 * (directory or trust store unusable), LAB_ERR_IO or LAB_ERR_ALLOC. */
int lab_pkgset_load(struct lab_pkgset *set, const char *dir,
                    const char *trust_dir, int64_t now, struct lab_diag *d);

void lab_pkgset_free(struct lab_pkgset *set);

/* ------------------------------------------------------------------ audit */
enum lab_verdict {
    LAB_VERDICT_INTACT = 0,  /* every page equals the record */
    LAB_VERDICT_SIGNED = 1,  /* changed, only as signed packages say */
    LAB_VERDICT_UNKNOWN = 2, /* at least one unexplained change */
};

enum lab_change_kind { LAB_CHANGE_SIGNED = 1, LAB_CHANGE_UNKNOWN = 2 };

/* One changed byte range of the text. */
struct lab_change {
    int kind;     /* enum lab_change_kind */
    uint64_t off; /* from the start of the text */
    uint64_t size;
    long pkg; /* SIGNED: index into the package set */
    long rec; /* SIGNED: record index in that package */
};

struct lab_report {
    int verdict; /* enum lab_verdict */
    size_t n_pages;
    size_t pages_changed; /* digest differs from the record */
    size_t pages_signed;  /* ... and equal once signed packages are undone */
    size_t pages_unknown;
    struct lab_change *changes; /* sorted by offset */
    size_t n_changes;
};

void lab_report_free(struct lab_report *rep);

/* Compare the current text (rec->text_size bytes; copied, not changed)
 * with the record. With packages (set may be NULL): every verified
 * package, newest sequence first, counts as applied if each of its
 * records inside the text holds exactly the record's new bytes; applied
 * packages are undone on a copy (pre-images back), and a page whose
 * digest then equals the record changed only as signed packages say.
 * Unexplained changes are located to LAB_GRANULE bytes by the granule
 * hashes (a whole page if they cannot tell). Marks set->files[i].applied.
 * Returns LAB_OK, LAB_ERR_ARG, LAB_ERR_ALLOC or LAB_ERR_CRYPTO. */
int lab_audit_compare(const struct lab_record *rec, const uint8_t *text,
                      struct lab_pkgset *set, struct lab_report *rep);

#endif /* LAB_H */
