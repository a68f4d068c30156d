/*
 * test_api.c -- libsalvo seen by an application: this program includes only <salvo.h>.
 * It starts the project's test server (build/testd) as a real peer and checks the
 * callback contract, cancellation, the feed, and that salvo_free leaves no fd open.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <salvo.h>

#include "peer.h"

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    if (d != NULL)
        closedir(d);
    return n - 1; /* the DIR's own fd */
}

/* What the callbacks saw, libuv style: counters checked at the end. */
struct seen {
    int done_cb_called;
    int by_index[64];
    salvo_err_t err[64];
    int status[64];
    salvo_t *engine;
    int cancel_after; /* call salvo_cancel after this many callbacks (0: never) */
    int resubmit;     /* submit a follow-up from the callback this many times */
};

static void on_done(const salvo_result_t *r, void *user)
{
    struct seen *s = user;
    s->done_cb_called++;
    if (r->index < 64) {
        s->by_index[r->index]++;
        s->err[r->index] = r->error;
        s->status[r->index] = r->status;
    }
    if (s->cancel_after > 0 && s->done_cb_called == s->cancel_after)
        salvo_cancel(s->engine);
    if (s->resubmit > 0) {
        s->resubmit--;
        assert_int_equal(salvo_submit(s->engine, url("/"), r->index + 1, NULL, on_done, s), 0);
    }
}

static salvo_t *new_engine(int concurrency)
{
    salvo_config_t cfg;
    salvo_config_init(&cfg);
    cfg.concurrency = concurrency;
    cfg.retry = 0;
    cfg.max_time = 5;
    char err[256];
    salvo_t *e = NULL;
    assert_int_equal(salvo_new(&e, &cfg, err, sizeof err, NULL, 0), 0);
    return e;
}

