/*
 * format_csv.h -- records as CSV (RFC 4180): a header row, then one row per record with
 * every field of the JSON record in the same order. null is an empty cell, a boolean
 * true or false, a number as JSON writes it, a string its text (an empty string is
 * written "" to tell it from null), an array or an object its compact JSON text. Fields
 * holding a comma, a quote or a line end are quoted, quotes doubled; rows end with CRLF.
 *
 * Each row is made from the JSON record that output.c writes, so the columns are always
 * the record's fields, in its order, whatever fields records gain.
 */
#ifndef SALVO_FORMAT_CSV_H
#define SALVO_FORMAT_CSV_H

#include <stdio.h>

#include <salvo.h>

#include "output.h"

struct csv {
    FILE *mem; /* the JSON record is written here first */
    char *json;
    size_t json_size;
    char *cell; /* one decoded string */
    size_t cell_cap;
};

/* Sets c up. Returns 0, or -1 when out of memory. */
int csv_open(struct csv *c);

/* The header row: the names of the record's fields. Returns 0, or -1 when the output
 * stream failed (errno says why). */
int csv_header(struct csv *c, FILE *out);

/* One row for r. Returns 0, or -1 when the output stream failed (errno says why). */
int csv_record(struct csv *c, FILE *out, const salvo_result_t *r, const struct output_extra *x);

void csv_free(struct csv *c);

#endif
