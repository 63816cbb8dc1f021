/* test_vrf_support.c: the verifier tests' run-time PKI, package builder
 * (canonical by default, anything a vector asks for otherwise) and
 * simulated guest memory. The vector operations are documented in
 * tests/vectors/README. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/sha256.h>

#include "lib/lib_hex.h"
#include "tests/unit/test_vrf_support.h"

/* ------------------------------------------------------------------ PKI */

static const char *const tv_names[TV_NCERTS] = {
    [TV_ROOT] = "root",           [TV_OTHER_ROOT] = "otherroot",
    [TV_OLD_ROOT] = "oldroot",    [TV_INTER] = "inter",
    [TV_GOOD] = "good",           [TV_VIA_INTER] = "viainter",
    [TV_EXPIRED] = "expired",     [TV_NOT_YET] = "notyet",
    [TV_REVOKED] = "revoked",     [TV_NO_EKU] = "noeku",
    [TV_WRONG_EKU] = "wrongeku",  [TV_LEAF_CA] = "leafca",
    [TV_P256] = "p256",           [TV_BAD_KU] = "badku",
    [TV_SHA1] = "sha1",           [TV_UNKNOWN] = "unknown",
    [TV_UNDER_OLD] = "underold",  [TV_INTER_NOT_CA] = "internotca",
    [TV_VIA_NOT_CA] = "vianotca", [TV_INTER_NO_BC] = "internobc",
    [TV_VIA_NO_BC] = "vianobc",   [TV_SUB_INTER] = "subinter",
    [TV_VIA_SUB] = "viasub",
};

int tv_cert_by_name(const char *name)
{
    for (int i = 0; i < TV_NCERTS; i++)
        if (strcmp(tv_names[i], name) == 0)
            return i;
    return -1;
}

const char *tv_cert_name(int c)
{
    return c >= 0 && c < TV_NCERTS ? tv_names[c] : "?";
}

struct tv_spec {
    int cert;
    int issuer;       /* -1: self-signed */
    const char *cn;
    int p256;
    int64_t from, to; /* days from now */
    int is_ca, pathlen; /* is_ca -1: no basicConstraints at all */
    unsigned ku;
    int eku;
    int md;
};

#define KU_CA (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
#define KU_DS MBEDTLS_X509_KU_DIGITAL_SIGNATURE

/* Issuers before the certificates they issue. */
static const struct tv_spec tv_specs[] = {
    {TV_ROOT, -1, "vec root", 0, -1, 3650, 1, 1, KU_CA, KEYS_EKU_NONE, 0},
    {TV_OTHER_ROOT, -1, "vec root", 0, -1, 3650, 1, 1, KU_CA, KEYS_EKU_NONE, 0},
    {TV_OLD_ROOT, -1, "vec old root", 0, -20, -1, 1, 1, KU_CA, KEYS_EKU_NONE, 0},
    {TV_INTER, TV_ROOT, "vec intermediate", 0, -1, 3650, 1, 0, KU_CA,
     KEYS_EKU_NONE, 0},
    {TV_GOOD, TV_ROOT, "vec good", 0, -1, 730, 0, -1, KU_DS, KEYS_EKU_HOTPATCH,
     0},
    {TV_VIA_INTER, TV_INTER, "vec via inter", 0, -1, 730, 0, -1, KU_DS,
     KEYS_EKU_HOTPATCH, 0},
    {TV_EXPIRED, TV_ROOT, "vec expired", 0, -10, -1, 0, -1, KU_DS,
     KEYS_EKU_HOTPATCH, 0},
    {TV_NOT_YET, TV_ROOT, "vec not yet", 0, 1, 10, 0, -1, KU_DS,
     KEYS_EKU_HOTPATCH, 0},
    {TV_REVOKED, TV_ROOT, "vec revoked", 0, -1, 730, 0, -1, KU_DS,
     KEYS_EKU_HOTPATCH, 0},
    {TV_NO_EKU, TV_ROOT, "vec no eku", 0, -1, 730, 0, -1, KU_DS, KEYS_EKU_NONE,
     0},
    {TV_WRONG_EKU, TV_ROOT, "vec wrong eku", 0, -1, 730, 0, -1, KU_DS,
     KEYS_EKU_CODESIGN, 0},
    {TV_LEAF_CA, TV_ROOT, "vec leaf ca", 0, -1, 730, 1, 0, KU_DS | KU_CA,
     KEYS_EKU_HOTPATCH, 0},
    {TV_P256, TV_ROOT, "vec p256", 1, -1, 730, 0, -1, KU_DS, KEYS_EKU_HOTPATCH,
     0},
    {TV_BAD_KU, TV_ROOT, "vec bad ku", 0, -1, 730, 0, -1,
     MBEDTLS_X509_KU_KEY_AGREEMENT, KEYS_EKU_HOTPATCH, 0},
    {TV_SHA1, TV_ROOT, "vec sha1", 0, -1, 730, 0, -1, KU_DS, KEYS_EKU_HOTPATCH,
     MBEDTLS_MD_SHA1},
    {TV_UNKNOWN, TV_OTHER_ROOT, "vec unknown", 0, -1, 730, 0, -1, KU_DS,
     KEYS_EKU_HOTPATCH, 0},
    {TV_UNDER_OLD, TV_OLD_ROOT, "vec under old", 0, -20, 730, 0, -1, KU_DS,
     KEYS_EKU_HOTPATCH, 0},
    {TV_INTER_NOT_CA, TV_ROOT, "vec inter not ca", 0, -1, 3650, 0, -1, KU_CA,
     KEYS_EKU_NONE, 0},
    {TV_VIA_NOT_CA, TV_INTER_NOT_CA, "vec via not ca", 0, -1, 730, 0, -1,
     KU_DS, KEYS_EKU_HOTPATCH, 0},
    {TV_INTER_NO_BC, TV_ROOT, "vec inter no bc", 0, -1, 3650, -1, -1, KU_CA,
     KEYS_EKU_NONE, 0},
    {TV_VIA_NO_BC, TV_INTER_NO_BC, "vec via no bc", 0, -1, 730, 0, -1, KU_DS,
     KEYS_EKU_HOTPATCH, 0},
    {TV_SUB_INTER, TV_INTER, "vec sub inter", 0, -1, 3650, 1, 0, KU_CA,
     KEYS_EKU_NONE, 0},
    {TV_VIA_SUB, TV_SUB_INTER, "vec via sub", 0, -1, 730, 0, -1, KU_DS,
     KEYS_EKU_HOTPATCH, 0},
};

