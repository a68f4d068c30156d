/*
 * conn.c -- one accepted connection of testd and its state machine.
 *
 *   READING --request complete--> (DELAYING --timer--> ) WRITING --all sent--> end action
 *
 * The end action, chosen by the endpoint, is one of: back to READING (keep-alive),
 * LINGERING (FIN sent, wait for the peer's), FLUSHING then a RST, or STALLED (never
 * answer). Every transition to CLOSED goes through conn_close(), the one door that closes
 * the fd, fixes the statistics and queues the memory for freeing.
 *
 * epoll is level-triggered. Reads are one recv() per event (fair, and the next event
 * comes at once if more is queued). Writes go on until the socket is full or a budget is
 * spent, then wait for EPOLLOUT. While a reply is held back or written, the connection
 * still reads ahead, into its bounded buffer: that keeps pipelined requests for later
 * and notices a client that went away.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testd.h"

#define IN_INITIAL     2048                              /* first input buffer size */
#define IN_MAX         (TESTD_HEAD_MAX + TESTD_BODY_MAX) /* the biggest acceptable request */
#define WRITE_BUDGET   (1024 * 1024) /* bytes sent per event before letting others run */
#define GEN_REFILL     (16 * 1024)   /* generated body bytes staged at a time */
#define CHUNK_SIZE     1000          /* payload of each chunk of a chunked body */
#define PIPELINE_BATCH 16            /* buffered requests started per event, then yield */
#define LINGER_MS      2000          /* how long to wait for the peer's FIN after ours */
#define FLUSH_POLL_MS  1             /* poll period for the send queue before a RST */
#define FLUSH_MAX_MS   2000          /* give up waiting for the send queue to drain */

enum conn_state {
    CONN_READING,   /* waiting for (the rest of) a request; idle timer when empty */
    CONN_DELAYING,  /* reply ready, held back by the timer */
    CONN_WRITING,   /* sending the reply */
    CONN_FLUSHING,  /* all written; waiting for the kernel to send it, then RST */
    CONN_STALLED,   /* request read, never answered; waiting for the peer to leave */
    CONN_LINGERING, /* our FIN sent; reading and dropping until the peer closes */
    CONN_CLOSED,    /* fd closed; freed at the end of the loop iteration */
    CONN_STATE_COUNT
};

static const char *const state_names[CONN_STATE_COUNT] = {
    "reading", "delaying", "writing", "flushing", "stalled", "lingering", "closed",
};

enum close_how {
    CLOSE_FIN,   /* plain close(): FIN, or RST if unread input remains (kernel rule) */
    CLOSE_RESET, /* SO_LINGER {1, 0} then close(): always RST */
};

struct conn {
    struct watch w;          /* must stay first: epoll's data.ptr points here */
    struct timer timer;      /* idle-close, delay, flush poll or linger limit, by state */
    struct conn *prev;       /* server's list of open (or, once closed, closing) conns */
    struct conn *next;       /* see prev */
    enum conn_state state;   /* see enum conn_state */
    char *in;                /* received bytes not yet consumed by a request */
    size_t in_len;           /* bytes in in */
    size_t in_cap;           /* bytes allocated for in, at most IN_MAX */
    size_t req_len;          /* bytes of in taken by the request being answered */
    struct reply rp;         /* the reply being delayed or written */
    uint64_t flush_deadline; /* FLUSHING resets at the latest at this loop time */
    int active;              /* this connection counts in stats.active */
    int want_write;          /* the last send would block: wait for EPOLLOUT */
    int peer_eof;            /* the peer sent FIN: read nothing more */
    int continued;           /* a 100 Continue was sent for the request being read */
};

static void conn_run(struct server *s, struct conn *c);

/* ---- output buffer -------------------------------------------------------------------- */

