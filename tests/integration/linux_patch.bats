#!/usr/bin/env bats
# linux_patch.bats: a Linux guest's text lock and live patches of its
# running kernel through the protected path (docs/LINUX.md, "Text lock",
# "Live patching").
#
# On kvm_pvm Debian's kernel never reaches init (docs/LINUX.md), but it
# runs for a minute past its first console lines: the test locks its text
# once ftrace has rewritten its entry sites, patches __x2apic_enable, a
# function the kernel calls ~25 s later, and sees the patched line on the
# console; the kernel's own late text writes are blocked and audited. On
# VT-x and AMD-V the full-boot test does the same from user space
# (/proc/cmdline), with the lock asked for by the initramfs.

load helpers

LINUX_DIR=${HVPATCH_LINUX_DIR:-$HVPATCH_ROOT/build/linux}
PVH=$HVPATCH_ROOT/build/tests/guests/pvh_platform.elf
PVM_REASON="kvm_pvm: guest ring 0 is emulated and lacks instructions this kernel uses (see docs/LINUX.md); runs in the AMD-V and VT-x lab hosts (lab/amdv, lab/vtx)"
APPEND="console=ttyS0 earlycon=uart8250,io,0x3f8 pci=off 8250.nr_uarts=1"
# Measured on kvm_pvm (a loaded 2-core machine): "ftrace: allocated" at
# ~60 s, "x2apic enabled" ~30 s after it.
FTRACE_SECONDS=${LINUX_FTRACE_SECONDS:-240}
X2APIC_SECONDS=${LINUX_X2APIC_SECONDS:-180}

# Kernel, symbols, keys and packages: made once (tests/lib/test-packages.sh,
# cached in build/test-packages; the lab hosts get them ready-made).
setup_file() { linux_packages_setup_file; }

setup() {
    K=$HVPATCH_ROOT/build/test-packages/linux
    AUDIT=$BATS_TEST_TMPDIR/audit.jsonl
}
teardown() { vm_stop; }

require_debian_kernel() {
    require_kvm
    require_swtpm
    [ ! -s "$BATS_FILE_TMPDIR/skip" ] || skip "$(cat "$BATS_FILE_TMPDIR/skip")"
    # the kernel is here: a package that does not build is a failure
    [ ! -s "$BATS_FILE_TMPDIR/fail" ] || { cat "$BATS_FILE_TMPDIR/fail"; return 1; }
    [ ! -s "$K.skip" ] || { cat "$K.skip"; return 1; }
    VMLINUX=$LINUX_DIR/vmlinux
    INITRD=$LINUX_DIR/initramfs.cpio.gz
}

apply() { run "$HVPATCH" apply --vm "$VM_SOCK" "$@"; }
audit_has() { jq -e "select($1)" "$AUDIT" >/dev/null; }

@test "lock: refused for the demo guest and for a kernel that cannot be locked; apply waits for the lock" {
    require_kvm
    [ -s "$PVH" ] || skip "$PVH not built (make build-check)"
    vm_start --no-tpm
    run "$HVPATCH" lock --vm "$VM_SOCK"
    [ "$status" -eq 4 ]
    [[ $output == *"only a Linux guest has a text lock"* ]]
    vm_stop
    vm_start --no-tpm --kernel "$PVH" --append "halt here"
    vm_wait_console "^pvh: done"
    run "$HVPATCH" lock --vm "$VM_SOCK"
    echo "$output"
    [ "$status" -eq 4 ]
    [[ $output == *"this kernel's text cannot be locked"* ]]
    [ "$(vm_status .code.text_lock)" = null ]
    run "$HVPATCH" lock --help
    [ "$status" -eq 0 ] && [[ $output == usage:* ]]
}

