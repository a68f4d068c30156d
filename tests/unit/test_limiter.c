/*
 * test_limiter.c -- the global slots and the per-origin lanes, over a real pool on a
 * real loop: slots are never exceeded, lanes are served round robin, a waiter put at
 * the front goes first, a cancelled waiter is never called, an origin without room is
 * skipped while the others go ahead, and every granted callback runs exactly once.
 * Pacing (--rate, --per-host-rate) is tested with times given by the test, not read
 * from the clock: starts one interval apart, no burst after a quiet spell, a paced
 * origin skipped while the others go ahead, and a charge that pushes the next start.
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

#include "limiter.h"
#include "loop.h"
#include "pool.h"

#define MAX_W 32

struct fixture {
    struct loop *loop;
    struct pool *pool;
    struct limiter lim;
    int listener;
    struct sockaddr_in addr;
};

/* One waiter and what happened to it, libuv style. */
struct waiter {
    struct limiter_waiter w;
    struct fixture *f;
    const char *name;
    struct origin *origin;
    int granted_cb_called;
    struct pool_conn *pc; /* what the grant handed over */
    size_t in_flight_seen;
};

/* The order of grants, by waiter. */
static struct waiter *grants[MAX_W * 4];
static size_t n_grants;

static void on_granted(struct limiter_waiter *w, struct pool_conn *pc, void *data)
{
    struct waiter *x = data;
    assert_ptr_equal(&x->w, w);
    x->granted_cb_called++;
    x->pc = pc;
    x->in_flight_seen = x->f->lim.in_flight;
    /* The slot is taken before the callback runs, and never one too many. */
    assert_true(x->f->lim.in_flight >= 1);
    assert_true(x->f->lim.in_flight <= x->f->lim.slots);
    /* The waiter is out of its lane when it is called. */
    assert_false(limiter_waiting(w));
    assert_true(n_grants < sizeof grants / sizeof grants[0]);
    grants[n_grants++] = x;
}

static void on_io(struct loop_io *w, unsigned events, void *data)
{
    (void)w;
    (void)events;
    (void)data;
}

static int setup_with(void **state, size_t slots, size_t per_host)
{
    static struct fixture f;
    struct pool_config cfg = {
        .per_host = per_host, .max_idle = 16, .idle_timeout_ms = 60000, .fd_budget = 1000};
    socklen_t len = sizeof f.addr;

    memset(&f, 0, sizeof f);
    n_grants = 0;
    assert_int_equal(loop_new(&f.loop), 0);
    assert_int_equal(pool_new(&f.pool, f.loop, &cfg), 0);
    assert_int_equal(limiter_init(&f.lim, f.pool, slots), 0);
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

static int setup(void **state)
{
    return setup_with(state, 64, 0);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->lim.waiting, 0);
    limiter_free(&f->lim);
    pool_free(f->pool);
    loop_free(f->loop);
    close(f->listener);
    return 0;
}

static void waiter_init(struct fixture *f, struct waiter *x, const char *name, struct origin *o)
{
    memset(x, 0, sizeof *x);
    x->f = f;
    x->name = name;
    x->origin = o;
    limiter_waiter_init(&x->w);
}

static void wait_for(struct fixture *f, struct waiter *x, int at_front)
{
    assert_int_equal(limiter_wait(&f->lim, &x->w, x->origin, at_front, on_granted, x), 0);
    assert_true(limiter_waiting(&x->w));
}

/* What a request does with a grant once it is done: gives the connection (or the room
 * reserved for one) back, and the slot. */
static void done_with(struct fixture *f, struct waiter *x)
{
    if (x->pc != NULL)
        pool_close(f->pool, x->pc, 0);
    else
        pool_unreserve(f->pool, x->origin);
    x->pc = NULL;
    limiter_release(&f->lim);
}

/* ---- slots --------------------------------------------------------------------------- */

