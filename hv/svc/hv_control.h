/* hv_control.h: the QMP-style control socket (newline-delimited JSON).
 *
 * Request:  {"execute": "NAME", "arguments": {...}, "id": ANY}
 * Reply:    {"return": {...}, "id": ANY}
 *       or  {"error": {"class": "CLASS", "desc": "TEXT"}, "id": ANY}
 * On connect the server sends {"hvpatch": {"version": ..., "commands": [...]}}.
 * A malformed or oversized request gets an error and changes nothing; so
 * does one sent with more than one fd (SCM_RIGHTS), or with an fd for a
 * command that takes none. Each client has one request in progress at a
 * time; idle clients lose their slot to new ones (docs/MONITOR.md). */
#ifndef HV_CONTROL_H
#define HV_CONTROL_H

#include <jansson.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define HV_CONTROL_MAX_LINE 4096 /* bytes per request, newline included */
#define HV_CONTROL_MAX_CLIENTS 16
#define HV_CONTROL_BACKLOG 64    /* connections waiting to be accepted */
#define HV_CONTROL_MAX_FDS 16    /* fds one read can carry; more: truncated */
#define HV_CONTROL_GRACE_MS 2000 /* a waiting client keeps its slot so long */
#define HV_CONTROL_IDLE_MS 60000 /* then it is closed, even with room left */
#define HV_CONTROL_STALL_MS 3000 /* reading none of its reply so long: closed */
#define HV_CONTROL_VERSION "0.1.0"

/* A command: returns the "return" object (a new reference), or NULL with
 * *err set to a static description (class GenericError). args is the
 * "arguments" object or NULL. */
struct hv_control_cmd {
    const char *name;
    json_t *(*run)(void *ctx, json_t *args, const char **err);
    int takes_args; /* 0: any non-empty "arguments" is rejected */
    int takes_fd;   /* 0: a request sent with an fd is refused */
};

/* Ancillary data (SCM_RIGHTS) that came with the bytes up to buf[at]: it
 * belongs to the request whose line holds that byte. */
struct hv_control_anc {
    int fd;            /* the one fd, or -1 */
    size_t at;         /* offset in buf of the last byte read with it */
    const char *fault; /* why the request is refused (fds closed), or NULL */
};

#define HV_CONTROL_MAX_ANC 4

/* A client's framing state and output (hv_control_feed, _next). */
struct hv_control_client {
    int fd;
    size_t len;
    int discarding; /* an oversized line is being skipped */
    int too_large;  /* its TooLarge reply is still to be sent */
    size_t nanc;
    struct hv_control_anc anc[HV_CONTROL_MAX_ANC];
    char *out; /* the reply being sent (one at most), or NULL */
    size_t out_len, out_off;
    uint64_t since_ns;    /* connected, or last reply fully sent */
    uint64_t progress_ns; /* last time some of out was sent */
    char buf[HV_CONTROL_MAX_LINE];
};

/* One request line taken out of a client's buffer. */
struct hv_control_req {
    char line[HV_CONTROL_MAX_LINE]; /* without its newline, not terminated */
    size_t len;
    int fd;            /* sent with it (now the taker's), or -1 */
    const char *cls;   /* refused before parsing: error class, or NULL */
    const char *fault; /* and why */
};

struct hv_control {
    const struct hv_control_cmd *cmds;
    size_t ncmds;
    void *ctx;
    int listen_fd;
    char *path;
    /* While a command runs: the fd its client sent with the request (-1
     * if none; hv_control_take_fd takes it), and the error class its
     * failure reports (NULL: GenericError; a command may set it). */
    int req_fd;
    const char *err_class;
    struct hv_control_client clients[HV_CONTROL_MAX_CLIENTS];
};

/* Framing, without sockets (the server and the fuzzer use it). Appends
 * one read's bytes, and the fds that came with it (nfds, or truncated:
 * the kernel cut the ancillary data), to the client's line buffer. The
 * fds become the client's: each request keeps one fd at most; any more,
 * and all of a truncated read's, are closed and their request refused.
 * A line longer than HV_CONTROL_MAX_LINE - 1 is skipped up to its newline
 * and reported once as TooLarge. Takes at most the buffer's free room
 * (HV_CONTROL_MAX_LINE - len); returns how many bytes it took. */
size_t hv_control_feed(struct hv_control_client *cl, const char *data,
                       size_t len, const int *fds, size_t nfds, int truncated);

/* Takes the next complete request (or a pending TooLarge report) out of
 * the buffer into *r. Returns 1, or 0 if there is none yet. */
int hv_control_next(struct hv_control_client *cl, struct hv_control_req *r);

/* The reply to a request hv_control_next took (as hv_control_handle
 * returns), or NULL for an empty line (ignored). Refused requests name
 * their fault; the request's fd goes to the command if it takes one, else
 * it is closed. */
char *hv_control_answer(struct hv_control *c, const struct hv_control_req *r);

/* Closes the fds the client's buffer still holds and empties it. */
void hv_control_reset(struct hv_control_client *cl);

/* Handles one request line (without its newline). Returns the reply as a
 * malloc'd NUL-terminated JSON text without newline; never NULL. */
char *hv_control_handle(struct hv_control *c, const char *line, size_t len);

/* The fd sent with the current request, now the caller's; or -1. */
int hv_control_take_fd(struct hv_control *c);

/* An error reply of the given class, as hv_control_handle returns. */
char *hv_control_error(const char *cls, const char *desc, json_t *id);

/* Binds a unix stream socket at path, mode 0600. A stale socket file is
 * replaced; a live one (another VM) is an error. Returns 0 or -1. */
int hv_control_listen(struct hv_control *c, const char *path);

/* Fills pfd with the listening socket (while a client can be taken) and
 * clients; returns how many. */
int hv_control_pollfds(const struct hv_control *c, struct pollfd *pfd,
                       int max);

/* Accepts, reads and writes whatever the pollfds said is ready, answers
 * at most one request per client, closes clients that idle or stall. */
void hv_control_service(struct hv_control *c, const struct pollfd *pfd,
                        int n);

/* The poll timeout to use: 0 while a client has a request waiting to be
 * answered, else dflt. */
int hv_control_timeout(const struct hv_control *c, int dflt);

/* Binary data in control JSON travels as lowercase hex strings. Returns a
 * new JSON string, or NULL when out of memory. */
json_t *hv_control_hex(const uint8_t *buf, size_t len);
/* An address as a JSON string "0x..." (JSON numbers lose 64-bit ones). */
json_t *hv_control_addr(uint64_t addr);

/* Decodes hex text (even length, [0-9a-fA-F] only) into out[0..cap).
 * Returns the byte count, or -1 if malformed or longer than cap. */
long hv_control_unhex(const char *text, uint8_t *out, size_t cap);

/* Closes every socket and removes the socket file. */
void hv_control_close(struct hv_control *c);

#endif /* HV_CONTROL_H */
