/*
 * chunked.h -- the chunked transfer coding of HTTP/1.1 (RFC 9112 section 7.1), decoded
 * as bytes arrive: chunk-size lines, chunk data, the last chunk and the trailer section.
 *
 * Accepted, as curl and browsers accept them: bare LF line ends (RFC 9112 2.2 lets a
 * recipient take a single LF for a line end), chunk extensions of every shape the RFC
 * allows (tokens or quoted strings with quoted-pairs, white space around ';' and '='),
 * which are ignored. Refused (CHUNKED_ERROR): a size that is not hexadecimal or does not
 * fit in 62 bits, a CR not followed by LF, bytes the grammar has no place for, and a
 * chunk-size line longer than CHUNKED_LINE_MAX (extensions included).
 *
 * Pure: no I/O and no allocation. Chunk data goes to the caller's sink as it arrives;
 * the trailer section is skipped but counted (trailer_bytes), so that the caller can
 * hold it to its header cap.
 */
#ifndef SALVO_CHUNKED_H
#define SALVO_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#define CHUNKED_LINE_MAX 4096 /* bytes of one chunk-size line, extensions included */

enum chunked_rc {
    CHUNKED_AGAIN, /* all input consumed; more is needed */
    CHUNKED_DONE,  /* the trailer section ended: *used says where */
    CHUNKED_ERROR, /* malformed: chunked.err says why */
    CHUNKED_STOP   /* the sink asked to stop */
};

/* Takes len bytes of chunk data; returns 0 to go on, non-zero to stop. */
typedef int chunked_sink_fn(void *ctx, const char *data, size_t len);

struct chunked {
    int state;            /* where in the grammar the next byte falls */
    uint64_t size;        /* the chunk size being read, then the data left of it */
    unsigned digits;      /* hex digits of the size read so far */
    size_t line_bytes;    /* bytes of the current chunk-size line */
    size_t trailer_bytes; /* bytes of the trailer section, line ends included */
    const char *err;      /* why CHUNKED_ERROR, a static string */
};

void chunked_init(struct chunked *c);

/* Decodes data[0..len). *used is the count of bytes that belong to the chunked body:
 * all of them unless the body ended (CHUNKED_DONE) or the sink stopped it. */
enum chunked_rc chunked_feed(struct chunked *c, const char *data, size_t len, size_t *used,
                             chunked_sink_fn *sink, void *ctx);

#endif
