/* tls.c — PEM files for libmicrohttpd's TLS; see tls.h. */
#include "tls.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regular_file.h"
#include "status.h"

/* Largest PEM file --tls-cert/--tls-key may name: a long chain is a few tens of KiB. */
#define MAX_TLS_FILE_BYTES (1024 * 1024)

/* Reads a whole PEM file into a NUL-terminated buffer, refusing anything over MAX_TLS_FILE_BYTES
 * and anything but a regular file, so a wrong path (a FIFO, a device, a huge file) cannot stall or
 * exhaust the start. */
static char *read_pem(const char *flag, const char *path, size_t *len, char *err, size_t errlen)
{
    char *buf = NULL, why[160];
    if (read_regular_file(path, MAX_TLS_FILE_BYTES, &buf, len, why, sizeof why) != DEIT_OK) {
        snprintf(err, errlen, "--%s %s: %s", flag, path, why);
        return NULL;
    }
    if (*len == 0 || !strstr(buf, "-----BEGIN ")) {
        snprintf(err, errlen, "--%s %s: %s", flag, path, *len == 0 ? "empty file" : "not a PEM file");
        explicit_bzero(buf, *len);
        free(buf);
        return NULL;
    }
    return buf;
}

int tls_load(tls_files *t, const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (!cert_path || !*cert_path) return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "--tls-cert: this libmicrohttpd was built without TLS (GnuTLS) support");
        return -1;
    }
    size_t n;
    t->cert = read_pem("tls-cert", cert_path, &n, err, errlen);
    if (t->cert) t->key = read_pem("tls-key", key_path, &t->key_len, err, errlen);
    if (t->key) return 0;
    tls_free(t);
    return -1;
}

void tls_free(tls_files *t)
{
    free(t->cert);
    if (t->key) explicit_bzero(t->key, t->key_len); /* no key bytes left in freed memory */
    free(t->key);
    memset(t, 0, sizeof *t);
}
