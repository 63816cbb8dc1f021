/* keys_int.h: private to keys/: how the CLI front ends show packages and
 * certificates (keys_show.c). */
#ifndef KEYS_INT_H
#define KEYS_INT_H

#include <stdio.h>

#include <jansson.h>

#include "keys/keys.h"

/* Every field of a parsed package as a JSON object: identity, target,
 * envelope, each certificate of x5chain (NOT verified), each record with
 * all its bytes in hex; `image` (may be NULL) names the guest symbols at
 * record addresses. raw/raw_len: the package file, for its digest.
 * Returns a new reference or NULL (out of memory). */
json_t *keys_pkg_json(const struct vrf_pkg *pkg, const uint8_t *raw,
                      size_t raw_len, const struct keys_elf *image);

/* The same, for humans: long byte strings are shortened to their first
 * bytes and a SHA-256. */
void keys_pkg_print(FILE *f, const struct vrf_pkg *pkg, const uint8_t *raw,
                    size_t raw_len, const struct keys_elf *image);

/* "YYYY-MM-DDThh:mm:ssZ" for an epoch time. */
void keys_iso_time(int64_t t, char out[32]);

#endif /* KEYS_INT_H */
