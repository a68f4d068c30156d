/*
 * test_response.c -- a response handed to the application as it arrives, seen from
 * <salvo.h> alone: salvo_submit_ext with a headers callback (status and fields, once per
 * answer handed over), a body callback (the decoded body in pieces), keep_headers (the
 * fields in the result), stopping a transfer from either callback (SALVO_E_ABORTED, the
 * connection closed rather than pooled), an ext struct from an older header (its size
 * says which fields exist), and the same callbacks in blocking mode. Against the
 * project's test server (build/testd), whose bodies are the pattern
 * "abcdefghijklmnopqrstuvwxyz\n" repeated, so every delivered byte can be checked at its
 * offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include <salvo.h>

#include "peer.h"

static const char *url_at(const char *b, const char *path)
{
    static char buf[8][256];
    static int next;
    char *u = buf[next++ % 8];
    snprintf(u, 256, "%s%s", b, path);
    return u;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char PATTERN[] = "abcdefghijklmnopqrstuvwxyz\n";

/* ---- what one request's callbacks saw ------------------------------------------------- */

#define MAX_TEXT 4096

struct seen {
    salvo_t *engine;
    /* headers callback */
    int heads;
    int head_status;
    int head_attempt;
    uint64_t head_index;
    char content_length[32];   /* "" when absent */
    char content_encoding[32]; /* "" when absent */
    char location[256];        /* "" when absent */
    char retry_after[32];      /* "" when absent */
    int server_is_testd;
    int body_before_head; /* a body piece came before the head's callback */
    /* body callback */
    int pieces;
    int empty_pieces; /* calls with len == 0, which must not happen */
    uint64_t body_len;
    uint64_t not_pattern; /* bytes that differ from the pattern at their offset */
    char text[MAX_TEXT];  /* the first bytes, NUL-terminated */
    EVP_MD_CTX *sha;
    int body_after_stop; /* calls after a callback asked to stop */
    /* what to do */
    int stop_at_head;       /* the class the headers callback returns (0: go on) */
    uint64_t stop_after;    /* the body callback returns SALVO_E_ABORTED past this many */
    int stopped;            /* a callback asked to stop */
    const char *then_fetch; /* submitted from the completion callback, to the same origin */
    struct seen *then_seen;
    /* completion */
    int done;
    salvo_err_t err;
    int status;
    int attempts;
    int redirects;
    uint64_t bytes;
    char sha256[65];
    char body_hex[65]; /* the hash of what the body callback got */
    size_t result_headers_len;
    int result_headers_null;
    char result_location[256];
    char result_content_length[32];
    char result_retry_after[32];
    double t_submit, t_done;
};

static void seen_init(struct seen *s, salvo_t *engine)
{
    memset(s, 0, sizeof *s);
    s->engine = engine;
    s->sha = EVP_MD_CTX_new();
    assert_non_null(s->sha);
    assert_int_equal(EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL), 1);
}

static void seen_free(struct seen *s)
{
    EVP_MD_CTX_free(s->sha);
    s->sha = NULL;
}

/* The value of field `name` (any case) among n fields, copied to out ("" when absent). */
static void field(const salvo_header_t *h, size_t n, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(h[i].name, name) == 0) {
            snprintf(out, cap, "%s", h[i].value);
            return;
        }
    }
}

static int on_headers(const salvo_response_t *resp, void *user)
{
    struct seen *s = user;
    s->heads++;
    s->head_status = resp->status;
    s->head_attempt = resp->attempt;
    s->head_index = resp->index;
    if (s->pieces > 0)
        s->body_before_head = 1;
    field(resp->headers, resp->headers_len, "Content-Length", s->content_length,
          sizeof s->content_length);
    field(resp->headers, resp->headers_len, "Content-Encoding", s->content_encoding,
          sizeof s->content_encoding);
    field(resp->headers, resp->headers_len, "Location", s->location, sizeof s->location);
    field(resp->headers, resp->headers_len, "Retry-After", s->retry_after, sizeof s->retry_after);
    char server[32];
    field(resp->headers, resp->headers_len, "server", server, sizeof server);
    s->server_is_testd = strcmp(server, "testd") == 0;
    if (s->stop_at_head) {
        s->stopped = 1;
        return s->stop_at_head;
    }
    return 0;
}

