/*
 * request.c -- the per-request state machine.
 *
 *   QUEUED -> RESOLVING -> CONNECTING -> [TLS] -> SENDING -> RECEIVING -> DONE
 *                  ^                                                 |
 *                  +-------------- BACKOFF <-- (retryable failure) --+
 *
 * One function per step, as curl's multi.c: each is entered from a loop event (a DNS
 * answer, socket readiness, a timer) and either waits for the next event or moves on.
 * Two doors lead out of an attempt: attempt_succeeded() and attempt_failed(); one door
 * leads out of a request: req_finish(), which releases the slot, the connection, the
 * timers and the DNS subscription and runs the callback exactly once.
 *
 * Deadlines: connect_timer (--connect-timeout) covers DNS, TCP connect and the TLS
 * handshake of one attempt; attempt_timer (--max-time) covers the whole attempt. When
 * either fires, the error class names the phase that was running (CONTRACT.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"
#include "sock.h"

/* Bytes read from a socket per recv(), and recv() calls per readiness event: a bound
 * so that one fast response cannot keep the loop from everybody else (level-triggered
 * epoll reports the socket again on the next iteration). */
#define READ_CHUNK      (64 * 1024)
#define READS_PER_EVENT 16

/* Longer URLs are refused as bad_url: no server takes them, and the input reader may
 * have cut a longer line to its own cap. */
#define SALVO_MAX_URL (16 * 1024)

