/*
 * drive.c -- the asynchronous driver: the step machine of a request on the loop. See
 * drive.h.
 *
 * Deadlines belong to the states (request.c starts and stops them on entry and exit):
 * --connect-timeout covers RESOLVING, CONNECTING and TLS, --max-time the whole attempt.
 * When either fires, the error class names the phase that was running.
 */
#include "drive.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "redirect.h"
#include "sock.h"
#include "tunnel.h"

/* Bytes read from a socket per recv(), and recv() calls per readiness event: a bound
 * so that one fast response cannot keep the loop from everybody else (level-triggered
 * epoll reports the socket again on the next iteration). */
#define READ_CHUNK      (64 * 1024)
#define READS_PER_EVENT 16

/* Attempts started per scheduling pass (one pass per loop iteration), at most. At
 * -c 10000 one unbounded pass made 10,000 connects (about half a second of system time
 * on loopback) before the loop could see the first of them finish: no request went out
 * before the last connect, every server started its clock late, and all the answers
 * came back at once. In bounded passes the requests of one batch go out while the next
 * batch connects. bench/scale10k.sh: 10,000 URLs of 1 s took a median 2.0 s unbounded,
 * 1.7 s at 64; 16, 32, 128, 256 and 1024 were no better than 64. */
#define GRANTS_PER_PASS 64

