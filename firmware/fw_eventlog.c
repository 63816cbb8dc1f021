/* fw_eventlog.c: TCG PC Client crypto-agile event log writer, strict
 * parser, SHA-256 replay and the hvpatch tagged payloads. */
#include "firmware/fw_eventlog.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>

#include "lib/lib_err.h"

#define SPECID_SIG "Spec ID Event03" /* 15 chars + NUL = 16 bytes */
#define SPECID_FIXED 28u             /* signature .. numberOfAlgorithms */
#define PCR_EVENT_HDR 32u            /* TCG_PCR_EVENT before its event data */
#define EVENT2_HDR 12u               /* pcrIndex, eventType, digestCount */

/* One row per error code; the messages are part of the contract too
 * (tests and operators match on them). */
static const struct lib_err_row fw_errs[] = {
    LIB_ERR_ROW(FW_OK, "success"),
    LIB_ERR_ROW(FW_ERR_ARG, "invalid argument"),
    LIB_ERR_ROW(FW_ERR_NOMEM, "out of memory"),
    LIB_ERR_ROW(FW_ERR_LOG_TOO_BIG, "event log too large"),
    LIB_ERR_ROW(FW_ERR_TRUNCATED,
                "event log truncated: a record runs past the end"),
    LIB_ERR_ROW(FW_ERR_SPECID, "first record is not a valid Spec ID Event03"),
    LIB_ERR_ROW(FW_ERR_ALG, "unknown, duplicate or missing hash algorithm"),
    LIB_ERR_ROW(FW_ERR_DIGEST_COUNT,
                "record digest count differs from the Spec ID "
                "event"),
    LIB_ERR_ROW(FW_ERR_DIGEST_ALG,
                "record digest algorithm differs from the Spec ID "
                "order"),
    LIB_ERR_ROW(FW_ERR_PCR_INDEX, "PCR index out of range"),
    LIB_ERR_ROW(FW_ERR_EVENT_SIZE, "event data too large"),
    LIB_ERR_ROW(FW_ERR_TOO_MANY, "too many records"),
    LIB_ERR_ROW(FW_ERR_NO_ACTION, "EV_NO_ACTION record with a non-zero digest"),
    LIB_ERR_ROW(FW_ERR_HASH, "hash computation failed"),
    LIB_ERR_ROW(FW_ERR_PAYLOAD, "malformed hvpatch tagged event payload"),
    LIB_ERR_ROW(FW_ERR_EXTEND, "PCR extend failed"),
    LIB_ERR_ROW(FW_ERR_EMPTY, "required measurement input missing"),
};

const char *fw_strerror(int err)
{
    return lib_err_msg(fw_errs, LIB_ERR_COUNT(fw_errs), err);
}

/* ------------------------------------------------------------- helpers */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

size_t fw_alg_digest_size(uint16_t alg)
{
    switch (alg) {
    case FW_ALG_SHA1:
        return 20;
    case FW_ALG_SHA256:
        return 32;
    case FW_ALG_SHA384:
        return 48;
    case FW_ALG_SHA512:
        return 64;
    default:
        return 0;
    }
}

static mbedtls_md_type_t md_type(uint16_t alg)
{
    switch (alg) {
    case FW_ALG_SHA1:
        return MBEDTLS_MD_SHA1;
    case FW_ALG_SHA256:
        return MBEDTLS_MD_SHA256;
    case FW_ALG_SHA384:
        return MBEDTLS_MD_SHA384;
    case FW_ALG_SHA512:
        return MBEDTLS_MD_SHA512;
    default:
        return MBEDTLS_MD_NONE;
    }
}

/* Checks an algorithm list: 1..FW_EVLOG_MAX_ALGS supported algorithms, no
 * duplicates, SHA-256 among them. */
static int check_algs(const uint16_t *algs, size_t nalgs)
{
    int have_sha256 = 0;

    if (nalgs == 0 || nalgs > FW_EVLOG_MAX_ALGS)
        return FW_ERR_ALG;
    for (size_t i = 0; i < nalgs; i++) {
        if (fw_alg_digest_size(algs[i]) == 0)
            return FW_ERR_ALG;
        for (size_t j = 0; j < i; j++)
            if (algs[j] == algs[i])
                return FW_ERR_ALG;
        if (algs[i] == FW_ALG_SHA256)
            have_sha256 = 1;
    }
    return have_sha256 ? 0 : FW_ERR_ALG;
}

