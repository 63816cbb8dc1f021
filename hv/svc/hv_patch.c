/* hv_patch.c: the monitor's half of apply and revert. The verifier
 * decides and writes; the monitor pauses the vCPUs for the write, reports
 * their RIPs, retries while one is inside a range that changes, and keeps
 * the list of live patches for `status` and for the guest.
 *
 * Runs on the main thread, one operation at a time: two clients asking at
 * once are served one after the other, and both are audited. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hv/machine/hv_machine.h"
#include "hv/svc/hv_control.h"
#include "hv/svc/hv_patch.h"
#include "hv/svc/hv_vrf.h"
#include "lib/hv_log.h"
#include "lib/vrf_err.h"
#include "lib/vrf_shm.h"
#include "lib/vrf_time.h"

#define HV_PATCH_TRIES 200      /* pauses before giving up as busy */
#define HV_PATCH_RETRY_NS 1000000 /* guest runs 1 ms between tries */
#define HV_PATCH_PREPARE_MS 30000 /* verify + quote + NV + fsync */
#define HV_PATCH_WRITE_MS 1000
#define HV_PATCH_FINISH_MS 10000
#define HV_PATCH_TRUST_MS 10000 /* reads and checks up to 96 files */
#define HV_PATCH_SHM_MS 10000   /* SHM, right after READY */
#define HV_PATCH_SPIN_NS 200000 /* for the verdict, before the futex */

/* What one operation did, for the reply and the benchmark. */
struct hv_patch_run {
    struct vrf_msg approved;
    int outcome;       /* enum vrf_finish */
    unsigned tries;
    uint64_t pause_ns; /* of the write that happened, or the longest try */
    uint64_t vcpus_ns; /* of it: the vCPUs leaving guest mode */
    uint64_t busy_cpu, busy_rip;
    uint64_t t_prepare, t_write, t_finish; /* ns each */
};

static char hv_patch_err[VRF_MSG_BODY_MAX + 64]; /* main thread only */

const char *hv_patch_verifier_gone(const char **cls)
{
    *cls = "Unavailable";
    return "the verifier is not answering: patching is refused until the "
           "VM restarts (the guest keeps running)";
}

/* A FAIL from the verifier, or any other unexpected reply. */
const char *hv_patch_refused(struct vrf_msg *r, const char **cls)
{
    r->fail.reason[sizeof r->fail.reason - 1] = '\0';
    *cls = "Refused";
    if (r->type != VRF_MSG_FAIL)
        return "unexpected reply from the verifier";
    snprintf(hv_patch_err, sizeof hv_patch_err, "%s", r->fail.reason);
    return hv_patch_err;
}

/* One try: pause, ask the verifier to write, resume. Returns 0 when
 * written, 1 when busy, -1 when the vCPUs would not pause or the verifier
 * failed (run->outcome says which). */
static int write_once(struct hv_vm *vm, struct hv_vrf *vrf,
                      struct hv_patch_run *run)
{
    struct vrf_msg req = {.type = VRF_MSG_WRITE}, r;
    uint64_t rips[HV_MAX_VCPUS] = {0}, ns = 0;
    if (hv_vm_pause(vm, rips, &ns) != 0) {
        run->outcome = VRF_FINISH_NO_PAUSE;
        return -1;
    }
    uint64_t t0 = hv_now_ns();
    req.write.ncpus = vm->ncpus;
    memcpy(req.write.rips, rips, sizeof req.write.rips);
    int e = hv_vrf_call(vrf, &req, &r, NULL, HV_PATCH_WRITE_MS);
    hv_vm_resume(vm); /* whatever the verifier said */
    uint64_t pause = ns + (hv_now_ns() - t0);
    if (e != 0 || (r.type != VRF_MSG_WRITTEN && r.type != VRF_MSG_BUSY)) {
        run->outcome = -1;
        return -1;
    }
    if (r.type == VRF_MSG_WRITTEN || pause > run->pause_ns) {
        run->pause_ns = pause;
        run->vcpus_ns = ns;
    }
    if (r.type == VRF_MSG_WRITTEN)
        return 0;
    run->busy_cpu = r.busy.cpu;
    run->busy_rip = r.busy.rip;
    return 1;
}