static void on_io(struct loop_io *w, unsigned events, void *data);
static void on_connect_timer(struct loop_timer *t, void *data);
static void on_attempt_timer(struct loop_timer *t, void *data);
static void on_backoff_timer(struct loop_timer *t, void *data);
static void attempt_failed(struct req *r, salvo_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *const state_names[REQ_STATE_COUNT] = {
    [REQ_QUEUED] = "queued",   [REQ_RESOLVING] = "resolving", [REQ_CONNECTING] = "connecting",
    [REQ_TLS] = "tls",         [REQ_SENDING] = "sending",     [REQ_RECEIVING] = "receiving",
    [REQ_BACKOFF] = "backoff", [REQ_DONE] = "done",
};

const char *req_state_name(enum req_state s)
{
    return s < REQ_STATE_COUNT ? state_names[s] : "?";
}

static double ms_since(uint64_t t_us)
{
    return (double)(loop_now_us() - t_us) / 1000.0;
}

static uint64_t secs_to_ms(double s)
{
    return s <= 0 ? 0 : (uint64_t)(s * 1000.0 + 0.5);
}

/* ---- creation ------------------------------------------------------------------- */

static void on_deferred_finish(struct loop_defer *d, void *data)
{
    (void)d;
    struct req *r = data;
    req_finish(r, r->url_err, r->url_msg);
}

/* The per-run part of a request, made when it first gets a slot (see struct req_run). */
static struct req_run *run_new(struct req *r)
{
    struct req_run *x = calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    loop_timer_init(&x->connect_timer, on_connect_timer, r);
    loop_timer_init(&x->attempt_timer, on_attempt_timer, r);
    x->conn.fd = -1;
    http1_init(&x->http);
    buf_init(&x->wire, CONN_OUT_MAX);
    return x;
}

/* Methods that may be sent twice without changing more than sending them once
 * (RFC 9110, 9.2.2), plus OPTIONS: CONTRACT.md lists them. */
static int method_is_idempotent(const char *m)
{
    static const char *const safe[] = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"};
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        if (strcmp(m, safe[i]) == 0)
            return 1;
    return 0;
}

static int copy_options(struct req *r, const salvo_request_t *opt)
{
    const char *method = opt && opt->method ? opt->method : (opt && opt->body ? "POST" : "GET");
    r->method = strdup(method);
    if (r->method == NULL)
        return -ENOMEM;
    if (opt && opt->headers_len > 0) {
        r->headers = calloc(opt->headers_len, sizeof *r->headers);
        if (r->headers == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < opt->headers_len; i++) {
            r->headers[i] = strdup(opt->headers[i]);
            if (r->headers[i] == NULL)
                return -ENOMEM;
            r->headers_len = i + 1;
        }
    }
    if (opt && opt->body) {
        r->body = malloc(opt->body_len > 0 ? opt->body_len : 1);
        if (r->body == NULL)
            return -ENOMEM;
        memcpy(r->body, opt->body, opt->body_len);
        r->body_len = opt->body_len;
    }
    r->is_head = strcmp(r->method, "HEAD") == 0;
    r->idempotent = method_is_idempotent(r->method);
    return 0;
}

static void req_free(struct req *r)
{
    if (r->url_err == SALVO_E_OK)
        url_free(&r->url);
    for (size_t i = 0; i < r->headers_len; i++)
        free(r->headers[i]);
    free(r->headers);
    free(r->body);
    free(r->method);
    free(r->url_str);
    free(r->url_msg);
    if (r->run != NULL) {
        http1_end(&r->run->http);
        buf_free(&r->run->wire);
        free(r->run);
    }
    free(r);
}

int req_new(struct salvo *eng, const char *url, uint64_t index, const salvo_request_t *opt,
            salvo_done_cb *cb, void *user, struct req **out)
{
    struct req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    r->eng = eng;
    r->index = index;
    r->cb = cb;
    r->user = user;
    r->state = REQ_QUEUED;
    list_init(&r->live);
    list_init(&r->queue);
    loop_defer_init(&r->defer, on_deferred_finish, r);
    loop_timer_init(&r->backoff_timer, on_backoff_timer, r);
    r->t_submit = loop_now_us();
    r->url_str = strdup(url);
    r->url_err = SALVO_E_BAD_URL; /* until parsed: req_free must not url_free */
    if (r->url_str == NULL || copy_options(r, opt) < 0) {
        req_free(r);
        return -ENOMEM;
    }
    char why[REQ_MSG_LEN];
    r->url_err =
        strlen(url) > SALVO_MAX_URL ? SALVO_E_BAD_URL : url_parse(url, &r->url, why, sizeof why);
    if (r->url_err != SALVO_E_OK) {
        if (strlen(url) > SALVO_MAX_URL)
            snprintf(why, sizeof why, "URL longer than %d bytes", SALVO_MAX_URL);
        r->url_msg = strdup(why); /* NULL on OOM: the class alone is reported */
    }
    list_push_back(&eng->live, &r->live);
    eng->n_live++;
    if (r->url_err != SALVO_E_OK) {
        /* Never call back before salvo_submit returns: finish from the loop. */
        loop_defer(eng->loop, &r->defer);
    } else {
        limiter_enqueue(eng, r, 0);
    }
    *out = r;
    return 0;
}

/* ---- one attempt ------------------------------------------------------------------ */

static void close_conn(struct req *r)
{
    if (r->run->a.conn_open) {
        conn_close(&r->run->conn);
        r->run->a.conn_open = 0;
        r->eng->open_conns--;
    }
}

/* Stops everything an attempt may have running: timers, DNS, the connection. */
static void attempt_cleanup(struct req *r)
{
    struct loop *l = r->eng->loop;
    if (r->run == NULL)
        return;
    loop_timer_stop(l, &r->run->connect_timer);
    loop_timer_stop(l, &r->run->attempt_timer);
    if (r->run->dns_pending) {
        dns_cancel(r->eng->dns, &r->run->dnsw);
        r->run->dns_pending = 0;
    }
    close_conn(r);
}

static void on_dns(struct dns_waiter *w, const struct dns_answer *ans, void *data);

void req_start_attempt(struct req *r)
{
    struct salvo *eng = r->eng;
    if (r->run == NULL && (r->run = run_new(r)) == NULL) {
        req_finish(r, SALVO_E_RESOURCE, "out of memory");
        return;
    }
    uint64_t now = loop_now_us();
    if (r->attempts == 0)
        r->t_first_attempt = now;
    r->attempts++;
    eng->stats.attempts++;
    if (r->attempts > 1)
        eng->stats.retries++;
    memset(&r->run->a, 0, sizeof r->run->a);
    r->run->a.dns_ms = r->run->a.connect_ms = r->run->a.tls_ms = r->run->a.ttfb_ms =
        r->run->a.transfer_ms = -1;
    r->run->a.tls_resumed = -1;
    r->run->a.t_start = r->run->a.t_phase = now;
    r->run->naddrs = r->run->addr_next = 0;
    r->run->last_connect_err = 0;

    loop_timer_start(eng->loop, &r->run->connect_timer, secs_to_ms(eng->cfg.connect_timeout));
    loop_timer_start(eng->loop, &r->run->attempt_timer, secs_to_ms(eng->cfg.max_time));
    r->state = REQ_RESOLVING;
    r->run->dns_pending = 1;
    dns_resolve(eng->dns, r->url.host, r->url.port, &r->run->dnsw, on_dns, r);
}

/* Maps a connect errno to its class (CONTRACT.md). Local shortages are `resource`:
 * they say nothing about the site and are worth a retry. */
static salvo_err_t connect_err_class(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return SALVO_E_CONNECT_REFUSED;
    case ETIMEDOUT:
        return SALVO_E_CONNECT_TIMEOUT;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL: /* out of ephemeral ports */
        return SALVO_E_RESOURCE;
    default:
        return SALVO_E_CONNECT_ERROR;
    }
}

