#!/usr/bin/env bash
# bench_apply.sh: the guest-visible pause of apply and revert on the demo
# guest, both vCPUs busy in the patched user library (guest/workload.c
# runs a workload loop on every vCPU): median and p99 against the 20 us
# aim, and the part spent taking the vCPUs out of guest mode.
#   BENCH_APPLIES (1000) apply/revert cycles. --rows: table rows only.
set -euo pipefail
cd "$(dirname "$0")/../.."
HVPATCH=${HVPATCH:-$PWD/build/hvpatch}
applies=${BENCH_APPLIES:-1000}
# shellcheck source=bench_lib.sh
source tests/bench/bench_lib.sh

"$HVPATCH" keygen "$tmp/keys" >/dev/null
"$HVPATCH" build guest/patches/HP-2026-0002.json -o "$tmp/u.hvp" >/dev/null
"$HVPATCH" sign "$tmp/u.hvp" --keys "$tmp/keys" -o "$tmp/u.signed" >/dev/null
"$HVPATCH" run --control "$tmp/s" --trust "$tmp/keys/trust" \
    --audit-log "$tmp/audit.jsonl" </dev/null >/dev/null 2>"$tmp/err" &
pid=$!
for _ in $(seq 200); do [ -S "$tmp/s" ] && break; sleep 0.01; done
sleep 0.5 # both workloads running
for _ in $(seq "$applies"); do
    "$HVPATCH" apply --json --vm "$tmp/s" "$tmp/u.signed" >>"$tmp/ops"
    "$HVPATCH" revert --json --vm "$tmp/s" HP-2026-0002 >>"$tmp/ops"
done
"$HVPATCH" quit --vm "$tmp/s" >/dev/null
wait "$pid" || true
pid=

us() { jq "$1" "$tmp/ops" | pct "$2" | awk '{printf "%.1f", $1/1000}'; }
row() { # LABEL JQ-FIELD AIM
    printf '| %-44s | %7s us | %7s us | %-10s |\n' "$1" "$(us "$2" 50)" \
        "$(us "$2" 99)" "$3"
}
if [ "${1:-}" != --rows ]; then
    printf '| %-44s | %10s | %10s | %-10s |\n' metric median p99 aim
fi
row "apply/revert: guest-visible pause (n=$((2 * applies)))" .pause_ns "< 20 us"
row "  of which the vCPUs leaving guest mode" .pause_vcpus_ns -
printf '| %-44s | %10s | %10s | %-10s |\n' "  tries per write" \
    "$(jq .tries "$tmp/ops" | pct 50)" "$(jq .tries "$tmp/ops" | pct 99)" -
