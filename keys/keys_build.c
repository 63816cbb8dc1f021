/* keys_build.c: `hvpatch build`: an unsigned package from a JSON manifest
 * and the C code it names. The code is compiled freestanding with the
 * guest's flags and linked at a patch-area address, its calls into the
 * guest resolved from the guest's symbol table; each redirect is a 5-byte
 * `jmp rel32` over a function entry whose pre-image is the entry's NOP pad
 * as the guest holds it: for the demo guest, the pad in its image; for a
 * Linux guest (kind "linux"), the function's ftrace site, which the
 * running kernel has turned into a 5-byte NOP (keys_linux.c).
 * docs/FORMAT.md describes the manifest. */
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/sha256.h>

#include "keys/keys.h"
#include "lib/hv_abi.h"
#include "lib/lib_hex.h"

#define MANIFEST_MAX (64u << 10)
#define IMAGE_MAX (64u << 20)
#define OBJ_MAX (16u << 20)
#define MAX_SOURCES 16u
#define MAX_CFLAGS 32u
#define MAX_REDIRECTS 64u
#define MAX_REPLACE 64u
#define MAX_DEFSYMS 256u
#define MAX_ARGS (64u + MAX_SOURCES + MAX_CFLAGS + MAX_DEFSYMS)

/* The demo guest's own flags, from the list the Makefile builds it with. */
static const char *const guest_cflags[] = {
#define GUEST_CFLAG(flag) flag,
#include "guest/guest_cflags.h"
#undef GUEST_CFLAG
};

/* Kind "linux": the kernel's own code-generation flags where they matter
 * to code running inside it (arch/x86/Makefile, the top Makefile):
 *   -mcmodel=kernel: linked in the top 2 GiB, where the kernel and the
 *     patch area (HV_LINUX_PATCH_VA) are, absolute addresses sign-extended;
 *   -mno-red-zone, -mgeneral-regs-only, -mpreferred-stack-boundary=3:
 *     interrupts push onto the current stack, no FPU/SSE state in the
 *     kernel, 8-byte stack alignment as the kernel keeps it;
 *   -mindirect-branch=thunk-extern, -mindirect-branch-register,
 *   -mfunction-return=thunk-extern, -fno-jump-tables: indirect branches
 *     and returns through the kernel's retpoline and return thunks
 *     (CONFIG_RETPOLINE, CONFIG_RETHUNK), resolved like any other kernel
 *     symbol; a kernel without them needs "-mindirect-branch=keep
 *     -mfunction-return=keep" in code.cflags;
 *   -fno-strict-aliasing, -fno-strict-overflow,
 *     -fno-delete-null-pointer-checks, -fno-common: the C dialect kernel
 *     code is written in (gnu11);
 *   -fno-stack-protector: the kernel's canary lives in per-CPU data;
 *   -fcf-protection=none: the patch is entered by `jmp rel32`, not by an
 *     indirect branch, so it needs no endbr64.
 * No -fpatchable-function-entry: the patch's own functions are not
 * redirect sites. */
static const char *const linux_cflags[] = {
    "-std=gnu11",
    "-O2",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-ffreestanding",
    "-nostdlib",
    "-fno-builtin",
    "-fno-pic",
    "-fno-pie",
    "-mcmodel=kernel",
    "-mno-red-zone",
    "-mgeneral-regs-only",
    "-mpreferred-stack-boundary=3",
    "-mindirect-branch=thunk-extern",
    "-mindirect-branch-register",
    "-mfunction-return=thunk-extern",
    "-fno-jump-tables",
    "-fno-strict-aliasing",
    "-fno-strict-overflow",
    "-fno-delete-null-pointer-checks",
    "-fno-common",
    "-fno-stack-protector",
    "-fcf-protection=none",
    "-fno-asynchronous-unwind-tables",
};

/* A single PT_LOAD, read and execute, at the patch-area address; no
 * writable section may have contents (the patch area is read-only to the
 * guest), and the pad table and notes are dropped. */
static const char linker_script[] =
    "PHDRS { patch PT_LOAD FLAGS(5); }\n"
    "SECTIONS {\n"
    "  . = %s;\n"
    "  .text : { *(.text .text.*) } :patch\n"
    "  .rodata : { *(.rodata .rodata.*) } :patch\n"
    "  .data : { *(.data .data.*) } :patch\n"
    "  .bss : { *(.bss .bss.* COMMON) } :patch\n"
    "  /DISCARD/ : { *(__patchable_function_entries) *(.comment)\n"
    "                *(.note .note.*) *(.eh_frame .eh_frame_hdr) }\n"
    "}\n";

struct redirect {
    const char *function;
    const char *to;
};

struct replace {
    const char *symbol; /* or NULL: gpa given */
    uint64_t offset;
    uint64_t gpa;
    uint8_t *bytes;
    size_t len;
    uint8_t *pre;
};

struct build {
    struct keys_diag *diag;
    char dir[PATH_MAX]; /* the manifest's directory */
    char tmp[PATH_MAX]; /* scratch directory, "" if none */
    json_t *root;
    struct vrf_pkg pkg; /* payload fields and records being built */
    char image_path[PATH_MAX];
    uint8_t *image;
    size_t image_len;
    struct keys_elf gelf;
    /* kind "linux": the kernel and its symbol table (image unused) */
    int is_linux;
    char symbols_path[PATH_MAX];
    struct keys_kernel kern;
    /* code */
    int has_code;
    uint64_t area;     /* GPA of the code (the CODE record) */
    uint64_t link;     /* the code's virtual address, where it is linked */
    uint64_t area_max; /* bytes from area to the end of its patch area */
    int area_domain;   /* -1: unknown (not a demo guest) */
    const char *sources[MAX_SOURCES];
    size_t n_sources;
    const char *cflags[MAX_CFLAGS];
    size_t n_cflags;
    uint8_t *patch_elf;
    size_t patch_elf_len;
    struct keys_elf pelf;
    uint8_t *code;
    size_t code_len;
    /* records */
    struct redirect redirects[MAX_REDIRECTS];
    size_t n_redirects;
    struct replace replaces[MAX_REPLACE];
    size_t n_replaces;
    uint8_t redirect_pre[MAX_REDIRECTS][VRF_REDIRECT_SIZE];
};

/* ------------------------------------------------------------------ manifest
 */

