/* lab_probe.c: what a host offers hvpatch (CPU vendor, VT-x or AMD-V,
 * EPT or NPT, KVM, read-only memslots, nested virtualisation, a TPM) and
 * whether that makes it eligible, from this machine's CPUID and /dev/kvm
 * or from a libvirt daemon's capabilities, local or remote.
 *
 * libxml2 parses the capabilities; like libvirt (lab_virt.c) it is loaded
 * with dlopen() only when a probe needs it, so that `hvpatch run` never
 * maps it; entry points keep libxml2's own types. */
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <linux/kvm.h>

#include "lab/lab_int.h"

void lab_host_init(struct lab_host *h)
{
    memset(h, 0, sizeof *h);
    h->source = "local";
    snprintf(h->vendor, sizeof h->vendor, "unknown");
    h->hw_virt = h->slat = h->kvm = h->ro_memslots = LAB_UNSURE;
    h->nested = h->tpm_host = h->tpm_emulator = h->in_vm = LAB_UNSURE;
}

/* ------------------------------------------------------------------ local */

static void cpuid_facts(struct lab_host *h)
{
    unsigned a, b, c, d;
    char v[13];

    if (!__get_cpuid(0, &a, &b, &c, &d))
        return;
    memcpy(v, &b, 4);
    memcpy(v + 4, &d, 4);
    memcpy(v + 8, &c, 4);
    v[12] = '\0';
    if (strcmp(v, "GenuineIntel") == 0)
        snprintf(h->vendor, sizeof h->vendor, "Intel");
    else if (strcmp(v, "AuthenticAMD") == 0)
        snprintf(h->vendor, sizeof h->vendor, "AMD");
    else
        snprintf(h->vendor, sizeof h->vendor, "%s", v);
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        h->in_vm = (c >> 31) & 1;  /* hypervisor present */
        h->hw_virt = (c >> 5) & 1; /* VMX */
    }
    if (strcmp(h->vendor, "AMD") == 0 &&
        __get_cpuid(0x80000001, &a, &b, &c, &d))
        h->hw_virt = (c >> 2) & 1; /* SVM */
}

/* First byte of a sysfs parameter: 'Y', 'N', '1', '0' ...; 0 if none. */
static char sysfs_flag(const char *path)
{
    char buf[8] = "";
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return 0;
    if (fgets(buf, sizeof buf, f) == NULL)
        buf[0] = 0;
    fclose(f);
    return buf[0];
}

static int flag_tri(char c)
{
    if (c == 'Y' || c == 'y' || c == '1')
        return LAB_YES;
    if (c == 'N' || c == 'n' || c == '0')
        return LAB_NO;
    return LAB_UNSURE;
}

static void kvm_module_facts(struct lab_host *h)
{
    static const char *const mods[] = {"kvm_intel", "kvm_amd", "kvm_pvm"};
    char path[96];

    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/sys/module/%s", mods[i]);
        if (access(path, F_OK) == 0)
            snprintf(h->kvm_module, sizeof h->kvm_module, "%s", mods[i]);
    }
    if (strcmp(h->kvm_module, "kvm_intel") == 0) {
        h->slat = flag_tri(sysfs_flag("/sys/module/kvm_intel/parameters/ept"));
        h->nested =
            flag_tri(sysfs_flag("/sys/module/kvm_intel/parameters/nested"));
    } else if (strcmp(h->kvm_module, "kvm_amd") == 0) {
        h->slat = flag_tri(sysfs_flag("/sys/module/kvm_amd/parameters/npt"));
        h->nested =
            flag_tri(sysfs_flag("/sys/module/kvm_amd/parameters/nested"));
    } else if (strcmp(h->kvm_module, "kvm_pvm") == 0) {
        h->slat = LAB_NO; /* shadow paging */
        h->nested = LAB_NO;
    } else if (h->hw_virt == LAB_NO) {
        h->slat = LAB_NO;
    }
}

static void kvm_ioctl_facts(struct lab_host *h)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), v;

    if (fd < 0) {
        h->kvm = LAB_NO;
        snprintf(h->kvm_detail, sizeof h->kvm_detail, "/dev/kvm: %s",
                 strerror(errno));
        return;
    }
    v = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_VERSION) {
        h->kvm = LAB_NO;
        snprintf(h->kvm_detail, sizeof h->kvm_detail,
                 "KVM_GET_API_VERSION: %d, expected %d", v, KVM_API_VERSION);
    } else {
        h->kvm = LAB_YES;
        h->ro_memslots =
            ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0 ? LAB_YES
                                                                     : LAB_NO;
    }
    close(fd);
}

