/*
 * output.h -- writers that turn results into records: JSON Lines (the contract of
 * CONTRACT.md, "Records"). Every record has every field; a field that does not apply is
 * null; every string is valid UTF-8 JSON whatever bytes it came from (invalid sequences
 * become U+FFFD, control characters are escaped).
 */
#ifndef SALVO_OUTPUT_H
#define SALVO_OUTPUT_H

#include <stdio.h>

#include "salvo.h"

/* Writes one JSON Lines record (with its trailing '\n') for r to fp, without flushing.
 * with_attempt_log: emit attempts_log as an array (else null). Returns 0, or -1 when
 * the stream reports an error. */
int output_json_record(FILE *fp, const salvo_result_t *r, int with_attempt_log);

/* Writes one --trace line for a state change: {"t_ms","index","from","to","detail"}.
 * Returns 0, or -1 when the stream reports an error. */
int output_json_transition(FILE *fp, const salvo_transition_t *t);

/* Writes s as a JSON string literal (quotes included), or null when s is NULL. Invalid
 * UTF-8 becomes U+FFFD; control characters are escaped. */
void output_json_string(FILE *fp, const char *s);

#endif
