/*
 * test_dns.c -- the resolver against a real dnsmasq on a loopback port, inside a real loop.
 *
 * The group setup starts dnsmasq knowing only a few test names (--address) and answering
 * NXDOMAIN for every other *.test name (--local), logging every query to a file; the
 * teardown kills it by PID. Query counts are read from that log after a sync query of
 * our own has appeared in it (dnsmasq writes its log after answering). Every run of the
 * loop is bounded by a guard timer; every wait on a file is bounded in count.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns.h"
#include "loop.h"

#define GUARD_MS 20000 /* no run of the loop in this file may take longer */

static pid_t dnsmasq_pid = -1;
static int dnsmasq_port;
static char tmpdir[64];
static char logpath[128];
static char servers[64];
static unsigned sync_seq;

/* ---- dnsmasq ----------------------------------------------------------------------- */

/* A port free for both UDP and TCP on 127.0.0.1 right now (dnsmasq binds both). */
static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (u >= 0 && t >= 0 && bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(u, (struct sockaddr *)&sa, &len) == 0 &&
        bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        port = ntohs(sa.sin_port);
    close(u);
    close(t);
    return port;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *s = NULL;
    size_t n = 0, cap = 0, k;

    if (!f)
        return NULL;
    do {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 65536;
            s = realloc(s, cap + 1);
            assert_non_null(s);
        }
        k = fread(s + n, 1, cap - n, f);
        n += k;
    } while (k > 0);
    fclose(f);
    s[n] = '\0';
    return s;
}

static int log_has(const char *needle)
{
    char *s = read_file(logpath);
    int found = s && strstr(s, needle) != NULL;

    free(s);
    return found;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static pid_t spawn_dnsmasq(int port)
{
    char portarg[32], logarg[160], outpath[128];
    pid_t pid;

    snprintf(portarg, sizeof(portarg), "--port=%d", port);
    snprintf(logarg, sizeof(logarg), "--log-facility=%s", logpath);
    snprintf(outpath, sizeof(outpath), "%s/dnsmasq.out", tmpdir);
    pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    execlp("dnsmasq", "dnsmasq", "--keep-in-foreground", "--no-daemon", "--conf-file=/dev/null",
           "--no-resolv", "--no-hosts", "--no-poll", "--listen-address=127.0.0.1",
           "--bind-interfaces", portarg, "--user=root", "--pid-file=", "--log-queries", logarg,
           "--address=/ok.test/127.0.0.2", "--address=/many.test/127.0.0.3",
           "--address=/both.test/127.0.0.4", "--address=/both.test/::4", "--local=/test/",
           (char *)NULL);
    _exit(127);
}

static int group_setup(void **state)
{
    int attempt, i;

    (void)state;
    /* c-ares would append the search domains of resolv.conf to a name that fails; an
     * empty LOCALDOMAIN overrides them, so each lookup is exactly one question. */
    setenv("LOCALDOMAIN", "", 1);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/salvo-dns.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(logpath, sizeof(logpath), "%s/dnsmasq.log", tmpdir);
    for (attempt = 0; attempt < 3; attempt++) {
        dnsmasq_port = free_port();
        if (dnsmasq_port <= 0)
            continue;
        dnsmasq_pid = spawn_dnsmasq(dnsmasq_port);
        if (dnsmasq_pid < 0)
            return -1;
        for (i = 0; i < 100 && !log_has("started"); i++)
            sleep_ms(50);
        if (log_has("started")) {
            snprintf(servers, sizeof(servers), "127.0.0.1:%d", dnsmasq_port);
            return 0;
        }
        kill(dnsmasq_pid, SIGTERM);
        waitpid(dnsmasq_pid, NULL, 0);
        dnsmasq_pid = -1;
    }
    fprintf(stderr, "# dnsmasq did not start\n");
    return -1;
}

static int group_teardown(void **state)
{
    char path[160];

    (void)state;
    if (dnsmasq_pid > 0) {
        kill(dnsmasq_pid, SIGTERM);
        waitpid(dnsmasq_pid, NULL, 0);
    }
    snprintf(path, sizeof(path), "%s/dnsmasq.out", tmpdir);
    unlink(path);
    unlink(logpath);
    rmdir(tmpdir);
    return 0;
}

/* Encodes a DNS question for name (type A) into buf; returns its length. */
static size_t dns_question(unsigned char *buf, const char *name)
{
    static const unsigned char head[12] = {0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    size_t n = sizeof(head);
    const char *p = name;

    memcpy(buf, head, n);
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);

        buf[n++] = (unsigned char)len;
        memcpy(buf + n, p, len);
        n += len;
        p += len + (dot ? 1 : 0);
    }
    buf[n++] = 0;
    memcpy(buf + n, "\0\1\0\1", 4);
    return n + 4;
}

