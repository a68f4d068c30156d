/*
 * fuzz_decode.c -- libFuzzer target for the gzip/deflate decoder over arbitrary bytes.
 *
 * Input layout: byte 0 picks the kind (identity, gzip, deflate), byte 1 the size of the
 * pieces fed (1 to 256 bytes); the rest is the body. The sink stops at a small cap, as
 * http1's does at --max-filesize. Checked promises: pieces are never empty nor larger
 * than DECODE_CHUNK, the sink is not called again once it said stop, an error always
 * has a message, and an error is final.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define SINK_CAP (256 * 1024) /* decoded bytes accepted before the sink asks to stop */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    size_t total;  /* decoded bytes received */
    int stopped;   /* the sink has returned non-zero */
    uint8_t check; /* xor of every byte, so that each one is read */
};

static int sink_fn(void *ctx, const char *data, size_t len)
{
    struct sink *s = ctx;
    if (s->stopped || len == 0 || len > DECODE_CHUNK)
        abort();
    for (size_t i = 0; i < len; i++)
        s->check ^= (uint8_t)data[i];
    s->total += len;
    s->stopped = s->total >= SINK_CAP;
    return s->stopped;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sink s = {0};
    int rc = 0;

    if (size < 2)
        return 0;
    struct decoder *d = decoder_new((enum decode_kind)(data[0] % DECODE_KIND_COUNT));
    size_t step = 1 + (size_t)data[1];
    const char *p = (const char *)data + 2;
    size_t left = size - 2;
    if (d == NULL)
        return 0;
    while (left > 0 && rc == 0) {
        size_t n = step < left ? step : left;
        rc = decoder_feed(d, p, n, sink_fn, &s);
        p += n;
        left -= n;
    }
    if (rc == 0)
        rc = decoder_finish(d);
    if (rc != 0 && rc != DECODE_STOPPED && rc != DECODE_ERROR)
        abort();
    if ((rc == DECODE_STOPPED) != s.stopped)
        abort();
    if (rc == DECODE_ERROR) {
        if (decoder_message(d)[0] == '\0')
            abort();
        if (decoder_feed(d, "x", 1, sink_fn, &s) != DECODE_ERROR ||
            decoder_finish(d) != DECODE_ERROR)
            abort();
    }
    decoder_free(d);
    return 0;
}
