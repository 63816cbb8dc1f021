#!/usr/bin/env bats
# process.bats: `hvpatch run` is three programs. The CLI execs
# hvpatch-monitor (same pid), which execs hvpatch-verifier: the monitor
# maps no tpm2-tss, libcrypto or X.509 library and stays under 4 MiB, the
# verifier holds no monitor code and checks what the monitor hands it.

load helpers

setup() {
    HV=$HVPATCH
    BUILD=$(dirname "$HVPATCH")
}
teardown() { vm_stop; }

# verifier ARGS... [redirections in $VRF_FDS]: hvpatch-verifier as the
# child of this shell's subshell, with --monitor-pid naming that parent.
verifier() {
    bash -c 'exec "$0" --monitor-pid "$PPID" "$@" '"${VRF_FDS:-}" \
        "$BUILD/hvpatch-verifier" "$@"
}

@test "hvpatch-verifier run by hand says the monitor starts it, exit 2" {
    run "$BUILD/hvpatch-verifier"
    [ "$status" -eq 2 ]
    [[ $output == *"started by the monitor"* ]]
    run "$BUILD/hvpatch-verifier" --help
    [ "$status" -eq 2 ]
    [[ $output == *"started by the monitor"* ]]
    run "$BUILD/hvpatch-verifier" --kind demo --mem-size 67108864 --cpus 2
    [ "$status" -eq 2 ]
    [[ $output == *"--monitor-pid, --kind"*"required"* ]]
}

@test "the verifier refuses bad options, another parent and unsealed inputs" {
    run verifier --kind other --mem-size 67108864 --cpus 2
    [ "$status" -eq 2 ]
    [[ $output == *"--kind 'other': not demo or linux"* ]]
    run verifier --kind demo --mem-size 67108864 --cpus 9
    [ "$status" -eq 2 ]
    [[ $output == *"--cpus '9': not a number in 1..8"* ]]
    run verifier --kind demo --mem-size 3145728 --cpus 1
    [ "$status" -eq 2 ]
    [[ $output == *"not a multiple of 2 MiB"* ]]
    run verifier --kind demo --mem-size 67108864 --cpus 1 --tpm-flags 4
    [ "$status" -eq 2 ]
    [[ $output == *"--tpm-flags '4'"* ]]
    run verifier --kind demo --mem-size 67108864 --cpus 1 --initrd
    [ "$status" -eq 2 ]
    [[ $output == *"--initrd needs --kind linux"* ]]
    run "$BUILD/hvpatch-verifier" --monitor-pid 2 --kind demo \
        --mem-size 67108864 --cpus 1
    [ "$status" -eq 70 ]
    [[ $output == *"not the monitor 2"* ]]
    # The image must be a sealed memfd, not a file someone can still write.
    VRF_FDS="4<'$HVPATCH_ROOT/build/guest/demo.elf'" \
        run verifier --kind demo --mem-size 67108864 --cpus 1
    [ "$status" -eq 70 ]
    [[ $output == *"fd 4 (guest image): not a memfd sealed"* ]]
    VRF_FDS="4</dev/null" run verifier --kind demo --mem-size 67108864 --cpus 1
    [ "$status" -eq 70 ]
    [[ $output == *"fd 4 (guest image): not a regular file"* ]]
}

@test "monitor and verifier are separate programs; the monitor maps no TPM or X.509 code and uses under 4 MiB" {
    require_kvm
    require_swtpm
    vm_start --cpus 1
    wait_for "heartbeats" 20 all_beating
    [ "$(vm_status .tpm.state)" = ok ] # the raw TPM start-up probe worked
    vpid=$(vm_status .verifier.pid)
    [ "$(vm_status .pid)" = "$VM_PID" ] # `hvpatch run` exec'd, same pid
    [ "$(readlink "/proc/$VM_PID/exe")" = "$BUILD/hvpatch-monitor" ]
    [ "$(readlink "/proc/$vpid/exe")" = "$BUILD/hvpatch-verifier" ]
    [ "$(awk '{print $4}' "/proc/$vpid/stat")" = "$VM_PID" ]
    # The verifier has the TPM and X.509 libraries; the monitor none.
    grep -q libtss2-esys "/proc/$vpid/maps"
    grep -q libmbedx509 "/proc/$vpid/maps"
    run grep -E 'libtss2|libcrypto\.so|libmbedx509|libmbedtls|libcbor' \
        "/proc/$VM_PID/maps"
    [ "$status" -eq 1 ]
    # The verifier maps neither the CLI nor the monitor program (only its
    # own, its libraries and its memfds), and holds no monitor code.
    run awk '$6 ~ /\/hvpatch(-monitor)?$/ {print $6}' \
        "/proc/$vpid/maps"
    [ -z "$output" ]
    run nm "$BUILD/hvpatch-verifier"
    [[ $output == *" vrf_proc_main"* && $output != *" hv_kvm_open"* &&
        $output != *" cli_cmd_run"* ]]
    kib=$(vm_status .memory.monitor_kib)
    echo "# monitor RSS $kib KiB (private $(vm_status .memory.monitor_private_kib))" >&3
    [ "$kib" -lt 4096 ]
}
