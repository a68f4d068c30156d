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
#include "run.h"
#include "shard.h"
#include "target.h"
#include "watch.h"

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

static int run_engine(struct run *run, FILE *in_fp)
{
    if (run_start_engine(run) < 0)
        return 2;
    int rc = run_once(run);
    run_stop_engine(run);
    if (rc < 0) {
        fprintf(stderr, "salvo: the event loop failed\n");
        return 1;
    }
    if (run->list_changed)
        return 2;
    if (run_signal) {
        report_unread(run, in_fp);
        return 128 + run_signal;
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
        rc = run_check_line(run, line, index);
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

/* The records' stream buffer. Records reach the kernel once per loop pass (report_flush);
 * stdio's default 4 KiB would make that a write per 4 KiB instead, a fifth of a syscall per
 * record at keep-alive rates. Static, because the stream outlives main's locals (stdout
 * is flushed at exit); it serves one stream, stdout or -o's file (--watch -o writes each
 * round's file with stdio's own buffer). */
static char records_buf[1 << 16];

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
    /* Before anything is written to it. A terminal keeps its line buffering: records show
     * as they come. */
    if (!isatty(fileno(run.out)))
        (void)setvbuf(run.out, records_buf, _IOFBF, sizeof records_buf);
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
    struct stat in_st;
    if (cli.watch > 0 && in_fp != NULL &&
        (fstat(fileno(in_fp), &in_st) < 0 || !S_ISREG(in_st.st_mode))) {
        /* Each round reads the input from its start again: a pipe cannot be. */
        fprintf(stderr, "salvo: --watch needs -i to name a regular file (see salvo --help)\n");
        input_free(&run.in);
        goto closed;
    }
    if (cli.watch > 0) {
        run_install_signals();
        input_free(&run.in); /* each round has its own */
        status = watch_run(&run, &in_fp);
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
    run_install_signals();
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
