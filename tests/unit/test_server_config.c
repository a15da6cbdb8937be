/* test_server_config.c — the flag/env configuration (server/server_config.c): precedence, bounds,
 * validation and --help. */
#include "../check.h"
#include "server_config.h"

static void test_config(void)
{
    server_config c;
    char err[256];
    unsetenv("DEIT_PORT");
    unsetenv("DEIT_WORKERS");
    server_config_defaults(&c);
    CHECK_INT_EQ(c.port, 8080);
    CHECK_INT_EQ(c.workers, 2);
    CHECK_INT_EQ(c.threads, 1);
    CHECK_STR_EQ(c.host, "0.0.0.0");
    CHECK_STR_EQ(c.log_format, "text");
    CHECK_INT_EQ(c.max_pixels, 40000000L);
    /* no --model: the built-in model; an empty one is refused */
    CHECK_STR_EQ(c.model, "builtin:fashion-deit");
    CHECK_INT_EQ(c.max_model_mb, 4096);
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);
    c.model = "";
    CHECK(server_config_validate(&c, err, sizeof err) == -1 && strstr(err, "model"));
    server_config_defaults(&c);

    setenv("DEIT_PORT", "9000", 1);
    setenv("DEIT_WORKERS", "3", 1);
    setenv("DEIT_MODEL", "env-model", 1);
    char *argv1[] = {"deit-server", "--port", "9100", "--max-batch=6", "--api-key", "k", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 6, argv1, err, sizeof err), 0);
    CHECK_INT_EQ(c.port, 9100);     /* flag beats environment */
    CHECK_INT_EQ(c.workers, 3);     /* environment beats default */
    CHECK_INT_EQ(c.max_batch, 6);     /* default is 4 */
    CHECK_STR_EQ(c.api_key, "k");
    CHECK_STR_EQ(c.model, "env-model");
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);

    server_config_defaults(&c);
    setenv("DEIT_PORT", "http", 1);
    char *argv0[] = {"deit-server", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 1, argv0, err, sizeof err), -1);
    CHECK(strstr(err, "DEIT_PORT") != NULL);
    /* a flag for the same option wins, so the bad variable is never read; another option's is */
    char *port_flag[] = {"deit-server", "--port", "9100", NULL};
    char *port_eq[] = {"deit-server", "--api-key", "--port", "--port=9101", NULL};
    char *other_flag[] = {"deit-server", "--workers", "2", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 3, port_flag, err, sizeof err), 0);
    CHECK_INT_EQ(c.port, 9100);
    CHECK_INT_EQ(server_config_parse(&c, 4, port_eq, err, sizeof err), 0);
    CHECK_INT_EQ(c.port, 9101);
    CHECK_STR_EQ(c.api_key, "--port");
    CHECK_INT_EQ(server_config_parse(&c, 3, other_flag, err, sizeof err), -1);
    CHECK(strstr(err, "DEIT_PORT") != NULL);
    unsetenv("DEIT_PORT");
    unsetenv("DEIT_WORKERS");
    unsetenv("DEIT_MODEL");

    char *bad1[] = {"deit-server", "--nope", "1", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 3, bad1, err, sizeof err), -1);
    CHECK(strstr(err, "unknown flag --nope") != NULL);
    char *bad2[] = {"deit-server", "--port", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 2, bad2, err, sizeof err), -1);
    char *bad3[] = {"deit-server", "--workers", "0", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 3, bad3, err, sizeof err), -1);
    char *bad4[] = {"deit-server", "--port", "65536", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 3, bad4, err, sizeof err), -1);
    char *help[] = {"deit-server", "--help", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 2, help, err, sizeof err), 1);

    server_config_defaults(&c);
    c.model = "m";
    c.log_format = "xml";
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), -1);
    c.log_format = "json";
    c.max_images = 10;
    c.queue = 5;
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), -1);
    CHECK(strstr(err, "--max-images") != NULL);
    /* --cors-origin: origins as a browser sends them, or "*" alone */
    c.max_images = 5;
    c.cors_origin = "http://localhost:3000,https://app.example";
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);
    c.cors_origin = "https://app.example/";
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), -1);
    CHECK(strstr(err, "--cors-origin") != NULL);
    c.cors_origin = "";

    /* HTTP and gRPC on one port: refused before either listens, naming both flags; port 0 (any
     * free one) twice is fine */
    server_config_defaults(&c);
    c.model = "m";
    c.port = c.grpc_port = 8090;
    CHECK(server_config_validate(&c, err, sizeof err) == -1 &&
          strstr(err, "--grpc-port (8090) must differ from --port"));
    c.port = c.grpc_port = 0;
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);
    c.grpc_port = 8081;
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);

    /* an API key no client can send (a Secret file's final newline, a control byte, surrounding
     * spaces) and an address that does not resolve stop the start (exit 2), naming the flag */
    server_config_defaults(&c);
    c.model = "m";
    const char *bad_keys[] = {"secret\n", "sec\rret", "a\tb", " k", "k ", "k\x7f"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
        c.api_key = bad_keys[i];
        CHECK_MSG(server_config_validate(&c, err, sizeof err) == -1 && strstr(err, "--api-key holds"),
                  "key %zu: %s", i, err);
    }
    c.api_key = "s3cr3t with inner space";
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);
    c.api_key = "";
    const char *bad_hosts[] = {"999.1.1.1", "", "not an address"};
    for (size_t i = 0; i < sizeof bad_hosts / sizeof *bad_hosts; i++) {
        c.host = bad_hosts[i];
        CHECK_MSG(server_config_validate(&c, err, sizeof err) == -1 && strstr(err, "--host"), "host %zu: %s", i, err);
    }
    const char *good_hosts[] = {"127.0.0.1", "::1", "0.0.0.0", "::"};
    for (size_t i = 0; i < sizeof good_hosts / sizeof *good_hosts; i++) {
        c.host = good_hosts[i];
        CHECK_MSG(server_config_validate(&c, err, sizeof err) == 0, "host %s refused: %s", good_hosts[i], err);
    }
    /* a number with spaces before it is no whole decimal integer (strtol skips them) */
    setenv("DEIT_WORKERS", " 3", 1);
    char *argv_ws[] = {"deit-server", NULL};
    server_config_defaults(&c);
    CHECK(server_config_parse(&c, 1, argv_ws, err, sizeof err) == -1 && strstr(err, "--workers must be an integer"));
    unsetenv("DEIT_WORKERS");

    /* --model-name ends up in URL paths and JSON: only a safe character set is accepted */
    server_config_defaults(&c);
    c.model = "m";
    const char *good_names[] = {"deit-tiny", "DeiT_small.v2", "a"};
    for (size_t i = 0; i < sizeof good_names / sizeof *good_names; i++) {
        c.model_name = good_names[i];
        CHECK_MSG(server_config_validate(&c, err, sizeof err) == 0, "name \"%s\" refused", good_names[i]);
    }
    char long_name[129];
    memset(long_name, 'n', 128);
    long_name[128] = '\0';
    const char *bad_names[] = {"a/b", "..", ".hidden", "with space", "q?x=1", "caf\xc3\xa9", "x%2F", long_name};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        c.model_name = bad_names[i];
        CHECK_MSG(server_config_validate(&c, err, sizeof err) == -1 && strstr(err, "--model-name"),
                  "name \"%s\" accepted", bad_names[i]);
    }
    long_name[127] = '\0';
    c.model_name = long_name;
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);

    /* --help lists every flag with its environment variable */
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    server_config_usage(f, "deit-server");
    fclose(f);
    const char *must[] = {"--model", "DEIT_MODEL", "--model-name", "DEIT_MODEL_NAME", "--port", "DEIT_PORT",
                          "--api-key", "DEIT_API_KEY", "--batch-wait-us", "--grace-s", "--log-format", "(default: 8080)"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) CHECK_MSG(strstr(buf, must[i]) != NULL, "%s", must[i]);
    free(buf);
}