void hv_patch_shm_open(struct hv_vrf *vrf)
{
    struct vrf_msg r;
    int fd = -1;
    if (hv_vrf_recv(vrf, &r, &fd, HV_PATCH_SHM_MS) != 0)
        return; /* logged; patching is refused anyway */
    if (r.type == VRF_MSG_SHM && fd >= 0 && r.shm.size == VRF_SHM_SIZE)
        vrf->shm = vrf_shm_map(fd);
    if (!vrf->shm)
        hv_log("verifier: no pause region (%s): writes go over the socket",
               r.type == VRF_MSG_FAIL ? r.fail.reason : "no sealed memfd");
    if (fd >= 0)
        close(fd);
}

/* Posts an event of kind on the pause region; returns its req. */
static uint32_t shm_post(struct hv_vrf *vrf, enum vrf_shm_kind kind)
{
    vrf->shm_req = VRF_SHM_NEXT(vrf->shm_req, kind);
    vrf_shm_post(&vrf->shm->req, vrf->shm_req, &vrf->shm->vrf_sleeps);
    return vrf->shm_req;
}

/* Waits for the verdict on req; returns it, or -1 past the deadline. */
static int shm_verdict(struct hv_vrf *vrf, uint32_t req, uint64_t *cpu,
                       uint64_t *rip)
{
    struct vrf_shm *shm = vrf->shm;
    uint64_t end = hv_now_ns() + HV_PATCH_WRITE_MS * 1000000ull;
    uint32_t done = __atomic_load_n(&shm->done, __ATOMIC_ACQUIRE);
    while (done != req && hv_now_ns() < end)
        done = vrf_shm_wait(&shm->done, done, &shm->hv_sleeps,
                            HV_PATCH_SPIN_NS, end);
    if (done != req)
        return -1;
    *cpu = shm->busy_cpu;
    *rip = shm->busy_rip;
    return (int)__atomic_load_n(&shm->verdict, __ATOMIC_RELAXED);
}

/* write_once over the pause region: the verifier wakes (ARM) while the
 * vCPUs leave guest mode, and the RIPs and the verdict need no syscall. */
static int write_once_shm(struct hv_vm *vm, struct hv_vrf *vrf,
                          struct hv_patch_run *run)
{
    struct vrf_shm *shm = vrf->shm;
    uint64_t rips[HV_MAX_VCPUS] = {0}, ns = 0, cpu = 0, rip = 0;
    shm_post(vrf, VRF_SHM_ARM);
    if (hv_vm_pause(vm, rips, &ns) != 0) {
        run->outcome = VRF_FINISH_NO_PAUSE;
        return -1;
    }
    uint64_t t0 = hv_now_ns();
    shm->ncpus = vm->ncpus;
    memcpy(shm->rips, rips, sizeof shm->rips);
    int v = shm_verdict(vrf, shm_post(vrf, VRF_SHM_RIPS), &cpu, &rip);
    hv_vm_resume(vm); /* whatever the verifier said */
    uint64_t pause = ns + (hv_now_ns() - t0);
    if (v != VRF_SHM_WRITTEN && v != VRF_SHM_BUSY) {
        hv_err("verifier: %s on the pause region; patching is disabled "
               "until the VM restarts",
               v < 0 ? "no verdict within the write timeout"
                     : "no approved operation to write");
        close(vrf->sock); /* as hv_vrf_call does with a silent verifier */
        vrf->sock = -1;
        run->outcome = -1;
        return -1;
    }
    if (v == VRF_SHM_WRITTEN || pause > run->pause_ns) {
        run->pause_ns = pause;
        run->vcpus_ns = ns;
    }
    if (v == VRF_SHM_WRITTEN)
        return 0;
    run->busy_cpu = cpu;
    run->busy_rip = rip;
    return 1;
}

