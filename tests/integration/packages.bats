#!/usr/bin/env bats
# packages.bats: the signed-package commands end to end (keygen, build,
# sign, inspect, verify, revoke) as the README shows them; chains, CRLs
# and expired or not-yet-valid certificates made with the openssl command
# alone; the demo guest's two fixes built, signed and approved; and the
# tamper matrix run on the real signed kernel fix. No key is committed:
# every key here is made by the test, in a temporary directory.

load helpers

EKU=2.25.155942760495678342082062318095446178319.1.1

setup() {
    [ -x "$HVPATCH" ] || skip "build/hvpatch is not built (make build/hvpatch)"
    T=$(mktemp -d)
    DEMO_ELF=$HVPATCH_ROOT/build/guest/demo.elf
    PATCHES=$HVPATCH_ROOT/guest/patches
}

teardown() {
    if [ -n "${T:-}" ]; then rm -rf "$T"; fi
}

require_demo() {
    [ -f "$DEMO_ELF" ] || skip "demo guest not built (make build/guest/demo.elf)"
    command -v gcc >/dev/null || skip "gcc not installed"
}

# keygen into $T/keys (quietly).
make_keys() {
    "$HVPATCH" keygen "$T/keys" >/dev/null
}

# The demo kernel fix, built and signed: $T/k.hvp (unsigned), $T/k.signed.
demo_kernel_pkg() {
    require_demo
    make_keys
    "$HVPATCH" build "$PATCHES/HP-2026-0001.json" -o "$T/k.hvp" >/dev/null
    "$HVPATCH" sign "$T/k.hvp" --keys "$T/keys" -o "$T/k.signed" >/dev/null
}

verify_demo() { # PKG [more options]
    local pkg=$1
    shift
    run "$HVPATCH" verify "$pkg" --trust "$T/keys/trust" --image "$DEMO_ELF" \
        --kind demo "$@"
}

# ------------------------------------------------------------ every command

@test "each package command has --help and rejects bad usage with exit 1" {
    for cmd in keygen build sign inspect verify revoke; do
        run "$HVPATCH" "$cmd" --help
        [ "$status" -eq 0 ]
        [[ "$output" == usage:* ]]
        run "$HVPATCH" "$cmd" --no-such-option
        [ "$status" -eq 1 ]
        [[ "$output" == "hvpatch $cmd: "* ]]
    done
    run "$HVPATCH" --help
    [[ "$output" == *keygen* && "$output" == *verify* ]]
}

# ------------------------------------------------------------ keygen

@test "keygen: root CA and signing key, private keys 0600, never printed" {
    run "$HVPATCH" keygen "$T/keys"
    [ "$status" -eq 0 ]
    [[ "$output" == *"root.key"* && "$output" == *"$EKU"* ]]
    [[ "$output" != *PRIVATE* ]]
    [ "$(stat -c %a "$T/keys/root.key")" = 600 ]
    [ "$(stat -c %a "$T/keys/signing.key")" = 600 ]
    [ "$(stat -c %a "$T/keys")" = 700 ]
    [ -f "$T/keys/trust/anchors/root.pem" ]
    [ -d "$T/keys/trust/crls" ]
    # No line of either private key appears in what keygen said.
    for k in root.key signing.key; do
        while read -r line; do
            [[ "$output" != *"$line"* ]]
        done < <(grep -v -- ----- "$T/keys/$k")
    done
    grep -q "BEGIN EC PRIVATE KEY" "$T/keys/signing.key"
    run grep -l PRIVATE "$T/keys/signing.pem" "$T/keys/root.pem"
    [ "$status" -eq 1 ]
}

@test "keygen: never overwrites existing keys" {
    make_keys
    sum=$(sha256sum "$T/keys/root.key")
    run "$HVPATCH" keygen "$T/keys"
    [ "$status" -eq 2 ]
    [[ "$output" == "hvpatch keygen: $T/keys: file exists"* ]]
    [ "$(sha256sum "$T/keys/root.key")" = "$sum" ]
}

