/*
 * run.c -- the record path of a run: the engine's feed reads the input and submits each
 * line (a URL or a JSON request; lines of other shards, and lines --resume's FILE already
 * has, are passed over), and each completion becomes one record after the checks and the
 * comparison, written by the report. Also the engine's start and stop, and the signals
 * that interrupt a run.
 */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "proxy_env.h"
#include "shard.h"
#include "target.h"

/* --resume: FILE goes to the disk at most this often (seconds), and at the end. */
#define RESUME_SYNC_S 1.0

double run_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static salvo_t *volatile signal_engine; /* for the signal handler */
volatile sig_atomic_t run_signal;

static void on_signal(int sig)
{
    run_signal = sig;
    if (signal_engine != NULL)
        salvo_cancel(signal_engine);
}

static void output_failed(struct run *run);

/* Writes one record, after the checks: ok is true only with no error and no failed
 * check. body is what was kept of the body (for the body check), NULL when nothing. */
static void write_record(struct run *run, const salvo_result_t *in, struct output_extra *x,
                         const char *body, const struct checks *own)
{
    salvo_result_t res = *in, *r = &res;
    x->checks_failed = checks_run_over(&run->cli->checks, own, r, body, (int64_t)time(NULL));
    x->checked = r->error == SALVO_E_OK;
    r->ok = r->error == SALVO_E_OK && x->checks_failed == 0;
    if (run->compare != NULL) {
        struct compared now = {
            .ok = r->ok,
            .error = r->error,
            .checks_failed = x->checked ? x->checks_failed : 0,
            .has_cert_days = r->cert_expiry != NULL,
            .cert_days_left = r->cert_days_left,
            .total_ms = r->total_ms,
        };
        x->change = compare_next(run->compare, x->name, r->url, &now);
        if (run->compare_next != NULL &&
            compare_add(run->compare_next, x->name, r->url, &now) < 0 && !run->write_failed)
            fprintf(stderr, "salvo: --compare: out of memory; the next round compares less\n");
    }
    x->round = run->round;
    run->records++;
    if (!r->ok)
        run->not_ok++;
    if (run->write_failed)
        return;
    if (report_record(run->report, r, x) < 0)
        output_failed(run);
}

/* The output failed: a reader that went away (salvo ... | head -1) wanted no more, and the
 * run ends quietly; anything else is said. */
static void output_failed(struct run *run)
{
    if (errno != EPIPE)
        fprintf(stderr, "salvo: writing %s: %s\n", run->out_name, strerror(errno));
    run->write_failed = 1;
    salvo_cancel(run->engine);
}

/* After each batch of completions (one loop pass): the batch's records go to the kernel
 * in one write. --resume promises records that survive a power cut, give or take the
 * last second: the disk is synced at most once a second, so that fsync does not set the
 * pace of a fast run. */
static void on_batch_end(void *user)
{
    struct run *run = user;
    if (run->write_failed)
        return;
    if (report_flush(run->report) < 0) {
        output_failed(run);
        return;
    }
    if (run->resume != NULL) {
        double now = run_clock();
        if (now - run->last_sync >= RESUME_SYNC_S) {
            (void)fdatasync(fileno(run->out));
            run->last_sync = now;
        }
    }
}

static void on_done(const salvo_result_t *r, void *user)
{
    struct run *run = user;
    struct output_extra x = {.attempt_log = run->cli->cfg.attempt_log,
                             .headers = run->cli->show_headers};
    write_record(run, r, &x, NULL, NULL);
}

