/* accept.c — a bounded reader of the Accept header's media ranges and their q values. */
#include "accept.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#define MAX_ACCEPT 4096

/* q value of one media range's parameters p[n] ("; q=0.8; x=y"), in thousandths; 1000 if absent,
 * 0 for a malformed q (a range that cannot be read is not wanted). */
static int q_of(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ';')
            continue;
        size_t j = i + 1;
        while (j < n && (p[j] == ' ' || p[j] == '\t'))
            j++;
        if (j + 1 < n && (p[j] == 'q' || p[j] == 'Q') && p[j + 1] == '=') {
            j += 2;
            if (j >= n || (p[j] != '0' && p[j] != '1'))
                return 0;
            int q = (p[j] - '0') * 1000, scale = 100;
            j++;
            if (j < n && p[j] == '.')
                for (j++; j < n && p[j] >= '0' && p[j] <= '9' && scale > 0; j++, scale /= 10)
                    q += (p[j] - '0') * scale;
            return q > 1000 ? 1000 : q;
        }
    }
    return 1000;
}

int api_accepts_html(const char *accept)
{
    if (!accept)
        return 0;
    size_t len = strnlen(accept, MAX_ACCEPT);
    int html = -1, json = -1; /* best q of each, -1: not listed */
    for (size_t s = 0; s < len;) {
        size_t e = s;
        while (e < len && accept[e] != ',')
            e++;
        size_t a = s, b = e;
        while (a < b && (accept[a] == ' ' || accept[a] == '\t'))
            a++;
        size_t t = a;
        while (t < b && accept[t] != ';' && accept[t] != ' ' && accept[t] != '\t')
            t++;
        int q = q_of(accept + t, b - t);
        size_t tl = t - a;
        if ((tl == 9 && strncasecmp(accept + a, "text/html", 9) == 0) ||
            (tl == 21 && strncasecmp(accept + a, "application/xhtml+xml", 21) == 0))
            html = q > html ? q : html;
        else if (tl == 16 && strncasecmp(accept + a, "application/json", 16) == 0)
            json = q > json ? q : json;
        s = e + 1;
    }
    return html > 0 && html >= json;
}
