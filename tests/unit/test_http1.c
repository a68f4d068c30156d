/*
 * test_http1.c -- the request writer's exact bytes, and the response glue driven by the
 * fixtures in tests/fixtures/http1/ (llhttp's own way of testing: data, not code).
 *
 * A fixture is an expectation block of "# key: value" lines ("## text" is a comment),
 * a line "---", then the raw response bytes. Every fixture is fed whole, one byte at a
 * time, and split into two feeds at every position, and must give the same outcome each
 * time. Every feed is a fresh malloc'd copy that is freed right after the call, so a
 * pointer kept into the caller's bytes shows up under ASan or valgrind.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "http1.h"
#include "result.h"

/* ---- fixtures ------------------------------------------------------------------------ */

struct fixture {
    char name[128];
    char *raw; /* response bytes */
    size_t len;
    int status;      /* expected final status, 0 when none */
    salvo_err_t err; /* expected class */
    int keep_alive;
    int head;        /* the request was HEAD */
    int eof;         /* feed EOF after the bytes */
    long body_bytes; /* -1: not checked */
    long extra;      /* bytes past the response; -1: not checked */
    uint64_t max_body;
    char sha256[65]; /* "" : not checked */
    char *location;  /* NULL: not checked; "-": must be absent */
    char *retry_after;
    char *content_encoding;
    char *message;         /* NULL: not checked */
    int location_conflict; /* -1: not checked */
};

/* What one run produced. */
struct outcome {
    enum http1_rc rc;
    salvo_err_t err;
    char msg[HTTP1_MSG_LEN];
    int status, keep_alive;
    uint64_t bytes, wire_bytes;
    size_t used;
    char sha256[65];
    char *location, *retry_after, *content_encoding;
    int location_conflict;
};

static const char *fixture_dir(char *path, size_t n)
{
    const char *root = getenv("SALVO_ROOT");

    snprintf(path, n, "%s/tests/fixtures/http1", root ? root : ".");
    return path;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)n + 1)) != NULL) {
        *len = fread(p, 1, (size_t)n, f);
        p[*len] = '\0';
    }
    fclose(f);
    return p;
}

/* Applies one "key: value" line; returns 0, or -1 for an unknown key or a bad value. */
static int fixture_key(struct fixture *fx, const char *key, const char *val)
{
    if (strcmp(key, "status") == 0)
        fx->status = atoi(val);
    else if (strcmp(key, "error") == 0)
        return (fx->err = result_err_from_name(val)) == SALVO_E_COUNT ? -1 : 0;
    else if (strcmp(key, "keep-alive") == 0)
        fx->keep_alive = atoi(val);
    else if (strcmp(key, "head") == 0)
        fx->head = atoi(val);
    else if (strcmp(key, "eof") == 0)
        fx->eof = atoi(val);
    else if (strcmp(key, "body-bytes") == 0)
        fx->body_bytes = atol(val);
    else if (strcmp(key, "extra") == 0)
        fx->extra = atol(val);
    else if (strcmp(key, "max-body") == 0)
        fx->max_body = strtoull(val, NULL, 10);
    else if (strcmp(key, "sha256") == 0)
        return strlen(val) == 64 ? (memcpy(fx->sha256, val, 65), 0) : -1;
    else if (strcmp(key, "location") == 0)
        fx->location = strdup(val);
    else if (strcmp(key, "retry-after") == 0)
        fx->retry_after = strdup(val);
    else if (strcmp(key, "content-encoding") == 0)
        fx->content_encoding = strdup(val);
    else if (strcmp(key, "message") == 0)
        fx->message = strdup(val);
    else if (strcmp(key, "location-conflict") == 0)
        fx->location_conflict = atoi(val);
    else
        return -1;
    return 0;
}

/* Parses the expectation block in place; fx->raw and fx->len then point past "---\n". */
static int fixture_parse(struct fixture *fx, char *text, size_t len)
{
    char *p = text, *end = text + len;

    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *colon;

        if (nl == NULL)
            return -1;
        *nl = '\0';
        if (strcmp(p, "---") == 0) {
            fx->len = (size_t)(end - (nl + 1));
            fx->raw = malloc(fx->len + 1);
            memcpy(fx->raw, nl + 1, fx->len);
            return 0;
        }
        if (strncmp(p, "## ", 3) != 0) {
            colon = strstr(p, ": ");
            if (strncmp(p, "# ", 2) != 0 || colon == NULL)
                return -1;
            *colon = '\0';
            if (fixture_key(fx, p + 2, colon + 2) < 0)
                return -1;
        }
        p = nl + 1;
    }
    return -1;
}

