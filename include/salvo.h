/*
 * salvo.h -- the public API of libsalvo, a single-threaded asynchronous HTTP client
 * engine that fetches many URLs from many sites at once.
 *
 * Model
 *   An engine (salvo_t) owns one event loop, one DNS channel, one TLS context and every
 *   connection. The application submits requests (salvo_submit) and runs the engine
 *   (salvo_run); each submitted request produces exactly one result, delivered to its
 *   completion callback. Requests wait in FIFO order for one of the engine's slots
 *   (salvo_config_t.concurrency) and start as slots free up.
 *
 * Threading
 *   An engine is not thread-safe: call every function from the thread that runs it, with
 *   one exception, salvo_cancel(), which is also safe from a signal handler. Separate
 *   engines in separate threads are independent.
 *
 * Callback contract (as in libuv and c-ares)
 *   - If salvo_submit() fails, its callback is never invoked.
 *   - If it succeeds, the callback runs exactly once, from inside salvo_run(), also when
 *     the request is cancelled or the engine is freed (error SALVO_E_CANCELLED).
 *   - It never runs before salvo_submit() returns.
 *   - The salvo_result_t and every pointer inside it are valid only during the callback:
 *     copy what you keep.
 *   - Callbacks may call salvo_submit(), salvo_cancel() and salvo_stats(); they must not
 *     call salvo_run() or salvo_free().
 *
 * Ownership
 *   salvo_submit() copies the URL, the method, the headers and the body: the caller's
 *   memory may be freed as soon as it returns. salvo_new() copies the config and the
 *   strings it points to.
 *
 * Compatibility (libsalvo.so.0)
 *   A program built against an older header keeps working with a newer library. The
 *   structs the caller allocates (salvo_config_t, salvo_request_t, salvo_stats_t) never
 *   change their layout: new settings arrive as setter functions on the engine
 *   (salvo_set_trace). The one the library allocates and hands out (salvo_result_t)
 *   only grows at its end.
 */
#ifndef SALVO_H
#define SALVO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SALVO_API __attribute__((visibility("default")))
#else
#define SALVO_API
#endif

#define SALVO_VERSION "0.1.0"

/* Error classes. Their short names (salvo_err_name) are a stable contract: scripts
 * depend on them. Append new values only at the end, before SALVO_E_COUNT. */
typedef enum salvo_err {
    SALVO_E_OK = 0,             /* a final response was received completely */
    SALVO_E_BAD_URL,            /* not an absolute http(s) URL with a host */
    SALVO_E_UNSUPPORTED_SCHEME, /* a scheme other than http and https */
    SALVO_E_DNS,                /* the name does not resolve */
    SALVO_E_DNS_TIMEOUT,        /* a deadline passed while resolving */
    SALVO_E_CONNECT_REFUSED,    /* TCP RST to the SYN */
    SALVO_E_CONNECT_TIMEOUT,    /* a deadline passed during the TCP connect */
    SALVO_E_CONNECT_ERROR,      /* any other connect failure */
    SALVO_E_TLS_HANDSHAKE,      /* the TLS handshake failed */
    SALVO_E_TLS_VERIFY,         /* the certificate is not trusted */
    SALVO_E_TLS_TIMEOUT,        /* a deadline passed during the TLS handshake */
    SALVO_E_TIMEOUT,            /* a deadline passed after the request was sent */
    SALVO_E_RESET,              /* the peer reset the connection after the request was sent */
    SALVO_E_EMPTY_REPLY,        /* the connection closed before any response byte */
    SALVO_E_PARTIAL,            /* the connection closed before the body's declared end */
    SALVO_E_PROTOCOL,           /* a malformed or ambiguous response */
    SALVO_E_TOO_LARGE,          /* headers over 64 KiB or body over max_filesize */
    SALVO_E_DECODE,             /* a corrupt gzip/deflate body */
    SALVO_E_REDIRECT_LIMIT,     /* more than max_redirs redirects */
    SALVO_E_BAD_REDIRECT,       /* a missing, invalid or non-http(s) Location */
    SALVO_E_RESOURCE,           /* a local limit: fds, memory, ephemeral ports */
    SALVO_E_CANCELLED,          /* the run was interrupted before the request finished */
    SALVO_E_ABORTED,            /* the caller stopped the transfer from a response callback */
    SALVO_E_BAD_INPUT,          /* an input line that does not describe a request (the CLI) */
    SALVO_E_PROXY,              /* a failure before the tunnel through the proxy was up */
    SALVO_E_COUNT               /* number of classes; not a class */
} salvo_err_t;

