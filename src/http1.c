/*
 * http1.c -- the HTTP/1.1 request writer and the glue between salvo and llhttp 8.1.
 *
 * This module owns the shared llhttp settings (one static object, set up once, that
 * outlives every parser), the per-response state in struct http1 (parser, counters,
 * digest context, header accumulators and the copied header values) and the request
 * serialisation. It does no I/O: callers feed bytes and act on the return value.
 *
 * Re-entrancy: llhttp calls back into this file only from inside llhttp_execute and
 * llhttp_finish; those callbacks only record facts in struct http1 and stop the parser
 * (HPE_PAUSED at the end of the final response, an error otherwise). Nothing leaves the
 * module from a callback, so the caller may free or pool the connection as soon as
 * http1_feed or http1_eof returns.
 */
#include "http1.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static llhttp_settings_t settings; /* shared by every parser; set up once */
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

/* ---- request writer ------------------------------------------------------------------ */

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

static int header_is(const char *line, const char *name)
{
    size_t n = strlen(name);

    return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* The user's replacement for a default header, or NULL when there is none. */
static const char *find_header(const struct http1_request *req, const char *name)
{
    size_t i;

    for (i = 0; i < req->headers_len; i++)
        if (header_is(req->headers[i], name))
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
        (req->body == NULL && req->body_len > 0))
        return 0;
    for (i = 0; i < req->headers_len; i++)
        if (req->headers[i] == NULL || !header_valid(req->headers[i]))
            return 0;
    return 1;
}

/* Appends a, b and c (b and c may be NULL) and CRLF: the request is written once per
 * attempt, so plain appends rather than printf. */
static int line(struct buf *out, const char *a, const char *b, const char *c)
{
    int rc = buf_append_str(out, a);
    if (rc == 0 && b != NULL)
        rc = buf_append_str(out, b);
    if (rc == 0 && c != NULL)
        rc = buf_append_str(out, c);
    return rc == 0 ? buf_append(out, "\r\n", 2) : rc;
}

/* Writes one default header, or the user's line of the same name in its place. */
static int write_default(struct buf *out, const struct http1_request *req, const char *name,
                         const char *value)
{
    const char *user = find_header(req, name);

    if (user != NULL)
        return line(out, user, NULL, NULL);
    if (value == NULL)
        return 0;
    return line(out, name, ": ", value);
}

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

