/*
 * conn.c -- one client connection: socket, watcher and its stack of transports. See
 * conn.h for the ownership rules.
 */
#include "conn.h"

#include <string.h>
#include <unistd.h>

#include "sock.h"
#include "tls_transport.h"

/* Output some layer holds for the socket. */
static size_t pending_out(const struct conn *c)
{
    size_t n = 0;
    for (const struct transport *t = c->top; t != NULL; t = t->lower)
        n += t->ops->pending_out(t);
    return n;
}

static void update_interest(struct conn *c)
{
    if (c->io == NULL)
        return; /* blocking: no loop */
    unsigned interest = LOOP_READ;
    if (!c->connected || c->write_blocked || pending_out(c) > 0)
        interest |= LOOP_WRITE;
    if (loop_io_interest(c->io) != interest)
        (void)loop_io_set(c->io, interest);
}

static void init_common(struct conn *c, int fd, const struct sockaddr *sa, int blocking)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    sock_addr_str(sa, c->remote_ip, sizeof c->remote_ip);
    tcp_init(&c->tcp, fd, blocking);
    c->top = &c->tcp.t;
}

int conn_open(struct conn *c, struct loop *l, const struct sockaddr *sa, loop_io_fn *cb, void *data)
{
    int fd = sock_connect(sa, sock_addr_len(sa));
    init_common(c, -1, sa, 0);
    if (fd < 0)
        return fd;
    init_common(c, fd, sa, 0);
    c->loop = l;
    c->io = loop_io_new(l, fd, cb, data);
    if (c->io == NULL) {
        close(fd);
        c->fd = -1;
        return -ENOMEM;
    }
    /* Writable means the connect finished, one way or the other. */
    int rc = loop_io_set(c->io, LOOP_READ | LOOP_WRITE);
    if (rc < 0) {
        conn_close(c);
        return rc;
    }
    return 0;
}

void conn_init_blocking(struct conn *c, int fd, const struct sockaddr *sa)
{
    init_common(c, fd, sa, 1);
    c->connected = 1;
}

void conn_set_owner(struct conn *c, loop_io_fn *cb, void *data, const char *what, uint64_t id)
{
    loop_io_set_owner(c->io, cb, data);
    loop_io_set_label(c->io, what, id);
}

int conn_connect_done(struct conn *c)
{
    int rc = sock_connect_result(c->fd);
    if (rc == 0) {
        c->connected = 1;
        update_interest(c);
    }
    return rc;
}

int conn_tls_start(struct conn *c, struct tls_ctx *ctx, const char *host, int host_is_ip,
                   const char *origin_key, char *err, size_t errlen)
{
    struct transport *t = tls_transport_new(c->top, ctx, host, host_is_ip, origin_key, err, errlen);
    if (t == NULL)
        return -1;
    c->top = t;
    return 0;
}

void conn_push(struct conn *c, struct transport *t)
{
    c->top = t;
}

void conn_proxy_done(struct conn *c)
{
    c->proxy_top = c->top;
}

struct tls *conn_tls(const struct conn *c)
{
    return c->top == c->proxy_top ? NULL : tls_transport_session(c->top);
}

struct tls *conn_failed_tls(const struct conn *c, int *to_proxy)
{
    /* Layers at and below proxy_top reach the proxy; before conn_proxy_done every layer
     * does, when the connection goes through one. */
    int below = c->proxy_top == NULL && c->through_proxy;
    for (const struct transport *t = c->top; t != NULL; t = t->lower) {
        below = below || t == c->proxy_top;
        struct tls *s = tls_transport_session(t);
        if (s != NULL && tls_error(s, NULL) != SALVO_E_OK) {
            *to_proxy = below;
            return s;
        }
    }
    *to_proxy = below;
    return NULL;
}

int conn_handshake(struct conn *c)
{
    int rc = c->top->ops->handshake(c->top);
    update_interest(c);
    return rc;
}

ssize_t conn_write(struct conn *c, const void *p, size_t n)
{
    ssize_t k = c->top->ops->send(c->top, p, n);
    c->write_blocked = k == CONN_AGAIN;
    update_interest(c);
    return k;
}

int conn_flush(struct conn *c)
{
    int rc = c->top->ops->flush(c->top);
    update_interest(c);
    return rc;
}

ssize_t conn_recv(struct conn *c, void *dst, size_t cap)
{
    ssize_t n = c->top->ops->recv(c->top, dst, cap);
    update_interest(c); /* TLS may have queued an alert or a KeyUpdate reply */
    return n;
}

size_t conn_pending_in(const struct conn *c)
{
    size_t n = 0;
    for (const struct transport *t = c->top; t != NULL; t = t->lower)
        n += t->ops->pending_in(t);
    return n;
}

int conn_clean(const struct conn *c)
{
    return !conn_eof(c) && transport_clean(c->top);
}

int conn_idle_check(struct conn *c)
{
    char tmp[512];
    return conn_clean(c) && conn_recv(c, tmp, sizeof tmp) == CONN_AGAIN;
}

void conn_close(struct conn *c)
{
    if (c->top != NULL) {
        /* A polite close_notify, sent once if the socket takes it; never waited on. */
        if (c->fd >= 0 && c->connected)
            c->top->ops->shutdown(c->top);
        c->top->ops->destroy(c->top);
        c->top = NULL;
    }
    if (c->io != NULL) {
        loop_io_close(c->io);
        c->io = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}
