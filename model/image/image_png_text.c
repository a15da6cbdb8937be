/* image_png_text.c — Pillow 9.4's bounds on a PNG's text chunks (PngStream.chunk_tEXt, chunk_zTXt,
 * chunk_iTXt): a compressed text that inflates past MAX_TEXT_CHUNK (1 MiB) raises "Decompressed
 * Data Too Large", and text over MAX_TEXT_MEMORY (64 MiB) in all raises "Too much memory used in
 * text chunks". Both refuse the file (ValueError; LOAD_TRUNCATED_IMAGES is off). They also bound
 * what checking costs here: at most 1 MiB inflated per chunk and 64 MiB per file. */
#include "image_internal.h"

#include <string.h>

#include <zlib.h>

#define MAX_TEXT_CHUNK ((size_t)1 << 20)
#define MAX_TEXT_MEMORY ((uint64_t)64 << 20)

/* Python's strict UTF-8 decoder, fed in pieces: counts the characters; `bad` once a byte sequence
 * is one it rejects (overlong, surrogate, over U+10FFFF, truncated). */
typedef struct {
    uint64_t chars;
    unsigned need;    /* continuation bytes still to come */
    uint8_t lo, hi;   /* the range the next continuation byte must be in */
    int bad;
} utf8_count;

static void utf8_feed(utf8_count *u, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && !u->bad; i++) {
        uint8_t c = p[i];
        if (u->need) {
            if (c < u->lo || c > u->hi) {
                u->bad = 1;
                break;
            }
            u->lo = 0x80;
            u->hi = 0xBF;
            u->need--;
            continue;
        }
        u->chars++;
        u->lo = 0x80;
        u->hi = 0xBF;
        if (c < 0x80) continue;
        else if (c >= 0xC2 && c <= 0xDF) u->need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            u->need = 2;
            if (c == 0xE0) u->lo = 0xA0;      /* no overlong forms */
            if (c == 0xED) u->hi = 0x9F;      /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            u->need = 3;
            if (c == 0xF0) u->lo = 0x90;
            if (c == 0xF4) u->hi = 0x8F;      /* nothing past U+10FFFF */
        } else
            u->bad = 1;
    }
}

int image_utf8_valid(const uint8_t *p, size_t n)
{
    utf8_count u = {0};
    utf8_feed(&u, p, n);
    return !u.bad && !u.need;
}

typedef enum { INFLATED, TOO_LARGE, ZLIB_ERROR } inflate_outcome;

/* zlib.decompressobj().decompress(z, MAX_TEXT_CHUNK) and what _safe_zlib_decompress makes of it:
 * TOO_LARGE when the output reached the limit with input left over in a stream not yet ended
 * (unconsumed_tail); ZLIB_ERROR for what raises zlib.error; else the bytes it gave, to *bytes and,
 * when u is not NULL, through u. A stream cut short is no error: it gives what it had. */
static inflate_outcome inflate_text(const uint8_t *z, size_t n, size_t *bytes, utf8_count *u)
{
    uint8_t out[16 * 1024]; /* the text is counted, not kept */
    const size_t SCRATCH = sizeof out;
    z_stream s;
    memset(&s, 0, sizeof s);
    *bytes = 0;
    if (inflateInit(&s) != Z_OK)
        return ZLIB_ERROR; /* out of memory: refuse nothing on its account, count nothing */
    s.next_in = (Bytef *)(uintptr_t)z;
    s.avail_in = (uInt)n; /* n: a chunk's length, under 2^31 */
    int rc = Z_OK;
    while (rc == Z_OK && *bytes < MAX_TEXT_CHUNK) {
        size_t room = MAX_TEXT_CHUNK - *bytes < SCRATCH ? MAX_TEXT_CHUNK - *bytes : SCRATCH;
        s.next_out = out;
        s.avail_out = (uInt)room;
        rc = inflate(&s, Z_SYNC_FLUSH);
        size_t got = room - s.avail_out;
        if (u) utf8_feed(u, out, got);
        *bytes += got;
        if (rc == Z_BUF_ERROR || (rc == Z_OK && !got && !s.avail_in))
            break; /* no input left: a stream cut short */
    }
    int ended = rc == Z_STREAM_END, left = s.avail_in > 0;
    inflateEnd(&s);
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR)
        return ZLIB_ERROR;
    return !ended && left && *bytes >= MAX_TEXT_CHUNK ? TOO_LARGE : INFLATED;
}

/* The text Pillow keeps from a text chunk (type, s[n]), added to *memory; NULL or its refusal. */
const char *image_png_text_problem(const uint8_t *type, const uint8_t *s, uint32_t n, uint64_t *memory)
{
    const uint8_t *nul = memchr(s, 0, n);
    size_t klen = nul ? (size_t)(nul - s) : n;
    const uint8_t *v = nul ? nul + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    uint64_t kept = 0;
    if (!memcmp(type, "tEXt", 4)) {
        if (!klen) return NULL;
        kept = vlen; /* decoded as latin-1: one character a byte */
    } else if (!memcmp(type, "zTXt", 4)) {
        size_t got = 0; /* chunk_problem has refused a compression method other than 0 */
        inflate_outcome o = vlen > 1 ? inflate_text(v + 1, vlen - 1, &got, NULL) : INFLATED;
        if (o == TOO_LARGE) return "Decompressed Data Too Large (a zTXt chunk over 1 MiB)";
        if (!klen) return NULL;
        kept = o == INFLATED ? got : 0; /* zlib.error: kept as b"" */
    } else if (!memcmp(type, "iTXt", 4)) {
        if (!nul || vlen < 2) return NULL;
        uint8_t flag = v[0], method = v[1];
        const uint8_t *lang = v + 2, *end = s + n;
        const uint8_t *lang_end = memchr(lang, 0, (size_t)(end - lang));
        if (!lang_end) return NULL;
        const uint8_t *tk = lang_end + 1, *tk_end = memchr(tk, 0, (size_t)(end - tk));
        if (!tk_end) return NULL;
        const uint8_t *text = tk_end + 1;
        size_t text_len = (size_t)(end - text);
        utf8_count u = {0};
        if (flag) {
            if (method) return NULL;
            size_t got;
            inflate_outcome o = inflate_text(text, text_len, &got, &u);
            if (o == TOO_LARGE) return "Decompressed Data Too Large (an iTXt chunk over 1 MiB)";
            if (o == ZLIB_ERROR) return NULL;
        } else
            utf8_feed(&u, text, text_len);
        /* the keyword as latin-1 always decodes; the language, translated keyword and text as
         * UTF-8 strictly, or the chunk is dropped uncounted */
        if (u.bad || u.need || !image_utf8_valid(lang, (size_t)(lang_end - lang)) ||
            !image_utf8_valid(tk, (size_t)(tk_end - tk)))
            return NULL;
        kept = u.chars;
    } else
        return NULL;
    *memory += kept;
    return *memory > MAX_TEXT_MEMORY ? "Too much memory used in text chunks (over 64 MiB)" : NULL;
}
