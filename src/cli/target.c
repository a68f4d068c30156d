/*
 * target.c -- JSON input lines as requests. See target.h.
 */
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A value that stands for a flag's argument: a string, or a number's text. */
static const char *arg_of(const struct json *v)
{
    if (v == NULL)
        return NULL;
    return v->type == JSON_STRING || v->type == JSON_NUMBER ? v->text : NULL;
}

static int bad(char *why, size_t whylen, const char *key, const char *what)
{
    snprintf(why, whylen, "\"%s\": %s", key, what);
    return -1;
}

/* The name of a "Name: value" line, for comparing. */
static size_t name_len(const char *line)
{
    const char *colon = strchr(line, ':');
    return colon ? (size_t)(colon - line) : strlen(line);
}

static int same_name(const char *a, const char *b)
{
    size_t n = name_len(a);
    return n == name_len(b) && strncasecmp(a, b, n) == 0;
}

/* The line's header lines ("headers": an object or an array of "Name: value"). Object
 * members become "Name: value" strings kept in *own (to free). */
static int line_headers(const struct json *h, const char ***lines, size_t *n, char ***own,
                        char *why, size_t whylen)
{
    *lines = NULL;
    *own = NULL;
    *n = 0;
    if (h == NULL || h->type == JSON_NULL)
        return 0;
    if (h->type != JSON_OBJECT && h->type != JSON_ARRAY)
        return bad(why, whylen, "headers", "an object or an array of \"Name: value\"");
    *lines = calloc(h->n ? h->n : 1, sizeof **lines);
    *own = calloc(h->n ? h->n : 1, sizeof **own);
    if (*lines == NULL || *own == NULL)
        return bad(why, whylen, "headers", "out of memory");
    for (size_t i = 0; i < h->n; i++) {
        const struct json *v = &h->items[i];
        if (h->type == JSON_ARRAY) {
            if (v->type != JSON_STRING)
                return bad(why, whylen, "headers", "an array of \"Name: value\" strings");
            (*lines)[(*n)++] = v->text;
            continue;
        }
        const char *val = arg_of(v);
        if (val == NULL)
            return bad(why, whylen, "headers", "values must be strings");
        if (asprintf(&(*own)[i], "%s: %s", h->keys[i], val) < 0) {
            (*own)[i] = NULL;
            return bad(why, whylen, "headers", "out of memory");
        }
        (*lines)[(*n)++] = (*own)[i];
    }
    return 0;
}

/* The line's own checks, when it sets any. */
static int line_checks(struct target *t, char *why, size_t whylen)
{
    const struct json *d = &t->doc;
    const struct json *st = json_get(d, "expect_status"), *bd = json_get(d, "expect_body");
    const struct json *hd = json_get(d, "expect_header"), *lt = json_get(d, "max_latency");
    const struct json *ct = json_get(d, "min_cert_days");
    if (!st && !bd && !hd && !lt && !ct)
        return 0;
    struct checks *c = malloc(sizeof *c);
    if (c == NULL)
        return bad(why, whylen, "checks", "out of memory");
    checks_init(c);
    c->max_latency_ms = -1;
    c->min_cert_days = -1;
    t->checks = c;
    char w[160];
    if (st && (arg_of(st) == NULL || checks_set_status(c, arg_of(st), w, sizeof w) < 0))
        return bad(why, whylen, "expect_status", arg_of(st) ? w : "a list such as \"200,301-308\"");
    if (bd && (bd->type != JSON_STRING || checks_set_body(c, bd->text, w, sizeof w) < 0))
        return bad(why, whylen, "expect_body", bd->type == JSON_STRING ? w : "a string");
    if (hd) {
        if (hd->type != JSON_ARRAY)
            return bad(why, whylen, "expect_header", "an array of \"Name: REGEX\" strings");
        for (size_t i = 0; i < hd->n; i++)
            if (hd->items[i].type != JSON_STRING ||
                checks_add_header(c, hd->items[i].text, w, sizeof w) < 0)
                return bad(why, whylen, "expect_header",
                           hd->items[i].type == JSON_STRING ? w : "strings");
    }
    if (lt) {
        char *end;
        double secs = arg_of(lt) ? strtod(arg_of(lt), &end) : -1;
        if (arg_of(lt) == NULL || *end != '\0' || !(secs > 0) || secs > 31536000)
            return bad(why, whylen, "max_latency", "a number of seconds above 0");
        c->max_latency_ms = secs * 1000.0;
    }
    if (ct) {
        char *end;
        long days = arg_of(ct) ? strtol(arg_of(ct), &end, 10) : -1;
        if (arg_of(ct) == NULL || *end != '\0' || days < 0 || days > 100000)
            return bad(why, whylen, "min_cert_days", "a whole number of days");
        c->min_cert_days = days;
    }
    return 0;
}