static struct fixture *fixture_load(const char *dir, const char *file)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char path[1400];
    size_t len = 0;
    char *text;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    snprintf(fx->name, sizeof(fx->name), "fixture %.*s", (int)(strlen(file) - 5), file);
    fx->body_bytes = -1;
    fx->extra = -1;
    fx->location_conflict = -1;
    fx->max_body = 1 << 20;
    text = read_all(path, &len);
    if (text == NULL || fixture_parse(fx, text, len) < 0) {
        fprintf(stderr, "# cannot load fixture %s\n", path);
        exit(1);
    }
    free(text);
    return fx;
}

static void fixture_free(struct fixture *fx)
{
    free(fx->raw);
    free(fx->location);
    free(fx->retry_after);
    free(fx->content_encoding);
    free(fx->message);
    free(fx);
}

/* ---- running a response through http1 ------------------------------------------------ */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Feeds raw in the pieces cuts[0..ncuts) mark (each the end offset of a piece). Keeps
 * feeding after HTTP1_DONE like a connection that reads more, and stops at an error. */
static void run_pieces(const struct fixture *fx, const size_t *cuts, size_t ncuts,
                       struct outcome *o)
{
    struct http1 h;
    size_t start = 0, i, used;

    memset(o, 0, sizeof(*o));
    http1_init(&h);
    assert_int_equal(http1_begin(&h, fx->head, fx->max_body, 1, 0), 0);
    o->rc = HTTP1_AGAIN;
    for (i = 0; i < ncuts && o->rc != HTTP1_ERROR; i++) {
        size_t n = cuts[i] - start;
        char *piece = malloc(n ? n : 1);

        memcpy(piece, fx->raw + start, n);
        o->rc = http1_feed(&h, piece, n, &used);
        free(piece);
        assert_true(used <= n);
        o->used += used;
        start = cuts[i];
    }
    if (fx->eof && o->rc != HTTP1_ERROR)
        o->rc = http1_eof(&h);
    o->err = h.err;
    memcpy(o->msg, h.msg, sizeof(o->msg));
    o->status = h.status;
    o->keep_alive = h.keep_alive;
    o->bytes = h.bytes;
    o->wire_bytes = h.wire_bytes;
    if (o->rc == HTTP1_DONE)
        http1_sha256_hex(&h, o->sha256);
    o->location = dup_or_null(h.location);
    o->location_conflict = h.location_conflict;
    o->retry_after = dup_or_null(h.retry_after);
    o->content_encoding = dup_or_null(h.content_encoding);
    http1_end(&h);
}

static void outcome_free(struct outcome *o)
{
    free(o->location);
    free(o->retry_after);
    free(o->content_encoding);
}

static void check_value(const char *fx, const char *mode, const char *what, const char *want,
                        const char *got)
{
    if (want == NULL)
        return;
    if (strcmp(want, "-") == 0 ? got != NULL : (got == NULL || strcmp(want, got) != 0))
        fail_msg("%s (%s): %s: want '%s', got '%s'", fx, mode, what, want, got ? got : "(none)");
}

#define EXPECT_EQ(what, want, got)                                                                 \
    do {                                                                                           \
        if ((long long)(want) != (long long)(got))                                                 \
            fail_msg("%s (%s): %s: want %lld, got %lld (msg '%s')", fx->name, mode, what,          \
                     (long long)(want), (long long)(got), o->msg);                                 \
    } while (0)

static void check_outcome(const struct fixture *fx, const char *mode, const struct outcome *o)
{
    EXPECT_EQ("error class", fx->err, o->err);
    EXPECT_EQ("return code", fx->err == SALVO_E_OK ? HTTP1_DONE : HTTP1_ERROR, o->rc);
    EXPECT_EQ("status", fx->status, o->status);
    EXPECT_EQ("keep-alive", fx->keep_alive, o->keep_alive);
    if (fx->body_bytes >= 0)
        EXPECT_EQ("body bytes", fx->body_bytes, o->bytes);
    /* No decoding yet: what arrived was counted, except the span the cap refused. */
    if (fx->err != SALVO_E_TOO_LARGE)
        EXPECT_EQ("wire bytes", o->bytes, o->wire_bytes);
    EXPECT_EQ("body cap", 1, o->bytes <= fx->max_body);
    if (fx->extra >= 0)
        EXPECT_EQ("bytes used", fx->len - (size_t)fx->extra, o->used);
    if (fx->err != SALVO_E_OK && o->msg[0] == '\0')
        fail_msg("%s (%s): an error without a message", fx->name, mode);
    if (fx->message != NULL && strcmp(fx->message, o->msg) != 0)
        fail_msg("%s (%s): message '%s', want '%s'", fx->name, mode, o->msg, fx->message);
    if (fx->sha256[0] != '\0' && strcmp(fx->sha256, o->sha256) != 0)
        fail_msg("%s (%s): sha256 %s, want %s", fx->name, mode, o->sha256, fx->sha256);
    check_value(fx->name, mode, "location", fx->location, o->location);
    if (fx->location_conflict >= 0)
        EXPECT_EQ("location conflict", fx->location_conflict, o->location_conflict);
    check_value(fx->name, mode, "retry-after", fx->retry_after, o->retry_after);
    check_value(fx->name, mode, "content-encoding", fx->content_encoding, o->content_encoding);
}

