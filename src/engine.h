/*
 * engine.h -- the engine behind salvo_t and the request it drives. Internal: shared by
 * salvo.c (the public API), request.c (the per-request state machine) and limiter.c
 * (slots and the waiting queue).
 *
 * Life of a request: salvo_submit creates it and hands it to the limiter; the limiter
 * gives it a slot when one is free and starts an attempt; the state machine runs the
 * attempt through DNS, connect, TLS, send and receive; a failed attempt may sleep in
 * BACKOFF (holding no slot) and go back to the limiter; every end goes through
 * req_finish, which frees everything and runs the callback exactly once.
 */
#ifndef SALVO_ENGINE_H
#define SALVO_ENGINE_H

#include <signal.h>
#include <stdint.h>

#include "conn.h"
#include "dns.h"
#include "http1.h"
#include "list.h"
#include "loop.h"
#include "pool.h"
#include "salvo.h"
#include "tls.h"
#include "url.h"

#define REQ_MSG_LEN 256

enum req_state {
    REQ_QUEUED,     /* waiting for a global slot */
    REQ_RESOLVING,  /* waiting for DNS */
    REQ_CONNECTING, /* TCP connect in progress */
    REQ_TLS,        /* TLS handshake in progress */
    REQ_SENDING,    /* writing the request */
    REQ_RECEIVING,  /* reading the response */
    REQ_BACKOFF,    /* sleeping between attempts; holds no slot */
    REQ_DONE,       /* finished: the result was delivered */
    REQ_STATE_COUNT
};

/* TLS facts of an attempt, copied out of the connection before it closes. Fixed
 * buffers: long subjects are cut rather than allocated for. */
struct req_tls_facts {
    int have;      /* a handshake finished (version, cipher, alpn valid) */
    int have_cert; /* certificate facts are valid (also on tls_verify) */
    char version[16];
    char cipher[64];
    char alpn[32]; /* "" when none was negotiated */
    char cert_expiry[32];
    char chain_expiry[32];
    int64_t days_left;
    char subject[512];
    char issuer[512];
};

/* The parts of an attempt the record reports. Reset at the start of every attempt. */
struct req_attempt {
    salvo_err_t err;       /* outcome class */
    char msg[REQ_MSG_LEN]; /* detail */
    int status;            /* final status whose headers arrived, 0 when none */
    int sent;              /* some request byte went to the socket */
    double dns_ms;         /* phase durations; < 0: did not run */
    double connect_ms;
    double tls_ms;
    double ttfb_ms;
    double transfer_ms;
    uint64_t t_start;         /* microseconds, monotonic: the attempt began */
    uint64_t t_phase;         /* ... the current phase began */
    uint64_t t_sent;          /* ... the request was written */
    uint64_t t_first_byte;    /* ... the first response byte arrived */
    char remote_ip[64];       /* "" when no connection was made */
    int tls_resumed;          /* -1 when no TLS */
    int reused;               /* the attempt used a pooled connection */
    struct req_tls_facts tls; /* valid per its own flags */
};

/* What a request needs only once it runs: allocated when it first gets a slot, so that
 * the thousands of requests waiting in the input window stay small (a few hundred bytes
 * each instead of 4 KiB). */
struct req_run {
    struct loop_timer connect_timer;              /* --connect-timeout: DNS + connect + TLS */
    struct loop_timer attempt_timer;              /* --max-time: the whole attempt */
    struct dns_waiter dnsw;                       /* the DNS subscription */
    int dns_pending;                              /* dnsw is subscribed */
    struct sockaddr_storage addrs[DNS_MAX_ADDRS]; /* addresses to try, in order */
    size_t naddrs;                                /* addresses in addrs */
    size_t addr_next;                             /* the next one to try */
    int last_connect_err;                         /* errno of the last failed address */
    struct pool_conn *pc;                         /* the connection, NULL before connect */
    int reserved;                                 /* holds room in its origin */
    int replayed;                                 /* a stale pooled connection was replaced */
    struct pool_ip_waiter ipw;                    /* waiting for room at the remote IP */
    struct http1 http;                            /* the response parser */
    struct buf wire;                              /* the request head, per attempt */
    size_t body_sent;                             /* body bytes the connection took */
    struct req_attempt a;                         /* the current (last) attempt */
    char sha256[65];                              /* hex, "" when not hashed */
    struct req_run *next_free;                    /* link in engine->run_cache */
};

/* A request body, shared by every request submitted with the same bytes (-d for a whole
 * input): a window of 10,000 waiting requests holds one copy, not 10,000. */
struct req_body {
    size_t refs; /* requests holding it, plus the engine's "last body" */
    size_t len;
    char data[]; /* len bytes */
};

/* One line of attempts_log (--attempt-log), with its own copy of the address. */
struct req_log_entry {
    salvo_attempt_t a; /* a.remote_ip is set to ip when the result is built */
    char ip[64];
};

