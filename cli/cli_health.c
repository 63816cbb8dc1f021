/* cli_health.c: `hvpatch apply --wait-healthy`: waits out the VM's health
 * watch (docs/MONITOR.md, "Automatic rollback"). The monitor watches and
 * reverts by itself; this client only polls `status`, runs the operator's
 * --health-cmd (the monitor may not start processes: seccomp) and reports
 * a failure of it with `unhealthy`, and turns the verdict into an exit
 * status. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_health.h"

#define CLI_HEALTH_POLL_MS 250
/* After the window: a revert (prepare, quote, fsync) may still run. */
#define CLI_HEALTH_SLACK_MS 60000

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int cli_health_parse_window(const char *s)
{
    char *end;
    if (!s || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > CLI_HEALTH_WINDOW_MAX_S)
        return -1;
    return (int)v;
}

/* Runs `sh -c cmd` with stdin from /dev/null, at most
 * CLI_HEALTH_CMD_TIMEOUT_MS. Returns 0 if it exited 0, else fills why. */
static int run_check(const char *cmd, char *why, size_t cap)
{
    pid_t pid = fork();
    int st = 0;
    if (pid < 0) {
        snprintf(why, cap, "cannot start --health-cmd: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    uint64_t end = now_ms() + CLI_HEALTH_CMD_TIMEOUT_MS;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < end)
        sleep_ms(20);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        snprintf(why, cap, "--health-cmd timed out after %d s",
                 CLI_HEALTH_CMD_TIMEOUT_MS / 1000);
        return -1;
    }
    if (r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (r > 0 && WIFSIGNALED(st))
        snprintf(why, cap, "--health-cmd killed by signal %d", WTERMSIG(st));
    else
        snprintf(why, cap, "--health-cmd exited %d",
                 r > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return -1;
}

/* The VM's "health" object (new reference), or NULL: the VM is gone. */
static json_t *poll_health(const char *vm)
{
    int code;
    json_t *st =
        cli_control_request("apply", vm, "{\"execute\":\"status\"}", -1, &code);
    json_t *h = json_incref(json_object_get(st, "health"));
    json_decref(st);
    return h;
}

static void report_unhealthy(const char *vm, int watch, const char *why)
{
    int code;
    json_t *req = json_pack("{s:s,s:{s:i,s:s}}", "execute", "unhealthy",
                            "arguments", "watch", watch, "reason", why);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(cli_control_request("apply", vm, text, -1, &code));
    free(text);
    json_decref(req);
}

/* The verdict: result name, reason and exit status. */
struct verdict {
    const char *result; /* a literal: outlives the status reply */
    char reason[256];
    int code;
};

static int decide(json_t *h, int watch, const char *id, struct verdict *v)
{
    const char *state = json_string_value(json_object_get(h, "state"));
    const char *why = json_string_value(json_object_get(h, "reason"));
    snprintf(v->reason, sizeof v->reason, "%s", why ? why : "");
    if (json_integer_value(json_object_get(h, "watch")) != watch) {
        v->result = "ended";
        snprintf(v->reason, sizeof v->reason,
                 "a later apply replaced the watch of %s", id);
        v->code = CLI_EXIT_OK;
    } else if (!state || strcmp(state, "watching") == 0) {
        return 0;
    } else if (strcmp(state, "healthy") == 0 || strcmp(state, "ended") == 0) {
        v->result = state[0] == 'h' ? "healthy" : "ended";
        v->code = CLI_EXIT_OK;
    } else if (strcmp(state, "auto-reverted") == 0) {
        v->result = "auto-reverted";
        v->code = CLI_EXIT_AUTO_REVERTED;
    } else { /* the guest is dead, or the revert failed */
        v->result = strcmp(state, "dead") == 0 ? "dead" : "revert-failed";
        v->code = CLI_EXIT_GUEST;
    }
    return 1;
}

static void print_verdict(json_t *applied, const struct verdict *v, int json)
{
    const char *id = json_string_value(json_object_get(applied, "id"));
    if (json) {
        json_t *o = json_deep_copy(applied);
        json_object_set_new(o, "result", json_string(v->result));
        if (v->reason[0])
            json_object_set_new(o, "reason", json_string(v->reason));
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s ? s : "null");
        free(s);
        json_decref(o);
        return;
    }
    if (v->code == CLI_EXIT_AUTO_REVERTED)
        printf("auto-reverted %s: the guest failed: %s\n", id, v->reason);
    else if (v->code == CLI_EXIT_GUEST)
        printf("%s %s: %s; the guest was not repaired\n", v->result, id,
               v->reason[0] ? v->reason : "the VM stopped");
    else if (strcmp(v->result, "healthy") == 0)
        printf("healthy: %s, the guest stayed healthy for the window\n", id);
    else
        printf("%s %s: %s\n", v->result, id, v->reason);
}

int cli_health_wait(const char *vm, json_t *applied,
                    const struct cli_health_opts *o, int json)
{
    json_t *ah = json_object_get(applied, "health");
    const char *id = json_string_value(json_object_get(applied, "id"));
    int watch = (int)json_integer_value(json_object_get(ah, "watch"));
    uint64_t window =
        (uint64_t)json_integer_value(json_object_get(ah, "window_ms"));
    uint64_t t0 = now_ms(), end = t0 + window + CLI_HEALTH_SLACK_MS;
    uint64_t next_check = t0;
    int reported = 0;
    struct verdict v = {.result = "healthy", .code = CLI_EXIT_OK};
    if (!id)
        id = "?";
    if (window == 0) { /* --health-window 0: nothing to wait for */
        print_verdict(applied, &v, json);
        return v.code;
    }
    for (;;) {
        json_t *h = poll_health(vm);
        if (!h) {
            v.result = "dead";
            snprintf(v.reason, sizeof v.reason,
                     "the VM stopped during the health window");
            v.code = CLI_EXIT_GUEST;
            break;
        }
        int done = decide(h, watch, id, &v);
        json_decref(h);
        if (done)
            break;
        if (now_ms() > end) {
            v.result = "dead";
            snprintf(v.reason, sizeof v.reason,
                     "no verdict from the VM %d s after the window",
                     CLI_HEALTH_SLACK_MS / 1000);
            v.code = CLI_EXIT_GUEST;
            break;
        }
        if (o->cmd && !reported && now_ms() >= next_check &&
            now_ms() < t0 + window) {
            char why[150];
            if (run_check(o->cmd, why, sizeof why) != 0) {
                report_unhealthy(vm, watch, why);
                reported = 1;
            }
            next_check = now_ms() + CLI_HEALTH_CMD_EVERY_MS;
        }
        sleep_ms(CLI_HEALTH_POLL_MS);
    }
    print_verdict(applied, &v, json);
    return v.code;
}
