/*
 * tls.c -- TLS client connections over OpenSSL 3.0 memory BIOs (see tls.h).
 *
 * This module owns the engine's SSL_CTX, one SSL per connection with its two memory
 * BIOs (the SSL owns them after SSL_set_bio; we keep borrowed pointers), and the
 * per-origin session cache. It never touches a file descriptor: ciphertext comes in
 * through tls_feed and leaves through the `out` buffer of every call, which is drained
 * from the write BIO after EVERY SSL_* call, reads included, because alerts, the client
 * Finished and KeyUpdate replies are produced by calls that return no data.
 *
 * OpenSSL's own rules apply throughout (SSL_get_error(3)): the error queue is cleared before
 * each SSL_* I/O call and SSL_get_error is called right after it; SSL_shutdown is never
 * called after SSL_ERROR_SSL or SSL_ERROR_SYSCALL.
 *
 * Not thread-safe. Re-entrancy: OpenSSL calls new_session() from inside SSL_do_handshake
 * and SSL_read; it only touches the session cache of the tls_ctx. A tls_ctx must outlive
 * every struct tls made from it.
 */
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Origins whose latest session we remember. Past this the oldest entry is replaced: a
 * run over more origins than this resumes less, it never grows without bound. */
#define SESS_MAX 1024
/* Sessions kept per origin. A TLS 1.3 ticket is used once, and servers send two or more
 * per connection (nginx and OpenSSL send two): keeping several lets concurrent
 * connections to one origin all resume, where one per origin resumed about a third of
 * them at -c 50 (bench/tls_handshake.sh). */
#define SESS_PER_ORIGIN 8
/* Hash buckets for the session cache; a power of two, twice SESS_MAX, so chains stay
 * short. */
#define SESS_BUCKETS 2048
/* Longest host name we accept (RFC 1035 allows 253 characters plus a trailing dot). */
#define HOST_MAX 256
/* Longest ALPN protocol id (a one-byte length prefix on the wire), plus the NUL. */
#define ALPN_MAX 256

static const unsigned char alpn_http11[] = "\x08http/1.1";

struct sess_entry {
    char *key;                          /* origin_key, malloc'd; NULL while free */
    SSL_SESSION *sess[SESS_PER_ORIGIN]; /* one reference each, owned; newest last */
    int n;                              /* sessions in sess */
    uint64_t stamp;                     /* last store: the smallest is evicted first */
    int next;                           /* next in the bucket chain (or free list), -1 ends */
};

struct tls_ctx {
    SSL_CTX *ssl_ctx;
    int insecure;                     /* verification off: never a tls_verify error */
    struct sess_entry sess[SESS_MAX]; /* the session cache, one entry per origin */
    int bucket[SESS_BUCKETS];         /* first entry of each chain, -1 when empty */
    int free_head;                    /* first free entry, -1 when the cache is full */
    uint64_t stamp;                   /* last stamp handed out */
};

struct tls {
    struct tls_ctx *ctx; /* borrowed; outlives us */
    SSL *ssl;
    BIO *rbio;           /* borrowed from ssl: ciphertext from the peer */
    BIO *wbio;           /* borrowed from ssl: ciphertext for the peer */
    char *origin_key;    /* session cache key, malloc'd, NULL when none */
    int dead;            /* SSL_ERROR_SSL/SYSCALL seen: no SSL_shutdown any more */
    int shut;            /* our close_notify was queued */
    int certs_done;      /* certificate facts recorded */
    salvo_err_t err;     /* class of the last TLS_ERROR */
    char reason[256];    /* its one-line reason; fixed, so error paths never allocate */
    char alpn[ALPN_MAX]; /* the negotiated protocol, NUL-terminated */
    struct tls_info info;
};

/* ---- session cache ------------------------------------------------------------------ */

static unsigned hash_key(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h & (SESS_BUCKETS - 1);
}

