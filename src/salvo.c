/*
 * salvo.c -- the public API of include/salvo.h: engine creation, submit, run, cancel,
 * stats and free. The work itself happens in a driver (drive.c, or blocking.c for the
 * blocking baseline) over the request core (request.c).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "base64.h"
#include "blocking.h"
#include "drive.h"
#include "http1_request.h"
#include "request.h"
#include "url.h"

/* File descriptors salvo keeps for itself beyond one per slot: epoll, the wakeup
 * eventfd, c-ares sockets, stdio and whatever the embedding application holds. */
#define FD_RESERVE 64

SALVO_API void salvo_config_init(salvo_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->concurrency = 50;
    c->max_time = 30;
    c->connect_timeout = 10;
    c->retry = 2;
    c->retry_backoff = 1;
    c->retry_backoff_max = 30;
    c->retry_max_time = 120;
    c->max_filesize = 64ull << 20;
    c->keepalive = 1;
    c->idle_timeout = 30;
    c->max_idle = 256;
    c->max_redirs = 10;
}

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -ENOMEM;
}

/* The request lines every request without headers of its own carries after Host. */
static int render_default_lines(struct salvo *eng)
{
    struct buf b;
    buf_init(&b, 4096 + strlen(eng->user_agent));
    int rc = http1_default_lines(&b, eng->user_agent, ENGINE_ASKS_COMPRESSED);
    if (rc == 0 && (eng->default_lines = strndup(buf_head(&b), buf_size(&b))) == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        eng->default_lines_len = buf_size(&b);
    buf_free(&b);
    return rc == -ENOMEM ? -ENOMEM : 0; /* an unusable user agent is refused per request */
}

static int copy_config(struct salvo *eng, const salvo_config_t *cfg)
{
    eng->cfg = *cfg;
    char ua[64];
    snprintf(ua, sizeof ua, "salvo/%s", SALVO_VERSION);
    if (dup_str(&eng->user_agent, cfg->user_agent ? cfg->user_agent : ua) < 0 ||
        dup_str(&eng->dns_servers, cfg->dns_servers) < 0 || dup_str(&eng->cacert, cfg->cacert) < 0)
        return -ENOMEM;
    if (cfg->resolve_len > 0) {
        eng->resolve = calloc(cfg->resolve_len, sizeof *eng->resolve);
        if (eng->resolve == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < cfg->resolve_len; i++)
            if (dup_str(&eng->resolve[i], cfg->resolve[i]) < 0)
                return -ENOMEM;
    }
    if (render_default_lines(eng) < 0)
        return -ENOMEM;
    /* The copies replace the caller's pointers: the caller may free its own. */
    eng->cfg.user_agent = eng->user_agent;
    eng->cfg.dns_servers = eng->dns_servers;
    eng->cfg.cacert = eng->cacert;
    eng->cfg.resolve = (const char *const *)eng->resolve;
    return 0;
}

static int check_config(const salvo_config_t *c, char *err, size_t errlen)
{
    if (c->concurrency < 1) {
        snprintf(err, errlen, "concurrency must be at least 1");
        return -1;
    }
    /* Durations become uint64 milliseconds: a year is plenty, and keeps them finite. */
    const double year = 365.0 * 24 * 3600;
    if (!(c->max_time > 0 && c->max_time <= year) ||
        !(c->connect_timeout > 0 && c->connect_timeout <= year)) {
        snprintf(err, errlen, "max_time and connect_timeout must be from 0 to a year");
        return -1;
    }
    if (c->retry < 0 || !(c->retry_backoff >= 0 && c->retry_backoff <= year) ||
        !(c->retry_backoff_max >= 0 && c->retry_backoff_max <= year) ||
        !(c->retry_max_time >= 0 && c->retry_max_time <= year) ||
        !(c->idle_timeout >= 0 && c->idle_timeout <= year)) {
        snprintf(err, errlen, "retry settings and idle_timeout must be from 0 to a year");
        return -1;
    }
    return 0;
}

/* Raises the soft fd limit to the hard one and fits the slots into what is available,
 * so that a large -c degrades with a warning at start-up instead of failing mid-run.
 * *budget is how many connections may be open at once (busy and idle). */
static size_t fit_fd_limit(size_t want, size_t *budget, char *warn, size_t warnlen)
{
    struct rlimit rl;
    *budget = SIZE_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return want;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            rl.rlim_cur = old;
    }
    if (rl.rlim_cur == RLIM_INFINITY)
        return want;
    *budget = rl.rlim_cur > FD_RESERVE + 1 ? (size_t)rl.rlim_cur - FD_RESERVE : 1;
    if (rl.rlim_cur >= want + FD_RESERVE)
        return want;
    size_t fit = rl.rlim_cur > FD_RESERVE + 1 ? (size_t)rl.rlim_cur - FD_RESERVE : 1;
    if (warn != NULL && warnlen > 0)
        snprintf(warn, warnlen,
                 "concurrency %zu does not fit the open-file limit of %llu; using %zu", want,
                 (unsigned long long)rl.rlim_cur, fit);
    return fit;
}

