#!/usr/bin/env bash
# labhost.sh: run a command inside an emulated lab host that has real
# hardware virtualization (docs/LABHOSTS.md): AMD-V with nested paging
# (QEMU TCG, -cpu max) or Intel VT-x with EPT (Bochs). The lab host (L1)
# boots Debian's cloud kernel, loads kvm and kvm-amd or kvm-intel from
# that kernel's own modules, and runs COMMAND with bash in a copy of this
# tree (HVPATCH_ROOT=/hvpatch) whose hvpatch then boots its own guests (L2).
#
# Usage: tests/lib/labhost.sh image                build (or reuse) the lab
#                                                  host's initramfs; prints it
#        tests/lib/labhost.sh run amdv|vtx [-t SECONDS] [-c CPUS] [-i] -- COMMAND...
#                                      (CPUS: the lab host's, 2 for amdv, 1
#                                      for vtx; the L2 guests have 2 vCPUs)
#        tests/lib/labhost.sh --help
#
# -i (amdv only): COMMAND gets this terminal as its console (make
# linux-demo-amdv); the lab host powers off when it ends. Otherwise run
# streams what COMMAND prints (stdout and stderr, through the lab
# host's serial console) and exits with COMMAND's status; 124 if the lab
# host did not finish within SECONDS (default 900), 125 if it could not be
# started or stopped without reporting a status. The emulator is always
# killed before run returns (a trap), so nothing outlives it.
#
# Files reach the lab host in its initramfs (not 9p or virtio-fs): Bochs
# has neither, and one image serves both hosts. The image holds static
# busybox, the kernel's kvm modules, the build (build/hvpatch and its
# hvpatch-monitor and hvpatch-verifier, the ASan
# build, test kernels and guests), tests/, and the programs the tests call
# (bash, bats, coreutils, jq, swtpm, tpm2-tools, ...) with every library
# ldd lists; Debian's kernel, initramfs and symbols for the L2 guest from
# build/linux; and the signed test packages of tests/lib/test-packages.sh
# (built here: the lab host has no compiler). It is cached in build/labhost
# and rebuilt when any input is newer. COMMAND goes in a second, small
# archive appended to it for each run.
#
# Environment: LABHOST_DIR (default build/labhost), LABHOST_KEEP=1 keeps
# the per-run scratch directory, BOCHS_IPS (default 2000000000),
# LABHOST_BENCH=1 a bigger image (l1-bench) with QEMU and the livepatch
# module's initramfs for tests/bench/bench_lab.sh.
set -eEuo pipefail
# a step that fails says which, instead of ending the run silently
trap 'echo "labhost.sh: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${LABHOST_BENCH:+-bench}
LAB=${LABHOST_DIR:-$ROOT/build/labhost}
LINUX=${HVPATCH_LINUX_DIR:-$ROOT/build/linux}
GUEST_SH=$ROOT/tests/lib/linux-guest.sh

die() {
    echo "labhost.sh: $*" >&2
    exit 125
}