/* The stable short name of an error class ("dns", "connect_refused", ...), or "?" for
 * a value out of range. SALVO_E_OK has the name "ok". */
SALVO_API const char *salvo_err_name(salvo_err_t err);

/* Non-zero when a failure of this class may be retried (CONTRACT.md, "Error classes"). */
SALVO_API int salvo_err_retryable(salvo_err_t err);

/* One attempt, as reported with salvo_config_t.attempt_log. Times are milliseconds,
 * negative when the phase did not run. */
typedef struct salvo_attempt {
    salvo_err_t error; /* class of this attempt's failure, SALVO_E_OK when none */
    int status;        /* final status received, 0 when none */
    double dns_ms;     /* phase durations of this attempt; < 0: did not run */
    double connect_ms;
    double tls_ms;
    double ttfb_ms;
    const char *remote_ip; /* NULL when no connection was made */
    int reused;            /* the attempt used a pooled connection */
    double backoff_ms;     /* sleep after this attempt, < 0 when none followed */
} salvo_attempt_t;

/* The outcome of one request. Valid only during the completion callback.
 * Durations are milliseconds; a negative duration means "does not apply" (JSON null).
 * Tri-state ints (reused, tls_resumed) use -1 for "does not apply". */
typedef struct salvo_result {
    uint64_t index;        /* the tag given to salvo_submit (the CLI: input position) */
    const char *url;       /* the URL as submitted, a password in it shown as "***" */
    int ok;                /* error == SALVO_E_OK and 0 < status < 400 */
    int status;            /* last final status whose headers arrived, in any attempt or
                              redirect hop; 0 when none */
    salvo_err_t error;     /* SALVO_E_OK when a final response was received whole */
    const char *message;   /* human detail for the error, NULL when none */
    int attempts;          /* attempts made; 0 when none started */
    const char *remote_ip; /* address of the last connection used, NULL when none */
    uint64_t bytes;        /* decoded body bytes received */
    uint64_t wire_bytes;   /* body bytes as they crossed the wire */
    double queue_ms;       /* waiting for a slot before the first attempt */
    double dns_ms;         /* phases of the final attempt */
    double connect_ms;
    double tls_ms;
    double ttfb_ms;          /* request sent to first response byte */
    double transfer_ms;      /* first response byte to last body byte */
    double total_ms;         /* slot acquired to done, all attempts and backoffs included */
    int reused;              /* final attempt used a pooled connection; -1: n/a */
    const char *tls_version; /* negotiated TLS facts, NULL for plain HTTP */
    const char *tls_cipher;
    const char *alpn;
    int tls_resumed;         /* -1: n/a */
    const char *cert_expiry; /* ISO-8601 UTC, leaf notAfter */
    const char *chain_expiry;
    int64_t cert_days_left; /* valid only when cert_expiry is not NULL */
    const char *cert_subject;
    const char *cert_issuer;
    const char *final_url;               /* after redirects; NULL when not following */
    int redirects;                       /* redirects followed */
    const char *sha256;                  /* hex digest of the decoded body, with config.hash */
    const salvo_attempt_t *attempts_log; /* with config.attempt_log; else NULL */
    size_t attempts_log_len;
    /* Fields below were added after 0.1.0; a program built against an older header
     * simply does not see them (the library allocates the struct). */
    double start_ms; /* when the request got its slot, ms from the start of the run;
                        negative when it never got one: a waterfall's x axis */
    const struct salvo_header *headers; /* with salvo_request_ext_t.keep_headers: the final
                                           response's header fields, in order; else NULL */
    size_t headers_len;
    const char *proxy; /* the proxy of the final attempt, "scheme://host:port" without
                          credentials; NULL when none. remote_ip is then the proxy's
                          address, and the TLS facts are the origin's */
} salvo_result_t;

