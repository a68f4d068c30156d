/*
 * test_output.c -- JSON Lines records: exact text for a full record, a record of nulls
 * and a record of hostile bytes; the UTF-8 repair rules one by one; then thousands of
 * random byte strings fed through jq, an independent JSON parser, to prove every record
 * parses and that valid UTF-8 survives byte for byte. Also the error-class name table
 * that the records print.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "output.h"
#include "result.h"

/* Random strings for the jq round trips; each jq run handles them all in one process. */
#define RANDOM_STRINGS 2000
#define RANDOM_MAX_LEN 64

static char *render(const salvo_result_t *r, int with_log)
{
    char *s = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&s, &n);

    assert_non_null(fp);
    struct output_extra x = {.attempt_log = with_log};
    assert_int_equal(output_json_record(fp, r, &x), 0);
    fclose(fp);
    return s;
}

static char *render_string(const char *in)
{
    char *s = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&s, &n);

    assert_non_null(fp);
    output_json_string(fp, in);
    fclose(fp);
    return s;
}

/* A result where nothing applies, as for a URL that did not parse. */
static salvo_result_t empty_result(void)
{
    salvo_result_t r;

    memset(&r, 0, sizeof(r));
    r.queue_ms = r.dns_ms = r.connect_ms = r.tls_ms = -1;
    r.ttfb_ms = r.transfer_ms = r.total_ms = r.start_ms = -1;
    r.reused = -1;
    r.tls_resumed = -1;
    return r;
}

static void test_full_record(void **state)
{
    static const salvo_attempt_t log[] = {
        {SALVO_E_CONNECT_REFUSED, 0, 0.25, 0.1, -1, -1, "127.0.0.1", 0, 1000.5},
        {SALVO_E_OK, 200, 0, 1.25, 12.3456, 3.0004, "127.0.0.2", 1, -1},
    };
    salvo_result_t r = {
        .index = 7,
        .url = "https://Example.com/a?b=1",
        .ok = 1,
        .status = 200,
        .error = SALVO_E_OK,
        .message = NULL,
        .attempts = 2,
        .remote_ip = "127.0.0.2",
        .bytes = 1234,
        .wire_bytes = 567,
        .queue_ms = 0.5,
        .dns_ms = 0,
        .connect_ms = 1.25,
        .tls_ms = 12.3456,
        .ttfb_ms = 3.0004,
        .transfer_ms = 100,
        .total_ms = 1250.125,
        .start_ms = 17.5,
        .reused = 1,
        .tls_version = "TLSv1.3",
        .tls_cipher = "TLS_AES_256_GCM_SHA384",
        .alpn = "http/1.1",
        .tls_resumed = 0,
        .cert_expiry = "2030-01-02T03:04:05Z",
        .chain_expiry = "2029-12-31T00:00:00Z",
        .cert_days_left = 1500,
        .cert_subject = "CN=example.com,O=Example \"Q\"",
        .cert_issuer = "CN=Test CA",
        .final_url = "https://example.com/final",
        .redirects = 1,
        .sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        .attempts_log = log,
        .attempts_log_len = 2,
    };
    char *s;

    (void)state;
    s = render(&r, 1);
    assert_string_equal(
        s, "{\"index\":7,\"url\":\"https://Example.com/a?b=1\",\"ok\":true,\"status\":200,"
           "\"error\":null,\"message\":null,\"attempts\":2,\"remote_ip\":\"127.0.0.2\","
           "\"bytes\":1234,\"wire_bytes\":567,\"queue_ms\":0.500,\"dns_ms\":0.000,"
           "\"connect_ms\":1.250,\"tls_ms\":12.346,\"ttfb_ms\":3.000,\"transfer_ms\":100.000,"
           "\"total_ms\":1250.125,\"reused\":true,\"tls_version\":\"TLSv1.3\","
           "\"tls_cipher\":\"TLS_AES_256_GCM_SHA384\",\"alpn\":\"http/1.1\","
           "\"tls_resumed\":false,\"cert_expiry\":\"2030-01-02T03:04:05Z\","
           "\"chain_expiry\":\"2029-12-31T00:00:00Z\",\"cert_days_left\":1500,"
           "\"cert_subject\":\"CN=example.com,O=Example \\\"Q\\\"\","
           "\"cert_issuer\":\"CN=Test CA\",\"final_url\":\"https://example.com/final\","
           "\"redirects\":1,"
           "\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
           "\"attempts_log\":[{\"error\":\"connect_refused\",\"status\":null,"
           "\"dns_ms\":0.250,\"connect_ms\":0.100,\"tls_ms\":null,\"ttfb_ms\":null,"
           "\"remote_ip\":\"127.0.0.1\",\"reused\":false,\"backoff_ms\":1000.500},"
           "{\"error\":null,\"status\":200,\"dns_ms\":0.000,\"connect_ms\":1.250,"
           "\"tls_ms\":12.346,\"ttfb_ms\":3.000,\"remote_ip\":\"127.0.0.2\","
           "\"reused\":true,\"backoff_ms\":null}],\"start_ms\":17.500,\"name\":null,\"headers\":"
           "null,\"body\":"
           "null,\"body_file\":null,\"checks_failed\":null,\"round\":null,\"change\":null,"
           "\"proxy\":null}\n");
    free(s);

    /* Without --attempt-log the field is there, and null. */
    s = render(&r, 0);
    assert_non_null(strstr(s, ",\"sha256\":\"e3b0"));
    assert_non_null(strstr(
        s, "\"attempts_log\":null,\"start_ms\":17.500,\"name\":null,\"headers\":null,\"body\":"
           "null,\"body_file\":null,\"checks_failed\":null,\"round\":null,\"change\":null,"
           "\"proxy\":null}\n"));
    free(s);
}

