#!/usr/bin/env bats
# linux_build.bats: `hvpatch build` for a Linux guest (kind "linux"):
# the two example live patches of tests/linux/patches/ built against
# Debian's cloud kernel (the PVH vmlinux and its running symbol table,
# cached in build/linux by tests/lib/linux-guest.sh), their records
# checked with `hvpatch inspect`, signed and approved by `hvpatch verify`
# offline with the kernel's own ranges; and every refusal the builder owes
# a patch author, each with its exact message. No VM runs here: applying
# the packages is linux_run.bats's business. tests/run picks this file up
# with every other tests/integration/*.bats; the symbol table is usually
# cached by then (linux_boot_protocol.bats dumps it, under QEMU).

load helpers

LINUX_DIR=${HVPATCH_LINUX_DIR:-$HVPATCH_ROOT/build/linux}
GUEST_SH=$HVPATCH_ROOT/tests/lib/linux-guest.sh
PATCHES=$HVPATCH_ROOT/tests/linux/patches

# The kernel and its symbol table, once for the file (the table needs one
# boot under QEMU the first time); the reason is kept so each test skips.
setup_file() {
    local log=$BATS_FILE_TMPDIR/fetch.log
    if ! "$GUEST_SH" vmlinux "$LINUX_DIR" >"$log" 2>&1 ||
        ! "$GUEST_SH" kallsyms "$LINUX_DIR" >>"$log" 2>&1; then
        {
            echo "no Debian kernel and symbol table in $LINUX_DIR:"
            tail -n 3 "$log"
        } | tr '\n' ' ' >"$BATS_FILE_TMPDIR/skip"
    fi
}

setup() {
    [ -x "$HVPATCH" ] || skip "build/hvpatch is not built (make build/hvpatch)"
    [ ! -s "$BATS_FILE_TMPDIR/skip" ] || skip "$(cat "$BATS_FILE_TMPDIR/skip")"
    command -v gcc >/dev/null || skip "gcc not installed"
    VMLINUX=$LINUX_DIR/vmlinux
    KALLSYMS=$LINUX_DIR/kallsyms
    T=$(mktemp -d)
}

teardown() {
    if [ -n "${T:-}" ]; then rm -rf "$T"; fi
}

# build NAME [hvpatch options...]: builds tests/linux/patches/NAME/
# patch.json into $T/NAME.hvp against the cached kernel.
build() {
    local name=$1
    shift
    run "$HVPATCH" build "$PATCHES/$name/patch.json" -o "$T/$name.hvp" \
        --image "$VMLINUX" --symbols "$KALLSYMS" "$@"
}

# The GPA of kernel symbol NAME (the PVH vmlinux has no KASLR: text at
# VA 0xffffffff81000000 is at GPA 0x1000000), as "0x..." without zeros.
sym_gpa() {
    local va
    va=$(awk -v n="$1" '$3 == n { print $1; exit }' "$KALLSYMS")
    [ -n "$va" ] || return 1
    printf '0x%x\n' $((0x$va - 0xffffffff80000000))
}

# hex STRING: its bytes in lower-case hex.
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# The bytes the vmlinux file holds at GPA, in hex: the file offset comes
# from the PT_LOAD holding it (readelf), as the loader finds it.
file_bytes() {
    local gpa=$(($1)) n=$2 type off va pa fsz rest
    while read -r type off va pa fsz rest; do
        [ "$type" = LOAD ] || continue
        if ((gpa >= pa && gpa < pa + fsz)); then
            od -An -tx1 -j $((off + gpa - pa)) -N "$n" "$VMLINUX" | tr -d ' \n'
            return 0
        fi
    done < <(readelf -lW "$VMLINUX")
    return 1
}

# A manifest in $T for redirect FUNCTION -> hp_cmdline_proc_show (the C
# of HP-LINUX-0002), with optional extra top-level JSON ($2).
manifest_for() {
    cp "$PATCHES/hp-linux-cmdline/hp-linux-cmdline.c" "$T/fix.c"
    cat >"$T/m.json" <<EOF
{
  "format": 1, "id": "HP-LINUX-9999", "title": "test", "cves": [],
  "publisher": "tests", "sequence": 9,
  "target": {"kind": "linux", "image": "$VMLINUX", "symbols": "$KALLSYMS"},
  "code": {"sources": ["fix.c"], "area": "kernel"},
  "redirects": [{"function": "$1", "to": "hp_cmdline_proc_show"}]${2:-}
}
EOF
}

