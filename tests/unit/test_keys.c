/* test_keys.c: unit tests of keys/: file writing (modes, atomicity, never
 * overwriting keys), keygen, loading keys and certificates, signing,
 * CRLs, the ELF reader and `hvpatch build` from manifests (with a small
 * ELF image made here and the real compiler). */
#include <errno.h>
#include <elf.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/pk.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crl.h>

#include "keys/keys.h"

static char tmpdir[256];

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static void write_text(const char *name, const char *text)
{
    char p[512];
    FILE *f;

    path_in(p, sizeof p, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* ------------------------------------------------------------------ errors */

static void error_table(void **state)
{
    static const int codes[] = {
        KEYS_OK,           KEYS_ERR_ARG,          KEYS_ERR_ALLOC,
        KEYS_ERR_CRYPTO,   KEYS_ERR_IO_READ,      KEYS_ERR_IO_WRITE,
        KEYS_ERR_IO_EXISTS, KEYS_ERR_IO_TOO_LARGE, KEYS_ERR_KEY_PARSE,
        KEYS_ERR_KEY_TYPE, KEYS_ERR_KEY_MISMATCH, KEYS_ERR_CERT_PARSE,
        KEYS_ERR_CERT_CHAIN, KEYS_ERR_CERT_USAGE, KEYS_ERR_PKG_PARSE,
        KEYS_ERR_PKG_LIMIT, KEYS_ERR_TRUST_DIR,   KEYS_ERR_TRUST_LOAD,
        KEYS_ERR_MANIFEST, KEYS_ERR_ELF,          KEYS_ERR_SYMBOL,
        KEYS_ERR_TOOL,     KEYS_ERR_BUILD,
    };
    size_t n = sizeof codes / sizeof codes[0];

    (void)state;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(keys_errname(codes[i]));
        assert_string_not_equal(keys_strerror(codes[i]), "unknown error");
        for (size_t k = i + 1; k < n; k++)
            assert_string_not_equal(keys_errname(codes[i]),
                                    keys_errname(codes[k]));
    }
    /* Verifier codes pass through. */
    assert_string_equal(keys_errname(VRF_ERR_SIG_INVALID),
                        "VRF_ERR_SIG_INVALID");
}

/* ------------------------------------------------------------------ files */

static void write_modes_and_exclusive(void **state)
{
    char p[512];
    mode_t old;
    uint8_t *buf;
    size_t len;
    struct keys_diag d = {""};

    (void)state;
    old = umask(0);
    path_in(p, sizeof p, "w-private");
    assert_int_equal(keys_write_file(p, (const uint8_t *)"k", 1,
                                     KEYS_WRITE_PRIVATE | KEYS_WRITE_EXCL, &d),
                     KEYS_OK);
    assert_int_equal(mode_of(p), 0600);
    assert_int_equal(keys_write_file(p, (const uint8_t *)"x", 1,
                                     KEYS_WRITE_PRIVATE | KEYS_WRITE_EXCL, &d),
                     KEYS_ERR_IO_EXISTS);
    assert_int_equal(keys_read_file(p, 16, &buf, &len, &d), KEYS_OK);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], 'k');
    keys_free(buf);
    umask(077);
    path_in(p, sizeof p, "w-public");
    assert_int_equal(keys_write_file(p, (const uint8_t *)"abc", 3, 0, &d),
                     KEYS_OK);
    assert_int_equal(mode_of(p), 0644);
    /* Replacing (not exclusive) is atomic and keeps no temporary. */
    assert_int_equal(keys_write_file(p, (const uint8_t *)"abcd", 4, 0, &d),
                     KEYS_OK);
    assert_int_equal(keys_read_file(p, 3, &buf, &len, &d),
                     KEYS_ERR_IO_TOO_LARGE);
    assert_int_equal(keys_read_file(p, 4, &buf, &len, &d), KEYS_OK);
    keys_free(buf);
    assert_int_equal(keys_read_file(tmpdir, 4, &buf, &len, &d),
                     KEYS_ERR_IO_READ);
    path_in(p, sizeof p, "no-such-dir/f");
    assert_int_equal(keys_write_file(p, (const uint8_t *)"a", 1, 0, &d),
                     KEYS_ERR_IO_WRITE);
    /* A FIFO is neither read (no hang) nor replaced; nor is a directory. */
    path_in(p, sizeof p, "w-fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(keys_read_file(p, 16, &buf, &len, &d), KEYS_ERR_IO_READ);
    assert_non_null(strstr(d.text, "w-fifo: not a regular file (a FIFO)"));
    assert_int_equal(keys_write_file(p, (const uint8_t *)"a", 1, 0, &d),
                     KEYS_ERR_IO_WRITE);
    assert_non_null(
        strstr(d.text, "w-fifo: exists and is not a regular file (a FIFO); not "
                       "replaced"));
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    unlink(p);
    assert_int_equal(keys_write_file(tmpdir, (const uint8_t *)"a", 1, 0, &d),
                     KEYS_ERR_IO_WRITE);
    assert_non_null(strstr(d.text, "not a regular file (a directory)"));
    umask(old);
}

