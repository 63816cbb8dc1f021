/* test_patch.c: the verifier's patch engine without a VM: the RIP check
 * (sites, new code, the alias view, stale code), the pause region's
 * write, and the refusals that need no TPM, each one audited. The full path runs against a real guest
 * and swtpm in tests/integration/apply.bats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/hv_abi.h"
#include "lib/vrf_shm.h"
#include "verifier/vrf_patch.h"
#include "verifier/vrf_proc_int.h"

#define SITE (HV_PROT_KTEXT + 0x100)
#define CODE (HV_PROT_KPATCH + 0x40)

static uint8_t site_old[5], site_new[5], code_new[32], code_old[32];

/* A patch of two writes: 32 bytes of new code and a 5-byte jump. */
static struct vrf_write test_writes[2] = {
    {CODE, 32, VRF_REC_CODE, code_old, code_new},
    {SITE, 5, VRF_REC_REDIRECT, site_old, site_new},
};

static struct vrf_op test_op(int kind)
{
    struct vrf_op op = {.kind = kind, .nw = 2, .w = test_writes};
    return op;
}

static void rip_at_a_site_start_is_fine_inside_is_busy(void **state)
{
    struct vrf_patch pp = {0};
    struct vrf_op op = test_op(VRF_OP_APPLY);
    uint64_t rips[2] = {0x1000, SITE};
    (void)state;
    assert_int_equal(vrf_patch_rip_busy(&pp, &op, rips, 2), -1);
    rips[1] = SITE + 2;
    assert_int_equal(vrf_patch_rip_busy(&pp, &op, rips, 2), 1);
    rips[1] = SITE + 5; /* just past the site */
    assert_int_equal(vrf_patch_rip_busy(&pp, &op, rips, 2), -1);
    rips[0] = CODE + 31;
    assert_int_equal(vrf_patch_rip_busy(&pp, &op, rips, 2), 0);
}

static void rip_through_the_alias_counts(void **state)
{
    struct vrf_patch pp = {0};
    struct vrf_op op = test_op(VRF_OP_APPLY);
    uint64_t rip = SITE + 1 + (HV_ALIAS_BASE - HV_PROT_BASE);
    (void)state;
    assert_int_equal(vrf_patch_rip_busy(&pp, &op, &rip, 1), 0);
}

static void revert_leaves_new_code_and_checks_only_sites(void **state)
{
    struct vrf_patch pp = {0};
    struct vrf_op op = test_op(VRF_OP_REVERT);
    uint64_t rip = CODE + 4; /* running the patch's new code */
    (void)state;
    assert_int_equal(vrf_patch_rip_busy(&pp, &op, &rip, 1), -1);
    rip = SITE + 3;
    assert_int_equal(vrf_patch_rip_busy(&pp, &op, &rip, 1), 0);
}

static void stale_code_is_busy_for_an_apply_first_byte_too(void **state)
{
    struct vrf_stale stale = {HV_PROT_UPATCH, 64};
    struct vrf_patch pp = {.stale = &stale, .n_stale = 1};
    struct vrf_op apply = test_op(VRF_OP_APPLY), revert = test_op(VRF_OP_REVERT);
    uint64_t rip = HV_PROT_UPATCH;
    (void)state;
    assert_int_equal(vrf_patch_rip_busy(&pp, &apply, &rip, 1), 0);
    assert_int_equal(vrf_patch_rip_busy(&pp, &revert, &rip, 1), -1);
    rip = HV_PROT_UPATCH + 64;
    assert_int_equal(vrf_patch_rip_busy(&pp, &apply, &rip, 1), -1);
}

/* ------------------------------------------------ refusals, audited */

struct env {
    char dir[64], log[96];
    struct vrf_patch pp;
    struct vrf_proc_tpm pt;
};

static int env_setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/test_patch.XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->log, sizeof e->log, "%s/audit.jsonl", e->dir);
    assert_int_equal(vrf_patch_init(&e->pp, NULL, e->log), 0);
    e->pp.kind = "demo";
    e->pt.state = VRF_TPM_STATE_NONE;
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    struct env *e = *state;
    vrf_audit_close(&e->pp.audit);
    vrf_trust_free(&e->pp.trust);
    unlink(e->log);
    rmdir(e->dir);
    free(e);
    return 0;
}

/* The last line of the audit log. */
static char *last_record(const struct env *e)
{
    static char line[4096];
    FILE *f = fopen(e->log, "r");
    line[0] = '\0';
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        ;
    fclose(f);
    return line;
}

static void apply_without_trust_is_refused_and_audited(void **state)
{
    struct env *e = *state;
    struct vrf_msg r = {0};
    vrf_patch_prepare(&e->pp, &e->pt, -1, &r);
    assert_int_equal(r.type, VRF_MSG_FAIL);
    assert_non_null(strstr(r.fail.reason, "without --trust"));
    assert_non_null(strstr(last_record(e), "\"event\":\"rejected\""));
    assert_non_null(strstr(last_record(e), "\"op\":\"apply\""));
}

static void no_tpm_is_refused(void **state)
{
    struct env *e = *state;
    struct vrf_msg r = {0};
    e->pp.have_trust = 1; /* an empty store: the TPM check comes first */
    vrf_patch_prepare(&e->pp, &e->pt, -1, &r);
    assert_int_equal(r.type, VRF_MSG_FAIL);
    assert_non_null(strstr(r.fail.reason, "without a TPM"));
    e->pt.state = VRF_TPM_STATE_GONE;
    memset(&r, 0, sizeof r);
    vrf_patch_prepare(&e->pp, &e->pt, -1, &r);
    assert_non_null(strstr(r.fail.reason, "TPM is gone"));
}