int obuf_reserve(struct obuf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 512;
    while (cap - b->len < more)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int obuf_append(struct obuf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0; /* nothing to copy, and b->data may still be NULL */
    if (obuf_reserve(b, n) < 0)
        return -ENOMEM;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int obuf_printf(struct obuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || obuf_reserve(b, (size_t)n + 1) < 0)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += n;
    return 0;
}

void obuf_free(struct obuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* Releases what a reply holds: its output buffer and its compressor. */
static void reply_free(struct reply *rp)
{
    obuf_free(&rp->out);
    routes_zgen_free(rp->zgen);
    rp->zgen = NULL;
}

/* ---- closing -------------------------------------------------------------------------- */

static void list_unlink(struct conn **head, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void list_push(struct conn **head, struct conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

/* The one door to CLOSED. The fd is closed now (which also removes it from epoll); the
 * memory waits on the closing list until the end of the iteration. */
static void conn_close(struct server *s, struct conn *c, enum close_how how)
{
    if (c->state == CONN_CLOSED)
        return;
    if (s->verbose)
        fprintf(stderr, "testd: fd %d: close (%s) in state %s\n", c->w.fd,
                how == CLOSE_RESET ? "rst" : "fin", state_names[c->state]);
    if (how == CLOSE_RESET) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->w.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->w.fd);
    timer_stop(s, &c->timer);
    if (c->active)
        stats_active(s, -1);
    c->active = 0;
    stats_open(s, -1);
    reply_free(&c->rp);
    c->state = CONN_CLOSED;
    list_unlink(&s->conns, c);
    list_push(&s->closing, c);
}

void conn_free_closed(struct server *s)
{
    while (s->closing) {
        struct conn *c = s->closing;
        s->closing = c->next;
        free(c->in);
        free(c);
    }
}

void conn_close_all(struct server *s)
{
    while (s->conns)
        conn_close(s, s->conns, CLOSE_FIN);
}

/* ---- epoll interest ------------------------------------------------------------------- */

/* Derives the epoll interest from the state, so that no code path has to remember to
 * switch EPOLLIN or EPOLLOUT on or off. */
static void conn_update(struct server *s, struct conn *c)
{
    uint32_t ev = 0;
    if (c->state == CONN_CLOSED)
        return;
    switch (c->state) {
    case CONN_READING:
    case CONN_STALLED:
    case CONN_LINGERING:
        ev = EPOLLIN;
        break;
    default:
        /* Read ahead while there is room: keeps pipelined requests, notices a FIN. */
        if (!c->peer_eof && c->in_len < IN_MAX)
            ev = EPOLLIN;
        break;
    }
    if (c->want_write)
        ev |= EPOLLOUT;
    if (watch_set(s, &c->w, ev) < 0)
        conn_close(s, c, CLOSE_FIN);
}

/* ---- writing -------------------------------------------------------------------------- */

/* Produces at most max body bytes at dst: pattern bytes, or compressed ones when the
 * reply has a zgen. Returns the count, 0 once the body is complete, or a negative errno. */
static ssize_t gen_body(struct reply *rp, char *dst, size_t max)
{
    if (rp->zgen)
        return routes_zgen_read(rp->zgen, dst, max);
    size_t n = rp->gen_left < max ? rp->gen_left : max;
    routes_fill_pattern(dst, rp->gen_pos, n);
    rp->gen_pos += n;
    rp->gen_left -= n;
    return n;
}

/* Stages the next generated bytes (with chunk framing when asked) into the emptied
 * output buffer. Returns 1 when something was staged, 0 when the body is complete, or
 * a negative errno. */
static int refill(struct reply *rp)
{
    struct obuf *b = &rp->out;
    char chunk[CHUNK_SIZE];
    ssize_t n = 1;
    b->len = b->off = 0;
    while (b->len < GEN_REFILL) {
        size_t max = rp->chunked ? CHUNK_SIZE : GEN_REFILL - b->len;
        if (obuf_reserve(b, max + 16) < 0)
            return -ENOMEM;
        n = gen_body(rp, rp->chunked ? chunk : b->data + b->len, max);
        if (n <= 0)
            break;
        if (rp->chunked) {
            b->len += sprintf(b->data + b->len, "%zx\r\n", (size_t)n);
            memcpy(b->data + b->len, chunk, n);
        }
        b->len += n;
        if (rp->chunked)
            b->len += sprintf(b->data + b->len, "\r\n");
    }
    if (n < 0)
        return (int)n;
    if (n == 0 && rp->last_chunk) {
        if (obuf_append(b, "0\r\n\r\n", 5) < 0)
            return -ENOMEM;
        rp->last_chunk = 0;
    }
    return b->len > 0;
}

static int send_queue_empty(int fd)
{
    int queued = 0;
    return ioctl(fd, SIOCOUTQ, &queued) < 0 || queued == 0;
}

static void request_done(struct server *s, struct conn *c)
{
    if (c->active)
        stats_active(s, -1);
    c->active = 0;
}

/* Takes the answered request out of the input buffer; what follows it is pipelined. */
static void consume_request(struct conn *c)
{
    memmove(c->in, c->in + c->req_len, c->in_len - c->req_len);
    c->in_len -= c->req_len;
    c->req_len = 0;
}

/* Everything is written: carry out the reply's end action. */
static void finish_reply(struct server *s, struct conn *c)
{
    reply_free(&c->rp);
    c->want_write = 0;
    switch (c->rp.end) {
    case END_KEEP:
        request_done(s, c);
        consume_request(c);
        c->state = CONN_READING;
        /* With bytes left over, a zero timer lets conn_run() take the pipelined request
         * after this event; otherwise the connection is idle from now. */
        if (c->in_len > 0)
            timer_start(s, &c->timer, 0);
        else if (s->idle_close_ms > 0)
            timer_start(s, &c->timer, s->idle_close_ms);
        break;
    case END_CLOSE:
        request_done(s, c);
        shutdown(c->w.fd, SHUT_WR);
        c->in_len = c->req_len = 0;
        c->state = CONN_LINGERING;
        timer_start(s, &c->timer, LINGER_MS);
        break;
    case END_RESET:
        /* A RST discards whatever the kernel has not sent yet, so a half body would
         * silently shrink: wait for the send queue to drain first (bounded). */
        if (send_queue_empty(c->w.fd)) {
            conn_close(s, c, CLOSE_RESET);
            break;
        }
        c->state = CONN_FLUSHING;
        c->flush_deadline = s->now + FLUSH_MAX_MS;
        timer_start(s, &c->timer, FLUSH_POLL_MS);
        break;
    case END_STALL:
        c->state = CONN_STALLED;
        break;
    }
}

/* Sends until the socket is full, the budget is spent, or the reply is complete. */
static void write_reply(struct server *s, struct conn *c)
{
    struct obuf *b = &c->rp.out;
    size_t sent = 0;
    while (sent < WRITE_BUDGET) {
        if (b->off == b->len) {
            int r = refill(&c->rp);
            if (r < 0) {
                conn_close(s, c, CLOSE_FIN);
                return;
            }
            if (r == 0) {
                finish_reply(s, c);
                return;
            }
        }
        ssize_t n = send(c->w.fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            conn_close(s, c, CLOSE_FIN); /* EPIPE, ECONNRESET: the client is gone */
            return;
        }
        b->off += n;
        sent += n;
    }
    /* Blocked or out of budget: level-triggered EPOLLOUT brings us back either way. */
    c->want_write = 1;
}

/* ---- requests ------------------------------------------------------------------------- */

static int token_in_list(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end - start == tl && strncasecmp(v + start, tok, tl) == 0)
            return 1;
    }
    return 0;
}

/* Applies one header line (without CRLF). Returns 0 or the HTTP status of the error. */
static int parse_header(const char *p, size_t n, struct request *rq, uint64_t *clen, int *seen)
{
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p || p[0] == ' ' || p[0] == '\t' || memchr(p, ' ', colon - p))
        return 400; /* no name, obsolete line folding, or space before the colon */
    size_t nl = colon - p;
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    while (vl > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    if (nl == 14 && strncasecmp(p, "Content-Length", nl) == 0) {
        uint64_t x = 0;
        if (vl == 0 || vl > 18)
            return 400;
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9')
                return 400;
            x = x * 10 + (v[i] - '0');
        }
        if (*seen && x != *clen)
            return 400; /* conflicting lengths: a smuggling attempt, refuse it */
        *clen = x;
        *seen = 1;
    } else if (nl == 17 && strncasecmp(p, "Transfer-Encoding", nl) == 0) {
        return 501; /* chunked request bodies are not supported */
    } else if (nl == 6 && strncasecmp(p, "Expect", nl) == 0) {
        rq->expect_continue = vl == 12 && strncasecmp(v, "100-continue", vl) == 0;
    } else if (nl == 10 && strncasecmp(p, "Connection", nl) == 0) {
        if (token_in_list(v, vl, "close"))
            rq->keep_alive = 0;
        else if (token_in_list(v, vl, "keep-alive") && rq->http10)
            rq->keep_alive = 1;
    }
    return 0;
}

