/* fuzz_vrf_parse.c: libFuzzer target for the package parser (check 1).
 * Every input is either rejected with a defined code or accepted; an
 * accepted input must be canonical three ways: libcbor decodes it as one
 * item and re-encodes it byte for byte, and keys/'s encoder rebuilds the
 * exact payload, protected header and message from the parsed fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "keys/keys.h"
#include "pkg/vrf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_canonical(const uint8_t *data, size_t size,
                            const struct vrf_pkg *p)
{
    struct cbor_load_result res;
    cbor_item_t *item;
    unsigned char *out = NULL;
    size_t out_size = 0;
    uint8_t *payload = NULL, *prot = NULL, *msg = NULL;
    size_t payload_len, prot_len, msg_len;

    /* libcbor 0.8 rejects tag 18 itself (PJK/libcbor#307): skip it. */
    if (size < 1 || data[0] != 0xd2)
        abort();
    item = cbor_load(data + 1, size - 1, &res);
    if (item == NULL || res.read != size - 1 ||
        cbor_serialize_alloc(item, &out, &out_size) != size - 1 ||
        memcmp(out, data + 1, size - 1) != 0)
        abort();
    free(out);
    cbor_decref(&item);

    if (keys_pkg_encode_payload(p, &payload, &payload_len) != KEYS_OK ||
        payload_len != p->payload.len ||
        memcmp(payload, p->payload.p, payload_len) != 0)
        abort();
    if (keys_pkg_encode_protected(p->certs, p->n_certs, &prot, &prot_len) !=
            KEYS_OK ||
        prot_len != p->protected_hdr.len ||
        memcmp(prot, p->protected_hdr.p, prot_len) != 0)
        abort();
    if (keys_pkg_encode_sign1(prot, prot_len, payload, payload_len,
                              p->signature.p, p->signature.len, &msg,
                              &msg_len) != KEYS_OK ||
        msg_len != size || memcmp(msg, data, size) != 0)
        abort();
    keys_free(payload);
    keys_free(prot);
    keys_free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vrf_pkg p;
    struct vrf_signer s;
    int ret;

    vrf_pkg_init(&p);
    ret = vrf_pkg_parse(&p, data, size);
    if (vrf_errname(ret) == NULL)
        abort();
    if (ret == VRF_OK) {
        /* Every record's bytes lie inside the input, sizes agree. */
        for (size_t i = 0; i < p.n_records; i++) {
            const struct vrf_record *r = &p.records[i];

            if (r->size == 0 || r->data.len != r->size ||
                (r->kind != VRF_REC_CODE && r->pre.len != r->size) ||
                (r->kind != VRF_REC_REDIRECT &&
                 (r->data.p < data || r->data.p + r->data.len > data + size)))
                abort();
        }
        check_canonical(data, size, &p);
        (void)vrf_pkg_signer(&p, &s);
    } else if (p.fail_offset > size) {
        abort();
    }
    vrf_pkg_free(&p);
    return 0;
}