static int on_body(uint64_t index, const void *data, size_t len, void *user)
{
    struct seen *s = user;
    (void)index;
    if (s->stopped)
        s->body_after_stop++;
    if (len == 0)
        s->empty_pieces++;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        uint64_t off = s->body_len + i;
        if (p[i] != (unsigned char)PATTERN[off % 27])
            s->not_pattern++;
        if (off < MAX_TEXT - 1)
            s->text[off] = (char)p[i];
    }
    EVP_DigestUpdate(s->sha, data, len);
    s->pieces++;
    s->body_len += len;
    if (s->stop_after > 0 && s->body_len >= s->stop_after) {
        s->stopped = 1;
        return SALVO_E_ABORTED;
    }
    return 0;
}

static void on_done(const salvo_result_t *r, void *user)
{
    struct seen *s = user;
    s->done++;
    s->t_done = now_ms();
    s->err = r->error;
    s->status = r->status;
    s->attempts = r->attempts;
    s->redirects = r->redirects;
    s->bytes = r->bytes;
    snprintf(s->sha256, sizeof s->sha256, "%s", r->sha256 ? r->sha256 : "");
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(s->sha, md, &mdlen);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(s->body_hex + 2 * i, 3, "%02x", md[i]);
    s->result_headers_null = r->headers == NULL;
    s->result_headers_len = r->headers_len;
    field(r->headers, r->headers_len, "Location", s->result_location, sizeof s->result_location);
    field(r->headers, r->headers_len, "Content-Length", s->result_content_length,
          sizeof s->result_content_length);
    field(r->headers, r->headers_len, "Retry-After", s->result_retry_after,
          sizeof s->result_retry_after);
    if (s->then_fetch != NULL) {
        salvo_request_ext_t ext = {
            .size = sizeof ext, .on_headers = on_headers, .on_body = on_body, .user = s->then_seen};
        s->then_seen->t_submit = now_ms();
        assert_int_equal(salvo_submit_ext(s->engine, s->then_fetch, r->index + 1, NULL, &ext,
                                          on_done, s->then_seen),
                         0);
    }
}

/* An engine with no retries unless the test says otherwise; `blocking` picks the
 * baseline. */
static salvo_t *new_engine(int blocking, int retry, int follow)
{
    salvo_config_t cfg;
    salvo_config_init(&cfg);
    cfg.concurrency = 4;
    cfg.retry = retry;
    cfg.retry_backoff = 0.01;
    cfg.max_time = 20;
    cfg.hash = 1;
    cfg.follow_redirects = follow;
    cfg.blocking = blocking;
    char err[256];
    salvo_t *e = NULL;
    assert_int_equal(salvo_new(&e, &cfg, err, sizeof err, NULL, 0), 0);
    return e;
}

/* Submits one request with both callbacks (and keep_headers as given). */
static void submit(salvo_t *e, const char *u, uint64_t index, struct seen *s, int keep_headers)
{
    salvo_request_ext_t ext = {.size = sizeof ext,
                               .on_headers = on_headers,
                               .on_body = on_body,
                               .user = s,
                               .keep_headers = keep_headers};
    s->t_submit = now_ms();
    assert_int_equal(salvo_submit_ext(e, u, index, NULL, &ext, on_done, s), 0);
}

/* ---- the head, then the decoded body ------------------------------------------------- */

struct shape {
    const char *path;
    int status;
    uint64_t len;   /* decoded body bytes */
    int pattern;    /* the body is the pattern */
    const char *cl; /* Content-Length the head says ("" for none) */
    const char *ce; /* Content-Encoding */
};

