/* cli_health.h: `hvpatch apply --wait-healthy`: waits out the VM's health
 * watch after an apply, optionally running the operator's own check
 * (--health-cmd), and turns its verdict into an exit status. */
#ifndef CLI_HEALTH_H
#define CLI_HEALTH_H

#include <jansson.h>

#include "hv/svc/hv_health.h"

/* The monitor's own default and limit of the watch window. */
#define CLI_HEALTH_WINDOW_DEFAULT_S ((int)HV_HEALTH_WINDOW_DEFAULT_S)
#define CLI_HEALTH_WINDOW_MAX_S ((long)HV_HEALTH_WINDOW_MAX_S)
#define CLI_HEALTH_CMD_TIMEOUT_MS 5000 /* one run of --health-cmd */
#define CLI_HEALTH_CMD_EVERY_MS 1000   /* --health-cmd runs this often */

struct cli_health_opts {
    int wait;        /* --wait-healthy */
    int window_s;    /* --health-window, or -1: not given */
    const char *cmd; /* --health-cmd, or NULL */
};

/* Sends one request line (and fd, or -1) to the VM at path and returns
 * its "return" value, or NULL after printing why; *code is then
 * CLI_EXIT_HOST (no VM, no reply) or CLI_EXIT_REFUSED. (cli_control.c) */
json_t *cli_control_request(const char *cmd, const char *path, const char *req,
                            int fd, int *code);

/* Parses --health-window's SECONDS (0..3600). Returns it, or -1. */
int cli_health_parse_window(const char *s);

/* After a successful apply whose reply is applied: polls the VM's
 * `status` until health watch applied.health.watch ends, running o->cmd
 * every second meanwhile, and prints the verdict (one JSON object with
 * "result" and "reason" if json). Returns CLI_EXIT_OK (healthy),
 * CLI_EXIT_AUTO_REVERTED, or CLI_EXIT_GUEST (the guest died, the VM
 * stopped, or the revert failed: not repaired). */
int cli_health_wait(const char *vm, json_t *applied,
                    const struct cli_health_opts *o, int json);

#endif /* CLI_HEALTH_H */
