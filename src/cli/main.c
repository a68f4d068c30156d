/*
 * main.c -- the salvo command: read URLs lazily, run the engine, write one record per
 * URL as each finishes. It uses libsalvo's public API and nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "compare.h"
#include "input.h"
#include "keep.h"
#include "output.h"
#include "report.h"
#include "resume.h"
#include "shard.h"
#include "target.h"

/* The run's state, reached from the engine's callbacks through their user pointer. */
struct run {
    struct cli *cli;
    struct input in;
    FILE *out;
    const char *out_name;
    uint64_t records;                /* records written */
    uint64_t not_ok;                 /* records whose ok is false */
    uint64_t not_fetched;            /* input lines left to other shards or done before */
    struct resume *resume;           /* --resume: what FILE already holds; NULL otherwise */
    int list_changed;                /* --resume found another input than FILE's */
    double last_sync;                /* --resume: when FILE was last fdatasync'd */
    uint64_t round;                  /* --watch: the round going on (1, 2, ...); 0 without */
    struct compare *compare_next;    /* --watch --compare: this round, for the next one */
    struct compare *compare;         /* --compare: the previous run; NULL when not asked */
    int write_failed;                /* the output stream failed: stop the run */
    FILE *trace;                     /* --trace: the state changes, NULL when not asked for */
    struct report *report;           /* records, in their format, and what ends the run */
    struct keep_config keep;         /* --body, --output-dir */
    struct keep_config keep_checked; /* the same, and the body a line's check looks at */
    int keeping;                     /* either is on: each request has a struct keep */
    salvo_t *engine;
};