/* Sends our own query for a fresh name, bypassing salvo, and waits (bounded) until the
 * log shows it: the log is then complete for every earlier query. */
static void sync_log(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(dnsmasq_port)};
    struct timeval tv = {2, 0};
    unsigned char q[512], r[512];
    char name[64], needle[96];
    int s = socket(AF_INET, SOCK_DGRAM, 0), i;

    assert_true(s >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    snprintf(name, sizeof(name), "sync%u.ok.test", ++sync_seq);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_true(sendto(s, q, dns_question(q, name), 0, (struct sockaddr *)&sa, sizeof(sa)) > 0);
    assert_true(recv(s, r, sizeof(r), 0) > 0);
    close(s);
    snprintf(needle, sizeof(needle), "query[A] %s from", name);
    for (i = 0; i < 100 && !log_has(needle); i++)
        sleep_ms(20);
    assert_true(log_has(needle));
}

/* How many A questions dnsmasq logged for exactly name: one per ares_getaddrinfo. */
static int queries_for(const char *name)
{
    char needle[300], *s, *p;
    int n = 0;

    sync_log();
    snprintf(needle, sizeof(needle), "query[A] %s from", name);
    s = read_file(logpath);
    assert_non_null(s);
    for (p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(s);
    return n;
}

/* ---- a loop with a resolver -------------------------------------------------------- */

struct ctx {
    struct loop *loop;
    struct dns *dns;
    struct loop_timer guard; /* bounds every run */
    int timed_out;           /* the guard fired */
    int done;                /* callbacks so far */
    int expected;            /* stop the loop at this many */
};

struct rec {
    struct dns_waiter w;
    struct ctx *ctx;
    int calls;           /* callbacks received: must end at exactly 1 or 0 */
    struct dns_answer a; /* copy of the answer */
    char msg[128];       /* copy of a.msg */
    uint64_t at_us;      /* when the callback ran */
};

static void on_guard(struct loop_timer *t, void *data)
{
    struct ctx *c = data;

    (void)t;
    c->timed_out = 1;
    loop_stop(c->loop);
}

static void on_done(struct dns_waiter *w, const struct dns_answer *a, void *data)
{
    struct rec *r = data;

    assert_ptr_equal(w, &r->w);
    r->calls++;
    r->a = *a;
    r->a.msg = NULL;
    snprintf(r->msg, sizeof(r->msg), "%s", a->msg ? a->msg : "");
    r->at_us = loop_now_us();
    if (++r->ctx->done >= r->ctx->expected)
        loop_stop(r->ctx->loop);
}

static struct ctx *ctx_new(struct dns_config *cfg)
{
    struct ctx *c = calloc(1, sizeof(*c));
    char err[256];

    assert_non_null(c);
    assert_int_equal(loop_new(&c->loop), 0);
    loop_timer_init(&c->guard, on_guard, c);
    if (!cfg->servers)
        cfg->servers = servers;
    assert_int_equal(dns_new(&c->dns, c->loop, cfg, err, sizeof(err)), 0);
    return c;
}

static void ctx_free(struct ctx *c)
{
    dns_free(c->dns);
    loop_timer_stop(c->loop, &c->guard);
    loop_free(c->loop);
    free(c);
}

/* Resolves and checks that the callback did not run inside dns_resolve. */
static void resolve(struct ctx *c, struct rec *r, const char *host, uint16_t port)
{
    memset(r, 0, sizeof(*r));
    r->ctx = c;
    dns_resolve(c->dns, host, port, &r->w, on_done, r);
    assert_int_equal(r->calls, 0);
}

/* Runs the loop until `total` callbacks have run in all, or for max_ms. */
static void run_until(struct ctx *c, int total, unsigned max_ms)
{
    c->expected = total;
    c->timed_out = 0;
    if (c->done >= total)
        return;
    loop_timer_start(c->loop, &c->guard, max_ms);
    assert_int_equal(loop_run(c->loop), 0);
    loop_timer_stop(c->loop, &c->guard);
}

static void run_for(struct ctx *c, unsigned ms)
{
    run_until(c, INT32_MAX, ms);
}

static struct dns_stats stats(const struct ctx *c)
{
    struct dns_stats st;

    dns_get_stats(c->dns, &st);
    return st;
}

static void assert_v4(const union sock_addr *sa, const char *ip, uint16_t port)
{
    const struct sockaddr_in *s4 = &sa->in;
    char buf[INET_ADDRSTRLEN];

    assert_int_equal(s4->sin_family, AF_INET);
    assert_non_null(inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf)));
    assert_string_equal(buf, ip);
    assert_int_equal(ntohs(s4->sin_port), port);
}

