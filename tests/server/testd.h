/*
 * testd.h -- shared types of testd, salvo's own hostile HTTP/1.1 test server.
 *
 * testd is one process, one thread and one epoll instance. It is split in three files:
 *   testd.c   options, listeners, signals, statistics, the timer heap and the loop;
 *   conn.c    the per-connection state machine: read and parse a request, hold it back
 *             (delay), write the reply, then keep alive, close, reset or stall;
 *   routes.c  the endpoints: turn one parsed request into one reply plan.
 *
 * Ownership and re-entrancy
 *   - The server owns every connection. A connection closes its fd itself (conn_close),
 *     at once, but its memory is freed only at the end of the loop iteration, from the
 *     server's closing list. So code holding a connection pointer may keep using it after
 *     a call that may have closed it, as long as it checks c->state == CONN_CLOSED.
 *   - A connection only ever closes itself, never another one, and epoll reports each fd
 *     at most once per batch, so no event of a batch can refer to freed memory.
 *   - Timers are embedded in their owners (a connection, a listener) and are removed from
 *     the heap before their owner is freed.
 *   - Nothing here is thread-safe; signals arrive through a signalfd, as ordinary events.
 */
#ifndef TESTD_H
#define TESTD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define TESTD_HEAD_MAX (64 * 1024)   /* request line and headers; larger is answered 431 */
#define TESTD_BODY_MAX (1024 * 1024) /* request body; larger is answered 413 */
#define TIMER_NONE     SIZE_MAX      /* heap index of a timer that is not queued */

struct server;
struct timer;
struct watch;
struct zgen; /* a streaming compressor of a generated body, in routes.c */

typedef void timer_fn(struct server *s, struct timer *t);
typedef void watch_fn(struct server *s, struct watch *w, uint32_t events);

/* A one-shot timer, embedded in its owner (libuv style); the heap holds pointers to it. */
struct timer {
    uint64_t deadline; /* CLOCK_MONOTONIC, in ms */
    uint64_t seq;      /* tie-break: equal deadlines expire in arming (FIFO) order */
    size_t index;      /* position in the heap, TIMER_NONE when not queued */
    timer_fn *fn;      /* called once per expiry */
};

/* An fd registered with epoll; epoll's data.ptr points at it. */
struct watch {
    int fd;          /* the socket, owned by whoever embeds the watch */
    uint32_t events; /* current epoll interest, to skip useless EPOLL_CTL_MOD calls */
    watch_fn *fn;    /* called with the ready events */
};

/* Counters served at /__stats and written to --stats-file. */
struct stats {
    uint64_t accepts;    /* connections accepted */
    uint64_t requests;   /* requests parsed, whatever came of them */
    uint64_t open;       /* connections open now */
    uint64_t max_open;   /* highest value of open */
    uint64_t active;     /* requests parsed and not yet fully answered (stalled ones count) */
    uint64_t max_active; /* highest value of active */
};

/* Per-key request counters of the /flaky, /flaky-reset and /retry-after endpoints. */
struct flaky {
    struct flaky *next; /* hash chain */
    uint64_t count;     /* requests seen for this key */
    char key[];         /* "endpoint/KEY", NUL-terminated */
};

#define FLAKY_BUCKETS 256

struct conn;

struct server {
    int epfd;                           /* the epoll instance */
    uint64_t now;                       /* loop time in ms, updated once per iteration */
    struct timer **heap;                /* min-heap of armed timers, by (deadline, seq) */
    size_t heap_len;                    /* timers in the heap */
    size_t heap_cap;                    /* slots allocated in heap */
    uint64_t next_seq;                  /* sequence number of the next armed timer */
    struct conn *conns;                 /* open connections, doubly linked */
    struct conn *closing;               /* closed connections, freed at the end of the iteration */
    struct flaky *flaky[FLAKY_BUCKETS]; /* per-key counters, kept for the lifetime */
    struct stats stats;                 /* see struct stats */
    uint64_t idle_close_ms;             /* --idle-close, 0 = never */
    uint64_t delay_all_ms;              /* --delay-all, added to every reply */
    const char *stats_file;             /* --stats-file, or NULL */
    const char *fixtures;               /* --fixtures DIR for /fixture/NAME, or NULL */
    int verbose;                        /* --verbose: one stderr line per connection/request */
    FILE *request_log;                  /* --log-requests: one line per request, or NULL */
    int quit;                           /* set by SIGTERM/SIGINT, checked once per iteration */
};

