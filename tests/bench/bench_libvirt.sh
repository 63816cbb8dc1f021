#!/usr/bin/env bash
# bench_libvirt.sh: the libvirt audit's numbers: time per domain of
# `hvpatch audit --record` and `--check`, and guest kernel text read
# through virDomainMemoryPeek in MiB/s, over the unix socket and over
# qemu+ext (the remote protocol through a pipe, as qemu+ssh carries it),
# against a private libvirtd and a guest booting Debian's cloud kernel
# (tests/lib/libvirt-lab.sh). Benchmarks report, they never fail on a
# number.
#
# Usage: tests/bench/bench_libvirt.sh [--rows]
#   --rows   print only the table rows, for tests/bench/bench.sh to append
# Environment: BENCH_AUDITS (10) runs of each measurement.
set -euo pipefail
cd "$(dirname "$0")/../.."
export HVPATCH_ROOT=$PWD
HVPATCH=${HVPATCH:-$PWD/build/hvpatch}
runs=${BENCH_AUDITS:-10}
rows_only=0
[ "${1:-}" = --rows ] && rows_only=1

for t in libvirtd virtlogd virsh qemu-system-x86_64 socat busybox jq; do
    command -v "$t" >/dev/null || {
        echo "bench_libvirt: $t not installed (scripts/deps.sh bench); skipped" >&2
        exit 0
    }
done

# shellcheck source=../lib/libvirt-lab.sh
source tests/lib/libvirt-lab.sh
home=$(mktemp -d /tmp/hvplab.XXXXXX)
cleanup() {
    lab_stop
    local left
    left=$(lab_leftovers "$home")
    [ -z "$left" ] || echo "bench_libvirt: processes left behind: $left" >&2
    rm -rf "$home"
}
trap cleanup EXIT

# pct P: the P-th percentile (nearest rank) of the numbers on stdin.
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((p/100)*NR+0.999); if(i<1)i=1; print a[i]}'; }
now() { date +%s.%N; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.6f", a - b}'; }

t0=$(now)
lab_start "$home" >/dev/null
t1=$(now)
lab_guest_start hvp-bench
t2=$(now)
lab_guest_cmd "head -c 1 /dev/random >/dev/null" 120
lab_guest_map "$home/guest.map"

# audit URI MODE FILE: one run; prints "seconds mib_per_s".
audit() {
    local s e out
    s=$(now)
    out=$("$HVPATCH" audit --connect "$1" --domain hvp-bench "$2" "$3" \
        ${4:+--symbols "$4"} --json ${4:+--force})
    e=$(now)
    echo "$(minus "$e" "$s") $(jq -r .read.mib_per_s <<<"$out")"
}

for _ in $(seq "$runs"); do
    audit "$LAB_URI" --record "$home/rec.json" "$home/guest.map" >>"$home/record"
done
for _ in $(seq "$runs"); do
    audit "$LAB_URI" --check "$home/rec.json" >>"$home/check-unix"
    audit "$LAB_EXT_URI" --check "$home/rec.json" >>"$home/check-ext"
done
mib=$(jq -r '.text.size / 1048576 * 10 | floor / 10' "$home/rec.json")

# Rows in tests/bench/bench.sh's layout, so that --rows appends to its
# table; throughput rows put the slowest run in the p99 column.
row_time() { # METRIC FILE AIM
    printf '| %-44s | %8.3f s | %8.3f s | %-10s |\n' "$1" \
        "$(cut -d' ' -f1 "$2" | pct 50)" "$(cut -d' ' -f1 "$2" | pct 99)" "$3"
}
row_rate() { # METRIC FILE AIM
    printf '| %-44s | %4.0f MiB/s | %4.0f MiB/s | %-10s |\n' "$1" \
        "$(cut -d' ' -f2 "$2" | pct 50)" "$(cut -d' ' -f2 "$2" | pct 1)" "$3"
}

if [ $rows_only -eq 0 ]; then
    flavour=$(tests/lib/kvm-info.sh --flavour)
    echo
    echo "hvpatch bench (libvirt audit): $(nproc) cores, $flavour, libvirt $(virsh -v)," \
        "guest: Debian cloud kernel, $mib MiB of text"
    echo
    printf '| %-44s | %10s | %10s | %-10s |\n' metric median p99 aim
    printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..12})" \
        "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..12})"
fi
row_time "audit --record per domain, $mib MiB (n=$runs)" "$home/record" "< 1 s"
row_time "audit --check per domain, unix (n=$runs)" "$home/check-unix" "< 1 s"
row_time "audit --check per domain, qemu+ext (n=$runs)" "$home/check-ext" "< 1 s"
row_rate "audit text read (MemoryPeek), unix" "$home/check-unix" "> 50 MiB/s"
row_rate "audit text read (MemoryPeek), qemu+ext" "$home/check-ext" "> 50 MiB/s"
if [ $rows_only -eq 0 ]; then
    echo
    echo "(read rows: the p99 column is the slowest run)"
    printf 'set-up, not measured above: libvirtd start %.1f s, guest boot to init %.1f s\n' \
        "$(minus "$t1" "$t0")" "$(minus "$t2" "$t1")"
fi
