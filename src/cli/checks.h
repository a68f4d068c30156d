/*
 * checks.h -- what "up" means for a URL: the checks a whole response must pass besides
 * having arrived (--expect-status, --expect-header, --expect-body, --max-latency,
 * --min-cert-days). A record's `error` stays the transport's story; `checks_failed`
 * names the checks this response failed, in a fixed order, and `ok` is true only when
 * there is no error and no failed check.
 *
 * The status check always runs (100-399 by default); the others run when asked for. The
 * body check sees the first CHECKS_BODY_MAX decoded bytes, the only part kept for it.
 */
#ifndef SALVO_CHECKS_H
#define SALVO_CHECKS_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include <salvo.h>

#define CHECKS_BODY_MAX   (1u << 20) /* body bytes the body check looks at */
#define CHECKS_STATUS_MAX 32         /* ranges in an --expect-status list */
#define CHECKS_HEADER_MAX 32         /* --expect-header flags */

enum check {
    CHECK_STATUS,  /* "status" */
    CHECK_HEADER,  /* "header" */
    CHECK_BODY,    /* "body" */
    CHECK_LATENCY, /* "latency" */
    CHECK_CERT,    /* "cert" */
    CHECK_COUNT
};

struct status_range {
    int lo, hi;
};

struct header_check {
    char *name; /* the field's name (compared case-insensitively) */
    regex_t re; /* what its value must match */
};

struct checks {
    struct status_range status[CHECKS_STATUS_MAX]; /* ranges that pass */
    size_t nstatus;
    int has_status; /* set explicitly (an input line's own overrides the flags') */
    struct header_check header[CHECKS_HEADER_MAX];
    size_t nheader;
    regex_t body; /* --expect-body */
    int has_body;
    double max_latency_ms; /* < 0: no latency check */
    int64_t min_cert_days; /* < 0: no certificate check */
};

/* Defaults: status 100-399, nothing else. */
void checks_init(struct checks *c);
void checks_free(struct checks *c);

/* Parsers for the flags' values; each returns 0, or -1 with a reason in why. */
int checks_set_status(struct checks *c, const char *list, char *why, size_t whylen);
int checks_add_header(struct checks *c, const char *spec, char *why, size_t whylen);
int checks_set_body(struct checks *c, const char *regex, char *why, size_t whylen);

/* Whether the checks need the response's header fields, or its first body bytes. */
int checks_want_headers(const struct checks *c);
int checks_want_body(const struct checks *c);

/* The checks r failed, as bits (1 << enum check). body is the first body bytes kept
 * (NUL after them), NULL when none were; now is the current time, for certificates. A
 * result with an error fails none: it has no whole response to check. */
unsigned checks_run(const struct checks *c, const salvo_result_t *r, const char *body, int64_t now);

/* The same with an input line's own checks (over, may be NULL) taking the place of the
 * flags' (c) for every check the line sets. */
unsigned checks_run_over(const struct checks *c, const struct checks *over, const salvo_result_t *r,
                         const char *body, int64_t now);

/* The stable name of a check ("status", "header", ...). */
const char *checks_name(enum check k);

#endif
