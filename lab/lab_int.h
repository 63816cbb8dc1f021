/* lab_int.h: what the lab's own files share and nobody else needs. */
#ifndef LAB_INT_H
#define LAB_INT_H

#include "lab/lab.h"

/* lab_virt.c: libvirt's capabilities XML (virConnectGetCapabilities) and
 * KVM x86_64 domain capabilities XML (virConnectGetDomainCapabilities);
 * NULL with d naming the call on failure; free() the result. */
char *lab_virt_caps(struct lab_virt *v, struct lab_diag *d);
char *lab_virt_domcaps(struct lab_virt *v, struct lab_diag *d);

#endif /* LAB_INT_H */
