/*
 * blocking.c -- the blocking baseline (--blocking, salvo_config_t.blocking): the same
 * requests and the same records as the engine, one URL at a time, the way a simple
 * script does it: getaddrinfo, connect, SSL_connect, send and recv on a blocking socket.
 *
 * It shares everything but the I/O model with the engine: the URL parser, the request
 * writer and the response parser (http1, gzip included), TLS set-up and verification
 * (tls, through a socket BIO instead of memory BIOs), --resolve pins (dns), the retry
 * and redirect rules and the record (result). So bench/ compares the I/O model alone.
 *
 * Deadlines, and where a blocking call cannot honour one:
 *   - getaddrinfo has no deadline at all: a silent resolver costs glibc's own timeouts
 *     (5 s x 2 tries by default), whatever --connect-timeout says. Its failures are
 *     still classified (dns, dns_timeout for EAI_AGAIN).
 *   - connect and the TLS handshake share what is left of --connect-timeout (counted
 *     from the start of the attempt) through SO_SNDTIMEO and SO_RCVTIMEO; Linux applies
 *     SO_SNDTIMEO to a blocking connect.
 *   - The send and every recv get what is left of --max-time the same way, set again
 *     before each call.
 * There is no keep-alive (every request says Connection: close) and no concurrency.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "redirect.h"
#include "retry.h"
#include "sock.h"

#define RECV_CHUNK (64 * 1024)

/* One attempt's connection: the socket and, for https, its TLS session. */
struct bconn {
    int fd;
    struct tls *tls;
    uint64_t connect_deadline_us; /* --connect-timeout: DNS, connect and TLS */
    uint64_t deadline_us;         /* --max-time for this attempt */
};

static uint64_t now_us(void)
{
    return loop_now_us();
}

static double ms_between(uint64_t a, uint64_t b)
{
    return (double)(b - a) / 1000.0;
}

/* Sets both socket timeouts to what is left until deadline (at least 1 ms: a zero
 * timeval would mean "forever"). Returns 0, or -1 when the deadline has passed. */
static int set_timeouts(int fd, uint64_t deadline_us)
{
    uint64_t now = now_us();
    if (now >= deadline_us)
        return -1;
    uint64_t left = deadline_us - now;
    if (left < 1000)
        left = 1000;
    struct timeval tv = {.tv_sec = (time_t)(left / 1000000),
                         .tv_usec = (suseconds_t)(left % 1000000)};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return 0;
}

