# helpers.bash: shared set-up for the bats suites: requirement checks that
# SKIP with a reason (never pass) when a real part is missing, and paths.
# Load with:  load helpers

: "${HVPATCH_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${HVPATCH:=$HVPATCH_ROOT/build/hvpatch}"
: "${HVPATCH_ASAN:=$HVPATCH_ROOT/build/asan/hvpatch}"

# demo_packages_build: the demo guest's keys and signed packages
# (tests/lib/test-packages.sh), made once and cached in
# build/test-packages (the lab hosts get them ready-made). For setup_file.
demo_packages_build() {
    [ -x "$HVPATCH" ] || return 0
    "$HVPATCH_ROOT/tests/lib/test-packages.sh" "$HVPATCH_ROOT/build/test-packages" \
        demo >/dev/null
}

# demo_packages: sets K to them; skips when they cannot be made here.
demo_packages() {
    K=$HVPATCH_ROOT/build/test-packages/demo
    [ ! -s "$K.skip" ] || skip "packages not built: $(cat "$K.skip")"
    [ -f "$K/done" ] || { echo "packages not built (tests/lib/test-packages.sh)"; return 1; }
}

# demo_vm_setup: the setup() of a suite that runs the demo guest with its
# signed packages and a TPM: skips without KVM, swtpm or the packages; sets
# K and AUDIT (the test's audit log path).
demo_vm_setup() {
    require_kvm
    require_swtpm
    demo_packages
    AUDIT=$BATS_TEST_TMPDIR/audit.jsonl
}

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
    vm_logs_if_failed
}

# vm_logs_if_failed: from a teardown, when the test failed, the ends of
# the monitor's log and the guest console as TAP comments (a lab host's
# run keeps nothing else of them).
vm_logs_if_failed() {
    [ -n "${BATS_TEARDOWN_STARTED:-}" ] && [ -z "${BATS_TEST_COMPLETED:-}" ] ||
        return 0
    local f
    for f in "${VM_ERR:-}" "${VM_OUT:-}"; do
        [ -s "$f" ] || continue
        echo "# --- $(basename "$f") (exit ${VM_RC:-?}), last 25 lines:" >&3
        tail -n 25 "$f" | tr -d '\r' | sed 's/^/#   /' >&3
    done
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

# openssl_bad_chains DIR: chains made with the openssl command alone whose
# issuer breaks one basicConstraints rule: DIR/trust (anchor DIR/root.pem,
# pathlen 1) and, for KIND in notca (issuer CA:FALSE), nobc (issuer with
# no basicConstraints) and pathlen (root > inter pathlen:0 > sub > signer),
# DIR/KIND.key and DIR/KIND.pem (the signer) and DIR/KIND.chain (what sits
# between it and the root, its issuer first).
openssl_bad_chains() {
    local d=$1 eku=2.25.155942760495678342082062318095446178319.1.1
    command -v openssl >/dev/null || skip "openssl not installed"
    mkdir -p "$d/trust/anchors" "$d/trust/crls"
    cat >"$d/ext" <<EOF2
[ req ]
distinguished_name = dn
[ dn ]
[ root ]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
[ ca0 ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
[ ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[ notca ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyCertSign, cRLSign
[ nobc ]
keyUsage = critical, keyCertSign, cRLSign
[ signer ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = $eku
EOF2
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes \
        -keyout "$d/root.key" -out "$d/root.pem" -subj "/CN=bad chains root" \
        -days 30 -sha384 -config "$d/ext" -extensions root 2>/dev/null
    cp "$d/root.pem" "$d/trust/anchors/"
    # cert NAME ISSUER SECTION
    cert() {
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes \
            -keyout "$d/$1.key" -out "$d/$1.csr" -subj "/CN=$1" \
            -config "$d/ext" 2>/dev/null
        openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" -CAkey "$d/$2.key" \
            -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha384 \
            -extfile "$d/ext" -extensions "$3" -out "$d/$1.pem" 2>/dev/null
    }
    cert inter-notca root notca
    cert notca inter-notca signer
    cp "$d/inter-notca.pem" "$d/notca.chain"
    cert inter-nobc root nobc
    cert nobc inter-nobc signer
    cp "$d/inter-nobc.pem" "$d/nobc.chain"
    cert inter-pl0 root ca0
    cert sub-pl0 inter-pl0 ca
    cert pathlen sub-pl0 signer
    cat "$d/sub-pl0.pem" "$d/inter-pl0.pem" >"$d/pathlen.chain"
}

# sign_bad_chain DIR KIND IN OUT: package IN signed by openssl_bad_chains
# DIR's signer KIND, with its chain, into OUT.
sign_bad_chain() {
    "$HVPATCH" sign "$3" --key "$1/$2.key" --cert "$1/$2.pem" \
        --chain "$1/$2.chain" -o "$4" >/dev/null
}
