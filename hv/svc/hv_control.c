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

#include "hv/svc/hv_control.h"
#include "lib/hv_log.h"
#include "lib/lib_hex.h"

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
    } else if (!cmd->takes_fd && c->req_fd >= 0) {
        out = hv_control_error("GenericError",
                               "command takes no fd (the one sent with it "
                               "was closed)",
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
    char *t = lib_hex_alloc(buf, len);
    if (!t)
        return NULL;
    json_t *j = json_stringn(t, 2 * len);
    free(t);
    return j;
}

long hv_control_unhex(const char *text, uint8_t *out, size_t cap)
{
    return lib_hex_decode(text, strlen(text), out, cap);
}

/* ------------------------------------------------------------ the server */

/* ------------------------------------------------------------ framing */

static const char fault_many[] =
    "a request carries one fd at most (SCM_RIGHTS); all sent were closed";
static const char fault_trunc[] =
    "ancillary data truncated (too many fds); all sent were closed";

static void close_fds(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* Whether buf[a] and buf[b] (a <= b) lie in one line. */
static int same_line(const struct hv_control_client *cl, size_t a, size_t b)
{
    return memchr(cl->buf + a, '\n', b - a) == NULL;
}

/* Gives the fds read with the bytes up to buf[at] to that byte's line. */
static void attach(struct hv_control_client *cl, size_t at, const int *fds,
                   size_t nfds, int truncated)
{
    struct hv_control_anc a = {.fd = -1, .at = at};
    if (truncated || nfds > 1) {
        a.fault = truncated ? fault_trunc : fault_many;
        close_fds(fds, nfds);
    } else {
        a.fd = fds[0];
    }
    struct hv_control_anc *last = cl->nanc ? &cl->anc[cl->nanc - 1] : NULL;
    if (last && (same_line(cl, last->at, at) ||
                 cl->nanc == HV_CONTROL_MAX_ANC)) {
        /* A second lot for one request (or no room to tell): refuse it. */
        close_fds(&last->fd, 1);
        close_fds(&a.fd, 1);
        last->fd = -1;
        if (!last->fault)
            last->fault = a.fault ? a.fault : fault_many;
        last->at = at > last->at ? at : last->at;
        return;
    }
    cl->anc[cl->nanc++] = a;
}

void hv_control_reset(struct hv_control_client *cl)
{
    for (size_t i = 0; i < cl->nanc; i++)
        close_fds(&cl->anc[i].fd, 1);
    cl->nanc = 0;
    cl->len = 0;
    cl->discarding = 0;
    cl->too_large = 0;
}

/* The buffer is full and holds no newline: the line is too long. */
static void start_discarding(struct hv_control_client *cl)
{
    hv_control_reset(cl); /* every fd in it belongs to this line */
    cl->discarding = 1;
    cl->too_large = 1;
}

size_t hv_control_feed(struct hv_control_client *cl, const char *data,
                       size_t len, const int *fds, size_t nfds, int truncated)
{
    size_t room = sizeof cl->buf - cl->len;
    size_t took = len < room ? len : room;
    size_t skip = 0;
    if (cl->discarding) { /* up to and with the oversized line's newline */
        const char *nl = memchr(data, '\n', took);
        skip = nl ? (size_t)(nl - data) + 1 : took;
        cl->discarding = nl == NULL;
    }
    memcpy(cl->buf + cl->len, data + skip, took - skip);
    cl->len += took - skip;
    int kept = took > skip && took == len; /* the read's last byte is in buf */
    if (nfds > 0 || truncated) {
        if (kept)
            attach(cl, cl->len - 1, fds, nfds, truncated);
        else
            close_fds(fds, nfds);
    }
    if (cl->len == sizeof cl->buf && !memchr(cl->buf, '\n', cl->len))
        start_discarding(cl);
    return took;
}

int hv_control_next(struct hv_control_client *cl, struct hv_control_req *r)
{
    r->fd = -1;
    r->cls = r->fault = NULL;
    r->len = 0;
    if (cl->too_large) {
        cl->too_large = 0;
        r->cls = "TooLarge";
        r->fault = "request longer than 4095 bytes";
        return 1;
    }
    const char *nl = memchr(cl->buf, '\n', cl->len);
    if (!nl)
        return 0;
    size_t n = (size_t)(nl - cl->buf), k = 0;
    memcpy(r->line, cl->buf, n);
    r->len = n;
    if (cl->nanc && cl->anc[0].at <= n) { /* one lot per line (attach) */
        r->fd = cl->anc[0].fd;
        r->fault = cl->anc[0].fault;
        r->cls = r->fault ? "GenericError" : NULL;
        k = 1;
    }
    for (size_t i = k; i < cl->nanc; i++) {
        cl->anc[i - k] = cl->anc[i];
        cl->anc[i - k].at -= n + 1;
    }
    cl->nanc -= k;
    memmove(cl->buf, nl + 1, cl->len - n - 1);
    cl->len -= n + 1;
    return 1;
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
        c->clients[i].fd = -1;
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
    if (b < 0 || listen(c->listen_fd, HV_CONTROL_BACKLOG) < 0) {
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
    hv_control_reset(cl);
    free(cl->out);
    cl->out = NULL;
}

/* Tells a client why it is closed (if its socket has room) and closes it. */
static void bye(struct hv_control_client *cl, const char *why)
{
    char *text = hv_control_error("GenericError", why, NULL);
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL; the length is known */
    ssize_t w = send(cl->fd, text, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    free(text);
    drop_client(cl);
}

/* Sends what the socket takes of the reply now; never waits. */
static void flush_out(struct hv_control_client *cl, uint64_t now)
{
    while (cl->out && cl->out_off < cl->out_len) {
        ssize_t w = send(cl->fd, cl->out + cl->out_off,
                         cl->out_len - cl->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w <= 0) {
            drop_client(cl);
            return;
        }
        cl->out_off += (size_t)w;
        cl->progress_ns = now;
    }
    if (cl->out) {
        free(cl->out);
        cl->out = NULL;
        cl->since_ns = now;
    }
}

/* Queues one reply line (text: malloc'd, as hv_control_handle returns). */
static void queue_line(struct hv_control_client *cl, char *text,
                       uint64_t now)
{
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL; the length is known */
    cl->out = text;
    cl->out_len = n + 1;
    cl->out_off = 0;
    cl->progress_ns = now;
    flush_out(cl, now);
}

static void greet(const struct hv_control *c, struct hv_control_client *cl,
                  uint64_t now)
{
    json_t *names = json_array();
    for (size_t i = 0; i < c->ncmds; i++)
        json_array_append_new(names, json_string(c->cmds[i].name));
    json_t *g = json_pack("{s:{s:s,s:o}}", "hvpatch", "version",
                          HV_CONTROL_VERSION, "commands", names);
    queue_line(cl, dump_reply(g), now);
}

/* Whether the client waits for its own next request: nothing to send,
 * nothing buffered to answer. */
static int waiting(const struct hv_control_client *cl)
{
    return cl->fd >= 0 && !cl->out && !cl->too_large &&
           !memchr(cl->buf, '\n', cl->len);
}

/* The slot a new client may take: a free one, else the one of the client
 * that has waited longest, if that is longer than the grace time; or -1. */
static int free_slot(const struct hv_control *c, uint64_t now)
{
    int oldest = -1;
    for (int i = 0; i < HV_CONTROL_MAX_CLIENTS; i++) {
        const struct hv_control_client *cl = &c->clients[i];
        if (cl->fd < 0)
            return i;
        if (waiting(cl) &&
            (oldest < 0 || cl->since_ns < c->clients[oldest].since_ns))
            oldest = i;
    }
    if (oldest >= 0 &&
        now - c->clients[oldest].since_ns >= HV_CONTROL_GRACE_MS * 1000000ull)
        return oldest;
    return -1;
}

static void accept_client(struct hv_control *c, uint64_t now)
{
    int slot = free_slot(c, now);
    if (slot < 0)
        return; /* the connection waits in the backlog */
    struct hv_control_client *cl = &c->clients[slot];
    int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    if (cl->fd >= 0)
        bye(cl, "closed to make room for a new client: this one sent no "
                "request for too long");
    cl->fd = fd;
    cl->since_ns = cl->progress_ns = now;
    greet(c, cl, now);
}

/* Reads what the client sent, and every fd that came with it. */
static void read_client(struct hv_control_client *cl)
{
    char data[HV_CONTROL_MAX_LINE];
    union {
        char buf[CMSG_SPACE(HV_CONTROL_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = data,
                        .iov_len = sizeof cl->buf - cl->len};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    int fds[HV_CONTROL_MAX_FDS];
    size_t nfds = 0;
    ssize_t r = recvmsg(cl->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    for (struct cmsghdr *cm = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm;
         cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
            cm->cmsg_len < CMSG_LEN(0))
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && nfds < HV_CONTROL_MAX_FDS; i++)
            memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int),
                   sizeof(int));
    }
    if (r <= 0) {
        drop_client(cl);
        return;
    }
    hv_control_feed(cl, data, (size_t)r, fds, nfds,
                    (mh.msg_flags & MSG_CTRUNC) != 0);
}

char *hv_control_answer(struct hv_control *c, const struct hv_control_req *r)
{
    char *reply = NULL;
    c->req_fd = r->fd;
    if (r->cls)
        reply = hv_control_error(r->cls, r->fault, NULL);
    else if (r->len > 0)
        reply = hv_control_handle(c, r->line, r->len);
    else if (r->fd >= 0)
        reply = hv_control_error("GenericError",
                                 "fd sent with an empty line; closed", NULL);
    if (c->req_fd >= 0) /* refused, or a command that did not take it */
        close(c->req_fd);
    c->req_fd = -1;
    return reply;
}

/* Answers the client's next buffered request, if it has one. */
static void answer_one(struct hv_control *c, struct hv_control_client *cl,
                       uint64_t now)
{
    static struct hv_control_req r; /* 4 KiB: off the stack */
    if (cl->fd < 0 || cl->out || !hv_control_next(cl, &r))
        return;
    char *reply = hv_control_answer(c, &r);
    if (reply)
        queue_line(cl, reply, now);
}

/* Closes the client if it stalls on its reply or idles too long. */
static void check_time(struct hv_control_client *cl, uint64_t now)
{
    if (cl->fd < 0)
        return;
    if (cl->out && now - cl->progress_ns >= HV_CONTROL_STALL_MS * 1000000ull) {
        hv_log("control: closed a client that read none of its reply "
               "for %d ms",
               HV_CONTROL_STALL_MS);
        drop_client(cl);
    } else if (waiting(cl) &&
               now - cl->since_ns >= HV_CONTROL_IDLE_MS * 1000000ull) {
        bye(cl, "closed: no request for too long");
    }
}

int hv_control_pollfds(const struct hv_control *c, struct pollfd *pfd,
                       int max)
{
    int n = 0;
    /* Only while a client can be taken: else they wait in the backlog. */
    if (c->listen_fd >= 0 && n < max &&
        free_slot(c, hv_now_ns()) >= 0)
        pfd[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
    for (int i = 0; i < HV_CONTROL_MAX_CLIENTS && n < max; i++) {
        const struct hv_control_client *cl = &c->clients[i];
        if (cl->fd < 0)
            continue;
        /* Output first; input only when nothing is left to answer. */
        short ev = cl->out ? POLLOUT : waiting(cl) ? POLLIN : 0;
        pfd[n++] = (struct pollfd){.fd = cl->fd, .events = ev};
    }
    return n;
}

int hv_control_timeout(const struct hv_control *c, int dflt)
{
    for (int i = 0; i < HV_CONTROL_MAX_CLIENTS; i++) {
        const struct hv_control_client *cl = &c->clients[i];
        if (cl->fd >= 0 && !cl->out && !waiting(cl))
            return 0;
    }
    return dflt;
}

static struct hv_control_client *find_client(struct hv_control *c, int fd)
{
    for (int i = 0; i < HV_CONTROL_MAX_CLIENTS; i++)
        if (c->clients[i].fd == fd)
            return &c->clients[i];
    return NULL;
}

void hv_control_service(struct hv_control *c, const struct pollfd *pfd, int n)
{
    uint64_t now = hv_now_ns();
    for (int k = 0; k < n; k++) {
        short ev = pfd[k].revents;
        if (pfd[k].fd == c->listen_fd) {
            if (ev & POLLIN)
                accept_client(c, now);
            continue;
        }
        struct hv_control_client *cl = find_client(c, pfd[k].fd);
        if (!cl || !(ev & (POLLIN | POLLOUT | POLLHUP | POLLERR)))
            continue;
        if (cl->out)
            flush_out(cl, now); /* drops it on an error or hang-up */
        else if (waiting(cl))
            read_client(cl); /* drops it at end of file */
    }
    /* One request per client per turn: none can hold the main loop. */
    for (int i = 0; i < HV_CONTROL_MAX_CLIENTS; i++) {
        answer_one(c, &c->clients[i], now);
        check_time(&c->clients[i], now);
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
