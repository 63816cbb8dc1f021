/* keys_sysmap.c: a strict parser of a Linux kernel's symbol table in
 * System.map format ("ADDR TYPE NAME" lines: a System.map, or a copy of
 * the running kernel's /proc/kallsyms), for `hvpatch build` of kind
 * "linux". The file comes from wherever the patch author found it, so it
 * is untrusted input: size and line limits, one exact line format, and
 * every rejection names its line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "lib/lib_hex.h"
#include "lib/lib_ksym.h"

/* nm's type letters that kallsyms and System.map use. */
static const char sym_types[] = "AaBbCDdGgiNnpRrSsTtUuVvWw";

static int bad_line(struct keys_diag *d, size_t lineno, const char *why)
{
    keys_diag_set(d, "line %zu: %s", lineno, why);
    return KEYS_ERR_SYSMAP;
}

int keys_sysmap_is_text(char type)
{
    return lib_ksym_is_text(type);
}

/* One symbol line, [p, end) without its newline. *skip is set for a
 * module's symbol ("\t[module]" after the name), which is checked and not
 * kept: modules are not part of the kernel image. */
static int parse_line(const char *p, const char *end, size_t lineno,
                      struct keys_ksym *out, size_t *name_len, int *skip,
                      struct keys_diag *d)
{
    const char *name, *q;
    uint64_t addr = 0;

    *skip = 0;
    if (p == end)
        return bad_line(d, lineno, "empty line");
    if ((size_t)(end - p) > KEYS_SYSMAP_LINE_MAX) {
        keys_diag_set(d, "line %zu: longer than %u bytes", lineno,
                      KEYS_SYSMAP_LINE_MAX);
        return KEYS_ERR_SYSMAP;
    }
    if (end[-1] == '\r')
        return bad_line(d, lineno, "ends in a carriage return (CRLF file?)");
    /* ADDR: exactly 16 lower-case hex digits, as kallsyms and nm print. */
    for (size_t i = 0; i < 16; i++) {
        int v = p + i < end && !(p[i] >= 'A' && p[i] <= 'F')
                    ? lib_hex_digit(p[i])
                    : -1;

        if (v < 0)
            return bad_line(d, lineno,
                            "expected \"ADDR TYPE NAME\" with ADDR 16 "
                            "lower-case hex digits");
        addr = addr << 4 | (uint64_t)v;
    }
    p += 16;
    /* " T " */
    if (end - p < 3 || p[0] != ' ' || p[2] != ' ')
        return bad_line(d, lineno,
                        "expected \"ADDR TYPE NAME\" separated by single "
                        "spaces");
    if (p[1] == '\0' || strchr(sym_types, p[1]) == NULL)
        return bad_line(d, lineno, "unknown symbol type letter");
    out->addr = addr;
    out->type = p[1];
    p += 3;
    /* NAME: printable ASCII, no space. */
    name = p;
    while (p<end && * p> ' ' && *p <= '~')
        p++;
    *name_len = (size_t)(p - name);
    if (*name_len == 0)
        return bad_line(d, lineno, "no symbol name");
    if (*name_len > KEYS_SYSMAP_NAME_MAX) {
        keys_diag_set(d, "line %zu: symbol name longer than %u bytes", lineno,
                      KEYS_SYSMAP_NAME_MAX);
        return KEYS_ERR_SYSMAP;
    }
    out->name = name;
    if (p == end)
        return KEYS_OK;
    /* "\t[module]", as /proc/kallsyms shows a loaded module's symbols. */
    if (*p != '\t' || end - p < 4 || p[1] != '[' || end[-1] != ']')
        return bad_line(d, lineno,
                        "unexpected text after the symbol name (only "
                        "\"\\t[module]\" may follow)");
    for (q = p + 2; q < end - 1; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
              (*q >= '0' && *q <= '9') || *q == '_' || *q == '-'))
            return bad_line(d, lineno, "malformed module name");
    if (end - p - 3 > KEYS_SYSMAP_MODULE_MAX)
        return bad_line(d, lineno, "module name too long");
    *skip = 1;
    return KEYS_OK;
}

/* Sort orders: by address then file position (names are copied in file
 * order, so the pointers say which came first); by name then address. */
static int cmp_addr(const void *a, const void *b)
{
    const struct keys_ksym *x = a, *y = b;

    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;
}

static int cmp_name(const void *a, const void *b, void *syms)
{
    const struct keys_ksym *x =
        (const struct keys_ksym *)syms + *(const size_t *)a;
    const struct keys_ksym *y =
        (const struct keys_ksym *)syms + *(const size_t *)b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return cmp_addr(x, y);
}

int keys_sysmap_parse(const char *buf, size_t len, struct keys_sysmap *m,
                      struct keys_diag *diag)
{
    int ret = KEYS_ERR_ARG;
    const char *p = buf, *end = buf + len;
    size_t lineno = 0, n_lines = 0, at = 0;
    struct lib_ksym_text tb = {0};
    struct lib_ksym_why why;

    if (m == NULL)
        return KEYS_ERR_ARG;
    memset(m, 0, sizeof *m);
    if (buf == NULL)
        goto cleanup;

    /* 1. The file: size, text only, and a first count of lines. */
    ret = KEYS_ERR_SYSMAP;
    if (lib_ksym_check_file(buf, len, &n_lines, &why) != 0) {
        keys_diag_set(diag, "%s", why.text);
        goto cleanup;
    }

