/*
 * limiter.h -- the global slots (-c) and who gets the next one.
 *
 * A request that wants to run waits in the lane of its origin (one FIFO per origin),
 * holding no slot. limiter_grant hands free slots to lanes in round-robin order, one
 * request at a time, skipping lanes whose origin has no room (pool_has_room: per-host
 * cap, adaptive politeness): a thousand URLs of one busy site at the head of the input
 * cannot keep the other sites waiting (the fairness of curl's per-host pending queue,
 * without its rescans of every request).
 *
 * A granted waiter's callback runs once, from inside limiter_grant, with the slot taken
 * and room in its origin secured: an idle connection checked out of the pool, or (NULL)
 * a reservation for a new one. Waiting is an embedded struct, as DNS and per-IP waits
 * are: no allocation per request, and limiter_cancel takes a waiter back at any time.
 *
 * Pacing (--rate, --per-host-rate): attempts start at most `rate` a second, evenly, for
 * the whole run and per origin: a token bucket of depth 1, so starts are one interval
 * apart and a quiet spell earns no burst. The global pacer is asked before any slot is
 * taken; a lane whose origin's pacer is not ready is skipped like a lane without room,
 * so one paced site never holds the others back. A start a little after its time (a
 * timer fires up to a couple of milliseconds late) is counted from its time, so that such lateness
 * does not add up to a slower pace than asked.
 *
 * The limiter never calls anything but the callbacks its waiters carry; whoever frees a
 * slot (limiter_release) arranges for limiter_grant to run again, and whoever runs
 * limiter_grant arranges for it to run again at the time it returns.
 */
#ifndef SALVO_LIMITER_H
#define SALVO_LIMITER_H

#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "pool.h"

struct limiter_waiter;
typedef void limiter_fn(struct limiter_waiter *w, struct pool_conn *pc, void *data);

struct limiter_waiter {
    struct list link;      /* in its lane while waiting */
    struct origin *origin; /* where it needs room (the caller holds a reference) */
    limiter_fn *cb;        /* called once, when granted */
    void *data;
};

struct lane; /* one origin's waiters */

struct limiter {
    struct pool *pool;
    size_t slots;          /* global slots */
    size_t in_flight;      /* slots taken */
    size_t max_in_flight;  /* the most ever taken at once */
    size_t waiting;        /* waiters in all lanes */
    struct list lanes;     /* lanes with waiters, in round-robin order */
    struct lane **buckets; /* lanes by origin */
    size_t nbuckets, nlanes;
    uint64_t interval_us;        /* --rate: starts this far apart at least; 0: no pace */
    uint64_t origin_interval_us; /* --per-host-rate, per origin; 0: no pace */
    uint64_t next_start_us;      /* the global pacer: no start before this time */
};

int limiter_init(struct limiter *l, struct pool *pool, size_t slots);
void limiter_free(struct limiter *l); /* no waiter may remain */

static inline void limiter_waiter_init(struct limiter_waiter *w)
{
    list_init(&w->link);
}

/* Queues w for a slot and room in o; at_front: ahead of the lane's other waiters (a
 * request admitted once already, back from a backoff or a redirect). Returns 0 or
 * -ENOMEM (then w is not queued). */
int limiter_wait(struct limiter *l, struct limiter_waiter *w, struct origin *o, int at_front,
                 limiter_fn *cb, void *data);
/* Takes w out of its lane if it is waiting; harmless otherwise. */
void limiter_cancel(struct limiter *l, struct limiter_waiter *w);
static inline int limiter_waiting(const struct limiter_waiter *w)
{
    return list_linked(&w->link);
}

/* Grants free slots, round robin over lanes with room, at now_us (loop_now_us()).
 * Returns the earliest time (microseconds, as now_us) at which a pacer lets a waiter
 * held back now go, for the caller to run it again then; 0 when no pacer held one. */
uint64_t limiter_grant(struct limiter *l, uint64_t now_us);

/* limiter_grant, granting at most max slots (0: no bound); *more is set to 1 when it
 * stopped at max, so that the caller runs it again, else to 0. A bound keeps one pass
 * from starting thousands of connects before the loop sees the first of them finish. */
uint64_t limiter_grant_some(struct limiter *l, uint64_t now_us, size_t max, int *more);

/* Sets the pacers: starts at most per_second for the whole run and per_origin_per_second
 * per origin (0: no pace). */
void limiter_set_rate(struct limiter *l, double per_second, double per_origin_per_second);

/* Counts a start at now_us that did not wait for the limiter (a stale connection's
 * replay, or the blocking driver's attempts) against both pacers: the next starts are
 * pushed back, never this one. o may be NULL (no origin pacer then). */
void limiter_charge(struct limiter *l, struct origin *o, uint64_t now_us);

/* The earliest time both pacers let a start of o go (0 or a past time: now). */
uint64_t limiter_next_start(const struct limiter *l, const struct origin *o);

/* Gives a slot back. */
void limiter_release(struct limiter *l);

#endif
