#!/usr/bin/env bats
# linux_auto_revert.bats: the health watch after a patch of a running
# Linux kernel (docs/MONITOR.md, "Automatic rollback"). A deliberately bad
# but correctly signed patch (tests/linux/patches/bad-linux-cmdline-ud2:
# cmdline_proc_show becomes a ud2) makes `cat /proc/cmdline` oops; the
# monitor sees the oops on the console, has the verifier revert the patch,
# and `apply --wait-healthy` exits 9; the next cat works. (A kernel panic
# in the window through pvpanic is not tested end to end yet: in the AMD-V
# lab host the initramfs's pvpanic-mmio did not register; the device is
# unit-tested, tests/unit/test_platform.c.)
#
# Needs a full boot to user space: VT-x or AMD-V (the lab hosts,
# tests/lib/lab-suite.sh); on kvm_pvm it skips (docs/LINUX.md).

load helpers

LINUX_DIR=${HVPATCH_LINUX_DIR:-$HVPATCH_ROOT/build/linux}
PVM_REASON="kvm_pvm: guest ring 0 is emulated and lacks instructions this kernel uses (see docs/LINUX.md); runs in the AMD-V and VT-x lab hosts (lab/amdv, lab/vtx)"
WINDOW=${LINUX_HEALTH_WINDOW:-120}

setup_file() { linux_packages_setup_file; }

setup() {
    K=$HVPATCH_ROOT/build/test-packages/linux
    AUDIT=$BATS_TEST_TMPDIR/audit.jsonl
    require_kvm
    require_swtpm
    [ "$(kvm_flavour)" != kvm_pvm ] || skip "$PVM_REASON"
    [ ! -s "$BATS_FILE_TMPDIR/skip" ] || skip "$(cat "$BATS_FILE_TMPDIR/skip")"
    [ ! -s "$BATS_FILE_TMPDIR/fail" ] || { cat "$BATS_FILE_TMPDIR/fail"; return 1; }
    [ ! -s "$K.skip" ] || { cat "$K.skip"; return 1; }
    lab_note
}
teardown() { vm_stop; }

audit_has() { jq -e "select($1)" "$AUDIT" >/dev/null; }
watching() { [ "$(vm_status .health.state)" = watching ]; }
exited() { ! kill -0 "$1" 2>/dev/null; }

boot_locked() {
    vm_start --kernel "$LINUX_DIR/vmlinux" --initrd "$LINUX_DIR/initramfs.cpio.gz" \
        --append "console=ttyS0 quiet pci=off 8250.nr_uarts=1 hvpatch.lock${LINUX_EXTRA_APPEND:+ $LINUX_EXTRA_APPEND}" \
        --trust "$K/keys/trust" --audit-log "$AUDIT"
    vm_wait_console "hvpatch-guest: ready" "${LINUX_BOOT_SECONDS:-120}"
    wait_for "text lock" 20 audit_has '.event == "text-locked"'
}

# apply_bg PACKAGE: apply --wait-healthy --json in the background ($APPLY_PID,
# output in $APPLY_OUT), returning once the watch is open.
apply_bg() {
    APPLY_OUT=$BATS_TEST_TMPDIR/apply.out
    "$HVPATCH" apply --vm "$VM_SOCK" --wait-healthy --health-window "$WINDOW" \
        --json "$1" >"$APPLY_OUT" 2>&1 &
    APPLY_PID=$!
    wait_for "the health watch" 30 watching
}

apply_status() {
    local st=0
    wait_for "apply --wait-healthy to end" $((WINDOW + 60)) exited "$APPLY_PID"
    wait "$APPLY_PID" || st=$?
    cat "$APPLY_OUT"
    return "$st"
}

@test "a patch that makes cat /proc/cmdline oops is reverted by the monitor: exit 9, the next cat works" {
    boot_locked
    vm_send "cat /proc/cmdline"
    vm_wait_console "hvpatch.lock"
    apply_bg "$K/bad-cmdline-ud2.signed"
    [ "$(vm_status '.patches[0].id')" = BAD-LINUX-UD2 ]
    vm_send "cat /proc/cmdline"
    vm_wait_console "invalid opcode: 0000 \\[#1\\]" 60
    local st=0
    apply_status || st=$?
    [ "$st" -eq 9 ]
    [ "$(tail -n 1 "$APPLY_OUT" | jq -r .result)" = auto-reverted ]
    [[ "$(tail -n 1 "$APPLY_OUT" | jq -r .reason)" == "oops on the console: "*"invalid opcode: 0000 [#1]"* ]]
    [ "$(vm_status '.patches | length')" = 0 ]
    # the kernel runs on and cmdline_proc_show is itself again
    vm_send "cat /proc/cmdline | tr a-z A-Z"
    vm_wait_console "HVPATCH.LOCK" 60
    audit_has '.event == "auto-reverted" and .id == "BAD-LINUX-UD2" and (.reason | contains("invalid opcode"))'
    run "$HVPATCH" audit verify "$AUDIT"
    echo "$output"
    [ "$status" -eq 0 ]
}
