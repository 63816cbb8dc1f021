/* vrf_shm.c: the pause region both processes map (vrf_shm.h). Waiting
 * spins first because the other side answers within microseconds once
 * the vCPUs are paused; a process wake-up costs more than the work. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/hv_log.h"
#include "lib/vrf_shm.h"

#define VRF_SHM_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int vrf_shm_create(struct vrf_shm **shm)
{
    int fd = memfd_create("hvpatch-pause", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    void *p = MAP_FAILED;
    if (ftruncate(fd, VRF_SHM_SIZE) == 0 &&
        fcntl(fd, F_ADD_SEALS, VRF_SHM_SEALS) == 0)
        p = mmap(NULL, VRF_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *shm = p; /* a new memfd reads as zeros */
    return fd;
}

struct vrf_shm *vrf_shm_map(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size != VRF_SHM_SIZE ||
        (fcntl(fd, F_GET_SEALS) & VRF_SHM_SEALS) != VRF_SHM_SEALS) {
        errno = EINVAL;
        return NULL;
    }
    void *p = mmap(NULL, VRF_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                   fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Shared (not FUTEX_PRIVATE): the two sides are two processes. */
static void futex_wait(uint32_t *word, uint32_t old, uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u),
                          (long)(ns % 1000000000u)};
    syscall(SYS_futex, word, FUTEX_WAIT, old, &ts, NULL, 0);
}

void vrf_shm_post(uint32_t *word, uint32_t val, const uint32_t *sleeps)
{
    /* seq_cst store then load, against the waiter's store of *sleeps then
     * load of *word: one of the two sees the other's store. */
    __atomic_store_n(word, val, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(sleeps, __ATOMIC_SEQ_CST))
        syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

void vrf_shm_relax(unsigned i)
{
    if (i % 4 == 3)
        sched_yield();
    else
        __builtin_ia32_pause();
}

static int changed(uint32_t *word, uint32_t old, uint32_t *now)
{
    *now = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    return *now != old;
}

uint32_t vrf_shm_wait(uint32_t *word, uint32_t old, uint32_t *sleeps,
                      uint64_t spin_ns, uint64_t deadline_ns)
{
    uint32_t v;
    uint64_t t = hv_now_ns(), spin_end = t + spin_ns;
    for (unsigned i = 0; t < spin_end && t < deadline_ns; i++) {
        if (changed(word, old, &v))
            return v;
        vrf_shm_relax(i);
        if ((i & 15) == 15) /* the clock costs more than a pause */
            t = hv_now_ns();
    }
    while ((t = hv_now_ns()) < deadline_ns) {
        __atomic_store_n(sleeps, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == old)
            futex_wait(word, old, deadline_ns - t);
        __atomic_store_n(sleeps, 0, __ATOMIC_RELAXED);
        if (changed(word, old, &v))
            return v;
    }
    return changed(word, old, &v) ? v : old;
}
