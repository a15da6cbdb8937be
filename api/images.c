/* images.c — a request body to a list of encoded images, for each protocol (raw, multipart, KServe v2
 * JSON or binary, TorchServe), after undoing its Content-Encoding; see endpoint.h. */
#include "endpoint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "status_map.h"

/* A multipart part's own header block; larger is a malformed request. */
#define MAX_PART_HEADER_BYTES 8192
/* Form fields allowed beside the images before a multipart body counts as hostile. */
#define EXTRA_FORM_PARTS 8
/* Most bytes one encoded byte may inflate to: real JSON and images compress 2-20x; a bomb 1000x+. */
#define MAX_INFLATE_RATIO 1000

static int say(char *msg, size_t msglen, int status, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int say(char *msg, size_t msglen, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return status;
}

/* Inflates in[len] (gzip, or zlib/raw deflate) into a new buffer of at most `limit` bytes and
 * MAX_INFLATE_RATIO x len. 0, 400 (corrupt), 413 (over a bound) or 503 (out of memory). */
static int inflate_body(api_encoding enc, const uint8_t *in, size_t len, size_t limit, uint8_t **out,
                        size_t *out_len, char *msg, size_t msglen)
{
    const char *name = enc == API_ENC_GZIP ? "gzip" : "deflate";
    size_t bound = len > limit / MAX_INFLATE_RATIO ? limit : len * MAX_INFLATE_RATIO;
    /* deflate: the zlib wrapper as RFC 9110 says, or raw deflate as some clients send it */
    int bits[2] = {enc == API_ENC_GZIP ? 16 + MAX_WBITS : MAX_WBITS, -MAX_WBITS};
    for (int attempt = 0; attempt < (enc == API_ENC_GZIP ? 1 : 2); attempt++) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, bits[attempt]) != Z_OK) return say(msg, msglen, 503, "out of memory inflating the body");
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
            /* a gzip body may hold several members, one after another (RFC 1952 2.2; Python's and
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
            return say(msg, msglen, 413, "%s body inflates beyond %zu bytes (the body limit, or %dx its encoded size)",
                       name, bound, MAX_INFLATE_RATIO);
        }
        if (rc == Z_STREAM_END && used == len) {
            *out = buf;
            *out_len = n;
            return 0;
        }
        free(buf);
        if (rc == Z_MEM_ERROR) return say(msg, msglen, 503, "out of memory inflating the body");
        if (rc == Z_DATA_ERROR && attempt == 0 && enc == API_ENC_DEFLATE) continue; /* try raw deflate */
        if (rc == Z_STREAM_END) return say(msg, msglen, 400, "data after the end of the %s stream", name);
        return say(msg, msglen, 400, "request body is not valid %s (Content-Encoding)", name);
    }
    return say(msg, msglen, 400, "request body is not valid %s (Content-Encoding)", name);
}

static int alloc_list(api_images *im, size_t n, char *msg, size_t msglen)
{
    im->data = malloc((n ? n : 1) * sizeof *im->data);
    im->lens = malloc((n ? n : 1) * sizeof *im->lens);
    if (!im->data || !im->lens) return say(msg, msglen, 503, "out of memory");
    im->n = n;
    return 0;
}

static int from_v2(const api_plan *p, const api_server *srv, const uint8_t *body, size_t len, api_images *im,
                   char *msg, size_t msglen)
{
    int rc = v2_parse_request(body, len, p->v2_header_len, srv->max_images, &im->v2, msg, msglen);
    if (rc) return api_http_of_v2(rc);
    if (alloc_list(im, im->v2.n_images, msg, msglen)) return 503;
    for (size_t i = 0; i < im->n; i++) {
        im->data[i] = im->v2.images[i].data;
        im->lens[i] = im->v2.images[i].len;
    }
    return 0;
}

static int from_multipart(const api_plan *p, const api_server *srv, const uint8_t *body, size_t len,
                          api_images *im, char *msg, size_t msglen)
{
    size_t max_images = srv->max_images;
    mp_limits lim = {max_images + EXTRA_FORM_PARTS, MAX_PART_HEADER_BYTES, srv->max_body};
    mp_part *parts = malloc(lim.max_parts * sizeof *parts);
    if (!parts) return say(msg, msglen, 503, "out of memory");
    size_t np = 0;
    int rc = mp_parse(body, len, p->boundary, p->boundary_len, &lim, parts, lim.max_parts, &np, msg, msglen);
    if (rc == MP_ETOOMANY)
        say(msg, msglen, 0, "too many multipart parts (at most %zu images per request, --max-images)", max_images);
    if (rc != MP_OK) {
        free(parts);
        return api_http_of_mp(rc);
    }
    /* images: parts with a filename or a non-text content type; plain form fields are ignored */
    size_t n = 0;
    for (size_t i = 0; i < np; i++) {
        int text = !parts[i].content_type ||
                   mp_media_type_is(parts[i].content_type, parts[i].content_type_len, "text/");
        if (parts[i].filename || !text) parts[n++] = parts[i];
    }
    int st = 0;
    if (n == 0) st = say(msg, msglen, 400, "multipart body has no file part (send the image with -F image=@file)");
    else if (n > max_images)
        st = say(msg, msglen, 413, "%zu images in one request is over the limit of %zu (--max-images)", n, max_images);
    else if (!(st = alloc_list(im, n, msg, msglen)))
        for (size_t i = 0; i < n; i++) {
            im->data[i] = parts[i].data;
            im->lens[i] = parts[i].len;
        }
    free(parts);
    return st;
}

int api_collect_images(const api_plan *p, const api_server *srv, const uint8_t *body, size_t len,
                       api_images *im, char *msg, size_t msglen)
{
    memset(im, 0, sizeof *im);
    if (!body) body = (const uint8_t *)"";
    if (p->encoding != API_ENC_IDENTITY) {
        size_t n = 0;
        int st = inflate_body(p->encoding, body, len, srv->max_body, &im->inflated, &n, msg, msglen);
        if (st) return st;
        body = im->inflated;
        len = n;
    }
    switch (p->body) {
    case API_BODY_V2: return from_v2(p, srv, body, len, im, msg, msglen);
    case API_BODY_MULTIPART: return from_multipart(p, srv, body, len, im, msg, msglen);
    case API_BODY_RAW:
        if (len == 0) return say(msg, msglen, 400, "empty body: send the image bytes (or multipart/form-data)");
        if (alloc_list(im, 1, msg, msglen)) return 503;
        im->data[0] = body;
        im->lens[0] = len;
        return 0;
    default:
        return say(msg, msglen, 400, "this endpoint takes no body");
    }
}

void api_images_free(api_images *im)
{
    if (!im) return;
    free(im->data);
    free(im->lens);
    free(im->inflated);
    v2_request_free(&im->v2);
    memset(im, 0, sizeof *im);
}

int api_decode_error(int rc, const char *err, size_t i, size_t n, char *msg, size_t msglen)
{
    if (n == 1) snprintf(msg, msglen, "%s", err);
    else snprintf(msg, msglen, "image %zu: %s", i + 1, err);
    return api_http_of_deit(rc);
}
