/* hv_io.c: the port table devices register on and the exit loop looks
 * ports up in (hv/machine/hv_io.h). A linear scan: a VM has a dozen ranges. */
#include <stddef.h>

#include "hv/machine/hv_io.h"
#include "lib/hv_log.h"

static const struct hv_io_range *find(const struct hv_io_bus *bus,
                                      unsigned first, unsigned last)
{
    for (unsigned i = 0; i < bus->n; i++) {
        unsigned lo = bus->r[i].first, hi = lo + bus->r[i].n - 1u;
        if (first <= hi && last >= lo)
            return &bus->r[i];
    }
    return NULL;
}

int hv_io_register(struct hv_io_bus *bus, uint16_t first, uint16_t n,
                   const char *name, hv_io_fn fn, void *dev)
{
    unsigned last = (unsigned)first + n - 1u;
    if (n == 0 || last > UINT16_MAX) {
        hv_err("devices: %s: port range 0x%x + %u is empty or wraps", name,
               first, n);
        return -1;
    }
    const struct hv_io_range *other = find(bus, first, last);
    if (other) {
        hv_err("devices: %s: ports 0x%x-0x%x overlap %s's 0x%x-0x%x", name,
               first, last, other->name, other->first,
               other->first + other->n - 1u);
        return -1;
    }
    if (bus->n == HV_IO_RANGES_MAX) {
        hv_err("devices: %s: port table full (%u ranges)", name,
               HV_IO_RANGES_MAX);
        return -1;
    }
    bus->r[bus->n++] = (struct hv_io_range){
        .first = first, .n = n, .name = name, .fn = fn, .dev = dev};
    return 0;
}

int hv_io_dispatch(const struct hv_io_bus *bus, struct hv_vcpu *v,
                   const struct hv_io *io)
{
    const struct hv_io_range *r = find(bus, io->port, io->port);
    return r ? r->fn(r->dev, v, io) : HV_IO_UNCLAIMED;
}