static void test_slots_never_exceeded(void **state)
{
    struct fixture *f = *state;
    struct origin *o[3] = {
        pool_origin(f->pool, 0, "a.test", 80, NULL),
        pool_origin(f->pool, 0, "b.test", 80, NULL),
        pool_origin(f->pool, 1, "a.test", 443, NULL),
    };
    struct waiter w[12];
    f->lim.slots = 3;

    for (int i = 0; i < 12; i++) {
        waiter_init(f, &w[i], "w", o[i % 3]);
        wait_for(f, &w[i], 0);
    }
    assert_int_equal(f->lim.waiting, 12);
    limiter_grant(&f->lim, 0);
    assert_int_equal(n_grants, 3);
    assert_int_equal(f->lim.in_flight, 3);
    assert_int_equal(f->lim.waiting, 9);
    /* No slot free: another pass grants nothing. */
    limiter_grant(&f->lim, 0);
    assert_int_equal(n_grants, 3);

    /* Each slot given back lets exactly one more in, until everybody ran. */
    for (size_t done = 0; done < 12; done++) {
        done_with(f, grants[done]);
        limiter_grant(&f->lim, 0);
        assert_int_equal(n_grants, done + 4 > 12 ? 12 : done + 4);
        assert_true(f->lim.in_flight <= 3);
    }
    assert_int_equal(f->lim.in_flight, 0);
    assert_int_equal(f->lim.max_in_flight, 3);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(w[i].granted_cb_called, 1);
        assert_null(w[i].pc); /* no idle connection: room was reserved */
        assert_true(w[i].in_flight_seen <= 3);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i]->open, 0);
        pool_origin_unref(f->pool, o[i]);
    }
}

/* A bounded pass grants at most its bound and says whether more may go; the lanes' turn
 * goes on where the last pass stopped. */
static void test_grant_some(void **state)
{
    struct fixture *f = *state;
    struct origin *o[2] = {
        pool_origin(f->pool, 0, "a.test", 80, NULL),
        pool_origin(f->pool, 0, "b.test", 80, NULL),
    };
    struct waiter w[12];
    int more = -1;
    f->lim.slots = 10;
    for (int i = 0; i < 12; i++) {
        waiter_init(f, &w[i], "w", o[i % 2]);
        wait_for(f, &w[i], 0);
    }
    limiter_grant_some(&f->lim, 0, 4, &more);
    assert_int_equal(n_grants, 4);
    assert_int_equal(more, 1);
    limiter_grant_some(&f->lim, 0, 4, &more);
    assert_int_equal(n_grants, 8);
    assert_int_equal(more, 1);
    for (size_t i = 0; i < 8; i++) /* the lanes took turns across the passes */
        assert_ptr_equal(grants[i]->origin, o[i % 2]);
    /* Out of slots before the bound: nothing more may go now. */
    limiter_grant_some(&f->lim, 0, 4, &more);
    assert_int_equal(n_grants, 10);
    assert_int_equal(more, 0);
    for (size_t i = 0; i < 10; i++)
        done_with(f, grants[i]);
    limiter_grant_some(&f->lim, 0, 0, &more);
    assert_int_equal(n_grants, 12);
    assert_int_equal(more, 0);
    for (size_t i = 10; i < 12; i++)
        done_with(f, grants[i]);
    for (int i = 0; i < 2; i++)
        pool_origin_unref(f->pool, o[i]);
}

/* ---- round robin --------------------------------------------------------------------- */

static size_t first_grant_of(const struct origin *o)
{
    for (size_t i = 0; i < n_grants; i++)
        if (grants[i]->origin == o)
            return i;
    return SIZE_MAX;
}

/* Ten waiters of A queued before the one of B: B is served within the first two grants,
 * not after A's ten. Within a lane, first come, first served. */