/* --resume: FILE goes to the disk at most this often (seconds), and at the end. */
#define RESUME_SYNC_S 1.0

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static salvo_t *volatile signal_engine; /* for the signal handler */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
    if (signal_engine != NULL)
        salvo_cancel(signal_engine);
}

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
    if (report_record(run->report, r, x) < 0) {
        /* A reader that went away (salvo ... | head -1) wanted no more: end quietly. */
        if (errno != EPIPE)
            fprintf(stderr, "salvo: writing %s: %s\n", run->out_name, strerror(errno));
        run->write_failed = 1;
        salvo_cancel(run->engine);
        return;
    }
    /* --resume promises records that survive a power cut, give or take the last second:
     * each record reaches the kernel as it is written (report_record flushes), and the
     * disk at most once a second, so that fsync does not set the pace of a fast run. */
    if (run->resume != NULL) {
        double now = monotonic_s();
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
static int same_as_recorded(struct run *run, const char *line, uint64_t index)
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
        if (same_as_recorded(run, line, index) < 0)
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

static int open_input(struct run *run, FILE **fp)
{
    struct cli *c = run->cli;
    *fp = NULL;
    if (c->input_path != NULL) {
        if (strcmp(c->input_path, "-") == 0) {
            *fp = stdin;
            return 0;
        }
        *fp = fopen(c->input_path, "r");
        if (*fp == NULL) {
            fprintf(stderr, "salvo: cannot read %s: %s\n", c->input_path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (c->nurls > 0)
        return 0;
    if (isatty(STDIN_FILENO)) {
        fprintf(stderr, "salvo: no URLs: give them as arguments, with -i FILE, or on stdin "
                        "(see salvo --help)\n");
        return -1;
    }
    *fp = stdin;
    return 0;
}

static void print_stats(salvo_t *engine)
{
    salvo_stats_t s;
    salvo_stats(engine, &s);
    fprintf(stderr,
            "{\"submitted\":%llu,\"completed\":%llu,\"max_in_flight\":%llu,\"attempts\":%llu,"
            "\"retries\":%llu,\"dns_queries\":%llu,\"dns_cache_hits\":%llu,"
            "\"connections_opened\":%llu,\"connections_reused\":%llu,"
            "\"max_open_connections\":%llu,\"bytes_received\":%llu,\"concurrency\":%d,"
            "\"loop_max_lag_ms\":%.3f}\n",
            (unsigned long long)s.submitted, (unsigned long long)s.completed,
            (unsigned long long)s.max_in_flight, (unsigned long long)s.attempts,
            (unsigned long long)s.retries, (unsigned long long)s.dns_queries,
            (unsigned long long)s.dns_cache_hits, (unsigned long long)s.connections_opened,
            (unsigned long long)s.connections_reused, (unsigned long long)s.max_open_connections,
            (unsigned long long)s.bytes_received, s.concurrency, s.loop_max_lag_ms);
}

static void install_signals(void)
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

/* After an interrupt: say how much of the input was never read. Only for inputs that
 * can be counted without waiting (arguments and regular files): a pipe may never end. */
static void report_unread(struct run *run, FILE *fp)
{
    struct stat st;
    if (fp != NULL && (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode))) {
        fprintf(stderr, "salvo: interrupted; URLs not yet read from the input got no record\n");
        return;
    }
    fprintf(stderr, "salvo: interrupted; %llu URLs were not read and got no record\n",
            (unsigned long long)input_count_rest(&run->in));
}

/* A pipe, socket or terminal is read without blocking, so that a slow producer never
 * stalls the requests in flight; regular files are read as they are (a disk read does
 * not wait on anyone). Returns the flags to restore (the file description may be
 * shared with the shell), or -1 when nothing was changed. */
static int make_nonblocking(FILE *fp)
{
    struct stat st;
    if (fp == NULL || fstat(fileno(fp), &st) < 0 || S_ISREG(st.st_mode))
        return -1;
    int flags = fcntl(fileno(fp), F_GETFL);
    if (flags < 0 || (flags & O_NONBLOCK) || fcntl(fileno(fp), F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return flags;
}

/* The engine, fed from run's input. Returns 0, or -1 (said on stderr). */
static int start_engine(struct run *run)
{
    char err[256], warn[256];
    run->cli->cfg.feed = feed;
    run->cli->cfg.feed_user = run;
    if (salvo_new(&run->engine, &run->cli->cfg, err, sizeof err, warn, sizeof warn) < 0) {
        fprintf(stderr, "salvo: %s\n", err);
        return -1;
    }
    if (warn[0])
        fprintf(stderr, "salvo: warning: %s\n", warn);
    if (run->trace != NULL)
        salvo_set_trace(run->engine, on_trace, run);
    return 0;
}

/* Runs the engine over the input once and closes the report. Returns salvo_run's. */
static int run_once(struct run *run)
{
    signal_engine = run->engine;
    int rc = salvo_run(run->engine);
    signal_engine = NULL;
    if (!run->write_failed && report_close(run->report, got_signal != 0) < 0) {
        if (errno != EPIPE)
            fprintf(stderr, "salvo: writing %s: %s\n", run->out_name, strerror(errno));
        run->write_failed = 1;
    }
    return rc;
}

static void stop_engine(struct run *run)
{
    if (run->cli->stats)
        print_stats(run->engine);
    salvo_free(run->engine);
    run->engine = NULL;
}

static int run_engine(struct run *run, FILE *in_fp)
{
    if (start_engine(run) < 0)
        return 2;
    int rc = run_once(run);
    stop_engine(run);
    if (rc < 0) {
        fprintf(stderr, "salvo: the event loop failed\n");
        return 1;
    }
    if (run->list_changed)
        return 2;
    if (got_signal) {
        report_unread(run, in_fp);
        return 128 + got_signal;
    }
    if (run->in.count == 0) { /* an empty shard is not an error: an empty input is */
        fprintf(stderr, "salvo: nothing to fetch: the input holds no URL\n");
        return 2;
    }
    return run->not_ok > 0 || run->write_failed ? 1 : 0;
}

/* --resume: before anything is sent, the input lines FILE has records for must be those
 * the records were made from. An input that can be read twice (the arguments, a regular
 * file) is checked whole here and read again from its start; a pipe is checked as the
 * run reads it. Returns 0, or -1 when the input changed (said on stderr). */
static int check_list_unchanged(struct run *run, FILE *fp)
{
    struct stat st;
    int again = fp == NULL || (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode));
    struct input scan;
    input_init(&scan, run->cli->urls, run->cli->nurls, again ? fp : NULL);
    const char *line;
    int too_long, rc = 0;
    for (uint64_t index = 0; rc == 0 && (line = input_next(&scan, &too_long)) != NULL;
         index = scan.count)
        rc = same_as_recorded(run, line, index);
    input_free(&scan);
    if (fp != NULL && again)
        rewind(fp);
    return rc;
}

/* --resume: a record FILE already holds counts in the exit status and the summary. */
static void count_done(const salvo_result_t *r, const struct output_extra *x, void *user)
{
    struct run *run = user;
    run->records++;
    if (!r->ok)
        run->not_ok++;
    report_count(run->report, r, x);
}

/* Sleeps until deadline (monotonic_s), or until a signal asks to stop. */
static void sleep_until(double deadline)
{
    for (double left; !got_signal && (left = deadline - monotonic_s()) > 0;) {
        struct timespec ts = {.tv_sec = (time_t)left,
                              .tv_nsec = (long)((left - (double)(time_t)left) * 1e9)};
        nanosleep(&ts, NULL); /* a signal ends it early: the loop looks again */
    }
}

/* --watch: one round's records go to a temporary file next to -o FILE, renamed over it
 * once the round is whole (after an fsync), so a reader of FILE only ever sees a whole
 * round. Returns the stream (and its name in tmp), or NULL (said on stderr). */
static FILE *open_round_file(const char *path, char *tmp, size_t tmplen)
{
    int n = snprintf(tmp, tmplen, "%s.round.XXXXXX", path);
    int fd = n > 0 && (size_t)n < tmplen ? mkstemp(tmp) : -1;
    /* mkstemp makes 0600; FILE gets the mode any new file would (a collector running as
     * another user must be able to read it). */
    mode_t mask = umask(0);
    umask(mask);
    if (fd >= 0)
        (void)fchmod(fd, 0666 & ~mask);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fp == NULL) {
        fprintf(stderr, "salvo: cannot write next to %s: %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
    }
    return fp;
}

/* Puts a whole round in place of FILE, or drops an unfinished one. Returns 0, or -1
 * (said on stderr). */
static int close_round_file(FILE *fp, const char *tmp, const char *path, int whole)
{
    int ok = whole && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int e = errno;
    ok = fclose(fp) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return 0;
    if (whole)
        fprintf(stderr, "salvo: writing %s: %s\n", path, strerror(ok ? errno : e));
    unlink(tmp);
    return whole ? -1 : 0;
}

/* --watch SEC: the input again every SEC seconds (start to start) on one engine, so that
 * connections, TLS sessions and the DNS cache stay warm, until a signal. Each round has
 * its own report (records with their round, a summary) and, with -o, replaces FILE
 * whole. With --compare, the first round is compared with FILE, each later one with the
 * round before it. Returns the exit status: the last whole round's, or 128 + signal. */
static int run_watch(struct run *run, FILE **in_fp)
{
    const struct cli *c = run->cli;
    struct compare upcoming;
    char why[256], tmp[4096];
    int status = 0;
    if (start_engine(run) < 0)
        return 2;
    if (run->compare != NULL) {
        compare_init(&upcoming, c->checks.min_cert_days);
        run->compare_next = &upcoming;
    }
    for (uint64_t round = 1;; round++) {
        double start = monotonic_s();
        if (round > 1 && c->input_path != NULL) { /* read again: it may have been edited */
            fclose(*in_fp);
            if ((*in_fp = fopen(c->input_path, "r")) == NULL) {
                fprintf(stderr, "salvo: cannot read %s: %s\n", c->input_path, strerror(errno));
                status = 2;
                break;
            }
        }
        input_init(&run->in, c->urls, c->nurls, *in_fp);
        run->round = round;
        run->records = run->not_ok = run->not_fetched = 0;
        run->out = stdout;
        if (c->output_path != NULL &&
            (run->out = open_round_file(c->output_path, tmp, sizeof tmp)) == NULL) {
            status = 1;
            break;
        }
        if (report_open(&run->report, c, run->out, run->out_name, why, sizeof why) < 0) {
            fprintf(stderr, "salvo: %s\n", why);
            status = 1;
            break;
        }
        if (round > 1)
            salvo_feed_again(run->engine);
        int rc = run_once(run);
        report_free(run->report);
        run->report = NULL;
        input_free(&run->in);
        int whole = rc == 0 && !got_signal && !run->write_failed;
        if (c->output_path != NULL && close_round_file(run->out, tmp, c->output_path, whole) < 0)
            run->write_failed = 1;
        run->out = stdout;
        if (rc < 0 || got_signal || run->in.count == 0 || run->write_failed) {
            status = rc < 0 || run->write_failed ? 1 : got_signal ? 128 + got_signal : 2;
            if (rc < 0)
                fprintf(stderr, "salvo: the event loop failed\n");
            else if (!got_signal && run->in.count == 0)
                fprintf(stderr, "salvo: nothing to fetch: the input holds no URL\n");
            break;
        }
        status = run->not_ok > 0 ? 1 : 0;
        if (run->compare != NULL) { /* this round is what the next one compares with */
            compare_free(run->compare);
            *run->compare = upcoming;
            compare_seal(run->compare);
            compare_init(&upcoming, c->checks.min_cert_days);
        }
        double spent = monotonic_s() - start;
        if (spent >= c->watch)
            fprintf(stderr,
                    "salvo: round %llu took %.1f s, more than --watch %g: the next "
                    "starts now\n",
                    (unsigned long long)round, spent, c->watch);
        sleep_until(start + c->watch);
        if (got_signal) {
            status = 128 + got_signal;
            break;
        }
    }
    if (run->compare != NULL)
        compare_free(&upcoming);
    run->compare_next = NULL;
    stop_engine(run);
    return status;
}

int main(int argc, char **argv)
{
    struct cli cli;
    enum cli_parse p = cli_parse(&cli, argc, argv);
    if (p != CLI_RUN) {
        cli_free(&cli);
        return p == CLI_EXIT0 ? 0 : 2;
    }
    struct run run = {.cli = &cli, .out = stdout, .out_name = "stdout"};
    FILE *in_fp;
    int status = 2;
    if (open_input(&run, &in_fp) < 0)
        goto out;
    input_init(&run.in, cli.urls, cli.nurls, in_fp);
    /* Read whole before -o is opened: the previous run may be the file this one replaces. */
    struct compare previous;
    char why[256];
    if (cli.compare_path != NULL) {
        long long days = cli.checks.min_cert_days;
        if (compare_load(&previous, cli.compare_path, days, why, sizeof why) < 0) {
            fprintf(stderr, "salvo: %s\n", why);
            input_free(&run.in);
            goto out;
        }
        if (previous.skipped > 0)
            fprintf(stderr, "salvo: --compare: %zu lines of %s are not records; ignored\n",
                    previous.skipped, cli.compare_path);
        run.compare = &previous;
    }
    struct resume done;
    if (cli.resume) {
        if (resume_prepare(&done, cli.output_path, why, sizeof why) < 0) {
            fprintf(stderr, "salvo: %s\n", why);
            input_free(&run.in);
            goto out;
        }
        run.resume = &done;
        run.out_name = cli.output_path;
        if (check_list_unchanged(&run, in_fp) < 0) {
            input_free(&run.in);
            goto out;
        }
    }
    if (cli.output_path != NULL && cli.watch > 0) {
        run.out_name = cli.output_path; /* each round opens its own file */
    } else if (cli.output_path != NULL) {
        run.out = fopen(cli.output_path, cli.resume ? "a" : "w");
        run.out_name = cli.output_path;
        if (run.out == NULL) {
            fprintf(stderr, "salvo: cannot write %s: %s\n", cli.output_path, strerror(errno));
            input_free(&run.in);
            goto out;
        }
    }
    if (cli.output_dir != NULL && keep_check_dir(cli.output_dir) < 0) {
        fprintf(stderr, "salvo: --output-dir '%s': %s (see salvo --help)\n", cli.output_dir,
                strerror(errno));
        input_free(&run.in);
        goto out;
    }
    run.keep.body_max = (size_t)cli.body_max;
    run.keep.capture_max = run.keep.body_max;
    if (checks_want_body(&cli.checks) && run.keep.capture_max < CHECKS_BODY_MAX)
        run.keep.capture_max = CHECKS_BODY_MAX;
    run.keep.output_dir = cli.output_dir;
    run.keeping = run.keep.capture_max > 0 || cli.output_dir != NULL;
    run.keep_checked = run.keep;
    if (run.keep_checked.capture_max < CHECKS_BODY_MAX)
        run.keep_checked.capture_max = CHECKS_BODY_MAX;
    if (cli.trace_path != NULL) {
        run.trace = strcmp(cli.trace_path, "-") == 0 ? stderr : fopen(cli.trace_path, "w");
        if (run.trace == NULL) {
            fprintf(stderr, "salvo: cannot write %s: %s\n", cli.trace_path, strerror(errno));
            input_free(&run.in);
            goto out;
        }
    }
    if (cli.watch > 0) {
        install_signals();
        input_free(&run.in); /* each round has its own */
        status = run_watch(&run, &in_fp);
        goto closed;
    }
    if (report_open(&run.report, &cli, run.out, run.out_name, why, sizeof why) < 0) {
        fprintf(stderr, "salvo: %s\n", why);
        input_free(&run.in);
        goto out;
    }
    if (run.resume != NULL && resume_replay(cli.output_path, count_done, &run) < 0) {
        fprintf(stderr, "salvo: --resume: reading %s: %s\n", cli.output_path, strerror(errno));
        input_free(&run.in);
        report_free(run.report);
        goto out;
    }
    install_signals();
    int saved_flags = make_nonblocking(in_fp);
    status = run_engine(&run, in_fp);
    if (saved_flags >= 0)
        (void)fcntl(fileno(in_fp), F_SETFL, saved_flags);
    if (run.resume != NULL && fsync(fileno(run.out)) != 0 && status == 0) {
        fprintf(stderr, "salvo: writing %s: %s\n", run.out_name, strerror(errno));
        status = 1;
    }
    if (run.out != stdout && fclose(run.out) != 0 && status == 0) {
        fprintf(stderr, "salvo: writing %s: %s\n", run.out_name, strerror(errno));
        status = 1;
    }
    input_free(&run.in);
    report_free(run.report);
closed:
    if (run.trace != NULL && run.trace != stderr && fclose(run.trace) != 0 && status == 0) {
        fprintf(stderr, "salvo: writing %s: %s\n", cli.trace_path, strerror(errno));
        status = 1;
    }
out:
    if (run.compare != NULL)
        compare_free(run.compare);
    if (run.resume != NULL)
        resume_free(run.resume);
    if (in_fp != NULL && in_fp != stdin)
        fclose(in_fp);
    cli_free(&cli);
    return status;
}