/* Parses "METHOD SP TARGET SP HTTP/1.x". Returns 0 or the HTTP status of the error. */
static int parse_request_line(const char *p, size_t n, struct request *rq)
{
    const char *sp1 = memchr(p, ' ', n);
    if (!sp1 || sp1 == p)
        return 400;
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', n - (t - p));
    if (!sp2 || sp2 == t || t[0] != '/')
        return 400;
    const char *ver = sp2 + 1;
    size_t vl = n - (ver - p);
    if (vl != 8 || memcmp(ver, "HTTP/1.", 7) != 0)
        return vl >= 5 && memcmp(ver, "HTTP/", 5) == 0 ? 505 : 400;
    if (ver[7] != '0' && ver[7] != '1')
        return 505;
    rq->method = p;
    rq->method_len = sp1 - p;
    rq->target = t;
    rq->target_len = sp2 - t;
    rq->http10 = ver[7] == '0';
    rq->keep_alive = !rq->http10;
    return 0;
}

/* Parses the head in[0, head_len). Returns 0 or the HTTP status of the error. */
static int parse_head(const char *in, size_t head_len, struct request *rq, uint64_t *clen)
{
    const char *end = in + head_len - 2; /* the final empty line's CRLF */
    const char *eol = memmem(in, head_len, "\r\n", 2);
    int seen = 0;
    int err = parse_request_line(in, eol - in, rq);
    for (const char *p = eol + 2; !err && p < end; p = eol + 2) {
        eol = memmem(p, end + 2 - p, "\r\n", 2);
        err = parse_header(p, eol - p, rq, clen, &seen);
    }
    rq->raw = in;
    rq->head_len = head_len;
    return err;
}

