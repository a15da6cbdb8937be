/* log.c — event and access lines, JSON via jansson or escaped text; see log.h. */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "text.h"

/* Longest method and path kept in a line (longer ones are cut on a character boundary). */
#define MAX_FIELD_BYTES 512
#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))

void log_init(server_log *l, const char *format, int fd)
{
    l->json = format && strcmp(format, "json") == 0;
    l->fd = fd;
}

/* Writes the whole line in one write(2) (retried only if cut short), so concurrent lines stay whole. */
static void put_line(const server_log *l, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(l->fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

/* Dumps o with a newline and releases it. */
static void put_json(const server_log *l, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_FLAGS) : NULL;
    json_decref(o);
    if (!s) return;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return;
    }
    line[n] = '\n';
    put_line(l, line, n + 1);
    free(line);
}

void log_event(const server_log *l, const char *fmt, ...)
{
    char msg[1024], clean[3 * sizeof msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l->json) {
        api_utf8_clean(msg, strlen(msg), clean, sizeof clean);
        put_json(l, json_pack("{s:s}", "event", clean));
        return;
    }
    /* events may quote paths and errors: escape them, but keep spaces (the message is the rest of the line) */
    size_t o = 0;
    const char *p = msg;
    clean[0] = '\0';
    while (*p && o + 1 < sizeof clean) {
        size_t seg = strcspn(p, " ");
        o += api_escape_text(p, seg, clean + o, sizeof clean - o);
        p += seg;
        if (*p == ' ' && o + 1 < sizeof clean) {
            clean[o++] = ' ';
            clean[o] = '\0';
            p++;
        }
    }
    char line[sizeof clean + 16];
    int n = snprintf(line, sizeof line, "deit-server: %s\n", clean);
    put_line(l, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void log_access(const server_log *l, const log_access_rec *r)
{
    char ts[40], day[24];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts, sizeof ts, "%s.%03ldZ", day, now.tv_nsec / 1000000);
    const char *method = r->method ? r->method : "", *path = r->path ? r->path : "";
    if (l->json) {
        char m[3 * MAX_FIELD_BYTES], p[3 * MAX_FIELD_BYTES];
        api_utf8_clean(method, strnlen(method, MAX_FIELD_BYTES), m, sizeof m);
        api_utf8_clean(path, strnlen(path, MAX_FIELD_BYTES), p, sizeof p);
        put_json(l, json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:I, s:I, s:s}", "ts", ts, "method", m, "path", p,
                              "status", r->status, "images", r->images, "ms", r->ms, "bytes_in",
                              (json_int_t)r->bytes_in, "bytes_out", (json_int_t)r->bytes_out, "end", r->end));
        return;
    }
    char m[4 * MAX_FIELD_BYTES + 1], p[4 * MAX_FIELD_BYTES + 1];
    api_escape_text(method, strnlen(method, MAX_FIELD_BYTES), m, sizeof m);
    api_escape_text(path, strnlen(path, MAX_FIELD_BYTES), p, sizeof p);
    char line[sizeof m + sizeof p + 200];
    int n = snprintf(line, sizeof line, "%s %s %s %d images=%d ms=%.3f in=%zu out=%zu end=%s\n", ts,
                     *m ? m : "-", *p ? p : "-", r->status, r->images, r->ms, r->bytes_in, r->bytes_out, r->end);
    put_line(l, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
