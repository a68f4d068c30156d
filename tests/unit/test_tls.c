/*
 * test_tls.c -- the TLS module with no socket at all: a salvo client (struct tls) and a
 * raw OpenSSL server SSL joined through memory, so every byte each side writes is handed
 * to the other by the test. Certificates come from tests/certs.sh, run once into a
 * temporary directory at the start.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

/* Cap of the client's output buffer: a 1 MiB write plus TLS record overhead fits. */
#define OUT_MAX (4u << 20)
/* Handshake rounds before a test gives up; a full handshake needs 2 or 3. */
#define MAX_ROUNDS 16

static char cert_dir[1024]; /* short enough that every path built from it fits */
static const char *argv0;
static struct tls_ctx *verify_ctx;   /* trusts the test CA, verifies */
static struct tls_ctx *insecure_ctx; /* -k */

/* One client struct tls and one server SSL, joined by buffers. */
struct pair {
    struct tls *cli;
    struct buf out; /* client ciphertext, not yet given to the server */
    SSL *srv;
    BIO *srv_in;  /* borrowed from srv */
    BIO *srv_out; /* borrowed from srv */
};

/* ---- fixtures ----------------------------------------------------------------------- */

static const char *path_of(const char *name)
{
    static char bufs[4][PATH_MAX];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, PATH_MAX, "%s/%s", cert_dir, name);
    return p;
}

static int alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x08http/1.1";
    (void)s;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    return SSL_TLSEXT_ERR_OK;
}

/* A server context serving NAME.pem (a chain file) with KEY.key; max_version 0 = any. */
static SSL_CTX *server_ctx(const char *pem, const char *key, int max_version)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    assert_non_null(c);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(c, path_of(pem)), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(c, path_of(key), SSL_FILETYPE_PEM), 1);
    if (max_version != 0)
        assert_int_equal(SSL_CTX_set_max_proto_version(c, max_version), 1);
    if (max_version != 0 && max_version < TLS1_2_VERSION) {
        /* OpenSSL 3.0 will not even offer TLS 1.0/1.1 at its default security level. */
        SSL_CTX_set_security_level(c, 0);
        assert_int_equal(SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0"), 1);
    }
    SSL_CTX_set_alpn_select_cb(c, alpn_select, NULL);
    return c;
}

static void pair_open(struct pair *p, SSL_CTX *sctx, struct tls_ctx *cctx, const char *host,
                      int is_ip, const char *origin)
{
    char err[256] = "";
    memset(p, 0, sizeof *p);
    buf_init(&p->out, OUT_MAX);
    p->cli = tls_new(cctx, host, is_ip, origin, err, sizeof err);
    if (p->cli == NULL)
        fail_msg("tls_new: %s", err);
    p->srv = SSL_new(sctx);
    p->srv_in = BIO_new(BIO_s_mem());
    p->srv_out = BIO_new(BIO_s_mem());
    assert_non_null(p->srv);
    assert_non_null(p->srv_in);
    assert_non_null(p->srv_out);
    SSL_set_bio(p->srv, p->srv_in, p->srv_out);
    SSL_set_accept_state(p->srv);
}

/* Closes like the connection does: close_notify (when the connection is healthy), then
 * free. A session whose connection was not shut down cleanly cannot be resumed. */
static void pair_close(struct pair *p)
{
    tls_shutdown(p->cli, &p->out);
    tls_free(p->cli);
    SSL_free(p->srv);
    buf_free(&p->out);
}

/* Client ciphertext -> server. */
static void to_server(struct pair *p)
{
    if (buf_size(&p->out) > 0) {
        assert_int_equal(BIO_write(p->srv_in, buf_head(&p->out), (int)buf_size(&p->out)),
                         (int)buf_size(&p->out));
        buf_consume(&p->out, buf_size(&p->out));
    }
}

/* Server ciphertext -> client, in pieces of at most `piece` bytes (0: all at once).
 * After each piece the client reads into dst (when given), so records split across
 * feeds are exercised. Returns the plaintext bytes read; *last gets the last tls_read
 * result. */
