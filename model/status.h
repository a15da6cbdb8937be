/* status.h — error codes shared by every engine module, chosen so a server can map them to HTTP. */
#ifndef DEIT_STATUS_H
#define DEIT_STATUS_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    DEIT_OK = 0,
    DEIT_EINVAL = -1,      /* malformed input: bad file, bad JSON, undecodable image (HTTP 400) */
    DEIT_ETOOBIG = -2,     /* input over a configured limit, e.g. pixels (HTTP 413) */
    DEIT_EUNSUPPORTED = -3,/* well-formed but not something we handle, e.g. TIFF, I64 weights (HTTP 415) */
    DEIT_ENOMEM = -4,      /* allocation failed (HTTP 500/503) */
    DEIT_EIO = -5,         /* file could not be opened/read/mapped */
    DEIT_ENONFINITE = -6   /* a forward pass ran and wrote every output, but some logit is NaN or
                            * infinite: the weights overflow float32 on this input (HTTP 500) */
} deit_status;

/* Short constant name of a status ("invalid", "too_large", ...), never NULL. */
const char *deit_status_name(int status);

/* Formats a message into err[errlen] (if err != NULL && errlen > 0) and returns status. Control
 * bytes in the result (from a quoted tensor name, config string or path) are written as \xHH, so
 * no message can carry a newline or a terminal escape into a log. Lets failure paths read
 * `return deit_fail(err, errlen, DEIT_EINVAL, "...", ...);`. */
int deit_fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
