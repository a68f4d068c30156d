/*
 * test_decode.c -- gzip and deflate decoding: round trips against zlib's own compressor
 * (fed whole, byte by byte and at every split point), concatenated gzip members,
 * corrupt, truncated and trailing bytes, and a 1 GiB decompression bomb stopped by a
 * 10 MB sink cap without the decoder's memory growing.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "decode.h"

#define WBITS_GZIP (16 + MAX_WBITS) /* deflateInit2 windowBits for each format */
#define WBITS_ZLIB MAX_WBITS
#define WBITS_RAW  (-MAX_WBITS)

#define BOMB_SEGMENT (1024 * 1024)   /* zeros compressed once, then repeated */
#define BOMB_COPIES  1024            /* 1 GiB of zeros in all */
#define BOMB_CAP     (10 * 1000000u) /* the sink stops here */

/* Collects decoded bytes, up to an optional cap at which it asks to stop. */
struct sink {
    char *data;       /* collected bytes (NULL when only counting) */
    size_t len;       /* bytes received (at most cap when capped) */
    size_t cap;       /* stop once len reaches this; 0: no cap */
    size_t calls;     /* sink invocations */
    size_t max_chunk; /* largest piece received */
    int nonzero;      /* some received byte was not 0 (for the bomb) */
    size_t heap_base; /* allocated heap bytes when the decoder was set up */
    size_t heap_max;  /* most allocated heap bytes seen during a sink call */
};

static size_t heap_in_use(void)
{
    return mallinfo2().uordblks;
}

static int collect(void *ctx, const char *data, size_t len)
{
    struct sink *s = ctx;
    s->calls++;
    if (len > s->max_chunk)
        s->max_chunk = len;
    size_t take = s->cap && s->len + len > s->cap ? s->cap - s->len : len;
    if (s->data) {
        memcpy(s->data + s->len, data, take);
    } else {
        for (size_t i = 0; i < take; i++)
            s->nonzero |= data[i] != 0;
    }
    s->len += take;
    size_t heap = heap_in_use();
    if (heap > s->heap_max)
        s->heap_max = heap;
    return s->cap && s->len >= s->cap;
}

/* Deterministic, compressible text: words picked by a small LCG. */
static char *make_text(size_t n)
{
    static const char *const words[] = {"salvo ", "fetches ", "thousands ", "of ",  "urls\n",
                                        "gzip ",  "deflate ", "zlib ",      "body "};
    char *p = malloc(n);
    uint32_t x = 12345;
    size_t o = 0;
    assert_non_null(p);
    while (o < n) {
        x = x * 1103515245u + 12345u;
        const char *w = words[(x >> 16) % (sizeof(words) / sizeof(words[0]))];
        for (size_t i = 0; w[i] && o < n; i++)
            p[o++] = w[i];
    }
    return p;
}

/* Compresses with zlib's deflate in the format given by wbits; malloc'd result. */
static unsigned char *compress_with(const char *in, size_t n, int wbits, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, n) + 64;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *outlen = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* Decodes z in pieces of at most step bytes (0: whole) and checks the result is want. */
static void decode_check(enum decode_kind kind, const unsigned char *z, size_t zlen,
                         const char *want, size_t wantlen, size_t step)
{
    struct sink s = {.data = malloc(wantlen + 1)};
    struct decoder *d = decoder_new(kind);
    assert_non_null(d);
    assert_non_null(s.data);
    size_t off = 0;
    do {
        size_t n = step && zlen - off > step ? step : zlen - off;
        assert_int_equal(decoder_feed(d, (const char *)z + off, n, collect, &s), 0);
        off += n;
    } while (off < zlen);
    assert_int_equal(decoder_finish(d), 0);
    assert_string_equal(decoder_message(d), "");
    assert_int_equal(s.len, wantlen);
    assert_memory_equal(s.data, want, wantlen);
    assert_true(s.max_chunk <= DECODE_CHUNK);
    decoder_free(d);
    free(s.data);
}