/* One response header field, as received (the name's case kept, the value without the
 * white space around it). */
typedef struct salvo_header {
    const char *name;
    const char *value;
} salvo_header_t;

typedef struct salvo salvo_t;

/* Called once per submitted request; see the callback contract above. */
typedef void salvo_done_cb(const salvo_result_t *result, void *user);

/* Called by salvo_run() whenever the engine can take more requests without exceeding
 * its input window: submit up to `room` requests with salvo_submit() and return 0, or
 * return 1 once the input is exhausted (the feed is then never called again). Returning
 * 0 without submitting anything also ends the input. This is
 * how a caller streams an input of any length through a bounded amount of memory. */
typedef int salvo_feed_cb(salvo_t *engine, size_t room, void *user);

typedef struct salvo_config {
    int concurrency;            /* global slots: requests in flight at once */
    size_t window;              /* requests waiting for a slot; 0: max(10*concurrency, 10000) */
    double max_time;            /* seconds: one attempt, start to last body byte */
    double connect_timeout;     /* seconds: DNS + TCP connect + TLS of one attempt */
    int retry;                  /* retries after the first attempt */
    double retry_backoff;       /* seconds: base of the exponential backoff */
    double retry_backoff_max;   /* seconds: cap of one backoff sleep */
    double retry_max_time;      /* seconds: no attempt starts later than this after the first */
    int retry_non_idempotent;   /* retry POST and friends also after they were sent */
    uint64_t max_filesize;      /* cap on decoded body bytes */
    const char *const *resolve; /* "HOST:PORT:ADDR" pins, as curl's --resolve */
    size_t resolve_len;
    const char *dns_servers; /* "ADDR[:PORT][,...]"; NULL: /etc/resolv.conf */
    int hash;                /* compute sha256 of the decoded body */
    int insecure;            /* TLS: skip certificate verification */
    const char *cacert;      /* TLS: extra CA bundle to trust; read by salvo_new, which
                                fails when it cannot be used */
    int per_host;            /* open connections per origin; 0 (the default): no cap */
    int per_ip;              /* open connections per remote IP; 0 (the default): no cap */
    int keepalive;           /* reuse connections */
    double idle_timeout;     /* seconds an idle pooled connection lives */
    int max_idle;            /* idle pooled connections kept in all */
    int follow_redirects;    /* follow 3xx Location */
    int max_redirs;          /* redirects followed at most */
    int attempt_log;         /* fill salvo_result_t.attempts_log */
    const char *user_agent;  /* NULL: "salvo/" SALVO_VERSION */
    double debug_loop_ms;    /* > 0: report loop callbacks that run longer */
    int blocking;            /* the blocking baseline: one request at a time with blocking
                                getaddrinfo, connect, SSL_connect and recv; the same
                                records, for comparison (bench/) */
    salvo_feed_cb *feed;     /* optional lazy input, see salvo_feed_cb */
    void *feed_user;
} salvo_config_t;

/* Fills a config with the defaults of the salvo CLI (CONTRACT.md). */
SALVO_API void salvo_config_init(salvo_config_t *config);

/* Creates an engine. Returns 0, or -1 with a one-line reason in err. Also raises the
 * process's soft fd limit to the hard limit and, when concurrency still cannot fit,
 * lowers it and says so in warn (if warn is not NULL and warnlen > 0; "" when all is
 * well). */
SALVO_API int salvo_new(salvo_t **engine, const salvo_config_t *config, char *err, size_t errlen,
                        char *warn, size_t warnlen);

