/*
 * request.c -- the per-request state machine.
 *
 *   QUEUED -> RESOLVING -> CONNECTING -> [TLS] -> SENDING -> RECEIVING -> DONE
 *     ^  \______________ (a pooled connection) ______/            |
 *     |                                                           |
 *     +---- BACKOFF <-- (retryable failure or 429/502/503/504) ---+
 *     +---------------- (3xx with -L: the next URL) --------------+
 *
 * One function per step, as curl's multi.c: each is entered from a loop event (a DNS
 * answer, socket readiness, a timer) and either waits for the next event or moves on.
 * Two doors lead out of an attempt: attempt_succeeded() (a whole response arrived) and
 * attempt_failed(); one door leads out of a request: req_finish(), which releases the
 * slot, the connection, the timers and the DNS subscription and runs the callback
 * exactly once.
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
#include <time.h>

#include "engine.h"
#include "redirect.h"
#include "result.h"
#include "retry.h"
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
static void on_dns(struct dns_waiter *w, const struct dns_answer *ans, void *data);
static void start_send(struct req *r);
static void send_failed(struct req *r, int rc);
static void step_tls(struct req *r);
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

static struct conn *req_conn(struct req *r)
{
    return &r->run->pc->c;
}

/* ---- creation ------------------------------------------------------------------- */

static void on_deferred_finish(struct loop_defer *d, void *data)
{
    (void)d;
    struct req *r = data;
    req_finish(r, r->url_err, r->url_msg);
}

/* The per-run part of a request, made when it first gets a slot (see struct req_run). */
int req_run_prepare(struct req *r)
{
    if (r->run != NULL)
        return 0;
    /* A finished request's run state is reused, buffers and all (see req_run_release);
     * else a new one, not calloc'd: most of its 3.6 KiB (addresses, TLS facts) is written
     * before it is read, and zeroing it all was the largest single cost of a keep-alive
     * request. */
    struct salvo *eng = r->eng;
    struct req_run *x = eng->run_cache;
    if (x != NULL) {
        eng->run_cache = x->next_free;
        eng->n_run_cache--;
        buf_reset(&x->wire);
        http1_clear(&x->http); /* the rest is reset by http1_begin before any byte */
    } else {
        x = malloc(sizeof *x);
        if (x == NULL)
            return -ENOMEM;
        http1_init(&x->http);
        buf_init(&x->wire, CONN_OUT_MAX);
    }
    x->dns_pending = 0;
    x->naddrs = x->addr_next = 0;
    x->last_connect_err = 0;
    x->pc = NULL;
    x->reserved = x->replayed = 0;
    x->sha256[0] = '\0';
    req_attempt_reset(&x->a, loop_now_us());
    loop_timer_init(&x->connect_timer, on_connect_timer, r);
    loop_timer_init(&x->attempt_timer, on_attempt_timer, r);
    list_init(&x->ipw.link);
    r->run = x;
    return 0;
}

/* Keeps a finished request's run state for the next request, up to one per slot (as
 * many as can run at once), or frees it. */
static void req_run_release(struct salvo *eng, struct req_run *x)
{
    if (eng->n_run_cache < eng->slots) {
        x->next_free = eng->run_cache;
        eng->run_cache = x;
        eng->n_run_cache++;
        return;
    }
    req_run_free(x);
}

void req_run_free(struct req_run *x)
{
    http1_end(&x->http);
    buf_free(&x->wire);
    free(x);
}

void req_body_unref(struct req_body *b)
{
    if (b != NULL && --b->refs == 0)
        free(b);
}

/* The body for a submit: the engine's last one when the bytes are the same (one memcmp
 * instead of one copy per request), else a new copy that becomes the last one. */
static struct req_body *share_body(struct salvo *eng, const void *data, size_t len)
{
    struct req_body *b = eng->last_body;
    if (b == NULL || b->len != len || memcmp(b->data, data, len) != 0) {
        b = malloc(sizeof *b + len);
        if (b == NULL)
            return NULL;
        b->refs = 1; /* the engine's */
        b->len = len;
        memcpy(b->data, data, len);
        req_body_unref(eng->last_body);
        eng->last_body = b;
    }
    b->refs++;
    return b;
}

/* What salvo_submit refuses outright: a request that could never go on the wire as the
 * caller meant it. */