static void on_io(struct loop_io *w, unsigned events, void *data);
static void on_more(struct loop_defer *d, void *data);
static void on_slot(struct limiter_waiter *w, struct pool_conn *pc, void *data);
static void start_send(struct req *r);
static void do_receive(struct req *r);
static void attempt_failed(struct req *r, salvo_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static double ms_since(uint64_t t_us)
{
    return (double)(loop_now_us() - t_us) / 1000.0;
}

static struct conn *req_conn(struct req *r)
{
    return &r->run->pc->c;
}

/* ---- slots --------------------------------------------------------------------------- */

void drive_schedule(struct salvo *eng)
{
    loop_defer(eng->loop, &eng->sched);
}

/* Gives the request's slot back, if it holds one. */
static void release_slot(struct req *r)
{
    if (r->has_slot) {
        r->has_slot = 0;
        limiter_release(&r->eng->limiter);
        drive_schedule(r->eng);
    }
}

/* Queues r for a slot and room in its origin; at_front: it was admitted once already
 * (back from a backoff or a redirect) and goes ahead of requests that never started. */
static int enqueue(struct req *r, int at_front, const char *why)
{
    if (r->origin == NULL && req_take_origin(r) < 0)
        return -ENOMEM;
    if (limiter_wait(&r->eng->limiter, &r->slot, r->origin, at_front, on_slot, r) < 0)
        return -ENOMEM;
    if (r->state != REQ_QUEUED)
        req_set_state(r, REQ_QUEUED, why);
    drive_schedule(r->eng);
    return 0;
}

/* ---- the end of a request ------------------------------------------------------------ */

/* Gives the attempt's connection and its room in the origin back; keep: the connection
 * may serve another request (the pool checks it once more). Invariant: x->pc != NULL
 * implies x->reserved (a connection always holds its origin's room). */
static void release_conn(struct req *r, int keep)
{
    struct req_run *x = r->run;
    struct pool *p = r->eng->pool;
    if (!x->reserved)
        return;
    if (x->pc != NULL && keep)
        pool_checkin(p, x->pc);
    else if (x->pc != NULL)
        pool_close(p, x->pc, 0);
    else
        pool_unreserve(p, r->origin);
    x->pc = NULL;
    x->reserved = 0;
}

/* Stops everything an attempt may have running here: DNS, waits, the race, the
 * connection. (Its timers belong to its states.) */
static void attempt_cleanup(struct req *r, int keep_conn)
{
    struct req_run *x = r->run;
    if (x == NULL)
        return;
    if (x->dns_pending) {
        dns_cancel(r->eng->dns, &x->dnsw);
        x->dns_pending = 0;
    }
    pool_ip_cancel(r->eng->pool, &x->ipw);
    if (x->timed) {
        race_stop(&x->race);
        loop_defer_cancel(r->eng->loop, &x->more);
    }
    release_conn(r, keep_conn);
}

/* The one way out of a request here: everything it holds goes back, then the core
 * completes it. */
static void finish(struct req *r, salvo_err_t err, const char *msg)
{
    attempt_cleanup(r, 0);
    limiter_cancel(&r->eng->limiter, &r->slot);
    release_slot(r);
    req_complete(r, err, msg);
    drive_schedule(r->eng);
}

void drive_abort(struct req *r, salvo_err_t err, const char *msg)
{
    loop_defer_cancel(r->eng->loop, &r->refuse);
    finish(r, err, msg);
}

/* ---- the start of an attempt --------------------------------------------------------- */

static void on_connect_timer(struct loop_timer *t, void *data);
static void on_attempt_timer(struct loop_timer *t, void *data);
static void on_race(struct race *race, enum race_outcome outcome, void *data);

/* The run state's timers and race report to this driver, for this request. */
static int prepare(struct req *r)
{
    if (req_run_prepare(r) < 0)
        return -ENOMEM;
    struct req_run *x = r->run;
    if (!x->timed) {
        loop_timer_init(&x->connect_timer, on_connect_timer, r);
        loop_timer_init(&x->attempt_timer, on_attempt_timer, r);
        loop_defer_init(&x->more, on_more, r);
        loop_defer_set_label(&x->more, "request", r->index);
        loop_timer_set_label(&x->connect_timer, "request", r->index);
        loop_timer_set_label(&x->attempt_timer, "request", r->index);
        race_init(&x->race, r->eng->pool, r->eng->loop, on_race, r, "request", r->index);
        x->timed = 1;
    }
    return 0;
}

static void on_dns(struct dns_waiter *w, const struct dns_answer *ans, void *data);

/* Looks up the next name: the target's when direct; through a proxy, the proxy's,
 * after the target's for a socks5:// proxy, which is sent the target's address. */
static void lookup_next(struct req *r)
{
    struct req_run *x = r->run;
    const struct proxy *px = r->proxy;
    int target_first = px != NULL && px->kind == PROXY_SOCKS5 && x->target_ip[0] == '\0';
    x->to_proxy = px != NULL && !target_first;
    x->dns_pending = 1;
    if (x->to_proxy)
        dns_resolve(r->eng->dns, px->host, px->port, &x->dnsw, on_dns, r);
    else
        dns_resolve(r->eng->dns, r->url.host, r->url.port, &x->dnsw, on_dns, r);
}

/* Which address this attempt is on, for the record. Not snprintf("%s"): this runs once
 * per request, and a bounded copy is a tenth of the instructions. */
static void set_remote_ip(struct req_run *x, const char *ip)
{
    size_t n = strnlen(ip, sizeof x->a.remote_ip - 1);
    memcpy(x->a.remote_ip, ip, n);
    x->a.remote_ip[n] = '\0';
}

/* Resolves, then connects: the path of an attempt with no pooled connection, and of a
 * stale pooled connection's replay. */
static void resolve(struct req *r, const char *why)
{
    struct req_run *x = r->run;
    req_set_state(r, REQ_RESOLVING, why);
    x->a.t_phase = loop_now_us();
    x->target_ip[0] = '\0';
    x->proxy_layers = 0;
    lookup_next(r);
}

/* An attempt on a connection from the pool: no DNS, connect or handshake. */
static void use_pooled(struct req *r, struct pool_conn *pc)
{
    struct req_run *x = r->run;
    x->pc = pc;
    x->a.reused = 1;
    x->to_proxy = 0;
    set_remote_ip(x, pc->c.remote_ip);
    conn_set_owner(&pc->c, on_io, r, "request", r->index);
    r->eng->stats.connections_reused++;
    if (conn_tls(&pc->c) != NULL)
        req_capture_tls(&x->a, conn_tls(&pc->c), 1);
    start_send(r);
}

/* A slot and room in the origin were granted: pc is an idle connection to reuse, or
 * NULL (room for a new one is reserved). */
static void on_slot(struct limiter_waiter *w, struct pool_conn *pc, void *data)
{
    (void)w;
    struct req *r = data;
    r->has_slot = 1;
    if (r->t_slot == 0)
        r->t_slot = loop_now_us();
    if (prepare(r) < 0) {
        if (pc != NULL)
            pool_checkin(r->eng->pool, pc);
        else
            pool_unreserve(r->eng->pool, r->origin);
        finish(r, SALVO_E_RESOURCE, "out of memory");
        return;
    }
    req_attempt_begin(r);
    r->run->reserved = 1;
    if (pc != NULL)
        use_pooled(r, pc);
    else
        resolve(r, "");
}

/* ---- connecting ---------------------------------------------------------------------- */

static void on_dns(struct dns_waiter *w, const struct dns_answer *ans, void *data)
{
    (void)w;
    struct req *r = data;
    struct req_run *x = r->run;
    x->dns_pending = 0;
    x->a.dns_ms = ans->from_cache ? 0 : ms_since(x->a.t_phase);
    const char *why = ans->msg ? ans->msg : "lookup failed";
    if (ans->err != SALVO_E_OK && x->to_proxy) {
        attempt_failed(r, SALVO_E_PROXY, "resolving the proxy %s: %s", r->proxy->host, why);
        return;
    }
    if (ans->err != SALVO_E_OK) {
        attempt_failed(r, ans->err, "%s: %s", r->url.host, why);
        return;
    }
    if (!x->to_proxy && r->proxy != NULL) {
        /* socks5://: the target's address is what the proxy is asked for. */
        sock_addr_str(&ans->addrs[0].sa, x->target_ip, sizeof x->target_ip);
        lookup_next(r);
        return;
    }
    x->a.t_phase = loop_now_us();
    req_set_state(r, REQ_CONNECTING, "");
    race_start(&x->race, r->origin, ans->addrs, ans->n);
}

/* The address had no room under --per-ip and now has. */
static void on_ip_room(struct pool_ip_waiter *w, void *data)
{
    (void)w;
    struct req *r = data;
    r->run->a.t_phase = loop_now_us();
    req_set_state(r, REQ_CONNECTING, "room at the address");
    race_resume(&r->run->race);
}

static void start_tls(struct req *r);
static void start_proxy(struct req *r);

static void on_race(struct race *race, enum race_outcome outcome, void *data)
{
    struct req *r = data;
    struct req_run *x = r->run;
    switch (outcome) {
    case RACE_CONNECTED:
        x->pc = race->winner;
        conn_set_owner(&x->pc->c, on_io, r, "request", r->index);
        set_remote_ip(x, x->pc->c.remote_ip);
        x->a.connect_ms = ms_since(x->a.t_phase);
        if (r->proxy != NULL)
            start_proxy(r);
        else if (r->url.tls)
            start_tls(r);
        else
            start_send(r);
        return;
    case RACE_WAIT_IP:
        set_remote_ip(x, race->blocked_ip);
        req_set_state(r, REQ_WAIT_IP, race->blocked_ip);
        pool_ip_wait(r->eng->pool, &x->ipw, race->blocked_ip, on_ip_room, r);
        return;
    case RACE_FAILED:
    default:
        set_remote_ip(x, race->last_ip);
        if (x->to_proxy) {
            attempt_failed(r, SALVO_E_PROXY, "connect to the proxy %s port %u: %s", race->last_ip,
                           r->proxy->port, strerror(race->last_err));
            return;
        }
        attempt_failed(r, req_errno_class(race->last_err, REQ_CONNECTING),
                       "connect to %s port %u: %s", race->last_ip, r->url.port,
                       strerror(race->last_err));
        return;
    }
}

static salvo_err_t tls_failure(struct req *r, salvo_err_t for_target, const char *doing, char *msg,
                               size_t len);

static void step_tls(struct req *r)
{
    struct conn *c = req_conn(r);
    int rc = conn_handshake(c);
    if (rc == CONN_AGAIN)
        return;
    if (rc == 0) {
        r->run->a.tls_ms = ms_since(r->run->a.t_phase);
        req_capture_tls(&r->run->a, conn_tls(c), 1);
        start_send(r);
        return;
    }
    if (rc == CONN_ETLS) {
        char msg[REQ_MSG_LEN];
        salvo_err_t cls = tls_failure(r, SALVO_E_OK, "", msg, sizeof msg);
        req_capture_tls(&r->run->a, conn_tls(c), 0);
        attempt_failed(r, cls, "%s", msg);
        return;
    }
    attempt_failed(r, req_errno_class(-rc, REQ_TLS), "TLS handshake: %s", strerror(-rc));
}

static void start_tls(struct req *r)
{
    struct salvo *eng = r->eng;
    char err[256], key[300];
    if (engine_tls(eng) == NULL) {
        attempt_failed(r, SALVO_E_RESOURCE, "TLS set-up failed: %s", eng->tls_err);
        return;
    }
    snprintf(key, sizeof key, "%s:%u", r->url.host, r->url.port);
    if (conn_tls_start(req_conn(r), eng->tls, r->url.host, r->url.host_is_ip != 0, key, err,
                       sizeof err) < 0) {
        attempt_failed(r, SALVO_E_RESOURCE, "TLS set-up failed: %s", err);
        return;
    }
    req_set_state(r, REQ_TLS, "");
    r->run->a.t_phase = loop_now_us();
    /* The ClientHello must go out now: the server says nothing until it has one, so no
     * event would ever start the handshake. */
    step_tls(r);
}

/* ---- through a proxy ------------------------------------------------------------------ */

/* After CONN_ETLS: the class of the TLS failure (for_target: what a failure of the
 * target's layer counts as here, or SALVO_E_OK for the layer's own class) and its reason
 * in msg. A failure of the layer to the proxy is the proxy's, and final: a proxy whose
 * certificate does not verify will not verify on the next attempt either. */
static salvo_err_t tls_failure(struct req *r, salvo_err_t for_target, const char *doing, char *msg,
                               size_t len)
{
    int to_proxy = 0;
    const char *why = NULL;
    struct tls *t = conn_failed_tls(req_conn(r), &to_proxy);
    salvo_err_t cls = t != NULL ? tls_error(t, &why) : SALVO_E_TLS_HANDSHAKE;
    if (why == NULL)
        why = "TLS failed";
    if (to_proxy) {
        r->run->a.proxy_refused = 1;
        snprintf(msg, len, "%sTLS to the proxy: %s", doing, why);
        return SALVO_E_PROXY;
    }
    snprintf(msg, len, "%s%s", doing, why);
    return for_target != SALVO_E_OK ? for_target : cls;
}

/* Fails the attempt for a handshake with the proxy that returned rc. */
static void proxy_failed(struct req *r, int rc)
{
    struct conn *c = req_conn(r);
    if (rc == TUNNEL_EREFUSED) {
        int final;
        const char *why = tunnel_error(c->top, &final);
        r->run->a.proxy_refused = final;
        attempt_failed(r, SALVO_E_PROXY, "%s", why);
    } else if (rc == CONN_ETLS) {
        char msg[REQ_MSG_LEN];
        (void)tls_failure(r, SALVO_E_PROXY, "", msg, sizeof msg);
        attempt_failed(r, SALVO_E_PROXY, "%s", msg);
    } else {
        attempt_failed(r, SALVO_E_PROXY, "talking to the proxy: %s", strerror(-rc));
    }
}

/* The tunnel a connection needs: to an https:// target, a CONNECT through an HTTP
 * proxy (an http:// target is asked for in absolute form, no tunnel); through SOCKS5,
 * always. */
static struct transport *new_tunnel(struct req *r, struct transport *lower)
{
    const struct proxy *px = r->proxy;
    if (proxy_is_http(px)) {
        char authority[300];
        snprintf(authority, sizeof authority, r->url.host_is_ip == 6 ? "[%s]:%u" : "%s:%u",
                 r->url.host, r->url.port);
        return tunnel_connect_new(lower, authority, px->basic_auth, r->eng->user_agent);
    }
    int by_name = px->kind == PROXY_SOCKS5H && !r->url.host_is_ip;
    const char *host = px->kind == PROXY_SOCKS5 ? r->run->target_ip : r->url.host;
    return tunnel_socks5_new(lower, host, by_name, r->url.port, px->user, px->pass);
}

/* Puts the next layer the way through the proxy needs on the connection: TLS to an
 * https:// proxy, then the tunnel. Returns 1 when one was pushed, 0 when the way is
 * complete, -1 when the attempt failed. */
static int push_proxy_layer(struct req *r)
{
    const struct proxy *px = r->proxy;
    struct req_run *x = r->run;
    struct conn *c = req_conn(r);
    struct salvo *eng = r->eng;
    int tls_layers = px->kind == PROXY_HTTPS;
    int tunnel_layers = !proxy_is_http(px) || r->url.tls;
    if (x->proxy_layers == tls_layers + tunnel_layers)
        return 0;
    if (x->proxy_layers < tls_layers) {
        char err[256], key[300];
        if (engine_tls(eng) == NULL) {
            attempt_failed(r, SALVO_E_RESOURCE, "TLS set-up failed: %s", eng->tls_err);
            return -1;
        }
        /* Its own session cache entry: a proxy's session never resumes a target's. */
        snprintf(key, sizeof key, "proxy %s:%u", px->host, px->port);
        if (conn_tls_start(c, eng->tls, px->host, px->host_is_ip != 0, key, err, sizeof err) < 0) {
            attempt_failed(r, SALVO_E_RESOURCE, "TLS set-up failed: %s", err);
            return -1;
        }
    } else {
        struct transport *t = new_tunnel(r, c->top);
        if (t == NULL) {
            attempt_failed(r, SALVO_E_PROXY,
                           "cannot ask the proxy for a tunnel (out of memory, "
                           "or a name or credentials too long for SOCKS5)");
            return -1;
        }
        conn_push(c, t);
    }
    x->proxy_layers++;
    return 1;
}

/* Brings each layer to the proxy up in turn, then goes on as a direct connection would
 * after its connect. */
static void step_proxy(struct req *r)
{
    struct conn *c = req_conn(r);
    for (;;) {
        int rc = conn_handshake(c);
        if (rc == CONN_AGAIN)
            return;
        if (rc != 0) {
            proxy_failed(r, rc);
            return;
        }
        rc = push_proxy_layer(r);
        if (rc < 0)
            return;
        if (rc == 0)
            break;
    }
    r->run->to_proxy = 0;
    conn_proxy_done(c);
    r->run->a.connect_ms = ms_since(r->run->a.t_phase); /* the connect and the way through */
    if (r->url.tls)
        start_tls(r);
    else
        start_send(r);
}

static void start_proxy(struct req *r)
{
    req_conn(r)->through_proxy = 1;
    req_set_state(r, REQ_PROXY, r->proxy->shown);
    /* The first message (a ClientHello, CONNECT, the SOCKS5 greeting) goes out now: the
     * proxy says nothing until it has one. */
    step_proxy(r);
}

/* ---- send and receive ---------------------------------------------------------------- */

/* Hands the connection what is left of the request: the head from x->wire, then the
 * body straight from its one shared copy (never copied per request). Returns 0 when all
 * of it has left, CONN_AGAIN when the socket (or TLS, wanting the peer's bytes first)
 * must be waited for, or an error. */
static int send_more(struct req *r)
{
    struct req_run *x = r->run;
    struct conn *c = req_conn(r);
    size_t body_len = r->body ? r->body->len : 0;
    while (buf_size(&x->wire) > 0 || x->body_sent < body_len) {
        int head = buf_size(&x->wire) > 0;
        const char *p = head ? buf_head(&x->wire) : r->body->data + x->body_sent;
        size_t n = head ? buf_size(&x->wire) : body_len - x->body_sent;
        ssize_t k = conn_write(c, p, n);
        if (k == 0 || k == CONN_AGAIN)
            return CONN_AGAIN;
        if (k < 0)
            return (int)k;
        if (head)
            buf_consume(&x->wire, (size_t)k);
        else
            x->body_sent += (size_t)k;
    }
    return conn_flush(c); /* TLS may still hold ciphertext */
}

static void sent_all(struct req *r)
{
    req_set_state(r, REQ_RECEIVING, "");
    r->run->a.t_sent = loop_now_us();
}

/* Sending failed. A server may answer and close before it has read the whole request (an
 * early 413 or 401): its answer says more than "reset", so read what it sent first. */
static void send_failed(struct req *r, int rc)
{
    if (rc == -EPIPE || rc == -ECONNRESET) {
        sent_all(r);
        do_receive(r);
    } else if (rc == CONN_ETLS) {
        char msg[REQ_MSG_LEN];
        salvo_err_t cls = tls_failure(r, SALVO_E_OK, "sending the request: ", msg, sizeof msg);
        attempt_failed(r, cls, "%s", msg);
    } else {
        attempt_failed(r, req_errno_class(-rc, REQ_SENDING), "sending the request: %s",
                       strerror(-rc));
    }
}

static void start_send(struct req *r)
{
    struct salvo *eng = r->eng;
    struct req_run *x = r->run;
    req_set_state(r, REQ_SENDING, "");
    struct http1_request hr = {
        .method = r->method,
        .url = &r->url,
        .user_agent = eng->user_agent,
        .headers = (const char *const *)r->headers,
        .headers_len = r->headers_len,
        .body = r->body ? r->body->data : NULL,
        .body_len = r->body ? r->body->len : 0,
        .keepalive = eng->cfg.keepalive && !r->conn_close,
        .compressed = ENGINE_ASKS_COMPRESSED,
        .absolute_form = r->proxy != NULL && proxy_is_http(r->proxy) && !r->url.tls,
        .default_lines = eng->default_lines,
        .default_lines_len = eng->default_lines_len,
    };
    if (hr.absolute_form)
        hr.proxy_auth = r->proxy->basic_auth;
    buf_reset(&x->wire);
    x->body_sent = 0;
    int rc = http1_write_head(&x->wire, &hr);
    if (rc == 0)
        rc = http1_begin(&x->http, r->is_head, eng->cfg.max_filesize, eng->cfg.hash,
                         eng->cfg.follow_redirects);
    if (rc == 0)
        req_expect_response(r);
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

/* Feeds one chunk of response bytes (or EOF when n == 0) to the parser. Returns 1 when
 * the attempt ended, 0 to keep reading. */
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
        if (rc == HTTP1_HEAD) {
            /* The caller's callbacks run here, between two calls into the parser. */
            x->a.status = x->http.status;
            int cls = req_response_head(r);
            if (cls != 0) {
                attempt_failed(r, (salvo_err_t)cls,
                               "the transfer was stopped by the headers "
                               "callback");
                return 1;
            }
            rc = http1_feed(&x->http, p + used, n - used, &used);
        }
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
            char msg[REQ_MSG_LEN];
            salvo_err_t cls = tls_failure(r, SALVO_E_PROTOCOL, "TLS: ", msg, sizeof msg);
            attempt_failed(r, cls, "%s", msg);
            return;
        }
        if (n < 0) {
            attempt_failed(r, req_errno_class((int)-n, REQ_RECEIVING), "reading the response: %s",
                           strerror((int)-n));
            return;
        }
        if (got_bytes(r, chunk, (size_t)n) || n == 0)
            return;
    }
    /* The bound is met. Bytes left in the socket will wake us again (level-triggered);
     * bytes already inside TLS will not: read them on the next loop pass. */
    if (conn_pending_in(req_conn(r)) > 0)
        loop_defer(r->eng->loop, &r->run->more);
}