/* Per-request options. A zeroed struct means GET with no extra header and no body. */
typedef struct salvo_request {
    const char *method;         /* NULL: "GET", or "POST" when body is set */
    const char *const *headers; /* "Name: value" lines */
    size_t headers_len;
    const void *body; /* request body, NULL for none */
    size_t body_len;
} salvo_request_t;

/* A response's head, for salvo_headers_cb. Valid during the callback only. */
typedef struct salvo_response {
    uint64_t index;                /* the request's index */
    int status;                    /* the final status (interim 1xx responses are done) */
    const salvo_header_t *headers; /* its header fields, in order */
    size_t headers_len;
    int attempt; /* 1, 2, ...: a later call for the same request means a new attempt
                    after a failure mid-body; what the body callback got so far is void */
} salvo_response_t;

/* Called when the final response's head has arrived, before its body, and again should
 * a retry after a failure mid-body deliver another one. Not called for a response that
 * salvo will not hand over: one it retries (a 503 with retries left) or a redirect it
 * follows. Return 0 to go on; any other value ends the request with that error class
 * (SALVO_E_ABORTED, or SALVO_E_RESOURCE for a local failure such as a full disk), and
 * the connection is closed, not reused. */
typedef int salvo_headers_cb(const salvo_response_t *response, void *user);

/* Called with the decoded body in pieces, as it arrives (after the head's callback);
 * len > 0. Return as for salvo_headers_cb. */
typedef int salvo_body_cb(uint64_t index, const void *data, size_t len, void *user);

/* Per-request options added after 0.1.0, for salvo_submit_ext. `size` is what the
 * caller's header says sizeof(salvo_request_ext_t) is: the library reads only the fields
 * that fit, so the struct can grow. Zero it, set size, then the fields wanted. Both
 * callbacks run from inside salvo_run while the transfer goes on (not through the
 * completion queue), never from inside the HTTP parser or TLS, and may call
 * salvo_submit, salvo_cancel and salvo_stats. */
typedef struct salvo_request_ext {
    size_t size;                  /* sizeof(salvo_request_ext_t) */
    salvo_headers_cb *on_headers; /* NULL: none */
    salvo_body_cb *on_body;       /* NULL: none */
    void *user;                   /* given to both callbacks */
    int keep_headers;             /* fill salvo_result_t.headers */
} salvo_request_ext_t;

/* salvo_submit with per-request options added since 0.1.0 (ext may be NULL). */
SALVO_API int salvo_submit_ext(salvo_t *engine, const char *url, uint64_t index,
                               const salvo_request_t *request, const salvo_request_ext_t *ext,
                               salvo_done_cb *cb, void *user);

/* For a feed whose input is a non-blocking fd (a pipe, say) with no whole line yet: call
 * from inside the feed, then return 0. The engine calls the feed again once fd is
 * readable, and meanwhile keeps running; without this, returning 0 having submitted
 * nothing ends the input. Returns 0, or -1 when fd cannot be watched. */
SALVO_API int salvo_feed_wait(salvo_t *engine, int fd);

/* Queues a request. `index` is echoed in the result. Returns 0, or -1 (the callback then
 * never runs, and salvo_last_error says why) when the engine is shutting down, memory
 * ran out, or the request is refused as salvo_request_check refuses it. A URL that does
 * not parse is accepted and completes with SALVO_E_BAD_URL or SALVO_E_UNSUPPORTED_SCHEME. */
SALVO_API int salvo_submit(salvo_t *engine, const char *url, uint64_t index,
                           const salvo_request_t *request, salvo_done_cb *cb, void *user);

/* Checks per-request options as salvo_submit does, without an engine (so that a program
 * can refuse bad input before it sends anything): the method must be an HTTP token; each
 * header a "Name: value" line whose name is a token and whose value holds no control
 * byte but tab; Content-Length and Transfer-Encoding headers are refused (salvo frames
 * the body itself) and a Connection header may only say close or keep-alive. Returns 0,
 * or -1 with a one-line reason in err. */
SALVO_API int salvo_request_check(const salvo_request_t *request, char *err, size_t errlen);

