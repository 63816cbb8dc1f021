/* hv_control.c: the QMP-style control socket: request parsing (jansson)
 * and a small poll-driven unix-socket server run by the main thread. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hv/hv_control.h"
#include "hv/hv_log.h"
#include "verifier/vrf_msg.h"

static char *dump_reply(json_t *reply)
{
    char *s = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    if (!s) /* out of memory: a fixed reply still says what happened */
        s = strdup("{\"error\":{\"class\":\"GenericError\","
                   "\"desc\":\"out of memory\"}}");
    if (!s)
        abort();
    return s;
}

char *hv_control_error(const char *cls, const char *desc, json_t *id)
{
    json_t *r = json_pack("{s:{s:s,s:s}}", "error", "class", cls, "desc",
                          desc);
    if (r && id)
        json_object_set(r, "id", id);
    return dump_reply(r);
}

static const struct hv_control_cmd *find_cmd(const struct hv_control *c,
                                             const char *name)
{
    for (size_t i = 0; i < c->ncmds; i++)
        if (strcmp(c->cmds[i].name, name) == 0)
            return &c->cmds[i];
    return NULL;
}

/* Checks the request's shape; returns NULL or a description of the fault. */
static const char *check_request(json_t *req, const char **name,
                                 json_t **args)
{
    const char *key;
    json_t *val;
    if (!json_is_object(req))
        return "request must be a JSON object";
    json_object_foreach(req, key, val)
    {
        if (strcmp(key, "execute") && strcmp(key, "arguments") &&
            strcmp(key, "id"))
            return "unknown member in request (allowed: execute, "
                   "arguments, id)";
    }
    json_t *ex = json_object_get(req, "execute");
    if (!json_is_string(ex))
        return "\"execute\" must be a string naming a command";
    *name = json_string_value(ex);
    *args = json_object_get(req, "arguments");
    if (*args && !json_is_object(*args))
        return "\"arguments\" must be an object";
    return NULL;
}

char *hv_control_handle(struct hv_control *c, const char *line, size_t len)
{
    json_error_t jerr;
    const char *name = NULL, *err = NULL;
    json_t *args = NULL;
    if (len >= HV_CONTROL_MAX_LINE)
        return hv_control_error("TooLarge", "request longer than 4095 bytes",
                                NULL);
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req)
        return hv_control_error("JSONParsing", jerr.text, NULL);
    json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
    char *out = NULL;
    const char *fault = check_request(req, &name, &args);
    const struct hv_control_cmd *cmd = fault ? NULL : find_cmd(c, name);
    if (fault) {
        out = hv_control_error("GenericError", fault, id);
    } else if (!cmd) {
        out = hv_control_error("CommandNotFound", "no such command", id);
    } else if (!cmd->takes_args && args && json_object_size(args) > 0) {
        out = hv_control_error("GenericError", "command takes no arguments",
                               id);
    } else {
        c->err_class = NULL;
        json_t *ret = cmd->run(c->ctx, args, &err);
        if (!ret) {
            out = hv_control_error(c->err_class ? c->err_class
                                                : "GenericError",
                                   err ? err : "command failed", id);
        } else {
            json_t *r = json_pack("{s:o}", "return", ret);
            if (r && id)
                json_object_set(r, "id", id);
            out = dump_reply(r);
        }
    }
    json_decref(req);
    return out;
}

int hv_control_take_fd(struct hv_control *c)
{
    int fd = c->req_fd;
    c->req_fd = -1;
    return fd;
}

json_t *hv_control_addr(uint64_t addr)
{
    char s[24];
    snprintf(s, sizeof s, "0x%" PRIx64, addr);
    return json_string(s);
}

json_t *hv_control_hex(const uint8_t *buf, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *t = malloc(2 * len + 1);
    if (!t)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        t[2 * i] = digits[buf[i] >> 4];
        t[2 * i + 1] = digits[buf[i] & 15];
    }
    t[2 * len] = '\0';
    json_t *j = json_stringn(t, 2 * len);
    free(t);
    return j;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long hv_control_unhex(const char *text, uint8_t *out, size_t cap)
{
    size_t n = strlen(text);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

/* ------------------------------------------------------------ the server */

static int socket_is_live(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int live = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return live;
}

int hv_control_listen(struct hv_control *c, const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct stat st;
    for (int i = 0; i < HV_CONTROL_MAX_CLIENTS; i++)
        c->clients[i].fd = c->clients[i].pending_fd = -1;
    c->listen_fd = -1;
    c->req_fd = -1;
    if (strlen(path) >= sizeof a.sun_path) {
        hv_err("control socket path too long (max %zu bytes): %s",
               sizeof a.sun_path - 1, path);
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            hv_err("control socket %s: a file of another kind is there", path);
            return -1;
        }
        if (socket_is_live(path)) {
            hv_err("control socket %s is in use by another VM", path);
            return -1;
        }
        unlink(path); /* stale, left by a monitor that died */
    }
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->listen_fd < 0) {
        hv_err("control socket: socket() failed: %s", strerror(errno));
        return -1;
    }
    mode_t old = umask(0177); /* the socket file is created 0600 */
    int b = bind(c->listen_fd, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (b < 0 || listen(c->listen_fd, HV_CONTROL_MAX_CLIENTS) < 0) {
        hv_err("control socket %s: bind/listen failed: %s", path,
               strerror(errno));
        close(c->listen_fd);
        c->listen_fd = -1;
        return -1;
    }
    c->path = strdup(path);
    return c->path ? 0 : -1;
}

