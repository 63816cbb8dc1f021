#!/usr/bin/env bats
# auto_revert.bats: the health watch after an apply (docs/MONITOR.md,
# "Automatic rollback") on the demo guest under /dev/kvm: a deliberately
# bad but correctly signed patch (tests/patches/demo/bad-heartbeat: the
# heartbeats stop) is reverted by the monitor itself, audited as
# "auto-reverted" with its reason, and `apply --wait-healthy` says so with
# exit 9; a good patch passes its window with exit 0; an operator's
# --health-cmd failing reverts too; a VM that stops in the window is
# reported with exit 3; --no-auto-revert turns the watch off.

load helpers

setup_file() { demo_packages_build; }

setup() {
    demo_vm_setup
}

teardown() { vm_stop; }

start_patchable() {
    vm_start --trust "$K/keys/trust" --audit-log "$AUDIT" "$@"
    vm_wait_console "guest: ready"
    wait_for "every vCPU beating" 10 all_beating
}

audit_events() { jq -r .event "$AUDIT" | tr '\n' ' '; }
auto_reverted() { grep -q '"event":"auto-reverted"' "$AUDIT"; }
# watching: a health watch is open now (asked anew at every poll).
watching() { [ "$(vm_status .health.state)" = watching ]; }

@test "apply --wait-healthy: a patch that stops the heartbeats is reverted by the monitor, exit 9" {
    start_patchable
    run "$HVPATCH" apply --vm "$VM_SOCK" --wait-healthy --json "$K/bad-heartbeat.signed"
    echo "$output"
    [ "$status" -eq 9 ]
    [ "$(jq -r .result <<<"$output")" = auto-reverted ]
    [ "$(jq -r .id <<<"$output")" = BAD-HEARTBEAT ]
    [[ "$(jq -r .reason <<<"$output")" == "no heartbeat from vCPU "*" for 5000 ms" ]]
    # The patch is gone and the heartbeats are back.
    [ "$(vm_status '.patches | length')" = 0 ]
    local after
    after=$(heartbeats)
    sleep 1
    strictly_greater "$after" "$(heartbeats)"
    [ "$(vm_status .health.state)" = auto-reverted ]
    [ "$(vm_status .health.last_auto_revert.id)" = BAD-HEARTBEAT ]
    [[ "$(vm_status .health.last_auto_revert.reason)" == "no heartbeat from vCPU"* ]]
    # Audited: the revert is approved (measured) like any other, and its
    # write is "auto-reverted" with the reason; the log still verifies.
    [ "$(audit_events)" = "boot text-locked approved applied approved auto-reverted " ]
    [ "$(jq -r 'select(.event == "approved") | .op' "$AUDIT" | tail -1)" = revert ]
    [ "$(jq -r 'select(.event == "auto-reverted") | .id' "$AUDIT")" = BAD-HEARTBEAT ]
    [[ "$(jq -r 'select(.event == "auto-reverted") | .reason' "$AUDIT")" == "no heartbeat from vCPU"* ]]
    run "$HVPATCH" audit verify "$AUDIT"
    [ "$status" -eq 0 ]
    [[ "$output" == *"automatic reverts (health watch): 1"* ]]
    grep -q "health: no heartbeat from vCPU" "$VM_ERR"
}

@test "without --wait-healthy the monitor still watches and reverts in the background" {
    start_patchable
    run "$HVPATCH" apply --vm "$VM_SOCK" "$K/bad-heartbeat.signed"
    [ "$status" -eq 0 ]
    [[ "$output" == "applied BAD-HEARTBEAT (sequence 3)"* ]]
    [ "$(vm_status .health.state)" = watching ]
    [ "$(vm_status .health.window_ms)" = 10000 ]
    wait_for "auto-reverted in the audit log" 20 auto_reverted
    [ "$(vm_status .health.last_auto_revert.id)" = BAD-HEARTBEAT ]
    [ "$(vm_status '.patches | length')" = 0 ]
}

@test "a good patch stays: --wait-healthy exits 0 after the window" {
    start_patchable
    run "$HVPATCH" apply --vm "$VM_SOCK" --wait-healthy --health-window 2 "$K/1.signed"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "${lines[1]}" == "healthy: HP-2026-0001, the guest stayed healthy for the window" ]]
    [ "$(vm_status .health.state)" = healthy ]
    [ "$(vm_status '.patches[0].id')" = HP-2026-0001 ]
    [ "$(audit_events)" = "boot text-locked approved applied " ]
}

