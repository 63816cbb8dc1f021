#!/usr/bin/env bats
# linux_boot_protocol.bats: the Linux boot protocol library against Debian's
# own kernel (linux-image-cloud-amd64, fetched with apt-get download and
# cached in build/linux): the strict parsers accept the real bzImage setup
# header and the real vmlinux PVH note, reject damaged copies with the
# expected errors, and the boot structures they lead to (boot_params or PVH
# start info, e820, ACPI, GDT, page tables, vCPU state) boot that kernel to
# init with 2 CPUs, console input, ACPI power-off and reboot.
#
# The boots run under QEMU's TCG (microvm machine, no BIOS: a 64 KiB stub
# enters the kernel in the state fw_linux_cpu_state() gives), because
# kvm_pvm cannot run a stock kernel's ring 0 to init; they mean the same on
# a VT-x or AMD-V host. Without the package registry, the tests skip.

load helpers

LINUX_DIR=${HVPATCH_LINUX_DIR:-$HVPATCH_ROOT/build/linux}
GUEST_SH=$HVPATCH_ROOT/tests/lib/linux-guest.sh
QEMU_SH=$HVPATCH_ROOT/tests/lib/linux-qemu.sh
TOOL=$HVPATCH_ROOT/build/tests/linux_boot_tool
STUB=$HVPATCH_ROOT/build/tests/linux_qemu_stub.bin
BOOT_SECONDS=${LINUX_BOOT_SECONDS:-180}

# Fetched once for the file; the reason is kept so each test can skip.
setup_file() {
    local log=$BATS_FILE_TMPDIR/fetch.log
    if ! "$GUEST_SH" vmlinux "$LINUX_DIR" >"$log" 2>&1 ||
        ! "$GUEST_SH" initramfs "$LINUX_DIR" >>"$log" 2>&1; then
        {
            echo "cannot fetch Debian's kernel with apt-get download:"
            tail -n 3 "$log"
        } | tr '\n' ' ' >"$BATS_FILE_TMPDIR/skip"
    fi
}

setup() {
    [ ! -s "$BATS_FILE_TMPDIR/skip" ] || skip "$(cat "$BATS_FILE_TMPDIR/skip")"
    [ -x "$TOOL" ] || skip "$TOOL not built (make build-check)"
    VMLINUZ=$LINUX_DIR/vmlinuz
    VMLINUX=$LINUX_DIR/vmlinux
    INITRD=$LINUX_DIR/initramfs.cpio.gz
    RELEASE=$(cat "$LINUX_DIR/release")
}

teardown() {
    if [ -n "${QPID:-}" ]; then
        kill "$QPID" 2>/dev/null || true
        wait "$QPID" 2>/dev/null || true
        exec 7>&-
    fi
}

# field KEY: the value of KEY=value in $output.
field() { sed -n "s/^$1=//p" <<<"$output" | head -n 1; }

