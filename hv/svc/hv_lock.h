/* hv_lock.h: a Linux guest's text lock (docs/LINUX.md, "Text lock").
 *
 * A service (docs/MONITOR.md, "Layers"): may include the machine
 * (hv_machine.h) and other services' headers, never a device's. */
#ifndef HV_LOCK_H
#define HV_LOCK_H

#include <jansson.h>

struct hv_vm;
struct hv_vrf;

/* Locks the kernel text: pause, the verifier's LOCK, the text's GPAs
 * backed by the read-only memfd (memslot 2), memslot changes forbidden
 * from then on, resume. Returns the result object, or NULL with *err and
 * *cls. A failure after the verifier locked stops the VM. */
json_t *hv_lock_text(struct hv_vm *vm, struct hv_vrf *vrf, const char **err,
                     const char **cls);
/* The guest asked for its text lock (a byte written to its lock port,
 * HV_LINUX_LOCK_PORT; any thread): the main loop performs it. */
void hv_lock_request(struct hv_vm *vm);

#endif /* HV_LOCK_H */
