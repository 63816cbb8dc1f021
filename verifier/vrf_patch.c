/* vrf_patch.c: the verifier process's patch engine (see vrf_patch.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <jansson.h>
#include <mbedtls/sha256.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "firmware/fw_measure.h"
#include "keys/keys.h"
#include "lib/hv_abi.h"
#include "lib/hv_log.h"
#include "lib/vrf_shm.h"
#include "verifier/vrf_patch.h"
#include "verifier/vrf_proc_int.h"


/* ------------------------------------------------------------ set-up */

/* The package committed with the highest sequence the audit log has
 * approved a patch of (its "pcr10" event: id, sequence, package digest).
 * Two packages approved with that sequence bind none: an equal sequence
 * is then refused, as with no log. The log was checked whole by
 * vrf_audit_open just before; this reads it again. */
static void load_committed(struct vrf_patch *pp, const char *path)
{
    struct vrf_audit_report rep;
    const struct fw_runtime_rec *best = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC), clash = 0;
    memset(&rep, 0, sizeof rep);
    if (fd < 0 || vrf_audit_check_fd(fd, &rep) != 0) {
        if (fd >= 0)
            close(fd);
        vrf_audit_report_free(&rep);
        return; /* no binding: fail closed */
    }
    close(fd);
    for (size_t i = 0; i < rep.nsegs; i++)
        for (size_t k = 0; k < rep.segs[i].npcr10; k++) {
            const struct fw_runtime_rec *r = &rep.segs[i].pcr10[k].rec;
            if (r->action != FW_ACT_PATCH)
                continue;
            if (best && r->sequence == best->sequence)
                clash |= memcmp(r->digest, best->digest, 32) != 0;
            else if (!best || r->sequence > best->sequence)
                clash = 0;
            if (!best || r->sequence >= best->sequence)
                best = r;
        }
    if (best && !clash) {
        char hex[65];
        memcpy(pp->committed_sha256, best->digest, 32);
        pp->committed_seq = best->sequence;
        pp->have_committed = 1;
        fw_hex32(best->digest, hex);
        hv_log("verifier: audit log %s: sequence %llu was committed with "
               "%s (package sha256 %s)",
               path, (unsigned long long)best->sequence, best->id, hex);
    } else if (best) {
        hv_err("verifier: audit log %s: two packages approved with "
               "sequence %llu: neither may be applied again with it",
               path, (unsigned long long)best->sequence);
    }
    vrf_audit_report_free(&rep);
}

int vrf_patch_init(struct vrf_patch *pp, const char *trust_dir,
                   const char *audit_path)
{
    char err[512];
    vrf_trust_init(&pp->trust);
    if (trust_dir) {
        struct keys_diag d = {{0}};
        int e = keys_trust_load_dir(&pp->trust, trust_dir, &d);
        if (e != KEYS_OK) {
            hv_err("verifier: trust store %s: %s", trust_dir,
                   d.text[0] ? d.text : keys_strerror(e));
            return -1;
        }
        pp->have_trust = 1;
    }
    if (audit_path) {
        int r = vrf_audit_open(&pp->audit, audit_path, err, sizeof err);
        if (r < 0) {
            hv_err("verifier: audit log %s: %s", audit_path, err);
            return -1;
        }
        if (r == 1)
            hv_log("verifier: audit log %s: %s", audit_path, err);
        pp->have_audit = 1;
        load_committed(pp, audit_path);
    }
    pp->shm_fd = vrf_shm_create(&pp->shm);
    if (pp->shm_fd < 0) {
        pp->shm = NULL;
        hv_log("verifier: no pause region (memfd: %s): the writes go over "
               "the socket",
               strerror(errno));
    }
    return 0;
}

/* ------------------------------------------------------------- audit */

/* A SHA-256 digest as 64 lowercase hex digits. */
static json_t *hex_json(const uint8_t d[32])
{
    char hex[65];
    fw_hex32(d, hex);
    return json_string(hex);
}

static json_t *pcr10_json(const struct fw_runtime_rec *rec)
{
    return json_pack("{s:s,s:s,s:I,s:o}", "action",
                     fw_action_name(rec->action), "id", rec->id, "seq",
                     (json_int_t)rec->sequence, "digest",
                     hex_json(rec->digest));
}

/* Appends rec (stolen), fsync'd if sync: a record the monitor or the
 * operator is told about. One that an acknowledged record always follows
 * ("approved") reaches the disk with that one's fsync. Returns 0, or -1 if
 * there is no log or the write failed (logged). */