/* Tries the next address; when none is left, fails with the last address's error. */
static void connect_next(struct req *r)
{
    struct salvo *eng = r->eng;
    while (r->run->addr_next < r->run->naddrs) {
        const struct sockaddr *sa = (const struct sockaddr *)&r->run->addrs[r->run->addr_next++];
        r->run->a.t_phase = loop_now_us();
        sock_addr_str(sa, r->run->a.remote_ip, sizeof r->run->a.remote_ip);
        int rc = conn_open(&r->run->conn, eng->loop, sa, on_io, r);
        if (rc == 0) {
            r->run->a.conn_open = 1;
            eng->open_conns++;
            eng->stats.connections_opened++;
            if (eng->open_conns > eng->stats.max_open_connections)
                eng->stats.max_open_connections = eng->open_conns;
            r->state = REQ_CONNECTING;
            return;
        }
        r->run->last_connect_err = -rc;
        if (connect_err_class(-rc) == SALVO_E_RESOURCE)
            break; /* another address would hit the same local limit */
    }
    int err = r->run->last_connect_err;
    attempt_failed(r, connect_err_class(err), "connect to %s port %u: %s", r->run->a.remote_ip,
                   r->url.port, strerror(err));
}

static void on_dns(struct dns_waiter *w, const struct dns_answer *ans, void *data)
{
    (void)w;
    struct req *r = data;
    r->run->dns_pending = 0;
    r->run->a.dns_ms = ans->from_cache ? 0 : ms_since(r->run->a.t_phase);
    if (ans->err != SALVO_E_OK) {
        attempt_failed(r, ans->err, "%s: %s", r->url.host, ans->msg ? ans->msg : "lookup failed");
        return;
    }
    r->run->naddrs = ans->n;
    memcpy(r->run->addrs, ans->addrs, ans->n * sizeof ans->addrs[0]);
    connect_next(r);
}

static void start_send(struct req *r);