/* The same outcome as the whole feed, down to the message (body counts may differ only
 * when the body cap cut the body short at a different byte). */
static void check_same(const struct fixture *fx, const char *mode, const struct outcome *whole,
                       const struct outcome *o)
{
    check_outcome(fx, mode, o);
    if (strcmp(whole->msg, o->msg) != 0)
        fail_msg("%s (%s): message '%s', whole feed gave '%s'", fx->name, mode, o->msg, whole->msg);
    if (whole->rc == HTTP1_DONE)
        EXPECT_EQ("used bytes as whole", whole->used, o->used);
}

static void test_fixture(void **state)
{
    const struct fixture *fx = *state;
    struct outcome whole, o;
    size_t *cuts = malloc((fx->len + 2) * sizeof(*cuts));
    size_t i;
    char mode[64];

    run_pieces(fx, &fx->len, 1, &whole);
    check_outcome(fx, "whole", &whole);
    for (i = 0; i < fx->len; i++)
        cuts[i] = i + 1;
    run_pieces(fx, cuts, fx->len, &o);
    check_same(fx, "byte by byte", &whole, &o);
    outcome_free(&o);
    for (i = 0; i <= fx->len; i++) {
        cuts[0] = i;
        cuts[1] = fx->len;
        snprintf(mode, sizeof(mode), "split at %zu", i);
        run_pieces(fx, cuts, 2, &o);
        check_same(fx, mode, &whole, &o);
        outcome_free(&o);
    }
    outcome_free(&whole);
    free(cuts);
}

/* ---- generated responses ------------------------------------------------------------- */

/* Builds "HTTP/1.1 200 OK" plus one header "X: vvv..." such that status text, names and
 * values add up to exactly `total` header bytes, plus an empty body. */
static char *big_header_response(size_t total, size_t *len)
{
    /* Every byte of a head in the canonical shape counts: the 39 bytes before the value
     * of X, the value, and the 4 of "\r\n\r\n" after it. */
    size_t vlen = total - 39 - 4;
    struct buf b;

    buf_init(&b, 4 * HTTP1_MAX_HEADER_BYTES);
    assert_int_equal(buf_append_str(&b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: "), 0);
    while (vlen-- > 0)
        assert_int_equal(buf_append(&b, "v", 1), 0);
    assert_int_equal(buf_append_str(&b, "\r\n\r\n"), 0);
    *len = buf_size(&b);
    return b.data;
}

/* Feeds data in pieces of `step` bytes; returns the final code. */
static enum http1_rc feed_steps(struct http1 *h, const char *data, size_t len, size_t step)
{
    enum http1_rc rc = HTTP1_AGAIN;
    size_t off = 0, used;

    while (off < len && rc == HTTP1_AGAIN) {
        size_t n = len - off < step ? len - off : step;

        rc = http1_feed(h, data + off, n, &used);
        off += n;
    }
    return rc;
}

static void test_headers_at_cap(void **state)
{
    static const size_t steps[] = {1, 7, 1000, 1 << 20};
    struct http1 h;
    size_t len, i;
    char *raw = big_header_response(HTTP1_MAX_HEADER_BYTES, &len);

    (void)state;
    http1_init(&h);
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(http1_begin(&h, 0, 100, 0, 0), 0);
        assert_int_equal(feed_steps(&h, raw, len, steps[i]), HTTP1_DONE);
        assert_int_equal(h.header_bytes, HTTP1_MAX_HEADER_BYTES);
        assert_int_equal(h.status, 200);
    }
    http1_end(&h);
    free(raw);
}

static void test_headers_over_cap(void **state)
{
    static const size_t steps[] = {1, 7, 1000, 1 << 20};
    struct http1 h;
    size_t len, i;
    char *raw = big_header_response(HTTP1_MAX_HEADER_BYTES + 1, &len);

    (void)state;
    http1_init(&h);
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(http1_begin(&h, 0, 100, 0, 0), 0);
        assert_int_equal(feed_steps(&h, raw, len, steps[i]), HTTP1_ERROR);
        assert_int_equal(h.err, SALVO_E_TOO_LARGE);
        assert_string_equal(h.msg, "response headers over 64 KiB");
        assert_int_equal(h.keep_alive, 0);
        /* The error is sticky, EOF included: llhttp_finish would say HPE_OK here. */
        assert_int_equal(http1_eof(&h), HTTP1_ERROR);
        assert_int_equal(h.err, SALVO_E_TOO_LARGE);
    }
    http1_end(&h);
    free(raw);
}

