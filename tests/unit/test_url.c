/*
 * test_url.c -- url_parse, url_format and url_resolve, written as tables of cases: the
 * input and what must come out of it.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "url.h"

struct parse_case {
    const char *in;
    salvo_err_t err;  /* expected class */
    const char *host; /* expected fields when err is SALVO_E_OK */
    int is_ip;
    unsigned port;
    int port_explicit;
    const char *target;
    const char *authority;
    const char *formatted; /* url_format of the result */
};

static const struct parse_case good[] = {
    {"http://example.com", SALVO_E_OK, "example.com", 0, 80, 0, "/", "example.com",
     "http://example.com/"},
    {"https://example.com/", SALVO_E_OK, "example.com", 0, 443, 0, "/", "example.com",
     "https://example.com/"},
    {"HTTP://Example.COM./A/b?Q=1#frag", SALVO_E_OK, "example.com", 0, 80, 0, "/A/b?Q=1",
     "example.com", "http://example.com/A/b?Q=1"},
    {"HtTpS://WWW.example.org:8443/x", SALVO_E_OK, "www.example.org", 0, 8443, 1, "/x",
     "www.example.org:8443", "https://www.example.org:8443/x"},
    {"http://host:80/", SALVO_E_OK, "host", 0, 80, 1, "/", "host", "http://host/"},
    {"https://host:80/", SALVO_E_OK, "host", 0, 80, 1, "/", "host:80", "https://host:80/"},
    {"http://host:443/", SALVO_E_OK, "host", 0, 443, 1, "/", "host:443", "http://host:443/"},
    {"http://host:65535", SALVO_E_OK, "host", 0, 65535, 1, "/", "host:65535", "http://host:65535/"},
    {"http://host:/p", SALVO_E_OK, "host", 0, 80, 0, "/p", "host", "http://host/p"},
    {"http://user:pa@ss@host/p", SALVO_E_OK, "host", 0, 80, 0, "/p", "host", "http://host/p"},
    {"http://user@host:81", SALVO_E_OK, "host", 0, 81, 1, "/", "host:81", "http://host:81/"},
    {"http://127.0.0.1:8080/a", SALVO_E_OK, "127.0.0.1", 4, 8080, 1, "/a", "127.0.0.1:8080",
     "http://127.0.0.1:8080/a"},
    {"http://[::1]/", SALVO_E_OK, "::1", 6, 80, 0, "/", "[::1]", "http://[::1]/"},
    {"https://[2001:DB8::1]:8443/x?y", SALVO_E_OK, "2001:db8::1", 6, 8443, 1, "/x?y",
     "[2001:db8::1]:8443", "https://[2001:db8::1]:8443/x?y"},
    {"http://[::ffff:127.0.0.1]", SALVO_E_OK, "::ffff:127.0.0.1", 6, 80, 0, "/",
     "[::ffff:127.0.0.1]", "http://[::ffff:127.0.0.1]/"},
    {"http://h?q=1", SALVO_E_OK, "h", 0, 80, 0, "/?q=1", "h", "http://h/?q=1"},
    {"http://h#only-fragment", SALVO_E_OK, "h", 0, 80, 0, "/", "h", "http://h/"},
    {"http://h/a b\tc\x7f"
     "d?e f",
     SALVO_E_OK, "h", 0, 80, 0, "/a%20b%09c%7Fd?e%20f", "h", "http://h/a%20b%09c%7Fd?e%20f"},
    {"http://h/\r\nX-Injected: 1", SALVO_E_OK, "h", 0, 80, 0, "/%0D%0AX-Injected:%201", "h",
     "http://h/%0D%0AX-Injected:%201"},
    /* Bytes >= 0x80 are percent-encoded in the target (RFC 3986 allows them no other way). */
    {"http://h/caf\xc3\xa9", SALVO_E_OK, "h", 0, 80, 0, "/caf%C3%A9", "h", "http://h/caf%C3%A9"},
    {"http://my_host-1.example/", SALVO_E_OK, "my_host-1.example", 0, 80, 0, "/",
     "my_host-1.example", "http://my_host-1.example/"},
    {"http://256.1.1.1/", SALVO_E_OK, "256.1.1.1", 0, 80, 0, "/", "256.1.1.1", "http://256.1.1.1/"},
};

