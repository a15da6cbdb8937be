/* test_cors.c — api_cors_list_check (what --cors-origin accepts) and api_cors_decide (preflights and
 * the headers of other answers: off, "*", a list; echoed request headers). */
#include <string.h>

#include "../check.h"
#include "cors.h"

static route rt_of(const char *path)
{
    route rt;
    route_match(path, strlen(path), &rt);
    return rt;
}

static void test_list_check(void)
{
    char msg[256];
    static const char *const good[] = {"", "*", "http://localhost:3000", "https://app.example",
                                       "http://localhost:3000, https://app.example", "http://[::1]:8080",
                                       "https://a-b.c.example:443,http://127.0.0.1", "http://a.example:0",
                                       "http://a.example:65535", "http://10.0.0.255:8080", "http://1.example",
                                       "http://a1.example.123a", "http://0xfg.example", "http://[::ffff:127.0.0.1]:80"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_MSG(api_cors_list_check(good[i], msg, sizeof msg) == 0, "\"%s\": %s", good[i], msg);
    static const char *const bad[] = {"localhost:3000", "http://", "http://a.example/", "http://a.example/app",
                                      "ftp://a.example", "*,http://a.example", "http://a.example:", "http://a.example:123456",
                                      "http://a b.example", "http://[::1", "http://a.example,,http://b.example",
                                      "http://[:::]", "http://[1::2::3]", "http://[fe80::1%eth0]", "http://[12345::1]",
                                      /* what a browser never sends: ports and IPv4 hosts it writes otherwise */
                                      "http://a.example:080", "https://a.example:0443", "http://a.example:08080",
                                      "http://a.example:65536", "http://a.example:99999", "http://a.example:00",
                                      "http://127.1", "http://127.0.0.01:3000", "http://0x7f.0.0.1", "http://127.0.0.1.",
                                      "http://256.0.0.1", "http://a.example.1", "http://a.example.0x1F", "http://a.0x",
                                      "http://1.2.3.4.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(api_cors_list_check(bad[i], msg, sizeof msg) == -1, "\"%s\" accepted", bad[i]);
        CHECK(strncmp(msg, "--cors-origin: ", 15) == 0);
    }
    CHECK(api_cors_list_check("http://a.example, http://127.1:3000", msg, sizeof msg) == -1);
    CHECK_MSG(strstr(msg, "\"http://127.1:3000\" would match no browser's Origin: ") && strstr(msg, "127.0.0.1"), "%s", msg);
    CHECK(api_cors_list_check("http://a.example:08080", msg, sizeof msg) == -1);
    CHECK_MSG(strstr(msg, "would match no browser's Origin: ") && strstr(msg, "leading zeros"), "%s", msg);
}