/* Feeds z split once at every position and checks each result. */
static void decode_every_split(enum decode_kind kind, const unsigned char *z, size_t zlen,
                               const char *want, size_t wantlen)
{
    for (size_t cut = 0; cut <= zlen; cut++) {
        struct sink s = {.data = malloc(wantlen + 1)};
        struct decoder *d = decoder_new(kind);
        assert_non_null(d);
        assert_int_equal(decoder_feed(d, (const char *)z, cut, collect, &s), 0);
        assert_int_equal(decoder_feed(d, (const char *)z + cut, zlen - cut, collect, &s), 0);
        assert_int_equal(decoder_finish(d), 0);
        assert_int_equal(s.len, wantlen);
        assert_memory_equal(s.data, want, wantlen);
        decoder_free(d);
        free(s.data);
    }
}

static void round_trip(enum decode_kind kind, int wbits)
{
    size_t big = 300 * 1000, small = 300, zlen;
    char *text = make_text(big);
    unsigned char *z = compress_with(text, big, wbits, &zlen);
    assert_true(zlen < big / 4); /* really compressed: output comes in many chunks */
    decode_check(kind, z, zlen, text, big, 0);
    decode_check(kind, z, zlen, text, big, 1);
    decode_check(kind, z, zlen, text, big, 1000);
    free(z);
    z = compress_with(text, small, wbits, &zlen);
    decode_every_split(kind, z, zlen, text, small);
    decode_check(kind, z, zlen, text, small, 1);
    free(z);
    z = compress_with(text, 0, wbits, &zlen); /* an empty body, compressed */
    decode_check(kind, z, zlen, text, 0, 1);
    free(z);
    free(text);
}

static void test_gzip_round_trip(void **state)
{
    (void)state;
    round_trip(DECODE_GZIP, WBITS_GZIP);
}

static void test_deflate_zlib_round_trip(void **state)
{
    (void)state;
    round_trip(DECODE_DEFLATE, WBITS_ZLIB);
}

static void test_deflate_raw_round_trip(void **state)
{
    (void)state;
    round_trip(DECODE_DEFLATE, WBITS_RAW);
}

static void test_identity(void **state)
{
    size_t n = 3 * DECODE_CHUNK + 5;
    char *text = make_text(n);
    (void)state;
    decode_check(DECODE_IDENTITY, (const unsigned char *)text, n, text, n, 0);
    decode_check(DECODE_IDENTITY, (const unsigned char *)text, n, text, n, 7);
    free(text);
}

/* Three gzip members (the middle one empty) decode as one body. */
static void test_gzip_members(void **state)
{
    char *text = make_text(2000);
    size_t l1, l2, l3;
    (void)state;
    unsigned char *m1 = compress_with(text, 700, WBITS_GZIP, &l1);
    unsigned char *m2 = compress_with(text, 0, WBITS_GZIP, &l2);
    unsigned char *m3 = compress_with(text + 700, 1300, WBITS_GZIP, &l3);
    unsigned char *all = malloc(l1 + l2 + l3);
    assert_non_null(all);
    memcpy(all, m1, l1);
    memcpy(all + l1, m2, l2);
    memcpy(all + l1 + l2, m3, l3);
    decode_check(DECODE_GZIP, all, l1 + l2 + l3, text, 2000, 0);
    decode_check(DECODE_GZIP, all, l1 + l2 + l3, text, 2000, 1);
    decode_every_split(DECODE_GZIP, all, l1 + l2 + l3, text, 2000);
    free(all);
    free(m1);
    free(m2);
    free(m3);
    free(text);
}