@test "fetch: Debian's cloud kernel, its vmlinux and an initramfs are cached" {
    [[ $RELEASE =~ ^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-cloud-amd64$ ]]
    [ -s "$VMLINUZ" ]
    [ -s "$VMLINUX" ]
    [ -s "$INITRD" ]
    [ "$(head -c 4 "$VMLINUX" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]
    # cached: a second call neither downloads nor decompresses
    run "$GUEST_SH" vmlinux "$LINUX_DIR"
    [ "$status" -eq 0 ]
    [ "$output" = "$VMLINUX" ]
}

@test "bzImage: the strict parser accepts Debian's setup header" {
    run "$TOOL" info "$VMLINUZ"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(field kind)" = bzimage64 ]
    # boot protocol 2.12 or later, XLF_KERNEL_64, loaded at pref_address
    local proto=$(field protocol)
    [ "${proto%%.*}" -eq 2 ]
    [ "${proto#*.}" -ge 12 ]
    (($(field xloadflags) & 1))
    local pref=$(field pref_address)
    [ "$(field entry)" = "$(printf '0x%x' $((pref + 0x200)))" ]
    [[ $(field segment0) == "$pref+"* ]]
    [ "$(field cmdline_max)" -ge 255 ]
    # the human-readable version names the package's kernel release
    [[ $(field version) == "$RELEASE "* ]]
}

@test "vmlinux: the PVH entry note is found and points into the kernel text" {
    run "$TOOL" info "$VMLINUX"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(field kind)" = pvh ]
    local entry=$(field entry) text=$(field text)
    local base=${text%+*} size=${text#*+}
    ((size > 0 && entry >= base && entry < base + size))
    # the text is the kernel's own physical address (16 MiB here), in an
    # executable segment
    [ "$(field segment0)" = "$text file=$size exec=1" ]
    ((base >= 0x100000))
}

@test "damaged copies of the real kernel are rejected with precise errors" {
    local d=$BATS_TEST_TMPDIR
    head -c 65536 "$VMLINUZ" >"$d/short-bz"
    run "$TOOL" info "$d/short-bz"
    [ "$status" -eq 2 ]
    [ "$(field error)" = -8 ] # syssize past the end
    cp "$VMLINUZ" "$d/no64-bz"
    printf '\x00\x00' | dd of="$d/no64-bz" bs=1 seek=$((0x236)) conv=notrunc 2>/dev/null
    run "$TOOL" info "$d/no64-bz"
    [ "$status" -eq 2 ]
    [ "$(field error)" = -10 ] # no 64-bit entry
    head -c $((1 << 20)) "$VMLINUX" >"$d/short-elf"
    run "$TOOL" info "$d/short-elf"
    [ "$status" -eq 2 ]
    [ "$(field error)" = -22 ] # segment past the end
}

# qemu_boot KERNEL APPEND: boots KERNEL with the initramfs on the library's
# boot structures under TCG (tests/lib/linux-qemu.sh), console on a FIFO
# (fd 7) and in $CONSOLE.
qemu_boot() {
    command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86 not installed"
    [ -s "$STUB" ] || skip "$STUB not built (make build-check)"
    local d=$BATS_TEST_TMPDIR
    CONSOLE=$d/console.log
    VM_OUT=$CONSOLE # for wait_for's diagnostics
    mkfifo "$d/in"
    HVPATCH_LINUX_BOOT_TOOL=$TOOL HVPATCH_LINUX_QEMU_STUB=$STUB \
        "$QEMU_SH" "$1" "$INITRD" "$d/blobs" "$2" \
        <"$d/in" >"$CONSOLE" 2>&1 3>&- &
    QPID=$!
    exec 7>"$d/in"
}

# qemu_exit: waits for QEMU to stop by itself; QRC is its exit status.
# isa-debug-exit turns a byte V written to its port into exit (V << 1) | 1.
qemu_exit() {
    wait_for "QEMU to exit" 60 eval '! kill -0 $QPID'
    QRC=0
    wait "$QPID" || QRC=$?
    exec 7>&-
    QPID=
}

check_boot_log() {
    grep -q "ACPI: RSDP 0x00000000000E0000 000024 (v02 HVPTCH)" "$CONSOLE"
    grep -q "ACPI: Using ACPI (MADT) for SMP configuration" "$CONSOLE"
    grep -q "smpboot: Allowing 2 CPUs, 0 hotplug CPUs" "$CONSOLE"
    grep -q "smp: Brought up 1 node, 2 CPUs" "$CONSOLE"
    grep -q "ACPI: 1 ACPI AML tables successfully acquired and loaded" "$CONSOLE"
    grep -q "ACPI: PM: (supports S0 S5)" "$CONSOLE"
    # COM1 comes from the DSDT (hardware-reduced: no legacy IRQ mapping)
    grep -qE "ttyS0 at I/O 0x3f8 \(irq = [0-9]+" "$CONSOLE"
    if grep -iE "ACPI (BIOS )?(Error|Warning)|Firmware Bug|Kernel panic" "$CONSOLE"; then
        return 1
    fi
}

@test "QEMU TCG: PVH vmlinux boots to init, 2 CPUs, console I/O, ACPI power-off" {
    qemu_boot "$VMLINUX" ""
    vm_wait_console "hvpatch-initramfs: init reached, $RELEASE, cpus=2" "$BOOT_SECONDS"
    vm_wait_console "hvpatch-guest: ready" 30
    grep -q "Command line: console=ttyS0 pci=off" "$CONSOLE"
    check_boot_log
    # user space reads the console and writes through the UART's IRQ
    printf 'echo hvpatch-io-$((6 * 7))\n' >&7
    vm_wait_console "^hvpatch-io-42" 30
    vm_wait_console "hvpatch-guest: rc=0" 30
    printf 'poweroff -f\n' >&7
    qemu_exit
    grep -q "reboot: Power down" "$CONSOLE"
    # \_S5: (SLP_TYP 5 << 2) | SLP_EN = 0x34 on the sleep control port
    [ "$QRC" -eq $(((0x34 << 1) | 1)) ]
}

@test "QEMU TCG: bzImage 64-bit entry boots to init and reboots via port 0xcf9" {
    qemu_boot "$VMLINUZ" ""
    vm_wait_console "hvpatch-initramfs: init reached, $RELEASE, cpus=2" "$BOOT_SECONDS"
    check_boot_log
    printf 'reboot -f\n' >&7
    qemu_exit
    grep -q "reboot: Restarting system" "$CONSOLE"
    # Linux's BIOS reboot path ends in the reset vector: 0x06 to 0xcf9
    [ "$QRC" -eq $(((0x06 << 1) | 1)) ]
}

@test "QEMU TCG: reboot=acpi resets through the FADT reset register" {
    qemu_boot "$VMLINUX" "reboot=acpi"
    vm_wait_console "hvpatch-guest: ready" "$BOOT_SECONDS"
    printf 'reboot -f\n' >&7
    qemu_exit
    grep -q "reboot: Restarting system" "$CONSOLE"
    [ "$QRC" -eq $(((0x06 << 1) | 1)) ]
}

@test "QEMU TCG: hvpatch.shell gives an interactive console shell, exit powers off" {
    qemu_boot "$VMLINUX" "quiet hvpatch.shell"
    vm_wait_console "hvpatch-initramfs: init reached" "$BOOT_SECONDS"
    printf 'tty; echo hvpatch-shell-$((6 * 7))\n' >&7
    vm_wait_console "^hvpatch-shell-42" 30
    grep -q "^/dev/ttyS0" "$CONSOLE" # a controlling tty: job control works
    printf 'exit\n' >&7
    qemu_exit
    [ "$QRC" -eq $(((0x34 << 1) | 1)) ]
}

@test "kallsyms: the running kernel's symbol table is dumped and matches the vmlinux" {
    command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86 not installed"
    [ -s "$STUB" ] || skip "$STUB not built (make build-check)"
    # a boot under TCG and `cat /proc/kallsyms` the first time, then cached
    run env HVPATCH_LINUX_BOOT_TOOL="$TOOL" HVPATCH_LINUX_QEMU_STUB="$STUB" \
        "$GUEST_SH" kallsyms "$LINUX_DIR"
    echo "$output"
    [ "$status" -eq 0 ]
    local map=$LINUX_DIR/kallsyms
    [ "${lines[${#lines[@]} - 1]}" = "$map" ]
    # System.map format: no module entries, no malformed line
    run grep -Evn '^[0-9a-f]{16} [A-Za-z] [^ 	]+$' "$map"
    [ "$status" -eq 1 ]
    # The kernel ran at its link-time addresses (PVH entry, no KASLR).
    # Bash compares them as signed 64-bit numbers: all are in the top half.
    local text start size stext etext end
    text=$(readelf -SW "$VMLINUX" |
        awk '{for (i = 1; i < NF; i++) if ($i == ".text") print $(i + 2), $(i + 4)}')
    read -r start size <<<"$text"
    stext=$(awk '$2 == "T" && $3 == "_stext" {print $1}' "$map")
    etext=$(awk '$2 == "T" && $3 == "_etext" {print $1}' "$map")
    [ "$stext" = "$start" ]
    end=$((0x$start + 0x$size))
    ((0x$etext > 0x$stext && 0x$etext >= (end & ~4095)))
    ((0x$etext <= ((end + 4095) & ~4095)))
    # Complete: Debian's cloud kernel has ~46,600 text symbols (87,000 in
    # all); a lost stretch of the serial dump would show here.
    local ntext=$(grep -c ' [tTwW] ' "$map")
    echo "text symbols: $ntext"
    ((ntext > 40000))
}
