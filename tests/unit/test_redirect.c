/*
 * test_redirect.c -- redirect_wanted and redirect_next, written as tables of cases: the
 * answer (status, Location) to a URL asked with a method, and what must come out of it:
 * the next URL, whether the method becomes GET, whether the redirect leaves the origin,
 * or the class and message of a refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redirect.h"

/* Parses base into u; fails the test when it does not parse. */
static void parse(const char *base, struct url *u)
{
    char why[128];
    if (url_parse(base, u, why, sizeof why) != SALVO_E_OK)
        fail_msg("test base %s does not parse: %s", base, why);
}

/* redirect_next on a parsed base; the output is checked by the caller. */
static salvo_err_t next(const char *base, const char *method, int status, const char *location,
                        int conflict, int redirects, int max_redirs, struct redirect_out *out,
                        char *msg, size_t msglen)
{
    struct url u;
    parse(base, &u);
    struct redirect_in in = {
        .url = &u,
        .method = method,
        .status = status,
        .location = location,
        .location_conflict = conflict,
        .redirects = redirects,
        .max_redirs = max_redirs,
    };
    msg[0] = '\0';
    salvo_err_t err = redirect_next(&in, out, msg, msglen);
    url_free(&u);
    return err;
}

/* ---- which answers are followed ------------------------------------------------------ */

struct wanted_case {
    int status;
    const char *location;
    int wanted;
};

static const struct wanted_case wanted_cases[] = {
    {301, "/x", 1},
    {302, "/x", 1},
    {303, "/x", 1},
    {307, "/x", 1},
    {308, "/x", 1},
    /* Other 3xx are final answers, whatever their Location says. */
    {300, "/x", 0},
    {304, "/x", 0},
    {305, "/x", 0},
    {306, "/x", 0},
    {309, "/x", 0},
    {200, "/x", 0},
    {201, "/x", 0},
    {404, "/x", 0},
    /* A redirect without Location, or with an empty one, is final too. */
    {301, NULL, 0},
    {302, "", 0},
    {307, NULL, 0},
    {308, "", 0},
};

static void test_wanted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof wanted_cases / sizeof wanted_cases[0]; i++) {
        const struct wanted_case *c = &wanted_cases[i];
        int got = redirect_wanted(c->status, c->location) != 0;
        if (got != c->wanted)
            fail_msg("redirect_wanted(%d, %s) = %d, expected %d", c->status,
                     c->location ? c->location : "NULL", got, c->wanted);
    }
}

/* ---- the method on the way: status x method -> GET or not --------------------------- */

struct method_case {
    int status;
    const char *method;
    int to_get;
};

static const struct method_case method_cases[] = {
    /* 301 and 302: POST becomes GET (as browsers and curl do); the others stay. */
    {301, "GET", 0},
    {301, "POST", 1},
    {301, "HEAD", 0},
    {301, "PUT", 0},
    {302, "GET", 0},
    {302, "POST", 1},
    {302, "HEAD", 0},
    {302, "PUT", 0},
    /* 303 "See Other": everything but HEAD becomes GET. */
    {303, "GET", 1},
    {303, "POST", 1},
    {303, "HEAD", 0},
    {303, "PUT", 1},
    /* 307 and 308 keep the method and the body. */
    {307, "GET", 0},
    {307, "POST", 0},
    {307, "HEAD", 0},
    {307, "PUT", 0},
    {308, "GET", 0},
    {308, "POST", 0},
    {308, "HEAD", 0},
    {308, "PUT", 0},
    /* Not followed; should a caller ask anyway, nothing turns into GET. */
    {300, "GET", 0},
    {300, "POST", 0},
    {300, "HEAD", 0},
    {300, "PUT", 0},
    {304, "GET", 0},
    {304, "POST", 0},
    {304, "HEAD", 0},
    {304, "PUT", 0},
};

