/* accept.h — content negotiation for GET /: does this Accept header ask for the HTML page? */
#ifndef DEIT_API_ACCEPT_H
#define DEIT_API_ACCEPT_H

/* 1 when accept (NULL: absent) lists text/html (or application/xhtml+xml) with q > 0 and at least
 * the q of application/json, so browsers get the page and JSON clients, curl's and fetch's
 * wildcard included, keep getting JSON. Bounded: looks at the first 4096 bytes only. */
int api_accepts_html(const char *accept);

#endif