/* Interim responses count toward the cap: 40 KiB in a 103 and 30 KiB in the 200. */
static void test_headers_cap_spans_interim(void **state)
{
    struct buf b;
    struct http1 h;
    size_t i;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append_str(&b, "HTTP/1.1 103 Early Hints\r\nLink: "), 0);
    for (i = 0; i < 40 * 1024; i++)
        assert_int_equal(buf_append(&b, "a", 1), 0);
    assert_int_equal(buf_append_str(&b, "\r\n\r\nHTTP/1.1 200 OK\r\nX: "), 0);
    for (i = 0; i < 30 * 1024; i++)
        assert_int_equal(buf_append(&b, "b", 1), 0);
    assert_int_equal(buf_append_str(&b, "\r\nContent-Length: 0\r\n\r\n"), 0);
    http1_init(&h);
    assert_int_equal(http1_begin(&h, 0, 100, 0, 0), 0);
    assert_int_equal(feed_steps(&h, buf_head(&b), buf_size(&b), 4096), HTTP1_ERROR);
    assert_int_equal(h.err, SALVO_E_TOO_LARGE);
    http1_end(&h);
    buf_free(&b);
}

/* A flood of interim responses with empty reasons (17 bytes each) reaches the cap: each
 * head counts in whole, not only its (empty) spans. */
static void test_interim_flood(void **state)
{
    static const char interim[] = "HTTP/1.1 100 \r\n\r\n";
    struct buf b;
    struct http1 h;
    size_t i;

    (void)state;
    buf_init(&b, 4 << 20);
    for (i = 0; i < 100000; i++)
        assert_int_equal(buf_append_str(&b, interim), 0);
    assert_int_equal(buf_append_str(&b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
    http1_init(&h);
    assert_int_equal(http1_begin(&h, 0, 100, 0, 0), 0);
    assert_int_equal(feed_steps(&h, buf_head(&b), buf_size(&b), 65536), HTTP1_ERROR);
    assert_int_equal(h.err, SALVO_E_TOO_LARGE);
    assert_int_equal(h.status, 0);
    http1_end(&h);
    buf_free(&b);
}

/* So does a flood of nearly empty header lines ("X:" and its line end). */
static void test_empty_header_lines_flood(void **state)
{
    struct buf b;
    struct http1 h;
    size_t i;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append_str(&b, "HTTP/1.1 200 OK\r\n"), 0);
    for (i = 0; i < 20000; i++)
        assert_int_equal(buf_append_str(&b, "X:\r\n"), 0);
    assert_int_equal(buf_append_str(&b, "Content-Length: 0\r\n\r\n"), 0);
    http1_init(&h);
    assert_int_equal(http1_begin(&h, 0, 100, 0, 0), 0);
    assert_int_equal(feed_steps(&h, buf_head(&b), buf_size(&b), 4096), HTTP1_ERROR);
    assert_int_equal(h.err, SALVO_E_TOO_LARGE);
    http1_end(&h);
    buf_free(&b);
}

/* Every byte of the head counts: 5,001 short lines (85 KB on the wire, of which names and
 * values are only 63.5 KiB) are over the cap. */
static void test_short_header_lines_count_whole(void **state)
{
    struct buf b;
    struct http1 h;
    size_t i;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append_str(&b, "HTTP/1.1 200 OK\r\n"), 0);
    for (i = 0; i < 5001; i++)
        assert_int_equal(buf_printf(&b, "X-Head-%04zu: vv\r\n", i % 10000), 0);
    assert_int_equal(buf_append_str(&b, "Content-Length: 0\r\n\r\n"), 0);
    assert_true(buf_size(&b) > 80000);
    http1_init(&h);
    assert_int_equal(http1_begin(&h, 0, 100, 0, 0), 0);
    assert_int_equal(feed_steps(&h, buf_head(&b), buf_size(&b), 1000), HTTP1_ERROR);
    assert_int_equal(h.err, SALVO_E_TOO_LARGE);
    http1_end(&h);
    buf_free(&b);
}

/* Compresses src with zlib in the given format: 31 for gzip, 15 for zlib ("deflate"). */
static size_t compress_as(const char *src, size_t n, unsigned char *out, size_t cap, int bits)
{
    z_stream z;

    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)src;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

/* Feeds a 200 whose body is `body` under the given Content-Encoding. */
static enum http1_rc feed_coded(struct http1 *h, const char *coding, const unsigned char *body,
                                size_t n)
{
    struct buf b;
    size_t used;

    buf_init(&b, 1 << 20);
    assert_int_equal(buf_printf(&b,
                                "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\n"
                                "Content-Length: %zu\r\n\r\n",
                                coding, n),
                     0);
    assert_int_equal(buf_append(&b, body, n), 0);
    assert_int_equal(http1_begin(h, 0, 1 << 20, 1, 0), 0);
    enum http1_rc rc = http1_feed(h, buf_head(&b), buf_size(&b), &used);
    buf_free(&b);
    return rc;
}

