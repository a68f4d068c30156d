/*
 * http1.c -- HTTP/1.1 responses: the head reader, the glue around llhttp 8.1, the body
 * framing and the content decoders. See http1.h.
 *
 * A response goes through three hands. The head reader takes raw bytes, counts them
 * against the header cap and writes a normalised copy of each head (CRLF line ends, one
 * Content-Length, no "Transfer-Encoding: identity") into h->norm; the status line is
 * passed on as it arrives, so that garbage fails at once, and header lines when whole.
 * llhttp parses that copy (one head per parser, reinitialised per head) and its
 * callbacks record the status, the header values the engine acts on and the framing;
 * they tell llhttp the message has no body, so llhttp never reads body bytes. The body
 * reader then delimits the body (a length, chunked, or the close) and passes it through
 * the content decoders to the sink that counts, caps and hashes it.
 *
 * Re-entrancy: llhttp calls back into this file only from inside llhttp_execute; those
 * callbacks only record facts in struct http1. Nothing leaves the module from a
 * callback, so the caller may free or pool the connection as soon as http1_feed or
 * http1_eof returns.
 */
#include "http1.h"

#include "http1_body.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static llhttp_settings_t settings; /* shared by every parser; set up once */
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

int http1_redirect_status(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* ---- header fields (from the head reader) and llhttp's callbacks: one head each ----- */

/* The slot for the header named [name, name + n), or NULL when salvo ignores it. An
 * interim (1xx) response's values are dropped at its end (on_message_complete). */
static char **wanted(struct http1 *h, const char *name, size_t n)
{
    if (n == 8 && strncasecmp(name, "location", n) == 0)
        return &h->location;
    if (n == 11 && strncasecmp(name, "retry-after", n) == 0)
        return &h->retry_after;
    if (n == 16 && strncasecmp(name, "content-encoding", n) == 0)
        return &h->content_encoding;
    return NULL;
}

/* The accumulated value without trailing white space. */
static const char *trimmed_value(struct http1 *h, size_t *n)
{
    const char *v = buf_size(&h->value) > 0 ? buf_head(&h->value) : "";

    *n = buf_size(&h->value);
    while (*n > 0 && (v[*n - 1] == ' ' || v[*n - 1] == '\t'))
        (*n)--;
    return v;
}

/* Stores the accumulated value in *slot; a repeated field is joined with ", " as
 * RFC 9110 section 5.3 combines list fields. */
static int store_value(struct http1 *h, char **slot)
{
    size_t n;
    const char *v = trimmed_value(h, &n);
    size_t old = *slot ? strlen(*slot) : 0;
    char *s;

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
    size_t n;
    const char *v = trimmed_value(h, &n);

    return strlen(h->location) != n || memcmp(h->location, v, n) != 0;
}

/* Keeps the field just parsed, for the caller (keep_fields). */
static int keep_field(struct http1 *h)
{
    size_t n;
    const char *v = trimmed_value(h, &n);
    if (buf_append(&h->fields, buf_head(&h->field), buf_size(&h->field)) < 0 ||
        buf_append(&h->fields, "", 1) < 0 || buf_append(&h->fields, v, n) < 0 ||
        buf_append(&h->fields, "", 1) < 0)
        return http1_fail(h, SALVO_E_RESOURCE, "out of memory for a response header");
    return 0;
}

/* Ends the field being read, whose value may have had continuation lines: stores the
 * value in its slot, and keeps the field for the caller. Returns 0, or -1 (h->err set). */
static int end_field(struct http1 *h)
{
    char **slot = h->slot;

    if (!h->in_field)
        return 0;
    h->in_field = 0;
    if (h->keep_fields && keep_field(h) != 0)
        return -1;
    if (slot == &h->location && h->location != NULL) {
        h->location_conflict |= location_conflicts(h);
        slot = NULL; /* an identical repeat adds nothing */
    }
    if (slot != NULL && store_value(h, slot) < 0) {
        http1_fail(h, SALVO_E_RESOURCE, "out of memory for a response header");
        return -1;
    }
    buf_reset(&h->field);
    buf_reset(&h->value);
    h->slot = NULL;
    return 0;
}

/*
 * Reads a header line as it is passed on to llhttp (n > 0 bytes, without its CRLF) for
 * the values salvo acts on. llhttp judges the line; this reads it as llhttp's callbacks
 * would hand it over: the name up to the colon, the value without the white space before
 * it, and a continuation line (obs-fold, RFC 9112 5.2) joined to the value it continues
 * byte for byte. Done here, where every line passes once anyway, so that llhttp runs
 * without a callback per header. Returns 0, or -1 (h->err set).
 */
static int take_field(struct http1 *h, const char *line, size_t n)
{
    if (line[0] == ' ' || line[0] == '\t') {
        if (h->in_field && (h->slot != NULL || h->keep_fields) &&
            buf_append(&h->value, line, n) < 0)
            goto oom;
        return 0;
    }
    if (end_field(h) < 0)
        return -1;
    const char *colon = memchr(line, ':', n), *end = line + n;
    if (colon == NULL)
        return 0; /* not a field line: llhttp refuses the head */
    const char *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    h->in_field = 1;
    h->slot = wanted(h, line, (size_t)(colon - line));
    if (h->keep_fields && buf_append(&h->field, line, (size_t)(colon - line)) < 0)
        goto oom;
    if ((h->slot != NULL || h->keep_fields) && buf_append(&h->value, v, (size_t)(end - v)) < 0)
        goto oom;
    return 0;
oom:
    http1_fail(h, SALVO_E_RESOURCE, "out of memory for a response header");
    return -1;
}

/* Sets up the decoders for Content-Encoding: every coding listed, undone last first
 * (RFC 9110 8.4). A coding salvo cannot undo fails the response: handing the still
 * encoded bytes back as the body would be a wrong result. */
static int setup_decoders(struct http1 *h)
{
    const char *s = h->content_encoding;
    enum decode_kind kinds[HTTP1_MAX_CODINGS];
    int n = 0, i;
    char msg[96];

    while (s != NULL && *s != '\0') {
        size_t len = strcspn(s, ",");
        char one[32];
        snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one ? len : sizeof one - 1), s);
        int kind = decode_kind_parse(one);
        if (kind < 0) {
            snprintf(msg, sizeof msg, "unsupported content coding '%.40s'", one);
            return http1_fail(h, SALVO_E_DECODE, msg);
        }
        if (kind != DECODE_IDENTITY) {
            if (n == HTTP1_MAX_CODINGS)
                return http1_fail(h, SALVO_E_DECODE, "more than 4 content codings");
            kinds[n++] = (enum decode_kind)kind;
        }
        s += len + (s[len] == ',');
    }
    for (i = 0; i < n; i++) {
        h->dec[i] = decoder_new(kinds[n - 1 - i]);
        if (h->dec[i] == NULL)
            return http1_fail(h, SALVO_E_RESOURCE, "out of memory for the body decoder");
        h->ndec = i + 1;
    }
    return 0;
}

