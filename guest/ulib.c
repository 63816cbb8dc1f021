/* ulib.c: the shared user library (ring 3; the demo's ntdll.dll), linked
 * first in user text at HV_PROT_UTEXT so every workload calls one protected
 * copy that a hot patch changes for all of them at once. */
#include "guest/ulib.h"

#include "guest/guest.h"

/* System calls enter ring 0 through int3 (see guest.h for why). */
long ulib_syscall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    long ret;

    __asm__ volatile("int3"
                     : "=a"(ret)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
                     : "memory");
    return ret;
}

long ulib_write(const void *buf, size_t len)
{
    const char *p = buf;
    size_t done = 0;

    while (done < len) {
        long n =
            ulib_syscall(GUEST_SYS_WRITE, (uintptr_t)(p + done), len - done, 0);
        if (n <= 0)
            return n < 0 ? n : -GUEST_EFAULT;
        done += (size_t)n;
    }
    return (long)done;
}

long ulib_read(void *buf, size_t len)
{
    return ulib_syscall(GUEST_SYS_READ, (uintptr_t)buf, len, 0);
}

long ulib_heartbeat(uint64_t count)
{
    return ulib_syscall(GUEST_SYS_HEARTBEAT, count, 0, 0);
}

long ulib_patches(struct hv_hc_patches *out)
{
    return ulib_syscall(GUEST_SYS_PATCHES, (uintptr_t)out, 0, 0);
}

long ulib_klog_read(uint64_t off, uint64_t len, void *buf)
{
    return ulib_syscall(GUEST_SYS_KLOG_READ, off, len, (uintptr_t)buf);
}

long ulib_selfwrite_ring0(unsigned kind)
{
    return ulib_syscall(GUEST_SYS_SELFWRITE, kind, 0, 0);
}

void ulib_shutdown(int code)
{
    ulib_syscall(GUEST_SYS_SHUTDOWN, (uint32_t)code, 0, 0);
    for (;;)
        ; /* the kernel does not return from SHUTDOWN */
}

uint64_t ulib_rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* In asm: a C loop here could itself be turned into a call to memcpy. */
void *ulib_memcpy(void *dst, const void *src, size_t n)
{
    void *ret = dst;

    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
    return ret;
}

void *ulib_memset(void *dst, int c, size_t n)
{
    void *ret = dst;

    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
    return ret;
}

/* gcc may emit calls to memcpy/memset even with -fno-builtin; in user text
 * they resolve here (the kernel has its own pair). */
void *memcpy(void *dst, const void *src, size_t n)
    __attribute__((alias("ulib_memcpy")));
void *memset(void *dst, int c, size_t n) __attribute__((alias("ulib_memset")));

size_t ulib_strlen(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

bool ulib_mem_is(const char *a, size_t n, const char *s)
{
    size_t i = 0;

    while (i < n && s[i] && a[i] == s[i])
        i++;
    return i == n && !s[i];
}

static int ulib_digit(char c, unsigned base)
{
    int d;

    if (c >= '0' && c <= '9')
        d = c - '0';
    else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
    else
        return -1;
    return (unsigned)d < base ? d : -1;
}

bool ulib_parse_u64(const char *s, size_t n, uint64_t *out)
{
    unsigned base = 10;
    uint64_t v = 0;
    size_t i = 0;

    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i == n)
        return false;
    for (; i < n; i++) {
        int d = ulib_digit(s[i], base);

        if (d < 0 || v > (UINT64_MAX - (unsigned)d) / base)
            return false;
        v = v * base + (unsigned)d;
    }
    *out = v;
    return true;
}

/* Fletcher-style: cheap, order-sensitive, enough to keep the library busy. */
uint32_t ulib_checksum(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t a = 1, b = 0;

    for (size_t i = 0; i < len; i++) {
        a = (a + p[i]) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

/* BUG (deliberate: the demo's user-library vulnerability, Heartbleed-style,
 * fixed later by a hot patch): claimed_len is trusted and never checked
 * against msg_len, so the copy runs past the message into whatever follows
 * it in memory. The fix copies at most msg_len bytes (or rejects).
 * noipa: callers must make a plain call to this entry (no clones, no
 * assumptions about which registers it clobbers), so a replacement reached
 * through the entry pad behaves the same to them. */
__attribute__((noinline, noipa)) long
ulib_echo(const char *msg, unsigned long msg_len, unsigned long claimed_len,
          char *out, unsigned long out_cap)
{
    (void)msg_len;
    if (claimed_len > out_cap)
        return -GUEST_EINVAL;
    ulib_memcpy(out, msg, claimed_len);
    return (long)claimed_len;
}

void ulib_line_start(struct ulib_line *l)
{
    l->len = 0;
}

static void ulib_line_char(struct ulib_line *l, char c)
{
    /* One byte stays free for the '\n' that ulib_line_end adds. */
    if (l->len + 1 < sizeof l->buf)
        l->buf[l->len++] = c;
}

void ulib_line_str(struct ulib_line *l, const char *s)
{
    while (*s)
        ulib_line_char(l, *s++);
}

void ulib_line_printable(struct ulib_line *l, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        ulib_line_char(l, b[i] >= 0x20 && b[i] < 0x7f ? (char)b[i] : '.');
}

void ulib_line_u64(struct ulib_line *l, uint64_t v)
{
    char digits[20];
    int n = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0)
        ulib_line_char(l, digits[--n]);
}

void ulib_line_i64(struct ulib_line *l, int64_t v)
{
    if (v < 0) {
        ulib_line_char(l, '-');
        ulib_line_u64(l, -(uint64_t)v);
    } else {
        ulib_line_u64(l, (uint64_t)v);
    }
}

long ulib_line_end(struct ulib_line *l)
{
    l->buf[l->len++] = '\n';
    return ulib_write(l->buf, l->len);
}

void ulib_puts(const char *s)
{
    struct ulib_line l;

    ulib_line_start(&l);
    ulib_line_str(&l, s);
    ulib_line_end(&l);
}
