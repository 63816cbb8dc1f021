/* test_platform.c: a Linux guest's platform ports (hv/dev/hv_dev_platform.c)
 * without a VM, attached to a port bus as the monitor attaches them and
 * reached through the bus as the exit loop reaches them: the pvpanic
 * device (a panic goes to its ops, a crash kernel does not, reads give its
 * events, other sizes are not its), the sleep and reset registers (which
 * stop the VM: the one stub of the monitor), the lock port, and ports no
 * device registered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/fw_linux.h"
#include "hv/dev/hv_dev_platform.h"
#include "hv/machine/hv_io.h"
#include "hv/machine/hv_machine.h"
#include "lib/hv_log.h"

static int stops, stop_why, panics, lock_requests;

void hv_log(const char *fmt, ...)
{
    (void)fmt;
}
void hv_err(const char *fmt, ...)
{
    (void)fmt;
}
int hv_vm_stop(struct hv_vm *vm, enum hv_stop why, int guest_code)
{
    (void)vm;
    (void)guest_code;
    stops++;
    stop_why = (int)why;
    return 1;
}

static int on_panic(void *ctx, struct hv_vcpu *v)
{
    assert_ptr_equal(ctx, &panics);
    assert_int_equal(v->id, 1);
    panics++;
    return -1;
}

static void on_lock_request(void *ctx, struct hv_vcpu *v)
{
    assert_ptr_equal(ctx, &panics);
    assert_int_equal(v->id, 1);
    lock_requests++;
}

static struct hv_vm vm;
static struct hv_vcpu vcpu = {.vm = &vm, .id = 1};
static struct hv_platform platform;

static int io(uint16_t port, int out, uint8_t *data, unsigned size,
              unsigned count)
{
    struct hv_io a = {
        .port = port, .out = out, .size = size, .count = count, .data = data};
    return hv_io_dispatch(&vm.io, &vcpu, &a);
}

static int out1(uint16_t port, uint8_t val)
{
    return io(port, 1, &val, 1, 1);
}

static int setup(void **state)
{
    const struct hv_platform_ops ops = {.ctx = &panics,
                                        .lock_request = on_lock_request,
                                        .panicked = on_panic};
    (void)state;
    memset(&vm.io, 0, sizeof vm.io);
    stops = panics = lock_requests = 0;
    return hv_platform_attach(&platform, &vm.io, &ops);
}

static void test_pvpanic(void **state)
{
    uint8_t b[4] = {0};
    (void)state;
    assert_int_equal(io(FW_LINUX_PORT_PVPANIC, 0, b, 1, 1), 0);
    assert_int_equal(b[0],
                     FW_LINUX_PVPANIC_PANICKED | FW_LINUX_PVPANIC_CRASH_LOADED);
    assert_int_equal(out1(FW_LINUX_PORT_PVPANIC, 0), 0);
    assert_int_equal(out1(FW_LINUX_PORT_PVPANIC, FW_LINUX_PVPANIC_CRASH_LOADED),
                     0);
    assert_int_equal(panics, 0); /* a crash kernel runs on */
    /* the ops say what a panic means; the device only reports it */
    assert_int_equal(out1(FW_LINUX_PORT_PVPANIC, FW_LINUX_PVPANIC_PANICKED),
                     -1);
    assert_int_equal(panics, 1);
    assert_int_equal(stops, 0);
    /* a word, or a string access, is not the device's */
    assert_int_equal(io(FW_LINUX_PORT_PVPANIC, 1, b, 2, 1), HV_IO_UNCLAIMED);
    assert_int_equal(io(FW_LINUX_PORT_PVPANIC, 1, b, 1, 2), HV_IO_UNCLAIMED);
    assert_int_equal(io(FW_LINUX_PORT_PVPANIC + 1, 1, b, 1, 1),
                     HV_IO_UNCLAIMED);
    assert_int_equal(panics, 1);
}

static void test_power(void **state)
{
    (void)state;
    assert_int_equal(out1(FW_LINUX_PORT_SLEEP_CTL, 0x20 | (3 << 2)), 0);
    assert_int_equal(stops, 0); /* only S5 */
    assert_int_equal(
        out1(FW_LINUX_PORT_SLEEP_CTL, 0x20 | (FW_LINUX_SLP_TYP_S5 << 2)), -1);
    assert_int_equal(stop_why, HV_STOP_GUEST_OFF);
    assert_int_equal(out1(FW_LINUX_PORT_RESET, 0x02), 0);
    assert_int_equal(out1(FW_LINUX_PORT_RESET, FW_LINUX_RESET_VALUE), -1);
    assert_int_equal(stop_why, HV_STOP_GUEST_REBOOT);
    assert_int_equal(stops, 2);
}

/* The lock port asks through the ops and reads 0. */
static void test_lock_port(void **state)
{
    uint8_t b = 0xaa;
    (void)state;
    assert_int_equal(out1(HV_LINUX_LOCK_PORT, 1), 0);
    assert_int_equal(lock_requests, 1);
    assert_int_equal(io(HV_LINUX_LOCK_PORT, 0, &b, 1, 1), 0);
    assert_int_equal(b, 0);
    assert_int_equal(lock_requests, 1);
}

/* Ports the platform does not register stay unclaimed on the bus (the
 * exit loop stops the VM for them), and a second platform on the same
 * bus is refused: its ranges overlap. */
static void test_unclaimed(void **state)
{
    uint8_t b[4] = {0};
    struct hv_platform other;
    const struct hv_platform_ops ops = {.ctx = &panics,
                                        .lock_request = on_lock_request,
                                        .panicked = on_panic};
    (void)state;
    assert_int_equal(io(0x3f8, 1, b, 1, 1), HV_IO_UNCLAIMED); /* no UART */
    assert_int_equal(io(HV_PORT_HC_BASE, 1, b, 4, 1), HV_IO_UNCLAIMED);
    assert_int_equal(io(0x81, 0, b, 1, 1), HV_IO_UNCLAIMED);
    assert_int_equal(io(0x80, 0, b, 1, 1), HV_IO_UNCLAIMED); /* write-only */
    /* PCI's address register around the reset register: a dword only */
    assert_int_equal(io(0xcf8, 0, b, 4, 1), 0);
    assert_memory_equal(b, "\xff\xff\xff\xff", 4);
    assert_int_equal(io(0xcf8, 0, b, 1, 1), HV_IO_UNCLAIMED);
    assert_int_equal(io(0xcfa, 1, b, 2, 1), HV_IO_UNCLAIMED);
    assert_int_equal(io(0xd00, 0, b, 1, 1), HV_IO_UNCLAIMED);
    assert_int_equal(hv_platform_attach(&other, &vm.io, &ops), -1);
    assert_int_equal(stops + panics + lock_requests, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_pvpanic, setup),
        cmocka_unit_test_setup(test_power, setup),
        cmocka_unit_test_setup(test_lock_port, setup),
        cmocka_unit_test_setup(test_unclaimed, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
