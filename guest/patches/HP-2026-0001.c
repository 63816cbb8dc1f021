/* HP-2026-0001.c: hot patch for the demo kernel's sys_klog_read
 * (guest/kernel.c): its bounds check `off + len > sizeof log` wraps around
 * for a huge off, so a read starts before the log, at the kernel's
 * secret. The replacement checks `off > sizeof log || len > sizeof log -
 * off`, which cannot wrap, and otherwise does exactly what the original
 * does: the same 64-byte limit, the same user-range check and error codes,
 * the same copy with the kernel's own memcpy.
 *
 * Built by `hvpatch build HP-2026-0001.json`: compiled with the guest's
 * freestanding flags, linked at the kernel patch area (0x40200000); the
 * kernel symbols below resolve to their addresses in build/guest/demo.elf,
 * and sys_klog_read's 5-byte entry pad becomes `jmp hp_sys_klog_read`. */
#include <stddef.h>
#include <stdint.h>

#include "guest/guest.h"
#include "lib/hv_abi.h"

extern struct guest_klog guest_klog;
/* The kernel's own memcpy (rep movsb), not the user library's. */
void *memcpy(void *dst, const void *src, size_t n);

long hp_sys_klog_read(unsigned long off, unsigned long len, char *ubuf);

/* kernel.c's guest_user_range_ok (inlined there, so copied here): user
 * buffers lie wholly in user data; no sum can overflow. */
static int hp_user_range_ok(uint64_t addr, uint64_t len)
{
    return addr >= HV_UDATA_GPA && len <= HV_UDATA_SIZE &&
           addr - HV_UDATA_GPA <= HV_UDATA_SIZE - len;
}

long hp_sys_klog_read(unsigned long off, unsigned long len, char *ubuf)
{
    /* The fix: compare off and len against the size separately. */
    if (off > sizeof guest_klog.log || len > sizeof guest_klog.log - off ||
        len > GUEST_KLOG_READ_MAX)
        return -GUEST_EINVAL;
    if (!hp_user_range_ok((uint64_t)ubuf, len))
        return -GUEST_EFAULT;
    memcpy(ubuf, guest_klog.log + off, len);
    return (long)len;
}
