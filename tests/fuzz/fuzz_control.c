/* fuzz_control.c: libFuzzer target for control-socket requests. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hv/svc/hv_control.h"

static json_t *echo_args(void *ctx, json_t *args, const char **err)
{
    (void)ctx;
    (void)err;
    return args ? json_deep_copy(args) : json_object();
}

static json_t *fails(void *ctx, json_t *args, const char **err)
{
    (void)ctx;
    (void)args;
    *err = "no";
    return NULL;
}

static const struct hv_control_cmd cmds[] = {
    {"status", echo_args, 0, 0},
    {"args", echo_args, 1, 0},
    {"fail", fails, 0, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hv_control c = {.cmds = cmds, .ncmds = 3, .req_fd = -1};
    free(hv_control_handle(&c, (const char *)data, size));
    return 0;
}