/* A record is assembled in a 4 KiB buffer and flushed when the next piece does not fit:
 * a URL of every length around that size puts each later field (numbers written in
 * place, durations, keys) across the flush once. The record must read exactly as the
 * same record with a short URL, the URL aside. */
static void test_record_across_flushes(void **state)
{
    salvo_result_t r = empty_result();
    char url[4300];
    const char *const prefix = "http://h/";
    size_t len;

    (void)state;
    r.index = 123456789;
    r.status = 200;
    r.attempts = 1;
    r.remote_ip = "127.0.0.1";
    r.bytes = 1024;
    r.wire_bytes = 1191;
    r.queue_ms = 0.001;
    r.dns_ms = 12.5;
    r.connect_ms = 1234.567;
    r.ttfb_ms = 99999.999;
    r.total_ms = 7;
    r.start_ms = 3.25;
    r.redirects = 0;
    r.url = "U";
    char *short_rec = render(&r, 0);
    const char *at = strstr(short_rec, "\"url\":\"U\"");
    assert_non_null(at);
    size_t head = (size_t)(at - short_rec) + 7; /* through "url":" */

    for (len = 3950; len <= 4150; len++) {
        memcpy(url, prefix, strlen(prefix));
        memset(url + strlen(prefix), 'a', len - strlen(prefix));
        url[len] = '\0';
        r.url = url;
        char *got = render(&r, 0);
        assert_int_equal(strlen(got), strlen(short_rec) - 1 + len);
        assert_memory_equal(got, short_rec, head);
        assert_memory_equal(got + head, url, len);
        assert_string_equal(got + head + len, short_rec + head + 1);
        free(got);
    }
    free(short_rec);
}

static void test_null_record(void **state)
{
    salvo_result_t r = empty_result();
    char *s;

    (void)state;
    r.url = "nope";
    r.error = SALVO_E_BAD_URL;
    r.message = "not an absolute URL (no scheme://)";
    r.cert_days_left = 42; /* meaningless without cert_expiry: must print null */
    s = render(&r, 1);
    assert_string_equal(
        s, "{\"index\":0,\"url\":\"nope\",\"ok\":false,\"status\":null,\"error\":\"bad_url\","
           "\"message\":\"not an absolute URL (no scheme://)\",\"attempts\":0,"
           "\"remote_ip\":null,\"bytes\":0,\"wire_bytes\":0,\"queue_ms\":null,"
           "\"dns_ms\":null,\"connect_ms\":null,\"tls_ms\":null,\"ttfb_ms\":null,"
           "\"transfer_ms\":null,\"total_ms\":null,\"reused\":null,\"tls_version\":null,"
           "\"tls_cipher\":null,\"alpn\":null,\"tls_resumed\":null,\"cert_expiry\":null,"
           "\"chain_expiry\":null,\"cert_days_left\":null,\"cert_subject\":null,"
           "\"cert_issuer\":null,\"final_url\":null,\"redirects\":0,\"sha256\":null,"
           "\"attempts_log\":[],\"start_ms\":null,\"name\":null,\"headers\":null,\"body\":null,"
           "\"body_file\":"
           "null,\"checks_failed\":null,\"round\":null,\"change\":null,\"proxy\":null}\n");
    free(s);

    /* An expired certificate has a negative day count; NaN and absurd durations are
     * not numbers JSON can carry. */
    r.cert_expiry = "2020-01-01T00:00:00Z";
    r.cert_days_left = -3;
    r.total_ms = 0.0 / 0.0;
    r.ttfb_ms = 1e300;
    r.index = UINT64_MAX;
    s = render(&r, 0);
    assert_non_null(strstr(s, "{\"index\":18446744073709551615,"));
    assert_non_null(strstr(s, "\"cert_days_left\":-3,"));
    assert_non_null(strstr(s, "\"ttfb_ms\":null,"));
    assert_non_null(strstr(s, "\"total_ms\":null,"));
    free(s);

    /* Numbers on each side of every change in their count of digits, as printf has them. */
    for (uint64_t p10 = 1;; p10 *= 10) {
        uint64_t near[] = {p10 - 1, p10, p10 + 1};
        for (size_t i = 0; i < 3; i++) {
            char want[64];
            snprintf(want, sizeof want, "{\"index\":%" PRIu64 ",", near[i]);
            r.index = near[i];
            s = render(&r, 0);
            if (strncmp(s, want, strlen(want)) != 0)
                fail_msg("index %" PRIu64 " written as %.40s", near[i], s);
            free(s);
        }
        if (p10 > UINT64_MAX / 10)
            break;
    }
}

