/* hv_health.c: the health watch after a patch. For a bounded window after
 * an apply the main thread checks, every turn of its loop, what the guest
 * shows: an oops or BUG on its console, a kernel panic, the demo guest's
 * heartbeats stopping, an operator's failed check. A failure has the
 * verifier revert the patch (audited as "auto-reverted" with the reason);
 * a dead guest is reported, not "repaired". docs/MONITOR.md, "Automatic
 * rollback". */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hv/machine/hv_machine.h"
#include "hv/svc/hv_health.h"
#include "hv/svc/hv_patch.h"
#include "lib/hv_log.h"
#include "lib/vrf_err.h"
#include "lib/vrf_time.h"

static int starts(const char *l, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(l, prefix, n) == 0;
}

/* printk's time stamp, "[   12.345678] ": its length, or 0. */
static size_t stamp_len(const char *l, size_t len)
{
    size_t i = 1;
    if (len == 0 || l[0] != '[')
        return 0;
    while (i < len && (l[i] == ' ' || l[i] == '.' || isdigit((uint8_t)l[i])))
        i++;
    if (i == len || l[i] != ']')
        return 0;
    i++;
    return i < len && l[i] == ' ' ? i + 1 : i;
}

/* die()'s header anywhere in the line: ": 0000 [#1]" (error code, then
 * the oops counter), as x86 prints it for invalid opcode, general
 * protection and the other traps that kill a kernel path. */
static int die_header(const char *l, size_t len)
{
    for (size_t i = 6; i + 4 <= len; i++) {
        if (memcmp(l + i, " [#", 3) != 0 || !isdigit((uint8_t)l[i + 3]))
            continue;
        const char *h = l + i - 6;
        if (h[0] == ':' && h[1] == ' ' && isxdigit((uint8_t)h[2]) &&
            isxdigit((uint8_t)h[3]) && isxdigit((uint8_t)h[4]) &&
            isxdigit((uint8_t)h[5]))
            return 1;
    }
    return 0;
}

int hv_health_classify(const char *line, size_t len)
{
    size_t s = stamp_len(line, len);
    const char *l = line + s;
    len -= s;
    if (starts(l, len, "Kernel panic"))
        return HV_HEALTH_LINE_PANIC;
    if (starts(l, len, "Oops:") || starts(l, len, "BUG:") ||
        starts(l, len, "kernel BUG at") || die_header(l, len))
        return HV_HEALTH_LINE_FAULT;
    return HV_HEALTH_LINE_OK;
}

void hv_health_clean(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = 0;
    if (cap == 0)
        return;
    for (; n < len && n + 1 < cap && src[n]; n++)
        dst[n] = src[n] >= 0x20 && src[n] < 0x7f ? src[n] : '?';
    dst[n] = '\0';
}

int hv_health_parse_window(const char *s, uint64_t *ms)
{
    char *end;
    if (!s || !isdigit((uint8_t)s[0]))
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > HV_HEALTH_WINDOW_MAX_S)
        return -1;
    *ms = (uint64_t)v * 1000;
    return 0;
}

void hv_health_init(struct hv_health *h, struct hv_vm *vm,
                    uint64_t default_window_ms)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    h->vm = vm;
    h->default_window_ms = default_window_ms;
}

void hv_health_destroy(struct hv_health *h)
{
    pthread_mutex_destroy(&h->lock);
}

void hv_health_console_line(struct hv_health *h, const char *line, size_t len)
{
    int kind = hv_health_classify(line, len);
    if (kind == HV_HEALTH_LINE_OK)
        return;
    pthread_mutex_lock(&h->lock);
    if (kind > h->line_kind) { /* the first line of the worst kind */
        h->line_kind = kind;
        hv_health_clean(h->line, sizeof h->line, line, len);
    }
    pthread_mutex_unlock(&h->lock);
}