static void assert_v6(const union sock_addr *sa, const char *ip, uint16_t port)
{
    const struct sockaddr_in6 *s6 = &sa->in6;
    char buf[INET6_ADDRSTRLEN];

    assert_int_equal(s6->sin6_family, AF_INET6);
    assert_non_null(inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf)));
    assert_string_equal(buf, ip);
    assert_int_equal(ntohs(s6->sin6_port), port);
}

static int count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(dir);
    while ((e = readdir(dir)) != NULL)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

/* A UDP socket bound on loopback that nobody reads: a resolver that never answers. */
static int silent_server(char *out, size_t outlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    assert_true(s >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    snprintf(out, outlen, "127.0.0.1:%d", ntohs(sa.sin_port));
    return s;
}

/* ---- the tests --------------------------------------------------------------------- */

static void test_resolves_name(void **state)
{
    struct dns_config cfg = {0};
    struct ctx *c = ctx_new(&cfg);
    struct rec r;

    (void)state;
    resolve(c, &r, "OK.test", 8080);
    run_until(c, 1, GUARD_MS);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.a.err, SALVO_E_OK);
    assert_int_equal(r.a.from_cache, 0);
    assert_int_equal(r.a.n, 1);
    assert_v4(&r.a.addrs[0], "127.0.0.2", 8080);
    assert_int_equal(stats(c).queries, 1);
    assert_int_equal(stats(c).cache_hits, 0);
    assert_int_equal(queries_for("ok.test"), 1);
    ctx_free(c);
}

/* Both families: IPv6 first, then IPv4 (RFC 8305 interleaving). */
static void test_dual_stack_order(void **state)
{
    struct dns_config cfg = {0};
    struct ctx *c = ctx_new(&cfg);
    struct rec r;

    (void)state;
    resolve(c, &r, "both.test", 443);
    run_until(c, 1, GUARD_MS);
    assert_int_equal(r.a.err, SALVO_E_OK);
    assert_int_equal(r.a.n, 2);
    assert_v6(&r.a.addrs[0], "::4", 443);
    assert_v4(&r.a.addrs[1], "127.0.0.4", 443);
    ctx_free(c);
}

static void test_nxdomain_cached(void **state)
{
    struct dns_config cfg = {0};
    struct ctx *c = ctx_new(&cfg);
    struct rec r1, r2;

    (void)state;
    resolve(c, &r1, "nx.test", 80);
    run_until(c, 1, GUARD_MS);
    assert_int_equal(r1.a.err, SALVO_E_DNS);
    assert_string_equal(r1.msg, "Domain name not found");
    assert_int_equal(r1.a.n, 0);
    assert_int_equal(r1.a.from_cache, 0);
    /* The failure is remembered for negative_ttl_s: no second question. */
    resolve(c, &r2, "nx.test", 80);
    run_until(c, 2, GUARD_MS);
    assert_int_equal(r2.a.err, SALVO_E_DNS);
    assert_string_equal(r2.msg, "Domain name not found");
    assert_int_equal(r2.a.from_cache, 1);
    assert_int_equal(stats(c).queries, 1);
    assert_int_equal(stats(c).cache_hits, 1);
    assert_int_equal(queries_for("nx.test"), 1);
    ctx_free(c);
}

