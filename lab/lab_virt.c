/* lab_virt.c: the few libvirt calls the lab makes (connect, look up a
 * domain, peek at its memory), each failure naming the call and carrying
 * virGetLastErrorMessage().
 *
 * libvirt is loaded with dlopen() when a lab command first needs it, not
 * linked: `hvpatch run` is the same binary, and the monitor must not map
 * libvirt and the ~50 libraries it pulls in (measured: 10 MiB more RSS).
 * Each entry point's type comes from libvirt's own header (__typeof__), so
 * calls are checked as if linked. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "lab/lab_int.h"

#define LIBVIRT_SONAME "libvirt.so.0"

/* The entry points used, resolved once; named as libvirt names them. */
static struct {
    void *handle;
    __typeof__(virConnectOpenAuth) *virConnectOpenAuth;
    __typeof__(virConnectClose) *virConnectClose;
    __typeof__(virConnectGetHostname) *virConnectGetHostname;
    __typeof__(virConnectGetCapabilities) *virConnectGetCapabilities;
    __typeof__(virConnectGetDomainCapabilities)
        *virConnectGetDomainCapabilities;
    __typeof__(virDomainLookupByName) *virDomainLookupByName;
    __typeof__(virDomainLookupByUUIDString) *virDomainLookupByUUIDString;
    __typeof__(virDomainGetName) *virDomainGetName;
    __typeof__(virDomainGetUUIDString) *virDomainGetUUIDString;
    __typeof__(virDomainIsActive) *virDomainIsActive;
    __typeof__(virDomainMemoryPeek) *virDomainMemoryPeek;
    __typeof__(virDomainFree) *virDomainFree;
    __typeof__(virSetErrorFunc) *virSetErrorFunc;
    __typeof__(virGetLastErrorMessage) *virGetLastErrorMessage;
    virConnectAuthPtr *virConnectAuthPtrDefault; /* a variable */
} lv;

/* clang-format off */
#define ENTRY(name) {#name, (void **)&lv.name}
/* clang-format on */

static const struct {
    const char *name;
    void **slot;
} lv_entries[] = {
    ENTRY(virConnectOpenAuth),
    ENTRY(virConnectClose),
    ENTRY(virConnectGetHostname),
    ENTRY(virConnectGetCapabilities),
    ENTRY(virConnectGetDomainCapabilities),
    ENTRY(virDomainLookupByName),
    ENTRY(virDomainLookupByUUIDString),
    ENTRY(virDomainGetName),
    ENTRY(virDomainGetUUIDString),
    ENTRY(virDomainIsActive),
    ENTRY(virDomainMemoryPeek),
    ENTRY(virDomainFree),
    ENTRY(virSetErrorFunc),
    ENTRY(virGetLastErrorMessage),
    ENTRY(virConnectAuthPtrDefault),
};

struct lab_virt {
    virConnectPtr conn;
    virDomainPtr dom;
};

/* libvirt prints every error on stderr by default; we report them
 * ourselves, once, with what we were doing. */