/* ------------------------------------------------------------------ keygen */

static void keygen_files(void **state)
{
    char dir[512], p[600];
    struct keys_diag d = {""};
    mbedtls_pk_context k;
    mbedtls_x509_crt c;
    struct vrf_trust t;
    uint32_t flags = 0;
    int insecure = -1;
    uint8_t *buf;
    size_t len;
    mode_t old = umask(0);

    (void)state;
    path_in(dir, sizeof dir, "kg");
    assert_int_equal(keys_keygen(dir, NULL, &d), KEYS_OK);
    umask(old);
    snprintf(p, sizeof p, "%s/root.key", dir);
    assert_int_equal(mode_of(p), 0600);
    snprintf(p, sizeof p, "%s/signing.key", dir);
    assert_int_equal(mode_of(p), 0600);
    assert_int_equal(mode_of(dir), 0700);
    snprintf(p, sizeof p, "%s/signing.pem", dir);
    assert_int_equal(mode_of(p), 0644);

    /* The signing key is P-384 and 0600 (not "insecure"). */
    mbedtls_pk_init(&k);
    snprintf(p, sizeof p, "%s/signing.key", dir);
    assert_int_equal(keys_load_key(&k, p, &insecure, &d), KEYS_OK);
    assert_int_equal(insecure, 0);
    /* The certificate chains to the root with the EKU; only key files
     * hold private keys. */
    mbedtls_x509_crt_init(&c);
    snprintf(p, sizeof p, "%s/signing.pem", dir);
    assert_int_equal(keys_load_certs(&c, p, &d), KEYS_OK);
    assert_int_equal(mbedtls_pk_check_pair(&c.pk, &k), 0);
    assert_int_equal(keys_read_file(p, 1 << 16, &buf, &len, &d), KEYS_OK);
    assert_null(memmem(buf, len, "PRIVATE", 7));
    keys_free(buf);
    snprintf(p, sizeof p, "%s/root.pem", dir);
    assert_int_equal(keys_load_certs(&c, p, &d), KEYS_OK);
    assert_int_equal(mbedtls_x509_crt_verify(&c, c.next, NULL, NULL, &flags,
                                             NULL, NULL),
                     0);
    assert_true(c.next->ca_istrue);
    assert_false(c.ca_istrue);
    assert_true(c.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE);
    assert_int_equal(c.ext_key_usage.buf.len, VRF_EKU_OID_LEN);
    assert_memory_equal(c.ext_key_usage.buf.p, VRF_EKU_OID, VRF_EKU_OID_LEN);

    /* The trust store it made loads. */
    vrf_trust_init(&t);
    snprintf(p, sizeof p, "%s/trust", dir);
    assert_int_equal(keys_trust_load_dir(&t, p, &d), KEYS_OK);
    assert_int_equal(t.n_anchors, 1);
    vrf_trust_free(&t);

    /* keys_trust_load_at: the same store through a directory fd, with
     * the digest of what it read: stable while nothing changes; a file
     * that does not load changes it and names the verifier's code. */
    {
        struct keys_trust_info i1, i2;
        int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char junk[700];
        FILE *f;

        assert_true(dfd >= 0);
        vrf_trust_init(&t);
        assert_int_equal(keys_trust_load_at(&t, dfd, p, &i1, &d), KEYS_OK);
        vrf_trust_free(&t);
        vrf_trust_init(&t);
        assert_int_equal(keys_trust_load_at(&t, dfd, p, &i2, &d), KEYS_OK);
        vrf_trust_free(&t);
        assert_memory_equal(i1.sha256, i2.sha256, 32);
        /* Digest only (trust NULL): the same digest, nothing parsed. */
        memset(&i2, 0, sizeof i2);
        assert_int_equal(keys_trust_load_at(NULL, dfd, p, &i2, &d), KEYS_OK);
        assert_memory_equal(i1.sha256, i2.sha256, 32);
        assert_int_equal(i1.anchors, 1);
        assert_int_equal(i1.crls, 0);
        assert_int_equal(i1.code, 0);
        snprintf(junk, sizeof junk, "%s/crls/zz.crl", p);
        f = fopen(junk, "w");
        assert_non_null(f);
        fputs("not a CRL\n", f);
        fclose(f);
        vrf_trust_init(&t);
        assert_int_equal(keys_trust_load_at(&t, dfd, p, &i2, &d),
                         KEYS_ERR_TRUST_LOAD);
        vrf_trust_free(&t);
        assert_int_equal(i2.code, VRF_ERR_TRUST_CRL_PARSE);
        assert_non_null(strstr(d.text, "crls/zz.crl"));
        assert_memory_not_equal(i1.sha256, i2.sha256, 32);
        unlink(junk);
        /* A symbolic link is refused, not followed. */
        assert_int_equal(symlink("/etc/hostname", junk), 0);
        vrf_trust_init(&t);
        assert_int_equal(keys_trust_load_at(&t, dfd, p, &i2, &d),
                         KEYS_ERR_IO_READ);
        vrf_trust_free(&t);
        assert_non_null(strstr(d.text, "zz.crl: a symbolic link"));
        unlink(junk);
        close(dfd);
    }

    /* A second keygen into the same directory changes nothing. */
    assert_int_equal(keys_keygen(dir, NULL, &d), KEYS_ERR_IO_EXISTS);
    assert_non_null(strstr(d.text, "exists"));
    mbedtls_pk_free(&k);
    mbedtls_x509_crt_free(&c);
}

