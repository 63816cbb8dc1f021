/* lab_symbols.c: a guest's symbol map (/proc/kallsyms or System.map, with
 * /proc/iomem's "Kernel code" line) parsed into the kernel text's range
 * and its sorted text symbols, and the nearest-symbol lookup. */
#include <stdlib.h>
#include <string.h>

#include "lab/lab.h"
#include "lib/lib_hex.h"
#include "lib/lib_ksym.h"

/* One map line, as found. */
struct line {
    uint64_t addr;
    char type;
    const char *name;
    size_t name_len;
};

struct scan {
    struct line *syms; /* text-type symbols of the map, any address */
    size_t n, cap;
    struct lib_ksym_text tb;
    struct lab_kmap *m;
    struct lab_diag *d;
    size_t lineno;
};

/* 1 to 16 hex digits at *p; advances *p past them. */
static int parse_hex(const char **p, const char *end, uint64_t *v)
{
    const char *q = *p;

    while (q < end && lib_hex_digit(*q) >= 0)
        q++;
    if (lib_hex_u64(*p, (size_t)(q - *p), v) != 0)
        return -1;
    *p = q;
    return 0;
}

static int name_ok(const char *s, size_t len)
{
    if (len == 0 || len > LAB_SYM_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > '~')
            return 0;
    return 1;
}

static int bad_line(struct scan *s, const char *why)
{
    lab_diag_set(s->d, "line %zu: %s", s->lineno, why);
    return LAB_ERR_MAP;
}

/* "  START-END : NAME" from /proc/iomem; only "Kernel code" is kept. */
static int iomem_line(struct scan *s, const char *p, const char *end)
{
    uint64_t a, b;

    while (p < end && *p == ' ')
        p++;
    if (parse_hex(&p, end, &a) != 0 || p >= end || *p++ != '-' ||
        parse_hex(&p, end, &b) != 0 || end - p < 3 || memcmp(p, " : ", 3) != 0)
        return bad_line(s, "not a kallsyms, System.map or /proc/iomem line");
    p += 3;
    if ((size_t)(end - p) != strlen("Kernel code") ||
        memcmp(p, "Kernel code", (size_t)(end - p)) != 0)
        return LAB_OK;
    if (s->m->have_phys)
        return bad_line(s, "a second \"Kernel code\" line");
    if (a == 0 && b == 0)
        return bad_line(s, "\"Kernel code\" reads 0-0: /proc/iomem was read "
                           "without root; read it as root");
    if (b < a)
        return bad_line(s, "\"Kernel code\" ends before it starts");
    s->m->have_phys = 1;
    s->m->phys_start = a;
    s->m->phys_end = b;
    return LAB_OK;
}

static int push_sym(struct scan *s, uint64_t addr, char type, const char *name,
                    size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        struct line *p = realloc(s->syms, cap * sizeof *p);

        if (p == NULL)
            return LAB_ERR_ALLOC;
        s->syms = p;
        s->cap = cap;
    }
    s->syms[s->n++] = (struct line){addr, type, name, len};
    return LAB_OK;
}

/* "ADDR TYPE NAME" with an optional "\t[module]". */
static int sym_line(struct scan *s, const char *p, const char *end)
{
    uint64_t addr;
    const char *name, *wrong;
    char type;
    int module = 0;

    if (parse_hex(&p, end, &addr) != 0 || p >= end || *p != ' ')
        return bad_line(s, "not a kallsyms, System.map or /proc/iomem line");
    p++;
    if (p >= end || (unsigned char)*p <= ' ' || p + 1 >= end || p[1] != ' ')
        return bad_line(s, "expected \"ADDRESS TYPE NAME\"");
    type = *p;
    p += 2;
    name = p;
    while (p < end && *p != '\t' && *p != ' ')
        p++;
    if (!name_ok(name, (size_t)(p - name)))
        return bad_line(s, "bad symbol name (empty, too long or not "
                           "printable ASCII)");
    if (p < end) {
        const char *q = p;

        while (q < end && (*q == '\t' || *q == ' '))
            q++;
        if (q >= end || *q != '[' || end[-1] != ']' || end - q < 3)
            return bad_line(s, "unexpected text after the symbol name");
        module = 1;
    }
    wrong = lib_ksym_note(&s->tb, addr, name, (size_t)(p - name), module);
    if (wrong != NULL)
        return bad_line(s, wrong);
    if (module || !lib_ksym_is_text(type))
        return LAB_OK;
    return push_sym(s, addr, type, name, (size_t)(p - name));
}

static int one_line(struct scan *s, const char *p, const char *end)
{
    const char *q = p;

    if (end > p && end[-1] == '\r')
        end--;
    if (p == end)
        return LAB_OK;
    /* iomem lines are indented or have '-' right after the first number. */
    if (*p == ' ')
        return iomem_line(s, p, end);
    while (q < end && lib_hex_digit(*q) >= 0)
        q++;
    if (q < end && *q == '-')
        return iomem_line(s, p, end);
    return sym_line(s, p, end);
}

