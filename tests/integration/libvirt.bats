#!/usr/bin/env bats
# libvirt.bats: `hvpatch lab probe` and `hvpatch audit` against a real
# libvirtd and virtlogd (started here with -d, no systemd, in a private
# mount namespace: tests/lib/libvirt-lab.sh) managing a domain that boots
# Debian's cloud kernel: eligibility of this host locally and through two
# URIs; record -> check intact, over the unix socket and over qemu+ext (the
# remote protocol through a pipe, as qemu+ssh carries it); a kprobe set
# inside the guest reported as an unknown modification at vfs_read; the
# same change explained by a signed package (exit 5) but not by an
# untrusted or wrong one; clear errors for a missing domain, a daemon that
# is down and a wrong URI; and no process left behind.
#
# One guest boot for the whole file. The domain is TCG (type qemu) on this
# project's kvm_pvm machines, where a kvm domain cannot run a stock
# kernel's ring 0; type kvm on VT-x or AMD-V hosts. The audit reads guest
# memory through libvirt either way.

load helpers
bats_require_minimum_version 1.5.0

DOM=hvp-audit
LAB_SH=$HVPATCH_ROOT/tests/lib/libvirt-lab.sh

missing_tool() {
    local t
    for t in libvirtd virtlogd virsh qemu-system-x86_64 socat busybox unshare \
        gcc gzip base64; do
        command -v "$t" >/dev/null || { echo "$t"; return 0; }
    done
    return 1
}

setup_file() {
    local t
    if t=$(missing_tool); then
        echo "$t not installed (scripts/deps.sh test)" >"$BATS_FILE_TMPDIR/skip"
        return 0
    fi
    if [ ! -x "$HVPATCH" ]; then
        echo "build/hvpatch not built" >"$BATS_FILE_TMPDIR/skip"
        return 0
    fi
    if ! "$HVPATCH_ROOT/tests/lib/linux-guest.sh" fetch \
        "${HVPATCH_LINUX_DIR:-$HVPATCH_ROOT/build/linux}" >/dev/null 2>&1; then
        echo "cannot fetch Debian's kernel (apt-get download)" >"$BATS_FILE_TMPDIR/skip"
        return 0
    fi
    # shellcheck source=../lib/libvirt-lab.sh
    source "$LAB_SH"
    # A short path: unix socket paths are limited to 107 bytes.
    LAB_HOME=$(mktemp -d /tmp/hvplab.XXXXXX)
    echo "$LAB_HOME" >"$BATS_FILE_TMPDIR/lab_home"
    lab_start "$LAB_HOME"
    lab_guest_start "$DOM"
    # Record only once the kernel has stopped rewriting itself: crng
    # readiness flips static keys (so wait for it), and the first trace
    # event turns on the scheduler tracepoints (so turn them on now, and a
    # kprobe later changes nothing but its own byte).
    lab_guest_cmd "head -c 1 /dev/random >/dev/null" 120
    lab_guest_cmd "echo 0 >/proc/sys/debug/kprobes-optimization && echo 1 >/sys/kernel/tracing/events/sched/sched_process_exec/enable"
    lab_guest_map "$LAB_HOME/guest.map"
    export LAB_HOME LAB_URI LAB_EXT_URI LAB_CONSOLE LAB_CMD
}

teardown_file() {
    [ -s "$BATS_FILE_TMPDIR/lab_home" ] || return 0
    source "$LAB_SH"
    LAB_DIR=$(cat "$BATS_FILE_TMPDIR/lab_home")
    lab_stop
    rm -rf "$(cat "$BATS_FILE_TMPDIR/lab_home")"
}

setup() {
    [ ! -s "$BATS_FILE_TMPDIR/skip" ] || skip "$(cat "$BATS_FILE_TMPDIR/skip")"
    source "$LAB_SH"
    LAB_DIR=$LAB_HOME
    REC=$BATS_FILE_TMPDIR/record.json
    # The ASan+UBSan build when there is one: leaks and UB fail the test.
    HVP=$HVPATCH
    [ ! -x "$HVPATCH_ASAN" ] || HVP=$HVPATCH_ASAN
    MAP=$LAB_HOME/guest.map
}

