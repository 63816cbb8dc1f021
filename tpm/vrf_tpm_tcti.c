/* vrf_tpm_tcti.c: a TCTI for swtpm's unix TPM socket whose every wait is
 * bounded (tpm2-tss 3.2.1's tcti-swtpm blocks in recv() without limit, so a
 * stopped swtpm would hang the verifier). It only moves bytes: ESAPI does
 * all TPM marshalling; only the response header's size field is read here
 * (with Tss2_MU) to know how many bytes to wait for. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_mu.h>

#include "tpm/vrf_tpm_int.h"

#define TCTI_MAGIC 0x6876737774706d31ull /* "hvswtpm1" */
#define TPM_HEADER 10u
#define TPM_MAX_MSG 4096u /* TPM2_MAX_COMMAND_SIZE / response size */

enum { ST_TRANSMIT, ST_RECEIVE };

struct tcti_swtpm {
    TSS2_TCTI_CONTEXT_COMMON_V2 common; /* must stay first */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    unsigned timeout_ms;
    int sock;
    int state;
    int timed_out;
    uint64_t deadline; /* ms, CLOCK_MONOTONIC, of the command in flight */
    uint8_t hdr[TPM_HEADER];
    uint32_t rsp_size; /* 0 until the response header was read */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct tcti_swtpm *cast(TSS2_TCTI_CONTEXT *ctx)
{
    struct tcti_swtpm *c = (struct tcti_swtpm *)ctx;
    if (c == NULL || c->common.v1.magic != TCTI_MAGIC)
        return NULL;
    return c;
}

static void drop(struct tcti_swtpm *c)
{
    if (c->sock >= 0)
        close(c->sock);
    c->sock = -1;
    c->state = ST_TRANSMIT;
    c->rsp_size = 0;
}

/* Waits for events on the socket until the command's deadline.
 * Returns 1 ready, 0 out of time, -1 error. */
static int wait_fd(struct tcti_swtpm *c, short events)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= c->deadline) {
            c->timed_out = 1;
            return 0;
        }
        struct pollfd p = {.fd = c->sock, .events = events};
        int n = poll(&p, 1, (int)(c->deadline - now));
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static int io_all(struct tcti_swtpm *c, uint8_t *buf, size_t len, int out)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = out ? send(c->sock, buf + done, len - done, MSG_NOSIGNAL)
                        : recv(c->sock, buf + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0)
            return -1; /* peer closed: swtpm gone */
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (wait_fd(c, out ? POLLOUT : POLLIN) != 1)
            return -1;
    }
    return 0;
}

static int connect_bounded(struct tcti_swtpm *c)
{
    struct sockaddr_un sa;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
    c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->sock < 0)
        return -1;
    for (;;) {
        if (connect(c->sock, (struct sockaddr *)&sa, sizeof sa) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EINPROGRESS)
            return wait_fd(c, POLLOUT) == 1 ? 0 : -1;
        if (errno != EAGAIN) /* full backlog: retry until the deadline */
            return -1;
        if (now_ms() >= c->deadline) {
            c->timed_out = 1;
            return -1;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

static TSS2_RC tcti_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size,
                             const uint8_t *cmd)
{
    struct tcti_swtpm *c = cast(ctx);
    uint32_t hsize = 0;
    size_t off = 2;

    if (c == NULL)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    if (cmd == NULL)
        return TSS2_TCTI_RC_BAD_REFERENCE;
    if (c->state != ST_TRANSMIT)
        return TSS2_TCTI_RC_BAD_SEQUENCE;
    if (size < TPM_HEADER || size > TPM_MAX_MSG ||
        Tss2_MU_UINT32_Unmarshal(cmd, size, &off, &hsize) != TSS2_RC_SUCCESS ||
        hsize != size)
        return TSS2_TCTI_RC_BAD_VALUE;
    c->timed_out = 0;
    c->deadline = now_ms() + c->timeout_ms;
    if (connect_bounded(c) != 0 || io_all(c, (uint8_t *)cmd, size, 1) != 0) {
        drop(c);
        return TSS2_TCTI_RC_IO_ERROR;
    }
    c->state = ST_RECEIVE;
    c->rsp_size = 0;
    return TSS2_RC_SUCCESS;
}

/* The caller's timeout is not used: the whole command is bounded by the
 * deadline set at transmit (ESAPI's synchronous calls pass "block"). */
static TSS2_RC tcti_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *rsp,
                            int32_t timeout)
{
    struct tcti_swtpm *c = cast(ctx);
    (void)timeout;

    if (c == NULL)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    if (size == NULL)
        return TSS2_TCTI_RC_BAD_REFERENCE;
    if (c->state != ST_RECEIVE)
        return TSS2_TCTI_RC_BAD_SEQUENCE;
    if (c->rsp_size == 0) {
        uint32_t rs = 0;
        size_t off = 2;
        if (io_all(c, c->hdr, TPM_HEADER, 0) != 0) {
            drop(c);
            return TSS2_TCTI_RC_IO_ERROR;
        }
        if (Tss2_MU_UINT32_Unmarshal(c->hdr, TPM_HEADER, &off, &rs) !=
                TSS2_RC_SUCCESS ||
            rs < TPM_HEADER || rs > TPM_MAX_MSG) {
            drop(c);
            return TSS2_TCTI_RC_MALFORMED_RESPONSE;
        }
        c->rsp_size = rs;
    }
    if (rsp == NULL) {
        *size = c->rsp_size;
        return TSS2_RC_SUCCESS;
    }
    if (*size < c->rsp_size) {
        *size = c->rsp_size;
        return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
    }
    memcpy(rsp, c->hdr, TPM_HEADER);
    if (io_all(c, rsp + TPM_HEADER, c->rsp_size - TPM_HEADER, 0) != 0) {
        drop(c);
        return TSS2_TCTI_RC_IO_ERROR;
    }
    *size = c->rsp_size;
    drop(c); /* one connection per command, as swtpm's tcti-swtpm does */
    return TSS2_RC_SUCCESS;
}

