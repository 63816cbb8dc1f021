#!/usr/bin/env bats
# linux_run.bats: `hvpatch run --kernel FILE [--initrd F] [--append S]`
# boots Linux under the monitor: bad kernel files are refused before
# anything starts; a tiny PVH kernel (tests/guests/pvh_platform.S) checks,
# on any KVM, the platform a Linux guest gets (start info, empty PCI, the
# UART's interrupts through the in-kernel irqchip, ACPI power-off, reset)
# and the measured boot of kind "linux"; Debian's own kernel (fetched
# like linux_boot_protocol.bats does, cached in build/linux) prints its
# first console lines and stops cleanly on `quit`.
#
# The tests that need Debian's kernel to reach init (initramfs marker on
# both CPUs, uname -r, console I/O, poweroff and reboot from the guest)
# run on VT-x and AMD-V; on kvm_pvm, where guest ring 0 is emulated, they
# are SKIPPED with the reason, never passed.

load helpers

LINUX_DIR=${HVPATCH_LINUX_DIR:-$HVPATCH_ROOT/build/linux}
GUEST_SH=$HVPATCH_ROOT/tests/lib/linux-guest.sh
PVH=$HVPATCH_ROOT/build/tests/guests/pvh_platform.elf
# Bounds, in seconds. Measured on kvm_pvm: "Linux version" at ~19 s.
FIRST_LINE_SECONDS=${LINUX_FIRST_LINE_SECONDS:-90}
BOOT_SECONDS=${LINUX_BOOT_SECONDS:-120}
PVM_REASON="kvm_pvm: guest ring 0 is emulated and lacks instructions this kernel uses (see docs/LINUX.md); runs in the AMD-V and VT-x lab hosts (lab/amdv, lab/vtx)"
# No "quiet", so the banner reaches the console; earlycon prints from the
# moment the kernel parses its command line instead of from console_init.
# LINUX_EXTRA_APPEND: what an emulated lab host needs besides (lab_note).
APPEND="console=ttyS0 earlycon=uart8250,io,0x3f8 pci=off 8250.nr_uarts=1${LINUX_EXTRA_APPEND:+ $LINUX_EXTRA_APPEND}"

# Fetched once for the file; the reason is kept so each test can skip.
setup_file() {
    local log=$BATS_FILE_TMPDIR/fetch.log
    if ! "$GUEST_SH" vmlinux "$LINUX_DIR" >"$log" 2>&1 ||
        ! "$GUEST_SH" initramfs "$LINUX_DIR" >>"$log" 2>&1 ||
        ! "$GUEST_SH" version "$LINUX_DIR" >>"$log" 2>&1; then
        {
            echo "cannot fetch Debian's kernel with apt-get download:"
            tail -n 3 "$log"
        } | tr '\n' ' ' >"$BATS_FILE_TMPDIR/skip"
    fi
}

setup() { HV=$HVPATCH; }
teardown() { vm_stop; }

require_pvh_guest() {
    require_kvm
    [ -s "$PVH" ] || skip "$PVH not built (make build-check)"
}

require_debian_kernel() {
    require_kvm
    [ ! -s "$BATS_FILE_TMPDIR/skip" ] || skip "$(cat "$BATS_FILE_TMPDIR/skip")"
    VMLINUZ=$LINUX_DIR/vmlinuz
    VMLINUX=$LINUX_DIR/vmlinux
    INITRD=$LINUX_DIR/initramfs.cpio.gz
    RELEASE=$(cat "$LINUX_DIR/release")
    VERSION=$(cat "$LINUX_DIR/version")
}

# require_full_boot: Debian's kernel must reach init: not on kvm_pvm.
require_full_boot() {
    require_debian_kernel
    [ "$(kvm_flavour)" != kvm_pvm ] || skip "$PVM_REASON"
    lab_note
}

# children: the monitor's child processes (swtpm, verifier, clean-up).
children() { pgrep -P "$VM_PID" | paste -sd,; }