/* Starts the reply for a parsed request: held back by a timer, or written now. */
static void start_reply(struct server *s, struct conn *c, const struct request *rq)
{
    timer_stop(s, &c->timer);
    if (!rq->keep_alive && c->rp.end == END_KEEP)
        c->rp.end = END_CLOSE;
    if (c->peer_eof && c->rp.end == END_KEEP)
        c->rp.end = END_CLOSE;
    uint64_t delay = c->rp.delay_ms + s->delay_all_ms;
    if (delay > 0) {
        c->state = CONN_DELAYING;
        timer_start(s, &c->timer, delay);
        return;
    }
    c->state = CONN_WRITING;
    write_reply(s, c);
}

/* --log-requests: when the request arrived (CLOCK_MONOTONIC, microseconds), the local
 * address it arrived at, its method and target: what a test of pacing counts. */
static void log_request(struct server *s, struct conn *c, const struct request *rq)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char addr[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (getsockname(c->w.fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
            port = ntohs(a->sin6_port);
        } else {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
            port = ntohs(a->sin_port);
        }
    }
    fprintf(s->request_log, "%llu %s %u %.*s %.*s\n",
            (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000,
            addr, port, (int)rq->method_len, rq->method ? rq->method : "", (int)rq->target_len,
            rq->target ? rq->target : "");
    fflush(s->request_log);
}

/* Counts a request and builds its reply; code != 0 answers a protocol error instead. */
static void begin_request(struct server *s, struct conn *c, struct request *rq, int code)
{
    s->stats.requests++;
    if (s->request_log)
        log_request(s, c, rq);
    stats_active(s, 1);
    c->active = 1;
    c->continued = 0;
    if (s->verbose)
        fprintf(stderr, "testd: fd %d: %.*s %.*s%s\n", c->w.fd, (int)rq->method_len,
                rq->method ? rq->method : "", (int)rq->target_len, rq->target ? rq->target : "",
                code ? " (bad request)" : "");
    memset(&c->rp, 0, sizeof(c->rp));
    int err = code ? routes_error(rq, &c->rp, code) : routes_answer(s, rq, &c->rp);
    if (err < 0) {
        conn_close(s, c, CLOSE_FIN);
        return;
    }
    if (code)
        c->rp.end = END_CLOSE;
    start_reply(s, c, rq);
}

/* Lets a client that sent "Expect: 100-continue" go on with its body (curl waits a
 * second for it otherwise). Sent only when the socket's send queue is empty, so the 25
 * bytes cannot be cut short and split the stream; if not, the client's own wait for the
 * 100 runs out and it sends the body anyway, as RFC 9110 10.1.1 asks. */
static void send_continue(struct conn *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    c->continued = 1;
    if (send_queue_empty(c->w.fd))
        (void)send(c->w.fd, line, sizeof(line) - 1, MSG_NOSIGNAL);
}

/* Tries to take one complete request out of the input buffer. Returns 1 when a request
 * (or an error reply) was started, 0 when more bytes are needed. */
static int parse_request(struct server *s, struct conn *c)
{
    struct request rq = {0};
    uint64_t clen = 0;
    /* RFC 9112 2.2: ignore empty lines before a request line (some clients send a CRLF
     * after a POST body). */
    while (c->in_len >= 2 && c->in[0] == '\r' && c->in[1] == '\n') {
        memmove(c->in, c->in + 2, c->in_len - 2);
        c->in_len -= 2;
    }
    const char *hend = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!hend) {
        if (c->in_len <= TESTD_HEAD_MAX)
            return 0;
        c->req_len = c->in_len;
        begin_request(s, c, &rq, 431);
        return 1;
    }
    size_t head_len = hend + 4 - c->in;
    int code = head_len > TESTD_HEAD_MAX ? 431 : parse_head(c->in, head_len, &rq, &clen);
    if (!code && clen > TESTD_BODY_MAX)
        code = 413;
    if (!code && c->in_len < head_len + clen) {
        if (rq.expect_continue && !c->continued)
            send_continue(c);
        return 0;
    }
    rq.body_len = code ? 0 : clen;
    c->req_len = code ? c->in_len : head_len + clen;
    begin_request(s, c, &rq, code);
    return 1;
}