static void test_method(void **state)
{
    (void)state;
    char msg[256];
    for (size_t i = 0; i < sizeof method_cases / sizeof method_cases[0]; i++) {
        const struct method_case *c = &method_cases[i];
        struct redirect_out out;
        salvo_err_t err = next("http://a.test/form", c->method, c->status, "/next", 0, 0, 10, &out,
                               msg, sizeof msg);
        if (err != SALVO_E_OK)
            fail_msg("%d %s: %s (%s)", c->status, c->method, salvo_err_name(err), msg);
        if (out.to_get != c->to_get)
            fail_msg("%d for %s: to_get %d, expected %d", c->status, c->method, out.to_get,
                     c->to_get);
        assert_string_equal(out.next, "http://a.test/next");
        redirect_out_free(&out);
    }
}

/* ---- where the next URL is, and whether it leaves the origin ------------------------- */

struct where_case {
    const char *base;
    const char *location;
    const char *next; /* expected out.next */
    int cross_origin;
};

static const struct where_case where_cases[] = {
    /* Relative references (RFC 3986 section 5). */
    {"http://a.test/d1/d2/page?x=1", "/abs/path", "http://a.test/abs/path", 0},
    {"http://a.test/d1/d2/page?x=1", "sibling", "http://a.test/d1/d2/sibling", 0},
    {"http://a.test/d1/d2/page?x=1", "../up?q=2", "http://a.test/d1/up?q=2", 0},
    {"http://a.test/d1/d2/page?x=1", "./x/../y", "http://a.test/d1/d2/y", 0},
    {"http://a.test/d1/d2/page?x=1", "?only=q", "http://a.test/d1/d2/page?only=q", 0},
    {"http://a.test/d1/d2/page?x=1", "/frag#section", "http://a.test/frag", 0},
    {"http://a.test/d1/d2/page?x=1", "  /trimmed\t", "http://a.test/trimmed", 0},
    {"http://a.test:8080/d/", "next", "http://a.test:8080/d/next", 0},
    {"http://[::1]:8080/d/", "/v6", "http://[::1]:8080/v6", 0},
    /* Absolute: the same origin, however it is spelled. */
    {"http://a.test/p", "http://a.test/q", "http://a.test/q", 0},
    {"http://a.test/p", "HTTP://A.TEST:80/Case", "http://a.test/Case", 0},
    {"http://a.test/p", "http://a.test./dot", "http://a.test/dot", 0},
    {"https://s.test/p", "https://s.test:443/q", "https://s.test/q", 0},
    /* Userinfo in a Location is never carried on. */
    {"http://a.test/p", "http://user:pw@a.test/in", "http://a.test/in", 0},
    /* Absolute: another host, another port, another scheme. */
    {"http://a.test/p", "http://b.test/z", "http://b.test/z", 1},
    {"http://a.test/p", "http://a.test:8080/z", "http://a.test:8080/z", 1},
    {"http://a.test:8080/p", "http://a.test/z", "http://a.test/z", 1},
    {"http://a.test/p", "https://a.test/z", "https://a.test/z", 1},
    {"https://a.test/p", "http://a.test/z", "http://a.test/z", 1},
    /* The scheme alone changes (the port stays): still another origin. */
    {"http://a.test:8443/p", "https://a.test:8443/z", "https://a.test:8443/z", 1},
    {"https://a.test:8080/p", "http://a.test:8080/z", "http://a.test:8080/z", 1},
    /* Scheme-relative: the scheme of the URL that was answered. */
    {"http://a.test/p", "//c.test/s", "http://c.test/s", 1},
    {"https://a.test/p", "//c.test/s", "https://c.test/s", 1},
    {"http://a.test/p", "//a.test/s", "http://a.test/s", 0},
    {"https://a.test/p", "//a.test:443/s", "https://a.test/s", 0},
    {"http://a.test/p", "//a.test:81/s", "http://a.test:81/s", 1},
};

