/* cors.c — which origins may call the server from a browser, and what to tell the browser; see cors.h. */
#include "cors.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Longest Access-Control-Request-Headers value echoed back. */
#define MAX_ECHOED_HEADERS 512

/* The 16 bytes of a bracketed IPv6 literal host; 0 when it is none (or not a valid one). */
static int ipv6_bytes(const char *host, size_t len, unsigned char out[16])
{
    char text[INET6_ADDRSTRLEN + 1];
    if (len < 3 || host[0] != '[' || host[len - 1] != ']' || len - 2 >= sizeof text) return 0;
    memcpy(text, host + 1, len - 2);
    text[len - 2] = '\0';
    return inet_pton(AF_INET6, text, out) == 1;
}

/* 1 when entry[len] is scheme://host[:port] with scheme http/https: host letters, digits, '-', '.',
 * or a bracketed IPv6 address; port 1-5 digits. */
static int origin_well_formed(const char *e, size_t len)
{
    size_t at = len >= 7 && strncmp(e, "http://", 7) == 0 ? 7 : len >= 8 && strncmp(e, "https://", 8) == 0 ? 8 : 0;
    if (!at || at == len) return 0;
    if (e[at] == '[') {
        const char *close = memchr(e + at, ']', len - at);
        if (!close || close == e + at + 1) return 0;
        unsigned char addr[16];
        if (!ipv6_bytes(e + at, (size_t)(close - (e + at)) + 1, addr)) return 0;
        at = (size_t)(close - e) + 1;
    } else {
        size_t host = at;
        while (at < len && (e[at] == '-' || e[at] == '.' || (e[at] >= '0' && e[at] <= '9') ||
                            (e[at] >= 'a' && e[at] <= 'z') || (e[at] >= 'A' && e[at] <= 'Z')))
            at++;
        if (at == host) return 0;
    }
    if (at == len) return 1;
    if (e[at] != ':' || at + 1 == len || len - at - 1 > 5) return 0;
    for (size_t i = at + 1; i < len; i++)
        if (e[i] < '0' || e[i] > '9') return 0;
    return 1;
}

/* 1 when the URL standard parses host[n] as an IPv4 address ("ends in a number"): its last label,
 * a trailing dot aside, is decimal digits, or 0x and hex digits. */
static int ends_in_number(const char *h, size_t n)
{
    if (n > 1 && h[n - 1] == '.') n--;
    size_t s = n;
    while (s > 0 && h[s - 1] != '.') s--;
    const char *l = h + s;
    size_t ln = n - s;
    if (ln == 0) return 0;
    int hex = ln >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X');
    for (size_t i = hex ? 2 : 0; i < ln; i++)
        if (!((l[i] >= '0' && l[i] <= '9') || (hex && ((l[i] >= 'a' && l[i] <= 'f') || (l[i] >= 'A' && l[i] <= 'F')))))
            return 0;
    return 1;
}

/* What a browser would write otherwise in a well-formed entry e[len], so that no Origin it sends
 * could match the entry; NULL when nothing. To a browser a host whose last label is a number is an
 * IPv4 address (127.1 and 0x7f.0.0.1 are 127.0.0.1, 010.0.0.1 is 8.0.0.1) and a port is a number;
 * the Origin writes both in decimal without leading zeros (the URL standard's serialization). */
static const char *unlike_a_browser(const char *e, size_t len)
{
    size_t at = strncmp(e, "https://", 8) == 0 ? 8 : 7;
    const char *from = e[at] == '[' ? memchr(e + at, ']', len - at) : e + at;
    const char *colon = memchr(from, ':', len - (size_t)(from - e));
    size_t host_end = colon ? (size_t)(colon - e) : len;
    if (e[at] != '[' && ends_in_number(e + at, host_end - at)) {
        char text[INET_ADDRSTRLEN];
        struct in_addr a;
        size_t n = host_end - at;
        if (n >= sizeof text) return "a browser writes an IPv4 host as four decimal numbers 0-255 (127.0.0.1)";
        memcpy(text, e + at, n);
        text[n] = '\0';
        if (inet_pton(AF_INET, text, &a) != 1)
            return "a browser writes an IPv4 host as four decimal numbers 0-255 without leading zeros "
                   "(127.0.0.1, never 127.1 or 127.0.0.01)";
    }
    if (colon) {
        long port = 0;
        for (const char *c = colon + 1; c < e + len; c++) port = port * 10 + (*c - '0');
        if ((len - host_end > 2 && colon[1] == '0') || port > 65535)
            return "a browser writes a port as a number 0-65535 without leading zeros (8080, never 08080)";
    }
    return NULL;
}

/* The next comma-separated entry of *list without the spaces around it; NULL at the end. */
static const char *next_entry(const char **list, size_t *len)
{
    const char *s = *list;
    if (!*s) return NULL;
    const char *comma = strchr(s, ',');
    const char *end = comma ? comma : s + strlen(s);
    *list = comma ? comma + 1 : end;
    while (s < end && *s == ' ') s++;
    while (end > s && end[-1] == ' ') end--;
    *len = (size_t)(end - s);
    return s;
}

