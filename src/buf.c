/*
 * buf.c -- the bounded, growable byte buffer of buf.h.
 *
 * Content lives in data[off, len). Consumption only moves off forward; the front is
 * reclaimed lazily, by a memmove just before the buffer would otherwise grow, when the
 * consumed front is more than half of the allocation. Growth doubles the allocation but
 * never allocates more than max bytes (plus one for a NUL used by buf_printf), so a
 * buffer's memory is bounded by its cap from the moment it is created.
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation: big enough for a request line and a few headers. */
#define BUF_MIN_ALLOC 256

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->off = 0;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b, b->max);
}

/* Moves the content to the front of the allocation. */
static void compact(struct buf *b)
{
    size_t size = b->len - b->off;

    if (b->off == 0)
        return;
    if (size > 0)
        memmove(b->data, b->data + b->off, size);
    b->off = 0;
    b->len = size;
}

/*
 * Makes room for n more content bytes plus a NUL terminator (buf_printf needs one; the
 * other appenders do not, but reserving it keeps the rule simple). Returns 0, -E2BIG
 * when the content would exceed max, or -ENOMEM; the content is unchanged on error
 * (compaction moves it, which is not a change the caller can see).
 */
static int reserve(struct buf *b, size_t n)
{
    size_t size = b->len - b->off;
    size_t need, ncap;
    char *p;

    if (n > b->max || size > b->max - n)
        return -E2BIG;
    if (b->cap - b->len > n)
        return 0;
    if (b->off > b->cap / 2) {
        compact(b);
        if (b->cap - b->len > n)
            return 0;
    }
    need = b->len + n + 1;
    ncap = b->cap ? b->cap : BUF_MIN_ALLOC;
    while (ncap < need && ncap <= SIZE_MAX / 2)
        ncap *= 2;
    if (ncap < need)
        ncap = need;
    /* Never allocate beyond what the cap can use: max content, its offset and a NUL. */
    if (ncap > b->off + b->max + 1)
        ncap = b->off + b->max + 1;
    p = realloc(b->data, ncap);
    if (p == NULL)
        return -ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int buf_append_grow(struct buf *b, const void *p, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    rc = reserve(b, n);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    rc = reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    /* reserve() kept one byte past the content for the NUL that vsnprintf writes. */
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    /* An emptied buffer restarts at the front for free: no bytes to move. */
    if (b->off >= b->len) {
        b->off = 0;
        b->len = 0;
    }
}
