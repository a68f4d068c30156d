/*
 * fuzz_request.c -- libFuzzer target for the request writer: http1_check_request on a
 * method and header lines cut from the input, then http1_write_request.
 *
 * Input layout: byte 0 holds flags (keep-alive, compression, absolute form, a body, a
 * User-Agent); the rest is split at NUL bytes: the method first, then one header line
 * per piece (a piece may hold CR, LF or any other byte, which is the point). The
 * promises checked: what the checker accepts is written, and the written head parses as
 * one request line, header lines that each are one of the given lines or a default, and
 * a blank line, with no CR or LF outside the line ends (no injected line); what the
 * writer refuses leaves the buffer as it was; and the default lines an engine renders
 * once (http1_default_lines) give the very bytes the writer makes without them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http1_request.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 32

/* Whether [p, p + n) is one of the lines a head may hold besides the request line. */
static int line_expected(const char *p, size_t n, const char *const *headers, size_t count)
{
    static const char *const defaults[] = {
        "Host: ",       "User-Agent: ",    "Accept: ", "Accept-Encoding: ",
        "Connection: ", "Content-Length: "};
    size_t i;

    for (i = 0; i < count; i++)
        if (strlen(headers[i]) == n && memcmp(headers[i], p, n) == 0)
            return 1;
    for (i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (n >= strlen(defaults[i]) && memcmp(defaults[i], p, strlen(defaults[i])) == 0)
            return 1;
    return 0;
}

/* Walks the head as a server would: CRLF-terminated lines up to the blank one, which
 * must end the written bytes (the body follows only when there is one). */
static void check_head(const char *head, size_t len, size_t body_len, const char *method,
                       const char *const *headers, size_t count)
{
    const char *p = head, *end = head + len - body_len;
    size_t lines = 0;

    for (;;) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        size_t n;
        if (eol == NULL || eol + 1 >= end || eol[1] != '\n')
            abort(); /* a line not ended by CRLF */
        n = (size_t)(eol - p);
        if (memchr(p, '\n', n) != NULL)
            abort(); /* a bare LF: a second line hidden in this one */
        if (n == 0)
            break;
        if (lines == 0) {
            if (n < strlen(method) + 1 || memcmp(p, method, strlen(method)) != 0 ||
                p[strlen(method)] != ' ')
                abort();
        } else if (!line_expected(p, n, headers, count)) {
            abort();
        }
        lines++;
        p = eol + 2;
    }
    if (p + 2 != end || lines < 2)
        abort(); /* bytes after the blank line that are not the body */
}

/* The same request written with the default lines rendered beforehand must be the same
 * bytes, written: with headers of its own the request ignores them. */
static void check_default_lines(struct http1_request *req, const char *want, size_t want_len)
{
    struct buf lines, again;

    buf_init(&lines, 1 << 16);
    buf_init(&again, 1 << 20);
    if (http1_default_lines(&lines, req->user_agent, req->compressed) == 0) {
        req->default_lines = buf_head(&lines);
        req->default_lines_len = buf_size(&lines);
        if (http1_write_request(&again, req) != 0 || buf_size(&again) != want_len ||
            memcmp(buf_head(&again), want, want_len) != 0)
            abort();
        req->default_lines = NULL;
        req->default_lines_len = 0;
    }
    buf_free(&lines);
    buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *headers[MAX_HEADERS];
    char *copy, *piece, *method, err[256], uerr[128];
    size_t count = 0, off, before;
    struct http1_request req;
    struct url url;
    struct buf out;
    uint8_t flags;
    int accepted, rc;

    if (size < 2)
        return 0;
    flags = data[0];
    copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    method = copy;
    off = strlen(method) + 1;
    while (off < size && count < MAX_HEADERS) {
        piece = copy + off;
        headers[count++] = piece;
        off += strlen(piece) + 1;
    }
    if (url_parse("http://example.com:8080/p?q=1", &url, uerr, sizeof uerr) != SALVO_E_OK)
        abort();

    accepted = http1_check_request(method, headers, count, err, sizeof err) == 0;
    if (!accepted && err[0] == '\0')
        abort();
    memset(&req, 0, sizeof req);
    req.method = method;
    req.url = &url;
    req.user_agent = (flags & 16) ? "salvo-fuzz" : NULL;
    req.headers = headers;
    req.headers_len = count;
    req.body = (flags & 8) ? "body" : NULL;
    req.body_len = (flags & 8) ? 4 : 0;
    req.keepalive = flags & 1;
    req.compressed = (flags & 2) != 0;
    req.absolute_form = (flags & 4) != 0;

    buf_init(&out, 1 << 20);
    /* Something already queued, as on a kept connection: a refusal must leave it be. */
    if (buf_append_str(&out, "queued") != 0)
        abort();
    before = buf_size(&out);
    rc = http1_write_request(&out, &req);
    if (accepted && method[0] != '\0' && rc != 0)
        abort(); /* accepted but not written */
    if (rc != 0) {
        if (buf_size(&out) != before || memcmp(out.data + out.off, "queued", 6) != 0)
            abort();
    } else {
        check_head(out.data + out.off + before, buf_size(&out) - before, req.body_len, method,
                   headers, count);
        check_default_lines(&req, buf_head(&out) + before, buf_size(&out) - before);
    }
    buf_free(&out);
    url_free(&url);
    free(copy);
    return 0;
}
