/*
 * json.h -- a small JSON reader for one input line (RFC 8259): objects, arrays, strings
 * (escapes and surrogate pairs decoded to UTF-8), numbers (kept as their text, since a
 * number stands where a flag's argument would), true, false and null. Bounded: nesting at
 * most JSON_MAX_DEPTH deep. Not a general library: what the command's input lines need.
 */
#ifndef SALVO_JSON_H
#define SALVO_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 8

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    int boolean;        /* JSON_BOOL */
    char *text;         /* JSON_STRING: the decoded text (NUL-terminated, may hold no NUL);
                           JSON_NUMBER: the number as written */
    struct json *items; /* JSON_ARRAY, JSON_OBJECT: the values */
    char **keys;        /* JSON_OBJECT: the member names, parallel to items */
    size_t n;           /* items (and keys) */
};

/* Parses s (the whole of it, white space around allowed) into *out. Returns 0, or -1 with
 * a one-line reason in why. Free *out with json_free either way. */
int json_parse(const char *s, struct json *out, char *why, size_t whylen);

/* The member named key of an object, NULL when absent (or v is no object). */
const struct json *json_get(const struct json *v, const char *key);

void json_free(struct json *v);

#endif
