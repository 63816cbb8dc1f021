/* hv_dev_platform.c: the few PC platform ports a Linux guest touches
 * besides the UART and the in-kernel PIC/PIT: the ACPI sleep registers
 * (power off), the reset control register (reboot), a CMOS stub and the
 * POST port, an empty PCI configuration space and a pvpanic device. The
 * ACPI tables (firmware/fw_acpi.c) name the first two and the last.
 *
 * One access at a time, of a size the port takes; a string access, any
 * other size, or a direction a port does not take is left to the exit
 * loop's single fatal path, like every port that is not here. */
#include <string.h>

#include "firmware/fw_linux.h"
#include "hv/hv_int.h"
#include "hv/hv_log.h"

#define SLP_EN 0x20 /* sleep control register: enter the sleep state */
#define SLP_TYP(v) (((v) >> 2) & 7)
#define RESET_CPU 0x04 /* reset control register: bit 2 resets */

/* Sleep control: (SLP_TYP << 2) | SLP_EN with \_S5's type powers off.
 * Linux knows no other sleep state here (the DSDT has only \_S5). */
static int sleep_ctl(struct hv_vcpu *v, uint8_t val)
{
    if (!(val & SLP_EN))
        return 0;
    if (SLP_TYP(val) != FW_LINUX_SLP_TYP_S5) {
        hv_log("vCPU %u: sleep type %u requested; only S5 (power off) "
               "exists, ignored",
               v->id, SLP_TYP(val));
        return 0;
    }
    hv_log("guest powered off (ACPI S5)");
    hv_vm_stop(v->vm, HV_STOP_GUEST_OFF, 0);
    return -1;
}

/* Reset control (0xcf9): 0x06 (and 0x0e) reset; reboot=pci writes 0x02
 * first, which only selects the reset kind. */
static int reset_ctl(struct hv_vcpu *v, uint8_t val)
{
    if (!(val & RESET_CPU))
        return 0;
    hv_log("guest requested a reboot (0x%02x on port 0x%x)", val,
           FW_LINUX_PORT_RESET);
    hv_vm_stop(v->vm, HV_STOP_GUEST_REBOOT, 0);
    return -1;
}

/* pvpanic: the guest kernel says it panicked. A panicked guest is dead:
 * the VM stops (exit status 3) instead of idling in the guest's panic
 * loop, and a health watch open on a patch reports it, unrepaired. A
 * crash kernel taking over is only logged. */
static int pvpanic_out(struct hv_vcpu *v, uint32_t val)
{
    if (val & FW_LINUX_PVPANIC_PANICKED) {
        hv_err("guest kernel panicked (pvpanic, vCPU %u)", v->id);
        hv_vm_stop(v->vm, HV_STOP_GUEST_FAIL, 0);
        return -1;
    }
    if (val & FW_LINUX_PVPANIC_CRASH_LOADED)
        hv_log("guest kernel crashed; its crash kernel runs (pvpanic)");
    return 0;
}

static int ignore(struct hv_vcpu *v, uint32_t val)
{
    (void)v;
    (void)val;
    return 0;
}

static int sleep_ctl_out(struct hv_vcpu *v, uint32_t val)
{
    return sleep_ctl(v, (uint8_t)val);
}

static int reset_ctl_out(struct hv_vcpu *v, uint32_t val)
{
    return reset_ctl(v, (uint8_t)val);
}

#define NO_READ (-1)
static const struct {
    uint16_t port, nports;
    uint8_t sizes; /* access sizes taken: a mask of 1, 2, 4 */
    int read;      /* each byte read returns this, or NO_READ */
    int (*out)(struct hv_vcpu *v, uint32_t val);
} hv_platform_ports[] = {
    {FW_LINUX_PORT_SLEEP_CTL, 1, 1, 0, sleep_ctl_out},
    {FW_LINUX_PORT_SLEEP_STS, 1, 1, 0, ignore}, /* Linux writes 0x80 */
    {FW_LINUX_PORT_RESET, 1, 1, 0, reset_ctl_out},
    /* PCI configuration mechanism #1 with no bus behind it. Linux reads
     * the vendor ID of 00:02.0 (trim_snb_memory, a Sandy Bridge graphics
     * quirk) before it parses "pci=off"; all ones means no device, and
     * an address register that does not read back means no mechanism. */
    {0xcf8, 4, 4, 0xff, ignore}, /* after 0xcf9: a dword only */
    {0xcfc, 4, 1 | 2 | 4, 0xff, ignore},
    /* CMOS index and data: Linux's BIOS reboot path and AP start-up write
     * the shutdown status byte; the wall clock comes from kvmclock. */
    {0x70, 2, 1, 0, ignore},
    {0x80, 1, 1, NO_READ, ignore}, /* POST code / I/O delay */
    /* The guest asks for its text lock (hv_lock.c); reads 0. */
    {HV_LINUX_LOCK_PORT, 1, 1, 0, hv_lock_port_out},
    /* pvpanic (fw_acpi.c's PEVT): reads say which events it takes. */
    {FW_LINUX_PORT_PVPANIC, 1, 1,
     FW_LINUX_PVPANIC_PANICKED | FW_LINUX_PVPANIC_CRASH_LOADED, pvpanic_out},
};

int hv_platform_io(struct hv_vcpu *v, uint16_t port, int out, uint8_t *data,
                   unsigned size, unsigned count)
{
    for (size_t i = 0;
         i < sizeof hv_platform_ports / sizeof hv_platform_ports[0]; i++) {
        unsigned first = hv_platform_ports[i].port;
        if (port < first || port >= first + hv_platform_ports[i].nports)
            continue;
        if ((size != 1 && size != 2 && size != 4) ||
            !(hv_platform_ports[i].sizes & size) || count != 1 ||
            port + size > first + hv_platform_ports[i].nports ||
            (!out && hv_platform_ports[i].read == NO_READ))
            return HV_IO_UNCLAIMED;
        if (!out) {
            memset(data, hv_platform_ports[i].read, size);
            return 0;
        }
        uint32_t val = 0;
        memcpy(&val, data, size); /* x86: little-endian */
        return hv_platform_ports[i].out(v, val);
    }
    return HV_IO_UNCLAIMED;
}
