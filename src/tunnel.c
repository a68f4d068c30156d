/*
 * tunnel.c -- HTTP CONNECT and SOCKS5 tunnels as transport layers. See tunnel.h.
 *
 * The handshake is a list of steps: send the message in `out`, then read exactly the
 * answer into `in` and judge it (answer_complete says how many bytes the answer has once
 * enough of it is there; judge sets up the next message or ends the handshake). An HTTP
 * answer has no length up front, so CONNECT reads it a byte at a time, as curl does: it
 * is one short head, once per connection, and no byte of the target's stream is ever
 * taken. The buffers live only while the handshake runs.
 */
#include "tunnel.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define CONNECT_HEAD_MAX (16 * 1024) /* the proxy's answer to CONNECT, at most */
#define SOCKS_MSG_MAX    (3 + 255 + 255 + 2 * 255)

enum tunnel_kind { TUNNEL_CONNECT, TUNNEL_SOCKS5 };

/* Where the handshake is. */
enum tunnel_step {
    STEP_SEND,  /* sending `out` */
    STEP_READ,  /* reading the answer into `in` */
    STEP_UP,    /* the tunnel is up: bytes pass through */
    STEP_FAILED /* refused or garbled: `why` says how */
};

/* The SOCKS5 exchange, in order. */
enum socks_phase { SOCKS_GREETING, SOCKS_AUTH, SOCKS_REQUEST };

struct tunnel {
    struct transport t; /* first: a struct tunnel is a struct transport */
    enum tunnel_kind kind;
    enum tunnel_step step;
    enum socks_phase socks;
    struct buf out; /* the message being sent */
    struct buf in;  /* the answer read so far */
    int final;      /* refused for good (tunnel_error) */
    char why[160];  /* the reason of STEP_FAILED */
    /* SOCKS5: what the request and the authentication need. */
    char *host;
    int by_name;
    uint16_t port;
    char *user, *pass;
};

static struct tunnel *tunnel_of(const struct transport *t)
{
    return (struct tunnel *)t;
}

/* Empties a buffer that may have held credentials (Proxy-Authorization, the RFC 1929
 * message), clearing its bytes first: freed memory keeps no password. */
static void wipe(struct buf *b)
{
    if (b->data != NULL)
        explicit_bzero(b->data, b->cap);
    buf_free(b);
}

static int fail(struct tunnel *tn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct tunnel *tn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tn->why, sizeof tn->why, fmt, ap);
    va_end(ap);
    tn->step = STEP_FAILED;
    return TUNNEL_EREFUSED;
}

static const unsigned char *answer(const struct tunnel *tn)
{
    return (const unsigned char *)buf_head(&tn->in);
}

/* ---- HTTP CONNECT ----------------------------------------------------------------------- */

/* The answer's head is whole once it ends with an empty line. */
static size_t connect_answer_len(const struct tunnel *tn)
{
    size_t n = buf_size(&tn->in);
    const unsigned char *a = answer(tn);
    if (n >= 4 && memcmp(a + n - 4, "\r\n\r\n", 4) == 0)
        return n;
    if (n >= 2 && memcmp(a + n - 2, "\n\n", 2) == 0)
        return n;
    return 0;
}