static int audit_as(struct vrf_patch *pp, json_t *rec, int sync)
{
    int ret = 0;
    if (!rec)
        return -1;
    if (pp->have_audit &&
        (sync ? vrf_audit_append(&pp->audit, rec, NULL)
              : vrf_audit_append_unsynced(&pp->audit, rec, NULL)) != 0) {
        hv_err("verifier: audit log write failed: %s", strerror(errno));
        ret = -1;
    }
    json_decref(rec);
    return ret;
}

static int audit(struct vrf_patch *pp, json_t *rec)
{
    return audit_as(pp, rec, 1);
}

void vrf_patch_audit_boot(struct vrf_patch *pp, const struct vrf_proc_tpm *pt,
                          const uint8_t boot_id[32])
{
    int tpm = pt->state == VRF_TPM_STATE_OK;
    audit(pp, json_pack("{s:s,s:o,s:s,s:o,s:s}", "event", "boot", "baseline",
                        hex_json(pp->baseline), "kind", pp->kind,
                        "boot_id",
                        tpm ? hex_json(boot_id) : json_null(), "tpm",
                        tpm ? "ok" : "none"));
}

void vrf_patch_audit_lock(struct vrf_patch *pp, const struct vrf_proc_tpm *pt,
                          const uint8_t code_sha256[32])
{
    json_t *lock = json_pack("{s:s,s:o}", "event", "text-locked",
                             "code_sha256", hex_json(code_sha256));
    if (lock && pt->state == VRF_TPM_STATE_OK &&
        pt->lock_rec.action == FW_ACT_TEXT_LOCK)
        json_object_set_new(lock, "pcr10", pcr10_json(&pt->lock_rec));
    audit(pp, lock);
}