static int check_options(const salvo_request_t *opt, char *why, size_t whylen)
{
    if (opt == NULL)
        return 0;
    if (opt->headers_len > 0 && opt->headers == NULL) {
        snprintf(why, whylen, "headers_len is set but headers is NULL");
        return -1;
    }
    if (opt->body_len > 0 && opt->body == NULL) {
        snprintf(why, whylen, "body_len is set but body is NULL");
        return -1;
    }
    return http1_check_request(opt->method, opt->headers, opt->headers_len, why, whylen);
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
    if (opt && opt->body && (r->body = share_body(r->eng, opt->body, opt->body_len)) == NULL)
        return -ENOMEM;
    r->is_head = strcmp(r->method, "HEAD") == 0;
    r->conn_close = http1_asks_close((const char *const *)r->headers, r->headers_len);
    r->idempotent = retry_method_idempotent(r->method);
    return 0;
}

static void req_free(struct req *r)
{
    if (r->url_err == SALVO_E_OK)
        url_free(&r->url);
    for (size_t i = 0; i < r->headers_len; i++)
        free(r->headers[i]);
    free(r->headers);
    req_body_unref(r->body);
    free(r->method);
    free(r->url_str);
    free(r->url_shown);
    free(r->url_msg);
    free(r->final_url);
    free(r->log);
    if (r->run != NULL)
        req_run_release(r->eng, r->run);
    free(r);
}

static void check_url(struct req *r, const char *url)
{
    char why[REQ_MSG_LEN];
    if (strlen(url) > SALVO_MAX_URL) {
        r->url_err = SALVO_E_BAD_URL;
        snprintf(why, sizeof why, "URL longer than %d bytes", SALVO_MAX_URL);
    } else {
        r->url_err = url_parse(url, &r->url, why, sizeof why);
    }
    if (r->url_err != SALVO_E_OK)
        r->url_msg = strdup(why); /* NULL on OOM: the class alone is reported */
}

