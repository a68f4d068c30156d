/*
 * format_csv.c -- CSV rows from JSON records. See format_csv.h.
 *
 * The JSON record (output.c's, compact, valid, one object whose values are scalars,
 * arrays or objects) goes to a memory stream and is read back member by member: a
 * string is decoded, null, booleans and numbers are copied, and an array or an object
 * is copied whole as its JSON text.
 */
#include "format_csv.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The Unicode replacement character, U+FFFD, in UTF-8. */
#define REPLACEMENT "\xef\xbf\xbd"

static int cell_room(struct csv *c, size_t need)
{
    if (need <= c->cell_cap)
        return 0;
    size_t cap = c->cell_cap ? c->cell_cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(c->cell, cap);
    if (p == NULL) {
        errno = ENOMEM;
        return -1;
    }
    c->cell = p;
    c->cell_cap = cap;
    return 0;
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char h = p[i];
        v = v * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0');
    }
    return v;
}

static size_t put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the JSON string at *pp (at its opening quote) into c->cell (NUL-terminated);
 * *pp ends past the closing quote. Returns its length, or -1 when out of memory. A NUL
 * character (U+0000), which CSV readers refuse, becomes U+FFFD. */
static long decode_string(struct csv *c, const char **pp)
{
    const char *p = *pp + 1;
    size_t len = 0;
    for (;;) {
        /* A decoded character is at most 4 bytes, an escape at least 2: 8 is room for
         * one step plus the NUL. */
        if (cell_room(c, len + 8) < 0)
            return -1;
        char ch = *p;
        if (ch == '"' || ch == '\0') {
            p += ch == '"';
            break;
        }
        if (ch != '\\') {
            c->cell[len++] = ch;
            p++;
            continue;
        }
        char e = p[1];
        p += 2;
        switch (e) {
        case 'b':
            c->cell[len++] = '\b';
            break;
        case 'f':
            c->cell[len++] = '\f';
            break;
        case 'n':
            c->cell[len++] = '\n';
            break;
        case 'r':
            c->cell[len++] = '\r';
            break;
        case 't':
            c->cell[len++] = '\t';
            break;
        case 'u': {
            unsigned cp = hex4(p);
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = hex4(p + 2);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }
            if (cp == 0 || (cp >= 0xd800 && cp < 0xe000)) {
                memcpy(c->cell + len, REPLACEMENT, 3);
                len += 3;
            } else {
                len += put_utf8(c->cell + len, cp);
            }
            break;
        }
        case '\0':
            p--;
            break;
        default: /* \" \\ \/ */
            c->cell[len++] = e;
        }
    }
    c->cell[len] = '\0';
    *pp = p;
    return (long)len;
}

/* Past the array or object at p (at its opening bracket). */
static const char *skip_nested(const char *p)
{
    int depth = 0;
    for (; *p != '\0'; p++) {
        if (*p == '"') {
            for (p++; *p != '"' && *p != '\0'; p++)
                if (*p == '\\' && p[1] != '\0')
                    p++;
            if (*p == '\0')
                break;
        } else if (*p == '[' || *p == '{') {
            depth++;
        } else if (*p == ']' || *p == '}') {
            if (--depth == 0)
                return p + 1;
        }
    }
    return p;
}

/* Past a number, true, false or null. */
static const char *skip_scalar(const char *p)
{
    while (*p != '\0' && *p != ',' && *p != '}' && *p != ']')
        p++;
    return p;
}

/* Writes s (n bytes) as one CSV field: quoted when it holds a comma, a quote, CR or LF,
 * or when it is empty but not null (quoted: true). */
static void put_field(FILE *out, const char *s, size_t n, int quote)
{
    if (!quote)
        quote = memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\r', n) || memchr(s, '\n', n);
    if (!quote) {
        fwrite(s, 1, n, out);
        return;
    }
    fputc('"', out);
    for (const char *q; n > 0 && (q = memchr(s, '"', n)) != NULL;) {
        size_t k = (size_t)(q - s) + 1;
        fwrite(s, 1, k, out); /* up to and with the quote, which is then doubled */
        fputc('"', out);
        s += k;
        n -= k;
    }
    fwrite(s, 1, n, out);
    fputc('"', out);
}

/* Renders the JSON record held in c->json as one row; keys: the header row instead (the
 * member names). Returns 0, or -1 when out of memory. */
static int put_row(struct csv *c, FILE *out, int keys)
{
    const char *p = c->json;
    if (*p++ != '{')
        return 0;
    int first = 1;
    while (*p == '"') {
        if (!first)
            fputc(',', out);
        first = 0;
        long n = decode_string(c, &p);
        if (n < 0)
            return -1;
        if (keys)
            put_field(out, c->cell, (size_t)n, 0);
        if (*p == ':')
            p++;
        const char *v = p;
        if (*p == '"') {
            n = decode_string(c, &p);
            if (n < 0)
                return -1;
            if (!keys)
                put_field(out, c->cell, (size_t)n, n == 0);
        } else {
            p = *p == '[' || *p == '{' ? skip_nested(p) : skip_scalar(p);
            if (!keys && strncmp(v, "null", 4) != 0)
                put_field(out, v, (size_t)(p - v), 0);
        }
        if (*p == ',')
            p++;
    }
    fputs("\r\n", out);
    return 0;
}

/* The JSON record of r in c->json, NUL-terminated. */
static int json_of(struct csv *c, const salvo_result_t *r, const struct output_extra *x)
{
    if (fseeko(c->mem, 0, SEEK_SET) != 0)
        return -1;
    /* The NUL is ours: a memory stream rewound keeps the bytes of a longer record. */
    if (output_json_record(c->mem, r, x) < 0 || fputc('\0', c->mem) == EOF || fflush(c->mem) != 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int csv_open(struct csv *c)
{
    memset(c, 0, sizeof *c);
    c->mem = open_memstream(&c->json, &c->json_size);
    return c->mem != NULL ? 0 : -1;
}

int csv_header(struct csv *c, FILE *out)
{
    /* The member names of any record: they are the same in all. */
    salvo_result_t none = {.url = "", .reused = -1, .tls_resumed = -1};
    if (json_of(c, &none, NULL) < 0 || put_row(c, out, 1) < 0)
        return -1;
    return ferror(out) ? -1 : 0;
}

int csv_record(struct csv *c, FILE *out, const salvo_result_t *r, const struct output_extra *x)
{
    if (json_of(c, r, x) < 0 || put_row(c, out, 0) < 0)
        return -1;
    return ferror(out) ? -1 : 0;
}

void csv_free(struct csv *c)
{
    if (c->mem != NULL)
        fclose(c->mem);
    free(c->json);
    free(c->cell);
    memset(c, 0, sizeof *c);
}
