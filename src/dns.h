/*
 * dns.h -- asynchronous name resolution: one c-ares channel driven by the loop, a TTL
 * cache, one query in flight per name, a cap on queries in flight, and pinned
 * addresses (curl's --resolve).
 *
 * Callback contract (c-ares's, made stricter):
 *   - dns_resolve always calls back exactly once, from a deferred callback of the loop,
 *     never from inside dns_resolve, unless the waiter is cancelled first with
 *     dns_cancel, after which it is never called.
 *   - The dns_answer passed to the callback is valid only during the callback.
 *   - dns_free cancels nothing on behalf of waiters: cancel every waiter first.
 *
 * Ownership: c-ares owns its sockets (this module watches them and never closes them);
 * this module owns the channel, the cache and the lookups; waiters are embedded in
 * their owners (requests).
 */
#ifndef SALVO_DNS_H
#define SALVO_DNS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"
#include "salvo.h"
#include "sock.h"

#define DNS_MAX_ADDRS 8 /* addresses kept per name: enough to fail over, bounded */

struct dns;
struct dns_lookup;

struct dns_config {
    const char *servers;     /* "ADDR[:PORT][,...]" or NULL for the system's */
    const char *const *pins; /* "HOST:PORT:ADDR" (ADDR may be [v6]) */
    size_t pins_len;
    unsigned per_try_ms;     /* c-ares timeout per try (0: 2000) */
    unsigned tries;          /* c-ares tries (0: 2) */
    unsigned max_inflight;   /* queries in flight at once (0: 64) */
    unsigned ttl_floor_s;    /* cache TTL clamp (0: 5) */
    unsigned ttl_ceiling_s;  /* (0: 600) */
    unsigned negative_ttl_s; /* NXDOMAIN/NODATA kept this long (0: 5) */
};

struct dns_answer {
    salvo_err_t err;                      /* SALVO_E_OK, SALVO_E_DNS or SALVO_E_DNS_TIMEOUT */
    const char *msg;                      /* detail on failure (ares_strerror), else NULL */
    int from_cache;                       /* answered without a query (cache, pin, literal) */
    size_t n;                             /* addresses, in the order to try them */
    union sock_addr addrs[DNS_MAX_ADDRS]; /* port already set */
};

struct dns_waiter;
typedef void dns_done_fn(struct dns_waiter *w, const struct dns_answer *a, void *data);

struct dns_waiter {
    struct dns_waiter *next, *prev; /* links in the lookup's waiter list */
    struct dns_lookup *_lookup;     /* the lookup waited on, NULL when none */
    struct loop_defer _defer;       /* delivers cached answers */
    struct dns_answer *_answer;     /* answer held for delivery (malloc'd) */
    dns_done_fn *cb;
    void *data;
    uint16_t port; /* port to put into the addresses */
};

struct dns_stats {
    uint64_t queries;    /* lookups sent to c-ares */
    uint64_t cache_hits; /* answered from cache, pin or literal */
};

/* Creates the resolver. Returns 0, or -1 with a reason in err. */
int dns_new(struct dns **out, struct loop *l, const struct dns_config *cfg, char *err,
            size_t errlen);

/* Resolves host for port; see the callback contract above. Always succeeds (an
 * allocation failure is delivered as an answer with SALVO_E_RESOURCE). */
void dns_resolve(struct dns *d, const char *host, uint16_t port, struct dns_waiter *w,
                 dns_done_fn *cb, void *data);

/* Unsubscribes a waiter; its callback will not run. Safe if already delivered. */
void dns_cancel(struct dns *d, struct dns_waiter *w);

void dns_get_stats(const struct dns *d, struct dns_stats *st);

/* The --resolve pin for host (lower case) and port, if any: fills out and returns 1, or
 * returns 0. Synchronous: for the blocking baseline, which honours pins too. */
int dns_pinned(const struct dns *d, const char *host, uint16_t port, struct dns_answer *out);

/* Keeps only the addresses of one family in every answer from now on: AF_INET,
 * AF_INET6, or AF_UNSPEC (the default) for both. An answer left with none fails with
 * SALVO_E_DNS ("no IPv4 address"). Lookups still ask for both families: the cache is
 * shared, whatever the family. */
void dns_set_family(struct dns *d, int family);

/* Applies that filter to an answer made elsewhere (the blocking baseline's getaddrinfo). */
void dns_filter_family(const struct dns *d, struct dns_answer *a);

/* Destroys the channel (c-ares calls back with ARES_EDESTRUCTION: handled quietly) and
 * the cache. Every waiter must have been cancelled or delivered. */
void dns_free(struct dns *d);

#endif
