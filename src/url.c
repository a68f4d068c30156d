/*
 * url.c -- parsing, formatting and reference resolution of absolute http(s) URLs.
 *
 * The parser works on the string in place with pointer ranges and allocates only the
 * fields of struct url, so a failed parse leaves nothing behind. It is deliberately
 * stricter about the host than about the rest: the host feeds DNS, SNI, certificate
 * verification and the connection pool, so anything that is not a plain name or an IP
 * literal is a bad_url, while the path and query are passed through as given (with only
 * the bytes that could split a request line percent-encoded), as curl does.
 *
 * No state, no locks: every function is re-entrant.
 */
#include "url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest IPv6 literal inet_pton can accept, plus a NUL (INET6_ADDRSTRLEN). */
#define IPV6_TEXT_MAX 46

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char to_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* A byte that may never appear raw in a request target: space, controls and DEL. */
static int needs_escape(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

/* A byte a request target never carries raw: those above, and bytes >= 0x80 (UTF-8 in a
 * pasted URL or a Location), which RFC 3986 allows only percent-encoded. */
static int target_escape(unsigned char c)
{
    return needs_escape(c) || c >= 0x80;
}

/* The bytes a host name may hold: letters, digits, '-', '.' and '_'. A table built when
 * compiling, since every byte of every URL's host is looked up. */
#define HOST_BYTE(c)                                                                               \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9') ||     \
     (c) == '-' || (c) == '.' || (c) == '_')
#define HOST_BYTE4(c)  HOST_BYTE(c), HOST_BYTE((c) + 1), HOST_BYTE((c) + 2), HOST_BYTE((c) + 3)
#define HOST_BYTE16(c) HOST_BYTE4(c), HOST_BYTE4((c) + 4), HOST_BYTE4((c) + 8), HOST_BYTE4((c) + 12)
#define HOST_BYTE64(c)                                                                             \
    HOST_BYTE16(c), HOST_BYTE16((c) + 16), HOST_BYTE16((c) + 32), HOST_BYTE16((c) + 48)
static const unsigned char host_byte[256] = {HOST_BYTE64(0), HOST_BYTE64(64), HOST_BYTE64(128),
                                             HOST_BYTE64(192)};

/*
 * Length of a well-formed RFC 3986 scheme at the start of s (ALPHA *( ALPHA / DIGIT /
 * "+" / "-" / "." )) when it is followed by ':'; 0 when s does not start with one.
 */
static size_t scheme_len(const char *s)
{
    size_t i;

    if (!is_alpha((unsigned char)s[0]))
        return 0;
    for (i = 1; s[i] != ':'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
            return 0;
    }
    return i;
}

static char *dup_range(const char *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL)
        return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Reads "scheme://" at s; on success *rest points after the "//". */
static salvo_err_t parse_scheme(const char *s, const char **rest, struct url *u, char *err,
                                size_t errlen)
{
    size_t n = scheme_len(s);

    if (n == 0 || strncmp(s + n, "://", 3) != 0) {
        set_err(err, errlen, "not an absolute URL (no scheme://)");
        return SALVO_E_BAD_URL;
    }
    if (n == 4 && strncasecmp(s, "http", 4) == 0) {
        u->tls = 0;
    } else if (n == 5 && strncasecmp(s, "https", 5) == 0) {
        u->tls = 1;
    } else {
        set_err(err, errlen, "unsupported scheme '%.*s'", (int)(n > 32 ? 32 : n), s);
        return SALVO_E_UNSUPPORTED_SCHEME;
    }
    u->scheme = u->tls ? "https" : "http";
    *rest = s + n + 3;
    return SALVO_E_OK;
}

