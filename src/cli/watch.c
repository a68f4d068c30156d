/*
 * watch.c -- rounds of a run (see watch.h).
 */
#include "watch.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Sleeps until deadline (run_clock), or until a signal asks to stop. SIGINT and SIGTERM
 * are blocked but during the wait itself (ppoll unblocks them atomically): one arriving
 * between the check and a plain sleep would otherwise go unseen until the deadline. */
static void sleep_until(double deadline)
{
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, &old);
    for (double left; !run_signal && (left = deadline - run_clock()) > 0;) {
        struct timespec ts = {.tv_sec = (time_t)left,
                              .tv_nsec = (long)((left - (double)(time_t)left) * 1e9)};
        ppoll(NULL, 0, &ts, &old); /* a signal ends it early: the loop looks again */
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
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
    int err = 0;
    if (whole && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
        err = errno;
    if (fclose(fp) != 0 && err == 0)
        err = errno;
    if (whole && err == 0 && rename(tmp, path) != 0)
        err = errno;
    if (whole && err == 0)
        return 0;
    if (whole)
        fprintf(stderr, "salvo: writing %s: %s\n", path, strerror(err));
    unlink(tmp);
    return whole ? -1 : 0;
}

/* One engine for every round; each round: the input from its start, a report of its own,
 * the engine run over it, FILE replaced; then a sleep until the next round's start. */
int watch_run(struct run *run, FILE **in_fp)
{
    const struct cli *c = run->cli;
    struct compare upcoming;
    char why[256], tmp[4096];
    int status = 0;
    if (run_start_engine(run) < 0)
        return 2;
    if (run->compare != NULL) {
        compare_init(&upcoming, c->checks.min_cert_days);
        run->compare_next = &upcoming;
    }
    for (uint64_t round = 1;; round++) {
        double start = run_clock();
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
            if (c->output_path != NULL)
                close_round_file(run->out, tmp, c->output_path, 0);
            run->out = stdout;
            status = 1;
            break;
        }
        if (round > 1)
            salvo_feed_again(run->engine);
        int rc = run_once(run);
        report_free(run->report);
        run->report = NULL;
        input_free(&run->in);
        int whole = rc == 0 && !run_signal && !run->write_failed;
        if (c->output_path != NULL && close_round_file(run->out, tmp, c->output_path, whole) < 0)
            run->write_failed = 1;
        run->out = stdout;
        if (rc < 0 || run_signal || run->in.count == 0 || run->write_failed) {
            status = rc < 0 || run->write_failed ? 1 : run_signal ? 128 + run_signal : 2;
            if (rc < 0)
                fprintf(stderr, "salvo: the event loop failed\n");
            else if (!run_signal && run->in.count == 0)
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
        double spent = run_clock() - start;
        if (spent >= c->watch)
            fprintf(stderr,
                    "salvo: round %llu took %.1f s, more than --watch %g: the next "
                    "starts now\n",
                    (unsigned long long)round, spent, c->watch);
        sleep_until(start + c->watch);
        if (run_signal) {
            status = 128 + run_signal;
            break;
        }
    }
    if (run->compare != NULL)
        compare_free(&upcoming);
    run->compare_next = NULL;
    run_stop_engine(run);
    return status;
}
