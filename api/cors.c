/* cors.c — which origins may call the server from a browser, and what to tell the browser; see cors.h. */
#include "cors.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Longest Access-Control-Request-Headers value echoed back. */
#define MAX_ECHOED_HEADERS 512

/* 1 when entry[len] is scheme://host[:port] with scheme http/https: host letters, digits, '-', '.',
 * or a bracketed IPv6 literal; port 1-5 digits. */
static int origin_well_formed(const char *e, size_t len)
{
    size_t at = len >= 7 && strncmp(e, "http://", 7) == 0 ? 7 : len >= 8 && strncmp(e, "https://", 8) == 0 ? 8 : 0;
    if (!at || at == len) return 0;
    if (e[at] == '[') {
        const char *close = memchr(e + at, ']', len - at);
        if (!close || close == e + at + 1) return 0;
        for (const char *c = e + at + 1; c < close; c++)
            if (!strchr("0123456789abcdefABCDEF:.", *c)) return 0;
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
    }
    return 0;
}

/* len without a default port at its end (":80" after http://, ":443" after https://). */
static size_t without_default_port(const char *s, size_t len)
{
    if (len > 7 && strncasecmp(s, "http://", 7) == 0 && len - 7 > 3 && memcmp(s + len - 3, ":80", 3) == 0)
        return len - 3;
    if (len > 8 && strncasecmp(s, "https://", 8) == 0 && len - 8 > 4 && memcmp(s + len - 4, ":443", 4) == 0)
        return len - 4;
    return len;
}

/* 1 when the entry e[len] and the Origin header name the same origin. A browser serializes an
 * origin with the scheme and host in lowercase and without the scheme's default port (the URL
 * standard), so an entry written "https://App.Example" or "https://app.example:443", which the
 * list check accepts, would otherwise match no browser's Origin at all: scheme and host are
 * compared without case (RFC 6454 5) and a default port counts as none. */
static int same_origin(const char *e, size_t len, const char *origin)
{
    size_t n = without_default_port(e, len), on = without_default_port(origin, strlen(origin));
    return n == on && strncasecmp(e, origin, n) == 0;
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
