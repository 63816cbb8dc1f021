# helpers.bash: shared set-up for the bats suites: requirement checks that
# SKIP with a reason (never pass) when a real part is missing, and paths.
# Load with:  load helpers

: "${HVPATCH_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${HVPATCH:=$HVPATCH_ROOT/build/hvpatch}"
: "${HVPATCH_ASAN:=$HVPATCH_ROOT/build/asan/hvpatch}"

# require_kvm: skip unless /dev/kvm can be opened read-write.
require_kvm() {
    [ -e /dev/kvm ] || skip "no /dev/kvm on this host"
    [ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm not accessible to $(id -un)"
}

# require_swtpm: skip unless swtpm and tpm2-tools are installed.
require_swtpm() {
    command -v swtpm >/dev/null || skip "swtpm not installed"
    command -v tpm2_pcrread >/dev/null || skip "tpm2-tools not installed"
}

# kvm_flavour: prints kvm_intel, kvm_amd, kvm_pvm or none.
kvm_flavour() { "$HVPATCH_ROOT/tests/lib/kvm-info.sh" --flavour; }

# lab_note: in a test that boots Debian's kernel, says (as a TAP comment)
# which extra command-line options an emulated lab host made it pass.
lab_note() {
    [ -z "${LINUX_EXTRA_APPEND:-}" ] ||
        echo "# $(kvm_flavour): guest command line + '$LINUX_EXTRA_APPEND' (${LINUX_EXTRA_WHY:-lab host})" >&3
}

# ------------------------------------------------- signed test packages
# Keys and packages: tests/lib/test-packages.sh, made once and cached in
# build/test-packages (the lab hosts get them ready-made).

# demo_packages_setup_file: the demo guest's, from a suite's setup_file.
demo_packages_setup_file() {
    [ -x "$HVPATCH" ] || return 0
    "$HVPATCH_ROOT/tests/lib/test-packages.sh" "$HVPATCH_ROOT/build/test-packages" \
        demo >/dev/null
}

# require_demo_packages: K is their directory; skips when this host cannot
# make them, fails when they are missing.
require_demo_packages() {
    K=$HVPATCH_ROOT/build/test-packages/demo
    [ ! -s "$K.skip" ] || skip "packages not built: $(cat "$K.skip")"
    [ -f "$K/done" ] || { echo "packages not built (tests/lib/test-packages.sh)"; return 1; }
}

# linux_packages_setup_file: Debian's kernel, initramfs and symbols in
# LINUX_DIR, then the Linux packages, from a suite's setup_file. A kernel
# that cannot be fetched leaves the reason in BATS_FILE_TMPDIR/skip, a
# package build that fails in BATS_FILE_TMPDIR/fail.
linux_packages_setup_file() {
    local log=$BATS_FILE_TMPDIR/setup.log
    local guest_sh=$HVPATCH_ROOT/tests/lib/linux-guest.sh
    local dir=${LINUX_DIR:-$HVPATCH_ROOT/build/linux}
    [ -x "$HVPATCH" ] || return 0
    if ! "$guest_sh" vmlinux "$dir" >"$log" 2>&1 ||
        ! "$guest_sh" initramfs "$dir" >>"$log" 2>&1 ||
        ! "$guest_sh" kallsyms "$dir" >>"$log" 2>&1; then
        {
            echo "cannot fetch Debian's kernel or dump its symbols:"
            tail -n 3 "$log"
        } | tr '\n' ' ' >"$BATS_FILE_TMPDIR/skip"
        return 0
    fi
    "$HVPATCH_ROOT/tests/lib/test-packages.sh" "$HVPATCH_ROOT/build/test-packages" \
        linux >>"$log" 2>&1 ||
        echo "cannot build the Linux test packages: $(tail -n 1 "$log")" >"$BATS_FILE_TMPDIR/fail"
}

# ------------------------------------------------------------ running VMs
# vm_start [hvpatch run options...]: boots a VM in the background with a
# control socket and a console fed from a FIFO. Sets VM_PID, VM_SOCK,
# VM_OUT (guest console), VM_ERR (monitor log). HV selects the binary.
vm_start() {
    local dir=${BATS_TEST_TMPDIR:?}
    VM_SOCK=$dir/vm.sock VM_OUT=$dir/console.log VM_ERR=$dir/monitor.log
    VM_IN=$dir/console.in
    rm -f "$VM_IN"
    mkfifo "$VM_IN"
    # fd 3 is bats' own: the VM must not inherit it, or bats waits for it.
    "${HV:-$HVPATCH}" run --control "$VM_SOCK" "$@" <"$VM_IN" >"$VM_OUT" \
        2>"$VM_ERR" 3>&- &
    VM_PID=$!
    exec 7>"$VM_IN" # keep the console open until vm_stop
    # start-up hashes the guest image and talks to a new swtpm
    wait_for "control socket" 10 socket_or_exit
    [ -S "$VM_SOCK" ] || {
        echo "the monitor exited before its control socket appeared" >&2
        sed 's/^/monitor: /' "$VM_ERR" >&2
        return 1
    }
}

# socket_or_exit: the control socket is there, or the monitor is gone.
socket_or_exit() { [ -S "$VM_SOCK" ] || ! kill -0 "$VM_PID" 2>/dev/null; }

# vm_send LINE: types a line on the guest console.
vm_send() { printf '%s\n' "$1" >&7; }

# wait_for WHAT SECONDS CMD...: polls CMD every 50 ms until it succeeds.
# SECONDS is multiplied by HVPATCH_TIME_SCALE (default 1), which
# tests/lib/lab-suite.sh raises inside emulated lab hosts: the bounds are
# the same tests' bounds, scaled to a CPU emulated many times slower.
wait_for() {
    local what=$1 secs=$(($2 * ${HVPATCH_TIME_SCALE:-1})) i
    local why="timed out after ${secs}s"
    shift 2
    for ((i = 0; i < secs * 20; i++)); do
        "$@" 2>/dev/null && return 0
        # a VM that is gone prints and logs nothing more: no use waiting
        if [ -n "${VM_PID:-}" ] && ! kill -0 "$VM_PID" 2>/dev/null; then
            "$@" 2>/dev/null && return 0
            why="the VM exited"
            break
        fi
        sleep 0.05
    done
    echo "$why waiting for $what" >&2
    [ -n "${VM_ERR:-}" ] && sed 's/^/monitor: /' "$VM_ERR" >&2
    [ -n "${VM_OUT:-}" ] && sed 's/^/console: /' "$VM_OUT" >&2
    return 1
}

# vm_wait_console PATTERN [SECONDS]: waits for a console line (grep -E).
vm_wait_console() { wait_for "console /$1/" "${2:-20}" grep -qE -- "$1" "$VM_OUT"; }
vm_wait_log() { wait_for "monitor log /$1/" "${2:-20}" grep -qE -- "$1" "$VM_ERR"; }

# vm_status [JQ-FILTER]: the VM's status, filtered by jq.
vm_status() { "$HVPATCH" status --vm "$VM_SOCK" --json | jq -r "${1:-.}"; }

# heartbeats: every vCPU's shared-page counter, space-separated.
heartbeats() { vm_status '[.vcpus[].heartbeats] | map(tostring) | join(" ")'; }

# all_beating: true once every vCPU has reported a heartbeat.
all_beating() { [ "$(vm_status '[.vcpus[].first_heartbeat_us] | all(. != null)')" = true ]; }

# strictly_greater "A..." "B...": every B[i] > A[i].
strictly_greater() {
    local -a a=($1) b=($2)
    local i
    [ ${#a[@]} -eq ${#b[@]} ] || return 1
    for i in "${!a[@]}"; do
        [ "${b[$i]}" -gt "${a[$i]}" ] || return 1
    done
}

# vm_stop: quits the VM if it still runs and reaps it; VM_RC is its status.
vm_stop() {
    [ -n "${VM_PID:-}" ] || return 0
    if kill -0 "$VM_PID" 2>/dev/null; then
        "$HVPATCH" quit --vm "$VM_SOCK" >/dev/null 2>&1 ||
            kill "$VM_PID" 2>/dev/null || true
    fi
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$VM_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$VM_PID" 2>/dev/null || true
    VM_RC=0
    wait "$VM_PID" || VM_RC=$?
    exec 7>&-
    VM_PID=
}

# vm_wait_exit SECONDS: waits for the VM to exit by itself; sets VM_RC.
vm_wait_exit() {
    wait_for "VM exit" "$1" eval '! kill -0 $VM_PID'
    VM_RC=0
    wait "$VM_PID" || VM_RC=$?
    exec 7>&-
    VM_PID=
}

# ------------------------------------------------- a test's own swtpm
# For suites that drive the TPM layer without a VM (build/tests/tpm_tool).
# They set W (a short directory: unix socket paths) and PIDS=() in setup
# and call stop_started in teardown.

# stop_started: stop every process this test started (PIDS), then make
# sure no swtpm that uses this test's directory is left.
stop_started() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
    if pgrep -f "swtpm socket .*$W" >/dev/null; then
        pkill -KILL -f "swtpm socket .*$W" || true
        echo "# swtpm left behind by $BATS_TEST_NAME" >&3
        return 1
    fi
}

# start_swtpm DIR: a swtpm of the test's own (not hv_swtpm), unix sockets.
start_swtpm() {
    local dir=$1 i
    mkdir -p "$dir"
    swtpm socket --tpm2 --tpmstate dir="$dir" \
        --server type=unixio,path="$dir/tpm.sock" \
        --ctrl type=unixio,path="$dir/tpm.sock.ctrl" \
        --flags not-need-init,startup-clear --log file="$dir/swtpm.log" \
        3>&- &
    SWTPM_PID=$!
    PIDS+=("$SWTPM_PID")
    export TPM2TOOLS_TCTI="swtpm:path=$dir/tpm.sock"
    TCTI=$TPM2TOOLS_TCTI
    for i in $(seq 100); do
        tpm2_getcap properties-fixed >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "swtpm did not start" >&2
    return 1
}

stop_swtpm() {
    kill -TERM "$SWTPM_PID"
    wait "$SWTPM_PID" || true
}
