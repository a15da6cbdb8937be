/* text.c — client-controlled bytes made safe for JSON strings and log lines; see text.h. */
#include "text.h"

#include <stdint.h>
#include <stdlib.h>
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

char *api_utf8_dup(const char *s)
{
    size_t n = strlen(s), cap = 3 * n + 1; /* a byte becomes at most the 3 bytes of U+FFFD */
    char *out = malloc(cap);
    if (out) api_utf8_clean(s, n, out, cap);
    return out;
}

int api_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t k = api_utf8_seq((const unsigned char *)s + i, len - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

/* The code point of a valid n-byte UTF-8 sequence (api_utf8_seq said so). */
static uint32_t utf8_code_point(const unsigned char *s, size_t n)
{
    uint32_t cp = n == 2 ? s[0] & 0x1f : n == 3 ? s[0] & 0x0f : s[0] & 0x07;
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (s[i] & 0x3f);
    return cp;
}

/* Characters that can forge or hide a log record as ASCII's controls and space can: C1 controls
 * (U+0085 is a line break to Python's splitlines, U+009B a terminal's CSI), every Unicode space,
 * line and paragraph separators, zero-width characters and the bidirectional overrides that make
 * a terminal show text in another order. */
static int deceptive(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0xa0) || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 ||
           cp == 0xfeff;
}

size_t api_escape_text(const char *in, size_t len, char *out, size_t cap)
{
    static const char HEX[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (cap == 0) return 0;
    for (size_t i = 0; i < len;) {
        size_t n = api_utf8_seq(s + i, len - i);
        int plain = n > 1 ? !deceptive(utf8_code_point(s + i, n))
                          : n == 1 && s[i] > 0x20 && s[i] < 0x7f && s[i] != '\\' && s[i] != '"';
        if (plain) {
            if (o + n >= cap) break;
            memcpy(out + o, in + i, n);
            o += n;
            i += n;
            continue;
        }
        /* each byte of the character (or the one byte that starts none) as \xHH */
        size_t bytes = n > 1 ? n : 1;
        if (o + 4 * bytes >= cap) break;
        for (size_t k = 0; k < bytes; k++, i++) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = HEX[s[i] >> 4];
            out[o++] = HEX[s[i] & 15];
        }
    }
    out[o] = '\0';
    return o;
}
