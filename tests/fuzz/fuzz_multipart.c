/* fuzz_multipart.c — libFuzzer target: Content-Type helpers and multipart/form-data splitting (api/multipart.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

/* Input layout: the Content-Type header value, a '\n', then the body. When the header yields no
 * boundary the body is still split, on a fixed one, so every input reaches mp_parse. */
#define FALLBACK_BOUNDARY "XyZ"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bytes that must lie inside [base, base + len). */
static void check_inside(const void *p, size_t n, const uint8_t *base, size_t len)
{
    const uint8_t *q = p;
    if (!q) {
        if (n) abort();
        return;
    }
    if (q < base || n > len || (size_t)(q - base) > len - n) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ct_len = nl ? (size_t)(nl - data) : size;
    size_t body_len = nl ? size - ct_len - 1 : 0;
    /* Exact-size copies so that ASan sees a read one byte past either. */
    char *ct = malloc(ct_len ? ct_len : 1);
    uint8_t *body = malloc(body_len ? body_len : 1);
    if (!ct || !body) abort();
    memcpy(ct, data, ct_len);
    if (body_len) memcpy(body, nl + 1, body_len);

    /* The front end's routing decisions on the header. */
    (void)mp_media_type_is(ct, ct_len, "multipart/form-data");
    (void)mp_media_type_is(ct, ct_len, "image/");
    (void)mp_media_type_is(ct, ct_len, "application/octet-stream");
    char b[MP_MAX_BOUNDARY + 1];
    size_t blen = 0;
    if (mp_boundary(ct, ct_len, b, &blen) == MP_OK) {
        if (blen < 1 || blen > MP_MAX_BOUNDARY || b[blen] != '\0' || strlen(b) != blen) abort();
    } else {
        memcpy(b, FALLBACK_BOUNDARY, sizeof FALLBACK_BOUNDARY);
        blen = sizeof FALLBACK_BOUNDARY - 1;
    }

    /* The server's limits for --max-images 4 (4 images + 8 form fields, 8 KiB part headers). */
    mp_limits lim = {4 + 8, 8192, 1 << 20};
    mp_part parts[12];
    size_t n = 0;
    char err[256];
    int rc = mp_parse(body, body_len, b, blen, &lim, parts, 12, &n, err, sizeof err);
    if (rc == MP_OK) {
        if (n > 12) abort();
        unsigned sum = 0;
        for (size_t i = 0; i < n; i++) {
            const mp_part *p = &parts[i];
            check_inside(p->data, p->len, body, body_len);
            check_inside(p->name, p->name_len, body, body_len);
            check_inside(p->filename, p->filename_len, body, body_len);
            check_inside(p->content_type, p->content_type_len, body, body_len);
            if (p->len > lim.max_part_bytes) abort();
            for (size_t k = 0; k < p->len; k++) sum += p->data[k];
            (void)mp_media_type_is(p->content_type, p->content_type_len, "text/");
        }
        (void)sum;
    } else if (rc != MP_EINVAL && rc != MP_ETOOMANY && rc != MP_ETOOBIG) {
        abort();
    }
    free(ct);
    free(body);
    return 0;
}
