/*
 * test_state.c -- the request state machine over a scripted transport.
 *
 * A real engine (salvo_new) is given a connection of its own making: a loopback TCP
 * connection opened by the pool (pool_conn_open), whose transport stack top is replaced
 * by a fake layer with scripted results: send takes the request in pieces of a chosen
 * size, refuses now and then, or takes nothing until it has read from the peer (as TLS
 * does during a renegotiation); recv hands out a scripted answer, an EOF or an error.
 * The connection is put in the pool as idle for the request's origin (pool_checkin);
 * the request checks it out and runs SENDING -> RECEIVING -> DONE over it. The loop
 * watches the real socket: whenever the script has something for the engine, the fake
 * writes one byte at the server's end of the connection, and its recv consumes that
 * byte, so that every step is driven by a real readiness event.
 *
 * The trace (salvo_set_trace) records every transition; each case checks the exact
 * sequence and the result, and every transition seen in any case is checked against
 * the transition table as the request core documents it. A move the table forbids
 * aborts the process before it is traced (checked for every pair of states, each in a
 * child process).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "request.h"

/* ---- the transition table, as documented (drive.h, request.h) ------------------------- */

/* Each state and the states it may move to. */
static const struct {
    const char *from, *to;
} allowed_moves[] = {
    {"queued", "resolving sending done"},
    {"resolving", "wait_ip connecting backoff done"},
    {"wait_ip", "connecting backoff done"},
    {"connecting", "wait_ip proxy tls sending backoff done"},
    {"proxy", "tls sending backoff done"},
    {"tls", "sending backoff done"},
    {"sending", "receiving resolving queued backoff done"},
    {"receiving", "resolving queued backoff done"},
    {"backoff", "queued done"},
    {"done", ""},
};

static int move_allowed(const char *from, const char *to)
{
    char word[32], list[128];
    snprintf(word, sizeof word, " %s ", to);
    for (size_t i = 0; i < sizeof allowed_moves / sizeof allowed_moves[0]; i++) {
        if (strcmp(allowed_moves[i].from, from) != 0)
            continue;
        snprintf(list, sizeof list, " %s ", allowed_moves[i].to);
        return strstr(list, word) != NULL;
    }
    return 0;
}

/* How many moves the table allows. */
static int moves_allowed(void)
{
    int n = 0;
    for (size_t i = 0; i < sizeof allowed_moves / sizeof allowed_moves[0]; i++)
        for (const char *p = allowed_moves[i].to; *p; p++)
            n += p[1] == ' ' || p[1] == '\0';
    return n;
}

/* ---- the trace ------------------------------------------------------------------------- */

#define MAX_MOVES 64

struct move {
    uint64_t index;
    double t_ms;
    char from[16], to[16], detail[128];
};

struct trace {
    struct move m[MAX_MOVES];
    size_t n;
    int overflow;
};

static void on_trace(const salvo_transition_t *t, void *user)
{
    struct trace *tr = user;
    if (tr->n == MAX_MOVES) {
        tr->overflow = 1;
        return;
    }
    struct move *m = &tr->m[tr->n++];
    m->index = t->index;
    m->t_ms = t->t_ms;
    snprintf(m->from, sizeof m->from, "%s", t->from);
    snprintf(m->to, sizeof m->to, "%s", t->to);
    snprintf(m->detail, sizeof m->detail, "%s", t->detail);
}

/* The trace of one request: a chain from queued to done, in time order, with moves the
 * table allows only; then exactly the states listed ("queued", "sending", ...). */
static void check_trace(const struct trace *tr, uint64_t index, const char *const *states,
                        size_t nstates)
{
    char got[1024] = "", want[1024] = "";
    for (size_t i = 0; i < nstates; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i ? " " : "", states[i]);
    assert_false(tr->overflow);
    for (size_t i = 0; i < tr->n; i++) {
        const struct move *m = &tr->m[i];
        assert_int_equal(m->index, index);
        if (!move_allowed(m->from, m->to))
            fail_msg("traced a move the table forbids: %s -> %s", m->from, m->to);
        if (i == 0) {
            assert_string_equal(m->from, "queued");
            snprintf(got, sizeof got, "%s", m->from);
        } else {
            assert_string_equal(m->from, tr->m[i - 1].to);
            assert_true(m->t_ms >= tr->m[i - 1].t_ms);
        }
        assert_true(m->t_ms >= 0);
        snprintf(got + strlen(got), sizeof got - strlen(got), " %s", m->to);
    }
    if (strcmp(got, want) != 0)
        fail_msg("trace\n  got:  %s\n  want: %s", got, want);
}