    /* 2. Every line; names copied (a NUL after each) in file order. */
    ret = KEYS_ERR_ALLOC;
    m->syms = calloc(n_lines, sizeof *m->syms);
    m->names = malloc(len + 1);
    if (m->syms == NULL || m->names == NULL)
        goto cleanup;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end;
        struct keys_ksym s;
        size_t name_len = 0;
        const char *wrong;
        int skip;

        lineno++;
        ret = parse_line(p, eol, lineno, &s, &name_len, &skip, diag);
        if (ret != KEYS_OK)
            goto cleanup;
        ret = KEYS_ERR_SYSMAP;
        wrong = lib_ksym_note(&tb, s.addr, s.name, name_len, skip);
        if (wrong != NULL) {
            bad_line(diag, lineno, wrong);
            goto cleanup;
        }
        p = nl != NULL ? nl + 1 : end;
        if (skip)
            continue;
        memcpy(m->names + at, s.name, name_len);
        m->names[at + name_len] = '\0';
        s.name = m->names + at;
        at += name_len + 1;
        m->syms[m->n++] = s;
    }

    /* 3. A kernel's table, read with the addresses shown. */
    if (lib_ksym_text_check(&tb, &why) != 0) {
        keys_diag_set(diag, "%s", why.text);
        goto cleanup;
    }
    m->text = tb.text;
    m->etext = tb.etext;
    if (m->etext <= m->text) {
        keys_diag_set(diag, "_etext (0x%llx) is not above _text (0x%llx)",
                      (unsigned long long)m->etext,
                      (unsigned long long)m->text);
        goto cleanup;
    }

    /* 4. Indexes: by address (in place) and by name. */
    ret = KEYS_ERR_ALLOC;
    m->by_name = malloc(m->n * sizeof *m->by_name);
    if (m->by_name == NULL)
        goto cleanup;
    qsort(m->syms, m->n, sizeof *m->syms, cmp_addr);
    for (size_t i = 0; i < m->n; i++)
        m->by_name[i] = i;
    qsort_r(m->by_name, m->n, sizeof *m->by_name, cmp_name, m->syms);
    ret = KEYS_OK;

cleanup:
    if (ret != KEYS_OK)
        keys_sysmap_free(m);
    return ret;
}

int keys_sysmap_load(const char *path, struct keys_sysmap *m,
                     struct keys_diag *diag)
{
    int ret;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct keys_diag d = {""};

    memset(m, 0, sizeof *m);
    ret = keys_read_file(path, KEYS_SYSMAP_MAX_SIZE, &buf, &len, diag);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = keys_sysmap_parse((const char *)buf, len, m, &d);
    if (ret != KEYS_OK)
        keys_diag_set(diag, "%s: %s", path, d.text);

cleanup:
    keys_free(buf);
    return ret;
}

void keys_sysmap_free(struct keys_sysmap *m)
{
    if (m == NULL)
        return;
    free(m->syms);
    free(m->by_name);
    free(m->names);
    memset(m, 0, sizeof *m);
}

/* The first by_name position whose name is not below `name`. */
static size_t name_lower_bound(const struct keys_sysmap *m, const char *name)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(m->syms[m->by_name[mid]].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int keys_sysmap_find(const struct keys_sysmap *m, const char *name,
                     const struct keys_ksym **out, struct keys_diag *diag)
{
    size_t first, last;
    const struct keys_ksym *global = NULL, *local = NULL;
    size_t n_global = 0, n_local = 0;

    *out = NULL;
    if (m == NULL || name == NULL)
        return KEYS_ERR_ARG;
    first = name_lower_bound(m, name);
    for (last = first;
         last < m->n && strcmp(m->syms[m->by_name[last]].name, name) == 0;
         last++) {
        const struct keys_ksym *s = &m->syms[m->by_name[last]];
        int upper = s->type >= 'A' && s->type <= 'Z';

        /* Entries sorted by address: a repeated address is one symbol. */
        if (upper && (global == NULL || global->addr != s->addr)) {
            global = s;
            n_global++;
        } else if (!upper && (local == NULL || local->addr != s->addr)) {
            local = s;
            n_local++;
        }
    }
    if (n_global == 1 || (n_global == 0 && n_local == 1)) {
        *out = n_global == 1 ? global : local;
        return KEYS_OK;
    }
    if (first == last) {
        keys_diag_set(diag, "%s: not in the kernel's symbol table", name);
    } else {
        char at[4 * 24] = "";
        size_t used = 0;

        for (size_t i = first; i < last && i < first + 4; i++)
            used += (size_t)snprintf(
                at + used, sizeof at - used, "%s%llx", i > first ? " " : "",
                (unsigned long long)m->syms[m->by_name[i]].addr);
        keys_diag_set(diag,
                      "%s: ambiguous: %zu %s symbols of that name (at %s%s)",
                      name, n_global > 1 ? n_global : n_local,
                      n_global > 1 ? "global" : "local", at,
                      last - first > 4 ? " ..." : "");
    }
    return KEYS_ERR_SYMBOL;
}

size_t keys_sysmap_lower_bound(const struct keys_sysmap *m, uint64_t addr)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->syms[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
