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
    double dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms; /* < 0: did not run */
    uint64_t t_start, t_phase, t_sent, t_first_byte;         /* microseconds, monotonic */
    int conn_open;                                           /* conn holds an open connection */
    char remote_ip[64];                                      /* "" when no connection was made */
    int tls_resumed;                                         /* -1 when no TLS */
    int reused;               /* the attempt used a pooled connection */
    struct req_tls_facts tls; /* valid per its own flags */
};

/* What a request needs only once it runs: allocated when it first gets a slot, so that
 * the thousands of requests waiting in the input window stay small (about 400 bytes
 * each instead of 4 KiB). */
struct req_run {
    struct loop_timer connect_timer; /* --connect-timeout: DNS + connect + TLS */
    struct loop_timer attempt_timer; /* --max-time: the whole attempt */
    struct dns_waiter dnsw;
    int dns_pending;                              /* dnsw is subscribed */
    struct sockaddr_storage addrs[DNS_MAX_ADDRS]; /* addresses to try, in order */
    size_t naddrs, addr_next;
    int last_connect_err; /* errno of the last failed address */
    struct conn conn;
    struct http1 http;
    struct buf wire;      /* the serialised request, per attempt */
    struct req_attempt a; /* the current (last) attempt */
    char sha256[65];      /* hex, "" when not hashed */
};

struct req {
    struct list live;  /* in engine->live until finished */
    struct list queue; /* in engine->queue while REQ_QUEUED */
    struct salvo *eng;
    enum req_state state;
    uint64_t index; /* echoed in the result */
    char *url_str;  /* as submitted */
    struct url url; /* parsed, when url_err == SALVO_E_OK */
    salvo_err_t url_err;
    char *url_msg;  /* why the URL was refused (malloc'd), NULL when it parsed */
    char *method;   /* as given, or GET / POST */
    char **headers; /* copies of the caller's header lines */
    size_t headers_len;
    char *body;
    size_t body_len;
    int is_head;
    int idempotent; /* retried also after the request was sent */
    salvo_done_cb *cb;
    void *user;

    struct loop_defer defer;         /* finishes an unparsable URL after submit returns */
    struct loop_timer backoff_timer; /* sleep between attempts */
    int has_slot;                    /* holds one of the global slots */
    int attempts;                    /* attempts started */
    uint64_t t_submit, t_slot, t_first_attempt; /* microseconds, monotonic */
    struct req_run *run;                        /* NULL until the first attempt */
};

struct salvo {
    salvo_config_t cfg; /* copy; strings below are owned copies */
    char *user_agent;
    char *dns_servers;
    char *cacert;
    char **resolve;
    struct loop *loop;
    struct dns *dns;
    struct tls_ctx *tls; /* NULL until the first https request */
    char tls_err[256];   /* why tls_ctx_new failed, when it did */
    int tls_failed;

    struct list live;                       /* every request not yet finished */
    struct list queue;                      /* requests waiting for a slot, FIFO */
    size_t n_live;                          /* length of live */
    size_t n_queued;                        /* length of queue */
    size_t slots;                           /* global slots (effective concurrency) */
    size_t in_flight;                       /* requests holding a slot */
    size_t window;                          /* queued requests wanted from the feed */
    size_t open_conns;                      /* connections open now */
    int feed_done;                          /* the feed said the input is exhausted */
    int running;                            /* inside salvo_run */
    int cancelled;                          /* the cancel was carried out */
    volatile sig_atomic_t cancel_requested; /* set by salvo_cancel, maybe from a signal */
    struct loop_defer sched;                /* runs the scheduling pass once per iteration */
    uint64_t rng;                           /* xorshift state for backoff jitter */
    salvo_stats_t stats;
};

/* request.c */
int req_new(struct salvo *eng, const char *url, uint64_t index, const salvo_request_t *opt,
            salvo_done_cb *cb, void *user, struct req **out);
void req_start_attempt(struct req *r);
void req_finish(struct req *r, salvo_err_t err, const char *msg);
const char *req_state_name(enum req_state s);

/* limiter.c */
void limiter_enqueue(struct salvo *eng, struct req *r, int at_front);
void limiter_remove(struct salvo *eng, struct req *r);
void limiter_release(struct salvo *eng, struct req *r);
void limiter_schedule(struct salvo *eng);
void limiter_run_pass(struct salvo *eng); /* the deferred pass limiter_schedule queues */

#endif
