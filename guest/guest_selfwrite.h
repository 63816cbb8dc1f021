/* guest_selfwrite.h: the demo guest's write to its own protected code,
 * one of three ways (GUEST_SELFWRITE_*), used by the kernel at ring 0
 * (kernel.c) and by the workload at ring 3 (workload.c). Values travel
 * through registers and inline asm so the compiler can neither drop the
 * store nor assume its effect. */
#ifndef GUEST_SELFWRITE_H
#define GUEST_SELFWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "guest/guest.h"
#include "lib/hv_abi.h"

static inline void guest_selfwrite_do(uint64_t kind, uint8_t *target,
                                      const uint64_t words[2])
{
    uint64_t alias = HV_ALIAS_BASE + ((uintptr_t)target - HV_PROT_BASE);
    const void *src = words;
    void *dst = target;
    size_t n = 2 * sizeof words[0];

    switch (kind) {
    case GUEST_SELFWRITE_STORE:
        __asm__ volatile("movq %1, (%0)"
                         :
                         : "r"(target), "r"(words[0])
                         : "memory");
        break;
    case GUEST_SELFWRITE_REP_MOVSB:
        __asm__ volatile("rep movsb"
                         : "+D"(dst), "+S"(src), "+c"(n)
                         :
                         : "memory");
        break;
    case GUEST_SELFWRITE_ALIAS:
        __asm__ volatile("movq %1, (%0)"
                         :
                         : "r"(alias), "r"(words[0])
                         : "memory");
        break;
    }
}

#endif /* GUEST_SELFWRITE_H */
