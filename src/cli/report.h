/*
 * report.h -- the output side of a run: each record written in the chosen format as it
 * completes, and at the end what the format and the user asked for (a summary, the
 * Prometheus exposition, the table's footer). main.c hands every record here and
 * nothing else writes to the output stream.
 *
 * The report also owns what a person sees on a terminal's stderr while the run goes
 * on: the progress bar, redrawn from report_record at most 10 times a second, and the
 * summary at the end. Anything else that writes a line on stderr during the run calls
 * report_before_stderr first, so that the line does not land in the middle of the bar.
 *
 * Formats (--format): jsonl, the records as they are; csv, the same fields in the same
 * order as rows; table, columns for a person with the summary as its footer; prom, the
 * Prometheus text exposition, written whole at the end.
 */
#ifndef SALVO_REPORT_H
#define SALVO_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <salvo.h>

#include "cli.h"
#include "output.h"

struct report;

/* Opens the report for a run of c, writing records to out (named out_name in
 * messages). Starts the run's clock. Returns 0, or -1 with a one-line reason in why. */
int report_open(struct report **rp, const struct cli *c, FILE *out, const char *out_name, char *why,
                size_t whylen);

/* One record, as it completes (r->ok already says whether it passed its checks).
 * Returns 0, or -1 when the output stream failed (errno says why, EPIPE when the reader
 * of a pipe has gone; the progress bar is already erased for a message). */
int report_record(struct report *rp, const salvo_result_t *r, const struct output_extra *x);

/* Hands the records written since the last call to the kernel: once per batch of
 * completions, so that a user tailing the output sees each result as it happens. Returns
 * 0, or -1 as report_record. */
int report_flush(struct report *rp);

/* The input has ended after `urls` URLs: the progress bar shows done / total from now
 * on. (A run whose URLs are all arguments knows its total from the start.) */
/* Counts a record written by an earlier run (--resume) in the summary, without writing
 * it again. */
void report_count(struct report *rp, const salvo_result_t *r, const struct output_extra *x);

void report_input_end(struct report *rp, uint64_t urls);

/* Erases the progress bar, if one is drawn, before a line is written on stderr; the
 * next record draws it again. */
void report_before_stderr(struct report *rp);

/* The end of the run (interrupted: by a signal; what was written stays valid: csv rows
 * are whole, the prom exposition is written whole). Erases the progress bar, writes
 * what comes at the end (the exposition, the table's footer) and the summary on stderr
 * when it is due; returns 0, or -1 when the output stream failed. */
int report_close(struct report *rp, int interrupted);

void report_free(struct report *rp);

#endif