static int mf_fail(struct build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int mf_fail(struct build *b, const char *fmt, ...)
{
    va_list ap;

    if (b->diag != NULL) {
        va_start(ap, fmt);
        vsnprintf(b->diag->text, sizeof b->diag->text, fmt, ap);
        va_end(ap);
    }
    return KEYS_ERR_MANIFEST;
}

/* Every key of object o is one of `allowed` (NULL-terminated). */
static int only_keys(struct build *b, json_t *o, const char *where,
                     const char *const *allowed)
{
    const char *key;
    json_t *v;

    json_object_foreach(o, key, v)
    {
        size_t i;

        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(key, allowed[i]) == 0)
                break;
        if (allowed[i] == NULL)
            return mf_fail(b, "%s: unknown key \"%s\"", where, key);
    }
    return KEYS_OK;
}

static int get_string(struct build *b, json_t *o, const char *where,
                      const char *key, int required, const char **out)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (v == NULL)
        return required ? mf_fail(b, "%s: \"%s\" missing", where, key)
                        : KEYS_OK;
    if (!json_is_string(v))
        return mf_fail(b, "%s: \"%s\" must be a string", where, key);
    *out = json_string_value(v);
    return KEYS_OK;
}

/* "0x..." (hex) or decimal digits, the whole string, into a uint64. */
static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    int base = 10;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    *v = strtoull(s, &end, base);
    return errno == 0 && *end == '\0' ? 0 : -1;
}

/* Hex digits, optionally separated by spaces, into a new buffer. */
static int parse_hex(const char *s, uint8_t **out, size_t *len)
{
    size_t n = 0, cap = strlen(s) / 2 + 1;
    uint8_t *p = malloc(cap);
    int hi = -1;

    *out = NULL;
    *len = 0;
    if (p == NULL)
        return KEYS_ERR_ALLOC;
    for (; *s != '\0'; s++) {
        int d = lib_hex_digit(*s);

        if (*s == ' ' && hi < 0)
            continue;
        if (d < 0)
            break;
        if (hi < 0) {
            hi = d;
        } else {
            p[n++] = (uint8_t)(hi << 4 | d);
            hi = -1;
        }
    }
    if (*s != '\0' || hi >= 0 || n == 0) {
        free(p);
        return KEYS_ERR_MANIFEST;
    }
    *out = p;
    *len = n;
    return KEYS_OK;
}

/* "a/b" relative to the manifest's directory, or absolute as given. */
static int manifest_path(struct build *b, const char *rel, char *out,
                         size_t size)
{
    int n = rel[0] == '/' ? snprintf(out, size, "%s", rel)
                          : snprintf(out, size, "%s/%s", b->dir, rel);

    return n < 0 || (size_t)n >= size ? mf_fail(b, "path too long: %s", rel)
                                      : KEYS_OK;
}

static int copy_text(struct build *b, const char *where, const char *s,
                     char *out, size_t max)
{
    if (strlen(s) > max)
        return mf_fail(b, "%s: longer than %zu bytes", where, max);
    memcpy(out, s, strlen(s) + 1);
    return KEYS_OK;
}

