/*
 * limiter.c -- global slots and the queue of requests waiting for one.
 *
 * A slot is held from the start of an attempt to its end; a request sleeping between
 * attempts holds none. Waiting requests start in FIFO order, except that a request
 * coming back from a retry backoff goes to the front: it was admitted once already.
 *
 * The scheduling pass (limiter_schedule) runs from a deferred callback, never nested in
 * the code that freed a slot: a request that finishes inside its own I/O callback must
 * not start its successor on the same stack. The pass also pulls more input from the
 * feed while the queue is shorter than the window, and stops the loop when nothing is
 * left to do.
 */
#include "engine.h"

void limiter_enqueue(struct salvo *eng, struct req *r, int at_front)
{
    r->state = REQ_QUEUED;
    if (at_front)
        list_push_front(&eng->queue, &r->queue);
    else
        list_push_back(&eng->queue, &r->queue);
    eng->n_queued++;
    limiter_schedule(eng);
}

void limiter_remove(struct salvo *eng, struct req *r)
{
    if (list_linked(&r->queue)) {
        list_remove(&r->queue);
        eng->n_queued--;
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

/* Asks the feed for input until the queue holds a window's worth or the input ends. */
static void pull_input(struct salvo *eng)
{
    /* Everything submitted and not holding a slot counts against the window: queued
     * requests, requests in backoff, and bad URLs waiting to be reported. */
    while (!eng->feed_done && eng->cfg.feed != NULL && !eng->cancel_requested) {
        size_t waiting = eng->n_live - eng->in_flight;
        if (waiting >= eng->window)
            break;
        uint64_t before = eng->stats.submitted;
        size_t room = eng->window - waiting;
        if (eng->cfg.feed(eng, room, eng->cfg.feed_user) != 0)
            eng->feed_done = 1;
        else if (eng->stats.submitted == before)
            eng->feed_done = 1; /* salvo_feed_cb's contract: 0 means "submitted some" */
    }
}

static void grant_slots(struct salvo *eng)
{
    while (eng->in_flight < eng->slots && !list_empty(&eng->queue)) {
        struct req *r = list_entry(eng->queue.next, struct req, queue);
        list_remove(&r->queue);
        eng->n_queued--;
        r->has_slot = 1;
        eng->in_flight++;
        if (eng->in_flight > eng->stats.max_in_flight)
            eng->stats.max_in_flight = eng->in_flight;
        if (r->t_slot == 0)
            r->t_slot = loop_now_us();
        req_start_attempt(r);
    }
}

/* The deferred scheduling pass: see the comment at the top. */
void limiter_run_pass(struct salvo *eng)
{
    if (eng->cancelled)
        return;
    pull_input(eng);
    grant_slots(eng);
    /* A freshly started attempt may already have finished (a local failure) and pulled
     * more; the next pass is queued then. Stop only when truly idle. */
    int input_left = eng->cfg.feed != NULL && !eng->feed_done;
    if (eng->n_live == 0 && !input_left)
        loop_stop(eng->loop);
}
