#!/usr/bin/env bash
# bench.sh: `make bench`: measure the monitor and print one table.
# Benchmarks report, they never fail on a number. Environment:
#   BENCH_BOOTS (20) boots for start-up time, BENCH_PAUSES (1000) pauses,
#   BENCH_APPLIES (1000) apply/revert cycles, BENCH_NEW_SEQ (20) applies
#   of rising sequence.
#   BENCH_LINUX_BOOTS (3) Linux boots per VMM (tests/bench/bench_linux.sh).
#   BENCH_KLP_CYCLES (10) in-guest livepatch cycles (tests/bench/bench_klp.sh).
#   BENCH_LINUX_APPLIES (20) Linux apply/revert cycles
#                         (tests/bench/bench_linux_patch.sh).
#   BENCH_BASE (4083368), BENCH_CMP_APPLIES (200): the tree the patch path
#                         is compared with (tests/bench/bench_before.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
HVPATCH=${HVPATCH:-$PWD/build/hvpatch}
boots=${BENCH_BOOTS:-20}
pauses=${BENCH_PAUSES:-1000}
# shellcheck source=bench_lib.sh
source tests/bench/bench_lib.sh

start_vm() {
    "$HVPATCH" run --control "$tmp/s" "$@" </dev/null >/dev/null 2>"$tmp/err" &
    pid=$!
    for _ in $(seq 200); do [ -S "$tmp/s" ] && break; sleep 0.01; done
}
status() { "$HVPATCH" status --vm "$tmp/s" --json; }
stop_vm() { "$HVPATCH" quit --vm "$tmp/s" >/dev/null; wait "$pid" || true; pid=; }

# 1. start -> first heartbeat from every vCPU (monitor's own clock, from
#    the start of `hvpatch run` to the last vCPU's first heartbeat), with
#    the VM's own swtpm and measured boot, and without a TPM.
first_heartbeats() { # OUT [run options]
    local out=$1 v
    shift
    for _ in $(seq "$boots"); do
        start_vm "$@"
        for _ in $(seq 400); do
            v=$(status | jq '[.vcpus[].first_heartbeat_us] | if all(. != null) then max else empty end')
            [ -n "$v" ] && break
            sleep 0.005
        done
        echo "$v" >>"$out"
        stop_vm
    done
}
first_heartbeats "$tmp/boot"
first_heartbeats "$tmp/boot_notpm" --no-tpm

# 2. pause-all latency, and 3. monitor RSS without guest memory.
start_vm
sleep 0.5
for _ in $(seq "$pauses"); do
    echo '{"execute":"pause"}'
    echo '{"execute":"resume"}'
done | "$HVPATCH" control --vm "$tmp/s" | jq -r 'select(.return.pause_ns) | .return.pause_ns' >"$tmp/pause"
rss=$(status | jq .memory.monitor_kib)
rss_private=$(status | jq .memory.monitor_private_kib)
guest_kib=$(status | jq .memory.guest_memory_kib)
stop_vm

# 4. Package verification: a real signed demo fix, 1,000 runs, with the
#    signer's chain checked once (as the verifier process does) and from
#    scratch every run.
"$HVPATCH" keygen "$tmp/keys" >/dev/null
"$HVPATCH" build guest/patches/HP-2026-0001.json -o "$tmp/p.hvp" >/dev/null
"$HVPATCH" sign "$tmp/p.hvp" --keys "$tmp/keys" -o "$tmp/p.signed" >/dev/null
v=(verify "$tmp/p.signed" --trust "$tmp/keys/trust" --image build/guest/demo.elf --kind demo --seq 0)
"$HVPATCH" "${v[@]}" --repeat 1000 >"$tmp/warm"
"$HVPATCH" "${v[@]}" --repeat 1000 --no-cache >"$tmp/cold"
field() { sed -n "s/.* $1 \([0-9.]*\) us.*/\1/p" "$2"; }

# 5. TPM: swtpm start-up, and a fresh quote checked against the event log.
tpm_out=$(build/bench/tpm_tool bench --state "$tmp/tpm" --image build/guest/demo.elf --n 100)
tpm_start=$(sed -n 's/^swtpm start-up (median of 5): \([0-9.]*\) ms/\1/p' <<<"$tpm_out")
tpm_quote=$(sed -n 's/^quote + verification (median of [0-9]*): \([0-9.]*\) ms/\1/p' <<<"$tpm_out")

