/* test_platform.c: a Linux guest's platform ports (hv/hv_dev_platform.c)
 * without a VM, against stubs of the monitor: the pvpanic device (a panic
 * stops the VM as a guest failure, a crash kernel does not, reads give
 * its events, other sizes are not its), the sleep and reset registers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/fw_linux.h"
#include "hv/hv_int.h"
#include "hv/hv_log.h"

static int stops, stop_why;

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
int hv_lock_port_out(struct hv_vcpu *v, uint32_t val)
{
    (void)v;
    (void)val;
    return 0;
}

static struct hv_vm vm;
static struct hv_vcpu vcpu = {.vm = &vm};

static int out1(uint16_t port, uint8_t val)
{
    return hv_platform_io(&vcpu, port, 1, &val, 1, 1);
}

static void test_pvpanic(void **state)
{
    uint8_t b[4] = {0};
    (void)state;
    stops = 0;
    assert_int_equal(hv_platform_io(&vcpu, FW_LINUX_PORT_PVPANIC, 0, b, 1, 1),
                     0);
    assert_int_equal(b[0],
                     FW_LINUX_PVPANIC_PANICKED | FW_LINUX_PVPANIC_CRASH_LOADED);
    assert_int_equal(out1(FW_LINUX_PORT_PVPANIC, 0), 0);
    assert_int_equal(out1(FW_LINUX_PORT_PVPANIC, FW_LINUX_PVPANIC_CRASH_LOADED),
                     0);
    assert_int_equal(stops, 0); /* a crash kernel runs on */
    assert_int_equal(out1(FW_LINUX_PORT_PVPANIC, FW_LINUX_PVPANIC_PANICKED),
                     -1);
    assert_int_equal(stops, 1);
    assert_int_equal(stop_why, HV_STOP_GUEST_FAIL);
    /* a word, or a string access, is not the device's */
    assert_int_equal(hv_platform_io(&vcpu, FW_LINUX_PORT_PVPANIC, 1, b, 2, 1),
                     HV_IO_UNCLAIMED);
    assert_int_equal(hv_platform_io(&vcpu, FW_LINUX_PORT_PVPANIC, 1, b, 1, 2),
                     HV_IO_UNCLAIMED);
    assert_int_equal(
        hv_platform_io(&vcpu, FW_LINUX_PORT_PVPANIC + 1, 1, b, 1, 1),
        HV_IO_UNCLAIMED);
    assert_int_equal(stops, 1);
}

static void test_power(void **state)
{
    (void)state;
    stops = 0;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pvpanic),
        cmocka_unit_test(test_power),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