/* Parses the port digits in [p, end); an empty port means the default (RFC 3986 3.2.3). */
static salvo_err_t parse_port(const char *p, const char *end, struct url *u, char *err,
                              size_t errlen)
{
    unsigned long v = 0;

    u->port = u->tls ? 443 : 80;
    if (p == end)
        return SALVO_E_OK;
    for (; p < end; p++) {
        if (!is_digit((unsigned char)*p)) {
            set_err(err, errlen, "bad port: not a number");
            return SALVO_E_BAD_URL;
        }
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535) {
            set_err(err, errlen, "bad port: over 65535");
            return SALVO_E_BAD_URL;
        }
    }
    if (v == 0) {
        set_err(err, errlen, "bad port: 0");
        return SALVO_E_BAD_URL;
    }
    u->port = (uint16_t)v;
    u->port_explicit = 1;
    return SALVO_E_OK;
}

/* Checks the bracketed IPv6 literal [p, end) (without brackets); the host is that range. */
static salvo_err_t parse_ipv6(const char *p, const char *end, struct url *u, char *err,
                              size_t errlen)
{
    char text[IPV6_TEXT_MAX];
    struct in6_addr addr;
    size_t n = (size_t)(end - p), i;

    if (n == 0 || n >= sizeof(text)) {
        set_err(err, errlen, "invalid IPv6 literal");
        return SALVO_E_BAD_URL;
    }
    for (i = 0; i < n; i++)
        text[i] = (char)to_lower((unsigned char)p[i]);
    text[n] = '\0';
    if (inet_pton(AF_INET6, text, &addr) != 1) {
        set_err(err, errlen, "invalid IPv6 literal");
        return SALVO_E_BAD_URL;
    }
    u->host_is_ip = 6;
    return SALVO_E_OK;
}

/*
 * Checks the host name or IPv4 literal [p, end) and shortens *n to drop one trailing
 * dot. Only letters, digits, '-', '.' and '_' are accepted: a name with other bytes
 * (spaces, '%', UTF-8 not converted to punycode) could never be looked up, and failing
 * here says why better than a DNS error would.
 */
static salvo_err_t parse_name(const char *p, size_t *np, char *err, size_t errlen)
{
    size_t n = *np, i;
    int double_dot = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!host_byte[c]) {
            if (needs_escape(c))
                set_err(err, errlen, "space or control character in host");
            else
                set_err(err, errlen, "invalid character '%c' in host", c < 0x80 ? c : '?');
            return SALVO_E_BAD_URL;
        }
        double_dot |= c == '.' && i > 0 && p[i - 1] == '.';
    }
    if (n > 0 && p[n - 1] == '.')
        n--;
    if (n == 0) {
        set_err(err, errlen, "no host");
        return SALVO_E_BAD_URL;
    }
    /* An empty label ("a..b", ".a", "a..") can never resolve; it would also make the
     * formatted URL unparsable once the trailing dot is gone. */
    if (p[0] == '.' || p[n - 1] == '.' || double_dot) {
        set_err(err, errlen, "empty label in host");
        return SALVO_E_BAD_URL;
    }
    *np = n;
    return SALVO_E_OK;
}

/* Parses the authority [p, end): [userinfo@]host[:port]. The host is the range
 * [*host, *host + *host_len) of the input, not yet lower-cased. */
static salvo_err_t parse_authority(const char *p, const char *end, struct url *u, const char **host,
                                   size_t *host_len, char *err, size_t errlen)
{
    const char *at = memrchr(p, '@', (size_t)(end - p));
    const char *host_end, *port = end;
    salvo_err_t rc;

    /* The userinfo is dropped: salvo never sends credentials taken from a URL. The last
     * '@' ends it, as browsers do, since users paste unescaped '@' in passwords. */
    if (at != NULL)
        p = at + 1;
    if (p < end && *p == '[') {
        host_end = memchr(p, ']', (size_t)(end - p));
        if (host_end == NULL) {
            set_err(err, errlen, "unterminated '[' in host");
            return SALVO_E_BAD_URL;
        }
        if (host_end + 1 < end && host_end[1] != ':') {
            set_err(err, errlen, "junk after IPv6 literal");
            return SALVO_E_BAD_URL;
        }
        if (host_end + 1 < end)
            port = host_end + 2;
        *host = p + 1;
        *host_len = (size_t)(host_end - *host);
        rc = parse_ipv6(*host, host_end, u, err, errlen);
    } else {
        host_end = memchr(p, ':', (size_t)(end - p));
        if (host_end == NULL)
            host_end = end;
        else
            port = host_end + 1;
        *host = p;
        *host_len = (size_t)(host_end - p);
        rc = parse_name(p, host_len, err, errlen);
    }
    if (rc != SALVO_E_OK)
        return rc;
    return parse_port(port, end, u, err, errlen);
}

