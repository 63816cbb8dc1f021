/* cli_control.c: clients of a running VM's control socket: `hvpatch
 * status|pause|resume|quit|lock|apply|revert|attest|trust|control --vm
 * SOCK`. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_health.h"
#include "hv/svc/hv_control.h"
#include "lib/vrf_file.h"
#include "lib/vrf_msg.h"
#include "pkg/vrf.h"
#include "tpm/vrf_tpm.h"

#define CLI_REPLY_TIMEOUT_MS 10000

struct cli_conn {
    int fd;
    size_t len;
    char buf[64 * 1024]; /* replies (status) are larger than requests */
};

static int conn_open(struct cli_conn *c, const char *cmd, const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    c->len = 0;
    if (strlen(path) >= sizeof a.sun_path) {
        fprintf(stderr, "hvpatch %s: socket path too long: %s\n", cmd, path);
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        fprintf(stderr, "hvpatch %s: cannot connect to %s: %s\n", cmd, path,
                strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        return -1;
    }
    return 0;
}

/* Reads one reply line into a malloc'd string (no newline), or NULL. */
static char *conn_line(struct cli_conn *c, const char *cmd)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            char *line = strndup(c->buf, n);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return line;
        }
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (c->len == sizeof c->buf ||
            poll(&p, 1, CLI_REPLY_TIMEOUT_MS) <= 0) {
            fprintf(stderr, "hvpatch %s: no complete reply from the VM\n",
                    cmd);
            return NULL;
        }
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (r <= 0) {
            fprintf(stderr, "hvpatch %s: the VM closed the connection\n",
                    cmd);
            return NULL;
        }
        c->len += (size_t)r;
    }
}

/* Sends one request line, and fd (>= 0) with it (SCM_RIGHTS). */
static int conn_send_fd(struct cli_conn *c, const char *text, int fd)
{
    size_t n = strlen(text);
    char *line = malloc(n + 1);
    if (!line)
        return -1;
    memcpy(line, text, n);
    line[n] = '\n';
    ssize_t w = vrf_send_fd(c->fd, line, n + 1, fd);
    free(line);
    return w == (ssize_t)(n + 1) ? 0 : -1;
}

static int conn_send(struct cli_conn *c, const char *text)
{
    return conn_send_fd(c, text, -1);
}

/* Connects, skips the greeting, sends one request (JSON text) with fd
 * (or -1), returns its "return" value (new reference), or NULL after
 * printing the error; *code is then CLI_EXIT_HOST (no VM, no reply) or
 * CLI_EXIT_REFUSED (an error reply). */
static json_t *cli_request_fd(const char *cmd, const char *path,
                              const char *req, int fd, int *code)
{
    struct cli_conn *c = malloc(sizeof *c);
    json_t *ret = NULL;
    char *line = NULL;
    *code = CLI_EXIT_HOST;
    if (!c || conn_open(c, cmd, path) != 0)
        goto out_free;
    free(conn_line(c, cmd)); /* greeting */
    if (conn_send_fd(c, req, fd) != 0 || !(line = conn_line(c, cmd)))
        goto out;
    json_t *reply = json_loads(line, 0, NULL);
    json_t *r = json_object_get(reply, "return");
    json_t *e = json_object_get(reply, "error");
    if (r) {
        ret = json_incref(r);
    } else {
        fprintf(stderr, "hvpatch %s: %s\n", cmd,
                e ? json_string_value(json_object_get(e, "desc"))
                  : "malformed reply");
        *code = e ? CLI_EXIT_REFUSED : CLI_EXIT_HOST;
    }
    json_decref(reply);
out:
    free(line);
    close(c->fd);
out_free:
    free(c);
    return ret;
}

json_t *cli_control_request(const char *cmd, const char *path,
                            const char *req, int fd, int *code)
{
    return cli_request_fd(cmd, path, req, fd, code);
}

static json_t *cli_request(const char *cmd, const char *path,
                           const char *req)
{
    int code;
    return cli_request_fd(cmd, path, req, -1, &code);
}