# 6. Apply and revert on a running guest (both vCPUs busy in the patched
#    user library): the guest-visible pause of every write, and the whole
#    apply with its parts. BENCH_APPLIES (1000) apply/revert cycles of one
#    package (a re-apply after a revert leaves the NV counter alone), then
#    BENCH_NEW_SEQ (20) packages of rising sequence (NV counter increments).
applies=${BENCH_APPLIES:-1000}
newseq=${BENCH_NEW_SEQ:-20}
"$HVPATCH" build guest/patches/HP-2026-0002.json -o "$tmp/u.hvp" >/dev/null
"$HVPATCH" sign "$tmp/u.hvp" --keys "$tmp/keys" -o "$tmp/u.signed" >/dev/null
for i in $(seq "$newseq"); do
    jq ".sequence = $((100 + i)) | .target.image = \"$PWD/build/guest/demo.elf\" |
        .code.sources = [\"$PWD/guest/patches/HP-2026-0002.c\"] |
        .code.cflags = [\"-I$PWD\"]" guest/patches/HP-2026-0002.json >"$tmp/s$i.json"
    "$HVPATCH" build "$tmp/s$i.json" -o "$tmp/s$i.hvp" >/dev/null
    "$HVPATCH" sign "$tmp/s$i.hvp" --keys "$tmp/keys" -o "$tmp/s$i.signed" >/dev/null
done
start_vm --trust "$tmp/keys/trust" --audit-log "$tmp/audit.jsonl"
sleep 0.5
for _ in $(seq "$applies"); do
    "$HVPATCH" apply --json --vm "$tmp/s" "$tmp/u.signed" >>"$tmp/apply"
    "$HVPATCH" revert --json --vm "$tmp/s" HP-2026-0002 >>"$tmp/revert"
done
for i in $(seq "$newseq"); do
    "$HVPATCH" apply --json --vm "$tmp/s" "$tmp/s$i.signed" >>"$tmp/apply_nv"
    "$HVPATCH" revert --json --vm "$tmp/s" HP-2026-0002 >/dev/null
done
stop_vm
col() { jq -r "$1" "$2"; }
ms() { pct "$1" | awk '{printf "%.2f", $1/1e6}'; }

flavour=$(tests/lib/kvm-info.sh --flavour)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo
echo "hvpatch bench: $cpu, $flavour, $(nproc) cores"
[ "$flavour" = kvm_pvm ] && echo "(kvm_pvm: guest ring 0 is emulated; these are PVM figures)"
echo
printf '| %-44s | %10s | %10s | %-10s |\n' metric median p99 aim
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..12})"
printf '| %-44s | %7.2f ms | %7.2f ms | %-10s |\n' "start -> first heartbeat, swtpm + measured boot" \
    "$(pct 50 <"$tmp/boot" | awk '{print $1/1000}')" "$(pct 99 <"$tmp/boot" | awk '{print $1/1000}')" "-"
printf '| %-44s | %7.2f ms | %7.2f ms | %-10s |\n' "start -> first heartbeat, --no-tpm (n=$boots)" \
    "$(pct 50 <"$tmp/boot_notpm" | awk '{print $1/1000}')" "$(pct 99 <"$tmp/boot_notpm" | awk '{print $1/1000}')" "< 20 ms"
printf '| %-44s | %7.1f us | %7.1f us | %-10s |\n' "pause-all, 2 vCPUs (n=$(wc -l <"$tmp/pause"))" \
    "$(pct 50 <"$tmp/pause" | awk '{print $1/1000}')" "$(pct 99 <"$tmp/pause" | awk '{print $1/1000}')" "< 50 us"