static void on_more(struct loop_defer *d, void *data)
{
    (void)d;
    struct req *r = data;
    if (r->state == REQ_SENDING || r->state == REQ_RECEIVING)
        do_receive(r);
}

/* Readable or writable while sending: send what the socket takes; read what the server
 * already says (it may answer, or close, before it has read the whole request). */
static void while_sending(struct req *r, unsigned events)
{
    int rc = send_more(r);
    if (rc == 0)
        sent_all(r);
    else if (rc != CONN_AGAIN) {
        send_failed(r, rc);
        return;
    }
    if (!(events & (LOOP_READ | LOOP_ERROR)))
        return;
    if (r->state == REQ_SENDING)
        r->run->a.t_sent = loop_now_us();
    do_receive(r);
    /* TLS may have wanted the peer's bytes (a renegotiation) before taking more. */
    if (r->state == REQ_SENDING) {
        rc = send_more(r);
        if (rc == 0)
            sent_all(r);
        else if (rc != CONN_AGAIN)
            send_failed(r, rc);
    }
}

static void on_io(struct loop_io *w, unsigned events, void *data)
{
    (void)w;
    struct req *r = data;
    switch (r->state) {
    case REQ_PROXY:
        step_proxy(r);
        break;
    case REQ_TLS:
        step_tls(r);
        break;
    case REQ_SENDING:
        while_sending(r, events);
        break;
    case REQ_RECEIVING:
        do_receive(r);
        break;
    default:
        /* No other state has a connection of its own: a stale event is ignored. */
        break;
    }
}