static void reject(struct vrf_patch *pp, struct vrf_msg *reply, int op,
                   const char *id, const uint8_t *sha, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Refuses the operation: audit "rejected", reply FAIL "CODE: reason". */
static void reject(struct vrf_patch *pp, struct vrf_msg *reply, int op,
                   const char *id, const uint8_t *sha, const char *code,
                   const char *fmt, ...)
{
    char reason[sizeof reply->fail.reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    audit(pp, json_pack("{s:s,s:s,s:s?,s:o,s:s,s:s}", "event", "rejected",
                        "op", op == VRF_OP_APPLY ? "apply" : "revert", "id",
                        id && id[0] ? id : NULL, "package_sha256",
                        sha ? hex_json(sha) : json_null(), "code", code,
                        "reason", reason));
    char text[sizeof reply->fail.reason];
    snprintf(text, sizeof text, "%.32s: %.200s", code, reason);
    vrf_msg_fail(reply, text);
}

/* ------------------------------------------------------ the operations */

static void op_free(struct vrf_op *op)
{
    for (size_t i = 0; op->w && i < op->nw; i++) {
        free(op->w[i].old_bytes);
        free(op->w[i].new_bytes);
    }
    free(op->w);
    memset(op, 0, sizeof *op);
}

uint8_t *vrf_patch_code_at(const struct vrf_patch *pp, uint64_t gpa,
                           uint64_t len)
{
    int64_t off = vrf_win_offset(pp->win, pp->n_win, gpa, len);
    return off < 0 ? NULL : pp->code + off;
}

/* Current code as an apply will find it: stale code reads as zero. */
static int read_code(void *opaque, uint64_t gpa, uint8_t *buf, size_t len)
{
    const struct vrf_patch *pp = opaque;
    const uint8_t *p = vrf_patch_code_at(pp, gpa, len);
    if (!p)
        return -1;
    memcpy(buf, p, len);
    for (size_t i = 0; i < pp->n_stale; i++) {
        uint64_t lo = pp->stale[i].gpa, hi = lo + pp->stale[i].len;
        uint64_t a = gpa > lo ? gpa : lo, b = gpa + len < hi ? gpa + len : hi;
        if (a < b)
            memset(buf + (a - gpa), 0, b - a);
    }
    return 0;
}

/* Order of writes: new code first, in-place replacements, then the jumps
 * into the new code (the guest sees none of them until all are done; the
 * order only keeps every prefix of the list consistent). */
static int rec_rank(uint32_t kind)
{
    return kind == VRF_REC_CODE ? 0 : kind == VRF_REC_REPLACE ? 1 : 2;
}

static int op_build(struct vrf_patch *pp, const struct vrf_pkg *pkg,
                    struct vrf_op *op)
{
    op->w = calloc(pkg->n_records, sizeof *op->w);
    if (!op->w)
        return -1;
    for (int rank = 0; rank < 3; rank++)
        for (size_t i = 0; i < pkg->n_records; i++) {
            const struct vrf_record *r = &pkg->records[i];
            const uint8_t *p;
            size_t len;
            if (rec_rank(r->kind) != rank)
                continue;
            vrf_record_new_bytes(r, &p, &len);
            struct vrf_write *w = &op->w[op->nw++];
            w->gpa = r->gpa;
            w->len = (uint32_t)len;
            w->kind = r->kind;
            w->old_bytes = malloc(len);
            w->new_bytes = malloc(len);
            if (!w->old_bytes || !w->new_bytes ||
                read_code(pp, r->gpa, w->old_bytes, len) != 0)
                return -1;
            memcpy(w->new_bytes, p, len);
        }
    return 0;
}

int vrf_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + got, len - got,
                          (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* The package from the monitor's fd, copied: what is verified is what is
 * written, whatever happens to the file afterwards. */
static uint8_t *read_package(int fd, size_t *len, const char **why)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = "the package is not a regular file or memfd";
        return NULL;
    }
    if (st.st_size <= 0 || st.st_size > VRF_PKG_MAX_SIZE) {
        *why = "the package must be 1 byte to 4 MiB";
        return NULL;
    }
    uint8_t *buf = malloc((size_t)st.st_size);
    if (!buf || vrf_pread_full(fd, buf, (size_t)st.st_size, 0) != 0) {
        free(buf);
        *why = "cannot read the package";
        return NULL;
    }
    *len = (size_t)st.st_size;
    return buf;
}

/* Patching needs a working TPM, a trust store and no operation under
 * way. Returns NULL or why not. */
static const char *not_ready(const struct vrf_patch *pp,
                             const struct vrf_proc_tpm *pt)
{
    if (pp->have_pending)
        return "another patch operation is under way";
    if (!pp->have_trust)
        return "this VM was started without --trust: patching is off";
    if (strcmp(pp->kind, "linux") == 0 && !pp->locked)
        return pp->lock_refusal
                   ? pp->lock_refusal
                   : "the kernel text is not locked yet: lock it first "
                     "(hvpatch lock, or the guest's lock port)";
    if (pt->state == VRF_TPM_STATE_NONE)
        return "this VM runs without a TPM (--no-tpm): patching needs one";
    if (pt->state != VRF_TPM_STATE_OK)
        return "the TPM is gone: patching is refused until the VM restarts";
    return NULL;
}

/* The TPM checks of an approval: the PCRs read back and replayed against
 * the event log with the package's baseline (docs/TPM.md §4: why no quote
 * here), and the anti-rollback counter as read for check 8 (a re-apply of
 * the last reverted package does not move it). */
static int tpm_approve(struct vrf_proc_tpm *pt, const struct vrf_pkg *pkg,
                       uint64_t highest, int reapply, char *why, size_t n)
{
    struct vrf_attest_report rep;
    memset(&rep, 0, sizeof rep);
    int e = vrf_tpm_check_pcrs(pt->t, pt->log.buf, pt->log.len,
                               pkg->baseline, pkg->kind, &rep);
    if (e == 0 && !reapply)
        e = vrf_tpm_nv_seq_allowed(pt->t, highest, pkg->sequence);
    if (e != 0)
        snprintf(why, n, "%.199s", rep.detail[0] ? rep.detail
                                                : vrf_tpm_last_error(pt->t));
    vrf_attest_report_free(&rep);
    if (e != 0 && vrf_tpm_is_gone(pt->t))
        pt->state = VRF_TPM_STATE_GONE;
    return e;
}

static int tpm_failed(struct vrf_proc_tpm *pt, char *why, size_t n)
{
    snprintf(why, n, "%s", vrf_tpm_last_error(pt->t));
    if (vrf_tpm_is_gone(pt->t))
        pt->state = VRF_TPM_STATE_GONE;
    return -1;
}

/* Extends PCR 10 with rec. Returns 0 or -1 (why says it). */
static int tpm_extend(struct vrf_proc_tpm *pt, const struct fw_runtime_rec *rec,
                      char *why, size_t n)
{
    if (pt->state != VRF_TPM_STATE_OK) {
        snprintf(why, n, "%s", "the TPM is gone");
        return -1;
    }
    if (fw_measure_runtime(&pt->log, rec, vrf_tpm_extend_cb, pt->t) != 0)
        return tpm_failed(pt, why, n);
    return 0;
}

static struct fw_runtime_rec op_rec(const struct vrf_op *op, uint8_t action)
{
    struct fw_runtime_rec rec = {.action = action, .sequence = op->seq};
    memcpy(rec.digest, op->pkg_sha256, 32);
    snprintf(rec.id, sizeof rec.id, "%s", op->id);
    return rec;
}

static uint8_t undo_action(const struct vrf_op *op)
{
    return op->kind == VRF_OP_APPLY ? FW_ACT_REVERT : FW_ACT_PATCH;
}

/* Records op's package as the one committed with its sequence. */
static void set_committed(struct vrf_patch *pp, const struct vrf_op *op)
{
    memcpy(pp->committed_sha256, op->pkg_sha256, 32);
    pp->committed_seq = op->seq;
    pp->have_committed = 1;
}

/* Whether the package committed with the counter's sequence is live. */
static int committed_live(const struct vrf_patch *pp)
{
    for (size_t i = 0; i < pp->n_applied; i++)
        if (pp->applied[i].seq == pp->committed_seq &&
            memcmp(pp->applied[i].pkg_sha256, pp->committed_sha256, 32) == 0)
            return 1;
    return 0;
}

/* Commits a new sequence to the counter, measures the operation and
 * audits "approved". Every PCR 10 event is carried by an audit record, so
 * the counter goes first (it adds no event). On failure replies FAIL and
 * returns -1. */
static int measure(struct vrf_patch *pp, struct vrf_proc_tpm *pt,
                   const struct vrf_op *op, const char *title, int reapply,
                   struct vrf_msg *reply)
{
    struct fw_runtime_rec rec =
        op_rec(op, op->kind == VRF_OP_APPLY ? FW_ACT_PATCH : FW_ACT_REVERT);
    struct fw_runtime_rec undo = op_rec(op, undo_action(op));
    char why[200];
    if (op->kind == VRF_OP_APPLY && !reapply) {
        if (vrf_tpm_nv_commit_seq(pt->t, op->seq) != 0) {
            tpm_failed(pt, why, sizeof why);
            reject(pp, reply, op->kind, op->id, op->pkg_sha256, "TPM", "%s",
                   why);
            return -1;
        }
        set_committed(pp, op);
    }
    if (tpm_extend(pt, &rec, why, sizeof why) != 0) {
        reject(pp, reply, op->kind, op->id, op->pkg_sha256, "TPM", "%s", why);
        return -1;
    }
    json_t *a = json_pack("{s:s,s:s,s:s,s:I,s:o,s:s,s:I,s:o}", "event",
                          "approved", "op",
                          op->kind == VRF_OP_APPLY ? "apply" : "revert", "id",
                          op->id, "seq", (json_int_t)op->seq,
                          "package_sha256", hex_json(op->pkg_sha256),
                          "signer", op->signer, "records", (json_int_t)op->nw,
                          "pcr10", pcr10_json(&rec));
    if (a && title)
        json_object_set_new(a, "title", json_string(title));
    if (a && op->kind == VRF_OP_APPLY && reapply)
        json_object_set_new(a, "reapply", json_true());
    if (audit_as(pp, a, 0) != 0 && pp->have_audit) {
        tpm_extend(pt, &undo, why, sizeof why);
        vrf_msg_fail(reply, "AUDIT: the audit log cannot be written");
        return -1;
    }
    return 0;
}

/* Measured and audited: the operation is pending, to be written. */
static int approve(struct vrf_patch *pp, struct vrf_proc_tpm *pt,
                   const struct vrf_op *op, const char *title, int reapply,
                   struct vrf_msg *reply)
{
    if (measure(pp, pt, op, title, reapply, reply) != 0)
        return -1;
    pp->pending = *op;
    pp->have_pending = 1;
    reply->type = VRF_MSG_APPROVED;
    struct vrf_msg_approved *a = &reply->approved;
    a->seq = op->seq;
    a->op = (uint32_t)op->kind;
    snprintf(a->id, sizeof a->id, "%s", op->id);
    snprintf(a->signer, sizeof a->signer, "%.199s", op->signer);
    return 0;
}

void vrf_patch_prepare(struct vrf_patch *pp, struct vrf_proc_tpm *pt, int fd,
                       struct vrf_msg *reply)
{
    const char *why = not_ready(pp, pt);
    size_t len = 0;
    uint8_t sha[32], *buf = NULL;
    struct vrf_pkg pkg;
    struct vrf_op op;
    memset(&op, 0, sizeof op);
    vrf_pkg_init(&pkg);
    if (!why && pp->n_applied >= VRF_PATCH_MAX_APPLIED)
        why = "64 patches are live: revert one first";
    if (why) {
        reject(pp, reply, VRF_OP_APPLY, NULL, NULL, "REFUSED", "%s", why);
        return;
    }
    buf = read_package(fd, &len, &why);
    if (!buf) {
        reject(pp, reply, VRF_OP_APPLY, NULL, NULL, "PACKAGE", "%s", why);
        return;
    }
    mbedtls_sha256_ret(buf, len, sha, 0);
    uint64_t highest = 0;
    int e = vrf_tpm_nv_read_seq(pt->t, &highest);
    if (e != 0) {
        if (vrf_tpm_is_gone(pt->t))
            pt->state = VRF_TPM_STATE_GONE;
        reject(pp, reply, VRF_OP_APPLY, NULL, sha, "TPM", "%s",
               vrf_tpm_last_error(pt->t));
        goto out;
    }
    struct vrf_ctx ctx = {
        .kind = pp->kind,
        .current_seq = highest,
        .committed_sha256 = pp->have_committed && pp->committed_seq == highest
                                ? pp->committed_sha256
                                : NULL,
        .committed_live = committed_live(pp),
        .now = (int64_t)time(NULL),
        .read = read_code,
        .read_opaque = pp,
    };
    memcpy(ctx.baseline, pp->baseline, 32);
    ctx.ranges = pp->ranges;
    ctx.n_ranges = pp->n_ranges;
    e = vrf_verify(&pp->trust, &ctx, buf, len, &pkg);
    if (e != VRF_OK) {
        reject(pp, reply, VRF_OP_APPLY, pkg.id, sha, vrf_errname(e), "%s%s%s",
               vrf_strerror(e), pkg.detail[0] ? ": " : "", pkg.detail);
        goto out;
    }
    char tpm_why[200];
    int reapply = pkg.sequence == highest; /* check 8 allowed it */
    if (tpm_approve(pt, &pkg, highest, reapply, tpm_why, sizeof tpm_why) !=
        0) {
        reject(pp, reply, VRF_OP_APPLY, pkg.id, sha, "TPM", "%s", tpm_why);
        goto out;
    }
    op.kind = VRF_OP_APPLY;
    op.seq = pkg.sequence;
    memcpy(op.pkg_sha256, sha, 32);
    snprintf(op.id, sizeof op.id, "%s", pkg.id);
    snprintf(op.signer, sizeof op.signer, "%s", pkg.signer.subject);
    if (op_build(pp, &pkg, &op) != 0)
        reject(pp, reply, VRF_OP_APPLY, pkg.id, sha, "NOMEM", "out of memory");
    else if (approve(pp, pt, &op, pkg.title, reapply, reply) == 0)
        memset(&op, 0, sizeof op); /* pending owns the writes now */
    op_free(&op);
out:
    vrf_pkg_free(&pkg);
    free(buf);
}

void vrf_patch_prepare_revert(struct vrf_patch *pp, struct vrf_proc_tpm *pt,
                              const struct vrf_msg *req,
                              struct vrf_msg *reply)
{
    char id[VRF_MSG_ID_MAX];
    const char *why = not_ready(pp, pt);
    memcpy(id, req->prepare_revert.id, sizeof id);
    id[sizeof id - 1] = '\0';
    if (why) {
        reject(pp, reply, VRF_OP_REVERT, id, NULL, "REFUSED", "%s", why);
        return;
    }
    size_t i = pp->n_applied;
    while (i > 0 && strcmp(pp->applied[i - 1].id, id) != 0)
        i--;
    if (i == 0) {
        reject(pp, reply, VRF_OP_REVERT, id, NULL, "NOT_APPLIED",
               "no applied patch has the id \"%s\"", id);
        return;
    }
    const struct vrf_op *top = &pp->applied[pp->n_applied - 1];
    if (i != pp->n_applied) {
        reject(pp, reply, VRF_OP_REVERT, id, NULL, "NOT_LATEST",
               "%s is not the latest patch: revert %s first", id, top->id);
        return;
    }
    /* The pending revert borrows the patch's writes, with the contents
     * swapped; finish() gives them back or drops the patch. */
    struct vrf_op op = *top;
    op.kind = VRF_OP_REVERT;
    op.written = 0;
    approve(pp, pt, &op, NULL, 0, reply);
}

/* Whether rip lies in [gpa, gpa + len), at or after from bytes into it:
 * at the range's virtual address (a Linux kernel), or for the demo guest
 * at the GPA or in its alias view. */
static int rip_in(const struct vrf_patch *pp, uint64_t rip, uint64_t gpa,
                  uint64_t len, uint64_t from)
{
    uint64_t va = vrf_range_va(pp->ranges, pp->n_ranges, gpa);
    uint64_t views[2] = {rip, rip - (HV_ALIAS_BASE - HV_PROT_BASE)};
    for (int v = 0; v < (va == gpa ? 2 : 1); v++)
        if (views[v] - va >= from && views[v] - va < len)
            return 1;
    return 0;
}

/* Which writes an operation performs: a revert leaves new code alone. */
static int op_writes(const struct vrf_op *op, const struct vrf_write *w)
{
    return op->kind == VRF_OP_APPLY || w->kind != VRF_REC_CODE;
}

int vrf_patch_rip_busy(const struct vrf_patch *pp, const struct vrf_op *op,
                       const uint64_t *rips, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        for (size_t i = 0; i < op->nw; i++)
            if (op_writes(op, &op->w[i]) &&
                rip_in(pp, rips[c], op->w[i].gpa, op->w[i].len, 1))
                return (int)c;
        for (size_t i = 0; op->kind == VRF_OP_APPLY && i < pp->n_stale; i++)
            if (rip_in(pp, rips[c], pp->stale[i].gpa, pp->stale[i].len, 0))
                return (int)c;
    }
    return -1;
}