static void sess_init(struct tls_ctx *ctx)
{
    for (int i = 0; i < SESS_BUCKETS; i++)
        ctx->bucket[i] = -1;
    for (int i = 0; i < SESS_MAX; i++)
        ctx->sess[i].next = i + 1 < SESS_MAX ? i + 1 : -1;
    ctx->free_head = 0;
}

/* Returns the entry for key, or -1. */
static int sess_find(const struct tls_ctx *ctx, const char *key)
{
    for (int i = ctx->bucket[hash_key(key)]; i >= 0; i = ctx->sess[i].next)
        if (strcmp(ctx->sess[i].key, key) == 0)
            return i;
    return -1;
}

/* Unlinks entry i from its chain, drops its session and puts it on the free list. */
static void sess_remove(struct tls_ctx *ctx, int i)
{
    struct sess_entry *e = &ctx->sess[i];
    int *link = &ctx->bucket[hash_key(e->key)];

    while (*link != i)
        link = &ctx->sess[*link].next;
    *link = e->next;
    free(e->key);
    e->key = NULL;
    for (int k = 0; k < e->n; k++)
        SSL_SESSION_free(e->sess[k]);
    e->n = 0;
    e->next = ctx->free_head;
    ctx->free_head = i;
}

/* Makes room by dropping the oldest entry. O(SESS_MAX), and only when the cache is full:
 * an accepted cost next to the handshake that produced the new session. */
static void sess_evict_oldest(struct tls_ctx *ctx)
{
    int oldest = 0;
    for (int i = 1; i < SESS_MAX; i++)
        if (ctx->sess[i].stamp < ctx->sess[oldest].stamp)
            oldest = i;
    sess_remove(ctx, oldest);
}

/* Stores sess (taking its reference) among the sessions of key, dropping the oldest
 * when they are SESS_PER_ORIGIN already. Returns 0, or -ENOMEM when the reference was
 * not taken. */
static int sess_put(struct tls_ctx *ctx, const char *key, SSL_SESSION *sess)
{
    int i = sess_find(ctx, key);

    if (i < 0) {
        char *k = strdup(key);
        if (k == NULL)
            return -ENOMEM;
        if (ctx->free_head < 0)
            sess_evict_oldest(ctx);
        i = ctx->free_head;
        ctx->free_head = ctx->sess[i].next;
        ctx->sess[i].key = k;
        ctx->sess[i].next = ctx->bucket[hash_key(k)];
        ctx->bucket[hash_key(k)] = i;
    }
    struct sess_entry *e = &ctx->sess[i];
    if (e->n == SESS_PER_ORIGIN) {
        SSL_SESSION_free(e->sess[0]);
        memmove(e->sess, e->sess + 1, (SESS_PER_ORIGIN - 1) * sizeof e->sess[0]);
        e->n--;
    }
    e->sess[e->n++] = sess;
    e->stamp = ++ctx->stamp;
    return 0;
}

/* Returns a reference (the caller frees it) to the newest session stored for key, or
 * NULL. A TLS 1.3 session is taken out of the cache: its ticket should be used only once
 * (SSL_get_session(3)); a TLS 1.2 session stays for the next connection. */
static SSL_SESSION *sess_take(struct tls_ctx *ctx, const char *key)
{
    int i = sess_find(ctx, key);
    if (i < 0)
        return NULL;
    struct sess_entry *e = &ctx->sess[i];
    SSL_SESSION *s = NULL;
    while (e->n > 0 && s == NULL) {
        s = e->sess[e->n - 1];
        /* OpenSSL marks a session not resumable when a connection using it is freed
         * without a clean shutdown (a possible truncation attack): forget it. */
        if (!SSL_SESSION_is_resumable(s)) {
            SSL_SESSION_free(s);
            e->n--;
            s = NULL;
        } else if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION) {
            e->n--; /* the cache's reference moves to the caller */
        } else {
            SSL_SESSION_up_ref(s);
        }
    }
    if (e->n == 0)
        sess_remove(ctx, i);
    return s;
}

