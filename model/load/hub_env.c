/* hub_env.c — the hub settings read from the environment, with huggingface_hub's names and defaults. */
#include "hub.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Adds one line to o->env_warnings (the library never prints: model_source_resolve logs them). */
static void warn(hub_options *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(hub_options *o, const char *fmt, ...)
{
    size_t n = strlen(o->env_warnings);
    if (n && n + 1 < sizeof o->env_warnings)
        o->env_warnings[n++] = '\n';
    if (n + 1 >= sizeof o->env_warnings)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->env_warnings + n, sizeof o->env_warnings - n, fmt, ap);
    va_end(ap);
}

/* huggingface_hub's _is_true: "1", "ON", "YES", "TRUE" in any case. */
static int env_true(const char *name)
{
    const char *v = env(name);
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0 || strcasecmp(v, "yes") == 0 ||
                 strcasecmp(v, "true") == 0);
}

/* Seconds from the environment; the default (with a warning) for a malformed or out-of-range value.
 * Under 1 ms is refused rather than rounded: libcurl counts in milliseconds, and 0 there means no
 * limit at all, the opposite of what a tiny timeout asks for. */
static double env_seconds(hub_options *o, const char *name, double def)
{
    const char *v = env(name);
    if (!v)
        return def;
    char *end;
    double x = strtod(v, &end);
    int number = end != v && !*end && !isnan(x);
    if (number && x >= 0.001 && x <= 86400)
        return x;
    warn(o, "%s=\"%.40s\" ignored (%s); using %g s", name, v,
         number && x > 0 && x < 0.001 ? "under 1 ms, the smallest limit libcurl can apply"
                                      : "not a number of seconds from 0.001 to 86400",
         def);
    return def;
}

/* Appends s[n] at out+*len; 0, or -1 when it does not fit in cap (terminator included). */
static int put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (n >= cap - *len)
        return -1;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return 0;
}

/* This user's home in the password database (what Python's expanduser takes without HOME), in buf;
 * NULL when there is none. */
static const char *passwd_home(char *buf, size_t cap)
{
    struct passwd pw, *found = NULL;
    return getpwuid_r(getuid(), &pw, buf, cap, &found) == 0 && found ? found->pw_dir : NULL; /* may be NULL */
}

/* Python's os.path.expanduser then os.path.expandvars, which huggingface_hub applies to HF_HOME,
 * HF_HUB_CACHE and HF_TOKEN_PATH: a path written "~/hf" or "$HOME/hf" (a Kubernetes env entry, a
 * Dockerfile ENV, a systemd unit: nothing there expands them) names the same folder for both.
 * expanduser: a leading "~" or "~user" up to the first '/', by $HOME (set, even empty) or the password
 * database; an unknown user leaves it as written. expandvars: $NAME and ${NAME} (NAME of ASCII
 * letters, digits, '_') by the variable's value, set even empty; unset ones are left as written.
 * 0, or -1 when the result does not fit in cap. */
static int expand_path(const char *in, char *out, size_t cap)
{
    char tmp[PATH_MAX], buf[16384];
    size_t len = 0;
    tmp[0] = out[0] = '\0';
    const char *p = in;
    if (in[0] == '~') {
        size_t i = strcspn(in + 1, "/") + 1;
        const char *home = NULL;
        if (i == 1) {
            home = getenv("HOME");
            if (!home)
                home = passwd_home(buf, sizeof buf);
        } else {
            char user[256];
            struct passwd pw, *found = NULL;
            if (i - 1 < sizeof user) {
                memcpy(user, in + 1, i - 1);
                user[i - 1] = '\0';
                if (getpwnam_r(user, &pw, buf, sizeof buf, &found) == 0 && found)
                    home = found->pw_dir;
            }
        }
        if (home) {
            size_t h = strlen(home);
            while (h > 0 && home[h - 1] == '/')
                h--;
            if (put(tmp, sizeof tmp, &len, home, h) != 0)
                return -1;
            p = in + i;
            if (!*p && len == 0 && put(tmp, sizeof tmp, &len, "/", 1) != 0) /* "~" with HOME "/" */
                return -1;
        }
    }
    if (put(tmp, sizeof tmp, &len, p, strlen(p)) != 0)
        return -1;
    len = 0;
    for (const char *s = tmp; *s;) {
        const char *name = s + 1, *end = NULL, *after = NULL;
        if (s[0] == '$' && s[1] == '{') {
            name = s + 2;
            end = strchr(name, '}');
            after = end ? end + 1 : NULL;
        } else if (s[0] == '$') {
            end = name;
            while (isalnum((unsigned char)*end) || *end == '_')
                end++;
            after = end;
        }
        char var[256];
        const char *val = NULL;
        if (after && end > name && (size_t)(end - name) < sizeof var) {
            memcpy(var, name, (size_t)(end - name));
            var[end - name] = '\0';
            val = getenv(var);
        }
        if (val) {
            if (put(out, cap, &len, val, strlen(val)) != 0)
                return -1;
            s = after;
        } else {
            size_t n = after && s[0] == '$' ? (size_t)(after - s) : 1;
            if (put(out, cap, &len, s, n) != 0)
                return -1;
            s += n;
        }
    }
    return 0;
}

