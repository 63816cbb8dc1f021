/* hv_bytes.h: the two primitives every parser of an untrusted image in
 * hv/ reads through: a little-endian load and an overflow-safe bounds
 * test. */
#ifndef HV_BYTES_H
#define HV_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* Little-endian read of n (<= 8) bytes at p; callers check the bounds. */
static inline uint64_t hv_rd_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* True if [off, off + n) lies inside [0, len), without overflow. */
static inline int hv_in_bounds(uint64_t off, uint64_t n, size_t len)
{
    return off <= len && n <= len - off;
}

#endif /* HV_BYTES_H */