/* The completion of a request whose body was kept (--body, --output-dir). */
static void on_done_kept(const salvo_result_t *r, void *user)
{
    struct keep *k = user;
    struct run *run = k->owner;
    char msg[512];
    salvo_result_t res = *r;
    const char *why = keep_finish(k, r, msg, sizeof msg);
    if (why != NULL) {
        /* Saving failed (a full disk, say): the record says so, in the engine's words
         * for the class and the command's for the detail. */
        res.message = why;
        res.error = SALVO_E_RESOURCE;
    }
    struct output_extra x = {
        .attempt_log = run->cli->cfg.attempt_log,
        .headers = run->cli->show_headers,
        .body_file = k->saved ? k->path : NULL,
        .name = k->name,
    };
    /* The record shows --body's first bytes; the body check saw all that was kept. */
    size_t shown = k->body_len < run->keep.body_max ? k->body_len : run->keep.body_max;
    char *shown_body = NULL;
    if (run->keep.body_max > 0 && k->body != NULL && k->got_head &&
        (shown_body = malloc(shown + 1)) != NULL) {
        memcpy(shown_body, k->body, shown);
        shown_body[shown] = '\0';
        x.body = shown_body;
        x.body_len = shown;
    }
    write_record(run, &res, &x, k->body, k->checks);
    free(shown_body);
    keep_free(k);
}

/* Queues one URL, with what the command keeps of its response. */
/* The record of an input line that describes no request: bad_input, with the line
 * itself (cut to 1 KiB) as its url. */
static void bad_input(struct run *run, const char *line, uint64_t index, const char *why)
{
    char shown[1025];
    snprintf(shown, sizeof shown, "%s", line);
    salvo_result_t r = {
        .index = index,
        .url = shown,
        .error = SALVO_E_BAD_INPUT,
        .message = why,
        .queue_ms = -1,
        .dns_ms = -1,
        .connect_ms = -1,
        .tls_ms = -1,
        .ttfb_ms = -1,
        .transfer_ms = -1,
        .total_ms = -1,
        .start_ms = -1,
        .reused = -1,
        .tls_resumed = -1,
    };
    struct output_extra x = {.attempt_log = run->cli->cfg.attempt_log};
    write_record(run, &r, &x, NULL, NULL);
}

/* Queues one request: url with the command's options, or a JSON line's own (t). */
static int submit_one(salvo_t *engine, struct run *run, const char *url, uint64_t index,
                      struct target *t)
{
    const salvo_request_t *req = t ? &t->req : &run->cli->req;
    const struct checks *own = t ? t->checks : NULL;
    salvo_request_ext_t ext = {
        .size = sizeof ext,
        .keep_headers = run->cli->show_headers || checks_want_headers(&run->cli->checks) ||
                        (own && checks_want_headers(own)),
    };
    int want_body = own && checks_want_body(own);
    if (!run->keeping && !want_body && t == NULL)
        return salvo_submit_ext(engine, url, index, req, &ext, on_done, run);
    struct keep_config *cfg = want_body ? &run->keep_checked : &run->keep;
    struct keep *k = keep_new(cfg, run, index);
    if (k == NULL)
        return -1;
    if (t != NULL) {
        k->name = t->name; /* the keep takes them */
        k->checks = t->checks;
        t->name = NULL;
        t->checks = NULL;
    }
    ext.on_headers = keep_on_headers;
    ext.on_body = keep_on_body;
    ext.user = k;
    if (salvo_submit_ext(engine, url, index, req, &ext, on_done_kept, k) < 0) {
        keep_free(k);
        return -1;
    }
    return 0;
}

/* The url the record of an input line shows (a password masked), malloc'd; NULL on a
 * shortage of memory. */
static char *recorded_url(const struct run *run, const char *line)
{
    struct target t;
    char why[256], shown[1025];
    const char *url = line;
    int json = line[0] == '{';
    if (json) {
        if (target_parse(&t, line, run->cli, why, sizeof why) == 0) {
            url = t.url;
        } else {
            snprintf(shown, sizeof shown, "%s", line); /* as bad_input shows it */
            url = shown;
        }
    }
    size_t cap = strlen(url) + 4;
    char *out = malloc(cap);
    if (out != NULL &&
        (url == shown ? snprintf(out, cap, "%s", url) < 0 : salvo_url_mask(url, out, cap) < 0)) {
        free(out);
        out = NULL;
    }
    if (json)
        target_free(&t);
    return out;
}

/* --resume: 0 when FILE has no record for this line or one made from it; -1, said on
 * stderr, when its record is another URL's: the input changed since FILE was written. */
