# libvirt-lab.sh: a private, real libvirt for tests and benchmarks (bash,
# sourced): virtlogd and libvirtd started with `-d` and no systemd, in a
# mount namespace of their own whose /etc/libvirt, /run and /var come from
# a temporary directory, so they run in system mode (root, qemu:///system)
# without touching or meeting a system libvirtd; and a Linux guest
# (tests/lib/linux-guest.sh) driven over serial lines.
#
#   lab_start DIR            start the daemons; sets LAB_URI (qemu+unix),
#                            LAB_EXT_URI (qemu+ext: the remote protocol over
#                            a pipe, as qemu+ssh uses it) and LAB_DIR
#   lab_guest_start NAME     boot the guest as domain NAME, wait for init
#   lab_guest_cmd CMD [SECS] run CMD in the guest; returns its exit status
#   lab_guest_map OUT        the guest's text symbols and "Kernel code" line
#   lab_stop                 destroy every domain, stop both daemons, and
#                            make sure no process of theirs is left
#
# Every wait is bounded. The daemons' pidfiles and the domains' QEMU
# pidfiles are in DIR, visible from outside the namespace, for lab_stop.

LAB_ROOT=${HVPATCH_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LAB_GUEST_DIR=${HVPATCH_LINUX_DIR:-$LAB_ROOT/build/linux} # shared with linux_boot_protocol.bats
# The QEMU capabilities cache survives runs: a cold libvirtd probes QEMU
# for ~8 s, a warm one starts in ~0.1 s.
LAB_CACHE=$LAB_ROOT/build/libvirt-cache

lab_log() { echo "# libvirt-lab: $*" >&2; }

# lab_alive PID: the process exists and is not a zombie.
lab_alive() {
    local st
    [ -r "/proc/$1/stat" ] || return 1
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$st" ] && [ "$st" != Z ]
}

# lab_wait SECS CMD...: poll CMD every 50 ms for at most SECS seconds.
lab_wait() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 20; i++)); do
        "$@" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

lab_virsh() { timeout 60 virsh -q -c "$LAB_URI" "$@"; }

lab_write_config() {
    local d=$1
    mkdir -p "$d/etc" "$d/run" "$d/var/lib/libvirt" "$d/var/log/libvirt" \
        "$d/var/cache/libvirt" "$d/var/tmp" "$d/sock" "$d/guest" "$LAB_CACHE"
    chmod 700 "$d/sock"
    ln -sfn /run "$d/var/run"
    cat >"$d/etc/libvirtd.conf" <<EOF
unix_sock_dir = "$d/sock"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:$d/libvirtd.log"
EOF
    # root, no cgroups, no per-domain /dev namespace, no security driver:
    # the guest is ours and the machine has no systemd.
    cat >"$d/etc/qemu.conf" <<EOF
user = "root"
group = "root"
swtpm_user = "root"
swtpm_group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "logd"
EOF
    cat >"$d/etc/virtlogd.conf" <<EOF
log_outputs = "3:file:$d/virtlogd.log"
max_size = 67108864
EOF
    # libvirt resolves its compiled-in QEMU user even when qemu.conf says
    # root; Debian creates it in libvirt-daemon-system, which we avoid.
    cp /etc/passwd "$d/passwd"
    cp /etc/group "$d/group"
    getent passwd libvirt-qemu >/dev/null ||
        echo "libvirt-qemu:x:64055:64055::/nonexistent:/usr/sbin/nologin" >>"$d/passwd"
    getent group libvirt-qemu >/dev/null || echo "libvirt-qemu:x:64055:" >>"$d/group"
    cat >"$d/ext-connect" <<EOF
#!/bin/sh
# The far end of qemu+ext://: what ssh would run on a remote host.
exec socat - UNIX-CONNECT:$d/sock/libvirt-sock
EOF
    chmod 700 "$d/ext-connect"
}

# lab_start DIR
lab_start() {
    local d=$1
    LAB_DIR=$d
    LAB_URI="qemu+unix:///system?socket=$d/sock/libvirt-sock"
    LAB_EXT_URI="qemu+ext:///system?command=$d/ext-connect"
    lab_write_config "$d"
    unshare --mount --propagation private sh -c "
        mount --bind '$d/etc' /etc/libvirt &&
        mount --bind '$d/passwd' /etc/passwd &&
        mount --bind '$d/group' /etc/group &&
        mount --bind '$d/run' /run &&
        mount --bind '$d/var' /var &&
        mount --bind '$LAB_CACHE' /var/cache/libvirt &&
        virtlogd -d -f /etc/libvirt/virtlogd.conf -p /run/virtlogd.pid &&
        libvirtd -d -f /etc/libvirt/libvirtd.conf -p /run/libvirtd.pid
    " </dev/null >"$d/start.log" 2>&1 3>&- || {
        lab_log "daemons did not start: $(cat "$d/start.log")"
        return 1
    }
    # pidfiles end without a newline: one pid per line in DIR/pids
    { echo "$(cat "$d/run/virtlogd.pid")"; echo "$(cat "$d/run/libvirtd.pid")"; } >>"$d/pids"
    if ! lab_wait 60 eval 'lab_virsh version >/dev/null'; then
        lab_log "libvirtd not answering after 60 s; its log:"
        tail -20 "$d/libvirtd.log" >&2
        return 1
    fi
}

