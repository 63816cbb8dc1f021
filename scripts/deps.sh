#!/bin/sh
# deps.sh: install the Debian packages hvpatch needs, only those missing.
# Usage: scripts/deps.sh build|test|demo|linux|bench   (what the caller is about to do)
set -eu

build_pkgs="gcc make binutils pkg-config libjansson-dev libmbedtls-dev \
libcbor-dev libseccomp-dev libtss2-dev clang libclang-rt-14-dev swtpm \
libvirt-dev libxml2-dev"
# test: the emulated lab hosts (tests/lib/labhost.sh) need QEMU (AMD-V)
# and Bochs with a syslinux-bootable FAT image (VT-x); the fleet test
# (tests/integration/fleet.bats) runs Ansible over a real sshd on loopback
# and reads its HTML report in headless Chromium and through a PDF
test_pkgs="bats libcmocka-dev jq openssl swtpm swtpm-tools tpm2-tools \
libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 \
busybox-static cpio lz4 socat bochs bochsbios vgabios syslinux \
syslinux-common mtools ansible-core openssh-server openssh-client chromium \
poppler-utils"
# make linux-demo: fetch and unpack Debian's kernel, build the initramfs,
# dump its symbols (QEMU TCG), its own swtpm
linux_pkgs="busybox-static cpio lz4 swtpm swtpm-tools qemu-system-x86 jq"
# make bench: the in-guest livepatch module (tests/lib/linux-guest.sh klp)
# is built with the compiler Debian built the kernel with, and kbuild's
# host tools (from linux-kbuild-6.1, extracted, not installed) need libelf
bench_pkgs="gcc-12 libelf1"

case "${1:-build}" in
build | demo) want="$build_pkgs" ;;
test) want="$build_pkgs $test_pkgs" ;;
bench) want="$build_pkgs $test_pkgs $bench_pkgs" ;;
linux) want="$build_pkgs $linux_pkgs" ;;
*) echo "deps.sh: unknown target '$1' (build|test|demo|linux|bench)" >&2; exit 1 ;;
esac

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing Debian packages:$missing" >&2
    echo "deps.sh: run as root, or: sudo apt-get install$missing" >&2
    exit 1
fi
echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
