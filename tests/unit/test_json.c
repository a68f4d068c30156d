/*
 * test_json.c -- the input-line JSON reader: what it takes, what it refuses, and the
 * decoding of strings, as tables of cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static void test_values(void **state)
{
    struct json v;
    char why[128];

    (void)state;
    assert_int_equal(json_parse(" {\"url\":\"http://a/\",\"n\":-1.5e3,\"t\":true,\"f\":false,"
                                "\"z\":null,\"a\":[1,\"x\",[]],\"o\":{\"k\":\"v\"}} ",
                                &v, why, sizeof why),
                     0);
    assert_int_equal(v.type, JSON_OBJECT);
    assert_string_equal(json_get(&v, "url")->text, "http://a/");
    assert_string_equal(json_get(&v, "n")->text, "-1.5e3"); /* numbers keep their text */
    assert_int_equal(json_get(&v, "t")->boolean, 1);
    assert_int_equal(json_get(&v, "f")->boolean, 0);
    assert_int_equal(json_get(&v, "z")->type, JSON_NULL);
    assert_int_equal(json_get(&v, "a")->n, 3);
    assert_string_equal(json_get(json_get(&v, "o"), "k")->text, "v");
    assert_null(json_get(&v, "missing"));
    json_free(&v);
}

static void test_strings(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d"},       {"\"\\n\\t\\r\\b\\f\"", "\n\t\r\b\f"},
        {"\"caf\\u00e9\"", "caf\xc3\xa9"},          {"\"\\u20ac\"", "\xe2\x82\xac"},
        {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"}, /* a surrogate pair */
        {"\"raw \xc3\xa9\"", "raw \xc3\xa9"},
    };
    char why[128];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct json v;
        assert_int_equal(json_parse(cases[i].in, &v, why, sizeof why), 0);
        assert_string_equal(v.text, cases[i].out);
        json_free(&v);
    }
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "{",
        "{\"a\":}",
        "{\"a\" 1}",
        "{a:1}",
        "[1,]",
        "{\"a\":1,}",
        "\"open",
        "\"\\x\"",
        "\"\\ud83d\"",
        "\"\\udc00\"",
        "\"\\u0000\"",
        "01",
        "1.",
        "-",
        "tru",
        "{} x",
        "\"tab\there\"",
        "[[[[[[[[[[]]]]]]]]]]",
    };
    char why[128];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct json v;
        why[0] = '\0';
        if (json_parse(bad[i], &v, why, sizeof why) != -1)
            fail_msg("'%s' was taken", bad[i]);
        if (why[0] == '\0')
            fail_msg("'%s' refused without a reason", bad[i]);
        json_free(&v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
