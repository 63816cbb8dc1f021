# fleet.sh: a small fleet for tests/integration/fleet.bats: demo guests
# under `hvpatch run` on this machine's KVM as Ansible inventory hosts, the
# first one reached over real SSH (an sshd of its own on a free loopback
# port, throwaway host and user keys, its own config), the rest with
# ansible_connection=local. Sourced, not run.
#
#   fleet_up DIR N      boot N VMs (vm1..vmN), start sshd, write DIR/inventory.ini
#                       and DIR/ansible.cfg; FLEET_PIDS lists what it started
#   fleet_down          stop everything fleet_up started
#   fleet_playbook ARGS ansible-playbook with the fleet's config (oneline output)
#   fleet_state NAME    what a rollout may change on VM NAME: live patches, code
#                       digest, audit records (one line of JSON)
#
# Needs HVPATCH, HVPATCH_ROOT and K (build/test-packages/demo) set.

FLEET_PIDS=()

# fleet_free_port: a TCP port on 127.0.0.1 nobody listens on now.
fleet_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# fleet_vm NAME: boots one demo guest, 1 vCPU, its own swtpm and audit log.
# Its vCPU spins at 100% (ring-3 heartbeats): niced, so that four of them
# leave Ansible and the other tests this machine's two cores.
fleet_vm() {
    local name=$1 d=$FLEET_DIR/$1
    mkdir -p "$d"
    # fd 3 is bats' own: the VM must not inherit it, or bats waits for it.
    nice -n 15 "$HVPATCH" run --cpus 1 --control "$d/vm.sock" --trust "$K/keys/trust" \
        --audit-log "$d/audit.jsonl" </dev/null >"$d/console.log" \
        2>"$d/monitor.log" 3>&- &
    FLEET_PIDS+=($!)
    echo $! >"$d/pid"
}

# fleet_wait_ready NAME: the guest is up and its text locked.
fleet_wait_ready() {
    local d=$FLEET_DIR/$1 i
    for ((i = 0; i < 200; i++)); do
        grep -q "guest: ready" "$d/console.log" 2>/dev/null &&
            grep -q text-locked "$d/audit.jsonl" 2>/dev/null && return 0
        kill -0 "$(cat "$d/pid")" 2>/dev/null || break
        sleep 0.05
    done
    echo "fleet: $1 did not become ready" >&2
    sed "s/^/$1 monitor: /" "$d/monitor.log" >&2
    return 1
}

# fleet_sshd: an sshd on a free loopback port that accepts only the
# throwaway user key, for the current user; pins its host key for ssh.
fleet_sshd() {
    local s=$FLEET_DIR/ssh i
    mkdir -p "$s" /run/sshd 2>/dev/null || mkdir -p "$s"
    ssh-keygen -q -t ed25519 -N '' -f "$s/host_key" -C fleet-host
    ssh-keygen -q -t ed25519 -N '' -f "$s/user_key" -C fleet-user
    cp "$s/user_key.pub" "$s/authorized_keys"
    FLEET_SSH_PORT=$(fleet_free_port)
    cat >"$s/sshd_config" <<EOF
Port $FLEET_SSH_PORT
ListenAddress 127.0.0.1
HostKey $s/host_key
PidFile $s/sshd.pid
AuthorizedKeysFile $s/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AllowUsers $(id -un)
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
EOF
    echo "[127.0.0.1]:$FLEET_SSH_PORT $(cat "$s/host_key.pub")" >"$s/known_hosts"
    /usr/sbin/sshd -D -e -f "$s/sshd_config" 2>"$s/sshd.log" 3>&- &
    FLEET_PIDS+=($!)
    for ((i = 0; i < 100; i++)); do
        grep -q "Server listening" "$s/sshd.log" && return 0
        sleep 0.05
    done
    echo "fleet: sshd did not start" >&2
    cat "$s/sshd.log" >&2
    return 1
}