int fw_digests_compute(const uint16_t *algs, size_t nalgs, const void *data,
                       size_t len, struct fw_digests *out)
{
    int ret = FW_ERR_ARG;

    if (algs == NULL || out == NULL || (data == NULL && len != 0))
        goto cleanup;
    memset(out, 0, sizeof *out);
    ret = FW_ERR_ALG;
    if (nalgs == 0 || nalgs > FW_EVLOG_MAX_ALGS)
        goto cleanup;
    for (size_t i = 0; i < nalgs; i++) {
        const mbedtls_md_info_t *md =
            mbedtls_md_info_from_type(md_type(algs[i]));
        ret = FW_ERR_ALG;
        if (md == NULL)
            goto cleanup;
        ret = FW_ERR_HASH;
        if (mbedtls_md(md, data, len, out->d[i].bytes) != 0)
            goto cleanup;
        out->d[i].alg = algs[i];
        out->d[i].size = (uint16_t)fw_alg_digest_size(algs[i]);
    }
    out->count = nalgs;
    ret = 0;
cleanup:
    return ret;
}

const uint8_t *fw_digests_sha256(const struct fw_digests *d)
{
    if (d == NULL)
        return NULL;
    for (size_t i = 0; i < d->count && i < FW_EVLOG_MAX_ALGS; i++)
        if (d->d[i].alg == FW_ALG_SHA256)
            return d->d[i].bytes;
    return NULL;
}

/* ------------------------------------------------------------- writer */

static size_t digests_len(const struct fw_evlog *log)
{
    size_t n = 0;
    for (size_t i = 0; i < log->nalgs; i++)
        n += 2 + fw_alg_digest_size(log->algs[i]);
    return n;
}

static int grow(struct fw_evlog *log, size_t need)
{
    if (need > FW_EVLOG_MAX_SIZE || log->len > FW_EVLOG_MAX_SIZE - need)
        return FW_ERR_LOG_TOO_BIG;
    if (log->len + need <= log->cap)
        return 0;
    size_t cap = log->cap ? log->cap : 1024;
    while (cap < log->len + need)
        cap *= 2;
    if (cap > FW_EVLOG_MAX_SIZE)
        cap = FW_EVLOG_MAX_SIZE;
    uint8_t *nb = realloc(log->buf, cap);
    if (nb == NULL)
        return FW_ERR_NOMEM;
    log->buf = nb;
    log->cap = cap;
    return 0;
}

int fw_evlog_init(struct fw_evlog *log, const uint16_t *algs, size_t nalgs)
{
    int ret = FW_ERR_ARG;

    if (log == NULL || algs == NULL)
        return FW_ERR_ARG;
    memset(log, 0, sizeof *log);
    ret = check_algs(algs, nalgs);
    if (ret != 0)
        goto cleanup;
    memcpy(log->algs, algs, nalgs * sizeof algs[0]);
    log->nalgs = nalgs;

    uint32_t dsize = SPECID_FIXED + 4u * (uint32_t)nalgs + 1u;
    ret = grow(log, PCR_EVENT_HDR + dsize);
    if (ret != 0)
        goto cleanup;
    uint8_t *p = log->buf;
    memset(p, 0, PCR_EVENT_HDR + dsize);
    put32(p, 0); /* pcrIndex */
    put32(p + 4, FW_EV_NO_ACTION);
    /* digest[20] stays zero */
    put32(p + 28, dsize);
    p += PCR_EVENT_HDR;
    memcpy(p, SPECID_SIG, sizeof SPECID_SIG); /* includes the NUL */
    put32(p + 16, 0);                         /* platformClass: client */
    p[20] = 0;                                /* specVersionMinor */
    p[21] = 2;                                /* specVersionMajor */
    p[22] = 0;                                /* specErrata */
    p[23] = 2;                                /* uintnSize: UINT64 */
    put32(p + 24, (uint32_t)nalgs);
    p += SPECID_FIXED;
    for (size_t i = 0; i < nalgs; i++, p += 4) {
        put16(p, algs[i]);
        put16(p + 2, (uint16_t)fw_alg_digest_size(algs[i]));
    }
    *p = 0; /* vendorInfoSize */
    log->len = PCR_EVENT_HDR + dsize;
    ret = 0;
cleanup:
    if (ret != 0)
        fw_evlog_free(log);
    return ret;
}

