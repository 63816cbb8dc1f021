#!/usr/bin/env bash
# linux-demo.sh: `make linux-demo`: boot Debian's own cloud kernel under
# hvpatch with a busybox initramfs and leave you at a shell in the guest,
# its console on this terminal. The kernel package is fetched with
# `apt-get download` (the versioned image linux-image-cloud-amd64 depends
# on) and extracted into build/linux, never installed into /boot; see
# tests/lib/linux-guest.sh. Ctrl-C stops the VM; `exit` in the guest's
# shell powers it off.
#
# Live patching, with throwaway keys (tests/lib/test-packages.sh): the initramfs asks for the text lock
# once it runs (hvpatch.lock), and the demo applies HP-LINUX-0002
# (cmdline_proc_show): `cat /proc/cmdline` in the guest shows it. On
# kvm_pvm, where the kernel never reaches the shell, the demo locks the
# text after ftrace's boot-time rewrite and applies HP-LINUX-0001
# (__x2apic_enable): the running kernel prints its patched line.
#
# Environment: HVPATCH_LINUX_DIR (build/linux) the kernel cache,
#              LINUX_DEMO_KERNEL=vmlinuz to boot the bzImage instead of
#              the PVH vmlinux, LINUX_DEMO_APPEND extra command-line words.
set -euo pipefail
cd "$(dirname "$0")/.."
HVPATCH=${HVPATCH:-$PWD/build/hvpatch}
dir=${HVPATCH_LINUX_DIR:-$PWD/build/linux}
guest=tests/lib/linux-guest.sh

echo "linux-demo: fetching Debian's cloud kernel into ${dir#"$PWD"/} (apt-get download)"
kernel=$("$guest" vmlinux "$dir")
[ "${LINUX_DEMO_KERNEL:-vmlinux}" = vmlinuz ] && kernel=$dir/vmlinuz
initrd=$("$guest" initramfs "$dir")
release=$("$guest" release "$dir")
echo "linux-demo: the kernel's symbols (its /proc/kallsyms, under QEMU TCG), keys and two live patches"
"$guest" kallsyms "$dir" >/dev/null
tests/lib/test-packages.sh build/test-packages linux >/dev/null
pk=build/test-packages/linux
tmp=$(mktemp -d)
lp=
trap '{ [ -z "$lp" ] || kill "$lp" 2>/dev/null || true; }; rm -rf "$tmp"' EXIT

# hvpatch.shell: the initramfs runs an interactive shell on the console.
append="console=ttyS0 pci=off 8250.nr_uarts=1 hvpatch.shell hvpatch.lock"
pvm=0
[ -d /sys/module/kvm_pvm ] && pvm=1
if [ $pvm = 1 ]; then
    echo "linux-demo: WARNING: /dev/kvm is kvm_pvm: guest ring 0 is emulated and lacks instructions this kernel uses (int3, fwait, ...), so the boot stops during early kernel set-up, before any shell; on VT-x or AMD-V it reaches a shell (docs/LINUX.md)"
    # show every line it gets to, from the moment it parses its command line
    append="$append earlycon=uart8250,io,0x3f8"
else
    append="$append quiet"
fi
append="$append${LINUX_DEMO_APPEND:+ $LINUX_DEMO_APPEND}"
echo "linux-demo: booting Linux $release (${kernel#"$PWD"/}) on 2 vCPUs; Ctrl-C stops the VM, 'exit' in the guest shell powers it off"

# Keys go to the guest as typed (no line editing or echo here: the
# guest's tty does both); Ctrl-C still stops hvpatch.
# live_patch: waits for the lock point, then applies (in the background).
live_patch() {
    local say="linux-demo:" end=$((SECONDS + 400)) pkg id line
    if [ $pvm = 1 ]; then
        pkg=x2apic line="ftrace: allocated"
    else
        pkg=cmdline line="hvpatch-initramfs: text lock requested"
    fi
    until grep -q "$line" "$tmp/console" 2>/dev/null; do
        ((SECONDS < end)) || return 0
        sleep 0.5
    done
    [ $pvm = 0 ] || "$HVPATCH" lock --vm "$tmp/vm.sock" >&2 || return 0
    id=$("$HVPATCH" apply --vm "$tmp/vm.sock" --json "$pk/$pkg.signed" | jq -r .id) || return 0
    if [ $pvm = 1 ]; then
        echo "$say $id applied live to the running kernel: watch for \"x2apic enabled (hvpatch: live patch ...)\"" >&2
    else
        printf '%s %s applied live: type cat /proc/cmdline (hvpatch revert --vm %s %s undoes it)\r\n' \
            "$say" "$id" "$tmp/vm.sock" "$id" >&2
    fi
}

saved=
if [ -t 0 ]; then
    saved=$(stty -g)
    trap 'stty "$saved"; { [ -z "$lp" ] || kill "$lp" 2>/dev/null || true; }; rm -rf "$tmp"' EXIT
    stty -icanon -echo
fi
live_patch &
lp=$!
rc=0
"$HVPATCH" run --kernel "$kernel" --initrd "$initrd" --append "$append" \
    --control "$tmp/vm.sock" --trust "$pk/keys/trust" \
    --audit-log "$tmp/audit.jsonl" > >(tee "$tmp/console") || rc=$?
if [ $pvm = 1 ] && [ $rc -eq 3 ]; then
    echo "linux-demo: the guest stopped where kvm_pvm's instruction emulator gave up, as expected on this host"
    exit 0
fi
exit $rc
