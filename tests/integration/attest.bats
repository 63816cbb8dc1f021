#!/usr/bin/env bats
# attest.bats: `hvpatch run` measures the boot into its own swtpm before
# the guest runs; `hvpatch attest` gets a quote that tpm2-tools and
# `hvpatch verify-attestation` accept; no TPM process outlives the VM.

load helpers

setup() {
    require_kvm
    require_swtpm
    HV=$HVPATCH
    NONCE=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
}
teardown() { vm_stop; }

@test "boot is measured: status shows the baseline and the boot id" {
    vm_start
    wait_for "heartbeats" 20 all_beating
    [ "$(vm_status .tpm.state)" = ok ]
    want=$(sha256sum "$HVPATCH_ROOT/build/guest/demo.elf" | cut -d' ' -f1)
    [ "$(vm_status .baseline.image_sha256)" = "$want" ]
    [ "$(vm_status .baseline.kind)" = demo ]
    [[ $(vm_status .tpm.boot_id) =~ ^[0-9a-f]{64}$ ]]
    run "$HVPATCH" status --vm "$VM_SOCK"
    [[ $output == *"baseline:     $want (demo)"* ]]
}

@test "attest: hvpatch and tpm2-tools both verify the quote and the log" {
    vm_start --append "quiet demo"
    wait_for "heartbeats" 20 all_beating
    d=$BATS_TEST_TMPDIR/att
    run "$HVPATCH" attest --vm "$VM_SOCK" --nonce "$NONCE" --out "$d"
    [ "$status" -eq 0 ]
    for f in quote.msg quote.sig quote.pcrs ak.pub ak.pem eventlog.bin nonce.hex; do
        [ -s "$d/$f" ]
    done
    run "$HVPATCH" verify-attestation "$d" --nonce "$NONCE" --ak "$d/ak.pub"
    [ "$status" -eq 0 ]
    [[ $output == *"baseline: sha256:$(vm_status .baseline.image_sha256) kind=demo"* ]]
    [[ $output == *"boot id: $(vm_status .tpm.boot_id)"* ]]
    [[ $output == *'command line: "quiet demo"'* ]]
    # The code's lock point is the one runtime record so far, and it names
    # exactly the code the monitor sees.
    [[ $output == *"runtime changes: 1"* ]]
    [[ $output == *"text-lock id=guest-code seq=0 digest=$(vm_status .code.sha256)"* ]]
    tpm2_checkquote -u "$d/ak.pem" -m "$d/quote.msg" -s "$d/quote.sig" \
        -f "$d/quote.pcrs" -g sha256 -q "$NONCE" >/dev/null
    tpm2_eventlog "$d/eventlog.bin" >"$BATS_TEST_TMPDIR/ev.yaml" 2>/dev/null
    grep -q "EV_POST_CODE" "$BATS_TEST_TMPDIR/ev.yaml"
}

@test "attest: a wrong nonce or an altered event log is detected" {
    vm_start
    wait_for "heartbeats" 20 all_beating
    d=$BATS_TEST_TMPDIR/att
    "$HVPATCH" attest --vm "$VM_SOCK" --nonce "$NONCE" --out "$d"
    run "$HVPATCH" verify-attestation "$d" --nonce 00112233
    [ "$status" -eq 4 ]
    [[ $output == *nonce* ]]
    size=$(stat -c %s "$d/eventlog.bin")
    printf '\xff' | dd of="$d/eventlog.bin" bs=1 seek=$((size - 3)) conv=notrunc 2>/dev/null
    run "$HVPATCH" verify-attestation "$d" --nonce "$NONCE"
    [ "$status" -eq 4 ]
    ! tpm2_checkquote -u "$d/ak.pem" -m "$d/quote.msg" -s "$d/quote.sig" \
        -f "$d/quote.pcrs" -g sha256 -q 00112233 >/dev/null 2>&1
}

