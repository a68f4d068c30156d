/*
 * first_chars.c -- the first 100 characters of each page, as a Python script would print
 * resp.text[:100], for many pages at once, reading no more of each page than that takes.
 *
 * What it teaches
 *   - Text is characters, not bytes. salvo hands over the body's bytes (decoded from gzip
 *     or chunked framing, not from their character set): turning them into text is the
 *     program's job. The headers callback reads the charset from Content-Type; this
 *     program knows UTF-8 (the default) and ISO-8859-1. Bytes that are not valid UTF-8
 *     become U+FFFD, one per invalid sequence, as Python's errors="replace" does.
 *   - A body arrives in pieces of any size, cut anywhere: a character of two, three or
 *     four bytes may start at the end of one piece and end at the start of the next. So
 *     bytes are kept until they make whole characters.
 *   - Stopping early: once 100 characters are in, the body callback returns
 *     SALVO_E_ABORTED. salvo stops reading that page and closes its connection (it is not
 *     reused: the rest of the body is still on its way), and the request completes with
 *     error SALVO_E_ABORTED, which this program asked for and so counts as success. A 1 GB
 *     page costs what its first few kilobytes do.
 *
 * Build: make examples (the binary is build/examples/first_chars).
 * Run:   build/examples/first_chars URL...
 * Output, one line per URL:  INDEX STATUS URL<TAB>TEXT
 *   TEXT is the page's first 100 characters (fewer when the page is shorter), UTF-8, with
 *   backslash, tab, CR and LF written as \\, \t, \r and \n and other control characters
 *   as \xHH, so that each page takes one line. A page that could not be fetched prints
 *   INDEX 0 URL<TAB>error: CLASS MESSAGE (its status when one arrived). Exit status: 0
 *   when every page gave its text, else 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <salvo.h>

#define CHARS     100
#define MAX_BYTES (4 * CHARS) /* 100 characters of UTF-8 never take more */

/* One page's text in the making: the user pointer of its callbacks. */
struct page {
    int latin1;                   /* the charset is ISO-8859-1, not UTF-8 */
    unsigned char raw[MAX_BYTES]; /* the body's first bytes, not yet decoded */
    size_t raw_len;
    int enough; /* CHARS characters are in: the transfer was stopped on purpose */
    int failed; /* a page that gave no text, for the exit status */
};

/* The length of the UTF-8 sequence at s (n bytes available): > 0 for a whole character;
 * 0 when the n bytes are the valid start of a character cut short; < 0 for an invalid
 * sequence, whose -length bytes become one U+FFFD (the longest start of a valid
 * sequence, as Unicode recommends and Python does). */
static int utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    int len;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
        hi = s[0] == 0xed ? 0x9f : 0xbf; /* no surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80; /* no overlong forms */
        hi = s[0] == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
    } else {
        return -1; /* a continuation byte on its own, or a byte UTF-8 never uses */
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i == n)
            return 0; /* cut by the end of what arrived so far */
        if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
            return -i;
    }
    return len;
}

/* Decodes p's bytes into at most CHARS characters of UTF-8 in out (which holds
 * 4 * CHARS + 1 bytes). `ended`: no more bytes will come, so a character cut short is
 * U+FFFD rather than awaited. Returns the number of characters. */
static int decode(const struct page *p, int ended, char *out, size_t *out_len)
{
    size_t i = 0, o = 0;
    int chars = 0;
    while (i < p->raw_len && chars < CHARS) {
        const unsigned char *s = p->raw + i;
        int len;
        if (p->latin1) {
            /* Each byte is the character of the same number, U+0000 to U+00FF. */
            if (s[0] < 0x80) {
                out[o++] = (char)s[0];
            } else {
                out[o++] = (char)(0xc0 | (s[0] >> 6));
                out[o++] = (char)(0x80 | (s[0] & 0x3f));
            }
            i++;
            chars++;
            continue;
        }
        len = utf8_len(s, p->raw_len - i);
        if (len == 0 && !ended)
            break; /* wait for the rest of this character */
        if (len > 0) {
            memcpy(out + o, s, (size_t)len);
            o += (size_t)len;
            i += (size_t)len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3); /* U+FFFD */
            o += 3;
            i += len < 0 ? (size_t)-len : p->raw_len - i;
        }
        chars++;
    }
    out[o] = '\0';
    *out_len = o;
    return chars;
}

