/*
 * fuzz_tunnel.c -- libFuzzer target for the proxy tunnels (tunnel.c): a hostile proxy's
 * answers to CONNECT and to the SOCKS5 exchange, arriving in pieces of any size.
 *
 * Input: byte 0 picks the tunnel (even: HTTP CONNECT; odd: SOCKS5, with credentials when
 * bit 1 is set, by name when bit 2 is set), byte 1 the largest piece the fake lower layer
 * hands out per recv (1 .. 256), the rest is what the proxy says.
 *
 * Checked promises: the handshake ends (up, refused with a reason, or waiting for more
 * when the input ran out) and never reads past the proxy's answer: once the tunnel is
 * up, the bytes after the answer come out of recv unchanged and in order; a refusal
 * always says why; nothing is ever left pending inside the tunnel.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The lower layer: what the proxy says, in pieces; everything sent is taken. */
struct fake {
    struct transport t;
    const uint8_t *in;
    size_t len, off, piece;
};

static ssize_t fake_send(struct transport *t, const void *p, size_t n)
{
    (void)t;
    (void)p;
    return (ssize_t)n;
}

static int fake_flush(struct transport *t)
{
    (void)t;
    return 0;
}

static ssize_t fake_recv(struct transport *t, void *dst, size_t cap)
{
    struct fake *f = (struct fake *)t;
    if (f->off == f->len)
        return TRANSPORT_AGAIN; /* the proxy says nothing more: wait */
    size_t n = f->len - f->off;
    if (n > cap)
        n = cap;
    if (n > f->piece)
        n = f->piece;
    memcpy(dst, f->in + f->off, n);
    f->off += n;
    return (ssize_t)n;
}

static int fake_handshake(struct transport *t)
{
    (void)t;
    return 0;
}

static size_t fake_pending(const struct transport *t)
{
    (void)t;
    return 0;
}

static void fake_shutdown(struct transport *t)
{
    (void)t;
}

static void fake_destroy(struct transport *t)
{
    (void)t; /* on the stack */
}

static const struct transport_ops fake_ops = {
    .name = "fake",
    .handshake = fake_handshake,
    .send = fake_send,
    .flush = fake_flush,
    .recv = fake_recv,
    .pending_in = fake_pending,
    .pending_out = fake_pending,
    .shutdown = fake_shutdown,
    .destroy = fake_destroy,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct fake f = {.t = {.ops = &fake_ops}, .in = data + 2, .len = size - 2};
    f.piece = (size_t)data[1] + 1;
    struct transport *t;
    if ((data[0] & 1) == 0)
        t = tunnel_connect_new(&f.t, "target.test:443", "Basic dXNlcjpwYXNz", "salvo-fuzz");
    else
        t = tunnel_socks5_new(&f.t, (data[0] & 4) ? "target.test" : "127.0.0.1", (data[0] & 4) != 0,
                              443, (data[0] & 2) ? "user" : NULL, "pass");
    if (t == NULL)
        abort();
    /* Every call either makes progress or waits: the input is finite, so this ends. */
    int rc;
    size_t calls = 0;
    do {
        rc = t->ops->handshake(t);
        if (++calls > f.len + 16)
            abort(); /* no progress while bytes were still there */
    } while (rc == TRANSPORT_AGAIN && f.off < f.len);
    if (t->ops->pending_in(t) != 0)
        abort();
    if (rc == TUNNEL_EREFUSED) {
        int final;
        const char *why = tunnel_error(t, &final);
        if (why == NULL || why[0] == '\0')
            abort();
    } else if (rc == 0) {
        /* The rest is the target's stream: it must come through whole and in order. */
        size_t answer_end = f.off;
        uint8_t buf[300];
        size_t got = 0;
        ssize_t n;
        while ((n = t->ops->recv(t, buf, sizeof buf)) > 0) {
            if (memcmp(buf, f.in + answer_end + got, (size_t)n) != 0)
                abort();
            got += (size_t)n;
        }
        if (answer_end + got != f.len)
            abort();
    } else if (rc != TRANSPORT_AGAIN) {
        abort(); /* the fake lower layer never fails */
    }
    t->ops->destroy(t);
    return 0;
}
