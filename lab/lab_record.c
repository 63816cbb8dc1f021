/* lab_record.c: the kernel-text record: per-page SHA-256 digests and
 * granule hashes of a guest's text, with its symbols, as a versioned JSON
 * file (docs/LIBVIRT.md), written and parsed strictly. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include "lab/lab.h"
#include "lib/lib_hex.h"

#define DIGEST_NAME "sha256"
#define GRANULE_HASH_NAME "fnv1a32-fold16"
#define NAME_MAX_LEN 255u
#define URI_MAX_LEN 1023u
#define SYMBOLS_MAX_SIZE LIB_KSYM_MAX_SIZE

void lab_record_init(struct lab_record *r)
{
    memset(r, 0, sizeof *r);
}

void lab_record_free(struct lab_record *r)
{
    if (r == NULL)
        return;
    free(r->pages);
    free(r->granules);
    lab_symtab_free(&r->syms);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ digest */

uint16_t lab_granule_hash(const uint8_t *p, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a offset basis */

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u; /* FNV prime */
    }
    return (uint16_t)((h >> 16) ^ (h & 0xffffu));
}

static size_t page_len(uint64_t size, size_t page)
{
    uint64_t start = (uint64_t)page * LAB_PAGE_SIZE;

    return size - start < LAB_PAGE_SIZE ? (size_t)(size - start)
                                        : LAB_PAGE_SIZE;
}

/* The granule hashes of one page (short pages: empty granules at the end). */
static void hash_granules(const uint8_t *p, size_t len, uint16_t *out)
{
    for (size_t g = 0; g < LAB_GRANULES; g++) {
        size_t at = g * LAB_GRANULE;
        size_t n = at >= len                ? 0
                   : len - at < LAB_GRANULE ? len - at
                                            : LAB_GRANULE;

        out[g] = lab_granule_hash(p + (n ? at : 0), n);
    }
}

int lab_record_digest(struct lab_record *r, const uint8_t *text)
{
    size_t n;

    if (r == NULL || text == NULL || r->text_size == 0 ||
        r->text_size > LAB_TEXT_MAX_SIZE)
        return LAB_ERR_ARG;
    n = (size_t)((r->text_size + LAB_PAGE_SIZE - 1) / LAB_PAGE_SIZE);
    free(r->pages);
    free(r->granules);
    r->n_pages = 0;
    r->pages = malloc(n * sizeof *r->pages);
    r->granules = malloc(n * LAB_GRANULES * sizeof *r->granules);
    if (r->pages == NULL || r->granules == NULL)
        return LAB_ERR_ALLOC;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = text + i * LAB_PAGE_SIZE;
        size_t len = page_len(r->text_size, i);

        if (mbedtls_sha256_ret(p, len, r->pages[i], 0) != 0)
            return LAB_ERR_CRYPTO;
        hash_granules(p, len, r->granules + i * LAB_GRANULES);
    }
    r->n_pages = n;
    return LAB_OK;
}

/* ------------------------------------------------------------------ encode */

static char *base64(const uint8_t *p, size_t len)
{
    size_t olen = 0;
    char *out;

    mbedtls_base64_encode(NULL, 0, &olen, p, len);
    out = malloc(olen + 1);
    if (out == NULL)
        return NULL;
    if (mbedtls_base64_encode((unsigned char *)out, olen + 1, &olen, p, len) !=
        0) {
        free(out);
        return NULL;
    }
    out[olen] = '\0';
    return out;
}

/* "OFFSET TYPE NAME\n" per symbol, offsets in hex from _text. */
static char *symbols_text(const struct lab_symtab *t)
{
    size_t cap = 1, at = 0;
    char *out;

    for (size_t i = 0; i < t->n; i++)
        cap += 16 + 3 + strlen(t->syms[i].name) + 1;
    out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        at +=
            (size_t)snprintf(out + at, cap - at, "%" PRIx64 " %c %s\n",
                             t->syms[i].off, t->syms[i].type, t->syms[i].name);
    out[at] = '\0';
    return out;
}

static char *hex_string(uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof buf, "0x%" PRIx64, v);
    return strdup(buf);
}

