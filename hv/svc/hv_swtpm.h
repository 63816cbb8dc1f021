/* hv_swtpm.h: one software TPM (swtpm 0.7, Debian) per VM, as a direct
 * child of the monitor that dies with it.
 *
 *   swtpm socket --tpm2 --tpmstate dir=DIR,mode=0600
 *         --server type=unixio,path=DIR/swtpm.sock,mode=0600
 *         --ctrl type=unixio,path=DIR/swtpm.sock.ctrl,mode=0600
 *         --flags not-need-init,startup-clear
 *
 * No orphan, ever: the child sets PR_SET_PDEATHSIG(SIGKILL) before exec
 * (and exits if the monitor already died), so the kernel kills swtpm when
 * the thread that started it exits, whatever way the monitor dies;
 * hv_swtpm_stop() sends SIGTERM, waits a bounded time, then SIGKILL, and
 * reaps it. swtpm gets its own process group (a ^C to the monitor's
 * terminal does not kill the TPM under a running VM), stdin /dev/null,
 * stdout/stderr appended to DIR/swtpm.log, no other inherited descriptor,
 * default signal dispositions and an empty signal mask.
 *
 * Contract for the caller (the monitor):
 *  - call hv_swtpm_start() from the main thread (PR_SET_PDEATHSIG fires
 *    when the *thread* that forked exits);
 *  - don't reap children with waitpid(-1, ...) or SIGCHLD = SIG_IGN: this
 *    module waits for its own pid;
 *  - pass hv_swtpm_tcti() to vrf_tpm_open() (the verifier's TPM).
 */
#ifndef HV_SWTPM_H
#define HV_SWTPM_H

#include <stddef.h>
#include <sys/types.h>

/* Errors: stable negative values, never reused; block -3200..-3299. */
enum {
    HV_SWTPM_OK = 0,
    HV_ERR_SWTPM_ARG = -3200,     /* invalid argument */
    HV_ERR_SWTPM_PATH = -3201,    /* state dir path too long or has ',' */
    HV_ERR_SWTPM_STATE = -3202,   /* state dir or log not usable */
    HV_ERR_SWTPM_BUSY = -3203,    /* a live swtpm already serves this dir */
    HV_ERR_SWTPM_SPAWN = -3204,   /* fork or exec of swtpm failed */
    HV_ERR_SWTPM_EXITED = -3205,  /* swtpm exited during start-up */
    HV_ERR_SWTPM_TIMEOUT = -3206, /* swtpm did not answer in time */
};

/* Fixed text of an HV_ERR_SWTPM_* code ("unknown error" otherwise). */
const char *hv_swtpm_strerror(int err);

#define HV_SWTPM_BIN "/usr/bin/swtpm"
#define HV_SWTPM_START_TIMEOUT_MS 5000u
#define HV_SWTPM_STOP_TIMEOUT_MS 2000u
#define HV_SWTPM_SOCK_MAX 108 /* sizeof sockaddr_un.sun_path */

struct hv_swtpm_config {
    const char *state_dir;     /* required; created 0700 if missing, else
                                  must be ours and not group/other
                                  writable; holds the TPM state, sockets
                                  and swtpm.log (rotated to swtpm.log.old
                                  past 1 MiB) */
    const char *swtpm_bin;     /* NULL = HV_SWTPM_BIN */
    unsigned start_timeout_ms; /* 0 = HV_SWTPM_START_TIMEOUT_MS */
};

struct hv_swtpm {
    pid_t pid;  /* swtpm's pid while started and not reaped, else 0 */
    int status; /* wait status, valid once reaped != 0 */
    int reaped;
    char sock[HV_SWTPM_SOCK_MAX];      /* TPM socket; control: sock.ctrl */
    char tcti[HV_SWTPM_SOCK_MAX + 16]; /* "swtpm:path=<sock>" */
    char log[4096];                    /* swtpm.log path */
};

/* Starts swtpm for cfg->state_dir and waits (at most start_timeout_ms)
 * until it answers a TPM command through tpm2-tss ESAPI (vrf_tpm_open).
 * A stale socket of a dead swtpm is removed; a live one is HV_ERR_SWTPM_BUSY.
 * On failure nothing is left running and errbuf (may be NULL) names the
 * failed call or quotes swtpm.log's last line. Returns 0 or an
 * HV_ERR_SWTPM_* code. */
int hv_swtpm_start(struct hv_swtpm *s, const struct hv_swtpm_config *cfg,
                   char *errbuf, size_t errlen);

/* The tpm2-tss TCTI string of a started swtpm ("swtpm:path=..."). */
const char *hv_swtpm_tcti(const struct hv_swtpm *s);

/* 1 while swtpm runs; 0 once it exited (it is then reaped and s->status
 * holds its wait status); never blocks. */
int hv_swtpm_running(struct hv_swtpm *s);

/* Stops swtpm: SIGTERM, up to timeout_ms (0 = HV_SWTPM_STOP_TIMEOUT_MS)
 * for it to exit, then SIGKILL; always reaps it and removes its sockets.
 * Idempotent; safe after swtpm died on its own. Returns 0, or
 * HV_ERR_SWTPM_ARG. errbuf (may be NULL) gets how it ended. */
int hv_swtpm_stop(struct hv_swtpm *s, unsigned timeout_ms, char *errbuf,
                  size_t errlen);

#endif /* HV_SWTPM_H */