static int parse_manifest(struct build *b, const char *path,
                          const char *image_override,
                          const char *symbols_override)
{
    int ret;
    uint8_t *text = NULL;
    size_t len = 0;
    json_error_t jerr;
    json_t *v, *t, *c, *item;
    const char *s, *img = NULL, *area = NULL, *syms = NULL;
    size_t i;
    static const char *const top_keys[] = {
        "format", "id",   "title",     "cves",    "publisher", "sequence",
        "target", "code", "redirects", "replace", NULL};
    static const char *const target_keys[] = {"kind", "image", "symbols", NULL};
    static const char *const code_keys[] = {"sources", "area", "cflags", NULL};
    static const char *const redirect_keys[] = {"function", "to", NULL};
    static const char *const replace_keys[] = {"symbol", "offset", "gpa",
                                               "bytes", NULL};

    ret = keys_read_file(path, MANIFEST_MAX, &text, &len, b->diag);
    if (ret != KEYS_OK)
        goto cleanup;
    /* Duplicate keys are an error, as in the package format. */
    b->root =
        json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (b->root == NULL) {
        ret = mf_fail(b, "line %d column %d: %s", jerr.line, jerr.column,
                      jerr.text);
        goto cleanup;
    }
    ret = mf_fail(b, "top level must be an object");
    if (!json_is_object(b->root))
        goto cleanup;
    ret = only_keys(b, b->root, "manifest", top_keys);
    if (ret != KEYS_OK)
        goto cleanup;

    /* Identity. */
    v = json_object_get(b->root, "format");
    ret = mf_fail(b, "\"format\": must be %u", VRF_FORMAT_VERSION);
    if (!json_is_integer(v) || json_integer_value(v) != VRF_FORMAT_VERSION)
        goto cleanup;
    b->pkg.format = VRF_FORMAT_VERSION;
    if ((ret = get_string(b, b->root, "manifest", "id", 1, &s)) != KEYS_OK ||
        (ret = copy_text(b, "\"id\"", s, b->pkg.id, VRF_ID_MAX)) != KEYS_OK ||
        (ret = get_string(b, b->root, "manifest", "title", 1, &s)) != KEYS_OK ||
        (ret = copy_text(b, "\"title\"", s, b->pkg.title, VRF_TITLE_MAX)) !=
            KEYS_OK ||
        (ret = get_string(b, b->root, "manifest", "publisher", 1, &s)) !=
            KEYS_OK ||
        (ret = copy_text(b, "\"publisher\"", s, b->pkg.publisher,
                         VRF_PUBLISHER_MAX)) != KEYS_OK)
        goto cleanup;
    v = json_object_get(b->root, "cves");
    if (v != NULL) {
        ret = mf_fail(b, "\"cves\": an array of at most %u strings",
                      VRF_MAX_CVES);
        if (!json_is_array(v) || json_array_size(v) > VRF_MAX_CVES)
            goto cleanup;
        json_array_foreach(v, i, item)
        {
            if (!json_is_string(item) ||
                copy_text(b, "\"cves\"", json_string_value(item),
                          b->pkg.cves[i], VRF_CVE_MAX) != KEYS_OK)
                goto cleanup;
        }
        b->pkg.n_cves = json_array_size(v);
    }
    v = json_object_get(b->root, "sequence");
    ret = mf_fail(b, "\"sequence\": a positive integer");
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        goto cleanup;
    b->pkg.sequence = (uint64_t)json_integer_value(v);

    /* Target. */
    t = json_object_get(b->root, "target");
    ret = mf_fail(b, "\"target\": an object {\"kind\", \"image\"}");
    if (!json_is_object(t))
        goto cleanup;
    if ((ret = only_keys(b, t, "target", target_keys)) != KEYS_OK ||
        (ret = get_string(b, t, "target", "kind", 1, &s)) != KEYS_OK ||
        (ret = copy_text(b, "\"target.kind\"", s, b->pkg.kind, VRF_KIND_MAX)) !=
            KEYS_OK ||
        (ret = get_string(b, t, "target", "image", 1, &img)) != KEYS_OK ||
        (ret = get_string(b, t, "target", "symbols", 0, &syms)) != KEYS_OK)
        goto cleanup;
    /* A Linux kernel's code and redirects need its symbol table. Without
     * one, kind "linux" is a plain ELF image with in-place replacements
     * only (the libvirt lab's raw-GPA packages, docs/FORMAT.md). */
    int linux_kind = strcmp(b->pkg.kind, "linux") == 0;
    int wants_code = json_object_get(b->root, "code") != NULL ||
                     json_object_get(b->root, "redirects") != NULL;
    ret = mf_fail(b, "\"target.symbols\": %s",
                  linux_kind ? "required for kind \"linux\" code and "
                               "redirects (System.map or a copy of "
                               "/proc/kallsyms)"
                             : "only for kind \"linux\"");
    if ((syms != NULL && !linux_kind) ||
        (linux_kind && wants_code && syms == NULL))
        goto cleanup;
    b->is_linux = linux_kind && syms != NULL;
    if (b->is_linux) {
        ret = symbols_override != NULL
                  ? (snprintf(b->symbols_path, sizeof b->symbols_path, "%s",
                              symbols_override) >= (int)sizeof b->symbols_path
                         ? mf_fail(b, "symbols path too long")
                         : KEYS_OK)
                  : manifest_path(b, syms, b->symbols_path,
                                  sizeof b->symbols_path);
        if (ret != KEYS_OK)
            goto cleanup;
    }
    if (image_override != NULL) {
        ret = snprintf(b->image_path, sizeof b->image_path, "%s",
                       image_override) >= (int)sizeof b->image_path
                  ? mf_fail(b, "image path too long")
                  : KEYS_OK;
    } else {
        ret = manifest_path(b, img, b->image_path, sizeof b->image_path);
    }
    if (ret != KEYS_OK)
        goto cleanup;

    /* Code. */
    c = json_object_get(b->root, "code");
    if (c != NULL) {
        ret = mf_fail(b, "\"code\": an object {\"sources\", \"area\"}");
        if (!json_is_object(c))
            goto cleanup;
        if ((ret = only_keys(b, c, "code", code_keys)) != KEYS_OK ||
            (ret = get_string(b, c, "code", "area", 1, &area)) != KEYS_OK)
            goto cleanup;
        v = json_object_get(c, "sources");
        ret = mf_fail(b, "\"code.sources\": 1 to %u file names", MAX_SOURCES);
        if (!json_is_array(v) || json_array_size(v) == 0 ||
            json_array_size(v) > MAX_SOURCES)
            goto cleanup;
        json_array_foreach(v, i, item)
        {
            if (!json_is_string(item))
                goto cleanup;
            b->sources[i] = json_string_value(item);
        }
        b->n_sources = json_array_size(v);
        v = json_object_get(c, "cflags");
        if (v != NULL) {
            ret = mf_fail(b, "\"code.cflags\": at most %u strings", MAX_CFLAGS);
            if (!json_is_array(v) || json_array_size(v) > MAX_CFLAGS)
                goto cleanup;
            json_array_foreach(v, i, item)
            {
                if (!json_is_string(item))
                    goto cleanup;
                b->cflags[i] = json_string_value(item);
            }
            b->n_cflags = json_array_size(v);
        }
        b->has_code = 1;
        b->area_domain = -1;
        b->area_max = HV_PROT_PART_SIZE;
        if (b->is_linux) {
            /* One patch area, the kernel's: "kernel" is its start; an
             * address (a GPA, as records are) lets packages share it. */
            ret = mf_fail(
                b,
                "\"code.area\": \"kernel\" or an address "
                "\"0x...\" in the Linux patch area [0x%llx, "
                "0x%llx)",
                (unsigned long long)HV_PROT_BASE,
                (unsigned long long)(HV_PROT_BASE + HV_LINUX_PATCH_SIZE));
            if (strcmp(area, "kernel") == 0)
                b->area = HV_PROT_BASE;
            else if (parse_u64(area, &b->area) != 0 || b->area < HV_PROT_BASE ||
                     b->area - HV_PROT_BASE >= HV_LINUX_PATCH_SIZE)
                goto cleanup;
            b->link = HV_LINUX_PATCH_VA + (b->area - HV_PROT_BASE);
            b->area_max = HV_LINUX_PATCH_SIZE - (b->area - HV_PROT_BASE);
        } else if (strcmp(b->pkg.kind, "demo") == 0 &&
                   strcmp(area, "kernel") == 0) {
            b->area = HV_PROT_KPATCH;
            b->area_domain = 0;
        } else if (strcmp(b->pkg.kind, "demo") == 0 &&
                   strcmp(area, "user") == 0) {
            b->area = HV_PROT_UPATCH;
            b->area_domain = 1;
        } else if (parse_u64(area, &b->area) != 0) {
            ret = mf_fail(b, "\"code.area\": \"kernel\", \"user\" (demo "
                             "guest) or an address \"0x...\"");
            goto cleanup;
        }
        if (!b->is_linux)
            b->link = b->area; /* the demo guest runs at VA == GPA */
        if (b->area_max > VRF_MAX_RECORD_SIZE)
            b->area_max = VRF_MAX_RECORD_SIZE;
    }

    /* Redirects. */
    v = json_object_get(b->root, "redirects");
    if (v != NULL) {
        ret = mf_fail(b,
                      "\"redirects\": at most %u objects {\"function\", "
                      "\"to\"}",
                      MAX_REDIRECTS);
        if (!json_is_array(v) || json_array_size(v) > MAX_REDIRECTS)
            goto cleanup;
        json_array_foreach(v, i, item)
        {
            ret = mf_fail(b, "\"redirects[%zu]\": an object", i);
            if (!json_is_object(item))
                goto cleanup;
            if ((ret = only_keys(b, item, "redirects[]", redirect_keys)) !=
                    KEYS_OK ||
                (ret = get_string(b, item, "redirects[]", "function", 1,
                                  &b->redirects[i].function)) != KEYS_OK ||
                (ret = get_string(b, item, "redirects[]", "to", 1,
                                  &b->redirects[i].to)) != KEYS_OK)
                goto cleanup;
        }
        b->n_redirects = json_array_size(v);
        ret = mf_fail(b, "\"redirects\" need \"code\" to jump to");
        if (b->n_redirects != 0 && !b->has_code)
            goto cleanup;
    }

    /* In-place replacements. */
    v = json_object_get(b->root, "replace");
    ret = mf_fail(b, "\"replace\": not for kind \"linux\": the running "
                     "kernel's text differs from the file's (alternatives, "
                     "static keys, return thunks are rewritten at boot), so "
                     "no pre-image can be taken from it; use redirects");
    if (v != NULL && b->is_linux)
        goto cleanup;
    if (v != NULL) {
        ret = mf_fail(b, "\"replace\": at most %u objects", MAX_REPLACE);
        if (!json_is_array(v) || json_array_size(v) > MAX_REPLACE)
            goto cleanup;
        json_array_foreach(v, i, item)
        {
            struct replace *r = &b->replaces[i];
            const char *gpa = NULL, *off = NULL, *bytes = NULL;

            ret = mf_fail(b, "\"replace[%zu]\": an object", i);
            if (!json_is_object(item))
                goto cleanup;
            if ((ret = only_keys(b, item, "replace[]", replace_keys)) !=
                    KEYS_OK ||
                (ret = get_string(b, item, "replace[]", "symbol", 0,
                                  &r->symbol)) != KEYS_OK ||
                (ret = get_string(b, item, "replace[]", "gpa", 0, &gpa)) !=
                    KEYS_OK ||
                (ret = get_string(b, item, "replace[]", "offset", 0, &off)) !=
                    KEYS_OK ||
                (ret = get_string(b, item, "replace[]", "bytes", 1, &bytes)) !=
                    KEYS_OK)
                goto cleanup;
            ret = mf_fail(b,
                          "\"replace[%zu]\": exactly one of \"symbol\" "
                          "(with an optional \"offset\") and \"gpa\"",
                          i);
            if ((r->symbol == NULL) == (gpa == NULL) ||
                (gpa != NULL && off != NULL))
                goto cleanup;
            ret = mf_fail(b, "\"replace[%zu]\": bad number", i);
            if ((gpa != NULL && parse_u64(gpa, &r->gpa) != 0) ||
                (off != NULL && parse_u64(off, &r->offset) != 0))
                goto cleanup;
            ret = parse_hex(bytes, &r->bytes, &r->len);
            if (ret != KEYS_OK) {
                if (ret == KEYS_ERR_MANIFEST)
                    mf_fail(b, "\"replace[%zu].bytes\": hex digits", i);
                goto cleanup;
            }
            b->n_replaces = i + 1;
        }
    }
    ret = mf_fail(b, "nothing to do: no \"code\" and no \"replace\"");
    if (!b->has_code && b->n_replaces == 0)
        goto cleanup;
    if (b->diag != NULL)
        b->diag->text[0] = '\0';
    ret = KEYS_OK;

cleanup:
    keys_free(text);
    return ret;
}

