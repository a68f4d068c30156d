/*
 * checks.c -- the checks of a whole response. See checks.h.
 */
#include "checks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const names[CHECK_COUNT] = {
    [CHECK_STATUS] = "status",   [CHECK_HEADER] = "header", [CHECK_BODY] = "body",
    [CHECK_LATENCY] = "latency", [CHECK_CERT] = "cert",
};

const char *checks_name(enum check k)
{
    return k < CHECK_COUNT ? names[k] : "?";
}

void checks_init(struct checks *c)
{
    memset(c, 0, sizeof *c);
    c->status[0] = (struct status_range){100, 399};
    c->nstatus = 1;
    c->max_latency_ms = -1;
    c->min_cert_days = -1;
}

void checks_free(struct checks *c)
{
    for (size_t i = 0; i < c->nheader; i++) {
        free(c->header[i].name);
        regfree(&c->header[i].re);
    }
    c->nheader = 0;
    if (c->has_body)
        regfree(&c->body);
    c->has_body = 0;
}

/* A status code: three digits, 100 to 599. */
static int parse_code(const char *s, const char **end)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno || e == s || v < 100 || v > 599)
        return -1;
    *end = e;
    return (int)v;
}

int checks_set_status(struct checks *c, const char *list, char *why, size_t whylen)
{
    const char *p = list;
    size_t n = 0;
    while (*p != '\0') {
        const char *e;
        int lo = parse_code(p, &e), hi = lo;
        if (lo >= 0 && *e == '-')
            hi = parse_code(e + 1, &e);
        if (lo < 0 || hi < lo || (*e != ',' && *e != '\0') || n == CHECKS_STATUS_MAX) {
            snprintf(why, whylen, "expected statuses or ranges like 200,204,301-308");
            return -1;
        }
        c->status[n++] = (struct status_range){lo, hi};
        p = *e == ',' ? e + 1 : e;
        if (*e == ',' && *p == '\0') {
            snprintf(why, whylen, "a trailing comma");
            return -1;
        }
    }
    if (n == 0) {
        snprintf(why, whylen, "an empty list");
        return -1;
    }
    c->nstatus = n;
    c->has_status = 1;
    return 0;
}

/* Compiles re as the contract says: POSIX extended, ^ and $ at line ends. */
static int compile(regex_t *re, const char *src, char *why, size_t whylen)
{
    int rc = regcomp(re, src, REG_EXTENDED | REG_NEWLINE | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, re, msg, sizeof msg);
        snprintf(why, whylen, "not a regular expression: %s", msg);
        return -1;
    }
    return 0;
}

int checks_add_header(struct checks *c, const char *spec, char *why, size_t whylen)
{
    const char *colon = strchr(spec, ':');
    if (colon == NULL || colon == spec) {
        snprintf(why, whylen, "expected 'Name: REGEX'");
        return -1;
    }
    if (c->nheader == CHECKS_HEADER_MAX) {
        snprintf(why, whylen, "at most %d header checks", CHECKS_HEADER_MAX);
        return -1;
    }
    const char *re = colon + 1;
    while (*re == ' ' || *re == '\t')
        re++;
    struct header_check *h = &c->header[c->nheader];
    if (compile(&h->re, re, why, whylen) < 0)
        return -1;
    h->name = strndup(spec, (size_t)(colon - spec));
    if (h->name == NULL) {
        regfree(&h->re);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    c->nheader++;
    return 0;
}

int checks_set_body(struct checks *c, const char *regex, char *why, size_t whylen)
{
    if (c->has_body)
        regfree(&c->body);
    c->has_body = 0;
    if (compile(&c->body, regex, why, whylen) < 0)
        return -1;
    c->has_body = 1;
    return 0;
}

int checks_want_headers(const struct checks *c)
{
    return c->nheader > 0;
}

int checks_want_body(const struct checks *c)
{
    return c->has_body;
}

static int status_ok(const struct checks *c, int status)
{
    for (size_t i = 0; i < c->nstatus; i++)
        if (status >= c->status[i].lo && status <= c->status[i].hi)
            return 1;
    return 0;
}

/* Every --expect-header names a field that is present and one of whose values matches. */
static int headers_ok(const struct checks *c, const salvo_result_t *r)
{
    for (size_t i = 0; i < c->nheader; i++) {
        int found = 0;
        for (size_t j = 0; j < r->headers_len && !found; j++)
            found = strcasecmp(r->headers[j].name, c->header[i].name) == 0 &&
                    regexec(&c->header[i].re, r->headers[j].value, 0, NULL, 0) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

/* Seconds since the epoch of an ISO-8601 UTC time as the records write it, or -1. */
static int64_t parse_iso(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
        return -1;
    return (int64_t)timegm(&tm);
}

/* Whole days from now to the earlier of the leaf's and the chain's expiry. */
static int cert_ok(const struct checks *c, const salvo_result_t *r, int64_t now)
{
    if (r->cert_expiry == NULL)
        return 1; /* no TLS: nothing to expire */
    int64_t leaf = parse_iso(r->cert_expiry), chain = parse_iso(r->chain_expiry);
    int64_t earliest = chain >= 0 && chain < leaf ? chain : leaf;
    if (earliest < 0)
        return 0;
    int64_t secs = earliest - now;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    return days >= c->min_cert_days;
}

unsigned checks_run_over(const struct checks *c, const struct checks *over, const salvo_result_t *r,
                         const char *body, int64_t now)
{
    unsigned failed = 0;
    if (r->error != SALVO_E_OK)
        return 0;
    /* Each check from the line when it sets it, else from the flags. */
    const struct checks *st = over && over->has_status ? over : c;
    const struct checks *hd = over && over->nheader > 0 ? over : c;
    const struct checks *bd = over && over->has_body ? over : c;
    const struct checks *lt = over && over->max_latency_ms >= 0 ? over : c;
    const struct checks *ct = over && over->min_cert_days >= 0 ? over : c;
    if (!status_ok(st, r->status))
        failed |= 1u << CHECK_STATUS;
    if (hd->nheader > 0 && !headers_ok(hd, r))
        failed |= 1u << CHECK_HEADER;
    if (bd->has_body && regexec(&bd->body, body ? body : "", 0, NULL, 0) != 0)
        failed |= 1u << CHECK_BODY;
    if (lt->max_latency_ms >= 0 && r->total_ms > lt->max_latency_ms)
        failed |= 1u << CHECK_LATENCY;
    if (ct->min_cert_days >= 0 && !cert_ok(ct, r, now))
        failed |= 1u << CHECK_CERT;
    return failed;
}

unsigned checks_run(const struct checks *c, const salvo_result_t *r, const char *body, int64_t now)
{
    return checks_run_over(c, NULL, r, body, now);
}
