/*
 * blocking.c -- the blocking baseline (--blocking, salvo_config_t.blocking): the same
 * requests and the same records as the engine, one URL at a time, the way a simple
 * script does it: getaddrinfo, connect, SSL_connect, send and recv on a blocking socket.
 *
 * It is a driver of its own over the same request core (request.c: states, attempts and
 * their record, the retry and redirect rules, the one exit) and the same connections
 * (conn.c: tcp and TLS transports, here over a blocking socket), request writer and
 * response parser (http1, gzip included), and --resolve pins (dns). So bench/ compares
 * the I/O model alone.
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
 * --rate and --per-host-rate are kept by sleeping before an attempt until it may start.
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

#include "blocking.h"
#include "redirect.h"
#include "request.h"
#include "sock.h"

#define RECV_CHUNK (64 * 1024)

/* One attempt's deadlines, in microseconds on the monotonic clock. */
struct deadlines {
    uint64_t connect; /* --connect-timeout: DNS, connect and TLS */
    uint64_t attempt; /* --max-time for this attempt */
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
    req_set_state(r, REQ_RESOLVING, "");
    if (dns_pinned(r->eng->dns, r->url.host, r->url.port, ans)) {
        a->dns_ms = 0;
        if (ans->err != SALVO_E_OK) /* no address of the family asked for (-4, -6) */
            return fail(a, ans->err, "%s: %s", r->url.host, ans->msg);
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
    ans->err = SALVO_E_OK;
    ans->msg = NULL;
    ans->n = 0;
    for (struct addrinfo *ai = res; ai != NULL && ans->n < DNS_MAX_ADDRS; ai = ai->ai_next)
        if (ai->ai_addrlen <= sizeof ans->addrs[0]) /* IPv4 and IPv6, all that salvo asks for */
            memcpy(&ans->addrs[ans->n++], ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(res);
    dns_filter_family(r->eng->dns, ans);
    if (ans->err != SALVO_E_OK)
        return fail(a, ans->err, "%s: %s", r->url.host, ans->msg);
    return SALVO_E_OK;
}

/* One blocking connect; on success c is the connection over the socket. */
static salvo_err_t connect_one(struct req *r, const struct sockaddr *sa, const struct deadlines *d,
                               struct conn *c)
{
    struct req_attempt *a = &r->run->a;
    sock_addr_str(sa, a->remote_ip, sizeof a->remote_ip);
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(a, req_errno_class(errno, REQ_CONNECTING), "socket: %s", strerror(errno));
    uint64_t t0 = now_us();
    int e = ETIMEDOUT;
    if (set_timeouts(fd, d->connect) == 0 && connect(fd, sa, sock_addr_len(sa)) == 0) {
        a->connect_ms = ms_between(t0, now_us());
        conn_init_blocking(c, fd, sa);
        return SALVO_E_OK;
    }
    if (now_us() < d->connect)
        e = errno;
    close(fd);
    /* SO_SNDTIMEO makes a blocking connect give up with EINPROGRESS. */
    salvo_err_t cls = req_errno_class(e, REQ_CONNECTING);
    if (cls == SALVO_E_CONNECT_TIMEOUT)
        return fail(a, cls, "connect to %s: no answer within %g s", a->remote_ip,
                    r->eng->cfg.connect_timeout);
    return fail(a, cls, "connect to %s port %u: %s", a->remote_ip, r->url.port, strerror(e));
}

static salvo_err_t handshake(struct req *r, struct conn *c, const struct deadlines *d)
{
    struct req_attempt *a = &r->run->a;
    char err[256], key[300];
    req_set_state(r, REQ_TLS, "");
    if (engine_tls(r->eng) == NULL)
        return fail(a, SALVO_E_RESOURCE, "TLS set-up failed: %s", r->eng->tls_err);
    snprintf(key, sizeof key, "%s:%u", r->url.host, r->url.port);
    if (conn_tls_start(c, r->eng->tls, r->url.host, r->url.host_is_ip != 0, key, err, sizeof err) <
        0)
        return fail(a, SALVO_E_RESOURCE, "TLS set-up failed: %s", err);
    uint64_t t0 = now_us();
    if (set_timeouts(c->fd, d->connect) < 0)
        return fail(a, SALVO_E_TLS_TIMEOUT, "no time left for the TLS handshake");
    int rc = conn_handshake(c);
    if (rc == 0) {
        a->tls_ms = ms_between(t0, now_us());
        req_capture_tls(a, conn_tls(c), 1);
        return SALVO_E_OK;
    }
    if (rc == CONN_AGAIN) /* the socket timed out inside the handshake */
        return fail(a, SALVO_E_TLS_TIMEOUT, "TLS handshake: no answer within %g s",
                    r->eng->cfg.connect_timeout);
    if (rc != CONN_ETLS)
        return fail(a, req_errno_class(-rc, REQ_TLS), "TLS handshake: %s", strerror(-rc));
    const char *why = NULL;
    salvo_err_t cls = tls_error(conn_tls(c), &why);
    req_capture_tls(a, conn_tls(c), 0);
    return fail(a, cls, "%s", why ? why : "TLS handshake failed");
}

/* Sends n bytes from p, or classifies why not. */
static salvo_err_t send_all(struct req *r, struct conn *c, const struct deadlines *d, const char *p,
                            size_t n)
{
    struct req_attempt *a = &r->run->a;
    while (n > 0) {
        if (set_timeouts(c->fd, d->attempt) < 0)
            return fail(a, SALVO_E_TIMEOUT, "max time passed while sending");
        ssize_t k = conn_write(c, p, n);
        if (k == CONN_AGAIN || k == 0)
            return fail(a, SALVO_E_TIMEOUT, "max time passed while sending");
        if (k == CONN_ETLS)
            return fail(a, SALVO_E_RESET, "sending the request: TLS write failed");
        if (k < 0)
            return fail(a, req_errno_class((int)-k, REQ_SENDING), "sending the request: %s",
                        strerror((int)-k));
        p += k;
        n -= (size_t)k;
    }
    if (conn_flush(c) != 0)
        return fail(a, SALVO_E_TIMEOUT, "max time passed while sending");
    return SALVO_E_OK;
}

/* Sends the head, then the body from its one shared copy. */
static salvo_err_t send_request(struct req *r, struct conn *c, const struct deadlines *d)
{
    struct buf *w = &r->run->wire;
    req_set_state(r, REQ_SENDING, "");
    r->run->a.sent = 1;
    salvo_err_t e = send_all(r, c, d, buf_head(w), buf_size(w));
    if (e == SALVO_E_OK && r->body != NULL)
        e = send_all(r, c, d, r->body->data, r->body->len);
    if (e == SALVO_E_OK)
        r->run->a.t_sent = now_us();
    return e;
}

static salvo_err_t receive(struct req *r, struct conn *c, const struct deadlines *d)
{
    struct req_run *x = r->run;
    struct req_attempt *a = &x->a;
    char chunk[RECV_CHUNK];
    req_set_state(r, REQ_RECEIVING, "");
    for (;;) {
        if (set_timeouts(c->fd, d->attempt) < 0)
            return fail(a, SALVO_E_TIMEOUT, "max time of %g s passed while receiving",
                        r->eng->cfg.max_time);
        ssize_t n = conn_recv(c, chunk, sizeof chunk);
        if (n == -EINTR && r->eng->cancel_requested)
            return fail(a, SALVO_E_CANCELLED, "the run was interrupted");
        if (n == -EINTR)
            continue;
        if (n == CONN_AGAIN)
            return fail(a, SALVO_E_TIMEOUT, "max time of %g s passed while receiving",
                        r->eng->cfg.max_time);
        if (n == CONN_ETLS)
            return fail(a, SALVO_E_PROTOCOL, "TLS error while receiving");
        if (n < 0)
            return fail(a, req_errno_class((int)-n, REQ_RECEIVING), "reading the response: %s",
                        strerror((int)-n));
        enum http1_rc rc;
        if (n > 0) {
            r->eng->stats.bytes_received += (uint64_t)n;
            if (a->t_first_byte == 0) {
                a->t_first_byte = now_us();
                a->ttfb_ms = ms_between(a->t_sent, a->t_first_byte);
            }
            size_t used;
            rc = http1_feed(&x->http, chunk, (size_t)n, &used);
            if (rc == HTTP1_HEAD) {
                a->status = x->http.status;
                int cls = req_response_head(r);
                if (cls != 0)
                    return fail(a, (salvo_err_t)cls,
                                "the transfer was stopped by the headers callback");
                rc = http1_feed(&x->http, chunk + used, (size_t)n - used, &used);
            }
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

static salvo_err_t exchange(struct req *r, struct conn *c, const struct deadlines *d)
{
    struct req_run *x = r->run;
    const salvo_config_t *cfg = &r->eng->cfg;
    if (r->url.tls) {
        salvo_err_t e = handshake(r, c, d);
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
    req_expect_response(r);
    salvo_err_t e = send_request(r, c, d);
    if (e == SALVO_E_OK)
        e = receive(r, c, d);
    if (e == SALVO_E_OK && cfg->hash)
        http1_sha256_hex(&x->http, x->sha256);
    return e;
}

static salvo_err_t attempt(struct req *r)
{
    req_attempt_begin(r);
    uint64_t start = r->run->a.t_start;
    struct dns_answer ans;
    salvo_err_t e = resolve(r, &ans);
    if (e != SALVO_E_OK)
        return e;
    struct deadlines d = {
        .connect = start + (uint64_t)(r->eng->cfg.connect_timeout * 1e6),
        .attempt = start + (uint64_t)(r->eng->cfg.max_time * 1e6),
    };
    struct conn c;
    req_set_state(r, REQ_CONNECTING, "");
    for (size_t i = 0; i < ans.n; i++) {
        e = connect_one(r, &ans.addrs[i].sa, &d, &c);
        if (e == SALVO_E_OK || e == SALVO_E_RESOURCE)
            break;
    }
    if (e != SALVO_E_OK)
        return e;
    r->eng->stats.connections_opened++;
    r->eng->stats.max_open_connections = 1;
    e = exchange(r, &c, &d);
    conn_close(&c); /* a close_notify when TLS is up; nothing is waited for */
    return e;
}

/* Sleeps; a signal that cancelled the run cuts it short. */
static void sleep_us(struct salvo *eng, uint64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000),
                          .tv_nsec = (long)(us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !eng->cancel_requested)
        ;
}

/* --rate and --per-host-rate: sleeps until both pacers let the next attempt start, then
 * counts it, as the engine's limiter does for its waiters. Returns 0, or -1 when a
 * cancel cut the sleep short. */
static int pace(struct req *r)
{
    struct limiter *l = &r->eng->limiter;
    if (l->interval_us == 0 && l->origin_interval_us == 0)
        return 0;
    /* The origin of the URL now: a redirect may have moved on to another. Without one
     * (out of memory), only the global pacer applies. */
    if (l->origin_interval_us > 0)
        (void)req_take_origin(r);
    uint64_t at = limiter_next_start(l, r->origin), now = now_us();
    if (at > now)
        sleep_us(r->eng, at - now);
    if (r->eng->cancel_requested)
        return -1;
    limiter_charge(l, r->origin, now_us());
    return 0;
}

/* Attempts, retries and redirects of one request, then its record. */
static void fetch(struct req *r)
{
    r->t_slot = now_us();
    r->eng->stats.max_in_flight = 1;
    if (r->url_err != SALVO_E_OK) {
        req_complete(r, r->url_err, r->url_msg);
        return;
    }
    if (req_run_prepare(r) < 0) {
        req_complete(r, SALVO_E_RESOURCE, "out of memory");
        return;
    }
    for (;;) {
        if (pace(r) < 0) {
            req_complete(r, SALVO_E_CANCELLED, "the run was interrupted");
            return;
        }
        salvo_err_t e = attempt(r);
        int status = r->run->a.status;
        req_end_attempt(r, e);
        uint64_t wait;
        if (r->eng->cancel_requested) {
            req_complete(r, SALVO_E_CANCELLED, "the run was interrupted");
            return;
        }
        if (e == SALVO_E_OK && r->eng->cfg.follow_redirects &&
            redirect_wanted(status, r->run->http.location)) {
            char msg[REQ_MSG_LEN];
            e = req_follow_redirect(r, msg, sizeof msg);
            if (e != SALVO_E_OK) {
                req_complete(r, e, msg);
                return;
            }
            req_set_state(r, REQ_QUEUED, "redirect");
            continue;
        }
        if (!req_retry_decision(r, e, status, &wait)) {
            req_complete(r, e, e == SALVO_E_OK ? NULL : r->run->a.msg);
            return;
        }
        if (r->eng->cfg.attempt_log && r->log_len > 0)
            r->log[r->log_len - 1].a.backoff_ms = (double)wait;
        r->backoff_ms = wait;
        req_set_state(r, REQ_BACKOFF, "");
        sleep_us(r->eng, wait * 1000);
        if (r->eng->cancel_requested) {
            req_complete(r, SALVO_E_CANCELLED, "the run was interrupted");
            return;
        }
        req_set_state(r, REQ_QUEUED, "retry");
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
        fetch(list_entry(eng->live.next, struct req, live));
        req_deliver(eng);
    }
    return 0;
}
