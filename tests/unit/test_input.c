/*
 * test_input.c -- the streaming URL reader: arguments then file, skipping and trimming,
 * CRLF, over-long lines, counting the rest, read errors, and a line that arrives in
 * pieces on a non-blocking pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "input.h"

/* A temporary stream holding n bytes of p, rewound for reading. */
static FILE *stream_of(const char *p, size_t n)
{
    FILE *fp = tmpfile();

    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    rewind(fp);
    return fp;
}

static void expect_url(struct input *in, const char *want, int want_too_long)
{
    int too_long = -1;
    const char *got = input_next(in, &too_long);

    if (got == NULL)
        fail_msg("want '%s', got end of input", want);
    assert_string_equal(got, want);
    assert_int_equal(too_long, want_too_long);
}

static void expect_end(struct input *in)
{
    int too_long = -1;

    assert_null(input_next(in, &too_long));
    assert_int_equal(too_long, 0);
    assert_int_equal(in->eof, 1);
    /* The end is sticky. */
    assert_null(input_next(in, NULL));
}

static void test_skip_and_trim(void **state)
{
    static const char text[] = "\n"
                               "# a comment\n"
                               "  http://a/1  \n"
                               "\thttp://a/2\r\n"
                               "   \r\n"
                               "\r\n"
                               "  # an indented comment\n"
                               "http://a/3 # not a comment\n"
                               "\t \t\n"
                               "http://a/4";
    FILE *fp = stream_of(text, sizeof(text) - 1);
    struct input in;

    (void)state;
    input_init(&in, NULL, 0, fp);
    expect_url(&in, "http://a/1", 0);
    assert_int_equal(in.count, 1);
    expect_url(&in, "http://a/2", 0);
    expect_url(&in, "http://a/3 # not a comment", 0);
    expect_url(&in, "http://a/4", 0); /* no final newline */
    expect_end(&in);
    assert_int_equal(in.count, 4);
    assert_int_equal(in.error, 0);
    input_free(&in);
    fclose(fp);
}

static void test_args_then_file(void **state)
{
    static const char text[] = "http://file/0\nhttp://file/1\n";
    char *args[] = {"http://arg/0", "", "  spaced  ", "#not-skipped"};
    FILE *fp = stream_of(text, sizeof(text) - 1);
    struct input in;

    (void)state;
    input_init(&in, args, 4, fp);
    /* Arguments are taken as given: neither trimmed nor skipped, empty ones included. */
    expect_url(&in, "http://arg/0", 0);
    expect_url(&in, "", 0);
    expect_url(&in, "  spaced  ", 0);
    expect_url(&in, "#not-skipped", 0);
    expect_url(&in, "http://file/0", 0);
    assert_int_equal(in.count, 5); /* the index of the next URL */
    expect_url(&in, "http://file/1", 0);
    expect_end(&in);
    assert_int_equal(in.count, 6);
    input_free(&in);
    fclose(fp);

    input_init(&in, args, 1, NULL);
    expect_url(&in, "http://arg/0", 0);
    expect_end(&in);
    input_free(&in);
}

static void test_long_lines(void **state)
{
    size_t big = 100 * 1024, n = 0;
    char *text = malloc(big + 4 * INPUT_MAX_LINE);
    char *want = malloc(INPUT_MAX_LINE + 1);
    struct input in;
    FILE *fp;

    (void)state;
    /* 1: a 100 KiB URL; 2: exactly INPUT_MAX_LINE bytes; 3: INPUT_MAX_LINE bytes then
     * trailing blanks; 4: one byte over; 5: a short URL after them all. */
    memcpy(text, "http://h/", 9);
    memset(text + 9, 'x', big - 9);
    n = big;
    text[n++] = '\n';
    memcpy(text + n, text, INPUT_MAX_LINE);
    n += INPUT_MAX_LINE;
    text[n++] = '\n';
    memcpy(text + n, text, INPUT_MAX_LINE);
    n += INPUT_MAX_LINE;
    memcpy(text + n, "   \t\r\n", 6);
    n += 6;
    memcpy(text + n, text, INPUT_MAX_LINE + 1);
    n += INPUT_MAX_LINE + 1;
    memcpy(text + n, "\r\nhttp://after/\n", 16);
    n += 16;
    memcpy(want, text, INPUT_MAX_LINE);
    want[INPUT_MAX_LINE] = '\0';

    fp = stream_of(text, n);
    input_init(&in, NULL, 0, fp);
    expect_url(&in, want, 1);
    assert_true(in.line_cap <= INPUT_MAX_LINE + 1); /* memory stays bounded */
    expect_url(&in, want, 0);
    expect_url(&in, want, 0);
    expect_url(&in, want, 1);
    expect_url(&in, "http://after/", 0);
    expect_end(&in);
    assert_int_equal(in.count, 5);
    input_free(&in);
    fclose(fp);
    free(text);
    free(want);
}