/* The detail of the first move into state to. */
static const char *detail_into(const struct trace *tr, const char *to)
{
    for (size_t i = 0; i < tr->n; i++)
        if (strcmp(tr->m[i].to, to) == 0)
            return tr->m[i].detail;
    return NULL;
}

/* ---- the scripted transport ------------------------------------------------------------ */

enum step_kind { STEP_DATA, STEP_EOF, STEP_ERROR };

struct step {
    enum step_kind kind;
    const char *data; /* STEP_DATA */
    int err;          /* STEP_ERROR: an errno */
};

struct fake {
    struct transport t; /* first: a struct fake is a struct transport */
    int fd;             /* the client's socket: recv consumes the peer's signal bytes */
    int peer;           /* the server's end: one byte there makes the client readable */
    struct tcp *tcp;    /* the layer below */
    /* the script */
    size_t take;     /* send takes at most this many bytes per call; 0: all */
    int again_every; /* every n-th send call refuses (TRANSPORT_AGAIN); 0: never */
    int read_first;  /* send takes nothing (returns 0) until recv read the peer */
    int send_err;    /* send fails with -send_err (0: never) */
    struct step steps[8];
    size_t nsteps, next_step;
    /* what happened */
    char sent[8192];
    size_t sent_len;
    int request_done; /* the whole request (head and body) was taken */
    int peer_read;    /* read_first: the peer's record was read */
    int signalled;    /* read_first: the peer's record was sent */
    int send_calls, send_zero, send_again, recv_calls, shutdown_calls, destroy_calls;
};

static struct fake *fake_of(struct transport *t)
{
    return (struct fake *)t;
}

/* The server says something: the client's socket becomes readable. */
static void signal_peer(struct fake *fk)
{
    assert_int_equal(write(fk->peer, "!", 1), 1);
}

/* Takes one signal byte if one arrived; 0 when none has (yet). */
static int take_signal(struct fake *fk)
{
    char b;
    return recv(fk->fd, &b, 1, MSG_DONTWAIT) == 1;
}

