/* vrf_time.h: UTC times as text (ISO 8601), for every component. */
#ifndef VRF_TIME_H
#define VRF_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Formats an epoch time as "YYYY-MM-DDThh:mm:ssZ" into buf (>= 21
 * bytes). */
void vrf_format_time(int64_t t, char *buf, size_t size);
/* The same for a time in Unix milliseconds; out[32]. */
void vrf_format_time_ms(uint64_t unix_ms, char out[32]);

#endif /* VRF_TIME_H */
