/* images.c — a request body to a list of encoded images, for each protocol (raw, multipart, KServe v2
 * JSON or binary, TorchServe), after undoing its Content-Encoding; see endpoint.h. */
#include "endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "status_map.h"
#include "v2_outputs.h"

/* A multipart part's own header block; larger is a malformed request. */
#define MAX_PART_HEADER_BYTES 8192
/* Form fields allowed beside the images before a multipart body counts as hostile. */
#define EXTRA_FORM_PARTS 8

static int alloc_list(api_images *im, size_t n, char *msg, size_t msglen)
{
    im->data = malloc((n ? n : 1) * sizeof *im->data);
    im->lens = malloc((n ? n : 1) * sizeof *im->lens);
    if (!im->data || !im->lens) return deit_fail(msg, msglen, 503, "out of memory");
    im->n = n;
    return 0;
}

static int from_v2(const api_plan *p, const api_server *srv, const uint8_t *body, size_t len, api_images *im,
                   char *msg, size_t msglen)
{
    int rc = v2_parse_request(body, len, p->v2_header_len, srv->max_images, &im->v2, msg, msglen);
    if (rc) return api_http_of_v2(rc);
    if (srv->model && (rc = api_v2_outputs_check(srv->model, &im->v2, msg, msglen))) return rc;
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
    if (!parts) return deit_fail(msg, msglen, 503, "out of memory");
    size_t np = 0;
    int rc = mp_parse(body, len, p->boundary, p->boundary_len, &lim, parts, lim.max_parts, &np, msg, msglen);
    if (rc == MP_ETOOMANY)
        deit_fail(msg, msglen, 0, "too many multipart parts (at most %zu images per request, --max-images)", max_images);
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
    if (n == 0) st = deit_fail(msg, msglen, 400, "multipart body has no file part (send the image with -F image=@file)");
    else if (n > max_images)
        st = deit_fail(msg, msglen, 413, "%zu images in one request is over the limit of %zu (--max-images)", n, max_images);
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
        static const api_inflate_names names = {"body", "Content-Encoding"};
        int st = api_inflate(p->encoding, body, len, srv->max_body, &names, &im->inflated, &n, msg, msglen);
        if (st) return st;
        body = im->inflated;
        len = n;
    }
    switch (p->body) {
    case API_BODY_V2: return from_v2(p, srv, body, len, im, msg, msglen);
    case API_BODY_MULTIPART: return from_multipart(p, srv, body, len, im, msg, msglen);
    case API_BODY_RAW:
        if (len == 0) return deit_fail(msg, msglen, 400, "empty body: send the image bytes (or multipart/form-data)");
        if (alloc_list(im, 1, msg, msglen)) return 503;
        im->data[0] = body;
        im->lens[0] = len;
        return 0;
    default:
        return deit_fail(msg, msglen, 400, "this endpoint takes no body");
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