# sym NAME: the map's address of NAME, in hex without 0x.
sym() { awk -v n="$1" '$3 == n {print $1; exit}' "$MAP"; }

# The guest-physical address of vfs_read+5: "Kernel code" start + offset.
site_gpa() {
    local kc
    kc=$(awk '/Kernel code/ {split($1, a, "-"); print a[1]; exit}' "$MAP")
    printf '0x%x' $((0x$kc + 0x$(sym vfs_read) - 0x$(sym _text) + 5))
}

# An unsigned package replacing BYTES at GPA, built with `hvpatch build`
# from a one-byte ELF image that holds the pre-image at GPA, then signed
# with the keys in KEYDIR: OUT.
make_package() { # OUT ID GPA PRE BYTES KEYDIR
    local out=$1 id=$2 gpa=$3 pre=$4 bytes=$5 keys=$6 w
    w=$(mktemp -d "$BATS_FILE_TMPDIR/pkg.XXXXXX")
    printf '.section .text\n.globl site\nsite: .byte 0x%s\n' "$pre" >"$w/site.S"
    gcc -nostdlib -static -no-pie -Wl,-Ttext="$gpa" -Wl,-e,site \
        -Wl,--build-id=none -o "$w/image.elf" "$w/site.S"
    cat >"$w/manifest.json" <<EOF
{
  "format": 1, "id": "$id", "title": "test: int3 at vfs_read+5",
  "cves": [], "publisher": "hvpatch tests", "sequence": 1,
  "target": {"kind": "linux", "image": "image.elf"},
  "replace": [{"gpa": "$gpa", "bytes": "$bytes"}]
}
EOF
    "$HVPATCH" build "$w/manifest.json" -o "$w/unsigned" >/dev/null
    "$HVPATCH" sign "$w/unsigned" --keys "$keys" -o "$out" >/dev/null
}

# ------------------------------------------------------------------ probe

@test "lab probe: this host, from CPUID and /dev/kvm, table and JSON" {
    run --separate-stderr "$HVP" lab probe --json
    echo "$output"
    local flavour vendor
    flavour=$(kvm_flavour)
    vendor=$(grep -m1 '^vendor_id' /proc/cpuinfo | awk '{print $3}')
    [ "$(jq -r '.hosts | length' <<<"$output")" -eq 1 ]
    [ "$(jq -r '.hosts[0].via' <<<"$output")" = local ]
    case $vendor in
    GenuineIntel) [ "$(jq -r '.hosts[0].cpu_vendor' <<<"$output")" = Intel ] ;;
    AuthenticAMD) [ "$(jq -r '.hosts[0].cpu_vendor' <<<"$output")" = AMD ] ;;
    esac
    [ "$(jq -r '.hosts[0].kvm_module // "none"' <<<"$output")" = "$flavour" ]
    [ "$(jq -r '.hosts[0].kvm_usable' <<<"$output")" = true ]
    [ "$(jq -r '.hosts[0].readonly_memslots' <<<"$output")" = true ]
    if [ "$flavour" = kvm_pvm ]; then
        [ "$status" -eq 7 ]
        [ "$(jq -r '.hosts[0].eligible' <<<"$output")" = false ]
        [ "$(jq -r '.hosts[0].vtx_amdv' <<<"$output")" = false ]
        jq -e '.hosts[0].reasons[0] | contains("kvm_pvm")' <<<"$output"
    else
        [ "$(jq -r '.hosts[0].vtx_amdv' <<<"$output")" = true ]
    fi
    run "$HVP" lab probe
    echo "$output"
    [[ ${lines[0]} == "HOST "*"VT-x/AMD-V"*"EPT/NPT"*"RO-MEMSLOTS"*"TPM"*"ELIGIBLE" ]]
    [[ ${lines[1]} == *" local "* ]]
}