/* Feeds z (whole) and returns the first non-zero result of feed or finish. */
static int decode_rc(enum decode_kind kind, const unsigned char *z, size_t zlen, char *msg,
                     size_t msglen)
{
    struct sink s = {0};
    struct decoder *d = decoder_new(kind);
    assert_non_null(d);
    int rc = decoder_feed(d, (const char *)z, zlen, collect, &s);
    if (rc == 0)
        rc = decoder_finish(d);
    snprintf(msg, msglen, "%s", decoder_message(d));
    if (rc == DECODE_ERROR) {
        /* An error is final. */
        assert_int_equal(decoder_feed(d, "x", 1, collect, &s), DECODE_ERROR);
        assert_int_equal(decoder_finish(d), DECODE_ERROR);
    }
    decoder_free(d);
    return rc;
}

static void trailing(enum decode_kind kind, int wbits, const char *tail, size_t taillen)
{
    char *text = make_text(500), msg[256];
    size_t zlen;
    unsigned char *z = compress_with(text, 500, wbits, &zlen);
    unsigned char *zz = malloc(zlen + taillen);
    assert_non_null(zz);
    memcpy(zz, z, zlen);
    memcpy(zz + zlen, tail, taillen);
    assert_int_equal(decode_rc(kind, zz, zlen + taillen, msg, sizeof(msg)), DECODE_ERROR);
    assert_true(msg[0] != '\0');
    free(zz);
    free(z);
    free(text);
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    trailing(DECODE_GZIP, WBITS_GZIP, "xyz", 3);
    trailing(DECODE_GZIP, WBITS_GZIP, "\x1f\x00\x00\x00", 4); /* not a second member */
    trailing(DECODE_GZIP, WBITS_GZIP, "\x1f", 1);             /* a member cut short */
    trailing(DECODE_DEFLATE, WBITS_ZLIB, "\x1f\x8b", 2);      /* members are gzip's only */
    trailing(DECODE_DEFLATE, WBITS_RAW, "\0", 1);
}

/* Every flipped byte of a gzip or zlib stream (past gzip's unchecked header fields) is
 * caught: by inflate, by the checksum, or as a stream that does not end where the body
 * does. gzip's mtime, extra flags and OS bytes are not checked by anyone, so not flipped. */
static void flip_every_byte(enum decode_kind kind, int wbits, size_t skip_from, size_t skip_to)
{
    char *text = make_text(400), msg[256];
    size_t zlen;
    unsigned char *z = compress_with(text, 400, wbits, &zlen);
    for (size_t i = 0; i < zlen; i++) {
        if (i >= skip_from && i < skip_to)
            continue;
        z[i] ^= 0xff;
        assert_int_equal(decode_rc(kind, z, zlen, msg, sizeof(msg)), DECODE_ERROR);
        assert_true(msg[0] != '\0');
        z[i] ^= 0xff;
    }
    free(z);
    free(text);
}

static void test_corrupt(void **state)
{
    char msg[256];
    (void)state;
    flip_every_byte(DECODE_GZIP, WBITS_GZIP, 4, 10); /* bytes 4-9: mtime, flags, OS */
    flip_every_byte(DECODE_DEFLATE, WBITS_ZLIB, 0, 0);
    assert_int_equal(decode_rc(DECODE_GZIP, (const unsigned char *)"\x1f\x8c\x08\0\0\0\0\0\0\3", 10,
                               msg, sizeof(msg)),
                     DECODE_ERROR);
    assert_string_equal(msg, "corrupt gzip stream: incorrect header check");
    /* A valid header, then a block of the reserved type 3. */
    assert_int_equal(decode_rc(DECODE_GZIP,
                               (const unsigned char *)"\x1f\x8b\x08\0\0\0\0\0\0\3\xff\xff", 12, msg,
                               sizeof(msg)),
                     DECODE_ERROR);
    assert_string_equal(msg, "corrupt gzip stream: invalid block type");
}

