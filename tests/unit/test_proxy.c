/*
 * test_proxy.c -- proxy URLs, no-proxy lists and base64 (RFC 4648), as tables of
 * cases. Which proxy a run picks from the environment, and what the proxies themselves
 * do, is tested against real proxies in tests/integration/proxy.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"
#include "proxy.h"

struct parse_case {
    const char *in;
    enum proxy_kind kind;
    const char *host;
    unsigned port;
    const char *user, *pass; /* NULL: no credentials */
    const char *shown;
    const char *basic; /* NULL: none */
};

static const struct parse_case good[] = {
    {"http://127.0.0.1:3128", PROXY_HTTP, "127.0.0.1", 3128, NULL, NULL, "http://127.0.0.1:3128",
     NULL},
    {"proxy.example:8080", PROXY_HTTP, "proxy.example", 8080, NULL, NULL,
     "http://proxy.example:8080", NULL},
    {"HTTP://Proxy.Example/", PROXY_HTTP, "proxy.example", 1080, NULL, NULL,
     "http://proxy.example:1080", NULL},
    {"https://p.example", PROXY_HTTPS, "p.example", 443, NULL, NULL, "https://p.example:443", NULL},
    {"socks5://[::1]:1080", PROXY_SOCKS5, "::1", 1080, NULL, NULL, "socks5://[::1]:1080", NULL},
    {"socks5h://u:p@h", PROXY_SOCKS5H, "h", 1080, "u", "p", "socks5h://h:1080", NULL},
    /* RFC 7617's example; the password may hold '@' and ':' when encoded or last. */
    {"http://Aladdin:open%20sesame@p:1", PROXY_HTTP, "p", 1, "Aladdin", "open sesame", "http://p:1",
     "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
    {"http://a:b@c@p:1", PROXY_HTTP, "p", 1, "a", "b@c", "http://p:1", "Basic YTpiQGM="},
    {"http://only@p:1", PROXY_HTTP, "p", 1, "only", "", "http://p:1", "Basic b25seTo="},
};

static void test_parse_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const struct parse_case *c = &good[i];
        struct proxy p;
        char err[160];
        assert_int_equal(proxy_parse(c->in, &p, err, sizeof err), 0);
        assert_int_equal(p.kind, c->kind);
        assert_string_equal(p.host, c->host);
        assert_int_equal(p.port, c->port);
        assert_string_equal(p.shown, c->shown);
        if (c->user == NULL) {
            assert_null(p.user);
        } else {
            assert_string_equal(p.user, c->user);
            assert_string_equal(p.pass, c->pass);
        }
        if (c->basic == NULL)
            assert_null(p.basic_auth);
        else
            assert_string_equal(p.basic_auth, c->basic);
        proxy_free(&p);
    }
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "ftp://p:21", "socks4://p",   "http://p:99999",       "http://p/path",
        "http://",    "http://:8080", "http://u:se%00cret@p",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct proxy p;
        char err[160] = "";
        assert_int_equal(proxy_parse(bad[i], &p, err, sizeof err), -1);
        assert_true(err[0] != '\0');
        assert_null(strstr(err, "cret")); /* a reason never shows the password */
    }
}

struct match_case {
    const char *list;
    const char *host;
    int match;
};

/* What curl 7.88 does with the same list and host. */
static const struct match_case matches[] = {
    {"example.com", "example.com", 1},
    {"example.com", "www.example.com", 1},
    {".example.com", "www.example.com", 1},
    {".example.com", "example.com", 1},
    {"example.com", "notexample.com", 0},
    {"example.com", "example.com.evil", 0},
    {"EXAMPLE.com", "a.example.com", 1},
    {"a.test, b.test", "x.b.test", 1},
    {"a.test b.test", "b.test", 1},
    {"*", "anything", 1},
    {" * ", "anything", 1},
    {"*.example.com", "www.example.com", 0},
    {"127.0.0.1", "127.0.0.1", 1},
    {"127.0.0.1", "127.0.0.2", 0},
    {"127.0.0.0/8", "127.9.9.9", 1},
    {"10.0.0.0/8", "127.0.0.1", 0},
    {"0.0.0.0/0", "127.0.0.1", 0},
    {"::1", "::1", 1},
    {"[::1]", "::1", 1},
    {"fe80::/10", "fe80::1", 1},
    {"1.0.0.1", "0.0.1", 0},
    {"localhost", "127.0.0.1", 0},
    {"", "example.com", 0},
};

static void test_noproxy(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof matches / sizeof matches[0]; i++) {
        struct noproxy np;
        assert_int_equal(noproxy_parse(matches[i].list, &np), 0);
        if (noproxy_match(&np, matches[i].host) != matches[i].match)
            fail_msg("list '%s', host '%s': expected %d", matches[i].list, matches[i].host,
                     matches[i].match);
        noproxy_free(&np);
    }
}

static void test_pick(void **state)
{
    (void)state;
    struct proxy_settings s;
    char err[160];
    assert_int_equal(
        proxy_settings_init(&s, "http://h:1", "socks5h://s:2", "direct.test", err, sizeof err), 0);
    assert_string_equal(proxy_pick(&s, 0, "a.test")->shown, "http://h:1");
    assert_string_equal(proxy_pick(&s, 1, "a.test")->shown, "socks5h://s:2");
    assert_null(proxy_pick(&s, 1, "www.direct.test"));
    proxy_settings_free(&s);
    assert_int_equal(proxy_settings_init(&s, NULL, "http://h:1", NULL, err, sizeof err), 0);
    assert_null(proxy_pick(&s, 0, "a.test"));
    assert_non_null(proxy_pick(&s, 1, "a.test"));
    proxy_settings_free(&s);
}

static void test_base64(void **state)
{
    (void)state;
    static const char *const rfc4648[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        char out[16];
        base64_encode(rfc4648[i][0], strlen(rfc4648[i][0]), out);
        assert_string_equal(out, rfc4648[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good), cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_noproxy),    cmocka_unit_test(test_pick),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