@test "lab probe: two libvirt URIs give one row each" {
    run --separate-stderr "$HVP" lab probe --connect "$LAB_URI" --connect "$LAB_EXT_URI" --json
    echo "$output"
    [ "$status" -eq 0 ] || [ "$status" -eq 7 ]
    [ "$(jq -r '.hosts | length' <<<"$output")" -eq 2 ]
    [ "$(jq -r '.hosts[0].via' <<<"$output")" = "$LAB_URI" ]
    [ "$(jq -r '.hosts[1].via' <<<"$output")" = "$LAB_EXT_URI" ]
    [ "$(jq -r '.hosts[0].host' <<<"$output")" = "$(hostname)" ]
    [ "$(jq -r '[.hosts[].source] | unique | .[]' <<<"$output")" = libvirt ]
    [ "$(jq -r '[.hosts[].kvm_usable] | all' <<<"$output")" = true ]
    [ "$(jq -r '.hosts[0].readonly_memslots_inferred' <<<"$output")" = true ]
    # the emulator TPM backend: swtpm (installed with the test packages)
    if command -v swtpm >/dev/null; then
        [ "$(jq -r '.hosts[0].tpm_swtpm' <<<"$output")" = true ]
    fi
    if [ "$(kvm_flavour)" = kvm_pvm ]; then
        [ "$status" -eq 7 ]
        [ "$(jq -r '.hosts[0].vtx_amdv' <<<"$output")" = false ]
    fi
    run "$HVP" lab probe --connect "$LAB_URI" --connect "$LAB_EXT_URI"
    [ "${#lines[@]}" -ge 3 ]
    [[ ${lines[1]} == "$(hostname) "*"$LAB_URI"* ]]
    [[ ${lines[2]} == "$(hostname) "*"$LAB_EXT_URI"* ]]
}

@test "lab probe: a daemon that is down or a wrong URI is exit 2, naming the call" {
    local down="qemu+unix:///system?socket=$BATS_TEST_TMPDIR/no-daemon"
    run "$HVP" lab probe --connect "$down"
    echo "$output"
    [ "$status" -eq 2 ]
    [[ $output == *"hvpatch lab probe: $down: virConnectOpenAuth($down): Failed to connect socket to '$BATS_TEST_TMPDIR/no-daemon'"* ]]
    run "$HVP" lab probe --connect "qemu+bogus:///system"
    echo "$output"
    [ "$status" -eq 2 ]
    [[ $output == *"virConnectOpenAuth(qemu+bogus:///system): "*"transport in URL not recognised"* ]]
    run "$HVP" lab probe --connect "not a uri"
    [ "$status" -eq 2 ]
    [[ $output == *"virConnectOpenAuth(not a uri): "*"Unable to parse URI"* ]]
    # one good host and one bad one: both rows, exit 2
    run --separate-stderr "$HVP" lab probe --connect "$LAB_URI" --connect "$down" --json
    [ "$status" -eq 2 ]
    [ "$(jq -r '.hosts[0].error' <<<"$output")" = null ]
    [[ $(jq -r '.hosts[1].error' <<<"$output") == *"Failed to connect socket"* ]]
    run "$HVP" lab probe --bogus
    [ "$status" -eq 1 ]
    run "$HVP" lab
    [ "$status" -eq 1 ]
}

# ------------------------------------------------------------------ audit

