/* hv_seccomp.h: the monitor's seccomp allow-list.
 *
 * A service (docs/MONITOR.md, "Layers"): may include the machine
 * (hv_machine.h) and other services' headers, never a device's. */
#ifndef HV_SECCOMP_H
#define HV_SECCOMP_H

/* Enters the monitor's allow-list (all threads). A Linux guest's monitor
 * may still change memslots, until its text lock calls
 * hv_seccomp_lock_memslots() (every thread, for good). */
int hv_seccomp_enter(int linux_guest);
int hv_seccomp_lock_memslots(void);

#endif /* HV_SECCOMP_H */
