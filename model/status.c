/* status.c — error names and the one helper that formats an error message. */
#include "status.h"

#include <stdio.h>

const char *deit_status_name(int status)
{
    switch (status) {
    case DEIT_OK: return "ok";
    case DEIT_EINVAL: return "invalid";
    case DEIT_ETOOBIG: return "too_large";
    case DEIT_EUNSUPPORTED: return "unsupported";
    case DEIT_ENOMEM: return "out_of_memory";
    case DEIT_EIO: return "io";
    default: return "unknown";
    }
}

int deit_fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}
