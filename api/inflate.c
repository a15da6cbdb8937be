/* inflate.c — a compressed request inflated with bounds; see inflate.h. */
#include "inflate.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "status.h"

int api_inflate(api_encoding enc, const uint8_t *in, size_t len, size_t limit, const api_inflate_names *names,
                uint8_t **out, size_t *out_len, char *msg, size_t msglen)
{
    *out = NULL;
    *out_len = 0;
    if (enc != API_ENC_GZIP && enc != API_ENC_DEFLATE) return deit_fail(msg, msglen, 500, "nothing to inflate");
    const char *name = enc == API_ENC_GZIP ? "gzip" : "deflate", *what = names->what;
    size_t bound = len > limit / API_INFLATE_RATIO ? limit : len * API_INFLATE_RATIO;
    /* deflate: the zlib wrapper as RFC 9110 and gRPC say, or raw deflate as some HTTP clients send it */
    int bits[2] = {enc == API_ENC_GZIP ? 16 + MAX_WBITS : MAX_WBITS, -MAX_WBITS};
    for (int attempt = 0; attempt < (enc == API_ENC_GZIP ? 1 : 2); attempt++) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, bits[attempt]) != Z_OK) return deit_fail(msg, msglen, 503, "out of memory inflating the %s", what);
        /* room for one byte past the bound, so a stream that ends exactly at it is told apart */
        size_t hard = bound + 1, cap = len * 4 < 65536 ? 65536 : len * 4, n = 0;
        if (cap > hard) cap = hard;
        uint8_t *buf = malloc(cap + 1);
        int rc = buf ? Z_OK : Z_MEM_ERROR;
        z.next_in = (Bytef *)in;
        while (rc == Z_OK) {
            if (n == cap) {
                if (cap >= hard) break; /* past the bound with more to come */
                size_t nc = cap * 2 < hard ? cap * 2 : hard;
                uint8_t *nb = realloc(buf, nc + 1);
                if (!nb) { rc = Z_MEM_ERROR; break; }
                buf = nb;
                cap = nc;
            }
            /* zlib counts in uInt: feed and drain in pieces that fit */
            size_t in_left = len - (size_t)((const uint8_t *)z.next_in - in);
            z.avail_in = (uInt)(in_left < (1u << 30) ? in_left : (1u << 30));
            z.next_out = buf + n;
            z.avail_out = (uInt)(cap - n < (1u << 30) ? cap - n : (1u << 30));
            uInt before = z.avail_out;
            rc = inflate(&z, Z_NO_FLUSH);
            n += before - z.avail_out;
            /* a gzip stream may hold several members, one after another (RFC 1952 2.2; Python's and
             * Go's readers take them, and concatenated .gz files are made that way): go on */
            size_t at = (size_t)((const uint8_t *)z.next_in - in);
            if (rc == Z_STREAM_END && enc == API_ENC_GZIP && len - at >= 2 && in[at] == 0x1f && in[at + 1] == 0x8b)
                rc = inflateReset(&z) == Z_OK ? Z_OK : Z_MEM_ERROR;
            if (rc == Z_BUF_ERROR && z.avail_out > 0) break; /* input ended before the stream did */
            if (rc == Z_BUF_ERROR) rc = Z_OK;
        }
        size_t used = (size_t)((const uint8_t *)z.next_in - in);
        inflateEnd(&z);
        if ((rc == Z_OK && n == cap) || (rc == Z_STREAM_END && n > bound)) {
            free(buf);
            return deit_fail(msg, msglen, 413, "%s %s inflates beyond %zu bytes (the %s limit, or %dx its encoded size)",
                       name, what, bound, what, API_INFLATE_RATIO);
        }
        if (rc == Z_STREAM_END && used == len) {
            *out = buf;
            *out_len = n;
            return 0;
        }
        free(buf);
        if (rc == Z_MEM_ERROR) return deit_fail(msg, msglen, 503, "out of memory inflating the %s", what);
        if (rc == Z_DATA_ERROR && attempt == 0 && enc == API_ENC_DEFLATE) continue; /* try raw deflate */
        if (rc == Z_STREAM_END) return deit_fail(msg, msglen, 400, "data after the end of the %s stream", name);
        break;
    }
    return deit_fail(msg, msglen, 400, "request %s is not valid %s (%s)", what, name, names->header);
}
