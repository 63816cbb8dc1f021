/* hv_hypercall.c: the port-I/O hypercalls of hv/hv_abi.h.
 *
 * Arguments are guest-controlled: structs are read through hv_gpa_ram()
 * and copied before use, strings are forced to end in NUL. A malformed
 * request is logged (rate-limited) and ignored; the guest keeps running. */
#include <stdatomic.h>
#include <string.h>

#include "hv/hv_int.h"
#include "hv/hv_log.h"

#define HV_BAD_HC_LOG_MAX 8

static int bad_request(struct hv_vcpu *v, unsigned nr, uint32_t arg)
{
    static atomic_uint logged;
    if (atomic_fetch_add(&logged, 1) < HV_BAD_HC_LOG_MAX)
        hv_log("vCPU %u: ignored malformed hypercall %u (arg 0x%x)", v->id,
               nr, arg);
    return 0;
}

static void note_first_heartbeat(struct hv_vcpu *v)
{
    struct hv_vm *vm = v->vm;
    uint64_t zero = 0, now = hv_now_ns();
    if (!atomic_compare_exchange_strong(&v->first_hb_ns, &zero, now))
        return;
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (atomic_load(&vm->vcpu[i].first_hb_ns) == 0)
            return;
    zero = 0;
    if (atomic_compare_exchange_strong(&vm->all_hb_ns, &zero, now))
        hv_log("heartbeats from all %u vCPUs %.1f ms after start", vm->ncpus,
               (double)(now - vm->start_ns) / 1e6);
}

static int hc_heartbeat(struct hv_vcpu *v, uint32_t arg)
{
    struct hv_hc_heartbeat hb;
    const void *p = hv_gpa_ram(v->vm, arg, sizeof hb);
    if (!p)
        return bad_request(v, HV_HC_HEARTBEAT, arg);
    memcpy(&hb, p, sizeof hb);
    if (hb.cpu != v->id)
        return bad_request(v, HV_HC_HEARTBEAT, arg);
    atomic_store(&v->hb_count, hb.count);
    note_first_heartbeat(v);
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

int hv_hypercall(struct hv_vcpu *v, unsigned nr, uint32_t arg)
{
    switch (nr) {
    case HV_HC_HEARTBEAT:
        return hc_heartbeat(v, arg);
    case HV_HC_UCALL:
        return hc_ucall(v, arg);
    case HV_HC_SHUTDOWN:
        hv_log("guest shut down with code %u", arg);
        hv_vm_stop(v->vm, HV_STOP_GUEST_OFF, (int)(arg & 0xff));
        return -1;
    case HV_HC_PATCHES:
        if (hv_patch_hypercall(v->vm, arg) != 0)
            return bad_request(v, nr, arg);
        return 0;
    default:
        return bad_request(v, nr, arg);
    }
}
