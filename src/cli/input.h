/*
 * input.h -- a lazy, streaming reader of URLs: one line at a time from the command line
 * arguments first, then from a FILE. Blank lines and lines starting with '#' are skipped
 * and white space around a URL is trimmed (CONTRACT.md, "Invocation"). Memory is one
 * line's worth, never the whole input, so a million-line input costs what one line does.
 * Lines longer than INPUT_MAX_LINE are returned truncated and flagged (they become a
 * bad_url record rather than a crash or an unbounded allocation).
 */
#ifndef SALVO_INPUT_H
#define SALVO_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define INPUT_MAX_LINE (64 * 1024)

struct input {
    char *const *args; /* URLs from the command line */
    size_t nargs;
    size_t next_arg;
    FILE *fp;    /* then this stream, or NULL */
    char *block; /* bytes read from fp, [block_pos, block_len) not yet taken */
    size_t block_pos, block_len;
    char *line; /* the line being read (bounded, see INPUT_MAX_LINE) */
    size_t line_cap;
    size_t len;      /* bytes of the line kept so far: a partial line survives EAGAIN */
    int any;         /* the current line has begun (a byte was read) */
    int cut;         /* the current line was longer than INPUT_MAX_LINE */
    uint64_t count;  /* URLs returned so far: the index of the next one */
    int eof;         /* nothing more to read */
    int error;       /* errno of a read error, 0 when none */
    int would_block; /* the last call found a non-blocking stream empty: try later */
};

void input_init(struct input *in, char *const *args, size_t nargs, FILE *fp);

/* Returns the next URL (valid until the next call), or NULL at the end, on a read
 * error (then in->error is set), or when a non-blocking stream has no whole line yet
 * (then in->would_block is set, and a later call resumes the partial line). *too_long is set when
 * the line was cut. */
const char *input_next(struct input *in, int *too_long);

/* Counts the URLs left unread (reads the rest and discards it); for the interrupted-run
 * message. */
uint64_t input_count_rest(struct input *in);

void input_free(struct input *in);

#endif
