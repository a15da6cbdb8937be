/* server_config.h — every server setting in one struct, its defaults in one table (server_config.c), read from
 * flags and DEIT_* environment variables (flag > environment > default). */
#ifndef DEIT_SERVER_CONFIG_H
#define DEIT_SERVER_CONFIG_H

#include <stdio.h>

/* What GET /v2 and gRPC ServerMetadata report as the server's version. */
#define DEIT_SERVER_VERSION "0.1.0"

typedef struct {
    const char *model;         /* --model / DEIT_MODEL: directory, .safetensors file, hf://ORG/NAME[@REV], builtin:NAME */
    int max_model_mb;          /* --max-model-mb: cap on a hub model's files (MiB) */
    const char *model_name;    /* --model-name: the name clients address; "" = the hub NAME or the directory's name */
    const char *model_version; /* --model-version: the one version served (URLs, v2 responses); default "1" */
    const char *host;          /* --host: IPv4/IPv6 address to bind */
    int port;                  /* --port / DEIT_PORT: TCP port; 0 picks a free one (printed at start) */
    int grpc_port;             /* --grpc-port / DEIT_GRPC_PORT: KServe v2 gRPC port; -1 = off, 0 = any free one */
    int workers;               /* --workers: inference threads, each with its own deit_state */
    int threads;               /* --threads: engine threads per worker (workers x threads <= cores) */
    int lend_idle;             /* --lend-idle: a worker alone on an idle server runs on every worker's cores */
    const char *precision;     /* --precision / DEIT_PRECISION: f32, bf16 or int8 */
    int http_threads;          /* --http-threads: MHD threads; also where uploads are decoded */
    int max_batch;             /* --max-batch: most images one forward pass takes */
    int batch_wait_us;         /* --batch-wait-us: how long the oldest queued image waits for company */
    int queue;                 /* --queue: most images waiting for a worker; more answers 503 */
    int queue_wait_ms;         /* --queue-wait-ms: a request finding the queue full waits this long for room (admission.h) */
    int max_body_mb;           /* --max-body-mb: request body limit in MiB (413 beyond) */
    int exif_transpose;        /* --exif-transpose 1: ?exif_transpose defaults to 1 */
    long max_pixels;           /* --max-pixels: width*height limit of one decoded image (413 beyond) */
    int max_images;            /* --max-images: images in one request (413 beyond) */
    int request_timeout_s;     /* --request-timeout-s: longest wait for a worker before 504 */
    int conn_timeout_s;        /* --conn-timeout-s: idle connection timeout (slow or stalled clients) */
    int read_timeout_s;        /* --read-timeout-s: deadline for a request's headers (and body, see read_deadline.h) */
    int max_connections;       /* --max-connections: concurrent connections MHD accepts */
    const char *api_key;       /* --api-key / DEIT_API_KEY: Bearer key for inference endpoints; "" = open */
    const char *cors_origin;   /* --cors-origin: origins whose pages may call the server from a browser; "" = none */
    const char *tls_cert;      /* --tls-cert / DEIT_TLS_CERT: PEM certificate file; "" = plain HTTP */
    const char *tls_key;       /* --tls-key / DEIT_TLS_KEY: PEM private key file (with --tls-cert) */
    const char *log_format;    /* --log-format: "text" or "json" access and event lines on stderr */
    int grace_s;               /* --grace-s: longest drain after SIGTERM/SIGINT before exiting anyway */
} server_config;

/* Fills c with the defaults. */
void server_config_defaults(server_config *c);

/* Applies DEIT_* environment variables, then argv flags (--name value or --name=value).
 * Returns 0 on success, 1 when --help (or -h) is anywhere in argv (checked first: help is given
 * whatever the environment holds), -1 on an unknown flag or a bad value (message in err; a Kubernetes
 * service link such as DEIT_PORT=tcp://IP:PORT is named as such). String fields point into argv /
 * environ, which outlive the server. */
int server_config_parse(server_config *c, int argc, char **argv, char *err, size_t errlen);

/* Checks cross-field constraints (e.g. max_images <= queue); -1 with a message when violated. */
int server_config_validate(const server_config *c, char *err, size_t errlen);

/* Prints every flag with its environment variable, default and meaning. */
void server_config_usage(FILE *f, const char *prog);

#endif