static int gen_p256(mbedtls_pk_context *key)
{
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;

    if (keys_rng(&f_rng, &p_rng) != KEYS_OK ||
        mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) !=
            0 ||
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key),
                            f_rng, p_rng) != 0)
        return -1;
    return 0;
}

int tv_pki_init(struct tv_pki *pki)
{
    struct keys_serial s;

    memset(pki, 0, sizeof *pki);
    pki->created = (int64_t)time(NULL);
    for (int i = 0; i < TV_NCERTS; i++) {
        mbedtls_pk_init(&pki->key[i]);
        mbedtls_x509_crt_init(&pki->crt[i]);
    }
    for (size_t k = 0; k < sizeof tv_specs / sizeof tv_specs[0]; k++) {
        const struct tv_spec *sp = &tv_specs[k];
        struct keys_cert_params cp;
        char subject[128], nb[15], na[15];
        int c = sp->cert;
        int iss = sp->issuer < 0 ? c : sp->issuer;

        if ((sp->p256 ? gen_p256(&pki->key[c])
                      : keys_ec_generate(&pki->key[c])) != 0)
            return -1;
        snprintf(subject, sizeof subject, "CN=%s,O=hvpatch tests", sp->cn);
        keys_time_string(sp->from * 86400, nb);
        keys_time_string(sp->to * 86400, na);
        memset(&cp, 0, sizeof cp);
        cp.subject = subject;
        cp.not_before = nb;
        cp.not_after = na;
        cp.is_ca = sp->is_ca > 0;
        cp.no_basic_constraints = sp->is_ca < 0;
        cp.max_pathlen = sp->pathlen;
        cp.key_usage = sp->ku;
        cp.eku = sp->eku;
        cp.md = sp->md;
        if (keys_cert_issue(&cp, &pki->key[c], &pki->key[iss],
                            sp->issuer < 0 ? NULL : &pki->crt[iss],
                            &pki->pem[c]) != KEYS_OK ||
            mbedtls_x509_crt_parse(&pki->crt[c],
                                   (const unsigned char *)pki->pem[c],
                                   strlen(pki->pem[c]) + 1) != 0)
            return -1;
    }
    memset(&s, 0, sizeof s);
    memcpy(s.bytes, pki->crt[TV_REVOKED].serial.p,
           pki->crt[TV_REVOKED].serial.len);
    s.len = pki->crt[TV_REVOKED].serial.len;
    s.revoked_at = pki->created - 60;
    if (keys_crl_issue(&pki->key[TV_ROOT], &pki->crt[TV_ROOT], &s, 1, 30, 1,
                       &pki->crl_revoking) != KEYS_OK ||
        keys_crl_issue(&pki->key[TV_ROOT], &pki->crt[TV_ROOT], NULL, 0, 30, 2,
                       &pki->crl_empty) != KEYS_OK ||
        keys_crl_issue(&pki->key[TV_OTHER_ROOT], &pki->crt[TV_OTHER_ROOT], &s,
                       1, 30, 1, &pki->crl_other) != KEYS_OK)
        return -1;
    return 0;
}

void tv_pki_free(struct tv_pki *pki)
{
    for (int i = 0; i < TV_NCERTS; i++) {
        mbedtls_pk_free(&pki->key[i]);
        mbedtls_x509_crt_free(&pki->crt[i]);
        free(pki->pem[i]);
    }
    free(pki->crl_revoking);
    free(pki->crl_empty);
    free(pki->crl_other);
}

size_t tv_chain_of(int signer, int out[VRF_MAX_CERTS])
{
    out[0] = signer;
    if (signer == TV_VIA_INTER) {
        out[1] = TV_INTER;
        return 2;
    }
    return 1;
}

/* ------------------------------------------------------------------ guest */

const struct vrf_range tv_demo_ranges[4] = {
    {0x40000000, 0x100000, VRF_RANGE_CODE, 0, 0},
    {0x40100000, 0x100000, VRF_RANGE_CODE, 1, 0},
    {0x40200000, 0x100000, VRF_RANGE_PATCH_AREA, 0, 0},
    {0x40300000, 0x100000, VRF_RANGE_PATCH_AREA, 1, 0},
};

/* A patch area beyond rel32 reach of the demo's kernel text. */
static const struct vrf_range tv_far_ranges[5] = {
    {0x40000000, 0x100000, VRF_RANGE_CODE, 0, 0},
    {0x40100000, 0x100000, VRF_RANGE_CODE, 1, 0},
    {0x40200000, 0x100000, VRF_RANGE_PATCH_AREA, 0, 0},
    {0x40300000, 0x100000, VRF_RANGE_PATCH_AREA, 1, 0},
    {0x100000000ull, 0x100000, VRF_RANGE_PATCH_AREA, 0, 0},
};

static const struct vrf_range tv_bad_ranges[1] = {
    {0x40000000, 0, VRF_RANGE_CODE, 0, 0},
};

int tv_guest_read(void *opaque, uint64_t gpa, uint8_t *buf, size_t len)
{
    struct tv_guest *g = opaque;

    if (g->fail_gpa != 0 && gpa <= g->fail_gpa && g->fail_gpa - gpa < len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        uint64_t a = gpa + i;

        buf[i] = a >= TV_MEM_BASE && a - TV_MEM_BASE < TV_MEM_SIZE
                     ? g->mem[a - TV_MEM_BASE]
                     : 0;
    }
    return 0;
}

/* ------------------------------------------------------------------ bytes */

struct tv_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