static void scrub_stale(struct vrf_patch *pp)
{
    for (size_t i = 0; i < pp->n_stale; i++)
        memset(vrf_patch_code_at(pp, pp->stale[i].gpa, pp->stale[i].len), 0,
               pp->stale[i].len);
    pp->n_stale = 0;
}

enum vrf_shm_verdict vrf_patch_write_rips(struct vrf_patch *pp,
                                          const uint64_t *rips, size_t n,
                                          int *busy)
{
    struct vrf_op *op = &pp->pending;
    if (!pp->have_pending || op->written || n == 0 || n > HV_MAX_VCPUS)
        return VRF_SHM_FAIL;
    *busy = vrf_patch_rip_busy(pp, op, rips, n);
    if (*busy >= 0)
        return VRF_SHM_BUSY;
    if (op->kind == VRF_OP_APPLY) {
        scrub_stale(pp);
        for (size_t i = 0; i < op->nw; i++)
            memcpy(vrf_patch_code_at(pp, op->w[i].gpa, op->w[i].len),
                   op->w[i].new_bytes, op->w[i].len);
    } else {
        for (size_t i = op->nw; i-- > 0;)
            if (op_writes(op, &op->w[i]))
                memcpy(vrf_patch_code_at(pp, op->w[i].gpa, op->w[i].len),
                       op->w[i].old_bytes, op->w[i].len);
    }
    op->written = 1;
    return VRF_SHM_WRITTEN;
}

