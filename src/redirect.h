/*
 * redirect.h -- following 3xx answers (-L): the new URL, the method and body rules of
 * RFC 9110 15.4 as browsers and curl apply them, and the credentials that must not
 * follow a redirect to another host.
 */
#ifndef SALVO_REDIRECT_H
#define SALVO_REDIRECT_H

#include <stddef.h>

#include "http1.h"
#include "salvo.h"

struct req;

/* Whether a whole response is a redirect to follow: a redirect status with a Location.
 * A 3xx without one (or with an empty one) is a final response (RFC 9110 15.4). */
int redirect_wanted(const struct http1 *resp);

/* Points r at the Location of a redirect response: resolves it against r's URL, switches
 * 301/302/303 to GET without a body (303 for every method but HEAD; 301/302 for POST),
 * keeps method and body for 307/308, and drops Authorization, Cookie and a user's Host
 * when the origin (scheme, host or port) changes. Returns SALVO_E_OK, or
 * SALVO_E_BAD_REDIRECT (an unusable Location, or several different ones) /
 * SALVO_E_REDIRECT_LIMIT / SALVO_E_RESOURCE with the reason in msg; r is unchanged on
 * failure. */
salvo_err_t redirect_apply(struct req *r, const struct http1 *resp, char *msg, size_t msglen);

#endif
