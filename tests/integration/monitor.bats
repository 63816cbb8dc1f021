#!/usr/bin/env bats
# monitor.bats: the monitor boots the demo guest under KVM with its code
# read-only at the second level, pauses and resumes it, answers control
# requests, and stops with one clear message on every fatal path.

load helpers

setup() { HV=$HVPATCH; }
teardown() { vm_stop; }

@test "hvpatch and hvpatch run print usage with --help" {
    run "$HVPATCH" --help
    [ "$status" -eq 0 ]
    [[ $output == *"run "* && $output == *"status"* ]]
    run "$HVPATCH" run --help
    [ "$status" -eq 0 ]
    [[ $output == *"--cpus N"* && $output == *"Exit status"* ]]
    run "$HVPATCH" bogus
    [ "$status" -eq 1 ]
}

@test "bad run options are refused with exit 1" {
    run "$HVPATCH" run --cpus 0
    [ "$status" -eq 1 ] && [[ $output == *"--cpus takes 1..8"* ]]
    run "$HVPATCH" run --cpus 9
    [ "$status" -eq 1 ]
    run "$HVPATCH" run --mem 7
    [ "$status" -eq 1 ] && [[ $output == *"--mem"* ]]
    run "$HVPATCH" run --mem 64x
    [ "$status" -eq 1 ]
    run "$HVPATCH" run --initrd /dev/null # Linux: linux_run.bats
    [ "$status" -eq 1 ] && [[ $output == *"--initrd needs --kernel"* ]]
}

@test "demo guest boots to heartbeats on every vCPU" {
    require_kvm
    vm_start --cpus 2
    wait_for "heartbeats from every vCPU" 20 all_beating
    vm_wait_console "guest: ready"
    a=$(heartbeats)
    sleep 0.3
    b=$(heartbeats)
    strictly_greater "$a" "$b"
    [ "$(vm_status '.vcpus | length')" -eq 2 ]
    [ "$(vm_status .state)" = running ]
    vm_stop
    [ "$VM_RC" -eq 0 ]
    grep -q "heartbeats from all 2 vCPUs" "$VM_ERR"
}

@test "four vCPUs each run a workload" {
    require_kvm
    vm_start --cpus 4
    wait_for "heartbeats from every vCPU" 20 all_beating
    a=$(heartbeats)
    sleep 0.3
    strictly_greater "$a" "$(heartbeats)"
}

@test "--no-sandbox (for gdb) runs the guest and says it is unconfined" {
    require_kvm
    vm_start --no-sandbox --no-tpm
    wait_for "heartbeats" 20 all_beating
    grep -q "running without the seccomp sandbox" "$VM_ERR"
    vm_stop
    [ "$VM_RC" -eq 0 ]
    vm_start --no-tpm
    wait_for "heartbeats" 20 all_beating
    ! grep -q "without the seccomp sandbox" "$VM_ERR"
}

@test "control socket is created mode 0600 and removed on exit" {
    require_kvm
    vm_start
    [ "$(stat -c %a "$VM_SOCK")" = 600 ]
    vm_stop
    [ ! -e "$VM_SOCK" ]
}

@test "every self-write method is blocked and counted; code unchanged" {
    require_kvm
    vm_start
    wait_for "heartbeats" 20 all_beating
    clean=$(vm_status .code.sha256)
    vm_stop

    vm_start --append selfwrite
    vm_wait_console "selfwrite: done" 30
    for m in "ring0 store" "ring0 rep-movsb" "ring0 alias" \
        "ring3 store" "ring3 rep-movsb" "ring3 alias"; do
        grep -q "selfwrite: $m: blocked" "$VM_OUT"
    done
    ! grep -q CHANGED "$VM_OUT"
    [ "$(vm_status .blocked_writes.total)" -ge 6 ]
    [ "$(vm_status '.blocked_writes.pages | length')" -ge 2 ]
    [ "$(vm_status .code.sha256)" = "$clean" ]
    grep -q "blocked guest write: vCPU 0 rip 0x4" "$VM_ERR"
    grep -q "(kernel text)" "$VM_ERR"
    grep -q "(user text)" "$VM_ERR"
    # ... and the guest keeps running.
    a=$(heartbeats)
    sleep 0.3
    strictly_greater "$a" "$(heartbeats)"
}