/* Whether the bytes taken make a whole request: a head, then Content-Length bytes. */
static int request_complete(const struct fake *fk)
{
    const char *end = memmem(fk->sent, fk->sent_len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    size_t head = (size_t)(end - fk->sent) + 4, body = 0;
    for (const char *p = fk->sent; p < end; p = strstr(p, "\r\n") + 2)
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            body = strtoul(p + 15, NULL, 10);
    return fk->sent_len >= head + body;
}

static ssize_t fake_send(struct transport *t, const void *p, size_t n)
{
    struct fake *fk = fake_of(t);
    fk->send_calls++;
    if (fk->send_err) {
        if (!fk->signalled) {
            fk->signalled = 1;
            signal_peer(fk); /* what the peer said before it went: the script's answer */
        }
        return -fk->send_err;
    }
    if (fk->read_first && !fk->peer_read) {
        fk->send_zero++;
        if (!fk->signalled) {
            fk->signalled = 1;
            signal_peer(fk); /* the peer's record that must be read first */
        }
        return 0;
    }
    if (fk->again_every && fk->send_calls % fk->again_every == 0) {
        fk->send_again++;
        return TRANSPORT_AGAIN;
    }
    size_t k = fk->take && n > fk->take ? fk->take : n;
    assert_true(fk->sent_len + k <= sizeof fk->sent);
    assert_false(fk->request_done); /* nothing after the request */
    memcpy(fk->sent + fk->sent_len, p, k);
    fk->sent_len += k;
    if (request_complete(fk)) {
        fk->request_done = 1;
        signal_peer(fk); /* the server answers */
    }
    return (ssize_t)k;
}

static int fake_handshake(struct transport *t)
{
    (void)t;
    return 0; /* up: the connection was made before the fake went on top */
}

static int fake_flush(struct transport *t)
{
    (void)t;
    return 0;
}

static ssize_t fake_recv(struct transport *t, void *dst, size_t cap)
{
    struct fake *fk = fake_of(t);
    fk->recv_calls++;
    if (fk->read_first && !fk->peer_read) {
        if (!take_signal(fk))
            return TRANSPORT_AGAIN;
        fk->peer_read = 1;
        return TRANSPORT_AGAIN; /* a record with no plaintext in it */
    }
    if (fk->next_step == fk->nsteps || !take_signal(fk))
        return TRANSPORT_AGAIN;
    const struct step *s = &fk->steps[fk->next_step++];
    if (fk->next_step < fk->nsteps)
        signal_peer(fk); /* more to come */
    switch (s->kind) {
    case STEP_DATA: {
        size_t n = strlen(s->data);
        assert_true(n <= cap);
        memcpy(dst, s->data, n);
        return (ssize_t)n;
    }
    case STEP_EOF:
        fk->tcp->eof = 1;
        return 0;
    case STEP_ERROR:
    default:
        return -s->err;
    }
}

static size_t fake_pending(const struct transport *t)
{
    (void)t;
    return 0;
}

static void fake_shutdown(struct transport *t)
{
    fake_of(t)->shutdown_calls++;
}

static void fake_destroy(struct transport *t)
{
    struct fake *fk = fake_of(t);
    fk->destroy_calls++;
    t->lower->ops->destroy(t->lower);
}

static const struct transport_ops fake_ops = {
    .name = "fake",
    .handshake = fake_handshake,
    .send = fake_send,
    .flush = fake_flush,
    .recv = fake_recv,
    .pending_in = fake_pending,
    .pending_out = fake_pending,
    .shutdown = fake_shutdown,
    .destroy = fake_destroy,
};

/* ---- a tiny server in the engine's own loop, for the fresh connections of a replay ---- */

struct server {
    struct loop_io *lw; /* the listener's watcher, NULL when not serving */
    struct loop_io *cw[4];
    int cfd[4];
    char in[4][4096];
    size_t in_len[4];
    int accepted, answered;
    char first[4096]; /* the first request answered */
};

/* ---- the fixture ----------------------------------------------------------------------- */

struct fixture {
    salvo_t *eng;
    struct trace trace;
    int listener;
    struct sockaddr_in addr;
    char url[128];
    struct fake fk;
    int peer; /* the server's end of the fake connection */
    struct server srv;
    /* the result */
    int done_cb_called;
    salvo_err_t err;
    int status, attempts, reused;
    uint64_t index, bytes;
    char remote_ip[64];
    char message[256];
};

static void on_done(const salvo_result_t *r, void *user)
{
    struct fixture *f = user;
    f->done_cb_called++;
    f->err = r->error;
    f->status = r->status;
    f->attempts = r->attempts;
    f->reused = r->reused;
    f->index = r->index;
    f->bytes = r->bytes;
    snprintf(f->remote_ip, sizeof f->remote_ip, "%s", r->remote_ip ? r->remote_ip : "");
    snprintf(f->message, sizeof f->message, "%s", r->message ? r->message : "");
}

static void on_unused_io(struct loop_io *w, unsigned events, void *data)
{
    (void)w;
    (void)events;
    (void)data;
}

static int setup(void **state)
{
    static struct fixture f;
    socklen_t len = sizeof f.addr;
    memset(&f, 0, sizeof f);
    f.peer = -1;
    for (int i = 0; i < 4; i++)
        f.srv.cfd[i] = -1;

    salvo_config_t cfg;
    salvo_config_init(&cfg);
    cfg.concurrency = 4;
    cfg.retry = 0; /* a replay is no retry: it must happen without one */
    cfg.max_time = 5;
    cfg.connect_timeout = 5;
    char err[256];
    assert_int_equal(salvo_new(&f.eng, &cfg, err, sizeof err, NULL, 0), 0);
    salvo_set_trace(f.eng, on_trace, &f.trace);

    f.listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(f.listener >= 0);
    f.addr.sin_family = AF_INET;
    f.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f.listener, (struct sockaddr *)&f.addr, sizeof f.addr), 0);
    assert_int_equal(listen(f.listener, 16), 0);
    assert_int_equal(getsockname(f.listener, (struct sockaddr *)&f.addr, &len), 0);
    snprintf(f.url, sizeof f.url, "http://127.0.0.1:%u/state", ntohs(f.addr.sin_port));
    *state = &f;
    return 0;
}