/* ---- reading -------------------------------------------------------------------------- */

/* One recv() into the input buffer, growing it up to IN_MAX. Returns the byte count, 0
 * at EOF, or -1 when nothing could be read (would block, or the buffer is full). Closes
 * the connection on a hard error (or no memory) and returns -1. */
static ssize_t read_in(struct server *s, struct conn *c)
{
    if (c->in_len == c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap * 2 : IN_INITIAL;
        cap = cap > IN_MAX ? IN_MAX : cap;
        if (cap == c->in_cap)
            return -1; /* full: conn_update() stops reading until a request is consumed */
        char *p = realloc(c->in, cap);
        if (!p) {
            conn_close(s, c, CLOSE_FIN);
            return -1;
        }
        c->in = p;
        c->in_cap = cap;
    }
    ssize_t n = recv(c->w.fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        conn_close(s, c, CLOSE_FIN);
    if (n > 0)
        c->in_len += n;
    return n;
}

/* Reads and drops input, for connections that will never parse another request. */
static void drain(struct server *s, struct conn *c)
{
    char scratch[16 * 1024];
    ssize_t n = recv(c->w.fd, scratch, sizeof(scratch), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        conn_close(s, c, CLOSE_FIN);
}

static void on_readable(struct server *s, struct conn *c)
{
    if (c->state == CONN_STALLED || c->state == CONN_LINGERING) {
        drain(s, c);
        return;
    }
    ssize_t n = read_in(s, c);
    if (c->state == CONN_CLOSED || n < 0)
        return;
    if (n == 0)
        c->peer_eof = 1;
    switch (c->state) {
    case CONN_READING:
        if (c->peer_eof) {
            conn_close(s, c, CLOSE_FIN); /* gone between requests, or mid-request */
            return;
        }
        timer_stop(s, &c->timer); /* bytes arrived: no longer idle */
        conn_run(s, c);
        break;
    case CONN_DELAYING:
        /* A half-closing client cannot be told from one that left; assume it left. */
        if (c->peer_eof)
            conn_close(s, c, CLOSE_FIN);
        break;
    default:
        break; /* WRITING, FLUSHING: keep what came; the end action looks at eof */
    }
}

/* Starts the buffered requests, a bounded number of them, then sets the timer that fits
 * what is left: a zero timer if more requests may be waiting (so that one pipelining
 * client cannot hold the loop), the idle timer if nothing is, none for a partial request
 * (a slow client is not idle). So in READING a timer firing with an empty buffer always
 * means idle. */
static void conn_run(struct server *s, struct conn *c)
{
    int i = 0;
    while (i < PIPELINE_BATCH && c->state == CONN_READING && parse_request(s, c))
        i++;
    if (c->state != CONN_READING)
        return;
    if (i == PIPELINE_BATCH && c->in_len > 0)
        timer_start(s, &c->timer, 0);
    else if (c->in_len == 0 && s->idle_close_ms > 0)
        timer_start(s, &c->timer, s->idle_close_ms);
    else
        timer_stop(s, &c->timer);
}

/* ---- events --------------------------------------------------------------------------- */

static void on_timer(struct server *s, struct timer *t)
{
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));
    switch (c->state) {
    case CONN_READING:
        if (c->in_len == 0)
            conn_close(s, c, CLOSE_FIN); /* --idle-close */
        else
            conn_run(s, c);
        break;
    case CONN_DELAYING:
        c->state = CONN_WRITING;
        write_reply(s, c);
        break;
    case CONN_FLUSHING:
        if (send_queue_empty(c->w.fd) || s->now >= c->flush_deadline)
            conn_close(s, c, CLOSE_RESET);
        else
            timer_start(s, t, FLUSH_POLL_MS);
        break;
    case CONN_LINGERING:
        conn_close(s, c, CLOSE_FIN);
        break;
    default:
        break;
    }
    conn_update(s, c);
}

