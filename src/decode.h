/*
 * decode.h -- content decoding of HTTP response bodies (Content-Encoding gzip and
 * deflate) with zlib.
 *
 * A decoder turns compressed body bytes, fed in whatever pieces the network delivers,
 * into decoded bytes handed to a sink. It owns one fixed output buffer of
 * DECODE_CHUNK bytes and zlib's state (about 40 KiB in all, allocated by decoder_new and
 * on the first byte); it never allocates in proportion to the output, so a decompression
 * bomb costs the caller's size cap, not memory. The sink enforces that cap: it returns
 * non-zero to stop, and decoder_feed returns DECODE_STOPPED at once.
 *
 * HTTP's "deflate" is the zlib format (RFC 9110 8.4.1.2), but some servers send raw
 * deflate; like curl and browsers, the decoder looks at the first two bytes and falls
 * back to raw deflate when they are not a zlib header. "gzip" may hold several
 * concatenated members (RFC 1952), which decode as one body.
 *
 * Re-entrancy: the sink runs inside decoder_feed and must not call back into the same
 * decoder (feeding or freeing it); it may do anything else. Not thread-safe; one decoder
 * per response.
 */
#ifndef SALVO_DECODE_H
#define SALVO_DECODE_H

#include <stddef.h>

#define DECODE_CHUNK (16 * 1024) /* largest piece handed to the sink at once */

enum decode_kind {
    DECODE_IDENTITY, /* no coding: bytes pass through unchanged */
    DECODE_GZIP,     /* "gzip" or "x-gzip": RFC 1952, members may be concatenated */
    DECODE_DEFLATE,  /* "deflate": zlib-wrapped (RFC 1950), or raw deflate as a fallback */
    DECODE_KIND_COUNT
};

/* Results of decoder_feed and decoder_finish besides 0 (success). */
#define DECODE_STOPPED 1  /* the sink asked to stop; the decoder stays usable */
#define DECODE_ERROR   -1 /* corrupt, truncated or unsupported stream: see decoder_message */

/* Maps one content coding to a kind: "gzip" and "x-gzip" to DECODE_GZIP, "deflate" to
 * DECODE_DEFLATE, NULL, "" and "identity" to DECODE_IDENTITY. Anything else (br, zstd,
 * a list of several codings) gives -1. Case-insensitive; spaces and tabs around the
 * value are ignored. (A list is split by the caller, which chains one decoder per
 * coding and fails the response on a coding it cannot undo.) */
int decode_kind_parse(const char *content_encoding);

/* Receives decoded bytes (borrowed: valid only during the call, len <= DECODE_CHUNK).
 * Returns 0 to go on, non-zero to stop (e.g. the body size cap was reached). */
typedef int decode_sink_fn(void *ctx, const char *data, size_t len);

struct decoder;

/* A decoder for one body; NULL when out of memory. Free it with decoder_free. */
struct decoder *decoder_new(enum decode_kind kind);

/* Decodes len bytes of the body and passes the output to sink. Returns 0 when all of
 * in was consumed, DECODE_STOPPED when the sink returned non-zero (the rest of in is
 * dropped), or DECODE_ERROR. An error is final: every later call returns it again. */
int decoder_feed(struct decoder *d, const char *in, size_t len, decode_sink_fn *sink, void *ctx);

/* Called at the end of the body: 0 when the compressed stream ended properly,
 * DECODE_ERROR when it was cut short ("compressed body ends early") or had failed. */
int decoder_finish(struct decoder *d);

/* Why the decoder failed, or "" while it has not. Valid until decoder_free. */
const char *decoder_message(const struct decoder *d);

void decoder_free(struct decoder *d);

#endif