static void server_stop(struct server *s)
{
    if (s->lw != NULL)
        loop_io_close(s->lw);
    s->lw = NULL;
    for (int i = 0; i < 4; i++) {
        if (s->cw[i] != NULL)
            loop_io_close(s->cw[i]);
        s->cw[i] = NULL;
        if (s->cfd[i] >= 0)
            close(s->cfd[i]);
        s->cfd[i] = -1;
    }
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    server_stop(&f->srv);
    salvo_free(f->eng);
    if (f->listener >= 0)
        close(f->listener);
    if (f->peer >= 0)
        close(f->peer);
    return 0;
}

/* A connection of the URL's origin with the fake on top, idle in the pool. */
static void fake_conn(struct fixture *f)
{
    struct salvo *eng = f->eng;
    struct origin *o = pool_origin(eng->pool, 0, "127.0.0.1", ntohs(f->addr.sin_port), NULL);
    int err = 0;
    assert_non_null(o);
    pool_reserve(eng->pool, o);
    struct pool_conn *pc =
        pool_conn_open(eng->pool, o, (struct sockaddr *)&f->addr, on_unused_io, NULL, &err);
    assert_non_null(pc);
    struct pollfd p = {.fd = pc->c.fd, .events = POLLOUT};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(conn_connect_done(&pc->c), 0);
    struct pollfd lp = {.fd = f->listener, .events = POLLIN};
    assert_int_equal(poll(&lp, 1, 5000), 1);
    f->peer = accept(f->listener, NULL, NULL);
    assert_true(f->peer >= 0);

    struct fake *fk = &f->fk;
    fk->t.ops = &fake_ops;
    fk->t.lower = pc->c.top;
    fk->tcp = &pc->c.tcp;
    fk->fd = pc->c.fd;
    fk->peer = f->peer;
    pc->c.top = &fk->t;

    pool_checkin(eng->pool, pc);
    assert_int_equal(o->n_idle, 1);
    pool_origin_unref(eng->pool, o);
}

static void script(struct fake *fk, const struct step *steps, size_t n)
{
    assert_true(n <= sizeof fk->steps / sizeof fk->steps[0]);
    memcpy(fk->steps, steps, n * sizeof *steps);
    fk->nsteps = n;
}

static void run(struct fixture *f, const salvo_request_t *req)
{
    assert_int_equal(salvo_submit(f->eng, f->url, 7, req, on_done, f), 0);
    assert_int_equal(salvo_run(f->eng), 0);
    assert_int_equal(f->done_cb_called, 1);
    assert_int_equal(f->index, 7);
}

#define CHECK_TRACE(f, ...)                                                                        \
    do {                                                                                           \
        const char *const st_[] = {__VA_ARGS__};                                                   \
        check_trace(&(f)->trace, 7, st_, sizeof st_ / sizeof st_[0]);                              \
    } while (0)

static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/* ---- cases --------------------------------------------------------------------------- */

/* A whole answer on the pooled connection: no DNS, no connect. */
static void test_whole_answer(void **state)
{
    struct fixture *f = *state;
    const struct step steps[] = {
        {STEP_DATA, "HTTP/1.1 200 OK\r\nContent-Le", 0},
        {STEP_DATA, "ngth: 5\r\n\r\nhel", 0},
        {STEP_DATA, "lo", 0},
    };
    fake_conn(f);
    script(&f->fk, steps, 3);
    run(f, NULL);

    CHECK_TRACE(f, "queued", "sending", "receiving", "done");
    assert_int_equal(f->err, SALVO_E_OK);
    assert_int_equal(f->status, 200);
    assert_int_equal(f->bytes, 5);
    assert_int_equal(f->attempts, 1);
    assert_int_equal(f->reused, 1);
    assert_string_equal(f->remote_ip, "127.0.0.1");
    assert_int_equal(f->fk.next_step, 3);
    /* The request went out whole, once. */
    assert_int_equal(f->fk.request_done, 1);
    assert_true(f->fk.sent_len > 0);
    assert_memory_equal(f->fk.sent, "GET /state HTTP/1.1\r\n", 21);
    assert_non_null(memmem(f->fk.sent, f->fk.sent_len, "\r\nHost: 127.0.0.1:", 18));
    /* A whole keep-alive answer: the connection went back to the pool, not closed. */
    assert_int_equal(f->fk.destroy_calls, 0);
    salvo_stats_t st;
    salvo_stats(f->eng, &st);
    assert_int_equal(st.connections_reused, 1);
    assert_int_equal(st.dns_queries + st.dns_cache_hits, 0);
    salvo_free(f->eng);
    f->eng = NULL;
    assert_int_equal(f->fk.destroy_calls, 1);
    assert_int_equal(f->fk.shutdown_calls, 1);
}

