/*
 * dns.c -- one c-ares 1.18 channel inside the loop, with a TTL cache, one lookup in
 * flight per name, a cap on lookups in flight, pins (curl's --resolve) and IP literals.
 * See dns.h for the contract.
 *
 * The channel is driven from salvo's own loop: c-ares tells us which
 * sockets to watch through its socket-state callback, readiness calls ares_process_fd,
 * and one loop timer, re-armed from ares_timeout after every call into c-ares, drives
 * retries and timeouts. Every answer reaches its waiter through the waiter's loop_defer,
 * so no callback ever runs inside dns_resolve, even when c-ares answers at once.
 */
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_cache.h"

#define DEFAULT_PER_TRY_MS 2000
#define DEFAULT_TRIES      2
/* Each lookup is two datagrams (A and AAAA). A burst of a few hundred overflows a
 * resolver's own socket buffer (dnsmasq's, measured: 512 at once lost about one in ten),
 * and a lost datagram costs a whole retry interval. */
#define DEFAULT_MAX_INFLIGHT   64
#define DEFAULT_TTL_FLOOR_S    5
#define DEFAULT_TTL_CEILING_S  600
#define DEFAULT_NEGATIVE_TTL_S 5
#define RCVBUF_BYTES           (4 << 20) /* a burst of 2,000 UDP answers overflows the default */
#define HOST_MAX               255       /* longest name we ask for; DNS names are at most 253 */
#define MIN_BUCKETS            64        /* first size of the lookup table; doubles as it fills */

/* A --resolve pin: host on port answers addrs, without a query. */
struct pin {
    char *host;                           /* lower case, without brackets */
    uint16_t port;                        /* the pin applies to this port only */
    size_t n;                             /* addresses in addrs */
    struct dns_addr addrs[DNS_MAX_ADDRS]; /* in the order given */
};

/* One name being resolved, shared by every waiter for that name. */
struct dns_lookup {
    struct dns *d;              /* owner */
    struct dns_lookup *hnext;   /* chain in d->lookups */
    struct dns_lookup *qnext;   /* FIFO of lookups waiting for a slot */
    struct dns_waiter *waiters; /* subscribed waiters; may become empty */
    uint32_t hash;              /* of host */
    char host[];                /* lower case */
};

struct dns {
    struct loop *loop;           /* borrowed; outlives us */
    ares_channel channel;        /* NULL until initialised */
    int lib_init;                /* ares_library_init succeeded: pair with cleanup */
    struct loop_timer timer;     /* drives c-ares retries and timeouts */
    struct loop_defer pump;      /* starts queued lookups, outside c-ares callbacks */
    struct loop_io **ios;        /* watchers of c-ares sockets (a handful) */
    size_t nios, capios;         /* used and allocated entries of ios */
    struct dns_cache *cache;     /* answers and remembered failures */
    struct dns_lookup **lookups; /* lookups started or queued, by host */
    size_t nbuckets, nlookups;   /* size of lookups (a power of two), entries in it */
    struct dns_lookup *qhead;    /* lookups waiting for a slot, oldest first */
    struct dns_lookup *qtail;    /* newest waiting lookup */
    unsigned inflight;           /* lookups handed to c-ares and not yet answered */
    unsigned max_inflight;       /* cap on inflight */
    uint64_t ttl_floor_ms;       /* cache TTL clamp */
    uint64_t ttl_ceiling_ms;     /* cache TTL clamp */
    uint64_t negative_ttl_ms;    /* how long NXDOMAIN/NODATA are remembered */
    struct pin *pins;            /* from cfg->pins */
    size_t npins;                /* entries in pins */
    size_t *pin_slots;           /* open addressing over (host, port): index + 1, 0 free */
    size_t npin_slots;           /* a power of two, at least twice npins */
    struct dns_stats stats;      /* counters for dns_get_stats */
    int family;                  /* the only family answered (-4, -6), or AF_UNSPEC */
};

/* Delivered when an answer cannot be allocated; shared, never freed, never written. */
static struct dns_answer oom_answer = {.err = SALVO_E_RESOURCE, .msg = "out of memory"};

/* ---- answers to waiters ------------------------------------------------------------ */

static struct dns_answer *answer_new(salvo_err_t err, const char *msg, int from_cache)
{
    struct dns_answer *a = malloc(sizeof(*a));