/* ---- deadlines ------------------------------------------------------------------------- */

static salvo_err_t deadline_class(const struct req *r)
{
    if (r->run->to_proxy)
        return SALVO_E_PROXY; /* still on the way to the proxy */
    switch (r->state) {
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
    attempt_failed(r, deadline_class(r), "%s of %g s passed while %s", which, secs,
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

/* ---- the end of an attempt ----------------------------------------------------------- */

/* Adaptive politeness: what the origin's answer says about its load (pool.h). */
static void tell_origin(struct req *r, salvo_err_t err, int status)
{
    int retry_after = err == SALVO_E_OK && r->run->http.retry_after != NULL;
    if (err == SALVO_E_RESET || status == 429 || status == 503)
        pool_origin_pushback(r->eng->pool, r->origin, retry_after);
    else if (err == SALVO_E_OK && status < 400)
        pool_origin_success(r->eng->pool, r->origin);
}

static void on_backoff_timer(struct loop_timer *t, void *data)
{
    (void)t;
    struct req *r = data;
    if (enqueue(r, 1, "retry") < 0)
        finish(r, SALVO_E_RESOURCE, "out of memory");
}

/* Sleeps without a slot: a request waiting to retry must not keep others out. why
 * names the failure or the answer, for the trace. */
static void sleep_then_retry(struct req *r, uint64_t sleep_ms, const char *why)
{
    if (r->eng->cfg.attempt_log && r->log_len > 0)
        r->log[r->log_len - 1].a.backoff_ms = (double)sleep_ms;
    release_slot(r);
    r->backoff_ms = sleep_ms;
    loop_timer_init(&r->backoff_timer, on_backoff_timer, r);
    loop_timer_set_label(&r->backoff_timer, "request", r->index);
    req_set_state(r, REQ_BACKOFF, why);
}

/* A keep-alive connection the server closed while it sat in the pool fails before the
 * first response byte. That says nothing about the site: replay once on a fresh
 * connection, in the same attempt (it does not count as one), unless the request may
 * have been acted on and must not be repeated (req_may_replay). */
static int replay_stale(struct req *r, salvo_err_t err)
{
    struct req_run *x = r->run;
    if ((err != SALVO_E_RESET && err != SALVO_E_EMPTY_REPLY) || !req_may_replay(r))
        return 0;
    x->replayed = 1;
    /* A start of its own for the pacers, though it does not wait for them: it is the
     * same attempt, already admitted. */
    limiter_charge(&r->eng->limiter, r->origin, loop_now_us());
    pool_close(r->eng->pool, x->pc, 1); /* the origin's room stays with this request */
    x->pc = NULL;
    uint64_t start = x->a.t_start;
    req_attempt_reset(&x->a, loop_now_us());
    x->a.t_start = start;
    resolve(r, "replay on a fresh connection");
    return 1;
}

static void attempt_failed(struct req *r, salvo_err_t err, const char *fmt, ...)
{
    struct req_run *x = r->run;
    if (x->pc != NULL && replay_stale(r, err))
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
        sleep_then_retry(r, sleep_ms, salvo_err_name(err));
    else
        finish(r, err, x->a.msg);
}

/* A redirect to follow: the next URL is a request of its own for retries, and gives its
 * slot back, since the next origin may have no room yet. */
static void follow_redirect(struct req *r)
{
    char msg[REQ_MSG_LEN];
    salvo_err_t err = req_follow_redirect(r, msg, sizeof msg);
    if (err != SALVO_E_OK) {
        finish(r, err, msg);
        return;
    }
    release_slot(r);
    if (req_take_origin(r) < 0 || enqueue(r, 1, "redirect") < 0)
        finish(r, SALVO_E_RESOURCE, "out of memory");
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
    /* Back to the pool only after a whole response that allows keep-alive, with all of
     * the request sent: a server may answer before reading the whole body, and the rest
     * of it must never run into the next request on the connection. The pool checks
     * that no layer holds a byte. */
    size_t body_len = r->body ? r->body->len : 0;
    int keep = c->keepalive && !r->conn_close && x->http.keep_alive && x->body_sent == body_len &&
               buf_size(&x->wire) == 0;
    attempt_cleanup(r, keep);
    if (c->follow_redirects && redirect_wanted(status, x->http.location))
        follow_redirect(r);
    else if (req_retry_decision(r, SALVO_E_OK, status, &sleep_ms)) {
        char why[16];
        snprintf(why, sizeof why, "status %d", status);
        sleep_then_retry(r, sleep_ms, why);
    } else
        finish(r, SALVO_E_OK, NULL);
}

/* ---- the scheduling pass ------------------------------------------------------------- */

/* Asks the feed for input until a window's worth waits or the input ends. Everything
 * submitted and not holding a slot counts: queued requests, requests in backoff, and
 * results not delivered yet (a flood of bad lines must not outrun their delivery). */
static void pull_input(struct salvo *eng)
{
    while (!eng->feed_done && eng->cfg.feed != NULL && !eng->cancel_requested &&
           eng->feed_io == NULL) {
        size_t waiting = eng->n_live - eng->limiter.in_flight;
        if (waiting >= eng->window)
            break;
        uint64_t before = eng->stats.submitted;
        if (eng->cfg.feed(eng, eng->window - waiting, eng->cfg.feed_user) != 0)
            eng->feed_done = 1;
        else if (eng->stats.submitted == before && eng->feed_io == NULL)
            eng->feed_done = 1; /* salvo_feed_cb's contract: 0 means "submitted some" */
    }
}

static void on_pace(struct loop_timer *t, void *data)
{
    (void)t;
    drive_schedule(data);
}

/* Runs the pass again at wake_us, when a pacer lets a waiter go. The loop's timers count
 * whole milliseconds from its cached time: rounded up, so that the timer never fires
 * before wake_us (a pass that came too early would only arm it again). */
static void pace_at(struct salvo *eng, uint64_t wake_us)
{
    uint64_t at_ms = (wake_us + 999) / 1000, now_ms = loop_now(eng->loop);
    loop_timer_start(eng->loop, &eng->pace_timer, at_ms > now_ms ? at_ms - now_ms : 1);
}

static void on_pass(struct loop_defer *d, void *data)
{
    (void)d;
    struct salvo *eng = data;
    if (eng->cancelled) {
        loop_stop(eng->loop); /* a cancelled engine takes no more work: run returns */
        return;
    }
    pull_input(eng);
    int more;
    uint64_t wake = limiter_grant_some(&eng->limiter, loop_now_us(), GRANTS_PER_PASS, &more);
    if (more)
        drive_schedule(eng); /* the next pass, after the loop has looked at the sockets */
    if (wake != 0)
        pace_at(eng, wake);
    else
        loop_timer_stop(eng->loop, &eng->pace_timer);
    /* A freshly started attempt may already have finished (a local failure) and queued
     * the next pass. Stop only when truly idle. */
    int input_left = eng->cfg.feed != NULL && !eng->feed_done;
    if (eng->n_live == 0 && !input_left)
        loop_stop(eng->loop);
}

static void on_deliver(struct loop_defer *d, void *data)
{
    (void)d;
    struct salvo *eng = data;
    req_deliver(eng);
    drive_schedule(eng); /* callbacks may have submitted work, or ended the last of it */
}

void drive_init(struct salvo *eng)
{
    loop_defer_init(&eng->sched, on_pass, eng);
    loop_defer_set_label(&eng->sched, "scheduler", LOOP_NO_ID);
    loop_defer_init(&eng->deliver, on_deliver, eng);
    loop_defer_set_label(&eng->deliver, "completions", LOOP_NO_ID);
    loop_timer_init(&eng->pace_timer, on_pace, eng);
    loop_timer_set_label(&eng->pace_timer, "scheduler", LOOP_NO_ID);
}

void drive_stop(struct salvo *eng)
{
    loop_timer_stop(eng->loop, &eng->pace_timer);
}

/* A URL that did not parse ends from the loop, inside salvo_run, like every other. */
static void on_refuse(struct loop_defer *d, void *data)
{
    (void)d;
    struct req *r = data;
    finish(r, r->url_err, r->url_msg);
}

int drive_submit(struct req *r)
{
    if (r->url_err != SALVO_E_OK) {
        loop_defer_init(&r->refuse, on_refuse, r);
        loop_defer_set_label(&r->refuse, "request", r->index);
        loop_defer(r->eng->loop, &r->refuse);
        return 0;
    }
    if (enqueue(r, 0, "") < 0) {
        req_discard(r);
        return -ENOMEM;
    }
    return 0;
}

int drive_run(struct salvo *eng)
{
    drive_schedule(eng);
    return loop_run(eng->loop);
}
