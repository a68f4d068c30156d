/*
 * http1.h -- HTTP/1.1 responses: heads read line by line and checked by llhttp 8.1,
 * bodies delimited and decoded by salvo. (The request side is http1_request.h.)
 *
 * The parser knows nothing about sockets: the connection feeds it bytes as they arrive
 * (http1_feed) and tells it about EOF (http1_eof); it answers whether the response is
 * complete, needs more, or failed, and with which error class. This is what lets the
 * engine and the blocking baseline share it, and lets tests feed fixtures byte by byte.
 *
 * salvo reads each head itself, line by line, and hands llhttp a normalised copy: bare
 * LF line ends become CRLF (RFC 9112 2.2 lets a recipient accept them, as curl and
 * browsers do), a Content-Length repeated with the same value (or a list of identical
 * values) becomes one (RFC 9110 8.6), and "Transfer-Encoding: identity", an obsolete
 * spelling of no coding, is dropped. llhttp then checks the head as strictly as ever
 * (conflicting lengths, Content-Length with chunked, bad names and values). The body's
 * framing is salvo's own: a length, the chunked coding (chunked.h) or the close.
 *
 * Bounds: every byte of every head of a response (status lines, fields, line ends,
 * interim responses, trailers) counts against HTTP1_MAX_HEADER_BYTES (64 KiB), and the
 * decoded body against the max_body given to http1_begin; either overflow is
 * SALVO_E_TOO_LARGE. Nothing is buffered without a bound.
 *
 * Re-entrancy: no callback leaves this module; the caller acts on the return value
 * after http1_feed returns (llhttp's "do not tear down inside a callback").
 */
#ifndef SALVO_HTTP1_H
#define SALVO_HTTP1_H

#include <llhttp.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "chunked.h"
#include "decode.h"
#include "http1_request.h"
#include "salvo.h"

#define HTTP1_MAX_HEADER_BYTES  (64 * 1024)
#define HTTP1_REDIRECT_BODY_MAX (64 * 1024)
#define HTTP1_MSG_LEN           256

enum http1_rc {
    HTTP1_AGAIN, /* need more bytes */
    HTTP1_HEAD,  /* with pause_at_head: the final head has arrived; feed the rest after */
    HTTP1_DONE,  /* the final response is complete */
    HTTP1_ERROR  /* failed: see http1.err and http1.msg */
};

/* How the final response's body is delimited (RFC 9112 6.3). */
enum http1_framing {
    HTTP1_NO_BODY, /* HEAD, 204, 304, or Content-Length: 0 */
    HTTP1_LENGTH,  /* Content-Length bytes */
    HTTP1_CHUNKED, /* the chunked transfer coding */
    HTTP1_TO_EOF   /* until the connection closes */
};

#define HTTP1_MAX_CODINGS 4 /* content codings of one body, stacked, at most */

/* Takes decoded body bytes for the caller; returns 0, or an error class to stop with. */
typedef int http1_body_fn(void *ctx, const char *data, size_t len);

/* A response in progress. Embedded in a request's run state; reinitialised by http1_begin for
 * every response. */
