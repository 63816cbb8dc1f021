/* test_health.c: the health watch (hv/svc/hv_health.c) without a VM: which
 * console lines are faults and which a panic, what a reason may contain,
 * the window's limits, and the watch's decisions (revert on an oops or
 * stopped heartbeats, report a panic without reverting, close healthy,
 * ignore what came before the watch) against stubs of the monitor and a
 * clock the test moves. Also the UART's line watcher that feeds it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hv/dev/hv_dev_serial.h"
#include "hv/machine/hv_machine.h"
#include "hv/svc/hv_health.h"
#include "hv/svc/hv_patch.h"
#include "lib/hv_log.h"
#include "pkg/vrf.h"

/* ----------------------------------------------- stubs of the monitor */

static uint64_t fake_ns = 1000000000ull;
static int fake_paused;
static unsigned reverts;
static char revert_id[64], revert_reason[HV_HEALTH_REASON_MAX];
static int revert_fails;

uint64_t hv_now_ns(void)
{
    return fake_ns;
}
void hv_log(const char *fmt, ...)
{
    (void)fmt;
}
void hv_err(const char *fmt, ...)
{
    (void)fmt;
}
int hv_vm_paused(struct hv_vm *vm)
{
    (void)vm;
    return fake_paused;
}
void vrf_format_time_ms(uint64_t ms, char out[32])
{
    (void)ms;
    strcpy(out, "2026-01-01T00:00:00.000Z");
}
int hv_patch_auto_revert(struct hv_vm *vm, struct hv_vrf *vrf, const char *id,
                         const char *reason, const char **err)
{
    (void)vm;
    (void)vrf;
    reverts++;
    strcpy(revert_id, id);
    strcpy(revert_reason, reason);
    *err = "refused";
    return revert_fails ? -1 : 0;
}

/* -------------------------------------------------------- classifier */

static int classify(const char *s)
{
    return hv_health_classify(s, strlen(s));
}

static void test_classify(void **state)
{
    (void)state;
    /* Linux 6.1 on x86: a ud2 in kernel text, a page fault, BUG(). */
    assert_int_equal(
        classify("[   42.123456] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"),
        HV_HEALTH_LINE_FAULT);
    assert_int_equal(classify("general protection fault, probably for "
                              "non-canonical address 0x1: 0000 [#1] SMP"),
                     HV_HEALTH_LINE_FAULT);
    assert_int_equal(classify("BUG: kernel NULL pointer dereference, "
                              "address: 0000000000000000"),
                     HV_HEALTH_LINE_FAULT);
    assert_int_equal(classify("[    1.0] Oops: 0002 [#2] SMP"),
                     HV_HEALTH_LINE_FAULT);
    assert_int_equal(classify("kernel BUG at mm/slub.c:42!"),
                     HV_HEALTH_LINE_FAULT);
    assert_int_equal(
        classify("[ 9.9] Kernel panic - not syncing: Fatal exception"),
        HV_HEALTH_LINE_PANIC);
    /* Not failures: ordinary lines, the words elsewhere in a line, a
     * header without its counter, a broken time stamp. */
    assert_int_equal(classify(""), HV_HEALTH_LINE_OK);
    assert_int_equal(classify("guest: ready"), HV_HEALTH_LINE_OK);
    assert_int_equal(classify("echo: 5 bytes: Oops:"), HV_HEALTH_LINE_OK);
    assert_int_equal(classify("say BUG: nothing"), HV_HEALTH_LINE_OK);
    assert_int_equal(classify("invalid opcode: 0000 [#x]"), HV_HEALTH_LINE_OK);
    assert_int_equal(classify("invalid opcode: 00g0 [#1]"), HV_HEALTH_LINE_OK);
    assert_int_equal(classify("[1.0 Oops: x"), HV_HEALTH_LINE_OK);
    assert_int_equal(classify(" [#1]"), HV_HEALTH_LINE_OK);
    assert_int_equal(classify("Kernel pani"), HV_HEALTH_LINE_OK);
}