static void quiet(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

/* Load libvirt once; never unloaded (it keeps global state). */
static int load_libvirt(struct lab_diag *d)
{
    void *h;

    if (lv.handle != NULL)
        return LAB_OK;
    h = dlopen(LIBVIRT_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        lab_diag_set(d, "dlopen(%s): %s (Debian package libvirt0)",
                     LIBVIRT_SONAME, dlerror());
        return LAB_ERR_LIBVIRT;
    }
    for (size_t i = 0; i < sizeof lv_entries / sizeof lv_entries[0]; i++) {
        *lv_entries[i].slot = dlsym(h, lv_entries[i].name);
        if (*lv_entries[i].slot == NULL) {
            lab_diag_set(d, "dlsym(%s, %s): %s", LIBVIRT_SONAME,
                         lv_entries[i].name, dlerror());
            dlclose(h);
            return LAB_ERR_LIBVIRT;
        }
    }
    lv.handle = h;
    lv.virSetErrorFunc(NULL, quiet);
    return LAB_OK;
}

/* Copy src into dst (size bytes), control characters replaced by '?':
 * a remote daemon names hosts and domains, and we print them. */
static void copy_clean(char *dst, size_t size, const char *src)
{
    size_t i = 0;

    for (; src[i] != '\0' && i + 1 < size; i++)
        dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
    dst[i] = '\0';
}

static int libvirt_fail(struct lab_diag *d, const char *call, const char *arg)
{
    const char *msg = lv.virGetLastErrorMessage();

    if (arg != NULL)
        lab_diag_set(d, "%s(%s): %s", call, arg, msg);
    else
        lab_diag_set(d, "%s: %s", call, msg);
    return LAB_ERR_LIBVIRT;
}

int lab_virt_open(struct lab_virt **v, const char *uri, struct lab_diag *d)
{
    struct lab_virt *nv;
    int ret;

    *v = NULL;
    ret = load_libvirt(d);
    if (ret != LAB_OK)
        return ret;
    nv = calloc(1, sizeof *nv);
    if (nv == NULL)
        return LAB_ERR_ALLOC;
    nv->conn = lv.virConnectOpenAuth(uri, *lv.virConnectAuthPtrDefault, 0);
    if (nv->conn == NULL) {
        free(nv);
        return libvirt_fail(d, "virConnectOpenAuth",
                            uri != NULL ? uri : "default URI");
    }
    *v = nv;
    return LAB_OK;
}

int lab_virt_domain(struct lab_virt *v, const char *name, char *out_name,
                    size_t name_size, char uuid[40], struct lab_diag *d)
{
    const char *n;
    int active;

    if (v == NULL || name == NULL)
        return LAB_ERR_ARG;
    if (v->dom != NULL) {
        lv.virDomainFree(v->dom);
        v->dom = NULL;
    }
    v->dom = lv.virDomainLookupByName(v->conn, name);
    if (v->dom == NULL && strlen(name) == 36) /* a UUID? */
        v->dom = lv.virDomainLookupByUUIDString(v->conn, name);
    if (v->dom == NULL)
        return libvirt_fail(d, "virDomainLookupByName", name);
    n = lv.virDomainGetName(v->dom);
    if (n == NULL)
        return libvirt_fail(d, "virDomainGetName", name);
    copy_clean(out_name, name_size, n);
    if (lv.virDomainGetUUIDString(v->dom, uuid) != 0)
        return libvirt_fail(d, "virDomainGetUUIDString", name);
    active = lv.virDomainIsActive(v->dom);
    if (active < 0)
        return libvirt_fail(d, "virDomainIsActive", name);
    if (active == 0) {
        lab_diag_set(d, "not running (virDomainIsActive: 0)");
        return LAB_ERR_DOMAIN;
    }
    return LAB_OK;
}

int lab_virt_hostname(struct lab_virt *v, char *buf, size_t size,
                      struct lab_diag *d)
{
    char *h;

    if (v == NULL || size == 0)
        return LAB_ERR_ARG;
    h = lv.virConnectGetHostname(v->conn);
    if (h == NULL)
        return libvirt_fail(d, "virConnectGetHostname", NULL);
    copy_clean(buf, size, h);
    free(h);
    return LAB_OK;
}

int lab_virt_read(struct lab_virt *v, uint64_t addr, uint8_t *buf, size_t len,
                  int physical, struct lab_diag *d)
{
    unsigned int flags = physical ? VIR_MEMORY_PHYSICAL : VIR_MEMORY_VIRTUAL;

    if (v == NULL || v->dom == NULL || (buf == NULL && len != 0) ||
        (len != 0 && addr > UINT64_MAX - (len - 1)))
        return LAB_ERR_ARG;
    for (size_t off = 0; off < len; off += LAB_PEEK_MAX) {
        size_t n = len - off < LAB_PEEK_MAX ? len - off : LAB_PEEK_MAX;

        if (lv.virDomainMemoryPeek(v->dom, addr + off, n, buf + off, flags) !=
            0) {
            char what[80];

            snprintf(what, sizeof what, "%s 0x%llx, %zu bytes",
                     physical ? "physical" : "virtual",
                     (unsigned long long)(addr + off), n);
            return libvirt_fail(d, "virDomainMemoryPeek", what);
        }
    }
    return LAB_OK;
}

void lab_virt_close(struct lab_virt *v)
{
    if (v == NULL)
        return;
    if (v->dom != NULL)
        lv.virDomainFree(v->dom);
    if (v->conn != NULL)
        lv.virConnectClose(v->conn);
    free(v);
}

char *lab_virt_caps(struct lab_virt *v, struct lab_diag *d)
{
    char *xml = lv.virConnectGetCapabilities(v->conn);

    if (xml == NULL)
        libvirt_fail(d, "virConnectGetCapabilities", NULL);
    return xml;
}

char *lab_virt_domcaps(struct lab_virt *v, struct lab_diag *d)
{
    char *xml = lv.virConnectGetDomainCapabilities(v->conn, NULL, "x86_64",
                                                   NULL, "kvm", 0);

    if (xml == NULL)
        libvirt_fail(d, "virConnectGetDomainCapabilities", "kvm, x86_64");
    return xml;
}