@test "audit: record, then check: intact (exit 0), also over qemu+ext" {
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --record "$REC" \
        --symbols "$MAP"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"recorded domain '$DOM'"* ]]
    jq -e '.format == "hvpatch-kernel-text-record" and .version == 1' "$REC"
    [ "$(jq -r .domain.name "$REC")" = "$DOM" ]
    [ "$(jq -r .domain.uuid "$REC")" = "$(virsh -q -c "$LAB_URI" domuuid "$DOM")" ]
    # the text is where the guest's /proc/iomem says, as big as _etext - _text
    local kc
    kc=$(awk '/Kernel code/ {split($1, a, "-"); print a[1]; exit}' "$MAP")
    [ "$(jq -r .text.phys "$REC")" = "$(printf '0x%x' $((0x$kc)))" ]
    [ "$(jq -r .text.size "$REC")" -eq $((0x$(sym _etext) - 0x$(sym _text))) ]
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --check "$REC"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ ${lines[-1]} == "verdict: INTACT: every page equals the record" ]]
    run "$HVP" audit --connect "$LAB_EXT_URI" --domain "$DOM" --check "$REC" --json
    [ "$status" -eq 0 ]
    [ "$(jq -r .verdict <<<"$output")" = intact ]
    [ "$(jq -r .pages.changed <<<"$output")" -eq 0 ]
    [ "$(jq -r .pages.total <<<"$output")" -eq "$(jq -r '.text.size + 4095 | . / 4096 | floor' "$REC")" ]
}

@test "audit: --record keeps an existing record unless --force" {
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --record "$REC" \
        --symbols "$MAP"
    [ "$status" -eq 2 ]
    [[ $output == *"--force replaces it"* ]]
    cp "$REC" "$BATS_TEST_TMPDIR/r.json"
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --record \
        "$BATS_TEST_TMPDIR/r.json" --symbols "$MAP" --force --json
    [ "$status" -eq 0 ]
    [ "$(jq -r .pages <<<"$output")" -eq "$(jq -r .pages.total <<<"$("$HVP" audit --connect "$LAB_URI" --domain "$DOM" --check "$REC" --json)")" ]
}

@test "audit: a kprobe set inside the guest is an unknown modification at vfs_read (exit 6)" {
    local gpa pre
    gpa=$(site_gpa)
    # the byte there now, through QEMU's monitor, for the package test below
    pre=$(virsh -q -c "$LAB_URI" qemu-monitor-command "$DOM" --hmp "xp /1xb $gpa" |
        tr -d '\r' | awk 'NF {print $2}')
    [[ $pre =~ ^0x[0-9a-f]{2}$ ]]
    echo "${pre#0x}" >"$BATS_FILE_TMPDIR/pre"
    lab_guest_cmd "echo 'p:hvp vfs_read+5' >>/sys/kernel/tracing/kprobe_events && echo 1 >/sys/kernel/tracing/events/kprobes/hvp/enable"
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --check "$REC"
    echo "$output"
    [ "$status" -eq 6 ]
    [[ $output == *"UNKNOWN [0x"*"vfs_read+0x"* ]]
    [[ ${lines[-1]} == "verdict: UNKNOWN MODIFICATION: 1 of "*" pages changed in ways no signed package explains" ]]
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --check "$REC" --json
    [ "$status" -eq 6 ]
    [ "$(jq -r .verdict <<<"$output")" = unknown ]
    [ "$(jq -r '.changes | length' <<<"$output")" -eq 1 ]
    local c='.changes[0]'
    [ "$(jq -r "$c.kind" <<<"$output")" = unknown ]
    [ "$(jq -r "$c.symbol" <<<"$output")" = vfs_read ]
    (($(jq -r "$c.phys_start" <<<"$output") <= gpa && gpa < $(jq -r "$c.phys_end" <<<"$output")))
    # the int3 is in the bytes shown, at its place in the range
    local at=$((gpa - $(jq -r "$c.phys_start" <<<"$output")))
    [ "$(jq -r "$c.now" <<<"$output" | cut -c$((2 * at + 1))-$((2 * at + 2)))" = cc ]
}

