/*
 * test_timer_heap.c -- the timer heap alone: order, FIFO ties, removal from the middle,
 * re-arm, growth and 100,000 timers with random removals.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "timer_heap.h"

/* A small deterministic generator (xorshift64), so a failure reproduces exactly. */
static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Checks the heap property and every back-pointer. */
static void check_heap(const struct timer_heap *h)
{
    assert_true(h->len <= h->cap);
    for (size_t i = 0; i < h->len; i++) {
        const struct timer_node *n = h->nodes[i];

        assert_int_equal(n->index, i);
        if (i > 0) {
            const struct timer_node *p = h->nodes[(i - 1) / 2];

            assert_true(p->deadline < n->deadline ||
                        (p->deadline == n->deadline && p->seq < n->seq));
        }
    }
}

/* Pops everything; checks the (deadline, seq) order; returns how many popped. */
static size_t drain_in_order(struct timer_heap *h)
{
    struct timer_node *n, *prev = NULL;
    size_t count = 0;

    while ((n = timer_heap_pop(h))) {
        assert_false(timer_node_queued(n));
        if (prev)
            assert_true(prev->deadline < n->deadline ||
                        (prev->deadline == n->deadline && prev->seq < n->seq));
        prev = n;
        count++;
    }
    assert_int_equal(h->len, 0);
    return count;
}

static void test_empty(void **state)
{
    struct timer_heap h;
    struct timer_node n;

    (void)state;
    timer_heap_init(&h);
    timer_node_init(&n);
    assert_null(timer_heap_peek(&h));
    assert_null(timer_heap_pop(&h));
    assert_false(timer_node_queued(&n));
    timer_heap_remove(&h, &n); /* not queued: a no-op */
    assert_int_equal(h.len, 0);
    timer_heap_free(&h);
}

static void test_random_order(void **state)
{
    enum { N = 1000 };
    static struct timer_node nodes[N];
    struct timer_heap h;

    (void)state;
    rng_state = 0x9e3779b97f4a7c15u;
    timer_heap_init(&h);
    for (int i = 0; i < N; i++) {
        timer_node_init(&nodes[i]);
        assert_int_equal(timer_heap_push(&h, &nodes[i], rng() % 500), 0);
        assert_true(timer_node_queued(&nodes[i]));
    }
    check_heap(&h);
    assert_int_equal(h.len, N);
    assert_int_equal(drain_in_order(&h), N);
    timer_heap_free(&h);
}

static void test_fifo_on_ties(void **state)
{
    enum { N = 50 };
    struct timer_node nodes[N];
    struct timer_heap h;

    (void)state;
    timer_heap_init(&h);
    /* Three deadlines interleaved: each group must come out in push order. */
    for (int i = 0; i < N; i++) {
        timer_node_init(&nodes[i]);
        assert_int_equal(timer_heap_push(&h, &nodes[i], 100 + (uint64_t)(i % 3)), 0);
    }
    for (int group = 0; group < 3; group++) {
        for (int i = group; i < N; i += 3) {
            struct timer_node *n = timer_heap_pop(&h);

            assert_ptr_equal(n, &nodes[i]);
        }
    }
    assert_null(timer_heap_pop(&h));
    timer_heap_free(&h);
}

static void test_remove_middle(void **state)
{
    enum { N = 101 };
    struct timer_node nodes[N];
    struct timer_heap h;
    struct timer_node *n;
    int expect = 0;

    (void)state;
    timer_heap_init(&h);
    for (int i = 0; i < N; i++) {
        timer_node_init(&nodes[i]);
        assert_int_equal(timer_heap_push(&h, &nodes[i], (uint64_t)(N - i)), 0);
    }
    /* The root, a leaf (the last slot) and every odd deadline in between. */
    for (int i = 0; i < N; i++) {
        if ((N - i) % 2 == 1) {
            timer_heap_remove(&h, &nodes[i]);
            assert_false(timer_node_queued(&nodes[i]));
            check_heap(&h);
        }
    }
    timer_heap_remove(&h, &nodes[0]); /* already removed: a no-op */
    assert_int_equal(h.len, N / 2);
    while ((n = timer_heap_pop(&h))) {
        expect += 2;
        assert_int_equal(n->deadline, expect);
    }
    assert_int_equal(expect, N - 1);
    timer_heap_free(&h);
}