# all_gone PIDS: none of the comma-separated PIDS runs any more.
all_gone() { ! ps -o pid= -p "$1" | grep -q .; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# refused ARGS...: `hvpatch run ARGS` fails before starting anything: one
# message on stderr and no control socket. Sets status and output.
refused() {
    local sock=$BATS_TEST_TMPDIR/never.sock
    run "$HVPATCH" run --control "$sock" "$@" </dev/null
    echo "$output"
    [ ! -e "$sock" ]
    [ "${#lines[@]}" -eq 1 ]
}

@test "bad --kernel and --initrd inputs: one clear error, exit 1 or 2, nothing started" {
    local d=$BATS_TEST_TMPDIR
    refused --kernel "$d/missing"
    [ "$status" -eq 2 ] && [[ $output == *"kernel $d/missing: open failed: No such file"* ]]
    refused --kernel "$d"
    [ "$status" -eq 2 ] && [[ $output == *"not a regular file"* ]]
    : >"$d/empty"
    refused --kernel "$d/empty"
    [ "$status" -eq 2 ] && [[ $output == *"empty file"* ]]
    seq 1 5000 >"$d/text"
    refused --kernel "$d/text"
    [ "$status" -eq 2 ] && [[ $output == *"rejected: neither a bzImage nor an ELF vmlinux"* ]]
    truncate -s 257M "$d/huge" # sparse: nothing is read
    refused --kernel "$d/huge"
    [ "$status" -eq 2 ] && [[ $output == *"269484032 bytes, more than the 256 MiB limit"* ]]
    # another architecture: the PVH test kernel relabelled as AArch64
    [ -s "$PVH" ] || skip "$PVH not built (make build-check)"
    cp "$PVH" "$d/arm64"
    printf '\xb7\x00' | dd of="$d/arm64" bs=1 seek=18 conv=notrunc 2>/dev/null
    refused --kernel "$d/arm64"
    [ "$status" -eq 2 ] && [[ $output == *"not an x86-64 executable"* ]]
    # a 32-bit ELF, and an x86-64 ELF that is no PVH kernel (the demo guest)
    cp "$PVH" "$d/elf32"
    printf '\x01' | dd of="$d/elf32" bs=1 seek=4 conv=notrunc 2>/dev/null
    refused --kernel "$d/elf32"
    [ "$status" -eq 2 ] && [[ $output == *"not a 64-bit little-endian ELF"* ]]
    refused --kernel "$HVPATCH_ROOT/build/guest/demo.elf"
    [ "$status" -eq 2 ] && [[ $output == *"no PVH entry note"* ]]
    refused --kernel "$PVH" --initrd "$d/missing"
    [ "$status" -eq 2 ] && [[ $output == *"initrd $d/missing: open failed"* ]]
    # usage errors
    refused --kernel "$PVH" --guest "$PVH"
    [ "$status" -eq 1 ] && [[ $output == *"--kernel and --guest exclude each other"* ]]
    refused --kernel "$PVH" --mem 64
    [ "$status" -eq 1 ] && [[ $output == *"at least 128 MiB"* ]]
    refused --kernel "$PVH" --append "$(printf 'x%.0s' {1..4096})"
    [ "$status" -eq 1 ] && [[ $output == *"--append: longer than 4095 bytes"* ]]
    # longer than the kernel takes (PVH: 2047 bytes)
    refused --kernel "$PVH" --append "$(printf 'x%.0s' {1..3000})"
    [ "$status" -eq 2 ] && [[ $output == *"this kernel takes at most 2047"* ]]
}

@test "PVH test kernel: start info, no PCI, UART interrupts, console input, ACPI power-off exits 0" {
    require_pvh_guest
    vm_start --kernel "$PVH" --append "p+"
    vm_wait_console "^pvh: start info ok"
    vm_wait_console "^pvh: no PCI bus, CMOS ok"
    # how Linux measures its clock: kvmclock found, or the PIT via 0x61
    vm_wait_console "^pvh: kvmclock in CPUID, PIT channel 2 through port 0x61 ok"
    # the THR-empty interrupt: IER/IIR, KVM_IRQ_LINE from a vCPU thread,
    # IOAPIC pin 4 (edge, active high) to the LAPIC
    vm_wait_console "^pvh: uart THR-empty interrupt ok"
    vm_wait_console "^pvh: waiting for one byte of input"
    kids=$(children)
    # the receive interrupt: KVM_IRQ_LINE from the main loop
    vm_send "Q"
    vm_wait_console "^pvh: uart receive interrupt got 'Q'"
    vm_wait_exit 10
    [ "$VM_RC" -eq 0 ]
    grep -q "guest powered off (ACPI S5)" "$VM_ERR"
    ! grep -q "FAIL" "$VM_OUT"
    wait_for "swtpm, verifier, clean-up gone" 5 all_gone "$kids"
}

@test "PVH test kernel: reboot exits 8; an unowned port stops the VM with one message" {
    require_pvh_guest
    run "$HVPATCH" run --no-tpm --kernel "$PVH" --append r </dev/null
    echo "$output"
    [ "$status" -eq 8 ]
    [[ $output == *"pvh: done"* ]]
    [[ $output == *"guest requested a reboot (0x06 on port 0xcf9)"* ]]
    run "$HVPATCH" run --no-tpm --kernel "$PVH" --append x </dev/null
    echo "$output"
    [ "$status" -eq 3 ]
    [ "$(grep -c 'unexpected exit' <<<"$output")" -eq 1 ]
    [[ $output == *"(IO): out port 0x1234 size 1 count 1 at rip 0x"* ]]
}

@test "PVH test kernel: measured boot of kind linux (kernel, command line, initrd); attest verifies" {
    require_pvh_guest
    require_swtpm
    local d=$BATS_TEST_TMPDIR nonce=00112233445566778899aabbccddeeff
    seq 1 3000 >"$d/initrd"
    vm_start --kernel "$PVH" --initrd "$d/initrd" --append "halt here"
    vm_wait_console "^pvh: done"
    [ "$(vm_status .baseline.kind)" = linux ]
    [ "$(vm_status .baseline.image_sha256)" = "$(sha256 "$PVH")" ]
    [ "$(vm_status .tpm.state)" = ok ]
    want="halt here"
    [ "$(kvm_flavour)" != kvm_pvm ] || want="halt here noxsave"
    [ "$(vm_status .cmdline)" = "$want" ]
    # the protected code (patch area, then room for the kernel text) is
    # empty until the text lock
    [ "$(vm_status .code.size)" -eq $((32 << 20)) ]
    [ "$(vm_status .code.sha256)" = "$(head -c $((32 << 20)) /dev/zero | sha256sum | cut -d' ' -f1)" ]
    [ "$(vm_status .code.text_lock)" = null ]
    [ "$(vm_status '.vcpus | length')" -eq 2 ]
    run "$HVPATCH" status --vm "$VM_SOCK"
    [[ $output == *"baseline:     $(sha256 "$PVH") (linux)"* ]]
    [[ $output == *"vCPU 1:       0 blocked writes"* ]]
    run "$HVPATCH" attest --vm "$VM_SOCK" --nonce "$nonce" --out "$d/att"
    [ "$status" -eq 0 ]
    run "$HVPATCH" verify-attestation "$d/att" --nonce "$nonce" --ak "$d/att/ak.pub"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"baseline: sha256:$(sha256 "$PVH") kind=linux"* ]]
    [[ $output == *"command line: \"$want\""* ]]
    [[ $output == *"initrd: measured"* ]]
    [[ $output == *"runtime changes: 0"* ]]
    # PCR 9's one event is the initrd's digest
    tpm2_eventlog "$d/att/eventlog.bin" 2>/dev/null |
        awk '/PCRIndex: 9/ {p = 1} p && /AlgorithmId: sha256/ {getline; print $2; exit}' |
        tr -d '"' >"$d/pcr9"
    [ "$(cat "$d/pcr9")" = "$(sha256 "$d/initrd")" ]
    kids=$(children)
    vm_stop
    [ "$VM_RC" -eq 0 ]
    wait_for "swtpm, verifier, clean-up gone" 5 all_gone "$kids"
}

