/*
 * redirect.h -- following 3xx answers (-L), as a pure function: from the URL that was
 * answered, the method and the answer (status, Location) to the next URL and what
 * changes on the way, or a classified refusal. RFC 9110 15.4 as browsers and curl apply
 * it. The caller applies the outcome to its request; nothing here knows a request.
 */
#ifndef SALVO_REDIRECT_H
#define SALVO_REDIRECT_H

#include <stddef.h>

#include "salvo.h"
#include "url.h"

/* Whether an answer is a redirect to follow: 301, 302, 303, 307 or 308 with a non-empty
 * Location. Any other answer, a 3xx without Location included, is final (RFC 9110
 * 15.4). */
int redirect_wanted(int status, const char *location);

struct redirect_in {
    const struct url *url;     /* the URL that was answered */
    const char *method;        /* the method it was asked with */
    int status;                /* the answer's status */
    const char *location;      /* its Location, as received */
    int location_conflict;     /* several different Location fields arrived */
    int redirects, max_redirs; /* followed so far; the limit */
};

struct redirect_out {
    char *next;       /* the absolute URL to fetch next (malloc'd, userinfo dropped) */
    struct url url;   /* next, parsed */
    int to_get;       /* the method becomes GET and the body is dropped (301/302 for
                         POST, 303 for everything but HEAD) */
    int cross_origin; /* another scheme, host or port: Authorization, Cookie and a
                         user's Host header must not follow */
};

/* Returns SALVO_E_OK with out filled (free it with redirect_out_free), or
 * SALVO_E_REDIRECT_LIMIT, SALVO_E_BAD_REDIRECT (an unusable Location, or several
 * different ones) or SALVO_E_RESOURCE with a reason in msg (any password in the
 * Location masked); out is then empty. */
salvo_err_t redirect_next(const struct redirect_in *in, struct redirect_out *out, char *msg,
                          size_t msglen);

void redirect_out_free(struct redirect_out *out);

#endif
