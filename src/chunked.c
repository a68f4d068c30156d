/*
 * chunked.c -- the chunked transfer coding, one byte of grammar at a time. See chunked.h.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *   ext-val      = token / quoted-string
 *
 * Every CRLF may also be a bare LF. Chunk data is handed on in runs, not byte by byte.
 */
#include "chunked.h"

#include <string.h>

/* States: each names what the next byte may be. */
enum {
    S_SIZE,            /* hex digits of the chunk size */
    S_AFTER_SIZE,      /* white space, ';' or the line end */
    S_EXT_NAME_START,  /* white space, then an extension name */
    S_EXT_NAME,        /* more of the name, '=', ';' or the line end */
    S_EXT_AFTER_NAME,  /* white space, '=', ';' or the line end */
    S_EXT_VALUE_START, /* white space, then a token or a quoted string */
    S_EXT_TOKEN,       /* more of a token value */
    S_EXT_QUOTED,      /* inside a quoted string */
    S_EXT_QUOTED_PAIR, /* the byte after a backslash in a quoted string */
    S_EXT_AFTER_VALUE, /* white space, ';' or the line end */
    S_SIZE_LF,         /* LF after the CR that ends a chunk-size line */
    S_DATA,            /* chunk data: size bytes left */
    S_DATA_END,        /* the line end after chunk data */
    S_DATA_LF,         /* LF after its CR */
    S_TRAILER_START,   /* the start of a trailer line, or the final empty line */
    S_TRAILER,         /* inside a trailer field line */
    S_TRAILER_LF,      /* LF after a trailer line's CR */
    S_END_LF,          /* LF after the final empty line's CR */
    S_DONE,
    S_ERROR
};

/* The largest chunk size taken: 15 hex digits (2^60 - 1), far above any cap. */
#define SIZE_DIGITS_MAX 15

void chunked_init(struct chunked *c)
{
    memset(c, 0, sizeof *c);
    c->state = S_SIZE;
}

static int is_tchar(unsigned char b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
           (b != '\0' && strchr("!#$%&'*+-.^_`|~", b) != NULL);
}

static int is_ws(unsigned char b)
{
    return b == ' ' || b == '\t';
}

static int hex_value(unsigned char b)
{
    if (b >= '0' && b <= '9')
        return b - '0';
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    if (b >= 'A' && b <= 'F')
        return b - 'A' + 10;
    return -1;
}

static int fail(struct chunked *c, const char *why)
{
    c->err = why;
    c->state = S_ERROR;
    return S_ERROR;
}

/* The chunk-size line ended: data follows, or the trailer section after the last chunk. */
static int size_line_end(struct chunked *c)
{
    c->line_bytes = 0;
    return c->size == 0 ? S_TRAILER_START : S_DATA;
}

/* After a chunk-size line's text: CR or LF ends it. -1 when b is neither. */
static int line_end(struct chunked *c, unsigned char b)
{
    if (b == '\r')
        return S_SIZE_LF;
    if (b == '\n')
        return size_line_end(c);
    return -1;
}