static void drop_client(struct hv_control_client *cl)
{
    close(cl->fd);
    cl->fd = -1;
    if (cl->pending_fd >= 0)
        close(cl->pending_fd);
    cl->pending_fd = -1;
}

static void send_line(struct hv_control_client *cl, char *text)
{
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL; the length is known */
    ssize_t w = send(cl->fd, text, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w != (ssize_t)(n + 1)) /* a client that does not read is dropped */
        drop_client(cl);
    free(text);
}

static void greet(const struct hv_control *c, struct hv_control_client *cl)
{
    json_t *names = json_array();
    for (size_t i = 0; i < c->ncmds; i++)
        json_array_append_new(names, json_string(c->cmds[i].name));
    json_t *g = json_pack("{s:{s:s,s:o}}", "hvpatch", "version",
                          HV_CONTROL_VERSION, "commands", names);
    send_line(cl, dump_reply(g));
}

static void accept_client(struct hv_control *c)
{
    int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    for (int i = 0; i < HV_CONTROL_MAX_CLIENTS; i++) {
        struct hv_control_client *cl = &c->clients[i];
        if (cl->fd < 0) {
            cl->fd = fd;
            cl->pending_fd = -1;
            cl->len = 0;
            cl->discarding = 0;
            greet(c, cl);
            return;
        }
    }
    static const char busy[] = "{\"error\":{\"class\":\"GenericError\","
                               "\"desc\":\"too many clients\"}}\n";
    ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    close(fd);
}

/* Answers every complete line in the client's buffer. */
static void process_lines(struct hv_control *c, struct hv_control_client *cl)
{
    char *nl;
    while (cl->fd >= 0 && (nl = memchr(cl->buf, '\n', cl->len)) != NULL) {
        size_t n = (size_t)(nl - cl->buf);
        if (cl->discarding) {
            cl->discarding = 0; /* the end of an oversized request */
        } else if (n > 0) {
            c->req_fd = cl->pending_fd;
            cl->pending_fd = -1;
            send_line(cl, hv_control_handle(c, cl->buf, n));
            if (c->req_fd >= 0) /* sent with a command that takes none */
                close(c->req_fd);
            c->req_fd = -1;
        }
        memmove(cl->buf, nl + 1, cl->len - n - 1);
        cl->len -= n + 1;
    }
    if (cl->fd >= 0 && cl->len == sizeof cl->buf) {
        /* No newline within the limit: refuse it, skip to its end. */
        cl->len = 0;
        if (!cl->discarding)
            send_line(cl, hv_control_error(
                              "TooLarge", "request longer than 4095 bytes",
                              NULL));
        cl->discarding = 1;
    }
}

/* Reads what the client sent, and the one fd it may have sent with it
 * (a later fd replaces an unused earlier one). */
static ssize_t recv_client(struct hv_control_client *cl)
{
    int fd, truncated;
    ssize_t r = vrf_recv_fd(cl->fd, cl->buf + cl->len,
                            sizeof cl->buf - cl->len, &fd, &truncated);
    if (fd >= 0) {
        if (cl->pending_fd >= 0)
            close(cl->pending_fd);
        cl->pending_fd = fd;
    }
    return r;
}

static void read_client(struct hv_control *c, struct hv_control_client *cl)
{
    ssize_t r = recv_client(cl);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        drop_client(cl);
        return;
    }
    if (r > 0) {
        cl->len += (size_t)r;
        process_lines(c, cl);
    }
}

int hv_control_pollfds(const struct hv_control *c, struct pollfd *pfd,
                       int max)
{
    int n = 0;
    if (c->listen_fd >= 0 && n < max)
        pfd[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
    for (int i = 0; i < HV_CONTROL_MAX_CLIENTS && n < max; i++)
        if (c->clients[i].fd >= 0)
            pfd[n++] = (struct pollfd){.fd = c->clients[i].fd,
                                       .events = POLLIN};
    return n;
}

void hv_control_service(struct hv_control *c, const struct pollfd *pfd, int n)
{
    for (int k = 0; k < n; k++) {
        if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (pfd[k].fd == c->listen_fd) {
            accept_client(c);
            continue;
        }
        for (int i = 0; i < HV_CONTROL_MAX_CLIENTS; i++)
            if (c->clients[i].fd == pfd[k].fd)
                read_client(c, &c->clients[i]);
    }
}

void hv_control_close(struct hv_control *c)
{
    for (int i = 0; i < HV_CONTROL_MAX_CLIENTS; i++)
        if (c->clients[i].fd >= 0)
            drop_client(&c->clients[i]);
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    c->listen_fd = -1;
    if (c->path)
        unlink(c->path);
    free(c->path);
    c->path = NULL;
}
