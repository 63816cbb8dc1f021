/* hv_vrf.h: the monitor's side of the verifier process. */
#ifndef HV_VRF_H
#define HV_VRF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/vrf_msg.h"

struct hv_vrf {
    pid_t pid;
    int sock; /* the monitor's end of the socketpair, or -1 */
    struct vrf_shm *shm; /* the pause region (hv_patch_shm_open), or NULL */
    uint32_t shm_req;    /* the last req posted on it */
};

/* Starts hvpatch-verifier (hv_exe_find) for the guest image
 * image[0..len) and cfg: fork, then execve with the socket, the image and
 * the initrd as sealed memfds (copies: the caller keeps its buffers) and
 * the rest of cfg as options. The caller must still be single-threaded.
 * Returns 0 or -1 (logged). */
int hv_vrf_start(struct hv_vrf *v, const uint8_t *image, size_t len,
                 const struct vrf_proc_cfg *cfg);

/* Waits for the READY message and the code memfd that comes with it, as
 * long as the verifier or helper (its swtpm, or 0) used CPU time in the
 * last idle_ms (start-up hashes the image and talks to the TPM: minutes on
 * an emulated lab host, milliseconds here) and at most max_ms in all.
 * Returns the fd and fills *ready, or -1 (logged). */
int hv_vrf_wait_ready(struct hv_vrf *v, pid_t helper, int idle_ms, int max_ms,
                      struct vrf_msg *ready);

/* Sends req and waits (at most timeout_ms) for one reply, and the fd that
 * may come with it (*fd, or -1; pass fd NULL to refuse fds). Returns 0, or
 * -1 if the verifier is gone or silent (then v->sock is closed: the
 * verifier is not trusted to come back, and patching stays refused). */
int hv_vrf_call(struct hv_vrf *v, const struct vrf_msg *req,
                struct vrf_msg *reply, int *fd, int timeout_ms);

/* Receives one message the verifier sends unasked (SHM, after READY) and
 * the fd that may come with it (*fd, or -1), waiting at most timeout_ms.
 * Returns 0, or -1 as hv_vrf_call does (the socket is then closed). */
int hv_vrf_recv(struct hv_vrf *v, struct vrf_msg *m, int *fd, int timeout_ms);
/* hv_vrf_call, passing send_fd (>= 0) with the request. */
int hv_vrf_call_fd(struct hv_vrf *v, const struct vrf_msg *req, int send_fd,
                   struct vrf_msg *reply, int *fd, int timeout_ms);

/* Reaps the verifier if it has exited (waitpid WNOHANG on its pid only,
 * never on another child), logs how it ended and sets v->pid to -1, so no
 * zombie outlives it while the guest runs on. Returns 1 if it reaped,
 * else 0. The main loop calls it on SIGCHLD and while the verifier's
 * socket is closed. */
int hv_vrf_reap(struct hv_vrf *v);

/* Closes the socket (the verifier exits on EOF) and reaps the process,
 * killing it if it has not exited within a second. */
void hv_vrf_stop(struct hv_vrf *v);

#endif /* HV_VRF_H */
