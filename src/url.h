/*
 * url.h -- parsing of absolute http(s) URLs (llhttp 8 has no URL parser).
 *
 * Accepts what users paste: a scheme (case-insensitive), an optional userinfo (ignored
 * for the request, never sent), a host name, an IPv4 literal or a bracketed IPv6
 * literal, an optional port, then the path and query. The fragment is dropped. The
 * host is lower-cased and loses one trailing dot for lookups, SNI and pooling; the
 * request target keeps the path and query bytes as given, with spaces, control bytes
 * and bytes >= 0x80 percent-encoded so that a request line can never be split.
 */
#ifndef SALVO_URL_H
#define SALVO_URL_H

#include <stddef.h>
#include <stdint.h>

#include "salvo.h"

/* host, target and authority share one allocation, which starts at host: url_free frees
 * it, and none of the three may be freed or replaced on its own. */
struct url {
    int tls;            /* https */
    const char *scheme; /* "http" or "https" (a constant) */
    char *host;         /* lower case, no brackets, no trailing dot */
    int host_is_ip;     /* 4 or 6 for an IP literal, 0 for a name */
    uint16_t port;      /* explicit or the scheme's default */
    int port_explicit;  /* the URL named a port */
    char *target;       /* origin-form request target: "/path?query", at least "/" */
    char *authority;    /* value for the Host header: host[:port], IPv6 in brackets */
};

/* Parses s into u. Returns SALVO_E_OK, SALVO_E_BAD_URL or SALVO_E_UNSUPPORTED_SCHEME
 * with a reason in err (always NUL-terminated). On success free u with url_free. */
salvo_err_t url_parse(const char *s, struct url *u, char *err, size_t errlen);

/* Whether the NUL-terminated s is a dotted-quad IPv4 address, exactly as
 * inet_pton(AF_INET) would accept it. */
int url_is_ipv4(const char *s);

/* Resolves a reference (a Location header value) against base, RFC 3986 section 5.
 * Returns a malloc'd absolute URL string, or NULL when ref is not usable. */
char *url_resolve(const struct url *base, const char *ref);

/* Formats u back as an absolute URL (malloc'd), or NULL on OOM. */
char *url_format(const struct url *u);

/* A password in s's userinfo ("user:pass@") replaced by "***", for records and messages:
 * 0 with *out malloc'd, 0 with *out NULL when s holds no password, or -ENOMEM. */
int url_mask_password(const char *s, char **out);

/* Percent-decodes [p, p + n) (a userinfo's user name or password) into a malloc'd
 * string; a '%' not followed by two hex digits stays as it is. NULL on OOM or when the
 * result would hold a NUL byte. */
char *url_percent_decode(const char *p, size_t n);

void url_free(struct url *u);

#endif
