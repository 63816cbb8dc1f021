/* cli_control.c: clients of a running VM's control socket: `hvpatch
 * status|pause|resume|quit|control --vm SOCK`. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "hv/hv_control.h"
#include "verifier/vrf_tpm.h"

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

static int conn_send(struct cli_conn *c, const char *text)
{
    size_t n = strlen(text);
    return send(c->fd, text, n, MSG_NOSIGNAL) == (ssize_t)n &&
                   send(c->fd, "\n", 1, MSG_NOSIGNAL) == 1
               ? 0
               : -1;
}

/* Connects, skips the greeting, sends one request (JSON text), returns
 * its "return" value (new reference) or NULL after printing the error. */
static json_t *cli_request(const char *cmd, const char *path,
                           const char *req)
{
    struct cli_conn *c = malloc(sizeof *c);
    json_t *ret = NULL;
    char *line = NULL;
    if (!c || conn_open(c, cmd, path) != 0)
        goto out_free;
    free(conn_line(c, cmd)); /* greeting */
    if (conn_send(c, req) != 0 || !(line = conn_line(c, cmd)))
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
    }
    json_decref(reply);
out:
    free(line);
    close(c->fd);
out_free:
    free(c);
    return ret;
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

/* Returns 0 to go on, or 1 when the caller should exit with *code. */
static int parse_opts(int argc, char **argv, const char *usage,
                      struct cli_opts *o, int *code)
{
    static const struct option opts[] = {
        {"vm", required_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    memset(o, 0, sizeof *o);
    o->vm = getenv("HVPATCH_VM");
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
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
                          "blocked guest writes, code digest.\n");
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

int cli_cmd_quit(int argc, char **argv)
{
    return simple_command(argc, argv, "quit",
                          "usage: hvpatch quit --vm SOCKET [--json]\n"
                          "Stop a running VM (the monitor exits 0).\n");
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