/* ------------------------------------------------------------------ tools */

/* Run argv (argv[0] looked up in PATH) in directory cwd; its output goes
 * to our stderr so the author sees the compiler's own messages. */
static int run_tool(struct build *b, char *const argv[], const char *cwd)
{
    int ret = KEYS_ERR_TOOL;
    int status;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        keys_diag_set(b->diag, "fork: %s", strerror(errno));
        goto cleanup;
    }
    if (pid == 0) {
        if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0 || chdir(cwd) != 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            keys_diag_set(b->diag, "waitpid: %s", strerror(errno));
            goto cleanup;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            keys_diag_set(b->diag, "%s: not found (set HVPATCH_GUEST_CC)",
                          argv[0]);
        else
            keys_diag_set(b->diag, "%s %s failed (status %d)", argv[0], argv[1],
                          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        goto cleanup;
    }
    ret = KEYS_OK;

cleanup:
    return ret;
}

static const char *guest_cc(void)
{
    const char *cc = getenv("HVPATCH_GUEST_CC");

    return cc != NULL && cc[0] != '\0' ? cc : "gcc";
}

static int valid_symbol_name(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

/* The range of kind `kind` holding gpa in the demo guest, or NULL. */
static const struct vrf_range *demo_range(uint64_t gpa, uint32_t kind)
{
    size_t n;
    const struct vrf_range *r = vrf_demo_ranges(&n);
    for (size_t i = 0; i < n; i++)
        if (r[i].kind == kind && gpa >= r[i].base &&
            gpa - r[i].base < r[i].size)
            return &r[i];
    return NULL;
}

/* Find a guest symbol for code in the area's domain: a function of that
 * domain's text first (the kernel and the user library may both define
 * one of the name), else any symbol of the name (data). */
static int find_guest_symbol(struct build *b, const char *name,
                             struct keys_sym *s)
{
    size_t n;
    const struct vrf_range *ranges = vrf_demo_ranges(&n);
    for (size_t i = 0; b->area_domain >= 0 && i < n; i++) {
        const struct vrf_range *r = &ranges[i];

        if (r->kind == VRF_RANGE_CODE && (int)r->domain == b->area_domain &&
            keys_elf_find_in(&b->gelf, name, r->base, r->size, s, NULL) ==
                KEYS_OK &&
            s->type == STT_FUNC)
            return KEYS_OK;
    }
    return keys_elf_find(&b->gelf, name, s, b->diag);
}

/* A symbol of the Linux kernel the patch uses: code must be in the locked
 * text (init text is freed after boot, and only the locked text is known
 * to stay as built); data may be anywhere. */
static int kernel_symbol(struct build *b, const char *name, uint64_t *addr)
{
    const struct keys_ksym *s = NULL;
    const struct keys_kernel *k = &b->kern;
    int ret = keys_sysmap_find(&k->map, name, &s, b->diag);

    if (ret != KEYS_OK)
        return ret;
    if (keys_sysmap_is_text(s->type) &&
        (s->addr < k->text_va || s->addr - k->text_va >= k->lock_size)) {
        keys_diag_set(b->diag,
                      "the patch calls %s at 0x%llx, outside the locked "
                      "kernel text [0x%llx, 0x%llx) (init text is freed "
                      "after boot)",
                      name, (unsigned long long)s->addr,
                      (unsigned long long)k->text_va,
                      (unsigned long long)(k->text_va + k->lock_size));
        return KEYS_ERR_BUILD;
    }
    *addr = s->addr;
    return KEYS_OK;
}

/* Compile each source, resolve the objects' undefined symbols in the guest
 * image, link at the area address, and take the loaded bytes. */
static int compile_and_link(struct build *b)
{
    int ret = KEYS_ERR_ALLOC;
    char *argv[MAX_ARGS];
    char *owned[MAX_DEFSYMS + MAX_SOURCES + 8];
    size_t n_owned = 0, argc = 0;
    char objs[MAX_SOURCES][PATH_MAX + 32];
    char path[PATH_MAX + 32], script[PATH_MAX + 16], elf_path[PATH_MAX + 16];
    char addr[32];
    const char *undef[MAX_DEFSYMS];
    size_t n_undef = 0;
    uint8_t *obj = NULL;
    size_t obj_len = 0;
    struct keys_elf oelf;
    struct keys_sym sym;
    FILE *f = NULL;
    uint64_t lo = UINT64_MAX, hi = 0;

    memset(owned, 0, sizeof owned);

    /* 1. Compile: cc <guest flags> <manifest cflags> -c src -o tmp/N.o,
     *    in the manifest's directory. */
    for (size_t i = 0; i < b->n_sources; i++) {
        const char *const *flags = b->is_linux ? linux_cflags : guest_cflags;
        size_t n_flags = b->is_linux
                             ? sizeof linux_cflags / sizeof linux_cflags[0]
                             : sizeof guest_cflags / sizeof guest_cflags[0];

        argc = 0;
        argv[argc++] = (char *)guest_cc();
        for (size_t k = 0; k < n_flags; k++)
            argv[argc++] = (char *)flags[k];
        for (size_t k = 0; k < b->n_cflags; k++)
            argv[argc++] = (char *)b->cflags[k];
        snprintf(objs[i], sizeof objs[i], "%s/%zu.o", b->tmp, i);
        argv[argc++] = "-c";
        argv[argc++] = (char *)b->sources[i];
        argv[argc++] = "-o";
        argv[argc++] = objs[i];
        argv[argc] = NULL;
        ret = run_tool(b, argv, b->dir);
        if (ret != KEYS_OK) {
            keys_diag_set(b->diag,
                          "compiling %s failed (the compiler's "
                          "messages are above)",
                          b->sources[i]);
            goto cleanup;
        }
    }

    /* 2. Symbols the objects use but do not define. */
    for (size_t i = 0; i < b->n_sources; i++) {
        ret = keys_read_file(objs[i], OBJ_MAX, &obj, &obj_len, b->diag);
        if (ret != KEYS_OK)
            goto cleanup;
        ret = keys_elf_open(&oelf, obj, obj_len, b->diag);
        if (ret != KEYS_OK)
            goto cleanup;
        for (size_t s = 1; s < oelf.nsyms; s++) {
            int known = 0;

            if (keys_elf_sym(&oelf, s, &sym) != KEYS_OK || sym.defined ||
                sym.bind == STB_LOCAL || sym.name[0] == '\0')
                continue;
            for (size_t k = 0; k < n_undef && !known; k++)
                known = strcmp(undef[k], sym.name) == 0;
            if (known)
                continue;
            ret = KEYS_ERR_BUILD;
            if (n_undef == MAX_DEFSYMS || !valid_symbol_name(sym.name)) {
                keys_diag_set(b->diag,
                              "%s: too many or odd undefined "
                              "symbols (%s)",
                              b->sources[i], sym.name);
                goto cleanup;
            }
            ret = KEYS_ERR_ALLOC;
            undef[n_undef] = owned[n_owned++] = strdup(sym.name);
            if (undef[n_undef] == NULL)
                goto cleanup;
            n_undef++;
        }
        keys_free(obj);
        obj = NULL;
    }

    /* 3. Link script at the area's virtual address. */
    snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)b->link);
    snprintf(script, sizeof script, "%s/patch.ld", b->tmp);
    ret = KEYS_ERR_IO_WRITE;
    f = fopen(script, "w");
    if (f == NULL || fprintf(f, linker_script, addr) < 0 || fclose(f) != 0) {
        f = NULL;
        keys_diag_set(b->diag, "%s: %s", script, strerror(errno));
        goto cleanup;
    }
    f = NULL;

    /* 4. Link: symbols defined by another patch object stay for the
     *    linker; the rest come from the guest image (--defsym), or the
     *    Linux kernel's symbol table. A call into the guest must stay in
     *    the area's domain; into a Linux kernel, in its locked text. */
    snprintf(elf_path, sizeof elf_path, "%s/patch.elf", b->tmp);
    argc = 0;
    argv[argc++] = (char *)guest_cc();
    argv[argc++] = "-nostdlib";
    argv[argc++] = "-static";
    argv[argc++] = "-no-pie";
    argv[argc++] = "-Wl,--build-id=none";
    argv[argc++] = "-Wl,-z,max-page-size=4096";
    argv[argc++] = "-Wl,-z,noexecstack";
    argv[argc++] = "-Wl,-e,0";
    argv[argc++] = "-Wl,-T";
    argv[argc++] = script;
    for (size_t i = 0; i < n_undef; i++) {
        int defined_in_patch = 0;

        for (size_t k = 0; k < b->n_sources && !defined_in_patch; k++) {
            ret = keys_read_file(objs[k], OBJ_MAX, &obj, &obj_len, b->diag);
            if (ret != KEYS_OK)
                goto cleanup;
            if (keys_elf_open(&oelf, obj, obj_len, NULL) == KEYS_OK &&
                keys_elf_find(&oelf, undef[i], &sym, NULL) == KEYS_OK &&
                sym.bind != STB_LOCAL)
                defined_in_patch = 1;
            keys_free(obj);
            obj = NULL;
        }
        if (defined_in_patch)
            continue;
        if (b->is_linux) {
            ret = kernel_symbol(b, undef[i], &sym.value);
            if (ret != KEYS_OK)
                goto cleanup;
            sym.type = STT_NOTYPE; /* no domain check below */
        } else {
            ret = find_guest_symbol(b, undef[i], &sym);
            if (ret != KEYS_OK)
                goto cleanup;
        }
        if (sym.type == STT_FUNC && b->area_domain >= 0) {
            const struct vrf_range *r = demo_range(sym.value, VRF_RANGE_CODE);

            ret = KEYS_ERR_BUILD;
            if (r == NULL || (int)r->domain != b->area_domain) {
                keys_diag_set(b->diag,
                              "the patch calls %s at 0x%llx, outside "
                              "the %s text it may call",
                              undef[i], (unsigned long long)sym.value,
                              b->area_domain == 0 ? "kernel" : "user");
                goto cleanup;
            }
        }
        ret = KEYS_ERR_ALLOC;
        snprintf(path, sizeof path, "-Wl,--defsym=%s=0x%llx", undef[i],
                 (unsigned long long)sym.value);
        argv[argc] = owned[n_owned++] = strdup(path);
        if (argv[argc] == NULL)
            goto cleanup;
        argc++;
    }
    for (size_t i = 0; i < b->n_sources; i++)
        argv[argc++] = objs[i];
    argv[argc++] = "-o";
    argv[argc++] = elf_path;
    argv[argc] = NULL;
    ret = run_tool(b, argv, b->dir);
    if (ret != KEYS_OK) {
        keys_diag_set(b->diag, "linking the patch failed (the linker's "
                               "messages are above)");
        goto cleanup;
    }

    /* 5. The linked image: one read+execute segment from the area start,
     *    nothing writable, nothing zero-filled, inside the area. */
    ret = keys_read_file(elf_path, OBJ_MAX, &b->patch_elf, &b->patch_elf_len,
                         b->diag);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = keys_elf_open(&b->pelf, b->patch_elf, b->patch_elf_len, b->diag);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = KEYS_ERR_BUILD;
    for (size_t i = 0; i < b->pelf.shnum; i++) {
        Elf64_Shdr sh;
        const char *name = "?";
        Elf64_Shdr strsh;
        Elf64_Ehdr eh;

        memcpy(&sh, b->patch_elf + b->pelf.shoff + i * sizeof sh, sizeof sh);
        memcpy(&eh, b->patch_elf, sizeof eh);
        if (eh.e_shstrndx < b->pelf.shnum) {
            memcpy(&strsh,
                   b->patch_elf + b->pelf.shoff + eh.e_shstrndx * sizeof strsh,
                   sizeof strsh);
            if (strsh.sh_offset < b->patch_elf_len &&
                sh.sh_name < b->patch_elf_len - strsh.sh_offset &&
                memchr(b->patch_elf + strsh.sh_offset + sh.sh_name, '\0',
                       b->patch_elf_len - strsh.sh_offset - sh.sh_name))
                name =
                    (const char *)b->patch_elf + strsh.sh_offset + sh.sh_name;
        }
        if (!(sh.sh_flags & SHF_ALLOC) || sh.sh_size == 0)
            continue;
        if (sh.sh_flags & SHF_WRITE) {
            keys_diag_set(b->diag,
                          "the patch has writable data (%s, %llu "
                          "bytes): the patch area is read-only to "
                          "the guest; use const or guest data",
                          name, (unsigned long long)sh.sh_size);
            goto cleanup;
        }
        if (strcmp(name, ".text") != 0 && strcmp(name, ".rodata") != 0) {
            keys_diag_set(b->diag, "the patch has an unexpected section %s",
                          name);
            goto cleanup;
        }
        if (sh.sh_type == SHT_NOBITS) {
            keys_diag_set(b->diag, "the patch has zero-filled section %s",
                          name);
            goto cleanup;
        }
        lo = sh.sh_addr < lo ? sh.sh_addr : lo;
        hi = sh.sh_addr + sh.sh_size > hi ? sh.sh_addr + sh.sh_size : hi;
    }
    if (lo != b->link || hi <= lo || hi - lo > b->area_max) {
        keys_diag_set(b->diag,
                      "patch code [0x%llx, 0x%llx) does not start "
                      "at the area 0x%llx or is larger than %llu "
                      "bytes",
                      (unsigned long long)lo, (unsigned long long)hi,
                      (unsigned long long)b->link,
                      (unsigned long long)b->area_max);
        goto cleanup;
    }
    ret = KEYS_ERR_ALLOC;
    b->code_len = (size_t)(hi - lo);
    b->code = malloc(b->code_len);
    if (b->code == NULL)
        goto cleanup;
    ret = keys_elf_read_gpa(&b->pelf, b->link, b->code, b->code_len);