/* The length of the request target built from the path and query [p, end). */
static size_t target_len(const char *p, const char *end)
{
    size_t n = (p == end || *p != '/') ? 1 : 0;

    for (const char *q = p; q < end; q++)
        n += target_escape((unsigned char)*q) ? 3 : 1;
    return n;
}

/* Writes the request target from the path and query [p, end) at t, with its NUL:
 * the bytes that could split a request line and those that are not ASCII are
 * percent-encoded, and "/" is prepended when the path is empty. */
static void write_target(char *t, const char *p, const char *end)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;

    if (p == end || *p != '/')
        t[i++] = '/';
    for (const char *q = p; q < end; q++) {
        unsigned char c = (unsigned char)*q;
        if (target_escape(c)) {
            t[i++] = '%';
            t[i++] = hex[c >> 4];
            t[i++] = hex[c & 15];
        } else {
            t[i++] = (char)c;
        }
    }
    t[i] = '\0';
}

/* Whether the NUL-terminated s is an IPv4 address as inet_pton(AF_INET) reads one: four
 * decimal parts from 0 to 255, no leading zeros, nothing else. Done here because this
 * runs for every URL and glibc's inet_pton looks each character up in a string. */
int url_is_ipv4(const char *s)
{
    for (int part = 0; part < 4; part++) {
        unsigned v = 0;
        int digits = 0;
        if (part > 0 && *s++ != '.')
            return 0;
        for (; is_digit((unsigned char)*s); s++, digits++) {
            if (digits > 0 && v == 0)
                return 0; /* a leading zero */
            v = v * 10 + (unsigned)(*s - '0');
            if (v > 255)
                return 0;
        }
        if (digits == 0)
            return 0;
    }
    return *s == '\0';
}

/* ":port" into out (with its NUL) when the port is not the scheme's default, else "";
 * returns its length. */
static size_t port_suffix(const struct url *u, char out[8])
{
    char digits[5];
    size_t nd = 0, n = 0;
    unsigned v = u->port;

    if (u->port != (u->tls ? 443 : 80)) {
        do {
            digits[nd++] = (char)('0' + v % 10);
            v /= 10;
        } while (v != 0);
        out[n++] = ':';
        while (nd > 0)
            out[n++] = digits[--nd];
    }
    out[n] = '\0';
    return n;
}

/*
 * Fills u->host, u->target and u->authority: one allocation for the three, since this
 * runs once per URL and a malloc costs more than the rest of the parse. The host is
 * stored lower-cased; an IPv4 literal is recognised once it is.
 */
static salvo_err_t store_parts(struct url *u, const char *host, size_t hlen, const char *path,
                               const char *end)
{
    int v6 = u->host_is_ip == 6;
    char port[8];
    size_t plen = port_suffix(u, port), tlen = target_len(path, end);
    size_t alen = hlen + 2 * (size_t)v6 + plen;
    char *m = malloc(hlen + 1 + tlen + 1 + alen + 1);

    if (m == NULL)
        return SALVO_E_RESOURCE;
    u->host = m;
    for (size_t i = 0; i < hlen; i++)
        u->host[i] = (char)to_lower((unsigned char)host[i]);
    u->host[hlen] = '\0';
    if (!v6 && url_is_ipv4(u->host))
        u->host_is_ip = 4;
    u->target = u->host + hlen + 1;
    write_target(u->target, path, end);
    u->authority = u->target + tlen + 1;
    char *w = u->authority;
    if (v6)
        *w++ = '[';
    memcpy(w, u->host, hlen);
    w += hlen;
    if (v6)
        *w++ = ']';
    memcpy(w, port, plen + 1);
    return SALVO_E_OK;
}

