/*
 * timer_heap.c -- an array binary min-heap of intrusive timer nodes.
 *
 * The array holds pointers to nodes that live inside their owners; each node keeps its own
 * index, so an arbitrary node is removed in O(log n) by moving the last element into its
 * slot and sifting that element up or down. The order is (deadline, seq): seq grows with
 * every push, so timers with equal deadlines pop in the order they were armed (FIFO), as
 * in libuv's timer.c. Redis keeps its timers in an unsorted list (O(N) per search) and
 * nginx in a red-black tree; a heap is the smallest structure that gives O(1) peek and
 * O(log n) start, stop and re-arm, which is all the loop needs.
 *
 * The heap owns only the array. Nothing here allocates per timer.
 */
#include "timer_heap.h"

#include <errno.h>
#include <stdlib.h>

/* The first allocation: enough for a small run without a realloc, small enough not to
 * matter for an idle loop. The array then doubles. */
#define TIMER_HEAP_INITIAL_CAP 64

void timer_heap_init(struct timer_heap *h)
{
    h->nodes = NULL;
    h->len = 0;
    h->cap = 0;
    h->next_seq = 0;
}

void timer_heap_free(struct timer_heap *h)
{
    /* Nodes still queued are marked unqueued, so that a later timer_node_queued() on them
     * does not read an index into freed memory. */
    for (size_t i = 0; i < h->len; i++)
        h->nodes[i]->index = TIMER_HEAP_NONE;
    free(h->nodes);
    timer_heap_init(h);
}

void timer_node_init(struct timer_node *n)
{
    n->deadline = 0;
    n->seq = 0;
    n->index = TIMER_HEAP_NONE;
}

int timer_node_queued(const struct timer_node *n)
{
    return n->index != TIMER_HEAP_NONE;
}

/* True when a must pop before b. */
static int before(const struct timer_node *a, const struct timer_node *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->seq < b->seq;
}

static void place(struct timer_heap *h, size_t i, struct timer_node *n)
{
    h->nodes[i] = n;
    n->index = i;
}

/* Moves the node at i towards the root while it is smaller than its parent. Each step
 * writes the parent down one level and the node is stored once at the end. */
static void sift_up(struct timer_heap *h, size_t i)
{
    struct timer_node *n = h->nodes[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!before(n, h->nodes[parent]))
            break;
        place(h, i, h->nodes[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void sift_down(struct timer_heap *h, size_t i)
{
    struct timer_node *n = h->nodes[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= h->len)
            break;
        if (child + 1 < h->len && before(h->nodes[child + 1], h->nodes[child]))
            child++;
        if (!before(h->nodes[child], n))
            break;
        place(h, i, h->nodes[child]);
        i = child;
    }
    place(h, i, n);
}

/* Restores the heap order around a slot whose node just changed: it can only need to go
 * one way. */
static void fix(struct timer_heap *h, size_t i)
{
    if (i > 0 && before(h->nodes[i], h->nodes[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

static int grow(struct timer_heap *h)
{
    size_t cap = h->cap ? h->cap * 2 : TIMER_HEAP_INITIAL_CAP;
    struct timer_node **nodes;

    if (cap < h->cap || cap > SIZE_MAX / sizeof(*nodes))
        return -ENOMEM;
    nodes = realloc(h->nodes, cap * sizeof(*nodes));
    if (!nodes)
        return -ENOMEM;
    h->nodes = nodes;
    h->cap = cap;
    return 0;
}

int timer_heap_push(struct timer_heap *h, struct timer_node *n, uint64_t deadline)
{
    /* A re-arm moves the node in place: no allocation, so it cannot fail. It takes a new
     * sequence number, so it queues behind timers already armed for the same deadline. */
    if (timer_node_queued(n)) {
        n->deadline = deadline;
        n->seq = h->next_seq++;
        fix(h, n->index);
        return 0;
    }
    if (h->len == h->cap && grow(h) < 0)
        return -ENOMEM;
    n->deadline = deadline;
    n->seq = h->next_seq++;
    place(h, h->len++, n);
    sift_up(h, n->index);
    return 0;
}

void timer_heap_remove(struct timer_heap *h, struct timer_node *n)
{
    size_t i = n->index;
    struct timer_node *last;

    if (!timer_node_queued(n))
        return;
    last = h->nodes[--h->len];
    n->index = TIMER_HEAP_NONE;
    if (last == n)
        return;
    place(h, i, last);
    fix(h, i);
}

struct timer_node *timer_heap_peek(const struct timer_heap *h)
{
    return h->len ? h->nodes[0] : NULL;
}

struct timer_node *timer_heap_pop(struct timer_heap *h)
{
    struct timer_node *n = timer_heap_peek(h);

    if (n)
        timer_heap_remove(h, n);
    return n;
}