/* Kubernetes gives every pod {SVC}_PORT=tcp://IP:PORT for each Service in its namespace, so a Service
 * named "deit" sets DEIT_PORT. Refused (not ignored: the value may also be a user's mistake), with a
 * message that says what it is and how to fix it. */
static void test_service_links(void)
{
    server_config c;
    char err[1024];
    char *argv0[] = {"deit-server", NULL};
    unsetenv("DEIT_PORT");
    unsetenv("DEIT_GRPC_PORT");

    server_config_defaults(&c);
    setenv("DEIT_PORT", "tcp://10.0.0.12:8080", 1);
    CHECK_INT_EQ(server_config_parse(&c, 1, argv0, err, sizeof err), -1);
    CHECK_MSG(strstr(err, "DEIT_PORT=tcp://10.0.0.12:8080 looks like a Kubernetes service link") != NULL, "%s", err);
    CHECK_MSG(strstr(err, "a Service named 'deit' in the namespace") != NULL, "%s", err);
    CHECK_MSG(strstr(err, "enableServiceLinks: false") != NULL, "%s", err);
    CHECK_MSG(strstr(err, "rename the Service") != NULL, "%s", err);
    unsetenv("DEIT_PORT");

    /* the other protocols Kubernetes writes, and the Service name taken from the variable's name */
    const char *links[] = {"udp://10.0.0.13:8081", "sctp://10.0.0.13:8081"};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        server_config_defaults(&c);
        setenv("DEIT_GRPC_PORT", links[i], 1);
        CHECK_INT_EQ(server_config_parse(&c, 1, argv0, err, sizeof err), -1);
        CHECK_MSG(strstr(err, "looks like a Kubernetes service link") && strstr(err, "a Service named 'deit-grpc'"),
                  "%s: %s", links[i], err);
    }
    unsetenv("DEIT_GRPC_PORT");

    /* any other bad number keeps the plain message */
    server_config_defaults(&c);
    setenv("DEIT_PORT", "http://10.0.0.12:8080", 1);
    CHECK_INT_EQ(server_config_parse(&c, 1, argv0, err, sizeof err), -1);
    CHECK_MSG(strstr(err, "--port must be an integer") && !strstr(err, "service link"), "%s", err);
    unsetenv("DEIT_PORT");
}

