/* multipart.c — multipart/form-data splitting and Content-Type helpers; see multipart.h. */
#define _GNU_SOURCE /* memmem */
#include "multipart.h"

#include "status.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>


static int is_ws(char c) { return c == ' ' || c == '\t'; }

/* Trims spaces and tabs on both sides of s[*len]; returns the new start. */
static const char *trim(const char *s, size_t *len)
{
    size_t n = *len;
    while (n && is_ws(*s)) { s++; n--; }
    while (n && is_ws(s[n - 1])) n--;
    *len = n;
    return s;
}

int mp_media_type_is(const char *ct, size_t ct_len, const char *type)
{
    if (!ct) return 0;
    size_t n = 0;
    while (n < ct_len && ct[n] != ';') n++;
    const char *t = trim(ct, &n);
    size_t tl = strlen(type);
    if (tl && type[tl - 1] == '/') return n > tl && strncasecmp(t, type, tl) == 0;
    return n == tl && strncasecmp(t, type, tl) == 0;
}

/* Walks the ';'-separated parameters of a header value s[len] (the first segment, the type or
 * disposition, is skipped) and finds `key` (case-insensitive; NULL: none, only checks the whole
 * value). Quoted values are returned without their quotes; with `escapes`, a backslash escapes the
 * next byte (RFC 9110's quoted-pair, which curl uses for '"' and '\\' in a file name) and is kept
 * as it is; without, a quoted value ends at the next '"'. Returns 1 found, 0 absent, -1 malformed. */
static int scan_params(const char *s, size_t len, const char *key, int escapes, const char **val,
                       size_t *val_len)
{
    size_t i = 0, kl = key ? strlen(key) : 0;
    while (i < len && s[i] != ';') {
        if (s[i] == '"') return -1; /* quotes are not allowed in the type */
        i++;
    }
    while (i < len) {
        i++; /* past ';' */
        while (i < len && is_ws(s[i])) i++;
        size_t k0 = i;
        while (i < len && s[i] != '=' && s[i] != ';') i++;
        size_t k1 = i;
        while (k1 > k0 && is_ws(s[k1 - 1])) k1--;
        if (i >= len || s[i] == ';') { /* a parameter without value: skip it */
            continue;
        }
        i++; /* past '=' */
        while (i < len && is_ws(s[i])) i++;
        const char *v; size_t vl;
        if (i < len && s[i] == '"') {
            size_t v0 = ++i;
            while (i < len && s[i] != '"') {
                if (escapes && s[i] == '\\') i++; /* quoted-pair: skip the escaped byte */
                i++;
            }
            if (i >= len) return -1; /* unterminated quote */
            v = s + v0; vl = i - v0;
            i++; /* closing quote */
            while (i < len && is_ws(s[i])) i++;
            if (i < len && s[i] != ';') return -1;
        } else {
            size_t v0 = i;
            while (i < len && s[i] != ';') i++;
            vl = i - v0;
            v = trim(s + v0, &vl);
        }
        if (key && k1 - k0 == kl && strncasecmp(s + k0, key, kl) == 0) {
            *val = v; *val_len = vl;
            return 1;
        }
    }
    return 0;
}

/* scan_params with the escapes the value was written with: browsers and urllib3 (Python's requests)
 * follow the WHATWG form-data rule, percent-encoding '"' and leaving a backslash alone, so a file
 * named `shirt\` arrives as filename="shirt\", which quoted-pair reading leaves unterminated. A
 * value that does not parse with escapes is read without them, as those clients wrote it. */
static int header_param(const char *s, size_t len, const char *key, const char **val, size_t *val_len)
{
    int escapes = scan_params(s, len, NULL, 1, NULL, NULL) == 0;
    return scan_params(s, len, key, escapes, val, val_len);
}

int mp_media_param(const char *ct, size_t ct_len, const char *key, const char **val, size_t *val_len)
{
    return ct ? header_param(ct, ct_len, key, val, val_len) : 0;
}

int mp_boundary(const char *ct, size_t ct_len, char *out, size_t *out_len)
{
    const char *v; size_t vl;
    if (!ct || header_param(ct, ct_len, "boundary", &v, &vl) != 1) return MP_EINVAL;
    if (vl == 0 || vl > MP_MAX_BOUNDARY) return MP_EINVAL;
    for (size_t i = 0; i < vl; i++)
        if (v[i] == '\r' || v[i] == '\n' || v[i] == '\\' || v[i] == '\0') return MP_EINVAL;
    memcpy(out, v, vl);
    out[vl] = '\0';
    *out_len = vl;
    return MP_OK;
}