static const struct shape shapes[] = {
    {"/size/100000", 200, 100000, 1, "100000", ""},
    {"/size/0", 200, 0, 1, "0", ""},
    {"/chunked/30001", 200, 30001, 1, "", ""},
    {"/gzip/250000", 200, 250000, 1, NULL, "gzip"},
    {"/gzip-chunked/70000", 200, 70000, 1, "", "gzip"},
    {"/deflate/5000", 200, 5000, 1, NULL, "deflate"},
    {"/close-delimited/40000", 200, 40000, 1, "", ""},
    {"/status/404", 404, 11, 0, "11", ""},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static void check_shapes(int blocking)
{
    salvo_t *e = new_engine(blocking, 0, 0);
    struct seen s[NSHAPES];
    for (size_t i = 0; i < NSHAPES; i++) {
        seen_init(&s[i], e);
        submit(e, url(shapes[i].path), 100 + i, &s[i], 0);
    }
    assert_int_equal(salvo_run(e), 0);
    for (size_t i = 0; i < NSHAPES; i++) {
        const struct shape *sh = &shapes[i];
        struct seen *x = &s[i];
        fprintf(stderr, "# %s: %d piece(s), %llu bytes\n", sh->path, x->pieces,
                (unsigned long long)x->body_len);
        assert_int_equal(x->done, 1);
        assert_int_equal(x->err, SALVO_E_OK);
        /* The head once, with the final status and the fields as sent, before any body. */
        assert_int_equal(x->heads, 1);
        assert_int_equal(x->head_status, sh->status);
        assert_int_equal(x->head_attempt, 1);
        assert_int_equal(x->head_index, 100 + i);
        assert_true(x->server_is_testd);
        assert_false(x->body_before_head);
        if (sh->cl != NULL)
            assert_string_equal(x->content_length, sh->cl);
        assert_string_equal(x->content_encoding, sh->ce);
        /* The body decoded, in pieces of at least one byte, adding up to the record. */
        assert_int_equal(x->empty_pieces, 0);
        assert_int_equal(x->body_len, sh->len);
        assert_int_equal(x->bytes, sh->len);
        if (sh->len == 0)
            assert_int_equal(x->pieces, 0);
        if (sh->pattern)
            assert_int_equal(x->not_pattern, 0);
        else
            assert_string_equal(x->text, "status 404\n");
        assert_string_equal(x->body_hex, x->sha256);
        /* keep_headers was off. */
        assert_true(x->result_headers_null);
        seen_free(x);
    }
    salvo_free(e);
}

static void test_head_then_decoded_body(void **state)
{
    (void)state;
    check_shapes(0);
}

static void test_head_then_decoded_body_blocking(void **state)
{
    (void)state;
    check_shapes(1);
}

/* ---- answers salvo does not hand over --------------------------------------------------- */

static void check_not_handed_over(int blocking)
{
    /* Two 503s retried, then a 200: only the 200 reaches the callbacks, on attempt 3. */
    salvo_t *e = new_engine(blocking, 2, 0);
    struct seen s[4];
    char key[64];
    snprintf(key, sizeof key, "/flaky/resp-%d/2/503", blocking);
    seen_init(&s[0], e);
    submit(e, url(key), 0, &s[0], 1);
    /* A 503 that stays 503 once the retries are spent is the answer: handed over. */
    snprintf(key, sizeof key, "/retry-after/resp-%d/9/0", blocking);
    seen_init(&s[1], e);
    submit(e, url(key), 1, &s[1], 1);
    assert_int_equal(salvo_run(e), 0);
    salvo_free(e);

    assert_int_equal(s[0].err, SALVO_E_OK);
    assert_int_equal(s[0].attempts, 3);
    assert_int_equal(s[0].heads, 1);
    assert_int_equal(s[0].head_status, 200);
    assert_int_equal(s[0].head_attempt, 3);
    assert_string_equal(s[0].text, "recovered\n");
    assert_int_equal(s[0].body_len, 10);
    assert_string_equal(s[0].result_content_length, "10");

    assert_int_equal(s[1].attempts, 3);
    assert_int_equal(s[1].status, 503);
    assert_int_equal(s[1].heads, 1);
    assert_int_equal(s[1].head_status, 503);
    assert_int_equal(s[1].head_attempt, 3);
    assert_string_equal(s[1].retry_after, "0");
    assert_string_equal(s[1].result_retry_after, "0");

    /* A redirect that is followed is not the caller's answer; the one it leads to is. */
    e = new_engine(blocking, 0, 1);
    seen_init(&s[2], e);
    submit(e, url("/redirect/302?to=%2Fredirect%2F307%3Fto%3D%252Fgzip%252F3000"), 2, &s[2], 1);
    assert_int_equal(salvo_run(e), 0);
    salvo_free(e);
    assert_int_equal(s[2].err, SALVO_E_OK);
    assert_int_equal(s[2].redirects, 2);
    assert_int_equal(s[2].heads, 1);
    assert_int_equal(s[2].head_status, 200);
    assert_string_equal(s[2].location, "");
    assert_string_equal(s[2].content_encoding, "gzip");
    assert_int_equal(s[2].body_len, 3000);
    assert_int_equal(s[2].not_pattern, 0);
    assert_string_equal(s[2].body_hex, s[2].sha256);
    /* keep_headers: the final answer's fields, not a redirect's. */
    assert_false(s[2].result_headers_null);
    assert_string_equal(s[2].result_location, "");

    /* Not followed, the redirect is the answer, Location and body and all. */
    e = new_engine(blocking, 0, 0);
    seen_init(&s[3], e);
    submit(e, url("/redirect/302?to=%2Fsize%2F10"), 3, &s[3], 1);
    assert_int_equal(salvo_run(e), 0);
    salvo_free(e);
    assert_int_equal(s[3].heads, 1);
    assert_int_equal(s[3].head_status, 302);
    assert_string_equal(s[3].location, "/size/10");
    assert_string_equal(s[3].text, "redirect\n");
    assert_string_equal(s[3].result_location, "/size/10");
    for (int i = 0; i < 4; i++)
        seen_free(&s[i]);
}

static void test_retried_and_redirected_not_handed_over(void **state)
{
    (void)state;
    check_not_handed_over(0);
}

static void test_retried_and_redirected_not_handed_over_blocking(void **state)
{
    (void)state;
    check_not_handed_over(1);
}

/* ---- stopping a transfer ---------------------------------------------------------------- */

/* testd's "accepts" counter from a /__stats body. */
static long accepts_of(const char *stats_json)
{
    const char *p = strstr(stats_json, "\"accepts\":");
    return p ? strtol(p + strlen("\"accepts\":"), NULL, 10) : -1;
}

/* A fresh server for each case, so that its accept count is this case's alone. */
struct stop_case {
    int blocking;
    int at_head;        /* stop from the headers callback, else from the body callback */
    int stop;           /* 0: a control that reads the whole (small) body */
    salvo_err_t expect; /* the class the request ends with */
    int expect_accepts; /* connections testd accepted, the /__stats one included */
    int expect_opened;  /* connections_opened of the engine */
    const char *path;   /* what the first request fetches */
    uint64_t max_bytes; /* a bound on the bytes the stopped request counted */
    int returned_class; /* what the callback returns */
};

static void run_stop_case(const struct stop_case *c)
{
    struct peer own;
    assert_int_equal(peer_start(&own, NULL), 0);
    char ob[64];
    snprintf(ob, sizeof ob, "http://127.0.0.1:%d", own.port);

    salvo_t *e = new_engine(c->blocking, 2, 0);
    struct seen first, stats;
    seen_init(&first, e);
    seen_init(&stats, e);
    if (c->stop && c->at_head)
        first.stop_at_head = c->returned_class;
    if (c->stop && !c->at_head)
        first.stop_after = 1024;
    first.then_fetch = url_at(ob, "/__stats");
    first.then_seen = &stats;
    submit(e, url_at(ob, c->path), 0, &first, 0);
    assert_int_equal(salvo_run(e), 0);
    salvo_stats_t st;
    salvo_stats(e, &st);
    salvo_free(e);
    peer_stop(&own);

    double took = first.t_done - first.t_submit;
    fprintf(stderr, "# %s%s: %s after %llu bytes in %.1f ms; %llu connection(s) opened\n",
            c->blocking ? "blocking, " : "", c->path, salvo_err_name(first.err),
            (unsigned long long)first.bytes, took, (unsigned long long)st.connections_opened);
    assert_int_equal(first.done, 1);
    assert_int_equal(first.err, c->expect);
    assert_int_equal(first.status, 200);
    assert_int_equal(first.heads, 1);
    /* A stop is the caller's decision: not retried, whatever the class. */
    assert_int_equal(first.attempts, 1);
    assert_int_equal(first.body_after_stop, 0);
    assert_true(first.bytes <= c->max_bytes);
    if (c->stop && c->at_head)
        assert_int_equal(first.pieces, 0);
    if (c->stop && !c->at_head) {
        assert_true(first.body_len >= 1024);
        assert_int_equal(first.bytes, first.body_len);
    }
    assert_int_equal(first.not_pattern, 0);
    /* Quickly: 1 GiB is not read to its end (a loose bound against a hang). */
    assert_true(took < 5000);
    /* The next request to the same origin: a new connection after a stop, the same one
     * after a whole answer (keep-alive). */
    assert_int_equal(stats.done, 1);
    assert_int_equal(stats.err, SALVO_E_OK);
    assert_int_equal(accepts_of(stats.text), c->expect_accepts);
    assert_int_equal(st.connections_opened, c->expect_opened);
    seen_free(&first);
    seen_free(&stats);
}

static void test_stop_from_body(void **state)
{
    (void)state;
    /* The control first: a whole answer leaves its connection to the next request. */
    struct stop_case control = {.path = "/size/5000",
                                .expect = SALVO_E_OK,
                                .expect_accepts = 1,
                                .expect_opened = 1,
                                .max_bytes = 5000};
    run_stop_case(&control);
    struct stop_case c = {.stop = 1,
                          .path = "/size/1073741824",
                          .expect = SALVO_E_ABORTED,
                          .expect_accepts = 2,
                          .expect_opened = 2,
                          .max_bytes = 1 << 20};
    run_stop_case(&c);
    /* A gzip body: the callback sees decoded bytes, and stopping ends the decoding. */
    c.path = "/gzip-chunked/1073741824";
    run_stop_case(&c);
}

static void test_stop_from_headers(void **state)
{
    (void)state;
    struct stop_case c = {.stop = 1,
                          .at_head = 1,
                          .returned_class = SALVO_E_ABORTED,
                          .path = "/size/1073741824",
                          .expect = SALVO_E_ABORTED,
                          .expect_accepts = 2,
                          .expect_opened = 2,
                          .max_bytes = 1 << 20};
    run_stop_case(&c);
    /* A local failure the caller reports (a full disk, say) ends the request with its
     * class, and is not retried although the engine has retries left. */
    c.returned_class = c.expect = SALVO_E_RESOURCE;
    run_stop_case(&c);
}

static void test_stop_blocking(void **state)
{
    (void)state;
    /* The baseline keeps no connection: each request opens its own. */
    struct stop_case c = {.blocking = 1,
                          .stop = 1,
                          .path = "/size/1073741824",
                          .expect = SALVO_E_ABORTED,
                          .expect_accepts = 2,
                          .expect_opened = 2,
                          .max_bytes = 1 << 20};
    run_stop_case(&c);
    c.at_head = 1;
    c.returned_class = SALVO_E_ABORTED;
    run_stop_case(&c);
}

/* ---- keep_headers and the size of the ext struct ---------------------------------------- */

static void test_keep_headers(void **state)
{
    (void)state;
    for (int blocking = 0; blocking <= 1; blocking++) {
        salvo_t *e = new_engine(blocking, 0, 0);
        struct seen s[3];
        for (int i = 0; i < 3; i++)
            seen_init(&s[i], e);
        /* keep_headers alone, no callback. */
        salvo_request_ext_t ext = {.size = sizeof ext, .keep_headers = 1};
        assert_int_equal(salvo_submit_ext(e, url("/size/321"), 0, NULL, &ext, on_done, &s[0]), 0);
        /* Callbacks without keep_headers: the result has no fields. */
        submit(e, url("/size/322"), 1, &s[1], 0);
        /* No response at all: no fields. */
        assert_int_equal(salvo_submit_ext(e, url("/reset"), 2, NULL, &ext, on_done, &s[2]), 0);
        assert_int_equal(salvo_run(e), 0);
        salvo_free(e);
        assert_false(s[0].result_headers_null);
        /* Server, Content-Type, Content-Length; and Connection: close for the baseline,
         * which asks each server to close. */
        assert_int_equal(s[0].result_headers_len, 3 + blocking);
        assert_string_equal(s[0].result_content_length, "321");
        assert_int_equal(s[0].heads, 0);
        assert_int_equal(s[0].pieces, 0);
        assert_int_equal(s[1].heads, 1);
        assert_true(s[1].result_headers_null);
        assert_int_equal(s[2].err, SALVO_E_RESET);
        assert_true(s[2].result_headers_null);
        for (int i = 0; i < 3; i++)
            seen_free(&s[i]);
    }
}

/* A program built against a header from before keep_headers existed passes a smaller
 * size: the library reads only the fields it covers. */
static void test_ext_size_honoured(void **state)
{
    (void)state;
    salvo_t *e = new_engine(0, 0, 0);
    struct seen s[4];
    for (int i = 0; i < 4; i++)
        seen_init(&s[i], e);
    salvo_request_ext_t ext = {.size = offsetof(salvo_request_ext_t, keep_headers),
                               .on_headers = on_headers,
                               .on_body = on_body,
                               .user = &s[0],
                               .keep_headers = 1};
    assert_int_equal(salvo_submit_ext(e, url("/size/2000"), 0, NULL, &ext, on_done, &s[0]), 0);
    /* The same struct with today's size: keep_headers taken. */
    ext.size = sizeof ext;
    ext.user = &s[1];
    assert_int_equal(salvo_submit_ext(e, url("/size/2000"), 1, NULL, &ext, on_done, &s[1]), 0);
    /* A size of 0 covers nothing: no callback, as with a NULL ext. */
    ext.size = 0;
    ext.user = &s[2];
    assert_int_equal(salvo_submit_ext(e, url("/size/2000"), 2, NULL, &ext, on_done, &s[2]), 0);
    assert_int_equal(salvo_submit_ext(e, url("/size/2000"), 3, NULL, NULL, on_done, &s[3]), 0);
    /* The caller's memory may go as soon as submit returns. */
    memset(&ext, 0xa5, sizeof ext);
    assert_int_equal(salvo_run(e), 0);
    salvo_free(e);

    assert_int_equal(s[0].heads, 1);
    assert_int_equal(s[0].body_len, 2000);
    assert_true(s[0].result_headers_null);
    assert_int_equal(s[1].heads, 1);
    assert_int_equal(s[1].body_len, 2000);
    assert_false(s[1].result_headers_null);
    for (int i = 2; i < 4; i++) {
        assert_int_equal(s[i].err, SALVO_E_OK);
        assert_int_equal(s[i].bytes, 2000);
        assert_int_equal(s[i].heads, 0);
        assert_int_equal(s[i].pieces, 0);
        assert_true(s[i].result_headers_null);
    }
    for (int i = 0; i < 4; i++)
        seen_free(&s[i]);
}

/* ---- the callbacks may use the engine --------------------------------------------------- */

struct nested {
    struct seen outer, inner;
    int cancel_in_body; /* cancel the engine from the outer body callback */
    int pieces;
};

static int submit_from_headers(const salvo_response_t *resp, void *user)
{
    struct nested *n = user;
    (void)resp;
    n->outer.heads++;
    salvo_stats_t st;
    salvo_stats(n->outer.engine, &st);
    assert_true(st.in_flight >= 1);
    submit(n->outer.engine, url("/gzip/777"), 9, &n->inner, 0);
    return 0;
}

static int cancel_from_body(uint64_t index, const void *data, size_t len, void *user)
{
    struct nested *n = user;
    (void)index;
    (void)data;
    (void)len;
    if (n->pieces++ == 0 && n->cancel_in_body)
        salvo_cancel(n->outer.engine);
    return 0;
}

static void test_callbacks_use_the_engine(void **state)
{
    (void)state;
    struct nested n;
    memset(&n, 0, sizeof n);
    salvo_t *e = new_engine(0, 0, 0);
    seen_init(&n.outer, e);
    seen_init(&n.inner, e);
    salvo_request_ext_t ext = {.size = sizeof ext,
                               .on_headers = submit_from_headers,
                               .on_body = cancel_from_body,
                               .user = &n};
    assert_int_equal(salvo_submit_ext(e, url("/size/10"), 0, NULL, &ext, on_done, &n.outer), 0);
    assert_int_equal(salvo_run(e), 0);
    salvo_free(e);
    assert_int_equal(n.outer.heads, 1);
    assert_int_equal(n.outer.err, SALVO_E_OK);
    assert_int_equal(n.inner.done, 1);
    assert_int_equal(n.inner.body_len, 777);
    assert_int_equal(n.inner.not_pattern, 0);
    seen_free(&n.outer);
    seen_free(&n.inner);

    /* salvo_cancel from a body callback ends the run: the 1 GiB body is not read on. */
    memset(&n, 0, sizeof n);
    n.cancel_in_body = 1;
    e = new_engine(0, 0, 0);
    seen_init(&n.outer, e);
    seen_init(&n.inner, e);
    ext.on_headers = NULL;
    double t0 = now_ms();
    assert_int_equal(salvo_submit_ext(e, url("/size/1073741824"), 0, NULL, &ext, on_done, &n.outer),
                     0);
    assert_int_equal(salvo_run(e), 0);
    double took = now_ms() - t0;
    salvo_free(e);
    assert_int_equal(n.outer.done, 1);
    assert_int_equal(n.outer.err, SALVO_E_CANCELLED);
    assert_true(n.outer.bytes < (1u << 30));
    assert_true(took < 5000);
    seen_free(&n.outer);
    seen_free(&n.inner);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_then_decoded_body),
        cmocka_unit_test(test_head_then_decoded_body_blocking),
        cmocka_unit_test(test_retried_and_redirected_not_handed_over),
        cmocka_unit_test(test_retried_and_redirected_not_handed_over_blocking),
        cmocka_unit_test(test_stop_from_body),
        cmocka_unit_test(test_stop_from_headers),
        cmocka_unit_test(test_stop_blocking),
        cmocka_unit_test(test_keep_headers),
        cmocka_unit_test(test_ext_size_honoured),
        cmocka_unit_test(test_callbacks_use_the_engine),
    };
    return cmocka_run_group_tests(tests, start_testd, stop_testd);
}
