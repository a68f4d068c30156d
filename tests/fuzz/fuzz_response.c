/*
 * fuzz_response.c -- libFuzzer target for the response path: http1_begin, http1_feed
 * with the input cut into pieces, then http1_eof, for a GET and for a HEAD.
 *
 * Input layout: byte 0 and byte 1 give the sizes of the pieces (alternately 1 + b0 and
 * 1 + b1 bytes, so that every split pattern is reachable; when byte 1's high bit is set,
 * 64 times that, up to 16 KiB: the pieces TLS hands up, one record's plaintext at a time)
 * and byte 1 also the body cap; the rest is the raw response. Besides the sanitizers, the target
 * checks the module's promises: a finished response never claims more bytes than it was given, the
 * decoded body stays within the cap, and a failure always has a class and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds one response through a fresh parser. */
static void run(const uint8_t *data, size_t size, int is_head)
{
    size_t scale = data[1] & 0x80 ? 64 : 1; /* TLS records: 64 B to 16 KiB */
    size_t steps[2] = {(1 + (size_t)data[0]) * scale, (1 + (size_t)data[1]) * scale};
    uint64_t max_body = (uint64_t)1 << (4 + data[1] % 16); /* 16 B to 512 KiB */
    const char *p = (const char *)data + 2;
    size_t left = size - 2;
    enum http1_rc rc = HTTP1_AGAIN;
    struct http1 h;
    char hex[65];

    http1_init(&h);
    /* Half the inputs as if redirects were followed, so that redirect bodies are read the
     * way -L reads them. */
    if (http1_begin(&h, is_head, max_body, 1, data[0] & 1) != 0)
        abort();
    for (size_t i = 0; left > 0 && rc == HTTP1_AGAIN; i++) {
        size_t n = steps[i % 2] < left ? steps[i % 2] : left;
        size_t used = 0;
        rc = http1_feed(&h, p, n, &used);
        if (used > n || (rc == HTTP1_AGAIN && used != n))
            abort();
        p += n;
        left -= n;
    }
    if (rc == HTTP1_AGAIN)
        rc = http1_eof(&h);
    if (h.bytes > h.max_body)
        abort();
    if (rc == HTTP1_ERROR && (h.err == SALVO_E_OK || h.msg[0] == '\0'))
        abort();
    if (rc == HTTP1_DONE) {
        /* A finished response has a final status: 200 to 999 (http1.c refuses the one-
         * and two-digit codes llhttp 8.1 lets through). */
        if (h.err != SALVO_E_OK || h.status < 200 || h.status > 999)
            abort();
        http1_sha256_hex(&h, hex);
        if (strlen(hex) != 64)
            abort();
    }
    http1_end(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    run(data, size, 0);
    run(data, size, 1);
    return 0;
}