static void load_key_errors(void **state)
{
    char p[512];
    struct keys_diag d = {""};
    mbedtls_pk_context k, p256;
    int insecure = 0;
    unsigned char pem[4096];
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;

    (void)state;
    mbedtls_pk_init(&k);
    write_text("garbage.key", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n"
                              "-----END EC PRIVATE KEY-----\n");
    path_in(p, sizeof p, "garbage.key");
    assert_int_equal(keys_load_key(&k, p, NULL, &d), KEYS_ERR_KEY_PARSE);
    mbedtls_pk_free(&k);
    /* A P-256 key, readable by everyone. */
    mbedtls_pk_init(&p256);
    assert_int_equal(keys_rng(&f_rng, &p_rng), KEYS_OK);
    assert_int_equal(mbedtls_pk_setup(&p256, mbedtls_pk_info_from_type(
                                                 MBEDTLS_PK_ECKEY)),
                     0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
                                         mbedtls_pk_ec(p256), f_rng, p_rng),
                     0);
    assert_int_equal(mbedtls_pk_write_key_pem(&p256, pem, sizeof pem), 0);
    write_text("p256.key", (char *)pem);
    path_in(p, sizeof p, "p256.key");
    chmod(p, 0644);
    mbedtls_pk_init(&k);
    assert_int_equal(keys_load_key(&k, p, &insecure, &d), KEYS_ERR_KEY_TYPE);
    assert_int_equal(insecure, 1);
    mbedtls_pk_free(&k);
    mbedtls_pk_free(&p256);
    path_in(p, sizeof p, "missing.key");
    mbedtls_pk_init(&k);
    assert_int_equal(keys_load_key(&k, p, NULL, &d), KEYS_ERR_IO_READ);
    mbedtls_pk_free(&k);
}

/* ------------------------------------------------------------------ sign */

/* A one-record unsigned package. */
static void make_unsigned(uint8_t **pkg, size_t *len, uint64_t seq)
{
    struct vrf_pkg in;
    struct vrf_record rec;
    static const uint8_t pre[4] = {1, 2, 3, 4}, new_[4] = {5, 6, 7, 8};
    uint8_t *payload, *prot;
    size_t pl, prl;

    vrf_pkg_init(&in);
    memset(&rec, 0, sizeof rec);
    rec.kind = VRF_REC_REPLACE;
    rec.gpa = 0x40000200;
    rec.pre.p = pre;
    rec.pre.len = 4;
    rec.data.p = new_;
    rec.data.len = 4;
    in.format = 1;
    snprintf(in.id, sizeof in.id, "HP-2026-0042");
    snprintf(in.title, sizeof in.title, "unit test");
    snprintf(in.publisher, sizeof in.publisher, "tests");
    snprintf(in.kind, sizeof in.kind, "demo");
    in.sequence = seq;
    in.records = &rec;
    in.n_records = 1;
    assert_int_equal(keys_pkg_encode_payload(&in, &payload, &pl), KEYS_OK);
    assert_int_equal(keys_pkg_encode_protected(NULL, 0, &prot, &prl), KEYS_OK);
    assert_int_equal(keys_pkg_encode_sign1(prot, prl, payload, pl, NULL, 0,
                                           pkg, len),
                     KEYS_OK);
    keys_free(payload);
    keys_free(prot);
}

static int read_zero(void *o, uint64_t gpa, uint8_t *buf, size_t len)
{
    static const uint8_t pre[4] = {1, 2, 3, 4};

    (void)o;
    memset(buf, 0, len);
    if (gpa == 0x40000200 && len == 4)
        memcpy(buf, pre, 4);
    return 0;
}

