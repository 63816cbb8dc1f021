/* fw_acpi.c: the ACPI tables of a Linux guest: RSDP, XSDT, FADT, MADT and
 * a DSDT, hardware-reduced (see fw_linux.h for why).
 *
 * Field offsets follow the ACPI 6.0 specification, section 5.2; every
 * multi-byte field is written little-endian through put(), never through a
 * C struct, so the bytes are exactly what the spec lays out. */
#include <string.h>

#include "firmware/fw_linux.h"

#define ACPI_HDR_SIZE 36u
#define RSDP_SIZE 36u
#define FADT_SIZE 276u /* revision 6 */
#define FADT_REVISION 6u
#define MADT_REVISION 4u /* ACPI 6.0 */
#define DSDT_REVISION 2u /* 64-bit AML integers */

#define OEM_ID "HVPTCH"
#define OEM_TABLE_ID "HVPATCH "
#define CREATOR_ID "HVPT"

/* FADT Flags (ACPI 6.0 table 5-35). */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4) /* no fixed-feature power button */
#define FADT_F_SLP_BUTTON (1u << 5) /* no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HEADLESS (1u << 12)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)
/* FADT IAPC_BOOT_ARCH (table 5-36): no 8042, so Linux does not probe
 * ports 0x60/0x64; no VGA; no CMOS RTC, so it registers no rtc_cmos. */
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

/* MADT (table 5-43 and following). */
#define MADT_PCAT_COMPAT 1u /* the in-kernel irqchip has two 8259s */
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_NMI 4
#define MADT_LAPIC_LEN 8u
#define MADT_IOAPIC_LEN 12u
#define MADT_ISO_LEN 10u
#define MADT_NMI_LEN 6u
#define MADT_ENABLED 1u

/* Generic Address Structure (section 5.2.3.2): a byte in system I/O. */
#define GAS_SIZE 12u
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

/* The DSDT's AML (ACPI 6.0 section 20), as ASL:
 *
 *   Scope (\_SB) {
 *     Device (COM1) {
 *       Name (_HID, EisaId ("PNP0501"))
 *       Name (_UID, Zero)
 *       Name (_CRS, ResourceTemplate () {
 *         IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
 *         IRQNoFlags () {4}
 *       })
 *     }
 *   }
 *   Scope (\_SB) {
 *     Device (PEVT) {
 *       Name (_HID, "QEMU0001")
 *       Name (_CRS, ResourceTemplate () {
 *         IO (Decode16, 0x0505, 0x0505, 0x01, 0x01)
 *       })
 *     }
 *   }
 *   Name (_S5, Package () { 5, 5, 0, 0 })
 *
 * Hardware-reduced Linux maps no ISA IRQ by default: COM1's interrupt
 * reaches the 8250 driver only through this _CRS (8250_pnp). \_S5's
 * SLP_TYP (5) is what Linux writes to the sleep control register. PEVT
 * is the pvpanic device (FW_LINUX_PORT_PVPANIC), in a Scope of its own so
 * that COM1's package lengths stay as they were. */
/* clang-format off */
static const uint8_t dsdt_aml[] = {
    0x10, 0x33, '\\', '_', 'S', 'B', '_',      /* Scope, PkgLength 51 */
    0x5b, 0x82, 0x2b, 'C', 'O', 'M', '1',      /* Device, PkgLength 43 */
    0x08, '_', 'H', 'I', 'D', 0x0c,            /* Name, DWordConst */
    0x41, 0xd0, 0x05, 0x01,                    /*   EisaId PNP0501 */
    0x08, '_', 'U', 'I', 'D', 0x00,            /* Name, Zero */
    0x08, '_', 'C', 'R', 'S', 0x11, 0x10,      /* Name, Buffer, PkgLen 16 */
    0x0a, 0x0d,                                /*   BufferSize 13 */
    0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, /* IO descriptor */
    0x22, 0x10, 0x00,                          /*   IRQNoFlags {4} */
    0x79, 0x00,                                /*   End tag */
    0x10, 0x2f, '\\', '_', 'S', 'B', '_',      /* Scope, PkgLength 47 */
    0x5b, 0x82, 0x27, 'P', 'E', 'V', 'T',      /* Device, PkgLength 39 */
    0x08, '_', 'H', 'I', 'D', 0x0d,            /* Name, String */
    'Q', 'E', 'M', 'U', '0', '0', '0', '1', 0x00,
    0x08, '_', 'C', 'R', 'S', 0x11, 0x0d,      /* Name, Buffer, PkgLen 13 */
    0x0a, 0x0a,                                /*   BufferSize 10 */
    0x47, 0x01, 0x05, 0x05, 0x05, 0x05, 0x01, 0x01, /* IO descriptor */
    0x79, 0x00,                                /*   End tag */
    0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, /* Name, Package (4) */
    0x0a, FW_LINUX_SLP_TYP_S5, 0x0a, FW_LINUX_SLP_TYP_S5, 0x00, 0x00,
};
/* clang-format on */
_Static_assert(sizeof dsdt_aml == 114, "AML package lengths above");
_Static_assert(FW_LINUX_COM1_PORT == 0x3f8 && FW_LINUX_COM1_IRQ == 4,
               "COM1 is hard-coded in dsdt_aml");
