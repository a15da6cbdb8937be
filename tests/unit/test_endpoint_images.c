/* test_endpoint_images.c — request bodies to encoded images for every protocol (raw, multipart, KServe
 * v2 JSON and binary, TorchServe), Content-Encoding (gzip, zlib and raw deflate, bombs, corrupt and
 * truncated streams), the per-image decode errors, and the text escapers used for logs and messages. */
#include <stdint.h>
#include <zlib.h>

#include "../check.h"
#include "endpoint.h"
#include "status.h"
#include "text.h"

static const char *LABELS[2] = {"a", "b"};
static const api_model M = {"toy", "", "F32", 224, 224, 3, 16, 64, 3, 2, 2, 1, LABELS, NULL, 0.25, {DEIT_RESIZE_SHORTEST_SIDE, 248, 0, 0},
                            "f32", "avx512", "distillation", 4 * 3 * 198 * 198};
static const api_server SV = {API_READY, &M, NULL, 4096, 1, 3, "0", 0};

/* Plans a POST to path with content type ct (and encoding ce), then collects body[len]. */
static int collect(const char *path, const char *ct, const char *ce, const char *ihcl, const void *body, size_t len,
                   api_images *im, char *msg)
{
    route rt;
    route_match(path, strlen(path), &rt);
    api_head hd = {.method = "POST", .path = path, .content_type = ct, .content_encoding = ce,
                   .inference_header_length = ihcl};
    api_plan p;
    api_plan_request(&rt, &hd, &SV, &p);
    if (p.status) return p.status;
    return api_collect_images(&p, &SV, body, len, im, msg, 256);
}

static void test_protocols(void)
{
    api_images im;
    char msg[256];
    CHECK_INT_EQ(collect("/v1/predict", "image/png", NULL, NULL, "PNGDATA", 7, &im, msg), 0);
    CHECK(im.n == 1 && im.lens[0] == 7 && memcmp(im.data[0], "PNGDATA", 7) == 0);
    api_images_free(&im);
    CHECK_INT_EQ(collect("/predictions/toy", NULL, NULL, NULL, "", 0, &im, msg), 400);
    CHECK(strstr(msg, "empty body") != NULL);
    api_images_free(&im);

    const char mp[] = "--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
                      "--B\r\nContent-Disposition: form-data; name=\"i\"; filename=\"x.png\"\r\n\r\nIMG1\r\n"
                      "--B\r\nContent-Disposition: form-data; name=\"j\"\r\nContent-Type: image/jpeg\r\n\r\nIMG22\r\n--B--\r\n";
    CHECK_INT_EQ(collect("/predictions/toy/1", "multipart/form-data; boundary=B", NULL, NULL, mp, sizeof mp - 1, &im, msg), 0);
    CHECK_INT_EQ(im.n, 2); /* the text field is not an image */
    CHECK(im.lens[0] == 4 && memcmp(im.data[0], "IMG1", 4) == 0);
    CHECK(im.lens[1] == 5 && memcmp(im.data[1], "IMG22", 5) == 0);
    api_images_free(&im);
    const char only_text[] = "--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--B--\r\n";
    CHECK_INT_EQ(collect("/v1/predict", "multipart/form-data; boundary=B", NULL, NULL, only_text, sizeof only_text - 1,
                         &im, msg), 400);
    CHECK(strstr(msg, "no file part") != NULL);
    api_images_free(&im);
    char four[512];
    size_t n4 = 0;
    for (int i = 0; i < 4; i++)
        n4 += (size_t)snprintf(four + n4, sizeof four - n4,
                               "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"%d\"\r\n\r\nx\r\n", i);
    n4 += (size_t)snprintf(four + n4, sizeof four - n4, "--B--\r\n");
    CHECK_INT_EQ(collect("/v1/predict", "multipart/form-data; boundary=B", NULL, NULL, four, n4, &im, msg), 413);
    CHECK(strstr(msg, "--max-images") != NULL);
    api_images_free(&im);
    CHECK_INT_EQ(collect("/v1/predict", "multipart/form-data; boundary=B", NULL, NULL, "garbage", 7, &im, msg), 400);
    api_images_free(&im);

    const char v2[] = "{\"id\":\"q\",\"inputs\":[{\"name\":\"image\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"aGk=\"]}],"
                      "\"outputs\":[{\"name\":\"fused_probs\"}]}";
    CHECK_INT_EQ(collect("/v2/models/toy/infer", "application/json", NULL, NULL, v2, sizeof v2 - 1, &im, msg), 0);
    CHECK(im.n == 1 && im.lens[0] == 2 && memcmp(im.data[0], "hi", 2) == 0);
    CHECK_STR_EQ(im.v2.id, "q");
    CHECK_INT_EQ(im.v2.n_outputs, 1);
    api_images_free(&im);
    /* binary extension: JSON header, then one BYTES element (4-byte LE length + bytes) */
    const char hdr[] = "{\"inputs\":[{\"name\":\"image\",\"shape\":[1],\"datatype\":\"BYTES\","
                       "\"parameters\":{\"binary_data_size\":7}}]}";
    uint8_t bin[sizeof hdr - 1 + 7];
    memcpy(bin, hdr, sizeof hdr - 1);
    memcpy(bin + sizeof hdr - 1, "\x03\x00\x00\x00" "abc", 7);
    char hl[16];
    snprintf(hl, sizeof hl, "%zu", sizeof hdr - 1);
    CHECK_INT_EQ(collect("/v2/models/toy/infer", "application/octet-stream", NULL, hl, bin, sizeof bin, &im, msg), 0);
    CHECK(im.n == 1 && im.lens[0] == 3 && memcmp(im.data[0], "abc", 3) == 0);
    api_images_free(&im);
    CHECK_INT_EQ(collect("/v2/models/toy/infer", NULL, NULL, NULL, "{\"inputs\": [", 12, &im, msg), 400);
    CHECK(strstr(msg, "invalid JSON") != NULL);
    api_images_free(&im);
    const char v2_four[] = "{\"inputs\":[{\"name\":\"i\",\"shape\":[4],\"datatype\":\"BYTES\",\"data\":[\"aGk=\",\"aGk=\","
                           "\"aGk=\",\"aGk=\"]}]}";
    CHECK_INT_EQ(collect("/v2/models/toy/infer", NULL, NULL, NULL, v2_four, sizeof v2_four - 1, &im, msg), 413);
    api_images_free(&im);
}

