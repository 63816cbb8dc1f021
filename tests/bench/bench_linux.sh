#!/usr/bin/env bash
# bench_linux.sh: Linux guest start-up: wall-clock time from launching the
# VMM to the kernel's first console line ("Linux version ..."), for
# Debian's cloud kernel (its PVH vmlinux and the busybox initramfs,
# tests/lib/linux-guest.sh, cached in build/linux) under `hvpatch run
# --no-tpm` and under `qemu-system-x86_64 -M microvm -enable-kvm`, same
# kernel, initrd, command line, RAM and vCPUs; median of a few runs each,
# and their ratio. Both print from earlycon, so the line appears as soon
# as the kernel parses its command line (a full boot to init is not
# possible on kvm_pvm). Benchmarks report, they never fail on a number.
#
# With BENCH_LINUX_MARKER=init (tests/bench/bench_lab.sh, on VT-x or
# AMD-V) the line is the initramfs's "hvpatch-initramfs: init reached"
# instead: start -> init.
#
# Usage: tests/bench/bench_linux.sh [--rows]
#   --rows   print only the table rows, for tests/bench/bench.sh to append
# Environment: BENCH_LINUX_BOOTS (3) runs of each VMM.
set -euo pipefail
cd "$(dirname "$0")/../.."
HVPATCH=${HVPATCH:-$PWD/build/hvpatch}
runs=${BENCH_LINUX_BOOTS:-3}
dir=${HVPATCH_LINUX_DIR:-$PWD/build/linux}
limit_ms=300000 # give up on one boot after 5 minutes
rows_only=0
[ "${1:-}" = --rows ] && rows_only=1

row() { printf '| %-44s | %10s | %10s | %-10s |\n' "$@"; }

flavour=$(tests/lib/kvm-info.sh --flavour)
pvm=
[ "$flavour" = kvm_pvm ] && pvm=" (PVM)"

if ! vmlinux=$(tests/lib/linux-guest.sh vmlinux "$dir" 2>/dev/null) ||
    ! initrd=$(tests/lib/linux-guest.sh initramfs "$dir" 2>/dev/null); then
    row "Linux start -> first console line" skipped - "no kernel"
    exit 0
fi
append="console=ttyS0 earlycon=uart8250,io,0x3f8 pci=off 8250.nr_uarts=1"
marker="Linux version" what="first console line"
if [ "${BENCH_LINUX_MARKER:-}" = init ]; then
    marker="hvpatch-initramfs: init reached" what="init"
fi
# QEMU gets what hvpatch does on kvm_pvm by itself: CPUID without what
# KVM's emulator lacks (and no ARCH_CAPABILITIES MSR, which QEMU cannot
# set there), and noxsave.
qemu_cpu=host
if [ "$flavour" = kvm_pvm ]; then
    qemu_cpu=host,-xsave,-cx16,-popcnt,-arch-capabilities
    append="$append noxsave"
fi

# shellcheck source=bench_lib.sh
source tests/bench/bench_lib.sh

# first_line OUT CMD...: runs CMD, appends the milliseconds from its
# launch to the first $marker on its output to OUT, stops it.
first_line() {
    local out=$1 t0 t1
    shift
    t0=$(date +%s%N)
    "$@" </dev/null >"$tmp/console" 2>&1 &
    pid=$!
    while ! grep -q "$marker" "$tmp/console"; do
        kill -0 "$pid" 2>/dev/null || break
        (($(date +%s%N) - t0 < limit_ms * 1000000)) || break
        sleep 0.02
    done
    t1=$(date +%s%N)
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
    if grep -q "$marker" "$tmp/console"; then
        echo $(((t1 - t0) / 1000000)) >>"$out"
    fi
}

: >"$tmp/hv"
: >"$tmp/qemu"
for _ in $(seq "$runs"); do
    first_line "$tmp/hv" "$HVPATCH" run --no-tpm --kernel "$vmlinux" \
        --initrd "$initrd" --append "$append"
done
qemu_note=
if command -v qemu-system-x86_64 >/dev/null; then
    for _ in $(seq "$runs"); do
        first_line "$tmp/qemu" qemu-system-x86_64 -M microvm -enable-kvm \
            -cpu "$qemu_cpu" -m 256M -smp 2 -nodefaults -nographic \
            -no-reboot -serial stdio -kernel "$vmlinux" -initrd "$initrd" \
            -append "$append"
    done
else
    qemu_note="not installed"
fi

hv=$(pct 50 <"$tmp/hv")
qemu=$(pct 50 <"$tmp/qemu")
if [ $rows_only = 0 ]; then
    echo "Linux start -> $what, $(cat "$dir/release"), $flavour"
    [ -n "$pvm" ] && echo "(kvm_pvm: guest ring 0 is emulated; these are PVM figures)"
fi
row "Linux: start -> $what$pvm, $flavour" "${hv:-failed} ms" - "n=$(wc -l <"$tmp/hv")"
row "  QEMU microvm -enable-kvm$pvm" "${qemu:-${qemu_note:-failed}} ms" - "n=$(wc -l <"$tmp/qemu")"
if [ -n "$hv" ] && [ -n "$qemu" ]; then
    row "  ratio hvpatch / QEMU microvm" "$(awk -v a="$hv" -v b="$qemu" 'BEGIN {printf "%.2f x", a / b}')" - "<= 0.7"
fi
