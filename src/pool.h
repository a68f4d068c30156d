/*
 * pool.h -- origins and their connections: the keep-alive pool, the per-host and
 * per-IP caps, and adaptive politeness.
 *
 * An origin is scheme + host + port. It counts its open connections (busy, idle and
 * still connecting) and keeps its idle ones most recently used first. `allowed` is how many
 * requests it may have in progress: the
 * --per-host cap (none by default), halved when the origin looks overloaded and grown by
 * one per success, so a struggling site gets fewer parallel requests, not more.
 * Overloaded means that most of what it was recently asked was pushed back (429, 503 or
 * a reset), counting the requests still in progress as not pushed back yet; or that it
 * said Retry-After. One path that always fails among many that work is no overload: the
 * origin keeps its speed.
 *
 * Idle connections are watched by the pool: a TLS connection keeps being read through
 * TLS while idle (session tickets, close_notify), anything else that arrives (EOF,
 * unsolicited bytes, an error) closes it. Each has an idle timer (--idle-timeout), and
 * all of them together are capped (--max-idle, least recently used closed first).
 *
 * Ownership: the pool owns origins and pool_conns. A request borrows a pool_conn from
 * pool_checkout (an idle one) or pool_conn_new (a fresh one) and gives it back with
 * pool_checkin (keep it) or pool_close (drop it); between the two, the connection's
 * watcher belongs to the request. Origins live while anything refers to them: open
 * connections, or the references pool_origin hands out (a request holds one from the
 * moment it knows its origin until it is done with it); an unreferenced one is freed,
 * unless its next start is still paced (--per-host-rate): then it lingers until that
 * time, so that a site whose requests come one at a time, with no connection kept
 * between them, is still paced.
 */
#ifndef SALVO_POOL_H
#define SALVO_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "list.h"
#include "loop.h"

struct pool;

struct origin {
    struct origin *next_in_bucket; /* hash chain */
    char *key;                     /* "https://host:port", plus " via PROXY" */
    struct list idle;              /* idle pool_conns, most recently used first */
    size_t n_idle;
    size_t refs;             /* references from pool_origin, besides connections */
    size_t open;             /* connections open or being opened (busy + idle) */
    size_t allowed;          /* adaptive cap on busy connections: 1 .. per_host */
    uint32_t recent;         /* the last answers, one bit each, newest lowest: 1 = pushed back */
    unsigned n_recent;       /* answers held in recent, at most 32 */
    uint64_t next_start_us;  /* --per-host-rate: no attempt starts before (limiter.c) */
    struct list linger_link; /* in the pool's lingering list: kept only for its pace */
};

struct pool_conn {
    struct conn c; /* the connection itself */
    struct pool *pool;
    struct origin *origin;
    struct list idle_link;        /* in origin->idle while idle */
    struct list lru_link;         /* in pool->lru while idle, oldest first */
    struct loop_timer idle_timer; /* --idle-timeout */
    struct ip_count *ip;          /* its remote IP's counter (--per-ip), or NULL */
    uint64_t requests;            /* requests served, for `reused` */
};

struct pool_config {
    size_t per_host; /* 0: no cap */
    size_t per_ip;   /* 0: no cap */
    size_t max_idle; /* idle connections kept in all */
    uint64_t idle_timeout_ms;
    size_t fd_budget; /* connections open at once, at most */
};

struct pool_stats {
    size_t open;     /* connections open now */
    size_t max_open; /* the most at once */
    uint64_t opened; /* connections started */
};

int pool_new(struct pool **out, struct loop *l, const struct pool_config *cfg);
void pool_free(struct pool *p); /* closes every idle connection; no busy one may remain */

/* A reference to the origin of a parsed URL's scheme, host and port, reached through
 * the proxy `via` ("scheme://host:port", NULL: direct), created if needed (NULL on OOM).
 * Give it back with pool_origin_unref. */
struct origin *pool_origin(struct pool *p, int tls, const char *host, uint16_t port,
                           const char *via);
/* Gives a reference back; the origin is freed when none is left and no connection. */
void pool_origin_unref(struct pool *p, struct origin *o);

/* Room for one more request in o: fewer busy connections than it is allowed now, and
 * an idle connection to take or fewer open than --per-host. */
int pool_has_room(const struct pool *p, const struct origin *o);

/* Takes the most recently used idle connection of o that is still clean (NULL when
 * none); idle ones that spoke or closed meanwhile are closed on the way (o itself stays:
 * the caller holds a reference). The caller installs its own watcher callback with
 * conn_set_owner. */
struct pool_conn *pool_checkout(struct pool *p, struct origin *o);
/* Reserves room for a new connection of o (counted in o->open until pool_close or
 * pool_unreserve). */
void pool_reserve(struct pool *p, struct origin *o);
void pool_unreserve(struct pool *p, struct origin *o);

/* Per-IP cap (--per-ip). A request whose address is at the cap waits on the pool
 * (holding its slot: it has already resolved and chosen the address) and is called back
 * once, from a deferred callback, when a connection to that address closes. An idle
 * connection to the address is closed first when that makes room. */
struct pool_ip_waiter;
typedef void pool_ip_fn(struct pool_ip_waiter *w, void *data);
struct pool_ip_waiter {
    struct list link; /* in pool->ip_waiters */
    char ip[64];
    pool_ip_fn *cb;
    void *data;
};
/* 1 when ip may take one more connection, after closing an idle connection to it if
 * that is what makes room; 0 when it is at the cap. */
int pool_ip_make_room(struct pool *p, const char *ip);
void pool_ip_wait(struct pool *p, struct pool_ip_waiter *w, const char *ip, pool_ip_fn *cb,
                  void *data);
void pool_ip_cancel(struct pool *p, struct pool_ip_waiter *w);

/* Starts a connection for o (whose room was reserved) to sa; events go to cb(data).
 * Returns the connection or NULL with *err set to -errno. */
struct pool_conn *pool_conn_open(struct pool *p, struct origin *o, const struct sockaddr *sa,
                                 loop_io_fn *cb, void *data, int *err);
/* Gives a connection back for reuse after a complete keep-alive response; it is closed
 * instead when anything is still buffered in it (conn_clean) or no idle one is kept. */
void pool_checkin(struct pool *p, struct pool_conn *pc);
/* Closes a connection; its origin keeps its room reserved when keep_reserved is set
 * (the request will open another one: a stale keep-alive replay). */
void pool_close(struct pool *p, struct pool_conn *pc, int keep_reserved);

/* Adaptive politeness: the origin pushed back (429, 503, a reset; retry_after: it said
 * when to come back), or answered well. */
void pool_origin_pushback(struct pool *p, struct origin *o, int retry_after);
void pool_origin_success(struct pool *p, struct origin *o);

void pool_get_stats(const struct pool *p, struct pool_stats *st);

#endif