/* One byte of a chunk-size line (size, extensions, line end): the next state. */
static int size_line_byte(struct chunked *c, unsigned char b)
{
    int h, next;

    switch (c->state) {
    case S_SIZE:
        if ((h = hex_value(b)) >= 0) {
            if (++c->digits > SIZE_DIGITS_MAX)
                return fail(c, "chunk size too large");
            c->size = c->size * 16 + (uint64_t)h;
            return S_SIZE;
        }
        if (c->digits == 0)
            return fail(c, "invalid chunk size");
        /* The size ended at b, which the next state judges. */
        __attribute__((fallthrough));
    case S_AFTER_SIZE:
    case S_EXT_AFTER_VALUE:
        if (is_ws(b))
            return c->state == S_SIZE ? S_AFTER_SIZE : c->state;
        if (b == ';')
            return S_EXT_NAME_START;
        next = line_end(c, b);
        return next >= 0 ? next : fail(c, "invalid byte after the chunk size");
    case S_EXT_NAME_START:
        if (is_ws(b))
            return S_EXT_NAME_START;
        return is_tchar(b) ? S_EXT_NAME : fail(c, "invalid chunk extension name");
    case S_EXT_NAME:
    case S_EXT_AFTER_NAME:
        if (c->state == S_EXT_NAME && is_tchar(b))
            return S_EXT_NAME;
        if (is_ws(b))
            return S_EXT_AFTER_NAME;
        if (b == '=')
            return S_EXT_VALUE_START;
        if (b == ';')
            return S_EXT_NAME_START;
        next = line_end(c, b);
        return next >= 0 ? next : fail(c, "invalid chunk extension");
    case S_EXT_VALUE_START:
        if (is_ws(b))
            return S_EXT_VALUE_START;
        if (b == '"')
            return S_EXT_QUOTED;
        return is_tchar(b) ? S_EXT_TOKEN : fail(c, "invalid chunk extension value");
    case S_EXT_TOKEN:
        if (is_tchar(b))
            return S_EXT_TOKEN;
        if (is_ws(b))
            return S_EXT_AFTER_VALUE;
        if (b == ';')
            return S_EXT_NAME_START;
        next = line_end(c, b);
        return next >= 0 ? next : fail(c, "invalid chunk extension value");
    case S_EXT_QUOTED:
        /* qdtext: HTAB, SP, VCHAR but '"' and '\', and obs-text */
        if (b == '"')
            return S_EXT_AFTER_VALUE;
        if (b == '\\')
            return S_EXT_QUOTED_PAIR;
        if (is_ws(b) || (b >= 0x21 && b != 0x7f))
            return S_EXT_QUOTED;
        return fail(c, "invalid byte in a quoted chunk extension");
    case S_EXT_QUOTED_PAIR:
        if (is_ws(b) || (b >= 0x21 && b != 0x7f))
            return S_EXT_QUOTED;
        return fail(c, "invalid quoted-pair in a chunk extension");
    case S_SIZE_LF:
        return b == '\n' ? size_line_end(c) : fail(c, "CR without LF after the chunk size");
    default:
        return fail(c, "chunked decoder in a bad state");
    }
}

/* One byte of the framing after chunk data or of the trailer section: the next state. */
static int framing_byte(struct chunked *c, unsigned char b)
{
    switch (c->state) {
    case S_DATA_END:
        if (b == '\r')
            return S_DATA_LF;
        if (b == '\n')
            return S_SIZE;
        return fail(c, "chunk data longer than its size");
    case S_DATA_LF:
        return b == '\n' ? S_SIZE : fail(c, "CR without LF after chunk data");
    case S_TRAILER_START:
        c->trailer_bytes++;
        if (b == '\r')
            return S_END_LF;
        return b == '\n' ? S_DONE : S_TRAILER;
    case S_TRAILER:
        c->trailer_bytes++;
        if (b == '\r')
            return S_TRAILER_LF;
        return b == '\n' ? S_TRAILER_START : S_TRAILER;
    case S_TRAILER_LF:
        c->trailer_bytes++;
        return b == '\n' ? S_TRAILER_START : fail(c, "CR without LF in the trailer section");
    case S_END_LF:
        c->trailer_bytes++;
        return b == '\n' ? S_DONE : fail(c, "CR without LF at the end of the chunked body");
    default:
        return fail(c, "chunked decoder in a bad state");
    }
}

enum chunked_rc chunked_feed(struct chunked *c, const char *data, size_t len, size_t *used,
                             chunked_sink_fn *sink, void *ctx)
{
    size_t i = 0;

    while (i < len && c->state != S_DONE && c->state != S_ERROR) {
        if (c->state == S_DATA) {
            size_t n = len - i < c->size ? len - i : (size_t)c->size;
            c->size -= n;
            if (c->size == 0)
                c->state = S_DATA_END;
            if (sink(ctx, data + i, n) != 0) {
                *used = i + n;
                return CHUNKED_STOP;
            }
            i += n;
            continue;
        }
        unsigned char b = (unsigned char)data[i++];
        if (c->state <= S_SIZE_LF) {
            if (++c->line_bytes > CHUNKED_LINE_MAX) {
                fail(c, "chunk-size line too long");
                break;
            }
            if (c->state == S_SIZE && c->line_bytes == 1) {
                c->size = 0;
                c->digits = 0;
            }
            c->state = size_line_byte(c, b);
        } else {
            c->state = framing_byte(c, b);
        }
    }
    *used = i;
    if (c->state == S_ERROR)
        return CHUNKED_ERROR;
    return c->state == S_DONE ? CHUNKED_DONE : CHUNKED_AGAIN;
}