_Static_assert(FW_LINUX_PORT_PVPANIC == 0x505,
               "the pvpanic port is hard-coded in dsdt_aml");

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint8_t fw_acpi_sum(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* The 36-byte header every table but the RSDP starts with; the checksum
 * (offset 9) is set by finish() once the body is written. */
static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put(t + 4, len, 4);
    t[8] = rev;
    memcpy(t + 10, OEM_ID, 6);
    memcpy(t + 16, OEM_TABLE_ID, 8);
    put(t + 24, 1, 4); /* OEM revision */
    memcpy(t + 28, CREATOR_ID, 4);
    put(t + 32, 1, 4); /* creator revision */
}

static void finish(uint8_t *t, uint32_t len)
{
    t[9] = 0;
    t[9] = (uint8_t)(0x100 - fw_acpi_sum(t, len));
}

static void gas_io(uint8_t *g, uint16_t port)
{
    g[0] = GAS_SYSTEM_IO;
    g[1] = 8; /* register bit width */
    g[2] = 0; /* bit offset */
    g[3] = GAS_ACCESS_BYTE;
    put(g + 4, port, 8);
}

static void build_rsdp(uint8_t *t, uint64_t xsdt)
{
    memcpy(t, "RSD PTR ", 8);
    memcpy(t + 9, OEM_ID, 6);
    t[15] = 2;         /* revision: ACPI 2.0+, XSDT valid */
    put(t + 16, 0, 4); /* no RSDT: Linux uses the XSDT when rev >= 2 */
    put(t + 20, RSDP_SIZE, 4);
    put(t + 24, xsdt, 8);
    t[8] = (uint8_t)(0x100 - fw_acpi_sum(t, 20)); /* first 20 bytes */
    t[32] = (uint8_t)(0x100 - fw_acpi_sum(t, RSDP_SIZE));
}

static void build_xsdt(uint8_t *t, uint64_t fadt, uint64_t madt)
{
    uint32_t len = ACPI_HDR_SIZE + 2 * 8;
    header(t, "XSDT", len, 1);
    put(t + 36, fadt, 8);
    put(t + 44, madt, 8);
    finish(t, len);
}

static void build_fadt(uint8_t *t, uint64_t dsdt)
{
    header(t, "FACP", FADT_SIZE, FADT_REVISION);
    /* FIRMWARE_CTRL (36) and X_FIRMWARE_CTRL stay 0: no FACS in
     * hardware-reduced mode. DSDT (40) stays 0 since X_DSDT is set. */
    t[45] = 0;         /* Preferred_PM_Profile: unspecified */
    put(t + 46, 9, 2); /* SCI_INT: unused when hardware-reduced; 9 as on a
                          PC, not 0, which would make Linux read the
                          IRQ0 -> GSI 2 override as the SCI's */
    /* SMI_CMD, PM1/PM2/PM timer/GPE blocks (48 .. 95): all 0, none. */
    put(t + 109, IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT, 2);
    put(t + 112,
        FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON |
            FADT_F_RESET_REG_SUP | FADT_F_HEADLESS | FADT_F_HW_REDUCED_ACPI,
        4);
    gas_io(t + 116, FW_LINUX_PORT_RESET); /* RESET_REG */
    t[128] = FW_LINUX_RESET_VALUE;
    t[131] = 0;                               /* FADT minor version: ACPI 6.0 */
    put(t + 140, dsdt, 8);                    /* X_DSDT */
    gas_io(t + 244, FW_LINUX_PORT_SLEEP_CTL); /* SLEEP_CONTROL_REG */
    gas_io(t + 256, FW_LINUX_PORT_SLEEP_STS); /* SLEEP_STATUS_REG */
    memcpy(t + 268, "hvpatch", 8);            /* hypervisor vendor identity */
    finish(t, FADT_SIZE);
}