/* The origin salvo pools and paces url under, as "scheme://host:port": scheme and host in
 * lower case, the host without a trailing dot, the port always written (the scheme's
 * default when the URL names none) and an IPv6 host in brackets. Two URLs share
 * connections and politeness exactly when their origins are equal, so a program that
 * splits a URL list between processes by origin keeps each site in one process.
 * Returns the length written to out (NUL-terminated), or -1 when url is not one salvo
 * would fetch (its result would be bad_url or unsupported_scheme) or out is too small. */
SALVO_API int salvo_url_origin(const char *url, char *out, size_t outlen);

/* url with the password of its userinfo ("user:pass@") replaced by "***", as results and
 * messages show it (a URL with no password is copied as it is). Returns the length
 * written to out (NUL-terminated), or -1 when out is too small: strlen(url) + 4 bytes
 * are always enough. */
SALVO_API int salvo_url_mask(const char *url, char *out, size_t outlen);

/* The value of an Authorization header for HTTP Basic credentials (RFC 7617): "Basic "
 * and the base64 of "user:password" (the command line's -u). Returns the length written
 * to out (NUL-terminated), or -1 when out is too small: 4 * (strlen(user) +
 * strlen(password) + 3) / 3 + 8 bytes are always enough. */
SALVO_API int salvo_basic_auth(const char *user, const char *password, char *out, size_t outlen);

/* Why the last salvo_submit on this engine returned -1 ("" before any failure). Valid
 * until the next call on the engine. */
SALVO_API const char *salvo_last_error(const salvo_t *engine);

/* Runs the loop until every submitted request is done and the feed is exhausted, or
 * until a cancel has been completed. Returns 0, or -1 on an engine failure. */
SALVO_API int salvo_run(salvo_t *engine);

/* Has the next salvo_run ask the feed again, after it returned 1: for a program that goes
 * over its input repeatedly (a monitor's rounds) on one engine, so that pooled
 * connections, TLS sessions and the DNS cache stay warm between rounds. Call it between
 * two salvo_run calls. Returns 0, or -1 while running or once the engine is cancelled. */
SALVO_API int salvo_feed_again(salvo_t *engine);

/* Stops the run: requests not yet finished complete with SALVO_E_CANCELLED, the feed is
 * not called again, and salvo_run() returns. Async-signal-safe. A cancelled engine takes
 * no new request (salvo_submit fails) and a later salvo_run returns at once. */
SALVO_API void salvo_cancel(salvo_t *engine);

/* Engine counters, for tests, dashboards and --stats. */
typedef struct salvo_stats {
    uint64_t submitted;            /* requests accepted by salvo_submit */
    uint64_t completed;            /* callbacks run */
    uint64_t in_flight;            /* requests holding a slot now */
    uint64_t max_in_flight;        /* the most that ever held a slot at once */
    uint64_t queued;               /* requests waiting for a slot now */
    uint64_t attempts;             /* attempts started */
    uint64_t retries;              /* attempts after the first */
    uint64_t dns_queries;          /* lookups sent to a resolver */
    uint64_t dns_cache_hits;       /* lookups answered from the cache or a pin */
    uint64_t connections_opened;   /* TCP connections started */
    uint64_t connections_reused;   /* requests served on a pooled connection */
    uint64_t max_open_connections; /* the most connections open at once */
    uint64_t bytes_received;       /* body bytes on the wire, all requests */
    int concurrency;               /* effective global slots (after the fd-limit check) */
    double loop_max_lag_ms;        /* the longest a loop callback held the thread */
} salvo_stats_t;

SALVO_API void salvo_stats(const salvo_t *engine, salvo_stats_t *stats);

/* One state change of a request, for salvo_set_trace. The strings are static names
 * ("queued", "resolving", "wait_ip", "connecting", "proxy", "tls", "sending",
 * "receiving", "backoff", "done"; "proxy" is the way through a proxy: TLS to it, the
 * CONNECT or SOCKS5 exchange) and a short detail ("" when none); valid during the callback. */
