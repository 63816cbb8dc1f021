/* hv_dev_platform.h: a Linux guest's PC platform ports (ACPI sleep and
 * reset, CMOS and POST stubs, an empty PCI configuration space, pvpanic
 * and the text-lock port). */
#ifndef HV_DEV_PLATFORM_H
#define HV_DEV_PLATFORM_H

#include "hv/machine/hv_io.h"

struct hv_vcpu;

/* What the platform asks of the rest of the monitor; set by the assembly
 * (hv_run.c), which decides what each event means. */
struct hv_platform_ops {
    void *ctx;
    /* The guest wrote its text-lock port (HV_LINUX_LOCK_PORT). */
    void (*lock_request)(void *ctx, struct hv_vcpu *v);
    /* pvpanic: the guest kernel panicked. Returns 0 to keep running, -1
     * once the VM must stop (recorded with hv_vm_stop). */
    int (*panicked)(void *ctx, struct hv_vcpu *v);
};

struct hv_platform {
    struct hv_platform_ops ops;
};

/* Registers the platform's port ranges on bus with ops. Power-off (S5)
 * and reset stop the VM themselves (hv_vm_stop). Returns 0 or -1
 * (logged). */
int hv_platform_attach(struct hv_platform *p, struct hv_io_bus *bus,
                       const struct hv_platform_ops *ops);

#endif /* HV_DEV_PLATFORM_H */
