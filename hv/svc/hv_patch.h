/* hv_patch.h: apply and revert through the verifier, and the live-patch
 * list (status, the guest's HV_HC_PATCHES).
 *
 * A service (docs/MONITOR.md, "Layers"): may include the machine
 * (hv_machine.h) and other services' headers, never a device's. */
#ifndef HV_PATCH_H
#define HV_PATCH_H

#include <jansson.h>
#include <stdint.h>

struct hv_vm;
struct hv_vrf;
struct vrf_msg;

/* Asks the verifier for the pause region and maps it, before the
 * sandbox. Without it (logged), writes go over the socket. */
void hv_patch_shm_open(struct hv_vrf *vrf);
/* Applies the package behind fd (taken) / reverts patch id. Return the
 * result object, or NULL with *err and *cls (the error class). */
json_t *hv_patch_apply(struct hv_vm *vm, struct hv_vrf *vrf, int fd,
                       const char **err, const char **cls);
json_t *hv_patch_revert(struct hv_vm *vm, struct hv_vrf *vrf, const char *id,
                        const char **err, const char **cls);
json_t *hv_patch_list_json(struct hv_vm *vm);
/* The verifier's trust store: its digest, anchors, CRL dates and the
 * latest reload's result; reload first re-reads the --trust directory
 * (dir, for the reply). NULL with *err and *cls if the verifier does not
 * answer, or, for a reload, if it kept the old store. */
json_t *hv_patch_trust(struct hv_vrf *vrf, int reload, const char *dir,
                       const char **err, const char **cls);
/* The health watch's revert of patch id (the latest live one): the
 * verifier audits it as "auto-reverted" with reason. Returns 0, or -1
 * with *err. */
int hv_patch_auto_revert(struct hv_vm *vm, struct hv_vrf *vrf, const char *id,
                         const char *reason, const char **err);
/* Error texts for a control reply: the verifier is gone; it refused (a
 * FAIL's reason) or answered something unexpected. *cls gets the class. */
const char *hv_patch_verifier_gone(const char **cls);
const char *hv_patch_refused(struct vrf_msg *r, const char **cls);
/* Has the verifier audit the guest writes the machine blocked since the
 * last call (one record for all of them; the caller rate-limits). */
void hv_patch_audit_blocked(struct hv_vm *vm, struct hv_vrf *vrf);
/* HV_HC_PATCHES: fills the guest's struct hv_hc_patches at gpa. */
int hv_patch_hypercall(struct hv_vm *vm, uint32_t gpa);

#endif /* HV_PATCH_H */