static salvo_err_t fail(struct req_attempt *a, salvo_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static salvo_err_t fail(struct req_attempt *a, salvo_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    a->err = err;
    return err;
}

/* ---- phases --------------------------------------------------------------------- */

/* Pins first (as the engine), then the system resolver. */
static salvo_err_t resolve(struct req *r, struct dns_answer *ans)
{
    struct req_attempt *a = &r->run->a;
    uint64_t t0 = now_us();
    if (dns_pinned(r->eng->dns, r->url.host, r->url.port, ans)) {
        a->dns_ms = 0;
        return SALVO_E_OK;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", r->url.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(r->url.host, port, &hints, &res);
    a->dns_ms = ms_between(t0, now_us());
    if (rc != 0)
        return fail(a, rc == EAI_AGAIN ? SALVO_E_DNS_TIMEOUT : SALVO_E_DNS, "%s: %s", r->url.host,
                    gai_strerror(rc));
    ans->n = 0;
    for (struct addrinfo *ai = res; ai != NULL && ans->n < DNS_MAX_ADDRS; ai = ai->ai_next)
        memcpy(&ans->addrs[ans->n++], ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(res);
    return SALVO_E_OK;
}

static salvo_err_t connect_one(struct req *r, const struct sockaddr *sa, struct bconn *c)
{
    struct req_attempt *a = &r->run->a;
    sock_addr_str(sa, a->remote_ip, sizeof a->remote_ip);
    c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return fail(a, SALVO_E_RESOURCE, "socket: %s", strerror(errno));
    uint64_t t0 = now_us();
    int e = ETIMEDOUT;
    if (set_timeouts(c->fd, c->connect_deadline_us) == 0 &&
        connect(c->fd, sa, sock_addr_len(sa)) == 0) {
        a->connect_ms = ms_between(t0, now_us());
        return SALVO_E_OK;
    }
    if (now_us() < c->connect_deadline_us)
        e = errno;
    close(c->fd);
    c->fd = -1;
    /* SO_SNDTIMEO makes a blocking connect give up with EINPROGRESS. */
    if (e == EINPROGRESS || e == EAGAIN || e == ETIMEDOUT)
        return fail(a, SALVO_E_CONNECT_TIMEOUT, "connect to %s: no answer within %g s",
                    a->remote_ip, r->eng->cfg.connect_timeout);
    salvo_err_t cls = e == ECONNREFUSED                                    ? SALVO_E_CONNECT_REFUSED
                      : (e == EMFILE || e == ENFILE || e == EADDRNOTAVAIL) ? SALVO_E_RESOURCE
                                                                           : SALVO_E_CONNECT_ERROR;
    return fail(a, cls, "connect to %s port %u: %s", a->remote_ip, r->url.port, strerror(e));
}

static salvo_err_t handshake(struct req *r, struct bconn *c)
{
    struct req_attempt *a = &r->run->a;
    char err[256], key[300];
    if (engine_tls(r->eng) == NULL)
        return fail(a, SALVO_E_RESOURCE, "TLS set-up failed: %s", r->eng->tls_err);
    snprintf(key, sizeof key, "%s:%u", r->url.host, r->url.port);
    c->tls =
        tls_new_fd(r->eng->tls, c->fd, r->url.host, r->url.host_is_ip != 0, key, err, sizeof err);
    if (c->tls == NULL)
        return fail(a, SALVO_E_RESOURCE, "TLS set-up failed: %s", err);
    uint64_t t0 = now_us();
    struct buf unused; /* a socket BIO leaves nothing to drain */
    buf_init(&unused, 0);
    if (set_timeouts(c->fd, c->connect_deadline_us) < 0)
        return fail(a, SALVO_E_TLS_TIMEOUT, "no time left for the TLS handshake");
    enum tls_rc rc = tls_handshake(c->tls, &unused);
    if (rc == TLS_OK) {
        a->tls_ms = ms_between(t0, now_us());
        req_capture_tls(a, c->tls, 1);
        return SALVO_E_OK;
    }
    if (rc == TLS_AGAIN) /* the socket timed out inside SSL_connect */
        return fail(a, SALVO_E_TLS_TIMEOUT, "TLS handshake: no answer within %g s",
                    r->eng->cfg.connect_timeout);
    const char *why = NULL;
    salvo_err_t cls = tls_error(c->tls, &why);
    req_capture_tls(a, c->tls, 0);
    return fail(a, cls, "%s", why ? why : "TLS handshake failed");
}

/* Sends n bytes from p, or classifies why not. */
static salvo_err_t send_all(struct req *r, struct bconn *c, const char *p, size_t n)
{
    struct req_attempt *a = &r->run->a;
    struct buf unused;
    buf_init(&unused, 0);
    while (n > 0) {
        if (set_timeouts(c->fd, c->deadline_us) < 0)
            return fail(a, SALVO_E_TIMEOUT, "max time passed while sending");
        long k;
        if (c->tls != NULL) {
            k = tls_write(c->tls, p, n, &unused);
            if (k == -TLS_AGAIN)
                return fail(a, SALVO_E_TIMEOUT, "max time passed while sending");
            if (k <= 0)
                return fail(a, SALVO_E_RESET, "sending the request: TLS write failed");
        } else {
            k = (long)sock_send(c->fd, p, n);
            if (k == -EAGAIN)
                return fail(a, SALVO_E_TIMEOUT, "max time passed while sending");
            if (k < 0)
                return fail(a, SALVO_E_RESET, "sending the request: %s", strerror((int)-k));
        }
        p += k;
        n -= (size_t)k;
    }
    return SALVO_E_OK;
}

/* Sends the head, then the body from its one shared copy. */
static salvo_err_t send_request(struct req *r, struct bconn *c)
{
    struct buf *w = &r->run->wire;
    r->run->a.sent = 1;
    salvo_err_t e = send_all(r, c, buf_head(w), buf_size(w));
    if (e == SALVO_E_OK && r->body != NULL)
        e = send_all(r, c, r->body->data, r->body->len);
    if (e == SALVO_E_OK)
        r->run->a.t_sent = now_us();
    return e;
}

/* One read: bytes, 0 at EOF, -EAGAIN on timeout, or another -errno / CONN_ETLS. A
 * signal interrupts it (-EINTR): that is how SIGINT reaches a blocked baseline. */
static long read_some(struct bconn *c, char *dst, size_t cap)
{
    if (c->tls == NULL) {
        ssize_t k = recv(c->fd, dst, cap, 0);
        if (k >= 0)
            return (long)k;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
    struct buf unused;
    buf_init(&unused, 0);
    long n = tls_read(c->tls, dst, cap, &unused);
    if (n > 0)
        return n;
    if (n == -TLS_CLOSED || n == -TLS_EOF)
        return 0;
    return n == -TLS_AGAIN ? -EAGAIN : CONN_ETLS;
}

static salvo_err_t receive(struct req *r, struct bconn *c)
{
    struct req_run *x = r->run;
    struct req_attempt *a = &x->a;
    char chunk[RECV_CHUNK];
    for (;;) {
        if (set_timeouts(c->fd, c->deadline_us) < 0)
            return fail(a, SALVO_E_TIMEOUT, "max time of %g s passed while receiving",
                        r->eng->cfg.max_time);
        long n = read_some(c, chunk, sizeof chunk);
        if (n == -EINTR && r->eng->cancel_requested)
            return fail(a, SALVO_E_CANCELLED, "the run was interrupted");
        if (n == -EINTR)
            continue;
        if (n == -EAGAIN)
            return fail(a, SALVO_E_TIMEOUT, "max time of %g s passed while receiving",
                        r->eng->cfg.max_time);
        if (n == CONN_ETLS)
            return fail(a, SALVO_E_PROTOCOL, "TLS error while receiving");
        if (n < 0)
            return fail(a, n == -ETIMEDOUT ? SALVO_E_TIMEOUT : SALVO_E_RESET,
                        "reading the response: %s", strerror((int)-n));
        enum http1_rc rc;
        if (n > 0) {
            r->eng->stats.bytes_received += (uint64_t)n;
            if (a->t_first_byte == 0) {
                a->t_first_byte = now_us();
                a->ttfb_ms = ms_between(a->t_sent, a->t_first_byte);
            }
            size_t used;
            rc = http1_feed(&x->http, chunk, (size_t)n, &used);
        } else {
            rc = http1_eof(&x->http);
        }
        a->status = x->http.status;
        if (rc == HTTP1_DONE) {
            a->transfer_ms = ms_between(a->t_first_byte ? a->t_first_byte : a->t_sent, now_us());
            return SALVO_E_OK;
        }
        if (rc == HTTP1_ERROR)
            return fail(a, x->http.err, "%s", x->http.msg);
    }
}

/* ---- one attempt, one request ------------------------------------------------------ */

static salvo_err_t exchange(struct req *r, struct bconn *c)
{
    struct req_run *x = r->run;
    const salvo_config_t *cfg = &r->eng->cfg;
    if (r->url.tls) {
        salvo_err_t e = handshake(r, c);
        if (e != SALVO_E_OK)
            return e;
    }
    struct http1_request hr = {
        .method = r->method,
        .url = &r->url,
        .user_agent = r->eng->user_agent,
        .headers = (const char *const *)r->headers,
        .headers_len = r->headers_len,
        .body = r->body ? r->body->data : NULL,
        .body_len = r->body ? r->body->len : 0,
        .keepalive = 0,
        .compressed = 1,
    };
    buf_reset(&x->wire);
    if (http1_write_head(&x->wire, &hr) < 0 ||
        http1_begin(&x->http, r->is_head, cfg->max_filesize, cfg->hash, cfg->follow_redirects) < 0)
        return fail(&x->a, SALVO_E_RESOURCE, "cannot build the request");
    salvo_err_t e = send_request(r, c);
    if (e == SALVO_E_OK)
        e = receive(r, c);
    if (e == SALVO_E_OK && cfg->hash)
        http1_sha256_hex(&x->http, x->sha256);
    return e;
}

static salvo_err_t attempt(struct req *r)
{
    struct req_run *x = r->run;
    uint64_t start = now_us();
    if (r->t_first_attempt == 0)
        r->t_first_attempt = start;
    r->attempts++;
    r->eng->stats.attempts++;
    r->eng->stats.retries += r->attempts > 1;
    http1_clear(&x->http);
    x->sha256[0] = '\0';
    req_attempt_reset(&x->a, start);
    struct dns_answer ans;
    salvo_err_t e = resolve(r, &ans);
    if (e != SALVO_E_OK)
        return e;
    struct bconn c = {
        .fd = -1,
        .connect_deadline_us = start + (uint64_t)(r->eng->cfg.connect_timeout * 1e6),
        .deadline_us = start + (uint64_t)(r->eng->cfg.max_time * 1e6),
    };
    for (size_t i = 0; i < ans.n; i++) {
        e = connect_one(r, (const struct sockaddr *)&ans.addrs[i], &c);
        if (e == SALVO_E_OK || e == SALVO_E_RESOURCE)
            break;
    }
    if (e != SALVO_E_OK)
        return e;
    r->eng->stats.connections_opened++;
    r->eng->stats.max_open_connections = 1;
    e = exchange(r, &c);
    if (c.tls != NULL) {
        struct buf unused;
        buf_init(&unused, 0);
        if (e == SALVO_E_OK)
            tls_shutdown(c.tls, &unused);
        tls_free(c.tls);
    }
    close(c.fd);
    return e;
}

/* Sleeps before a retry; a signal that cancelled the run cuts it short. */
static void sleep_ms(struct salvo *eng, uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !eng->cancel_requested)
        ;
}

/* Attempts, retries and redirects of one request, then its record. */
static void fetch(struct req *r)
{
    r->t_slot = now_us();
    r->eng->stats.max_in_flight = 1;
    if (req_run_prepare(r) < 0) {
        req_finish(r, SALVO_E_RESOURCE, "out of memory");
        return;
    }
    for (;;) {
        salvo_err_t e = attempt(r);
        int status = r->run->a.status;
        req_end_attempt(r, e);
        uint64_t wait;
        if (r->eng->cancel_requested) {
            req_finish(r, SALVO_E_CANCELLED, "the run was interrupted");
            return;
        }
        if (e == SALVO_E_OK && r->eng->cfg.follow_redirects && redirect_wanted(&r->run->http)) {
            char msg[REQ_MSG_LEN];
            e = redirect_apply(r, &r->run->http, msg, sizeof msg);
            if (e != SALVO_E_OK) {
                req_finish(r, e, msg);
                return;
            }
            r->attempts = 0;
            continue;
        }
        if (!req_retry_decision(r, e, status, &wait)) {
            req_finish(r, e, r->run->a.msg);
            return;
        }
        if (r->eng->cfg.attempt_log && r->log_len > 0)
            r->log[r->log_len - 1].a.backoff_ms = (double)wait;
        sleep_ms(r->eng, wait);
        if (r->eng->cancel_requested) {
            req_finish(r, SALVO_E_CANCELLED, "the run was interrupted");
            return;
        }
    }
}

/* Asks the feed for one URL; a feed waiting for its fd is waited for here, blocking. */
static void pull_one(struct salvo *eng)
{
    while (!eng->feed_done && !eng->cancel_requested && list_empty(&eng->live)) {
        if (eng->cfg.feed(eng, 1, eng->cfg.feed_user) != 0) {
            eng->feed_done = 1;
        } else if (eng->feed_io != NULL) {
            struct pollfd pfd = {.fd = eng->feed_wait_fd, .events = POLLIN};
            loop_io_close(eng->feed_io); /* no loop runs here: the watcher has no use */
            eng->feed_io = NULL;
            (void)poll(&pfd, 1, -1);
        } else if (list_empty(&eng->live)) {
            eng->feed_done = 1;
        }
    }
}

int blocking_run(struct salvo *eng)
{
    while (!eng->cancel_requested) {
        if (list_empty(&eng->live) && eng->cfg.feed != NULL && !eng->feed_done)
            pull_one(eng);
        if (list_empty(&eng->live))
            break;
        struct req *r = list_entry(eng->live.next, struct req, live);
        if (r->url_err != SALVO_E_OK) {
            req_finish(r, r->url_err, r->url_msg);
            continue;
        }
        limiter_remove(eng, r); /* the engine's queues play no part here */
        fetch(r);
    }
    return 0;
}
