/*
 * tcp.c -- a TCP socket as the bottom transport. See tcp.h.
 */
#include "tcp.h"

#include <sys/socket.h>

#include "sock.h"

static struct tcp *tcp_of(struct transport *t)
{
    return (struct tcp *)t;
}

static int tcp_handshake(struct transport *t)
{
    (void)t;
    return 0; /* up once connected */
}

/* A blocking socket interrupted by a signal: the caller decides whether to go on. */
static ssize_t interrupted(const struct tcp *c, ssize_t rc)
{
    return c->interruptible && rc == -EINTR ? -EINTR : rc;
}

static ssize_t tcp_send(struct transport *t, const void *p, size_t n)
{
    struct tcp *c = tcp_of(t);
    ssize_t k;
    do {
        /* MSG_NOSIGNAL: a peer that closed must give EPIPE, not kill the process. */
        k = send(c->fd, p, n, MSG_NOSIGNAL);
    } while (k < 0 && errno == EINTR && !c->interruptible);
    if (k < 0)
        return interrupted(c, errno == EWOULDBLOCK ? -EAGAIN : -errno);
    return k;
}

static int tcp_flush(struct transport *t)
{
    (void)t;
    return 0; /* nothing is ever held here */
}

static ssize_t tcp_recv(struct transport *t, void *dst, size_t cap)
{
    struct tcp *c = tcp_of(t);
    ssize_t k;
    do {
        k = recv(c->fd, dst, cap, 0);
    } while (k < 0 && errno == EINTR && !c->interruptible);
    if (k == 0)
        c->eof = 1;
    if (k < 0)
        return interrupted(c, errno == EWOULDBLOCK ? -EAGAIN : -errno);
    return k;
}

static size_t tcp_pending(const struct transport *t)
{
    (void)t;
    return 0;
}

static void tcp_shutdown(struct transport *t)
{
    (void)t; /* the FIN goes with close() */
}

static void tcp_destroy(struct transport *t)
{
    (void)t; /* embedded in its connection, which closes the fd */
}

static const struct transport_ops tcp_ops = {
    .name = "tcp",
    .handshake = tcp_handshake,
    .send = tcp_send,
    .flush = tcp_flush,
    .recv = tcp_recv,
    .pending_in = tcp_pending,
    .pending_out = tcp_pending,
    .shutdown = tcp_shutdown,
    .destroy = tcp_destroy,
};

void tcp_init(struct tcp *t, int fd, int interruptible)
{
    t->t.ops = &tcp_ops;
    t->t.lower = NULL;
    t->fd = fd;
    t->eof = 0;
    t->interruptible = interruptible;
}
