/*
 * watch.h -- --watch SEC: the input again every SEC seconds (start to start) on one
 * engine, so that connections, TLS sessions and the DNS cache stay warm, until a signal.
 * Each round has its own report (records carrying their round, a summary) and, with
 * -o FILE, replaces FILE whole: its records go to a temporary file next to FILE, which is
 * fsync'd and renamed over it, so a reader only ever sees a whole round. With --compare,
 * the first round is compared with FILE and each later one with the round before it.
 */
#ifndef SALVO_WATCH_H
#define SALVO_WATCH_H

#include <stdio.h>

#include "run.h"

/* Runs the rounds; *in_fp is -i FILE's stream, opened again each round (it may have been
 * edited). Returns the exit status: the last whole round's, or 128 + the signal. */
int watch_run(struct run *run, FILE **in_fp);

#endif
