/*
 * request.h -- the request core: what a request is and what both drivers (drive.c, the
 * asynchronous step machine; blocking.c, the blocking baseline) do with one the same
 * way: its lifetime, its target, method, headers and shared body, its states and their
 * transitions, the record of each attempt, the retry decision, following a redirect,
 * the one mapping from errno to error class, and the one exit, req_complete.
 *
 * Life of a request
 *   salvo_submit -> req_new (QUEUED) -> a driver runs attempts through the states below
 *   -> req_complete (DONE): the record is made and the request waits in the engine's
 *   completion queue -> req_deliver runs its callback and frees it, once per loop pass.
 *   So user code never runs under the parser, TLS or a socket event, and a request never
 *   disappears under the function that is handling it.
 *
 * States (enum req_state) change only through req_set_state, which checks the move
 * against a table, runs the exit and entry actions (the deadline timers belong to
 * states: --connect-timeout spans RESOLVING to TLS, --max-time the whole attempt, the
 * backoff timer BACKOFF) and reports the move to the engine's trace callback.
 */
#ifndef SALVO_REQUEST_H
#define SALVO_REQUEST_H

#include <stdint.h>

#include "conn.h"
#include "dns.h"
#include "engine.h"
#include "http1.h"
#include "limiter.h"
#include "list.h"
#include "loop.h"
#include "pool.h"
#include "proxy.h"
#include "race.h"
#include "salvo.h"
#include "url.h"

#define REQ_MSG_LEN  256
#define REQ_HEAD_MAX (1u << 20) /* bytes of a request head (line and headers), at most */

enum req_state {
    REQ_QUEUED,     /* waiting for a global slot and room in its origin */
    REQ_RESOLVING,  /* waiting for DNS */
    REQ_WAIT_IP,    /* waiting for room at the remote address (--per-ip); no deadline */
    REQ_CONNECTING, /* the TCP connect race (to the proxy, when there is one) */
    REQ_PROXY,      /* the way through the proxy: TLS to it, the CONNECT or SOCKS5 exchange */
    REQ_TLS,        /* the TLS handshake */
    REQ_SENDING,    /* writing the request */
    REQ_RECEIVING,  /* reading the response */
    REQ_BACKOFF,    /* sleeping before a retry; holds no slot */
    REQ_DONE,       /* completed: the record waits for delivery */
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
    uint64_t t_start;          /* microseconds, monotonic: the attempt began */
    uint64_t t_phase;          /* ... the current phase began */
    uint64_t t_sent;           /* ... the request was written */
    uint64_t t_first_byte;     /* ... the first response byte arrived */
    char remote_ip[64];        /* "" when no connection was made */
    int tls_resumed;           /* -1 when no TLS */
    int reused;                /* the attempt used a pooled connection */
    int proxy_refused;         /* the proxy refused for good (tunnel.h): not retried */
    struct req_tls_facts *tls; /* valid per its own flags; made at the first TLS handshake
                                  and kept with the run state (1.2 KiB that a plain http
                                  request never needs), NULL until then */
};

/* What a request needs only once it runs: made when it first gets a slot, so that the
 * thousands of requests waiting in the input window stay small (a few hundred bytes
 * each instead of 2.5 KiB), and kept for the next request when it is done. The timers and
 * the waits belong to the asynchronous driver, which installs their callbacks. */
