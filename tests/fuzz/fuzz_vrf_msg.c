/* fuzz_vrf_msg.c: libFuzzer target for the verifier's patch-message
 * handlers: what a hostile monitor can send. The input is a pending
 * operation (up to 4 writes anywhere in the protected region, as if it
 * had been approved) and then fixed-size messages, dispatched as the
 * verifier's serve loop does. The TPM is gone, so nothing is measured;
 * everything else runs for real on a 4 MiB code buffer, and TRUST_RELOAD
 * re-reads an empty trust directory (refused, the old store kept). A
 * message of type SHM stands for the monitor's half of the pause region
 * (struct vrf_shm) as it is when the verifier takes a RIPS event. */
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/hv_abi.h"
#include "verifier/vrf_patch.h"
#include "verifier/vrf_proc_int.h"

#define FUZZ_WRITES 4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *code;

/* Reads the pending operation's shape from the input. */
static size_t take_pending(struct vrf_patch *pp, const uint8_t *data,
                           size_t size)
{
    struct vrf_op *op = &pp->pending;
    uint8_t hdr[1 + FUZZ_WRITES * 8];
    if (size < sizeof hdr)
        return size;
    memcpy(hdr, data, sizeof hdr);
    op->kind = (hdr[0] & 1) ? VRF_OP_REVERT : VRF_OP_APPLY;
    op->seq = hdr[0] >> 1;
    op->w = calloc(FUZZ_WRITES, sizeof *op->w);
    for (unsigned i = 0; op->w && i < FUZZ_WRITES; i++) {
        uint32_t off, len;
        memcpy(&off, hdr + 1 + 8 * i, 4);
        memcpy(&len, hdr + 5 + 8 * i, 4);
        off %= HV_PROT_SIZE;
        len = 1 + len % 64;
        if (len > HV_PROT_SIZE - off)
            len = (uint32_t)(HV_PROT_SIZE - off);
        struct vrf_write *w = &op->w[op->nw++];
        w->gpa = HV_PROT_BASE + off;
        w->len = len;
        w->kind = 1 + (hdr[1 + 8 * i] % 3);
        w->old_bytes = calloc(1, len);
        w->new_bytes = malloc(len);
        if (w->new_bytes)
            memset(w->new_bytes, 0xcc, len);
    }
    pp->have_pending = 1;
    if (op->kind == VRF_OP_REVERT) { /* borrows the live patch's writes */
        pp->applied[0] = *op;
        pp->applied[0].kind = VRF_OP_APPLY;
        pp->n_applied = 1;
    }
    return sizeof hdr;
}

static void free_op(struct vrf_op *op)
{
    for (size_t i = 0; op->w && i < op->nw; i++) {
        free(op->w[i].old_bytes);
        free(op->w[i].new_bytes);
    }
    free(op->w);
}

static void dispatch(struct vrf_patch *pp, struct vrf_proc_tpm *pt,
                     struct vrf_proc_trust *tr, const struct vrf_msg *m)
{
    struct vrf_msg r;
    memset(&r, 0, sizeof r);
    switch (m->type % VRF_MSG_TYPE_END) {
    case VRF_MSG_PREPARE:
        vrf_patch_prepare(pp, pt, -1, &r);
        break;
    case VRF_MSG_PREPARE_REVERT:
        vrf_patch_prepare_revert(pp, pt, m, &r);
        break;
    case VRF_MSG_WRITE:
        vrf_patch_write(pp, m, &r);
        break;
    case VRF_MSG_FINISH:
        vrf_patch_finish(pp, pt, m, &r);
        break;
    case VRF_MSG_BLOCKED:
        vrf_patch_blocked(pp, m, &r);
        break;
    case VRF_MSG_TRUST_RELOAD:
        vrf_proc_trust_request(tr, pp, m, &r);
        break;
    case VRF_MSG_SHM: /* the body as the monitor's half of the region */
        memcpy(pp->shm, m->raw, offsetof(struct vrf_shm, done));
        vrf_patch_shm_take(pp, pp->shm->req);
        break;
    default:
        vrf_msg_fail(&r, "unknown request");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vrf_patch pp;
    static struct vrf_proc_tpm pt;
    static struct vrf_proc_trust tr;
    static struct vrf_shm region;
    static char dir[] = "/tmp/fuzz_vrf_msg.XXXXXX";
    if (!code && !(code = calloc(1, HV_PROT_SIZE)))
        return 0;
    if (!tr.dir) { /* once: an empty directory as the trust store */
        if (!mkdtemp(dir))
            abort();
        tr.dir = dir;
        tr.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tr.dirfd < 0)
            abort();
        rmdir(dir); /* the fd stays: nothing left behind */
    }
    memset(&pp, 0, sizeof pp);
    pp.code = code;
    pp.code_size = HV_PROT_SIZE;
    pp.kind = "demo";
    pp.win[0] = (struct vrf_win){HV_PROT_BASE, HV_PROT_SIZE, 0};
    pp.n_win = 1;
    const struct vrf_range *demo = vrf_demo_ranges(&pp.n_ranges);
    memcpy(pp.ranges, demo, pp.n_ranges * sizeof *demo);
    pp.have_trust = 1;
    memset(&region, 0, sizeof region);
    pp.shm = &region;
    pt.state = VRF_TPM_STATE_GONE;
    size_t off = take_pending(&pp, data, size);
    while (size - off >= sizeof(struct vrf_msg)) {
        struct vrf_msg m;
        memcpy(&m, data + off, sizeof m);
        off += sizeof m;
        dispatch(&pp, &pt, &tr, &m);
    }
    /* Whatever the messages did, the patch list stays consistent. */
    if (pp.n_applied > VRF_PATCH_MAX_APPLIED)
        abort();
    while (pp.n_applied > 0)
        free_op(&pp.applied[--pp.n_applied]);
    if (pp.have_pending && pp.pending.kind == VRF_OP_APPLY)
        free_op(&pp.pending); /* a pending revert's writes were freed above */
    free(pp.stale);
    return 0;
}
