/*
 * tls_transport.h -- TLS as a transport layer: a struct tls (tls.h: an SSL with two
 * memory BIOs, which never touches a socket) over any lower transport. Ciphertext from
 * the lower layer is fed in, ciphertext out waits in a buffer of this layer until the
 * lower layer takes it. The same code runs over a non-blocking socket (the engine) and a
 * blocking one (the blocking baseline).
 *
 * Flow control: send encrypts at most TLS_TRANSPORT_PIECE bytes per call and none while
 * TLS_TRANSPORT_HIGH bytes of ciphertext wait, so a large body is never held twice.
 */
#ifndef SALVO_TLS_TRANSPORT_H
#define SALVO_TLS_TRANSPORT_H

#include "tls.h"
#include "transport.h"

#define TLS_TRANSPORT_PIECE (16u * 1024)  /* plaintext per send: one full TLS record */
#define TLS_TRANSPORT_HIGH  (256u * 1024) /* ciphertext waiting, above which send waits */

/* A TLS layer for host over lower, which it then owns. origin_key names the session
 * cache entry used to resume ("host:port"). NULL on failure (err says why); lower is
 * then still the caller's. */
struct transport *tls_transport_new(struct transport *lower, struct tls_ctx *ctx, const char *host,
                                    int host_is_ip, const char *origin_key, char *err,
                                    size_t errlen);

/* The TLS session of a TLS layer (its facts and errors), NULL for another layer. */
struct tls *tls_transport_session(const struct transport *t);

#endif