static int in_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];

    if (path == NULL)
        path = "/usr/bin:/bin";
    while (*path != '\0') {
        size_t n = strcspn(path, ":");

        if (n > 0 && n < sizeof buf - strlen(prog) - 2) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, prog);
            if (access(buf, X_OK) == 0)
                return 1;
        }
        path += n + (path[n] == ':');
    }
    return 0;
}

int lab_probe_local(struct lab_host *h, struct lab_diag *d)
{
    (void)d;
    h->source = "local";
    h->uri[0] = '\0';
    if (gethostname(h->name, sizeof h->name) != 0)
        snprintf(h->name, sizeof h->name, "localhost");
    h->name[sizeof h->name - 1] = '\0';
    cpuid_facts(h);
    kvm_module_facts(h);
    kvm_ioctl_facts(h);
    h->tpm_host =
        access("/dev/tpmrm0", F_OK) == 0 || access("/dev/tpm0", F_OK) == 0;
    h->tpm_emulator = in_path("swtpm");
    return LAB_OK;
}

/* ------------------------------------------------------------------ libvirt */

#define LIBXML_SONAME "libxml2.so.2"

static struct {
    void *handle;
    __typeof__(xmlReadMemory) *xmlReadMemory;
    __typeof__(xmlGetLastError) *xmlGetLastError;
    __typeof__(xmlFreeDoc) *xmlFreeDoc;
    __typeof__(xmlXPathNewContext) *xmlXPathNewContext;
    __typeof__(xmlXPathFreeContext) *xmlXPathFreeContext;
    __typeof__(xmlXPathEvalExpression) *xmlXPathEvalExpression;
    __typeof__(xmlXPathFreeObject) *xmlXPathFreeObject;
} lx;

/* clang-format off */
#define ENTRY(name) {#name, (void **)&lx.name}
/* clang-format on */

static const struct {
    const char *name;
    void **slot;
} lx_entries[] = {
    ENTRY(xmlReadMemory),       ENTRY(xmlGetLastError),
    ENTRY(xmlFreeDoc),          ENTRY(xmlXPathNewContext),
    ENTRY(xmlXPathFreeContext), ENTRY(xmlXPathEvalExpression),
    ENTRY(xmlXPathFreeObject),
};

/* Load libxml2 once; never unloaded (libvirt shares it). */
static int load_libxml(struct lab_diag *d)
{
    void *h;

    if (lx.handle != NULL)
        return LAB_OK;
    h = dlopen(LIBXML_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        lab_diag_set(d, "dlopen(%s): %s (Debian package libxml2)",
                     LIBXML_SONAME, dlerror());
        return LAB_ERR_XML;
    }
    for (size_t i = 0; i < sizeof lx_entries / sizeof lx_entries[0]; i++) {
        *lx_entries[i].slot = dlsym(h, lx_entries[i].name);
        if (*lx_entries[i].slot == NULL) {
            lab_diag_set(d, "dlsym(%s, %s): %s", LIBXML_SONAME,
                         lx_entries[i].name, dlerror());
            dlclose(h);
            return LAB_ERR_XML;
        }
    }
    lx.handle = h;
    return LAB_OK;
}

static xmlDocPtr parse_xml(const char *buf, size_t len, const char *what,
                           struct lab_diag *d)
{
    xmlDocPtr doc;

