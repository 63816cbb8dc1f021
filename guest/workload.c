/* workload.c: the ring-3 workloads, one per vCPU: library calls and
 * heartbeats; on vCPU 0 also the console commands that show each bug
 * before and after its hot patch, and the self-write attempts. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/guest.h"
#include "guest/guest_selfwrite.h"
#include "guest/ulib.h"
#include "lib/hv_abi.h"

#define WORKLOAD_HEARTBEAT_MS 100
#define WORKLOAD_POLL_MS 20
#define WORKLOAD_LINE_MAX 128 /* console line, including its NUL */
#define WORKLOAD_ECHO_OUT 256
#define WORKLOAD_KLOG_BUF 64

char workload_stacks[GUEST_MAX_VCPUS][GUEST_USTACK_SIZE]
    __attribute__((aligned(16)));

/* The echo request and the user secret in one struct, so the secret is
 * guaranteed to follow the request directly: what the ulib_echo bug
 * leaks. */
struct workload_echo {
    char req[64];
    char secret[32];
};

static struct workload_echo workload_echo_state = {
    .secret = "USECRET:hv-user-token-51d0b8a4",
};

/* Per-vCPU result of the library work, kept so the work is observable. */
uint32_t workload_checksums[GUEST_MAX_VCPUS];

struct workload {
    uint64_t cpu, ncpus, flags;
    uint64_t heartbeat_ticks, poll_ticks;
    uint64_t last_heartbeat, last_poll, last_patches;
    bool ready;
};

/* vCPU 0's view of the live hot patches (the monitor's list), to tell
 * the console when one arrives or goes: the guest itself learns that it
 * was fixed without a restart. */
static struct hv_hc_patches workload_patches, workload_patches_new;

/* vCPU 0's console input, accumulated until '\n'. */
struct workload_console {
    char line[WORKLOAD_LINE_MAX];
    size_t len;
    bool overlong;
};

static struct workload_console workload_console;

/* Cursor over the arguments of a command line. */
struct workload_args {
    const char *p, *end;
};

struct workload_cmd {
    const char *name;
    const char *usage;
    void (*run)(struct workload_args *a, const struct workload *w);
};

static volatile struct hv_shared *workload_shared(void)
{
    return (volatile struct hv_shared *)HV_SHARED_GPA;
}

static void workload_skip_spaces(struct workload_args *a)
{
    while (a->p < a->end && *a->p == ' ')
        a->p++;
}

/* The next space-separated word; false if none is left. */
static bool workload_next_word(struct workload_args *a, const char **word,
                               size_t *len)
{
    workload_skip_spaces(a);
    *word = a->p;
    while (a->p < a->end && *a->p != ' ')
        a->p++;
    *len = (size_t)(a->p - *word);
    return *len > 0;
}

static bool workload_next_u64(struct workload_args *a, uint64_t *v)
{
    const char *word;
    size_t len;

    return workload_next_word(a, &word, &len) && ulib_parse_u64(word, len, v);
}

static bool workload_at_end(struct workload_args *a)
{
    workload_skip_spaces(a);
    return a->p == a->end;
}

static void workload_usage(const char *usage)
{
    struct ulib_line l;

    ulib_line_start(&l);
    ulib_line_str(&l, "error: usage: ");
    ulib_line_str(&l, usage);
    ulib_line_end(&l);
}

static void cmd_help(struct workload_args *a, const struct workload *w);

/* `echo N TEXT`: the user-library bug. N larger than TEXT reads past the
 * request into the user secret (`echo 96 hi`). */
static void cmd_echo(struct workload_args *a, const struct workload *w)
{
    struct workload_echo *e = &workload_echo_state;
    char out[WORKLOAD_ECHO_OUT];
    struct ulib_line l;
    uint64_t n;
    size_t text_len;
    long rc;

    (void)w;
    if (!workload_next_u64(a, &n)) {
        workload_usage("echo N TEXT");
        return;
    }
    workload_skip_spaces(a);
    text_len = (size_t)(a->end - a->p);
    if (text_len > sizeof e->req - 1)
        text_len = sizeof e->req - 1;
    ulib_memset(e->req, 0, sizeof e->req);
    ulib_memcpy(e->req, a->p, text_len);
    rc = ulib_echo(e->req, text_len, n, out, sizeof out);
    ulib_line_start(&l);
    ulib_line_str(&l, "echo: ");
    if (rc < 0) {
        ulib_line_str(&l, "error ");
        ulib_line_i64(&l, rc);
    } else {
        ulib_line_u64(&l, (uint64_t)rc);
        ulib_line_str(&l, " bytes: ");
        ulib_line_printable(&l, out,
                            (size_t)rc < sizeof out ? (size_t)rc : sizeof out);
    }
    ulib_line_end(&l);
}