static void tb_put(struct tv_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            abort();
        b->cap = cap;
    }
    if (n != 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* The shortest CBOR head. */
static void tb_head(struct tv_buf *b, unsigned major, uint64_t v)
{
    uint8_t h[9];
    size_t n;

    if (v < 24) {
        h[0] = (uint8_t)(major << 5 | v);
        n = 0;
    } else if (v <= 0xff) {
        h[0] = (uint8_t)(major << 5 | 24);
        n = 1;
    } else if (v <= 0xffff) {
        h[0] = (uint8_t)(major << 5 | 25);
        n = 2;
    } else if (v <= 0xffffffffull) {
        h[0] = (uint8_t)(major << 5 | 26);
        n = 4;
    } else {
        h[0] = (uint8_t)(major << 5 | 27);
        n = 8;
    }
    for (size_t i = 0; i < n; i++)
        h[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    tb_put(b, h, 1 + n);
}

static void tb_bstr(struct tv_buf *b, const void *p, size_t n)
{
    tb_head(b, 2, n);
    tb_put(b, p, n);
}

static void tb_tstr(struct tv_buf *b, const char *s)
{
    tb_head(b, 3, strlen(s));
    tb_put(b, s, strlen(s));
}

/* A byte value of a vector: hex digits, or
 *   zeros:N  ff:N  cc:N    N raw bytes
 *   text:N               a CBOR text string of N 'a'
 *   bytes:N              a CBOR byte string of N zero bytes
 *   empty                no bytes */
static int parse_bytes(const char *v, struct tv_buf *out)
{
    const char *colon = strchr(v, ':');

    out->len = 0;
    if (strcmp(v, "empty") == 0)
        return 0;
    if (colon != NULL) {
        char *end;
        unsigned long n = strtoul(colon + 1, &end, 0);
        size_t kl = (size_t)(colon - v);
        uint8_t fill = 0;

        if (*end != '\0' || n > (8u << 20))
            return -1;
        if (kl == 4 && memcmp(v, "text", 4) == 0) {
            tb_head(out, 3, n);
            fill = 'a';
        } else if (kl == 5 && memcmp(v, "bytes", 5) == 0) {
            tb_head(out, 2, n);
        } else if (kl == 2 && memcmp(v, "ff", 2) == 0) {
            fill = 0xff;
        } else if (kl == 2 && memcmp(v, "cc", 2) == 0) {
            fill = 0xcc;
        } else if (!(kl == 5 && memcmp(v, "zeros", 5) == 0)) {
            return -1;
        }
        for (unsigned long i = 0; i < n; i++)
            tb_put(out, &fill, 1);
        return 0;
    }
    if (strlen(v) % 2 != 0)
        return -1;
    for (size_t i = 0; v[i] != '\0'; i += 2) {
        uint8_t b;

        if (lib_hex_decode(v + i, 2, &b, 1) != 1)
            return -1;
        tb_put(out, &b, 1);
    }
    return 0;
}

/* BYTES that must be exactly 32 (a SHA-256 digest) into out. */
static int parse_digest(const char *v, uint8_t out[32])
{
    struct tv_buf b = {0};
    int r = parse_bytes(v, &b);

    if (r == 0 && b.len == 32)
        memcpy(out, b.p, 32);
    else
        r = -1;
    free(b.p);
    return r;
}

/* ------------------------------------------------------------------ cases */

#define TV_MAX_RECS 16
#define TV_MAX_ENTRIES 24
#define TV_MAX_ANCHOR_OPS 40

struct tv_rec {
    uint32_t kind;
    uint64_t gpa;
    struct tv_buf pre;
    struct tv_buf data;
    uint64_t target;
};

struct tv_entry {
    uint64_t key;
    struct tv_buf val;
};

struct tv_case {
    /* Payload, high level. */
    uint64_t format;
    char id[64], title[256], publisher[160], kind[32];
    char cves[20][32];
    size_t n_cves;
    uint8_t baseline[32];
    uint64_t seq;
    struct tv_rec recs[TV_MAX_RECS];
    size_t n_recs;
    /* Payload and protected header, as encoded entries. */
    struct tv_entry pl[TV_MAX_ENTRIES];
    size_t n_pl;
    long pl_count;             /* map head count override, -1: n_pl */
    struct tv_buf pl_tail;     /* raw bytes after the payload map */
    struct tv_entry pr[TV_MAX_ENTRIES];
    size_t n_pr;
    /* Envelope. */
    int signer;
    int unsigned_pkg;
    int64_t alg;
    char x5[128];              /* "" default, or the x5= value */
    long tag;                  /* -1: no tag */
    long arrlen;
    int have_unprot, have_sig, have_payload, have_prot, have_raw;
    struct tv_buf unprot, sig, payload, prot, raw, append;
    long truncate;             /* 0: none; > 0 keep; < 0 drop */
    int have_truncate;
    long flips[8];
    size_t n_flips;
    /* Trust store. */
    int trust_empty;
    char anchor_ops[TV_MAX_ANCHOR_OPS][16];
    size_t n_anchor_ops;
    char crl_ops[8][16];
    size_t n_crl_ops;
    /* Context. */
    uint64_t ctx_seq;
    int ctx_committed; /* 0 none, 1 the package's own digest, 2 given */
    uint8_t ctx_committed_sha256[32];
    int ctx_live;
    char ctx_kind[32];
    int ctx_baseline_set;
    uint8_t ctx_baseline[32];
    int64_t now_offset;
    int read_null;
    const struct vrf_range *ranges;
    size_t n_ranges;
    /* Guest. */
    struct tv_guest guest;
    struct {
        uint64_t gpa;
        struct tv_buf bytes;
    } mem_ops[8];
    size_t n_mem_ops;
};

static void case_free(struct tv_case *c)
{
    for (size_t i = 0; i < TV_MAX_RECS; i++) {
        free(c->recs[i].pre.p);
        free(c->recs[i].data.p);
    }
    for (size_t i = 0; i < TV_MAX_ENTRIES; i++) {
        free(c->pl[i].val.p);
        free(c->pr[i].val.p);
    }
    for (size_t i = 0; i < 8; i++)
        free(c->mem_ops[i].bytes.p);
    free(c->unprot.p);
    free(c->sig.p);
    free(c->payload.p);
    free(c->prot.p);
    free(c->raw.p);
    free(c->append.p);
    free(c->pl_tail.p);
    free(c->guest.mem);
}

static void fill(struct tv_buf *b, uint8_t v, size_t n)
{
    b->len = 0;
    for (size_t i = 0; i < n; i++)
        tb_put(b, &v, 1);
}

static void case_base(struct tv_case *c)
{
    memset(c, 0, sizeof *c);
    c->format = 1;
    snprintf(c->id, sizeof c->id, "HP-2026-0001");
    snprintf(c->title, sizeof c->title, "Vector base package");
    snprintf(c->publisher, sizeof c->publisher, "hvpatch tests");
    snprintf(c->kind, sizeof c->kind, "demo");
    snprintf(c->cves[0], sizeof c->cves[0], "CVE-2026-0001");
    c->n_cves = 1;
    mbedtls_sha256_ret((const unsigned char *)"tv guest image", 14,
                       c->baseline, 0);
    c->seq = 1;
    /* CODE in the kernel patch area, REPLACE in user text, REDIRECT from
     * kernel text into the new code. */
    c->recs[0].kind = VRF_REC_CODE;
    c->recs[0].gpa = 0x40200000;
    fill(&c->recs[0].data, 0xcc, 64);
    c->recs[1].kind = VRF_REC_REPLACE;
    c->recs[1].gpa = 0x40100100;
    fill(&c->recs[1].pre, 0x11, 8);
    fill(&c->recs[1].data, 0x22, 8);
    c->recs[2].kind = VRF_REC_REDIRECT;
    c->recs[2].gpa = 0x40000100;
    fill(&c->recs[2].pre, 0x90, 5);
    c->recs[2].target = 0x40200010;
    c->n_recs = 3;
    c->pl_count = -1;
    c->signer = TV_GOOD;
    c->alg = VRF_COSE_ALG_ES384;
    c->tag = VRF_COSE_TAG_SIGN1;
    c->arrlen = 4;
    snprintf(c->ctx_kind, sizeof c->ctx_kind, "demo");
    c->ranges = tv_demo_ranges;
    c->n_ranges = 4;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;

    if (*s == '\0' || *s == '-')
        return -1;
    *v = strtoull(s, &end, 0);
    return *end == '\0' ? 0 : -1;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;

    if (*s == '\0')
        return -1;
    *v = strtoll(s, &end, 0);
    return *end == '\0' ? 0 : -1;
}

/* "+3d", "-2h", "+10s", "-1" (seconds) */
static int parse_offset(const char *s, int64_t *v)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    int64_t unit = 1;

    if (end == s)
        return -1;
    if (*end == 'd')
        unit = 86400;
    else if (*end == 'h')
        unit = 3600;
    else if (*end == 's')
        unit = 1;
    else if (*end != '\0')
        return -1;
    if (*end != '\0' && end[1] != '\0')
        return -1;
    *v = (int64_t)n * unit;
    return 0;
}

/* rec.N.FIELD=VALUE */
static int op_rec(struct tv_case *c, const char *k, const char *v)
{
    char *end;
    unsigned long n = strtoul(k + 4, &end, 10);
    struct tv_rec *r;

    if (end == k + 4 || *end != '.' || n >= c->n_recs)
        return -1;
    r = &c->recs[n];
    end++;
    if (strcmp(end, "gpa") == 0)
        return parse_u64(v, &r->gpa);
    if (strcmp(end, "target") == 0)
        return parse_u64(v, &r->target);
    if (strcmp(end, "pre") == 0)
        return parse_bytes(v, &r->pre);
    if (strcmp(end, "data") == 0)
        return parse_bytes(v, &r->data);
    return -1;
}

/* rec+=code:GPA:LEN | replace:GPA:PRE:NEW | redirect:GPA:TARGET */
static int op_rec_add(struct tv_case *c, const char *v)
{
    char buf[256], *f[4], *save = NULL, *t;
    size_t n = 0;
    struct tv_rec *r;
    uint64_t len;

    if (c->n_recs == TV_MAX_RECS || strlen(v) >= sizeof buf)
        return -1;
    strcpy(buf, v);
    for (t = strtok_r(buf, ":", &save); t != NULL && n < 4;
         t = strtok_r(NULL, ":", &save))
        f[n++] = t;
    r = &c->recs[c->n_recs];
    if (n == 3 && strcmp(f[0], "code") == 0) {
        r->kind = VRF_REC_CODE;
        if (parse_u64(f[1], &r->gpa) != 0 || parse_u64(f[2], &len) != 0 ||
            len > (2u << 20))
            return -1;
        fill(&r->data, 0xcc, (size_t)len);
    } else if (n == 4 && strcmp(f[0], "replace") == 0) {
        r->kind = VRF_REC_REPLACE;
        if (parse_u64(f[1], &r->gpa) != 0 || parse_bytes(f[2], &r->pre) != 0 ||
            parse_bytes(f[3], &r->data) != 0)
            return -1;
    } else if (n == 3 && strcmp(f[0], "redirect") == 0) {
        r->kind = VRF_REC_REDIRECT;
        fill(&r->pre, 0x90, 5);
        if (parse_u64(f[1], &r->gpa) != 0 || parse_u64(f[2], &r->target) != 0)
            return -1;
    } else {
        return -1;
    }
    c->n_recs++;
    return 0;
}

static int op_rec_del(struct tv_case *c, const char *v)
{
    uint64_t n;
    struct tv_rec tmp;

    if (parse_u64(v, &n) != 0 || n >= c->n_recs)
        return -1;
    tmp = c->recs[n];
    memmove(&c->recs[n], &c->recs[n + 1],
            (c->n_recs - n - 1) * sizeof c->recs[0]);
    c->recs[c->n_recs - 1] = tmp; /* keep its buffers for freeing */
    free(tmp.pre.p);
    free(tmp.data.p);
    memset(&c->recs[c->n_recs - 1], 0, sizeof c->recs[0]);
    c->n_recs--;
    return 0;
}

/* Operations that act after the payload entries exist are queued. */
struct tv_late {
    char k[32];
    char v[512];
};

static int set_ctx_and_env(struct tv_case *c, const char *k, const char *v,
                           struct tv_late *late, size_t *n_late)
{
    uint64_t u;
    int64_t i;

    if (strcmp(k, "id") == 0)
        return snprintf(c->id, sizeof c->id, "%s", v) < 0;
    if (strcmp(k, "title") == 0)
        return snprintf(c->title, sizeof c->title, "%s", v) < 0;
    if (strcmp(k, "publisher") == 0)
        return snprintf(c->publisher, sizeof c->publisher, "%s", v) < 0;
    if (strcmp(k, "kind") == 0)
        return snprintf(c->kind, sizeof c->kind, "%s", v) < 0;
    if (strcmp(k, "cve+") == 0) {
        if (c->n_cves == 20)
            return -1;
        snprintf(c->cves[c->n_cves++], sizeof c->cves[0], "%s", v);
        return 0;
    }
    if (strcmp(k, "cves") == 0 && strcmp(v, "none") == 0) {
        c->n_cves = 0;
        return 0;
    }
    if (strcmp(k, "seq") == 0)
        return parse_u64(v, &c->seq);
    if (strcmp(k, "format") == 0)
        return parse_u64(v, &c->format);
    if (strncmp(k, "rec.", 4) == 0)
        return op_rec(c, k, v);
    if (strcmp(k, "rec+") == 0)
        return op_rec_add(c, v);
    if (strcmp(k, "rec-") == 0)
        return op_rec_del(c, v);
    if (strcmp(k, "signer") == 0)
        return (c->signer = tv_cert_by_name(v)) < 0 ? -1 : 0;
    if (strcmp(k, "alg") == 0)
        return parse_i64(v, &c->alg);
    if (strcmp(k, "x5") == 0)
        return snprintf(c->x5, sizeof c->x5, "%s", v) < 0;
    if (strcmp(k, "tag") == 0) {
        if (strcmp(v, "none") == 0) {
            c->tag = -1;
            return 0;
        }
        return parse_u64(v, &u) != 0 ? -1 : (c->tag = (long)u, 0);
    }
    if (strcmp(k, "arrlen") == 0)
        return parse_u64(v, &u) != 0 ? -1 : (c->arrlen = (long)u, 0);
    if (strcmp(k, "unprot") == 0)
        return c->have_unprot = 1, parse_bytes(v, &c->unprot);
    if (strcmp(k, "sig") == 0)
        return c->have_sig = 1, parse_bytes(v, &c->sig);
    if (strcmp(k, "payload") == 0)
        return c->have_payload = 1, parse_bytes(v, &c->payload);
    if (strcmp(k, "protected") == 0)
        return c->have_prot = 1, parse_bytes(v, &c->prot);
    if (strcmp(k, "raw") == 0)
        return c->have_raw = 1, parse_bytes(v, &c->raw);
    if (strcmp(k, "append") == 0)
        return parse_bytes(v, &c->append);
    if (strcmp(k, "truncate") == 0)
        return c->have_truncate = 1, parse_i64(v, &i) != 0
                                         ? -1
                                         : (c->truncate = (long)i, 0);
    if (strcmp(k, "flip") == 0) {
        if (c->n_flips == 8 || parse_i64(v, &i) != 0)
            return -1;
        c->flips[c->n_flips++] = (long)i;
        return 0;
    }
    if (strcmp(k, "trust") == 0 && strcmp(v, "empty") == 0)
        return c->trust_empty = 1, 0;
    if (strcmp(k, "anchor+") == 0) {
        if (c->n_anchor_ops == TV_MAX_ANCHOR_OPS)
            return -1;
        return snprintf(c->anchor_ops[c->n_anchor_ops++], 16, "%s", v) < 0;
    }
    if (strcmp(k, "anchors") == 0) {
        if (parse_u64(v, &u) != 0 || u > TV_MAX_ANCHOR_OPS)
            return -1;
        while (c->n_anchor_ops < u)
            snprintf(c->anchor_ops[c->n_anchor_ops++], 16, "root");
        return 0;
    }
    if (strcmp(k, "crl+") == 0) {
        if (c->n_crl_ops == 8)
            return -1;
        return snprintf(c->crl_ops[c->n_crl_ops++], 16, "%s", v) < 0;
    }
    if (strcmp(k, "ctx.seq") == 0)
        return parse_u64(v, &c->ctx_seq);
    if (strcmp(k, "ctx.live") == 0 && strcmp(v, "1") == 0) {
        c->ctx_live = 1;
        return 0;
    }
    if (strcmp(k, "ctx.committed") == 0 && strcmp(v, "self") == 0) {
        c->ctx_committed = 1;
        return 0;
    }
    if (strcmp(k, "ctx.committed") == 0) {
        c->ctx_committed = 2;
        return parse_digest(v, c->ctx_committed_sha256);
    }
    if (strcmp(k, "ctx.kind") == 0)
        return snprintf(c->ctx_kind, sizeof c->ctx_kind, "%s", v) < 0;
    if (strcmp(k, "ctx.baseline") == 0) {
        c->ctx_baseline_set = 1;
        return parse_digest(v, c->ctx_baseline);
    }
    if (strcmp(k, "ctx.now") == 0)
        return parse_offset(v, &c->now_offset);
    if (strcmp(k, "ctx.read") == 0 && strcmp(v, "null") == 0)
        return c->read_null = 1, 0;
    if (strcmp(k, "ranges") == 0) {
        if (strcmp(v, "far") == 0) {
            c->ranges = tv_far_ranges;
            c->n_ranges = 5;
        } else if (strcmp(v, "bad") == 0) {
            c->ranges = tv_bad_ranges;
            c->n_ranges = 1;
        } else if (strcmp(v, "none") == 0) {
            c->ranges = NULL;
            c->n_ranges = 0;
        } else {
            return -1;
        }
        return 0;
    }
    if (strncmp(k, "mem.", 4) == 0) {
        if (c->n_mem_ops == 8 || parse_u64(k + 4, &c->mem_ops[c->n_mem_ops].gpa))
            return -1;
        return parse_bytes(v, &c->mem_ops[c->n_mem_ops++].bytes);
    }
    if (strcmp(k, "memfail") == 0)
        return parse_u64(v, &c->guest.fail_gpa);
    /* pl.K=, pl+=, pl-=, pl.swap=, pl.count=, prot+=, prot-= */
    if (strncmp(k, "pl", 2) == 0 || strncmp(k, "prot", 4) == 0) {
        if (*n_late == 32 || strlen(k) >= sizeof late->k ||
            strlen(v) >= sizeof late->v)
            return -1;
        snprintf(late[*n_late].k, sizeof late->k, "%s", k);
        snprintf(late[*n_late].v, sizeof late->v, "%s", v);
        (*n_late)++;
        return 0;
    }
    return -1;
}

static void entry_set(struct tv_entry *e, uint64_t key, struct tv_buf *val)
{
    e->key = key;
    free(e->val.p);
    e->val = *val;
    memset(val, 0, sizeof *val);
}

/* The payload as entries, one per key, canonical. */
static void encode_payload_entries(struct tv_case *c)
{
    struct tv_buf b = {0};

    tb_head(&b, 0, c->format);
    entry_set(&c->pl[c->n_pl++], 1, &b);
    tb_tstr(&b, c->id);
    entry_set(&c->pl[c->n_pl++], 2, &b);
    tb_tstr(&b, c->title);
    entry_set(&c->pl[c->n_pl++], 3, &b);
    tb_head(&b, 4, c->n_cves);
    for (size_t i = 0; i < c->n_cves; i++)
        tb_tstr(&b, c->cves[i]);
    entry_set(&c->pl[c->n_pl++], 4, &b);
    tb_tstr(&b, c->publisher);
    entry_set(&c->pl[c->n_pl++], 5, &b);
    tb_tstr(&b, c->kind);
    entry_set(&c->pl[c->n_pl++], 6, &b);
    tb_bstr(&b, c->baseline, 32);
    entry_set(&c->pl[c->n_pl++], 7, &b);
    tb_head(&b, 0, c->seq);
    entry_set(&c->pl[c->n_pl++], 8, &b);
    tb_head(&b, 4, c->n_recs);
    for (size_t i = 0; i < c->n_recs; i++) {
        const struct tv_rec *r = &c->recs[i];

        tb_head(&b, 4, r->kind == VRF_REC_CODE ? 3 : 4);
        tb_head(&b, 0, r->kind);
        tb_head(&b, 0, r->gpa);
        if (r->kind == VRF_REC_REPLACE) {
            tb_bstr(&b, r->pre.p, r->pre.len);
            tb_bstr(&b, r->data.p, r->data.len);
        } else if (r->kind == VRF_REC_CODE) {
            tb_bstr(&b, r->data.p, r->data.len);
        } else {
            tb_bstr(&b, r->pre.p, r->pre.len);
            tb_head(&b, 0, r->target);
        }
    }
    entry_set(&c->pl[c->n_pl++], 9, &b);
}

static int encode_x5(const struct tv_pki *pki, struct tv_case *c,
                     struct tv_buf *b, int *present)
{
    int chain[VRF_MAX_CERTS + 4];
    size_t n = 0;
    char buf[128], *save = NULL, *t;

    *present = 1;
    if (strcmp(c->x5, "none") == 0) {
        *present = 0;
        return 0;
    }
    if (strcmp(c->x5, "junk") == 0) {
        tb_bstr(b, "junk certificate", 16);
        return 0;
    }
    if (strcmp(c->x5, "empty") == 0) {
        tb_bstr(b, "", 0);
        return 0;
    }
    if (strcmp(c->x5, "array0") == 0) {
        tb_head(b, 4, 0);
        return 0;
    }
    if (strcmp(c->x5, "array1") == 0) {
        tb_head(b, 4, 1);
        tb_bstr(b, pki->crt[c->signer].raw.p, pki->crt[c->signer].raw.len);
        return 0;
    }
    if (c->x5[0] == '\0') {
        n = tv_chain_of(c->signer, chain);
    } else {
        snprintf(buf, sizeof buf, "%s", c->x5);
        for (t = strtok_r(buf, ",", &save); t != NULL;
             t = strtok_r(NULL, ",", &save)) {
            if (n == VRF_MAX_CERTS + 4 || (chain[n] = tv_cert_by_name(t)) < 0)
                return -1;
            n++;
        }
    }
    if (n > 1)
        tb_head(b, 4, n);
    for (size_t i = 0; i < n; i++)
        tb_bstr(b, pki->crt[chain[i]].raw.p, pki->crt[chain[i]].raw.len);
    return 0;
}

static struct tv_entry *find_entry(struct tv_entry *e, size_t n, uint64_t key)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].key == key)
            return &e[i];
    return NULL;
}