@test "ASan+UBSan build: the PVH test kernel with an initrd and console input runs clean" {
    require_pvh_guest
    [ -x "$HVPATCH_ASAN" ] || skip "ASan build missing (make build-check)"
    HV=$HVPATCH_ASAN
    seq 1 3000 >"$BATS_TEST_TMPDIR/initrd"
    vm_start --kernel "$PVH" --initrd "$BATS_TEST_TMPDIR/initrd" --append "p+"
    vm_wait_console "^pvh: waiting for one byte of input" 30
    [ "$(vm_status .baseline.kind)" = linux ]
    vm_send "A"
    vm_wait_exit 30
    [ "$VM_RC" -eq 0 ]
    grep -q "^pvh: uart receive interrupt got 'A'" "$VM_OUT"
    ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$VM_ERR"
}

@test "Debian's vmlinux: first console lines (Linux version, package version) in bounded time; quit is clean" {
    require_debian_kernel
    local t0=$SECONDS
    vm_start --kernel "$VMLINUX" --initrd "$INITRD" --append "$APPEND"
    vm_wait_console "Linux version $RELEASE " "$FIRST_LINE_SECONDS"
    echo "# Linux version after $((SECONDS - t0)) s ($(kvm_flavour))" >&3
    grep "Linux version $RELEASE " "$VM_OUT" | grep -q "Debian $VERSION "
    vm_wait_console "Command line: $APPEND" 10
    grep -q "booting Linux $VMLINUX guest on 2 vCPUs, 256 MiB" "$VM_ERR"
    grep -q "Linux PVH entry at 0x" "$VM_ERR"
    [ "$(vm_status .state)" = running ]
    [ "$(vm_status .baseline.kind)" = linux ]
    [ "$(vm_status .baseline.image_sha256)" = "$(sha256 "$VMLINUX")" ]
    [[ $(vm_status .cmdline) == "$APPEND"* ]]
    [ "$(vm_status .tpm.state)" = ok ]
    kids=$(children)
    [ -n "$kids" ]
    vm_stop
    [ "$VM_RC" -eq 0 ]
    grep -q "quit requested" "$VM_ERR"
    wait_for "swtpm, verifier, clean-up gone" 5 all_gone "$kids"
}