@test "pause stops every vCPU; resume lets every counter climb again" {
    require_kvm
    vm_start
    wait_for "heartbeats" 20 all_beating
    run "$HVPATCH" pause --vm "$VM_SOCK" --json
    [ "$status" -eq 0 ]
    [ "$(jq '.rips | length' <<<"$output")" -eq 2 ]
    [ "$(jq '.pause_ns > 0' <<<"$output")" = true ]
    [ "$(vm_status .state)" = paused ]
    a=$(heartbeats)
    sleep 0.3
    [ "$(heartbeats)" = "$a" ] # nothing runs while paused
    run "$HVPATCH" pause --vm "$VM_SOCK"
    [ "$status" -eq 4 ] && [[ $output == *"already paused"* ]]
    run "$HVPATCH" resume --vm "$VM_SOCK"
    [ "$status" -eq 0 ]
    sleep 0.3
    strictly_greater "$a" "$(heartbeats)"
    run "$HVPATCH" resume --vm "$VM_SOCK"
    [ "$status" -eq 4 ] && [[ $output == *"not paused"* ]]
}

@test "200 pause/resume cycles: counters strictly increase across them" {
    require_kvm
    vm_start
    wait_for "heartbeats" 20 all_beating
    a=$(heartbeats)
    run bash -c "for i in \$(seq 200); do echo '{\"execute\":\"pause\"}'; \
        echo '{\"execute\":\"resume\"}'; done | '$HVPATCH' control --vm '$VM_SOCK'"
    [ "$status" -eq 0 ]
    [ "$(grep -c '"return"' <<<"$output")" -eq 400 ]
    sleep 0.3
    strictly_greater "$a" "$(heartbeats)"
    [ "$(vm_status .state)" = running ]
}

@test "malformed and oversized control requests get errors, guest runs on" {
    require_kvm
    vm_start
    wait_for "heartbeats" 20 all_beating
    a=$(heartbeats)
    big=$(head -c 5000 /dev/zero | tr '\0' ' ')
    run "$HVPATCH" control --vm "$VM_SOCK" 'not json' '{"execute":1}' \
        '{"execute":"nope"}' '{"execute":"pause","arguments":{"x":1}}' \
        '{"execute":"status","bogus":0}' "{\"execute\":\"quit\"$big}" \
        '{"execute":"status"}'
    [ "$status" -eq 4 ]
    lines=("${lines[@]}")
    [[ ${lines[0]} == *'"class":"JSONParsing"'* ]]
    [[ ${lines[1]} == *'"class":"GenericError"'* ]]
    [[ ${lines[2]} == *'"class":"CommandNotFound"'* ]]
    [[ ${lines[3]} == *'"class":"GenericError"'* ]]
    [[ ${lines[4]} == *'"class":"GenericError"'* ]]
    [[ ${lines[5]} == *'"class":"TooLarge"'* ]]
    [[ ${lines[6]} == *'"return"'* ]] # the connection still works
    [ "$(vm_status .state)" = running ]
    sleep 0.2
    strictly_greater "$a" "$(heartbeats)"
}

@test "the console reaches the guest: both bugs are exploitable before a patch" {
    require_kvm
    vm_start
    vm_wait_console "guest: ready"
    vm_send "echo 96 hi"
    vm_wait_console "USECRET"
    vm_send "klog 0 16"
    vm_wait_console "klog: 16"
    vm_send "klog 0xffffffffffffffe0 32"
    vm_wait_console "KSECRET"
}

@test "guest shutdown ends the monitor with status 0" {
    require_kvm
    vm_start
    vm_wait_console "guest: ready"
    vm_send shutdown
    vm_wait_exit 20
    [ "$VM_RC" -eq 0 ]
    grep -q "guest shut down with code 0" "$VM_ERR"
}