static int cmp_line(const void *a, const void *b)
{
    const struct line *x = a, *y = b;

    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    /* Aliases keep map order: names point into one buffer, in order. */
    return x->name < y->name ? -1 : x->name > y->name;
}

/* Keep the symbols inside [_text, _etext), sorted, names copied. */
static int build_symtab(struct scan *s)
{
    struct lab_symtab *t = &s->m->syms;
    size_t n = 0, bytes = 0, at = 0;

    if (s->n > 0) /* qsort wants a real array even for no elements */
        qsort(s->syms, s->n, sizeof *s->syms, cmp_line);
    for (size_t i = 0; i < s->n; i++)
        if (s->syms[i].addr >= s->tb.text && s->syms[i].addr < s->tb.etext) {
            n++;
            bytes += s->syms[i].name_len + 1;
        }
    if (n > LAB_MAX_SYMBOLS) {
        lab_diag_set(s->d, "%zu text symbols, limit %u", n, LAB_MAX_SYMBOLS);
        return LAB_ERR_MAP;
    }
    t->syms = calloc(n ? n : 1, sizeof *t->syms);
    t->names = malloc(bytes ? bytes : 1);
    if (t->syms == NULL || t->names == NULL)
        return LAB_ERR_ALLOC;
    for (size_t i = 0; i < s->n; i++) {
        const struct line *l = &s->syms[i];

        if (l->addr < s->tb.text || l->addr >= s->tb.etext)
            continue;
        memcpy(t->names + at, l->name, l->name_len);
        t->names[at + l->name_len] = '\0';
        t->syms[t->n++] =
            (struct lab_sym){l->addr - s->tb.text, l->type, t->names + at};
        at += l->name_len + 1;
    }
    t->names_len = bytes;
    return LAB_OK;
}

static int check_layout(struct scan *s)
{
    struct lab_kmap *m = s->m;
    const struct lib_ksym_text *tb = &s->tb;
    struct lib_ksym_why why;

    if (lib_ksym_text_check(tb, &why) != 0) {
        lab_diag_set(s->d, "%s", why.text);
        return LAB_ERR_MAP;
    }
    if (tb->etext <= tb->text || tb->etext - tb->text > LAB_TEXT_MAX_SIZE) {
        lab_diag_set(s->d, "_etext - _text is not in (0, %u] bytes",
                     LAB_TEXT_MAX_SIZE);
        return LAB_ERR_MAP;
    }
    m->text_virt = tb->text;
    m->text_size = tb->etext - tb->text;
    if (m->have_phys && m->phys_end - m->phys_start + 1 != m->text_size) {
        lab_diag_set(s->d,
                     "\"Kernel code\" is %llu bytes but _etext - _text "
                     "is %llu: map and iomem from different boots?",
                     (unsigned long long)(m->phys_end - m->phys_start + 1),
                     (unsigned long long)m->text_size);
        return LAB_ERR_MAP;
    }
    return LAB_OK;
}

int lab_kmap_parse(const char *buf, size_t len, struct lab_kmap *m,
                   struct lab_diag *d)
{
    int ret = LAB_ERR_ARG;
    struct scan s = {.m = m, .d = d};
    struct lib_ksym_why why;
    const char *p = buf, *end = buf + len;
    size_t n_lines;

    if (m == NULL)
        return LAB_ERR_ARG;
    memset(m, 0, sizeof *m);
    if (buf == NULL)
        goto cleanup;
    ret = LAB_ERR_MAP;
    if (lib_ksym_check_file(buf, len, &n_lines, &why) != 0) {
        lab_diag_set(d, "%s", why.text);
        goto cleanup;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;

        s.lineno++;
        ret = one_line(&s, p, eol);
        if (ret != LAB_OK)
            goto cleanup;
        ret = LAB_ERR_MAP;
        p = nl ? nl + 1 : end;
    }
    ret = check_layout(&s);
    if (ret == LAB_OK)
        ret = build_symtab(&s);

cleanup:
    free(s.syms);
    if (ret != LAB_OK)
        lab_kmap_free(m);
    return ret;
}

void lab_kmap_free(struct lab_kmap *m)
{
    if (m == NULL)
        return;
    lab_symtab_free(&m->syms);
    memset(m, 0, sizeof *m);
}

void lab_symtab_free(struct lab_symtab *t)
{
    if (t == NULL)
        return;
    free(t->syms);
    free(t->names);
    memset(t, 0, sizeof *t);
}

const struct lab_sym *lab_symtab_find(const struct lab_symtab *t, uint64_t off)
{
    size_t lo = 0, hi, first;

    if (t == NULL || t->n == 0 || t->syms[0].off > off)
        return NULL;
    hi = t->n; /* invariant: syms[lo].off <= off, syms[hi].off > off */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (t->syms[mid].off <= off)
            lo = mid;
        else
            hi = mid;
    }
    first = lo;
    while (first > 0 && t->syms[first - 1].off == t->syms[lo].off)
        first--;
    for (size_t i = first; i <= lo; i++)
        if (t->syms[i].name[0] != '_')
            return &t->syms[i];
    return &t->syms[first];
}