cleanup:
    if (f != NULL)
        fclose(f);
    keys_free(obj);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    return ret;
}

/* ------------------------------------------------------------------ records */

static int is_nop_pad(const uint8_t p[VRF_REDIRECT_SIZE])
{
    static const uint8_t nop1x5[] = {0x90, 0x90, 0x90, 0x90, 0x90};
    static const uint8_t nop5[] = {0x0f, 0x1f, 0x44, 0x00, 0x00};

    return memcmp(p, nop1x5, 5) == 0 || memcmp(p, nop5, 5) == 0;
}

static int guest_read(void *opaque, uint64_t gpa, uint8_t *buf, size_t len)
{
    return keys_elf_read_gpa(opaque, gpa, buf, len) == KEYS_OK ? 0 : -1;
}

/* The GPA of redirect i's site in a guest image: the function's entry,
 * which must be a 5-byte NOP pad (its pre-image). */
static int image_redirect_site(struct build *b, size_t i, uint64_t *gpa)
{
    const char *function = b->redirects[i].function;
    struct keys_sym sym;
    int ret = find_guest_symbol(b, function, &sym);

    if (ret != KEYS_OK)
        goto cleanup;
    ret = KEYS_ERR_BUILD;
    if (sym.type != STT_FUNC) {
        keys_diag_set(b->diag, "redirect %s: not a function in the image",
                      function);
        goto cleanup;
    }
    ret = keys_elf_read_gpa(&b->gelf, sym.value, b->redirect_pre[i],
                            VRF_REDIRECT_SIZE);
    if (ret != KEYS_OK)
        goto cleanup;
    ret = KEYS_ERR_BUILD;
    if (!is_nop_pad(b->redirect_pre[i])) {
        keys_diag_set(b->diag,
                      "redirect %s: its entry is not a 5-byte "
                      "NOP pad (was the guest built with "
                      "-fpatchable-function-entry=5,0?)",
                      function);
        goto cleanup;
    }
    *gpa = sym.value;
    ret = KEYS_OK;

cleanup:
    return ret;
}