static const struct parse_case bad[] = {
    {"", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"example.com", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"example.com:80/x", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http:/example.com", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http:example.com", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"://example.com", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"1http://example.com", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"ht tp://example.com", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http:///path", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://:80/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://user@/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://./", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://../", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://a..b/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://.a/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://a../", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://host:0/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://host:65536/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://host:99999999999999999999/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://host:8o/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://host:-1/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://host:80:81/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://ho st/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://ho\tst/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://host\r\n/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://ho%73t/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://h<o>st/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://caf\xc3\xa9.example/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://[::1/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://[::1", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://[]/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://[::g]/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://[127.0.0.1]/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://[fe80::1%25eth0]/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://[::1]x/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"http://[::1]:0/", SALVO_E_BAD_URL, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"ftp://example.com/", SALVO_E_UNSUPPORTED_SCHEME, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"FILE:///etc/passwd", SALVO_E_UNSUPPORTED_SCHEME, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"ws://example.com/", SALVO_E_UNSUPPORTED_SCHEME, NULL, 0, 0, 0, NULL, NULL, NULL},
    {"httpss://example.com/", SALVO_E_UNSUPPORTED_SCHEME, NULL, 0, 0, 0, NULL, NULL, NULL},
};

static void check_case(const struct parse_case *c)
{
    char err[128];
    struct url u;
    salvo_err_t rc;
    char *f;

    memset(err, 'x', sizeof(err));
    rc = url_parse(c->in, &u, err, sizeof(err));
    if (rc != c->err)
        fail_msg("'%s': got %s (%s), want %s", c->in, salvo_err_name(rc), err,
                 salvo_err_name(c->err));
    assert_non_null(memchr(err, '\0', sizeof(err)));
    if (rc != SALVO_E_OK) {
        assert_true(strlen(err) > 0);
        assert_null(u.host); /* a failed parse leaves nothing to free */
        assert_null(u.target);
        return;
    }
    assert_string_equal(err, "");
    assert_string_equal(u.scheme, c->formatted[4] == 's' ? "https" : "http");
    assert_int_equal(u.tls, c->formatted[4] == 's');
    assert_string_equal(u.host, c->host);
    assert_int_equal(u.host_is_ip, c->is_ip);
    assert_int_equal(u.port, c->port);
    assert_int_equal(u.port_explicit, c->port_explicit);
    assert_string_equal(u.target, c->target);
    assert_string_equal(u.authority, c->authority);
    f = url_format(&u);
    assert_non_null(f);
    assert_string_equal(f, c->formatted);
    free(f);
    url_free(&u);
}

static void test_parse_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        check_case(&good[i]);
}

static void test_parse_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        check_case(&bad[i]);
}

static void test_parse_null_err(void **state)
{
    struct url u;

    (void)state;
    assert_int_equal(url_parse(NULL, &u, NULL, 0), SALVO_E_BAD_URL);
    assert_int_equal(url_parse("ftp://x", &u, NULL, 0), SALVO_E_UNSUPPORTED_SCHEME);
    assert_int_equal(url_parse("http://x", &u, NULL, 0), SALVO_E_OK);
    url_free(&u);
    url_free(&u); /* url_free leaves an empty struct: a second call is harmless */
}

static void test_parse_long(void **state)
{
    size_t n = 100000;
    char *s = malloc(n + 1);
    struct url u;

    (void)state;
    memcpy(s, "http://h/", 9);
    memset(s + 9, 'a', n - 9);
    s[n] = '\0';
    assert_int_equal(url_parse(s, &u, NULL, 0), SALVO_E_OK);
    assert_int_equal(strlen(u.target), n - 8);
    url_free(&u);
    free(s);
}

struct resolve_case {
    const char *ref;
    const char *want; /* NULL: not usable */
};

/* RFC 3986 section 5.4 with the base "http://a/b/c/d;p?q". Differences from the RFC,
 * all by design: "g:h" is not http(s) (NULL); "//g" gets the target "/"; fragments are
 * dropped; the empty reference is refused (a redirect to itself). */