/* OpenSSL's new-session callback: returning 1 keeps the reference it hands us. In TLS
 * 1.3 it runs from SSL_read when a ticket arrives after the handshake. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct tls *t = SSL_get_app_data(ssl);

    if (t == NULL || t->origin_key == NULL || !SSL_SESSION_is_resumable(sess))
        return 0;
    return sess_put(t->ctx, t->origin_key, sess) == 0;
}

/* ---- context ------------------------------------------------------------------------ */

/* Copies the reason of the first queued OpenSSL error (or dflt) and clears the queue. */
static void openssl_reason(char *dst, size_t len, const char *dflt)
{
    unsigned long code = ERR_peek_error();
    const char *r = code != 0 ? ERR_reason_error_string(code) : NULL;

    if (r != NULL)
        snprintf(dst, len, "%s", r);
    else if (code != 0)
        ERR_error_string_n(code, dst, len);
    else
        snprintf(dst, len, "%s", dflt);
    ERR_clear_error();
}

static int parse_version(const char *s)
{
    static const struct {
        const char *name;
        int version;
    } names[] = {{"TLSv1", TLS1_VERSION},
                 {"TLSv1.0", TLS1_VERSION},
                 {"TLSv1.1", TLS1_1_VERSION},
                 {"TLSv1.2", TLS1_2_VERSION},
                 {"TLSv1.3", TLS1_3_VERSION}};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].version;
    return 0;
}

/* Sets the minimum protocol version: TLS 1.2, unless a test overrides it. */
static int set_min_version(SSL_CTX *c, const char *override, char *err, size_t errlen)
{
    int v = TLS1_2_VERSION;

    if (override != NULL) {
        v = parse_version(override);
        if (v == 0) {
            snprintf(err, errlen, "unknown TLS version '%s'", override);
            return -1;
        }
        /* OpenSSL 3.0's default security level refuses TLS 1.0/1.1 outright; an override
         * below 1.2 exists only so that tests can prove the default is what refuses. */
        if (v < TLS1_2_VERSION)
            SSL_CTX_set_security_level(c, 0);
    }
    if (SSL_CTX_set_min_proto_version(c, v) != 1) {
        snprintf(err, errlen, "cannot set the minimum TLS version");
        return -1;
    }
    return 0;
}

/* The trust store: the system's default paths, plus --cacert. */
static int load_trust(SSL_CTX *c, const char *cacert, char *err, size_t errlen)
{
    char why[160];

    /* The system's trust store as its hashed directory, read lazily (one file per issuer,
     * cached in the store), rather than SSL_CTX_set_default_verify_paths, which also
     * parses the whole bundle file: Debian's took about 60 ms of CPU, inside the event
     * loop, on the first https request of a run, stalling every other one. The same
     * environment overrides are honoured (SSL_CERT_DIR, SSL_CERT_FILE). */
    const char *dir = getenv(X509_get_default_cert_dir_env());
    const char *file = getenv(X509_get_default_cert_file_env());
    if (SSL_CTX_load_verify_dir(c, dir != NULL ? dir : X509_get_default_cert_dir()) != 1 ||
        (file != NULL && SSL_CTX_load_verify_file(c, file) != 1)) {
        openssl_reason(why, sizeof why, "unknown error");
        snprintf(err, errlen, "cannot load the system's CA certificates: %s", why);
        return -1;
    }
    if (cacert != NULL && SSL_CTX_load_verify_locations(c, cacert, NULL) != 1) {
        openssl_reason(why, sizeof why, "no certificate found");
        snprintf(err, errlen, "cannot load CA file '%s': %s", cacert, why);
        return -1;
    }
    return 0;
}

