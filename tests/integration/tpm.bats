#!/usr/bin/env bats
# tpm.bats: the TPM layer against a real swtpm and tpm2-tools: event log
# (tpm2_eventlog), replay == tpm2_pcrread, quote (tpm2_checkquote), tamper
# detection, wrong baseline, anti-rollback across restarts, swtpm killed or
# stopped mid-session, no orphan swtpm. Driven through build/tests/tpm_tool
# until `hvpatch run` wires the same calls. Each test starts its own swtpm
# and teardown stops everything it started.

load helpers

TOOL=$HVPATCH_ROOT/build/tests/tpm_tool

setup() {
    require_swtpm
    command -v tpm2_checkquote >/dev/null || skip "tpm2_checkquote missing"
    [ -x "$TOOL" ] || skip "build/tests/tpm_tool not built (make build/tests/tpm_tool)"
    W=$BATS_TEST_TMPDIR
    [ ${#W} -lt 80 ] || skip "BATS_TEST_TMPDIR too long for a unix socket path"
    export TSS2_LOG=all+NONE
    PIDS=()
    # A fixed guest image and initrd (content matters only for digests).
    seq 1 20000 >"$W/image.bin"
    seq 7 3000 >"$W/initrd.bin"
    IMAGE_SHA=$(sha256sum "$W/image.bin" | cut -c1-64)
    # verify-attestation through the real CLI (ASan build first) when it
    # is built, else through the test tool that links the same code.
    VERIFY=("$TOOL" verify-attestation)
    if [ -x "$HVPATCH_ASAN" ]; then
        VERIFY=("$HVPATCH_ASAN" verify-attestation)
    elif [ -x "$HVPATCH" ]; then
        VERIFY=("$HVPATCH" verify-attestation)
    fi
}

teardown() {
    stop_started
}

# alive PID: true while PID runs (a zombie counts as dead).
alive() {
    [ -r "/proc/$1/stat" ] || return 1
    local st
    st=$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)
    [ "$st" != Z ]
}

# boot_and_attest: measured boot, text lock and one patch into the test's
# swtpm, then an attestation in $W/att with nonce 0badc0ffee.
boot_and_attest() {
    run "$TOOL" boot --tcti "$TCTI" --log "$W/log.bin" --image "$W/image.bin" \
        --cmdline "console=ttyS0 quiet" --initrd "$W/initrd.bin"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    "$TOOL" runtime --tcti "$TCTI" --log "$W/log.bin" --action lock \
        --id guest-text --seq 0 >/dev/null
    "$TOOL" runtime --tcti "$TCTI" --log "$W/log.bin" --action patch \
        --id pkg-1 --seq 1 >/dev/null
    "$TOOL" attest --tcti "$TCTI" --log "$W/log.bin" --nonce 0badc0ffee \
        --out "$W/att" >/dev/null
}

# flip FILE OFFSET: invert one byte in place.
flip() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 0xff)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# offset_of FILE HEX: byte offset of the first occurrence of HEX in FILE.
offset_of() {
    local pat
    pat=$(echo "$2" | sed 's/../\\x&/g')
    LC_ALL=C grep -obUaP "$pat" "$1" | head -1 | cut -d: -f1
}

@test "event log parses with tpm2_eventlog and replays to tpm2_pcrread" {
    start_swtpm "$W/tpm"
    boot_and_attest
    run tpm2_eventlog "$W/log.bin"
    [ "$status" -eq 0 ]
    [[ $output == *"Spec ID Event03"* ]]
    [[ $output == *"EV_S_CRTM_VERSION"* ]]
    [[ $output == *"kernel_cmdline: console=ttyS0 quiet"* ]]
    [[ $output == *"EV_EVENT_TAG"* ]]
    # The log's own replay (tpm2-tools) equals the TPM's PCRs, all five.
    replayed=$(echo "$output" | sed -n '/^pcrs:/,$p' |
        awk '/^  sha256:/{f=1;next} /^  sha/{f=0} f {gsub(/ /,""); print tolower($0)}')
    actual=$(tpm2_pcrread sha256:0,4,8,9,10 |
        awk '/sha256:/{f=1;next} f {gsub(/ /,""); print tolower($0)}')
    echo "replayed: $replayed"
    echo "actual:   $actual"
    [ "$(echo "$replayed" | wc -l)" -eq 5 ]
    [ "$replayed" = "$actual" ]
    stop_swtpm
}