static const struct resolve_case rfc[] = {
    /* 5.4.1 normal examples */
    {"g:h", NULL},
    {"g", "http://a/b/c/g"},
    {"./g", "http://a/b/c/g"},
    {"g/", "http://a/b/c/g/"},
    {"/g", "http://a/g"},
    {"//g", "http://g/"},
    {"?y", "http://a/b/c/d;p?y"},
    {"g?y", "http://a/b/c/g?y"},
    {"#s", "http://a/b/c/d;p?q"},
    {"g#s", "http://a/b/c/g"},
    {"g?y#s", "http://a/b/c/g?y"},
    {";x", "http://a/b/c/;x"},
    {"g;x", "http://a/b/c/g;x"},
    {"g;x?y#s", "http://a/b/c/g;x?y"},
    {"", NULL},
    {".", "http://a/b/c/"},
    {"./", "http://a/b/c/"},
    {"..", "http://a/b/"},
    {"../", "http://a/b/"},
    {"../g", "http://a/b/g"},
    {"../..", "http://a/"},
    {"../../", "http://a/"},
    {"../../g", "http://a/g"},
    /* 5.4.2 abnormal examples */
    {"../../../g", "http://a/g"},
    {"../../../../g", "http://a/g"},
    {"/./g", "http://a/g"},
    {"/../g", "http://a/g"},
    {"g.", "http://a/b/c/g."},
    {".g", "http://a/b/c/.g"},
    {"g..", "http://a/b/c/g.."},
    {"..g", "http://a/b/c/..g"},
    {"./../g", "http://a/b/g"},
    {"./g/.", "http://a/b/c/g/"},
    {"g/./h", "http://a/b/c/g/h"},
    {"g/../h", "http://a/b/c/h"},
    {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
    {"g;x=1/../y", "http://a/b/c/y"},
    {"g?y/./x", "http://a/b/c/g?y/./x"},
    {"g?y/../x", "http://a/b/c/g?y/../x"},
    {"g#s/./x", "http://a/b/c/g"},
    {"g#s/../x", "http://a/b/c/g"},
    {"http:g", NULL},
};

/* Redirect-shaped references: absolute, other schemes, garbage. */
static const struct resolve_case more[] = {
    {"https://Other.Example:8443/x/../y?z#f", "https://other.example:8443/y?z"},
    {"HTTP://u:p@b.example", "http://b.example/"},
    {"//b.example:81/p", "http://b.example:81/p"},
    {"  /spaced \r\n", "http://a/spaced"},
    {"/a b", "http://a/a%20b"},
    {"g h?x y", "http://a/b/c/g%20h?x%20y"},
    {"ftp://a/", NULL},
    {"javascript:alert(1)", NULL},
    {"mailto:x@y", NULL},
    {"http://", NULL},
    {"//", NULL},
    {"//bad host/", NULL},
    {"https://[::1/", NULL},
    {"http://h:99999/", NULL},
    {" \t ", NULL},
};

static void check_resolve(const struct url *base, const struct resolve_case *c)
{
    char *got = url_resolve(base, c->ref);

    if (c->want == NULL && got != NULL)
        fail_msg("'%s': got '%s', want NULL", c->ref, got);
    if (c->want != NULL && (got == NULL || strcmp(got, c->want) != 0))
        fail_msg("'%s': got '%s', want '%s'", c->ref, got ? got : "NULL", c->want);
    free(got);
}

static void test_resolve_rfc3986(void **state)
{
    struct url base;

    (void)state;
    assert_int_equal(url_parse("http://a/b/c/d;p?q", &base, NULL, 0), SALVO_E_OK);
    for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++)
        check_resolve(&base, &rfc[i]);
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        check_resolve(&base, &more[i]);
    assert_null(url_resolve(&base, NULL));
    url_free(&base);
}

static void test_resolve_keeps_origin(void **state)
{
    struct url base;
    char *s;

    (void)state;
    assert_int_equal(url_parse("https://[::1]:8443/dir/page", &base, NULL, 0), SALVO_E_OK);
    s = url_resolve(&base, "next?p=2");
    assert_string_equal(s, "https://[::1]:8443/dir/next?p=2");
    free(s);
    s = url_resolve(&base, "//127.0.0.1/x");
    assert_string_equal(s, "https://127.0.0.1/x");
    free(s);
    url_free(&base);
}

/* A password never reaches a record: "user:pass@" becomes "user:***@"; everything else is
 * left as given. */
static void test_mask_password(void **state)
{
    static const char *const cases[][2] = {
        {"http://user:secret@h/p?q", "http://user:***@h/p?q"},
        {"https://u:p@ss@h:8443/", "https://u:***@h:8443/"},
        {"http://user:@h/", "http://user:***@h/"},
        {"http://user@h/", NULL},
        {"http://h/a:b@c", NULL},
        {"http://h/", NULL},
        {"not a url", NULL},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = (char *)1;
        assert_int_equal(url_mask_password(cases[i][0], &out), 0);
        if (cases[i][1] == NULL)
            assert_null(out);
        else
            assert_string_equal(out, cases[i][1]);
        free(out);
    }
}

/* url_is_ipv4 stands in for inet_pton(AF_INET) on the hot path: it must agree with it on
 * every shape of host, the awkward ones most of all. */
static void test_is_ipv4_as_inet_pton(void **state)
{
    static const char *const hosts[] = {
        "127.0.0.1", "0.0.0.0",     "255.255.255.255", "256.1.1.1",  "1.2.3",
        "1.2.3.4.5", "01.2.3.4",    "1.2.3.04",        "1.2.3.0",    "00.1.2.3",
        "1..2.3",    ".1.2.3",      "1.2.3.",          "1.2.3.4.",   "1.2.3.4a",
        "a.b.c.d",   "1.2.3.-4",    "1.2.3.999",       "1.2.3.2550", "",
        "1",         "10.0.0.255",  "192.168.001.1",   "4294967295", "0x7f.0.0.1",
        "1.2.3.4 ",  "example.com", "1e2.0.0.1",
    };
    struct in_addr a;

    (void)state;
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
        if (url_is_ipv4(hosts[i]) != (inet_pton(AF_INET, hosts[i], &a) == 1))
            fail_msg("'%s': url_is_ipv4 says %d, inet_pton disagrees", hosts[i],
                     url_is_ipv4(hosts[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),      cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_null_err),  cmocka_unit_test(test_parse_long),
        cmocka_unit_test(test_resolve_rfc3986), cmocka_unit_test(test_resolve_keeps_origin),
        cmocka_unit_test(test_mask_password),   cmocka_unit_test(test_is_ipv4_as_inet_pton),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