    if (!a)
        return &oom_answer;
    a->err = err;
    a->msg = msg;
    a->from_cache = from_cache;
    a->n = 0;
    return a;
}

static void answer_free(struct dns_answer *a)
{
    if (a != &oom_answer)
        free(a);
}

/* Maps a c-ares status to an answer without addresses yet: NOTFOUND and NODATA are
 * `dns`, TIMEOUT is `dns_timeout`. */
static struct dns_answer *answer_status(int status, int from_cache)
{
    salvo_err_t err = SALVO_E_DNS;

    if (status == ARES_SUCCESS)
        return answer_new(SALVO_E_OK, NULL, from_cache);
    if (status == ARES_ETIMEOUT)
        err = SALVO_E_DNS_TIMEOUT;
    else if (status == ARES_ENOMEM)
        err = SALVO_E_RESOURCE;
    return answer_new(err, ares_strerror(status), from_cache);
}

static void answer_add(struct dns_answer *a, const struct dns_addr *addrs, size_t n, uint16_t port)
{
    size_t i;

    if (a == &oom_answer)
        return;
    for (i = 0; i < n && a->n < DNS_MAX_ADDRS; i++) {
        union sock_addr *sa = &a->addrs[a->n++];

        memset(sa, 0, sizeof(*sa));
        if (addrs[i].family == AF_INET6) {
            struct sockaddr_in6 *s6 = &sa->in6;

            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons(port);
            s6->sin6_addr = addrs[i].u.v6;
        } else {
            struct sockaddr_in *s4 = &sa->in;

            s4->sin_family = AF_INET;
            s4->sin_port = htons(port);
            s4->sin_addr = addrs[i].u.v4;
        }
    }
}

static void deliver(struct loop_defer *df, void *data)
{
    struct dns_waiter *w = data;
    struct dns_answer *a = w->_answer;
    dns_done_fn *cb = w->cb;

    (void)df;
    w->_answer = NULL;
    /* The callback may free the memory that holds w: nothing of w is used after it. */
    cb(w, a, w->data);
    answer_free(a);
}

void dns_filter_family(const struct dns *d, struct dns_answer *a)
{
    size_t kept = 0;

    if (d->family == AF_UNSPEC || a->err != SALVO_E_OK)
        return;
    for (size_t i = 0; i < a->n; i++)
        if (a->addrs[i].sa.sa_family == d->family)
            a->addrs[kept++] = a->addrs[i];
    a->n = kept;
    if (kept == 0) {
        a->err = SALVO_E_DNS;
        a->msg = d->family == AF_INET ? "no IPv4 address" : "no IPv6 address";
    }
}

/* Hands a to w through the loop: never synchronously. Every answer passes here, from
 * a query, the cache, a pin or an IP literal: the one place to keep a family. */
static void post(struct dns *d, struct dns_waiter *w, struct dns_answer *a)
{
    dns_filter_family(d, a);
    w->_answer = a;
    loop_defer(d->loop, &w->_defer);
}

/* ---- the lookup table and the queue ------------------------------------------------ */

