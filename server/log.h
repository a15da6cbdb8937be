/* log.h — the one writer of the server's log lines on stderr: event lines (start, ready, drain, errors)
 * and one access line per request, as JSON objects built with jansson (--log-format json) or as text
 * whose client-controlled fields are escaped (api/text.h), so no request can add a key, a field or a
 * line. Each line goes out in one write, so lines from different threads never interleave.
 * Thread-safe: the struct is read-only after log_init. */
#ifndef DEIT_SERVER_LOG_H
#define DEIT_SERVER_LOG_H

#include <stddef.h>

typedef struct {
    int json;                  /* 1: JSON lines; 0: text lines */
    int fd;                    /* where lines go (stderr) */
} server_log;

/* format: "json" or "text" (anything else reads as text). */
void log_init(server_log *l, const char *format, int fd);

/* An event: {"event": "<message>"} or "deit-server: <message>". */
void log_event(const server_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One finished request. method and path are as the client sent them (any bytes). */
typedef struct {
    const char *method, *path;
    int status;                /* 0: no answer was sent */
    int images;
    double ms;
    size_t bytes_in, bytes_out;
    const char *end;           /* how the connection ended: "ok", "client_abort", ... */
} log_access_rec;

void log_access(const server_log *l, const log_access_rec *r);

#endif
