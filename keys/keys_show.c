/* keys_show.c: packages for auditors, as text and as JSON: who signed it
 * (as its certificates claim: not verified here) and exactly what each
 * record changes. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "keys/keys_int.h"
#include "lib/lib_hex.h"

#define SHOW_BYTES 16u /* bytes shown before a digest in text output */

void keys_iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "@%lld", (long long)t);
}

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case VRF_REC_REPLACE:
        return "replace";
    case VRF_REC_CODE:
        return "code";
    case VRF_REC_REDIRECT:
        return "redirect";
    default:
        return "?";
    }
}

/* A Linux guest runs its text and patch area at virtual addresses other
 * than their GPAs: a REDIRECT's rel32 is the distance between those, which
 * only the guest's ranges give (the verifier computes it at check 10), so
 * until a package is verified against them the parser's GPA-based jmp is
 * not what would be written. */
static int jmp_between_vas(const struct vrf_pkg *pkg)
{
    return strcmp(pkg->kind, "linux") == 0 && !pkg->signer.verified;
}

#define JMP_VA_NOTE                                                            \
    "e9 rel32 from the site's to the target's virtual address (computed "      \
    "by the verifier from the guest's ranges)"

/* "name+0xoff" for gpa, or "" without an image or symbol. */
static void symbolize(const struct keys_elf *image, uint64_t gpa, char *buf,
                      size_t size)
{
    struct keys_sym s;

    buf[0] = '\0';
    if (image != NULL && keys_elf_symbolize(image, gpa, &s) == KEYS_OK)
        snprintf(buf, size, "%s+0x%" PRIx64, s.name, gpa - s.value);
}

/* What x5chain certificate i claims about itself. */
struct cert_info {
    int ok;
    char subject[256];
    char issuer[256];
    char serial[100];
    char not_before[32];
    char not_after[32];
    uint8_t sha256[32];
    char key[32];
    int is_ca;
    int has_eku;
    int eku_hotpatch;
};

static void cert_info(const struct vrf_bytes *der, struct cert_info *ci)
{
    mbedtls_x509_crt c;

    memset(ci, 0, sizeof *ci);
    mbedtls_sha256_ret(der->p, der->len, ci->sha256, 0);
    mbedtls_x509_crt_init(&c);
    if (mbedtls_x509_crt_parse_der(&c, der->p, der->len) == 0) {
        ci->ok = 1;
        if (mbedtls_x509_dn_gets(ci->subject, sizeof ci->subject, &c.subject) <
            0)
            snprintf(ci->subject, sizeof ci->subject, "?");
        if (mbedtls_x509_dn_gets(ci->issuer, sizeof ci->issuer, &c.issuer) < 0)
            snprintf(ci->issuer, sizeof ci->issuer, "?");
        if (mbedtls_x509_serial_gets(ci->serial, sizeof ci->serial, &c.serial) <
            0)
            snprintf(ci->serial, sizeof ci->serial, "?");
        keys_iso_time(vrf_x509_time_to_epoch(&c.valid_from), ci->not_before);
        keys_iso_time(vrf_x509_time_to_epoch(&c.valid_to), ci->not_after);
        if (mbedtls_pk_get_type(&c.pk) == MBEDTLS_PK_ECKEY) {
            const mbedtls_ecp_curve_info *cv =
                mbedtls_ecp_curve_info_from_grp_id(mbedtls_pk_ec(c.pk)->grp.id);

            snprintf(ci->key, sizeof ci->key, "EC %s",
                     cv != NULL ? cv->name : "?");
        } else {
            snprintf(ci->key, sizeof ci->key, "%s", mbedtls_pk_get_name(&c.pk));
        }
        ci->is_ca = c.ca_istrue;
        ci->has_eku = (c.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) != 0;
        for (const mbedtls_x509_sequence *q = &c.ext_key_usage;
             ci->has_eku && q != NULL; q = q->next)
            if (q->buf.len == VRF_EKU_OID_LEN &&
                memcmp(q->buf.p, VRF_EKU_OID, VRF_EKU_OID_LEN) == 0)
                ci->eku_hotpatch = 1;
    }
    mbedtls_x509_crt_free(&c);
}

/* ------------------------------------------------------------------ JSON */

static int set_hex(json_t *o, const char *key, const uint8_t *p, size_t len)
{
    char *h = lib_hex_alloc(p, len);
    int r = h == NULL ? -1 : json_object_set_new(o, key, json_string(h));

    free(h);
    return r;
}

static int set_addr(json_t *o, const char *key, uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof buf, "0x%" PRIx64, v);
    return json_object_set_new(o, key, json_string(buf));
}

