/*
 * record_in.h -- reading back a record salvo wrote (a JSON Lines line): what --compare
 * and --resume need of a previous run. Fields a later version may add are ignored; a
 * field that is missing or of another type reads as null.
 */
#ifndef SALVO_RECORD_IN_H
#define SALVO_RECORD_IN_H

#include <stdint.h>

#include <salvo.h>

#include "json.h"

struct record_in {
    struct json doc;        /* the parsed line; the strings below point into it */
    uint64_t index;         /* "index" */
    const char *url;        /* "url" */
    const char *name;       /* "name", NULL when null */
    int ok;                 /* "ok" */
    int status;             /* "status", 0 when null */
    salvo_err_t error;      /* "error": SALVO_E_OK when null, SALVO_E_COUNT when unknown */
    int cancelled;          /* "error" is "cancelled" */
    unsigned checks_failed; /* "checks_failed" as bits (1 << enum check) */
    int checked;            /* "checks_failed" is an array */
    int has_cert_days;      /* "cert_days_left" is a number */
    long long cert_days_left;
    uint64_t bytes;  /* "bytes" */
    double total_ms; /* "total_ms", < 0 when null */
};

/* Parses one line. Returns 0 when it is a record (an object with a whole-number index,
 * a url and ok), -1 when it is not. record_in_free either way. */
int record_in_parse(struct record_in *r, const char *line);

void record_in_free(struct record_in *r);

#endif
