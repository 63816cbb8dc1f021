/* keys_elf.c: a strict reader of ELF64 x86-64 files (the guest image and
 * the patch objects `hvpatch build` compiles): symbols, and the bytes the
 * image loads at a guest-physical address. Every offset, size and string
 * is bounds-checked before use. */
#include <elf.h>
#include <string.h>

#include "keys/keys.h"

/* Is [off, off + size) inside a file of len bytes? */
static int in_file(uint64_t off, uint64_t size, size_t len)
{
    return off <= len && size <= len - off;
}

static void rd_shdr(const struct keys_elf *elf, size_t i, Elf64_Shdr *sh)
{
    memcpy(sh, elf->buf + elf->shoff + i * sizeof *sh, sizeof *sh);
}

static void rd_phdr(const struct keys_elf *elf, size_t i, Elf64_Phdr *ph)
{
    memcpy(ph, elf->buf + elf->phoff + i * sizeof *ph, sizeof *ph);
}

int keys_elf_open(struct keys_elf *elf, const uint8_t *buf, size_t len,
                  struct keys_diag *diag)
{
    int ret = KEYS_ERR_ELF;
    Elf64_Ehdr eh;
    Elf64_Shdr sh, st;

    memset(elf, 0, sizeof *elf);
    elf->buf = buf;
    elf->len = len;

    /* 1. Header: ELF64, little-endian, version 1, x86-64, EXEC or REL. */
    if (len < sizeof eh) {
        keys_diag_set(diag, "shorter than an ELF header");
        goto cleanup;
    }
    memcpy(&eh, buf, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_machine != EM_X86_64 ||
        (eh.e_type != ET_EXEC && eh.e_type != ET_REL)) {
        keys_diag_set(diag, "not an ELF64 x86-64 executable or object");
        goto cleanup;
    }
    elf->type = eh.e_type;

    /* 2. Program and section header tables inside the file. */
    if (eh.e_phnum != 0 &&
        (eh.e_phentsize != sizeof(Elf64_Phdr) ||
         !in_file(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr),
                  len))) {
        keys_diag_set(diag, "program header table outside the file");
        goto cleanup;
    }
    elf->phoff = eh.e_phoff;
    elf->phnum = eh.e_phnum;
    if (eh.e_shnum != 0 &&
        (eh.e_shentsize != sizeof(Elf64_Shdr) ||
         !in_file(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr),
                  len))) {
        keys_diag_set(diag, "section header table outside the file");
        goto cleanup;
    }
    elf->shoff = eh.e_shoff;
    elf->shnum = eh.e_shnum;

    /* 3. Loadable segments' file bytes inside the file. */
    for (size_t i = 0; i < elf->phnum; i++) {
        Elf64_Phdr ph;

        rd_phdr(elf, i, &ph);
        if (ph.p_type == PT_LOAD && (!in_file(ph.p_offset, ph.p_filesz, len) ||
                                     ph.p_filesz > ph.p_memsz ||
                                     ph.p_paddr > UINT64_MAX - ph.p_memsz)) {
            keys_diag_set(diag, "segment %zu malformed", i);
            goto cleanup;
        }
    }

    /* 4. The symbol table (one at most) and its string table, whose last
     *    byte is NUL so every name in it is terminated. */
    for (size_t i = 0; i < elf->shnum; i++) {
        rd_shdr(elf, i, &sh);
        if (sh.sh_type != SHT_SYMTAB)
            continue;
        if (elf->nsyms != 0 || sh.sh_entsize != sizeof(Elf64_Sym) ||
            sh.sh_size % sizeof(Elf64_Sym) != 0 ||
            !in_file(sh.sh_offset, sh.sh_size, len) ||
            sh.sh_link >= elf->shnum) {
            keys_diag_set(diag, "symbol table malformed");
            goto cleanup;
        }
        rd_shdr(elf, sh.sh_link, &st);
        if (st.sh_type != SHT_STRTAB || st.sh_size == 0 ||
            !in_file(st.sh_offset, st.sh_size, len) ||
            buf[st.sh_offset + st.sh_size - 1] != '\0') {
            keys_diag_set(diag, "symbol string table malformed");
            goto cleanup;
        }
        elf->symoff = sh.sh_offset;
        elf->nsyms = (size_t)(sh.sh_size / sizeof(Elf64_Sym));
        elf->stroff = st.sh_offset;
        elf->strsize = (size_t)st.sh_size;
    }
    ret = KEYS_OK;