printf '| %-44s | %6d KiB | %10s | %-10s |\n' "monitor RSS without guest memory" "$rss" "-" "< 4 MiB"
printf '| %-44s | %6d KiB | %10s | %-10s |\n' "  of which private (not shared library pages)" "$rss_private" "-" "-"
printf '| %-44s | %6d KiB | %10s | %-10s |\n' "guest memory resident (RAM + code, shmem)" "$guest_kib" "-" "-"
printf '| %-44s | %7.2f ms | %7.2f ms | %-10s |\n' "package verify, chain cached (n=1000; p90)" \
    "$(field median "$tmp/warm" | awk '{print $1/1000}')" "$(field p90 "$tmp/warm" | awk '{print $1/1000}')" "< 2 ms"
printf '| %-44s | %7.2f ms | %7.2f ms | %-10s |\n' "package verify, chain built every run (p90)" \
    "$(field median "$tmp/cold" | awk '{print $1/1000}')" "$(field p90 "$tmp/cold" | awk '{print $1/1000}')" "-"
printf '| %-44s | %7.1f ms | %10s | %-10s |\n' "swtpm start-up (n=5)" "$tpm_start" "-" "-"
printf '| %-44s | %7.1f ms | %10s | %-10s |\n' "TPM quote + check vs event log (n=100)" "$tpm_quote" "-" "< 50 ms"
printf '| %-44s | %7.1f us | %7.1f us | %-10s |\n' "apply/revert: guest-visible pause (n=$((2 * applies)))" \
    "$(cat "$tmp/apply" "$tmp/revert" | jq .pause_ns | pct 50 | awk '{print $1/1000}')" \
    "$(cat "$tmp/apply" "$tmp/revert" | jq .pause_ns | pct 99 | awk '{print $1/1000}')" "< 20 us"
row_ms() { # LABEL JQ-FIELD FILE AIM
    printf '| %-44s | %7s ms | %7s ms | %-10s |\n' "$1" \
        "$(col "$2" "$3" | ms 50)" "$(col "$2" "$3" | ms 99)" "$4"
}
row_ms "apply, end to end, TPM quote included (n=$applies)" .time_ns.total "$tmp/apply" "< 5 ms"
row_ms "  verify + quote + PCR 10 + audit fsync" .time_ns.prepare "$tmp/apply" -
row_ms "  pause, RIP check, write, resume" .time_ns.write "$tmp/apply" -
row_ms "  \"applied\" record, fsync" .time_ns.finish "$tmp/apply" -
row_ms "apply of a new sequence, + NV counter (n=$newseq)" .time_ns.total "$tmp/apply_nv" "< 5 ms"
row_ms "revert, end to end (n=$applies)" .time_ns.total "$tmp/revert" -
# The same patch path, this tree against the one before the re-cut (issue
# 14), measured here and now: pause, apply end to end, monitor RSS.
tests/bench/bench_before.sh --rows || echo "| before/after: failed (see above) | - | - | - |"
tests/bench/bench_linux.sh --rows || echo "| Linux start-up: failed (see above) | - | - | - |"
# In-guest livepatch; its medians (ms) stay in $tmp/klp as KEY=VALUE lines.
BENCH_KLP_RESULT=$tmp/klp tests/bench/bench_klp.sh --rows ||
    echo "| in-guest livepatch: failed (see above) | - | - | - |"
BENCH_KLP_RESULT=$tmp/klp tests/bench/bench_linux_patch.sh --rows ||
    echo "| hvpatch apply, Linux: failed (see above) | - | - | - |"
# Hardware virtualization, side by side in one run: inside the emulated
# AMD-V lab host here (tests/bench/bench_lab.sh, docs/LABHOSTS.md).
if [ "$flavour" = kvm_pvm ]; then
    echo "| emulated AMD-V lab host (QEMU TCG, kvm_amd): | ratios count |          - | -          |"
    LABHOST_BENCH=1 tests/lib/labhost.sh run amdv -t 3600 -- \
        tests/bench/bench_lab.sh --rows >"$tmp/lab" 2>&1 || true
    grep '^|' "$tmp/lab" ||
        { tail -n 5 "$tmp/lab"; echo "| AMD-V lab host: failed (see above) | - | - | - |"; }
else
    tests/bench/bench_lab.sh --rows || echo "| lab rows: failed (see above) | - | - | - |"
fi
tests/bench/bench_libvirt.sh --rows || echo "| libvirt audit: failed (see above) | - | - | - |"
