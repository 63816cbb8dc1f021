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
# The initramfs holds busybox-static and an /init that mounts proc, sys,
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
# powers off when it exits. The image is reproducible (sorted, fixed
# mtimes, gzip -n): its digest, measured into PCR 9, depends on content only.
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
input=/dev/console
shell=
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    hvpatch.input=*) input=${arg#hvpatch.input=} ;;
    hvpatch.shell) shell=1 ;;
    esac
done
echo "hvpatch-initramfs: init reached, $(uname -r), cpus=$(nproc)" >/dev/console
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

initramfs() {
    out=$1
    img=$out/initramfs.cpio.gz
    bb=$(command -v busybox) || die "busybox not installed (busybox-static)"
    ! ldd "$bb" >/dev/null 2>&1 ||
        die "$bb is dynamically linked: install busybox-static"
    mkdir -p "$out"
    tmp=$(mktemp -d "$out/.initramfs.XXXXXX")
    mkdir -p "$tmp/bin" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp"
    cp "$bb" "$tmp/bin/busybox"
    ln -s busybox "$tmp/bin/sh"
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

[ $# -eq 2 ] ||
    die "usage: linux-guest.sh fetch|initramfs|modules|release|version|vmlinux OUTDIR"
mkdir -p "$2"
dir=$(cd "$2" && pwd) # absolute: fetch works in a scratch directory
case "$1" in
fetch) fetch "$dir" ;;
initramfs) initramfs "$dir" ;;
modules) modules "$dir" ;;
release) release "$dir" ;;
version) version "$dir" ;;
vmlinux) vmlinux "$dir" ;;
*) die "unknown action '$1' (fetch|initramfs|modules|release|version|vmlinux)" ;;
esac