/* The console signal since the last call, and forgets it. */
static int take_line(struct hv_health *h, char *line, size_t cap)
{
    pthread_mutex_lock(&h->lock);
    int kind = h->line_kind;
    snprintf(line, cap, "%s", h->line);
    h->line_kind = HV_HEALTH_LINE_OK;
    h->line[0] = '\0';
    pthread_mutex_unlock(&h->lock);
    return kind;
}

const char *hv_health_state_name(int state)
{
    static const char *const names[] = {
        [HV_HEALTH_IDLE] = "idle",
        [HV_HEALTH_WATCHING] = "watching",
        [HV_HEALTH_HEALTHY] = "healthy",
        [HV_HEALTH_AUTO_REVERTED] = "auto-reverted",
        [HV_HEALTH_REVERT_FAILED] = "revert-failed",
        [HV_HEALTH_DEAD] = "dead",
        [HV_HEALTH_ENDED] = "ended",
    };
    if (state < 0 || (size_t)state >= sizeof names / sizeof names[0])
        return "idle";
    return names[state];
}

void hv_health_heartbeat(struct hv_health *h, unsigned cpu, uint64_t count)
{
    const struct hv_vm *vm = h->vm;
    uint64_t zero = 0, now = hv_now_ns();
    if (cpu >= HV_MAX_VCPUS)
        return;
    atomic_store(&h->beat[cpu], count);
    if (!atomic_compare_exchange_strong(&h->first_beat_ns[cpu], &zero, now))
        return;
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (atomic_load(&h->first_beat_ns[i]) == 0)
            return;
    zero = 0;
    if (atomic_compare_exchange_strong(&h->all_beat_ns, &zero, now))
        hv_log("heartbeats from all %u vCPUs %.1f ms after start", vm->ncpus,
               (double)(now - vm->start_ns) / 1e6);
}

/* Heartbeats seen now count as progress. */
static void hb_reset(struct hv_health *h, uint64_t now)
{
    for (unsigned i = 0; i < h->vm->ncpus; i++) {
        h->hb[i] = atomic_load(&h->beat[i]);
        h->hb_ns[i] = now;
    }
}

unsigned hv_health_watch(struct hv_health *h, const char *id,
                         uint64_t window_ms)
{
    char line[HV_HEALTH_REASON_MAX];
    uint64_t now = hv_now_ns();
    take_line(h, line, sizeof line); /* what came before is not ours */
    h->watch++;
    h->reason[0] = '\0';
    snprintf(h->id, sizeof h->id, "%s", id);
    h->window_ms = window_ms;
    h->start_ns = now;
    h->end_ns = now + window_ms * 1000000;
    h->state = window_ms ? HV_HEALTH_WATCHING : HV_HEALTH_IDLE;
    hb_reset(h, now);
    if (window_ms)
        hv_log("health: watching %s for %" PRIu64 " s (watch %u)", id,
               window_ms / 1000, h->watch);
    return h->watch;
}

void hv_health_cancel(struct hv_health *h)
{
    if (h->state != HV_HEALTH_WATCHING)
        return;
    h->state = HV_HEALTH_ENDED;
    snprintf(h->reason, sizeof h->reason, "the patch was reverted by hand");
}