struct req {
    struct list live;      /* in engine->live until finished */
    struct list queue;     /* in origin->waiting while REQ_QUEUED */
    struct origin *origin; /* the origin of url, while queued or running */
    struct salvo *eng;
    enum req_state state;
    uint64_t index;      /* echoed in the result */
    char *url_str;       /* as submitted */
    char *url_shown;     /* url_str with its password masked, NULL when it has none */
    struct url url;      /* the current URL (after redirects), when url_err is OK */
    salvo_err_t url_err; /* why url_str was refused, SALVO_E_OK when it parsed */
    char *url_msg;       /* the reason (malloc'd), NULL when it parsed */
    char *final_url;     /* with -L: the URL of the last hop (malloc'd) */
    char *method;        /* as given, or GET / POST */
    char **headers;      /* copies of the caller's header lines */
    size_t headers_len;
    struct req_body *body; /* request body (shared), NULL for none */
    int is_head;           /* HEAD: the response has no body */
    int conn_close;        /* a user header asked for Connection: close */
    int idempotent;        /* retried also after the request was sent */
    salvo_done_cb *cb;
    void *user;

    struct loop_defer defer;         /* finishes an unparsable URL after submit returns */
    struct loop_timer backoff_timer; /* sleep between attempts */
    int has_slot;                    /* holds one of the global slots */
    int attempts;                    /* attempts started on the current URL */
    int redirects;                   /* redirects followed */
    int last_status;                 /* the last final status of any ended attempt, 0: none */
    uint64_t t_submit;               /* microseconds, monotonic: salvo_submit */
    uint64_t t_slot;                 /* ... the first slot */
    uint64_t t_first_attempt;        /* ... the first attempt */
    struct req_run *run;             /* NULL until the first attempt */
    struct req_log_entry *log;       /* attempts_log, with --attempt-log */
    size_t log_len, log_cap;
};

struct salvo {
    salvo_config_t cfg; /* copy; strings below are owned copies */
    char *user_agent;
    char *dns_servers;
    char *cacert;
    char **resolve;
    struct loop *loop;
    struct dns *dns;
    struct pool *pool;          /* origins, idle connections, per-host and per-IP caps */
    struct req_body *last_body; /* the last body submitted, shared with the next alike */
    struct req_run *run_cache;  /* finished requests' run state, for the next ones */
    size_t n_run_cache;         /* at most slots */
    struct tls_ctx *tls;        /* NULL until the first https request */
    char tls_err[256];          /* why tls_ctx_new failed, when it did */
    char last_error[256];       /* why the last salvo_submit failed, "" when none */
    int tls_failed;

    struct list live;                       /* every request not yet finished */
    size_t n_live;                          /* length of live */
    size_t n_queued;                        /* requests waiting in their origins' queues */
    size_t slots;                           /* global slots (effective concurrency) */
    size_t in_flight;                       /* requests holding a slot */
    size_t window;                          /* queued requests wanted from the feed */
    int feed_done;                          /* the feed said the input is exhausted */
    struct loop_io *feed_io;                /* salvo_feed_wait's fd, while waiting */
    int feed_wait_fd;                       /* that fd, for the blocking baseline */
    int running;                            /* inside salvo_run */
    int cancelled;                          /* the cancel was carried out */
    volatile sig_atomic_t cancel_requested; /* set by salvo_cancel, maybe from a signal */
    struct loop_defer sched;                /* runs the scheduling pass once per iteration */
    uint64_t rng;                           /* xorshift state for backoff jitter */
    salvo_stats_t stats;
};

/* request.c */
/* Returns 0, -ENOMEM, or -EINVAL when the options are refused (why says why). */
int req_new(struct salvo *eng, const char *url, uint64_t index, const salvo_request_t *opt,
            salvo_done_cb *cb, void *user, struct req **out, char *why, size_t whylen);
/* Starts an attempt with a slot and room in the origin; pc is an idle connection to
 * reuse, or NULL to resolve and connect. */
void req_start_attempt(struct req *r, struct pool_conn *pc);
void req_finish(struct req *r, salvo_err_t err, const char *msg);
void req_body_unref(struct req_body *b);

/* Pieces shared with the blocking baseline (blocking.c). */
int req_run_prepare(struct req *r);
void req_run_free(struct req_run *x);
void req_attempt_reset(struct req_attempt *a, uint64_t now);
void req_capture_tls(struct req_attempt *a, struct tls *t, int handshake_done);
/* Closes the books on an attempt: its status, and its line of attempts_log. */
void req_end_attempt(struct req *r, salvo_err_t err);
/* After an attempt that ended with err (SALVO_E_OK: an answer with status): 1, with the
 * sleep to take first, when another attempt should follow (CONTRACT.md's retry rules). */
int req_retry_decision(struct req *r, salvo_err_t err, int status, uint64_t *sleep_ms);

/* salvo.c: the engine's TLS context, made on first use; NULL (eng->tls_err says why)
 * when it cannot be. */
struct tls_ctx *engine_tls(struct salvo *eng);

/* blocking.c: salvo_run for config.blocking. */
int blocking_run(struct salvo *eng);
const char *req_state_name(enum req_state s);

/* limiter.c */
int limiter_enqueue(struct salvo *eng, struct req *r, int at_front);
void limiter_remove(struct salvo *eng, struct req *r);
void limiter_release(struct salvo *eng, struct req *r);
void limiter_schedule(struct salvo *eng);
void limiter_run_pass(struct salvo *eng); /* the deferred pass limiter_schedule queues */

#endif