/* What happens to the connection once the reply is written. */
enum conn_end {
    END_KEEP,  /* keep-alive: read the next request */
    END_CLOSE, /* send FIN, then read until the peer closes too (bounded) */
    END_RESET, /* abort with a RST, once what was written has left the socket */
    END_STALL, /* keep the socket open and never answer */
};

/* A growable output buffer: the bytes of a reply not yet sent. */
struct obuf {
    char *data; /* malloc'd, or NULL */
    size_t len; /* bytes filled */
    size_t off; /* bytes already sent */
    size_t cap; /* bytes allocated */
};

/* One parsed request. The spans point into the connection's input buffer and stay
 * valid until the reply is finished. */
struct request {
    const char *method;  /* e.g. "GET", not NUL-terminated */
    size_t method_len;   /* length of method */
    const char *target;  /* request-target: path and query, not NUL-terminated */
    size_t target_len;   /* length of target */
    const char *raw;     /* the request exactly as received: head, then body */
    size_t head_len;     /* bytes of request line and headers, blank line included */
    size_t body_len;     /* bytes of body (Content-Length) */
    int keep_alive;      /* the client allows another request on this connection */
    int http10;          /* HTTP/1.0 request: keep-alive only if asked for */
    int expect_continue; /* "Expect: 100-continue": the client waits for a 100 first */
};

/* The plan for one reply, filled by routes_answer() and carried out by conn.c. */
struct reply {
    struct obuf out;   /* status line, headers and any small body, sent first */
    uint64_t gen_left; /* pattern bytes still to generate after out */
    uint64_t gen_pos;  /* offset of the next generated byte in the pattern body */
    struct zgen *zgen; /* generates the body compressed (owned), or NULL: see gen_left */
    int chunked;       /* frame generated bytes as ~1000-byte chunks */
    int last_chunk;    /* the terminating 0 chunk is still to be sent */
    uint64_t delay_ms; /* hold the reply back this long before sending anything */
    enum conn_end end; /* what to do once everything is written */
};

/* testd.c */
void timer_start(struct server *s, struct timer *t, uint64_t delay_ms);
void timer_stop(struct server *s, struct timer *t);
int watch_set(struct server *s, struct watch *w, uint32_t events);
void stats_json(const struct stats *st, char *buf, size_t cap);
void stats_open(struct server *s, int delta);
void stats_active(struct server *s, int delta);

/* conn.c */
int conn_accept(struct server *s, int fd, const char *peer); /* 0 or negative errno */
void conn_free_closed(struct server *s);
void conn_close_all(struct server *s);

/* obuf, in conn.c: each returns 0 or -ENOMEM. */
int obuf_reserve(struct obuf *b, size_t more);
int obuf_append(struct obuf *b, const void *p, size_t n);
int obuf_printf(struct obuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void obuf_free(struct obuf *b);

/* routes.c: fills rp (zeroed by the caller) for rq. Returns 0, or -ENOMEM. */
int routes_answer(struct server *s, const struct request *rq, struct reply *rp);
/* The pattern body: byte i of every generated body is pattern[i % TESTD_PATTERN_LEN]. */
#define TESTD_PATTERN     "abcdefghijklmnopqrstuvwxyz\n"
#define TESTD_PATTERN_LEN 27
void routes_fill_pattern(char *dst, uint64_t pos, size_t n);
/* The next compressed body bytes of a reply with a zgen: at most max of them at dst.
 * Returns the count, 0 once the compressed stream is complete, or -EIO. Never returns 0
 * before the end: it runs deflate() until some output appears. */
ssize_t routes_zgen_read(struct zgen *z, char *dst, size_t max);
void routes_zgen_free(struct zgen *z);
/* A complete small reply with Content-Length, used for protocol errors. */
int routes_error(const struct request *rq, struct reply *rp, int code);
void routes_free(struct server *s);

#endif