/* The guest failed inside the window: revert the watched patch. */
static void fail(struct hv_health *h, struct hv_vrf *vrf, const char *reason)
{
    const char *err = NULL;
    hv_health_clean(h->reason, sizeof h->reason, reason, strlen(reason));
    hv_err("health: %s, %" PRIu64 " ms after %s was applied; reverting it",
           h->reason, (hv_now_ns() - h->start_ns) / 1000000, h->id);
    if (hv_patch_auto_revert(h->vm, vrf, h->id, h->reason, &err) != 0) {
        h->state = HV_HEALTH_REVERT_FAILED;
        hv_err("health: the automatic revert of %s failed: %s", h->id, err);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->state = HV_HEALTH_AUTO_REVERTED;
    h->last_watch = h->watch;
    snprintf(h->last_id, sizeof h->last_id, "%s", h->id);
    snprintf(h->last_reason, sizeof h->last_reason, "%s", h->reason);
    h->last_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    hv_log("health: %s auto-reverted", h->id);
}

int hv_health_report(struct hv_health *h, struct hv_vrf *vrf, unsigned watch,
                     const char *reason)
{
    char why[HV_HEALTH_REASON_MAX];
    if (h->state != HV_HEALTH_WATCHING || watch != h->watch)
        return -1;
    snprintf(why, sizeof why, "health check failed: %s", reason);
    fail(h, vrf, why);
    return 0;
}

/* A vCPU whose heartbeats (demo guest) stopped for HV_HEALTH_HB_STALL_MS:
 * its index, or -1. vCPUs that never sent one (Linux) do not count, nor
 * does time spent paused. */
static int hb_stalled(struct hv_health *h, uint64_t now)
{
    if (hv_vm_paused(h->vm)) {
        hb_reset(h, now);
        return -1;
    }
    for (unsigned i = 0; i < h->vm->ncpus; i++) {
        uint64_t c = atomic_load(&h->beat[i]);
        if (atomic_load(&h->first_beat_ns[i]) == 0)
            continue;
        if (c != h->hb[i]) {
            h->hb[i] = c;
            h->hb_ns[i] = now;
        } else if (now - h->hb_ns[i] > HV_HEALTH_HB_STALL_MS * 1000000ull) {
            return (int)i;
        }
    }
    return -1;
}

void hv_health_tick(struct hv_health *h, struct hv_vrf *vrf)
{
    char line[HV_HEALTH_REASON_MAX], why[HV_HEALTH_REASON_MAX + 64];
    int kind = take_line(h, line, sizeof line);
    if (h->state != HV_HEALTH_WATCHING)
        return;
    uint64_t now = hv_now_ns();
    if (kind == HV_HEALTH_LINE_PANIC) {
        h->state = HV_HEALTH_DEAD;
        snprintf(why, sizeof why, "guest panic on the console: %s", line);
        hv_health_clean(h->reason, sizeof h->reason, why, strlen(why));
        hv_err("health: %s; the guest is dead, %s is left as it is "
               "(restart the VM)",
               h->reason, h->id);
        return;
    }
    if (kind == HV_HEALTH_LINE_FAULT) {
        snprintf(why, sizeof why, "oops on the console: %s", line);
        fail(h, vrf, why);
        return;
    }
    int cpu = hb_stalled(h, now);
    if (cpu >= 0) {
        snprintf(why, sizeof why, "no heartbeat from vCPU %d for %u ms", cpu,
                 HV_HEALTH_HB_STALL_MS);
        fail(h, vrf, why);
        return;
    }
    if (now >= h->end_ns) {
        h->state = HV_HEALTH_HEALTHY;
        hv_log("health: %s stayed healthy for %" PRIu64 " s", h->id,
               h->window_ms / 1000);
    }
}

json_t *hv_health_json(const struct hv_health *h)
{
    uint64_t now = hv_now_ns(), left = 0;
    char when[32] = "";
    if (h->state == HV_HEALTH_WATCHING && h->end_ns > now)
        left = (h->end_ns - now) / 1000000;
    if (h->last_ms)
        vrf_format_time_ms(h->last_ms, when);
    json_t *last =
        h->last_ms
            ? json_pack("{s:i,s:s,s:s,s:s}", "watch", (int)h->last_watch, "id",
                        h->last_id, "reason", h->last_reason, "time", when)
            : json_null();
    return json_pack("{s:s,s:i,s:s,s:I,s:I,s:I,s:s?,s:o}", "state",
                     hv_health_state_name(h->state), "watch", (int)h->watch,
                     "id", h->id, "window_ms", (json_int_t)h->window_ms,
                     "remaining_ms", (json_int_t)left, "default_window_ms",
                     (json_int_t)h->default_window_ms, "reason",
                     h->reason[0] ? h->reason : NULL, "last_auto_revert", last);
}