static void test_nul_byte(void **state)
{
    static const char text[] = "\0http://h/a\0b\n";
    FILE *fp = stream_of(text, sizeof(text) - 1);
    struct input in;

    (void)state;
    input_init(&in, NULL, 0, fp);
    expect_url(&in, "http://h/a b", 0);
    expect_end(&in);
    input_free(&in);
    fclose(fp);
}

static void test_count_rest(void **state)
{
    char *args[] = {"http://arg/0", "http://arg/1", "http://arg/2"};
    struct input in;
    FILE *fp = tmpfile();

    (void)state;
    assert_non_null(fp);
    /* 50,000 URLs with a blank line and a comment between each. */
    for (int i = 0; i < 50000; i++)
        fprintf(fp, "http://h/%d\n\n# c\n", i);
    rewind(fp);
    input_init(&in, args, 3, fp);
    expect_url(&in, "http://arg/0", 0);
    expect_url(&in, "http://arg/1", 0);
    assert_int_equal(input_count_rest(&in), 1 + 50000);
    assert_int_equal(in.count, 2);   /* still the URLs handed out */
    assert_true(in.line_cap <= 256); /* short lines keep the first allocation */
    expect_end(&in);
    assert_int_equal(input_count_rest(&in), 0);
    input_free(&in);
    fclose(fp);

    input_init(&in, NULL, 0, NULL);
    assert_int_equal(input_count_rest(&in), 0);
    expect_end(&in);
    input_free(&in);
}

static void test_read_error(void **state)
{
    char path[] = "/tmp/salvo-test-input-XXXXXX";
    struct input in;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(path));
    fp = fopen(path, "r"); /* opens, but every read fails with EISDIR (salvo -i DIR) */
    assert_non_null(fp);
    input_init(&in, NULL, 0, fp);
    assert_null(input_next(&in, NULL));
    assert_int_equal(in.eof, 1);
    assert_int_equal(in.error, EISDIR);
    input_free(&in);
    fclose(fp);
    rmdir(path);
}

/* A non-blocking pipe that delivers a line in pieces: each empty read says "later"
 * (would_block) and keeps the part read so far, across the line buffer's growth past its
 * first 256 bytes; the line comes back whole once its newline arrives, and a last line
 * without one at the end of the stream. */
static void test_line_in_pieces(void **state)
{
    static const size_t cuts[] = {1, 200, 300, 1003};
    char line[1004];
    int fds[2];
    struct input in;
    size_t i, sent = 0;

    (void)state;
    memcpy(line, "http://h/", 9);
    memset(line + 9, 'p', sizeof line - 10);
    line[sizeof line - 1] = '\0';
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    FILE *fp = fdopen(fds[0], "r");
    assert_non_null(fp);
    input_init(&in, NULL, 0, fp);
    for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        assert_int_equal(write(fds[1], line + sent, cuts[i] - sent), (ssize_t)(cuts[i] - sent));
        sent = cuts[i];
        assert_null(input_next(&in, NULL));
        assert_int_equal(in.would_block, 1);
        assert_int_equal(in.eof, 0);
    }
    assert_int_equal(write(fds[1], "\nhttp://last/", 14), 14);
    expect_url(&in, line, 0);
    assert_null(input_next(&in, NULL)); /* "http://last/" has no newline yet */
    assert_int_equal(in.would_block, 1);
    close(fds[1]);
    expect_url(&in, "http://last/", 0);
    expect_end(&in);
    assert_int_equal(in.count, 2);
    input_free(&in);
    fclose(fp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skip_and_trim),  cmocka_unit_test(test_args_then_file),
        cmocka_unit_test(test_long_lines),     cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_count_rest),     cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_line_in_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