/* A path from the environment, expanded (expand_path) into a buffer; on overflow, says in `why`
 * which variable made it too long. fmt has one %s, for the expanded value. */
static int fit_path(char *out, size_t cap, char *why, size_t whylen, const char *var, const char *fmt,
                    const char *val)
{
    char x[PATH_MAX];
    if (expand_path(val, x, sizeof x) == 0 && snprintf(out, cap, fmt, x) < (int)cap)
        return 0;
    out[0] = '\0';
    snprintf(why, whylen, "%s is too long: the cache path made from it must be shorter than %zu bytes", var, cap);
    return -1;
}

/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface, ~ being $HOME or, as Python's
 * expanduser does without HOME, this user's home in the password database (never a shared place such
 * as /tmp, where anyone could plant the cache). *var: where it came from, for messages. 0, or -1 with
 * the reason in `why`. */
static int hf_home(char *out, size_t cap, const char **var, char *why, size_t whylen)
{
    const char *h = env(*var = "HF_HOME");
    if (h)
        return fit_path(out, cap, why, whylen, *var, "%s", h);
    const char *x = env(*var = "XDG_CACHE_HOME");
    if (x)
        return fit_path(out, cap, why, whylen, *var, "%s/huggingface", x);
    const char *home = env(*var = "HOME");
    if (home)
        return fit_path(out, cap, why, whylen, *var, "%s/.cache/huggingface", home);
    char buf[16384];
    *var = "the home directory in the password database";
    const char *pw_home = passwd_home(buf, sizeof buf);
    if (pw_home && pw_home[0])
        return fit_path(out, cap, why, whylen, *var, "%s/.cache/huggingface", pw_home);
    out[0] = '\0';
    snprintf(why, whylen, "no home directory for the cache (HOME is unset and user %ld has none in the "
                          "password database): set HF_HOME or HF_HUB_CACHE", (long)getuid());
    return -1;
}

/* huggingface_hub's _clean_token: every CR and LF removed, then surrounding whitespace. */
static void clean_token(char *t)
{
    size_t n = 0;
    for (const char *p = t; *p; p++)
        if (*p != '\r' && *p != '\n')
            t[n++] = *p;
    while (n > 0 && isspace((unsigned char)t[n - 1]))
        n--;
    t[n] = '\0';
    size_t lead = strspn(t, " \t\v\f");
    memmove(t, t + lead, n - lead + 1);
}

/* A token goes in a header line as is: anything but printable ASCII without spaces would break or
 * change that line, so such a token is not sent, and the warning says where it came from and why
 * (never the token itself). */
static void check_token(hub_options *o, const char *source)
{
    for (const char *p = o->token; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            warn(o, "%s ignored, no token is sent: after removing line breaks and surrounding whitespace "
                    "it still holds a %s, which cannot go in an HTTP header",
                 source, *p == ' ' || *p == '\t' ? "space" : (unsigned char)*p >= 0x80 ? "non-ASCII byte"
                                                                                       : "control character");
            o->token[0] = '\0';
            return;
        }
}

/* The token file's content (huggingface_hub reads it whole); "" when absent or unreadable (which,
 * unlike absent, is worth a warning). */
static void read_token_file(hub_options *o, const char *path, const char *source)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno != ENOENT)
            warn(o, "%s ignored, no token is sent: %s", source, strerror(errno));
        return;
    }
    size_t n = fread(o->token, 1, sizeof o->token, f);
    fclose(f);
    if (n == sizeof o->token) {
        o->token[0] = '\0';
        warn(o, "%s ignored, no token is sent: longer than %zu bytes", source, sizeof o->token - 1);
        return;
    }
    o->token[n] = '\0';
    if (strlen(o->token) != n) {
        o->token[0] = '\0';
        warn(o, "%s ignored, no token is sent: it holds a NUL byte", source);
        return;
    }
    clean_token(o->token);
    check_token(o, source);
}

