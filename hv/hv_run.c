/* hv_run.c: `hvpatch run`: assemble the VM, run the main event loop
 * (signals, console input, control socket), and tear everything down. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <mbedtls/sha256.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "firmware/fw.h"
#include "hv/dev/hv_dev_platform.h"
#include "hv/dev/hv_dev_serial.h"
#include "hv/dev/hv_hypercall.h"
#include "hv/hv.h"
#include "hv/hv_run_linux.h"
#include "hv/machine/hv_machine.h"
#include "hv/svc/hv_control.h"
#include "hv/svc/hv_health.h"
#include "hv/svc/hv_lock.h"
#include "hv/svc/hv_patch.h"
#include "hv/svc/hv_seccomp.h"
#include "hv/svc/hv_swtpm.h"
#include "hv/svc/hv_vrf.h"
#include "lib/cli_exit.h"
#include "lib/hv_elf.h"
#include "lib/hv_log.h"

#define HV_POLL_MS 100
#define HV_MAX_POLLFDS (4 + 1 + HV_CONTROL_MAX_CLIENTS)
/* Verifier start-up (parse, hash, measure, load, seal): waited for while
 * it or its swtpm keeps using CPU, so a slow (emulated) host is not a
 * failure, up to a bound that only a stuck start-up reaches. */
#define HV_VRF_READY_IDLE_MS 5000
#define HV_VRF_READY_MAX_MS 600000
#define HV_VRF_PING_MS 1000
#define HV_VRF_ATTEST_MS 10000
#define HV_QUOTE_LOG_MAX (1u << 20) /* event log bytes passed back */

struct hv_session {
    struct hv_vm vm;
    /* The devices (hv_io.h): registered on vm.io by attach_devices. */
    struct hv_serial serial;
    struct hv_platform platform; /* Linux */
    struct hv_hypercalls hc;     /* demo-style guests */
    struct hv_health health;     /* the watch after an apply */
    struct hv_control ctl;
    struct hv_vrf vrf;
    const struct hv_config *cfg;
    const char *kind;    /* "demo" or "linux": what the baseline names */
    const char *cmdline; /* as the guest got it and the TPM measured it */
    struct hv_linux_guest linux_guest; /* --kernel: its files until boot */
    uint8_t image_sha256[32];
    int sig_fd;
    int status_fd; /* /proc/self/status, opened before the sandbox */
    int stop_signal;
    /* TPM: our own swtpm (unless --tpm or --no-tpm) and what it measured. */
    struct hv_swtpm swtpm;
    char tpm_tmpdir[64]; /* a temporary swtpm state directory, or "" */
    int reaper_fd;       /* closing it tells the reaper to remove it */
    pid_t reaper_pid;
    const char *tcti;
    int tpm_state; /* enum vrf_tpm_state, as of the last answer */
    uint8_t boot_id[32];
    /* --patch / --patches: the files, and what each applied at start. */
    char *start_files[HV_START_PATCHES_MAX];
    unsigned n_start_files;
    json_t *started; /* [{file, id, seq}] for status */
};

/* ------------------------------------------------------- control commands */

/* Monitor memory that is not guest RAM (guest RAM and code are shmem). */
static json_t *rss_json(int status_fd)
{
    char buf[4096];
    unsigned long anon = 0, file = 0, shmem = 0;
    ssize_t n = pread(status_fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        sscanf(line, "RssAnon: %lu", &anon);
        sscanf(line, "RssFile: %lu", &file);
        sscanf(line, "RssShmem: %lu", &shmem);
    }
    return json_pack("{s:I,s:I,s:I}", "monitor_kib",
                     (json_int_t)(anon + file), "monitor_private_kib",
                     (json_int_t)anon, "guest_memory_kib", (json_int_t)shmem);
}

static json_t *vcpus_json(struct hv_vm *vm, const struct hv_health *h)
{
    const struct hv_shared *sh = (const void *)(vm->ram + HV_SHARED_GPA);
    json_t *a = json_array();
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct hv_vcpu *v = &vm->vcpu[i];
        if (vm->guest != HV_GUEST_DEMO) { /* no heartbeat page */
            json_array_append_new(
                a, json_pack("{s:i,s:I}", "id", (int)i, "blocked_writes",
                             (json_int_t)atomic_load(&v->blocked_writes)));
            continue;
        }
        uint64_t first = atomic_load(&h->first_beat_ns[i]);
        json_array_append_new(
            a, json_pack("{s:i,s:I,s:I,s:o,s:I}", "id", (int)i, "heartbeats",
                         (json_int_t)sh->heartbeat[i], "heartbeat_reports",
                         (json_int_t)atomic_load(&h->beat[i]),
                         "first_heartbeat_us",
                         first ? json_integer((json_int_t)(
                                     (first - vm->start_ns) / 1000))
                               : json_null(),
                         "blocked_writes",
                         (json_int_t)atomic_load(&v->blocked_writes)));
    }
    return a;
}

static json_t *blocked_json(struct hv_vm *vm)
{
    json_t *pages = json_array();
    for (uint64_t p = 0; p < vm->prot_size / 4096; p++) {
        uint64_t n = atomic_load(&vm->blocked_page[p]);
        if (n)
            json_array_append_new(
                pages, json_pack("{s:o,s:I}", "gpa",
                                 hv_control_addr(hv_prot_gpa(vm, p * 4096)),
                                 "count", (json_int_t)n));
    }
    return json_pack("{s:I,s:o}", "total",
                     (json_int_t)atomic_load(&vm->blocked_total), "pages",
                     pages);
}

/* Whether the verifier answers (a silent one is cut off for good), and
 * what it says of the TPM. */
static json_t *verifier_json(struct hv_session *s)
{
    struct vrf_msg req = {.type = VRF_MSG_PING}, r;
    int alive = hv_vrf_call(&s->vrf, &req, &r, NULL, HV_VRF_PING_MS) == 0 &&
                r.type == VRF_MSG_PONG;
    if (alive)
        s->tpm_state = (int)r.pong.tpm_state;
    else if (s->tpm_state == VRF_TPM_STATE_OK)
        s->tpm_state = VRF_TPM_STATE_GONE; /* nobody left to use it */
    return json_pack("{s:i,s:b}", "pid", (int)s->vrf.pid, "alive", alive);
}

static json_t *tpm_json(struct hv_session *s)
{
    static const char *const states[] = {"none", "ok", "gone"};
    int st = s->tpm_state >= 0 && s->tpm_state <= 2 ? s->tpm_state : 2;
    return json_pack("{s:s,s:s?,s:i,s:o?}", "state", states[st], "tcti",
                     s->tcti, "swtpm_pid", (int)s->swtpm.pid, "boot_id",
                     s->tcti ? hv_control_hex(s->boot_id, 32) : NULL);
}

