/*
 * test_buf.c -- the bounded buffer: caps, consumption, compaction and printf.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_append_consume(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 1024);
    assert_int_equal(buf_size(&b), 0);
    assert_int_equal(buf_append(&b, "hello ", 6), 0);
    assert_int_equal(buf_append_str(&b, "world"), 0);
    assert_int_equal(buf_size(&b), 11);
    assert_memory_equal(buf_head(&b), "hello world", 11);
    buf_consume(&b, 6);
    assert_int_equal(buf_size(&b), 5);
    assert_memory_equal(buf_head(&b), "world", 5);
    buf_consume(&b, 5);
    assert_int_equal(buf_size(&b), 0);
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_int_equal(buf_size(&b), 0);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.max, 1024);
    /* A freed buffer is still usable. */
    assert_int_equal(buf_append_str(&b, "again"), 0);
    assert_memory_equal(buf_head(&b), "again", 5);
    buf_reset(&b);
    assert_int_equal(buf_size(&b), 0);
    assert_non_null(b.data);
    buf_free(&b);
}

static void test_cap(void **state)
{
    char big[100];
    struct buf b;

    (void)state;
    memset(big, 'x', sizeof(big));
    buf_init(&b, 100);
    assert_int_equal(buf_append(&b, big, 60), 0);
    /* Over the cap: refused, and the content is unchanged. */
    assert_int_equal(buf_append(&b, big, 41), -E2BIG);
    assert_int_equal(buf_size(&b), 60);
    assert_int_equal(buf_append(&b, big, 40), 0);
    assert_int_equal(buf_size(&b), 100);
    assert_int_equal(buf_append(&b, "y", 1), -E2BIG);
    assert_int_equal(buf_printf(&b, "%d", 1), -E2BIG);
    assert_int_equal(buf_size(&b), 100);
    /* The allocation never exceeds what the cap needs (content plus a NUL). */
    assert_true(b.cap <= 101);
    /* Consumed bytes free room for more: the cap is on content, not on history. */
    buf_consume(&b, 30);
    assert_int_equal(buf_append(&b, big, 30), 0);
    assert_int_equal(buf_size(&b), 100);
    assert_int_equal(buf_append(&b, big, 1), -E2BIG);
    assert_int_equal(buf_append(&b, big, SIZE_MAX), -E2BIG);
    buf_free(&b);

    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "a", 1), -E2BIG);
    assert_int_equal(buf_append(&b, "", 0), 0);
    buf_free(&b);
}

static void test_grow_geometric(void **state)
{
    struct buf b;
    size_t reallocs = 0, last_cap = 0;

    (void)state;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < (1 << 20); i++) {
        assert_int_equal(buf_append(&b, "z", 1), 0);
        if (b.cap != last_cap) {
            reallocs++;
            last_cap = b.cap;
        }
    }
    /* Doubling from 256 bytes to 1 MiB is a dozen or so allocations, not a million. */
    assert_true(reallocs <= 16);
    assert_int_equal(buf_size(&b), 1 << 20);
    buf_free(&b);
}

static void test_compaction(void **state)
{
    char chunk[64];
    struct buf b;
    size_t cap;

    (void)state;
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)('a' + i % 26);
    buf_init(&b, 4096);
    /* Fill the first allocation, then consume most of it. */
    while (b.cap == 0 || b.cap - b.len > sizeof(chunk) + 1)
        assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
    cap = b.cap;
    buf_consume(&b, b.len - 10);
    assert_true(b.off > cap / 2);
    char tail[10];
    memcpy(tail, buf_head(&b), 10);
    /* The next append does not fit at the end; the consumed front is more than half
     * the allocation, so it is reclaimed instead of growing. */
    assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.off, 0);
    assert_int_equal(buf_size(&b), 10 + sizeof(chunk));
    assert_memory_equal(buf_head(&b), tail, 10);
    assert_memory_equal(buf_head(&b) + 10, chunk, sizeof(chunk));
    buf_free(&b);
}

static void test_no_compaction_when_small_front(void **state)
{
    char chunk[64];
    struct buf b;
    size_t cap;

    (void)state;
    memset(chunk, 'q', sizeof(chunk));
    buf_init(&b, 4096);
    while (b.cap == 0 || b.cap - b.len > sizeof(chunk) + 1)
        assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
    cap = b.cap;
    buf_consume(&b, 8);
    assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
    /* A small consumed front is not worth a memmove: the buffer grows instead. */
    assert_true(b.cap > cap);
    assert_int_equal(b.off, 8);
    buf_free(&b);
}

static void test_printf(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 64);
    assert_int_equal(buf_printf(&b, "GET %s HTTP/1.%d\r\n", "/x", 1), 0);
    assert_int_equal(buf_printf(&b, "%s", ""), 0);
    assert_int_equal(buf_size(&b), strlen("GET /x HTTP/1.1\r\n"));
    assert_memory_equal(buf_head(&b), "GET /x HTTP/1.1\r\n", buf_size(&b));
    /* Exactly up to the cap works, one more does not. */
    size_t room = 64 - buf_size(&b);
    assert_int_equal(buf_printf(&b, "%*s", (int)room, ""), 0);
    assert_int_equal(buf_size(&b), 64);
    assert_int_equal(buf_printf(&b, "!"), -E2BIG);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_consume),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_grow_geometric),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_no_compaction_when_small_front),
        cmocka_unit_test(test_printf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
