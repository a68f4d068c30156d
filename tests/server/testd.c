/*
 * testd.c -- the process around testd: options, loopback listeners, signals, statistics,
 * a timer heap and the event loop. See testd.h for the module split and the ownership
 * rules, and README.md for the endpoints.
 *
 *   testd --port-file FILE [--listen ADDR:PORT]... [--idle-close SEC] [--delay-all MS]
 *         [--stats-file FILE] [--fixtures DIR] [--log-requests FILE] [--verbose]
 *
 * One loop iteration: wait for events (no longer than the nearest timer), dispatch them,
 * run the timers that expired, then free the connections closed during the iteration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testd.h"

#define MAX_LISTENERS   16   /* --listen may repeat this often */
#define ACCEPT_BATCH    256  /* accepts per readiness event, so one listener cannot starve */
#define EVENT_BATCH     1024 /* epoll events fetched per wait */
#define ACCEPT_PAUSE_MS 100  /* back-off when out of fds (EMFILE), instead of spinning */

struct listener {
    struct watch w;               /* the listening socket */
    struct timer resume;          /* re-enables accepting after an EMFILE pause */
    struct sockaddr_storage addr; /* bound address, port filled in after bind */
    socklen_t addr_len;           /* size of addr */
};

static struct listener listeners[MAX_LISTENERS];
static size_t nlisteners;
static struct watch sig_watch;

/* ---- time and timers ---------------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The heap orders by (deadline, seq); seq keeps equal deadlines in FIFO order. */
static int timer_less(const struct timer *a, const struct timer *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->seq < b->seq;
}

static void heap_place(struct server *s, size_t i, struct timer *t)
{
    s->heap[i] = t;
    t->index = i;
}

static void heap_up(struct server *s, size_t i)
{
    struct timer *t = s->heap[i];
    while (i > 0 && timer_less(t, s->heap[(i - 1) / 2])) {
        heap_place(s, i, s->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_place(s, i, t);
}

static void heap_down(struct server *s, size_t i)
{
    struct timer *t = s->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_len)
            break;
        if (c + 1 < s->heap_len && timer_less(s->heap[c + 1], s->heap[c]))
            c++;
        if (!timer_less(s->heap[c], t))
            break;
        heap_place(s, i, s->heap[c]);
        i = c;
    }
    heap_place(s, i, t);
}

void timer_stop(struct server *s, struct timer *t)
{
    if (t->index == TIMER_NONE)
        return;
    size_t i = t->index;
    struct timer *last = s->heap[--s->heap_len];
    t->index = TIMER_NONE;
    if (last == t)
        return;
    heap_place(s, i, last);
    heap_up(s, i);
    heap_down(s, last->index);
}

/* Arms (or re-arms) t to fire delay_ms from the loop time. The heap only grows when
 * needed, and a test server that cannot get memory for a timer may as well stop. */
void timer_start(struct server *s, struct timer *t, uint64_t delay_ms)
{
    timer_stop(s, t);
    if (s->heap_len == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 256;
        struct timer **h = realloc(s->heap, cap * sizeof(*h));
        if (!h) {
            fprintf(stderr, "testd: out of memory for timers\n");
            exit(1);
        }
        s->heap = h;
        s->heap_cap = cap;
    }
    t->deadline = s->now + delay_ms;
    t->seq = s->next_seq++;
    heap_place(s, s->heap_len++, t);
    heap_up(s, t->index);
}

/* Runs the timers due now. Timers armed while running get a sequence number at or past
 * limit, so a callback that re-arms itself with no delay waits for the next iteration
 * instead of looping here forever. */
static void run_timers(struct server *s)
{
    uint64_t limit = s->next_seq;
    while (s->heap_len > 0) {
        struct timer *t = s->heap[0];
        if (t->deadline > s->now || t->seq >= limit)
            break;
        timer_stop(s, t);
        t->fn(s, t);
    }
}

/* Milliseconds epoll_wait may sleep: until the nearest timer, or forever. */
static int wait_timeout(const struct server *s)
{
    if (s->heap_len == 0)
        return -1;
    uint64_t d = s->heap[0]->deadline;
    if (d <= s->now)
        return 0;
    return d - s->now > INT_MAX ? INT_MAX : (int)(d - s->now);
}

/* ---- watches -------------------------------------------------------------------------- */

/* Sets the epoll interest of w, adding it on first use. Returns 0 or negative errno. */
int watch_set(struct server *s, struct watch *w, uint32_t events)
{
    if (w->events == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
        return -errno;
    w->events = events;
    return 0;
}

static int watch_add(struct server *s, struct watch *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
        return -errno;
    w->events = events;
    return 0;
}

/* ---- statistics ----------------------------------------------------------------------- */

void stats_json(const struct stats *st, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "{\"accepts\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"open\":%" PRIu64
             ",\"max_open\":%" PRIu64 ",\"active\":%" PRIu64 ",\"max_active\":%" PRIu64 "}\n",
             st->accepts, st->requests, st->open, st->max_open, st->active, st->max_active);
}

void stats_open(struct server *s, int delta)
{
    s->stats.open += delta;
    if (s->stats.open > s->stats.max_open)
        s->stats.max_open = s->stats.open;
}