static void write_phase(struct hv_vm *vm, struct hv_vrf *vrf,
                        struct hv_patch_run *run)
{
    struct timespec gap = {0, HV_PATCH_RETRY_NS};
    run->outcome = VRF_FINISH_BUSY;
    for (run->tries = 1; run->tries <= HV_PATCH_TRIES; run->tries++) {
        int e = vrf->shm ? write_once_shm(vm, vrf, run)
                         : write_once(vm, vrf, run);
        if (e == 0) {
            run->outcome = VRF_FINISH_WRITTEN;
            return;
        }
        if (e < 0)
            break;
        nanosleep(&gap, NULL);
    }
    if (run->tries > HV_PATCH_TRIES)
        run->tries = HV_PATCH_TRIES;
    if (vrf->shm) /* no WRITTEN: the verifier goes back to the socket */
        shm_post(vrf, VRF_SHM_END);
}

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* APPROVED: id and signer NUL-terminated whatever was sent. */
static struct vrf_msg_approved approved_patch(const struct vrf_msg *approved)
{
    struct vrf_msg_approved mp = approved->approved;
    mp.id[sizeof mp.id - 1] = '\0';
    mp.signer[sizeof mp.signer - 1] = '\0';
    return mp;
}

/* The live list follows the verifier's: push on apply, pop on revert. */
static void list_update(struct hv_vm *vm, const struct vrf_msg *approved)
{
    struct vrf_msg_approved mp = approved_patch(approved);
    pthread_mutex_lock(&vm->patch_lock);
    if (mp.op == VRF_OP_APPLY && vm->npatches < HV_PATCH_LIVE_MAX) {
        struct hv_patch_info *p = &vm->patches[vm->npatches++];
        snprintf(p->id, sizeof p->id, "%s", mp.id);
        snprintf(p->signer, sizeof p->signer, "%s", mp.signer);
        p->seq = mp.seq;
        p->applied_ms = unix_ms();
    } else if (mp.op == VRF_OP_REVERT && vm->npatches > 0) {
        vm->npatches--;
    }
    vm->patch_gen++;
    pthread_mutex_unlock(&vm->patch_lock);
}

static json_t *result_json(const struct hv_patch_run *run)
{
    struct vrf_msg_approved mp = approved_patch(&run->approved);
    return json_pack(
        "{s:s,s:s,s:I,s:s,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I}}", "op",
        mp.op == VRF_OP_APPLY ? "apply" : "revert", "id", mp.id, "seq",
        (json_int_t)mp.seq, "signer", mp.signer, "pause_ns",
        (json_int_t)run->pause_ns, "pause_vcpus_ns",
        (json_int_t)run->vcpus_ns, "tries", (json_int_t)run->tries, "time_ns",
        "prepare", (json_int_t)run->t_prepare, "write",
        (json_int_t)run->t_write, "finish", (json_int_t)run->t_finish,
        "total",
        (json_int_t)(run->t_prepare + run->t_write + run->t_finish));
}

/* PREPARE (or PREPARE_REVERT) is in req; fd goes with it. A revert the
 * health watch started carries its reason (else NULL) to FINISH. */
