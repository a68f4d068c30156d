/*
 * old_client.c -- a program written and built against salvo 0.1.0, run against the
 * libsalvo.so.0 built today. It must keep working: programs built against libsalvo.so.0
 * keep their structs' layout, so the library may gain fields only through setter
 * functions or a versioned extension, and gain functions, but never move, grow or
 * reinterpret what 0.1.0 programs were compiled with.
 *
 * salvo-0.1.0.h, next to this file, is a verbatim copy of include/salvo.h as released in
 * 0.1.0. It is frozen: never edit it, never replace it with the current header. This
 * program is compiled with -Itests/abi and never -Iinclude, and linked dynamically
 * (-lsalvo), so that it sees the library only through the 0.1.0 header and the ABI.
 *
 * It does what an old program would: fills salvo_config_t field by field after
 * salvo_config_init, feeds requests with methods, headers and bodies through the feed
 * callback, reads the results, the attempt logs and the stats, cancels a run. Every
 * struct the library writes or reads is followed by guard bytes: a library that wrote
 * a grown struct would overwrite them, and one that read a grown struct would read
 * their garbage.
 *
 * Usage: old_client PORT (a testd on 127.0.0.1). Prints one line per request, in index
 * order, "INDEX STATUS ERROR OK BYTES ATTEMPTS LOG_LEN SHA256", then "cancel ..." and
 * "stats ..." lines; tests/integration/abi.sh checks them. Every other check is made
 * here: a failure prints "FAIL: ..." on stderr and the exit status is 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salvo-0.1.0.h>

#define GUARD_BYTE 0xa5
#define GUARD_LEN  256

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static int guard_intact(const unsigned char *g)
{
    for (size_t i = 0; i < GUARD_LEN; i++)
        if (g[i] != GUARD_BYTE)
            return 0;
    return 1;
}

/* The library's structs, each followed by guard bytes. */
struct config_box {
    salvo_config_t cfg;
    unsigned char guard[GUARD_LEN];
};
struct request_box {
    salvo_request_t req;
    unsigned char guard[GUARD_LEN];
};
struct stats_box {
    salvo_stats_t st;
    unsigned char guard[GUARD_LEN];
};

static const char *const abi_headers[] = {"X-Abi: frozen", "X-Other: 1"};
static const char body[] = "sent by a 0.1.0 program"; /* 23 bytes */

/* The requests, in index order. */
struct job {
    const char *path; /* NULL: the URL is "not a url" */
    const char *method;
    int headers; /* send abi_headers */
    int with_body;
};

static const struct job jobs[] = {
    {"/", NULL, 0, 0},
    {"/header/user-agent", "GET", 0, 0},
    {"/header/content-length", "POST", 0, 1},
    {"/header/x-abi", "PUT", 1, 1},
    {"/head-length/500", "HEAD", 0, 0},
    {"/size/5000", NULL, 0, 0},
    {"/status/404", NULL, 1, 0},
    {NULL, NULL, 0, 0},
};
#define NJOBS (sizeof(jobs) / sizeof(jobs[0]))

/* What the callbacks keep: copies, since a result lives only during its callback. */
struct seen {
    int done;
    int status;
    salvo_err_t error;
    int ok;
    unsigned long long bytes;
    int attempts;
    size_t log_len;
    char sha256[65];
};

struct state {
    int port;
    size_t next; /* next job to feed */
    char urls[NJOBS][128];
    struct request_box boxes[NJOBS];
    struct seen seen[NJOBS];
};

