#!/usr/bin/env bash
# demo.sh: `make demo`: boot the demo guest under the monitor, exploit its
# two bugs, fix both live with signed hot patches (no restart), show a
# tampered package refused, then status, the audit log and a verified TPM
# attestation. Keys are made fresh in a temporary directory.
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
run_shown() { printf '   $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/     /'; }
beats() { "$HVPATCH" status --vm "$sock" --json | jq -c '[.vcpus[].heartbeats]'; }

say "A publisher's signing keys, and the two fixes built and signed"
"$HVPATCH" keygen "$tmp/keys" >/dev/null
for n in 1 2; do
    "$HVPATCH" build guest/patches/HP-2026-000$n.json -o "$tmp/$n.hvp" >/dev/null
    "$HVPATCH" sign "$tmp/$n.hvp" --keys "$tmp/keys" -o "$tmp/HP-2026-000$n.hvp" >/dev/null
done
"$HVPATCH" inspect "$tmp/HP-2026-0001.hvp" | head -4 | sed 's/^/   /'

say "Boot the demo guest on 2 vCPUs; its code is read-only in EPT/NPT"
mkfifo "$tmp/in"
"$HVPATCH" run --cpus 2 --control "$sock" --append selfwrite \
    --trust "$tmp/keys/trust" --audit-log "$tmp/audit.jsonl" \
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

say "Fix the kernel live: the signed patch goes in while both vCPUs run"
a=$(beats)
run_shown "$HVPATCH" apply --vm "$sock" "$tmp/HP-2026-0001.hvp"
console "security update applied without a restart: HP-2026-0001"
type_line "klog 0xffffffffffffffe0 32"
console "klog: -22"
echo "   heartbeats before: $a, after: $(beats) (no restart)"

say "Fix the shared user library live, the same way"
run_shown "$HVPATCH" apply --vm "$sock" "$tmp/HP-2026-0002.hvp"
type_line "echo 96 hi"
console "echo: error"

say "A tampered package (one bit of its signed payload flipped) is refused"
python3 - "$tmp/HP-2026-0002.hvp" "$tmp/tampered.hvp" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) - 150] ^= 1  # inside the signed payload
open(sys.argv[2], "wb").write(b)
PY
run_shown "$HVPATCH" apply --vm "$sock" "$tmp/tampered.hvp" || true

say "The audit log: every decision, hash-chained and fsync'd"
jq -c '{n, event, id, code}' "$tmp/audit.jsonl" | sed 's/^/   /'

say "Attest: a TPM quote over the measured boot, checked by hvpatch"
nonce=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$HVPATCH" attest --vm "$sock" --nonce "$nonce" --out "$tmp/att" >/dev/null
"$HVPATCH" verify-attestation "$tmp/att" --nonce "$nonce" --ak "$tmp/att/ak.pub" |
    sed 's/^/   /'
if command -v tpm2_checkquote >/dev/null; then
    tpm2_checkquote -u "$tmp/att/ak.pem" -m "$tmp/att/quote.msg" \
        -s "$tmp/att/quote.sig" -f "$tmp/att/quote.pcrs" -g sha256 \
        -q "$nonce" >/dev/null && echo "   tpm2_checkquote: OK"
fi
echo "   The audit log agrees with the quoted event log:"
run_shown "$HVPATCH" audit verify "$tmp/audit.jsonl" --attestation "$tmp/att"

say "Status"
"$HVPATCH" status --vm "$sock" | sed 's/^/   /'

say "Quit"
"$HVPATCH" quit --vm "$sock" | sed 's/^/   /'
wait "$pid"
echo "   monitor exited with status $?"
pid=