@test "keygen: openssl reads its keys and certificates" {
    command -v openssl >/dev/null || skip "openssl not installed"
    make_keys
    openssl pkey -in "$T/keys/signing.key" -noout
    openssl pkey -in "$T/keys/root.key" -noout
    run openssl verify -CAfile "$T/keys/root.pem" "$T/keys/signing.pem"
    [ "$status" -eq 0 ]
    run openssl x509 -in "$T/keys/signing.pem" -noout -text
    [[ "$output" == *"$EKU"* && "$output" == *"NIST CURVE: P-384"* ]]
    [[ "$output" == *ecdsa-with-SHA384* && "$output" == *"CA:FALSE"* ]]
    run openssl x509 -in "$T/keys/root.pem" -noout -text
    [[ "$output" == *"CA:TRUE"* && "$output" == *"Certificate Sign, CRL Sign"* ]]
}

# ------------------------------------------------------------ the demo fixes

@test "demo: the guest image (the baseline packages name) is the same bytes wherever the tree is built" {
    require_demo
    command -v make >/dev/null || skip "make not installed"
    # the tree's files as they are now, in a directory of another name
    local src=$T/another/place/hvpatch
    mkdir -p "$src"
    (cd "$HVPATCH_ROOT" && git ls-files -z 2>/dev/null | xargs -0 cp --parents -t "$src") ||
        skip "not a git checkout"
    make -s -C "$src" build/guest/demo.elf >/dev/null
    cmp "$DEMO_ELF" "$src/build/guest/demo.elf"
}

@test "demo: kernel fix builds, signs and is approved against the demo baseline" {
    demo_kernel_pkg
    verify_demo "$T/k.signed" --seq 0
    [ "$status" -eq 0 ]
    [[ "$output" == *"approved: HP-2026-0001 sequence 1, 2 records"* ]]
}

@test "demo: user-library fix builds, signs and is approved" {
    require_demo
    make_keys
    "$HVPATCH" build "$PATCHES/HP-2026-0002.json" -o "$T/u.hvp"
    "$HVPATCH" sign "$T/u.hvp" --keys "$T/keys" -o "$T/u.signed"
    verify_demo "$T/u.signed" --seq 1
    [ "$status" -eq 0 ]
    [[ "$output" == *"approved: HP-2026-0002 sequence 2"* ]]
    run "$HVPATCH" inspect "$T/u.signed" --image "$DEMO_ELF"
    [[ "$output" == *"redirect gpa 0x"*"(ulib_echo+0x0)"* ]]
    [[ "$output" == *"code     gpa 0x40300000"* ]]
}

@test "demo: the kernel fix's redirect is jmp rel32 over sys_klog_read's NOP pad" {
    demo_kernel_pkg
    run "$HVPATCH" inspect "$T/k.signed" --json --image "$DEMO_ELF"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.records[0].kind == "code" and .records[0].gpa == "0x40200000"'
    echo "$output" | jq -e '.records[1].kind == "redirect" and .records[1].symbol == "sys_klog_read+0x0"'
    echo "$output" | jq -e '.records[1].pre_image == "9090909090"'
    echo "$output" | jq -e '.records[1].new_bytes | startswith("e9")'
    echo "$output" | jq -e '.records[1].target == "0x40200000"'
    # The entry's bytes in the image are the pre-image.
    sym=$(nm "$DEMO_ELF" | awk '$3 == "sys_klog_read" { print $1 }')
    [ -n "$sym" ]
    echo "$output" | jq -e --arg g "0x${sym#"${sym%%[!0]*}"}" '.records[1].gpa == $g'
}

@test "demo: every bit-flipped variant of the signed kernel fix is rejected" {
    demo_kernel_pkg
    bin=$HVPATCH_ROOT/build/tests/unit/test_vrf_tamper
    [ -x "$bin" ] || skip "build/tests/unit/test_vrf_tamper not built"
    HVPATCH_TAMPER_PKG=$T/k.signed HVPATCH_TAMPER_TRUST=$T/keys/trust \
        HVPATCH_TAMPER_IMAGE=$DEMO_ELF run "$bin"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"variants, all rejected"* ]]
    [[ "$output" == *"VRF_ERR_SIG_INVALID"* ]]
}

# ------------------------------------------------------------ inspect