static void on_done(const salvo_result_t *r, void *user)
{
    struct state *s = user;

    CHECK(r->index < NJOBS, "index %llu out of range", (unsigned long long)r->index);
    if (r->index >= NJOBS)
        return;
    struct seen *x = &s->seen[r->index];
    const struct job *j = &jobs[r->index];
    x->done++;
    x->status = r->status;
    x->error = r->error;
    x->ok = r->ok;
    x->bytes = (unsigned long long)r->bytes;
    x->attempts = r->attempts;
    x->log_len = r->attempts_log_len;
    snprintf(x->sha256, sizeof(x->sha256), "%s", r->sha256 ? r->sha256 : "-");

    /* Fields all over the result: a moved field reads as nonsense here. */
    CHECK(r->url && strcmp(r->url, s->urls[r->index]) == 0, "url of %llu: %s",
          (unsigned long long)r->index, r->url ? r->url : "(null)");
    CHECK(strcmp(salvo_err_name(r->error), "?") != 0, "error %d has no name", (int)r->error);
    if (j->path == NULL) {
        CHECK(r->remote_ip == NULL && r->total_ms < 0, "a bad URL has no connection");
        return;
    }
    CHECK(r->remote_ip && strcmp(r->remote_ip, "127.0.0.1") == 0, "remote_ip of %s", j->path);
    CHECK(r->total_ms >= 0 && r->total_ms < 60000, "total_ms of %s: %f", j->path, r->total_ms);
    CHECK(r->tls_version == NULL && r->tls_resumed == -1, "plain http has no TLS facts");
    CHECK(r->final_url == NULL && r->redirects == 0, "no redirect followed");
    CHECK(r->attempts_log != NULL && r->attempts_log_len == 1, "attempt log of %s", j->path);
    if (r->attempts_log && r->attempts_log_len == 1) {
        const salvo_attempt_t *a = &r->attempts_log[0];
        CHECK(a->status == r->status && a->error == r->error, "attempt log status of %s", j->path);
        CHECK(a->remote_ip && strcmp(a->remote_ip, "127.0.0.1") == 0 && a->backoff_ms < 0,
              "attempt log facts of %s", j->path);
    }
}

/* The feed: up to `room` jobs per call. Each request lives in its own boxed struct, as
 * salvo_submit copies what it needs; the boxes' guards hold garbage on purpose. */
static int feed(salvo_t *engine, size_t room, void *user)
{
    struct state *s = user;

    for (; room > 0 && s->next < NJOBS; room--, s->next++) {
        const struct job *j = &jobs[s->next];
        struct request_box *b = &s->boxes[s->next];
        memset(b->guard, GUARD_BYTE, sizeof(b->guard));
        memset(&b->req, 0, sizeof(b->req));
        b->req.method = j->method;
        if (j->headers) {
            b->req.headers = abi_headers;
            b->req.headers_len = 2;
        }
        if (j->with_body) {
            b->req.body = body;
            b->req.body_len = strlen(body);
        }
        if (j->path)
            snprintf(s->urls[s->next], sizeof(s->urls[0]), "http://abi.test:%d%s", s->port,
                     j->path);
        else
            snprintf(s->urls[s->next], sizeof(s->urls[0]), "not a url");
        CHECK(salvo_submit(engine, s->urls[s->next], s->next, &b->req, on_done, s) == 0,
              "submit %zu: %s", s->next, salvo_last_error(engine));
    }
    return s->next == NJOBS;
}

/* Checks made without a run: refusals, names. */
static void check_refusals(salvo_t *engine)
{
    char why[256] = "";
    const char *framing = "Content-Length: 5";
    salvo_request_t bad = {.headers = &framing, .headers_len = 1};
    salvo_request_t bad_method = {.method = "NOT A TOKEN"};

    CHECK(salvo_request_check(&bad, why, sizeof(why)) == -1 && why[0] != '\0',
          "a Content-Length header is refused");
    CHECK(salvo_submit(engine, "http://abi.test/", 99, &bad_method, on_done, NULL) == -1,
          "a bad method is refused");
    CHECK(salvo_last_error(engine)[0] != '\0', "a refusal says why");
    CHECK(strcmp(salvo_err_name(SALVO_E_OK), "ok") == 0, "name of SALVO_E_OK");
    CHECK(strcmp(salvo_err_name(SALVO_E_CONNECT_REFUSED), "connect_refused") == 0,
          "name of SALVO_E_CONNECT_REFUSED");
    CHECK(strcmp(salvo_err_name(SALVO_E_CANCELLED), "cancelled") == 0, "name of cancelled");
    CHECK(salvo_err_retryable(SALVO_E_TIMEOUT) && !salvo_err_retryable(SALVO_E_DNS),
          "retryable classes");
}

static void print_stats(salvo_t *engine)
{
    struct stats_box sb;

    memset(sb.guard, GUARD_BYTE, sizeof(sb.guard));
    salvo_stats(engine, &sb.st);
    CHECK(guard_intact(sb.guard), "salvo_stats wrote past a 0.1.0 salvo_stats_t");
    printf("stats submitted=%llu completed=%llu attempts=%llu concurrency=%d\n",
           (unsigned long long)sb.st.submitted, (unsigned long long)sb.st.completed,
           (unsigned long long)sb.st.attempts, sb.st.concurrency);
}

