/*
 * test_retry.c -- the retry policy's pure parts: which outcomes are retried, which
 * methods may be repeated, the backoff's bounds and Retry-After parsing.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "retry.h"

static void test_statuses_and_methods(void **state)
{
    (void)state;
    assert_true(retry_status_retryable(429));
    assert_true(retry_status_retryable(503));
    assert_false(retry_status_retryable(500));
    assert_false(retry_status_retryable(200));
    assert_true(retry_method_idempotent("GET"));
    assert_true(retry_method_idempotent("DELETE"));
    assert_false(retry_method_idempotent("POST"));
    assert_false(retry_method_idempotent("PATCH"));
    assert_false(retry_method_idempotent("get")); /* methods are case-sensitive */
}

/* Full jitter: uniform in [0, base * 2^(attempt-1)], never above the cap. */
static void test_backoff_bounds(void **state)
{
    uint64_t r;

    (void)state;
    for (r = 0; r < 5000; r += 7) {
        assert_true(retry_backoff_ms(1, 30, 1, r * 2654435761u) <= 1000);
        assert_true(retry_backoff_ms(1, 30, 3, r * 2654435761u) <= 4000);
        assert_true(retry_backoff_ms(1, 30, 40, r * 2654435761u) <= 30000);
    }
    assert_int_equal(retry_backoff_ms(0, 30, 3, 12345), 0);
}

static void test_retry_after(void **state)
{
    const time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    double s = -1;

    (void)state;
    assert_int_equal(retry_after_parse("120", now, &s), 0);
    assert_true(s == 120);
    assert_int_equal(retry_after_parse(" 0 ", now, &s), 0);
    assert_true(s == 0);
    assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:50:37 GMT", now, &s), 0);
    assert_true(s == 60);
    assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:00:00 GMT", now, &s), 0);
    assert_true(s == 0); /* a date in the past: at once */
    assert_int_equal(retry_after_parse("soon", now, &s), -1);
    assert_int_equal(retry_after_parse("12 s", now, &s), -1);
    assert_int_equal(retry_after_parse("-5", now, &s), -1);
}

/* A number of seconds too large to hold is still a (very long) delay, not garbage: it
 * must end the retries, not fall back to the backoff. */
static void test_retry_after_saturates(void **state)
{
    double s = 0;

    (void)state;
    assert_int_equal(retry_after_parse("99999999999999999999999999", 0, &s), 0);
    assert_true(isinf(s) && s > 0);
    assert_int_equal(retry_after_parse("18446744073709551616", 0, &s), 0);
    assert_true(s > 1e18);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statuses_and_methods),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_retry_after_saturates),
    };
    return cmocka_run_group_tests_name("retry", tests, NULL, NULL);
}