/* Reads one part's header block hdr[len] (lines separated by CRLF) into p. */
static int parse_part_headers(const char *hdr, size_t len, mp_part *p, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e + 1 < len && !(hdr[e] == '\r' && hdr[e + 1] == '\n')) e++;
        if (e + 1 >= len) e = len; /* last line */
        const char *line = hdr + i;
        size_t ll = e - i;
        const char *colon = memchr(line, ':', ll);
        if (!colon) return deit_fail(err, errlen, MP_EINVAL, "malformed multipart part header (no ':')");
        size_t nl = (size_t)(colon - line), vl = ll - nl - 1;
        const char *v = trim(colon + 1, &vl);
        if (nl == 19 && strncasecmp(line, "Content-Disposition", 19) == 0) {
            if (!mp_media_type_is(v, vl, "form-data"))
                return deit_fail(err, errlen, MP_EINVAL, "multipart part is not form-data");
            int r = header_param(v, vl, "name", &p->name, &p->name_len);
            if (r < 0) return deit_fail(err, errlen, MP_EINVAL, "malformed Content-Disposition");
            r = header_param(v, vl, "filename", &p->filename, &p->filename_len);
            if (r == 0) r = header_param(v, vl, "filename*", &p->filename, &p->filename_len);
            if (r < 0) return deit_fail(err, errlen, MP_EINVAL, "malformed Content-Disposition");
        } else if (nl == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
            p->content_type = v;
            p->content_type_len = vl;
        }
        i = e + 2;
    }
    return MP_OK;
}

int mp_parse(const uint8_t *body, size_t len, const char *boundary, size_t boundary_len,
             const mp_limits *lim, mp_part *parts, size_t cap, size_t *n_parts, char *err,
             size_t errlen)
{
    *n_parts = 0;
    if (boundary_len == 0 || boundary_len > MP_MAX_BOUNDARY)
        return deit_fail(err, errlen, MP_EINVAL, "invalid multipart boundary");
    /* "\r\n--" + boundary: the delimiter inside the body. */
    char delim[4 + MP_MAX_BOUNDARY];
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, boundary_len);
    const size_t dl = 4 + boundary_len;

    /* The first delimiter may start the body (no preceding CRLF) or follow a preamble. */
    size_t pos;
    if (len >= dl - 2 && memcmp(body, delim + 2, dl - 2) == 0) {
        pos = dl - 2;
    } else {
        const uint8_t *d = memmem(body, len, delim, dl);
        if (!d) return deit_fail(err, errlen, MP_EINVAL, "multipart body has no boundary line");
        pos = (size_t)(d - body) + dl;
    }

    size_t n = 0;
    for (;;) {
        /* after a delimiter: "--" closes, otherwise optional padding then CRLF */
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-') break;
        while (pos < len && is_ws((char)body[pos])) pos++;
        if (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n')
            return deit_fail(err, errlen, MP_EINVAL, "truncated or malformed multipart body");
        pos += 2;
        if (n >= lim->max_parts || n >= cap)
            return deit_fail(err, errlen, MP_ETOOMANY, "too many multipart parts (limit %zu)",
                        lim->max_parts < cap ? lim->max_parts : cap);
        mp_part p;
        memset(&p, 0, sizeof p);

        /* header block: up to the empty line; an empty block starts with CRLF right away */
        size_t content;
        if (len - pos >= 2 && body[pos] == '\r' && body[pos + 1] == '\n') {
            content = pos + 2;
        } else {
            size_t window = len - pos;
            if (window > lim->max_header_bytes + 4) window = lim->max_header_bytes + 4;
            const uint8_t *e = memmem(body + pos, window, "\r\n\r\n", 4);
            if (!e) {
                if (len - pos > lim->max_header_bytes)
                    return deit_fail(err, errlen, MP_EINVAL, "multipart part header too long (limit %zu bytes)",
                                lim->max_header_bytes);
                return deit_fail(err, errlen, MP_EINVAL, "truncated multipart part header");
            }
            size_t hl = (size_t)(e - (body + pos));
            int r = parse_part_headers((const char *)body + pos, hl, &p, err, errlen);
            if (r != MP_OK) return r;
            content = pos + hl + 4;
        }

        const uint8_t *d = memmem(body + content, len - content, delim, dl);
        if (!d) return deit_fail(err, errlen, MP_EINVAL, "truncated multipart body: closing boundary missing");
        p.data = body + content;
        p.len = (size_t)(d - p.data);
        if (p.len > lim->max_part_bytes)
            return deit_fail(err, errlen, MP_ETOOBIG, "multipart part of %zu bytes is over the limit of %zu bytes",
                        p.len, lim->max_part_bytes);
        parts[n++] = p;
        *n_parts = n;
        pos = (size_t)(d - body) + dl;
    }
    return MP_OK;
}