void stats_active(struct server *s, int delta)
{
    s->stats.active += delta;
    if (s->stats.active > s->stats.max_active)
        s->stats.max_active = s->stats.active;
}

/* Writes text to path through path.tmp and a rename, so a reader sees either the old
 * file or the whole new one, never a partial line. A small local file write is the one
 * blocking call testd allows itself. Returns 0 or negative errno. */
static int write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    int err = 0;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    if (fputs(text, f) < 0)
        err = -EIO;
    if (fclose(f) != 0 && !err)
        err = -errno;
    if (!err && rename(tmp, path) < 0)
        err = -errno;
    if (err)
        unlink(tmp);
    return err;
}

static void write_stats(struct server *s)
{
    char buf[512];
    if (!s->stats_file)
        return;
    stats_json(&s->stats, buf, sizeof(buf));
    int err = write_atomic(s->stats_file, buf);
    if (err < 0)
        fprintf(stderr, "testd: %s: %s\n", s->stats_file, strerror(-err));
}

/* ---- signals -------------------------------------------------------------------------- */

static void on_signal(struct server *s, struct watch *w, uint32_t events)
{
    struct signalfd_siginfo si;
    (void)events;
    while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1)
            write_stats(s);
        else
            s->quit = 1;
    }
}

/* SIGTERM, SIGINT and SIGUSR1 are blocked and read from a signalfd, so they arrive as
 * ordinary loop events: no handler runs in the middle of a write. SIGPIPE is ignored;
 * sends use MSG_NOSIGNAL anyway. */
static int signals_init(struct server *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    sig_watch.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sig_watch.fd < 0)
        return -errno;
    sig_watch.fn = on_signal;
    return watch_add(s, &sig_watch, EPOLLIN);
}

/* ---- listeners ------------------------------------------------------------------------ */

/* Parses "127.0.0.1:8080" or "[::1]:0" and refuses anything that is not loopback: this
 * server is meant to be attacked by salvo's tests only. Returns 0 or -EINVAL. */
static int parse_listen(const char *spec, struct listener *l)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof(host))
        return -EINVAL;
    memcpy(host, spec, colon - spec);
    host[colon - spec] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port > 65535)
        return -EINVAL;

    memset(&l->addr, 0, sizeof(l->addr));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&l->addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->addr;
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1 ||
            !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return -EINVAL;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        l->addr_len = sizeof(*in6);
        return 0;
    }
    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1 || (ntohl(in4->sin_addr.s_addr) >> 24) != 127)
        return -EINVAL;
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    l->addr_len = sizeof(*in4);
    return 0;
}

static uint16_t listener_port(const struct listener *l)
{
    if (l->addr.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
}

static void peer_name(const struct sockaddr_storage *sa, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(buf, cap, "[%s]:%u", host, port);
        return;
    }
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
    snprintf(buf, cap, "%s:%u", host, port);
}

static void on_resume(struct server *s, struct timer *t)
{
    struct listener *l = (struct listener *)((char *)t - offsetof(struct listener, resume));
    watch_set(s, &l->w, EPOLLIN);
}

/* Accepts up to ACCEPT_BATCH connections. When the process is out of fds, the listener
 * is paused for a while: level-triggered epoll would otherwise report it again at once
 * and the loop would spin (nginx and libuv handle EMFILE in the same spirit). */
static void on_accept(struct server *s, struct watch *w, uint32_t events)
{
    struct listener *l = (struct listener *)w;
    (void)events;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(w->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                fprintf(stderr, "testd: accept: %s, pausing\n", strerror(errno));
                watch_set(s, w, 0);
                timer_start(s, &l->resume, ACCEPT_PAUSE_MS);
            }
            return; /* EAGAIN, or a connection that died in the backlog */
        }
        char name[INET6_ADDRSTRLEN + 16];
        peer_name(&peer, name, sizeof(name));
        if (conn_accept(s, fd, name) < 0)
            close(fd);
    }
}

static int listener_open(struct server *s, struct listener *l)
{
    int one = 1;
    int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    l->w.fd = fd;
    l->w.fn = on_accept;
    l->resume.index = TIMER_NONE;
    l->resume.fn = on_resume;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (l->addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&l->addr, l->addr_len) < 0)
        goto fail;
    /* The kernel clamps the backlog to net.core.somaxconn; ask for plenty. */
    if (listen(fd, 4096) < 0)
        goto fail;
    if (getsockname(fd, (struct sockaddr *)&l->addr, &l->addr_len) < 0)
        goto fail;
    if (watch_add(s, &l->w, EPOLLIN) < 0)
        goto fail;
    return 0;
fail:;
    int err = -errno;
    close(fd);
    l->w.fd = -1;
    return err;
}

/* Writes one port per listener, in the order given, the first one first. */
static int write_port_file(const char *path)
{
    char text[MAX_LISTENERS * 8] = "";
    size_t len = 0;
    for (size_t i = 0; i < nlisteners; i++)
        len += snprintf(text + len, sizeof(text) - len, "%u\n", listener_port(&listeners[i]));
    return write_atomic(path, text);
}

