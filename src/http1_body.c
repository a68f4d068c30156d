/*
 * http1_body.c -- the body of a response. See http1_body.h.
 */
#include "http1_body.h"

#include <string.h>

/* Takes decoded body bytes: the cap, the count and the hash are about them, so that a
 * decompression bomb stops at --max-filesize (decode.h). Returns non-zero to stop. */
static int body_sink(void *ctx, const char *data, size_t len)
{
    struct http1 *h = ctx;
    char msg[64];

    if (len > h->max_body - h->bytes) {
        /* Count what fits: `bytes` then says exactly where the cap cut the body. */
        len = (size_t)(h->max_body - h->bytes);
        h->bytes += len;
        snprintf(msg, sizeof(msg), "body over %llu bytes", (unsigned long long)h->max_body);
        http1_fail(h, SALVO_E_TOO_LARGE, msg);
        return 1;
    }
    h->bytes += len;
    if (h->sha != NULL && EVP_DigestUpdate(h->sha, data, len) != 1) {
        http1_fail(h, SALVO_E_RESOURCE, "sha256 update failed");
        return 1;
    }
    if (h->body_fn != NULL && len > 0) {
        /* The caller's code: outside llhttp (which only ever sees heads) and TLS. */
        int cls = h->body_fn(h->body_ctx, data, len);
        if (cls != 0) {
            h->stopped = 1;
            http1_fail(h, (salvo_err_t)cls, "the transfer was stopped by the body callback");
            return 1;
        }
    }
    return 0;
}

/* The decoders form a chain: decoder i's output is decoder i+1's input, the last one's
 * goes to body_sink. One stage per decoder; ctx points at its index in h->stage. */
struct stage {
    struct http1 *h;
    int next; /* the decoder this stage's output goes to; ndec: body_sink */
};

static int stage_sink(void *ctx, const char *data, size_t len)
{
    const struct stage *st = ctx;
    struct http1 *h = st->h;

    if (st->next == h->ndec)
        return body_sink(h, data, len);
    struct stage down = {h, st->next + 1};
    int rc = decoder_feed(h->dec[st->next], data, len, stage_sink, &down);
    if (rc == DECODE_ERROR) {
        http1_fail(h, SALVO_E_DECODE, decoder_message(h->dec[st->next]));
        return 1;
    }
    return rc == DECODE_STOPPED;
}

/* Body bytes as they crossed the wire (chunk framing taken off). Returns non-zero to
 * stop: an error was recorded, or a discarded redirect body ran too long. */
static int deliver(void *ctx, const char *data, size_t len)
{
    struct http1 *h = ctx;
    struct stage first = {h, 0};

    if (h->discard) {
        h->discarded += len;
        return h->discarded > HTTP1_REDIRECT_BODY_MAX;
    }
    h->wire_bytes += len;
    return stage_sink(&first, data, len);
}

/* The body ended where its framing says. */
enum http1_rc http1_finish_body(struct http1 *h)
{
    for (int i = 0; i < h->ndec; i++) {
        /* Each decoder's stream must end; its last output has already gone down. */
        if (decoder_finish(h->dec[i]) != 0) {
            http1_fail(h, SALVO_E_DECODE, decoder_message(h->dec[i]));
            h->keep_alive = 0;
            return HTTP1_ERROR;
        }
    }
    h->done = 1;
    return HTTP1_DONE;
}

/* A redirect body longer than is worth reading: the redirect is followed now and the
 * connection given up, since the rest of the body is still on its way. */
enum http1_rc http1_give_up_discard(struct http1 *h)
{
    h->keep_alive = 0;
    h->done = 1;
    return HTTP1_DONE;
}

/* Reads body bytes; *n is how many belonged to the body. */
enum http1_rc http1_read_body(struct http1 *h, const char *data, size_t len, size_t *n)
{
    *n = 0;
    switch (h->framing) {
    case HTTP1_NO_BODY:
        return http1_finish_body(h);
    case HTTP1_LENGTH: {
        size_t take = len < h->body_left ? len : (size_t)h->body_left;
        *n = take;
        h->body_left -= take;
        if (deliver(h, data, take) != 0)
            return h->err != SALVO_E_OK ? HTTP1_ERROR : http1_give_up_discard(h);
        return h->body_left == 0 ? http1_finish_body(h) : HTTP1_AGAIN;
    }
    case HTTP1_CHUNKED: {
        enum chunked_rc rc = chunked_feed(&h->chunked, data, len, n, deliver, h);
        if (h->chunked.trailer_bytes > 0 && http1_count_head(h, h->chunked.trailer_bytes) < 0)
            return HTTP1_ERROR;
        h->chunked.trailer_bytes = 0; /* counted */
        if (rc == CHUNKED_ERROR) {
            snprintf(h->msg, sizeof h->msg, "invalid chunked body: %s", h->chunked.err);
            h->err = SALVO_E_PROTOCOL;
            return HTTP1_ERROR;
        }
        if (rc == CHUNKED_STOP)
            return h->err != SALVO_E_OK ? HTTP1_ERROR : http1_give_up_discard(h);
        return rc == CHUNKED_DONE ? http1_finish_body(h) : HTTP1_AGAIN;
    }
    case HTTP1_TO_EOF:
    default:
        *n = len;
        if (deliver(h, data, len) != 0)
            return h->err != SALVO_E_OK ? HTTP1_ERROR : http1_give_up_discard(h);
        return HTTP1_AGAIN;
    }
}
