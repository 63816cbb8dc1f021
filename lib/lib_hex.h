/* lib_hex.h: the one hex codec of hvpatch: bytes out as lowercase hex,
 * hex in (either case) as bytes or as one 64-bit number. */
#ifndef LIB_HEX_H
#define LIB_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit [0-9a-fA-F], or -1 for any other char. */
int lib_hex_digit(char c);

/* Writes 2 * len lowercase hex digits and a NUL into out, which holds
 * 2 * len + 1 bytes. */
void lib_hex_encode(const uint8_t *p, size_t len, char *out);

/* lib_hex_encode into a new string (free()); NULL when out of memory. */
char *lib_hex_alloc(const uint8_t *p, size_t len);

/* Decodes exactly the n chars at s (n even, every one a hex digit, either
 * case) into out[0 .. n / 2). Returns n / 2, or -1 when n is odd, n / 2 is
 * above cap or a char is not a hex digit (out may then be partly written). */
long lib_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap);

/* Reads the n chars at s (1 to 16 hex digits, either case) as a number.
 * Returns 0, or -1 (n out of range or a char not a hex digit). */
int lib_hex_u64(const char *s, size_t n, uint64_t *v);

#endif
