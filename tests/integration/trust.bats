#!/usr/bin/env bats
# trust.bats: a running VM's trust store follows its --trust directory:
# a signer revoked while the VM runs is refused (after `hvpatch trust
# reload`, before any apply, and within the periodic bound on its own); a
# CRL that does not load keeps the old store; a stale CRL is reported and
# refuses what it covers; status shows the store's digest and CRL dates.

load helpers

setup_file() {
    [ -x "$HVPATCH" ] || return 0
    "$HVPATCH_ROOT/tests/lib/test-packages.sh" "$HVPATCH_ROOT/build/test-packages" \
        demo >/dev/null
}

setup() {
    require_kvm
    require_swtpm
    P=$HVPATCH_ROOT/build/test-packages/demo
    [ ! -s "$P.skip" ] || skip "packages not built: $(cat "$P.skip")"
    [ -f "$P/done" ] || { echo "packages not built (tests/lib/test-packages.sh)"; return 1; }
    # This test's own copy of the keys: revoking changes its trust/crls.
    K=$BATS_TEST_TMPDIR/keys
    cp -r "$P/keys" "$K"
    AUDIT=$BATS_TEST_TMPDIR/audit.jsonl
}

teardown() { vm_stop; }

start_patchable() {
    vm_start --trust "$K/trust" --audit-log "$AUDIT"
    vm_wait_console "guest: ready"
    wait_for "text lock in the audit log" 10 grep -q text-locked "$AUDIT"
}

apply() { run "$HVPATCH" apply --vm "$VM_SOCK" "$@"; }
reloads() { jq -c 'select(.event == "trust-reload")' "$AUDIT"; }
last_rejected() { jq -r 'select(.event == "rejected") | .code' "$AUDIT" | tail -1; }

@test "trust reload has --help and rejects bad usage with exit 1" {
    run "$HVPATCH" trust --help
    [ "$status" -eq 0 ]
    [[ "$output" == usage:*"trust reload"* ]]
    [[ "$output" == *"every 5 seconds"* ]]
    run "$HVPATCH" trust
    [ "$status" -eq 1 ]
    run "$HVPATCH" trust reload
    [ "$status" -eq 1 ]
    run "$HVPATCH" trust reload --vm /nonexistent extra
    [ "$status" -eq 1 ]
    run "$HVPATCH" --help
    [[ "$output" == *"trust "*"re-read a running VM's trust store"* ]]
}

@test "a signer revoked while the VM runs: trust reload, then its next package is refused and audited" {
    start_patchable
    apply "$P/1.signed"
    [ "$status" -eq 0 ]
    local before
    before=$(vm_status .trust.sha256)
    [ "$(vm_status .trust.crl_count)" = 0 ]
    "$HVPATCH" revoke --keys "$K" "$K/signing.pem" >/dev/null
    run "$HVPATCH" trust reload --vm "$VM_SOCK" --json
    [ "$status" -eq 0 ]
    [ "$(jq -r .crl_count <<<"$output")" = 1 ]
    [ "$(jq -r .sha256 <<<"$output")" != "$before" ]
    [ "$(vm_status .trust.sha256)" = "$(jq -r .sha256 <<<"$output")" ]
    [ "$(reloads | jq -r '[.trigger, .result] | join(" ")' | tail -1)" = "request loaded" ]
    [ "$(reloads | tail -1 | jq -r '.crls | length')" = 1 ]
    [ "$(reloads | tail -1 | jq -r .sha256)" = "$(vm_status .trust.sha256)" ]
    apply "$P/2.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_REVOKE_REVOKED* ]]
    [ "$(last_rejected)" = VRF_ERR_REVOKE_REVOKED ]
    [ "$(vm_status '.patches | length')" = 1 ]
    run "$HVPATCH" audit verify "$AUDIT"
    [ "$status" -eq 0 ]
}

@test "a signer revoked while the VM runs: the very next apply is refused, no reload asked" {
    start_patchable
    apply "$P/1.signed"
    [ "$status" -eq 0 ]
    "$HVPATCH" revoke --keys "$K" "$K/signing.pem" >/dev/null
    apply "$P/2.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_REVOKE_REVOKED* ]]
    [ "$(last_rejected)" = VRF_ERR_REVOKE_REVOKED ]
    [ "$(reloads | jq -r .trigger | tail -1)" = apply ]
}

@test "the verifier re-reads its trust directory on its own within 5 seconds" {
    start_patchable
    [ -z "$(reloads)" ]
    "$HVPATCH" revoke --keys "$K" "$K/signing.pem" >/dev/null
    wait_for "a timer trust-reload in the audit log" 8 \
        grep -q '"trigger":"timer"' "$AUDIT"
    [ "$(reloads | jq -r .result)" = loaded ]
    [ "$(vm_status .trust.crl_count)" = 1 ]
}