static void on_event(struct server *s, struct watch *w, uint32_t events)
{
    struct conn *c = (struct conn *)w;
    /* A RST from the peer, or both directions shut: nothing more can be said. */
    if (events & (EPOLLERR | EPOLLHUP)) {
        conn_close(s, c, CLOSE_FIN);
        return;
    }
    if (events & EPOLLIN)
        on_readable(s, c);
    if ((events & EPOLLOUT) && c->state == CONN_WRITING) {
        c->want_write = 0;
        write_reply(s, c);
    }
    conn_update(s, c);
}

int conn_accept(struct server *s, int fd, const char *peer)
{
    int one = 1;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    /* Replies are written in pieces (head, then body); do not let Nagle hold them. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->w.fd = fd;
    c->w.fn = on_event;
    c->timer.index = TIMER_NONE;
    c->timer.fn = on_timer;
    c->state = CONN_READING;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->w};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        free(c);
        return err;
    }
    c->w.events = EPOLLIN;
    list_push(&s->conns, c);
    s->stats.accepts++;
    stats_open(s, 1);
    if (s->idle_close_ms > 0)
        timer_start(s, &c->timer, s->idle_close_ms);
    if (s->verbose)
        fprintf(stderr, "testd: fd %d: accepted from %s\n", fd, peer);
    return 0;
}
