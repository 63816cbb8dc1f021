/* hv_dev_serial.c: a 16550A-compatible UART (COM1).
 *
 * Output is line-buffered to out_fd; input is a bounded FIFO fed from the
 * host's stdin. Registers follow the 16550 data sheet closely enough for
 * a polling driver (LSR.DR / LSR.THRE), for probing (scratch, loopback,
 * FIFO) and, once an interrupt line is attached, for Linux's 8250 driver:
 * IER enables, IIR reports the highest-priority source (received data,
 * then transmitter empty), and the line follows IIR. A transmitted byte
 * leaves at once, so the transmitter is always empty; its interrupt is
 * "pending" from the moment THR empties or IER.ETBEI is switched on, until
 * IIR reports it or THR is written again (QEMU's serial.c does the same).
 * Without an interrupt line (the demo guest polls) nothing is signalled. */
#include <string.h>
#include <unistd.h>

#include "hv/dev/hv_dev_serial.h"

enum {
    REG_DATA = 0, /* RBR/THR, DLL when LCR.DLAB */
    REG_IER = 1,  /* DLM when LCR.DLAB */
    REG_IIR = 2,  /* FCR on write */
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    REG_MSR = 6,
    REG_SCR = 7,
};
#define IER_RDI 0x01  /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0 /* FIFOs enabled: what makes Linux say 16550A */
#define FCR_FIFO 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10

void hv_serial_init(struct hv_serial *s, int out_fd)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->out_fd = out_fd;
    s->dll = 12; /* 9600 baud, as after reset */
}

void hv_serial_set_irq(struct hv_serial *s, void (*fn)(void *ctx, int level),
                       void *ctx)
{
    pthread_mutex_lock(&s->lock);
    s->set_irq = fn;
    s->irq_ctx = ctx;
    pthread_mutex_unlock(&s->lock);
}

void hv_serial_set_line_watch(struct hv_serial *s,
                              void (*fn)(void *ctx, const char *line,
                                         size_t len),
                              void *ctx)
{
    pthread_mutex_lock(&s->lock);
    s->on_line = fn;
    s->line_ctx = ctx;
    pthread_mutex_unlock(&s->lock);
}

void hv_serial_destroy(struct hv_serial *s)
{
    hv_serial_flush(s);
    pthread_mutex_destroy(&s->lock);
}

static void tx_flush_locked(struct hv_serial *s)
{
    size_t off = 0;
    while (off < s->tx_len) {
        ssize_t w = write(s->out_fd, s->tx + off, s->tx_len - off);
        if (w <= 0)
            break; /* console gone: drop output, keep the guest running */
        off += (size_t)w;
    }
    s->tx_len = 0;
}

void hv_serial_flush(struct hv_serial *s)
{
    pthread_mutex_lock(&s->lock);
    tx_flush_locked(s);
    pthread_mutex_unlock(&s->lock);
}

/* The interrupt source IIR reports, highest priority first. No line
 * errors and no modem-status changes ever happen here. */
static uint8_t iir_id_locked(const struct hv_serial *s)
{
    if ((s->ier & IER_RDI) && s->rx_len)
        return IIR_RDI;
    if ((s->ier & IER_THRI) && s->thr_ipending)
        return IIR_THRI;
    return IIR_NO_INT;
}

/* Drives the line to match IIR; only changes are signalled, so a source
 * that clears and sets again is a new rising edge for an edge-triggered
 * interrupt controller. */
static void update_irq_locked(struct hv_serial *s)
{
    int level = iir_id_locked(s) != IIR_NO_INT;
    if (s->set_irq && level != s->irq_level) {
        s->irq_level = level;
        s->set_irq(s->irq_ctx, level);
    }
}

/* The line watcher's copy: independent of how output is flushed. */
static void line_byte_locked(struct hv_serial *s, uint8_t c)
{
    if (!s->on_line || c == '\r')
        return;
    if (c != '\n') {
        if (s->line_len < sizeof s->line - 1)
            s->line[s->line_len++] = (char)c;
        return;
    }
    s->line[s->line_len] = '\0';
    s->on_line(s->line_ctx, s->line, s->line_len);
    s->line_len = 0;
}

static void tx_byte_locked(struct hv_serial *s, uint8_t c)
{
    line_byte_locked(s, c);
    s->tx[s->tx_len++] = (char)c;
    if (c == '\n' || s->tx_len == sizeof s->tx)
        tx_flush_locked(s);
}

