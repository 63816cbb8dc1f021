/* vrf_patch.h: the verifier process's patch engine: approve, write,
 * revert, and record every decision (docs/MONITOR.md, "Applying").
 *
 * It owns the only writable mapping of the guest's protected code, the
 * trust store, the audit log and the list of applied patches. Every
 * operation follows one order, so that what the TPM and the audit log say
 * is never less than what the guest runs:
 *
 *   prepare  verify the package (or find the patch to revert), check the
 *            TPM (fresh quote, anti-rollback counter), extend PCR 10 and
 *            commit the counter, append "approved";    guest running
 *   write    check no vCPU is inside a range that changes, write every
 *            record;                                   every vCPU paused
 *   finish   append "applied"/"reverted"; or, if the write never
 *            happened, extend the undoing event and append "aborted".
 *
 * A revert restores the bytes at the patched sites; the patch's new code
 * stays in its patch area (unreachable, but a vCPU may be about to return
 * into it: the RIP check cannot see return addresses on stacks) until the
 * next apply's write zeroes it, with every vCPU paused and none inside.
 * Until then the verifier reads that area as zero, as it will be. 
 *
 * Measuring before writing is the TCG rule (measure, then load): a crash
 * between the two leaves a PCR that claims a change the code lacks, never
 * the reverse. */
#ifndef VRF_PATCH_H
#define VRF_PATCH_H

#include <stddef.h>
#include <stdint.h>

#include "audit/vrf_audit.h"
#include "firmware/fw_eventlog.h"
#include "lib/vrf_msg.h"
#include "lib/vrf_win.h"
#include "pkg/vrf.h"

#define VRF_PATCH_MAX_APPLIED 64u /* patches live at once */

/* One run of bytes a patch changes, with both of its contents. */
struct vrf_write {
    uint64_t gpa;
    uint32_t len;
    uint32_t kind; /* enum vrf_rec_kind */
    uint8_t *old_bytes; /* what was there (the pre-image) */
    uint8_t *new_bytes;
};

/* A patch: applied, or being applied or reverted. */
struct vrf_op {
    int kind; /* enum vrf_op_kind */
    char id[VRF_ID_MAX + 1];
    char signer[256];
    uint64_t seq;
    uint8_t pkg_sha256[32];
    size_t nw;
    struct vrf_write *w; /* owned; CODE records first, REDIRECTs last */
    int written;
};

struct vrf_proc_tpm;

struct vrf_patch {
    uint8_t *code; /* the writable mapping of the code memfd */
    uint64_t code_size;
    /* Where the guest sees it: the demo guest one window at HV_PROT_BASE;
     * a Linux guest its patch area there, and its text from the lock on
     * (lib/hv_abi.h). */
    struct vrf_win win[2];
    size_t n_win;
    /* What packages may change (check 10): the demo's ranges, or a Linux
     * guest's from its lock on (none before). */
    struct vrf_range ranges[4];
    size_t n_ranges;
    /* A Linux guest (vrf_lock.c): the ranges its lock will protect (0
     * if it cannot be locked: lock_refusal says why), the writable
     * segment its page tables must map, and whether it is locked. */
    struct vrf_range linux_ranges[2];
    size_t n_linux_ranges;
    const char *lock_refusal;
    uint64_t data_gpa, data_va;
    int locked;
    uint8_t baseline[32];
    const char *kind;
    struct vrf_trust trust;
    int have_trust;
    struct vrf_audit audit;
    int have_audit;
    struct vrf_op applied[VRF_PATCH_MAX_APPLIED]; /* oldest first */
    size_t n_applied;
    struct vrf_op pending;
    int have_pending;
    /* New code of reverted patches, left in place by the revert (a vCPU
     * may still return into it) and zeroed by the next apply's write. */
    struct vrf_stale {
        uint64_t gpa, len;
    } * stale;
    size_t n_stale;
    /* The package committed with the TPM counter's sequence: the one
     * package that may be applied again with that sequence while it is
     * not live (docs/TPM.md §3). From the audit log at start, then from
     * each commit. */
    uint8_t committed_sha256[32];
    uint64_t committed_seq;
    int have_committed;
    /* The pause region (vrf_shm.h): created before the sandbox; its fd is
     * handed to the monitor once (SHM, after READY), then the writes go over it. */
    struct vrf_shm *shm;
    int shm_fd;        /* until handed over; then -1 */
    int shm_given;
    uint32_t shm_seen; /* the last req taken */
};

