/*
 * json.c -- a small JSON reader for input lines. See json.h.
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    const char *p;
    char *why;
    size_t whylen;
};

static int fail(struct reader *rd, const char *what)
{
    snprintf(rd->why, rd->whylen, "not JSON: %s", what);
    return -1;
}

static void skip_ws(struct reader *rd)
{
    while (*rd->p == ' ' || *rd->p == '\t' || *rd->p == '\n' || *rd->p == '\r')
        rd->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Appends code point cp as UTF-8. */
static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string at rd->p (its opening quote); the decoded text in *out (malloc'd). */
static int read_string(struct reader *rd, char **out)
{
    const char *p = rd->p + 1;
    size_t cap = strlen(p) + 1; /* the decoded text is never longer than the source */
    char *o = malloc(cap), *w = o;
    if (o == NULL)
        return fail(rd, "out of memory");
    for (;;) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c == '\0' || c < 0x20) {
            free(o);
            return fail(rd, c ? "a control character in a string" : "an unterminated string");
        }
        if (c != '\\') {
            *w++ = (char)c;
            p++;
            continue;
        }
        p++;
        unsigned cp, lo;
        switch (*p) {
        case '"':
            *w++ = '"';
            break;
        case '\\':
            *w++ = '\\';
            break;
        case '/':
            *w++ = '/';
            break;
        case 'b':
            *w++ = '\b';
            break;
        case 'f':
            *w++ = '\f';
            break;
        case 'n':
            *w++ = '\n';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'u':
            if (hex4(p + 1, &cp) < 0)
                goto bad;
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p[1] != '\\' || p[2] != 'u' || hex4(p + 3, &lo) < 0 || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    goto bad;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                goto bad;
            }
            if (cp == 0)
                goto bad; /* a NUL could never reach a C string intact */
            w += put_utf8(w, cp);
            break;
        default:
            goto bad;
        }
        p++;
    }
    *w = '\0';
    *out = o;
    rd->p = p + 1;
    return 0;
bad:
    free(o);
    return fail(rd, "a bad escape in a string");
}

static int read_value(struct reader *rd, struct json *v, int depth);

static int grow(struct json *v, size_t *cap, int with_keys)
{
    if (v->n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    struct json *it = realloc(v->items, ncap * sizeof *it);
    if (it == NULL)
        return -1;
    v->items = it;
    if (with_keys) {
        char **k = realloc(v->keys, ncap * sizeof *k);
        if (k == NULL)
            return -1;
        v->keys = k;
    }
    *cap = ncap;
    return 0;
}

static int read_container(struct reader *rd, struct json *v, int depth, int object)
{
    size_t cap = 0;
    char close = object ? '}' : ']';
    v->type = object ? JSON_OBJECT : JSON_ARRAY;
    rd->p++;
    skip_ws(rd);
    if (*rd->p == close) {
        rd->p++;
        return 0;
    }
    for (;;) {
        if (grow(v, &cap, object) < 0)
            return fail(rd, "out of memory");
        struct json *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        if (object) {
            skip_ws(rd);
            if (*rd->p != '"')
                return fail(rd, "a member name must be a string");
            if (read_string(rd, &v->keys[v->n]) < 0)
                return -1;
            skip_ws(rd);
            if (*rd->p != ':') {
                free(v->keys[v->n]);
                return fail(rd, "':' expected after a member name");
            }
            rd->p++;
        }
        v->n++;
        if (read_value(rd, item, depth + 1) < 0)
            return -1;
        skip_ws(rd);
        if (*rd->p == ',') {
            rd->p++;
            continue;
        }
        if (*rd->p == close) {
            rd->p++;
            return 0;
        }
        return fail(rd, object ? "',' or '}' expected" : "',' or ']' expected");
    }
}

static int read_number(struct reader *rd, struct json *v)
{
    const char *s = rd->p, *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return fail(rd, "a bad number");
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return fail(rd, "a bad number");
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return fail(rd, "a bad number");
        while (*p >= '0' && *p <= '9')
            p++;
    }
    v->type = JSON_NUMBER;
    v->text = strndup(s, (size_t)(p - s));
    if (v->text == NULL)
        return fail(rd, "out of memory");
    rd->p = p;
    return 0;
}

static int read_word(struct reader *rd, struct json *v, const char *word, enum json_type t, int b)
{
    size_t n = strlen(word);
    if (strncmp(rd->p, word, n) != 0)
        return fail(rd, "an unexpected character");
    rd->p += n;
    v->type = t;
    v->boolean = b;
    return 0;
}

static int read_value(struct reader *rd, struct json *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return fail(rd, "nested too deep");
    skip_ws(rd);
    switch (*rd->p) {
    case '{':
        return read_container(rd, v, depth, 1);
    case '[':
        return read_container(rd, v, depth, 0);
    case '"':
        v->type = JSON_STRING;
        return read_string(rd, &v->text);
    case 't':
        return read_word(rd, v, "true", JSON_BOOL, 1);
    case 'f':
        return read_word(rd, v, "false", JSON_BOOL, 0);
    case 'n':
        return read_word(rd, v, "null", JSON_NULL, 0);
    default:
        return read_number(rd, v);
    }
}

int json_parse(const char *s, struct json *out, char *why, size_t whylen)
{
    struct reader rd = {.p = s, .why = why, .whylen = whylen};
    memset(out, 0, sizeof *out);
    if (read_value(&rd, out, 0) < 0)
        return -1;
    skip_ws(&rd);
    if (*rd.p != '\0')
        return fail(&rd, "text after the value");
    return 0;
}

const struct json *json_get(const struct json *v, const char *key)
{
    if (v == NULL || v->type != JSON_OBJECT)
        return NULL;
    /* The last one wins when a name repeats, as most readers do. */
    for (size_t i = v->n; i > 0; i--)
        if (strcmp(v->keys[i - 1], key) == 0)
            return &v->items[i - 1];
    return NULL;
}

void json_free(struct json *v)
{
    for (size_t i = 0; i < v->n; i++) {
        json_free(&v->items[i]);
        if (v->type == JSON_OBJECT)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->text);
    memset(v, 0, sizeof *v);
}