static void rx_push_locked(struct hv_serial *s, uint8_t c)
{
    if (s->rx_len == sizeof s->rx) {
        s->rx_dropped++;
        return;
    }
    s->rx[(s->rx_head + s->rx_len) % sizeof s->rx] = c;
    s->rx_len++;
}

void hv_serial_write(struct hv_serial *s, unsigned off, uint8_t val)
{
    pthread_mutex_lock(&s->lock);
    switch (off) {
    case REG_DATA:
        if (s->lcr & LCR_DLAB) {
            s->dll = val;
            break;
        }
        s->thr_ipending = 0; /* writing THR clears its interrupt... */
        update_irq_locked(s);
        if (s->mcr & MCR_LOOP)
            rx_push_locked(s, val);
        else
            tx_byte_locked(s, val);
        s->thr_ipending = 1; /* ...and the byte is gone at once */
        update_irq_locked(s);
        break;
    case REG_IER:
        if (s->lcr & LCR_DLAB) {
            s->dlm = val;
            break;
        }
        if ((s->ier ^ val) & IER_THRI) /* THR is empty: pending if on */
            s->thr_ipending = (val & IER_THRI) != 0;
        s->ier = val & 0x0f;
        update_irq_locked(s);
        break;
    case REG_IIR:
        s->fcr = val;
        if (val & FCR_CLEAR_RX)
            s->rx_len = 0;
        update_irq_locked(s);
        break;
    case REG_LCR:
        s->lcr = val;
        break;
    case REG_MCR:
        s->mcr = val & 0x1f;
        break;
    case REG_SCR:
        s->scr = val;
        break;
    default: /* LSR and MSR are read-only */
        break;
    }
    pthread_mutex_unlock(&s->lock);
}

static uint8_t msr_locked(const struct hv_serial *s)
{
    if (s->mcr & MCR_LOOP) /* loopback: outputs show up as inputs */
        return (uint8_t)(((s->mcr & 0x0c) << 4) | ((s->mcr & 0x03) << 4));
    return 0xb0; /* DCD, DSR, CTS */
}

uint8_t hv_serial_read(struct hv_serial *s, unsigned off)
{
    uint8_t v = 0;
    pthread_mutex_lock(&s->lock);
    switch (off) {
    case REG_DATA:
        if (s->lcr & LCR_DLAB) {
            v = s->dll;
        } else if (s->rx_len) {
            v = s->rx[s->rx_head];
            s->rx_head = (s->rx_head + 1) % sizeof s->rx;
            s->rx_len--;
            update_irq_locked(s);
        }
        break;
    case REG_IER:
        v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
        break;
    case REG_IIR:
        v = iir_id_locked(s);
        if (v == IIR_THRI) { /* reading IIR acknowledges THR empty */
            s->thr_ipending = 0;
            update_irq_locked(s);
        }
        v |= (s->fcr & FCR_FIFO) ? IIR_FIFO : 0;
        break;
    case REG_LCR:
        v = s->lcr;
        break;
    case REG_MCR:
        v = s->mcr;
        break;
    case REG_LSR:
        v = LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
        break;
    case REG_MSR:
        v = msr_locked(s);
        break;
    case REG_SCR:
        v = s->scr;
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return v;
}

static int serial_io(void *dev, struct hv_vcpu *v, const struct hv_io *io)
{
    struct hv_serial *s = dev;
    unsigned off = io->port - s->base;
    (void)v;
    if (io->size != 1 || off >= HV_SERIAL_PORTS)
        return HV_IO_UNCLAIMED;
    for (unsigned i = 0; i < io->count; i++) {
        if (io->out)
            hv_serial_write(s, off, io->data[i]);
        else
            io->data[i] = hv_serial_read(s, off);
    }
    return 0;
}

int hv_serial_attach(struct hv_serial *s, struct hv_io_bus *bus,
                     uint16_t base)
{
    s->base = base;
    return hv_io_register(bus, base, HV_SERIAL_PORTS, "UART", serial_io, s);
}

size_t hv_serial_feed(struct hv_serial *s, const uint8_t *buf, size_t n)
{
    size_t i;
    pthread_mutex_lock(&s->lock);
    for (i = 0; i < n && s->rx_len < sizeof s->rx; i++)
        rx_push_locked(s, buf[i]);
    update_irq_locked(s);
    pthread_mutex_unlock(&s->lock);
    return i;
}