static void test_silent_server_times_out(void **state)
{
    char srv[64];
    int s = silent_server(srv, sizeof(srv));
    struct dns_config cfg = {.servers = srv, .per_try_ms = 200, .tries = 2};
    struct ctx *c = ctx_new(&cfg);
    struct rec r;
    uint64_t start = loop_now_us(), ms;

    (void)state;
    resolve(c, &r, "silent.test", 80);
    run_until(c, 1, GUARD_MS);
    ms = (r.at_us - start) / 1000u;
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.a.err, SALVO_E_DNS_TIMEOUT);
    assert_string_equal(r.msg, "Timeout while contacting DNS servers");
    /* c-ares 1.18 doubles the wait each round: 200 + 400 ms. Not before the first try
     * expired; well before the guard, with a generous margin for a loaded machine. */
    assert_true(ms >= 200);
    assert_true(ms <= 600 + 1500);
    /* Timeouts are never cached: asking again sends a question again. */
    resolve(c, &r, "silent.test", 80);
    assert_int_equal(stats(c).queries, 2);
    dns_cancel(c->dns, &r.w);
    ctx_free(c);
    close(s);
}

static void test_thousand_names(void **state)
{
    enum { N = 1000 };
    struct dns_config cfg = {0}; /* the default cap on lookups in flight, as salvo runs */
    struct ctx *c = ctx_new(&cfg);
    struct rec *r = calloc(N, sizeof(*r));
    char name[64];
    int i, ok = 0;

    (void)state;
    assert_non_null(r);
    for (i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "n%d.many.test", i);
        resolve(c, &r[i], name, (uint16_t)(1000 + i));
    }
    run_until(c, N, GUARD_MS);
    assert_false(c->timed_out);
    for (i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        if (r[i].a.err != SALVO_E_OK)
            fprintf(stderr, "# n%d.many.test: %s\n", i, r[i].msg);
        ok += r[i].a.err == SALVO_E_OK;
        assert_int_equal(r[i].a.n, 1);
        assert_v4(&r[i].a.addrs[0], "127.0.0.3", (uint16_t)(1000 + i));
    }
    assert_int_equal(ok, N);
    assert_int_equal(stats(c).queries, N);
    free(r);
    ctx_free(c);
}

static void test_cache_hit_sends_no_query(void **state)
{
    struct dns_config cfg = {0};
    struct ctx *c = ctx_new(&cfg);
    struct rec r1, r2;

    (void)state;
    resolve(c, &r1, "cache.ok.test", 80);
    run_until(c, 1, GUARD_MS);
    assert_int_equal(r1.a.err, SALVO_E_OK);
    assert_int_equal(queries_for("cache.ok.test"), 1);
    resolve(c, &r2, "Cache.OK.test", 443);
    run_until(c, 2, GUARD_MS);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.a.err, SALVO_E_OK);
    assert_int_equal(r2.a.from_cache, 1);
    assert_v4(&r2.a.addrs[0], "127.0.0.2", 443);
    assert_int_equal(stats(c).queries, 1);
    assert_int_equal(stats(c).cache_hits, 1);
    assert_int_equal(queries_for("cache.ok.test"), 1);
    ctx_free(c);
}

static void test_coalesces_waiters(void **state)
{
    enum { N = 50 };
    struct dns_config cfg = {0};
    struct ctx *c = ctx_new(&cfg);
    struct rec r[N];
    int i;

    (void)state;
    for (i = 0; i < N; i++)
        resolve(c, &r[i], "co.ok.test", (uint16_t)(i + 1));
    run_until(c, N, GUARD_MS);
    for (i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].a.err, SALVO_E_OK);
        assert_int_equal(r[i].a.from_cache, 0);
        assert_v4(&r[i].a.addrs[0], "127.0.0.2", (uint16_t)(i + 1));
    }
    assert_int_equal(stats(c).queries, 1);
    assert_int_equal(queries_for("co.ok.test"), 1);
    ctx_free(c);
}