/* How the final response's body ends, from what llhttp learnt of the head. */
static enum http1_framing framing_of(const struct http1 *h, const llhttp_t *p)
{
    if (h->is_head || h->status == 204 || h->status == 304)
        return HTTP1_NO_BODY;
    if (p->flags & F_CHUNKED)
        return HTTP1_CHUNKED;
    if (p->flags & F_TRANSFER_ENCODING)
        return HTTP1_TO_EOF; /* a coding other than chunked last: read to the close */
    if (p->flags & F_CONTENT_LENGTH)
        return p->content_length > 0 ? HTTP1_LENGTH : HTTP1_NO_BODY;
    return HTTP1_TO_EOF;
}

static int on_headers_complete(llhttp_t *p)
{
    struct http1 *h = p->data;
    int s = p->status_code;

    /* llhttp 8.1 takes one to three digits ("20", "000"): a status below 100 would read
     * as "no status" or a bogus success. RFC 9110 says three digits, 1xx to 5xx. */
    if (s < 100 || s > 999)
        return http1_fail(h, SALVO_E_PROTOCOL, "invalid status code");
    if (s == 101) /* an upgrade salvo never asked for */
        return http1_fail(h, SALVO_E_PROTOCOL, "unexpected 101 Switching Protocols");
    /* Informational: RFC 9112 6.3 ends it at its empty line, whatever length it claims.
     * The final response's head follows. */
    if (s < 200)
        return 1;
    h->status = s;
    h->framing = framing_of(h, p);
    h->body_left = h->framing == HTTP1_LENGTH ? p->content_length : 0;
    h->discard = h->follow_redirects && http1_redirect_status(s) && h->location != NULL &&
                 h->location[0] != '\0' && !h->location_conflict;
    if (!h->discard && h->framing != HTTP1_NO_BODY && setup_decoders(h) != 0)
        return HPE_USER;
    /* Body bytes are salvo's to read: llhttp sees the head alone. */
    return 1;
}

