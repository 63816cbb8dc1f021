/* test_serial.c: the 16550A model's registers and interrupt line as
 * Linux's 8250 driver uses them: probing, the THR-empty and receive
 * interrupts, IIR priorities and acknowledgement, rising edges; and the
 * UART on a port bus (hv/machine/hv_io.h) as the exit loop reaches it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hv/dev/hv_dev_serial.h"
#include "hv/machine/hv_io.h"

enum { THR = 0, RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

struct line {
    int level;
    unsigned rises, calls;
};

static void set_irq(void *ctx, int level)
{
    struct line *l = ctx;
    l->calls++;
    if (level && !l->level)
        l->rises++;
    l->level = level;
}

static int out_fd(void)
{
    static int p[2] = {-1, -1};
    if (p[1] < 0)
        assert_int_equal(pipe(p), 0); /* output goes nowhere we read */
    return p[1];
}

/* Without a line (the demo guest): no interrupt is ever reported. */
static void test_polled(void **state)
{
    (void)state;
    struct hv_serial s;
    hv_serial_init(&s, out_fd());
    assert_int_equal(hv_serial_read(&s, IIR), 0x01);
    hv_serial_write(&s, FCR, 0x07); /* FIFO on, clear both */
    assert_int_equal(hv_serial_read(&s, IIR), 0xc1); /* 16550A, no int */
    assert_int_equal(hv_serial_read(&s, LSR) & 0x61, 0x60);
    hv_serial_write(&s, SCR, 0x5a);
    assert_int_equal(hv_serial_read(&s, SCR), 0x5a);
    hv_serial_write(&s, THR, 'x');
    assert_int_equal(hv_serial_read(&s, IIR), 0xc1);
    assert_int_equal(hv_serial_feed(&s, (const uint8_t *)"ab", 2), 2);
    assert_int_equal(hv_serial_read(&s, LSR) & 0x01, 0x01);
    assert_int_equal(hv_serial_read(&s, RBR), 'a');
    assert_int_equal(hv_serial_read(&s, RBR), 'b');
    assert_int_equal(hv_serial_read(&s, LSR) & 0x01, 0);
    hv_serial_destroy(&s);
}

/* serial8250_do_startup's THRE test: enabling ETBEI with THR empty
 * raises the interrupt, IIR reports it (and acknowledges it), and doing
 * it again raises it again; otherwise Linux marks the UART buggy. */
static void test_thre_startup_probe(void **state)
{
    (void)state;
    struct hv_serial s;
    struct line l = {0};
    hv_serial_init(&s, out_fd());
    hv_serial_set_irq(&s, set_irq, &l);
    hv_serial_write(&s, FCR, 0x01);
    hv_serial_write(&s, IER, 0x02);
    assert_int_equal(l.level, 1);
    assert_int_equal(hv_serial_read(&s, IIR), 0xc2);
    assert_int_equal(l.level, 0); /* acknowledged by the IIR read */
    assert_int_equal(hv_serial_read(&s, IIR), 0xc1);
    hv_serial_write(&s, IER, 0x00);
    hv_serial_write(&s, IER, 0x02);
    assert_int_equal(hv_serial_read(&s, IIR), 0xc2);
    hv_serial_write(&s, IER, 0x00);
    assert_int_equal(l.level, 0);
    assert_int_equal(l.rises, 2);
    hv_serial_destroy(&s);
}

/* Transmitting with ETBEI on: every THR write is a new rising edge (the
 * interrupt clears on the write and sets again when the byte is gone), so
 * an edge-triggered IOAPIC pin delivers one interrupt per refill. */
static void test_thre_edges(void **state)
{
    (void)state;
    struct hv_serial s;
    struct line l = {0};
    hv_serial_init(&s, out_fd());
    hv_serial_set_irq(&s, set_irq, &l);
    hv_serial_write(&s, IER, 0x02);
    assert_int_equal(l.rises, 1);
    for (int i = 0; i < 16; i++)
        hv_serial_write(&s, THR, 'a' + i);
    assert_int_equal(l.rises, 17);
    assert_int_equal(l.level, 1);
    hv_serial_write(&s, IER, 0x00); /* __stop_tx */
    assert_int_equal(l.level, 0);
    hv_serial_write(&s, THR, '\n'); /* console write, polled: no edge */
    assert_int_equal(l.rises, 17);
    assert_int_equal(l.level, 0);
    hv_serial_destroy(&s);
}

/* Received data: ERBFI raises the line while bytes wait, IIR says so
 * before THR empty, and reading the last byte lowers it. */
static void test_receive(void **state)
{
    (void)state;
    struct hv_serial s;
    struct line l = {0};
    hv_serial_init(&s, out_fd());
    hv_serial_set_irq(&s, set_irq, &l);
    hv_serial_write(&s, IER, 0x01);
    assert_int_equal(l.level, 0);
    hv_serial_feed(&s, (const uint8_t *)"hi", 2);
    assert_int_equal(l.level, 1);
    hv_serial_write(&s, IER, 0x03); /* THR empty pending too */
    assert_int_equal(hv_serial_read(&s, IIR), 0x04); /* data first */
    assert_int_equal(hv_serial_read(&s, RBR), 'h');
    assert_int_equal(hv_serial_read(&s, IIR), 0x04);
    assert_int_equal(hv_serial_read(&s, RBR), 'i');
    assert_int_equal(hv_serial_read(&s, IIR), 0x02); /* then THR empty */
    assert_int_equal(hv_serial_read(&s, IIR), 0x01);
    assert_int_equal(l.level, 0);
    /* clearing the receive FIFO drops a pending receive interrupt */
    hv_serial_feed(&s, (const uint8_t *)"z", 1);
    assert_int_equal(l.level, 1);
    hv_serial_write(&s, FCR, 0x03);
    assert_int_equal(l.level, 0);
    assert_int_equal(hv_serial_read(&s, LSR) & 0x01, 0);
    assert_int_equal(l.rises, 2);
    hv_serial_destroy(&s);
}

