/*
 * pool.c -- origins, idle connections, per-host and per-IP caps. See pool.h.
 */
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORIGIN_BUCKETS_MIN 64

/* Connections open per remote address, for --per-ip. Kept only while non-zero. */
struct ip_count {
    struct ip_count *next; /* hash chain */
    char ip[64];
    size_t open;
};

struct pool {
    struct loop *loop;
    struct pool_config cfg;
    struct origin **buckets; /* origins by key hash; a power of two */
    size_t nbuckets, norigins;
    struct ip_count **ip_buckets; /* per-IP counters; same size as buckets at start */
    size_t nip_buckets;
    struct list lru; /* idle connections, least recently used first */
    size_t n_idle;
    struct list lingering;     /* unreferenced origins kept for their pace, oldest first */
    struct list ip_waiters;    /* requests waiting for room at their address */
    struct loop_defer ip_wake; /* wakes ip waiters after a close */
    struct pool_stats st;
    /* The origin pool_origin found last without a proxy, and what it was asked for: a
     * run's requests mostly come many to an origin, and a hit here skips building and
     * hashing the key. Cleared when that origin is freed. */
    struct origin *last;
    int last_tls;
    uint16_t last_port;
    char last_host[256];
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: short keys, no adversary to fear */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void on_ip_wake(struct loop_defer *d, void *data);
static void reap_lingering(struct pool *p);

int pool_new(struct pool **out, struct loop *l, const struct pool_config *cfg)
{
    struct pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    p->loop = l;
    p->cfg = *cfg;
    p->nbuckets = p->nip_buckets = ORIGIN_BUCKETS_MIN;
    p->buckets = calloc(p->nbuckets, sizeof *p->buckets);
    p->ip_buckets = calloc(p->nip_buckets, sizeof *p->ip_buckets);
    if (p->buckets == NULL || p->ip_buckets == NULL) {
        free(p->buckets);
        free(p->ip_buckets);
        free(p);
        return -ENOMEM;
    }
    list_init(&p->lru);
    list_init(&p->lingering);
    list_init(&p->ip_waiters);
    loop_defer_init(&p->ip_wake, on_ip_wake, p);
    loop_defer_set_label(&p->ip_wake, "pool", LOOP_NO_ID);
    *out = p;
    return 0;
}

/* ---- origins --------------------------------------------------------------------- */

static int grow_buckets(struct pool *p)
{
    size_t n = p->nbuckets * 2;
    struct origin **b = calloc(n, sizeof *b);
    if (b == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < p->nbuckets; i++) {
        struct origin *o = p->buckets[i];
        while (o != NULL) {
            struct origin *next = o->next_in_bucket;
            size_t k = hash_str(o->key) & (n - 1);
            o->next_in_bucket = b[k];
            b[k] = o;
            o = next;
        }
    }
    free(p->buckets);
    p->buckets = b;
    p->nbuckets = n;
    return 0;
}

/* One more reference to o, which is wanted again: it no longer lingers. */
static struct origin *origin_ref(struct origin *o)
{
    list_remove(&o->linger_link);
    o->refs++;
    return o;
}

/* Remembers o as the answer for (tls, host, port) without a proxy. */
static struct origin *remember(struct pool *p, struct origin *o, int tls, const char *host,
                               uint16_t port)
{
    size_t n = strlen(host);
    if (n < sizeof p->last_host) {
        p->last = o;
        p->last_tls = tls;
        p->last_port = port;
        memcpy(p->last_host, host, n + 1);
    }
    return o;
}

static struct origin *find_or_add(struct pool *p, int tls, const char *host, uint16_t port,
                                  const char *via);

struct origin *pool_origin(struct pool *p, int tls, const char *host, uint16_t port,
                           const char *via)
{
    if (via != NULL)
        return find_or_add(p, tls, host, port, via);
    if (p->last != NULL && p->last_tls == tls && p->last_port == port &&
        strcmp(p->last_host, host) == 0)
        return origin_ref(p->last);
    struct origin *o = find_or_add(p, tls, host, port, NULL);
    return o != NULL ? remember(p, o, tls, host, port) : NULL;
}

/* The origin of key "scheme://host:port[ via PROXY]", found or made, with a reference. */
static struct origin *find_or_add(struct pool *p, int tls, const char *host, uint16_t port,
                                  const char *via)
{
    /* "https://host:port" built by hand: this runs for every request queued. Host names
     * are at most 255 bytes (url.c and dns.c refuse longer ones), so the key always fits;
     * a proxy's name is cut where it would not (two such proxies would share origins). */
    char key[900];
    const char *scheme = tls ? "https://" : "http://";
    size_t sl = strlen(scheme), hl = strnlen(host, sizeof key - sl - 7);
    memcpy(key, scheme, sl);
    memcpy(key + sl, host, hl);
    char *w = key + sl + hl;
    *w++ = ':';
    char digits[6];
    int nd = 0;
    unsigned v = port;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (nd > 0)
        *w++ = digits[--nd];
    *w = '\0';
    if (via != NULL)
        snprintf(w, sizeof key - (size_t)(w - key), " via %s", via);
    size_t k = hash_str(key) & (p->nbuckets - 1);
    for (struct origin *o = p->buckets[k]; o != NULL; o = o->next_in_bucket) {
        if (strcmp(o->key, key) == 0)
            return origin_ref(o);
    }
    reap_lingering(p);
    if (p->norigins >= p->nbuckets && grow_buckets(p) == 0)
        k = hash_str(key) & (p->nbuckets - 1);
    struct origin *o = calloc(1, sizeof *o);
    if (o == NULL || (o->key = strdup(key)) == NULL) {
        free(o);
        return NULL;
    }
    list_init(&o->idle);
    list_init(&o->linger_link);
    o->allowed = p->cfg.per_host ? p->cfg.per_host : SIZE_MAX;
    o->refs = 1;
    o->next_in_bucket = p->buckets[k];
    p->buckets[k] = o;
    p->norigins++;
    return o;
}

static void origin_free(struct pool *p, struct origin *o)
{
    size_t k = hash_str(o->key) & (p->nbuckets - 1);
    struct origin **pp = &p->buckets[k];
    while (*pp != o)
        pp = &(*pp)->next_in_bucket;
    *pp = o->next_in_bucket;
    p->norigins--;
    list_remove(&o->linger_link);
    if (p->last == o)
        p->last = NULL;
    free(o->key);
    free(o);
}

/* Frees the lingering origins whose pace has passed, from the oldest on. The list is
 * in the order they were let go, which is nearly the order their times pass (every
 * origin has the same interval): one still paced at the head holds the others back a
 * little, never long. */
static void reap_lingering(struct pool *p)
{
    if (list_empty(&p->lingering))
        return;
    uint64_t now = loop_now_us();
    while (!list_empty(&p->lingering)) {
        struct origin *o = list_entry(p->lingering.next, struct origin, linger_link);
        if (o->next_start_us > now)
            break;
        origin_free(p, o);
    }
}

/* Frees o when nothing refers to it any more, or lets it linger while its next start is
 * paced: a new origin of the same key would start with no pace at all. */
static void origin_release(struct pool *p, struct origin *o)
{
    if (o->open > 0 || o->refs > 0)
        return;
    if (o->next_start_us > loop_now_us()) {
        if (!list_linked(&o->linger_link))
            list_push_back(&p->lingering, &o->linger_link);
        reap_lingering(p);
        return;
    }
    origin_free(p, o);
    reap_lingering(p);
}

void pool_origin_unref(struct pool *p, struct origin *o)
{
    o->refs--;
    origin_release(p, o);
}

/* Room for one more request: fewer busy connections than the origin is allowed now
 * (adaptive politeness counts requests in progress, so idle connections left over from
 * better times do not let a struggling origin get them all back at once), and an idle
 * connection to take or fewer open than --per-host. */
int pool_has_room(const struct pool *p, const struct origin *o)
{
    size_t busy = o->open - o->n_idle;
    size_t cap = p->cfg.per_host ? p->cfg.per_host : SIZE_MAX;
    return busy < o->allowed && (o->n_idle > 0 || o->open < cap);
}

void pool_reserve(struct pool *p, struct origin *o)
{
    (void)p;
    o->open++;
}

void pool_unreserve(struct pool *p, struct origin *o)
{
    o->open--;
    origin_release(p, o);
}

/* Remembers one answer of the origin: 1 when it pushed back. */
static void note_answer(struct origin *o, int pushed_back)
{
    o->recent = (o->recent << 1) | (pushed_back ? 1u : 0u);
    if (o->n_recent < 32)
        o->n_recent++;
}

/* Most of what the origin was recently asked was pushed back. The requests still in
 * progress count as asked and not (yet) pushed back: ten quick 503s from one broken path
 * while ninety slow requests are under way are a tenth, not all, of its load. The
 * answering request's own connection is still busy, and is not counted twice. */
static int overloaded(const struct origin *o)
{
    uint32_t mask = o->n_recent >= 32 ? UINT32_MAX : (1u << o->n_recent) - 1;
    size_t pushed_back = (size_t)__builtin_popcount(o->recent & mask);
    size_t busy = o->open - o->n_idle;
    size_t asked = o->n_recent + (busy > 0 ? busy - 1 : 0);
    return 2 * pushed_back > asked;
}

void pool_origin_pushback(struct pool *p, struct origin *o, int retry_after)
{
    (void)p;
    note_answer(o, 1);
    if (!retry_after && !overloaded(o))
        return;
    size_t busy = o->open - o->n_idle;
    size_t half = o->allowed == SIZE_MAX ? busy / 2 : o->allowed / 2;
    o->allowed = half > 0 ? half : 1;
}

void pool_origin_success(struct pool *p, struct origin *o)
{
    size_t cap = p->cfg.per_host ? p->cfg.per_host : SIZE_MAX;
    note_answer(o, 0);
    if (o->allowed < cap)
        o->allowed++;
}

/* ---- per-IP counters ------------------------------------------------------------- */

static struct ip_count **ip_slot(struct pool *p, const char *ip)
{
    struct ip_count **pp = &p->ip_buckets[hash_str(ip) & (p->nip_buckets - 1)];
    while (*pp != NULL && strcmp((*pp)->ip, ip) != 0)
        pp = &(*pp)->next;
    return pp;
}

static size_t ip_open(struct pool *p, const char *ip)
{
    struct ip_count *c = *ip_slot(p, ip);
    return c ? c->open : 0;
}

static struct ip_count *ip_take(struct pool *p, const char *ip)
{
    struct ip_count **pp = ip_slot(p, ip);
    if (*pp == NULL) {
        struct ip_count *c = calloc(1, sizeof *c);
        if (c == NULL)
            return NULL;
        snprintf(c->ip, sizeof c->ip, "%s", ip);
        *pp = c;
    }
    (*pp)->open++;
    return *pp;
}

static void ip_give_back(struct pool *p, struct ip_count *c)
{
    if (--c->open > 0)
        return;
    struct ip_count **pp = ip_slot(p, c->ip);
    *pp = c->next;
    free(c);
}

static void idle_close(struct pool *p, struct pool_conn *pc);

int pool_ip_make_room(struct pool *p, const char *ip)
{
    if (p->cfg.per_ip == 0 || ip_open(p, ip) < p->cfg.per_ip)
        return 1;
    /* An idle connection to this address, of any origin, gives its place up. */
    struct list *it;
    for (it = p->lru.next; it != &p->lru; it = it->next) {
        struct pool_conn *pc = list_entry(it, struct pool_conn, lru_link);
        if (strcmp(pc->c.remote_ip, ip) == 0) {
            idle_close(p, pc);
            return 1;
        }
    }
    return 0;
}

void pool_ip_wait(struct pool *p, struct pool_ip_waiter *w, const char *ip, pool_ip_fn *cb,
                  void *data)
{
    snprintf(w->ip, sizeof w->ip, "%s", ip);
    w->cb = cb;
    w->data = data;
    list_push_back(&p->ip_waiters, &w->link);
}

void pool_ip_cancel(struct pool *p, struct pool_ip_waiter *w)
{
    (void)p;
    if (list_linked(&w->link))
        list_remove(&w->link);
}

/* After a connection to some address closed or went idle: waiters whose address now
 * has room (or an idle connection to give up) go ahead, oldest first. */
static void on_ip_wake(struct loop_defer *d, void *data)
{
    (void)d;
    struct pool *p = data;
    struct list *it = p->ip_waiters.next;
    while (it != &p->ip_waiters) {
        struct pool_ip_waiter *w = list_entry(it, struct pool_ip_waiter, link);
        it = it->next;
        if (pool_ip_make_room(p, w->ip)) {
            list_remove(&w->link);
            w->cb(w, w->data);
            it = p->ip_waiters.next; /* the callback may have changed the list */
        }
    }
}

/* ---- connections ------------------------------------------------------------------- */

static void on_idle_io(struct loop_io *w, unsigned events, void *data);
static void on_idle_timer(struct loop_timer *t, void *data);

/* Makes room in the fd budget by closing the least recently used idle connection. */
static void fit_budget(struct pool *p)
{
    while (p->st.open >= p->cfg.fd_budget && !list_empty(&p->lru))
        idle_close(p, list_entry(p->lru.next, struct pool_conn, lru_link));
}

struct pool_conn *pool_conn_open(struct pool *p, struct origin *o, const struct sockaddr *sa,
                                 loop_io_fn *cb, void *data, int *err)
{
    fit_budget(p);
    struct pool_conn *pc = calloc(1, sizeof *pc);
    if (pc == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    *err = conn_open(&pc->c, p->loop, sa, cb, data);
    if (*err < 0) {
        free(pc);
        return NULL;
    }
    pc->pool = p;
    pc->origin = o;
    list_init(&pc->idle_link);
    list_init(&pc->lru_link);
    loop_timer_init(&pc->idle_timer, on_idle_timer, pc);
    loop_timer_set_label(&pc->idle_timer, "pool", LOOP_NO_ID);
    if (p->cfg.per_ip)
        pc->ip = ip_take(p, pc->c.remote_ip);
    p->st.open++;
    p->st.opened++;
    if (p->st.open > p->st.max_open)
        p->st.max_open = p->st.open;
    return pc;
}

static void take_off_idle(struct pool *p, struct pool_conn *pc)
{
    list_remove(&pc->idle_link);
    list_remove(&pc->lru_link);
    pc->origin->n_idle--;
    p->n_idle--;
    loop_timer_stop(p->loop, &pc->idle_timer);
}

struct pool_conn *pool_checkout(struct pool *p, struct origin *o)
{
    while (o->n_idle > 0) {
        struct pool_conn *pc = list_entry(o->idle.next, struct pool_conn, idle_link);
        /* Nothing may be buffered in it (conn_clean). And the idle watcher may not have
         * run yet: when the last wait had more ready sockets than one batch holds, bytes
         * or an EOF on this one may still wait for dispatch, so the socket itself is
         * asked. Otherwise that costs a syscall per request and tells nothing the
         * watcher did not. */
        int dispatched = loop_saw_all_ready(p->loop);
        if (!conn_clean(&pc->c) || (!dispatched && !conn_idle_check(&pc->c))) {
            idle_close(p, pc);
            continue;
        }
        take_off_idle(p, pc);
        return pc;
    }
    return NULL;
}

void pool_close(struct pool *p, struct pool_conn *pc, int keep_reserved)
{
    struct origin *o = pc->origin;
    if (list_linked(&pc->idle_link))
        take_off_idle(p, pc);
    if (pc->ip != NULL) {
        ip_give_back(p, pc->ip);
        if (!list_empty(&p->ip_waiters))
            loop_defer(p->loop, &p->ip_wake);
    }
    conn_close(&pc->c);
    p->st.open--;
    free(pc);
    if (!keep_reserved) {
        o->open--;
        origin_release(p, o);
    }
}

static void idle_close(struct pool *p, struct pool_conn *pc)
{
    pool_close(p, pc, 0);
}

void pool_checkin(struct pool *p, struct pool_conn *pc)
{
    struct origin *o = pc->origin;
    /* Nothing buffered in any layer, nothing owed: bytes left in TLS's buffers would be
     * read as the answer to the next request on this connection. */
    if (p->cfg.max_idle == 0 || !conn_clean(&pc->c)) {
        pool_close(p, pc, 0);
        return;
    }
    while (p->n_idle >= p->cfg.max_idle)
        idle_close(p, list_entry(p->lru.next, struct pool_conn, lru_link));
    pc->requests++;
    list_push_front(&o->idle, &pc->idle_link);
    list_push_back(&p->lru, &pc->lru_link);
    o->n_idle++;
    p->n_idle++;
    conn_set_owner(&pc->c, on_idle_io, pc, "pool", LOOP_NO_ID);
    loop_timer_start(p->loop, &pc->idle_timer, p->cfg.idle_timeout_ms);
    /* An idle connection still counts against its address: a request waiting for room
     * there may take its place. */
    if (pc->ip != NULL && !list_empty(&p->ip_waiters))
        loop_defer(p->loop, &p->ip_wake);
}

/* An idle connection spoke. For TLS that may be a session ticket or a key update, which
 * conn_recv consumes (CONN_AGAIN); anything else ends the connection: EOF, an error,
 * or response bytes nobody asked for. A raw recv(MSG_PEEK) liveness test would wrongly
 * call a TLS connection that just got a ticket dead. */
static void on_idle_io(struct loop_io *w, unsigned events, void *data)
{
    (void)w;
    (void)events;
    struct pool_conn *pc = data;
    if (!conn_idle_check(&pc->c))
        idle_close(pc->pool, pc);
}

static void on_idle_timer(struct loop_timer *t, void *data)
{
    (void)t;
    struct pool_conn *pc = data;
    idle_close(pc->pool, pc);
}

void pool_get_stats(const struct pool *p, struct pool_stats *st)
{
    *st = p->st;
}

void pool_free(struct pool *p)
{
    if (p == NULL)
        return;
    while (!list_empty(&p->lru))
        idle_close(p, list_entry(p->lru.next, struct pool_conn, lru_link));
    loop_defer_cancel(p->loop, &p->ip_wake);
    for (size_t i = 0; i < p->nbuckets; i++) {
        struct origin *o = p->buckets[i];
        while (o != NULL) {
            struct origin *next = o->next_in_bucket;
            free(o->key);
            free(o);
            o = next;
        }
    }
    for (size_t i = 0; i < p->nip_buckets; i++) {
        struct ip_count *c = p->ip_buckets[i];
        while (c != NULL) {
            struct ip_count *next = c->next;
            free(c);
            c = next;
        }
    }
    free(p->buckets);
    free(p->ip_buckets);
    free(p);
}