static void stop_feed_wait(struct salvo *eng)
{
    if (eng->feed_io != NULL) {
        loop_io_close(eng->feed_io);
        eng->feed_io = NULL;
    }
}

static void on_feed_ready(struct loop_io *w, unsigned events, void *data)
{
    (void)w;
    (void)events;
    struct salvo *eng = data;
    stop_feed_wait(eng);
    drive_schedule(eng);
}

SALVO_API int salvo_feed_wait(salvo_t *eng, int fd)
{
    stop_feed_wait(eng);
    eng->feed_wait_fd = fd;
    eng->feed_io = loop_io_new(eng->loop, fd, on_feed_ready, eng);
    if (eng->feed_io == NULL)
        return -1;
    loop_io_set_label(eng->feed_io, "input", LOOP_NO_ID);
    if (loop_io_set(eng->feed_io, LOOP_READ) < 0) {
        stop_feed_wait(eng);
        return -1;
    }
    return 0;
}

static void cancel_all(struct salvo *eng)
{
    stop_feed_wait(eng);
    eng->cancel_requested = 1;
    eng->feed_done = 1;
    while (!list_empty(&eng->live)) {
        struct req *r = list_entry(eng->live.next, struct req, live);
        drive_abort(r, SALVO_E_CANCELLED, "the run was interrupted");
    }
    req_deliver(eng); /* every callback runs, also on cancel */
    eng->cancelled = 1;
    loop_stop(eng->loop);
}

static void on_wakeup(void *data)
{
    struct salvo *eng = data;
    if (eng->cancel_requested && !eng->cancelled)
        cancel_all(eng);
}