/* Loopback (autoconfig's probe): THR comes back as received data and
 * MSR reflects MCR's outputs. */
static void test_loopback(void **state)
{
    (void)state;
    struct hv_serial s;
    struct line l = {0};
    hv_serial_init(&s, out_fd());
    hv_serial_set_irq(&s, set_irq, &l);
    hv_serial_write(&s, MCR, 0x1f);
    assert_int_equal(hv_serial_read(&s, MSR) & 0xf0, 0xf0);
    hv_serial_write(&s, MCR, 0x10);
    assert_int_equal(hv_serial_read(&s, MSR) & 0xf0, 0x00);
    hv_serial_write(&s, IER, 0x01);
    hv_serial_write(&s, THR, 0x42);
    assert_int_equal(l.level, 1);
    assert_int_equal(hv_serial_read(&s, RBR), 0x42);
    assert_int_equal(l.level, 0);
    /* the divisor latch hides THR and IER */
    hv_serial_write(&s, LCR, 0x80);
    hv_serial_write(&s, THR, 0x01);
    hv_serial_write(&s, IER, 0x00);
    assert_int_equal(hv_serial_read(&s, RBR), 0x01);
    assert_int_equal(hv_serial_read(&s, IER), 0x00);
    hv_serial_write(&s, LCR, 0x03);
    assert_int_equal(hv_serial_read(&s, IER), 0x01);
    assert_int_equal(hv_serial_read(&s, LSR) & 0x01, 0);
    hv_serial_destroy(&s);
}

static int bus_io(struct hv_io_bus *bus, uint16_t port, int out,
                  uint8_t *data, unsigned size, unsigned count)
{
    struct hv_io a = {
        .port = port, .out = out, .size = size, .count = count, .data = data};
    return hv_io_dispatch(bus, NULL, &a);
}

static int no_io(void *dev, struct hv_vcpu *v, const struct hv_io *io)
{
    (void)dev;
    (void)v;
    (void)io;
    return 0;
}

/* Registered at 0x3f8: its eight ports reach the registers, a string
 * access repeats, a wider access or another port is unclaimed; a range
 * overlapping it, an empty or wrapping one, and one past the table's
 * capacity are refused. */
static void test_bus(void **state)
{
    (void)state;
    struct hv_serial s;
    struct hv_io_bus bus = {0};
    uint8_t b[4] = {0x5a, 'a', 'b', 'c'};
    hv_serial_init(&s, out_fd());
    assert_int_equal(hv_serial_attach(&s, &bus, 0x3f8), 0);
    assert_int_equal(bus_io(&bus, 0x3f8 + SCR, 1, b, 1, 1), 0);
    b[0] = 0;
    assert_int_equal(bus_io(&bus, 0x3f8 + SCR, 0, b, 1, 1), 0);
    assert_int_equal(b[0], 0x5a);
    assert_int_equal(bus_io(&bus, 0x3f8 + MCR, 1, (uint8_t[]){0x10}, 1, 1),
                     0); /* loopback */
    assert_int_equal(bus_io(&bus, 0x3f8 + THR, 1, b + 1, 1, 3), 0);
    memset(b, 0, sizeof b);
    assert_int_equal(bus_io(&bus, 0x3f8 + RBR, 0, b, 1, 3), 0);
    assert_memory_equal(b, "abc", 3);
    assert_int_equal(bus_io(&bus, 0x3f8, 1, b, 2, 1), HV_IO_UNCLAIMED);
    assert_int_equal(bus_io(&bus, 0x3f8 + 8, 1, b, 1, 1), HV_IO_UNCLAIMED);
    assert_int_equal(bus_io(&bus, 0x3f7, 0, b, 1, 1), HV_IO_UNCLAIMED);
    assert_int_equal(hv_io_register(&bus, 0x3fc, 8, "other", no_io, NULL),
                     -1);
    assert_int_equal(hv_io_register(&bus, 0x3f0, 9, "other", no_io, NULL),
                     -1);
    assert_int_equal(hv_io_register(&bus, 0x100, 0, "other", no_io, NULL),
                     -1);
    assert_int_equal(hv_io_register(&bus, 0xfffe, 3, "other", no_io, NULL),
                     -1);
    for (unsigned i = 1; i < HV_IO_RANGES_MAX; i++)
        assert_int_equal(
            hv_io_register(&bus, (uint16_t)(0x100 + i), 1, "one", no_io, NULL),
            0);
    assert_int_equal(hv_io_register(&bus, 0x200, 1, "full", no_io, NULL), -1);
    assert_int_equal(bus.n, HV_IO_RANGES_MAX);
    hv_serial_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_polled),
        cmocka_unit_test(test_thre_startup_probe),
        cmocka_unit_test(test_thre_edges),
        cmocka_unit_test(test_receive),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_bus),
    };
    return cmocka_run_group_tests_name("serial", t, NULL, NULL);
}