/* ------------------------------------------------------ pause region */

_Static_assert(VRF_MSG_CPUS_MAX == HV_MAX_VCPUS, "a RIP for every vCPU");

/* After ARM the verifier spins only briefly: the vCPUs take ~100 us to
 * leave guest mode on kvm_pvm, and a longer spin on a 2-core host took
 * the CPU they needed (measured: 3.7 ms median pause with 2 ms of spin,
 * 0.11-0.14 ms with none or 0.1 ms). */
#define VRF_SHM_SPIN_NS 50000ull
#define VRF_SHM_CHUNK_NS 100000000ull  /* between looks at the socket */
#define VRF_SHM_IDLE_NS 5000000000ull  /* a silent monitor: give up */

void vrf_patch_shm_open(struct vrf_patch *pp, struct vrf_msg *reply, int *fd)
{
    *fd = -1;
    if (!pp->shm || pp->shm_given) {
        vrf_msg_fail(reply, "the pause region is already open, or could "
                            "not be created");
        return;
    }
    reply->type = VRF_MSG_SHM;
    reply->shm.size = VRF_SHM_SIZE;
    *fd = pp->shm_fd;
    pp->shm_fd = -1;
    pp->shm_given = 1;
}

enum vrf_shm_verdict vrf_patch_shm_take(struct vrf_patch *pp, uint32_t req)
{
    struct vrf_shm *shm = pp->shm;
    uint64_t rips[VRF_MSG_CPUS_MAX];
    int busy = -1;
    /* One copy of what the monitor wrote; only the copy is used. */
    uint32_t n = __atomic_load_n(&shm->ncpus, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < VRF_MSG_CPUS_MAX; i++)
        rips[i] = __atomic_load_n(&shm->rips[i], __ATOMIC_RELAXED);
    enum vrf_shm_verdict v = vrf_patch_write_rips(pp, rips, n, &busy);
    shm->busy_cpu = busy >= 0 ? (uint32_t)busy : 0;
    shm->busy_rip = busy >= 0 ? rips[busy] : 0;
    shm->verdict = v;
    pp->shm_seen = req;
    vrf_shm_post(&shm->done, req, &shm->hv_sleeps);
    return v;
}