@test "audit: the same change, as a signed package says: exit 5, package and signer named" {
    local gpa pre
    gpa=$(site_gpa)
    pre=$(cat "$BATS_FILE_TMPDIR/pre")
    "$HVPATCH" keygen "$BATS_FILE_TMPDIR/keys" >/dev/null
    mkdir -p "$BATS_FILE_TMPDIR/pkgs"
    make_package "$BATS_FILE_TMPDIR/pkgs/HP-LAB-0001.hvp" HP-LAB-0001 "$gpa" \
        "$pre" cc "$BATS_FILE_TMPDIR/keys"
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --check "$REC" \
        --packages "$BATS_FILE_TMPDIR/pkgs" --trust "$BATS_FILE_TMPDIR/keys/trust"
    echo "$output"
    [ "$status" -eq 5 ]
    [[ $output == *"HP-LAB-0001.hvp: HP-LAB-0001 (sequence 1) signed by CN=hvpatch hot patch signing, O=hvpatch: applied"* ]]
    [[ $output == *"signed  [$gpa, "*"vfs_read+0x5  by HP-LAB-0001 record 0"* ]]
    [[ ${lines[-1]} == "verdict: CHANGED AS SIGNED: 1 pages changed, each exactly as signed packages say: HP-LAB-0001 (signer CN=hvpatch hot patch signing, O=hvpatch)" ]]
    run "$HVP" audit --connect "$LAB_EXT_URI" --domain "$DOM" --check "$REC" \
        --packages "$BATS_FILE_TMPDIR/pkgs" --trust "$BATS_FILE_TMPDIR/keys/trust" --json
    [ "$status" -eq 5 ]
    [ "$(jq -r .verdict <<<"$output")" = signed ]
    [ "$(jq -r '.packages[0].status' <<<"$output")" = VRF_OK ]
    [ "$(jq -r '.packages[0].applied' <<<"$output")" = true ]
    [ "$(jq -r '.packages[0].anchor' <<<"$output")" = "CN=hvpatch hot patch root CA, O=hvpatch" ]
    [ "$(jq -r '.changes[0].kind' <<<"$output")" = signed ]
    [ "$(jq -r '.changes[0].package' <<<"$output")" = HP-LAB-0001 ]
    [ "$(jq -r '.changes[0].phys_start' <<<"$output")" = "$gpa" ]
}

@test "audit: an untrusted signer or other bytes explain nothing: exit 6" {
    local gpa pre
    gpa=$(site_gpa)
    pre=$(cat "$BATS_FILE_TMPDIR/pre")
    "$HVPATCH" keygen "$BATS_TEST_TMPDIR/other" --org mallory >/dev/null
    mkdir -p "$BATS_TEST_TMPDIR/pkgs"
    make_package "$BATS_TEST_TMPDIR/pkgs/untrusted.hvp" HP-LAB-0002 "$gpa" "$pre" \
        cc "$BATS_TEST_TMPDIR/other"
    make_package "$BATS_TEST_TMPDIR/pkgs/wrong-bytes.hvp" HP-LAB-0003 "$gpa" "$pre" \
        90 "$BATS_FILE_TMPDIR/keys"
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --check "$REC" \
        --packages "$BATS_TEST_TMPDIR/pkgs" --trust "$BATS_FILE_TMPDIR/keys/trust"
    echo "$output"
    [ "$status" -eq 6 ]
    [[ $output == *"untrusted.hvp: rejected: VRF_ERR_CHAIN_UNTRUSTED"* ]]
    [[ $output == *"wrong-bytes.hvp: HP-LAB-0003 (sequence 1) signed by "*": not applied: record 0 at $gpa does not hold the package's new bytes"* ]]
    [[ ${lines[-1]} == "verdict: UNKNOWN MODIFICATION: "* ]]
}

