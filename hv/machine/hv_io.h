/* hv_io.h: the device layer's contract with the exit loop: a device
 * registers the I/O port ranges it answers, each with a handler and an
 * opaque pointer, and the exit loop passes every port access to whoever
 * registered that port. The exit loop never names a device.
 *
 * Layers (docs/MONITOR.md, "Layers"): the machine (hv_machine.h) holds one
 * bus per VM and its exit loop dispatches on it; device files register on
 * it. This header includes only <stdint.h>, so a device and its bus can
 * be unit-tested without a VM. A device file includes this header, its
 * own header and hv_machine.h (the machine), never a service header: what it
 * needs from a service comes as an ops struct that the assembly
 * (hv_run.c) fills in when it attaches the device. */
#ifndef HV_IO_H
#define HV_IO_H

#include <stdint.h>

/* Port ranges one VM registers: a Linux guest's UART and six platform
 * ranges, a demo guest's UART and hypercalls, with room to spare. A fixed table keeps
 * the exit loop's lookup a bounded scan. */
#define HV_IO_RANGES_MAX 16

/* A handler's answer for an access that is not its own (a size, count or
 * direction the port does not take): the exit loop then treats it like a
 * port nobody registered, and stops the VM. */
#define HV_IO_UNCLAIMED 1

struct hv_vcpu;

/* One KVM_EXIT_IO, its data already checked to lie inside the run area. */
struct hv_io {
    uint16_t port;
    int out;        /* 1: guest writes (out), 0: guest reads (in) */
    unsigned size;  /* bytes per access: 1, 2 or 4 */
    unsigned count; /* accesses (a string instruction: more than 1) */
    uint8_t *data;  /* size * count bytes */
};

/* Handles io for the device dev. Returns 0 to keep running, -1 once the
 * VM must stop (the reason already recorded with hv_vm_stop), or
 * HV_IO_UNCLAIMED. */
typedef int (*hv_io_fn)(void *dev, struct hv_vcpu *v, const struct hv_io *io);

struct hv_io_range {
    uint16_t first, n; /* ports first .. first + n - 1 */
    const char *name;  /* the device, for messages */
    hv_io_fn fn;
    void *dev;
};

/* A VM's port table; zero-initialised it is empty. Filled before the
 * vCPUs start, read-only after, so lookups take no lock. */
struct hv_io_bus {
    struct hv_io_range r[HV_IO_RANGES_MAX];
    unsigned n;
};

/* Registers ports first .. first + n - 1 for dev. Returns 0, or -1 (logged
 * with both devices named) if the range is empty, wraps, overlaps one
 * already registered, or the table is full. */
int hv_io_register(struct hv_io_bus *bus, uint16_t first, uint16_t n,
                   const char *name, hv_io_fn fn, void *dev);

/* Passes io to the device registered for io->port. Returns its answer, or
 * HV_IO_UNCLAIMED if no device has that port. */
int hv_io_dispatch(const struct hv_io_bus *bus, struct hv_vcpu *v,
                   const struct hv_io *io);

#endif /* HV_IO_H */
