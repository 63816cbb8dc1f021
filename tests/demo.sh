#!/usr/bin/env bash
# demo.sh: `make demo`: boot the demo guest under the monitor and show what
# hvpatch guarantees today: the guest's code is read-only at the second
# level, its vCPUs can be paused and resumed, and its two bugs are real.
set -euo pipefail
cd "$(dirname "$0")/.."
HVPATCH=${HVPATCH:-$PWD/build/hvpatch}
tmp=$(mktemp -d)
sock=$tmp/vm.sock
pid=
cleanup() {
    exec 7>&- 2>/dev/null || true
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
await() { # await PATTERN: wait until the guest console shows it
    for _ in $(seq 400); do
        grep -qE -- "$1" "$tmp/console" && return 0
        sleep 0.05
    done
    echo "demo: the guest never printed /$1/" >&2
    sed 's/^/   monitor: /' "$tmp/monitor" >&2
    exit 1
}
console() { # console PATTERN: wait for it, then show its last occurrence
    await "$1"
    grep -E -- "$1" "$tmp/console" | tail -1 | sed 's/^/   guest> /'
}
type_line() { printf '   you>   %s\n' "$1"; printf '%s\n' "$1" >&7; }

say "Boot the demo guest on 2 vCPUs; its code is read-only in EPT/NPT"
mkfifo "$tmp/in"
"$HVPATCH" run --cpus 2 --control "$sock" --append selfwrite \
    <"$tmp/in" >"$tmp/console" 2>"$tmp/monitor" &
pid=$!
exec 7>"$tmp/in"
console "vCPUs up"
console "guest: ready"
grep -m1 "heartbeats from all" "$tmp/monitor" | sed 's/^/   /'

say "The guest tries to overwrite its own code, from ring 0 and ring 3"
await "selfwrite: done"
grep "selfwrite:" "$tmp/console" | sed 's/^/   guest> /'
grep -m3 "blocked guest write" "$tmp/monitor" | sed 's/^/   /'

say "Bug 1, shared user library (Heartbleed-style missing length check)"
type_line "echo 96 hi"
console "USECRET"

say "Bug 2, kernel system call (integer overflow in a bounds check)"
type_line "klog 0xffffffffffffffe0 32"
console "KSECRET"

say "Pause every vCPU, then resume: the workloads go on"
"$HVPATCH" pause --vm "$sock" --json | jq -c '{rips, pause_us: (.pause_ns/1000)}' | sed 's/^/   /'
a=$("$HVPATCH" status --vm "$sock" --json | jq -c '[.vcpus[].heartbeats]')
"$HVPATCH" resume --vm "$sock" | sed 's/^/   /'
sleep 0.2
b=$("$HVPATCH" status --vm "$sock" --json | jq -c '[.vcpus[].heartbeats]')
echo "   heartbeats while paused: $a, after resume: $b"

say "Attest: a TPM quote over the measured boot, checked by hvpatch"
nonce=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$HVPATCH" attest --vm "$sock" --nonce "$nonce" --out "$tmp/att" >/dev/null
"$HVPATCH" verify-attestation "$tmp/att" --nonce "$nonce" --ak "$tmp/att/ak.pub" |
    head -3 | sed 's/^/   /'
if command -v tpm2_checkquote >/dev/null; then
    tpm2_checkquote -u "$tmp/att/ak.pem" -m "$tmp/att/quote.msg" \
        -s "$tmp/att/quote.sig" -f "$tmp/att/quote.pcrs" -g sha256 \
        -q "$nonce" >/dev/null && echo "   tpm2_checkquote: OK"
fi

say "Status"
"$HVPATCH" status --vm "$sock" | sed 's/^/   /'

say "Quit"
"$HVPATCH" quit --vm "$sock" | sed 's/^/   /'
wait "$pid"
echo "   monitor exited with status $?"
pid=