static void revert_of_nothing_and_steps_out_of_order(void **state)
{
    struct env *e = *state;
    struct vrf_msg req = {.type = VRF_MSG_PREPARE_REVERT}, r = {0};
    e->pp.have_trust = 1;
    e->pt.state = VRF_TPM_STATE_OK;
    strcpy(req.prepare_revert.id, "HP-1");
    vrf_patch_prepare_revert(&e->pp, &e->pt, &req, &r);
    assert_int_equal(r.type, VRF_MSG_FAIL);
    assert_non_null(strstr(r.fail.reason, "NOT_APPLIED"));
    assert_non_null(strstr(last_record(e), "\"op\":\"revert\""));
    /* WRITE and FINISH with nothing approved: refused, nothing written. */
    struct vrf_msg w = {.type = VRF_MSG_WRITE, .write = {.ncpus = 1}};
    memset(&r, 0, sizeof r);
    vrf_patch_write(&e->pp, &w, &r);
    assert_int_equal(r.type, VRF_MSG_FAIL);
    struct vrf_msg f = {.type = VRF_MSG_FINISH};
    memset(&r, 0, sizeof r);
    vrf_patch_finish(&e->pp, &e->pt, &f, &r);
    assert_int_equal(r.type, VRF_MSG_FAIL);
}

/* Posts a RIPS event on the monitor's mapping and has the verifier take
 * it: the verdict is in the region, done names the event. */
static int take_rips(struct vrf_patch *pp, struct vrf_shm *mon,
                     uint32_t ncpus, uint64_t rip0, uint64_t rip1)
{
    mon->ncpus = ncpus;
    mon->rips[0] = rip0;
    mon->rips[1] = rip1;
    mon->req = VRF_SHM_NEXT(mon->req, VRF_SHM_RIPS);
    int v = vrf_patch_shm_take(pp, mon->req);
    assert_int_equal(mon->done, mon->req);
    assert_int_equal(mon->verdict, v);
    return v;
}

static void pause_region_refuses_bad_counts_then_busy_then_writes(void **st)
{
    struct vrf_patch pp = {0};
    struct vrf_msg r = {0};
    int fd = -1, again = -1;
    (void)st;
    pp.code = calloc(1, HV_PROT_SIZE);
    pp.code_size = HV_PROT_SIZE;
    pp.win[0] = (struct vrf_win){HV_PROT_BASE, HV_PROT_SIZE, 0};
    pp.n_win = 1;
    pp.shm_fd = vrf_shm_create(&pp.shm);
    assert_true(pp.code && pp.shm_fd >= 0);
    /* Handed over once, sealed; the monitor maps its own view. */
    vrf_patch_shm_open(&pp, &r, &fd);
    assert_int_equal(r.type, VRF_MSG_SHM);
    assert_int_equal(r.shm.size, VRF_SHM_SIZE);
    struct vrf_shm *mon = vrf_shm_map(fd);
    assert_non_null(mon);
    memset(&r, 0, sizeof r);
    vrf_patch_shm_open(&pp, &r, &again);
    assert_int_equal(r.type, VRF_MSG_FAIL);
    assert_int_equal(again, -1);
    /* Nothing approved, then counts outside 1..8: refused. */
    assert_int_equal(take_rips(&pp, mon, 1, 0x1000, 0), VRF_SHM_FAIL);
    pp.pending = test_op(VRF_OP_APPLY);
    pp.have_pending = 1;
    assert_int_equal(take_rips(&pp, mon, 0, 0x1000, 0), VRF_SHM_FAIL);
    assert_int_equal(take_rips(&pp, mon, 9, 0x1000, 0), VRF_SHM_FAIL);
    /* vCPU 1 inside the site: busy, nothing written. */
    assert_int_equal(take_rips(&pp, mon, 2, 0x1000, SITE + 2), VRF_SHM_BUSY);
    assert_int_equal(mon->busy_cpu, 1);
    assert_true(mon->busy_rip == SITE + 2);
    assert_int_equal(pp.pending.written, 0);
    /* Out of the way: written, once. */
    assert_int_equal(take_rips(&pp, mon, 2, 0x1000, SITE), VRF_SHM_WRITTEN);
    assert_int_equal(pp.pending.written, 1);
    assert_int_equal(take_rips(&pp, mon, 2, 0x1000, SITE), VRF_SHM_FAIL);
    munmap(mon, VRF_SHM_SIZE);
    munmap(pp.shm, VRF_SHM_SIZE);
    close(fd);
    free(pp.code);
}

/* A region the monitor could resize under the verifier is refused. */
static void pause_region_must_be_sealed(void **st)
{
    (void)st;
    int fd = memfd_create("unsealed", MFD_CLOEXEC);
    assert_true(fd >= 0 && ftruncate(fd, VRF_SHM_SIZE) == 0);
    assert_null(vrf_shm_map(fd));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rip_at_a_site_start_is_fine_inside_is_busy),
        cmocka_unit_test(rip_through_the_alias_counts),
        cmocka_unit_test(revert_leaves_new_code_and_checks_only_sites),
        cmocka_unit_test(stale_code_is_busy_for_an_apply_first_byte_too),
        cmocka_unit_test(pause_region_refuses_bad_counts_then_busy_then_writes),
        cmocka_unit_test(pause_region_must_be_sealed),
        cmocka_unit_test_setup_teardown(
            apply_without_trust_is_refused_and_audited, env_setup,
            env_teardown),
        cmocka_unit_test_setup_teardown(no_tpm_is_refused, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(
            revert_of_nothing_and_steps_out_of_order, env_setup,
            env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