static void test_rearm(void **state)
{
    struct timer_node a, b, c;
    struct timer_heap h;

    (void)state;
    timer_heap_init(&h);
    timer_node_init(&a);
    timer_node_init(&b);
    timer_node_init(&c);
    assert_int_equal(timer_heap_push(&h, &a, 10), 0);
    assert_int_equal(timer_heap_push(&h, &b, 20), 0);
    assert_int_equal(timer_heap_push(&h, &c, 30), 0);

    /* Later: a moves behind b. Earlier: c moves to the front. The count stays 3. */
    assert_int_equal(timer_heap_push(&h, &a, 25), 0);
    check_heap(&h);
    assert_int_equal(timer_heap_push(&h, &c, 5), 0);
    check_heap(&h);
    assert_int_equal(h.len, 3);
    assert_ptr_equal(timer_heap_peek(&h), &c);

    /* Re-armed to the same deadline as b, a goes behind it (it is the newer arm). */
    assert_int_equal(timer_heap_push(&h, &a, 20), 0);
    assert_ptr_equal(timer_heap_pop(&h), &c);
    assert_ptr_equal(timer_heap_pop(&h), &b);
    assert_ptr_equal(timer_heap_pop(&h), &a);
    assert_int_equal(a.deadline, 20);
    assert_null(timer_heap_pop(&h));

    /* A popped node can be pushed again. */
    assert_int_equal(timer_heap_push(&h, &b, 1), 0);
    assert_ptr_equal(timer_heap_pop(&h), &b);
    timer_heap_free(&h);
}

static void test_grow_overflow(void **state)
{
    struct timer_heap h;
    struct timer_node n;

    (void)state;
    /* A heap claiming to be full at half the address space cannot double: the push must
     * fail cleanly before any allocation is attempted, and leave the node unqueued. */
    timer_heap_init(&h);
    h.len = h.cap = SIZE_MAX / 2 + 1;
    timer_node_init(&n);
    assert_int_equal(timer_heap_push(&h, &n, 1), -ENOMEM);
    assert_false(timer_node_queued(&n));
    h.len = h.cap = 0;
    timer_heap_free(&h);
}

static void test_free_unqueues(void **state)
{
    struct timer_node a, b;
    struct timer_heap h;

    (void)state;
    timer_heap_init(&h);
    timer_node_init(&a);
    timer_node_init(&b);
    assert_int_equal(timer_heap_push(&h, &a, 1), 0);
    assert_int_equal(timer_heap_push(&h, &b, 2), 0);
    timer_heap_free(&h);
    assert_false(timer_node_queued(&a));
    assert_false(timer_node_queued(&b));
    assert_null(h.nodes);
    assert_int_equal(h.len, 0);
}

static void test_100k(void **state)
{
    enum { N = 100000 };
    struct timer_node *nodes = calloc(N, sizeof(*nodes));
    struct timer_heap h;
    size_t removed = 0;

    (void)state;
    assert_non_null(nodes);
    rng_state = 0x2545f4914f6cdd1du;
    timer_heap_init(&h);
    for (int i = 0; i < N; i++) {
        timer_node_init(&nodes[i]);
        assert_int_equal(timer_heap_push(&h, &nodes[i], rng() % 60000), 0);
    }
    /* Random removals, some of them repeated (then no-ops), and some re-arms. */
    for (int i = 0; i < N / 4; i++) {
        struct timer_node *n = &nodes[rng() % N];

        if (timer_node_queued(n))
            removed++;
        timer_heap_remove(&h, n);
        n = &nodes[rng() % N];
        if (timer_node_queued(n))
            assert_int_equal(timer_heap_push(&h, n, rng() % 60000), 0);
    }
    check_heap(&h);
    assert_int_equal(h.len, N - removed);
    assert_int_equal(drain_in_order(&h), N - removed);
    timer_heap_free(&h);
    free(nodes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),         cmocka_unit_test(test_random_order),
        cmocka_unit_test(test_fifo_on_ties),  cmocka_unit_test(test_remove_middle),
        cmocka_unit_test(test_rearm),         cmocka_unit_test(test_grow_overflow),
        cmocka_unit_test(test_free_unqueues), cmocka_unit_test(test_100k),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