static int on_message_complete(llhttp_t *p)
{
    struct http1 *h = p->data;

    if (p->status_code < 200) {
        free(h->location); /* an interim response's values are not the final one's */
        free(h->retry_after);
        free(h->content_encoding);
        h->location = h->retry_after = h->content_encoding = NULL;
        h->location_conflict = 0;
        buf_reset(&h->fields);
        return HPE_PAUSED;
    }
    /* The message flags say what the head allows; a body read to the close never leaves
     * the connection usable. */
    h->keep_alive = llhttp_should_keep_alive(p) && h->framing != HTTP1_TO_EOF;
    return HPE_PAUSED;
}

static void settings_setup(void)
{
    /* No callback per header: the head reader takes the fields (take_field). */
    llhttp_settings_init(&settings);
    settings.on_headers_complete = on_headers_complete;
    settings.on_message_complete = on_message_complete;
}

/* ---- the head reader ---------------------------------------------------------------- */

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

static void new_head(struct http1 *h)
{
    llhttp_init(&h->parser, HTTP_RESPONSE, &settings);
    h->parser.data = h; /* llhttp_init zeroes the parser, data included */
    h->head_line = 0;
    h->pending_cr = 0;
    h->length[0] = '\0';
    buf_reset(&h->line);
    buf_reset(&h->field);
    buf_reset(&h->value);
    h->slot = NULL;
    h->in_field = 0;
}

static int norm_append(struct http1 *h, const char *p, size_t n)
{
    if (buf_append(&h->norm, p, n) < 0) {
        http1_fail(h, SALVO_E_RESOURCE, "out of memory for a response head");
        return -1;
    }
    return 0;
}

static int is_name(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

/* A Content-Length value that is one number, or a list of the same number ("6, 6"):
 * that number's digits, without leading zeros, in out. 0 when the value is anything
 * else (llhttp then judges the line as it came). */
static int single_length(const char *v, size_t n, char *out, size_t cap)
{
    size_t i = 0, items = 0;

    out[0] = '\0';
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        size_t start = i;
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++;
        if (i == start)
            return 0;
        while (start + 1 < i && v[start] == '0')
            start++;
        size_t len = i - start;
        if (len >= cap)
            return 0;
        if (items++ == 0) {
            memcpy(out, v + start, len); /* not snprintf: this runs once per response */
            out[len] = '\0';
        } else if (strlen(out) != len || memcmp(out, v + start, len) != 0)
            return 0;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i < n && v[i++] != ',')
            return 0;
    }
    return items > 0;
}

/* Passes one whole header line on to llhttp (with CRLF), or drops it: a repeat of the
 * Content-Length already passed on, and "Transfer-Encoding: identity". When crlf is set
 * the line's own CRLF follows it in memory, and goes along in the same copy. What is
 * passed on is also read for its field (take_field). */
