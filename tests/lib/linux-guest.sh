#!/bin/sh
# linux-guest.sh: fetch Debian's cloud kernel and build a busybox initramfs,
# for tests that boot a real Linux guest (libvirt lab, Linux boot protocol).
#
# Usage: tests/lib/linux-guest.sh fetch OUTDIR      prints the bzImage path
#        tests/lib/linux-guest.sh initramfs OUTDIR  prints the initramfs path
#        tests/lib/linux-guest.sh modules OUTDIR    prints the modules dir
#        tests/lib/linux-guest.sh release OUTDIR    prints the kernel release
#        tests/lib/linux-guest.sh version OUTDIR    prints the package version
#                                                   (what the kernel's banner
#                                                   says after "Debian ")
#        tests/lib/linux-guest.sh vmlinux OUTDIR    prints the path of the
#                                                   uncompressed ELF vmlinux
#        tests/lib/linux-guest.sh kallsyms OUTDIR   prints the path of the
#                                                   running kernel's symbol
#                                                   table (System.map format)
#        tests/lib/linux-guest.sh klp OUTDIR        prints the path of the
#                                                   livepatch module
#                                                   klp_cmdline.ko
#        tests/lib/linux-guest.sh initramfs-klp OUTDIR
#                                                   prints the path of an
#                                                   initramfs holding it
#
# fetch downloads the versioned package that linux-image-cloud-amd64
# depends on (or $LINUX_GUEST_PKG) with `apt-get download` and extracts it
# with dpkg-deb into OUTDIR (never /boot); later calls reuse OUTDIR. It
# needs Debian's package registry only the first time.
#
# vmlinux extracts the kernel's uncompressed ELF image (the one with the PVH
# entry note) from the bzImage the way scripts/extract-vmlinux does, with
# Debian's decompressor for the compression the kernel was built with (the
# cloud kernel uses lz4); the setup header's payload_offset/payload_length
# say where the compressed payload is.
#
# kallsyms boots OUTDIR/vmlinux (PVH entry, so no KASLR: the addresses are
# the link-time ones, as under `hvpatch run --kernel`) with the initramfs
# under QEMU's TCG (tests/lib/linux-qemu.sh; kvm_pvm cannot take this
# kernel to user space), has the guest's root `cat /proc/kallsyms` between
# marker lines, checks every line ("ADDR TYPE NAME", 16 hex digits, not all
# zero) and the line count, and writes the kernel's own symbols (no module
# entries) atomically to OUTDIR/kallsyms as "ADDR TYPE NAME" lines; later
# calls reuse it. Debian's package ships only a placeholder System.map. It
# needs qemu-system-x86_64, build/tests/linux_boot_tool and
# build/tests/linux_qemu_stub.bin (or $HVPATCH_LINUX_BOOT_TOOL,
# $HVPATCH_LINUX_QEMU_STUB), and gives up after $LINUX_KALLSYMS_SECONDS
# (default 300; a dump takes about a minute on 2 cores), killing QEMU.
#
# The initramfs holds busybox-static, the kernel's pvpanic modules (loaded
# first: a panic reaches the monitor) and an /init that mounts proc, sys,
# devtmpfs and tracefs, prints
#     hvpatch-initramfs: init reached, <kernel release>, cpus=<online CPUs>
#     hvpatch-guest: ready <kernel release>
# on the console, then runs each line it reads from the input device (the
# kernel command-line option hvpatch.input=/dev/ttySn, default /dev/console)
# with sh, output on the console, and after each prints
#     hvpatch-guest: rc=<exit status>
# so a test can drive the guest over a serial line and wait for each step.
# "poweroff" powers the guest off; `poweroff -f` and `reboot -f` work as
# commands too. With hvpatch.shell on the kernel command line, /init runs
# an interactive shell on the console instead (a newcomer's demo), and
# powers off when it exits. With hvpatch.lock, /init asks the monitor for
# the kernel text lock (a byte to I/O port 0xe0, written by
# /bin/hvpatch-lock: build/tests/guests/lock_port, or
# $HVPATCH_LOCK_TOOL; the kernel has no /dev/port) once it is reached. The image is reproducible (sorted, fixed
# mtimes, gzip -n): its digest, measured into PCR 9, depends on content only.
#
# klp and initramfs-klp serve the in-guest livepatch comparison
# (tests/bench/bench_klp.sh). klp downloads Debian's headers for exactly the fetched kernel
# (linux-headers-<release>, linux-headers-<abi>-common and linux-kbuild-<x.y>
# at the image's package version) with `apt-get download`, extracts them
# into OUTDIR/headers (never /usr/src) and builds tests/linux/klp_cmdline.c
# in OUTDIR/klp with the compiler the kernel was built with (its config's
# CONFIG_CC_VERSION_TEXT: gcc-12 for Debian 12); both are cached. The module
# is unsigned: the kernel has MODULE_SIG but not MODULE_SIG_FORCE, so it
# loads and taints the kernel (E, plus O and K).
# initramfs-klp appends a second archive holding /klp/klp_cmdline.ko to the
# standard initramfs (Linux unpacks concatenated archives in turn), so the
# standard image and its digest stay as they are.
set -eu

