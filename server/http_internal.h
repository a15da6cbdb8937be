/* http_internal.h — the state shared by the daemon lifecycle (http.c) and the request handler
 * (request.c, request_answer.c); nothing outside server/http*.c and request*.c includes it. */
#ifndef DEIT_SERVER_HTTP_INTERNAL_H
#define DEIT_SERVER_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdatomic.h>

#include "admission.h"
#include "endpoint.h"
#include "http.h"
#include "log.h"
#include "read_deadline.h"
#include "tls.h"

/* What inference needs; written once by http_set_engine before `engine_set` is published. */
typedef struct {
    const deit_model *model;
    batcher *batcher;
    size_t in_floats;
    int n_classes;
    api_model am;              /* names, shapes, labels, version for the responses */
} engine;

struct http_server {
    const server_config *cfg;
    metrics *metrics;
    server_log log;
    struct MHD_Daemon *d;
    read_deadlines *rd;        /* closes connections that send their request too slowly */
    int port;
    size_t max_body;           /* bytes */
    engine eng;
    admission *adm;            /* waiting room before a full queue; set with eng, NULL with --queue-wait-ms 0 */
    atomic_int engine_set;     /* release/acquire: eng is readable once this is 1 */
    atomic_int readiness;      /* api_readiness */
    atomic_int inflight;       /* requests between the first handler call and completion */
    atomic_int giving_up;      /* http_give_up: requests still decoding stop at their next image */
    MHD_socket listen_fd;      /* from MHD_quiesce_daemon; closed after MHD_stop_daemon */
    tls_files tls;             /* PEM text kept until MHD_stop_daemon; cert NULL: plain HTTP */
};

/* libmicrohttpd callbacks (request.c); cls is the http_server. */
enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_data_size,
                             void **con_cls);
/* admission_wake_fn for the parked requests (request.c). */
void http_unpark(void *request, int admitted);
void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe);

#endif