static int header_line(struct http1 *h, const char *line, size_t n, int crlf)
{
    char digits[24], length_line[16 + sizeof digits];

    if (is_name(line, n, "transfer-encoding")) {
        const char *v = line + 18;
        size_t vn = n - 18;
        while (vn > 0 && (*v == ' ' || *v == '\t'))
            v++, vn--;
        while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
            vn--;
        if (vn == 8 && strncasecmp(v, "identity", 8) == 0)
            return 0;
    }
    if (is_name(line, n, "content-length") &&
        single_length(line + 15, n - 15, digits, sizeof digits)) {
        if (h->length[0] != '\0' && strcmp(h->length, digits) == 0)
            return 0; /* the same length again */
        if (h->length[0] == '\0') {
            size_t dn = strlen(digits);
            memcpy(h->length, digits, dn + 1); /* both hold 24 bytes */
            memcpy(length_line, "Content-Length: ", 16);
            memcpy(length_line + 16, digits, dn);
            line = length_line; /* the one length, as llhttp is to see it */
            n = 16 + dn;
            crlf = 0;
        }
    }
    if (take_field(h, line, n) < 0)
        return -1;
    if (crlf)
        return norm_append(h, line, n + 2);
    if (norm_append(h, line, n) < 0)
        return -1;
    return norm_append(h, "\r\n", 2);
}

/* Reads head bytes from data until the head's empty line. Returns the bytes consumed
 * (all of len unless the head ended inside it; *ended is set then), or -1 on an error
 * (h->err says which). The normalised bytes wait in h->norm for llhttp. */
static long read_head(struct http1 *h, const char *data, size_t len, int *ended)
{
    size_t i = 0;

    *ended = 0;
    while (i < len && !*ended) {
        if (h->head_line == 0) {
            /* The status line streams on as it comes (garbage fails on its first bytes);
             * a CR is held back until we see whether LF follows it. */
            const char *lf = memchr(data + i, '\n', len - i);
            size_t end = lf ? (size_t)(lf - data) : len;
            size_t n = end - i;
            if (http1_count_head(h, n + (lf != NULL)) < 0)
                return -1;
            if (n > 0 && h->pending_cr && norm_append(h, "\r", 1) < 0)
                return -1;
            if (n > 0)
                h->pending_cr = data[end - 1] == '\r';
            if (n > (size_t)h->pending_cr &&
                norm_append(h, data + i, n - (size_t)h->pending_cr) < 0)
                return -1;
            i = end;
            if (lf != NULL) {
                if (norm_append(h, "\r\n", 2) < 0)
                    return -1;
                h->pending_cr = 0;
                h->head_line = 1;
                i++;
            }
            continue;
        }
        const char *lf = memchr(data + i, '\n', len - i);
        size_t end = lf ? (size_t)(lf - data) : len;
        if (http1_count_head(h, end - i + (lf != NULL)) < 0)
            return -1;
        /* A line that arrived whole is read where it lies; only one cut by the end of a
         * read is gathered in h->line. */
        const char *line = data + i;
        size_t n = end - i;
        int in_place = 1;
        if (lf == NULL || buf_size(&h->line) > 0) {
            in_place = 0;
            if (buf_append(&h->line, data + i, end - i) < 0) {
                http1_fail(h, SALVO_E_RESOURCE, "out of memory for a response header");
                return -1;
            }
            line = buf_head(&h->line);
            n = buf_size(&h->line);
        }
        i = end;
        if (lf == NULL)
            break;
        i++;
        /* One CR before the LF belongs to the line end. */
        int crlf = n > 0 && line[n - 1] == '\r';
        n -= (size_t)crlf;
        h->head_line++;
        if (n == 0) {
            if (end_field(h) < 0 || norm_append(h, "\r\n", 2) < 0)
                return -1;
            *ended = 1;
        } else if (header_line(h, line, n, crlf && in_place) < 0) {
            return -1;
        }
        buf_reset(&h->line);
    }
    return (long)i;
}