/* --help answers whatever the environment holds: a pod that will not start must still say how to
 * configure it. A "-h" that is a flag's value is that value, not a request for help. */
static void test_help_first(void)
{
    server_config c;
    char err[1024];
    setenv("DEIT_PORT", "tcp://10.0.0.12:8080", 1);
    setenv("DEIT_WORKERS", "many", 1);
    char *h1[] = {"deit-server", "--help", NULL};
    char *h2[] = {"deit-server", "--port", "8080", "-h", NULL};
    char *h3[] = {"deit-server", "--workers=x", "--help", NULL};
    server_config_defaults(&c);
    CHECK_INT_EQ(server_config_parse(&c, 2, h1, err, sizeof err), 1);
    CHECK_INT_EQ(server_config_parse(&c, 4, h2, err, sizeof err), 1);
    CHECK_INT_EQ(server_config_parse(&c, 3, h3, err, sizeof err), 1);
    unsetenv("DEIT_PORT");
    unsetenv("DEIT_WORKERS");

    char *value[] = {"deit-server", "--api-key", "-h", NULL};
    server_config_defaults(&c);
    CHECK_INT_EQ(server_config_parse(&c, 3, value, err, sizeof err), 0);
    CHECK_STR_EQ(c.api_key, "-h");
}

int main(void)
{
    test_config();
    test_service_links();
    test_help_first();
    return check_summary("test_server_config");
}