static uint32_t hash_lower(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static struct dns_lookup *lookup_find(const struct dns *d, const char *host, uint32_t h)
{
    struct dns_lookup *L = d->lookups[h & (d->nbuckets - 1)];

    while (L && (L->hash != h || strcmp(L->host, host) != 0))
        L = L->hnext;
    return L;
}

/* Doubles the table; when that fails the chains just grow longer. */
static void lookups_grow(struct dns *d)
{
    size_t n = d->nbuckets * 2, i;
    struct dns_lookup **b = calloc(n, sizeof(*b));
    struct dns_lookup *L;

    if (!b)
        return;
    for (i = 0; i < d->nbuckets; i++) {
        while ((L = d->lookups[i]) != NULL) {
            d->lookups[i] = L->hnext;
            L->hnext = b[L->hash & (n - 1)];
            b[L->hash & (n - 1)] = L;
        }
    }
    free(d->lookups);
    d->lookups = b;
    d->nbuckets = n;
}

static struct dns_lookup *lookup_new(struct dns *d, const char *host, uint32_t h)
{
    size_t len = strlen(host);
    struct dns_lookup *L = calloc(1, sizeof(*L) + len + 1);

    if (!L)
        return NULL;
    L->d = d;
    L->hash = h;
    memcpy(L->host, host, len + 1);
    if (d->nlookups >= d->nbuckets)
        lookups_grow(d);
    L->hnext = d->lookups[h & (d->nbuckets - 1)];
    d->lookups[h & (d->nbuckets - 1)] = L;
    d->nlookups++;
    return L;
}

static void lookup_free(struct dns *d, struct dns_lookup *L)
{
    struct dns_lookup **pp = &d->lookups[L->hash & (d->nbuckets - 1)];

    while (*pp != L)
        pp = &(*pp)->hnext;
    *pp = L->hnext;
    d->nlookups--;
    free(L);
}

static void waiter_link(struct dns_lookup *L, struct dns_waiter *w)
{
    w->_lookup = L;
    w->prev = NULL;
    w->next = L->waiters;
    if (L->waiters)
        L->waiters->prev = w;
    L->waiters = w;
}

static void waiter_unlink(struct dns_waiter *w)
{
    struct dns_lookup *L = w->_lookup;

    if (w->prev)
        w->prev->next = w->next;
    else
        L->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->_lookup = NULL;
}

/* ---- c-ares inside the loop -------------------------------------------------------- */

/* Re-arms the c-ares timer; call after every call into c-ares: without a timer
 * a silent resolver would never time out, since no fd ever becomes ready. */
static void rearm(struct dns *d)
{
    struct timeval buf, *tv = ares_timeout(d->channel, NULL, &buf);
    uint64_t ms;

    /* NULL means no query is pending (pitfall 2). */
    if (!tv) {
        loop_timer_stop(d->loop, &d->timer);
        return;
    }
    /* Rounded up: rounding down would fire just early, find nothing due, and spin. */
    ms = (uint64_t)tv->tv_sec * 1000u + ((uint64_t)tv->tv_usec + 999u) / 1000u;
    loop_timer_start(d->loop, &d->timer, ms);
}

static void on_timer(struct loop_timer *t, void *data)
{
    struct dns *d = data;

    (void)t;
    ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm(d);
}

static void on_io(struct loop_io *w, unsigned events, void *data)
{
    struct dns *d = data;
    int fd = loop_io_fd(w);
    /* Errors count as readable, as c-ares's own epoll backend does: the read reports
     * the failure to c-ares, which then retries elsewhere (pitfall 5). */
    ares_socket_t rfd = events & (LOOP_READ | LOOP_ERROR) ? fd : ARES_SOCKET_BAD;
    ares_socket_t wfd = events & LOOP_WRITE ? fd : ARES_SOCKET_BAD;

    ares_process_fd(d->channel, rfd, wfd);
    rearm(d);
}

static size_t io_find(const struct dns *d, int fd)
{
    size_t i;

    for (i = 0; i < d->nios; i++) {
        if (loop_io_fd(d->ios[i]) == fd)
            break;
    }
    return i;
}

static struct loop_io *io_add(struct dns *d, int fd)
{
    struct loop_io *w;

    if (d->nios == d->capios) {
        size_t cap = d->capios ? d->capios * 2 : 4;
        struct loop_io **ios = realloc(d->ios, cap * sizeof(*ios));

        if (!ios)
            return NULL;
        d->ios = ios;
        d->capios = cap;
    }
    w = loop_io_new(d->loop, fd, on_io, d);
    if (w != NULL)
        loop_io_set_label(w, "dns", LOOP_NO_ID);
    if (w)
        d->ios[d->nios++] = w;
    return w;
}

/* Runs inside c-ares calls. A socket we fail to watch is not fatal: its queries time
 * out through the timer, and the waiters get SALVO_E_DNS_TIMEOUT. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns *d = data;
    size_t i = io_find(d, fd);

    if (!readable && !writable) {
        /* c-ares closes fd right after this: forget it now, since the next socket may
         * get the same number within this very call. Never close it ourselves. */
        if (i < d->nios) {
            loop_io_close(d->ios[i]);
            d->ios[i] = d->ios[--d->nios];
        }
        return;
    }
    if (i == d->nios && !io_add(d, fd))
        return;
    (void)loop_io_set(d->ios[i], (readable ? LOOP_READ : 0u) | (writable ? LOOP_WRITE : 0u));
}

/* ---- finishing a lookup ------------------------------------------------------------ */