/* Stacked codings are undone last first ("deflate, identity, gzip": gzip came last);
 * a coding salvo cannot undo fails with decode rather than hand back encoded bytes. */
static void test_stacked_codings(void **state)
{
    static const char text[] = "stacked codings, decoded in order";
    unsigned char inner[512], outer[512];
    struct http1 h;
    char hex[65], want[65];

    (void)state;
    size_t n1 = compress_as(text, sizeof text - 1, inner, sizeof inner, 15);
    size_t n2 = compress_as((const char *)inner, n1, outer, sizeof outer, 31);
    http1_init(&h);
    assert_int_equal(feed_coded(&h, "deflate, identity, gzip", outer, n2), HTTP1_DONE);
    assert_int_equal(h.bytes, sizeof text - 1);
    assert_int_equal(h.wire_bytes, n2);
    http1_sha256_hex(&h, hex);
    assert_int_equal(http1_begin(&h, 0, 1 << 20, 1, 0), 0);
    size_t used;
    char plain[128];
    int len = snprintf(plain, sizeof plain, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                       sizeof text - 1, text);
    assert_int_equal(http1_feed(&h, plain, (size_t)len, &used), HTTP1_DONE);
    http1_sha256_hex(&h, want);
    assert_string_equal(hex, want);
    /* In the wrong order the inner stream is not gzip: decode. */
    assert_int_equal(feed_coded(&h, "gzip, deflate", outer, n2), HTTP1_ERROR);
    assert_int_equal(h.err, SALVO_E_DECODE);
    /* Unknown codings, alone or stacked. */
    assert_int_equal(feed_coded(&h, "br", outer, n2), HTTP1_ERROR);
    assert_int_equal(h.err, SALVO_E_DECODE);
    assert_non_null(strstr(h.msg, "br"));
    assert_int_equal(feed_coded(&h, "gzip, zstd", outer, n2), HTTP1_ERROR);
    assert_int_equal(h.err, SALVO_E_DECODE);
    http1_end(&h);
}

/* Under -L, a redirect's body is not the caller's: not counted, not capped, and one with
 * no length is not waited for. */
static void test_redirect_body_dropped(void **state)
{
    static const char with_length[] = "HTTP/1.1 302 Found\r\nLocation: /next\r\n"
                                      "Content-Length: 10\r\n\r\n0123456789";
    static const char to_eof[] = "HTTP/1.1 302 Found\r\nLocation: /next\r\n\r\nmore to come";
    struct http1 h;
    size_t used;

    (void)state;
    http1_init(&h);
    assert_int_equal(http1_begin(&h, 0, 4, 0, 1), 0); /* a cap below the body's size */
    assert_int_equal(http1_feed(&h, with_length, sizeof with_length - 1, &used), HTTP1_DONE);
    assert_int_equal(used, sizeof with_length - 1);
    assert_int_equal(h.bytes, 0);
    assert_int_equal(h.keep_alive, 1);
    assert_int_equal(http1_begin(&h, 0, 4, 0, 1), 0);
    assert_int_equal(http1_feed(&h, to_eof, sizeof to_eof - 1, &used), HTTP1_DONE);
    assert_int_equal(h.keep_alive, 0);
    /* Without -L the same body is the caller's, and over the cap. */
    assert_int_equal(http1_begin(&h, 0, 4, 0, 0), 0);
    assert_int_equal(http1_feed(&h, with_length, sizeof with_length - 1, &used), HTTP1_ERROR);
    assert_int_equal(h.err, SALVO_E_TOO_LARGE);
    http1_end(&h);
}

/* What a caller may and may not put on a request. */
static void test_check_request(void **state)
{
    static const struct {
        const char *method, *header;
        int ok;
    } cases[] = {
        {"GET", "X-Ok: 1", 1},
        {"PROPFIND", "X-Empty:", 1},
        {"GET", "Connection: close", 1},
        {"GET", "connection:  Keep-Alive ", 1},
        {"GET", "X-Tab: a\tb", 1},
        {"GE T", NULL, 0},
        {"", NULL, 0},
        {"GET\r\n", NULL, 0},
        {"GET", "X Y: z", 0},
        {"GET", " Foo: bar", 0},
        {"GET", "Foo", 0},
        {"GET", ": empty name", 0},
        {"GET", "X: a\rb", 0},
        {"GET", "X: a\x01", 0},
        {"GET", "Content-Length: 100", 0},
        {"GET", "transfer-encoding: chunked", 0},
        {"GET", "Connection: upgrade", 0},
        {"GET", "Connection: close, upgrade", 0},
    };
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *h = cases[i].header;
        err[0] = '\0';
        int rc = http1_check_request(cases[i].method, h ? &h : NULL, h ? 1 : 0, err, sizeof err);
        if (rc != (cases[i].ok ? 0 : -1))
            fail_msg("'%s' / '%s': rc %d", cases[i].method, h ? h : "", rc);
        if (!cases[i].ok && err[0] == '\0')
            fail_msg("'%s' / '%s': refused without a reason", cases[i].method, h ? h : "");
    }
    assert_int_equal(http1_check_request(NULL, NULL, 0, err, sizeof err), 0);
}

