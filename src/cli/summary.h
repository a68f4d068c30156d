/*
 * summary.h -- the summary of a run, for a person: records, ok / not ok, counts per
 * status class and per error class (and per failed check), latency percentiles of
 * total_ms, bytes, wall time and requests per second. The report prints it on stderr
 * at the end of a run (or as the table's footer).
 *
 * Its counts are those of the records handed to summary_add, so they equal the records
 * written. The latencies are kept as one float (4 bytes) per record that got a slot, so
 * that the percentiles are exact (nearest rank) rather than a histogram's estimate: 4 MB
 * for a million records.
 */
#ifndef SALVO_SUMMARY_H
#define SALVO_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include <salvo.h>

#include "checks.h"
#include "compare.h"
#include "output.h"

struct summary {
    uint64_t records;
    uint64_t not_ok;
    uint64_t status[10]; /* [status / 100], [0]: no status */
    uint64_t errors[SALVO_E_COUNT];
    uint64_t checks[CHECK_COUNT]; /* records that failed each check */
    uint64_t bytes;
    int compared;                   /* --compare: write the changes line */
    uint64_t changes[CHANGE_COUNT]; /* records per change ([CHANGE_NONE]: unchanged) */
    float *lat;                     /* total_ms of each record that got a slot */
    size_t nlat, lat_cap;
    int lat_lost; /* a latency could not be kept (out of memory): percentiles say so */
};

void summary_init(struct summary *s);

/* Counts one record written (r->ok set after the checks; x may be NULL). */
void summary_add(struct summary *s, const salvo_result_t *r, const struct output_extra *x);

/* Writes the summary, a few lines, to fp; wall_s is the run's wall time in seconds;
 * colour: with terminal colours. Sorts the latencies (summary_add may go on after). */
void summary_write(struct summary *s, FILE *fp, double wall_s, int colour);

void summary_free(struct summary *s);

#endif
