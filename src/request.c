/*
 * request.c -- the request core. See request.h.
 *
 * Everything here is the same for both drivers: what a request is, its states and their
 * timers, its attempts and their record, the retry and redirect rules applied to it, and
 * its end. Nothing here does I/O or knows how an attempt is driven.
 */
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "record.h"
#include "redirect.h"
#include "result.h"
#include "retry.h"

/* Longer URLs are refused as bad_url: no server takes them, and the input reader may
 * have cut a longer line to its own cap. */
#define SALVO_MAX_URL (16 * 1024)

static uint64_t secs_to_ms(double s)
{
    return s <= 0 ? 0 : (uint64_t)(s * 1000.0 + 0.5);
}

static double ms_since(uint64_t t_us)
{
    return (double)(loop_now_us() - t_us) / 1000.0;
}

/* Milliseconds since the start of the run, for traces (t_ms). */
static double req_run_ms(const struct salvo *eng, uint64_t t_us)
{
    return t_us > eng->t_start ? (double)(t_us - eng->t_start) / 1000.0 : 0;
}

/* ---- the engine's shared pieces ------------------------------------------------------ */

struct tls_ctx *engine_tls(struct salvo *eng)
{
    if (eng->tls == NULL && !eng->tls_failed) {
        struct tls_ctx_config tc = {.insecure = eng->cfg.insecure, .cacert = eng->cacert};
        if (tls_ctx_new(&eng->tls, &tc, eng->tls_err, sizeof eng->tls_err) < 0)
            eng->tls_failed = 1;
    }
    return eng->tls;
}

static void run_free(struct req_run *x)
{
    free(x->a.tls);
    http1_end(&x->http);
    buf_free(&x->wire);
    free(x);
}

static void body_unref(struct req_body *b)
{
    if (b != NULL && --b->refs == 0)
        free(b);
}

void req_engine_free(struct salvo *eng)
{
    body_unref(eng->last_body);
    eng->last_body = NULL;
    while (eng->run_cache != NULL) {
        struct req_run *x = eng->run_cache;
        eng->run_cache = x->next_free;
        run_free(x);
    }
    eng->n_run_cache = 0;
}

/* ---- states -------------------------------------------------------------------------- */

static const char *const state_names[REQ_STATE_COUNT] = {
    [REQ_QUEUED] = "queued",   [REQ_RESOLVING] = "resolving",
    [REQ_WAIT_IP] = "wait_ip", [REQ_CONNECTING] = "connecting",
    [REQ_PROXY] = "proxy",     [REQ_TLS] = "tls",
    [REQ_SENDING] = "sending", [REQ_RECEIVING] = "receiving",
    [REQ_BACKOFF] = "backoff", [REQ_DONE] = "done",
};

const char *req_state_name(enum req_state s)
{
    return s < REQ_STATE_COUNT ? state_names[s] : "?";
}

#define TO(s) (1u << (s))
/* The moves each state allows. Every state may end (DONE): a cancel, a failure that is
 * not retried. An attempt may fail into BACKOFF from any of its states; a whole answer
 * may lead to another URL (QUEUED, -L); a stale pooled connection is replaced by a new
 * one (back to RESOLVING, in the same attempt). */
static const unsigned allowed[REQ_STATE_COUNT] = {
    [REQ_QUEUED] = TO(REQ_RESOLVING) | TO(REQ_SENDING) | TO(REQ_DONE),
    [REQ_RESOLVING] = TO(REQ_WAIT_IP) | TO(REQ_CONNECTING) | TO(REQ_BACKOFF) | TO(REQ_DONE),
    [REQ_WAIT_IP] = TO(REQ_CONNECTING) | TO(REQ_BACKOFF) | TO(REQ_DONE),
    [REQ_CONNECTING] = TO(REQ_WAIT_IP) | TO(REQ_PROXY) | TO(REQ_TLS) | TO(REQ_SENDING) |
                       TO(REQ_BACKOFF) | TO(REQ_DONE),
    [REQ_PROXY] = TO(REQ_TLS) | TO(REQ_SENDING) | TO(REQ_BACKOFF) | TO(REQ_DONE),
    [REQ_TLS] = TO(REQ_SENDING) | TO(REQ_BACKOFF) | TO(REQ_DONE),
    [REQ_SENDING] =
        TO(REQ_RECEIVING) | TO(REQ_RESOLVING) | TO(REQ_QUEUED) | TO(REQ_BACKOFF) | TO(REQ_DONE),
    [REQ_RECEIVING] = TO(REQ_RESOLVING) | TO(REQ_QUEUED) | TO(REQ_BACKOFF) | TO(REQ_DONE),
    [REQ_BACKOFF] = TO(REQ_QUEUED) | TO(REQ_DONE),
    [REQ_DONE] = 0,
};