/* Messages carry the llhttp error name and reason, and the body cap its number. */
static void test_error_messages(void **state)
{
    static const char bad[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
    static const char big[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    struct http1 h;
    size_t used;

    (void)state;
    http1_init(&h);
    assert_int_equal(http1_begin(&h, 0, 100, 0, 0), 0);
    assert_int_equal(http1_feed(&h, bad, sizeof(bad) - 1, &used), HTTP1_ERROR);
    assert_int_equal(h.err, SALVO_E_PROTOCOL);
    assert_non_null(strstr(h.msg, "HPE_UNEXPECTED_CONTENT_LENGTH: "));
    assert_int_equal(http1_begin(&h, 0, 4, 0, 0), 0);
    assert_int_equal(http1_feed(&h, big, sizeof(big) - 1, &used), HTTP1_ERROR);
    assert_string_equal(h.msg, "body over 4 bytes");
    assert_int_equal(http1_begin(&h, 0, 4, 0, 0), 0);
    assert_int_equal(http1_eof(&h), HTTP1_ERROR);
    assert_string_equal(h.msg, "connection closed before any response byte");
    http1_end(&h);
}

/* One struct, several responses (a keep-alive connection): begin resets everything. */
static void test_begin_again(void **state)
{
    static const char r1[] = "HTTP/1.1 302 Found\r\nLocation: /a\r\nContent-Length: 3\r\n\r\nabc";
    static const char r2[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    struct http1 h;
    size_t used;
    char hex[65];

    (void)state;
    http1_init(&h);
    assert_int_equal(http1_begin(&h, 0, 100, 1, 0), 0);
    assert_int_equal(http1_feed(&h, r1, sizeof(r1) - 1, &used), HTTP1_DONE);
    assert_int_equal(used, sizeof(r1) - 1);
    assert_string_equal(h.location, "/a");
    assert_int_equal(h.keep_alive, 1);
    assert_int_equal(http1_begin(&h, 0, 100, 1, 0), 0);
    assert_null(h.location);
    assert_int_equal(h.status, 0);
    assert_int_equal(h.bytes, 0);
    assert_int_equal(http1_feed(&h, r2, sizeof(r2) - 1, &used), HTTP1_DONE);
    http1_sha256_hex(&h, hex);
    /* sha256("ok"), not of "abcok": the digest restarted. */
    assert_string_equal(hex, "2689367b205c16ce32ed4200942b8b8b1e262dfc70d9bc9fbc77c49699a4f1df");
    assert_int_equal(http1_begin(&h, 0, 100, 0, 0), 0);
    assert_null(h.sha);
    http1_end(&h);
    http1_end(&h); /* ending twice is harmless */
}

/* ---- request writer ------------------------------------------------------------------ */

static struct url test_url(char *authority, char *target)
{
    struct url u;

    memset(&u, 0, sizeof(u));
    u.scheme = "http";
    u.host = "example.test";
    u.port = 80;
    u.target = target;
    u.authority = authority;
    return u;
}

static void expect_request(const struct http1_request *req, const char *want)
{
    struct buf b;

    buf_init(&b, 1 << 16);
    assert_int_equal(http1_write_request(&b, req), 0);
    assert_int_equal(buf_size(&b), strlen(want));
    assert_memory_equal(buf_head(&b), want, strlen(want));
    buf_free(&b);
}

static void test_write_get(void **state)
{
    struct url u = test_url("example.test:8080", "/a/b?q=1");
    struct http1_request req = {
        .method = "GET", .url = &u, .user_agent = "salvo/0.1.0", .keepalive = 1};

    (void)state;
    expect_request(&req, "GET /a/b?q=1 HTTP/1.1\r\nHost: example.test:8080\r\n"
                         "User-Agent: salvo/0.1.0\r\nAccept: */*\r\n\r\n");
}

/* The lines an engine renders once stand in for the ones written per request, byte for
 * byte; a request with headers of its own writes its lines itself, and a user agent that
 * could split the request renders nothing. */
static void test_default_lines(void **state)
{
    struct url u = test_url("example.test", "/x");
    const char *hdrs[] = {"User-Agent: mine"};
    struct http1_request req = {
        .method = "GET", .url = &u, .user_agent = "salvo/9", .keepalive = 1, .compressed = 1};
    struct buf lines;

    (void)state;
    buf_init(&lines, 1 << 16);
    assert_int_equal(http1_default_lines(&lines, "salvo/9", 1), 0);
    assert_int_equal(buf_size(&lines), strlen("User-Agent: salvo/9\r\nAccept: */*\r\n"
                                              "Accept-Encoding: gzip, deflate\r\n"));
    const char *want = "GET /x HTTP/1.1\r\nHost: example.test\r\nUser-Agent: salvo/9\r\n"
                       "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n\r\n";
    expect_request(&req, want);
    req.default_lines = buf_head(&lines);
    req.default_lines_len = buf_size(&lines);
    expect_request(&req, want);
    /* They are copied as they are, in the defaults' place. */
    req.default_lines = "X-Rendered: once\r\n";
    req.default_lines_len = strlen(req.default_lines);
    expect_request(&req, "GET /x HTTP/1.1\r\nHost: example.test\r\nX-Rendered: once\r\n\r\n");
    req.headers = hdrs;
    req.headers_len = 1;
    expect_request(&req, "GET /x HTTP/1.1\r\nHost: example.test\r\nUser-Agent: mine\r\n"
                         "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n\r\n");
    buf_reset(&lines);
    assert_int_equal(http1_default_lines(&lines, "ua\r\nX-Injected: 1", 1), -EINVAL);
    assert_int_equal(buf_size(&lines), 0);
    buf_free(&lines);
}

static void test_write_head_close(void **state)
{
    struct url u = test_url("[::1]", "/");
    const char *hdrs[] = {"X-Trace: 1", "If-None-Match: \"x\""};
    struct http1_request req = {.method = "HEAD",
                                .url = &u,
                                .user_agent = "ua",
                                .headers = hdrs,
                                .headers_len = 2,
                                .keepalive = 0};

    (void)state;
    expect_request(&req, "HEAD / HTTP/1.1\r\nHost: [::1]\r\nUser-Agent: ua\r\nAccept: */*\r\n"
                         "X-Trace: 1\r\nIf-None-Match: \"x\"\r\nConnection: close\r\n\r\n");
}

/* A user's Connection header replaces salvo's: one Connection line on the wire. */
static void test_write_user_connection(void **state)
{
    struct url u = test_url("example.test", "/");
    const char *hdrs[] = {"Connection: close"};
    struct http1_request req = {.method = "GET",
                                .url = &u,
                                .user_agent = "ua",
                                .headers = hdrs,
                                .headers_len = 1,
                                .keepalive = 0};

    (void)state;
    expect_request(&req, "GET / HTTP/1.1\r\nHost: example.test\r\nUser-Agent: ua\r\n"
                         "Accept: */*\r\nConnection: close\r\n\r\n");
    assert_int_equal(http1_asks_close(hdrs, 1), 1);
}

static void test_write_post(void **state)
{
    struct url u = test_url("example.test", "/submit");
    const char *hdrs[] = {"Content-Type: application/json"};
    struct http1_request req = {.method = "POST",
                                .url = &u,
                                .user_agent = "ua",
                                .headers = hdrs,
                                .headers_len = 1,
                                .body = "{\"a\":1}",
                                .body_len = 7,
                                .keepalive = 1};

    (void)state;
    expect_request(&req, "POST /submit HTTP/1.1\r\nHost: example.test\r\nUser-Agent: ua\r\n"
                         "Accept: */*\r\nContent-Type: application/json\r\n"
                         "Content-Length: 7\r\n\r\n{\"a\":1}");
    /* POST and PUT always say how long the (empty) body is. */
    req.body = NULL;
    req.body_len = 0;
    req.method = "PUT";
    expect_request(&req, "PUT /submit HTTP/1.1\r\nHost: example.test\r\nUser-Agent: ua\r\n"
                         "Accept: */*\r\nContent-Type: application/json\r\n"
                         "Content-Length: 0\r\n\r\n");
}

static void test_write_override(void **state)
{
    struct url u = test_url("example.test", "/");
    const char *hdrs[] = {"X-A: 1", "accept: text/html", "HOST: other.test", "user-agent: me"};
    struct http1_request req = {.method = "GET",
                                .url = &u,
                                .user_agent = "salvo",
                                .headers = hdrs,
                                .headers_len = 4,
                                .keepalive = 1};

    (void)state;
    /* The replacements take the defaults' places, so Host stays the first field. */
    expect_request(&req, "GET / HTTP/1.1\r\nHOST: other.test\r\nuser-agent: me\r\n"
                         "accept: text/html\r\nX-A: 1\r\n\r\n");
    /* A name that merely starts like a default is not one. */
    hdrs[0] = "Accept-Language: en";
    req.headers_len = 1;
    expect_request(&req, "GET / HTTP/1.1\r\nHost: example.test\r\nUser-Agent: salvo\r\n"
                         "Accept: */*\r\nAccept-Language: en\r\n\r\n");
}

static void test_write_refuses_injection(void **state)
{
    static const char *const bad[] = {
        "X-A: 1\r\nX-Injected: 1",
        "X-A: 1\n",
        "X-A: 1\r",
        "NoColon",
        ": empty-name",
        "Bad Name: 1",
        "X(A): 1",
        "",
    };
    struct url u = test_url("example.test", "/");
    const char *hdrs[1];
    struct http1_request req = {.method = "GET",
                                .url = &u,
                                .user_agent = "ua",
                                .headers = hdrs,
                                .headers_len = 1,
                                .keepalive = 1};
    struct buf b;
    size_t i;

    (void)state;
    buf_init(&b, 1 << 16);
    assert_int_equal(buf_append_str(&b, "kept"), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hdrs[0] = bad[i];
        assert_int_equal(http1_write_request(&b, &req), -EINVAL);
    }
    hdrs[0] = "X-A: 1";
    req.user_agent = "ua\r\nX-Injected: 1";
    assert_int_equal(http1_write_request(&b, &req), -EINVAL);
    req.user_agent = "ua";
    req.method = "GET /x HTTP/1.1\r\n";
    assert_int_equal(http1_write_request(&b, &req), -EINVAL);
    req.method = "GET";
    u.target = "/\r\nX: 1";
    assert_int_equal(http1_write_request(&b, &req), -EINVAL);
    /* A refused request wrote nothing. */
    assert_int_equal(buf_size(&b), 4);
    assert_memory_equal(buf_head(&b), "kept", 4);
    buf_free(&b);
}

/* A request that does not fit the buffer's cap fails whole, leaving the buffer as it was. */
static void test_write_over_cap(void **state)
{
    struct url u = test_url("example.test", "/");
    struct http1_request req = {.method = "GET", .url = &u, .user_agent = "ua", .keepalive = 1};
    struct buf b;

    (void)state;
    buf_init(&b, 40);
    assert_int_equal(buf_append_str(&b, "prefix"), 0);
    assert_int_equal(http1_write_request(&b, &req), -E2BIG);
    assert_int_equal(buf_size(&b), 6);
    assert_memory_equal(buf_head(&b), "prefix", 6);
    buf_free(&b);
}

/* ---- main ---------------------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads every NAME.http of the fixture directory, sorted; exits when there are none. */
static size_t load_fixtures(struct fixture ***out)
{
    char dir[1024], *names[256];
    size_t n = 0, i;
    struct dirent *e;
    DIR *d = opendir(fixture_dir(dir, sizeof(dir)));

    if (d == NULL) {
        fprintf(stderr, "# no fixture directory %s (set SALVO_ROOT)\n", dir);
        exit(1);
    }
    while ((e = readdir(d)) != NULL && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".http") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "# no fixtures in %s\n", dir);
        exit(1);
    }
    qsort(names, n, sizeof(names[0]), by_name);
    *out = calloc(n, sizeof(**out));
    for (i = 0; i < n; i++) {
        (*out)[i] = fixture_load(dir, names[i]);
        free(names[i]);
    }
    return n;
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_headers_at_cap),
        cmocka_unit_test(test_headers_over_cap),
        cmocka_unit_test(test_headers_cap_spans_interim),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_interim_flood),
        cmocka_unit_test(test_empty_header_lines_flood),
        cmocka_unit_test(test_check_request),
        cmocka_unit_test(test_short_header_lines_count_whole),
        cmocka_unit_test(test_stacked_codings),
        cmocka_unit_test(test_redirect_body_dropped),
        cmocka_unit_test(test_write_user_connection),
        cmocka_unit_test(test_begin_again),
        cmocka_unit_test(test_write_get),
        cmocka_unit_test(test_default_lines),
        cmocka_unit_test(test_write_head_close),
        cmocka_unit_test(test_write_post),
        cmocka_unit_test(test_write_override),
        cmocka_unit_test(test_write_refuses_injection),
        cmocka_unit_test(test_write_over_cap),
    };
    size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
    struct fixture **fx;
    size_t nfx = load_fixtures(&fx), i;
    struct CMUnitTest *tests = calloc(nfx + nfixed, sizeof(*tests));
    int rc;

    http1_global_init();
    for (i = 0; i < nfx; i++) {
        tests[i].name = fx[i]->name;
        tests[i].test_func = test_fixture;
        tests[i].initial_state = fx[i];
    }
    memcpy(tests + nfx, fixed, sizeof(fixed));
    rc = _cmocka_run_group_tests("http1", tests, nfx + nfixed, NULL, NULL);
    for (i = 0; i < nfx; i++)
        fixture_free(fx[i]);
    free(fx);
    free(tests);
    return rc;
}