@test "inspect: every field, for humans and as JSON" {
    demo_kernel_pkg
    run "$HVPATCH" inspect "$T/k.signed"
    [ "$status" -eq 0 ]
    [[ "$output" == *"package    HP-2026-0001"* ]]
    [[ "$output" == *"title      Demo kernel: sys_klog_read"* ]]
    [[ "$output" == *"publisher  hvpatch project (demo)"* ]]
    [[ "$output" == *"target     kind demo, image sha256 $(sha256sum "$DEMO_ELF" | cut -d' ' -f1)"* ]]
    [[ "$output" == *"sequence   1"* ]]
    [[ "$output" == *"subject    CN=hvpatch hot patch signing"* ]]
    [[ "$output" == *"NOT verified here"* ]]
    [[ "$output" == *"hot patch signing ($EKU)"* ]]
    run "$HVPATCH" inspect "$T/k.signed" --json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.id == "HP-2026-0001" and .format == 1 and .sequence == 1'
    echo "$output" | jq -e '.target.kind == "demo" and (.target.baseline_sha256 | length) == 64'
    echo "$output" | jq -e '.signature.signed and (.signature.verified | not)'
    echo "$output" | jq -e '.signature.x5chain[0].eku_hotpatch_signing'
    echo "$output" | jq -e '(.signature.signature | length) == 192'
    echo "$output" | jq -e '(.records | length) == 2'
    run "$HVPATCH" inspect "$T/k.hvp"
    [[ "$output" == *"signature  none (unsigned"* ]]
}

@test "inspect: malformed packages are refused with the parser's reason" {
    printf 'not a package' >"$T/bad"
    run "$HVPATCH" inspect "$T/bad"
    [ "$status" -eq 4 ]
    [[ "$output" == "hvpatch inspect: $T/bad: rejected: VRF_ERR_PARSE_"* ]]
    run "$HVPATCH" inspect "$T/bad" --json
    [ "$status" -eq 4 ]
    echo "$output" | grep -v '^hvpatch' | jq -e '.error.name | startswith("VRF_ERR_PARSE_")'
    run "$HVPATCH" inspect "$T/missing"
    [ "$status" -eq 2 ]
    [[ "$output" == "hvpatch inspect: $T/missing: cannot read file: "* ]]
}

# ------------------------------------------------------------ verify: refusals

@test "verify: unsigned, replayed, rolled back, wrong image, wrong kind" {
    demo_kernel_pkg
    verify_demo "$T/k.hvp" --seq 0
    [ "$status" -eq 4 ]
    [[ "$output" == *"rejected: VRF_ERR_CHAIN_UNSIGNED: package is not signed"* ]]
    verify_demo "$T/k.signed" --seq 1
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_SEQ_REPLAY"* ]]
    verify_demo "$T/k.signed" --seq 7
    [[ "$output" == *"VRF_ERR_SEQ_ROLLBACK"* ]]
    verify_demo "$T/k.signed" --seq 0 --baseline "$(printf '0%.0s' {1..64})"
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_BASELINE_DIGEST"* ]]
    run "$HVPATCH" verify "$T/k.signed" --trust "$T/keys/trust" \
        --image "$DEMO_ELF" --kind linux --seq 0 \
        --range 0x40000000:0x100000:code:0 --range 0x40200000:0x100000:patch:0
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_BASELINE_KIND"* ]]
}

@test "verify: truncated, trailing garbage and oversized input" {
    demo_kernel_pkg
    head -c -1 "$T/k.signed" >"$T/trunc"
    verify_demo "$T/trunc" --seq 0
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_PARSE_TRUNCATED"* ]]
    { cat "$T/k.signed"; printf '\0'; } >"$T/trail"
    verify_demo "$T/trail" --seq 0
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_PARSE_TRAILING"*"at byte $(stat -c %s "$T/k.signed")"* ]]
    head -c $((4 * 1024 * 1024 + 1)) /dev/zero >"$T/big"
    verify_demo "$T/big" --seq 0
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_PARSE_TOO_LARGE"* ]]
    [[ "$output" == *"package larger than the 4 MiB limit (4194305 bytes)"* ]]
    head -c $((9 * 1024 * 1024)) /dev/zero >"$T/huge"
    verify_demo "$T/huge" --seq 0
    [ "$status" -eq 4 ]
    # The limit is stated once, and is the one that refused it.
    [[ "$output" == *"VRF_ERR_PARSE_TOO_LARGE: package larger than the 4 MiB limit (9437184 bytes)"* ]]
    [[ "$output" != *8388608* ]]
}