static void test_where(void **state)
{
    (void)state;
    char msg[256];
    for (size_t i = 0; i < sizeof where_cases / sizeof where_cases[0]; i++) {
        const struct where_case *c = &where_cases[i];
        struct redirect_out out;
        salvo_err_t err = next(c->base, "GET", 302, c->location, 0, 0, 10, &out, msg, sizeof msg);
        if (err != SALVO_E_OK)
            fail_msg("%s + %s: %s (%s)", c->base, c->location, salvo_err_name(err), msg);
        if (strcmp(out.next, c->next) != 0)
            fail_msg("%s + %s: next %s, expected %s", c->base, c->location, out.next, c->next);
        if (out.cross_origin != c->cross_origin)
            fail_msg("%s + %s: cross_origin %d, expected %d", c->base, c->location,
                     out.cross_origin, c->cross_origin);
        /* out.url is out.next, parsed. */
        struct url u;
        parse(c->next, &u);
        assert_string_equal(out.url.scheme, u.scheme);
        assert_string_equal(out.url.host, u.host);
        assert_int_equal(out.url.port, u.port);
        assert_int_equal(out.url.tls, u.tls);
        assert_string_equal(out.url.target, u.target);
        assert_string_equal(out.url.authority, u.authority);
        url_free(&u);
        redirect_out_free(&out);
        assert_null(out.next);
    }
}

/* Bytes from 0x80 up (UTF-8, or anything else a server sends) and bytes that could split
 * a request line are percent-encoded in out.next and in the target that is sent. */
struct encode_case {
    const char *location;
    const char *next;
};

static const struct encode_case encode_cases[] = {
    {"/caf\xc3\xa9", "http://a.test/caf%C3%A9"},
    {"/q?v=\xff\x80", "http://a.test/q?v=%FF%80"},
    {"rel/\xe2\x82\xac", "http://a.test/d/rel/%E2%82%AC"},
    {"http://b.test/\xe2\x82\xac?\xc3\xbc", "http://b.test/%E2%82%AC?%C3%BC"},
    {"//b.test/x\xc3\xa9y", "http://b.test/x%C3%A9y"},
    {"/a b", "http://a.test/a%20b"},
    {"/%C3%A9", "http://a.test/%C3%A9"}, /* already encoded: left alone */
};

static void test_encoding(void **state)
{
    (void)state;
    char msg[256];
    for (size_t i = 0; i < sizeof encode_cases / sizeof encode_cases[0]; i++) {
        const struct encode_case *c = &encode_cases[i];
        struct redirect_out out;
        salvo_err_t err =
            next("http://a.test/d/page", "GET", 301, c->location, 0, 0, 10, &out, msg, sizeof msg);
        if (err != SALVO_E_OK)
            fail_msg("case %zu: %s (%s)", i, salvo_err_name(err), msg);
        if (strcmp(out.next, c->next) != 0)
            fail_msg("case %zu: next %s, expected %s", i, out.next, c->next);
        for (const unsigned char *p = (const unsigned char *)out.next; *p; p++)
            assert_true(*p > 0x20 && *p < 0x7f);
        for (const unsigned char *p = (const unsigned char *)out.url.target; *p; p++)
            assert_true(*p > 0x20 && *p < 0x7f);
        redirect_out_free(&out);
    }
}

/* ---- refusals ---------------------------------------------------------------------- */

static void test_limit(void **state)
{
    (void)state;
    char msg[256];
    struct redirect_out out;

    /* One below the limit: followed. */
    assert_int_equal(next("http://a.test/", "GET", 302, "/n", 0, 9, 10, &out, msg, sizeof msg),
                     SALVO_E_OK);
    assert_string_equal(out.next, "http://a.test/n");
    redirect_out_free(&out);
    /* At the limit: the next one is refused, and out holds nothing. */
    assert_int_equal(next("http://a.test/", "GET", 302, "/n", 0, 10, 10, &out, msg, sizeof msg),
                     SALVO_E_REDIRECT_LIMIT);
    assert_null(out.next);
    assert_non_null(strstr(msg, "10"));
    /* --max-redirs 0: not even the first. */
    assert_int_equal(next("http://a.test/", "GET", 301, "/n", 0, 0, 0, &out, msg, sizeof msg),
                     SALVO_E_REDIRECT_LIMIT);
    assert_null(out.next);
    assert_non_null(strstr(msg, "0"));
    /* The limit is checked whatever the Location: an unusable one past it is still a
     * limit, not a bad redirect. */
    assert_int_equal(next("http://a.test/", "GET", 307, "ftp://x/", 0, 3, 3, &out, msg, sizeof msg),
                     SALVO_E_REDIRECT_LIMIT);
    assert_null(out.next);
}

