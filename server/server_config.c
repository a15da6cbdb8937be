/* server_config.c — the settings table: flag, environment variable, default, limits and help, in one place. */
#include "server_config.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cors.h"
#include "deit.h"

typedef enum { T_STR, T_INT, T_LONG } opt_type;

typedef struct {
    const char *flag;          /* without the leading "--" */
    opt_type type;
    size_t offset;             /* into server_config */
    const char *def;           /* default, parsed like a user value */
    long min, max;             /* bounds for numbers */
    const char *help;
} opt;

#define OFF(f) offsetof(server_config, f)

/* Defaults for this 2-core machine: 2 workers x 1 engine thread (see docs/server.md, "Threads"). */
static const opt OPTS[] = {
    {"model", T_STR, OFF(model), "builtin:fashion-deit", 0, 0,
     "model directory, .safetensors file, hf://ORG/NAME[@REVISION] (or hf-hub:ORG/NAME, ORG/NAME, a timm "
     "name such as deit_base_patch16_224) from the Hugging Face Hub cache, or builtin:fashion-deit"},
    {"max-model-mb", T_INT, OFF(max_model_mb), "4096", 1, 1048576,
     "refuse a hub model whose files add up to more (MiB)"},
    {"model-name", T_STR, OFF(model_name), "", 0, 0,
     "name in URLs and responses (letters, digits, . _ -; default: the model directory's name)"},
    {"model-version", T_STR, OFF(model_version), "1", 0, 0,
     "the version served (/v2/models/NAME/versions/V, /predictions/NAME/V; \"1\" also answers \"1.0\")"},
    {"host", T_STR, OFF(host), "0.0.0.0", 0, 0, "address to bind"},
    {"port", T_INT, OFF(port), "8080", 0, 65535, "TCP port (0: any free port)"},
    {"grpc-port", T_INT, OFF(grpc_port), "-1", -1, 65535,
     "KServe v2 gRPC port (-1: no gRPC; 0: any free port); same model, queue, limits, key and TLS"},
    {"workers", T_INT, OFF(workers), "2", 1, 64, "inference worker threads (one deit_state each)"},
    {"threads", T_INT, OFF(threads), "1", 1, 64, "engine threads per worker (each worker's forward pass is split across them)"},
    {"lend-idle", T_INT, OFF(lend_idle), "1", 0, 1,
     "1: a worker alone on an idle server runs its pass on every worker's cores (a lone request "
     "uses the whole machine); 0: always --threads"},
    {"precision", T_STR, OFF(precision), "f32", 0, 0,
     "numeric precision of the forward pass: f32, bf16 or int8 (refused at start where the CPU "
     "cannot run it)"},
    {"http-threads", T_INT, OFF(http_threads), "2", 1, 64, "HTTP threads (also decode uploads)"},
    {"max-batch", T_INT, OFF(max_batch), "4", 1, 256, "most images per forward pass"},
    {"batch-wait-us", T_INT, OFF(batch_wait_us), "0", 0, 10000000,
     "how long the oldest queued image waits for company (us)"},
    {"queue", T_INT, OFF(queue), "256", 1, 100000, "most images waiting for a worker (503 beyond)"},
    {"queue-wait-ms", T_INT, OFF(queue_wait_ms), "500", 0, 60000,
     "how long a request that finds the queue full waits for room, its body unread, before 503 (0: 503 at once)"},
    {"max-body-mb", T_INT, OFF(max_body_mb), "32", 1, 4096, "request body limit in MiB (413 beyond)"},
    {"max-pixels", T_LONG, OFF(max_pixels), "40000000", 1, 1000000000L,
     "width*height limit of one image (413 beyond)"},
    {"exif-transpose", T_INT, OFF(exif_transpose), "0", 0, 1,
     "1: turn images by their EXIF Orientation (Pillow's ImageOps.exif_transpose) unless a request "
     "says ?exif_transpose=0; timm does not, hence 0"},
    {"max-images", T_INT, OFF(max_images), "32", 1, 4096, "images per request (413 beyond)"},
    {"request-timeout-s", T_INT, OFF(request_timeout_s), "30", 1, 3600,
     "longest wait for a worker (504 beyond)"},
    {"conn-timeout-s", T_INT, OFF(conn_timeout_s), "30", 1, 3600, "idle connection timeout"},
    {"read-timeout-s", T_INT, OFF(read_timeout_s), "30", 1, 3600,
     "request headers must arrive within this; the body within this + 1 s per 500 bytes"},
    {"max-connections", T_INT, OFF(max_connections), "512", 1, 100000, "concurrent connections"},
    {"api-key", T_STR, OFF(api_key), "", 0, 0, "require 'Authorization: Bearer KEY' on inference"},
    {"cors-origin", T_STR, OFF(cors_origin), "", 0, 0,
     "origins (scheme://host[:port], comma-separated) whose web pages may call the server from a "
     "browser (CORS), or * for any; \"\": none, as a browser's same-origin rule has it"},
    {"tls-cert", T_STR, OFF(tls_cert), "", 0, 0, "PEM certificate (chain) file: serve HTTPS (needs --tls-key)"},
    {"tls-key", T_STR, OFF(tls_key), "", 0, 0, "PEM private key file for --tls-cert"},
    {"log-format", T_STR, OFF(log_format), "text", 0, 0, "access log format: text or json"},
    {"grace-s", T_INT, OFF(grace_s), "30", 0, 3600, "drain time after SIGTERM/SIGINT"},
};
#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