/* Compresses src with zlib's deflate in the given wrapper (windowBits as for deflateInit2). */
static size_t squeeze(const void *src, size_t len, int bits, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    CHECK_INT_EQ(rc, Z_STREAM_END);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return n;
}

static void test_encodings(void)
{
    const char v2[] = "{\"inputs\":[{\"name\":\"image\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"aGk=\"]}]}";
    uint8_t z[4096];
    api_images im;
    char msg[256];
    static const struct { const char *ce; int bits; } ways[] = {
        {"gzip", 16 + MAX_WBITS}, {"x-gzip", 16 + MAX_WBITS}, {"deflate", MAX_WBITS}, {"deflate", -MAX_WBITS}};
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
        size_t n = squeeze(v2, sizeof v2 - 1, ways[w].bits, z, sizeof z);
        CHECK_MSG(collect("/v2/models/toy/infer", "application/json", ways[w].ce, NULL, z, n, &im, msg) == 0,
                  "%s (bits %d): %s", ways[w].ce, ways[w].bits, msg);
        CHECK(im.n == 1 && im.lens[0] == 2 && memcmp(im.data[0], "hi", 2) == 0);
        api_images_free(&im);
        /* truncated stream, trailing garbage, a wrong checksum: refused by the inflater (its
         * message), not by the JSON parser after a partial inflate */
        CHECK_INT_EQ(collect("/v2/models/toy/infer", NULL, ways[w].ce, NULL, z, n / 2, &im, msg), 400);
        CHECK_MSG(strstr(msg, "is not valid") != NULL, "%s truncated: %s", ways[w].ce, msg);
        api_images_free(&im);
        z[n] = 'x';
        CHECK_INT_EQ(collect("/v2/models/toy/infer", NULL, ways[w].ce, NULL, z, n + 1, &im, msg), 400);
        CHECK_MSG(strstr(msg, "data after the end") != NULL, "%s trailing byte: %s", ways[w].ce, msg);
        api_images_free(&im);
        if (ways[w].bits != -MAX_WBITS) { /* raw deflate has no checksum */
            size_t at = ways[w].bits > MAX_WBITS ? n - 5 : n - 1; /* gzip: CRC-32's last byte; zlib: Adler-32's */
            z[at] ^= 0x01;
            CHECK_INT_EQ(collect("/v2/models/toy/infer", NULL, ways[w].ce, NULL, z, n, &im, msg), 400);
            CHECK_MSG(strstr(msg, "is not valid") != NULL, "%s checksum: %s", ways[w].ce, msg);
            api_images_free(&im);
        }
    }
    CHECK_INT_EQ(collect("/v1/predict", NULL, "gzip", NULL, "not gzip at all", 15, &im, msg), 400);
    CHECK(strstr(msg, "not valid gzip") != NULL);
    api_images_free(&im);

    /* over the body limit (4096) once inflated: 413, not a 5000-byte buffer */
    static uint8_t zeros[5000];
    size_t n = squeeze(zeros, sizeof zeros, 16 + MAX_WBITS, z, sizeof z);
    CHECK_INT_EQ(collect("/v1/predict", NULL, "gzip", NULL, z, n, &im, msg), 413);
    CHECK(strstr(msg, "inflates beyond") != NULL);
    api_images_free(&im);
    /* exactly at the limit: accepted */
    n = squeeze(zeros, 4096, 16 + MAX_WBITS, z, sizeof z);
    CHECK_INT_EQ(collect("/v1/predict", NULL, "gzip", NULL, z, n, &im, msg), 0);
    CHECK(im.n == 1 && im.lens[0] == 4096);
    api_images_free(&im);
    /* two gzip members back to back (RFC 1952 2.2): one body, both halves; the bound covers the
     * sum (two members of 3000 zeros: 6000 > 4096) */
    size_t n1 = squeeze(zeros, 2000, 16 + MAX_WBITS, z, sizeof z);
    size_t n2 = squeeze(zeros, 1500, 16 + MAX_WBITS, z + n1, sizeof z - n1);
    CHECK_INT_EQ(collect("/v1/predict", NULL, "gzip", NULL, z, n1 + n2, &im, msg), 0);
    CHECK_MSG(im.n == 1 && im.lens[0] == 3500, "two members: %zu images, %zu bytes", im.n, im.n ? im.lens[0] : 0);
    api_images_free(&im);
    n1 = squeeze(zeros, 3000, 16 + MAX_WBITS, z, sizeof z);
    n2 = squeeze(zeros, 3000, 16 + MAX_WBITS, z + n1, sizeof z - n1);
    CHECK_INT_EQ(collect("/v1/predict", NULL, "gzip", NULL, z, n1 + n2, &im, msg), 413);
    api_images_free(&im);
}

