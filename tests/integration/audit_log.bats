#!/usr/bin/env bats
# audit_log.bats: `hvpatch audit verify` on audit logs made here with jq
# and sha256sum (a second implementation of the format in docs/AUDIT.md):
# good logs, each kind of damage with its exit code and LOG:LINE reason,
# where pcr10 may be (measure, then write: on approved and aborted, never
# on applied or reverted), torn tails, --json, --help; and --attestation
# against a real swtpm driven by build/tests/tpm_tool (no VM needed),
# agreeing and not.

bats_require_minimum_version 1.5.0
load helpers

TOOL=$HVPATCH_ROOT/build/tests/tpm_tool
ZERO=0000000000000000000000000000000000000000000000000000000000000000
A=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
B=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
C=cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc

setup() {
    command -v jq >/dev/null || skip "jq not installed"
    # The sanitizer build when it is there, else the plain one.
    HV=$HVPATCH
    [ -x "$HVPATCH_ASAN" ] && HV=$HVPATCH_ASAN
    [ -x "$HV" ] || skip "hvpatch not built"
    W=$BATS_TEST_TMPDIR
    PIDS=()
    LOG=$W/audit.log
}

teardown() { stop_started; }

# append FILE JSON: adds one record the way the verifier frames it: "n"
# (lines so far), "time", "prev" (SHA-256 of the last line), canonical
# (sorted keys, compact).
append() {
    local f=$1 n=0 prev=$ZERO
    if [ -s "$f" ]; then
        n=$(wc -l <"$f")
        prev=$(tail -n1 "$f" | tr -d '\n' | sha256sum | cut -c1-64)
    fi
    jq -cS -n --argjson r "$2" --argjson n "$n" --arg p "$prev" \
        '$r + {n: $n, time: "2026-01-02T03:04:05.678Z", prev: $p}' >>"$f"
}

# boot_rec BASELINE KIND BOOT_ID|null: a "boot" record.
boot_rec() {
    if [ "$3" = null ]; then
        echo "{\"event\":\"boot\",\"baseline\":\"$1\",\"kind\":\"$2\",\"boot_id\":null,\"tpm\":\"none\"}"
    else
        echo "{\"event\":\"boot\",\"baseline\":\"$1\",\"kind\":\"$2\",\"boot_id\":\"$3\",\"tpm\":\"ok\"}"
    fi
}

# pcr_rec EVENT ACTION ID SEQ DIGEST: a record that extended PCR 10, with
# no "op" (a "text-locked", or a misplaced event).
pcr_rec() {
    echo "{\"event\":\"$1\",\"pcr10\":{\"action\":\"$2\",\"id\":\"$3\",\"seq\":$4,\"digest\":\"$5\"}}"
}

# op_rec EVENT OP ACTION ID SEQ DIGEST: an "approved" or "aborted" record
# of operation OP (apply, revert) as the verifier writes it, measure then
# write: "approved" carries the operation's PCR 10 event (patch for an
# apply), "aborted" the one that undoes it.
op_rec() {
    case $1 in
    approved) echo "{\"event\":\"approved\",\"op\":\"$2\",\"id\":\"$4\",\"seq\":$5,\"package_sha256\":\"$6\",\"signer\":\"CN=hvpatch test signer\",\"records\":2,\"pcr10\":{\"action\":\"$3\",\"id\":\"$4\",\"seq\":$5,\"digest\":\"$6\"}}" ;;
    *) echo "{\"event\":\"$1\",\"op\":\"$2\",\"id\":\"$4\",\"seq\":$5,\"reason\":\"busy: a vCPU stayed inside a range to change\",\"tries\":200,\"pcr10\":{\"action\":\"$3\",\"id\":\"$4\",\"seq\":$5,\"digest\":\"$6\"}}" ;;
    esac
}

# done_rec EVENT ID SEQ: "applied" or "reverted": the write happened (no
# pcr10: the approval carries it).
done_rec() {
    echo "{\"event\":\"$1\",\"id\":\"$2\",\"seq\":$3,\"pause_ns\":217396,\"tries\":1}"
}