struct req_run {
    struct loop_timer connect_timer; /* --connect-timeout: DNS + connect + TLS */
    struct loop_timer attempt_timer; /* --max-time: the whole attempt */
    int timed;                       /* the driver installed the timers' callbacks */
    struct dns_waiter dnsw;          /* the DNS subscription */
    int dns_pending;                 /* dnsw is subscribed */
    struct race race;                /* the connect race (Happy Eyeballs) */
    struct loop_defer more;          /* reads on when TLS holds bytes the socket does not */
    struct pool_conn *pc;            /* the connection, NULL before one is won */
    int reserved;                    /* holds room in its origin */
    int replayed;                    /* a stale pooled connection was replaced */
    struct pool_ip_waiter ipw;       /* waiting for room at the remote IP */
    int to_proxy;                    /* resolving, reaching or handshaking the proxy: a
                                        failure now is the proxy's */
    char target_ip[64];              /* socks5://: the target's address, resolved here;
                                        "" before the lookup */
    int proxy_layers;                /* layers pushed for the proxy (its TLS, the tunnel) */
    struct http1 http;               /* the response parser */
    struct buf wire;                 /* the request head, per attempt */
    size_t body_sent;                /* body bytes the connection took */
    struct req_attempt a;            /* the current (last) attempt */
    char sha256[65];                 /* hex, "" when not hashed */
    int decided;                     /* the retry decision for this answer is made */
    int decided_retry;               /* ... and says: another attempt, */
    uint64_t decided_sleep;          /* ... after this sleep */
    struct req_run *next_free;       /* link in engine->run_cache */
};

/* A request body, shared by every request submitted with the same bytes (-d for a whole
 * input): a window of 10,000 waiting requests holds one copy, not 10,000. Immutable. */
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
    struct list live; /* in engine->live until completed, then in engine->completed */
    struct salvo *eng;
    enum req_state state;
    uint64_t index;            /* echoed in the result */
    char *url_shown;           /* url_buf with its password masked, NULL when it has none */
    struct url url;            /* the current URL (after redirects), when url_err is OK */
    salvo_err_t url_err;       /* why url_buf was refused, SALVO_E_OK when it parsed */
    char *url_msg;             /* the reason (malloc'd), NULL when it parsed */
    char *final_url;           /* with -L: the URL of the last hop (malloc'd) */
    struct origin *origin;     /* a reference to the current URL's origin, NULL when none */
    const struct proxy *proxy; /* the current URL's proxy (the engine's), NULL: direct */
    char *method;              /* as given, or GET / POST */
    int method_owned;          /* method is malloc'd (not a common method's name) */
    char **headers;            /* copies of the caller's header lines */
    size_t headers_len;
    struct req_body *body; /* request body (shared), NULL for none */
    int is_head;           /* HEAD: the response has no body */
    int conn_close;        /* a user header asked for Connection: close */
    int idempotent;        /* retried also after the request was sent */
    salvo_done_cb *cb;
    void *user;
    salvo_headers_cb *on_headers; /* salvo_request_ext_t's callbacks, NULL when none */
    salvo_body_cb *on_body;
    void *ext_user;
    int keep_headers; /* fill the result's headers */

    struct loop_defer refuse;        /* completes a URL that did not parse, from the loop */
    struct limiter_waiter slot;      /* waiting for a slot and room in the origin */
    int has_slot;                    /* holds one of the global slots */
    struct loop_timer backoff_timer; /* sleep between attempts */
    uint64_t backoff_ms;             /* its length, set before entering BACKOFF */
    int attempts;                    /* attempts started on the current URL */
    int redirects;                   /* redirects followed */
    int last_status;                 /* the last final status of any ended attempt, 0: none */
    uint64_t t_submit;               /* microseconds, monotonic: salvo_submit */
    uint64_t t_slot;                 /* ... the first slot */
    uint64_t t_first_attempt;        /* ... the first attempt */
    uint64_t t_done;                 /* ... completed */
    struct req_run *run;             /* NULL until the first attempt */
    struct req_log_entry *log;       /* attempts_log, with --attempt-log */
    size_t log_len, log_cap;
    salvo_err_t done_err; /* the outcome, once completed */
    char *done_msg;       /* its detail (malloc'd; NULL: the class name) */
    char url_buf[];       /* the URL as submitted, in the request's own allocation */
};

/* ---- lifetime ---------------------------------------------------------------------- */

/* Makes a request (state QUEUED). Returns 0, -ENOMEM, or -EINVAL when the options are
 * refused (why says why). A URL that does not parse is accepted: r->url_err says so,
 * and the driver completes it at once. */