/* Whether `apply` can work, and if not, why (the verifier says more). */
static json_t *patching_json(struct hv_session *s)
{
    const char *why = NULL;
    if (s->vrf.sock < 0)
        why = "the verifier is gone";
    else if (!s->cfg->trust_dir)
        why = "started without --trust";
    else if (s->tpm_state == VRF_TPM_STATE_NONE)
        why = "no TPM";
    else if (s->tpm_state != VRF_TPM_STATE_OK)
        why = "the TPM is gone";
    return json_pack("{s:b,s:s?,s:s?}", "enabled", why == NULL, "reason", why,
                     "audit_log", s->cfg->audit_path);
}

/* A Linux guest's locked text, or null (not yet, or not Linux). */
static json_t *text_lock_json(struct hv_vm *vm)
{
    if (atomic_load(&vm->n_prot_win) < 2)
        return json_null();
    return json_pack("{s:o,s:I}", "gpa", hv_control_addr(vm->prot_win[1].gpa),
                     "size", (json_int_t)vm->prot_win[1].size);
}

/* The verifier's trust store, or null (no --trust, or no answer). */
static json_t *trust_json(struct hv_session *s)
{
    const char *err, *cls;
    json_t *t = s->cfg->trust_dir ? hv_patch_trust(&s->vrf, 0,
                                                   s->cfg->trust_dir, &err,
                                                   &cls)
                                  : NULL;
    return t ? t : json_null();
}

static json_t *cmd_status(void *ctx, json_t *args, const char **err)
{
    struct hv_session *s = ctx;
    struct hv_vm *vm = &s->vm;
    uint8_t d[32];
    (void)args;
    (void)err;
    hv_prot_digest(vm, d);
    json_t *vrf = verifier_json(s); /* first: it refreshes the TPM state */
    json_t *st = json_pack(
        "{s:s,s:I,s:o,s:o,s:{s:o,s:I,s:o,s:o},s:{s:o,s:s},s:s,s:o,s:o,s:o,s:i,"
        "s:o,s:o}",
        "state", hv_vm_paused(vm) ? "paused" : "running", "uptime_ms",
        (json_int_t)((hv_now_ns() - vm->start_ns) / 1000000), "vcpus",
        vcpus_json(vm, &s->health), "blocked_writes", blocked_json(vm), "code", "base",
        hv_control_addr(HV_PROT_BASE), "size", (json_int_t)vm->prot_size,
        "sha256", hv_control_hex(d, 32), "text_lock", text_lock_json(vm),
        "baseline", "image_sha256",
        hv_control_hex(s->image_sha256, 32), "kind", s->kind, "cmdline",
        s->cmdline ? s->cmdline : "", "verifier", vrf, "tpm", tpm_json(s),
        "memory", rss_json(s->status_fd), "pid", (int)getpid(), "patches",
        hv_patch_list_json(vm), "patching", patching_json(s));
    if (st) {
        json_object_set(st, "start_patches", s->started);
        json_object_set_new(st, "trust", trust_json(s));
        json_object_set_new(st, "health", hv_health_json(&s->health));
    }
    return st;
}

static json_t *cmd_trust_reload(void *ctx, json_t *args, const char **err)
{
    struct hv_session *s = ctx;
    (void)args;
    if (!s->cfg->trust_dir) {
        *err = "the VM was started without --trust";
        return NULL;
    }
    return hv_patch_trust(&s->vrf, 1, s->cfg->trust_dir, err,
                          &s->ctl.err_class);
}

static json_t *cmd_pause(void *ctx, json_t *args, const char **err)
{
    struct hv_session *s = ctx;
    uint64_t rips[HV_MAX_VCPUS], ns = 0;
    (void)args;
    switch (hv_vm_pause(&s->vm, rips, &ns)) {
    case 0:
        break;
    case HV_PAUSE_ERR_ALREADY:
        *err = "already paused";
        return NULL;
    case HV_PAUSE_ERR_STOPPING:
        *err = "the VM is stopping";
        return NULL;
    default:
        *err = "a vCPU did not stop within 1 s; VM left running";
        return NULL;
    }
    json_t *r = json_array();
    for (unsigned i = 0; i < s->vm.ncpus; i++)
        json_array_append_new(r, hv_control_addr(rips[i]));
    return json_pack("{s:o,s:I}", "rips", r, "pause_ns", (json_int_t)ns);
}

static json_t *cmd_resume(void *ctx, json_t *args, const char **err)
{
    struct hv_session *s = ctx;
    (void)args;
    if (hv_vm_resume(&s->vm) != 0) {
        *err = "not paused";
        return NULL;
    }
    return json_object();
}

static json_t *cmd_quit(void *ctx, json_t *args, const char **err)
{
    struct hv_session *s = ctx;
    (void)args;
    (void)err;
    hv_log("quit requested on the control socket");
    hv_vm_stop(&s->vm, HV_STOP_QUIT, 0);
    return json_object();
}

/* Reads the verifier's quote memfd: struct vrf_quote, then the event log. */
static json_t *quote_json(int fd, const struct vrf_msg *r, const char **err)
{
    struct vrf_quote q;
    uint64_t log_len = r->quote.log_len;
    uint8_t *log = NULL;
    json_t *ret = NULL, *pcrs = json_object();
    *err = "malformed quote from the verifier";
    if (r->quote.quote_size != sizeof q || log_len == 0 || log_len > HV_QUOTE_LOG_MAX)
        goto out;
    log = malloc(log_len);
    if (!log || pread(fd, &q, sizeof q, 0) != (ssize_t)sizeof q ||
        pread(fd, log, log_len, sizeof q) != (ssize_t)log_len ||
        q.msg_len > sizeof q.msg || q.sig_len > sizeof q.sig ||
        q.ak_pub_len > sizeof q.ak_pub)
        goto out;
    for (unsigned i = 0; i < VRF_QUOTE_PCRS; i++) {
        char k[4];
        snprintf(k, sizeof k, "%u", i);
        if (q.pcr_mask & (1u << i))
            json_object_set_new(pcrs, k, hv_control_hex(q.pcr[i], 32));
    }
    ret = json_pack("{s:o,s:o,s:o,s:I,s:O,s:o}", "quote",
                    hv_control_hex(q.msg, q.msg_len), "signature",
                    hv_control_hex(q.sig, q.sig_len), "ak_pub",
                    hv_control_hex(q.ak_pub, q.ak_pub_len), "pcr_mask",
                    (json_int_t)q.pcr_mask, "pcrs", pcrs, "eventlog",
                    hv_control_hex(log, log_len));
out:
    json_decref(pcrs);
    free(log);
    return ret;
}