/* Whether the monitor sent a request on the socket: the op goes on there. */
static int sock_waiting(int sock)
{
    struct pollfd p = {.fd = sock, .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

void vrf_patch_shm_serve(struct vrf_patch *pp, int sock)
{
    struct vrf_shm *shm = pp->shm;
    uint64_t spin = VRF_SHM_SPIN_NS, idle_end = hv_now_ns() + VRF_SHM_IDLE_NS;
    if (!pp->shm_given)
        return;
    uint32_t r0 = __atomic_load_n(&shm->req, __ATOMIC_ACQUIRE);
    if (r0 != pp->shm_seen && VRF_SHM_KIND(r0) == VRF_SHM_END)
        pp->shm_seen = r0; /* of an op this side stopped serving */
    while (pp->shm_given && pp->have_pending) {
        uint32_t r = vrf_shm_wait(&shm->req, pp->shm_seen, &shm->vrf_sleeps,
                                  spin, hv_now_ns() + VRF_SHM_CHUNK_NS);
        spin = 0;
        if (r == pp->shm_seen) {
            if (hv_now_ns() >= idle_end || sock_waiting(sock))
                return;
            continue;
        }
        idle_end = hv_now_ns() + VRF_SHM_IDLE_NS;
        if (VRF_SHM_KIND(r) == VRF_SHM_RIPS) {
            if (vrf_patch_shm_take(pp, r) != VRF_SHM_BUSY)
                return;
            continue;
        }
        pp->shm_seen = r;
        if (VRF_SHM_KIND(r) == VRF_SHM_ARM)
            spin = VRF_SHM_SPIN_NS; /* the RIPs follow within the pause */
        else if (VRF_SHM_KIND(r) == VRF_SHM_END)
            return;
        /* else: not a kind; ignored */
    }
}

void vrf_patch_write(struct vrf_patch *pp, const struct vrf_msg *req,
                     struct vrf_msg *reply)
{
    struct vrf_msg_write w = req->write; /* one copy, then checked */
    int busy = -1;
    switch (vrf_patch_write_rips(pp, w.rips, w.ncpus, &busy)) {
    case VRF_SHM_WRITTEN:
        reply->type = VRF_MSG_WRITTEN;
        break;
    case VRF_SHM_BUSY:
        reply->type = VRF_MSG_BUSY;
        reply->busy.cpu = (uint32_t)busy;
        reply->busy.rip = w.rips[busy];
        break;
    default:
        vrf_msg_fail(reply, "no approved operation to write");
    }
}

/* A reverted patch's new code becomes stale. Out of memory, it stays as
 * it is (the vCPUs run now: it cannot be zeroed), and a later package
 * that wants that space is refused by its pre-image check. */
static void keep_stale(struct vrf_patch *pp, const struct vrf_op *op)
{
    for (size_t i = 0; i < op->nw; i++) {
        if (op->w[i].kind != VRF_REC_CODE)
            continue;
        struct vrf_stale *s =
            realloc(pp->stale, (pp->n_stale + 1) * sizeof *s);
        if (!s)
            return;
        pp->stale = s;
        pp->stale[pp->n_stale++] =
            (struct vrf_stale){op->w[i].gpa, op->w[i].len};
    }
}

/* An automatic revert's reason, as the monitor gave it: printable ASCII
 * only ('?' for any other byte), so the record is valid JSON whatever the
 * guest printed. */
static json_t *auto_reason(const struct vrf_msg *req)
{
    const char *in = req->finish.reason;
    char why[sizeof req->finish.reason];
    size_t n = 0;
    for (; n + 1 < sizeof why && in[n]; n++)
        why[n] = in[n] >= 0x20 && in[n] < 0x7f ? in[n] : '?';
    why[n] = '\0';
    return json_string(n ? why : "unspecified");
}

/* The operation is live: keep the patch, or drop the reverted one. */
static void finish_written(struct vrf_patch *pp, const struct vrf_msg *req,
                           struct vrf_msg *reply)
{
    struct vrf_op *op = &pp->pending;
    int apply = op->kind == VRF_OP_APPLY;
    if (apply ? pp->n_applied >= VRF_PATCH_MAX_APPLIED : pp->n_applied == 0) {
        vrf_msg_fail(reply, "no room for the patch, or nothing to revert");
        return; /* approve() prevents both */
    }
    int automatic = !apply && req->finish.origin == VRF_FINISH_AUTO;
    json_t *a = json_pack("{s:s,s:s,s:I,s:I,s:I}", "event",
                          apply       ? "applied"
                          : automatic ? "auto-reverted"
                                      : "reverted",
                          "id", op->id, "seq", (json_int_t)op->seq,
                          "pause_ns", (json_int_t)req->finish.pause_ns,
                          "tries", (json_int_t)req->finish.tries);
    if (a && automatic)
        json_object_set_new(a, "reason", auto_reason(req));
    if (apply) {
        pp->applied[pp->n_applied++] = *op;
    } else {
        keep_stale(pp, op);
        op_free(&pp->applied[--pp->n_applied]);
    }
    memset(op, 0, sizeof *op);
    pp->have_pending = 0;
    if (audit(pp, a) != 0 && pp->have_audit) {
        vrf_msg_fail(reply, "AUDIT: done, but the audit log cannot be "
                             "written");
        return;
    }
    reply->type = VRF_MSG_DONE;
}

/* Nothing was written: measure the undoing event, so that PCR 10 again
 * says what the code is, and record why. */
static void finish_aborted(struct vrf_patch *pp, struct vrf_proc_tpm *pt,
                           const struct vrf_msg *req, struct vrf_msg *reply)
{
    struct vrf_op *op = &pp->pending;
    int apply = op->kind == VRF_OP_APPLY;
    struct fw_runtime_rec undo = op_rec(op, undo_action(op));
    char why[200] = "";
    int measured = tpm_extend(pt, &undo, why, sizeof why) == 0;
    json_t *a = json_pack(
        "{s:s,s:s,s:s,s:I,s:s,s:I}", "event", "aborted", "op",
        apply ? "apply" : "revert", "id", op->id, "seq", (json_int_t)op->seq,
        "reason",
        req->finish.outcome == VRF_FINISH_BUSY
            ? "busy: a vCPU stayed inside a range to change"
            : "the vCPUs could not be paused",
        "tries", (json_int_t)req->finish.tries);
    if (a && measured)
        json_object_set_new(a, "pcr10", pcr10_json(&undo));
    else if (a)
        json_object_set_new(a, "tpm_error", json_string(why));
    if (apply)
        op_free(op);
    memset(op, 0, sizeof *op); /* a revert's writes stay with the patch */
    pp->have_pending = 0;
    audit(pp, a);
    reply->type = VRF_MSG_DONE;
}

void vrf_patch_finish(struct vrf_patch *pp, struct vrf_proc_tpm *pt,
                      const struct vrf_msg *req, struct vrf_msg *reply)
{
    if (!pp->have_pending) {
        vrf_msg_fail(reply, "no operation to finish");
        return;
    }
    reply->done.seq = pp->pending.seq;
    if (pp->pending.written)
        finish_written(pp, req, reply);
    else
        finish_aborted(pp, pt, req, reply);
}

void vrf_patch_blocked(struct vrf_patch *pp, const struct vrf_msg *req,
                       struct vrf_msg *reply)
{
    char gpa[24], rip[24];
    snprintf(gpa, sizeof gpa, "0x%" PRIx64, req->blocked.gpa);
    snprintf(rip, sizeof rip, "0x%" PRIx64, req->blocked.rip);
    audit(pp, json_pack("{s:s,s:I,s:s,s:s}", "event", "guest-write-blocked",
                        "count", (json_int_t)req->blocked.count, "gpa", gpa, "rip",
                        rip));
    reply->type = VRF_MSG_DONE;
}
