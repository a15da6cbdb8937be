/* test_accept.c — GET / content negotiation: browsers get the page, JSON clients keep JSON. */
#include "../check.h"
#include "accept.h"

int main(void)
{
    /* Chromium's and Firefox's navigation headers */
    CHECK(api_accepts_html("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
                           "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"));
    CHECK(api_accepts_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
    CHECK(api_accepts_html("TEXT/HTML"));
    CHECK(api_accepts_html("application/xhtml+xml"));
    CHECK(api_accepts_html("text/html;q=0.5, application/json;q=0.5"));
    /* JSON clients: absent, wildcards (curl, fetch, python http.client, libcurl), explicit JSON */
    CHECK(!api_accepts_html(NULL));
    CHECK(!api_accepts_html(""));
    CHECK(!api_accepts_html("*/*"));
    CHECK(!api_accepts_html("text/*"));
    CHECK(!api_accepts_html("application/json"));
    CHECK(!api_accepts_html("application/json, text/html;q=0.9"));
    CHECK(!api_accepts_html("text/html;q=0"));
    CHECK(!api_accepts_html("text/html;q=0.000"));
    CHECK(!api_accepts_html("text/htmlx"));
    CHECK(!api_accepts_html("text/html;q=abc"));
    CHECK(api_accepts_html("  text/html ;  q=1.0 "));
    /* hostile lengths and bytes: bounded, no crash */
    static char big[20000];
    memset(big, ',', sizeof big - 1);
    CHECK(!api_accepts_html(big));
    memcpy(big + 5000, "text/html", 9); /* past the 4096-byte window */
    CHECK(!api_accepts_html(big));
    memcpy(big + 100, "text/html;q=1.", 14);
    CHECK(api_accepts_html(big));
    CHECK(!api_accepts_html(";;;;q=,,,=;"));
    return check_summary("test_accept");
}