static int connect_judge(struct tunnel *tn)
{
    char line[128];
    size_t n = 0;
    while (n < buf_size(&tn->in) && n < sizeof line - 1 && answer(tn)[n] != '\r' &&
           answer(tn)[n] != '\n')
        n++;
    memcpy(line, answer(tn), n);
    line[n] = '\0';
    /* The line goes into messages, which reach terminals: no control byte of a hostile
     * proxy's does. */
    for (char *p = line; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    int minor, status, used = 0;
    if (sscanf(line, "HTTP/1.%1d %3d%n", &minor, &status, &used) != 2 || used != 12 ||
        (line[12] != '\0' && line[12] != ' ') || status < 100)
        return fail(tn, "the proxy's answer to CONNECT is not HTTP: %.60s", line);
    tn->final = status >= 400 && status <= 499;
    if (status < 200 || status > 299) {
        return fail(tn, "the proxy answered CONNECT with %s", line + 9);
    }
    tn->step = STEP_UP;
    return 0;
}

/* ---- SOCKS5 (RFC 1928, RFC 1929) ------------------------------------------------------ */

static const char *socks_reply_reason(unsigned code)
{
    static const char *const reasons[] = {
        "succeeded",
        "general SOCKS server failure",
        "connection not allowed by ruleset",
        "network unreachable",
        "host unreachable",
        "connection refused",
        "TTL expired",
        "command not supported",
        "address type not supported",
    };
    return code < sizeof reasons / sizeof reasons[0] ? reasons[code] : "unknown error";
}

static int socks_put_greeting(struct tunnel *tn)
{
    unsigned char m[4] = {5, 1, 0x00};
    if (tn->user != NULL) {
        m[1] = 2;
        m[3] = 0x02; /* username/password, besides none */
    }
    return buf_append(&tn->out, m, 2 + m[1]);
}

static int socks_put_auth(struct tunnel *tn)
{
    size_t ul = strlen(tn->user), pl = strlen(tn->pass);
    unsigned char m[3 + 255 + 255];
    m[0] = 1;
    m[1] = (unsigned char)ul;
    memcpy(m + 2, tn->user, ul);
    m[2 + ul] = (unsigned char)pl;
    memcpy(m + 3 + ul, tn->pass, pl);
    int rc = buf_append(&tn->out, m, 3 + ul + pl);
    explicit_bzero(m, sizeof m);
    return rc;
}

static int socks_put_request(struct tunnel *tn)
{
    unsigned char m[4 + 1 + 255 + 2] = {5, 1, 0};
    size_t n = 4;
    if (tn->by_name) {
        size_t hl = strlen(tn->host);
        m[3] = 3;
        m[n++] = (unsigned char)hl;
        memcpy(m + n, tn->host, hl);
        n += hl;
    } else if (inet_pton(AF_INET, tn->host, m + n) == 1) {
        m[3] = 1;
        n += 4;
    } else if (inet_pton(AF_INET6, tn->host, m + n) == 1) {
        m[3] = 4;
        n += 16;
    } else {
        return -1;
    }
    m[n++] = (unsigned char)(tn->port >> 8);
    m[n++] = (unsigned char)(tn->port & 0xff);
    return buf_append(&tn->out, m, n);
}

/* How long the answer of the current phase is, once enough of it is there (0: more). */
static size_t socks_answer_len(const struct tunnel *tn)
{
    size_t n = buf_size(&tn->in);
    const unsigned char *a = answer(tn);
    if (n < 2)
        return 0;
    if (tn->socks != SOCKS_REQUEST)
        return 2;
    if (n < 5)
        return 0;
    switch (a[3]) {
    case 1:
        return 4 + 4 + 2;
    case 4:
        return 4 + 16 + 2;
    case 3:
        return 4 + 1 + (size_t)a[4] + 2;
    default:
        return 5; /* judged as garbage at once */
    }
}

static int socks_judge(struct tunnel *tn)
{
    const unsigned char *a = answer(tn);
    switch (tn->socks) {
    case SOCKS_GREETING:
        if (a[0] != 5)
            return fail(tn, "the proxy does not speak SOCKS5");
        if (a[1] == 0x02 && tn->user != NULL) {
            tn->socks = SOCKS_AUTH;
            return socks_put_auth(tn) == 0 ? 0 : fail(tn, "out of memory");
        }
        if (a[1] != 0x00) {
            tn->final = 1; /* the methods offered do not change */
            return fail(tn,
                        "the SOCKS5 proxy accepts none of the offered authentication "
                        "methods%s",
                        tn->user != NULL ? "" : " (it may want a user name and password)");
        }
        break;
    case SOCKS_AUTH:
        if (a[1] != 0) {
            tn->final = 1;
            return fail(tn, "the SOCKS5 proxy refused the user name and password");
        }
        break;
    case SOCKS_REQUEST:
        if (a[0] != 5 || a[2] != 0 || (a[3] != 1 && a[3] != 3 && a[3] != 4))
            return fail(tn, "the SOCKS5 proxy's reply is malformed");
        tn->final = a[1] == 2; /* "not allowed by ruleset" */
        if (a[1] != 0)
            return fail(tn, "the SOCKS5 proxy could not connect: %s", socks_reply_reason(a[1]));
        tn->step = STEP_UP;
        return 0;
    }
    tn->socks = SOCKS_REQUEST;
    return socks_put_request(tn) == 0 ? 0 : fail(tn, "cannot build the SOCKS5 request");
}

/* ---- the handshake -------------------------------------------------------------------- */

static size_t answer_len(const struct tunnel *tn)
{
    return tn->kind == TUNNEL_CONNECT ? connect_answer_len(tn) : socks_answer_len(tn);
}

/* How much to read now: never past the end of the answer. */
static size_t read_want(const struct tunnel *tn)
{
    if (tn->kind == TUNNEL_CONNECT)
        return 1;
    size_t have = buf_size(&tn->in);
    size_t need = have < 2 ? 2 : tn->socks == SOCKS_REQUEST && have < 5 ? 5 : 0;
    if (need == 0)
        need = socks_answer_len(tn);
    return need - have;
}

static int tunnel_handshake(struct transport *t)
{
    struct tunnel *tn = tunnel_of(t);
    struct transport *lower = t->lower;
    for (;;) {
        switch (tn->step) {
        case STEP_UP:
            return 0;
        case STEP_FAILED:
            return TUNNEL_EREFUSED;
        case STEP_SEND:
            while (buf_size(&tn->out) > 0) {
                ssize_t k = lower->ops->send(lower, buf_head(&tn->out), buf_size(&tn->out));
                if (k == 0)
                    return TRANSPORT_AGAIN; /* TLS below wants to read first */
                if (k < 0)
                    return (int)k;
                buf_consume(&tn->out, (size_t)k);
            }
            int rc = lower->ops->flush(lower);
            if (rc < 0)
                return rc;
            wipe(&tn->out);
            buf_reset(&tn->in);
            tn->step = STEP_READ;
            break;
        case STEP_READ: {
            unsigned char tmp[SOCKS_MSG_MAX];
            size_t want = read_want(tn);
            ssize_t n = lower->ops->recv(lower, tmp, want < sizeof tmp ? want : sizeof tmp);
            if (n == 0)
                return fail(tn, "the proxy closed the connection during the %s",
                            tn->kind == TUNNEL_CONNECT ? "CONNECT" : "SOCKS5 handshake");
            if (n < 0)
                return (int)n;
            if (buf_append(&tn->in, tmp, (size_t)n) < 0)
                return fail(tn, "the proxy's answer is longer than 16 KiB");
            size_t len = answer_len(tn);
            if (len == 0 || buf_size(&tn->in) < len)
                break;
            rc = tn->kind == TUNNEL_CONNECT ? connect_judge(tn) : socks_judge(tn);
            if (rc < 0)
                return rc;
            if (tn->step == STEP_READ)
                tn->step = STEP_SEND; /* the next SOCKS message is in `out` */
            if (tn->step == STEP_UP) {
                buf_free(&tn->in);
                wipe(&tn->out);
            }
            break;
        }
        }
    }
}

/* ---- passing bytes through ------------------------------------------------------------ */

static ssize_t tunnel_send(struct transport *t, const void *p, size_t n)
{
    return t->lower->ops->send(t->lower, p, n);
}

static int tunnel_flush(struct transport *t)
{
    return t->lower->ops->flush(t->lower);
}

static ssize_t tunnel_recv(struct transport *t, void *dst, size_t cap)
{
    return t->lower->ops->recv(t->lower, dst, cap);
}

static size_t tunnel_pending_in(const struct transport *t)
{
    (void)t;
    return 0; /* the handshake never reads past the proxy's answer */
}

static size_t tunnel_pending_out(const struct transport *t)
{
    const struct tunnel *tn = tunnel_of(t);
    return tn->step == STEP_SEND ? buf_size(&tn->out) : 0;
}

static void tunnel_shutdown(struct transport *t)
{
    t->lower->ops->shutdown(t->lower);
}

static void tunnel_destroy(struct transport *t)
{
    struct tunnel *tn = tunnel_of(t);
    struct transport *lower = t->lower;
    wipe(&tn->out);
    buf_free(&tn->in);
    free(tn->host);
    free(tn->user);
    if (tn->pass != NULL)
        explicit_bzero(tn->pass, strlen(tn->pass));
    free(tn->pass);
    free(tn);
    lower->ops->destroy(lower);
}

static const struct transport_ops tunnel_ops = {
    .name = "tunnel",
    .handshake = tunnel_handshake,
    .send = tunnel_send,
    .flush = tunnel_flush,
    .recv = tunnel_recv,
    .pending_in = tunnel_pending_in,
    .pending_out = tunnel_pending_out,
    .shutdown = tunnel_shutdown,
    .destroy = tunnel_destroy,
};

static struct tunnel *tunnel_alloc(struct transport *lower, enum tunnel_kind kind)
{
    struct tunnel *tn = calloc(1, sizeof *tn);
    if (tn == NULL)
        return NULL;
    tn->t.ops = &tunnel_ops;
    tn->t.lower = lower;
    tn->kind = kind;
    tn->step = STEP_SEND;
    buf_init(&tn->out, CONNECT_HEAD_MAX);
    buf_init(&tn->in, CONNECT_HEAD_MAX);
    return tn;
}

struct transport *tunnel_connect_new(struct transport *lower, const char *authority,
                                     const char *basic_auth, const char *user_agent)
{
    struct tunnel *tn = tunnel_alloc(lower, TUNNEL_CONNECT);
    if (tn == NULL)
        return NULL;
    int rc = buf_printf(&tn->out, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", authority, authority);
    if (rc == 0 && user_agent != NULL)
        rc = buf_printf(&tn->out, "User-Agent: %s\r\n", user_agent);
    if (rc == 0 && basic_auth != NULL)
        rc = buf_printf(&tn->out, "Proxy-Authorization: %s\r\n", basic_auth);
    if (rc == 0)
        rc = buf_append_str(&tn->out, "\r\n");
    if (rc != 0) {
        buf_free(&tn->out);
        free(tn);
        return NULL;
    }
    return &tn->t;
}

struct transport *tunnel_socks5_new(struct transport *lower, const char *host, int by_name,
                                    uint16_t port, const char *user, const char *pass)
{
    if ((by_name && strlen(host) > 255) ||
        (user != NULL && (strlen(user) > 255 || strlen(pass) > 255)))
        return NULL;
    struct tunnel *tn = tunnel_alloc(lower, TUNNEL_SOCKS5);
    if (tn == NULL)
        return NULL;
    tn->by_name = by_name;
    tn->port = port;
    tn->host = strdup(host);
    tn->user = user != NULL ? strdup(user) : NULL;
    tn->pass = user != NULL ? strdup(pass) : NULL;
    tn->socks = SOCKS_GREETING;
    if (tn->host == NULL || (user != NULL && (tn->user == NULL || tn->pass == NULL)) ||
        socks_put_greeting(tn) != 0) {
        buf_free(&tn->out);
        free(tn->host);
        free(tn->user);
        free(tn->pass);
        free(tn);
        return NULL;
    }
    return &tn->t;
}

const char *tunnel_error(const struct transport *t, int *final)
{
    const struct tunnel *tn = tunnel_of(t);
    *final = tn->step == STEP_FAILED && tn->final;
    return tn->why[0] != '\0' ? tn->why : "the tunnel failed";
}

int tunnel_is(const struct transport *t)
{
    return t != NULL && t->ops == &tunnel_ops;
}
