/* test_control.c: control requests: well-formed ones reach their command,
 * malformed or oversized ones get the documented error class and run
 * nothing. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/hv_control.h"

static int calls;

static json_t *cmd_ok(void *ctx, json_t *args, const char **err)
{
    (void)ctx;
    (void)args;
    (void)err;
    calls++;
    return json_pack("{s:i}", "answer", 42);
}

static json_t *cmd_fail(void *ctx, json_t *args, const char **err)
{
    (void)ctx;
    (void)args;
    calls++;
    *err = "it failed";
    return NULL;
}

static struct hv_control ctl;

/* A command that fails with its own error class. */
static json_t *cmd_refuse(void *ctx, json_t *args, const char **err)
{
    (void)ctx;
    (void)args;
    calls++;
    ctl.err_class = "Refused";
    *err = "no";
    return NULL;
}

static json_t *cmd_args(void *ctx, json_t *args, const char **err)
{
    (void)ctx;
    (void)err;
    calls++;
    return json_pack("{s:I}", "n", (json_int_t)json_object_size(args));
}

static const struct hv_control_cmd cmds[] = {
    {"status", cmd_ok, 0, 0},
    {"broken", cmd_fail, 0, 0},
    {"witharg", cmd_args, 1, 0},
    {"refuse", cmd_refuse, 0, 0},
};
static struct hv_control ctl = {.cmds = cmds, .ncmds = 4, .req_fd = -1};

/* Runs one request; checks the error class (NULL: success) and the number
 * of commands it ran. */
static void expect(const char *req, const char *cls, int ran)
{
    calls = 0;
    char *reply = hv_control_handle(&ctl, req, strlen(req));
    json_t *r = json_loads(reply, 0, NULL);
    assert_non_null(r);
    json_t *err = json_object_get(r, "error");
    if (cls) {
        assert_non_null(err);
        assert_string_equal(json_string_value(json_object_get(err, "class")),
                            cls);
        assert_non_null(json_string_value(json_object_get(err, "desc")));
    } else {
        if (err)
            fail_msg("unexpected error reply: %s", reply);
        assert_non_null(json_object_get(r, "return"));
    }
    assert_int_equal(calls, ran);
    json_decref(r);
    free(reply);
}

static void test_ok(void **s)
{
    (void)s;
    expect("{\"execute\":\"status\"}", NULL, 1);
    expect(" {\"execute\" : \"status\", \"arguments\": {}} ", NULL, 1);
    expect("{\"execute\":\"witharg\",\"arguments\":{\"a\":1}}", NULL, 1);
}

static void test_id_echoed(void **s)
{
    (void)s;
    const char *req = "{\"execute\":\"status\",\"id\":\"x7\"}";
    char *reply = hv_control_handle(&ctl, req, strlen(req));
    json_t *r = json_loads(reply, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(r, "id")), "x7");
    json_decref(r);
    free(reply);
}

static void test_malformed(void **s)
{
    (void)s;
    expect("", "JSONParsing", 0);
    expect("{", "JSONParsing", 0);
    expect("{\"execute\":\"status\"} trailing", "JSONParsing", 0);
    expect("\"status\"", "JSONParsing", 0); /* not an object or array */
    expect("[\"status\"]", "GenericError", 0);
    expect("{}", "GenericError", 0);
    expect("{\"execute\":42}", "GenericError", 0);
    expect("{\"execute\":\"status\",\"arguments\":[]}", "GenericError", 0);
    expect("{\"execute\":\"status\",\"extra\":1}", "GenericError", 0);
    expect("{\"execute\":\"status\",\"execute\":\"status\"}", "JSONParsing",
           0);
    expect("{\"execute\":\"status\",\"arguments\":{\"x\":1}}", "GenericError",
           0);
    expect("{\"execute\":\"st\\u0000atus\"}", "JSONParsing", 0);
}

static void test_unknown_and_failing(void **s)
{
    (void)s;
    expect("{\"execute\":\"nope\"}", "CommandNotFound", 0);
    expect("{\"execute\":\"broken\"}", "GenericError", 1);
    expect("{\"execute\":\"refuse\"}", "Refused", 1);
    /* The class is the failing command's, not left over for the next. */
    expect("{\"execute\":\"broken\"}", "GenericError", 1);
}

static void test_oversized(void **s)
{
    (void)s;
    size_t n = HV_CONTROL_MAX_LINE + 10;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"execute\":\"status\"}", 20);
    big[n] = '\0';
    expect(big, "TooLarge", 0);
    free(big);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_id_echoed),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unknown_and_failing),
        cmocka_unit_test(test_oversized),
    };
    return cmocka_run_group_tests_name("control", t, NULL, NULL);
}
