/* hv_hypercall.h: the demo guest's hypercall device: the port-I/O
 * hypercalls of lib/hv_abi.h (heartbeat, ucall, shutdown, patch list). */
#ifndef HV_HYPERCALL_H
#define HV_HYPERCALL_H

#include <stdint.h>

#include "hv/machine/hv_io.h"

struct hv_vcpu;

/* The hypercalls that reach beyond the device; set by the assembly
 * (hv_run.c). Both are called on the vCPU's thread. */
struct hv_hypercall_ops {
    void *ctx;
    /* HV_HC_HEARTBEAT: vCPU v reports its count (the health watch). */
    void (*heartbeat)(void *ctx, struct hv_vcpu *v, uint64_t count);
    /* HV_HC_PATCHES: fills the guest's struct hv_hc_patches at gpa.
     * Returns 0, or -1 if gpa is not guest RAM. */
    int (*patch_list)(void *ctx, uint32_t gpa);
};

struct hv_hypercalls {
    struct hv_hypercall_ops ops;
};

/* Registers the HV_HC_COUNT ports from HV_PORT_HC_BASE on bus: a 4-byte
 * `out` each (anything else is left unclaimed). Returns 0 or -1 (logged). */
int hv_hypercall_attach(struct hv_hypercalls *hc, struct hv_io_bus *bus,
                        const struct hv_hypercall_ops *ops);

#endif /* HV_HYPERCALL_H */
