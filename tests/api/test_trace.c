/*
 * test_trace.c -- salvo_set_trace seen by an application: this program includes only
 * <salvo.h>. Against the project's test server (build/testd), each request's life is
 * traced as the states it goes through: a plain GET, a 503 then a 200 (a backoff and a
 * second queue), a redirect, a refused port; the trace carries the request's index and
 * times that never go backwards; start_ms in the result fits the run; and a NULL
 * callback stops the trace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include <salvo.h>

#include "peer.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the trace -------------------------------------------------------------------------- */

#define MAX_MOVES 256

struct move {
    uint64_t index;
    double t_ms;
    char from[16], to[16], detail[64];
    int in_run; /* traced while salvo_run was running */
};

struct trace {
    struct move m[MAX_MOVES];
    size_t n;
    int overflow;
    int running; /* set around salvo_run by the test */
};

static void on_trace(const salvo_transition_t *t, void *user)
{
    struct trace *tr = user;
    if (tr->n == MAX_MOVES) {
        tr->overflow = 1;
        return;
    }
    struct move *m = &tr->m[tr->n++];
    m->index = t->index;
    m->t_ms = t->t_ms;
    m->in_run = tr->running;
    snprintf(m->from, sizeof m->from, "%s", t->from);
    snprintf(m->to, sizeof m->to, "%s", t->to);
    snprintf(m->detail, sizeof m->detail, "%s", t->detail ? t->detail : "(null)");
}

/* The moves of one request, as "from>to" words. */
static void moves_of(const struct trace *tr, uint64_t index, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < tr->n; i++)
        if (tr->m[i].index == index)
            snprintf(out + strlen(out), cap - strlen(out), "%s%s>%s", out[0] ? " " : "",
                     tr->m[i].from, tr->m[i].to);
}

/* One request's trace is a chain from queued to done, its times never going back. */
static void check_chain(const struct trace *tr, uint64_t index)
{
    const struct move *prev = NULL;
    int done = 0;
    assert_false(tr->overflow);
    for (size_t i = 0; i < tr->n; i++) {
        const struct move *m = &tr->m[i];
        if (m->index != index)
            continue;
        assert_false(done); /* nothing after done */
        if (prev == NULL)
            assert_string_equal(m->from, "queued");
        else {
            assert_string_equal(m->from, prev->to);
            assert_true(m->t_ms >= prev->t_ms);
        }
        assert_true(m->t_ms >= 0);
        done = strcmp(m->to, "done") == 0;
        prev = m;
    }
    assert_true(done);
}

static const char *detail_into(const struct trace *tr, uint64_t index, const char *to, int nth)
{
    for (size_t i = 0; i < tr->n; i++)
        if (tr->m[i].index == index && strcmp(tr->m[i].to, to) == 0 && nth-- == 0)
            return tr->m[i].detail;
    return NULL;
}

/* ---- the results ------------------------------------------------------------------------ */

struct res {
    int done_cb_called;
    salvo_err_t err;
    int status, attempts, redirects, reused;
    double start_ms, total_ms;
};

struct seen {
    struct res r[64];
    int done_cb_called;
};

static void on_done(const salvo_result_t *r, void *user)
{
    struct seen *s = user;
    s->done_cb_called++;
    assert_true(r->index < 64);
    struct res *x = &s->r[r->index];
    x->done_cb_called++;
    x->err = r->error;
    x->status = r->status;
    x->attempts = r->attempts;
    x->redirects = r->redirects;
    x->reused = r->reused;
    x->start_ms = r->start_ms;
    x->total_ms = r->total_ms;
}

static salvo_t *new_engine(salvo_config_t *cfg)
{
    char err[256];
    salvo_t *e = NULL;
    assert_int_equal(salvo_new(&e, cfg, err, sizeof err, NULL, 0), 0);
    return e;
}

static void config(salvo_config_t *cfg)
{
    salvo_config_init(cfg);
    cfg->concurrency = 4;
    cfg->retry = 0;
    cfg->max_time = 5;
    cfg->connect_timeout = 5;
}

