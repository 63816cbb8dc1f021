#!/usr/bin/env bash
# linux-demo.sh: `make linux-demo`: boot Debian's own cloud kernel under
# hvpatch with a busybox initramfs and leave you at a shell in the guest,
# its console on this terminal. The kernel package is fetched with
# `apt-get download` (the versioned image linux-image-cloud-amd64 depends
# on) and extracted into build/linux, never installed into /boot; see
# tests/lib/linux-guest.sh. Ctrl-C stops the VM; `exit` in the guest's
# shell powers it off.
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

# hvpatch.shell: the initramfs runs an interactive shell on the console.
append="console=ttyS0 pci=off 8250.nr_uarts=1 hvpatch.shell"
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
saved=
if [ -t 0 ]; then
    saved=$(stty -g)
    trap 'stty "$saved"' EXIT
    stty -icanon -echo
fi
rc=0
"$HVPATCH" run --kernel "$kernel" --initrd "$initrd" --append "$append" || rc=$?
if [ $pvm = 1 ] && [ $rc -eq 3 ]; then
    echo "linux-demo: the guest stopped where kvm_pvm's instruction emulator gave up, as expected on this host"
    exit 0
fi
exit $rc