static void test_cancel(void **state)
{
    struct dns_config cfg = {0};
    struct ctx *c = ctx_new(&cfg);
    struct rec a, b, lit, gone, again;

    (void)state;
    /* One of two waiters of a lookup leaves; the other is answered. */
    resolve(c, &a, "cancel.ok.test", 80);
    resolve(c, &b, "cancel.ok.test", 80);
    dns_cancel(c->dns, &a.w);
    /* A deferred answer (literal) withdrawn before delivery. */
    resolve(c, &lit, "127.0.0.1", 80);
    dns_cancel(c->dns, &lit.w);
    /* Every waiter of a lookup leaves: it still finishes and fills the cache. */
    resolve(c, &gone, "gone.ok.test", 80);
    dns_cancel(c->dns, &gone.w);
    run_until(c, 1, GUARD_MS);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.a.err, SALVO_E_OK);
    run_for(c, 300);
    assert_int_equal(a.calls, 0);
    assert_int_equal(lit.calls, 0);
    assert_int_equal(gone.calls, 0);
    /* Cancelling after delivery is harmless. */
    dns_cancel(c->dns, &b.w);
    resolve(c, &again, "gone.ok.test", 80);
    run_until(c, 2, GUARD_MS);
    assert_int_equal(again.calls, 1);
    assert_int_equal(again.a.from_cache, 1);
    assert_int_equal(stats(c).queries, 2);
    ctx_free(c);
}

static void test_pins(void **state)
{
    const char *pins[] = {"pin.ok.test:443:127.0.0.9", "pin6.test:80:[::1]",
                          "multi.test:8080:127.0.0.7,[::1]", "[::5]:80:127.0.0.5"};
    struct dns_config cfg = {.pins = pins, .pins_len = 4};
    struct ctx *c = ctx_new(&cfg);
    struct rec p, p6, multi, other, bracket;

    (void)state;
    resolve(c, &p, "PIN.ok.test", 443);
    resolve(c, &p6, "pin6.test", 80);
    resolve(c, &multi, "multi.test", 8080);
    resolve(c, &bracket, "::5", 80);
    run_until(c, 4, GUARD_MS);
    assert_int_equal(p.a.err, SALVO_E_OK);
    assert_int_equal(p.a.from_cache, 1);
    assert_int_equal(p.a.n, 1);
    assert_v4(&p.a.addrs[0], "127.0.0.9", 443);
    assert_v6(&p6.a.addrs[0], "::1", 80);
    assert_int_equal(multi.a.n, 2);
    assert_v4(&multi.a.addrs[0], "127.0.0.7", 8080);
    assert_v6(&multi.a.addrs[1], "::1", 8080);
    assert_v4(&bracket.a.addrs[0], "127.0.0.5", 80);
    assert_int_equal(stats(c).queries, 0);
    assert_int_equal(stats(c).cache_hits, 4);
    assert_int_equal(queries_for("pin.ok.test"), 0);
    /* The same host on another port is resolved for real. */
    resolve(c, &other, "pin.ok.test", 80);
    run_until(c, 5, GUARD_MS);
    assert_int_equal(other.a.err, SALVO_E_OK);
    assert_int_equal(other.a.from_cache, 0);
    assert_v4(&other.a.addrs[0], "127.0.0.2", 80);
    assert_int_equal(queries_for("pin.ok.test"), 1);
    ctx_free(c);
}

/* Hundreds of pins (a pinned fleet): each name answers its own address, the first of two
 * pins for the same host and port counts, and a pinned name on another port is not
 * pinned there. */
