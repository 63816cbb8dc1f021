#!/usr/bin/env bash
# bench_before.sh: the patch path against the tree before the re-cut of
# issue 14, measured in the same run on the same machine: the guest-visible
# pause per apply (2 busy vCPUs), `hvpatch apply` end to end (signature,
# chain, PCR extend, NV, fsync'd audit), and the monitor's RSS without guest
# memory. Each side builds, signs and applies its own packages (the demo
# image, and so the baseline, differs between the trees) with its own
# swtpm, trust store and audit log. Benchmarks report, they never fail on
# a number.
#
# Environment: BENCH_BASE (4083368, the last commit before the re-cut),
#              BENCH_CMP_APPLIES (200) apply/revert cycles per side.
# Usage: tests/bench/bench_before.sh [--rows]
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench_lib.sh
source tests/bench/bench_lib.sh
base=${BENCH_BASE:-4083368}
cycles=${BENCH_CMP_APPLIES:-200}
row() { printf '| %-44s | %10s | %10s | %-10s |\n' "$@"; }
[ "${1:-}" = --rows ] || echo "hvpatch bench: this tree against $base"

# build_base: the base commit's build/hvpatch, built once into
# build/bench-base (its own tree and build directory).
build_base() {
    local dir=build/bench-base
    if [ "$(cat "$dir/commit" 2>/dev/null)" = "$base" ] &&
        [ -x "$dir/src/build/hvpatch" ]; then
        return 0
    fi
    git rev-parse -q --verify "$base^{commit}" >/dev/null || return 1
    rm -rf "$dir"
    mkdir -p "$dir/src"
    git archive "$base" | tar -x -C "$dir/src"
    make -C "$dir/src" -j"$(nproc)" build/hvpatch >"$dir/build.log" 2>&1 || return 1
    echo "$base" >"$dir/commit"
}

# measure SIDE ROOT: ROOT's hvpatch applies and reverts its own build of
# HP-2026-0002 (the user-library fix) $cycles times; the apply replies go
# to $tmp/SIDE.apply, the monitor's RSS (KiB) to $tmp/SIDE.rss.
measure() {
    local side=$1 root=$2 bin=$2/build/hvpatch d=$tmp/$1 i
    mkdir -p "$d"
    "$bin" keygen "$d/keys" >/dev/null
    jq ".target.image = \"$root/build/guest/demo.elf\" |
        .code.sources = [\"$root/guest/patches/HP-2026-0002.c\"] |
        .code.cflags = [\"-I$root\"]" "$root/guest/patches/HP-2026-0002.json" >"$d/u.json"
    "$bin" build "$d/u.json" -o "$d/u.hvp" >/dev/null
    "$bin" sign "$d/u.hvp" --keys "$d/keys" -o "$d/u.signed" >/dev/null
    "$bin" run --control "$d/s" --trust "$d/keys/trust" --audit-log "$d/audit.jsonl" \
        </dev/null >/dev/null 2>"$d/err" &
    pid=$!
    for _ in $(seq 500); do [ -S "$d/s" ] && break; sleep 0.01; done
    sleep 0.5
    for i in $(seq "$cycles"); do
        "$bin" apply --json --vm "$d/s" "$d/u.signed" >>"$tmp/$side.apply"
        "$bin" revert --json --vm "$d/s" HP-2026-0002 >/dev/null
    done
    "$bin" status --vm "$d/s" --json | jq .memory.monitor_kib >"$tmp/$side.rss"
    "$bin" quit --vm "$d/s" >/dev/null
    wait "$pid" || true
}

if ! build_base; then
    row "before/after ($base): SKIPPED (cannot build it)" - - -
    exit 0
fi
measure before "$PWD/build/bench-base/src"
measure after "$PWD"
us() { jq -r .pause_ns "$1" | pct "$2" | awk '{printf "%.1f us", $1/1e3}'; }
ms() { jq -r .time_ns.total "$1" | pct "$2" | awk '{printf "%.2f ms", $1/1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f x", a / b}'; }
med() { jq -r "$1" "$2" | pct 50; }
b=$tmp/before.apply a=$tmp/after.apply
row "apply pause, $base (n=$cycles)" "$(us "$b" 50)" "$(us "$b" 99)" -
row "apply pause, this tree (n=$cycles)" "$(us "$a" 50)" "$(us "$a" 99)" "< 20 us"
row "  ratio $base / this tree (medians)" \
    "$(ratio "$(med .pause_ns "$b")" "$(med .pause_ns "$a")")" - -
row "apply end to end, $base (n=$cycles)" "$(ms "$b" 50)" "$(ms "$b" 99)" -
row "apply end to end, this tree (n=$cycles)" "$(ms "$a" 50)" "$(ms "$a" 99)" "< 5 ms"
row "  ratio $base / this tree (medians)" \
    "$(ratio "$(med .time_ns.total "$b")" "$(med .time_ns.total "$a")")" - -
row "monitor RSS, $base" "$(cat "$tmp/before.rss") KiB" - -
row "monitor RSS, this tree" "$(cat "$tmp/after.rss") KiB" - "< 4 MiB"
row "  ratio $base / this tree" \
    "$(ratio "$(cat "$tmp/before.rss")" "$(cat "$tmp/after.rss")")" - -
