/* hv_lock.c: the monitor's half of a Linux guest's text lock
 * (docs/LINUX.md, "Text lock").
 *
 * Linux rewrites its text while it boots, so until the lock the text is
 * ordinary guest RAM. The lock, once, with every vCPU paused: the
 * verifier copies the text into the protected memfd, maps the patch area
 * in the kernel's page tables, measures and audits (VRF_MSG_LOCK); then
 * the monitor splits the RAM memslot around the text, backs the text's
 * GPAs with the read-only memfd (memslot 2), and loads a seccomp filter
 * that forbids it any further memslot change. From then on a guest write
 * to its text exits to the monitor and is dropped, counted and audited,
 * as for the demo guest. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hv/machine/hv_machine.h"
#include "hv/svc/hv_control.h"
#include "hv/svc/hv_lock.h"
#include "hv/svc/hv_patch.h"
#include "hv/svc/hv_seccomp.h"
#include "hv/svc/hv_vrf.h"
#include "lib/hv_log.h"
#include "lib/vrf_msg.h"

#define HV_LOCK_MS 30000 /* copy, hash, PCR 10, fsync'd audit record */

/* Splits RAM around the text and backs the text with the memfd at off. */
static int reslot(struct hv_vm *vm, uint64_t gpa, uint64_t size, uint64_t off)
{
    uint64_t end = gpa + size;
    return hv_kvm_add_slot(vm, 0, 0, 0, vm->ram, 0) || /* delete */
           hv_kvm_add_slot(vm, 0, 0, gpa, vm->ram, 0) ||
           hv_kvm_add_slot(vm, 2, gpa, size, vm->prot + off, 1) ||
           hv_kvm_add_slot(vm, 3, end, vm->ram_size - end, vm->ram + end, 0);
}

/* What the verifier locked must be a page-aligned run of RAM, strictly
 * inside it, backed by the memfd past the patch area. */
static int locked_range_ok(const struct hv_vm *vm, const struct vrf_msg *r)
{
    uint64_t gpa = r->locked.gpa, size = r->locked.size;
    uint64_t off = r->locked.offset;
    return ((gpa | size | off) & 0xfff) == 0 && size > 0 && gpa > 0 &&
           gpa < vm->ram_size && size < vm->ram_size - gpa &&
           off >= HV_LINUX_PATCH_SIZE && off <= vm->prot_size &&
           size <= vm->prot_size - off;
}

static const char *refuse(const char **cls, const char *why)
{
    *cls = "Refused";
    return why;
}

/* After the verifier locked: the memslots and the seccomp filter. Either
 * both happen or the VM stops (what the TPM says would not hold). */
static int commit(struct hv_vm *vm, const struct vrf_msg *r)
{
    const struct vrf_msg_locked *l = &r->locked;
    if (reslot(vm, l->gpa, l->size, l->offset) != 0 ||
        hv_seccomp_lock_memslots() != 0) {
        hv_err("text lock: the memslots could not be switched; stopping "
               "the VM");
        hv_vm_stop(vm, HV_STOP_HOST_FAIL, 0);
        return -1;
    }
    vm->prot_win[1] = (struct vrf_win){l->gpa, l->size, l->offset};
    atomic_store(&vm->n_prot_win, 2);
    return 0;
}

json_t *hv_lock_text(struct hv_vm *vm, struct hv_vrf *vrf, const char **err,
                     const char **cls)
{
    struct vrf_msg req = {.type = VRF_MSG_LOCK}, r;
    struct kvm_sregs sr;
    uint64_t rips[HV_MAX_VCPUS], ns = 0, t0 = hv_now_ns();
    if (vm->guest != HV_GUEST_LINUX)
        return *err = refuse(cls, "only a Linux guest has a text lock"), NULL;
    if (atomic_load(&vm->n_prot_win) > 1)
        return *err = refuse(cls, "the kernel text is already locked"), NULL;
    if (vrf->sock < 0)
        return *err = hv_patch_verifier_gone(cls), NULL;
    if (hv_vm_pause(vm, rips, &ns) != 0) {
        *cls = "Busy";
        *err = "the vCPUs could not be paused; nothing was locked";
        return NULL;
    }
    if (ioctl(vm->vcpu[0].fd, KVM_GET_SREGS, &sr) < 0) {
        hv_vm_resume(vm);
        *err = "KVM_GET_SREGS failed; nothing was locked";
        return NULL;
    }
    req.lock.cr3 = sr.cr3;
    req.lock.cr4 = sr.cr4;
    if (hv_vrf_call_fd(vrf, &req, vm->ram_fd, &r, NULL, HV_LOCK_MS) != 0) {
        /* It may have measured the lock before it went silent: the TPM
         * must not claim a lock the guest does not have. */
        hv_err("text lock: the verifier did not answer; stopping the VM");
        hv_vm_stop(vm, HV_STOP_HOST_FAIL, 0);
        hv_vm_resume(vm);
        *cls = "Unavailable";
        return *err = "the verifier did not answer: VM stopped", NULL;
    }
    if (r.type != VRF_MSG_LOCKED || !locked_range_ok(vm, &r)) {
        hv_vm_resume(vm);
        return *err = hv_patch_refused(&r, cls), NULL;
    }
    int e = commit(vm, &r);
    hv_vm_resume(vm);
    if (e != 0)
        return *err = "the memslots could not be switched: VM stopped", NULL;
    uint64_t pause = hv_now_ns() - t0;
    hv_log("kernel text locked: GPA 0x%" PRIx64 "-0x%" PRIx64
           " read-only, guest paused %" PRIu64 " us",
           r.locked.gpa, r.locked.gpa + r.locked.size, pause / 1000);
    return json_pack("{s:o,s:I,s:o,s:I}", "gpa",
                     hv_control_addr(r.locked.gpa), "size",
                     (json_int_t)r.locked.size, "sha256",
                     hv_control_hex(r.locked.sha256, 32), "pause_ns",
                     (json_int_t)pause);
}

void hv_lock_request(struct hv_vm *vm)
{
    if (atomic_exchange(&vm->lock_req, 1) == 0)
        hv_log("guest asked for its text lock (port 0x%x)",
               HV_LINUX_LOCK_PORT);
}