int fw_evlog_load(struct fw_evlog *log, const uint8_t *buf, size_t len)
{
    struct fw_evlog_parsed p;
    int ret = FW_ERR_ARG;

    if (log == NULL)
        return FW_ERR_ARG;
    memset(log, 0, sizeof *log);
    ret = fw_evlog_parse(buf, len, &p);
    if (ret != 0)
        return ret;
    ret = FW_ERR_NOMEM;
    log->buf = malloc(len);
    if (log->buf == NULL)
        goto cleanup;
    memcpy(log->buf, buf, len);
    log->len = log->cap = len;
    memcpy(log->algs, p.algs, sizeof log->algs);
    log->nalgs = p.nalgs;
    log->nevents = p.nevents;
    ret = 0;
cleanup:
    fw_evlog_parsed_free(&p);
    return ret;
}

void fw_evlog_free(struct fw_evlog *log)
{
    if (log == NULL)
        return;
    free(log->buf);
    memset(log, 0, sizeof *log);
}

int fw_evlog_reserve(struct fw_evlog *log, size_t data_len)
{
    if (log == NULL || log->buf == NULL)
        return FW_ERR_ARG;
    if (data_len > FW_EVLOG_MAX_EVENT_DATA)
        return FW_ERR_EVENT_SIZE;
    if (log->nevents >= FW_EVLOG_MAX_EVENTS)
        return FW_ERR_TOO_MANY;
    return grow(log, EVENT2_HDR + digests_len(log) + 4 + data_len);
}

int fw_evlog_append(struct fw_evlog *log, uint32_t pcr, uint32_t type,
                    const struct fw_digests *digests, const void *data,
                    size_t data_len)
{
    int ret = FW_ERR_ARG;

    if (log == NULL || log->buf == NULL || (data == NULL && data_len != 0))
        goto cleanup;
    ret = FW_ERR_PCR_INDEX;
    if (pcr >= FW_PCR_COUNT)
        goto cleanup;
    if (type == FW_EV_NO_ACTION) {
        ret = FW_ERR_ARG;
        if (digests != NULL)
            goto cleanup;
    } else {
        ret = FW_ERR_ARG;
        if (digests == NULL)
            goto cleanup;
        ret = FW_ERR_DIGEST_COUNT;
        if (digests->count != log->nalgs)
            goto cleanup;
        ret = FW_ERR_DIGEST_ALG;
        for (size_t i = 0; i < log->nalgs; i++)
            if (digests->d[i].alg != log->algs[i] ||
                digests->d[i].size != fw_alg_digest_size(log->algs[i]))
                goto cleanup;
    }
    ret = fw_evlog_reserve(log, data_len);
    if (ret != 0)
        goto cleanup;

    uint8_t *p = log->buf + log->len;
    put32(p, pcr);
    put32(p + 4, type);
    put32(p + 8, (uint32_t)log->nalgs);
    p += EVENT2_HDR;
    for (size_t i = 0; i < log->nalgs; i++) {
        size_t sz = fw_alg_digest_size(log->algs[i]);
        put16(p, log->algs[i]);
        if (digests != NULL)
            memcpy(p + 2, digests->d[i].bytes, sz);
        else
            memset(p + 2, 0, sz);
        p += 2 + sz;
    }
    put32(p, (uint32_t)data_len);
    if (data_len != 0)
        memcpy(p + 4, data, data_len);
    p += 4 + data_len;
    log->len = (size_t)(p - log->buf);
    log->nevents++;
    ret = 0;
cleanup:
    return ret;
}

/* ------------------------------------------------------------- parser */

