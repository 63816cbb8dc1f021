/* hv_dev_platform.c: the few PC platform ports a Linux guest touches
 * besides the UART and the in-kernel PIC/PIT: the ACPI sleep registers
 * (power off), the reset control register (reboot), a CMOS stub and the
 * POST port, an empty PCI configuration space and a pvpanic device. The
 * ACPI tables (firmware/fw_acpi.c) name the first two and the last.
 *
 * One access at a time, of a size the port takes; a string access, any
 * other size, or a direction a port does not take is left to the exit
 * loop's single fatal path, like every port that is not here. What a
 * panic or a text-lock request leads to is the assembly's choice (ops). */
#include <string.h>

#include "firmware/fw_linux.h"
#include "hv/dev/hv_dev_platform.h"
#include "hv/machine/hv_io.h"
#include "hv/machine/hv_machine.h"
#include "lib/hv_log.h"

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

/* pvpanic: the guest kernel says it panicked; what follows is ops'
 * (hv_run.c: the VM stops, exit status 3, instead of idling in the
 * guest's panic loop). A crash kernel taking over is only logged. */
static int pvpanic_out(struct hv_platform *p, struct hv_vcpu *v, uint32_t val)
{
    if (val & FW_LINUX_PVPANIC_PANICKED) {
        hv_err("guest kernel panicked (pvpanic, vCPU %u)", v->id);
        return p->ops.panicked(p->ops.ctx, v);
    }
    if (val & FW_LINUX_PVPANIC_CRASH_LOADED)
        hv_log("guest kernel crashed; its crash kernel runs (pvpanic)");
    return 0;
}

static int lock_out(struct hv_platform *p, struct hv_vcpu *v, uint32_t val)
{
    (void)val;
    p->ops.lock_request(p->ops.ctx, v);
    return 0;
}

static int ignore(struct hv_platform *p, struct hv_vcpu *v, uint32_t val)
{
    (void)p;
    (void)v;
    (void)val;
    return 0;
}

static int sleep_ctl_out(struct hv_platform *p, struct hv_vcpu *v,
                         uint32_t val)
{
    (void)p;
    return sleep_ctl(v, (uint8_t)val);
}

static int reset_ctl_out(struct hv_platform *p, struct hv_vcpu *v,
                         uint32_t val)
{
    (void)p;
    return reset_ctl(v, (uint8_t)val);
}

#define NO_READ (-1)
static const struct {
    uint16_t port, nports;
    uint8_t sizes; /* access sizes taken: a mask of 1, 2, 4 */
    int read;      /* each byte read returns this, or NO_READ */
    int (*out)(struct hv_platform *p, struct hv_vcpu *v, uint32_t val);
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
    {HV_LINUX_LOCK_PORT, 1, 1, 0, lock_out},
    /* pvpanic (fw_acpi.c's PEVT): reads say which events it takes. */
    {FW_LINUX_PORT_PVPANIC, 1, 1,
     FW_LINUX_PVPANIC_PANICKED | FW_LINUX_PVPANIC_CRASH_LOADED, pvpanic_out},
};

#define NPORTS (sizeof hv_platform_ports / sizeof hv_platform_ports[0])

/* Every range of the table is registered with this one handler, which
 * finds the row again: the bus stays free of per-port callbacks. */
static int platform_io(void *dev, struct hv_vcpu *v, const struct hv_io *io)
{
    unsigned size = io->size;
    for (size_t i = 0; i < NPORTS; i++) {
        unsigned first = hv_platform_ports[i].port;
        if (io->port < first || io->port >= first + hv_platform_ports[i].nports)
            continue;
        if ((size != 1 && size != 2 && size != 4) ||
            !(hv_platform_ports[i].sizes & size) || io->count != 1 ||
            io->port + size > first + hv_platform_ports[i].nports ||
            (!io->out && hv_platform_ports[i].read == NO_READ))
            return HV_IO_UNCLAIMED;
        if (!io->out) {
            memset(io->data, hv_platform_ports[i].read, size);
            return 0;
        }
        uint32_t val = 0;
        memcpy(&val, io->data, size); /* x86: little-endian */
        return hv_platform_ports[i].out(dev, v, val);
    }
    return HV_IO_UNCLAIMED;
}

/* The rows' ports as the bus takes them, ranges [lo, hi): rows that
 * overlap or touch become one range (the reset register 0xcf9 lies inside
 * the PCI address register's 0xcf8-0xcfb); platform_io tells them apart
 * by the table's order. Returns the number of ranges. */
static unsigned merged_ranges(unsigned lo_out[NPORTS], unsigned hi_out[NPORTS])
{
    unsigned n = 0;
    for (size_t i = 0; i < NPORTS; i++) {
        unsigned lo = hv_platform_ports[i].port;
        unsigned hi = lo + hv_platform_ports[i].nports;
        for (unsigned j = 0; j < n;) {
            if (lo > hi_out[j] || hi < lo_out[j]) {
                j++;
                continue;
            }
            lo = lo < lo_out[j] ? lo : lo_out[j]; /* take it in, look again */
            hi = hi > hi_out[j] ? hi : hi_out[j];
            n--;
            lo_out[j] = lo_out[n];
            hi_out[j] = hi_out[n];
            j = 0;
        }
        lo_out[n] = lo;
        hi_out[n++] = hi;
    }
    return n;
}

int hv_platform_attach(struct hv_platform *p, struct hv_io_bus *bus,
                       const struct hv_platform_ops *ops)
{
    unsigned lo[NPORTS], hi[NPORTS];
    unsigned n = merged_ranges(lo, hi);
    p->ops = *ops;
    for (unsigned i = 0; i < n; i++)
        if (hv_io_register(bus, (uint16_t)lo[i], (uint16_t)(hi[i] - lo[i]),
                           "platform", platform_io, p) != 0)
            return -1;
    return 0;
}
