/*
 * limiter.c -- global slots and per-origin lanes of waiters. See limiter.h.
 */
#include "limiter.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define LANE_BUCKETS_MIN 64
/* How late a start may come and still be counted from its time (see limiter.h): the
 * loop's timers count whole milliseconds, and so does epoll_wait's timeout, so a timer
 * fires up to about two milliseconds late. */
#define PACE_SLACK_US 2000

struct lane {
    struct lane *next_in_bucket; /* hash chain */
    struct origin *origin;
    struct list waiters; /* FIFO */
    struct list link;    /* in limiter->lanes */
};

static size_t bucket_of(const struct limiter *l, const struct origin *o)
{
    uintptr_t h = (uintptr_t)o;
    h ^= h >> 17; /* pointers share their low bits */
    h *= 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) & (l->nbuckets - 1);
}

int limiter_init(struct limiter *l, struct pool *pool, size_t slots)
{
    l->pool = pool;
    l->slots = slots;
    l->in_flight = l->max_in_flight = l->waiting = 0;
    list_init(&l->lanes);
    l->nbuckets = LANE_BUCKETS_MIN;
    l->nlanes = 0;
    l->interval_us = l->origin_interval_us = l->next_start_us = 0;
    l->buckets = calloc(l->nbuckets, sizeof *l->buckets);
    return l->buckets != NULL ? 0 : -ENOMEM;
}

void limiter_free(struct limiter *l)
{
    free(l->buckets);
    l->buckets = NULL;
}

static struct lane **find(struct limiter *l, const struct origin *o)
{
    struct lane **pp = &l->buckets[bucket_of(l, o)];
    while (*pp != NULL && (*pp)->origin != o)
        pp = &(*pp)->next_in_bucket;
    return pp;
}

static void grow(struct limiter *l)
{
    size_t n = l->nbuckets * 2;
    struct lane **b = calloc(n, sizeof *b);
    if (b == NULL)
        return; /* longer chains, still correct */
    struct lane **old = l->buckets;
    size_t oldn = l->nbuckets;
    l->buckets = b;
    l->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        while (old[i] != NULL) {
            struct lane *ln = old[i];
            old[i] = ln->next_in_bucket;
            size_t k = bucket_of(l, ln->origin);
            ln->next_in_bucket = b[k];
            b[k] = ln;
        }
    }
    free(old);
}

static void lane_free(struct limiter *l, struct lane *ln)
{
    struct lane **pp = find(l, ln->origin);
    *pp = ln->next_in_bucket;
    list_remove(&ln->link);
    l->nlanes--;
    free(ln);
}

int limiter_wait(struct limiter *l, struct limiter_waiter *w, struct origin *o, int at_front,
                 limiter_fn *cb, void *data)
{
    struct lane **pp = find(l, o);
    struct lane *ln = *pp;
    if (ln == NULL) {
        ln = calloc(1, sizeof *ln);
        if (ln == NULL)
            return -ENOMEM;
        ln->origin = o;
        list_init(&ln->waiters);
        list_push_back(&l->lanes, &ln->link);
        *pp = ln;
        if (++l->nlanes > l->nbuckets)
            grow(l);
    }
    w->origin = o;
    w->cb = cb;
    w->data = data;
    if (at_front)
        list_push_front(&ln->waiters, &w->link);
    else
        list_push_back(&ln->waiters, &w->link);
    l->waiting++;
    return 0;
}

/* Takes w off its lane, and the lane off the limiter when it empties. */
static void unlink_waiter(struct limiter *l, struct limiter_waiter *w)
{
    struct lane *ln = *find(l, w->origin);
    list_remove(&w->link);
    l->waiting--;
    if (ln != NULL && list_empty(&ln->waiters))
        lane_free(l, ln);
}

void limiter_cancel(struct limiter *l, struct limiter_waiter *w)
{
    if (list_linked(&w->link))
        unlink_waiter(l, w);
}

/* The interval between starts at per_second, rounded up so that the pace is never
 * faster than asked; 0 for no pace. */
static uint64_t interval_of(double per_second)
{
    return per_second > 0 ? (uint64_t)ceil(1e6 / per_second) : 0;
}

void limiter_set_rate(struct limiter *l, double per_second, double per_origin_per_second)
{
    l->interval_us = interval_of(per_second);
    l->origin_interval_us = interval_of(per_origin_per_second);
}

/* A pacer's next start after one at now, where next was its time before: an interval
 * after that time when the start came early (a charge) or just late, else after now. */
static uint64_t pace_after(uint64_t next, uint64_t now, uint64_t interval)
{
    uint64_t from = now <= next + PACE_SLACK_US ? next : now;
    return from + interval;
}

void limiter_charge(struct limiter *l, struct origin *o, uint64_t now_us)
{
    if (l->interval_us > 0)
        l->next_start_us = pace_after(l->next_start_us, now_us, l->interval_us);
    if (o != NULL && l->origin_interval_us > 0)
        o->next_start_us = pace_after(o->next_start_us, now_us, l->origin_interval_us);
}

uint64_t limiter_next_start(const struct limiter *l, const struct origin *o)
{
    uint64_t t = l->interval_us > 0 ? l->next_start_us : 0;
    if (o != NULL && l->origin_interval_us > 0 && o->next_start_us > t)
        t = o->next_start_us;
    return t;
}

static void wake_at(uint64_t *wake, uint64_t t)
{
    if (*wake == 0 || t < *wake)
        *wake = t;
}

uint64_t limiter_grant(struct limiter *l, uint64_t now_us)
{
    int more;
    return limiter_grant_some(l, now_us, 0, &more);
}

uint64_t limiter_grant_some(struct limiter *l, uint64_t now_us, size_t max, int *more)
{
    /* Round robin: each lane visited goes to the back. A full round of lanes without
     * room (or without a start allowed yet) ends the pass; so does running out of slots
     * or of starts allowed for the whole run, or granting max. */
    uint64_t wake = 0;
    size_t skipped = 0, granted = 0;
    *more = 0;
    while (l->in_flight < l->slots && !list_empty(&l->lanes) && skipped < l->nlanes) {
        if (max > 0 && granted == max) {
            *more = 1;
            break;
        }
        if (l->interval_us > 0 && now_us < l->next_start_us) {
            wake_at(&wake, l->next_start_us);
            break;
        }
        struct lane *ln = list_entry(l->lanes.next, struct lane, link);
        list_remove(&ln->link);
        list_push_back(&l->lanes, &ln->link);
        struct origin *o = ln->origin;
        if (!pool_has_room(l->pool, o)) {
            skipped++;
            continue;
        }
        if (l->origin_interval_us > 0 && now_us < o->next_start_us) {
            wake_at(&wake, o->next_start_us);
            skipped++;
            continue;
        }
        skipped = 0;
        struct limiter_waiter *w = list_entry(ln->waiters.next, struct limiter_waiter, link);
        /* Room is secured while w still holds its place: the origin cannot go away
         * under a stale idle connection closed on the way (w's owner holds it). */
        struct pool_conn *pc = pool_checkout(l->pool, o);
        if (pc == NULL)
            pool_reserve(l->pool, o);
        limiter_charge(l, o, now_us);
        unlink_waiter(l, w);
        if (++l->in_flight > l->max_in_flight)
            l->max_in_flight = l->in_flight;
        granted++;
        w->cb(w, pc, w->data);
    }
    return wake;
}

void limiter_release(struct limiter *l)
{
    l->in_flight--;
}
