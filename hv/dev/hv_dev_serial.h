/* hv_dev_serial.h: a 16550A-compatible UART (COM1): console out and in,
 * polled or with an interrupt line. */
#ifndef HV_DEV_SERIAL_H
#define HV_DEV_SERIAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/machine/hv_io.h"

#define HV_SERIAL_PORTS 8
#define HV_SERIAL_RX_MAX 4096 /* input bytes queued for the guest */
#define HV_SERIAL_TX_MAX 512  /* output line buffer */
#define HV_SERIAL_LINE_MAX 128 /* line start a line watcher sees */

struct hv_serial {
    pthread_mutex_t lock;
    int out_fd;
    uint16_t base; /* first port, once attached */
    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    uint8_t rx[HV_SERIAL_RX_MAX];
    size_t rx_head, rx_len;
    uint64_t rx_dropped;
    char tx[HV_SERIAL_TX_MAX];
    size_t tx_len;
    int thr_ipending; /* the "THR empty" interrupt is pending */
    int irq_level;    /* the line as last signalled */
    void (*set_irq)(void *ctx, int level); /* NULL: polled, no line */
    void *irq_ctx;
    /* Line watcher (the health watch): each output line, its first
     * HV_SERIAL_LINE_MAX - 1 bytes, without "\r\n". */
    void (*on_line)(void *ctx, const char *line, size_t len);
    void *line_ctx;
    char line[HV_SERIAL_LINE_MAX];
    size_t line_len;
};

void hv_serial_init(struct hv_serial *s, int out_fd);
void hv_serial_destroy(struct hv_serial *s);
/* Attaches an interrupt line: fn(ctx, level) is called, with the UART's
 * lock held, each time the line changes (level 1: an enabled interrupt
 * is pending). Call before the guest runs. */
void hv_serial_set_irq(struct hv_serial *s, void (*fn)(void *ctx, int level),
                       void *ctx);
/* Calls fn(ctx, line, len), with the UART's lock held, for every line
 * the guest writes. Call before the guest runs. */
void hv_serial_set_line_watch(struct hv_serial *s,
                              void (*fn)(void *ctx, const char *line,
                                         size_t len),
                              void *ctx);
/* Registers the UART's HV_SERIAL_PORTS ports from base on bus, for byte
 * accesses (a wider one is left unclaimed). Returns 0 or -1 (logged). */
int hv_serial_attach(struct hv_serial *s, struct hv_io_bus *bus,
                     uint16_t base);
/* A guest access to port base + off (off < HV_SERIAL_PORTS). */
void hv_serial_write(struct hv_serial *s, unsigned off, uint8_t val);
uint8_t hv_serial_read(struct hv_serial *s, unsigned off);
/* Queues host input for the guest; returns the bytes accepted. */
size_t hv_serial_feed(struct hv_serial *s, const uint8_t *buf, size_t n);
/* Writes any buffered partial output line. */
void hv_serial_flush(struct hv_serial *s);

#endif /* HV_DEV_SERIAL_H */
