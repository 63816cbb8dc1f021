/* hv_hypercall.c: the port-I/O hypercalls of lib/hv_abi.h.
 *
 * Arguments are guest-controlled: structs are read through hv_gpa_ram()
 * and copied before use, strings are forced to end in NUL. A malformed
 * request is logged (rate-limited) and ignored; the guest keeps running.
 * Heartbeats and the patch list go to ops (the health watch, the live
 * patches): the device itself knows no service. */
#include <stdatomic.h>
#include <string.h>

#include "hv/dev/hv_hypercall.h"
#include "hv/machine/hv_io.h"
#include "hv/machine/hv_machine.h"
#include "lib/hv_log.h"

#define HV_BAD_HC_LOG_MAX 8

static int bad_request(struct hv_vcpu *v, unsigned nr, uint32_t arg)
{
    static atomic_uint logged;
    if (atomic_fetch_add(&logged, 1) < HV_BAD_HC_LOG_MAX)
        hv_log("vCPU %u: ignored malformed hypercall %u (arg 0x%x)", v->id,
               nr, arg);
    return 0;
}

static int hc_heartbeat(struct hv_hypercalls *hc, struct hv_vcpu *v,
                        uint32_t arg)
{
    struct hv_hc_heartbeat hb;
    const void *p = hv_gpa_ram(v->vm, arg, sizeof hb);
    if (!p)
        return bad_request(v, HV_HC_HEARTBEAT, arg);
    memcpy(&hb, p, sizeof hb);
    if (hb.cpu != v->id)
        return bad_request(v, HV_HC_HEARTBEAT, arg);
    hc->ops.heartbeat(hc->ops.ctx, v, hb.count);
    return 0;
}

static int hc_ucall(struct hv_vcpu *v, uint32_t arg)
{
    struct hv_hc_ucall u;
    const void *p = hv_gpa_ram(v->vm, arg, sizeof u);
    if (!p)
        return bad_request(v, HV_HC_UCALL, arg);
    memcpy(&u, p, sizeof u);
    u.file[sizeof u.file - 1] = '\0';
    u.msg[sizeof u.msg - 1] = '\0';
    switch (u.kind) {
    case HV_UCALL_PRINT:
        hv_log("guest (vCPU %u) %s:%u: %s", v->id, u.file, u.line, u.msg);
        return 0;
    case HV_UCALL_DONE:
        hv_log("guest (vCPU %u) done with phase %llu", v->id,
               (unsigned long long)u.args[0]);
        return 0;
    case HV_UCALL_FAIL:
        hv_err("guest failure (vCPU %u) at %s:%u: %s [0x%llx 0x%llx 0x%llx "
               "0x%llx]; stopping VM",
               v->id, u.file, u.line, u.msg, (unsigned long long)u.args[0],
               (unsigned long long)u.args[1], (unsigned long long)u.args[2],
               (unsigned long long)u.args[3]);
        hv_vm_stop(v->vm, HV_STOP_GUEST_FAIL, 0);
        return -1;
    default:
        return bad_request(v, HV_HC_UCALL, arg);
    }
}

static int hypercall(struct hv_hypercalls *hc, struct hv_vcpu *v,
                     unsigned nr, uint32_t arg)
{
    switch (nr) {
    case HV_HC_HEARTBEAT:
        return hc_heartbeat(hc, v, arg);
    case HV_HC_UCALL:
        return hc_ucall(v, arg);
    case HV_HC_SHUTDOWN:
        hv_log("guest shut down with code %u", arg);
        hv_vm_stop(v->vm, HV_STOP_GUEST_OFF, (int)(arg & 0xff));
        return -1;
    case HV_HC_PATCHES:
        if (hc->ops.patch_list(hc->ops.ctx, arg) != 0)
            return bad_request(v, nr, arg);
        return 0;
    default:
        return bad_request(v, nr, arg);
    }
}

static int hypercall_io(void *dev, struct hv_vcpu *v, const struct hv_io *io)
{
    uint32_t arg;
    if (io->size != 4 || io->count != 1 || !io->out)
        return HV_IO_UNCLAIMED;
    memcpy(&arg, io->data, sizeof arg);
    return hypercall(dev, v, io->port - HV_PORT_HC_BASE, arg);
}

int hv_hypercall_attach(struct hv_hypercalls *hc, struct hv_io_bus *bus,
                        const struct hv_hypercall_ops *ops)
{
    hc->ops = *ops;
    return hv_io_register(bus, HV_PORT_HC_BASE, HV_HC_COUNT, "hypercalls",
                          hypercall_io, hc);
}
