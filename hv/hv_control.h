/* hv_control.h: the QMP-style control socket (newline-delimited JSON).
 *
 * Request:  {"execute": "NAME", "arguments": {...}, "id": ANY}
 * Reply:    {"return": {...}, "id": ANY}
 *       or  {"error": {"class": "CLASS", "desc": "TEXT"}, "id": ANY}
 * On connect the server sends {"hvpatch": {"version": ..., "commands": [...]}}.
 * A malformed or oversized request gets an error and changes nothing. */
#ifndef HV_CONTROL_H
#define HV_CONTROL_H

#include <jansson.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define HV_CONTROL_MAX_LINE 4096 /* bytes per request, newline included */
#define HV_CONTROL_MAX_CLIENTS 8
#define HV_CONTROL_VERSION "0.1.0"

/* A command: returns the "return" object (a new reference), or NULL with
 * *err set to a static description (class GenericError). args is the
 * "arguments" object or NULL. */
struct hv_control_cmd {
    const char *name;
    json_t *(*run)(void *ctx, json_t *args, const char **err);
    int takes_args; /* 0: any non-empty "arguments" is rejected */
};

struct hv_control_client {
    int fd;
    int pending_fd; /* an fd sent with a request (SCM_RIGHTS), or -1 */
    size_t len;
    int discarding; /* an oversized line is being skipped */
    char buf[HV_CONTROL_MAX_LINE];
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

/* Fills pfd with the listening socket and clients; returns how many. */
int hv_control_pollfds(const struct hv_control *c, struct pollfd *pfd,
                       int max);

/* Accepts, reads and answers whatever the pollfds said is ready. */
void hv_control_service(struct hv_control *c, const struct pollfd *pfd,
                        int n);

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
