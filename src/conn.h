/*
 * conn.h -- one client connection: its socket, its loop watcher, its optional TLS
 * session and its output buffer. The transport difference (plain vs TLS) stays inside
 * this module (wrk's net.h idea): callers send and receive plaintext.
 *
 * A connection never calls its owner. The owner (a request, or the pool while the
 * connection is idle) receives the watcher's events through the callback it installed
 * and calls conn_* functions from there, one function per step, curl-multi style. So
 * there is no callback re-entrancy to guard against; the owner may conn_close() at any
 * point, after which the struct must not be used.
 *
 * Interest: LOOP_READ whenever the connection is set up, plus LOOP_WRITE while the
 * connect is in progress or output is waiting. conn_flush and conn_recv keep it right.
 */
#ifndef SALVO_CONN_H
#define SALVO_CONN_H

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "buf.h"
#include "loop.h"
#include "tls.h"

#define CONN_OUT_MAX (64u * 1024 * 1024) /* bytes queued for the socket at most */

/* conn_write over TLS: plaintext encrypted per call (one full TLS record), and the
 * ciphertext waiting for the socket above which it encrypts no more. */
#define CONN_TLS_PIECE (16u * 1024)
#define CONN_TLS_HIGH  (256u * 1024)

/* Non-error outcomes of conn_recv / conn_handshake (errors are -errno or CONN_ETLS). */
#define CONN_AGAIN (-EAGAIN)
#define CONN_ETLS  (-10000) /* a TLS failure: tls_error(conn->tls) tells which */

struct conn {
    int fd; /* the socket, -1 once closed */
    struct loop *loop;
    struct loop_io *io;           /* watcher; its callback belongs to the current owner */
    struct tls *tls;              /* NULL for plain HTTP */
    struct buf out;               /* ciphertext or plaintext waiting for the socket */
    struct sockaddr_storage addr; /* remote address */
    char remote_ip[64];           /* printable remote address */
    int connected;                /* the TCP connect completed */
    int eof;                      /* the peer closed its side */
    int write_blocked;            /* conn_write took nothing: wait for writability */
};

/* Starts a non-blocking connect to sa; events go to cb(data). Returns 0 or -errno (then
 * nothing is left open). */
int conn_open(struct conn *c, struct loop *l, const struct sockaddr *sa, loop_io_fn *cb,
              void *data);

/* Gives the watcher's events to another owner (the pool, a new request). */
void conn_set_owner(struct conn *c, loop_io_fn *cb, void *data);

/* After the socket became writable during the connect: 0, or -errno. */
int conn_connect_done(struct conn *c);

/* Wraps the connection in TLS (after the TCP connect). Returns 0 or -1 (err says why). */
int conn_tls_start(struct conn *c, struct tls_ctx *ctx, const char *host, int host_is_ip,
                   const char *origin_key, char *err, size_t errlen);

/* Advances the TLS handshake with whatever the socket has: 0 when finished, CONN_AGAIN,
 * CONN_ETLS, or -errno from the socket. */
int conn_handshake(struct conn *c);

/* Writes plaintext without keeping a copy of it: plain bytes go from p straight to the
 * socket once earlier output has left; TLS encrypts at most CONN_TLS_PIECE bytes at a
 * time, and only while less than CONN_TLS_HIGH bytes of ciphertext wait. So a large body
 * is never duplicated per connection, however slow the peer. Returns the bytes taken
 * (call again with the rest), 0 when the socket cannot take more now (write interest is
 * then on until conn_write is called again), -EPROTO when TLS failed, or -errno. */
int conn_write(struct conn *c, const void *p, size_t n);

/* Sends queued output: 0 when all went out, CONN_AGAIN when some is left (write
 * interest is then on), or -errno. */
int conn_flush(struct conn *c);
static inline size_t conn_pending(const struct conn *c)
{
    return buf_size(&c->out);
}

/* Nothing buffered, nothing owed: no output waiting, no byte received and not yet read
 * (in the socket's TLS layer), no EOF seen. The checklist before a connection is kept
 * for another request; the socket itself is checked by conn_idle_check. */
int conn_clean(const struct conn *c);

/* For an idle connection: reads whatever arrived (a TLS session ticket or key update is
 * consumed) and returns 1 when the connection can still carry a request, 0 when it
 * spoke out of turn, reached EOF or failed. */
int conn_idle_check(struct conn *c);

/* Receives plaintext: bytes (> 0), 0 at EOF (TCP FIN, TLS close_notify or TLS EOF),
 * CONN_AGAIN, CONN_ETLS or -errno (-ECONNRESET for a reset). */
ssize_t conn_recv(struct conn *c, void *dst, size_t cap);

/* Closes everything; c->fd becomes -1. Safe to call twice. */
void conn_close(struct conn *c);

#endif
