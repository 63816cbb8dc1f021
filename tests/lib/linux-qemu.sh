#!/bin/sh
# linux-qemu.sh: boot a Linux kernel on the boot protocol library's output
# under QEMU's TCG, console on stdin/stdout, for tests that need a real
# kernel to reach user space (kvm_pvm cannot run a stock kernel's ring 0).
#
# Usage: tests/lib/linux-qemu.sh KERNEL INITRD BLOBDIR [APPEND]
#
# linux_boot_tool lays out guest memory with fw_linux_setup() (2 CPUs,
# 256 MiB) and writes it to BLOBDIR as QEMU loader blobs;
# linux_qemu_stub.bin, QEMU's firmware, enters KERNEL (PVH vmlinux or
# bzImage) in the state fw_linux_cpu_state() gives. The kernel's command
# line is "console=ttyS0 pci=off 8250.nr_uarts=1 tsc_early_khz=<host> "
# followed by APPEND. The script then execs QEMU, so a caller's $! is
# QEMU's pid and the exit status is QEMU's: isa-debug-exit turns a byte V
# written to port 0x600 (ACPI power-off: 0x34) or 0xcf9 (reset: 0x06)
# into exit status (V << 1) | 1.
#
# $HVPATCH_LINUX_BOOT_TOOL and $HVPATCH_LINUX_QEMU_STUB override the
# repository's build/tests/linux_boot_tool and build/tests/linux_qemu_stub.bin
# (make build/tests/linux_boot_tool build/tests/linux_qemu_stub.bin).
set -eu

die() {
    echo "linux-qemu.sh: $*" >&2
    exit 1
}

[ $# -eq 3 ] || [ $# -eq 4 ] ||
    die "usage: linux-qemu.sh KERNEL INITRD BLOBDIR [APPEND]"
kernel=$1 initrd=$2 blobs=$3 append=${4:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
tool=${HVPATCH_LINUX_BOOT_TOOL:-$root/build/tests/linux_boot_tool}
stub=${HVPATCH_LINUX_QEMU_STUB:-$root/build/tests/linux_qemu_stub.bin}
[ -x "$tool" ] || die "$tool not built (make build/tests/linux_boot_tool)"
[ -s "$stub" ] || die "$stub not built (make build/tests/linux_qemu_stub.bin)"
command -v qemu-system-x86_64 >/dev/null ||
    die "qemu-system-x86_64 not installed (Debian package qemu-system-x86)"

# TCG's TSC runs at the host's rate; without kvmclock, HPET or a PM timer
# Linux cannot measure it (a hardware-reduced platform).
khz=$(awk '/^cpu MHz/ {printf "%d", $4 * 1000; exit}' /proc/cpuinfo)
mkdir -p "$blobs"
"$tool" qemu "$kernel" "$blobs" --initrd "$initrd" --mem 256 --cpus 2 \
    --append "console=ttyS0 pci=off 8250.nr_uarts=1 tsc_early_khz=${khz:-2000000} $append" \
    >"$blobs/args" || die "linux_boot_tool qemu $kernel failed"
# One QEMU -device argument per line (paths without newlines).
set --
while IFS= read -r arg; do
    set -- "$@" "$arg"
done <"$blobs/args"
exec qemu-system-x86_64 \
    -M microvm,x-option-roms=off,isa-serial=on,pit=on,pic=on,rtc=on,acpi=off \
    -accel tcg -cpu max -m 256M -smp 2 -nodefaults -nographic -no-reboot \
    -bios "$stub" -serial stdio \
    -device isa-debug-exit,iobase=0x600,iosize=1 \
    -device isa-debug-exit,iobase=0xcf9,iosize=1 \
    "$@"
