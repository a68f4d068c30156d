/*
 * input.c -- the lazy URL reader of input.h: command-line arguments first, then one line
 * at a time from a stream.
 *
 * Lines are read byte by byte into a buffer that grows geometrically up to
 * INPUT_MAX_LINE + 1 bytes and no further (getline would grow without bound on a
 * newline-free input): the rest of a longer line is read and dropped, and the URL comes
 * back cut, with *too_long set. Leading white space is skipped while reading, so a line
 * padded with any number of spaces still yields its URL; trailing white space (spaces,
 * tabs, CR of CRLF files) is trimmed afterwards. A NUL byte inside a line becomes a
 * space: the URL stays visible in its record (and fails as bad_url or is percent-
 * encoded) instead of being silently cut at the NUL.
 *
 * Arguments are taken exactly as given, neither trimmed nor skipped: the shell has
 * already split them, and an empty argument ("") is a URL the user typed, so it gets an
 * index and a bad_url record rather than vanishing.
 *
 * The stream belongs to the caller (input_free does not close it). Not thread-safe;
 * one reader per struct input.
 */
#include "input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The first line allocation; URLs are rarely longer. */
#define LINE_MIN_ALLOC 256

void input_init(struct input *in, char *const *args, size_t nargs, FILE *fp)
{
    memset(in, 0, sizeof(*in));
    in->args = args;
    in->nargs = nargs;
    in->fp = fp;
}

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Makes the line buffer at least size bytes (size <= INPUT_MAX_LINE + 1), doubling. */
static int reserve(struct input *in, size_t size)
{
    size_t ncap;
    char *p;

    if (size <= in->line_cap)
        return 0;
    ncap = in->line_cap ? in->line_cap * 2 : LINE_MIN_ALLOC;
    if (ncap > INPUT_MAX_LINE + 1)
        ncap = INPUT_MAX_LINE + 1;
    if (ncap < size)
        ncap = size;
    p = realloc(in->line, ncap);
    if (p == NULL)
        return -ENOMEM;
    in->line = p;
    in->line_cap = ncap;
    return 0;
}

/*
 * Reads one line (without its '\n') into in->line, leading white space skipped, at most
 * INPUT_MAX_LINE bytes kept. Returns 1 for a line, 0 at the end of the stream, -EAGAIN
 * when a non-blocking stream has nothing more for now (the partial line is kept in
 * in->len, in->any and in->cut for the next call), or another negative errno.
 */
static int read_line(struct input *in, size_t *lenp, int *too_long)
{
    /* The line's length and buffer live in locals while bytes come in: a store through
     * in->line may alias *in, so the fields would be reloaded on every byte. */
    size_t len = in->len, cap = in->line_cap;
    char *line = in->line;
    int c, rc;

    while ((c = getc_unlocked(in->fp)) != EOF) {
        in->any = 1;
        if (c == '\n')
            break;
        if (c == '\0')
            c = ' ';
        if (len == 0 && is_space(c))
            continue;
        if (len == INPUT_MAX_LINE) {
            /* Dropped white space would have been trimmed anyway: only content counts. */
            if (!is_space(c))
                in->cut = 1;
            continue;
        }
        if (len + 2 > cap) { /* this byte and the NUL */
            in->len = len;
            rc = reserve(in, len + 2);
            if (rc < 0)
                return rc;
            line = in->line;
            cap = in->line_cap;
        }
        line[len++] = (char)c;
    }
    in->len = len;
    if (c == EOF && ferror(in->fp)) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            clearerr(in->fp);
            return -EAGAIN;
        }
        return errno ? -errno : -EIO;
    }
    if (!in->any)
        return 0;
    rc = reserve(in, in->len + 1);
    if (rc < 0)
        return rc;
    in->line[in->len] = '\0';
    *lenp = in->len;
    *too_long = in->cut;
    in->len = 0;
    in->any = in->cut = 0;
    return 1;
}

/* The next URL line from the stream: blank and '#' lines skipped, white space trimmed. */
static const char *next_line(struct input *in, int *too_long)
{
    size_t len = 0;
    int rc;

    for (;;) {
        errno = 0;
        *too_long = 0;
        rc = read_line(in, &len, too_long);
        if (rc == -EAGAIN) {
            in->would_block = 1;
            return NULL;
        }
        if (rc <= 0) {
            in->eof = 1;
            in->error = rc < 0 ? -rc : 0;
            return NULL;
        }
        while (len > 0 && is_space((unsigned char)in->line[len - 1]))
            in->line[--len] = '\0';
        if (len > 0 && in->line[0] != '#')
            return in->line;
    }
}

const char *input_next(struct input *in, int *too_long)
{
    const char *url = NULL;
    int cut = 0;

    in->would_block = 0;
    if (in->next_arg < in->nargs)
        url = in->args[in->next_arg++];
    else if (in->fp != NULL && !in->eof)
        url = next_line(in, &cut);
    else
        in->eof = 1;
    if (too_long != NULL)
        *too_long = url != NULL ? cut : 0;
    if (url != NULL)
        in->count++;
    return url;
}

/* Reads through the rest with the same bounded buffer; count keeps meaning "URLs handed
 * to the caller", so the index of the next record is unchanged. */
uint64_t input_count_rest(struct input *in)
{
    uint64_t n = 0;

    while (input_next(in, NULL) != NULL)
        n++; /* stops at the end, an error, or a stream with nothing more for now */
    in->count -= n;
    return n;
}

void input_free(struct input *in)
{
    free(in->line);
    in->line = NULL;
    in->line_cap = 0;
}
