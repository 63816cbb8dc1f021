#!/usr/bin/env bash
# test-packages.sh: the throwaway keys and signed packages the integration
# tests apply, made once into OUTDIR (apply.bats: the demo guest's;
# linux_patch.bats: Debian's kernel's) and reused while newer than their
# inputs. `hvpatch build` compiles patches with gcc, which the lab hosts
# (tests/lib/labhost.sh) lack: they get OUTDIR made here.
#
# Usage: tests/lib/test-packages.sh OUTDIR [demo|linux]...   (default: both)
#
# OUTDIR/demo:  keys/, 1.signed 2.signed (HP-2026-0001/2), 2.tampered (one
#               bit of the signed payload flipped), other.signed (built
#               against another image: wrong baseline), 2b.signed (another
#               package signed with sequence 2: HP-2026-0002B),
#               bad-heartbeat.signed (BAD-HEARTBEAT, sequence 3:
#               deliberately bad, stops the heartbeats; tests/patches/demo)
# OUTDIR/linux: keys/, x2apic.signed cmdline.signed (HP-LINUX-0001/2),
#               cmdline.tampered, other.signed, bad-cmdline-ud2.signed
#               (BAD-LINUX-UD2, sequence 3: deliberately bad, cat
#               /proc/cmdline oopses); needs build/linux with the
#               vmlinux and kallsyms (tests/lib/linux-guest.sh)
# A kind that cannot be made (no gcc, no kernel) is left out with a
# reason in OUTDIR/KIND.skip; a build that fails is an error (exit 1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HVPATCH=${HVPATCH:-$ROOT/build/hvpatch}
LINUX=${HVPATCH_LINUX_DIR:-$ROOT/build/linux}

die() {
    echo "test-packages.sh: $*" >&2
    exit 1
}

# flip_bit IN OUT: OUT is IN with one bit of its signed payload flipped
# (150 bytes before the end: before the signature).
flip_bit() {
    local size off byte
    size=$(stat -c %s "$1")
    off=$((size - 150))
    cp "$1" "$2"
    byte=$(od -An -tu1 -j "$off" -N 1 "$1" | tr -d ' ')
    printf "\\$(printf %03o $((byte ^ 1)))" |
        dd of="$2" bs=1 seek="$off" conv=notrunc status=none
}

# fresh DIR INPUT...: true if DIR/done is newer than every INPUT.
fresh() {
    local d=$1 f
    shift
    [ -e "$d/done" ] || return 1
    for f in "$@" "$HVPATCH" "${BASH_SOURCE[0]}"; do
        [ "$f" -nt "$d/done" ] && return 1
    done
    return 0
}

# sign_one JSON OUT [build options]: build and sign one package.
sign_one() {
    local json=$1 out=$2
    shift 2
    "$HVPATCH" build "$json" "$@" -o "$out.hvp" >/dev/null
    "$HVPATCH" sign "$out.hvp" --keys "$T/keys" -o "$out.signed" >/dev/null
    rm -f "$out.hvp"
}

demo() {
    local demo=$ROOT/build/guest/demo.elf p=$ROOT/guest/patches
    local bad=$ROOT/tests/patches/demo
    [ -f "$demo" ] || { echo "build/guest/demo.elf not built" >"$T.skip"; return; }
    ! fresh "$T" "$demo" "$p"/* "$bad"/* || return 0
    command -v gcc >/dev/null || { echo "no gcc to build patches" >"$T.skip"; return; }
    rm -rf "${T:?}"/* # done goes first
    "$HVPATCH" keygen "$T/keys" >/dev/null
    sign_one "$p/HP-2026-0001.json" "$T/1"
    sign_one "$p/HP-2026-0002.json" "$T/2"
    sign_one "$bad/bad-heartbeat.json" "$T/bad-heartbeat"
    flip_bit "$T/2.signed" "$T/2.tampered"
    cp "$demo" "$T/other.elf"
    printf 'x' >>"$T/other.elf"
    sign_one "$p/HP-2026-0002.json" "$T/other" --image "$T/other.elf"
    rm -f "$T/other.elf"
    # the same fix under another id, signed with the same sequence
    jq --arg p "$p" --arg root "$ROOT" '.id = "HP-2026-0002B" |
        .code.sources = [$p + "/HP-2026-0002.c"] | .code.cflags = ["-I" + $root] |
        .target.image = $root + "/build/guest/demo.elf"' \
        "$p/HP-2026-0002.json" >"$T/2b.json"
    sign_one "$T/2b.json" "$T/2b"
    rm -f "$T/2b.json"
}

linux() {
    local p=$ROOT/tests/linux/patches img=$LINUX/vmlinux sym=$LINUX/kallsyms
    [ -s "$img" ] && [ -s "$sym" ] ||
        { echo "no kernel or symbols in $LINUX (tests/lib/linux-guest.sh kallsyms)" >"$T.skip"; return; }
    ! fresh "$T" "$img" "$sym" "$p"/*/* || return 0
    command -v gcc >/dev/null || { echo "no gcc to build patches" >"$T.skip"; return; }
    rm -rf "${T:?}"/*
    "$HVPATCH" keygen "$T/keys" >/dev/null
    sign_one "$p/hp-linux-x2apic/patch.json" "$T/x2apic" --image "$img" --symbols "$sym"
    sign_one "$p/hp-linux-cmdline/patch.json" "$T/cmdline" --image "$img" --symbols "$sym"
    flip_bit "$T/cmdline.signed" "$T/cmdline.tampered"
    sign_one "$p/bad-linux-cmdline-ud2/patch.json" "$T/bad-cmdline-ud2" --image "$img" --symbols "$sym"
    # wrong baseline: another kernel file (one more byte)
    cp "$img" "$T/other"
    printf 'x' >>"$T/other"
    sign_one "$p/hp-linux-cmdline/patch.json" "$T/other" --image "$T/other" --symbols "$sym"
    rm -f "$T/other"
}

[ $# -ge 1 ] || die "usage: test-packages.sh OUTDIR [demo|linux]..."
[ -x "$HVPATCH" ] || die "$HVPATCH not built (make)"
out=$1
shift
[ $# -gt 0 ] || set -- demo linux
for kind in "$@"; do
    case "$kind" in demo | linux) ;; *) die "unknown kind '$kind' (demo|linux)" ;; esac
    T=$out/$kind
    rm -f "$T.skip"
    mkdir -p "$T"
    "$kind" || die "building the $kind packages failed"
    [ -e "$T.skip" ] || [ -e "$T/done" ] || touch "$T/done"
done
echo "$out"