static void test_one_result_per_submit(void **state)
{
    (void)state;
    struct seen s = {0};
    salvo_t *e = s.engine = new_engine(4);
    const char *paths[] = {"/", "/status/404", "/size/1000", "/garbage", "/chunked/10"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(salvo_submit(e, url(paths[i]), (uint64_t)i, NULL, on_done, &s), 0);
    assert_int_equal(salvo_submit(e, "no url at all", 5, NULL, on_done, &s), 0);
    /* Never before salvo_submit returns, never before salvo_run. */
    assert_int_equal(s.done_cb_called, 0);
    assert_int_equal(salvo_run(e), 0);
    assert_int_equal(s.done_cb_called, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(s.by_index[i], 1);
    assert_int_equal(s.status[0], 200);
    assert_int_equal(s.status[1], 404);
    assert_int_equal(s.err[1], SALVO_E_OK);
    assert_int_equal(s.err[3], SALVO_E_PROTOCOL);
    assert_int_equal(s.err[5], SALVO_E_BAD_URL);
    salvo_stats_t st;
    salvo_stats(e, &st);
    assert_int_equal(st.submitted, 6);
    assert_int_equal(st.completed, 6);
    assert_true(st.max_in_flight <= 4);
    salvo_free(e);
}

/* The batch callback: after the completion callbacks of a loop pass, never inside one, and
 * at least once per pass that delivered something (so a writer that flushes there loses
 * nothing). */
struct batches {
    struct seen seen;
    int batches;
    int delivered_at_last_batch;
};

static void on_batch(void *user)
{
    struct batches *b = user;
    assert_true(b->seen.done_cb_called > b->delivered_at_last_batch);
    b->delivered_at_last_batch = b->seen.done_cb_called;
    b->batches++;
}

static void test_batch_end(void **state)
{
    (void)state;
    struct batches b = {0};
    salvo_t *e = b.seen.engine = new_engine(8);
    salvo_set_batch_end(e, on_batch, &b);
    for (int i = 0; i < 20; i++)
        assert_int_equal(
            salvo_submit(e, url(i % 2 ? "/" : "/delay/50"), (uint64_t)i, NULL, on_done, &b.seen),
            0);
    assert_int_equal(salvo_run(e), 0);
    assert_int_equal(b.seen.done_cb_called, 20);
    assert_int_equal(b.delivered_at_last_batch, 20); /* the last results had their batch */
    assert_true(b.batches >= 2 && b.batches <= 20);  /* the slow ones came in a later pass */
    salvo_free(e);
}

static void test_no_fd_left_after_free(void **state)
{
    (void)state;
    int before = count_fds();
    struct seen s = {0};
    salvo_t *e = s.engine = new_engine(8);
    for (int i = 0; i < 8; i++)
        salvo_submit(e, url(i % 2 ? "/stall" : "/size/100"), (uint64_t)i, NULL, on_done, &s);
    s.cancel_after = 4; /* the four fast ones finish; the stalled ones are cancelled */
    assert_int_equal(salvo_run(e), 0);
    assert_int_equal(s.done_cb_called, 8);
    for (int i = 1; i < 8; i += 2)
        assert_int_equal(s.err[i], SALVO_E_CANCELLED);
    salvo_free(e);
    assert_int_equal(count_fds(), before);
}

static void test_free_cancels_unrun_requests(void **state)
{
    (void)state;
    struct seen s = {0};
    salvo_t *e = s.engine = new_engine(2);
    for (int i = 0; i < 3; i++)
        salvo_submit(e, url("/"), (uint64_t)i, NULL, on_done, &s);
    salvo_free(e); /* never run: each callback still runs once, with cancelled */
    assert_int_equal(s.done_cb_called, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s.err[i], SALVO_E_CANCELLED);
}

static void test_submit_from_callback(void **state)
{
    (void)state;
    struct seen s = {0};
    salvo_t *e = s.engine = new_engine(2);
    s.resubmit = 4;
    salvo_submit(e, url("/"), 0, NULL, on_done, &s);
    assert_int_equal(salvo_run(e), 0);
    assert_int_equal(s.done_cb_called, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s.status[i], 200);
    salvo_free(e);
}

static void test_submit_after_cancel_fails(void **state)
{
    (void)state;
    struct seen s = {0};
    salvo_t *e = s.engine = new_engine(2);
    salvo_cancel(e);
    assert_int_equal(salvo_submit(e, url("/"), 0, NULL, on_done, &s), -1);
    assert_int_equal(salvo_run(e), 0);
    assert_int_equal(s.done_cb_called, 0); /* a failed submit never calls back */
    salvo_free(e);
}

/* A request that could never go on the wire as meant is refused by salvo_submit, which
 * then never calls back and says why; nothing is sent, no connection is opened. */
static void test_submit_refuses_bad_requests(void **state)
{
    (void)state;
    static const char *const bad_headers[] = {"X Y: z",
                                              " Foo: bar",
                                              "Foo",
                                              "Content-Length: 5",
                                              "Transfer-Encoding: chunked",
                                              "Connection: upgrade"};
    struct seen s = {0};
    salvo_t *e = s.engine = new_engine(2);
    char err[256];
    assert_string_equal(salvo_last_error(e), "");
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        salvo_request_t rq = {.headers = &bad_headers[i], .headers_len = 1};
        err[0] = '\0';
        assert_int_equal(salvo_request_check(&rq, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
        assert_int_equal(salvo_submit(e, url("/echo"), i, &rq, on_done, &s), -1);
        assert_true(strlen(salvo_last_error(e)) > 0);
    }
    salvo_request_t bad_method = {.method = "GE T"};
    assert_int_equal(salvo_submit(e, url("/"), 10, &bad_method, on_done, &s), -1);
    assert_non_null(strstr(salvo_last_error(e), "GE T"));
    /* The good ones around them still run. */
    static const char *const good[] = {"Connection: close", "X-Ok: 1"};
    salvo_request_t ok = {.headers = good, .headers_len = 2};
    assert_int_equal(salvo_request_check(&ok, err, sizeof err), 0);
    assert_int_equal(salvo_submit(e, url("/"), 11, &ok, on_done, &s), 0);
    assert_int_equal(salvo_run(e), 0);
    assert_int_equal(s.done_cb_called, 1);
    assert_int_equal(s.status[11], 200);
    salvo_stats_t st;
    salvo_stats(e, &st);
    assert_int_equal(st.submitted, 1);
    assert_int_equal(st.connections_opened, 1);
    salvo_free(e);
}

/* A --cacert that cannot be used stops salvo_new, before any request exists. */
static void test_unusable_cacert_refused(void **state)
{
    (void)state;
    salvo_config_t cfg;
    salvo_config_init(&cfg);
    char err[256] = "";
    salvo_t *e = (salvo_t *)1;
    cfg.cacert = "/nonexistent/ca.pem";
    assert_int_equal(salvo_new(&e, &cfg, err, sizeof err, NULL, 0), -1);
    assert_null(e);
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
}

/* The feed streams input through a bounded window. */
struct feed_state {
    int next, total;
    uint64_t max_queued;
    struct seen seen;
};

static void on_feed_done(const salvo_result_t *r, void *user)
{
    struct feed_state *f = user;
    (void)r;
    f->seen.done_cb_called++;
    salvo_stats_t st;
    salvo_stats(f->seen.engine, &st);
    if (st.queued > f->max_queued)
        f->max_queued = st.queued;
}

static int feed(salvo_t *e, size_t room, void *user)
{
    struct feed_state *f = user;
    for (size_t i = 0; i < room && f->next < f->total; i++, f->next++)
        salvo_submit(e, url("/"), (uint64_t)f->next, NULL, on_feed_done, f);
    return f->next == f->total;
}

static void test_feed_window(void **state)
{
    (void)state;
    struct feed_state f = {.total = 300};
    salvo_config_t cfg;
    salvo_config_init(&cfg);
    cfg.concurrency = 5;
    cfg.window = 20;
    cfg.feed = feed;
    cfg.feed_user = &f;
    char err[256];
    assert_int_equal(salvo_new(&f.seen.engine, &cfg, err, sizeof err, NULL, 0), 0);
    assert_int_equal(salvo_run(f.seen.engine), 0);
    assert_int_equal(f.seen.done_cb_called, 300);
    assert_true(f.max_queued <= 20);
    salvo_free(f.seen.engine);
}

static void test_bad_config_refused(void **state)
{
    (void)state;
    salvo_config_t cfg;
    salvo_config_init(&cfg);
    cfg.concurrency = 0;
    char err[256] = "";
    salvo_t *e = (salvo_t *)1;
    assert_int_equal(salvo_new(&e, &cfg, err, sizeof err, NULL, 0), -1);
    assert_null(e);
    assert_true(strlen(err) > 0);
}

static void test_run_after_cancel_returns(void **state)
{
    (void)state;
    struct seen s = {0};
    salvo_t *e = s.engine = new_engine(2);
    salvo_submit(e, url("/stall"), 0, NULL, on_done, &s);
    s.cancel_after = 0;
    salvo_cancel(e);
    assert_int_equal(salvo_run(e), 0);
    assert_int_equal(s.done_cb_called, 1);
    assert_int_equal(s.err[0], SALVO_E_CANCELLED);
    /* A cancelled engine takes no more work, and running it again returns at once. */
    assert_int_equal(salvo_submit(e, url("/"), 1, NULL, on_done, &s), -1);
    assert_int_equal(salvo_run(e), 0);
    assert_int_equal(s.done_cb_called, 1);
    salvo_free(e);
}

static void test_absurd_durations_refused(void **state)
{
    (void)state;
    salvo_config_t cfg;
    salvo_config_init(&cfg);
    cfg.max_time = 1e300;
    char err[256] = "";
    salvo_t *e = NULL;
    assert_int_equal(salvo_new(&e, &cfg, err, sizeof err, NULL, 0), -1);
    salvo_config_init(&cfg);
    cfg.connect_timeout = 0.0 / 0.0; /* NaN */
    assert_int_equal(salvo_new(&e, &cfg, err, sizeof err, NULL, 0), -1);
    assert_null(e);
}

/* The setters of settings added after 0.1.0 refuse what they cannot honour. */
static void test_rate_and_family_setters(void **state)
{
    (void)state;
    salvo_t *e = new_engine(4);
    assert_int_equal(salvo_set_rate(e, 100, 10), 0);
    assert_int_equal(salvo_set_rate(e, 0, 0), 0); /* off */
    assert_int_equal(salvo_set_rate(e, -1, 0), -1);
    assert_int_equal(salvo_set_rate(e, 0, -0.5), -1);
    assert_int_equal(salvo_set_rate(e, 0.0 / 0.0, 0), -1);
    assert_int_equal(salvo_set_rate(e, 1.0 / 0.0, 0), -1);
    assert_int_equal(salvo_set_rate(e, 1e-12, 0), -1); /* slower than one start a year */
    assert_int_equal(salvo_set_family(e, 4), 0);
    assert_int_equal(salvo_set_family(e, 6), 0);
    assert_int_equal(salvo_set_family(e, 0), 0);
    assert_int_equal(salvo_set_family(e, 5), -1);
    salvo_free(e);
}

static void test_error_names(void **state)
{
    (void)state;
    assert_string_equal(salvo_err_name(SALVO_E_CONNECT_REFUSED), "connect_refused");
    assert_string_equal(salvo_err_name(SALVO_E_TOO_LARGE), "too_large");
    assert_true(salvo_err_retryable(SALVO_E_TIMEOUT));
    assert_false(salvo_err_retryable(SALVO_E_TLS_VERIFY));
}

/* The origin --shard hashes: scheme and host lower case, no trailing dot, the port always
 * written, an IPv6 host in brackets; -1 for what salvo would not fetch or a short buffer. */
static void test_url_origin(void **state)
{
    (void)state;
    char o[64];
    assert_int_equal(salvo_url_origin("HTTP://Example.COM./a?b", o, sizeof o), 21);
    assert_string_equal(o, "http://example.com:80");
    assert_true(salvo_url_origin("https://user:pw@[::1]/x", o, sizeof o) > 0);
    assert_string_equal(o, "https://[::1]:443");
    assert_true(salvo_url_origin("http://127.0.0.1:8080", o, sizeof o) > 0);
    assert_string_equal(o, "http://127.0.0.1:8080");
    assert_int_equal(salvo_url_origin("ftp://example.com/", o, sizeof o), -1);
    assert_int_equal(salvo_url_origin("not a url", o, sizeof o), -1);
    assert_int_equal(salvo_url_origin("http://example.com/", o, 10), -1);
    assert_int_equal(salvo_url_origin(NULL, o, sizeof o), -1);
}

/* A password shown as ***, as records show it; strlen + 4 bytes always do. */
static void test_url_mask(void **state)
{
    (void)state;
    char o[64];
    const char *short_pw = "http://u:p@h/x?a=b:c@d";
    assert_int_equal(salvo_url_mask(short_pw, o, strlen(short_pw) + 4), 24);
    assert_string_equal(o, "http://u:***@h/x?a=b:c@d");
    assert_true(salvo_url_mask("https://user@h/", o, sizeof o) > 0);
    assert_string_equal(o, "https://user@h/");
    assert_true(salvo_url_mask("not a url", o, sizeof o) > 0);
    assert_string_equal(o, "not a url");
    assert_int_equal(salvo_url_mask("http://u:p@h/", o, 8), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_result_per_submit),
        cmocka_unit_test(test_batch_end),
        cmocka_unit_test(test_url_origin),
        cmocka_unit_test(test_url_mask),
        cmocka_unit_test(test_no_fd_left_after_free),
        cmocka_unit_test(test_free_cancels_unrun_requests),
        cmocka_unit_test(test_submit_from_callback),
        cmocka_unit_test(test_submit_after_cancel_fails),
        cmocka_unit_test(test_submit_refuses_bad_requests),
        cmocka_unit_test(test_unusable_cacert_refused),
        cmocka_unit_test(test_feed_window),
        cmocka_unit_test(test_bad_config_refused),
        cmocka_unit_test(test_run_after_cancel_returns),
        cmocka_unit_test(test_absurd_durations_refused),
        cmocka_unit_test(test_rate_and_family_setters),
        cmocka_unit_test(test_error_names),
    };
    return cmocka_run_group_tests(tests, start_testd, stop_testd);
}