int tls_ctx_new(struct tls_ctx **out, const struct tls_ctx_config *cfg, char *err, size_t errlen)
{
    static const struct tls_ctx_config defaults = {0, NULL, NULL};
    struct tls_ctx *ctx = calloc(1, sizeof *ctx);
    SSL_CTX *c = NULL;

    *out = NULL;
    if (cfg == NULL)
        cfg = &defaults;
    if (ctx == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ERR_clear_error();
    c = SSL_CTX_new(TLS_client_method());
    if (c == NULL) {
        openssl_reason(err, errlen, "SSL_CTX_new failed");
        goto fail;
    }
    if (set_min_version(c, cfg->min_version_override, err, errlen) < 0 ||
        load_trust(c, cfg->cacert, err, errlen) < 0)
        goto fail;
    SSL_CTX_set_verify(c, cfg->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    /* Unlike nearly every other OpenSSL call, this one returns 0 on success. */
    if (SSL_CTX_set_alpn_protos(c, alpn_http11, sizeof alpn_http11 - 1) != 0) {
        snprintf(err, errlen, "cannot set ALPN");
        goto fail;
    }
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c, new_session);
    ctx->ssl_ctx = c;
    ctx->insecure = cfg->insecure;
    sess_init(ctx);
    *out = ctx;
    return 0;
fail:
    SSL_CTX_free(c);
    free(ctx);
    ERR_clear_error();
    return -1;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    for (int i = 0; i < SESS_MAX; i++)
        if (ctx->sess[i].key != NULL)
            sess_remove(ctx, i);
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* ---- connection setup --------------------------------------------------------------- */

/* Names: SNI tells the server which certificate to send; SSL_set1_host makes the
 * verification check that the certificate names this host. Both get the host in lower
 * case without a trailing dot. */
static int set_name(SSL *ssl, const char *host, char *err, size_t errlen)
{
    char name[HOST_MAX];
    size_t n = strlen(host);

    if (n > 0 && host[n - 1] == '.')
        n--;
    if (n == 0 || n >= sizeof name) {
        snprintf(err, errlen, "invalid TLS host name");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        name[i] = (host[i] >= 'A' && host[i] <= 'Z') ? (char)(host[i] - 'A' + 'a') : host[i];
    name[n] = '\0';
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set1_host(ssl, name) != 1) {
        snprintf(err, errlen, "cannot set TLS host name '%s'", name);
        return -1;
    }
    return 0;
}

/* IP literals: no SNI (RFC 6066 forbids it), and the certificate must list the address.
 * If this failed silently, any certificate from a trusted CA would be accepted, so a
 * failure is fatal. */
static int set_ip(SSL *ssl, const char *host, char *err, size_t errlen)
{
    char ip[64];
    size_t n = strlen(host);

    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof ip) {
        snprintf(err, errlen, "invalid IP address");
        return -1;
    }
    memcpy(ip, host, n);
    ip[n] = '\0';
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) != 1) {
        snprintf(err, errlen, "invalid IP address '%s'", ip);
        return -1;
    }
    return 0;
}

struct tls *tls_new(struct tls_ctx *ctx, const char *host, int host_is_ip, const char *origin_key,
                    char *err, size_t errlen)
{
    struct tls *t = calloc(1, sizeof *t);
    BIO *r = NULL, *w = NULL;
    SSL_SESSION *sess;

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ERR_clear_error();
    t->ctx = ctx;
    t->ssl = SSL_new(ctx->ssl_ctx);
    r = BIO_new(BIO_s_mem());
    w = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || r == NULL || w == NULL ||
        (origin_key != NULL && (t->origin_key = strdup(origin_key)) == NULL)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    SSL_set_bio(t->ssl, r, w); /* the SSL owns both BIOs from here on */
    t->rbio = r;
    t->wbio = w;
    r = w = NULL;
    SSL_set_connect_state(t->ssl);
    SSL_set_app_data(t->ssl, t);
    if ((host_is_ip ? set_ip : set_name)(t->ssl, host, err, errlen) < 0)
        goto fail;
    sess = origin_key != NULL ? sess_take(ctx, origin_key) : NULL;
    if (sess != NULL) {
        /* A session that does not fit (say, another protocol version) only costs a
         * full handshake, so the result is not an error. */
        (void)SSL_set_session(t->ssl, sess);
        SSL_SESSION_free(sess);
    }
    ERR_clear_error();
    return t;
fail:
    BIO_free(r);
    BIO_free(w);
    tls_free(t);
    ERR_clear_error();
    return NULL;
}