# good_log FILE: boots, a lock, decisions of every kind: pkg-1 applied and
# reverted, pkg-2's apply aborted.
good_log() {
    append "$1" "$(boot_rec $A demo $B)"
    append "$1" "$(pcr_rec text-locked text-lock guest-code 0 $C)"
    append "$1" "$(op_rec approved apply patch pkg-1 1 $C)"
    append "$1" "$(done_rec applied pkg-1 1)"
    append "$1" '{"event":"rejected","op":"apply","id":"pkg-0","package_sha256":null,"code":"VRF_ERR_SIG_INVALID","reason":"signature does not verify"}'
    append "$1" '{"event":"guest-write-blocked","count":1,"gpa":"0x101000","rip":"0x400001a3"}'
    append "$1" '{"event":"guest-write-blocked","count":6,"gpa":"0x101008","rip":"0x400001a3"}'
    append "$1" "$(op_rec approved revert revert pkg-1 1 $C)"
    append "$1" "$(done_rec reverted pkg-1 1)"
    append "$1" "$(op_rec approved apply patch pkg-2 2 $A)"
    append "$1" "$(op_rec aborted apply revert pkg-2 2 $A)"
    append "$1" "$(boot_rec $A linux null)"
    append "$1" '{"event":"applied","id":"pkg-3","seq":3}'
}

last_hash() { tail -n1 "$1" | tr -d '\n' | sha256sum | cut -c1-64; }

@test "audit verify --help prints usage; hvpatch audit --help names it" {
    run "$HV" audit verify --help
    [ "$status" -eq 0 ]
    [[ $output == *"usage: hvpatch audit verify LOG [--attestation DIR] [--json]"* ]]
    [[ $output == *"Exit codes: 0 verified, 1 usage, 2 cannot read"* ]]
    run "$HV" audit --help
    [ "$status" -eq 0 ]
    [[ $output == *"hvpatch audit verify LOG"* ]]
}

@test "usage errors are exit 1" {
    run "$HV" audit verify
    [ "$status" -eq 1 ]
    [[ $output == *"usage: hvpatch audit verify"* ]]
    run "$HV" audit verify "$LOG" --frobnicate
    [ "$status" -eq 1 ]
    run "$HV" audit verify "$LOG" other.log
    [ "$status" -eq 1 ]
    run "$HV" audit verify "$LOG" --attestation
    [ "$status" -eq 1 ]
}

@test "a log that cannot be read is exit 2" {
    run "$HV" audit verify "$W/missing.log"
    [ "$status" -eq 2 ]
    [[ $output == *"hvpatch audit verify: $W/missing.log: cannot open: No such file"* ]]
    run "$HV" audit verify "$W"
    [ "$status" -eq 2 ]
}

@test "a good log verifies: exit 0 and a summary" {
    good_log "$LOG"
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 0 ]
    echo "$output"
    [[ $output == *"audit log $LOG: OK, hash chain intact"* ]]
    [[ $output == *"records: 13"* ]]
    [[ $output == *"boots: 2 (1 with a TPM)"* ]]
    [[ $output == *"text locks: 1"* ]]
    [[ $output == *"patches: 3 approved, 2 applied, 1 reverted, 1 rejected, 1 aborted"* ]]
    [[ $output == *"guest writes blocked: 2"* ]]
    [[ $output == *"last record hash: $(last_hash "$LOG")"* ]]
}

@test "an empty log is exit 9, not a chain intact" {
    : >"$LOG"
    run --separate-stderr "$HV" audit verify "$LOG"
    [ "$status" -eq 9 ]
    [ "$stderr" = "hvpatch audit verify: $LOG: empty (0 bytes): no record to verify; a log begins with a \"boot\" record" ]
    [[ $output != *"OK"* ]]
    # Only a torn first line: no record either.
    good_log "$W/good.log"
    head -c 20 "$W/good.log" >"$LOG"
    run --separate-stderr "$HV" audit verify "$LOG"
    [ "$status" -eq 9 ]
    [[ $stderr == "hvpatch audit verify: $LOG:1: no complete record: only a torn first line (20 bytes without a newline)"* ]]
    run --separate-stderr "$HV" audit verify --json "$LOG"
    [ "$status" -eq 9 ]
    [ "$(jq -r .ok <<<"$output")" = false ]
}

