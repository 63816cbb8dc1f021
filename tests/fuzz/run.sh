#!/usr/bin/env bash
# tests/fuzz/run.sh: run each libFuzzer target for FUZZ_SECONDS from its seed
# corpus (tests/fuzz/seeds/<name>/). With --tap, print one TAP line per target.
# Usage: tests/fuzz/run.sh [--tap] [TARGET...]   (default: every built target)
set -u
cd "$(dirname "$0")/../.." || exit 2
tap=0
[ "${1:-}" = --tap ] && { tap=1; shift; }
secs=${FUZZ_SECONDS:-60}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for b in build/fuzz/fuzz_*; do [ -x "$b" ] && targets+=("${b##*/fuzz_}"); done
fi
[ $tap -eq 1 ] && echo "1..${#targets[@]}"
n=0 bad=0
for t in "${targets[@]}"; do
    n=$((n + 1))
    bin=build/fuzz/fuzz_$t
    corpus=build/fuzz/corpus-$t
    mkdir -p "$corpus"
    seeds=tests/fuzz/seeds/$t
    [ -d "$seeds" ] || seeds=
    log=build/fuzz/$t.log
    if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix=build/fuzz/ "$corpus" $seeds \
        >"$log" 2>&1; then
        runs=$(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
        [ $tap -eq 1 ] && echo "ok $n - fuzz_$t: ${runs:-?} runs in ${secs}s, no crash, no leak"
        [ $tap -eq 1 ] || echo "fuzz_$t: ${runs:-?} runs in ${secs}s, no crash, no leak"
    else
        bad=$((bad + 1))
        [ $tap -eq 1 ] && echo "not ok $n - fuzz_$t: crash or leak, see $log"
        [ $tap -eq 1 ] || echo "fuzz_$t: FAILED, see $log"
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/# /'
    fi
done
[ $bad -eq 0 ]
