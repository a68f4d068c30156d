/*
 * conn.c -- one client connection: socket, watcher, optional TLS, output buffer.
 * See conn.h for the ownership rules.
 */
#include "conn.h"

#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

/* Ciphertext read per recv() while feeding TLS: large, because memory BIOs prefer few
 * big writes: writing to a memory BIO after a partial read moves the unread bytes. */
#define TLS_READ_CHUNK (64 * 1024)

static void update_interest(struct conn *c)
{
    unsigned interest = LOOP_READ;
    if (!c->connected || buf_size(&c->out) > 0 || c->write_blocked)
        interest |= LOOP_WRITE;
    if (loop_io_interest(c->io) != interest)
        (void)loop_io_set(c->io, interest);
}

int conn_open(struct conn *c, struct loop *l, const struct sockaddr *sa, loop_io_fn *cb, void *data)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->loop = l;
    buf_init(&c->out, CONN_OUT_MAX);
    memcpy(&c->addr, sa, sock_addr_len(sa));
    sock_addr_str(sa, c->remote_ip, sizeof c->remote_ip);

    int fd = sock_connect(sa, sock_addr_len(sa));
    if (fd < 0)
        return fd;
    c->fd = fd;
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

void conn_set_owner(struct conn *c, loop_io_fn *cb, void *data)
{
    loop_io_set_owner(c->io, cb, data);
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
    c->tls = tls_new(ctx, host, host_is_ip, origin_key, err, errlen);
    return c->tls != NULL ? 0 : -1;
}

/* Reads what the socket has into the TLS read BIO. Returns 0 when something (or EOF)
 * was fed, CONN_AGAIN when the socket is empty, or -errno. */
static int feed_tls(struct conn *c)
{
    char tmp[TLS_READ_CHUNK];
    ssize_t n = sock_recv(c->fd, tmp, sizeof tmp);
    if (n > 0)
        return tls_feed(c->tls, tmp, (size_t)n);
    if (n == 0) {
        c->eof = 1;
        tls_feed_eof(c->tls);
        return 0;
    }
    return (int)n;
}

int conn_handshake(struct conn *c)
{
    for (;;) {
        enum tls_rc rc = tls_handshake(c->tls, &c->out);
        int frc = conn_flush(c);
        if (frc < 0 && frc != CONN_AGAIN)
            return frc;
        if (rc == TLS_OK)
            return 0;
        if (rc != TLS_AGAIN)
            return CONN_ETLS;
        if (c->eof)
            return CONN_ETLS; /* tls_handshake saw the EOF and failed above */
        int f = feed_tls(c);
        if (f < 0)
            return f;
    }
}

/* Nothing taken: wait until the socket is writable again. */
static int write_blocked(struct conn *c)
{
    c->write_blocked = 1;
    update_interest(c);
    return 0;
}

int conn_write(struct conn *c, const void *p, size_t n)
{
    c->write_blocked = 0;
    if (c->tls != NULL) {
        int rc = conn_flush(c);
        if (rc < 0 && rc != CONN_AGAIN)
            return rc;
        if (buf_size(&c->out) >= CONN_TLS_HIGH)
            return write_blocked(c);
        size_t piece = n < CONN_TLS_PIECE ? n : CONN_TLS_PIECE;
        if (tls_write(c->tls, p, piece, &c->out) != (long)piece)
            return -EPROTO;
        rc = conn_flush(c);
        return rc < 0 && rc != CONN_AGAIN ? rc : (int)piece;
    }
    int rc = conn_flush(c);
    if (rc == CONN_AGAIN)
        return write_blocked(c);
    if (rc < 0)
        return rc;
    ssize_t k = sock_send(c->fd, p, n > INT_MAX ? INT_MAX : n);
    if (k == CONN_AGAIN)
        return write_blocked(c);
    return (int)k;
}

int conn_clean(const struct conn *c)
{
    return !c->eof && buf_size(&c->out) == 0 && (c->tls == NULL || tls_buffered(c->tls) == 0);
}

int conn_idle_check(struct conn *c)
{
    char tmp[512];
    return conn_clean(c) && conn_recv(c, tmp, sizeof tmp) == CONN_AGAIN;
}

int conn_flush(struct conn *c)
{
    while (buf_size(&c->out) > 0) {
        ssize_t k = sock_send(c->fd, buf_head(&c->out), buf_size(&c->out));
        if (k < 0) {
            update_interest(c);
            return (int)k; /* CONN_AGAIN == -EAGAIN, or a real error */
        }
        buf_consume(&c->out, (size_t)k);
    }
    update_interest(c);
    return 0;
}

ssize_t conn_recv(struct conn *c, void *dst, size_t cap)
{
    if (c->tls == NULL) {
        ssize_t n = sock_recv(c->fd, dst, cap);
        if (n == 0)
            c->eof = 1;
        return n;
    }
    for (;;) {
        long n = tls_read(c->tls, dst, cap, &c->out);
        /* tls_read may have produced alerts or KeyUpdate replies: send them. */
        if (buf_size(&c->out) > 0) {
            int frc = conn_flush(c);
            if (frc < 0 && frc != CONN_AGAIN)
                return frc;
        }
        if (n > 0)
            return n;
        if (n == -TLS_CLOSED || n == -TLS_EOF)
            return 0;
        if (n == -TLS_ERROR)
            return CONN_ETLS;
        if (c->eof)
            return 0; /* defensive: EOF already fed and still AGAIN */
        int f = feed_tls(c);
        if (f < 0)
            return f;
    }
}

void conn_close(struct conn *c)
{
    if (c->tls != NULL && c->fd >= 0) {
        /* A polite close_notify, sent once if the socket takes it; never waited on. */
        tls_shutdown(c->tls, &c->out);
        if (buf_size(&c->out) > 0)
            (void)sock_send(c->fd, buf_head(&c->out), buf_size(&c->out));
    }
    if (c->tls != NULL) {
        tls_free(c->tls);
        c->tls = NULL;
    }
    if (c->io != NULL) {
        loop_io_close(c->io);
        c->io = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    buf_free(&c->out);
}
