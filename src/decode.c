/*
 * decode.c -- gzip and deflate body decoding with zlib (see decode.h).
 *
 * The decoder inflates into one fixed buffer, hands it to the sink, and repeats until
 * the input is consumed, so memory stays constant whatever the compression ratio.
 * zlib's state is created by decoder_new; its 32 KiB window is allocated by inflate()
 * on first use, once.
 *
 * Two details need bytes before inflate can start or go on:
 *   - deflate: the first two bytes tell the zlib format from raw deflate, and they may
 *     arrive one at a time, so they are held in head[] until both are there;
 *   - gzip: after a member ends, more input is either the next member (it starts with
 *     the gzip magic 1f 8b) or trailing garbage, which is an error.
 */
#include "decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define GZIP_MAGIC0 0x1f /* first byte of every gzip member (RFC 1952 2.3.1) */
#define MSG_LEN     128

struct decoder {
    enum decode_kind kind;           /* what the body is coded with */
    z_stream zs;                     /* inflate state; unused for DECODE_IDENTITY */
    int zs_ready;                    /* inflateInit2 succeeded: inflateEnd is owed */
    int format_known;                /* deflate: zlib or raw was chosen from head[] */
    unsigned char head[2];           /* deflate: first bytes, held until both arrived */
    size_t head_len;                 /* bytes in head */
    int ended;                       /* inflate reported the end of the (last) stream */
    int failed;                      /* an error happened: msg says which; sticky */
    char msg[MSG_LEN];               /* reason of the failure, "" while none */
    unsigned char out[DECODE_CHUNK]; /* inflate output, handed to the sink */
};

int decode_kind_parse(const char *content_encoding)
{
    static const struct {
        const char *name;      /* coding token */
        enum decode_kind kind; /* what it maps to */
    } names[] = {
        {"", DECODE_IDENTITY},   {"identity", DECODE_IDENTITY}, {"gzip", DECODE_GZIP},
        {"x-gzip", DECODE_GZIP}, {"deflate", DECODE_DEFLATE},
    };
    const char *s = content_encoding;
    if (!s)
        return DECODE_IDENTITY;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == n && strncasecmp(s, names[i].name, n) == 0)
            return names[i].kind;
    return -1;
}

struct decoder *decoder_new(enum decode_kind kind)
{
    struct decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->kind = kind;
    if (kind == DECODE_IDENTITY)
        return d;
    /* 16 + MAX_WBITS: gzip wrapper. For deflate start with the zlib wrapper; it is
     * switched to raw by inflateReset2 if the first two bytes say so. */
    int wbits = kind == DECODE_GZIP ? 16 + MAX_WBITS : MAX_WBITS;
    if (inflateInit2(&d->zs, wbits) != Z_OK)
        goto fail;
    d->zs_ready = 1;
    return d;
fail:
    free(d);
    return NULL;
}

/* Records the first failure; returns DECODE_ERROR. */
static int fail(struct decoder *d, const char *why)
{
    if (!d->failed)
        snprintf(d->msg, sizeof(d->msg), "%s", why);
    d->failed = 1;
    return DECODE_ERROR;
}

static int fail_zlib(struct decoder *d, int rc)
{
    char why[MSG_LEN];
    if (rc == Z_NEED_DICT)
        return fail(d, "deflate stream needs a preset dictionary");
    if (rc == Z_MEM_ERROR)
        return fail(d, "out of memory while inflating");
    snprintf(why, sizeof(why), "corrupt %s stream: %s", d->kind == DECODE_GZIP ? "gzip" : "deflate",
             d->zs.msg ? d->zs.msg : zError(rc));
    return fail(d, why);
}

/* Inflates what is in d->zs.next_in until it is consumed (and the output drained), the
 * stream ends, or the sink stops. Returns 0, DECODE_STOPPED or DECODE_ERROR. */
static int inflate_some(struct decoder *d, decode_sink_fn *sink, void *ctx)
{
    for (;;) {
        d->zs.next_out = d->out;
        d->zs.avail_out = sizeof(d->out);
        int rc = inflate(&d->zs, Z_NO_FLUSH);
        size_t n = sizeof(d->out) - d->zs.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            return fail_zlib(d, rc);
        if (rc == Z_STREAM_END)
            d->ended = 1; /* before the sink: a stop on the last piece is still an end */
        if (n > 0 && sink(ctx, (const char *)d->out, n) != 0)
            return DECODE_STOPPED;
        if (rc == Z_STREAM_END)
            return 0;
        /* Z_BUF_ERROR means no progress was possible: all input is used and no output
         * is pending. A full output buffer may hide more output: go round again. */
        if (rc == Z_BUF_ERROR || (d->zs.avail_in == 0 && d->zs.avail_out > 0))
            return 0;
    }
}