@test "garbage after the last record is exit 10, not a torn line" {
    good_log "$W/good.log"
    nrec=$(wc -l <"$W/good.log")
    { cat "$W/good.log"; printf '\x7fELF\x02\x01\x01\x00'; } >"$LOG"
    run --separate-stderr "$HV" audit verify "$LOG"
    [ "$status" -eq 10 ]
    [ "$stderr" = "hvpatch audit verify: $LOG:$((nrec + 1)): 8 bytes after the last newline do not begin a record (first byte 0x7f, not \"{\"): not a torn line" ]
    { cat "$W/good.log"; printf '{"event":"ap\x00\x00'; } >"$LOG"
    run --separate-stderr "$HV" audit verify "$LOG"
    [ "$status" -eq 10 ]
    [[ $stderr == *"byte 0x00 at offset 12 is a control byte: not a torn line" ]]
    { cat "$W/good.log"; printf '{"title":"\xff\xfe'; } >"$LOG"
    run --separate-stderr "$HV" audit verify "$LOG"
    [ "$status" -eq 10 ]
    [[ $stderr == *"byte 0xff at offset 10 is not UTF-8: not a torn line" ]]
    # A UTF-8 character cut in two by the crash is still a torn line.
    { cat "$W/good.log"; printf '{"title":"caf\xc3'; } >"$LOG"
    run --separate-stderr "$HV" audit verify "$LOG"
    [ "$status" -eq 0 ]
    [[ $stderr == *"warning: torn last line (14 bytes without a newline) ignored"* ]]
}

@test "--json: the summary, and failures, as JSON" {
    good_log "$LOG"
    run "$HV" audit verify "$LOG" --json
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .ok)" = true ]
    [ "$(echo "$output" | jq -r .records)" = 13 ]
    [ "$(echo "$output" | jq -r .boots)" = 2 ]
    [ "$(echo "$output" | jq -r '.events.applied')" = 2 ]
    [ "$(echo "$output" | jq -r '.events["guest-write-blocked"]')" = 2 ]
    [ "$(echo "$output" | jq -r .last_hash)" = "$(last_hash "$LOG")" ]
    [ "$(echo "$output" | jq -r '.segments[0].pcr10')" = 5 ]
    [ "$(echo "$output" | jq -r '.segments[0].boot_id')" = "$B" ]
    [ "$(echo "$output" | jq -r '.segments[1].boot_id')" = null ]
    [ "$(echo "$output" | jq -r '.segments[1].line')" = 12 ]
    sed -i '3s/pkg-1/pkg-9/' "$LOG"
    run --separate-stderr "$HV" audit verify "$LOG" --json
    [ "$status" -eq 4 ]
    [ "$(echo "$output" | jq -r .ok)" = false ]
    [ "$(echo "$output" | jq -r .line)" = 4 ]
    [[ $(echo "$output" | jq -r .error) == "prev does not match the hash of line 3" ]]
    [[ $stderr == "hvpatch audit verify: $LOG:4: prev does not match the hash of line 3" ]]
}

@test "a changed, deleted or reordered record breaks the chain: exit 4, LOG:LINE" {
    good_log "$W/good.log"
    sed '5s/signature does not verify/no reason/' "$W/good.log" >"$LOG"
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 4 ]
    [[ $output == "hvpatch audit verify: $LOG:6: prev does not match the hash of line 5" ]]
    sed '4d' "$W/good.log" >"$LOG"
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 4 ]
    [[ $output == "hvpatch audit verify: $LOG:4: n is 4, expected 3" ]]
    g=$W/good.log
    { sed -n 1p "$g"; sed -n 3p "$g"; sed -n 2p "$g"; sed -n '4,$p' "$g"; } >"$LOG"
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 4 ]
    [[ $output == "hvpatch audit verify: $LOG:2: n is 2, expected 1" ]]
    # A whole record made up and chained again is caught by its content
    # only: the chain alone cannot tell (docs/AUDIT.md, limits).
    head -n 3 "$W/good.log" >"$LOG"
    append "$LOG" '{"event":"frobnicated"}'
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 4 ]
    [[ $output == "hvpatch audit verify: $LOG:4: unknown event \"frobnicated\"" ]]
}