@test "a quote from our code verifies with tpm2_checkquote (and its event log)" {
    start_swtpm "$W/tpm"
    boot_and_attest
    cd "$W/att"
    run tpm2_checkquote -u ak.pub -m quote.msg -s quote.sig -f quote.pcrs \
        -g sha256 -q "$(cat nonce.hex)" -e eventlog.bin
    echo "$output"
    [ "$status" -eq 0 ]
    run tpm2_checkquote -u ak.pem -m quote.msg -s quote.sig -f quote.pcrs \
        -g sha256 -q 0badc0ffee
    [ "$status" -eq 0 ]
    run tpm2_checkquote -u ak.pub -m quote.msg -s quote.sig -f quote.pcrs \
        -g sha256 -q 0badc0fff0
    [ "$status" -ne 0 ]
    stop_swtpm
}

@test "quote.pcrs is byte-identical to tpm2_quote's for the same PCRs" {
    start_swtpm "$W/tpm"
    boot_and_attest
    cd "$W"
    tpm2_createek -c ek.ctx -G ecc -u ek.pub >/dev/null
    tpm2_flushcontext -t
    tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pub >/dev/null
    tpm2_flushcontext -t
    tpm2_flushcontext -s
    tpm2_quote -c ak.ctx -l sha256:0,4,8,9,10 -q 0011 -m t.msg -s t.sig \
        -o t.pcrs -g sha256 >/dev/null
    tpm2_flushcontext -t
    cmp t.pcrs att/quote.pcrs
    run "$TOOL" pcrs-decode t.pcrs
    [ "$status" -eq 0 ]
    [[ $output == *"re-encoded: identical"* ]]
    stop_swtpm
}

@test "verify-attestation accepts it and prints the baseline and patches" {
    start_swtpm "$W/tpm"
    boot_and_attest
    run "${VERIFY[@]}" "$W/att" --nonce 0badc0ffee \
        --ak "$W/att/ak.pub" --baseline "$IMAGE_SHA" --kind demo
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"verify-attestation: OK"* ]]
    [[ $output == *"baseline: sha256:$IMAGE_SHA kind=demo"* ]]
    [[ $output == *"initrd: measured"* ]]
    [[ $output == *"applied patches: pkg-1 seq=1"* ]]
    stop_swtpm
}

@test "an altered event log or PCR value is detected" {
    start_swtpm "$W/tpm"
    boot_and_attest
    stop_swtpm
    verify() {
        run "${VERIFY[@]}" "$1" --nonce 0badc0ffee --ak "$W/att/ak.pub"
        echo "$output"
    }
    fresh() { rm -rf "$W/t"; cp -r "$W/att" "$W/t"; }

    # The image digest in the log: replay no longer matches the quote.
    fresh
    flip "$W/t/eventlog.bin" "$(offset_of "$W/t/eventlog.bin" "$IMAGE_SHA")"
    verify "$W/t"
    [ "$status" -eq 4 ]
    [[ $output == *"event log replay does not match the quoted PCRs: PCR 4"* ]]
    run tpm2_checkquote -u "$W/t/ak.pub" -m "$W/t/quote.msg" \
        -s "$W/t/quote.sig" -f "$W/t/quote.pcrs" -g sha256 -q 0badc0ffee \
        -e "$W/t/eventlog.bin"
    [ "$status" -ne 0 ]

    # A runtime record's package id (its digest left alone).
    fresh
    flip "$W/t/eventlog.bin" $(($(stat -c %s "$W/t/eventlog.bin") - 1))
    verify "$W/t"
    [ "$status" -eq 4 ]
    [[ $output == *"not a valid hvpatch log"* ]]

    # A truncated log.
    fresh
    truncate -s -7 "$W/t/eventlog.bin"
    verify "$W/t"
    [ "$status" -eq 4 ]
    [[ $output == *"event log does not parse: event log truncated"* ]]

    # A PCR value in quote.pcrs (PCR 0, first byte at offset 142).
    fresh
    flip "$W/t/quote.pcrs" 142
    verify "$W/t"
    [ "$status" -eq 4 ]
    [[ $output == *"PCR values do not match the quoted digest"* ]]
    run tpm2_checkquote -u "$W/t/ak.pub" -m "$W/t/quote.msg" \
        -s "$W/t/quote.sig" -f "$W/t/quote.pcrs" -g sha256 -q 0badc0ffee
    [ "$status" -ne 0 ]

    # The quote itself, and the nonce.
    fresh
    flip "$W/t/quote.msg" 20
    verify "$W/t"
    [[ $output == *"quote signature does not verify"* ]]
    run "${VERIFY[@]}" "$W/att" --nonce 0badc0fff0 --ak "$W/att/ak.pub"
    [ "$status" -eq 4 ]
    [[ $output == *"nonce mismatch"* ]]
}