static json_t *cli_execute(const char *cmd, const char *path,
                           const char *command)
{
    char req[128];
    snprintf(req, sizeof req, "{\"execute\":\"%s\"}", command);
    return cli_request(cmd, path, req);
}

struct cli_opts {
    const char *vm;
    int json;
};

/* apply's health options into *h (docs/MONITOR.md, "Automatic
 * rollback"). Returns 0, or -1 for a bad value. */
static int health_opt(int c, struct cli_health_opts *h)
{
    switch (c) {
    case 'w':
        h->wait = 1;
        return 0;
    case 'W':
        h->window_s = cli_health_parse_window(optarg);
        if (h->window_s >= 0)
            return 0;
        fprintf(stderr, "hvpatch apply: --health-window takes whole "
                        "seconds, 0..3600\n");
        return -1;
    default: /* 'C' */
        h->cmd = optarg;
        return 0;
    }
}

/* Returns 0 to go on, or 1 when the caller should exit with *code. With
 * h (apply only), the health options are taken too. */
static int parse_opts_h(int argc, char **argv, const char *usage,
                        struct cli_opts *o, struct cli_health_opts *h,
                        int *code)
{
    static const struct option opts[] = {
        {"vm", required_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct option apply_opts[] = {
        {"vm", required_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"wait-healthy", no_argument, NULL, 'w'},
        {"health-window", required_argument, NULL, 'W'},
        {"health-cmd", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    int c;
    memset(o, 0, sizeof *o);
    o->vm = getenv("HVPATCH_VM");
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", h ? apply_opts : opts, NULL)) !=
           -1) {
        switch (c) {
        case 'w':
        case 'W':
        case 'C':
            if (health_opt(c, h) != 0) {
                *code = CLI_EXIT_USAGE;
                return 1;
            }
            break;
        case 'v':
            o->vm = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'h':
            printf("%s", usage);
            *code = CLI_EXIT_OK;
            return 1;
        default:
            fputs(usage, stderr);
            *code = CLI_EXIT_USAGE;
            return 1;
        }
    }
    if (!o->vm) {
        fprintf(stderr, "hvpatch %s: --vm SOCKET is required (or set "
                        "HVPATCH_VM)\n%s",
                argv[0], usage);
        *code = CLI_EXIT_USAGE;
        return 1;
    }
    return 0;
}

/* The trust store of `status` and `trust reload`. */
static void print_trust(json_t *t)
{
    json_t *v, *lr = json_object_get(t, "last_reload");
    size_t i;
    printf("trust store:  %s, sha256 %s, %lld anchor file(s), %lld CRL(s), "
           "loaded %s\n",
           json_string_value(json_object_get(t, "dir")),
           json_string_value(json_object_get(t, "sha256")),
           (long long)json_integer_value(json_object_get(t, "anchors")),
           (long long)json_integer_value(json_object_get(t, "crl_count")),
           json_string_value(json_object_get(t, "loaded")));
    json_array_foreach(json_object_get(t, "crls"), i, v)
    {
        const char *nu = json_string_value(json_object_get(v, "next_update"));
        printf("CRL %zu:        thisUpdate %s, nextUpdate %s\n", i,
               json_string_value(json_object_get(v, "this_update")),
               nu ? nu : "(none)");
    }
    const char *code = json_string_value(json_object_get(lr, "code"));
    if (code && strcmp(code, "VRF_OK") != 0)
        printf("last reload:  %s: %s\n", code,
               json_string_value(json_object_get(lr, "reason")));
}

static int parse_opts(int argc, char **argv, const char *usage,
                      struct cli_opts *o, int *code)
{
    return parse_opts_h(argc, argv, usage, o, NULL, code);
}

static void print_status(json_t *s)
{
    json_t *v;
    size_t i;
    printf("state:        %s\n", json_string_value(json_object_get(s, "state")));
    printf("uptime:       %lld ms\n",
           (long long)json_integer_value(json_object_get(s, "uptime_ms")));
    json_t *code = json_object_get(s, "code");
    printf("code sha256:  %s\n",
           json_string_value(json_object_get(code, "sha256")));
    json_t *lk = json_object_get(code, "text_lock");
    if (json_is_object(lk))
        printf("text lock:    GPA %s, %lld bytes read-only\n",
               json_string_value(json_object_get(lk, "gpa")),
               (long long)json_integer_value(json_object_get(lk, "size")));
    json_t *b = json_object_get(s, "baseline"), *t = json_object_get(s, "tpm");
    printf("baseline:     %s (%s)\n",
           json_string_value(json_object_get(b, "image_sha256")),
           json_string_value(json_object_get(b, "kind")));
    printf("TPM:          %s", json_string_value(json_object_get(t, "state")));
    if (json_object_get(t, "boot_id"))
        printf(", boot id %s",
               json_string_value(json_object_get(t, "boot_id")));
    printf("\n");
    json_array_foreach(json_object_get(s, "vcpus"), i, v)
    {
        json_t *hb = json_object_get(v, "heartbeats"); /* demo guest */
        printf("vCPU %zu:       ", i);
        if (hb)
            printf("%lld heartbeats, ", (long long)json_integer_value(hb));
        printf("%lld blocked writes\n",
               (long long)json_integer_value(
                   json_object_get(v, "blocked_writes")));
    }
    printf("blocked guest writes: %lld\n",
           (long long)json_integer_value(json_object_get(
               json_object_get(s, "blocked_writes"), "total")));
    json_t *pa = json_object_get(s, "patching");
    if (json_is_true(json_object_get(pa, "enabled")))
        printf("patching:     enabled, audit log %s\n",
               json_string_value(json_object_get(pa, "audit_log")));
    else
        printf("patching:     off (%s)\n",
               json_string_value(json_object_get(pa, "reason")));
    json_array_foreach(json_object_get(s, "patches"), i, v)
    {
        printf("patch:        %s sequence %lld, applied %s, signed by %s\n",
               json_string_value(json_object_get(v, "id")),
               (long long)json_integer_value(json_object_get(v, "seq")),
               json_string_value(json_object_get(v, "applied")),
               json_string_value(json_object_get(v, "signer")));
    }
    if (json_is_object(json_object_get(s, "trust")))
        print_trust(json_object_get(s, "trust"));
}

static int simple_command(int argc, char **argv, const char *command,
                          const char *usage)
{
    struct cli_opts o;
    int code;
    if (parse_opts(argc, argv, usage, &o, &code))
        return code;
    json_t *ret = cli_execute(argv[0], o.vm, command);
    if (!ret)
        return CLI_EXIT_REFUSED;
    if (o.json) {
        char *s = json_dumps(ret, JSON_COMPACT);
        printf("%s\n", s ? s : "null");
        free(s);
    } else if (strcmp(command, "status") == 0) {
        print_status(ret);
    } else if (strcmp(command, "lock") == 0) {
        printf("kernel text locked: GPA %s, %lld bytes, sha256 %s\n",
               json_string_value(json_object_get(ret, "gpa")),
               (long long)json_integer_value(json_object_get(ret, "size")),
               json_string_value(json_object_get(ret, "sha256")));
    } else {
        printf("%s: ok\n", command);
    }
    json_decref(ret);
    return CLI_EXIT_OK;
}

int cli_cmd_status(int argc, char **argv)
{
    return simple_command(argc, argv, "status",
                          "usage: hvpatch status --vm SOCKET [--json]\n"
                          "Show a running VM's state: vCPU heartbeats, "
                          "blocked guest writes, code digest,\n"
                          "live patches, the trust store's digest and its "
                          "CRLs' dates.\n");
}

int cli_cmd_pause(int argc, char **argv)
{
    return simple_command(argc, argv, "pause",
                          "usage: hvpatch pause --vm SOCKET [--json]\n"
                          "Take every vCPU out of guest mode and keep it "
                          "there until `resume`.\n");
}

int cli_cmd_resume(int argc, char **argv)
{
    return simple_command(argc, argv, "resume",
                          "usage: hvpatch resume --vm SOCKET [--json]\n"
                          "Let a paused VM run again.\n");
}

int cli_cmd_lock(int argc, char **argv)
{
    return simple_command(
        argc, argv, "lock",
        "usage: hvpatch lock --vm SOCKET [--json]\n"
        "Lock a Linux guest's kernel text, once its boot no longer rewrites "
        "it:\nfrom then on it is read-only to the guest, measured into PCR "
        "10 and\npatchable with `hvpatch apply` (docs/LINUX.md, \"Text "
        "lock\"). The guest\ncan ask for the same by writing a byte to I/O "
        "port 0xe0.\n");
}

int cli_cmd_quit(int argc, char **argv)
{
    return simple_command(argc, argv, "quit",
                          "usage: hvpatch quit --vm SOCKET [--json]\n"
                          "Stop a running VM (the monitor exits 0).\n");
}

/* The package file copied into a sealed memfd: what the VM reads is
 * what this command read, whatever happens to the file meanwhile. */
static int package_memfd(const char *cmd, const char *path)
{
    char err[512];
    int fd = -1, r;
    uint8_t *buf = NULL;
    size_t len = 0;

    r = vrf_file_read(path, VRF_PKG_MAX_SIZE, &buf, &len, err, sizeof err);
    if (r == VRF_FILE_ERR_TOO_LARGE) {
        fprintf(stderr, "hvpatch %s: %s: %s: not a package: larger than the "
                        "%u-byte limit\n",
                cmd, path, err, VRF_PKG_MAX_SIZE);
        goto out;
    }
    if (r != VRF_FILE_OK) {
        fprintf(stderr, "hvpatch %s: %s: %s\n", cmd, path, err);
        goto out;
    }
    if (len == 0) {
        fprintf(stderr, "hvpatch %s: %s: not a package: empty\n", cmd, path);
        goto out;
    }
    fd = memfd_create("hvpatch-package", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len ||
        fcntl(fd, F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        fprintf(stderr, "hvpatch %s: %s: cannot copy it for the VM: %s\n",
                cmd, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
out:
    free(buf);
    return fd;
}

/* Prints a reply (taken) as one line of JSON, or for people; returns
 * CLI_EXIT_OK. */
static int print_reply(json_t *r, int json, void (*human)(json_t *))
{
    if (json) {
        char *s = json_dumps(r, JSON_COMPACT);
        printf("%s\n", s ? s : "null");
        free(s);
    } else {
        human(r);
    }
    json_decref(r);
    return CLI_EXIT_OK;
}

static void print_patch_result(json_t *r)
{
    const char *op = json_string_value(json_object_get(r, "op"));
    json_t *t = json_object_get(r, "time_ns");
    printf("%s %s (sequence %lld) live in %.1f ms; the guest was paused "
           "%.1f us; signed by %s\n",
           op && strcmp(op, "revert") == 0 ? "reverted" : "applied",
           json_string_value(json_object_get(r, "id")),
           (long long)json_integer_value(json_object_get(r, "seq")),
           (double)json_integer_value(json_object_get(t, "total")) / 1e6,
           (double)json_integer_value(json_object_get(r, "pause_ns")) / 1e3,
           json_string_value(json_object_get(r, "signer")));
}

/* Sends req (and fd) and prints the result; returns the exit code. */
static int patch_request(const char *cmd, const struct cli_opts *o,
                         json_t *req, int fd)
{
    char *text = json_dumps(req, JSON_COMPACT);
    int code = CLI_EXIT_HOST;
    json_decref(req);
    json_t *r = text ? cli_request_fd(cmd, o->vm, text, fd, &code) : NULL;
    free(text);
    if (!r)
        return code;
    return print_reply(r, o->json, print_patch_result);
}

static const char cli_patch_exits[] =
    "Exit status: 0 done, 1 usage, 2 the VM or the file cannot be reached,\n"
    "4 refused (the reason is printed; the guest runs on, unchanged).\n";

/* The apply request: with a health window when one was asked for. */
static json_t *apply_request(const struct cli_health_opts *h)
{
    int w = h->window_s >= 0 ? h->window_s
            : h->wait        ? CLI_HEALTH_WINDOW_DEFAULT_S
                             : -1;
    if (w < 0)
        return json_pack("{s:s}", "execute", "apply");
    return json_pack("{s:s,s:{s:i}}", "execute", "apply", "arguments",
                     "health_window", w);
}

/* apply --wait-healthy: the apply, then the health watch's verdict. */
static int apply_and_wait(const struct cli_opts *o,
                          const struct cli_health_opts *h, int fd)
{
    json_t *req = apply_request(h);
    char *text = json_dumps(req, JSON_COMPACT);
    int code = CLI_EXIT_HOST;
    json_decref(req);
    json_t *r = text ? cli_request_fd("apply", o->vm, text, fd, &code) : NULL;
    free(text);
    if (!r)
        return code;
    if (!o->json)
        print_patch_result(r);
    code = cli_health_wait(o->vm, r, h, o->json);
    json_decref(r);
    return code;
}

int cli_cmd_apply(int argc, char **argv)
{
    char usage[2048];
    struct cli_opts o;
    struct cli_health_opts h = {.window_s = -1};
    int code;
    snprintf(usage, sizeof usage,
             "usage: hvpatch apply --vm SOCKET [--json] [--wait-healthy]\n"
             "       [--health-window SECONDS] [--health-cmd CMD] PACKAGE\n"
             "Apply a signed patch package to the running guest, without a\n"
             "restart. The VM's verifier checks it (signature, chain,\n"
             "revocation, baseline, sequence, pre-images), measures it into\n"
             "the TPM, logs it, and writes it with every vCPU paused.\n"
             "Then the VM watches the guest for a window (`run\n"
             "--health-window`, default 10 s) and reverts the patch by\n"
             "itself if the guest fails (docs/MONITOR.md, \"Automatic\n"
             "rollback\").\n"
             "  --wait-healthy         wait for the window's verdict\n"
             "  --health-window S      watch S seconds, 0..3600 (with\n"
             "                         --wait-healthy: default 10)\n"
             "  --health-cmd CMD       with --wait-healthy: run `sh -c CMD`\n"
             "                         every second of the window; a non-zero\n"
             "                         exit (or 5 s without one) fails it\n"
             "%s"
             "With --wait-healthy: 0 also means the guest stayed healthy for\n"
             "the window, 9 the guest failed and the patch was reverted\n"
             "automatically (the reason is printed; --json: \"result\":\n"
             "\"auto-reverted\" and \"reason\"), 3 the guest died or the\n"
             "VM stopped, or the revert failed: not repaired.\n",
             cli_patch_exits);
    if (parse_opts_h(argc, argv, usage, &o, &h, &code))
        return code;
    if (h.cmd && !h.wait) {
        fprintf(stderr, "hvpatch apply: --health-cmd needs --wait-healthy\n");
        return CLI_EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "hvpatch apply: one PACKAGE file is required\n%s",
                usage);
        return CLI_EXIT_USAGE;
    }
    int fd = package_memfd("apply", argv[optind]);
    if (fd < 0)
        return CLI_EXIT_HOST;
    if (h.wait)
        code = apply_and_wait(&o, &h, fd);
    else
        code = patch_request("apply", &o, apply_request(&h), fd);
    close(fd);
    return code;
}

int cli_cmd_revert(int argc, char **argv)
{
    char usage[1024];
    struct cli_opts o;
    int code;
    snprintf(usage, sizeof usage,
             "usage: hvpatch revert --vm SOCKET [--json] ID\n"
             "Undo the latest applied patch, ID, in the running guest: its\n"
             "sites get their original bytes back, measured and logged like\n"
             "an apply. Patches are reverted newest first.\n%s",
             cli_patch_exits);
    if (parse_opts(argc, argv, usage, &o, &code))
        return code;
    if (optind + 1 != argc) {
        fprintf(stderr, "hvpatch revert: one patch ID is required\n%s",
                usage);
        return CLI_EXIT_USAGE;
    }
    return patch_request("revert", &o,
                         json_pack("{s:s,s:{s:s}}", "execute", "revert",
                                   "arguments", "id", argv[optind]),
                         -1);
}

int cli_cmd_trust(int argc, char **argv)
{
    static const char usage[] =
        "usage: hvpatch trust reload --vm SOCKET [--json]\n"
        "Make a running VM's verifier re-read its --trust directory now\n"
        "(anchors/, crls/) and use it for every later apply. It also does\n"
        "so by itself before every apply and at least every 5 seconds.\n"
        "A directory that does not load in whole (a CRL that does not\n"
        "parse or is not signed by an anchor) is refused and the store in\n"
        "use is kept. Either way the verifier appends a \"trust-reload\"\n"
        "record to the audit log. A CRL past its nextUpdate is loaded (its\n"
        "revocations count) with a warning; packages it covers are then\n"
        "refused (VRF_ERR_REVOKE_CRL_EXPIRED) until it is renewed.\n"
        "Exit status: 0 loaded, 1 usage, 2 the VM cannot be reached,\n"
        "4 refused (the old store is kept; the reason is printed).\n";
    struct cli_opts o;
    int code;
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "--help") == 0)) {
        printf("%s", usage);
        return CLI_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "reload") != 0) {
        fprintf(stderr, "hvpatch trust: unknown or missing action\n%s",
                usage);
        return CLI_EXIT_USAGE;
    }
    if (parse_opts(argc - 1, argv + 1, usage, &o, &code))
        return code;
    if (optind != argc - 1) {
        fprintf(stderr, "hvpatch trust reload: unexpected argument\n%s",
                usage);
        return CLI_EXIT_USAGE;
    }
    json_t *r = cli_request_fd("trust reload", o.vm,
                               "{\"execute\":\"trust-reload\"}", -1, &code);
    if (!r)
        return code;
    return print_reply(r, o.json, print_trust);
}

/* Sends one raw request line; prints the reply; 1 if it was an error. */
static int raw_request(struct cli_conn *c, const char *req, int *failed)
{
    if (conn_send(c, req) != 0)
        return -1;
    char *line = conn_line(c, "control");
    if (!line)
        return -1;
    printf("%s\n", line);
    if (strncmp(line, "{\"error\"", 8) == 0)
        *failed = 1;
    free(line);
    return 0;
}

int cli_cmd_control(int argc, char **argv)
{
    static const char usage[] =
        "usage: hvpatch control --vm SOCKET [REQUEST...]\n"
        "Send raw JSON request lines (from the arguments, else from stdin)\n"
        "to a VM's control socket and print each reply line. Exit status\n"
        "4 if any reply was an error.\n";
    struct cli_opts o;
    int r, code, failed = 0;
    if (parse_opts(argc, argv, usage, &o, &code))
        return code;
    struct cli_conn *c = malloc(sizeof *c);
    if (!c || conn_open(c, "control", o.vm) != 0) {
        free(c);
        return CLI_EXIT_HOST;
    }
    char *greeting = conn_line(c, "control");
    r = greeting ? 0 : -1;
    free(greeting);
    for (int i = optind; r == 0 && i < argc; i++)
        r = raw_request(c, argv[i], &failed);
    if (optind == argc) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while (r == 0 && (n = getline(&line, &cap, stdin)) > 0) {
            if (line[n - 1] == '\n')
                line[n - 1] = '\0';
            r = raw_request(c, line, &failed);
        }
        free(line);
    }
    close(c->fd);
    free(c);
    if (r != 0)
        return CLI_EXIT_HOST;
    return failed ? CLI_EXIT_REFUSED : CLI_EXIT_OK;
}