int req_new(struct salvo *eng, const char *url, uint64_t index, const salvo_request_t *opt,
            salvo_done_cb *cb, void *user, struct req **out, char *why, size_t whylen)
{
    if (check_options(opt, why, whylen) < 0)
        return -EINVAL;
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
    if (r->url_str == NULL || url_mask_password(url, &r->url_shown) < 0 ||
        copy_options(r, opt) < 0) {
        req_free(r);
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    check_url(r, url);
    if (r->url_err == SALVO_E_OK && limiter_enqueue(eng, r, 0) < 0) {
        req_free(r);
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    list_push_back(&eng->live, &r->live);
    eng->n_live++;
    /* Never call back before salvo_submit returns: a bad URL finishes from the loop. */
    if (r->url_err != SALVO_E_OK)
        loop_defer(eng->loop, &r->defer);
    *out = r;
    return 0;
}

/* ---- connections ------------------------------------------------------------------ */

/* Gives an origin's room back: the connection, kept for reuse or closed, or a bare
 * reservation. The origin may be freed here. */
static void give_back(struct pool *p, struct origin *o, struct pool_conn *pc, int keep)
{
    if (pc != NULL && keep) {
        pool_release(p, pc);
    } else if (pc != NULL) {
        pool_close(p, pc, 0);
    } else {
        pool_unreserve(p, o);
        pool_origin_unref(p, o);
    }
}

/* Gives the attempt's connection and its room in the origin back; keep: the connection
 * may serve another request. The origin may be freed, so the request forgets it.
 * Invariant: x->pc != NULL implies x->reserved (a connection always holds its origin's
 * room), so this is the one place a connection's watcher leaves the request. */
static void release_conn(struct req *r, int keep)
{
    struct req_run *x = r->run;
    if (x->reserved)
        give_back(r->eng->pool, r->origin, x->pc, keep);
    x->pc = NULL;
    x->reserved = 0;
    r->origin = NULL;
}

/* Stops everything an attempt may have running: timers, DNS, waits, the connection. */
static void attempt_cleanup(struct req *r, int keep_conn)
{
    struct req_run *x = r->run;
    if (x == NULL)
        return;
    loop_timer_stop(r->eng->loop, &x->connect_timer);
    loop_timer_stop(r->eng->loop, &x->attempt_timer);
    if (x->dns_pending) {
        dns_cancel(r->eng->dns, &x->dnsw);
        x->dns_pending = 0;
    }
    pool_ip_cancel(r->eng->pool, &x->ipw);
    if (x->reserved)
        release_conn(r, keep_conn);
}

/* Resolves the URL's host, then connects: the path of an attempt with no pooled
 * connection, and of a stale pooled connection's replay. */
static void resolve(struct req *r)
{
    struct req_run *x = r->run;
    x->naddrs = x->addr_next = 0;
    x->last_connect_err = 0;
    x->a.t_phase = loop_now_us();
    loop_timer_start(r->eng->loop, &x->connect_timer, secs_to_ms(r->eng->cfg.connect_timeout));
    r->state = REQ_RESOLVING;
    x->dns_pending = 1;
    dns_resolve(r->eng->dns, r->url.host, r->url.port, &x->dnsw, on_dns, r);
}

void req_attempt_reset(struct req_attempt *a, uint64_t now)
{
    /* Field by field: the strings' buffers (1.7 KiB with the TLS facts) need only their
     * first byte cleared. */
    a->err = SALVO_E_OK;
    a->msg[0] = '\0';
    a->status = 0;
    a->sent = 0;
    a->dns_ms = a->connect_ms = a->tls_ms = a->ttfb_ms = a->transfer_ms = -1;
    a->t_start = a->t_phase = now;
    a->t_sent = a->t_first_byte = 0;
    a->remote_ip[0] = '\0';
    a->tls_resumed = -1;
    a->reused = 0;
    a->tls.have = a->tls.have_cert = 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Keeps what the record needs of the handshake: the connection may close (or go back to
 * the pool) before the result is built. */
void req_capture_tls(struct req_attempt *a, struct tls *t, int handshake_done)
{
    const struct tls_info *ti = tls_get_info(t);
    struct req_tls_facts *f = &a->tls;
    if (ti == NULL)
        return;
    if (handshake_done) {
        f->have = 1;
        copy_str(f->version, sizeof f->version, ti->version);
        copy_str(f->cipher, sizeof f->cipher, ti->cipher);
        copy_str(f->alpn, sizeof f->alpn, ti->alpn);
        a->tls_resumed = ti->resumed;
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

/* An attempt on a connection from the pool: no DNS, connect or handshake. */
static void use_pooled(struct req *r, struct pool_conn *pc)
{
    struct req_run *x = r->run;
    x->pc = pc;
    x->a.reused = 1;
    copy_str(x->a.remote_ip, sizeof x->a.remote_ip, pc->c.remote_ip);
    conn_set_owner(&pc->c, on_io, r);
    r->eng->stats.connections_reused++;
    if (pc->c.tls != NULL)
        req_capture_tls(&r->run->a, req_conn(r)->tls, 1);
    start_send(r);
}

void req_start_attempt(struct req *r, struct pool_conn *pc)
{
    struct salvo *eng = r->eng;
    if (req_run_prepare(r) < 0) {
        give_back(eng->pool, r->origin, pc, 1);
        r->origin = NULL;
        req_finish(r, SALVO_E_RESOURCE, "out of memory");
        return;
    }
    struct req_run *x = r->run;
    uint64_t now = loop_now_us();
    if (r->t_first_attempt == 0)
        r->t_first_attempt = now;
    r->attempts++;
    eng->stats.attempts++;
    if (r->attempts > 1)
        eng->stats.retries++;
    req_attempt_reset(&x->a, now);
    x->sha256[0] = '\0';
    http1_clear(&x->http); /* bytes of an earlier hop or attempt are not this one's */
    x->reserved = 1;
    x->replayed = 0;
    loop_timer_start(eng->loop, &x->attempt_timer, secs_to_ms(eng->cfg.max_time));
    if (pc != NULL)
        use_pooled(r, pc);
    else
        resolve(r);
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

static void connect_next(struct req *r);

/* The address had no room under --per-ip and now has: the deadlines start afresh, since
 * waiting for another site's connection is none of this site's phases. */
static void on_ip_room(struct pool_ip_waiter *w, void *data)
{
    (void)w;
    struct req *r = data;
    struct req_run *x = r->run;
    loop_timer_start(r->eng->loop, &x->connect_timer, secs_to_ms(r->eng->cfg.connect_timeout));
    loop_timer_start(r->eng->loop, &x->attempt_timer, secs_to_ms(r->eng->cfg.max_time));
    x->addr_next--; /* the same address again */
    connect_next(r);
}

/* Tries the next address; when none is left, fails with the last address's error. */
static void connect_next(struct req *r)
{
    struct salvo *eng = r->eng;
    struct req_run *x = r->run;
    while (x->addr_next < x->naddrs) {
        const struct sockaddr *sa = (const struct sockaddr *)&x->addrs[x->addr_next++];
        x->a.t_phase = loop_now_us();
        sock_addr_str(sa, x->a.remote_ip, sizeof x->a.remote_ip);
        if (!pool_ip_has_room(eng->pool, x->a.remote_ip)) {
            loop_timer_stop(eng->loop, &x->connect_timer);
            loop_timer_stop(eng->loop, &x->attempt_timer);
            pool_ip_wait(eng->pool, &x->ipw, x->a.remote_ip, on_ip_room, r);
            return;
        }
        int rc;
        x->pc = pool_conn_open(eng->pool, r->origin, sa, on_io, r, &rc);
        if (x->pc != NULL) {
            r->state = REQ_CONNECTING;
            return;
        }
        x->last_connect_err = -rc;
        if (connect_err_class(-rc) == SALVO_E_RESOURCE)
            break; /* another address would hit the same local limit */
    }
    int err = x->last_connect_err;
    attempt_failed(r, connect_err_class(err), "connect to %s port %u: %s", x->a.remote_ip,
                   r->url.port, strerror(err));
}

static void on_dns(struct dns_waiter *w, const struct dns_answer *ans, void *data)
{
    (void)w;
    struct req *r = data;
    struct req_run *x = r->run;
    x->dns_pending = 0;
    x->a.dns_ms = ans->from_cache ? 0 : ms_since(x->a.t_phase);
    if (ans->err != SALVO_E_OK) {
        attempt_failed(r, ans->err, "%s: %s", r->url.host, ans->msg ? ans->msg : "lookup failed");
        return;
    }
    x->naddrs = ans->n;
    memcpy(x->addrs, ans->addrs, ans->n * sizeof ans->addrs[0]);
    connect_next(r);
}

static void start_tls(struct req *r)
{
    struct salvo *eng = r->eng;
    char err[256];
    if (engine_tls(eng) == NULL) {
        attempt_failed(r, SALVO_E_RESOURCE, "TLS set-up failed: %s", eng->tls_err);
        return;
    }
    char key[300];
    snprintf(key, sizeof key, "%s:%u", r->url.host, r->url.port);
    if (conn_tls_start(req_conn(r), eng->tls, r->url.host, r->url.host_is_ip != 0, key, err,
                       sizeof err) < 0) {
        attempt_failed(r, SALVO_E_RESOURCE, "TLS set-up failed: %s", err);
        return;
    }
    r->state = REQ_TLS;
    r->run->a.t_phase = loop_now_us();
    /* The ClientHello must go out now: only LOOP_READ is on, and the server says
     * nothing until it has one, so no event would ever start the handshake. */
    step_tls(r);
}

static void step_tls(struct req *r)
{
    int rc = conn_handshake(req_conn(r));
    if (rc == CONN_AGAIN)
        return;
    if (rc == 0) {
        r->run->a.tls_ms = ms_since(r->run->a.t_phase);
        req_capture_tls(&r->run->a, req_conn(r)->tls, 1);
        start_send(r);
        return;
    }
    if (rc == CONN_ETLS) {
        const char *why = NULL;
        salvo_err_t cls = tls_error(req_conn(r)->tls, &why);
        req_capture_tls(&r->run->a, req_conn(r)->tls, 0);
        attempt_failed(r, cls, "%s", why ? why : "TLS handshake failed");
        return;
    }
    attempt_failed(r, SALVO_E_TLS_HANDSHAKE, "TLS handshake: %s", strerror(-rc));
}

static void on_connected(struct req *r)
{
    struct req_run *x = r->run;
    int rc = conn_connect_done(req_conn(r));
    if (rc < 0) {
        x->last_connect_err = -rc;
        pool_close(r->eng->pool, x->pc, 1); /* keep the origin's room for the next address */
        x->pc = NULL;
        connect_next(r);
        return;
    }
    x->a.connect_ms = ms_since(x->a.t_phase);
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

/* Hands the connection what is left of the request: the head from x->wire, then the
 * body straight from its one shared copy (never copied per request). Returns 0 when all
 * of it has left, CONN_AGAIN when the socket must drain first, or -errno. */
static int send_more(struct req *r)
{
    struct req_run *x = r->run;
    struct conn *c = req_conn(r);
    size_t body_len = r->body ? r->body->len : 0;
    while (buf_size(&x->wire) > 0 || x->body_sent < body_len) {
        int head = buf_size(&x->wire) > 0;
        const char *p = head ? buf_head(&x->wire) : r->body->data + x->body_sent;
        size_t n = head ? buf_size(&x->wire) : body_len - x->body_sent;
        int k = conn_write(c, p, n);
        if (k < 0)
            return k;
        if (k == 0)
            return CONN_AGAIN;
        if (head)
            buf_consume(&x->wire, (size_t)k);
        else
            x->body_sent += (size_t)k;
    }
    return conn_flush(c); /* TLS may still hold ciphertext */
}

static void start_send(struct req *r)
{
    struct salvo *eng = r->eng;
    struct req_run *x = r->run;
    /* The connect phase is over: from here on only --max-time applies. */
    loop_timer_stop(eng->loop, &x->connect_timer);
    r->state = REQ_SENDING;
    struct http1_request hr = {
        .method = r->method,
        .url = &r->url,
        .user_agent = eng->user_agent,
        .headers = (const char *const *)r->headers,
        .headers_len = r->headers_len,
        .body = r->body ? r->body->data : NULL,
        .body_len = r->body ? r->body->len : 0,
        .keepalive = eng->cfg.keepalive && !r->conn_close,
        .compressed = 1,
    };
    buf_reset(&x->wire);
    x->body_sent = 0;
    int rc = http1_write_head(&x->wire, &hr);
    if (rc == 0)
        rc = http1_begin(&x->http, r->is_head, eng->cfg.max_filesize, eng->cfg.hash,
                         eng->cfg.follow_redirects);
    if (rc < 0) {
        attempt_failed(r, SALVO_E_RESOURCE, "cannot build the request: %s", strerror(-rc));
        return;
    }
    x->a.sent = 1;
    rc = send_more(r);
    if (rc == 0)
        sent_all(r);
    else if (rc != CONN_AGAIN)
        send_failed(r, rc);
}

static void attempt_succeeded(struct req *r);
static void do_receive(struct req *r);

/* Sending failed. A server may answer and close before it has read the whole request (an
 * early 413 or 401): its answer says more than "reset", so read what it sent first. A
 * request too large for the output buffer is a local limit. */
static void send_failed(struct req *r, int rc)
{
    if (rc == -EPIPE || rc == -ECONNRESET) {
        sent_all(r);
        do_receive(r);
    } else if (rc == -EPROTO) {
        attempt_failed(r, SALVO_E_RESOURCE, "cannot queue the request: %s", strerror(-rc));
    } else {
        io_failed(r, -rc, "sending the request");
    }
}

/* Feeds one chunk of response bytes (or EOF when n == 0) to the parser. Returns 1 when
 * the attempt ended (the request may be gone), 0 to keep reading. */
static int got_bytes(struct req *r, const char *p, size_t n)
{
    struct req_run *x = r->run;
    enum http1_rc rc;
    if (n > 0) {
        if (x->a.t_first_byte == 0) {
            x->a.t_first_byte = loop_now_us();
            x->a.ttfb_ms = (double)(x->a.t_first_byte - x->a.t_sent) / 1000.0;
        }
        r->eng->stats.bytes_received += n;
        size_t used = 0;
        rc = http1_feed(&x->http, p, n, &used);
    } else {
        rc = http1_eof(&x->http);
    }
    x->a.status = x->http.status;
    if (rc == HTTP1_AGAIN)
        return 0;
    if (rc == HTTP1_DONE)
        attempt_succeeded(r);
    else
        attempt_failed(r, x->http.err, "%s", x->http.msg);
    return 1;
}

static void do_receive(struct req *r)
{
    char chunk[READ_CHUNK];
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t n = conn_recv(req_conn(r), chunk, sizeof chunk);
        if (n == CONN_AGAIN)
            return;
        if (n == CONN_ETLS) {
            const char *why = NULL;
            (void)tls_error(req_conn(r)->tls, &why);
            attempt_failed(r, SALVO_E_PROTOCOL, "TLS: %s", why ? why : "error");
            return;
        }
        if (n < 0) {
            io_failed(r, (int)-n, "reading the response");
            return;
        }
        if (got_bytes(r, chunk, (size_t)n) || n == 0)
            return;
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
        int rc = send_more(r);
        if (rc == 0)
            sent_all(r);
        else if (rc != CONN_AGAIN) {
            send_failed(r, rc);
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

/* Keeps the attempt's final status, which the record reports even when a later attempt
 * or hop fails before any header, and adds the attempt to attempts_log (--attempt-log).
 * Allocation failure only shortens the log: the request itself goes on. */
void req_end_attempt(struct req *r, salvo_err_t err)
{
    if (r->run->a.status != 0)
        r->last_status = r->run->a.status;
    if (!r->eng->cfg.attempt_log)
        return;
    if (r->log_len == r->log_cap) {
        size_t cap = r->log_cap ? r->log_cap * 2 : 4;
        struct req_log_entry *l = realloc(r->log, cap * sizeof *l);
        if (l == NULL)
            return;
        r->log = l;
        r->log_cap = cap;
    }
    const struct req_attempt *a = &r->run->a;
    struct req_log_entry *e = &r->log[r->log_len++];
    e->a = (salvo_attempt_t){
        .error = err,
        .status = a->status,
        .dns_ms = a->dns_ms,
        .connect_ms = a->connect_ms,
        .tls_ms = a->tls_ms,
        .ttfb_ms = a->ttfb_ms,
        .reused = a->reused,
        .backoff_ms = -1,
    };
    copy_str(e->ip, sizeof e->ip, a->remote_ip);
}

/* Adaptive politeness: what the origin's answer says about its load (pool.h). */
static void tell_origin(struct req *r, salvo_err_t err, int status)
{
    if (r->origin == NULL)
        return;
    int retry_after = err == SALVO_E_OK && r->run->http.retry_after != NULL;
    if (err == SALVO_E_RESET || status == 429 || status == 503)
        pool_origin_pushback(r->eng->pool, r->origin, retry_after);
    else if (err == SALVO_E_OK && status < 400)
        pool_origin_success(r->eng->pool, r->origin);
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

/* Whether another attempt may start after sleeping sleep_ms: retries left, a method
 * that may be repeated, no cancel, and --retry-max-time not passed. */
static int may_retry(struct req *r, uint64_t sleep_ms)
{
    const salvo_config_t *c = &r->eng->cfg;
    if (r->attempts > c->retry || r->eng->cancel_requested)
        return 0;
    if (r->run->a.sent && !r->idempotent && !c->retry_non_idempotent)
        return 0;
    double next_start_ms = ms_since(r->t_first_attempt) + (double)sleep_ms;
    return next_start_ms < c->retry_max_time * 1000.0;
}

int req_retry_decision(struct req *r, salvo_err_t err, int status, uint64_t *sleep_ms)
{
    const salvo_config_t *c = &r->eng->cfg;
    double secs;
    if (err != SALVO_E_OK ? !salvo_err_retryable(err) : !retry_status_retryable(status))
        return 0;
    const char *ra = err == SALVO_E_OK ? r->run->http.retry_after : NULL;
    if (ra != NULL && retry_after_parse(ra, time(NULL), &secs) == 0) {
        /* Retry-After replaces the backoff; one longer than the cap ends the retries. */
        if (secs > c->retry_backoff_max)
            return 0;
        *sleep_ms = secs_to_ms(secs);
    } else {
        *sleep_ms =
            retry_backoff_ms(c->retry_backoff, c->retry_backoff_max, r->attempts, rng_next(r->eng));
    }
    return may_retry(r, *sleep_ms);
}

/* Sleeps without a slot: a request waiting to retry must not keep others out. */
static void sleep_then_retry(struct req *r, uint64_t sleep_ms)
{
    if (r->eng->cfg.attempt_log && r->log_len > 0)
        r->log[r->log_len - 1].a.backoff_ms = (double)sleep_ms;
    limiter_release(r->eng, r);
    r->state = REQ_BACKOFF;
    loop_timer_start(r->eng->loop, &r->backoff_timer, sleep_ms);
}

static void on_backoff_timer(struct loop_timer *t, void *data)
{
    (void)t;
    struct req *r = data;
    /* It was admitted once already: it goes ahead of requests that never started. */
    if (limiter_enqueue(r->eng, r, 1) < 0)
        req_finish(r, SALVO_E_RESOURCE, "out of memory");
}

/* A keep-alive connection the server closed while it sat in the pool fails before the
 * first response byte. That says nothing about the site: replay once on a fresh
 * connection, in the same attempt (it does not count as one). The server may have acted
 * on the request before closing, though, so the retry rule for methods that are not
 * idempotent holds here too: such a request that was sent is not replayed unless the
 * user allows it (--retry-non-idempotent). */
static int replay_stale(struct req *r, salvo_err_t err)
{
    struct req_run *x = r->run;
    if (!x->a.reused || x->replayed || x->http.got_bytes ||
        (err != SALVO_E_RESET && err != SALVO_E_EMPTY_REPLY))
        return 0;
    if (x->a.sent && !r->idempotent && !r->eng->cfg.retry_non_idempotent)
        return 0;
    x->replayed = 1;
    pool_close(r->eng->pool, x->pc, 1); /* the origin's room stays with this request */
    x->pc = NULL;
    uint64_t start = x->a.t_start;
    req_attempt_reset(&x->a, loop_now_us());
    x->a.t_start = start;
    resolve(r);
    return 1;
}

static void attempt_failed(struct req *r, salvo_err_t err, const char *fmt, ...)
{
    struct req_run *x = r->run;
    if (replay_stale(r, err))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->a.msg, sizeof x->a.msg, fmt, ap);
    va_end(ap);
    x->a.err = err;
    tell_origin(r, err, x->a.status);
    req_end_attempt(r, err);
    attempt_cleanup(r, 0);

    uint64_t sleep_ms;
    if (req_retry_decision(r, err, 0, &sleep_ms))
        sleep_then_retry(r, sleep_ms);
    else
        req_finish(r, err, x->a.msg);
}

static void follow_redirect(struct req *r)
{
    char msg[REQ_MSG_LEN];
    salvo_err_t err = redirect_apply(r, &r->run->http, msg, sizeof msg);
    if (err != SALVO_E_OK) {
        req_finish(r, err, msg);
        return;
    }
    /* The next URL is a request of its own for retries; the slot is given back, since
     * the next origin may have no room yet. */
    r->attempts = 0;
    limiter_release(r->eng, r);
    if (limiter_enqueue(r->eng, r, 1) < 0)
        req_finish(r, SALVO_E_RESOURCE, "out of memory");
}

static void attempt_succeeded(struct req *r)
{
    struct req_run *x = r->run;
    const salvo_config_t *c = &r->eng->cfg;
    x->a.transfer_ms = ms_since(x->a.t_first_byte ? x->a.t_first_byte : x->a.t_sent);
    if (c->hash)
        http1_sha256_hex(&x->http, x->sha256);
    int status = x->a.status;
    uint64_t sleep_ms;
    tell_origin(r, SALVO_E_OK, status);
    req_end_attempt(r, SALVO_E_OK);
    /* Back to the pool only after a whole response that allows keep-alive and left no
     * stray bytes (http1 clears keep_alive for those) on a socket still open, with all
     * of the request sent: a server may answer before reading the whole body, and the
     * rest of it must never run into the next request on the connection. */
    size_t body_len = r->body ? r->body->len : 0;
    int keep = c->keepalive && !r->conn_close && x->http.keep_alive && x->body_sent == body_len &&
               buf_size(&x->wire) == 0;
    attempt_cleanup(r, keep);
    if (c->follow_redirects && redirect_wanted(&x->http))
        follow_redirect(r);
    else if (req_retry_decision(r, SALVO_E_OK, status, &sleep_ms))
        sleep_then_retry(r, sleep_ms);
    else
        req_finish(r, SALVO_E_OK, NULL);
}

/* ---- the one exit -------------------------------------------------------------------- */

void req_finish(struct req *r, salvo_err_t err, const char *msg)
{
    struct salvo *eng = r->eng;
    attempt_cleanup(r, 0);
    loop_timer_stop(eng->loop, &r->backoff_timer);
    loop_defer_cancel(eng->loop, &r->defer);
    limiter_remove(eng, r);
    limiter_release(eng, r);
    list_remove(&r->live);
    eng->n_live--;
    r->state = REQ_DONE;

    salvo_result_t res;
    salvo_attempt_t *log = result_fill(r, &res, err, msg);
    eng->stats.completed++;
    r->cb(&res, r->user);
    free(log);
    req_free(r);
    limiter_schedule(eng);
}