int lab_record_encode(const struct lab_record *r, char **out, size_t *len)
{
    int ret = LAB_ERR_ARG;
    uint8_t *gbytes = NULL;
    char *pages = NULL, *granules = NULL, *syms = NULL, *phys = NULL,
         *virt = NULL;
    size_t ng;
    json_t *root = NULL;

    *out = NULL;
    *len = 0;
    if (r == NULL || r->n_pages == 0 || r->pages == NULL || r->granules == NULL)
        goto cleanup;
    ret = LAB_ERR_ALLOC;
    ng = r->n_pages * LAB_GRANULES;
    gbytes = malloc(ng * 2);
    if (gbytes == NULL)
        goto cleanup;
    for (size_t i = 0; i < ng; i++) { /* little-endian, whatever the host */
        gbytes[2 * i] = (uint8_t)(r->granules[i] & 0xff);
        gbytes[2 * i + 1] = (uint8_t)(r->granules[i] >> 8);
    }
    pages = base64(&r->pages[0][0], r->n_pages * LAB_DIGEST_SIZE);
    granules = base64(gbytes, ng * 2);
    syms = symbols_text(&r->syms);
    phys = hex_string(r->text_phys);
    virt = hex_string(r->text_virt);
    if (pages == NULL || granules == NULL || syms == NULL || phys == NULL ||
        virt == NULL)
        goto cleanup;
    root =
        json_pack("{s:s, s:i, s:s, s:s, s:s, s:{s:s, s:s}, "
                  "s:{s:s, s:s, s:I}, s:i, s:s, s:s, s:i, s:s, s:s, s:s}",
                  "format", LAB_RECORD_FORMAT, "version", LAB_RECORD_VERSION,
                  "taken", r->taken, "host", r->host, "uri", r->uri, "domain",
                  "name", r->domain, "uuid", r->uuid, "text", "phys", phys,
                  "virt", virt, "size", (json_int_t)r->text_size, "page_size",
                  LAB_PAGE_SIZE, "digest", DIGEST_NAME, "pages", pages,
                  "granule_size", LAB_GRANULE, "granule_hash",
                  GRANULE_HASH_NAME, "granules", granules, "symbols", syms);
    if (root == NULL)
        goto cleanup;
    *out = json_dumps(root, JSON_INDENT(2));
    if (*out == NULL)
        goto cleanup;
    *len = strlen(*out);
    ret = LAB_OK;

cleanup:
    json_decref(root);
    free(gbytes);
    free(pages);
    free(granules);
    free(syms);
    free(phys);
    free(virt);
    return ret;
}

/* ------------------------------------------------------------------ parse */

struct parse {
    struct lab_record *r;
    struct lab_diag *d;
};

static int bad(struct parse *p, const char *field, const char *why)
{
    lab_diag_set(p->d, "\"%s\": %s", field, why);
    return LAB_ERR_RECORD;
}

/* The object has exactly these keys. */
static int exact_keys(struct parse *p, json_t *obj, const char *where,
                      const char *const *keys)
{
    const char *key;
    json_t *v;

    for (size_t n = 0; keys[n] != NULL; n++)
        if (json_object_get(obj, keys[n]) == NULL) {
            lab_diag_set(p->d, "%s: missing key \"%s\"", where, keys[n]);
            return LAB_ERR_RECORD;
        }
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;

        while (keys[i] != NULL && strcmp(keys[i], key) != 0)
            i++;
        if (keys[i] == NULL) {
            lab_diag_set(p->d, "%s: unknown key \"%.64s\"", where, key);
            return LAB_ERR_RECORD;
        }
    }
    return LAB_OK;
}

/* A string of min..max bytes without control characters, copied out. */
static int get_text(struct parse *p, json_t *obj, const char *key,
                    const char *field, size_t min, size_t max, char *dst)
{
    json_t *v = json_object_get(obj, key);
    const char *s;
    size_t len;

    if (!json_is_string(v))
        return bad(p, field, "must be a string");
    s = json_string_value(v);
    len = json_string_length(v);
    if (len < min || len > max || strlen(s) != len)
        return bad(p, field, "bad length");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return bad(p, field, "holds a control character");
    memcpy(dst, s, len + 1);
    return LAB_OK;
}

