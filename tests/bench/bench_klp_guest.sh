# bench_klp_guest.sh: guest half of tests/bench/bench_klp.sh, run by busybox
# sh in the initramfs-klp guest: N cycles of loading the livepatch module
# /klp/klp_cmdline.ko, waiting for its transition, checking /proc/cmdline,
# disabling it, waiting again and removing the module. Times come from the
# guest's own monotonic clock (/proc/timer_list, "now at <ns> nsecs", read
# with the shell's builtin read: no process started to take a time stamp;
# the host boots it with tsc=reliable so that clock is the TSC).
# Prints one line per cycle:
#   hvpatch-klp: cycle=I insmod_ns=.. enable_ns=.. disable_ns=.. rmmod_ns=..
# and at the end the cycles' total time on the same clock and the taint:
#   hvpatch-klp: done cycles=N total_ns=.. tainted=..
# and exits non-zero after "hvpatch-klp: error ..." on any failure.
n=${1:-10}
d=/sys/kernel/livepatch/klp_cmdline
patched="hvpatch-klp: this has been live patched"

now() { { read -r _; read -r _; read -r _ _ T _; } </proc/timer_list; }
fail() {
    echo "hvpatch-klp: error: $*"
    exit 1
}
# transition_done: the patch's transition is over (its directory goes
# once a disabled patch is freed).
transition_done() {
    read -r s <"$d/transition" 2>/dev/null || return 0
    [ "$s" = 0 ]
}
# wait_transition: polls every 10 ms, for at most 60 s.
wait_transition() {
    i=0
    until transition_done; do
        i=$((i + 1))
        [ $i -lt 6000 ] || fail "transition of $d still running after 60 s"
        sleep 0.01
    done
}

# Keep printk off the console while the bench prints its lines: the UART
# driver's console writes can land in the middle of them.
dmesg -n 1
read -r orig </proc/cmdline
[ "$orig" != "$patched" ] || fail "/proc/cmdline patched before the first cycle"
now; start=$T
c=1
while [ $c -le "$n" ]; do
    now; t0=$T
    insmod /klp/klp_cmdline.ko || fail "insmod failed (cycle $c)"
    now; t1=$T
    wait_transition
    now; t2=$T
    read -r got </proc/cmdline
    [ "$got" = "$patched" ] || fail "/proc/cmdline after enable: '$got' (cycle $c)"
    now; t3=$T
    echo 0 >"$d/enabled" || fail "disable failed (cycle $c)"
    wait_transition
    now; t4=$T
    read -r got </proc/cmdline
    [ "$got" = "$orig" ] || fail "/proc/cmdline after disable: '$got' (cycle $c)"
    # The module reference goes only when the freed patch's work has run.
    i=0
    until rmmod klp_cmdline 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 1000 ] || fail "rmmod klp_cmdline failed (cycle $c)"
        sleep 0.01
    done
    now; t5=$T
    echo "hvpatch-klp: cycle=$c insmod_ns=$((t1 - t0)) enable_ns=$((t2 - t0)) disable_ns=$((t4 - t3)) rmmod_ns=$((t5 - t4))"
    c=$((c + 1))
done
now
echo "hvpatch-klp: done cycles=$n total_ns=$((T - start)) tainted=$(cat /proc/sys/kernel/tainted)"