@test "a wrong-baseline package is rejected" {
    other=$(echo other | sha256sum | cut -c1-64)
    run "$TOOL" session --state "$W/st" --image "$W/image.bin" \
        --target "$other" --patch 1
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"refused: seq 1: attestation: baseline differs from the target: attested baseline sha256:$IMAGE_SHA (demo), package targets sha256:$other (demo)"* ]]
    [[ $output == *"guest still running"* ]]
    [[ $output != *"applied: seq 1"* ]]
    start_swtpm "$W/tpm"
    boot_and_attest
    run "${VERIFY[@]}" "$W/att" --nonce 0badc0ffee \
        --ak "$W/att/ak.pub" --baseline "$other" --kind demo
    [ "$status" -eq 4 ]
    [[ $output == *"baseline differs from the target"* ]]
    stop_swtpm
}

@test "rollback is rejected after a restart that reuses the TPM state" {
    run "$TOOL" session --state "$W/st" --image "$W/image.bin" --patch 1 --patch 2
    echo "$output"
    [[ $output == *"applied: seq 2"* ]]
    # A new monitor run on the same swtpm state: PCRs start afresh, the NV
    # counter does not.
    run "$TOOL" session --state "$W/st" --image "$W/image.bin" \
        --patch 2 --patch 1 --patch 3
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"refused: seq 2: anti-rollback: sequence not above the highest applied one: sequence 2 refused: the TPM counter (NV 0x01306870) says sequence 2 was already applied"* ]]
    [[ $output == *"refused: seq 1: anti-rollback"* ]]
    [[ $output == *"applied: seq 3"* ]]
    # tpm2-tools reads the same counter: highest applied + 1 = 4,
    # big-endian.
    start_swtpm "$W/st"
    [ "$(tpm2_nvread 0x01306870 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 0000000000000004 ]
    # Undefining the index (owner auth is empty on swtpm) does not roll
    # it back: redefined, its first increment starts above the old value.
    tpm2_nvundefine 0x01306870
    stop_swtpm
    run "$TOOL" session --state "$W/st" --image "$W/image.bin" \
        --patch 3 --patch 4 --patch 5
    echo "$output"
    [[ $output == *"refused: seq 3: anti-rollback"* ]]
    [[ $output == *"refused: seq 4: anti-rollback"* ]]
    [[ $output == *"applied: seq 5"* ]]
    run "$TOOL" nv-check --tcti "swtpm:path=/nonexistent" --seq 4
    [ "$status" -eq 2 ]
}

@test "a PCR extended behind the verifier's back refuses the next patch (PCR read, no quote)" {
    z=$(printf '%064d' 0)
    run "$TOOL" session --state "$W/st" --image "$W/image.bin" --patch 1 \
        --run-before 1 --run "tpm2_pcrextend -T swtpm:path=$W/st/swtpm.sock 10:sha256=$z" \
        --patch 2
    echo "$output"
    [[ $output == *"applied: seq 1"* ]]
    [[ $output == *"ran 'tpm2_pcrextend"*"exit 0"* ]]
    [[ $output == *"refused: seq 2: attestation: event log replay does not match the quoted PCRs: PCR 10: event log replays to"*", the TPM has"* ]]
    [[ $output == *"guest still running"* ]]
}

@test "within one run, one NV read per apply still sees an undefined or replaced counter" {
    # The session keeps the counter's handle and last value (as the
    # verifier does). Undefined between two applies: looked up again,
    # redefined, it starts above the old value.
    t="-T swtpm:path=$W/st/swtpm.sock"
    run "$TOOL" session --state "$W/st" --image "$W/image.bin" --patch 1 \
        --run-before 1 --run "tpm2_nvundefine $t 0x01306870" --patch 2 --patch 3
    echo "$output"
    [[ $output == *"applied: seq 1"* ]]
    [[ $output == *"ran 'tpm2_nvundefine"*"exit 0"* ]]
    [[ $output == *"refused: seq 2: anti-rollback: sequence not above"* ]]
    [[ $output == *"applied: seq 3"* ]]
    # Replaced by an ordinary index that reads lower: refused, never used.
    low="printf '\\0\\0\\0\\0\\0\\0\\0\\1' | tpm2_nvwrite $t 0x01306870 -C o -i -"
    run "$TOOL" session --state "$W/st" --image "$W/image.bin" --patch 5 \
        --run-before 1 --run "tpm2_nvundefine $t 0x01306870 && tpm2_nvdefine $t 0x01306870 -C o -s 8 -a 'ownerread|ownerwrite|authread|authwrite|no_da' >/dev/null && $low" \
        --patch 6
    echo "$output"
    [[ $output == *"applied: seq 5"* ]]
    [[ $output == *"ran 'tpm2_nvundefine"*"exit 0"* ]]
    [[ $output == *"refused: seq 6: anti-rollback: TPM counter reads lower than before: anti-rollback: the TPM counter (NV 0x01306870) reads 1, below the 6 this verifier saw"* ]]
    # A new context checks the attributes and refuses the index.
    start_swtpm "$W/st"
    run "$TOOL" nv-check --tcti "$TCTI" --seq 7
    echo "$output"
    [ "$status" -eq 2 ]
    [[ $output == *"NV index 0x01306870 exists with attributes"* ]]
    stop_swtpm
}

