/* test_inflate.c — api_inflate on its own: the caller's names in every message (REST's body and
 * Content-Encoding, gRPC's message and grpc-encoding), both bounds (the limit, and 1000x the encoded
 * size), the zlib and raw forms of deflate, and nothing left allocated on failure. REST's use of it
 * is covered by test_endpoint_images, gRPC's by tests/grpc. */
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "../check.h"
#include "inflate.h"

static const api_inflate_names GRPC = {"message", "grpc-encoding"};

/* in[len] compressed with windowBits `bits` (31 gzip, 15 zlib, -15 raw deflate) into out. */
static size_t squeeze(const void *in, size_t len, int bits, uint8_t *out, size_t cap)
{
    z_stream z = {0};
    deflateInit2(&z, 9, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

static int inflate_it(api_encoding enc, const uint8_t *in, size_t len, size_t limit, size_t *n, char *msg)
{
    uint8_t *out = (uint8_t *)1; /* must come back NULL on failure */
    int st = api_inflate(enc, in, len, limit, &GRPC, &out, n, msg, 256);
    if (st) CHECK(out == NULL && *n == 0);
    free(out);
    return st;
}

int main(void)
{
    static uint8_t zeros[1 << 20], z[4096];
    char msg[256];
    size_t n = 0;
    /* each form of each coding: the bytes back */
    const struct { api_encoding enc; int bits; } forms[] = {{API_ENC_GZIP, 31}, {API_ENC_DEFLATE, 15}, {API_ENC_DEFLATE, -15}};
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        size_t zn = squeeze(zeros, 3000, forms[f].bits, z, sizeof z);
        CHECK_MSG(inflate_it(forms[f].enc, z, zn, 1 << 20, &n, msg) == 0 && n == 3000, "bits %d: %s", forms[f].bits, msg);
    }
    /* the limit: exactly at it accepted, one byte over refused, naming the caller's words */
    size_t zn = squeeze(zeros, 4096, 31, z, sizeof z);
    CHECK_INT_EQ(inflate_it(API_ENC_GZIP, z, zn, 4096, &n, msg), 0);
    CHECK_INT_EQ(n, 4096);
    CHECK_INT_EQ(inflate_it(API_ENC_GZIP, z, zn, 4095, &n, msg), 413);
    CHECK_STR_EQ(msg, "gzip message inflates beyond 4095 bytes (the message limit, or 1000x its encoded size)");
    /* the ratio: 1 MiB of zeros squeezes to about 1 KB (deflate tops out near 1030:1), 1000x of which is less */
    zn = squeeze(zeros, sizeof zeros, 15, z, sizeof z);
    CHECK(zn * API_INFLATE_RATIO < sizeof zeros);
    CHECK_INT_EQ(inflate_it(API_ENC_DEFLATE, z, zn, 1 << 30, &n, msg), 413);
    CHECK(strstr(msg, "deflate message inflates beyond") == msg);
    /* corrupt, cut short, trailing bytes: 400 with the header's name */
    CHECK_INT_EQ(inflate_it(API_ENC_GZIP, (const uint8_t *)"not gzip", 8, 1 << 20, &n, msg), 400);
    CHECK_STR_EQ(msg, "request message is not valid gzip (grpc-encoding)");
    zn = squeeze("hello hello hello", 17, 31, z, sizeof z);
    CHECK_INT_EQ(inflate_it(API_ENC_GZIP, z, zn - 3, 1 << 20, &n, msg), 400);
    z[zn] = 'x';
    CHECK_INT_EQ(inflate_it(API_ENC_GZIP, z, zn + 1, 1 << 20, &n, msg), 400);
    CHECK_STR_EQ(msg, "data after the end of the gzip stream");
    /* two gzip members in a row: one stream, both parts */
    size_t z2 = squeeze("world", 5, 31, z + zn, sizeof z - zn);
    uint8_t *out = NULL;
    CHECK_INT_EQ(api_inflate(API_ENC_GZIP, z, zn + z2, 1 << 20, &GRPC, &out, &n, msg, sizeof msg), 0);
    CHECK(n == 22 && out && memcmp(out, "hello hello helloworld", 22) == 0);
    free(out);
    /* identity is the caller's mistake, not the client's */
    CHECK_INT_EQ(inflate_it(API_ENC_IDENTITY, z, zn, 1 << 20, &n, msg), 500);
    return check_summary("test_inflate");
}
