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
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "hv/svc/hv_control.h"

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

static int taken_fd = -1;

/* A command that takes the fd sent with its request, as apply does. */
static json_t *cmd_takefd(void *ctx, json_t *args, const char **err)
{
    (void)ctx;
    (void)args;
    (void)err;
    calls++;
    taken_fd = hv_control_take_fd(&ctl);
    return json_object();
}

static const struct hv_control_cmd cmds[] = {
    {"status", cmd_ok, 0, 0},
    {"broken", cmd_fail, 0, 0},
    {"witharg", cmd_args, 1, 0},
    {"refuse", cmd_refuse, 0, 0},
    {"takefd", cmd_takefd, 0, 1},
};
static struct hv_control ctl = {.cmds = cmds, .ncmds = 5, .req_fd = -1};

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

/* ------------------------------------------------------------ framing */

static int new_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static void assert_closed(int fd)
{
    errno = 0;
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
}

static struct hv_control_client cl;
static struct hv_control_req req;

static void fresh(void)
{
    memset(&cl, 0, sizeof cl);
    cl.fd = -1;
}

static void feed(const char *text, const int *fds, size_t nfds, int trunc)
{
    assert_int_equal(hv_control_feed(&cl, text, strlen(text), fds, nfds,
                                     trunc),
                     strlen(text));
}

/* Takes the next request; checks its text and fault (NULL: none). */
static void next_is(const char *line, const char *fault)
{
    assert_int_equal(hv_control_next(&cl, &req), 1);
    assert_int_equal(req.len, strlen(line));
    assert_memory_equal(req.line, line, req.len);
    if (fault) {
        assert_non_null(req.fault);
        assert_non_null(strstr(req.fault, fault));
        assert_int_equal(req.fd, -1);
    } else {
        assert_null(req.fault);
    }
}

static void test_one_fd_per_request(void **s)
{
    (void)s;
    fresh();
    int a = new_fd();
    feed("{\"execute\":\"status\"}\n", &a, 1, 0);
    next_is("{\"execute\":\"status\"}", NULL);
    assert_int_equal(req.fd, a);
    close(req.fd);
    assert_int_equal(hv_control_next(&cl, &req), 0);

    int two[2] = {new_fd(), new_fd()};
    feed("x\n", two, 2, 0);
    next_is("x", "one fd at most");
    assert_closed(two[0]);
    assert_closed(two[1]);

    int t = new_fd();
    feed("y\n", &t, 1, 1); /* MSG_CTRUNC: even the one that came goes */
    next_is("y", "truncated");
    assert_closed(t);
    feed("z\n", NULL, 0, 1);
    next_is("z", "truncated");
}

static void test_fd_follows_its_line(void **s)
{
    (void)s;
    fresh();
    int a = new_fd(), b = new_fd(), c = new_fd();
    feed("{\"exe", &a, 1, 0); /* partial line: the fd waits with it */
    assert_int_equal(hv_control_next(&cl, &req), 0);
    feed("cute\":1}\n", NULL, 0, 0);
    next_is("{\"execute\":1}", NULL);
    assert_int_equal(req.fd, a);
    close(a);
    /* A read that ends in the second line: its fd is that line's. */
    feed("first\nsecond\n", &b, 1, 0);
    next_is("first", NULL);
    assert_int_equal(req.fd, -1);
    next_is("second", NULL);
    assert_int_equal(req.fd, b);
    close(b);
    /* An fd read before a line's end, and one after it: one each. */
    int d = new_fd();
    feed("half", &c, 1, 0);
    feed(" line\nnext\n", &d, 1, 0);
    next_is("half line", NULL);
    assert_int_equal(req.fd, c);
    close(c);
    next_is("next", NULL);
    assert_int_equal(req.fd, d);
    close(d);
    /* Two reads with an fd each, one line: both closed, refused. */
    int e = new_fd(), f = new_fd();
    feed("one", &e, 1, 0);
    feed(" line\n", &f, 1, 0);
    next_is("one line", "one fd at most");
    assert_closed(e);
    assert_closed(f);
}

static void test_fd_on_oversized_line_closed(void **s)
{
    (void)s;
    fresh();
    char chunk[1024];
    memset(chunk, 'a', sizeof chunk);
    int a = new_fd(), b = new_fd();
    assert_int_equal(hv_control_feed(&cl, chunk, sizeof chunk, &a, 1, 0),
                     sizeof chunk);
    for (int i = 0; i < 3; i++)
        hv_control_feed(&cl, chunk, sizeof chunk, NULL, 0, 0);
    assert_closed(a); /* the line passed 4095 bytes: skipped */
    next_is("", "longer than 4095");
    assert_string_equal(req.cls, "TooLarge");
    assert_int_equal(hv_control_next(&cl, &req), 0); /* reported once */
    hv_control_feed(&cl, chunk, sizeof chunk, &b, 1, 0);
    assert_closed(b);                  /* still the same line */
    assert_int_equal(hv_control_next(&cl, &req), 0);
    feed("aaa\nok\n", NULL, 0, 0);
    next_is("ok", NULL);
    /* No more than the free room is taken. */
    assert_int_equal(hv_control_feed(&cl, chunk, sizeof chunk, NULL, 0, 0),
                     sizeof chunk);
    assert_int_equal(cl.len, sizeof chunk);
}

static void test_reset_closes_fds(void **s)
{
    (void)s;
    fresh();
    int a = new_fd(), b = new_fd();
    feed("a\n", &a, 1, 0);
    feed("b", &b, 1, 0);
    hv_control_reset(&cl);
    assert_closed(a);
    assert_closed(b);
    assert_int_equal(cl.len, 0);
    assert_int_equal(hv_control_next(&cl, &req), 0);
}

/* The fd a request brings goes to a command that takes one; any other
 * request with an fd is refused, runs nothing, and the fd is closed. */
static void test_answer_fd_rules(void **s)
{
    (void)s;
    fresh();
    int a = new_fd(), b = new_fd(), c = new_fd();
    feed("{\"execute\":\"takefd\"}\n", &a, 1, 0);
    calls = 0;
    taken_fd = -1;
    assert_int_equal(hv_control_next(&cl, &req), 1);
    free(hv_control_answer(&ctl, &req));
    assert_int_equal(calls, 1);
    assert_int_equal(taken_fd, a);
    close(a);
    feed("{\"execute\":\"status\"}\n", &b, 1, 0);
    assert_int_equal(hv_control_next(&cl, &req), 1);
    char *r = hv_control_answer(&ctl, &req);
    assert_int_equal(calls, 1);
    assert_non_null(strstr(r, "command takes no fd"));
    assert_closed(b);
    free(r);
    feed("\n", &c, 1, 0);
    assert_int_equal(hv_control_next(&cl, &req), 1);
    r = hv_control_answer(&ctl, &req);
    assert_non_null(strstr(r, "empty line"));
    assert_closed(c);
    free(r);
    feed("\n", NULL, 0, 0); /* an empty line alone gets no reply */
    assert_int_equal(hv_control_next(&cl, &req), 1);
    assert_null(hv_control_answer(&ctl, &req));
    assert_int_equal(ctl.req_fd, -1);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_id_echoed),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unknown_and_failing),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_one_fd_per_request),
        cmocka_unit_test(test_fd_follows_its_line),
        cmocka_unit_test(test_fd_on_oversized_line_closed),
        cmocka_unit_test(test_reset_closes_fds),
        cmocka_unit_test(test_answer_fd_rules),
    };
    return cmocka_run_group_tests_name("control", t, NULL, NULL);
}