/* The connect deadline covers looking up, connecting and the handshake. */
static int connect_phase(enum req_state s)
{
    return s == REQ_RESOLVING || s == REQ_CONNECTING || s == REQ_PROXY || s == REQ_TLS;
}

/* The attempt deadline covers the attempt, except waiting for another site's
 * connection to make room at a shared address (WAIT_IP), which is none of this site's
 * phases: the deadlines start afresh after it. */
static int attempt_phase(enum req_state s)
{
    return connect_phase(s) || s == REQ_SENDING || s == REQ_RECEIVING;
}

static void exit_actions(struct req *r, enum req_state from, enum req_state to)
{
    struct loop *l = r->eng->loop;
    struct req_run *x = r->run;
    if (x != NULL && x->timed) {
        if (connect_phase(from) && !connect_phase(to))
            loop_timer_stop(l, &x->connect_timer);
        if (attempt_phase(from) && !attempt_phase(to))
            loop_timer_stop(l, &x->attempt_timer);
    }
    if (from == REQ_BACKOFF)
        loop_timer_stop(l, &r->backoff_timer);
}

static void entry_actions(struct req *r, enum req_state from, enum req_state to)
{
    struct loop *l = r->eng->loop;
    struct req_run *x = r->run;
    const salvo_config_t *c = &r->eng->cfg;
    if (x != NULL && x->timed) {
        if (attempt_phase(to) && !attempt_phase(from))
            loop_timer_start(l, &x->attempt_timer, secs_to_ms(c->max_time));
        /* A replay on a fresh connection (back to RESOLVING) gets a new connect deadline
         * too. */
        if (connect_phase(to) && (!connect_phase(from) || to == REQ_RESOLVING))
            loop_timer_start(l, &x->connect_timer, secs_to_ms(c->connect_timeout));
    }
    if (to == REQ_BACKOFF && !c->blocking)
        loop_timer_start(l, &r->backoff_timer, r->backoff_ms);
}

void req_set_state(struct req *r, enum req_state to, const char *detail)
{
    enum req_state from = r->state;
    if (!(allowed[from] & TO(to))) {
        /* A move the table does not know is a bug in a driver: fail loudly in tests,
         * and never silently in production. */
        fprintf(stderr, "salvo: internal error: request %llu moved from %s to %s\n",
                (unsigned long long)r->index, req_state_name(from), req_state_name(to));
        abort();
    }
    exit_actions(r, from, to);
    r->state = to;
    entry_actions(r, from, to);
    struct salvo *eng = r->eng;
    if (eng->trace != NULL) {
        salvo_transition_t t = {
            .index = r->index,
            .t_ms = req_run_ms(eng, loop_now_us()),
            .from = state_names[from],
            .to = state_names[to],
            .detail = detail ? detail : "",
        };
        eng->trace(&t, eng->trace_user);
    }
}

/* ---- creation ------------------------------------------------------------------------ */

static void req_free(struct req *r);

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
        body_unref(eng->last_body);
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

/* The method's name: the common ones point at constants, so that a request of a list of
 * GETs allocates nothing for it. */
static int set_method(struct req *r, const char *method)
{
    static const char *const common[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
    if (r->method_owned)
        free(r->method);
    r->method_owned = 0;
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        if (strcmp(method, common[i]) == 0) {
            r->method = (char *)common[i];
            return 0;
        }
    }
    r->method = strdup(method);
    r->method_owned = r->method != NULL;
    return r->method != NULL ? 0 : -ENOMEM;
}

