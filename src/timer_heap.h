/*
 * timer_heap.h -- a binary min-heap of timer nodes, ordered by (deadline, sequence).
 *
 * Pure data structure: no I/O, no clock. The nodes are embedded in their owners
 * (intrusive, as libuv's heap-inl.h), and each node remembers its index in the array,
 * so removing an arbitrary node is O(log n) instead of a linear search. Equal deadlines
 * keep insertion (FIFO) order through the sequence number.
 *
 * Ownership: the heap owns only its array of pointers; nodes belong to their owners and
 * must be removed before they are freed.
 */
#ifndef SALVO_TIMER_HEAP_H
#define SALVO_TIMER_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define TIMER_HEAP_NONE SIZE_MAX /* index of a node that is not in a heap */

struct timer_node {
    uint64_t deadline; /* absolute time, in whatever unit the caller uses (ms) */
    uint64_t seq;      /* tie-break: set by timer_heap_push */
    size_t index;      /* position in the heap array, TIMER_HEAP_NONE when not queued */
};

struct timer_heap {
    struct timer_node **nodes; /* array of node pointers, nodes[0] is the minimum */
    size_t len;                /* nodes in the heap */
    size_t cap;                /* allocated slots in nodes */
    uint64_t next_seq;         /* sequence number for the next push */
};

void timer_heap_init(struct timer_heap *h);
void timer_heap_free(struct timer_heap *h); /* frees the array, not the nodes */

/* Marks a node as not queued. Call once before its first push. */
void timer_node_init(struct timer_node *n);
int timer_node_queued(const struct timer_node *n);

/* Inserts n with the given deadline; if n is already queued it is moved instead (re-arm).
 * Returns 0, or -ENOMEM when the array cannot grow (n is then not queued). */
int timer_heap_push(struct timer_heap *h, struct timer_node *n, uint64_t deadline);

/* Removes n if it is queued; a no-op otherwise. O(log n). */
void timer_heap_remove(struct timer_heap *h, struct timer_node *n);

/* The node with the smallest (deadline, seq), or NULL when empty. */
struct timer_node *timer_heap_peek(const struct timer_heap *h);

/* Removes and returns the minimum, or NULL when empty. */
struct timer_node *timer_heap_pop(struct timer_heap *h);

#endif