/* Copies the answer's addresses, interleaving families and starting with IPv6 (RFC 8305
 * section 4): the connect code walks them in order with a short stagger, so a host whose
 * IPv6 is broken costs one stagger, not a connect timeout, and one whose IPv4 is broken
 * is reached on the second try. Returns the count; *ttl_s gets the smallest TTL of the
 * answer's records, CNAMEs included (the chain is only as fresh as its weakest link). */
static size_t collect(const struct ares_addrinfo *res, struct dns_addr *out, int *ttl_s)
{
    struct dns_addr v6[DNS_MAX_ADDRS], v4[DNS_MAX_ADDRS];
    size_t n6 = 0, n4 = 0, i6 = 0, i4 = 0, n = 0;
    const struct ares_addrinfo_node *node;
    const struct ares_addrinfo_cname *cn;
    int ttl = INT32_MAX;

    for (node = res->nodes; node; node = node->ai_next) {
        if (node->ai_ttl < ttl)
            ttl = node->ai_ttl;
        if (node->ai_family == AF_INET6 && n6 < DNS_MAX_ADDRS) {
            v6[n6].family = AF_INET6;
            v6[n6++].u.v6 = ((const struct sockaddr_in6 *)node->ai_addr)->sin6_addr;
        } else if (node->ai_family == AF_INET && n4 < DNS_MAX_ADDRS) {
            v4[n4].family = AF_INET;
            v4[n4++].u.v4 = ((const struct sockaddr_in *)node->ai_addr)->sin_addr;
        }
    }
    for (cn = res->cnames; cn; cn = cn->next) {
        if (cn->ttl < ttl)
            ttl = cn->ttl;
    }
    while (n < DNS_MAX_ADDRS && (i6 < n6 || i4 < n4)) {
        if (i6 < n6)
            out[n++] = v6[i6++];
        if (i4 < n4 && n < DNS_MAX_ADDRS)
            out[n++] = v4[i4++];
    }
    *ttl_s = ttl;
    return n;
}

/* Remembers an answer: addresses for their TTL clamped to [floor, ceiling], NXDOMAIN and
 * NODATA for the negative TTL. Timeouts and other failures are never cached: a retry
 * must ask again. A failed put only costs a later query. */
static void remember(struct dns *d, const char *host, int status, const struct dns_addr *addrs,
                     size_t n, int ttl_s)
{
    uint64_t now = loop_now(d->loop), ttl_ms;

    if (status == ARES_SUCCESS) {
        ttl_ms = ttl_s > 0 ? (uint64_t)ttl_s * 1000u : 0;
        if (ttl_ms < d->ttl_floor_ms)
            ttl_ms = d->ttl_floor_ms;
        if (ttl_ms > d->ttl_ceiling_ms)
            ttl_ms = d->ttl_ceiling_ms;
    } else if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
        ttl_ms = d->negative_ttl_ms;
    } else {
        return;
    }
    if (ttl_ms > 0)
        (void)dns_cache_put(d->cache, host, status, addrs, n, now + ttl_ms);
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct dns_lookup *L = arg;
    struct dns *d = L->d;
    struct dns_addr addrs[DNS_MAX_ADDRS];
    struct dns_waiter *w;
    size_t n = 0;
    int ttl_s = 0;

    (void)timeouts;
    d->inflight--;
    /* Shutdown (dns_free): every waiter is gone by contract, so touch none. */
    if (status != ARES_EDESTRUCTION) {
        if (status == ARES_SUCCESS && res)
            n = collect(res, addrs, &ttl_s);
        if (status == ARES_SUCCESS && n == 0)
            status = ARES_ENODATA;
        remember(d, L->host, status, addrs, n, ttl_s);
        while ((w = L->waiters) != NULL) {
            struct dns_answer *a = answer_status(status, 0);

            waiter_unlink(w);
            if (status == ARES_SUCCESS)
                answer_add(a, addrs, n, w->port);
            post(d, w, a);
        }
        /* Start queued lookups from the loop, not from inside this c-ares callback. */
        if (d->qhead)
            loop_defer(d->loop, &d->pump);
    }
    if (res)
        ares_freeaddrinfo(res);
    lookup_free(d, L);
}

static void lookup_start(struct dns *d, struct dns_lookup *L)
{
    struct ares_addrinfo_hints hints;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    /* No RFC 6724 sort: it opens and connects a UDP socket per address (pitfall 9), and
     * collect() orders the families itself for Happy Eyeballs. */
    hints.ai_flags = ARES_AI_NOSORT;
    d->inflight++;
    d->stats.queries++;
    /* No service: the port is each waiter's, set when the answer is copied. */
    ares_getaddrinfo(d->channel, L->host, NULL, &hints, on_addrinfo, L);
    /* L may be freed already: c-ares answers some names (numeric, /etc/hosts, bad
     * names) before returning (pitfall 7). */
    rearm(d);
}