/* The transport takes the request a few bytes at a time and refuses every third call
 * (the socket is full): the engine waits for writability and goes on where it was. The
 * body comes from the one shared copy, byte for byte. */
static void test_small_pieces(void **state)
{
    struct fixture *f = *state;
    static char body[3000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 26);
    const struct step steps[] = {{STEP_DATA, answer, 0}};
    fake_conn(f);
    f->fk.take = 7;
    f->fk.again_every = 3;
    script(&f->fk, steps, 1);
    salvo_request_t req = {.method = "POST", .body = body, .body_len = sizeof body};
    run(f, &req);

    CHECK_TRACE(f, "queued", "sending", "receiving", "done");
    assert_int_equal(f->err, SALVO_E_OK);
    assert_int_equal(f->status, 200);
    assert_int_equal(f->fk.request_done, 1);
    assert_true(f->fk.send_again > 0);
    assert_true(f->fk.send_calls > (int)(sizeof body / 7));
    assert_memory_equal(f->fk.sent, "POST /state HTTP/1.1\r\n", 22);
    assert_non_null(memmem(f->fk.sent, f->fk.sent_len, "\r\nContent-Length: 3000\r\n", 24));
    const char *end = memmem(f->fk.sent, f->fk.sent_len, "\r\n\r\n", 4);
    assert_non_null(end);
    size_t head = (size_t)(end - f->fk.sent) + 4;
    assert_int_equal(f->fk.sent_len, head + sizeof body);
    assert_memory_equal(f->fk.sent + head, body, sizeof body);
}

/* A TLS-like layer that takes nothing (0) until it has read the peer's record: the
 * engine reads, then sends again, and the request goes on. */
static void test_read_first(void **state)
{
    struct fixture *f = *state;
    const struct step steps[] = {{STEP_DATA, answer, 0}};
    fake_conn(f);
    f->fk.read_first = 1;
    script(&f->fk, steps, 1);
    run(f, NULL);

    CHECK_TRACE(f, "queued", "sending", "receiving", "done");
    assert_int_equal(f->err, SALVO_E_OK);
    assert_int_equal(f->status, 200);
    assert_true(f->fk.send_zero >= 1);
    assert_int_equal(f->fk.peer_read, 1);
    assert_int_equal(f->fk.request_done, 1);
    assert_memory_equal(f->fk.sent, "GET /state HTTP/1.1\r\n", 21);
}