static void test_decode_errors(void)
{
    char msg[256];
    CHECK_INT_EQ(api_decode_error(DEIT_EINVAL, "truncated JPEG", 0, 1, msg, sizeof msg), 400);
    CHECK_STR_EQ(msg, "truncated JPEG");
    CHECK_INT_EQ(api_decode_error(DEIT_EUNSUPPORTED, "unknown format", 1, 3, msg, sizeof msg), 415);
    CHECK_STR_EQ(msg, "image 2: unknown format");
    CHECK_INT_EQ(api_decode_error(DEIT_ETOOBIG, "too many pixels", 0, 2, msg, sizeof msg), 413);
    CHECK_INT_EQ(api_decode_error(DEIT_ENOMEM, "out of memory", 0, 1, msg, sizeof msg), 503);
}

static void test_text(void)
{
    char out[128];
    api_escape_text("/a b\"c\\d\r\n\x01\x7f\xff\xc3\xa9", 15, out, sizeof out);
    CHECK_STR_EQ(out, "/a\\x20b\\x22c\\x5cd\\x0d\\x0a\\x01\\x7f\\xff\xc3\xa9");
    api_escape_text("\xe0\x80\x80\xed\xa0\x80", 6, out, sizeof out); /* overlong NUL, surrogate */
    CHECK_STR_EQ(out, "\\xe0\\x80\\x80\\xed\\xa0\\x80");
    /* characters that split or disguise a line as ASCII's controls do: NEL (U+0085), CSI (U+009B),
     * NBSP, U+2028, RLO (U+202E), ZWSP (U+200B), ideographic space, BOM; CJK and e-acute stay */
    api_escape_text("a\xc2\x85" "b\xc2\x9b\xc2\xa0\xe2\x80\xa8\xe2\x80\xae\xe2\x80\x8b\xe3\x80\x80\xef\xbb\xbf"
                    "\xe4\xb8\xad\xc3\xa9", 28, out, sizeof out);
    CHECK_STR_EQ(out, "a\\xc2\\x85b\\xc2\\x9b\\xc2\\xa0\\xe2\\x80\\xa8\\xe2\\x80\\xae\\xe2\\x80\\x8b\\xe3\\x80\\x80"
                      "\\xef\\xbb\\xbf\xe4\xb8\xad\xc3\xa9");
    api_escape_text("\xe2\x80\xa8", 3, out, 12); /* a character's escapes are never cut in half */
    CHECK_STR_EQ(out, "");
    api_escape_text("abcdef", 6, out, 4); /* truncated to fit, still terminated */
    CHECK_STR_EQ(out, "abc");
    api_escape_text("\n\n", 2, out, 6); /* an escape never cut in half */
    CHECK_STR_EQ(out, "\\x0a");
    CHECK_INT_EQ(api_utf8_clean("ok\xc3\xa9\xf4\x90\x80\x80!", 9, out, sizeof out), 2 + 2 + 4 * 3 + 1);
    CHECK_STR_EQ(out, "ok\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!");
    CHECK_INT_EQ(api_utf8_seq((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
    CHECK_INT_EQ(api_utf8_seq((const unsigned char *)"\xf0\x9f\x98", 3), 0);
    CHECK_INT_EQ(api_utf8_seq((const unsigned char *)"\xc0\xaf", 2), 0);
    CHECK_INT_EQ(api_utf8_seq((const unsigned char *)"\x80", 1), 0);
    CHECK(api_utf8_valid("caf\xc3\xa9", 5) && api_utf8_valid("", 0));
    CHECK(!api_utf8_valid("caf\xe9", 4) && !api_utf8_valid("\xc3\xa9", 1)); /* Latin-1; cut mid-character */
}

int main(void)
{
    test_protocols();
    test_encodings();
    test_decode_errors();
    test_text();
    return check_summary("test_endpoint_images");
}
