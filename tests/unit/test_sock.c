/*
 * test_sock.c -- the socket helpers: addresses written as inet_ntop writes them, and a
 * non-blocking connect to a real listener on loopback.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sock.h"

static void expect_as_inet_ntop(const struct sockaddr *sa)
{
    char got[INET6_ADDRSTRLEN], want[INET6_ADDRSTRLEN];
    const void *a = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

    assert_non_null(inet_ntop(sa->sa_family, a, want, sizeof want));
    memset(got, 'x', sizeof got);
    sock_addr_str(sa, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("sock_addr_str wrote '%s', inet_ntop '%s'", got, want);
}

/* IPv4 is formatted by hand: every byte value in every position, and random addresses,
 * must come out as inet_ntop has them. IPv6 goes to inet_ntop itself. */
static void test_addr_str(void **state)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

    (void)state;
    for (unsigned pos = 0; pos < 4; pos++) {
        for (unsigned v = 0; v < 256; v++) {
            unsigned char b[4] = {127, 0, 0, 1};
            b[pos] = (unsigned char)v;
            memcpy(&in.sin_addr, b, 4);
            expect_as_inet_ntop((struct sockaddr *)&in);
        }
    }
    srand(7);
    for (int i = 0; i < 10000; i++) {
        uint32_t x = ((uint32_t)rand() << 16) ^ (uint32_t)rand();
        memcpy(&in.sin_addr, &x, 4);
        expect_as_inet_ntop((struct sockaddr *)&in);
    }
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr), 1);
    expect_as_inet_ntop((struct sockaddr *)&in6);

    /* Too small a buffer gets "", never a cut address. */
    char small[8] = "xxxxxxx";
    in.sin_addr.s_addr = htonl(0xC0A80001); /* 192.168.0.1 */
    sock_addr_str((struct sockaddr *)&in, small, sizeof small);
    assert_string_equal(small, "");
}

/* A connect to a listener on loopback completes, and the listener sees it. */
static void test_connect_loopback(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    assert_true(l >= 0);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
    int fd = sock_connect((struct sockaddr *)&a, sizeof a);
    assert_true(fd >= 0);
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(sock_connect_result(fd), 0);
    int s = accept(l, NULL, NULL);
    assert_true(s >= 0);
    close(s);
    close(fd);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_str),
        cmocka_unit_test(test_connect_loopback),
    };
    return cmocka_run_group_tests_name("sock", tests, NULL, NULL);
}
