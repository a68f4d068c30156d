/*
 * tls.h -- TLS through OpenSSL memory BIOs. OpenSSL never touches a socket: the
 * connection reads ciphertext from its socket and feeds it in (tls_feed), and sends
 * whatever tls_* leaves in the output buffer. So TLS adds no blocking call and no second
 * I/O path, and it can be tested with no socket at all (two SSLs joined by buffers).
 *
 * One tls_ctx per engine: trust store, TLS 1.2 minimum, ALPN http/1.1, verification
 * mode, and the per-origin session cache used for resumption. One struct tls per
 * connection: its SSL and the two BIOs (owned by the SSL after SSL_set_bio).
 *
 * Every call that may produce ciphertext (handshake, read, write, shutdown) appends it
 * to the `out` buffer passed in; the caller must send it.
 *
 * Not thread-safe; no callbacks leave this module.
 */
#ifndef SALVO_TLS_H
#define SALVO_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "salvo.h"

struct tls_ctx;
struct tls;

enum tls_rc {
    TLS_OK = 0, /* handshake finished (tls_handshake) / progress made */
    TLS_AGAIN,  /* needs more ciphertext from the peer */
    TLS_CLOSED, /* the peer sent close_notify */
    TLS_EOF,    /* the TCP stream ended without close_notify (an EOF for HTTP) */
    TLS_ERROR   /* failed: tls_error() tells the class and the reason */
};

struct tls_ctx_config {
    int insecure;                     /* skip certificate verification */
    const char *cacert;               /* extra CA bundle, or NULL */
    const char *min_version_override; /* tests only: NULL keeps TLS 1.2 */
};

/* Returns 0, or -1 with a reason in err. */
int tls_ctx_new(struct tls_ctx **out, const struct tls_ctx_config *cfg, char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);

/* Facts about a finished (or failed) handshake, for the result record. Strings are
 * owned by struct tls and live as long as it does. */
struct tls_info {
    const char *version; /* "TLSv1.3" */
    const char *cipher;
    const char *alpn; /* NULL when none was negotiated */
    int resumed;
    char cert_expiry[32]; /* "" when no certificate was seen */
    char chain_expiry[32];
    int64_t cert_days_left;
    char *cert_subject; /* RFC 2253, malloc'd, NULL when none */
    char *cert_issuer;
};

/* Starts a client connection to host (a name, or an IP literal: then no SNI and the
 * certificate is checked against the address). origin_key names the session cache
 * entry ("host:port") used to resume. Returns NULL on failure (err says why). */
struct tls *tls_new(struct tls_ctx *ctx, const char *host, int host_is_ip, const char *origin_key,
                    char *err, size_t errlen);

/* Ciphertext from the socket. Returns 0 or -ENOMEM. */
int tls_feed(struct tls *t, const void *data, size_t len);
/* The socket reached EOF. */
void tls_feed_eof(struct tls *t);

/* Drives the handshake: TLS_OK when finished, TLS_AGAIN, or TLS_ERROR. */
enum tls_rc tls_handshake(struct tls *t, struct buf *out);

/* Reads decrypted bytes into dst. Returns the count (> 0), or -(enum tls_rc) for
 * TLS_AGAIN, TLS_CLOSED, TLS_EOF, TLS_ERROR. Handles post-handshake messages (session
 * tickets, key updates) transparently. */
long tls_read(struct tls *t, void *dst, size_t cap, struct buf *out);

/* Encrypts plain bytes into out. Returns len, or -TLS_ERROR; or -TLS_AGAIN when the
 * peer's bytes are needed first (only during a TLS 1.2 renegotiation): feed them, then
 * call again with the same bytes. len 0 returns 0. */
long tls_write(struct tls *t, const void *plain, size_t len, struct buf *out);

/* Bytes received and not yet read out: decrypted plaintext SSL_read has not returned,
 * plus ciphertext waiting in the read BIO. A response that arrived in one TLS record
 * and stray bytes in the next leave the socket empty but this non-zero: a connection
 * may go back to the pool only when it is 0. */
size_t tls_buffered(const struct tls *t);

/* The class (SALVO_E_TLS_VERIFY or SALVO_E_TLS_HANDSHAKE) and a one-line reason of the
 * last TLS_ERROR. */
salvo_err_t tls_error(const struct tls *t, const char **reason);

/* Handshake facts; valid after tls_handshake returned TLS_OK, and (certificate fields)
 * after a tls_verify failure too. */
const struct tls_info *tls_get_info(struct tls *t);

/* Sends close_notify (into out) unless the connection failed; never waits for the peer. */
void tls_shutdown(struct tls *t, struct buf *out);
void tls_free(struct tls *t);

#endif