static void test_decide(void)
{
    route predict = rt_of("/v1/predict"), infer = rt_of("/v2/models/m/infer"), none = rt_of("/nope");
    const char *list = "http://localhost:3000, https://app.example";
    api_cors c;
    /* off: nothing, Origin or not */
    api_cors_decide("", "http://localhost:3000", "OPTIONS", "POST", NULL, &predict, &c);
    CHECK(!c.preflight && !c.allow_origin && !c.vary_origin);
    api_cors_decide("", NULL, "GET", NULL, NULL, &predict, &c);
    CHECK(!c.preflight && !c.allow_origin && !c.vary_origin);
    /* no Origin (a navigation, curl): what a cache needs so that it never hands this answer to a
     * page's fetch without the CORS headers (Fetch, "CORS protocol and HTTP caches"): Vary: Origin
     * under a list; Access-Control-Allow-Origin "*" under "*", which varies with nothing */
    api_cors_decide(list, NULL, "POST", NULL, NULL, &predict, &c);
    CHECK_MSG(!c.preflight && !c.allow_origin && c.vary_origin, "list, no Origin: vary %d", c.vary_origin);
    api_cors_decide("*", NULL, "GET", NULL, NULL, &predict, &c);
    CHECK_MSG(!c.preflight && c.allow_origin && strcmp(c.allow_origin, "*") == 0 && !c.vary_origin,
              "\"*\", no Origin: allow_origin %s", c.allow_origin ? c.allow_origin : "(none)");
    /* a listed origin: its preflight 204 with the route's methods and the asked headers echoed */
    api_cors_decide(list, "https://app.example", "OPTIONS", "POST", "authorization, content-type", &infer, &c);
    CHECK(c.preflight && c.status == 204 && c.vary_origin);
    CHECK_STR_EQ(c.allow_origin, "https://app.example");
    CHECK_STR_EQ(c.allow_methods, "POST");
    CHECK_STR_EQ(c.allow_headers, "authorization, content-type");
    /* asked headers that are not a plain list of names: the fixed list instead */
    api_cors_decide(list, "https://app.example", "OPTIONS", "POST", "x-a\r\nx-b", &infer, &c);
    CHECK_STR_EQ(c.allow_headers, API_CORS_HEADERS);
    api_cors_decide(list, "https://app.example", "OPTIONS", "POST", NULL, &infer, &c);
    CHECK_STR_EQ(c.allow_headers, API_CORS_HEADERS);
    /* the answer to the request itself */
    api_cors_decide(list, "http://localhost:3000", "POST", NULL, NULL, &predict, &c);
    CHECK(!c.preflight && c.vary_origin);
    CHECK_STR_EQ(c.allow_origin, "http://localhost:3000");
    /* an origin not listed (prefixes and other ports do not count): preflight 403, no Allow-Origin,
     * but Vary (a cache must not reuse one origin's answer for another) */
    static const char *const others[] = {"http://localhost:30000", "http://localhost", "https://app.example.evil",
                                         "http://app.example", "null"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        api_cors_decide(list, others[i], "OPTIONS", "POST", NULL, &predict, &c);
        CHECK_MSG(c.preflight && c.status == 403 && !c.allow_origin && c.vary_origin, "%s", others[i]);
        api_cors_decide(list, others[i], "POST", NULL, NULL, &predict, &c);
        CHECK_MSG(!c.preflight && !c.allow_origin && c.vary_origin, "%s", others[i]);
    }
    /* entries as people write them: a browser sends scheme and host in lowercase and no default
     * port, so case and a default port do not keep an entry from matching (the Origin itself is
     * echoed); another port or scheme still does */
    const char *written = "https://App.Example, http://b.example:80, https://c.example:443, https://d.example:8443";
    static const char *const same[] = {"https://app.example", "http://b.example", "https://c.example",
                                       "https://d.example:8443", "https://c.example:443"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        api_cors_decide(written, same[i], "OPTIONS", "POST", NULL, &predict, &c);
        CHECK_MSG(c.preflight && c.status == 204 && c.allow_origin && strcmp(c.allow_origin, same[i]) == 0,
                  "%s under \"%s\": %d", same[i], written, c.status);
    }
    static const char *const differ[] = {"https://d.example", "http://c.example", "https://b.example",
                                         "https://c.example:4430", "https://app.example:8080", "http://app.example",
                                         "https://app.example:", "https://c.example:"};
    for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++) {
        api_cors_decide(written, differ[i], "OPTIONS", "POST", NULL, &predict, &c);
        CHECK_MSG(c.preflight && c.status == 403 && !c.allow_origin, "%s under \"%s\": %d", differ[i], written, c.status);
    }
    /* IPv6 literals are compared as addresses: a browser sends the shortest form (the URL standard
     * serializes [0:0::1] as [::1] and [::FFFF:192.0.2.1] as [::ffff:c000:201]) */
    const char *v6 = "http://[0:0:0:0::1]:8080, https://[2001:DB8::0001], http://[::ffff:192.0.2.1]";
    static const char *const v6_same[] = {"http://[::1]:8080", "https://[2001:db8::1]", "https://[2001:db8::1]:443",
                                          "http://[::ffff:c000:201]"};
    for (size_t i = 0; i < sizeof v6_same / sizeof v6_same[0]; i++) {
        api_cors_decide(v6, v6_same[i], "OPTIONS", "POST", NULL, &predict, &c);
        CHECK_MSG(c.preflight && c.status == 204 && c.allow_origin && strcmp(c.allow_origin, v6_same[i]) == 0,
                  "%s under \"%s\": %d", v6_same[i], v6, c.status);
    }
    static const char *const v6_differ[] = {"http://[::1]", "http://[::1]:8081", "https://[::1]:8080", "http://[::2]:8080",
                                            "http://[::1:8080", "http://[::1]]:8080", "http://[]:8080", "null",
                                            "http://[2001:db8::1]", "http://0:0:0:0::1:8080", "http://[::ffff:c000:202]",
                                            "https://[2001:db8::1]:"};
    for (size_t i = 0; i < sizeof v6_differ / sizeof v6_differ[0]; i++) {
        api_cors_decide(v6, v6_differ[i], "OPTIONS", "POST", NULL, &predict, &c);
        CHECK_MSG(c.preflight && c.status == 403 && !c.allow_origin, "%s under \"%s\": %d", v6_differ[i], v6, c.status);
    }
    /* "*": any origin, answered "*", no Vary */
    api_cors_decide("*", "https://anything.example", "OPTIONS", "PUT", NULL, &predict, &c);
    CHECK(c.preflight && c.status == 204 && !c.vary_origin);
    CHECK_STR_EQ(c.allow_origin, "*");
    /* OPTIONS without Access-Control-Request-Method is no preflight; a preflight for no endpoint is
     * left to the 404 every request for it gets */
    api_cors_decide("*", "https://a.example", "OPTIONS", NULL, NULL, &predict, &c);
    CHECK(!c.preflight);
    api_cors_decide("*", "https://a.example", "OPTIONS", "POST", NULL, &none, &c);
    CHECK(!c.preflight && !c.allow_origin);
}

int main(void)
{
    test_list_check();
    test_decide();
    return check_summary("test_cors");
}
