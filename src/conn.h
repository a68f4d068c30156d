/*
 * conn.h -- one client connection: its socket, its loop watcher and its stack of
 * transports (tcp at the bottom, TLS over it for https). Callers send and receive
 * plaintext through the top of the stack and never ask which layers there are.
 *
 * A connection never calls its owner. The owner (a request, or the pool while the
 * connection is idle) receives the watcher's events through the callback it installed
 * and calls conn_* functions from there. So there is no callback re-entrancy to guard
 * against; the owner may conn_close() at any point, after which the struct must not be
 * used.
 *
 * Interest: LOOP_READ whenever the connection is set up, plus LOOP_WRITE while the
 * connect is in progress, while a layer holds output, or while a write was refused for
 * lack of room in the socket. conn_write, conn_flush and conn_recv keep it right.
 *
 * The blocking baseline uses the same connections and layers on a blocking socket, with
 * no loop and no watcher (conn_init_blocking): every call then blocks in the socket, and
 * CONN_AGAIN means the socket's timeout expired.
 */
#ifndef SALVO_CONN_H
#define SALVO_CONN_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "loop.h"
#include "tcp.h"
#include "tls.h"
#include "transport.h"

/* Non-error outcomes of the calls below (errors are -errno or CONN_ETLS). */
#define CONN_AGAIN TRANSPORT_AGAIN
#define CONN_ETLS  TRANSPORT_ETLS /* a TLS failure: tls_error(conn_tls(c)) tells which */

struct conn {
    int fd; /* the socket, -1 once closed */
    struct loop *loop;
    struct loop_io *io;          /* watcher (NULL when blocking); events go to the owner */
    struct tcp tcp;              /* the bottom layer */
    struct transport *top;       /* the top of the stack: &tcp.t, or TLS over it */
    struct transport *proxy_top; /* the top of the layers that reach a proxy (its TLS,
                                    the tunnel), NULL when direct or not up yet */
    int through_proxy;           /* the connection goes to a proxy */
    char remote_ip[64];          /* printable remote address */
    int connected;               /* the TCP connect completed */
    int write_blocked;           /* the socket refused a write: wait for writability */
};

/* Starts a non-blocking connect to sa; events go to cb(data). Returns 0 or -errno (then
 * nothing is left open). */
int conn_open(struct conn *c, struct loop *l, const struct sockaddr *sa, loop_io_fn *cb,
              void *data);

/* Makes a connection of a blocking socket the caller has connected to sa; conn_close
 * closes fd. Signals interrupt its calls (-EINTR), so that a cancel is seen. */
void conn_init_blocking(struct conn *c, int fd, const struct sockaddr *sa);

/* Gives the watcher's events to another owner (the pool, a new request), labelled for
 * the loop-lag report (loop.h). */
void conn_set_owner(struct conn *c, loop_io_fn *cb, void *data, const char *what, uint64_t id);

/* After the socket became writable during the connect: 0, or -errno. */
int conn_connect_done(struct conn *c);

/* Puts TLS on top of the stack (after the TCP connect). Returns 0 or -1 (err says
 * why). */
int conn_tls_start(struct conn *c, struct tls_ctx *ctx, const char *host, int host_is_ip,
                   const char *origin_key, char *err, size_t errlen);

/* Puts layer t (whose lower layer is the current top) on top of the stack. */
void conn_push(struct conn *c, struct transport *t);

/* Says that the layers so far reach the proxy: what is pushed from now on speaks to the
 * target. */
void conn_proxy_done(struct conn *c);

/* The target's TLS session (facts, errors), NULL for plain HTTP (also when TLS runs to
 * the proxy only). Before conn_proxy_done, the top of the stack is the proxy's. */
struct tls *conn_tls(const struct conn *c);

/* After CONN_ETLS: the TLS session that failed, from the top down (NULL when none says
 * so); *to_proxy is set when it is a layer that reaches the proxy (TLS to an https://
 * proxy), not the target's. */
struct tls *conn_failed_tls(const struct conn *c, int *to_proxy);

/* Brings every layer up (the TLS handshake): 0 when done, CONN_AGAIN, CONN_ETLS, or
 * -errno from the socket. */
int conn_handshake(struct conn *c);

/* Writes plaintext without keeping a copy of it (a layer may keep its own encrypted
 * copy, bounded: tls_transport.h). Returns the bytes taken (call again with the rest),
 * CONN_AGAIN when the socket must drain first (write interest is on), 0 when a layer
 * must read from the peer first (a TLS renegotiation: read, then write again), or an
 * error. */
ssize_t conn_write(struct conn *c, const void *p, size_t n);

/* Pushes what the layers hold: 0 when all went out, CONN_AGAIN, or an error. */
int conn_flush(struct conn *c);

/* Receives plaintext: bytes (> 0), 0 at EOF (TCP FIN, TLS close_notify or TLS EOF),
 * CONN_AGAIN, CONN_ETLS or -errno (-ECONNRESET for a reset). */
ssize_t conn_recv(struct conn *c, void *dst, size_t cap);

/* Bytes some layer received and the reader has not had yet (TLS's buffers): the socket
 * may be empty, so no readiness event will come for them. */
size_t conn_pending_in(const struct conn *c);

/* The peer closed its side. */
static inline int conn_eof(const struct conn *c)
{
    return c->tcp.eof;
}

/* Nothing buffered, nothing owed: no EOF seen, and no layer holds a byte either way.
 * The checklist before a connection is kept for another request; the socket itself is
 * asked by conn_idle_check. */
int conn_clean(const struct conn *c);

/* For an idle connection: reads whatever arrived (a TLS session ticket or key update is
 * consumed) and returns 1 when the connection can still carry a request, 0 when it
 * spoke out of turn, reached EOF or failed. */
int conn_idle_check(struct conn *c);

/* Says goodbye (TLS close_notify, once, if the socket takes it) and closes everything;
 * c->fd becomes -1. Safe to call twice. */
void conn_close(struct conn *c);

#endif