/* Fills q and *log from an attest reply; 0, or -1 if malformed. */
static int quote_from_json(json_t *r, struct vrf_quote *q, uint8_t **log,
                           size_t *log_len)
{
    const char *key;
    json_t *v;
    long n;
    memset(q, 0, sizeof *q);
    const char *ev = json_string_value(json_object_get(r, "eventlog"));
    if (!ev || !(*log = malloc(strlen(ev) / 2 + 1)))
        return -1;
    if ((n = hv_control_unhex(ev, *log, strlen(ev) / 2)) <= 0)
        return -1;
    *log_len = (size_t)n;
    struct {
        const char *name;
        uint8_t *buf;
        size_t cap, *len;
    } f[] = {{"quote", q->msg, sizeof q->msg, &q->msg_len},
             {"signature", q->sig, sizeof q->sig, &q->sig_len},
             {"ak_pub", q->ak_pub, sizeof q->ak_pub, &q->ak_pub_len}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        const char *h = json_string_value(json_object_get(r, f[i].name));
        if (!h || (n = hv_control_unhex(h, f[i].buf, f[i].cap)) <= 0)
            return -1;
        *f[i].len = (size_t)n;
    }
    q->pcr_mask = (uint32_t)json_integer_value(json_object_get(r, "pcr_mask"));
    json_object_foreach(json_object_get(r, "pcrs"), key, v)
    {
        unsigned i = (unsigned)atoi(key);
        if (i >= FW_PCR_COUNT || !json_is_string(v) ||
            hv_control_unhex(json_string_value(v), q->pcr[i], 32) != 32)
            return -1;
    }
    return 0;
}

