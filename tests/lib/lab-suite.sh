#!/usr/bin/env bash
# lab-suite.sh: the tests that need hardware virtualization, run inside an
# emulated lab host by tests/run (tests/lib/labhost.sh run KIND -- this).
# One TAP stream on stdout, every test named with the KVM it ran on.
#
# Usage: tests/lib/lab-suite.sh amdv|vtx|vtx-full
#   amdv      AMD-V (NPT): every Linux full-boot test, the live
#             /proc/cmdline patch and its revert; the demo guest's boot,
#             self-write attacks, both live fixes, a tampered package
#             refused; `hvpatch lab probe` eligible; automatic rollback
#             of a kernel patch that oopses
#   vtx       VT-x (EPT), in `make check`: Debian's kernel to init on 2
#             vCPUs, text lock, a live patch seen, a blocked write audited
#   vtx-full  VT-x: the whole amdv selection and the automatic rollback
#             of a bad demo patch (`make check-vtx`)
set -u
cd "$(dirname "$0")/../.." || exit 2
export HVPATCH_ROOT=$PWD HVPATCH=$PWD/build/hvpatch
export HVPATCH_ASAN=$PWD/build/asan/hvpatch
I=tests/integration
# name filters (bats -f: one regular expression over "file test-name")
DEMO='demo guest boots to heartbeats on every vCPU|every self-write method is blocked|the kernel fix goes in live|the user-library fix|a tampered package is rejected'
FULL='^full boot|hardware virtualization'
AUTO='is reverted by the monitor'
case "${1:-}" in
amdv | vtx-full)
    files=("$I/monitor.bats" "$I/apply.bats" "$I/linux_run.bats" "$I/linux_patch.bats" "$I/hw_virt.bats"
        "$I/linux_auto_revert.bats")
    # The demo guest's automatic rollback runs on every make check on the
    # bare machine; on kvm_amd one make check in four saw its VM gone
    # right after a correct auto-revert (not understood yet, issue note):
    # make check-vtx runs it on VT-x, where nothing gates a landing on it.
    [ "$1" = amdv ] || files+=("$I/auto_revert.bats")
    filter="$DEMO|$FULL|$AUTO" ;;
vtx)
    files=("$I/linux_patch.bats")
    filter='^full boot: the initramfs asks for the lock' ;;
*)
    echo "usage: lab-suite.sh amdv|vtx|vtx-full" >&2
    exit 2 ;;
esac
# Emulated hosts are slow: every bound of the tests' waits is scaled
# (helpers.bash, wait_for).
export HVPATCH_TIME_SCALE=${HVPATCH_TIME_SCALE:-5}
case "${1}" in
vtx*)
    # Bochs's VM entry leaves L1's interrupts masked while an L2 vCPU
    # spins with interrupts off (calibrate_delay on an AP): lpj= skips
    # that loop. An emulator bug, not KVM's or hvpatch's (LAB-HOSTS).
    export LINUX_EXTRA_APPEND="lpj=4000000"
    export HVPATCH_TIME_SCALE=40
    export LINUX_EXTRA_WHY="Bochs bug: L1 interrupts stay masked while an L2 vCPU spins with interrupts off" ;;
esac
# A test that hangs fails alone (its teardown prints the VM's logs) and
# the rest still run, instead of the whole lab host hitting its bound.
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-$((120 * HVPATCH_TIME_SCALE))}
tests/lib/kvm-info.sh
flavour=$(tests/lib/kvm-info.sh --flavour)
# A lab host exists to run what the bare machine skips: a skip here fails.
bats --tap -f "$filter" "${files[@]}" 2>&1 |
    sed -u -E -e "s/^ok ([0-9]+) (.*) # skip(.*)$/not ok \1 \2 (skipped in a lab host:\3)/I" \
        -e "s/^((not )?ok [0-9]+) /\1 [$flavour] /"
exit "${PIPESTATUS[0]}"
