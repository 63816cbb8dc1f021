#!/usr/bin/env bash
# bench_lab.sh: the benchmark rows that need hardware virtualization, for
# `make bench`, which runs this inside the emulated AMD-V lab host
# (tests/lib/labhost.sh with LABHOST_BENCH=1); on a VT-x or AMD-V machine it
# runs as it is. Side by side, in one run, on the same KVM:
#
#  1. Debian's kernel, start -> the initramfs's init marker, under
#     `hvpatch run --no-tpm` and under `qemu-system-x86_64 -M microvm
#     -enable-kvm`: same kernel, initramfs, command line, 2 vCPUs, 256 MiB
#     (tests/bench/bench_linux.sh), and the ratio.
#  2. In one guest under `hvpatch run` (swtpm, trust store, audit log):
#     the kernel's own livepatch, tests/linux/klp_cmdline.ko, insmod ->
#     transition done (tests/bench/bench_klp_guest.sh, the guest's clock),
#     BENCH_KLP_CYCLES times; then the text lock, and `hvpatch apply` of
#     the same change (HP-LINUX-0002, cmdline_proc_show) and its revert,
#     BENCH_LINUX_APPLIES times; and the ratio of the medians.
#
# Absolute times inside an emulator mean little: the ratios are the result.
# Benchmarks report, they never fail on a number.
#
# Usage: tests/bench/bench_lab.sh [--rows]
set -euo pipefail
cd "$(dirname "$0")/../.."
HVPATCH=${HVPATCH:-$PWD/build/hvpatch}
dir=${HVPATCH_LINUX_DIR:-$PWD/build/linux}
klp_cycles=${BENCH_KLP_CYCLES:-10}
applies=${BENCH_LINUX_APPLIES:-20}
pk=build/test-packages/linux
rows_only=0
[ "${1:-}" = --rows ] && rows_only=1

row() { printf '| %-44s | %10s | %10s | %-10s |\n' "$@"; }
flavour=$(tests/lib/kvm-info.sh --flavour)
[ $rows_only = 1 ] || echo "hvpatch lab bench: $flavour, $(nproc) CPUs"
if [ "$flavour" = kvm_pvm ] || [ "$flavour" = none ]; then
    row "lab rows: SKIPPED (needs VT-x or AMD-V; $flavour)" - - -
    exit 0
fi

# 1. boot to init, hvpatch against QEMU microvm
BENCH_LINUX_MARKER=init tests/bench/bench_linux.sh --rows ||
    row "Linux start -> init: failed" - - -

# 2. in-guest livepatch against hvpatch apply, one guest
# shellcheck source=bench_lib.sh
source tests/bench/bench_lib.sh
failed() {
    echo "bench_lab: $1; console:" >&2
    tail -n 20 "$CONSOLE" | tr -d '\r' | sed 's/^/  /' >&2
    row "in-guest livepatch vs apply: failed ($1)" - - -
    exit 0
}
vmlinux=$dir/vmlinux
initrd=$dir/initramfs-klp.cpio.gz
[ -s "$initrd" ] || { row "in-guest livepatch: SKIPPED (no $initrd)" - - -; exit 0; }
tests/lib/test-packages.sh build/test-packages linux >/dev/null
CONSOLE=$tmp/console
mkfifo "$tmp/in"
"$HVPATCH" run --kernel "$vmlinux" --initrd "$initrd" --control "$tmp/s" \
    --trust "$pk/keys/trust" --audit-log "$tmp/audit.jsonl" \
    <"$tmp/in" >"$CONSOLE" 2>"$tmp/monitor" &
pid=$!
exec 7>"$tmp/in"
t0=$SECONDS
until grep -aq '^hvpatch-guest: ready' "$CONSOLE"; do
    kill -0 "$pid" 2>/dev/null || failed "hvpatch run stopped during boot"
    ((SECONDS - t0 < 900)) || failed "no prompt after 900 s"
    sleep 0.2
done
script=$(gzip -9n <tests/bench/bench_klp_guest.sh | base64 -w0)
guest_run 120 "echo $script | base64 -d | gunzip >/tmp/klp.sh" ||
    failed "copying the guest script failed"
guest_run $((120 + 120 * klp_cycles)) "sh /tmp/klp.sh $klp_cycles" ||
    failed "the livepatch cycles failed"
tr -d '\r' <"$CONSOLE" | sed -n 's/^hvpatch-klp: cycle=[0-9]* insmod_ns=[0-9]* enable_ns=\([0-9]*\) .*$/\1/p' >"$tmp/klp"
[ -s "$tmp/klp" ] || failed "no livepatch cycle reported"
# the livepatch is gone (disabled, module removed): lock, then hvpatch
"$HVPATCH" lock --vm "$tmp/s" >/dev/null || failed "text lock refused"
for _ in $(seq "$applies"); do
    "$HVPATCH" apply --json --vm "$tmp/s" "$pk/cmdline.signed" >>"$tmp/apply" ||
        failed "apply refused"
    "$HVPATCH" revert --json --vm "$tmp/s" HP-LINUX-0002 >>"$tmp/revert" ||
        failed "revert refused"
done
"$HVPATCH" quit --vm "$tmp/s" >/dev/null 2>&1 || true
wait "$pid" || true
pid=

ms() { pct "$1" | awk '{printf "%.2f", $1/1e6}'; }
klp_med=$(ms 50 <"$tmp/klp")
apply_med=$(jq -r .time_ns.total "$tmp/apply" | ms 50)
row "in-guest livepatch: insmod -> done (n=$(wc -l <"$tmp/klp"))" \
    "$klp_med ms" "$(ms 99 <"$tmp/klp") ms" -
row "hvpatch apply, same guest and change (n=$applies)" "$apply_med ms" \
    "$(jq -r .time_ns.total "$tmp/apply" | ms 99) ms" -
row "  guest-visible pause" \
    "$(jq -r .pause_ns "$tmp/apply" | pct 50 | awk '{printf "%.1f", $1/1e3}') us" \
    "$(jq -r .pause_ns "$tmp/apply" | pct 99 | awk '{printf "%.1f", $1/1e3}') us" -
row "hvpatch revert (n=$applies)" "$(jq -r .time_ns.total "$tmp/revert" | ms 50) ms" \
    "$(jq -r .time_ns.total "$tmp/revert" | ms 99) ms" -
row "  ratio livepatch / hvpatch apply (medians)" \
    "$(awk -v a="$klp_med" -v b="$apply_med" 'BEGIN {printf "%.0f x", a / b}')" - ">= 100 x"