/* ---- ciphertext in and out ---------------------------------------------------------- */

int tls_feed(struct tls *t, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        int n = BIO_write(t->rbio, p, chunk);
        if (n <= 0)
            return -ENOMEM; /* a memory BIO fails only when it cannot grow */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void tls_feed_eof(struct tls *t)
{
    /* From now on an empty read BIO reads as EOF instead of "retry later". */
    BIO_set_mem_eof_return(t->rbio, 0);
}

/* Moves everything the SSL wrote into out, in one copy (no BIO_read per chunk), then
 * empties the write BIO. Returns 0, or a negative errno when out cannot take it. */
static int drain(struct tls *t, struct buf *out)
{
    char *p;
    long n = BIO_get_mem_data(t->wbio, &p);
    int rc;

    if (n <= 0)
        return 0;
    rc = buf_append(out, p, (size_t)n);
    if (rc == 0)
        (void)BIO_reset(t->wbio);
    return rc;
}

/* Records a failure of this connection and returns TLS_ERROR. */
static enum tls_rc fail_with(struct tls *t, salvo_err_t cls, const char *reason)
{
    t->dead = 1;
    t->err = cls;
    snprintf(t->reason, sizeof t->reason, "%s", reason);
    return TLS_ERROR;
}

static enum tls_rc fail_drain(struct tls *t, int rc)
{
    return fail_with(t, SALVO_E_TLS_HANDSHAKE,
                     rc == -E2BIG ? "TLS output buffer full" : "out of memory");
}

/* ---- certificate facts -------------------------------------------------------------- */

static int format_time(const ASN1_TIME *a, char *dst, size_t len, struct tm *tm)
{
    if (ASN1_TIME_to_tm(a, tm) != 1)
        return -1;
    return strftime(dst, len, "%Y-%m-%dT%H:%M:%SZ", tm) > 0 ? 0 : -1;
}

/* floor((when - now) / 1 day): negative once the certificate has expired. */
static int64_t days_left(struct tm *when)
{
    int64_t secs = (int64_t)timegm(when) - (int64_t)time(NULL);
    return secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
}

/* An X509 name in RFC 2253 form, malloc'd, or NULL. */
static char *name_string(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p, *s = NULL;
    long n;

    if (b == NULL)
        return NULL;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
        n = BIO_get_mem_data(b, &p);
        s = malloc((size_t)(n > 0 ? n : 0) + 1);
        if (s != NULL) {
            memcpy(s, p, (size_t)(n > 0 ? n : 0));
            s[n > 0 ? n : 0] = '\0';
        }
    }
    BIO_free(b);
    return s;
}

/* The chain to report: the verified one (leaf to trust anchor) when verification
 * passed, else the chain as the server sent it. A resumed session has no verified
 * chain; its stored peer chain serves. */
static STACK_OF(X509) * report_chain(SSL *ssl)
{
    STACK_OF(X509) *chain = NULL;

    if (SSL_get_verify_result(ssl) == X509_V_OK)
        chain = SSL_get0_verified_chain(ssl);
    if (chain == NULL || sk_X509_num(chain) == 0)
        chain = SSL_get_peer_cert_chain(ssl);
    return chain;
}

static void chain_facts(struct tls *t, STACK_OF(X509) * chain)
{
    const ASN1_TIME *earliest = NULL;
    struct tm tm;

    for (int i = 0; i < sk_X509_num(chain); i++) {
        const ASN1_TIME *a = X509_get0_notAfter(sk_X509_value(chain, i));
        if (earliest == NULL || ASN1_TIME_compare(a, earliest) < 0)
            earliest = a;
    }
    if (earliest != NULL &&
        format_time(earliest, t->info.chain_expiry, sizeof t->info.chain_expiry, &tm) < 0)
        t->info.chain_expiry[0] = '\0';
}