static int get_int(struct parse *p, json_t *obj, const char *key,
                   const char *field, long long lo, long long hi,
                   long long *out)
{
    json_t *v = json_object_get(obj, key);
    char why[96];

    if (!json_is_integer(v) || json_integer_value(v) < lo ||
        json_integer_value(v) > hi) {
        snprintf(why, sizeof why, "must be an integer in %lld..%lld", lo, hi);
        return bad(p, field, why);
    }
    *out = json_integer_value(v);
    return LAB_OK;
}

static int get_const(struct parse *p, json_t *obj, const char *key,
                     const char *want)
{
    json_t *v = json_object_get(obj, key);
    char why[96];

    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0) {
        snprintf(why, sizeof why, "must be \"%s\"", want);
        return bad(p, key, why);
    }
    return LAB_OK;
}

/* "0x" and 1 to 16 lowercase or uppercase hex digits. */
static int get_addr(struct parse *p, json_t *obj, const char *key,
                    const char *field, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    const char *s;
    size_t len;

    if (!json_is_string(v))
        return bad(p, field, "must be a string \"0x...\"");
    s = json_string_value(v);
    len = json_string_length(v);
    if (len < 3 || len > 18 || s[0] != '0' || s[1] != 'x')
        return bad(p, field, "must be \"0x\" and 1 to 16 hex digits");
    if (lib_hex_u64(s + 2, len - 2, out) != 0)
        return bad(p, field, "must be \"0x\" and 1 to 16 hex digits");
    return LAB_OK;
}

/* "YYYY-MM-DDThh:mm:ssZ" */
static int time_ok(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i] != '\0'; i++)
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
            return 0;
    return 1;
}

static int uuid_ok(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];

        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* Canonical base64 of exactly want bytes, decoded into a new buffer. */
static int get_base64(struct parse *p, json_t *obj, const char *key,
                      size_t want, uint8_t **out)
{
    json_t *v = json_object_get(obj, key);
    const char *s;
    size_t len, olen = 0;

    *out = NULL;
    if (!json_is_string(v))
        return bad(p, key, "must be a base64 string");
    s = json_string_value(v);
    len = json_string_length(v);
    if (len != (want + 2) / 3 * 4)
        return bad(p, key, "base64 length does not match text.size");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int pad_ok =
            i >= len - 2 && c == '=' && (i == len - 1 || s[len - 1] == '=');

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/' || pad_ok))
            return bad(p, key, "not canonical base64");
    }
    *out = malloc(want ? want : 1);
    if (*out == NULL)
        return LAB_ERR_ALLOC;
    if (mbedtls_base64_decode(*out, want, &olen, (const unsigned char *)s,
                              len) != 0 ||
        olen != want) {
        free(*out);
        *out = NULL;
        return bad(p, key, "not canonical base64");
    }
    return LAB_OK;
}