static void test_clean_and_window(void **state)
{
    char out[8];
    uint64_t ms = 7;
    (void)state;
    hv_health_clean(out, sizeof out, "a\x01\xff\"bcdefgh", 11);
    assert_string_equal(out, "a??\"bcd"); /* truncated, printable only */
    hv_health_clean(out, sizeof out, "ab\0cd", 5);
    assert_string_equal(out, "ab");
    assert_int_equal(hv_health_parse_window("0", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(hv_health_parse_window("3600", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(hv_health_parse_window("3601", &ms), -1);
    assert_int_equal(hv_health_parse_window("-1", &ms), -1);
    assert_int_equal(hv_health_parse_window("1s", &ms), -1);
    assert_int_equal(hv_health_parse_window("", &ms), -1);
    assert_int_equal(hv_health_parse_window(NULL, &ms), -1);
    assert_int_equal(hv_health_parse_window("99999999999999999999", &ms), -1);
}

/* ------------------------------------------------------------ watch */

static struct hv_vm vm;
static struct hv_health health;

static void fresh_vm(unsigned ncpus, int beating)
{
    memset(&vm, 0, sizeof vm);
    vm.ncpus = ncpus;
    hv_health_init(&health, &vm, 10000);
    for (unsigned i = 0; i < ncpus && beating; i++)
        hv_health_heartbeat(&health, i, 10);
    reverts = 0;
    revert_fails = 0;
    fake_paused = 0;
    revert_reason[0] = '\0';
}

static void line(const char *s)
{
    hv_health_console_line(&health, s, strlen(s));
}

static void advance_ms(uint64_t ms)
{
    fake_ns += ms * 1000000;
}

static void test_oops_reverts(void **state)
{
    (void)state;
    fresh_vm(2, 0);
    line("invalid opcode: 0000 [#1] SMP"); /* before the watch: not ours */
    assert_int_equal(hv_health_watch(&health, "HP-1", 10000), 1);
    hv_health_tick(&health, NULL);
    assert_int_equal(health.state, HV_HEALTH_WATCHING);
    assert_int_equal(reverts, 0);
    line("[ 3.5] invalid opcode: 0000 [#1] SMP\x07");
    line("BUG: later"); /* the first of the worst kind is the reason */
    hv_health_tick(&health, NULL);
    assert_int_equal(reverts, 1);
    assert_string_equal(revert_id, "HP-1");
    assert_string_equal(revert_reason,
                        "oops on the console: [ 3.5] invalid opcode: 0000 "
                        "[#1] SMP?");
    assert_int_equal(health.state, HV_HEALTH_AUTO_REVERTED);
    assert_string_equal(health.last_id, "HP-1");
    /* The watch is over: later faults change nothing. */
    line("BUG: again");
    hv_health_tick(&health, NULL);
    assert_int_equal(reverts, 1);
    json_t *j = hv_health_json(&health);
    assert_string_equal(json_string_value(json_object_get(j, "state")),
                        "auto-reverted");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "last_auto_revert"), "id")),
                        "HP-1");
    json_decref(j);
    hv_health_destroy(&health);
}

static void test_panic_is_dead(void **state)
{
    (void)state;
    fresh_vm(1, 0);
    hv_health_watch(&health, "HP-2", 10000);
    line("BUG: first");
    line("Kernel panic - not syncing: Fatal exception");
    hv_health_tick(&health, NULL);
    assert_int_equal(reverts, 0); /* a dead guest is not "repaired" */
    assert_int_equal(health.state, HV_HEALTH_DEAD);
    assert_string_equal(health.reason,
                        "guest panic on the console: Kernel panic - not "
                        "syncing: Fatal exception");
    hv_health_destroy(&health);
}

static void test_heartbeats(void **state)
{
    (void)state;
    uint64_t beats = 10;
    fresh_vm(2, 1);
    hv_health_watch(&health, "HP-3", 30000);
    /* vCPU 0 beats, vCPU 1 stops; paused time does not count. */
    for (int i = 0; i < 4; i++) {
        advance_ms(1000);
        hv_health_heartbeat(&health, 0, ++beats);
        hv_health_tick(&health, NULL);
    }
    fake_paused = 1;
    advance_ms(3000);
    hv_health_tick(&health, NULL);
    fake_paused = 0;
    assert_int_equal(reverts, 0);
    for (int i = 0; i < 5; i++) {
        advance_ms(1000);
        hv_health_heartbeat(&health, 0, ++beats);
        hv_health_tick(&health, NULL);
    }
    assert_int_equal(reverts, 0);
    advance_ms(100);
    hv_health_tick(&health, NULL);
    assert_int_equal(reverts, 1);
    assert_string_equal(revert_reason, "no heartbeat from vCPU 1 for 5000 ms");
    hv_health_destroy(&health);
}