@test "Debian's bzImage: entered at its 64-bit entry, measured as kind linux" {
    require_debian_kernel
    vm_start --kernel "$VMLINUZ" --initrd "$INITRD" --append "$APPEND"
    grep -q "Linux 64-bit bzImage entry at 0x1000200" "$VM_ERR"
    [ "$(vm_status .baseline.kind)" = linux ]
    [ "$(vm_status .baseline.image_sha256)" = "$(sha256 "$VMLINUZ")" ]
    if [ "$(kvm_flavour)" = kvm_pvm ]; then
        # ~125 s of emulated LZ4 decompression before the first line: only
        # check that vCPU 0 runs the kernel's own code, above its load
        # address, and vCPU 1 waits for INIT/SIPI (KVM's reset state)
        sleep 2
        run "$HVPATCH" pause --vm "$VM_SOCK" --json
        [ "$status" -eq 0 ]
        rip0=$(jq -r '.rips[0]' <<<"$output")
        rip1=$(jq -r '.rips[1]' <<<"$output")
        "$HVPATCH" resume --vm "$VM_SOCK" >/dev/null
        ((rip0 >= 0x1000000))
        [ "$rip1" = 0xfff0 ]
        [ "$(vm_status .state)" = running ]
    else
        vm_wait_console "Linux version $RELEASE " "$FIRST_LINE_SECONDS"
    fi
    vm_stop
    [ "$VM_RC" -eq 0 ]
}

# ------------------------------------------------- full boots (VT-x, AMD-V)

@test "full boot: initramfs marker with both CPUs online; uname -r; console I/O" {
    require_full_boot
    vm_start --kernel "$VMLINUX" --initrd "$INITRD" --append "$APPEND"
    vm_wait_console "hvpatch-initramfs: init reached, $RELEASE, cpus=2" "$BOOT_SECONDS"
    vm_wait_console "hvpatch-guest: ready" 30
    grep -q "smp: Brought up 1 node, 2 CPUs" "$VM_OUT"
    grep -qE "ttyS0 at I/O 0x3f8 \(irq = [0-9]+" "$VM_OUT"
    # user space reads the console and writes through the UART's IRQ
    vm_send "uname -r"
    vm_wait_console "^$RELEASE"$'\r?$' 30
    vm_send 'echo hvpatch-io-$((6 * 7))'
    vm_wait_console "^hvpatch-io-42" 30
    vm_stop
    [ "$VM_RC" -eq 0 ]
}

@test "full boot: poweroff in the guest ends hvpatch run with 0" {
    require_full_boot
    vm_start --kernel "$VMLINUX" --initrd "$INITRD" --append "$APPEND"
    vm_wait_console "hvpatch-guest: ready" "$BOOT_SECONDS"
    vm_send poweroff
    vm_wait_exit 60
    [ "$VM_RC" -eq 0 ]
    grep -q "guest powered off (ACPI S5)" "$VM_ERR"
}

@test "full boot: reboot in the guest ends hvpatch run with 8" {
    require_full_boot
    vm_start --kernel "$VMLINUX" --initrd "$INITRD" --append "$APPEND"
    vm_wait_console "hvpatch-guest: ready" "$BOOT_SECONDS"
    vm_send "reboot -f"
    vm_wait_exit 60
    [ "$VM_RC" -eq 8 ]
    grep -q "guest requested a reboot" "$VM_ERR"
}

@test "full boot: the bzImage reaches init as well" {
    require_full_boot
    vm_start --kernel "$VMLINUZ" --initrd "$INITRD" --append "$APPEND"
    vm_wait_console "hvpatch-initramfs: init reached, $RELEASE, cpus=2" "$BOOT_SECONDS"
    vm_stop
    [ "$VM_RC" -eq 0 ]
}
