#!/usr/bin/env bats
# restart.bats: cumulative patches and restarts (docs/TPM.md §3). The TPM
# counter holds the highest sequence ever applied; the package committed
# with it may come back (after its revert, or on a new boot of the same
# baseline, by `apply` or `run --patch`), an older one never, and another
# package signed with the same sequence neither. Boots the demo guest with
# its own swtpm whose state (--tpm-state) and audit log outlive each run.

load helpers

setup_file() { demo_packages_build; }

setup() {
    demo_vm_setup
    ST=$BATS_TEST_TMPDIR/tpm
}

teardown() { vm_stop; }

# boot [run options]: a patchable VM on this test's TPM state and audit log.
boot() {
    vm_start --tpm-state "$ST" --trust "$K/keys/trust" --audit-log "$AUDIT" "$@"
    vm_wait_console "guest: ready"
}

apply() { run "$HVPATCH" apply --vm "$VM_SOCK" "$@"; }
revert() { run "$HVPATCH" revert --vm "$VM_SOCK" "$@"; }
# the audit records of the latest boot, one "event[:id[:reapply]]" each
last_boot() {
    jq -rs '(map(.event == "boot") | rindex(true)) as $b | .[$b:][] |
        [.event, (.id // empty), (if .reapply then "reapply" else empty end)] |
        join(":")' "$AUDIT" | tr '\n' ' '
}
# hvpatch run in the foreground, for a start that must fail
run_vm() {
    run timeout 120 "$HVPATCH" run --tpm-state "$ST" --trust "$K/keys/trust" \
        --audit-log "$AUDIT" --control "$BATS_TEST_TMPDIR/f.sock" "$@" </dev/null
}

@test "restart on the same TPM state: the package of the counter's sequence goes back in, an older one never" {
    boot
    apply "$K/1.signed"
    [ "$status" -eq 0 ]
    apply "$K/2.signed"
    [ "$status" -eq 0 ]
    vm_stop
    boot
    [ "$(vm_status '.patches | length')" = 0 ] # a new boot is unpatched
    apply "$K/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_SEQ_ROLLBACK* ]]
    apply "$K/2.signed"
    [ "$status" -eq 0 ]
    [[ "$output" == "applied HP-2026-0002 (sequence 2)"* ]]
    vm_send "echo 96 hi"
    vm_wait_console "echo: error -22"
    apply "$K/2.signed" # live now: a replay
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_SEQ_REPLAY* ]]
    [ "$(last_boot)" = "boot text-locked rejected:HP-2026-0001 approved:HP-2026-0002:reapply applied:HP-2026-0002 rejected:HP-2026-0002 " ]
    run "$HVPATCH" audit verify "$AUDIT"
    [ "$status" -eq 0 ]
}

@test "apply 1, apply 2, revert 2, revert 1: then 1 is a rollback and 2 comes back" {
    boot
    for p in 1 2; do
        apply "$K/$p.signed"
        [ "$status" -eq 0 ]
    done
    for id in HP-2026-0002 HP-2026-0001; do
        revert "$id"
        [ "$status" -eq 0 ]
    done
    apply "$K/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_SEQ_ROLLBACK* ]]
    apply "$K/2.signed"
    [ "$status" -eq 0 ]
    [ "$(vm_status '[.patches[].id] | join(" ")')" = HP-2026-0002 ]
    # the TPM's own record agrees: a re-apply of the committed sequence
    nonce=$(openssl rand -hex 16)
    run "$HVPATCH" attest --vm "$VM_SOCK" --nonce "$nonce" --out "$BATS_TEST_TMPDIR/att"
    [ "$status" -eq 0 ]
    run "$HVPATCH" verify-attestation "$BATS_TEST_TMPDIR/att" --nonce "$nonce" \
        --ak "$BATS_TEST_TMPDIR/att/ak.pub"
    [ "$status" -eq 0 ]
}

