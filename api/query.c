/* query.c — query-string value parsing with explicit bounds. */
#include "query.h"

#include <stdio.h>

int query_int(const char *s, size_t len, const char *what, int def, int min, int max, int *out,
              char *err, size_t errlen)
{
    if (!s) {
        *out = def;
        return 0;
    }
    long v = 0;
    int ok = len > 0 && len <= 9;
    for (size_t i = 0; ok && i < len; i++) {
        if (s[i] < '0' || s[i] > '9') ok = 0;
        else v = v * 10 + (s[i] - '0');
    }
    if (!ok || v < min || v > max) {
        if (err && errlen) snprintf(err, errlen, "%s must be an integer from %d to %d", what, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}
