/* tls.h — loads the --tls-cert / --tls-key PEM files for libmicrohttpd (which wants them as C
 * strings in memory) and wipes the key when done. */
#ifndef DEIT_SERVER_TLS_H
#define DEIT_SERVER_TLS_H

#include <stddef.h>

typedef struct {
    char *cert, *key;          /* PEM text, NUL-terminated; NULL: plain HTTP */
    size_t key_len;            /* to wipe the key */
} tls_files;

/* Reads both files when cert_path is set (non-empty). 0 on success or when TLS is off; -1 with a
 * message naming the flag and file (missing, unreadable, empty, over 1 MiB, not PEM, or a
 * libmicrohttpd without TLS). On failure nothing is left to free. */
int tls_load(tls_files *t, const char *cert_path, const char *key_path, char *err, size_t errlen);

/* Wipes the key and frees both; a zeroed tls_files is a no-op. */
void tls_free(tls_files *t);

#endif
