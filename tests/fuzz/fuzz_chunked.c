/*
 * fuzz_chunked.c -- libFuzzer target for the chunked decoder (chunked.c): the input is
 * decoded whole, then again cut in two at a point byte 0 chooses, and both runs must
 * agree on the outcome, the bytes taken and the data handed on. Besides the sanitizers,
 * the target checks that no run claims more bytes than it was given and that the data
 * is never longer than the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    uint8_t out[1 << 16];
    size_t len;
};

static int collect(void *ctx, const char *p, size_t n)
{
    struct sink *s = ctx;
    size_t room = sizeof s->out - s->len;
    memcpy(s->out + s->len, p, n < room ? n : room);
    s->len += n < room ? n : room;
    return 0;
}

/* Decodes in at most two pieces; returns the final code and the bytes taken. */
static enum chunked_rc decode(const uint8_t *in, size_t n, size_t cut, struct sink *s,
                              size_t *taken)
{
    struct chunked c;
    size_t used = 0;
    enum chunked_rc rc;

    chunked_init(&c);
    s->len = 0;
    rc = chunked_feed(&c, (const char *)in, cut, &used, collect, s);
    *taken = used;
    if (used > cut)
        abort();
    if (rc == CHUNKED_AGAIN) {
        rc = chunked_feed(&c, (const char *)in + cut, n - cut, &used, collect, s);
        if (used > n - cut)
            abort();
        *taken += used;
    }
    if (rc == CHUNKED_ERROR && c.err == NULL)
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sink whole, split;
    size_t t1, t2;

    if (size < 1 || size > sizeof whole.out)
        return 0;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    size_t cut = n ? data[0] % (n + 1) : 0;
    enum chunked_rc r1 = decode(in, n, n, &whole, &t1);
    enum chunked_rc r2 = decode(in, n, cut, &split, &t2);
    if (whole.len > n)
        abort();
    if (r1 != r2 || t1 != t2 || whole.len != split.len || memcmp(whole.out, split.out, whole.len))
        abort();
    return 0;
}
