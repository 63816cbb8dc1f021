/* hv_health.h: the health watch after a patch (docs/MONITOR.md,
 * "Automatic rollback"): for a bounded window after an apply, the monitor
 * watches the guest and has the verifier revert the patch if the guest
 * shows it failing.
 *
 * A service (docs/MONITOR.md, "Layers"): may include the machine
 * (hv_machine.h) and other services' headers; devices reach it only through
 * the ops the assembly (hv_run.c) gives them. */
#ifndef HV_HEALTH_H
#define HV_HEALTH_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/hv_abi.h"
#include "lib/vrf_msg.h"

#define HV_HEALTH_WINDOW_DEFAULT_S 10u /* `run --health-window` default */
#define HV_HEALTH_WINDOW_MAX_S 3600u
#define HV_HEALTH_HB_STALL_MS 5000u /* demo heartbeats: 50 missed */
#define HV_HEALTH_REASON_MAX 160u   /* reasons, NUL included */
/* A patch id, as the verifier sends it. */
#define HV_HEALTH_ID_MAX VRF_MSG_ID_MAX

/* What a console line says about the guest. */
enum hv_health_line {
    HV_HEALTH_LINE_OK = 0,
    HV_HEALTH_LINE_FAULT, /* an oops or BUG: the guest runs on, hurt */
    HV_HEALTH_LINE_PANIC, /* a kernel panic: the guest is dead */
};

enum hv_health_state {
    HV_HEALTH_IDLE = 0,      /* nothing applied yet, or watching is off */
    HV_HEALTH_WATCHING,      /* inside the window */
    HV_HEALTH_HEALTHY,       /* the window closed with no failure */
    HV_HEALTH_AUTO_REVERTED, /* failed; the patch was reverted */
    HV_HEALTH_REVERT_FAILED, /* failed; the revert was refused */
    HV_HEALTH_DEAD,          /* the guest died: reported, not repaired */
    HV_HEALTH_ENDED,         /* cut short: reverted by hand or superseded */
};

struct hv_vm;
struct hv_vrf;

struct hv_health {
    struct hv_vm *vm; /* the machine watched (vCPUs, pause, patches) */
    /* Signals from vCPU threads (console lines); lock guards them. */
    pthread_mutex_t lock;
    int line_kind; /* the worst enum hv_health_line since the last take */
    char line[HV_HEALTH_REASON_MAX];
    /* Heartbeat hypercalls (demo guest), from vCPU threads. */
    atomic_uint_fast64_t beat[HV_MAX_VCPUS];          /* last count */
    atomic_uint_fast64_t first_beat_ns[HV_MAX_VCPUS]; /* 0: none yet */
    atomic_uint_fast64_t all_beat_ns; /* when every vCPU had one */

    /* The rest is the main thread's. */
    uint64_t default_window_ms; /* 0: apply alone does not watch */
    int state;                  /* enum hv_health_state */
    unsigned watch;             /* counts watches: which one a client waits */
    char id[HV_HEALTH_ID_MAX];  /* the patch watched */
    uint64_t window_ms, start_ns, end_ns;
    uint64_t hb[HV_MAX_VCPUS], hb_ns[HV_MAX_VCPUS]; /* progress seen */
    char reason[HV_HEALTH_REASON_MAX];
    /* The last automatic revert, for `status`. */
    unsigned last_watch;
    char last_id[HV_HEALTH_ID_MAX];
    char last_reason[HV_HEALTH_REASON_MAX];
    uint64_t last_ms; /* Unix time, ms; 0: none yet */
};

/* Classifies one console line (without its newline): Linux's "Oops:",
 * "BUG:", "kernel BUG at", a die() header ("invalid opcode: 0000 [#1]")
 * are faults, "Kernel panic" is a panic; an optional printk time stamp
 * "[   12.345678] " in front is skipped. Pure: unit-tested. */
int hv_health_classify(const char *line, size_t len);

/* Copies src into dst (cap bytes, NUL-terminated) keeping printable ASCII
 * and making every other byte '?': reasons come from the guest and go to
 * JSON and the audit log. */
void hv_health_clean(char *dst, size_t cap, const char *src, size_t len);

/* Parses a window in whole seconds, 0..HV_HEALTH_WINDOW_MAX_S, into ms.
 * Returns 0, or -1 for anything else. */
int hv_health_parse_window(const char *s, uint64_t *ms);

void hv_health_init(struct hv_health *h, struct hv_vm *vm,
                    uint64_t default_window_ms);
void hv_health_destroy(struct hv_health *h);

/* A console line from the guest (any thread): remembers a fault or a
 * panic for the main thread's next tick. */
void hv_health_console_line(struct hv_health *h, const char *line, size_t len);

/* vCPU cpu's heartbeat hypercall with the guest's count (any thread);
 * logs once when every vCPU has sent its first. */
void hv_health_heartbeat(struct hv_health *h, unsigned cpu, uint64_t count);
/* Starts watching patch id for window_ms (0: no watch, the state goes
 * IDLE); a watch still open is superseded. Returns the watch number. */
unsigned hv_health_watch(struct hv_health *h, const char *id,
                         uint64_t window_ms);
/* Ends an open watch without a verdict (the patch was reverted by hand). */
void hv_health_cancel(struct hv_health *h);
/* An operator's check failed (`hvpatch apply --health-cmd`): the open
 * watch number `watch` fails with reason. Returns 0, or -1 if that watch
 * is not open. */
int hv_health_report(struct hv_health *h, struct hv_vrf *vrf, unsigned watch,
                     const char *reason);
/* The main loop's check, every turn: console signals, heartbeats, the end
 * of the window; reverts through the verifier on a failure. */
void hv_health_tick(struct hv_health *h, struct hv_vrf *vrf);

/* The state name `status` and `apply` show ("watching", ...). */
const char *hv_health_state_name(int state);
/* `status`'s "health" member: the current or last watch and the last
 * automatic revert. */
json_t *hv_health_json(const struct hv_health *h);

#endif /* HV_HEALTH_H */
