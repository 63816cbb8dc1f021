#!/bin/sh
# kvm-info.sh: print one line naming the CPU vendor and the KVM flavour the
# tests run on (Intel VT-x, AMD-V, or kvm_pvm without either), and whether
# /dev/kvm is usable. Tests use the same facts through helpers.bash.
# With --flavour: only the KVM module's name (kvm_intel, kvm_amd, kvm_pvm
# or none), for scripts that tag results with it.
vendor=$(grep -m1 '^vendor_id' /proc/cpuinfo | awk '{print $3}')
case "$vendor" in
GenuineIntel) cpu="Intel" ;;
AuthenticAMD) cpu="AMD" ;;
*) cpu="${vendor:-unknown}" ;;
esac
flavour=none
for m in kvm_intel kvm_amd kvm_pvm; do
    [ -d /sys/module/$m ] && flavour=$m
done
if [ "${1:-}" = --flavour ]; then
    echo "$flavour"
    exit 0
fi
case $flavour in
kvm_intel) virt="Intel VT-x (EPT)" ;;
kvm_amd) virt="AMD-V (NPT)" ;;
kvm_pvm) virt="kvm_pvm (shadow paging, no VT-x/AMD-V exposed)" ;;
*) virt="no KVM module" ;;
esac
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then kvm="usable"; else kvm="not usable"; fi
echo "# CPU vendor: $cpu; virtualisation: $virt; /dev/kvm: $kvm"
