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

#include "checks.h"
#include "compare.h"

/* What a record holds besides the result: the flags that fill fields, and what the
 * command kept of the response. */
struct output_extra {
    int attempt_log;        /* emit attempts_log as an array (else null) */
    int headers;            /* emit headers from the result (else null) */
    const char *body;       /* --body: the first bytes, NUL after them; NULL: null */
    size_t body_len;        /* their count */
    const char *body_file;  /* --output-dir: the saved file, NULL: null */
    const char *name;       /* a JSON input line's name, NULL: null */
    unsigned checks_failed; /* bits (1 << enum check) of the failed checks */
    int checked;            /* the checks ran (a whole response): else checks_failed null */
    uint64_t round;         /* --watch: the round, 1, 2, ...; 0: null */
    enum change change;     /* --compare: what changed; CHANGE_NONE: null */
};

/* Writes one JSON Lines record (with its trailing '\n') for r to fp, without flushing.
 * x may be NULL (every extra field null). Returns 0, or -1 when the stream reports an
 * error. */
int output_json_record(FILE *fp, const salvo_result_t *r, const struct output_extra *x);

/* Writes one --trace line for a state change: {"t_ms","index","from","to","detail"}.
 * Returns 0, or -1 when the stream reports an error. */
int output_json_transition(FILE *fp, const salvo_transition_t *t);

/* The length of the well-formed UTF-8 sequence at s (1 to 4; s is NUL-terminated), or 0
 * when it is ill-formed, and then *bad is how many bytes one U+FFFD replaces (at least
 * 1): the maximal-subpart rule every format uses. */
size_t output_utf8_seq(const unsigned char *s, size_t *bad);

/* Writes s as a JSON string literal (quotes included), or null when s is NULL. Invalid
 * UTF-8 becomes U+FFFD; control characters are escaped. */
void output_json_string(FILE *fp, const char *s);

#endif
