/* multipart.h — multipart/form-data (RFC 7578) over a complete, size-bounded request body, plus the
 * media-type helpers the HTTP front end needs to route a body (type, boundary parameter).
 *
 * Usage:
 *   char b[MP_MAX_BOUNDARY + 1]; size_t blen;
 *   if (mp_boundary(ct, strlen(ct), b, &blen) != MP_OK) -> 400 "multipart without boundary"
 *   mp_part parts[N]; size_t n;
 *   int rc = mp_parse(body, len, b, blen, &limits, parts, N, &n, err, sizeof err);
 *
 * Every function takes (ptr, len), never assumes a NUL and bounds every read by len. Parts point
 * into the caller's body (no copies): they are valid as long as the body is. Thread-safe.
 */
#ifndef DEIT_API_MULTIPART_H
#define DEIT_API_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define MP_MAX_BOUNDARY 70     /* RFC 2046: 1..70 characters */

typedef enum {
    MP_OK = 0,
    MP_EINVAL = -1,            /* malformed body or header (HTTP 400) */
    MP_ETOOMANY = -2,          /* more parts than allowed (HTTP 413) */
    MP_ETOOBIG = -3            /* a part or a part header over its limit (HTTP 413) */
} mp_status;

typedef struct {
    size_t max_parts;          /* parts of any kind; one more is MP_ETOOMANY */
    size_t max_header_bytes;   /* bytes of one part's header block; more is MP_EINVAL */
    size_t max_part_bytes;     /* bytes of one part's content; more is MP_ETOOBIG */
} mp_limits;

typedef struct {
    const uint8_t *data;       /* content, points into the body */
    size_t len;
    const char *name;          /* Content-Disposition name="…" (unquoted, escapes not undone); may be NULL */
    size_t name_len;
    const char *filename;      /* filename="…"; NULL when absent (a plain form field) */
    size_t filename_len;
    const char *content_type;  /* the part's Content-Type value, trimmed; NULL when absent */
    size_t content_type_len;
} mp_part;

/* Case-insensitive comparison of the media type of a Content-Type value (the part before ';',
 * trimmed) with `type` (e.g. "multipart/form-data"). A type ending in '/' ("image/") matches any
 * subtype. Returns 1 on a match, 0 otherwise (also for ct == NULL). */
int mp_media_type_is(const char *ct, size_t ct_len, const char *type);

/* Finds parameter `key` (case-insensitive) of a Content-Type value ct[ct_len]; its value (quotes
 * removed) in *val, *val_len. Returns 1 found, 0 absent, -1 malformed. */
int mp_media_param(const char *ct, size_t ct_len, const char *key, const char **val, size_t *val_len);

/* Extracts the boundary parameter of a multipart Content-Type (token or quoted-string) into
 * out[MP_MAX_BOUNDARY + 1], NUL-terminated, length in *out_len. MP_EINVAL when it is missing, empty,
 * longer than 70 characters or badly quoted. */
int mp_boundary(const char *ct, size_t ct_len, char *out, size_t *out_len);

/* Splits body[len] on "--boundary" delimiters into at most `cap` parts (and at most
 * lim->max_parts), filling parts[0..*n_parts). Preamble and epilogue are ignored; the closing
 * delimiter "--boundary--" is required. Returns MP_OK or an mp_status with a message in err. */
int mp_parse(const uint8_t *body, size_t len, const char *boundary, size_t boundary_len,
             const mp_limits *lim, mp_part *parts, size_t cap, size_t *n_parts, char *err,
             size_t errlen);

#endif