/* A zlib stream made with a preset dictionary cannot be decoded without it. */
static void test_preset_dictionary(void **state)
{
    static const char dict[] = "salvo fetches thousands of urls";
    unsigned char out[256];
    char msg[256];
    z_stream zs;
    (void)state;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit(&zs, 6), Z_OK);
    assert_int_equal(deflateSetDictionary(&zs, (const Bytef *)dict, sizeof(dict) - 1), Z_OK);
    zs.next_in = (unsigned char *)dict;
    zs.avail_in = sizeof(dict) - 1;
    zs.next_out = out;
    zs.avail_out = sizeof(out);
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(decode_rc(DECODE_DEFLATE, out, zs.total_out, msg, sizeof(msg)), DECODE_ERROR);
    assert_string_equal(msg, "deflate stream needs a preset dictionary");
    deflateEnd(&zs);
}

static void truncate_everywhere(enum decode_kind kind, int wbits)
{
    char *text = make_text(400), msg[256];
    size_t zlen;
    unsigned char *z = compress_with(text, 400, wbits, &zlen);
    for (size_t cut = 0; cut < zlen; cut++) {
        assert_int_equal(decode_rc(kind, z, cut, msg, sizeof(msg)), DECODE_ERROR);
        assert_string_equal(msg, "compressed body ends early");
    }
    free(z);
    free(text);
}

static void test_truncated(void **state)
{
    (void)state;
    truncate_everywhere(DECODE_GZIP, WBITS_GZIP);
    truncate_everywhere(DECODE_DEFLATE, WBITS_ZLIB);
    truncate_everywhere(DECODE_DEFLATE, WBITS_RAW);
}

/* A sink that stops on the very last piece still leaves a complete stream. */
static void test_stop_on_last_piece(void **state)
{
    char *text = make_text(100);
    size_t zlen;
    struct sink s = {.data = malloc(100), .cap = 100};
    (void)state;
    unsigned char *z = compress_with(text, 100, WBITS_GZIP, &zlen);
    struct decoder *d = decoder_new(DECODE_GZIP);
    assert_int_equal(decoder_feed(d, (const char *)z, zlen, collect, &s), DECODE_STOPPED);
    assert_int_equal(s.len, 100);
    assert_int_equal(decoder_finish(d), 0);
    decoder_free(d);
    free(s.data);
    free(z);
    free(text);
}

/* A gzip member of copies * BOMB_SEGMENT zeros, built cheaply: one segment is
 * compressed with a full flush (a self-contained run of byte-aligned blocks), repeated,
 * then closed by an empty final block and the gzip trailer. */
static unsigned char *make_bomb(size_t copies, size_t *outlen)
{
    static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3};
    unsigned char seg[8192], tail[64];
    char *zeros = calloc(1, BOMB_SEGMENT);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_non_null(zeros);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, WBITS_RAW, 9, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (unsigned char *)zeros;
    zs.avail_in = BOMB_SEGMENT;
    zs.next_out = seg;
    zs.avail_out = sizeof(seg);
    assert_int_equal(deflate(&zs, Z_FULL_FLUSH), Z_OK);
    assert_int_equal(zs.avail_in, 0);
    size_t seglen = sizeof(seg) - zs.avail_out;
    zs.next_out = tail;
    zs.avail_out = sizeof(tail);
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t taillen = sizeof(tail) - zs.avail_out;
    deflateEnd(&zs);

    uLong crc_seg = crc32(0, (const Bytef *)zeros, BOMB_SEGMENT), crc = crc32(0, NULL, 0);
    size_t len = sizeof(header) + copies * seglen + taillen + 8;
    unsigned char *b = malloc(len), *p = b;
    assert_non_null(b);
    memcpy(p, header, sizeof(header));
    p += sizeof(header);
    for (size_t i = 0; i < copies; i++, p += seglen) {
        memcpy(p, seg, seglen);
        crc = crc32_combine(crc, crc_seg, BOMB_SEGMENT);
    }
    memcpy(p, tail, taillen);
    p += taillen;
    uint32_t isize = (uint32_t)(copies * BOMB_SEGMENT); /* modulo 2^32, as RFC 1952 says */
    for (int i = 0; i < 4; i++)
        *p++ = (unsigned char)(crc >> (8 * i));
    for (int i = 0; i < 4; i++)
        *p++ = (unsigned char)(isize >> (8 * i));
    *outlen = len;
    free(zeros);
    return b;
}