/* Hands llhttp what the head reader normalised. With the head ended, llhttp must have
 * completed the message (its callbacks pause it there). */
static enum http1_rc parse_head(struct http1 *h, int ended)
{
    llhttp_errno_t err = HPE_OK;

    if (buf_size(&h->norm) > 0)
        err = llhttp_execute(&h->parser, buf_head(&h->norm), buf_size(&h->norm));
    buf_reset(&h->norm);
    if (err != HPE_OK && err != HPE_PAUSED)
        return parse_error(h, err);
    if (ended && err != HPE_PAUSED)
        return parse_error(h, HPE_INVALID_EOF_STATE);
    return ended ? HTTP1_DONE : HTTP1_AGAIN;
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
    buf_init(&h->line, HTTP1_MAX_HEADER_BYTES);
    buf_init(&h->norm, 2 * HTTP1_MAX_HEADER_BYTES); /* a line end may double */
    buf_init(&h->fields, 2 * HTTP1_MAX_HEADER_BYTES);
}

/* Frees the copied header values and the decoders. */
static void clear_values(struct http1 *h)
{
    free(h->location);
    free(h->retry_after);
    free(h->content_encoding);
    h->location = h->retry_after = h->content_encoding = NULL;
    h->location_conflict = 0;
    for (int i = 0; i < h->ndec; i++)
        decoder_free(h->dec[i]);
    h->ndec = 0;
}

int http1_begin(struct http1 *h, int is_head, uint64_t max_body, int hash, int follow_redirects)
{
    http1_global_init();
    clear_values(h);
    buf_reset(&h->norm);
    buf_reset(&h->fields);
    h->nhdrs = 0;
    h->keep_fields = h->pause_at_head = 0;
    h->body_fn = NULL;
    h->body_ctx = NULL;
    h->stopped = 0;
    if (hash && h->sha == NULL && (h->sha = EVP_MD_CTX_new()) == NULL)
        return -ENOMEM;
    if (!hash) {
        EVP_MD_CTX_free(h->sha);
        h->sha = NULL;
    }
    if (h->sha != NULL && EVP_DigestInit_ex(h->sha, EVP_sha256(), NULL) != 1)
        return -ENOMEM;
    new_head(h);
    chunked_init(&h->chunked);
    h->is_head = is_head;
    h->follow_redirects = follow_redirects;
    h->max_body = max_body;
    h->in_body = 0;
    h->header_bytes = 0;
    h->got_bytes = 0;
    h->status = 0;
    h->framing = HTTP1_NO_BODY;
    h->body_left = 0;
    h->discard = 0;
    h->discarded = 0;
    h->done = 0;
    h->keep_alive = 0;
    h->bytes = 0;
    h->wire_bytes = 0;
    h->err = SALVO_E_OK;
    h->msg[0] = '\0';
    return 0;
}

/* Reads heads until the final one has ended. Returns HTTP1_DONE when it has (*n bytes
 * of data were head bytes), HTTP1_AGAIN when all of data was taken, or HTTP1_ERROR. */
static enum http1_rc read_heads(struct http1 *h, const char *data, size_t len, size_t *n)
{
    *n = 0;
    while (*n < len) {
        int ended;
        long k = read_head(h, data + *n, len - *n, &ended);
        enum http1_rc rc = k < 0 ? HTTP1_ERROR : parse_head(h, ended);
        if (rc == HTTP1_ERROR) {
            h->keep_alive = 0;
            return HTTP1_ERROR;
        }
        *n += (size_t)k;
        if (!ended)
            return HTTP1_AGAIN;
        if (h->status != 0)
            return HTTP1_DONE;
        new_head(h); /* an interim response ended: the final one's head follows */
    }
    return HTTP1_AGAIN;
}

