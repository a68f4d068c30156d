/*
 * http1_request.c -- the HTTP/1.1 request: what a caller may put on one (the checks
 * salvo_submit and the CLI share) and its serialisation. See http1_request.h.
 */
#include "http1_request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 tchar: the bytes a method or a field name may hold. */
static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_token(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* A line that would end early on the wire: CR or LF anywhere splits the request. */
static int has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* A field value may hold visible characters, spaces and tabs (RFC 9110 5.5); any other
 * control byte could end the line early or smuggle one in. */
static int value_valid(const char *v)
{
    for (; *v; v++)
        if (((unsigned char)*v < 0x20 && *v != '\t') || *v == 0x7f)
            return 0;
    return 1;
}

/* A "Name: value" line: a non-empty token before the first ':' and a valid value. */
static int header_valid(const char *line)
{
    const char *colon = strchr(line, ':');

    return colon != NULL && is_token(line, (size_t)(colon - line)) && value_valid(colon + 1);
}

/* Whether the header line has the name of n bytes. */
static int header_is_n(const char *line, const char *name, size_t n)
{
    return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static int header_is(const char *line, const char *name)
{
    return header_is_n(line, name, strlen(name));
}

/* The user's replacement for a default header (name of n bytes), or NULL. */
static const char *find_header(const struct http1_request *req, const char *name, size_t n)
{
    size_t i;

    for (i = 0; i < req->headers_len; i++)
        if (header_is_n(req->headers[i], name, n))
            return req->headers[i];
    return NULL;
}

/* The value of a header line, without the white space around it. */
static void header_value(const char *line, const char **v, size_t *n)
{
    const char *p = strchr(line, ':') + 1;
    size_t len;

    while (*p == ' ' || *p == '\t')
        p++;
    len = strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    *v = p;
    *n = len;
}

int http1_check_request(const char *method, const char *const *headers, size_t headers_len,
                        char *err, size_t errlen)
{
    size_t i, n;
    const char *v;

    if (method != NULL && !is_token(method, strlen(method))) {
        snprintf(err, errlen, "the method '%.64s' is not an HTTP token", method);
        return -1;
    }
    for (i = 0; i < headers_len; i++) {
        const char *h = headers[i];
        if (h == NULL || strchr(h, ':') == NULL) {
            snprintf(err, errlen, "header '%.64s' is not 'Name: value'", h ? h : "(null)");
            return -1;
        }
        if (!is_token(h, (size_t)(strchr(h, ':') - h))) {
            snprintf(err, errlen, "header '%.64s': the name is not an HTTP token", h);
            return -1;
        }
        if (!header_valid(h)) {
            snprintf(err, errlen, "header '%.64s': the value holds a control byte", h);
            return -1;
        }
        /* salvo frames the body itself: a second framing header would make the request
         * ambiguous on the wire (a request smuggling shape). */
        if (header_is(h, "Content-Length") || header_is(h, "Transfer-Encoding")) {
            snprintf(err, errlen, "header '%.64s': salvo sets the message framing itself", h);
            return -1;
        }
        header_value(h, &v, &n);
        if (header_is(h, "Connection") && !(n == 5 && strncasecmp(v, "close", 5) == 0) &&
            !(n == 10 && strncasecmp(v, "keep-alive", 10) == 0)) {
            snprintf(err, errlen, "header '%.64s': Connection may only be close or keep-alive", h);
            return -1;
        }
    }
    return 0;
}

int http1_asks_close(const char *const *headers, size_t headers_len)
{
    size_t i, n;
    const char *v;

    for (i = 0; i < headers_len; i++) {
        if (!header_is(headers[i], "Connection"))
            continue;
        header_value(headers[i], &v, &n);
        if (n == 5 && strncasecmp(v, "close", 5) == 0)
            return 1;
    }
    return 0;
}

static int request_valid(const struct http1_request *req)
{
    size_t i;

    if (req->method == NULL || !is_token(req->method, strlen(req->method)) || req->url == NULL ||
        req->url->target == NULL || req->url->authority == NULL || has_crlf(req->url->target) ||
        has_crlf(req->url->authority) || (req->user_agent != NULL && has_crlf(req->user_agent)) ||
        (req->proxy_auth != NULL && has_crlf(req->proxy_auth)) ||
        (req->body == NULL && req->body_len > 0))
        return 0;
    for (i = 0; i < req->headers_len; i++)
        if (req->headers[i] == NULL || !header_valid(req->headers[i]))
            return 0;
    return 1;
}

/* Appends a string literal: its length is known when compiling, so the copy is a move or
 * two rather than a strlen and a call to memcpy. */
#define APPEND_LIT(out, s) buf_append((out), (s), sizeof(s) - 1)

/* Appends a, b and c (b and c may be NULL) and CRLF: the request is written once per
 * attempt, so plain appends rather than printf. */
static int line(struct buf *out, const char *a, const char *b, const char *c)
{
    int rc = buf_append_str(out, a);
    if (rc == 0 && b != NULL)
        rc = buf_append_str(out, b);
    if (rc == 0 && c != NULL)
        rc = buf_append_str(out, c);
    return rc == 0 ? APPEND_LIT(out, "\r\n") : rc;
}

/* Writes one default header, or the user's line of the same name in its place. The name
 * comes as the line's start, "Name: " (prefix, of prefix_len bytes), ready to be copied. */
static int write_default(struct buf *out, const struct http1_request *req, const char *prefix,
                         size_t prefix_len, const char *value)
{
    const char *user = req->headers_len > 0 ? find_header(req, prefix, prefix_len - 2) : NULL;
    int rc;

    if (user != NULL)
        return line(out, user, NULL, NULL);
    if (value == NULL)
        return 0;
    rc = buf_append(out, prefix, prefix_len);
    if (rc == 0)
        rc = buf_append_str(out, value);
    return rc == 0 ? APPEND_LIT(out, "\r\n") : rc;
}

/* A header name as a line starts with it, "Name: ", and that length (as LIT does for a
 * literal): write_default's prefix and prefix_len. */
#define HEADER_START(name) name ": ", sizeof(name ": ") - 1

static const char *const default_names[] = {"Host", "User-Agent", "Accept", "Accept-Encoding",
                                            "Connection"};

static int is_default(const char *line)
{
    size_t i;

    for (i = 0; i < sizeof(default_names) / sizeof(default_names[0]); i++)
        if (header_is(line, default_names[i]))
            return 1;
    return 0;
}

/* The default lines after Host, each unless the user's header of that name replaces it. */
static int write_defaults(struct buf *out, const struct http1_request *req)
{
    int rc = write_default(out, req, HEADER_START("User-Agent"), req->user_agent);
    if (rc == 0)
        rc = write_default(out, req, HEADER_START("Accept"), "*/*");
    if (rc == 0)
        rc = write_default(out, req, HEADER_START("Accept-Encoding"),
                           req->compressed ? "gzip, deflate" : NULL);
    return rc;
}

int http1_default_lines(struct buf *out, const char *user_agent, int compressed)
{
    const struct http1_request req = {.user_agent = user_agent, .compressed = compressed};
    if (user_agent != NULL && has_crlf(user_agent))
        return -EINVAL;
    return write_defaults(out, &req);
}

/* POST and PUT always carry a Content-Length, even for an empty body (RFC 9110 8.6). */
static int needs_length(const struct http1_request *req)
{
    const char *m = req->method;
    return req->body != NULL || (m[0] == 'P' && (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0));
}

static int write_head(struct buf *out, const struct http1_request *req)
{
    size_t i;
    int rc;

    rc = buf_append_str(out, req->method);
    if (rc == 0)
        rc = APPEND_LIT(out, " ");
    if (rc == 0 && req->absolute_form) {
        rc = APPEND_LIT(out, "http://");
        if (rc == 0)
            rc = buf_append_str(out, req->url->authority);
    }
    if (rc == 0)
        rc = buf_append_str(out, req->url->target);
    if (rc == 0)
        rc = APPEND_LIT(out, " HTTP/1.1\r\n");
    if (rc == 0)
        rc = write_default(out, req, HEADER_START("Host"), req->url->authority);
    if (rc == 0 && req->default_lines != NULL && req->headers_len == 0)
        rc = buf_append(out, req->default_lines, req->default_lines_len);
    else if (rc == 0)
        rc = write_defaults(out, req);
    if (rc == 0 && req->proxy_auth != NULL)
        rc = line(out, "Proxy-Authorization: ", req->proxy_auth, NULL);
    /* Defaults the user replaced were written in the defaults' place (Host first). */
    for (i = 0; rc == 0 && i < req->headers_len; i++)
        if (!is_default(req->headers[i]))
            rc = line(out, req->headers[i], NULL, NULL);
    if (rc == 0 && needs_length(req))
        rc = buf_printf(out, "Content-Length: %zu\r\n", req->body_len);
    if (rc == 0)
        rc = write_default(out, req, HEADER_START("Connection"), req->keepalive ? NULL : "close");
    if (rc == 0)
        rc = APPEND_LIT(out, "\r\n");
    return rc;
}

/* Writes the head, and the body too when with_body is set. */
static int write_request(struct buf *out, const struct http1_request *req, int with_body)
{
    size_t before = buf_size(out);
    int rc;

    /* Validate everything first, so that a refused request writes nothing at all. */
    if (!request_valid(req))
        return -EINVAL;
    rc = write_head(out, req);
    if (rc == 0 && with_body && req->body_len > 0)
        rc = buf_append(out, req->body, req->body_len);
    if (rc < 0)
        goto fail;
    return 0;

fail:
    /* Drop the partial request; growth may have compacted the buffer, moving off. */
    out->len = out->off + before;
    return rc;
}

int http1_write_head(struct buf *out, const struct http1_request *req)
{
    return write_request(out, req, 0);
}

int http1_write_request(struct buf *out, const struct http1_request *req)
{
    return write_request(out, req, 1);
}
