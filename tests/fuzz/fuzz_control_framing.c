/* fuzz_control_framing.c: libFuzzer target for the control socket's
 * framing (hv_control_feed, _next, _answer): reads of any size with 0, 1
 * or many fds, truncated ancillary data, partial and oversized lines.
 * Besides crashes and leaks it checks that every fd handed in is closed
 * in the end: by the framing, by the reply path, or by the one command
 * that takes it.
 *
 * Input: records of [flags][len][len bytes]. flags bits 0-2: fds sent
 * with the read (0-7); bit 3: ancillary data truncated; bit 4: answer
 * every complete request before the next read. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/svc/hv_control.h"

#define MAX_FDS 256 /* fds one input may hand in */

static struct hv_control ctl;

static json_t *take_fd(void *ctx, json_t *args, const char **err)
{
    (void)ctx;
    (void)args;
    int fd = hv_control_take_fd(&ctl);
    if (fd < 0) {
        *err = "needs an fd";
        return NULL;
    }
    close(fd);
    return json_object();
}

static json_t *plain(void *ctx, json_t *args, const char **err)
{
    (void)ctx;
    (void)args;
    (void)err;
    return json_object();
}

static const struct hv_control_cmd cmds[] = {
    {"status", plain, 0, 0},
    {"apply", take_fd, 0, 1},
    {"args", plain, 1, 0},
};

static void answer_all(struct hv_control_client *cl)
{
    static struct hv_control_req r;
    while (hv_control_next(cl, &r)) {
        if (r.len >= HV_CONTROL_MAX_LINE || memchr(r.line, '\n', r.len))
            abort(); /* a request is one line within the limit */
        free(hv_control_answer(&ctl, &r));
        if (ctl.req_fd != -1)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hv_control_client cl;
    int made[MAX_FDS];
    size_t nmade = 0;
    ctl = (struct hv_control){.cmds = cmds, .ncmds = 3, .req_fd = -1};
    memset(&cl, 0, sizeof cl);
    cl.fd = -1;
    while (size >= 2) {
        uint8_t flags = data[0];
        size_t len = data[1] < size - 2 ? data[1] : size - 2;
        int fds[7];
        size_t nfds = 0;
        for (; nfds < (flags & 7u) && nmade < MAX_FDS; nfds++) {
            fds[nfds] = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fds[nfds] < 0)
                abort();
            made[nmade++] = fds[nfds];
        }
        size_t took = hv_control_feed(&cl, (const char *)data + 2, len, fds,
                                      nfds, (flags & 8u) != 0);
        if (took > len || cl.len > HV_CONTROL_MAX_LINE)
            abort();
        if (flags & 16u)
            answer_all(&cl);
        data += 2 + len;
        size -= 2 + len;
    }
    answer_all(&cl);
    hv_control_reset(&cl); /* the client goes: its partial line with it */
    for (size_t i = 0; i < nmade; i++)
        if (fcntl(made[i], F_GETFD) != -1 || errno != EBADF)
            abort(); /* an fd leaked */
    return 0;
}