@test "a CRL that does not parse or verify is refused, audited, and the old store (with its revocations) stays" {
    "$HVPATCH" revoke --keys "$K" "$K/signing.pem" >/dev/null
    start_patchable
    local before
    before=$(vm_status .trust.sha256)
    echo "not a CRL" >"$K/trust/crls/zz-broken.crl"
    run "$HVPATCH" trust reload --vm "$VM_SOCK"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_TRUST_CRL_PARSE*zz-broken.crl*"trust store in use is unchanged"* ]]
    [ "$(vm_status .trust.sha256)" = "$before" ]
    [ "$(vm_status .trust.last_reload.code)" = VRF_ERR_TRUST_CRL_PARSE ]
    [ "$(reloads | jq -r '[.result, .code, .in_use_sha256] | join(" ")' | tail -1)" = \
        "kept VRF_ERR_TRUST_CRL_PARSE $before" ]
    # The revocation in the old store still holds.
    apply "$P/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_REVOKE_REVOKED* ]]
    # A CRL that parses but no anchor signed: refused the same way.
    rm "$K/trust/crls/zz-broken.crl"
    "$HVPATCH" keygen "$BATS_TEST_TMPDIR/other" >/dev/null
    "$HVPATCH" revoke --keys "$BATS_TEST_TMPDIR/other" -o "$K/trust/crls/zz-other.crl" >/dev/null
    run "$HVPATCH" trust reload --vm "$VM_SOCK"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_TRUST_CRL_ISSUER*zz-other.crl* ]]
    [ "$(vm_status .trust.sha256)" = "$before" ]
    # The bad files removed, the next reload loads again.
    rm "$K/trust/crls/zz-other.crl"
    run "$HVPATCH" trust reload --vm "$VM_SOCK"
    [ "$status" -eq 0 ]
    [ "$(vm_status .trust.last_reload.code)" = VRF_OK ]
}

@test "a CRL past its nextUpdate: reload warns, status shows its dates, applies are refused as stale" {
    start_patchable
    # A CRL of the root that lists nobody, valid for a day, then made
    # stale: its dates are moved 2 days back by openssl.
    openssl_stale_crl "$K" "$K/trust/crls/root.crl"
    run "$HVPATCH" trust reload --vm "$VM_SOCK" --json
    [ "$status" -eq 0 ]
    [ "$(jq -r .last_reload.code <<<"$output")" = VRF_ERR_TRUST_CRL_EXPIRED ]
    [ "$(jq -r '.crls[0].next_update' <<<"$output")" != null ]
    run "$HVPATCH" status --vm "$VM_SOCK"
    [[ "$output" == *"CRL 0:"*"nextUpdate"* ]]
    [[ "$output" == *"last reload:  VRF_ERR_TRUST_CRL_EXPIRED"* ]]
    apply "$P/1.signed"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_REVOKE_CRL_EXPIRED* ]]
}

@test "a chain broken by basicConstraints: apply names the same certificate and constraint as verify" {
    local B=$BATS_TEST_TMPDIR/bad kind want
    openssl_bad_chains "$B"
    # The VM trusts both the test keys' root and the bad chains' root.
    cp "$B/root.pem" "$K/trust/anchors/bad-chains-root.pem"
    start_patchable
    for kind in notca nobc pathlen; do
        sign_bad_chain "$B" "$kind" "$P/1.signed" "$B/$kind.signed"
        run "$HVPATCH" verify "$B/$kind.signed" --trust "$K/trust" \
            --image "$HVPATCH_ROOT/build/guest/demo.elf" --kind demo --seq 0
        [ "$status" -eq 4 ]
        # "...: rejected: CODE: message (detail)" -> "CODE: message: detail"
        want=$(sed -E 's/.*rejected: ([A-Z_0-9]+): ([^(]*) \((.*)\)$/\1: \2: \3/' <<<"$output")
        [[ "$want" == VRF_ERR_CHAIN_NOT_CA:* || "$want" == VRF_ERR_CHAIN_PATHLEN:* ]]
        apply "$B/$kind.signed"
        [ "$status" -eq 4 ]
        echo "verify: $want"
        echo "apply: $output"
        [[ "$output" == *"$want"* ]]
        [ "$(jq -r 'select(.event == "rejected") | "\(.code): \(.reason)"' "$AUDIT" | tail -1)" = "$want" ]
    done
}

# openssl_stale_crl KEYS OUT: an empty CRL signed by the root of KEYS whose
# nextUpdate is yesterday (openssl ca -crl_lastupdate/-crl_nextupdate).
openssl_stale_crl() {
    local d=$BATS_TEST_TMPDIR/ca
    mkdir -p "$d"
    : >"$d/index.txt"
    cat >"$d/cfg" <<EOF
[ca]
default_ca = c
[c]
database = $d/index.txt
default_md = sha384
crlnumber = $d/crlnumber
EOF
    echo 01 >"$d/crlnumber"
    openssl ca -config "$d/cfg" -gencrl -keyfile "$1/root.key" \
        -cert "$1/root.pem" -crl_lastupdate "$(date -u -d '2 days ago' +%Y%m%d%H%M%SZ)" \
        -crl_nextupdate "$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)" \
        -out "$2" 2>/dev/null
}
