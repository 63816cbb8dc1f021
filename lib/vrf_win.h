/* vrf_win.h: where the guest sees the protected code memfd: runs of
 * guest-physical addresses, each backed by the memfd from an offset (the
 * demo guest: one at HV_PROT_BASE; a Linux guest: its patch area there,
 * and its kernel text from the lock on). The monitor (blocked writes) and
 * the verifier (reads and writes of the code) look GPAs up alike. */
#ifndef VRF_WIN_H
#define VRF_WIN_H

#include <stddef.h>
#include <stdint.h>

struct vrf_win {
    uint64_t gpa, size, off;
};

/* The memfd offset of [gpa, gpa + len) if one of w[0..n) holds all of
 * it, or -1. */
static inline int64_t vrf_win_offset(const struct vrf_win *w, size_t n,
                                     uint64_t gpa, uint64_t len)
{
    for (size_t i = 0; i < n; i++)
        if (gpa >= w[i].gpa && len <= w[i].size &&
            gpa - w[i].gpa <= w[i].size - len)
            return (int64_t)(w[i].off + (gpa - w[i].gpa));
    return -1;
}

#endif /* VRF_WIN_H */