static void sign_and_verify(void **state)
{
    char p[600], dir[512];
    struct keys_diag d = {""};
    mbedtls_pk_context k, root_key;
    mbedtls_x509_crt c, root;
    uint8_t *pkg, *s1, *s2, *s3;
    size_t len, l1, l2, l3;
    struct vrf_trust t;
    struct vrf_pkg out;
    struct vrf_ctx ctx;
    static const struct vrf_range ranges[] = {
        {0x40000000, 0x100000, VRF_RANGE_CODE, 0, 0},
    };

    (void)state;
    path_in(dir, sizeof dir, "kg");
    mbedtls_pk_init(&k);
    mbedtls_pk_init(&root_key);
    mbedtls_x509_crt_init(&c);
    mbedtls_x509_crt_init(&root);
    snprintf(p, sizeof p, "%s/signing.key", dir);
    assert_int_equal(keys_load_key(&k, p, NULL, &d), KEYS_OK);
    snprintf(p, sizeof p, "%s/root.key", dir);
    assert_int_equal(keys_load_key(&root_key, p, NULL, &d), KEYS_OK);
    snprintf(p, sizeof p, "%s/signing.pem", dir);
    assert_int_equal(keys_load_certs(&c, p, &d), KEYS_OK);
    snprintf(p, sizeof p, "%s/root.pem", dir);
    assert_int_equal(keys_load_certs(&root, p, &d), KEYS_OK);
    make_unsigned(&pkg, &len, 7);

    /* Deterministic (RFC 6979): same input, same bytes; re-signing a
     * signed package gives the same package. */
    assert_int_equal(keys_sign(pkg, len, &k, &c, &s1, &l1, &d), KEYS_OK);
    assert_int_equal(keys_sign(pkg, len, &k, &c, &s2, &l2, &d), KEYS_OK);
    assert_int_equal(keys_sign(s1, l1, &k, &c, &s3, &l3, &d), KEYS_OK);
    assert_int_equal(l1, l2);
    assert_memory_equal(s1, s2, l1);
    assert_int_equal(l1, l3);
    assert_memory_equal(s1, s3, l1);
    keys_free(s2);

    /* It verifies. */
    vrf_trust_init(&t);
    vrf_pkg_init(&out);
    snprintf(p, sizeof p, "%s/trust", dir);
    assert_int_equal(keys_trust_load_dir(&t, p, &d), KEYS_OK);
    memset(&ctx, 0, sizeof ctx);
    ctx.kind = "demo";
    ctx.now = (int64_t)time(NULL);
    ctx.read = read_zero;
    ctx.ranges = ranges;
    ctx.n_ranges = 1;
    assert_int_equal(vrf_verify(&t, &ctx, s1, l1, &out), VRF_OK);
    assert_true(out.sequence == 7);

    /* The wrong key for the certificate; a package that does not parse;
     * a "chain" whose second certificate did not issue the first. */
    assert_int_equal(keys_sign(pkg, len, &root_key, &c, &s2, &l2, &d),
                     KEYS_ERR_KEY_MISMATCH);
    pkg[len - 1] = 0xff;
    assert_int_equal(keys_sign(pkg, len - 1, &k, &c, &s2, &l2, &d),
                     KEYS_ERR_PKG_PARSE);
    assert_non_null(strstr(d.text, "VRF_ERR_PARSE_TRUNCATED"));
    assert_int_equal(keys_load_certs(&c, p /* trust dir: fails */, &d),
                     KEYS_ERR_IO_READ);
    snprintf(p, sizeof p, "%s/signing.pem", dir);
    assert_int_equal(keys_load_certs(&c, p, &d), KEYS_OK); /* leaf twice */
    assert_int_equal(keys_sign(s1, l1, &k, &c, &s2, &l2, &d),
                     KEYS_ERR_CERT_CHAIN);

    keys_free(s1);
    keys_free(s3);
    keys_free(pkg);
    vrf_pkg_free(&out);
    vrf_trust_free(&t);
    mbedtls_pk_free(&k);
    mbedtls_pk_free(&root_key);
    mbedtls_x509_crt_free(&c);
    mbedtls_x509_crt_free(&root);
}

/* ------------------------------------------------------------------ CRL */

static void crl_issue(void **state)
{
    char p[600], dir[512];
    struct keys_diag d = {""};
    mbedtls_pk_context root_key;
    mbedtls_x509_crt root, leaf;
    mbedtls_x509_crl crl;
    struct keys_serial s[2];
    char *pem;
    struct vrf_trust t;

    (void)state;
    path_in(dir, sizeof dir, "kg");
    mbedtls_pk_init(&root_key);
    mbedtls_x509_crt_init(&root);
    mbedtls_x509_crt_init(&leaf);
    mbedtls_x509_crl_init(&crl);
    snprintf(p, sizeof p, "%s/root.key", dir);
    assert_int_equal(keys_load_key(&root_key, p, NULL, &d), KEYS_OK);
    snprintf(p, sizeof p, "%s/root.pem", dir);
    assert_int_equal(keys_load_certs(&root, p, &d), KEYS_OK);
    snprintf(p, sizeof p, "%s/signing.pem", dir);
    assert_int_equal(keys_load_certs(&leaf, p, &d), KEYS_OK);
    memset(s, 0, sizeof s);
    memcpy(s[0].bytes, leaf.serial.p, leaf.serial.len);
    s[0].len = leaf.serial.len;
    s[0].revoked_at = (int64_t)time(NULL) - 10;
    s[1].bytes[0] = 0x7f; /* a serial with its top bit clear */
    s[1].len = 1;
    s[1].revoked_at = 2600000000; /* 2052: GeneralizedTime */
    assert_int_equal(keys_crl_issue(&root_key, &root, s, 2, 30, 0x80, &pem),
                     KEYS_OK);
    assert_int_equal(mbedtls_x509_crl_parse(&crl, (unsigned char *)pem,
                                            strlen(pem) + 1),
                     0);
    assert_int_equal(crl.version, 2);
    assert_int_equal(crl.entry.serial.len, leaf.serial.len);
    assert_memory_equal(crl.entry.serial.p, leaf.serial.p, leaf.serial.len);
    assert_non_null(crl.entry.next);
    assert_int_equal(crl.entry.next->revocation_date.year, 2052);
    assert_int_equal(mbedtls_x509_crt_is_revoked(&leaf, &crl), 1);
    vrf_trust_init(&t);
    assert_int_equal(vrf_trust_add_anchors(&t, root.raw.p, root.raw.len),
                     VRF_OK);
    assert_int_equal(vrf_trust_add_crl(&t, (uint8_t *)pem, strlen(pem)),
                     VRF_OK);
    assert_int_equal(vrf_trust_add_crl(&t, crl.raw.p, crl.raw.len), VRF_OK);
    /* An empty CRL has no revokedCertificates at all. */
    keys_free(pem);
    assert_int_equal(keys_crl_issue(&root_key, &root, NULL, 0, 1, 1, &pem),
                     KEYS_OK);
    assert_int_equal(vrf_trust_add_crl(&t, (uint8_t *)pem, strlen(pem)),
                     VRF_OK);
    keys_free(pem);
    assert_int_equal(keys_crl_issue(&root_key, &root, NULL, 0, 0, 1, &pem),
                     KEYS_ERR_ARG);
    assert_null(pem);
    vrf_trust_free(&t);
    mbedtls_x509_crl_free(&crl);
    mbedtls_pk_free(&root_key);
    mbedtls_x509_crt_free(&root);
    mbedtls_x509_crt_free(&leaf);
}

