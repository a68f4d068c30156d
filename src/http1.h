/*
 * http1.h -- HTTP/1.1 on the wire: the request writer and the response parser glue
 * around llhttp 8.1.
 *
 * The parser knows nothing about sockets: the connection feeds it bytes as they arrive
 * (http1_feed) and tells it about EOF (http1_eof); it answers whether the response is
 * complete, needs more, or failed, and with which error class. This is what lets the
 * engine and the blocking baseline share it, and lets tests feed fixtures byte by byte.
 *
 * Bounds: response headers are capped at HTTP1_MAX_HEADER_BYTES (64 KiB, all header
 * lines together) and the decoded body at the max_body given to http1_begin; either
 * overflow is SALVO_E_TOO_LARGE. Nothing is buffered without a bound.
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
#include "decode.h"
#include "salvo.h"
#include "url.h"

#define HTTP1_MAX_HEADER_BYTES (64 * 1024)
#define HTTP1_MSG_LEN          256

/* What one request looks like on the wire. */
struct http1_request {
    const char *method;         /* "GET", "HEAD", "POST", ... */
    const struct url *url;      /* target and Host come from here */
    const char *user_agent;     /* value of User-Agent, unless a header overrides it */
    const char *const *headers; /* extra "Name: value" lines, sent as given */
    size_t headers_len;
    const void *body; /* NULL for none */
    size_t body_len;
    int keepalive;  /* 0: send "Connection: close" */
    int compressed; /* send "Accept-Encoding: gzip, deflate" (a -H of that name replaces it) */
};

/* Checks what a caller may set on a request before it is queued: the method must be an
 * HTTP token; each header a "Name: value" line with a token name and no control byte in
 * its value; Content-Length and Transfer-Encoding are refused (salvo frames the body)
 * and Connection may only say close or keep-alive. Returns 0, or -1 with a one-line
 * reason in err. */
int http1_check_request(const char *method, const char *const *headers, size_t headers_len,
                        char *err, size_t errlen);

/* Whether the header lines ask for "Connection: close" (the connection is then not
 * kept for another request). */
int http1_asks_close(const char *const *headers, size_t headers_len);

/* Serialises the request into out. Returns 0 or negative errno. A header line holding
 * CR or LF is refused with -EINVAL (it would split the request). */
int http1_write_request(struct buf *out, const struct http1_request *req);

/* The same without the body: the head alone (its Content-Length counts the body), for
 * callers that send the body from where it already lies instead of copying it. */
int http1_write_head(struct buf *out, const struct http1_request *req);

enum http1_rc {
    HTTP1_AGAIN, /* need more bytes */
    HTTP1_DONE,  /* the final response is complete */
    HTTP1_ERROR  /* failed: see http1.err and http1.msg */
};

/* A response in progress. Embedded in the connection; reinitialised by http1_begin for
 * every response. */
struct http1 {
    llhttp_t parser;         /* reinitialised per response */
    int is_head;             /* the request was HEAD: the response has no body */
    uint64_t max_body;       /* cap on decoded body bytes */
    size_t header_bytes;     /* header bytes seen in this response, 1xx included */
    int got_bytes;           /* any response byte arrived */
    int status;              /* final status once its headers arrived, else 0 */
    int done;                /* the final response is complete */
    int keep_alive;          /* the connection may carry another request */
    uint64_t bytes;          /* decoded body bytes */
    uint64_t wire_bytes;     /* body bytes as received */
    EVP_MD_CTX *sha;         /* non-NULL when hashing the body */
    salvo_err_t err;         /* class of a failure, SALVO_E_OK while none */
    char msg[HTTP1_MSG_LEN]; /* detail of a failure */
    /* Header values the engine acts on (copied: llhttp's spans are borrowed). */
    struct buf field;       /* current header name (bounded) */
    struct buf value;       /* current header value (bounded) */
    char *location;         /* Location, malloc'd, NULL when absent */
    int location_conflict;  /* several different Location fields arrived */
    char *retry_after;      /* Retry-After, malloc'd, NULL when absent */
    char *content_encoding; /* Content-Encoding, malloc'd, NULL when absent */
    struct decoder *dec;    /* gzip/deflate decoder of the body, NULL for identity */
};

/* One-time set-up of the shared llhttp settings; idempotent. */
void http1_global_init(void);

/* Zeroes a new struct http1 once, before its first http1_begin. */
void http1_init(struct http1 *h);

/* Prepares h for the response to one request. hash: compute sha256 of the body.
 * Returns 0 or -ENOMEM. */
int http1_begin(struct http1 *h, int is_head, uint64_t max_body, int hash);

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

/* Forgets the last response's status and byte counts (an attempt that fails before
 * sending reports none). */
void http1_clear(struct http1 *h);

/* Releases what http1_begin allocated; h may be begun again. */
void http1_end(struct http1 *h);

#endif