/* Runs e with tr marked as running; returns the run's wall time in ms. */
static double run(salvo_t *e, struct trace *tr)
{
    double t0 = now_ms();
    tr->running = 1;
    assert_int_equal(salvo_run(e), 0);
    tr->running = 0;
    return now_ms() - t0;
}

/* ---- cases ------------------------------------------------------------------------------- */

/* A plain GET on a new connection: every state once, in order, all of index 42, in
 * time order. start_ms and total_ms of the result fit the run, and the first and last
 * moves fit them. */
static void test_plain_get(void **state)
{
    (void)state;
    static struct trace tr;
    struct seen s = {0};
    salvo_config_t cfg;
    char got[1024];
    memset(&tr, 0, sizeof tr);
    config(&cfg);
    salvo_t *e = new_engine(&cfg);
    salvo_set_trace(e, on_trace, &tr);
    assert_int_equal(salvo_submit(e, url("/"), 42, NULL, on_done, &s), 0);
    double wall = run(e, &tr);
    salvo_free(e);

    moves_of(&tr, 42, got, sizeof got);
    assert_string_equal(got, "queued>resolving resolving>connecting connecting>sending "
                             "sending>receiving receiving>done");
    assert_int_equal(tr.n, 5); /* and nothing of any other index */
    check_chain(&tr, 42);
    for (size_t i = 0; i < tr.n; i++)
        assert_true(tr.m[i].in_run);

    const struct res *r = &s.r[42];
    assert_int_equal(s.done_cb_called, 1);
    assert_int_equal(r->done_cb_called, 1);
    assert_int_equal(r->err, SALVO_E_OK);
    assert_int_equal(r->status, 200);
    /* start_ms: when the slot was granted, from the start of the run. */
    assert_true(r->start_ms >= 0);
    assert_true(r->start_ms <= wall);
    assert_true(r->total_ms >= 0);
    assert_true(r->start_ms + r->total_ms <= wall + 0.01);
    /* The first move comes once the slot is granted, the last no later than the end. */
    assert_true(tr.m[0].t_ms + 0.01 >= r->start_ms);
    assert_true(tr.m[tr.n - 1].t_ms <= r->start_ms + r->total_ms + 0.01);
    assert_true(tr.m[tr.n - 1].t_ms <= wall);
}

/* 503, then 200: the first attempt's answer sends the request to sleep (backoff) and
 * back to the queue, and the second attempt reuses the kept-alive connection. */
static void test_retry_after_503(void **state)
{
    (void)state;
    static struct trace tr;
    struct seen s = {0};
    salvo_config_t cfg;
    char got[1024];
    memset(&tr, 0, sizeof tr);
    config(&cfg);
    cfg.retry = 2;
    cfg.retry_backoff = 0.01;
    cfg.retry_backoff_max = 0.05;
    salvo_t *e = new_engine(&cfg);
    salvo_set_trace(e, on_trace, &tr);
    assert_int_equal(salvo_submit(e, url("/flaky/trace-503/1/503"), 1, NULL, on_done, &s), 0);
    run(e, &tr);
    salvo_free(e);

    moves_of(&tr, 1, got, sizeof got);
    assert_string_equal(got, "queued>resolving resolving>connecting connecting>sending "
                             "sending>receiving receiving>backoff backoff>queued "
                             "queued>sending sending>receiving receiving>done");
    check_chain(&tr, 1);
    assert_string_equal(detail_into(&tr, 1, "queued", 0), "retry");
    assert_int_equal(s.r[1].status, 200);
    assert_int_equal(s.r[1].err, SALVO_E_OK);
    assert_int_equal(s.r[1].attempts, 2);
    assert_int_equal(s.r[1].reused, 1);
}

/* -L: a redirect sends the request back to the queue for its next URL ("redirect"),
 * here on the same origin, so the next hop reuses the connection. */