/* Fills the certificate fields of info. After a FAILED verification OpenSSL 3.0 leaves
 * SSL_get0_peer_certificate NULL, so the leaf is then the first certificate sent. */
static void cert_facts(struct tls *t)
{
    STACK_OF(X509) *sent = SSL_get_peer_cert_chain(t->ssl);
    X509 *leaf = SSL_get0_peer_certificate(t->ssl);
    struct tm tm;

    if (leaf == NULL && sent != NULL && sk_X509_num(sent) > 0)
        leaf = sk_X509_value(sent, 0);
    if (leaf == NULL || t->certs_done)
        return;
    t->certs_done = 1;
    if (format_time(X509_get0_notAfter(leaf), t->info.cert_expiry, sizeof t->info.cert_expiry,
                    &tm) == 0)
        t->info.cert_days_left = days_left(&tm);
    else
        t->info.cert_expiry[0] = '\0';
    t->info.cert_subject = name_string(X509_get_subject_name(leaf));
    t->info.cert_issuer = name_string(X509_get_issuer_name(leaf));
    chain_facts(t, report_chain(t->ssl));
}

static void handshake_facts(struct tls *t)
{
    const unsigned char *p;
    unsigned int n;

    t->info.version = SSL_get_version(t->ssl);
    t->info.cipher = SSL_get_cipher_name(t->ssl);
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    if (n > 0) {
        memcpy(t->alpn, p, n); /* n < 256: a one-byte length on the wire */
        t->alpn[n] = '\0';
        t->info.alpn = t->alpn;
    }
    t->info.resumed = SSL_session_reused(t->ssl);
    cert_facts(t);
}

/* ---- handshake, read, write, shutdown ----------------------------------------------- */

/* Classifies a failed handshake: an untrusted certificate is tls_verify (with the
 * verifier's words), anything else tls_handshake (with OpenSSL's first error). */
static enum tls_rc handshake_failed(struct tls *t)
{
    long vr = SSL_get_verify_result(t->ssl);
    char why[sizeof t->reason];

    cert_facts(t);
    if (!t->ctx->insecure && vr != X509_V_OK) {
        ERR_clear_error();
        return fail_with(t, SALVO_E_TLS_VERIFY, X509_verify_cert_error_string(vr));
    }
    openssl_reason(why, sizeof why, "handshake failed");
    return fail_with(t, SALVO_E_TLS_HANDSHAKE, why);
}

enum tls_rc tls_handshake(struct tls *t, struct buf *out)
{
    int rc, e, d;

    if (t->dead)
        return TLS_ERROR;
    if (SSL_is_init_finished(t->ssl))
        return TLS_OK;
    ERR_clear_error();
    rc = SSL_do_handshake(t->ssl);
    e = SSL_get_error(t->ssl, rc);
    /* Drain first: the Finished (on success) or an alert (on failure) must go out. */
    d = drain(t, out);
    if (rc == 1) {
        if (d < 0)
            return fail_drain(t, d);
        handshake_facts(t);
        return TLS_OK;
    }
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return d < 0 ? fail_drain(t, d) : TLS_AGAIN;
    return handshake_failed(t);
}

/* Maps a failed SSL_read to a tls_rc. Since OpenSSL 3.0, a TCP EOF without
 * close_notify is SSL_ERROR_SSL with reason "unexpected eof while reading": for HTTP
 * that is an EOF (the body framing decides whether it was a truncation), not a TLS
 * failure. */
static enum tls_rc read_failed(struct tls *t, int e)
{
    char why[sizeof t->reason];

    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: /* memory BIOs never refuse a write; treat as "again" */
        return TLS_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_CLOSED;
    case SSL_ERROR_SSL:
        if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            ERR_clear_error();
            t->dead = 1; /* the SSL is in an error state: no SSL_shutdown */
            return TLS_EOF;
        }
        break;
    default:
        break;
    }
    openssl_reason(why, sizeof why, "TLS read failed");
    return fail_with(t, SALVO_E_TLS_HANDSHAKE, why);
}