int target_parse(struct target *t, const char *line, const struct cli *c, char *why, size_t whylen)
{
    memset(t, 0, sizeof *t);
    if (json_parse(line, &t->doc, why, whylen) < 0)
        return -1;
    if (t->doc.type != JSON_OBJECT) {
        snprintf(why, whylen, "a JSON input line must be an object");
        return -1;
    }
    const struct json *url = json_get(&t->doc, "url");
    if (url == NULL || url->type != JSON_STRING)
        return bad(why, whylen, "url", "a string is required");
    t->url = url->text;
    const struct json *name = json_get(&t->doc, "name");
    if (name != NULL && name->type != JSON_NULL) {
        if (arg_of(name) == NULL)
            return bad(why, whylen, "name", "a string");
        if ((t->name = strdup(arg_of(name))) == NULL)
            return bad(why, whylen, "name", "out of memory");
    }
    /* Method and body: the line's, else the flags'; a body implies POST. */
    t->req = c->req;
    const struct json *body = json_get(&t->doc, "body"), *method = json_get(&t->doc, "method");
    if (body != NULL && body->type != JSON_NULL) {
        if (body->type != JSON_STRING)
            return bad(why, whylen, "body", "a string");
        t->req.body = body->text;
        t->req.body_len = strlen(body->text);
        if (c->req.method == NULL)
            t->req.method = "POST";
    }
    if (method != NULL && method->type != JSON_NULL) {
        if (method->type != JSON_STRING)
            return bad(why, whylen, "method", "a string");
        t->req.method = method->text;
    }
    /* Headers: the flags' except those the line names again, then the line's. */
    const char **own_lines;
    char **own;
    size_t nown;
    int rc = line_headers(json_get(&t->doc, "headers"), &own_lines, &nown, &own, why, whylen);
    if (rc == 0) {
        t->headers = calloc(c->req.headers_len + nown + 1, sizeof *t->headers);
        if (t->headers == NULL)
            rc = bad(why, whylen, "headers", "out of memory");
    }
    if (rc == 0) {
        size_t n = 0;
        for (size_t i = 0; i < c->req.headers_len; i++) {
            size_t j;
            for (j = 0; j < nown && !same_name(c->req.headers[i], own_lines[j]); j++)
                ;
            if (j == nown)
                t->headers[n++] = c->req.headers[i];
        }
        for (size_t j = 0; j < nown; j++)
            t->headers[n++] = own_lines[j];
        t->req.headers = t->headers;
        t->req.headers_len = n;
    }
    free(own_lines);
    /* The "Name: value" strings made from an object live as long as the target. */
    t->own = own;
    t->nown = nown;
    if (rc < 0)
        return -1;
    char w[192];
    if (salvo_request_check(&t->req, w, sizeof w) < 0) {
        snprintf(why, whylen, "%s", w);
        return -1;
    }
    return line_checks(t, why, whylen);
}

void target_free(struct target *t)
{
    for (size_t j = 0; j < t->nown; j++)
        free(t->own[j]);
    free(t->own);
    free(t->headers);
    free(t->name);
    if (t->checks != NULL) {
        checks_free(t->checks);
        free(t->checks);
    }
    json_free(&t->doc);
    memset(t, 0, sizeof *t);
}
