/*
 * limiter.c -- global slots, and who gets the next one.
 *
 * A waiting request sits in its origin's queue. An origin is "ready" when it has
 * waiting requests and room for one more connection (an idle one, or fewer open than it
 * is allowed). The scheduler hands free slots to ready origins in round-robin order, one
 * request each, so a thousand URLs of one busy site at the head of the input cannot keep
 * the other sites waiting: a request whose origin has no room holds no slot and blocks
 * nobody (the fairness of curl's per-host pending queue, without its rescans).
 *
 * A slot is held from the start of an attempt to its end; a request sleeping between
 * attempts holds none. A request coming back from a backoff or a redirect goes to the
 * front of its origin's queue: it was admitted once already.
 *
 * The scheduling pass (limiter_run_pass) runs from a deferred callback, never nested in
 * the code that freed a slot: a request that finishes inside its own I/O callback must
 * not start its successor on the same stack. The pass also pulls more input from the
 * feed while fewer than a window's worth wait, and stops the loop when nothing is left.
 */
#include "engine.h"

int limiter_enqueue(struct salvo *eng, struct req *r, int at_front)
{
    if (r->origin == NULL) {
        r->origin = pool_origin(eng->pool, r->url.tls, r->url.host, r->url.port);
        if (r->origin == NULL)
            return -1;
    }
    struct origin *o = r->origin;
    r->state = REQ_QUEUED;
    if (at_front)
        list_push_front(&o->waiting, &r->queue);
    else
        list_push_back(&o->waiting, &r->queue);
    o->n_waiting++;
    eng->n_queued++;
    pool_update_ready(eng->pool, o);
    limiter_schedule(eng);
    return 0;
}

void limiter_remove(struct salvo *eng, struct req *r)
{
    if (list_linked(&r->queue)) {
        list_remove(&r->queue);
        r->origin->n_waiting--;
        eng->n_queued--;
        pool_update_ready(eng->pool, r->origin);
        pool_origin_unref(eng->pool, r->origin);
        r->origin = NULL;
    }
}

void limiter_release(struct salvo *eng, struct req *r)
{
    if (r->has_slot) {
        r->has_slot = 0;
        eng->in_flight--;
        limiter_schedule(eng);
    }
}

void limiter_schedule(struct salvo *eng)
{
    loop_defer(eng->loop, &eng->sched);
}

/* Asks the feed for input until a window's worth waits or the input ends. Everything
 * submitted and not holding a slot counts: queued requests, requests in backoff, and
 * bad URLs waiting to be reported. */
static void pull_input(struct salvo *eng)
{
    while (!eng->feed_done && eng->cfg.feed != NULL && !eng->cancel_requested &&
           eng->feed_io == NULL) {
        size_t waiting = eng->n_live - eng->in_flight;
        if (waiting >= eng->window)
            break;
        uint64_t before = eng->stats.submitted;
        if (eng->cfg.feed(eng, eng->window - waiting, eng->cfg.feed_user) != 0)
            eng->feed_done = 1;
        else if (eng->stats.submitted == before && eng->feed_io == NULL)
            eng->feed_done = 1; /* salvo_feed_cb's contract: 0 means "submitted some" */
    }
}

static void grant_slots(struct salvo *eng)
{
    struct origin *o;
    while (eng->in_flight < eng->slots && (o = pool_next_ready(eng->pool)) != NULL) {
        struct req *r = list_entry(o->waiting.next, struct req, queue);
        /* Checked out while r still waits in o, which keeps o alive should a stale idle
         * connection be closed on the way. */
        struct pool_conn *pc = pool_checkout(eng->pool, o);
        list_remove(&r->queue);
        o->n_waiting--;
        eng->n_queued--;
        r->has_slot = 1;
        eng->in_flight++;
        if (eng->in_flight > eng->stats.max_in_flight)
            eng->stats.max_in_flight = eng->in_flight;
        if (r->t_slot == 0)
            r->t_slot = loop_now_us();
        if (pc == NULL)
            pool_reserve(eng->pool, o);
        else
            pool_update_ready(eng->pool, o); /* one waiter fewer */
        /* Round robin: the next slot goes to the next origin. */
        pool_rotate(eng->pool, o);
        req_start_attempt(r, pc);
    }
}

void limiter_run_pass(struct salvo *eng)
{
    if (eng->cancelled) {
        loop_stop(eng->loop); /* a cancelled engine takes no more work: run returns */
        return;
    }
    pull_input(eng);
    grant_slots(eng);
    /* A freshly started attempt may already have finished (a local failure) and queued
     * the next pass. Stop only when truly idle. */
    int input_left = eng->cfg.feed != NULL && !eng->feed_done;
    if (eng->n_live == 0 && !input_left)
        loop_stop(eng->loop);
}
