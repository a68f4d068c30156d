/*
 * race.c -- Happy Eyeballs over the pool's connections. See race.h.
 */
#include "race.h"

#include <stdio.h>
#include <string.h>

#include "sock.h"

static void start_next(struct race *race);

/* Local shortages say nothing about the site: another address would hit them too. */
static int local_shortage(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
           err == EADDRNOTAVAIL;
}

/* The order to try: the first family first (the resolver's preference), then the
 * families alternate (RFC 8305 section 4). */
static void interleave(struct race *race, const union sock_addr *addrs, size_t n)
{
    size_t i, first = 0, other = 0, k = 0;
    int fam = addrs[0].sa.sa_family;
    union sock_addr same[DNS_MAX_ADDRS], diff[DNS_MAX_ADDRS];

    for (i = 0; i < n && i < DNS_MAX_ADDRS; i++) {
        if (addrs[i].sa.sa_family == fam)
            same[first++] = addrs[i];
        else
            diff[other++] = addrs[i];
    }
    for (i = 0; i < first || i < other; i++) {
        if (i < first)
            race->addrs[k++] = same[i];
        if (i < other)
            race->addrs[k++] = diff[i];
    }
    race->naddrs = k;
    race->next = 0;
}

static void drop_leg(struct race *race, size_t i)
{
    pool_close(race->pool, race->legs[i], 1); /* the room stays with the caller */
    race->legs[i] = race->legs[--race->nlegs];
}

static void finish(struct race *race, enum race_outcome outcome)
{
    loop_timer_stop(race->loop, &race->stagger);
    race->cb(race, outcome, race->data);
}

/* A leg's connect finished, one way or the other. */
static void on_leg_io(struct loop_io *w, unsigned events, void *data)
{
    (void)events;
    struct race *race = data;
    size_t i;
    for (i = 0; i < race->nlegs && race->legs[i]->c.io != w; i++)
        ;
    if (i == race->nlegs)
        return; /* a stale event of a leg closed in this batch */
    struct pool_conn *pc = race->legs[i];
    int rc = conn_connect_done(&pc->c);
    if (rc < 0) {
        race->last_err = -rc;
        snprintf(race->last_ip, sizeof race->last_ip, "%s", pc->c.remote_ip);
        drop_leg(race, i);
        start_next(race); /* a failure starts the next address at once */
        return;
    }
    race->winner = pc;
    race->legs[i] = race->legs[--race->nlegs];
    while (race->nlegs > 0)
        drop_leg(race, race->nlegs - 1);
    finish(race, RACE_CONNECTED);
}

static void on_stagger(struct loop_timer *t, void *data)
{
    (void)t;
    start_next(data);
}

/* Starts the next address (if any may start now); reports when nothing is left. */
static void start_next(struct race *race)
{
    while (race->next < race->naddrs) {
        const struct sockaddr *sa = &race->addrs[race->next].sa;
        char ip[64];
        sock_addr_str(sa, ip, sizeof ip);
        if (!pool_ip_make_room(race->pool, ip)) {
            if (race->nlegs > 0) {
                /* Others are in flight: look again after the stagger delay. */
                loop_timer_start(race->loop, &race->stagger, RACE_STAGGER_MS);
                return;
            }
            snprintf(race->blocked_ip, sizeof race->blocked_ip, "%s", ip);
            finish(race, RACE_WAIT_IP);
            return;
        }
        race->next++;
        snprintf(race->last_ip, sizeof race->last_ip, "%s", ip);
        int err;
        struct pool_conn *pc = pool_conn_open(race->pool, race->origin, sa, on_leg_io, race, &err);
        if (pc != NULL) {
            loop_io_set_label(pc->c.io, race->label, race->label_id);
            race->legs[race->nlegs++] = pc;
            if (race->next < race->naddrs)
                loop_timer_start(race->loop, &race->stagger, RACE_STAGGER_MS);
            return;
        }
        race->last_err = -err;
        if (local_shortage(-err))
            break;
    }
    if (race->nlegs == 0)
        finish(race, RACE_FAILED);
}

void race_init(struct race *race, struct pool *pool, struct loop *loop, race_fn *cb, void *data,
               const char *what, uint64_t id)
{
    /* Field by field: the address array is written by race_start before use, and
     * a race is made for every request. */
    race->naddrs = race->next = race->nlegs = 0;
    race->winner = NULL;
    race->last_err = 0;
    race->last_ip[0] = race->blocked_ip[0] = '\0';
    race->origin = NULL;
    race->pool = pool;
    race->loop = loop;
    race->cb = cb;
    race->data = data;
    race->label = what;
    race->label_id = id;
    loop_timer_init(&race->stagger, on_stagger, race);
    loop_timer_set_label(&race->stagger, what, id);
}

void race_start(struct race *race, struct origin *o, const union sock_addr *addrs, size_t n)
{
    race->origin = o;
    race->winner = NULL;
    race->nlegs = 0;
    race->last_err = 0;
    race->last_ip[0] = race->blocked_ip[0] = '\0';
    interleave(race, addrs, n);
    start_next(race);
}

void race_resume(struct race *race)
{
    start_next(race);
}

void race_stop(struct race *race)
{
    loop_timer_stop(race->loop, &race->stagger);
    while (race->nlegs > 0)
        drop_leg(race, race->nlegs - 1);
}