static void pump(struct loop_defer *df, void *data)
{
    struct dns *d = data;
    struct dns_lookup *L;

    (void)df;
    while (d->qhead && d->inflight < d->max_inflight) {
        L = d->qhead;
        d->qhead = L->qnext;
        if (!d->qhead)
            d->qtail = NULL;
        L->qnext = NULL;
        lookup_start(d, L);
    }
}

/* Starts L now when a slot is free and nobody queues before it, else queues it (FIFO). */
static void lookup_submit(struct dns *d, struct dns_lookup *L)
{
    if (!d->qhead && d->inflight < d->max_inflight) {
        lookup_start(d, L);
        return;
    }
    if (d->qtail)
        d->qtail->qnext = L;
    else
        d->qhead = L;
    d->qtail = L;
}

/* ---- answers without a query ------------------------------------------------------- */

/* Parses an address of a pin: "1.2.3.4", "[::1]" or "::1". Returns 0 or -1. */
static int parse_addr(const char *s, size_t len, struct dns_addr *a)
{
    char tmp[INET6_ADDRSTRLEN + 2];

    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, tmp, &a->u.v4) == 1) {
        a->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, &a->u.v6) == 1) {
        a->family = AF_INET6;
        return 0;
    }
    return -1;
}

/* Copies host in lower case into out (HOST_MAX + 1 bytes). Returns 0, or -1 when the
 * name is empty or too long to be a DNS name. */
static int lower_copy(char *out, const char *host, size_t len)
{
    size_t i;

    if (len == 0 || len > HOST_MAX)
        return -1;
    for (i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)host[i]);
    out[len] = '\0';
    return 0;
}

/* Parses "HOST:PORT:ADDR[,ADDR...]" (curl's --resolve; HOST and ADDR may be bracketed
 * IPv6). Returns 0 or -1. */
static int parse_pin(struct pin *p, const char *s)
{
    char host[HOST_MAX + 1], *end;
    const char *h = s, *c, *a;
    size_t hlen;
    unsigned long port;

    if (*h == '[') {
        c = strchr(h, ']');
        if (!c || c[1] != ':')
            return -1;
        h++;
        hlen = (size_t)(c - h);
        c++;
    } else {
        c = strchr(h, ':');
        if (!c)
            return -1;
        hlen = (size_t)(c - h);
    }
    if (lower_copy(host, h, hlen) < 0 || !isdigit((unsigned char)c[1]))
        return -1;
    errno = 0;
    port = strtoul(c + 1, &end, 10);
    if (errno || *end != ':' || port == 0 || port > 65535)
        return -1;
    for (a = end + 1, p->n = 0;; a = c + 1) {
        c = strchr(a, ',');
        if (!c)
            c = a + strlen(a);
        if (p->n == DNS_MAX_ADDRS || parse_addr(a, (size_t)(c - a), &p->addrs[p->n]) < 0)
            return -1;
        p->n++;
        if (*c == '\0')
            break;
    }
    p->port = (uint16_t)port;
    p->host = strdup(host);
    return p->host ? 0 : -1;
}

static size_t pin_hash(const char *host, uint16_t port)
{
    return (size_t)(hash_lower(host) ^ (uint32_t)port * 2654435761u);
}

/* The slot of (host, port) in pin_slots: the one holding it, or the free one where it
 * would go. Every request asks, and a pinned fleet (a farm, a staging copy of a site)
 * has hundreds of pins: a hash, not a scan. */
static size_t *pin_slot(const struct dns *d, const char *host, uint16_t port)
{
    size_t mask = d->npin_slots - 1, k = pin_hash(host, port) & mask;
    for (;; k = (k + 1) & mask) {
        size_t *slot = &d->pin_slots[k];
        const struct pin *p = *slot ? &d->pins[*slot - 1] : NULL;
        if (p == NULL || (p->port == port && strcmp(p->host, host) == 0))
            return slot; /* the table is at most half full: a free slot always comes */
    }
}