static int copy_options(struct req *r, const salvo_request_t *opt)
{
    const char *method = opt && opt->method ? opt->method : (opt && opt->body ? "POST" : "GET");
    if (set_method(r, method) < 0)
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
    size_t url_len = strlen(url);
    struct req *r = calloc(1, sizeof *r + url_len + 1);
    if (r == NULL)
        goto oom;
    r->eng = eng;
    r->index = index;
    r->cb = cb;
    r->user = user;
    r->state = REQ_QUEUED;
    list_init(&r->live);
    limiter_waiter_init(&r->slot);
    loop_defer_init(&r->refuse, NULL, r);        /* the driver installs its callback */
    loop_timer_init(&r->backoff_timer, NULL, r); /* the driver installs its callback */
    r->t_submit = loop_now_us();
    memcpy(r->url_buf, url, url_len + 1);
    r->url_err = SALVO_E_BAD_URL; /* until parsed: req_free must not url_free */
    if (url_mask_password(url, &r->url_shown) < 0 || copy_options(r, opt) < 0) {
        req_free(r);
        goto oom;
    }
    check_url(r, url);
    list_push_back(&eng->live, &r->live);
    eng->n_live++;
    *out = r;
    return 0;
oom:
    snprintf(why, whylen, "out of memory");
    return -ENOMEM;
}

void req_set_ext(struct req *r, const salvo_request_ext_t *ext)
{
#define EXT_HAS(f) (ext->size >= offsetof(salvo_request_ext_t, f) + sizeof ext->f)
    if (ext == NULL)
        return;
    if (EXT_HAS(on_headers))
        r->on_headers = ext->on_headers;
    if (EXT_HAS(on_body))
        r->on_body = ext->on_body;
    if (EXT_HAS(user))
        r->ext_user = ext->user;
    if (EXT_HAS(keep_headers))
        r->keep_headers = ext->keep_headers;
#undef EXT_HAS
}

void req_discard(struct req *r)
{
    list_remove(&r->live);
    r->eng->n_live--;
    req_drop_origin(r);
    req_free(r);
}

int req_take_origin(struct req *r)
{
    const struct proxy *px =
        r->eng->proxies ? proxy_pick(r->eng->proxies, r->url.tls, r->url.host) : NULL;
    struct origin *o = pool_origin(r->eng->pool, r->url.tls, r->url.host, r->url.port,
                                   px != NULL ? px->shown : NULL);
    if (o == NULL)
        return -ENOMEM;
    req_drop_origin(r);
    r->origin = o;
    r->proxy = px;
    return 0;
}

void req_drop_origin(struct req *r)
{
    if (r->origin != NULL) {
        pool_origin_unref(r->eng->pool, r->origin);
        r->origin = NULL;
    }
}