die() {
    echo "linux-guest.sh: $*" >&2
    exit 1
}

# The versioned image package behind the cloud metapackage.
kernel_pkg() {
    if [ -n "${LINUX_GUEST_PKG:-}" ]; then
        echo "$LINUX_GUEST_PKG"
        return
    fi
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

fetch() {
    out=$1
    # complete: vmlinuz and version (a cache made before version was
    # recorded is fetched again, once)
    if [ -s "$out/vmlinuz" ] && [ -s "$out/version" ]; then
        echo "$out/vmlinuz"
        return
    fi
    mkdir -p "$out"
    pkg=$(kernel_pkg)
    [ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64 (apt-get update?)"
    tmp=$(mktemp -d "$out/.fetch.XXXXXX")
    # apt-get download writes into the current directory; _apt cannot
    # write to a root-owned temp dir, so it downloads unsandboxed (fine).
    (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/apt.log") ||
        { cat "$tmp/apt.log" >&2; rm -rf "$tmp"; die "apt-get download $pkg failed"; }
    dpkg-deb -x "$tmp"/*.deb "$tmp/x" || { rm -rf "$tmp"; die "dpkg-deb -x failed"; }
    ver=$(ls "$tmp/x/lib/modules")
    rm -rf "$out/modules"
    mkdir -p "$out/modules"
    mv "$tmp/x/lib/modules/$ver" "$out/modules/$ver"
    cp "$tmp/x/boot/config-$ver" "$out/config"
    echo "$pkg" >"$out/package"
    echo "$ver" >"$out/release"
    dpkg-deb -f "$tmp"/*.deb Version >"$out/version"
    # vmlinuz last: its presence marks a complete cache.
    mv "$tmp/x/boot/vmlinuz-$ver" "$out/vmlinuz"
    rm -rf "$tmp"
    echo "$out/vmlinuz"
}

write_init() {
    cat >"$1" <<'EOF'
#!/bin/sh
# /init of hvpatch's test initramfs (tests/lib/linux-guest.sh).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
# pvpanic: the monitor learns of a panic (ACPI QEMU0001, port 0x505)
for m in pvpanic pvpanic-mmio; do
    [ ! -f /lib/modules/$m.ko ] || insmod /lib/modules/$m.ko 2>/dev/null
done
input=/dev/console
shell=
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    hvpatch.input=*) input=${arg#hvpatch.input=} ;;
    hvpatch.shell) shell=1 ;;
    hvpatch.lock) lock=1 ;;
    esac
done
echo "hvpatch-initramfs: init reached, $(uname -r), cpus=$(nproc)" >/dev/console
# Boot is done: ask hvpatch run for the text lock (I/O port 0xe0).
if [ -n "${lock:-}" ]; then
    if hvpatch-lock; then
        echo "hvpatch-initramfs: text lock requested" >/dev/console
    else
        echo "hvpatch-initramfs: text lock request failed" >/dev/console
    fi
fi
if [ -n "$shell" ]; then
    setsid cttyhack sh -l
    poweroff -f
fi
[ "$input" = /dev/console ] || stty -F "$input" raw -echo 2>/dev/null
echo "hvpatch-guest: ready $(uname -r)" >/dev/console
while true; do
    while IFS= read -r line; do
        [ "$line" = poweroff ] && poweroff -f
        sh -c "$line" </dev/null >/dev/console 2>&1
        echo "hvpatch-guest: rc=$?" >/dev/console
    done <"$input"
    sleep 0.1
done
EOF
    chmod 755 "$1"
}

# pvpanic_modules OUTDIR DIR: the kernel's pvpanic drivers into DIR, if
# the fetched kernel has them as modules (Debian's cloud kernel does).
pvpanic_modules() {
    local m=$1/modules/$(cat "$1/release" 2>/dev/null)/kernel/drivers/misc/pvpanic
    [ -f "$m/pvpanic.ko" ] && [ -f "$m/pvpanic-mmio.ko" ] || return 0
    mkdir -p "$2"
    cp "$m/pvpanic.ko" "$m/pvpanic-mmio.ko" "$2/"
}

initramfs() {
    out=$1
    img=$out/initramfs.cpio.gz
    bb=$(command -v busybox) || die "busybox not installed (busybox-static)"
    ! ldd "$bb" >/dev/null 2>&1 ||
        die "$bb is dynamically linked: install busybox-static"
    lock=${HVPATCH_LOCK_TOOL:-$(dirname "$0")/../../build/tests/guests/lock_port}
    [ -x "$lock" ] || die "$lock not built (make build/tests/guests/lock_port)"
    # the same bytes again: keep the file (and its mtime, for caches)
    if [ -s "$img" ] && [ "$img" -nt "$0" ] && [ "$img" -nt "$bb" ] &&
        [ "$img" -nt "$lock" ]; then
        echo "$img"
        return
    fi
    mkdir -p "$out"
    tmp=$(mktemp -d "$out/.initramfs.XXXXXX")
    mkdir -p "$tmp/bin" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp"
    cp "$bb" "$tmp/bin/busybox"
    ln -s busybox "$tmp/bin/sh"
    cp "$lock" "$tmp/bin/hvpatch-lock"
    pvpanic_modules "$out" "$tmp/lib/modules"
    write_init "$tmp/init"
    # Reproducible: fixed mtimes; GNU cpio also renumbers inodes (busybox
    # cpio records the real ones, which differ from build to build).
    chmod 755 "$tmp" # becomes / in the guest; mktemp made it 0700
    find "$tmp" -exec touch -h -d @0 {} +
    if cpio --help 2>/dev/null | grep -q -- --reproducible; then
        set -- cpio --quiet -o -H newc -R 0:0 --reproducible
    else
        set -- busybox cpio -o -H newc
    fi
    (cd "$tmp" && find . | LC_ALL=C sort | "$@" 2>/dev/null) |
        gzip -9n >"$img.tmp"
    mv "$img.tmp" "$img"
    rm -rf "$tmp"
    echo "$img"
}

modules() {
    fetch "$1" >/dev/null
    echo "$1/modules/$(cat "$1/release")"
}

release() {
    fetch "$1" >/dev/null
    cat "$1/release"
}

version() {
    fetch "$1" >/dev/null
    cat "$1/version"
}

# u32 FILE OFFSET [BYTES]: an unsigned little-endian field of the image.
u32() {
    od -An -tu"${3:-4}" -j "$2" -N "${3:-4}" "$1" | tr -d ' '
}

vmlinux() {
    out=$1
    bz=$(fetch "$out")
    elf=$out/vmlinux
    if [ -s "$elf" ] && [ "$elf" -nt "$bz" ]; then
        echo "$elf"
        return
    fi
    # boot.rst: the protected-mode kernel starts after (setup_sects + 1)
    # sectors (0 means 4); payload_offset (0x248) is relative to it.
    sects=$(u32 "$bz" 497 1)
    [ "$sects" -ne 0 ] || sects=4
    start=$(((sects + 1) * 512 + $(u32 "$bz" 584)))
    len=$(u32 "$bz" 588)
    [ "$len" -gt 0 ] || die "$bz: no payload in the setup header"
    magic=$(od -An -tx1 -j "$start" -N 6 "$bz" | tr -d ' \n')
    case "$magic" in
    02214c18*) set -- lz4 -dc ;;
    28b52ffd*) set -- zstd -dc ;;
    fd377a585a00) set -- xz -dc ;;
    1f8b*) set -- gzip -dc ;;
    425a68*) set -- bzip2 -dc ;;
    5d000000*) set -- xz -dc --format=lzma ;;
    894c5a4f*) set -- lzop -dc ;;
    *) die "$bz: unknown payload compression (magic $magic)" ;;
    esac
    command -v "$1" >/dev/null ||
        die "$1 not installed: needed to decompress $bz (Debian package $1)"
    # Every compressor but gzip gets the uncompressed size appended
    # (arch/x86/boot/compressed/Makefile, *_with_size): not part of the
    # stream, but a check of the result.
    size=
    if [ "$1" != gzip ]; then
        len=$((len - 4))
        size=$(u32 "$bz" $((start + len)))
    fi
    tail -c "+$((start + 1))" "$bz" | head -c "$len" | "$@" >"$elf.tmp" ||
        { rm -f "$elf.tmp"; die "$*: decompressing $bz failed"; }
    [ -z "$size" ] || [ "$(wc -c <"$elf.tmp")" -eq "$size" ] ||
        { rm -f "$elf.tmp"; die "$bz: vmlinux is not the $size bytes announced"; }
    [ "$(od -An -tx1 -N 4 "$elf.tmp" | tr -d ' \n')" = 7f454c46 ] ||
        { rm -f "$elf.tmp"; die "$bz: payload is not an ELF vmlinux"; }
    mv "$elf.tmp" "$elf"
    echo "$elf"
}

# kallsyms OUTDIR: the running kernel's symbol table (see the top).
kallsyms() {
    out=$1
    map=$out/kallsyms
    if [ -s "$map" ]; then
        echo "$map"
        return
    fi
    elf=$(vmlinux "$out")
    [ -s "$out/initramfs.cpio.gz" ] || initramfs "$out" >/dev/null
    secs=${LINUX_KALLSYMS_SECONDS:-300}
    qemu_sh=$(dirname "$0")/linux-qemu.sh
    tmp=$(mktemp -d "$out/.kallsyms.XXXXXX")
    qpid=
    # Whatever happens, QEMU goes and so does the scratch directory.
    trap 'kallsyms_cleanup' EXIT
    trap 'echo "linux-guest.sh: kallsyms: interrupted" >&2; exit 1' HUP INT TERM
    mkfifo "$tmp/in"
    # quiet: no kernel message in the middle of the dump.
    "$qemu_sh" "$elf" "$out/initramfs.cpio.gz" "$tmp/blobs" quiet \
        <"$tmp/in" >"$tmp/console" 2>&1 &
    qpid=$!
    exec 7>"$tmp/in"
    start=$(date +%s)
    guest_wait '^hvpatch-guest: ready' "the guest's shell"
    # The tty echoes the command line: the markers are whole lines; the
    # guest counts the lines itself, so a lost line cannot go unnoticed.
    # shellcheck disable=SC2016 # $(wc ...) is for the guest's shell
    echo 'echo hvpatch-kallsyms: begin; cat /proc/kallsyms && echo "hvpatch-kallsyms: end $(wc -l </proc/kallsyms)"' >&7
    guest_wait '^hvpatch-guest: rc=' "cat /proc/kallsyms"
    echo poweroff >&7
    tr -d '\r' <"$tmp/console" >"$tmp/console.txt"
    grep -qx 'hvpatch-guest: rc=0' "$tmp/console.txt" ||
        kallsyms_fail "cat /proc/kallsyms failed in the guest"
    n=$(sed -n 's/^hvpatch-kallsyms: end \([0-9][0-9]*\)$/\1/p' "$tmp/console.txt")
    [ -n "$n" ] || kallsyms_fail "no end marker after the dump"
    [ "$n" -gt 0 ] || kallsyms_fail "/proc/kallsyms is empty"
    sed -n '/^hvpatch-kallsyms: begin$/,/^hvpatch-kallsyms: end /p' \
        "$tmp/console.txt" | sed '1d;$d' >"$tmp/dump"
    got=$(wc -l <"$tmp/dump")
    [ "$got" -eq "$n" ] ||
        kallsyms_fail "received $got lines of the guest's $n"
    # "ADDR TYPE NAME" or, for a module's symbol, "ADDR TYPE NAME\t[MOD]"
    bad=$(grep -Evn '^[0-9a-f]{16} [A-Za-z] [^ 	]+(	\[[^] 	]+\])?$' \
        "$tmp/dump" | head -n 3) || true
    [ -z "$bad" ] || kallsyms_fail "malformed lines in the dump: $bad"
    grep -qv '^0\{16\} ' "$tmp/dump" ||
        kallsyms_fail "every address is 0: kptr_restrict hid them"
    # System.map format: the kernel's own symbols only.
    grep -v '	\[' "$tmp/dump" >"$tmp/map"
    for sym in 'T _printk' 'T _stext' 'T _etext' '. level2_kernel_pgt' \
        'T __fentry__'; do
        grep -q "^[0-9a-f]* $sym\$" "$tmp/map" ||
            kallsyms_fail "no '$sym' in the dump"
    done
    # Power-off is a courtesy: the dump is complete either way.
    i=0
    while kill -0 "$qpid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    mv "$tmp/map" "$map"
    echo "linux-guest.sh: $(wc -l <"$map") symbols in $(($(date +%s) - start)) s" >&2
    echo "$map"
}

# guest_wait PATTERN WHAT: waits (until $start + $secs) for a console line
# of the kallsyms guest; fails if QEMU stops first.
guest_wait() {
    while ! tr -d '\r' <"$tmp/console" | grep -q -- "$1"; do
        kill -0 "$qpid" 2>/dev/null ||
            kallsyms_fail "QEMU stopped before $2"
        [ $(($(date +%s) - start)) -lt "$secs" ] ||
            kallsyms_fail "timed out after ${secs}s (LINUX_KALLSYMS_SECONDS) waiting for $2"
        sleep 0.2
    done
}

kallsyms_fail() {
    echo "linux-guest.sh: kallsyms: $*" >&2
    tr -d '\r' <"$tmp/console" | grep -v '^[0-9a-f]\{16\} ' | tail -n 20 |
        sed 's/^/console: /' >&2
    exit 1
}

kallsyms_cleanup() {
    exec 7>&-
    if [ -n "$qpid" ]; then
        kill "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}

# klp_headers OUT: Debian's kernel headers for the fetched kernel, extracted
# into OUT/headers; prints the directory to run `make -C` in.
klp_headers() {
    out=$1
    rel=$(release "$out")
    ver=$(version "$out")
    hdr=$out/headers/usr/src/linux-headers-$rel
    if [ -s "$hdr/Makefile" ] && [ "$(cat "$out/headers/version" 2>/dev/null)" = "$ver" ]; then
        echo "$hdr"
        return
    fi
    # 6.1.0-56-cloud-amd64: ABI 6.1.0-56, kbuild 6.1. All three at the
    # image's version: modversions' CRCs must be the running kernel's.
    abi=$(echo "$rel" | sed -n 's/^\([0-9.]*-[0-9]*\)-.*/\1/p')
    [ -n "$abi" ] || die "cannot derive the ABI name from release $rel"
    set -- "linux-headers-$rel=$ver" "linux-headers-$abi-common=$ver" \
        "linux-kbuild-$(echo "$rel" | cut -d. -f1,2)=$ver"
    tmp=$(mktemp -d "$out/.headers.XXXXXX")
    (cd "$tmp" && apt-get download -q "$@" >/dev/null 2>"$tmp/apt.log") ||
        { cat "$tmp/apt.log" >&2; rm -rf "$tmp"; die "apt-get download $* failed"; }
    for deb in "$tmp"/*.deb; do
        dpkg-deb -x "$deb" "$tmp/x" || { rm -rf "$tmp"; die "dpkg-deb -x $deb failed"; }
    done
    # The flavour's Makefile includes the common one by absolute path;
    # scripts and tools are relative links into linux-kbuild, fine as
    # extracted.
    sed -i "s|^include /usr/src/|include $out/headers/usr/src/|" \
        "$tmp/x/usr/src/linux-headers-$rel/Makefile"
    echo "$ver" >"$tmp/x/version"
    rm -rf "$out/headers"
    mv "$tmp/x" "$out/headers"
    rm -rf "$tmp"
    echo "$hdr"
}

# klp OUT: builds tests/linux/klp_cmdline.c against the kernel's headers in
# OUT/klp; prints the module's path. Rebuilt when a source is newer.
klp() {
    out=$1
    src=$(cd "$(dirname "$0")/../linux" && pwd)
    ko=$out/klp/klp_cmdline.ko
    hdr=$(klp_headers "$out")
    if [ -s "$ko" ] && [ "$ko" -nt "$src/klp_cmdline.c" ] &&
        [ "$ko" -nt "$src/Kbuild" ] && [ "$ko" -nt "$out/headers/version" ]; then
        echo "$ko"
        return
    fi
    cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$hdr/.config")
    command -v "$cc" >/dev/null ||
        die "$cc not installed: the kernel was built with it (Debian package $cc)"
    rm -rf "$out/klp"
    mkdir -p "$out/klp"
    cp "$src/klp_cmdline.c" "$src/Kbuild" "$out/klp/"
    # The headers' Makefile names the compiler (CC = gcc-12); no BTF for
    # the module, as the headers carry no vmlinux (kbuild says so).
    make -C "$hdr" M="$out/klp" modules >"$out/klp/build.log" 2>&1 ||
        { tail -n 20 "$out/klp/build.log" >&2; die "building klp_cmdline.ko failed (log: $out/klp/build.log)"; }
    [ -s "$ko" ] || die "make succeeded but $ko is missing"
    echo "$ko"
}

# initramfs_klp OUT: the standard initramfs followed by a second archive
# with /klp/klp_cmdline.ko; prints its path.
initramfs_klp() {
    out=$1
    ko=$(klp "$out")
    base=$(initramfs "$out")
    img=$out/initramfs-klp.cpio.gz
    tmp=$(mktemp -d "$out/.initramfs-klp.XXXXXX")
    mkdir "$tmp/root" "$tmp/root/klp"
    cp "$ko" "$tmp/root/klp/"
    chmod 755 "$tmp/root" "$tmp/root/klp"
    find "$tmp/root" -exec touch -h -d @0 {} +
    if cpio --help 2>/dev/null | grep -q -- --reproducible; then
        set -- cpio --quiet -o -H newc -R 0:0 --reproducible
    else
        set -- busybox cpio -o -H newc
    fi
    # ./klp and its file only: "." would reset the root's mode.
    (cd "$tmp/root" && find klp | LC_ALL=C sort | "$@" 2>/dev/null) |
        gzip -9n >"$tmp/klp.cpio.gz"
    cat "$base" "$tmp/klp.cpio.gz" >"$img.tmp"
    mv "$img.tmp" "$img"
    rm -rf "$tmp"
    echo "$img"
}

[ $# -eq 2 ] ||
    die "usage: linux-guest.sh fetch|initramfs|modules|release|version|vmlinux|kallsyms|klp|initramfs-klp OUTDIR"
mkdir -p "$2"
dir=$(cd "$2" && pwd) # absolute: fetch works in a scratch directory
case "$1" in
fetch) fetch "$dir" ;;
initramfs) initramfs "$dir" ;;
modules) modules "$dir" ;;
release) release "$dir" ;;
version) version "$dir" ;;
vmlinux) vmlinux "$dir" ;;
kallsyms) kallsyms "$dir" ;;
klp) klp "$dir" ;;
initramfs-klp) initramfs_klp "$dir" ;;
*) die "unknown action '$1' (fetch|initramfs|modules|release|version|vmlinux|kallsyms|klp|initramfs-klp)" ;;
esac