/* `klog OFF LEN`: the kernel bug. OFF = 2^64 - 32 wraps the kernel's bounds
 * check and reads the kernel secret (`klog 0xffffffffffffffe0 32`). */
static void cmd_klog(struct workload_args *a, const struct workload *w)
{
    char buf[WORKLOAD_KLOG_BUF];
    struct ulib_line l;
    uint64_t off, len;
    long rc;

    (void)w;
    if (!workload_next_u64(a, &off) || !workload_next_u64(a, &len) ||
        !workload_at_end(a)) {
        workload_usage("klog OFF LEN");
        return;
    }
    rc = ulib_klog_read(off, len, buf);
    ulib_line_start(&l);
    ulib_line_str(&l, "klog: ");
    ulib_line_i64(&l, rc);
    if (rc >= 0) {
        ulib_line_str(&l, " bytes: ");
        ulib_line_printable(&l, buf,
                            (size_t)rc < sizeof buf ? (size_t)rc : sizeof buf);
    }
    ulib_line_end(&l);
}

static void cmd_status(struct workload_args *a, const struct workload *w)
{
    struct ulib_line l;

    (void)a;
    for (uint64_t i = 0; i < w->ncpus; i++) {
        ulib_line_start(&l);
        ulib_line_str(&l, "status: vcpu ");
        ulib_line_u64(&l, i);
        ulib_line_str(&l, " heartbeat ");
        ulib_line_u64(&l, workload_shared()->heartbeat[i]);
        ulib_line_end(&l);
    }
}

static void workload_patch_line(const char *what,
                                const struct hv_hc_patch *p)
{
    struct ulib_line l;

    ulib_line_start(&l);
    ulib_line_str(&l, what);
    ulib_line_printable(&l, p->id, ulib_strlen(p->id));
    ulib_line_str(&l, " (sequence ");
    ulib_line_u64(&l, p->seq);
    ulib_line_str(&l, ")");
    ulib_line_end(&l);
}

/* `patches`: the hot patches live in this guest now. */
static void cmd_patches(struct workload_args *a, const struct workload *w)
{
    struct ulib_line l;

    (void)a;
    (void)w;
    if (ulib_patches(&workload_patches_new) != 0) {
        ulib_puts("patches: error");
        return;
    }
    ulib_line_start(&l);
    ulib_line_str(&l, "patches: ");
    ulib_line_u64(&l, workload_patches_new.count);
    ulib_line_str(&l, " live");
    ulib_line_end(&l);
    for (unsigned i = 0;
         i < workload_patches_new.count && i < HV_PATCHES_MAX; i++)
        workload_patch_line("patches: ", &workload_patches_new.patch[i]);
}

static void cmd_shutdown(struct workload_args *a, const struct workload *w)
{
    (void)a;
    (void)w;
    ulib_puts("shutdown: ok");
    ulib_shutdown(0);
}

static const struct workload_cmd workload_cmds[] = {
    {"help", "help", cmd_help},
    {"echo", "echo N TEXT", cmd_echo},
    {"klog", "klog OFF LEN", cmd_klog},
    {"status", "status", cmd_status},
    {"patches", "patches", cmd_patches},
    {"shutdown", "shutdown", cmd_shutdown},
};

#define WORKLOAD_NCMDS (sizeof workload_cmds / sizeof workload_cmds[0])

static void cmd_help(struct workload_args *a, const struct workload *w)
{
    (void)a;
    (void)w;
    for (size_t i = 0; i < WORKLOAD_NCMDS; i++) {
        struct ulib_line l;

        ulib_line_start(&l);
        ulib_line_str(&l, "help: ");
        ulib_line_str(&l, workload_cmds[i].usage);
        ulib_line_end(&l);
    }
}