int api_cors_list_check(const char *list, char *msg, size_t msglen)
{
    if (!list || !*list || strcmp(list, "*") == 0) return 0;
    const char *e, *rest = list;
    size_t len;
    while ((e = next_entry(&rest, &len))) {
        if (len == 1 && *e == '*') {
            snprintf(msg, msglen, "--cors-origin: \"*\" stands alone (any origin), not in a list");
            return -1;
        }
        if (!origin_well_formed(e, len)) {
            snprintf(msg, msglen, "--cors-origin: \"%.*s\" is not an origin (scheme://host[:port], http or https, "
                     "no path or trailing slash)", (int)(len > 200 ? 200 : len), e);
            return -1;
        }
        const char *why = unlike_a_browser(e, len);
        if (why) {
            snprintf(msg, msglen, "--cors-origin: \"%.*s\" would match no browser's Origin: %s",
                     (int)(len > 200 ? 200 : len), e, why);
            return -1;
        }
    }
    return 0;
}

/* An origin's parts: scheme (without "://"), host (an IPv6 literal keeps its brackets) and port with
 * its ':' ("" for none or the scheme's default, which a browser leaves out; ":" alone, which no
 * browser sends, stays and so matches no entry). */
typedef struct {
    const char *scheme, *host, *port;
    size_t scheme_len, host_len, port_len;
} origin_parts;

static void split_origin(const char *s, size_t len, origin_parts *o)
{
    size_t at = 0;
    while (at + 3 <= len && memcmp(s + at, "://", 3) != 0) at++;
    o->scheme = s;
    o->scheme_len = at + 3 <= len ? at : len;
    at = at + 3 <= len ? at + 3 : len;
    o->host = s + at;
    const char *close = at < len && s[at] == '[' ? memchr(s + at, ']', len - at) : NULL;
    const char *colon = memchr(close ? close : s + at, ':', len - (size_t)((close ? close : s + at) - s));
    size_t host_end = colon ? (size_t)(colon - s) : len;
    o->host_len = host_end - at;
    o->port = s + host_end;
    o->port_len = len - host_end;
    int http = o->scheme_len == 4 && strncasecmp(s, "http", 4) == 0;
    int https = o->scheme_len == 5 && strncasecmp(s, "https", 5) == 0;
    if ((http && o->port_len == 3 && memcmp(o->port, ":80", 3) == 0) ||
        (https && o->port_len == 4 && memcmp(o->port, ":443", 4) == 0))
        o->port_len = 0;
}

/* 1 when the entry e[len] and the Origin header name the same origin. A browser serializes an
 * origin as the URL standard does: scheme and host in lowercase, no default port, an IPv6 literal
 * in its shortest form ([::1], never [0:0::1]); an entry written otherwise, which the list check
 * accepts, would match no browser's Origin at all. So scheme and host are compared without case
 * (RFC 6454 5), a default port counts as none, and IPv6 literals are compared as addresses. */
static int same_origin(const char *e, size_t len, const char *origin)
{
    origin_parts a, b;
    split_origin(e, len, &a);
    split_origin(origin, strlen(origin), &b);
    if (a.scheme_len != b.scheme_len || strncasecmp(a.scheme, b.scheme, a.scheme_len) != 0) return 0;
    if (a.port_len != b.port_len || memcmp(a.port, b.port, a.port_len) != 0) return 0;
    unsigned char ia[16], ib[16];
    if (ipv6_bytes(a.host, a.host_len, ia)) return ipv6_bytes(b.host, b.host_len, ib) && memcmp(ia, ib, 16) == 0;
    return a.host_len == b.host_len && strncasecmp(a.host, b.host, a.host_len) == 0;
}

static int listed(const char *list, const char *origin)
{
    const char *e, *rest = list;
    size_t len;
    while ((e = next_entry(&rest, &len)))
        if (same_origin(e, len, origin)) return 1;
    return 0;
}

/* 1 when v is a list of header names (token characters, commas, spaces) no longer than we echo. */
static int header_names(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > MAX_ECHOED_HEADERS) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_, ", v[i])) return 0;
    return 1;
}

void api_cors_decide(const char *list, const char *origin, const char *method, const char *request_method,
                     const char *request_headers, const route *rt, api_cors *out)
{
    memset(out, 0, sizeof *out);
    if (!list || !*list) return;
    int any = strcmp(list, "*") == 0;
    /* What a cache may reuse (Fetch, "CORS protocol and HTTP caches"): an answer that depends on
     * Origin says so in every answer, those to requests without Origin (a navigation, curl)
     * included, or a cache (the browser's own, a CDN) stores the answer without CORS headers and
     * hands it to a page's fetch, which the browser then blocks. A list: Vary: Origin always. "*":
     * the same Access-Control-Allow-Origin on every answer, and no Vary. */
    out->vary_origin = !any;
    if (!origin) {
        if (any) out->allow_origin = "*";
        return;
    }
    int allowed = any || listed(list, origin);
    if (method && strcmp(method, "OPTIONS") == 0 && request_method) {
        if (rt->kind == R_NOT_FOUND) return; /* answered 404 as any request for no endpoint */
        out->preflight = 1;
        out->status = allowed ? 204 : 403;
        if (!allowed) return;
        out->allow_methods = rt->allow;
        out->allow_headers = request_headers && header_names(request_headers) ? request_headers : API_CORS_HEADERS;
    }
    if (!allowed) return;
    out->allow_origin = any ? "*" : origin;
}