static size_t to_client(struct pair *p, size_t piece, char *dst, size_t cap, long *last)
{
    char *data;
    long n = BIO_get_mem_data(p->srv_out, &data);
    size_t got = 0;

    for (long off = 0; off < n;) {
        size_t k = (size_t)(n - off);
        if (piece != 0 && k > piece)
            k = piece;
        assert_int_equal(tls_feed(p->cli, data + off, k), 0);
        off += (long)k;
        for (int i = 0; dst != NULL && i < 1000; i++) {
            long r = tls_read(p->cli, dst + got, cap - got, &p->out);
            *last = r;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
    }
    (void)BIO_reset(p->srv_out);
    return got;
}

/* Runs the handshake to its end on both sides; returns the client's last result. */
static enum tls_rc handshake(struct pair *p)
{
    for (int round = 0; round < MAX_ROUNDS; round++) {
        enum tls_rc rc = tls_handshake(p->cli, &p->out);
        to_server(p);
        if (!SSL_is_init_finished(p->srv)) {
            ERR_clear_error();
            (void)SSL_do_handshake(p->srv);
            ERR_clear_error();
        }
        to_client(p, 0, NULL, 0, NULL);
        if (rc == TLS_ERROR || (rc == TLS_OK && SSL_is_init_finished(p->srv)))
            return rc;
    }
    fail_msg("handshake did not finish in %d rounds", MAX_ROUNDS);
    return TLS_ERROR;
}

/* Reads what the client has pending; returns the last tls_read result. */
static long client_drain_reads(struct pair *p, char *dst, size_t cap, size_t *got)
{
    long r = -TLS_AGAIN;
    *got = 0;
    for (int i = 0; i < 1000; i++) {
        r = tls_read(p->cli, dst + *got, cap - *got, &p->out);
        if (r <= 0)
            break;
        *got += (size_t)r;
    }
    return r;
}

static void server_write(struct pair *p, const void *data, int len)
{
    ERR_clear_error();
    assert_int_equal(SSL_write(p->srv, data, len), len);
}

/* Reads exactly len bytes on the server and compares them with want. */
static void server_expect(struct pair *p, const char *want, size_t len)
{
    char *got = malloc(len + 1);
    size_t have = 0;
    assert_non_null(got);
    for (int i = 0; i < 100000 && have < len; i++) {
        ERR_clear_error();
        int n = SSL_read(p->srv, got + have, (int)(len - have));
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    assert_int_equal(have, len);
    assert_memory_equal(got, want, len);
    free(got);
}

/* A failed handshake of host against the server pem/key: checks class and reason. */
static void expect_failure(SSL_CTX *sctx, struct tls_ctx *cctx, const char *host, int is_ip,
                           salvo_err_t cls, const char *reason, struct pair *p)
{
    const char *why = NULL;
    pair_open(p, sctx, cctx, host, is_ip, NULL);
    assert_int_equal(handshake(p), TLS_ERROR);
    assert_int_equal(tls_error(p->cli, &why), cls);
    assert_non_null(why);
    if (reason != NULL)
        assert_string_equal(why, reason);
}

/* ---- handshakes --------------------------------------------------------------------- */

static void test_handshake_tls13(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    struct pair p;
    const struct tls_info *info;
    const char *why = "unset";

    pair_open(&p, s, verify_ctx, "site.test", 0, "h13:443");
    assert_int_equal(handshake(&p), TLS_OK);
    info = tls_get_info(p.cli);
    assert_string_equal(info->version, "TLSv1.3");
    assert_non_null(info->cipher);
    assert_string_equal(info->alpn, "http/1.1");
    assert_int_equal(info->resumed, 0);
    assert_int_equal(strlen(info->cert_expiry), 20);
    assert_int_equal(info->cert_expiry[10], 'T');
    assert_int_equal(info->cert_expiry[19], 'Z');
    assert_true(info->cert_days_left >= 3640 && info->cert_days_left <= 3650);
    assert_int_equal(strlen(info->chain_expiry), 20);
    assert_true(strcmp(info->chain_expiry, info->cert_expiry) <= 0); /* root came first */
    assert_string_equal(info->cert_subject, "CN=site.test,O=salvo tests");
    assert_string_equal(info->cert_issuer, "CN=salvo test CA,O=salvo tests");
    assert_string_equal(SSL_get_servername(p.srv, TLSEXT_NAMETYPE_host_name), "site.test");
    assert_int_equal(tls_error(p.cli, &why), SALVO_E_OK);
    assert_null(why);
    pair_close(&p);
    SSL_CTX_free(s);
}

static void test_handshake_tls12(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", TLS1_2_VERSION);
    struct pair p;

    pair_open(&p, s, verify_ctx, "www.site.test", 0, "h12:443");
    assert_int_equal(handshake(&p), TLS_OK);
    assert_string_equal(tls_get_info(p.cli)->version, "TLSv1.2");
    assert_string_equal(tls_get_info(p.cli)->alpn, "http/1.1");
    assert_string_equal(tls_get_info(p.cli)->cert_subject, "CN=site.test,O=salvo tests");
    pair_close(&p);
    SSL_CTX_free(s);
}

/* The host goes out in lower case and without its trailing dot, and still verifies. */
static void test_sni_normalised(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    struct pair p;

    pair_open(&p, s, verify_ctx, "SITE.Test.", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);
    assert_string_equal(SSL_get_servername(p.srv, TLSEXT_NAMETYPE_host_name), "site.test");
    pair_close(&p);
    SSL_CTX_free(s);
}

static void test_no_alpn_from_server(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    struct pair p;

    SSL_CTX_set_alpn_select_cb(s, NULL, NULL);
    pair_open(&p, s, verify_ctx, "site.test", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);
    assert_null(tls_get_info(p.cli)->alpn);
    pair_close(&p);
    SSL_CTX_free(s);
}

/* ---- data --------------------------------------------------------------------------- */

static void test_transfer_both_ways(void **state)
{
    (void)state;
    static const char req[] = "GET / HTTP/1.1\r\nHost: site.test\r\n\r\n";
    const size_t big = 1u << 20;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    char *resp = malloc(big), *got = malloc(big + 1);
    struct pair p;
    size_t have = 0;
    long last = 0;

    assert_non_null(resp);
    assert_non_null(got);
    for (size_t i = 0; i < big; i++)
        resp[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    pair_open(&p, s, verify_ctx, "site.test", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);

    assert_int_equal(tls_write(p.cli, req, sizeof req - 1, &p.out), (long)(sizeof req - 1));
    to_server(&p);
    server_expect(&p, req, sizeof req - 1);

    /* 1 MiB back, written in 10,000-byte records and fed in odd 777-byte pieces. */
    for (size_t off = 0; off < big; off += 10000) {
        size_t k = big - off < 10000 ? big - off : 10000;
        server_write(&p, resp + off, (int)k);
        have += to_client(&p, 777, got + have, big + 1 - have, &last);
    }
    assert_int_equal(last, -TLS_AGAIN);
    assert_int_equal(have, big);
    assert_memory_equal(got, resp, big);

    /* And 1 MiB up, in one tls_write. */
    assert_int_equal(tls_write(p.cli, resp, big, &p.out), (long)big);
    assert_true(buf_size(&p.out) > big);
    to_server(&p);
    server_expect(&p, resp, big);

    free(resp);
    free(got);
    pair_close(&p);
    SSL_CTX_free(s);
}

static void test_write_zero(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    struct pair p;

    pair_open(&p, s, verify_ctx, "site.test", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);
    assert_int_equal(tls_write(p.cli, "x", 0, &p.out), 0);
    assert_int_equal(buf_size(&p.out), 0);
    pair_close(&p);
    SSL_CTX_free(s);
}

/* The server writes msg; the client reads exactly msg and then nothing more for now. */
static void server_says(struct pair *p, const char *msg)
{
    char got[64];
    size_t n, len = strlen(msg);

    server_write(p, msg, (int)len);
    to_client(p, 0, NULL, 0, NULL);
    assert_int_equal(client_drain_reads(p, got, sizeof got, &n), -TLS_AGAIN);
    assert_int_equal(n, len);
    assert_memory_equal(got, msg, len);
}

static void test_key_update(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    struct pair p;

    pair_open(&p, s, verify_ctx, "site.test", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);
    server_says(&p, "before");

    /* The server rotates its keys and asks the client to rotate too. */
    assert_int_equal(SSL_key_update(p.srv, SSL_KEY_UPDATE_REQUESTED), 1);
    server_says(&p, "after");

    /* The client's own KeyUpdate goes out ahead of its next record, so the first reply
     * costs more bytes than the same reply again. */
    assert_int_equal(tls_write(p.cli, "reply", 5, &p.out), 5);
    size_t first = buf_size(&p.out);
    to_server(&p);
    server_expect(&p, "reply", 5);
    assert_int_equal(tls_write(p.cli, "reply", 5, &p.out), 5);
    assert_true(first > buf_size(&p.out));
    to_server(&p);
    server_expect(&p, "reply", 5);
    pair_close(&p);
    SSL_CTX_free(s);
}

/* A TLS 1.2 server asks for a renegotiation mid-stream: the client's new ClientHello is
 * produced inside tls_read, so it only goes out because reads drain too. */
static void test_renegotiation_tls12(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", TLS1_2_VERSION);
    struct pair p;
    char got[64];
    size_t n;

    pair_open(&p, s, verify_ctx, "site.test", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);
    assert_int_equal(SSL_renegotiate(p.srv), 1);
    ERR_clear_error();
    assert_int_equal(SSL_do_handshake(p.srv), 1); /* HelloRequest sent; the rest comes
                                                   * through the server's reads */
    to_client(&p, 0, NULL, 0, NULL);
    assert_int_equal(client_drain_reads(&p, got, sizeof got, &n), -TLS_AGAIN);
    assert_int_equal(n, 0);
    assert_true(buf_size(&p.out) > 0); /* the new ClientHello */
    for (int round = 0; round < MAX_ROUNDS && SSL_renegotiate_pending(p.srv); round++) {
        to_server(&p);
        ERR_clear_error();
        assert_true(SSL_read(p.srv, got, sizeof got) <= 0); /* handshake records only */
        to_client(&p, 0, NULL, 0, NULL);
        assert_int_equal(client_drain_reads(&p, got, sizeof got, &n), -TLS_AGAIN);
    }
    assert_false(SSL_renegotiate_pending(p.srv));
    assert_true(SSL_num_renegotiations(p.srv) >= 1);
    server_says(&p, "renewed");
    assert_int_equal(tls_write(p.cli, "ok", 2, &p.out), 2);
    to_server(&p);
    server_expect(&p, "ok", 2);
    pair_close(&p);
    SSL_CTX_free(s);
}

/* A record that fails to decrypt is a TLS failure, and the alert goes out. */
static void test_corrupt_record(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    struct pair p;
    char got[64], *data;
    const char *why = NULL;
    size_t n;

    pair_open(&p, s, verify_ctx, "site.test", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);
    assert_int_equal(client_drain_reads(&p, got, sizeof got, &n), -TLS_AGAIN); /* tickets */
    server_write(&p, "tampered", 8);
    long len = BIO_get_mem_data(p.srv_out, &data);
    assert_true(len > 10);
    data[len - 1] ^= 0x55; /* the last byte of the authentication tag */
    to_client(&p, 0, NULL, 0, NULL);
    assert_int_equal(buf_size(&p.out), 0);
    assert_int_equal(client_drain_reads(&p, got, sizeof got, &n), -TLS_ERROR);
    assert_int_equal(n, 0);
    assert_true(buf_size(&p.out) > 0); /* the bad_record_mac alert */
    assert_int_equal(tls_error(p.cli, &why), SALVO_E_TLS_HANDSHAKE);
    assert_string_equal(why, "decryption failed or bad record mac");
    n = buf_size(&p.out);
    tls_shutdown(p.cli, &p.out); /* never after SSL_ERROR_SSL */
    assert_int_equal(buf_size(&p.out), n);
    pair_close(&p);
    SSL_CTX_free(s);
}

/* ---- sessions ----------------------------------------------------------------------- */

/* A handshake on origin; returns info->resumed. Reads post-handshake tickets when asked.
 * With eof, the connection ends in a TCP EOF without close_notify instead of a clean
 * close. */
static int connect_once(SSL_CTX *s, const char *origin, int read_tickets, int eof)
{
    struct pair p;
    char tmp[16];
    size_t n;
    int resumed;

    pair_open(&p, s, verify_ctx, "site.test", 0, origin);
    assert_int_equal(handshake(&p), TLS_OK);
    if (read_tickets) {
        /* Tickets are handshake messages: no application data, just TLS_AGAIN. */
        assert_int_equal(client_drain_reads(&p, tmp, sizeof tmp, &n), -TLS_AGAIN);
        assert_int_equal(n, 0);
    }
    resumed = tls_get_info(p.cli)->resumed;
    assert_int_equal(SSL_session_reused(p.srv), resumed);
    if (resumed)
        assert_string_equal(tls_get_info(p.cli)->cert_subject, "CN=site.test,O=salvo tests");
    if (eof) {
        tls_feed_eof(p.cli);
        assert_int_equal(client_drain_reads(&p, tmp, sizeof tmp, &n), -TLS_EOF);
    }
    pair_close(&p);
    return resumed;
}

static void test_resumption_tls13(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    SSL_CTX_set_num_tickets(s, 2); /* OpenSSL's default, and nginx's: two per handshake */

    /* Without reading the tickets there is nothing to resume with. */
    assert_int_equal(connect_once(s, "r13a:443", 0, 0), 0);
    assert_int_equal(connect_once(s, "r13a:443", 1, 0), 0);
    /* Now two tickets are stored for r13a, and only for r13a. */
    assert_int_equal(connect_once(s, "r13b:443", 0, 0), 0);
    /* Each ticket is used once: two resumptions, then none is left. */
    assert_int_equal(connect_once(s, "r13a:443", 0, 0), 1);
    assert_int_equal(connect_once(s, "r13a:443", 0, 0), 1);
    assert_int_equal(connect_once(s, "r13a:443", 1, 0), 0);

    /* Two connections opened at once each resume with a ticket of their own; a third
     * finds none left. */
    struct pair a, b, c;
    pair_open(&a, s, verify_ctx, "site.test", 0, "r13a:443");
    pair_open(&b, s, verify_ctx, "site.test", 0, "r13a:443");
    pair_open(&c, s, verify_ctx, "site.test", 0, "r13a:443");
    assert_int_equal(tls_handshake(a.cli, &a.out), TLS_AGAIN); /* the ClientHellos first */
    assert_int_equal(tls_handshake(b.cli, &b.out), TLS_AGAIN);
    assert_int_equal(tls_handshake(c.cli, &c.out), TLS_AGAIN);
    assert_int_equal(handshake(&a), TLS_OK);
    assert_int_equal(handshake(&b), TLS_OK);
    assert_int_equal(handshake(&c), TLS_OK);
    assert_int_equal(tls_get_info(a.cli)->resumed, 1);
    assert_int_equal(tls_get_info(b.cli)->resumed, 1);
    assert_int_equal(tls_get_info(c.cli)->resumed, 0);
    pair_close(&a);
    pair_close(&b);
    pair_close(&c);
    SSL_CTX_free(s);
}

static void test_resumption_tls12(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", TLS1_2_VERSION);

    assert_int_equal(connect_once(s, "r12:443", 0, 0), 0);
    /* A TLS 1.2 session may be resumed again and again. */
    assert_int_equal(connect_once(s, "r12:443", 0, 0), 1);
    assert_int_equal(connect_once(s, "r12:443", 0, 0), 1);
    assert_int_equal(connect_once(s, "other12:443", 0, 0), 0);
    /* Until a connection using it ends without close_notify: then it is dropped. */
    assert_int_equal(connect_once(s, "r12:443", 0, 1), 1);
    assert_int_equal(connect_once(s, "r12:443", 0, 0), 0);
    assert_int_equal(connect_once(s, "r12:443", 0, 0), 1);
    SSL_CTX_free(s);
}

/* More origins than the cache holds: the oldest are forgotten, the newest kept. */
static void test_session_cache_bounded(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", TLS1_2_VERSION);
    char origin[32];

    for (int i = 0; i < 1030; i++) {
        snprintf(origin, sizeof origin, "many%d:443", i);
        assert_int_equal(connect_once(s, origin, 0, 0), 0);
    }
    assert_int_equal(connect_once(s, "many1029:443", 0, 0), 1);
    assert_int_equal(connect_once(s, "many10:443", 0, 0), 1);
    assert_int_equal(connect_once(s, "many0:443", 0, 0), 0);
    SSL_CTX_free(s);
}

/* ---- verification ------------------------------------------------------------------- */

static void test_wrong_host(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    SSL_CTX *w = server_ctx("wronghost.pem", "wronghost.key", 0);
    struct pair p;

    expect_failure(s, verify_ctx, "other.test", 0, SALVO_E_TLS_VERIFY, "hostname mismatch", &p);
    /* The certificate facts are there for the record even though it was refused. */
    assert_int_equal(strlen(tls_get_info(p.cli)->cert_expiry), 20);
    assert_true(tls_get_info(p.cli)->cert_days_left > 3000);
    assert_string_equal(tls_get_info(p.cli)->cert_subject, "CN=site.test,O=salvo tests");
    assert_int_equal(strlen(tls_get_info(p.cli)->chain_expiry), 20);
    pair_close(&p);
    /* A wildcard covers one label only. */
    expect_failure(s, verify_ctx, "a.b.site.test", 0, SALVO_E_TLS_VERIFY, "hostname mismatch", &p);
    pair_close(&p);
    expect_failure(w, verify_ctx, "site.test", 0, SALVO_E_TLS_VERIFY, "hostname mismatch", &p);
    assert_string_equal(tls_get_info(p.cli)->cert_subject, "CN=other.test,O=salvo tests");
    pair_close(&p);
    SSL_CTX_free(s);
    SSL_CTX_free(w);
}

static void test_expired(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("expired.pem", "expired.key", 0);
    struct pair p;
    const struct tls_info *info;

    expect_failure(s, verify_ctx, "site.test", 0, SALVO_E_TLS_VERIFY, "certificate has expired",
                   &p);
    info = tls_get_info(p.cli);
    assert_string_equal(info->cert_expiry, "2021-01-01T00:00:00Z");
    assert_string_equal(info->chain_expiry, "2021-01-01T00:00:00Z");
    assert_true(info->cert_days_left < 0);
    /* floor((2021-01-01 - now) / 1 day), computed independently. */
    int64_t secs = (int64_t)1609459200 - (int64_t)time(NULL);
    int64_t want = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    assert_true(info->cert_days_left == want || info->cert_days_left == want - 1);
    assert_string_equal(info->cert_issuer, "CN=salvo test CA,O=salvo tests");
    pair_close(&p);
    SSL_CTX_free(s);
}

static void test_not_yet_valid(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("notyet.pem", "notyet.key", 0);
    struct pair p;

    expect_failure(s, verify_ctx, "site.test", 0, SALVO_E_TLS_VERIFY,
                   "certificate is not yet valid", &p);
    assert_string_equal(tls_get_info(p.cli)->cert_expiry, "2041-01-01T00:00:00Z");
    assert_true(tls_get_info(p.cli)->cert_days_left > 0);
    pair_close(&p);
    SSL_CTX_free(s);
}

static void test_self_signed(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("selfsigned.pem", "selfsigned.key", 0);
    struct pair p;

    expect_failure(s, verify_ctx, "site.test", 0, SALVO_E_TLS_VERIFY, "self-signed certificate",
                   &p);
    assert_string_equal(tls_get_info(p.cli)->cert_issuer, "CN=site.test,O=salvo tests");
    pair_close(&p);
    SSL_CTX_free(s);
}

static void test_incomplete_chain(void **state)
{
    (void)state;
    SSL_CTX *alone = server_ctx("chain-leaf.pem", "chain-leaf.key", 0);
    SSL_CTX *full = server_ctx("chain-full.pem", "chain-leaf.key", 0);
    struct pair p;

    expect_failure(alone, verify_ctx, "site.test", 0, SALVO_E_TLS_VERIFY,
                   "unable to get local issuer certificate", &p);
    pair_close(&p);
    pair_open(&p, full, verify_ctx, "site.test", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);
    assert_string_equal(tls_get_info(p.cli)->cert_issuer,
                        "CN=salvo test intermediate,O=salvo tests");
    assert_true(strcmp(tls_get_info(p.cli)->chain_expiry, tls_get_info(p.cli)->cert_expiry) <= 0);
    pair_close(&p);
    SSL_CTX_free(alone);
    SSL_CTX_free(full);
}

static void test_insecure_accepts(void **state)
{
    (void)state;
    static const char *const certs[][3] = {{"expired.pem", "expired.key", "site.test"},
                                           {"selfsigned.pem", "selfsigned.key", "site.test"},
                                           {"leaf.pem", "leaf.key", "other.test"},
                                           {"chain-leaf.pem", "chain-leaf.key", "site.test"}};
    for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++) {
        SSL_CTX *s = server_ctx(certs[i][0], certs[i][1], 0);
        struct pair p;
        pair_open(&p, s, insecure_ctx, certs[i][2], 0, NULL);
        assert_int_equal(handshake(&p), TLS_OK);
        assert_int_equal(tls_error(p.cli, NULL), SALVO_E_OK);
        assert_int_equal(strlen(tls_get_info(p.cli)->cert_expiry), 20);
        if (i == 0)
            assert_true(tls_get_info(p.cli)->cert_days_left < 0);
        pair_close(&p);
        SSL_CTX_free(s);
    }
}

static void test_ip_literal(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    struct pair p;
    char err[128] = "";

    pair_open(&p, s, verify_ctx, "127.0.0.1", 1, "127.0.0.1:443");
    assert_int_equal(handshake(&p), TLS_OK);
    assert_null(SSL_get_servername(p.srv, TLSEXT_NAMETYPE_host_name)); /* no SNI for IPs */
    pair_close(&p);

    expect_failure(s, verify_ctx, "127.0.0.2", 1, SALVO_E_TLS_VERIFY, "IP address mismatch", &p);
    assert_null(SSL_get_servername(p.srv, TLSEXT_NAMETYPE_host_name));
    pair_close(&p);
    expect_failure(s, verify_ctx, "[::1]", 1, SALVO_E_TLS_VERIFY, "IP address mismatch", &p);
    pair_close(&p);
    /* An address that does not parse must never mean "check nothing". */
    assert_null(tls_new(verify_ctx, "127.0.0.x", 1, NULL, err, sizeof err));
    assert_non_null(strstr(err, "127.0.0.x"));
    SSL_CTX_free(s);
}

/* ---- endings and failures ----------------------------------------------------------- */

static void test_close_notify(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    struct pair p;
    char got[64];
    size_t n;

    pair_open(&p, s, verify_ctx, "site.test", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);
    server_write(&p, "bye", 3);
    ERR_clear_error();
    assert_int_equal(SSL_shutdown(p.srv), 0);
    to_client(&p, 0, NULL, 0, NULL);
    assert_int_equal(client_drain_reads(&p, got, sizeof got, &n), -TLS_CLOSED);
    assert_int_equal(n, 3);
    tls_shutdown(p.cli, &p.out);
    assert_true(buf_size(&p.out) > 0); /* our close_notify */
    to_server(&p);
    ERR_clear_error();
    assert_int_equal(SSL_shutdown(p.srv), 1); /* the server got it */
    pair_close(&p);
    SSL_CTX_free(s);
}

static void test_eof_without_close_notify(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    struct pair p;
    char got[64];
    size_t n;

    pair_open(&p, s, verify_ctx, "site.test", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);
    server_write(&p, "partial", 7);
    to_client(&p, 0, NULL, 0, NULL);
    assert_int_equal(client_drain_reads(&p, got, sizeof got, &n), -TLS_AGAIN);
    tls_feed_eof(p.cli);
    assert_int_equal(client_drain_reads(&p, got, sizeof got, &n), -TLS_EOF);
    assert_int_equal(n, 0);
    assert_int_equal(tls_error(p.cli, NULL), SALVO_E_OK); /* an EOF, not a TLS failure */
    n = buf_size(&p.out);                                 /* OpenSSL's decode_error alert */
    tls_shutdown(p.cli, &p.out); /* never after SSL_ERROR_SSL: nothing is written */
    assert_int_equal(buf_size(&p.out), n);
    pair_close(&p);
    SSL_CTX_free(s);
}

/* A record cut short by the EOF is still an EOF for HTTP: the framing judges it. */
static void test_eof_mid_record(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", 0);
    struct pair p;
    char got[64], *data;
    size_t n;

    pair_open(&p, s, verify_ctx, "site.test", 0, NULL);
    assert_int_equal(handshake(&p), TLS_OK);
    assert_int_equal(client_drain_reads(&p, got, sizeof got, &n), -TLS_AGAIN); /* tickets */
    server_write(&p, "cut short", 9);
    long len = BIO_get_mem_data(p.srv_out, &data);
    assert_true(len > 10);
    assert_int_equal(tls_feed(p.cli, data, (size_t)len - 5), 0);
    tls_feed_eof(p.cli);
    assert_int_equal(client_drain_reads(&p, got, sizeof got, &n), -TLS_EOF);
    assert_int_equal(n, 0);
    pair_close(&p);
    SSL_CTX_free(s);
}

static void test_eof_during_handshake(void **state)
{
    (void)state;
    struct buf out;
    char err[128];
    const char *why = NULL;
    struct tls *t = tls_new(verify_ctx, "site.test", 0, NULL, err, sizeof err);

    assert_non_null(t);
    buf_init(&out, OUT_MAX);
    assert_int_equal(tls_handshake(t, &out), TLS_AGAIN);
    assert_true(buf_size(&out) > 0); /* the ClientHello */
    tls_feed_eof(t);
    assert_int_equal(tls_handshake(t, &out), TLS_ERROR);
    assert_int_equal(tls_error(t, &why), SALVO_E_TLS_HANDSHAKE);
    assert_string_equal(why, "unexpected eof while reading");
    buf_free(&out);
    tls_free(t);
}

static void test_plain_http_server(void **state)
{
    (void)state;
    static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n"
                               "Connection: close\r\n\r\nBad Request";
    struct buf out;
    char err[128];
    const char *why = NULL;
    struct tls *t = tls_new(verify_ctx, "site.test", 0, NULL, err, sizeof err);

    assert_non_null(t);
    buf_init(&out, OUT_MAX);
    assert_int_equal(tls_handshake(t, &out), TLS_AGAIN);
    assert_int_equal(tls_feed(t, resp, sizeof resp - 1), 0);
    assert_int_equal(tls_handshake(t, &out), TLS_ERROR);
    assert_int_equal(tls_error(t, &why), SALVO_E_TLS_HANDSHAKE);
    assert_non_null(why);
    assert_true(strcmp(why, "wrong version number") == 0 ||
                strcmp(why, "packet length too long") == 0);
    assert_string_equal(tls_get_info(t)->cert_expiry, "");
    assert_null(tls_get_info(t)->cert_subject);
    /* A failed connection stays failed. */
    assert_int_equal(tls_handshake(t, &out), TLS_ERROR);
    assert_int_equal(tls_read(t, err, sizeof err, &out), -TLS_ERROR);
    assert_int_equal(tls_write(t, "x", 1, &out), -TLS_ERROR);
    buf_free(&out);
    tls_free(t);
}

static void test_old_tls_refused(void **state)
{
    (void)state;
    static const int versions[] = {TLS1_VERSION, TLS1_1_VERSION};
    struct tls_ctx_config cfg = {0, NULL, "TLSv1"};
    struct tls_ctx *old = NULL;
    char err[256] = "";

    cfg.cacert = path_of("ca.pem");
    if (tls_ctx_new(&old, &cfg, err, sizeof err) != 0)
        fail_msg("tls_ctx_new: %s", err);
    for (size_t i = 0; i < 2; i++) {
        SSL_CTX *s = server_ctx("leaf.pem", "leaf.key", versions[i]);
        struct pair p;
        expect_failure(s, verify_ctx, "site.test", 0, SALVO_E_TLS_HANDSHAKE, NULL, &p);
        pair_close(&p);
        /* The control: the same server is fine when the minimum is lowered, so the
         * refusal above is salvo's TLS 1.2 minimum at work. */
        pair_open(&p, s, old, "site.test", 0, NULL);
        assert_int_equal(handshake(&p), TLS_OK);
        assert_string_equal(tls_get_info(p.cli)->version,
                            versions[i] == TLS1_VERSION ? "TLSv1" : "TLSv1.1");
        pair_close(&p);
        SSL_CTX_free(s);
    }
    tls_ctx_free(old);
}

static void test_ctx_errors(void **state)
{
    (void)state;
    struct tls_ctx_config cfg = {0, "/nonexistent/salvo-ca.pem", NULL};
    struct tls_ctx *c = (struct tls_ctx *)1;
    char err[256] = "";

    assert_int_equal(tls_ctx_new(&c, &cfg, err, sizeof err), -1);
    assert_null(c);
    assert_non_null(strstr(err, "/nonexistent/salvo-ca.pem"));
    cfg.cacert = path_of("leaf.key"); /* a file, but no certificate in it */
    assert_int_equal(tls_ctx_new(&c, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "leaf.key"));
    cfg.cacert = NULL;
    cfg.min_version_override = "SSLv3";
    assert_int_equal(tls_ctx_new(&c, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "SSLv3"));
    /* Defaults: no config at all is a verifying context. */
    assert_int_equal(tls_ctx_new(&c, NULL, err, sizeof err), 0);
    tls_ctx_free(c);
}

/* ---- setup -------------------------------------------------------------------------- */

/* tests/certs.sh, found from SALVO_ROOT, from the binary's place in build/tests/, or
 * from the current directory. */
static int find_script(char *dst, size_t len)
{
    const char *root = getenv("SALVO_ROOT");
    char dir[1024];

    if (root != NULL) {
        snprintf(dst, len, "%s/tests/certs.sh", root);
        if (access(dst, R_OK) == 0)
            return 0;
    }
    snprintf(dir, sizeof dir, "%s", argv0);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        snprintf(dst, len, "%s/../../tests/certs.sh", dir);
        if (access(dst, R_OK) == 0)
            return 0;
    }
    snprintf(dst, len, "tests/certs.sh");
    return access(dst, R_OK);
}

static int group_teardown(void **state);

static int group_setup(void **state)
{
    (void)state;
    char script[PATH_MAX], cmd[3 * PATH_MAX], err[256] = "";
    const char *tmp = getenv("TMPDIR");
    struct tls_ctx_config cfg = {0, NULL, NULL};

    snprintf(cert_dir, sizeof cert_dir, "%s/salvo-tls-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(cert_dir) == NULL || find_script(script, sizeof script) != 0) {
        fprintf(stderr, "# cannot set up: no temp dir or no tests/certs.sh\n");
        goto fail;
    }
    snprintf(cmd, sizeof cmd, "bash '%s' '%s'", script, cert_dir);
    if (system(cmd) != 0)
        goto fail;
    cfg.cacert = path_of("ca.pem");
    if (tls_ctx_new(&verify_ctx, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "# tls_ctx_new: %s\n", err);
        goto fail;
    }
    cfg.insecure = 1;
    cfg.cacert = NULL;
    if (tls_ctx_new(&insecure_ctx, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "# tls_ctx_new: %s\n", err);
        goto fail;
    }
    return 0;
fail:
    group_teardown(state); /* safe to run twice, whatever cmocka does after a failure */
    return -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];

    tls_ctx_free(verify_ctx);
    tls_ctx_free(insecure_ctx);
    verify_ctx = insecure_ctx = NULL;
    if (cert_dir[0] != '\0') {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", cert_dir);
        cert_dir[0] = '\0';
        if (system(cmd) != 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_tls13),
        cmocka_unit_test(test_handshake_tls12),
        cmocka_unit_test(test_sni_normalised),
        cmocka_unit_test(test_no_alpn_from_server),
        cmocka_unit_test(test_transfer_both_ways),
        cmocka_unit_test(test_write_zero),
        cmocka_unit_test(test_key_update),
        cmocka_unit_test(test_renegotiation_tls12),
        cmocka_unit_test(test_corrupt_record),
        cmocka_unit_test(test_resumption_tls13),
        cmocka_unit_test(test_resumption_tls12),
        cmocka_unit_test(test_session_cache_bounded),
        cmocka_unit_test(test_wrong_host),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_not_yet_valid),
        cmocka_unit_test(test_self_signed),
        cmocka_unit_test(test_incomplete_chain),
        cmocka_unit_test(test_insecure_accepts),
        cmocka_unit_test(test_ip_literal),
        cmocka_unit_test(test_close_notify),
        cmocka_unit_test(test_eof_without_close_notify),
        cmocka_unit_test(test_eof_mid_record),
        cmocka_unit_test(test_eof_during_handshake),
        cmocka_unit_test(test_plain_http_server),
        cmocka_unit_test(test_old_tls_refused),
        cmocka_unit_test(test_ctx_errors),
    };
    (void)argc;
    argv0 = argv[0];
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