# ------------------------------------------------------------ the examples

@test "HP-LINUX-0001: CODE at 0x40000000, REDIRECT over __x2apic_enable's ftrace site" {
    build hp-linux-x2apic
    [ "$status" -eq 0 ]
    [[ "$output" == *"HP-LINUX-0001, sequence 1, 2 records"* ]]
    run "$HVPATCH" inspect --json "$T/hp-linux-x2apic.hvp"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.id == "HP-LINUX-0001" and .sequence == 1'
    echo "$output" | jq -e '.target.kind == "linux"'
    echo "$output" | jq -e --arg h "$(sha256sum "$VMLINUX" | cut -d' ' -f1)" \
        '.target.baseline_sha256 == $h'
    echo "$output" | jq -e '(.records | length) == 2'
    echo "$output" | jq -e '.records[0].kind == "code" and .records[0].gpa == "0x40000000"'
    echo "$output" | jq -e '.records[0].pre_image == "zero" and .records[0].size < 4096'
    echo "$output" | jq -e '.records[1].kind == "redirect" and .records[1].gpa == "0x1063c70"'
    echo "$output" | jq -e '.records[1].pre_image == "0f1f440000"'
    echo "$output" | jq -e '.records[1].target == "0x40000000"'
    [ "$(sym_gpa __x2apic_enable)" = 0x1063c70 ]
    # The message the kernel will print is in the code, at KERN_INFO
    # ("\001" "6").
    code=$(echo "$output" | jq -r '.records[0].new_bytes')
    [[ "$code" == *"0136$(hex 'x2apic enabled (hvpatch: live patch HP-LINUX-0001 ran)')0a00"* ]]
    run "$HVPATCH" inspect "$T/hp-linux-x2apic.hvp"
    [[ "$output" == *"redirect gpa 0x1063c70, 5 bytes"* ]]
    [[ "$output" == *"jmp        e9 rel32 from the site's to the target's virtual address"* ]]
}

@test "HP-LINUX-0002: cmdline_proc_show redirected to code in the second MiB of the patch area" {
    build hp-linux-cmdline
    [ "$status" -eq 0 ]
    run "$HVPATCH" inspect --json "$T/hp-linux-cmdline.hvp"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.id == "HP-LINUX-0002" and .sequence == 2 and .target.kind == "linux"'
    echo "$output" | jq -e '.records[0].kind == "code" and .records[0].gpa == "0x40100000"'
    echo "$output" | jq -e --arg g "$(sym_gpa cmdline_proc_show)" \
        '.records[1].kind == "redirect" and .records[1].gpa == $g'
    echo "$output" | jq -e '.records[1].pre_image == "0f1f440000" and .records[1].target == "0x40100000"'
    code=$(echo "$output" | jq -r '.records[0].new_bytes')
    [[ "$code" == *"$(hex 'hvpatch: this has been live patched')0a00"* ]]
}

@test "the file calls __fentry__ at the site; the pre-image is the NOP ftrace_init wrote" {
    local site fentry rel
    site=$(sym_gpa __x2apic_enable)
    bytes=$(file_bytes "$site" 5)
    [ "${bytes:0:2}" = e8 ]
    # e8 rel32: the call lands on __fentry__.
    rel=$((0x${bytes:8:2}${bytes:6:2}${bytes:4:2}${bytes:2:2}))
    ((rel >= 0x80000000)) && rel=$((rel - 0x100000000))
    fentry=$(sym_gpa __fentry__)
    [ $((site + 5 + rel)) -eq $((fentry)) ]
    build hp-linux-x2apic
    run "$HVPATCH" inspect --json "$T/hp-linux-x2apic.hvp"
    echo "$output" | jq -e '.records[1].pre_image == "0f1f440000"'
}

@test "the ASan build makes the same package bytes" {
    [ -x "$HVPATCH_ASAN" ] || skip "build/asan/hvpatch is not built (make build-check)"
    build hp-linux-x2apic
    [ "$status" -eq 0 ]
    run "$HVPATCH_ASAN" build "$PATCHES/hp-linux-x2apic/patch.json" -o "$T/asan.hvp" \
        --image "$VMLINUX" --symbols "$KALLSYMS"
    [ "$status" -eq 0 ]
    cmp "$T/hp-linux-x2apic.hvp" "$T/asan.hvp"
}

