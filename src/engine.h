/*
 * engine.h -- the engine behind salvo_t: what the public API, the two drivers (the
 * asynchronous one, drive.c, and the blocking baseline, blocking.c) and the request
 * core (request.c) share. A type only: the functions live with the layer that owns them.
 *
 * Layers, top to bottom (a file calls only files below it):
 *   salvo.c (API) -> drive.c, blocking.c (drivers) -> request.c (core), limiter.c
 *   (scheduler) -> pool.c, race.c, dns.c, redirect.c, retry.c, result.c -> conn.c,
 *   http1.c, http1_request.c -> tcp.c, tls_transport.c, tls.c, chunked.c, decode.c, ...
 *   -> loop.c
 */
#ifndef SALVO_ENGINE_H
#define SALVO_ENGINE_H

#include <signal.h>
#include <stdint.h>

#include "dns.h"
#include "limiter.h"
#include "list.h"
#include "loop.h"
#include "pool.h"
#include "proxy.h"
#include "salvo.h"
#include "tls.h"

struct req_body;
struct req_run;

/* Every request of an engine asks for gzip and deflate (Accept-Encoding): the default
 * lines rendered once per engine say so, and every request written must agree. */
#define ENGINE_ASKS_COMPRESSED 1

struct salvo {
    salvo_config_t cfg; /* copy; strings below are owned copies */
    char *user_agent;
    char *default_lines; /* http1_default_lines for user_agent, NULL if it is unusable */
    size_t default_lines_len;
    char *dns_servers;
    char *cacert;
    char **resolve;
    struct loop *loop;
    struct dns *dns;
    struct pool *pool;              /* origins, idle connections, per-host and per-IP caps */
    struct limiter limiter;         /* global slots and the origins' lanes of waiters */
    struct req_body *last_body;     /* the last body submitted, shared with the next alike */
    struct req_run *run_cache;      /* finished requests' run state, for the next ones */
    size_t n_run_cache;             /* at most slots */
    struct tls_ctx *tls;            /* NULL until the first https request */
    struct proxy_settings *proxies; /* salvo_set_proxy's, NULL when none */
    char tls_err[256];              /* why tls_ctx_new failed, when it did */
    char last_error[256];           /* why the last salvo_submit failed, "" when none */
    int tls_failed;
    salvo_trace_cb *trace; /* salvo_set_trace's callback, NULL when none */
    void *trace_user;
    salvo_batch_cb *batch_end; /* salvo_set_batch_end's callback, NULL when none */
    void *batch_user;
    uint64_t t_start; /* microseconds, monotonic: the engine was made */

    struct list live;                       /* every request not yet completed */
    struct list completed;                  /* completed requests, results not delivered */
    size_t n_live;                          /* requests in live and completed: submitted
                                               and not yet delivered */
    struct loop_defer deliver;              /* delivers them, once per loop pass */
    size_t window;                          /* queued requests wanted from the feed */
    int feed_done;                          /* the feed said the input is exhausted */
    struct loop_io *feed_io;                /* salvo_feed_wait's fd, while waiting */
    int feed_wait_fd;                       /* that fd, for the blocking baseline */
    int running;                            /* inside salvo_run */
    int cancelled;                          /* the cancel was carried out */
    volatile sig_atomic_t cancel_requested; /* set by salvo_cancel, maybe from a signal */
    struct loop_defer sched;                /* runs the scheduling pass once per iteration */
    struct loop_timer pace_timer;           /* runs it again when a pacer lets a start go */
    uint64_t rng;                           /* xorshift state for backoff jitter */
    salvo_stats_t stats;
};

#endif
