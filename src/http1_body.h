/*
 * http1_body.h -- the body of a response (internal to http1.c): read as its framing says
 * (a length, the chunked coding, or the close), undone by the content decoders, counted,
 * capped, hashed and handed to the caller's sink. Also the two helpers the head reader
 * and the body reader share: recording a failure, and counting head bytes against the cap.
 */
#ifndef SALVO_HTTP1_BODY_H
#define SALVO_HTTP1_BODY_H

#include <stdio.h>

#include "http1.h"

static inline int http1_fail(struct http1 *h, salvo_err_t err, const char *msg)
{
    h->err = err;
    snprintf(h->msg, sizeof(h->msg), "%s", msg);
    llhttp_set_error_reason(&h->parser, h->msg); /* outlives the callback */
    return HPE_USER;
}

/* Counts raw head bytes (of any head of the response, and trailers) against the cap. */
static inline int http1_count_head(struct http1 *h, size_t n)
{
    if (n > HTTP1_MAX_HEADER_BYTES - h->header_bytes) {
        h->header_bytes = HTTP1_MAX_HEADER_BYTES;
        http1_fail(h, SALVO_E_TOO_LARGE, "response headers over 64 KiB");
        return -1;
    }
    h->header_bytes += n;
    return 0;
}

/* Reads body bytes; *n is how many belonged to the body. */
enum http1_rc http1_read_body(struct http1 *h, const char *data, size_t len, size_t *n);

/* The body ended where its framing says: the decoders' streams must have ended too. */
enum http1_rc http1_finish_body(struct http1 *h);

/* A redirect body longer than is worth reading: the redirect is followed now and the
 * connection given up, since the rest of the body is still on its way. */
enum http1_rc http1_give_up_discard(struct http1 *h);

#endif