salvo_err_t url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
    const char *auth, *auth_end, *end, *host;
    size_t host_len;
    salvo_err_t rc;

    memset(u, 0, sizeof(*u));
    if (errlen > 0)
        err[0] = '\0'; /* no printf on the success path: it runs once per URL */
    if (s == NULL || *s == '\0') {
        set_err(err, errlen, "empty URL");
        return SALVO_E_BAD_URL;
    }
    rc = parse_scheme(s, &auth, u, err, errlen);
    if (rc != SALVO_E_OK)
        goto fail;
    auth_end = auth + strcspn(auth, "/?#");
    rc = parse_authority(auth, auth_end, u, &host, &host_len, err, errlen);
    if (rc != SALVO_E_OK)
        goto fail;
    end = strchrnul(auth_end, '#'); /* the fragment never leaves the client */
    rc = store_parts(u, host, host_len, auth_end, end);
    if (rc != SALVO_E_OK) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    return SALVO_E_OK;
fail:
    url_free(u);
    return rc;
}

char *url_format(const struct url *u)
{
    char *s;

    if (asprintf(&s, "%s://%s%s", u->scheme, u->authority, u->target) < 0)
        return NULL;
    return s;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *url_percent_decode(const char *p, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = hex_value(p[i + 1])) >= 0 &&
            (lo = hex_value(p[i + 2])) >= 0) {
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = p[i];
        }
        if (o[-1] == '\0') {
            free(out);
            return NULL;
        }
    }
    *o = '\0';
    return out;
}

void url_free(struct url *u)
{
    free(u->host); /* target and authority live in the same allocation */
    memset(u, 0, sizeof(*u));
}

/* Drops the last segment and the '/' before it from the output of remove_dot_segments. */
static void pop_segment(const char *out, size_t *o)
{
    while (*o > 0 && out[*o - 1] != '/')
        (*o)--;
    if (*o > 0)
        (*o)--;
}

/*
 * RFC 3986 section 5.2.4, remove_dot_segments, for a path that starts with '/'. The
 * input is a private copy, edited in place where the RFC says "replace with /"; the
 * output is never longer than the input.
 */
static void remove_dot_segments(char *in, char *out)
{
    size_t o = 0;

    while (*in != '\0') {
        if (strncmp(in, "../", 3) == 0) {
            in += 3;
        } else if (strncmp(in, "./", 2) == 0) {
            in += 2;
        } else if (strncmp(in, "/./", 3) == 0) {
            in += 2;
        } else if (strcmp(in, "/.") == 0) {
            in[1] = '/';
            in += 1;
        } else if (strncmp(in, "/../", 4) == 0) {
            in += 3;
            pop_segment(out, &o);
        } else if (strcmp(in, "/..") == 0) {
            in[2] = '/';
            in += 2;
            pop_segment(out, &o);
        } else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
            break;
        } else {
            do
                out[o++] = *in++;
            while (*in != '\0' && *in != '/');
        }
    }
    out[o] = '\0';
}

/*
 * Resolves a reference without scheme or authority (a path, "?query" or "") against
 * base: RFC 3986 5.2.2 and 5.2.3. ref has no fragment. Returns a malloc'd absolute URL.
 */
