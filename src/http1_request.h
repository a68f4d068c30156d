/*
 * http1_request.h -- the HTTP/1.1 request: what a caller may put on one, and how it is
 * written on the wire. Pure: no I/O; the connection sends what is written here.
 */
#ifndef SALVO_HTTP1_REQUEST_H
#define SALVO_HTTP1_REQUEST_H

#include <stddef.h>

#include "buf.h"
#include "url.h"

/* What one request looks like on the wire. */
struct http1_request {
    const char *method;         /* "GET", "HEAD", "POST", ... */
    const struct url *url;      /* target and Host come from here */
    const char *user_agent;     /* value of User-Agent, unless a header overrides it */
    const char *const *headers; /* extra "Name: value" lines, sent as given */
    size_t headers_len;
    const void *body; /* NULL for none */
    size_t body_len;
    int keepalive;     /* 0: send "Connection: close" */
    int compressed;    /* send "Accept-Encoding: gzip, deflate" (a -H of that name replaces it) */
    int absolute_form; /* to an HTTP proxy: "GET http://host/path HTTP/1.1" */
    const char *proxy_auth; /* value of Proxy-Authorization, NULL for none */
    /* What http1_default_lines made of this user_agent and compressed, or NULL: copied
     * as it is when the request has no headers of its own. */
    const char *default_lines;
    size_t default_lines_len;
};

/* Checks what a caller may set on a request before it is queued: the method must be an
 * HTTP token; each header a "Name: value" line with a token name and no control byte in
 * its value; Content-Length and Transfer-Encoding are refused (salvo frames the body)
 * and Connection may only say close or keep-alive. Returns 0, or -1 with a one-line
 * reason in err. */
int http1_check_request(const char *method, const char *const *headers, size_t headers_len,
                        char *err, size_t errlen);

/* Whether the header lines ask for "Connection: close" (the connection is then not
 * kept for another request). */
int http1_asks_close(const char *const *headers, size_t headers_len);

/* Writes the default lines that follow Host (User-Agent, Accept, Accept-Encoding) for a
 * request without headers of its own: they are the same for every such request, so an
 * engine renders them once. Returns 0 or negative errno; -EINVAL when user_agent could
 * not go on the wire (then each request is refused as it would be anyway). */
int http1_default_lines(struct buf *out, const char *user_agent, int compressed);

/* Serialises the request into out. Returns 0 or negative errno. A header line holding
 * CR or LF is refused with -EINVAL (it would split the request). */
int http1_write_request(struct buf *out, const struct http1_request *req);

/* The same without the body: the head alone (its Content-Length counts the body), for
 * callers that send the body from where it already lies instead of copying it. */
int http1_write_head(struct buf *out, const struct http1_request *req);

#endif
