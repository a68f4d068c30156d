/*
 * run.h -- one invocation of the command: the state its engine callbacks share (through
 * their user pointer), and the steps main.c and watch.c run it with. main.c owns the
 * record path (feed, submit, write) and a single run; watch.c repeats runs in rounds.
 */
#ifndef SALVO_RUN_H
#define SALVO_RUN_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include <salvo.h>

#include "cli.h"
#include "compare.h"
#include "input.h"
#include "keep.h"
#include "report.h"
#include "resume.h"

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

/* The signal (SIGINT, SIGTERM) that asked the run to stop; 0 while none did. */
extern volatile sig_atomic_t run_signal;

/* Seconds on the monotonic clock. */
double run_clock(void);

/* SIGINT and SIGTERM cancel the engine that runs (run_signal says which came); SIGPIPE
 * is ignored, so that a closed output is a write error. */
void run_install_signals(void);

/* --resume: 0 when FILE has no record for this input line or one made from it; -1, said
 * on stderr, when its record is another URL's: the input changed under FILE. */
int run_check_line(struct run *run, const char *line, uint64_t index);

/* Creates run->engine, fed from run->in. Returns 0, or -1 (said on stderr). */
int run_start_engine(struct run *run);

/* Runs the engine until the input is done (or a signal), then closes run->report.
 * Returns salvo_run's result. */
int run_once(struct run *run);

/* --stats, then frees the engine. */
void run_stop_engine(struct run *run);

#endif