@test "attest: bad nonces and a VM without a TPM are refused clearly" {
    vm_start --no-tpm
    wait_for "heartbeats" 20 all_beating
    [ "$(vm_status .tpm.state)" = none ]
    run "$HVPATCH" attest --vm "$VM_SOCK" --nonce "$NONCE" --out "$BATS_TEST_TMPDIR/a"
    [ "$status" -eq 4 ]
    grep -q "without a TPM" "$VM_ERR"
    run "$HVPATCH" attest --vm "$VM_SOCK" --nonce xyz --out "$BATS_TEST_TMPDIR/a"
    [ "$status" -eq 1 ]
    run "$HVPATCH" control --vm "$VM_SOCK" \
        "{\"execute\":\"attest\",\"arguments\":{\"nonce\":\"$(printf '%0130d' 0)\"}}"
    [ "$status" -eq 4 ]
    [[ $output == *"1 to 64 bytes"* ]]
}

@test "no TPM process or state outlives the VM, even after SIGKILL" {
    for how in quit kill; do
        vm_start
        wait_for "heartbeats" 20 all_beating
        kids=$(pgrep -P "$VM_PID" | paste -sd,)
        dir=$(pgrep -a -P "$VM_PID" swtpm | grep -o 'tpmstate dir=[^,]*' | cut -d= -f2)
        [ -n "$kids" ] && [ -d "$dir" ]
        if [ $how = quit ]; then
            vm_stop
            [ "$VM_RC" -eq 0 ]
        else
            kill -9 "$VM_PID"
            vm_wait_exit 5
        fi
        wait_for "swtpm, verifier, clean-up gone ($how)" 5 \
            eval "! ps -o pid= -p $kids | grep -q ."
        wait_for "TPM state removed ($how)" 5 test ! -e "$dir"
    done
}

@test "--tpm-state keeps the TPM; a second VM reuses it, a live one is refused" {
    st=$BATS_TEST_TMPDIR/tpmstate
    vm_start --tpm-state "$st"
    wait_for "heartbeats" 20 all_beating
    run "$HVPATCH" run --tpm-state "$st" --control "$BATS_TEST_TMPDIR/b.sock" </dev/null
    [ "$status" -eq 2 ]
    [[ $output == *TPM* ]]
    vm_stop
    [ -d "$st" ]
    vm_start --tpm-state "$st"
    wait_for "heartbeats" 20 all_beating
    [ "$(vm_status .tpm.state)" = ok ]
}

@test "--tpm uses an existing swtpm through its TCTI string" {
    st=$BATS_TEST_TMPDIR/ext
    mkdir -m 700 "$st"
    swtpm socket --tpm2 --tpmstate dir="$st" \
        --server type=unixio,path="$st/s" --ctrl type=unixio,path="$st/c" \
        --flags not-need-init,startup-clear 3>&- &
    ext=$!
    wait_for "external swtpm" 5 test -S "$st/s"
    vm_start --tpm "swtpm:path=$st/s"
    wait_for "heartbeats" 20 all_beating
    [ "$(vm_status .tpm.state)" = ok ]
    [ "$(vm_status .tpm.tcti)" = "swtpm:path=$st/s" ]
    run "$HVPATCH" attest --vm "$VM_SOCK" --nonce "$NONCE" --out "$BATS_TEST_TMPDIR/a"
    [ "$status" -eq 0 ]
    vm_stop
    kill "$ext"
    wait "$ext" || true
}

@test "swtpm killed mid-session: attest refused clearly, guest runs on" {
    vm_start
    wait_for "heartbeats" 20 all_beating
    pkill -9 -P "$VM_PID" swtpm
    run "$HVPATCH" attest --vm "$VM_SOCK" --nonce "$NONCE" --out "$BATS_TEST_TMPDIR/a"
    [ "$status" -eq 4 ]
    [ "$(vm_status .tpm.state)" = gone ]
    a=$(heartbeats)
    sleep 0.3
    strictly_greater "$a" "$(heartbeats)"
    [ "$(vm_status .verifier.alive)" = true ]
}