static void test_hostile_bytes(void **state)
{
    salvo_result_t r = empty_result();
    char *s;

    (void)state;
    r.index = 3;
    r.url = "http://h/\xff\x01\"\\\x7f\xc3\xa9\xe2\x82";
    r.error = SALVO_E_PROTOCOL;
    r.status = 200;
    r.message = "bad\n\tline\r\x1b[31m\xed\xa0\x80!";
    r.attempts = 1;
    s = render(&r, 0);
    assert_string_equal(
        s, "{\"index\":3,\"url\":\"http://h/\xef\xbf\xbd\\u0001\\\"\\\\\\u007f\xc3\xa9"
           "\xef\xbf\xbd\",\"ok\":false,\"status\":200,\"error\":\"protocol\","
           "\"message\":\"bad\\n\\tline\\r\\u001b[31m\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!\","
           "\"attempts\":1,\"remote_ip\":null,\"bytes\":0,\"wire_bytes\":0,"
           "\"queue_ms\":null,\"dns_ms\":null,\"connect_ms\":null,\"tls_ms\":null,"
           "\"ttfb_ms\":null,\"transfer_ms\":null,\"total_ms\":null,\"reused\":null,"
           "\"tls_version\":null,\"tls_cipher\":null,\"alpn\":null,\"tls_resumed\":null,"
           "\"cert_expiry\":null,\"chain_expiry\":null,\"cert_days_left\":null,"
           "\"cert_subject\":null,\"cert_issuer\":null,\"final_url\":null,\"redirects\":0,"
           "\"sha256\":null,\"attempts_log\":null,\"start_ms\":null,\"name\":null,\"headers\":null,"
           "\"body\":null,"
           "\"body_file\":null,\"checks_failed\":null,\"round\":null,\"change\":null,\"proxy\":"
           "null}\n");
    free(s);
}

#define FFFD "\xef\xbf\xbd"