static void start_tls(struct req *r)
{
    struct salvo *eng = r->eng;
    char err[256];
    if (eng->tls == NULL && !eng->tls_failed) {
        struct tls_ctx_config tc = {.insecure = eng->cfg.insecure, .cacert = eng->cacert};
        if (tls_ctx_new(&eng->tls, &tc, eng->tls_err, sizeof eng->tls_err) < 0)
            eng->tls_failed = 1;
    }
    if (eng->tls == NULL) {
        attempt_failed(r, SALVO_E_RESOURCE, "TLS set-up failed: %s", eng->tls_err);
        return;
    }
    char key[300];
    snprintf(key, sizeof key, "%s:%u", r->url.host, r->url.port);
    if (conn_tls_start(&r->run->conn, eng->tls, r->url.host, r->url.host_is_ip != 0, key, err,
                       sizeof err) < 0) {
        attempt_failed(r, SALVO_E_RESOURCE, "TLS set-up failed: %s", err);
        return;
    }
    r->state = REQ_TLS;
    r->run->a.t_phase = loop_now_us();
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Keeps what the record needs of the handshake: the connection closes before the
 * result is built. */
static void capture_tls_facts(struct req *r, int handshake_done)
{
    const struct tls_info *ti = tls_get_info(r->run->conn.tls);
    struct req_tls_facts *f = &r->run->a.tls;
    if (ti == NULL)
        return;
    if (handshake_done) {
        f->have = 1;
        copy_str(f->version, sizeof f->version, ti->version);
        copy_str(f->cipher, sizeof f->cipher, ti->cipher);
        copy_str(f->alpn, sizeof f->alpn, ti->alpn);
        r->run->a.tls_resumed = ti->resumed;
    }
    if (ti->cert_expiry[0]) {
        f->have_cert = 1;
        copy_str(f->cert_expiry, sizeof f->cert_expiry, ti->cert_expiry);
        copy_str(f->chain_expiry, sizeof f->chain_expiry, ti->chain_expiry);
        f->days_left = ti->cert_days_left;
        copy_str(f->subject, sizeof f->subject, ti->cert_subject);
        copy_str(f->issuer, sizeof f->issuer, ti->cert_issuer);
    }
}

static void step_tls(struct req *r)
{
    int rc = conn_handshake(&r->run->conn);
    if (rc == CONN_AGAIN)
        return;
    if (rc == 0) {
        r->run->a.tls_ms = ms_since(r->run->a.t_phase);
        capture_tls_facts(r, 1);
        start_send(r);
        return;
    }
    if (rc == CONN_ETLS) {
        const char *why = NULL;
        salvo_err_t cls = tls_error(r->run->conn.tls, &why);
        capture_tls_facts(r, 0);
        attempt_failed(r, cls, "%s", why ? why : "TLS handshake failed");
        return;
    }
    attempt_failed(r, SALVO_E_TLS_HANDSHAKE, "TLS handshake: %s", strerror(-rc));
}

static void on_connected(struct req *r)
{
    int rc = conn_connect_done(&r->run->conn);
    if (rc < 0) {
        r->run->last_connect_err = -rc;
        close_conn(r);
        connect_next(r);
        return;
    }
    r->run->a.connect_ms = ms_since(r->run->a.t_phase);
    if (r->url.tls)
        start_tls(r);
    else
        start_send(r);
}

/* ---- send and receive ---------------------------------------------------------------- */

/* Classifies a socket error after the connection was set up. */
static void io_failed(struct req *r, int err, const char *when)
{
    salvo_err_t cls = SALVO_E_RESET;
    if (err == ETIMEDOUT)
        cls = SALVO_E_TIMEOUT;
    attempt_failed(r, cls, "%s: %s", when, strerror(err));
}

static void sent_all(struct req *r)
{
    r->state = REQ_RECEIVING;
    r->run->a.t_sent = loop_now_us();
}

static void start_send(struct req *r)
{
    struct salvo *eng = r->eng;
    /* The connect phase is over: from here on only --max-time applies. */
    loop_timer_stop(eng->loop, &r->run->connect_timer);
    r->state = REQ_SENDING;
    struct http1_request hr = {
        .method = r->method,
        .url = &r->url,
        .user_agent = eng->user_agent,
        .headers = (const char *const *)r->headers,
        .headers_len = r->headers_len,
        .body = r->body,
        .body_len = r->body_len,
        .keepalive = 0,
    };
    buf_reset(&r->run->wire);
    int rc = http1_write_request(&r->run->wire, &hr);
    if (rc == 0)
        rc = http1_begin(&r->run->http, r->is_head, eng->cfg.max_filesize, eng->cfg.hash);
    if (rc < 0) {
        attempt_failed(r, SALVO_E_RESOURCE, "cannot build the request: %s", strerror(-rc));
        return;
    }
    r->run->a.sent = 1;
    rc = conn_send(&r->run->conn, buf_head(&r->run->wire), buf_size(&r->run->wire));
    if (rc == 0)
        sent_all(r);
    else if (rc != CONN_AGAIN)
        io_failed(r, -rc, "sending the request");
}

static void attempt_succeeded(struct req *r);

/* Feeds one chunk of response bytes (or EOF when n == 0) to the parser. Returns 1 when
 * the attempt ended (the request may be gone), 0 to keep reading. */
static int got_bytes(struct req *r, const char *p, size_t n)
{
    enum http1_rc rc;
    if (n > 0) {
        if (r->run->a.t_first_byte == 0) {
            r->run->a.t_first_byte = loop_now_us();
            r->run->a.ttfb_ms = (double)(r->run->a.t_first_byte - r->run->a.t_sent) / 1000.0;
        }
        r->eng->stats.bytes_received += n;
        size_t used = 0;
        rc = http1_feed(&r->run->http, p, n, &used);
    } else {
        rc = http1_eof(&r->run->http);
    }
    r->run->a.status = r->run->http.status;
    if (rc == HTTP1_AGAIN)
        return 0;
    if (rc == HTTP1_DONE)
        attempt_succeeded(r);
    else
        attempt_failed(r, r->run->http.err, "%s", r->run->http.msg);
    return 1;
}

static void do_receive(struct req *r)
{
    char chunk[READ_CHUNK];
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t n = conn_recv(&r->run->conn, chunk, sizeof chunk);
        if (n == CONN_AGAIN)
            return;
        if (n == CONN_ETLS) {
            const char *why = NULL;
            (void)tls_error(r->run->conn.tls, &why);
            attempt_failed(r, SALVO_E_PROTOCOL, "TLS: %s", why ? why : "error");
            return;
        }
        if (n < 0) {
            io_failed(r, (int)-n, "reading the response");
            return;
        }
        if (got_bytes(r, chunk, (size_t)n))
            return;
        if (n == 0)
            return; /* unreachable: EOF always ends the attempt */
    }
}

