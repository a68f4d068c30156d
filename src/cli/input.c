/*
 * input.c -- the lazy URL reader of input.h: command-line arguments first, then one line
 * at a time from a stream.
 *
 * The stream is read in blocks of INPUT_BLOCK bytes, and each line is found in its block
 * with memchr and copied in one piece (one URL per request makes this a per-request cost;
 * getc per byte was several times dearer). A line is gathered in a buffer that grows
 * geometrically up to INPUT_MAX_LINE + 1 bytes and no further (getline would grow
 * without bound on a newline-free input): the rest of a longer line is read and
 * dropped, and the URL comes back cut, with *too_long set. Leading white space is
 * skipped while reading, so a line padded with any number of spaces still yields its
 * URL; trailing white space (spaces, tabs, CR of CRLF files) is trimmed afterwards. A
 * NUL byte inside a line becomes a space: the URL stays visible in its record (and
 * fails as bad_url or is percent-encoded) instead of being silently cut at the NUL.
 *
 * Arguments are taken exactly as given, neither trimmed nor skipped: the shell has
 * already split them, and an empty argument ("") is a URL the user typed, so it gets an
 * index and a bad_url record rather than vanishing.
 *
 * The stream belongs to the caller (input_free does not close it), but once read here it
 * is read only here: bytes of the current block are taken from the stream ahead of the
 * lines handed out. fread on a non-blocking stream returns what there is, so a line that
 * arrives slowly is never waited for. Not thread-safe; one reader per struct input.
 */
#include "input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The first line allocation; URLs are rarely longer. */
#define LINE_MIN_ALLOC 256

/* Bytes read from the stream at a time. */
#define INPUT_BLOCK 16384

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

/* White space, or a NUL (which a line holds as a space). */
static int is_blank(int c)
{
    return is_space(c) || c == '\0';
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

/* Appends n bytes of one line to in->line: leading white space skipped, NUL bytes made
 * spaces, bytes past INPUT_MAX_LINE dropped (setting in->cut when any of them is more
 * than white space, which would have been trimmed anyway). */
static int add_bytes(struct input *in, const char *p, size_t n)
{
    if (in->len == 0)
        while (n > 0 && is_blank((unsigned char)*p))
            p++, n--;
    size_t room = INPUT_MAX_LINE - in->len;
    if (n > room) {
        for (size_t i = room; i < n; i++)
            if (!is_blank((unsigned char)p[i]))
                in->cut = 1;
        n = room;
    }
    if (n == 0)
        return 0;
    int rc = reserve(in, in->len + n + 1); /* these bytes and the NUL */
    if (rc < 0)
        return rc;
    char *w = in->line + in->len, *end = w + n;
    memcpy(w, p, n);
    while ((w = memchr(w, '\0', (size_t)(end - w))) != NULL)
        *w++ = ' ';
    in->len += n;
    return 0;
}

/* Reads the next block. Returns its size, 0 at the end of the stream, -EAGAIN when a
 * non-blocking stream has nothing for now, or another negative errno. */
static long refill(struct input *in)
{
    if (in->block == NULL && (in->block = malloc(INPUT_BLOCK)) == NULL)
        return -ENOMEM;
    errno = 0;
    size_t n = fread_unlocked(in->block, 1, INPUT_BLOCK, in->fp);
    in->block_pos = 0;
    in->block_len = n;
    if (ferror_unlocked(in->fp)) {
        int err = errno;
        clearerr_unlocked(in->fp); /* a later call tries again */
        if (n > 0)
            return (long)n; /* the error, if it lasts, comes back on the next read */
        if (err == EAGAIN || err == EWOULDBLOCK)
            return -EAGAIN;
        return err ? -err : -EIO;
    }
    return (long)n;
}

/*
 * Reads one line (without its '\n') into in->line, leading white space skipped, at most
 * INPUT_MAX_LINE bytes kept. Returns 1 for a line, 0 at the end of the stream, -EAGAIN
 * when a non-blocking stream has nothing more for now (the partial line is kept in
 * in->len, in->any and in->cut for the next call), or another negative errno.
 */
static int read_line(struct input *in, size_t *lenp, int *too_long)
{
    int rc;

    for (;;) {
        if (in->block_pos == in->block_len) {
            long got = refill(in);
            if (got < 0)
                return (int)got;
            if (got == 0)
                break;
        }
        const char *p = in->block + in->block_pos;
        size_t avail = in->block_len - in->block_pos;
        const char *nl = memchr(p, '\n', avail);
        size_t n = nl != NULL ? (size_t)(nl - p) : avail;
        in->any = 1;
        rc = add_bytes(in, p, n);
        if (rc < 0)
            return rc;
        in->block_pos += n + (nl != NULL);
        if (nl != NULL)
            break;
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
    free(in->block);
    in->block = NULL;
    in->block_pos = in->block_len = 0;
}