@test "verify: a tampered byte is refused, and --json says why" {
    demo_kernel_pkg
    cp "$T/k.signed" "$T/t"
    size=$(stat -c %s "$T/t")
    printf '\x00' | dd of="$T/t" bs=1 seek=$((size - 10)) conv=notrunc 2>/dev/null
    verify_demo "$T/t" --seq 0 --json
    [ "$status" -eq 4 ]
    echo "$output" | grep -v '^hvpatch' | jq -e '.result == "rejected" and .reason.name == "VRF_ERR_SIG_INVALID"'
    verify_demo "$T/k.signed" --seq 0 --json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.result == "approved" and .package.signature.verified'
}

@test "verify: a package signed under another root is not trusted" {
    demo_kernel_pkg
    "$HVPATCH" keygen "$T/other" >/dev/null
    "$HVPATCH" sign "$T/k.hvp" --keys "$T/other" -o "$T/o.signed" >/dev/null
    verify_demo "$T/o.signed" --seq 0
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_CHAIN_UNTRUSTED"* ]]
}

@test "verify: --now checks validity at another time" {
    demo_kernel_pkg
    verify_demo "$T/k.signed" --seq 0 --now 2099-01-01T00:00:00Z
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_VALIDITY_EXPIRED"* ]]
    verify_demo "$T/k.signed" --seq 0 --now 946684800
    [[ "$output" == *"VRF_ERR_VALIDITY_NOT_YET"* ]]
}

@test "verify: --repeat reports the timing (make bench)" {
    demo_kernel_pkg
    verify_demo "$T/k.signed" --seq 0 --repeat 20
    [ "$status" -eq 0 ]
    [[ "$output" == *"verify: 20 runs, chain cache on: median"* ]]
    verify_demo "$T/k.signed" --seq 0 --repeat 5 --no-cache
    [[ "$output" == *"chain cache off"* ]]
}

# ------------------------------------------------------------ sign, build errors

@test "sign: the wrong key for the certificate is refused" {
    demo_kernel_pkg
    run "$HVPATCH" sign "$T/k.hvp" --key "$T/keys/root.key" \
        --cert "$T/keys/signing.pem" -o "$T/x"
    [ "$status" -eq 2 ]
    [[ "$output" == *"private key does not match the certificate"* ]]
    [ ! -e "$T/x" ]
    chmod 644 "$T/keys/signing.key"
    run "$HVPATCH" sign "$T/k.hvp" --keys "$T/keys" -o "$T/x"
    [ "$status" -eq 0 ]
    [[ "$output" == *"is readable by others"* ]]
}

@test "build: a manifest error names the key and file" {
    require_demo
    sed 's/"publisher"/"publisherz"/' "$PATCHES/HP-2026-0001.json" >"$PATCHES/.t.json"
    run "$HVPATCH" build "$PATCHES/.t.json" -o "$T/x"
    rm -f "$PATCHES/.t.json"
    [ "$status" -eq 2 ]
    [[ "$output" == *"manifest invalid: manifest: unknown key \"publisherz\""* ]]
    run "$HVPATCH" build "$PATCHES/HP-2026-0001.json" -o "$T/x" --image /dev/null
    [ "$status" -eq 2 ]
}

# ------------------------------------------------------------ revoke

@test "revoke: hvpatch's CRL revokes the signer; openssl agrees" {
    demo_kernel_pkg
    run "$HVPATCH" revoke --keys "$T/keys" "$T/keys/signing.pem"
    [ "$status" -eq 0 ]
    [ -f "$T/keys/trust/crls/root.crl" ]
    verify_demo "$T/k.signed" --seq 0
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_REVOKE_REVOKED"* ]]
    if command -v openssl >/dev/null; then
        run openssl verify -crl_check -CRLfile "$T/keys/trust/crls/root.crl" \
            -CAfile "$T/keys/root.pem" "$T/keys/signing.pem"
        [ "$status" -ne 0 ]
        [[ "$output" == *"certificate revoked"* ]]
    fi
    # A CRL past its next update fails closed.
    rm "$T/keys/trust/crls/root.crl"
    "$HVPATCH" revoke --keys "$T/keys" --days 1 >/dev/null
    verify_demo "$T/k.signed" --seq 0
    [ "$status" -eq 0 ]
    verify_demo "$T/k.signed" --seq 0 --now "$(( $(date +%s) + 3 * 86400 ))"
    [[ "$output" == *"VRF_ERR_REVOKE_CRL_EXPIRED"* ]]
}