/* The per-run part of a request, made when it first gets a slot (see struct req_run). */
int req_run_prepare(struct req *r)
{
    if (r->run != NULL)
        return 0;
    /* A finished request's run state is reused, buffers and all (see req_run_release);
     * else a new one, not calloc'd: most of its 2.5 KiB (addresses, messages) is written
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
        buf_init(&x->wire, REQ_HEAD_MAX);
        x->a.tls = NULL;
    }
    x->timed = 0;
    x->dns_pending = 0;
    x->pc = NULL;
    x->reserved = x->replayed = 0;
    x->body_sent = 0;
    x->sha256[0] = '\0';
    req_attempt_reset(&x->a, loop_now_us());
    list_init(&x->ipw.link);
    r->run = x;
    return 0;
}

/* ---- attempts ------------------------------------------------------------------------ */

void req_attempt_begin(struct req *r)
{
    struct salvo *eng = r->eng;
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
    x->replayed = 0;
    x->decided = 0;
    http1_clear(&x->http); /* bytes of an earlier hop or attempt are not this one's */
}

void req_expect_response(struct req *r)
{
    struct http1 *h = &r->run->http;
    h->keep_fields = r->keep_headers || r->on_headers != NULL;
    h->pause_at_head = r->on_headers != NULL || r->on_body != NULL;
    r->run->decided = 0;
}

/* http1's body sink for a request with a body callback. */
static int to_body_cb(void *ctx, const char *data, size_t len)
{
    struct req *r = ctx;
    return r->on_body(r->index, data, len, r->ext_user);
}

int req_response_head(struct req *r)
{
    struct req_run *x = r->run;
    struct http1 *h = &x->http;
    x->decided_retry = req_retry_decision(r, SALVO_E_OK, h->status, &x->decided_sleep);
    x->decided = 1;
    if (x->decided_retry)
        return 0; /* not the caller's answer: another attempt follows */
    if (r->on_headers != NULL) {
        salvo_response_t resp = {.index = r->index, .status = h->status, .attempt = r->attempts};
        resp.headers_len = http1_fields(h, &resp.headers);
        int cls = r->on_headers(&resp, r->ext_user);
        if (cls != 0) {
            h->stopped = 1;
            return cls;
        }
    }
    if (r->on_body != NULL) {
        h->body_fn = to_body_cb;
        h->body_ctx = r;
    }
    return 0;
}

void req_attempt_reset(struct req_attempt *a, uint64_t now)
{
    /* Field by field: the strings' buffers (and the TLS facts' 1.2 KiB) need only their
     * first byte or flags cleared. */
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
    a->proxy_refused = 0;
    if (a->tls != NULL)
        a->tls->have = a->tls->have_cert = 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Keeps what the record needs of the handshake: the connection may close (or go back to
 * the pool) before the result is built. Out of memory, the record goes without the TLS
 * facts rather than the request failing. */
void req_capture_tls(struct req_attempt *a, struct tls *t, int handshake_done)
{
    const struct tls_info *ti = tls_get_info(t);
    if (ti == NULL)
        return;
    if (handshake_done)
        a->tls_resumed = ti->resumed;
    if (a->tls == NULL) {
        a->tls = malloc(sizeof *a->tls);
        if (a->tls == NULL)
            return;
        a->tls->have = a->tls->have_cert = 0;
    }
    struct req_tls_facts *f = a->tls;
    if (handshake_done) {
        f->have = 1;
        copy_str(f->version, sizeof f->version, ti->version);
        copy_str(f->cipher, sizeof f->cipher, ti->cipher);
        copy_str(f->alpn, sizeof f->alpn, ti->alpn);
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
    if (err == SALVO_E_OK && r->run->decided) {
        /* Made when the head arrived (req_response_head): the answer was handed over,
         * or not, on its strength. */
        *sleep_ms = r->run->decided_sleep;
        return r->run->decided_retry;
    }
    const salvo_config_t *c = &r->eng->cfg;
    double secs;
    if (err != SALVO_E_OK ? !salvo_err_retryable(err) : !retry_status_retryable(status))
        return 0;
    /* A proxy that refused (4xx to CONNECT, SOCKS5 credentials or rules) refuses again. */
    if (err == SALVO_E_PROXY && r->run->a.proxy_refused)
        return 0;
    /* The caller's callback stopped it: that is the caller's decision, not a failure to
     * try again (a full disk stays full). */
    if (r->run->http.stopped)
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

int req_may_replay(const struct req *r)
{
    const struct req_run *x = r->run;
    if (!x->a.reused || x->replayed || x->http.got_bytes)
        return 0;
    /* The server may have acted on the request before closing: the retry rule for
     * methods that are not idempotent holds for a silent replay too. */
    return !(x->a.sent && !r->idempotent && !r->eng->cfg.retry_non_idempotent);
}

salvo_err_t req_errno_class(int err, enum req_state phase)
{
    switch (err) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL: /* out of ephemeral ports */
        /* Local shortages say nothing about the site and are worth a retry. */
        return SALVO_E_RESOURCE;
    default:
        break;
    }
    if (phase == REQ_CONNECTING || phase == REQ_RESOLVING || phase == REQ_WAIT_IP) {
        if (err == ECONNREFUSED)
            return SALVO_E_CONNECT_REFUSED;
        if (err == ETIMEDOUT || err == EINPROGRESS || err == EAGAIN)
            return SALVO_E_CONNECT_TIMEOUT;
        return SALVO_E_CONNECT_ERROR;
    }
    if (phase == REQ_TLS)
        return err == ETIMEDOUT || err == EAGAIN ? SALVO_E_TLS_TIMEOUT : SALVO_E_TLS_HANDSHAKE;
    return err == ETIMEDOUT || err == EAGAIN ? SALVO_E_TIMEOUT : SALVO_E_RESET;
}

/* ---- redirects ----------------------------------------------------------------------- */

static int header_named(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* Headers meant for one origin do not travel to another (curl does the same):
 * credentials, and a Host the user set, which names the origin it was given for. */
static void drop_origin_headers(struct req *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->headers_len; i++) {
        if (header_named(r->headers[i], "Authorization") || header_named(r->headers[i], "Cookie") ||
            header_named(r->headers[i], "Host"))
            free(r->headers[i]);
        else
            r->headers[kept++] = r->headers[i];
    }
    r->headers_len = kept;
}

salvo_err_t req_follow_redirect(struct req *r, char *msg, size_t msglen)
{
    const struct http1 *h = &r->run->http;
    struct redirect_in in = {
        .url = &r->url,
        .method = r->method,
        .status = h->status,
        .location = h->location,
        .location_conflict = h->location_conflict,
        .redirects = r->redirects,
        .max_redirs = r->eng->cfg.max_redirs,
    };
    struct redirect_out out;
    salvo_err_t err = redirect_next(&in, &out, msg, msglen);
    if (err != SALVO_E_OK)
        return err;
    if (out.to_get) {
        (void)set_method(r, "GET"); /* a constant: cannot fail */
        body_unref(r->body);
        r->body = NULL;
        r->is_head = 0;
        r->idempotent = 1;
    }
    if (out.cross_origin)
        drop_origin_headers(r);
    url_free(&r->url);
    r->url = out.url;
    free(r->final_url);
    r->final_url = out.next;
    r->redirects++;
    r->attempts = 0; /* the next URL is a request of its own for retries */
    return SALVO_E_OK;
}

/* ---- the one exit ---------------------------------------------------------------------- */

void req_complete(struct req *r, salvo_err_t err, const char *msg)
{
    struct salvo *eng = r->eng;
    req_set_state(r, REQ_DONE, err == SALVO_E_OK ? "" : salvo_err_name(err));
    loop_timer_stop(eng->loop, &r->backoff_timer);
    req_drop_origin(r);
    r->t_done = loop_now_us();
    r->done_err = err;
    r->done_msg = err != SALVO_E_OK && msg != NULL && *msg ? strdup(msg) : NULL;
    list_remove(&r->live);
    list_push_back(&eng->completed, &r->live);
    loop_defer(eng->loop, &eng->deliver);
}

void req_deliver(struct salvo *eng)
{
    if (list_empty(&eng->completed))
        return;
    while (!list_empty(&eng->completed)) {
        struct req *r = list_entry(eng->completed.next, struct req, live);
        list_remove(&r->live);
        eng->n_live--;
        salvo_result_t res;
        salvo_attempt_t *log = record_fill(r, &res);
        eng->stats.completed++;
        if (loop_lag_reporting(eng->loop)) {
            /* Each callback timed on its own, so that a report names its request. */
            uint64_t start = loop_now_us();
            r->cb(&res, r->user);
            loop_lag_note(eng->loop, "completion callback", "request", r->index, start);
        } else {
            r->cb(&res, r->user);
        }
        free(log);
        req_free(r);
    }
    if (eng->batch_end != NULL)
        eng->batch_end(eng->batch_user);
}

/* Keeps a finished request's run state for the next request, up to one per slot (as
 * many as can run at once), or frees it. */
static void run_release(struct salvo *eng, struct req_run *x)
{
    if (eng->n_run_cache < eng->limiter.slots) {
        x->next_free = eng->run_cache;
        eng->run_cache = x;
        eng->n_run_cache++;
        return;
    }
    run_free(x);
}

static void req_free(struct req *r)
{
    if (r->url_err == SALVO_E_OK)
        url_free(&r->url);
    for (size_t i = 0; i < r->headers_len; i++)
        free(r->headers[i]);
    free(r->headers);
    body_unref(r->body);
    if (r->method_owned)
        free(r->method);
    free(r->url_shown);
    free(r->url_msg);
    free(r->final_url);
    free(r->log);
    free(r->done_msg);
    if (r->run != NULL)
        run_release(r->eng, r->run);
    free(r);
}