/* pl.K=V, pl+=K:V, pl-=K, pl.swap=A,B, pl.count=N; prot+=K:V, prot-=K */
static int apply_late(struct tv_case *c, const struct tv_late *l)
{
    int is_pl = strncmp(l->k, "pl", 2) == 0;
    struct tv_entry *ents = is_pl ? c->pl : c->pr;
    size_t *n = is_pl ? &c->n_pl : &c->n_pr;
    const char *op = l->k + (is_pl ? 2 : 4);
    uint64_t key, key2;
    struct tv_entry *e, *e2, tmp;
    struct tv_buf b = {0};
    const char *colon;
    char *end;

    if (strcmp(op, "+") == 0) {
        colon = strchr(l->v, ':');
        if (colon == NULL || *n == TV_MAX_ENTRIES)
            return -1;
        key = strtoull(l->v, &end, 0);
        if (end != colon || parse_bytes(colon + 1, &b) != 0) {
            free(b.p);
            return -1;
        }
        entry_set(&ents[(*n)++], key, &b);
        return 0;
    }
    if (strcmp(op, "-") == 0) {
        if (parse_u64(l->v, &key) != 0 || (e = find_entry(ents, *n, key)) == NULL)
            return -1;
        tmp = *e;
        memmove(e, e + 1, (size_t)(&ents[*n] - (e + 1)) * sizeof *e);
        ents[*n - 1] = tmp;
        free(tmp.val.p);
        memset(&ents[*n - 1], 0, sizeof *e);
        (*n)--;
        return 0;
    }
    if (is_pl && strcmp(op, ".swap") == 0) {
        key = strtoull(l->v, &end, 0);
        if (*end != ',' || parse_u64(end + 1, &key2) != 0 ||
            (e = find_entry(ents, *n, key)) == NULL ||
            (e2 = find_entry(ents, *n, key2)) == NULL)
            return -1;
        tmp = *e;
        *e = *e2;
        *e2 = tmp;
        return 0;
    }
    if (is_pl && strcmp(op, ".tail") == 0)
        return parse_bytes(l->v, &c->pl_tail);
    if (is_pl && strcmp(op, ".count") == 0) {
        if (parse_u64(l->v, &key) != 0)
            return -1;
        c->pl_count = (long)key;
        return 0;
    }
    if (is_pl && op[0] == '.') {
        if (parse_u64(op + 1, &key) != 0 ||
            (e = find_entry(ents, *n, key)) == NULL ||
            parse_bytes(l->v, &b) != 0) {
            free(b.p);
            return -1;
        }
        entry_set(e, key, &b);
        return 0;
    }
    return -1;
}