@test "keygen and revoke follow RFC 5758: no NULL parameters after ecdsa-with-SHA384" {
    command -v openssl >/dev/null || skip "openssl not installed"
    make_keys
    "$HVPATCH" revoke --keys "$T/keys" "$T/keys/signing.pem" >/dev/null
    local f n
    for f in "$T/keys/root.pem" "$T/keys/signing.pem" "$T/keys/trust/anchors/root.pem"; do
        run openssl asn1parse -in "$f"
        [ "$status" -eq 0 ]
        # Both AlgorithmIdentifiers (TBS and outer) name ECDSA with SHA-384 ...
        n=$(grep -c ':ecdsa-with-SHA384' <<<"$output")
        [ "$n" -eq 2 ]
        # ... and neither is followed by a NULL.
        n=$(grep -A1 ':ecdsa-with-SHA384' <<<"$output" | grep -c 'prim: NULL' || true)
        [ "$n" -eq 0 ]
    done
    run openssl asn1parse -in "$T/keys/trust/crls/root.crl"
    [ "$status" -eq 0 ]
    [ "$(grep -c ':ecdsa-with-SHA384' <<<"$output")" -eq 2 ]
    n=$(grep -A1 ':ecdsa-with-SHA384' <<<"$output" | grep -c 'prim: NULL' || true)
    [ "$n" -eq 0 ]
    # The re-signed certificates still chain, for openssl and for hvpatch.
    run openssl verify -CAfile "$T/keys/root.pem" "$T/keys/signing.pem"
    [ "$status" -eq 0 ]
    run openssl crl -in "$T/keys/trust/crls/root.crl" -CAfile "$T/keys/root.pem" -noout
    [ "$status" -eq 0 ]
}

# ------------------------------------------------------------ openssl-only PKI

# An OpenSSL CA in $T/ca: root.pem/root.key (P-384, SHA-384), config.
openssl_ca() {
    command -v openssl >/dev/null || skip "openssl not installed"
    mkdir -p "$T/ca/newcerts"
    : >"$T/ca/index.txt"
    echo 1000 >"$T/ca/serial"
    echo 1000 >"$T/ca/crlnumber"
    cat >"$T/ca/cfg" <<EOF
[ req ]
distinguished_name = dn
[ dn ]
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = $T/ca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/root.pem
private_key = \$dir/root.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha384
default_days = 365
default_crl_days = 30
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
[ v3_root ]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_inter ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ hotpatch ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = $EKU
[ noeku ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
EOF
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes \
        -keyout "$T/ca/root.key" -out "$T/ca/root.pem" -subj "/CN=openssl root" \
        -days 3650 -sha384 -config "$T/ca/cfg" -extensions v3_root 2>/dev/null
    mkdir -p "$T/trust/anchors" "$T/trust/crls"
    cp "$T/ca/root.pem" "$T/trust/anchors/"
}

# openssl_cert NAME EXTENSIONS [openssl ca options...]: NAME.key, NAME.pem
openssl_cert() {
    local name=$1 ext=$2
    shift 2
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes \
        -keyout "$T/ca/$name.key" -out "$T/ca/$name.csr" -subj "/CN=$name" \
        -config "$T/ca/cfg" 2>/dev/null
    openssl ca -batch -notext -config "$T/ca/cfg" -extensions "$ext" \
        -in "$T/ca/$name.csr" -out "$T/ca/$name.pem" "$@" 2>/dev/null
}

# sign_with NAME [--chain FILE]: the unsigned demo package signed by NAME.
sign_with() {
    local name=$1
    shift
    "$HVPATCH" sign "$T/k.hvp" --key "$T/ca/$name.key" --cert "$T/ca/$name.pem" \
        -o "$T/$name.signed" "$@" 2>/dev/null
}

verify_openssl() { # NAME
    run "$HVPATCH" verify "$T/$1.signed" --trust "$T/trust" --image "$DEMO_ELF" \
        --kind demo --seq 0
}

@test "openssl: a chain made with the openssl command alone is accepted" {
    demo_kernel_pkg
    openssl_ca
    openssl_cert signer hotpatch
    sign_with signer
    verify_openssl signer
    [ "$status" -eq 0 ]
    [[ "$output" == *"approved"*"signed by CN=signer (anchor CN=openssl root)"* ]]
}

@test "openssl: root, intermediate and signer; the chain travels in x5chain" {
    demo_kernel_pkg
    openssl_ca
    openssl_cert inter v3_inter
    # The signer is issued by the intermediate: a second CA directory.
    sed -e "s|\$dir/root.pem|$T/ca/inter.pem|" -e "s|\$dir/root.key|$T/ca/inter.key|" \
        "$T/ca/cfg" >"$T/ca/cfg.inter"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes \
        -keyout "$T/ca/leaf.key" -out "$T/ca/leaf.csr" -subj "/CN=leaf" \
        -config "$T/ca/cfg" 2>/dev/null
    openssl ca -batch -notext -config "$T/ca/cfg.inter" -extensions hotpatch \
        -in "$T/ca/leaf.csr" -out "$T/ca/leaf.pem" 2>/dev/null
    sign_with leaf --chain "$T/ca/inter.pem"
    verify_openssl leaf
    [ "$status" -eq 0 ]
    run "$HVPATCH" inspect "$T/leaf.signed"
    [[ "$output" == *"cert 1   (intermediate)"* ]]
    # Without the intermediate, no path to the root.
    sign_with leaf
    verify_openssl leaf
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_CHAIN_UNTRUSTED"* ]]
}

@test "openssl: an issuer with CA:FALSE, no basicConstraints or too short a pathlen is named" {
    demo_kernel_pkg
    openssl_bad_chains "$T/bad"
    local kind
    for kind in notca nobc pathlen; do
        sign_bad_chain "$T/bad" "$kind" "$T/k.hvp" "$T/$kind.signed"
        run "$HVPATCH" verify "$T/$kind.signed" --trust "$T/bad/trust" \
            --image "$DEMO_ELF" --kind demo --seq 0
        [ "$status" -eq 4 ]
        echo "$kind: $output"
        case $kind in
        notca) [[ "$output" == *"VRF_ERR_CHAIN_NOT_CA"*"x5chain certificate 1 (CN=inter-notca) has basicConstraints CA:FALSE and cannot issue certificate 0"* ]] ;;
        nobc) [[ "$output" == *"VRF_ERR_CHAIN_NOT_CA"*"x5chain certificate 1 (CN=inter-nobc) has no basicConstraints"* ]] ;;
        pathlen) [[ "$output" == *"VRF_ERR_CHAIN_PATHLEN"*"x5chain certificate 2 (CN=inter-pl0) has pathLenConstraint 0, but 1 intermediate CA certificate(s) follow it"* ]] ;;
        esac
    done
}