static void test_round_robin(void **state)
{
    struct fixture *f = *state;
    struct origin *a = pool_origin(f->pool, 0, "a.test", 80, NULL);
    struct origin *b = pool_origin(f->pool, 0, "b.test", 80, NULL);
    struct waiter wa[10], wb;
    f->lim.slots = 2;

    for (int i = 0; i < 10; i++) {
        waiter_init(f, &wa[i], "a", a);
        wait_for(f, &wa[i], 0);
    }
    waiter_init(f, &wb, "b", b);
    wait_for(f, &wb, 0);

    limiter_grant(&f->lim, 0);
    assert_int_equal(n_grants, 2);
    assert_true(first_grant_of(b) < 2);
    assert_int_equal(wb.granted_cb_called, 1);

    /* The rest of A, one slot at a time, in the order they came. */
    while (f->lim.in_flight > 0) {
        done_with(f, grants[n_grants - f->lim.in_flight]);
        limiter_grant(&f->lim, 0);
    }
    assert_int_equal(n_grants, 11);
    size_t k = 0;
    for (size_t i = 0; i < n_grants; i++)
        if (grants[i]->origin == a)
            assert_ptr_equal(grants[i], &wa[k++]);
    assert_int_equal(k, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(wa[i].granted_cb_called, 1);
    pool_origin_unref(f->pool, a);
    pool_origin_unref(f->pool, b);
}

/* Three origins with several waiters each: one grant per origin per round. */
static void test_round_robin_three(void **state)
{
    struct fixture *f = *state;
    struct origin *o[3] = {
        pool_origin(f->pool, 0, "a.test", 80, NULL),
        pool_origin(f->pool, 0, "b.test", 80, NULL),
        pool_origin(f->pool, 0, "c.test", 80, NULL),
    };
    int per[3] = {6, 1, 3};
    struct waiter w[10];
    int n = 0;

    for (int k = 0; k < 3; k++)
        for (int i = 0; i < per[k]; i++, n++) {
            waiter_init(f, &w[n], "w", o[k]);
            wait_for(f, &w[n], 0);
        }
    limiter_grant(&f->lim, 0); /* 64 slots: everybody, in round-robin order */
    assert_int_equal(n_grants, 10);
    /* Each of the first three grants is another origin. */
    assert_true(grants[0]->origin != grants[1]->origin);
    assert_true(grants[1]->origin != grants[2]->origin);
    assert_true(grants[0]->origin != grants[2]->origin);
    /* While two origins still wait, no origin is served twice in a row. */
    for (size_t i = 1; i < 5; i++)
        assert_true(grants[i]->origin != grants[i - 1]->origin);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(w[i].granted_cb_called, 1);
        done_with(f, &w[i]);
    }
    for (int k = 0; k < 3; k++)
        pool_origin_unref(f->pool, o[k]);
}

/* ---- the front of a lane, and cancelling --------------------------------------------- */

static void test_at_front(void **state)
{
    struct fixture *f = *state;
    struct origin *a = pool_origin(f->pool, 0, "a.test", 80, NULL);
    struct waiter w1, w2, back;
    f->lim.slots = 1;

    waiter_init(f, &w1, "w1", a);
    waiter_init(f, &w2, "w2", a);
    waiter_init(f, &back, "back from a backoff", a);
    wait_for(f, &w1, 0);
    wait_for(f, &w2, 0);
    wait_for(f, &back, 1);

    limiter_grant(&f->lim, 0);
    assert_int_equal(n_grants, 1);
    assert_ptr_equal(grants[0], &back);
    for (int i = 0; i < 2; i++) {
        done_with(f, grants[n_grants - 1]);
        limiter_grant(&f->lim, 0);
    }
    assert_int_equal(n_grants, 3);
    assert_ptr_equal(grants[1], &w1);
    assert_ptr_equal(grants[2], &w2);
    done_with(f, grants[2]);
    assert_int_equal(w1.granted_cb_called + w2.granted_cb_called + back.granted_cb_called, 3);
    pool_origin_unref(f->pool, a);
}

