/*
 * floor_client.c -- the least a single-threaded client can do for bench/scale10k.sh's
 * run: the kernel's share of it, measured.
 *
 *   floor_client TARGETS [LIMIT_S]
 *
 * TARGETS has one request a line, "ADDR PORT HOST PATH" (an IPv4 address, no DNS). Every
 * request gets its own connection, all opened at once: a non-blocking socket and
 * connect, one epoll registration for writing (after every CONNECT_BATCH connects, the
 * events already there are handled, so that early requests go out while later ones
 * connect, as in salvo's loop); once writable, one send of
 * "GET PATH HTTP/1.1" with Host and "Connection: close", the registration turned to
 * reading; then reads until the server closes, and a close. Nothing else: no parsing
 * beyond the status line, no timers, no records, no per-host limits. What salvo takes
 * over this program's wall time is salvo's own; what this program takes is the
 * kernel's (socket, the TCP handshake on loopback, which runs in the connecting
 * thread, the send that wakes the server) plus the servers'.
 *
 * Prints one line: the requests, how many got a 2xx status line, the wall time, when the
 * last request had been sent, and the CPU time. Exits 1 when a request failed or LIMIT_S
 * (default 60) passed first, 2 on bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Connects between two looks at the events that are ready. */
#define CONNECT_BATCH 64

enum conn_state { CONNECTING, RECEIVING, DONE };

struct target {
    struct sockaddr_in addr;
    char request[512];
    size_t request_len;
    int fd;
    enum conn_state state;
    char status[16]; /* the first bytes of the answer: "HTTP/1.1 200" */
    size_t status_len;
    int ok; /* a 2xx status line arrived, then the close */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Reads TARGETS into *out; returns the count, or -1 with a message. */
static long read_targets(const char *path, struct target **out)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        perror(path);
        return -1;
    }
    size_t n = 0, cap = 0;
    struct target *t = NULL;
    char addr[64], host[256], target_path[256];
    unsigned port;
    int fields;
    while ((fields = fscanf(fp, "%63s %u %255s %255s", addr, &port, host, target_path)) == 4) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            struct target *bigger = realloc(t, cap * sizeof *t);
            if (bigger == NULL) {
                perror("realloc");
                goto fail;
            }
            t = bigger;
        }
        struct target *x = &t[n];
        memset(x, 0, sizeof *x);
        x->fd = -1;
        x->addr.sin_family = AF_INET;
        x->addr.sin_port = htons((uint16_t)port);
        int len =
            snprintf(x->request, sizeof x->request,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target_path, host);
        if (inet_pton(AF_INET, addr, &x->addr.sin_addr) != 1 || port == 0 || port > 65535 ||
            len < 0 || (size_t)len >= sizeof x->request) {
            fprintf(stderr, "%s: line %zu: want \"ADDR PORT HOST PATH\"\n", path, n + 1);
            goto fail;
        }
        x->request_len = (size_t)len;
        n++;
    }
    if (fields != EOF || n == 0) {
        fprintf(stderr, "%s: line %zu: want \"ADDR PORT HOST PATH\"\n", path, n + 1);
        goto fail;
    }
    fclose(fp);
    *out = t;
    return (long)n;
fail:
    free(t);
    fclose(fp);
    return -1;
}

/* Ends a target's connection; ok says whether it got its answer. */
static void finish(int ep, struct target *x, int ok, size_t *left)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
    close(x->fd);
    x->fd = -1;
    x->state = DONE;
    x->ok = ok;
    (*left)--;
}

/* The connection is writable: connected (or failed). Sends the request in one piece (a
 * few hundred bytes always fit an empty socket buffer). */
static void on_writable(int ep, struct target *x, size_t *left, double *last_sent, double t0)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0 ||
        send(x->fd, x->request, x->request_len, MSG_NOSIGNAL) != (ssize_t)x->request_len) {
        finish(ep, x, 0, left);
        return;
    }
    *last_sent = now_s() - t0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = x};
    epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
    x->state = RECEIVING;
}

/* Reads what arrived; the server's close ends the request. */
static void on_readable(int ep, struct target *x, size_t *left)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(x->fd, buf, sizeof buf, 0);
        if (n > 0) {
            size_t take = sizeof x->status - x->status_len;
            if ((size_t)n < take)
                take = (size_t)n;
            memcpy(x->status + x->status_len, buf, take);
            x->status_len += take;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        /* "HTTP/1.1 2": the status line says 2xx. */
        int ok = n == 0 && x->status_len >= 10 && memcmp(x->status, "HTTP/1.", 7) == 0 &&
                 x->status[9] == '2';
        finish(ep, x, ok, left);
        return;
    }
}

/* Waits up to timeout_ms for events and handles them. */
static void handle_events(int ep, int timeout_ms, size_t *left, double *last_sent, double t0)
{
    struct epoll_event events[256];
    int k = epoll_wait(ep, events, 256, timeout_ms);
    for (int i = 0; i < k; i++) {
        struct target *x = events[i].data.ptr;
        if (x->state == CONNECTING)
            on_writable(ep, x, left, last_sent, t0);
        else if (x->state == RECEIVING)
            on_readable(ep, x, left);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: floor_client TARGETS [LIMIT_S]\n");
        return 2;
    }
    double limit = argc == 3 ? atof(argv[2]) : 60;
    struct target *t;
    long n = read_targets(argv[1], &t);
    if (n < 0 || limit <= 0)
        return 2;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }

    double t0 = now_s(), cpu0 = cpu_s(), last_sent = 0;
    size_t left = (size_t)n;
    for (long i = 0; i < n; i++) {
        struct target *x = &t[i];
        x->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = x};
        if (x->fd < 0) {
            x->state = DONE;
            left--;
            continue;
        }
        if ((connect(x->fd, (struct sockaddr *)&x->addr, sizeof x->addr) < 0 &&
             errno != EINPROGRESS) ||
            epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev) < 0) {
            close(x->fd);
            x->fd = -1;
            x->state = DONE;
            left--;
        }
        if ((i + 1) % CONNECT_BATCH == 0)
            handle_events(ep, 0, &left, &last_sent, t0);
    }
    while (left > 0 && now_s() - t0 < limit)
        handle_events(ep, 100, &left, &last_sent, t0);
    double wall = now_s() - t0, cpu = cpu_s() - cpu0;

    long ok = 0;
    for (long i = 0; i < n; i++)
        ok += t[i].ok;
    printf("requests %ld ok %ld wall_s %.3f last_sent_ms %.1f cpu_ms %.1f\n", n, ok, wall,
           last_sent * 1000, cpu * 1000);
    for (long i = 0; i < n; i++)
        if (t[i].fd >= 0)
            close(t[i].fd);
    close(ep);
    free(t);
    return ok == n ? 0 : 1;
}