/* The GPA of redirect i's site in a Linux kernel: the function's ftrace
 * site, whose pre-image is the 5-byte NOP the running kernel holds there.
 * The file has `call __fentry__` at most sites, but ftrace_init (early in
 * start_kernel, long before the monitor locks the text) rewrites every
 * one to that NOP; the verifier compares against the locked text, not the
 * file. */
static int linux_redirect_site(struct build *b, size_t i, uint64_t *gpa)
{
    const struct keys_kernel *k = &b->kern;
    uint64_t site_va = 0;
    int ret =
        keys_kernel_ftrace_site(k, b->redirects[i].function, &site_va, b->diag);

    if (ret == KEYS_ERR_BUILD && b->diag != NULL) {
        char why[sizeof b->diag->text];

        snprintf(why, sizeof why, "%s", b->diag->text);
        keys_diag_set(b->diag, "redirect: %s", why);
    }
    if (ret != KEYS_OK)
        return ret;
    memcpy(b->redirect_pre[i], KEYS_FTRACE_NOP, VRF_REDIRECT_SIZE);
    *gpa = k->text_gpa + (site_va - k->text_va);
    return KEYS_OK;
}

/* Records: CODE first, then REPLACE, then REDIRECT, so that applying in
 * order writes new code before any jump to it, and reverting in reverse
 * order removes the jumps first. */
