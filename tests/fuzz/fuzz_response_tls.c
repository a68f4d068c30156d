/*
 * fuzz_response_tls.c -- libFuzzer target for the response path as it is delivered over
 * TLS: the response parser fed the way tls_transport.c hands plaintext up.
 *
 * A real TLS session per input would spend the time in handshakes rather than in the
 * parser, so this target reproduces the delivery pattern instead: the server chooses
 * the record sizes (1 to 16 KiB of plaintext each); the layer reads ciphertext in
 * pieces of 16 KiB + 512 (its CIPHER_READ), which may end inside a record, and a record's
 * plaintext comes up only once the whole record has arrived, at most one record per
 * receive (what drive.c's 64 KiB reads get from tls_read). So http1_feed sees record-
 * sized pieces, and a read that ended inside a record yields nothing until the next.
 *
 * Input layout: bytes 0-3 give two record sizes (big-endian 16-bit each, taken modulo
 * 16 KiB, plus 1), used alternately, and byte 4 the body cap and whether redirects are
 * followed; the rest is the raw response. The promises are those of fuzz_response.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RECORD_MAX (16 * 1024) /* plaintext of one TLS record */

static void run(const uint8_t *data, size_t size, int is_head)
{
    size_t records[2] = {1 + ((size_t)data[0] << 8 | data[1]) % RECORD_MAX,
                         1 + ((size_t)data[2] << 8 | data[3]) % RECORD_MAX};
    uint64_t max_body = (uint64_t)1 << (4 + data[4] % 16);
    const char *p = (const char *)data + 5;
    size_t left = size - 5, i = 0;
    enum http1_rc rc = HTTP1_AGAIN;
    struct http1 h;
    char hex[65];

    http1_init(&h);
    if (http1_begin(&h, is_head, max_body, 1, (data[4] >> 4) & 1) != 0)
        abort();
    while (left > 0 && rc == HTTP1_AGAIN) {
        size_t plain = records[i % 2] < left ? records[i % 2] : left;
        size_t used = 0;

        /* Where the CIPHER_READ reads end does not show here: a read that ends inside
         * a record hands nothing up, and the record comes up whole with a later one. */
        rc = http1_feed(&h, p, plain, &used);
        if (used > plain || (rc == HTTP1_AGAIN && used != plain))
            abort();
        p += plain;
        left -= plain;
        i++;
    }
    if (rc == HTTP1_AGAIN)
        rc = http1_eof(&h);
    if (h.bytes > h.max_body)
        abort();
    if (rc == HTTP1_ERROR && (h.err == SALVO_E_OK || h.msg[0] == '\0'))
        abort();
    if (rc == HTTP1_DONE) {
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
    if (size < 5)
        return 0;
    run(data, size, 0);
    run(data, size, 1);
    return 0;
}