@test "Debian's kernel on this KVM: text locked mid-boot, __x2apic_enable patched live, the kernel prints the patched line" {
    require_debian_kernel
    [ "$(kvm_flavour)" = kvm_pvm ] ||
        skip "on VT-x and AMD-V the kernel boots past __x2apic_enable before a lock; the full-boot test patches it from user space"
    vm_start --kernel "$VMLINUX" --append "$APPEND" --trust "$K/keys/trust" \
        --audit-log "$AUDIT"
    vm_wait_console "ftrace: allocated" "$FTRACE_SECONDS"
    # before the lock, nothing may be patched
    apply "$K/x2apic.signed"
    echo "$output"
    [ "$status" -eq 4 ]
    [[ $output == *"not locked yet"* ]]
    run "$HVPATCH" lock --vm "$VM_SOCK" --json
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(jq -r .gpa <<<"$output")" = 0x1000000 ]
    [ "$(jq -r .size <<<"$output")" -eq $((0xe02000)) ]
    # the locked text is what the kernel file holds, as boot rewrote it:
    # measured and audited
    sha=$(jq -r .sha256 <<<"$output")
    audit_has ".event == \"text-locked\" and .code_sha256 == \"$sha\" and .pcr10 != null"
    [ "$(vm_status .code.text_lock.gpa)" = 0x1000000 ]
    run "$HVPATCH" lock --vm "$VM_SOCK"
    [ "$status" -eq 4 ] && [[ $output == *"already locked"* ]]
    # refusals leave the code as it is
    before=$(vm_status .code.sha256)
    apply "$K/cmdline.tampered"
    [ "$status" -eq 4 ] && [[ $output == *VRF_ERR_SIG_INVALID* ]]
    apply "$K/other.signed"
    [ "$status" -eq 4 ] && [[ $output == *VRF_ERR_BASELINE_DIGEST* ]]
    [ "$(vm_status .code.sha256)" = "$before" ]
    # the live patch, then one applied and reverted
    apply --json "$K/x2apic.signed"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(jq -r .id <<<"$output")" = HP-LINUX-0001 ]
    apply "$K/cmdline.signed"
    [ "$status" -eq 0 ]
    run "$HVPATCH" revert --vm "$VM_SOCK" HP-LINUX-0002
    [ "$status" -eq 0 ]
    [ "$(vm_status '[.patches[].id] | join(" ")')" = HP-LINUX-0001 ]
    # the audit log and a fresh quote agree (now: the kernel stops on the
    # int3 of int3_selftest() soon after the patched function ran)
    run "$HVPATCH" attest --vm "$VM_SOCK" --nonce 0011223344556677 --out "$BATS_TEST_TMPDIR/att"
    [ "$status" -eq 0 ]
    run "$HVPATCH" audit verify "$AUDIT" --attestation "$BATS_TEST_TMPDIR/att"
    echo "$output"
    [ "$status" -eq 0 ]
    # the running kernel calls the new code
    vm_wait_console "x2apic enabled \\(hvpatch: live patch HP-LINUX-0001 ran\\)" "$X2APIC_SECONDS"
    ! grep -q "^\[[ 0-9.]*\] x2apic enabled$" "$VM_OUT"
    vm_wait_console "x86/fpu: x87 FPU will use FXSAVE" 60
    # the kernel's own later text writes (static keys, text_poke_early)
    # hit the lock: blocked, logged and audited
    vm_wait_exit 60
    grep -q "blocked guest write: vCPU [0-9] rip 0x[0-9a-f]* wrote [0-9] bytes at GPA 0x1[0-9a-f]* (kernel text)" "$VM_ERR"
    audit_has '.event == "guest-write-blocked"'
}

@test "full boot: the initramfs asks for the lock; cmdline_proc_show patched live, seen in /proc/cmdline; revert" {
    require_debian_kernel
    [ "$(kvm_flavour)" != kvm_pvm ] || skip "$PVM_REASON"
    local d=$BATS_TEST_TMPDIR nonce=0123456789abcdef0123456789abcdef
    lab_note
    vm_start --kernel "$VMLINUX" --initrd "$INITRD" \
        --append "console=ttyS0 quiet pci=off 8250.nr_uarts=1 hvpatch.lock${LINUX_EXTRA_APPEND:+ $LINUX_EXTRA_APPEND}" \
        --trust "$K/keys/trust" --audit-log "$AUDIT"
    vm_wait_console "hvpatch-guest: ready" "${LINUX_BOOT_SECONDS:-120}"
    wait_for "text lock" 20 audit_has '.event == "text-locked"'
    vm_send "sleep 100000 & echo pid=\$!"
    vm_wait_console "pid=[0-9]+"
    pid=$(grep -oE "pid=[0-9]+" "$VM_OUT" | head -n 1 | cut -d= -f2)
    up1=$(vm_status .uptime_ms)
    vm_send "cat /proc/cmdline"
    vm_wait_console "hvpatch.lock"
    apply "$K/cmdline.signed"
    [ "$status" -eq 0 ]
    vm_send "cat /proc/cmdline; kill -0 $pid && echo still-running"
    vm_wait_console "hvpatch: this has been live patched"
    vm_wait_console "still-running"
    [ "$(vm_status .uptime_ms)" -gt "$up1" ]
    run "$HVPATCH" revert --vm "$VM_SOCK" HP-LINUX-0002
    [ "$status" -eq 0 ]
    vm_send "cat /proc/cmdline | tr a-z A-Z"
    vm_wait_console "HVPATCH.LOCK"
    # a write to locked text from inside is blocked and audited
    vm_send "echo function > /sys/kernel/tracing/current_tracer"
    wait_for "blocked writes audited" 20 audit_has '.event == "guest-write-blocked"'
    # the VM's own swtpm: a fresh quote agrees with the audit log
    run "$HVPATCH" attest --vm "$VM_SOCK" --nonce "$nonce" --out "$d/att"
    [ "$status" -eq 0 ]
    run "$HVPATCH" audit verify "$AUDIT" --attestation "$d/att"
    echo "$output"
    [ "$status" -eq 0 ]
}