/* ---- options and main ----------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: testd --port-file FILE [--listen ADDR:PORT]... [--idle-close SEC]\n"
               "             [--delay-all MS] [--stats-file FILE] [--fixtures DIR]\n"
               "             [--log-requests FILE] [--verbose]\n"
               "ADDR is 127.x.x.x or [::1]; PORT 0 picks a free port (default 127.0.0.1:0).\n");
}

static int bad_value(const char *opt)
{
    fprintf(stderr, "testd: bad value for --%s: %s\n", opt, optarg);
    return -1;
}

static int parse_args(struct server *s, int argc, char **argv, const char **port_file)
{
    static const struct option opts[] = {
        {"port-file", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"idle-close", required_argument, NULL, 'i'},
        {"delay-all", required_argument, NULL, 'd'},
        {"stats-file", required_argument, NULL, 's'},
        {"fixtures", required_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'},
        {"log-requests", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    for (;;) {
        int o = getopt_long(argc, argv, "", opts, NULL);
        if (o == -1)
            break;
        switch (o) {
        case 'p':
            *port_file = optarg;
            break;
        case 'l':
            if (nlisteners == MAX_LISTENERS || parse_listen(optarg, &listeners[nlisteners]) < 0) {
                fprintf(stderr,
                        "testd: --listen %s: need a loopback 127.x.x.x:PORT or "
                        "[::1]:PORT (at most %d)\n",
                        optarg, MAX_LISTENERS);
                return -1;
            }
            nlisteners++;
            break;
        case 'i': {
            double sec = strtod(optarg, &end);
            if (*end || end == optarg || !(sec >= 0) || sec > 1e6)
                return bad_value("idle-close");
            s->idle_close_ms = (uint64_t)(sec * 1000 + 0.5);
            if (sec > 0 && s->idle_close_ms == 0)
                s->idle_close_ms = 1;
            break;
        }
        case 'd':
            s->delay_all_ms = strtoull(optarg, &end, 10);
            if (*end || end == optarg || optarg[0] == '-')
                return bad_value("delay-all");
            break;
        case 's':
            s->stats_file = optarg;
            break;
        case 'f':
            s->fixtures = optarg;
            break;
        case 'v':
            s->verbose = 1;
            break;
        case 'r':
            s->request_log = fopen(optarg, "w");
            if (!s->request_log) {
                fprintf(stderr, "testd: --log-requests %s: %s\n", optarg, strerror(errno));
                return -1;
            }
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (!*port_file || optind != argc) {
        usage(stderr);
        return -1;
    }
    if (nlisteners == 0 && parse_listen("127.0.0.1:0", &listeners[nlisteners++]) < 0)
        return -1;
    return 0;
}

/* testd must hold thousands of connections: take every fd the hard limit allows. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            fprintf(stderr, "testd: setrlimit: %s\n", strerror(errno));
    }
}

static void run(struct server *s)
{
    static struct epoll_event evs[EVENT_BATCH];
    while (!s->quit) {
        s->now = now_ms();
        int n = epoll_wait(s->epfd, evs, EVENT_BATCH, wait_timeout(s));
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "testd: epoll_wait: %s\n", strerror(errno));
            break;
        }
        s->now = now_ms();
        for (int i = 0; i < n; i++) {
            struct watch *w = evs[i].data.ptr;
            w->fn(s, w, evs[i].events);
        }
        run_timers(s);
        conn_free_closed(s);
    }
}

static void shutdown_server(struct server *s)
{
    write_stats(s);
    conn_close_all(s);
    conn_free_closed(s);
    for (size_t i = 0; i < nlisteners; i++)
        if (listeners[i].w.fd >= 0)
            close(listeners[i].w.fd);
    if (sig_watch.fd >= 0)
        close(sig_watch.fd);
    routes_free(s);
    if (s->request_log)
        fclose(s->request_log);
    free(s->heap);
    close(s->epfd);
}

int main(int argc, char **argv)
{
    static struct server srv;
    struct server *s = &srv;
    const char *port_file = NULL;
    int rc = 1;

    s->epfd = -1;
    sig_watch.fd = -1;
    for (size_t i = 0; i < MAX_LISTENERS; i++)
        listeners[i].w.fd = -1;
    if (parse_args(s, argc, argv, &port_file) < 0)
        return 2;
    raise_nofile();
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0 || signals_init(s) < 0) {
        fprintf(stderr, "testd: epoll/signalfd: %s\n", strerror(errno));
        goto out;
    }
    s->now = now_ms();
    for (size_t i = 0; i < nlisteners; i++) {
        int err = listener_open(s, &listeners[i]);
        if (err < 0) {
            fprintf(stderr, "testd: listen #%zu: %s\n", i + 1, strerror(-err));
            goto out;
        }
    }
    int err = write_port_file(port_file);
    if (err < 0) {
        fprintf(stderr, "testd: %s: %s\n", port_file, strerror(-err));
        goto out;
    }
    if (s->verbose)
        fprintf(stderr, "testd: listening on port %u\n", listener_port(&listeners[0]));
    run(s);
    rc = 0;
out:
    shutdown_server(s);
    return rc;
}
