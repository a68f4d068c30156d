/*
 * dns_cache.c -- a chained hash table of host names with a FIFO list for eviction.
 * See dns_cache.h for the contract.
 */
#include "dns_cache.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIN_BUCKETS 64 /* first table size; it doubles while entries outnumber buckets */

struct dns_cache {
    struct dns_cache_entry **buckets; /* nbuckets chains */
    size_t nbuckets;                  /* a power of two */
    size_t len;                       /* entries held */
    size_t max;                       /* bound on len */
    struct dns_cache_entry *oldest;   /* FIFO head: first to be evicted */
    struct dns_cache_entry *newest;   /* FIFO tail */
};

/* FNV-1a over the lower-case name, so that lookups need no lower-case copy. */
static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) {
        h ^= (unsigned char)tolower((unsigned char)*s);
        h *= 16777619u;
    }
    return h;
}

static int name_equal(const char *lower, const char *s)
{
    for (; *lower && *s; lower++, s++) {
        if (*lower != tolower((unsigned char)*s))
            return 0;
    }
    return *lower == *s;
}

struct dns_cache *dns_cache_new(size_t max_entries)
{
    struct dns_cache *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->buckets = calloc(MIN_BUCKETS, sizeof(*c->buckets));
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->nbuckets = MIN_BUCKETS;
    c->max = max_entries ? max_entries : DNS_CACHE_DEFAULT_MAX;
    return c;
}

void dns_cache_free(struct dns_cache *c)
{
    struct dns_cache_entry *e, *next;

    if (!c)
        return;
    for (e = c->oldest; e; e = next) {
        next = e->newer;
        free(e);
    }
    free(c->buckets);
    free(c);
}

size_t dns_cache_len(const struct dns_cache *c)
{
    return c->len;
}

static void unlink_entry(struct dns_cache *c, struct dns_cache_entry *e)
{
    struct dns_cache_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    c->len--;
    free(e);
}

static struct dns_cache_entry *find(const struct dns_cache *c, const char *host, uint32_t h)
{
    struct dns_cache_entry *e = c->buckets[h & (c->nbuckets - 1)];

    for (; e; e = e->hnext) {
        if (e->hash == h && name_equal(e->name, host))
            return e;
    }
    return NULL;
}

/* Doubles the bucket array. A failed allocation is not an error: chains just get longer. */
static void grow(struct dns_cache *c)
{
    size_t n = c->nbuckets * 2, i;
    struct dns_cache_entry **b = calloc(n, sizeof(*b));
    struct dns_cache_entry *e;

    if (!b)
        return;
    for (i = 0; i < c->nbuckets; i++) {
        while ((e = c->buckets[i]) != NULL) {
            c->buckets[i] = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

const struct dns_cache_entry *dns_cache_get(struct dns_cache *c, const char *host, uint64_t now_ms)
{
    struct dns_cache_entry *e = find(c, host, hash_name(host));

    if (e && e->expires_ms <= now_ms) {
        unlink_entry(c, e);
        return NULL;
    }
    return e;
}

static struct dns_cache_entry *entry_new(const char *host, uint32_t h, int status,
                                         const struct dns_addr *addrs, size_t n,
                                         uint64_t expires_ms)
{
    size_t len = strlen(host), i;
    struct dns_cache_entry *e = malloc(sizeof(*e) + len + 1);

    if (!e)
        return NULL;
    memset(e, 0, sizeof(*e));
    for (i = 0; i < len; i++)
        e->name[i] = (char)tolower((unsigned char)host[i]);
    e->name[len] = '\0';
    e->hash = h;
    e->expires_ms = expires_ms;
    e->status = status;
    if (status == 0) {
        e->n = n < DNS_MAX_ADDRS ? n : DNS_MAX_ADDRS;
        memcpy(e->addrs, addrs, e->n * sizeof(*addrs));
    }
    return e;
}

int dns_cache_put(struct dns_cache *c, const char *host, int status, const struct dns_addr *addrs,
                  size_t n, uint64_t expires_ms)
{
    uint32_t h = hash_name(host);
    struct dns_cache_entry *e = find(c, host, h);
    size_t b;

    if (e)
        unlink_entry(c, e);
    while (c->len >= c->max && c->oldest)
        unlink_entry(c, c->oldest);
    e = entry_new(host, h, status, addrs, n, expires_ms);
    if (!e)
        return -ENOMEM;
    if (c->len >= c->nbuckets)
        grow(c);
    b = h & (c->nbuckets - 1);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    e->older = c->newest;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
    c->len++;
    return 0;
}