/* One "OFFSET TYPE NAME" line of the symbols string. */
static int symbol_line(struct parse *p, const char *s, size_t len,
                       size_t lineno, struct lab_sym *sym, size_t *name_at,
                       size_t *name_len)
{
    size_t i = 0;
    uint64_t off = 0;
    char why[80];

    snprintf(why, sizeof why, "line %zu: expected \"OFFSET TYPE NAME\"",
             lineno);
    while (i < len && i < 17 &&
           ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
        off = off << 4 | (uint64_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
        i++;
    }
    if (i == 0 || i > 16 || i + 3 > len || s[i] != ' ' || s[i + 2] != ' ' ||
        s[i + 1] == '\0' || strchr("tTwW", s[i + 1]) == NULL)
        return bad(p, "symbols", why);
    sym->off = off;
    sym->type = s[i + 1];
    *name_at = i + 3;
    *name_len = len - (i + 3);
    if (*name_len == 0 || *name_len > LAB_SYM_NAME_MAX)
        return bad(p, "symbols", why);
    for (size_t k = *name_at; k < len; k++)
        if ((unsigned char)s[k] <= ' ' || (unsigned char)s[k] > '~')
            return bad(p, "symbols", why);
    return LAB_OK;
}

static int get_symbols(struct parse *p, json_t *obj)
{
    json_t *v = json_object_get(obj, "symbols");
    struct lab_symtab *t = &p->r->syms;
    const char *s;
    size_t len, n = 0, at = 0, lineno = 0;
    char why[96];

    if (!json_is_string(v))
        return bad(p, "symbols", "must be a string");
    s = json_string_value(v);
    len = json_string_length(v);
    if (len > SYMBOLS_MAX_SIZE || strlen(s) != len ||
        (len > 0 && s[len - 1] != '\n'))
        return bad(p, "symbols", "too large, a NUL byte, or no final newline");
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    if (n > LAB_MAX_SYMBOLS)
        return bad(p, "symbols", "more symbols than the limit");
    t->syms = calloc(n ? n : 1, sizeof *t->syms);
    t->names = malloc(len ? len : 1); /* each name + NUL fits its line */
    if (t->syms == NULL || t->names == NULL)
        return LAB_ERR_ALLOC;
    for (const char *l = s; l < s + len; lineno++) {
        const char *nl = memchr(l, '\n', (size_t)(s + len - l));
        struct lab_sym *sym = &t->syms[t->n];
        size_t name_at, name_len;
        int ret = symbol_line(p, l, (size_t)(nl - l), lineno + 1, sym, &name_at,
                              &name_len);

        if (ret != LAB_OK)
            return ret;
        snprintf(why, sizeof why,
                 "line %zu: offset not inside the text, or "
                 "not sorted",
                 lineno + 1);
        if (sym->off >= p->r->text_size ||
            (t->n > 0 && sym->off < t->syms[t->n - 1].off))
            return bad(p, "symbols", why);
        memcpy(t->names + at, l + name_at, name_len);
        t->names[at + name_len] = '\0';
        sym->name = t->names + at;
        at += name_len + 1;
        t->n++;
        l = nl + 1;
    }
    t->names_len = at;
    return LAB_OK;
}

static int parse_text(struct parse *p, json_t *root)
{
    static const char *const text_keys[] = {"phys", "virt", "size", NULL};
    json_t *t = json_object_get(root, "text");
    long long size;
    int ret;

    if (!json_is_object(t))
        return bad(p, "text", "must be an object");
    if ((ret = exact_keys(p, t, "\"text\"", text_keys)) != LAB_OK ||
        (ret = get_addr(p, t, "phys", "text.phys", &p->r->text_phys)) !=
            LAB_OK ||
        (ret = get_addr(p, t, "virt", "text.virt", &p->r->text_virt)) !=
            LAB_OK ||
        (ret = get_int(p, t, "size", "text.size", 1, LAB_TEXT_MAX_SIZE,
                       &size)) != LAB_OK)
        return ret;
    p->r->text_size = (uint64_t)size;
    if (p->r->text_phys > UINT64_MAX - p->r->text_size)
        return bad(p, "text.phys", "phys + size overflows");
    if (p->r->text_virt > UINT64_MAX - p->r->text_size)
        return bad(p, "text.virt", "virt + size overflows");
    p->r->n_pages =
        (size_t)((p->r->text_size + LAB_PAGE_SIZE - 1) / LAB_PAGE_SIZE);
    return LAB_OK;
}

static int parse_identity(struct parse *p, json_t *root)
{
    static const char *const domain_keys[] = {"name", "uuid", NULL};
    json_t *dom = json_object_get(root, "domain");
    int ret;

    if ((ret = get_text(p, root, "taken", "taken", 20, 20, p->r->taken)) !=
        LAB_OK)
        return ret;
    if (!time_ok(p->r->taken))
        return bad(p, "taken", "must be \"YYYY-MM-DDThh:mm:ssZ\"");
    if ((ret = get_text(p, root, "host", "host", 0, NAME_MAX_LEN,
                        p->r->host)) != LAB_OK ||
        (ret = get_text(p, root, "uri", "uri", 0, URI_MAX_LEN, p->r->uri)) !=
            LAB_OK)
        return ret;
    if (!json_is_object(dom))
        return bad(p, "domain", "must be an object");
    if ((ret = exact_keys(p, dom, "\"domain\"", domain_keys)) != LAB_OK ||
        (ret = get_text(p, dom, "name", "domain.name", 1, NAME_MAX_LEN,
                        p->r->domain)) != LAB_OK ||
        (ret = get_text(p, dom, "uuid", "domain.uuid", 36, 36, p->r->uuid)) !=
            LAB_OK)
        return ret;
    if (!uuid_ok(p->r->uuid))
        return bad(p, "domain.uuid",
                   "must be a UUID "
                   "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
    return LAB_OK;
}

static int parse_digests(struct parse *p, json_t *root)
{
    long long v;
    uint8_t *pages = NULL, *g = NULL;
    size_t ng = p->r->n_pages * LAB_GRANULES;
    int ret;

    if ((ret = get_int(p, root, "page_size", "page_size", LAB_PAGE_SIZE,
                       LAB_PAGE_SIZE, &v)) != LAB_OK ||
        (ret = get_const(p, root, "digest", DIGEST_NAME)) != LAB_OK ||
        (ret = get_int(p, root, "granule_size", "granule_size", LAB_GRANULE,
                       LAB_GRANULE, &v)) != LAB_OK ||
        (ret = get_const(p, root, "granule_hash", GRANULE_HASH_NAME)) !=
            LAB_OK ||
        (ret = get_base64(p, root, "pages", p->r->n_pages * LAB_DIGEST_SIZE,
                          &pages)) != LAB_OK)
        goto cleanup;
    p->r->pages = (uint8_t(*)[LAB_DIGEST_SIZE])(void *)pages;
    pages = NULL;
    ret = get_base64(p, root, "granules", ng * 2, &g);
    if (ret != LAB_OK)
        goto cleanup;
    ret = LAB_ERR_ALLOC;
    p->r->granules = malloc(ng * sizeof *p->r->granules);
    if (p->r->granules == NULL)
        goto cleanup;
    for (size_t i = 0; i < ng; i++)
        p->r->granules[i] = (uint16_t)(g[2 * i] | g[2 * i + 1] << 8);
    ret = LAB_OK;

cleanup:
    free(pages);
    free(g);
    return ret;
}

int lab_record_parse(const uint8_t *buf, size_t len, struct lab_record *r,
                     struct lab_diag *d)
{
    static const char *const keys[] = {
        "format",       "version",      "taken",     "host",    "uri",
        "domain",       "text",         "page_size", "digest",  "pages",
        "granule_size", "granule_hash", "granules",  "symbols", NULL};
    struct parse p = {r, d};
    json_error_t jerr;
    json_t *root = NULL, *version;
    int ret = LAB_ERR_ARG;

    if (r == NULL || buf == NULL)
        return LAB_ERR_ARG;
    lab_record_free(r);
    ret = LAB_ERR_RECORD;
    if (len > LAB_RECORD_MAX_SIZE) {
        lab_diag_set(d, "%zu bytes, limit %u", len, LAB_RECORD_MAX_SIZE);
        goto cleanup;
    }
    root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        lab_diag_set(d, "not JSON: line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        goto cleanup;
    }
    if (!json_is_object(root)) {
        lab_diag_set(d, "not a JSON object");
        goto cleanup;
    }
    /* Format and version first: a future version may have other keys. */
    if ((ret = get_const(&p, root, "format", LAB_RECORD_FORMAT)) != LAB_OK)
        goto cleanup;
    version = json_object_get(root, "version");
    if (!json_is_integer(version) ||
        json_integer_value(version) != LAB_RECORD_VERSION) {
        ret = bad(&p, "version",
                  "not 1: a record of another hvpatch "
                  "version (this one reads version 1)");
        goto cleanup;
    }
    if ((ret = exact_keys(&p, root, "record", keys)) != LAB_OK ||
        (ret = parse_identity(&p, root)) != LAB_OK ||
        (ret = parse_text(&p, root)) != LAB_OK ||
        (ret = parse_digests(&p, root)) != LAB_OK)
        goto cleanup;
    ret = get_symbols(&p, root);

cleanup:
    json_decref(root);
    if (ret != LAB_OK)
        lab_record_free(r);
    return ret;
}
