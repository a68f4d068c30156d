/*
 * test_pool.c -- the keep-alive pool against real loopback sockets: an idle connection
 * is handed out only while it is clean, and adaptive politeness answers overload, not
 * a few failing paths.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool.h"

struct fixture {
    struct loop *loop;
    struct pool *pool;
    int listener;
    struct sockaddr_in addr;
};

static void on_io(struct loop_io *w, unsigned events, void *data)
{
    (void)w;
    (void)events;
    (void)data;
}

static int setup(void **state)
{
    static struct fixture f;
    struct pool_config cfg = {.max_idle = 16, .idle_timeout_ms = 60000, .fd_budget = 1000};
    socklen_t len = sizeof f.addr;

    memset(&f, 0, sizeof f);
    assert_int_equal(loop_new(&f.loop), 0);
    assert_int_equal(pool_new(&f.pool, f.loop, &cfg), 0);
    f.listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f.listener >= 0);
    f.addr.sin_family = AF_INET;
    f.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f.listener, (struct sockaddr *)&f.addr, sizeof f.addr), 0);
    assert_int_equal(listen(f.listener, 16), 0);
    assert_int_equal(getsockname(f.listener, (struct sockaddr *)&f.addr, &len), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pool_free(f->pool);
    loop_free(f->loop);
    close(f->listener);
    return 0;
}

/* Opens a connection of o, waits (bounded) for the connect, accepts the server side into
 * *server, and gives the connection to the pool as idle. */
static struct pool_conn *idle_conn(struct fixture *f, struct origin *o, int *server)
{
    int err = 0;
    pool_reserve(f->pool, o);
    struct pool_conn *pc =
        pool_conn_open(f->pool, o, (struct sockaddr *)&f->addr, on_io, NULL, &err);
    assert_non_null(pc);
    struct pollfd p = {.fd = pc->c.fd, .events = POLLOUT};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(conn_connect_done(&pc->c), 0);
    *server = accept(f->listener, NULL, NULL);
    assert_true(*server >= 0);
    pool_checkin(f->pool, pc);
    assert_int_equal(o->n_idle, 1);
    return pc;
}

