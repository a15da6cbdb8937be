/* status.c — error names and the one helper that formats an error message. */
#include "status.h"

#include <stdio.h>
#include <string.h>

const char *deit_status_name(int status)
{
    switch (status) {
    case DEIT_OK: return "ok";
    case DEIT_EINVAL: return "invalid";
    case DEIT_ETOOBIG: return "too_large";
    case DEIT_EUNSUPPORTED: return "unsupported";
    case DEIT_ENOMEM: return "out_of_memory";
    case DEIT_EIO: return "io";
    case DEIT_ENONFINITE: return "non_finite";
    default: return "unknown";
    }
}

static int is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* Rewrites every control byte of the string in s[cap] as \xHH, in place, truncating at cap - 1.
 * Messages quote names from files and requests (tensor names, config strings, paths): a hub model
 * must not be able to start a new log line or drive the terminal of whoever reads the error.
 * Walks backwards, so each byte is written at or after the place it is read from. */
static void escape_controls(char *s, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s), extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += is_control((unsigned char)s[i]) ? 3 : 0;
    if (!extra)
        return;
    size_t full = n + extra, limit = cap - 1, j = full;
    for (size_t i = n; i-- > 0;) {
        unsigned char c = (unsigned char)s[i];
        char out[4] = {(char)c}; /* the byte itself, or its 4-byte escape */
        size_t k = 1;
        if (is_control(c)) {
            memcpy(out, (char[4]){'\\', 'x', hex[c >> 4], hex[c & 15]}, 4);
            k = 4;
        }
        while (k-- > 0)
            if (--j < limit)
                s[j] = out[k];
    }
    s[full < limit ? full : limit] = '\0';
}

int deit_fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        escape_controls(err, errlen);
    }
    return status;
}
