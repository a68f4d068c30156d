/*
 * buf.h -- a bounded, growable byte buffer (the idea of curl's dynbuf).
 *
 * Every buffer gets its cap when it is created; appending past the cap is an error the
 * caller classifies (too_large, say), never an unbounded allocation. Consumed bytes are
 * dropped from the front lazily, so a partial send or parse costs no memmove per call.
 */
#ifndef SALVO_BUF_H
#define SALVO_BUF_H

#include <stddef.h>
#include <string.h>

struct buf {
    char *data; /* allocation; bytes [off, len) are the content */
    size_t off; /* consumed bytes at the front */
    size_t len; /* end of content */
    size_t cap; /* allocated bytes */
    size_t max; /* the most content the buffer may ever hold */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b); /* frees memory; b stays usable (empty) */

/* Empties, keeps the allocation. */
static inline void buf_reset(struct buf *b)
{
    b->off = 0;
    b->len = 0;
}

/* buf_append when the allocation may have to grow (or n is over the cap). */
int buf_append_grow(struct buf *b, const void *p, size_t n);

/* Appends; returns 0, -E2BIG when the content would exceed max, -ENOMEM. On error the
 * buffer is unchanged. Inline: a request head is a dozen small appends, and the common
 * case, room in the allocation, is one comparison and a memcpy. */
static inline int buf_append(struct buf *b, const void *p, size_t n)
{
    if (b->cap - b->len > n && b->len - b->off + n <= b->max) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
    }
    return buf_append_grow(b, p, n);
}

static inline int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline const char *buf_head(const struct buf *b)
{
    return b->data + b->off;
}
static inline size_t buf_size(const struct buf *b)
{
    return b->len - b->off;
}

/* Drops n bytes from the front (n <= buf_size). */
void buf_consume(struct buf *b, size_t n);

#endif