/* Loads the trust store (trust_dir may be NULL: patching refused) and
 * opens the audit log (audit_path may be NULL), before the sandbox; the
 * log's latest approved patch of the highest sequence is taken as the
 * package committed with it. Returns 0 or -1 (logged). */
int vrf_patch_init(struct vrf_patch *pp, const char *trust_dir,
                   const char *audit_path);

/* Append the "boot" record (before the guest runs) and the
 * "text-locked" one (pt may hold no TPM). */
void vrf_patch_audit_boot(struct vrf_patch *pp, const struct vrf_proc_tpm *pt,
                          const uint8_t boot_id[32]);
void vrf_patch_audit_lock(struct vrf_patch *pp, const struct vrf_proc_tpm *pt,
                          const uint8_t code_sha256[32]);

/* The request handlers: each fills reply. fd is the package (PREPARE). */
void vrf_patch_prepare(struct vrf_patch *pp, struct vrf_proc_tpm *pt, int fd,
                       struct vrf_msg *reply);
void vrf_patch_prepare_revert(struct vrf_patch *pp, struct vrf_proc_tpm *pt,
                              const struct vrf_msg *req,
                              struct vrf_msg *reply);
void vrf_patch_write(struct vrf_patch *pp, const struct vrf_msg *req,
                     struct vrf_msg *reply);
void vrf_patch_finish(struct vrf_patch *pp, struct vrf_proc_tpm *pt,
                      const struct vrf_msg *req, struct vrf_msg *reply);

/* The write of the pending operation with every vCPU paused at rips[0..n)
 * (the caller's own copy): for WRITE and the pause region alike. Returns
 * VRF_SHM_WRITTEN, VRF_SHM_BUSY (*busy: the first vCPU inside a range to
 * change; nothing written) or VRF_SHM_FAIL (no approved operation, or n
 * outside 1..HV_MAX_VCPUS). */
enum vrf_shm_verdict vrf_patch_write_rips(struct vrf_patch *pp,
                                          const uint64_t *rips, size_t n,
                                          int *busy);

/* Fills the SHM message the verifier sends right after READY: the pause
 * region's fd in *fd (once; the caller closes it after sending), or a FAIL
 * with *fd = -1 if there is none. */
void vrf_patch_shm_open(struct vrf_patch *pp, struct vrf_msg *reply,
                        int *fd);

/* Takes the RIPS event req from the region: copies ncpus and the RIPs
 * once, writes (vrf_patch_write_rips), fills the verdict and posts done.
 * Returns the verdict. */
enum vrf_shm_verdict vrf_patch_shm_take(struct vrf_patch *pp, uint32_t req);

/* After APPROVED, when the monitor holds the region: serves its write
 * tries until WRITTEN, FAIL or END, or until the monitor has been silent
 * on the region for VRF_SHM_IDLE_NS or sent something on sock (then the
 * op is finished over the socket as always). */
void vrf_patch_shm_serve(struct vrf_patch *pp, int sock);
void vrf_patch_blocked(struct vrf_patch *pp, const struct vrf_msg *req,
                       struct vrf_msg *reply);

/* Sets up the code windows and ranges for pp->kind; for "linux", from
 * the kernel file image[0..len). */
void vrf_patch_layout(struct vrf_patch *pp, const uint8_t *image, size_t len);

/* The code memfd bytes behind guest-physical [gpa, gpa + len), or NULL if
 * they are not all inside one window. */
uint8_t *vrf_patch_code_at(const struct vrf_patch *pp, uint64_t gpa,
                           uint64_t len);

/* Reads exactly len bytes of fd at off (retrying short reads and
 * EINTR). Returns 0, or -1 on an error or end of file. */
int vrf_pread_full(int fd, void *buf, size_t len, uint64_t off);

/* VRF_MSG_LOCK (vrf_lock.c): the text lock of a Linux guest; fd is guest
 * RAM. Fills reply with LOCKED, or FAIL and the reason. */
void vrf_patch_lock(struct vrf_patch *pp, struct vrf_proc_tpm *pt, int fd,
                    const struct vrf_msg *req, struct vrf_msg *reply);

/* The RIP check alone (for tests): the index of the first RIP inside a
 * range op changes, other than at a site's first byte, also through the
 * demo guest's alias mapping; or -1. For an apply, the stale code it
 * zeroes counts too, first byte included. */
int vrf_patch_rip_busy(const struct vrf_patch *pp, const struct vrf_op *op,
                       const uint64_t *rips, size_t n);

#endif /* VRF_PATCH_H */
