/* ulib.h: the shared user library's API (ring 3; the demo's ntdll.dll):
 * system call stubs, memory, string and number helpers, line output, and
 * the deliberately vulnerable ulib_echo. */
#ifndef ULIB_H
#define ULIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* System calls (guest.h): each returns >= 0 or -GUEST_E*. */
long ulib_syscall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2);
/* Writes all len bytes from user data to the console; len or -GUEST_E*. */
long ulib_write(const void *buf, size_t len);
/* Reads what the console holds now, up to len bytes; 0 if nothing. */
long ulib_read(void *buf, size_t len);
long ulib_heartbeat(uint64_t count);
long ulib_klog_read(uint64_t off, uint64_t len, void *buf);
/* Ring-0 self-write attempt of one kind; GUEST_SELFWRITE_* result. */
long ulib_selfwrite_ring0(unsigned kind);
void ulib_shutdown(int code) __attribute__((noreturn));
struct hv_hc_patches;
/* The live hot patches, as the monitor lists them (lib/hv_abi.h). */
long ulib_patches(struct hv_hc_patches *out);

uint64_t ulib_rdtsc(void);

void *ulib_memcpy(void *dst, const void *src, size_t n);
void *ulib_memset(void *dst, int c, size_t n);
size_t ulib_strlen(const char *s);
/* True if the n bytes at a equal the NUL-terminated string s. */
bool ulib_mem_is(const char *a, size_t n, const char *s);
/* Parses all n bytes as an unsigned 64-bit decimal or 0x-hex number;
 * false on an empty token, a stray character or overflow. */
bool ulib_parse_u64(const char *s, size_t n, uint64_t *out);
uint32_t ulib_checksum(const void *buf, size_t len);

/* Copies claimed_len bytes of msg (a message of msg_len bytes) to out and
 * returns how many it copied, or -GUEST_EINVAL if out_cap is too small.
 * Deliberately vulnerable: see ulib.c. */
long ulib_echo(const char *msg, unsigned long msg_len,
               unsigned long claimed_len, char *out, unsigned long out_cap);

/* One output line, built in user memory (the kernel writes only from user
 * data) and written with its '\n' by one system call. Appends beyond the
 * capacity are dropped. */
#define ULIB_LINE_MAX 512
struct ulib_line {
    size_t len;
    char buf[ULIB_LINE_MAX];
};

void ulib_line_start(struct ulib_line *l);
void ulib_line_str(struct ulib_line *l, const char *s);
/* Appends n bytes, each byte outside printable ASCII shown as '.'. */
void ulib_line_printable(struct ulib_line *l, const void *p, size_t n);
void ulib_line_u64(struct ulib_line *l, uint64_t v);
void ulib_line_i64(struct ulib_line *l, int64_t v);
long ulib_line_end(struct ulib_line *l);
/* Writes s and a '\n'. */
void ulib_puts(const char *s);

#endif /* ULIB_H */