@test "--health-cmd failing reverts the patch with its reason, exit 9" {
    start_patchable
    run "$HVPATCH" apply --vm "$VM_SOCK" --wait-healthy --health-window 5 \
        --health-cmd 'exit 7' "$K/1.signed"
    echo "$output"
    [ "$status" -eq 9 ]
    [[ "$output" == *"auto-reverted HP-2026-0001: the guest failed: health check failed: --health-cmd exited 7"* ]]
    [ "$(vm_status '.patches | length')" = 0 ]
    [ "$(jq -r 'select(.event == "auto-reverted") | .reason' "$AUDIT")" = \
        "health check failed: --health-cmd exited 7" ]
}

@test "a passing --health-cmd keeps the patch" {
    start_patchable
    run "$HVPATCH" apply --vm "$VM_SOCK" --wait-healthy --health-window 2 \
        --health-cmd 'true' "$K/1.signed"
    [ "$status" -eq 0 ]
    [ "$(vm_status '.patches[0].id')" = HP-2026-0001 ]
}

@test "a VM that stops inside the window is reported, not repaired: exit 3" {
    start_patchable
    "$HVPATCH" apply --vm "$VM_SOCK" --wait-healthy --health-window 30 --json \
        "$K/1.signed" >"$BATS_TEST_TMPDIR/apply.out" 2>&1 &
    local pid=$!
    wait_for "the watch" 10 watching
    "$HVPATCH" quit --vm "$VM_SOCK" >/dev/null
    local st=0
    wait "$pid" || st=$?
    cat "$BATS_TEST_TMPDIR/apply.out"
    [ "$st" -eq 3 ]
    [ "$(tail -1 "$BATS_TEST_TMPDIR/apply.out" | jq -r .result)" = dead ]
    [ "$(tail -1 "$BATS_TEST_TMPDIR/apply.out" | jq -r .reason)" = \
        "the VM stopped during the health window" ]
    ! auto_reverted
}

@test "run --no-auto-revert: no watch after apply, the bad patch stays" {
    start_patchable --no-auto-revert
    run "$HVPATCH" apply --vm "$VM_SOCK" "$K/bad-heartbeat.signed"
    [ "$status" -eq 0 ]
    [ "$(vm_status .health.state)" = idle ]
    [ "$(vm_status .health.default_window_ms)" = 0 ]
    sleep 7
    [ "$(vm_status '.patches[0].id')" = BAD-HEARTBEAT ]
    ! auto_reverted
}

@test "health options reject bad values with exit 1" {
    run "$HVPATCH" apply --vm /nonexistent --health-window 3601 "$K/1.signed"
    [ "$status" -eq 1 ]
    [[ "$output" == *"--health-window takes whole seconds, 0..3600"* ]]
    run "$HVPATCH" apply --vm /nonexistent --health-window x "$K/1.signed"
    [ "$status" -eq 1 ]
    run "$HVPATCH" apply --vm /nonexistent --health-cmd true "$K/1.signed"
    [ "$status" -eq 1 ]
    [[ "$output" == *"--health-cmd needs --wait-healthy"* ]]
    run "$HVPATCH" run --health-window -1
    [ "$status" -eq 1 ]
    [[ "$output" == *"--health-window takes whole seconds"* ]]
    run "$HVPATCH" apply --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--wait-healthy"* ]]
}

@test "the control socket refuses bad apply and unhealthy arguments" {
    start_patchable
    run "$HVPATCH" control --vm "$VM_SOCK" '{"execute":"apply","arguments":{"health_window":-1}}'
    [[ "$output" == *'health_window'*'0..3600'* ]]
    run "$HVPATCH" control --vm "$VM_SOCK" '{"execute":"apply","arguments":{"other":1}}'
    [[ "$output" == *'"error"'* ]]
    run "$HVPATCH" control --vm "$VM_SOCK" '{"execute":"unhealthy","arguments":{"watch":5,"reason":"x"}}'
    [[ "$output" == *"that health watch is not open"* ]]
    run "$HVPATCH" control --vm "$VM_SOCK" '{"execute":"unhealthy","arguments":{"watch":1}}'
    [[ "$output" == *"unhealthy takes"* ]]
}