static void serialize_map(struct tv_buf *out, const struct tv_entry *e,
                          size_t n, long count)
{
    tb_head(out, 5, count >= 0 ? (uint64_t)count : n);
    for (size_t i = 0; i < n; i++) {
        tb_head(out, 0, e[i].key);
        tb_put(out, e[i].val.p, e[i].val.len);
    }
}

/* ES384-style signature (r || s, 48 bytes each) with the signer's key,
 * whatever its curve, so that a wrong key type reaches the verifier. */
static int sign_tbs(mbedtls_pk_context *key, const struct tv_buf *prot,
                    const struct tv_buf *payload, uint8_t sig[96])
{
    uint8_t hash[48];
    mbedtls_mpi r, s;
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*key);
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;
    int ret = -1;

    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if (vrf_cose_tbs_hash(prot->p, prot->len, payload->p, payload->len,
                          hash) != VRF_OK ||
        keys_rng(&f_rng, &p_rng) != KEYS_OK ||
        mbedtls_ecdsa_sign_det_ext(&ec->grp, &r, &s, &ec->d, hash, sizeof hash,
                                   MBEDTLS_MD_SHA384, f_rng, p_rng) != 0 ||
        mbedtls_mpi_write_binary(&r, sig, 48) != 0 ||
        mbedtls_mpi_write_binary(&s, sig + 48, 48) != 0)
        goto cleanup;
    ret = 0;

