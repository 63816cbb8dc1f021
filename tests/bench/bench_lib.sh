# bench_lib.sh: sourced by the bench scripts: a scratch directory ($tmp)
# and the background process a benchmark runs ($pid), both gone at exit,
# and the percentile helper.
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# pct P: the P-th percentile (nearest rank) of the numbers on stdin.
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((p/100)*NR+0.999); if(i<1)i=1; print a[i]}'; }

# Driving the test initramfs's command loop (tests/lib/linux-guest.sh) on
# a guest whose console is $CONSOLE, whose input is fd 7 and whose VMM is
# $pid.
# rc_count: how many commands the guest has finished.
rc_count() { grep -ac '^hvpatch-guest: rc=' "$CONSOLE" || true; }
# guest_run SECONDS LINE: runs LINE in the guest, waits for it to finish;
# fails on a non-zero exit status or when the VMM stops.
guest_run() {
    local limit=$1 n t0
    n=$(rc_count)
    t0=$SECONDS
    printf '%s\n' "$2" >&7
    while [ "$(rc_count)" -le "$n" ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS - t0 < limit)) || { echo "bench: '${2:0:40}' still running after ${limit}s" >&2; return 1; }
        sleep 0.1
    done
    grep -a '^hvpatch-guest: rc=' "$CONSOLE" | tail -n 1 | grep -q 'rc=0'
}
