#!/usr/bin/env bats
# apply.bats: the protected apply path end to end on the real demo guest
# under /dev/kvm with its own swtpm: signed fixes applied and reverted
# live, what the guest sees, what the audit log and the TPM say, and every
# failure the issue names (tampered, wrong baseline, rollback, verifier
# killed, TPM gone, monitor killed mid-apply, concurrent applies, bad
# requests).

load helpers

setup_file() { demo_packages_build; }

setup() {
    demo_vm_setup
}

teardown() { vm_stop; }

# start_patchable [run options]: a VM that accepts our packages.
start_patchable() {
    vm_start --trust "$K/keys/trust" --audit-log "$AUDIT" "$@"
    vm_wait_console "guest: ready"
    wait_for "text lock in the audit log" 10 grep -q text-locked "$AUDIT"
}

apply() { run "$HVPATCH" apply --vm "$VM_SOCK" "$@"; }
code_sha() { vm_status .code.sha256; }
audit_events() { jq -r .event "$AUDIT" | tr '\n' ' '; }

@test "apply and revert have --help and reject bad usage with exit 1" {
    for cmd in apply revert; do
        run "$HVPATCH" "$cmd" --help
        [ "$status" -eq 0 ]
        [[ "$output" == usage:* ]]
        run "$HVPATCH" "$cmd" --vm /nonexistent
        [ "$status" -eq 1 ]
    done
    run "$HVPATCH" run --trust "$K/keys/trust"
    [ "$status" -eq 1 ]
    [[ "$output" == *"--trust needs --audit-log"* ]]
}

@test "the kernel fix goes in live: exploit before, fixed after, guest never stops" {
    start_patchable
    vm_send "klog 0xffffffffffffffe0 32"
    vm_wait_console "KSECRET"
    local before
    before=$(heartbeats)
    apply --json "$K/1.signed"
    [ "$status" -eq 0 ]
    [ "$(jq -r .id <<<"$output")" = HP-2026-0001 ]
    [ "$(jq -r .seq <<<"$output")" = 1 ]
    [ "$(jq -r '.pause_ns > 0' <<<"$output")" = true ]
    vm_wait_console "security update applied without a restart: HP-2026-0001 \(sequence 1\)"
    vm_send "klog 0xffffffffffffffe0 32"
    vm_wait_console "klog: -22$"
    vm_send "patches"
    vm_wait_console "patches: HP-2026-0001 \(sequence 1\)"
    grep -q "patches: 1 live" "$VM_OUT"
    [ "$(grep -c KSECRET "$VM_OUT")" -eq 1 ]
    strictly_greater "$before" "$(heartbeats)"
    [ "$(vm_status '.patches[0].id')" = HP-2026-0001 ]
    [ "$(vm_status '.patches[0].seq')" = 1 ]
    [[ "$(vm_status '.patches[0].signer')" == *CN=* ]]
    [ "$(vm_status .state)" = running ]
    [ "$(audit_events)" = "boot text-locked approved applied " ]
    run "$HVPATCH" audit verify "$AUDIT"
    [ "$status" -eq 0 ]
}

@test "the user-library fix: one physical copy, fixed for every process" {
    start_patchable
    vm_send "echo 96 hi"
    vm_wait_console "USECRET"
    apply "$K/2.signed"
    [ "$status" -eq 0 ]
    [[ "$output" == "applied HP-2026-0002 (sequence 2) live in "* ]]
    vm_send "echo 96 hi"
    vm_wait_console "echo: error -22"
    vm_send "echo 2 hi"
    vm_wait_console "echo: 2 bytes: hi"
}

