/*
 * dns_cache.h -- the resolver's TTL cache: host name -> addresses (or a remembered
 * failure) until an expiry time.
 *
 * Keys are host names compared without regard to case (DNS names are case-insensitive);
 * the cache stores them in lower case. Values carry addresses without a port (the port
 * belongs to each request), an absolute expiry in the caller's monotonic milliseconds,
 * and, for a negative entry, the caller's status code (c-ares's ARES_ENOTFOUND or
 * ARES_ENODATA; the cache does not interpret it).
 *
 * Bounds: at most max_entries entries. A put into a full cache evicts the oldest
 * inserted entry; expired entries go when a get finds them or when they are the oldest.
 * Accepted limitation: FIFO, not LRU, so a hot name may be evicted and asked again; with
 * the default bound of 100,000 names this only matters for huge crawls.
 *
 * Ownership and re-entrancy: the cache owns its entries; an entry returned by
 * dns_cache_get is borrowed and valid until the next put, get or free. Pure data
 * structure: no I/O, no clock, no callbacks; not thread-safe.
 */
#ifndef SALVO_DNS_CACHE_H
#define SALVO_DNS_CACHE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"

#define DNS_CACHE_DEFAULT_MAX 100000 /* names kept: ~25 MB at most, far above one run */

/* One address without a port: what a DNS answer carries. */
struct dns_addr {
    int family; /* AF_INET or AF_INET6 */
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } u; /* the address, network byte order */
};

struct dns_cache_entry {
    struct dns_cache_entry *hnext;         /* chain in the hash bucket */
    struct dns_cache_entry *older, *newer; /* insertion-order (FIFO) list */
    uint64_t expires_ms;                   /* absolute; the entry is dead at this time */
    uint32_t hash;                         /* hash of the lower-case name */
    int status;                            /* 0 for addresses; else the failure to replay */
    size_t n;                              /* addresses in addrs (0 when status != 0) */
    struct dns_addr addrs[DNS_MAX_ADDRS];  /* in the order to try them */
    char name[];                           /* lower-case host name */
};

struct dns_cache;

/* Creates an empty cache holding at most max_entries (0: DNS_CACHE_DEFAULT_MAX).
 * Returns NULL when out of memory. */
struct dns_cache *dns_cache_new(size_t max_entries);
void dns_cache_free(struct dns_cache *c);

/* The live entry for host at time now_ms, or NULL. An expired entry found on the way is
 * removed. */
const struct dns_cache_entry *dns_cache_get(struct dns_cache *c, const char *host, uint64_t now_ms);

/* Stores (or replaces) the entry for host: n addresses (at most DNS_MAX_ADDRS are kept)
 * when status is 0, a failure when status is non-zero. Returns 0 or -ENOMEM. */
int dns_cache_put(struct dns_cache *c, const char *host, int status, const struct dns_addr *addrs,
                  size_t n, uint64_t expires_ms);

/* Entries held, live or not yet noticed to be expired. */
size_t dns_cache_len(const struct dns_cache *c);

#endif