cleanup:
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return ret;
}

/* Build the package bytes of case c into out. */
static int build_package(const struct tv_pki *pki, struct tv_case *c,
                         struct tv_late *late, size_t n_late,
                         struct tv_buf *out)
{
    struct tv_buf prot = {0}, payload = {0}, b = {0};
    uint8_t sig[96];
    int x5_present, ret = -1;

    out->len = 0;
    encode_payload_entries(c);
    tb_head(&b, c->alg >= 0 ? 0 : 1,
            c->alg >= 0 ? (uint64_t)c->alg : (uint64_t)(-1 - c->alg));
    entry_set(&c->pr[c->n_pr++], 1, &b);
    if (encode_x5(pki, c, &b, &x5_present) != 0)
        goto cleanup;
    if (x5_present && !c->unsigned_pkg)
        entry_set(&c->pr[c->n_pr++], 33, &b);
    for (size_t i = 0; i < n_late; i++)
        if (apply_late(c, &late[i]) != 0)
            goto cleanup;

    if (c->have_payload)
        tb_put(&payload, c->payload.p, c->payload.len);
    else
        serialize_map(&payload, c->pl, c->n_pl, c->pl_count);
    tb_put(&payload, c->pl_tail.p, c->pl_tail.len);
    if (c->have_prot)
        tb_put(&prot, c->prot.p, c->prot.len);
    else
        serialize_map(&prot, c->pr, c->n_pr, -1);