/* Input after the end of a stream: the next gzip member, or garbage. A lone 0x1f at
 * the end of a piece is taken as a member start; inflate checks the second byte. */
static int next_member(struct decoder *d, const unsigned char *p)
{
    if (d->kind != DECODE_GZIP || p[0] != GZIP_MAGIC0)
        return fail(d, "trailing garbage after the compressed body");
    if (inflateReset(&d->zs) != Z_OK)
        return fail(d, "cannot restart inflate for the next gzip member");
    d->ended = 0;
    return 0;
}

static int inflate_all(struct decoder *d, const unsigned char *in, size_t len, decode_sink_fn *sink,
                       void *ctx)
{
    d->zs.next_in = (unsigned char *)in; /* zlib's API is not const-clean */
    d->zs.avail_in = (uInt)len;
    while (d->zs.avail_in > 0) {
        if (d->ended && next_member(d, d->zs.next_in) < 0)
            return DECODE_ERROR;
        int rc = inflate_some(d, sink, ctx);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A zlib header (RFC 1950 2.2): CM 8, a window of at most 32 KiB, and a check value
 * making the first two bytes, big-endian, a multiple of 31. */
static int is_zlib_header(const unsigned char h[2])
{
    return (h[0] & 0x0f) == Z_DEFLATED && (h[0] >> 4) <= 7 && (h[0] * 256 + h[1]) % 31 == 0;
}

/* deflate: collects the first two bytes, then picks the format and inflates them.
 * Returns 0 with *used set to the bytes of in taken into head[], or an error. */
static int deflate_start(struct decoder *d, const unsigned char *in, size_t len, size_t *used,
                         decode_sink_fn *sink, void *ctx)
{
    *used = 0;
    while (d->head_len < sizeof(d->head) && *used < len)
        d->head[d->head_len++] = in[(*used)++];
    if (d->head_len < sizeof(d->head))
        return 0;
    d->format_known = 1;
    if (!is_zlib_header(d->head) && inflateReset2(&d->zs, -MAX_WBITS) != Z_OK)
        return fail(d, "cannot switch inflate to raw deflate");
    return inflate_all(d, d->head, sizeof(d->head), sink, ctx);
}

static int identity_feed(const char *in, size_t len, decode_sink_fn *sink, void *ctx)
{
    while (len > 0) {
        size_t n = len < DECODE_CHUNK ? len : DECODE_CHUNK;
        if (sink(ctx, in, n) != 0)
            return DECODE_STOPPED;
        in += n;
        len -= n;
    }
    return 0;
}

int decoder_feed(struct decoder *d, const char *in, size_t len, decode_sink_fn *sink, void *ctx)
{
    const unsigned char *p = (const unsigned char *)in;
    if (d->failed)
        return DECODE_ERROR;
    if (d->kind == DECODE_IDENTITY)
        return identity_feed(in, len, sink, ctx);
    if (d->kind == DECODE_DEFLATE && !d->format_known) {
        size_t used;
        int rc = deflate_start(d, p, len, &used, sink, ctx);
        if (rc != 0)
            return rc;
        p += used;
        len -= used;
    }
    /* avail_in is an unsigned int: feed a huge piece in slices. */
    while (len > 0) {
        size_t n = len < (size_t)1 << 30 ? len : (size_t)1 << 30;
        int rc = inflate_all(d, p, n, sink, ctx);
        if (rc != 0)
            return rc;
        p += n;
        len -= n;
    }
    return 0;
}

int decoder_finish(struct decoder *d)
{
    if (d->failed)
        return DECODE_ERROR;
    if (d->kind == DECODE_IDENTITY || d->ended)
        return 0;
    return fail(d, "compressed body ends early");
}

const char *decoder_message(const struct decoder *d)
{
    return d->msg;
}

void decoder_free(struct decoder *d)
{
    if (!d)
        return;
    if (d->zs_ready)
        inflateEnd(&d->zs);
    free(d);
}