/* "max-batch" -> "DEIT_MAX_BATCH" */
static void env_name(const char *flag, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = "DEIT_";
    while (*p && o + 1 < cap) out[o++] = *p++;
    for (; *flag && o + 1 < cap; flag++) {
        char ch = *flag;
        out[o++] = ch == '-' ? '_' : (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
    }
    out[o] = '\0';
}

static int set_value(server_config *c, const opt *o, const char *v, const char *source, char *err,
                     size_t errlen)
{
    char *base = (char *)c + o->offset;
    if (o->type == T_STR) {
        *(const char **)(void *)base = v;
        return 0;
    }
    errno = 0;
    char *end;
    long x = strtol(v, &end, 10);
    /* strtol skips leading whitespace: " 3" is no whole decimal integer */
    if (errno || end == v || *end || isspace((unsigned char)v[0]) || x < o->min || x > o->max) {
        snprintf(err, errlen, "%s: --%s must be an integer from %ld to %ld (got \"%s\")", source, o->flag,
                 o->min, o->max, v);
        return -1;
    }
    if (o->type == T_INT) *(int *)(void *)base = (int)x;
    else *(long *)(void *)base = x;
    return 0;
}

void server_config_defaults(server_config *c)
{
    memset(c, 0, sizeof *c);
    char err[128];
    for (size_t i = 0; i < N_OPTS; i++) set_value(c, &OPTS[i], OPTS[i].def, "default", err, sizeof err);
}

/* The option named by the first n bytes of s, or NULL. */
static const opt *find_opt(const char *s, size_t n)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(OPTS[i].flag) == n && strncmp(OPTS[i].flag, s, n) == 0) return &OPTS[i];
    return NULL;
}

/* Whether argv asks for --help (or -h) anywhere, the values of flags skipped (`--api-key -h` sets a
 * key). Looked for before anything is parsed, so help is printed even when a DEIT_* variable or
 * another flag is wrong: the user who reads it is often the one whose settings do not work. */
static int wants_help(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return 1;
        if (strncmp(arg, "--", 2) == 0 && !strchr(arg, '=') && find_opt(arg + 2, strlen(arg + 2))) a++;
    }
    return 0;
}

/* Whether argv sets option o (--flag V or --flag=V), values of other flags skipped. A flag beats the
 * environment, so its variable is then not read at all: `--port 8080` starts even where a
 * Kubernetes service link or a stale DEIT_PORT holds something else. */
static int given_as_flag(const opt *o, int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) != 0) continue;
        const char *eq = strchr(arg + 2, '=');
        size_t nl = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        const opt *f = find_opt(arg + 2, nl);
        if (f == o) return 1;
        if (f && !eq) a++;
    }
    return 0;
}

/* Kubernetes puts {SVC}_PORT=tcp://IP:PORT (udp://, sctp://) into every pod for each Service of its
 * namespace, so a Service named "deit" or "deit-grpc" sets DEIT_PORT or DEIT_GRPC_PORT. Refused, not
 * ignored (the server cannot tell it from a value set by mistake), but with a message that names the
 * cause and the fixes; "must be an integer" alone sent users looking in their own settings. Returns 1
 * when `value` of variable `name` has that form (and the message is in err), else 0. */
static int service_link_error(const opt *o, const char *name, const char *value, char *err, size_t errlen)
{
    static const char *const SCHEMES[] = {"tcp://", "udp://", "sctp://"};
    size_t nl = strlen(name);
    if (o->type == T_STR || nl <= 5 || strcmp(name + nl - 5, "_PORT") != 0) return 0;
    int link = 0;
    for (size_t i = 0; i < sizeof SCHEMES / sizeof *SCHEMES; i++)
        if (strncmp(value, SCHEMES[i], strlen(SCHEMES[i])) == 0) link = 1;
    if (!link) return 0;
    /* the Service's name: DEIT_GRPC_PORT -> deit-grpc */
    char svc[64];
    size_t n = 0;
    for (; n < nl - 5 && n + 1 < sizeof svc; n++) {
        char ch = name[n];
        svc[n] = ch == '_' ? '-' : (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    svc[n] = '\0';
    snprintf(err, errlen,
             "%s=%.100s looks like a Kubernetes service link (a Service named '%s' in the namespace), not a "
             "value for --%s; set enableServiceLinks: false in the pod spec (or set %s in the container's env), "
             "or rename the Service",
             name, value, svc, o->flag, name);
    return 1;
}

int server_config_parse(server_config *c, int argc, char **argv, char *err, size_t errlen)
{
    if (wants_help(argc, argv)) return 1;
    for (size_t i = 0; i < N_OPTS; i++) {
        char name[64];
        env_name(OPTS[i].flag, name, sizeof name);
        const char *v = getenv(name);
        if (!v || given_as_flag(&OPTS[i], argc, argv)) continue;
        if (service_link_error(&OPTS[i], name, v, err, errlen)) return -1;
        if (set_value(c, &OPTS[i], v, name, err, errlen)) return -1;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", arg);
            return -1;
        }
        arg += 2;
        const char *eq = strchr(arg, '=');
        size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
        const opt *o = find_opt(arg, nl);
        if (!o) {
            snprintf(err, errlen, "unknown flag --%.*s (see --help)", (int)nl, arg);
            return -1;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (a + 1 >= argc) {
                snprintf(err, errlen, "--%s needs a value", o->flag);
                return -1;
            }
            v = argv[++a];
        }
        if (set_value(c, o, v, "flag", err, errlen)) return -1;
    }
    return 0;
}

/* A model name travels in URL paths (/v2/models/<name>/infer, /predictions/<name>) and in JSON, so it
 * is kept to characters that need no escaping in either; 127 fits the engine's model name field. */
static int model_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 127 || s[0] == '.') return 0;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