static void test_healthy_and_cancel(void **state)
{
    (void)state;
    fresh_vm(1, 0); /* Linux: no heartbeats, nothing stalls */
    hv_health_watch(&health, "HP-4", 2000);
    advance_ms(1999);
    hv_health_tick(&health, NULL);
    assert_int_equal(health.state, HV_HEALTH_WATCHING);
    advance_ms(1);
    hv_health_tick(&health, NULL);
    assert_int_equal(health.state, HV_HEALTH_HEALTHY);
    line("BUG: after the window");
    hv_health_tick(&health, NULL);
    assert_int_equal(reverts, 0);
    /* A second watch replaces the first; a revert by hand ends it. */
    assert_int_equal(hv_health_watch(&health, "HP-5", 5000), 2);
    assert_int_equal(hv_health_report(&health, NULL, 1, "old watch"), -1);
    hv_health_cancel(&health);
    assert_int_equal(health.state, HV_HEALTH_ENDED);
    assert_int_equal(hv_health_report(&health, NULL, 2, "closed"), -1);
    /* Window 0: no watch at all. */
    hv_health_watch(&health, "HP-6", 0);
    assert_int_equal(health.state, HV_HEALTH_IDLE);
    assert_int_equal(reverts, 0);
    hv_health_destroy(&health);
}

static void test_report_and_failed_revert(void **state)
{
    (void)state;
    fresh_vm(1, 0);
    unsigned w = hv_health_watch(&health, "HP-7", 5000);
    revert_fails = 1;
    assert_int_equal(hv_health_report(&health, NULL, w, "curl exited 7"), 0);
    assert_int_equal(reverts, 1);
    assert_string_equal(revert_reason, "health check failed: curl exited 7");
    assert_int_equal(health.state, HV_HEALTH_REVERT_FAILED);
    assert_int_equal(health.last_ms, 0);
    hv_health_destroy(&health);
}

/* The UART hands the watcher whole lines, however output is flushed. */
static char seen[4][HV_SERIAL_LINE_MAX];
static unsigned nseen;

static void on_line(void *ctx, const char *l, size_t len)
{
    (void)ctx;
    assert_int_equal(strlen(l), len);
    if (nseen < 4)
        strcpy(seen[nseen], l);
    nseen++;
}

static void test_serial_lines(void **state)
{
    struct hv_serial s;
    int p[2];
    (void)state;
    assert_int_equal(pipe(p), 0);
    hv_serial_init(&s, p[1]);
    hv_serial_set_line_watch(&s, on_line, NULL);
    const char *a = "Oops: 00";
    for (const char *c = a; *c; c++)
        hv_serial_write(&s, 0, (uint8_t)*c);
    hv_serial_flush(&s); /* a partial line leaves; the watcher waits */
    assert_int_equal(nseen, 0);
    const char *b = "02 [#1]\r\nnext\n";
    for (const char *c = b; *c; c++)
        hv_serial_write(&s, 0, (uint8_t)*c);
    assert_int_equal(nseen, 2);
    assert_string_equal(seen[0], "Oops: 0002 [#1]");
    assert_string_equal(seen[1], "next");
    for (int i = 0; i < 300; i++) /* longer than a line: its start */
        hv_serial_write(&s, 0, 'x');
    hv_serial_write(&s, 0, '\n');
    assert_int_equal(nseen, 3);
    assert_int_equal(strlen(seen[2]), HV_SERIAL_LINE_MAX - 1);
    hv_serial_destroy(&s);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_clean_and_window),
        cmocka_unit_test(test_oops_reverts),
        cmocka_unit_test(test_panic_is_dead),
        cmocka_unit_test(test_heartbeats),
        cmocka_unit_test(test_healthy_and_cancel),
        cmocka_unit_test(test_report_and_failed_revert),
        cmocka_unit_test(test_serial_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