static void workload_run_line(const char *line, size_t len,
                              const struct workload *w)
{
    struct workload_args a = {line, line + len};
    struct ulib_line l;
    const char *name;
    size_t name_len;

    if (!workload_next_word(&a, &name, &name_len))
        return; /* blank line */
    for (size_t i = 0; i < WORKLOAD_NCMDS; i++) {
        if (ulib_mem_is(name, name_len, workload_cmds[i].name)) {
            workload_cmds[i].run(&a, w);
            return;
        }
    }
    ulib_line_start(&l);
    ulib_line_str(&l, "error: unknown command '");
    ulib_line_printable(&l, name, name_len);
    ulib_line_str(&l, "' (try help)");
    ulib_line_end(&l);
}

static void workload_console_byte(char c, const struct workload *w)
{
    struct workload_console *con = &workload_console;

    if (c == '\r')
        return;
    if (c != '\n') {
        if (con->len + 1 < sizeof con->line)
            con->line[con->len++] = c;
        else
            con->overlong = true;
        return;
    }
    if (con->overlong)
        ulib_puts("error: line too long (max 127 bytes)");
    else
        workload_run_line(con->line, con->len, w);
    con->len = 0;
    con->overlong = false;
}

static void workload_console_poll(const struct workload *w)
{
    char buf[64];
    long n;

    /* A few reads drain a pasted burst without starving the loop. */
    for (int round = 0; round < 4; round++) {
        n = ulib_read(buf, sizeof buf);
        for (long i = 0; i < n; i++)
            workload_console_byte(buf[i], w);
        if (n < (long)sizeof buf)
            break;
    }
}

/* Ring-3 self-write: the bytes at ulib_echo's entry, written by the same
 * guest_selfwrite_do (guest_selfwrite.h) as the kernel's ring-0 ones. */
static long workload_selfwrite_ring3(unsigned kind)
{
    volatile uint64_t *code = (volatile uint64_t *)(uintptr_t)ulib_echo;
    uint64_t before[2], fill[2];

    before[0] = code[0];
    before[1] = code[1];
    fill[0] = ~before[0];
    fill[1] = ~before[1];
    guest_selfwrite_do(kind, (uint8_t *)(uintptr_t)code, fill);
    if (code[0] == before[0] && code[1] == before[1])
        return GUEST_SELFWRITE_BLOCKED;
    /* Protection failed: put the code back so the guest keeps running. */
    guest_selfwrite_do(kind, (uint8_t *)(uintptr_t)code, before);
    return GUEST_SELFWRITE_CHANGED;
}

static void workload_selfwrite_report(const char *name, long rc)
{
    struct ulib_line l;

    ulib_line_start(&l);
    ulib_line_str(&l, "selfwrite: ");
    ulib_line_str(&l, name);
    if (rc == GUEST_SELFWRITE_BLOCKED) {
        ulib_line_str(&l, ": blocked");
    } else if (rc == GUEST_SELFWRITE_CHANGED) {
        ulib_line_str(&l, ": CHANGED");
    } else {
        ulib_line_str(&l, ": error ");
        ulib_line_i64(&l, rc);
    }
    ulib_line_end(&l);
}

/* Try to overwrite the guest's own protected code, from ring 0 (through a
 * system call) and from ring 3; every attempt must leave it unchanged. */
static void workload_selfwrite(void)
{
    static const char *const ring0[GUEST_SELFWRITE_KINDS] = {
        "ring0 store", "ring0 rep-movsb", "ring0 alias"};
    static const char *const ring3[GUEST_SELFWRITE_KINDS] = {
        "ring3 store", "ring3 rep-movsb", "ring3 alias"};

    for (unsigned k = 0; k < GUEST_SELFWRITE_KINDS; k++)
        workload_selfwrite_report(ring0[k], ulib_selfwrite_ring0(k));
    for (unsigned k = 0; k < GUEST_SELFWRITE_KINDS; k++)
        workload_selfwrite_report(ring3[k], workload_selfwrite_ring3(k));
    ulib_puts("selfwrite: done");
}