int server_config_validate(const server_config *c, char *err, size_t errlen)
{
    if (!c->model || !*c->model) {
        snprintf(err, errlen, "no model: pass --model (a directory, hf://ORG/NAME or builtin:fashion-deit) or set "
                              "DEIT_MODEL");
        return -1;
    }
    if (*c->model_name && !model_name_ok(c->model_name)) {
        snprintf(err, errlen, "--model-name must be 1 to 127 letters, digits, '.', '_' or '-', not starting "
                              "with '.'");
        return -1;
    }
    if (!model_name_ok(c->model_version) || strlen(c->model_version) > 63) {
        snprintf(err, errlen, "--model-version must be 1 to 63 letters, digits, '.', '_' or '-', not starting "
                              "with '.'");
        return -1;
    }
    if (strcmp(c->log_format, "text") != 0 && strcmp(c->log_format, "json") != 0) {
        snprintf(err, errlen, "--log-format must be text or json");
        return -1;
    }
    deit_precision prec;
    if (deit_precision_parse(c->precision, &prec) != 0) {
        snprintf(err, errlen, "--precision must be f32, bf16 or int8");
        return -1;
    }
    if (api_cors_list_check(c->cors_origin, err, errlen)) return -1;
    /* A key no client can send would turn every request into a 401: a header value holds no control
     * character, and its surrounding spaces are not part of it. A Kubernetes Secret made from a file
     * keeps the file's final newline. */
    size_t kl = strlen(c->api_key);
    for (size_t i = 0; i < kl; i++) {
        unsigned char k = (unsigned char)c->api_key[i];
        if (k < 0x20 || k == 0x7f || ((i == 0 || i == kl - 1) && k == ' ')) {
            snprintf(err, errlen, "--api-key holds %s at byte %zu: no client can send that in an Authorization "
                     "header (a Secret made from a file keeps its final newline: strip it)",
                     k == '\n' || k == '\r' ? "a line break" : k == ' ' ? "a leading or trailing space"
                                                             : "a control character", i);
            return -1;
        }
    }
    /* resolved now, so a bad address stops the start with exit 2 as every other bad value does */
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(c->host, NULL, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "--host \"%.200s\": %s", c->host, gai_strerror(gai));
        return -1;
    }
    freeaddrinfo(ai);
    if (!*c->tls_cert != !*c->tls_key) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together (got only %s)",
                 *c->tls_cert ? "--tls-cert" : "--tls-key");
        return -1;
    }
    /* Both listen on --host: the same fixed port twice failed only once HTTP was up, as gRPC's
     * "could not listen ... (port in use, no permission)" after a grpc core error line. */
    if (c->grpc_port > 0 && c->grpc_port == c->port) {
        snprintf(err, errlen, "--grpc-port (%d) must differ from --port (%d)", c->grpc_port, c->port);
        return -1;
    }
    if (c->max_images > c->queue) {
        snprintf(err, errlen, "--max-images (%d) must not exceed --queue (%d)", c->max_images, c->queue);
        return -1;
    }
    return 0;
}

void server_config_usage(FILE *f, const char *prog)
{
    fprintf(f, "usage: %s [--model MODEL] [flags]\n\nEvery flag may also be given as an environment "
               "variable (flag > environment > default). Hub models honour huggingface_hub's variables:\n"
               "HF_ENDPOINT, HF_HUB_CACHE / HF_HOME, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_ETAG_TIMEOUT,\n"
               "HF_HUB_DOWNLOAD_TIMEOUT.\n\n", prog);
    for (size_t i = 0; i < N_OPTS; i++) {
        char name[64], left[64];
        env_name(OPTS[i].flag, name, sizeof name);
        snprintf(left, sizeof left, "--%s", OPTS[i].flag);
        fprintf(f, "  %-20s %-24s %s (default: %s)\n", left, name, OPTS[i].help,
                *OPTS[i].def ? OPTS[i].def : "none");
    }
}