/* ------------------------------------------------------------------ ELF */

/* A small ET_EXEC image: kernel text at 0x40000000 with
 *   victim (FUNC, global) at +0x100: 90 90 90 90 90 c3
 *   table  (OBJECT)       at +0x180: "ABCDEFGH"
 *   memcpy (FUNC, local)  at +0x000, and another memcpy (global) in user
 *   text at 0x40100000, as the demo guest has them;
 * symtab and strtab sections; segment memsz past filesz (bss). */
struct mini_elf {
    Elf64_Ehdr eh;
    Elf64_Phdr ph;
    uint8_t text[0x200];
    Elf64_Sym syms[6];
    char strs[64];
    Elf64_Shdr sh[4];
};

static size_t mini_elf(struct mini_elf *m)
{
    static const char strs[] = "\0victim\0table\0memcpy\0nothing_here";

    memset(m, 0, sizeof *m);
    memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
    m->eh.e_ident[EI_CLASS] = ELFCLASS64;
    m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
    m->eh.e_ident[EI_VERSION] = EV_CURRENT;
    m->eh.e_type = ET_EXEC;
    m->eh.e_machine = EM_X86_64;
    m->eh.e_version = EV_CURRENT;
    m->eh.e_entry = 0x40000000;
    m->eh.e_phoff = offsetof(struct mini_elf, ph);
    m->eh.e_shoff = offsetof(struct mini_elf, sh);
    m->eh.e_ehsize = sizeof m->eh;
    m->eh.e_phentsize = sizeof m->ph;
    m->eh.e_phnum = 1;
    m->eh.e_shentsize = sizeof m->sh[0];
    m->eh.e_shnum = 4;
    m->ph.p_type = PT_LOAD;
    m->ph.p_flags = PF_R | PF_X;
    m->ph.p_offset = offsetof(struct mini_elf, text);
    m->ph.p_vaddr = m->ph.p_paddr = 0x40000000;
    m->ph.p_filesz = sizeof m->text;
    m->ph.p_memsz = sizeof m->text + 0x100;
    memset(m->text + 0x100, 0x90, 5);
    m->text[0x105] = 0xc3;
    memcpy(m->text + 0x180, "ABCDEFGH", 8);
    m->text[0x00] = 0xc3;
    memcpy(m->strs, strs, sizeof strs);
    m->syms[1] = (Elf64_Sym){1, ELF64_ST_INFO(STB_GLOBAL, STT_FUNC), 0, 1,
                             0x40000100, 6};
    m->syms[2] = (Elf64_Sym){8, ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT), 0, 1,
                             0x40000180, 8};
    m->syms[3] = (Elf64_Sym){14, ELF64_ST_INFO(STB_LOCAL, STT_FUNC), 0, 1,
                             0x40000000, 1};
    m->syms[4] = (Elf64_Sym){14, ELF64_ST_INFO(STB_GLOBAL, STT_FUNC), 0, 1,
                             0x40100000, 1};
    m->syms[5] = (Elf64_Sym){21, ELF64_ST_INFO(STB_GLOBAL, STT_NOTYPE), 0,
                             SHN_UNDEF, 0, 0};
    m->sh[1].sh_type = SHT_PROGBITS;
    m->sh[2].sh_type = SHT_SYMTAB;
    m->sh[2].sh_offset = offsetof(struct mini_elf, syms);
    m->sh[2].sh_size = sizeof m->syms;
    m->sh[2].sh_entsize = sizeof m->syms[0];
    m->sh[2].sh_link = 3;
    m->sh[3].sh_type = SHT_STRTAB;
    m->sh[3].sh_offset = offsetof(struct mini_elf, strs);
    m->sh[3].sh_size = sizeof m->strs;
    return sizeof *m;
}