@test "swtpm killed mid-session: patching refused, guest running, nothing lost" {
    run "$TOOL" session --state "$W/st" --image "$W/image.bin" \
        --patch 1 --kill-after 1 --patch 2 --patch 3
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"applied: seq 1"* ]]
    [[ $output == *"swtpm killed"* ]]
    [[ $output == *"refused: seq 2: TPM: not answering any more (swtpm stopped?): TPM: Esys_NV_Read failed: tcti:IO failure"* ]]
    [[ $output == *"refused: seq 3: TPM: not answering any more"* ]]
    [ "$(echo "$output" | grep -c 'guest still running')" -eq 2 ]
    [[ $output == *"swtpm killed by signal 9"* ]]
    ! pgrep -f "swtpm socket .*$W/st" >/dev/null
    # Nothing else lost: seq 1 stays committed, seq 2 was never applied.
    run "$TOOL" session --state "$W/st" --image "$W/image.bin" --patch 1 --patch 2
    echo "$output"
    [[ $output == *"refused: seq 1: anti-rollback"* ]]
    [[ $output == *"applied: seq 2"* ]]
}

@test "a stopped swtpm gives a bounded time-out, not a hang" {
    start=$(date +%s)
    run timeout 30 "$TOOL" session --state "$W/st" --image "$W/image.bin" \
        --stop-after 0 --patch 1 --timeout 500
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"refused: seq 1: TPM: no answer in time"* ]]
    [[ $output == *"SIGKILL after SIGTERM timed out"* ]]
    [ $(($(date +%s) - start)) -lt 10 ]
    ! pgrep -f "swtpm socket .*$W/st" >/dev/null
}

@test "swtpm dies with the monitor: no orphan after SIGKILL" {
    mkfifo "$W/in"
    "$TOOL" hold --state "$W/st" <"$W/in" >"$W/hold.out" 2>&1 3>&- &
    tool=$!
    PIDS+=("$tool")
    exec 4>"$W/in"
    for i in $(seq 200); do
        grep -q '^swtpm pid' "$W/hold.out" && break
        sleep 0.02
    done
    spid=$(awk '/^swtpm pid/{print $3}' "$W/hold.out")
    [ -n "$spid" ]
    alive "$spid"
    kill -KILL "$tool"
    wait "$tool" || true
    exec 4>&-
    for i in $(seq 100); do
        alive "$spid" || break
        sleep 0.02
    done
    ! alive "$spid"
}

@test "hv_swtpm stop reaps swtpm and removes its sockets" {
    run "$TOOL" hold --state "$W/st" </dev/null
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"tcti swtpm:path=$W/st/swtpm.sock"* ]]
    [[ $output == *"swtpm exited with status 0"* ]]
    [ ! -e "$W/st/swtpm.sock" ]
    [ ! -e "$W/st/swtpm.sock.ctrl" ]
    [ -s "$W/st/tpm2-00.permall" ]
}

@test "a second swtpm on the same state directory is refused" {
    mkfifo "$W/in"
    "$TOOL" hold --state "$W/st" <"$W/in" >"$W/hold.out" 2>&1 3>&- &
    PIDS+=($!)
    exec 4>"$W/in"
    for i in $(seq 200); do
        grep -q '^swtpm pid' "$W/hold.out" && break
        sleep 0.02
    done
    run "$TOOL" hold --state "$W/st" </dev/null
    echo "$output"
    [ "$status" -eq 2 ]
    [[ $output == *"swtpm: another swtpm serves this state directory"* ]]
    exec 4>&-
    wait "${PIDS[0]}"
    PIDS=()
    grep -q 'swtpm exited with status 0' "$W/hold.out"
}

@test "swtpm that cannot start gives a clear error and leaves nothing" {
    run "$TOOL" hold --state "$W/st" --bin /nonexistent/swtpm </dev/null
    [ "$status" -eq 2 ]
    [[ $output == *"swtpm: cannot start the swtpm program: swtpm: cannot execute /nonexistent/swtpm: No such file or directory"* ]]
    run "$TOOL" hold --state "$W/st" --bin /bin/false </dev/null
    echo "$output"
    [ "$status" -eq 2 ]
    [[ $output == *"swtpm: exited during start-up: swtpm: exited with status 1 during start-up"* ]]
    [ ! -e "$W/st/swtpm.sock" ]
    mkdir -m 0777 "$W/open"
    run "$TOOL" hold --state "$W/open" </dev/null
    [ "$status" -eq 2 ]
    [[ $output == *"not writable by group or others"* ]]
}
