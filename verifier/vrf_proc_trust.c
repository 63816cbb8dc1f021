/* vrf_proc_trust.c: the verifier process keeps its trust store current:
 * it re-reads the --trust directory it opened before its sandbox, every
 * VRF_TRUST_REFRESH_S seconds, before every apply and when asked, swaps a
 * store that loads in whole, keeps the old one otherwise, and audits
 * every change and every failed attempt. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "firmware/fw_measure.h"
#include "keys/keys.h"
#include "lib/hv_log.h"
#include "verifier/vrf_patch.h"
#include "verifier/vrf_proc_int.h"

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static json_t *hex_json(const uint8_t d[32])
{
    char hex[65];
    fw_hex32(d, hex);
    return json_string(hex);
}

static json_t *time_json(int64_t t)
{
    char when[32];
    if (t == 0)
        return json_null();
    vrf_format_time_ms((uint64_t)t * 1000, when);
    return json_string(when);
}

/* Every CRL's dates, and whether one is past its nextUpdate. */
static json_t *crls_json(const struct vrf_trust *t, int64_t now, int *stale)
{
    json_t *a = json_array();
    int64_t tu = 0, nu = 0;
    size_t n = vrf_trust_crl_dates(t, 0, &tu, &nu);

    *stale = 0;
    for (size_t i = 0; i < n; i++) {
        vrf_trust_crl_dates(t, i, &tu, &nu);
        if (nu != 0 && nu < now)
            *stale = 1;
        json_array_append_new(a, json_pack("{s:o,s:o}", "this_update",
                                           time_json(tu), "next_update",
                                           time_json(nu)));
    }
    return a;
}

static void audit(struct vrf_patch *pp, json_t *rec)
{
    if (rec && pp->have_audit && vrf_audit_append(&pp->audit, rec, NULL) != 0)
        hv_err("verifier: audit log write failed: %s", strerror(errno));
    json_decref(rec);
}

int vrf_proc_trust_open(struct vrf_proc_trust *tr, struct vrf_patch *pp,
                        const char *dir)
{
    struct keys_diag d = {{0}};
    struct keys_trust_info info;
    int e;

    memset(tr, 0, sizeof *tr);
    tr->dirfd = -1;
    if (!dir)
        return 0;
    tr->dir = dir;
    tr->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tr->dirfd < 0) {
        hv_err("verifier: trust store %s: %s", dir, strerror(errno));
        return -1;
    }
    e = keys_trust_load_at(&pp->trust, tr->dirfd, dir, &info, &d);
    if (e != KEYS_OK) {
        hv_err("verifier: trust store %s: %s", dir,
               d.text[0] ? d.text : keys_strerror(e));
        return -1;
    }
    pp->have_trust = 1;
    memcpy(tr->sha256, info.sha256, 32);
    memcpy(tr->seen, info.sha256, 32);
    tr->anchors = info.anchors;
    tr->loaded_at = (int64_t)time(NULL);
    tr->next_check = mono_s() + VRF_TRUST_REFRESH_S;
    snprintf(tr->reason, sizeof tr->reason, "loaded at start");
    return 0;
}

/* The old store stays: record why. */
static int kept(struct vrf_proc_trust *tr, struct vrf_patch *pp,
                const char *trigger, const struct keys_trust_info *info,
                int code, const char *why)
{
    tr->code = code;
    snprintf(tr->reason, sizeof tr->reason, "%.*s",
             (int)sizeof tr->reason - 1, why);
    hv_err("verifier: trust store %s: %s; the store in use is unchanged",
           tr->dir, why);
    audit(pp, json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:s}", "event",
                        "trust-reload", "trigger", trigger, "result", "kept",
                        "sha256", hex_json(info->sha256), "in_use_sha256",
                        hex_json(tr->sha256), "code", vrf_errname(code),
                        "reason", why));
    return code;
}