static uint32_t madt_size(unsigned ncpus)
{
    return ACPI_HDR_SIZE + 8 + ncpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN +
           MADT_ISO_LEN + MADT_NMI_LEN;
}

static void build_madt(uint8_t *t, unsigned ncpus)
{
    uint32_t len = madt_size(ncpus);
    header(t, "APIC", len, MADT_REVISION);
    put(t + 36, FW_LINUX_LAPIC_GPA, 4);
    put(t + 40, MADT_PCAT_COMPAT, 4);
    uint8_t *e = t + 44;
    for (unsigned i = 0; i < ncpus; i++, e += MADT_LAPIC_LEN) {
        e[0] = MADT_LAPIC;
        e[1] = MADT_LAPIC_LEN;
        e[2] = (uint8_t)i; /* ACPI processor UID */
        e[3] = (uint8_t)i; /* APIC ID: KVM's vCPU id, CPUID.1:EBX[31:24] */
        put(e + 4, MADT_ENABLED, 4);
    }
    e[0] = MADT_IOAPIC;
    e[1] = MADT_IOAPIC_LEN;
    e[2] = 0; /* IOAPIC ID: KVM's in-kernel IOAPIC resets to 0 */
    e[3] = 0;
    put(e + 4, FW_LINUX_IOAPIC_GPA, 4);
    put(e + 8, 0, 4); /* GSI base */
    e += MADT_IOAPIC_LEN;
    e[0] = MADT_ISO; /* ISA IRQ 0 (PIT) is wired to IOAPIC pin 2 */
    e[1] = MADT_ISO_LEN;
    e[2] = 0; /* bus: ISA */
    e[3] = 0; /* source IRQ */
    put(e + 4, 2, 4);
    put(e + 8, 0, 2); /* flags: conforms to the bus (edge, high) */
    e += MADT_ISO_LEN;
    e[0] = MADT_LAPIC_NMI;
    e[1] = MADT_NMI_LEN;
    e[2] = 0xff;      /* all processors */
    put(e + 3, 0, 2); /* flags: conforms */
    e[5] = 1;         /* LINT1 */
    finish(t, len);
}

static void build_dsdt(uint8_t *t)
{
    uint32_t len = ACPI_HDR_SIZE + (uint32_t)sizeof dsdt_aml;
    header(t, "DSDT", len, DSDT_REVISION);
    memcpy(t + ACPI_HDR_SIZE, dsdt_aml, sizeof dsdt_aml);
    finish(t, len);
}

static size_t align16(size_t v)
{
    return (v + 15) & ~(size_t)15;
}

int fw_acpi_build(uint8_t *dst, size_t cap, uint64_t gpa, unsigned ncpus,
                  struct fw_acpi_info *info)
{
    memset(info, 0, sizeof *info);
    if (ncpus == 0 || ncpus > FW_LINUX_MAX_CPUS)
        return FW_LINUX_ERR_NCPUS;
    /* The RSDP is on a 16-byte boundary (found by the BIOS-area scan),
     * the rest follow it, each 16-byte aligned. */
    size_t xsdt = align16(RSDP_SIZE);
    size_t fadt = align16(xsdt + ACPI_HDR_SIZE + 16);
    size_t madt = align16(fadt + FADT_SIZE);
    size_t dsdt = align16(madt + madt_size(ncpus));
    size_t end = dsdt + ACPI_HDR_SIZE + sizeof dsdt_aml;
    if ((gpa & 15) != 0 || end > cap || gpa + end > 0x100000000ull)
        return FW_LINUX_ERR_ACPI;
    memset(dst, 0, end);
    build_rsdp(dst, gpa + xsdt);
    build_xsdt(dst + xsdt, gpa + fadt, gpa + madt);
    build_fadt(dst + fadt, gpa + dsdt);
    build_madt(dst + madt, ncpus);
    build_dsdt(dst + dsdt);
    *info = (struct fw_acpi_info){
        .rsdp = gpa,
        .xsdt = gpa + xsdt,
        .fadt = gpa + fadt,
        .madt = gpa + madt,
        .dsdt = gpa + dsdt,
        .size = end,
    };
    return FW_LINUX_OK;
}