# lab_guest_start NAME: boot Debian's cloud kernel with the test
# initramfs. ttyS0: console (file), ttyS1: commands (pipe), ttyS2: bulk
# data (file). TCG unless this host has VT-x or AMD-V (a kvm domain does
# not boot a stock kernel under kvm_pvm).
lab_guest_start() {
    local name=$1 d=$LAB_DIR kernel initrd type=qemu m
    kernel=$("$LAB_ROOT/tests/lib/linux-guest.sh" fetch "$LAB_GUEST_DIR") || return 1
    initrd=$("$LAB_ROOT/tests/lib/linux-guest.sh" initramfs "$LAB_GUEST_DIR") || return 1
    for m in kvm_intel kvm_amd; do [ -d /sys/module/$m ] && type=kvm; done
    LAB_GUEST=$name
    LAB_CONSOLE=$d/guest/$name.console
    LAB_DATA=$d/guest/$name.data
    LAB_CMD=$d/guest/$name.cmd
    rm -f "$LAB_CMD.in" "$LAB_CMD.out" "$LAB_CONSOLE" "$LAB_DATA"
    mkfifo "$LAB_CMD.in" "$LAB_CMD.out"
    cat >"$d/guest/$name.xml" <<EOF
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$kernel</kernel>
    <initrd>$initrd</initrd>
    <cmdline>console=ttyS0 hvpatch.input=/dev/ttyS1 quiet panic=-1</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'><source path='$LAB_CONSOLE'/><target port='0'/></serial>
    <serial type='pipe'><source path='$LAB_CMD'/><target port='1'/></serial>
    <serial type='file'><source path='$LAB_DATA'/><target port='2'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
    lab_virsh create "$d/guest/$name.xml" >/dev/null || return 1
    echo "$(cat "$d/run/libvirt/qemu/$name.pid" 2>/dev/null)" >>"$d/pids"
    if ! lab_wait 120 grep -q '^hvpatch-guest: ready' "$LAB_CONSOLE"; then
        lab_log "guest $name not ready after 120 s; console:"
        tail -20 "$LAB_CONSOLE" >&2
        return 1
    fi
}

lab_rc_count() { grep -c '^hvpatch-guest: rc=' "$LAB_CONSOLE" 2>/dev/null || true; }

# lab_guest_cmd CMD [SECS]: one line for the guest's sh; waits for its
# "hvpatch-guest: rc=N" (default 60 s) and returns N.
lab_guest_cmd() {
    local before rc
    before=$(lab_rc_count)
    printf '%s\n' "$1" >"$LAB_CMD.in"
    if ! lab_wait "${2:-60}" eval '[ "$(lab_rc_count)" -gt "$before" ]'; then
        lab_log "guest command timed out: $1"
        return 124
    fi
    rc=$(grep '^hvpatch-guest: rc=' "$LAB_CONSOLE" | sed -n "$((before + 1))p")
    rc=${rc#hvpatch-guest: rc=}
    return "${rc%$'\r'}"
}

# lab_guest_map OUT: what a security team copies out of the guest (as
# root) for `hvpatch audit --record --symbols`: the "Kernel code" line of
# /proc/iomem and the text symbols of /proc/kallsyms. Sent gzip'd and in
# base64 over ttyS2: a 16550 in TCG moves ~0.5 MB/s.
lab_guest_map() {
    local out=$1
    : >"$LAB_DATA"
    lab_guest_cmd "stty -F /dev/ttyS2 raw -echo; { grep ' Kernel code' /proc/iomem; grep '^[0-9a-f]* [tT] ' /proc/kallsyms; } | gzip | base64 >/dev/ttyS2; echo =END= >/dev/ttyS2" 120 ||
        return 1
    lab_wait 30 grep -q '^=END=' "$LAB_DATA" || return 1
    grep -v '^=END=' "$LAB_DATA" | tr -d '\r' | base64 -d | gunzip >"$out"
}

# lab_stop: leaves no process behind: domains destroyed, QEMU reaped via
# its pidfile if libvirt could not, then libvirtd and virtlogd.
lab_stop() {
    local d=${LAB_DIR:-} dom pid
    [ -n "$d" ] || return 0
    if [ -S "$d/sock/libvirt-sock" ]; then
        for dom in $(lab_virsh list --name 2>/dev/null); do
            lab_virsh destroy "$dom" >/dev/null 2>&1
        done
    fi
    for pid in $(tail -n +3 "$d/pids" 2>/dev/null); do # QEMU, if any
        lab_wait 10 eval "! lab_alive $pid" || kill -9 "$pid" 2>/dev/null
    done
    # libvirtd (line 2), then virtlogd (line 1), which outlives its clients.
    for pid in $(sed -n 2p "$d/pids" 2>/dev/null) $(sed -n 1p "$d/pids" 2>/dev/null); do
        lab_alive "$pid" || continue
        kill "$pid" 2>/dev/null
        lab_wait 10 eval "! lab_alive $pid" || kill -9 "$pid" 2>/dev/null
        lab_wait 5 eval "! lab_alive $pid" || lab_log "pid $pid survived SIGKILL"
    done
    LAB_DIR=
}

# lab_leftovers DIR: the pids lab_start and lab_guest_start recorded in
# DIR/pids that are still alive (nothing, after lab_stop).
lab_leftovers() {
    local pid
    [ -f "$1/pids" ] || return 0
    for pid in $(cat "$1/pids"); do
        lab_alive "$pid" && echo "$pid"
    done
    return 0
}