@test "signed, both are approved offline against the kernel's ranges, in sequence" {
    "$HVPATCH" keygen "$T/keys" >/dev/null
    build hp-linux-x2apic
    build hp-linux-cmdline
    for p in hp-linux-x2apic hp-linux-cmdline; do
        "$HVPATCH" sign "$T/$p.hvp" --keys "$T/keys" -o "$T/$p.signed" >/dev/null
    done
    run "$HVPATCH" verify "$T/hp-linux-x2apic.signed" --trust "$T/keys/trust" \
        --kind linux --seq 0 --image "$VMLINUX" --symbols "$KALLSYMS"
    [ "$status" -eq 0 ]
    [[ "$output" == *"approved: HP-LINUX-0001 sequence 1, 2 records"* ]]
    run "$HVPATCH" verify "$T/hp-linux-cmdline.signed" --trust "$T/keys/trust" \
        --kind linux --seq 1 --image "$VMLINUX" --symbols "$KALLSYMS"
    [ "$status" -eq 0 ]
    [[ "$output" == *"approved: HP-LINUX-0002 sequence 2, 2 records"* ]]
    # Once verified against the ranges, the jmp is the one written:
    # e9 rel32 from the site's VA to the patch area's (HV_LINUX_PATCH_VA).
    run "$HVPATCH" verify "$T/hp-linux-x2apic.signed" --trust "$T/keys/trust" \
        --kind linux --seq 0 --image "$VMLINUX" --symbols "$KALLSYMS" --json
    [ "$status" -eq 0 ]
    rel=$((0xffffffffbfe00000 - (0xffffffff81063c70 + 5)))
    want=$(printf 'e9%02x%02x%02x%02x' $((rel & 255)) $((rel >> 8 & 255)) \
        $((rel >> 16 & 255)) $((rel >> 24 & 255)))
    echo "$output" | jq -e --arg j "$want" '.package.records[1].new_bytes == $j'
    # Replay, the demo's kind, another image.
    run "$HVPATCH" verify "$T/hp-linux-x2apic.signed" --trust "$T/keys/trust" \
        --kind linux --seq 1 --image "$VMLINUX" --symbols "$KALLSYMS"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_SEQ_REPLAY* ]]
    run "$HVPATCH" verify "$T/hp-linux-x2apic.signed" --trust "$T/keys/trust" \
        --kind linux --seq 0 --image "$VMLINUX" --symbols "$KALLSYMS" \
        --baseline "$(printf '%064d' 0)"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_BASELINE_DIGEST* ]]
    # Without the kernel's symbols there are no ranges to check against.
    run "$HVPATCH" verify "$T/hp-linux-x2apic.signed" --trust "$T/keys/trust" \
        --kind linux --seq 0 --image "$VMLINUX"
    [ "$status" -eq 1 ]
    [[ "$output" == *"kind linux: --image VMLINUX and --symbols FILE"* ]]
}

@test "verify: the demo guest's ranges refuse a Linux package" {
    "$HVPATCH" keygen "$T/keys" >/dev/null
    build hp-linux-x2apic
    "$HVPATCH" sign "$T/hp-linux-x2apic.hvp" --keys "$T/keys" -o "$T/s" >/dev/null
    run "$HVPATCH" verify "$T/s" --trust "$T/keys/trust" --kind demo --seq 0 \
        --baseline "$(sha256sum "$VMLINUX" | cut -d' ' -f1)"
    [ "$status" -eq 4 ]
    [[ "$output" == *VRF_ERR_BASELINE_KIND* ]]
}

# ------------------------------------------------------------ refusals

@test "refused: a function the symbol table does not have" {
    manifest_for hvpatch_no_such_function
    run "$HVPATCH" build "$T/m.json" -o "$T/x"
    [ "$status" -eq 2 ]
    [[ "$output" == *"symbol not found or ambiguous: hvpatch_no_such_function: not in the kernel's symbol table"* ]]
    [ ! -e "$T/x" ]
}

@test "refused: a data symbol as the function" {
    manifest_for jiffies
    run "$HVPATCH" build "$T/m.json" -o "$T/x"
    [ "$status" -eq 2 ]
    [[ "$output" == *"patch code unusable: redirect: jiffies: a data symbol (type 'D' at 0x"*"), not a function"* ]]
}