json_t *keys_pkg_json(const struct vrf_pkg *pkg, const uint8_t *raw,
                      size_t raw_len, const struct keys_elf *image)
{
    json_t *o = json_object(), *a, *r, *certs;
    uint8_t digest[32];
    char sym[160];
    int bad = o == NULL;

    mbedtls_sha256_ret(raw, raw_len, digest, 0);
    bad |=
        json_object_set_new(o, "format", json_integer((json_int_t)pkg->format));
    bad |= json_object_set_new(o, "size", json_integer((json_int_t)raw_len));
    bad |= set_hex(o, "sha256", digest, sizeof digest);
    bad |= json_object_set_new(o, "id", json_string(pkg->id));
    bad |= json_object_set_new(o, "title", json_string(pkg->title));
    a = json_array();
    for (size_t i = 0; a != NULL && i < pkg->n_cves; i++)
        bad |= json_array_append_new(a, json_string(pkg->cves[i]));
    bad |= json_object_set_new(o, "cves", a);
    bad |= json_object_set_new(o, "publisher", json_string(pkg->publisher));
    r = json_object();
    bad |= r == NULL;
    if (r != NULL) {
        bad |= json_object_set_new(r, "kind", json_string(pkg->kind));
        bad |= set_hex(r, "baseline_sha256", pkg->baseline, VRF_BASELINE_SIZE);
    }
    bad |= json_object_set_new(o, "target", r);
    bad |= json_object_set_new(o, "sequence",
                               json_integer((json_int_t)pkg->sequence));

    /* Envelope and signer: what the certificates say. */
    r = json_object();
    certs = json_array();
    bad |= r == NULL || certs == NULL;
    if (r != NULL && certs != NULL) {
        bad |= json_object_set_new(r, "signed", json_boolean(pkg->is_signed));
        bad |= json_object_set_new(r, "algorithm", json_string("ES384"));
        bad |= json_object_set_new(r, "verified",
                                   json_boolean(pkg->signer.verified));
        if (pkg->signer.verified)
            bad |= json_object_set_new(r, "anchor",
                                       json_string(pkg->signer.anchor));
        for (size_t i = 0; i < pkg->n_certs; i++) {
            struct cert_info ci;
            json_t *c = json_object();

            cert_info(&pkg->certs[i], &ci);
            bad |= c == NULL;
            if (c == NULL)
                continue;
            bad |= json_object_set_new(c, "parses", json_boolean(ci.ok));
            bad |= set_hex(c, "sha256", ci.sha256, sizeof ci.sha256);
            if (ci.ok) {
                bad |=
                    json_object_set_new(c, "subject", json_string(ci.subject));
                bad |= json_object_set_new(c, "issuer", json_string(ci.issuer));
                bad |= json_object_set_new(c, "serial", json_string(ci.serial));
                bad |= json_object_set_new(c, "not_before",
                                           json_string(ci.not_before));
                bad |= json_object_set_new(c, "not_after",
                                           json_string(ci.not_after));
                bad |= json_object_set_new(c, "key", json_string(ci.key));
                bad |= json_object_set_new(c, "ca", json_boolean(ci.is_ca));
                bad |= json_object_set_new(c, "eku_hotpatch_signing",
                                           json_boolean(ci.eku_hotpatch));
            }
            bad |= json_array_append_new(certs, c);
        }
        bad |= json_object_set_new(r, "x5chain", certs);
        bad |= set_hex(r, "signature", pkg->signature.p, pkg->signature.len);
    } else {
        json_decref(certs);
    }
    bad |= json_object_set_new(o, "signature", r);

    /* Records: every byte. */
    a = json_array();
    bad |= a == NULL;
    for (size_t i = 0; a != NULL && i < pkg->n_records; i++) {
        const struct vrf_record *rec = &pkg->records[i];

        r = json_object();
        bad |= r == NULL;
        if (r == NULL)
            continue;
        bad |=
            json_object_set_new(r, "kind", json_string(kind_name(rec->kind)));
        bad |= set_addr(r, "gpa", rec->gpa);
        bad |=
            json_object_set_new(r, "size", json_integer((json_int_t)rec->size));
        symbolize(image, rec->gpa, sym, sizeof sym);
        if (sym[0] != '\0')
            bad |= json_object_set_new(r, "symbol", json_string(sym));
        if (rec->kind != VRF_REC_CODE)
            bad |= set_hex(r, "pre_image", rec->pre.p, rec->pre.len);
        else
            bad |= json_object_set_new(r, "pre_image", json_string("zero"));
        if (rec->kind == VRF_REC_REDIRECT && jmp_between_vas(pkg))
            bad |=
                json_object_set_new(r, "new_bytes", json_string(JMP_VA_NOTE));
        else
            bad |= set_hex(r, "new_bytes", rec->data.p, rec->data.len);
        if (rec->kind == VRF_REC_REDIRECT) {
            bad |= set_addr(r, "target", rec->target);
            symbolize(image, rec->target, sym, sizeof sym);
            if (sym[0] != '\0')
                bad |=
                    json_object_set_new(r, "target_symbol", json_string(sym));
        }
        bad |= json_array_append_new(a, r);
    }
    bad |= json_object_set_new(o, "records", a);
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* ------------------------------------------------------------------ text */

static void print_bytes(FILE *f, const char *label, const uint8_t *p,
                        size_t len)
{
    uint8_t d[32];
    char *h = lib_hex_alloc(p, len < SHOW_BYTES ? len : SHOW_BYTES);

    fprintf(f, "      %-10s %s", label, h != NULL ? h : "?");
    if (len > SHOW_BYTES) {
        char *dh;

        mbedtls_sha256_ret(p, len, d, 0);
        dh = lib_hex_alloc(d, sizeof d);
        fprintf(f, "... (%zu bytes, sha256 %s)", len, dh != NULL ? dh : "?");
        free(dh);
    }
    fputc('\n', f);
    free(h);
}

void keys_pkg_print(FILE *f, const struct vrf_pkg *pkg, const uint8_t *raw,
                    size_t raw_len, const struct keys_elf *image)
{
    uint8_t digest[32];
    char *h;
    char sym[160];

    mbedtls_sha256_ret(raw, raw_len, digest, 0);
    h = lib_hex_alloc(digest, sizeof digest);
    fprintf(f, "package    %s  (format %" PRIu64 ", %zu bytes, sha256 %s)\n",
            pkg->id, pkg->format, raw_len, h != NULL ? h : "?");
    free(h);
    fprintf(f, "title      %s\n", pkg->title);
    fprintf(f, "cves      ");
    if (pkg->n_cves == 0)
        fprintf(f, " (none)");
    for (size_t i = 0; i < pkg->n_cves; i++)
        fprintf(f, " %s", pkg->cves[i]);
    fprintf(f, "\npublisher  %s\n", pkg->publisher);
    h = lib_hex_alloc(pkg->baseline, VRF_BASELINE_SIZE);
    fprintf(f, "target     kind %s, image sha256 %s\n", pkg->kind,
            h != NULL ? h : "?");
    free(h);
    fprintf(f, "sequence   %" PRIu64 "\n", pkg->sequence);

    if (!pkg->is_signed) {
        fprintf(f, "signature  none (unsigned: hvpatch sign it)\n");
    } else {
        fprintf(f, "signature  ES384 by the chain below, %s\n",
                pkg->signer.verified
                    ? "VERIFIED"
                    : "NOT verified here (hvpatch verify checks it)");
        if (pkg->signer.verified)
            fprintf(f, "  anchor   %s\n", pkg->signer.anchor);
        for (size_t i = 0; i < pkg->n_certs; i++) {
            struct cert_info ci;

            cert_info(&pkg->certs[i], &ci);
            h = lib_hex_alloc(ci.sha256, sizeof ci.sha256);
            fprintf(f, "  cert %zu   %s\n", i,
                    i == 0 ? "(signer)" : "(intermediate)");
            if (!ci.ok) {
                fprintf(f, "      does not parse (sha256 %s)\n",
                        h != NULL ? h : "?");
                free(h);
                continue;
            }
            fprintf(f, "      subject    %s\n", ci.subject);
            fprintf(f, "      issuer     %s\n", ci.issuer);
            fprintf(f, "      serial     %s\n", ci.serial);
            fprintf(f, "      valid      %s to %s\n", ci.not_before,
                    ci.not_after);
            fprintf(f, "      key        %s%s\n", ci.key,
                    ci.is_ca ? ", CA" : "");
            if (i == 0)
                fprintf(f, "      eku        %s\n",
                        ci.eku_hotpatch ? "hot patch signing (" VRF_EKU_OID_TEXT
                                          ")"
                        : ci.has_eku ? "present, WITHOUT hot patch signing"
                                     : "absent");
            fprintf(f, "      sha256     %s\n", h != NULL ? h : "?");
            free(h);
        }
    }

    fprintf(f, "records    %zu\n", pkg->n_records);
    for (size_t i = 0; i < pkg->n_records; i++) {
        const struct vrf_record *r = &pkg->records[i];

        symbolize(image, r->gpa, sym, sizeof sym);
        fprintf(f, "  [%zu] %-8s gpa 0x%" PRIx64 "%s%s%s, %" PRIu64 " bytes\n",
                i, kind_name(r->kind), r->gpa, sym[0] ? " (" : "", sym,
                sym[0] ? ")" : "", r->size);
        if (r->kind == VRF_REC_CODE)
            fprintf(f, "      %-10s all zero (fresh patch area)\n",
                    "pre-image");
        else
            print_bytes(f, "pre-image", r->pre.p, r->pre.len);
        if (r->kind == VRF_REC_REDIRECT && jmp_between_vas(pkg))
            fprintf(f, "      %-10s %s\n", "jmp", JMP_VA_NOTE);
        else
            print_bytes(f, r->kind == VRF_REC_REDIRECT ? "jmp" : "new",
                        r->data.p, r->data.len);
        if (r->kind == VRF_REC_REDIRECT) {
            symbolize(image, r->target, sym, sizeof sym);
            fprintf(f, "      %-10s 0x%" PRIx64 "%s%s%s\n", "target", r->target,
                    sym[0] ? " (" : "", sym, sym[0] ? ")" : "");
        }
    }
}
