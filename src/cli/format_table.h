/*
 * format_table.h -- records as aligned columns for a person: index, status, result (ok,
 * the error class, or the failed checks), total ms, bytes, url. Rows are written as
 * records complete; the report adds the summary as the table's footer. Colour (green
 * ok, red errors, yellow failed checks) only when the caller says so: on a terminal,
 * and never when NO_COLOR is set. Control characters and invalid UTF-8 in a URL are
 * shown escaped, never sent to the terminal as they are.
 */
#ifndef SALVO_FORMAT_TABLE_H
#define SALVO_FORMAT_TABLE_H

#include <stdio.h>

#include <salvo.h>

#include "output.h"

/* The header row. Returns 0, or -1 when the stream failed. */
int table_header(FILE *out, int colour);

/* One row for r. Returns 0, or -1 when the stream failed. */
int table_row(FILE *out, const salvo_result_t *r, const struct output_extra *x, int colour);

#endif