/* The head is in: which character set? */
static int on_headers(const salvo_response_t *resp, void *user)
{
    struct page *p = user;
    /* A later call is a new attempt after a failure mid-body: start over. */
    p->raw_len = 0;
    p->latin1 = 0;
    for (size_t i = 0; i < resp->headers_len; i++) {
        if (strcasecmp(resp->headers[i].name, "Content-Type") != 0)
            continue;
        const char *cs = strcasestr(resp->headers[i].value, "charset=");
        if (cs != NULL) {
            cs += strlen("charset=");
            p->latin1 = strncasecmp(cs, "iso-8859-1", 10) == 0 || strncasecmp(cs, "latin1", 6) == 0;
        }
    }
    return 0;
}

/* A piece of the body: keep the bytes the first CHARS characters need, then stop. */
static int on_body(uint64_t index, const void *data, size_t len, void *user)
{
    struct page *p = user;
    char text[MAX_BYTES + 1];
    size_t text_len;
    (void)index;
    size_t room = MAX_BYTES - p->raw_len;
    size_t take = len < room ? len : room;
    memcpy(p->raw + p->raw_len, data, take);
    p->raw_len += take;
    if (decode(p, 0, text, &text_len) == CHARS) {
        p->enough = 1;
        return SALVO_E_ABORTED; /* we have what we came for */
    }
    return 0;
}

/* Writes s with the characters that would break the line escaped. */
static void print_escaped(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if (*c == '\\')
            fputs("\\\\", stdout);
        else if (*c == '\n')
            fputs("\\n", stdout);
        else if (*c == '\r')
            fputs("\\r", stdout);
        else if (*c == '\t')
            fputs("\\t", stdout);
        else if (*c < 0x20 || *c == 0x7f)
            printf("\\x%02x", *c);
        else
            putchar(*c);
    }
}

static void on_done(const salvo_result_t *r, void *user)
{
    struct page *p = user;
    printf("%llu %d %s\t", (unsigned long long)r->index, r->status, r->url);
    /* Stopped by our own body callback, or a whole answer: the text is there. */
    if ((r->error == SALVO_E_ABORTED && p->enough) || r->error == SALVO_E_OK) {
        char text[MAX_BYTES + 1];
        size_t text_len;
        decode(p, 1, text, &text_len);
        print_escaped(text);
    } else {
        p->failed = 1;
        printf("error: %s %s", salvo_err_name(r->error), r->message ? r->message : "");
    }
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL...\n", argv[0]);
        return 2;
    }
    salvo_config_t cfg;
    salvo_config_init(&cfg);
    cfg.concurrency = 20;
    cfg.max_time = 30;
    salvo_t *engine;
    char err[256];
    if (salvo_new(&engine, &cfg, err, sizeof(err), NULL, 0) < 0) {
        fprintf(stderr, "first_chars: %s\n", err);
        return 2;
    }
    /* One page per URL; they must outlive salvo_run(), inside which the callbacks run. */
    size_t n = (size_t)(argc - 1);
    struct page *pages = calloc(n, sizeof(*pages));
    if (pages == NULL) {
        fprintf(stderr, "first_chars: out of memory\n");
        salvo_free(engine);
        return 2;
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        salvo_request_ext_t ext;
        memset(&ext, 0, sizeof(ext));
        ext.size = sizeof(ext);
        ext.on_headers = on_headers;
        ext.on_body = on_body;
        ext.user = &pages[i];
        if (salvo_submit_ext(engine, argv[i + 1], i, NULL, &ext, on_done, &pages[i]) < 0) {
            fprintf(stderr, "first_chars: %s: %s\n", argv[i + 1], salvo_last_error(engine));
            failed = 1;
        }
    }
    if (salvo_run(engine) < 0) {
        fprintf(stderr, "first_chars: the engine failed\n");
        failed = 1;
    }
    salvo_free(engine);
    for (size_t i = 0; i < n; i++)
        failed |= pages[i].failed;
    free(pages);
    return failed ? 1 : 0;
}