/* Parses the Spec ID event's data (size bytes at d) into out. */
static int parse_specid(const uint8_t *d, uint32_t size,
                        struct fw_evlog_parsed *out)
{
    if (size < SPECID_FIXED)
        return FW_ERR_SPECID;
    if (memcmp(d, SPECID_SIG, sizeof SPECID_SIG) != 0)
        return FW_ERR_SPECID;
    uint32_t platform_class = get32(d + 16);
    if (platform_class > 1) /* 0 client, 1 server */
        return FW_ERR_SPECID;
    if (d[20] != 0 || d[21] != 2) /* spec version 2.0 */
        return FW_ERR_SPECID;
    if (d[23] != 1 && d[23] != 2) /* uintnSize: UINT32 or UINT64 */
        return FW_ERR_SPECID;
    out->uintn_size = d[23];
    uint32_t n = get32(d + 24);
    if (n == 0 || n > FW_EVLOG_MAX_ALGS)
        return FW_ERR_ALG;
    if (size < SPECID_FIXED + 4u * n + 1u)
        return FW_ERR_SPECID;
    const uint8_t *a = d + SPECID_FIXED;
    for (uint32_t i = 0; i < n; i++, a += 4) {
        out->algs[i] = get16(a);
        out->sizes[i] = get16(a + 2);
        if (fw_alg_digest_size(out->algs[i]) != out->sizes[i])
            return FW_ERR_ALG;
    }
    int ret = check_algs(out->algs, n);
    if (ret != 0)
        return ret;
    out->nalgs = n;
    for (uint32_t i = 0; i < n; i++)
        if (out->algs[i] == FW_ALG_SHA256)
            out->sha256_slot = i;
    uint8_t vendor_size = *a;
    /* Exactly the declared size: no bytes after vendorInfo. */
    if (size != SPECID_FIXED + 4u * n + 1u + vendor_size)
        return FW_ERR_SPECID;
    return 0;
}

static int push_event(struct fw_evlog_parsed *out, size_t *cap,
                      const struct fw_event *ev)
{
    if (out->nevents >= FW_EVLOG_MAX_EVENTS)
        return FW_ERR_TOO_MANY;
    if (out->nevents == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        if (ncap > FW_EVLOG_MAX_EVENTS)
            ncap = FW_EVLOG_MAX_EVENTS;
        struct fw_event *ne = realloc(out->events, ncap * sizeof *ne);
        if (ne == NULL)
            return FW_ERR_NOMEM;
        out->events = ne;
        *cap = ncap;
    }
    out->events[out->nevents++] = *ev;
    return 0;
}

