/* hv_vcpu.c: one thread per vCPU; pause-all/resume-all and stop.
 *
 * To take every vCPU out of guest mode, the pauser sets run->immediate_exit
 * and sends HV_KICK_SIGNAL to each vCPU thread. A thread in KVM_RUN returns
 * EINTR; a thread handling an exit finds immediate_exit set on its next
 * KVM_RUN, which first completes the pending I/O (so guest state is
 * consistent) and then returns EINTR. Only then does the thread park. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "hv/machine/hv_machine.h"
#include "lib/hv_log.h"
#include "lib/vrf_shm.h"

#define HV_KICK_SIGNAL SIGUSR1
#define HV_PAUSE_TIMEOUT_NS 1000000000ull /* give up on a pause after 1 s */
#define HV_PARK_SPIN_NS 200000ull  /* a write's pause takes microseconds */
#define HV_PAUSE_SPIN_NS 200000ull /* vCPUs leave guest mode in microseconds */

static void hv_kick_handler(int sig)
{
    (void)sig; /* only there to make KVM_RUN return EINTR */
}

static void kick(struct hv_vcpu *v)
{
    if (!v->run)
        return; /* set-up failed before this vCPU existed */
    __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (v->thread_started)
        pthread_kill(v->thread, HV_KICK_SIGNAL);
}

int hv_vm_stop(struct hv_vm *vm, enum hv_stop why, int guest_code)
{
    int none = HV_STOP_NONE;
    int first = atomic_compare_exchange_strong(&vm->stop_reason, &none,
                                               (int)why);
    if (first) {
        vm->guest_code = guest_code;
        uint64_t one = 1;
        ssize_t w = write(vm->stop_fd, &one, sizeof one);
        (void)w;
    }
    pthread_mutex_lock(&vm->lock);
    pthread_cond_broadcast(&vm->resume_cond);
    pthread_cond_broadcast(&vm->parked_cond);
    pthread_mutex_unlock(&vm->lock);
    for (unsigned i = 0; i < vm->ncpus; i++)
        kick(&vm->vcpu[i]);
    return first;
}

static int stopping(struct hv_vm *vm)
{
    return atomic_load(&vm->stop_reason) != HV_STOP_NONE;
}

/* vCPUs out of guest mode for a pause: before the release, all those
 * held at the start barrier (they have not run a guest instruction). */
static unsigned held(struct hv_vm *vm)
{
    return vm->released ? __atomic_load_n(&vm->parked, __ATOMIC_SEQ_CST)
                        : vm->at_barrier;
}

static int pausing(struct hv_vm *vm)
{
    return __atomic_load_n(&vm->pause_req, __ATOMIC_SEQ_CST) && !stopping(vm);
}

/* Spins (yielding the CPU to the monitor and the verifier, who do the
 * work of the pause) while the pause lasts, at most HV_PARK_SPIN_NS:
 * most pauses end sooner, and then resuming costs no wake-up. */
static void park_spin(struct hv_vm *vm)
{
    uint64_t end = hv_now_ns() + HV_PARK_SPIN_NS;
    for (unsigned i = 1; pausing(vm); i++) {
        if (i % 16 == 0 && hv_now_ns() >= end)
            return;
        vrf_shm_relax(i);
    }
}

/* The RIP at the exit: from the run structure when KVM syncs the
 * registers there (no KVM_GET_REGS in the pause), else by ioctl. */
static uint64_t exit_rip(struct hv_vcpu *v)
{
    if (v->run->kvm_valid_regs & KVM_SYNC_X86_REGS)
        return v->run->s.regs.regs.rip;
    return hv_x86_rip(v);
}

static void park(struct hv_vcpu *v)
{
    struct hv_vm *vm = v->vm;
    v->paused_rip = exit_rip(v);
    /* seq_cst against the pauser's store of pauser_sleeps, then its load
     * of parked: either it sees this vCPU or this vCPU wakes it. */
    __atomic_add_fetch(&vm->parked, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&vm->pauser_sleeps, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&vm->lock);
        pthread_cond_broadcast(&vm->parked_cond);
        pthread_mutex_unlock(&vm->lock);
    }
    park_spin(vm);
    if (pausing(vm)) {
        pthread_mutex_lock(&vm->lock);
        vm->park_sleepers++;
        while (pausing(vm))
            pthread_cond_wait(&vm->resume_cond, &vm->lock);
        vm->park_sleepers--;
        pthread_mutex_unlock(&vm->lock);
    }
    __atomic_sub_fetch(&vm->parked, 1, __ATOMIC_SEQ_CST);
}

static void *vcpu_thread(void *arg)
{
    struct hv_vcpu *v = arg;
    struct hv_vm *vm = v->vm;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, HV_KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    v->paused_rip = hv_x86_rip(v); /* held here, it counts as paused */
    pthread_mutex_lock(&vm->lock); /* no guest code before the sandbox */
    vm->at_barrier++;
    pthread_cond_broadcast(&vm->parked_cond);
    while (!vm->released && !stopping(vm))
        pthread_cond_wait(&vm->resume_cond, &vm->lock);
    pthread_mutex_unlock(&vm->lock);

    while (!stopping(vm)) {
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno != EINTR && errno != EAGAIN) {
                hv_err("KVM: ioctl (RUN) on vCPU %u failed: %s", v->id,
                       strerror(errno));
                hv_vm_stop(vm, HV_STOP_HOST_FAIL, 0);
                break;
            }
            if (pausing(vm))
                park(v);
            continue;
        }
        if (hv_x86_handle_exit(v) != 0)
            break;
    }
    pthread_mutex_lock(&vm->lock);
    __atomic_sub_fetch(&vm->running, 1, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&vm->parked_cond);
    pthread_mutex_unlock(&vm->lock);
    return NULL;
}