@test "revert restores the bug, is measured and audited; the same package goes back in" {
    start_patchable
    apply "$K/1.signed"
    [ "$status" -eq 0 ]
    vm_wait_console "applied without a restart: HP-2026-0001"
    run "$HVPATCH" revert --vm "$VM_SOCK" HP-2026-0001
    [ "$status" -eq 0 ]
    [[ "$output" == "reverted HP-2026-0001 (sequence 1)"* ]]
    vm_wait_console "security update reverted: HP-2026-0001"
    vm_send "klog 0xffffffffffffffe0 32"
    vm_wait_console "KSECRET"
    [ "$(vm_status '.patches | length')" = 0 ]
    # Re-applying the package just reverted is not a replay.
    apply "$K/1.signed"
    [ "$status" -eq 0 ]
    # But a second apply of a live package is.
    apply "$K/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_SEQ_REPLAY* ]]
    [ "$(audit_events)" = "boot text-locked approved applied approved reverted approved applied rejected " ]
    run "$HVPATCH" audit verify "$AUDIT"
    [ "$status" -eq 0 ]
}

# apply_rejected PKG CODE: the first apply of a running VM is rejected with
# CODE, which the audit log records; code unchanged, guest running.
apply_rejected() {
    local sha
    sha=$(code_sha)
    apply "$1"
    [ "$status" -eq 4 ]
    [[ "$output" == *"$2"* ]]
    [ "$(code_sha)" = "$sha" ]
    [ "$(vm_status .state)" = running ]
    [ "$(jq -r 'select(.event == "rejected") | .code' "$AUDIT")" = "$2" ]
}

@test "a tampered package is rejected with its reason; code unchanged, guest running" {
    start_patchable
    apply_rejected "$K/2.tampered" VRF_ERR_SIG_INVALID
}

# ram_pkg OUT: a signed package whose one REPLACE record lies in guest RAM
# (0x100000, the kernel's data), outside every protected range. `build`
# refuses to make one, so it is built at a text address and the record's
# gpa rewritten in the unsigned package before signing.
ram_pkg() {
    local d=$BATS_TEST_TMPDIR
    cat >"$d/ram.json" <<EOF
{"format": 1, "id": "HP-TEST-RAM", "title": "A record in guest RAM",
 "cves": [], "publisher": "hvpatch tests", "sequence": 1,
 "target": {"kind": "demo", "image": "$HVPATCH_ROOT/build/guest/demo.elf"},
 "replace": [{"gpa": "0x40000100", "bytes": "90"}]}
EOF
    "$HVPATCH" build "$d/ram.json" -o "$d/ram.hvp" >/dev/null
    # gpa 0x40000100 -> 0x00100000, both CBOR uint32 (1a + 4 bytes).
    perl -0777 -pi -e 's/\x1a\x40\x00\x01\x00/\x1a\x00\x10\x00\x00/ or die' \
        "$d/ram.hvp"
    "$HVPATCH" sign "$d/ram.hvp" --keys "$K/keys" -o "$1" >/dev/null
}

@test "a record outside every range: verify and apply give the same code" {
    ram_pkg "$BATS_TEST_TMPDIR/ram.signed"
    run "$HVPATCH" verify "$BATS_TEST_TMPDIR/ram.signed" --trust "$K/keys/trust" \
        --image "$HVPATCH_ROOT/build/guest/demo.elf" --kind demo --seq 0
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_BOUNDS_OUTSIDE"*"record 0 (replace): [0x100000, 0x100001)"* ]]
    start_patchable
    apply_rejected "$BATS_TEST_TMPDIR/ram.signed" VRF_ERR_BOUNDS_OUTSIDE
}

@test "a package for another baseline, an older sequence, and a non-package are rejected" {
    start_patchable
    local sha
    sha=$(code_sha)
    apply "$K/other.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_BASELINE_DIGEST* ]]
    apply "$K/2.signed"
    [ "$status" -eq 0 ]
    sha=$(code_sha)
    apply "$K/1.signed" # sequence 1 after 2: a rollback
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_SEQ_ROLLBACK* ]]
    apply "$HVPATCH_ROOT/README.md"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_PARSE* ]]
    [ "$(code_sha)" = "$sha" ]
}