static int make_records(struct build *b)
{
    int ret = KEYS_ERR_ALLOC;
    struct keys_sym sym;
    size_t n = (size_t)b->has_code + b->n_replaces + b->n_redirects, k = 0;
    struct vrf_record *recs;

    ret = KEYS_ERR_PKG_LIMIT;
    if (n > VRF_MAX_RECORDS) {
        keys_diag_set(b->diag, "%zu records, limit %u", n, VRF_MAX_RECORDS);
        goto cleanup;
    }
    ret = KEYS_ERR_ALLOC;
    recs = calloc(n, sizeof *recs);
    if (recs == NULL)
        goto cleanup;
    b->pkg.records = recs;
    b->pkg.n_records = n;

    if (b->has_code) {
        recs[k].kind = VRF_REC_CODE;
        recs[k].gpa = b->area;
        recs[k].size = b->code_len;
        recs[k].data.p = b->code;
        recs[k].data.len = b->code_len;
        k++;
    }
    for (size_t i = 0; i < b->n_replaces; i++, k++) {
        struct replace *r = &b->replaces[i];

        if (r->symbol != NULL) {
            ret = keys_elf_find(&b->gelf, r->symbol, &sym, b->diag);
            if (ret != KEYS_OK)
                goto cleanup;
            ret = KEYS_ERR_MANIFEST;
            if (r->offset > UINT64_MAX - sym.value) {
                keys_diag_set(b->diag, "replace[%zu]: offset too large", i);
                goto cleanup;
            }
            r->gpa = sym.value + r->offset;
        }
        ret = KEYS_ERR_ALLOC;
        r->pre = malloc(r->len);
        if (r->pre == NULL)
            goto cleanup;
        ret = keys_elf_read_gpa(&b->gelf, r->gpa, r->pre, r->len);
        if (ret != KEYS_OK)
            goto cleanup;
        recs[k].kind = VRF_REC_REPLACE;
        recs[k].gpa = r->gpa;
        recs[k].size = r->len;
        recs[k].pre.p = r->pre;
        recs[k].pre.len = r->len;
        recs[k].data.p = r->bytes;
        recs[k].data.len = r->len;
    }
    for (size_t i = 0; i < b->n_redirects; i++, k++) {
        struct redirect *r = &b->redirects[i];
        struct keys_sym to;

        ret = b->is_linux ? linux_redirect_site(b, i, &sym.value)
                          : image_redirect_site(b, i, &sym.value);
        if (ret != KEYS_OK)
            goto cleanup;
        ret = keys_elf_find(&b->pelf, r->to, &to, b->diag);
        if (ret != KEYS_OK)
            goto cleanup;
        ret = KEYS_ERR_BUILD;
        if (to.type != STT_FUNC || to.bind == STB_LOCAL) {
            keys_diag_set(b->diag,
                          "redirect target %s: not a global function "
                          "of the patch",
                          r->to);
            goto cleanup;
        }
        recs[k].kind = VRF_REC_REDIRECT;
        recs[k].gpa = sym.value;
        recs[k].size = VRF_REDIRECT_SIZE;
        recs[k].pre.p = b->redirect_pre[i];
        recs[k].pre.len = VRF_REDIRECT_SIZE;
        recs[k].target = b->area + (to.value - b->link); /* a GPA */
    }
    ret = KEYS_OK;

cleanup:
    return ret;
}

/* ------------------------------------------------------------------ build */

static void remove_tmp(struct build *b)
{
    char path[PATH_MAX + 32];

    if (b->tmp[0] == '\0')
        return;
    for (size_t i = 0; i < MAX_SOURCES; i++) {
        snprintf(path, sizeof path, "%s/%zu.o", b->tmp, i);
        (void)unlink(path);
    }
    snprintf(path, sizeof path, "%s/patch.ld", b->tmp);
    (void)unlink(path);
    snprintf(path, sizeof path, "%s/patch.elf", b->tmp);
    (void)unlink(path);
    (void)rmdir(b->tmp);
}

/* The guest image: an ELF with symbols (demo and other kinds), or a
 * Linux kernel and its symbol table. Its SHA-256 is the baseline. */