@test "malformed lines: not JSON, not canonical, too long, bad members: exit 4" {
    good_log "$W/good.log"
    head -n 2 "$W/good.log" >"$LOG"
    echo '{"event": "approved"}' >>"$LOG"
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 4 ]
    [[ $output == "hvpatch audit verify: $LOG:3: not canonical JSON"* ]]

    head -n 2 "$W/good.log" >"$LOG"
    tail -n1 "$LOG" | jq -c . | sed 's/^/x/' >>"$LOG"
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 4 ]
    [[ $output == "hvpatch audit verify: $LOG:3: not JSON: "* ]]

    head -n 2 "$W/good.log" >"$LOG"
    append "$LOG" "{\"event\":\"approved\",\"pad\":\"$(head -c 4100 /dev/zero | tr '\0' x)\"}"
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 4 ]
    [[ $output == "hvpatch audit verify: $LOG:3: longer than 4096 bytes"* ]]

    head -n 2 "$W/good.log" >"$LOG"
    append "$LOG" "$(op_rec approved apply patch pkg-1 1 ${C^^})"
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 4 ]
    [[ $output == *"$LOG:3: \"pcr10.digest\" is not 64 lowercase hex digits"* ]]

    : >"$LOG"
    append "$LOG" '{"event":"approved"}'
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 4 ]
    [[ $output == *"$LOG:1: \"approved\" before any \"boot\" record"* ]]
}

# refused KEEP RECORD REASON: the first KEEP lines of good.log, then
# RECORD, are refused at RECORD's line with REASON (a prefix).
refused() {
    head -n "$1" "$W/good.log" >"$LOG"
    append "$LOG" "$2"
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 4 ]
    [[ $output == "hvpatch audit verify: $LOG:$(($1 + 1)): $3"* ]]
}

@test "pcr10 only where the verifier measures: text-locked, approved and aborted with an op" {
    good_log "$W/good.log"
    # An aborted revert carries the undoing patch event.
    head -n 4 "$W/good.log" >"$LOG"
    append "$LOG" "$(op_rec approved revert revert pkg-1 1 $C)"
    append "$LOG" "$(op_rec aborted revert patch pkg-1 1 $C)"
    run "$HV" audit verify "$LOG"
    [ "$status" -eq 0 ]
    [[ $output == *"patches: 2 approved, 1 applied, 0 reverted, 0 rejected, 1 aborted"* ]]

    # The write's own records carry none: the approval measured it.
    refused 3 "$(pcr_rec applied patch pkg-1 1 $C)" \
        '"pcr10" on a "applied" record (only text-locked, approved and aborted, with an "op", change PCR 10)'
    refused 8 "$(pcr_rec reverted revert pkg-1 1 $C)" '"pcr10" on a "reverted" record'
    # An approval or an abort says which operation it is.
    refused 2 "$(pcr_rec approved patch pkg-1 1 $C)" '"pcr10" on a "approved" record'
    refused 2 "$(op_rec approved install patch pkg-1 1 $C)" '"pcr10" on a "approved" record'
    refused 3 "$(pcr_rec aborted revert pkg-1 1 $C)" '"pcr10" on a "aborted" record'
    # The action follows the op: the operation's own on an approval, the
    # undoing one on an abort.
    refused 2 "$(op_rec approved apply revert pkg-1 1 $C)" \
        '"pcr10.action" of this "approved" record must be "patch"'
    refused 4 "$(op_rec approved revert patch pkg-1 1 $C)" \
        '"pcr10.action" of this "approved" record must be "revert"'
    refused 10 "$(op_rec aborted apply patch pkg-2 2 $A)" \
        '"pcr10.action" of this "aborted" record must be "revert"'
    refused 8 "$(op_rec aborted revert revert pkg-1 1 $C)" \
        '"pcr10.action" of this "aborted" record must be "patch"'
    refused 1 "$(pcr_rec text-locked patch guest-code 0 $C)" \
        '"pcr10.action" of this "text-locked" record must be "text-lock"'
    # Never in a boot without a TPM.
    refused 13 "$(op_rec approved apply patch pkg-4 4 $C)" \
        '"pcr10" in a boot without a TPM (line 12 says "tpm": "none")'
}

