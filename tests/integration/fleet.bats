#!/usr/bin/env bats
# fleet.bats: the Ansible collection (ansible/) on a real fleet: four demo
# guests under `hvpatch run` on this machine's KVM, vm1 reached over real
# SSH (an sshd of the test's own on loopback), the others locally. Check
# mode changes nothing; a rollout in rings stops at a failing canary and
# leaves the rest untouched; a second rollout succeeds everywhere and is
# idempotent; the compliance report is read in headless Chromium.
#
# The tests share one fleet (setup_file) and run in order: each starts
# from the state the one before left.

load helpers

setup_file() {
    [ -x "$HVPATCH" ] || return 0
    "$HVPATCH_ROOT/tests/lib/test-packages.sh" "$HVPATCH_ROOT/build/test-packages" \
        demo >/dev/null
    K=$HVPATCH_ROOT/build/test-packages/demo
    [ -f "$K/done" ] && [ -e /dev/kvm ] && command -v swtpm >/dev/null &&
        command -v ansible-playbook >/dev/null && [ -x /usr/sbin/sshd ] ||
        return 0
    # short: unix socket paths
    export FLEET_DIR
    FLEET_DIR=$(mktemp -d /tmp/hvfleet.XXXXXX)
    source "$HVPATCH_ROOT/tests/lib/fleet.sh"
    # the fix shipped after the bad package: a sequence above it
    local bad_seq=2
    [ ! -f "$K/bad-heartbeat.signed" ] ||
        bad_seq=$("$HVPATCH" inspect "$K/bad-heartbeat.signed" --json | jq .sequence)
    mkdir -p "$FLEET_DIR/fix"
    fleet_sign_fix $((bad_seq + 1)) "$FLEET_DIR/fix/fix.signed"
    fleet_up "$FLEET_DIR" 4
    echo "${FLEET_PIDS[*]}" >"$FLEET_DIR/pids"
}

teardown_file() {
    [ -n "${FLEET_DIR:-}" ] && [ -d "$FLEET_DIR" ] || return 0
    source "$HVPATCH_ROOT/tests/lib/fleet.sh"
    read -r -a FLEET_PIDS <"$FLEET_DIR/pids" || true
    fleet_down
    [ -n "${FLEET_KEEP:-}" ] || rm -rf "$FLEET_DIR" # FLEET_KEEP=1: to look
}

setup() {
    require_kvm
    require_swtpm
    command -v ansible-playbook >/dev/null || skip "ansible-core not installed"
    [ -x /usr/sbin/sshd ] || skip "openssh-server not installed"
    K=$HVPATCH_ROOT/build/test-packages/demo
    [ ! -s "$K.skip" ] || skip "packages not built: $(cat "$K.skip")"
    [ -n "${FLEET_DIR:-}" ] && [ -S "$FLEET_DIR/vm4/vm.sock" ] ||
        { echo "the fleet did not start (setup_file)"; return 1; }
    source "$HVPATCH_ROOT/tests/lib/fleet.sh"
    ROLLOUT=$HVPATCH_ROOT/ansible/playbooks/rollout.yml
    FIX=$FLEET_DIR/fix/fix.signed
    FIX_SEQ=$("$HVPATCH" inspect "$FIX" --json | jq .sequence)
    # the canary's patch: correctly signed, stops the demo guest's
    # heartbeats; the monitor reverts it (`apply --wait-healthy`)
    BAD=$K/bad-heartbeat.signed
}

# host_package HOST [PKG]: HOST's own package (host_vars), or none.
host_package() {
    mkdir -p "$FLEET_DIR/host_vars"
    rm -f "$FLEET_DIR/host_vars/$1.yml"
    [ -z "${2:-}" ] || echo "hvpatch_package: $2" >"$FLEET_DIR/host_vars/$1.yml"
}

states() {
    local i
    for i in 1 2 3 4; do fleet_state "vm$i"; done
}

@test "eligibility rules and report escaping: unit tests; the modules' docs parse" {
    run /usr/bin/python3 -m unittest discover -s "$HVPATCH_ROOT/ansible/tests/unit" -v
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"OK"* ]]
    # the modules' documentation parses (ansible-doc refuses it otherwise)
    for m in hotpatch report; do
        ANSIBLE_CONFIG=$FLEET_DIR/ansible.cfg run ansible-doc "hvpatch.fleet.$m"
        [ "$status" -eq 0 ]
        [[ "$output" == *"HVPATCH.FLEET.${m^^}"* ]]
    done
}