static json_t *cmd_attest(void *ctx, json_t *args, const char **err)
{
    struct hv_session *s = ctx;
    struct vrf_msg req = {.type = VRF_MSG_ATTEST}, r;
    const char *nonce = json_string_value(json_object_get(args, "nonce"));
    long n = nonce ? hv_control_unhex(nonce, req.attest.nonce,
                                      sizeof req.attest.nonce)
                   : -1;
    int fd = -1;
    if (n <= 0 || json_object_size(args) != 1) {
        *err = "attest takes {\"nonce\": HEX} of 1 to 64 bytes";
        return NULL;
    }
    req.attest.nonce_len = (uint32_t)n;
    if (hv_vrf_call(&s->vrf, &req, &r, &fd, HV_VRF_ATTEST_MS) != 0) {
        *err = "the verifier is not answering";
        return NULL;
    }
    if (r.type != VRF_MSG_QUOTE || fd < 0) {
        r.fail.reason[sizeof r.fail.reason - 1] = '\0';
        *err = r.type == VRF_MSG_FAIL ? "the TPM refused (see the monitor "
                                        "log)"
                                      : "unexpected reply from the verifier";
        if (r.type == VRF_MSG_FAIL)
            hv_err("attest: %s", r.fail.reason);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    json_t *ret = quote_json(fd, &r, err);
    close(fd);
    return ret;
}

/* apply's optional {"health_window": SECONDS}: the watch after it (else
 * `run --health-window`). Returns 0, or -1 with *err. */
static int health_window_arg(struct hv_session *s, json_t *args,
                             uint64_t *ms, const char **err)
{
    json_t *w = json_object_get(args, "health_window");
    *ms = s->cfg->health_window_ms;
    if (json_object_size(args) == 0)
        return 0;
    if (json_object_size(args) != 1 || !json_is_integer(w) ||
        json_integer_value(w) < 0 ||
        json_integer_value(w) > HV_HEALTH_WINDOW_MAX_S) {
        *err = "apply takes no arguments but {\"health_window\": SECONDS}, "
               "0..3600";
        return -1;
    }
    *ms = (uint64_t)json_integer_value(w) * 1000;
    return 0;
}

static json_t *cmd_apply(void *ctx, json_t *args, const char **err)
{
    struct hv_session *s = ctx;
    int fd = hv_control_take_fd(&s->ctl);
    uint64_t window_ms;
    if (health_window_arg(s, args, &window_ms, err) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    json_t *r = hv_patch_apply(&s->vm, &s->vrf, fd, err, &s->ctl.err_class);
    const char *id = json_string_value(json_object_get(r, "id"));
    if (id) {
        unsigned w = hv_health_watch(&s->health, id, window_ms);
        json_object_set_new(r, "health",
                            json_pack("{s:s,s:i,s:I}", "state",
                                      window_ms ? "watching" : "off", "watch",
                                      (int)w, "window_ms",
                                      (json_int_t)window_ms));
    }
    return r;
}

/* {"watch": N, "reason": TEXT}: an operator's check of watch N failed
 * (`hvpatch apply --health-cmd`); the monitor reverts as for any other
 * failure it sees itself. */
static json_t *cmd_unhealthy(void *ctx, json_t *args, const char **err)
{
    struct hv_session *s = ctx;
    json_t *w = json_object_get(args, "watch");
    const char *why = json_string_value(json_object_get(args, "reason"));
    if (json_object_size(args) != 2 || !json_is_integer(w) || !why ||
        strlen(why) >= HV_HEALTH_REASON_MAX) {
        *err = "unhealthy takes {\"watch\": N, \"reason\": TEXT} (TEXT "
               "under 160 bytes)";
        return NULL;
    }
    if (hv_health_report(&s->health, &s->vrf,
                         (unsigned)json_integer_value(w), why) != 0) {
        *err = "that health watch is not open";
        return NULL;
    }
    return hv_health_json(&s->health);
}

static json_t *cmd_revert(void *ctx, json_t *args, const char **err)
{
    struct hv_session *s = ctx;
    const char *id = json_string_value(json_object_get(args, "id"));
    if (json_object_size(args) != 1)
        id = NULL;
    json_t *r = hv_patch_revert(&s->vm, &s->vrf, id, err, &s->ctl.err_class);
    if (r)
        hv_health_cancel(&s->health);
    return r;
}

static json_t *cmd_lock(void *ctx, json_t *args, const char **err)
{
    struct hv_session *s = ctx;
    (void)args;
    return hv_lock_text(&s->vm, &s->vrf, err, &s->ctl.err_class);
}

static const struct hv_control_cmd hv_run_cmds[] = {
    {"status", cmd_status, 0, 0},
    {"apply", cmd_apply, 1, 1},
    {"revert", cmd_revert, 1, 0},
    {"lock", cmd_lock, 0, 0},
    {"attest", cmd_attest, 1, 0},
    {"trust-reload", cmd_trust_reload, 0, 0},
    {"pause", cmd_pause, 0, 0},
    {"resume", cmd_resume, 0, 0},
    {"quit", cmd_quit, 0, 0},
    {"unhealthy", cmd_unhealthy, 1, 0},
};

/* ------------------------------------------------------------- set-up */

static int setup_ram(struct hv_vm *vm, uint64_t size)
{
    vm->ram_fd = memfd_create("hvpatch-ram", MFD_CLOEXEC);
    if (vm->ram_fd < 0 || ftruncate(vm->ram_fd, (off_t)size) < 0) {
        hv_err("guest RAM: memfd_create/ftruncate (%" PRIu64
               " MiB) failed: %s",
               size >> 20, strerror(errno));
        return -1;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
                   vm->ram_fd, 0);
    if (p == MAP_FAILED) {
        hv_err("guest RAM: mmap failed: %s", strerror(errno));
        return -1;
    }
    vm->ram = p;
    vm->ram_size = size;
    return hv_kvm_add_slot(vm, 0, 0, size, vm->ram, 0);
}

static void console_line(void *ctx, const char *line, size_t len)
{
    hv_health_console_line(ctx, line, len);
}

static void init_vm(struct hv_vm *vm, const struct hv_config *cfg)
{
    pthread_condattr_t ca;
    memset(vm, 0, sizeof *vm);
    vm->kvm_fd = vm->vm_fd = vm->ram_fd = vm->prot_fd = vm->stop_fd = -1;
    for (unsigned i = 0; i < HV_MAX_VCPUS; i++)
        vm->vcpu[i].fd = -1;
    vm->ncpus = cfg->ncpus;
    vm->start_ns = cfg->start_ns;
    vm->pvm = hv_kvm_is_pvm();
    pthread_mutex_init(&vm->pause_lock, NULL);
    pthread_mutex_init(&vm->lock, NULL);
    pthread_mutex_init(&vm->patch_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* for timedwait */
    pthread_cond_init(&vm->parked_cond, &ca);
    pthread_cond_init(&vm->resume_cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* ------------------------------------------------------------ devices */

/* What the devices' events mean here: the services they reach. */

/* pvpanic: a panicked guest is dead: the VM stops (exit status 3)
 * instead of idling in the guest's panic loop, and a health watch open
 * on a patch reports it, unrepaired. */
static int guest_panicked(void *ctx, struct hv_vcpu *v)
{
    struct hv_session *s = ctx;
    (void)v;
    hv_vm_stop(&s->vm, HV_STOP_GUEST_FAIL, 0);
    return -1;
}

static void guest_lock_request(void *ctx, struct hv_vcpu *v)
{
    struct hv_session *s = ctx;
    (void)v;
    hv_lock_request(&s->vm);
}

static void guest_heartbeat(void *ctx, struct hv_vcpu *v, uint64_t count)
{
    struct hv_session *s = ctx;
    hv_health_heartbeat(&s->health, v->id, count);
}

static int guest_patch_list(void *ctx, uint32_t gpa)
{
    struct hv_session *s = ctx;
    return hv_patch_hypercall(&s->vm, gpa);
}

/* The UART, whose console lines the health watch reads; then a Linux
 * guest's platform ports or a demo-style guest's hypercalls. Before the
 * vCPUs start: the bus is read without a lock. */
static int attach_devices(struct hv_session *s)
{
    struct hv_vm *vm = &s->vm;
    hv_serial_set_line_watch(&s->serial, console_line, &s->health);
    if (hv_serial_attach(&s->serial, &vm->io, HV_PORT_COM1) != 0)
        return -1;
    if (vm->guest == HV_GUEST_LINUX) {
        const struct hv_platform_ops ops = {.ctx = s,
                                            .lock_request = guest_lock_request,
                                            .panicked = guest_panicked};
        return hv_platform_attach(&s->platform, &vm->io, &ops);
    }
    const struct hv_hypercall_ops ops = {.ctx = s,
                                         .heartbeat = guest_heartbeat,
                                         .patch_list = guest_patch_list};
    return hv_hypercall_attach(&s->hc, &vm->io, &ops);
}

static int boot_vcpus(struct hv_vm *vm, const struct hv_config *cfg,
                      uint64_t entry)
{
    struct fw_boot_params bp = {
        .ncpus = cfg->ncpus,
        .mem_size = cfg->mem_size,
        .tsc_khz = hv_x86_tsc_khz(vm),
        .cmdline = cfg->cmdline,
        .entry = entry,
    };
    if (cfg->cmdline && strstr(cfg->cmdline, "selfwrite"))
        bp.flags |= HV_BOOT_F_SELFWRITE;
    if (fw_boot_setup(vm->ram, &bp) != 0) {
        hv_err("firmware: boot parameters do not fit (command line longer "
               "than %u bytes?)",
               HV_CMDLINE_MAX - 1);
        return -1;
    }
    for (unsigned i = 0; i < cfg->ncpus; i++) {
        struct fw_cpu_state st;
        fw_cpu_state(&bp, i, &st);
        if (hv_x86_setup_vcpu(&vm->vcpu[i], &st) != 0)
            return -1;
    }
    return 0;
}

/* Takes the sealed code from the verifier (for a Linux guest: empty until
 * its text is locked) and maps it as the read-only memslot. */
static int take_code(struct hv_session *s)
{
    struct vrf_msg ready;
    int fd = hv_vrf_wait_ready(&s->vrf, s->swtpm.pid, HV_VRF_READY_IDLE_MS,
                               HV_VRF_READY_MAX_MS, &ready);
    if (fd < 0 || hv_prot_setup(&s->vm, fd, ready.ready.code_size) != 0)
        return -1;
    if (memcmp(ready.ready.image_sha256, s->image_sha256, 32) != 0) {
        hv_err("verifier loaded a different guest image than the monitor");
        return -1;
    }
    s->tpm_state = (int)ready.ready.tpm_state;
    memcpy(s->boot_id, ready.ready.boot_id, 32);
    hv_patch_shm_open(&s->vrf);
    return 0;
}

/* Loads the demo-style image's data segments into RAM (those are the
 * monitor's to write; its code is the verifier's). */
static int load_guest(struct hv_session *s, const uint8_t *image, size_t len,
                      uint64_t *entry)
{
    struct hv_vm *vm = &s->vm;
    struct hv_elf_image img;
    int e = hv_img_parse(image, len, &img);
    if (e != HV_ELF_OK) { /* the verifier accepted it: cannot happen */
        hv_err("guest image rejected: %s", hv_elf_strerror(e));
        return -1;
    }
    uint8_t *const dst[HV_IMG_NREGIONS] = {[HV_IMG_DATA] = vm->ram +
                                                           HV_KDATA_GPA};
    hv_elf_load(&img, image, hv_img_regions, dst);
    *entry = img.entry;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The sandboxed monitor cannot remove files, so a child forked now
 * removes the temporary TPM directory once the monitor closes the pipe:
 * at teardown, or when the monitor dies, however it dies. */
static int spawn_reaper(struct hv_session *s)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    s->reaper_pid = fork();
    if (s->reaper_pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (s->reaper_pid == 0) {
        char c;
        dup2(p[0], 3);
        close_range(4, ~0u, 0);
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        while (read(3, &c, 1) > 0 || errno == EINTR)
            ;
        nftw(s->tpm_tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        _exit(0);
    }
    close(p[0]);
    s->reaper_fd = p[1];
    return 0;
}

static void stop_tpm(struct hv_session *s)
{
    if (s->swtpm.pid > 0)
        hv_swtpm_stop(&s->swtpm, 0, NULL, 0);
    if (s->reaper_fd >= 0) { /* a throw-away TPM: nothing to keep */
        close(s->reaper_fd);
        s->reaper_fd = -1;
        waitpid(s->reaper_pid, NULL, 0);
    }
}

/* Starts this VM's own swtpm, unless --tpm names another TPM or --no-tpm;
 * sets s->tcti. */
static int start_tpm(struct hv_session *s)
{
    const struct hv_config *cfg = s->cfg;
    char err[512];
    if (cfg->no_tpm)
        return 0;
    if (cfg->tpm_tcti) {
        s->tcti = cfg->tpm_tcti;
        return 0;
    }
    const char *dir = cfg->tpm_state;
    if (!dir) {
        snprintf(s->tpm_tmpdir, sizeof s->tpm_tmpdir, "%s",
                 "/tmp/hvpatch-tpm-XXXXXX");
        if (!mkdtemp(s->tpm_tmpdir)) {
            hv_err("TPM: mkdtemp (swtpm state) failed: %s", strerror(errno));
            s->tpm_tmpdir[0] = '\0';
            return -1;
        }
        dir = s->tpm_tmpdir;
        if (spawn_reaper(s) != 0) {
            hv_err("TPM: cannot start the clean-up process: %s",
                   strerror(errno));
            rmdir(s->tpm_tmpdir);
            return -1;
        }
    }
    struct hv_swtpm_config sc = {.state_dir = dir};
    if (hv_swtpm_start(&s->swtpm, &sc, err, sizeof err) != 0) {
        hv_err("TPM: %s (or run with --no-tpm)", err);
        return -1;
    }
    s->tcti = hv_swtpm_tcti(&s->swtpm);
    return 0;
}

static int setup(struct hv_session *s)
{
    const struct hv_config *cfg = s->cfg;
    struct hv_vm *vm = &s->vm;
    struct hv_linux_guest *lg = &s->linux_guest;
    size_t len = 0;
    uint8_t *file = NULL;
    const uint8_t *image = hv_demo_image;
    int ret = -1;

    if (cfg->kernel_path) {
        /* Every check of the files first: nothing starts for a bad one. */
        if (hv_linux_guest_load(cfg, vm->pvm, lg) != 0)
            goto cleanup;
        vm->guest = HV_GUEST_LINUX;
        s->kind = "linux";
        s->cmdline = lg->cmdline;
        image = lg->kernel;
        len = lg->kernel_len;
    } else if (cfg->guest_path) {
        file =
            hv_read_file(cfg->guest_path, "guest image", HV_ELF_MAX_SIZE, &len);
        if (!file)
            return -1;
        image = file;
    } else {
        len = (size_t)(hv_demo_image_end - hv_demo_image);
    }
    /* First, while this process has one thread: swtpm, then the verifier,
     * which measures the boot into it before the guest may run. */
    if (start_tpm(s) != 0)
        goto cleanup;
    struct vrf_proc_cfg vcfg = {
        .tcti = s->tcti,
        .tpm_flags = s->swtpm.pid > 0 ? VRF_TPM_OPEN_FLUSH_TRANSIENT : 0,
        .mem_size = cfg->mem_size,
        .ncpus = cfg->ncpus,
        .cmdline = s->cmdline,
        .kind = s->kind,
        .initrd = lg->initrd,
        .initrd_len = lg->initrd_len,
        .trust_dir = cfg->trust_dir,
        .audit_path = cfg->audit_path,
    };
    if (hv_vrf_start(&s->vrf, image, len, &vcfg) != 0)
        goto cleanup;
    vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (vm->stop_fd < 0) {
        hv_err("eventfd failed: %s", strerror(errno));
        goto cleanup;
    }
    if (hv_kvm_open(vm) != 0 ||
        (vm->guest == HV_GUEST_LINUX && hv_kvm_create_irqchip(vm) != 0) ||
        setup_ram(vm, cfg->mem_size) != 0)
        goto cleanup;
    for (unsigned i = 0; i < cfg->ncpus; i++)
        if (hv_kvm_create_vcpu(vm, i) != 0)
            goto cleanup;
    if (attach_devices(s) != 0)
        goto cleanup;
    /* The image's digest, for checking READY's: hashed here, while the
     * verifier hashes and measures the same bytes, the two passes side by
     * side (a 53 MB kernel). */
    mbedtls_sha256_ret(image, len, s->image_sha256, 0);
    if (take_code(s) != 0)
        goto cleanup;
    if (vm->guest == HV_GUEST_LINUX) {
        if (hv_linux_guest_boot(vm, cfg, lg, &s->serial) != 0)
            goto cleanup;
    } else {
        uint64_t entry;
        if (load_guest(s, image, len, &entry) != 0 ||
            boot_vcpus(vm, cfg, entry) != 0)
            goto cleanup;
    }
    ret = 0;
cleanup:
    free(file);
    hv_linux_guest_free(lg); /* in guest RAM now, or never to be */
    return ret;
}

static int setup_signals(struct hv_session *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1); /* only vCPU threads take the kick signal */
    sigaddset(&set, SIGCHLD); /* the verifier exited: reap it (hv_vrf_reap) */
    signal(SIGPIPE, SIG_IGN);
    /* A shell starts background jobs with SIGINT ignored; an ignored signal
     * never becomes pending, so signalfd would not see it. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    sigdelset(&set, SIGUSR1);
    s->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s->sig_fd < 0) {
        hv_err("signalfd failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------- patches at start */

static int add_start_file(struct hv_session *s, const char *path)
{
    if (s->n_start_files == HV_START_PATCHES_MAX) {
        hv_err("--patch/--patches: more than %u packages",
               HV_START_PATCHES_MAX);
        return -1;
    }
    s->start_files[s->n_start_files] = strdup(path);
    return s->start_files[s->n_start_files++] ? 0 : -1;
}

/* The packages to apply at start: --patch in order, then the regular
 * files of --patches DIR in name order (names starting with '.' are
 * skipped). A directory that cannot be read stops the start. */
static int list_start_files(struct hv_session *s)
{
    const struct hv_config *cfg = s->cfg;
    struct dirent **ents = NULL;
    int n = 0, ret = 0;
    for (unsigned i = 0; i < cfg->n_start_patches && ret == 0; i++)
        ret = add_start_file(s, cfg->start_patches[i]);
    if (ret != 0 || !cfg->start_patches_dir)
        return ret;
    n = scandir(cfg->start_patches_dir, &ents, NULL, alphasort);
    if (n < 0) {
        hv_err("--patches %s: scandir failed: %s", cfg->start_patches_dir,
               strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        if (ret == 0 && ents[i]->d_name[0] != '.' &&
            snprintf(path, sizeof path, "%s/%s", cfg->start_patches_dir,
                     ents[i]->d_name) < (int)sizeof path &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode))
            ret = add_start_file(s, path);
        free(ents[i]);
    }
    free(ents);
    return ret;
}

/* Applies the start-up packages with every vCPU held before its first
 * guest instruction, through the same verifier checks as `hvpatch
 * apply`. Returns -1 when all went in, or the exit status: a refused
 * package stops the start (the guest never runs unpatched unnoticed). */
static int apply_start_patches(struct hv_session *s)
{
    for (unsigned i = 0; i < s->n_start_files; i++) {
        const char *f = s->start_files[i], *err = NULL, *cls = NULL;
        int fd = open(f, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            hv_err("--patch %s: open failed: %s", f, strerror(errno));
            return CLI_EXIT_HOST;
        }
        json_t *r = hv_patch_apply(&s->vm, &s->vrf, fd, &err, &cls);
        if (!r) {
            hv_err("start-up patch %s refused: %s", f, err);
            hv_err("the guest is not started: it would run without the "
                   "patches it was given (--patch/--patches)");
            return CLI_EXIT_REFUSED;
        }
        json_t *id = json_object_get(r, "id"), *seq = json_object_get(r, "seq");
        hv_log("start-up patch %s: %s (sequence %" JSON_INTEGER_FORMAT
               ") applied before the guest's first instruction",
               f, json_string_value(id), json_integer_value(seq));
        json_array_append_new(s->started, json_pack("{s:s,s:O,s:O}", "file", f,
                                                    "id", id, "seq", seq));
        json_decref(r);
    }
    return -1;
}

/* ------------------------------------------------------------ main loop */

static void read_console(struct hv_session *s, int *stdin_open)
{
    uint8_t buf[256];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            *stdin_open = 0; /* EOF: the guest just gets no more input */
        return;
    }
    size_t took = hv_serial_feed(&s->serial, buf, (size_t)n);
    if (took < (size_t)n)
        hv_log("console input: guest's buffer full, %zu bytes dropped",
               (size_t)n - took);
}

/* The guest asked for its text lock: refusals are logged, not fatal. */
static void guest_lock(struct hv_session *s)
{
    const char *err = NULL, *cls = NULL;
    json_t *r = hv_lock_text(&s->vm, &s->vrf, &err, &cls);
    if (!r)
        hv_err("text lock refused: %s", err);
    json_decref(r);
}

static void main_loop(struct hv_session *s)
{
    struct hv_vm *vm = &s->vm;
    int stdin_open = 1;
    uint64_t last_report = hv_now_ns();
    while (atomic_load(&vm->stop_reason) == HV_STOP_NONE) {
        struct pollfd pfd[HV_MAX_POLLFDS];
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = s->sig_fd, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = vm->stop_fd, .events = POLLIN};
        int in_idx = stdin_open ? n : -1;
        if (stdin_open)
            pfd[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        int vrf_idx = s->vrf.sock >= 0 ? n : -1;
        if (vrf_idx >= 0) /* only hang-ups: replies are read by callers */
            pfd[n++] = (struct pollfd){.fd = s->vrf.sock, .events = 0};
        int ctl_first = n;
        n += hv_control_pollfds(&s->ctl, pfd + n, HV_MAX_POLLFDS - n);
        int wait_ms = hv_control_timeout(&s->ctl, HV_POLL_MS);
        if (poll(pfd, (nfds_t)n, wait_ms) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(s->sig_fd, &si, sizeof si) != sizeof si) {
                /* nothing pending after all */
            } else if (si.ssi_signo == SIGCHLD) {
                (void)hv_vrf_reap(&s->vrf);
            } else {
                s->stop_signal = (int)si.ssi_signo;
                hv_log("got %s; stopping VM", strsignal((int)si.ssi_signo));
                hv_vm_stop(vm, HV_STOP_SIGNAL, 0);
            }
        }
        if (in_idx >= 0 && (pfd[in_idx].revents & (POLLIN | POLLHUP)))
            read_console(s, &stdin_open);
        if (vrf_idx >= 0 && (pfd[vrf_idx].revents & (POLLHUP | POLLERR))) {
            hv_err("verifier process exited; the guest runs on, patching is "
                   "refused until the VM restarts");
            close(s->vrf.sock);
            s->vrf.sock = -1;
        }
        if (s->vrf.sock < 0) /* gone, or cut off: reap it once it exits */
            (void)hv_vrf_reap(&s->vrf);
        hv_control_service(&s->ctl, pfd + ctl_first, n - ctl_first);
        if (atomic_exchange(&vm->lock_req, 0))
            guest_lock(s);
        hv_health_tick(&s->health, &s->vrf);
        hv_serial_flush(&s->serial);
        if (hv_now_ns() - last_report > 1000000000ull) {
            hv_prot_report(vm);
            hv_patch_audit_blocked(vm, &s->vrf);
            last_report = hv_now_ns();
        }
    }
}

static int exit_code(struct hv_session *s)
{
    struct hv_vm *vm = &s->vm;
    switch (atomic_load(&vm->stop_reason)) {
    case HV_STOP_GUEST_OFF:
        return vm->guest_code == 0 ? CLI_EXIT_OK : CLI_EXIT_GUEST;
    case HV_STOP_QUIT:
        return CLI_EXIT_OK;
    case HV_STOP_SIGNAL:
        return 128 + s->stop_signal;
    case HV_STOP_GUEST_FAIL:
        return CLI_EXIT_GUEST;
    case HV_STOP_GUEST_REBOOT:
        return CLI_EXIT_REBOOT;
    default:
        return CLI_EXIT_HOST;
    }
}

static void teardown(struct hv_session *s)
{
    struct hv_vm *vm = &s->vm;
    hv_vm_stop(vm, HV_STOP_HOST_FAIL, 0); /* no-op if a reason is set */
    hv_vcpu_join_all(vm);
    hv_patch_audit_blocked(vm, &s->vrf);
    hv_vrf_stop(&s->vrf);
    stop_tpm(s);
    hv_prot_report(vm);
    hv_control_close(&s->ctl);
    hv_serial_destroy(&s->serial);
    hv_health_destroy(&s->health);
    hv_kvm_close(vm);
    if (vm->prot)
        munmap((void *)vm->prot, vm->prot_size);
    if (vm->ram)
        munmap(vm->ram, vm->ram_size);
    if (vm->prot_fd >= 0)
        close(vm->prot_fd);
    if (vm->ram_fd >= 0)
        close(vm->ram_fd);
    if (vm->stop_fd >= 0)
        close(vm->stop_fd);
    if (s->sig_fd >= 0)
        close(s->sig_fd);
    if (s->status_fd >= 0)
        close(s->status_fd);
}

int hv_run(const struct hv_config *cfg)
{
    static struct hv_session s; /* large (per-page counters): not on stack */
    int code = CLI_EXIT_HOST;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.kind = "demo";
    s.cmdline = cfg->cmdline;
    s.sig_fd = s.status_fd = -1;
    s.vrf = (struct hv_vrf){.pid = -1, .sock = -1};
    s.reaper_fd = -1;
    s.ctl = (struct hv_control){.cmds = hv_run_cmds,
                                .ncmds = sizeof hv_run_cmds /
                                         sizeof hv_run_cmds[0],
                                .ctx = &s,
                                .listen_fd = -1,
                                .req_fd = -1};
    for (int i = 0; i < HV_CONTROL_MAX_CLIENTS; i++)
        s.ctl.clients[i].fd = -1;
    init_vm(&s.vm, cfg);
    hv_serial_init(&s.serial, STDOUT_FILENO);
    hv_health_init(&s.health, &s.vm, cfg->health_window_ms);
    s.started = json_array();
    if (!s.started || list_start_files(&s) != 0 || setup_signals(&s) != 0 ||
        setup(&s) != 0)
        goto out;
    if (cfg->control_path && hv_control_listen(&s.ctl, cfg->control_path))
        goto out;
    hv_log("booting %s%s guest on %u vCPUs, %" PRIu64 " MiB%s%s",
           cfg->kernel_path ? "Linux " : "",
           cfg->kernel_path  ? cfg->kernel_path
           : cfg->guest_path ? cfg->guest_path
                             : "demo",
           cfg->ncpus, cfg->mem_size >> 20,
           cfg->control_path ? ", control " : "",
           cfg->control_path ? cfg->control_path : "");
    if (s.vm.guest == HV_GUEST_LINUX && s.vm.pvm)
        hv_log("kvm_pvm: guest ring 0 is emulated and lacks instructions "
               "Linux uses; expect the boot to stop early (docs/LINUX.md)");
    s.status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    json_object_seed(0); /* jansson reads its hash seed now, not later */
    if (hv_vcpu_start_all(&s.vm) != 0)
        goto out;
    code = apply_start_patches(&s);
    if (code != -1)
        goto out;
    code = CLI_EXIT_HOST;
    if (cfg->no_sandbox)
        hv_log("running without the seccomp sandbox (--no-sandbox)");
    else if (hv_seccomp_enter(s.vm.guest == HV_GUEST_LINUX) != 0)
        goto out;
    hv_vcpu_release(&s.vm);
    main_loop(&s);
    code = -1;
out:
    teardown(&s);
    if (code == -1) {
        code = exit_code(&s);
        hv_log("VM stopped; exit status %d", code);
    }
    for (unsigned i = 0; i < s.n_start_files; i++)
        free(s.start_files[i]);
    json_decref(s.started);
    return code;
}

/* -------------------------------------------------------- command line */

static const char hv_run_usage[] =
    "usage: hvpatch run [OPTIONS]\n"
    "Boot a guest under the hvpatch monitor; with no options, the bundled\n"
    "demo guest on 2 vCPUs. Its console is this terminal (stdin/stdout).\n"
    "\n"
    "  --cpus N          vCPUs, 1..8 (default 2)\n"
    "  --mem MIB         guest RAM in MiB, 8..1024, a multiple of 2\n"
    "                    (default 64; Linux: 128..1024, default 256)\n"
    "  --control PATH    QMP-style control socket (mode 0600)\n"
    "  --guest ELF       a demo-style guest image instead of the bundled one\n"
    "  --kernel FILE     boot Linux: a PVH vmlinux (uncompressed ELF) or a\n"
    "                    bzImage, up to 256 MiB (docs/LINUX.md)\n"
    "  --initrd FILE     Linux initrd (initramfs), with --kernel\n"
    "  --append CMDLINE  guest command line (demo: 'selfwrite' tries to\n"
    "                    overwrite its own code, which must be blocked;\n"
    "                    Linux: replaces the default command line\n"
    "                    " FW_LINUX_CMDLINE_DEFAULT "\n"
    "                    and gets 'noxsave' added on kvm_pvm)\n"
    "  --no-sandbox      do not confine the monitor with seccomp (for\n"
    "                    debugging under gdb; the verifier stays confined)\n"
    "  --tpm-state DIR   keep this VM's swtpm state in DIR (default: a\n"
    "                    temporary directory, removed at exit); reuse it to\n"
    "                    keep the anti-rollback counter across restarts\n"
    "  --tpm TCTI        use another TPM through a tpm2-tss TCTI string\n"
    "                    (e.g. swtpm:path=SOCK, device:/dev/tpmrm0)\n"
    "  --no-tpm          no TPM: nothing is measured, attest and patching\n"
    "                    are refused\n"
    "  --trust DIR       accept patches signed under this trust store\n"
    "                    (DIR/anchors, DIR/crls: `hvpatch keygen` makes one),\n"
    "                    re-read before every apply, every 5 s and on\n"
    "                    `hvpatch trust reload`; needs --audit-log.\n"
    "                    Without it, patching is off\n"
    "  --audit-log FILE  append every decision to FILE, a hash-chained JSON\n"
    "                    log (`hvpatch audit verify FILE` checks it)\n"
    "  --patch PKG       apply PKG before the guest's first instruction, with\n"
    "                    the checks of `hvpatch apply` (repeatable, in order;\n"
    "                    needs --trust; demo-style guests). The package of\n"
    "                    the TPM counter's sequence comes back this way\n"
    "  --patches DIR     the same for every regular file in DIR, in name\n"
    "                    order, after any --patch\n"
    "  --health-window S after each apply, watch the guest for S seconds\n"
    "                    (0..3600, default 10) and have the verifier revert\n"
    "                    the patch if the guest fails: an oops or BUG on its\n"
    "                    console, heartbeats stopped (demo guest); a panic is\n"
    "                    reported, not reverted (docs/MONITOR.md, \"Automatic\n"
    "                    rollback\"). 0: only `apply --wait-healthy` watches\n"
    "  --no-auto-revert  the same as --health-window 0\n"
    "\n"
    "Exit status: 0 guest shut down or `quit`, 1 usage, 2 host set-up\n"
    "failure (also a kernel or initrd file that cannot be booted), 3 guest\n"
    "failure, 4 a --patch/--patches package was refused (the guest never\n"
    "ran), 8 the guest rebooted (run it again to restart it), 128+N\n"
    "stopped by signal N (SIGINT, SIGTERM).\n";

static int parse_uint(const char *s, unsigned long lo, unsigned long hi,
                      unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* What depends on the kind of guest: Linux or demo-style. */
static int check_guest_options(struct hv_config *cfg, int mem_set)
{
    size_t max = cfg->kernel_path ? FW_LINUX_CMDLINE_MAX : HV_CMDLINE_MAX - 1;
    if (cfg->kernel_path && cfg->guest_path) {
        fputs("hvpatch run: --kernel and --guest exclude each other\n", stderr);
        return -1;
    }
    if (cfg->initrd_path && !cfg->kernel_path) {
        fputs("hvpatch run: --initrd needs --kernel\n", stderr);
        return -1;
    }
    if (cfg->cmdline && strlen(cfg->cmdline) > max) {
        fprintf(stderr, "hvpatch run: --append: longer than %zu bytes\n", max);
        return -1;
    }
    if (!cfg->kernel_path)
        return 0;
    if (!mem_set)
        cfg->mem_size = (uint64_t)HV_LINUX_MEM_MIB << 20;
    if (cfg->mem_size < (uint64_t)HV_LINUX_MIN_MEM_MIB << 20) {
        fprintf(stderr,
                "hvpatch run: --mem: a Linux guest needs at least "
                "%u MiB\n",
                HV_LINUX_MIN_MEM_MIB);
        return -1;
    }
    return 0;
}

/* --patch and --patches need patching on, and a guest whose code is
 * locked before it runs: a Linux guest locks its text after boot. */
static int check_start_patches(const struct hv_config *cfg)
{
    if (!cfg->n_start_patches && !cfg->start_patches_dir)
        return 0;
    if (!cfg->trust_dir || cfg->no_tpm) {
        fputs("hvpatch run: --patch/--patches need --trust (and a TPM)\n",
              stderr);
        return -1;
    }
    if (cfg->kernel_path) {
        fputs("hvpatch run: --patch/--patches: not for --kernel (Linux locks "
              "its text when boot completes; apply then)\n",
              stderr);
        return -1;
    }
    return 0;
}

int hv_cmd_run(int argc, char **argv)
{
    enum {
        OPT_CPUS = 1,
        OPT_MEM,
        OPT_CONTROL,
        OPT_GUEST,
        OPT_APPEND,
        OPT_NO_SANDBOX,
        OPT_TPM,
        OPT_TPM_STATE,
        OPT_NO_TPM,
        OPT_TRUST,
        OPT_AUDIT_LOG,
        OPT_KERNEL,
        OPT_INITRD,
        OPT_PATCH,
        OPT_PATCHES,
        OPT_HEALTH_WINDOW,
        OPT_NO_AUTO_REVERT
    };
    static const struct option opts[] = {
        {"cpus", required_argument, NULL, OPT_CPUS},
        {"mem", required_argument, NULL, OPT_MEM},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"guest", required_argument, NULL, OPT_GUEST},
        {"append", required_argument, NULL, OPT_APPEND},
        {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
        {"kernel", required_argument, NULL, OPT_KERNEL},
        {"initrd", required_argument, NULL, OPT_INITRD},
        {"tpm", required_argument, NULL, OPT_TPM},
        {"tpm-state", required_argument, NULL, OPT_TPM_STATE},
        {"no-tpm", no_argument, NULL, OPT_NO_TPM},
        {"trust", required_argument, NULL, OPT_TRUST},
        {"audit-log", required_argument, NULL, OPT_AUDIT_LOG},
        {"patch", required_argument, NULL, OPT_PATCH},
        {"patches", required_argument, NULL, OPT_PATCHES},
        {"health-window", required_argument, NULL, OPT_HEALTH_WINDOW},
        {"no-auto-revert", no_argument, NULL, OPT_NO_AUTO_REVERT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct hv_config cfg = {.ncpus = HV_DEFAULT_CPUS,
                            .mem_size = (uint64_t)HV_DEFAULT_MEM_MIB << 20,
                            .start_ns = hv_now_ns(),
                            .health_window_ms =
                                HV_HEALTH_WINDOW_DEFAULT_S * 1000ull};
    unsigned long v;
    int c, mem_set = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_CPUS:
            if (parse_uint(optarg, 1, HV_MAX_VCPUS, &v)) {
                fprintf(stderr, "hvpatch run: --cpus takes 1..%u\n",
                        HV_MAX_VCPUS);
                return CLI_EXIT_USAGE;
            }
            cfg.ncpus = (unsigned)v;
            break;
        case OPT_MEM:
            if (parse_uint(optarg, HV_RAM_MIN >> 20, HV_MAX_MEM_MIB, &v) ||
                v % 2) {
                fprintf(stderr,
                        "hvpatch run: --mem takes an even number of MiB, "
                        "%llu..%u\n",
                        HV_RAM_MIN >> 20, HV_MAX_MEM_MIB);
                return CLI_EXIT_USAGE;
            }
            cfg.mem_size = (uint64_t)v << 20;
            mem_set = 1;
            break;
        case OPT_CONTROL:
            cfg.control_path = optarg;
            break;
        case OPT_GUEST:
            cfg.guest_path = optarg;
            break;
        case OPT_APPEND:
            cfg.cmdline = optarg;
            break;
        case OPT_NO_SANDBOX:
            cfg.no_sandbox = 1;
            break;
        case OPT_TPM:
            cfg.tpm_tcti = optarg;
            break;
        case OPT_TPM_STATE:
            cfg.tpm_state = optarg;
            break;
        case OPT_NO_TPM:
            cfg.no_tpm = 1;
            break;
        case OPT_TRUST:
            cfg.trust_dir = optarg;
            break;
        case OPT_AUDIT_LOG:
            cfg.audit_path = optarg;
            break;
        case OPT_KERNEL:
            cfg.kernel_path = optarg;
            break;
        case OPT_INITRD:
            cfg.initrd_path = optarg;
            break;
        case OPT_PATCH:
            if (cfg.n_start_patches == HV_START_PATCHES_MAX) {
                fprintf(stderr, "hvpatch run: --patch: at most %u\n",
                        HV_START_PATCHES_MAX);
                return CLI_EXIT_USAGE;
            }
            cfg.start_patches[cfg.n_start_patches++] = optarg;
            break;
        case OPT_PATCHES:
            if (cfg.start_patches_dir) {
                fputs("hvpatch run: --patches: give one directory\n", stderr);
                return CLI_EXIT_USAGE;
            }
            cfg.start_patches_dir = optarg;
            break;
        case OPT_HEALTH_WINDOW:
            if (hv_health_parse_window(optarg, &cfg.health_window_ms)) {
                fprintf(stderr, "hvpatch run: --health-window takes whole "
                                "seconds, 0..%u\n",
                        HV_HEALTH_WINDOW_MAX_S);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_NO_AUTO_REVERT:
            cfg.health_window_ms = 0;
            break;
        case 'h':
            fputs(hv_run_usage, stdout);
            return CLI_EXIT_OK;
        default:
            fputs(hv_run_usage, stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hvpatch run: unexpected argument '%s'\n",
                argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (check_guest_options(&cfg, mem_set) != 0)
        return CLI_EXIT_USAGE;
    if (cfg.no_tpm + !!cfg.tpm_tcti + !!cfg.tpm_state > 1) {
        fprintf(stderr, "hvpatch run: --no-tpm, --tpm and --tpm-state "
                        "exclude each other\n");
        return CLI_EXIT_USAGE;
    }
    if (cfg.trust_dir && !cfg.audit_path) {
        fprintf(stderr, "hvpatch run: --trust needs --audit-log FILE: every "
                        "patch decision is logged\n");
        return CLI_EXIT_USAGE;
    }
    if (check_start_patches(&cfg) != 0)
        return CLI_EXIT_USAGE;
    return hv_run(&cfg);
}
