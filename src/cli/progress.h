/*
 * progress.h -- the progress bar on a terminal's stderr: done / total (done alone while
 * the total is not known), rate, failures, elapsed. One line, rewritten in place
 * ("\r", the text, erase to the end of the line), cut to the terminal's width so that it
 * never wraps; redrawn at most 10 times a second; erased before anything else is
 * written to the terminal and at the end.
 *
 * It is drawn when a record arrives: nothing redraws it while no request finishes.
 */
#ifndef SALVO_PROGRESS_H
#define SALVO_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#define PROGRESS_INTERVAL 0.1 /* seconds between two redraws, at least */

struct progress {
    FILE *fp;         /* the terminal (stderr) */
    double start;     /* the run's start, monotonic seconds */
    double last_draw; /* when it was last drawn; < 0: never */
    int drawn;        /* the line holds the bar now */
    uint64_t total;   /* URLs in the input, when total_known */
    int total_known;
};

void progress_init(struct progress *p, FILE *fp, double start);

/* The input's URLs, once its end is known. */
void progress_set_total(struct progress *p, uint64_t total);

/* Draws the bar, unless it was drawn less than PROGRESS_INTERVAL ago (then a bar that
 * was erased meanwhile stays erased until a later tick). */
void progress_tick(struct progress *p, uint64_t done, uint64_t failed, double now);

/* Erases the bar (the line is empty again), when it is drawn. */
void progress_erase(struct progress *p);

/* Monotonic seconds, for start and now. */
double progress_now(void);

#endif