static json_t *run_op(struct hv_vm *vm, struct hv_vrf *vrf,
                      const struct vrf_msg *req, int fd,
                      const char *auto_reason, const char **err,
                      const char **cls)
{
    struct hv_patch_run run = {0};
    struct vrf_msg fin = {.type = VRF_MSG_FINISH}, r;
    uint64_t t0 = hv_now_ns();
    int e = hv_vrf_call_fd(vrf, req, fd, &run.approved, NULL,
                           HV_PATCH_PREPARE_MS);
    if (fd >= 0)
        close(fd);
    if (e != 0) {
        *err = hv_patch_verifier_gone(cls);
        return NULL;
    }
    if (run.approved.type != VRF_MSG_APPROVED) {
        *err = hv_patch_refused(&run.approved, cls);
        return NULL;
    }
    uint64_t t1 = hv_now_ns();
    write_phase(vm, vrf, &run);
    uint64_t t2 = hv_now_ns();
    if (run.outcome < 0) {
        *err = hv_patch_verifier_gone(cls);
        return NULL;
    }
    fin.finish.outcome = (uint32_t)run.outcome;
    fin.finish.pause_ns = run.pause_ns;
    fin.finish.tries = run.tries;
    if (auto_reason) {
        fin.finish.origin = VRF_FINISH_AUTO;
        snprintf(fin.finish.reason, sizeof fin.finish.reason, "%s",
                 auto_reason);
    }
    if (hv_vrf_call(vrf, &fin, &r, NULL, HV_PATCH_FINISH_MS) != 0) {
        *err = hv_patch_verifier_gone(cls);
        return NULL;
    }
    if (run.outcome == VRF_FINISH_WRITTEN)
        list_update(vm, &run.approved);
    run.t_prepare = t1 - t0;
    run.t_write = t2 - t1;
    run.t_finish = hv_now_ns() - t2;
    if (r.type != VRF_MSG_DONE) {
        *err = hv_patch_refused(&r, cls);
        return NULL;
    }
    if (run.outcome == VRF_FINISH_WRITTEN)
        return result_json(&run);
    *cls = "Busy";
    if (run.outcome == VRF_FINISH_BUSY)
        snprintf(hv_patch_err, sizeof hv_patch_err,
                 "busy: vCPU %" PRIu64 " stayed inside a range to change "
                 "(rip 0x%" PRIx64 ") for %u tries; nothing changed",
                 run.busy_cpu, run.busy_rip, run.tries);
    else
        snprintf(hv_patch_err, sizeof hv_patch_err,
                 "the vCPUs could not be paused (the VM is paused or "
                 "stopping); nothing changed");
    *err = hv_patch_err;
    return NULL;
}

json_t *hv_patch_apply(struct hv_vm *vm, struct hv_vrf *vrf, int fd,
                       const char **err, const char **cls)
{
    struct vrf_msg req = {.type = VRF_MSG_PREPARE};
    if (fd < 0) {
        *cls = "GenericError";
        *err = "apply needs the package's fd, sent with the request "
               "(SCM_RIGHTS): use `hvpatch apply`";
        return NULL;
    }
    if (vrf->sock < 0) {
        close(fd);
        *err = hv_patch_verifier_gone(cls);
        return NULL;
    }
    return run_op(vm, vrf, &req, fd, NULL, err, cls);
}

static json_t *revert(struct hv_vm *vm, struct hv_vrf *vrf, const char *id,
                      const char *auto_reason, const char **err,
                      const char **cls)
{
    struct vrf_msg req = {.type = VRF_MSG_PREPARE_REVERT};
    if (!id || !id[0] || strlen(id) >= VRF_MSG_ID_MAX) {
        *cls = "GenericError";
        *err = "revert takes {\"id\": ID} of 1 to 39 bytes";
        return NULL;
    }
    if (vrf->sock < 0) {
        *err = hv_patch_verifier_gone(cls);
        return NULL;
    }
    memcpy(req.prepare_revert.id, id, strlen(id) + 1);
    return run_op(vm, vrf, &req, -1, auto_reason, err, cls);
}

json_t *hv_patch_revert(struct hv_vm *vm, struct hv_vrf *vrf, const char *id,
                        const char **err, const char **cls)
{
    return revert(vm, vrf, id, NULL, err, cls);
}

int hv_patch_auto_revert(struct hv_vm *vm, struct hv_vrf *vrf, const char *id,
                         const char *reason, const char **err)
{
    const char *cls = NULL;
    json_t *r = revert(vm, vrf, id, reason, err, &cls);
    json_decref(r);
    return r ? 0 : -1;
}

json_t *hv_patch_list_json(struct hv_vm *vm)
{
    json_t *a = json_array();
    pthread_mutex_lock(&vm->patch_lock);
    for (unsigned i = 0; i < vm->npatches; i++) {
        const struct hv_patch_info *p = &vm->patches[i];
        char when[32];
        vrf_format_time_ms(p->applied_ms, when);
        json_array_append_new(a, json_pack("{s:s,s:I,s:s,s:s}", "id", p->id,
                                           "seq", (json_int_t)p->seq,
                                           "applied", when, "signer",
                                           p->signer));
    }
    pthread_mutex_unlock(&vm->patch_lock);
    return a;
}