/* Serves fresh connections in the engine's loop: reads a request head, answers. */
static void on_server_conn(struct loop_io *w, unsigned events, void *data)
{
    (void)events;
    struct fixture *f = data;
    struct server *s = &f->srv;
    int i;
    for (i = 0; i < 4 && s->cw[i] != w; i++)
        ;
    assert_true(i < 4);
    ssize_t n = recv(s->cfd[i], s->in[i] + s->in_len[i], sizeof s->in[i] - s->in_len[i] - 1, 0);
    if (n <= 0) {
        loop_io_close(w);
        s->cw[i] = NULL;
        close(s->cfd[i]);
        s->cfd[i] = -1;
        return;
    }
    s->in_len[i] += (size_t)n;
    s->in[i][s->in_len[i]] = '\0';
    if (strstr(s->in[i], "\r\n\r\n") != NULL) {
        static const char fresh[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh";
        assert_int_equal(send(s->cfd[i], fresh, sizeof fresh - 1, MSG_NOSIGNAL),
                         (ssize_t)sizeof fresh - 1);
        if (s->answered++ == 0)
            memcpy(s->first, s->in[i], s->in_len[i] + 1);
        s->in_len[i] = 0;
    }
}

static void on_server_accept(struct loop_io *w, unsigned events, void *data)
{
    (void)w;
    (void)events;
    struct fixture *f = data;
    struct server *s = &f->srv;
    int fd = accept4(f->listener, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0)
        return;
    assert_true(s->accepted < 4);
    int i = s->accepted++;
    s->cfd[i] = fd;
    s->cw[i] = loop_io_new(f->eng->loop, fd, on_server_conn, f);
    assert_non_null(s->cw[i]);
    assert_int_equal(loop_io_set(s->cw[i], LOOP_READ), 0);
}

static void serve(struct fixture *f)
{
    f->srv.lw = loop_io_new(f->eng->loop, f->listener, on_server_accept, f);
    assert_non_null(f->srv.lw);
    assert_int_equal(loop_io_set(f->srv.lw, LOOP_READ), 0);
}

/* The server closed the pooled connection while it sat idle: the GET fails before the
 * first response byte and is replayed on a fresh connection (DNS, connect, send), in
 * the same attempt and with no retry allowed. */
static void stale_get(struct fixture *f, const struct step *steps, size_t n, int send_err)
{
    fake_conn(f);
    f->fk.send_err = send_err;
    script(&f->fk, steps, n);
    serve(f);
    run(f, NULL);

    CHECK_TRACE(f, "queued", "sending", "receiving", "resolving", "connecting", "sending",
                "receiving", "done");
    assert_string_equal(detail_into(&f->trace, "resolving"), "replay on a fresh connection");
    assert_int_equal(f->err, SALVO_E_OK);
    assert_int_equal(f->status, 200);
    assert_int_equal(f->bytes, 5);
    assert_int_equal(f->attempts, 1);
    assert_int_equal(f->reused, 0);
    assert_string_equal(f->remote_ip, "127.0.0.1");
    assert_int_equal(f->srv.accepted, 1);
    assert_int_equal(f->srv.answered, 1);
    assert_memory_equal(f->srv.first, "GET /state HTTP/1.1\r\n", 21);
    /* The stale connection was closed, once. */
    assert_int_equal(f->fk.destroy_calls, 1);
}

static void test_stale_eof_replayed(void **state)
{
    const struct step steps[] = {{STEP_EOF, NULL, 0}};
    stale_get(*state, steps, 1, 0);
}

static void test_stale_reset_replayed(void **state)
{
    const struct step steps[] = {{STEP_ERROR, NULL, ECONNRESET}};
    stale_get(*state, steps, 1, 0);
}

/* The stale connection fails already on send (EPIPE): the engine reads what the peer
 * said (here: it reset), and replays. */
static void test_stale_send_fails_replayed(void **state)
{
    const struct step steps[] = {{STEP_ERROR, NULL, ECONNRESET}};
    stale_get(*state, steps, 1, EPIPE);
}

/* The replay's fresh connection is refused: that is the attempt's failure, and with
 * --retry 0 the request ends there. */
static void test_stale_replay_refused(void **state)
{
    struct fixture *f = *state;
    const struct step steps[] = {{STEP_EOF, NULL, 0}};
    fake_conn(f);
    script(&f->fk, steps, 1);
    close(f->listener); /* nobody listens on the URL's port any more */
    f->listener = -1;
    run(f, NULL);

    CHECK_TRACE(f, "queued", "sending", "receiving", "resolving", "connecting", "done");
    assert_string_equal(detail_into(&f->trace, "done"), "connect_refused");
    assert_int_equal(f->err, SALVO_E_CONNECT_REFUSED);
    assert_int_equal(f->attempts, 1);
    assert_int_equal(f->reused, 0);
    assert_string_equal(f->remote_ip, "127.0.0.1");
    assert_int_equal(f->fk.destroy_calls, 1);
}

/* A POST that went out on a stale connection may have been acted on: no replay, the
 * attempt fails (and --retry 0 ends the request). No new connection is made. */
static void test_stale_post_not_replayed(void **state)
{
    struct fixture *f = *state;
    const struct step steps[] = {{STEP_EOF, NULL, 0}};
    fake_conn(f);
    script(&f->fk, steps, 1);
    serve(f);
    salvo_request_t req = {.method = "POST", .body = "x=1", .body_len = 3};
    run(f, &req);

    CHECK_TRACE(f, "queued", "sending", "receiving", "done");
    assert_string_equal(detail_into(&f->trace, "done"), "empty_reply");
    assert_int_equal(f->err, SALVO_E_EMPTY_REPLY);
    assert_int_equal(f->attempts, 1);
    assert_int_equal(f->status, 0);
    assert_int_equal(f->srv.accepted, 0);
    assert_int_equal(f->fk.destroy_calls, 1);
}

/* A reset after the answer began is no stale connection: no replay, the class is
 * reset, and the status that arrived is kept. */
static void test_reset_mid_answer(void **state)
{
    struct fixture *f = *state;
    const struct step steps[] = {
        {STEP_DATA, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0},
        {STEP_ERROR, NULL, ECONNRESET},
    };
    fake_conn(f);
    script(&f->fk, steps, 2);
    serve(f);
    run(f, NULL);

    CHECK_TRACE(f, "queued", "sending", "receiving", "done");
    assert_string_equal(detail_into(&f->trace, "done"), "reset");
    assert_int_equal(f->err, SALVO_E_RESET);
    assert_int_equal(f->status, 200);
    assert_int_equal(f->bytes, 3);
    assert_int_equal(f->srv.accepted, 0);
    assert_int_equal(f->fk.destroy_calls, 1);
}

/* ---- the table itself -------------------------------------------------------------- */

/* In a child: a request put in state `from` is moved to `to`. A move the table allows
 * is traced and the child exits 0; one it forbids must abort before anything is traced.
 * The trace goes up a pipe, the child's stderr up another. */
struct probe {
    int traced;
    int aborted;
    char err[512];
};

static void on_probe_trace(const salvo_transition_t *t, void *user)
{
    int fd = *(int *)user;
    char line[64];
    int n = snprintf(line, sizeof line, "%s>%s\n", t->from, t->to);
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

static void on_never(const salvo_result_t *r, void *user)
{
    (void)r;
    (void)user;
}

static void probe(struct fixture *f, enum req_state from, enum req_state to, struct probe *pr)
{
    int tp[2], ep[2];
    assert_int_equal(pipe(tp), 0);
    assert_int_equal(pipe(ep), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(tp[0]);
        close(ep[0]);
        dup2(ep[1], 2);
        struct req *r;
        char why[256];
        if (req_new(f->eng, "http://127.0.0.1:9/", 5, NULL, on_never, NULL, &r, why, sizeof why) <
            0)
            _exit(4);
        r->state = from;
        salvo_set_trace(f->eng, on_probe_trace, &tp[1]);
        req_set_state(r, to, "probe");
        _exit(0);
    }
    close(tp[1]);
    close(ep[1]);
    char buf[256];
    ssize_t n, got = 0;
    while ((n = read(tp[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += n;
    buf[got] = '\0';
    pr->traced = got > 0;
    got = 0;
    while ((n = read(ep[0], pr->err + got, sizeof pr->err - 1 - (size_t)got)) > 0)
        got += n;
    pr->err[got] = '\0';
    close(tp[0]);
    close(ep[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    pr->aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    if (!pr->aborted && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fail_msg("%s -> %s: the child ended with status %d", req_state_name(from),
                 req_state_name(to), status);
    if (pr->traced) {
        char want[64];
        snprintf(want, sizeof want, "%s>%s\n", req_state_name(from), req_state_name(to));
        assert_string_equal(buf, want);
    }
}

static void test_forbidden_moves_never_traced(void **state)
{
    struct fixture *f = *state;
    int allowed = 0, forbidden = 0;
    for (int from = 0; from < REQ_STATE_COUNT; from++) {
        for (int to = 0; to < REQ_STATE_COUNT; to++) {
            const char *fn = req_state_name((enum req_state)from);
            const char *tn = req_state_name((enum req_state)to);
            struct probe pr = {0};
            probe(f, (enum req_state)from, (enum req_state)to, &pr);
            if (move_allowed(fn, tn)) {
                allowed++;
                if (!pr.traced || pr.aborted)
                    fail_msg("%s -> %s is allowed but was not made: %s", fn, tn, pr.err);
            } else {
                forbidden++;
                if (pr.traced)
                    fail_msg("%s -> %s is forbidden but was traced", fn, tn);
                if (!pr.aborted)
                    fail_msg("%s -> %s is forbidden but did not stop the process", fn, tn);
                char want[64];
                snprintf(want, sizeof want, "from %s to %s", fn, tn);
                if (strstr(pr.err, want) == NULL)
                    fail_msg("%s -> %s: no word of it on stderr: %s", fn, tn, pr.err);
            }
        }
    }
    assert_int_equal(allowed, moves_allowed());
    assert_int_equal(allowed, 34);
    assert_int_equal(allowed + forbidden, REQ_STATE_COUNT * REQ_STATE_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_whole_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_eof_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_reset_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_send_fails_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_replay_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_post_not_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_mid_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forbidden_moves_never_traced, setup, teardown),
    };
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