    if (c->tag >= 0)
        tb_head(out, 6, (uint64_t)c->tag);
    tb_head(out, 4, (uint64_t)c->arrlen);
    tb_bstr(out, prot.p, prot.len);
    if (c->have_unprot)
        tb_put(out, c->unprot.p, c->unprot.len);
    else
        tb_head(out, 5, 0);
    tb_bstr(out, payload.p, payload.len);
    if (c->have_sig) {
        tb_bstr(out, c->sig.p, c->sig.len);
    } else if (c->unsigned_pkg) {
        tb_bstr(out, "", 0);
    } else {
        if (sign_tbs((mbedtls_pk_context *)&pki->key[c->signer], &prot,
                     &payload, sig) != 0)
            goto cleanup;
        tb_bstr(out, sig, sizeof sig);
    }
    ret = 0;

cleanup:
    free(prot.p);
    free(payload.p);
    free(b.p);
    return ret;
}

static int load_trust(const struct tv_pki *pki, const struct tv_case *c,
                      struct vrf_trust *t)
{
    int ret;

    if (!c->trust_empty) {
        ret = vrf_trust_add_anchors(t, (const uint8_t *)pki->pem[TV_ROOT],
                                    strlen(pki->pem[TV_ROOT]));
        if (ret != VRF_OK)
            return ret;
    }
    for (size_t i = 0; i < c->n_anchor_ops; i++) {
        const char *n = c->anchor_ops[i];
        int cert = tv_cert_by_name(n);

        if (strcmp(n, "junk") == 0)
            ret = vrf_trust_add_anchors(t, (const uint8_t *)"junk", 4);
        else if (cert >= 0)
            ret = vrf_trust_add_anchors(t, (const uint8_t *)pki->pem[cert],
                                        strlen(pki->pem[cert]));
        else
            return INT32_MIN;
        if (ret != VRF_OK)
            return ret;
    }
    for (size_t i = 0; i < c->n_crl_ops; i++) {
        const char *n = c->crl_ops[i], *pem;

        if (strcmp(n, "revoking") == 0)
            pem = pki->crl_revoking;
        else if (strcmp(n, "empty") == 0)
            pem = pki->crl_empty;
        else if (strcmp(n, "other") == 0)
            pem = pki->crl_other;
        else if (strcmp(n, "junk") == 0)
            pem = "-----BEGIN X509 CRL-----\njunk\n-----END X509 CRL-----\n";
        else
            return INT32_MIN;
        ret = vrf_trust_add_crl(t, (const uint8_t *)pem, strlen(pem));
        if (ret != VRF_OK)
            return ret;
    }
    return VRF_OK;
}

/* Guest memory: every record's pre-image in place, then the vector's
 * changes. */