static const struct {
    const char *in, *want;
} strings[] = {
    {"", "\"\""},
    {"plain", "\"plain\""},
    {"\b\f\n\r\t\x01\x1f\x7f", "\"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\""},
    {"\"\\/", "\"\\\"\\\\/\""},
    {"\xc2\x80\xdf\xbf", "\"\xc2\x80\xdf\xbf\""},                                 /* 2 bytes */
    {"\xe0\xa0\x80\xef\xbf\xbf", "\"\xe0\xa0\x80\xef\xbf\xbf\""},                 /* 3 bytes */
    {"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\""}, /* 4 */
    {"\xc0\x80", "\"" FFFD FFFD "\""},                                            /* overlong NUL */
    {"\xc1\xbf", "\"" FFFD FFFD "\""},                                            /* overlong */
    {"\xe0\x80\x80", "\"" FFFD FFFD FFFD "\""},                                   /* overlong */
    {"\xf0\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""},                          /* overlong */
    {"\xed\xa0\x80", "\"" FFFD FFFD FFFD "\""},                                   /* surrogate */
    {"\xed\x9f\xbf", "\"\xed\x9f\xbf\""},                /* U+D7FF is fine */
    {"\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""}, /* > U+10FFFF */
    {"\xf5\x80", "\"" FFFD FFFD "\""},
    {"\xfe\xff", "\"" FFFD FFFD "\""},
    {"\x80", "\"" FFFD "\""},       /* stray */
    {"a\xe2\x82", "\"a" FFFD "\""}, /* truncated at end */
    {"\xe2\x82"
     "A",
     "\"" FFFD "A\""}, /* truncated */
    {"\xf0\x9f\x98"
     "\xf0\x9f\x98\x80",
     "\"" FFFD "\xf0\x9f\x98\x80\""},
    {"\xe2\x82\xe2\x82\xac", "\"" FFFD "\xe2\x82\xac\""},
};

static void test_json_string(void **state)
{
    char *s;

    (void)state;
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        s = render_string(strings[i].in);
        if (strcmp(s, strings[i].want) != 0)
            fail_msg("case %zu: got %s", i, s);
        free(s);
    }
    s = render_string(NULL);
    assert_string_equal(s, "null");
    free(s);
}

/* xorshift64: a fixed seed makes every run test the same strings. */
static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Random bytes 1..255, weighted towards the bytes that matter: controls, quotes,
 * backslashes and the UTF-8 lead and continuation ranges. */
static void random_bytes(uint64_t *x, char *out)
{
    static const unsigned char hot[] = {0x01, 0x1f, '"',  '\\', 0x7f, 0x80, 0xbf, 0xc0,
                                        0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
    size_t n = rng_next(x) % (RANDOM_MAX_LEN + 1);

    for (size_t i = 0; i < n; i++) {
        uint64_t v = rng_next(x);
        out[i] = (char)(v % 3 == 0 ? hot[(v >> 8) % sizeof(hot)] : 1 + (v >> 8) % 255);
    }
    out[n] = '\0';
}

/* A random valid UTF-8 string of code points 1..U+10FFFF (no surrogates). */
static void random_utf8(uint64_t *x, char *out)
{
    size_t n = rng_next(x) % (RANDOM_MAX_LEN / 4 + 1), o = 0;

    for (size_t i = 0; i < n; i++) {
        uint64_t v = rng_next(x);
        uint32_t limits[] = {0x80, 0x800, 0x10000, 0x110000};
        uint32_t cp = 1 + (uint32_t)((v >> 8) % (limits[v % 4] - 1));
        if (cp >= 0xd800 && cp <= 0xdfff)
            cp = 0xfffd;
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xc0 | cp >> 6);
            out[o++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[o++] = (char)(0xe0 | cp >> 12);
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[o++] = (char)(0xf0 | cp >> 18);
            out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    out[o] = '\0';
}

/* Writes one record per string to a temporary file; the caller unlinks path. */
static void write_records(char *path, char (*strs)[RANDOM_MAX_LEN + 1], size_t n)
{
    int fd = mkstemp(path);
    FILE *fp;

    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    assert_non_null(fp);
    for (size_t i = 0; i < n; i++) {
        salvo_result_t r = empty_result();
        r.index = i;
        r.url = strs[i];
        r.message = strs[n - 1 - i];
        r.error = SALVO_E_PROTOCOL;
        assert_int_equal(output_json_record(fp, &r, NULL), 0);
    }
    assert_int_equal(fclose(fp), 0);
}

/* Runs a jq filter over the file; returns its stdout (malloc'd, length in *len) and
 * fails the test when jq does not exit 0. */
static char *run_jq(const char *filter, const char *path, size_t *len)
{
    char cmd[512], *out = malloc(1 << 20);
    size_t n = 0, got;
    FILE *p;

    assert_non_null(out);
    snprintf(cmd, sizeof(cmd), "jq -e -j '%s' < '%s'", filter, path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((got = fread(out + n, 1, (1 << 20) - n, p)) > 0)
        n += got;
    int status = pclose(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("jq failed (status %d): is jq installed? output: %.200s", status, out);
    *len = n;
    return out;
}

static void test_jq_random_bytes(void **state)
{
    static char strs[RANDOM_STRINGS][RANDOM_MAX_LEN + 1];
    char path[] = "/tmp/salvo-test-output-XXXXXX", want[32];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    size_t len, o = 0;
    char *out;

    (void)state;
    for (size_t i = 0; i < RANDOM_STRINGS; i++)
        random_bytes(&x, strs[i]);
    write_records(path, strs, RANDOM_STRINGS);
    /* Every line parses, in order, with every field present (40 keys). */
    out = run_jq("\"\\(.index) \\(keys | length) \\(.message | type)\\n\"", path, &len);
    unlink(path);
    for (size_t i = 0; i < RANDOM_STRINGS; i++) {
        int w = snprintf(want, sizeof(want), "%zu 40 string\n", i);
        if (o + (size_t)w > len || memcmp(out + o, want, (size_t)w) != 0)
            fail_msg("record %zu: jq said %.40s", i, out + o);
        o += (size_t)w;
    }
    assert_int_equal(o, len);
    free(out);
}

static void test_jq_valid_utf8_round_trip(void **state)
{
    static char strs[RANDOM_STRINGS][RANDOM_MAX_LEN + 1];
    char path[] = "/tmp/salvo-test-output-XXXXXX";
    uint64_t x = 0x2545f4914f6cdd1dULL;
    size_t len, o = 0;
    char *out;

    (void)state;
    for (size_t i = 0; i < RANDOM_STRINGS; i++)
        random_utf8(&x, strs[i]);
    write_records(path, strs, RANDOM_STRINGS);
    /* jq decodes each url to raw bytes, NUL-separated: they must equal the input. */
    out = run_jq(".url, \"\\u0000\"", path, &len);
    unlink(path);
    for (size_t i = 0; i < RANDOM_STRINGS; i++) {
        size_t w = strlen(strs[i]);
        if (o + w + 1 > len || memcmp(out + o, strs[i], w) != 0 || out[o + w] != '\0')
            fail_msg("string %zu did not survive the round trip", i);
        o += w + 1;
    }
    assert_int_equal(o, len);
    free(out);
}

static void test_write_error(void **state)
{
    salvo_result_t r = empty_result();
    FILE *fp = fopen("/dev/full", "w");

    (void)state;
    assert_non_null(fp);
    setvbuf(fp, NULL, _IONBF, 0); /* unbuffered: the error shows at once */
    r.url = "http://h/";
    assert_int_equal(output_json_record(fp, &r, NULL), -1);
    fclose(fp);
}

static void test_err_names(void **state)
{
    static const char *const contract[] = {"ok",
                                           "bad_url",
                                           "unsupported_scheme",
                                           "dns",
                                           "dns_timeout",
                                           "connect_refused",
                                           "connect_timeout",
                                           "connect_error",
                                           "tls_handshake",
                                           "tls_verify",
                                           "tls_timeout",
                                           "timeout",
                                           "reset",
                                           "empty_reply",
                                           "partial",
                                           "protocol",
                                           "too_large",
                                           "decode",
                                           "redirect_limit",
                                           "bad_redirect",
                                           "resource",
                                           "cancelled",
                                           "aborted",
                                           "bad_input",
                                           "proxy"};
    static const char *const retryable[] = {
        "dns_timeout", "connect_refused", "connect_timeout", "connect_error", "tls_timeout",
        "timeout",     "reset",           "empty_reply",     "partial",       "resource",
        "proxy"};
    int nretry = 0;

    (void)state;
    assert_int_equal(sizeof(contract) / sizeof(contract[0]), SALVO_E_COUNT);
    for (int i = 0; i < SALVO_E_COUNT; i++) {
        int want = 0;
        assert_string_equal(salvo_err_name((salvo_err_t)i), contract[i]);
        assert_int_equal(result_err_from_name(contract[i]), i);
        for (size_t j = 0; j < sizeof(retryable) / sizeof(retryable[0]); j++)
            want |= strcmp(retryable[j], contract[i]) == 0;
        assert_int_equal(!!salvo_err_retryable((salvo_err_t)i), want);
        nretry += want;
    }
    assert_int_equal(nretry, 11);
    assert_string_equal(salvo_err_name(SALVO_E_COUNT), "?");
    assert_string_equal(salvo_err_name((salvo_err_t)-1), "?");
    assert_int_equal(salvo_err_retryable(SALVO_E_COUNT), 0);
    assert_int_equal(result_err_from_name("nope"), SALVO_E_COUNT);
    assert_int_equal(result_err_from_name("?"), SALVO_E_COUNT);
    assert_int_equal(result_err_from_name(NULL), SALVO_E_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_record),
        cmocka_unit_test(test_null_record),
        cmocka_unit_test(test_record_across_flushes),
        cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_jq_random_bytes),
        cmocka_unit_test(test_jq_valid_utf8_round_trip),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_err_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