static void elf_reader(void **state)
{
    struct mini_elf m, bad;
    struct keys_elf e;
    struct keys_sym s;
    uint8_t buf[16];
    size_t n = mini_elf(&m);

    (void)state;
    assert_int_equal(keys_elf_open(&e, (uint8_t *)&m, n, NULL), KEYS_OK);
    assert_int_equal(e.nsyms, 6);
    assert_int_equal(keys_elf_find(&e, "victim", &s, NULL), KEYS_OK);
    assert_true(s.value == 0x40000100);
    /* Global first; in a range, the only local one of the name. */
    assert_int_equal(keys_elf_find(&e, "memcpy", &s, NULL), KEYS_OK);
    assert_true(s.value == 0x40100000);
    assert_int_equal(keys_elf_find_in(&e, "memcpy", 0x40000000, 0x100000, &s,
                                      NULL),
                     KEYS_OK);
    assert_true(s.value == 0x40000000);
    assert_int_equal(keys_elf_find(&e, "nothing_here", &s, NULL),
                     KEYS_ERR_SYMBOL);
    assert_int_equal(keys_elf_symbolize(&e, 0x40000103, &s), KEYS_OK);
    assert_string_equal(s.name, "victim");
    /* Bytes by guest address: file bytes, zero past filesz and outside. */
    assert_int_equal(keys_elf_read_gpa(&e, 0x400001fe, buf, 8), KEYS_OK);
    assert_int_equal(buf[0], 0);
    assert_int_equal(keys_elf_read_gpa(&e, 0x40000180, buf, 8), KEYS_OK);
    assert_memory_equal(buf, "ABCDEFGH", 8);
    assert_int_equal(keys_elf_read_gpa(&e, 0x3ffffffc, buf, 8), KEYS_OK);
    assert_int_equal(buf[4], 0xc3);
    assert_int_equal(buf[3], 0);
    /* Malformed: short, 32-bit, table outside, bad symtab link, strtab
     * not NUL-terminated. */
    assert_int_equal(keys_elf_open(&e, (uint8_t *)&m, 10, NULL), KEYS_ERR_ELF);
    bad = m;
    bad.eh.e_ident[EI_CLASS] = ELFCLASS32;
    assert_int_equal(keys_elf_open(&e, (uint8_t *)&bad, n, NULL), KEYS_ERR_ELF);
    bad = m;
    bad.eh.e_phoff = n - 8;
    assert_int_equal(keys_elf_open(&e, (uint8_t *)&bad, n, NULL), KEYS_ERR_ELF);
    bad = m;
    bad.ph.p_filesz = 0x10000;
    assert_int_equal(keys_elf_open(&e, (uint8_t *)&bad, n, NULL), KEYS_ERR_ELF);
    bad = m;
    bad.sh[2].sh_link = 9;
    assert_int_equal(keys_elf_open(&e, (uint8_t *)&bad, n, NULL), KEYS_ERR_ELF);
    bad = m;
    bad.strs[63] = 'x';
    assert_int_equal(keys_elf_open(&e, (uint8_t *)&bad, n, NULL), KEYS_ERR_ELF);
    bad = m;
    bad.syms[1].st_name = 1000;
    assert_int_equal(keys_elf_open(&e, (uint8_t *)&bad, n, NULL), KEYS_OK);
    assert_int_equal(keys_elf_sym(&e, 1, &s), KEYS_ERR_ELF);
}

/* ------------------------------------------------------------------ build */

static void write_image(void)
{
    struct mini_elf m;
    char p[512];
    size_t n = mini_elf(&m);

    path_in(p, sizeof p, "img.elf");
    assert_int_equal(keys_write_file(p, (uint8_t *)&m, n, 0, NULL), KEYS_OK);
}

#define MANIFEST_HEAD                                                       \
    "{\"format\": 1, \"id\": \"HP-2026-0100\", \"title\": \"unit\", "       \
    "\"publisher\": \"tests\", \"sequence\": 3, "                           \
    "\"target\": {\"kind\": \"demo\", \"image\": \"img.elf\"}"

static int build(const char *manifest_text, uint8_t **out, size_t *len,
                 struct keys_diag *d)
{
    char p[512];

    write_text("m.json", manifest_text);
    path_in(p, sizeof p, "m.json");
    d->text[0] = '\0';
    return keys_build(p, NULL, NULL, out, len, d);
}

