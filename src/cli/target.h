/*
 * target.h -- an input line that is a JSON object: one request with its own method,
 * headers, body, name and checks (a monitoring config is a JSON Lines file). Its headers
 * are added to -H, the line winning on the same name; a body implies POST unless a
 * method is given; its checks take the place of the flags' for that line. Values are
 * written as the flags' arguments would be; a JSON number is taken where a flag takes a
 * number. Unknown keys are ignored.
 */
#ifndef SALVO_TARGET_H
#define SALVO_TARGET_H

#include <stddef.h>

#include <salvo.h>

#include "checks.h"
#include "cli.h"
#include "json.h"

struct target {
    struct json doc;      /* the parsed line; the strings below point into it */
    const char *url;      /* required */
    salvo_request_t req;  /* method, headers (merged with -H) and body to submit */
    const char **headers; /* the merged header lines (malloc'd array) */
    char **own;           /* "Name: value" lines made from a headers object */
    size_t nown;
    char *name;            /* the line's name (malloc'd; the caller may take it) */
    struct checks *checks; /* the line's own checks (malloc'd; may be taken); NULL: none */
};

/* Reads line (which starts with '{') against the command's flags c. Returns 0, or -1 with
 * a one-line reason in why (the line gets a bad_input record). target_free either way. */
int target_parse(struct target *t, const char *line, const struct cli *c, char *why, size_t whylen);

void target_free(struct target *t);

#endif