/* Waits (bounded) until what the server did has reached the client's socket. */
static void settle(const struct pool_conn *pc)
{
    struct pollfd p = {.fd = pc->c.fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
}

static void test_checkout_clean(void **state)
{
    struct fixture *f = *state;
    struct origin *o = pool_origin(f->pool, 0, "a.test", 80, NULL);
    int server;
    struct pool_conn *pc = idle_conn(f, o, &server);

    assert_ptr_equal(pool_checkout(f->pool, o), pc);
    assert_int_equal(o->n_idle, 0);
    pool_close(f->pool, pc, 0);
    close(server);
}

/* Bytes that arrived on an idle connection before its watcher ran (many sockets ready
 * in one loop pass) must never become the next request's answer. */
static void test_checkout_refuses_unsolicited_bytes(void **state)
{
    struct fixture *f = *state;
    struct origin *o = pool_origin(f->pool, 0, "b.test", 80, NULL);
    struct pool_stats st;
    int server;
    struct pool_conn *pc = idle_conn(f, o, &server);

    assert_int_equal(write(server, "HTTP/1.1 200 OK\r\n", 17), 17);
    settle(pc);
    assert_null(pool_checkout(f->pool, o));
    pool_get_stats(f->pool, &st);
    assert_int_equal(st.open, 0);
    assert_int_equal(o->open, 0);
    pool_origin_unref(f->pool, o);
    close(server);
}

static void test_checkout_refuses_closed(void **state)
{
    struct fixture *f = *state;
    struct origin *o = pool_origin(f->pool, 0, "c.test", 80, NULL);
    int server;
    struct pool_conn *pc = idle_conn(f, o, &server);

    close(server);
    settle(pc);
    assert_null(pool_checkout(f->pool, o));
    assert_int_equal(o->open, 0);
    pool_origin_unref(f->pool, o);
}

/* One path answering 503 at once while ninety requests are in progress: a tenth of the
 * load, no overload; the origin keeps its share. */
static void test_politeness_ignores_a_broken_path(void **state)
{
    struct fixture *f = *state;
    struct origin *o = pool_origin(f->pool, 0, "d.test", 80, NULL);
    int i;

    for (i = 0; i < 100; i++)
        pool_reserve(f->pool, o);
    for (i = 0; i < 10; i++) {
        pool_origin_pushback(f->pool, o, 0);
        pool_unreserve(f->pool, o);
    }
    assert_true(o->allowed == SIZE_MAX);
    for (i = 0; i < 90; i++)
        pool_unreserve(f->pool, o);
    pool_origin_unref(f->pool, o);
}

/* Eight requests in progress, all answered 503: most of the load is pushed back, and
 * the origin's share drops to one, then grows by one per success. */
static void test_politeness_answers_overload(void **state)
{
    struct fixture *f = *state;
    struct origin *o = pool_origin(f->pool, 0, "e.test", 80, NULL);
    int i;

    for (i = 0; i < 8; i++)
        pool_reserve(f->pool, o);
    for (i = 0; i < 8; i++) {
        pool_origin_pushback(f->pool, o, 0);
        pool_unreserve(f->pool, o);
    }
    assert_int_equal(o->allowed, 1);
    pool_origin_success(f->pool, o);
    assert_int_equal(o->allowed, 2);
    pool_origin_unref(f->pool, o);
}

/* A Retry-After is the origin saying it is overloaded: it halves the share at once. */
static void test_politeness_retry_after(void **state)
{
    struct fixture *f = *state;
    struct origin *o = pool_origin(f->pool, 0, "f.test", 80, NULL);
    int i;

    for (i = 0; i < 40; i++)
        pool_reserve(f->pool, o);
    pool_origin_pushback(f->pool, o, 1);
    assert_int_equal(o->allowed, 20);
    for (i = 0; i < 40; i++)
        pool_unreserve(f->pool, o);
    pool_origin_unref(f->pool, o);
}

/* The same origin asked for again is the same object while it is referenced, and a new,
 * whole one after it was freed: the last answer pool_origin remembers must not outlive
 * it (under ASan a stale one would be a use after free). Other schemes, ports, hosts and
 * proxies are other origins. */
static void test_origin_lookup(void **state)
{
    struct fixture *f = *state;
    struct origin *o = pool_origin(f->pool, 0, "g.test", 80, NULL);

    assert_ptr_equal(pool_origin(f->pool, 0, "g.test", 80, NULL), o);
    assert_int_equal(o->refs, 2);
    struct origin *others[] = {
        pool_origin(f->pool, 1, "g.test", 80, NULL),
        pool_origin(f->pool, 0, "g.test", 81, NULL),
        pool_origin(f->pool, 0, "h.test", 80, NULL),
        pool_origin(f->pool, 0, "g.test", 80, "http://proxy.test:3128"),
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        assert_non_null(others[i]);
        assert_ptr_not_equal(others[i], o);
        for (size_t j = 0; j < i; j++)
            assert_ptr_not_equal(others[i], others[j]);
    }
    assert_ptr_equal(pool_origin(f->pool, 0, "g.test", 80, NULL), o);
    assert_int_equal(o->refs, 3);
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        pool_origin_unref(f->pool, others[i]);
    for (int i = 0; i < 3; i++)
        pool_origin_unref(f->pool, o); /* the last one frees it */
    struct origin *again = pool_origin(f->pool, 0, "g.test", 80, NULL);
    assert_non_null(again);
    assert_int_equal(again->refs, 1);
    assert_string_equal(again->key, "http://g.test:80");
    pool_origin_unref(f->pool, again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkout_clean),
        cmocka_unit_test(test_checkout_refuses_unsolicited_bytes),
        cmocka_unit_test(test_checkout_refuses_closed),
        cmocka_unit_test(test_politeness_ignores_a_broken_path),
        cmocka_unit_test(test_politeness_answers_overload),
        cmocka_unit_test(test_politeness_retry_after),
        cmocka_unit_test(test_origin_lookup),
    };
    return cmocka_run_group_tests_name("pool", tests, setup, teardown);
}