static int open_pool(struct salvo *eng, size_t fd_budget, char *err, size_t errlen)
{
    const salvo_config_t *c = &eng->cfg;
    struct pool_config pc = {
        .per_host = c->per_host > 0 ? (size_t)c->per_host : 0,
        .per_ip = c->per_ip > 0 ? (size_t)c->per_ip : 0,
        .max_idle = c->keepalive && c->max_idle > 0 ? (size_t)c->max_idle : 0,
        .idle_timeout_ms = (uint64_t)(c->idle_timeout * 1000.0),
        .fd_budget = fd_budget,
    };
    if (pool_new(&eng->pool, eng->loop, &pc) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int open_subsystems(struct salvo *eng, size_t fd_budget, char *err, size_t errlen)
{
    int rc = loop_new(&eng->loop);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create the event loop: %s", strerror(-rc));
        return -1;
    }
    drive_init(eng);
    loop_on_wakeup(eng->loop, on_wakeup, eng);
    if (eng->cfg.debug_loop_ms > 0)
        loop_set_lag_threshold(eng->loop, eng->cfg.debug_loop_ms);
    if (open_pool(eng, fd_budget, err, errlen) < 0)
        return -1;
    struct dns_config dc = {
        .servers = eng->dns_servers,
        .pins = eng->cfg.resolve,
        .pins_len = eng->cfg.resolve_len,
    };
    /* c-ares must give up before the connect deadline does, so that a silent resolver
     * is reported by the deadline as dns_timeout rather than hanging on. */
    unsigned budget_ms = (unsigned)(eng->cfg.connect_timeout * 1000.0);
    dc.tries = 2;
    dc.per_try_ms = budget_ms / 3 > 2000 ? 2000 : (budget_ms / 3 > 100 ? budget_ms / 3 : 100);
    return dns_new(&eng->dns, eng->loop, &dc, err, errlen);
}

SALVO_API int salvo_new(salvo_t **out, const salvo_config_t *cfg, char *err, size_t errlen,
                        char *warn, size_t warnlen)
{
    *out = NULL;
    if (warn != NULL && warnlen > 0)
        warn[0] = '\0';
    if (check_config(cfg, err, errlen) < 0)
        return -1;
    struct salvo *eng = calloc(1, sizeof *eng);
    if (eng == NULL || copy_config(eng, cfg) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    list_init(&eng->live);
    list_init(&eng->completed);
    eng->t_start = loop_now_us();
    size_t fd_budget;
    size_t slots = fit_fd_limit((size_t)cfg->concurrency, &fd_budget, warn, warnlen);
    eng->window = cfg->window ? cfg->window : (slots * 10 > 10000 ? slots * 10 : 10000);
    if (getrandom(&eng->rng, sizeof eng->rng, GRND_NONBLOCK) != sizeof eng->rng || !eng->rng)
        eng->rng = 0x9E3779B97F4A7C15ULL ^ loop_now_us();
    if (open_subsystems(eng, fd_budget, err, errlen) < 0)
        goto fail;
    if (limiter_init(&eng->limiter, eng->pool, slots) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* A CA file is read now, so that one that cannot be used stops the run before any
     * request is sent; the system store stays lazy (it is read on the first https
     * request, if any). */
    if (eng->cacert != NULL && engine_tls(eng) == NULL) {
        snprintf(err, errlen, "--cacert %s: %s", eng->cacert, eng->tls_err);
        goto fail;
    }
    *out = eng;
    return 0;
fail:
    salvo_free(eng);
    return -1;
}

SALVO_API int salvo_request_check(const salvo_request_t *request, char *err, size_t errlen)
{
    char why[256];
    if (request == NULL)
        return 0;
    if ((request->headers_len > 0 && request->headers == NULL) ||
        (request->body_len > 0 && request->body == NULL)) {
        snprintf(err, errlen, "a length is set but its pointer is NULL");
        return -1;
    }
    if (http1_check_request(request->method, request->headers, request->headers_len, why,
                            sizeof why) < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

SALVO_API int salvo_url_origin(const char *url, char *out, size_t outlen)
{
    struct url u;
    char why[128];
    if (url == NULL || out == NULL || url_parse(url, &u, why, sizeof why) != SALVO_E_OK)
        return -1;
    const char *open = u.host_is_ip == 6 ? "[" : "", *close = u.host_is_ip == 6 ? "]" : "";
    int n =
        snprintf(out, outlen, "%s://%s%s%s:%u", u.scheme, open, u.host, close, (unsigned)u.port);
    url_free(&u);
    return n >= 0 && (size_t)n < outlen ? n : -1;
}

SALVO_API int salvo_url_mask(const char *url, char *out, size_t outlen)
{
    char *masked = NULL;
    if (url == NULL || out == NULL || url_mask_password(url, &masked) < 0)
        return -1;
    const char *shown = masked != NULL ? masked : url;
    size_t n = strlen(shown);
    int rc = n < outlen && n <= INT_MAX ? (int)n : -1;
    if (rc >= 0)
        memcpy(out, shown, n + 1);
    free(masked);
    return rc;
}

SALVO_API int salvo_submit(salvo_t *eng, const char *url, uint64_t index,
                           const salvo_request_t *request, salvo_done_cb *cb, void *user)
{
    return salvo_submit_ext(eng, url, index, request, NULL, cb, user);
}

SALVO_API int salvo_submit_ext(salvo_t *eng, const char *url, uint64_t index,
                               const salvo_request_t *request, const salvo_request_ext_t *ext,
                               salvo_done_cb *cb, void *user)
{
    if (eng == NULL)
        return -1;
    if (url == NULL || cb == NULL || eng->cancel_requested) {
        snprintf(eng->last_error, sizeof eng->last_error, "%s",
                 eng->cancel_requested ? "the engine was cancelled" : "no URL or no callback");
        return -1;
    }
    struct req *r;
    if (req_new(eng, url, index, request, cb, user, &r, eng->last_error, sizeof eng->last_error) <
        0)
        return -1;
    req_set_ext(r, ext);
    /* The blocking baseline takes requests from the live list itself. */
    if (!eng->cfg.blocking && drive_submit(r) < 0) {
        snprintf(eng->last_error, sizeof eng->last_error, "out of memory");
        return -1;
    }
    eng->stats.submitted++;
    return 0;
}

SALVO_API const char *salvo_last_error(const salvo_t *eng)
{
    return eng->last_error;
}

SALVO_API void salvo_set_trace(salvo_t *eng, salvo_trace_cb *cb, void *user)
{
    eng->trace = cb;
    eng->trace_user = user;
}

SALVO_API void salvo_set_batch_end(salvo_t *eng, salvo_batch_cb *cb, void *user)
{
    eng->batch_end = cb;
    eng->batch_user = user;
}

SALVO_API int salvo_set_proxy(salvo_t *eng, const char *http_proxy, const char *https_proxy,
                              const char *noproxy, char *err, size_t errlen)
{
    if (eng->cfg.blocking) {
        snprintf(err, errlen, "the blocking baseline does not go through proxies");
        return -1;
    }
    struct proxy_settings *s = malloc(sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (proxy_settings_init(s, http_proxy, https_proxy, noproxy, err, errlen) < 0) {
        free(s);
        return -1;
    }
    /* Requests queued under the old settings point into them: kept until salvo_free. */
    s->older = eng->proxies;
    eng->proxies = s;
    return 0;
}

static void free_proxies(salvo_t *eng)
{
    while (eng->proxies != NULL) {
        struct proxy_settings *s = eng->proxies;
        eng->proxies = s->older;
        proxy_settings_free(s);
        free(s);
    }
}

SALVO_API int salvo_basic_auth(const char *user, const char *password, char *out, size_t outlen)
{
    size_t ul = strlen(user), pl = strlen(password), n = ul + 1 + pl;
    if (outlen < sizeof "Basic " + base64_len(n))
        return -1;
    char *plain = malloc(n);
    if (plain == NULL)
        return -1;
    memcpy(plain, user, ul);
    plain[ul] = ':';
    memcpy(plain + ul + 1, password, pl);
    memcpy(out, "Basic ", 6);
    base64_encode(plain, n, out + 6);
    explicit_bzero(plain, n);
    free(plain);
    return (int)(6 + base64_len(n));
}

/* A rate: 0 (off), or from one start a year up (the interval must fit). */
static int rate_valid(double per_second)
{
    return per_second == 0 || (isfinite(per_second) && per_second >= 1.0 / (365.0 * 24 * 3600));
}

SALVO_API int salvo_set_rate(salvo_t *eng, double per_second, double per_origin_per_second)
{
    if (eng == NULL || !rate_valid(per_second) || !rate_valid(per_origin_per_second))
        return -1;
    limiter_set_rate(&eng->limiter, per_second, per_origin_per_second);
    return 0;
}

SALVO_API int salvo_set_family(salvo_t *eng, int family)
{
    if (eng == NULL || (family != 0 && family != 4 && family != 6))
        return -1;
    dns_set_family(eng->dns, family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC);
    return 0;
}

SALVO_API int salvo_run(salvo_t *eng)
{
    if (eng->running)
        return -1;
    eng->running = 1;
    int rc;
    eng->t_start = loop_now_us();
    if (eng->cfg.blocking)
        rc = blocking_run(eng);
    else
        rc = drive_run(eng);
    /* A cancel that arrived while the loop was stopping is carried out now. */
    if (eng->cancel_requested && !eng->cancelled)
        cancel_all(eng);
    eng->running = 0;
    return rc < 0 ? -1 : 0;
}

SALVO_API int salvo_feed_again(salvo_t *eng)
{
    if (eng == NULL || eng->running || eng->cancel_requested)
        return -1;
    eng->feed_done = 0;
    return 0;
}

SALVO_API void salvo_cancel(salvo_t *eng)
{
    /* Only a flag and a write(2): safe from a signal handler. The loop does the rest. */
    eng->cancel_requested = 1;
    loop_wakeup(eng->loop);
}

SALVO_API void salvo_stats(const salvo_t *eng, salvo_stats_t *st)
{
    *st = eng->stats;
    st->in_flight = eng->limiter.in_flight;
    st->queued = eng->limiter.waiting;
    st->concurrency = (int)eng->limiter.slots;
    if (!eng->cfg.blocking)
        st->max_in_flight = eng->limiter.max_in_flight;
    struct dns_stats ds = {0};
    if (eng->dns != NULL)
        dns_get_stats(eng->dns, &ds);
    st->dns_queries = ds.queries;
    st->dns_cache_hits = ds.cache_hits;
    st->loop_max_lag_ms = eng->loop ? loop_max_lag_ms(eng->loop) : 0;
    /* The blocking baseline opens its connections itself and counts them as it goes. */
    struct pool_stats ps = {0};
    if (eng->pool != NULL && !eng->cfg.blocking) {
        pool_get_stats(eng->pool, &ps);
        st->connections_opened = ps.opened;
        st->max_open_connections = ps.max_open;
    }
}

SALVO_API void salvo_free(salvo_t *eng)
{
    if (eng == NULL)
        return;
    if (eng->loop != NULL) {
        stop_feed_wait(eng);
        eng->cancel_requested = 1;
        if (!list_empty(&eng->live) || !list_empty(&eng->completed))
            cancel_all(eng);
        loop_defer_cancel(eng->loop, &eng->sched);
        loop_defer_cancel(eng->loop, &eng->deliver);
        drive_stop(eng);
    }
    /* Idle connections are the pool's: closed before the loop they are watched by. */
    pool_free(eng->pool);
    /* c-ares calls back into the loop while it is destroyed: the loop goes last. */
    if (eng->dns != NULL)
        dns_free(eng->dns);
    if (eng->tls != NULL)
        tls_ctx_free(eng->tls);
    if (eng->loop != NULL)
        loop_free(eng->loop);
    for (size_t i = 0; eng->resolve && i < eng->cfg.resolve_len; i++)
        free(eng->resolve[i]);
    free(eng->resolve);
    req_engine_free(eng);
    free_proxies(eng);
    limiter_free(&eng->limiter);
    free(eng->user_agent);
    free(eng->default_lines);
    free(eng->dns_servers);
    free(eng->cacert);
    free(eng);
}