int hv_vcpu_start_all(struct hv_vm *vm)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hv_kick_handler; /* no SA_RESTART: KVM_RUN must EINTR */
    sigemptyset(&sa.sa_mask);
    if (sigaction(HV_KICK_SIGNAL, &sa, NULL) < 0) {
        hv_err("sigaction (SIGUSR1) failed: %s", strerror(errno));
        return -1;
    }
    vm->running = vm->ncpus;
    int sync = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct hv_vcpu *v = &vm->vcpu[i];
        if (sync > 0 && (sync & KVM_SYNC_X86_REGS))
            v->run->kvm_valid_regs = KVM_SYNC_X86_REGS; /* for exit_rip */
        int e = pthread_create(&v->thread, NULL, vcpu_thread, v);
        if (e != 0) {
            hv_err("pthread_create for vCPU %u failed: %s", i, strerror(e));
            vm->running -= vm->ncpus - i;
            hv_vm_stop(vm, HV_STOP_HOST_FAIL, 0);
            return -1;
        }
        v->thread_started = 1;
    }
    pthread_mutex_lock(&vm->lock);
    while (vm->at_barrier < vm->ncpus && !stopping(vm))
        pthread_cond_wait(&vm->parked_cond, &vm->lock);
    pthread_mutex_unlock(&vm->lock);
    return 0;
}

void hv_vcpu_release(struct hv_vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    vm->released = 1;
    pthread_cond_broadcast(&vm->resume_cond);
    pthread_mutex_unlock(&vm->lock);
}

void hv_vcpu_join_all(struct hv_vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++) {
        if (vm->vcpu[i].thread_started) {
            pthread_join(vm->vcpu[i].thread, NULL);
            vm->vcpu[i].thread_started = 0;
        }
    }
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    uint64_t t = (uint64_t)ts->tv_nsec + ns;
    ts->tv_sec += (time_t)(t / 1000000000ull);
    ts->tv_nsec = (long)(t % 1000000000ull);
}

/* Spinning vCPUs see pause_req drop: only sleeping ones need a wake-up. */
static void resume_locked(struct hv_vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        __atomic_store_n(&vm->vcpu[i].run->immediate_exit, 0,
                         __ATOMIC_SEQ_CST);
    __atomic_store_n(&vm->pause_req, 0, __ATOMIC_SEQ_CST);
    if (vm->park_sleepers)
        pthread_cond_broadcast(&vm->resume_cond);
}

/* The pauser spins for the vCPUs first: they leave guest mode within
 * microseconds of the kick unless the host is loaded. */
static void pause_spin(struct hv_vm *vm)
{
    uint64_t end = hv_now_ns() + HV_PAUSE_SPIN_NS;
    for (unsigned i = 1;
         held(vm) < __atomic_load_n(&vm->running, __ATOMIC_SEQ_CST) &&
         !stopping(vm);
         i++) {
        if (i % 16 == 0 && hv_now_ns() >= end)
            return;
        vrf_shm_relax(i);
    }
}

int hv_vm_pause(struct hv_vm *vm, uint64_t *rips, uint64_t *pause_ns)
{
    struct timespec dl;
    int ret = HV_PAUSE_ERR_TIMEOUT;
    pthread_mutex_lock(&vm->pause_lock);
    uint64_t t0 = hv_now_ns();
    pthread_mutex_lock(&vm->lock);
    if (vm->pause_req) {
        pthread_mutex_unlock(&vm->lock);
        pthread_mutex_unlock(&vm->pause_lock);
        return HV_PAUSE_ERR_ALREADY;
    }
    __atomic_store_n(&vm->pause_req, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&vm->lock);
    deadline_after(&dl, HV_PAUSE_TIMEOUT_NS);
    for (unsigned i = 0; i < vm->ncpus; i++)
        kick(&vm->vcpu[i]);
    pause_spin(vm);

    pthread_mutex_lock(&vm->lock);
    __atomic_store_n(&vm->pauser_sleeps, 1, __ATOMIC_SEQ_CST);
    while (held(vm) < vm->running && !stopping(vm))
        if (pthread_cond_timedwait(&vm->parked_cond, &vm->lock, &dl) ==
            ETIMEDOUT)
            break;
    __atomic_store_n(&vm->pauser_sleeps, 0, __ATOMIC_SEQ_CST);
    if (stopping(vm)) {
        ret = HV_PAUSE_ERR_STOPPING;
    } else if (held(vm) == vm->ncpus) {
        *pause_ns = hv_now_ns() - t0;
        for (unsigned i = 0; i < vm->ncpus; i++)
            rips[i] = vm->vcpu[i].paused_rip;
        ret = 0;
    }
    if (ret != 0)
        resume_locked(vm); /* never leave a half-paused VM behind */
    pthread_mutex_unlock(&vm->lock);
    pthread_mutex_unlock(&vm->pause_lock);
    return ret;
}

int hv_vm_resume(struct hv_vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    pthread_mutex_lock(&vm->lock);
    int was_paused = vm->pause_req;
    resume_locked(vm);
    pthread_mutex_unlock(&vm->lock);
    pthread_mutex_unlock(&vm->pause_lock);
    return was_paused ? 0 : -1;
}

int hv_vm_paused(struct hv_vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    int p = __atomic_load_n(&vm->pause_req, __ATOMIC_SEQ_CST) &&
            __atomic_load_n(&vm->parked, __ATOMIC_SEQ_CST) == vm->ncpus;
    pthread_mutex_unlock(&vm->lock);
    return p;
}