static void test_many_pins(void **state)
{
    enum { N = 300 };
    static char text[N + 1][64];
    static const char *pins[N + 1];
    static struct rec r[N + 1];
    char want[32];

    (void)state;
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "h%d.fleet.test:80:127.3.%d.%d", i, i / 250, i % 250 + 1);
        pins[i] = text[i];
    }
    snprintf(text[N], sizeof text[N], "h7.fleet.test:80:127.9.9.9"); /* a later repeat */
    pins[N] = text[N];
    struct dns_config cfg = {.pins = pins, .pins_len = N + 1};
    struct ctx *c = ctx_new(&cfg);
    for (int i = 0; i < N; i++) {
        char host[32];
        snprintf(host, sizeof host, "H%d.fleet.test", i);
        resolve(c, &r[i], host, 80);
    }
    run_until(c, N, GUARD_MS);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].a.err, SALVO_E_OK);
        assert_int_equal(r[i].a.n, 1);
        snprintf(want, sizeof want, "127.3.%d.%d", i / 250, i % 250 + 1);
        assert_v4(&r[i].a.addrs[0], want, 80);
    }
    assert_int_equal(stats(c).queries, 0);
    resolve(c, &r[N], "h7.fleet.test", 8080);
    run_until(c, N + 1, GUARD_MS);
    assert_int_equal(r[N].a.from_cache, 0);
    assert_int_equal(queries_for("h7.fleet.test"), 1);
    ctx_free(c);
}

static void test_ip_literals(void **state)
{
    struct dns_config cfg = {0};
    struct ctx *c = ctx_new(&cfg);
    struct rec r4, r6;

    (void)state;
    resolve(c, &r4, "127.0.0.1", 80);
    resolve(c, &r6, "::1", 443);
    run_until(c, 2, GUARD_MS);
    assert_int_equal(r4.a.err, SALVO_E_OK);
    assert_int_equal(r4.a.from_cache, 1);
    assert_v4(&r4.a.addrs[0], "127.0.0.1", 80);
    assert_int_equal(r6.a.from_cache, 1);
    assert_v6(&r6.a.addrs[0], "::1", 443);
    assert_int_equal(stats(c).queries, 0);
    assert_int_equal(stats(c).cache_hits, 2);
    ctx_free(c);
}

/* Names that c-ares answers before ares_getaddrinfo returns (a malformed name, a name
 * from /etc/hosts) still reach the waiter through the loop only. */
static void test_synchronous_answers_deferred(void **state)
{
    char longname[300];
    struct dns_config cfg = {0};
    struct ctx *c = ctx_new(&cfg);
    struct rec bad, local, empty, toolong;

    (void)state;
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    resolve(c, &bad, "bad..name.test", 80);
    resolve(c, &local, "localhost", 80);
    resolve(c, &empty, "", 80);
    resolve(c, &toolong, longname, 80);
    run_until(c, 4, GUARD_MS);
    assert_int_equal(bad.calls, 1);
    assert_int_equal(bad.a.err, SALVO_E_DNS);
    assert_int_equal(local.calls, 1);
    assert_int_equal(local.a.err, SALVO_E_OK);
    assert_true(local.a.n >= 1);
    assert_int_equal(empty.a.err, SALVO_E_DNS);
    assert_int_equal(toolong.a.err, SALVO_E_DNS);
    assert_string_equal(toolong.msg, "Misformatted domain name");
    assert_int_equal(queries_for("localhost"), 0);
    ctx_free(c);
}

static void check_bad_config(const char *pin, const char *srv, const char *expect)
{
    const char *pins[] = {pin};
    struct dns_config cfg = {.servers = srv, .pins = pins, .pins_len = pin ? 1 : 0};
    struct loop *l;
    struct dns *d = (struct dns *)&cfg;
    char err[256] = "";

    assert_int_equal(loop_new(&l), 0);
    assert_int_equal(dns_new(&d, l, &cfg, err, sizeof(err)), -1);
    assert_null(d);
    if (!strstr(err, expect)) {
        fprintf(stderr, "# error \"%s\" does not name \"%s\"\n", err, expect);
        fail();
    }
    loop_free(l);
}

static void test_bad_config_fails(void **state)
{
    static const char *bad_pins[] = {
        "nocolon",          "h.test:80",          "h.test:0:127.0.0.1",
        "h.test:x:1.2.3.4", "h.test:80:",         "h.test:80:999.1.1.1",
        ":80:127.0.0.1",    "h.test:80:1.2.3.4,", "h.test:70000:1.2.3.4"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad_pins) / sizeof(bad_pins[0]); i++)
        check_bad_config(bad_pins[i], NULL, bad_pins[i]);
    check_bad_config(NULL, "not-an-address", "not-an-address");
    check_bad_config(NULL, "", "DNS server");
}

