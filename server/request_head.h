/* request_head.h — the request line and the framing headers, read before a request is routed. */
#ifndef DEIT_SERVER_REQUEST_HEAD_H
#define DEIT_SERVER_REQUEST_HEAD_H

#include <microhttpd.h>

/* The path of an absolute-form request target ("http://host:port/healthz", RFC 9112 3.2.2), else
 * url itself. */
const char *request_origin_form(const char *url);

/* Why the request's body cannot be framed without guessing (two Content-Lengths, a
 * Transfer-Encoding other than one "chunked", or both headers), or NULL. */
const char *request_framing_problem(struct MHD_Connection *conn);

/* 1 when the request has neither Content-Length nor Transfer-Encoding: it carries no body (RFC 9112
 * 6.3), and whatever the client sends after its head is not one. */
int request_body_unframed(struct MHD_Connection *conn);

#endif