int req_new(struct salvo *eng, const char *url, uint64_t index, const salvo_request_t *opt,
            salvo_done_cb *cb, void *user, struct req **out, char *why, size_t whylen);

/* Takes the per-request options of salvo_request_ext_t, as far as ext->size reaches. */
void req_set_ext(struct req *r, const salvo_request_ext_t *ext);

/* Undoes req_new for a request that could not be queued after all: no callback runs. */
void req_discard(struct req *r);

/* Takes a reference to the origin of r's current URL into r->origin (dropping the one
 * it held), and picks the proxy it goes through: connections through a proxy belong to
 * an origin of their own. Returns 0 or -ENOMEM. */
int req_take_origin(struct req *r);
void req_drop_origin(struct req *r);

/* Makes the run state (timers, parser, buffers) when the request first runs. */
int req_run_prepare(struct req *r);

/* The one exit: the request must hold nothing any more (no slot, connection, DNS
 * subscription, wait or timer of its driver's). It enters DONE, its record is fixed and
 * it joins the completion queue; req_deliver runs its callback later. Runs at most once
 * per request. */
void req_complete(struct req *r, salvo_err_t err, const char *msg);

/* Runs the callbacks of completed requests, in completion order, and frees them. The
 * engine defers it once per loop pass; the blocking driver calls it after each request. */
void req_deliver(struct salvo *eng);

/* ---- states -------------------------------------------------------------------------- */

/* The one door for every state change. detail ("" or a short reason) goes to the trace. */
void req_set_state(struct req *r, enum req_state to, const char *detail);
const char *req_state_name(enum req_state s);

/* ---- attempts ------------------------------------------------------------------------ */

/* A new attempt starts: counts it, resets the attempt record and the parser's counts. */
void req_attempt_begin(struct req *r);
void req_attempt_reset(struct req_attempt *a, uint64_t now);
/* Keeps what the record needs of a handshake (the connection may close before the
 * result is built). */
void req_capture_tls(struct req_attempt *a, struct tls *t, int handshake_done);
/* Closes the books on an attempt: its status, and its line of attempts_log. */
void req_end_attempt(struct req *r, salvo_err_t err);
/* After an attempt that ended with err (SALVO_E_OK: an answer with status): 1, with the
 * sleep to take first, when another attempt should follow (the retry rules: retryable
 * classes and answers, Retry-After, methods that may be repeated, --retry-max-time). */
int req_retry_decision(struct req *r, salvo_err_t err, int status, uint64_t *sleep_ms);
/* After http1_begin for an attempt: asks the parser for what the caller's response
 * callbacks and headers need (a pause at the final head, its fields). */
void req_expect_response(struct req *r);

/* The final head has arrived (HTTP1_HEAD): decides now whether the answer is retried
 * (the decision is kept for the end of the attempt); if it is the caller's, runs the
 * headers callback and routes the body to the body callback. Returns 0, or the error
 * class a callback asked to stop with. */
int req_response_head(struct req *r);

/* Whether a request that failed before the first response byte on a pooled connection
 * may be replayed on a fresh one (not for a sent request that is not idempotent). */
int req_may_replay(const struct req *r);

/* The class of a socket error: err is an errno, phase the state it happened in
 * (connect errors and I/O errors after the request was sent read differently). One
 * mapping for both drivers. */
salvo_err_t req_errno_class(int err, enum req_state phase);

/* Points r at the Location of its redirect answer (redirect.h's rules, applied to the
 * method, body and headers). Returns SALVO_E_OK, or a class with msg set. */
salvo_err_t req_follow_redirect(struct req *r, char *msg, size_t msglen);

/* ---- the engine's shared pieces ------------------------------------------------------ */

/* The engine's TLS context, made on first use; NULL (eng->tls_err says why) when it
 * cannot be. */
struct tls_ctx *engine_tls(struct salvo *eng);

/* Frees the engine's run-state cache and its last body (at salvo_free). */
void req_engine_free(struct salvo *eng);

#endif