static void workload_banner(const struct workload *w)
{
    struct ulib_line l;

    ulib_line_start(&l);
    ulib_line_str(&l, "hvpatch demo guest: ");
    ulib_line_u64(&l, w->ncpus);
    ulib_line_str(&l, " vCPUs up");
    ulib_line_end(&l);
    if (w->flags & GUEST_F_SELFWRITE)
        ulib_puts("guest: selfwrite mode");
}

static bool workload_all_started(const struct workload *w)
{
    for (uint64_t i = 0; i < w->ncpus; i++)
        if (workload_shared()->heartbeat[i] == 0)
            return false;
    return true;
}

/* The library work of one loop iteration: an honest echo and a checksum,
 * so the shared library is live code on every vCPU. */
static void workload_step(uint64_t cpu)
{
    static const char msg[] = "hvpatch workload";
    char out[sizeof msg];
    long n = ulib_echo(msg, sizeof msg - 1, sizeof msg - 1, out, sizeof out);

    if (n > 0)
        workload_checksums[cpu] = ulib_checksum(out, (size_t)n);
}

static bool workload_listed(const struct hv_hc_patches *l,
                            const struct hv_hc_patch *p)
{
    for (unsigned i = 0; i < l->count && i < HV_PATCHES_MAX; i++)
        if (l->patch[i].seq == p->seq &&
            ulib_mem_is(l->patch[i].id, ulib_strlen(l->patch[i].id), p->id))
            return true;
    return false;
}

/* Tells the console which patches came and went since the last look. */
static void workload_watch_patches(void)
{
    struct hv_hc_patches *old = &workload_patches, *cur = &workload_patches_new;

    if (ulib_patches(cur) != 0 || cur->generation == old->generation)
        return;
    for (unsigned i = 0; i < old->count && i < HV_PATCHES_MAX; i++)
        if (!workload_listed(cur, &old->patch[i]))
            workload_patch_line("guest: security update reverted: ",
                                &old->patch[i]);
    for (unsigned i = 0; i < cur->count && i < HV_PATCHES_MAX; i++)
        if (!workload_listed(old, &cur->patch[i]))
            workload_patch_line("guest: security update applied without a "
                                "restart: ",
                                &cur->patch[i]);
    ulib_memcpy(old, cur, sizeof *old);
}

/* vCPU 0's periodic duties: "guest: ready" once, then the console and the
 * list of live patches. */
static void workload_vcpu0_tick(struct workload *w, uint64_t now)
{
    if (!w->ready && workload_all_started(w)) {
        ulib_puts("guest: ready");
        w->ready = true;
    }
    if (now - w->last_patches >= w->heartbeat_ticks) {
        workload_watch_patches();
        w->last_patches = now;
    }
    if (now - w->last_poll >= w->poll_ticks) {
        workload_console_poll(w);
        w->last_poll = now;
    }
}

void workload_entry(uint64_t cpu, uint64_t ncpus, uint64_t tsc_khz,
                    uint64_t flags)
{
    volatile struct hv_shared *shared = workload_shared();
    struct workload w = {
        .cpu = cpu,
        .ncpus = ncpus,
        .flags = flags,
        .heartbeat_ticks = tsc_khz * WORKLOAD_HEARTBEAT_MS,
        .poll_ticks = tsc_khz * WORKLOAD_POLL_MS,
    };

    /* The monitor times start -> first heartbeat of every vCPU. */
    shared->heartbeat[cpu] = 1;
    ulib_heartbeat(1);
    w.last_heartbeat = w.last_poll = w.last_patches = ulib_rdtsc();
    if (cpu == 0) {
        workload_banner(&w);
        if (flags & GUEST_F_SELFWRITE)
            workload_selfwrite();
    }
    for (;;) {
        uint64_t count, now;

        workload_step(cpu);
        count = ++shared->heartbeat[cpu];
        now = ulib_rdtsc();
        if (now - w.last_heartbeat >= w.heartbeat_ticks) {
            ulib_heartbeat(count);
            w.last_heartbeat = now;
        }
        if (cpu == 0)
            workload_vcpu0_tick(&w, now);
    }
}