int run_check_line(struct run *run, const char *line, uint64_t index)
{
    if (run->resume == NULL || !resume_done(run->resume, index))
        return 0;
    char *url = recorded_url(run, line);
    int same = url != NULL && resume_same_url(run->resume, index, url);
    free(url);
    if (same)
        return 0;
    if (run->report != NULL) /* NULL while the input is checked before the run */
        report_before_stderr(run->report);
    fprintf(stderr,
            "salvo: --resume: %s holds a record for input line %llu made from another URL: "
            "the input changed (start a new run with another -o FILE)\n",
            run->out_name, (unsigned long long)index);
    run->list_changed = 1;
    return -1;
}

/* Queues the request an input line describes; a JSON line that describes none gets its
 * bad_input record and the run goes on. Returns 0, -1 on a shortage of memory, or -2
 * when the input is not the one --resume's FILE was made from. */
static int submit(salvo_t *engine, struct run *run, const char *line, uint64_t index)
{
    if (run->resume != NULL && resume_done(run->resume, index)) {
        if (run_check_line(run, line, index) < 0)
            return -2;
        run->not_fetched++;
        return 0;
    }
    const struct shard *shard = &run->cli->shard;
    if (line[0] != '{') {
        if (shard_keeps(shard, line))
            return submit_one(engine, run, line, index, NULL);
        run->not_fetched++;
        return 0;
    }
    struct target t;
    char why[256];
    int rc = 0;
    int ok = target_parse(&t, line, run->cli, why, sizeof why) == 0;
    if (!shard_keeps(shard, ok ? t.url : NULL))
        run->not_fetched++; /* a line with no URL is shard 1's */
    else if (!ok)
        bad_input(run, line, index, why);
    else
        rc = submit_one(engine, run, t.url, index, &t);
    target_free(&t);
    return rc;
}

/* The engine's feed: submits up to `room` URLs read from the input. */
static int feed(salvo_t *engine, size_t room, void *user)
{
    struct run *run = user;
    for (size_t i = 0; i < room; i++) {
        int too_long = 0;
        uint64_t index = run->in.count;
        const char *url = input_next(&run->in, &too_long);
        if (url == NULL && run->in.would_block) {
            /* A pipe with no whole line yet: the engine runs on and asks again once the
             * pipe is readable. Reading it blocking would stall every request. */
            if (salvo_feed_wait(engine, fileno(run->in.fp)) == 0)
                return 0;
            report_before_stderr(run->report);
            fprintf(stderr, "salvo: cannot watch the input for more lines\n");
            return 1;
        }
        if (url == NULL) {
            if (run->in.error) {
                report_before_stderr(run->report);
                fprintf(stderr, "salvo: reading the input: %s\n", strerror(run->in.error));
            } else {
                /* the bar knows the total */
                report_input_end(run->report, run->in.count - run->not_fetched);
            }
            return 1;
        }
        int rc = submit(engine, run, url, index);
        if (rc == -2) {
            salvo_cancel(engine);
            return 1;
        }
        if (rc < 0) {
            report_before_stderr(run->report);
            fprintf(stderr, "salvo: cannot queue URL %llu: out of memory\n",
                    (unsigned long long)index);
            return 1;
        }
    }
    return 0;
}

/* --trace: one JSON line per state change of a request. A failing trace stream ends
 * the trace, not the run. */
static void on_trace(const salvo_transition_t *t, void *user)
{
    struct run *run = user;
    if (run->trace != NULL && output_json_transition(run->trace, t) < 0) {
        report_before_stderr(run->report);
        fprintf(stderr, "salvo: writing the trace: %s\n", strerror(errno));
        salvo_set_trace(run->engine, NULL, NULL);
    }
}

/* Open file descriptors of this process (those of /proc/self/fd, less the one reading
 * it), or -1 when /proc is not there. --stats reports them before the engine starts and
 * after it is freed: a run that leaks a socket shows a difference. */
static int open_fds_start = -1;

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

