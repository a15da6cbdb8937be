/* text.h — bytes a client controls (paths, methods, header values) made safe to carry: valid UTF-8
 * for JSON strings (jansson refuses anything else), and an escaped form for text log lines in which
 * no byte can end the line, split a field or pass for a quote. Thread-safe; only api_utf8_dup
 * allocates. */
#ifndef DEIT_API_TEXT_H
#define DEIT_API_TEXT_H

#include <stddef.h>

/* Length of the well-formed UTF-8 character at s[0..len) (1-4), or 0 when s[0] starts none
 * (stray continuation byte, overlong form, surrogate, beyond U+10FFFF, truncated). len >= 1. */
size_t api_utf8_seq(const unsigned char *s, size_t len);

/* 1 when s[len] is well-formed UTF-8 throughout (what a JSON string may hold). */
int api_utf8_valid(const char *s, size_t len);

/* Copies in[len] to out[cap] (NUL-terminated, truncated on a character boundary to fit), replacing
 * each byte that starts no UTF-8 character with U+FFFD. Returns the bytes written before the NUL. */
size_t api_utf8_clean(const char *in, size_t len, char *out, size_t cap);

/* api_utf8_clean of the whole string s into a malloc'd copy (never truncated: every byte fits as
 * itself or as U+FFFD); NULL when out of memory. */
char *api_utf8_dup(const char *s);

/* Copies in[len] to out[cap] for a space-separated text line: control characters, space, DEL, '"',
 * '\\' and invalid UTF-8 become \xHH, and so does each byte of a Unicode character that could split
 * or disguise the line the same way (C1 controls, Unicode spaces and separators, zero-width and
 * bidirectional controls); other multi-byte characters stay. NUL-terminated, truncated to fit.
 * Returns the bytes written before the NUL. */
size_t api_escape_text(const char *in, size_t len, char *out, size_t cap);

#endif