/* The construction is a valid gzip stream: a 64 MiB one decodes completely. */
static void test_bomb_is_valid(void **state)
{
    size_t zlen;
    struct sink s = {0};
    (void)state;
    unsigned char *z = make_bomb(64, &zlen);
    struct decoder *d = decoder_new(DECODE_GZIP);
    assert_int_equal(decoder_feed(d, (const char *)z, zlen, collect, &s), 0);
    assert_int_equal(decoder_finish(d), 0);
    assert_int_equal(s.len, (size_t)64 * BOMB_SEGMENT);
    assert_false(s.nonzero);
    decoder_free(d);
    free(z);
}

/* 1 GiB of zeros in about 1 MB: the sink's 10 MB cap stops it; the decoder hands out
 * bounded pieces from its fixed buffer and the heap does not grow while it runs. */
static void test_bomb_stopped_by_cap(void **state)
{
    size_t zlen;
    struct sink s = {.cap = BOMB_CAP};
    (void)state;
    unsigned char *z = make_bomb(BOMB_COPIES, &zlen);
    assert_true(zlen < 2 * 1024 * 1024);
    s.heap_base = heap_in_use();
    struct decoder *d = decoder_new(DECODE_GZIP);
    assert_non_null(d);
    assert_int_equal(decoder_feed(d, (const char *)z, zlen, collect, &s), DECODE_STOPPED);
    assert_int_equal(s.len, BOMB_CAP);
    assert_false(s.nonzero);
    assert_true(s.max_chunk <= DECODE_CHUNK);
    /* Every piece but the last is a full buffer: no piece-by-piece growth. */
    assert_int_equal(s.calls, (BOMB_CAP + DECODE_CHUNK - 1) / DECODE_CHUNK);
    /* The decoder, zlib's state and its window: well under 128 KiB, whatever the output. */
    assert_true(s.heap_max - s.heap_base < 128 * 1024);
    decoder_free(d);
    free(z);
}

static void test_kind_parse(void **state)
{
    static const struct {
        const char *value; /* Content-Encoding, or NULL when absent */
        int kind;          /* expected result */
    } cases[] = {
        {NULL, DECODE_IDENTITY},
        {"", DECODE_IDENTITY},
        {"   ", DECODE_IDENTITY},
        {"identity", DECODE_IDENTITY},
        {"IDENTITY", DECODE_IDENTITY},
        {"gzip", DECODE_GZIP},
        {"GZip", DECODE_GZIP},
        {" gzip\t", DECODE_GZIP},
        {"x-gzip", DECODE_GZIP},
        {"X-GZIP", DECODE_GZIP},
        {"deflate", DECODE_DEFLATE},
        {" Deflate ", DECODE_DEFLATE},
        {"br", -1},
        {"zstd", -1},
        {"compress", -1},
        {"gzip, br", -1},
        {"gzip,gzip", -1},
        {"gzip deflate", -1},
        {"gzipx", -1},
        {"gzi", -1},
        {"x-deflate", -1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = decode_kind_parse(cases[i].value);
        if (got != cases[i].kind)
            fail_msg("\"%s\": got %d, want %d", cases[i].value ? cases[i].value : "(null)", got,
                     cases[i].kind);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_parse),
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_deflate_zlib_round_trip),
        cmocka_unit_test(test_deflate_raw_round_trip),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_gzip_members),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_preset_dictionary),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_stop_on_last_piece),
        cmocka_unit_test(test_bomb_is_valid),
        cmocka_unit_test(test_bomb_stopped_by_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