@test "refused: a function outside the locked text (init text)" {
    manifest_for start_kernel
    run "$HVPATCH" build "$T/m.json" -o "$T/x"
    [ "$status" -eq 2 ]
    [[ "$output" == *"redirect: start_kernel: at 0x"*", outside the locked kernel text [0xffffffff81000000, 0x"*") (init text is freed after boot)"* ]]
}

@test "refused: a function without an ftrace site (noinstr do_syscall_64)" {
    manifest_for do_syscall_64
    run "$HVPATCH" build "$T/m.json" -o "$T/x"
    [ "$status" -eq 2 ]
    [[ "$output" == *"function do_syscall_64 has no ftrace entry site (notrace or inlined?): it starts "* ]]
}

@test "refused: a patch that calls into init text" {
    manifest_for cmdline_proc_show
    cat >"$T/fix.c" <<'EOF'
struct seq_file;
void start_kernel(void);
int hp_cmdline_proc_show(struct seq_file *m, void *v);
int hp_cmdline_proc_show(struct seq_file *m, void *v)
{
    (void)m;
    (void)v;
    start_kernel();
    return 0;
}
EOF
    run "$HVPATCH" build "$T/m.json" -o "$T/x"
    [ "$status" -eq 2 ]
    [[ "$output" == *"the patch calls start_kernel at 0x"*", outside the locked kernel text"* ]]
}

@test "refused: replace records, and an area outside the patch area" {
    manifest_for cmdline_proc_show ', "replace": [{"symbol": "jiffies", "bytes": "00"}]'
    run "$HVPATCH" build "$T/m.json" -o "$T/x"
    [ "$status" -eq 2 ]
    [[ "$output" == *"\"replace\": not for kind \"linux\""* ]]
    manifest_for cmdline_proc_show
    sed -i 's/"area": "kernel"/"area": "0x40200000"/' "$T/m.json"
    run "$HVPATCH" build "$T/m.json" -o "$T/x"
    [ "$status" -eq 2 ]
    [[ "$output" == *"\"code.area\": \"kernel\" or an address \"0x...\" in the Linux patch area [0x40000000, 0x40200000)"* ]]
    manifest_for cmdline_proc_show
    sed -i 's/, "symbols": "[^"]*"//' "$T/m.json"
    run "$HVPATCH" build "$T/m.json" -o "$T/x"
    [ "$status" -eq 2 ]
    [[ "$output" == *"\"target.symbols\": required for kind \"linux\""* ]]
}

@test "refused: a malformed symbol table names its line" {
    manifest_for cmdline_proc_show
    { head -n 99 "$KALLSYMS"; echo "ffffffff81000000  T two_spaces"; } >"$T/bad.map"
    run "$HVPATCH" build "$T/m.json" -o "$T/x" --symbols "$T/bad.map"
    [ "$status" -eq 2 ]
    [[ "$output" == *"kernel symbol table malformed: $T/bad.map: line 100: expected \"ADDR TYPE NAME\" separated by single spaces"* ]]
    sed 's/^[0-9a-f]*/0000000000000000/' "$KALLSYMS" >"$T/noroot.map"
    run "$HVPATCH" build "$T/m.json" -o "$T/x" --symbols "$T/noroot.map"
    [ "$status" -eq 2 ]
    [[ "$output" == *"every address is 0: /proc/kallsyms was read without root"* ]]
}

@test "refused: the symbol table of a KASLR boot, and a bzImage" {
    manifest_for cmdline_proc_show
    # Every kernel text address 0x2000000 higher, as KASLR would put them.
    sed -E 's/^ffffffff81/ffffffff83/' "$KALLSYMS" >"$T/kaslr.map"
    run "$HVPATCH" build "$T/m.json" -o "$T/x" --symbols "$T/kaslr.map"
    [ "$status" -eq 2 ]
    [[ "$output" == *"_text 0xffffffff83000000"*"do not match the locked text of"*"the table of another kernel, or of a KASLR boot?"* ]]
    [ -s "$LINUX_DIR/vmlinuz" ] || skip "no bzImage in $LINUX_DIR"
    run "$HVPATCH" build "$T/m.json" -o "$T/x" --image "$LINUX_DIR/vmlinuz"
    [ "$status" -eq 2 ]
    [[ "$output" == *"a bzImage: build against the uncompressed ELF vmlinux booted at its PVH entry"* ]]
}