enum http1_rc http1_feed(struct http1 *h, const char *data, size_t len, size_t *used)
{
    size_t off = 0, n;
    enum http1_rc rc = HTTP1_AGAIN;

    *used = 0;
    if (h->err != SALVO_E_OK)
        return HTTP1_ERROR;
    if (h->done) {
        /* More bytes after the response, in a later read: never asked for. */
        if (len > 0)
            h->keep_alive = 0;
        return HTTP1_DONE;
    }
    if (len == 0 && !h->in_body)
        return HTTP1_AGAIN;
    if (len > 0)
        h->got_bytes = 1;
    if (!h->in_body) {
        rc = read_heads(h, data, len, &n);
        off = n;
        if (rc != HTTP1_DONE) {
            *used = rc == HTTP1_AGAIN ? len : 0;
            return rc;
        }
        h->in_body = 1;
        /* The caller wants to act on the head before any body byte (a redirect that is
         * followed is not the caller's). */
        if (h->pause_at_head && !h->discard) {
            *used = off;
            return HTTP1_HEAD;
        }
        /* A redirect body with no end but the close is not waited for. */
        if (h->discard && h->framing == HTTP1_TO_EOF)
            rc = http1_give_up_discard(h);
        else
            rc = HTTP1_AGAIN;
    }
    if (!h->done) {
        rc = http1_read_body(h, data + off, len - off, &n);
        off += n;
    }
    if (rc == HTTP1_ERROR) {
        h->keep_alive = 0;
        return HTTP1_ERROR;
    }
    if (rc != HTTP1_DONE) {
        *used = len;
        return HTTP1_AGAIN;
    }
    *used = off;
    /* Bytes we never asked for: salvo does not pipeline, so the stream is unusable. */
    if (off < len)
        h->keep_alive = 0;
    return HTTP1_DONE;
}

enum http1_rc http1_eof(struct http1 *h)
{
    if (h->err != SALVO_E_OK)
        return HTTP1_ERROR;
    h->keep_alive = 0;
    if (h->done)
        return HTTP1_DONE;
    if (!h->got_bytes) {
        h->err = SALVO_E_EMPTY_REPLY;
        snprintf(h->msg, sizeof(h->msg), "connection closed before any response byte");
        return HTTP1_ERROR;
    }
    if (h->in_body && h->framing == HTTP1_TO_EOF) {
        enum http1_rc rc = http1_finish_body(h);
        h->keep_alive = 0;
        return rc;
    }
    h->err = SALVO_E_PARTIAL;
    snprintf(h->msg, sizeof(h->msg), "connection closed before the end of the %s",
             h->in_body ? "body" : "headers");
    return HTTP1_ERROR;
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

size_t http1_fields(struct http1 *h, const salvo_header_t **out)
{
    *out = NULL;
    if (h->nhdrs == 0 && buf_size(&h->fields) > 0) {
        const char *p = buf_head(&h->fields), *end = p + buf_size(&h->fields);
        size_t n = 0;
        for (const char *q = p; q < end; q += strlen(q) + 1)
            n++;
        n /= 2;
        if (n > h->hdrs_cap) {
            salvo_header_t *a = realloc(h->hdrs, n * sizeof *a);
            if (a == NULL)
                return 0;
            h->hdrs = a;
            h->hdrs_cap = n;
        }
        for (size_t i = 0; i < n; i++) {
            h->hdrs[i].name = p;
            p += strlen(p) + 1;
            h->hdrs[i].value = p;
            p += strlen(p) + 1;
        }
        h->nhdrs = n;
    }
    *out = h->nhdrs ? h->hdrs : NULL;
    return h->nhdrs;
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
    EVP_MD_CTX_free(h->sha);
    h->sha = NULL;
    buf_free(&h->field);
    buf_free(&h->value);
    buf_free(&h->line);
    buf_free(&h->norm);
    buf_free(&h->fields);
    free(h->hdrs);
    h->hdrs = NULL;
    h->nhdrs = h->hdrs_cap = 0;
}