static void test_redirect(void **state)
{
    (void)state;
    static struct trace tr;
    struct seen s = {0};
    salvo_config_t cfg;
    char got[1024];
    memset(&tr, 0, sizeof tr);
    config(&cfg);
    cfg.follow_redirects = 1;
    salvo_t *e = new_engine(&cfg);
    salvo_set_trace(e, on_trace, &tr);
    assert_int_equal(salvo_submit(e, url("/redirect/302?to=/"), 2, NULL, on_done, &s), 0);
    run(e, &tr);
    salvo_free(e);

    moves_of(&tr, 2, got, sizeof got);
    assert_string_equal(got, "queued>resolving resolving>connecting connecting>sending "
                             "sending>receiving receiving>queued queued>sending "
                             "sending>receiving receiving>done");
    check_chain(&tr, 2);
    assert_string_equal(detail_into(&tr, 2, "queued", 0), "redirect");
    assert_int_equal(s.r[2].status, 200);
    assert_int_equal(s.r[2].redirects, 1);
    assert_int_equal(s.r[2].err, SALVO_E_OK);
}

/* A port nobody listens on (bound, then closed): the connect is refused. */
static int refused_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_refused(void **state)
{
    (void)state;
    static struct trace tr;
    struct seen s = {0};
    salvo_config_t cfg;
    char got[1024], u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", refused_port());

    /* No retry: connecting -> done. */
    memset(&tr, 0, sizeof tr);
    config(&cfg);
    salvo_t *e = new_engine(&cfg);
    salvo_set_trace(e, on_trace, &tr);
    assert_int_equal(salvo_submit(e, u, 4, NULL, on_done, &s), 0);
    run(e, &tr);
    salvo_free(e);
    moves_of(&tr, 4, got, sizeof got);
    assert_string_equal(got, "queued>resolving resolving>connecting connecting>done");
    assert_string_equal(detail_into(&tr, 4, "done", 0), "connect_refused");
    assert_int_equal(s.r[4].err, SALVO_E_CONNECT_REFUSED);

    /* One retry: connecting -> backoff, then the whole way again. */
    memset(&tr, 0, sizeof tr);
    cfg.retry = 1;
    cfg.retry_backoff = 0.01;
    cfg.retry_backoff_max = 0.05;
    e = new_engine(&cfg);
    salvo_set_trace(e, on_trace, &tr);
    assert_int_equal(salvo_submit(e, u, 5, NULL, on_done, &s), 0);
    run(e, &tr);
    salvo_free(e);
    moves_of(&tr, 5, got, sizeof got);
    assert_string_equal(got, "queued>resolving resolving>connecting connecting>backoff "
                             "backoff>queued queued>resolving resolving>connecting "
                             "connecting>done");
    check_chain(&tr, 5);
    assert_int_equal(s.r[5].err, SALVO_E_CONNECT_REFUSED);
    assert_int_equal(s.r[5].attempts, 2);
}

/* Several requests at once: each has its own chain, with its own index. */
static void test_many(void **state)
{
    (void)state;
    static struct trace tr;
    struct seen s = {0};
    salvo_config_t cfg;
    const char *paths[] = {"/", "/status/404", "/size/10000", "/delay/30", "/chunked/3000"};
    memset(&tr, 0, sizeof tr);
    config(&cfg);
    cfg.concurrency = 3;
    salvo_t *e = new_engine(&cfg);
    salvo_set_trace(e, on_trace, &tr);
    for (int i = 0; i < 5; i++)
        assert_int_equal(salvo_submit(e, url(paths[i]), (uint64_t)(10 + i), NULL, on_done, &s), 0);
    double wall = run(e, &tr);
    salvo_free(e);
    assert_int_equal(s.done_cb_called, 5);
    int dones = 0;
    for (size_t i = 0; i < tr.n; i++) {
        assert_true(tr.m[i].index >= 10 && tr.m[i].index < 15);
        dones += strcmp(tr.m[i].to, "done") == 0;
        assert_true(tr.m[i].t_ms <= wall);
    }
    assert_int_equal(dones, 5);
    for (int i = 0; i < 5; i++) {
        check_chain(&tr, (uint64_t)(10 + i));
        assert_int_equal(s.r[10 + i].err, SALVO_E_OK);
        assert_true(s.r[10 + i].start_ms >= 0 && s.r[10 + i].start_ms <= wall);
    }
}

