/*
 * test_dns_cache.c -- the resolver's TTL cache alone: lookups without regard to case,
 * expiry, replacement, negative entries, the bound on entries and growth.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dns_cache.h"

static struct dns_addr v4(const char *s)
{
    struct dns_addr a;

    memset(&a, 0, sizeof(a));
    a.family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
    return a;
}

static struct dns_addr v6(const char *s)
{
    struct dns_addr a;

    memset(&a, 0, sizeof(a));
    a.family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, s, &a.u.v6), 1);
    return a;
}

static void test_put_get_any_case(void **state)
{
    struct dns_cache *c = dns_cache_new(0);
    struct dns_addr in[2] = {v6("2001:db8::1"), v4("192.0.2.1")};
    const struct dns_cache_entry *e;

    (void)state;
    assert_non_null(c);
    assert_null(dns_cache_get(c, "example.com", 0));
    assert_int_equal(dns_cache_put(c, "Example.COM", 0, in, 2, 1000), 0);
    e = dns_cache_get(c, "EXAMPLE.com", 999);
    assert_non_null(e);
    assert_string_equal(e->name, "example.com");
    assert_int_equal(e->status, 0);
    assert_int_equal(e->n, 2);
    assert_int_equal(e->addrs[0].family, AF_INET6);
    assert_memory_equal(&e->addrs[0].u.v6, &in[0].u.v6, sizeof(in[0].u.v6));
    assert_int_equal(e->addrs[1].family, AF_INET);
    assert_int_equal(e->addrs[1].u.v4.s_addr, in[1].u.v4.s_addr);
    assert_null(dns_cache_get(c, "example.co", 0));
    assert_null(dns_cache_get(c, "example.com.x", 0));
    assert_int_equal(dns_cache_len(c), 1);
    dns_cache_free(c);
}

static void test_expiry_removes(void **state)
{
    struct dns_cache *c = dns_cache_new(0);
    struct dns_addr a = v4("192.0.2.1");

    (void)state;
    assert_int_equal(dns_cache_put(c, "a.test", 0, &a, 1, 5000), 0);
    assert_non_null(dns_cache_get(c, "a.test", 4999));
    /* At the expiry time the entry is dead, and the get drops it. */
    assert_null(dns_cache_get(c, "a.test", 5000));
    assert_int_equal(dns_cache_len(c), 0);
    assert_null(dns_cache_get(c, "a.test", 0));
    dns_cache_free(c);
}

static void test_replace_and_negative(void **state)
{
    struct dns_cache *c = dns_cache_new(0);
    struct dns_addr a = v4("192.0.2.1"), b = v4("192.0.2.2");
    const struct dns_cache_entry *e;

    (void)state;
    assert_int_equal(dns_cache_put(c, "r.test", 0, &a, 1, 100), 0);
    assert_int_equal(dns_cache_put(c, "R.test", 0, &b, 1, 200), 0);
    assert_int_equal(dns_cache_len(c), 1);
    e = dns_cache_get(c, "r.test", 150);
    assert_non_null(e);
    assert_int_equal(e->addrs[0].u.v4.s_addr, b.u.v4.s_addr);
    /* A failure replaces addresses and carries no address, whatever was passed. */
    assert_int_equal(dns_cache_put(c, "r.test", 4, &a, 1, 300), 0);
    e = dns_cache_get(c, "r.test", 250);
    assert_non_null(e);
    assert_int_equal(e->status, 4);
    assert_int_equal(e->n, 0);
    dns_cache_free(c);
}

static void test_keeps_at_most_max_addrs(void **state)
{
    struct dns_cache *c = dns_cache_new(0);
    struct dns_addr in[DNS_MAX_ADDRS + 3];
    const struct dns_cache_entry *e;
    char s[32];
    size_t i;

    (void)state;
    for (i = 0; i < DNS_MAX_ADDRS + 3; i++) {
        snprintf(s, sizeof(s), "192.0.2.%zu", i + 1);
        in[i] = v4(s);
    }
    assert_int_equal(dns_cache_put(c, "wide.test", 0, in, DNS_MAX_ADDRS + 3, 10), 0);
    e = dns_cache_get(c, "wide.test", 0);
    assert_non_null(e);
    assert_int_equal(e->n, DNS_MAX_ADDRS);
    assert_int_equal(e->addrs[DNS_MAX_ADDRS - 1].u.v4.s_addr, in[DNS_MAX_ADDRS - 1].u.v4.s_addr);
    dns_cache_free(c);
}

/* A full cache evicts the oldest inserted entry, never grows past its bound. */
static void test_bound_evicts_oldest(void **state)
{
    struct dns_cache *c = dns_cache_new(3);
    struct dns_addr a = v4("192.0.2.1");

    (void)state;
    assert_int_equal(dns_cache_put(c, "1.test", 0, &a, 1, 100), 0);
    assert_int_equal(dns_cache_put(c, "2.test", 0, &a, 1, 100), 0);
    assert_int_equal(dns_cache_put(c, "3.test", 0, &a, 1, 100), 0);
    /* Replacing 1.test makes it the newest; 2.test is now the oldest. */
    assert_int_equal(dns_cache_put(c, "1.test", 0, &a, 1, 100), 0);
    assert_int_equal(dns_cache_put(c, "4.test", 0, &a, 1, 100), 0);
    assert_int_equal(dns_cache_len(c), 3);
    assert_null(dns_cache_get(c, "2.test", 0));
    assert_non_null(dns_cache_get(c, "1.test", 0));
    assert_non_null(dns_cache_get(c, "3.test", 0));
    assert_non_null(dns_cache_get(c, "4.test", 0));
    dns_cache_free(c);
}

/* Many names: the table grows and every name stays reachable; the bound holds. */
static void test_many_names(void **state)
{
    enum { N = 50000, MAX = 40000 };
    struct dns_cache *c = dns_cache_new(MAX);
    struct dns_addr a = v4("192.0.2.1");
    char name[64];
    size_t i, found = 0;

    (void)state;
    for (i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "host%zu.many.test", i);
        a.u.v4.s_addr = htonl((uint32_t)i);
        assert_int_equal(dns_cache_put(c, name, 0, &a, 1, 1000), 0);
    }
    assert_int_equal(dns_cache_len(c), MAX);
    for (i = 0; i < N; i++) {
        const struct dns_cache_entry *e;

        snprintf(name, sizeof(name), "HOST%zu.many.test", i);
        e = dns_cache_get(c, name, 0);
        if (i < N - MAX) {
            assert_null(e);
            continue;
        }
        assert_non_null(e);
        assert_int_equal(ntohl(e->addrs[0].u.v4.s_addr), i);
        found++;
    }
    assert_int_equal(found, MAX);
    dns_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_any_case),     cmocka_unit_test(test_expiry_removes),
        cmocka_unit_test(test_replace_and_negative), cmocka_unit_test(test_keeps_at_most_max_addrs),
        cmocka_unit_test(test_bound_evicts_oldest),  cmocka_unit_test(test_many_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