/* Manifests that must fail, and what the message must say. */
static void build_manifest_errors(void **state)
{
    static const struct {
        const char *json;
        int ret;
        const char *says;
    } cases[] = {
        {"{", KEYS_ERR_MANIFEST, "line 1"},
        {"[]", KEYS_ERR_MANIFEST, "object"},
        {MANIFEST_HEAD "}", KEYS_ERR_MANIFEST, "nothing to do"},
        {MANIFEST_HEAD ", \"bogus\": 1}", KEYS_ERR_MANIFEST, "bogus"},
        {MANIFEST_HEAD ", \"id\": \"x\"}", KEYS_ERR_MANIFEST, "duplicate"},
        {"{\"format\": 2}", KEYS_ERR_MANIFEST, "format"},
        {MANIFEST_HEAD ", \"replace\": [{\"symbol\": \"table\", "
                       "\"bytes\": \"zz\"}]}",
         KEYS_ERR_MANIFEST, "hex"},
        {MANIFEST_HEAD ", \"replace\": [{\"symbol\": \"table\", \"gpa\": "
                       "\"0x1\", \"bytes\": \"00\"}]}",
         KEYS_ERR_MANIFEST, "exactly one"},
        {MANIFEST_HEAD ", \"replace\": [{\"symbol\": \"absent\", "
                       "\"bytes\": \"00\"}]}",
         KEYS_ERR_SYMBOL, "absent"},
        {MANIFEST_HEAD ", \"redirects\": [{\"function\": \"victim\", "
                       "\"to\": \"x\"}]}",
         KEYS_ERR_MANIFEST, "code"},
        {MANIFEST_HEAD ", \"code\": {\"sources\": [], \"area\": \"kernel\"}}",
         KEYS_ERR_MANIFEST, "sources"},
        {MANIFEST_HEAD ", \"code\": {\"sources\": [\"a.c\"], \"area\": "
                       "\"nowhere\"}}",
         KEYS_ERR_MANIFEST, "area"},
        /* Parses, but the verifier would refuse it: REPLACE in a patch
         * area. */
        {MANIFEST_HEAD ", \"replace\": [{\"gpa\": \"0x40200000\", "
                       "\"bytes\": \"00\"}]}",
         KEYS_ERR_BUILD, "VRF_ERR_BOUNDS_OUTSIDE"},
        /* A symbol table is for Linux kernels only; a Linux kernel needs
         * one, and takes no replace records. */
        {"{\"format\": 1, \"id\": \"HP-1\", \"title\": \"t\", "
         "\"publisher\": \"p\", \"sequence\": 1, \"target\": {\"kind\": "
         "\"demo\", \"image\": \"img.elf\", \"symbols\": \"map\"}}",
         KEYS_ERR_MANIFEST, "\"target.symbols\": only for kind \"linux\""},
        {"{\"format\": 1, \"id\": \"HP-1\", \"title\": \"t\", "
         "\"publisher\": \"p\", \"sequence\": 1, \"target\": {\"kind\": "
         "\"linux\", \"image\": \"img.elf\"}, \"code\": {\"sources\": "
         "[\"x.c\"]}}",
         KEYS_ERR_MANIFEST, "\"target.symbols\": required for kind"},
        {"{\"format\": 1, \"id\": \"HP-1\", \"title\": \"t\", "
         "\"publisher\": \"p\", \"sequence\": 1, \"target\": {\"kind\": "
         "\"linux\", \"image\": \"img.elf\", \"symbols\": \"map\"}, "
         "\"replace\": [{\"gpa\": \"0x1000000\", \"bytes\": \"00\"}]}",
         KEYS_ERR_MANIFEST, "\"replace\": not for kind \"linux\""},
        {"{\"format\": 1, \"id\": \"HP-1\", \"title\": \"t\", "
         "\"publisher\": \"p\", \"sequence\": 1, \"target\": {\"kind\": "
         "\"linux\", \"image\": \"img.elf\", \"symbols\": \"map\"}, "
         "\"code\": {\"sources\": [\"a.c\"], \"area\": \"user\"}}",
         KEYS_ERR_MANIFEST, "in the Linux patch area [0x40000000, 0x40200000)"},
        /* A Linux kernel must be a PVH vmlinux (the demo image is not). */
        {"{\"format\": 1, \"id\": \"HP-1\", \"title\": \"t\", "
         "\"publisher\": \"p\", \"sequence\": 1, \"target\": {\"kind\": "
         "\"linux\", \"image\": \"img.elf\", \"symbols\": \"map\"}, "
         "\"code\": {\"sources\": [\"a.c\"], \"area\": \"kernel\"}}",
         KEYS_ERR_ELF, "img.elf: not a Linux kernel"},
        /* The verifier's text rules apply to the manifest too. */
        {"{\"format\": 1, \"id\": \"HP-1\", \"title\": \"a\\nb\", "
         "\"publisher\": \"p\", \"sequence\": 1, \"target\": {\"kind\": "
         "\"demo\", \"image\": \"img.elf\"}, \"replace\": [{\"symbol\": "
         "\"table\", \"bytes\": \"00\"}]}",
         KEYS_ERR_MANIFEST, "VRF_ERR_PARSE_TEXT"},
    };
    struct keys_diag d;
    uint8_t *out = NULL;
    size_t len;

    (void)state;
    write_image();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int ret = build(cases[i].json, &out, &len, &d);

        if (ret != cases[i].ret || strstr(d.text, cases[i].says) == NULL)
            fail_msg("case %zu: %s (%s), expected %s saying \"%s\"", i,
                     keys_errname(ret), d.text, keys_errname(cases[i].ret),
                     cases[i].says);
        assert_null(out);
    }
}