@test "openssl: expired, not-yet-valid, missing-EKU and revoked signers are refused" {
    demo_kernel_pkg
    openssl_ca
    openssl_cert expired hotpatch -startdate 20200101000000Z -enddate 20210101000000Z
    openssl_cert future hotpatch -startdate 20990101000000Z -enddate 20991231000000Z
    openssl_cert noeku noeku
    openssl_cert revoked hotpatch
    for n in expired future noeku revoked; do sign_with $n; done
    verify_openssl expired
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_VALIDITY_EXPIRED"* ]]
    verify_openssl future
    [[ "$output" == *"VRF_ERR_VALIDITY_NOT_YET"* ]]
    verify_openssl noeku
    [[ "$output" == *"VRF_ERR_EKU_MISSING"* ]]
    verify_openssl revoked
    [ "$status" -eq 0 ]
    openssl ca -config "$T/ca/cfg" -revoke "$T/ca/revoked.pem" 2>/dev/null
    openssl ca -config "$T/ca/cfg" -gencrl -out "$T/trust/crls/root.crl" 2>/dev/null
    verify_openssl revoked
    [ "$status" -eq 4 ]
    [[ "$output" == *"VRF_ERR_REVOKE_REVOKED"* ]]
    # The others' verdicts do not change with a CRL that does not list them.
    openssl_cert fine hotpatch
    sign_with fine
    verify_openssl fine
    [ "$status" -eq 0 ]
}

@test "trust store: a file that is not a CRL in crls/ is an error, not ignored" {
    demo_kernel_pkg
    echo junk >"$T/keys/trust/crls/root.crl.bak"
    verify_demo "$T/k.signed" --seq 0
    [ "$status" -eq 2 ]
    [[ "$output" == *"trust-store file rejected: $T/keys/trust/crls/root.crl.bak: CRL does not parse"* ]]
}