/* Indexes the pins; when two name the same host and port, the first one given counts. */
static int index_pins(struct dns *d)
{
    size_t n = 2;
    while (n < 2 * d->npins)
        n *= 2;
    d->pin_slots = calloc(n, sizeof *d->pin_slots);
    if (d->pin_slots == NULL)
        return -1;
    d->npin_slots = n;
    for (size_t i = 0; i < d->npins; i++) {
        size_t *slot = pin_slot(d, d->pins[i].host, d->pins[i].port);
        if (*slot == 0)
            *slot = i + 1;
    }
    return 0;
}

static int parse_pins(struct dns *d, const struct dns_config *cfg, char *err, size_t errlen)
{
    size_t i;

    if (cfg->pins_len == 0)
        return 0;
    d->pins = calloc(cfg->pins_len, sizeof(*d->pins));
    if (!d->pins) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < cfg->pins_len; i++, d->npins++) {
        if (parse_pin(&d->pins[i], cfg->pins[i]) < 0) {
            snprintf(err, errlen, "bad --resolve \"%s\": expected HOST:PORT:ADDR[,ADDR...]",
                     cfg->pins[i]);
            return -1;
        }
    }
    if (index_pins(d) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static const struct pin *pin_find(const struct dns *d, const char *host, uint16_t port)
{
    if (d->npins == 0)
        return NULL;
    size_t *slot = pin_slot(d, host, port);
    return *slot ? &d->pins[*slot - 1] : NULL;
}

int dns_pinned(const struct dns *d, const char *host, uint16_t port, struct dns_answer *out)
{
    const struct pin *p = pin_find(d, host, port);

    if (!p)
        return 0;
    out->err = SALVO_E_OK;
    out->msg = NULL;
    out->from_cache = 1;
    out->n = 0;
    answer_add(out, p->addrs, p->n, port);
    dns_filter_family(d, out);
    return 1;
}

/* Answers from a pin, an IP literal or the cache. Returns 1 when w got an answer. */
static int answer_local(struct dns *d, struct dns_waiter *w, const char *host)
{
    const struct pin *p = pin_find(d, host, w->port);
    const struct dns_cache_entry *e;
    struct dns_answer *a;
    struct dns_addr lit;

    if (p) {
        a = answer_new(SALVO_E_OK, NULL, 1);
        answer_add(a, p->addrs, p->n, w->port);
    } else if (parse_addr(host, strlen(host), &lit) == 0) {
        a = answer_new(SALVO_E_OK, NULL, 1);
        answer_add(a, &lit, 1, w->port);
    } else if ((e = dns_cache_get(d->cache, host, loop_now(d->loop))) != NULL) {
        a = answer_status(e->status, 1);
        answer_add(a, e->addrs, e->n, w->port);
    } else {
        return 0;
    }
    d->stats.cache_hits++;
    post(d, w, a);
    return 1;
}

/* ---- the API ----------------------------------------------------------------------- */

void dns_resolve(struct dns *d, const char *host, uint16_t port, struct dns_waiter *w,
                 dns_done_fn *cb, void *data)
{
    char name[HOST_MAX + 1];
    struct dns_lookup *L;
    uint32_t h;

    w->next = w->prev = NULL;
    w->_lookup = NULL;
    w->_answer = NULL;
    w->cb = cb;
    w->data = data;
    w->port = port;
    loop_defer_init(&w->_defer, deliver, w);
    loop_defer_set_label(&w->_defer, "dns", LOOP_NO_ID);
    if (lower_copy(name, host, strlen(host)) < 0) {
        post(d, w, answer_status(ARES_EBADNAME, 0));
        return;
    }
    if (answer_local(d, w, name))
        return;
    h = hash_lower(name);
    L = lookup_find(d, name, h);
    if (L) {
        waiter_link(L, w);
        return;
    }
    L = lookup_new(d, name, h);
    if (!L) {
        post(d, w, &oom_answer);
        return;
    }
    /* Linked before the start: c-ares may answer inside lookup_start. */
    waiter_link(L, w);
    lookup_submit(d, L);
}

void dns_cancel(struct dns *d, struct dns_waiter *w)
{
    if (w->_lookup)
        waiter_unlink(w);
    loop_defer_cancel(d->loop, &w->_defer);
    if (w->_answer) {
        answer_free(w->_answer);
        w->_answer = NULL;
    }
}

void dns_set_family(struct dns *d, int family)
{
    d->family = family;
}

void dns_get_stats(const struct dns *d, struct dns_stats *st)
{
    *st = d->stats;
}

static int channel_init(struct dns *d, const struct dns_config *cfg, char *err, size_t errlen)
{
    struct ares_options opts;
    int rc, mask;

    rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS)
        goto fail;
    d->lib_init = 1;
    memset(&opts, 0, sizeof(opts));
    opts.sock_state_cb = on_sock_state;
    opts.sock_state_cb_data = d;
    /* Both set: 1.18's defaults are 5,000 ms x 4 tries. Each round doubles the wait. */
    opts.timeout = (int)(cfg->per_try_ms ? cfg->per_try_ms : DEFAULT_PER_TRY_MS);
    opts.tries = (int)(cfg->tries ? cfg->tries : DEFAULT_TRIES);
    opts.socket_receive_buffer_size = RCVBUF_BYTES;
    /* No ARES_FLAG_STAYOPEN: c-ares closes its sockets when no query is pending, so an
     * idle engine holds no resolver fd, and each burst gets a fresh random source port,
     * which makes spoofed answers harder. Reopening costs one socket per burst. */
    mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_RCVBUF;
    rc = ares_init_options(&d->channel, &opts, mask);
    if (rc != ARES_SUCCESS) {
        d->channel = NULL;
        goto fail;
    }
    if (cfg->servers) {
        rc = *cfg->servers ? ares_set_servers_ports_csv(d->channel, cfg->servers) : ARES_EBADSTR;
        if (rc != ARES_SUCCESS) {
            snprintf(err, errlen, "bad DNS server list \"%s\": %s", cfg->servers,
                     ares_strerror(rc));
            return -1;
        }
    }
    return 0;
fail:
    snprintf(err, errlen, "cannot start the resolver: %s", ares_strerror(rc));
    return -1;
}