static void print_stats(const salvo_stats_t *sp, int open_fds)
{
    salvo_stats_t s = *sp;
    fprintf(stderr,
            "{\"submitted\":%llu,\"completed\":%llu,\"max_in_flight\":%llu,\"attempts\":%llu,"
            "\"retries\":%llu,\"dns_queries\":%llu,\"dns_cache_hits\":%llu,"
            "\"connections_opened\":%llu,\"connections_reused\":%llu,"
            "\"max_open_connections\":%llu,\"bytes_received\":%llu,\"concurrency\":%d,"
            "\"loop_max_lag_ms\":%.3f,\"open_fds_start\":%d,\"open_fds\":%d}\n",
            (unsigned long long)s.submitted, (unsigned long long)s.completed,
            (unsigned long long)s.max_in_flight, (unsigned long long)s.attempts,
            (unsigned long long)s.retries, (unsigned long long)s.dns_queries,
            (unsigned long long)s.dns_cache_hits, (unsigned long long)s.connections_opened,
            (unsigned long long)s.connections_reused, (unsigned long long)s.max_open_connections,
            (unsigned long long)s.bytes_received, s.concurrency, s.loop_max_lag_ms, open_fds_start,
            open_fds);
}

void run_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed output pipe must be a write error we report, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
}

/* Hands the engine the proxies of -x, --noproxy and the environment. Returns 0, or -1
 * when one is not a proxy URL (said on stderr). */
static int use_proxies(struct run *run)
{
    struct proxy_choice pc;
    char err[256];
    proxy_env_choose(run->cli->proxy, run->cli->noproxy, &pc);
    if (pc.http == NULL && pc.https == NULL)
        return 0;
    if (run->cli->cfg.blocking) {
        fprintf(stderr, "salvo: warning: --blocking ignores the proxy in %s\n",
                pc.http != NULL ? pc.http_from : pc.https_from);
        return 0;
    }
    if (salvo_set_proxy(run->engine, pc.http, pc.https, pc.noproxy, err, sizeof err) == 0)
        return 0;
    /* Which setting was wrong: each one alone says. */
    const char *from = pc.http_from;
    if (pc.http == NULL || salvo_set_proxy(run->engine, pc.http, NULL, NULL, err, sizeof err) == 0)
        from = pc.https_from;
    fprintf(stderr, "salvo: the proxy in %s: %s\n", from, err);
    return -1;
}

/* The engine, fed from run's input. Returns 0, or -1 (said on stderr). */
int run_start_engine(struct run *run)
{
    char err[256], warn[256];
    run->cli->cfg.feed = feed;
    run->cli->cfg.feed_user = run;
    if (run->cli->stats && open_fds_start < 0)
        open_fds_start = count_open_fds();
    if (salvo_new(&run->engine, &run->cli->cfg, err, sizeof err, warn, sizeof warn) < 0) {
        fprintf(stderr, "salvo: %s\n", err);
        return -1;
    }
    if (warn[0])
        fprintf(stderr, "salvo: warning: %s\n", warn);
    if (use_proxies(run) < 0) {
        salvo_free(run->engine);
        run->engine = NULL;
        return -1;
    }
    /* Both values were checked by cli_parse: these cannot fail. */
    (void)salvo_set_rate(run->engine, run->cli->rate, run->cli->per_host_rate);
    (void)salvo_set_family(run->engine, run->cli->family);
    salvo_set_batch_end(run->engine, on_batch_end, run);
    if (run->trace != NULL)
        salvo_set_trace(run->engine, on_trace, run);
    return 0;
}

/* Runs the engine over the input once and closes the report. Returns salvo_run's. */
int run_once(struct run *run)
{
    signal_engine = run->engine;
    if (run_signal) /* it came before the engine could be told: tell it now */
        salvo_cancel(run->engine);
    int rc = salvo_run(run->engine);
    signal_engine = NULL;
    if (!run->write_failed && report_close(run->report, run_signal != 0) < 0) {
        if (errno != EPIPE)
            fprintf(stderr, "salvo: writing %s: %s\n", run->out_name, strerror(errno));
        run->write_failed = 1;
    }
    return rc;
}

void run_stop_engine(struct run *run)
{
    salvo_stats_t s;
    memset(&s, 0, sizeof s);
    if (run->cli->stats)
        salvo_stats(run->engine, &s);
    salvo_free(run->engine);
    run->engine = NULL;
    if (run->cli->stats)
        print_stats(&s, count_open_fds());
}
