/* request_head.c — what the request line and framing headers say before routing (request_head.h). */
#include "request_head.h"

#include <string.h>
#include <strings.h>

/* The path of an absolute-form request target ("http://host:port/healthz", RFC 9112 3.2.2: a
 * server must accept it, and a client talking to us as to a proxy sends it), else url itself. */
const char *request_origin_form(const char *url)
{
    const char *rest = strncasecmp(url, "http://", 7) == 0    ? url + 7
                       : strncasecmp(url, "https://", 8) == 0 ? url + 8
                                                              : NULL;
    if (!rest) return url;
    const char *slash = strchr(rest, '/');
    return slash ? slash : "/";
}

/* What the request's framing headers say, counted over every occurrence (libmicrohttpd keeps
 * them all, and looks at only one). */
typedef struct {
    int content_lengths, transfer_encodings, chunked;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->content_lengths++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encodings++;
        f->chunked = value && strcasecmp(value, "chunked") == 0;
    }
    return MHD_YES;
}

/* Why the request's body cannot be framed without guessing (RFC 9112 6.1 and 6.3), or NULL. Two
 * Content-Lengths were taken by libmicrohttpd as one of them, so the bytes a proxy framed by the
 * other counted as a second request; a Transfer-Encoding it does not decode made it read the
 * body until the client closed; with both headers, the size checks saw a Content-Length the body
 * did not follow. Answered 400 at once, the connection closed. */
const char *request_framing_problem(struct MHD_Connection *conn)
{
    framing f = {0, 0, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_lengths > 1) return "more than one Content-Length header";
    if (f.transfer_encodings > 1 || (f.transfer_encodings && !f.chunked))
        return "unsupported Transfer-Encoding: only a single \"chunked\" is accepted";
    if (f.transfer_encodings && f.content_lengths) return "both Content-Length and Transfer-Encoding";
    return NULL;
}

int request_body_unframed(struct MHD_Connection *conn)
{
    framing f = {0, 0, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    return !f.content_lengths && !f.transfer_encodings;
}
