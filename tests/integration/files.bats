#!/usr/bin/env bats
# files.bats: what every command does with the files it is given. Inputs
# must be regular files: a FIFO, a directory or a device is an error with
# exit status 2, never a hang. Outputs only ever replace regular files: an
# existing FIFO, device, directory or socket (or a link to one) is refused
# with its name, and nothing is written.

load helpers

setup() {
    [ -x "$HVPATCH" ] || skip "build/hvpatch is not built (make build/hvpatch)"
    T=$(mktemp -d)
    mkfifo "$T/fifo"
    mkdir "$T/dir"
}

teardown() {
    if [ -n "${T:-}" ]; then rm -rf "$T"; fi
}

# run_bounded CMD...: run with a time limit; a hang is status 124 (or
# 137: hvpatch run blocks SIGTERM, KILL follows 5 s later).
run_bounded() { run timeout -k 5 20 "$@"; }

make_keys() { "$HVPATCH" keygen "$T/keys" >/dev/null; }

# A signed package of the demo kernel fix in $T/k.signed.
demo_pkg() {
    [ -f "$HVPATCH_ROOT/build/guest/demo.elf" ] ||
        skip "demo guest not built (make build/guest/demo.elf)"
    make_keys
    "$HVPATCH" build "$HVPATCH_ROOT/guest/patches/HP-2026-0001.json" \
        -o "$T/k.hvp" >/dev/null
    "$HVPATCH" sign "$T/k.hvp" --keys "$T/keys" -o "$T/k.signed" >/dev/null
}

# refused_input KIND: the last run refused PATH (a KIND) with status 2.
refused_input() {
    echo "status $status: $output"
    [ "$status" -eq 2 ]
    [[ "$output" == *"not a regular file ($1)"* ]]
}

@test "inputs: a FIFO is refused with status 2, never read or waited on" {
    make_keys
    run_bounded "$HVPATCH" inspect "$T/fifo"
    refused_input "a FIFO"
    run_bounded "$HVPATCH" verify "$T/fifo" --trust "$T/keys/trust" \
        --kind demo --seq 0 --baseline "$(printf '%064d' 0)"
    refused_input "a FIFO"
    run_bounded "$HVPATCH" sign "$T/fifo" --keys "$T/keys" -o "$T/out"
    refused_input "a FIFO"
    run_bounded "$HVPATCH" sign "$T/fifo" --key "$T/fifo" \
        --cert "$T/keys/signing.pem" -o "$T/out"
    refused_input "a FIFO"
    run_bounded "$HVPATCH" build "$T/fifo" -o "$T/out"
    refused_input "a FIFO"
    run_bounded "$HVPATCH" revoke --keys "$T/keys" -o "$T/out" "$T/fifo"
    refused_input "a FIFO"
    run_bounded "$HVPATCH" audit verify "$T/fifo"
    refused_input "a FIFO"
    run_bounded "$HVPATCH" apply "$T/fifo" --vm "$T/no.sock"
    refused_input "a FIFO"
    mkdir "$T/att"
    mkfifo "$T/att/quote.msg"
    run_bounded "$HVPATCH" verify-attestation "$T/att"
    refused_input "a FIFO"
    [ ! -e "$T/out" ]
}

@test "inputs: a directory or a device is refused with status 2" {
    make_keys
    run_bounded "$HVPATCH" inspect "$T/dir"
    refused_input "a directory"
    run_bounded "$HVPATCH" inspect /dev/null
    refused_input "a character device"
    run_bounded "$HVPATCH" audit verify "$T/dir"
    refused_input "a directory"
    run_bounded "$HVPATCH" audit verify /dev/zero
    refused_input "a character device"
    run_bounded "$HVPATCH" apply /dev/zero --vm "$T/no.sock"
    refused_input "a character device"
    run_bounded "$HVPATCH" sign "$T/dir" --keys "$T/keys" -o "$T/out"
    refused_input "a directory"
}

# refused_output PATH KIND: the last run refused to replace PATH (a KIND),
# status 2, and PATH is still what it was, with nothing beside it.
refused_output() {
    echo "status $status: $output"
    [ "$status" -eq 2 ]
    [[ "$output" == *"$1: exists and is not a regular file ($2); not replaced"* ]]
    [ -z "$(find "$(dirname "$1")" -maxdepth 1 -name "$(basename "$1").tmp*")" ]
}

@test "outputs: sign, build and revoke never replace a FIFO, directory or device" {
    demo_pkg
    run_bounded "$HVPATCH" sign "$T/k.hvp" --keys "$T/keys" -o "$T/fifo"
    refused_output "$T/fifo" "a FIFO"
    [ -p "$T/fifo" ]
    run_bounded "$HVPATCH" build "$HVPATCH_ROOT/guest/patches/HP-2026-0001.json" \
        -o "$T/fifo"
    refused_output "$T/fifo" "a FIFO"
    [ -p "$T/fifo" ]
    run_bounded "$HVPATCH" revoke --keys "$T/keys" -o "$T/fifo"
    refused_output "$T/fifo" "a FIFO"
    [ -p "$T/fifo" ]
    run_bounded "$HVPATCH" sign "$T/k.hvp" --keys "$T/keys" -o "$T/dir"
    refused_output "$T/dir" "a directory"
    [ -d "$T/dir" ] && [ -z "$(ls -A "$T/dir")" ]
    # A symbolic link is followed: a link to a FIFO is a FIFO.
    ln -s fifo "$T/link"
    run_bounded "$HVPATCH" sign "$T/k.hvp" --keys "$T/keys" -o "$T/link"
    refused_output "$T/link" "a FIFO"
    [ -L "$T/link" ] && [ -p "$T/fifo" ]
    # A device node of the test's own (never the real /dev/null).
    if mknod "$T/null" c 1 3 2>/dev/null; then
        run_bounded "$HVPATCH" sign "$T/k.hvp" --keys "$T/keys" -o "$T/null"
        refused_output "$T/null" "a character device"
        [ -c "$T/null" ]
    fi
    # A regular file, or a missing one, is still replaced or created.
    echo old >"$T/regular"
    run_bounded "$HVPATCH" sign "$T/k.hvp" --keys "$T/keys" -o "$T/regular"
    [ "$status" -eq 0 ]
    cmp "$T/regular" "$T/k.signed"
    run_bounded "$HVPATCH" sign "$T/k.hvp" --keys "$T/keys" -o "$T/new"
    [ "$status" -eq 0 ]
    cmp "$T/new" "$T/k.signed"
}

@test "inputs: hvpatch run refuses a FIFO as --guest, --kernel or --initrd" {
    run_bounded "$HVPATCH" run --guest "$T/fifo" </dev/null
    refused_input "a FIFO"
    [[ "$output" == *"guest image $T/fifo: not a regular file (a FIFO)"* ]]
    run_bounded "$HVPATCH" run --kernel "$T/fifo" </dev/null
    refused_input "a FIFO"
    [[ "$output" == *"kernel $T/fifo: not a regular file (a FIFO)"* ]]
    run_bounded "$HVPATCH" run --kernel "$T/dir" </dev/null
    refused_input "a directory"
}