@test "patches are reverted newest first" {
    start_patchable
    apply "$K/1.signed"
    apply "$K/2.signed"
    run "$HVPATCH" revert --vm "$VM_SOCK" HP-2026-0001
    [ "$status" -eq 4 ]
    [[ "$output" == *"revert HP-2026-0002 first"* ]]
    run "$HVPATCH" revert --vm "$VM_SOCK" HP-2026-0009
    [ "$status" -eq 4 ]
    [[ "$output" == *NOT_APPLIED* ]]
    run "$HVPATCH" revert --vm "$VM_SOCK" HP-2026-0002
    [ "$status" -eq 0 ]
    run "$HVPATCH" revert --vm "$VM_SOCK" HP-2026-0001
    [ "$status" -eq 0 ]
}

@test "without --trust, or without a TPM, patching is refused and says why" {
    vm_start
    vm_wait_console "guest: ready"
    [ "$(vm_status .patching.enabled)" = false ]
    apply "$K/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *"without --trust"* ]]
    vm_stop
    vm_start --no-tpm --trust "$K/keys/trust" --audit-log "$AUDIT"
    vm_wait_console "guest: ready"
    apply "$K/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *"without a TPM"* ]]
}

@test "blocked guest writes to its code are audited" {
    start_patchable --append selfwrite
    vm_wait_console "selfwrite: done"
    wait_for "audit record" 5 grep -q guest-write-blocked "$AUDIT"
    [ "$(jq -r 'select(.event == "guest-write-blocked") | .count' "$AUDIT" | head -1)" -ge 6 ]
    run "$HVPATCH" audit verify "$AUDIT"
    [ "$status" -eq 0 ]
}

@test "malformed control requests change nothing" {
    start_patchable
    local sha
    sha=$(code_sha)
    run "$HVPATCH" control --vm "$VM_SOCK" '{"execute":"apply"}'
    [ "$status" -eq 4 ]
    [[ "$output" == *"needs the package's fd"* ]]
    run "$HVPATCH" control --vm "$VM_SOCK" '{"execute":"revert","arguments":{"id":5}}' \
        '{"execute":"revert","arguments":{"id":"x","more":1}}' \
        '{"execute":"revert"}'
    [ "$status" -eq 4 ]
    [ "$(grep -c '"error"' <<<"$output")" -eq 3 ]
    [ "$(code_sha)" = "$sha" ]
    [ "$(vm_status .state)" = running ]
}

@test "two applies at once are serialised and both audited" {
    start_patchable
    "$HVPATCH" apply --vm "$VM_SOCK" "$K/1.signed" >"$BATS_TEST_TMPDIR/a" 2>&1 &
    local a=$!
    "$HVPATCH" apply --vm "$VM_SOCK" "$K/2.signed" >"$BATS_TEST_TMPDIR/b" 2>&1 &
    local b=$! ra=0 rb=0
    wait $a || ra=$?
    wait $b || rb=$?
    # Whichever came second: 2 after 1 is fine; 1 after 2 is a rollback.
    [ $((ra + rb)) -le 4 ]
    [ "$(jq -r 'select(.event == "applied" or .event == "rejected") | .id' "$AUDIT" | sort | tr '\n' ' ')" = "HP-2026-0001 HP-2026-0002 " ]
    run "$HVPATCH" audit verify "$AUDIT"
    [ "$status" -eq 0 ]
}

