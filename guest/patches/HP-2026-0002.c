/* HP-2026-0002.c: hot patch for the demo's shared user library, ulib_echo
 * (guest/ulib.c): it trusts claimed_len and copies that many bytes from a
 * message of only msg_len bytes, leaking what follows the message
 * (Heartbleed-style). The replacement refuses claimed_len > msg_len with
 * -GUEST_EINVAL, as it already refuses claimed_len > out_cap, and
 * otherwise copies with the library's own ulib_memcpy.
 *
 * Built by `hvpatch build HP-2026-0002.json`: linked at the user patch
 * area (0x40300000), mapped for ring 3 like the library itself; the entry
 * pad of ulib_echo becomes `jmp hp_ulib_echo`, in the one physical copy
 * every process shares. */
#include <stddef.h>

#include "guest/guest.h"

/* The user library's own copy routine (guest/ulib.c). */
void *ulib_memcpy(void *dst, const void *src, size_t n);

long hp_ulib_echo(const char *msg, unsigned long msg_len,
                  unsigned long claimed_len, char *out, unsigned long out_cap);

long hp_ulib_echo(const char *msg, unsigned long msg_len,
                  unsigned long claimed_len, char *out, unsigned long out_cap)
{
    /* The fix: never read past the message. */
    if (claimed_len > msg_len || claimed_len > out_cap)
        return -GUEST_EINVAL;
    ulib_memcpy(out, msg, claimed_len);
    return (long)claimed_len;
}
