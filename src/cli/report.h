/*
 * report.h -- the output side of a run: each record written in the chosen format as it
 * completes, and at the end what the format and the user asked for (a summary, the
 * Prometheus exposition, the table's footer). main.c hands every record here and
 * nothing else writes to the output stream.
 */
#ifndef SALVO_REPORT_H
#define SALVO_REPORT_H

#include <stdio.h>

#include <salvo.h>

#include "cli.h"
#include "output.h"

struct report;

/* Opens the report for a run of c, writing records to out (named out_name in
 * messages). Returns 0, or -1 with a one-line reason in why. */
int report_open(struct report **rp, const struct cli *c, FILE *out, const char *out_name, char *why,
                size_t whylen);

/* One record, as it completes. Returns 0, or -1 when the output stream failed (errno
 * says why). */
int report_record(struct report *rp, const salvo_result_t *r, const struct output_extra *x);

/* The end of the run (interrupted: by a signal). Writes what comes at the end; returns
 * 0, or -1 when the output stream failed. */
int report_close(struct report *rp, int interrupted);

void report_free(struct report *rp);

#endif