# zombies_of PID: the children of PID that have exited and not been
# reaped (state Z in /proc/*/stat), one pid a line.
zombies_of() {
    local f s st pp
    for f in /proc/[0-9]*/stat; do
        s=$(cat "$f" 2>/dev/null) || continue
        s=${s##*) } # after "(comm)", which may hold spaces or ")"
        read -r st pp _ <<<"$s"
        if [ "$pp" = "$1" ] && [ "$st" = Z ]; then
            f=${f#/proc/}
            echo "${f%/stat}"
        fi
    done
}
no_zombies() { [ -z "$(zombies_of "$VM_PID")" ]; }

@test "verifier killed: the guest runs on, patching is refused, code unchanged" {
    start_patchable
    local sha before vpid
    sha=$(code_sha)
    vpid=$(vm_status .verifier.pid)
    kill -9 "$vpid"
    vm_wait_log "verifier process exited"
    # The monitor reaps it (SIGCHLD): no zombie while the guest runs on.
    vm_wait_log "verifier process $vpid was killed by signal 9"
    wait_for "no zombie child of the monitor" 5 no_zombies
    [ -z "$(zombies_of "$VM_PID")" ]
    [ ! -e "/proc/$vpid" ]
    [ "$(vm_status .verifier.pid)" = -1 ]
    before=$(heartbeats)
    apply "$K/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *"verifier is not answering"* ]]
    [ "$(code_sha)" = "$sha" ]
    [ "$(vm_status .patching.enabled)" = false ]
    sleep 0.3
    strictly_greater "$before" "$(heartbeats)"
    [ -z "$(zombies_of "$VM_PID")" ]
}

@test "VM quit: the verifier is reaped with the monitor, no zombie left" {
    start_patchable
    local vpid mpid
    vpid=$(vm_status .verifier.pid)
    mpid=$VM_PID
    [ -e "/proc/$vpid" ]
    [ -z "$(zombies_of "$mpid")" ]
    vm_stop
    [ "$VM_RC" -eq 0 ]
    [ ! -e "/proc/$vpid" ]
    [ -z "$(zombies_of "$mpid")" ]
}

@test "TPM gone: patching refused, guest running" {
    start_patchable
    local sha
    sha=$(code_sha)
    kill -9 "$(vm_status .tpm.swtpm_pid)"
    apply "$K/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *TPM* ]]
    [ "$(code_sha)" = "$sha" ]
    [ "$(vm_status .state)" = running ]
    apply "$K/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *"TPM is gone"* ]]
}

@test "monitor killed with SIGKILL during applies: the audit log still verifies" {
    local i
    for i in 1 2 3 4 5; do
        start_patchable
        "$HVPATCH" apply --vm "$VM_SOCK" "$K/1.signed" >/dev/null 2>&1 &
        local a=$!
        sleep "0.00$((i * 2))"
        kill -9 "$VM_PID"
        wait $a || true
        vm_stop
        run "$HVPATCH" audit verify "$AUDIT"
        echo "$output"
        [ "$status" -eq 0 ]
    done
    # Five boots in one log, each chained to the one before.
    [ "$(jq -r 'select(.event == "boot") | .event' "$AUDIT" | wc -l)" -eq 5 ]
}

@test "attestation after a patch agrees with the audit log" {
    start_patchable
    apply "$K/1.signed"
    [ "$status" -eq 0 ]
    local nonce=00112233445566778899aabbccddeeff
    "$HVPATCH" attest --vm "$VM_SOCK" --nonce $nonce --out "$BATS_TEST_TMPDIR/att" >/dev/null
    run "$HVPATCH" verify-attestation "$BATS_TEST_TMPDIR/att" --nonce $nonce
    [ "$status" -eq 0 ]
    [[ "$output" == *HP-2026-0001* ]]
    run "$HVPATCH" audit verify "$AUDIT" --attestation "$BATS_TEST_TMPDIR/att"
    echo "$output"
    [ "$status" -eq 0 ]
}

# soak N: N apply/revert cycles of the user-library fix (hot code on every
# vCPU) while both vCPUs run their workload.
soak() {
    local n=$1 i before
    start_patchable
    before=$(heartbeats)
    for ((i = 0; i < n; i++)); do
        "$HVPATCH" apply --vm "$VM_SOCK" "$K/2.signed" >/dev/null
        "$HVPATCH" revert --vm "$VM_SOCK" HP-2026-0002 >/dev/null
        if ((i % 50 == 49)); then
            local now
            now=$(heartbeats)
            strictly_greater "$before" "$now"
            before=$now
        fi
    done
    [ "$(vm_status .state)" = running ]
    ! grep -q "guest failure" "$VM_ERR"
    [ "$(jq -r 'select(.event == "applied") | .id' "$AUDIT" | wc -l)" -eq "$n" ]
    run "$HVPATCH" audit verify "$AUDIT"
    [ "$status" -eq 0 ]
}

@test "soak: ${HVPATCH_SOAK_CYCLES:-1000} apply/revert cycles under load: no guest fault, heartbeats rising, chain valid" {
    soak "${HVPATCH_SOAK_CYCLES:-1000}"
}