/* $HF_TOKEN (else $HUGGING_FACE_HUB_TOKEN), else the token file; one that is empty once cleaned counts
 * as absent, as in huggingface_hub's get_token. home: $HF_HOME as hf_home found it, "" if none. */
static void read_token(hub_options *o, const char *home)
{
    const char *name = "HF_TOKEN", *tok = env(name);
    if (!tok)
        tok = env(name = "HUGGING_FACE_HUB_TOKEN");
    if (tok) {
        if (strlen(tok) >= sizeof o->token) {
            warn(o, "%s ignored, no token is sent: longer than %zu bytes", name, sizeof o->token - 1);
            return;
        }
        snprintf(o->token, sizeof o->token, "%s", tok);
        clean_token(o->token);
        if (o->token[0]) {
            check_token(o, name);
            return;
        }
    }
    char path[PATH_MAX + 8], source[PATH_MAX + 32];
    const char *tp = env("HF_TOKEN_PATH");
    if (tp && strlen(tp) >= sizeof path) {
        warn(o, "HF_TOKEN_PATH ignored, no token is sent: longer than %zu bytes", sizeof path - 1);
        return;
    }
    if (!tp && !home[0])
        return; /* no home: no default token file either */
    char x[PATH_MAX];
    if (tp && expand_path(tp, x, sizeof x) != 0) {
        warn(o, "HF_TOKEN_PATH ignored, no token is sent: longer than %zu bytes once expanded", sizeof x - 1);
        return;
    }
    snprintf(path, sizeof path, tp ? "%s" : "%s/token", tp ? x : home);
    snprintf(source, sizeof source, "the token file %s", path);
    read_token_file(o, path, source);
}

void hub_options_from_env(hub_options *o)
{
    memset(o, 0, sizeof *o);
    const char *ep = env("HF_ENDPOINT");
    /* No scheme would be libcurl's guess, plain http (a token sent in clear text); a cut one another host. */
    if (ep && strncasecmp(ep, "https://", 8) != 0 && strncasecmp(ep, "http://", 7) != 0)
        snprintf(o->endpoint_error, sizeof o->endpoint_error,
                 "HF_ENDPOINT=\"%.64s\" does not start with https:// (or http://)", ep);
    else if (ep && strlen(ep) >= sizeof o->endpoint)
        snprintf(o->endpoint_error, sizeof o->endpoint_error, "HF_ENDPOINT is longer than %zu bytes",
                 sizeof o->endpoint - 1);
    snprintf(o->endpoint, sizeof o->endpoint, "%s", ep && !o->endpoint_error[0] ? ep : HUB_DEFAULT_ENDPOINT);
    size_t n = strlen(o->endpoint);
    while (n > 0 && o->endpoint[n - 1] == '/')
        o->endpoint[--n] = '\0';

    char home[PATH_MAX], why[sizeof o->cache_error];
    const char *home_var;
    int home_rc = hf_home(home, sizeof home, &home_var, why, sizeof why);
    const char *cache = env("HF_HUB_CACHE"), *cache_var = "HF_HUB_CACHE";
    if (!cache)
        cache = env(cache_var = "HUGGINGFACE_HUB_CACHE"); /* the older name huggingface_hub still honours */
    if (cache)
        fit_path(o->cache_dir, sizeof o->cache_dir, o->cache_error, sizeof o->cache_error, cache_var, "%s", cache);
    else if (home_rc != 0)
        snprintf(o->cache_error, sizeof o->cache_error, "%s", why);
    else
        fit_path(o->cache_dir, sizeof o->cache_dir, o->cache_error, sizeof o->cache_error, home_var, "%s/hub", home);

    read_token(o, home_rc == 0 ? home : "");

    /* huggingface_hub: HF_HUB_OFFLINE or, when that is unset or empty, TRANSFORMERS_OFFLINE */
    o->offline = env_true(env("HF_HUB_OFFLINE") ? "HF_HUB_OFFLINE" : "TRANSFORMERS_OFFLINE");
    o->etag_timeout_s = env_seconds(o, "HF_HUB_ETAG_TIMEOUT", 10);
    o->download_timeout_s = env_seconds(o, "HF_HUB_DOWNLOAD_TIMEOUT", 10);
}