static int write_head(struct buf *out, const struct http1_request *req)
{
    int need_length =
        req->body != NULL || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0;
    size_t i;
    int rc;

    rc = buf_append_str(out, req->method);
    if (rc == 0)
        rc = buf_append(out, " ", 1);
    if (rc == 0)
        rc = line(out, req->url->target, " HTTP/1.1", NULL);
    if (rc == 0)
        rc = write_default(out, req, "Host", req->url->authority);
    if (rc == 0)
        rc = write_default(out, req, "User-Agent", req->user_agent);
    if (rc == 0)
        rc = write_default(out, req, "Accept", "*/*");
    if (rc == 0)
        rc = write_default(out, req, "Accept-Encoding", req->compressed ? "gzip, deflate" : NULL);
    /* Defaults the user replaced were written in the defaults' place (Host first). */
    for (i = 0; rc == 0 && i < req->headers_len; i++)
        if (!is_default(req->headers[i]))
            rc = line(out, req->headers[i], NULL, NULL);
    if (rc == 0 && need_length)
        rc = buf_printf(out, "Content-Length: %zu\r\n", req->body_len);
    if (rc == 0)
        rc = write_default(out, req, "Connection", req->keepalive ? NULL : "close");
    if (rc == 0)
        rc = buf_append_str(out, "\r\n");
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

/* ---- response parser callbacks ------------------------------------------------------- */

static int set_error(struct http1 *h, salvo_err_t err, const char *msg)
{
    h->err = err;
    snprintf(h->msg, sizeof(h->msg), "%s", msg);
    llhttp_set_error_reason(&h->parser, h->msg); /* outlives the callback */
    return HPE_USER;
}

/* Header bytes that no llhttp span covers, in the canonical shape of a head: the status
 * line's "HTTP/1.1 200 " and CRLF plus the empty line that ends the head, and per header
 * line the ": " and CRLF. Counting them is what bounds a flood of tiny interim responses
 * or empty header lines, whose spans are (nearly) empty. */
#define HEAD_FIXED_BYTES 17
#define LINE_FIXED_BYTES 4

/* Counts header bytes over every message of the response (1xx and trailers included). */
static int count_header(struct http1 *h, size_t len)
{
    if (len > HTTP1_MAX_HEADER_BYTES - h->header_bytes)
        return set_error(h, SALVO_E_TOO_LARGE, "response headers over 64 KiB");
    h->header_bytes += len;
    return 0;
}

/* The slot for the header whose name is in h->field, or NULL when salvo ignores it.
 * Only the final response's header section counts: 1xx headers are dropped with their
 * message and trailers (after the final status was recorded) are not looked at. */
static char **wanted(struct http1 *h)
{
    size_t n = buf_size(&h->field);
    const char *name;

    if (h->status != 0 || n == 0)
        return NULL;
    name = buf_head(&h->field);
    if (n == 8 && strncasecmp(name, "location", n) == 0)
        return &h->location;
    if (n == 11 && strncasecmp(name, "retry-after", n) == 0)
        return &h->retry_after;
    if (n == 16 && strncasecmp(name, "content-encoding", n) == 0)
        return &h->content_encoding;
    return NULL;
}

static int on_message_begin(llhttp_t *p)
{
    struct http1 *h = p->data;

    buf_reset(&h->field);
    buf_reset(&h->value);
    return count_header(h, HEAD_FIXED_BYTES);
}

static int on_status(llhttp_t *p, const char *at, size_t len)
{
    (void)at;
    return count_header(p->data, len);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct http1 *h = p->data;
    int rc = count_header(h, len);

    if (rc != 0)
        return rc;
    /* Names can only be as long as the header cap, which the field buffer matches. */
    if (buf_append(&h->field, at, len) < 0)
        return set_error(h, SALVO_E_RESOURCE, "out of memory for a response header");
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct http1 *h = p->data;
    int rc = count_header(h, len);

    if (rc != 0)
        return rc;
    if (wanted(h) != NULL && buf_append(&h->value, at, len) < 0)
        return set_error(h, SALVO_E_RESOURCE, "out of memory for a response header");
    return 0;
}

/* Stores the accumulated value in *slot; a repeated field is joined with ", " as
 * RFC 9110 section 5.3 combines list fields. */
static int store_value(struct http1 *h, char **slot)
{
    size_t n = buf_size(&h->value);
    const char *v = n > 0 ? buf_head(&h->value) : "";
    size_t old = *slot ? strlen(*slot) : 0;
    char *s;

    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    s = realloc(*slot, old + (old ? 2 : 0) + n + 1);
    if (s == NULL)
        return -ENOMEM;
    if (old) {
        memcpy(s + old, ", ", 2);
        old += 2;
    }
    if (n > 0)
        memcpy(s + old, v, n);
    s[old + n] = '\0';
    *slot = s;
    return 0;
}

/* A second Location that differs from the first leaves no single target to follow:
 * joining them as a list (as other fields are) would invent a URL nobody sent. */
static int location_conflicts(struct http1 *h)
{
    size_t n = buf_size(&h->value), have;
    const char *v = n > 0 ? buf_head(&h->value) : "";

    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    have = strlen(h->location);
    return have != n || memcmp(h->location, v, n) != 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct http1 *h = p->data;
    char **slot = wanted(h);
    int rc = count_header(h, LINE_FIXED_BYTES);

    if (rc != 0)
        return rc;
    if (slot == &h->location && h->location != NULL) {
        h->location_conflict |= location_conflicts(h);
        slot = NULL; /* an identical repeat adds nothing */
    }
    if (slot != NULL && store_value(h, slot) < 0)
        return set_error(h, SALVO_E_RESOURCE, "out of memory for a response header");
    buf_reset(&h->field);
    buf_reset(&h->value);
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct http1 *h = p->data;
    int s = p->status_code;

    buf_reset(&h->field);
    buf_reset(&h->value);
    /* llhttp 8.1 takes one to three digits ("20", "000"): a status below 100 would read
     * as "no status" or a bogus success. RFC 9110 says three digits, 1xx to 5xx. */
    if (s < 100 || s > 999)
        return set_error(h, SALVO_E_PROTOCOL, "invalid status code");
    if (s == 101) /* an upgrade salvo never asked for */
        return set_error(h, SALVO_E_PROTOCOL, "unexpected 101 Switching Protocols");
    /* Informational: RFC 9112 6.3 ends it at its empty line, whatever length it claims
     * (llhttp would read a Content-Length's worth of the final response as its body). */
    if (s >= 100 && s < 200)
        return 1;
    h->status = s;
    /* A response parser cannot know the request was HEAD, and llhttp 8.1 would wait
     * for a 204 or 304's Content-Length bytes: tell it there is no body. */
    if (h->is_head || s == 204 || s == 304)
        return 1;
    /* A coding salvo does not know (br, several at once) is kept as it came. */
    int kind = decode_kind_parse(h->content_encoding);
    if (kind > DECODE_IDENTITY && (h->dec = decoder_new((enum decode_kind)kind)) == NULL)
        return set_error(h, SALVO_E_RESOURCE, "out of memory for the body decoder");
    return 0;
}

/* Takes decoded body bytes: the cap, the count and the hash are about them, so that a
 * decompression bomb stops at --max-filesize (decode.h). Returns non-zero to stop. */
static int body_sink(void *ctx, const char *data, size_t len)
{
    struct http1 *h = ctx;
    char msg[64];

    if (len > h->max_body - h->bytes) {
        /* Count what fits: `bytes` then says exactly where the cap cut the body. */
        len = (size_t)(h->max_body - h->bytes);
        h->bytes += len;
        snprintf(msg, sizeof(msg), "body over %llu bytes", (unsigned long long)h->max_body);
        return set_error(h, SALVO_E_TOO_LARGE, msg);
    }
    h->bytes += len;
    if (h->sha != NULL && EVP_DigestUpdate(h->sha, data, len) != 1)
        return set_error(h, SALVO_E_RESOURCE, "sha256 update failed");
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http1 *h = p->data;

    h->wire_bytes += len;
    if (h->dec == NULL)
        return body_sink(h, at, len);
    int rc = decoder_feed(h->dec, at, len, body_sink, h);
    if (rc == DECODE_ERROR)
        return set_error(h, SALVO_E_DECODE, decoder_message(h->dec));
    return rc == DECODE_STOPPED ? HPE_USER : 0; /* the sink recorded why */
}

/* Frees the copied header values (the final response's, or a 1xx's leftovers). */
static void clear_values(struct http1 *h)
{
    free(h->location);
    free(h->retry_after);
    free(h->content_encoding);
    h->location_conflict = 0;
    h->location = NULL;
    h->retry_after = NULL;
    h->content_encoding = NULL;
}

static int on_message_complete(llhttp_t *p)
{
    struct http1 *h = p->data;

    if (p->status_code >= 100 && p->status_code < 200) {
        /* An interim response: the final one follows on the same parser. The header
         * byte count stays, as the cap covers the whole response. */
        clear_values(h);
        return 0;
    }
    if (h->dec != NULL && decoder_finish(h->dec) != 0)
        return set_error(h, SALVO_E_DECODE, decoder_message(h->dec));
    h->keep_alive = llhttp_should_keep_alive(p);
    h->done = 1;
    return HPE_PAUSED; /* stop exactly at the message boundary */
}

static void settings_setup(void)
{
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_status = on_status;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_header_value_complete = on_header_value_complete;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
}

/* ---- response API -------------------------------------------------------------------- */

void http1_global_init(void)
{
    pthread_once(&settings_once, settings_setup);
}

void http1_init(struct http1 *h)
{
    memset(h, 0, sizeof(*h));
    buf_init(&h->field, HTTP1_MAX_HEADER_BYTES);
    buf_init(&h->value, HTTP1_MAX_HEADER_BYTES);
}

int http1_begin(struct http1 *h, int is_head, uint64_t max_body, int hash)
{
    http1_global_init();
    clear_values(h);
    decoder_free(h->dec);
    h->dec = NULL;
    buf_reset(&h->field);
    buf_reset(&h->value);
    if (hash && h->sha == NULL && (h->sha = EVP_MD_CTX_new()) == NULL)
        return -ENOMEM;
    if (!hash) {
        EVP_MD_CTX_free(h->sha);
        h->sha = NULL;
    }
    if (h->sha != NULL && EVP_DigestInit_ex(h->sha, EVP_sha256(), NULL) != 1)
        return -ENOMEM;
    /* llhttp_init zeroes the parser, data included: set data afterwards. */
    llhttp_init(&h->parser, HTTP_RESPONSE, &settings);
    h->parser.data = h;
    h->is_head = is_head;
    h->max_body = max_body;
    h->header_bytes = 0;
    h->got_bytes = 0;
    h->status = 0;
    h->done = 0;
    h->keep_alive = 0;
    h->bytes = 0;
    h->wire_bytes = 0;
    h->err = SALVO_E_OK;
    h->msg[0] = '\0';
    return 0;
}

/* Classifies a parser error: our own (too_large, ...) when a callback recorded one. */
static enum http1_rc parse_error(struct http1 *h, llhttp_errno_t err)
{
    const char *reason = llhttp_get_error_reason(&h->parser);

    h->keep_alive = 0;
    if (h->err != SALVO_E_OK)
        return HTTP1_ERROR;
    h->err = SALVO_E_PROTOCOL;
    snprintf(h->msg, sizeof(h->msg), "%s: %s", llhttp_errno_name(err),
             reason ? reason : "parse error");
    return HTTP1_ERROR;
}

enum http1_rc http1_feed(struct http1 *h, const char *data, size_t len, size_t *used)
{
    llhttp_errno_t err;

    *used = 0;
    if (h->err != SALVO_E_OK)
        return HTTP1_ERROR;
    if (h->done) {
        /* More bytes after the response, in a later read: as unasked-for as below. */
        if (len > 0)
            h->keep_alive = 0;
        return HTTP1_DONE;
    }
    if (len == 0)
        return HTTP1_AGAIN;
    h->got_bytes = 1;
    err = llhttp_execute(&h->parser, data, len);
    if (err == HPE_OK) {
        *used = len;
        return HTTP1_AGAIN;
    }
    if (err == HPE_PAUSED && h->done) {
        *used = (size_t)(llhttp_get_error_pos(&h->parser) - data);
        /* Bytes we never asked for: salvo does not pipeline, so the stream is unusable. */
        if (*used < len)
            h->keep_alive = 0;
        return HTTP1_DONE;
    }
    return parse_error(h, err);
}

enum http1_rc http1_eof(struct http1 *h)
{
    llhttp_errno_t err;

    if (h->err != SALVO_E_OK)
        return HTTP1_ERROR; /* llhttp_finish returns 0 in an error state */
    h->keep_alive = 0;
    if (h->done)
        return HTTP1_DONE;
    if (!h->got_bytes) {
        h->err = SALVO_E_EMPTY_REPLY;
        snprintf(h->msg, sizeof(h->msg), "connection closed before any response byte");
        return HTTP1_ERROR;
    }
    err = llhttp_finish(&h->parser);
    if (h->err != SALVO_E_OK)
        return HTTP1_ERROR; /* a callback inside llhttp_finish failed (decode, say) */
    if (err == HPE_PAUSED || (err == HPE_OK && h->done)) {
        h->keep_alive = 0; /* set by on_message_complete; the connection is gone anyway */
        return HTTP1_DONE;
    }
    if (err == HPE_OK || err == HPE_INVALID_EOF_STATE) {
        /* HPE_OK without done: only interim responses arrived before the close. */
        h->err = SALVO_E_PARTIAL;
        snprintf(h->msg, sizeof(h->msg), "connection closed before the end of the %s",
                 h->status != 0 ? "body" : "headers");
        return HTTP1_ERROR;
    }
    return parse_error(h, err);
}

void http1_sha256_hex(struct http1 *h, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;

    out[0] = '\0';
    if (h->sha == NULL || EVP_DigestFinal_ex(h->sha, md, &n) != 1 || n != 32)
        return;
    for (i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void http1_clear(struct http1 *h)
{
    h->status = 0;
    h->bytes = 0;
    h->wire_bytes = 0;
    h->got_bytes = 0;
}

void http1_end(struct http1 *h)
{
    clear_values(h);
    decoder_free(h->dec);
    h->dec = NULL;
    EVP_MD_CTX_free(h->sha);
    h->sha = NULL;
    buf_free(&h->field);
    buf_free(&h->value);
}