int dns_new(struct dns **out, struct loop *l, const struct dns_config *cfg, char *err,
            size_t errlen)
{
    struct dns *d = calloc(1, sizeof(*d));

    *out = NULL;
    if (!d)
        goto oom;
    d->loop = l;
    d->family = AF_UNSPEC;
    d->max_inflight = cfg->max_inflight ? cfg->max_inflight : DEFAULT_MAX_INFLIGHT;
    d->ttl_floor_ms = 1000u * (cfg->ttl_floor_s ? cfg->ttl_floor_s : DEFAULT_TTL_FLOOR_S);
    d->ttl_ceiling_ms = 1000u * (cfg->ttl_ceiling_s ? cfg->ttl_ceiling_s : DEFAULT_TTL_CEILING_S);
    d->negative_ttl_ms =
        1000u * (cfg->negative_ttl_s ? cfg->negative_ttl_s : DEFAULT_NEGATIVE_TTL_S);
    loop_timer_init(&d->timer, on_timer, d);
    loop_timer_set_label(&d->timer, "dns", LOOP_NO_ID);
    loop_defer_init(&d->pump, pump, d);
    loop_defer_set_label(&d->pump, "dns", LOOP_NO_ID);
    d->cache = dns_cache_new(0);
    d->lookups = calloc(MIN_BUCKETS, sizeof(*d->lookups));
    if (!d->cache || !d->lookups)
        goto oom;
    d->nbuckets = MIN_BUCKETS;
    if (parse_pins(d, cfg, err, errlen) < 0 || channel_init(d, cfg, err, errlen) < 0)
        goto fail;
    *out = d;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    dns_free(d);
    return -1;
}

void dns_free(struct dns *d)
{
    struct dns_lookup *L;
    size_t i;

    if (!d)
        return;
    /* First, while the loop and everything here is valid: c-ares closes its sockets
     * (on_sock_state with 0, 0) and ends every lookup with ARES_EDESTRUCTION. */
    if (d->channel)
        ares_destroy(d->channel);
    if (d->lib_init)
        ares_library_cleanup();
    while ((L = d->qhead) != NULL) {
        d->qhead = L->qnext;
        lookup_free(d, L);
    }
    loop_timer_stop(d->loop, &d->timer);
    loop_defer_cancel(d->loop, &d->pump);
    for (i = 0; i < d->npins; i++)
        free(d->pins[i].host);
    free(d->pins);
    free(d->pin_slots);
    free(d->ios);
    free(d->lookups);
    dns_cache_free(d->cache);
    free(d);
}