/* Locations that cannot be followed: another scheme, no host, a bad port or host. */
static const char *const bad_locations[] = {
    "ftp://files.test/x",
    "mailto:someone@a.test",
    "javascript:alert(1)",
    "http://",
    "https:///nohost",
    "http://a.test:99999/",
    "http://a..test/",
    "http://[::1/",
    "http://bad host/",
    "//bad host/",
    " \t ", /* nothing once trimmed */
};

static void test_bad(void **state)
{
    (void)state;
    char msg[256];
    for (size_t i = 0; i < sizeof bad_locations / sizeof bad_locations[0]; i++) {
        struct redirect_out out;
        salvo_err_t err =
            next("http://a.test/p", "GET", 302, bad_locations[i], 0, 0, 10, &out, msg, sizeof msg);
        if (err != SALVO_E_BAD_REDIRECT)
            fail_msg("Location '%s': %s, expected bad_redirect", bad_locations[i],
                     salvo_err_name(err));
        assert_null(out.next);
        assert_non_null(strstr(msg, "Location"));
    }
}

/* A password in an unusable Location never reaches the message: it is shown as ***,
 * however the Location is written (absolute or scheme-relative). Every case is tried,
 * and every one that leaks is named. */
static const char *const secret_locations[] = {
    "ftp://user:hunter2@files.test/x",    "http://user:hunter2@bad host/x",
    "http://user:hunter2@a.test:99999/x", "https://user:hunter2@/x",
    "//user:hunter2@bad host/x",          "//user:hunter2@a.test:99999/x",
};

static void test_bad_masks_password(void **state)
{
    (void)state;
    char msg[256];
    int leaks = 0;
    for (size_t i = 0; i < sizeof secret_locations / sizeof secret_locations[0]; i++) {
        const char *loc = secret_locations[i];
        struct redirect_out out;
        salvo_err_t err = next("http://a.test/p", "GET", 302, loc, 0, 0, 10, &out, msg, sizeof msg);
        if (err != SALVO_E_BAD_REDIRECT)
            fail_msg("Location '%s': %s, expected bad_redirect", loc, salvo_err_name(err));
        assert_null(out.next);
        if (strstr(msg, "hunter2") != NULL || strstr(msg, "***") == NULL) {
            print_error("Location '%s': the password is not masked: %s\n", loc, msg);
            leaks++;
        }
    }
    assert_int_equal(leaks, 0);
}

/* Several different Location fields: nobody can tell which one the server meant. */
static void test_conflict(void **state)
{
    (void)state;
    char msg[256];
    struct redirect_out out;
    assert_int_equal(next("http://a.test/p", "GET", 301, "/one", 1, 0, 10, &out, msg, sizeof msg),
                     SALVO_E_BAD_REDIRECT);
    assert_null(out.next);
    assert_non_null(strstr(msg, "Location"));
    /* Without the conflict, the same answer is followed. */
    assert_int_equal(next("http://a.test/p", "GET", 301, "/one", 0, 0, 10, &out, msg, sizeof msg),
                     SALVO_E_OK);
    assert_string_equal(out.next, "http://a.test/one");
    redirect_out_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wanted),
        cmocka_unit_test(test_method),
        cmocka_unit_test(test_where),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_bad_masks_password),
        cmocka_unit_test(test_conflict),
    };
    return cmocka_run_group_tests_name("redirect", tests, NULL, NULL);
}
