#!/usr/bin/env bash
# bench_klp.sh: the comparison point for `hvpatch apply`: Linux's own
# livepatch, done inside the guest. Debian's cloud kernel boots under
# QEMU's TCG with 2 vCPUs (tests/lib/linux-qemu.sh; kvm_pvm cannot run
# its user space) from the initramfs-klp image (tests/lib/linux-guest.sh),
# and the guest (tests/bench/bench_klp_guest.sh) loads tests/linux/
# klp_cmdline.ko, waits for the transition to end, checks /proc/cmdline,
# disables the patch, waits again and removes the module, BENCH_KLP_CYCLES
# times in one boot, timing each step with its own clock. Prints median and
# p99 of each step. Benchmarks report, they never fail on a number.
#
# Usage: tests/bench/bench_klp.sh [--rows]
#   --rows   print only the table rows, for tests/bench/bench.sh to append
# Environment: BENCH_KLP_CYCLES (10) insmod/rmmod cycles;
#   BENCH_KLP_RESULT: a file to write the results to as KEY=VALUE lines
#   (times in ms), for a caller to ratio against: klp_enable_ms_median is
#   insmod -> transition over, the whole apply.
set -euo pipefail
cd "$(dirname "$0")/../.."
cycles=${BENCH_KLP_CYCLES:-10}
dir=${HVPATCH_LINUX_DIR:-$PWD/build/linux}
boot_limit=300 # seconds to the guest's prompt (a few seen under TCG)
rows_only=0
[ "${1:-}" = --rows ] && rows_only=1

row() { printf '| %-44s | %10s | %10s | %-10s |\n' "$@"; }
skipped() {
    row "in-guest livepatch: SKIPPED ($1)" - - -
    exit 0
}

# shellcheck source=bench_lib.sh
source tests/bench/bench_lib.sh

command -v qemu-system-x86_64 >/dev/null || skipped "qemu-system-x86 not installed"
for f in "${HVPATCH_LINUX_BOOT_TOOL:-build/tests/linux_boot_tool}" \
    "${HVPATCH_LINUX_QEMU_STUB:-build/tests/linux_qemu_stub.bin}"; do
    [ -s "$f" ] || skipped "$f not built (make $f)"
done
if ! vmlinux=$(tests/lib/linux-guest.sh vmlinux "$dir" 2>"$tmp/fetch.err"); then
    skipped "no kernel: $(tail -n 1 "$tmp/fetch.err")"
fi
if ! initrd=$(tests/lib/linux-guest.sh initramfs-klp "$dir" 2>"$tmp/klp.err"); then
    skipped "no module: $(tail -n 1 "$tmp/klp.err")"
fi

failed() {
    echo "bench_klp: $1; console:" >&2
    tail -n 20 "$CONSOLE" | tr -d '\r' | sed 's/^/  /' >&2
    row "in-guest livepatch: failed ($1)" - - -
    exit 0
}

# tsc=reliable: under TCG Linux finds the vCPUs' TSCs unsynchronized and
# falls back to the jiffies clocksource, whose 4 ms steps are too coarse for
# insmod; TCG's TSC is the host's, read by both vCPU threads.
t_boot=$SECONDS
CONSOLE=$tmp/console.log
mkfifo "$tmp/in"
tests/lib/linux-qemu.sh "$vmlinux" "$initrd" "$tmp/blobs" tsc=reliable \
    <"$tmp/in" >"$CONSOLE" 2>&1 &
pid=$! # QEMU's (the script execs it); bench_lib.sh stops it at exit
exec 7>"$tmp/in"
until grep -aq '^hvpatch-guest: ready' "$CONSOLE"; do
    kill -0 "$pid" 2>/dev/null || failed "QEMU stopped during boot"
    ((SECONDS - t_boot < boot_limit)) || failed "no prompt after ${boot_limit}s"
    sleep 0.2
done
boot_s=$((SECONDS - t_boot))

# The guest script travels over the console as one line (a canonical tty
# line holds 4095 bytes).
script=$(gzip -9n <tests/bench/bench_klp_guest.sh | base64 -w0)
guest_run 60 "echo $script | base64 -d | gunzip >/tmp/klp.sh" ||
    failed "copying the guest script failed"
t_cycles=$(date +%s%N)
guest_run $((60 + 60 * cycles)) "sh /tmp/klp.sh $cycles" ||
    failed "the livepatch cycles failed"
cycles_ms=$((($(date +%s%N) - t_cycles) / 1000000))
done_line=$(tr -d '\r' <"$CONSOLE" | grep -a '^hvpatch-klp: done ')
tainted=$(sed -n 's/.* tainted=\([0-9]*\).*/\1/p' <<<"$done_line")
# The guest's clock against the host's, over all cycles: the host's figure
# adds only the command's round trip over the console.
guest_ms=$(sed -n 's/.* total_ns=\([0-9]*\).*/\1/p' <<<"$done_line")
guest_ms=$((guest_ms / 1000000))
printf 'poweroff\n' >&7
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done

tr -d '\r' <"$CONSOLE" | sed -n 's/^hvpatch-klp: cycle=[0-9]* insmod_ns=\([0-9]*\) enable_ns=\([0-9]*\) disable_ns=\([0-9]*\) rmmod_ns=\([0-9]*\)$/\1 \2 \3 \4/p' >"$tmp/cycles"
n=$(wc -l <"$tmp/cycles")
[ "$n" -gt 0 ] || failed "no cycle reported"
# ms COLUMN P: the P-th percentile of a column, in ms.
ms() { cut -d' ' -f"$1" "$tmp/cycles" | pct "$2" | awk '{printf "%.2f", $1 / 1e6}'; }

if [ -n "${BENCH_KLP_RESULT:-}" ]; then
    {
        echo "klp_cycles=$n"
        echo "klp_insmod_ms_median=$(ms 1 50)"
        echo "klp_insmod_ms_p99=$(ms 1 99)"
        echo "klp_enable_ms_median=$(ms 2 50)"
        echo "klp_enable_ms_p99=$(ms 2 99)"
        echo "klp_disable_ms_median=$(ms 3 50)"
        echo "klp_disable_ms_p99=$(ms 3 99)"
        echo "klp_rmmod_ms_median=$(ms 4 50)"
        echo "klp_boot_s=$boot_s"
        echo "klp_cycles_guest_ms=$guest_ms"
        echo "klp_cycles_host_ms=$cycles_ms"
        echo "klp_tainted=$tainted"
    } >"$BENCH_KLP_RESULT"
fi
if [ $rows_only = 0 ]; then
    echo "In-guest livepatch, $(cat "$dir/release"), QEMU TCG, 2 vCPUs: boot to" \
        "prompt ${boot_s} s; $n cycles: ${guest_ms} ms on the guest's clock," \
        "${cycles_ms} ms on the host's; taint $tainted (unsigned module)"
fi
row "in-guest livepatch, TCG: enable (n=$n)" "$(ms 2 50) ms" "$(ms 2 99) ms" -
row "  insmod returns" "$(ms 1 50) ms" "$(ms 1 99) ms" -
row "  disable -> transition over" "$(ms 3 50) ms" "$(ms 3 99) ms" -
if [ $rows_only = 0 ]; then
    echo "klp_enable_ms_median=$(ms 2 50)"
fi