static int load_guest(struct build *b)
{
    int ret;
    const uint8_t *file;
    size_t len;

    if (b->is_linux) {
        ret =
            keys_kernel_load(&b->kern, b->image_path, b->symbols_path, b->diag);
        if (ret != KEYS_OK)
            goto cleanup;
        file = b->kern.file;
        len = b->kern.file_len;
    } else {
        ret = keys_read_file(b->image_path, IMAGE_MAX, &b->image, &b->image_len,
                             b->diag);
        if (ret != KEYS_OK)
            goto cleanup;
        ret = keys_elf_open(&b->gelf, b->image, b->image_len, b->diag);
        if (ret != KEYS_OK) {
            keys_diag_set(b->diag, "%s: not an ELF64 x86-64 guest image",
                          b->image_path);
            goto cleanup;
        }
        ret = KEYS_ERR_ELF;
        if (b->gelf.nsyms == 0) {
            keys_diag_set(b->diag, "%s: no symbol table (stripped?)",
                          b->image_path);
            goto cleanup;
        }
        file = b->image;
        len = b->image_len;
    }
    ret = KEYS_ERR_CRYPTO;
    if (mbedtls_sha256_ret(file, len, b->pkg.baseline, 0) != 0)
        goto cleanup;
    ret = KEYS_OK;

cleanup:
    return ret;
}

int keys_build(const char *manifest, const char *image_override,
               const char *symbols_override, uint8_t **out, size_t *out_len,
               struct keys_diag *diag)
{
    int ret = KEYS_ERR_ARG;
    struct build *b = NULL;
    char *real = NULL;
    const char *tmpdir;
    uint8_t *payload = NULL, *prot = NULL;
    size_t payload_len = 0, prot_len = 0;
    struct vrf_pkg check;
    struct vrf_ctx ctx;
    int vr;

    vrf_pkg_init(&check);
    *out = NULL;
    *out_len = 0;
    if (manifest == NULL)
        goto cleanup;
    ret = KEYS_ERR_ALLOC;
    b = calloc(1, sizeof *b);
    if (b == NULL)
        goto cleanup;
    b->diag = diag;
    vrf_pkg_init(&b->pkg);

    /* 1. The manifest, and the directory its paths are relative to. */
    ret = KEYS_ERR_IO_READ;
    real = realpath(manifest, NULL);
    if (real == NULL) {
        keys_diag_set(diag, "%s: %s", manifest, strerror(errno));
        goto cleanup;
    }
    snprintf(b->dir, sizeof b->dir, "%s", real);
    *strrchr(b->dir, '/') = '\0';
    if (b->dir[0] == '\0')
        snprintf(b->dir, sizeof b->dir, "/");
    ret = parse_manifest(b, real, image_override, symbols_override);
    if (ret != KEYS_OK)
        goto cleanup;

    /* 2. The guest image: its SHA-256 is the baseline. */
    ret = load_guest(b);
    if (ret != KEYS_OK)
        goto cleanup;

    /* 3. The code, compiled and linked in a scratch directory. */
    if (b->has_code) {
        tmpdir = getenv("TMPDIR");
        snprintf(b->tmp, sizeof b->tmp, "%s/hvpatch-build-XXXXXX",
                 tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp");
        ret = KEYS_ERR_IO_WRITE;
        if (mkdtemp(b->tmp) == NULL) {
            keys_diag_set(diag, "%s: %s", b->tmp, strerror(errno));
            b->tmp[0] = '\0';
            goto cleanup;
        }
        ret = compile_and_link(b);
        if (ret != KEYS_OK)
            goto cleanup;
    }

    /* 4. Records. */
    ret = make_records(b);
    if (ret != KEYS_OK)
        goto cleanup;

    /* 5. Encode, as an unsigned package. */
    ret = keys_pkg_encode_payload(&b->pkg, &payload, &payload_len);
    if (ret == KEYS_OK)
        ret = keys_pkg_encode_protected(NULL, 0, &prot, &prot_len);
    if (ret == KEYS_OK)
        ret = keys_pkg_encode_sign1(prot, prot_len, payload, payload_len, NULL,
                                    0, out, out_len);
    if (ret != KEYS_OK)
        goto cleanup;

    /* 6. The verifier's own parser accepts it, and for the demo guest and
     *    a Linux guest its pre-image and bounds checks pass against the
     *    guest as the verifier will find it: the demo image as loaded, or
     *    the kernel's locked text as it runs (ftrace sites are NOPs) and
     *    a zeroed patch area, with the ranges vrf_linux_ranges() gives. */
    ret = KEYS_ERR_MANIFEST;
    vr = vrf_pkg_parse(&check, *out, *out_len);
    if (vr != VRF_OK) {
        keys_diag_set(diag, "%s: %s (%s)", vrf_errname(vr), vrf_strerror(vr),
                      check.detail);
        goto cleanup;
    }
    if (strcmp(b->pkg.kind, "demo") == 0 || b->is_linux) {
        memset(&ctx, 0, sizeof ctx);
        ctx.kind = b->pkg.kind;
        if (b->is_linux) {
            ctx.read = keys_kernel_read_running;
            ctx.read_opaque = &b->kern;
            ctx.ranges = b->kern.ranges;
            ctx.n_ranges = b->kern.n_ranges;
        } else {
            ctx.read = guest_read;
            ctx.read_opaque = &b->gelf;
            ctx.ranges = vrf_demo_ranges(&ctx.n_ranges);
        }
        ret = KEYS_ERR_BUILD;
        vr = vrf_check_records(&ctx, &check);
        if (vr != VRF_OK) {
            keys_diag_set(diag, "the verifier would refuse it: %s: %s (%s)",
                          vrf_errname(vr), vrf_strerror(vr), check.detail);
            goto cleanup;
        }
    }
    ret = KEYS_OK;

cleanup:
    if (ret != KEYS_OK && out != NULL) {
        keys_free(*out);
        *out = NULL;
        *out_len = 0;
    }
    vrf_pkg_free(&check);
    keys_free(payload);
    keys_free(prot);
    free(real);
    if (b != NULL) {
        remove_tmp(b);
        for (size_t i = 0; i < b->n_replaces; i++) {
            free(b->replaces[i].bytes);
            free(b->replaces[i].pre);
        }
        json_decref(b->root);
        keys_free(b->image);
        keys_kernel_free(&b->kern);
        keys_free(b->patch_elf);
        keys_free(b->code);
        vrf_pkg_free(&b->pkg);
        free(b);
    }
    return ret;
}
