#!/usr/bin/env bash
# bench_linux_patch.sh: `hvpatch apply` and `revert` of a Linux kernel
# function (HP-LINUX-0002: cmdline_proc_show, the change the in-guest
# livepatch benchmark makes) on Debian's running kernel under `hvpatch run`
# with its swtpm, trust store and audit log, end to end as the client
# sees it; and the ratio against in-guest livepatch (insmod -> transition
# done, tests/bench/bench_klp.sh, measured in the same `make bench`).
#
# On kvm_pvm the kernel never reaches init: the text is locked once ftrace
# has rewritten its entry sites ("ftrace: allocated"), and the patches go
# into the kernel as it goes on booting. On VT-x and AMD-V the initramfs
# asks for the lock. Benchmarks report, they never fail on a number.
#
# Usage: tests/bench/bench_linux_patch.sh [--rows]
# Environment: BENCH_LINUX_APPLIES (20) apply/revert cycles;
#              BENCH_KLP_RESULT: bench_klp.sh's KEY=VALUE results, if any.
set -euo pipefail
cd "$(dirname "$0")/../.."
HVPATCH=${HVPATCH:-$PWD/build/hvpatch}
cycles=${BENCH_LINUX_APPLIES:-20}
dir=${HVPATCH_LINUX_DIR:-$PWD/build/linux}
patch=tests/linux/patches/hp-linux-cmdline/patch.json

row() { printf '| %-44s | %10s | %10s | %-10s |\n' "$@"; }

flavour=$(tests/lib/kvm-info.sh --flavour)
if ! vmlinux=$(tests/lib/linux-guest.sh vmlinux "$dir" 2>/dev/null) ||
    ! initrd=$(tests/lib/linux-guest.sh initramfs "$dir" 2>/dev/null) ||
    ! tests/lib/linux-guest.sh kallsyms "$dir" >/dev/null 2>&1; then
    row "hvpatch apply, Linux kernel function" skipped - "no kernel"
    exit 0
fi

# shellcheck source=bench_lib.sh
source tests/bench/bench_lib.sh

"$HVPATCH" keygen "$tmp/keys" >/dev/null
"$HVPATCH" build "$patch" --image "$vmlinux" --symbols "$dir/kallsyms" \
    -o "$tmp/p.hvp" >/dev/null
"$HVPATCH" sign "$tmp/p.hvp" --keys "$tmp/keys" -o "$tmp/p.signed" >/dev/null

# wait_line SECONDS PATTERN: waits for PATTERN on the console.
wait_line() {
    local end=$((SECONDS + $1))
    until grep -qE "$2" "$tmp/console"; do
        ((SECONDS < end)) && kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.2
    done
}

"$HVPATCH" run --kernel "$vmlinux" --initrd "$initrd" --control "$tmp/s" \
    --trust "$tmp/keys/trust" --audit-log "$tmp/audit.jsonl" \
    --append "console=ttyS0 earlycon=uart8250,io,0x3f8 pci=off 8250.nr_uarts=1 hvpatch.lock" \
    </dev/null >"$tmp/console" 2>"$tmp/monitor" &
pid=$!
if [ "$flavour" = kvm_pvm ]; then
    wait_line 300 "ftrace: allocated" &&
        "$HVPATCH" lock --vm "$tmp/s" >/dev/null
else
    wait_line 120 "hvpatch-initramfs: text lock requested" && sleep 1
fi || {
    row "hvpatch apply, Linux kernel function" failed - "no lock"
    exit 0
}
for _ in $(seq "$cycles"); do
    "$HVPATCH" apply --json --vm "$tmp/s" "$tmp/p.signed" >>"$tmp/apply"
    "$HVPATCH" revert --json --vm "$tmp/s" HP-LINUX-0002 >>"$tmp/revert"
done
"$HVPATCH" quit --vm "$tmp/s" >/dev/null 2>&1 || true
wait "$pid" || true
pid=

ms() { jq -r "$1" "$2" | pct "$3" | awk '{printf "%.2f", $1/1e6}'; }
us() { jq -r "$1" "$2" | pct "$3" | awk '{printf "%.1f", $1/1e3}'; }
pvm=
[ "$flavour" = kvm_pvm ] && pvm=" (PVM)"
apply_med=$(ms .time_ns.total "$tmp/apply" 50)
row "hvpatch apply, Linux cmdline_proc_show$pvm (n=$cycles)" \
    "$apply_med ms" "$(ms .time_ns.total "$tmp/apply" 99) ms" "-"
row "  guest-visible pause" "$(us .pause_ns "$tmp/apply" 50) us" \
    "$(us .pause_ns "$tmp/apply" 99) us" "-"
row "hvpatch revert, same function (n=$cycles)" \
    "$(ms .time_ns.total "$tmp/revert" 50) ms" \
    "$(ms .time_ns.total "$tmp/revert" 99) ms" "-"
klp=
if [ -s "${BENCH_KLP_RESULT:-}" ]; then
    klp=$(sed -n 's/^klp_enable_ms_median=//p' "$BENCH_KLP_RESULT")
fi
if [ -n "$klp" ]; then
    row "in-guest livepatch / hvpatch apply (medians)" \
        "$(awk -v a="$klp" -v b="$apply_med" 'BEGIN {printf "%.0fx", a / b}')" \
        - ">= 10x"
fi