# fleet_config: ansible.cfg and inventory.ini. vm1 is reached over SSH.
fleet_config() {
    local n=$1 s=$FLEET_DIR/ssh i py=/usr/bin/python3
    mkdir -p "$FLEET_DIR/collections/ansible_collections/hvpatch"
    ln -sfn "$HVPATCH_ROOT/ansible" \
        "$FLEET_DIR/collections/ansible_collections/hvpatch/fleet"
    cat >"$FLEET_DIR/ansible.cfg" <<EOF
[defaults]
collections_path = $FLEET_DIR/collections
local_tmp = $FLEET_DIR/ansible-local
remote_tmp = $FLEET_DIR/ansible-remote
interpreter_python = $py
stdout_callback = oneline
retry_files_enabled = false
forks = 5
[ssh_connection]
ssh_args = -F none -o ControlMaster=no -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$s/known_hosts -o IdentitiesOnly=yes
EOF
    {
        echo "[hvpatch_vms]"
        echo "vm1 hvpatch_vm=$FLEET_DIR/vm1/vm.sock ansible_host=127.0.0.1" \
            "ansible_port=$FLEET_SSH_PORT ansible_user=$(id -un)" \
            "ansible_ssh_private_key_file=$s/user_key ansible_connection=ssh"
        for ((i = 2; i <= n; i++)); do
            echo "vm$i hvpatch_vm=$FLEET_DIR/vm$i/vm.sock ansible_connection=local"
        done
        echo "[hvpatch_vms:vars]"
        echo "hvpatch_bin=$HVPATCH"
        echo "[local]"
        echo "localhost ansible_connection=local"
    } >"$FLEET_DIR/inventory.ini"
}

fleet_up() {
    local i n=$2
    FLEET_DIR=$1
    for ((i = 1; i <= n; i++)); do fleet_vm "vm$i"; done
    fleet_sshd
    fleet_config "$n"
    for ((i = 1; i <= n; i++)); do fleet_wait_ready "vm$i" || return 1; done
}

fleet_down() {
    local p d
    for d in "$FLEET_DIR"/vm*/; do
        [ -S "$d/vm.sock" ] && "$HVPATCH" quit --vm "$d/vm.sock" >/dev/null 2>&1
    done
    for p in "${FLEET_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${FLEET_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    FLEET_PIDS=()
}

fleet_playbook() {
    ANSIBLE_CONFIG=$FLEET_DIR/ansible.cfg ansible-playbook \
        -i "$FLEET_DIR/inventory.ini" "$@"
}

fleet_state() {
    local d=$FLEET_DIR/$1
    "$HVPATCH" status --vm "$d/vm.sock" --json |
        jq -c --arg n "$(wc -l <"$d/audit.jsonl")" \
            '{patches: [.patches[] | {id, seq}], code: .code.sha256, audit: $n}'
}

# fleet_result OUTPUT HOST: HOST's result of the hotpatch task in
# ansible-playbook's oneline OUTPUT (the line that has "eligibility").
fleet_result() {
    grep -E "^$2 \| [A-Z!]+ => .*\"eligibility\"" <<<"$1" | tail -n 1 |
        sed -E 's/^[^ ]+ \| [A-Z!]+ => //'
}

# fleet_sign_fix SEQ OUT: signs the fix a vendor ships after a bad update:
# the demo's HP-2026-0002 as HP-2026-0003 with sequence SEQ (cumulative:
# above the bad package's, which its automatic revert left committed),
# with the test keys ($K/keys).
fleet_sign_fix() {
    local seq=$1 out=$2 p=$HVPATCH_ROOT/guest/patches
    jq --argjson seq "$seq" --arg p "$p" --arg img "$HVPATCH_ROOT/build/guest/demo.elf" \
        '.id = "HP-2026-0003" | .sequence = $seq |
         .title = "Demo user library: ulib_echo length check (reissued)" |
         .target.image = $img | .code.sources = [$p + "/HP-2026-0002.c"] |
         .code.cflags = ["-I" + $p + "/../.."]' \
        "$p/HP-2026-0002.json" >"${out%.signed}.json"
    "$HVPATCH" build "${out%.signed}.json" -o "${out%.signed}.hvp" >/dev/null
    "$HVPATCH" sign "${out%.signed}.hvp" --keys "$K/keys" -o "$out" >/dev/null
}
