/* fuzz_endpoint.c — libFuzzer target: a request body through api_collect_images for every protocol and
 * Content-Encoding (raw, multipart, KServe v2 JSON/binary; identity, gzip, deflate: the inflater's
 * bounds), and the same bytes through the log/message escapers (api/text.h), whose output must be
 * valid UTF-8 with no byte that could end a line or split a field. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *LABELS[3] = {"a", "b", "c"};
static const api_model M = {"m", "", "F32", 224, 224, 3, 16, 64, 3, 2, 3, 1, LABELS, NULL, 0.0, {DEIT_RESIZE_SHORTEST_SIDE, 248, 0, 0}, "f32", "avx512", "distillation", 4 * 3 * 198 * 198};

/* Every image must lie inside the body, the inflated body or the v2 arena. */
static int inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
    return base && p >= base && n <= len && (size_t)(p - base) <= len - n;
}

static void check_escapers(const uint8_t *data, size_t size)
{
    char out[4 * 256 + 1];
    size_t n = size < 256 ? size : 256;
    size_t o = api_escape_text((const char *)data, n, out, sizeof out);
    if (o != strlen(out)) abort();
    for (size_t i = 0; i < o;) {
        unsigned char c = (unsigned char)out[i];
        if (c <= 0x20 || c == 0x7f || c == '"') abort();
        if (c == '\\' && (i + 3 >= o || out[i + 1] != 'x')) abort();
        size_t k = api_utf8_seq((const unsigned char *)out + i, o - i);
        if (k == 0) abort();
        i += k;
    }
    o = api_utf8_clean((const char *)data, n, out, sizeof out);
    if (!api_utf8_valid(out, o)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    check_escapers(data, size);
    /* byte 0: route (bits 0-1), encoding (bits 2-3), v2 binary header length (bit 4) from byte 1 */
    static const char *const paths[] = {"/v1/predict", "/predictions/m/1", "/v2/models/m/infer",
                                        "/v2/models/m/versions/1.0/infer"};
    static const char *const encodings[] = {NULL, "gzip", "deflate", "identity"};
    const char *path = paths[data[0] & 3];
    char ihcl[8];
    snprintf(ihcl, sizeof ihcl, "%u", (unsigned)data[1]);
    api_head hd = {.method = "POST", .path = path,
                   .content_type = (data[0] & 3) < 2 && (data[0] & 32) ? "multipart/form-data; boundary=B" : NULL,
                   .content_encoding = encodings[(data[0] >> 2) & 3],
                   .inference_header_length = (data[0] & 16) ? ihcl : NULL};
    const uint8_t *body = (const uint8_t *)malloc(size - 2 ? size - 2 : 1);
    if (!body) abort();
    memcpy((void *)body, data + 2, size - 2);
    api_server sv = {API_READY, &M, NULL, 65536, 0, 4, "0", 0};
    route rt;
    route_match(path, strlen(path), &rt);
    api_plan p;
    api_plan_request(&rt, &hd, &sv, &p);
    if (p.status == 0) {
        api_images im;
        char msg[API_MSG_MAX];
        int st = api_collect_images(&p, &sv, body, size - 2, &im, msg, sizeof msg);
        if (st == 0) {
            if (im.n == 0 || im.n > sv.max_images) abort();
            for (size_t i = 0; i < im.n; i++) {
                const uint8_t *arena = im.v2.arena;
                if (!inside(im.data[i], im.lens[i], body, size - 2) &&
                    !inside(im.data[i], im.lens[i], im.inflated, sv.max_body) &&
                    !(arena && im.data[i] >= arena)) /* the arena's size is v2.c's business */
                    abort();
            }
        } else if (st != 400 && st != 413 && st != 415 && st != 503) {
            abort();
        }
        api_images_free(&im);
    }
    free((void *)body);
    return 0;
}