int cli_cmd_attest(int argc, char **argv)
{
    static const char usage[] =
        "usage: hvpatch attest --vm SOCKET --nonce HEX --out DIR\n"
        "Ask the VM's TPM for a quote over PCR 0, 4, 8, 9, 10 with your\n"
        "nonce (1 to 64 bytes, hex) and write quote.msg, quote.sig,\n"
        "quote.pcrs, ak.pub, ak.pem, eventlog.bin and nonce.hex into DIR,\n"
        "in the formats tpm2_checkquote and tpm2_eventlog take. Check with\n"
        "  hvpatch verify-attestation DIR --nonce HEX\n"
        "Exit codes: 0 written, 1 usage, 2 cannot write DIR or reach the\n"
        "VM, 4 the VM refused (no TPM, TPM gone).\n";
    const char *vm = getenv("HVPATCH_VM"), *nonce = NULL, *out = NULL;
    uint8_t nb[VRF_NONCE_MAX], *log = NULL;
    size_t log_len = 0;
    struct vrf_quote q;
    char err[256], *req = NULL;
    int c, ret = CLI_EXIT_REFUSED;
    static const struct option opts[] = {
        {"vm", required_argument, NULL, 'v'},
        {"nonce", required_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'v')
            vm = optarg;
        else if (c == 'n')
            nonce = optarg;
        else if (c == 'o')
            out = optarg;
        else {
            fputs(usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
    }
    long nlen = nonce ? hv_control_unhex(nonce, nb, sizeof nb) : -1;
    if (!vm || !out || nlen <= 0 || optind != argc) {
        fprintf(stderr, "hvpatch attest: --vm, --out and --nonce (1 to 64 "
                        "bytes of hex) are required\n%s",
                usage);
        return CLI_EXIT_USAGE;
    }
    json_t *args = json_pack("{s:s,s:{s:s}}", "execute", "attest",
                             "arguments", "nonce", nonce);
    req = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    json_t *r = req ? cli_request("attest", vm, req) : NULL;
    if (!r)
        goto out;
    if (quote_from_json(r, &q, &log, &log_len) != 0) {
        fprintf(stderr, "hvpatch attest: malformed reply from the VM\n");
        ret = CLI_EXIT_HOST;
    } else if (vrf_att_save(out, &q, nb, (size_t)nlen, log, log_len, err,
                            sizeof err) != 0) {
        fprintf(stderr, "hvpatch attest: %s\n", err);
        ret = CLI_EXIT_HOST;
    } else {
        printf("attestation written to %s; check it with\n"
               "  hvpatch verify-attestation %s --nonce %s\n",
               out, out, nonce);
        ret = CLI_EXIT_OK;
    }
    json_decref(r);
out:
    free(req);
    free(log);
    return ret;
}
