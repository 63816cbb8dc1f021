/* vrf_shm.h: the pause region (struct vrf_shm, vrf_msg.h) for both
 * sides: creating and mapping it, and posting and waiting on its words. */
#ifndef VRF_SHM_H
#define VRF_SHM_H

#include <stdint.h>

#include "lib/vrf_msg.h"

/* The verifier's side, before its sandbox: a VRF_SHM_SIZE memfd, sealed
 * against resizing (a monitor that could shrink it would kill the
 * verifier with SIGBUS), mapped shared at *shm and zeroed. Returns the
 * fd, or -1 with errno. */
int vrf_shm_create(struct vrf_shm **shm);

/* The monitor's side, before its sandbox: maps fd after checking that it
 * is a memfd of VRF_SHM_SIZE sealed against resizing. Returns the
 * mapping, or NULL (errno EINVAL for a wrong fd). */
struct vrf_shm *vrf_shm_map(int fd);

/* Stores val in *word (release), and wakes the other side if *sleeps says
 * it is in FUTEX_WAIT on word. */
void vrf_shm_post(uint32_t *word, uint32_t val, const uint32_t *sleeps);

/* Waits until *word differs from old: spins for spin_ns (with the pause
 * instruction), then sleeps on the futex with *sleeps set, at the latest
 * until deadline_ns (hv_now_ns's clock, CLOCK_MONOTONIC). Returns the
 * new value (acquire), or old at the deadline. */
uint32_t vrf_shm_wait(uint32_t *word, uint32_t old, uint32_t *sleeps,
                      uint64_t spin_ns, uint64_t deadline_ns);

/* One step of a spin loop (i counts the steps): mostly the pause
 * instruction, every fourth a sched_yield, so that on a host with fewer
 * cores than busy threads the spinner lets the thread it waits for run. */
void vrf_shm_relax(unsigned i);

#endif /* VRF_SHM_H */