@test "audit: errors: no such domain, daemon down, wrong URI, bad or foreign record: exit 2" {
    run "$HVP" audit --connect "$LAB_URI" --domain no-such-domain --check "$REC"
    echo "$output"
    [ "$status" -eq 2 ]
    [[ $output == "hvpatch audit: domain 'no-such-domain': virDomainLookupByName(no-such-domain): Domain not found"* ]]
    # a domain that is defined but not running
    sed -e "s|<name>$DOM</name>|<name>hvp-stopped</name>|" \
        "$LAB_HOME/guest/$DOM.xml" >"$BATS_TEST_TMPDIR/stopped.xml"
    virsh -q -c "$LAB_URI" define "$BATS_TEST_TMPDIR/stopped.xml" >/dev/null
    run "$HVP" audit --connect "$LAB_URI" --domain hvp-stopped --check "$REC"
    [ "$status" -eq 2 ]
    [ "$output" = "hvpatch audit: domain 'hvp-stopped': not running (virDomainIsActive: 0)" ]
    local down="qemu+unix:///system?socket=$BATS_TEST_TMPDIR/no-daemon"
    run "$HVP" audit --connect "$down" --domain "$DOM" --check "$REC"
    echo "$output"
    [ "$status" -eq 2 ]
    [[ $output == "hvpatch audit: connect: virConnectOpenAuth($down): Failed to connect socket"* ]]
    run "$HVP" audit --connect "qemu+bogus:///system" --domain "$DOM" --check "$REC"
    [ "$status" -eq 2 ]
    [[ $output == "hvpatch audit: connect: virConnectOpenAuth(qemu+bogus:///system): "*"transport in URL not recognised"* ]]
    # a damaged record: the field is named
    jq '.pages = "AAAA"' "$REC" >"$BATS_TEST_TMPDIR/bad.json"
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --check "$BATS_TEST_TMPDIR/bad.json"
    [ "$status" -eq 2 ]
    [[ $output == *"bad.json: \"pages\": base64 length does not match text.size" ]]
    # another domain's record
    jq '.domain.uuid = "00000000-0000-0000-0000-000000000000" | .domain.name = "other"' \
        "$REC" >"$BATS_TEST_TMPDIR/other.json"
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --check "$BATS_TEST_TMPDIR/other.json"
    [ "$status" -eq 2 ]
    [[ $output == *"the record is for domain 'other' (00000000-0000-0000-0000-000000000000), not '$DOM'"* ]]
    # a map from another boot (KASLR): refused before anything is written
    local range start end moved
    range=$(awk '/Kernel code/ {print $1; exit}' "$MAP")
    start=$((0x${range%-*})) end=$((0x${range#*-}))
    moved=$((start + 0x200000))
    {
        printf '  %08x-%08x : Kernel code\n' "$moved" $((moved + end - start))
        grep -v 'Kernel code' "$MAP"
    } >"$BATS_TEST_TMPDIR/stale.map"
    run "$HVP" audit --connect "$LAB_URI" --domain "$DOM" --record \
        "$BATS_TEST_TMPDIR/stale.json" --symbols "$BATS_TEST_TMPDIR/stale.map"
    echo "$output"
    [ "$status" -eq 2 ]
    [[ $output == *"is not the memory at physical $(printf '0x%x' "$moved")"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/stale.json" ]
}

@test "audit: usage errors are exit 1" {
    run "$HVP" audit --help
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "usage: hvpatch audit"* ]]
    run "$HVP" audit --domain x
    [ "$status" -eq 1 ]
    [[ ${lines[0]} == "hvpatch audit: give exactly one of --record and --check" ]]
    run "$HVP" audit --domain x --record r
    [ "$status" -eq 1 ]
    run "$HVP" audit --domain x --check r --packages p
    [ "$status" -eq 1 ]
    [[ ${lines[0]} == *"--packages DIR and --trust DIR go together" ]]
    run "$HVP" audit --domain x --check r --text-phys nope
    [ "$status" -eq 1 ]
}

@test "stopping the lab leaves no libvirtd, virtlogd or QEMU behind" {
    local pids
    pids=$(cat "$LAB_HOME/pids")
    [ "$(echo "$pids" | wc -l)" -ge 3 ] # virtlogd, libvirtd, the domain's QEMU
    lab_stop
    [ -z "$(lab_leftovers "$LAB_HOME")" ]
}