@test "--check reports every VM's eligibility and changes nothing" {
    local before
    before=$(states)
    # vm3 is asked for a package built for another guest image
    host_package vm3 "$K/other.signed"
    run fleet_playbook "$ROLLOUT" --check -e package="$K/1.signed" \
        -e hvpatch_trust="$K/keys/trust" \
        -e hvpatch_image="$HVPATCH_ROOT/build/guest/demo.elf" \
        -e hvpatch_wait_healthy=true
    host_package vm3
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(states)" = "$before" ]
    for h in vm1 vm2 vm4; do
        [ "$(fleet_result "$output" $h | jq -r .eligibility_msg)" = \
            "would apply HP-2026-0001 (sequence 1)" ]
    done
    [[ "$(fleet_result "$output" vm3 | jq -r .eligibility_msg)" == \
        "ineligible: needs a cold update to baseline "*" (kind demo); the VM runs "* ]]
    # vm1's answer came over SSH, from this test's own sshd
    grep -q "Accepted publickey for $(id -un)" "$FLEET_DIR/ssh/sshd.log"
}

@test "a failing canary stops the rollout: canary on its old code, the rest untouched" {
    local before
    before=$(states)
    host_package vm1 "$BAD"
    run fleet_playbook "$ROLLOUT" -e package="$FIX" \
        -e hvpatch_wait_healthy=true
    host_package vm1
    echo "$output"
    [ "$status" -ne 0 ]
    local msg
    msg=$(fleet_result "$output" vm1 | jq -r .msg)
    [[ "$msg" == "auto-reverted: "* ]]
    grep -q '"event":"auto-reverted"' "$FLEET_DIR/vm1/audit.jsonl"
    [ "$(fleet_state vm1 | jq -c .patches)" = "[]" ]
    [ "$("$HVPATCH" status --vm "$FLEET_DIR/vm1/vm.sock" --json | jq -r .state)" = running ]
    # the later rings never ran: no task result, not one audit record
    ! grep -qE '^vm[234] \|' <<<"$output"
    [ "$(sed -n '2,4p' <<<"$before")" = "$(states | sed -n '2,4p')" ]
}

@test "a second rollout goes ring by ring to every VM; running it again changes nothing" {
    # a short health window: three rings of hvpatch's default 10 s is
    # 30 s of waiting here
    run fleet_playbook "$ROLLOUT" -e package="$FIX" \
        -e hvpatch_wait_healthy=true -e hvpatch_health_window=2
    echo "$output"
    [ "$status" -eq 0 ]
    local h
    for h in vm1 vm2 vm3 vm4; do
        [ "$(fleet_result "$output" $h | jq -r '.changed')" = true ]
        [ "$(fleet_state $h | jq -c .patches)" = "[{\"id\":\"HP-2026-0003\",\"seq\":$FIX_SEQ}]" ]
    done
    # rings: the canary vm1, then 10% (one VM: vm2), then vm3 and vm4
    local order
    order=$(grep -oE '^vm[1-4] \| CHANGED => .*"eligibility"' <<<"$output" | cut -c1-3 | tr '\n' ' ')
    [ "$order" = "vm1 vm2 vm3 vm4 " ] || [ "$order" = "vm1 vm2 vm4 vm3 " ]
    local before
    before=$(states)
    run fleet_playbook "$ROLLOUT" -e package="$FIX" \
        -e hvpatch_wait_healthy=true -e hvpatch_health_window=2
    echo "$output"
    [ "$status" -eq 0 ]
    for h in vm1 vm2 vm3 vm4; do
        [ "$(fleet_result "$output" $h | jq -r '.changed, .eligibility' | tr '\n' ' ')" = "false live " ]
    done
    [ "$(states)" = "$before" ]
}