/* The main run: every job through the feed. */
static void run_jobs(int port, char *pin)
{
    static struct state s; /* large: not on the stack */
    struct config_box cb;
    const char *pins[1] = {pin};
    salvo_t *engine;
    char err[256], warn[256];

    s.port = port;
    memset(cb.guard, GUARD_BYTE, sizeof(cb.guard));
    salvo_config_init(&cb.cfg);
    CHECK(guard_intact(cb.guard), "salvo_config_init wrote past a 0.1.0 salvo_config_t");
    CHECK(cb.cfg.concurrency == 50 && cb.cfg.retry == 2 && cb.cfg.keepalive == 1,
          "0.1.0 defaults: concurrency %d retry %d keepalive %d", cb.cfg.concurrency, cb.cfg.retry,
          cb.cfg.keepalive);
    cb.cfg.concurrency = 3;
    cb.cfg.window = 2; /* the feed is called several times */
    cb.cfg.max_time = 10;
    cb.cfg.connect_timeout = 5;
    cb.cfg.retry = 0;
    cb.cfg.max_filesize = 1000;
    cb.cfg.resolve = pins;
    cb.cfg.resolve_len = 1;
    /* Any name the pin does not answer goes to a port where nothing listens, so that
     * no lookup leaves the machine. */
    cb.cfg.dns_servers = "127.0.0.1:1";
    cb.cfg.hash = 1;
    cb.cfg.user_agent = "old-client/0.1.0";
    cb.cfg.attempt_log = 1;
    cb.cfg.feed = feed;
    cb.cfg.feed_user = &s;

    if (salvo_new(&engine, &cb.cfg, err, sizeof(err), warn, sizeof(warn)) < 0) {
        CHECK(0, "salvo_new: %s", err);
        return;
    }
    check_refusals(engine);
    CHECK(salvo_run(engine) == 0, "salvo_run");
    print_stats(engine);
    salvo_free(engine);
    for (size_t i = 0; i < NJOBS; i++) {
        struct seen *x = &s.seen[i];
        CHECK(guard_intact(s.boxes[i].guard), "the library wrote into a request's guard");
        CHECK(x->done == 1, "request %zu: %d callbacks", i, x->done);
        printf("%zu %d %s %d %llu %d %zu %s\n", i, x->status, salvo_err_name(x->error), x->ok,
               x->bytes, x->attempts, x->log_len, x->sha256);
    }
}

/* A second engine, cancelled from a callback: the slow request ends as cancelled. */
struct cancel_state {
    salvo_t *engine;
    salvo_err_t slow_error;
    int calls;
};

static void on_cancel_done(const salvo_result_t *r, void *user)
{
    struct cancel_state *c = user;

    c->calls++;
    if (r->index == 0)
        salvo_cancel(c->engine);
    else
        c->slow_error = r->error;
}

static void run_cancel(int port)
{
    struct cancel_state c = {0};
    salvo_config_t cfg;
    char err[256], quick[128], slow[128];

    salvo_config_init(&cfg);
    cfg.retry = 0;
    snprintf(quick, sizeof(quick), "http://127.0.0.1:%d/delay/50", port);
    snprintf(slow, sizeof(slow), "http://127.0.0.1:%d/delay/20000", port);
    if (salvo_new(&c.engine, &cfg, err, sizeof(err), NULL, 0) < 0) {
        CHECK(0, "salvo_new: %s", err);
        return;
    }
    CHECK(salvo_submit(c.engine, quick, 0, NULL, on_cancel_done, &c) == 0, "submit quick");
    CHECK(salvo_submit(c.engine, slow, 1, NULL, on_cancel_done, &c) == 0, "submit slow");
    CHECK(salvo_run(c.engine) == 0, "salvo_run with a cancel");
    salvo_free(c.engine);
    printf("cancel calls=%d slow=%s\n", c.calls, salvo_err_name(c.slow_error));
}

int main(int argc, char **argv)
{
    char pin[64];
    int port = argc == 2 ? atoi(argv[1]) : 0;

    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    CHECK(strcmp(SALVO_VERSION, "0.1.0") == 0, "built against the frozen 0.1.0 header");
    snprintf(pin, sizeof(pin), "abi.test:%d:127.0.0.1", port);
    run_jobs(port, pin);
    run_cancel(port);
    fflush(stdout);
    return failures ? 1 : 0;
}