usage() {
    sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

# ------------------------------------------------------------------ image

# Debian packages whose programs the tests call inside the lab host.
USER_PKGS="dash bash coreutils grep sed mawk findutils procps util-linux diffutils
gzip cpio jq bats swtpm swtpm-tools tpm2-tools openssl xxd psmisc"

# The project's files the tests use, relative to ROOT.
project_files() {
    (cd "$ROOT" && find tests scripts guest/patches -type f -not -path '*/.*'
        printf '%s\n' build/hvpatch build/asan/hvpatch build/guest/demo.elf
        printf '%s\n' build/hvpatch-monitor build/hvpatch-verifier \
            build/asan/hvpatch-monitor build/asan/hvpatch-verifier
        find build/tests -maxdepth 1 -type f
        find build/tests/guests -type f -not -name '*.d' -not -name '*.o'
        find build/linux -maxdepth 1 -type f -not -name '.*' \
            -not -name 'initramfs-klp*'
        [ -z "$BENCH" ] || echo build/linux/initramfs-klp.cpio.gz
        find build/test-packages -type f 2>/dev/null) | LC_ALL=C sort
}

# copy_path ROOTDIR PATH: PATH (a file or a link to one) into ROOTDIR at
# the same place, links kept as links with their targets copied too.
copy_path() {
    local r=$1 p=$2 t
    [ -e "$r$p" ] || [ -L "$r$p" ] && return 0
    mkdir -p "$r$(dirname "$p")"
    if [ -L "$p" ]; then
        cp -P "$p" "$r$p"
        t=$(readlink -f "$p")
        [ -e "$t" ] && copy_path "$r" "$t"
    else
        cp "$p" "$r$p"
    fi
}

# copy_libs ROOTDIR FILE: every library ldd lists for FILE.
copy_libs() {
    local lib
    ldd "$2" 2>/dev/null | awk '/=> \// {print $3} /^\t\// {print $1}' |
        while read -r lib; do
            copy_path "$1" "$lib"
        done
}

# copy_elf ROOTDIR FILE: FILE and its libraries.
copy_elf() {
    copy_path "$1" "$2"
    copy_libs "$1" "$2"
}

stage_userland() {
    local r=$1 pkg f bb d
    bb=$(command -v busybox) || die "busybox not installed (busybox-static)"
    mkdir -p "$r/usr/bin" "$r/usr/sbin" "$r/usr/lib" "$r/usr/lib64"
    for d in bin sbin lib lib64; do ln -s "usr/$d" "$r/$d"; done
    cp "$bb" "$r/usr/bin/busybox"
    # shellcheck disable=SC2086
    for pkg in $USER_PKGS; do
        dpkg -L "$pkg" >/dev/null 2>&1 || die "Debian package $pkg not installed (make deps-test)"
        dpkg -L "$pkg" | grep -E '^/(usr/)?(s?bin|lib/bats-core|libexec/bats-core)/[^/]+$|/swtpm/lib' |
            while read -r f; do
                [ -f "$f" ] || continue
                f=$(echo "$f" | sed -E 's#^/(s?bin|lib)/#/usr/\1/#')
                if [ "$(head -c 4 "$f" | tail -c 3)" = ELF ]; then
                    copy_elf "$r" "$f"
                else
                    copy_path "$r" "$f"
                fi
            done
    done
    # dlopen()ed by tpm2-tools and tpm2-tss: the TCTIs
    for f in /usr/lib/x86_64-linux-gnu/libtss2-tcti-*.so.0; do
        [ -e "$f" ] && copy_elf "$r" "$f"
    done
    # /bin/sh as on the host (dash), not busybox's, whose sh runs its own
    # applets before PATH
    copy_path "$r" /usr/bin/sh
    # busybox for whatever the packages above lack (insmod, ip, ...)
    for f in $("$bb" --list); do
        [ -e "$r/usr/bin/$f" ] || [ -e "$r/usr/sbin/$f" ] ||
            ln -s busybox "$r/usr/bin/$f"
    done
    if [ -n "$BENCH" ]; then # QEMU microvm with KVM, for bench_lab.sh
        copy_elf "$r" /usr/bin/qemu-system-x86_64
        for f in qboot.rom bios-microvm.bin pvh.bin linuxboot_dma.bin \
            multiboot_dma.bin kvmvapic.bin; do
            copy_path "$r" "/usr/share/qemu/$f"
        done
    fi
    mkdir -p "$r/etc" "$r/root" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/run"
    chmod 1777 "$r/tmp"
    echo "root:x:0:0:root:/root:/bin/bash" >"$r/etc/passwd"
    echo "root:x:0:" >"$r/etc/group"
    [ -d /etc/ssl ] && cp -a /etc/ssl "$r/etc/ssl"
}

stage_modules() {
    local r=$1 rel mods
    rel=$(cat "$LINUX/release")
    mods=$LINUX/modules/$rel/kernel
    mkdir -p "$r/lab/modules"
    cp "$mods/virt/lib/irqbypass.ko" "$mods/arch/x86/kvm/kvm.ko" \
        "$mods/arch/x86/kvm/kvm-amd.ko" "$mods/arch/x86/kvm/kvm-intel.ko" \
        "$r/lab/modules/"
}

write_l1_init() {
    cat >"$1" <<'EOF'
#!/usr/bin/busybox sh
# /init of the hvpatch lab host (tests/lib/labhost.sh).
PATH=/usr/sbin:/usr/bin
export PATH HOME=/root TMPDIR=/tmp HVPATCH_ROOT=/hvpatch LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o size=75% tmpfs /tmp
ln -sf /proc/self/fd /dev/fd
ulimit -n 4096
say() { echo "hvpatch-lab: $*" >/dev/console; }
insmod /lab/modules/irqbypass.ko
insmod /lab/modules/kvm.ko
if grep -q '^vendor_id.*AuthenticAMD' /proc/cpuinfo; then
    insmod /lab/modules/kvm-amd.ko
else
    insmod /lab/modules/kvm-intel.ko
fi
for m in kvm_amd kvm_intel; do
    [ -d /sys/module/$m ] || continue
    p=/sys/module/$m/parameters
    slat=ept
    [ -e $p/npt ] && slat=npt
    say "$m loaded: $slat=$(cat $p/$slat), /dev/kvm $( [ -c /dev/kvm ] && echo present || echo missing)"
done
cd /hvpatch
# Shortly before labhost.sh's bound expires, what L1 is doing goes to the
# console: a hung test leaves more than silence behind.
if [ -s /lab/deadline ]; then
    (
        sleep "$(cat /lab/deadline)"
        say "still running near the time limit: processes and kernel log follow"
        ps -ef >/dev/console 2>&1 || ps >/dev/console 2>&1
        dmesg | tail -n 40 >/dev/console 2>&1
    ) &
fi
if [ -e /lab/interactive ]; then
    # the console is the user's terminal: a controlling tty for Ctrl-C
    setsid cttyhack bash /lab/cmd
else
    bash /lab/cmd </dev/null >/dev/console 2>&1
fi
say "exit $?"
sync
sleep 1 # the UART drains what is still queued (reboot does not wait)
reboot -f
EOF
    chmod 755 "$1"
}

# inputs_newer STAMP: true if any input of the image is newer than STAMP.
inputs_newer() {
    local f files
    [ -e "$1" ] || return 0
    [ "$0" -nt "$1" ] && return 0
    files=$(project_files)
    while read -r f; do
        [ "$ROOT/$f" -nt "$1" ] && return 0
    done <<<"$files"
    [ "$(md5sum <<<"$files")" = "$(cat "$1")" ] || return 0
    return 1
}

prepare_inputs() {
    "$GUEST_SH" vmlinux "$LINUX" >/dev/null
    "$GUEST_SH" initramfs "$LINUX" >/dev/null
    "$GUEST_SH" kallsyms "$LINUX" >/dev/null
    [ -z "$BENCH" ] || "$GUEST_SH" initramfs-klp "$LINUX" >/dev/null
    "$ROOT/tests/lib/test-packages.sh" "$ROOT/build/test-packages" >/dev/null
    local f
    for f in build/hvpatch build/asan/hvpatch build/guest/demo.elf \
        build/hvpatch-monitor build/hvpatch-verifier \
        build/asan/hvpatch-monitor build/asan/hvpatch-verifier \
        build/tests/guests/pvh_platform.elf; do
        [ -s "$ROOT/$f" ] || die "$f not built (make build-check)"
    done
}

image() {
    mkdir -p "$LAB"
    local img=$LAB/l1$BENCH.cpio.gz stamp=$LAB/l1$BENCH.inputs
    prepare_inputs
    if [ -s "$img" ] && ! inputs_newer "$stamp"; then
        echo "$img"
        return
    fi
    echo "labhost.sh: building the lab host's initramfs" >&2
    local r f
    r=$(mktemp -d "$LAB/.root.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$r' '$r.cpio.gz'" EXIT
    stage_userland "$r"
    stage_modules "$r"
    write_l1_init "$r/init"
    mkdir -p "$r/hvpatch"
    project_files | (cd "$ROOT" && cpio --quiet -pdm "$r/hvpatch")
    # the build's own programs need their libraries too
    for f in hvpatch asan/hvpatch hvpatch-monitor asan/hvpatch-monitor \
        hvpatch-verifier asan/hvpatch-verifier tests/tpm_tool \
        tests/linux_boot_tool; do
        if [ -x "$ROOT/build/$f" ]; then copy_libs "$r" "$ROOT/build/$f"; fi
    done
    (cd "$r" && find . | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0) | gzip -1 >"$r.cpio.gz"
    mv "$r.cpio.gz" "$img" # atomic: another run may be reading the last one
    project_files | md5sum >"$stamp"
    rm -rf "$r"
    trap - EXIT
    echo "labhost.sh: $(du -h "$img" | cut -f1) in $img" >&2
    echo "$img"
}

# ------------------------------------------------------------------ run

# cmd_archive DIR SECONDS COMMAND...: DIR/cmd.cpio.gz holding /lab/cmd,
# /lab/deadline (when L1 reports what it is doing: SECONDS less 45, as L1
# counts them) and /lab/interactive with -i.
cmd_archive() {
    local d=$1 secs=$2
    shift 2
    mkdir -p "$d/c/lab"
    {
        echo "# written by labhost.sh"
        printf '%q ' "$@"
        echo
    } >"$d/c/lab/cmd"
    [ -n "$INTERACTIVE" ] || [ "$secs" -le 90 ] ||
        echo $((secs - 45)) >"$d/c/lab/deadline"
    [ -z "$INTERACTIVE" ] || : >"$d/c/lab/interactive"
    (cd "$d/c" && find lab -type f | cpio --quiet -o -H newc -R 0:0) |
        gzip -1 >"$d/cmd.cpio.gz"
}

# The lab host's kernel command line. tsc_early_khz: the emulated CPUs
# have no TSC the kernel can calibrate without HPET or a PM timer;
# tsc=reliable: TCG's TSC is the host's and Bochs's counts instructions,
# but its sync check across emulated CPUs can fail, and then the only
# clocksource left is jiffies (ms resolution: every timing in the lab
# host, the tests' and the bench's, would read 0 or a tick).
l1_append() {
    echo "console=ttyS0 quiet loglevel=3 panic=-1 pci=off 8250.nr_uarts=1 tsc_early_khz=$1 tsc=reliable rdinit=/init"
}

host_khz() { awk '/^cpu MHz/ {printf "%d", $4 * 1000; exit}' /proc/cpuinfo; }

# amdv_qemu DIR SERIAL: QEMU with TCG's AMD-V (-cpu max: SVM with NPT).
amdv_qemu() {
    cat "$IMG" "$1/cmd.cpio.gz" >"$1/initrd"
    qemu-system-x86_64 -accel tcg,thread=multi -cpu max -M microvm,rtc=on \
        -m 3072 -smp "$CPUS" -nodefaults -nographic -no-reboot \
        -serial "$2" -kernel "$LINUX/vmlinux" -initrd "$1/initrd" \
        -append "$(l1_append "$(host_khz)")"
}

start_amdv() {
    amdv_qemu "$1" "file:$1/console" </dev/null >"$1/emu.log" 2>&1 &
    EMU_PID=$!
}

start_vtx() {
    local d=$1 ips=${BOCHS_IPS:-2000000000}
    command -v bochs-bin >/dev/null || die "bochs not installed (Debian packages bochs, bochsbios, vgabios)"
    command -v syslinux >/dev/null && command -v mformat >/dev/null ||
        die "syslinux and mtools not installed"
    # A FAT superfloppy of C*16*63 sectors, so Bochs detects the geometry.
    local need cyl
    need=$(($(stat -c %s "$IMG") + $(stat -c %s "$LINUX/vmlinuz") + (8 << 20)))
    cyl=$((need / (16 * 63 * 512) + 1))
    truncate -s $((cyl * 16 * 63 * 512)) "$d/disk.img"
    mformat -i "$d/disk.img" -t "$cyl" -h 16 -s 63 :: >/dev/null
    syslinux --install "$d/disk.img"
    cat >"$d/syslinux.cfg" <<EOF
DEFAULT lab
LABEL lab
  KERNEL vmlinuz
  INITRD l1.gz,cmd.gz
  APPEND $(l1_append $((ips / 1000)))
EOF
    mcopy -i "$d/disk.img" "$d/syslinux.cfg" ::syslinux.cfg
    mcopy -i "$d/disk.img" "$LINUX/vmlinuz" ::vmlinuz
    mcopy -i "$d/disk.img" "$IMG" ::l1.gz
    mcopy -i "$d/disk.img" "$d/cmd.cpio.gz" ::cmd.gz
    cat >"$d/bochsrc" <<EOF
memory: guest=2048, host=2048
cpu: model=corei7_skylake_x, count=$CPUS, ips=$ips, reset_on_triple_fault=1
clock: sync=none
# no sound: its mixer thread aborts where ALSA finds no card
sound: driver=dummy
speaker: enabled=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=disk, path=$d/disk.img, mode=flat, cylinders=$cyl, heads=16, spt=63
boot: disk
com1: enabled=1, mode=file, dev=$d/console
display_library: rfb, options="timeout=0"
error: action=report, cpu0=ignore
info: action=ignore
debug: action=ignore
log: $d/bochs.log
EOF
    echo c >"$d/bochs.cmds"
    bochs-bin -q -f "$d/bochsrc" -rc "$d/bochs.cmds" </dev/null >"$d/emu.log" 2>&1 &
    EMU_PID=$!
}

stop_emu() {
    [ -z "${TAIL_PID:-}" ] || kill "$TAIL_PID" 2>/dev/null || true
    [ -n "${EMU_PID:-}" ] || return 0
    kill "$EMU_PID" 2>/dev/null || true
    local i
    for i in $(seq 50); do
        kill -0 "$EMU_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$EMU_PID" 2>/dev/null || true
    wait "$EMU_PID" 2>/dev/null || true
    EMU_PID=
}

run() {
    local kind=${1:-} secs=900
    CPUS= INTERACTIVE=
    [ $# -gt 0 ] && shift
    case "$kind" in
    amdv | vtx) ;;
    *) die "run: lab host kind must be amdv or vtx, not '$kind'" ;;
    esac
    while [ $# -gt 0 ]; do
        case "$1" in
        -t) secs=$2; shift 2 ;;
        -c) CPUS=$2; shift 2 ;;
        -i) INTERACTIVE=1; shift ;;
        --) shift; break ;;
        *) die "run: unknown option '$1' (see --help)" ;;
        esac
    done
    [ $# -gt 0 ] || die "run: no command given"
    # Bochs emulates its CPUs one after the other: a second one halves
    # the speed of each
    [ -n "$CPUS" ] || { [ "$kind" = vtx ] && CPUS=1 || CPUS=2; }
    [ "$kind" = vtx ] || command -v qemu-system-x86_64 >/dev/null ||
        die "qemu-system-x86_64 not installed (Debian package qemu-system-x86)"
    IMG=$(image)
    local d
    d=$(mktemp -d "$LAB/run.XXXXXX")
    EMU_PID=
    # shellcheck disable=SC2064
    trap "stop_emu; [ -n '${LABHOST_KEEP:-}' ] || rm -rf '$d'" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    cmd_archive "$d" "$secs" "$@"
    if [ -n "$INTERACTIVE" ]; then
        [ "$kind" = amdv ] || die "run -i: only the amdv lab host is interactive"
        amdv_qemu "$d" stdio
        exit $?
    fi
    : >"$d/console"
    : >"$d/out" # before the loop reads it: tee below may not have run yet
    "start_$kind" "$d"
    local start=$SECONDS rc=
    # the console as it grows, until the emulator is gone
    tail -n +1 -f --pid="$EMU_PID" "$d/console" 2>/dev/null |
        sed -u 's/\r//g' | tee -a "$d/out" &
    TAIL_PID=$!
    while :; do
        rc=$(sed -n 's/^hvpatch-lab: exit \([0-9]*\)$/\1/p' "$d/out" | tail -n 1)
        [ -z "$rc" ] || break
        if ! kill -0 "$EMU_PID" 2>/dev/null; then
            echo "labhost.sh: the $kind lab host stopped without reporting a status" >&2
            tail -n 5 "$d/emu.log" "$d/bochs.log" 2>/dev/null | grep -E 'PANIC|exiting|error|rror:' >&2
            exit 125
        fi
        if [ $((SECONDS - start)) -ge "$secs" ]; then
            echo "labhost.sh: the $kind lab host did not finish within ${secs}s" >&2
            exit 124
        fi
        sleep 0.5
    done
    sleep 0.2 # the stream's last lines
    exit "$rc"
}

case "${1:-}" in
image) image ;;
run) shift; run "$@" ;;
-h | --help) usage ;;
*)
    echo "usage: labhost.sh image | run amdv|vtx [-t SECONDS] [-c CPUS] [-i] -- COMMAND... (--help)" >&2
    exit 2 ;;
esac
