/* test_lab_probe.c: eligibility from libvirt's capabilities XML, one host
 * kind per case (kvm_pvm as on the development machines, Intel VT-x with
 * EPT, AMD-V with NPT, no KVM, VT-x without reported EPT), the rules of
 * eligibility, and hostile XML (malformed, DTDs and entities). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lab/lab.h"

#define CAPS(vendor, features)                                                 \
    "<capabilities><host><uuid>x</uuid><cpu><arch>x86_64</arch>"               \
    "<model>m</model><vendor>" vendor "</vendor>" features "</cpu></host>"     \
    "<guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64"            \
    "</wordsize><domain type='qemu'/><domain type='kvm'/></arch></guest>"      \
    "</capabilities>"

#define DOMCAPS(model_features, tpm_backends)                                  \
    "<domainCapabilities><path>/usr/bin/qemu-system-x86_64</path>"             \
    "<domain>kvm</domain><machine>pc-i440fx-7.2</machine><arch>x86_64"         \
    "</arch><cpu><mode name='host-passthrough' supported='yes'/>"              \
    "<mode name='host-model' supported='yes'><model fallback='forbid'>m"       \
    "</model>" model_features "</mode></cpu><devices><tpm supported='yes'>"    \
    "<enum name='model'><value>tpm-tis</value></enum>"                         \
    "<enum name='backendModel'>" tpm_backends "</enum></tpm></devices>"        \
    "</domainCapabilities>"

#define F(n) "<feature name='" n "'/>"
#define REQ(n) "<feature policy='require' name='" n "'/>"
#define OFF(n) "<feature policy='disable' name='" n "'/>"
#define V(n) "<value>" n "</value>"

static void parse(struct lab_host *h, const char *caps, const char *domcaps,
                  const char *err)
{
    struct lab_diag d = {""};

    lab_host_init(h);
    if (lab_probe_parse_caps(h, caps, strlen(caps), domcaps,
                             domcaps ? strlen(domcaps) : 0, err, &d) != LAB_OK)
        fail_msg("parse: %s", d.text);
    lab_eligibility(h);
}

static int has_reason(const struct lab_host *h, const char *what)
{
    for (size_t i = 0; i < h->n_reasons; i++)
        if (strstr(h->reasons[i], what) != NULL)
            return 1;
    return 0;
}

/* This project's machines: AMD, KVM is kvm_pvm, no SVM to see. */
static void pvm_host(void **state)
{
    struct lab_host h;

    (void)state;
    parse(&h, CAPS("AMD", F("sse4.2") F("hypervisor")),
          DOMCAPS(OFF("svm") OFF("npt"), V("passthrough") V("emulator")), NULL);
    assert_string_equal(h.vendor, "AMD");
    assert_int_equal(h.hw_virt, LAB_NO);
    assert_int_equal(h.slat, LAB_NO);
    assert_int_equal(h.kvm, LAB_YES);
    assert_int_equal(h.ro_memslots, LAB_YES);
    assert_int_equal(h.ro_inferred, 1);
    assert_int_equal(h.nested, LAB_NO);
    assert_int_equal(h.tpm_emulator, LAB_YES);
    assert_int_equal(h.tpm_host, LAB_UNSURE);
    assert_int_equal(h.in_vm, LAB_YES);
    assert_int_equal(h.eligible, 0);
    assert_int_equal(h.n_reasons, 2);
    assert_true(has_reason(&h, "no VT-x or AMD-V"));
    assert_true(has_reason(&h, "VM without nested virtualisation"));
    assert_true(has_reason(&h, "no EPT or NPT"));
}

static void intel_vtx_ept(void **state)
{
    struct lab_host h;

    (void)state;
    parse(&h, CAPS("Intel", F("vmx") F("vmx-ept") F("vmx-unrestricted-guest")),
          DOMCAPS(REQ("vmx") REQ("vmx-ept"), V("emulator")), NULL);
    assert_string_equal(h.vendor, "Intel");
    assert_int_equal(h.hw_virt, LAB_YES);
    assert_int_equal(h.slat, LAB_YES);
    assert_int_equal(h.nested, LAB_YES);
    assert_int_equal(h.in_vm, LAB_NO);
    assert_int_equal(h.eligible, 1);
    assert_int_equal(h.n_reasons, 0);
}

static void amd_v_npt(void **state)
{
    struct lab_host h;

    (void)state;
    parse(&h, CAPS("AMD", F("svm") F("npt") F("nrip-save")),
          DOMCAPS(OFF("svm"), V("passthrough") V("emulator")), NULL);
    assert_int_equal(h.hw_virt, LAB_YES);
    assert_int_equal(h.slat, LAB_YES);
    assert_int_equal(h.nested, LAB_NO);
    assert_int_equal(h.eligible, 1);
}