struct http1 {
    llhttp_t parser; /* parses one head at a time; reinitialised per head */
    /* What the request expects. */
    int is_head;          /* the request was HEAD: the response has no body */
    int follow_redirects; /* a redirect's body is not the caller's (-L) */
    uint64_t max_body;    /* cap on decoded body bytes */
    /* The head being read. */
    int in_body;         /* 0: reading a head (interim or final); 1: the final body */
    unsigned head_line;  /* lines of the current head so far; 0 is the status line */
    int pending_cr;      /* a CR of the status line waits to see whether LF follows */
    struct buf line;     /* the current header line, without its line end (bounded) */
    struct buf norm;     /* normalised head bytes waiting for llhttp */
    char length[24];     /* the Content-Length passed on, "" while none */
    size_t header_bytes; /* bytes of every head of this response, trailers included */
    /* The final response. */
    int got_bytes;              /* any response byte arrived */
    int status;                 /* final status once its headers arrived, else 0 */
    enum http1_framing framing; /* how its body ends */
    uint64_t body_left;         /* HTTP1_LENGTH: bytes still to come */
    struct chunked chunked;     /* HTTP1_CHUNKED: the decoder */
    int discard;                /* a redirect to follow: its body is read and dropped */
    uint64_t discarded;         /* bytes dropped so */
    int done;                   /* the final response is complete */
    int keep_alive;             /* the connection may carry another request */
    uint64_t bytes;             /* decoded body bytes */
    uint64_t wire_bytes;        /* body bytes as received (chunk framing excluded) */
    EVP_MD_CTX *sha;            /* non-NULL when hashing the body */
    salvo_err_t err;            /* class of a failure, SALVO_E_OK while none */
    char msg[HTTP1_MSG_LEN];    /* detail of a failure */
    /* Header values the engine acts on (copied: the head's lines are transient). */
    struct buf field;       /* current header name, with keep_fields (bounded) */
    struct buf value;       /* current header value, when wanted (bounded) */
    char **slot;            /* where the current value goes (wanted), NULL: nowhere */
    int in_field;           /* a header line was read; its value may continue */
    char *location;         /* Location, malloc'd, NULL when absent */
    int location_conflict;  /* several different Location fields arrived */
    char *retry_after;      /* Retry-After, malloc'd, NULL when absent */
    char *content_encoding; /* Content-Encoding, malloc'd, NULL when absent */
    /* Content decoders, in the order the body passes them (the last coding listed is
     * undone first); ndec is 0 for an identity body. */
    struct decoder *dec[HTTP1_MAX_CODINGS];
    int ndec;
    /* What the caller asked for beyond counting and hashing (set after http1_begin). */
    int keep_fields;        /* keep every header field of the final response */
    int pause_at_head;      /* return HTTP1_HEAD once the final head has arrived */
    http1_body_fn *body_fn; /* decoded body bytes, as they come; NULL: none */
    int stopped;            /* the caller's callback asked to stop the transfer */
    void *body_ctx;
    struct buf fields;    /* with keep_fields: "name\0value\0" per field (bounded) */
    salvo_header_t *hdrs; /* ... and an index of them, built on demand */
    size_t nhdrs, hdrs_cap;
};

/* Whether a status is one that -L follows when a Location comes with it: 301, 302, 303,
 * 307 and 308. */
int http1_redirect_status(int status);

/* One-time set-up of the shared llhttp settings; idempotent. */
void http1_global_init(void);

/* Zeroes a new struct http1 once, before its first http1_begin. */
void http1_init(struct http1 *h);

/* Prepares h for the response to one request. hash: compute sha256 of the body;
 * follow_redirects: a redirect with a Location is followed (-L), so its body is read
 * only as far as keep-alive needs (at most HTTP1_REDIRECT_BODY_MAX bytes, else the
 * connection is given up), counted nowhere, and not waited for when it has no length.
 * Returns 0 or -ENOMEM. */
int http1_begin(struct http1 *h, int is_head, uint64_t max_body, int hash, int follow_redirects);

/* Feeds response bytes. On HTTP1_DONE, *used tells how many of the bytes belonged to
 * the response; bytes past it were never asked for and make the connection unusable
 * for keep-alive (h->keep_alive is cleared). */
enum http1_rc http1_feed(struct http1 *h, const char *data, size_t len, size_t *used);

/* The peer closed the connection (or TLS saw EOF). Ends a close-delimited body
 * (HTTP1_DONE), or fails with SALVO_E_EMPTY_REPLY (no byte at all) or SALVO_E_PARTIAL. */
enum http1_rc http1_eof(struct http1 *h);

/* The sha256 of the body as 64 hex digits plus NUL, after HTTP1_DONE with hashing on;
 * may be called once. */
void http1_sha256_hex(struct http1 *h, char out[65]);

/* The final response's header fields (with keep_fields), in order: an array owned by h,
 * valid until the next http1_begin. Returns the count (0 with *out NULL when none, or
 * on a shortage of memory). */
size_t http1_fields(struct http1 *h, const salvo_header_t **out);

/* Forgets the last response's status and byte counts (an attempt that fails before
 * sending reports none). */
void http1_clear(struct http1 *h);

/* Releases what http1_begin allocated; h may be begun again. */
void http1_end(struct http1 *h);

#endif
