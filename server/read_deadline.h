/* read_deadline.h — closes connections that send their request too slowly (slowloris, slow POST).
 *
 * libmicrohttpd's --conn-timeout-s is an idle timeout: a client that sends one byte every few seconds
 * is never idle and keeps its connection (and its slot under --max-connections) for as long as it
 * likes. Here every connection that owes us data has a deadline: the request headers must be complete
 * within `timeout_s` of the connection opening (or of its previous response), and the body must follow
 * within a further `timeout_s` plus 1 s per `min_rate` bytes received. A watchdog thread shuts down
 * the socket of a connection past its deadline; libmicrohttpd then sees the end of the stream and
 * closes the connection as usual. Connections waiting for inference or sending a response owe nothing
 * and have no deadline. */
#ifndef DEIT_READ_DEADLINE_H
#define DEIT_READ_DEADLINE_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>

typedef struct read_deadlines read_deadlines;

/* Starts the watchdog; every connection it closes adds 1 to *closed (may be NULL). NULL when out of
 * memory or threads. */
read_deadlines *read_deadlines_start(double timeout_s, double min_rate, atomic_ulong *closed);

/* For MHD_OPTION_NOTIFY_CONNECTION (cls = the read_deadlines): tracks connections from accept to close. */
void read_deadlines_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                           enum MHD_ConnectionNotificationCode code);

/* The request's headers are complete; body: whether a body follows. */
void read_deadlines_headers(read_deadlines *d, struct MHD_Connection *conn, int body);
/* n more body bytes arrived (each buys 1/min_rate s). */
void read_deadlines_body(read_deadlines *d, struct MHD_Connection *conn, size_t n);
/* The whole request is in: nothing owed until the response is sent. */
void read_deadlines_request_read(read_deadlines *d, struct MHD_Connection *conn);
/* The response was sent: the next request's header clock starts. */
void read_deadlines_response_done(read_deadlines *d, struct MHD_Connection *conn);

/* Stops the watchdog (call before MHD_stop_daemon); free after MHD_stop_daemon, which reports every
 * remaining connection closed. NULL is a no-op for both. */
void read_deadlines_stop(read_deadlines *d);
void read_deadlines_free(read_deadlines *d);

#endif