long tls_read(struct tls *t, void *dst, size_t cap, struct buf *out)
{
    enum tls_rc hs;
    int n, e, d;

    if (t->dead)
        return t->err != SALVO_E_OK ? -TLS_ERROR : -TLS_EOF;
    if (!SSL_is_init_finished(t->ssl)) {
        hs = tls_handshake(t, out);
        if (hs != TLS_OK)
            return -(long)hs;
    }
    if (cap == 0)
        return -TLS_AGAIN;
    ERR_clear_error();
    n = SSL_read(t->ssl, dst, cap > INT_MAX ? INT_MAX : (int)cap);
    e = SSL_get_error(t->ssl, n);
    /* Session tickets, KeyUpdate replies and alerts are written by reads, too. */
    d = drain(t, out);
    if (d < 0)
        return -(long)fail_drain(t, d);
    if (n > 0)
        return n;
    return -(long)read_failed(t, e);
}

/* One SSL_write of at most INT_MAX bytes. A retry after WANT_* must pass the same
 * bytes (SSL_write(3)); with memory BIOs WANT_WRITE never happens, but it is handled by
 * draining and retrying a few times. WANT_READ (a TLS 1.2 renegotiation in progress)
 * needs the peer's bytes first, so the caller gets TLS_AGAIN. */
static long write_some(struct tls *t, const char *p, int len, struct buf *out)
{
    char why[sizeof t->reason];

    for (int tries = 0; tries < 4; tries++) {
        int n, e, d;
        ERR_clear_error();
        n = SSL_write(t->ssl, p, len);
        e = SSL_get_error(t->ssl, n);
        d = drain(t, out);
        if (d < 0)
            return -(long)fail_drain(t, d);
        if (n > 0)
            return n;
        if (e == SSL_ERROR_WANT_READ)
            return -TLS_AGAIN;
        if (e != SSL_ERROR_WANT_WRITE)
            break;
    }
    openssl_reason(why, sizeof why, "TLS write failed");
    return -(long)fail_with(t, SALVO_E_TLS_HANDSHAKE, why);
}

long tls_write(struct tls *t, const void *plain, size_t len, struct buf *out)
{
    const char *p = plain;
    size_t done = 0;

    if (t->dead)
        return -TLS_ERROR;
    if (len == 0)
        return 0; /* SSL_write with length 0 is an error, and there is nothing to send */
    while (done < len) {
        size_t left = len - done;
        long n = write_some(t, p + done, left > INT_MAX ? INT_MAX : (int)left, out);
        /* Only a write over INT_MAX bytes can stop half-way: report what went. */
        if (n < 0)
            return done > 0 && n == -TLS_AGAIN ? (long)done : n;
        done += (size_t)n;
    }
    return (long)done;
}

size_t tls_buffered(const struct tls *t)
{
    return (size_t)SSL_pending(t->ssl) + BIO_ctrl_pending(t->rbio);
}

salvo_err_t tls_error(const struct tls *t, const char **reason)
{
    if (reason != NULL)
        *reason = t->err != SALVO_E_OK ? t->reason : NULL;
    return t->err;
}

const struct tls_info *tls_get_info(struct tls *t)
{
    return &t->info;
}

void tls_shutdown(struct tls *t, struct buf *out)
{
    /* SSL_shutdown(3): never after SSL_ERROR_SSL or SSL_ERROR_SYSCALL. One call queues
     * our close_notify; we do not wait for the peer's. */
    if (t->dead || t->shut || !SSL_is_init_finished(t->ssl))
        return;
    t->shut = 1;
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl);
    (void)drain(t, out); /* best effort: the connection is going away */
    ERR_clear_error();
}

void tls_free(struct tls *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    free(t->origin_key);
    free(t->info.cert_subject);
    free(t->info.cert_issuer);
    free(t);
}