static char *resolve_path(const struct url *base, const char *ref)
{
    const char *bq = strchr(base->target, '?'), *rq = strchr(ref, '?');
    size_t blen = bq ? (size_t)(bq - base->target) : strlen(base->target);
    size_t rlen = rq ? (size_t)(rq - ref) : strlen(ref);
    char *merged = NULL, *path = NULL, *out = NULL;
    const char *query;

    if (rlen == 0) {
        merged = dup_range(base->target, blen);
        query = rq ? rq : (bq ? bq : "");
    } else if (ref[0] == '/') {
        merged = dup_range(ref, rlen);
        query = rq ? rq : "";
    } else {
        /* Merge: the base path up to its last '/', then the reference path. The base
         * always has an authority and a path starting with '/', so this is RFC 5.2.3's
         * second case. */
        size_t keep = blen;
        while (keep > 0 && base->target[keep - 1] != '/')
            keep--;
        if (asprintf(&merged, "%.*s%.*s", (int)keep, base->target, (int)rlen, ref) < 0)
            merged = NULL;
        query = rq ? rq : "";
    }
    if (merged == NULL)
        goto out;
    path = malloc(strlen(merged) + 1);
    if (path == NULL)
        goto out;
    remove_dot_segments(merged, path);
    if (asprintf(&out, "%s://%s%s%s", base->scheme, base->authority, path, query) < 0)
        out = NULL;
out:
    free(merged);
    free(path);
    return out;
}

/* Parses an absolute URL string and normalizes it: dot segments removed, fragment and
 * userinfo dropped, host lower-cased. NULL when it is not a usable http(s) URL. */
static char *normalize_absolute(const char *s)
{
    struct url u;
    char *path_ref, *out;

    if (url_parse(s, &u, NULL, 0) != SALVO_E_OK)
        return NULL;
    /* The target of an absolute URL is itself an absolute-path reference against it. */
    path_ref = strdup(u.target);
    out = path_ref ? resolve_path(&u, path_ref) : NULL;
    free(path_ref);
    url_free(&u);
    return out;
}

/*
 * Surrounding spaces and control bytes are trimmed, as browsers do with Location. An
 * empty reference, which RFC 3986 resolves to the base itself, returns NULL: for a
 * redirect it can only be a loop or a server bug (bad_redirect). A reference of only a
 * fragment ("#s") still resolves to the base.
 */
char *url_resolve(const struct url *base, const char *ref)
{
    size_t n, slen;
    char *r = NULL, *out = NULL, *abs = NULL;

    if (base == NULL || ref == NULL)
        return NULL;
    while (*ref != '\0' && needs_escape((unsigned char)*ref))
        ref++;
    n = strlen(ref);
    while (n > 0 && needs_escape((unsigned char)ref[n - 1]))
        n--;
    if (n == 0)
        return NULL;
    r = dup_range(ref, n);
    if (r == NULL)
        return NULL;
    r[strcspn(r, "#")] = '\0';
    slen = scheme_len(r);
    if (slen > 0) {
        out = normalize_absolute(r);
    } else if (r[0] == '/' && r[1] == '/') {
        if (asprintf(&abs, "%s:%s", base->scheme, r) >= 0)
            out = normalize_absolute(abs);
    } else {
        out = resolve_path(base, r);
        /* A relative path can still carry bytes a target may not hold raw; one more pass
         * through the parser encodes them. */
        if (out != NULL) {
            abs = out;
            out = normalize_absolute(abs);
        }
    }
    free(abs);
    free(r);
    return out;
}

int url_mask_password(const char *s, char **out)
{
    const char *auth, *end, *at, *colon;

    *out = NULL;
    if (strchr(s, '@') == NULL)
        return 0; /* the common case, found in one fast scan */
    /* "scheme://authority..." or a scheme-relative "//authority..." (a Location). */
    auth = strstr(s, "://");
    if (auth != NULL)
        auth += 3;
    else if (s[0] == '/' && s[1] == '/')
        auth = s + 2;
    else
        return 0;
    end = auth + strcspn(auth, "/?#");
    at = memrchr(auth, '@', (size_t)(end - auth));
    if (at == NULL)
        return 0;
    colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon == NULL)
        return 0; /* a user name alone is no secret */
    if (asprintf(out, "%.*s***%s", (int)(colon + 1 - s), s, at) < 0) {
        *out = NULL;
        return -ENOMEM;
    }
    return 0;
}
