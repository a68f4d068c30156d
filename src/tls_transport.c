/*
 * tls_transport.c -- TLS over a lower transport. See tls_transport.h.
 *
 * Every call into tls.c may produce ciphertext (the ClientHello, Finished, alerts,
 * KeyUpdate replies, a close_notify), so every operation ends by pushing `out` down as
 * far as the lower layer takes it; what it does not take waits here (pending_out) and
 * the connection asks for writability until it is gone.
 */
#include "tls_transport.h"

#include <stdio.h>
#include <stdlib.h>

#include "buf.h"

/* Ciphertext read from the lower layer per call: one TLS record at most, and its header. */
#define CIPHER_READ (16 * 1024 + 512)

struct tls_layer {
    struct transport t; /* first: a struct tls_layer is a struct transport */
    struct tls *tls;
    struct buf out; /* ciphertext the lower layer has not taken yet */
    int eof;        /* the lower layer ended: told to TLS, which then reads EOF */
};

static struct tls_layer *layer_of(const struct transport *t)
{
    return (struct tls_layer *)t;
}

static int flush_out(struct tls_layer *l)
{
    while (buf_size(&l->out) > 0) {
        ssize_t k = l->t.lower->ops->send(l->t.lower, buf_head(&l->out), buf_size(&l->out));
        if (k == 0)
            return TRANSPORT_AGAIN;
        if (k < 0)
            return (int)k;
        buf_consume(&l->out, (size_t)k);
    }
    return l->t.lower->ops->flush(l->t.lower);
}

/* Pushes output after a TLS call; "the socket is full" is no failure here. */
static int push(struct tls_layer *l)
{
    int rc = flush_out(l);
    return rc == TRANSPORT_AGAIN ? 0 : rc;
}

/* Reads ciphertext from below into TLS: 0 when something (or the end) was fed,
 * TRANSPORT_AGAIN, or an error. */
static int pull(struct tls_layer *l)
{
    char tmp[CIPHER_READ];
    ssize_t n = l->t.lower->ops->recv(l->t.lower, tmp, sizeof tmp);
    if (n > 0)
        return tls_feed(l->tls, tmp, (size_t)n);
    if (n == 0) {
        l->eof = 1;
        tls_feed_eof(l->tls);
        return 0;
    }
    return (int)n;
}

static int tls_layer_handshake(struct transport *t)
{
    struct tls_layer *l = layer_of(t);
    for (;;) {
        enum tls_rc rc = tls_handshake(l->tls, &l->out);
        int prc = push(l);
        if (prc < 0)
            return prc;
        if (rc == TLS_OK)
            return 0;
        if (rc != TLS_AGAIN || l->eof)
            return TRANSPORT_ETLS; /* tls_handshake saw the failure or the EOF */
        int f = pull(l);
        if (f < 0)
            return f;
    }
}

static ssize_t tls_layer_send(struct transport *t, const void *p, size_t n)
{
    struct tls_layer *l = layer_of(t);
    int rc = flush_out(l);
    if (rc < 0 && rc != TRANSPORT_AGAIN)
        return rc;
    if (buf_size(&l->out) >= TLS_TRANSPORT_HIGH)
        return TRANSPORT_AGAIN;
    size_t piece = n < TLS_TRANSPORT_PIECE ? n : TLS_TRANSPORT_PIECE;
    long k = tls_write(l->tls, p, piece, &l->out);
    if (k == -TLS_AGAIN)
        return 0; /* a renegotiation wants the peer's bytes first: read, then send */
    if (k < 0)
        return TRANSPORT_ETLS;
    rc = push(l);
    return rc < 0 ? rc : (ssize_t)k;
}

static int tls_layer_flush(struct transport *t)
{
    return flush_out(layer_of(t));
}

static ssize_t tls_layer_recv(struct transport *t, void *dst, size_t cap)
{
    struct tls_layer *l = layer_of(t);
    for (;;) {
        long n = tls_read(l->tls, dst, cap, &l->out);
        /* Reads write too (alerts, KeyUpdate replies): send them. */
        int prc = push(l);
        if (prc < 0)
            return prc;
        if (n > 0)
            return n;
        if (n == -TLS_CLOSED || n == -TLS_EOF)
            return 0;
        if (n == -TLS_ERROR)
            return TRANSPORT_ETLS;
        if (l->eof)
            return 0; /* defensive: the end was fed and TLS still asks for more */
        int f = pull(l);
        if (f < 0)
            return f;
    }
}

static size_t tls_layer_pending_in(const struct transport *t)
{
    return tls_buffered(layer_of(t)->tls);
}

static size_t tls_layer_pending_out(const struct transport *t)
{
    return buf_size(&layer_of(t)->out);
}

static void tls_layer_shutdown(struct transport *t)
{
    struct tls_layer *l = layer_of(t);
    tls_shutdown(l->tls, &l->out);
    (void)flush_out(l); /* one try: the connection is going away */
}

static void tls_layer_destroy(struct transport *t)
{
    struct tls_layer *l = layer_of(t);
    struct transport *lower = t->lower;
    tls_free(l->tls);
    buf_free(&l->out);
    free(l);
    lower->ops->destroy(lower);
}

static const struct transport_ops tls_layer_ops = {
    .name = "tls",
    .handshake = tls_layer_handshake,
    .send = tls_layer_send,
    .flush = tls_layer_flush,
    .recv = tls_layer_recv,
    .pending_in = tls_layer_pending_in,
    .pending_out = tls_layer_pending_out,
    .shutdown = tls_layer_shutdown,
    .destroy = tls_layer_destroy,
};

struct transport *tls_transport_new(struct transport *lower, struct tls_ctx *ctx, const char *host,
                                    int host_is_ip, const char *origin_key, char *err,
                                    size_t errlen)
{
    struct tls_layer *l = calloc(1, sizeof *l);
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->tls = tls_new(ctx, host, host_is_ip, origin_key, err, errlen);
    if (l->tls == NULL) {
        free(l);
        return NULL;
    }
    /* The cap only bounds a peer that never reads: TLS_TRANSPORT_HIGH plus one piece. */
    buf_init(&l->out, 4 * TLS_TRANSPORT_HIGH);
    l->t.ops = &tls_layer_ops;
    l->t.lower = lower;
    return &l->t;
}

struct tls *tls_transport_session(const struct transport *t)
{
    return t != NULL && t->ops == &tls_layer_ops ? layer_of(t)->tls : NULL;
}