static void no_kvm(void **state)
{
    struct lab_host h;

    (void)state;
    parse(&h, CAPS("Intel", F("vmx") F("vmx-ept")), NULL,
          "virConnectGetDomainCapabilities(kvm, x86_64): KVM is not "
          "supported");
    assert_int_equal(h.kvm, LAB_NO);
    assert_int_equal(h.ro_memslots, LAB_UNSURE);
    assert_int_equal(h.tpm_emulator, LAB_UNSURE);
    assert_int_equal(h.eligible, 0);
    assert_true(has_reason(&h, "KVM is not usable: "
                               "virConnectGetDomainCapabilities"));
    assert_true(has_reason(&h, "no TPM"));
}

static void vtx_without_reported_ept(void **state)
{
    struct lab_host h;

    (void)state;
    parse(&h, CAPS("Intel", F("vmx")), DOMCAPS("", V("emulator")), NULL);
    assert_int_equal(h.hw_virt, LAB_YES);
    assert_int_equal(h.slat, LAB_UNSURE);
    assert_int_equal(h.eligible, 0);
    assert_true(has_reason(&h, "no EPT or NPT reported"));
}

static void no_tpm(void **state)
{
    struct lab_host h;

    (void)state;
    parse(&h, CAPS("AMD", F("svm") F("npt")), DOMCAPS("", V("passthrough")),
          NULL);
    assert_int_equal(h.tpm_emulator, LAB_NO);
    assert_int_equal(h.eligible, 0);
    assert_int_equal(h.n_reasons, 1);
    assert_true(has_reason(&h, "no TPM: neither a host TPM nor swtpm"));
}

static void eligibility_rules(void **state)
{
    struct lab_host h;

    (void)state;
    lab_host_init(&h);
    lab_eligibility(&h); /* nothing known: everything missing */
    assert_int_equal(h.eligible, 0);
    assert_int_equal(h.n_reasons, 5);
    h.kvm = h.hw_virt = h.slat = h.ro_memslots = LAB_YES;
    h.tpm_host = LAB_YES; /* a host TPM alone is enough */
    lab_eligibility(&h);
    assert_int_equal(h.eligible, 1);
    snprintf(h.kvm_module, sizeof h.kvm_module, "kvm_pvm");
    h.hw_virt = LAB_NO;
    lab_eligibility(&h);
    assert_int_equal(h.eligible, 0);
    assert_true(has_reason(&h, "KVM is kvm_pvm"));
}

struct hostile {
    const char *xml;
    const char *why;
};

static void hostile_xml(void **state)
{
    static const struct hostile cases[] = {
        {"<capabilities><host>", "capabilities: not well-formed XML"},
        {"", "capabilities: not well-formed XML"},
        {"<other/>", "no <capabilities><host> element"},
        {"<!DOCTYPE c [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
         "<capabilities><host><cpu><vendor>&x;</vendor></cpu></host>"
         "</capabilities>",
         "has a DTD"},
        {"<!DOCTYPE c [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]>"
         "<capabilities><host><cpu><vendor>&b;</vendor></cpu></host>"
         "</capabilities>",
         "has a DTD"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lab_host h;
        struct lab_diag d = {""};
        int ret;

        lab_host_init(&h);
        ret = lab_probe_parse_caps(&h, cases[i].xml, strlen(cases[i].xml), NULL,
                                   0, "x", &d);
        if (ret != LAB_ERR_XML || strstr(d.text, cases[i].why) == NULL)
            fail_msg("case %zu: ret %d, diag \"%s\", want \"%s\"", i, ret,
                     d.text, cases[i].why);
    }
}

static void hostile_strings_are_cleaned(void **state)
{
    struct lab_host h;

    (void)state;
    /* XML 1.0 cannot carry control characters; non-ASCII it can. */
    parse(&h, CAPS("In\xc3\xa9tel\xe2\x80\xae-with-a-long-vendor-name", ""),
          DOMCAPS("", V("emulator")), NULL);
    for (const char *p = h.vendor; *p != '\0'; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    assert_string_equal(h.vendor, "Intel-with-a-lo");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pvm_host),
        cmocka_unit_test(intel_vtx_ept),
        cmocka_unit_test(amd_v_npt),
        cmocka_unit_test(no_kvm),
        cmocka_unit_test(vtx_without_reported_ept),
        cmocka_unit_test(no_tpm),
        cmocka_unit_test(eligibility_rules),
        cmocka_unit_test(hostile_xml),
        cmocka_unit_test(hostile_strings_are_cleaned),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