@test "another package signed with the committed sequence is refused, before and after a restart" {
    boot
    apply "$K/2.signed"
    [ "$status" -eq 0 ]
    revert HP-2026-0002
    [ "$status" -eq 0 ]
    apply "$K/2b.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_SEQ_DIGEST* ]]
    vm_stop
    boot
    apply "$K/2b.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_SEQ_DIGEST* ]]
    [[ "$output" == *"committed with package sha256 $(sha256sum <"$K/2.signed" | cut -c1-64)"* ]]
    apply "$K/2.signed"
    [ "$status" -eq 0 ]
}

@test "without the audit log that bound it, the committed sequence cannot come back" {
    boot
    apply "$K/2.signed"
    [ "$status" -eq 0 ]
    vm_stop
    mv "$AUDIT" "$AUDIT.old"
    boot
    apply "$K/2.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_SEQ_REPLAY* ]]
    [[ "$output" == *"no package is known to be committed"* ]]
}

@test "run --patch re-applies the live package before the guest runs; status and the audit log say so" {
    boot
    apply "$K/2.signed"
    [ "$status" -eq 0 ]
    vm_stop
    boot --patch "$K/2.signed"
    vm_wait_log "start-up patch .*2.signed: HP-2026-0002 \(sequence 2\) applied before the guest's first instruction"
    [ "$(vm_status '.start_patches[0].id')" = HP-2026-0002 ]
    [ "$(vm_status '.start_patches[0].seq')" = 2 ]
    [ "$(vm_status '.patches[0].id')" = HP-2026-0002 ]
    [ "$(vm_status '.tpm.boot_id')" = "$(jq -rs '[.[] | select(.event == "boot")][-1].boot_id' "$AUDIT")" ]
    # the guest never ran its vulnerable code: fixed from its first line
    vm_send "echo 96 hi"
    vm_wait_console "echo: error -22"
    run grep -c USECRET "$VM_OUT"
    [ "$output" = 0 ]
    [ "$(last_boot)" = "boot text-locked approved:HP-2026-0002:reapply applied:HP-2026-0002 " ]
    vm_stop
    # --patches DIR: the same, from a directory
    mkdir "$BATS_TEST_TMPDIR/live"
    cp "$K/2.signed" "$BATS_TEST_TMPDIR/live/HP-2026-0002.hvp"
    boot --patches "$BATS_TEST_TMPDIR/live"
    [ "$(vm_status '.start_patches | length')" = 1 ]
    [ "$(vm_status '.patches[0].id')" = HP-2026-0002 ]
}

@test "an older package at start is refused: the guest never runs, exit 4, the audit log says why" {
    boot
    apply "$K/2.signed"
    [ "$status" -eq 0 ]
    vm_stop
    run_vm --patch "$K/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *"start-up patch $K/1.signed refused"*VRF_ERR_SEQ_ROLLBACK* ]]
    [[ "$output" == *"the guest is not started"* ]]
    [[ "$output" != *"guest: ready"* ]]
    [ "$(last_boot)" = "boot text-locked rejected:HP-2026-0001 " ]
    run_vm --patch "$K/2b.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_SEQ_DIGEST* ]]
    run_vm --patch "$BATS_TEST_TMPDIR/nonexistent"
    [ "$status" -eq 2 ]
    run "$HVPATCH" audit verify "$AUDIT"
    [ "$status" -eq 0 ]
}

@test "run --patch: usage errors" {
    run "$HVPATCH" run --patch "$K/2.signed"
    [ "$status" -eq 1 ]
    [[ "$output" == *"--patch/--patches need --trust"* ]]
    run "$HVPATCH" run --trust "$K/keys/trust" --audit-log "$AUDIT" \
        --kernel /nonexistent --patch "$K/2.signed"
    [ "$status" -eq 1 ]
    [[ "$output" == *"not for --kernel"* ]]
    run "$HVPATCH" run --trust "$K/keys/trust" --audit-log "$AUDIT" \
        --patches /a --patches /b
    [ "$status" -eq 1 ]
    run "$HVPATCH" run --help
    [[ "$output" == *"--patches DIR"* ]]
}
