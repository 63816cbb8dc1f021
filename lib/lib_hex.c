/* lib_hex.c: the one hex codec of hvpatch (see lib_hex.h). */
#include <stdlib.h>

#include "lib/lib_hex.h"

int lib_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void lib_hex_encode(const uint8_t *p, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

char *lib_hex_alloc(const uint8_t *p, size_t len)
{
    char *s = malloc(2 * len + 1);

    if (s != NULL)
        lib_hex_encode(p, len, s);
    return s;
}

long lib_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = lib_hex_digit(s[2 * i]), lo = lib_hex_digit(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

int lib_hex_u64(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;

    if (n == 0 || n > 16)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int d = lib_hex_digit(s[i]);

        if (d < 0)
            return -1;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    return 0;
}
