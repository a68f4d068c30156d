/*
 * race.h -- connecting as a race (Happy Eyeballs, RFC 8305): the addresses of a name,
 * families interleaved, each started RACE_STAGGER_MS after the one before it unless that
 * one has failed already; the first to connect wins and the others are closed. So an
 * address that drops SYNs costs 250 ms, not the whole connect deadline, and a retry does
 * not hit the same dead address first again and again.
 *
 * The race owns its legs (pool connections of one origin, all under the one room
 * reservation of the request that runs the race) until it reports; the winner then
 * belongs to the caller, which installs its own watcher callback. The caller bounds the
 * race with its connect deadline and calls race_stop when it passes.
 *
 * Outcomes reach the caller through the callback it passed to race_init: from the loop
 * (a leg's connect finished, the stagger timer fired), or from inside race_start and
 * race_resume when no address can even be tried (the caller must expect that).
 */
#ifndef SALVO_RACE_H
#define SALVO_RACE_H

#include <sys/socket.h>

#include "dns.h"
#include "loop.h"
#include "pool.h"

#define RACE_STAGGER_MS 250 /* RFC 8305's recommended Connection Attempt Delay */

enum race_outcome {
    RACE_CONNECTED, /* race.winner is connected */
    RACE_FAILED,    /* every address failed: race.last_err, race.last_ip say how */
    RACE_WAIT_IP    /* the next address has no room under --per-ip and nothing else is
                       in flight: race.blocked_ip; call race_resume once it has room */
};

struct race;
typedef void race_fn(struct race *race, enum race_outcome outcome, void *data);

struct race {
    struct pool *pool;
    struct loop *loop;
    struct origin *origin;                 /* whose room the legs use */
    union sock_addr addrs[DNS_MAX_ADDRS];  /* in the order to try */
    size_t naddrs, next;                   /* addresses; the next to start */
    struct pool_conn *legs[DNS_MAX_ADDRS]; /* connects in flight */
    size_t nlegs;
    struct loop_timer stagger; /* starts the next address */
    struct pool_conn *winner;  /* RACE_CONNECTED: the connection */
    int last_err;              /* RACE_FAILED: errno of the last failure */
    char last_ip[64];          /* the address tried last */
    char blocked_ip[64];       /* RACE_WAIT_IP: the address without room */
    race_fn *cb;
    void *data;
    const char *label; /* for the loop-lag report */
    uint64_t label_id;
};

/* A race reporting to cb(data); its timer and connections are labelled `what` `id` for
 * the loop-lag report (the request that runs it). */
void race_init(struct race *race, struct pool *pool, struct loop *loop, race_fn *cb, void *data,
               const char *what, uint64_t id);

/* Starts connecting o to addrs[0..n) (n >= 1), families interleaved. */
void race_start(struct race *race, struct origin *o, const union sock_addr *addrs, size_t n);

/* Goes on after RACE_WAIT_IP. */
void race_resume(struct race *race);

/* Closes every leg still in flight and stops the timer; the origin's room stays with the
 * caller. Safe to call at any time, also when no race runs. */
void race_stop(struct race *race);

#endif