static void tcti_finalize(TSS2_TCTI_CONTEXT *ctx)
{
    struct tcti_swtpm *c = cast(ctx);
    if (c != NULL)
        drop(c);
}

static TSS2_RC tcti_cancel(TSS2_TCTI_CONTEXT *ctx)
{
    (void)ctx;
    return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

static TSS2_RC tcti_poll_handles(TSS2_TCTI_CONTEXT *ctx,
                                 TSS2_TCTI_POLL_HANDLE *h, size_t *n)
{
    (void)ctx;
    (void)h;
    (void)n;
    return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

static TSS2_RC tcti_set_locality(TSS2_TCTI_CONTEXT *ctx, uint8_t locality)
{
    (void)ctx;
    return locality == 0 ? TSS2_RC_SUCCESS : TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

static TSS2_RC tcti_make_sticky(TSS2_TCTI_CONTEXT *ctx, TPM2_HANDLE *h,
                                uint8_t sticky)
{
    (void)ctx;
    (void)h;
    (void)sticky;
    return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

TSS2_RC vrf_tcti_swtpm_init(const char *path, unsigned timeout_ms,
                            TSS2_TCTI_CONTEXT **out)
{
    struct tcti_swtpm *c;

    if (out == NULL || path == NULL)
        return TSS2_TCTI_RC_BAD_REFERENCE;
    *out = NULL;
    if (path[0] == '\0' || strlen(path) >= sizeof c->path || timeout_ms == 0)
        return TSS2_TCTI_RC_BAD_VALUE;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return TSS2_TCTI_RC_MEMORY;
    c->common.v1.magic = TCTI_MAGIC;
    c->common.v1.version = 2;
    c->common.v1.transmit = tcti_transmit;
    c->common.v1.receive = tcti_receive;
    c->common.v1.finalize = tcti_finalize;
    c->common.v1.cancel = tcti_cancel;
    c->common.v1.getPollHandles = tcti_poll_handles;
    c->common.v1.setLocality = tcti_set_locality;
    c->common.makeSticky = tcti_make_sticky;
    memcpy(c->path, path, strlen(path) + 1);
    c->timeout_ms = timeout_ms;
    c->sock = -1;
    c->state = ST_TRANSMIT;
    *out = (TSS2_TCTI_CONTEXT *)c;
    return TSS2_RC_SUCCESS;
}

void vrf_tcti_swtpm_free(TSS2_TCTI_CONTEXT *ctx)
{
    struct tcti_swtpm *c = cast(ctx);
    if (c == NULL)
        return;
    drop(c);
    c->common.v1.magic = 0;
    free(c);
}

int vrf_tcti_swtpm_timed_out(TSS2_TCTI_CONTEXT *ctx)
{
    struct tcti_swtpm *c = cast(ctx);
    return c != NULL && c->timed_out;
}