cleanup:
    return ret;
}

int keys_elf_sym(const struct keys_elf *elf, size_t i, struct keys_sym *s)
{
    Elf64_Sym sym;

    if (i >= elf->nsyms)
        return KEYS_ERR_ELF;
    memcpy(&sym, elf->buf + elf->symoff + i * sizeof sym, sizeof sym);
    if (sym.st_name >= elf->strsize)
        return KEYS_ERR_ELF;
    s->name = (const char *)elf->buf + elf->stroff + sym.st_name;
    s->value = sym.st_value;
    s->size = sym.st_size;
    s->bind = ELF64_ST_BIND(sym.st_info);
    s->type = ELF64_ST_TYPE(sym.st_info);
    s->defined = sym.st_shndx != SHN_UNDEF;
    return KEYS_OK;
}

/* The defined symbol `name` with base <= value < base + size: a global
 * or weak one first, else the only local one. */
int keys_elf_find_in(const struct keys_elf *elf, const char *name,
                     uint64_t base, uint64_t size, struct keys_sym *s,
                     struct keys_diag *diag)
{
    int ret = KEYS_ERR_SYMBOL;
    struct keys_sym cur, local;
    size_t n_local = 0;

    for (size_t i = 1; i < elf->nsyms; i++) {
        if (keys_elf_sym(elf, i, &cur) != KEYS_OK || !cur.defined ||
            strcmp(cur.name, name) != 0 || cur.type == STT_SECTION ||
            cur.type == STT_FILE || cur.value < base ||
            cur.value - base >= size)
            continue;
        if (cur.bind == STB_GLOBAL || cur.bind == STB_WEAK) {
            *s = cur;
            ret = KEYS_OK;
            goto cleanup;
        }
        if (cur.bind == STB_LOCAL) {
            local = cur;
            n_local++;
        }
    }
    if (n_local == 1) {
        *s = local;
        ret = KEYS_OK;
    } else if (n_local > 1) {
        keys_diag_set(diag, "symbol '%s': %zu local symbols of that name", name,
                      n_local);
    } else {
        keys_diag_set(diag, "symbol '%s': not in the image%s", name,
                      base == 0 && size == UINT64_MAX ? "" : " (in range)");
    }

cleanup:
    return ret;
}

int keys_elf_find(const struct keys_elf *elf, const char *name,
                  struct keys_sym *s, struct keys_diag *diag)
{
    return keys_elf_find_in(elf, name, 0, UINT64_MAX, s, diag);
}

int keys_elf_symbolize(const struct keys_elf *elf, uint64_t gpa,
                       struct keys_sym *s)
{
    struct keys_sym cur;

    for (size_t i = 1; i < elf->nsyms; i++) {
        if (keys_elf_sym(elf, i, &cur) != KEYS_OK || !cur.defined ||
            (cur.type != STT_FUNC && cur.type != STT_OBJECT))
            continue;
        if (gpa >= cur.value && gpa - cur.value < (cur.size ? cur.size : 1)) {
            *s = cur;
            return KEYS_OK;
        }
    }
    return KEYS_ERR_SYMBOL;
}

int keys_elf_read_gpa(const struct keys_elf *elf, uint64_t gpa, uint8_t *out,
                      size_t len)
{
    memset(out, 0, len);
    if (gpa > UINT64_MAX - len)
        return KEYS_ERR_ARG;
    for (size_t i = 0; i < elf->phnum; i++) {
        Elf64_Phdr ph;
        uint64_t lo, hi;

        rd_phdr(elf, i, &ph);
        if (ph.p_type != PT_LOAD || ph.p_filesz == 0)
            continue;
        /* Overlap of [gpa, gpa + len) with the file-backed part. */
        lo = gpa > ph.p_paddr ? gpa : ph.p_paddr;
        hi = gpa + len < ph.p_paddr + ph.p_filesz ? gpa + len
                                                  : ph.p_paddr + ph.p_filesz;
        if (lo < hi)
            memcpy(out + (lo - gpa), elf->buf + ph.p_offset + (lo - ph.p_paddr),
                   (size_t)(hi - lo));
    }
    return KEYS_OK;
}
