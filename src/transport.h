/*
 * transport.h -- a connection as a stack of byte-stream layers: TCP at the bottom, then
 * TLS, a proxy tunnel (tunnel.c), or later HTTP/2 framing, each a `struct transport` with
 * the same operations (wrk's net.h idea, curl's connection filters). The code above the
 * stack (a request sending a head and a body, reading a response) sees plaintext and
 * never asks which layers there are.
 *
 * Every operation is non-blocking on a non-blocking socket: TRANSPORT_AGAIN means "try
 * again when the socket is ready". On a blocking socket (the blocking baseline) the same
 * layers block in the socket calls instead, and TRANSPORT_AGAIN means the socket's
 * timeout expired.
 *
 * Ownership: each layer owns the layer below it (destroy frees the whole stack from the
 * top), except the TCP layer, which is embedded in the connection that owns the fd. No
 * layer calls the one above it.
 */
#ifndef SALVO_TRANSPORT_H
#define SALVO_TRANSPORT_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>

/* Results besides byte counts and 0 (errors are -errno or TRANSPORT_ETLS). */
#define TRANSPORT_AGAIN (-EAGAIN) /* nothing now: wait for the socket */
#define TRANSPORT_ETLS  (-10000)  /* a TLS failure: the TLS layer says which */

struct transport;

struct transport_ops {
    const char *name; /* "tcp", "tls", for traces */
    /* Brings the layer up (the TLS handshake): 0 when up, TRANSPORT_AGAIN, or an error. */
    int (*handshake)(struct transport *t);
    /* Takes up to n bytes of plaintext: the count taken (> 0), 0 when the layer takes
     * none before it has read from the peer (a TLS renegotiation), TRANSPORT_AGAIN when
     * the socket must drain first, or an error. */
    ssize_t (*send)(struct transport *t, const void *p, size_t n);
    /* Pushes what the layer holds for the socket: 0 when nothing is left,
     * TRANSPORT_AGAIN, or an error. */
    int (*flush)(struct transport *t);
    /* Reads plaintext: > 0 bytes, 0 at the end of the stream, TRANSPORT_AGAIN, or an
     * error. */
    ssize_t (*recv)(struct transport *t, void *dst, size_t cap);
    /* Bytes the layer received and the reader has not had yet, and bytes it took and
     * has not passed down yet. */
    size_t (*pending_in)(const struct transport *t);
    size_t (*pending_out)(const struct transport *t);
    /* Says goodbye to the peer (TLS close_notify), best effort; never waits. */
    void (*shutdown)(struct transport *t);
    /* Frees the layer and the layers below it that it owns. */
    void (*destroy)(struct transport *t);
};

struct transport {
    const struct transport_ops *ops;
    struct transport *lower; /* the layer below; NULL for the socket itself */
};

/* Nothing buffered, nothing owed, in any layer: the checklist a connection passes before
 * it may carry another request. */
static inline int transport_clean(const struct transport *t)
{
    for (; t != NULL; t = t->lower)
        if (t->ops->pending_in(t) != 0 || t->ops->pending_out(t) != 0)
            return 0;
    return 1;
}

#endif