static void on_io(struct loop_io *w, unsigned events, void *data)
{
    (void)w;
    struct req *r = data;
    switch (r->state) {
    case REQ_CONNECTING:
        on_connected(r);
        break;
    case REQ_TLS:
        step_tls(r);
        break;
    case REQ_SENDING: {
        int rc = conn_flush(&r->run->conn);
        if (rc == 0)
            sent_all(r);
        else if (rc != CONN_AGAIN) {
            io_failed(r, -rc, "sending the request");
            break;
        }
        /* A server may answer (or close) before reading the whole request. */
        if (events & (LOOP_READ | LOOP_ERROR)) {
            if (r->state == REQ_SENDING)
                r->run->a.t_sent = loop_now_us();
            do_receive(r);
        }
        break;
    }
    case REQ_RECEIVING:
        do_receive(r);
        break;
    default:
        /* No other state has a connection; a stale event is ignored. */
        break;
    }
}

/* ---- deadlines ---------------------------------------------------------------------- */

static salvo_err_t deadline_class(enum req_state s)
{
    switch (s) {
    case REQ_RESOLVING:
        return SALVO_E_DNS_TIMEOUT;
    case REQ_CONNECTING:
        return SALVO_E_CONNECT_TIMEOUT;
    case REQ_TLS:
        return SALVO_E_TLS_TIMEOUT;
    default:
        return SALVO_E_TIMEOUT;
    }
}

static void deadline_passed(struct req *r, const char *which, double secs)
{
    attempt_failed(r, deadline_class(r->state), "%s of %g s passed while %s", which, secs,
                   req_state_name(r->state));
}

static void on_connect_timer(struct loop_timer *t, void *data)
{
    (void)t;
    struct req *r = data;
    deadline_passed(r, "connect timeout", r->eng->cfg.connect_timeout);
}

static void on_attempt_timer(struct loop_timer *t, void *data)
{
    (void)t;
    struct req *r = data;
    deadline_passed(r, "max time", r->eng->cfg.max_time);
}

/* ---- the end of an attempt --------------------------------------------------------- */

static void attempt_succeeded(struct req *r)
{
    r->run->a.transfer_ms =
        ms_since(r->run->a.t_first_byte ? r->run->a.t_first_byte : r->run->a.t_sent);
    if (r->eng->cfg.hash)
        http1_sha256_hex(&r->run->http, r->run->sha256);
    attempt_cleanup(r);
    req_finish(r, SALVO_E_OK, NULL);
}

static uint64_t rng_next(struct salvo *eng)
{
    /* xorshift64*: jitter needs spread, not cryptographic strength. */
    uint64_t x = eng->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    eng->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Full jitter (uniform in [0, min(cap, base * 2^k)]): retries from many requests that
 * failed together spread out instead of hitting the server again in lockstep. */
static uint64_t backoff_ms(struct req *r)
{
    const salvo_config_t *c = &r->eng->cfg;
    double ceiling = c->retry_backoff;
    for (int k = 1; k < r->attempts && ceiling < c->retry_backoff_max; k++)
        ceiling *= 2;
    if (ceiling > c->retry_backoff_max)
        ceiling = c->retry_backoff_max;
    uint64_t cap = secs_to_ms(ceiling);
    return cap == 0 ? 0 : rng_next(r->eng) % (cap + 1);
}

/* Decides whether a failed attempt is worth another one (CONTRACT.md, "Error classes"):
 * a retryable class, retries left, a method that may be repeated, and time left. */
static int should_retry(struct req *r, salvo_err_t err, uint64_t sleep_ms)
{
    const salvo_config_t *c = &r->eng->cfg;
    if (!salvo_err_retryable(err) || r->attempts > c->retry || r->eng->cancel_requested)
        return 0;
    if (r->run->a.sent && !r->idempotent && !c->retry_non_idempotent)
        return 0;
    double next_start_ms = ms_since(r->t_first_attempt) + (double)sleep_ms;
    return next_start_ms < c->retry_max_time * 1000.0;
}

static void attempt_failed(struct req *r, salvo_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->run->a.msg, sizeof r->run->a.msg, fmt, ap);
    va_end(ap);
    r->run->a.err = err;
    attempt_cleanup(r);

    uint64_t sleep_ms = backoff_ms(r);
    if (!should_retry(r, err, sleep_ms)) {
        req_finish(r, err, r->run->a.msg);
        return;
    }
    /* Sleep without a slot: a request waiting to retry must not keep others out. */
    limiter_release(r->eng, r);
    r->state = REQ_BACKOFF;
    loop_timer_start(r->eng->loop, &r->backoff_timer, sleep_ms);
}