typedef struct salvo_transition {
    uint64_t index;     /* the request's index */
    double t_ms;        /* milliseconds from the start of the run */
    const char *from;   /* the state left */
    const char *to;     /* the state entered */
    const char *detail; /* why, when there is something to say */
} salvo_transition_t;

/* Called for every state change of every request, from inside salvo_run; it must not
 * call back into the engine. */
typedef void salvo_trace_cb(const salvo_transition_t *t, void *user);

/* Watches the life of every request: cb (NULL: stop) is called once per state change.
 * A setter rather than a config field, so that salvo_config_t keeps its layout. */
SALVO_API void salvo_set_trace(salvo_t *engine, salvo_trace_cb *cb, void *user);

/* Sends requests through proxies (as curl's -x, --noproxy): http_proxy for http://
 * targets, https_proxy for https:// targets (either NULL or "" for none), each a URL
 * "scheme://[user:pass@]host[:port]" with scheme http (absolute-form requests; https
 * targets through a CONNECT tunnel), https (the same over TLS to the proxy, verified as
 * targets are), socks5 (the target's name resolved here) or socks5h (resolved by the
 * proxy); no scheme means http, no port 1080 (443 for https). TLS to an https target is
 * always end to end, verified against the target. noproxy lists the hosts that go
 * direct: names (a name matches itself and its subdomains; a leading dot is ignored), IP
 * addresses or CIDR ranges, separated by commas or spaces; "*" alone matches all.
 * Connections through a proxy are pooled apart from direct ones, per proxy and target.
 * Credentials go to the proxy only, never into a result. Call before salvo_run; a later
 * call replaces the settings for requests queued afterwards. Returns 0, or -1 with a
 * one-line reason in err (which never holds a password); the blocking baseline has no
 * proxy support and refuses any. */
SALVO_API int salvo_set_proxy(salvo_t *engine, const char *http_proxy, const char *https_proxy,
                              const char *noproxy, char *err, size_t errlen);

/* Paces the starts of attempts (first attempts, retries, redirect hops and replays on a
 * fresh connection alike): at most starts_per_second for the whole engine and at most
 * per_origin_starts_per_second per origin (scheme, host and port, as salvo_url_origin
 * writes it), evenly: starts are at least 1/rate apart, and a quiet spell earns no burst.
 * 0 turns a pace off (the default). A request waiting for its start holds no slot, and a
 * paced origin never holds the others back. The blocking baseline sleeps before each
 * attempt instead. Returns 0, or -1 (nothing changed) for a negative or non-finite rate,
 * or one slower than one start a year. Call it before salvo_run or between runs. */
SALVO_API int salvo_set_rate(salvo_t *engine, double starts_per_second,
                             double per_origin_starts_per_second);

/* Connects over one IP version only: 4 (IPv4 addresses only), 6 (IPv6 only) or 0 (both,
 * the default: the Happy Eyeballs race). Every answer is filtered, --resolve pins and IP
 * literals included; a name left with no address fails with SALVO_E_DNS and a message
 * such as "example.com: no IPv6 address". Returns 0, or -1 for another value. Call it
 * before salvo_run or between runs. */
SALVO_API int salvo_set_family(salvo_t *engine, int family);

/* Called after each batch of completion callbacks: the results of one loop pass have all
 * been delivered. A program that writes results can flush its output here, once per
 * batch, rather than once per result (a write per result costs a system call each).
 * Like a completion callback, it may call salvo_submit, salvo_cancel and salvo_stats. */
typedef void salvo_batch_cb(void *user);

/* Sets (cb NULL: removes) the batch callback. A setter, so that salvo_config_t keeps its
 * layout. */
SALVO_API void salvo_set_batch_end(salvo_t *engine, salvo_batch_cb *cb, void *user);

/* Frees the engine. Requests still queued or in flight complete with
 * SALVO_E_CANCELLED first. Every fd the engine opened is closed on return. */
SALVO_API void salvo_free(salvo_t *engine);

#ifdef __cplusplus
}
#endif
#endif /* SALVO_H */