@test "the compliance report: JSON, and an HTML page read in headless Chromium" {
    command -v chromium >/dev/null || skip "chromium not installed"
    command -v pdftotext >/dev/null || skip "poppler-utils not installed"
    local r=$FLEET_DIR/report
    mkdir -p "$r"
    run fleet_playbook "$HVPATCH_ROOT/ansible/playbooks/report.yml" \
        -e report_dir="$r" -e package="$K/1.signed"
    echo "$output"
    [ "$status" -eq 0 ]
    local j=$r/fleet-report.json
    [ "$(jq -r '[.machines[].machine] | join(" ")' "$j")" = "vm1 vm2 vm3 vm4" ]
    [ "$(jq -r .compliant "$j")" = true ]
    [ "$(jq -r '[.machines[] | .attestation.verdict, .audit.verdict] | unique | join(" ")' "$j")" = verified ]
    [ "$(jq -r '[.machines[].audit.matches_quote] | unique | join(" ")' "$j")" = true ]
    [ "$(jq -r '[.machines[].patches[0].id] | unique | join(" ")' "$j")" = HP-2026-0003 ]
    [ "$(jq -r '.machines[0].eligibility' "$j")" = \
        "ineligible: sequence 1 is older than the VM's committed sequence $FIX_SEQ (anti-rollback)" ]
    # what a person sees: a screenshot, the page as Chromium parsed it,
    # and the page printed to PDF, as text
    local chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic
        --no-first-run --disable-background-networking --disable-component-update
        --disable-sync --user-data-dir="$FLEET_DIR/chromium")
    local url=file://$r/fleet-report.html
    "${chrome[@]}" --window-size=1400,600 --screenshot="$r/report.png" "$url" \
        3>&- 2>"$r/chromium.log"
    [ "$(head -c 4 "$r/report.png" | od -An -c | tr -d ' ')" = '211PNG' ]
    "${chrome[@]}" --dump-dom "$url" 3>&- >"$r/dom.html" 2>>"$r/chromium.log"
    for h in vm1 vm2 vm3 vm4; do
        grep -q "<tr class=\"ok\"><td>$h</td><td>compliant</td>" "$r/dom.html"
    done
    [ "$(grep -o "HP-2026-0003 (sequence $FIX_SEQ), signed by CN=hvpatch hot patch signing" \
        "$r/dom.html" | wc -l)" -eq 4 ]
    [ "$(grep -o '<td>verified (AK not pinned)</td><td>verified (agrees with the quote)</td><td>#[0-9]* applied HP-2026-0003 ' \
        "$r/dom.html" | wc -l)" -eq 4 ]
    "${chrome[@]}" --print-to-pdf="$r/report.pdf" --no-pdf-header-footer "$url" \
        3>&- 2>>"$r/chromium.log"
    pdftotext -layout "$r/report.pdf" "$r/report.txt"
    grep -q "hvpatch fleet compliance report" "$r/report.txt"
    grep -q "4 machines, 4 compliant" "$r/report.txt"
    for h in vm1 vm2 vm3 vm4; do
        grep -qE "^ *$h +compliant +[0-9a-f]{16}" "$r/report.txt"
    done
}

# adhoc HOST 'MODULE ARGS' [ANSIBLE OPTIONS]: the hotpatch module once on
# HOST; prints its result, with the word Ansible printed for it (CHANGED,
# SUCCESS, FAILED!) as "outcome".
adhoc() {
    local host=$1 args=$2
    shift 2
    ANSIBLE_CONFIG=$FLEET_DIR/ansible.cfg ansible -i "$FLEET_DIR/inventory.ini" \
        "$host" -o -m hvpatch.fleet.hotpatch "$@" \
        -a "vm=$FLEET_DIR/$host/vm.sock hvpatch=$HVPATCH $args" |
        sed -E 's/^[^ ]+ \| ([A-Z!]+) => \{/{"outcome": "\1", /'
}

@test "revert: check mode, then once, then ok; the same sequence goes in again; trust reload" {
    local before r
    before=$(fleet_state vm4)
    r=$(adhoc vm4 "state=reverted id=HP-2026-0003" --check)
    [ "$(jq -r '.changed, .msg' <<<"$r" | tr '\n' ' ')" = "true would revert HP-2026-0003 " ]
    [ "$(fleet_state vm4)" = "$before" ]
    r=$(adhoc vm4 "state=reverted id=HP-2026-0003")
    [ "$(jq -r '.changed, .result.op' <<<"$r" | tr '\n' ' ')" = "true revert " ]
    [ "$(fleet_state vm4 | jq -c .patches)" = "[]" ]
    r=$(adhoc vm4 "state=reverted id=HP-2026-0003")
    [ "$(jq -r '.changed, .msg' <<<"$r" | tr '\n' ' ')" = "false HP-2026-0003 is not live " ]
    # it committed the sequence and it is not live: eligible again
    r=$(adhoc vm4 "state=applied package=$FIX")
    [ "$(jq -r '.changed, .committed_sequence, .eligibility_msg' <<<"$r" | tr '\n' ' ')" = \
        "true $FIX_SEQ would apply HP-2026-0003 (sequence $FIX_SEQ) " ]
    [ "$(fleet_state vm4 | jq -c .patches)" = "[{\"id\":\"HP-2026-0003\",\"seq\":$FIX_SEQ}]" ]
    # older never: refused before the VM is asked, nothing changes
    before=$(fleet_state vm4)
    r=$(adhoc vm4 "state=applied package=$K/1.signed")
    [ "$(jq -r '.outcome, .msg' <<<"$r" | tr '\n' ' ')" = \
        "FAILED! ineligible: sequence 1 is older than the VM's committed sequence $FIX_SEQ (anti-rollback) " ]
    [ "$(fleet_state vm4)" = "$before" ]
    r=$(adhoc vm4 state=trust_reloaded)
    if "$HVPATCH" --help | grep -qE '^  trust '; then
        [ "$(jq -r '.changed, .msg' <<<"$r" | tr '\n' ' ')" = "true trust store reloaded " ]
    else
        [[ "$(jq -r .msg <<<"$r")" == "this hvpatch has no \`trust reload\`"* ]]
    fi
}