static int setup_guest(struct tv_case *c)
{
    c->guest.mem = calloc(1, TV_MEM_SIZE);
    if (c->guest.mem == NULL)
        return -1;
    for (size_t i = 0; i < c->n_recs; i++) {
        const struct tv_rec *r = &c->recs[i];

        if (r->kind == VRF_REC_CODE || r->gpa < TV_MEM_BASE ||
            r->gpa - TV_MEM_BASE >= TV_MEM_SIZE ||
            r->pre.len > TV_MEM_SIZE - (r->gpa - TV_MEM_BASE))
            continue;
        memcpy(c->guest.mem + (r->gpa - TV_MEM_BASE), r->pre.p, r->pre.len);
    }
    for (size_t i = 0; i < c->n_mem_ops; i++) {
        uint64_t g = c->mem_ops[i].gpa;
        const struct tv_buf *b = &c->mem_ops[i].bytes;

        if (g < TV_MEM_BASE || g - TV_MEM_BASE >= TV_MEM_SIZE ||
            b->len > TV_MEM_SIZE - (g - TV_MEM_BASE))
            return -1;
        memcpy(c->guest.mem + (g - TV_MEM_BASE), b->p, b->len);
    }
    return 0;
}

/* Apply the raw post-operations: replace, append, truncate, flip. */
static int post_ops(struct tv_case *c, struct tv_buf *pkg)
{
    if (c->have_raw) {
        pkg->len = 0;
        tb_put(pkg, c->raw.p, c->raw.len);
    }
    tb_put(pkg, c->append.p, c->append.len);
    if (c->have_truncate) {
        if (c->truncate >= 0 && (size_t)c->truncate <= pkg->len)
            pkg->len = (size_t)c->truncate;
        else if (c->truncate < 0 && (size_t)-c->truncate <= pkg->len)
            pkg->len -= (size_t)-c->truncate;
        else
            return -1;
    }
    for (size_t i = 0; i < c->n_flips; i++) {
        long off = c->flips[i] >= 0 ? c->flips[i] : (long)pkg->len + c->flips[i];

        if (off < 0 || (size_t)off >= pkg->len)
            return -1;
        pkg->p[off] ^= (uint8_t)(1u << (off % 8));
    }
    return 0;
}

int tv_run(const struct tv_pki *pki, const char *ops, char *why,
           size_t why_len)
{
    struct tv_case *c = calloc(1, sizeof *c);
    struct tv_late late[32];
    size_t n_late = 0;
    struct tv_buf pkg = {0};
    struct vrf_trust trust;
    struct vrf_pkg p;
    struct vrf_ctx ctx;
    char *copy = NULL, *save = NULL, *tok;
    int ret = INT32_MIN;

    vrf_trust_init(&trust);
    vrf_pkg_init(&p);
    if (c == NULL)
        goto cleanup;
    case_base(c);
    copy = strdup(ops);
    if (copy == NULL)
        goto cleanup;
    for (tok = strtok_r(copy, " \t", &save); tok != NULL;
         tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');

        if (strcmp(tok, "unsigned") == 0) {
            c->unsigned_pkg = 1;
            continue;
        }
        if (eq == NULL) {
            snprintf(why, why_len, "operation without '=': %s", tok);
            goto cleanup;
        }
        *eq = '\0';
        if (set_ctx_and_env(c, tok, eq + 1, late, &n_late) != 0) {
            snprintf(why, why_len, "bad operation: %s=%s", tok, eq + 1);
            goto cleanup;
        }
    }
    if (build_package(pki, c, late, n_late, &pkg) != 0 ||
        post_ops(c, &pkg) != 0 || setup_guest(c) != 0) {
        snprintf(why, why_len, "cannot build the package");
        goto cleanup;
    }

    ret = load_trust(pki, c, &trust);
    if (ret == INT32_MIN)
        snprintf(why, why_len, "bad trust operation");
    if (ret != VRF_OK)
        goto cleanup;
    memset(&ctx, 0, sizeof ctx);
    memcpy(ctx.baseline, c->ctx_baseline_set ? c->ctx_baseline : c->baseline,
           32);
    ctx.kind = c->ctx_kind;
    ctx.current_seq = c->ctx_seq;
    if (c->ctx_committed == 1)
        mbedtls_sha256_ret(pkg.p, pkg.len, c->ctx_committed_sha256, 0);
    ctx.committed_sha256 = c->ctx_committed ? c->ctx_committed_sha256 : NULL;
    ctx.committed_live = c->ctx_live;
    ctx.now = (int64_t)time(NULL) + c->now_offset;
    ctx.read = c->read_null ? NULL : tv_guest_read;
    ctx.read_opaque = &c->guest;
    ctx.ranges = c->ranges;
    ctx.n_ranges = c->n_ranges;
    ret = vrf_verify(&trust, &ctx, pkg.p, pkg.len, &p);
    snprintf(why, why_len, "%s", p.detail);

cleanup:
    vrf_pkg_free(&p);
    vrf_trust_free(&trust);
    free(pkg.p);
    free(copy);
    if (c != NULL)
        case_free(c);
    free(c);
    return ret;
}

int tv_base_package(const struct tv_pki *pki, uint8_t **pkg, size_t *len,
                    struct vrf_ctx *ctx, struct tv_guest *guest)
{
    struct tv_case *c = calloc(1, sizeof *c);
    struct tv_buf out = {0};
    int ret = -1;

    if (c == NULL)
        return -1;
    case_base(c);
    if (build_package(pki, c, NULL, 0, &out) != 0 || setup_guest(c) != 0)
        goto cleanup;
    memset(ctx, 0, sizeof *ctx);
    memcpy(ctx->baseline, c->baseline, 32);
    ctx->kind = "demo";
    ctx->current_seq = 0;
    ctx->now = (int64_t)time(NULL);
    ctx->read = tv_guest_read;
    ctx->read_opaque = guest;
    ctx->ranges = tv_demo_ranges;
    ctx->n_ranges = 4;
    guest->mem = c->guest.mem;
    guest->fail_gpa = 0;
    c->guest.mem = NULL;
    *pkg = out.p;
    *len = out.len;
    out.p = NULL;
    ret = 0;

cleanup:
    free(out.p);
    case_free(c);
    free(c);
    return ret;
}