static void on_backoff_timer(struct loop_timer *t, void *data)
{
    (void)t;
    struct req *r = data;
    /* It was admitted once already: it goes ahead of requests that never started. */
    limiter_enqueue(r->eng, r, 1);
}

/* ---- the one exit -------------------------------------------------------------------- */

/* The run-time half of the record: phases, bytes, TLS facts. Left at "does not
 * apply" (the caller's defaults) for a request that never ran. */
static void fill_run_facts(const struct req_run *x, salvo_result_t *res)
{
    const struct req_attempt *a = &x->a;
    res->status = a->status;
    res->remote_ip = a->remote_ip[0] ? a->remote_ip : NULL;
    res->bytes = x->http.bytes;
    res->wire_bytes = x->http.wire_bytes;
    res->dns_ms = a->dns_ms;
    res->connect_ms = a->connect_ms;
    res->tls_ms = a->tls_ms;
    res->ttfb_ms = a->ttfb_ms;
    res->transfer_ms = a->transfer_ms;
    res->reused = a->remote_ip[0] ? a->reused : -1;
    res->tls_resumed = a->tls_resumed;
    const struct req_tls_facts *f = &a->tls;
    if (f->have) {
        res->tls_version = f->version;
        res->tls_cipher = f->cipher;
        res->alpn = f->alpn[0] ? f->alpn : NULL;
    }
    if (f->have_cert) {
        res->cert_expiry = f->cert_expiry;
        res->chain_expiry = f->chain_expiry[0] ? f->chain_expiry : NULL;
        res->cert_days_left = f->days_left;
        res->cert_subject = f->subject[0] ? f->subject : NULL;
        res->cert_issuer = f->issuer[0] ? f->issuer : NULL;
    }
    res->sha256 = x->sha256[0] ? x->sha256 : NULL;
}

static void fill_result(struct req *r, salvo_result_t *res, salvo_err_t err, const char *msg)
{
    uint64_t now = loop_now_us();
    memset(res, 0, sizeof *res);
    res->index = r->index;
    res->url = r->url_str;
    res->error = err;
    res->message = err == SALVO_E_OK ? NULL : (msg && *msg ? msg : salvo_err_name(err));
    res->attempts = r->attempts;
    res->queue_ms = r->t_slot ? (double)(r->t_slot - r->t_submit) / 1000.0 : -1;
    res->total_ms = r->t_slot ? (double)(now - r->t_slot) / 1000.0 : -1;
    res->dns_ms = res->connect_ms = res->tls_ms = res->ttfb_ms = res->transfer_ms = -1;
    res->reused = res->tls_resumed = -1;
    if (r->run != NULL)
        fill_run_facts(r->run, res);
    res->ok = err == SALVO_E_OK && res->status > 0 && res->status < 400;
}

void req_finish(struct req *r, salvo_err_t err, const char *msg)
{
    struct salvo *eng = r->eng;
    attempt_cleanup(r);
    loop_timer_stop(eng->loop, &r->backoff_timer);
    loop_defer_cancel(eng->loop, &r->defer);
    limiter_remove(eng, r);
    limiter_release(eng, r);
    list_remove(&r->live);
    eng->n_live--;
    r->state = REQ_DONE;

    salvo_result_t res;
    fill_result(r, &res, err, msg);
    eng->stats.completed++;
    r->cb(&res, r->user);
    req_free(r);
    limiter_schedule(eng);
}