/* TRUST's CRL dates. */
static json_t *trust_crls_json(const struct vrf_msg_trust *r)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < r->ndates && i < VRF_TRUST_MSG_DATES; i++) {
        int64_t t[2] = {r->dates[i].this_update, r->dates[i].next_update};
        char when[2][32];
        for (int k = 0; k < 2; k++)
            vrf_format_time_ms(t[k] > 0 ? (uint64_t)t[k] * 1000 : 0, when[k]);
        json_array_append_new(a, json_pack("{s:s,s:s?}", "this_update",
                                           when[0], "next_update",
                                           t[1] > 0 ? when[1] : NULL));
    }
    return a;
}

json_t *hv_patch_trust(struct hv_vrf *vrf, int reload, const char *dir,
                       const char **err, const char **cls)
{
    struct vrf_msg req = {.type = VRF_MSG_TRUST_RELOAD}, r;
    char when[32], *reason;
    const char *code;
    req.trust_reload.action = reload ? VRF_TRUST_RELOAD : VRF_TRUST_REPORT;
    if (vrf->sock < 0 ||
        hv_vrf_call(vrf, &req, &r, NULL, HV_PATCH_TRUST_MS) != 0) {
        *err = hv_patch_verifier_gone(cls);
        return NULL;
    }
    if (r.type != VRF_MSG_TRUST) {
        *err = hv_patch_refused(&r, cls);
        return NULL;
    }
    struct vrf_msg_trust *t = &r.trust;
    t->reason[sizeof t->reason - 1] = '\0';
    reason = t->reason;
    code = vrf_errname(r.status) ? vrf_errname(r.status) : "VRF_ERR_ARG";
    if (reload && r.status != 0 && r.status != VRF_ERR_TRUST_CRL_EXPIRED) {
        *cls = "Refused";
        snprintf(hv_patch_err, sizeof hv_patch_err,
                 "%s: %s; the trust store in use is unchanged", code, reason);
        *err = hv_patch_err;
        return NULL;
    }
    vrf_format_time_ms((uint64_t)t->loaded_at * 1000, when);
    return json_pack("{s:s,s:o,s:I,s:I,s:o,s:s,s:{s:s,s:s}}", "dir", dir,
                     "sha256", hv_control_hex(t->sha256, 32), "anchors",
                     (json_int_t)t->anchors, "crl_count", (json_int_t)t->crls,
                     "crls", trust_crls_json(t), "loaded", when,
                     "last_reload", "code", code, "reason", reason);
}

void hv_patch_audit_blocked(struct hv_vm *vm, struct hv_vrf *vrf)
{
    uint64_t total = atomic_load(&vm->blocked_total);
    uint64_t seen = atomic_load(&vm->blocked_audited);
    struct vrf_msg req = {.type = VRF_MSG_BLOCKED}, r;
    if (total == seen || vrf->sock < 0)
        return;
    req.blocked.count = total - seen;
    req.blocked.gpa = atomic_load(&vm->blocked_last_gpa);
    req.blocked.rip = atomic_load(&vm->blocked_last_rip);
    if (hv_vrf_call(vrf, &req, &r, NULL, 1000) == 0)
        atomic_store(&vm->blocked_audited, total);
}

int hv_patch_hypercall(struct hv_vm *vm, uint32_t gpa)
{
    struct hv_hc_patches *out = hv_gpa_ram(vm, gpa, sizeof *out);
    struct hv_hc_patches l;
    if (!out)
        return -1;
    memset(&l, 0, sizeof l);
    pthread_mutex_lock(&vm->patch_lock);
    unsigned first = vm->npatches > HV_PATCHES_MAX
                         ? vm->npatches - HV_PATCHES_MAX
                         : 0;
    l.generation = vm->patch_gen;
    l.count = vm->npatches;
    for (unsigned i = first; i < vm->npatches; i++) {
        struct hv_hc_patch *p = &l.patch[i - first];
        memcpy(p->id, vm->patches[i].id, sizeof p->id);
        p->seq = vm->patches[i].seq;
        p->applied_ms = vm->patches[i].applied_ms;
    }
    pthread_mutex_unlock(&vm->patch_lock);
    memcpy(out, &l, sizeof l);
    return 0;
}