    if (len > (16u << 20) || len > (size_t)INT32_MAX) {
        lab_diag_set(d, "%s: %zu bytes of XML, limit 16 MiB", what, len);
        return NULL;
    }
    /* No network, no DTD loading, no entity substitution: the XML may come
     * from a hostile remote daemon. */
    doc = lx.xmlReadMemory(buf, (int)len, what, NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR |
                               XML_PARSE_NOWARNING);
    if (doc == NULL) {
        const xmlError *e = lx.xmlGetLastError();

        lab_diag_set(d, "%s: not well-formed XML%s%s", what,
                     e != NULL && e->message != NULL ? ": " : "",
                     e != NULL && e->message != NULL ? e->message : "");
        /* libxml2 messages end with a newline */
        if (d != NULL && strlen(d->text) > 0 &&
            d->text[strlen(d->text) - 1] == '\n')
            d->text[strlen(d->text) - 1] = '\0';
        return NULL;
    }
    /* libvirt never sends a DTD; one could only declare entities, whose
     * expansion (when XPath reads text) is an attack, not data. */
    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        lab_diag_set(d, "%s: has a DTD (<!DOCTYPE ...>): refused", what);
        lx.xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

/* Number of nodes (or the number an XPath count() gives) for expr. */
static double xpath_number(xmlXPathContextPtr ctx, const char *expr)
{
    xmlXPathObjectPtr o = lx.xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    double v = 0;

    if (o != NULL && o->type == XPATH_NUMBER)
        v = o->floatval;
    lx.xmlXPathFreeObject(o);
    return v;
}

static void xpath_string(xmlXPathContextPtr ctx, const char *expr, char *out,
                         size_t size)
{
    xmlXPathObjectPtr o = lx.xmlXPathEvalExpression((const xmlChar *)expr, ctx);

    out[0] = '\0';
    if (o != NULL && o->type == XPATH_STRING && o->stringval != NULL) {
        /* keep printable ASCII only: a hostile daemon names the vendor */
        size_t j = 0;

        for (const xmlChar *p = o->stringval; *p != '\0' && j + 1 < size; p++)
            if (*p >= 0x20 && *p < 0x7f)
                out[j++] = (char)*p;
        out[j] = '\0';
    }
    lx.xmlXPathFreeObject(o);
}

#define HOST_FEATURE(n) "count(/capabilities/host/cpu/feature[@name='" n "'])"
#define MODEL_FEATURE(n)                                                       \
    "count(/domainCapabilities/cpu/mode[@name='host-model']/feature"           \
    "[@name='" n "' and @policy='require'])"
#define TPM_BACKEND(n)                                                         \
    "count(/domainCapabilities/devices/tpm[@supported='yes']/"                 \
    "enum[@name='backendModel']/value[normalize-space(.)='" n "'])"

static void caps_facts(struct lab_host *h, xmlXPathContextPtr x)
{
    xpath_string(x, "string(/capabilities/host/cpu/vendor)", h->vendor,
                 sizeof h->vendor);
    if (h->vendor[0] == '\0')
        snprintf(h->vendor, sizeof h->vendor, "unknown");
    h->hw_virt = xpath_number(x, HOST_FEATURE("vmx")) > 0 ||
                 xpath_number(x, HOST_FEATURE("svm")) > 0;
    h->in_vm = xpath_number(x, HOST_FEATURE("hypervisor")) > 0;
    if (xpath_number(x, HOST_FEATURE("npt")) > 0 ||
        xpath_number(x, HOST_FEATURE("vmx-ept")) > 0)
        h->slat = LAB_YES;
    else if (h->hw_virt &&
             xpath_number(x, "count(/capabilities/host/cpu/"
                             "feature[starts-with(@name,"
                             "'vmx-')])") == 0 &&
             xpath_number(x, HOST_FEATURE("vmx")) > 0)
        h->slat = LAB_UNSURE; /* libvirt lists no VMX capabilities */
    else
        h->slat = LAB_NO;
}

static void domcaps_facts(struct lab_host *h, xmlXPathContextPtr x)
{
    char dom[16];

    xpath_string(x, "string(/domainCapabilities/domain)", dom, sizeof dom);
    if (strcmp(dom, "kvm") != 0) {
        h->kvm = LAB_NO;
        snprintf(h->kvm_detail, sizeof h->kvm_detail,
                 "domain capabilities are for \"%s\", not kvm", dom);
        return;
    }
    h->kvm = LAB_YES;
    h->ro_memslots = LAB_YES; /* x86-64 KVM has had it since Linux 3.7 */
    h->ro_inferred = 1;
    h->nested = xpath_number(x, MODEL_FEATURE("vmx")) > 0 ||
                xpath_number(x, MODEL_FEATURE("svm")) > 0;
    if (h->slat != LAB_YES && (xpath_number(x, MODEL_FEATURE("npt")) > 0 ||
                               xpath_number(x, MODEL_FEATURE("vmx-ept")) > 0))
        h->slat = LAB_YES;
    /* "passthrough" only says QEMU can pass a host TPM through, not that
     * the host has one: libvirt does not tell. "emulator" means swtpm. */
    h->tpm_emulator = xpath_number(x, TPM_BACKEND("emulator")) > 0;
}

int lab_probe_parse_caps(struct lab_host *h, const char *caps, size_t caps_len,
                         const char *domcaps, size_t domcaps_len,
                         const char *domcaps_err, struct lab_diag *d)
{
    int ret = LAB_ERR_XML;
    xmlDocPtr cdoc = NULL, ddoc = NULL;
    xmlXPathContextPtr cx = NULL, dx = NULL;

    h->source = "libvirt";
    if (caps == NULL)
        return LAB_ERR_ARG;
    if (load_libxml(d) != LAB_OK)
        goto cleanup;
    cdoc = parse_xml(caps, caps_len, "capabilities", d);
    if (cdoc == NULL)
        goto cleanup;
    ret = LAB_ERR_ALLOC;
    cx = lx.xmlXPathNewContext(cdoc);
    if (cx == NULL)
        goto cleanup;
    ret = LAB_ERR_XML;
    if (xpath_number(cx, "count(/capabilities/host)") != 1) {
        lab_diag_set(d, "capabilities: no <capabilities><host> element");
        goto cleanup;
    }
    caps_facts(h, cx);
    if (domcaps == NULL) {
        h->kvm = LAB_NO;
        snprintf(h->kvm_detail, sizeof h->kvm_detail, "%s",
                 domcaps_err != NULL ? domcaps_err : "no domain capabilities");
        ret = LAB_OK;
        goto cleanup;
    }
    ddoc = parse_xml(domcaps, domcaps_len, "domain capabilities", d);
    if (ddoc == NULL)
        goto cleanup;
    ret = LAB_ERR_ALLOC;
    dx = lx.xmlXPathNewContext(ddoc);
    if (dx == NULL)
        goto cleanup;
    domcaps_facts(h, dx);
    if (h->kvm == LAB_YES &&
        xpath_number(cx, "count(/capabilities/guest[arch/@name='x86_64']/"
                         "arch/domain[@type='kvm'])") == 0) {
        h->kvm = LAB_NO;
        snprintf(h->kvm_detail, sizeof h->kvm_detail,
                 "no x86_64 guest of type kvm in the capabilities");
    }
    ret = LAB_OK;

cleanup:
    if (lx.handle != NULL) {
        lx.xmlXPathFreeContext(cx);
        lx.xmlXPathFreeContext(dx);
        lx.xmlFreeDoc(cdoc);
        lx.xmlFreeDoc(ddoc);
    }
    return ret;
}

int lab_probe_libvirt(struct lab_host *h, const char *uri, struct lab_diag *d)
{
    struct lab_virt *v = NULL;
    struct lab_diag derr = {""};
    char *caps = NULL, *domcaps = NULL;
    int ret;

    snprintf(h->uri, sizeof h->uri, "%s", uri);
    h->source = "libvirt";
    ret = lab_virt_open(&v, uri, d); /* read-write, but only reads */
    if (ret != LAB_OK)
        goto cleanup;
    ret = lab_virt_hostname(v, h->name, sizeof h->name, d);
    if (ret != LAB_OK)
        goto cleanup;
    ret = LAB_ERR_LIBVIRT;
    caps = lab_virt_caps(v, d);
    if (caps == NULL)
        goto cleanup;
    domcaps = lab_virt_domcaps(v, &derr); /* failing means: no KVM */
    ret = lab_probe_parse_caps(h, caps, strlen(caps), domcaps,
                               domcaps ? strlen(domcaps) : 0, derr.text, d);

cleanup:
    free(caps);
    free(domcaps);
    lab_virt_close(v);
    return ret;
}

/* ------------------------------------------------------------------ verdict */

static void reason(struct lab_host *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reason(struct lab_host *h, const char *fmt, ...)
{
    va_list ap;

    if (h->n_reasons >= LAB_MAX_REASONS)
        return;
    va_start(ap, fmt);
    vsnprintf(h->reasons[h->n_reasons++], LAB_REASON_MAX, fmt, ap);
    va_end(ap);
}

void lab_eligibility(struct lab_host *h)
{
    h->n_reasons = 0;
    if (h->kvm != LAB_YES)
        reason(h, "KVM is not usable%s%s", h->kvm_detail[0] ? ": " : "",
               h->kvm_detail);
    if (h->hw_virt != LAB_YES)
        reason(h, "no VT-x or AMD-V%s",
               strcmp(h->kvm_module, "kvm_pvm") == 0
                   ? " (KVM is kvm_pvm: shadow paging, guest ring 0 emulated)"
               : h->in_vm == LAB_YES
                   ? " (this host is a VM without nested virtualisation)"
                   : "");
    if (h->slat != LAB_YES)
        reason(h, "no EPT or NPT%s",
               h->slat == LAB_UNSURE ? " reported" : " (second-level paging)");
    if (h->ro_memslots != LAB_YES)
        reason(h, "no read-only memslots (KVM_CAP_READONLY_MEM)");
    if (h->tpm_host != LAB_YES && h->tpm_emulator != LAB_YES)
        reason(h, "no TPM: neither a host TPM nor swtpm");
    h->eligible = h->n_reasons == 0;
}
