/* hub_env.c — the hub settings read from the environment, with huggingface_hub's names and defaults. */
#include "hub.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* huggingface_hub's _is_true: "1", "ON", "YES", "TRUE" in any case. */
static int env_true(const char *name)
{
    const char *v = env(name);
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0 || strcasecmp(v, "yes") == 0 ||
                 strcasecmp(v, "true") == 0);
}

/* Seconds from the environment; the default for an absent, malformed or out-of-range value. */
static double env_seconds(const char *name, double def)
{
    const char *v = env(name);
    if (!v)
        return def;
    char *end;
    double x = strtod(v, &end);
    return end != v && !*end && x > 0 && x <= 86400 ? x : def;
}

/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
static void hf_home(char *out, size_t cap)
{
    const char *h = env("HF_HOME");
    if (h) {
        snprintf(out, cap, "%s", h);
        return;
    }
    const char *x = env("XDG_CACHE_HOME");
    if (x) {
        snprintf(out, cap, "%s/huggingface", x);
        return;
    }
    const char *home = env("HOME");
    snprintf(out, cap, "%s/.cache/huggingface", home ? home : "/tmp");
}

/* The token file's first line, trimmed; "" when unreadable. */
static void read_token_file(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (!fgets(out, (int)cap, f))
        out[0] = '\0';
    fclose(f);
    size_t n = strlen(out);
    while (n > 0 && isspace((unsigned char)out[n - 1]))
        out[--n] = '\0';
}

/* A token is sent in a header: anything that would break the header line is dropped. */
static void sanitize_token(char *t)
{
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            t[0] = '\0';
            return;
        }
}

void hub_options_from_env(hub_options *o)
{
    memset(o, 0, sizeof *o);
    const char *ep = env("HF_ENDPOINT");
    snprintf(o->endpoint, sizeof o->endpoint, "%s", ep ? ep : HUB_DEFAULT_ENDPOINT);
    size_t n = strlen(o->endpoint);
    while (n > 0 && o->endpoint[n - 1] == '/')
        o->endpoint[--n] = '\0';

    char home[PATH_MAX];
    hf_home(home, sizeof home);
    const char *cache = env("HF_HUB_CACHE");
    if (!cache)
        cache = env("HUGGINGFACE_HUB_CACHE"); /* the older name huggingface_hub still honours */
    if (cache)
        snprintf(o->cache_dir, sizeof o->cache_dir, "%s", cache);
    else if (snprintf(o->cache_dir, sizeof o->cache_dir, "%s/hub", home) >= (int)sizeof o->cache_dir)
        o->cache_dir[0] = '\0'; /* refused later as a cache path that is too long */

    const char *tok = env("HF_TOKEN");
    if (!tok)
        tok = env("HUGGING_FACE_HUB_TOKEN");
    if (tok) {
        snprintf(o->token, sizeof o->token, "%s", tok);
    } else {
        char path[PATH_MAX + 8];
        const char *tp = env("HF_TOKEN_PATH");
        snprintf(path, sizeof path, "%s", tp ? tp : home);
        if (!tp)
            strncat(path, "/token", sizeof path - strlen(path) - 1);
        read_token_file(path, o->token, sizeof o->token);
    }
    sanitize_token(o->token);

    o->offline = env_true("HF_HUB_OFFLINE");
    o->etag_timeout_s = env_seconds("HF_HUB_ETAG_TIMEOUT", 10);
    o->download_timeout_s = env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10);
}