int fw_evlog_parse(const uint8_t *buf, size_t len, struct fw_evlog_parsed *out)
{
    int ret = FW_ERR_ARG;
    size_t off = 0, cap = 0, err_off = 0, err_rec = 0;

    if (out == NULL)
        return FW_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (buf == NULL)
        goto cleanup;
    ret = FW_ERR_LOG_TOO_BIG;
    if (len > FW_EVLOG_MAX_SIZE)
        goto cleanup;

    /* 1. The Spec ID event, a TCG_PCR_EVENT (SHA-1 format header). */
    ret = FW_ERR_TRUNCATED;
    if (len < PCR_EVENT_HDR)
        goto cleanup;
    ret = FW_ERR_SPECID;
    if (get32(buf) != 0 || get32(buf + 4) != FW_EV_NO_ACTION)
        goto cleanup;
    for (size_t i = 8; i < 28; i++)
        if (buf[i] != 0)
            goto cleanup;
    uint32_t dsize = get32(buf + 28);
    err_off = 28;
    ret = FW_ERR_TRUNCATED;
    if (dsize > len - PCR_EVENT_HDR)
        goto cleanup;
    err_off = PCR_EVENT_HDR;
    ret = parse_specid(buf + PCR_EVENT_HDR, dsize, out);
    if (ret != 0)
        goto cleanup;
    off = PCR_EVENT_HDR + dsize;

    /* 2. TCG_PCR_EVENT2 records up to exactly the end of the log. */
    while (off < len) {
        struct fw_event ev;
        size_t left = len - off;

        memset(&ev, 0, sizeof ev);
        err_rec = out->nevents + 1;
        err_off = off;
        ret = FW_ERR_TOO_MANY;
        if (out->nevents >= FW_EVLOG_MAX_EVENTS)
            goto cleanup;
        ret = FW_ERR_TRUNCATED;
        if (left < EVENT2_HDR)
            goto cleanup;
        ev.offset = off;
        ev.pcr = get32(buf + off);
        ev.type = get32(buf + off + 4);
        uint32_t count = get32(buf + off + 8);
        ret = FW_ERR_PCR_INDEX;
        if (ev.pcr >= FW_PCR_COUNT)
            goto cleanup;
        err_off = off + 8;
        ret = FW_ERR_DIGEST_COUNT;
        if (count != out->nalgs)
            goto cleanup;
        off += EVENT2_HDR;
        for (size_t i = 0; i < out->nalgs; i++) {
            err_off = off;
            ret = FW_ERR_TRUNCATED;
            if (len - off < 2)
                goto cleanup;
            ret = FW_ERR_DIGEST_ALG;
            if (get16(buf + off) != out->algs[i])
                goto cleanup;
            ret = FW_ERR_TRUNCATED;
            if (len - off - 2 < out->sizes[i])
                goto cleanup;
            ev.digests[i] = buf + off + 2;
            if (ev.type == FW_EV_NO_ACTION) {
                ret = FW_ERR_NO_ACTION;
                for (size_t k = 0; k < out->sizes[i]; k++)
                    if (ev.digests[i][k] != 0)
                        goto cleanup;
            }
            off += 2 + out->sizes[i];
        }
        err_off = off;
        ret = FW_ERR_TRUNCATED;
        if (len - off < 4)
            goto cleanup;
        ev.data_len = get32(buf + off);
        ret = FW_ERR_EVENT_SIZE;
        if (ev.data_len > FW_EVLOG_MAX_EVENT_DATA)
            goto cleanup;
        ret = FW_ERR_TRUNCATED;
        if (len - off - 4 < ev.data_len)
            goto cleanup;
        ev.data = buf + off + 4;
        off += 4 + ev.data_len;
        ret = push_event(out, &cap, &ev);
        if (ret != 0)
            goto cleanup;
    }
    ret = 0;
cleanup:
    if (ret != 0) {
        fw_evlog_parsed_free(out);
        out->err_offset = err_off;
        out->err_record = err_rec;
    }
    return ret;
}

void fw_evlog_parsed_free(struct fw_evlog_parsed *p)
{
    if (p == NULL)
        return;
    free(p->events);
    memset(p, 0, sizeof *p);
}

int fw_evlog_replay_sha256(const struct fw_evlog_parsed *p,
                           uint8_t pcr[FW_PCR_COUNT][FW_SHA256_SIZE],
                           uint32_t *used)
{
    int ret = FW_ERR_ARG;
    uint8_t cat[2 * FW_SHA256_SIZE];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

    if (p == NULL || pcr == NULL || used == NULL || md == NULL)
        goto cleanup;
    memset(pcr, 0, FW_PCR_COUNT * FW_SHA256_SIZE);
    *used = 0;
    for (size_t i = 0; i < p->nevents; i++) {
        const struct fw_event *ev = &p->events[i];
        if (ev->type == FW_EV_NO_ACTION)
            continue;
        memcpy(cat, pcr[ev->pcr], FW_SHA256_SIZE);
        memcpy(cat + FW_SHA256_SIZE, ev->digests[p->sha256_slot],
               FW_SHA256_SIZE);
        ret = FW_ERR_HASH;
        if (mbedtls_md(md, cat, sizeof cat, pcr[ev->pcr]) != 0)
            goto cleanup;
        *used |= 1u << ev->pcr;
    }
    ret = 0;
cleanup:
    return ret;
}

/* ------------------------------------------- hvpatch tagged payloads */

const char *fw_action_name(uint8_t action)
{
    switch (action) {
    case FW_ACT_TEXT_LOCK:
        return "text-lock";
    case FW_ACT_PATCH:
        return "patch";
    case FW_ACT_REVERT:
        return "revert";
    default:
        return "?";
    }
}

static int kind_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static int id_char_ok(char c)
{
    return c > 0x20 && c < 0x7f;
}