int vrf_proc_trust_refresh(struct vrf_proc_trust *tr, struct vrf_patch *pp,
                           const char *trigger, int force)
{
    struct vrf_trust fresh;
    struct keys_trust_info info;
    struct keys_diag d = {{0}};
    int64_t now = (int64_t)time(NULL);
    int e, stale;
    json_t *crls;

    if (tr->dirfd < 0)
        return VRF_ERR_ARG;
    tr->next_check = mono_s() + VRF_TRUST_REFRESH_S;
    /* 1. Nothing changed since the latest read (by digest alone, nothing
     *    parsed): nothing to do. */
    keys_trust_load_at(NULL, tr->dirfd, tr->dir, &info, &d);
    if (!force && memcmp(info.sha256, tr->seen, 32) == 0)
        return tr->code;
    memset(&d, 0, sizeof d);
    vrf_trust_init(&fresh);
    e = keys_trust_load_at(&fresh, tr->dirfd, tr->dir, &info, &d);
    memcpy(tr->seen, info.sha256, 32);
    /* 2. All or nothing: a file that does not load keeps the old store
     *    (a corrupt CRL must not drop the revocations already in force). */
    if (e != KEYS_OK) {
        vrf_trust_free(&fresh);
        return kept(tr, pp, trigger, &info,
                    info.code != 0 ? info.code : VRF_ERR_TRUST_READ,
                    d.text[0] ? d.text : keys_strerror(e));
    }
    /* 3. Swap it in. A stale CRL still revokes what it lists; the applies
     *    it covers are refused (VRF_ERR_REVOKE_CRL_EXPIRED) until it is
     *    renewed. */
    vrf_trust_move(&pp->trust, &fresh);
    pp->have_trust = 1;
    memcpy(tr->sha256, info.sha256, 32);
    tr->anchors = info.anchors;
    tr->loaded_at = now;
    crls = crls_json(&pp->trust, now, &stale);
    tr->code = stale ? VRF_ERR_TRUST_CRL_EXPIRED : VRF_OK;
    snprintf(tr->reason, sizeof tr->reason, "%s",
             stale ? "a CRL is past its nextUpdate: packages it covers are "
                     "refused (VRF_ERR_REVOKE_CRL_EXPIRED)"
                   : "loaded");
    hv_log("verifier: trust store %s reloaded (%s): %zu anchor file(s), "
           "%zu CRL(s)%s",
           tr->dir, trigger, info.anchors, info.crls,
           stale ? "; a CRL is past its nextUpdate" : "");
    audit(pp, json_pack("{s:s,s:s,s:s,s:o,s:I,s:o,s:s?}", "event",
                        "trust-reload", "trigger", trigger, "result",
                        "loaded", "sha256", hex_json(info.sha256), "anchors",
                        (json_int_t)info.anchors, "crls", crls, "code",
                        stale ? vrf_errname(tr->code) : NULL));
    vrf_trust_free(&fresh);
    return tr->code;
}

void vrf_proc_trust_request(struct vrf_proc_trust *tr, struct vrf_patch *pp,
                            const struct vrf_msg *req, struct vrf_msg *reply)
{
    int64_t tu = 0, nu = 0;
    size_t n;

    if (tr->dirfd < 0) {
        vrf_msg_fail(reply, "the VM was started without --trust");
        return;
    }
    int reload = req->trust_reload.action == VRF_TRUST_RELOAD;
    struct vrf_msg_trust *t = &reply->trust;
    if (reload && pp->have_pending) {
        vrf_msg_fail(reply, "a patch operation is in progress");
        return;
    }
    if (reload)
        vrf_proc_trust_refresh(tr, pp, "request", 1);
    reply->type = VRF_MSG_TRUST;
    reply->status = tr->code;
    n = vrf_trust_crl_dates(&pp->trust, 0, &tu, &nu);
    t->anchors = (uint32_t)tr->anchors;
    t->crls = (uint32_t)n;
    t->loaded_at = tr->loaded_at;
    memcpy(t->sha256, tr->sha256, sizeof t->sha256);
    for (size_t i = 0; i < n && i < VRF_TRUST_MSG_DATES; i++) {
        vrf_trust_crl_dates(&pp->trust, i, &tu, &nu);
        t->dates[i] = (struct vrf_msg_crl_dates){tu, nu};
        t->ndates = (uint32_t)i + 1;
    }
    snprintf(t->reason, sizeof t->reason, "%s", tr->reason);
}

int vrf_proc_trust_wait_ms(const struct vrf_proc_trust *tr)
{
    int64_t left;

    if (tr->dirfd < 0)
        return -1;
    left = tr->next_check - mono_s();
    return left <= 0 ? 0 : (int)(left * 1000);
}