static void test_cancel(void **state)
{
    struct fixture *f = *state;
    struct origin *a = pool_origin(f->pool, 0, "a.test", 80, NULL);
    struct origin *b = pool_origin(f->pool, 0, "b.test", 80, NULL);
    struct waiter w1, w2, w3, lone, never;

    waiter_init(f, &w1, "w1", a);
    waiter_init(f, &w2, "w2", a);
    waiter_init(f, &w3, "w3", a);
    waiter_init(f, &lone, "lone", b);
    waiter_init(f, &never, "never queued", a);
    wait_for(f, &w1, 0);
    wait_for(f, &w2, 0);
    wait_for(f, &w3, 0);
    wait_for(f, &lone, 0);
    assert_int_equal(f->lim.waiting, 4);
    assert_int_equal(f->lim.nlanes, 2);

    limiter_cancel(&f->lim, &w2.w);
    assert_false(limiter_waiting(&w2.w));
    assert_int_equal(f->lim.waiting, 3);
    limiter_cancel(&f->lim, &w2.w);    /* twice: harmless */
    limiter_cancel(&f->lim, &never.w); /* never queued: harmless */
    assert_int_equal(f->lim.waiting, 3);
    /* Cancelling the only waiter of a lane takes the lane away. */
    limiter_cancel(&f->lim, &lone.w);
    assert_int_equal(f->lim.nlanes, 1);
    assert_int_equal(f->lim.waiting, 2);

    limiter_grant(&f->lim, 0);
    assert_int_equal(n_grants, 2);
    assert_ptr_equal(grants[0], &w1);
    assert_ptr_equal(grants[1], &w3);
    assert_int_equal(w2.granted_cb_called, 0);
    assert_int_equal(lone.granted_cb_called, 0);
    assert_int_equal(never.granted_cb_called, 0);
    assert_int_equal(f->lim.nlanes, 0);
    /* A granted waiter is no longer waiting: cancelling it now changes nothing. */
    limiter_cancel(&f->lim, &w1.w);
    assert_int_equal(f->lim.in_flight, 2);
    done_with(f, &w1);
    done_with(f, &w3);
    /* And a cancelled waiter may wait again later, and is then granted once. */
    wait_for(f, &w2, 0);
    limiter_grant(&f->lim, 0);
    assert_int_equal(w2.granted_cb_called, 1);
    done_with(f, &w2);
    pool_origin_unref(f->pool, a);
    pool_origin_unref(f->pool, b);
}

/* ---- room in the origin --------------------------------------------------------------- */

static int setup_per_host_1(void **state)
{
    return setup_with(state, 64, 1);
}

/* --per-host 1 and A's one connection busy: A's waiters wait, holding no slot, while B's
 * are all granted; once A's connection closes, exactly one more of A goes. */