/* dns_free with a lookup in flight and one queued: c-ares ends the first
 * (ARES_EDESTRUCTION) quietly and closes its socket; no fd is left behind. */
static void test_free_leaves_no_fd(void **state)
{
    char srv[64];
    int s = silent_server(srv, sizeof(srv));
    struct dns_config cfg = {.servers = srv, .max_inflight = 1};
    struct loop *l;
    struct dns *d;
    struct rec r, queued;
    char err[256];
    int before, during;

    (void)state;
    assert_int_equal(loop_new(&l), 0);
    before = count_fds();
    assert_int_equal(dns_new(&d, l, &cfg, err, sizeof(err)), 0);
    memset(&r, 0, sizeof(r));
    memset(&queued, 0, sizeof(queued));
    dns_resolve(d, "inflight.test", 80, &r.w, on_done, &r);
    dns_resolve(d, "queued.test", 80, &queued.w, on_done, &queued);
    during = count_fds();
    assert_true(during > before);
    dns_cancel(d, &r.w);
    dns_cancel(d, &queued.w);
    dns_free(d);
    assert_int_equal(count_fds(), before);
    assert_int_equal(r.calls + queued.calls, 0);
    loop_free(l);
    close(s);
}

/* At most max_inflight lookups are handed to c-ares; the rest wait their turn in FIFO
 * order and start as others finish. */
static void test_inflight_cap(void **state)
{
    enum { N = 10 };
    char srv[64], name[64];
    int s = silent_server(srv, sizeof(srv)), i;
    struct dns_config cfg = {.servers = srv, .per_try_ms = 100, .tries = 1, .max_inflight = 4};
    struct ctx *c = ctx_new(&cfg);
    struct rec r[N];
    uint64_t start = loop_now_us();

    (void)state;
    for (i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "cap%d.test", i);
        resolve(c, &r[i], name, 80);
    }
    assert_int_equal(stats(c).queries, 4);
    run_until(c, N, GUARD_MS);
    for (i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].a.err, SALVO_E_DNS_TIMEOUT);
    }
    assert_int_equal(stats(c).queries, N);
    /* Three waves of 100 ms each (4 + 4 + 2), in order. */
    assert_true(r[N - 1].at_us - start >= 300000u);
    assert_true(r[0].at_us <= r[4].at_us && r[4].at_us <= r[8].at_us);
    ctx_free(c);
    close(s);
}

/* Nothing listens on the resolver's port: the ICMP error is a failure, not a timeout. */
static void test_refused_server(void **state)
{
    char srv[64];
    int s = silent_server(srv, sizeof(srv));
    struct dns_config cfg = {.servers = srv, .per_try_ms = 2000, .tries = 2};
    struct ctx *c;
    struct rec r;
    uint64_t start;

    (void)state;
    close(s); /* the port is now closed: the kernel answers with port unreachable */
    c = ctx_new(&cfg);
    start = loop_now_us();
    resolve(c, &r, "refused.test", 80);
    run_until(c, 1, GUARD_MS);
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.msg, "Could not contact DNS servers");
    assert_int_equal(r.a.err, SALVO_E_DNS);
    assert_true(r.at_us - start < 1000000u);
    ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolves_name),
        cmocka_unit_test(test_dual_stack_order),
        cmocka_unit_test(test_nxdomain_cached),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_thousand_names),
        cmocka_unit_test(test_cache_hit_sends_no_query),
        cmocka_unit_test(test_coalesces_waiters),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_pins),
        cmocka_unit_test(test_many_pins),
        cmocka_unit_test(test_ip_literals),
        cmocka_unit_test(test_synchronous_answers_deferred),
        cmocka_unit_test(test_bad_config_fails),
        cmocka_unit_test(test_free_leaves_no_fd),
        cmocka_unit_test(test_inflight_cap),
        cmocka_unit_test(test_refused_server),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