@test "a torn last line (a write cut off by a crash) is a warning, at every cut" {
    good_log "$W/good.log"
    size=$(stat -c %s "$W/good.log")
    last=$(tail -n1 "$W/good.log" | wc -c)
    nrec=$(wc -l <"$W/good.log")
    for cut in 1 7 $((last / 2)) $((last - 1)); do
        head -c $((size - last + cut)) "$W/good.log" >"$LOG"
        run --separate-stderr "$HV" audit verify "$LOG"
        [ "$status" -eq 0 ]
        [[ $stderr == "hvpatch audit verify: $LOG:$nrec: warning: torn last line ($cut bytes without a newline) ignored"* ]]
        [[ $output == *"records: $((nrec - 1))"* ]]
        [[ $output == *"last record hash: $(head -n $((nrec - 1)) "$W/good.log" | last_hash /dev/stdin)"* ]]
    done
    # Cut exactly after a newline: a shorter log, no warning.
    head -c $((size - last)) "$W/good.log" >"$LOG"
    run --separate-stderr "$HV" audit verify "$LOG"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
}

# ------------------------------------------------ against an attestation

# tpm_boot: a measured boot into the test's own swtpm, a text lock, then
# tpm_event ACTION ID SEQ DIGEST for each PCR 10 event, then tpm_attest
# (an attestation in $W/att). tpm_boot sets BOOT_ID, BASELINE.
tpm_boot() {
    require_swtpm
    [ -x "$TOOL" ] || skip "build/tests/tpm_tool not built (make build/tests/tpm_tool)"
    [ ${#W} -lt 80 ] || skip "BATS_TEST_TMPDIR too long for a unix socket path"
    export TSS2_LOG=all+NONE
    seq 1 5000 >"$W/image.bin"
    start_swtpm "$W/tpm"
    run "$TOOL" boot --tcti "$TCTI" --log "$W/ev.bin" --image "$W/image.bin"
    [ "$status" -eq 0 ]
    BOOT_ID=$(echo "$output" | sed -n 's/^boot id: //p')
    BASELINE=$(sha256sum "$W/image.bin" | cut -c1-64)
    tpm_event lock guest-code 0 $C
}

tpm_event() {
    "$TOOL" runtime --tcti "$TCTI" --log "$W/ev.bin" --action "$1" \
        --id "$2" --seq "$3" --digest "$4" >/dev/null
}

tpm_attest() {
    "$TOOL" attest --tcti "$TCTI" --log "$W/ev.bin" --nonce 0badc0ffee \
        --out "$W/att" >/dev/null
    stop_swtpm
}

# tpm_session: the lock and two patches.
tpm_session() {
    tpm_boot
    tpm_event patch pkg-1 1 $A
    tpm_event patch pkg-2 2 $B
    tpm_attest
}

# session_log FILE [SEQ2_DIGEST]: the audit log the verifier would have
# written for tpm_session, with decisions between the PCR 10 records.
session_log() {
    append "$1" "$(boot_rec $BASELINE demo $BOOT_ID)"
    append "$1" "$(pcr_rec text-locked text-lock guest-code 0 $C)"
    append "$1" "$(op_rec approved apply patch pkg-1 1 $A)"
    append "$1" "$(done_rec applied pkg-1 1)"
    append "$1" '{"event":"guest-write-blocked","count":1,"gpa":"0x1000","rip":"0x400001a3"}'
    append "$1" "$(op_rec approved apply patch pkg-2 2 ${2:-$B})"
    append "$1" "$(done_rec applied pkg-2 2)"
}

@test "--attestation: the TPM's PCR 10 events equal the audit log's (real swtpm)" {
    tpm_session
    # An earlier run of the same configuration (same boot id) first.
    append "$LOG" "$(boot_rec $BASELINE demo $BOOT_ID)"
    append "$LOG" "$(pcr_rec text-locked text-lock guest-code 0 $C)"
    session_log "$LOG"
    run --separate-stderr "$HV" audit verify "$LOG" --attestation "$W/att"
    echo "$output"; echo "$stderr"
    [ "$status" -eq 0 ]
    [[ $output == *"attestation $W/att: quote verified (signature, nonce, magic, type, PCR digest, event-log replay)"* ]]
    [[ $output == *"AK: $W/att/ak.pub, trusted on first use"* ]]
    [[ $output == *"boot id $BOOT_ID: boot record at line 3 (kind demo)"* ]]
    [[ $output == *"2 boots in the log have this boot id"* ]]
    [[ $output == *"pcr10: 3 TPM events equal the audit log's, in order, field by field"* ]]
    [[ $output != *"later audit events"* ]]

    # The audit log has moved on since the quote: later events are counted.
    append "$LOG" "$(op_rec approved apply patch pkg-3 3 $C)"
    append "$LOG" "$(done_rec applied pkg-3 3)"
    run "$HV" audit verify "$LOG" --attestation "$W/att" --json
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .attestation.covered)" = 3 ]
    [ "$(echo "$output" | jq -r .attestation.later)" = 1 ]
    [ "$(echo "$output" | jq -r .attestation.boot_line)" = 3 ]
    [ "$(echo "$output" | jq -r .attestation.boot_id)" = "$BOOT_ID" ]
    [ "$(echo "$output" | jq -r .attestation.ak)" = "trusted on first use" ]
}

@test "--attestation: approved and aborted carry the TPM's events (real swtpm)" {
    # pkg-1 applied, its revert aborted (the undoing patch measured), pkg-2
    # approved and aborted (the undoing revert measured).
    tpm_boot
    tpm_event patch pkg-1 1 $A
    tpm_event revert pkg-1 1 $A
    tpm_event patch pkg-1 1 $A
    tpm_event patch pkg-2 2 $B
    tpm_event revert pkg-2 2 $B
    tpm_attest
    append "$LOG" "$(boot_rec $BASELINE demo $BOOT_ID)"
    append "$LOG" "$(pcr_rec text-locked text-lock guest-code 0 $C)"
    append "$LOG" "$(op_rec approved apply patch pkg-1 1 $A)"
    append "$LOG" "$(done_rec applied pkg-1 1)"
    append "$LOG" "$(op_rec approved revert revert pkg-1 1 $A)"
    append "$LOG" "$(op_rec aborted revert patch pkg-1 1 $A)"
    append "$LOG" "$(op_rec approved apply patch pkg-2 2 $B)"
    cp "$LOG" "$W/before-abort.log"
    append "$LOG" "$(op_rec aborted apply revert pkg-2 2 $B)"
    run --separate-stderr "$HV" audit verify "$LOG" --attestation "$W/att"
    echo "$output"; echo "$stderr"
    [ "$status" -eq 0 ]
    [[ $output == *"pcr10: 6 TPM events equal the audit log's, in order, field by field"* ]]

    # Without the abort's record, the TPM's last revert is in no record.
    run --separate-stderr "$HV" audit verify "$W/before-abort.log" --attestation "$W/att"
    [ "$status" -eq 4 ]
    [[ $stderr == *"TPM event 6 (revert pkg-2 seq 2) is not in the audit log"* ]]
}

@test "--attestation: a differing or missing PCR 10 event, another boot, a bad quote: exit 4" {
    tpm_session
    session_log "$LOG" $C
    run --separate-stderr "$HV" audit verify "$LOG" --attestation "$W/att"
    [ "$status" -eq 4 ]
    [[ $stderr == "hvpatch audit verify: $LOG:6: disagrees with $W/att: pcr10 digest differs from TPM event 3"* ]]

    : >"$LOG"
    session_log "$LOG"
    head -n 5 "$LOG" >"$W/short.log"
    run --separate-stderr "$HV" audit verify "$W/short.log" --attestation "$W/att"
    [ "$status" -eq 4 ]
    [[ $stderr == *"TPM event 3 (patch pkg-2 seq 2) is not in the audit log"* ]]

    : >"$LOG"
    append "$LOG" "$(boot_rec $BASELINE demo $A)"
    run --separate-stderr "$HV" audit verify "$LOG" --attestation "$W/att"
    [ "$status" -eq 4 ]
    [[ $stderr == *"no boot record has the attested boot id $BOOT_ID"* ]]

    : >"$LOG"
    session_log "$LOG"
    cp -r "$W/att" "$W/bad"
    printf 'ffff\n' >"$W/bad/nonce.hex"
    run --separate-stderr "$HV" audit verify "$LOG" --attestation "$W/bad"
    [ "$status" -eq 4 ]
    [[ $stderr == "hvpatch audit verify: $W/bad: "*"nonce"* ]]

    run "$HV" audit verify "$LOG" --attestation "$W/nowhere"
    [ "$status" -eq 2 ]
}