static void test_origin_without_room(void **state)
{
    struct fixture *f = *state;
    struct origin *a = pool_origin(f->pool, 0, "a.test", 80, NULL);
    struct origin *b = pool_origin(f->pool, 0, "b.test", 80, NULL);
    struct waiter wa[3], wb[2];

    pool_reserve(f->pool, a); /* A's one connection, busy elsewhere */
    assert_false(pool_has_room(f->pool, a));
    for (int i = 0; i < 3; i++) {
        waiter_init(f, &wa[i], "a", a);
        wait_for(f, &wa[i], 0);
    }
    for (int i = 0; i < 2; i++) {
        waiter_init(f, &wb[i], "b", b);
        wait_for(f, &wb[i], 0);
    }

    limiter_grant(&f->lim, 0);
    /* B's first, then B's second only when B's first is done: B has room for one too. */
    assert_int_equal(n_grants, 1);
    assert_ptr_equal(grants[0], &wb[0]);
    assert_int_equal(f->lim.in_flight, 1); /* A's waiters hold no slot */
    for (int i = 0; i < 3; i++)
        assert_true(limiter_waiting(&wa[i].w));
    done_with(f, &wb[0]);
    limiter_grant(&f->lim, 0);
    assert_int_equal(n_grants, 2);
    assert_ptr_equal(grants[1], &wb[1]);
    assert_int_equal(f->lim.waiting, 3);

    /* A's busy connection closes: room for one, the first of A's. */
    pool_unreserve(f->pool, a);
    limiter_grant(&f->lim, 0);
    assert_int_equal(n_grants, 3);
    assert_ptr_equal(grants[2], &wa[0]);
    assert_true(limiter_waiting(&wa[1].w));
    assert_true(limiter_waiting(&wa[2].w));
    /* Slots are free, but A is full again: nothing more. */
    limiter_grant(&f->lim, 0);
    assert_int_equal(n_grants, 3);

    done_with(f, &wb[1]);
    done_with(f, &wa[0]);
    limiter_grant(&f->lim, 0);
    assert_ptr_equal(grants[3], &wa[1]);
    done_with(f, &wa[1]);
    limiter_grant(&f->lim, 0);
    assert_ptr_equal(grants[4], &wa[2]);
    done_with(f, &wa[2]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wa[i].granted_cb_called, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(wb[i].granted_cb_called, 1);
    assert_int_equal(a->open, 0);
    pool_origin_unref(f->pool, a);
    pool_origin_unref(f->pool, b);
}

/* An idle connection is room, at the cap too: the grant hands it over, checked out. */
static void test_grant_hands_idle_connection(void **state)
{
    struct fixture *f = *state;
    struct origin *a = pool_origin(f->pool, 0, "a.test", 80, NULL);
    struct waiter w1, w2;
    int err = 0;

    pool_reserve(f->pool, a);
    struct pool_conn *pc =
        pool_conn_open(f->pool, a, (struct sockaddr *)&f->addr, on_io, NULL, &err);
    assert_non_null(pc);
    struct pollfd p = {.fd = pc->c.fd, .events = POLLOUT};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(conn_connect_done(&pc->c), 0);
    int server = accept(f->listener, NULL, NULL);
    assert_true(server >= 0);
    pool_checkin(f->pool, pc);
    assert_int_equal(a->n_idle, 1);

    waiter_init(f, &w1, "w1", a);
    waiter_init(f, &w2, "w2", a);
    wait_for(f, &w1, 0);
    wait_for(f, &w2, 0);
    limiter_grant(&f->lim, 0);
    /* --per-host 1: the idle connection is the one room there is. */
    assert_int_equal(n_grants, 1);
    assert_ptr_equal(w1.pc, pc);
    assert_int_equal(a->n_idle, 0);
    assert_int_equal(a->open, 1);
    assert_true(limiter_waiting(&w2.w));

    /* Back to the pool after a whole answer: the next waiter gets the same one. */
    pool_checkin(f->pool, pc);
    w1.pc = NULL;
    limiter_release(&f->lim);
    limiter_grant(&f->lim, 0);
    assert_int_equal(n_grants, 2);
    assert_ptr_equal(w2.pc, pc);
    done_with(f, &w2);
    assert_int_equal(a->open, 0);
    assert_int_equal(w1.granted_cb_called, 1);
    assert_int_equal(w2.granted_cb_called, 1);
    close(server);
    pool_origin_unref(f->pool, a);
}

/* ---- callbacks that act ----------------------------------------------------------------- */

/* A request that ends at once inside its grant (a local failure) gives its slot back
 * from the callback; the same pass goes on and grants the next. */
static struct fixture *quick_f;

static void on_granted_quick(struct limiter_waiter *w, struct pool_conn *pc, void *data)
{
    on_granted(w, pc, data);
    done_with(quick_f, data);
}

static void test_release_inside_grant(void **state)
{
    struct fixture *f = quick_f = *state;
    struct origin *a = pool_origin(f->pool, 0, "a.test", 80, NULL);
    struct waiter w[5];
    f->lim.slots = 1;

    for (int i = 0; i < 5; i++) {
        waiter_init(f, &w[i], "w", a);
        assert_int_equal(limiter_wait(&f->lim, &w[i].w, a, 0, on_granted_quick, &w[i]), 0);
    }
    limiter_grant(&f->lim, 0);
    assert_int_equal(n_grants, 5);
    assert_int_equal(f->lim.in_flight, 0);
    assert_int_equal(f->lim.max_in_flight, 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(w[i].granted_cb_called, 1);
        assert_ptr_equal(grants[i], &w[i]);
    }
    assert_int_equal(f->lim.nlanes, 0);
    pool_origin_unref(f->pool, a);
}

/* ---- pacing -------------------------------------------------------------------------- */

#define T0 1000000000ull /* a time, in microseconds, far from 0 */

static void test_global_pace(void **state)
{
    struct fixture *f = *state;
    struct origin *a = pool_origin(f->pool, 0, "a.test", 80, NULL);
    struct origin *b = pool_origin(f->pool, 0, "b.test", 80, NULL);
    struct waiter w[6];
    limiter_set_rate(&f->lim, 100, 0); /* one start every 10 ms */

    for (int i = 0; i < 6; i++) {
        waiter_init(f, &w[i], "w", i % 2 ? b : a);
        wait_for(f, &w[i], 0);
    }
    /* One start, then nothing until 10 ms later, whatever the free slots. */
    assert_int_equal(limiter_grant(&f->lim, T0), T0 + 10000);
    assert_int_equal(n_grants, 1);
    assert_int_equal(limiter_grant(&f->lim, T0 + 5000), T0 + 10000);
    assert_int_equal(n_grants, 1);
    assert_int_equal(limiter_grant(&f->lim, T0 + 10000), T0 + 20000);
    assert_int_equal(n_grants, 2);
    /* A start a little late (a timer's lateness) keeps the pace's times. */
    assert_int_equal(limiter_grant(&f->lim, T0 + 20700), T0 + 30000);
    assert_int_equal(n_grants, 3);
    /* After a quiet spell, one start, not a burst making up for it. */
    assert_int_equal(limiter_grant(&f->lim, T0 + 500000), T0 + 510000);
    assert_int_equal(n_grants, 4);
    /* The lanes still take turns. */
    assert_ptr_equal(grants[0]->origin, a);
    assert_ptr_equal(grants[1]->origin, b);
    assert_ptr_equal(grants[2]->origin, a);
    assert_ptr_equal(grants[3]->origin, b);
    /* The last two go; with nobody left, no pacer holds anybody back. */
    limiter_grant(&f->lim, T0 + 510000);
    assert_int_equal(limiter_grant(&f->lim, T0 + 520000), 0);
    assert_int_equal(n_grants, 6);
    for (int i = 0; i < 6; i++)
        done_with(f, &w[i]);
    pool_origin_unref(f->pool, a);
    pool_origin_unref(f->pool, b);
}

static void test_origin_pace(void **state)
{
    struct fixture *f = *state;
    struct origin *o[3] = {
        pool_origin(f->pool, 0, "a.test", 80, NULL),
        pool_origin(f->pool, 0, "b.test", 80, NULL),
        pool_origin(f->pool, 0, "c.test", 80, NULL),
    };
    struct waiter w[7];
    limiter_set_rate(&f->lim, 0, 10); /* one start every 100 ms per origin */

    /* a has four waiters at the head of the queue, b and c one each after them. */
    for (int i = 0; i < 7; i++) {
        waiter_init(f, &w[i], "w", o[i < 4 ? 0 : i - 3 < 3 ? i - 3 : 2]);
        wait_for(f, &w[i], 0);
    }
    /* One start per origin: a paced origin does not hold the others back. */
    assert_int_equal(limiter_grant(&f->lim, T0), T0 + 100000);
    assert_int_equal(n_grants, 3);
    assert_int_equal(limiter_grant(&f->lim, T0 + 50000), T0 + 100000);
    assert_int_equal(n_grants, 3);
    assert_int_equal(limiter_grant(&f->lim, T0 + 100000), T0 + 200000);
    assert_int_equal(n_grants, 5);
    assert_int_equal(limiter_grant(&f->lim, T0 + 200000), T0 + 300000);
    assert_int_equal(n_grants, 6);
    assert_int_equal(limiter_grant(&f->lim, T0 + 300000), 0);
    assert_int_equal(n_grants, 7);
    /* A charge (a replay that did not wait) pushes the next start of its origin. */
    limiter_charge(&f->lim, o[1], T0 + 300000);
    assert_int_equal(limiter_next_start(&f->lim, o[1]), T0 + 400000);
    limiter_charge(&f->lim, o[1], T0 + 300000);
    assert_int_equal(limiter_next_start(&f->lim, o[1]), T0 + 500000);
    for (int i = 0; i < 7; i++)
        done_with(f, &w[i]);
    for (int i = 0; i < 3; i++)
        pool_origin_unref(f->pool, o[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slots_never_exceeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grant_some, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_robin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_robin_three, setup, teardown),
        cmocka_unit_test_setup_teardown(test_at_front, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_origin_without_room, setup_per_host_1, teardown),
        cmocka_unit_test_setup_teardown(test_grant_hands_idle_connection, setup_per_host_1,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_release_inside_grant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_pace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_origin_pace, setup, teardown),
    };
    return cmocka_run_group_tests_name("limiter", tests, NULL, NULL);
}