@test "SIGTERM and SIGINT stop the VM cleanly with 128+signal" {
    require_kvm
    vm_start
    wait_for "heartbeats" 20 all_beating
    kill -TERM "$VM_PID"
    vm_wait_exit 10
    [ "$VM_RC" -eq 143 ]
    grep -q "stopping VM" "$VM_ERR"
    [ ! -e "$VM_SOCK" ]
    vm_start
    kill -INT "$VM_PID"
    vm_wait_exit 10
    [ "$VM_RC" -eq 130 ]
}

@test "a second VM on a live control socket is refused" {
    require_kvm
    vm_start
    run "$HVPATCH" run --control "$VM_SOCK" </dev/null
    [ "$status" -eq 2 ]
    [[ $output == *"is in use by another VM"* ]]
}

@test "corrupt guest image: one clear message, exit 2" {
    require_kvm
    head -c 4096 /dev/urandom >"$BATS_TEST_TMPDIR/junk.elf"
    run "$HVPATCH" run --guest "$BATS_TEST_TMPDIR/junk.elf" </dev/null
    [ "$status" -eq 2 ]
    [[ $output == *"guest image rejected: not an ELF file"* ]]
    run "$HVPATCH" run --guest "$BATS_TEST_TMPDIR/missing.elf" </dev/null
    [ "$status" -eq 2 ]
    [[ $output == *"open failed: No such file"* ]]
}

@test "no access to /dev/kvm: one clear message, exit 2" {
    require_kvm
    [ "$(id -u)" -eq 0 ] || skip "needs root to drop to an unprivileged user"
    command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
    ! setpriv --reuid=65534 --regid=65534 --clear-groups test -w /dev/kvm ||
        skip "the unprivileged user can use /dev/kvm here"
    # The CLI execs the monitor found next to it, which execs the verifier:
    # all three where the user can reach them (bats' own directory is 0700).
    d=$(mktemp -d /tmp/hvpatch-unpriv.XXXXXX)
    cp "$HVPATCH" "$HVPATCH-monitor" "$HVPATCH-verifier" "$d"
    chmod 755 "$d" "$d"/hvpatch*
    run setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$d/hvpatch" run </dev/null
    rm -rf "$d"
    [ "$status" -eq 2 ]
    [[ $output == *"KVM: open /dev/kvm failed: Permission denied"* ]]
}

@test "unexpected exits stop the VM with one message naming exit and RIP" {
    require_kvm
    g=$HVPATCH_ROOT/build/tests/guests
    run "$HVPATCH" run --guest "$g/unknown_port.elf" </dev/null
    [ "$status" -eq 3 ]
    [ "$(grep -c 'unexpected exit' <<<"$output")" -eq 1 ]
    [[ $output == *"unexpected exit 2 (IO): out port 0x80 size 1 count 1 at rip 0x40000007"* ]]
    run "$HVPATCH" run --guest "$g/triple_fault.elf" </dev/null
    [ "$status" -eq 3 ]
    [[ $output == *"(SHUTDOWN): triple fault at rip 0x40000000"* ]]
    run "$HVPATCH" run --guest "$g/mmio_read.elf" </dev/null
    [ "$status" -eq 3 ]
    [[ $output == *"(MMIO): MMIO read of 8 bytes at GPA 0x3e800000 at rip 0x4000000c"* ]]
}

@test "ASan+UBSan build: boot, self-write, pause/resume, quit run clean" {
    require_kvm
    [ -x "$HVPATCH_ASAN" ] || skip "ASan build missing (make build-check)"
    HV=$HVPATCH_ASAN
    vm_start --append selfwrite
    vm_wait_console "selfwrite: done" 60
    wait_for "heartbeats" 20 all_beating
    run "$HVPATCH" control --vm "$VM_SOCK" '{"execute":"pause"}' \
        '{"execute":"resume"}' 'garbage' '{"execute":"status"}'
    [ "$status" -eq 4 ]
    vm_stop
    [ "$VM_RC" -eq 0 ]
    ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$VM_ERR"
}