int fw_boot_info_encode(const struct fw_boot_info *bi, uint8_t *buf, size_t cap,
                        size_t *len)
{
    if (bi == NULL || buf == NULL || len == NULL)
        return FW_ERR_ARG;
    size_t klen = strnlen(bi->kind, sizeof bi->kind);
    if (klen == 0 || klen > FW_KIND_MAX)
        return FW_ERR_PAYLOAD;
    for (size_t i = 0; i < klen; i++)
        if (!kind_char_ok(bi->kind[i]))
            return FW_ERR_PAYLOAD;
    size_t n = 8 + 2 + klen;
    if (cap < n)
        return FW_ERR_EVENT_SIZE;
    put32(buf, FW_TAG_BOOT_INFO);
    put32(buf + 4, (uint32_t)(2 + klen));
    buf[8] = 1;
    buf[9] = (uint8_t)klen;
    memcpy(buf + 10, bi->kind, klen);
    *len = n;
    return 0;
}

int fw_boot_info_decode(const uint8_t *data, size_t len,
                        struct fw_boot_info *out)
{
    if (data == NULL || out == NULL)
        return FW_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (len < 10 || get32(data) != FW_TAG_BOOT_INFO ||
        get32(data + 4) != len - 8 || data[8] != 1)
        return FW_ERR_PAYLOAD;
    size_t klen = data[9];
    if (klen == 0 || klen > FW_KIND_MAX || len != 10 + klen)
        return FW_ERR_PAYLOAD;
    for (size_t i = 0; i < klen; i++)
        if (!kind_char_ok((char)data[10 + i]))
            return FW_ERR_PAYLOAD;
    memcpy(out->kind, data + 10, klen);
    out->kind[klen] = '\0';
    return 0;
}

int fw_runtime_encode(const struct fw_runtime_rec *r, uint8_t *buf, size_t cap,
                      size_t *len)
{
    if (r == NULL || buf == NULL || len == NULL)
        return FW_ERR_ARG;
    if (r->action < FW_ACT_TEXT_LOCK || r->action > FW_ACT_REVERT)
        return FW_ERR_PAYLOAD;
    size_t idlen = strnlen(r->id, sizeof r->id);
    if (idlen == 0 || idlen > FW_PKG_ID_MAX)
        return FW_ERR_PAYLOAD;
    for (size_t i = 0; i < idlen; i++)
        if (!id_char_ok(r->id[i]))
            return FW_ERR_PAYLOAD;
    size_t body = 12 + FW_SHA256_SIZE + idlen;
    if (cap < 8 + body)
        return FW_ERR_EVENT_SIZE;
    put32(buf, FW_TAG_RUNTIME);
    put32(buf + 4, (uint32_t)body);
    uint8_t *p = buf + 8;
    p[0] = 1;
    p[1] = r->action;
    put16(p + 2, (uint16_t)idlen);
    put64(p + 4, r->sequence);
    memcpy(p + 12, r->digest, FW_SHA256_SIZE);
    memcpy(p + 12 + FW_SHA256_SIZE, r->id, idlen);
    *len = 8 + body;
    return 0;
}

int fw_runtime_decode(const uint8_t *data, size_t len,
                      struct fw_runtime_rec *out)
{
    if (data == NULL || out == NULL)
        return FW_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (len < 8 + 12 + FW_SHA256_SIZE + 1 || get32(data) != FW_TAG_RUNTIME ||
        get32(data + 4) != len - 8)
        return FW_ERR_PAYLOAD;
    const uint8_t *p = data + 8;
    size_t idlen = get16(p + 2);
    if (p[0] != 1 || p[1] < FW_ACT_TEXT_LOCK || p[1] > FW_ACT_REVERT ||
        idlen == 0 || idlen > FW_PKG_ID_MAX ||
        len != 8 + 12 + FW_SHA256_SIZE + idlen)
        return FW_ERR_PAYLOAD;
    const uint8_t *id = p + 12 + FW_SHA256_SIZE;
    for (size_t i = 0; i < idlen; i++)
        if (!id_char_ok((char)id[i]))
            return FW_ERR_PAYLOAD;
    out->action = p[1];
    out->sequence = get64(p + 4);
    memcpy(out->digest, p + 12, FW_SHA256_SIZE);
    memcpy(out->id, id, idlen);
    out->id[idlen] = '\0';
    return 0;
}