/* salvo_set_trace(NULL) stops the trace; another callback takes over from the old one. */
static void test_trace_off(void **state)
{
    (void)state;
    static struct trace tr, tr2;
    struct seen s = {0};
    salvo_config_t cfg;
    memset(&tr, 0, sizeof tr);
    memset(&tr2, 0, sizeof tr2);
    config(&cfg);
    salvo_t *e = new_engine(&cfg);

    salvo_set_trace(e, on_trace, &tr);
    assert_int_equal(salvo_submit(e, url("/"), 1, NULL, on_done, &s), 0);
    run(e, &tr);
    size_t n = tr.n;
    assert_true(n >= 3);

    salvo_set_trace(e, NULL, NULL);
    assert_int_equal(salvo_submit(e, url("/"), 2, NULL, on_done, &s), 0);
    assert_int_equal(salvo_submit(e, "not a url", 3, NULL, on_done, &s), 0);
    run(e, &tr);
    assert_int_equal(tr.n, n);
    assert_int_equal(s.r[2].status, 200);
    assert_int_equal(s.r[3].err, SALVO_E_BAD_URL);

    salvo_set_trace(e, on_trace, &tr2);
    assert_int_equal(salvo_submit(e, url("/"), 4, NULL, on_done, &s), 0);
    run(e, &tr2);
    assert_int_equal(tr.n, n);
    assert_true(tr2.n >= 3);
    for (size_t i = 0; i < tr2.n; i++)
        assert_int_equal(tr2.m[i].index, 4);
    check_chain(&tr2, 4);
    salvo_free(e);
    assert_int_equal(s.done_cb_called, 4);
}

/* A URL that does not parse never gets a slot: queued -> done, start_ms negative. The
 * trace callback runs from inside salvo_run, as the header says, and t_ms counts from
 * the start of the run for every move, so the trace of a run never goes backwards. */
static void test_trace_inside_run(void **state)
{
    (void)state;
    static struct trace tr;
    struct seen s = {0};
    salvo_config_t cfg;
    char got[1024];
    memset(&tr, 0, sizeof tr);
    config(&cfg);
    salvo_t *e = new_engine(&cfg);
    salvo_set_trace(e, on_trace, &tr);
    usleep(50 * 1000); /* the engine was made a while before this input */
    assert_int_equal(salvo_submit(e, "not a url", 6, NULL, on_done, &s), 0);
    assert_int_equal(salvo_submit(e, url("/"), 7, NULL, on_done, &s), 0);
    double wall = run(e, &tr);
    salvo_free(e);

    moves_of(&tr, 6, got, sizeof got);
    assert_string_equal(got, "queued>done");
    assert_string_equal(detail_into(&tr, 6, "done", 0), "bad_url");
    assert_int_equal(s.r[6].err, SALVO_E_BAD_URL);
    assert_true(s.r[6].start_ms < 0);
    assert_true(s.r[7].start_ms >= 0 && s.r[7].start_ms <= wall);
    check_chain(&tr, 7);
    int outside = 0;
    for (size_t i = 0; i < tr.n; i++) {
        if (!tr.m[i].in_run) {
            print_error("traced outside salvo_run: index %llu %s -> %s at t_ms %.3f\n",
                        (unsigned long long)tr.m[i].index, tr.m[i].from, tr.m[i].to, tr.m[i].t_ms);
            outside++;
        }
        if (i > 0 && tr.m[i].t_ms < tr.m[i - 1].t_ms)
            print_error("t_ms went back from %.3f to %.3f\n", tr.m[i - 1].t_ms, tr.m[i].t_ms);
    }
    assert_int_equal(outside, 0);
    for (size_t i = 1; i < tr.n; i++)
        assert_true(tr.m[i].t_ms >= tr.m[i - 1].t_ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_get),
        cmocka_unit_test(test_retry_after_503),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_trace_off),
        cmocka_unit_test(test_trace_inside_run),
    };
    return cmocka_run_group_tests_name("trace", tests, start_testd, stop_testd);
}
