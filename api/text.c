/* text.c — client-controlled bytes made safe for JSON strings and log lines; see text.h. */
#include "text.h"

#include <string.h>

size_t api_utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte (no overlongs, no surrogates) */
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

size_t api_utf8_clean(const char *in, size_t len, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (cap == 0) return 0;
    for (size_t i = 0; i < len;) {
        size_t n = api_utf8_seq(s + i, len - i);
        const char *piece = n ? in + i : "\xef\xbf\xbd"; /* U+FFFD for a byte that starts no character */
        size_t pl = n ? n : 3;
        if (o + pl >= cap) break;
        memcpy(out + o, piece, pl);
        o += pl;
        i += n ? n : 1;
    }
    out[o] = '\0';
    return o;
}

size_t api_escape_text(const char *in, size_t len, char *out, size_t cap)
{
    static const char HEX[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (cap == 0) return 0;
    for (size_t i = 0; i < len;) {
        size_t n = api_utf8_seq(s + i, len - i);
        int plain = n > 1 || (n == 1 && s[i] > 0x20 && s[i] < 0x7f && s[i] != '\\' && s[i] != '"');
        if (plain) {
            if (o + n >= cap) break;
            memcpy(out + o, in + i, n);
            o += n;
            i += n;
            continue;
        }
        if (o + 4 >= cap) break;
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = HEX[s[i] >> 4];
        out[o++] = HEX[s[i] & 15];
        i++;
    }
    out[o] = '\0';
    return o;
}
