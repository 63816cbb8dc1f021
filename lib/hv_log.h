/* hv_log.h: the monitor's diagnostics on stderr, one line per message. */
#ifndef HV_LOG_H
#define HV_LOG_H

#include <stdint.h>

/* Prints "hvpatch: <message>\n" to stderr atomically (one write). */
void hv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like hv_log, prefixed "error: ". */
void hv_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Nanoseconds on CLOCK_MONOTONIC. */
uint64_t hv_now_ns(void);

#endif /* HV_LOG_H */