static void build_replace(void **state)
{
    struct keys_diag d;
    uint8_t *out = NULL;
    size_t len;
    struct vrf_pkg p;

    (void)state;
    write_image();
    vrf_pkg_init(&p);
    assert_int_equal(build(MANIFEST_HEAD ", \"cves\": [\"CVE-2026-1234\"], "
                                         "\"replace\": [{\"symbol\": \"table\","
                                         " \"offset\": \"2\", \"bytes\": "
                                         "\"61 62\"}]}",
                           &out, &len, &d),
                     KEYS_OK);
    assert_int_equal(vrf_pkg_parse(&p, out, len), VRF_OK);
    assert_false(p.is_signed);
    assert_string_equal(p.id, "HP-2026-0100");
    assert_int_equal(p.n_cves, 1);
    assert_int_equal(p.n_records, 1);
    assert_int_equal(p.records[0].kind, VRF_REC_REPLACE);
    assert_true(p.records[0].gpa == 0x40000182);
    assert_memory_equal(p.records[0].pre.p, "CD", 2);
    assert_memory_equal(p.records[0].data.p, "ab", 2);
    vrf_pkg_free(&p);
    keys_free(out);
}

/* The real compiler and linker: code in the kernel patch area calling the
 * kernel's own (local) memcpy, and a redirect over victim's pad. */
static void build_code(void **state)
{
    struct keys_diag d;
    uint8_t *out = NULL;
    size_t len;
    struct vrf_pkg p;
    const struct vrf_record *code, *jmp;
    int found_call = 0;
    static const char manifest[] =
        MANIFEST_HEAD ", \"code\": {\"sources\": [\"fix.c\"], \"area\": "
                      "\"kernel\"}, \"redirects\": [{\"function\": "
                      "\"victim\", \"to\": \"hp_fix\"}]}";

    (void)state;
    write_image();
    vrf_pkg_init(&p);
    write_text("fix.c",
               "void *memcpy(void *d, const void *s, unsigned long n);\n"
               "long hp_fix(char *d, const char *s);\n"
               "long hp_fix(char *d, const char *s)\n"
               "{\n    memcpy(d, s, 4);\n    return 4;\n}\n");
    if (build(manifest, &out, &len, &d) != KEYS_OK)
        fail_msg("build: %s", d.text);
    assert_int_equal(vrf_pkg_parse(&p, out, len), VRF_OK);
    assert_int_equal(p.n_records, 2);
    code = &p.records[0];
    jmp = &p.records[1];
    assert_int_equal(code->kind, VRF_REC_CODE);
    assert_true(code->gpa == 0x40200000);
    assert_int_equal(jmp->kind, VRF_REC_REDIRECT);
    assert_true(jmp->gpa == 0x40000100);
    assert_memory_equal(jmp->pre.p, "\x90\x90\x90\x90\x90", 5);
    assert_true(jmp->target >= code->gpa &&
                jmp->target < code->gpa + code->size);
    /* A call (or tail jump) reaches the kernel's memcpy at 0x40000000. */
    for (size_t i = 0; i + 5 <= code->size; i++) {
        if (code->data.p[i] == 0xe8 || code->data.p[i] == 0xe9) {
            int32_t rel;

            memcpy(&rel, code->data.p + i + 1, 4);
            if (code->gpa + i + 5 + (int64_t)rel == 0x40000000)
                found_call = 1;
        }
    }
    assert_true(found_call);
    vrf_pkg_free(&p);
    keys_free(out);

    /* Writable data is refused; so is a compile error; so is a missing
     * symbol. */
    write_text("fix.c", "long hp_fix(void);\nstatic long n;\n"
                        "long hp_fix(void) { return ++n; }\n");
    assert_int_equal(build(manifest, &out, &len, &d), KEYS_ERR_BUILD);
    assert_non_null(strstr(d.text, "writable"));
    write_text("fix.c", "long hp_fix(void) { return }\n");
    assert_int_equal(build(manifest, &out, &len, &d), KEYS_ERR_TOOL);
    write_text("fix.c", "extern long absent_symbol;\nlong hp_fix(void);\n"
                        "long hp_fix(void) { return absent_symbol; }\n");
    assert_int_equal(build(manifest, &out, &len, &d), KEYS_ERR_SYMBOL);
    assert_non_null(strstr(d.text, "absent_symbol"));
}

/* ------------------------------------------------------------------ main */

static int setup(void **state)
{
    const char *t = getenv("TMPDIR");

    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/test_keys-XXXXXX",
             t != NULL && t[0] != '\0' ? t : "/tmp");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[600];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(error_table),
        cmocka_unit_test(write_modes_and_exclusive),
        cmocka_unit_test(keygen_files),
        cmocka_unit_test(load_key_errors),
        cmocka_unit_test(sign_and_verify),
        cmocka_unit_test(crl_issue),
        cmocka_unit_test(elf_reader),
        cmocka_unit_test(build_manifest_errors),
        cmocka_unit_test(build_replace),
        cmocka_unit_test(build_code),
    };

    return cmocka_run_group_tests_name("keys", tests, setup, teardown);
}
